/*
 * test_balance.c -- unit tests for backend choice (common/balance.c): the
 * shares of smooth weighted round robin (exact, and spread out), leastconn
 * (fewest per weight, ties in turn), source hashing (stable per key,
 * shares near the weights, only a down backend's keys move, and back when
 * it returns), passive health (down after fail_max failures in a row, for
 * down_ms, skipped by every algorithm, all-down still picks), and the
 * retry walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/balance.h"

static const char *const names[] = { "10.0.0.1:80", "10.0.0.2:80",
	"10.0.0.3:80", "/run/d.sock" };

static struct balance *
mk(enum balance_kind kind, size_t n, const int *w, unsigned int fail_max)
{
	struct balance	*b = balance_new(kind, n, w, names, fail_max, 1000);

	assert_non_null(b);
	return b;
}

static void
test_new_args(void **state)
{
	int	w[] = { 1, 0 }, big[] = { 257 };

	(void)state;
	assert_null(balance_new(BAL_ROUNDROBIN, 0, w, names, 0, 0));
	assert_null(balance_new(BAL_ROUNDROBIN, 2, w, names, 0, 0));
	assert_null(balance_new(BAL_ROUNDROBIN, 1, big, names, 0, 0));
	balance_free(NULL);
}

static void
test_rr_weights(void **state)
{
	int		 w[] = { 1, 3 }, n[2] = { 0, 0 }, i, run = 0, maxrun = 0;
	int		 last = -1;
	struct balance	*b = mk(BAL_ROUNDROBIN, 2, w, 0);

	(void)state;
	for (i = 0; i < 400; i++) {
		int	p = balance_pick(b, NULL, 0, 0);

		assert_true(p == 0 || p == 1);
		n[p]++;
		run = p == last ? run + 1 : 1;
		last = p;
		if (run > maxrun)
			maxrun = run;
	}
	assert_int_equal(n[0], 100);
	assert_int_equal(n[1], 300);
	/* Smooth: 1 b b b 1 b b b..., never a long burst of one. */
	assert_true(maxrun <= 3);
	balance_free(b);
}

static void
test_rr_equal(void **state)
{
	int		 w[] = { 1, 1, 1 }, i;
	struct balance	*b = mk(BAL_ROUNDROBIN, 3, w, 0);

	(void)state;
	for (i = 0; i < 30; i++)
		assert_int_equal(balance_pick(b, NULL, 0, 0), i % 3);
	balance_free(b);
}

static void
test_rr_skips_down(void **state)
{
	int		 w[] = { 1, 1, 1 }, i, p;
	struct balance	*b = mk(BAL_ROUNDROBIN, 3, w, 2);

	(void)state;
	assert_int_equal(balance_fail(b, 1, 100), 0);
	assert_true(balance_is_up(b, 1, 100));
	balance_ok(b, 1);	/* a success resets the count */
	assert_int_equal(balance_fail(b, 1, 100), 0);
	assert_int_equal(balance_fail(b, 1, 100), 1);
	assert_int_equal(balance_ndown(b), 1);
	assert_false(balance_is_up(b, 1, 500));
	for (i = 0; i < 20; i++) {
		p = balance_pick(b, NULL, 0, 500);
		assert_true(p == 0 || p == 2);
	}
	/* Due back after down_ms: picked again. */
	for (i = 0, p = 0; i < 3; i++)
		p |= balance_pick(b, NULL, 0, 1100) == 1;
	assert_true(p);
	assert_int_equal(balance_ndown(b), 0);
	/* Its failures in a row still count: one more takes it down. */
	assert_int_equal(balance_fail(b, 1, 1200), 1);
	balance_free(b);
}

static void
test_all_down(void **state)
{
	int		 w[] = { 1, 1 }, seen[2] = { 0, 0 }, i;
	struct balance	*b = mk(BAL_ROUNDROBIN, 2, w, 1);

	(void)state;
	assert_int_equal(balance_fail(b, 0, 0), 1);
	assert_int_equal(balance_fail(b, 1, 0), 1);
	for (i = 0; i < 4; i++)
		seen[balance_pick(b, NULL, 0, 10)]++;
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[1], 2);
	balance_free(b);
}

