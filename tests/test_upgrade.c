/*
 * test_upgrade.c -- integration tests of the binary upgrade under
 * continuous connect + echo load.  The daemon runs from a copy of the
 * binary in its private directory, so a test can replace the file.
 *
 * - 20 upgrades in a row (PREFORKD_TEST_UPGRADES sets another count), by
 *   "preforkctl upgrade", "preforkd -s upgrade" and SIGUSR2 in turn: no
 *   client refused, reset or corrupted, the master's pid changes every
 *   time (reply, pidfile, status, MAINPID= to $NOTIFY_SOCKET), and the old
 *   master and its workers are gone by the drain deadline.
 * - While an upgrade waits (a new binary that waits on a FIFO), reload,
 *   "workers N" and another upgrade are refused with that reason.
 * - A new master that never gets ready: failed at the deadline (6 s),
 *   the old master serving on.
 * - Without an admin socket, "preforkd -s upgrade" (SIGUSR2, then the
 *   pidfile) does the same.
 * - The file replaced by a script that exits at once, then a config that
 *   does not validate: the upgrade fails with the reason (exit 1), the
 *   old master serves on untouched; with the binary and file repaired,
 *   the next upgrade works.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <fcntl.h>
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
#include "tests/load.h"

#define SHUTDOWN_S	2	/* shutdown_timeout of the test configs */
#define KILL_GRACE_MS	1000	/* the master's, after shutdown_timeout */

/* Every master a test started or saw, to kill if it fails halfway. */
static pid_t	masters[64];
static int	nmasters;

struct up {
	struct daemon	d;
	char		bin[160];	/* the copy the daemon runs */
	char		pidfile[160];
	int		port;
	int		no_admin;	/* a config without admin_socket */
};

static void
seen(pid_t pid)
{
	if (nmasters < (int)(sizeof(masters) / sizeof(masters[0])))
		masters[nmasters++] = pid;
	else
		masters[nmasters - 1] = pid;
}

