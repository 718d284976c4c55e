/*
 * preforkd-bench.c -- a load generator for TCP echo servers: preforkd's
 * echo service, or any RFC 862 server.  Three workloads:
 *
 *	echo	 every connection sends -s bytes and waits for them back,
 *		 -P messages in flight at a time (1: ping-pong)
 *	connect	 -c clients each connect, send one message, read it back,
 *		 close, and start over
 *	idle	 -c connections opened, each checked with one echo, then
 *		 held; with -k, one small echo per connection every k seconds
 *
 * One edge-triggered epoll loop per thread (-T), non-blocking sockets.
 * Every byte sent is taken from one fixed pseudo-random pattern with a
 * period of a prime number of bytes, at an offset chosen per connection,
 * and every byte received is compared with the byte sent at the same place
 * in that stream: lost, corrupted, reordered, duplicated or misrouted bytes
 * are all caught.  Latencies go into a fixed log-linear histogram (64
 * sub-buckets per power of two: about 1.6 % resolution); nothing is
 * allocated per request.  Each error kind is counted on its own.
 *
 * The output ends with one "RESULT key=value ..." line.  Exit status: 0
 * when no error of any kind was seen, 1 otherwise, 2 on bad usage or a
 * local failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* accept4, and as configure sets it */
#endif

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PATLEN		1048583u	/* prime: the pattern's period */
#define MAX_SIZE	(1024 * 1024)	/* largest message (-s) */
#define MAX_DEPTH	1024		/* deepest pipeline (-P) */
#define MAX_CONNS	1000000
#define MAX_THREADS	64
#define RBUF_SIZE	(256 * 1024)	/* per-thread read buffer */
#define SEND_CHUNK	(256 * 1024)	/* largest single send */
#define PATBUF_SIZE	(PATLEN + SEND_CHUNK)	/* any window is contiguous */
#define NEVENTS		256
#define RETRY_NS	(10 * NS_MS)	/* before reconnecting after an error */
#define MAX_WAIT_MS	100		/* longest epoll_wait */
#define IDLE_SETUP_NS	(60 * NS_S)	/* cap on idle mode's setup phase */
#define MAX_DIAG	10		/* error messages printed, at most */

_Static_assert(RBUF_SIZE <= SEND_CHUNK, "a read must fit a pattern window");

#define NS_US		1000ull
#define NS_MS		1000000ull
#define NS_S		1000000000ull

/* Histogram: values in ns, exact below 128, then 64 buckets per octave. */
#define H_SUB_BITS	6
#define H_SUB		(1u << H_SUB_BITS)
#define H_MAX_BITS	40		/* values up to 2^40 ns, about 18 min */
#define H_BUCKETS	((H_MAX_BITS - 1 - H_SUB_BITS) * H_SUB + 2 * H_SUB)

enum mode {
	M_ECHO,
	M_CONNECT,
	M_IDLE
};

static const char *const mode_name[] = { "echo", "connect", "idle" };

enum state {
	S_CLOSED,		/* not open: waiting to (re)connect */
	S_CONNECTING,
	S_OPEN,
	S_DEAD			/* failed for good (idle mode) */
};

enum err_kind {
	E_REFUSED,
	E_CONN_TIMEOUT,
	E_CONN_OTHER,
	E_RESET,
	E_EOF,
	E_SHORT,
	E_CORRUPT,
	E_TIMEOUT,
	E_IO,
	E_MAX
};

static const struct {
	const char	*key;
	const char	*desc;
} err_info[E_MAX] = {
	{ "refused",		"connect refused" },
	{ "conn_timeout",	"connect timeout" },
	{ "conn_error",		"connect failed (other)" },
	{ "reset",		"reset by peer" },
	{ "eof",		"unexpected EOF" },
	{ "short",		"short reply (EOF mid-message)" },
	{ "corrupt",		"corrupt or unexpected data" },
	{ "timeout",		"reply timeout" },
	{ "io_error",		"other I/O error" },
};

struct conn;

/* A FIFO of connections ordered by deadline: every deadline on one queue
 * is "now + the same delay", so appending keeps it sorted. */
struct tq {
	struct conn	*head;
	struct conn	*tail;
};

struct thr;

struct conn {
	struct conn	*next;
	struct conn	*prev;
	struct tq	*q;		/* the queue it is on, or NULL */
	struct thr	*t;
	uint64_t	*sent_at;	/* send time of each message in flight */
	uint64_t	 deadline;
	uint64_t	 start;		/* connect() time */
	uint64_t	 want;		/* bytes queued to send, this connection */
	uint64_t	 tx;		/* bytes sent */
	uint64_t	 rx;		/* bytes received and checked */
	uint64_t	 done;		/* messages echoed */
	uint32_t	 off;		/* pattern offset of byte 0 */
	uint32_t	 gen;		/* times (re)opened */
	int		 fd;
	int		 id;
	int		 state;
	int		 verified;	/* idle: the first echo came back */
};

