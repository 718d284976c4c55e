/*
 * master.c -- the supervising process: its context, start-up, signals,
 * stop, log reopen and clean-up.  The workers as processes are
 * children.c's; a reload's generations are generation.c's (driven by
 * reload.c).
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
#include "server/children.h"
#include "server/generation.h"
#include "server/healthcheck.h"
#include "server/httpstats.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/notify.h"
#include "server/pidfile.h"
#include "server/privs.h"
#include "server/reload.h"
#include "server/removal.h"
#include "server/round.h"
#include "server/upgrade.h"
#include "worker/module.h"
#include "worker/worker.h"

#define STOP_KILL_MS		3000	/* fast stop: TERM, then KILL */

struct master		 master;

static const int master_signals[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2
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
	for (i = 0; i < sizeof(master.sigs) / sizeof(master.sigs[0]); i++) {
		if (master.sigs[i] != NULL)
			event_free(master.sigs[i]);
		master.sigs[i] = NULL;
	}
	if (master.monitor != NULL)
		event_free(master.monitor);
	if (master.stop_timer != NULL)
		event_free(master.stop_timer);
	master.monitor = master.stop_timer = NULL;
	healthcheck_free();
	removal_free();
	rounds_free();
	emitter_clear(&master.em);
	emitter_clear(&master.life);
}

/*
 * In a new worker, signals still blocked: every event and descriptor of
 * the master's is dropped.  The epoll fd is shared with the master across
 * fork, so the base is re-initialised first; freeing it as it was would
 * delete the master's registrations.  Other workers' channels must close
 * too, or a worker would keep a sibling's channel open and hide the
 * master's death.  Then the master's handlers go (the worker's signals
 * start ignored or at their default, until worker_main installs its own),
 * and the mask the master had comes back.
 */
void
master_forget(const sigset_t *mask)
{
	static const int	ignored[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT };
	size_t			i;
	int			j;

	if (event_reinit(master.base) == -1)
		log_warnx("event_reinit failed in new worker");
	admin_close();
	httpstats_close();
	notify_forget();
	upgrade_forget();
	listeners_forget(master.ls, master.cfg->nlisteners);
	if (master.pidfd != -1)
		close(master.pidfd);	/* only the master holds the lock */
	master_drop();
	for (j = 0; j < master.nslots; j++)
		event_free(master.slots[j].respawn);
	for (j = 0; j < master.prev.nslots; j++)
		event_free(master.prev.slots[j].respawn);
	event_base_free(master.base);
	master.base = NULL;
	/* Only now: freeing the signal events puts back the handlers they
	 * replaced, the master's defaults (SIGHUP would kill us). */
	for (i = 0; i < sizeof(master_signals) / sizeof(master_signals[0]);
	    i++)
		signal(master_signals[i], SIG_DFL);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	sigprocmask(SIG_SETMASK, mask, NULL);
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
	pf_off_all(&master.em, -1);
	module_unload();
}

void
master_modules_load(void)
{
	char	err[CONFIG_ERRLEN];

	if (module_load(master.cfg, MODULE_MASTER, &master.em, err,
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
	struct ctl_msg	 msg = { .type = CTL_REOPEN };
	struct child	*c;
	char		 aerr[CONFIG_ERRLEN];
	int		 fd;

	if ((fd = log_open(master.cfg->log_file, err, errlen)) == -2)
		return -1;
	msg.u.reopen.target = fd == -1 ? CTL_REOPEN_SYSLOG : CTL_REOPEN_FD;
	log_info("log reopened");
	/* The access logs too; one that cannot be reopened keeps its old
	 * file (nothing is lost) and is not the log's failure.  They go
	 * ahead of REOPEN (a round of its own may wait), so each worker's
	 * REOPENED covers them. */
	if (alogfiles_sync(&master.alogs, master.cfg, master.prev.cfg, aerr,
	    sizeof(aerr)) == -1 ||
	    alogfiles_reopen(&master.alogs, aerr, sizeof(aerr)) == -1)
		log_warnx("%s", aerr);
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->peer != NULL && c->state != CHILD_KILLED)
			(void)alogfiles_send(&master.alogs, c->peer, c->slot,
			    master.pid);
	}
	round_start(ROUND_REOPEN, &msg, fd, done, arg);
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
	/* An upgrade under way ends now, whatever the stop's pace. */
	upgrade_cancel("stopping");
	/* Behind a load balancer: fail /health first, stop when it ends.
	 * Not after an upgrade: the new master serves /health. */
	if (graceful && !master.handed_over && removal_begin())
		return;
	removal_end(graceful ? "cut short by another quit" :
	    "cut short by a stop request");
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
			/* A worker of the serving generation still starting
			 * (the first ones, at start-up) may have clients
			 * queued that nobody else takes: it accepts what is
			 * queued before it drains. */
			if (c->state == CHILD_STARTING &&
			    c->generation == master.generation)
				child_accept(c);
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
	evtimer_add(master.stop_timer, &tv);
	if (TAILQ_EMPTY(&master.children))
		event_base_loopbreak(master.base);
}

