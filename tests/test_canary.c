/*
 * test_canary.c -- canary reloads under continuous connect + echo load,
 * on a reuseport listener: a healthy canary serves beside the old
 * generation for its trial (a listener new in the file waits for the
 * commit, the socket set grows), then every worker rolls.  A canary that
 * crashes or whose heartbeat stops, or an old worker that dies during the
 * trial, fails the reload with the reason while the old generation serves
 * on; a canary left draining by a failed reload is not taken for the
 * next one's; a stop during the trial drains both generations.  Not one
 * client reset, cut or corrupted in any of them, and none refused before
 * a stop.
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

#define CANARY_SAYS	"canary worker 0 (pid "

struct ct {
	struct daemon	d;
	char		flag[192];	/* failinit's crash_if */
	int		port, port2;
	pid_t		old[2];
	const char	*timing;	/* heartbeat_interval, worker_timeout */
};

/* The file: n workers of failinit (an echo) on a reuseport listener,
 * canary seconds (0: none), a second listener if port2. */
static void
ct_write(struct ct *t, int n, const char *canary, int port2)
{
	char	conf[2048], second[256] = "";

	if (port2 > 0)
		snprintf(second, sizeof(second), ",\n{ address = \"127.0.0.1\"; "
		    "port = %d; service = \"echo\"; }", port2);
	snprintf(conf, sizeof(conf),
	    "workers = %d;\n%s"
	    "shutdown_timeout = 30;\nreload_canary = %s;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"failinit\"; path = \"%s\";\n"
	    "    settings = { crash_if = \"%s\"; }; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"failinit\"; backlog = 1024; reuseport = true; }"
	    "%s);\n", n, t->timing, canary, t->d.sock, FAILINIT_MODULE, t->flag, t->port,
	    second);
	assert_int_equal(h_write_file(t->d.conf, conf), 0);
}

static void
ct_start_timed(struct ct *t, const char *timing)
{
	memset(t, 0, sizeof(*t));
	t->timing = timing;
	assert_int_equal(h_daemon_init(&t->d, NULL), 0);
	snprintf(t->flag, sizeof(t->flag), "%s/crash", t->d.dir);
	t->port = h_free_port(4);
	ct_write(t, 2, "0", 0);
	assert_int_equal(h_daemon_start(&t->d, 2, "127.0.0.1", t->port), 0);
	assert_int_equal(h_children(t->d.pid, t->old, 2), 2);
}

static void
ct_start(struct ct *t)
{
	ct_start_timed(t, "heartbeat_interval = 0.2;\nworker_timeout = 5;\n");
}

static char *
status(struct ct *t, const char *json)
{
	char	*out = NULL;
	int	 rc;

	rc = h_ctl(t->d.sock, &out, "status", json, (char *)NULL);
	assert_int_equal(rc, 0);
	assert_non_null(out);
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

/* The pid of the n-th canary (from 1), once its trial began: from
 * "canary worker 0 (pid N)" in the log. */
static pid_t
canary_pid(struct ct *t, int n)
{
	char	*log, *p;
	pid_t	 pid = 0;

	assert_int_equal(h_wait_log_count(&t->d, "trial of", n, H_TIMEOUT_MS),
	    0);
	log = h_read_file(t->d.log);
	assert_non_null(log);
	for (p = log - 1; n-- > 0 && p != NULL;)
		p = strstr(p + 1, CANARY_SAYS);
	if (p != NULL)
		pid = (pid_t)atol(p + strlen(CANARY_SAYS));
	free(log);
	assert_true(pid > 0);
	return pid;
}

struct took {
	struct ct	*t;
	pid_t		 canary;
};

static int
canary_took(void *arg)
{
	struct took	*k = arg;
	char		*json = status(k->t, "--json");
	int		 ok;

	ok = h_json_num(json, "{\"slot\":0,", "pid") == k->canary &&
	    h_json_num(json, "{\"slot\":0,", "accepts") > 0;
	free(json);
	return ok;
}

/* Until the canary (slot 0 of the generation on trial) took clients. */
static void
wait_canary_accepts(struct ct *t, pid_t canary)
{
	struct took	k = { t, canary };

	assert_int_equal(h_wait_for(canary_took, &k, H_TIMEOUT_MS), 0);
}

/* No worker ever tried to accept on a socket that did not listen. */
static void
assert_no_accept_errors(struct ct *t)
{
	assert_int_equal(h_log_count(&t->d, "accept on "), 0);
	assert_int_equal(h_log_count(&t->d, "Invalid argument"), 0);
}

/*
 * A healthy canary, growing 2 workers to 3: alone of its generation, it
 * accepts beside the two old workers for its 1.5 s trial (status says
 * so; the listener new in the file refuses until the commit); then the
 * other new workers start, the reload reports, the old workers drain and
 * the canary serves on.
 */
static void
test_canary_rolls(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct ct		 t;
	char			*out;
	long			 t0;
	pid_t			 canary, ctl, now[4];
	int			 fd;

	ct_start(&t);
	load_start(&l, t.port, 16);
	load_wait_accepts(t.d.sock, 20);
	t.port2 = h_free_port(4);
	ct_write(&t, 3, "1.5", t.port2);
	t0 = h_now_ms();
	ctl = reload_async(&t, 0, "generation 2", NULL);
	canary = canary_pid(&t, 1);

	out = status(&t, NULL);
	assert_non_null(strstr(out, "phase: reload canary: worker 0 of "
	    "generation 2 on trial, "));
	free(out);
	/* The new listener does not listen before the commit. */
	assert_int_equal(h_connect("127.0.0.1", t.port2, H_TIMEOUT_MS), -1);
	/* The canary takes clients, and only it of its generation runs. */
	wait_canary_accepts(&t, canary);
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
	assert_int_equal(h_json_num(out, NULL, "worker_count"), 3);
	assert_non_null(strstr(out, "\"phase\":\"serving\""));
	free(out);
	fd = h_connect("127.0.0.1", t.port2, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "x", 1, H_TIMEOUT_MS), 0);
	close(fd);

	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "canary reload, 2 -> 3 workers");
	load_assert_clean(&res, 500);
	assert_int_equal(res.refused, 0);
	assert_no_accept_errors(&t);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * A canary that crashes a second after its first client (failinit's
 * crash_if, at a moment it has no client): the reload fails, saying so;
 * the old generation's two workers are the ones serving, untouched.  The
 * next reload, with the cause gone, rolls.
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
	assert_no_accept_errors(&t);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * A canary that stops answering (SIGSTOP) once it has clients: its
 * heartbeat is late, the reload fails with that reason, and it is told to
 * drain, not killed.  While it is still stopped, a new canary reload
 * starts; the old canary then runs again, finishes its clients and exits
 * during the new trial -- which is not the new canary's death: that
 * reload rolls.
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
	canary = canary_pid(&t, 1);
	wait_canary_accepts(&t, canary);
	assert_int_equal(kill(canary, SIGSTOP), 0);
	reload_done(ctl);
	assert_true(h_pid_alive(canary));

	ctl = reload_async(&t, 0, "generation 3", "1");
	assert_true(canary_pid(&t, 2) != canary);
	assert_int_equal(kill(canary, SIGCONT), 0);
	assert_int_equal(h_wait_gone(&canary, 1, H_TIMEOUT_MS), 0);
	reload_done(ctl);
	assert_int_equal(h_wait_gone(t.old, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_log_count(&t.d, "killed by signal"), 0);
	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "stalled canary, then another");
	load_assert_clean(&res, 300);
	assert_int_equal(res.refused, 0);
	assert_no_accept_errors(&t);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * An old worker killed during the trial: its slot would get no new worker
 * until the reload ends, so the reload ends at once, failed; the canary
 * drains and the old generation gets its slot back.  A canary is refused
 * while the serving generation is not whole.
 */
