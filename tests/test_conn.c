/*
 * test_conn.c -- unit tests for the connection layer (worker/conn.c),
 * driven through real sockets and a real event loop: the events a service
 * sees and their order (data, end, close, error, timeout, drain), writes
 * straight through and queued, backpressure and "drain", end with and
 * without half-open, end flushing queued output, pause/resume, the idle
 * sweep, asynchronous error reporting, destroy and end from inside
 * handlers, emits on another connection whose handlers destroy it or fail
 * it, conn_close_all(&wx) and the worker counters, pf_addr_str(), and the
 * PROXY header stage of a proxy_protocol listener (split headers, TLVs,
 * LOCAL, bytes after the header, drops for a bad, late or cut-off header,
 * admission on the header's address).
 *
 * The test stands in for worker/worker.c: it makes the worker context
 * (event base, counters, connection lists) and hands one end of a
 * socketpair (or of a loopback TCP connection) to conn_accepted() on a
 * fake listener; the other end is the "peer" the test reads and writes
 * directly.  Every wait
 * runs the loop until a condition holds or a deadline passes; nothing
 * sleeps.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/emitter.h"
#include "worker/conn.h"
#include "worker/listener.h"
#include "worker/worker.h"

#define MAXREC		1024
#define MAXCONN		4
#define RXSIZE		(1024 * 1024)
#define WAIT_MS		2000		/* deadline of a wait */
#define BULK_MS		5000		/* of a wait for megabytes */
#define TICK_MS		10		/* the loop wakes this often */

/* Pseudo-events the test handlers record, after the PF_EV_* ids. */
#define MARK_A		(PF_EV_MAX_ + 1)
#define MARK_B		(PF_EV_MAX_ + 2)

/* What the "connection" handler does with a new connection. */
#define F_PAUSE		0x01	/* pf_conn_pause() at once */
#define F_NO_ERROR	0x02	/* no "error" handler */

/* One event as a handler saw it; msg is copied, ev->msg is transient. */
struct rec {
	int		 id;
	void		*self;
	int		 code;
	int		 has_msg;
	char		 msg[64];
	size_t		 len;
};

/*
 * The fixture: conn[i] is on sfd[i], the test's end is peer[i]; flags is
 * F_* for the next conn; connections counts "connection" events; rx holds
 * all "data" bytes in order; wr and wr2 are pf_conn_write() results seen
 * inside handlers.
 */
static struct {
	struct event_base	*base;
	struct event		*tick;
	struct pf_listener	*l;
	struct pf_conn		*conn[MAXCONN];
	int			 sfd[MAXCONN];
	int			 peer[MAXCONN];
	int			 nconn;
	int			 flags;
	int			 connections;	/* how many */
	void			*conn_self;	/* the last one: self */
	struct pf_conn		*accepted;	/* and ev->conn */
	struct rec		 rec[MAXREC];
	int			 nrec;
	int			 rec_overflow;
	unsigned char		 rx[RXSIZE];
	size_t			 rxlen;
	int			 rx_overflow;
	int			 wr;
	int			 wr2;
	int			 closes_in_handler;
} fx;

static int		 ids[PF_EV_MAX_];
static struct listen_conf lconf = {
	.name = "test", .max_output = 64 << 20, .tcp_nodelay = 1,
};
static struct cidr	pp_deny = { .family = AF_INET, .bits = 24,
    .addr = { 203, 0, 113, 0 } };
static struct listen_conf lconf_pp = {
	.name = "test-pp", .max_output = 64 << 20, .proxy_protocol = 1,
	.proxy_timeout_ms = 100, .deny = &pp_deny, .ndeny = 1,
};
/* Not counted per address. */
static const struct ipl_ref no_ipl = { { UINT16_MAX, UINT16_MAX } };

/* The worker's context, as worker/worker.c would make it. */
static struct wctx	 wx;

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The test pattern: byte i of a stream. */
static unsigned char
pat(size_t i)
{
	return (unsigned char)(((uint32_t)i * 2654435761u) >> 24);
}

static void
fill_pat(unsigned char *buf, size_t off, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = pat(off + i);
}

/* Recording. */

static void
record(int id, void *self, const struct pf_event_arg *ev)
{
	struct rec	*r;

	if (fx.nrec == MAXREC) {
		fx.rec_overflow = 1;
		return;
	}
	r = &fx.rec[fx.nrec++];
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->self = self;
	if (ev == NULL)
		return;
	r->code = ev->code;
	r->len = ev->len;
	if (ev->msg != NULL) {
		r->has_msg = 1;
		snprintf(r->msg, sizeof(r->msg), "%s", ev->msg);
	}
}

static int
count(int id)
{
	int	i, n = 0;

	for (i = 0; i < fx.nrec; i++)
		if (fx.rec[i].id == id)
			n++;
	return n;
}

static int
count_self(int id, void *self)
{
	int	i, n = 0;

	for (i = 0; i < fx.nrec; i++)
		if (fx.rec[i].id == id && fx.rec[i].self == self)
			n++;
	return n;
}

/* Index of the first record of id, or -1. */
static int
first(int id)
{
	int	i;

	for (i = 0; i < fx.nrec; i++)
		if (fx.rec[i].id == id)
			return i;
	return -1;
}

static const struct rec *
find(int id)
{
	int	i = first(id);

	return i == -1 ? NULL : &fx.rec[i];
}

static const char *
ev_name(int id)
{
	static const char *const names[] = {
		[PF_EV_CONNECTION] = "connection", [PF_EV_DATA] = "data",
		[PF_EV_END] = "end", [PF_EV_CLOSE] = "close",
		[PF_EV_ERROR] = "error", [PF_EV_TIMEOUT] = "timeout",
		[PF_EV_DRAIN] = "drain", [PF_EV_SHUTDOWN] = "shutdown",
	};

	if (id == MARK_A)
		return "mark-a";
	if (id == MARK_B)
		return "mark-b";
	if (id >= 0 && id < (int)(sizeof(names) / sizeof(names[0])) &&
	    names[id] != NULL)
		return names[id];
	return "?";
}

/* The records must be exactly want[0..n-1]; if not, show them all. */
#define expect_seq(...)							\
	expect_seq_at(__LINE__, (const int []){ __VA_ARGS__ },		\
	    (int)(sizeof((const int []){ __VA_ARGS__ }) / sizeof(int)))

static void
expect_seq_at(int line, const int *want, int n)
{
	char	got[512], exp[512];
	size_t	len;
	int	i;

	for (i = 0; i < n && i < fx.nrec; i++)
		if (fx.rec[i].id != want[i])
			break;
	if (i == n && n == fx.nrec)
		return;
	got[0] = exp[0] = '\0';
	for (i = 0; i < fx.nrec; i++) {
		len = strlen(got);
		snprintf(got + len, sizeof(got) - len, " %s",
		    ev_name(fx.rec[i].id));
	}
	for (i = 0; i < n; i++) {
		len = strlen(exp);
		snprintf(exp + len, sizeof(exp) - len, " %s", ev_name(want[i]));
	}
	fail_msg("line %d: events want%s\n  got%s", line, exp, got);
}

/* Handlers. */

static void
h_rec(void *self, const struct pf_event_arg *ev, void *udata)
{
	int	id = *(int *)udata;

	record(id, self, ev);
	if (id != PF_EV_DATA)
		return;
	if (fx.rxlen + ev->len > sizeof(fx.rx)) {
		fx.rx_overflow = 1;
		return;
	}
	memcpy(fx.rx + fx.rxlen, ev->data, ev->len);
	fx.rxlen += ev->len;
}

