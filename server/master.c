/*
 * master.c -- the supervisor: forks one worker per slot with a control
 * channel each, listens to what they report, and heals what goes wrong.
 *
 * A slot is a place for one serving worker; a child is a live process.
 * The two are separate so a child can drain (recycled, or on reload) while
 * its replacement already serves in the slot.
 *
 * Respawn policy: a worker that exits after living min_uptime (default 1 s) is
 * replaced at once.  One that dies younger is a failure; each consecutive
 * failure doubles the delay before the next start (SLOT_BACKOFF_MIN_MS up
 * to SLOT_BACKOFF_MAX_MS), and after SLOT_DEGRADED_AFTER the slot is shown
 * as degraded until a worker in it has lived min_uptime.  A crash loop
 * thus costs one fork and two log lines per delay, never a spin.
 *
 * Hung workers: every frame a worker sends counts as a heartbeat.  One
 * silent for worker_timeout gets SIGABRT (a core shows where it hung), and
 * SIGKILL if it is still there KILL_GRACE_MS later.  A worker that sends a
 * malformed or unexpected frame is killed at once.  Either way the normal
 * reap-and-respawn path replaces it; nothing a worker sends stops the
 * master.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/emitter.h"
#include "common/clock.h"
#include "common/iplimit.h"
#include "common/log.h"
#include "common/peer.h"
#include "server/admin.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/notify.h"
#include "server/pidfile.h"
#include "server/privs.h"
#include "server/reload.h"
#include "server/round.h"
#include "worker/module.h"
#include "worker/worker.h"

#define SLOT_BACKOFF_MIN_MS	100
#define SLOT_BACKOFF_MAX_MS	30000
#define SLOT_DEGRADED_AFTER	3
#define KILL_GRACE_MS		1000	/* SIGABRT or SIGTERM, then SIGKILL */
#define STOP_KILL_MS		3000	/* fast stop: TERM, then KILL */

struct master		 master;

/* The serving generation's set-up, and the previous one during a reload. */
struct gen {
	struct config		*cfg;
	struct lsock		*ls;
	struct slot		*slots;
	int			 nslots;
	uint32_t		 generation;
};

static struct {
	struct event_base	*base;
	struct lsock		*ls;
	struct gen		 prev;		/* cfg != NULL: reload pending */
	int			 pidfd;		/* locked pidfile, or -1 */
	char			*pidfile;	/* as first configured */
	struct pf_emitter	 em;
	struct event		*sigs[6];
	struct event		*monitor;
	struct event		*stop_timer;
} m;

static const int master_signals[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP, SIGUSR1
};


uint64_t
master_now_ms(void)
{
	return clock_mono_us() / 1000;
}

const char *
child_state_name(const struct child *c, const struct slot *s)
{
	if (s != NULL && s->degraded)
		return "degraded";
	if (c == NULL)
		return "respawning";
	switch (c->state) {
	case CHILD_STARTING:
		return "starting";
	case CHILD_READY:
		return "ready";
	case CHILD_DRAINING:
		return "draining";
	default:
		return "killed";
	}
}

static void
emit_pid(int event, long code)
{
	struct pf_event_arg	arg = { 0 };

	arg.code = (int)code;
	pf_emit(&m.em, event, &arg);
}

/*
 * In a new worker: drop every event and descriptor of the master's.  The
 * epoll fd is shared with the master across fork, so the base is
 * re-initialised first; freeing it as it was would delete the master's
 * registrations.  Other workers' channels must close too, or a worker
 * would keep a sibling's channel open and hide the master's death.
 */
/* Both a new worker and the exiting master drop these: the children's
 * channels and the loop's own events (the slots' timers go with them). */
static void
master_drop(void)
{
	struct child	*c;
	size_t		 i;

	while ((c = TAILQ_FIRST(&master.children)) != NULL) {
		TAILQ_REMOVE(&master.children, c, entry);
		peer_free(c->peer);
		free(c);
	}
	for (i = 0; i < sizeof(m.sigs) / sizeof(m.sigs[0]); i++) {
		if (m.sigs[i] != NULL)
			event_free(m.sigs[i]);
		m.sigs[i] = NULL;
	}
	if (m.monitor != NULL)
		event_free(m.monitor);
	if (m.stop_timer != NULL)
		event_free(m.stop_timer);
	m.monitor = m.stop_timer = NULL;
	rounds_free();
	emitter_clear(&m.em);
}

