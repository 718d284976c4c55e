/*
 * adminclient.c -- one request to the admin socket and its reply.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/adminclient.h"

#define REPLY_TIMEOUT_MS	15000
/*
 * A reload (and "workers N", the same transaction) is bounded by the
 * master itself (2 x worker_timeout, at least 5 s; worker_timeout is at
 * most an hour; with a canary that bound twice, for the canary and for
 * the rest, plus its trial, at most another hour), which then always
 * answers: the client waits for that answer, never giving up on a slow
 * reload that the master would still report as done.
 */
#define RELOAD_TIMEOUT_MS	(5 * 3600 * 1000 + REPLY_TIMEOUT_MS)
#define REPLY_MAX		(4 * 1024 * 1024)

/* "reload", "upgrade" (bounded the same way, plus a few seconds), or
 * "workers" with a count (not "workers [--json]"). */
static int
waits_for_workers(const char *req)
{
	req += strspn(req, " ");
	if (strncmp(req, "reload", 6) == 0 || strncmp(req, "upgrade", 7) == 0)
		return 1;
	if (strncmp(req, "workers ", 8) != 0)
		return 0;
	req += 8 + strspn(req + 8, " ");
	return *req != '\0' && strncmp(req, "--json", 6) != 0;
}

static int
send_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read until EOF; the reply, NUL-terminated, or NULL. */
static char *
read_reply(int fd, const char *path, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	uint64_t	 deadline = clock_mono_us() / 1000 + timeout_ms;
	uint64_t	 now;
	char		*buf = NULL, *nb;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;

	for (;;) {
		if (cap - len < 4096) {
			if (cap >= REPLY_MAX ||
			    (nb = realloc(buf, cap + 65536)) == NULL) {
				fprintf(stderr, "reply too large\n");
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		/* A deadline passed must not become poll's "forever". */
		now = clock_mono_us() / 1000;
		if (now >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now)) <= 0) {
			fprintf(stderr, "no reply from %s\n", path);
			goto fail;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "read %s: %s\n", path,
			    strerror(errno));
			goto fail;
		}
		len += n;
	}
	buf[len] = '\0';
	return buf;
fail:
	free(buf);
	return NULL;
}

int
admin_request(const char *path, const char *req)
{
	struct sockaddr_un	 sun;
	char			*reply, *body;
	int			 fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: socket path too long\n", path);
		return 2;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "cannot connect to %s: %s (is preforkd running "
		    "with admin_socket = \"%s\"?)\n", path, strerror(errno),
		    path);
		if (fd != -1)
			close(fd);
		return 2;
	}
	if (send_all(fd, req, strlen(req)) == -1 ||
	    send_all(fd, "\n", 1) == -1) {
		fprintf(stderr, "send to %s: %s\n", path, strerror(errno));
		close(fd);
		return 2;
	}
	reply = read_reply(fd, path, waits_for_workers(req) ?
	    RELOAD_TIMEOUT_MS : REPLY_TIMEOUT_MS);
	close(fd);
	if (reply == NULL)
		return 2;
	if ((body = strchr(reply, '\n')) != NULL)
		*body++ = '\0';
	else
		body = reply + strlen(reply);
	if (strcmp(reply, "OK") == 0) {
		fputs(body, stdout);
		rc = 0;
	} else if (strncmp(reply, "ERR ", 4) == 0) {
		fprintf(stderr, "%s\n", reply + 4);
		rc = 1;
	} else {
		fprintf(stderr, "no valid reply from %s\n", path);
		rc = 2;
	}
	free(reply);
	return rc;
}
