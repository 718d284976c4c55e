/*
 * sockbind.c -- one listening socket's birth, without the bookkeeping of
 * the set (listeners.c): a configured address bound (reuseport, v6-only,
 * non-blocking, not yet listening), a Unix socket's path made free, and
 * the configured name of a socket someone handed us.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/listeners.h"
#include "server/sockbind.h"

int
unix_path_free(const char *path, const char *what)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s %s: stat", what, path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s %s: path exists and is not a socket", what, path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s %s: socket", what, path);
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		log_warnx("%s %s: another server is listening there", what,
		    path);
		return -1;
	}
	if (unlink(path) == -1) {
		log_warn("%s %s: cannot remove stale socket", what, path);
		return -1;
	}
	log_info("%s %s: removed stale socket file", what, path);
	return 0;
}

/*
 * A socket bound to lc's address, not yet listening; with reuseport, one
 * more of its set.  A probe (closed at once) finds another process on the
 * address: without it, a second server of the same user would silently
 * join our set.
 */
int
listener_bind(const struct listen_conf *lc, int reuseport, int probe)
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
		if (!probe && unix_path_free(lc->path, "listener") == -1)
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
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1) {
		log_warn("listener %s: SO_REUSEPORT", lc->name);
		goto err;
	}
	if (ss.ss_family != AF_UNIX && setsockopt(fd, IPPROTO_TCP,
	    TCP_NODELAY, &lc->tcp_nodelay, sizeof(lc->tcp_nodelay)) == -1) {
		log_warn("listener %s: TCP_NODELAY", lc->name);
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
	if (probe) {
		close(fd);
		return 0;
	}
	return fd;
err:
	close(fd);
	return -1;
}

/* The name a listener bound to ss would have in the configuration. */
int
sock_name(const struct sockaddr_storage *ss, char *name, size_t size,
    char *path, size_t psize)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	const struct sockaddr_un	*sun = (const void *)ss;
	char				 host[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(name, size, "%s:%u", host, ntohs(sin->sin_port));
		return 0;
	case AF_INET6:
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(name, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		return 0;
	case AF_UNIX:
		snprintf(name, size, "%s", sun->sun_path);
		snprintf(path, psize, "%s", sun->sun_path);
		return sun->sun_path[0] == '\0' ? -1 : 0;
	default:
		return -1;
	}
}
