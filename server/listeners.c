/*
 * listeners.c -- binding the configured addresses and Unix socket paths.
 *
 * The master binds everything before forking, so the workers inherit the
 * sockets; sockets are non-blocking (workers accept in a loop until
 * EAGAIN).  IPv6 sockets are v6-only so "::" and "0.0.0.0" can both be
 * listed.  An existing Unix socket file is replaced only if nobody answers
 * on it; anything else at that path is an error.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/listeners.h"

static int
unix_path_free(const struct listen_conf *lc, const struct sockaddr_un *sun)
{
	struct stat	st;
	int		fd, rc;

	if (lstat(lc->path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("listener %s: stat", lc->name);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("listener %s: path exists and is not a socket",
		    lc->name);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("listener %s: socket", lc->name);
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		log_warnx("listener %s: another server is listening there",
		    lc->name);
		return -1;
	}
	if (unlink(lc->path) == -1) {
		log_warn("listener %s: cannot remove stale socket", lc->name);
		return -1;
	}
	log_info("listener %s: removed stale socket file", lc->name);
	return 0;
}

static int
listener_bind(const struct listen_conf *lc)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	socklen_t		 len;
	int			 fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (lc->path != NULL) {
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, lc->path, strlen(lc->path) + 1);
		len = sizeof(*sun);
		if (unix_path_free(lc, sun) == -1)
			return -1;
	} else if (inet_pton(AF_INET, lc->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(lc->port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, lc->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(lc->port);
		len = sizeof(*sin6);
	} else {
		log_warnx("listener %s: bad address", lc->name);
		return -1;
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_warn("listener %s: socket", lc->name);
		return -1;
	}
	if (ss.ss_family != AF_UNIX && setsockopt(fd, SOL_SOCKET,
	    SO_REUSEADDR, &one, sizeof(one)) == -1) {
		log_warn("listener %s: SO_REUSEADDR", lc->name);
		goto err;
	}
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) {
		log_warn("listener %s: IPV6_V6ONLY", lc->name);
		goto err;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		log_warn("listener %s: bind", lc->name);
		goto err;
	}
	if (listen(fd, lc->backlog) == -1) {
		log_warn("listener %s: listen", lc->name);
		if (lc->path != NULL)
			unlink(lc->path);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int
listeners_open(const struct config *cfg, struct lsock *ls)
{
	size_t	i;

	for (i = 0; i < cfg->nlisteners; i++) {
		ls[i].conf = &cfg->listeners[i];
		if ((ls[i].fd = listener_bind(ls[i].conf)) == -1) {
			listeners_close(ls, i);
			return -1;
		}
		log_info("listening on %s (%s)", ls[i].conf->name,
		    ls[i].conf->service);
	}
	return 0;
}

void
listeners_close(struct lsock *ls, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (ls[i].fd == -1)
			continue;
		close(ls[i].fd);
		ls[i].fd = -1;
		if (ls[i].conf->path != NULL && unlink(ls[i].conf->path) == -1)
			log_warn("unlink %s", ls[i].conf->path);
	}
}
