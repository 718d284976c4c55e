/*
 * pxshm.h -- the proxy's backends as every process sees them: one up/down
 * byte per backend, written by the master's checker (server/healthcheck.c)
 * (with a count of the checks that passed) and read by the workers, and
 * per worker a row of counters per backend,
 * written only by that worker and summed by the master.
 */
#ifndef PF_PXSHM_H
#define PF_PXSHM_H

#include <stdint.h>

/* Backend slots: every backend of every proxy listener of the live
 * generations (a backend kept by a reload keeps its slot). */
#define PXS_SLOTS	512

/* A backend's health byte: 0 (the zeroed table) is up. */
#define PXS_UP		0
#define PXS_DOWN	1

/* One worker's counters for one backend. */
struct pxs_row {
	uint64_t	active;		/* connecting or connected now */
	uint64_t	total;		/* connects that succeeded */
	uint64_t	errors;		/* connects that failed */
	uint64_t	bytes_in;	/* read from the backend */
	uint64_t	bytes_out;	/* written to the backend */
};

/* Master: map the table (once, before forking; again is a no-op); -1
 * logged.  Is it mapped? */
int		 pxshm_init(void);
int		 pxshm_ready(void);
/* Master: a region for a new worker, or -1; given back when that worker
 * has exited: its counters (but "active") are folded into the backends'
 * totals and the region zeroed. */
int		 pxshm_region_get(void);
void		 pxshm_region_put(int region);
/* Master: slot's health; a slot given to a new backend starts at zero
 * (up, no counts). */
void		 pxshm_set_health(int slot, uint8_t state);
/* Master: a check of slot passed (the workers end their passive "down"
 * for it on seeing that). */
void		 pxshm_check_passed(int slot);
void		 pxshm_slot_reset(int slot);
/* Master: slot's counters since it was given: folded plus the live
 * regions' (active: the live regions' only).  -1 if slot is out of range
 * or there is no table. */
int		 pxshm_sum(int slot, struct pxs_row *out);

/* Worker, at start: write only to this region from now on (the rest of
 * the table is made read-only).  0, or -1 logged. */
int		 pxshm_use(int region);
/* Worker: its own row for slot, or NULL (no table, no region, no slot). */
struct pxs_row	*pxshm_row(int slot);
/* Worker: slot's health byte, or NULL. */
const uint8_t	*pxshm_health(int slot);
/* Worker: slot's count of checks passed, or NULL. */
const uint32_t	*pxshm_good(int slot);

/* Single writer per row: a plain add, stored whole for the master. */
static inline void
pxs_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, *v + n, __ATOMIC_RELAXED);
}

#endif
