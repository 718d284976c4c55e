/*
 * conn_stage.c -- a client connection before its service hears of it:
 * accepted, then the balancer's PROXY header (conninfo.c reads it) and
 * the listener's rules applied to the client it names, then the TLS
 * handshake, bounded by handshake_timeout; only then "connection" is
 * emitted.  A client refused at any stage is counted as a drop, with the
 * reason, and never announced (so never "close"d for the service).
 */
#include <sys/socket.h>

#include <event2/event.h>
#include <stdint.h>
#include <unistd.h>

#include "common/emitter.h"
#include "common/iplimit.h"
#include "common/log.h"
#include "worker/admit.h"
#include "worker/conn.h"
#include "worker/conn_state.h"
#include "worker/listener.h"
#include "worker/tls.h"
#include "worker/worker.h"

/* Tell the listener's service: from now on the connection is its. */
static void
conn_announce(struct pf_conn *c)
{
	struct pf_event_arg	arg = { 0 };

	c->w->stats.conns_total++;
	c->flags |= C_ANNOUNCED;
	c->busy++;
	arg.conn = c;
	pf_emit(&c->listener->em, PF_EV_CONNECTION, &arg);
	/* The worker began to drain while the client was still in a
	 * stage (its PROXY header, its handshake). */
	if ((c->flags & C_SHUT_PENDING) && conn_live(c))
		pf_emit(&c->em, PF_EV_SHUTDOWN, NULL);
	conn_release(c);
}

/* The handshake first, bounded by handshake_timeout: no event reaches
 * the service before it completes. */
static void
conn_tls_begin(struct pf_conn *c)
{
	c->flags |= C_TLS_HS;		/* never announced: no "close" */
	if (tls_start(c) == -1) {
		c->w->stats.errors++;
		conn_close(c, 0, "error");
		return;
	}
	c->timeout_ms = (uint32_t)c->listener->conf->tls->handshake_timeout_ms;
	conn_touch(c);
	timed_update(c);
}

void
conn_accepted(struct pf_listener *l, int fd, const struct ipl_ref *ref,
    const struct sockaddr *sa, socklen_t salen)
{
	struct pf_conn	*c;
	size_t		 extra = ref == NULL ? sizeof(struct conn_proxy) : 0;

	if (l->conf->alog_file != NULL)
		extra += sizeof(struct conn_peer);
	if ((c = conn_new(l->w, l, fd, extra)) == NULL) {
		log_warn("accept on %s: connection", l->conf->name);
		l->w->stats.errors++;
		if (ref != NULL)
			iplimit_release(ref);
		close(fd);
		return;
	}
	l->w->stats.conns_active++;
	if (ref == NULL)
		c->pp = (struct conn_proxy *)(c + 1);
	if (l->conf->alog_file != NULL)
		conn_keep_peer(c, sa, salen);
	if (ref == NULL) {
		c->flags = C_PROXY;
		c->timeout_ms = l->conf->proxy_timeout_ms;
		timed_update(c);
		return;
	}
	c->ipl = *ref;
	if (l->conf->tls != NULL) {
		conn_tls_begin(c);
		return;
	}
	timed_update(c);
	conn_announce(c);
}

/*
 * The TLS handshake goes on: once it is done the service is told, and
 * given what came with the client's last flight.  A client that fails it
 * (or is too slow) is refused like one the listener's rules turn away:
 * counted, a "drop", a rate-limited log line.
 */
void
conn_tls_stage(struct pf_conn *c, short what)
{
	struct sockaddr_storage	 ss;
	const char		*why = "TLS handshake timeout";
	socklen_t		 len;
	int			 r = -1;

	if (!(what & EV_TIMEOUT) && (r = tls_handshake(c, &why)) == 0)
		return;
	if (r == -1) {
		if (pf_conn_peer_addr(c, &ss, &len) == -1) {
			ss.ss_family = AF_UNSPEC;
			len = sizeof(ss.ss_family);
		}
		admit_refused(c->listener, (struct sockaddr *)&ss, len, why, 1);
		conn_close(c, 0, "tls");
		return;
	}
	c->flags &= ~(C_TLS_HS | C_TIMED_OUT);
	c->timeout_ms = 0;
	conn_touch(c);
	timed_update(c);
	conn_announce(c);
	conn_read(c, 1);
}

/* The header is taken: judge the client it names, then hand it over. */
void
conn_proxy_stage(struct pf_conn *c, short what)
{
	struct sockaddr_storage	 ss;
	struct ipl_ref		 ref;
	const char		*why = NULL;
	socklen_t		 len;
	int			 r;

	if ((r = conn_proxy_take(c, what, &why)) == 0)
		return;
	if (r == -1) {
		len = sizeof(ss);
		if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == -1) {
			ss.ss_family = AF_UNSPEC;
			len = sizeof(ss.ss_family);
		}
		admit_refused(c->listener, (struct sockaddr *)&ss, len, why, 1);
		conn_close(c, 0, why);
		return;
	}
	c->flags &= ~C_PROXY;
	c->timeout_ms = 0;
	conn_touch(c);
	timed_update(c);
	if (pf_conn_peer_addr(c, &ss, &len) == -1 || admit_client(c->listener,
	    (struct sockaddr *)&ss, len, &ref) == -1) {
		conn_close(c, 0, "refused");
		return;
	}
	c->ipl = ref;
	if (c->listener->conf->tls != NULL) {
		conn_tls_begin(c);
		/* The ClientHello may have come with the header. */
		if (conn_live(c))
			conn_tls_stage(c, EV_READ);
		return;
	}
	conn_announce(c);
	/* The client's first bytes may have come with the header. */
	conn_read(c, 1);
}