static void
test_canary_old_worker_dies(void **state)
{
	struct ct	 t;
	pid_t		 ctl;
	char		*out = NULL;

	ct_start(&t);
	ctl = reload_async(&t, 1, "exited during the canary's trial", "30");
	(void)canary_pid(&t, 1);
	assert_int_equal(kill(t.old[1], SIGKILL), 0);
	reload_done(ctl);
	assert_int_equal(h_wait_children(t.d.pid, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_echo_once("127.0.0.1", t.port, "still\n"), 0);

	/* A worker stopped (no heartbeat, not yet replaced): no canary. */
	assert_int_equal(h_children(t.d.pid, t.old, 2), 2);
	assert_int_equal(kill(t.old[0], SIGSTOP), 0);
	assert_int_equal(h_wait_log(&t.d, "; the others take its clients",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(h_ctl(t.d.sock, &out, "reload", "--canary", "5",
	    (char *)NULL), 1);
	assert_non_null(strstr(out, "a canary needs every worker"));
	free(out);
	assert_int_equal(kill(t.old[0], SIGCONT), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * The new file's heartbeat is much faster than the old one's: during the
 * trial the old workers, which keep the old pace, are judged by their own
 * file -- neither aborted as hung nor taken as stalled -- and the reload
 * rolls.
 */
static void
test_canary_new_timeouts(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct ct		 t;

	ct_start_timed(&t, "heartbeat_interval = 1;\nworker_timeout = 10;\n");
	load_start(&l, t.port, 8);
	load_wait_accepts(t.d.sock, 20);
	t.timing = "heartbeat_interval = 0.1;\nworker_timeout = 0.5;\n";
	ct_write(&t, 2, "2.5", 0);
	reload_done(reload_async(&t, 0, "generation 2", NULL));
	assert_int_equal(h_log_count(&t.d, "silent for"), 0);
	assert_int_equal(h_log_count(&t.d, "killed by signal"), 0);
	assert_int_equal(h_wait_gone(t.old, 2, H_TIMEOUT_MS), 0);
	load_wait_accepts(t.d.sock, 20);
	load_stop(&l, &res, "canary with faster heartbeats");
	load_assert_clean(&res, 300);
	assert_int_equal(res.refused, 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * A graceful stop during the trial: the reload is answered (stopping),
 * the canary and the old workers drain, every client that got in is
 * served to the end of its round trip.
 */
static void
test_canary_quit(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct ct		 t;
	pid_t			 ctl;
	int			 st;

	ct_start(&t);
	load_start(&l, t.port, 16);
	load_wait_accepts(t.d.sock, 20);
	ctl = reload_async(&t, 1, "stopping", "30");
	wait_canary_accepts(&t, canary_pid(&t, 1));
	assert_int_equal(kill(t.d.pid, SIGQUIT), 0);
	reload_done(ctl);
	st = h_wait_exit(t.d.pid, H_TIMEOUT_MS);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t.d.pid = 0;
	load_stop(&l, &res, "stop during a canary's trial");
	load_assert_clean(&res, 100);
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_rolls),
		cmocka_unit_test(test_canary_crash),
		cmocka_unit_test(test_canary_stalled),
		cmocka_unit_test(test_canary_old_worker_dies),
		cmocka_unit_test(test_canary_new_timeouts),
		cmocka_unit_test(test_canary_quit),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
