/*
 * test_hardening.c -- integration tests of resilience, against the real
 * binary: the master's descriptors do not leak across crashes and
 * reloads; a worker out of descriptors backs off quietly and recovers.
 */
#include <sys/resource.h>
#include <sys/socket.h>
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

#include "tests/harness.h"

/* 50 worker crashes and 10 reloads: the master's fd count is unchanged. */
static void
test_master_fds(void **state)
{
	struct daemon	d;
	pid_t		kids[8], oldest;
	int		p = h_free_port(4), before, after, i, n;

	assert_int_equal(h_daemon_init(&d, NULL), 0);
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\n"
	    "admin_socket = \"%s\";\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; });\n", d.sock, p), 0);
	assert_int_equal(h_ctl(d.sock, NULL, "status", (char *)NULL), 0);
	before = h_fd_count(d.pid, NULL);
	assert_true(before > 0);

	/* Kill the oldest once its replacement-to-be's predecessor has
	 * reported ready: a worker that was ready and is killed from
	 * outside is a crash, replaced at once, never a crash loop with
	 * its backoff -- so no need to let each one live min_uptime. */
	for (i = 0; i < 50; i++) {
		assert_int_equal(h_wait_log_count(&d, ") ready, generation",
		    2 + i, H_TIMEOUT_MS), 0);
		assert_int_equal(h_wait_children(d.pid, 2, H_TIMEOUT_MS), 0);
		n = h_children(d.pid, kids, 8);
		assert_true(n >= 1);
		oldest = kids[0];
		while (--n > 0)
			if (kids[n] < oldest)
				oldest = kids[n];
		assert_int_equal(kill(oldest, SIGKILL), 0);
	}
	assert_int_equal(h_wait_log_count(&d, ") ready, generation", 52,
	    H_TIMEOUT_MS), 0);
	/* None of them was taken for a crash loop. */
	assert_int_equal(h_log_count(&d, "times in a row"), 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(h_ctl(d.sock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_wait_children(d.pid, 2, 10000), 0);
	assert_int_equal(h_echo_once("127.0.0.1", p, "still\n"), 0);
	assert_int_equal(h_ctl(d.sock, NULL, "status", (char *)NULL), 0);
	after = h_fd_count(d.pid, NULL);
	print_message("master fds: %d before, %d after\n", before, after);
	assert_int_equal(after, before);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* How many of fds[0..n) have a byte to read, waiting until no new one
 * has come for quiet_ms; each answering one is read once. */
static int
count_answers(const int *fds, int n, int quiet_ms)
{
	struct pollfd	pfd[200];
	char		c;
	int		i, got = 0, r;

	assert_true(n <= 200);
	for (i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ fds[i], POLLIN, 0 };
	while ((r = poll(pfd, n, quiet_ms)) > 0) {
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (recv(pfd[i].fd, &c, 1, MSG_DONTWAIT) == 1)
				got++;
			pfd[i].fd = -1;
		}
	}
	return got;
}

/* Out of descriptors: the worker pauses quietly and recovers. */
static void
test_emfile(void **state)
{
	struct daemon	d;
	pid_t		kid;
	long		cpu0, cpu1, t0, t1;
	int		p = h_free_port(4), fds[200], i, served = 0, logs;

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 1;\nrlimit_nofile = 64;\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; backlog = 512; });\n", p), 0);
	assert_int_equal(h_children(d.pid, &kid, 1), 1);
	for (i = 0; i < 200; i++) {
		fds[i] = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
		assert_true(fds[i] >= 0);
		assert_int_equal(h_send_all(fds[i], "z", 1, 1000), 0);
	}
	/* Some are served, the rest wait in the queue.  Once the worker
	 * hit the limit, every echo it owes is under way: collect them
	 * all at once until none has come for 200 ms. */
	assert_int_equal(h_wait_log(&d, "Too many open files", H_TIMEOUT_MS),
	    0);
	served = count_answers(fds, 200, 200);
	assert_true(served > 10 && served < 64);

	/* Saturated: a few retries a second, not a spin. */
	cpu0 = h_cpu_ms(kid);
	t0 = h_now_ms();
	poll(NULL, 0, 1000);	/* the window measured, not a wait */
	cpu1 = h_cpu_ms(kid);
	t1 = h_now_ms();
	print_message("emfile: %d served at first, worker CPU %ld ms in %ld "
	    "ms\n", served, cpu1 - cpu0, t1 - t0);
	assert_true((cpu1 - cpu0) * 20 < t1 - t0);		/* under 5 % */
	logs = h_log_count(&d, "pausing");
	assert_true(logs >= 1 && logs <= 6);

	/* The clients leave: it serves again by itself. */
	for (i = 0; i < 200; i++)
		close(fds[i]);
	assert_int_equal(h_echo_once("127.0.0.1", p, "back\n"), 0);
	assert_true(h_pid_alive(kid));
	assert_int_equal(h_daemon_stop(&d), 0);
}

