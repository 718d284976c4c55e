/*
 * worker.c -- the life of a worker process: a fresh event loop, the
 * inherited listeners handed to their services, signals, the idle sweep,
 * and exit when the master says so or disappears.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/emitter.h"
#include "common/log.h"
#include "worker/conn.h"
#include "worker/listener.h"
#include "worker/service.h"
#include "worker/worker.h"

#define SWEEP_INTERVAL_MS	100

struct worker_stats	worker_stats;

static struct {
	struct event_base	*base;
	struct pf_emitter	 em;
	struct pf_listener	**listeners;
	size_t			 nlisteners;
	struct event		*sig_term;
	struct event		*sig_int;
	struct event		*sweep;
	pid_t			 master;
	int			 slot;
} w;

struct event_base *
worker_base(void)
{
	return w.base;
}

uint64_t
worker_now_ms(void)
{
	struct timeval	tv;

	event_base_gettimeofday_cached(w.base, &tv);
	return (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

struct pf_emitter *
pf_worker_emitter(void)
{
	return &w.em;
}

int
pf_worker_slot(void)
{
	return w.slot;
}

static void
worker_stop(evutil_socket_t sig, short what, void *arg)
{
	log_debug("signal %d: stopping", (int)sig);
	event_base_loopbreak(w.base);
}

static void
worker_sweep(evutil_socket_t fd, short what, void *arg)
{
	/* The parent-death signal can be lost in a race; check here too. */
	if (getppid() != w.master) {
		log_warnx("master %ld is gone; exiting", (long)w.master);
		event_base_loopbreak(w.base);
		return;
	}
	conn_sweep(worker_now_ms());
}

static int
worker_setup(const struct config *cfg, const struct lsock *ls, size_t nls)
{
	const struct pf_service	*svc;
	struct timeval		 tv = { 0, SWEEP_INTERVAL_MS * 1000 };
	size_t			 i;

	if ((w.base = event_base_new()) == NULL) {
		log_warnx("cannot create event base");
		return -1;
	}
	w.sig_term = evsignal_new(w.base, SIGTERM, worker_stop, NULL);
	w.sig_int = evsignal_new(w.base, SIGINT, worker_stop, NULL);
	w.sweep = event_new(w.base, -1, EV_PERSIST, worker_sweep, NULL);
	if (w.sig_term == NULL || w.sig_int == NULL || w.sweep == NULL ||
	    evsignal_add(w.sig_term, NULL) == -1 ||
	    evsignal_add(w.sig_int, NULL) == -1 ||
	    event_add(w.sweep, &tv) == -1) {
		log_warnx("cannot set up worker events");
		return -1;
	}
	if ((w.listeners = calloc(nls, sizeof(*w.listeners))) == NULL) {
		log_warn("listeners");
		return -1;
	}
	for (i = 0; i < nls; i++) {
		if ((w.listeners[i] = listener_new(&ls[i])) == NULL)
			return -1;
		w.nlisteners++;
		svc = service_find(ls[i].conf->service);
		if (svc == NULL) {
			log_warnx("listener %s: unknown service '%s'",
			    ls[i].conf->name, ls[i].conf->service);
			return -1;
		}
		if (svc->init(w.listeners[i]) == -1) {
			log_warnx("listener %s: service %s failed to start",
			    ls[i].conf->name, svc->name);
			return -1;
		}
		if (listener_start(w.listeners[i]) == -1)
			return -1;
	}
	(void)cfg;
	return 0;
}

static void
worker_cleanup(void)
{
	size_t	i;

	conn_close_all();
	for (i = 0; i < w.nlisteners; i++)
		listener_free(w.listeners[i]);
	free(w.listeners);
	emitter_clear(&w.em);
	if (w.sig_term != NULL)
		event_free(w.sig_term);
	if (w.sig_int != NULL)
		event_free(w.sig_int);
	if (w.sweep != NULL)
		event_free(w.sweep);
	if (w.base != NULL)
		event_base_free(w.base);
}

void
worker_main(const struct config *cfg, const struct lsock *ls, size_t nls,
    int slot, pid_t master)
{
	char	who[32];
	int	status = 1;

	w.slot = slot;
	w.master = master;
	snprintf(who, sizeof(who), "worker %d", slot);
	log_set_who(who);
	emitter_init(&w.em, NULL);

	/* Die with the master; re-check in case it died before prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		log_warn("prctl PR_SET_PDEATHSIG");
	if (getppid() != w.master)
		exit(1);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);

	if (worker_setup(cfg, ls, nls) == 0) {
		log_debug("started, %zu listeners", nls);
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
