/*
 * test_connect.c -- unit tests of outbound connections (worker/connect.c
 * and the connecting state of worker/conn.c), on a real event loop with
 * real loopback sockets: "connect" then data both ways, writes and end()
 * queued before the connection is through, a refused port, an address
 * looked up by name (the hosts file, answered at once), a lookup that
 * never answers (the deadline), destroy while looking up and while
 * connecting, a Unix socket, bad options, and the counters; and
 * pf_conn_pipe() between two of them: a proxy's bytes both ways, half-
 * close each way, backpressure, a reset on one side.
 *
 * The test makes its own worker context; every wait runs the loop until
 * a condition holds or a deadline passes.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "preforkd/preforkd.h"
#include "worker/conn.h"
#include "worker/worker.h"

#define WAIT_MS		3000
#define TICK_MS		10

static struct wctx	wx;

static struct {
	struct event_base	*base;
	struct event		*tick;
	struct pf_conn		*c;
	int			 connects, ends, closes, errors, close_code;
	int			 err;
	char			 msg[96];
	char			 rx[256];
	size_t			 rxlen;
	int			 lfd;		/* a listener of the test's */
	int			 udp;		/* a name server that never answers */
} fx;

static void
h_tick(evutil_socket_t fd, short what, void *arg)
{
}

static void
h_event(void *self, const struct pf_event_arg *ev, void *udata)
{
	switch (*(const int *)udata) {
	case PF_EV_CONNECT:
		fx.connects++;
		break;
	case PF_EV_DATA:
		if (fx.rxlen + ev->len <= sizeof(fx.rx)) {
			memcpy(fx.rx + fx.rxlen, ev->data, ev->len);
			fx.rxlen += ev->len;
		}
		break;
	case PF_EV_END:
		fx.ends++;
		break;
	case PF_EV_ERROR:
		fx.errors++;
		fx.err = ev->code;
		snprintf(fx.msg, sizeof(fx.msg), "%s", ev->msg);
		break;
	case PF_EV_CLOSE:
		fx.closes++;
		fx.close_code = ev->code;
		fx.c = NULL;
		break;
	}
}

static const int ev_ids[] = { PF_EV_CONNECT, PF_EV_DATA, PF_EV_END,
    PF_EV_ERROR, PF_EV_CLOSE };

static struct pf_conn *
dial(const char *host, unsigned int port, const char *path,
    unsigned int timeout_ms)
{
	struct pf_connect_opts	o = { host, port, path, timeout_ms };
	size_t			i;
	int			before = fx.connects + fx.errors + fx.closes;

	fx.c = conn_connect(&wx, &o);
	assert_non_null(fx.c);
	for (i = 0; i < sizeof(ev_ids) / sizeof(ev_ids[0]); i++)
		assert_int_equal(pf_conn_on(fx.c, ev_ids[i], h_event,
		    (void *)&ev_ids[i]), 0);
	/* Nothing is emitted from inside pf_connect(), even a failure. */
	assert_int_equal(fx.connects + fx.errors + fx.closes, before);
	return fx.c;
}

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop (sweeping, as the worker does) until *v >= n or timeout. */
static int
wait_for(const int *v, int n, int ms)
{
	uint64_t	end = mono_ms() + ms;

	while (*v < n && mono_ms() < end) {
		event_base_loop(fx.base, EVLOOP_ONCE);
		conn_sweep(&wx, worker_now_ms());
	}
	return *v;
}

