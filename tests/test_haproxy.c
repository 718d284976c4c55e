/*
 * test_haproxy.c -- preforkd behind a real HAProxy (TCP mode, round
 * robin, HTTP health checks on each instance's /health): a rolling
 * restart of two instances with drain_delay under continuous client load
 * loses no client; what the service sees of the client's address through
 * the proxy, without a PROXY header, with send-proxy-v2 and send-proxy;
 * and max_connections_per_ip counting the client behind the proxy.
 * Skipped (77) when there is no haproxy to run.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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
#include "tests/haproxy.h"

#define SHORT_CLIENTS	4	/* connect, echo, close, again */
#define LONG_CLIENTS	2	/* echo every few ms for ~0.6 s */
#define LONG_TRIPS	120

/* One preforkd: echo, its /health, the peeraddr service plain and
 * behind a PROXY header, and echo behind one with a per-address limit. */
struct inst {
	struct daemon	d;
	int		pe, ps, pp, ppx, pel;
};

/* A client thread's tally. */
struct client {
	pthread_t	 th;
	int		 id, is_long, started;
	long		 trips, conns, errors;
	char		 first_error[160];
};

static struct {
	struct inst	 a, b;
	struct hap	 h;
	int		 fe;		/* HAProxy's echo frontend */
	int		 fp;		/* peeraddr, no PROXY header */
	int		 fv2, fv1;	/* peeraddr, send-proxy-v2, send-proxy */
	int		 fl;		/* limited echo, send-proxy-v2 */
	struct client	 cl[SHORT_CLIENTS + LONG_CLIENTS];
	volatile int	 stop;
} lb;


/* Start (or restart, on the same ports) an instance; READY=1 on return. */
static int
inst_start(struct inst *in)
{
	if (in->d.dir[0] == '\0') {
		if (h_daemon_init(&in->d, NULL) == -1)
			return -1;
		in->pe = h_free_port(4);
		in->ps = h_free_port(4);
		in->pp = h_free_port(4);
		in->ppx = h_free_port(4);
		in->pel = h_free_port(4);
	} else if (in->d.notify_fd != -1) {
		/* What the last one said is not what this one will. */
		close(in->d.notify_fd);
		in->d.notify_fd = -1;
	}
	/* The drain delay outlasts HAProxy's inter 100ms x fall 2, with room
	 * for a slow machine (0.8 s; 3.3 s under valgrind). */
	return h_daemon_startf(&in->d, "workers = 2;\n"
	    "heartbeat_interval = 0.1;\n"
	    "shutdown_timeout = 5;\n"
	    "drain_delay = %d.%03d;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"peeraddr\"; path = \"%s\"; });\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"stats\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"peeraddr\"; },\n"
	    /* HAProxy is on loopback: trusted by default. */
	    "{ address = \"127.0.0.1\"; port = %d; service = \"peeraddr\";\n"
	    "  proxy_protocol = true; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "  proxy_protocol = true; max_connections_per_ip = 1; });\n",
	    H_TIMEOUT_MS / 6000, H_TIMEOUT_MS / 6 % 1000, in->d.sock,
	    PEERADDR_MODULE, in->pe, in->ps, in->pp, in->ppx, in->pel);
}