static void
master_forget(void)
{
	int	j;

	if (event_reinit(m.base) == -1)
		log_warnx("event_reinit failed in new worker");
	admin_close();
	notify_forget();
	listeners_forget(m.ls, master.cfg->nlisteners);
	if (m.pidfd != -1)
		close(m.pidfd);	/* only the master holds the lock */
	master_drop();
	for (j = 0; j < master.nslots; j++)
		event_free(master.slots[j].respawn);
	for (j = 0; j < m.prev.nslots; j++)
		event_free(m.prev.slots[j].respawn);
	event_base_free(m.base);
	m.base = NULL;
}

/* The slot c serves in, or NULL if it serves in none (draining, or of a
 * generation whose slots are gone). */
struct slot *
child_slot(const struct child *c)
{
	if (c->slot < master.nslots && master.slots[c->slot].child == c)
		return &master.slots[c->slot];
	return NULL;
}

static struct child *
child_by_pid(pid_t pid)
{
	struct child	*c;

	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->pid == pid)
			return c;
	}
	return NULL;
}

/* The master's word that c's generation is committed: serve. */
static void
child_accept(struct child *c)
{
	struct ctl_msg	msg = { .type = CTL_ACCEPT };

	msg.slot = c->slot;
	msg.pid = master.pid;
	msg.u.accept.generation = c->generation;
	if (c->peer == NULL || peer_send(c->peer, &msg) == -1)
		return;
	c->accepting = 1;
}

static void
child_signal(struct child *c, int sig)
{
	if (kill(c->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill worker %d (pid %ld)", c->slot, (long)c->pid);
}

/* Signal c to end it; the monitor follows up with SIGKILL if need be. */
static void
child_kill(struct child *c, int sig)
{
	child_signal(c, sig);
	c->state = CHILD_KILLED;
	c->signalled_ms = master_now_ms();
}

/* A worker broke the protocol: kill it; the reap replaces it. */
static void
child_misbehaved(struct child *c, const char *why)
{
	log_warnx("worker %d (pid %ld): %s; killing it", c->slot,
	    (long)c->pid, why);
	child_kill(c, SIGKILL);
	peer_free(c->peer);
	c->peer = NULL;
	round_child_gone(c);
}

void
master_refresh_stats(round_done_fn done, void *arg)
{
	struct ctl_msg	msg = { .type = CTL_STATS_REQUEST };

	round_start(ROUND_STATS, &msg, -1, done, arg);
}

/*
 * Modules in the master exist only for their master_init hooks.  They are
 * dropped before a new file is checked (a loaded module would hide a new
 * version of the file from the check) and loaded again afterwards.
 */
void
master_modules_unload(void)
{
	pf_off_all(&m.em, -1);
	module_unload();
}

void
master_modules_load(void)
{
	char	err[CONFIG_ERRLEN];

	if (module_load(master.cfg, MODULE_MASTER, &m.em, err,
	    sizeof(err)) == -1)
		log_warnx("%s; its master hooks are off", err);
}

static void
reopen_done(void *arg, int missing)
{
	if (missing > 0)
		log_warnx("log reopen: %d workers did not reopen the log%s%s",
		    missing, *round_error(ROUND_REOPEN) != '\0' ? "; " : "",
		    round_error(ROUND_REOPEN));
}

/* SIGUSR1, or a reload that changed the log's destination. */
void
master_reopen_logged(void)
{
	char	err[CONFIG_ERRLEN];

	if (master_reopen(reopen_done, NULL, err, sizeof(err)) == -1)
		log_warnx("log reopen failed: %s", err);
}

/*
 * Reopen the log: the master first, then every worker gets the new
 * descriptor over its channel (so it needs no right to open the file
 * itself, after a privilege drop) and acknowledges.
 */
int
master_reopen(round_done_fn done, void *arg, char *err, size_t errlen)
{
	struct ctl_msg	msg = { .type = CTL_REOPEN };
	int		fd;

	if ((fd = log_open(master.cfg->log_file, err, errlen)) == -2)
		return -1;
	msg.u.reopen.target = fd == -1 ? CTL_REOPEN_SYSLOG : CTL_REOPEN_FD;
	log_info("log reopened");
	round_start(ROUND_REOPEN, &msg, fd, done, arg);
	return 0;
}

static void	slot_spawn_soon(struct slot *);

/* New clients of reuseport listeners go only where a worker accepts. */
static void
master_steer(void)
{
	static unsigned char	 live[CONFIG_WORKERS_MAX];
	struct child		*c;

	memset(live, 0, sizeof(live));
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->accepting && !c->stalled && c->slot < CONFIG_WORKERS_MAX)
			live[c->slot] = 1;
	}
	listeners_steer(live, CONFIG_WORKERS_MAX);
}

