/*
 * listeners.c -- the master's listening sockets, which outlive any one
 * configuration.
 *
 * A reload is a transaction here too: listeners_prepare() reuses the
 * sockets the new configuration keeps (never closed, never re-bound) and
 * binds the new ones; listeners_commit() makes that the current set and
 * retires the sockets it dropped; listeners_abort() closes only what
 * prepare bound.  A retired socket is closed by listeners_reap() once no
 * worker of a generation that accepted on it is left, so nothing queued on
 * it is ever reset while someone could still accept it.
 *
 * Sockets passed by systemd (LISTEN_PID/LISTEN_FDS) are adopted under the
 * name a configured listener bound there would have, so prepare() uses
 * one the configuration lists instead of binding; the others are retired
 * at the first commit and closed like any removed listener.
 *
 * Binding: IPv6 sockets are v6-only so "::" and "0.0.0.0" can both be
 * listed; sockets are non-blocking (workers accept until EAGAIN); an
 * existing Unix socket file is replaced only if nobody answers on it.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/listeners.h"

struct msock {
	TAILQ_ENTRY(msock)	 entry;
	int			 fd;
	int			 is_unix;
	int			 backlog;
	int			 pending;	/* bound by prepare, uncommitted */
	int			 adopted;	/* socket activation: not ours
						   to unlink */
	int			 retired;	/* not in the current config */
	uint32_t		 retired_gen;	/* last generation using it */
	char			 name[128];
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static TAILQ_HEAD(, msock) socks = TAILQ_HEAD_INITIALIZER(socks);

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
		if (unix_path_free(lc->path, "listener") == -1)
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

static struct msock *
msock_find(const struct listen_conf *lc)
{
	struct msock	*ms;

	TAILQ_FOREACH(ms, &socks, entry) {
		if (ms->is_unix == (lc->path != NULL) &&
		    strcmp(ms->name, lc->name) == 0)
			return ms;
	}
	return NULL;
}

static void
msock_close(struct msock *ms)
{
	TAILQ_REMOVE(&socks, ms, entry);
	close(ms->fd);
	if (ms->is_unix && !ms->adopted && unlink(ms->path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", ms->path);
	free(ms);
}

/* The name a listener bound to ss would have in the configuration. */
static int
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

int
listeners_adopt(void)
{
	struct sockaddr_storage	 ss;
	struct msock		*ms;
	const char		*pid = getenv("LISTEN_PID");
	const char		*nfds = getenv("LISTEN_FDS");
	socklen_t		 len;
	int			 fd, n, type, listening;
	socklen_t		 olen = sizeof(int);

	if (pid == NULL || nfds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atoi(nfds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (fd = 3; fd < 3 + n; fd++) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		    &olen) == -1 || type != SOCK_STREAM || !listening) {
			log_warnx("socket activation: fd %d is not a listening "
			    "stream socket; closing it", fd);
			close(fd);
			continue;
		}
		if ((ms = calloc(1, sizeof(*ms))) == NULL) {
			log_warn("socket activation");
			return -1;
		}
		if (sock_name(&ss, ms->name, sizeof(ms->name), ms->path,
		    sizeof(ms->path)) == -1 ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			log_warnx("socket activation: cannot use fd %d", fd);
			free(ms);
			close(fd);
			continue;
		}
		ms->fd = fd;
		ms->is_unix = ss.ss_family == AF_UNIX;
		ms->adopted = 1;
		ms->backlog = -1;
		TAILQ_INSERT_TAIL(&socks, ms, entry);
		log_info("listener %s: from socket activation (fd %d)",
		    ms->name, fd);
	}
	return 0;
}

int
listeners_prepare(const struct config *cfg, struct lsock *ls)
{
	const struct listen_conf	*lc;
	struct msock			*ms;
	size_t				 i;

	for (i = 0; i < cfg->nlisteners; i++) {
		lc = &cfg->listeners[i];
		ls[i].conf = lc;
		if ((ms = msock_find(lc)) != NULL) {
			ls[i].fd = ms->fd;
			continue;
		}
		if ((ms = calloc(1, sizeof(*ms))) == NULL) {
			log_warn("listener %s", lc->name);
			goto err;
		}
		if ((ms->fd = listener_bind(lc)) == -1) {
			free(ms);
			goto err;
		}
		ms->is_unix = lc->path != NULL;
		ms->pending = 1;
		ms->backlog = lc->backlog;
		snprintf(ms->name, sizeof(ms->name), "%s", lc->name);
		if (lc->path != NULL)
			snprintf(ms->path, sizeof(ms->path), "%s", lc->path);
		TAILQ_INSERT_TAIL(&socks, ms, entry);
		ls[i].fd = ms->fd;
		log_info("listening on %s (%s)", lc->name, lc->service);
	}
	return 0;
err:
	listeners_abort();
	return -1;
}

void
listeners_abort(void)
{
	struct msock	*ms, *next;

	for (ms = TAILQ_FIRST(&socks); ms != NULL; ms = next) {
		next = TAILQ_NEXT(ms, entry);
		if (ms->pending)
			msock_close(ms);
	}
}

void
listeners_commit(const struct config *cfg, uint32_t old_gen)
{
	const struct listen_conf	*lc;
	struct msock			*ms;
	size_t				 i;

	TAILQ_FOREACH(ms, &socks, entry) {
		ms->pending = 0;
		for (i = 0; i < cfg->nlisteners; i++) {
			lc = &cfg->listeners[i];
			if (ms->is_unix == (lc->path != NULL) &&
			    strcmp(ms->name, lc->name) == 0)
				break;
		}
		if (i == cfg->nlisteners) {
			if (!ms->retired) {
				ms->retired = 1;
				ms->retired_gen = old_gen;
				log_info("listener %s removed; closing it once "
				    "generation %u has drained", ms->name,
				    old_gen);
			}
			continue;
		}
		ms->retired = 0;	/* kept, or brought back */
		if (lc->backlog != ms->backlog &&
		    listen(ms->fd, lc->backlog) == 0)
			ms->backlog = lc->backlog;
	}
}

void
listeners_reap(uint32_t oldest_gen)
{
	struct msock	*ms, *next;

	for (ms = TAILQ_FIRST(&socks); ms != NULL; ms = next) {
		next = TAILQ_NEXT(ms, entry);
		if (ms->retired && ms->retired_gen < oldest_gen) {
			log_info("listener %s closed", ms->name);
			msock_close(ms);
		}
	}
}

void
listeners_close_all(void)
{
	while (!TAILQ_EMPTY(&socks))
		msock_close(TAILQ_FIRST(&socks));
}

void
listeners_forget(const struct lsock *keep, size_t n)
{
	struct msock	*ms;
	size_t		 i;

	while ((ms = TAILQ_FIRST(&socks)) != NULL) {
		TAILQ_REMOVE(&socks, ms, entry);
		for (i = 0; i < n && keep[i].fd != ms->fd; i++)
			;
		if (i == n)
			close(ms->fd);
		free(ms);
	}
}
