/*
 * test_supervise.c -- integration tests of supervision and the admin
 * socket, against the real binary: exact stats, respawn in the same slot
 * after kill -9, hung workers (SIGSTOP) replaced after worker_timeout,
 * crash loops backing off into a visible degraded state at low CPU,
 * recycling after max_connections_per_worker, garbage on the admin socket
 * and on a worker's control channel, preforkctl's exit codes.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
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

#include "common/ctl.h"
#include "tests/harness.h"

static struct daemon	d;
static int		port;
static char		sock[192];

static int
setup_daemon(void **state)
{
	char	conf[1024];

	if ((port = h_free_port(4)) <= 0 || h_daemon_init(&d, NULL) == -1)
		return -1;
	snprintf(sock, sizeof(sock), "%s/admin.sock", d.dir);
	snprintf(conf, sizeof(conf),
	    "workers = 2;\n"
	    "log = { level = \"debug\"; };\n"
	    "heartbeat_interval = 0.1;\n"
	    "worker_timeout = 0.5;\n"
	    "admin_socket = \"%s\";\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", sock, port);
	if (h_write_file(d.conf, conf) == -1)
		return -1;
	return h_daemon_start(&d, 2, "127.0.0.1", port);
}

static int
teardown_daemon(void **state)
{
	return h_daemon_stop(&d);
}

static char *
status_json(void)
{
	char	*out = NULL;

	assert_int_equal(h_ctl(sock, &out, "status", "--json", (char *)NULL),
	    0);
	assert_non_null(out);
	return out;
}

static long long
slot_pid(int slot)
{
	char		*json = status_json(), key[32];
	long long	 pid;

	snprintf(key, sizeof(key), "{\"slot\":%d,", slot);
	pid = h_json_num(json, key, "pid");
	free(json);
	return pid;
}

/* Wait until slot has a ready worker other than old; its pid. */
static long long
wait_replaced(int slot, long long old, int timeout_ms, int echo)
{
	long		 deadline = h_now_ms() + timeout_ms;
	long long	 pid;
	char		*json, key[32];

	snprintf(key, sizeof(key), "{\"slot\":%d,", slot);
	for (;;) {
		/* The service answers all along: the other worker serves. */
		if (echo)
			assert_int_equal(h_echo_once("127.0.0.1", port,
			    "meanwhile\n"), 0);
		json = status_json();
		pid = h_json_num(json, key, "pid");
		if (pid > 0 && pid != old && strstr(strstr(json, key),
		    "\"state\":\"ready\"") != NULL) {
			free(json);
			return pid;
		}
		free(json);
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
}

/* After N connections, the totals say exactly N more. */
static void
test_stats_exact(void **state)
{
	char		*json = status_json();
	long long	 before = h_json_num(json, "\"totals\"",
			    "connections_total");
	long long	 w0, w1;
	int		 i;

	free(json);
	assert_true(before >= 0);
	for (i = 0; i < 37; i++)
		assert_int_equal(h_echo_once("127.0.0.1", port, "count\n"), 0);
	json = status_json();
	assert_int_equal(h_json_num(json, "\"totals\"", "connections_total"),
	    before + 37);
	assert_int_equal(h_json_num(json, "\"totals\"", "bytes_in") -
	    h_json_num(json, "\"totals\"", "bytes_out"), 0);
	/* Totals are the sum of the workers' figures. */
	w0 = h_json_num(json, "{\"slot\":0,", "connections_total");
	w1 = h_json_num(json, "{\"slot\":1,", "connections_total");
	assert_int_equal(w0 + w1, before + 37);
	assert_non_null(strstr(json, "\"uptime_s\":"));
	assert_non_null(strstr(json, "\"heartbeat_age_ms\":"));
	assert_non_null(strstr(json, "\"loop_lag_ms\":"));
	assert_non_null(strstr(json, "\"generation\":1"));
	free(json);
}

static void
test_text_reports(void **state)
{
	char	*out = NULL, name[64];

	assert_int_equal(h_ctl(sock, &out, "status", (char *)NULL), 0);
	snprintf(name, sizeof(name), "127.0.0.1:%d (echo)", port);
	assert_non_null(strstr(out, name));
	assert_non_null(strstr(out, "ready"));
	assert_non_null(strstr(out, "bytes_in"));
	free(out);
	assert_int_equal(h_ctl(sock, &out, "workers", (char *)NULL), 0);
	assert_non_null(strstr(out, "ready"));
	assert_null(strstr(out, "bytes_in"));
	free(out);
	assert_int_equal(h_ctl(sock, &out, "stats", "--json", (char *)NULL),
	    0);
	assert_true(h_json_num(out, "\"totals\"", "accepts") > 0);
	free(out);
	assert_int_equal(h_ctl(sock, &out, "help", (char *)NULL), 0);
	assert_non_null(strstr(out, "quit"));
	free(out);
	assert_int_equal(h_ctl(sock, &out, "frobnicate", (char *)NULL), 1);
	assert_non_null(strstr(out, "unknown command 'frobnicate'"));
	free(out);
	assert_int_equal(h_ctl(sock, &out, "status", "--yaml", (char *)NULL),
	    1);
	free(out);
}

/* Garbage on the admin socket drops that client only. */
static void
test_admin_garbage(void **state)
{
	static char	 big[100000];
	char		 buf[64];
	int		 fd, held;

	/* Binary junk: an error, then the master hangs up. */
	fd = h_connect(sock, 0, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "\x01\xff\x80junk\n", 8, 1000), 0);
	assert_int_equal(h_recv_exact(fd, buf, 4, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "ERR ", 4);
	close(fd);

	/* A partial line held open does not block anyone else. */
	held = h_connect(sock, 0, H_TIMEOUT_MS);
	assert_true(held >= 0);
	assert_int_equal(h_send_all(held, "stat", 4, 1000), 0);

	/* An oversized line: dropped without an answer. */
	memset(big, 'a', sizeof(big));
	fd = h_connect(sock, 0, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	(void)send(fd, big, sizeof(big), MSG_NOSIGNAL);
	assert_true(recv(fd, buf, sizeof(buf), 0) <= 0 ||
	    h_recv_eof(fd, H_TIMEOUT_MS) == 0);
	close(fd);

	assert_int_equal(h_ctl(sock, NULL, "status", (char *)NULL), 0);
	close(held);
	assert_true(h_pid_alive(d.pid));
}

/* kill -9: a new worker in the same slot within 1 s, service throughout. */
static void
test_kill9_same_slot(void **state)
{
	long long	old = slot_pid(1);
	long		t0;

	assert_true(old > 0);
	assert_int_equal(kill((pid_t)old, SIGKILL), 0);
	t0 = h_now_ms();
	assert_true(wait_replaced(1, old, 1000, 1) > 0);
	assert_true(h_now_ms() - t0 <= 1000);
	assert_int_equal(h_wait_log(&d, "killed by signal 9", 1000), 0);
}

/* A hung worker (SIGSTOP) is aborted, killed and replaced. */
static void
test_sigstop_replaced(void **state)
{
	long long	old = slot_pid(0);
	char		*json;

	assert_true(old > 0);
	assert_int_equal(kill((pid_t)old, SIGSTOP), 0);
	/* worker_timeout 0.5 s, then SIGKILL after a 1 s grace. */
	assert_true(wait_replaced(0, old, 4000, 1) > 0);
	assert_int_equal(h_wait_log(&d, "silent for", 1000), 0);
	assert_false(h_pid_alive((pid_t)old));
	json = status_json();
	assert_true(h_json_num(json, "\"since_start\"",
	    "hung_workers_killed") >= 1);
	free(json);
}

/* The control fd of the worker in the log line "control fd N". */
static int
worker_ctl_fd(pid_t pid)
{
	char	*log = h_read_file(d.log), tag[64], *p;
	int	 fd = -1;

	snprintf(tag, sizeof(tag), "preforkd[%ld] worker", (long)pid);
	if (log != NULL && (p = strstr(log, tag)) != NULL &&
	    (p = strstr(p, "control fd ")) != NULL)
		fd = atoi(p + strlen("control fd "));
	free(log);
	return fd;
}

/* Send bytes to the master as if the worker of slot had sent them. */
static void
inject(int slot, const void *buf, size_t len)
{
	long long	pid = slot_pid(slot);
	int		pidfd, fd, wfd;

	assert_true(pid > 0);
	assert_int_equal(h_wait_log(&d, "control fd", 1000), 0);
	wfd = worker_ctl_fd((pid_t)pid);
	assert_true(wfd >= 0);
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	assert_true(pidfd >= 0);
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, wfd, 0);
	if (fd == -1 && errno == EPERM)
		skip();
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, buf, len, 1000), 0);
	close(fd);
	close(pidfd);
	/* No echo while waiting: the victim may accept one just before its
	 * SIGKILL lands, and that connection dies with it. */
	assert_true(wait_replaced(slot, pid, 3000, 0) > 0);
	assert_true(h_pid_alive(d.pid));
	assert_int_equal(h_echo_once("127.0.0.1", port, "after\n"), 0);
}

