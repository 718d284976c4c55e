/*
 * timer.c -- a worker's timers, for services: the timer objects, their
 * firing, clearing and refreshing, and freeing those left when the worker
 * stops.  pf_set_timeout and pf_set_interval, which need the worker's
 * context, are in worker.c; the semantics are documented in preforkd.h.
 *
 * Each timer embeds its libevent event (no allocation per firing) and is
 * on its worker's list, so none outlives the worker.
 *
 * libevent reads CLOCK_MONOTONIC_COARSE, which lags the real time by up
 * to its resolution (4 ms on a 250 Hz kernel): a 60 ms timer armed with a
 * plain 60 ms fired after 56 ms by CLOCK_MONOTONIC.  So a timer keeps its
 * planned time in exact microseconds and is armed for the time left plus
 * that resolution, and a call libevent makes before that time anyway
 * (the coarse clock can lag more on a tickless CPU) only arms it again:
 * it never fires early, and is late by at most about a tick.  An interval is re-armed as it fires, before its callback, from
 * the time it was planned (no drift) -- or from now when that time has
 * already passed (after a stall: one late call, no burst).  libevent's own
 * EV_PERSIST has the same rule but plans in the coarse time, so it too
 * fires early.  The cost is a vDSO clock read per arming and per call.
 *
 * Freeing a timer from inside its own callback would pull the struct
 * from under the code that called it: a running timer is only marked and
 * disarmed, and freed when the callback returns.  Any other timer is
 * freed at once; event_del() also takes it off libevent's active queue,
 * so one due in the same turn does not fire.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "worker/timer.h"

#define T_REPEAT	0x01
#define T_RUNNING	0x02	/* in its callback */
#define T_CLEARED	0x04	/* cleared in its callback: free after */

struct pf_timer {
	struct event		 ev;
	LIST_ENTRY(pf_timer)	 entry;
	struct wctx		*w;
	pf_timer_fn		 fn;
	void			*udata;
	uint64_t		 due_us;	/* planned, clock_mono_us() */
	unsigned int		 ms;
	unsigned int		 flags;
};

/* How far libevent's clock may lag ours, in microseconds: the coarse
 * clock's resolution, read once (a constant of the running kernel). */
static long	slack_us = -1;

static void
timer_free(struct pf_timer *t)
{
	event_del(&t->ev);
	LIST_REMOVE(t, entry);
	t->w->ntimers--;
	free(t);
}

/*
 * Arm for t->due_us.  libevent counts from the time it cached when the
 * loop woke; a callback that has run for a while would get a timer that
 * fires early by that much, so the cache is brought up to date first.
 * 0 ms means the next turn: no slack there.
 */
static int
timer_arm(struct pf_timer *t)
{
	struct timeval	tv = { 0, 0 };
	struct timespec	res;

	if (slack_us == -1) {
		slack_us = 1000;
		if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 &&
		    res.tv_sec == 0)
			slack_us = res.tv_nsec / 1000;
	}
	if (t->ms > 0) {
		uint64_t	now = clock_mono_us(), left;

		left = (t->due_us > now ? t->due_us - now : 0) +
		    (uint64_t)slack_us;
		tv.tv_sec = (time_t)(left / 1000000);
		tv.tv_usec = (suseconds_t)(left % 1000000);
	}
	(void)event_base_update_cache_time(t->w->base);
	return event_add(&t->ev, &tv);
}

static void
timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct pf_timer	*t = arg;
	uint64_t	 now = clock_mono_us();

	/* libevent's coarse clock may lag more than its resolution (a
	 * tickless CPU updates it late): then it calls us early.  Not a
	 * call: armed again for what is left. */
	if (t->ms > 0 && now < t->due_us) {
		(void)timer_arm(t);
		return;
	}
	/* Re-armed first, so the callback may refresh or clear it. */
	if (t->flags & T_REPEAT) {
		uint64_t	period = (uint64_t)t->ms * 1000;

		t->due_us += period;
		if (t->due_us <= now)
			t->due_us = now + period;
		(void)timer_arm(t);
	}
	t->flags |= T_RUNNING;
	t->fn(t, t->udata);
	t->flags &= ~T_RUNNING;
	/* A one-shot is pending again only if its callback refreshed it. */
	if ((t->flags & T_CLEARED) || (!(t->flags & T_REPEAT) &&
	    !event_pending(&t->ev, EV_TIMEOUT, NULL)))
		timer_free(t);
}

struct pf_timer *
timer_set(struct wctx *w, unsigned int ms, int repeat, pf_timer_fn fn,
    void *udata)
{
	struct pf_timer	*t;

	if (fn == NULL || w == NULL || w->base == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	/* Every turn, as a busy loop, is not what an interval is for. */
	if (repeat && ms == 0)
		ms = 1;
	t->w = w;
	t->fn = fn;
	t->udata = udata;
	t->ms = ms;
	t->flags = repeat ? T_REPEAT : 0;
	t->due_us = clock_mono_us() + (uint64_t)ms * 1000;
	if (evtimer_assign(&t->ev, w->base, timer_fire, t) == -1)
		goto err;
	if (timer_arm(t) == -1)
		goto err;
	LIST_INSERT_HEAD(&w->timers, t, entry);
	w->ntimers++;
	return t;
err:
	free(t);
	errno = ENOMEM;		/* libevent's only failure here */
	return NULL;
}

void
pf_clear_timer(struct pf_timer *t)
{
	if (t == NULL)
		return;
	if (t->flags & T_RUNNING) {
		t->flags |= T_CLEARED;
		event_del(&t->ev);
		return;
	}
	timer_free(t);
}

void
pf_timer_refresh(struct pf_timer *t)
{
	/* A timer cleared in its callback stays cleared. */
	if (t == NULL || (t->flags & T_CLEARED))
		return;
	event_del(&t->ev);
	t->due_us = clock_mono_us() + (uint64_t)t->ms * 1000;
	(void)timer_arm(t);
}

void
timer_free_all(struct wctx *w)
{
	struct pf_timer	*t, *next;

	for (t = LIST_FIRST(&w->timers); t != NULL; t = next) {
		next = LIST_NEXT(t, entry);
		event_del(&t->ev);
		free(t);
	}
	LIST_INIT(&w->timers);
	w->ntimers = 0;
}
