/*
 * harness.c -- process and socket helpers for the integration tests.
 *
 * Every wait has a deadline.  Start-up waits for the daemon's own READY=1
 * (sd_notify), log waits sleep on inotify; what the kernel cannot announce
 * (a child count in /proc) is polled in short steps.  No test sleeps a
 * fixed time and hopes.
 */
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"

#define POLL_STEP_MS	10
#define MAX_DAEMONS	16

/* Daemons still running when a failed assertion skipped their stop. */
static pid_t	running[MAX_DAEMONS];

static void
kill_leftovers(void)
{
	int	i;

	for (i = 0; i < MAX_DAEMONS; i++) {
		if (running[i] > 0 && kill(running[i], SIGKILL) == 0)
			waitpid(running[i], NULL, 0);
	}
}

static void
track(pid_t pid, pid_t old)
{
	static int	registered;
	int		i;

	if (!registered && atexit(kill_leftovers) == 0)
		registered = 1;
	for (i = 0; i < MAX_DAEMONS; i++) {
		if (running[i] == old) {
			running[i] = pid;
			return;
		}
	}
}

long
h_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void
pause_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
fill_addr(const char *host, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	if (port == 0) {
		if (strlen(host) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, host);
		*len = sizeof(*sun);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

int
h_free_port(int family)
{
	/* The kernel may hand the same port out twice once it is closed:
	 * never give a test a port it already has. */
	static int		given[256];	/* a ring of the last ones */
	static size_t		ngiven, next;
	struct sockaddr_storage	ss;
	socklen_t		len;
	size_t			i;
	int			fd, port, tries;

	if (fill_addr(family == 6 ? "::1" : "127.0.0.1", 1, &ss, &len) == -1)
		return -1;
	for (tries = 0; tries < 50; tries++) {
		((struct sockaddr_in *)&ss)->sin_port = 0;	/* v6: same */
		if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
			return -1;
		port = -1;
		if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		close(fd);
		if (port <= 0)
			return -1;
		for (i = 0; i < ngiven && given[i] != port; i++)
			;
		if (i == ngiven) {
			given[next] = port;
			next = (next + 1) % 256;
			if (ngiven < 256)
				ngiven++;
			return port;
		}
	}
	return -1;
}

int
h_write_file(const char *path, const char *text)
{
	FILE	*f;
	int	 rc;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

char *
h_read_file(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int
h_daemon_init(struct daemon *d, const char *conf_text)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/preforkd-test.XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		return -1;
	snprintf(d->conf, sizeof(d->conf), "%s/preforkd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/preforkd.log", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/admin.sock", d->dir);
	snprintf(d->notify, sizeof(d->notify), "%s/notify.sock", d->dir);
	d->notify_fd = -1;
	return conf_text == NULL ? 0 : h_write_file(d->conf, conf_text);
}

static pid_t	spawn_fd(struct daemon *, char *const [], int, const char *);

/*
 * Exec the daemon, under $PREFORKD_WRAPPER if set (e.g. valgrind with its
 * options; split on spaces).  Workers are forked, not exec'd, so a
 * wrapper that follows forks sees them too.
 */
static void
exec_daemon(char *const argv[])
{
	const char	*wrapper = getenv("PREFORKD_WRAPPER");
	char		*args[64], *copy, *tok;
	int		 n = 0, i;

	if (wrapper == NULL || *wrapper == '\0') {
		execv(PREFORKD_BIN, argv);
		return;
	}
	if ((copy = strdup(wrapper)) == NULL)
		return;
	for (tok = strtok(copy, " "); tok != NULL && n < 40;
	    tok = strtok(NULL, " "))
		args[n++] = tok;
	args[n++] = PREFORKD_BIN;
	for (i = 1; argv[i] != NULL && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	execvp(args[0], args);
}

static pid_t
spawn(struct daemon *d, char *const argv[])
{
	return spawn_fd(d, argv, -1, NULL);
}

/* With listen_fd != -1: passed as fd 3 the way systemd does it; with
 * notify != NULL: $NOTIFY_SOCKET. */
static pid_t
spawn_fd(struct daemon *d, char *const argv[], int listen_fd,
    const char *notify)
{
	pid_t	pid;
	int	fd;

	struct rlimit	no_core = { 0, 0 };

	if ((pid = fork()) != 0) {
		if (pid > 0)
			track(pid, 0);
		return pid;
	}
	/* Crash tests kill workers on purpose: no core files. */
	setrlimit(RLIMIT_CORE, &no_core);
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd == -1)
		_exit(126);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	if (notify != NULL)
		setenv("NOTIFY_SOCKET", notify, 1);
	if (listen_fd != -1) {
		char	lpid[32];

		if (dup2(listen_fd, 3) == -1)
			_exit(126);
		snprintf(lpid, sizeof(lpid), "%ld", (long)getpid());
		setenv("LISTEN_PID", lpid, 1);
		setenv("LISTEN_FDS", "1", 1);
	}
	exec_daemon(argv);
	_exit(127);
}

pid_t
h_spawn_activated(struct daemon *d, int listen_fd)
{
	char	*argv[] = { "preforkd", "-c", d->conf, NULL };

	if ((d->pid = spawn_fd(d, argv, listen_fd, NULL)) == -1)
		return -1;
	return d->pid;
}

static pid_t
vspawn(struct daemon *d, va_list ap)
{
	char	*argv[16];
	int	 i = 0;

	argv[i++] = "preforkd";
	while (i < 15 && (argv[i] = va_arg(ap, char *)) != NULL)
		i++;
	argv[i] = NULL;
	return spawn(d, argv);
}

pid_t
h_spawn(struct daemon *d, ...)
{
	va_list	ap;
	pid_t	pid;

	va_start(ap, d);
	pid = vspawn(d, ap);
	va_end(ap);
	return pid;
}

int
h_timeout_ms(void)
{
	static int	ms;

	if (ms == 0)
		ms = getenv("PREFORKD_WRAPPER") != NULL ? 20000 : 5000;
	return ms;
}

int
h_run(struct daemon *d, int timeout_ms, ...)
{
	va_list	ap;
	pid_t	pid;

	va_start(ap, timeout_ms);
	pid = vspawn(d, ap);
	va_end(ap);
	return pid == -1 ? -1 : h_wait_exit(pid, timeout_ms);
}

static int	notify_open(struct daemon *);

int
h_daemon_start(struct daemon *d, int workers, const char *host, int port)
{
	char	*argv[] = { "preforkd", "-c", d->conf, NULL };
	long	 deadline = h_now_ms() + H_TIMEOUT_MS;
	int	 fd;

	/* The daemon says when all its workers serve, unless the test
	 * listens to its notifications itself, or does not expect them all
	 * to get there (workers < 0: a crash loop). */
	if (workers >= 0 && getenv("NOTIFY_SOCKET") == NULL) {
		if (notify_open(d) == -1 ||
		    (d->pid = spawn_fd(d, argv, -1, d->notify)) == -1 ||
		    h_wait_notify(d, "READY=1", H_TIMEOUT_MS) == -1)
			return -1;
		return h_wait_children(d->pid, workers, H_TIMEOUT_MS);
	}
	if ((d->pid = spawn(d, argv)) == -1)
		return -1;
	if (workers >= 0 && h_wait_children(d->pid, workers, H_TIMEOUT_MS) == -1)
		return -1;
	while (h_now_ms() < deadline) {
		if ((fd = h_connect(host, port, 200)) != -1) {
			close(fd);
			return 0;
		}
		pause_ms(POLL_STEP_MS);
	}
	return -1;
}

static int
notify_open(struct daemon *d)
{
	struct sockaddr_un	sun;

	if (d->notify_fd != -1)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(d->notify) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, d->notify);
	unlink(d->notify);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (d->notify_fd == -1)
		return -1;
	if (bind(d->notify_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(d->notify_fd);
		d->notify_fd = -1;
		return -1;
	}
	return 0;
}

int
h_wait_notify(struct daemon *d, const char *needle, int timeout_ms)
{
	struct pollfd	pfd = { d->notify_fd, POLLIN, 0 };
	long		deadline = h_now_ms() + timeout_ms, left;
	char		msg[1025];
	ssize_t		n;

	if (d->notify_fd == -1)
		return -1;
	for (;;) {
		while ((n = recv(d->notify_fd, msg, sizeof(msg) - 1, 0)) >= 0) {
			msg[n] = '\0';
			if (strstr(msg, needle) != NULL)
				return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		/* Gone before it said so: do not wait for nothing. */
		if (d->pid > 0 && !h_pid_alive(d->pid))
			return -1;
		if ((left = deadline - h_now_ms()) <= 0)
			return -1;
		/* Short slices only to notice a daemon that died silently. */
		(void)poll(&pfd, 1, left < 100 ? (int)left : 100);
	}
}

int
h_daemon_startf(struct daemon *d, const char *fmt, ...)
{
	char	*argv[] = { "preforkd", "-c", d->conf, NULL };
	char	*text, *log;
	va_list	 ap;
	int	 rc;

	if (d->dir[0] == '\0' && h_daemon_init(d, NULL) == -1)
		return -1;
	va_start(ap, fmt);
	rc = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = h_write_file(d->conf, text);
	free(text);
	if (rc == -1 || notify_open(d) == -1)
		return -1;
	if ((d->pid = spawn_fd(d, argv, -1, d->notify)) == -1)
		return -1;
	if (h_wait_notify(d, "READY=1", H_TIMEOUT_MS) == 0)
		return 0;
	log = h_read_file(d->log);
	fprintf(stderr, "daemon %ld did not get ready; its log:\n%s\n",
	    (long)d->pid, log != NULL ? log : "(none)");
	free(log);
	return -1;
}

int
h_log_clean(struct daemon *d)
{
	static const char *const bad[] = {
		"AddressSanitizer", "LeakSanitizer", "runtime error:",
		"==ERROR", "(core dumped)",
	};
	char		*log = h_read_file(d->log);
	const char	*p;
	size_t		 i;
	int		 rc = 0;

	if (log == NULL)
		return 0;
	/* Valgrind, when it wraps the daemon: every process error-free. */
	for (p = log; (p = strstr(p, "ERROR SUMMARY: ")) != NULL; p++) {
		if (strncmp(p + 15, "0 errors", 8) != 0) {
			fprintf(stderr, "daemon log %s: valgrind found errors:"
			    "\n%s\n", d->log, log);
			rc = -1;
			break;
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strstr(log, bad[i]) != NULL) {
			fprintf(stderr, "daemon log %s contains \"%s\":\n%s\n",
			    d->log, bad[i], log);
			rc = -1;
			break;
		}
	}
	free(log);
	return rc;
}

int
h_daemon_stop(struct daemon *d)
{
	char	cmd[128];
	int	st, rc = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if ((st = h_wait_exit(d->pid, H_TIMEOUT_MS)) == -1) {
			fprintf(stderr, "daemon %ld ignored SIGTERM\n",
			    (long)d->pid);
			kill(d->pid, SIGKILL);
			h_wait_exit(d->pid, H_TIMEOUT_MS);
			rc = -1;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "daemon %ld stopped with status 0x%x\n",
			    (long)d->pid, st);
			rc = -1;
		}
		d->pid = 0;
	}
	if (d->notify_fd != -1) {
		close(d->notify_fd);
		d->notify_fd = -1;
	}
	if (h_log_clean(d) == -1)
		rc = -1;
	if (d->dir[0] != '\0' && getenv("PREFORKD_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", d->dir);
	}
	return rc;
}

int
h_wait_exit(pid_t pid, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;
	int	st;
	pid_t	r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			track(0, pid);
			return st;
		}
		if (r == -1 && errno != EINTR)
			return -1;
		if (h_now_ms() >= deadline)
			return -1;
		pause_ms(POLL_STEP_MS);
	}
}

int
h_pid_alive(pid_t pid)
{
	char	path[64], *stat, *p;
	int	alive;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((stat = h_read_file(path)) == NULL)
		return 0;
	/* A zombie is not alive. */
	p = strrchr(stat, ')');
	alive = p != NULL && p[1] == ' ' && p[2] != 'Z';
	free(stat);
	return alive;
}

int
h_wait_gone(const pid_t *pids, int n, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;
	int	i;

	for (;;) {
		for (i = 0; i < n && !h_pid_alive(pids[i]); i++)
			;
		if (i == n)
			return 0;
		if (h_now_ms() >= deadline)
			return -1;
		poll(NULL, 0, 10);
	}
}

int
h_fd_count(pid_t pid, const char *prefix)
{
	char		 path[64], link[320], target[128];
	struct dirent	*de;
	DIR		*dir;
	ssize_t		 n;
	int		 count = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (prefix == NULL) {
			count++;
			continue;
		}
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && strncmp(target, prefix, strlen(prefix)) == 0)
			count++;
	}
	closedir(dir);
	return count;
}