/* Garbage on a worker's channel: that worker is replaced, nothing else. */
static void
test_ctl_garbage(void **state)
{
	struct ctl_msg	m;
	uint8_t		frame[CTL_MAX_FRAME];
	ssize_t		n;

	inject(0, "\x07 this is not a frame\n", 22);
	assert_int_equal(h_wait_log(&d, "malformed frame; killing it", 1000),
	    0);

	/* Well formed but from the wrong side: a master-to-worker type. */
	memset(&m, 0, sizeof(m));
	m.type = CTL_DRAIN;
	m.slot = 1;
	m.pid = (uint32_t)slot_pid(1);
	n = ctl_encode(&m, frame, sizeof(frame));
	assert_true(n > 0);
	inject(1, frame, n);
	assert_int_equal(h_wait_log(&d, "unexpected frame; killing it", 1000),
	    0);
	assert_int_equal(h_echo_once("127.0.0.1", port, "fine\n"), 0);
}

static void
test_preforkctl_no_daemon(void **state)
{
	char	*out = NULL, path[256];

	snprintf(path, sizeof(path), "%s/nobody.sock", d.dir);
	assert_int_equal(h_ctl(path, &out, "status", (char *)NULL), 2);
	assert_non_null(out);
	assert_non_null(strstr(out, "cannot connect"));
	free(out);
}

