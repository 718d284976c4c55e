/*
 * test_timer.c -- unit tests for the worker's timers (worker/timer.c) on
 * a real event loop: several timeouts fire in the order of their times
 * and never early; 0 ms means the next loop turn; an interval fires as
 * often as a window allows, does not drift when its callback is slow and
 * does not burst after a stall; a timer cleared in its own callback (both
 * kinds) or by another due in the same turn; timers set inside callbacks
 * never fire in that turn; refresh; 10,000 timers set and cleared or
 * fired; timer_free_all with live timers; the refused arguments.
 *
 * The test stands in for worker/worker.c: it makes the worker context
 * (an event base) and calls timer_set() on it.  Every wait runs the loop
 * until a condition holds or a deadline passes; nothing sleeps.  A few
 * tests spin on the clock inside a callback: that is the slow callback
 * or the stall under test, not synchronisation.
 */
#include <sys/queue.h>

#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "worker/timer.h"
#include "worker/worker.h"

#define WAIT_MS		2000		/* deadline of a wait */
#define TICK_MS		5		/* the loop wakes this often */
#define MAXFIRE		64
#define NMANY		10000

/* What a probe's callback does when it fires. */
enum {
	A_NONE,
	A_CLEAR_SELF_AT,	/* clear itself at the arg-th call */
	A_CLEAR_OTHER,		/* clear p->other (and forget it) */
	A_SPIN,			/* spin arg ms every call */
	A_STALL_2ND,		/* spin arg ms in its 2nd call only */
	A_SET_ZERO,		/* set a 0 ms timer on p->child */
	A_SET_MANY,		/* set 100 timers, clear every other one */
	A_REFRESH_UNTIL,	/* refresh itself until the arg-th call */
};

/* One timer's record: when it was set, each call's time and loop turn. */
struct probe {
	struct pf_timer	*t;
	int		 action;
	unsigned int	 arg;
	struct probe	*other;		/* A_CLEAR_OTHER */
	struct probe	*child;		/* A_SET_ZERO */
	uint64_t	 set_us;
	int		 n;
	uint64_t	 at_us[MAXFIRE];
	unsigned long	 turn[MAXFIRE];
	uint64_t	 stall_end_us;	/* A_STALL_2ND */
	uint64_t	 end_us[MAXFIRE];	/* A_SPIN: when each call ended */
	int		 order;		/* rank of its first call */
};

static struct event_base *base;
static struct event	*tick;
static struct wctx	 wx;
static unsigned long	 turn;		/* loop passes so far */
static int		 fired;		/* first calls so far, any probe */
static struct probe	 kids[100];	/* A_SET_MANY */

static uint64_t
mono_ms(void)
{
	return clock_mono_us() / 1000;
}

static void
spin_ms(unsigned int ms)
{
	uint64_t	end = clock_mono_us() + (uint64_t)ms * 1000;

	while (clock_mono_us() < end)
		;
}

static void
h_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* A pass of the loop is a turn: callbacks seen in one share its number. */
static void
run_once(void)
{
	event_base_loop(base, EVLOOP_ONCE);
	turn++;
}

static void
run_for(int ms)
{
	uint64_t	end = mono_ms() + ms;

	while (mono_ms() < end)
		run_once();
}

/* Run until *n >= want or the deadline; returns *n. */
static int
wait_count(const int *n, int want, int ms)
{
	uint64_t	end = mono_ms() + ms;

	while (*n < want && mono_ms() < end)
		run_once();
	return *n;
}

static void probe_fire(struct pf_timer *t, void *udata);

static struct pf_timer *
probe_set(struct probe *p, unsigned int ms, int repeat)
{
	p->set_us = clock_mono_us();
	p->t = timer_set(&wx, ms, repeat, probe_fire, p);
	return p->t;
}

