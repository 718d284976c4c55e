/*
 * reload.c -- SIGHUP and "preforkctl reload": the configuration file read
 * again, as a transaction.
 *
 * The new file is parsed and checked completely (syntax, schema, modules,
 * services) into a fresh struct; its listeners are prepared (kept sockets
 * reused, new ones bound).  Any failure so far leaves the serving
 * generation untouched.  Then generation N+1 starts beside N, and the
 * reload waits until every new worker has said READY (set up, not yet
 * accepting): only then does N+1 accept and N drain.  A new worker that
 * dies before READY, or a generation not ready by the deadline, aborts the
 * reload: the new workers, which never accepted a client, exit, and N goes
 * on as if nothing happened.
 *
 * A committed reload is reported done only once every worker of N that
 * was accepting has confirmed (DRAIN_ACK) that it accepts nothing more
 * under the old file: whoever is told "reloaded" may rely on every client
 * from then on meeting the new rules (a deny, a limit per address).  N+1
 * accepts from the commit on; only the report waits.  A worker that exits
 * or is killed meanwhile counts as confirmed; one that says nothing within
 * reload_ack_wait_ms() (stopped, stuck) is named in the log and the reply,
 * and the reload is reported anyway.
 *
 * One reload at a time, until it is reported; another one asked for
 * meanwhile is refused with that reason.  Every outcome is logged, kept
 * for "status", and handed to whoever asked.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/tlsctx.h"
#include "server/check.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/notify.h"
#include "server/privs.h"
#include "server/reload.h"
#include "worker/module.h"
#include "worker/service.h"

#define RELOAD_MIN_WAIT_MS	5000
#define RELOAD_ACK_MIN_WAIT_MS	1000

static struct {
	struct event		*deadline;
	int			 pending;	/* N+1 starting */
	int			 settling;	/* committed; N's acks owed */
	char			 committed[64];	/* "generation N+1" */
	const char		*why;
	reload_done_fn		 done;		/* who asked, if anyone */
	void			*done_arg;
	struct reload_last	 last;
	uint64_t		 started_ms;
	int			 log_changed;
	int			 announced;	/* READY=1 sent once */
	int			 resize;	/* "workers N": same file */
} r;

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