/* Workers that die at start-up: backoff, degraded, quiet, cheap. */
static void
test_crash_loop(void **state)
{
	struct daemon	 c;
	char		 conf[1024], csock[192], *json, *p;
	long		 cpu0, cpu1, t0, t1;
	int		 p1 = h_free_port(4), p2 = h_free_port(4), deaths;

	assert_int_equal(h_daemon_init(&c, NULL), 0);
	snprintf(csock, sizeof(csock), "%s/admin.sock", c.dir);
	snprintf(conf, sizeof(conf),
	    "workers = 2;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"crash\"; path = \"%s\"; });\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"crash\"; }\n"
	    ");\n", csock, CRASH_MODULE, p1, p2);
	assert_int_equal(h_write_file(c.conf, conf), 0);
	assert_int_equal(h_daemon_start(&c, -1, "127.0.0.1", p1), 0);

	/* 100 + 200 + 400 ms of backoff: both slots degraded within 2 s
	 * (each on its own clock: either may get there first). */
	t0 = h_now_ms();
	for (;;) {
		assert_int_equal(h_ctl(csock, &json, "status", "--json",
		    (char *)NULL), 0);
		if ((p = strstr(json, "\"state\":\"degraded\"")) != NULL &&
		    strstr(p + 1, "\"state\":\"degraded\"") != NULL)
			break;
		free(json);
		assert_true(h_now_ms() - t0 < 3000);
		poll(NULL, 0, 50);
	}
	assert_true(h_json_num(json, "{\"slot\":0,", "failures") >= 3);
	assert_true(h_json_num(json, "{\"slot\":1,", "failures") >= 3);
	free(json);

	/* Now the delays are long: the master idles. */
	cpu0 = h_cpu_ms(c.pid);
	t0 = h_now_ms();
	poll(NULL, 0, 1500);
	cpu1 = h_cpu_ms(c.pid);
	t1 = h_now_ms();
	assert_true(cpu0 >= 0 && cpu1 >= 0);
	assert_true((cpu1 - cpu0) * 10 < t1 - t0);	/* under 10 % */

	/* A handful of deaths, two lines each: nothing floods. */
	deaths = h_log_count(&c, "killed by signal 6");
	assert_true(deaths >= 6 && deaths <= 16);
	assert_true(h_log_count(&c, "\n") < 80);
	assert_int_equal(h_log_count(&c, "is degraded"), 2);
	/* Every death a respawn, every one of them after a backoff. */
	assert_int_equal(h_ctl(csock, &json, "status", "--json",
	    (char *)NULL), 0);
	assert_true(h_json_num(json, "\"since_start\"", "respawn_backoffs")
	    >= 6);
	assert_true(h_json_num(json, "\"since_start\"", "respawns") >= 6);
	free(json);
	assert_int_equal(h_daemon_stop(&c), 0);
}

