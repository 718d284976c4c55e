/*
 * test_totals.c -- unit tests for server/totals.c: folding exited
 * workers' last reports per slot, a slot's value never going down across
 * a worker's exit, the gauge not folded, events, bad slots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/totals.h"

static struct ctl_stats
st(uint64_t active, uint64_t total, uint64_t bytes)
{
	struct ctl_stats	s;

	memset(&s, 0, sizeof(s));
	s.conns_active = active;
	s.conns_total = total;
	s.accepts = total + 1;
	s.bytes_in = bytes;
	s.bytes_out = bytes * 2;
	s.errors = total / 2;
	s.drops = 1;
	return s;
}

static struct totals *
new_totals(void)
{
	struct totals	*t = malloc(sizeof(*t));

	assert_non_null(t);
	totals_init(t);
	return t;
}

/* Live value = folded + live; the fold of a worker's last report keeps
 * the slot's value where it was, and its successor adds to it. */
static void
test_fold_monotonic(void **state)
{
	struct totals		*t = new_totals();
	struct ctl_stats	 live, out, before;

	(void)state;
	assert_false(totals_used(t, 3));
	live = st(2, 10, 100);
	assert_int_equal(totals_slot(t, 3, &live, &out), 0);
	assert_int_equal(out.conns_total, 10);
	assert_int_equal(out.conns_active, 2);
	before = out;

	/* The worker exits: its last report folded, no live worker. */
	live = st(0, 12, 130);
	assert_int_equal(totals_fold(t, 3, &live), 0);
	assert_true(totals_used(t, 3));
	assert_int_equal(totals_slot(t, 3, NULL, &out), 0);
	assert_int_equal(out.conns_total, 12);
	assert_true(out.conns_total >= before.conns_total);
	assert_int_equal(out.accepts, 13);
	assert_int_equal(out.bytes_in, 130);
	assert_int_equal(out.bytes_out, 260);
	assert_int_equal(out.errors, 6);
	assert_int_equal(out.drops, 1);
	assert_int_equal(out.conns_active, 0);

	/* Its successor starts from zero: the slot goes on from 12. */
	live = st(1, 0, 0);
	assert_int_equal(totals_slot(t, 3, &live, &out), 0);
	assert_int_equal(out.conns_total, 12);
	assert_int_equal(out.conns_active, 1);
	live = st(1, 5, 7);
	assert_int_equal(totals_slot(t, 3, &live, &out), 0);
	assert_int_equal(out.conns_total, 17);
	assert_int_equal(out.bytes_in, 137);
	assert_int_equal(out.drops, 2);

	/* Other slots are untouched. */
	assert_int_equal(totals_slot(t, 2, NULL, &out), 0);
	assert_int_equal(out.conns_total, 0);
	assert_false(totals_used(t, 2));
	free(t);
}

/* The gauge of an exited worker is not folded, whatever it said. */
static void
test_gauge_not_folded(void **state)
{
	struct totals		*t = new_totals();
	struct ctl_stats	 last = st(9, 20, 0), out;

	(void)state;
	assert_int_equal(totals_fold(t, 0, &last), 0);
	assert_int_equal(totals_fold(t, 0, &last), 0);
	assert_int_equal(totals_slot(t, 0, NULL, &out), 0);
	assert_int_equal(out.conns_active, 0);
	assert_int_equal(out.conns_total, 40);
	free(t);
}

static void
test_events(void **state)
{
	struct totals	*t = new_totals();
	int		 i;

	(void)state;
	for (i = 0; i < TOTALS_EVENT_MAX; i++)
		assert_int_equal(totals_events(t, (enum totals_event)i), 0);
	totals_event(t, TOTALS_RELOAD_OK);
	totals_event(t, TOTALS_RELOAD_OK);
	totals_event(t, TOTALS_RELOAD_FAILED);
	totals_event(t, TOTALS_RESPAWN);
	totals_event(t, TOTALS_BACKOFF);
	totals_event(t, TOTALS_BACKOFF);
	totals_event(t, TOTALS_BACKOFF);
	totals_event(t, TOTALS_RECYCLE);
	totals_event(t, TOTALS_HUNG_KILLED);
	assert_int_equal(totals_events(t, TOTALS_RELOAD_OK), 2);
	assert_int_equal(totals_events(t, TOTALS_RELOAD_FAILED), 1);
	assert_int_equal(totals_events(t, TOTALS_RESPAWN), 1);
	assert_int_equal(totals_events(t, TOTALS_BACKOFF), 3);
	assert_int_equal(totals_events(t, TOTALS_RECYCLE), 1);
	assert_int_equal(totals_events(t, TOTALS_HUNG_KILLED), 1);
	/* Out of range: ignored, reads 0. */
	totals_event(t, TOTALS_EVENT_MAX);
	totals_event(t, (enum totals_event)-1);
	assert_int_equal(totals_events(t, TOTALS_EVENT_MAX), 0);
	assert_int_equal(totals_events(t, (enum totals_event)-1), 0);
	free(t);
}

static void
test_bad_slot(void **state)
{
	struct totals		*t = new_totals();
	struct ctl_stats	 s = st(1, 1, 1), out;

	(void)state;
	assert_int_equal(totals_fold(t, -1, &s), -1);
	assert_int_equal(totals_fold(t, TOTALS_SLOTS, &s), -1);
	assert_int_equal(totals_fold(t, 0, NULL), -1);
	assert_int_equal(totals_slot(t, -1, &s, &out), -1);
	assert_int_equal(totals_slot(t, TOTALS_SLOTS, &s, &out), -1);
	assert_false(totals_used(t, -1));
	assert_false(totals_used(t, TOTALS_SLOTS));
	assert_false(totals_used(t, 0));
	/* The last slot works. */
	assert_int_equal(totals_fold(t, TOTALS_SLOTS - 1, &s), 0);
	assert_true(totals_used(t, TOTALS_SLOTS - 1));
	free(t);
}

/* Many exits in one slot: the sum is exact. */
static void
test_many_exits(void **state)
{
	struct totals		*t = new_totals();
	struct ctl_stats	 s, out, prev;
	int			 i;

	(void)state;
	memset(&prev, 0, sizeof(prev));
	for (i = 1; i <= 1000; i++) {
		s = st(0, (uint64_t)i, 3);
		assert_int_equal(totals_fold(t, 7, &s), 0);
		assert_int_equal(totals_slot(t, 7, NULL, &out), 0);
		assert_true(out.conns_total > prev.conns_total);
		assert_true(out.bytes_in > prev.bytes_in);
		prev = out;
	}
	assert_int_equal(out.conns_total, 1000 * 1001 / 2);
	assert_int_equal(out.bytes_in, 3000);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_monotonic),
		cmocka_unit_test(test_gauge_not_folded),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_bad_slot),
		cmocka_unit_test(test_many_exits),
	};

	return cmocka_run_group_tests_name("totals", tests, NULL, NULL);
}
