/*
 * alogfiles.c -- the access-log files the master holds open for its
 * workers.
 *
 * Workers may be chrooted and unprivileged, so, as for the log, the
 * master opens the files and the workers inherit them at fork; a reopen
 * (SIGUSR1) passes the new descriptors over each worker's channel.  One
 * descriptor per distinct path, whatever the number of listeners writing
 * to it.  The set follows the configurations that may still fork
 * workers (the serving one, and the previous one while a reload is
 * pending): a file of neither is closed at the next spawn or reopen.
 * Workers of older generations keep their own copies and match a
 * reopened file by the key of its path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/peer.h"
#include "server/alogfiles.h"

/*
 * Like the log: appended to, created 0640.  O_NONBLOCK: a FIFO put at the
 * path must not hang the master at open, nor a worker at write.
 */
static int
alog_open(const char *path, char *err, size_t errlen)
{
	int	fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK,
	    0640);
	if (fd == -1)
		snprintf(err, errlen, "access log %s: %s", path,
		    strerror(errno));
	return fd;
}

static int
used_by(const struct config *cfg, const char *path)
{
	size_t	i;

	for (i = 0; cfg != NULL && i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].alog_file != NULL &&
		    strcmp(cfg->listeners[i].alog_file, path) == 0)
			return 1;
	}
	return 0;
}

static int
find(const struct alog_files *af, const char *path)
{
	size_t	i;

	for (i = 0; i < af->n; i++) {
		if (strcmp(af->paths[i], path) == 0)
			return (int)i;
	}
	return -1;
}

static int
add(struct alog_files *af, const char *path, char *err, size_t errlen)
{
	struct alog_fd	*fds;
	char		**paths, *copy;
	int		 fd;

	fds = reallocarray(af->fds, af->n + 1, sizeof(*fds));
	if (fds != NULL)
		af->fds = fds;
	paths = reallocarray(af->paths, af->n + 1, sizeof(*paths));
	if (paths != NULL)
		af->paths = paths;
	if (fds == NULL || paths == NULL || (copy = strdup(path)) == NULL) {
		snprintf(err, errlen, "access log %s: out of memory", path);
		return -1;
	}
	if ((fd = alog_open(path, err, errlen)) == -1) {
		free(copy);
		return -1;
	}
	af->paths[af->n] = copy;
	af->fds[af->n].key = alog_key(path);
	af->fds[af->n].fd = fd;
	af->n++;
	return 0;
}

static int
open_all(struct alog_files *af, const struct config *cfg, char *err,
    size_t errlen)
{
	const char	*path;
	size_t		 i;
	int		 rc = 0, sys = 0;

	for (i = 0; cfg != NULL && i < cfg->nlisteners; i++) {
		if ((path = cfg->listeners[i].alog_file) == NULL)
			continue;
		if (strcmp(path, "syslog") == 0)
			sys = 1;
		else if (find(af, path) == -1 && add(af, path, err, errlen) ==
		    -1 && rc == 0) {
			rc = -1;
			err = NULL;	/* keep the first error */
			errlen = 0;
		}
	}
	/* Connected now, before a worker's chroot hides /dev/log. */
	if (sys)
		openlog("preforkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	return rc;
}

int
alogfiles_sync(struct alog_files *af, const struct config *cfg,
    const struct config *prev, char *err, size_t errlen)
{
	size_t	i = 0;
	int	rc;

	while (i < af->n) {
		if (used_by(cfg, af->paths[i]) || used_by(prev, af->paths[i])) {
			i++;
			continue;
		}
		close(af->fds[i].fd);
		free(af->paths[i]);
		af->n--;
		af->fds[i] = af->fds[af->n];
		af->paths[i] = af->paths[af->n];
	}
	rc = open_all(af, cfg, err, errlen);
	if (open_all(af, prev, rc == 0 ? err : NULL, rc == 0 ? errlen : 0) ==
	    -1)
		rc = -1;
	return rc;
}

int
alogfiles_reopen(struct alog_files *af, char *err, size_t errlen)
{
	size_t	i;
	int	fd, rc = 0;

	for (i = 0; i < af->n; i++) {
		if ((fd = alog_open(af->paths[i], err, errlen)) == -1) {
			rc = -1;
			err = NULL;
			errlen = 0;
			continue;
		}
		close(af->fds[i].fd);
		af->fds[i].fd = fd;
	}
	return rc;
}

int
alogfiles_send(const struct alog_files *af, struct peer *p, uint32_t slot,
    uint32_t pid)
{
	struct ctl_msg	m = { .type = CTL_ALOG_REOPEN };
	size_t		i;
	int		rc = 0;

	m.slot = slot;
	m.pid = pid;
	for (i = 0; i < af->n; i++) {
		m.u.alog_reopen.key = af->fds[i].key;
		if (peer_send_fd(p, &m, af->fds[i].fd) == -1)
			rc = -1;
	}
	return rc;
}

void
alogfiles_free(struct alog_files *af)
{
	size_t	i;

	for (i = 0; i < af->n; i++) {
		close(af->fds[i].fd);
		free(af->paths[i]);
	}
	free(af->fds);
	free(af->paths);
	memset(af, 0, sizeof(*af));
}
