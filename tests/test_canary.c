/*
 * test_canary.c -- canary reloads under continuous connect + echo load:
 * a healthy canary serves beside the old generation for its trial (a
 * listener new in the file waits for the commit), then every worker
 * rolls; a canary that crashes, or whose heartbeat stops, fails the reload
 * with the reason while the old generation serves on untouched.  Not one
 * client refused, reset, cut or corrupted in any of them.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <poll.h>
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

#ifndef FAILINIT_MODULE
#error FAILINIT_MODULE must name tests/modules/failinit.so
#endif

struct ct {
	struct daemon	d;
	char		flag[192];	/* failinit's crash_if */
	int		port, port2;
	pid_t		old[2];
};

/* The file: 2 workers of failinit (an echo), canary seconds (0: none),
 * with a second listener if port2. */
static void
ct_write(struct ct *t, const char *canary, int port2)
{
	char	conf[2048], second[256] = "";

	if (port2 > 0)
		snprintf(second, sizeof(second), ",\n{ address = \"127.0.0.1\"; "
		    "port = %d; service = \"echo\"; }", port2);
	snprintf(conf, sizeof(conf),
	    "workers = 2;\nheartbeat_interval = 0.2;\nworker_timeout = 5;\n"
	    "shutdown_timeout = 30;\nreload_canary = %s;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"failinit\"; path = \"%s\";\n"
	    "    settings = { crash_if = \"%s\"; }; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"failinit\"; backlog = 1024; }%s);\n",
	    canary, t->d.sock, FAILINIT_MODULE, t->flag, t->port, second);
	assert_int_equal(h_write_file(t->d.conf, conf), 0);
}

static void
ct_start(struct ct *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(h_daemon_init(&t->d, NULL), 0);
	snprintf(t->flag, sizeof(t->flag), "%s/crash", t->d.dir);
	t->port = h_free_port(4);
	ct_write(t, "0", 0);
	assert_int_equal(h_daemon_start(&t->d, 2, "127.0.0.1", t->port), 0);
	assert_int_equal(h_children(t->d.pid, t->old, 2), 2);
}

/* The canary's pid, from "canary worker 0 (pid N)" in the log. */
static pid_t
canary_pid(struct ct *t)
{
	char	*log, *p;
	pid_t	 pid = 0;

	assert_int_equal(h_wait_log(&t->d, "trial of", H_TIMEOUT_MS), 0);
	log = h_read_file(t->d.log);
	assert_non_null(log);
	if ((p = strstr(log, "canary worker 0 (pid ")) != NULL)
		pid = (pid_t)atol(p + strlen("canary worker 0 (pid "));
	free(log);
	assert_true(pid > 0);
	return pid;
}

static char *
status(struct ct *t, const char *json)
{
	char	*out = NULL;

	assert_int_equal(h_ctl(t->d.sock, &out, "status", json, (char *)NULL),
	    0);
	return out;
}

/* "preforkctl reload [--canary N]" in a child: exits 0 if the reply was
 * rc and holds want. */
static pid_t
reload_async(struct ct *t, int rc, const char *want, const char *canary)
{
	pid_t	 pid = fork();
	char	*out = NULL;
	int	 got;

	assert_true(pid != -1);
	if (pid == 0) {
		got = canary != NULL ? h_ctl(t->d.sock, &out, "reload",
		    "--canary", canary, (char *)NULL) : h_ctl(t->d.sock, &out,
		    "reload", (char *)NULL);
		if (got == rc && out != NULL && strstr(out, want) != NULL)
			_exit(0);
		fprintf(stderr, "reload: %d: %s\n", got, out != NULL ? out :
		    "(no output)");
		_exit(3);
	}
	return pid;
}

