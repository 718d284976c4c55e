/*
 * emitter.c -- Node-style event emitter with integer event ids.
 *
 * Hooks live in one array in registration order.  While an emit is running
 * (depth > 0) the hooks it walks are never moved: removal marks a hook dead
 * and the sweep happens when the outermost emit returns.  An emit looks
 * only at the hooks that existed when it started, so a hook added
 * meanwhile first fires on the next emit.  A bit mask of events with live
 * hooks makes emitting an event nobody listens to nearly free.
 *
 * "floor" is at least the number of hooks the running emits look at (the
 * largest snapshot taken since the outermost started).  Hooks above it
 * were added during the emits and nobody walks them, so when the array is
 * full the dead ones there are compacted away instead of growing it:
 * on/off churn inside one emit takes bounded memory, and only live hooks
 * count toward the cap.
 *
 * The nesting depth is 32 bits, and an emit that would take it past
 * EMITTER_MAX_DEPTH is refused: it cannot wrap to 0 and sweep (free) the
 * array under the emits still running.  An owner that a handler may free
 * (a connection) sets a pin: a count of its own, raised for the whole of
 * each emit, with a function to call when an emit brings it back to 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/emitter.h"

#define HOOK_ONCE	0x01
#define HOOK_DEAD	0x02

_Static_assert(PF_EV_MAX_ <= 32, "event ids must fit the 32-bit mask");
_Static_assert(EMITTER_MAX_HOOKS <= INT32_MAX,
    "pf_emit returns how many hooks it called as an int");

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
emitter_set_pin(struct pf_emitter *em, uint32_t *pins,
    emitter_unpinned unpinned)
{
	em->pins = pins;
	em->unpinned = unpinned;
}

void
emitter_clear(struct pf_emitter *em)
{
	free(em->hooks);
	em->hooks = NULL;
	em->n = em->cap = em->dead = em->floor = 0;
	em->mask = 0;
}

/* Drop the dead hooks at and above index from (nobody walks them). */
static void
emitter_compact(struct pf_emitter *em, uint32_t from)
{
	uint32_t	i, j;

	for (i = j = from; i < em->n; i++) {
		if (em->hooks[i].flags & HOOK_DEAD) {
			em->dead--;
			continue;
		}
		if (i != j)
			em->hooks[j] = em->hooks[i];
		j++;
	}
	em->n = j;
}

/* No emit running: compact everything and rebuild the mask. */
static void
emitter_sweep(struct pf_emitter *em)
{
	uint32_t	i;

	emitter_compact(em, 0);
	em->mask = 0;
	for (i = 0; i < em->n; i++)
		em->mask |= 1u << em->hooks[i].event;
	if (em->n == 0)
		emitter_clear(em);
}

static void
hook_kill(struct pf_emitter *em, struct pf_hook *h)
{
	h->flags |= HOOK_DEAD;
	em->dead++;
}

/*
 * The array is full: reclaim the dead hooks no emit is walking, and grow
 * unless that left a quarter free (so the scan is amortised).
 */
static int
emitter_make_room(struct pf_emitter *em)
{
	struct pf_hook	*nh;
	uint32_t	 ncap;

	if (em->dead > 0 && em->floor < em->n)
		emitter_compact(em, em->floor);
	if (em->n < em->cap && em->cap - em->n >= em->cap / 4)
		return 0;
	if (em->cap > UINT32_MAX / 2 ||
	    (size_t)em->cap * 2 > SIZE_MAX / sizeof(*nh)) {
		errno = ENOMEM;
		return -1;
	}
	/* Four at first: a connection's service has a few handlers (a
	 * proxied one five: a pipe each way), each growth is a realloc. */
	ncap = em->cap == 0 ? 4 : em->cap * 2;
	if ((nh = realloc(em->hooks, (size_t)ncap * sizeof(*nh))) == NULL)
		return -1;
	em->hooks = nh;
	em->cap = ncap;
	return 0;
}

static int
emitter_add(struct pf_emitter *em, int event, pf_handler fn, void *udata,
    uint8_t flags)
{
	struct pf_hook	*h;

	if (!event_ok(event) || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (em->n - em->dead >= EMITTER_MAX_HOOKS) {
		errno = ENOSPC;
		return -1;
	}
	if (em->n == em->cap && emitter_make_room(em) == -1)
		return -1;
	h = &em->hooks[em->n++];
	h->fn = fn;
	h->udata = udata;
	h->event = (uint8_t)event;
	h->flags = flags;
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
	uint32_t	i;

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
	uint32_t	i;

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
	uint32_t				 i, n;
	int					 called = 0;

	if (!event_ok(event) || !(em->mask & (1u << event)))
		return 0;
	if (em->depth == EMITTER_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	if (em->pins != NULL) {
		if (*em->pins == UINT32_MAX) {
			errno = ELOOP;
			return -1;
		}
		++*em->pins;
	}
	if (arg == NULL)
		arg = &none;
	em->depth++;
	n = em->n;
	/* Never lowered before the outermost returns: safe, if cautious. */
	if (em->floor < n)
		em->floor = n;
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
	if (--em->depth == 0) {
		em->floor = 0;
		if (em->dead > 0)
			emitter_sweep(em);
	}
	/* Last: this may free the owner, and em with it. */
	if (em->pins != NULL && --*em->pins == 0)
		em->unpinned(em->owner);
	return called;
}

size_t
pf_listener_count(const struct pf_emitter *em, int event)
{
	size_t		count = 0;
	uint32_t	i;

	for (i = 0; i < em->n; i++) {
		if (em->hooks[i].event == event &&
		    !(em->hooks[i].flags & HOOK_DEAD))
			count++;
	}
	return count;
}
