/*
 * worker.c -- the life of a worker process: a fresh event loop, the
 * inherited listeners handed to their services, the control channel to
 * the master, signals, the idle sweep, draining, and exit.
 *
 * A worker accepts only once the master says so (ACCEPT): a generation
 * started by a reload reports READY first, and if the reload is aborted
 * it exits without ever having taken a client.
 *
 * Stopping comes in two kinds.  Fast (SIGTERM/SIGINT): close everything
 * and exit.  Draining (DRAIN from the master, SIGQUIT, or the master gone):
 * stop accepting, tell every connection "shutdown", and exit when the last
 * one closes or at the deadline, whichever is first.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <sched.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/emitter.h"
#include "common/iplimit.h"
#include "common/log.h"
#include "common/peer.h"
#include "common/pxshm.h"
#include "worker/accesslog.h"
#include "worker/conn.h"
#include "worker/listener.h"
#include "worker/module.h"
#include "worker/service.h"
#include "worker/timer.h"
#include "worker/worker.h"

#define SWEEP_INTERVAL_MS	100
#define GOODBYE_FLUSH_MS	100
#define WORKER_DISPATCH_MAX	64	/* callbacks between polls */

static struct {
	struct wctx		 ctx;		/* for listeners and connections */
	const struct worker_spec *spec;
	struct event_base	*base;
	struct pf_emitter	 em;
	struct pf_listener	**listeners;
	size_t			 nlisteners;
	struct peer		*peer;
	struct event		*sigs[3];
	struct event		*sweep;
	struct event		*heartbeat;
	struct event		*deadline;
	struct event		*release;	/* end of the accept grace */
	uint64_t		 last_beat_us;
	uint32_t		 seq;
	int			 draining;
	int			 released;	/* listening copies closed */
	uint32_t		 retired;	/* listeners in their grace */
	int			 accepting;	/* the master said ACCEPT */
	int			 capped;	/* accepting paused at the cap */
} w;

static const int worker_signals[] = { SIGTERM, SIGINT, SIGQUIT };

static void
listeners_set(int on)
{
	size_t	i;

	for (i = 0; i < w.nlisteners; i++) {
		if (on)
			listener_start(w.listeners[i]);
		else
			listener_stop(w.listeners[i]);
	}
}

/*
 * At max_connections accepting pauses, and resumes only once a tenth of
 * the cap (at least one) has closed: without that margin every close
 * would re-arm every listener and the next accept disarm them again,
 * exactly when the worker is busiest.  One log line per episode.
 */
static uint64_t
capacity_resume_at(int max)
{
	return (uint64_t)(max - (max >= 10 ? max / 10 : 1));
}

static int
worker_at_capacity(struct wctx *ctx)
{
	int	max = w.spec->cfg->max_connections;

	if (max == 0 || ctx->stats.conns_active < (uint64_t)max)
		return 0;
	if (!w.capped) {
		w.capped = 1;
		listeners_set(0);
		log_info("%d connections: not accepting until %llu", max,
		    (unsigned long long)capacity_resume_at(max));
	}
	return 1;
}

static void
worker_conn_closed(struct wctx *ctx)
{
	if (w.capped && w.accepting && !w.draining &&
	    ctx->stats.conns_active <=
	    capacity_resume_at(w.spec->cfg->max_connections)) {
		w.capped = 0;
		listeners_set(1);
	}
}

struct pf_emitter *
pf_worker_emitter(void)
{
	return &w.em;
}

int
pf_worker_slot(void)
{
	return w.spec->slot;
}

/* Outside a worker (check(), master_init) there is no loop: EINVAL. */
struct pf_conn *
pf_connect(const struct pf_connect_opts *o)
{
	return conn_connect(&w.ctx, o);
}

struct pf_timer *
pf_set_timeout(unsigned int ms, pf_timer_fn fn, void *udata)
{
	return timer_set(&w.ctx, ms, 0, fn, udata);
}

struct pf_timer *
pf_set_interval(unsigned int ms, pf_timer_fn fn, void *udata)
{
	return timer_set(&w.ctx, ms, 1, fn, udata);
}


