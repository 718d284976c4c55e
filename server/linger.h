/*
 * linger.h -- end a reply without losing it: the admin socket and the
 * stats listener both answer, then let the client close first.
 */
#ifndef PF_LINGER_H
#define PF_LINGER_H

struct bufferevent;
struct timeval;

/*
 * The reply is out: shut our sending side and read (discarding) until
 * the client closes, so that its unread request bytes cannot make our
 * close a reset that destroys the reply in flight.  tv, if not NULL,
 * bounds the wait.  -1 if the shutdown failed (free the client).
 */
int	bev_linger(struct bufferevent *bev, const struct timeval *tv);

#endif
