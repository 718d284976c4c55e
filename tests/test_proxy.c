/*
 * test_proxy.c -- integration tests of the proxy service on the real
 * daemon, in front of real backends: the echo service and a
 * proxy_protocol peeraddr listener of a second preforkd, and a plain
 * Python server (it greets with "PY\n", echoes, and on a '!' half-closes
 * its side and reports on its stdout what still arrived).
 *
 * Every byte through (4 MiB, verified) and half-close both ways; a client
 * that does not read keeps the proxy worker's memory bounded; a refused
 * and a timed-out backend retried on the next with no client error, then
 * skipped once down; roundrobin 1:3, source and leastconn shares; PROXY v1
 * and v2 headers carrying the client's address; a reload that moves the
 * backends under load without a client error.
 *
 * The front daemon runs one worker, so balancing is deterministic.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#include "tests/harness.h"

static const char pyserver[] =
	"import socket, sys, threading\n"
	"s = socket.socket()\n"
	"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	"s.bind(('127.0.0.1', 0))\n"
	"s.listen(256)\n"
	"print(s.getsockname()[1], flush=True)\n"
	"def serve(c):\n"
	"    try:\n"
	"        c.sendall(b'PY\\n')\n"
	"        half = False\n"
	"        n = 0\n"
	"        while True:\n"
	"            d = c.recv(65536)\n"
	"            if not d:\n"
	"                break\n"
	"            if half:\n"
	"                n += len(d)\n"
	"                continue\n"
	"            i = d.find(b'!')\n"
	"            if i < 0:\n"
	"                c.sendall(d)\n"
	"                continue\n"
	"            c.sendall(d[:i + 1])\n"
	"            c.shutdown(socket.SHUT_WR)\n"
	"            half = True\n"
	"            n = len(d) - i - 1\n"
	"        if half:\n"
	"            print('half %d' % n, flush=True)\n"
	"    except OSError:\n"
	"        pass\n"
	"    finally:\n"
	"        c.close()\n"
	"while True:\n"
	"    c, _ = s.accept()\n"
	"    threading.Thread(target=serve, args=(c,), daemon=True).start()\n";

/* What every test shares: the backends, and a front with one proxy
 * listener per scenario. */
static struct {
	struct daemon	back;		/* echo + peeraddr behind PROXY */
	struct daemon	front;
	pid_t		py;
	int		py_out;		/* its stdout */
	int		py_port;
	int		echo, peer;	/* back's ports */
	int		dead;		/* nobody listens there */
	int		hole_fd, hole;	/* a listener whose queue is full */
	int		hole_cl[4];
	int		p_one, p_retry, p_timeout, p_rr, p_source, p_lc,
			p_v1, p_v2;
} t;