static int
child_serving(const struct child *c)
{
	return c != NULL && c->accepting && !c->stalled && c->peer != NULL &&
	    c->generation == master.generation;
}

static void
child_cover(struct child *c, int slot, int on)
{
	struct ctl_msg	msg = { .type = CTL_COVER };

	msg.slot = c->slot;
	msg.pid = master.pid;
	msg.u.cover.slot = slot;
	msg.u.cover.on = on;
	if (c->peer != NULL)
		(void)peer_send(c->peer, &msg);
}

/*
 * A reuseport socket is accepted on by one worker only.  While that worker
 * is dead, starting, or stalled (its heartbeat late), the clients already
 * queued there would wait for it: another worker of the generation, which
 * holds the same sockets, accepts on them meanwhile.  New clients are
 * steered away from it too.
 */
static void
master_cover(uint64_t now)
{
	struct slot	*s;
	struct child	*c;
	uint64_t	 late = 2 * (uint64_t)master.cfg->heartbeat_interval_ms +
			    100;
	int		 i, j, changed = 0, stalled;

	for (i = 0; i < master.nslots; i++) {
		c = master.slots[i].child;
		stalled = c != NULL && c->state == CHILD_READY &&
		    now - c->heartbeat_ms > late;
		if (c != NULL && c->stalled != stalled) {
			c->stalled = stalled;
			changed = 1;
			if (stalled)
				log_warnx("worker %d (pid %ld) silent for %llu "
				    "ms; the others take its clients", c->slot,
				    (long)c->pid,
				    (unsigned long long)(now - c->heartbeat_ms));
		}
	}
	if (changed)
		master_steer();
	for (i = 0; i < master.nslots; i++) {
		s = &master.slots[i];
		if (child_serving(s->child)) {
			if (s->cover != NULL)
				child_cover(s->cover, i, 0);
			s->cover = NULL;
			continue;
		}
		if (s->cover != NULL && child_serving(s->cover))
			continue;
		s->cover = NULL;
		for (j = 1; j < master.nslots; j++) {
			c = master.slots[(i + j) % master.nslots].child;
			if (child_serving(c)) {
				s->cover = c;
				child_cover(c, i, 1);
				break;
			}
		}
	}
}

/* Tell c to drain: stop accepting, finish, exit by the deadline. */
static void
child_drain(struct child *c)
{
	struct ctl_msg	msg = { .type = CTL_DRAIN };

	msg.slot = c->slot;
	msg.pid = master.pid;
	msg.u.drain.deadline_ms = master.cfg->shutdown_timeout_ms;
	if (c->peer == NULL || peer_send(c->peer, &msg) == -1)
		child_signal(c, SIGTERM);
	c->state = CHILD_DRAINING;
	c->accepting = 0;
	c->signalled_ms = master_now_ms();
}

/* Graceful replacement: c drains, a new worker takes its slot now. */
static void
child_retire(struct child *c, const char *why)
{
	struct slot	*s = child_slot(c);

	log_info("worker %d (pid %ld): %s; replacing it", c->slot,
	    (long)c->pid, why);
	child_drain(c);
	master_steer();
	if (s != NULL) {
		s->child = NULL;
		if (!master.stopping)
			slot_spawn_soon(s);
	}
}

/* Does a worker of generations first..last still hold its listening
 * sockets (it has not drained yet, or not exited)? */
static int
listeners_held(uint32_t first, uint32_t last)
{
	struct child	*c;

	TAILQ_FOREACH(c, &master.children, entry) {
		if (!c->released && c->generation >= first &&
		    c->generation <= last)
			return 1;
	}
	return 0;
}

