/*
 * listener.c -- accepting on a listener's inherited sockets: the shared
 * one, or this worker's share of a reuseport set.
 *
 * Accepts in a bounded batch per wakeup.  When the process runs out of
 * descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the accept
 * event is removed and re-armed from a timer with growing backoff, so a
 * worker at its limit neither spins nor floods the log; the pending clients
 * wait in the kernel's queue meanwhile.
 */
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cidr.h"
#include "common/iplimit.h"
#include "common/log.h"
#include "worker/admit.h"
#include "worker/conn.h"
#include "worker/listener.h"
#include "worker/module.h"

#define ACCEPT_BATCH		64
#define ACCEPT_BACKOFF_MIN_MS	50
#define ACCEPT_BACKOFF_MAX_MS	1000

static void
listener_retry(evutil_socket_t fd, short what, void *arg)
{
	if (listener_start(arg) == -1)
		log_warnx("listener %s: cannot re-arm accept",
		    ((struct pf_listener *)arg)->conf->name);
}

static void
listener_backoff(struct pf_listener *l, int err)
{
	struct timeval	tv;
	uint64_t	now = worker_now_ms();

	if (now >= l->backoff_quiet_ms) {
		l->backoff_quiet_ms = now + 1000;
		errno = err;
		log_warn("accept on %s: pausing for %u ms", l->conf->name,
		    l->backoff_ms);
	}
	listener_stop(l);
	clock_ms_to_tv(l->backoff_ms, &tv);
	evtimer_add(l->retry, &tv);
	l->backoff_ms *= 2;
	if (l->backoff_ms > ACCEPT_BACKOFF_MAX_MS)
		l->backoff_ms = ACCEPT_BACKOFF_MAX_MS;
}

/* A PROXY listener: only a trusted balancer may speak for clients; the
 * client is judged once its header has said who it is. */
static void
listener_proxied(struct pf_listener *l, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	const struct listen_conf	*lc = l->conf;

	if (sa->sa_family != AF_UNIX && !cidr_match_any(lc->proxy_trusted,
	    lc->nproxy_trusted, sa)) {
		admit_refused(l, sa, salen, "not a trusted PROXY sender",
		    1);
		close(fd);
		return;
	}
	conn_accepted(l, fd, NULL, sa, salen);
}

/*
 * Accept up to max clients queued on fd.  The capacity check is skipped
 * by the final sweep of a draining worker: the kernel already completed
 * those handshakes, and the listener may have nobody else to accept them.
 */
static void
listener_take(struct pf_listener *l, int fd, int max, int capped)
{
	struct sockaddr_storage	 ss;
	struct ipl_ref		 ref;
	socklen_t		 len;
	int			 i, cfd;

	for (i = 0; i < max; i++) {
		if (capped && l->w->at_capacity != NULL &&
		    l->w->at_capacity(l->w))
			return;
		len = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				if (capped)
					listener_backoff(l, errno);
				return;
			case EAGAIN:
				break;
			default:
				log_warn("accept on %s", l->conf->name);
				break;
			}
			break;
		}
		l->backoff_ms = ACCEPT_BACKOFF_MIN_MS;
		l->w->stats.accepts++;
		if (l->conf->proxy_protocol)
			listener_proxied(l, cfd, (struct sockaddr *)&ss, len);
		else if (admit_client(l, (struct sockaddr *)&ss, len,
		    &ref) == 0)
			conn_accepted(l, cfd, &ref, (struct sockaddr *)&ss,
			    len);
		else
			close(cfd);
	}
}

static void
listener_accept(evutil_socket_t fd, short what, void *arg)
{
	listener_take(arg, fd, ACCEPT_BATCH, 1);
}

