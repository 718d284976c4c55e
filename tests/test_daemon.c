/*
 * test_daemon.c -- integration tests of the foundation: the real preforkd
 * binary on loopback (IPv4, IPv6, Unix socket) serving echo with two
 * workers; configuration checks; supervision; clean shutdown.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

struct fixture {
	struct daemon	d;
	int		port4;
	int		port6;
	char		path[128];
};

static struct fixture	fx;

static int
setup_daemon(void **state)
{
	char	conf[1024];

	fx.port4 = h_free_port(4);
	fx.port6 = h_free_port(6);
	if (fx.port4 <= 0 || fx.port6 <= 0 || h_daemon_init(&fx.d, NULL) == -1)
		return -1;
	snprintf(fx.path, sizeof(fx.path), "%s/echo.sock", fx.d.dir);
	snprintf(conf, sizeof(conf),
	    "workers = 2;\n"
	    "heartbeat_interval = 0.2;\n"
	    "log = { level = \"debug\"; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "  { address = \"::1\"; port = %d; service = \"echo\"; },\n"
	    "  { path = \"%s\"; service = \"echo\"; backlog = 128; }\n"
	    ");\n", fx.port4, fx.port6, fx.path);
	if (h_write_file(fx.d.conf, conf) == -1)
		return -1;
	return h_daemon_start(&fx.d, 2, "127.0.0.1", fx.port4);
}

static int
teardown_daemon(void **state)
{
	return h_daemon_stop(&fx.d);
}

static void
test_one_master_two_workers(void **state)
{
	pid_t	kids[4];

	assert_int_equal(h_children(fx.d.pid, kids, 4), 2);
	assert_true(h_pid_alive(kids[0]));
	assert_true(h_pid_alive(kids[1]));
}

static void
test_echo_ipv4(void **state)
{
	assert_int_equal(h_echo_once("127.0.0.1", fx.port4, "hello\n"), 0);
}

static void
test_echo_ipv6(void **state)
{
	assert_int_equal(h_echo_once("::1", fx.port6, "hello over v6\n"), 0);
}

static void
test_echo_unix(void **state)
{
	struct stat	st;

	assert_int_equal(stat(fx.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(h_echo_once(fx.path, 0, "hello over unix\n"), 0);
}

static void
fill_random(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static void
test_echo_large(void **state)
{
	size_t		 len = 3 * 1024 * 1024 / 2;
	unsigned char	*buf = malloc(len);
	int		 fd;

	assert_non_null(buf);
	fill_random(buf, len, 42);
	fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, buf, len, 10000), 0);
	/* And the same connection still works afterwards. */
	assert_int_equal(h_echo_check(fd, "tail", 4, H_TIMEOUT_MS), 0);
	close(fd);
	free(buf);
}

static void
test_echo_large_unix(void **state)
{
	size_t		 len = 1024 * 1024 + 17;
	unsigned char	*buf = malloc(len);
	int		 fd;

	assert_non_null(buf);
	fill_random(buf, len, 7);
	fd = h_connect(fx.path, 0, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, buf, len, 10000), 0);
	close(fd);
	free(buf);
}

#define NCLIENTS	500

/* 500 clients connected at once, each gets exactly its own bytes back. */
static void
test_concurrent_clients(void **state)
{
	struct pollfd	*pfd = calloc(NCLIENTS, sizeof(*pfd));
	char		 (*got)[32] = calloc(NCLIENTS, 32);
	size_t		*len = calloc(NCLIENTS, sizeof(*len));
	char		 msg[32];
	long		 deadline = h_now_ms() + 15000;
	int		 i, done = 0, n;

	assert_non_null(pfd);
	assert_non_null(got);
	assert_non_null(len);
	for (i = 0; i < NCLIENTS; i++) {
		pfd[i].fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
		assert_true(pfd[i].fd >= 0);
		pfd[i].events = POLLIN;
	}
	for (i = 0; i < NCLIENTS; i++) {
		snprintf(msg, sizeof(msg), "client %04d\n", i);
		assert_int_equal(h_send_all(pfd[i].fd, msg, strlen(msg),
		    H_TIMEOUT_MS), 0);
	}
	while (done < NCLIENTS && h_now_ms() < deadline) {
		if (poll(pfd, NCLIENTS, 200) <= 0)
			continue;
		for (i = 0; i < NCLIENTS; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			n = recv(pfd[i].fd, got[i] + len[i],
			    sizeof(got[i]) - 1 - len[i], 0);
			assert_true(n > 0);
			len[i] += n;
			if (len[i] == 12) {
				pfd[i].events = 0;
				done++;
			}
		}
	}
	assert_int_equal(done, NCLIENTS);
	for (i = 0; i < NCLIENTS; i++) {
		snprintf(msg, sizeof(msg), "client %04d\n", i);
		assert_memory_equal(got[i], msg, 12);
		close(pfd[i].fd);
	}
	free(pfd);
	free(got);
	free(len);
}

