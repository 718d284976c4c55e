/*
 * healthcheck.c -- the backends of the proxy listeners, seen from the
 * master: their slots in the shared table and their active checks.
 *
 * Slots.  A backend is known by its listener's name and its own ("l1",
 * "127.0.0.1:9000"): a reload that keeps it keeps its slot, so its health
 * is not re-learnt and its counters go on; a reload that drops it leaves
 * the slot to the generations still using it.  Each slot remembers the
 * oldest and newest generations that had it; it is given back when the
 * master's configurations do not have it and no live worker belongs to
 * one of those generations (none can write its row any more; every row
 * they wrote has been folded): when a worker exits, or a new backend
 * needs a slot.
 *
 * Checks.  A backend's listener sets check_interval: every interval the
 * master opens a non-blocking TCP (or Unix) connection to it and closes it
 * as soon as it is established; one that is refused or not established
 * within check_timeout fails.  check_fall failures in a row mark it down
 * in the shared table, check_rise successes in a row up again; a check
 * still running when the next is due is not doubled.  Backends given by
 * host name are not checked (the master does not resolve names; the
 * workers do, for each connect).  The first check runs at once, so a
 * backend that is down at start is known within check_timeout.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pxshm.h"
#include "conf/proxyconf.h"
#include "server/healthcheck.h"
#include "server/master.h"

struct hc_slot {
	int			 used;
	char			*key;		/* "proxy L: backend B" */
	size_t			 keylen;
	uint32_t		 first_gen;	/* the oldest that has it */
	uint32_t		 gen;		/* the newest */
	/* The check, as the newest configuration sets it. */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;		/* 0: not checkable */
	int			 interval_ms, timeout_ms, rise, fall;
	struct event		*timer;		/* the next check */
	struct event		*io;		/* the check under way */
	int			 fd;
	int			 up, ok_run, fail_run;
	struct hc_info		 info;
};

static struct hc_slot	hc[PXS_SLOTS];
static int		warned_full;

static void	check_start(evutil_socket_t, short, void *);

static void
check_stop(struct hc_slot *h)
{
	if (h->io != NULL)
		event_free(h->io);
	h->io = NULL;
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
}

static void
slot_release(struct hc_slot *h)
{
	check_stop(h);
	if (h->timer != NULL)
		event_free(h->timer);
	free(h->key);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

static void
check_result(struct hc_slot *h, int ok, const char *why)
{
	int	slot = (int)(h - hc);

	check_stop(h);
	h->info.checks++;
	if (ok) {
		pxshm_check_passed(slot);
		h->fail_run = 0;
		if (!h->up && ++h->ok_run >= h->rise) {
			h->up = 1;
			h->info.changes++;
			pxshm_set_health(slot, PXS_UP);
			log_info("%s: up after %d checks", h->key,
			    h->ok_run);
		}
		return;
	}
	h->info.check_failures++;
	h->ok_run = 0;
	if (h->up && ++h->fail_run >= h->fall) {
		h->up = 0;
		h->info.changes++;
		pxshm_set_health(slot, PXS_DOWN);
		log_warnx("%s: down after %d failed checks: %s",
		    h->key, h->fail_run, why);
	}
}

static void
check_done(evutil_socket_t fd, short what, void *arg)
{
	struct hc_slot	*h = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (what & EV_TIMEOUT) {
		check_result(h, 0, "check timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	check_result(h, err == 0, strerror(err));
}

static void
check_start(evutil_socket_t unused, short what, void *arg)
{
	struct hc_slot	*h = arg;
	struct timeval	 tv;

	clock_ms_to_tv(h->interval_ms, &tv);
	evtimer_add(h->timer, &tv);
	if (h->io != NULL)		/* the last one is still running */
		return;
	h->fd = socket(h->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (h->fd == -1) {
		log_warn("%s: check", h->key);
		return;			/* our problem, not the backend's */
	}
	if (connect(h->fd, (struct sockaddr *)&h->ss, h->sslen) == 0) {
		check_result(h, 1, NULL);
		return;
	}
	if (errno != EINPROGRESS) {
		check_result(h, 0, strerror(errno));
		return;
	}
	if ((h->io = event_new(master.base, h->fd, EV_WRITE, check_done,
	    h)) == NULL) {
		log_warn("%s: check", h->key);
		check_stop(h);
		return;
	}
	clock_ms_to_tv(h->timeout_ms, &tv);
	event_add(h->io, &tv);
}

/* The address to check, or sslen 0 for a host name. */
static void
slot_address(struct hc_slot *h, const struct backend_conf *b)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&h->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&h->ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&h->ss;

	memset(&h->ss, 0, sizeof(h->ss));
	h->sslen = 0;
	if (b->path != NULL) {
		if (strlen(b->path) >= sizeof(sun->sun_path))
			return;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, b->path, strlen(b->path));
		h->sslen = sizeof(*sun);
	} else if (inet_pton(AF_INET, b->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)b->port);
		h->sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, b->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)b->port);
		h->sslen = sizeof(*sin6);
	}
}

