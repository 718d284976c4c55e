/*
 * emitter.c -- Node-style event emitter with integer event ids.
 *
 * Hooks live in one array in registration order.  While an emit is running
 * (depth > 0) the array is only appended to, never compacted: removal marks
 * a hook dead and the sweep happens when the outermost emit returns.  An
 * emit looks only at the hooks that existed when it started, so a hook
 * added meanwhile first fires on the next emit.  A bit mask of events with
 * live hooks makes emitting an event nobody listens to nearly free.
 */
#include <stdlib.h>
#include <string.h>

#include "common/emitter.h"

#define HOOK_ONCE	0x01
#define HOOK_DEAD	0x02

#define EMITTER_MAX_HOOKS	UINT16_MAX

_Static_assert(PF_EV_MAX_ <= 32, "event ids must fit the 32-bit mask");

static int
event_ok(int event)
{
	return event >= 0 && event < PF_EV_MAX_;
}

void
emitter_init(struct pf_emitter *em, void *owner)
{
	memset(em, 0, sizeof(*em));
	em->owner = owner;
}

void
emitter_clear(struct pf_emitter *em)
{
	free(em->hooks);
	em->hooks = NULL;
	em->n = em->cap = em->dead = 0;
	em->mask = 0;
}

static void
emitter_sweep(struct pf_emitter *em)
{
	uint16_t	i, j;

	em->mask = 0;
	for (i = j = 0; i < em->n; i++) {
		if (em->hooks[i].flags & HOOK_DEAD)
			continue;
		em->hooks[j++] = em->hooks[i];
		em->mask |= 1u << em->hooks[i].event;
	}
	em->n = j;
	em->dead = 0;
	if (em->n == 0)
		emitter_clear(em);
}

static void
hook_kill(struct pf_emitter *em, struct pf_hook *h)
{
	h->flags |= HOOK_DEAD;
	em->dead++;
}

static int
emitter_add(struct pf_emitter *em, int event, pf_handler fn, void *udata,
    uint8_t flags)
{
	struct pf_hook	*nh;
	uint16_t	 ncap;

	if (!event_ok(event) || fn == NULL)
		return -1;
	if (em->n == em->cap) {
		if (em->cap == EMITTER_MAX_HOOKS)
			return -1;
		ncap = em->cap == 0 ? 2 :
		    (em->cap > EMITTER_MAX_HOOKS / 2 ? EMITTER_MAX_HOOKS :
		    em->cap * 2);
		nh = realloc(em->hooks, ncap * sizeof(*nh));
		if (nh == NULL)
			return -1;
		em->hooks = nh;
		em->cap = ncap;
	}
	em->hooks[em->n].fn = fn;
	em->hooks[em->n].udata = udata;
	em->hooks[em->n].event = (uint8_t)event;
	em->hooks[em->n].flags = flags;
	em->n++;
	em->mask |= 1u << event;
	return 0;
}

int
pf_on(struct pf_emitter *em, int event, pf_handler fn, void *udata)
{
	return emitter_add(em, event, fn, udata, 0);
}

int
pf_once(struct pf_emitter *em, int event, pf_handler fn, void *udata)
{
	return emitter_add(em, event, fn, udata, HOOK_ONCE);
}

int
pf_off(struct pf_emitter *em, int event, pf_handler fn, void *udata)
{
	uint16_t	i;

	for (i = 0; i < em->n; i++) {
		struct pf_hook *h = &em->hooks[i];

		if (h->event != event || h->fn != fn || h->udata != udata ||
		    (h->flags & HOOK_DEAD))
			continue;
		hook_kill(em, h);
		if (em->depth == 0)
			emitter_sweep(em);
		return 0;
	}
	return -1;
}

void
pf_off_all(struct pf_emitter *em, int event)
{
	uint16_t	i;

	for (i = 0; i < em->n; i++) {
		struct pf_hook *h = &em->hooks[i];

		if ((event == -1 || h->event == event) &&
		    !(h->flags & HOOK_DEAD))
			hook_kill(em, h);
	}
	if (em->depth == 0)
		emitter_sweep(em);
}

int
pf_emit(struct pf_emitter *em, int event, const struct pf_event_arg *arg)
{
	static const struct pf_event_arg	 none;
	uint16_t				 i, n;
	int					 called = 0;

	if (!event_ok(event) || !(em->mask & (1u << event)))
		return 0;
	if (arg == NULL)
		arg = &none;
	em->depth++;
	n = em->n;
	/* em->hooks may move if a handler adds a hook: index, never cache. */
	for (i = 0; i < n; i++) {
		struct pf_hook	*h = &em->hooks[i];
		pf_handler	 fn;
		void		*udata;

		if (h->event != event || (h->flags & HOOK_DEAD))
			continue;
		fn = h->fn;
		udata = h->udata;
		if (h->flags & HOOK_ONCE)
			hook_kill(em, h);
		called++;
		fn(em->owner, arg, udata);
	}
	if (--em->depth == 0 && em->dead > 0)
		emitter_sweep(em);
	return called;
}

size_t
pf_listener_count(const struct pf_emitter *em, int event)
{
	size_t		count = 0;
	uint16_t	i;

	for (i = 0; i < em->n; i++) {
		if (em->hooks[i].event == event &&
		    !(em->hooks[i].flags & HOOK_DEAD))
			count++;
	}
	return count;
}
