/*
 * master.h -- the supervising process: its slots and children, as the
 * admin socket sees them, and the requests it can make of the master.
 */
#ifndef PF_MASTER_H
#define PF_MASTER_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include "common/ctl.h"
#include "common/emitter.h"
#include "conf/config.h"
#include "server/alogfiles.h"
#include "server/reload.h"
#include "server/round.h"
#include "server/totals.h"
#include "worker/worker.h"

struct event;
struct event_base;
struct peer;

enum child_state {
	CHILD_STARTING,		/* forked, not READY yet */
	CHILD_READY,
	CHILD_DRAINING,		/* told to finish; out of its slot */
	CHILD_KILLED,		/* hung or misbehaving: signalled */
};

struct child {
	TAILQ_ENTRY(child)	 entry;
	pid_t			 pid;
	int			 slot;
	uint32_t		 generation;
	enum child_state	 state;
	uint64_t		 started_ms;
	uint64_t		 heartbeat_ms;	/* last frame of any kind */
	uint32_t		 loop_lag_us;
	struct ctl_stats	 stats;
	struct peer		*peer;
	unsigned int		 pending;	/* rounds owed, 1 << kind */
	int			 ipl_region;	/* per-address counts, or -1 */
	int			 pxs_region;	/* proxy backend counts, or -1 */
	uint64_t		 signalled_ms;
	int			 stalled;	/* ready, heartbeat late */
	int			 accepting;	/* told ACCEPT, not DRAIN */
	int			 released;	/* drained: holds no listener */
	int			 owes_ack;	/* told DRAIN after ACCEPT, has
						 * not said DRAIN_ACK yet */
	int			 was_ready;	/* reported READY once */
	int			 cpu;		/* pinned to (cpu_affinity), -1 */
};

TAILQ_HEAD(child_list, child);

struct slot {
	int			 id;
	struct child		*child;		/* NULL while respawning */
	unsigned int		 failures;	/* consecutive young deaths */
	int			 degraded;
	uint64_t		 recycle_at;	/* connections; 0: never */
	struct event		*respawn;
	struct child		*cover;		/* accepts for it meanwhile */
};

/* The serving generation's set-up, and the previous one during a reload. */
struct gen {
	struct config		*cfg;
	struct lsock		*ls;
	struct slot		*slots;
	int			 nslots;
	uint32_t		 generation;
};

/* The master process's context: one, its state is nowhere else. */
struct master {
	struct config		*cfg;
	pid_t			 pid;
	uint64_t		 started_ms;
	uint32_t		 generation;
	uint32_t		 generation_seq; /* the last number given: an
						 * aborted one is not reused */
	struct slot		*slots;
	int			 nslots;
	struct child_list	 children;	/* every live child */
	int			 stopping;	/* 1 fast, 2 graceful */
	struct event_base	*base;
	struct lsock		*ls;		/* the serving generation's */
	struct gen		 prev;		/* cfg != NULL: reload pending */
	int			 workers_override; /* nslots set by "workers N",
						 * not the file (until a reload) */
	int			 pidfd;		/* locked pidfile, or -1 */
	char			*pidfile;	/* as first configured */
	struct pf_emitter	 em;		/* modules' master hooks */
	/* The master's own parts (reload.c) hear of its children here:
	 * "online" and "exit", ev->data the struct child. */
	struct pf_emitter	 life;
	struct event		*sigs[7];
	struct event		*monitor;
	struct event		*stop_timer;
	struct totals		 totals;	/* since start: only grow */
	struct alog_files	 alogs;		/* access logs, for workers */
	time_t			 started_at;	/* wall clock, for status */
	pid_t			 upgraded_from;	/* the master we replaced */
	int			 upgrading;	/* new master, not committed:
						 * its workers do not accept */
	int			 handed_over;	/* old master: draining out */
};

extern struct master	 master;

uint64_t	 master_now_ms(void);
/* The slot c serves in, or NULL (draining, or an older generation's). */
struct slot	*child_slot(const struct child *c);
const char	*child_state_name(const struct child *c, const struct slot *s);
/* Bind, fork the workers, supervise until stopped; the exit status.
 * The master owns cfg from here on. */
int		 master_run(struct config *cfg);
/* The worker count cfg asks for ("auto": online CPUs). */
int		 master_workers(const struct config *cfg);
/* Reload steps (server/reload.c drives them): start generation N+1 with
 * n workers on a validated cfg and listeners prepared for n (the first
 * `start` of them now, the rest with master_spawn_rest), then commit or
 * abort it. */
int		 master_begin_generation(struct config *cfg, struct lsock *ls,
		    int n, int start);
void		 master_spawn_rest(void);
int		 master_end_generation(int commit);
/* Listen, commit the first generation's listeners, serve stats (at
 * start-up, or once an upgrade commits); -1 logged. */
int		 master_serve(void);
/* A child that is no worker was reaped (upgrade.c: a new master?). */
void		 upgrade_reaped(pid_t pid, int status);
/* Stop: graceful lets connections finish (bounded by shutdown_timeout),
 * after drain_delay if set (server/removal.c). */
void		 master_stop(int graceful);
/* reload_start, unless a stop is under way (done hears why). */
void		 master_reload(const char *why, int canary_ms, reload_done_fn done,
		    void *arg);
/* reload_workers, likewise. */
void		 master_resize(int n, int relative, reload_done_fn done,
		    void *arg);
/* Ask every worker for fresh stats; done runs when all answered or after
 * a short bound. */
void		 master_refresh_stats(round_done_fn done, void *arg);
/* Reopen the log in the master, then in every worker; -1 with err if the
 * master's own reopen failed. */
int		 master_reopen(round_done_fn done, void *arg, char *err,
		    size_t errlen);
/* The same, reporting to the log only. */
void		 master_reopen_logged(void);
/* Modules' master_init hooks: off before a file is checked, on after. */
void		 master_modules_unload(void);
void		 master_modules_load(void);

#endif
