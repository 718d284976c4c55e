/*
 * children.c -- the workers as processes: fork one per slot with a control
 * channel each, listen to what they report, and heal what goes wrong
 * (cover.c steers clients to the ones that accept).
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
 * thus costs one fork and two log lines per delay, never a spin.  A
 * worker that was ready and was killed from outside is no crash loop.
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
#include <unistd.h>

#include "common/clock.h"
#include "common/emitter.h"
#include "common/iplimit.h"
#include "common/log.h"
#include "common/peer.h"
#include "common/pxshm.h"
#include "server/affinity.h"
#include "server/children.h"
#include "server/healthcheck.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/privs.h"
#include "server/reload.h"
#include "server/round.h"
#include "worker/worker.h"

#define SLOT_BACKOFF_MIN_MS	100
#define SLOT_BACKOFF_MAX_MS	30000
#define SLOT_DEGRADED_AFTER	3

/* The child being reaped: of its last frames, only STATS count. */
static struct child	*reaping;

static void
emit_pid(int event, long code)
{
	struct pf_event_arg	arg = { 0 };

	arg.code = (int)code;
	pf_emit(&master.em, event, &arg);
}

/* For the master's own subscribers (reload.c). */
static void
child_emit(int event, struct child *c)
{
	struct pf_event_arg	arg = { 0 };

	arg.data = c;
	arg.code = (int)c->pid;
	pf_emit(&master.life, event, &arg);
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
void
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

void
child_signal(struct child *c, int sig)
{
	if (kill(c->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill worker %d (pid %ld)", c->slot, (long)c->pid);
}

/* Signal c to end it; the monitor follows up with SIGKILL if need be. */
void
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

/* The file c runs under: during a reload, the old generation's workers
 * still send heartbeats at the old file's pace. */
const struct config *
child_cfg(const struct child *c)
{
	return master.prev.cfg != NULL &&
	    c->generation == master.prev.generation ? master.prev.cfg :
	    master.cfg;
}

/* Tell c to drain: stop accepting, finish, exit by the deadline. */
void
child_drain(struct child *c)
{
	struct ctl_msg	msg = { .type = CTL_DRAIN };

	msg.slot = c->slot;
	msg.pid = master.pid;
	msg.u.drain.deadline_ms = master.cfg->shutdown_timeout_ms;
	if (c->peer == NULL || peer_send(c->peer, &msg) == -1)
		child_signal(c, SIGTERM);
	/* One that never accepted has nothing to confirm. */
	if (c->accepting)
		c->owes_ack = 1;
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
	totals_event(&master.totals, TOTALS_RECYCLE);
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
int
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
		if (peer_malformed(p) && c != reaping) {
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
	/* Gone already: its last counters are all we want of it. */
	if (c == reaping && (msg->type != CTL_STATS ||
	    msg->pid != (uint32_t)c->pid || msg->slot != (uint32_t)c->slot))
		return;
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
		/* A reload's (or upgrade's) generation: once committed. */
		if (master.prev.cfg == NULL && !master.upgrading) {
			child_accept(c);
			master_steer();
		}
		emit_pid(PF_EV_ONLINE, c->pid);
		child_emit(PF_EV_ONLINE, c);
		break;
	case CTL_HEARTBEAT:
		c->loop_lag_us = msg->u.heartbeat.loop_lag_us;
		break;
	case CTL_STATS:
		c->stats = msg->u.stats;
		round_answered(c, ROUND_STATS);
		if (s != NULL && c != reaping && s->recycle_at > 0 &&
		    c->stats.conns_total >= s->recycle_at)
			child_retire(c, "connection limit reached");
		break;
	case CTL_DRAIN_ACK:
		log_debug("worker %d (pid %ld) no longer accepts; %u retired "
		    "listeners in their grace", c->slot, (long)c->pid,
		    msg->u.drain_ack.retired);
		if (c->owes_ack) {
			c->owes_ack = 0;
			reload_child_stopped(c);
		}
		break;
	case CTL_DRAINING:
		log_debug("worker %d (pid %ld) draining, %llu connections",
		    c->slot, (long)c->pid,
		    (unsigned long long)msg->u.draining.conns_active);
		c->released = 1;
		listeners_reap(listeners_held);
		/* Holding no listener, it accepts nothing at all. */
		if (c->owes_ack) {
			c->owes_ack = 0;
			reload_child_stopped(c);
		}
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

void
slot_spawn(struct slot *s)
{
	struct worker_spec	 spec;
	struct child		*c;
	struct timeval		 tv;
	char			 err[CONFIG_ERRLEN];
	sigset_t		 all, old;
	int			 sv[2] = { -1, -1 };
	long			 jitter;
	pid_t			 pid;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("worker %d", s->id);
		goto retry;
	}
	c->ipl_region = iplimit_region_get();
	c->pxs_region = healthcheck_spawn(master.cfg, master.generation);
	c->cpu = affinity_cpu(master.cfg, s->id);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("worker %d: socketpair", s->id);
		goto retry;
	}
	/* A reload's new access logs, opened for the worker to inherit. */
	if (alogfiles_sync(&master.alogs, master.cfg, master.prev.cfg, err,
	    sizeof(err)) == -1)
		log_warnx("worker %d: %s", s->id, err);
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
		master_forget(&old);
		spec.ipl_region = c->ipl_region;
		spec.pxs_region = c->pxs_region;
		spec.cpu = c->cpu;
		close(sv[0]);
		free(c);
		spec.cfg = master.cfg;
		spec.ls = master.ls;	/* the current generation's */
		spec.nls = master.cfg->nlisteners;
		spec.slot = s->id;
		spec.nslots = master.nslots;
		spec.generation = master.generation;
		spec.master = master.pid;
		spec.ctl_fd = sv[1];
		spec.confine = privs_confine;
		spec.alogs = master.alogs.fds;
		spec.nalogs = master.alogs.n;
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
	if ((c->peer = peer_new(master.base, sv[0], child_dispatch, c)) == NULL) {
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
	if (c != NULL) {
		iplimit_region_put(c->ipl_region);
		pxshm_region_put(c->pxs_region);
	}
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
void
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
		totals_event(&master.totals, TOTALS_BACKOFF);
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

void
master_reap(void)
{
	struct child	*c;
	struct slot	*s;
	pid_t		 pid;
	int		 st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((c = child_by_pid(pid)) == NULL) {
			upgrade_reaped(pid, st);
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
		/* Its last STATS may not have been read yet: read it, and
		 * fold what it counted into its slot's totals. */
		reaping = c;
		if (c->peer != NULL)
			peer_read_pending(c->peer);
		reaping = NULL;
		if (totals_fold(&master.totals, c->slot, &c->stats) == -1)
			log_warnx("worker %d (pid %ld): slot out of range, its "
			    "counters are not kept", c->slot, (long)pid);
		s = child_slot(c);
		round_child_gone(c);
		TAILQ_REMOVE(&master.children, c, entry);
		for (i = 0; i < master.nslots; i++) {
			if (master.slots[i].cover == c)
				master.slots[i].cover = NULL;
		}
		for (i = 0; i < master.prev.nslots; i++) {
			if (master.prev.slots[i].cover == c)
				master.prev.slots[i].cover = NULL;
		}
		if (c->slot < master.prev.nslots && master.prev.slots[c->slot].child == c)
			master.prev.slots[c->slot].child = NULL;
		if (s != NULL) {
			s->child = NULL;
			if (!master.stopping) {
				totals_event(&master.totals, TOTALS_RESPAWN);
				slot_schedule(s, child_failed(c, st,
				    master_now_ms() - c->started_ms));
			}
		}
		child_emit(PF_EV_EXIT, c);
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
		event_base_loopbreak(master.base);
}

/* Hung workers, overdue drains, recovered slots. */
void
master_monitor(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c;
	struct slot	*s;
	uint64_t	 now = master_now_ms();
	int		 i;

	TAILQ_FOREACH(c, &master.children, entry) {
		switch (c->state) {
		case CHILD_STARTING:
		case CHILD_READY:
			if (now - c->heartbeat_ms <
			    (uint64_t)child_cfg(c)->worker_timeout_ms)
				break;
			log_warnx("worker %d (pid %ld) silent for %llu ms; "
			    "aborting it", c->slot, (long)c->pid,
			    (unsigned long long)(now - c->heartbeat_ms));
			totals_event(&master.totals, TOTALS_HUNG_KILLED);
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
slots_new(struct slot **slots, int n)
{
	int	i;

	if ((*slots = calloc(n, sizeof(**slots))) == NULL) {
		log_warn("slots");
		return -1;
	}
	for (i = 0; i < n; i++) {
		(*slots)[i].id = i;
		(*slots)[i].respawn = evtimer_new(master.base, slot_respawn_cb,
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

void
slots_free(struct slot *slots, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		event_free(slots[i].respawn);
	free(slots);
}
