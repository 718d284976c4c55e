/*
 * test_workers.c -- integration tests of where and how many workers run:
 * cpu_affinity read back from the kernel (sched_getaffinity of each
 * worker) for "auto" and a list, after a respawn and a reload; a CPU the
 * machine lacks refused by -t and by a reload with file:line.  And "preforkctl workers
 * N/+N/-N" under continuous connect + echo load: no client hurt, the
 * reply only once the new count is ready, refusals (range, busy, a
 * failed start), and a reload back to the file's count.
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
 * the kernel; the same after a worker is killed and respawned, after a
 * reload (a new generation) and for 3 workers set at run time.
 */
static void
test_affinity_auto(void **state)
{
	struct daemon	 d = { 0 };
	pid_t		 pids[3], again[3];
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

	/* A count changed at run time: slot 2 wraps around the CPUs. */
	assert_int_equal(h_ctl(d.sock, NULL, "workers", "3", (char *)NULL), 0);
	json = status_when_ready(d.sock, 3, NULL);
	assert_int_equal(h_json_num(json, NULL, "generation"), 3);
	assert_pinned(json, 3, nth_allowed_cpu, again);
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
	char		*json, *out = NULL, conf[512];
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
	/* A reload to a CPU the machine lacks fails with file:line, and the
	 * pinned workers serve on. */
	snprintf(conf, sizeof(conf), "workers = 3;\nadmin_socket = \"%s\";\n"
	    "cpu_affinity = [ 999 ];\n" ECHO_LISTENER, d.sock, p);
	assert_int_equal(h_write_file(d.conf, conf), 0);
	assert_int_equal(h_ctl(d.sock, &out, "reload", (char *)NULL), 1);
	snprintf(conf, sizeof(conf), "%s:3: cpu_affinity: CPU 999", d.conf);
	assert_non_null(strstr(out, conf));
	free(out);
	json = status_when_ready(d.sock, 3, NULL);
	assert_int_equal(h_json_num(json, NULL, "generation"), 1);
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

/* The failinit echo module: fail_if makes new workers fail to start,
 * slow_if holds them in their start (a pending transaction). */
struct wt {
	struct daemon	d;
	char		flag[160];
	char		slow[160];
};

static int
count_str(const char *s, const char *needle)
{
	int	n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* status --json, which must be answered. */
static char *
status_json(struct wt *t)
{
	char	*json = NULL;

	assert_int_equal(h_ctl(t->d.sock, &json, "status", "--json",
	    (char *)NULL), 0);
	return json;
}

/*
 * preforkctl workers arg: exit 0 and the reply names n workers; at once
 * (no waiting) status says n slots, all with a ready worker, overridden.
 */
static void
resize_ok(struct wt *t, const char *arg, int n)
{
	char	*out = NULL, want[32], *json;
	long	 t0 = h_now_ms();
	int	 rc;

	rc = h_ctl(t->d.sock, &out, "workers", arg, (char *)NULL);
	snprintf(want, sizeof(want), "%d worker%s", n, n == 1 ? "" : "s");
	if (rc != 0 || out == NULL || strstr(out, want) == NULL)
		print_error("workers %s: %d: %s\n", arg, rc, out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, want));
	out[strcspn(out, "\n")] = '\0';
	print_message("workers %s: %s (%ld ms)\n", arg, out, h_now_ms() - t0);
	free(out);
	json = status_json(t);
	assert_int_equal(h_json_num(json, NULL, "worker_count"), n);
	assert_non_null(strstr(json, "\"workers_override\":true"));
	assert_int_equal(count_str(json, "\"state\":\"ready\""), n);
	free(json);
}

/* preforkctl workers arg: exit 1 with why in the reply; the count stays
 * n. */
static void
resize_refused(struct wt *t, const char *arg, const char *why, int n)
{
	char	*out = NULL, *json;
	int	 rc;

	rc = h_ctl(t->d.sock, &out, "workers", arg, (char *)NULL);
	if (rc != 1 || out == NULL || strstr(out, why) == NULL)
		print_error("workers %s: %d: %s\n", arg, rc, out);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, why));
	free(out);
	json = status_json(t);
	assert_int_equal(h_json_num(json, NULL, "worker_count"), n);
	free(json);
}

