/*
 * timers.c -- a test service for the worker's timers.  On connection it
 * sets a 50 ms timeout that writes "tick\n" and a 100 ms interval that
 * writes "tock\n" three times, then clears itself and ends the
 * connection.  A line "forget\n" sets two timers it never clears (a one-
 * hour timeout and a 10 ms interval), as does init (a 1 s interval), and
 * is answered "ok\n": the worker must free them when it stops.  "hush\n"
 * clears the connection's tick and tock, answered "hushed\n".  On
 * "shutdown" it says "bye\n" and ends.
 */
#include <stdlib.h>
#include <string.h>

#include "preforkd/preforkd.h"

struct state {
	struct pf_conn	*conn;
	struct pf_timer	*tick;
	struct pf_timer	*tock;
	int		 tocks;
};

static void
on_tick(struct pf_timer *t, void *udata)
{
	struct state	*st = udata;

	st->tick = NULL;	/* a one-shot is freed when this returns */
	pf_conn_write(st->conn, "tick\n", 5);
}

static void
on_tock(struct pf_timer *t, void *udata)
{
	struct state	*st = udata;

	pf_conn_write(st->conn, "tock\n", 5);
	if (++st->tocks == 3) {
		pf_clear_timer(t);
		st->tock = NULL;
		pf_conn_end(st->conn);
	}
}

static void
on_nothing(struct pf_timer *t, void *udata)
{
}

static void
on_data(void *conn, const struct pf_event_arg *ev, void *udata)
{
	struct state	*st = udata;

	if (ev->len >= 4 && memcmp(ev->data, "hush", 4) == 0) {
		pf_clear_timer(st->tick);
		pf_clear_timer(st->tock);
		st->tick = st->tock = NULL;
		pf_conn_write(conn, "hushed\n", 7);
	} else if (ev->len >= 6 && memcmp(ev->data, "forget", 6) == 0) {
		if (pf_set_timeout(3600 * 1000, on_nothing, NULL) == NULL ||
		    pf_set_interval(10, on_nothing, NULL) == NULL) {
			pf_conn_destroy(conn);
			return;
		}
		pf_conn_write(conn, "ok\n", 3);
	}
}

static void
on_shutdown(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_write(conn, "bye\n", 4);
	pf_conn_end(conn);
}

static void
on_close(void *conn, const struct pf_event_arg *ev, void *udata)
{
	struct state	*st = udata;

	pf_clear_timer(st->tick);
	pf_clear_timer(st->tock);
	free(st);
}

static void
on_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	struct state	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		pf_conn_destroy(ev->conn);
		return;
	}
	st->conn = ev->conn;
	if (pf_conn_on(ev->conn, PF_EV_CLOSE, on_close, st) == -1) {
		free(st);
		pf_conn_destroy(ev->conn);
		return;
	}
	if ((st->tick = pf_set_timeout(50, on_tick, st)) == NULL ||
	    (st->tock = pf_set_interval(100, on_tock, st)) == NULL ||
	    pf_conn_on(ev->conn, PF_EV_DATA, on_data, st) == -1 ||
	    pf_conn_on(ev->conn, PF_EV_SHUTDOWN, on_shutdown, NULL) == -1) {
		pf_log(PF_LOG_WARN, "timers: cannot set up a connection");
		pf_conn_destroy(ev->conn);
	}
}

static int
timers_init(struct pf_listener *l)
{
	if (pf_set_interval(1000, on_nothing, NULL) == NULL)
		return -1;
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION, on_connection,
	    NULL);
}

PREFORKD_MODULE("timers", timers_init);
