/*
 * accesslog.h -- the access log: one line per closed or refused
 * connection, text or JSON, to a file the master opened or to syslog.
 *
 * alog_format() is pure (no clock, no I/O); the rest is a worker's
 * buffered writer: lines collect in one buffer per file and are written
 * when it is nearly full, every second, before the file is swapped on a
 * reopen and when the worker exits.
 */
#ifndef PF_ACCESSLOG_H
#define PF_ACCESSLOG_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct accesslog;
struct event_base;

/* Names are bounded (listener 128, service 64 bytes), so a line fits in
 * this even with every byte escaped; a longer one is cut, newline kept. */
#define ALOG_LINE_MAX	2048

struct alog_rec {
	uint64_t		 time_ms;	/* wall clock, since the epoch */
	const char		*listener;
	const char		*service;
	const struct sockaddr	*peer;		/* NULL: unknown */
	socklen_t		 peerlen;
	int			 slot;
	uint64_t		 duration_ms;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	const char		*reason;	/* "end", "reset", a drop's */
};

/* One line, newline included, in buf[0..len): its length (0 if len is
 * 0).  Never more than len bytes; no NUL is added. */
size_t	alog_format(char *buf, size_t len, const struct alog_rec *r,
	    int json);

/* An access-log file the master holds open, known on both sides by the
 * key of its path (a draining worker of an older generation receives a
 * reopened file by key, whatever the current generation's files are). */
struct alog_fd {
	uint64_t	 key;
	int		 fd;
};
uint64_t	alog_key(const char *path);

/*
 * A worker's access log: a writer per distinct file of cfg's listeners
 * (fds are the master's open files, inherited; those it does not use are
 * closed), flushed by a timer on base.  NULL on allocation failure.  The
 * worker keeps it in its context (struct wctx); every call takes NULL
 * for "none".
 */
struct accesslog *accesslog_new(struct event_base *base,
		    const struct config *cfg, int slot,
		    const struct alog_fd *fds, size_t nfds);
/* Write what is buffered, close the files. */
void	accesslog_free(struct accesslog *al);
void	accesslog_flush(struct accesslog *al);
/* The master reopened the file of key as fd: flush to the old one, then
 * write to fd (ours from now on).  0, or an errno kept for
 * accesslog_reopen_error(). */
int	accesslog_reopen(struct accesslog *al, uint64_t key, int fd);
/* The first reopen error since the last call (0: none), then cleared. */
int	accesslog_reopen_error(struct accesslog *al);
/* A connection of lc closed; r's time and slot are filled in here.
 * Callers test lc->alog_file != NULL first (no access log: no cost). */
void	accesslog_conn(struct accesslog *al, const struct listen_conf *lc,
	    const struct alog_rec *r);
/* A client of lc refused before any service saw it, and why. */
void	accesslog_refused(struct accesslog *al, const struct listen_conf *lc,
	    const struct sockaddr *sa, socklen_t salen, const char *why);

#endif