static void
child_dispatch(struct peer *p, const struct ctl_msg *msg, const char *reason,
    void *arg)
{
	struct child	*c = arg;
	struct slot	*s = child_slot(c);

	if (msg == NULL) {
		if (peer_malformed(p)) {
			child_misbehaved(c, reason);
			return;
		}
		log_debug("worker %d (pid %ld): channel %s", c->slot,
		    (long)c->pid, reason);
		peer_free(c->peer);
		c->peer = NULL;
		round_child_gone(c);
		return;
	}
	if (!CTL_FROM_WORKER(msg->type) || msg->pid != (uint32_t)c->pid ||
	    msg->slot != (uint32_t)c->slot) {
		child_misbehaved(c, "unexpected frame");
		return;
	}
	c->heartbeat_ms = master_now_ms();
	switch (msg->type) {
	case CTL_READY:
		if (msg->u.ready.generation != c->generation ||
		    c->state == CHILD_READY) {
			child_misbehaved(c, "unexpected READY");
			return;
		}
		if (c->state != CHILD_STARTING)
			break;	/* told to go before it was ready */
		c->state = CHILD_READY;
		c->was_ready = 1;
		log_info("worker %d (pid %ld) ready, generation %u", c->slot,
		    (long)c->pid, c->generation);
		/* A reload's generation accepts only once committed. */
		if (m.prev.cfg == NULL) {
			child_accept(c);
			master_steer();
		}
		emit_pid(PF_EV_ONLINE, c->pid);
		if (c->generation == master.generation)
			reload_progress(0);
		break;
	case CTL_HEARTBEAT:
		c->loop_lag_us = msg->u.heartbeat.loop_lag_us;
		break;
	case CTL_STATS:
		c->stats = msg->u.stats;
		round_answered(c, ROUND_STATS);
		if (s != NULL && s->recycle_at > 0 &&
		    c->stats.conns_total >= s->recycle_at)
			child_retire(c, "connection limit reached");
		break;
	case CTL_DRAINING:
		log_debug("worker %d (pid %ld) draining, %llu connections",
		    c->slot, (long)c->pid,
		    (unsigned long long)msg->u.draining.conns_active);
		c->released = 1;
		listeners_reap(listeners_held);
		break;
	case CTL_REOPENED:
		if (msg->u.reopened.error != 0) {
			log_warnx("worker %d (pid %ld): log reopen failed: %s",
			    c->slot, (long)c->pid,
			    strerror((int)msg->u.reopened.error));
			round_failed(c, ROUND_REOPEN,
			    strerror((int)msg->u.reopened.error));
		} else
			round_answered(c, ROUND_REOPEN);
		break;
	case CTL_GOODBYE:
		break;
	default:
		child_misbehaved(c, "unexpected frame");
		break;
	}
}

/*
 * In a new worker, signals still blocked: the master's handlers go (the
 * worker's signals start ignored or at their default, until worker_main
 * installs its own), then the mask the master had comes back.
 */
static void
child_signals_reset(const sigset_t *mask)
{
	static const int	ignored[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT };
	size_t			i;

	for (i = 0; i < sizeof(master_signals) / sizeof(master_signals[0]);
	    i++)
		signal(master_signals[i], SIG_DFL);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	sigprocmask(SIG_SETMASK, mask, NULL);
}

static void
slot_spawn(struct slot *s)
{
	struct worker_spec	 spec;
	struct child		*c;
	struct timeval		 tv;
	sigset_t		 all, old;
	int			 sv[2] = { -1, -1 };
	long			 jitter;
	pid_t			 pid;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("worker %d", s->id);
		goto retry;
	}
	c->ipl_region = iplimit_region_get();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("worker %d: socketpair", s->id);
		goto retry;
	}
	/* Until the child has its own handlers, a signal sent to it must
	 * not run the master's (which would write to the master's signal
	 * pipe, inherited): blocked across fork, defaults in the child. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("worker %d: fork", s->id);
		goto retry;
	}
	if (pid == 0) {
		child_signals_reset(&old);
		spec.ipl_region = c->ipl_region;
		close(sv[0]);
		free(c);
		master_forget();
		spec.cfg = master.cfg;
		spec.ls = m.ls;	/* the current generation's */
		spec.nls = master.cfg->nlisteners;
		spec.slot = s->id;
		spec.nslots = master.nslots;
		spec.generation = master.generation;
		spec.master = master.pid;
		spec.ctl_fd = sv[1];
		spec.confine = privs_confine;
		worker_main(&spec);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	c->pid = pid;
	c->slot = s->id;
	c->generation = master.generation;
	c->state = CHILD_STARTING;
	c->started_ms = c->heartbeat_ms = master_now_ms();
	TAILQ_INSERT_TAIL(&master.children, c, entry);
	s->child = c;
	if ((c->peer = peer_new(m.base, sv[0], child_dispatch, c)) == NULL) {
		close(sv[0]);
		child_misbehaved(c, "no control channel");
	}
	s->recycle_at = 0;
	if (master.cfg->max_conns_per_worker > 0) {
		jitter = master.cfg->max_conns_jitter > 0 ?
		    random() % (master.cfg->max_conns_jitter + 1) : 0;
		s->recycle_at = master.cfg->max_conns_per_worker + jitter;
	}
	log_info("worker %d started, pid %ld", s->id, (long)pid);
	emit_pid(PF_EV_SPAWN, pid);
	return;