/* The check as pc sets it: started, re-timed or stopped. */
static void
slot_configure(struct hc_slot *h, const struct proxy_conf *pc,
    const struct backend_conf *b)
{
	struct timeval	tv = { 0, 0 };
	int		was = h->interval_ms;

	slot_address(h, b);
	h->interval_ms = h->sslen > 0 ? pc->check_interval_ms : 0;
	h->timeout_ms = pc->check_timeout_ms;
	h->rise = pc->check_rise;
	h->fall = pc->check_fall;
	h->info.checked = h->interval_ms > 0;
	if (pc->check_interval_ms > 0 && h->sslen == 0)
		log_info("%s: not checked (a host name)", h->key);
	if (h->interval_ms == 0) {
		if (h->timer != NULL)
			evtimer_del(h->timer);
		check_stop(h);
		/* Unchecked is up: only the workers' passive health. */
		if (!h->up) {
			h->up = 1;
			pxshm_set_health((int)(h - hc), PXS_UP);
		}
		h->info.up = 1;
		return;
	}
	if (h->timer == NULL && (h->timer = evtimer_new(master.base,
	    check_start, h)) == NULL) {
		log_warn("%s: check timer", h->key);
		return;
	}
	if (was != h->interval_ms || !evtimer_pending(h->timer, NULL))
		evtimer_add(h->timer, &tv);
}

static void
mark_config(const struct config *cfg, uint8_t *mark)
{
	const struct proxy_conf	*pc;
	size_t			 i, j;

	for (i = 0; cfg != NULL && i < cfg->nlisteners; i++) {
		pc = &cfg->listeners[i].proxy;
		for (j = 0; j < pc->nbackends; j++) {
			if (pc->backends[j].hslot >= 0 &&
			    pc->backends[j].hslot < PXS_SLOTS)
				mark[pc->backends[j].hslot] = 1;
		}
	}
}

/*
 * Give back the slots nobody can use any more: not in the configurations
 * the master holds (the serving one, and the one a reload is replacing),
 * and no live worker of a generation that had them (an old generation
 * draining, an aborted one not gone yet).
 */
static void
slots_collect(void)
{
	uint8_t		 mark[PXS_SLOTS] = { 0 };
	struct child	*c;
	size_t		 i;

	mark_config(master.cfg, mark);
	mark_config(master.prev.cfg, mark);
	TAILQ_FOREACH(c, &master.children, entry) {
		for (i = 0; i < PXS_SLOTS; i++) {
			if (hc[i].used && c->generation >= hc[i].first_gen &&
			    c->generation <= hc[i].gen)
				mark[i] = 1;
		}
	}
	for (i = 0; i < PXS_SLOTS; i++) {
		if (hc[i].used && !mark[i])
			slot_release(&hc[i]);
	}
}

static int
slot_find(const char *key, size_t keylen)
{
	int	i, free_slot = -1;

	for (i = 0; i < PXS_SLOTS; i++) {
		if (hc[i].used && hc[i].keylen == keylen &&
		    memcmp(hc[i].key, key, keylen) == 0)
			return i;
		if (!hc[i].used && free_slot == -1)
			free_slot = i;
	}
	if (free_slot == -1) {
		slots_collect();
		for (i = 0; i < PXS_SLOTS && free_slot == -1; i++) {
			if (!hc[i].used)
				free_slot = i;
		}
	}
	return free_slot;
}

static int
slot_take(const struct listen_conf *l, struct backend_conf *b, uint32_t gen)
{
	struct hc_slot	*h;
	char		 key[512];
	int		 n, i;

	n = snprintf(key, sizeof(key), "proxy %s: backend %s", l->name,
	    b->name);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	if ((i = slot_find(key, (size_t)n)) == -1) {
		if (!warned_full) {
			warned_full = 1;
			log_warnx("proxy backend table: all %d slots in use; "
			    "%s goes unchecked and uncounted", PXS_SLOTS, key);
		}
		return -1;
	}
	h = &hc[i];
	if (!h->used) {
		if ((h->key = strdup(key)) == NULL) {
			log_warn("%s", key);
			return -1;
		}
		h->used = 1;
		h->keylen = (size_t)n;
		h->fd = -1;
		h->up = 1;
		h->info.up = 1;
		h->first_gen = gen;
		pxshm_slot_reset(i);
	}
	if (gen < h->first_gen)
		h->first_gen = gen;
	if (gen > h->gen)
		h->gen = gen;
	slot_configure(h, &l->proxy, b);
	return i;
}

/* A worker is gone: its counts are folded, and the slots of generations
 * nobody serves in any more are given back (their checks stop). */
static void
child_exit(void *m, const struct pf_event_arg *ev, void *arg)
{
	const struct child	*c = ev->data;

	pxshm_region_put(c->pxs_region);
	slots_collect();
}

int
healthcheck_spawn(struct config *cfg, uint32_t gen)
{
	static int		 hooked;
	struct listen_conf	*l;
	size_t			 i, j;
	int			 any = 0;

	for (i = 0; i < cfg->nlisteners; i++)
		any |= cfg->listeners[i].proxy.nbackends > 0;
	if (!any || pxshm_init() == -1)
		return -1;
	if (!hooked) {
		if (pf_on(&master.life, PF_EV_EXIT, child_exit, NULL) == -1) {
			log_warnx("proxy backend table: cannot follow the "
			    "workers; not used");
			return -1;
		}
		hooked = 1;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		for (j = 0; j < l->proxy.nbackends; j++)
			l->proxy.backends[j].hslot = slot_take(l,
			    &l->proxy.backends[j], gen);
	}
	return pxshm_region_get();
}

int
healthcheck_info(int slot, struct hc_info *out)
{
	if (slot < 0 || slot >= PXS_SLOTS || !hc[slot].used)
		return -1;
	*out = hc[slot].info;
	out->up = hc[slot].up;
	return 0;
}

void
healthcheck_free(void)
{
	size_t	i;

	/* The emitter is cleared with the master's (master_drop). */
	for (i = 0; i < PXS_SLOTS; i++) {
		if (hc[i].used)
			slot_release(&hc[i]);
	}
}