/* max_connections_per_worker replaces a worker gracefully. */
static void
test_recycle(void **state)
{
	struct daemon	 r;
	char		 rsock[192], *json;
	long long	 first, now;
	long		 deadline;
	int		 p = h_free_port(4), i;

	assert_int_equal(h_daemon_init(&r, NULL), 0);
	snprintf(rsock, sizeof(rsock), "%s/admin.sock", r.dir);
	assert_int_equal(h_daemon_startf(&r,
	    "workers = 1;\nheartbeat_interval = 0.1;\n"
	    "max_connections_per_worker = 5;\n"
	    "admin_socket = \"%s\";\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", rsock, p), 0);
	assert_int_equal(h_ctl(rsock, &json, "status", "--json", (char *)NULL),
	    0);
	first = h_json_num(json, "{\"slot\":0,", "pid");
	free(json);
	for (i = 0; i < 5; i++)
		assert_int_equal(h_echo_once("127.0.0.1", p, "r\n"), 0);
	deadline = h_now_ms() + 3000;
	for (;;) {
		assert_int_equal(h_ctl(rsock, &json, "status", "--json",
		    (char *)NULL), 0);
		now = h_json_num(json, "{\"slot\":0,", "pid");
		free(json);
		if (now > 0 && now != first)
			break;
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
	assert_int_equal(h_echo_once("127.0.0.1", p, "new worker\n"), 0);
	assert_int_equal(h_wait_log(&r, "connection limit reached", 1000), 0);
	/* The old one drained and exited cleanly. */
	assert_int_equal(h_wait_gone(&(pid_t){ (pid_t)first }, 1, 3000), 0);
	assert_int_equal(h_log_count(&r, "exited with status"), 0);
	/* One recycle, no respawn; since_start keeps the old worker's
	 * connections (its 5; start-up waits for READY=1, no probe) beside
	 * the new one's,
	 * "totals" has only the new worker's (1, or 2 if it took the 5th
	 * echo while the old one drained). */
	assert_int_equal(h_ctl(rsock, &json, "status", "--json", (char *)NULL),
	    0);
	assert_int_equal(h_json_num(json, "\"since_start\"", "recycles"), 1);
	assert_int_equal(h_json_num(json, "\"since_start\"", "respawns"), 0);
	assert_int_equal(h_json_num(json, "\"since_start\"",
	    "connections_total"), 5 + 1);
	assert_true(h_json_num(json, "\"totals\"", "connections_total") <= 2);
	free(json);
	assert_int_equal(h_daemon_stop(&r), 0);
}

/* A module hooks the master's and the workers' lifecycle events. */
static void
test_lifecycle_hooks(void **state)
{
	struct daemon	 l;
	char		 lsock[192], want[64];
	pid_t		 kids[4];
	int		 p = h_free_port(4);

	assert_int_equal(h_daemon_init(&l, NULL), 0);
	snprintf(lsock, sizeof(lsock), "%s/admin.sock", l.dir);
	assert_int_equal(h_daemon_startf(&l,
	    "workers = 2;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"lifecycle\"; path = \"%s\"; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"lifecycle\"; });\n", lsock, LIFECYCLE_MODULE, p), 0);
	assert_int_equal(h_echo_once("127.0.0.1", p, "hooked\n"), 0);
	assert_int_equal(h_children(l.pid, kids, 4), 2);
	snprintf(want, sizeof(want), "master: info: lifecycle: online %ld",
	    (long)kids[0]);
	assert_int_equal(h_wait_log(&l, want, 2000), 0);
	assert_int_equal(h_wait_log(&l, "worker 1: info: lifecycle: worker "
	    "start", 2000), 0);

	assert_int_equal(kill(kids[0], SIGKILL), 0);
	snprintf(want, sizeof(want), "master: info: lifecycle: exit %ld",
	    (long)kids[0]);
	assert_int_equal(h_wait_log(&l, want, 2000), 0);
	/* Replaced: a third spawn (the dead one may still be listed in /proc
	 * as a child until reaped, so count spawns, not children). */
	assert_int_equal(h_wait_log_count(&l, "lifecycle: spawn", 3,
	    H_TIMEOUT_MS), 0);
	assert_int_equal(h_log_count(&l, "lifecycle: spawn"), 3);

	/* After a reload the master's hooks are those of the module again. */
	assert_int_equal(h_ctl(lsock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_wait_log(&l, "lifecycle: worker stop", 3000), 0);
	assert_true(h_log_count(&l, "lifecycle: spawn") >= 5);
	assert_int_equal(h_daemon_stop(&l), 0);
}

/* Run preforkd -t on conf; its exit status, its output in *out. */
static int
check_conf(const char *conf, char **out)
{
	struct daemon	t;
	int		st;

	assert_int_equal(h_daemon_init(&t, conf), 0);
	st = h_run(&t, H_TIMEOUT_MS, "-t", "-c", t.conf, (char *)NULL);
	*out = h_read_file(t.log);
	assert_int_equal(h_daemon_stop(&t), 0);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* A module judges its settings at -t with file:line; versions must match. */
static void
test_module_settings(void **state)
{
	struct daemon	 u;
	char		 conf[1024], *out, buf[16];
	int		 p = h_free_port(4), fd;

	snprintf(conf, sizeof(conf), "modules = ({ name = \"upper\"; "
	    "path = \"%s\";\n  settings = {\n    prefix = \"> \";\n"
	    "    max_line = 5; }; });\nlisteners = ({ port = %d; "
	    "service = \"upper\"; });\n", UPPER_MODULE, p);
	assert_int_equal(check_conf(conf, &out), 1);
	assert_non_null(strstr(out, ":4: module upper: max_line: 5 is not in "
	    "16 to 65536"));
	free(out);

	snprintf(conf, sizeof(conf), "modules = ({ name = \"upper\"; "
	    "path = \"%s\";\n  settings = { colour = \"red\"; }; });\n"
	    "listeners = ({ port = %d; service = \"upper\"; });\n",
	    UPPER_MODULE, p);
	assert_int_equal(check_conf(conf, &out), 1);
	assert_non_null(strstr(out, ":2: module upper: colour: unknown "
	    "setting"));
	free(out);

	snprintf(conf, sizeof(conf), "modules = ({ name = \"bad\"; "
	    "path = \"%s\"; });\nlisteners = ({ port = %d; "
	    "service = \"bad\"; });\n", BADVERSION_MODULE, p);
	assert_int_equal(check_conf(conf, &out), 1);
	assert_non_null(strstr(out, ":1: module bad:"));
	assert_non_null(strstr(out, "is built for API version"));
	free(out);

	/* A module may not take a built-in service's name. */
	snprintf(conf, sizeof(conf), "listeners = ({ port = %d; service = "
	    "\"echo\"; });\nmodules = ({ name = \"echo\"; path = \"%s\"; "
	    "});\n", p, UPPER_MODULE);
	assert_int_equal(check_conf(conf, &out), 1);
	assert_non_null(strstr(out, ":2: module echo: a built-in service has "
	    "that name"));
	free(out);

	/* Good settings: it serves with them. */
	assert_int_equal(h_daemon_init(&u, NULL), 0);
	assert_int_equal(h_daemon_startf(&u, "workers = 1;\nmodules = ({ name = "
	    "\"upper\"; path = \"%s\"; settings = { prefix = \"> \"; "
	    "max_line = 64; }; });\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"upper\"; });\n", UPPER_MODULE, p), 0);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "hello\n", 6, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, 8, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "> HELLO\n", 8);
	close(fd);
	assert_int_equal(h_daemon_stop(&u), 0);
}

/* Every sample line is "name[{labels}] value" with a # TYPE before it. */
static int
prometheus_valid(const char *body)
{
	char		 typed[64][64], name[64];
	const char	*p = body, *e, *v;
	int		 ntyped = 0, i, n;

	for (; *p != '\0'; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			return 0;		/* the last line has its newline */
		if (strncmp(p, "# TYPE ", 7) == 0) {
			if (ntyped == 64 || sscanf(p + 7, "%63s", typed[ntyped])
			    != 1)
				return 0;
			ntyped++;
			continue;
		}
		if (*p == '#')
			continue;
		for (n = 0; p + n < e && p[n] != '{' && p[n] != ' ' && n < 63;
		    n++)
			name[n] = p[n];
		name[n] = '\0';
		for (i = 0; i < ntyped && strcmp(typed[i], name) != 0; i++)
			;
		if (n == 0 || i == ntyped)
			return 0;
		if ((v = memchr(p, ' ', e - p)) == NULL || v[1] < '0' ||
		    v[1] > '9')
			return 0;
	}
	return 1;
}

/* The stats service: Prometheus text whose totals match the traffic. */
static void
test_stats_service(void **state)
{
	struct daemon	 sd;
	char		 conf[512], req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	const char	*bad = "GET /secret HTTP/1.0\r\n\r\n";
	char		 buf[16384], *body;
	int		 pe = h_free_port(4), ps = h_free_port(4), fd, i;
	ssize_t		 n;
	size_t		 got = 0;

	assert_int_equal(h_daemon_init(&sd, NULL), 0);
	snprintf(conf, sizeof(conf), "workers = 2;\nlisteners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"stats\"; });\n",
	    pe, ps);
	assert_int_equal(h_write_file(sd.conf, conf), 0);
	/* Probe the stats port, so the echo counters start at zero. */
	assert_int_equal(h_daemon_start(&sd, 2, "127.0.0.1", ps), 0);
	for (i = 0; i < 25; i++)
		assert_int_equal(h_echo_once("127.0.0.1", pe, "0123456789"), 0);

	fd = h_connect("127.0.0.1", ps, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, req, strlen(req), H_TIMEOUT_MS), 0);
	while (got < sizeof(buf) - 1 &&
	    poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, H_TIMEOUT_MS) == 1 &&
	    (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.0 200 OK\r\n", 17), 0);
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_true(prometheus_valid(body));
	assert_non_null(strstr(body, "\npreforkd_connections_total 25\n"));
	assert_non_null(strstr(body, "\npreforkd_received_bytes_total 250\n"));
	assert_non_null(strstr(body, "\npreforkd_sent_bytes_total 250\n"));
	assert_non_null(strstr(body, "\npreforkd_workers 2\n"));
	assert_non_null(strstr(body, "preforkd_worker_connections_total{slot="
	    "\"0\""));

	/* Anything but GET /metrics or /: an HTTP error, nothing more. */
	fd = h_connect("127.0.0.1", ps, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, bad, strlen(bad), H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, 22, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "HTTP/1.0 404 Not Found", 22);
	close(fd);
	assert_int_equal(h_daemon_stop(&sd), 0);
}

/*
 * 1,000 clients spread over the workers: the busiest holds at most
 * max_pct of them (reuseport: one socket per worker, the kernel spreads).
 */
static void
balance(int workers, int max_pct)
{
	struct daemon	 bd;
	struct rlimit	 rl;
	char		 conf[256];
	pid_t		 kids[8];
	int		 base[8], now[8], fds[1000], p = h_free_port(4);
	int		 i, total, most;
	long		 deadline;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 1200 && rl.rlim_max >= 1200) {
		rl.rlim_cur = 1200;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	snprintf(conf, sizeof(conf), "workers = %d;\nlisteners = ({ address ="
	    " \"127.0.0.1\"; port = %d; service = \"echo\"; });\n",
	    workers, p);
	assert_int_equal(h_daemon_init(&bd, conf), 0);
	assert_int_equal(h_daemon_start(&bd, workers, "127.0.0.1", p), 0);
	assert_int_equal(h_children(bd.pid, kids, 8), workers);
	for (i = 0; i < workers; i++)
		assert_true((base[i] = h_fd_count(kids[i], "socket:")) > 0);
	for (i = 0; i < 1000; i++)
		assert_true((fds[i] = h_connect("127.0.0.1", p,
		    H_TIMEOUT_MS)) >= 0);
	deadline = h_now_ms() + 10000;
	do {
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 10);
		for (i = total = most = 0; i < workers; i++) {
			now[i] = h_fd_count(kids[i], "socket:") - base[i];
			total += now[i];
			if (now[i] > most)
				most = now[i];
		}
	} while (total < 1000);
	print_message("%d workers: busiest holds %d of %d connections\n",
	    workers, most, total);
	assert_int_equal(total, 1000);
	assert_true(most * 100 <= max_pct * total);
	for (i = 0; i < 1000; i++)
		close(fds[i]);
	assert_int_equal(h_daemon_stop(&bd), 0);
}

static void
test_balance_2(void **state)
{
	balance(2, 60);
}

static void
test_balance_4(void **state)
{
	balance(4, 35);
}

int
main(void)
{
	const struct CMUnitTest shared[] = {
		cmocka_unit_test(test_stats_exact),
		cmocka_unit_test(test_text_reports),
		cmocka_unit_test(test_admin_garbage),
		cmocka_unit_test(test_kill9_same_slot),
		cmocka_unit_test(test_sigstop_replaced),
		cmocka_unit_test(test_ctl_garbage),
		cmocka_unit_test(test_preforkctl_no_daemon),
	};
	const struct CMUnitTest own[] = {
		cmocka_unit_test(test_crash_loop),
		cmocka_unit_test(test_recycle),
		cmocka_unit_test(test_lifecycle_hooks),
		cmocka_unit_test(test_module_settings),
		cmocka_unit_test(test_stats_service),
		cmocka_unit_test(test_balance_2),
		cmocka_unit_test(test_balance_4),
	};
	int	failed;

	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests_name("supervise", shared,
	    setup_daemon, teardown_daemon);
	failed += cmocka_run_group_tests_name("lifecycle", own, NULL, NULL);
	return failed != 0;
}