/*
 * A reload would start workers that the coming stop drains at once, and
 * the new generation's /health would say ok again: refused, as during
 * the stop itself.
 */
void
master_reload(const char *why, int canary_ms, reload_done_fn done, void *arg)
{
	if (removal_pending(NULL)) {
		log_warnx("reload (%s) refused: stopping (drain delay)", why);
		if (done != NULL)
			done(arg, 0, "stopping (draining for removal)");
		return;
	}
	if (upgrade_busy()) {
		log_warnx("reload (%s) refused: an upgrade is in progress", why);
		if (done != NULL)
			done(arg, 0, "an upgrade is in progress");
		return;
	}
	reload_start(why, canary_ms, done, arg);
}

void
master_resize(int n, int relative, reload_done_fn done, void *arg)
{
	if (removal_pending(NULL) || upgrade_busy()) {
		log_warnx("workers refused: %s", upgrade_busy() ?
		    "an upgrade is in progress" : "stopping (drain delay)");
		if (done != NULL)
			done(arg, 0, upgrade_busy() ? "an upgrade is in progress" :
			    "stopping (draining for removal)");
		return;
	}
	reload_workers(n, relative, done, arg);
}

static void
master_signal(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGCHLD:
		master_reap();
		break;
	case SIGHUP:
		master_reload("SIGHUP", -1, NULL, NULL);
		break;
	case SIGUSR1:
		master_reopen_logged();
		break;
	case SIGUSR2:
		upgrade_start("SIGUSR2", NULL, NULL);
		break;
	case SIGQUIT:
		master_stop(1);
		break;
	default:
		master_stop(0);
		break;
	}
}

/*
 * The master's deadlines (drain delay, stop, reload, heartbeats) are
 * promises to operators and balancers: on the exact clock, not libevent's
 * default coarse one, which lags by a tick or more and fires them early.
 * The master's loop is not a hot path.
 */
