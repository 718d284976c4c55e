/*
 * emitter.h -- the event emitter behind connections, listeners, workers.
 *
 * The public operations (pf_on, pf_emit, ...) are declared in
 * preforkd/preforkd.h; this header gives the owners of an emitter its
 * layout so it can be embedded without an allocation of its own.
 */
#ifndef PF_EMITTER_H
#define PF_EMITTER_H

#include <stdint.h>

#include "preforkd/preforkd.h"

/* Live hooks an emitter holds at most (dead ones awaiting sweep aside). */
#define EMITTER_MAX_HOOKS	UINT16_MAX
/* Emits nested on one emitter at most: one more is refused, so the
 * counter never wraps (the stack runs out long before). */
#define EMITTER_MAX_DEPTH	UINT32_MAX

struct pf_hook {
	pf_handler		 fn;
	void			*udata;
	uint8_t			 event;
	uint8_t			 flags;
};

/*
 * What keeps an emitter's owner alive while one of its emits runs, for an
 * owner a handler may free (a connection): a count of the owner's, raised
 * for the whole of each emit (an emit that finds it at UINT32_MAX is
 * refused), and a function called when an emit brings it back to 0, once
 * the hooks are swept.  That function may free the owner and the emitter
 * in it: pf_emit touches neither afterwards.
 */
typedef void (*emitter_unpinned)(void *owner);

struct pf_emitter {
	struct pf_hook		*hooks;
	void			*owner;		/* "self" for handlers */
	uint32_t		*pins;		/* NULL: nothing to pin */
	emitter_unpinned	 unpinned;
	uint32_t		 mask;		/* events with a live hook */
	uint32_t		 n;		/* hooks in the array, dead too */
	uint32_t		 cap;
	uint32_t		 dead;		/* hooks awaiting sweep */
	uint32_t		 depth;		/* nested emits running */
	uint32_t		 floor;		/* hooks below may be walked */
};

void	emitter_init(struct pf_emitter *em, void *owner);
/* Pin the owner for every emit from now on: *pins is the owner's. */
void	emitter_set_pin(struct pf_emitter *em, uint32_t *pins,
	    emitter_unpinned unpinned);
/* Frees the hooks; the caller guarantees no emit is running. */
void	emitter_clear(struct pf_emitter *em);

#endif
