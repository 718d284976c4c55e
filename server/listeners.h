/*
 * listeners.h -- the listening sockets the master binds and owns, across
 * reloads.
 */
#ifndef PF_LISTENERS_H
#define PF_LISTENERS_H

#include <stdint.h>

#include "worker/worker.h"

/* Take over the sockets systemd passed (LISTEN_FDS), if any; -1 logged. */
int	listeners_adopt(void);
/* Fill ls[cfg->nlisteners] (zeroed) for nworkers: kept sockets reused,
 * new ones bound, reuseport sets grown (never shrunk).  On failure (logged)
 * nothing changes and -1 is returned. */
int	listeners_prepare(const struct config *cfg, struct lsock *ls,
	    int nworkers);
/* Free what prepare filled in ls, and ls. */
void	lsocks_free(struct lsock *ls, size_t n);
/* Send new clients of reuseport sets only to sockets whose slot is live. */
void	listeners_steer(const unsigned char *live, int nlive);
/* Undo what the last prepare bound. */
void	listeners_abort(void);
/* cfg is now current: sockets it lacks are retired, last used by old_gen. */
void	listeners_commit(const struct config *cfg, uint32_t old_gen);
/* Close retired sockets no live generation (>= oldest_gen) accepted on. */
void	listeners_reap(uint32_t oldest_gen);
/* Close everything, removing the Unix socket files. */
void	listeners_close_all(void);
/* Make room for a Unix socket at path: 0 if nothing is there or only a
 * stale socket (removed); -1 (logged, with what) if anything else is. */
int	unix_path_free(const char *path, const char *what);
/* In a new worker: close the master's sockets not in keep, free the set. */
void	listeners_forget(const struct lsock *keep, size_t n);

#endif