static void
worker_send(struct ctl_msg *m)
{
	if (w.peer == NULL)
		return;
	m->slot = w.spec->slot;
	m->pid = getpid();
	m->seq = w.seq++;
	peer_send(w.peer, m);
}

static void
worker_send_stats(void)
{
	struct ctl_msg	m = { .type = CTL_STATS };

	m.u.stats = w.ctx.stats;
	worker_send(&m);
}

static void
worker_deadline(evutil_socket_t fd, short what, void *arg)
{
	log_info("drain deadline: closing %llu connections",
	    (unsigned long long)w.ctx.stats.conns_active);
	event_base_loopbreak(w.base);
}

/*
 * A retired listener drops new SYNs from the moment of the commit, but a
 * handshake the kernel had begun before that may still complete.  We keep
 * accepting for this long, then sweep the queue once more and close our
 * copies; only then is the socket closed (by the master, once nobody holds
 * it), so a client the kernel let in is served, not reset.
 */
#define RELEASE_GRACE_MS	200

/* Close our copies (DRAINING tells the master we hold none any more) and
 * warn the connections, those of the grace included. */
static void
worker_release(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_msg	m = { .type = CTL_DRAINING };
	size_t		i;

	if (w.released)
		return;
	w.released = 1;
	for (i = 0; i < w.nlisteners; i++)
		listener_release(w.listeners[i], w.accepting);
	m.u.draining.conns_active = w.ctx.stats.conns_active;
	worker_send_stats();	/* fresh counters for the master's view */
	worker_send(&m);
	conn_shutdown_all(&w.ctx);
}

/*
 * DRAIN_ACK: the master reports a reload done only once every old worker
 * has said this, so that from the reply on no client is judged by the old
 * configuration.  Sent once the kept listeners are released (the last
 * clients queued on them taken in, under our rules, before the reply),
 * without waiting for the grace of the retired ones: a retired socket
 * drops every packet from the commit on, so a client it can still hand us
 * began its handshake before the commit, and the new configuration has no
 * rules for that listener to judge it by; holding the reply for the grace
 * would add RELEASE_GRACE_MS to every reload that removes a listener and
 * change nothing a client sees.
 */
static void
worker_drain_ack(uint32_t retired)
{
	struct ctl_msg	m = { .type = CTL_DRAIN_ACK };

	m.u.drain_ack.retired = retired;
	worker_send(&m);
}

/* Stop accepting, warn the connections, exit when they are done. */
static void
worker_drain(unsigned int deadline_ms, const char *why)
{
	struct timeval	tv;
	size_t		i, retired;

	/* Draining already (SIGQUIT, say): the kept listeners are gone. */
	if (w.draining) {
		worker_drain_ack(w.released ? 0 : w.retired);
		return;
	}
	w.draining = 1;
	log_info("draining (%s), %llu connections, deadline %u ms", why,
	    (unsigned long long)w.ctx.stats.conns_active, deadline_ms);
	/* Kept listeners serve the new generation's rules from now on. */
	for (i = 0, retired = 0; i < w.nlisteners; i++) {
		if (w.accepting && listener_retired(w.listeners[i]))
			retired++;
		else
			listener_release(w.listeners[i], w.accepting);
	}
	w.retired = retired;
	worker_drain_ack(retired);
	if (retired > 0) {
		clock_ms_to_tv(RELEASE_GRACE_MS, &tv);
		evtimer_add(w.release, &tv);
	} else
		worker_release(-1, 0, NULL);
	clock_ms_to_tv(deadline_ms, &tv);
	evtimer_add(w.deadline, &tv);
}

