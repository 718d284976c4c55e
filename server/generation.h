/*
 * generation.h -- what master.c needs of generation.c beyond the reload
 * steps in master.h.
 */
#ifndef PF_GENERATION_H
#define PF_GENERATION_H

#include "conf/config.h"
#include "server/master.h"

/* Does cfg limit connections per address (so needs the shared table)? */
int	needs_iplimit(const struct config *cfg);
void	gen_free(struct gen *g);

#endif
