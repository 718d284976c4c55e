/*
 * test_hardening.c -- integration tests of resilience, against the real
 * binary: the master's descriptors do not leak across crashes and
 * reloads; a worker out of descriptors backs off quietly and recovers.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <dirent.h>
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

static int
fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(dir);
	return n;
}

/* 50 worker crashes and 10 reloads: the master's fd count is unchanged. */
static void
test_master_fds(void **state)
{
	struct daemon	d;
	char		conf[512], sock[192];
	pid_t		kids[8], oldest;
	int		p = h_free_port(4), before, after, i, n;

	assert_int_equal(h_daemon_init(&d, NULL), 0);
	snprintf(sock, sizeof(sock), "%s/admin.sock", d.dir);
	snprintf(conf, sizeof(conf), "workers = 2;\nadmin_socket = \"%s\";\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; });\n", sock, p);
	assert_int_equal(h_write_file(d.conf, conf), 0);
	assert_int_equal(h_daemon_start(&d, 2, "127.0.0.1", p), 0);
	assert_int_equal(h_ctl(sock, NULL, "status", (char *)NULL), 0);
	before = fd_count(d.pid);
	assert_true(before > 0);

	/* Kill the oldest every 550 ms: each victim has lived over a
	 * second, so this is crashes, not a crash loop with its backoff. */
	for (i = 0; i < 50; i++) {
		assert_int_equal(h_wait_children(d.pid, 2, H_TIMEOUT_MS), 0);
		poll(NULL, 0, 550);
		n = h_children(d.pid, kids, 8);
		assert_true(n >= 1);
		oldest = kids[0];
		while (--n > 0)
			if (kids[n] < oldest)
				oldest = kids[n];
		assert_int_equal(kill(oldest, SIGKILL), 0);
	}
	for (i = 0; i < 10; i++)
		assert_int_equal(h_ctl(sock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_wait_children(d.pid, 2, 10000), 0);
	assert_int_equal(h_echo_once("127.0.0.1", p, "still\n"), 0);
	assert_int_equal(h_ctl(sock, NULL, "status", (char *)NULL), 0);
	after = fd_count(d.pid);
	print_message("master fds: %d before, %d after\n", before, after);
	assert_int_equal(after, before);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* Out of descriptors: the worker pauses quietly and recovers. */
static void
test_emfile(void **state)
{
	struct daemon	d;
	char		conf[512];
	pid_t		kid;
	long		cpu0, cpu1, t0, t1;
	int		p = h_free_port(4), fds[200], i, served = 0, logs;

	snprintf(conf, sizeof(conf), "workers = 1;\nrlimit_nofile = 64;\n"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"echo\"; backlog = 512; });\n", p);
	assert_int_equal(h_daemon_init(&d, conf), 0);
	assert_int_equal(h_daemon_start(&d, 1, "127.0.0.1", p), 0);
	assert_int_equal(h_children(d.pid, &kid, 1), 1);
	for (i = 0; i < 200; i++) {
		fds[i] = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
		assert_true(fds[i] >= 0);
		assert_int_equal(h_send_all(fds[i], "z", 1, 1000), 0);
	}
	/* Some are served, the rest wait in the queue. */
	for (i = 0; i < 200; i++) {
		char	c;

		if (h_recv_exact(fds[i], &c, 1, 20) == 0)
			served++;
	}
	assert_true(served > 10 && served < 64);
	assert_int_equal(h_wait_log(&d, "Too many open files", 2000), 0);

	/* Saturated: a few retries a second, not a spin. */
	cpu0 = h_cpu_ms(kid);
	t0 = h_now_ms();
	poll(NULL, 0, 2000);
	cpu1 = h_cpu_ms(kid);
	t1 = h_now_ms();
	print_message("emfile: %d served at first, worker CPU %ld ms in %ld "
	    "ms\n", served, cpu1 - cpu0, t1 - t0);
	assert_true((cpu1 - cpu0) * 20 < t1 - t0);		/* under 5 % */
	logs = h_log_count(&d, "pausing");
	assert_true(logs >= 1 && logs <= 8);

	/* The clients leave: it serves again by itself. */
	for (i = 0; i < 200; i++)
		close(fds[i]);
	assert_int_equal(h_echo_once("127.0.0.1", p, "back\n"), 0);
	assert_true(h_pid_alive(kid));
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_fds),
		cmocka_unit_test(test_emfile),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("hardening", tests, NULL, NULL);
}
