/*
 * discard.c -- the discard service (RFC 863): everything the client sends
 * is read and thrown away, nothing is ever written back.
 *
 * The connection layer already reads whatever arrives and, when the peer
 * half-closes, ends and closes the connection: with no "data" handler the
 * bytes are dropped.  The only thing left to decide is what to do when the
 * worker drains: send our FIN, so the client learns we are going away.
 */
#include "preforkd/preforkd.h"
#include "worker/service.h"

static void
discard_shutdown(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_end(conn);
}

static void
discard_connection(void *listener, const struct pf_event_arg *ev,
    void *udata)
{
	if (pf_conn_on(ev->conn, PF_EV_SHUTDOWN, discard_shutdown, NULL) == -1)
		pf_conn_destroy(ev->conn);
}

static int
discard_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    discard_connection, NULL);
}

const struct pf_service service_discard = {
	.name = "discard",
	.init = discard_init,
};
