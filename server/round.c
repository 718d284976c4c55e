/*
 * round.c -- one request to every worker, one callback when all answered.
 *
 * Each child carries a bit per kind of round it owes an answer to.  A
 * round ends when no child owes one, or at its time bound (a hung worker
 * must not hang an operator's command); the callback learns how many
 * never answered.
 */
#include <event2/event.h>
#include <stddef.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/peer.h"
#include "server/master.h"
#include "server/round.h"

#define ROUND_MAX_WAITERS	64

static const int round_wait_ms[ROUND_MAX_] = {
	[ROUND_STATS] = 500,
	[ROUND_REOPEN] = 2000,
};

static struct round {
	struct event	*timer;
	struct {
		round_done_fn	 fn;
		void		*arg;
	}		 waiters[ROUND_MAX_WAITERS];
	int		 nwaiters;
} rounds[ROUND_MAX_];

static void
round_finish(enum round_kind kind)
{
	struct round	*r = &rounds[kind];
	struct child	*c;
	int		 i, n = r->nwaiters, missing = 0;

	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->pending & (1u << kind)) {
			c->pending &= ~(1u << kind);
			missing++;
		}
	}
	r->nwaiters = 0;
	evtimer_del(r->timer);
	for (i = 0; i < n; i++)
		r->waiters[i].fn(r->waiters[i].arg, missing);
}

static void
round_check(enum round_kind kind)
{
	struct child	*c;

	if (rounds[kind].nwaiters == 0)
		return;
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->pending & (1u << kind))
			return;
	}
	round_finish(kind);
}

static void
round_timeout(evutil_socket_t fd, short what, void *arg)
{
	round_finish((enum round_kind)(intptr_t)arg);
}

int
rounds_init(struct event_base *base)
{
	int	k;

	for (k = 0; k < ROUND_MAX_; k++) {
		rounds[k].timer = evtimer_new(base, round_timeout,
		    (void *)(intptr_t)k);
		if (rounds[k].timer == NULL)
			return -1;
	}
	return 0;
}

void
rounds_free(void)
{
	int	k;

	for (k = 0; k < ROUND_MAX_; k++) {
		if (rounds[k].timer != NULL)
			event_free(rounds[k].timer);
		rounds[k].timer = NULL;
		rounds[k].nwaiters = 0;
	}
}

void
round_start(enum round_kind kind, struct ctl_msg *m, int fd,
    round_done_fn done, void *arg)
{
	struct round	*r = &rounds[kind];
	struct child	*c;
	struct timeval	 tv;
	int		 asked = 0;

	if (r->nwaiters == ROUND_MAX_WAITERS) {
		done(arg, 0);
		return;
	}
	r->waiters[r->nwaiters].fn = done;
	r->waiters[r->nwaiters].arg = arg;
	if (r->nwaiters++ > 0)
		return;		/* a round is under way: join it */
	m->pid = master.pid;
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->peer == NULL || c->state == CHILD_KILLED)
			continue;
		m->slot = c->slot;
		if (peer_send_fd(c->peer, m, fd) == 0) {
			c->pending |= 1u << kind;
			asked++;
		}
	}
	if (asked == 0) {
		round_finish(kind);
		return;
	}
	clock_ms_to_tv(round_wait_ms[kind], &tv);
	evtimer_add(r->timer, &tv);
}

void
round_answered(struct child *c, enum round_kind kind)
{
	if (!(c->pending & (1u << kind)))
		return;
	c->pending &= ~(1u << kind);
	round_check(kind);
}

void
round_child_gone(struct child *c)
{
	int	k;

	for (k = 0; k < ROUND_MAX_; k++)
		round_answered(c, (enum round_kind)k);
}