long
h_rss_kb(pid_t pid)
{
	char	path[64], *status, *p;
	long	kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((status = h_read_file(path)) == NULL)
		return -1;
	if ((p = strstr(status, "\nVmRSS:")) != NULL)
		kb = strtol(p + 7, NULL, 10);
	free(status);
	return kb;
}

int
h_children(pid_t ppid, pid_t *out, int max)
{
	DIR		*dir;
	struct dirent	*de;
	char		 path[300], *stat, *p;
	long		 parent;
	int		 n = 0;
	char		 state;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((stat = h_read_file(path)) == NULL)
			continue;
		p = strrchr(stat, ')');
		if (p != NULL && sscanf(p + 1, " %c %ld", &state, &parent) == 2 &&
		    parent == ppid && state != 'Z') {
			if (n < max && out != NULL)
				out[n] = (pid_t)atol(de->d_name);
			n++;
		}
		free(stat);
	}
	closedir(dir);
	return n;
}

int
h_wait_children(pid_t ppid, int n, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;

	for (;;) {
		if (h_children(ppid, NULL, 0) == n)
			return 0;
		if (h_now_ms() >= deadline)
			return -1;
		pause_ms(POLL_STEP_MS);
	}
}

int
h_wait_for(int (*done)(void *), void *arg, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;

	while (!done(arg)) {
		if (h_now_ms() >= deadline)
			return -1;
		poll(NULL, 0, 10);
	}
	return 0;
}

