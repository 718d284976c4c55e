/*
 * admit.c -- who may become a client of a listener: allow and deny lists
 * and the per-address limit, judged on the client's real address (the
 * transport peer, or what a trusted PROXY header said), and the one way a
 * refused client is reported.
 */
#include <sys/socket.h>

#include <stdint.h>

#include "common/cidr.h"
#include "common/iplimit.h"
#include "common/log.h"
#include "worker/accesslog.h"
#include "worker/admit.h"
#include "worker/listener.h"

/*
 * A refused client: counted, reported as "drop" (ev->data/len: its
 * address, ev->msg: why) and logged.  Policy refusals (deny, allow, per-
 * address limits) are expected and logged at debug; a broken PROXY header
 * or an untrusted sender of one means a misconfigured balancer or a probe,
 * worth an info line, but at most one a second so a flood cannot fill the
 * log.  The caller closes the connection.
 */
void
admit_refused(struct pf_listener *l, const struct sockaddr *sa,
    socklen_t salen, const char *why, int loud)
{
	struct pf_event_arg	 arg = { 0 };
	char			 peer[128];
	uint64_t		 now;

	l->w->stats.drops++;
	if (l->conf->alog_file != NULL)
		accesslog_refused(l->w->alog, l->conf, sa, salen, why);
	arg.data = sa;
	arg.len = salen;
	arg.msg = why;
	pf_emit(&l->em, PF_EV_DROP, &arg);
	if (loud && log_enabled(LOG_LEVEL_INFO)) {
		now = worker_now_ms();
		if (l->quiet_until_ms > now) {
			l->quieted++;
			return;
		}
		l->quiet_until_ms = now + 1000;
		log_info("%s: refused %s: %s%s", l->conf->name,
		    pf_addr_str(sa, salen, peer, sizeof(peer)), why,
		    l->quieted > 0 ? " (and others not logged)" : "");
		l->quieted = 0;
	} else if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("%s: refused %s: %s", l->conf->name,
		    pf_addr_str(sa, salen, peer, sizeof(peer)), why);
}

/*
 * Judge a new client before any service sees it: deny, then allow, then
 * the per-address count.  sa is the client's address: the transport peer,
 * or what its PROXY header said.
 */
int
admit_client(struct pf_listener *l, const struct sockaddr *sa,
    socklen_t salen, struct ipl_ref *ref)
{
	const struct listen_conf	*lc = l->conf;
	const char			*why = NULL;

	ref->idx[0] = ref->idx[1] = UINT16_MAX;
	if (sa->sa_family == AF_UNIX)
		return 0;
	if (lc->ndeny > 0 && cidr_match_any(lc->deny, lc->ndeny, sa))
		why = "address denied";
	else if (lc->nallow > 0 && !cidr_match_any(lc->allow, lc->nallow, sa))
		why = "address not allowed";
	else if (lc->max_per_ip > 0 &&
	    iplimit_acquire(sa, lc->max_per_ip, ref) == -1)
		why = "too many connections from this address";
	if (why == NULL)
		return 0;
	admit_refused(l, sa, salen, why, 0);
	return -1;
}
