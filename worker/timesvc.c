/*
 * timesvc.c -- the time service (RFC 868, TCP): on connection, send the
 * time as a 32-bit unsigned big-endian number of seconds since 1900-01-01
 * 00:00 UTC, then end the connection.
 *
 * Unix time plus the 70 years (17 of them leap) between the two epochs,
 * modulo 2^32: the counter wraps in 2036 and RFC 868 says nothing more.
 * Anything the client sends is discarded.
 */
#include <stdint.h>
#include <time.h>

#include "preforkd/preforkd.h"
#include "worker/service.h"

#define EPOCH_1900_TO_1970	2208988800U

static void
time_connection(void *listener, const struct pf_event_arg *ev, void *udata)
{
	unsigned char	buf[4];
	uint32_t	t;

	/* Conversion to an unsigned type is modulo 2^32, sign or not. */
	t = (uint32_t)time(NULL) + EPOCH_1900_TO_1970;
	buf[0] = (unsigned char)(t >> 24);
	buf[1] = (unsigned char)(t >> 16);
	buf[2] = (unsigned char)(t >> 8);
	buf[3] = (unsigned char)t;
	/* On failure the connection closes by itself; end is then a no-op. */
	pf_conn_write(ev->conn, buf, sizeof(buf));
	pf_conn_end(ev->conn);
}

static int
time_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    time_connection, NULL);
}

const struct pf_service service_time = {
	.name = "time",
	.init = time_init,
};