retry:
	if (sv[0] != -1) {
		close(sv[0]);
		close(sv[1]);
	}
	if (c != NULL)
		iplimit_region_put(c->ipl_region);
	free(c);
	s->failures++;
	clock_ms_to_tv(SLOT_BACKOFF_MAX_MS / 10, &tv);
	evtimer_add(s->respawn, &tv);
}

static void
slot_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot	*s = arg;

	if (!master.stopping && s->child == NULL)
		slot_spawn(s);
}

/*
 * Fork from the loop, never from inside an I/O callback: a child must not
 * inherit an object (a peer, an admin client's bufferevent) in the middle
 * of its callback, whose deferred free would never run there.
 */
static void
slot_spawn_soon(struct slot *s)
{
	struct timeval	tv = { 0, 0 };

	evtimer_add(s->respawn, &tv);
}

/*
 * Was c's death a failed start?  One that never became ready is; one that
 * served and then crashed or exited young is too.  But a worker that was
 * ready and was killed from outside (an operator's kill, the OOM killer)
 * is no crash loop: it is replaced at once.
 */
static int
child_failed(const struct child *c, int status, uint64_t lived_ms)
{
	int	sig;

	if (!c->was_ready)
		return 1;
	if (lived_ms >= (uint64_t)master.cfg->min_uptime_ms)
		return 0;
	if (!WIFSIGNALED(status) || c->state == CHILD_KILLED)
		return 1;	/* its own doing, or killed by us for it */
	sig = WTERMSIG(status);
	return sig != SIGKILL && sig != SIGTERM && sig != SIGINT &&
	    sig != SIGHUP;
}

/* The worker of slot s has exited: respawn now, or after a backoff. */
static void
slot_schedule(struct slot *s, int failed)
{
	struct timeval	tv;
	unsigned int	delay = 0, i;

	if (failed)
		s->failures++;
	else
		s->failures = 0;
	if (s->failures > 0) {
		delay = SLOT_BACKOFF_MIN_MS;
		for (i = 1; i < s->failures && delay < SLOT_BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > SLOT_BACKOFF_MAX_MS)
			delay = SLOT_BACKOFF_MAX_MS;
		log_warnx("worker %d failed %u times in a row; next start in "
		    "%u ms", s->id, s->failures, delay);
	}
	if (s->failures >= SLOT_DEGRADED_AFTER && !s->degraded) {
		s->degraded = 1;
		log_warnx("worker %d is degraded: its workers keep dying",
		    s->id);
		emit_pid(PF_EV_DEGRADED, s->id);
	}
	clock_ms_to_tv(delay, &tv);
	evtimer_add(s->respawn, &tv);
}

static void
master_reap(void)
{
	struct child	*c;
	struct slot	*s;
	pid_t		 pid;
	int		 st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((c = child_by_pid(pid)) == NULL) {
			log_info("child pid %ld reaped", (long)pid);
			continue;
		}
		if (WIFSIGNALED(st))
			log_warnx("worker %d (pid %ld) killed by signal %d%s",
			    c->slot, (long)pid, WTERMSIG(st),
			    WCOREDUMP(st) ? " (core dumped)" : "");
		else if (WEXITSTATUS(st) != 0)
			log_warnx("worker %d (pid %ld) exited with status %d",
			    c->slot, (long)pid, WEXITSTATUS(st));
		else
			log_info("worker %d (pid %ld) exited", c->slot,
			    (long)pid);
		s = child_slot(c);
		round_child_gone(c);
		TAILQ_REMOVE(&master.children, c, entry);
		for (i = 0; i < master.nslots; i++) {
			if (master.slots[i].cover == c)
				master.slots[i].cover = NULL;
		}
		for (i = 0; i < m.prev.nslots; i++) {
			if (m.prev.slots[i].cover == c)
				m.prev.slots[i].cover = NULL;
		}
		if (c->slot < m.prev.nslots && m.prev.slots[c->slot].child == c)
			m.prev.slots[c->slot].child = NULL;
		if (s != NULL) {
			s->child = NULL;
			if (!master.stopping)
				slot_schedule(s, child_failed(c, st,
				    master_now_ms() - c->started_ms));
		}
		if (c->state == CHILD_STARTING &&
		    c->generation == master.generation)
			reload_progress(1);
		emit_pid(PF_EV_EXIT, pid);
		iplimit_region_put(c->ipl_region);	/* its counts go */
		peer_free(c->peer);
		free(c);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
	master_steer();
	listeners_reap(listeners_held);
	if (master.stopping && TAILQ_EMPTY(&master.children))
		event_base_loopbreak(m.base);
}