/* The client half-closes: it still gets every byte back, then EOF. */
static void
test_half_close(void **state)
{
	char	buf[16];
	int	fd;

	fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "abcdef", 6, H_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(h_recv_exact(fd, buf, 6, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, "abcdef", 6);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
}

/* Half-close with a large payload still queued in the server. */
static void
test_half_close_large(void **state)
{
	size_t		 len = 2 * 1024 * 1024, sent = 0, got = 0;
	unsigned char	*buf = malloc(len), *back = malloc(len);
	struct pollfd	 pfd;
	long		 deadline = h_now_ms() + 15000;
	ssize_t		 n;
	int		 fd, shut = 0;

	assert_non_null(buf);
	assert_non_null(back);
	fill_random(buf, len, 3);
	fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	pfd.fd = fd;
	for (;;) {
		assert_true(h_now_ms() < deadline);
		pfd.events = POLLIN | (sent < len ? POLLOUT : 0);
		assert_true(poll(&pfd, 1, 1000) >= 0);
		if ((pfd.revents & POLLOUT) && sent < len) {
			n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += n;
		}
		if (sent == len && !shut) {
			assert_int_equal(shutdown(fd, SHUT_WR), 0);
			shut = 1;
		}
		if (pfd.revents & (POLLIN | POLLHUP)) {
			n = recv(fd, back + got, len - got + 1, 0);
			if (n == 0)
				break;
			if (n > 0)
				got += n;
		}
	}
	assert_int_equal(got, len);
	assert_memory_equal(buf, back, len);
	close(fd);
	free(buf);
	free(back);
}

/*
 * The server's end of a client connection has TCP_NODELAY (set on the
 * listening sockets, inherited): look at it with pidfd_getfd(2).
 */
static void
test_nodelay(void **state)
{
	struct sockaddr_in	 me, peer;
	socklen_t		 len;
	pid_t			 kids[4];
	char			 path[64];
	struct dirent		*de;
	DIR			*dir;
	int			 fd, pidfd, sfd, i, nodelay, found = 0;

	fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "n", 1, H_TIMEOUT_MS), 0);
	len = sizeof(me);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	assert_int_equal(h_children(fx.d.pid, kids, 4), 2);
	for (i = 0; i < 2 && !found; i++) {
		pidfd = (int)syscall(SYS_pidfd_open, kids[i], 0);
		if (pidfd == -1) {
			close(fd);
			skip();
		}
		snprintf(path, sizeof(path), "/proc/%ld/fd", (long)kids[i]);
		assert_non_null(dir = opendir(path));
		while (!found && (de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.' || (sfd = (int)syscall(
			    SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0)) == -1)
				continue;
			len = sizeof(peer);
			if (getpeername(sfd, (struct sockaddr *)&peer,
			    &len) == 0 && peer.sin_family == AF_INET &&
			    peer.sin_port == me.sin_port) {
				len = sizeof(nodelay);
				assert_int_equal(getsockopt(sfd, IPPROTO_TCP,
				    TCP_NODELAY, &nodelay, &len), 0);
				assert_int_equal(nodelay, 1);
				found = 1;
			}
			close(sfd);
		}
		closedir(dir);
		close(pidfd);
	}
	assert_true(found);
	close(fd);
}

/*
 * Each worker can serve alone: stop one, the other answers; swap.  With
 * one socket per worker (reuseport) the clients the kernel queued on the
 * stopped one's are taken in by the other once its heartbeat is late.
 */
