/*
 * proxy.c -- the proxy service: each client is connected to a backend of
 * its listener and the two are piped into each other.  This file owns the
 * per-listener state (the balancer, per-backend counters) and the life of
 * a client until its backend is connected; from then on the pair is
 * pf_conn_pipe()'s (backpressure, half-close, errors).
 *
 * Written against the public API for all I/O (pf_connect, pf_conn_pipe,
 * pause/resume); the one internal thing it reads is the listener's
 * validated configuration (l->conf->proxy), for its backend table.
 *
 * Nothing is allocated per client beyond what pf_connect() and the pipes'
 * handlers take.  The state of an attempt lives in the handlers' udata and
 * in the outbound connection's data word, as integers:
 *
 *	client data	the listener's struct proxy (shared, not per client)
 *	backend data	BK_LIVE | connected | tries << 8 | backend << 16 |
 *			first backend << 24 (backends <= 256, retries < 256)
 *	handlers	on the backend, "connect"/"error" carry the client and
 *			"close" the struct proxy; on the client, "close"
 *			carries the backend while it connects
 *
 * While a backend connects, the client is paused: its bytes wait in the
 * kernel, and a failed connect can move on to another backend with nothing
 * to replay.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>

#include "common/balance.h"
#include "common/pxshm.h"
#include "common/proxyproto.h"
#include "conf/config.h"
#include "conf/proxyconf.h"
#include "preforkd/preforkd.h"
#include "worker/listener.h"
#include "worker/service.h"

#define BK_LIVE		0x01u	/* never 0, so never NULL */
#define BK_CONNECTED	0x02u
#define BK_TRIES(v)	(((v) >> 8) & 0xffu)
#define BK_INDEX(v)	((int)(((v) >> 16) & 0xffu))
#define BK_FIRST(v)	((int)(((v) >> 24) & 0xffu))
#define BK_MAKE(i, first, tries) (BK_LIVE | (uintptr_t)(tries) << 8 | \
	(uintptr_t)(i) << 16 | (uintptr_t)(first) << 24)

_Static_assert((int)BAL_ROUNDROBIN == BALANCE_ROUNDROBIN &&
    (int)BAL_LEASTCONN == BALANCE_LEASTCONN &&
    (int)BAL_SOURCE == BALANCE_SOURCE, "the configuration's balance names "
    "the balancer's kinds");
_Static_assert(PROXY_BACKENDS_MAX <= 256, "a backend index fits 8 bits");

/* At most one line a second per listener for clients turned away. */
#define QUIET_MS	1000

/*
 * Per backend, per worker.  The counters are this worker's row of the
 * shared backend table (common/pxshm.h), which the master sums over the
 * workers for status --json and /metrics, or a row of our own when the
 * table has none for us (then they go unreported).
 */
struct proxy_backend {
	struct pf_connect_opts	 to;
	const char		*name;		/* the configuration's */
	struct pxs_row		*row;		/* shared, or &own */
	struct pxs_row		 own;
};

struct proxy {
	const char		*listener;
	const struct proxy_conf	*conf;
	struct balance		*bal;
	uint64_t		 refused;	/* clients no backend took */
	uint64_t		 quiet_until;
	size_t			 live;		/* backend connections */
	int			 stopped;	/* the worker's loop is over */
	size_t			 n;
	struct proxy_backend	 b[];
};

static void	proxy_try(struct proxy *, struct pf_conn *, int, int,
		    unsigned int);

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The clock is read only when it matters: while some backend is down. */
static uint64_t
health_now(const struct proxy *px)
{
	return balance_ndown(px->bal) > 0 ? now_ms() : 0;
}

static void
proxy_free(struct proxy *px)
{
	balance_free(px->bal);
	free(px);
}

/* The client is closed without a backend: counted, and said (not too
 * often). */
static void
proxy_refuse(struct proxy *px, struct pf_conn *c, const char *why,
    const char *last)
{
	uint64_t	now;

	px->refused++;
	if ((now = now_ms()) >= px->quiet_until) {
		char	who[64];

		px->quiet_until = now + QUIET_MS;
		pf_log(PF_LOG_INFO, "proxy %s: client %s closed: %s (last "
		    "tried %s); %llu so far", px->listener,
		    pf_conn_str(c, who, sizeof(who)), why, last,
		    (unsigned long long)px->refused);
	}
	pf_conn_destroy(c);
}

/* The client closed while its backend was connecting: give up on it. */
static void
client_gone(void *c, const struct pf_event_arg *ev, void *back)
{
	pf_conn_destroy(back);
}

