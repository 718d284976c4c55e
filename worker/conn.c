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
 * Before its service hears of it, a connection may go through stages
 * (conn_stage.c).  On a PROXY listener the connection first waits for the
 * balancer's header (conninfo.c reads it).  Only once the header has said who the
 * client is are the listener's rules applied and the service told; until
 * then nothing is emitted on the connection.  On a TLS listener the
 * handshake comes next (after the header, if any), and the service is
 * told once it has completed; from then on reads, writes and the end go
 * through worker/tls.c, one branch away from the plaintext path.
 *
 * Handlers may end, destroy or write to the connection from inside any of
 * its events: "busy" counts the dispatches and emits running on the
 * connection (every pf_emit on its emitter pins it, whoever calls it), and
 * the teardown waits until the outermost one returns.  Errors found while
 * writing are likewise reported from the loop, never from inside write.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/emitter.h"
#include "common/log.h"
#include "worker/admit.h"
#include "worker/conn.h"
#include "worker/conn_state.h"
#include "worker/listener.h"
#include "worker/tls.h"
#include "worker/worker.h"

#define CONN_READS_PER_EVENT	4	/* then yield to other connections */
#define CONN_HIGH_WATER		(64 * 1024)
#define CONN_LINGER_MS		5000	/* wait for the peer's FIN after ours */
#define CONN_MAX_OUTPUT		(1 << 20)	/* outbound: the listeners' default */

static void	conn_cb(evutil_socket_t, short, void *);
static void	conn_shutdown_write(struct pf_conn *);
static void	conn_unpinned(void *);

void
timed_update(struct pf_conn *c)
{
	int	want = !(c->flags & C_CLOSED) && (c->timeout_ms > 0 ||
		    c->idle_ms > 0 || (c->flags & C_CONNECTING) ||
		    ((c->flags & C_WR_SHUT) && !(c->flags & C_READ_EOF)));

	if (want && !(c->flags & C_TIMED)) {
		TAILQ_INSERT_TAIL(&c->w->timed, c, timed_entry);
		c->flags |= C_TIMED;
	} else if (!want && (c->flags & C_TIMED)) {
		TAILQ_REMOVE(&c->w->timed, c, timed_entry);
		c->flags &= ~C_TIMED;
	}
}

void
conn_touch(struct pf_conn *c)
{
	c->last_ms = worker_now_ms();
	c->flags &= ~C_TIMED_OUT;
}

/*
 * A connection on fd (-1: an outbound one still resolving) of listener l
 * (NULL: outbound), linked, with extra bytes allocated after it; NULL if
 * out of memory or fd cannot be watched (the caller still owns fd).
 */
struct pf_conn *
conn_new(struct wctx *w, struct pf_listener *l, int fd, size_t extra)
{
	struct pf_conn	*c;

	if ((c = calloc(1, sizeof(*c) + extra)) == NULL)
		return NULL;
	c->ipl.idx[0] = c->ipl.idx[1] = UINT16_MAX;	/* not counted */
	emitter_init(&c->em, c);
	/* Any emit on c, whoever makes it, holds c (busy) until it ends. */
	emitter_set_pin(&c->em, &c->busy, conn_unpinned);
	c->w = w;
	c->listener = l;
	c->max_output = l != NULL ? (uint32_t)l->conf->max_output :
	    CONN_MAX_OUTPUT;
	c->idle_ms = l != NULL ? (uint32_t)l->conf->idle_timeout_ms : 0;
	c->high_water = CONN_HIGH_WATER < c->max_output ? CONN_HIGH_WATER :
	    c->max_output;
	c->fd = fd;
	event_assign(&c->ev, w->base, fd,
	    EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, conn_cb, c);
	if (fd != -1 && event_add(&c->ev, NULL) == -1) {
		log_warnx("cannot add an event for fd %d", fd);
		free(c);
		return NULL;
	}
	conn_touch(c);
	c->start_ms = c->last_ms;
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	return c;
}