struct hist {
	uint64_t	n;
	uint64_t	min;
	uint64_t	max;
	uint64_t	sum;
	uint64_t	b[H_BUCKETS];
};

struct stats {
	struct hist	lat;		/* requests completed in the window */
	struct hist	conn;		/* connect() to established, any time */
	uint64_t	total;		/* requests completed at any time */
	uint64_t	connects;	/* connections established */
	uint64_t	errs[E_MAX];
};

struct thr {
	pthread_t	 tid;
	struct conn	*conns;
	int		 nconns;
	int		 ep;
	int		 connecting;
	int		 draining;
	uint64_t	 drain_until;
	struct tq	 opq;		/* connects and replies awaited */
	struct tq	 retryq;	/* to (re)connect */
	struct tq	 pingq;		/* idle: next keep-alive */
	char		*rbuf;
	struct stats	 st;
};

static struct {
	const char	*host;
	const char	*port;
	const char	*src;
	enum mode	 mode;
	int		 conns;
	int		 threads;
	int		 max_connecting;
	int		 nsrc;
	int		 quiet;
	size_t		 size;
	unsigned int	 depth;
	double		 duration;
	double		 warmup;
	double		 timeout;
	double		 keepalive;
	uint64_t	 timeout_ns;
	uint64_t	 keepalive_ns;
	uint64_t	 duration_ns;
} opt = {
	.host = "127.0.0.1",
	.port = "7007",
	.mode = M_ECHO,
	.conns = 50,
	.threads = 1,
	.max_connecting = 128,
	.nsrc = 1,
	.size = 64,
	.depth = 1,
	.duration = 5,
	.warmup = 1,
	.timeout = 3,
	.keepalive = 0,
};

static struct sockaddr_storage	 dst;
static struct in_addr		 src_base;
static socklen_t		 dstlen;
static unsigned char		*pattern;
static volatile sig_atomic_t	 stopping;
static uint64_t			 t_start;
/* Shared between threads: read and written with __atomic builtins. */
static uint64_t			 win_start;	/* 0: not yet */
static uint64_t			 win_end;
static uint64_t			 stop_at;	/* when the first drain began */
static uint64_t			 settled;	/* idle: conns verified or dead */
static uint64_t			 ndiag;

static void	conn_close(struct conn *);
static void	conn_fail(struct conn *, enum err_kind, int, const char *);
static int	conn_flush(struct conn *);

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(2, "clock_gettime");
	return (uint64_t)ts.tv_sec * NS_S + (uint64_t)ts.tv_nsec;
}

static uint64_t
load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void
store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Set *p to v if it is still 0; nonzero if this call did it. */
static int
claim64(uint64_t *p, uint64_t v)
{
	uint64_t	zero = 0;

	return __atomic_compare_exchange_n(p, &zero, v, 0, __ATOMIC_ACQ_REL,
	    __ATOMIC_ACQUIRE);
}

/* Histogram. */

static unsigned int
hist_index(uint64_t v)
{
	unsigned int	m;

	if (v >= (1ull << H_MAX_BITS))
		v = (1ull << H_MAX_BITS) - 1;
	if (v < 2 * H_SUB)
		return (unsigned int)v;
	m = 63 - (unsigned int)__builtin_clzll(v);
	return (m - H_SUB_BITS) * H_SUB + (unsigned int)(v >> (m - H_SUB_BITS));
}

/* The middle of bucket i. */
static uint64_t
hist_value(unsigned int i)
{
	uint64_t	lo, hi;
	unsigned int	m, sub;

	if (i < 2 * H_SUB)
		return i;
	m = i / H_SUB + H_SUB_BITS - 1;
	sub = i % H_SUB + H_SUB;
	lo = (uint64_t)sub << (m - H_SUB_BITS);
	hi = ((uint64_t)(sub + 1) << (m - H_SUB_BITS)) - 1;
	return lo + (hi - lo) / 2;
}

static void
hist_record(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += v;
	h->n++;
}

static void
hist_merge(struct hist *to, const struct hist *from)
{
	unsigned int	i;

	if (from->n > 0 && (to->n == 0 || from->min < to->min))
		to->min = from->min;
	if (from->max > to->max)
		to->max = from->max;
	to->sum += from->sum;
	to->n += from->n;
	for (i = 0; i < H_BUCKETS; i++)
		to->b[i] += from->b[i];
}

/* The p-th percentile, clamped to the values really seen. */
static uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t	rank, seen = 0, v;
	unsigned int	i;

	if (h->n == 0)
		return 0;
	/* The smallest rank with at least p % of the values at or below. */
	rank = (uint64_t)(p / 100.0 * (double)h->n);
	if ((double)rank < p / 100.0 * (double)h->n)
		rank++;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	v = hist_value(i < H_BUCKETS ? i : H_BUCKETS - 1);
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

