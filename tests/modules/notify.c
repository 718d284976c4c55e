/*
 * notify.c -- a test service: echo, and on "shutdown" (the worker is
 * draining) it tells the client so with a line "shutdown".
 */
#include "preforkd/preforkd.h"

static void
notify_data(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_write(conn, ev->data, ev->len);
}

static void
notify_shutdown(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_write(conn, "shutdown\n", 9);
}

static void
notify_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_on(ev->conn, PF_EV_DATA, notify_data, NULL);
	pf_conn_on(ev->conn, PF_EV_SHUTDOWN, notify_shutdown, NULL);
}

static int
notify_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    notify_connection, NULL);
}

PREFORKD_MODULE("notify", notify_init);
