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

struct pf_hook {
	pf_handler		 fn;
	void			*udata;
	uint8_t			 event;
	uint8_t			 flags;
};

struct pf_emitter {
	struct pf_hook		*hooks;
	void			*owner;		/* "self" for handlers */
	uint32_t		 mask;		/* events with a live hook */
	uint16_t		 n;
	uint16_t		 cap;
	uint16_t		 depth;		/* nested emits running */
	uint16_t		 dead;		/* hooks awaiting sweep */
};

void	emitter_init(struct pf_emitter *em, void *owner);
/* Frees the hooks; the caller guarantees no emit is running. */
void	emitter_clear(struct pf_emitter *em);

#endif