/* A loopback TCP listener; its port. */
static unsigned int
listen_tcp(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fx.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) != -1);
	assert_int_equal(bind(fx.lfd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(listen(fx.lfd, 8), 0);
	assert_int_equal(getsockname(fx.lfd, (struct sockaddr *)&sin, &len),
	    0);
	return ntohs(sin.sin_port);
}

/* Accept the connection the test made, bounded. */
static int
accept_one(void)
{
	uint64_t	end = mono_ms() + WAIT_MS;
	int		fd;

	assert_true(fcntl(fx.lfd, F_SETFL, O_NONBLOCK) != -1);
	while ((fd = accept(fx.lfd, NULL, NULL)) == -1 && mono_ms() < end)
		event_base_loop(fx.base, EVLOOP_ONCE);
	assert_true(fd != -1);
	return fd;
}

/* Read exactly n bytes at the test's end, running the loop meanwhile. */
static void
peer_expect(int fd, const char *want, size_t n)
{
	uint64_t	end = mono_ms() + WAIT_MS;
	char		buf[256];
	size_t		got = 0;
	ssize_t		r;

	assert_true(fcntl(fd, F_SETFL, O_NONBLOCK) != -1);
	while (got < n && mono_ms() < end) {
		if ((r = read(fd, buf + got, n - got)) > 0)
			got += r;
		else
			event_base_loop(fx.base, EVLOOP_ONCE);
	}
	assert_int_equal(got, n);
	assert_memory_equal(buf, want, n);
}

static int
setup(void **state)
{
	struct timeval	tv = { 0, TICK_MS * 1000 };

	memset(&fx, 0, sizeof(fx));
	fx.lfd = fx.udp = -1;
	if ((fx.base = event_base_new()) == NULL ||
	    (fx.tick = event_new(fx.base, -1, EV_PERSIST, h_tick, NULL)) ==
	    NULL || event_add(fx.tick, &tv) == -1)
		return -1;
	wctx_init(&wx, fx.base);
	return 0;
}

static int
teardown(void **state)
{
	conn_close_all(&wx);
	/* Let cancelled lookups come back and free their connections. */
	while (!TAILQ_EMPTY(&wx.conns))
		event_base_loop(fx.base, EVLOOP_ONCE);
	if (wx.dns != NULL)
		evdns_base_free(wx.dns, 0);
	if (fx.lfd != -1)
		close(fx.lfd);
	if (fx.udp != -1)
		close(fx.udp);
	event_free(fx.tick);
	event_base_free(fx.base);
	return 0;
}

/* 1. Written and ended before it is through: sent, in order, then FIN;
 * the peer's answer arrives; both directions closed, "close" clean. */
static void
test_connect_queue(void **state)
{
	unsigned int	port = listen_tcp();
	struct pf_conn	*c = dial("127.0.0.1", port, NULL, 0);
	int		fd;

	assert_int_equal(pf_conn_write(c, "hello, ", 7), 1);
	assert_int_equal(pf_conn_write(c, "world", 5), 1);
	assert_int_equal(pf_conn_buffered(c), 12);
	assert_int_equal(wx.stats.out_active, 1);
	assert_int_equal(wx.stats.out_total, 0);
	fd = accept_one();
	assert_int_equal(wait_for(&fx.connects, 1, WAIT_MS), 1);
	assert_int_equal(wx.stats.out_total, 1);
	assert_int_equal(wx.stats.conns_active, 0);	/* not a client */
	peer_expect(fd, "hello, world", 12);
	assert_int_equal(write(fd, "back", 4), 4);
	assert_int_equal(wait_for((const int *)&fx.rxlen, 4, WAIT_MS), 4);
	assert_memory_equal(fx.rx, "back", 4);
	assert_int_equal(pf_conn_bytes_written(c), 12);
	assert_int_equal(pf_conn_bytes_read(c), 4);
	assert_null(pf_conn_listener(c));
	pf_conn_end(c);
	close(fd);
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);
	assert_int_equal(fx.close_code, 0);
	assert_int_equal(fx.errors, 0);
	assert_int_equal(wx.stats.out_active, 0);
}

/* 2. end() before it is through: FIN after the queued bytes. */
static void
test_connect_end_early(void **state)
{
	unsigned int	port = listen_tcp();
	struct pf_conn	*c = dial("127.0.0.1", port, NULL, 0);
	char		b;
	int		fd;

	assert_int_equal(pf_conn_write(c, "bye", 3), 1);
	pf_conn_end(c);
	fd = accept_one();
	peer_expect(fd, "bye", 3);
	assert_int_equal(wait_for(&fx.connects, 1, WAIT_MS), 1);
	/* Then EOF. */
	while (read(fd, &b, 1) == -1 && errno == EAGAIN)
		event_base_loop(fx.base, EVLOOP_ONCE);
	close(fd);
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);
}

/* 3. A port nobody listens on: error ECONNREFUSED, close(1), never
 * "connect". */
static void
test_connect_refused(void **state)
{
	unsigned int	port = listen_tcp();

	close(fx.lfd);		/* the port is free now */
	fx.lfd = -1;
	dial("127.0.0.1", port, NULL, 0);
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);
	assert_int_equal(fx.errors, 1);
	assert_int_equal(fx.err, ECONNREFUSED);
	assert_int_equal(fx.close_code, 1);
	assert_int_equal(fx.connects, 0);
	assert_int_equal(wx.stats.out_active, 0);
	assert_int_equal(wx.stats.errors, 1);
}

/* Our own resolver: the hosts file, and a name server that never
 * answers (a UDP socket nobody reads). */
