/*
 * test_reload.c -- integration tests of reloading and the daemon's
 * lifecycle, against the real binary: a broken file keeps the old
 * generation serving and tells the caller why; listeners and worker
 * counts follow the file; draining connections get "shutdown" and are
 * closed at the deadline; 20 reloads under 100 busy clients lose nothing;
 * "-s quit" waits for connections; pidfiles are honest.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tests/load.h"

struct rd {
	struct daemon	d;
	char		sock[192];
	char		pid[192];
};

static void	rd_write(struct rd *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Write the configuration: common head plus body (listeners etc.). */
static void
rd_write(struct rd *r, const char *fmt, ...)
{
	char	body[2048], conf[4096];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(conf, sizeof(conf),
	    "heartbeat_interval = 0.1;\n"
	    "admin_socket = \"%s\";\n"
	    "pidfile = \"%s\";\n"
	    "%s", r->sock, r->pid, body);
	assert_int_equal(h_write_file(r->d.conf, conf), 0);
}

static void
rd_init(struct rd *r)
{
	assert_int_equal(h_daemon_init(&r->d, NULL), 0);
	snprintf(r->sock, sizeof(r->sock), "%s/admin.sock", r->d.dir);
	snprintf(r->pid, sizeof(r->pid), "%s/preforkd.pid", r->d.dir);
}

static int
count(const char *s, const char *needle)
{
	int	n = 0;

	while (s != NULL && (s = strstr(s, needle)) != NULL) {
		n++;
		s++;
	}
	return n;
}

/* Ready workers of generation gen, per status --json. */
static int
ready_in_generation(struct rd *r, int gen)
{
	char	*json = NULL, pat[64];
	int	 n;

	assert_int_equal(h_ctl(r->sock, &json, "status", "--json",
	    (char *)NULL), 0);
	snprintf(pat, sizeof(pat), "\"generation\":%d,\"state\":\"ready\"",
	    gen);
	n = count(json, pat);
	free(json);
	return n;
}

