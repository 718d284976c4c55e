/*
 * peer.h -- one end of a control channel: an fd, framed input and output
 * buffers, an event, and a dispatch callback.
 */
#ifndef PF_PEER_H
#define PF_PEER_H

#include "common/ctl.h"

struct event_base;
struct peer;

/*
 * Called for every frame received, and once with m == NULL when the peer
 * is gone: EOF, a read or write error, or a malformed frame (reason says
 * which).  The callback may free the peer, also from inside a dispatch.
 */
typedef void (*peer_dispatch_fn)(struct peer *p, const struct ctl_msg *m,
    const char *reason, void *arg);

struct peer	*peer_new(struct event_base *base, int fd, peer_dispatch_fn fn,
		    void *arg);
/* Closes the fd; safe inside the peer's own dispatch. */
void		 peer_free(struct peer *p);
/* Queue a frame and try to send it now; -1 if it cannot be encoded or
 * queued (the peer is then reported gone from the loop). */
int		 peer_send(struct peer *p, const struct ctl_msg *m);
/* Send m with a copy of fd attached (SCM_RIGHTS); fd -1: plain send. */
int		 peer_send_fd(struct peer *p, const struct ctl_msg *m, int fd);
/* The descriptor that last arrived, now the caller's; -1 if none. */
int		 peer_take_fd(struct peer *p);
/* Read and dispatch, now, whatever has already arrived (the last frames
 * of a peer that is known to be gone); the callback may free p. */
void		 peer_read_pending(struct peer *p);
/* Write what is queued, blocking up to timeout_ms; for the last words. */
void		 peer_flush(struct peer *p, int timeout_ms);
/* Gone because it sent bytes that are not frames (not EOF or an error). */
int		 peer_malformed(const struct peer *p);

#endif
