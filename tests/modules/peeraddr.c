/*
 * peeraddr.c -- a test service: on connection it writes the peer's
 * address as the worker sees it ("127.0.0.2:40000\n") and ends.  Behind a
 * proxy that sends a PROXY header, that is the client's, not the proxy's.
 */
#include <sys/socket.h>

#include <string.h>

#include "preforkd/preforkd.h"

static void
peeraddr_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	char			buf[128];

	if (pf_conn_peer_addr(ev->conn, &ss, &len) == -1) {
		pf_conn_write(ev->conn, "?\n", 2);
	} else {
		pf_addr_str((struct sockaddr *)&ss, len, buf, sizeof(buf) - 1);
		strcat(buf, "\n");
		pf_conn_write(ev->conn, buf, strlen(buf));
	}
	pf_conn_end(ev->conn);
}

static int
peeraddr_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    peeraddr_connection, NULL);
}

PREFORKD_MODULE("peeraddr", peeraddr_init);