static void
back_close(void *back, const struct pf_event_arg *ev, void *arg)
{
	struct proxy		*px = arg;
	uintptr_t		 v = (uintptr_t)pf_conn_get_data(back);
	struct proxy_backend	*b = &px->b[BK_INDEX(v)];

	balance_end(px->bal, BK_INDEX(v));
	pxs_add(&b->row->active, (uint64_t)-1);
	if (v & BK_CONNECTED) {
		pxs_add(&b->row->bytes_in, pf_conn_bytes_read(back));
		pxs_add(&b->row->bytes_out, pf_conn_bytes_written(back));
	}
	if (--px->live == 0 && px->stopped)
		proxy_free(px);
}

/* A connect failed: passive health, then the next backend or give up. */
static void
back_error(void *back, const struct pf_event_arg *ev, void *c)
{
	struct proxy		*px = pf_conn_get_data(c);
	uintptr_t		 v = (uintptr_t)pf_conn_get_data(back);
	int			 i = BK_INDEX(v), next = -1;
	struct proxy_backend	*b = &px->b[i];
	uint64_t		 now = now_ms();

	pf_off(pf_conn_emitter(c), PF_EV_CLOSE, client_gone, back);
	pxs_add(&b->row->errors, 1);
	if (balance_fail(px->bal, i, now))
		pf_log(PF_LOG_WARN, "proxy %s: backend %s down for %d ms after "
		    "%d failed connects in a row: %s", px->listener, b->name,
		    px->conf->down_ms, px->conf->fail_max,
		    ev->msg != NULL ? ev->msg : "connect failed");
	else
		pf_log(PF_LOG_DEBUG, "proxy %s: backend %s: %s", px->listener,
		    b->name, ev->msg != NULL ? ev->msg : "connect failed");
	if (BK_TRIES(v) < (unsigned int)px->conf->retries)
		next = balance_next(px->bal, BK_FIRST(v), i, now);
	if (next == -1)
		proxy_refuse(px, c, "no backend could be connected", b->name);
	else
		proxy_try(px, c, next, BK_FIRST(v), BK_TRIES(v) + 1);
}

/* The client as the worker sees it (through a PROXY listener, the real
 * one), to the backend first. */
static int
send_header(struct pf_conn *back, struct pf_conn *c, int version)
{
	struct sockaddr_storage	 src, dst;
	socklen_t		 slen, dlen;
	uint8_t			 hdr[PP_ENCODE_MAX];
	int			 n;

	n = pp_encode(hdr, sizeof(hdr), version,
	    pf_conn_peer_addr(c, &src, &slen) == 0 ?
	    (struct sockaddr *)&src : NULL,
	    pf_conn_local_addr(c, &dst, &dlen) == 0 ?
	    (struct sockaddr *)&dst : NULL);
	return n > 0 ? pf_conn_write(back, hdr, (size_t)n) : -1;
}

static void
back_connect(void *back, const struct pf_event_arg *ev, void *c)
{
	struct proxy	*px = pf_conn_get_data(c);
	uintptr_t	 v = (uintptr_t)pf_conn_get_data(back);

	balance_ok(px->bal, BK_INDEX(v));
	pxs_add(&px->b[BK_INDEX(v)].row->total, 1);
	pf_conn_set_data(back, (void *)(v | BK_CONNECTED));
	/* From here on the pipes look after the pair. */
	pf_off(pf_conn_emitter(back), PF_EV_ERROR, back_error, c);
	pf_off(pf_conn_emitter(c), PF_EV_CLOSE, client_gone, back);
	if ((px->conf->send_proxy != 0 &&
	    send_header(back, c, px->conf->send_proxy) == -1) ||
	    pf_conn_pipe(c, back, 0) == -1 || pf_conn_pipe(back, c, 0) == -1) {
		pf_conn_destroy(back);
		pf_conn_destroy(c);
		return;
	}
	pf_conn_resume(c);
}