static void
resolver(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			ns[64];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fx.udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) !=
	    -1);
	assert_int_equal(bind(fx.udp, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(getsockname(fx.udp, (struct sockaddr *)&sin, &len),
	    0);
	assert_non_null(wx.dns = evdns_base_new(fx.base, 0));
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", ntohs(sin.sin_port));
	assert_int_equal(evdns_base_nameserver_ip_add(wx.dns, ns), 0);
	assert_int_equal(evdns_base_load_hosts(wx.dns, NULL), 0);
}

/* 4. By name: "localhost" from the hosts file. */
static void
test_connect_name(void **state)
{
	unsigned int	port = listen_tcp();
	int		fd;

	resolver();
	dial("localhost", port, NULL, 0);
	fd = accept_one();
	assert_int_equal(wait_for(&fx.connects, 1, WAIT_MS), 1);
	assert_int_equal(pf_conn_write(fx.c, "x", 1), 1);
	peer_expect(fd, "x", 1);
	close(fd);
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);
	assert_int_equal(fx.errors, 0);
}

/* 5. A lookup that never answers: ETIMEDOUT at the deadline, not before. */
static void
test_connect_timeout(void **state)
{
	uint64_t	t0 = mono_ms();

	resolver();
	dial("nowhere.invalid", 7, NULL, 150);
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);
	assert_true(mono_ms() - t0 >= 140);
	assert_int_equal(fx.err, ETIMEDOUT);
	assert_int_equal(fx.connects, 0);
	assert_int_equal(fx.close_code, 1);
}

/* 6. Destroyed while looking up, and while connecting: a clean close,
 * no error, nothing left. */
static void
test_connect_destroy(void **state)
{
	unsigned int	port = listen_tcp();

	resolver();
	pf_conn_destroy(dial("nowhere.invalid", 7, NULL, 0));
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);
	assert_int_equal(fx.close_code, 0);
	pf_conn_destroy(dial("127.0.0.1", port, NULL, 0));
	assert_int_equal(wait_for(&fx.closes, 2, WAIT_MS), 2);
	assert_int_equal(fx.errors + fx.connects, 0);
	assert_true(TAILQ_EMPTY(&wx.conns));
	assert_int_equal(wx.stats.out_active, 0);
}