/* A line from python's stdout (bounded wait); 0 or -1. */
static int
py_line(char *buf, size_t size, int timeout_ms)
{
	long	end = h_now_ms() + timeout_ms;
	size_t	n = 0;

	while (n + 1 < size && h_now_ms() < end) {
		if (poll(&(struct pollfd){ t.py_out, POLLIN, 0 }, 1,
		    (int)(end - h_now_ms())) != 1)
			continue;
		if (read(t.py_out, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

static int
py_start(void)
{
	char	line[32];
	int	p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((t.py = fork()) == 0) {
		int	null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		dup2(null, 2);
		execlp("python3", "python3", "-c", pyserver, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	t.py_out = p[0];
	if (t.py == -1 || py_line(line, sizeof(line), H_TIMEOUT_MS) == -1)
		return -1;
	t.py_port = atoi(line);
	return t.py_port > 0 ? 0 : -1;
}

/* A listener nobody accepts on, its queue full: a SYN to it is dropped
 * and a connect hangs until its timeout. */
static int
hole_start(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	size_t			i;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((t.hole_fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(t.hole_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(t.hole_fd, 0) == -1 ||
	    getsockname(t.hole_fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	t.hole = ntohs(sin.sin_port);
	for (i = 0; i < sizeof(t.hole_cl) / sizeof(t.hole_cl[0]); i++) {
		t.hole_cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(t.hole_cl[i], (struct sockaddr *)&sin,
		    sizeof(sin));
	}
	return 0;
}

#define PROXY(port, extra, backends) \
	"  { address = \"127.0.0.1\"; port = %d; service = \"proxy\";\n" \
	"    " extra "\n    backends = ( " backends " ); }\n"
#define BE(port, w) \
	"{ address = \"127.0.0.1\"; port = %d; weight = " #w "; }"

static int
setup(void **state)
{
	memset(&t, 0, sizeof(t));
	signal(SIGPIPE, SIG_IGN);
	t.echo = h_free_port(4);
	t.peer = h_free_port(4);
	t.dead = h_free_port(4);
	if (py_start() == -1 || hole_start() == -1)
		return -1;
	if (h_daemon_startf(&t.back, "workers = 1;\n"
	    "modules = ({ name = \"peeraddr\"; path = \"%s\"; });\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"peeraddr\";\n"
	    "    proxy_protocol = true; }\n"
	    ");\n", PEERADDR_MODULE, t.echo, t.peer) == -1)
		return -1;
	t.p_one = h_free_port(4);
	t.p_retry = h_free_port(4);
	t.p_timeout = h_free_port(4);
	t.p_rr = h_free_port(4);
	t.p_source = h_free_port(4);
	t.p_lc = h_free_port(4);
	t.p_v1 = h_free_port(4);
	t.p_v2 = h_free_port(4);
	return h_daemon_startf(&t.front, "workers = 1;\n"
	    "log = { level = \"debug\"; };\n"
	    "listeners = (\n"
	    PROXY(t.p_one, "", BE(t.echo, 1)) ","
	    PROXY(t.p_retry, "backend_fail_max = 2; backend_down_time = 60;",
		BE(t.dead, 1) ", " BE(t.echo, 1)) ","
	    PROXY(t.p_timeout, "connect_timeout = 0.3; backend_fail_max = 1;"
		" backend_down_time = 60;", BE(t.hole, 1) ", " BE(t.echo, 1)) ","
	    PROXY(t.p_rr, "", BE(t.echo, 1) ", " BE(t.py_port, 3)) ","
	    PROXY(t.p_source, "balance = \"source\";",
		BE(t.echo, 1) ", " BE(t.py_port, 1)) ","
	    PROXY(t.p_lc, "balance = \"leastconn\";",
		BE(t.echo, 1) ", " BE(t.py_port, 1)) ","
	    PROXY(t.p_v1, "send_proxy = \"v1\";", BE(t.peer, 1)) ","
	    PROXY(t.p_v2, "send_proxy = \"v2\";", BE(t.peer, 1))
	    ");\n",
	    t.p_one, t.echo, t.p_retry, t.dead, t.echo, t.p_timeout, t.hole,
	    t.echo, t.p_rr, t.echo, t.py_port, t.p_source, t.echo, t.py_port,
	    t.p_lc, t.echo, t.py_port, t.p_v1, t.peer, t.p_v2, t.peer);
}

static int
teardown(void **state)
{
	size_t	i;
	int	rc = 0;

	if (t.front.pid > 0 && h_daemon_stop(&t.front) == -1)
		rc = -1;
	if (t.back.pid > 0 && h_daemon_stop(&t.back) == -1)
		rc = -1;
	if (t.py > 0) {
		kill(t.py, SIGTERM);
		if (h_wait_exit(t.py, H_TIMEOUT_MS) == -1) {
			kill(t.py, SIGKILL);
			h_wait_exit(t.py, H_TIMEOUT_MS);
		}
		close(t.py_out);
	}
	for (i = 0; i < sizeof(t.hole_cl) / sizeof(t.hole_cl[0]); i++)
		close(t.hole_cl[i]);
	close(t.hole_fd);
	return rc;
}

/* Which backend served a new client on port: 0 echo, 1 python, -1 if
 * none did.  fd: keep the connection open there (else closed). */
static int
which_fd(int fd, int *keep)
{
	char	buf[4];
	int	r = -1;

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

static int
which(int port, int *keep)
{
	return which_fd(h_connect("127.0.0.1", port, H_TIMEOUT_MS), keep);
}

/* 4 MiB both ways through the proxy, compared; then the client's
 * half-close reaches the backend, whose end comes back. */
static void
test_bytes_and_client_half_close(void **state)
{
	static char	buf[4 << 20];
	size_t		i;
	int		fd;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 2654435761u >> 13);
	fd = h_connect("127.0.0.1", t.p_one, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, buf, sizeof(buf), 10000), 0);
	assert_int_equal(h_send_all(fd, "tail", 4, H_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_exact(fd, buf, 4, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "tail", 4);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
}

/* The backend half-closes first: the client sees the end, and what it
 * sends afterwards still reaches the backend. */
static void
test_backend_half_close(void **state)
{
	static char	more[100000];
	char		buf[8], line[32];
	int		fd, k;

	/* The source listener: find a client address python serves. */
	for (k = 2, fd = -1; k < 40 && fd == -1; k++) {
		snprintf(line, sizeof(line), "127.0.0.%d", k);
		if (which_fd(h_connect_from(line, t.p_source), NULL) == 1)
			fd = h_connect_from(line, t.p_source);
	}
	assert_true(fd >= 0);
	assert_int_equal(h_recv_exact(fd, buf, 3, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "PY\n", 3);
	assert_int_equal(h_send_all(fd, "ab!", 3, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, 3, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "ab!", 3);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	memset(more, 'm', sizeof(more));
	assert_int_equal(h_send_all(fd, more, sizeof(more), H_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(py_line(line, sizeof(line), H_TIMEOUT_MS), 0);
	assert_string_equal(line, "half 100000");
	close(fd);
}

/* A client that sends and never reads: both pipes pause, and the proxy
 * worker holds no more than its caps (as test_limits' echo). */
static void
test_slow_client_bounded(void **state)
{
	static char	buf[1 << 20];
	pid_t		kid;
	long		before, after, deadline;
	size_t		sent = 0;
	int		fd;

	assert_int_equal(h_children(t.front.pid, &kid, 1), 1);
	before = h_rss_kb(kid);
	fd = h_connect("127.0.0.1", t.p_one, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	deadline = h_now_ms() + 10000;
	for (;;) {
		assert_true(sent < (1u << 30) && h_now_ms() < deadline);
		ssize_t	n = send(fd, buf, sizeof(buf), MSG_DONTWAIT |
			    MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t)n;
		else if (poll(&(struct pollfd){ fd, POLLOUT, 0 }, 1, 300) == 0)
			break;
	}
	after = h_rss_kb(kid);
	print_message("slow client: sent %zu bytes, proxy worker RSS %ld -> "
	    "%ld kB\n", sent, before, after);
	/* Not vacuous: far more went through than the client's buffers
	 * hold (the backend echoed it into the proxy's sockets). */
	assert_true(sent >= 2u * 1024 * 1024);
	assert_true(before > 0 && after > 0);
	assert_true(after - before < 8 * 1024);
	close(fd);
	assert_int_equal(which(t.p_one, NULL), 0);
}

/* The first backend refuses: every client is served by the next one;
 * after backend_fail_max (2) refusals it is down and tried no more. */
static void
test_retry_and_down(void **state)
{
	char	name[64];
	int	i;

	for (i = 0; i < 10; i++)
		assert_int_equal(which(t.p_retry, NULL), 0);
	assert_int_equal(h_wait_log(&t.front, "down for 60000 ms after 2 "
	    "failed connects", H_TIMEOUT_MS), 0);
	/* One debug line for the first failure, the "down" line for the
	 * second, and none after; no client turned away. */
	snprintf(name, sizeof(name), "backend 127.0.0.1:%d: ", t.dead);
	assert_int_equal(h_log_count(&t.front, name), 1);
	snprintf(name, sizeof(name), "backend 127.0.0.1:%d down", t.dead);
	assert_int_equal(h_log_count(&t.front, name), 1);
	assert_int_equal(h_log_count(&t.front, "closed: no backend"), 0);
}

/* A backend that does not answer: the client waits connect_timeout, is
 * served by the next one, and the next client does not wait on it. */
static void
test_connect_timeout(void **state)
{
	char	name[64];
	long	t0, took;

	t0 = h_now_ms();
	assert_int_equal(which(t.p_timeout, NULL), 0);
	took = h_now_ms() - t0;
	print_message("connect timeout: first client served after %ld ms\n",
	    took);
	/* The connect deadline is never early (it starts on the exact
	 * clock, the sweep reads the coarse one). */
	assert_true(took >= 300);
	snprintf(name, sizeof(name), "backend 127.0.0.1:%d down", t.hole);
	assert_int_equal(h_wait_log(&t.front, name, H_TIMEOUT_MS), 0);
	assert_int_equal(h_wait_log(&t.front, "Connection timed out",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(which(t.p_timeout, NULL), 0);
	assert_int_equal(which(t.p_timeout, NULL), 0);
	assert_int_equal(h_log_count(&t.front, name), 1);
	snprintf(name, sizeof(name), "backend 127.0.0.1:%d: ", t.hole);
	assert_int_equal(h_log_count(&t.front, name), 0);
}

/* Weights 1:3, one worker: 200 clients split 50/150 (smooth round robin
 * is exact; bounds leave room). */
static void
test_roundrobin_weights(void **state)
{
	int	n[2] = { 0, 0 }, i;

	for (i = 0; i < 200; i++) {
		int	r = which(t.p_rr, NULL);


		assert_true(r == 0 || r == 1);
		n[r]++;
	}
	print_message("roundrobin 1:3: %d / %d\n", n[0], n[1]);
	assert_in_range(n[0], 40, 60);
	assert_in_range(n[1], 140, 160);
}

/* source: one client address, one backend, every time; and the addresses
 * are spread over both. */
static void
test_source(void **state)
{
	char	src[32];
	int	seen[2] = { 0, 0 }, k, i;

	for (k = 2; k <= 21; k++) {
		int	first;

		snprintf(src, sizeof(src), "127.0.0.%d", k);
		first = which_fd(h_connect_from(src, t.p_source), NULL);
		assert_true(first == 0 || first == 1);
		seen[first]++;
		for (i = 0; i < (k <= 3 ? 10 : 2); i++) {
			assert_int_equal(which_fd(h_connect_from(src,
			    t.p_source), NULL), first);
		}
	}
	print_message("source: 20 addresses, %d on echo, %d on python\n",
	    seen[0], seen[1]);
	assert_true(seen[0] > 0 && seen[1] > 0);
}

/* leastconn: long connections alternate; with the echo ones closed, new
 * ones all go there until it has as many again. */
static void
test_leastconn(void **state)
{
	int	fds[9], kind[6], n[2] = { 0, 0 }, i, r, held = 0, strays;

	for (i = 0; i < 6; i++) {
		r = kind[i] = which(t.p_lc, &fds[i]);
		assert_true(r == 0 || r == 1);
		n[r]++;
	}
	assert_int_equal(n[0], 3);
	assert_int_equal(n[1], 3);
	/* Close the echo ones, keep the others at the front. */
	for (i = 0; i < 6; i++) {
		if (kind[i] == 0)
			close(fds[i]);
		else
			fds[held++] = fds[i];
	}
	assert_int_equal(held, 3);
	/*
	 * The proxy learns of those closes a few loop turns later (client
	 * FIN, backend end, backend close): until then a new client may
	 * still tie-break to python, and is closed again (which only adds
	 * to python's count).  Once it has, long ones go to echo, 0 against
	 * 3, until it has three again.
	 */
	for (i = 0, strays = 0; i < 3 && strays < 50; ) {
		if ((r = which(t.p_lc, &fds[held + i])) == 0)
			i++;
		else {
			assert_int_equal(r, 1);
			close(fds[held + i]);
			strays++;
		}
	}
	print_message("leastconn: 3/3, then 3 to the emptied backend (%d "
	    "early clients tie-broken to the other)\n", strays);
	assert_int_equal(i, 3);
	for (i = 0; i < held + 3; i++)
		close(fds[i]);
}

/* A PROXY header towards a proxy_protocol backend: it sees the client. */
static void
check_peer(int port, const char *src)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			want[64], got[64];
	int			fd = h_connect_from(src, port);
	size_t			have = 0;

	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(want, sizeof(want), "%s:%d\n", src, ntohs(sin.sin_port));
	while (have < sizeof(got) - 1) {
		ssize_t	n;

		if (poll(&(struct pollfd){ fd, POLLIN, 0 }, 1,
		    H_TIMEOUT_MS) != 1)
			break;
		if ((n = recv(fd, got + have, sizeof(got) - 1 - have, 0)) <= 0)
			break;
		have += (size_t)n;
	}
	got[have] = '\0';
	assert_string_equal(got, want);
	close(fd);
}

static void
test_send_proxy(void **state)
{
	check_peer(t.p_v1, "127.0.0.2");
	check_peer(t.p_v1, "127.0.0.3");
	check_peer(t.p_v2, "127.0.0.2");
	check_peer(t.p_v2, "127.0.0.3");
}

/*
 * A load process for the reload test: clients one after the other until
 * stop is readable, writing 'O' to out on its first client served by the
 * old backend (echo), 'N' on its first by the new one (python), then its
 * counts: "served errors old new".
 */
static void
loader(int port, int stop, int out)
{
	char	buf[64];
	int	n[2] = { 0, 0 }, errors = 0, len;

	while (poll(&(struct pollfd){ stop, POLLIN, 0 }, 1, 0) == 0) {
		int	r = which(port, NULL);

		if (r == -1) {
			errors++;
			continue;
		}
		if (n[r]++ == 0)
			(void)write(out, r == 0 ? "O" : "N", 1);
	}
	len = snprintf(buf, sizeof(buf), "%d %d %d %d\n", n[0] + n[1], errors,
	    n[0], n[1]);
	(void)write(out, buf, (size_t)len);
	_exit(0);
}

#define NLOADERS	2

/* Wait until out has given n bytes of c (others skipped); 0 or -1. */
static int
wait_marks(int out, char c, int n)
{
	long	end = h_now_ms() + H_TIMEOUT_MS;
	char	b;

	while (n > 0 && h_now_ms() < end) {
		if (poll(&(struct pollfd){ out, POLLIN, 0 }, 1,
		    (int)(end - h_now_ms())) == 1 && read(out, &b, 1) == 1 &&
		    b == c)
			n--;
	}
	return n == 0 ? 0 : -1;
}

/*
 * Reload from the echo backend to python while two processes keep
 * clients coming: not one fails, a connection opened before still talks
 * to echo after, and once the reload is done new clients go to python.
 */
static void
test_reload_backends(void **state)
{
	struct daemon	d;
	pid_t		kids[NLOADERS];
	char		conf[1024], buf[256];
	int		p = h_free_port(4), old, i, after = 0, stop[2], out[2];
	int		total = 0, errors = 0, on_old = 0, on_new = 0, a, b, c, e;
	size_t		got = 0;
	ssize_t		n;

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 1;\n"
	    "shutdown_timeout = 10;\nlisteners = (\n"
	    PROXY(p, "", BE(t.echo, 1)) ");\n", p, t.echo), 0);
	assert_int_equal(which(p, &old), 0);
	assert_int_equal(pipe(stop), 0);
	assert_int_equal(pipe(out), 0);
	for (i = 0; i < NLOADERS; i++) {
		if ((kids[i] = fork()) == 0) {
			close(stop[1]);
			close(out[0]);
			loader(p, stop[0], out[1]);
		}
		assert_true(kids[i] > 0);
	}
	close(stop[0]);
	close(out[1]);
	snprintf(conf, sizeof(conf), "workers = 1;\n"
	    "shutdown_timeout = 10;\nlisteners = (\n"
	    PROXY(p, "", BE(t.py_port, 1)) ");\n", p, t.py_port);
	assert_int_equal(h_write_file(d.conf, conf), 0);
	/* Every loader is through the old backend: reload under them. */
	assert_int_equal(wait_marks(out[0], 'O', NLOADERS), 0);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_int_equal(h_wait_notify(&d, "STATUS=reloaded", H_TIMEOUT_MS), 0);
	for (i = 0; i < 20; i++) {
		int	r = which(p, NULL);

		assert_true(r == 0 || r == 1);
		after += r == 1;
	}
	/* Every loader has seen the new backend: then stop them. */
	assert_int_equal(wait_marks(out[0], 'N', NLOADERS), 0);
	close(stop[1]);
	for (i = 0; i < NLOADERS; i++)
		assert_true(h_wait_exit(kids[i], H_TIMEOUT_MS) == 0);
	got = 0;
	while (got < sizeof(buf) - 1 &&
	    (n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(out[0]);
	for (i = 0, n = 0; i < NLOADERS; i++) {
		int	used;

		assert_int_equal(sscanf(buf + n, "%d %d %d %d\n%n", &a, &e,
		    &b, &c, &used), 4);
		n += used;
		total += a;
		errors += e;
		on_old += b;
		on_new += c;
	}
	print_message("reload under load: %d clients from %d processes, %d "
	    "errors, %d on the old backend, %d on the new; %d of 20 on the "
	    "new after READY\n", total, NLOADERS, errors, on_old, on_new,
	    after);
	assert_int_equal(errors, 0);
	assert_true(on_old >= NLOADERS && on_new >= NLOADERS);
	assert_true(after >= 18);
	assert_int_equal(which(p, NULL), 1);
	/* The old connection: still on echo, through the old worker. */
	assert_int_equal(h_send_all(old, "y", 1, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(old, buf, 1, H_TIMEOUT_MS), 0);
	assert_int_equal(buf[0], 'y');
	close(old);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_and_client_half_close),
		cmocka_unit_test(test_backend_half_close),
		cmocka_unit_test(test_slow_client_bounded),
		cmocka_unit_test(test_retry_and_down),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_roundrobin_weights),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_leastconn),
		cmocka_unit_test(test_send_proxy),
		cmocka_unit_test(test_reload_backends),
	};

	return cmocka_run_group_tests_name("proxy", tests, setup, teardown);
}