static struct event_base *
master_base_new(void)
{
	struct event_config	*ec;
	struct event_base	*base = NULL;

	if ((ec = event_config_new()) == NULL)
		return NULL;
	if (event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static int
master_setup(void)
{
	struct timeval	tv;
	size_t		i;
	int		step;

	if ((master.base = master_base_new()) == NULL) {
		log_warnx("cannot create event base");
		return -1;
	}
	for (i = 0; i < sizeof(master.sigs) / sizeof(master.sigs[0]); i++) {
		master.sigs[i] = evsignal_new(master.base, master_signals[i],
		    master_signal, NULL);
		if (master.sigs[i] == NULL || evsignal_add(master.sigs[i], NULL) == -1) {
			log_warnx("cannot watch signal %d", master_signals[i]);
			return -1;
		}
	}
	master.monitor = event_new(master.base, -1, EV_PERSIST, master_monitor, NULL);
	master.stop_timer = evtimer_new(master.base, master_stop_timeout, NULL);
	if (master.monitor == NULL || master.stop_timer == NULL ||
	    rounds_init(master.base) == -1 || reload_init(master.base) == -1 ||
	    upgrade_init(master.base) == -1) {
		log_warnx("cannot create timers");
		return -1;
	}
	step = master.cfg->heartbeat_interval_ms / 2;
	clock_ms_to_tv(step < 10 ? 10 : step > 250 ? 250 : step, &tv);
	if (event_add(master.monitor, &tv) == -1)
		return -1;
	return slots_new(&master.slots, master.nslots);
}

static void
master_cleanup(void)
{
	sigset_t	late;
	size_t		i;

	/* The master is on its way out: a late signal (a second stop, a
	 * reload) must not kill it with the defaults the freed signal
	 * events put back, and change how it exits.  Blocked, it is
	 * dropped with the process. */
	sigemptyset(&late);
	for (i = 0; i < sizeof(master_signals) / sizeof(master_signals[0]);
	    i++) {
		if (master_signals[i] != SIGCHLD)
			sigaddset(&late, master_signals[i]);
	}
	(void)sigprocmask(SIG_BLOCK, &late, NULL);
	admin_close();
	httpstats_close();
	reload_free();
	upgrade_free();
	master_modules_unload();
	listeners_close_all();
	pidfile_remove(master.pidfile, master.pidfd);
	free(master.pidfile);
	master_drop();
	if (master.prev.cfg != NULL)
		gen_free(&master.prev);
	if (master.slots != NULL)
		slots_free(master.slots, master.nslots);
	lsocks_free(master.ls, master.cfg->nlisteners);
	master.ls = NULL;
	alogfiles_free(&master.alogs);
	if (master.base != NULL)
		event_base_free(master.base);
}

int
master_serve(void)
{
	if (listeners_listen() == -1)
		return -1;
	listeners_commit(master.cfg, master.generation);
	listeners_reap(listeners_held);	/* activated sockets not listed */
	return httpstats_listen(master.base, master.cfg, master.ls);
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

	master.pidfd = -1;
	master.cfg = cfg;
	master.pid = getpid();
	master.started_ms = master_now_ms();
	master.started_at = time(NULL);
	master.generation = 1;
	master.nslots = master_workers(cfg);
	TAILQ_INIT(&master.children);
	emitter_init(&master.em, &master);
	emitter_init(&master.life, &master);
	srandom((unsigned int)(master.pid ^ master.started_ms));
	if ((master.ls = calloc(cfg->nlisteners, sizeof(*master.ls))) == NULL) {
		log_warn("master");
		goto out;
	}
	/* A new master of an upgrade takes the pidfile over once it serves. */
	if (cfg->pidfile != NULL && !master.upgrading) {
		if ((master.pidfile = strdup(cfg->pidfile)) == NULL ||
		    (master.pidfd = pidfile_create(cfg->pidfile, err,
		    sizeof(err))) == -1) {
			log_warnx("pidfile %s", master.pidfile ? err : "strdup");
			goto out;
		}
	}
	if (cfg->rlimit_nofile > 0)
		privs_rlimit_nofile(cfg->rlimit_nofile);
	if (needs_iplimit(cfg) && iplimit_init() == -1)
		goto out;
	/* The admin socket first: once a listener answers, so does it. */
	if (master_setup() == -1 ||
	    (cfg->admin_socket != NULL && admin_open(master.base, cfg) == -1) ||
	    listeners_adopt() == -1 || upgrade_inherit() == -1 ||
	    listeners_prepare(cfg, master.ls, master.nslots) == -1)
		goto out;
	/* A new master: only once the old one lets go (upgrade.c). */
	if (!master.upgrading && master_serve() == -1)
		goto out;
	master_modules_load();
	if (alogfiles_sync(&master.alogs, cfg, NULL, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		goto out;
	}
	log_info("starting %d workers (config %s)", master.nslots, cfg->file);
	for (i = 0; i < master.nslots; i++)
		slot_spawn(&master.slots[i]);
	if (event_base_dispatch(master.base) == -1)
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
	/* A new master that cannot start: the old one hears why. */
	if (status != 0)
		upgrade_child_failed(*log_last_warning() != '\0' ?
		    log_last_warning() : "could not start; see its log");
	master_cleanup();
	config_free(master.cfg);
	return status;
}