static void
test_both_workers_serve(void **state)
{
	pid_t	kids[4];
	int	i, j;

	assert_int_equal(h_children(fx.d.pid, kids, 4), 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(kill(kids[i], SIGSTOP), 0);
		for (j = 0; j < 10; j++)
			assert_int_equal(h_echo_once("127.0.0.1", fx.port4,
			    "served by the other\n"), 0);
		assert_int_equal(h_echo_once(fx.path, 0, "unix too\n"), 0);
		assert_int_equal(kill(kids[i], SIGCONT), 0);
	}
	/* Both back: both serve their own again. */
	for (j = 0; j < 10; j++)
		assert_int_equal(h_echo_once("127.0.0.1", fx.port4,
		    "both\n"), 0);
}

/* A client that sends and resets without reading kills nothing. */
static void
test_reset_while_writing(void **state)
{
	struct linger	 lg = { 1, 0 };
	size_t		 len = 4 * 1024 * 1024;
	char		*buf = calloc(1, len);
	pid_t		 before[4], after[4];
	int		 fd, i;

	assert_non_null(buf);
	assert_int_equal(h_children(fx.d.pid, before, 4), 2);
	for (i = 0; i < 20; i++) {
		fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
		assert_true(fd >= 0);
		/* The server blocks on us; send what fits, then RST. */
		(void)send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
		    sizeof(lg)), 0);
		close(fd);
	}
	assert_int_equal(h_echo_once("127.0.0.1", fx.port4, "still here\n"),
	    0);
	assert_int_equal(h_children(fx.d.pid, after, 4), 2);
	assert_true((after[0] == before[0] && after[1] == before[1]) ||
	    (after[0] == before[1] && after[1] == before[0]));
	free(buf);
}

/* kill -9 of a worker: a new one takes its place within a second. */
static void
test_worker_respawn(void **state)
{
	pid_t	kids[4], now[4];
	long	deadline;
	int	n;

	assert_int_equal(h_children(fx.d.pid, kids, 4), 2);
	assert_int_equal(kill(kids[0], SIGKILL), 0);
	deadline = h_now_ms() + 1000;
	for (;;) {
		n = h_children(fx.d.pid, now, 4);
		if (n == 2 && now[0] != kids[0] && now[1] != kids[0])
			break;
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 10);
	}
	assert_int_equal(h_echo_once("127.0.0.1", fx.port4, "after\n"), 0);
	assert_int_equal(h_wait_log(&fx.d, "killed by signal 9", 1000), 0);
}

