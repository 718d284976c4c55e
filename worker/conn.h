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

/* Take ownership of an accepted fd, and of its per-address count (ref),
 * and emit "connection" on l; sa is the client as accept() gave it (kept
 * for the access log; NULL: unknown). */
void	conn_accepted(struct pf_listener *l, int fd,
	    const struct ipl_ref *ref, const struct sockaddr *sa,
	    socklen_t salen);
/* Idle timeouts and lingering closes; called periodically. */
void	conn_sweep(uint64_t now_ms);
/* Emit "shutdown" on every connection (from the loop). */
void	conn_shutdown_all(void);
/* Close every connection now (fast stop). */
void	conn_close_all(void);

#endif
