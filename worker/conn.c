/*
 * conn.c -- one client connection: reading, writing, ending, closing, and
 * the events it emits to its service.
 *
 * A connection is one struct with its event embedded: a single edge-
 * triggered event for read and write readiness, so nothing is re-armed per
 * read.  Reads go into one per-worker buffer; a write goes straight to the
 * socket and only what the kernel refuses is queued (in an evbuffer that
 * exists only while something is queued, so idle connections hold no
 * buffer).  Idle timeouts compare a last-activity stamp in a periodic sweep
 * instead of re-arming a timer per read.
 *
 * On a PROXY listener the connection first waits for the balancer's
 * header, peeking at the socket (the bytes after the header stay in the
 * kernel for the first "data"), in a block allocated with the connection:
 * no allocation, copy or extra read on the way.  Only once the header has
 * said who the client is are the listener's rules applied and the service
 * told; until then nothing is emitted on the connection.
 *
 * Handlers may end, destroy or write to the connection from inside any of
 * its events: "busy" counts the dispatches and emits running on the
 * connection (every pf_emit on its emitter pins it, whoever calls it), and
 * the teardown waits until the outermost one returns.  Errors found while
 * writing are likewise reported from the loop, never from inside write.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/emitter.h"
#include "common/log.h"
#include "common/proxyproto.h"
#include "worker/accesslog.h"
#include "worker/admit.h"
#include "worker/conn.h"
#include "worker/listener.h"
#include "worker/worker.h"

#define CONN_READ_SIZE		(64 * 1024)
#define CONN_READS_PER_EVENT	4	/* then yield to other connections */
#define CONN_HIGH_WATER		(64 * 1024)
#define CONN_LINGER_MS		5000	/* wait for the peer's FIN after ours */

#define C_PAUSED	0x0001
#define C_READ_PENDING	0x0002	/* readable while paused */
#define C_READ_EOF	0x0004	/* the peer sent FIN */
#define C_ENDING	0x0008	/* end(): FIN once the queue is flushed */
#define C_WR_SHUT	0x0010	/* our FIN is sent */
#define C_FAILED	0x0020	/* error pending, reported from the loop */
#define C_CLOSED	0x0040	/* teardown requested */
#define C_HALF_OPEN	0x0080
#define C_NEED_DRAIN	0x0100	/* write() returned 0: emit drain */
#define C_TIMED_OUT	0x0200	/* timeout emitted since last activity */
#define C_TIMED		0x0400	/* on the timed list */
#define C_HAD_ERROR	0x0800
#define C_IDLE		0x1000	/* idle_timeout passed: close */
#define C_YIELD		0x2000	/* pf_conn_yield(): "drain" next turn */
#define C_PROXY		0x4000	/* awaiting the PROXY header: not announced */
#define C_ANNOUNCED	0x8000	/* "connection" emitted (refused: never) */

/* The client's address from accept(), kept (after the PROXY block, if
 * any) only when the listener has an access log: a reset connection has
 * no peer name left to ask for.  A named Unix peer keeps its family. */
struct conn_peer {
	socklen_t		len;
	struct sockaddr_in6	sa;
};

/* What a PROXY header said; the TLVs kept point into raw. */
struct conn_proxy {
	struct pp_header	hdr;
	uint8_t			raw[PP_HEADER_MAX];
};

struct pf_conn {
	struct pf_emitter	 em;
	struct event		 ev;
	TAILQ_ENTRY(pf_conn)	 entry;		/* every connection */
	TAILQ_ENTRY(pf_conn)	 timed_entry;	/* timeout or lingering */
	struct pf_listener	*listener;
	struct evbuffer		*out;		/* NULL while nothing queued */
	void			*data;
	struct conn_proxy	*pp;		/* PROXY listener, else NULL */
	const char		*why;		/* why it closed */
	uint64_t		 start_ms;
	uint64_t		 last_ms;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint32_t		 timeout_ms;
	uint32_t		 high_water;
	int			 fd;
	int			 err;
	uint32_t		 flags;
	uint32_t		 busy;		/* dispatches and emits running */
	struct ipl_ref		 ipl;		/* per-address count */
};

TAILQ_HEAD(conn_list, pf_conn);

