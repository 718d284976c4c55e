/*
 * worker.h -- a worker process: its event loop, clock and counters.
 */
#ifndef PF_WORKER_H
#define PF_WORKER_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/ctl.h"
#include "conf/config.h"
#include "worker/accesslog.h"

struct event_base;
struct evdns_base;

/*
 * A listener's sockets as a worker receives them: one shared socket, or
 * (reuseport) one per worker slot, of which the worker in slot i of n
 * accepts on fds[i], fds[i + n], ...  The set never shrinks while the
 * listener exists, so a socket with clients queued is never closed.
 */
struct lsock {
	int			*fds;
	int			 nfds;
	const struct listen_conf *conf;
};

#define WORKER_READ_SIZE	(64 * 1024)

struct pf_conn;
TAILQ_HEAD(conn_list, pf_conn);
struct pf_timer;
LIST_HEAD(timer_list, pf_timer);

/*
 * What the connection and listener code share with the worker that runs
 * them, handed to them rather than reached through globals, so a test can
 * drive them with a context of its own.
 */
struct wctx {
	struct event_base	*base;
	/* The counters, in the very form the STATS message carries them. */
	struct ctl_stats	 stats;
	struct evdns_base	*dns;		/* made at the first name */
	struct accesslog	*alog;		/* NULL: none */
	struct conn_list	 conns;		/* every connection */
	struct conn_list	 timed;		/* with a timeout, or lingering */
	/* max_connections: at the cap, stop accepting (returns 1); a
	 * closing connection resumes it.  Either may be NULL. */
	int			(*at_capacity)(struct wctx *);
	void			(*conn_closed)(struct wctx *);
	/* Every live timer (worker/timer.c), freed when the worker stops.
	 * A LIST because all zeroes is an empty one: wctx_init needs no
	 * word about it. */
	struct timer_list	 timers;
	size_t			 ntimers;
	char			 rbuf[WORKER_READ_SIZE];	/* every read */
};

void	wctx_init(struct wctx *w, struct event_base *base);

/* Milliseconds, monotonic (a step of the wall clock must not time out
 * every client) and coarse (vDSO): no syscall. */
static inline uint64_t
worker_now_ms(void)
{
	return clock_coarse_ms();
}

/* What the master hands a new worker. */
struct worker_spec {
	const struct config	*cfg;
	const struct lsock	*ls;
	size_t			 nls;
	int			 slot;
	int			 nslots;	/* workers in its generation */
	uint32_t		 generation;
	pid_t			 master;
	int			 ctl_fd;	/* the worker's channel end */
	int			 ipl_region;	/* per-address counts, or -1 */
	int			 pxs_region;	/* proxy backend counts, or -1 */
	int			 cpu;		/* pin to it first, or -1 */
	const struct alog_fd	*alogs;		/* access logs, inherited */
	size_t			 nalogs;
	/* After modules are loaded, before serving: chroot and privilege
	 * drop, as the master decides; -1 stops the worker. */
	int			(*confine)(const struct config *cfg);
};

/* Never returns: runs the worker's loop, then exits the process. */
void	worker_main(const struct worker_spec *spec) __attribute__((noreturn));

#endif