int
conn_attach(struct pf_conn *c, int fd)
{
	/* An event that may be active (the deadline, an error) must not be
	 * assigned again; what it carried is looked at again anyway. */
	event_del(&c->ev);
	event_assign(&c->ev, c->w->base, fd,
	    EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, conn_cb, c);
	if (event_add(&c->ev, NULL) == -1) {
		log_warnx("cannot add an event for fd %d", fd);
		event_assign(&c->ev, c->w->base, -1,
		    EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST,
		    conn_cb, c);
		return -1;
	}
	c->fd = fd;
	return 0;
}

/* The one teardown: events off, unlinked, "close" emitted, memory freed. */
static void
conn_teardown(struct pf_conn *c)
{
	struct pf_event_arg	arg = { 0 };

	if ((c->flags & C_ANNOUNCED) && c->listener->conf->alog_file != NULL)
		conn_alog(c);
	/* Closing first makes the kernel side of event_del a cheap EBADF. */
	if (c->fd != -1)
		close(c->fd);
	event_del(&c->ev);
	TAILQ_REMOVE(&c->w->conns, c, entry);
	if (c->flags & C_TIMED)
		TAILQ_REMOVE(&c->w->timed, c, timed_entry);
	c->flags &= ~C_TIMED;
	if (c->flags & C_OUTBOUND)
		c->w->stats.out_active--;
	else {
		c->w->stats.conns_active--;
		iplimit_release(&c->ipl);
		if (c->w->conn_closed != NULL)
			c->w->conn_closed(c->w);
	}

	/* Never announced, never closed for the service. */
	if (!(c->flags & (C_PROXY | C_TLS_HS))) {
		arg.code = (c->flags & C_HAD_ERROR) != 0;
		c->busy++;
		if (c->pipe_to != NULL || c->pipe_from != NULL)
			pipe_close(c, arg.code);
		pf_emit(&c->em, PF_EV_CLOSE, &arg);
	}
	emitter_clear(&c->em);
	if (c->out != NULL)
		evbuffer_free(c->out);
	if (c->ssl != NULL)
		tls_free(c);
	free(c);
}

static void
conn_report_error(struct pf_conn *c)
{
	struct pf_event_arg	arg = { 0 };
	char			peer[128];

	arg.code = c->err;
	arg.msg = c->errmsg != NULL ? c->errmsg : strerror(c->err);
	c->w->stats.errors++;
	c->flags |= C_HAD_ERROR;
	if (pf_emit(&c->em, PF_EV_ERROR, &arg) > 0)
		return;
	/* Nobody listens: the default is to log it; the close follows. */
	pf_conn_str(c, peer, sizeof(peer));
	/* A client that vanished (or broke its TLS stream: EPROTO) says
	 * nothing about the server: debug. */
	if (c->err == ECONNRESET || c->err == EPIPE || c->err == ETIMEDOUT ||
	    (c->ssl != NULL && c->err == EPROTO))
		log_debug("connection %s: %s", peer, arg.msg);
	else
		log_warnx("connection %s: %s", peer, arg.msg);
}

/* Leave a dispatch; the outermost one carries out a pending error/close. */
void
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

void
conn_close(struct pf_conn *c, int had_error, const char *why)
{
	if (c->flags & C_CLOSED)
		return;
	c->flags |= C_CLOSED | (had_error ? C_HAD_ERROR : 0);
	c->why = why;
	if (c->dns != NULL)
		connect_cancel(c);	/* its callback lets c go */
	if (c->busy == 0)
		conn_teardown(c);
}

/* Record an error; it is emitted from the loop, then the conn closes. */
void
conn_fail(struct pf_conn *c, int err)
{
	if (c->flags & (C_FAILED | C_CLOSED))
		return;
	c->err = err;
	c->flags |= C_FAILED;
	if (c->dns != NULL)
		connect_cancel(c);	/* its callback lets c go */
	if (c->busy == 0)
		event_active(&c->ev, EV_READ, 0);
}

/*
 * A short read normally means the socket is drained and the next edge will
 * say when there is more.  Not so when a FIN is already queued behind the
 * data (EV_CLOSED), or after a pause: then read on to EAGAIN or EOF.
 */
