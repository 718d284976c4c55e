/*
 * pidfile.h -- the master's pidfile: written atomically, locked while the
 * master runs, removed at exit.
 */
#ifndef PF_PIDFILE_H
#define PF_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write getpid() to path and keep it locked; the fd, or -1 with err
 * filled (another master holds it, or an I/O error). */
int	pidfile_create(const char *path, char *err, size_t errlen);
/* The same over the file of the master an upgrade replaces. */
int	pidfile_take_over(const char *path, char *err, size_t errlen);
/* The running master's pid; -1 with err filled if there is none (no
 * file, or a stale one nobody holds the lock of). */
int	pidfile_read(const char *path, pid_t *pid, char *err, size_t errlen);
void	pidfile_remove(const char *path, int fd);

#endif