int
h_wait_dir(const char *dir, int (*done)(void *), void *arg, int timeout_ms)
{
	long	 deadline = h_now_ms() + timeout_ms, left;
	char	 ev[4096];
	int	 ifd, rc = -1;

	/* Watch the directory: the file may not exist yet, and a write to a
	 * file shows up on its directory's watch too. */
	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (inotify_add_watch(ifd, dir, IN_MODIFY | IN_CREATE) == -1)
		goto out;
	for (;;) {
		/* Watch first, then look: no write falls in between. */
		if (done(arg)) {
			rc = 0;
			break;
		}
		if ((left = deadline - h_now_ms()) <= 0)
			break;
		if (poll(&(struct pollfd){ ifd, POLLIN, 0 }, 1, (int)left) == -1 &&
		    errno != EINTR)
			break;
		while (read(ifd, ev, sizeof(ev)) > 0)
			;
	}
out:
	close(ifd);
	return rc;
}

struct log_want {
	struct daemon	*d;
	const char	*needle;
	int		 n;
};

static int
log_has(void *arg)
{
	struct log_want	*w = arg;

	return h_log_count(w->d, w->needle) >= w->n;
}

int
h_wait_log_count(struct daemon *d, const char *needle, int n, int timeout_ms)
{
	struct log_want	w = { d, needle, n };

	return h_wait_dir(d->dir, log_has, &w, timeout_ms);
}

