/*
 * test_proxy_health.c -- the proxy's active health checks and per-backend
 * status, on the real daemon under continuous load.
 *
 * A front preforkd (2 workers) proxies round robin to two backends: the
 * echo service of a second preforkd (A) and a plain Python server (B: it
 * greets with "PY\n", then echoes), with check_interval = 0.2 s.  Loader
 * processes open client after client through the front and record, per
 * client, when it started and which backend served it (or that it
 * failed).  Then B is killed:
 *  - the clients held open on B see a close (EOF or reset), not a hang;
 *  - the master's checker logs B down, status --json and /metrics say so;
 *  - every client that connects after that is served, by A;
 * then B comes back on its port: the checker logs it up, status says up,
 * and new clients reach it again.  The per-backend counters of status and
 * /metrics are at least what the clients saw; /metrics passes promtool;
 * they survive the workers' deaths and a reload that keeps the backend.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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

#define PROMTOOL	"/usr/bin/promtool"
#define CHECK_MS	200
#define NLOADERS	2
#define MAX_CLIENTS	200000

static const char pyserver[] =
	"import socket, sys, threading\n"
	"s = socket.socket()\n"
	"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	"s.bind(('127.0.0.1', int(sys.argv[1])))\n"
	"s.listen(256)\n"
	"print('ready', flush=True)\n"
	"def serve(c):\n"
	"    try:\n"
	"        c.sendall(b'PY\\n')\n"
	"        while True:\n"
	"            d = c.recv(65536)\n"
	"            if not d:\n"
	"                break\n"
	"            c.sendall(d)\n"
	"    except OSError:\n"
	"        pass\n"
	"    finally:\n"
	"        c.close()\n"
	"while True:\n"
	"    c, _ = s.accept()\n"
	"    threading.Thread(target=serve, args=(c,), daemon=True).start()\n";

/* One client of a loader: when it started, and who served it. */
struct client {
	long	start_ms;
	int	who;		/* 0 A, 1 B, -1 failed */
};

static struct {
	struct daemon	back, front;
	pid_t		py;
	int		py_out;		/* its stdout */
	int		a, b, port, stats;
	char		a_name[32], b_name[32];
} t;