/* preforkctl args... in a child: its exit status is 0 if it exited 0
 * and its output holds want, else 3. */
static pid_t
ctl_async(struct wt *t, const char *want, const char *a, const char *b)
{
	pid_t	 pid = fork();
	char	*out = NULL;
	int	 rc;

	assert_true(pid != -1);
	if (pid == 0) {
		rc = h_ctl(t->d.sock, &out, a, b, (char *)NULL);
		if (rc == 0 && out != NULL && strstr(out, want) != NULL)
			_exit(0);
		fprintf(stderr, "%s %s: %d: %s\n", a, b != NULL ? b : "", rc,
		    out != NULL ? out : "(no output)");
		_exit(3);
	}
	return pid;
}

static void
async_done(pid_t pid)
{
	int	st = h_wait_exit(pid, 3 * H_TIMEOUT_MS);

	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * Under 24 clients of continuous connect + echo load: 2 (the file) -> 4
 * -> 1 -> +1 -> +1 -> -1 -> +1 at run time, each replied only once the
 * new count is ready and accepting; refusals leave the count alone; a
 * count whose workers fail to start fails and the old ones serve on;
 * while one change is pending another, or a reload, is refused, and a
 * reload pending refuses a change; a reload goes back to the file's 2.
 * Not one client refused, reset, cut or corrupted.
 */
static void
test_workers_under_load(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct wt		 t;
	char			*json, *out = NULL;
	pid_t			 ctl;
	int			 p = h_free_port(4), gen;

	memset(&t, 0, sizeof(t));
	assert_int_equal(h_daemon_init(&t.d, NULL), 0);
	snprintf(t.flag, sizeof(t.flag), "%s/fail", t.d.dir);
	snprintf(t.slow, sizeof(t.slow), "%s/slow", t.d.dir);
	assert_int_equal(h_daemon_startf(&t.d,
	    "workers = 2;\nheartbeat_interval = 0.1;\n"
	    "shutdown_timeout = 30;\nmax_old_generations = 30;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"failinit\"; path = \"%s\";\n"
	    "    settings = { fail_if = \"%s\"; slow_if = \"%s\"; }; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"failinit\"; backlog = 1024; });\n",
	    t.d.sock, FAILINIT_MODULE, t.flag, t.slow, p), 0);
	json = status_json(&t);
	assert_int_equal(h_json_num(json, NULL, "worker_count"), 2);
	assert_non_null(strstr(json, "\"workers_override\":false"));
	free(json);

	load_start(&l, p, 24);
	load_wait_accepts(t.d.sock, 20);
	resize_ok(&t, "4", 4);
	load_wait_accepts(t.d.sock, 20);
	resize_ok(&t, "1", 1);
	load_wait_accepts(t.d.sock, 20);
	resize_ok(&t, "+1", 2);
	load_wait_accepts(t.d.sock, 20);
	resize_ok(&t, "+1", 3);
	resize_ok(&t, "-1", 2);
	resize_ok(&t, "+1", 3);
	load_wait_accepts(t.d.sock, 20);

	/* Out of range, or not a count: the count stays. */
	resize_refused(&t, "0", "out of range, must be 1 to 1024", 3);
	resize_refused(&t, "1025", "out of range", 3);
	resize_refused(&t, "-3", "0 is out of range", 3);
	resize_refused(&t, "x", "not a count", 3);
	resize_refused(&t, "+", "not a count", 3);

	/* New workers that fail to start: the change fails, the 3 serve. */
	assert_int_equal(h_write_file(t.flag, "x"), 0);
	resize_refused(&t, "5", "failed to start", 3);
	assert_int_equal(unlink(t.flag), 0);
	json = status_json(&t);
	assert_int_equal(count_str(json, "\"state\":\"ready\""), 3);
	gen = (int)h_json_num(json, NULL, "generation");
	free(json);

	/* A change pending (its workers held in their start): another one
	 * and a reload are refused; it completes once they are let go. */
	assert_int_equal(h_write_file(t.slow, "x"), 0);
	ctl = ctl_async(&t, "4 workers", "workers", "4");
	assert_int_equal(h_wait_log_count(&t.d, ": starting 4 workers", 2,
	    H_TIMEOUT_MS), 0);
	/* (status shows the count being started, as it shows the
	 * generation being started during a reload) */
	resize_refused(&t, "5", "busy: worker count change in progress", 4);
	assert_int_equal(h_ctl(t.d.sock, &out, "reload", (char *)NULL), 1);
	assert_non_null(strstr(out, "in progress"));
	free(out);
	out = NULL;
	assert_int_equal(unlink(t.slow), 0);
	async_done(ctl);

	/* A reload pending: a change is refused.  The reload then goes back
	 * to the file's count. */
	assert_int_equal(h_write_file(t.slow, "x"), 0);
	ctl = ctl_async(&t, "generation", "reload", NULL);
	assert_int_equal(h_wait_log(&t.d, "reload (admin): reading",
	    H_TIMEOUT_MS), 0);
	resize_refused(&t, "1", "busy: reload in progress", 2);
	assert_int_equal(unlink(t.slow), 0);
	async_done(ctl);
	json = status_json(&t);
	assert_int_equal(h_json_num(json, NULL, "worker_count"), 2);
	assert_non_null(strstr(json, "\"workers_override\":false"));
	assert_int_equal(count_str(json, "\"state\":\"ready\""), 2);
	assert_true(h_json_num(json, NULL, "generation") >= gen + 2);
	free(json);
	/* A count change is not a reload. */
	json = status_json(&t);
	assert_int_equal(h_json_num(json, "since_start", "reloads"), 1);
	assert_int_equal(h_json_num(json, "since_start", "reload_failures"),
	    0);
	free(json);

	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "workers 4, 1, +1, +1, -1, +1, refusals, reload");
	load_assert_clean(&res, 2000);
	assert_int_equal(res.refused, 0);
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/* The status text says where the count comes from. */
static void
test_workers_status_text(void **state)
{
	struct daemon	 d = { 0 };
	char		*out = NULL;
	int		 p = h_free_port(4);

	assert_int_equal(h_daemon_startf(&d, "workers = 1;\n"
	    "admin_socket = \"%s\";\n" ECHO_LISTENER, d.sock, p), 0);
	assert_int_equal(h_ctl(d.sock, &out, "status", (char *)NULL), 0);
	assert_non_null(strstr(out, "\nworkers: 1\n"));
	free(out);
	out = NULL;
	assert_int_equal(h_ctl(d.sock, NULL, "workers", "2", (char *)NULL), 0);
	assert_int_equal(h_ctl(d.sock, &out, "status", (char *)NULL), 0);
	assert_non_null(strstr(out, "workers: 2, set at run time (the file "
	    "says 1"));
	free(out);
	out = NULL;
	/* The same count again: nothing to do, said so. */
	assert_int_equal(h_ctl(d.sock, &out, "workers", "2", (char *)NULL), 0);
	assert_non_null(strstr(out, "2 workers already"));
	free(out);
	assert_int_equal(h_echo_once("127.0.0.1", p, "hi\n"), 0);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_affinity_auto),
		cmocka_unit_test(test_affinity_list),
		cmocka_unit_test(test_affinity_bad_cpu),
		cmocka_unit_test(test_workers_under_load),
		cmocka_unit_test(test_workers_status_text),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("PF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
