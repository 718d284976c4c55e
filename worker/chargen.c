/*
 * chargen.c -- the character generator service (RFC 864, TCP): send lines
 * of the 95 printable ASCII characters until the client closes; whatever
 * it sends is discarded.  Line n is the 72 characters starting at the
 * (n mod 95)th printable one, wrapping from '~' to ' ', then CR LF.
 *
 * Backpressure is the point: the output is endless, so it is written in
 * batches only while pf_conn_write() says the queue is below the high
 * watermark, and resumes on "drain".  A batch is a run of whole lines
 * taken straight from a table built once, 95 + BATCH_LINES - 1 lines long,
 * so any starting line has a batch's worth after it: no per-event work but
 * the writes, and the queue never holds more than about two batches.
 *
 * A client on the same host can read about as fast as we write, and then
 * a write may not come back 0 for a long time.  So one turn writes at most
 * CHARGEN_BUDGET batches (1 MiB), then yields: pf_conn_yield() brings
 * "drain" back once the other ready connections have run.  chargen_fill()
 * may be called in any state: it writes only while the queue is below the
 * mark, so the queue stays under two batches.
 *
 * The position in the table is the connection's data pointer: nothing is
 * allocated per connection.
 */
#include <stddef.h>

#include "preforkd/preforkd.h"
#include "worker/service.h"

#define NPRINT		95			/* ' ' to '~' */
#define LINE_CHARS	72
#define LINE_LEN	(LINE_CHARS + 2)	/* with CR LF */
#define BATCH_LINES	(16384 / LINE_LEN)	/* 221 lines, 16354 bytes */
#define BATCH_LEN	((size_t)BATCH_LINES * LINE_LEN)
#define TABLE_LINES	(NPRINT - 1 + BATCH_LINES)
#define CHARGEN_BUDGET	64			/* batches per turn */

static char	table[TABLE_LINES * LINE_LEN];
static int	table_built;

static void
table_build(void)
{
	char	*p = table;
	int	 n, i;

	for (n = 0; n < TABLE_LINES; n++) {
		for (i = 0; i < LINE_CHARS; i++)
			*p++ = (char)(' ' + (n + i) % NPRINT);
		*p++ = '\r';
		*p++ = '\n';
	}
	table_built = 1;
}

/* Write batches until the queue is full, the budget spent or c failed. */
static void
chargen_fill(struct pf_conn *c)
{
	char	*next = pf_conn_get_data(c);
	size_t	 line;
	int	 i, rc = 1;

	if (pf_conn_buffered(c) >= BATCH_LEN)
		return;			/* "drain" is on its way */
	line = next == NULL ? 0 : (size_t)(next - table) / LINE_LEN;
	for (i = 0; i < CHARGEN_BUDGET && rc == 1; i++) {
		rc = pf_conn_write(c, table + line * LINE_LEN, BATCH_LEN);
		if (rc == -1)
			return;		/* ended or failed: close follows */
		/* Written or queued: either way the batch is ours no more. */
		line = (line + BATCH_LINES) % NPRINT;
	}
	pf_conn_set_data(c, table + line * LINE_LEN);
	/* rc == 0: "drain" follows.  rc == 1: the budget ran out. */
	if (rc == 1)
		pf_conn_yield(c);
}

static void
chargen_drain(void *conn, const struct pf_event_arg *ev, void *udata)
{
	chargen_fill(conn);
}

/* The stream has no end to reach: stop now, the worker is leaving. */
static void
chargen_shutdown(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_destroy(conn);
}

static void
chargen_connection(void *listener, const struct pf_event_arg *ev,
    void *udata)
{
	struct pf_conn	*c = ev->conn;

	if (pf_conn_on(c, PF_EV_DRAIN, chargen_drain, NULL) == -1 ||
	    pf_conn_on(c, PF_EV_SHUTDOWN, chargen_shutdown, NULL) == -1) {
		pf_conn_destroy(c);
		return;
	}
	/* At most one batch below the mark, one more on top of it. */
	pf_conn_set_high_water(c, BATCH_LEN);
	chargen_fill(c);
}

static int
chargen_init(struct pf_listener *l)
{
	if (!table_built)
		table_build();
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    chargen_connection, NULL);
}

const struct pf_service service_chargen = {
	.name = "chargen",
	.init = chargen_init,
};