static void
test_leastconn(void **state)
{
	int		 w[] = { 1, 2, 1 }, n[3] = { 0, 0, 0 }, i, p;
	struct balance	*b = mk(BAL_LEASTCONN, 3, w, 1);

	(void)state;
	/* Long connections: shares by weight. */
	for (i = 0; i < 40; i++) {
		p = balance_pick(b, NULL, 0, 0);
		balance_begin(b, p);
		n[p]++;
	}
	assert_int_equal(n[0], 10);
	assert_int_equal(n[1], 20);
	assert_int_equal(n[2], 10);
	/* Closing on one makes it the choice until it catches up. */
	for (i = 0; i < 5; i++)
		balance_end(b, 2);
	for (i = 0; i < 5; i++) {
		p = balance_pick(b, NULL, 0, 0);
		assert_int_equal(p, 2);
		balance_begin(b, p);
	}
	assert_int_equal(balance_active(b, 2), 10);
	balance_free(b);
}

static void
test_leastconn_ties_and_down(void **state)
{
	int		 w[] = { 1, 1, 1 }, i, p;
	struct balance	*b = mk(BAL_LEASTCONN, 3, w, 1);

	(void)state;
	/* Short connections: all tie at 0, so they take turns. */
	for (i = 0; i < 9; i++) {
		p = balance_pick(b, NULL, 0, 0);
		assert_int_equal(p, i % 3);
		balance_begin(b, p);
		balance_end(b, p);
	}
	assert_int_equal(balance_fail(b, 0, 0), 1);
	for (i = 0; i < 9; i++) {
		p = balance_pick(b, NULL, 0, 10);
		assert_true(p == 1 || p == 2);
	}
	balance_free(b);
}

static void
key_of(int i, unsigned char k[4])
{
	k[0] = 10;
	k[1] = (unsigned char)(i >> 16);
	k[2] = (unsigned char)(i >> 8);
	k[3] = (unsigned char)i;
}

#define NKEYS	4000

static void
test_source(void **state)
{
	static int	 before[NKEYS];
	int		 w[] = { 1, 3, 2, 2 }, n[4] = { 0, 0, 0, 0 }, i, moved;
	unsigned char	 k[4];
	struct balance	*b = mk(BAL_SOURCE, 4, w, 1);
	struct balance	*b2 = mk(BAL_SOURCE, 4, w, 1);

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		key_of(i, k);
		before[i] = balance_pick(b, k, sizeof(k), 0);
		n[before[i]]++;
		/* The same key again, and in another worker: the same. */
		assert_int_equal(balance_pick(b, k, sizeof(k), 0), before[i]);
		assert_int_equal(balance_pick(b2, k, sizeof(k), 0), before[i]);
	}
	/* Shares near 1:3:2:2 of NKEYS (500, 1500, 1000, 1000), +-20%. */
	assert_in_range(n[0], 400, 600);
	assert_in_range(n[1], 1200, 1800);
	assert_in_range(n[2], 800, 1200);
	assert_in_range(n[3], 800, 1200);
	/* Backend 1 down: its keys move, and only they. */
	assert_int_equal(balance_fail(b, 1, 0), 1);
	for (i = 0, moved = 0; i < NKEYS; i++) {
		key_of(i, k);
		int	p = balance_pick(b, k, sizeof(k), 10);

		assert_int_not_equal(p, 1);
		if (before[i] != 1)
			assert_int_equal(p, before[i]);
		else
			moved++;
	}
	assert_int_equal(moved, n[1]);
	/* Back up: every key where it was. */
	balance_ok(b, 1);
	for (i = 0; i < NKEYS; i++) {
		key_of(i, k);
		assert_int_equal(balance_pick(b, k, sizeof(k), 20), before[i]);
	}
	assert_int_equal(balance_pick(b, NULL, 0, 0),
	    balance_pick(b2, NULL, 0, 0));
	balance_free(b);
	balance_free(b2);
}