static void
probe_fire(struct pf_timer *t, void *udata)
{
	struct probe	*p = udata;
	int		 i;

	assert_ptr_equal(t, p->t);
	if (p->n == 0)
		p->order = fired++;
	if (p->n < MAXFIRE) {
		p->at_us[p->n] = clock_mono_us();
		p->turn[p->n] = turn;
	}
	p->n++;
	switch (p->action) {
	case A_CLEAR_SELF_AT:
		if ((unsigned int)p->n == p->arg) {
			pf_clear_timer(t);
			pf_clear_timer(NULL);
		}
		break;
	case A_CLEAR_OTHER:
		if (p->other != NULL && p->other->t != NULL) {
			pf_clear_timer(p->other->t);
			p->other->t = NULL;
		}
		break;
	case A_SPIN:
		spin_ms(p->arg);
		if (p->n - 1 < MAXFIRE)
			p->end_us[p->n - 1] = clock_mono_us();
		break;
	case A_STALL_2ND:
		if (p->n == 2) {
			spin_ms(p->arg);
			p->stall_end_us = clock_mono_us();
		}
		break;
	case A_SET_ZERO:
		assert_non_null(probe_set(p->child, 0, 0));
		break;
	case A_SET_MANY:
		for (i = 0; i < 100; i++) {
			memset(&kids[i], 0, sizeof(kids[i]));
			assert_non_null(probe_set(&kids[i], (unsigned int)i % 10,
			    0));
		}
		for (i = 0; i < 100; i += 2) {
			pf_clear_timer(kids[i].t);
			kids[i].t = NULL;
		}
		break;
	case A_REFRESH_UNTIL:
		if ((unsigned int)p->n < p->arg)
			pf_timer_refresh(t);
		break;
	}
}

/* Milliseconds from when p was set to its i-th call. */
static long
probe_ms(const struct probe *p, int i)
{
	return (long)((p->at_us[i] - p->set_us) / 1000);
}

static int
setup(void **state)
{
	struct timeval	tv = { 0, TICK_MS * 1000 };

	if ((base = event_base_new()) == NULL)
		return -1;
	/* So EVLOOP_ONCE returns even when no timer is due. */
	if ((tick = event_new(base, -1, EV_PERSIST, h_tick, NULL)) == NULL ||
	    event_add(tick, &tv) == -1)
		return -1;
	wctx_init(&wx, base);
	turn = 0;
	fired = 0;
	return 0;
}

static int
teardown(void **state)
{
	timer_free_all(&wx);
	event_free(tick);
	event_base_free(base);
	return 0;
}

/* Set out of order, they fire in the order of their times, none early,
 * and each one-shot is freed after its call. */
static void
test_order(void **state)
{
	static const unsigned int ms[] = { 60, 20, 40, 0, 10 };
	struct probe	p[5];
	size_t		i;

	memset(p, 0, sizeof(p));
	for (i = 0; i < 5; i++)
		assert_non_null(probe_set(&p[i], ms[i], 0));
	assert_int_equal(wx.ntimers, 5);
	assert_int_equal(wait_count(&fired, 5, WAIT_MS), 5);
	assert_int_equal(p[3].order, 0);	/* 0 ms */
	assert_int_equal(p[4].order, 1);	/* 10 */
	assert_int_equal(p[1].order, 2);	/* 20 */
	assert_int_equal(p[2].order, 3);	/* 40 */
	assert_int_equal(p[0].order, 4);	/* 60 */
	for (i = 0; i < 5; i++) {
		assert_int_equal(p[i].n, 1);
		/* Never early. */
		assert_true(probe_ms(&p[i], 0) >= (long)ms[i]);
	}
	assert_int_equal(wx.ntimers, 0);
	assert_true(LIST_EMPTY(&wx.timers));
	run_for(30);
	for (i = 0; i < 5; i++)
		assert_int_equal(p[i].n, 1);
}

/* 0 ms: the next turn.  Set inside a callback, a timer does not fire in
 * that callback's turn, even when another timer due then fires after it. */
