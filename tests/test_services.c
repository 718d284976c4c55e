/*
 * test_services.c -- integration tests of the inetd built-in services on
 * the real preforkd: echo (RFC 862), discard (RFC 863), chargen (RFC 864),
 * daytime (RFC 867) and time (RFC 868), one loopback listener each, two
 * workers; that chargen's memory stays flat for a client that never
 * reads; that neither chargen nor discard holds up a graceful stop; and
 * the forward example module (pf_connect and pf_conn_pipe) in front of
 * echo.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

#define NPRINT		95
#define LINE_CHARS	72
#define LINE_LEN	(LINE_CHARS + 2)
#define EPOCH_1900	2208988800U
#define MAX_WORKERS	8

enum { S_ECHO, S_DISCARD, S_CHARGEN, S_DAYTIME, S_TIME, S_MAX };

static const char *const names[S_MAX] = {
	"echo", "discard", "chargen", "daytime", "time",
};

static struct daemon	d;
static int		port[S_MAX];

/* One free port per service (h_free_port never repeats one). */
static int
pick_ports(void)
{
	int	i;

	for (i = 0; i < S_MAX; i++) {
		if ((port[i] = h_free_port(4)) <= 0)
			return -1;
	}
	return 0;
}

static int
setup_daemon(void **state)
{
	char	conf[2048];
	size_t	len;
	int	i, n;

	if (pick_ports() == -1 || h_daemon_init(&d, NULL) == -1)
		return -1;
	len = (size_t)snprintf(conf, sizeof(conf),
	    "workers = 2;\nlog = { level = \"debug\"; };\nlisteners = (\n");
	for (i = 0; i < S_MAX; i++) {
		n = snprintf(conf + len, sizeof(conf) - len,
		    "  { address = \"127.0.0.1\"; port = %d; service = \"%s\";"
		    " }%s\n", port[i], names[i], i + 1 < S_MAX ? "," : "");
		if (n < 0 || (size_t)n >= sizeof(conf) - len)
			return -1;
		len += (size_t)n;
	}
	if (snprintf(conf + len, sizeof(conf) - len, ");\n") >=
	    (int)(sizeof(conf) - len) || h_write_file(d.conf, conf) == -1)
		return -1;
	return h_daemon_start(&d, 2, "127.0.0.1", port[S_ECHO]);
}

static int
teardown_daemon(void **state)
{
	return h_daemon_stop(&d);
}

static int
connect_to(int svc)
{
	int	fd = h_connect("127.0.0.1", port[svc], H_TIMEOUT_MS);

	assert_true(fd >= 0);
	return fd;
}

