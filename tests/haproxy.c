/*
 * haproxy.c -- a private HAProxy for integration tests: found in $PATH,
 * run in the foreground on a generated configuration in a directory of
 * its own, asked for its servers' state over its stats socket.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/haproxy.h"

static char	haproxy_bin[256];

/* haproxy in $PATH, else where Debian puts it (sbin is not in every
 * user's PATH). */
int
hap_find(void)
{
	static const char *const extra[] = { "/usr/sbin", "/usr/local/sbin" };
	const char	*path = getenv("PATH");
	char		*copy, *dir, *save = NULL;
	size_t		 i;
	int		 found = 0;

	if (path != NULL && (copy = strdup(path)) != NULL) {
		for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
		    dir = strtok_r(NULL, ":", &save)) {
			snprintf(haproxy_bin, sizeof(haproxy_bin), "%s/haproxy",
			    *dir != '\0' ? dir : ".");
			found = access(haproxy_bin, X_OK) == 0;
		}
		free(copy);
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]) && !found; i++) {
		snprintf(haproxy_bin, sizeof(haproxy_bin), "%s/haproxy",
		    extra[i]);
		found = access(haproxy_bin, X_OK) == 0;
	}
	return found ? 0 : -1;
}


/*
 * HAProxy's state changes without an event to wait on (it logs a server
 * going DOWN or UP, not "UP 1/2" becoming "UP" at start, nor its session
 * counters): look every 20 ms until done(arg) or the deadline.
 */
int
hap_wait(int (*done)(void *), void *arg, int timeout_ms)
{
	long	deadline = h_now_ms() + timeout_ms;

	while (!done(arg)) {
		if (h_now_ms() >= deadline)
			return -1;
		poll(NULL, 0, 20);
	}
	return 0;
}

static int
sock_exists(void *arg)
{
	struct stat	st;

	return stat(arg, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* HAProxy in the foreground (-db) on a generated configuration, its
 * output in h->log; returns once its stats socket is there. */
int
hap_start(struct hap *h, const char *fmt, ...)
{
	char	*text;
	va_list	 ap;
	int	 fd, rc;

	snprintf(h->dir, sizeof(h->dir), "/tmp/preforkd-haproxy.XXXXXX");
	if (mkdtemp(h->dir) == NULL)
		return -1;
	snprintf(h->cfg, sizeof(h->cfg), "%s/haproxy.cfg", h->dir);
	snprintf(h->sock, sizeof(h->sock), "%s/stats.sock", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/haproxy.log", h->dir);
	va_start(ap, fmt);
	rc = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = h_write_file(h->cfg, text);
	free(text);
	if (rc == -1)
		return -1;
	if ((h->pid = fork()) == -1)
		return -1;
	if (h->pid == 0) {
		if ((fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND,
		    0644)) == -1)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
		execl(haproxy_bin, "haproxy", "-db", "-f", h->cfg,
		    (char *)NULL);
		_exit(127);
	}
	/* Bound under another name and renamed: no IN_CREATE to wait on. */
	if (hap_wait(sock_exists, h->sock, H_TIMEOUT_MS) == -1 ||
	    !h_pid_alive(h->pid)) {
		text = h_read_file(h->log);
		fprintf(stderr, "haproxy did not start; its output:\n%s\n",
		    text != NULL ? text : "(none)");
		free(text);
		return -1;
	}
	return 0;
}

void
hap_stop(struct hap *h)
{
	char	cmd[128];

	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		if (h_wait_exit(h->pid, H_TIMEOUT_MS) == -1) {
			kill(h->pid, SIGKILL);
			h_wait_exit(h->pid, H_TIMEOUT_MS);
		}
		h->pid = 0;
	}
	if (h->dir[0] != '\0' && getenv("PREFORKD_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", h->dir);
	}
	h->dir[0] = '\0';
}

/* One command on HAProxy's stats socket; its whole answer in out. */
int
hap_cmd(struct hap *h, const char *cmd, char *out, size_t max)
{
	size_t	got = 0;
	ssize_t	n;
	int	fd;

	if ((fd = h_connect(h->sock, 0, H_TIMEOUT_MS)) == -1)
		return -1;
	if (h_send_all(fd, cmd, strlen(cmd), H_TIMEOUT_MS) == -1 ||
	    h_send_all(fd, "\n", 1, H_TIMEOUT_MS) == -1) {
		close(fd);
		return -1;
	}
	/* It answers, then closes. */
	while (got < max - 1 && poll(&(struct pollfd){ fd, POLLIN, 0 }, 1,
	    H_TIMEOUT_MS) == 1) {
		if ((n = read(fd, out + got, max - 1 - got)) <= 0)
			break;
		got += n;
	}
	out[got] = '\0';
	close(fd);
	return 0;
}

/* Field col (0-based) of a CSV line into buf. */
static void
csv_field(const char *line, int col, char *buf, size_t len)
{
	size_t	n;

	for (; col > 0 && line != NULL; col--)
		if ((line = strchr(line, ',')) != NULL)
			line++;
	if (line == NULL) {
		*buf = '\0';
		return;
	}
	n = strcspn(line, ",\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
}

/* The column of name in "show stat"'s header line, or -1. */
static int
csv_col(const char *header, const char *name)
{
	char	f[64];
	int	i;

	for (i = 0; i < 128; i++) {
		csv_field(header, i, f, sizeof(f));
		if (strcmp(f, name) == 0)
			return i;
	}
	return -1;
}

/* Server srv of backend be, as "show stat" has it: status ("UP",
 * "DOWN", "UP 1/2"...) and stot (sessions since HAProxy started). */
int
hap_server(struct hap *h, const char *be, const char *srv, char *status,
    size_t len, long *stot)
{
	char		 out[16384], f[64], key[128];
	const char	*line;
	int		 cstatus, cstot;

	if (hap_cmd(h, "show stat", out, sizeof(out)) == -1 ||
	    strncmp(out, "# ", 2) != 0 ||
	    (cstatus = csv_col(out + 2, "status")) == -1 ||
	    (cstot = csv_col(out + 2, "stot")) == -1)
		return -1;
	snprintf(key, sizeof(key), "\n%s,%s,", be, srv);
	if ((line = strstr(out, key)) == NULL)
		return -1;
	line++;
	csv_field(line, cstatus, status, len);
	csv_field(line, cstot, f, sizeof(f));
	*stot = atol(f);
	return 0;
}

struct want {
	struct hap	*h;
	const char	*be, *srv, *status;
};

static int
server_is(void *arg)
{
	struct want	*w = arg;
	char		 status[32];
	long		 stot;

	return hap_server(w->h, w->be, w->srv, status, sizeof(status),
	    &stot) == 0 && strcmp(status, w->status) == 0;
}

int
hap_wait_server(struct hap *h, const char *be, const char *srv,
    const char *status, int timeout_ms)
{
	struct want	w = { h, be, srv, status };

	return hap_wait(server_is, &w, timeout_ms);
}

long
hap_stot(struct hap *h, const char *be, const char *srv)
{
	char	status[32];
	long	stot = -1;

	if (hap_server(h, be, srv, status, sizeof(status), &stot) == -1)
		return -1;
	return stot;
}