static struct conn_list	conns = TAILQ_HEAD_INITIALIZER(conns);
static struct conn_list	timed = TAILQ_HEAD_INITIALIZER(timed);
static char		rbuf[CONN_READ_SIZE];

static void	conn_cb(evutil_socket_t, short, void *);
static void	conn_close(struct pf_conn *, int, const char *);
static void	conn_release(struct pf_conn *);
static void	conn_shutdown_write(struct pf_conn *);
static void	conn_unpinned(void *);

static void
timed_update(struct pf_conn *c)
{
	int	want = !(c->flags & C_CLOSED) && (c->timeout_ms > 0 ||
		    c->listener->conf->idle_timeout_ms > 0 ||
		    ((c->flags & C_WR_SHUT) && !(c->flags & C_READ_EOF)));

	if (want && !(c->flags & C_TIMED)) {
		TAILQ_INSERT_TAIL(&timed, c, timed_entry);
		c->flags |= C_TIMED;
	} else if (!want && (c->flags & C_TIMED)) {
		TAILQ_REMOVE(&timed, c, timed_entry);
		c->flags &= ~C_TIMED;
	}
}

static void
conn_touch(struct pf_conn *c)
{
	c->last_ms = worker_now_ms();
	c->flags &= ~C_TIMED_OUT;
}

/* Tell the listener's service: from now on the connection is its. */
static void
conn_announce(struct pf_conn *c)
{
	struct pf_event_arg	arg = { 0 };

	worker_stats.conns_total++;
	c->flags |= C_ANNOUNCED;
	c->busy++;
	arg.conn = c;
	pf_emit(&c->listener->em, PF_EV_CONNECTION, &arg);
	conn_release(c);
}

static struct conn_peer *
conn_peer(const struct pf_conn *c)
{
	return (struct conn_peer *)((char *)(c + 1) +
	    (c->pp != NULL ? sizeof(struct conn_proxy) : 0));
}

/* c's line in the access log: the client as the PROXY header gave it, or
 * as accept() did. */
static void
conn_alog(struct pf_conn *c)
{
	struct alog_rec		 r = { 0 };
	struct conn_peer	*p = conn_peer(c);

	r.listener = c->listener->conf->name;
	r.service = c->listener->conf->service;
	if (c->pp != NULL && c->pp->hdr.srclen > 0) {
		r.peer = (struct sockaddr *)&c->pp->hdr.src;
		r.peerlen = c->pp->hdr.srclen;
	} else if (p->len > 0) {
		r.peer = (struct sockaddr *)&p->sa;
		r.peerlen = p->len;
	}
	r.duration_ms = worker_now_ms() - c->start_ms;
	r.bytes_in = c->bytes_in;
	r.bytes_out = c->bytes_out;
	r.reason = c->why;
	accesslog_conn(c->listener->conf, &r);
}

void
conn_accepted(struct pf_listener *l, int fd, const struct ipl_ref *ref,
    const struct sockaddr *sa, socklen_t salen)
{
	struct pf_conn	*c;
	size_t		 size = sizeof(*c);

	if (ref == NULL)
		size += sizeof(struct conn_proxy);
	if (l->conf->alog_file != NULL)
		size += sizeof(struct conn_peer);
	if ((c = calloc(1, size)) == NULL) {
		log_warn("accept on %s: connection", l->conf->name);
		goto err;
	}
	if (ref != NULL)
		c->ipl = *ref;
	else {
		c->ipl.idx[0] = c->ipl.idx[1] = UINT16_MAX;
		c->pp = (struct conn_proxy *)(c + 1);
		c->flags = C_PROXY;
		c->timeout_ms = l->conf->proxy_timeout_ms;
	}
	if (l->conf->alog_file != NULL && sa != NULL) {
		conn_peer(c)->len = salen <= sizeof(conn_peer(c)->sa) ? salen :
		    sizeof(sa_family_t);
		memcpy(&conn_peer(c)->sa, sa, conn_peer(c)->len);
	}
	emitter_init(&c->em, c);
	/* Any emit on c, whoever makes it, holds c (busy) until it ends. */
	emitter_set_pin(&c->em, &c->busy, conn_unpinned);
	c->fd = fd;
	c->listener = l;
	c->high_water = CONN_HIGH_WATER;
	if (c->high_water > (uint32_t)l->conf->max_output)
		c->high_water = l->conf->max_output;
	event_assign(&c->ev, worker_base(), fd,
	    EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, conn_cb, c);
	if (event_add(&c->ev, NULL) == -1) {
		log_warnx("accept on %s: cannot add event for fd %d",
		    l->conf->name, fd);
		free(c);
		goto err;
	}
	conn_touch(c);
	c->start_ms = c->last_ms;
	timed_update(c);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	worker_stats.conns_active++;
	if (ref != NULL)
		conn_announce(c);
	return;
err:
	worker_stats.errors++;
	if (ref != NULL)
		iplimit_release(ref);
	close(fd);
}

