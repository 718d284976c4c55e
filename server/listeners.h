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
/* One socket passed by systemd, or inherited from the master an upgrade
 * replaces (it joins the set of its address); -1 logged. */
int	listeners_adopt_fd(int fd, int inherited);
/* fn on every socket of the current set (an upgrade hands them over). */
int	listeners_each(int (*fn)(int fd, const char *name, void *arg),
	    void *arg);
/* Handing over: leave the steering programs to the new master (on), or
 * take it back (off, the upgrade failed). */
void	listeners_freeze(int on);
/* Fill ls[cfg->nlisteners] (zeroed) for nworkers: kept sockets reused,
 * new ones bound but not listening, reuseport sets grown (never shrunk).
 * On failure (logged) nothing changes and -1 is returned. */
int	listeners_prepare(const struct config *cfg, struct lsock *ls,
	    int nworkers);
/* Free what prepare filled in ls, and ls. */
void	lsocks_free(struct lsock *ls, size_t n);
/* Send new clients of reuseport sets only to sockets whose slot is live. */
void	listeners_steer(const unsigned char *live, int nlive);
/* Undo what the last prepare bound. */
void	listeners_abort(void);
/* Listen on what prepare bound; -1 (logged) if the kernel refuses. */
int	listeners_listen(void);
/* cfg, of generation new_gen, is now current: the sockets it lacks take
 * no new client and wait for their workers to drain.  Inherited sockets
 * (an upgrade's) become ours, Unix paths included. */
void	listeners_commit(const struct config *cfg, uint32_t new_gen);
/* Stopping: every socket but the stats listeners takes no new client. */
void	listeners_retire_all(uint32_t last_gen);
/* An upgrade that failed after the new master committed: it may have
 * retired sockets this master serves (a filter on the shared socket);
 * take the filter off every TCP socket not retired here. */
void	listeners_unfilter(void);
/* Close the retired sockets that held() says no undrained worker of
 * generations first_gen..last_gen still holds. */
void	listeners_reap(int (*held)(uint32_t first_gen, uint32_t last_gen));
/* Close everything, removing the Unix socket files. */
void	listeners_close_all(void);
/* In a new worker: close the master's sockets not in keep, free the set. */
void	listeners_forget(const struct lsock *keep, size_t n);

#endif