static void
test_next(void **state)
{
	int		 w[] = { 1, 1, 1, 1 };
	struct balance	*b = mk(BAL_ROUNDROBIN, 4, w, 1);

	(void)state;
	assert_int_equal(balance_next(b, 2, 2, 0), 3);
	assert_int_equal(balance_next(b, 2, 3, 0), 0);
	assert_int_equal(balance_next(b, 2, 0, 0), 1);
	assert_int_equal(balance_next(b, 2, 1, 0), -1);
	/* A down one is passed over while an up one is left... */
	assert_int_equal(balance_fail(b, 3, 0), 1);
	assert_int_equal(balance_next(b, 2, 2, 10), 0);
	/* ...and taken when none is. */
	assert_int_equal(balance_fail(b, 0, 0), 1);
	assert_int_equal(balance_fail(b, 1, 0), 1);
	assert_int_equal(balance_next(b, 2, 2, 10), 3);
	assert_int_equal(balance_next(b, 7, 2, 10), -1);
	balance_free(b);

	b = mk(BAL_ROUNDROBIN, 1, w, 1);
	assert_int_equal(balance_next(b, 0, 0, 0), -1);
	balance_free(b);
}

/* The checks' byte: down (not 0) skips a backend in every kind of
 * balancing and in retries, on top of passive health; all down, all are
 * tried; back to 0, it is chosen again. */
static void
test_checked(void **state)
{
	int		 w[] = { 1, 1, 1 };
	uint8_t		 st[3] = { 0, 0, 0 };
	uint32_t	 good[3] = { 0, 0, 0 };
	enum balance_kind kinds[] = { BAL_ROUNDROBIN, BAL_LEASTCONN,
			    BAL_SOURCE };
	struct balance	*b;
	size_t		 k;
	int		 i, seen[3];

	(void)state;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		b = mk(kinds[k], 3, w, 3);
		for (i = 0; i < 3; i++)
			balance_set_check(b, i, &st[i], &good[i]);
		balance_set_check(b, 7, &st[0], NULL);	/* out of range */
		st[1] = 1;
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 60; i++) {
			char	key[4] = { (char)i, 1, 2, 3 };

			seen[balance_pick(b, key, sizeof(key), 0)]++;
		}
		assert_int_equal(seen[1], 0);
		assert_true(seen[0] > 0 && seen[2] > 0);
		assert_int_equal(balance_is_up(b, 1, 0), 0);
		assert_int_equal(balance_next(b, 0, 0, 0), 2);
		/* Passive health still counts: 2 failing is down too. */
		for (i = 0; i < 3; i++)
			balance_fail(b, 2, 0);
		for (i = 0; i < 10; i++)
			assert_int_equal(balance_pick(b, NULL, 0, 10), 0);
		/* All down: all are tried. */
		st[0] = 1;
		i = balance_pick(b, NULL, 0, 10);
		assert_true(i >= 0 && i < 3);
		/* Up again by the checks. */
		st[0] = st[1] = 0;
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 60; i++) {
			char	key[4] = { (char)i, 9, 8, 7 };

			seen[balance_pick(b, key, sizeof(key), 10)]++;
		}
		assert_true(seen[0] > 0 && seen[1] > 0);
		assert_int_equal(seen[2], 0);
		/* A check passing ends 2's passive down before its time. */
		assert_int_equal(balance_is_up(b, 2, 20), 0);
		good[2]++;
		assert_int_equal(balance_is_up(b, 2, 20), 1);
		assert_int_equal(balance_ndown(b), 0);
		balance_free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_args),
		cmocka_unit_test(test_rr_weights),
		cmocka_unit_test(test_rr_equal),
		cmocka_unit_test(test_rr_skips_down),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_leastconn),
		cmocka_unit_test(test_leastconn_ties_and_down),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
