/*
 * admin.h -- the operators' Unix socket: status, workers (and a new
 * worker count), stats, stop.
 *
 * Protocol: the client sends one request line; the reply's first line is
 * "OK" or "ERR <reason>", the body follows, and the master closes.
 * The "stats" listeners (HTTP) are served by server/httpstats.c.
 */
#ifndef PF_ADMIN_H
#define PF_ADMIN_H

#include <stddef.h>

#include "worker/worker.h"

struct event_base;
struct config;
struct evbuffer;

#define ADMIN_MAX_LINE	1024

enum admin_cmd {
	ADMIN_HELP,
	ADMIN_STATUS,
	ADMIN_WORKERS,
	ADMIN_STATS,
	ADMIN_STOP,
	ADMIN_QUIT,
	ADMIN_RELOAD,
	ADMIN_REOPEN,
	ADMIN_RESIZE,		/* "workers N", "workers +N", "workers -N" */
	ADMIN_UPGRADE,
	ADMIN_CMD_MAX_		/* not a command: one past the last */
};

struct admin_req {
	enum admin_cmd	cmd;
	int		json;
	int		nworkers;	/* ADMIN_RESIZE: N, +N or -N */
	int		relative;	/* signed: +N or -N */
	int		canary_ms;	/* ADMIN_RELOAD: --canary N, or -1 */
};

/* Bind cfg->admin_socket (mode cfg->admin_mode); -1 logged. */
int	admin_open(struct event_base *base, const struct config *cfg);
/* Close the socket and every client; the socket file is removed only by
 * the process that created it. */
void	admin_close(void);
/* A binary upgrade (upgrade.c).  The old master: its socket's fd, to
 * hand over; not served meanwhile (pause), then closed but its file left
 * to the new master (release).  The new master: the fd it inherited
 * (admin_open adopts it if the path is the same), served from the commit
 * on (take_over), when the old path goes if it is not ours any more. */
int	admin_fd(void);
void	admin_pause(int on);
void	admin_release(void);
void	admin_inherit(int fd);
void	admin_take_over(void);
/* Parse one request line (no newline): 0, or -1 with err filled. */
int	admin_parse(const char *line, size_t len, struct admin_req *req,
	    char *err, size_t errlen);
/* The body of a status, workers or stats reply, from the master's state. */
void	admin_report(struct evbuffer *out, const struct admin_req *req);
/* The same counters as Prometheus text exposition. */
void	admin_report_prometheus(struct evbuffer *out);
/* 1 while this instance accepts (not stopping, every slot with a ready
 * worker), else 0; why says which, in words. */
int	master_health(char *why, size_t len);

#endif
