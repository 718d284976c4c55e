/*
 * round.c -- one request to every worker, one callback when all answered.
 *
 * Each child carries a bit per kind of round it owes an answer to.  A
 * round ends when no child owes one, or at its time bound (a hung worker
 * must not hang an operator's command); the callback learns how many
 * never answered or answered with an error.  A stats request joins the
 * round under way; a reopen may not (the round under way hands out an
 * older file), so it waits for its own round, which the latest request
 * of those waiting starts with its descriptor.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static const int round_joins[ROUND_MAX_] = {
	[ROUND_STATS] = 1,
	[ROUND_REOPEN] = 0,
};

struct waiter {
	round_done_fn	 fn;
	void		*arg;
};

static struct round {
	struct event	*timer;
	struct waiter	 waiters[ROUND_MAX_WAITERS];
	int		 nwaiters;
	int		 failed;
	char		 error[128];	/* the first failure's */
	/* The next round, queued behind this one. */
	struct waiter	 next[ROUND_MAX_WAITERS];
	int		 nnext;
	struct ctl_msg	 next_msg;
	int		 next_fd;
} rounds[ROUND_MAX_];

static void	round_send(enum round_kind, struct ctl_msg *, int);

static void
round_finish(enum round_kind kind)
{
	struct round	*r = &rounds[kind];
	struct waiter	 done[ROUND_MAX_WAITERS];
	struct child	*c;
	int		 i, n = r->nwaiters, missing = r->failed, fd;

	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->pending & (1u << kind)) {
			c->pending &= ~(1u << kind);
			missing++;
		}
	}
	/* The callbacks may start a round of this kind: copy them out. */
	memcpy(done, r->waiters, n * sizeof(done[0]));
	r->nwaiters = 0;
	evtimer_del(r->timer);
	for (i = 0; i < n; i++)
		done[i].fn(done[i].arg, missing);
	r->failed = 0;
	r->error[0] = '\0';
	if (r->nnext == 0 || r->nwaiters > 0)
		return;
	memcpy(r->waiters, r->next, r->nnext * sizeof(r->next[0]));
	r->nwaiters = r->nnext;
	r->nnext = 0;
	fd = r->next_fd;
	r->next_fd = -1;
	round_send(kind, &r->next_msg, fd);
	if (fd != -1)
		close(fd);
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
		rounds[k].next_fd = -1;
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
		rounds[k].nnext = 0;
		if (rounds[k].next_fd != -1)
			close(rounds[k].next_fd);
		rounds[k].next_fd = -1;
	}
}

void
round_start(enum round_kind kind, struct ctl_msg *m, int fd,
    round_done_fn done, void *arg)
{
	struct round	*r = &rounds[kind];
	int		 nfd = -1;

	if (r->nwaiters == 0) {
		r->waiters[0] = (struct waiter){ done, arg };
		r->nwaiters = 1;
		round_send(kind, m, fd);
		return;
	}
	if (round_joins[kind]) {
		if (r->nwaiters == ROUND_MAX_WAITERS)
			done(arg, 0);
		else
			r->waiters[r->nwaiters++] = (struct waiter){ done, arg };
		return;
	}
	if (r->nnext == ROUND_MAX_WAITERS ||
	    (fd != -1 && (nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)) {
		done(arg, 1);
		return;
	}
	if (r->next_fd != -1)
		close(r->next_fd);
	r->next_fd = nfd;
	r->next_msg = *m;
	r->next[r->nnext++] = (struct waiter){ done, arg };
}

/* Ask every live worker; the waiters are in place. */
static void
round_send(enum round_kind kind, struct ctl_msg *m, int fd)
{
	struct round	*r = &rounds[kind];
	struct child	*c;
	struct timeval	 tv;
	int		 asked = 0;

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
round_failed(struct child *c, enum round_kind kind, const char *why)
{
	struct round	*r = &rounds[kind];

	if (!(c->pending & (1u << kind)))
		return;
	if (r->failed++ == 0)
		snprintf(r->error, sizeof(r->error), "worker %d (pid %ld): %s",
		    c->slot, (long)c->pid, why);
	round_answered(c, kind);
}

const char *
round_error(enum round_kind kind)
{
	return rounds[kind].error;
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