static int
cmp_long(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

#define SLOW_CLIENTS	2000
#define PROBES		120

/* 2,000 slowloris clients do not slow a normal client down. */
static void
test_slowloris(void **state)
{
	struct daemon	 d;
	struct rlimit	 rl;
	static int	 slow[SLOW_CLIENTS];
	long		 lat[PROBES], t0, next_drip;
	int		 p = h_free_port(4), fd, i, k = 0;

	/* The test holds 2,000 sockets itself. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < SLOW_CLIENTS + 100)
		skip();
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\n"
	    "rlimit_nofile = 8192;\nlisteners = ({ address = \"127.0.0.1\"; "
	    "port = %d; service = \"echo\"; backlog = 4096; });\n", p), 0);
	for (i = 0; i < SLOW_CLIENTS; i++) {
		slow[i] = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
		assert_true(slow[i] >= 0);
	}
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	/* A probe every 10 ms for over a second; the slow ones drip a byte a
	 * second (two drips). */
	next_drip = h_now_ms();
	for (i = 0; i < PROBES; i++) {
		if (h_now_ms() >= next_drip) {
			for (k = 0; k < SLOW_CLIENTS; k++)
				(void)send(slow[k], "s", 1, MSG_DONTWAIT |
				    MSG_NOSIGNAL);
			next_drip = h_now_ms() + 1000;
		}
		t0 = h_now_ms();
		assert_int_equal(h_echo_check(fd, "probe\n", 6, H_TIMEOUT_MS),
		    0);
		lat[i] = h_now_ms() - t0;
		poll(NULL, 0, 10);
	}
	qsort(lat, PROBES, sizeof(lat[0]), cmp_long);
	print_message("slowloris: %d slow clients, probe p50 %ld ms, p99 %ld "
	    "ms, max %ld ms\n", SLOW_CLIENTS, lat[PROBES / 2],
	    lat[PROBES * 99 / 100], lat[PROBES - 1]);
	/* A worker blocked by a slow client would hold a probe until the
	 * next drip (1 s) or time it out; the tail (p99) is left to the
	 * scheduler of a busy machine, the bulk must be fast. */
	assert_true(lat[PROBES * 90 / 100] < 50);
	assert_true(lat[PROBES - 1] < 500);
	close(fd);
	for (i = 0; i < SLOW_CLIENTS; i++)
		close(slow[i]);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* 200 kill -9 of random workers under traffic: the master is unmoved. */
static void
test_kill_storm(void **state)
{
	struct daemon	d;
	pid_t		kids[8];
	unsigned int	seed = 7;
	long		deadline;
	int		p = h_free_port(4), before, after, i, n, killed = 0, fd;

	/* min_uptime: a worker that lived 10 ms is no crash loop here, so
	 * the storm measures the master, not the backoff. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\nmin_uptime = 0.01;\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", p), 0);
	assert_int_equal(h_echo_once("127.0.0.1", p, "ready\n"), 0);
	before = h_fd_count(d.pid, NULL);
	for (i = 0; killed < 200; i++) {
		assert_true(i < 100000);
		/* Traffic; it may fail while no worker is up. */
		if ((fd = h_connect("127.0.0.1", p, 100)) != -1) {
			(void)h_echo_check(fd, "t\n", 2, 100);
			close(fd);
		}
		poll(NULL, 0, 5);	/* the storm's pace, not a wait */
		n = h_children(d.pid, kids, 8);
		if (n > 0 && kill(kids[rand_r(&seed) % n], SIGKILL) == 0)
			killed++;
	}
	assert_true(h_pid_alive(d.pid));
	deadline = h_now_ms() + 10000;
	for (;;) {
		if ((fd = h_connect("127.0.0.1", p, 500)) != -1) {
			n = h_echo_check(fd, "after the storm\n", 16, 500);
			close(fd);
			if (n == 0)
				break;
		}
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 100);
	}
	assert_int_equal(h_wait_children(d.pid, 2, 10000), 0);
	/* A respawn under way holds a channel for a moment; a leak stays.
	 * (Fewer is no leak: under ASan the first count can catch the
	 * runtime's own descriptor, open for a moment.) */
	deadline = h_now_ms() + 3000;
	while ((after = h_fd_count(d.pid, NULL)) > before && h_now_ms() < deadline)
		poll(NULL, 0, 50);
	print_message("kill storm: 200 kills, master fds %d -> %d\n", before,
	    after);
	assert_true(after > 0 && after <= before);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* 100,000 one-byte writes come back whole and in order. */
static void
test_tiny_writes(void **state)
{
	struct daemon	 d;
	char		 *back;
	size_t		 got = 0, sent = 0, i;
	ssize_t		 n;
	int		 p = h_free_port(4), fd;
	long		 deadline;

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\nlisteners = ({ address ="
	    " \"127.0.0.1\"; port = %d; service = \"echo\"; });\n", p), 0);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	back = malloc(100000);
	assert_non_null(back);
	deadline = h_now_ms() + 20000;
	while (got < 100000) {
		assert_true(h_now_ms() < deadline);
		if (sent < 100000) {
			char	c = (char)('a' + sent % 26);

			if (send(fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
				sent++;
		}
		n = recv(fd, back + got, 100000 - got, MSG_DONTWAIT);
		if (n > 0)
			got += n;
		else if (sent == 100000)
			poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 100);
	}
	for (i = 0; i < 100000; i++)
		assert_int_equal(back[i], (char)('a' + i % 26));
	free(back);
	close(fd);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* 1,000 clients that write, half-close and vanish: nothing is disturbed. */
static void
test_half_close_storm(void **state)
{
	struct daemon	d;
	struct linger	lg = { 1, 0 };
	pid_t		kids[4], now[4];
	int		p = h_free_port(4), fd, i;

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\nlisteners = ({ address ="
	    " \"127.0.0.1\"; port = %d; service = \"echo\"; });\n", p), 0);
	assert_int_equal(h_children(d.pid, kids, 4), 2);
	for (i = 0; i < 1000; i++) {
		fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
		assert_true(fd >= 0);
		(void)send(fd, "half", 4, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		if (i % 2)	/* half of them reset instead of reading */
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	assert_int_equal(h_echo_once("127.0.0.1", p, "unmoved\n"), 0);
	assert_int_equal(h_children(d.pid, now, 4), 2);
	assert_true((now[0] == kids[0] && now[1] == kids[1]) ||
	    (now[0] == kids[1] && now[1] == kids[0]));
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_fds),
		cmocka_unit_test(test_emfile),
		cmocka_unit_test(test_slowloris),
		cmocka_unit_test(test_kill_storm),
		cmocka_unit_test(test_tiny_writes),
		cmocka_unit_test(test_half_close_storm),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("hardening", tests, NULL, NULL);
}