struct config *
reload_load_config(const char *file, char *err, size_t errlen)
{
	struct config	*cfg;
	size_t		 i, j;

	struct privs	 privs;

	if ((cfg = config_load(file, err, errlen)) == NULL)
		return NULL;
	for (j = 0; j < cfg->nmodules; j++) {
		if (service_builtin(cfg->modules[j].name) != NULL ||
		    strcmp(cfg->modules[j].name, SERVICE_STATS) == 0) {
			snprintf(err, errlen, "%s:%d: module %s: a built-in "
			    "service has that name", cfg->file,
			    cfg->modules[j].line, cfg->modules[j].name);
			goto fail;
		}
	}
	if (config_check_runtime(cfg, err, errlen) == -1 ||
	    tlsctx_build_all(cfg, err, errlen) == -1 ||
	    privs_resolve(cfg, &privs, err, errlen) == -1 ||
	    module_load(cfg, MODULE_CHECK, NULL, err, errlen) == -1)
		goto fail;
	if (cfg->chroot != NULL && (cfg->chroot[0] != '/' ||
	    access(cfg->chroot, X_OK) == -1)) {
		snprintf(err, errlen, "%s: chroot %s: %s", cfg->file,
		    cfg->chroot, cfg->chroot[0] != '/' ? "not an absolute path" :
		    strerror(errno));
		goto fail;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		for (j = 0; j < cfg->nmodules; j++) {
			if (strcmp(cfg->modules[j].name,
			    cfg->listeners[i].service) == 0)
				break;
		}
		if (j == cfg->nmodules &&
		    strcmp(cfg->listeners[i].service, SERVICE_STATS) != 0 &&
		    service_find(cfg->listeners[i].service) == NULL) {
			snprintf(err, errlen, "%s:%d: listener %s: unknown "
			    "service '%s'", cfg->file, cfg->listeners[i].line,
			    cfg->listeners[i].name, cfg->listeners[i].service);
			goto fail;
		}
	}
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

static void
reload_finish(int ok, const char *result)
{
	reload_done_fn	done = r.done;
	uint64_t	took = clock_mono_us() / 1000 - r.started_ms;

	r.pending = 0;
	r.settling = 0;
	r.done = NULL;
	evtimer_del(r.deadline);
	if (r.resize) {
		/* Not a reload: the file was not read; the counters, "last
		 * reload" and the supervisor are not concerned. */
		r.resize = 0;
		if (ok)
			log_info("workers (%s): done, %s (%llu ms)", r.why,
			    result, (unsigned long long)took);
		else
			log_warnx("workers (%s) failed: %s (%llu ms)", r.why,
			    result, (unsigned long long)took);
		if (done != NULL)
			done(r.done_arg, ok, result);
		return;
	}
	r.last.when = time(NULL);
	r.last.ok = ok;
	r.last.took_ms = took;
	totals_event(&master.totals, ok ? TOTALS_RELOAD_OK : TOTALS_RELOAD_FAILED);
	snprintf(r.last.result, sizeof(r.last.result), "%s (%llu ms)", result,
	    (unsigned long long)took);
	result = r.last.result;
	if (ok)
		log_info("reload (%s): done, %s", r.why, result);
	else
		log_warnx("reload (%s) failed: %s", r.why, result);
	/* Stopping: the supervisor was told so, and nothing is ready. */
	if (!master.stopping)
		notify_send("READY=1\nSTATUS=%s: %s", ok ? "reloaded" :
		    "reload failed, still serving the old generation", result);
	if (done != NULL)
		done(r.done_arg, ok, result);
}

/* The new generation failed: back to the old one, hooks included. */
static void
reload_abort(const char *why)
{
	master_end_generation(0);
	if (!r.resize) {
		master_modules_unload();
		master_modules_load();
	}
	reload_finish(0, why);
}

/*
 * Workers of older generations that were accepting and have not said
 * DRAIN_ACK.  One being killed counts as confirmed.  With report, the
 * reload is being reported: each one left is named and stops being
 * waited for; the count is of those that did not answer.
 */
static int
acks_owed(int report)
{
	struct child	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->generation >= master.generation || !c->owes_ack)
			continue;
		if (c->state == CHILD_KILLED) {
			if (report) {
				log_info("reload (%s): worker %d (pid %ld) of "
				    "generation %u killed before it confirmed; "
				    "counted as stopped", r.why, c->slot,
				    (long)c->pid, c->generation);
				c->owes_ack = 0;
			}
			continue;
		}
		n++;
		if (report) {
			log_warnx("reload (%s): worker %d (pid %ld) of "
			    "generation %u did not confirm it stopped "
			    "accepting within %d ms; reporting the reload "
			    "anyway", r.why, c->slot, (long)c->pid,
			    c->generation, reload_ack_wait_ms(master.cfg));
			c->owes_ack = 0;
		}
	}
	return n;
}

/* The committed reload is reported once nothing owes an ack, or at the
 * deadline. */
static void
reload_settle(int timed_out)
{
	char	result[sizeof(r.committed) + 64];
	int	late;

	if (!r.settling || (!timed_out && acks_owed(0) > 0))
		return;
	if ((late = acks_owed(1)) > 0)
		snprintf(result, sizeof(result), "%s; %d old worker%s did not "
		    "confirm in time (see the log)", r.committed, late,
		    late == 1 ? "" : "s");
	else
		snprintf(result, sizeof(result), "%s", r.committed);
	reload_finish(1, result);
	if (r.log_changed)
		master_reopen_logged();
}

static void
reload_timeout(evutil_socket_t fd, short what, void *arg)
{
	if (r.pending)
		reload_abort("the new workers were not ready in time; kept "
		    "the old generation");
	else
		reload_settle(1);
}

static void	reload_child_online(void *, const struct pf_event_arg *, void *);
static void	reload_child_exit(void *, const struct pf_event_arg *, void *);

int
reload_init(struct event_base *base)
{
	r.deadline = evtimer_new(base, reload_timeout, NULL);
	if (r.deadline == NULL ||
	    pf_on(&master.life, PF_EV_ONLINE, reload_child_online, NULL) == -1 ||
	    pf_on(&master.life, PF_EV_EXIT, reload_child_exit, NULL) == -1)
		return -1;
	return 0;
}

void
reload_free(void)
{
	if (r.deadline != NULL)
		event_free(r.deadline);
	r.deadline = NULL;
}

/* A stop during a reload: the new generation, which never accepted,
 * goes; whoever asked hears why. */
void
reload_cancel(const char *why)
{
	if (r.pending)
		reload_abort(why);
	else if (r.settling) {
		/* Committed; the stop closes the door to every new client,
		 * under either file, before the reply leaves. */
		snprintf(r.committed + strlen(r.committed),
		    sizeof(r.committed) - strlen(r.committed), ", %s", why);
		reload_finish(1, r.committed);
	}
}

