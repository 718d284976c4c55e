/*
 * healthcheck.h -- the proxy listeners' backends in the master: which slot
 * of the shared table (common/pxshm.h) each one has, and the active health
 * checks (one TCP connect per backend every check_interval, by the master
 * alone, whatever the number of workers).
 */
#ifndef PF_HEALTHCHECK_H
#define PF_HEALTHCHECK_H

#include <stdint.h>

#include "conf/config.h"

/* What the reports show of a backend beside its counters. */
struct hc_info {
	int		 checked;	/* active checks on */
	int		 up;		/* as the checks say (1 unchecked) */
	uint64_t	 checks;	/* checks made */
	uint64_t	 check_failures;
	uint64_t	 changes;	/* up <-> down */
};

/*
 * Before a worker of cfg (generation gen) is forked: map the table if cfg
 * has a proxy listener, give each of its backends a slot (the slot it had
 * if an older configuration had the same listener and backend: its health
 * and counters go on) in backend_conf.hslot, and start or re-time their
 * checks.  Returns the new worker's region of the table (struct child's
 * pxs_region, given back when the worker exits), or -1 (no proxy, no
 * table).  Problems are logged; a backend without a slot is proxied
 * unchecked and uncounted.
 */
int	healthcheck_spawn(struct config *cfg, uint32_t gen);
/* A slot's state; -1 if it is not in use. */
int	healthcheck_info(int slot, struct hc_info *out);
/* Stop every check, free everything (master exit, and a new worker,
 * from master_drop()). */
void	healthcheck_free(void);

#endif
