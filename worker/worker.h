/*
 * worker.h -- a worker process: its event loop, clock and counters.
 */
#ifndef PF_WORKER_H
#define PF_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/ctl.h"
#include "conf/config.h"
#include "worker/accesslog.h"

struct event_base;

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

/* The counters, in the very form the STATS message carries them. */
extern struct ctl_stats	 worker_stats;

struct event_base	*worker_base(void);
/* Milliseconds, monotonic and coarse (vDSO): no syscall. */
uint64_t		 worker_now_ms(void);
/* max_connections: at the cap, stop accepting (returns 1); a closing
 * connection resumes it. */
int			 worker_at_capacity(void);
void			 worker_conn_closed(void);

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
	const struct alog_fd	*alogs;		/* access logs, inherited */
	size_t			 nalogs;
	/* After modules are loaded, before serving: chroot and privilege
	 * drop, as the master decides; -1 stops the worker. */
	int			(*confine)(const struct config *cfg);
};

/* Never returns: runs the worker's loop, then exits the process. */
void	worker_main(const struct worker_spec *spec) __attribute__((noreturn));

#endif
