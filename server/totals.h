/*
 * totals.h -- the service's counters since the master started.
 *
 * A worker's counters start at zero and end with it.  So that every
 * *_total only grows, what an exiting worker counted (its last report)
 * is folded into its slot's totals when it is reaped; a slot's value is
 * then its folded totals plus what its live workers report now.  Beside
 * them, the master's own events: reloads, respawns, backoffs, recycles,
 * hung workers killed.
 *
 * Pure logic over a plain struct: no I/O, no allocation.
 */
#ifndef PF_TOTALS_H
#define PF_TOTALS_H

#include <stdint.h>

#include "common/ctl.h"
#include "conf/config.h"

#define TOTALS_SLOTS	CONFIG_WORKERS_MAX

enum totals_event {
	TOTALS_RELOAD_OK,	/* a reload committed */
	TOTALS_RELOAD_FAILED,	/* a reload ended without committing */
	TOTALS_RESPAWN,		/* a worker died in its slot; replaced */
	TOTALS_BACKOFF,		/* a replacement delayed: crash loop */
	TOTALS_RECYCLE,		/* replaced at its connection limit */
	TOTALS_HUNG_KILLED,	/* silent too long: aborted */
	TOTALS_EVENT_MAX
};

struct totals {
	struct ctl_stats	folded[TOTALS_SLOTS];	/* conns_active: 0 */
	unsigned char		used[TOTALS_SLOTS];	/* a worker folded */
	uint64_t		events[TOTALS_EVENT_MAX];
};

/* All zero (a zeroed struct is initialised too). */
void		 totals_init(struct totals *t);
/* Fold the last report of slot's worker that exited; -1 (nothing done)
 * if slot is out of range or last is NULL. */
int		 totals_fold(struct totals *t, int slot,
		    const struct ctl_stats *last);
/* Has a worker of slot been folded? */
int		 totals_used(const struct totals *t, int slot);
/*
 * Slot's counters since start into out: folded plus live (the sum of
 * what slot's live workers report now; NULL: none).  conns_active is
 * live's only.  -1 if slot is out of range.
 */
int		 totals_slot(const struct totals *t, int slot,
		    const struct ctl_stats *live, struct ctl_stats *out);
/* Add s's counters into sum (conns_active too). */
void		 totals_add(struct ctl_stats *sum, const struct ctl_stats *s);
void		 totals_event(struct totals *t, enum totals_event ev);
uint64_t	 totals_events(const struct totals *t, enum totals_event ev);

#endif
