/*
 * conninfo.c -- what a connection knows about itself: who the client is
 * (from the socket, or from the balancer's PROXY header, which this file
 * reads), the addresses and header records services ask for, its socket
 * options, its byte counters and the service's pointer.
 *
 * The header is peeked at (MSG_PEEK) into a block allocated with the
 * connection, so the client's bytes behind it stay in the kernel for its
 * first "data", and nothing is allocated or copied for it.  Every new
 * segment is a new edge, so a header split over several simply waits for
 * the next one, bounded by proxy_timeout (conn.c's sweep).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "worker/accesslog.h"
#include "worker/conn_state.h"
#include "worker/listener.h"

int
conn_proxy_take(struct pf_conn *c, short what, const char **why)
{
	struct conn_proxy	*pp = c->pp;
	ssize_t			 n;
	int			 hlen;

	if (what & EV_TIMEOUT) {
		*why = "no PROXY header in time";
		return -1;
	}
	do
		n = recv(c->fd, pp->raw, sizeof(pp->raw), MSG_PEEK);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN)
			return 0;
		*why = strerror(errno);
		return -1;
	}
	if (n == 0) {
		*why = "closed before its PROXY header";
		return -1;
	}
	if ((hlen = pp_parse(pp->raw, (size_t)n, &pp->hdr, why)) == 0) {
		if (!(what & EV_CLOSED) && (size_t)n < sizeof(pp->raw))
			return 0;
		*why = (what & EV_CLOSED) ? "closed within its PROXY header" :
		    "PROXY header too long";
		return -1;
	}
	if (hlen < 0)
		return -1;
	if (recv(c->fd, pp->raw, (size_t)hlen, 0) != hlen) {
		*why = "cannot take the PROXY header";
		return -1;
	}
	return 1;
}

/* The header's address if it carried one (not LOCAL, not UNSPEC). */
static int
conn_proxy_addr(const struct sockaddr_storage *from, socklen_t fromlen,
    struct sockaddr_storage *ss, socklen_t *len)
{
	if (fromlen == 0)
		return 0;
	memcpy(ss, from, fromlen);
	*len = fromlen;
	return 1;
}

int
pf_conn_peer_addr(const struct pf_conn *c, struct sockaddr_storage *ss,
    socklen_t *len)
{
	if (c->pp != NULL &&
	    conn_proxy_addr(&c->pp->hdr.src, c->pp->hdr.srclen, ss, len))
		return 0;
	*len = sizeof(*ss);
	return getpeername(c->fd, (struct sockaddr *)ss, len);
}

int
pf_conn_local_addr(const struct pf_conn *c, struct sockaddr_storage *ss,
    socklen_t *len)
{
	if (c->pp != NULL &&
	    conn_proxy_addr(&c->pp->hdr.dst, c->pp->hdr.dstlen, ss, len))
		return 0;
	*len = sizeof(*ss);
	return getsockname(c->fd, (struct sockaddr *)ss, len);
}

int
pf_conn_proxy_addr(const struct pf_conn *c, struct sockaddr_storage *ss,
    socklen_t *len)
{
	*len = sizeof(*ss);
	return getpeername(c->fd, (struct sockaddr *)ss, len);
}

const void *
pf_conn_proxy_tlv(const struct pf_conn *c, int type, size_t *len)
{
	const struct pp_tlv	*t;

	if (c->pp == NULL || (c->flags & C_PROXY))
		return NULL;
	switch (type) {
	case PF_PROXY_TLV_ALPN:
		t = &c->pp->hdr.alpn;
		break;
	case PF_PROXY_TLV_AUTHORITY:
		t = &c->pp->hdr.authority;
		break;
	case PF_PROXY_TLV_UNIQUE_ID:
		t = &c->pp->hdr.unique_id;
		break;
	default:
		return NULL;
	}
	if (t->off == 0)
		return NULL;
	*len = t->len;
	return c->pp->raw + t->off;
}

int
pf_conn_set_nodelay(struct pf_conn *c, int on)
{
	on = on != 0;
	return setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int
pf_conn_set_keepalive(struct pf_conn *c, int on, unsigned int idle_s)
{
	int	idle = (int)idle_s;

	on = on != 0;
	if (setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1)
		return -1;
	if (on && idle_s > 0 && setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE,
	    &idle, sizeof(idle)) == -1)
		return -1;
	return 0;
}

uint64_t
pf_conn_bytes_read(const struct pf_conn *c)
{
	return c->bytes_in;
}

uint64_t
pf_conn_bytes_written(const struct pf_conn *c)
{
	return c->bytes_out;
}

const char *
pf_addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char	host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(buf, size, "unix");
		break;
	default:
		snprintf(buf, size, "family %d", sa->sa_family);
		break;
	}
	(void)len;
	return buf;
}

const char *
pf_conn_str(const struct pf_conn *c, char *buf, size_t size)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	if (pf_conn_peer_addr(c, &ss, &len) == -1) {
		snprintf(buf, size, "fd %d", c->fd);
		return buf;
	}
	return pf_addr_str((struct sockaddr *)&ss, len, buf, size);
}

void *
pf_conn_get_data(const struct pf_conn *c)
{
	return c->data;
}

void
pf_conn_set_data(struct pf_conn *c, void *data)
{
	c->data = data;
}

int
pf_conn_fd(const struct pf_conn *c)
{
	return c->fd;
}

struct pf_listener *
pf_conn_listener(const struct pf_conn *c)
{
	return c->listener;
}

static struct conn_peer *
conn_peer(const struct pf_conn *c)
{
	return (struct conn_peer *)((char *)(c + 1) +
	    (c->pp != NULL ? sizeof(struct conn_proxy) : 0));
}

void
conn_keep_peer(struct pf_conn *c, const struct sockaddr *sa, socklen_t salen)
{
	struct conn_peer	*p = conn_peer(c);

	if (sa == NULL)
		return;
	p->len = salen <= sizeof(p->sa) ? salen : sizeof(sa_family_t);
	memcpy(&p->sa, sa, p->len);
}

/* The client as the PROXY header named it, or as accept() gave it. */
void
conn_alog(const struct pf_conn *c)
{
	struct alog_rec		 r = { 0 };
	const struct conn_peer	*p = conn_peer(c);

	r.listener = c->listener->conf->name;
	r.service = c->listener->conf->service;
	if (c->pp != NULL && c->pp->hdr.srclen > 0) {
		r.peer = (const struct sockaddr *)&c->pp->hdr.src;
		r.peerlen = c->pp->hdr.srclen;
	} else if (p->len > 0) {
		r.peer = (const struct sockaddr *)&p->sa;
		r.peerlen = p->len;
	}
	r.duration_ms = worker_now_ms() - c->start_ms;
	r.bytes_in = c->bytes_in;
	r.bytes_out = c->bytes_out;
	r.reason = c->why;
	accesslog_conn(c->w->alog, c->listener->conf, &r);
}