void
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
		n = c->ssl == NULL ? read(c->fd, c->w->rbuf,
		    sizeof(c->w->rbuf)) : tls_read(c, c->w->rbuf,
		    sizeof(c->w->rbuf));
		if (n > 0) {
			c->w->stats.bytes_in += n;
			c->bytes_in += n;
			/* After our FIN, a trickle must not hold the linger. */
			if (!(c->flags & C_WR_SHUT))
				conn_touch(c);
			if (c->pipe_to != NULL)
				pipe_data(c, c->w->rbuf, n);
			arg.data = c->w->rbuf;
			arg.len = n;
			pf_emit(&c->em, PF_EV_DATA, &arg);
			if ((size_t)n < sizeof(c->w->rbuf) && !to_eagain)
				return;
			continue;
		}
		if (n == 0) {
			c->flags |= C_READ_EOF;
			timed_update(c);
			if (c->pipe_to != NULL)
				pipe_end(c);
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

/* "drain": a pipe into c resumes its source first. */
static void
conn_drained(struct pf_conn *c)
{
	if (c->pipe_from != NULL)
		pf_conn_resume(c->pipe_from);
	pf_emit(&c->em, PF_EV_DRAIN, NULL);
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
		n = c->ssl == NULL ? evbuffer_write(c->out, c->fd) :
		    (int)tls_flush(c);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_fail(c, errno);
			return;
		}
		c->w->stats.bytes_out += n;
		c->bytes_out += n;
		conn_touch(c);
	}
	evbuffer_free(c->out);
	c->out = NULL;
	if (c->flags & C_NEED_DRAIN) {
		c->flags &= ~C_NEED_DRAIN;
		conn_drained(c);
	}
	if ((c->flags & (C_ENDING | C_WR_SHUT)) == C_ENDING && c->out == NULL)
		conn_shutdown_write(c);
}

int
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
 * An outbound connection's socket said something (or its deadline came):
 * 1 once it is connected ("connect" emitted, the end asked for meanwhile
 * carried out), 0 while it is not (or it failed: the error follows).
 */
static int
conn_connecting(struct pf_conn *c, short what)
{
	int	err;

	if (what & EV_TIMEOUT) {
		conn_fail(c, ETIMEDOUT);
		return 0;
	}
	if (c->fd == -1 || (err = connect_result(c->fd)) == EINPROGRESS)
		return 0;
	if (err != 0) {
		conn_fail(c, err);
		return 0;
	}
	c->flags &= ~C_CONNECTING;
	c->w->stats.out_total++;
	conn_touch(c);
	timed_update(c);
	pf_emit(&c->em, PF_EV_CONNECT, NULL);
	if (conn_live(c) && (c->flags & (C_ENDING | C_WR_SHUT)) == C_ENDING &&
	    c->out == NULL)
		conn_shutdown_write(c);
	return conn_live(c);
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pf_conn	*c = arg;

	c->busy++;
	if (c->flags & (C_PROXY | C_TLS_HS)) {
		/* The worker drains: the service hears it once it has the
		 * connection. */
		if (what & EV_SIGNAL)
			c->flags |= C_SHUT_PENDING;
		/* One stage at a time: the header, then the handshake. */
		if ((c->flags & C_PROXY) && conn_live(c) &&
		    (what & (EV_READ | EV_CLOSED | EV_TIMEOUT)))
			conn_proxy_stage(c, what);
		else if ((c->flags & C_TLS_HS) && conn_live(c) &&
		    (what & (EV_READ | EV_WRITE | EV_CLOSED | EV_TIMEOUT)))
			conn_tls_stage(c, what);
		conn_release(c);
		return;
	}
	if (c->flags & C_CONNECTING) {
		if (!conn_live(c) || !conn_connecting(c, what)) {
			conn_release(c);
			return;
		}
		what |= EV_WRITE;	/* send what was written meanwhile */
	}
	/* Each step may close c: check again before the next one. */
	if ((what & EV_TIMEOUT) && conn_live(c))
		conn_timeout(c);
	if ((what & EV_SIGNAL) && conn_live(c))	/* conn_shutdown_all */
		pf_emit(&c->em, PF_EV_SHUTDOWN, NULL);
	if ((what & EV_WRITE) && c->out != NULL && conn_live(c))
		conn_flush(c);
	/* A close_notify the socket could not take yet. */
	if ((what & EV_WRITE) && c->ssl != NULL && c->out == NULL &&
	    (c->flags & (C_ENDING | C_WR_SHUT)) == C_ENDING && conn_live(c))
		conn_shutdown_write(c);
	if ((c->flags & C_YIELD) && conn_live(c)) {
		c->flags &= ~C_YIELD;
		conn_drained(c);
	}
	if ((what & (EV_READ | EV_CLOSED)) && conn_live(c))
		conn_read(c, (what & EV_CLOSED) != 0);
	conn_release(c);
}

