/*
 * echo.c -- the echo service (RFC 862), written only against the public
 * connection API, as the example of how a service is built.
 *
 * Backpressure as in Node's stream.pipe(): when write() says the peer is
 * not keeping up, stop reading until "drain"; memory stays bounded however
 * fast the client sends and however slowly it reads.
 */
#include "preforkd/preforkd.h"
#include "worker/service.h"

static void
echo_drain(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_resume(conn);
}

static void
echo_data(void *conn, const struct pf_event_arg *ev, void *udata)
{
	if (pf_conn_write(conn, ev->data, ev->len) == 0)
		pf_conn_pause(conn);
}

static void
echo_connection(void *listener, const struct pf_event_arg *ev, void *udata)
{
	if (pf_conn_on(ev->conn, PF_EV_DATA, echo_data, NULL) == -1 ||
	    pf_conn_on(ev->conn, PF_EV_DRAIN, echo_drain, NULL) == -1)
		pf_conn_destroy(ev->conn);
}

static int
echo_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    echo_connection, NULL);
}

const struct pf_service service_echo = {
	.name = "echo",
	.init = echo_init,
};