/* The one teardown: events off, unlinked, "close" emitted, memory freed. */
static void
conn_teardown(struct pf_conn *c)
{
	struct pf_event_arg	arg = { 0 };

	if ((c->flags & C_ANNOUNCED) && c->listener->conf->alog_file != NULL)
		conn_alog(c);
	/* Closing first makes the kernel side of event_del a cheap EBADF. */
	close(c->fd);
	event_del(&c->ev);
	TAILQ_REMOVE(&conns, c, entry);
	if (c->flags & C_TIMED)
		TAILQ_REMOVE(&timed, c, timed_entry);
	c->flags &= ~C_TIMED;
	worker_stats.conns_active--;
	iplimit_release(&c->ipl);
	worker_conn_closed();

	/* Never announced, never closed for the service. */
	if (!(c->flags & C_PROXY)) {
		arg.code = (c->flags & C_HAD_ERROR) != 0;
		c->busy++;
		pf_emit(&c->em, PF_EV_CLOSE, &arg);
	}
	emitter_clear(&c->em);
	if (c->out != NULL)
		evbuffer_free(c->out);
	free(c);
}

static void
conn_report_error(struct pf_conn *c)
{
	struct pf_event_arg	arg = { 0 };
	char			peer[128];

	arg.code = c->err;
	arg.msg = strerror(c->err);
	worker_stats.errors++;
	c->flags |= C_HAD_ERROR;
	if (pf_emit(&c->em, PF_EV_ERROR, &arg) > 0)
		return;
	/* Nobody listens: the default is to log it; the close follows. */
	pf_conn_str(c, peer, sizeof(peer));
	if (c->err == ECONNRESET || c->err == EPIPE || c->err == ETIMEDOUT)
		log_debug("connection %s: %s", peer, arg.msg);
	else
		log_warnx("connection %s: %s", peer, arg.msg);
}

/* Leave a dispatch; the outermost one carries out a pending error/close. */
static void
conn_release(struct pf_conn *c)
{
	if (c->busy > 1) {
		c->busy--;
		return;
	}
	if ((c->flags & (C_FAILED | C_CLOSED)) == C_FAILED) {
		conn_report_error(c);
		c->flags |= C_CLOSED;
		c->why = c->err == ECONNRESET || c->err == EPIPE ? "reset" :
		    c->err == ENOBUFS ? "cap" : c->err == ETIMEDOUT ?
		    "timeout" : "error";
	}
	c->busy--;
	if (c->flags & C_CLOSED)
		conn_teardown(c);
}

/*
 * busy is back to 0 at the end of an emit on c made outside c's own
 * dispatches (those hold c themselves): by a handler of another
 * connection, of a listener, of a timer.  A destroy asked for meanwhile is
 * carried out now, as it would have been without the emit; an error is
 * reported from the loop, as conn_fail() would have.
 */
static void
conn_unpinned(void *owner)
{
	struct pf_conn	*c = owner;

	if (c->flags & C_CLOSED)
		conn_teardown(c);
	else if (c->flags & C_FAILED)
		event_active(&c->ev, EV_READ, 0);
}

static void
conn_close(struct pf_conn *c, int had_error, const char *why)
{
	if (c->flags & C_CLOSED)
		return;
	c->flags |= C_CLOSED | (had_error ? C_HAD_ERROR : 0);
	c->why = why;
	if (c->busy == 0)
		conn_teardown(c);
}

/* Record an error; it is emitted from the loop, then the conn closes. */
static void
conn_fail(struct pf_conn *c, int err)
{
	if (c->flags & (C_FAILED | C_CLOSED))
		return;
	c->err = err;
	c->flags |= C_FAILED;
	if (c->busy == 0)
		event_active(&c->ev, EV_READ, 0);
}