static int
kill_masters(void **state)
{
	int	i;

	for (i = 0; i < nmasters; i++) {
		if (masters[i] > 0 && h_pid_alive(masters[i]))
			kill(masters[i], SIGKILL);
	}
	nmasters = 0;
	return 0;
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char	*cmd;
	int	 rc;

	if (asprintf(&cmd, "cp '%s' '%s.new' && chmod %o '%s.new' && "
	    "mv -f '%s.new' '%s'", from, to, (unsigned)mode, to, to, to) < 0)
		return -1;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static void
write_conf(struct up *u, const char *extra)
{
	char	*text, admin[192] = "";

	if (!u->no_admin)
		snprintf(admin, sizeof(admin), "admin_socket = \"%s\";\n",
		    u->d.sock);
	assert_true(asprintf(&text, "workers = 2;\n"
	    "shutdown_timeout = %d;\n"
	    "pidfile = \"%s\";\n%s%s"
	    "listeners = ({ address = \"127.0.0.1\"; port = %d; "
	    "service = \"%s\"; backlog = 1024; });\n", SHUTDOWN_S,
	    u->pidfile, admin, extra, u->port,
	    strstr(extra, "failinit") != NULL ? "failinit" : "echo") > 0);
	assert_int_equal(h_write_file(u->d.conf, text), 0);
	free(text);
}

/* Our own $NOTIFY_SOCKET, as h_daemon_startf binds it. */
static void
notify_bind(struct daemon *d)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(d->notify) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, d->notify);
	unlink(d->notify);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	assert_true(d->notify_fd != -1);
	assert_int_equal(bind(d->notify_fd, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
}

/* Start the copied binary on its config, until READY=1. */
static void
up_start(struct up *u, int no_admin, const char *extra)
{
	struct rlimit	no_core = { 0, 0 };
	pid_t		pid;
	int		fd;

	memset(u, 0, sizeof(*u));
	u->no_admin = no_admin;
	u->d.notify_fd = -1;
	assert_int_equal(h_daemon_init(&u->d, NULL), 0);
	snprintf(u->bin, sizeof(u->bin), "%s/preforkd", u->d.dir);
	snprintf(u->pidfile, sizeof(u->pidfile), "%s/preforkd.pid", u->d.dir);
	assert_int_equal(copy_file(PREFORKD_BIN, u->bin, 0755), 0);
	u->port = h_free_port(4);
	write_conf(u, extra);
	notify_bind(&u->d);
	if ((pid = fork()) == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		if ((fd = open(u->d.log, O_WRONLY | O_CREAT | O_APPEND,
		    0644)) == -1)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
		setenv("NOTIFY_SOCKET", u->d.notify, 1);
		execl(u->bin, "preforkd", "-c", u->d.conf, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	u->d.pid = pid;
	seen(pid);
	assert_int_equal(h_wait_notify(&u->d, "READY=1", H_TIMEOUT_MS), 0);
}

/* The master the pidfile names (locked: a live one), or -1. */
static pid_t
pidfile_pid(const struct up *u)
{
	char	*text = h_read_file(u->pidfile);
	long	 pid = text != NULL ? strtol(text, NULL, 10) : -1;

	free(text);
	return (pid_t)pid;
}

static pid_t
status_pid(const struct up *u, long long *from)
{
	char		*json = NULL;
	long long	 pid;

	assert_int_equal(h_ctl(u->d.sock, &json, "status", "--json",
	    (char *)NULL), 0);
	pid = h_json_num(json, NULL, "pid");
	if (from != NULL)
		*from = h_json_num(json, NULL, "upgraded_from");
	free(json);
	return (pid_t)pid;
}

/* Until the pidfile names another master than old; bounded. */
static pid_t
wait_new_pidfile(const struct up *u, pid_t old)
{
	long	deadline = h_now_ms() + 2 * H_TIMEOUT_MS;
	pid_t	pid;

	while ((pid = pidfile_pid(u)) == old || pid <= 0) {
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 10);
	}
	return pid;
}

/* The first master is our child: reap it, or it stays a zombie. */
static void
reap_first(struct up *u, pid_t first)
{
	int	st;

	st = h_wait_exit(first, H_TIMEOUT_MS);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * One upgrade, asked for in one of three ways; returns the new master
 * once everything says so and the old one and its workers are gone.
 */
static pid_t
upgrade_once(struct up *u, int how)
{
	pid_t	 old = status_pid(u, NULL), gone[16], pid = -1;
	char	*out = NULL, needle[64];
	long	 t0;
	int	 n, rc;

	n = h_children(old, gone + 1, 15);
	assert_true(n >= 2);	/* its workers */
	gone[0] = old;
	switch (how) {
	case 0:
		rc = h_ctl(u->d.sock, &out, "upgrade", (char *)NULL);
		if (rc != 0)
			fprintf(stderr, "upgrade: %s\n", out ? out : "?");
		assert_int_equal(rc, 0);
		assert_non_null(strstr(out, "upgraded: master pid"));
		assert_true(sscanf(strstr(out, "->"), "-> %d", &pid) == 1);
		free(out);
		break;
	case 1:
		rc = h_run(&u->d, 2 * H_TIMEOUT_MS, "-c", u->d.conf, "-s",
		    "upgrade", (char *)NULL);
		assert_int_equal(rc, 0);
		break;
	default:
		assert_int_equal(kill(old, SIGUSR2), 0);
		break;
	}
	t0 = h_now_ms();
	if (pid == -1)
		pid = wait_new_pidfile(u, old);
	seen(pid);
	assert_true(pid > 0 && pid != old);
	assert_int_equal(pidfile_pid(u), pid);
	/* systemd would follow it: the old master, still main, said so. */
	snprintf(needle, sizeof(needle), "MAINPID=%ld\n", (long)pid);
	u->d.pid = 0;
	assert_int_equal(h_wait_notify(&u->d, needle, H_TIMEOUT_MS), 0);
	u->d.pid = pid;
	assert_int_equal(status_pid(u, NULL), pid);
	/* Gone by the drain deadline (plus the kill grace and slack for a
	 * loaded machine), not lingering. */
	assert_int_equal(h_wait_gone(gone, n + 1, SHUTDOWN_S * 1000 +
	    KILL_GRACE_MS + H_TIMEOUT_MS), 0);
	(void)t0;
	return pid;
}

static int
upgrade_count(void)
{
	const char	*s = getenv("PREFORKD_TEST_UPGRADES");
	int		 n = s != NULL ? atoi(s) : 20;

	return n > 0 && n < 1000 ? n : 20;
}

static void
up_stop(struct up *u)
{
	pid_t	pid = u->d.pid;

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(h_wait_gone(&pid, 1, 2 * H_TIMEOUT_MS), 0);
	u->d.pid = 0;
	assert_int_equal(h_daemon_stop(&u->d), 0);
}

/* 20 upgrades under load: no client hurt, a new master every time. */
static void
test_upgrades_under_load(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct up		 u;
	long long		 from;
	pid_t			 first, prev, pid;
	long			 t0;
	int			 i, n = upgrade_count();

	up_start(&u, 0, "");
	first = prev = u.d.pid;
	load_start(&l, u.port, 16);
	load_wait_accepts(u.d.sock, 20);
	t0 = h_now_ms();
	for (i = 0; i < n; i++) {
		pid = upgrade_once(&u, i % 3);
		assert_true(pid != prev);
		assert_int_equal(status_pid(&u, &from), pid);
		assert_int_equal(from, prev);
		if (i == 0)
			reap_first(&u, first);
		/* The new master serves the load itself. */
		load_wait_accepts(u.d.sock, 10);
		prev = pid;
	}
	load_stop(&l, &res, "binary upgrades");
	printf("%d upgrades under load: %ld connections, %ld round trips, "
	    "%ld refused, %ld resets, %ld corrupt, took %ld ms\n", n,
	    res.connects, res.trips, res.refused, res.resets, res.corrupt,
	    h_now_ms() - t0);
	load_assert_clean(&res, 20L * n);
	assert_int_equal(res.refused, 0);
	assert_true(res.connects >= 10L * n);
	/* No worker was killed at a drain deadline. */
	assert_int_equal(h_log_count(&u.d, "killing"), 0);
	assert_int_equal(h_log_count(&u.d, "upgrade (admin): done"),
	    (n + 2) / 3 + (n + 1) / 3);
	assert_int_equal(h_log_count(&u.d, "upgrade (SIGUSR2): done"), n / 3);
	up_stop(&u);
}

/* One failed upgrade: exit 1 with why, the same master serving. */
static void
upgrade_fails(struct up *u, pid_t master, const char *why)
{
	char	*out = NULL;
	pid_t	 kids[16];
	int	 n;

	n = h_children(master, kids, 16);
	assert_int_equal(h_ctl(u->d.sock, &out, "upgrade", (char *)NULL), 1);
	if (strstr(out, why) == NULL)
		fprintf(stderr, "reply '%s' lacks '%s'\n", out, why);
	assert_non_null(strstr(out, why));
	free(out);
	assert_int_equal(status_pid(u, NULL), master);
	assert_int_equal(pidfile_pid(u), master);
	assert_true(h_pid_alive(master));
	/* Its workers are the same ones (the failed master goes). */
	assert_int_equal(h_wait_children(master, n, H_TIMEOUT_MS), 0);
	assert_int_equal(h_echo_once("127.0.0.1", u->port, "still here\n"), 0);
}

/* A binary that exits at once, a config that does not validate: the old
 * master serves on; repaired, the upgrade goes through. */
static void
test_failed_upgrades(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct up		 u;
	char			 script[192], *json = NULL;
	pid_t			 first, pid;

	up_start(&u, 0, "");
	first = u.d.pid;
	load_start(&l, u.port, 16);
	load_wait_accepts(u.d.sock, 20);

	snprintf(script, sizeof(script), "%s/broken", u.d.dir);
	assert_int_equal(h_write_file(script, "#!/bin/sh\nexit 3\n"), 0);
	assert_int_equal(copy_file(script, u.bin, 0755), 0);
	upgrade_fails(&u, first, "exited with status 3 before it served");
	load_wait_accepts(u.d.sock, 20);

	assert_int_equal(copy_file(PREFORKD_BIN, u.bin, 0755), 0);
	write_conf(&u, "no_such_setting = 1;\n");
	upgrade_fails(&u, first, "preforkd.conf:5: unknown setting "
	    "'no_such_setting'");
	load_wait_accepts(u.d.sock, 20);
	assert_int_equal(h_ctl(u.d.sock, &json, "status", "--json",
	    (char *)NULL), 0);
	assert_non_null(strstr(json, "\"last_upgrade\":{"));
	assert_non_null(strstr(json, "\"ok\":false,\"result\":\"the new "
	    "master"));
	assert_non_null(strstr(json, "\"upgraded_from\":null"));
	free(json);

	write_conf(&u, "");
	pid = upgrade_once(&u, 0);
	reap_first(&u, first);
	load_wait_accepts(u.d.sock, 20);
	load_stop(&l, &res, "failed upgrades, then one");
	load_assert_clean(&res, 60);
	assert_int_equal(res.refused, 0);
	assert_int_equal(status_pid(&u, NULL), pid);
	up_stop(&u);
}

/*
 * Without an admin socket, "preforkd -s upgrade" signals the master and
 * waits until the pidfile names the new one.
 */
static void
test_upgrade_by_pidfile(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct up		 u;
	pid_t			 first, pid, kids[16];
	int			 n, st;

	up_start(&u, 1, "");
	first = u.d.pid;
	n = h_children(first, kids, 16);
	assert_int_equal(n, 2);
	load_start(&l, u.port, 8);
	assert_int_equal(h_echo_once("127.0.0.1", u.port, "before\n"), 0);
	assert_int_equal(h_run(&u.d, 2 * H_TIMEOUT_MS, "-c", u.d.conf, "-s",
	    "upgrade", (char *)NULL), 0);
	assert_int_equal(h_wait_log(&u.d, "preforkd: upgraded: master pid",
	    H_TIMEOUT_MS), 0);
	pid = pidfile_pid(&u);
	seen(pid);
	assert_true(pid > 0 && pid != first);
	kids[n] = first;
	assert_int_equal(h_wait_gone(kids, n + 1, SHUTDOWN_S * 1000 +
	    KILL_GRACE_MS + H_TIMEOUT_MS), 0);
	st = h_wait_exit(first, H_TIMEOUT_MS);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(h_echo_once("127.0.0.1", u.port, "after\n"), 0);
	assert_int_equal(h_children(pid, kids, 16), 2);
	load_stop(&l, &res, "upgrade by pidfile");
	load_assert_clean(&res, 10);
	assert_int_equal(res.refused, 0);
	u.d.pid = pid;
	up_stop(&u);
}

/*
 * While an upgrade is under way (the new binary is a script that waits on
 * a FIFO the test holds, then runs the real one): reload, "workers N"
 * and another upgrade are refused with that reason; then it completes.
 */
static void
test_busy_during_upgrade(void **state)
{
	struct up	 u;
	char		 fifo[192], real[192], script[192], *text, *out;
	pid_t		 first, pid;
	int		 fd;

	up_start(&u, 0, "");
	first = u.d.pid;
	snprintf(fifo, sizeof(fifo), "%s/go", u.d.dir);
	snprintf(real, sizeof(real), "%s/preforkd.real", u.d.dir);
	snprintf(script, sizeof(script), "%s/wrapper", u.d.dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(copy_file(PREFORKD_BIN, real, 0755), 0);
	assert_true(asprintf(&text, "#!/bin/sh\nread x < '%s'\n"
	    "exec '%s' \"$@\"\n", fifo, real) > 0);
	assert_int_equal(h_write_file(script, text), 0);
	free(text);
	assert_int_equal(copy_file(script, u.bin, 0755), 0);

	assert_int_equal(kill(first, SIGUSR2), 0);
	assert_int_equal(h_wait_log(&u.d, "upgrade (SIGUSR2): started",
	    H_TIMEOUT_MS), 0);
	out = NULL;
	assert_int_equal(h_ctl(u.d.sock, &out, "reload", (char *)NULL), 1);
	assert_non_null(strstr(out, "an upgrade is in progress"));
	free(out);
	out = NULL;
	assert_int_equal(h_ctl(u.d.sock, &out, "workers", "3", (char *)NULL),
	    1);
	assert_non_null(strstr(out, "an upgrade is in progress"));
	free(out);
	out = NULL;
	assert_int_equal(h_ctl(u.d.sock, &out, "upgrade", (char *)NULL), 1);
	assert_non_null(strstr(out, "an upgrade is in progress"));
	free(out);
	assert_int_equal(pidfile_pid(&u), first);

	/* Let the new binary go on: it takes over. */
	assert_true((fd = open(fifo, O_WRONLY)) != -1);
	assert_int_equal(write(fd, "go\n", 3), 3);
	close(fd);
	pid = wait_new_pidfile(&u, first);
	seen(pid);
	u.d.pid = pid;
	assert_int_equal(status_pid(&u, NULL), pid);
	reap_first(&u, first);
	assert_int_equal(h_echo_once("127.0.0.1", u.port, "served\n"), 0);
	up_stop(&u);
}

struct heir {
	pid_t	first, found;
};

/* A child of first started with the hand-over's environment: the new
 * master of an upgrade under way. */
static int
heir_found(void *arg)
{
	struct heir	*h = arg;
	static char	 env[65536];
	pid_t		 kids[16];
	char		 path[64];
	size_t		 len;
	ssize_t		 got;
	int		 i, n, fd;

	n = h_children(h->first, kids, 16);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%ld/environ",
		    (long)kids[i]);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		for (len = 0; len < sizeof(env) && (got = read(fd, env + len,
		    sizeof(env) - len)) > 0; len += (size_t)got)
			;
		close(fd);
		if (memmem(env, len, "PREFORKD_UPGRADE_FD=", 20) != NULL) {
			h->found = kids[i];
			return 1;
		}
	}
	return 0;
}

static int
has_children(void *pid)
{
	pid_t	kids[4];

	return h_children(*(pid_t *)pid, kids, 4) > 0;
}

static pid_t
new_master(pid_t first)
{
	struct heir	h = { first, 0 };

	assert_int_equal(h_wait_for(heir_found, &h, H_TIMEOUT_MS), 0);
	return h.found;
}

/*
 * The new master told to stop (SIGQUIT) before it commits -- its workers
 * held in their start: the upgrade fails, and the old master, which never
 * stopped accepting on the sockets it handed over, serves on under load.
 * The new master's stop does not retire those sockets (it once put its
 * SYN filter on them, and the old master served nobody new).
 */
static void
test_new_master_quits(void **state)
{
	struct load_result	 res;
	struct load		 l;
	struct up		 u;
	char			 extra[512], slow[96], *out = NULL;
	pid_t			 first, next, ctl;
	int			 st;

	snprintf(slow, sizeof(slow), "/tmp/preforkd-upgrade-slow.%ld",
	    (long)getpid());
	snprintf(extra, sizeof(extra), "modules = ({ name = \"failinit\"; "
	    "path = \"%s\"; settings = { slow_if = \"%s\"; }; });\n",
	    FAILINIT_MODULE, slow);
	up_start(&u, 0, extra);
	first = u.d.pid;
	load_start(&l, u.port, 16);
	load_wait_accepts(u.d.sock, 20);
	assert_int_equal(h_write_file(slow, "x"), 0);
	if ((ctl = fork()) == 0) {
		/* It went before it served, or (if its workers' READY and
		 * the old master's GO came in the same turn as the signal)
		 * it said it is stopping. */
		st = h_ctl(u.d.sock, &out, "upgrade", (char *)NULL);
		if (st == 1 && out != NULL &&
		    (strstr(out, "before it served") != NULL ||
		    strstr(out, "is stopping") != NULL))
			_exit(0);
		fprintf(stderr, "upgrade: %d: %s\n", st, out != NULL ? out :
		    "(no reply)");
		_exit(3);
	}
	assert_true(ctl > 0);
	next = new_master(first);
	seen(next);
	/* Past its set-up (its signal handlers too): its workers run. */
	assert_int_equal(h_wait_for(has_children, &next, H_TIMEOUT_MS), 0);
	assert_int_equal(kill(next, SIGQUIT), 0);
	assert_int_equal(unlink(slow), 0);
	st = h_wait_exit(ctl, 3 * H_TIMEOUT_MS);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(h_wait_gone(&next, 1, H_TIMEOUT_MS), 0);
	load_wait_accepts(u.d.sock, 50);
	load_stop(&l, &res, "the new master quits before it commits");
	load_assert_clean(&res, 100);
	assert_int_equal(res.refused, 0);
	assert_int_equal(status_pid(&u, NULL), first);
	assert_int_equal(pidfile_pid(&u), first);
	assert_int_equal(h_echo_once("127.0.0.1", u.port, "still here\n"), 0);
	up_stop(&u);
}

/*
 * A new master that never gets ready (a script blocked on a FIFO nobody
 * writes): the upgrade fails at its deadline, 2 x worker_timeout (at
 * least 5 s) plus 1 s, with that reason; the new master is stopped and
 * the old one serves on, a client it held included.  No continuous load
 * here: the short worker_timeout this needs would make a master starved
 * by a loaded machine (sanitizers) take its workers for hung.
 */
static void
test_upgrade_deadline(void **state)
{
	struct up	 u;
	char		 fifo[192], script[192], *text, *out = NULL;
	pid_t		 first, kids[16];
	long		 t0, took;
	int		 fd;

	up_start(&u, 0, "worker_timeout = 2;\n");
	first = u.d.pid;
	snprintf(fifo, sizeof(fifo), "%s/never", u.d.dir);
	snprintf(script, sizeof(script), "%s/wrapper", u.d.dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_true(asprintf(&text, "#!/bin/sh\nread x < '%s'\n", fifo) > 0);
	assert_int_equal(h_write_file(script, text), 0);
	free(text);
	assert_int_equal(copy_file(script, u.bin, 0755), 0);
	fd = h_connect("127.0.0.1", u.port, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_echo_check(fd, "held\n", 5, H_TIMEOUT_MS), 0);
	t0 = h_now_ms();
	assert_int_equal(h_ctl(u.d.sock, &out, "upgrade", (char *)NULL), 1);
	took = h_now_ms() - t0;
	assert_non_null(strstr(out, "was not ready by its deadline"));
	free(out);
	printf("upgrade to a new master that never got ready: failed after "
	    "%ld ms\n", took);
	assert_true(took >= 5990);	/* its timer is on the exact clock */
	/* The stuck one is stopped: the old master has its workers only. */
	assert_int_equal(h_wait_children(first, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_children(first, kids, 16), 2);
	assert_int_equal(h_echo_check(fd, "still\n", 6, H_TIMEOUT_MS), 0);
	close(fd);
	assert_int_equal(h_echo_once("127.0.0.1", u.port, "new one\n"), 0);
	assert_int_equal(status_pid(&u, NULL), first);
	assert_int_equal(pidfile_pid(&u), first);
	up_stop(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_upgrades_under_load,
		    kill_masters),
		cmocka_unit_test_teardown(test_failed_upgrades, kill_masters),
		cmocka_unit_test_teardown(test_upgrade_by_pidfile,
		    kill_masters),
		cmocka_unit_test_teardown(test_busy_during_upgrade,
		    kill_masters),
		cmocka_unit_test_teardown(test_new_master_quits, kill_masters),
		cmocka_unit_test_teardown(test_upgrade_deadline, kill_masters),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("PF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