/* The master opened the log anew and passed us the descriptor. */
static void
worker_reopen(struct peer *p, uint32_t target)
{
	struct ctl_msg	m = { .type = CTL_REOPENED };
	int		fd = peer_take_fd(p);
	char		err[64];

	if (target == CTL_REOPEN_SYSLOG) {
		if (fd != -1)
			close(fd);
		(void)log_open("syslog", err, sizeof(err));
	} else if (fd == -1) {
		m.u.reopened.error = EBADF;	/* the descriptor did not come */
		log_warnx("log reopen: no descriptor from the master");
	} else
		log_set_fd(fd);
	/* The access logs' files came just before (CTL_ALOG_REOPEN). */
	if (m.u.reopened.error == 0)
		m.u.reopened.error = (uint32_t)accesslog_reopen_error(
		    w.ctx.alog);
	if (m.u.reopened.error == 0)
		log_info("log reopened");
	worker_send(&m);
}

/*
 * The master committed our generation: serve.  A reload's canary hears
 * this twice: first for its trial, when the sockets new in its file do
 * not listen yet (listener_start skips those), then at the commit.
 */
static void
worker_accept(uint32_t generation)
{
	if (w.draining)
		return;
	if (generation != w.spec->generation) {
		log_warnx("control channel: ACCEPT for generation %u, this "
		    "worker is of %u", generation, w.spec->generation);
		return;
	}
	w.accepting = 1;
	log_debug("accepting, generation %u", generation);
	if (!w.capped)
		listeners_set(1);
}

/* The master asks us to take in another slot's clients, or to stop. */
static void
worker_cover(uint32_t slot, uint32_t on)
{
	size_t	i;

	if (slot >= (uint32_t)w.spec->nslots)
		return;
	log_info("%s accepting for worker %u", on ? "also" : "no longer",
	    slot);
	for (i = 0; i < w.nlisteners; i++)
		listener_cover(w.listeners[i], (int)slot, on != 0);
}

static void
worker_dispatch(struct peer *p, const struct ctl_msg *m, const char *reason,
    void *arg)
{
	if (m == NULL) {
		log_warnx("control channel to master %s: %s",
		    reason, "master gone, draining");
		peer_free(w.peer);
		w.peer = NULL;
		worker_drain(w.spec->cfg->shutdown_timeout_ms, "master gone");
		return;
	}
	switch (m->type) {
	case CTL_STATS_REQUEST:
		worker_send_stats();
		break;
	case CTL_DRAIN:
		worker_drain(m->u.drain.deadline_ms, "asked by master");
		break;
	case CTL_REOPEN:
		worker_reopen(p, m->u.reopen.target);
		break;
	case CTL_ACCEPT:
		worker_accept(m->u.accept.generation);
		break;
	case CTL_ALOG_REOPEN:
		(void)accesslog_reopen(w.ctx.alog, m->u.alog_reopen.key,
		    peer_take_fd(p));
		break;
	case CTL_COVER:
		if (w.accepting && !w.draining)
			worker_cover(m->u.cover.slot, m->u.cover.on);
		break;
	default:
		log_warnx("control channel: unexpected %s from master",
		    ctl_type_name(m->type));
		break;
	}
}

static void
worker_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGQUIT) {
		worker_drain(w.spec->cfg->shutdown_timeout_ms, "SIGQUIT");
		return;
	}
	log_debug("signal %d: stopping", (int)sig);
	event_base_loopbreak(w.base);
}

static void
worker_sweep(evutil_socket_t fd, short what, void *arg)
{
	/* The parent-death signal can be lost in a race; check here too. */
	if (getppid() != w.spec->master && !w.draining)
		worker_drain(w.spec->cfg->shutdown_timeout_ms, "master gone");
	if (w.released && w.ctx.stats.conns_active == 0) {
		event_base_loopbreak(w.base);
		return;
	}
	conn_sweep(&w.ctx, worker_now_ms());
}

/* Heartbeat with the loop's lag: how late this timer fired. */
static void
worker_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_msg	m = { .type = CTL_HEARTBEAT };
	uint64_t	now = clock_mono_us(), late;
	uint64_t	interval = (uint64_t)w.spec->cfg->heartbeat_interval_ms *
			    1000;

	late = now - w.last_beat_us > interval ?
	    now - w.last_beat_us - interval : 0;
	w.last_beat_us = now;
	m.u.heartbeat.loop_lag_us = late > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)late;
	worker_send(&m);
	worker_send_stats();
}