static void
proxy_try(struct proxy *px, struct pf_conn *c, int i, int first,
    unsigned int tries)
{
	struct proxy_backend	*b = &px->b[i];
	struct pf_conn		*back;

	if ((back = pf_connect(&b->to)) == NULL) {
		proxy_refuse(px, c, "cannot open a connection", b->name);
		return;
	}
	pf_conn_set_data(back, (void *)BK_MAKE(i, first, tries));
	if (pf_conn_on(back, PF_EV_CLOSE, back_close, px) == -1) {
		pf_conn_destroy(back);
		pf_conn_destroy(c);
		return;
	}
	/* back_close undoes these, whatever happens from here. */
	px->live++;
	pxs_add(&b->row->active, 1);
	balance_begin(px->bal, i);
	if (pf_conn_on(back, PF_EV_CONNECT, back_connect, c) == -1 ||
	    pf_conn_on(back, PF_EV_ERROR, back_error, c) == -1 ||
	    pf_conn_on(c, PF_EV_CLOSE, client_gone, back) == -1) {
		pf_off(pf_conn_emitter(back), PF_EV_CONNECT, back_connect, c);
		pf_off(pf_conn_emitter(back), PF_EV_ERROR, back_error, c);
		pf_conn_destroy(back);
		pf_conn_destroy(c);
	}
}

/* The hash key of source balancing: the client's address, not its port. */
static int
pick(struct proxy *px, struct pf_conn *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const void		*key = NULL;
	size_t			 keylen = 0;

	if (px->conf->balance == BALANCE_SOURCE &&
	    pf_conn_peer_addr(c, &ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			key = &((struct sockaddr_in *)&ss)->sin_addr;
			keylen = 4;
		} else if (ss.ss_family == AF_INET6) {
			key = &((struct sockaddr_in6 *)&ss)->sin6_addr;
			keylen = 16;
		}
	}
	return balance_pick(px->bal, key, keylen, health_now(px));
}

static void
proxy_connection(void *l, const struct pf_event_arg *ev, void *arg)
{
	struct proxy	*px = arg;
	int		 i;

	pf_conn_pause(ev->conn);
	pf_conn_set_data(ev->conn, px);
	if ((i = pick(px, ev->conn)) == -1)	/* cannot be: n >= 1 */
		proxy_refuse(px, ev->conn, "no backend", "none");
	else
		proxy_try(px, ev->conn, i, i, 0);
}

/* The loop is over; what connections are left close after this: the
 * state goes with the last of them. */
static void
proxy_stop(void *worker, const struct pf_event_arg *ev, void *arg)
{
	struct proxy	*px = arg;

	px->stopped = 1;
	if (px->live == 0)
		proxy_free(px);
}

static int
proxy_init(struct pf_listener *l)
{
	const struct proxy_conf	*pc = &l->conf->proxy;
	const char		**names = NULL;
	int			*w = NULL;
	struct proxy		*px;
	size_t			 i;

	if ((px = calloc(1, sizeof(*px) + pc->nbackends * sizeof(px->b[0]))) ==
	    NULL || (names = calloc(pc->nbackends, sizeof(*names))) == NULL ||
	    (w = calloc(pc->nbackends, sizeof(*w))) == NULL)
		goto err;
	px->listener = pf_listener_name(l);
	px->conf = pc;
	px->n = pc->nbackends;
	for (i = 0; i < px->n; i++) {
		px->b[i].to.host = pc->backends[i].address;
		px->b[i].to.port = (unsigned int)pc->backends[i].port;
		px->b[i].to.path = pc->backends[i].path;
		px->b[i].to.timeout_ms = (unsigned int)pc->connect_timeout_ms;
		px->b[i].name = pc->backends[i].name;
		names[i] = pc->backends[i].name;
		w[i] = pc->backends[i].weight;
	}
	if ((px->bal = balance_new((enum balance_kind)pc->balance, px->n, w,
	    names, (unsigned int)pc->fail_max,
	    (unsigned int)pc->down_ms)) == NULL)
		goto err;
	for (i = 0; i < px->n; i++) {
		if ((px->b[i].row = pxshm_row(pc->backends[i].hslot)) == NULL)
			px->b[i].row = &px->b[i].own;
		if (pc->check_interval_ms > 0)
			balance_set_check(px->bal, (int)i,
			    pxshm_health(pc->backends[i].hslot),
			    pxshm_good(pc->backends[i].hslot));
	}
	if (pf_on(pf_worker_emitter(), PF_EV_STOP, proxy_stop, px) == -1)
		goto err;
	if (pf_on(pf_listener_emitter(l), PF_EV_CONNECTION, proxy_connection,
	    px) == -1) {
		pf_off(pf_worker_emitter(), PF_EV_STOP, proxy_stop, px);
		goto err;
	}
	free(names);
	free(w);
	return 0;
err:
	if (px != NULL)
		proxy_free(px);
	free(names);
	free(w);
	return -1;
}

const struct pf_service service_proxy = {
	.name = PROXY_SERVICE,
	.init = proxy_init,
};
