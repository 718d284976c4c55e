/*
 * preforkctl.c -- the operator's client for preforkd's admin socket.
 *
 * Sends one request line, prints the reply's body, and exits 0 if the
 * master answered OK, 1 with its reason if it answered ERR, 2 if it could
 * not be reached or did not answer in time.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PF_ADMIN_SOCKET
#define PF_ADMIN_SOCKET	"/run/preforkd/admin.sock"
#endif

#define REPLY_TIMEOUT_MS	15000
#define REPLY_MAX		(4 * 1024 * 1024)

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: preforkctl [-h] [-s socket] command [--json]\n"
	    "commands: status, workers, stats, stop, quit, reload, help\n"
	    "default socket: %s\n", PF_ADMIN_SOCKET);
	exit(status);
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

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Read until EOF; the reply, NUL-terminated, or NULL. */
static char *
read_reply(int fd, const char *path)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	long		 deadline = now_ms() + REPLY_TIMEOUT_MS;
	char		*buf = NULL, *nb;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;

	for (;;) {
		if (cap - len < 4096) {
			if (cap >= REPLY_MAX ||
			    (nb = realloc(buf, cap + 65536)) == NULL) {
				fprintf(stderr, "preforkctl: reply too large\n");
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0) {
			fprintf(stderr, "preforkctl: no reply from %s\n", path);
			goto fail;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "preforkctl: read %s: %s\n", path,
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
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	const char		*path = PF_ADMIN_SOCKET;
	char			 req[256], *reply, *body;
	int			 ch, fd, i, n;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "+hs:")) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 's':
			path = optarg;
			break;
		default:
			usage(2);
		}
	}
	if (optind == argc)
		usage(2);
	for (n = 0, i = optind; i < argc; i++) {
		n += snprintf(req + n, sizeof(req) - n, "%s%s",
		    i > optind ? " " : "", argv[i]);
		if ((size_t)n >= sizeof(req) - 2) {
			fprintf(stderr, "preforkctl: request too long\n");
			return 2;
		}
	}
	req[n++] = '\n';

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "preforkctl: socket path too long\n");
		return 2;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "preforkctl: cannot connect to %s: %s (is "
		    "preforkd running with admin_socket = \"%s\"?)\n", path,
		    strerror(errno), path);
		return 2;
	}
	if (send_all(fd, req, n) == -1) {
		fprintf(stderr, "preforkctl: send to %s: %s\n", path,
		    strerror(errno));
		close(fd);
		return 2;
	}
	reply = read_reply(fd, path);
	close(fd);
	if (reply == NULL)
		return 2;
	if ((body = strchr(reply, '\n')) != NULL)
		*body++ = '\0';
	else
		body = reply + strlen(reply);
	if (strcmp(reply, "OK") == 0) {
		fputs(body, stdout);
		free(reply);
		return 0;
	}
	if (strncmp(reply, "ERR ", 4) == 0) {
		fprintf(stderr, "preforkctl: %s\n", reply + 4);
		free(reply);
		return 1;
	}
	fprintf(stderr, "preforkctl: no valid reply from %s\n", path);
	free(reply);
	return 2;
}
