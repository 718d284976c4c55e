/*
 * conn.h -- connection objects inside the worker (the public methods are
 * in preforkd/preforkd.h).
 */
#ifndef PF_CONN_H
#define PF_CONN_H

#include <stdint.h>

#include "common/iplimit.h"

struct pf_listener;
struct wctx;

/* Take ownership of an accepted fd, and of its per-address count (ref),
 * and emit "connection" on l. */
void	conn_accepted(struct pf_listener *l, int fd,
	    const struct ipl_ref *ref);
/* Idle timeouts and lingering closes; called periodically. */
void	conn_sweep(struct wctx *w, uint64_t now_ms);
/* Emit "shutdown" on every connection (from the loop). */
void	conn_shutdown_all(struct wctx *w);
/* Close every connection now (fast stop). */
void	conn_close_all(struct wctx *w);

#endif