/* A broken file: reload fails with file:line, the old one keeps serving. */
static void
test_reload_broken(void **state)
{
	struct rd		 r;
	struct sockaddr_in	 sin;
	socklen_t		 len;
	char			*out = NULL, want[256], conf[512];
	int			 port = h_free_port(4), fd, taken;

	rd_init(&r);
	snprintf(conf, sizeof(conf), "workers = 2;\nlisteners = ({ address = "
	    "\"127.0.0.1\"; port = %d; service = \"echo\"; });\n", port);
	rd_write(&r, "%s", conf);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", port), 0);

	/* Line 6: three lines of head, then two of conf, then this. */
	rd_write(&r, "%sno_such_key = 1;\n", conf);
	assert_int_equal(h_ctl(r.sock, &out, "reload", (char *)NULL), 1);
	snprintf(want, sizeof(want), "%s:6: unknown setting 'no_such_key'",
	    r.d.conf);
	assert_non_null(strstr(out, want));
	free(out);
	assert_int_equal(h_echo_once("127.0.0.1", port, "still\n"), 0);
	assert_int_equal(ready_in_generation(&r, 1), 2);

	/* The same through -s reload, and through a bare SIGHUP. */
	assert_int_equal(h_run(&r.d, H_TIMEOUT_MS, "-s", "reload", "-c",
	    r.d.conf, (char *)NULL) >> 8, 1);
	assert_int_equal(kill(r.d.pid, SIGHUP), 0);
	assert_int_equal(h_wait_log(&r.d, "reload (SIGHUP) failed", 2000), 0);
	assert_true(h_pid_alive(r.d.pid));

	/* Valid, but a port that cannot be bound: refused, nothing moves. */
	fd = h_connect("127.0.0.1", port, H_TIMEOUT_MS);	/* taken */
	assert_true(fd >= 0);
	close(fd);
	taken = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(taken >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(taken, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(taken, 1), 0);
	len = sizeof(sin);
	assert_int_equal(getsockname(taken, (struct sockaddr *)&sin, &len), 0);
	rd_write(&r, "workers = 2;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; }, { address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", port, ntohs(sin.sin_port));
	assert_int_equal(h_ctl(r.sock, &out, "reload", (char *)NULL), 1);
	assert_non_null(strstr(out, "cannot set up the listeners"));
	free(out);
	close(taken);

	assert_int_equal(h_ctl(r.sock, &out, "status", "--json", (char *)NULL),
	    0);
	assert_non_null(strstr(out, "\"last_reload\":{"));
	assert_non_null(strstr(out, "\"ok\":false"));
	assert_non_null(strstr(out, "\"generation\":1,"));
	free(out);
	assert_int_equal(h_echo_once("127.0.0.1", port, "still\n"), 0);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* Wait until connecting to port is refused (the socket is closed). */
static int
wait_refused(int port, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;
	int	fd;

	while (h_now_ms() < deadline) {
		if ((fd = h_connect("127.0.0.1", port, 500)) == -1)
			return 0;
		close(fd);
		poll(NULL, 0, 20);
	}
	return -1;
}

/* Listeners added and removed, workers 2 -> 3 -> 1: as the file says. */
static void
test_reload_follows_file(void **state)
{
	struct rd	 r;
	char		*out = NULL;
	int		 a = h_free_port(4), b = h_free_port(4);
	char		 la[64], lb[64];

	rd_init(&r);
	rd_write(&r, "workers = 2;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", a);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", a), 0);
	assert_int_equal(wait_refused(b, 100), 0);

	rd_write(&r, "workers = 3;\nlisteners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; });\n",
	    a, b);
	assert_int_equal(h_ctl(r.sock, &out, "reload", (char *)NULL), 0);
	assert_non_null(strstr(out, "generation 2"));
	free(out);
	assert_int_equal(ready_in_generation(&r, 2), 3);
	assert_int_equal(h_echo_once("127.0.0.1", a, "a\n"), 0);
	assert_int_equal(h_echo_once("127.0.0.1", b, "b\n"), 0);
	assert_int_equal(h_wait_children(r.d.pid, 3, H_TIMEOUT_MS), 0);

	rd_write(&r, "workers = 1;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", b);
	assert_int_equal(h_ctl(r.sock, &out, "reload", (char *)NULL), 0);
	assert_non_null(strstr(out, "generation 3"));
	free(out);
	assert_int_equal(ready_in_generation(&r, 3), 1);
	assert_int_equal(h_echo_once("127.0.0.1", b, "b again\n"), 0);
	/* Removed: closed once generation 2 has drained. */
	assert_int_equal(wait_refused(a, 3000), 0);
	assert_int_equal(h_wait_children(r.d.pid, 1, H_TIMEOUT_MS), 0);

	/* Each address was bound exactly once: kept sockets are reused. */
	snprintf(la, sizeof(la), "listening on 127.0.0.1:%d ", a);
	snprintf(lb, sizeof(lb), "listening on 127.0.0.1:%d ", b);
	assert_int_equal(h_log_count(&r.d, la), 1);
	assert_int_equal(h_log_count(&r.d, lb), 1);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* A connection kept past the drain gets "shutdown", then the deadline. */
static void
test_reload_shutdown_deadline(void **state)
{
	struct rd	 r;
	char		 buf[16];
	long		 t0, t1;
	int		 p = h_free_port(4), fd;

	rd_init(&r);
	rd_write(&r, "workers = 1;\nshutdown_timeout = 1;\n"
	    "modules = ({ name = \"notify\"; path = \"%s\"; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"notify\"; });\n", NOTIFY_MODULE, p);
	assert_int_equal(h_daemon_start(&r.d, 1, "127.0.0.1", p), 0);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "x", 1, H_TIMEOUT_MS), 0);

	t0 = h_now_ms();
	assert_int_equal(h_ctl(r.sock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_recv_exact(fd, buf, 9, 2000), 0);
	assert_memory_equal(buf, "shutdown\n", 9);
	/* Still served until the deadline... */
	assert_int_equal(h_echo_check(fd, "y", 1, H_TIMEOUT_MS), 0);
	/* ...while new connections go to the new generation. */
	assert_int_equal(h_echo_once("127.0.0.1", p, "new\n"), 0);
	assert_int_equal(h_recv_eof(fd, 4000), 0);
	t1 = h_now_ms();
	assert_true(t1 - t0 >= 900);
	assert_true(t1 - t0 < 4000);
	close(fd);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* The daemon of admin socket sock has a connection open. */
static int
one_active(void *sock)
{
	char		*json = NULL;
	long long	 n = -1;

	if (h_ctl(sock, &json, "stats", "--json", (char *)NULL) == 0)
		n = h_json_num(json, "totals", "connections_active");
	free(json);
	return n >= 1;
}

/*
 * A client still in a stage (here: its PROXY header not sent yet) when
 * its worker begins to drain hears "shutdown" as soon as it is the
 * service's, not only at the drain deadline.
 */
static void
test_reload_shutdown_in_stage(void **state)
{
	struct rd	 r;
	char		 buf[16], hdr[96];
	int		 p = h_free_port(4), fd, n;

	rd_init(&r);
	rd_write(&r, "workers = 1;\nshutdown_timeout = 10;\n"
	    "modules = ({ name = \"notify\"; path = \"%s\"; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"notify\"; proxy_protocol = true; });\n",
	    NOTIFY_MODULE, p);
	assert_int_equal(h_daemon_start(&r.d, 1, "127.0.0.1", p), 0);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	/* Taken in by the worker, waiting for its header. */
	assert_int_equal(h_wait_for(one_active, r.sock, H_TIMEOUT_MS), 0);
	assert_int_equal(h_ctl(r.sock, NULL, "reload", (char *)NULL), 0);
	n = snprintf(hdr, sizeof(hdr), "PROXY TCP4 127.0.0.2 127.0.0.1 1111 "
	    "%d\r\n", p);
	assert_int_equal(h_send_all(fd, hdr, (size_t)n, H_TIMEOUT_MS), 0);
	/* Well before the 10 s deadline. */
	assert_int_equal(h_recv_exact(fd, buf, 9, 3000), 0);
	assert_memory_equal(buf, "shutdown\n", 9);
	assert_int_equal(h_echo_check(fd, "y", 1, H_TIMEOUT_MS), 0);
	close(fd);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

#define LOAD_RELOADS	20
#define LOAD_CONF	"workers = %d;\nshutdown_timeout = 30;\n" \
			"max_old_generations = 30;\nlisteners = ({ address =" \
			" \"127.0.0.1\"; port = %d; service = \"echo\"; " \
			"backlog = 1024; });\n"

/* The worker count of reload i when resizing: grow, shrink, to one. */
static int
load_workers(int i)
{
	static const int	n[] = { 4, 1, 3, 2 };

	return n[i % 4];
}

/*
 * 64 clients in round trips, reconnecting all the time, through 20
 * reloads: not one refused, reset, cut short or corrupted.  With resize,
 * the worker count changes at every reload (reuseport sets grow, and
 * shrink only in whom they steer to).
 */
static void
reload_under_load(int resize)
{
	struct load_result	 res;
	struct load		 l;
	struct rd		 r;
	int			 p = h_free_port(4), i;

	rd_init(&r);
	rd_write(&r, LOAD_CONF, 2, p);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", p), 0);
	load_start(&l, p, LOAD_MAX);
	load_wait_accepts(r.sock, 10);
	for (i = 0; i < LOAD_RELOADS; i++) {
		if (resize)
			rd_write(&r, LOAD_CONF, load_workers(i), p);
		assert_int_equal(h_ctl(r.sock, NULL, "reload", (char *)NULL),
		    0);
	}
	load_wait_accepts(r.sock, 20);
	load_stop(&l, &res, resize ? "20 reloads, resizing" : "20 reloads");
	load_assert_clean(&res, 2000);
	assert_int_equal(res.refused, 0);
	assert_true(res.connects > 200);
	assert_int_equal(ready_in_generation(&r, 1 + LOAD_RELOADS),
	    resize ? load_workers(LOAD_RELOADS - 1) : 2);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

static void
test_reload_under_load(void **state)
{
	reload_under_load(0);
}

static void
test_reload_resize_under_load(void **state)
{
	reload_under_load(1);
}

/* -s quit returns only after the active connections have finished. */
static void
test_signal_quit(void **state)
{
	struct rd	r;
	struct stat	sb;
	pid_t		q, master;
	int		p = h_free_port(4), fd, st;

	rd_init(&r);
	rd_write(&r, "workers = 2;\nshutdown_timeout = 20;\nlisteners = ({ "
	    "address = \"127.0.0.1\"; port = %d; service = \"echo\"; });\n",
	    p);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", p), 0);
	master = r.d.pid;
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "hold", 4, H_TIMEOUT_MS), 0);

	q = h_spawn(&r.d, "-s", "quit", "-c", r.d.conf, (char *)NULL);
	assert_true(q > 0);
	/* The connection keeps working; nobody exits while it is open. */
	assert_int_equal(h_wait_log(&r.d, "graceful stop", 2000), 0);
	assert_int_equal(h_echo_check(fd, "more", 4, H_TIMEOUT_MS), 0);
	assert_int_equal(h_wait_exit(q, 500), -1);
	assert_true(h_pid_alive(master));
	/* Refused meanwhile: nobody accepts any more. */
	close(fd);
	st = h_wait_exit(q, 5000);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = h_wait_exit(master, 2000);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	r.d.pid = 0;
	assert_int_equal(stat(r.pid, &sb), -1);	/* pidfile removed */
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* One master per pidfile; a dead master's file is called stale. */
static void
test_pidfile(void **state)
{
	struct rd	 r;
	char		*log, want[256];
	int		 p = h_free_port(4), st;

	rd_init(&r);
	rd_write(&r, "workers = 1;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", p);
	assert_int_equal(h_daemon_start(&r.d, 1, "127.0.0.1", p), 0);
	st = h_run(&r.d, H_TIMEOUT_MS, "-c", r.d.conf, (char *)NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	snprintf(want, sizeof(want), "already running as pid %ld",
	    (long)r.d.pid);
	assert_int_equal(h_wait_log(&r.d, want, 1000), 0);

	assert_int_equal(kill(r.d.pid, SIGKILL), 0);
	assert_true(h_wait_exit(r.d.pid, H_TIMEOUT_MS) != -1);
	r.d.pid = 0;
	st = h_run(&r.d, H_TIMEOUT_MS, "-s", "stop", "-c", r.d.conf,
	    (char *)NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	log = h_read_file(r.d.log);
	assert_non_null(strstr(log, "stale pidfile"));
	free(log);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* USR1 or reopen after a rename: every process writes to the new file. */
static void
test_log_reopen(void **state)
{
	struct rd	 r;
	char		 log[256], old[256], *text, tag[64];
	pid_t		 kids[4];
	int		 p = h_free_port(4), i, st;

	rd_init(&r);
	snprintf(log, sizeof(log), "%s/server.log", r.d.dir);
	snprintf(old, sizeof(old), "%s/server.log.1", r.d.dir);
	rd_write(&r, "workers = 2;\nlog = { level = \"info\"; file = \"%s\"; "
	    "};\nlisteners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", log, p);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", p), 0);
	assert_int_equal(h_children(r.d.pid, kids, 4), 2);
	assert_int_equal(rename(log, old), 0);

	assert_int_equal(h_ctl(r.sock, &text, "reopen", (char *)NULL), 0);
	assert_non_null(strstr(text, "reopened by every process"));
	free(text);
	text = h_read_file(log);
	assert_non_null(text);
	snprintf(tag, sizeof(tag), "preforkd[%ld] master: info: log reopened",
	    (long)r.d.pid);
	assert_non_null(strstr(text, tag));
	for (i = 0; i < 2; i++) {
		snprintf(tag, sizeof(tag), "preforkd[%ld] worker", (long)kids[i]);
		assert_non_null(strstr(text, tag));
	}
	free(text);
	text = h_read_file(old);
	assert_non_null(text);
	assert_null(strstr(text, "log reopened"));
	free(text);

	/* SIGUSR1 and -s reopen do the same. */
	assert_int_equal(rename(log, old), 0);
	assert_int_equal(kill(r.d.pid, SIGUSR1), 0);
	for (i = 0; i < 200; i++) {
		text = h_read_file(log);
		st = text != NULL && count(text, "log reopened") == 3;
		free(text);
		if (st)
			break;
		poll(NULL, 0, 10);
	}
	assert_int_equal(i < 200, 1);
	st = h_run(&r.d, H_TIMEOUT_MS, "-s", "reopen", "-c", r.d.conf,
	    (char *)NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	text = h_read_file(log);
	assert_int_equal(count(text, "log reopened"), 6);
	free(text);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* Read one datagram within the time; its text, or "" on timeout. */
static void
notify_recv(int fd, char *buf, size_t size)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	ssize_t		n = 0;

	if (poll(&pfd, 1, H_TIMEOUT_MS) == 1)
		n = recv(fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

/* $NOTIFY_SOCKET hears READY, RELOADING (with its clock), READY, STOPPING. */
static void
test_notify(void **state)
{
	struct sockaddr_un	sun;
	struct rd		r;
	char			buf[1024];
	int			p = h_free_port(4), fd, st;

	rd_init(&r);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", r.d.dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	rd_write(&r, "workers = 2;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", p);
	assert_int_equal(setenv("NOTIFY_SOCKET", sun.sun_path, 1), 0);
	st = h_daemon_start(&r.d, 2, "127.0.0.1", p);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(st, 0);

	notify_recv(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "READY=1"));
	assert_int_equal(h_ctl(r.sock, NULL, "reload", (char *)NULL), 0);
	notify_recv(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "RELOADING=1"));
	assert_non_null(strstr(buf, "MONOTONIC_USEC="));
	notify_recv(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "READY=1"));
	assert_non_null(strstr(buf, "generation 2"));
	assert_int_equal(kill(r.d.pid, SIGTERM), 0);
	notify_recv(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "STOPPING=1"));
	close(fd);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* The value of "Key:" in /proc/pid/status, or of a limits line. */
static long
proc_field(pid_t pid, const char *file, const char *key)
{
	char	path[64], *text, *p;
	long	v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((text = h_read_file(path)) == NULL)
		return -1;
	if ((p = strstr(text, key)) != NULL)
		v = strtol(p + strlen(key), NULL, 10);
	free(text);
	return v;
}

/* -d returns once serving; the master is detached; -s stop ends it. */
static void
test_daemon_mode(void **state)
{
	struct rd	 r;
	char		 log[256], *text;
	pid_t		 master;
	int		 p = h_free_port(4), st;

	rd_init(&r);
	snprintf(log, sizeof(log), "%s/server.log", r.d.dir);
	rd_write(&r, "workers = 2;\nlog = { file = \"%s\"; };\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", log, p);
	st = h_run(&r.d, 20000, "-d", "-c", r.d.conf, (char *)NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Ready when -d returned: no waiting needed. */
	assert_int_equal(h_echo_once("127.0.0.1", p, "daemon\n"), 0);
	text = h_read_file(r.pid);
	assert_non_null(text);
	master = (pid_t)atol(text);
	free(text);
	assert_true(master > 0);
	assert_true(h_pid_alive(master));
	assert_true(proc_field(master, "status", "PPid:") != getpid());
	assert_int_equal(h_children(master, NULL, 0), 2);
	st = h_run(&r.d, 20000, "-s", "stop", "-c", r.d.conf, (char *)NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		kill(master, SIGKILL);	/* not our child: do not leave it */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(h_pid_alive(master));
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* Workers run as user/group with the fd limit; reopen still works. */
static void
test_privileges(void **state)
{
	struct rd	 r;
	char		 log[256], *text;
	pid_t		 kids[4];
	int		 p = h_free_port(4), i;

	if (geteuid() != 0 || getpwnam("nobody") == NULL ||
	    getgrnam("nogroup") == NULL)
		skip();
	rd_init(&r);
	snprintf(log, sizeof(log), "%s/server.log", r.d.dir);
	rd_write(&r, "workers = 2;\nuser = \"nobody\";\ngroup = \"nogroup\";\n"
	    "rlimit_nofile = 4096;\nlog = { file = \"%s\"; };\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", log, p);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", p), 0);
	assert_int_equal(h_children(r.d.pid, kids, 4), 2);
	assert_int_equal(proc_field(r.d.pid, "status", "Uid:"), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(proc_field(kids[i], "status", "Uid:"),
		    (long)getpwnam("nobody")->pw_uid);
		assert_int_equal(proc_field(kids[i], "status", "Gid:"),
		    (long)getgrnam("nogroup")->gr_gid);
		assert_int_equal(proc_field(kids[i], "limits",
		    "Max open files"), 4096);
	}
	assert_int_equal(h_echo_once("127.0.0.1", p, "unprivileged\n"), 0);
	/* The log is root's, mode 0640: only a passed descriptor works. */
	assert_int_equal(unlink(log), 0);
	assert_int_equal(h_ctl(r.sock, NULL, "reopen", (char *)NULL), 0);
	text = h_read_file(log);
	assert_non_null(text);
	assert_int_equal(count(text, "log reopened"), 3);
	free(text);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

/* chroot: workers live in it, with modules loaded before they entered. */
static void
test_chroot(void **state)
{
	struct rd	 r;
	char		 root[256], path[64], asan[256], *old;
	pid_t		 kids[4];
	ssize_t		 n;
	int		 p = h_free_port(4), i;

	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		skip();
	/* LeakSanitizer reads /proc at exit, which a jail does not have. */
	old = getenv("ASAN_OPTIONS");
	old = old != NULL ? strdup(old) : NULL;
	snprintf(asan, sizeof(asan), "%s%sdetect_leaks=0",
	    old != NULL ? old : "", old != NULL ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	rd_init(&r);
	rd_write(&r, "workers = 2;\nchroot = \"%s\";\nuser = \"nobody\";\n"
	    "modules = ({ name = \"notify\"; path = \"%s\"; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"notify\"; });\n", r.d.dir, NOTIFY_MODULE, p);
	assert_int_equal(h_daemon_start(&r.d, 2, "127.0.0.1", p), 0);
	assert_int_equal(h_children(r.d.pid, kids, 4), 2);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/root", (long)kids[i]);
		n = readlink(path, root, sizeof(root) - 1);
		assert_true(n > 0);
		root[n] = '\0';
		assert_string_equal(root, r.d.dir);
		assert_int_equal(proc_field(kids[i], "status", "Uid:"),
		    (long)getpwnam("nobody")->pw_uid);
	}
	snprintf(path, sizeof(path), "/proc/%ld/root", (long)r.d.pid);
	n = readlink(path, root, sizeof(root) - 1);
	assert_true(n > 0);
	root[n] = '\0';
	assert_string_equal(root, "/");		/* the master is not jailed */
	assert_int_equal(h_echo_once("127.0.0.1", p, "jailed\n"), 0);
	/* A reload re-reads the file and loads the module outside the jail. */
	assert_int_equal(h_ctl(r.sock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_echo_once("127.0.0.1", p, "again\n"), 0);
	assert_int_equal(h_daemon_stop(&r.d), 0);
	if (old != NULL)
		setenv("ASAN_OPTIONS", old, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(old);
}

/* Another uid: refused by the socket's mode, and by SO_PEERCRED. */
static void
test_admin_other_uid(void **state)
{
	struct rd	 r;
	char		 mode[32];
	pid_t		 pid;
	int		 p = h_free_port(4), st, m;

	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		skip();
	for (m = 0; m < 2; m++) {
		rd_init(&r);
		/* Let nobody reach the socket: only its own mode may stop it. */
		assert_int_equal(chmod(r.d.dir, 0711), 0);
		snprintf(mode, sizeof(mode), "%s", m == 0 ? "0600" : "0666");
		rd_write(&r, "workers = 1;\nadmin_mode = \"%s\";\nlisteners "
		    "= ({ address = \"127.0.0.1\"; port = %d; service = "
		    "\"echo\"; });\n", mode, p);
		assert_int_equal(h_daemon_start(&r.d, 1, "127.0.0.1", p), 0);
		assert_int_equal(h_ctl(r.sock, NULL, "status", (char *)NULL),
		    0);				/* root is served */
		if ((pid = fork()) == 0) {
			char	*out = NULL;
			int	 rc;

			if (setuid(getpwnam("nobody")->pw_uid) == -1)
				_exit(3);
			rc = h_ctl(r.sock, &out, "status", (char *)NULL);
			/* 0600: cannot connect (2); 0666: dropped, no OK. */
			_exit(rc == 0 || (out != NULL &&
			    strncmp(out, "pid ", 4) == 0) ? 1 : 0);
		}
		assert_true(pid > 0);
		st = h_wait_exit(pid, 20000);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		if (m == 1)
			assert_int_equal(h_wait_log(&r.d, "admin: refused uid",
			    1000), 0);
		assert_int_equal(h_daemon_stop(&r.d), 0);
	}
}

/* LISTEN_FDS: the passed socket is used, nothing is bound. */
static void
test_socket_activation(void **state)
{
	struct sockaddr_in	 sin;
	struct rd		 r;
	socklen_t		 len = sizeof(sin);
	char			 want[64];
	int			 lfd, port;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 64), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);

	rd_init(&r);
	rd_write(&r, "workers = 2;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", port);
	assert_true(h_spawn_activated(&r.d, lfd) > 0);
	close(lfd);
	assert_int_equal(h_wait_children(r.d.pid, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_echo_once("127.0.0.1", port, "activated\n"), 0);
	snprintf(want, sizeof(want), "listener 127.0.0.1:%d: from socket "
	    "activation", port);
	assert_int_equal(h_wait_log(&r.d, want, 1000), 0);
	/* Had it bound the port itself, start-up would have failed. */
	snprintf(want, sizeof(want), "listening on 127.0.0.1:%d", port);
	assert_int_equal(h_log_count(&r.d, want), 0);
	/* And a reload keeps using it. */
	assert_int_equal(h_ctl(r.sock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_echo_once("127.0.0.1", port, "still\n"), 0);
	assert_int_equal(h_daemon_stop(&r.d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_broken),
		cmocka_unit_test(test_reload_follows_file),
		cmocka_unit_test(test_reload_shutdown_deadline),
		cmocka_unit_test(test_reload_shutdown_in_stage),
		cmocka_unit_test(test_reload_under_load),
		cmocka_unit_test(test_reload_resize_under_load),
		cmocka_unit_test(test_signal_quit),
		cmocka_unit_test(test_pidfile),
		cmocka_unit_test(test_log_reopen),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_daemon_mode),
		cmocka_unit_test(test_privileges),
		cmocka_unit_test(test_socket_activation),
		cmocka_unit_test(test_chroot),
		cmocka_unit_test(test_admin_other_uid),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
