/*
 * connect.c -- outbound connections (pf_connect): finding the address (a
 * name through libevent's evdns, without blocking the loop; numeric
 * addresses and Unix paths directly), the non-blocking connect and its
 * deadline.  Once connected, the connection is like an accepted one
 * (conn.c) and says so with a "connect" event; one that fails emits
 * "error", then "close".
 *
 * A pending name lookup holds the connection (busy), so its callback
 * never finds it freed; destroying the connection meanwhile cancels the
 * lookup, and the callback that follows lets it go.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "worker/conn.h"
#include "worker/conn_state.h"
#include "worker/worker.h"

#define CONNECT_TIMEOUT_MS	10000

static void
connect_to(struct pf_conn *c, const struct sockaddr *sa, socklen_t len)
{
	int	fd, r, on = 1;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		conn_fail(c, errno);
		return;
	}
	/* As on the listeners by default: a proxy must not add latency. */
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	/* Connect first, watch after: a socket in progress shows nothing
	 * until it is through, one watched before shows "hang-up". */
	r = connect(fd, sa, len);
	if (r == -1 && errno != EINPROGRESS && errno != EINTR) {
		r = errno;
		close(fd);
		conn_fail(c, r);
		return;
	}
	if (conn_attach(c, fd) == -1) {
		close(fd);
		conn_fail(c, ENOMEM);
		return;
	}
	if (r == 0)	/* a Unix socket may be through already */
		event_active(&c->ev, EV_WRITE, 0);
}

int
connect_result(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(int);
	int			err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	if (err != 0)
		return err;
	/* No error yet may also mean not through yet. */
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return errno == ENOTCONN ? EINPROGRESS : errno;
	return 0;
}

static void
connect_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct pf_conn	*c = arg;

	c->dns = NULL;
	if (err != EVUTIL_EAI_CANCEL && conn_live(c)) {
		if (err != 0 || ai == NULL) {
			c->errmsg = evutil_gai_strerror(err != 0 ? err :
			    EVUTIL_EAI_NONAME);
			conn_fail(c, EHOSTUNREACH);
		} else
			connect_to(c, ai->ai_addr, (socklen_t)ai->ai_addrlen);
	}
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	conn_release(c);
}

void
connect_cancel(struct pf_conn *c)
{
	struct evdns_getaddrinfo_request	*req = c->dns;

	c->dns = NULL;
	evdns_getaddrinfo_cancel(req);
}

static void
connect_resolve(struct pf_conn *c, const char *host, unsigned int port)
{
	struct evutil_addrinfo	 hints;
	char			 serv[8];

	if (c->w->dns == NULL && (c->w->dns = evdns_base_new(c->w->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		c->errmsg = "no name resolver (resolv.conf)";
		conn_fail(c, EHOSTUNREACH);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(serv, sizeof(serv), "%u", port);
	/* One hold for the lookup (its callback releases it), one for this
	 * call, in case the callback runs before evdns returns. */
	c->busy += 2;
	c->dns = evdns_getaddrinfo(c->w->dns, host, serv, &hints,
	    connect_resolved, c);
	conn_release(c);
}

struct pf_conn *
conn_connect(struct wctx *w, const struct pf_connect_opts *o)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un	*sun = (struct sockaddr_un *)&ss;
	struct pf_conn		*c;
	socklen_t		 len = 0;

	if (w->base == NULL || o == NULL || (o->path == NULL) ==
	    (o->host == NULL) || (o->host != NULL && (o->port == 0 ||
	    o->port > 65535 || o->host[0] == '\0')) || (o->path != NULL &&
	    strlen(o->path) >= sizeof(sun->sun_path))) {
		errno = EINVAL;
		return NULL;
	}
	memset(&ss, 0, sizeof(ss));
	if (o->path != NULL) {
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, o->path, strlen(o->path));
		len = sizeof(*sun);
	} else if (inet_pton(AF_INET, o->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)o->port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, o->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)o->port);
		len = sizeof(*sin6);
	}
	if ((c = conn_new(w, NULL, -1, 0)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->flags = C_OUTBOUND | C_CONNECTING;
	c->connect_ms = o->timeout_ms > 0 ? o->timeout_ms : CONNECT_TIMEOUT_MS;
	/* The sweep reads the coarse clock, which lags the exact one by a
	 * tick or more: started on the exact one, the deadline is never
	 * early, only late by that lag. */
	c->last_ms = clock_mono_us() / 1000;
	timed_update(c);
	w->stats.out_active++;
	/* Even a failure right away is reported from the loop, after the
	 * caller has had the chance to listen for it. */
	c->busy++;
	if (len > 0)
		connect_to(c, (struct sockaddr *)&ss, len);
	else
		connect_resolve(c, o->host, o->port);
	if (--c->busy == 0 && (c->flags & C_FAILED))
		event_active(&c->ev, EV_READ, 0);
	return c;
}
