/*
 * flood.c -- a test service that ignores backpressure: on connection it
 * writes 8 MiB regardless of what pf_conn_write says, to exercise the
 * listener's max_output_buffer hard cap.
 */
#include "preforkd/preforkd.h"

static char	chunk[64 * 1024];

static void
flood_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	int	i;

	for (i = 0; i < 128; i++) {
		if (pf_conn_write(ev->conn, chunk, sizeof(chunk)) == -1)
			break;	/* over the cap: the connection is failing */
	}
}

static int
flood_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    flood_connection, NULL);
}

PREFORKD_MODULE("flood", flood_init);