/* The two instances and HAProxy in front, both servers UP. */
static void
lb_start(void)
{
	assert_int_equal(inst_start(&lb.a), 0);
	assert_int_equal(inst_start(&lb.b), 0);
	lb.fe = h_free_port(4);
	lb.fp = h_free_port(4);
	lb.fv2 = h_free_port(4);
	lb.fv1 = h_free_port(4);
	lb.fl = h_free_port(4);
	assert_int_equal(hap_start(&lb.h,
	    "global\n"
	    "    stats socket %s mode 600 level admin\n"
	    "defaults\n"
	    "    mode tcp\n"
	    "    timeout connect 1s\n"
	    "    timeout client 10s\n"
	    "    timeout server 10s\n"
	    "    timeout check 1s\n"
	    /* No retry, no redispatch: a client sent to an instance that
	     * does not take it fails, and is counted. */
	    "    retries 0\n"
	    "frontend fe_echo\n"
	    "    bind 127.0.0.1:%d\n"
	    "    default_backend be_echo\n"
	    "backend be_echo\n"
	    "    balance roundrobin\n"
	    "    option httpchk GET /health\n"
	    "    default-server inter 100ms fall 2 rise 2\n"
	    "    server a 127.0.0.1:%d check port %d\n"
	    "    server b 127.0.0.1:%d check port %d\n"
	    "frontend fe_peer\n"
	    "    bind 127.0.0.1:%d\n"
	    "    default_backend be_peer\n"
	    "backend be_peer\n"
	    "    server a 127.0.0.1:%d\n"
	    "frontend fe_v2\n"
	    "    bind 127.0.0.1:%d\n"
	    "    default_backend be_v2\n"
	    "backend be_v2\n"
	    "    server a 127.0.0.1:%d send-proxy-v2\n"
	    "frontend fe_v1\n"
	    "    bind 127.0.0.1:%d\n"
	    "    default_backend be_v1\n"
	    "backend be_v1\n"
	    "    server a 127.0.0.1:%d send-proxy\n"
	    /* As contrib/haproxy.cfg: the health check goes to the stats
	     * port, without a PROXY header. */
	    "frontend fe_lim\n"
	    "    bind 127.0.0.1:%d\n"
	    "    default_backend be_lim\n"
	    "backend be_lim\n"
	    "    option httpchk GET /health\n"
	    "    server a 127.0.0.1:%d send-proxy-v2 check port %d "
	    "inter 100ms fall 2 rise 2\n",
	    lb.h.sock, lb.fe, lb.a.pe, lb.a.ps, lb.b.pe, lb.b.ps, lb.fp,
	    lb.a.pp, lb.fv2, lb.a.ppx, lb.fv1, lb.a.ppx, lb.fl, lb.a.pel,
	    lb.a.ps), 0);
	assert_int_equal(hap_wait_server(&lb.h, "be_echo", "a", "UP",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(hap_wait_server(&lb.h, "be_echo", "b", "UP",
	    H_TIMEOUT_MS), 0);
}

/* Whatever a test left: clients, HAProxy, the instances. */
static int
lb_teardown(void **state)
{
	size_t	i;

	(void)state;
	lb.stop = 1;
	for (i = 0; i < sizeof(lb.cl) / sizeof(lb.cl[0]); i++) {
		if (lb.cl[i].started)
			pthread_join(lb.cl[i].th, NULL);
		lb.cl[i].started = 0;
	}
	hap_stop(&lb.h);
	if (lb.a.d.dir[0] != '\0')
		h_daemon_stop(&lb.a.d);
	if (lb.b.d.dir[0] != '\0')
		h_daemon_stop(&lb.b.d);
	memset(&lb, 0, sizeof(lb));
	lb.a.d.notify_fd = lb.b.d.notify_fd = -1;
	return 0;
}

static int
lb_setup(void **state)
{
	(void)state;
	memset(&lb, 0, sizeof(lb));
	lb.a.d.notify_fd = lb.b.d.notify_fd = -1;
	return 0;
}

static void
client_error(struct client *c, const char *what)
{
	if (c->errors++ == 0)
		snprintf(c->first_error, sizeof(c->first_error), "client %d "
		    "(%s), connection %ld, after %ld round trips: %s (%s)",
		    c->id, c->is_long ? "long" : "short", c->conns, c->trips,
		    what, errno != 0 ? strerror(errno) : "EOF or wrong bytes");
}

/* Short clients: connect through HAProxy, one echo, close.  Long ones:
 * one connection, LONG_TRIPS echoes a few ms apart, then a new one.
 * Any failure is counted: refused, reset, EOF, or bytes not echoed. */
static void *
client_main(void *arg)
{
	struct client	*c = arg;
	char		 msg[64];
	int		 fd, i, n;

	while (!lb.stop) {
		errno = 0;	/* an EOF sets none */
		if ((fd = h_connect("127.0.0.1", lb.fe, H_TIMEOUT_MS)) == -1) {
			client_error(c, "connect");
			poll(NULL, 0, 10);	/* pace, not a wait */
			continue;
		}
		c->conns++;
		n = c->is_long ? LONG_TRIPS : 1;
		for (i = 0; i < n && !lb.stop; i++) {
			snprintf(msg, sizeof(msg), "client %d conn %ld trip %d\n",
			    c->id, c->conns, i);
			errno = 0;
			if (h_echo_check(fd, msg, strlen(msg), H_TIMEOUT_MS)
			    == -1) {
				client_error(c, "echo");
				break;
			}
			c->trips++;
			/* Pace the load: 2 cores are shared. */
			poll(NULL, 0, 5);
		}
		close(fd);
	}
	return NULL;
}

static void
clients_start(void)
{
	size_t	i;

	for (i = 0; i < sizeof(lb.cl) / sizeof(lb.cl[0]); i++) {
		lb.cl[i].id = (int)i;
		lb.cl[i].is_long = i >= SHORT_CLIENTS;
		assert_int_equal(pthread_create(&lb.cl[i].th, NULL, client_main,
		    &lb.cl[i]), 0);
		lb.cl[i].started = 1;
	}
}

/* Stop the clients; the totals. */
static void
clients_stop(long *trips, long *conns, long *errors)
{
	size_t	i;

	lb.stop = 1;
	*trips = *conns = *errors = 0;
	for (i = 0; i < sizeof(lb.cl) / sizeof(lb.cl[0]); i++) {
		if (lb.cl[i].started)
			pthread_join(lb.cl[i].th, NULL);
		lb.cl[i].started = 0;
		*trips += lb.cl[i].trips;
		*conns += lb.cl[i].conns;
		*errors += lb.cl[i].errors;
		if (lb.cl[i].errors > 0)
			fprintf(stderr, "%ld errors, first: %s\n",
			    lb.cl[i].errors, lb.cl[i].first_error);
	}
}

struct stot_min {
	const char	*srv;
	long		 min;
};

static int
stot_above(void *arg)
{
	struct stot_min	*m = arg;

	return hap_stot(&lb.h, "be_echo", m->srv) > m->min;
}

/*
 * quit one instance while the clients run: HAProxy must see it DOWN
 * before the drain delay ends; then it exits, starts again on the same
 * ports, HAProxy sees it UP and sends it clients again.
 */
static void
roll(struct inst *in, const char *srv)
{
	struct stot_min	 m = { srv, 0 };
	long		 t0;
	int		 st;

	t0 = h_now_ms();
	assert_int_equal(kill(in->d.pid, SIGQUIT), 0);
	assert_int_equal(h_wait_log(&in->d, "drain delay: /health fails",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(hap_wait_server(&lb.h, "be_echo", srv, "DOWN",
	    H_TIMEOUT_MS), 0);
	/* Out of rotation while it still served: no client was turned
	 * away by a closed listener. */
	assert_int_equal(h_log_count(&in->d, "drain delay over"), 0);
	fprintf(stderr, "%s: DOWN in HAProxy %ld ms after quit\n", srv,
	    h_now_ms() - t0);
	st = h_wait_exit(in->d.pid, H_TIMEOUT_MS * 2);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	in->d.pid = 0;
	assert_int_equal(h_log_count(&in->d, "drain delay over"), 1);
	fprintf(stderr, "%s: exited %ld ms after quit\n", srv,
	    h_now_ms() - t0);
	assert_int_equal(inst_start(in), 0);
	assert_int_equal(hap_wait_server(&lb.h, "be_echo", srv, "UP",
	    H_TIMEOUT_MS), 0);
	/* And it gets clients again. */
	m.min = hap_stot(&lb.h, "be_echo", srv) + 20;
	assert_int_equal(hap_wait(stot_above, &m, H_TIMEOUT_MS), 0);
	fprintf(stderr, "%s: UP again and serving %ld ms after quit\n", srv,
	    h_now_ms() - t0);
}

/* The connections the instance counted since it started (status). */
static long long
inst_connections(struct inst *in)
{
	char		*out = NULL;
	long long	 n = -1;

	if (h_ctl(in->d.sock, &out, "status", "--json", (char *)NULL) == 0)
		n = h_json_num(out, "\"since_start\"", "connections_total");
	free(out);
	return n;
}

static void
test_rolling_restart(void **state)
{
	long	trips, conns, errors, t0, a0, b0;

	(void)state;
	lb_start();
	a0 = hap_stot(&lb.h, "be_echo", "a");
	b0 = hap_stot(&lb.h, "be_echo", "b");
	t0 = h_now_ms();
	clients_start();
	roll(&lb.a, "a");
	roll(&lb.b, "b");
	clients_stop(&trips, &conns, &errors);
	fprintf(stderr, "rolling restart: %ld ms, %ld connections, %ld round "
	    "trips, %ld errors; HAProxy sent a %ld, b %ld; the restarted "
	    "instances counted %lld and %lld connections\n",
	    h_now_ms() - t0, conns, trips, errors,
	    hap_stot(&lb.h, "be_echo", "a") - a0,
	    hap_stot(&lb.h, "be_echo", "b") - b0,
	    inst_connections(&lb.a), inst_connections(&lb.b));
	assert_int_equal(errors, 0);
	/* Something happened: about 8 s of paced load. */
	assert_true(conns >= 300);
	assert_true(trips >= 1000);
	assert_true(hap_stot(&lb.h, "be_echo", "a") - a0 >= 50);
	assert_true(hap_stot(&lb.h, "be_echo", "b") - b0 >= 50);
	assert_true(inst_connections(&lb.a) > 0);
	assert_true(inst_connections(&lb.b) > 0);
}

/* Connect from src (127.0.0.x) to port; the client's own address as
 * the service would print it in me. */
static int
connect_from(const char *src, int port, char *me, size_t len)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			fd;

	if ((fd = h_connect_from(src, port)) == -1)
		return -1;
	/* Non-blocking: the harness's reads and writes time out. */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		close(fd);
		return -1;
	}
	snprintf(me, len, "%s:%d", src, ntohs(sin.sin_port));
	return fd;
}

/* One line from the peeraddr service through src -> port, and the
 * client's address. */
static int
peer_line(const char *src, int port, char *buf, size_t len, char *me,
    size_t melen)
{
	size_t	got = 0;
	int	fd;

	if ((fd = connect_from(src, port, me, melen)) == -1)
		return -1;
	while (got < len - 1 && h_recv_exact(fd, buf + got, 1,
	    H_TIMEOUT_MS) == 0 && buf[got] != '\n')
		got++;
	buf[got] = '\0';
	close(fd);
	return got > 0 ? 0 : -1;
}

/* Without a PROXY header the service sees HAProxy, not the client: the
 * reason for send-proxy. */
static void
test_peeraddr_plain(void **state)
{
	char	line[128], me[64];

	(void)state;
	lb_start();
	assert_int_equal(peer_line("127.0.0.2", lb.a.pp, line, sizeof(line),
	    me, sizeof(me)), 0);
	assert_string_equal(line, me);
	assert_int_equal(peer_line("127.0.0.2", lb.fp, line, sizeof(line),
	    me, sizeof(me)), 0);
	assert_memory_equal(line, "127.0.0.1:", 10);
	assert_string_not_equal(line, me);
}

/* send-proxy-v2 and send-proxy: the service sees the client, address
 * and port, from two different loopback addresses. */
static void
test_send_proxy(void **state)
{
	static const char *const src[] = { "127.0.0.2", "127.0.0.3" };
	char	line[128], me[64];
	size_t	i;

	(void)state;
	lb_start();
	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		assert_int_equal(peer_line(src[i], lb.fv2, line, sizeof(line),
		    me, sizeof(me)), 0);
		assert_string_equal(line, me);
		assert_int_equal(peer_line(src[i], lb.fv1, line, sizeof(line),
		    me, sizeof(me)), 0);
		assert_string_equal(line, me);
	}
}

/*
 * max_connections_per_ip = 1 behind HAProxy counts the client, not the
 * proxy: a second client from 127.0.0.2 is refused while the first holds
 * its connection, one from 127.0.0.3 is served, and all three came
 * through the same HAProxy from 127.0.0.1.
 */
static void
test_per_ip_behind_proxy(void **state)
{
	char	me1[64], me2[64], me3[64], *out = NULL;
	int	c1, c2, c3;

	(void)state;
	lb_start();
	/* Its check on the stats port, with no PROXY header, passes. */
	assert_int_equal(hap_wait_server(&lb.h, "be_lim", "a", "UP",
	    H_TIMEOUT_MS), 0);
	c1 = connect_from("127.0.0.2", lb.fl, me1, sizeof(me1));
	assert_true(c1 >= 0);
	assert_int_equal(h_echo_check(c1, "one", 3, H_TIMEOUT_MS), 0);
	/* HAProxy takes it; preforkd closes it once it read the header. */
	c2 = connect_from("127.0.0.2", lb.fl, me2, sizeof(me2));
	assert_true(c2 >= 0);
	assert_int_equal(h_send_all(c2, "two", 3, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_eof(c2, H_TIMEOUT_MS), 0);
	close(c2);
	c3 = connect_from("127.0.0.3", lb.fl, me3, sizeof(me3));
	assert_true(c3 >= 0);
	assert_int_equal(h_echo_check(c3, "three", 5, H_TIMEOUT_MS), 0);
	/* The first is still served. */
	assert_int_equal(h_echo_check(c1, "again", 5, H_TIMEOUT_MS), 0);
	close(c1);
	close(c3);
	/* Counted as the one drop (refusals by the per-address limit are
	 * logged at debug level only). */
	assert_int_equal(h_ctl(lb.a.d.sock, &out, "status", "--json",
	    (char *)NULL), 0);
	assert_int_equal(h_json_num(out, "\"totals\"", "drops"), 1);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rolling_restart, lb_setup,
		    lb_teardown),
		cmocka_unit_test_setup_teardown(test_peeraddr_plain, lb_setup,
		    lb_teardown),
		cmocka_unit_test_setup_teardown(test_send_proxy, lb_setup,
		    lb_teardown),
		cmocka_unit_test_setup_teardown(test_per_ip_behind_proxy,
		    lb_setup, lb_teardown),
	};

	if (hap_find() == -1) {
		printf("test_haproxy: skipped: no haproxy in $PATH (or "
		    "/usr/sbin, /usr/local/sbin); install it to run this test\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("haproxy", tests, NULL, NULL);
}