/* Hung workers, overdue drains, recovered slots. */
static void
master_monitor(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c;
	struct slot	*s;
	uint64_t	 now = master_now_ms();
	uint64_t	 timeout = master.cfg->worker_timeout_ms;
	int		 i;

	TAILQ_FOREACH(c, &master.children, entry) {
		switch (c->state) {
		case CHILD_STARTING:
		case CHILD_READY:
			if (now - c->heartbeat_ms < timeout)
				break;
			log_warnx("worker %d (pid %ld) silent for %llu ms; "
			    "aborting it", c->slot, (long)c->pid,
			    (unsigned long long)(now - c->heartbeat_ms));
			child_kill(c, SIGABRT);
			break;
		case CHILD_DRAINING:
			if (now - c->signalled_ms <
			    (uint64_t)master.cfg->shutdown_timeout_ms +
			    KILL_GRACE_MS)
				break;
			log_warnx("worker %d (pid %ld) still draining after "
			    "%d ms; killing it", c->slot, (long)c->pid,
			    master.cfg->shutdown_timeout_ms);
			child_kill(c, SIGKILL);
			break;
		case CHILD_KILLED:
			if (now - c->signalled_ms >= KILL_GRACE_MS) {
				child_signal(c, SIGKILL);
				c->signalled_ms = now;
			}
			break;
		}
	}
	master_cover(now);
	for (i = 0; i < master.nslots; i++) {
		s = &master.slots[i];
		if (s->degraded && s->child != NULL &&
		    s->child->state == CHILD_READY &&
		    now - s->child->started_ms >=
		    (uint64_t)master.cfg->min_uptime_ms) {
			s->degraded = 0;
			s->failures = 0;
			log_info("worker %d recovered", s->id);
		}
	}
}

int
master_workers(const struct config *cfg)
{
	long	n;

	if (cfg->workers != CONFIG_WORKERS_AUTO)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (int)n;
}

static int
needs_iplimit(const struct config *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].max_per_ip > 0)
			return 1;
	}
	return 0;
}

static int
slots_new(struct slot **slots, int n)
{
	int	i;

	if ((*slots = calloc(n, sizeof(**slots))) == NULL) {
		log_warn("slots");
		return -1;
	}
	for (i = 0; i < n; i++) {
		(*slots)[i].id = i;
		(*slots)[i].respawn = evtimer_new(m.base, slot_respawn_cb,
		    &(*slots)[i]);
		if ((*slots)[i].respawn == NULL) {
			log_warnx("cannot create timer");
			while (i-- > 0)
				event_free((*slots)[i].respawn);
			free(*slots);
			*slots = NULL;
			return -1;
		}
	}
	return 0;
}

static void
slots_free(struct slot *slots, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		event_free(slots[i].respawn);
	free(slots);
}

/* The current generation's set-up, as a struct gen and back. */
static void
gen_save(struct gen *g)
{
	g->cfg = master.cfg;
	g->ls = m.ls;
	g->slots = master.slots;
	g->nslots = master.nslots;
	g->generation = master.generation;
}

static void
gen_load(const struct gen *g)
{
	master.cfg = g->cfg;
	m.ls = g->ls;
	master.slots = g->slots;
	master.nslots = g->nslots;
	master.generation = g->generation;
}

static void
gen_free(struct gen *g)
{
	slots_free(g->slots, g->nslots);
	lsocks_free(g->ls, g->cfg->nlisteners);
	config_free(g->cfg);
	memset(g, 0, sizeof(*g));
}

/*
 * Start generation N+1 on cfg and ls (already validated and prepared);
 * the current one keeps serving until master_end_generation().
 */
int
master_begin_generation(struct config *cfg, struct lsock *ls, int n)
{
	struct slot	*slots;
	int		 i;

	/* A limit per address that the old file lacked needs the table. */
	if ((needs_iplimit(cfg) && iplimit_init() == -1) ||
	    slots_new(&slots, n) == -1)
		return -1;
	gen_save(&m.prev);
	for (i = 0; i < m.prev.nslots; i++)
		evtimer_del(m.prev.slots[i].respawn);
	gen_load(&(struct gen){ .cfg = cfg, .ls = ls, .slots = slots,
	    .nslots = n, .generation = m.prev.generation + 1 });
	if (cfg->rlimit_nofile > 0)
		privs_rlimit_nofile(cfg->rlimit_nofile);
	log_set_level(cfg->log_level);
	log_info("generation %u: starting %d workers", master.generation, n);
	for (i = 0; i < n; i++)
		slot_spawn_soon(&master.slots[i]);
	return 0;
}