static void
h_connection(void *self, const struct pf_event_arg *ev, void *udata)
{
	static const int	 evs[] = { PF_EV_DATA, PF_EV_END, PF_EV_CLOSE,
	    PF_EV_ERROR, PF_EV_TIMEOUT, PF_EV_DRAIN, PF_EV_SHUTDOWN };
	size_t			 i;

	fx.connections++;
	fx.conn_self = self;
	fx.accepted = ev->conn;
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (evs[i] == PF_EV_ERROR && (fx.flags & F_NO_ERROR))
			continue;
		if (pf_conn_on(ev->conn, evs[i], h_rec, &ids[evs[i]]) == -1)
			fx.accepted = NULL;	/* fails the test */
	}
	if (fx.flags & F_PAUSE)
		pf_conn_pause(ev->conn);
}

/* "data": destroy, then see whether close ran and whether write works. */
static void
h_destroy(void *self, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_destroy(self);
	fx.closes_in_handler = count(PF_EV_CLOSE);
	fx.wr = pf_conn_write(self, "x", 1);
	record(MARK_A, self, NULL);
}

/* Any event: destroy the conn. */
static void
h_destroy_now(void *self, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_destroy(self);
	record(MARK_A, self, NULL);
}

/* "shutdown": end the conn. */
static void
h_end_now(void *self, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_end(self);
}

/* "data": end, then try to write. */
static void
h_end(void *self, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_end(self);
	fx.wr = pf_conn_write(self, "y", 1);
	record(MARK_A, self, NULL);
}

/* "data": a later handler of the same event. */
static void
h_after(void *self, const struct pf_event_arg *ev, void *udata)
{
	fx.wr2 = pf_conn_write(self, "z", 1);
	record(MARK_B, self, NULL);
}

/*
 * "close": the methods a handler may still call on a closing conn; with
 * udata set, pf_conn_set_timeout() too.
 */
static void
h_close_calls(void *self, const struct pf_event_arg *ev, void *udata)
{
	fx.wr = pf_conn_write(self, "x", 1);
	pf_conn_end(self);
	pf_conn_destroy(self);
	pf_conn_pause(self);
	pf_conn_resume(self);
	pf_conn_set_high_water(self, 1);
	pf_conn_set_allow_half_open(self, 1);
	if (udata != NULL)
		pf_conn_set_timeout(self, 50);
	record(MARK_A, self, NULL);
}

static void
h_tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Driving the loop, always with a deadline. */

static void
run_for(int ms)
{
	uint64_t	end = mono_ms() + ms;

	while (mono_ms() < end)
		event_base_loop(fx.base, EVLOOP_ONCE);
}

/* Run until n records of event id exist; returns how many there are. */
static int
wait_event(int id, int n, int ms)
{
	uint64_t	end = mono_ms() + ms;

	while (count(id) < n && mono_ms() < end)
		event_base_loop(fx.base, EVLOOP_ONCE);
	return count(id);
}

static size_t
wait_rx(size_t n, int ms)
{
	uint64_t	end = mono_ms() + ms;

	while (fx.rxlen < n && mono_ms() < end)
		event_base_loop(fx.base, EVLOOP_ONCE);
	return fx.rxlen;
}

