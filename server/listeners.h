/*
 * listeners.h -- the listening sockets the master binds and owns.
 */
#ifndef PF_LISTENERS_H
#define PF_LISTENERS_H

#include "worker/worker.h"

/* Bind every listener of cfg into ls[cfg->nlisteners]; -1 logged. */
int	listeners_open(const struct config *cfg, struct lsock *ls);
/* Close them, removing the Unix socket files they created. */
void	listeners_close(struct lsock *ls, size_t n);

#endif