static void
stats_merge(struct stats *to, const struct stats *from)
{
	unsigned int	i;

	hist_merge(&to->lat, &from->lat);
	hist_merge(&to->conn, &from->conn);
	to->total += from->total;
	to->connects += from->connects;
	for (i = 0; i < E_MAX; i++)
		to->errs[i] += from->errs[i];
}

/* Deadline queues. */

static void
tq_remove(struct conn *c)
{
	struct tq	*q = c->q;

	if (q == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		q->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		q->tail = c->prev;
	c->next = c->prev = NULL;
	c->q = NULL;
}

static void
tq_push(struct tq *q, struct conn *c, uint64_t deadline)
{
	tq_remove(c);
	c->deadline = deadline;
	c->q = q;
	c->next = NULL;
	c->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
}

/* The pattern. */

static void
pattern_init(void)
{
	uint64_t	x = 0x9e3779b97f4a7c15ull;
	size_t		i;

	if ((pattern = malloc(PATBUF_SIZE)) == NULL)
		err(2, "pattern");
	for (i = 0; i < PATLEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pattern[i] = (unsigned char)(x >> 24);
	}
	memcpy(pattern + PATLEN, pattern, PATBUF_SIZE - PATLEN);
}

/* A different stream for every connection and every reconnection. */
static uint32_t
pattern_offset(int id, uint32_t gen)
{
	uint64_t	z = ((uint64_t)(unsigned int)id << 32 | gen) +
			    0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint32_t)(z % PATLEN);
}

static const unsigned char *
pattern_at(const struct conn *c, uint64_t pos)
{
	return pattern + (c->off + pos) % PATLEN;
}

/* Diagnostics, the first few only. */

static void
diag(const struct conn *c, const char *what, int e)
{
	uint64_t	n = __atomic_fetch_add(&ndiag, 1, __ATOMIC_RELAXED);

	if (n >= MAX_DIAG)
		return;
	if (e != 0)
		warnx("connection %d: %s: %s", c->id, what, strerror(e));
	else
		warnx("connection %d: %s", c->id, what);
	if (n == MAX_DIAG - 1)
		warnx("further errors are only counted");
}

static int
in_window(uint64_t now)
{
	uint64_t	ws = load64(&win_start);

	return ws != 0 && now >= ws && now < load64(&win_end);
}

/* Connections. */

/*
 * -b/-S: connect from the address -b plus (id % -S), so that ephemeral
 * ports, and the TIME_WAIT sockets holding them, are counted per source
 * address, and a run does not inherit the TIME_WAIT sockets of another.
 */
static int
conn_bind_source(struct conn *c)
{
	struct sockaddr_in	sin;
	int			one = 1;

	if (setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one)) == -1) {
		conn_fail(c, E_CONN_OTHER, errno, "IP_BIND_ADDRESS_NO_PORT");
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(ntohl(src_base.s_addr) +
	    (uint32_t)(c->id % opt.nsrc));
	if (bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		conn_fail(c, E_CONN_OTHER, errno, "bind");
		return -1;
	}
	return 0;
}

static void
conn_open(struct conn *c, uint64_t now)
{
	struct thr		*t = c->t;
	struct epoll_event	 ev;
	int			 one = 1, fd;

	c->gen++;
	c->off = pattern_offset(c->id, c->gen);
	c->want = c->tx = c->rx = c->done = 0;
	c->start = now;
	fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		conn_fail(c, E_CONN_OTHER, errno, "socket");
		return;
	}
	c->fd = fd;
	c->state = S_CONNECTING;
	t->connecting++;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1) {
		conn_fail(c, E_CONN_OTHER, errno, "TCP_NODELAY");
		return;
	}
	if (opt.src != NULL && conn_bind_source(c) == -1)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		conn_fail(c, E_CONN_OTHER, errno, "epoll_ctl");
		return;
	}
	tq_push(&t->opq, c, now + opt.timeout_ns);
	if (connect(fd, (struct sockaddr *)&dst, dstlen) == -1 &&
	    errno != EINPROGRESS) {
		conn_fail(c, errno == ECONNREFUSED ? E_REFUSED : E_CONN_OTHER,
		    errno, "connect");
		return;
	}
	/* Even an immediate success is reported by EPOLLOUT. */
}

static void
conn_close(struct conn *c)
{
	if (c->state == S_CONNECTING)
		c->t->connecting--;
	if (c->fd != -1 && close(c->fd) == -1)
		warn("close");
	c->fd = -1;
	c->state = S_CLOSED;
	tq_remove(c);
}

static void
conn_fail(struct conn *c, enum err_kind kind, int e, const char *what)
{
	struct thr	*t = c->t;

	t->st.errs[kind]++;
	diag(c, what, e);
	conn_close(c);
	if (opt.mode == M_IDLE) {
		if (!c->verified)
			__atomic_fetch_add(&settled, 1, __ATOMIC_RELAXED);
		c->state = S_DEAD;
		return;
	}
	if (t->draining)
		return;
	tq_push(&t->retryq, c, now_ns() + RETRY_NS);
}