/* Write all of buf from the peer end, running the loop when it is full. */
static void
peer_write(int fd, const void *buf, size_t len)
{
	uint64_t	end = mono_ms() + BULK_MS;
	size_t		off = 0;
	ssize_t		n;

	while (off < len) {
		n = write(fd, (const char *)buf + off, len - off);
		if (n > 0) {
			off += n;
			continue;
		}
		assert_true(n == -1 && errno == EAGAIN);
		assert_true(mono_ms() < end);
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
}

/*
 * Read at the peer end until want bytes came, EOF or the deadline, running
 * the loop meanwhile; want SIZE_MAX reads to EOF.  Each byte is checked
 * against the pattern from offset off: *bad is the offset of the first
 * wrong one, or SIZE_MAX.  Returns the number of bytes read.
 */
static size_t
peer_check(int fd, size_t off, size_t want, int *eof, size_t *bad, int ms)
{
	unsigned char	buf[64 * 1024];
	uint64_t	end = mono_ms() + ms;
	size_t		got = 0, i, room;
	ssize_t		n;

	*eof = 0;
	*bad = SIZE_MAX;
	while (got < want) {
		room = want - got < sizeof(buf) ? want - got : sizeof(buf);
		n = read(fd, buf, room);
		if (n > 0) {
			for (i = 0; i < (size_t)n; i++)
				if (*bad == SIZE_MAX &&
				    buf[i] != pat(off + got + i))
					*bad = off + got + i;
			got += n;
			continue;
		}
		if (n == 0) {
			*eof = 1;
			break;
		}
		if (errno != EAGAIN || mono_ms() >= end)
			break;
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
	return got;
}

/* Read exactly len bytes (or less at the deadline) into buf at the peer. */
static size_t
peer_read(int fd, void *buf, size_t len, int *eof)
{
	uint64_t	end = mono_ms() + WAIT_MS;
	size_t		got = 0;
	ssize_t		n;

	*eof = 0;
	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0) {
			*eof = 1;
			break;
		}
		if (errno != EAGAIN || mono_ms() >= end)
			break;
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
	return got;
}

/* Wait for EOF at the peer; 1 if it came, 0 if data or the deadline did. */
static int
peer_eof(int fd)
{
	char	c;
	int	eof;

	return peer_read(fd, &c, 1, &eof) == 0 && eof;
}

/* Nothing readable at the peer right now. */
static int
peer_empty(int fd)
{
	char	c;

	return read(fd, &c, 1) == -1 && errno == EAGAIN;
}

/*
 * Write pattern chunks of size chunk (stream offset *off on) until the
 * conn queues at least min bytes; returns the last pf_conn_write result.
 */
static int
fill(struct pf_conn *c, size_t *off, size_t chunk, size_t min)
{
	unsigned char	*buf;
	size_t		 limit = *off + 256 * 1024 * 1024;
	int		 r = 1;

	assert_non_null(buf = malloc(chunk));
	while (pf_conn_buffered(c) < min && *off < limit) {
		fill_pat(buf, *off, chunk);
		r = pf_conn_write(c, buf, chunk);
		if (r == -1)
			break;
		*off += chunk;
	}
	free(buf);
	assert_true(pf_conn_buffered(c) >= min);
	return r;
}

/* Set-up. */

static struct pf_conn *
adopt(int sfd, int peer, int flags)
{
	int	i = fx.nconn;

	assert_true(i < MAXCONN);
	fx.sfd[i] = sfd;
	fx.peer[i] = peer;
	fx.conn[i] = NULL;
	fx.nconn++;
	fx.flags = flags;
	fx.accepted = NULL;
	conn_accepted(fx.l, sfd, &no_ipl, NULL, 0);
	assert_non_null(fx.accepted);
	assert_ptr_equal(fx.conn_self, fx.l);
	fx.conn[i] = fx.accepted;
	return fx.accepted;
}

/* A connection on a Unix socketpair; its peer is fx.peer[fx.nconn - 1]. */
static struct pf_conn *
open_conn(int flags)
{
	int	sv[2];

	assert_int_equal(socketpair(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	return adopt(sv[0], sv[1], flags);
}

/* A loopback TCP connection: sv[0] the accepted end, sv[1] the client. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			lfd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) !=
	    -1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	assert_true((sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) !=
	    -1);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	sv[0] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	close(lfd);
	assert_true(sv[0] != -1);
	assert_true(fcntl(sv[1], F_SETFL, O_NONBLOCK) != -1);
}

static struct pf_conn *
open_tcp_conn(int flags)
{
	int	sv[2];

	tcp_pair(sv);
	return adopt(sv[0], sv[1], flags);
}

static void
close_peer(int i)
{
	close(fx.peer[i]);
	fx.peer[i] = -1;
}

static int
setup(void **state)
{
	struct timeval	tv = { 0, TICK_MS * 1000 };
	int		i;

	memset(&fx, 0, sizeof(fx));
	for (i = 0; i < PF_EV_MAX_; i++)
		ids[i] = i;
	for (i = 0; i < MAXCONN; i++)
		fx.peer[i] = fx.sfd[i] = -1;
	if ((fx.base = event_base_new()) == NULL)
		return -1;
	/* So EVLOOP_ONCE returns even when no connection has an event. */
	if ((fx.tick = event_new(fx.base, -1, EV_PERSIST, h_tick,
	    NULL)) == NULL || event_add(fx.tick, &tv) == -1)
		return -1;
	if ((fx.l = calloc(1, sizeof(*fx.l))) == NULL)
		return -1;
	emitter_init(&fx.l->em, fx.l);
	wctx_init(&wx, fx.base);
	fx.l->w = &wx;
	fx.l->conf = &lconf;
	if (pf_on(&fx.l->em, PF_EV_CONNECTION, h_connection, NULL) == -1 ||
	    pf_on(&fx.l->em, PF_EV_DROP, h_rec, &ids[PF_EV_DROP]) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	int	i;

	conn_close_all(&wx);
	for (i = 0; i < MAXCONN; i++)
		if (fx.peer[i] != -1)
			close(fx.peer[i]);
	if (fx.l != NULL) {
		emitter_clear(&fx.l->em);
		free(fx.l);
	}
	if (fx.tick != NULL)
		event_free(fx.tick);
	if (fx.base != NULL)
		event_base_free(fx.base);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* 1. Bytes from the peer arrive, exactly, as "data"; the accessors. */
static void
test_data(void **state)
{
	static const char	 hello[] = "hello, world\n";
	struct pf_conn		*c;
	unsigned char		*big;
	size_t			 bigsz = 300 * 1024;
	int			 x;

	c = open_conn(0);
	assert_int_equal(fx.connections, 1);
	assert_ptr_equal(pf_conn_listener(c), fx.l);
	assert_int_equal(pf_conn_fd(c), fx.sfd[0]);
	assert_ptr_equal(pf_conn_emitter(c)->owner, c);
	assert_null(pf_conn_get_data(c));
	pf_conn_set_data(c, &x);
	assert_ptr_equal(pf_conn_get_data(c), &x);
	pf_conn_set_data(c, NULL);
	assert_null(pf_conn_get_data(c));

	peer_write(fx.peer[0], hello, strlen(hello));
	assert_int_equal(wait_rx(strlen(hello), WAIT_MS), strlen(hello));
	assert_memory_equal(fx.rx, hello, strlen(hello));
	assert_int_equal(count(PF_EV_DATA), 1);
	assert_ptr_equal(find(PF_EV_DATA)->self, c);
	assert_int_equal(find(PF_EV_DATA)->len, strlen(hello));
	run_for(3 * TICK_MS);
	assert_int_equal(fx.rxlen, strlen(hello));
	assert_int_equal(fx.nrec, 1);
	assert_int_equal(wx.stats.bytes_in, strlen(hello));

	/* More than one read's worth, in as many "data" events as it takes. */
	assert_non_null(big = malloc(bigsz));
	fill_pat(big, 0, bigsz);
	peer_write(fx.peer[0], big, bigsz);
	assert_int_equal(wait_rx(strlen(hello) + bigsz, BULK_MS),
	    strlen(hello) + bigsz);
	assert_memory_equal(fx.rx + strlen(hello), big, bigsz);
	free(big);
	assert_true(count(PF_EV_DATA) >= 2);
	assert_int_equal(count_self(PF_EV_DATA, c), count(PF_EV_DATA));
	assert_int_equal(count(PF_EV_END) + count(PF_EV_CLOSE) +
	    count(PF_EV_ERROR), 0);
	assert_int_equal(wx.stats.bytes_in, strlen(hello) + bigsz);
	assert_false(fx.rec_overflow);
	assert_false(fx.rx_overflow);
}

/* 2. A write with nothing queued goes straight to the socket. */
static void
test_write_through(void **state)
{
	static const char	 msg[] = "straight through";
	struct pf_conn		*c;
	char			 buf[64];
	int			 eof;

	c = open_conn(0);
	assert_int_equal(pf_conn_write(c, msg, strlen(msg)), 1);
	assert_int_equal(pf_conn_buffered(c), 0);
	/* Already in the socket: no loop iteration needed. */
	assert_int_equal(read(fx.peer[0], buf, sizeof(buf)), strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	assert_int_equal(wx.stats.bytes_out, strlen(msg));

	assert_int_equal(pf_conn_write(c, msg, 0), 1);
	assert_int_equal(pf_conn_write(c, msg, 4), 1);
	assert_int_equal(peer_read(fx.peer[0], buf, 4, &eof), 4);
	assert_memory_equal(buf, msg, 4);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_DRAIN), 0);
	assert_int_equal(fx.nrec, 0);
	assert_true(peer_empty(fx.peer[0]));
}

/* pf_conn_yield(): one "drain" on the next turn, even twice asked. */
static void
test_yield(void **state)
{
	struct pf_conn	*c;

	c = open_conn(0);
	pf_conn_yield(c);
	pf_conn_yield(c);
	assert_int_equal(count(PF_EV_DRAIN), 0);	/* not from inside */
	assert_int_equal(wait_event(PF_EV_DRAIN, 1, WAIT_MS), 1);
	assert_ptr_equal(find(PF_EV_DRAIN)->self, c);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_DRAIN), 1);
	assert_int_equal(fx.nrec, 1);
}

/* 3. The high watermark, write() returning 0, and one "drain". */
static void
test_backpressure(void **state)
{
	struct pf_conn	*c;
	unsigned char	 buf[1000];
	size_t		 off = 0, start, got, bad, hw = 4096;
	int		 r, eof, queued_below = 0, nzero = 0;

	c = open_conn(0);
	/* Queued but never at the mark: write() said 1, so no "drain". */
	assert_int_equal(fill(c, &off, sizeof(buf), 1), 1);
	assert_int_equal(peer_check(fx.peer[0], 0, off, &eof, &bad, BULK_MS),
	    off);
	assert_int_equal(bad, SIZE_MAX);
	run_for(5 * TICK_MS);
	assert_int_equal(pf_conn_buffered(c), 0);
	assert_int_equal(count(PF_EV_DRAIN), 0);

	pf_conn_set_high_water(c, hw);
	start = off;
	for (;;) {
		assert_true(off < 64 * 1024 * 1024);
		fill_pat(buf, off, sizeof(buf));
		r = pf_conn_write(c, buf, sizeof(buf));
		off += sizeof(buf);
		assert_true(r == 0 || r == 1);
		if (r == 1) {
			/* 1 only while the queue is below the mark. */
			assert_true(pf_conn_buffered(c) < hw);
			if (pf_conn_buffered(c) > 0)
				queued_below = 1;
			continue;
		}
		assert_true(pf_conn_buffered(c) >= hw);
		if (++nzero == 3)
			break;
	}
	/* The socket filled before the queue reached the mark. */
	assert_true(queued_below);
	assert_int_equal(pf_conn_write(c, buf, 0), 0);

	/* Nobody reads: no "drain". */
	run_for(5 * TICK_MS);
	assert_int_equal(count(PF_EV_DRAIN), 0);
	assert_true(pf_conn_buffered(c) >= hw);

	got = peer_check(fx.peer[0], start, off - start, &eof, &bad, BULK_MS);
	assert_int_equal(got, off - start);
	assert_int_equal(bad, SIZE_MAX);
	assert_int_equal(wait_event(PF_EV_DRAIN, 1, WAIT_MS), 1);
	run_for(5 * TICK_MS);
	assert_int_equal(count(PF_EV_DRAIN), 1);
	assert_ptr_equal(find(PF_EV_DRAIN)->self, c);
	assert_int_equal(pf_conn_buffered(c), 0);
	assert_true(peer_empty(fx.peer[0]));
	assert_int_equal(wx.stats.bytes_out, off);
	assert_int_equal(count(PF_EV_ERROR) + count(PF_EV_CLOSE), 0);

	/* Below the mark again: straight through. */
	fill_pat(buf, off, 10);
	assert_int_equal(pf_conn_write(c, buf, 10), 1);
	assert_int_equal(peer_check(fx.peer[0], off, 10, &eof, &bad, WAIT_MS),
	    10);
	assert_int_equal(bad, SIZE_MAX);
}

/*
 * 3b. write(c, buf, 0) answering 0 promises "drain" like any other 0, here
 * after the watermark was lowered under what is queued.
 */
static void
test_backpressure_zero_write(void **state)
{
	struct pf_conn	*c;
	size_t		 off = 0, bad;
	int		 eof;

	c = open_conn(0);
	/* Something queued, below the default mark. */
	assert_int_equal(fill(c, &off, 1000, 1), 1);
	assert_true(pf_conn_buffered(c) < 64 * 1024);
	pf_conn_set_high_water(c, 1);
	assert_int_equal(pf_conn_write(c, "", 0), 0);
	assert_int_equal(peer_check(fx.peer[0], 0, off, &eof, &bad, BULK_MS),
	    off);
	assert_int_equal(bad, SIZE_MAX);
	assert_int_equal(pf_conn_buffered(c), 0);
	assert_int_equal(wait_event(PF_EV_DRAIN, 1, WAIT_MS), 1);
}

/*
 * 3c. A long queue of small writes drains completely over TCP, where the
 * kernel takes more than one evbuffer_write() at a time.
 */
static void
test_flush_long_queue_tcp(void **state)
{
	struct pf_conn	*c;
	size_t		 off = 0, got, bad;
	int		 eof;

	c = open_tcp_conn(0);
	fill(c, &off, 100, 4 * 1024 * 1024);
	got = peer_check(fx.peer[0], 0, off, &eof, &bad, BULK_MS);
	assert_int_equal(pf_conn_buffered(c), 0);
	assert_int_equal(got, off);
	assert_int_equal(bad, SIZE_MAX);
	assert_int_equal(wait_event(PF_EV_DRAIN, 1, WAIT_MS), 1);
}

/* 4. The peer's FIN: "end", then the conn ends itself and closes. */
static void
test_end(void **state)
{
	struct pf_conn	*c;
	const struct rec *r;

	c = open_conn(0);
	assert_int_equal(shutdown(fx.peer[0], SHUT_WR), 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_true(peer_eof(fx.peer[0]));
	assert_int_equal(count(PF_EV_END), 1);
	assert_true(first(PF_EV_END) < first(PF_EV_CLOSE));
	assert_ptr_equal(find(PF_EV_END)->self, c);
	r = find(PF_EV_CLOSE);
	assert_ptr_equal(r->self, c);
	assert_int_equal(r->code, 0);
	assert_int_equal(count(PF_EV_ERROR) + count(PF_EV_DATA), 0);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	assert_int_equal(wx.stats.conns_active, 0);
}

/* 5. allow_half_open: still writable after the peer's FIN, until end(). */
static void
test_half_open(void **state)
{
	struct pf_conn	*c;
	char		 buf[16];
	int		 eof;

	c = open_conn(0);
	pf_conn_set_allow_half_open(c, 1);
	assert_int_equal(shutdown(fx.peer[0], SHUT_WR), 0);
	assert_int_equal(wait_event(PF_EV_END, 1, WAIT_MS), 1);
	run_for(5 * TICK_MS);
	assert_int_equal(count(PF_EV_CLOSE), 0);
	assert_true(peer_empty(fx.peer[0]));

	assert_int_equal(pf_conn_write(c, "late", 4), 1);
	assert_int_equal(peer_read(fx.peer[0], buf, 4, &eof), 4);
	assert_memory_equal(buf, "late", 4);

	pf_conn_end(c);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_true(peer_eof(fx.peer[0]));
	assert_true(first(PF_EV_END) < first(PF_EV_CLOSE));
	assert_int_equal(find(PF_EV_CLOSE)->code, 0);
	assert_int_equal(count(PF_EV_ERROR), 0);
	assert_int_equal(wx.stats.conns_active, 0);
}

/* 6. end() flushes the queue before the FIN; no writes after it. */
static void
test_end_flushes(void **state)
{
	struct pf_conn	*c;
	size_t		 off = 0, got, bad;
	int		 eof;

	c = open_conn(0);
	fill(c, &off, 16 * 1024, 1024 * 1024);
	pf_conn_end(c);
	assert_int_equal(pf_conn_write(c, "x", 1), -1);
	assert_true(pf_conn_buffered(c) >= 1024 * 1024);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_CLOSE), 0);

	got = peer_check(fx.peer[0], 0, SIZE_MAX, &eof, &bad, BULK_MS);
	assert_int_equal(got, off);
	assert_int_equal(bad, SIZE_MAX);
	assert_true(eof);
	assert_int_equal(count(PF_EV_DRAIN), 1);	/* write() said 0 */
	assert_int_equal(count(PF_EV_ERROR) + count(PF_EV_CLOSE), 0);

	/* Our FIN is out; the peer's closes the connection. */
	assert_int_equal(shutdown(fx.peer[0], SHUT_WR), 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_int_equal(find(PF_EV_CLOSE)->code, 0);
	assert_true(first(PF_EV_END) < first(PF_EV_CLOSE));
	assert_int_equal(wx.stats.bytes_out, off);
}

/* 7. Paused: no "data" and no "end" until resume, then both. */
static void
test_pause_resume(void **state)
{
	struct pf_conn	*c;

	c = open_conn(F_PAUSE);
	peer_write(fx.peer[0], "abc", 3);
	run_for(10 * TICK_MS);
	assert_int_equal(count(PF_EV_DATA), 0);
	pf_conn_resume(c);
	assert_int_equal(wait_rx(3, WAIT_MS), 3);
	assert_memory_equal(fx.rx, "abc", 3);

	/* Data and FIN while paused. */
	pf_conn_pause(c);
	peer_write(fx.peer[0], "xyz", 3);
	assert_int_equal(shutdown(fx.peer[0], SHUT_WR), 0);
	run_for(10 * TICK_MS);
	assert_int_equal(fx.rxlen, 3);
	assert_int_equal(count(PF_EV_END), 0);
	assert_int_equal(count(PF_EV_CLOSE), 0);
	pf_conn_resume(c);
	assert_int_equal(wait_event(PF_EV_END, 1, WAIT_MS), 1);
	assert_int_equal(fx.rxlen, 6);
	assert_memory_equal(fx.rx, "abcxyz", 6);
	assert_true(first(PF_EV_DATA) < first(PF_EV_END));
	assert_true(fx.rec[first(PF_EV_END) - 1].id == PF_EV_DATA);
	/* Not half-open: it ends itself. */
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_true(peer_eof(fx.peer[0]));
	assert_int_equal(count(PF_EV_END), 1);
}

/* 8. The idle sweep: one "timeout" per idle period; it closes nothing. */
static void
test_timeout(void **state)
{
	struct pf_conn	*c;
	char		 buf[4];
	int		 eof;

	c = open_conn(0);
	/* Without a timeout the sweep never fires. */
	conn_sweep(&wx, worker_now_ms() + 1000000);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_TIMEOUT), 0);

	pf_conn_set_timeout(c, 50);
	conn_sweep(&wx, worker_now_ms());		/* not idle yet */
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_TIMEOUT), 0);

	conn_sweep(&wx, worker_now_ms() + 100);
	assert_int_equal(count(PF_EV_TIMEOUT), 0);	/* from the loop */
	assert_int_equal(wait_event(PF_EV_TIMEOUT, 1, WAIT_MS), 1);
	assert_ptr_equal(find(PF_EV_TIMEOUT)->self, c);
	conn_sweep(&wx, worker_now_ms() + 200);	/* the same idle spell */
	run_for(5 * TICK_MS);
	assert_int_equal(count(PF_EV_TIMEOUT), 1);

	peer_write(fx.peer[0], "x", 1);
	assert_int_equal(wait_rx(1, WAIT_MS), 1);
	conn_sweep(&wx, worker_now_ms() + 100);
	assert_int_equal(wait_event(PF_EV_TIMEOUT, 2, WAIT_MS), 2);
	assert_true(first(PF_EV_DATA) < fx.nrec - 1);
	assert_int_equal(fx.rec[fx.nrec - 1].id, PF_EV_TIMEOUT);

	/* Still open and usable. */
	assert_int_equal(count(PF_EV_CLOSE) + count(PF_EV_END), 0);
	assert_int_equal(pf_conn_write(c, "ok", 2), 1);
	assert_int_equal(peer_read(fx.peer[0], buf, 2, &eof), 2);
	assert_memory_equal(buf, "ok", 2);
	assert_int_equal(wx.stats.conns_active, 1);

	/* 0 disables. */
	pf_conn_set_timeout(c, 0);
	conn_sweep(&wx, worker_now_ms() + 1000000);
	run_for(5 * TICK_MS);
	assert_int_equal(count(PF_EV_TIMEOUT), 2);
}

