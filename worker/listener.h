/*
 * listener.h -- a worker's accepting end of one listening socket.
 */
#ifndef PF_LISTENER_H
#define PF_LISTENER_H

#include <event2/event.h>

#include "common/emitter.h"
#include "worker/worker.h"

struct pf_listener {
	struct pf_emitter	 em;
	struct event		*ev;		/* accept readiness */
	struct event		*retry;		/* re-arm after EMFILE... */
	const struct listen_conf *conf;
	int			 fd;
	int			 tcp;		/* set TCP_NODELAY on accept */
	unsigned int		 backoff_ms;
};

struct pf_listener	*listener_new(const struct lsock *ls);
void			 listener_free(struct pf_listener *l);
int			 listener_start(struct pf_listener *l);
void			 listener_stop(struct pf_listener *l);

#endif