static void
reload_done(pid_t pid)
{
	int	st = h_wait_exit(pid, 3 * H_TIMEOUT_MS);

	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
assert_old_serving(struct ct *t)
{
	pid_t	now[4];
	char	*json;

	assert_int_equal(h_children(t->d.pid, now, 4), 2);
	assert_true((now[0] == t->old[0] && now[1] == t->old[1]) ||
	    (now[0] == t->old[1] && now[1] == t->old[0]));
	json = status(t, "--json");
	assert_int_equal(h_json_num(json, NULL, "generation"), 1);
	assert_non_null(strstr(json, "\"phase\":\"serving\""));
	assert_non_null(strstr(json, "\"ok\":false"));
	free(json);
}

/*
 * A healthy canary: alone of its generation, it accepts beside the two
 * old workers for its 1.5 s trial (status says so; the listener new in
 * the file refuses until the commit); then the other new worker starts,
 * the reload reports, the old workers drain and the canary serves on.
 */
static void
test_canary_rolls(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct ct		 t;
	char			*out;
	long			 t0, deadline;
	pid_t			 canary, ctl, now[4];
	int			 fd;

	ct_start(&t);
	load_start(&l, t.port, 16);
	load_wait_accepts(t.d.sock, 20);
	t.port2 = h_free_port(4);
	ct_write(&t, "1.5", t.port2);
	t0 = h_now_ms();
	ctl = reload_async(&t, 0, "generation 2", NULL);
	canary = canary_pid(&t);

	out = status(&t, NULL);
	assert_non_null(strstr(out, "phase: reload canary: worker 0 of "
	    "generation 2 on trial, "));
	free(out);
	/* The new listener does not listen before the commit. */
	assert_int_equal(h_connect("127.0.0.1", t.port2, H_TIMEOUT_MS), -1);
	/* The canary takes clients, and only it of its generation runs. */
	deadline = h_now_ms() + H_TIMEOUT_MS;
	for (;;) {
		out = status(&t, "--json");
		if (h_json_num(out, "{\"slot\":0,", "accepts") > 0)
			break;
		free(out);
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
	assert_int_equal(h_json_num(out, "{\"slot\":0,", "pid"), canary);
	free(out);
	assert_int_equal(h_children(t.d.pid, now, 4), 3);
	assert_true(h_pid_alive(t.old[0]) && h_pid_alive(t.old[1]));

	reload_done(ctl);
	assert_true(h_now_ms() - t0 >= 1500);
	assert_int_equal(h_log_count(&t.d, "the canary passed its 1500 ms "
	    "trial"), 1);
	assert_int_equal(h_echo_once("127.0.0.1", t.port2, "new\n"), 0);
	assert_int_equal(h_wait_gone(t.old, 2, H_TIMEOUT_MS), 0);
	assert_true(h_pid_alive(canary));
	out = status(&t, "--json");
	assert_int_equal(h_json_num(out, "{\"slot\":0,", "pid"), canary);
	assert_non_null(strstr(out, "\"phase\":\"serving\""));
	free(out);
	fd = h_connect("127.0.0.1", t.port2, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "x", 1, H_TIMEOUT_MS), 0);
	close(fd);

	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "canary reload");
	load_assert_clean(&res, 500);
	assert_int_equal(res.refused, 0);
	/* No worker ever tried to accept on a socket that did not listen. */
	assert_int_equal(h_log_count(&t.d, "pausing"), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * A canary that crashes a second into its trial (failinit's crash_if,
 * at a moment it has no client): the reload fails, saying so; the old
 * generation's two workers are the ones serving, untouched.  The next
 * reload, with the cause gone, rolls.
 */
static void
test_canary_crash(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct ct		 t;
	char			*out = NULL;

	ct_start(&t);
	load_start(&l, t.port, 8);
	load_wait_accepts(t.d.sock, 20);
	assert_int_equal(h_write_file(t.flag, "x"), 0);
	assert_int_equal(h_ctl(t.d.sock, &out, "reload", "--canary", "30",
	    (char *)NULL), 1);
	assert_non_null(strstr(out, "the canary worker (pid "));
	assert_non_null(strstr(out, "kept the old generation"));
	free(out);
	out = NULL;
	assert_int_equal(h_log_count(&t.d, "failinit: crashing once idle"), 1);
	assert_int_equal(h_log_count(&t.d, "killed by signal 6"), 1);
	assert_old_serving(&t);
	load_wait_accepts(t.d.sock, 20);

	assert_int_equal(unlink(t.flag), 0);
	reload_done(reload_async(&t, 0, "generation", "0"));
	assert_int_equal(h_wait_gone(t.old, 2, H_TIMEOUT_MS), 0);
	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "canary crash, then a reload");
	load_assert_clean(&res, 300);
	assert_int_equal(res.refused, 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * A canary that stops answering (SIGSTOP): its heartbeat is late, the
 * reload fails with that reason, and the canary is told to drain, not
 * killed -- once it runs again it finishes its clients and exits.
 */
static void
test_canary_stalled(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct ct		 t;
	pid_t			 canary, ctl;

	ct_start(&t);
	load_start(&l, t.port, 16);
	load_wait_accepts(t.d.sock, 20);
	ctl = reload_async(&t, 1, "heartbeat was late", "30");
	canary = canary_pid(&t);
	assert_int_equal(kill(canary, SIGSTOP), 0);
	reload_done(ctl);
	assert_int_equal(kill(canary, SIGCONT), 0);
	assert_int_equal(h_wait_gone(&canary, 1, H_TIMEOUT_MS), 0);
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_log_count(&t.d, "killed by signal"), 0);
	assert_old_serving(&t);
	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "stalled canary");
	load_assert_clean(&res, 300);
	assert_int_equal(res.refused, 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_rolls),
		cmocka_unit_test(test_canary_crash),
		cmocka_unit_test(test_canary_stalled),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