int
reload_wait_ms(const struct config *cfg)
{
	int	wait_ms = cfg->worker_timeout_ms * 2;

	return wait_ms < RELOAD_MIN_WAIT_MS ? RELOAD_MIN_WAIT_MS : wait_ms;
}

/*
 * A healthy worker answers DRAIN within a loop pass; the master calls one
 * whose heartbeat is this late stalled (children.c's cover), so waiting
 * longer would only hold the reply for a worker that is not coming.  The
 * floor is for slowed runs (valgrind) with short heartbeats.
 */
int
reload_ack_wait_ms(const struct config *cfg)
{
	int	wait_ms = 2 * cfg->heartbeat_interval_ms + 100;

	return wait_ms < RELOAD_ACK_MIN_WAIT_MS ? RELOAD_ACK_MIN_WAIT_MS :
	    wait_ms;
}

void
reload_start(const char *why, reload_done_fn done, void *arg)
{
	struct config	*cfg;
	struct lsock	*ls = NULL;
	struct timeval	 tv;
	char		 err[CONFIG_ERRLEN];
	int		 nworkers;

	if (r.pending || r.settling || master.stopping) {
		log_warnx("reload (%s) refused: %s", why, !master.stopping ?
		    "a reload is already in progress" : "stopping");
		if (done != NULL)
			done(arg, 0, !master.stopping ?
			    "a reload is already in progress" : "stopping");
		return;
	}
	r.why = why;
	r.started_ms = clock_mono_us() / 1000;
	notify_reloading();
	r.done = done;
	r.done_arg = arg;
	log_info("reload (%s): reading %s", why, master.cfg->file);
	master_modules_unload();
	if ((cfg = reload_load_config(master.cfg->file, err,
	    sizeof(err))) == NULL) {
		master_modules_load();
		reload_finish(0, err);
		return;
	}
	/* Once: the sockets and the slots must agree. */
	nworkers = master_workers(cfg);
	if ((ls = calloc(cfg->nlisteners, sizeof(*ls))) == NULL ||
	    listeners_prepare(cfg, ls, nworkers) == -1) {
		snprintf(err, sizeof(err), "cannot set up the listeners of "
		    "%s (see the log); kept the old generation", cfg->file);
		goto fail;
	}
	r.log_changed = !same_str(cfg->log_file, master.cfg->log_file);
	if (master_begin_generation(cfg, ls, nworkers) == -1) {
		listeners_abort();
		snprintf(err, sizeof(err), "cannot start a new generation: "
		    "%s", strerror(errno));
		goto fail;
	}
	master_modules_load();	/* the new file's */
	r.pending = 1;
	clock_ms_to_tv(reload_wait_ms(cfg), &tv);
	evtimer_add(r.deadline, &tv);
	return;
fail:
	if (ls != NULL)
		lsocks_free(ls, cfg->nlisteners);
	config_free(cfg);
	master_modules_load();
	reload_finish(0, err);
}

/*
 * "preforkctl workers N" (or +N, -N): the same transaction as a reload,
 * with a different first step.  The file is not read again: generation
 * N+1 runs the serving generation's own configuration (shared with it,
 * not copied: gen_free leaves the current one alone) with n slots, its
 * workers report READY, then it accepts and every older worker drains.
 *
 * Why a whole generation rather than adding or removing slots in place:
 * the transaction (READY before accepting, abort drains workers that
 * never accepted, DRAIN_ACK before the reply) and the reuseport sets
 * (grown before the new workers start, never shrunk while a socket may
 * hold queued clients, steered to the slots that have a ready worker)
 * are the ones reloads that resize already prove loss-free under load.
 * In-place slots would need a second path through steering, cover and
 * drain for a saving (one set of workers restarted) an operator rarely
 * needs; a count change is rare and not urgent to the millisecond.
 *
 * The count is kept until the next reload or restart, when the file's
 * "workers" wins: the file is the source of truth an operator edits and
 * reviews, and a run-time change is an override of it (an emergency, a
 * test), so it is not written anywhere and does not outlive the process.
 */