/* Queue one more message; it is sent by the next conn_flush(). */
static void
conn_queue(struct conn *c, uint64_t now)
{
	uint64_t	k = c->want / opt.size;

	c->sent_at[k % opt.depth] = now;
	c->want += opt.size;
	if (c->q != &c->t->opq)
		tq_push(&c->t->opq, c, now + opt.timeout_ns);
}

/* Send what is queued; 0 when done or waiting for EPOLLOUT, -1 failed. */
static int
conn_flush(struct conn *c)
{
	uint64_t	left;
	ssize_t		n;

	while (c->tx < c->want) {
		left = c->want - c->tx;
		if (left > SEND_CHUNK)
			left = SEND_CHUNK;
		n = send(c->fd, pattern_at(c, c->tx), (size_t)left,
		    MSG_NOSIGNAL);
		if (n >= 0) {
			c->tx += (uint64_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ECONNRESET || errno == EPIPE)
			conn_fail(c, E_RESET, errno, "send");
		else
			conn_fail(c, E_IO, errno, "send");
		return -1;
	}
	return 0;
}

static void
conn_connected(struct conn *c, uint64_t now)
{
	struct thr	*t = c->t;

	t->connecting--;
	c->state = S_OPEN;
	t->st.connects++;
	hist_record(&t->st.conn, now - c->start);
	tq_remove(c);
	if (t->draining)
		return;
	switch (opt.mode) {
	case M_ECHO:
		while (c->want < (uint64_t)opt.depth * opt.size)
			conn_queue(c, now);
		break;
	case M_CONNECT:
	case M_IDLE:
		conn_queue(c, now);
		break;
	}
	(void)conn_flush(c);
}

/*
 * Message number c->done has come back whole.  Returns 0 if the
 * connection is still open, -1 if it was closed.
 */
static int
conn_complete(struct conn *c, uint64_t now)
{
	struct thr	*t = c->t;
	uint64_t	 sent = c->sent_at[c->done % opt.depth];

	c->done++;
	switch (opt.mode) {
	case M_ECHO:
		t->st.total++;
		if (in_window(now))
			hist_record(&t->st.lat, now - sent);
		if (!t->draining)
			conn_queue(c, now);
		break;
	case M_CONNECT:
		t->st.total++;
		if (in_window(now))
			hist_record(&t->st.lat, now - c->start);
		conn_close(c);
		if (!t->draining)
			tq_push(&t->retryq, c, now);
		return -1;
	case M_IDLE:
		t->st.total++;
		if (!c->verified) {
			c->verified = 1;
			__atomic_fetch_add(&settled, 1, __ATOMIC_RELAXED);
		} else if (in_window(now))
			hist_record(&t->st.lat, now - sent);
		if (opt.keepalive_ns > 0 && !t->draining)
			tq_push(&t->pingq, c, now + opt.keepalive_ns);
		break;
	}
	/* A reply is still awaited: its deadline starts now. */
	if (c->rx < c->want)
		tq_push(&t->opq, c, now + opt.timeout_ns);
	else if (c->q == &t->opq)
		tq_remove(c);
	return 0;
}

static void
conn_check_fail(struct conn *c, const unsigned char *buf, size_t n)
{
	const unsigned char	*want = pattern_at(c, c->rx);
	char			 what[128];
	size_t			 i;

	for (i = 0; i < n && buf[i] == want[i]; i++)
		continue;
	snprintf(what, sizeof(what), "corrupt data at stream byte %llu: "
	    "0x%02x, expected 0x%02x", (unsigned long long)(c->rx + i),
	    i < n ? buf[i] : 0, i < n ? want[i] : 0);
	conn_fail(c, E_CORRUPT, 0, what);
}

static void
conn_input(struct conn *c, uint32_t events)
{
	struct thr	*t = c->t;
	unsigned char	*buf = (unsigned char *)t->rbuf;
	uint64_t	 now;
	ssize_t		 n;

	for (;;) {
		n = read(c->fd, buf, RBUF_SIZE);
		if (n > 0) {
			if (c->rx + (uint64_t)n > c->tx) {
				conn_fail(c, E_CORRUPT, 0,
				    "more bytes back than were sent");
				return;
			}
			if (memcmp(buf, pattern_at(c, c->rx), (size_t)n) != 0) {
				conn_check_fail(c, buf, (size_t)n);
				return;
			}
			c->rx += (uint64_t)n;
			now = now_ns();
			while (c->rx >= (c->done + 1) * opt.size) {
				if (conn_complete(c, now) == -1)
					return;
			}
			/* Short read: drained, unless a FIN is pending. */
			if ((size_t)n < RBUF_SIZE && !(events &
			    (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
				break;
			continue;
		}
		if (n == 0) {
			if (c->rx > c->done * opt.size)
				conn_fail(c, E_SHORT, 0, "EOF inside a reply");
			else
				conn_fail(c, E_EOF, 0, "unexpected EOF");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == ECONNRESET)
			conn_fail(c, E_RESET, errno, "read");
		else
			conn_fail(c, E_IO, errno, "read");
		return;
	}
	if (c->tx < c->want)
		(void)conn_flush(c);
}

static void
conn_event(struct conn *c, uint32_t events)
{
	socklen_t	len;
	int		e;

	if (c->state == S_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		len = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1) {
			conn_fail(c, E_CONN_OTHER, errno, "SO_ERROR");
			return;
		}
		if (e == ECONNREFUSED) {
			conn_fail(c, E_REFUSED, e, "connect");
			return;
		}
		if (e != 0) {
			conn_fail(c, E_CONN_OTHER, e, "connect");
			return;
		}
		conn_connected(c, now_ns());
		return;
	}
	if (c->state != S_OPEN)
		return;
	if ((events & EPOLLOUT) && c->tx < c->want && conn_flush(c) == -1)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_input(c, events);
}

/* Threads. */

static void
thr_expire(struct thr *t, uint64_t now)
{
	struct conn	*c;

	while ((c = t->opq.head) != NULL && c->deadline <= now) {
		if (c->state == S_CONNECTING)
			conn_fail(c, E_CONN_TIMEOUT, 0, "connect timed out");
		else
			conn_fail(c, E_TIMEOUT, 0, "reply timed out");
	}
}

static void
thr_open(struct thr *t, uint64_t now)
{
	struct conn	*c;

	while ((c = t->retryq.head) != NULL && c->deadline <= now &&
	    t->connecting < opt.max_connecting) {
		tq_remove(c);
		conn_open(c, now);
	}
}

static void
thr_ping(struct thr *t, uint64_t now)
{
	struct conn	*c;

	while ((c = t->pingq.head) != NULL && c->deadline <= now) {
		tq_remove(c);
		conn_queue(c, now);
		(void)conn_flush(c);
	}
}

static void
thr_drain(struct thr *t, uint64_t now)
{
	struct conn	*c;

	t->draining = 1;
	t->drain_until = now + opt.timeout_ns + 100 * NS_MS;
	(void)claim64(&stop_at, now);
	while ((c = t->retryq.head) != NULL)
		tq_remove(c);
	while ((c = t->pingq.head) != NULL)
		tq_remove(c);
}

/* Idle mode: the hold starts once every connection is settled. */
static void
thr_idle_check(uint64_t now)
{
	uint64_t	n;

	if (load64(&win_start) != 0)
		return;
	n = load64(&settled);
	if (n < (uint64_t)opt.conns && now - t_start < IDLE_SETUP_NS &&
	    !stopping)
		return;
	if (!claim64(&win_start, now))
		return;
	store64(&win_end, now + opt.duration_ns);
	if (!opt.quiet) {
		printf("idle: %llu of %d connections settled in %.2f s, "
		    "holding for %.2f s\n", (unsigned long long)n, opt.conns,
		    (double)(now - t_start) / NS_S, opt.duration);
		if (fflush(stdout) == EOF)
			warn("stdout");
	}
}

static int
thr_wait_ms(const struct thr *t, uint64_t now)
{
	uint64_t	next = now + MAX_WAIT_MS * NS_MS, we;

	if (t->opq.head != NULL && t->opq.head->deadline < next)
		next = t->opq.head->deadline;
	if (t->retryq.head != NULL && t->retryq.head->deadline < next &&
	    t->connecting < opt.max_connecting)
		next = t->retryq.head->deadline;
	if (t->pingq.head != NULL && t->pingq.head->deadline < next)
		next = t->pingq.head->deadline;
	if (t->draining && t->drain_until < next)
		next = t->drain_until;
	we = load64(&win_end);
	if (!t->draining && we < next)
		next = we;
	if (opt.mode == M_IDLE && load64(&win_start) == 0 &&
	    now + 10 * NS_MS < next)
		next = now + 10 * NS_MS;
	if (next <= now)
		return 0;
	return (int)((next - now + NS_MS - 1) / NS_MS);
}

static void *
thr_main(void *arg)
{
	struct thr		*t = arg;
	struct epoll_event	 evs[NEVENTS];
	uint64_t		 now;
	int			 i, n;

	for (;;) {
		now = now_ns();
		if (opt.mode == M_IDLE)
			thr_idle_check(now);
		if (!t->draining && (stopping || now >= load64(&win_end)))
			thr_drain(t, now);
		if (t->draining && (t->opq.head == NULL || stopping > 1 ||
		    now >= t->drain_until))
			break;
		thr_expire(t, now);
		if (!t->draining) {
			thr_open(t, now);
			thr_ping(t, now);
		}
		n = epoll_wait(t->ep, evs, NEVENTS, thr_wait_ms(t, now));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(2, "epoll_wait");
		}
		for (i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
	}
	for (i = 0; i < t->nconns; i++) {
		if (t->conns[i].fd != -1)
			conn_close(&t->conns[i]);
	}
	return NULL;
}

static void
thr_init(struct thr *t, int first, int n)
{
	int	i;

	memset(t, 0, sizeof(*t));
	t->nconns = n;
	if ((t->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(2, "epoll_create1");
	if ((t->rbuf = malloc(RBUF_SIZE)) == NULL ||
	    (t->conns = calloc((size_t)n, sizeof(*t->conns))) == NULL)
		err(2, "malloc");
	for (i = 0; i < n; i++) {
		struct conn	*c = &t->conns[i];

		c->t = t;
		c->id = first + i;
		c->fd = -1;
		c->sent_at = calloc(opt.depth, sizeof(*c->sent_at));
		if (c->sent_at == NULL)
			err(2, "malloc");
		tq_push(&t->retryq, c, 0);
	}
}

static void
thr_free(struct thr *t)
{
	int	i;

	for (i = 0; i < t->nconns; i++)
		free(t->conns[i].sent_at);
	free(t->conns);
	free(t->rbuf);
	if (close(t->ep) == -1)
		warn("close");
}

/* Setup. */

static void
on_signal(int sig)
{
	(void)sig;
	if (stopping < 2)
		stopping++;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: preforkd-bench [-q] [-b source] [-c conns] [-d secs] [-h host]\n"
"                      [-k secs] [-P depth] [-p port] [-r connecting]\n"
"                      [-S sources] [-s size] [-T threads] [-t secs]\n"
"                      [-w secs] echo | connect | idle\n"
"       preforkd-bench --help\n"
"\n"
"Load generator for TCP echo servers (preforkd's echo service, RFC 862).\n"
"\n"
"modes:\n"
"  echo      each connection sends -s bytes and reads them back, checking\n"
"            every byte; -P messages in flight per connection\n"
"  connect   -c clients each loop: connect, send -s bytes, read them back,\n"
"            close; counts connections per second\n"
"  idle      opens -c connections, checks each with one echo, holds them for\n"
"            -d seconds; with -k, echoes -s bytes on each every -k seconds\n"
"\n"
"options:\n"
"  -h host         server address or name (default 127.0.0.1)\n"
"  -p port         server port (default 7007)\n"
"  -c conns        connections, or concurrent clients (default 50)\n"
"  -d secs         measured duration, or idle hold time (default 5)\n"
"  -w secs         warm-up before measuring, not counted (default 1;\n"
"                  idle: unused, the hold starts once all are connected)\n"
"  -t secs         timeout of each connect and each reply (default 3)\n"
"  -s bytes        message size, 1 to %d (default 64)\n"
"  -P depth        echo: messages in flight per connection, 1 to %d\n"
"                  (default 1: ping-pong)\n"
"  -k secs         idle: keep-alive echo interval (default 0: none)\n"
"  -T threads      threads, each with its own share of connections and\n"
"                  epoll loop, 1 to %d (default 1)\n"
"  -r connecting   connects in progress at once, at most (default 128)\n"
"  -b source       connect from this IPv4 address (e.g. 127.0.0.2; default:\n"
"                  the kernel's choice)\n"
"  -S sources      spread connections over this many consecutive source\n"
"                  addresses from -b (default 127.0.0.1), and so spread the\n"
"                  ephemeral ports and TIME_WAIT sockets (default 1)\n"
"  -q              print only the RESULT line\n"
"  --help          this help\n"
"\n"
"Reports requests (or connections) per second, MB/s of echoed payload\n"
"(10^6 bytes), latency percentiles, and each kind of error separately,\n"
"then one line: RESULT mode=... conns=... size=... depth=... secs=...\n"
"reqs=... rps=... mbps=... p50_us=... p99_us=... p999_us=... errors=...\n"
"Exit status: 0 if no error was seen, 1 if any was, 2 on bad usage.\n",
	    MAX_SIZE, MAX_DEPTH, MAX_THREADS);
}

static double
parse_num(const char *s, double min, double max, int integer, char flag)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) ||
	    v < min || v > max || (integer && v != (double)(long long)v)) {
		warnx("-%c %s: expected %s from %g to %g", flag, s,
		    integer ? "an integer" : "a number", min, max);
		usage(stderr);
		exit(2);
	}
	return v;
}

static void
resolve(void)
{
	struct addrinfo	 hints, *res;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(opt.host, opt.port, &hints, &res)) != 0)
		errx(2, "%s port %s: %s", opt.host, opt.port, gai_strerror(e));
	if (res->ai_addrlen > sizeof(dst))
		errx(2, "%s: address too long", opt.host);
	memcpy(&dst, res->ai_addr, res->ai_addrlen);
	dstlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* Enough descriptors for every connection, raising the hard limit if we
 * may (root). */