/* Keep at most max_old_generations draining: finish the oldest first. */
static void
drain_bound(void)
{
	struct child	*c;
	uint32_t	 gens[64], oldest;
	int		 n, i;

	for (;;) {
		n = 0;
		oldest = UINT32_MAX;
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->state != CHILD_DRAINING)
				continue;
			for (i = 0; i < n && gens[i] != c->generation; i++)
				;
			if (i == n && n < 64)
				gens[n++] = c->generation;
			if (c->generation < oldest)
				oldest = c->generation;
		}
		if (n <= master.cfg->max_old_generations)
			return;
		log_warnx("more than %d generations draining: stopping "
		    "generation %u now", master.cfg->max_old_generations,
		    oldest);
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->state == CHILD_DRAINING &&
			    c->generation == oldest) {
				child_kill(c, SIGTERM);
			}
		}
	}
}

/*
 * Commit: the new sockets listen, the new workers accept, every older
 * worker drains, and the old set-up is freed; -1 (nothing committed, the
 * caller aborts) if the kernel refuses to listen.  Abort: the new
 * generation, which never accepted, drains at once (it has no client to
 * lose) and the old one is current again.
 */
int
master_end_generation(int commit)
{
	struct child	*c;
	struct gen	 cur;
	int		 i;

	if (m.prev.cfg == NULL)
		return 0;
	if (commit) {
		if (listeners_listen() == -1)
			return -1;
		/* The new ones first: every socket has an acceptor. */
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->generation == master.generation &&
			    c->state == CHILD_READY)
				child_accept(c);
		}
		/* Removed listeners refuse new clients before the old
		 * workers' last sweep. */
		listeners_commit(master.cfg, master.generation);
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->generation < master.generation &&
			    (c->state == CHILD_READY ||
			    c->state == CHILD_STARTING))
				child_drain(c);
		}
		master_steer();
		gen_free(&m.prev);
		admin_listen_stats(m.base, master.cfg, m.ls);
		drain_bound();
		listeners_reap(listeners_held);
		return 0;
	}
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->generation == master.generation &&
		    (c->state == CHILD_READY || c->state == CHILD_STARTING))
			child_drain(c);
	}
	master_steer();
	gen_save(&cur);
	gen_load(&m.prev);
	memset(&m.prev, 0, sizeof(m.prev));
	admin_listen_stats(m.base, master.cfg, m.ls);
	gen_free(&cur);
	listeners_abort();
	log_set_level(master.cfg->log_level);
	for (i = 0; i < master.nslots; i++) {
		if (master.slots[i].child == NULL && !master.stopping)
			slot_spawn_soon(&master.slots[i]);
	}
	return 0;
}

static void
master_signal_all(int sig)
{
	struct child	*c;

	TAILQ_FOREACH(c, &master.children, entry)
		child_signal(c, sig);
}

static void
master_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &master.children, entry)
		n++;
	log_warnx("%d workers still running at the stop deadline; killing "
	    "them", n);
	master_signal_all(SIGKILL);
}

void
master_stop(int graceful)
{
	struct child	*c;
	struct timeval	 tv;
	int		 i;

	if (master.stopping) {
		if (!graceful) {
			log_warnx("stop again: killing workers now");
			master_signal_all(SIGKILL);
		}
		return;
	}
	master.stopping = graceful ? 2 : 1;
	log_info("%s stop", graceful ? "graceful" : "fast");
	notify_send("STOPPING=1\nSTATUS=stopping");
	reload_cancel("stopping");
	/* No client from now on; the queued ones are the workers' to take. */
	if (graceful)
		listeners_retire_all(master.generation);
	for (i = 0; i < master.nslots; i++)
		evtimer_del(master.slots[i].respawn);
	TAILQ_FOREACH(c, &master.children, entry) {
		if (graceful) {
			if (c->state != CHILD_DRAINING &&
			    c->state != CHILD_KILLED)
				child_drain(c);
		} else {
			child_signal(c, SIGTERM);
			c->signalled_ms = master_now_ms();
		}
	}
	clock_ms_to_tv(graceful ? master.cfg->shutdown_timeout_ms + KILL_GRACE_MS :
	    STOP_KILL_MS, &tv);
	evtimer_add(m.stop_timer, &tv);
	if (TAILQ_EMPTY(&master.children))
		event_base_loopbreak(m.base);
}