static void
conn_shutdown_write(struct pf_conn *c)
{
	int	r;

	/* close_notify first: without it the client sees a truncation. */
	if (c->ssl != NULL && (r = tls_close_notify(c)) != 1) {
		if (r == -1)
			conn_fail(c, errno);
		return;		/* r == 0: again when writable */
	}
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
conn_sweep(struct wctx *w, uint64_t now)
{
	struct pf_conn	*c;
	uint64_t	 limit, idle;

	TAILQ_FOREACH(c, &w->timed, timed_entry) {
		if (c->flags & (C_CLOSED | C_FAILED | C_IDLE))
			continue;
		idle = c->idle_ms;
		if (idle > 0 && now >= c->last_ms && now - c->last_ms >= idle) {
			c->flags |= C_IDLE | C_TIMED_OUT;
			event_active(&c->ev, EV_TIMEOUT, 0);
			continue;
		}
		if (c->flags & C_TIMED_OUT)
			continue;
		limit = (c->flags & C_CONNECTING) ? c->connect_ms :
		    (c->flags & (C_WR_SHUT | C_READ_EOF)) == C_WR_SHUT ?
		    CONN_LINGER_MS : c->timeout_ms;
		if (limit == 0 || now < c->last_ms || now - c->last_ms < limit)
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
conn_shutdown_all(struct wctx *w)
{
	struct pf_conn	*c;

	TAILQ_FOREACH(c, &w->conns, entry) {
		if (!(c->flags & C_CLOSED))
			event_active(&c->ev, EV_SIGNAL, 0);
	}
}

/* Safe from inside a handler too: a busy connection is closed when its
 * dispatch returns, and skipped here. */
void
conn_close_all(struct wctx *w)
{
	struct pf_conn	*c;

	for (;;) {
		TAILQ_FOREACH(c, &w->conns, entry) {
			if (!(c->flags & C_CLOSED))
				break;
		}
		if (c == NULL)
			return;
		conn_close(c, 0, "stop");
	}
}

void
wctx_init(struct wctx *w, struct event_base *base)
{
	memset(w, 0, sizeof(*w));
	w->base = base;
	TAILQ_INIT(&w->conns);
	TAILQ_INIT(&w->timed);
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
	if (c->out == NULL && !(c->flags & C_CONNECTING)) {
		do
			n = c->ssl == NULL ? write(c->fd, buf, len) :
			    tls_write(c, buf, len);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno != EAGAIN) {
				conn_fail(c, errno);
				return -1;
			}
			n = 0;
		}
		c->w->stats.bytes_out += n;
		c->bytes_out += n;
		conn_touch(c);
		if ((size_t)n == len)
			return 1;
	}
	if (c->out == NULL && (c->out = evbuffer_new()) == NULL) {
		conn_fail(c, ENOMEM);
		return -1;
	}
	if (evbuffer_add(c->out, (const char *)buf + n, len - n) == -1) {
		conn_fail(c, ENOMEM);
		return -1;
	}
	/* The hard cap: a peer that does not read is not our memory's. */
	if (evbuffer_get_length(c->out) > c->max_output) {
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
	if (c->out == NULL && !(c->flags & C_CONNECTING))
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
	size_t	cap = c->max_output;

	c->high_water = (uint32_t)(bytes < cap ? bytes : cap);
}

size_t
pf_conn_buffered(const struct pf_conn *c)
{
	return c->out == NULL ? 0 : evbuffer_get_length(c->out);
}
