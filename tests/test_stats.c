/*
 * test_stats.c -- the stats listeners' HTTP server and the admin socket's
 * edge cases: http_parse without sockets, then the real daemon: idle
 * stats clients cannot starve preforkctl, allow/deny and the per-address
 * limit on a stats listener, HEAD/405/400/404/431/408, /health before
 * and after a graceful stop and with no ready worker, the drain delay of
 * a graceful stop (503 while still serving; a second quit or a fast stop
 * cuts it short), and admin requests ended by EOF or too long.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#include "server/httpstats.h"
#include "tests/harness.h"

static int
parse(const char *s, struct http_req *req)
{
	return http_parse(s, strlen(s), req);
}

static void
test_parse(void **state)
{
	struct http_req	 req;
	const char	*s;
	char		*big;

	(void)state;
	s = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nrest";
	assert_int_equal(parse(s, &req), 0);
	assert_int_equal(req.method, HTTP_GET);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.path_len, 8);
	assert_memory_equal(s + req.path_off, "/metrics", 8);
	assert_int_equal(req.len, strlen(s) - 4);
	assert_int_equal(parse("HEAD / HTTP/1.0\n\n", &req), 0);
	assert_int_equal(req.method, HTTP_HEAD);
	assert_int_equal(parse("POST /x HTTP/1.0\r\n\r\n", &req), 0);
	assert_int_equal(req.method, HTTP_OTHER);
	/* Incomplete: more bytes needed, at every prefix of a request. */
	s = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
	for (size_t i = 0; i < strlen(s); i++)
		assert_int_equal(http_parse(s, i, &req), 1);
	/* Not HTTP. */
	assert_int_equal(parse("garbage\r\n\r\n", &req), 400);
	assert_int_equal(parse("\x16\x03\x01", &req), 400);
	assert_int_equal(parse("GET\r\n", &req), 400);
	assert_int_equal(parse("GET / \r\n", &req), 400);
	assert_int_equal(parse("GET x HTTP/1.0\r\n\r\n", &req), 400);
	assert_int_equal(parse("GET  / HTTP/1.0\r\n\r\n", &req), 400);
	assert_int_equal(parse("GET / FTP/1.0\r\n", &req), 400);
	assert_int_equal(parse("GET / HTTP/1.0\r\nbad header\r\n\r\n", &req),
	    400);
	assert_int_equal(parse("GET / HTTP/1.0\r\nA : b\r\n\r\n", &req), 400);
	assert_int_equal(parse("GET / HTTP/1.0\r\nA: b\r\n c\r\n\r\n", &req),
	    400);
	assert_int_equal(parse("GET / HTTP/1.0\r\nA: b\rc\r\n\r\n", &req), 400);
	assert_int_equal(parse("GET / HTTP/1.0\r\n\rx", &req), 400);
	assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", &req), 505);
	/* Limits: the request line, then the headers. */
	big = malloc(HTTP_MAX_REQUEST + 16);
	assert_non_null(big);
	memset(big, 'a', HTTP_MAX_REQUEST + 16);
	memcpy(big, "GET /", 5);
	assert_int_equal(http_parse(big, HTTP_MAX_REQUEST + 16, &req), 414);
	assert_int_equal(http_parse(big, HTTP_MAX_REQUEST - 1, &req), 1);
	memcpy(big, "GET / HTTP/1.0\r\nX: ", 19);
	assert_int_equal(http_parse(big, HTTP_MAX_REQUEST + 16, &req), 431);
	free(big);
}

