/*
 * pidfile.c -- a pidfile that cannot lie.
 *
 * The master holds an flock on its pidfile for as long as it runs, so a
 * reader tells a live master from a stale file by trying the lock, not by
 * trusting the number (which may belong to an unrelated process by now).
 * The file is written under a temporary name, locked, then renamed into
 * place: nobody ever reads a half-written pid.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/pidfile.h"

int
pidfile_read(const char *path, pid_t *pid, char *err, size_t errlen)
{
	char	buf[32];
	ssize_t	n;
	long	v;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s (is preforkd running?)", path,
		    strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	v = strtol(buf, NULL, 10);
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		snprintf(err, errlen, "%s: stale pidfile (pid %ld is not a "
		    "running preforkd)", path, v);
		close(fd);
		return -1;
	}
	close(fd);
	if (v <= 0) {
		snprintf(err, errlen, "%s: no pid in the file", path);
		return -1;
	}
	*pid = (pid_t)v;
	return 0;
}

int
pidfile_create(const char *path, char *err, size_t errlen)
{
	pid_t	other;

	if (pidfile_read(path, &other, err, errlen) == 0) {
		snprintf(err, errlen, "%s: preforkd is already running as "
		    "pid %ld", path, (long)other);
		return -1;
	}
	return pidfile_take_over(path, err, errlen);
}

/* The rename replaces the file a running master holds: readers go from
 * its pid to ours, never through a missing or unlocked file. */
int
pidfile_take_over(const char *path, char *err, size_t errlen)
{
	char	tmp[4096], buf[32];
	int	fd, n;

	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || write(fd, buf, n) != n ||
	    rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	return fd;
}

void
pidfile_remove(const char *path, int fd)
{
	if (fd == -1)
		return;
	unlink(path);
	close(fd);
}