/* 7. A Unix socket; and options that cannot work. */
static void
test_connect_unix_and_bad(void **state)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	struct pf_connect_opts	o = { 0 };
	char			path[] = "/tmp/test_connect.XXXXXX";
	int			fd;

	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	unlink(path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_true((fx.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) != -1);
	assert_int_equal(bind(fx.lfd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(fx.lfd, 8), 0);
	dial(NULL, 0, path, 0);
	assert_int_equal(wait_for(&fx.connects, 1, WAIT_MS), 1);
	fd = accept_one();
	assert_int_equal(pf_conn_write(fx.c, "u", 1), 1);
	peer_expect(fd, "u", 1);
	close(fd);
	unlink(path);
	assert_int_equal(wait_for(&fx.closes, 1, WAIT_MS), 1);

	assert_null(conn_connect(&wx, &o));		/* neither */
	assert_int_equal(errno, EINVAL);
	o.host = "127.0.0.1";
	assert_null(conn_connect(&wx, &o));		/* no port */
	o.port = 70000;
	assert_null(conn_connect(&wx, &o));
	o.port = 7;
	o.path = path;
	assert_null(conn_connect(&wx, &o));		/* both */
	assert_true(TAILQ_EMPTY(&wx.conns));
}

/* Two outbound connections to our listener, piped into each other:
 * p[0] talks through x and y to p[1]. */
static void
proxy_pair(struct pf_conn **x, struct pf_conn **y, int p[2])
{
	unsigned int	port = listen_tcp();

	*x = dial("127.0.0.1", port, NULL, 0);
	p[0] = accept_one();
	*y = dial("127.0.0.1", port, NULL, 0);
	p[1] = accept_one();
	assert_int_equal(wait_for(&fx.connects, 2, WAIT_MS), 2);
	assert_int_equal(pf_conn_pipe(*x, *y, 0), 0);
	assert_int_equal(pf_conn_pipe(*y, *x, 0), 0);
	assert_true(fcntl(p[0], F_SETFL, O_NONBLOCK) != -1);
	assert_true(fcntl(p[1], F_SETFL, O_NONBLOCK) != -1);
}

/* Wait for EOF (1) or a reset (2) at fd, discarding data; 0 at the
 * deadline. */
static int
peer_end(int fd)
{
	uint64_t	end = mono_ms() + WAIT_MS;
	char		buf[4096];
	ssize_t		r;

	while (mono_ms() < end) {
		if ((r = read(fd, buf, sizeof(buf))) == 0)
			return 1;
		if (r == -1 && errno == ECONNRESET)
			return 2;
		if (r == -1)
			event_base_loop(fx.base, EVLOOP_ONCE);
	}
	return 0;
}

/* 8. Bytes both ways; each side's FIN reaches the other while the other
 * direction still flows; both connections close cleanly. */
static void
test_pipe_proxy(void **state)
{
	struct pf_conn	*x, *y;
	int		 p[2];

	proxy_pair(&x, &y, p);
	assert_int_equal(pf_conn_pipe(x, x, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* x feeds y already, and y is fed by x. */
	assert_int_equal(pf_conn_pipe(x, y, 0), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(write(p[0], "ping", 4), 4);
	peer_expect(p[1], "ping", 4);
	assert_int_equal(write(p[1], "pong", 4), 4);
	peer_expect(p[0], "pong", 4);
	/* p[0] is done sending; p[1] goes on. */
	assert_int_equal(shutdown(p[0], SHUT_WR), 0);
	assert_int_equal(peer_end(p[1]), 1);
	assert_int_equal(write(p[1], "late", 4), 4);
	peer_expect(p[0], "late", 4);
	assert_int_equal(fx.closes, 0);
	assert_int_equal(shutdown(p[1], SHUT_WR), 0);
	assert_int_equal(peer_end(p[0]), 1);
	assert_int_equal(wait_for(&fx.closes, 2, WAIT_MS), 2);
	assert_int_equal(fx.errors, 0);
	close(p[0]);
	close(p[1]);
}

/* 9. p[1] does not read: x is paused, y holds little; then everything
 * arrives, in order. */
static void
test_pipe_backpressure(void **state)
{
	enum { TOTAL = 8 << 20 };
	static unsigned char	 out[65536], in[65536];
	struct pf_conn		*x, *y;
	size_t			 sent = 0, got = 0, i, peak = 0;
	uint64_t		 end;
	ssize_t			 r;
	int			 p[2], ok = 1;

	proxy_pair(&x, &y, p);
	end = mono_ms() + 10000;
	/* Write until the whole path is full. */
	while (mono_ms() < end) {
		for (i = 0; i < sizeof(out); i++)
			out[i] = (unsigned char)((sent + i) * 7);
		if ((r = write(p[0], out, sizeof(out))) > 0)
			sent += r;
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		if (pf_conn_buffered(y) > peak)
			peak = pf_conn_buffered(y);
		if (r == -1 && errno == EAGAIN && sent > (1 << 20))
			break;
	}
	print_message("backpressure: %zu bytes in flight, y queued at most "
	    "%zu\n", sent, peak);
	assert_true(sent > (1 << 20));
	/* At most the high water mark and one read beyond it. */
	assert_true(peak <= 2 * 65536);
	/* Now read it all, checking every byte, while writing the rest. */
	while (got < TOTAL && mono_ms() < end) {
		if (sent < TOTAL) {
			size_t	n = TOTAL - sent < sizeof(out) ?
			    TOTAL - sent : sizeof(out);

			for (i = 0; i < n; i++)
				out[i] = (unsigned char)((sent + i) * 7);
			if ((r = write(p[0], out, n)) > 0)
				sent += r;
		}
		if ((r = read(p[1], in, sizeof(in))) > 0) {
			for (i = 0; i < (size_t)r; i++)
				if (in[i] != (unsigned char)((got + i) * 7))
					ok = 0;
			got += r;
		}
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(got, TOTAL);
	assert_true(ok);
	close(p[0]);
	close(p[1]);
}

/* 10. A reset on one side: the other is destroyed, not left open. */
static void
test_pipe_reset(void **state)
{
	struct linger	 lg = { 1, 0 };
	struct pf_conn	*x, *y;
	int		 p[2];

	proxy_pair(&x, &y, p);
	assert_int_equal(write(p[0], "abc", 3), 3);
	peer_expect(p[1], "abc", 3);
	assert_int_equal(setsockopt(p[1], SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(p[1]);
	assert_true(peer_end(p[0]) > 0);
	assert_int_equal(wait_for(&fx.closes, 2, WAIT_MS), 2);
	assert_int_equal(fx.errors, 1);
	close(p[0]);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_connect_queue),
		T(test_connect_end_early),
		T(test_connect_refused),
		T(test_connect_name),
		T(test_connect_timeout),
		T(test_connect_destroy),
		T(test_connect_unix_and_bad),
		T(test_pipe_proxy),
		T(test_pipe_backpressure),
		T(test_pipe_reset),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