/*
 * A short read normally means the socket is drained and the next edge will
 * say when there is more.  Not so when a FIN is already queued behind the
 * data (EV_CLOSED), or after a pause: then read on to EAGAIN or EOF.
 */
static void
conn_read(struct pf_conn *c, int to_eagain)
{
	struct pf_event_arg	arg = { 0 };
	ssize_t			n;
	int			i;

	for (i = 0; i < CONN_READS_PER_EVENT; i++) {
		if (c->flags & (C_PAUSED | C_READ_EOF | C_FAILED | C_CLOSED)) {
			if (c->flags & C_PAUSED)
				c->flags |= C_READ_PENDING;
			return;
		}
		n = read(c->fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			worker_stats.bytes_in += n;
			c->bytes_in += n;
			/* After our FIN, a trickle must not hold the linger. */
			if (!(c->flags & C_WR_SHUT))
				conn_touch(c);
			arg.data = rbuf;
			arg.len = n;
			pf_emit(&c->em, PF_EV_DATA, &arg);
			if ((size_t)n < sizeof(rbuf) && !to_eagain)
				return;
			continue;
		}
		if (n == 0) {
			c->flags |= C_READ_EOF;
			timed_update(c);
			pf_emit(&c->em, PF_EV_END, NULL);
			if (c->flags & C_WR_SHUT)
				conn_close(c, 0, "end");
			else if (!(c->flags & C_HALF_OPEN))
				pf_conn_end(c);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			conn_fail(c, errno);
		return;
	}
	/* Still more to read: come back after the other connections. */
	event_active(&c->ev, EV_READ | (to_eagain ? EV_CLOSED : 0), 0);
}

static void
conn_flush(struct pf_conn *c)
{
	int	n;

	/*
	 * Until EAGAIN: a short write need not mean the socket is full
	 * (evbuffer_write sends at most 128 chunks), and with edge-triggered
	 * events no new edge comes unless it really filled up.
	 */
	while (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_fail(c, errno);
			return;
		}
		worker_stats.bytes_out += n;
		c->bytes_out += n;
		conn_touch(c);
	}
	evbuffer_free(c->out);
	c->out = NULL;
	if (c->flags & C_NEED_DRAIN) {
		c->flags &= ~C_NEED_DRAIN;
		pf_emit(&c->em, PF_EV_DRAIN, NULL);
	}
	if ((c->flags & (C_ENDING | C_WR_SHUT)) == C_ENDING && c->out == NULL)
		conn_shutdown_write(c);
}

static int
conn_live(const struct pf_conn *c)
{
	return !(c->flags & (C_FAILED | C_CLOSED));
}

/* The sweep found c idle: end a lingering close, or tell the service. */
static void
conn_timeout(struct pf_conn *c)
{
	if ((c->flags & (C_WR_SHUT | C_READ_EOF)) == C_WR_SHUT)
		conn_close(c, 0, "timeout");	/* no FIN after ours */
	else {
		pf_emit(&c->em, PF_EV_TIMEOUT, NULL);
		if (c->flags & C_IDLE)	/* idle_timeout: not an error */
			conn_close(c, 0, "idle");
	}
}

/*
 * The balancer's header, read without taking the client's bytes: peek,
 * parse what is there, and once it is whole take exactly the header off
 * the socket.  Every new segment is a new edge, so an incomplete header
 * simply waits for the next one, bounded by proxy_timeout.
 */