static void
test_config_check(void **state)
{
	struct daemon	 d;
	char		*log, conf[256];
	int		 st, port = h_free_port(4), fd;

	/* Valid, and -t binds nothing: the port is taken, yet it passes. */
	fd = h_connect("127.0.0.1", fx.port4, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	close(fd);
	snprintf(conf, sizeof(conf), "workers = 1;\nlisteners = ({ address ="
	    " \"127.0.0.1\"; port = %d; service = \"echo\"; });\n", fx.port4);
	assert_int_equal(h_daemon_init(&d, conf), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-t", "-c", d.conf, (char *)NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(h_daemon_stop(&d), 0);

	/* A syntax error on line 3 is reported as file:3. */
	assert_int_equal(h_daemon_init(&d, "workers = 2;\n\nlisteners = ( {"
	    " port = ; service = \"echo\"; } );\n"), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-t", "-c", d.conf, (char *)NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	log = h_read_file(d.log);
	assert_non_null(log);
	snprintf(conf, sizeof(conf), "%s:3: ", d.conf);
	assert_non_null(strstr(log, conf));
	free(log);
	assert_int_equal(h_daemon_stop(&d), 0);

	/* An unknown service, named with its line. */
	snprintf(conf, sizeof(conf), "workers = 2;\nlisteners = (\n"
	    "{ port = %d; service = \"nosuch\"; }\n);\n", port);
	assert_int_equal(h_daemon_init(&d, conf), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-t", "-c", d.conf, (char *)NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	log = h_read_file(d.log);
	assert_non_null(log);
	snprintf(conf, sizeof(conf), "%s:3: ", d.conf);
	assert_non_null(strstr(log, conf));
	assert_non_null(strstr(log, "nosuch"));
	free(log);
	assert_int_equal(h_daemon_stop(&d), 0);

	/* -V and -h answer without a configuration. */
	assert_int_equal(h_daemon_init(&d, NULL), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-V", (char *)NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = h_run(&d, H_TIMEOUT_MS, "-h", (char *)NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	log = h_read_file(d.log);
	assert_non_null(log);
	assert_non_null(strstr(log, "preforkd " PACKAGE_VERSION));
	assert_non_null(strstr(log, "usage: preforkd"));
	free(log);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/*
 * -t refuses what start-up would refuse, with file:line, and writes
 * nothing; start-up refuses it with the same message.
 */
static void
test_config_check_runtime(void **state)
{
	static const struct {
		const char	*text;	/* after the listener line */
		int		 line;
		const char	*phrase;
	} t[] = {
		{ "log = { file = \"/nonexistent/pf.log\"; };", 2,
		    "log file /nonexistent/pf.log: directory /nonexistent" },
		{ "\npidfile = \"/nonexistent/pf.pid\";", 3,
		    "pidfile /nonexistent/pf.pid: directory /nonexistent" },
		{ "admin_socket = \"/nonexistent/pf.sock\";", 2,
		    "admin_socket /nonexistent/pf.sock: directory" },
		{ "user = \"no-such-user-pf\";", 2,
		    "user 'no-such-user-pf' does not exist" },
		{ "group = \"no-such-group-pf\";", 2,
		    "group 'no-such-group-pf' does not exist" },
		{ "chroot = \"/nonexistent\";", 2, "chroot /nonexistent" },
	};
	struct daemon	 d;
	struct stat	 sb;
	char		 conf[512], want[256], path[192], *log;
	int		 st, port = h_free_port(4);
	size_t		 i, k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(conf, sizeof(conf), "listeners = ({ address = "
		    "\"127.0.0.1\"; port = %d; service = \"echo\"; });\n%s\n",
		    port, t[i].text);
		assert_int_equal(h_daemon_init(&d, conf), 0);
		snprintf(want, sizeof(want), "%s:%d: %s", d.conf, t[i].line,
		    t[i].phrase);
		for (k = 0; k < 2; k++) {
			st = k == 0 ?
			    h_run(&d, H_TIMEOUT_MS, "-t", "-c", d.conf,
			    (char *)NULL) :
			    h_run(&d, H_TIMEOUT_MS, "-c", d.conf, (char *)NULL);
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), 1);
			log = h_read_file(d.log);
			assert_non_null(log);
			if (strstr(log, want) == NULL)
				print_error("want \"%s\" in:\n%s\n", want, log);
			assert_non_null(strstr(log, want));
			free(log);
			assert_int_equal(truncate(d.log, 0), 0);
		}
		/* Start-up bound nothing either. */
		assert_true(h_connect("127.0.0.1", port, 200) < 0);
		assert_int_equal(h_daemon_stop(&d), 0);
	}

	/* Valid: -t creates none of the files start-up would. */
	assert_int_equal(h_daemon_init(&d, NULL), 0);
	snprintf(conf, sizeof(conf), "listeners = ({ address = \"127.0.0.1\";"
	    " port = %d; service = \"echo\"; });\n"
	    "log = { file = \"%s/pf.log\"; };\npidfile = \"%s/pf.pid\";\n"
	    "admin_socket = \"%s/pf.sock\";\n", port, d.dir, d.dir, d.dir);
	assert_int_equal(h_write_file(d.conf, conf), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-t", "-c", d.conf, (char *)NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	snprintf(path, sizeof(path), "%s/pf.log", d.dir);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "%s/pf.pid", d.dir);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "%s/pf.sock", d.dir);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/*
 * Stop, reload and reopen signals in a storm until the master is gone:
 * the ones that come while it is already on its way out change nothing,
 * it exits 0 (not killed by a default handler put back as it frees its
 * signal events).
 */
static void
test_signals_while_exiting(void **state)
{
	static const int	 sigs[] = { SIGTERM, SIGHUP, SIGUSR1, SIGINT };
	struct timespec		 pace = { 0, 100 * 1000 };
	struct daemon		 d;
	long			 deadline;
	int			 status = -1, port = h_free_port(4), i, round;

	for (round = 0; round < 5; round++) {
		assert_int_equal(h_daemon_init(&d, NULL), 0);
		assert_int_equal(h_daemon_startf(&d, "workers = 1;\n"
		    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
		    "service = \"echo\"; });\n", port), 0);
		assert_int_equal(kill(d.pid, SIGTERM), 0);
		deadline = h_now_ms() + H_TIMEOUT_MS;
		for (i = 0; (status = h_wait_exit(d.pid, 0)) == -1; i++) {
			assert_true(h_now_ms() < deadline);
			(void)kill(d.pid, sigs[i % 4]);
			nanosleep(&pace, NULL);
		}
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		d.pid = 0;
		assert_int_equal(h_daemon_stop(&d), 0);
	}
}

/* A port already taken: the master says so and exits 1, leaving nobody. */
static void
test_bind_failure(void **state)
{
	struct daemon	 d;
	char		 conf[256], *log;
	int		 st;

	snprintf(conf, sizeof(conf), "workers = 2;\nlisteners = ({ address ="
	    " \"127.0.0.1\"; port = %d; service = \"echo\"; });\n", fx.port4);
	assert_int_equal(h_daemon_init(&d, conf), 0);
	st = h_run(&d, H_TIMEOUT_MS, "-c", d.conf, (char *)NULL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	log = h_read_file(d.log);
	assert_non_null(log);
	assert_non_null(strstr(log, "bind"));
	assert_non_null(strstr(log, "Address already in use"));
	free(log);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* SIGTERM: every process gone within 5 s, exit 0, socket file removed. */
static void
test_sigterm(void **state)
{
	struct daemon	d;
	struct stat	st;
	pid_t		kids[4];
	char		path[192];
	int		status, port = h_free_port(4), fd;

	assert_int_equal(h_daemon_init(&d, NULL), 0);
	snprintf(path, sizeof(path), "%s/s.sock", d.dir);
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\nlisteners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ path = \"%s\"; service = \"echo\"; });\n", port, path), 0);
	assert_int_equal(h_children(d.pid, kids, 4), 2);
	assert_int_equal(stat(path, &st), 0);
	/* An open connection must not hold the stop up. */
	fd = h_connect("127.0.0.1", port, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "x", 1, H_TIMEOUT_MS), 0);

	assert_int_equal(kill(d.pid, SIGTERM), 0);
	status = h_wait_exit(d.pid, 5000);
	assert_true(status != -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	d.pid = 0;
	assert_false(h_pid_alive(kids[0]));
	assert_false(h_pid_alive(kids[1]));
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* kill -9 of the master: the workers notice and leave on their own. */
static void
test_master_killed(void **state)
{
	struct daemon	d;
	pid_t		kids[4];
	int		port = h_free_port(4);

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_startf(&d, "workers = 2;\nlisteners = ({ address ="
	    " \"127.0.0.1\"; port = %d; service = \"echo\"; });\n", port), 0);
	assert_int_equal(h_children(d.pid, kids, 4), 2);
	assert_int_equal(kill(d.pid, SIGKILL), 0);
	assert_true(h_wait_exit(d.pid, H_TIMEOUT_MS) != -1);
	d.pid = 0;
	assert_int_equal(h_wait_gone(kids, 2, 5000), 0);
	assert_int_equal(h_wait_log(&d, "master gone", 1000), 0);
	assert_int_equal(h_log_count(&d, "killed by signal"), 0);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest running[] = {
		cmocka_unit_test(test_one_master_two_workers),
		cmocka_unit_test(test_echo_ipv4),
		cmocka_unit_test(test_echo_ipv6),
		cmocka_unit_test(test_echo_unix),
		cmocka_unit_test(test_echo_large),
		cmocka_unit_test(test_echo_large_unix),
		cmocka_unit_test(test_concurrent_clients),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_half_close_large),
		cmocka_unit_test(test_nodelay),
		cmocka_unit_test(test_both_workers_serve),
		cmocka_unit_test(test_reset_while_writing),
		cmocka_unit_test(test_worker_respawn),
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_config_check_runtime),
		cmocka_unit_test(test_bind_failure),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_sigterm),
		cmocka_unit_test(test_signals_while_exiting),
		cmocka_unit_test(test_master_killed),
	};
	int	failed;

	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests_name("daemon", running, setup_daemon,
	    teardown_daemon);
	failed += cmocka_run_group_tests_name("lifecycle", standalone, NULL,
	    NULL);
	return failed != 0;
}
