/*
 * test_timers.c -- integration tests of the timers a module sets, on the
 * real preforkd with the tests/modules/timers.so service: a 50 ms
 * timeout and a 100 ms interval that stops itself after three calls, seen
 * from the client with their lower bounds; timers a service never clears
 * freed when the worker stops, and not holding up a graceful stop.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

/* Read until EOF; how many bytes, or -1 on error or timeout. */
static ssize_t
read_to_eof(int fd, char *buf, size_t size, int timeout_ms)
{
	long	end = h_now_ms() + timeout_ms;
	size_t	got = 0;
	ssize_t	n;

	while (h_now_ms() < end) {
		if (poll(&(struct pollfd){ fd, POLLIN, 0 }, 1,
		    (int)(end - h_now_ms())) != 1)
			continue;
		if ((n = recv(fd, buf + got, size - got, 0)) == 0)
			return (ssize_t)got;
		if (n < 0 || (got += (size_t)n) == size)
			return -1;
	}
	return -1;
}

static void
start(struct daemon *d, int port)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(h_daemon_startf(d, "workers = 1;\n"
	    "shutdown_timeout = 10;\n"
	    "log = { level = \"debug\"; };\n"
	    "modules = ({ name = \"timers\"; path = \"%s\"; });\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"timers\"; });\n", TIMERS_MODULE, port), 0);
}

/* "tick" at 50 ms, "tock" at 100, 200 and 300 ms, then the end. */
static void
test_tick_tock(void **state)
{
	struct daemon	d;
	char		buf[8];
	long		t0, at[4];
	int		i, p = h_free_port(4), fd;

	start(&d, p);
	t0 = h_now_ms();
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_recv_exact(fd, buf, 5, H_TIMEOUT_MS), 0);
	at[0] = h_now_ms() - t0;
	assert_memory_equal(buf, "tick\n", 5);
	for (i = 1; i < 4; i++) {
		assert_int_equal(h_recv_exact(fd, buf, 5, H_TIMEOUT_MS), 0);
		at[i] = h_now_ms() - t0;
		assert_memory_equal(buf, "tock\n", 5);
	}
	/* The interval cleared itself and ended the connection. */
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	print_message("tick at %ld ms, tocks at %ld, %ld, %ld ms\n", at[0],
	    at[1], at[2], at[3]);
	/* Set after our connect: never before their time from t0. */
	assert_true(at[0] >= 50);
	assert_true(at[1] >= 100);
	assert_true(at[2] >= 200);
	assert_true(at[3] >= 300);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* Timers a service forgets (init's interval, and two set on "forget"):
 * the worker frees them when it stops. */
static void
test_forgotten(void **state)
{
	struct daemon	d;
	char		buf[4];
	int		p = h_free_port(4), fd;

	start(&d, p);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "forget\n", 7, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, 3, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "ok\n", 3);
	close(fd);
	assert_int_equal(kill(d.pid, SIGTERM), 0);
	assert_int_equal(h_wait_log(&d, "timers left set, freed: 3",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/*
 * A graceful stop with timers pending: the connection's own, cleared by
 * its data handler ("hush"), and three forgotten ones.  The service says
 * goodbye on "shutdown", and the forgotten timers do not keep the worker
 * from exiting once its last connection has closed.
 */
static void
test_graceful(void **state)
{
	struct daemon	d;
	char		buf[64];
	int		p = h_free_port(4), fd, st;
	long		t0;
	ssize_t		n;

	start(&d, p);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "hush\n", 5, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, 7, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "hushed\n", 7);
	assert_int_equal(h_send_all(fd, "forget\n", 7, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, buf, 3, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "ok\n", 3);
	t0 = h_now_ms();
	assert_int_equal(kill(d.pid, SIGQUIT), 0);
	n = read_to_eof(fd, buf, sizeof(buf) - 1, H_TIMEOUT_MS);
	close(fd);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "bye\n", 4);
	st = h_wait_exit(d.pid, 3000);
	assert_true(st != -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Well before the 10 s shutdown_timeout. */
	assert_true(h_now_ms() - t0 < 3000);
	d.pid = 0;
	assert_int_equal(h_log_count(&d, "timers left set, freed: 3"), 1);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tick_tock),
		cmocka_unit_test(test_forgotten),
		cmocka_unit_test(test_graceful),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