int
h_wait_log(struct daemon *d, const char *needle, int timeout_ms)
{
	return h_wait_log_count(d, needle, 1, timeout_ms);
}

static int
wait_fd(int fd, short events, long deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	long		left;
	int		rc;

	for (;;) {
		left = deadline - h_now_ms();
		if (left <= 0)
			return -1;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

int
h_connect_from(const char *src, int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, src, &sin.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto err;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

int
h_connect(const char *host, int port, int timeout_ms)
{
	struct sockaddr_storage	ss;
	socklen_t		len, elen = sizeof(int);
	int			fd, err = 0;

	if (fill_addr(host, port, &ss, &len) == -1)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		if (errno != EINPROGRESS ||
		    wait_fd(fd, POLLOUT, h_now_ms() + timeout_ms) == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 ||
		    err != 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

int
h_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;
	size_t	off = 0;
	ssize_t	n;

	while (off < len) {
		n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) == -1)
			return -1;
	}
	return 0;
}

int
h_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;
	size_t	off = 0;
	ssize_t	n;

	while (off < len) {
		n = recv(fd, (char *)buf + off, len - off, 0);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (wait_fd(fd, POLLIN, deadline) == -1)
			return -1;
	}
	return 0;
}

int
h_recv_eof(int fd, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;
	char	c;
	ssize_t	n;

	for (;;) {
		n = recv(fd, &c, 1, 0);
		if (n == 0)
			return 0;
		if (n > 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (wait_fd(fd, POLLIN, deadline) == -1)
			return -1;
	}
}

int
h_echo_check(int fd, const void *buf, size_t len, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLIN | POLLOUT, 0 };
	long		 deadline = h_now_ms() + timeout_ms;
	size_t		 sent = 0, got = 0;
	char		*back;
	ssize_t		 n;
	int		 rc = -1;

	if ((back = malloc(len)) == NULL)
		return -1;
	while (got < len) {
		pfd.events = POLLIN | (sent < len ? POLLOUT : 0);
		if (h_now_ms() >= deadline ||
		    poll(&pfd, 1, (int)(deadline - h_now_ms())) == -1)
			goto out;
		if ((pfd.revents & POLLOUT) && sent < len) {
			n = send(fd, (const char *)buf + sent, len - sent,
			    MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN)
				goto out;
			if (n > 0)
				sent += n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, back + got, len - got, 0);
			if (n == 0 || (n == -1 && errno != EAGAIN))
				goto out;
			if (n > 0)
				got += n;
		}
	}
	rc = memcmp(buf, back, len) == 0 ? 0 : -1;
out:
	free(back);
	return rc;
}

