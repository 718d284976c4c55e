/*
 * linger.c -- end a reply without losing it (see linger.h).
 */
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent.h>

#include "server/linger.h"

int
bev_linger(struct bufferevent *bev, const struct timeval *tv)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (shutdown(bufferevent_getfd(bev), SHUT_WR) == -1)
		return -1;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	if (tv != NULL)
		bufferevent_set_timeouts(bev, tv, NULL);
	return bufferevent_enable(bev, EV_READ);
}
