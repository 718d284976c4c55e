/*
 * timer.h -- a worker's timers (pf_set_timeout, pf_set_interval): one
 * libevent timer embedded in each, every live one on its worker's list.
 */
#ifndef PF_TIMER_H
#define PF_TIMER_H

#include "preforkd/preforkd.h"
#include "worker/worker.h"

/* A timer on w's loop: fires after ms, then every ms if repeat (an
 * interval of 0 is taken as 1).  NULL with errno set: EINVAL (no fn, or
 * w has no loop), ENOMEM. */
struct pf_timer	*timer_set(struct wctx *w, unsigned int ms, int repeat,
		    pf_timer_fn fn, void *udata);
/* Free every timer of w without calling it: the worker is stopping.  Its
 * loop must not be running a timer's callback. */
void		 timer_free_all(struct wctx *w);

#endif
