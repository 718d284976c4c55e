/*
 * round.h -- asking every worker the same thing and waiting for all of
 * them to answer (fresh stats, log reopen acknowledgements).
 */
#ifndef PF_ROUND_H
#define PF_ROUND_H

#include "common/ctl.h"

struct event_base;
struct child;

enum round_kind {
	ROUND_STATS,		/* STATS_REQUEST -> STATS */
	ROUND_REOPEN,		/* REOPEN -> REOPENED */
	ROUND_MAX_
};

/* missing: how many workers asked did not answer in time. */
typedef void (*round_done_fn)(void *arg, int missing);

int	rounds_init(struct event_base *base);
void	rounds_free(void);
/* Send m (with a copy of fd, if not -1) to every live worker; done runs
 * once all answered or after the round's bound.  A stats request that
 * arrives while a stats round runs joins it; a reopen waits for the next
 * round (see round.c). */
void	round_start(enum round_kind kind, struct ctl_msg *m, int fd,
	    round_done_fn done, void *arg);
/* c answered, or will never answer (gone): stop waiting for it. */
void	round_answered(struct child *c, enum round_kind kind);
/* c answered with an error (why); counted as missing. */
void	round_failed(struct child *c, enum round_kind kind, const char *why);
/* Inside a done callback: the first failure of the round, or "". */
const char *round_error(enum round_kind kind);
void	round_child_gone(struct child *c);

#endif