static void
conn_proxy_read(struct pf_conn *c, short what)
{
	struct conn_proxy	*pp = c->pp;
	struct sockaddr_storage	 ss;
	struct ipl_ref		 ref;
	const char		*why = NULL;
	socklen_t		 len;
	ssize_t			 n;
	int			 hlen;

	if (what & EV_TIMEOUT) {
		why = "no PROXY header in time";
		goto drop;
	}
	do
		n = recv(c->fd, pp->raw, sizeof(pp->raw), MSG_PEEK);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN)
			return;
		why = strerror(errno);
		goto drop;
	}
	if (n == 0) {
		why = "closed before its PROXY header";
		goto drop;
	}
	if ((hlen = pp_parse(pp->raw, (size_t)n, &pp->hdr, &why)) == 0) {
		if (!(what & EV_CLOSED) && (size_t)n < sizeof(pp->raw))
			return;
		why = (what & EV_CLOSED) ? "closed within its PROXY header" :
		    "PROXY header too long";
		goto drop;
	}
	if (hlen < 0)
		goto drop;
	if (recv(c->fd, pp->raw, (size_t)hlen, 0) != hlen) {
		why = "cannot take the PROXY header";
		goto drop;
	}
	c->flags &= ~C_PROXY;
	c->timeout_ms = 0;
	conn_touch(c);
	timed_update(c);
	if (pf_conn_peer_addr(c, &ss, &len) == -1) {
		why = "no client address";
		goto drop;
	}
	if (admit_client(c->listener, (struct sockaddr *)&ss, len,
	    &ref) == -1) {
		conn_close(c, 0, "refused");
		return;
	}
	c->ipl = ref;
	conn_announce(c);
	/* The client's first bytes may have come with the header. */
	conn_read(c, 1);
	return;
drop:
	len = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == -1) {
		ss.ss_family = AF_UNSPEC;
		len = sizeof(ss.ss_family);
	}
	admit_refused(c->listener, (struct sockaddr *)&ss, len, why, 1);
	conn_close(c, 0, why);
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pf_conn	*c = arg;

	c->busy++;
	if (c->flags & C_PROXY) {
		if ((what & (EV_READ | EV_CLOSED | EV_TIMEOUT)) && conn_live(c))
			conn_proxy_read(c, what);
		conn_release(c);
		return;
	}
	/* Each step may close c: check again before the next one. */
	if ((what & EV_TIMEOUT) && conn_live(c))
		conn_timeout(c);
	if ((what & EV_SIGNAL) && conn_live(c))	/* conn_shutdown_all */
		pf_emit(&c->em, PF_EV_SHUTDOWN, NULL);
	if ((what & EV_WRITE) && c->out != NULL && conn_live(c))
		conn_flush(c);
	if ((c->flags & C_YIELD) && conn_live(c)) {
		c->flags &= ~C_YIELD;
		pf_emit(&c->em, PF_EV_DRAIN, NULL);
	}
	if ((what & (EV_READ | EV_CLOSED)) && conn_live(c))
		conn_read(c, (what & EV_CLOSED) != 0);
	conn_release(c);
}

static void
conn_shutdown_write(struct pf_conn *c)
{
	c->flags |= C_WR_SHUT;
	if (shutdown(c->fd, SHUT_WR) == -1 && errno != ENOTCONN) {
		conn_fail(c, errno);
		return;
	}
	if (c->flags & C_READ_EOF) {
		conn_close(c, 0, "end");
		return;
	}
	/* Wait for the peer's FIN, bounded, so unread data is not reset. */
	conn_touch(c);
	timed_update(c);
}

/*
 * Find idle connections; what to do about them runs from their own event,
 * so no handler runs while this list is walked.
 */
void
conn_sweep(uint64_t now)
{
	struct pf_conn	*c;
	uint64_t	 limit, idle;

	TAILQ_FOREACH(c, &timed, timed_entry) {
		if (c->flags & (C_CLOSED | C_FAILED | C_IDLE))
			continue;
		idle = c->listener->conf->idle_timeout_ms;
		if (idle > 0 && now - c->last_ms >= idle) {
			c->flags |= C_IDLE | C_TIMED_OUT;
			event_active(&c->ev, EV_TIMEOUT, 0);
			continue;
		}
		if (c->flags & C_TIMED_OUT)
			continue;
		limit = (c->flags & (C_WR_SHUT | C_READ_EOF)) == C_WR_SHUT ?
		    CONN_LINGER_MS : c->timeout_ms;
		if (limit == 0 || now - c->last_ms < limit)
			continue;
		c->flags |= C_TIMED_OUT;
		event_active(&c->ev, EV_TIMEOUT, 0);
	}
}

/*
 * Tell every connection the worker is draining.  The event is delivered
 * from each connection's own callback (EV_SIGNAL is otherwise unused on a
 * socket event), so handlers never run while this list is walked.
 */