/* Read until EOF into buf (at most size bytes); the count, or -1. */
static ssize_t
recv_to_eof(int fd, char *buf, size_t size, int timeout_ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	long		deadline = h_now_ms() + timeout_ms;
	size_t		got = 0;
	ssize_t		n;

	for (;;) {
		n = recv(fd, buf + got, size - got, 0);
		if (n == 0)
			return (ssize_t)got;
		if (n > 0) {
			got += (size_t)n;
			if (got == size)
				return -1;	/* more than expected */
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (h_now_ms() >= deadline ||
		    poll(&pfd, 1, (int)(deadline - h_now_ms())) == -1)
			return -1;
	}
}

/* RFC 864 line n: 72 characters from the (n mod 95)th printable, CR LF. */
static void
chargen_line(unsigned long n, char *out)
{
	int	i;

	for (i = 0; i < LINE_CHARS; i++)
		out[i] = (char)(' ' + (n + i) % NPRINT);
	out[LINE_CHARS] = '\r';
	out[LINE_CHARS + 1] = '\n';
}

static void
test_echo(void **state)
{
	char	buf[8];
	int	fd;

	assert_int_equal(h_echo_once("127.0.0.1", port[S_ECHO],
	    "echo, RFC 862\r\n"), 0);
	fd = connect_to(S_ECHO);
	assert_int_equal(h_send_all(fd, "bye", 3, H_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_exact(fd, buf, 3, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
}

/* Whatever is sent vanishes; nothing comes back, then EOF after ours. */
static void
test_discard(void **state)
{
	size_t	 len = 1024 * 1024;
	char	*buf = malloc(len), c;
	int	 fd, i;

	assert_non_null(buf);
	memset(buf, 'x', len);
	fd = connect_to(S_DISCARD);
	for (i = 0; i < 4; i++)
		assert_int_equal(h_send_all(fd, buf, len, H_TIMEOUT_MS), 0);
	/* Still open, and silent. */
	assert_int_equal(poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 200), 0);
	assert_int_equal(recv(fd, &c, 1, 0), -1);
	assert_int_equal(errno, EAGAIN);
	/* h_recv_eof fails on any byte: EOF must come with nothing before. */
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	free(buf);
}

/* The first lines exactly, then 1 MB continuing the pattern unbroken. */
static void
test_chargen(void **state)
{
	size_t		 len = 1024 * 1024 / LINE_LEN * LINE_LEN;
	char		*buf = malloc(len), want[LINE_LEN];
	const char	 l0[] = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJ"
			     "KLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n";
	const char	 l1[] = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJK"
			     "LMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n";
	const char	 l2[] = "\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKL"
			     "MNOPQRSTUVWXYZ[\\]^_`abcdefghi\r\n";
	size_t		 i;
	int		 fd;

	assert_non_null(buf);
	assert_int_equal(sizeof(l0) - 1, LINE_LEN);
	fd = connect_to(S_CHARGEN);
	assert_int_equal(h_recv_exact(fd, buf, 3 * LINE_LEN, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, l0, LINE_LEN);
	assert_memory_equal(buf + LINE_LEN, l1, LINE_LEN);
	assert_memory_equal(buf + 2 * LINE_LEN, l2, LINE_LEN);

	/* Lines 3 onwards: past the 95-line period many times over. */
	assert_int_equal(h_recv_exact(fd, buf, len, 10000), 0);
	for (i = 0; i < len / LINE_LEN; i++) {
		chargen_line(3 + i, want);
		if (memcmp(buf + i * LINE_LEN, want, LINE_LEN) != 0)
			fail_msg("chargen line %zu is wrong: %.*s", 3 + i,
			    LINE_LEN, buf + i * LINE_LEN);
	}
	close(fd);
	free(buf);
}

/* Input is discarded, and the client's half-close ends the stream. */
static void
test_chargen_half_close(void **state)
{
	char	buf[4096];
	long	deadline = h_now_ms() + H_TIMEOUT_MS;
	ssize_t	n;
	int	fd;

	fd = connect_to(S_CHARGEN);
	assert_int_equal(h_send_all(fd, "ignored\r\n", 9, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, LINE_LEN, H_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	for (;;) {
		assert_true(h_now_ms() < deadline);
		if (poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			break;
		assert_true(n > 0 || errno == EAGAIN || errno == EINTR);
	}
	close(fd);
}

/* One line, "Weekday, Month D, YYYY HH:MM:SS-UTC" CR LF, then EOF. */
static void
test_daytime(void **state)
{
	char		buf[256], year[2][16];
	struct tm	tm;
	time_t		t;
	ssize_t		n;
	int		fd, i;

	t = time(NULL);
	assert_non_null(gmtime_r(&t, &tm));
	snprintf(year[0], sizeof(year[0]), " %d ", tm.tm_year + 1900);
	fd = connect_to(S_DAYTIME);
	n = recv_to_eof(fd, buf, sizeof(buf) - 1, H_TIMEOUT_MS);
	close(fd);
	t = time(NULL);
	assert_non_null(gmtime_r(&t, &tm));
	snprintf(year[1], sizeof(year[1]), " %d ", tm.tm_year + 1900);

	assert_true(n >= 2);
	buf[n] = '\0';
	assert_memory_equal(buf + n - 2, "\r\n", 2);
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_ptr_equal(strchr(buf, '\r'), buf + n - 2);
	for (i = 0; i < n - 2; i++)
		assert_true(buf[i] >= ' ' && buf[i] <= '~');
	/* The year, as the test's own clock has it (New Year's Eve too). */
	assert_true(strstr(buf, year[0]) != NULL ||
	    strstr(buf, year[1]) != NULL);
	assert_non_null(strstr(buf, "-UTC\r\n"));
}

/* Four bytes, big-endian seconds since 1900, within 5 s; then EOF. */
static void
test_time(void **state)
{
	unsigned char	b[4];
	uint32_t	got, before, after;
	int		fd;

	before = (uint32_t)time(NULL) + EPOCH_1900;
	fd = connect_to(S_TIME);
	assert_int_equal(h_recv_exact(fd, b, 4, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	after = (uint32_t)time(NULL) + EPOCH_1900;
	got = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	/* Differences modulo 2^32, so the 2036 wrap is no special case. */
	assert_true((int32_t)(got - before) >= -5);
	assert_true((int32_t)(after - got) >= -5);
}

/*
 * Wait until fd's receive queue stops growing (unchanged for 300 ms): the
 * sender has filled every buffer on the way and stopped.  The queued
 * byte count, or -1 if it never settled or stayed empty.
 */
static int
wait_stalled(int fd)
{
	long	deadline = h_now_ms() + H_TIMEOUT_MS, since = h_now_ms();
	int	q, last = -1;

	while (h_now_ms() < deadline) {
		if (ioctl(fd, FIONREAD, &q) == -1)
			return -1;
		if (q != last) {
			last = q;
			since = h_now_ms();
		} else if (q > 0 && h_now_ms() - since >= 300)
			return q;
		poll(NULL, 0, 20);
	}
	return -1;
}

/*
 * A chargen client that never reads: the worker must stop at its
 * watermark, not buffer the endless stream.  Once the stream has stalled,
 * every worker's VmRSS has grown by less than 2 MB; then the stream
 * resumes intact.
 */
static void
test_chargen_no_reader(void **state)
{
	pid_t	kids[MAX_WORKERS];
	long	before[MAX_WORKERS], after, limit = 2048;
	char	buf[LINE_LEN], want[LINE_LEN];
	int	n, i, fd, q;

	n = h_children(d.pid, kids, MAX_WORKERS);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		before[i] = h_rss_kb(kids[i]);
		assert_true(before[i] > 0);
	}
	fd = connect_to(S_CHARGEN);
	/* Not vacuous: the stream did fill our side before it stopped. */
	q = wait_stalled(fd);
	print_message("chargen no reader: stalled with %d bytes queued\n", q);
	assert_true(q >= LINE_LEN);
	for (i = 0; i < n; i++) {
		after = h_rss_kb(kids[i]);
		assert_true(after > 0);
		print_message("chargen no reader: worker %ld VmRSS %ld kB -> "
		    "%ld kB (%+ld kB)\n", (long)kids[i], before[i], after,
		    after - before[i]);
		assert_true(after - before[i] < limit);
	}
	/* The connection is alive and still in step. */
	assert_int_equal(h_recv_exact(fd, buf, LINE_LEN, H_TIMEOUT_MS), 0);
	chargen_line(0, want);
	assert_memory_equal(buf, want, LINE_LEN);
	close(fd);
	assert_int_equal(h_children(d.pid, NULL, 0), 2);
}

/* Several at once, some reading, some not: every reader progresses. */
static void
test_chargen_fair(void **state)
{
	int	stalled[4], fd, i;
	size_t	len = 256 * LINE_LEN;
	char	*buf = malloc(len), want[LINE_LEN];

	assert_non_null(buf);
	for (i = 0; i < 4; i++)
		stalled[i] = connect_to(S_CHARGEN);
	for (i = 0; i < 8; i++) {
		fd = connect_to(S_CHARGEN);
		assert_int_equal(h_recv_exact(fd, buf, len, H_TIMEOUT_MS), 0);
		chargen_line(255, want);
		assert_memory_equal(buf + 255 * LINE_LEN, want, LINE_LEN);
		close(fd);
	}
	for (i = 0; i < 4; i++)
		close(stalled[i]);
	free(buf);
}

/*
 * A graceful stop (SIGQUIT) waits for connections, up to the deadline;
 * chargen and discard have no natural end, so on "shutdown" they must
 * finish by themselves, well before the 10 s deadline: chargen at once
 * though its client reads nothing, discard with a clean EOF.
 */
static void
test_graceful_stop(void **state)
{
	struct daemon	gd;
	int		cport, dport, cfd, dfd, st;

	cport = h_free_port(4);
	do
		dport = h_free_port(4);
	while (dport == cport);
	assert_true(cport > 0 && dport > 0);
	memset(&gd, 0, sizeof(gd));
	assert_int_equal(h_daemon_startf(&gd, "workers = 1;\nshutdown_timeout = 10;\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"chargen\";"
	    " },\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"discard\";"
	    " }\n"
	    ");\n", cport, dport), 0);
	cfd = h_connect("127.0.0.1", cport, H_TIMEOUT_MS);
	dfd = h_connect("127.0.0.1", dport, H_TIMEOUT_MS);
	assert_true(cfd >= 0 && dfd >= 0);
	assert_int_equal(h_send_all(dfd, "data", 4, H_TIMEOUT_MS), 0);
	/* chargen fills the pipe; nobody reads */
	assert_true(wait_stalled(cfd) > 0);

	assert_int_equal(kill(gd.pid, SIGQUIT), 0);
	/* Discard's FIN; it lingers (bounded) for ours, as a client does. */
	assert_int_equal(h_recv_eof(dfd, 3000), 0);
	close(dfd);
	/* The chargen client still reads nothing. */
	st = h_wait_exit(gd.pid, 3000);
	assert_true(st != -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	gd.pid = 0;
	close(cfd);
	assert_int_equal(h_daemon_stop(&gd), 0);
}

/* Outbound connections the daemon's workers made (status --json). */
static long long
outbound(struct daemon *dm)
{
	char		*out = NULL;
	long long	 n = -1;

	if (h_ctl(dm->sock, &out, "status", "--json", (char *)NULL) == 0)
		n = h_json_num(out, "\"totals\"", "outbound_total");
	free(out);
	return n;
}

/* examples/forward in front of echo: 4 MiB through and back, every byte
 * checked while both directions flow; the client's FIN goes through and
 * the end comes back. */
static void
test_forward(void **state)
{
	enum { TOTAL = 4 << 20 };
	static unsigned char	 out[65536], in[65536];
	struct daemon		 fd_d;
	struct pollfd		 pfd;
	size_t			 sent = 0, got = 0, i, n;
	ssize_t			 r;
	long			 deadline;
	int			 e = h_free_port(4), f = h_free_port(4), fd;
	int			 bad = 0;

	memset(&fd_d, 0, sizeof(fd_d));
	assert_int_equal(h_daemon_init(&fd_d, NULL), 0);
	assert_int_equal(h_daemon_startf(&fd_d, "workers = 2;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"forward\"; path = \"%s\";\n"
	    "  settings = { host = \"127.0.0.1\"; port = %d; }; });\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"forward\"; "
	    "});\n", fd_d.sock, FORWARD_MODULE, e, e, f), 0);
	assert_true((fd = h_connect("127.0.0.1", f, H_TIMEOUT_MS)) >= 0);
	deadline = h_now_ms() + 20000;
	while (got < TOTAL && h_now_ms() < deadline) {
		pfd.fd = fd;
		pfd.events = POLLIN | (sent < TOTAL ? POLLOUT : 0);
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && sent < TOTAL) {
			n = TOTAL - sent < sizeof(out) ? TOTAL - sent :
			    sizeof(out);
			for (i = 0; i < n; i++)
				out[i] = (unsigned char)((sent + i) * 13);
			if ((r = send(fd, out, n, MSG_DONTWAIT)) > 0)
				sent += (size_t)r;
		}
		if ((r = recv(fd, in, sizeof(in), MSG_DONTWAIT)) > 0) {
			for (i = 0; i < (size_t)r; i++)
				bad += in[i] !=
				    (unsigned char)((got + i) * 13);
			got += (size_t)r;
		} else if (r == 0)
			break;
	}
	assert_int_equal(got, TOTAL);
	assert_int_equal(bad, 0);
	assert_int_equal(h_send_all(fd, "bye", 3, H_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_exact(fd, in, 3, H_TIMEOUT_MS), 0);
	assert_memory_equal(in, "bye", 3);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	/* The worker counted the connection it made, apart from clients:
	 * at connect, before any byte came back, and status asks the
	 * workers for their counters before it answers. */
	assert_int_equal(outbound(&fd_d), 1);
	assert_int_equal(h_daemon_stop(&fd_d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_chargen),
		cmocka_unit_test(test_chargen_half_close),
		cmocka_unit_test(test_daytime),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_chargen_no_reader),
		cmocka_unit_test(test_chargen_fair),
	};

	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_graceful_stop),
		cmocka_unit_test(test_forward),
	};
	int	failed;

	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests_name("services", tests, setup_daemon,
	    teardown_daemon);
	failed += cmocka_run_group_tests_name("stopping", standalone, NULL,
	    NULL);
	return failed != 0;
}
