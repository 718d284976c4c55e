/*
 * listener.h -- a worker's accepting end of one listening socket.
 */
#ifndef PF_LISTENER_H
#define PF_LISTENER_H

#include <event2/event.h>
#include <stdint.h>

#include "common/emitter.h"
#include "worker/worker.h"

struct pf_listener {
	struct pf_emitter	 em;
	struct wctx		*w;
	struct event		**ev;		/* accept readiness, per socket */
	uint8_t			*use;		/* accepting on ev[i] */
	int			 nev;
	int			 slot, nslots;
	int			 running;
	struct event		*retry;		/* re-arm after EMFILE... */
	const struct listen_conf *conf;
	unsigned int		 backoff_ms;
	uint64_t		 backoff_quiet_ms;	/* next log line */
	uint64_t		 quiet_until_ms;	/* refusals logged */
	unsigned int		 quieted;
};

/* The worker in slot `slot` of `nslots` accepts on its share of ls. */
struct pf_listener	*listener_new(struct wctx *w, const struct lsock *ls,
			    int slot, int nslots);
void			 listener_free(struct pf_listener *l);
int			 listener_start(struct pf_listener *l);
void			 listener_stop(struct pf_listener *l);
/* Draining: accept what is queued (sweep), then close this worker's
 * copies of the sockets; the listener accepts no more. */
void			 listener_release(struct pf_listener *l, int sweep);
/* The master retired the socket (it drops new SYNs): handshakes begun
 * before may still land in its queue. */
int			 listener_retired(const struct pf_listener *l);
/* Also accept (on) or no longer (off) on the sockets of another slot,
 * while its worker cannot. */
void			 listener_cover(struct pf_listener *l, int slot, int on);

#endif