static void
test_next_turn(void **state)
{
	struct probe	a, b, c;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.action = A_SET_ZERO;
	a.child = &b;
	assert_non_null(probe_set(&a, 0, 0));
	assert_non_null(probe_set(&c, 0, 0));
	run_once();
	/* a and c were due on the first pass. */
	assert_int_equal(a.n, 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(a.turn[0], c.turn[0]);
	assert_int_equal(b.n, 0);
	assert_int_equal(wait_count(&b.n, 1, WAIT_MS), 1);
	assert_true(b.turn[0] > a.turn[0]);
	assert_int_equal(wx.ntimers, 0);
}

/* An interval fires every ms over a window: never more often, and close
 * to every time when the loop is free. */
static void
test_interval_count(void **state)
{
	struct probe	p;
	int		i, n;

	memset(&p, 0, sizeof(p));
	assert_non_null(probe_set(&p, 20, 1));
	run_for(500);
	n = p.n;
	print_message("interval 20 ms over 500 ms: %d calls\n", n);
	assert_true(n <= 25);
	/* Fewer only when the machine is too busy to run the loop. */
	assert_true(n >= 12);
	/* The i-th call is planned at (i + 1) * 20 ms. */
	for (i = 0; i < n && i < MAXFIRE; i++)
		assert_true(probe_ms(&p, i) >= (i + 1) * 20);
	assert_int_equal(wx.ntimers, 1);
	pf_clear_timer(p.t);
	assert_int_equal(wx.ntimers, 0);
	run_for(50);
	assert_int_equal(p.n, n);
}

/*
 * A callback that takes 8 of every 20 ms.  Planned from when each call
 * was due, the next call comes about 12 ms after a call ends; planned from
 * the end of each call, never sooner than 20 ms after it (timers are
 * never early).  So the shortest gap between a call's end and the next
 * call's start tells the two apart, however late a loaded machine makes
 * some of the calls: one call on time is enough.
 */
static void
test_interval_no_drift(void **state)
{
	struct probe	p;
	uint64_t	start, gap, min_gap = UINT64_MAX;
	int		i, n;

	memset(&p, 0, sizeof(p));
	p.action = A_SPIN;
	p.arg = 8;
	assert_non_null(probe_set(&p, 20, 1));
	assert_int_equal(wait_count(&p.n, 1, WAIT_MS), 1);
	start = p.at_us[0];
	while (clock_mono_us() < start + 400 * 1000)
		run_once();
	n = p.n < MAXFIRE ? p.n : MAXFIRE;
	for (i = 0; i + 1 < n; i++) {
		gap = p.at_us[i + 1] - p.end_us[i];
		if (gap < min_gap)
			min_gap = gap;
	}
	print_message("interval 20 ms, 8 ms callback, 400 ms: %d calls, "
	    "shortest gap after a call %llu us\n", p.n - 1,
	    (unsigned long long)min_gap);
	assert_true(n >= 5);
	assert_true(p.n - 1 <= 20);
	assert_true(min_gap < 18 * 1000);
	pf_clear_timer(p.t);
}

/* A 150 ms stall in a 30 ms interval: one late call, then 30 ms again --
 * not the four calls missed in a burst. */
static void
test_interval_stall(void **state)
{
	struct probe	p;
	int		i, soon = 0;

	memset(&p, 0, sizeof(p));
	p.action = A_STALL_2ND;
	p.arg = 150;
	assert_non_null(probe_set(&p, 30, 1));
	assert_int_equal(wait_count(&p.n, 5, WAIT_MS), 5);
	for (i = 2; i < p.n; i++)
		if (p.at_us[i] < p.stall_end_us + 15 * 1000)
			soon++;
	print_message("after the stall: %d call(s) within 15 ms, then %ld ms "
	    "to the next\n", soon, (long)(p.at_us[3] - p.at_us[2]) / 1000);
	assert_true(soon <= 1);
	assert_true(p.at_us[3] - p.at_us[2] >= 25 * 1000);
	pf_clear_timer(p.t);
}

/* Cleared in its own callback: a one-shot (a no-op then, it is freed
 * anyway) and an interval at its third call. */
static void
test_clear_self(void **state)
{
	struct probe	o, i;

	memset(&o, 0, sizeof(o));
	memset(&i, 0, sizeof(i));
	o.action = i.action = A_CLEAR_SELF_AT;
	o.arg = 1;
	i.arg = 3;
	assert_non_null(probe_set(&o, 5, 0));
	assert_non_null(probe_set(&i, 5, 1));
	assert_int_equal(wait_count(&i.n, 3, WAIT_MS), 3);
	assert_int_equal(o.n, 1);
	assert_int_equal(wx.ntimers, 0);
	run_for(50);
	assert_int_equal(i.n, 3);
	assert_int_equal(o.n, 1);
}

/*
 * Two timers due in the same turn, each clearing the other: the first to
 * run clears the second, which must not fire (their order within the turn
 * is libevent's).  Both are made due before the loop runs again by
 * spinning well past their time.
 */
static void
clear_other(int repeat)
{
	struct probe	a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.action = b.action = A_CLEAR_OTHER;
	a.other = &b;
	b.other = &a;
	assert_non_null(probe_set(&a, 10, repeat));
	assert_non_null(probe_set(&b, 10, repeat));
	spin_ms(30);	/* 10 ms, a clock tick of slack, and margin */
	run_once();
	assert_int_equal(a.n + b.n, 1);
	assert_int_equal(wx.ntimers, repeat ? 1 : 0);
	run_for(50);
	if (repeat) {
		/* The survivor goes on; the other never fired. */
		assert_true((a.n > 1 && b.n == 0) || (b.n > 1 && a.n == 0));
		pf_clear_timer(a.n > 0 ? a.t : b.t);
	} else
		assert_int_equal(a.n + b.n, 1);
	assert_int_equal(wx.ntimers, 0);
}

static void
test_clear_other_timeout(void **state)
{
	clear_other(0);
}

static void
test_clear_other_interval(void **state)
{
	clear_other(1);
}

/* A callback sets 100 timers and clears half: the other 50 fire, each in
 * a later turn than the callback's. */
static void
test_set_inside(void **state)
{
	struct probe	p;
	int		i;

	memset(&p, 0, sizeof(p));
	p.action = A_SET_MANY;
	assert_non_null(probe_set(&p, 0, 0));
	assert_int_equal(wait_count(&fired, 51, WAIT_MS), 51);
	run_for(30);
	for (i = 0; i < 100; i++) {
		if (i % 2 == 0) {
			assert_int_equal(kids[i].n, 0);
			continue;
		}
		assert_int_equal(kids[i].n, 1);
		assert_true(kids[i].turn[0] > p.turn[0]);
	}
	assert_int_equal(fired, 51);
	assert_int_equal(wx.ntimers, 0);
}

/* Refreshed by another timer, a timeout counts again from then; refreshed
 * in its own callback, it fires again (three calls here), then is freed. */
static void
test_refresh(void **state)
{
	struct probe	p, r, self;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	memset(&self, 0, sizeof(self));
	assert_non_null(probe_set(&p, 60, 0));
	assert_non_null(probe_set(&r, 30, 0));
	assert_int_equal(wait_count(&r.n, 1, WAIT_MS), 1);
	assert_int_equal(p.n, 0);
	pf_timer_refresh(p.t);
	assert_int_equal(wait_count(&p.n, 1, WAIT_MS), 1);
	/* 60 ms from the refresh, itself at least 30 after the set. */
	assert_true((long)((p.at_us[0] - r.at_us[0]) / 1000) >= 60);
	assert_true(probe_ms(&p, 0) >= 90);

	self.action = A_REFRESH_UNTIL;
	self.arg = 3;
	assert_non_null(probe_set(&self, 5, 0));
	assert_int_equal(wait_count(&self.n, 3, WAIT_MS), 3);
	assert_int_equal(wx.ntimers, 0);
	run_for(30);
	assert_int_equal(self.n, 3);
	pf_timer_refresh(NULL);
}

/* 10,000 timers set and cleared (timeouts and intervals, cleared in a
 * scattered order), then 10,000 short ones left to fire: nothing left,
 * nothing leaked (ASan, valgrind). */
static void
test_many(void **state)
{
	static struct pf_timer	*t[NMANY];
	static struct probe	 p[NMANY];
	size_t			 i;
	int			 total;

	memset(p, 0, sizeof(p));
	for (i = 0; i < NMANY; i++) {
		t[i] = timer_set(&wx, 1000 + (unsigned int)(i * 7919) % 60000,
		    i % 2, probe_fire, &p[i]);
		assert_non_null(t[i]);
	}
	assert_int_equal(wx.ntimers, NMANY);
	for (i = 0; i < NMANY; i++)
		pf_clear_timer(t[(i * 7) % NMANY]);	/* 7 is prime to 10,000 */
	assert_int_equal(wx.ntimers, 0);
	for (i = 0; i < NMANY; i++)
		assert_non_null(probe_set(&p[i], (unsigned int)i % 20, 0));
	assert_int_equal(wx.ntimers, NMANY);
	assert_int_equal(wait_count(&fired, NMANY, 5 * WAIT_MS), NMANY);
	for (i = 0, total = 0; i < NMANY; i++)
		total += p[i].n;
	assert_int_equal(total, NMANY);
	assert_int_equal(wx.ntimers, 0);
}

/* The worker stops with timers set: all freed, none called. */
static void
test_free_all(void **state)
{
	struct probe	p[10];
	int		i;

	memset(p, 0, sizeof(p));
	for (i = 0; i < 10; i++)
		assert_non_null(probe_set(&p[i], (unsigned int)i * 5, i % 2));
	spin_ms(2);	/* the 0 ms one is due */
	assert_int_equal(wx.ntimers, 10);
	timer_free_all(&wx);
	assert_int_equal(wx.ntimers, 0);
	assert_true(LIST_EMPTY(&wx.timers));
	run_for(60);
	for (i = 0; i < 10; i++)
		assert_int_equal(p[i].n, 0);
	timer_free_all(&wx);	/* on none: fine */
}

/* Refused: no callback, no loop.  An interval of 0 runs at 1 ms, and
 * outside a worker the public calls fail with EINVAL. */
static void
test_args(void **state)
{
	struct wctx	none;
	struct probe	p;

	memset(&p, 0, sizeof(p));
	errno = 0;
	assert_null(timer_set(&wx, 10, 0, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	wctx_init(&none, NULL);
	errno = 0;
	assert_null(timer_set(&none, 10, 0, probe_fire, &p));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(pf_set_timeout(10, probe_fire, &p));
	assert_int_equal(errno, EINVAL);
	assert_null(pf_set_interval(10, probe_fire, &p));
	pf_clear_timer(NULL);
	assert_int_equal(wx.ntimers, 0);

	assert_non_null(probe_set(&p, 0, 1));
	assert_int_equal(wait_count(&p.n, 5, WAIT_MS), 5);
	assert_true(p.at_us[4] - p.set_us >= 5 * 1000);
	pf_clear_timer(p.t);
	assert_int_equal(wx.ntimers, 0);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order),
		T(test_next_turn),
		T(test_interval_count),
		T(test_interval_no_drift),
		T(test_interval_stall),
		T(test_clear_self),
		T(test_clear_other_timeout),
		T(test_clear_other_interval),
		T(test_set_inside),
		T(test_refresh),
		T(test_many),
		T(test_free_all),
		T(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