static int
worker_events(void)
{
	struct timeval	tv;
	size_t		i;

	for (i = 0; i < sizeof(w.sigs) / sizeof(w.sigs[0]); i++) {
		w.sigs[i] = evsignal_new(w.base, worker_signals[i],
		    worker_signal, NULL);
		if (w.sigs[i] == NULL || evsignal_add(w.sigs[i], NULL) == -1)
			return -1;
	}
	w.sweep = event_new(w.base, -1, EV_PERSIST, worker_sweep, NULL);
	w.heartbeat = event_new(w.base, -1, EV_PERSIST, worker_heartbeat,
	    NULL);
	w.deadline = evtimer_new(w.base, worker_deadline, NULL);
	w.release = evtimer_new(w.base, worker_release, NULL);
	if (w.sweep == NULL || w.heartbeat == NULL || w.deadline == NULL ||
	    w.release == NULL)
		return -1;
	clock_ms_to_tv(SWEEP_INTERVAL_MS, &tv);
	if (event_add(w.sweep, &tv) == -1)
		return -1;
	clock_ms_to_tv(w.spec->cfg->heartbeat_interval_ms, &tv);
	w.last_beat_us = clock_mono_us();
	return event_add(w.heartbeat, &tv);
}

/*
 * A connection with more to do re-activates itself (conn_read after its
 * read budget, pf_conn_yield()).  libevent runs such an event again in
 * the same pass, so without a bound one busy client would keep the loop
 * from polling for anyone else's readiness and from firing timers: after
 * WORKER_DISPATCH_MAX callbacks it polls, and newly ready connections
 * queue up behind the busy one.
 */