void
reload_workers(int n, int relative, reload_done_fn done, void *arg)
{
	struct lsock	*ls = NULL;
	struct timeval	 tv;
	char		 err[128];
	int		 want = relative ? master.nslots + n : n;

	if (r.pending || r.settling || master.stopping) {
		snprintf(err, sizeof(err), "%s", master.stopping ? "stopping" :
		    r.resize ? "busy: worker count change in progress" :
		    "busy: reload in progress");
		goto refuse;
	}
	if (want < 1 || want > CONFIG_WORKERS_MAX) {
		snprintf(err, sizeof(err), "workers: %d is out of range, must "
		    "be 1 to %d (now %d)", want, CONFIG_WORKERS_MAX,
		    master.nslots);
		goto refuse;
	}
	if (want == master.nslots) {
		if (done != NULL) {
			snprintf(err, sizeof(err), "%d worker%s already, "
			    "generation %u", want, want == 1 ? "" : "s",
			    master.generation);
			done(arg, 1, err);
		}
		return;
	}
	r.why = relative ? (n > 0 ? "admin: more" : "admin: fewer") :
	    "admin: set";
	r.started_ms = clock_mono_us() / 1000;
	r.done = done;
	r.done_arg = arg;
	r.resize = 1;
	log_info("workers (%s): %d -> %d, generation %u", r.why,
	    master.nslots, want, master.generation + 1);
	/* The sets grow to want sockets; a larger one keeps its extra
	 * sockets (their queues drain with the old workers). */
	if ((ls = calloc(master.cfg->nlisteners, sizeof(*ls))) == NULL ||
	    listeners_prepare(master.cfg, ls, want) == -1) {
		snprintf(err, sizeof(err), "cannot set up the listeners for %d "
		    "workers (see the log); kept %d", want, master.nslots);
		goto fail;
	}
	if (master_begin_generation(master.cfg, ls, want) == -1) {
		listeners_abort();
		snprintf(err, sizeof(err), "cannot start a new generation: "
		    "%s", strerror(errno));
		goto fail;
	}
	r.pending = 1;
	clock_ms_to_tv(reload_wait_ms(master.cfg), &tv);
	evtimer_add(r.deadline, &tv);
	return;
fail:
	lsocks_free(ls, master.cfg->nlisteners);
	reload_finish(0, err);
	return;
refuse:
	log_warnx("workers %s%d refused: %s", relative && n > 0 ? "+" : "", n,
	    err);
	if (done != NULL)
		done(arg, 0, err);
}

/* Every slot of the current generation has a READY worker. */
static int
all_ready(void)
{
	int	i;

	for (i = 0; i < master.nslots; i++) {
		if (master.slots[i].child == NULL ||
		    master.slots[i].child->state != CHILD_READY)
			return 0;
	}
	return 1;
}

/* A worker of the newest generation became ready, or died starting. */
static void
reload_progress(int died)
{
	struct timeval	tv;

	if (!r.pending) {
		/* The first generation: tell the supervisor once it serves. */
		if (!r.announced && all_ready()) {
			r.announced = 1;
			notify_ready(master.nslots);
		}
		return;
	}
	if (died) {
		reload_abort("a worker of the new generation failed to start "
		    "(see the log); kept the old generation");
		return;
	}
	if (!all_ready())
		return;
	if (r.resize)
		snprintf(r.committed, sizeof(r.committed), "%d worker%s, "
		    "generation %u", master.nslots, master.nslots == 1 ? "" :
		    "s", master.generation);
	else
		snprintf(r.committed, sizeof(r.committed), "generation %u",
		    master.generation);
	if (master_end_generation(1) == -1) {
		reload_abort("cannot listen on the new listeners (see the "
		    "log); kept the old generation");
		return;
	}
	/* The file's count holds again after a reload; "workers N"
	 * overrides it until the next one. */
	master.workers_override = r.resize;
	r.pending = 0;
	r.settling = 1;
	log_debug("reload (%s): generation %u accepting; %d old workers to "
	    "confirm they stopped", r.why, master.generation, acks_owed(0));
	evtimer_del(r.deadline);
	clock_ms_to_tv(reload_ack_wait_ms(master.cfg), &tv);
	evtimer_add(r.deadline, &tv);
	reload_settle(0);
}

static void
reload_child_online(void *self, const struct pf_event_arg *ev, void *udata)
{
	const struct child	*c = ev->data;

	if (c->generation == master.generation)
		reload_progress(0);
}

static void
reload_child_exit(void *self, const struct pf_event_arg *ev, void *udata)
{
	const struct child	*c = ev->data;

	if (c->state == CHILD_STARTING && c->generation == master.generation)
		reload_progress(1);
	if (r.settling && c->owes_ack && c->generation < master.generation) {
		log_info("reload (%s): worker %d (pid %ld) of generation %u "
		    "exited before it confirmed; counted as stopped", r.why,
		    c->slot, (long)c->pid, c->generation);
		reload_settle(0);
	}
}

void
reload_child_stopped(const struct child *c)
{
	if (c->generation < master.generation)
		reload_settle(0);
}


const struct reload_last *
reload_last(void)
{
	return &r.last;
}
