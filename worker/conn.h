/*
 * conn.h -- connection objects inside the worker (the public methods are
 * in preforkd/preforkd.h).
 */
#ifndef PF_CONN_H
#define PF_CONN_H

#include <sys/socket.h>

#include <stdint.h>

#include "common/iplimit.h"

struct pf_listener;
struct wctx;

/* Take ownership of an accepted fd, and of its per-address count (ref),
 * and emit "connection" on l; sa is the client as accept() gave it (kept
 * for the access log; NULL: unknown). */
void	conn_accepted(struct pf_listener *l, int fd,
	    const struct ipl_ref *ref, const struct sockaddr *sa,
	    socklen_t salen);
/* pf_connect() on the worker w. */
struct pf_connect_opts;
struct pf_conn	*conn_connect(struct wctx *w, const struct pf_connect_opts *o);
/* Idle timeouts and lingering closes; called periodically. */
void	conn_sweep(struct wctx *w, uint64_t now_ms);
/* Emit "shutdown" on every connection (from the loop). */
void	conn_shutdown_all(struct wctx *w);
/* Close every connection now (fast stop). */
void	conn_close_all(struct wctx *w);

#endif