static void
raise_nofile(void)
{
	struct rlimit	rl;
	rlim_t		need = (rlim_t)opt.conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(2, "getrlimit");
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		rl.rlim_max = need;
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			err(2, "getrlimit");
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(2, "setrlimit");
	if (rl.rlim_cur < need)
		errx(2, "%d connections need %llu descriptors, the limit is "
		    "%llu (ulimit -n)", opt.conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
}

static void
signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGPIPE, &sa, NULL) == -1)
		err(2, "sigaction");
	sa.sa_handler = on_signal;
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		err(2, "sigaction");
}

static void
parse_args(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	int				ch;

	while ((ch = getopt_long(argc, argv, "b:c:d:h:k:P:p:qr:S:s:T:t:w:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			opt.src = optarg;
			break;
		case 'c':
			opt.conns = (int)parse_num(optarg, 1, MAX_CONNS, 1, ch);
			break;
		case 'd':
			opt.duration = parse_num(optarg, 0.01, 86400, 0, ch);
			break;
		case 'h':
			opt.host = optarg;
			break;
		case 'k':
			opt.keepalive = parse_num(optarg, 0, 86400, 0, ch);
			break;
		case 'P':
			opt.depth = (unsigned int)parse_num(optarg, 1,
			    MAX_DEPTH, 1, ch);
			break;
		case 'p':
			(void)parse_num(optarg, 1, 65535, 1, ch);
			opt.port = optarg;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'r':
			opt.max_connecting = (int)parse_num(optarg, 1,
			    MAX_CONNS, 1, ch);
			break;
		case 'S':
			opt.nsrc = (int)parse_num(optarg, 1, 254, 1, ch);
			break;
		case 's':
			opt.size = (size_t)parse_num(optarg, 1, MAX_SIZE, 1,
			    ch);
			break;
		case 'T':
			opt.threads = (int)parse_num(optarg, 1, MAX_THREADS, 1,
			    ch);
			break;
		case 't':
			opt.timeout = parse_num(optarg, 0.001, 3600, 0, ch);
			break;
		case 'w':
			opt.warmup = parse_num(optarg, 0, 3600, 0, ch);
			break;
		case 'H':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1) {
		usage(stderr);
		exit(2);
	}
	if (strcmp(argv[0], "echo") == 0)
		opt.mode = M_ECHO;
	else if (strcmp(argv[0], "connect") == 0)
		opt.mode = M_CONNECT;
	else if (strcmp(argv[0], "idle") == 0)
		opt.mode = M_IDLE;
	else {
		warnx("unknown mode '%s'", argv[0]);
		usage(stderr);
		exit(2);
	}
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
	if (opt.mode != M_ECHO)
		opt.depth = 1;
	opt.timeout_ns = (uint64_t)(opt.timeout * NS_S);
	opt.keepalive_ns = (uint64_t)(opt.keepalive * NS_S);
	opt.duration_ns = (uint64_t)(opt.duration * NS_S);
}

/* Output. */

static double
cpu_seconds(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		err(2, "getrusage");
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static unsigned long long
us(uint64_t ns)
{
	return (unsigned long long)((ns + NS_US / 2) / NS_US);
}

static void
print_hist(const char *label, const struct hist *h)
{
	printf("  %-13s min %llu  p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  "
	    "max %llu  mean %.1f\n", label, us(h->min),
	    us(hist_percentile(h, 50)), us(hist_percentile(h, 90)),
	    us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
	    us(h->max), h->n ? (double)h->sum / (double)h->n / 1e3 : 0.0);
}

static int
report(const struct stats *st, double secs, double cpu, uint64_t open_end)
{
	const struct hist	*h = &st->lat;
	uint64_t		 nerr = 0;
	double			 rps, mbps;
	int			 i;

	for (i = 0; i < E_MAX; i++)
		nerr += st->errs[i];
	rps = secs > 0 ? (double)h->n / secs : 0;
	mbps = rps * (double)opt.size / 1e6;
	if (!opt.quiet) {
		printf("%s %s port %s: %d %s, %zu-byte messages",
		    mode_name[opt.mode], opt.host, opt.port, opt.conns,
		    opt.mode == M_CONNECT ? "concurrent clients" :
		    "connections", opt.size);
		if (opt.mode == M_ECHO)
			printf(", depth %u", opt.depth);
		if (opt.mode == M_IDLE)
			printf(", keep-alive %g s", opt.keepalive);
		printf(", %d thread%s\n", opt.threads,
		    opt.threads == 1 ? "" : "s");
		printf("  measured      %.2f s", secs);
		if (opt.mode != M_IDLE)
			printf(" after %.2f s of warm-up", opt.warmup);
		printf("\n");
		printf("  %-13s %llu (%.1f/s)\n", opt.mode == M_CONNECT ?
		    "connections" : opt.mode == M_IDLE ? "keep-alives" :
		    "requests", (unsigned long long)h->n, rps);
		printf("  throughput    %.2f MB/s of echoed payload\n", mbps);
		print_hist("latency (us)", h);
		print_hist("connect (us)", &st->conn);
		printf("  connections   %llu established",
		    (unsigned long long)st->connects);
		if (opt.mode == M_IDLE)
			printf(", %llu open at the end",
			    (unsigned long long)open_end);
		printf("\n");
		printf("  client CPU    %.2f s\n", cpu);
		printf("  errors        %llu\n", (unsigned long long)nerr);
		for (i = 0; i < E_MAX; i++)
			printf("    %-30s %llu\n", err_info[i].desc,
			    (unsigned long long)st->errs[i]);
	}
	printf("RESULT mode=%s conns=%d size=%zu depth=%u secs=%.2f reqs=%llu "
	    "rps=%.1f mbps=%.2f p50_us=%llu p99_us=%llu p999_us=%llu "
	    "errors=%llu", mode_name[opt.mode], opt.conns, opt.size,
	    opt.depth, secs, (unsigned long long)h->n, rps, mbps,
	    us(hist_percentile(h, 50)), us(hist_percentile(h, 99)),
	    us(hist_percentile(h, 99.9)), (unsigned long long)nerr);
	for (i = 0; i < E_MAX; i++)
		printf(" %s=%llu", err_info[i].key,
		    (unsigned long long)st->errs[i]);
	printf(" max_us=%llu connect_p99_us=%llu total_reqs=%llu "
	    "connects=%llu open=%llu threads=%d cpu_s=%.2f\n", us(h->max),
	    us(hist_percentile(&st->conn, 99)),
	    (unsigned long long)st->total, (unsigned long long)st->connects,
	    (unsigned long long)open_end, opt.threads, cpu);
	if (fflush(stdout) == EOF)
		err(2, "stdout");
	return nerr == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct thr	*thr;
	struct stats	*st;
	uint64_t	 ws, we, end, open_end = 0;
	double		 secs;
	int		 i, first, n, e;

	parse_args(argc, argv);
	resolve();
	if (opt.nsrc > 1 && opt.src == NULL)
		opt.src = "127.0.0.1";
	if (opt.src != NULL) {
		if (dst.ss_family != AF_INET)
			errx(2, "-b and -S need an IPv4 server address");
		if (inet_pton(AF_INET, opt.src, &src_base) != 1)
			errx(2, "-b %s: not a numeric IPv4 address", opt.src);
		if ((ntohl(src_base.s_addr) & 0xff) + (uint32_t)opt.nsrc > 255)
			errx(2, "-b %s -S %d: the last byte would pass 254",
			    opt.src, opt.nsrc);
	}
	raise_nofile();
	signals();
	pattern_init();

	if ((thr = calloc((size_t)opt.threads, sizeof(*thr))) == NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL)
		err(2, "malloc");
	for (i = first = 0; i < opt.threads; i++) {
		n = opt.conns / opt.threads + (i < opt.conns % opt.threads);
		thr_init(&thr[i], first, n);
		first += n;
	}

	t_start = now_ns();
	if (opt.mode == M_IDLE)
		store64(&win_end, UINT64_MAX);
	else {
		store64(&win_start, t_start + (uint64_t)(opt.warmup * NS_S));
		store64(&win_end, load64(&win_start) + opt.duration_ns);
	}
	for (i = 1; i < opt.threads; i++) {
		if ((e = pthread_create(&thr[i].tid, NULL, thr_main,
		    &thr[i])) != 0) {
			errno = e;
			err(2, "pthread_create");
		}
	}
	(void)thr_main(&thr[0]);
	for (i = 1; i < opt.threads; i++) {
		if ((e = pthread_join(thr[i].tid, NULL)) != 0) {
			errno = e;
			err(2, "pthread_join");
		}
	}

	for (i = 0; i < opt.threads; i++) {
		int	j;

		for (j = 0; j < thr[i].nconns; j++)
			open_end += thr[i].conns[j].state != S_DEAD &&
			    thr[i].conns[j].verified;
		stats_merge(st, &thr[i].st);
		thr_free(&thr[i]);
	}
	/* The window really measured: cut short by a signal, if any. */
	ws = load64(&win_start);
	we = load64(&win_end);
	end = load64(&stop_at);
	if (end == 0 || end > we)
		end = we;
	secs = ws != 0 && end > ws ? (double)(end - ws) / NS_S : 0;
	if (opt.mode != M_IDLE)
		open_end = 0;
	e = report(st, secs, cpu_seconds(), open_end);
	free(st);
	free(thr);
	free(pattern);
	return e;
}