void
conn_shutdown_all(void)
{
	struct pf_conn	*c;

	TAILQ_FOREACH(c, &conns, entry) {
		if (!(c->flags & C_CLOSED))
			event_active(&c->ev, EV_SIGNAL, 0);
	}
}

/* Safe from inside a handler too: a busy connection is closed when its
 * dispatch returns, and skipped here. */
void
conn_close_all(void)
{
	struct pf_conn	*c;

	for (;;) {
		TAILQ_FOREACH(c, &conns, entry) {
			if (!(c->flags & C_CLOSED))
				break;
		}
		if (c == NULL)
			return;
		conn_close(c, 0, "stop");
	}
}

/* Public methods, documented in preforkd/preforkd.h. */

struct pf_emitter *
pf_conn_emitter(struct pf_conn *c)
{
	return &c->em;
}

int
pf_conn_on(struct pf_conn *c, int event, pf_handler fn, void *udata)
{
	return pf_on(&c->em, event, fn, udata);
}

int
pf_conn_write(struct pf_conn *c, const void *buf, size_t len)
{
	ssize_t	n = 0;

	if (c->flags & (C_ENDING | C_WR_SHUT | C_FAILED | C_CLOSED))
		return -1;
	if (len == 0) {
		if (c->out == NULL || evbuffer_get_length(c->out) <
		    c->high_water)
			return 1;
		c->flags |= C_NEED_DRAIN;
		return 0;
	}
	if (c->out == NULL) {
		do
			n = write(c->fd, buf, len);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno != EAGAIN) {
				conn_fail(c, errno);
				return -1;
			}
			n = 0;
		}
		worker_stats.bytes_out += n;
		c->bytes_out += n;
		conn_touch(c);
		if ((size_t)n == len)
			return 1;
		if ((c->out = evbuffer_new()) == NULL) {
			conn_fail(c, ENOMEM);
			return -1;
		}
	}
	if (evbuffer_add(c->out, (const char *)buf + n, len - n) == -1) {
		conn_fail(c, ENOMEM);
		return -1;
	}
	/* The hard cap: a peer that does not read is not our memory's. */
	if (evbuffer_get_length(c->out) > (size_t)c->listener->conf->max_output) {
		conn_fail(c, ENOBUFS);
		return -1;
	}
	if (evbuffer_get_length(c->out) < c->high_water)
		return 1;
	c->flags |= C_NEED_DRAIN;
	return 0;
}

void
pf_conn_end(struct pf_conn *c)
{
	if (c->flags & (C_ENDING | C_FAILED | C_CLOSED))
		return;
	c->flags |= C_ENDING;
	if (c->out == NULL)
		conn_shutdown_write(c);
}

void
pf_conn_destroy(struct pf_conn *c)
{
	conn_close(c, 0, "destroyed");
}

void
pf_conn_pause(struct pf_conn *c)
{
	c->flags |= C_PAUSED;
}

void
pf_conn_resume(struct pf_conn *c)
{
	if (!(c->flags & C_PAUSED))
		return;
	c->flags &= ~C_PAUSED;
	if (c->flags & C_READ_PENDING) {
		c->flags &= ~C_READ_PENDING;
		if (!(c->flags & C_CLOSED))
			event_active(&c->ev, EV_READ | EV_CLOSED, 0);
	}
}

void
pf_conn_yield(struct pf_conn *c)
{
	if (!conn_live(c) || (c->flags & C_YIELD))
		return;
	c->flags |= C_YIELD;
	event_active(&c->ev, EV_WRITE, 0);
}

void
pf_conn_set_timeout(struct pf_conn *c, unsigned int ms)
{
	c->timeout_ms = ms;
	conn_touch(c);
	timed_update(c);
}

void
pf_conn_set_allow_half_open(struct pf_conn *c, int on)
{
	if (on)
		c->flags |= C_HALF_OPEN;
	else
		c->flags &= ~C_HALF_OPEN;
}

/* Never above the listener's hard cap: backpressure must come first. */
void
pf_conn_set_high_water(struct pf_conn *c, size_t bytes)
{
	size_t	cap = (size_t)c->listener->conf->max_output;

	c->high_water = (uint32_t)(bytes < cap ? bytes : cap);
}

size_t
pf_conn_buffered(const struct pf_conn *c)
{
	return c->out == NULL ? 0 : evbuffer_get_length(c->out);
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