static void
master_signal(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGCHLD:
		master_reap();
		break;
	case SIGHUP:
		reload_start("SIGHUP", NULL, NULL);
		break;
	case SIGUSR1:
		master_reopen_logged();
		break;
	case SIGQUIT:
		master_stop(1);
		break;
	default:
		master_stop(0);
		break;
	}
}

static int
master_setup(void)
{
	struct timeval	tv;
	size_t		i;
	int		step;

	if ((m.base = event_base_new()) == NULL) {
		log_warnx("cannot create event base");
		return -1;
	}
	for (i = 0; i < sizeof(m.sigs) / sizeof(m.sigs[0]); i++) {
		m.sigs[i] = evsignal_new(m.base, master_signals[i],
		    master_signal, NULL);
		if (m.sigs[i] == NULL || evsignal_add(m.sigs[i], NULL) == -1) {
			log_warnx("cannot watch signal %d", master_signals[i]);
			return -1;
		}
	}
	m.monitor = event_new(m.base, -1, EV_PERSIST, master_monitor, NULL);
	m.stop_timer = evtimer_new(m.base, master_stop_timeout, NULL);
	if (m.monitor == NULL || m.stop_timer == NULL ||
	    rounds_init(m.base) == -1 || reload_init(m.base) == -1) {
		log_warnx("cannot create timers");
		return -1;
	}
	step = master.cfg->heartbeat_interval_ms / 2;
	clock_ms_to_tv(step < 10 ? 10 : step > 250 ? 250 : step, &tv);
	if (event_add(m.monitor, &tv) == -1)
		return -1;
	return slots_new(&master.slots, master.nslots);
}

static void
master_cleanup(void)
{
	admin_close();
	reload_free();
	master_modules_unload();
	listeners_close_all();
	pidfile_remove(m.pidfile, m.pidfd);
	free(m.pidfile);
	master_drop();
	if (m.prev.cfg != NULL)
		gen_free(&m.prev);
	if (master.slots != NULL)
		slots_free(master.slots, master.nslots);
	lsocks_free(m.ls, master.cfg->nlisteners);
	m.ls = NULL;
	if (m.base != NULL)
		event_base_free(m.base);
}

/*
 * Runs the master on cfg, which it owns from here on (a reload replaces
 * and frees it).  Returns the exit status.
 */
int
master_run(struct config *cfg)
{
	struct child	*c;
	char		 err[CONFIG_ERRLEN];
	int		 i, status = 1;

	m.pidfd = -1;
	master.cfg = cfg;
	master.pid = getpid();
	master.started_ms = master_now_ms();
	master.generation = 1;
	master.nslots = master_workers(cfg);
	TAILQ_INIT(&master.children);
	emitter_init(&m.em, &master);
	srandom((unsigned int)(master.pid ^ master.started_ms));
	if ((m.ls = calloc(cfg->nlisteners, sizeof(*m.ls))) == NULL) {
		log_warn("master");
		goto out;
	}
	if (cfg->pidfile != NULL) {
		if ((m.pidfile = strdup(cfg->pidfile)) == NULL ||
		    (m.pidfd = pidfile_create(cfg->pidfile, err,
		    sizeof(err))) == -1) {
			log_warnx("pidfile %s", m.pidfile ? err : "strdup");
			goto out;
		}
	}
	if (cfg->rlimit_nofile > 0)
		privs_rlimit_nofile(cfg->rlimit_nofile);
	if (needs_iplimit(cfg) && iplimit_init() == -1)
		goto out;
	/* The admin socket first: once a listener answers, so does it. */
	if (master_setup() == -1 ||
	    (cfg->admin_socket != NULL && admin_open(m.base, cfg) == -1) ||
	    listeners_adopt() == -1 ||
	    listeners_prepare(cfg, m.ls, master.nslots) == -1)
		goto out;
	if (listeners_listen() == -1)
		goto out;
	listeners_commit(cfg, master.generation);
	listeners_reap(listeners_held);	/* activated sockets not listed */
	if (admin_listen_stats(m.base, cfg, m.ls) == -1)
		goto out;
	master_modules_load();
	log_info("starting %d workers (config %s)", master.nslots, cfg->file);
	for (i = 0; i < master.nslots; i++)
		slot_spawn(&master.slots[i]);
	if (event_base_dispatch(m.base) == -1)
		log_warnx("event loop failed");
	else
		status = 0;
	/* Only a failed loop gets here with workers left: never orphan them. */
	TAILQ_FOREACH(c, &master.children, entry) {
		child_signal(c, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	log_info("stopped");
out:
	master_cleanup();
	config_free(master.cfg);
	return status;
}
