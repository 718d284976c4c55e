/*
 * master.h -- the supervising process.
 */
#ifndef PF_MASTER_H
#define PF_MASTER_H

#include "conf/config.h"

/* Bind, fork the workers, supervise until stopped; the exit status. */
int	master_run(struct config *cfg);

#endif
