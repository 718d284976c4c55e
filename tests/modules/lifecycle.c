/*
 * lifecycle.c -- a test module that logs every lifecycle event it can
 * hook: the master's spawn/online/exit/degraded, and each worker's
 * start/stop.  It serves echo.
 */
#include "preforkd/preforkd.h"

static void
lc_log(void *self, const struct pf_event_arg *ev, void *udata)
{
	pf_log(PF_LOG_INFO, "lifecycle: %s %d", (const char *)udata,
	    ev->code);
}

static void
lc_data(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_write(conn, ev->data, ev->len);
}

static void
lc_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_on(ev->conn, PF_EV_DATA, lc_data, NULL);
}

static int
lc_init(struct pf_listener *l)
{
	struct pf_emitter	*w = pf_worker_emitter();

	if (pf_on(w, PF_EV_START, lc_log, "worker start") == -1 ||
	    pf_on(w, PF_EV_STOP, lc_log, "worker stop") == -1)
		return -1;
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION, lc_connection,
	    NULL);
}

static int
lc_master_init(struct pf_emitter *m)
{
	if (pf_on(m, PF_EV_SPAWN, lc_log, "spawn") == -1 ||
	    pf_on(m, PF_EV_ONLINE, lc_log, "online") == -1 ||
	    pf_on(m, PF_EV_EXIT, lc_log, "exit") == -1 ||
	    pf_on(m, PF_EV_DEGRADED, lc_log, "degraded") == -1)
		return -1;
	return 0;
}

const struct pf_module preforkd_module = {
	.api_version = PREFORKD_API_VERSION,
	.service = { "lifecycle", lc_init },
	.master_init = lc_master_init,
};