int
h_echo_once(const char *host, int port, const char *msg)
{
	int	fd, rc;

	if ((fd = h_connect(host, port, H_TIMEOUT_MS)) == -1)
		return -1;
	rc = h_echo_check(fd, msg, strlen(msg), H_TIMEOUT_MS);
	close(fd);
	return rc;
}

int
h_ctl(const char *sock, char **out, ...)
{
	char	*argv[16], path[] = "/tmp/preforkctl-out.XXXXXX";
	va_list	 ap;
	pid_t	 pid;
	int	 i = 0, fd, st;

	argv[i++] = "preforkctl";
	argv[i++] = "-s";
	argv[i++] = (char *)sock;
	va_start(ap, out);
	while (i < 15 && (argv[i] = va_arg(ap, char *)) != NULL)
		i++;
	va_end(ap);
	argv[i] = NULL;
	if ((fd = mkstemp(path)) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(PREFORKCTL_BIN, argv);
		_exit(127);
	}
	close(fd);
	st = pid == -1 ? -1 : h_wait_exit(pid, 20000);
	if (out != NULL)
		*out = h_read_file(path);
	unlink(path);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

long long
h_json_num(const char *json, const char *after, const char *key)
{
	char		 pat[64];
	const char	*p = json;

	if (json == NULL)
		return -1;
	if (after != NULL && (p = strstr(json, after)) == NULL)
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(p, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

long
h_cpu_ms(pid_t pid)
{
	char		 path[64], *stat, *p;
	unsigned long	 ut, st;
	long		 rc = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((stat = h_read_file(path)) == NULL)
		return -1;
	/* Fields 14 and 15 (utime, stime), counted after the comm's ')'. */
	if ((p = strrchr(stat, ')')) != NULL && sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	    &st) == 2)
		rc = (long)((ut + st) * 1000 / sysconf(_SC_CLK_TCK));
	free(stat);
	return rc;
}

int
h_log_count(struct daemon *d, const char *needle)
{
	char	*log = h_read_file(d->log), *p;
	int	 n = 0;

	for (p = log; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(log);
	return n;
}