/* Start python on t.b; 0 once it listens. */
static int
py_start(void)
{
	char	buf[8];
	int	p[2], r = -1;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((t.py = fork()) == 0) {
		char	port[16];
		int	null = open("/dev/null", O_WRONLY);

		snprintf(port, sizeof(port), "%d", t.b);
		dup2(p[1], 1);
		dup2(null, 2);
		execlp("python3", "python3", "-c", pyserver, port,
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (t.py > 0 && poll(&(struct pollfd){ p[0], POLLIN, 0 }, 1,
	    H_TIMEOUT_MS) == 1 && read(p[0], buf, sizeof(buf)) > 0 &&
	    memcmp(buf, "ready", 5) == 0)
		r = 0;
	/* Open while it runs: a write to a closed pipe would end it. */
	t.py_out = p[0];
	return r;
}

static void
py_kill(void)
{
	if (t.py > 0) {
		kill(t.py, SIGKILL);
		h_wait_exit(t.py, H_TIMEOUT_MS);
		close(t.py_out);
	}
	t.py = 0;
}

static const char	*front_conf(int);

static int
setup(void **state)
{
	memset(&t, 0, sizeof(t));
	signal(SIGPIPE, SIG_IGN);
	t.a = h_free_port(4);
	t.b = h_free_port(4);
	t.port = h_free_port(4);
	t.stats = h_free_port(4);
	snprintf(t.a_name, sizeof(t.a_name), "127.0.0.1:%d", t.a);
	snprintf(t.b_name, sizeof(t.b_name), "127.0.0.1:%d", t.b);
	if (py_start() == -1 || h_daemon_startf(&t.back, "workers = 1;\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", t.a) == -1 ||
	    h_daemon_init(&t.front, NULL) == -1)
		return -1;
	/* backend_down_time is left at 10 s: a worker that found B failing
	 * takes it back when a check passes, not 10 s later. */
	return h_daemon_startf(&t.front, "%s", front_conf(t.b));
}

/* The front's configuration, to A and port b. */
static const char *
front_conf(int b)
{
	static char	conf[1024];

	snprintf(conf, sizeof(conf), "workers = 2;\n"
	    "admin_socket = \"%s\";\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"stats\"; },\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"proxy\";\n"
	    "    check_interval = %g; check_timeout = 0.5; check_rise = 1;\n"
	    "    check_fall = 1;\n"
	    "    backends = ( { address = \"127.0.0.1\"; port = %d; },\n"
	    "      { address = \"127.0.0.1\"; port = %d; } ); }\n"
	    ");\n", t.front.sock, t.stats, t.port, CHECK_MS / 1000.0, t.a, b);
	return conf;
}

static int
teardown(void **state)
{
	int	rc = 0;

	if (t.front.pid > 0 && h_daemon_stop(&t.front) == -1)
		rc = -1;
	if (t.back.pid > 0 && h_daemon_stop(&t.back) == -1)
		rc = -1;
	py_kill();
	return rc;
}

/* Which backend served a new client: 0 A, 1 B, -1 none; kept open in
 * *keep if asked. */
static int
which(int *keep)
{
	char	buf[4];
	int	fd = h_connect("127.0.0.1", t.port, H_TIMEOUT_MS), r = -1;

	if (fd == -1 || h_send_all(fd, "x", 1, H_TIMEOUT_MS) == -1 ||
	    h_recv_exact(fd, buf, 1, H_TIMEOUT_MS) == -1)
		goto out;
	if (buf[0] == 'x')
		r = 0;
	else if (buf[0] == 'P' &&
	    h_recv_exact(fd, buf + 1, 3, H_TIMEOUT_MS) == 0 &&
	    memcmp(buf, "PY\nx", 4) == 0)
		r = 1;
out:
	if (keep != NULL && r != -1)
		*keep = fd;
	else if (fd != -1)
		close(fd);
	return r;
}

/* Clients until stop is readable; then the record, to file. */
static void
loader(int stop, const char *file)
{
	static struct client	c[MAX_CLIENTS];
	size_t			n = 0;
	FILE			*f;

	while (n < MAX_CLIENTS &&
	    poll(&(struct pollfd){ stop, POLLIN, 0 }, 1, 0) == 0) {
		c[n].start_ms = h_now_ms();
		c[n].who = which(NULL);
		n++;
	}
	if ((f = fopen(file, "w")) == NULL)
		_exit(1);
	if (n > 0 && fwrite(c, sizeof(c[0]), n, f) != n)
		_exit(1);
	_exit(fclose(f) == 0 ? 0 : 1);
}

/* The JSON object of backend name in status --json, or NULL. */
static char *
status_backend(const char *name, char **json)
{
	char	pat[64], *p;

	*json = NULL;
	if (h_ctl(t.front.sock, json, "status", "--json", (char *)NULL) != 0)
		return NULL;
	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", name);
	if ((p = strstr(*json, pat)) == NULL)
		return NULL;
	return p;
}

static int
status_state_is(const char *name, const char *state)
{
	char	*json, *p, pat[32];
	int	r;

	snprintf(pat, sizeof(pat), "\"state\":\"%s\"", state);
	p = status_backend(name, &json);
	r = p != NULL && strstr(p, pat) != NULL &&
	    strstr(p, pat) < strchr(p, '}');
	free(json);
	return r;
}

static long long
status_num(const char *name, const char *key)
{
	char		*json, *p;
	long long	 v = -1;

	if ((p = status_backend(name, &json)) != NULL)
		v = h_json_num(p, NULL, key);
	free(json);
	return v;
}

/* GET /metrics; the body (malloc'd), checked by promtool if installed. */
static char *
metrics(void)
{
	const char	*req = "GET /metrics HTTP/1.0\r\n\r\n";
	char		*buf, *body, path[256], cmd[1024];
	size_t		 got = 0, cap = 1 << 17;
	ssize_t		 n;
	int		 fd;

	assert_non_null(buf = malloc(cap));
	fd = h_connect("127.0.0.1", t.stats, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, req, strlen(req), H_TIMEOUT_MS), 0);
	while (got < cap - 1 &&
	    poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, H_TIMEOUT_MS) == 1 &&
	    (n = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	assert_non_null(body = strstr(buf, "\r\n\r\n"));
	assert_non_null(body = strdup(body + 4));
	free(buf);
	if (access(PROMTOOL, X_OK) == 0) {
		snprintf(path, sizeof(path), "%s/metrics.txt", t.front.dir);
		assert_int_equal(h_write_file(path, body), 0);
		snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics <%s >&2",
		    path);
		assert_int_equal(system(cmd), 0);
	}
	return body;
}

/* The value of family{listener,backend} in body, or -1. */
static double
metric(const char *body, const char *family, const char *backend)
{
	char		 pat[160];
	const char	*p;

	snprintf(pat, sizeof(pat), "preforkd_backend_%s{listener=\"127.0.0.1:"
	    "%d\",backend=\"%s\"} ", family, t.port, backend);
	if ((p = strstr(body, pat)) == NULL)
		return -1;
	return strtod(p + strlen(pat), NULL);
}

/* Wait until status --json shows name in state; bounded, 0 or -1. */
static int
wait_state(const char *name, const char *state)
{
	long	end = h_now_ms() + H_TIMEOUT_MS;

	while (h_now_ms() < end) {
		if (status_state_is(name, state))
			return 0;
		poll(NULL, 0, 20);
	}
	return -1;
}

static void
test_backend_killed_and_back(void **state)
{
	static struct client	c[MAX_CLIENTS];
	pid_t			kids[NLOADERS];
	char			file[NLOADERS][256], needle[96], *body;
	int			stop[2], held[8], nheld = 0, fd, i, r;
	int			eof = 0;
	long			t_kill, t_down, t_back, t_up, late_err = 0;
	long			early_err = 0, down_on_b = 0, up_on_b = 0;
	long			on[2] = { 0, 0 };
	size_t			n, k;
	FILE			*f;

	/* Both up, both serve; hold a few clients on B. */
	assert_int_equal(wait_state(t.a_name, "up"), 0);
	if (wait_state(t.b_name, "up") == -1) { char *j = NULL; h_ctl(t.front.sock, &j, "status", "--json", (char *)NULL); fprintf(stderr, "%s\n", j); system("cat /tmp/preforkd-test*/stderr 2>/dev/null | tail -5"); }
	assert_int_equal(wait_state(t.b_name, "up"), 0);
	for (i = 0; i < 40 && nheld < 4; i++) {
		r = which(&fd);
		assert_true(r == 0 || r == 1);
		if (r == 1)
			held[nheld++] = fd;
		else
			close(fd);
	}
	assert_int_equal(nheld, 4);

	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	for (i = 0; i < NLOADERS; i++) {
		snprintf(file[i], sizeof(file[i]), "%s/loader%d", t.front.dir,
		    i);
		if ((kids[i] = fork()) == 0) {
			close(stop[1]);
			loader(stop[0], file[i]);
		}
		assert_true(kids[i] > 0);
	}
	close(stop[0]);
	/* The load reaches both backends before the kill. */
	assert_int_equal(h_wait_log(&t.front, "ready, generation 1",
	    H_TIMEOUT_MS), 0);
	{
		long	end = h_now_ms() + H_TIMEOUT_MS;

		while (status_num(t.b_name, "connections_total") < 40 &&
		    h_now_ms() < end)
			poll(NULL, 0, 20);
	}
	assert_true(status_num(t.b_name, "connections_total") >= 40);

	t_kill = h_now_ms();
	py_kill();
	/* Its clients see a close, not a hang. */
	for (i = 0; i < nheld; i++) {
		char	b;
		ssize_t	got;

		if (poll(&(struct pollfd){ held[i], POLLIN, 0 }, 1,
		    H_TIMEOUT_MS) == 1 &&
		    ((got = recv(held[i], &b, 1, 0)) == 0 ||
		    (got == -1 && errno == ECONNRESET)))
			eof++;
		close(held[i]);
	}
	assert_int_equal(eof, nheld);
	snprintf(needle, sizeof(needle), "backend %s: down after 1 failed "
	    "check", t.b_name);
	assert_int_equal(h_wait_log(&t.front, needle, H_TIMEOUT_MS), 0);
	t_down = h_now_ms();
	assert_true(status_state_is(t.b_name, "down"));
	assert_true(status_state_is(t.a_name, "up"));
	body = metrics();
	assert_true(metric(body, "up", t.b_name) == 0);
	assert_true(metric(body, "up", t.a_name) == 1);
	free(body);
	/* A while of load with B down: a few check intervals. */
	{
		long	until = status_num(t.a_name, "connections_total") + 200;
		long	end = h_now_ms() + 4 * H_TIMEOUT_MS;

		while (status_num(t.a_name, "connections_total") < until &&
		    h_now_ms() < end)
			poll(NULL, 0, 20);
	}

	/* B back on its port: up within a check, and served again. */
	t_back = h_now_ms();
	assert_int_equal(py_start(), 0);
	snprintf(needle, sizeof(needle), "backend %s: up after", t.b_name);
	assert_int_equal(h_wait_log(&t.front, needle, H_TIMEOUT_MS), 0);
	t_up = h_now_ms();
	assert_true(status_state_is(t.b_name, "up"));
	{
		long	until = status_num(t.b_name, "connections_total") + 40;
		long	end = h_now_ms() + 4 * H_TIMEOUT_MS;

		while (status_num(t.b_name, "connections_total") < until &&
		    h_now_ms() < end)
			poll(NULL, 0, 20);
	}

	close(stop[1]);
	for (i = 0; i < NLOADERS; i++)
		assert_int_equal(h_wait_exit(kids[i], 4 * H_TIMEOUT_MS), 0);
	for (i = 0; i < NLOADERS; i++) {
		assert_non_null(f = fopen(file[i], "r"));
		n = fread(c, sizeof(c[0]), MAX_CLIENTS, f);
		fclose(f);
		for (k = 0; k < n; k++) {
			if (c[k].who >= 0)
				on[c[k].who]++;
			if (c[k].who == -1 && c[k].start_ms >= t_down)
				late_err++;
			else if (c[k].who == -1)
				early_err++;
			if (c[k].who == 1 && c[k].start_ms >= t_down &&
			    c[k].start_ms < t_back)
				down_on_b++;
			if (c[k].who == 1 && c[k].start_ms >= t_up)
				up_on_b++;
		}
	}
	print_message("killed B: its %d held clients closed; checker marked "
	    "it down %ld ms after the kill (check_interval %d ms); %ld A, "
	    "%ld B clients; %ld failed before it was marked down, %ld after; "
	    "%ld on B while down; %ld on B after it was seen up again (%ld ms "
	    "after its restart); passive health took it down in %d workers "
	    "for 10 s\n", nheld,
	    t_down - t_kill, CHECK_MS, on[0], on[1], early_err, late_err,
	    down_on_b, up_on_b, t_up - t_back, h_log_count(&t.front,
	    "down for 10000 ms"));
	assert_int_equal(late_err, 0);
	assert_int_equal(down_on_b, 0);
	assert_true(up_on_b > 0);
	assert_true(on[0] > 200);

	/* The counters are at least what the clients saw, once every
	 * connection is closed (bytes are counted at close). */
	{
		long	end = h_now_ms() + H_TIMEOUT_MS;

		while ((status_num(t.a_name, "active") != 0 ||
		    status_num(t.b_name, "active") != 0) && h_now_ms() < end)
			poll(NULL, 0, 20);
	}
	assert_int_equal(status_num(t.a_name, "active"), 0);
	assert_int_equal(status_num(t.b_name, "active"), 0);
	assert_true(status_num(t.a_name, "connections_total") >= on[0]);
	assert_true(status_num(t.b_name, "connections_total") >= on[1] + 4);
	assert_true(status_num(t.a_name, "bytes_out") >= on[0]);
	assert_true(status_num(t.a_name, "bytes_in") >= on[0]);
	/* B's greeting and echo: 4 bytes a client. */
	assert_true(status_num(t.b_name, "bytes_in") >= 4 * on[1]);
	assert_true(status_num(t.b_name, "check_failures") >= 1);
	assert_true(status_num(t.b_name, "state_changes") >= 2);
	assert_true(status_num(t.a_name, "checks") >= 2);
	assert_int_equal(status_num(t.a_name, "check_failures"), 0);
	body = metrics();
	assert_true(metric(body, "up", t.b_name) == 1);
	assert_true(metric(body, "connections_total", t.a_name) >= on[0]);
	assert_true(metric(body, "connections_total", t.b_name) >= on[1]);
	assert_true(metric(body, "sent_bytes_total", t.a_name) >= on[0]);
	assert_true(metric(body, "received_bytes_total", t.b_name) >=
	    4 * on[1]);
	assert_true(metric(body, "check_failures_total", t.b_name) >= 1);
	assert_true(metric(body, "connections_active", t.a_name) == 0);
	free(body);
}

/* A worker killed: the backend counters it had counted stay. */
static void
test_counts_survive_worker(void **state)
{
	pid_t		kids[2];
	long long	before, after;
	int		i;

	for (i = 0; i < 20; i++)
		assert_true(which(NULL) >= 0);
	before = status_num(t.a_name, "connections_total") +
	    status_num(t.b_name, "connections_total");
	assert_true(before >= 20);
	assert_int_equal(h_children(t.front.pid, kids, 2), 2);
	assert_int_equal(kill(kids[0], SIGKILL), 0);
	assert_int_equal(kill(kids[1], SIGKILL), 0);
	assert_int_equal(h_wait_log_count(&t.front, "ready, generation 1", 4,
	    H_TIMEOUT_MS), 0);
	after = status_num(t.a_name, "connections_total") +
	    status_num(t.b_name, "connections_total");
	print_message("backend connects counted: %lld, after both workers "
	    "were killed %lld\n", before, after);
	assert_true(after >= before);
	assert_true(which(NULL) >= 0);
	assert_true(status_num(t.a_name, "connections_total") +
	    status_num(t.b_name, "connections_total") > after);
}

/*
 * A reload that keeps A and replaces B with C (nobody listens there): A's
 * counters go on, C starts from zero and is found down by the checks, B
 * is no longer listed, and clients go to A.
 */
static void
test_reload_keeps_backend(void **state)
{
	char		c_name[32], *json;
	long long	before;
	int		c = h_free_port(4), i;

	snprintf(c_name, sizeof(c_name), "127.0.0.1:%d", c);
	before = status_num(t.a_name, "connections_total");
	assert_true(before > 0);
	assert_int_equal(h_write_file(t.front.conf, front_conf(c)), 0);
	assert_int_equal(kill(t.front.pid, SIGHUP), 0);
	assert_int_equal(h_wait_notify(&t.front, "STATUS=reloaded",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(wait_state(c_name, "down"), 0);
	assert_true(status_num(t.a_name, "connections_total") >= before);
	assert_int_equal(status_num(c_name, "connections_total"), 0);
	assert_null(status_backend(t.b_name, &json));
	free(json);
	for (i = 0; i < 10; i++)
		assert_int_equal(which(NULL), 0);
	assert_true(status_num(t.a_name, "connections_total") >= before + 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_killed_and_back),
		cmocka_unit_test(test_counts_survive_worker),
		cmocka_unit_test(test_reload_keeps_backend),
	};

	return cmocka_run_group_tests_name("proxy_health", tests, setup,
	    teardown);
}
