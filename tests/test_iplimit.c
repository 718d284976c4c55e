/*
 * test_iplimit.c -- unit tests for the per-address connection table
 * (common/iplimit.c): counts shared across regions and given back, a
 * corrupt "hi" in shared memory that must not make a reader leave the
 * table, and each worker's view of the table being read-only but for its
 * own region.
 *
 * The test process plays the master; every worker is a forked child (a
 * worker's iplimit_use() changes its own view of the mapping for good),
 * which reports by its exit status.  The file under test is included, so
 * that the test can reach the shared layout to corrupt and to poke it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/iplimit.c"

/* A child's exit statuses: 0 is success, these say what went wrong. */
#define X_USE		10
#define X_ACQUIRE	11
#define X_REFUSE	12
#define X_WROTE		13	/* survived a write that must fault */

static struct sockaddr_in	client;

struct job {
	int	region;		/* iplimit_use() this */
	int	(*fn)(const struct job *);
	int	arg;		/* region to poke, or a count */
};

/* Run j in a worker (a child); returns its wait status. */
static int
run_worker(const struct job *j)
{
	pid_t	pid;
	int	st;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		alarm(10);
		if (iplimit_use(j->region) == -1)
			_exit(X_USE);
		_exit(j->fn(j));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
expect_exit(int st, int code)
{
	if (WIFSIGNALED(st))
		fail_msg("worker killed by signal %d, want exit %d",
		    WTERMSIG(st), code);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), code);
}

static void
expect_segv(int st)
{
	if (WIFEXITED(st))
		fail_msg("worker exited %d, want SIGSEGV", WEXITSTATUS(st));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
}

/* Workers. */

/* Take arg counts of client (left counted when the worker exits). */
static int
w_take(const struct job *j)
{
	struct ipl_ref	ref;
	int		i;

	for (i = 0; i < j->arg; i++)
		if (iplimit_acquire((struct sockaddr *)&client, 1000,
		    &ref) != 0)
			return X_ACQUIRE;
	return 0;
}

/* With arg counts of client elsewhere: limit arg refuses, arg + 1 lets
 * one in, and giving it back lets the next one in again. */
static int
w_limit(const struct job *j)
{
	struct ipl_ref	ref, ref2;
	unsigned int	n = (unsigned int)j->arg;

	if (iplimit_acquire((struct sockaddr *)&client, n, &ref) != -1)
		return X_REFUSE;
	if (iplimit_acquire((struct sockaddr *)&client, n + 1, &ref) != 0)
		return X_ACQUIRE;
	if (iplimit_acquire((struct sockaddr *)&client, n + 1, &ref2) != -1)
		return X_REFUSE;
	iplimit_release(&ref);
	if (iplimit_acquire((struct sockaddr *)&client, n + 1, &ref2) != 0)
		return X_ACQUIRE;
	iplimit_release(&ref2);
	return 0;
}

/* Write a counter of region arg (-1: the header). */
static int
w_poke(const struct job *j)
{
	volatile uint16_t	*p;

	/* Die of the fault itself, whatever a sanitizer would do. */
	signal(SIGSEGV, SIG_DFL);
	if (j->arg == -1)
		*(volatile uint32_t *)&hdr->hi = 7;
	else {
		p = &region_at((uint32_t)j->arg)->row[0][0];
		*p = (uint16_t)(*p + 1);
		*p = (uint16_t)(*p - 1);
	}
	return X_WROTE;
}

/* Fixtures. */

static int
group_setup(void **state)
{
	client.sin_family = AF_INET;
	client.sin_port = htons(40000);
	client.sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1 */
	return iplimit_init();
}

/* Every region back (zeroed), the header as the master left it. */
static int
teardown(void **state)
{
	int	r;

	for (r = 0; r < IPL_REGIONS; r++)
		if (used[r])
			iplimit_region_put(r);
	hdr->hi = hi;
	return 0;
}

/* Tests. */

static void
test_counts_shared_and_given_back(void **state)
{
	struct job	j;
	int		r0, r1;

	assert_int_equal(r0 = iplimit_region_get(), 0);
	assert_int_equal(r1 = iplimit_region_get(), 1);
	assert_int_equal(hdr->hi, 2);

	/* Two counts in r0 (a worker that then died), the limit in r1. */
	j = (struct job){ r0, w_take, 2 };
	expect_exit(run_worker(&j), 0);
	j = (struct job){ r1, w_limit, 2 };
	expect_exit(run_worker(&j), 0);

	/* r0 given back: its counts go with it. */
	iplimit_region_put(r0);
	j = (struct job){ r1, w_limit, 0 };
	expect_exit(run_worker(&j), 0);
	/* And the region is handed out again, zeroed. */
	assert_int_equal(iplimit_region_get(), r0);
	assert_int_equal(region_at((uint32_t)r0)->row[0][0], 0);
	assert_int_equal(hdr->hi, 2);
}

static void
test_corrupt_hi_clamped(void **state)
{
	static const uint32_t	 bad[] = { IPL_REGIONS + 1, 1u << 20,
	    UINT32_MAX };
	struct job		 j;
	size_t			 i;
	int			 r0, r1;

	r0 = iplimit_region_get();
	r1 = iplimit_region_get();
	j = (struct job){ r0, w_take, 1 };
	expect_exit(run_worker(&j), 0);

	/*
	 * However large hi says the table is, a reader stays inside it
	 * (else it reads past the mapping: SIGSEGV, or ASan), and still
	 * counts every region in it.
	 */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hdr->hi = bad[i];
		j = (struct job){ r1, w_limit, 1 };
		expect_exit(run_worker(&j), 0);
	}
	hdr->hi = hi;
	/* The master never believes it either: it keeps its own. */
	hdr->hi = 0;
	assert_int_equal(iplimit_region_get(), 2);
	assert_int_equal(hdr->hi, 3);
}

static void
test_other_regions_read_only(void **state)
{
	struct job	j;
	int		r0, r1;

	r0 = iplimit_region_get();
	r1 = iplimit_region_get();

	/* Its own region: writable. */
	j = (struct job){ r1, w_poke, r1 };
	expect_exit(run_worker(&j), X_WROTE);
	/* Another worker's, one nobody has, the header: a fault. */
	j = (struct job){ r1, w_poke, r0 };
	expect_segv(run_worker(&j));
	j = (struct job){ r1, w_poke, IPL_REGIONS - 1 };
	expect_segv(run_worker(&j));
	j = (struct job){ r1, w_poke, -1 };
	expect_segv(run_worker(&j));
	/* A worker without a region writes nowhere. */
	j = (struct job){ -1, w_poke, r1 };
	expect_segv(run_worker(&j));
	/* And counts nothing, refuses nothing. */
	j = (struct job){ -1, w_take, 3 };
	expect_exit(run_worker(&j), 0);
	assert_int_equal(region_at((uint32_t)r1)->row[0][0], 0);

	/* The master still writes everywhere (put zeroes). */
	iplimit_region_put(r0);
	iplimit_region_put(r1);
}

#define T(f)	cmocka_unit_test_teardown(f, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_counts_shared_and_given_back),
		T(test_corrupt_hi_clamped),
		T(test_other_regions_read_only),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
