/*
 * test_workers.c -- integration tests of where and how many workers run:
 * cpu_affinity read back from the kernel (sched_getaffinity of each
 * worker) for "auto" and a list, after a respawn and a reload; a CPU the
 * machine lacks refused by -t with file:line.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tests/load.h"

#define ECHO_LISTENER	"listeners = ({ address = \"127.0.0.1\"; port = %d; " \
			"service = \"echo\"; backlog = 1024; });\n"

/* The n-th CPU this process may run on (the daemon inherits the mask),
 * modulo their number: what "auto" gives slot n. */
static int
nth_allowed_cpu(int n)
{
	cpu_set_t	set;
	int		cpu, k;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	k = n % CPU_COUNT(&set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set) && k-- == 0)
			return cpu;
	}
	fail();
	return -1;
}

/* The kernel's word: the only CPU pid may run on, or -1. */
static int
pinned_to(pid_t pid)
{
	cpu_set_t	set;
	int		cpu;

	if (sched_getaffinity(pid, sizeof(set), &set) == -1 ||
	    CPU_COUNT(&set) != 1)
		return -1;
	for (cpu = 0; !CPU_ISSET(cpu, &set); cpu++)
		;
	return cpu;
}

/* A field of slot's row in status --json (the rows of the serving
 * generation come first, one per slot, in order). */
static long long
slot_num(const char *json, int slot, const char *key)
{
	char	after[32];

	snprintf(after, sizeof(after), "{\"slot\":%d,", slot);
	return h_json_num(json, after, key);
}

static int
slot_ready(const char *json, int slot)
{
	char	after[32];
	const char *p;

	snprintf(after, sizeof(after), "{\"slot\":%d,", slot);
	return (p = strstr(json, after)) != NULL &&
	    strncmp(strstr(p, "\"state\":"), "\"state\":\"ready\"", 15) == 0;
}

/* status --json once slots 0..n-1 all have a ready worker whose pid is
 * not in old[0..n) (NULL: any); bounded. */
static char *
status_when_ready(const char *sock, int n, const pid_t *old)
{
	long	 deadline = h_now_ms() + H_TIMEOUT_MS;
	char	*json;
	int	 i, j;

	for (;;) {
		json = NULL;
		if (h_ctl(sock, &json, "status", "--json", (char *)NULL) == 0) {
			for (i = 0; i < n && slot_ready(json, i); i++) {
				for (j = 0; old != NULL && j < n &&
				    slot_num(json, i, "pid") != old[j]; j++)
					;
				if (old != NULL && j < n)
					break;
			}
			if (i == n)
				return json;
		}
		free(json);
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
}

/* Every slot's worker is pinned to want(slot), by the kernel's account
 * and by status --json's; their pids into pids. */
static void
assert_pinned(const char *json, int n, int (*want)(int), pid_t *pids)
{
	int	i;

	for (i = 0; i < n; i++) {
		pids[i] = (pid_t)slot_num(json, i, "pid");
		assert_true(pids[i] > 0);
		assert_int_equal(pinned_to(pids[i]), want(i));
		assert_int_equal(slot_num(json, i, "cpu"), want(i));
	}
}

static int
cpu_one(int slot)
{
	return 1;
}

/*
 * "auto" with 2 workers: slot i on the i-th allowed CPU, read back from
 * the kernel; the same after a worker is killed and respawned, and after
 * a reload (a new generation).
 */
static void
test_affinity_auto(void **state)
{
	struct daemon	 d = { 0 };
	pid_t		 pids[2], again[2];
	char		*json;
	int		 p = h_free_port(4);

	assert_int_equal(h_daemon_startf(&d, "workers = 2;\n"
	    "cpu_affinity = \"auto\";\nadmin_socket = \"%s\";\n"
	    ECHO_LISTENER, d.sock, p), 0);
	json = status_when_ready(d.sock, 2, NULL);
	assert_pinned(json, 2, nth_allowed_cpu, pids);
	free(json);
	print_message("auto: worker 0 (pid %ld) on CPU %d, worker 1 (pid %ld) "
	    "on CPU %d\n", (long)pids[0], pinned_to(pids[0]), (long)pids[1],
	    pinned_to(pids[1]));

	/* Respawned: the same CPU for the same slot. */
	assert_int_equal(kill(pids[1], SIGKILL), 0);
	json = status_when_ready(d.sock, 2, (pid_t[]){ pids[1], pids[1] });
	assert_pinned(json, 2, nth_allowed_cpu, again);
	assert_int_equal(again[0], pids[0]);
	free(json);

	/* A new generation: again. */
	assert_int_equal(h_ctl(d.sock, NULL, "reload", (char *)NULL), 0);
	json = status_when_ready(d.sock, 2, again);
	assert_int_equal(h_json_num(json, NULL, "generation"), 2);
	assert_pinned(json, 2, nth_allowed_cpu, pids);
	free(json);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* A list [ 1 ]: every worker on CPU 1.  Without cpu_affinity: none
 * pinned, "cpu": -1. */
static void
test_affinity_list(void **state)
{
	struct daemon	 d = { 0 };
	cpu_set_t	 set;
	pid_t		 pids[3];
	char		*json;
	int		 p = h_free_port(4), i;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	if (!CPU_ISSET(1, &set)) {
		print_message("CPU 1 is not available here; skipped\n");
		skip();
	}
	assert_int_equal(h_daemon_startf(&d, "workers = 3;\n"
	    "cpu_affinity = [ 1 ];\nadmin_socket = \"%s\";\n" ECHO_LISTENER,
	    d.sock, p), 0);
	json = status_when_ready(d.sock, 3, NULL);
	assert_pinned(json, 3, cpu_one, pids);
	free(json);
	assert_int_equal(h_daemon_stop(&d), 0);

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\n"
	    "admin_socket = \"%s\";\n" ECHO_LISTENER, d.sock, p), 0);
	json = status_when_ready(d.sock, 2, NULL);
	for (i = 0; i < 2; i++)
		assert_int_equal(slot_num(json, i, "cpu"), -1);
	free(json);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* A CPU the machine lacks: preforkd -t says where, and exits 1. */
static void
test_affinity_bad_cpu(void **state)
{
	struct daemon	 d;
	char		*log, want[256];
	int		 st;

	assert_int_equal(h_daemon_init(&d, "workers = 2;\n"
	    "listeners = ({ port = 7; service = \"echo\"; });\n"
	    "cpu_affinity = [ 0, 999 ];\n"), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-t", "-c", d.conf, (char *)NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_non_null(log = h_read_file(d.log));
	snprintf(want, sizeof(want), "%s:3: cpu_affinity: CPU 999 is not "
	    "available", d.conf);
	if (strstr(log, want) == NULL)
		print_error("want \"%s\" in:\n%s\n", want, log);
	assert_non_null(strstr(log, want));
	free(log);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_affinity_auto),
		cmocka_unit_test(test_affinity_list),
		cmocka_unit_test(test_affinity_bad_cpu),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("PF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