static struct event_base *
worker_base_new(void)
{
	struct event_config	*ec;
	struct event_base	*base = NULL;

	if ((ec = event_config_new()) == NULL)
		return NULL;
	if (event_config_set_max_dispatch_interval(ec, NULL,
	    WORKER_DISPATCH_MAX, 0) == 0)
		base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/* Our copies of a set we never accept on: its socket must close when the
 * master closes it. */
static void
lsock_close(const struct lsock *ls)
{
	int	i;

	for (i = 0; i < ls->nfds; i++)
		close(ls->fds[i]);
}

static int
worker_setup(void)
{
	const struct worker_spec	*spec = w.spec;
	const struct pf_service		*svc;
	size_t				 i;

	char				 err[CONFIG_ERRLEN];

	if (iplimit_use(spec->ipl_region) == -1 ||
	    pxshm_use(spec->pxs_region) == -1)
		return -1;
	if (module_load(spec->cfg, MODULE_WORKER, NULL, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (spec->confine != NULL && spec->confine(spec->cfg) == -1)
		return -1;
	/* A change of credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1)
		log_warn("prctl PR_SET_PDEATHSIG");
	if (getppid() != spec->master) {
		log_warnx("master gone while starting; exiting");
		return -1;
	}
	if ((w.base = worker_base_new()) == NULL) {
		log_warnx("cannot create event base");
		return -1;
	}
	wctx_init(&w.ctx, w.base);
	w.ctx.at_capacity = worker_at_capacity;
	w.ctx.conn_closed = worker_conn_closed;
	if (worker_events() == -1) {
		log_warnx("cannot set up worker events");
		return -1;
	}
	if ((w.peer = peer_new(w.base, spec->ctl_fd, worker_dispatch,
	    NULL)) == NULL ||
	    (w.ctx.alog = accesslog_new(w.base, spec->cfg, spec->slot,
	    spec->alogs, spec->nalogs)) == NULL)
		return -1;
	if ((w.listeners = calloc(spec->nls, sizeof(*w.listeners))) == NULL) {
		log_warn("listeners");
		return -1;
	}
	for (i = 0; i < spec->nls; i++) {
		struct pf_listener	*l;

		if (strcmp(spec->ls[i].conf->service, SERVICE_STATS) == 0) {
			lsock_close(&spec->ls[i]);	/* the master's */
			continue;
		}
		svc = service_find(spec->ls[i].conf->service);
		if (svc == NULL) {
			log_warnx("listener %s: unknown service '%s'",
			    spec->ls[i].conf->name, spec->ls[i].conf->service);
			return -1;
		}
		if ((l = listener_new(&w.ctx, &spec->ls[i], spec->slot,
		    spec->nslots)) == NULL)
			return -1;
		w.listeners[w.nlisteners++] = l;
		if (svc->init(l) == -1) {
			log_warnx("listener %s: service %s failed to start",
			    spec->ls[i].conf->name, svc->name);
			return -1;
		}
	}
	return 0;
}

static void
worker_cleanup(void)
{
	struct ctl_msg	m = { .type = CTL_GOODBYE };
	size_t		i;

	conn_close_all(&w.ctx);
	/* Lookups still pending hold their connections: fail them. */
	if (w.ctx.dns != NULL)
		evdns_base_free(w.ctx.dns, 1);
	accesslog_free(w.ctx.alog);	/* with the lines of those just closed */
	w.ctx.alog = NULL;
	if (w.peer != NULL) {
		worker_send_stats();
		worker_send(&m);
		peer_flush(w.peer, GOODBYE_FLUSH_MS);
		peer_free(w.peer);
	}
	for (i = 0; i < w.nlisteners; i++)
		listener_free(w.listeners[i]);
	free(w.listeners);
	emitter_clear(&w.em);
	/* What services left set (after PF_EV_STOP and the "close" handlers,
	 * which may clear them), while the base and the modules are there. */
	if (w.ctx.ntimers > 0)
		log_debug("timers left set, freed: %zu", w.ctx.ntimers);
	timer_free_all(&w.ctx);
	for (i = 0; i < sizeof(w.sigs) / sizeof(w.sigs[0]); i++) {
		if (w.sigs[i] != NULL)
			event_free(w.sigs[i]);
	}
	if (w.sweep != NULL)
		event_free(w.sweep);
	if (w.heartbeat != NULL)
		event_free(w.heartbeat);
	if (w.deadline != NULL)
		event_free(w.deadline);
	if (w.release != NULL)
		event_free(w.release);
	if (w.base != NULL)
		event_base_free(w.base);
	module_unload();
}

/*
 * cpu_affinity: first thing, so whatever the worker starts (a module's
 * threads) inherits the mask.  A CPU taken away since the file was
 * checked costs the pinning, not the worker: one line, and serve anyway.
 */
static void
worker_pin(int cpu)
{
	cpu_set_t	set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		log_warn("cpu_affinity: cannot pin to CPU %d; running "
		    "unpinned", cpu);
}

void
worker_main(const struct worker_spec *spec)
{
	struct ctl_msg	m = { .type = CTL_READY };
	char		who[32];
	int		status = 1;

	w.spec = spec;
	snprintf(who, sizeof(who), "worker %d", spec->slot);
	log_set_who(who);
	worker_pin(spec->cpu);
	emitter_init(&w.em, NULL);

	/*
	 * Drain when the master dies; re-check in case it already has.
	 * SIGQUIT is ignored until its handler is in place: a master dying
	 * while this worker starts must not kill it with a core dump.
	 */
	signal(SIGQUIT, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1)
		log_warn("prctl PR_SET_PDEATHSIG");
	if (getppid() != spec->master) {
		log_warnx("master gone before this worker started; exiting");
		exit(1);
	}
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);

	if (worker_setup() == 0) {
		log_debug("started, generation %u, %zu listeners, control fd "
		    "%d", spec->generation, spec->nls, spec->ctl_fd);
		m.u.ready.generation = spec->generation;
		worker_send(&m);
		pf_emit(&w.em, PF_EV_START, NULL);
		if (event_base_dispatch(w.base) == -1)
			log_warnx("event loop failed");
		else
			status = 0;
		pf_emit(&w.em, PF_EV_STOP, NULL);
	}
	worker_cleanup();
	exit(status);
}