/* Read until EOF (or the deadline) into buf; bytes read, -1 on reset. */
static ssize_t
read_all(int fd, char *buf, size_t max, int timeout_ms)
{
	long	end = h_now_ms() + timeout_ms;
	size_t	got = 0;
	ssize_t	n;

	while (got < max - 1) {
		long left = end - h_now_ms();

		if (left <= 0 ||
		    poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, left) != 1)
			break;
		if ((n = recv(fd, buf + got, max - 1 - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			buf[got] = '\0';
			return -1;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	return got;
}

/* Send req to the stats port, read the whole reply into buf. */
static ssize_t
http(int port, const char *req, size_t len, char *buf, size_t max)
{
	ssize_t	n;
	int	fd = h_connect("127.0.0.1", port, H_TIMEOUT_MS);

	if (fd < 0)
		return -1;
	if (h_send_all(fd, req, len, H_TIMEOUT_MS) == -1) {
		close(fd);
		return -1;
	}
	n = read_all(fd, buf, max, H_TIMEOUT_MS);
	close(fd);
	return n;
}

static ssize_t
get(int port, const char *req, char *buf, size_t max)
{
	return http(port, req, strlen(req), buf, max);
}

struct env {
	struct daemon	d;
	char		sock[192];
	int		pe, ps;
};

static void	env_start(struct env *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* An echo and a stats listener, the admin socket; top: more top-level
 * settings; fmt: the stats listener's extra keys. */
static void
env_start(struct env *e, const char *top, const char *fmt, ...)
{
	char	conf[2048], extra[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(extra, sizeof(extra), fmt, ap);
	va_end(ap);
	e->pe = h_free_port(4);
	e->ps = h_free_port(4);
	assert_int_equal(h_daemon_init(&e->d, NULL), 0);
	snprintf(e->sock, sizeof(e->sock), "%s/admin.sock", e->d.dir);
	snprintf(conf, sizeof(conf), "workers = 2;\n%s"
	    "admin_socket = \"%s\";\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"%s\"; port = %d; service = \"stats\"; %s });\n",
	    top, e->sock, e->pe, strstr(extra, "allow") != NULL ? "0.0.0.0" :
	    "127.0.0.1", e->ps, extra);
	assert_int_equal(h_write_file(e->d.conf, conf), 0);
	/* Returns on READY=1: both workers ready, /health is 200. */
	assert_int_equal(h_daemon_start(&e->d, 2, "127.0.0.1", e->pe), 0);
}

/* 70 idle stats clients: preforkctl still gets its answers. */
static void
test_idle_stats_clients(void **state)
{
	struct env	 e;
	int		 fds[70], i;
	char		*out, buf[4096];

	(void)state;
	env_start(&e, "", "%s", "");
	for (i = 0; i < 70; i++)
		fds[i] = h_connect("127.0.0.1", e.ps, H_TIMEOUT_MS);
	/* The master took 32 and turned the next away. */
	assert_int_equal(h_wait_log(&e.d, "too many clients", H_TIMEOUT_MS),
	    0);
	if (h_ctl(e.sock, &out, "reload", (char *)NULL) != 0)
		fail_msg("reload: %s", out != NULL ? out : "(no output)");
	free(out);
	assert_int_equal(h_ctl(e.sock, &out, "status", (char *)NULL), 0);
	free(out);
	for (i = 0; i < 70; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Slots come back: a request is served again. */
	assert_true(get(e.ps, "GET /metrics HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/* GET /health until it is served (ok) or refused (!ok): the master
 * counts a client when its loop gets to it.  0, or -1 at the deadline. */
static int
health_until(int port, int ok, char *buf, size_t max)
{
	long	deadline = h_now_ms() + H_TIMEOUT_MS;

	while ((get(port, "GET /health HTTP/1.0\r\n\r\n", buf, max) > 0) !=
	    ok) {
		if (h_now_ms() >= deadline)
			return -1;
	}
	return 0;
}

/* Connect to 127.0.0.1:port from src; a GET /health, its reply. */
static ssize_t
health_from(const char *src, int port, char *buf, size_t max)
{
	const char	*req = "GET /health HTTP/1.0\r\n\r\n";
	ssize_t		 n;
	int		 fd;

	if ((fd = h_connect_from(src, port)) == -1)
		return -1;
	if (h_send_all(fd, req, strlen(req), H_TIMEOUT_MS) == -1)
		goto err;
	n = read_all(fd, buf, max, H_TIMEOUT_MS);
	close(fd);
	return n;
err:
	close(fd);
	return -1;
}

/* allow/deny on a stats listener: refused clients get nothing. */
static void
test_allow_deny(void **state)
{
	struct env	e;
	char		buf[1024];

	(void)state;
	env_start(&e, "", "%s", "allow = [ \"127.0.0.0/8\" ]; "
	    "deny = [ \"127.0.0.3\" ];");
	assert_true(health_from("127.0.0.2", e.ps, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_true(health_from("127.0.0.3", e.ps, buf, sizeof(buf)) <= 0);
	assert_int_equal(h_daemon_stop(&e.d), 0);

	env_start(&e, "", "%s", "allow = [ \"127.0.0.2\" ];");
	assert_true(health_from("127.0.0.1", e.ps, buf, sizeof(buf)) <= 0);
	assert_true(health_from("127.0.0.2", e.ps, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/* max_connections_per_ip on a stats listener. */
static void
test_per_ip(void **state)
{
	struct env	e;
	char		buf[1024];
	int		a, b;

	(void)state;
	env_start(&e, "", "%s", "max_connections_per_ip = 2;");
	a = h_connect("127.0.0.1", e.ps, H_TIMEOUT_MS);
	b = h_connect("127.0.0.1", e.ps, H_TIMEOUT_MS);
	assert_true(a >= 0 && b >= 0);
	/* Once the master has counted a and b, a third is refused... */
	assert_int_equal(health_until(e.ps, 0, buf, sizeof(buf)), 0);
	close(a);
	/* ...and once it has seen a go, one is served again. */
	assert_int_equal(health_until(e.ps, 1, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	close(b);
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/* The status codes, and HEAD without a body. */
static void
test_http_answers(void **state)
{
	struct env	 e;
	char		 buf[16384], *big;
	long		 t0;
	int		 fd;
	ssize_t		 n;

	(void)state;
	env_start(&e, "", "%s", "idle_timeout = 1;");
	n = get(e.ps, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf,
	    sizeof(buf));
	assert_true(n > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_non_null(strstr(buf, "Content-Length: "));
	assert_int_equal(strcmp(strstr(buf, "\r\n\r\n"), "\r\n\r\n"), 0);
	assert_null(strstr(buf, "Content-Length: 0\r\n"));

	assert_true(get(e.ps, "HEAD /health HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_int_equal(strcmp(strstr(buf, "\r\n\r\n"), "\r\n\r\n"), 0);

	assert_true(get(e.ps, "POST /metrics HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 405 ", 13);
	assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));

	assert_true(get(e.ps, "garbage\r\n\r\n", buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 400 ", 13);
	assert_true(get(e.ps, "\x16\x03\x01\x02\x00\x01\x00", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 400 ", 13);

	assert_true(get(e.ps, "GET /secret HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 404 ", 13);

	big = malloc(HTTP_MAX_REQUEST + 100);
	assert_non_null(big);
	memset(big, 'a', HTTP_MAX_REQUEST + 100);
	memcpy(big, "GET /metrics HTTP/1.0\r\nX: ", 26);
	n = http(e.ps, big, HTTP_MAX_REQUEST + 100, buf, sizeof(buf));
	free(big);
	assert_true(n > 0);
	assert_memory_equal(buf, "HTTP/1.0 431 ", 13);

	/* A request not finished in time (the listener's idle_timeout, 1 s):
	 * 408, not before. */
	t0 = h_now_ms();
	fd = h_connect("127.0.0.1", e.ps, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "GET /metrics HTTP/1.0\r\n", 23,
	    H_TIMEOUT_MS), 0);
	assert_true(read_all(fd, buf, sizeof(buf), H_TIMEOUT_MS) > 0);
	assert_true(h_now_ms() - t0 >= 990);
	assert_memory_equal(buf, "HTTP/1.0 408 ", 13);
	close(fd);
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/* A burst of GETs: at most one stats round per heartbeat interval. */
static void
test_metrics_cached(void **state)
{
	struct env	 e;
	char		 buf[16384];
	int		 i, before, after;

	(void)state;
	long		 t0;

	env_start(&e, "log = { level = \"debug\"; };\n"
	    "heartbeat_interval = 5;\nworker_timeout = 10;\n", "%s", "");
	before = h_log_count(&e.d, "stats round");
	t0 = h_now_ms();
	for (i = 0; i < 20; i++) {
		assert_true(get(e.ps, "GET /metrics HTTP/1.0\r\n\r\n", buf,
		    sizeof(buf)) > 0);
		assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	}
	after = h_log_count(&e.d, "stats round");
	/* The first request starts one; the rest take its counters. */
	if (h_now_ms() - t0 < 5000)
		assert_int_equal(after - before, 1);
	else
		assert_true(after - before <= 1 + (h_now_ms() - t0) / 5000);
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/* /health: 200 serving, 503 once a graceful stop began. */
static void
test_health_stop(void **state)
{
	struct env	 e;
	char		 buf[1024];
	int		 held;

	(void)state;
	env_start(&e, "", "%s", "");
	assert_true(get(e.ps, "GET /health HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_non_null(strstr(buf, "\r\n\r\nok"));
	/* A connection held open keeps the graceful stop going. */
	held = h_connect("127.0.0.1", e.pe, H_TIMEOUT_MS);
	assert_true(held >= 0);
	assert_int_equal(h_echo_check(held, "x", 1, H_TIMEOUT_MS), 0);
	assert_int_equal(kill(e.d.pid, SIGQUIT), 0);
	assert_int_equal(h_wait_log(&e.d, "graceful stop", H_TIMEOUT_MS), 0);
	assert_true(get(e.ps, "GET /health HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 503 ", 13);
	assert_non_null(strstr(buf, "stopping"));
	close(held);
	assert_true(h_wait_exit(e.d.pid, H_TIMEOUT_MS * 2) >= 0);
	e.d.pid = 0;
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/*
 * drain_delay: on quit, /health fails at once with the reason, STOPPING=1
 * goes out, status shows the phase, a reload is refused, and new clients
 * are still served; the graceful stop comes no sooner than the delay.
 */
static void
test_drain_delay(void **state)
{
	struct env	 e;
	char		 buf[1024], *out = NULL, top[64];
	/* Long enough for the checks below on a slow machine (a second;
	 * four under valgrind). */
	long		 t0, t1, delay = H_TIMEOUT_MS / 5;
	int		 fd;

	(void)state;
	snprintf(top, sizeof(top), "drain_delay = %ld.%03ld;\n", delay / 1000,
	    delay % 1000);
	env_start(&e, top, "%s", "");
	assert_true(get(e.ps, "GET /health HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
	assert_int_equal(h_ctl(e.sock, &out, "status", (char *)NULL), 0);
	assert_non_null(strstr(out, "phase: serving\n"));
	free(out);
	t0 = h_now_ms();
	assert_int_equal(kill(e.d.pid, SIGQUIT), 0);
	assert_int_equal(h_wait_notify(&e.d, "STOPPING=1", H_TIMEOUT_MS), 0);
	assert_int_equal(h_wait_log(&e.d, "drain delay: /health fails",
	    H_TIMEOUT_MS), 0);
	/* A client of the delay, first: the checks below take a while on a
	 * loaded machine. */
	fd = h_connect("127.0.0.1", e.pe, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "y", 1, H_TIMEOUT_MS), 0);
	assert_true(get(e.ps, "GET /health HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 503 ", 13);
	assert_non_null(strstr(buf, "draining for removal: stopping in "));
	/* Still serving: a new client, and the admin socket. */
	assert_int_equal(h_echo_once("127.0.0.1", e.pe, "still here"), 0);
	assert_int_equal(h_ctl(e.sock, &out, "status", (char *)NULL), 0);
	assert_non_null(strstr(out, "phase: draining for removal"));
	free(out);
	assert_int_not_equal(h_ctl(e.sock, &out, "reload", (char *)NULL), 0);
	assert_non_null(strstr(out, "stopping"));
	free(out);
	assert_int_equal(h_wait_log(&e.d, "graceful stop", H_TIMEOUT_MS), 0);
	t1 = h_now_ms();
	assert_int_equal(h_log_count(&e.d, "drain delay over after"), 1);
	/* Not before the delay; the log line came when it ended. */
	assert_true(t1 - t0 >= delay);
	/* The connection opened during the delay is finished, not cut. */
	assert_int_equal(h_echo_check(fd, "z", 1, H_TIMEOUT_MS), 0);
	close(fd);
	assert_true(h_wait_exit(e.d.pid, H_TIMEOUT_MS) >= 0);
	e.d.pid = 0;
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

/* During the delay a second quit stops gracefully at once; a fast stop
 * (SIGTERM) is as fast as without a delay. */
static void
test_drain_delay_cut(void **state)
{
	static const struct {
		int		 sig;
		const char	*how;
	} cut[] = {
		{ SIGQUIT, "drain delay cut short by another quit" },
		{ SIGTERM, "drain delay cut short by a stop request" },
	};
	struct env	 e;
	size_t		 i;
	long		 t0;
	int		 st;

	(void)state;
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		env_start(&e, "drain_delay = 60;\n", "%s", "");
		assert_int_equal(kill(e.d.pid, SIGQUIT), 0);
		assert_int_equal(h_wait_log(&e.d, "drain delay: /health fails",
		    H_TIMEOUT_MS), 0);
		t0 = h_now_ms();
		assert_int_equal(kill(e.d.pid, cut[i].sig), 0);
		st = h_wait_exit(e.d.pid, H_TIMEOUT_MS);
		assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		/* Well inside the 60 s delay. */
		assert_true(h_now_ms() - t0 < H_TIMEOUT_MS);
		e.d.pid = 0;
		assert_int_equal(h_log_count(&e.d, cut[i].how), 1);
		assert_int_equal(h_log_count(&e.d, cut[i].sig == SIGQUIT ?
		    "graceful stop" : "fast stop"), 1);
		assert_int_equal(h_daemon_stop(&e.d), 0);
	}
}

/* /health: 503 while a slot has no ready worker (workers crash). */
static void
test_health_no_worker(void **state)
{
	struct daemon	 d;
	char		 conf[1024], buf[1024];
	int		 pc = h_free_port(4), ps = h_free_port(4);

	(void)state;
	assert_int_equal(h_daemon_init(&d, NULL), 0);
	snprintf(conf, sizeof(conf), "workers = 1;\n"
	    "modules = ({ name = \"crash\"; path = \"%s\"; });\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"crash\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"stats\"; });\n",
	    CRASH_MODULE, pc, ps);
	assert_int_equal(h_write_file(d.conf, conf), 0);
	assert_int_equal(h_daemon_start(&d, -1, "127.0.0.1", ps), 0);
	assert_true(get(ps, "GET /health HTTP/1.0\r\n\r\n", buf,
	    sizeof(buf)) > 0);
	assert_memory_equal(buf, "HTTP/1.0 503 ", 13);
	assert_non_null(strstr(buf, "slot 0 has no ready worker"));
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* The admin socket: send, half-close or not, read the whole reply. */
static ssize_t
admin(const char *sock, const char *req, size_t len, int half_close,
    char *buf, size_t max)
{
	ssize_t	n;
	int	fd = h_connect(sock, 0, H_TIMEOUT_MS);

	if (fd < 0)
		return -1;
	if (h_send_all(fd, req, len, H_TIMEOUT_MS) == -1 ||
	    (half_close && shutdown(fd, SHUT_WR) == -1)) {
		close(fd);
		return -1;
	}
	n = read_all(fd, buf, max, H_TIMEOUT_MS);
	close(fd);
	return n;
}

static void
test_admin_edges(void **state)
{
	struct env	 e;
	char		 buf[8192], line[4096];

	(void)state;
	env_start(&e, "", "%s", "");
	assert_true(admin(e.sock, "help", 4, 1, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "OK\n", 3);
	assert_true(admin(e.sock, "status", 6, 1, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "OK\n", 3);
	/* A complete line, then EOF while the stats round runs. */
	assert_true(admin(e.sock, "stats\n", 6, 1, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "OK\n", 3);
	assert_true(admin(e.sock, "help\r", 5, 1, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "OK\n", 3);
	assert_true(admin(e.sock, "bogus", 5, 1, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "ERR ", 4);
	/* Too long: the error, then EOF, no reset. */
	memset(line, 'a', sizeof(line));
	assert_int_equal(admin(e.sock, line, sizeof(line), 0, buf,
	    sizeof(buf)), 21);
	assert_string_equal(buf, "ERR request too long\n");
	assert_int_equal(admin(e.sock, line, sizeof(line), 1, buf,
	    sizeof(buf)), 21);
	assert_string_equal(buf, "ERR request too long\n");
	assert_int_equal(h_daemon_stop(&e.d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_idle_stats_clients),
		cmocka_unit_test(test_allow_deny),
		cmocka_unit_test(test_per_ip),
		cmocka_unit_test(test_http_answers),
		cmocka_unit_test(test_metrics_cached),
		cmocka_unit_test(test_health_stop),
		cmocka_unit_test(test_drain_delay),
		cmocka_unit_test(test_drain_delay_cut),
		cmocka_unit_test(test_health_no_worker),
		cmocka_unit_test(test_admin_edges),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