static void
assert_error_then_close(struct pf_conn *c)
{
	const struct rec	*e, *cl;

	assert_int_equal(count(PF_EV_ERROR), 1);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	e = find(PF_EV_ERROR);
	cl = find(PF_EV_CLOSE);
	assert_true(first(PF_EV_ERROR) < first(PF_EV_CLOSE));
	assert_ptr_equal(e->self, c);
	assert_ptr_equal(cl->self, c);
	if (e->code != EPIPE && e->code != ECONNRESET)
		fail_msg("error code %d (%s)", e->code, strerror(e->code));
	assert_true(e->has_msg);
	assert_string_equal(e->msg, strerror(e->code));
	assert_int_equal(cl->code, 1);
	assert_int_equal(wx.stats.errors, 1);
	assert_int_equal(wx.stats.conns_active, 0);
}

/* 9a. A write to a closed peer fails; the error comes from the loop. */
static void
test_error_write(void **state)
{
	struct pf_conn	*c;

	c = open_conn(0);
	close_peer(0);
	assert_int_equal(pf_conn_write(c, "x", 1), -1);
	assert_int_equal(fx.nrec, 0);
	assert_int_equal(pf_conn_write(c, "x", 1), -1);
	pf_conn_end(c);
	assert_int_equal(fx.nrec, 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_error_then_close(c);
	assert_int_equal(count(PF_EV_END), 0);
}

/* 9b. Queued output and the peer goes away (Unix socket). */
static void
test_error_queued_unix(void **state)
{
	struct pf_conn	*c;
	size_t		 off = 0;

	c = open_conn(0);
	fill(c, &off, 8192, 1);
	close_peer(0);
	assert_int_equal(fx.nrec, 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_error_then_close(c);
}

/* 9c. Queued output and the peer resets (TCP, SO_LINGER 0). */
static void
test_error_queued_tcp_reset(void **state)
{
	struct linger	 lg = { 1, 0 };
	struct pf_conn	*c;
	size_t		 off = 0;

	c = open_tcp_conn(0);
	fill(c, &off, 64 * 1024, 1);
	assert_int_equal(setsockopt(fx.peer[0], SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close_peer(0);
	assert_int_equal(fx.nrec, 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_error_then_close(c);
}

/* 9d. With no "error" handler the conn still closes, with had_error. */
static void
test_error_unhandled(void **state)
{
	struct pf_conn	*c;

	c = open_conn(F_NO_ERROR);
	assert_int_equal(pf_listener_count(pf_conn_emitter(c), PF_EV_ERROR),
	    0);
	close_peer(0);
	assert_int_equal(pf_conn_write(c, "x", 1), -1);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	assert_int_equal(find(PF_EV_CLOSE)->code, 1);
	assert_int_equal(count(PF_EV_ERROR), 0);
	assert_int_equal(wx.stats.errors, 1);
	assert_int_equal(wx.stats.conns_active, 0);
}

/* 10. destroy() inside "data": close once, after the handler returns. */
static void
test_destroy_in_handler(void **state)
{
	struct pf_conn	*c;
	unsigned char	*big;
	size_t		 bigsz = 200 * 1024;
	ssize_t		 n;

	c = open_conn(0);
	assert_int_equal(pf_conn_on(c, PF_EV_DATA, h_destroy, NULL), 0);
	/* More than one read's worth: no "data" after the destroy. */
	assert_non_null(big = malloc(bigsz));
	fill_pat(big, 0, bigsz);
	n = write(fx.peer[0], big, bigsz);
	free(big);
	assert_true(n > 64 * 1024);
	fx.wr = 99;
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	assert_int_equal(count(PF_EV_DATA), 1);
	assert_int_equal(fx.closes_in_handler, 0);
	assert_int_equal(fx.wr, -1);
	expect_seq(PF_EV_DATA, MARK_A, PF_EV_CLOSE);
	assert_ptr_equal(fx.rec[2].self, c);
	assert_int_equal(fx.rec[2].code, 0);
	assert_int_equal(wx.stats.conns_active, 0);
}

/* The other connection of test_destroy_cross, and what its emit gave. */
static struct pf_conn	*cross_other;
static int		 cross_rc, cross_closes;

/* "data" on A: emit "shutdown" on the other connection, B. */
static void
h_emit_other(void *self, const struct pf_event_arg *ev, void *udata)
{
	cross_rc = pf_emit(pf_conn_emitter(cross_other), PF_EV_SHUTDOWN,
	    NULL);
	cross_closes = count(PF_EV_CLOSE);
}

/*
 * 10a. A handler on A emits on B, and B's handler destroys B: B must live
 * until that emit is done with it (B's later handler still runs on it,
 * and ASan sees no use after free), then close as a destroy outside any
 * handler would, before pf_emit returns; A goes on unharmed.
 */
static void
test_destroy_cross(void **state)
{
	struct pf_conn	*a, *b;
	int		 i;

	a = open_conn(0);
	b = open_conn(0);
	cross_other = b;
	cross_rc = cross_closes = 99;
	fx.wr2 = 99;
	assert_int_equal(pf_conn_on(a, PF_EV_DATA, h_emit_other, NULL), 0);
	assert_int_equal(pf_conn_on(b, PF_EV_SHUTDOWN, h_destroy_now, NULL),
	    0);
	assert_int_equal(pf_conn_on(b, PF_EV_SHUTDOWN, h_after, NULL), 0);
	assert_int_equal(write(fx.peer[0], "a", 1), 1);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	run_for(3 * TICK_MS);

	assert_int_equal(cross_rc, 3);
	assert_int_equal(cross_closes, 1);
	assert_int_equal(fx.wr2, -1);	/* B was closing, not freed */
	expect_seq(PF_EV_DATA, PF_EV_SHUTDOWN, MARK_A, MARK_B, PF_EV_CLOSE);
	assert_ptr_equal(fx.rec[0].self, a);
	for (i = 1; i < 5; i++)
		assert_ptr_equal(fx.rec[i].self, b);
	assert_int_equal(fx.rec[4].code, 0);
	assert_true(peer_eof(fx.peer[1]));
	fx.conn[1] = NULL;

	/* A is still open and served. */
	assert_int_equal(wx.stats.conns_active, 1);
	assert_int_equal(pf_conn_write(a, "ok", 2), 1);
	assert_int_equal(wx.stats.errors, 0);
}

/* "data" on A: emit "shutdown" on B, and see what B emitted meanwhile. */
static void
h_emit_other_fail(void *self, const struct pf_event_arg *ev, void *udata)
{
	cross_rc = pf_emit(pf_conn_emitter(cross_other), PF_EV_SHUTDOWN,
	    NULL);
	cross_closes = count(PF_EV_ERROR) + count(PF_EV_CLOSE);
}

/*
 * 10a'. Same, but B's handler fails a write on B: the error is reported
 * from the loop once the emit is over, as for any failed write, never
 * from inside the emit on A's stack.
 */
static void
test_fail_cross(void **state)
{
	struct pf_conn	*a, *b;

	a = open_conn(0);
	b = open_conn(F_PAUSE);		/* does not see its peer's EOF */
	cross_other = b;
	cross_rc = cross_closes = 99;
	fx.wr2 = 99;
	close_peer(1);
	assert_int_equal(pf_conn_on(a, PF_EV_DATA, h_emit_other_fail, NULL),
	    0);
	assert_int_equal(pf_conn_on(b, PF_EV_SHUTDOWN, h_after, NULL), 0);
	assert_int_equal(write(fx.peer[0], "a", 1), 1);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	run_for(3 * TICK_MS);

	assert_int_equal(cross_rc, 2);
	assert_int_equal(cross_closes, 0);
	assert_int_equal(fx.wr2, -1);
	expect_seq(PF_EV_DATA, PF_EV_SHUTDOWN, MARK_B, PF_EV_ERROR,
	    PF_EV_CLOSE);
	assert_ptr_equal(fx.rec[3].self, b);
	assert_int_equal(fx.rec[3].code, EPIPE);
	assert_ptr_equal(fx.rec[4].self, b);
	assert_int_equal(fx.rec[4].code, 1);
	fx.conn[1] = NULL;
	assert_int_equal(wx.stats.conns_active, 1);
	assert_int_equal(pf_conn_write(a, "ok", 2), 1);
}

/* 10b. destroy() outside any handler closes at once. */
static void
test_destroy_outside(void **state)
{
	struct pf_conn	*c;
	size_t		 off = 0, got, bad;
	int		 eof;

	c = open_conn(0);
	fill(c, &off, 8192, 1);		/* discarded */
	pf_conn_destroy(c);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	assert_ptr_equal(find(PF_EV_CLOSE)->self, c);
	assert_int_equal(find(PF_EV_CLOSE)->code, 0);
	assert_int_equal(wx.stats.conns_active, 0);
	run_for(3 * TICK_MS);
	assert_int_equal(fx.nrec, 1);
	/* The peer gets what was in the socket, then EOF. */
	got = peer_check(fx.peer[0], 0, SIZE_MAX, &eof, &bad, WAIT_MS);
	assert_true(eof);
	assert_true(got < off);
	assert_int_equal(bad, SIZE_MAX);
}

/* Child of test_close_handler_calls(): exits 0 if all went well. */
static void
close_timeout_child(void)
{
	struct pf_conn	*c;
	int		 sv[2];

	alarm(2);
	if (event_reinit(fx.base) == -1)
		_exit(2);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		_exit(2);
	fx.accepted = NULL;
	conn_accepted(fx.l, sv[0], &no_ipl, NULL, 0);
	if ((c = fx.accepted) == NULL ||
	    pf_conn_on(c, PF_EV_CLOSE, h_close_calls, &fx) == -1)
		_exit(2);
	fx.nrec = 0;
	pf_conn_destroy(c);
	if (count(PF_EV_CLOSE) != 1 || count(MARK_A) != 1)
		_exit(3);
	/* c is freed: this must not look at it (ASan says if it does). */
	conn_sweep(&wx, worker_now_ms() + 1000);
	/* Nor may a new conn, likely at the same address, be confused. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		_exit(2);
	fx.accepted = NULL;
	conn_accepted(fx.l, sv[0], &no_ipl, NULL, 0);
	if ((c = fx.accepted) == NULL)
		_exit(2);
	pf_conn_set_timeout(c, 1);
	conn_sweep(&wx, worker_now_ms() + 1000);
	pf_conn_destroy(c);
	_exit(0);
}

/*
 * 10c. The pointer is valid during "close", so its methods must be safe
 * there, and nothing may refer to the conn once it is freed.  The part
 * with pf_conn_set_timeout() runs in a child, so that a stale reference
 * cannot corrupt this process: ASan reports it there, and in a plain build
 * the child crashes or loops (the alarm ends it).
 */
static void
test_close_handler_calls(void **state)
{
	struct pf_conn	*c;
	pid_t		 pid;
	int		 status;

	c = open_conn(0);
	assert_int_equal(pf_conn_on(c, PF_EV_CLOSE, h_close_calls, NULL), 0);
	fx.wr = 99;
	pf_conn_destroy(c);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	assert_int_equal(count(MARK_A), 1);
	assert_int_equal(fx.wr, -1);
	assert_int_equal(wx.stats.conns_active, 0);
	run_for(3 * TICK_MS);
	assert_int_equal(fx.nrec, 2);

	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0)
		close_timeout_child();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("set_timeout in a close handler: child %s %d",
		    WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status));
}

/*
 * 10d. destroy() from a "timeout" or "shutdown" handler discards the queue
 * even when the same callback also reports the socket writable: no output
 * after the destroy and no event but "close".
 */
static void
destroy_with_write_pending(int event)
{
	struct pf_conn	*c;
	size_t		 off = 0, got, bad;
	int		 eof;

	c = open_conn(0);
	pf_conn_set_high_water(c, 4096);
	assert_int_equal(fill(c, &off, 1000, 4096), 0);	/* "drain" due */
	assert_int_equal(pf_conn_on(c, event, h_destroy_now, NULL), 0);
	/* Empty the socket, so the loop will also see it writable. */
	got = peer_check(fx.peer[0], 0, off, &eof, &bad, 0);
	assert_true(got > 0 && got < off);
	assert_int_equal(bad, SIZE_MAX);
	assert_true(peer_empty(fx.peer[0]));
	if (event == PF_EV_TIMEOUT) {
		pf_conn_set_timeout(c, 50);
		conn_sweep(&wx, worker_now_ms() + 100);
	} else
		conn_shutdown_all(&wx);
	assert_int_equal(fx.nrec, 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	expect_seq(event, MARK_A, PF_EV_CLOSE);	/* no "drain" */
	/* What was queued at the destroy is discarded. */
	assert_int_equal(peer_check(fx.peer[0], got, SIZE_MAX, &eof, &bad,
	    WAIT_MS), 0);
	assert_true(eof);
}

static void
test_destroy_in_timeout(void **state)
{
	destroy_with_write_pending(PF_EV_TIMEOUT);
}

static void
test_destroy_in_shutdown(void **state)
{
	destroy_with_write_pending(PF_EV_SHUTDOWN);
}

/* 11. end() in one "data" handler; the next handler still runs. */
static void
test_end_in_handler(void **state)
{
	struct pf_conn	*c;

	c = open_conn(0);
	assert_int_equal(pf_conn_on(c, PF_EV_DATA, h_end, NULL), 0);
	assert_int_equal(pf_conn_on(c, PF_EV_DATA, h_after, NULL), 0);
	fx.wr = fx.wr2 = 99;
	peer_write(fx.peer[0], "q", 1);
	assert_int_equal(wait_event(MARK_B, 1, WAIT_MS), 1);
	expect_seq(PF_EV_DATA, MARK_A, MARK_B);
	assert_ptr_equal(fx.rec[2].self, c);
	assert_int_equal(fx.wr, -1);
	assert_int_equal(fx.wr2, -1);
	assert_int_equal(pf_conn_write(c, "w", 1), -1);
	/* Our FIN is out; nothing was written after it. */
	assert_true(peer_eof(fx.peer[0]));
	assert_int_equal(count(PF_EV_CLOSE), 0);
	assert_int_equal(shutdown(fx.peer[0], SHUT_WR), 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_int_equal(find(PF_EV_CLOSE)->code, 0);
	assert_int_equal(count(PF_EV_DATA), 1);
}

/* 12. conn_close_all(&wx) and the counters. */
static void
test_close_all(void **state)
{
	struct pf_conn	*c[3];
	char		 buf[32];
	int		 i, eof;

	for (i = 0; i < 3; i++)
		c[i] = open_conn(0);
	assert_int_equal(fx.connections, 3);
	assert_true(c[0] != c[1] && c[1] != c[2] && c[0] != c[2]);
	assert_int_equal(wx.stats.conns_active, 3);
	assert_int_equal(wx.stats.conns_total, 3);

	peer_write(fx.peer[0], "0123456789", 10);
	peer_write(fx.peer[1], "abcdefghijklmnopqrst", 20);
	assert_int_equal(wait_rx(30, WAIT_MS), 30);
	assert_int_equal(count_self(PF_EV_DATA, c[2]), 0);
	assert_int_equal(pf_conn_write(c[2], "hello", 5), 1);
	assert_int_equal(peer_read(fx.peer[2], buf, 5, &eof), 5);
	assert_int_equal(wx.stats.bytes_in, 30);
	assert_int_equal(wx.stats.bytes_out, 5);

	/* One ends on its own first. */
	assert_int_equal(shutdown(fx.peer[1], SHUT_WR), 0);
	assert_int_equal(wait_event(PF_EV_CLOSE, 1, WAIT_MS), 1);
	assert_int_equal(wx.stats.conns_active, 2);

	conn_close_all(&wx);
	assert_int_equal(count(PF_EV_CLOSE), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(count_self(PF_EV_CLOSE, c[i]), 1);
		assert_true(peer_eof(fx.peer[i]));
	}
	assert_int_equal(wx.stats.conns_active, 0);
	assert_int_equal(wx.stats.conns_total, 3);
	assert_int_equal(wx.stats.errors, 0);
	conn_close_all(&wx);		/* nothing left */
	assert_int_equal(count(PF_EV_CLOSE), 3);

	/* A new connection after it works. */
	c[0] = open_conn(0);
	assert_int_equal(wx.stats.conns_total, 4);
	assert_int_equal(wx.stats.conns_active, 1);
}

/* 12b. conn_shutdown_all(&wx): "shutdown" once per open conn, from the loop. */
static void
test_shutdown_all(void **state)
{
	struct pf_conn	*c[3];
	char		 buf[4];
	int		 i, eof;

	for (i = 0; i < 3; i++)
		c[i] = open_conn(0);
	assert_int_equal(pf_conn_on(c[0], PF_EV_SHUTDOWN, h_end_now, NULL), 0);
	pf_conn_destroy(c[2]);
	assert_int_equal(count(PF_EV_CLOSE), 1);

	conn_shutdown_all(&wx);
	assert_int_equal(count(PF_EV_SHUTDOWN), 0);
	assert_int_equal(wait_event(PF_EV_SHUTDOWN, 2, WAIT_MS), 2);
	run_for(5 * TICK_MS);
	assert_int_equal(count(PF_EV_SHUTDOWN), 2);
	assert_int_equal(count_self(PF_EV_SHUTDOWN, c[0]), 1);
	assert_int_equal(count_self(PF_EV_SHUTDOWN, c[1]), 1);

	/* c[0] ended from its handler; c[1] only heard about it. */
	assert_true(peer_eof(fx.peer[0]));
	assert_int_equal(pf_conn_write(c[1], "up", 2), 1);
	assert_int_equal(peer_read(fx.peer[1], buf, 2, &eof), 2);
	assert_memory_equal(buf, "up", 2);
	assert_int_equal(count(PF_EV_CLOSE), 1);
	assert_int_equal(wx.stats.conns_active, 2);
}

/* 13. Addresses as text. */
static void
test_addr_str(void **state)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr_un	 sun;
	struct sockaddr_storage	 ss;
	struct pf_conn		*c;
	socklen_t		 len;
	char			 buf[64], want[64];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_ptr_equal(pf_addr_str((struct sockaddr *)&sin, sizeof(sin),
	    buf, sizeof(buf)), buf);
	assert_string_equal(buf, "127.0.0.1:80");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(80);
	sin6.sin6_addr = in6addr_loopback;
	pf_addr_str((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:80");

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	pf_addr_str((struct sockaddr *)&sun, sizeof(sa_family_t), buf,
	    sizeof(buf));
	assert_string_equal(buf, "unix");

	/* Truncated, still terminated. */
	pf_addr_str((struct sockaddr *)&sin, sizeof(sin), buf, 5);
	assert_string_equal(buf, "127.");

	/* A connection's peer, Unix and TCP. */
	c = open_conn(0);
	assert_string_equal(pf_conn_str(c, buf, sizeof(buf)), "unix");
	c = open_tcp_conn(0);
	assert_int_equal(pf_conn_peer_addr(c, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	snprintf(want, sizeof(want), "127.0.0.1:%u",
	    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	assert_string_equal(pf_conn_str(c, buf, sizeof(buf)), want);
	assert_int_equal(pf_conn_local_addr(c, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
}

/* The PROXY stage. */

static const char pp_v1[] =
    "PROXY TCP4 192.0.2.1 198.51.100.2 5000 80\r\n";

/* A connection on a proxy_protocol listener, not yet announced. */
static int
open_pp(void)
{
	int	sv[2];

	assert_true(fx.nconn < MAXCONN);
	assert_int_equal(socketpair(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	fx.sfd[fx.nconn] = sv[0];
	fx.peer[fx.nconn] = sv[1];
	fx.l->conf = &lconf_pp;
	conn_accepted(fx.l, sv[0], NULL, NULL, 0);
	assert_int_equal(fx.connections, 0);
	assert_int_equal(wx.stats.conns_active, 1);
	return fx.nconn++;
}

static void
assert_addr(const struct sockaddr_storage *ss, socklen_t len,
    const char *want)
{
	char	buf[64];

	pf_addr_str((const struct sockaddr *)ss, len, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* The peer's end was closed: EOF, or a reset where bytes went unread. */
static int
peer_gone(int fd)
{
	char	c;
	int	eof;

	return (peer_read(fd, &c, 1, &eof) == 0 && eof) || errno == ECONNRESET;
}

/* A refused header: a drop with its reason, nothing for the service, the
 * client's end closed. */
static void
assert_pp_dropped(int i, const char *why)
{
	assert_int_equal(wait_event(PF_EV_DROP, 1, WAIT_MS), 1);
	assert_string_equal(find(PF_EV_DROP)->msg, why);
	assert_ptr_equal(find(PF_EV_DROP)->self, fx.l);
	assert_true(peer_gone(fx.peer[i]));
	assert_int_equal(fx.connections, 0);
	assert_int_equal(count(PF_EV_CLOSE), 0);
	assert_int_equal(wx.stats.drops, 1);
	assert_int_equal(wx.stats.conns_active, 0);
	assert_int_equal(wx.stats.conns_total, 0);
}

/* 27. A v1 header a byte at a time, the client's bytes behind it. */
static void
test_proxy_v1_split(void **state)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	size_t			i;
	int			p = open_pp();

	for (i = 0; i < strlen(pp_v1) - 1; i++) {
		peer_write(fx.peer[p], pp_v1 + i, 1);
		run_for(TICK_MS);
		assert_int_equal(fx.connections, 0);
	}
	peer_write(fx.peer[p], "\nhello", 6);
	assert_int_equal(wait_rx(5, WAIT_MS), 5);
	assert_memory_equal(fx.rx, "hello", 5);
	assert_int_equal(fx.connections, 1);
	assert_int_equal(count(PF_EV_DATA), 1);	/* the rest, as one */
	assert_int_equal(pf_conn_bytes_read(fx.accepted), 5);
	assert_int_equal(pf_conn_peer_addr(fx.accepted, &ss, &len), 0);
	assert_addr(&ss, len, "192.0.2.1:5000");
	assert_int_equal(pf_conn_local_addr(fx.accepted, &ss, &len), 0);
	assert_addr(&ss, len, "198.51.100.2:80");
	assert_int_equal(pf_conn_proxy_addr(fx.accepted, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_UNIX);
	assert_null(pf_conn_proxy_tlv(fx.accepted, PF_PROXY_TLV_ALPN, &i));
	assert_int_equal(wx.stats.conns_total, 1);
	assert_int_equal(pf_conn_write(fx.accepted, "ok", 2), 1);
	assert_int_equal(pf_conn_bytes_written(fx.accepted), 2);
}

/* A v2 header: 12-byte signature, PROXY over TCP over IPv6. */
static size_t
pp_v2(uint8_t *b, int local, const char *tlvs, size_t tlvlen)
{
	static const uint8_t	sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
	    0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	size_t			alen = 36 + tlvlen;

	memcpy(b, sig, 12);
	b[12] = local ? 0x20 : 0x21;
	b[13] = 0x21;
	b[14] = alen >> 8;
	b[15] = alen & 0xff;
	memset(b + 16, 0, 36);
	b[16 + 15] = 1;			/* ::1 */
	b[32] = 0x20;			/* 2001:db8::7 */
	b[33] = 0x01;
	b[34] = 0x0d;
	b[35] = 0xb8;
	b[47] = 7;
	b[48] = 0x1f;			/* 8080 */
	b[49] = 0x90;
	b[50] = 0x01;			/* 443 */
	b[51] = 0xbb;
	memcpy(b + 52, tlvs, tlvlen);
	return 52 + tlvlen;
}

/* 28. v2 with TLVs in the same segment as the client's first bytes. */
static void
test_proxy_v2_tlv(void **state)
{
	static const char	tlvs[] = "\x01\x00\x02h2"
	    "\x02\x00\x0b" "example.com" "\x05\x00\x03id7";
	struct sockaddr_storage	ss;
	socklen_t		len;
	uint8_t			b[256];
	size_t			n, vlen;
	const char		*v;
	int			p = open_pp();

	n = pp_v2(b, 0, tlvs, sizeof(tlvs) - 1);
	memcpy(b + n, "abc", 3);
	peer_write(fx.peer[p], b, n + 3);
	assert_int_equal(wait_rx(3, WAIT_MS), 3);
	assert_memory_equal(fx.rx, "abc", 3);
	assert_int_equal(pf_conn_peer_addr(fx.accepted, &ss, &len), 0);
	assert_addr(&ss, len, "[::1]:8080");
	assert_int_equal(pf_conn_local_addr(fx.accepted, &ss, &len), 0);
	assert_addr(&ss, len, "[2001:db8::7]:443");
	assert_non_null(v = pf_conn_proxy_tlv(fx.accepted, PF_PROXY_TLV_ALPN,
	    &vlen));
	assert_int_equal(vlen, 2);
	assert_memory_equal(v, "h2", 2);
	assert_non_null(v = pf_conn_proxy_tlv(fx.accepted,
	    PF_PROXY_TLV_AUTHORITY, &vlen));
	assert_int_equal(vlen, 11);
	assert_memory_equal(v, "example.com", 11);
	assert_non_null(v = pf_conn_proxy_tlv(fx.accepted,
	    PF_PROXY_TLV_UNIQUE_ID, &vlen));
	assert_int_equal(vlen, 3);
	assert_memory_equal(v, "id7", 3);
	assert_null(pf_conn_proxy_tlv(fx.accepted, 0x20, &vlen));
	assert_int_equal(pf_conn_bytes_read(fx.accepted), 3);
}

/* 29. LOCAL (the balancer's own check): the transport's addresses. */
static void
test_proxy_local(void **state)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	uint8_t			b[256];
	size_t			n;
	int			p = open_pp();

	n = pp_v2(b, 1, "", 0);
	b[n] = 'x';
	peer_write(fx.peer[p], b, n + 1);
	assert_int_equal(wait_rx(1, WAIT_MS), 1);
	assert_int_equal(fx.connections, 1);
	assert_int_equal(pf_conn_peer_addr(fx.accepted, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_UNIX);
	assert_int_equal(pf_conn_local_addr(fx.accepted, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_UNIX);
}

/* 30. Not a header: dropped after its first byte. */
static void
test_proxy_malformed(void **state)
{
	int	p = open_pp();

	peer_write(fx.peer[p], "GET / HTTP/1.0\r\n\r\n", 18);
	assert_pp_dropped(p, "not a PROXY header");
}

/* 31. The header is late: dropped by the sweep after proxy_timeout. */
static void
test_proxy_timeout(void **state)
{
	int	p = open_pp();

	peer_write(fx.peer[p], pp_v1, 10);
	run_for(3 * TICK_MS);
	conn_sweep(&wx, worker_now_ms() + 50);	/* not late yet */
	run_for(3 * TICK_MS);
	assert_int_equal(count(PF_EV_DROP), 0);
	conn_sweep(&wx, worker_now_ms() + lconf_pp.proxy_timeout_ms);
	assert_pp_dropped(p, "no PROXY header in time");
}

/* 32. The client goes away within the header, or before it. */
static void
test_proxy_cut(void **state)
{
	int	p = open_pp();

	peer_write(fx.peer[p], pp_v1, 10);
	shutdown(fx.peer[p], SHUT_WR);
	assert_pp_dropped(p, "closed within its PROXY header");
	fx.nrec = 0;
	wx.stats.drops = 0;
	p = open_pp();
	shutdown(fx.peer[p], SHUT_WR);
	assert_pp_dropped(p, "closed before its PROXY header");
}

/* 33. The listener's rules judge the header's address. */
static void
test_proxy_admission(void **state)
{
	static const char	hdr[] =
	    "PROXY TCP4 203.0.113.9 198.51.100.2 5000 80\r\nhello";
	int			p = open_pp();

	peer_write(fx.peer[p], hdr, sizeof(hdr) - 1);
	assert_pp_dropped(p, "address denied");
	assert_int_equal(find(PF_EV_DROP)->len, sizeof(struct sockaddr_in));
	assert_int_equal(fx.rxlen, 0);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_data),
		T(test_write_through),
		T(test_yield),
		T(test_backpressure),
		T(test_backpressure_zero_write),
		T(test_flush_long_queue_tcp),
		T(test_end),
		T(test_half_open),
		T(test_end_flushes),
		T(test_pause_resume),
		T(test_timeout),
		T(test_error_write),
		T(test_error_queued_unix),
		T(test_error_queued_tcp_reset),
		T(test_error_unhandled),
		T(test_destroy_in_handler),
		T(test_destroy_cross),
		T(test_fail_cross),
		T(test_destroy_outside),
		T(test_close_handler_calls),
		T(test_destroy_in_timeout),
		T(test_destroy_in_shutdown),
		T(test_end_in_handler),
		T(test_close_all),
		T(test_shutdown_all),
		T(test_addr_str),
		T(test_proxy_v1_split),
		T(test_proxy_v2_tlv),
		T(test_proxy_local),
		T(test_proxy_malformed),
		T(test_proxy_timeout),
		T(test_proxy_cut),
		T(test_proxy_admission),
	};

	/* Writes to a closed peer must fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