struct pf_listener *
listener_new(struct wctx *w, const struct lsock *ls, int slot, int nslots)
{
	struct pf_listener	*l;
	int			 i;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->ev = calloc(ls->nfds, sizeof(*l->ev))) == NULL ||
	    (l->use = calloc(ls->nfds, sizeof(*l->use))) == NULL) {
		log_warn("listener %s", ls->conf->name);
		if (l != NULL)
			free(l->ev);
		free(l);
		return NULL;
	}
	emitter_init(&l->em, l);
	l->w = w;
	l->conf = ls->conf;
	l->backoff_ms = ACCEPT_BACKOFF_MIN_MS;
	l->slot = slot;
	l->nslots = nslots > 0 ? nslots : 1;
	for (l->nev = 0; l->nev < ls->nfds; l->nev++) {
		i = l->nev;
		l->use[i] = ls->nfds == 1 || i % l->nslots == slot;
		if ((l->ev[i] = event_new(w->base, ls->fds[i],
		    EV_READ | EV_PERSIST, listener_accept, l)) == NULL)
			goto fail;
	}
	if ((l->retry = evtimer_new(w->base, listener_retry, l)) ==
	    NULL)
		goto fail;
	return l;
fail:
	log_warnx("listener %s: cannot create events", l->conf->name);
	listener_free(l);
	return NULL;
}

void
listener_free(struct pf_listener *l)
{
	int	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nev; i++)
		event_free(l->ev[i]);
	free(l->ev);
	free(l->use);
	if (l->retry != NULL)
		event_free(l->retry);
	emitter_clear(&l->em);
	free(l);
}

/*
 * A socket the master bound but has not made listen yet (new in a
 * canary's file: it listens at the commit) would poll as hung up and
 * fail every accept.  Asked only when accepting (re)starts, not per
 * client.
 */
static int
sock_listening(int fd)
{
	int		on = 0;
	socklen_t	len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	    on;
}

int
listener_start(struct pf_listener *l)
{
	int	i;

	l->running = 1;
	for (i = 0; i < l->nev; i++) {
		if (!l->use[i] || !sock_listening(event_get_fd(l->ev[i])))
			continue;
		if (event_add(l->ev[i], NULL) == -1) {
			log_warnx("listener %s: cannot add accept event",
			    l->conf->name);
			listener_stop(l);	/* all or nothing */
			return -1;
		}
	}
	return 0;
}

/* Stop accepting; the sockets stay open, they belong to the master. */
void
listener_stop(struct pf_listener *l)
{
	int	i;

	l->running = 0;
	for (i = 0; i < l->nev; i++)
		event_del(l->ev[i]);
	event_del(l->retry);
}

/*
 * A draining worker: first take in what the kernel already queued on this
 * worker's sockets (sweep: it was accepting), since the listener may be
 * gone from the new configuration with nobody else to accept them; then
 * close this process's copies of the whole set, so that once the master
 * closes its own the socket is really closed and refuses new clients.
 */
void
listener_release(struct pf_listener *l, int sweep)
{
	int	i, fd;

	listener_stop(l);
	for (i = 0; i < l->nev; i++) {
		fd = event_get_fd(l->ev[i]);
		if (sweep && l->use[i] && sock_listening(fd))
			listener_take(l, fd, l->conf->backlog > 0 ?
			    l->conf->backlog : ACCEPT_BATCH, 0);
		event_free(l->ev[i]);
		close(fd);
	}
	l->nev = 0;
}

int
listener_retired(const struct pf_listener *l)
{
	socklen_t	len = 0;

	/* SO_GET_FILTER with no buffer gives the program's length; the
	 * reuseport steering program is not a socket filter. */
	if (l->nev == 0 || getsockopt(event_get_fd(l->ev[0]), SOL_SOCKET,
	    SO_GET_FILTER, NULL, &len) == -1)
		return 0;
	return len > 0;
}

void
listener_cover(struct pf_listener *l, int slot, int on)
{
	int	i;

	if (l->nev < 2 || slot == l->slot)
		return;
	for (i = slot; i >= 0 && i < l->nev; i += l->nslots) {
		l->use[i] = on != 0;
		if (!l->running)
			continue;
		if (on)
			event_add(l->ev[i], NULL);
		else
			event_del(l->ev[i]);
	}
}

struct pf_emitter *
pf_listener_emitter(struct pf_listener *l)
{
	return &l->em;
}

const struct pf_settings *
pf_listener_settings(const struct pf_listener *l)
{
	return module_settings(l->conf->service);
}

const char *
pf_listener_name(const struct pf_listener *l)
{
	return l->conf->name;
}
