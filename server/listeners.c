/*
 * listeners.c -- the master's listening sockets, which outlive any one
 * configuration.
 *
 * A reload is a transaction here too: listeners_prepare() reuses the
 * sockets the new configuration keeps (never closed, never re-bound) and
 * binds the new ones without listening, so the kernel queues no client on
 * them yet; listeners_listen() opens them once the reload commits, and
 * listeners_commit() makes that the current set and retires the sockets
 * it dropped; listeners_abort() closes what prepare bound, which no client
 * could reach.
 *
 * A retired socket must take no new client, yet the ones already queued
 * must still be accepted: it gets a filter that drops every packet (a
 * SYN is not answered; the client retries and, once the socket is closed,
 * is refused), or for a Unix socket its path is removed.  Draining workers
 * accept what was queued and close their copies; listeners_reap() closes
 * the master's once no worker that held it is left undrained.
 *
 * Sockets passed by systemd (LISTEN_PID/LISTEN_FDS) are adopted under the
 * name a configured listener bound there would have, so prepare() uses
 * one the configuration lists instead of binding; the others are retired
 * at the first commit and closed like any removed listener.  A binary
 * upgrade (upgrade.c) hands every socket to the new master the same way:
 * it adopts them by address, paths and all, and closes those its
 * configuration lacks only once it commits, like any removed listener.
 *
 * Binding: IPv6 sockets are v6-only so "::" and "0.0.0.0" can both be
 * listed; sockets are non-blocking (workers accept until EAGAIN); an
 * existing Unix socket file is replaced only if nobody answers on it.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/listeners.h"
#include "server/sockbind.h"
#include "worker/service.h"

struct msock {
	TAILQ_ENTRY(msock)	 entry;
	int			*fds;		/* one, or one per slot */
	int			 nfds;
	int			 committed;	/* nfds before this prepare */
	int			 listening;	/* fds[0..listening) listen */
	int			 reuseport;
	int			 steer_failed;	/* logged once */
	int			 is_unix;
	int			 backlog;
	int			 pending;	/* bound by prepare, uncommitted */
	int			 adopted;	/* socket activation: not ours
						   to unlink */
	int			 retired;	/* not in the current config */
	int			 stats;		/* the master's own (HTTP) */
	int			 inherited;	/* from an upgrade, not yet
						   committed */
	uint32_t		 first_gen;	/* first generation using it */
	uint32_t		 retired_gen;	/* last generation using it */
	char			 name[128];
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static TAILQ_HEAD(, msock) socks = TAILQ_HEAD_INITIALIZER(socks);
static int	steer_frozen;	/* handing over: the new master steers */

static int
msock_is(const struct msock *ms, const struct listen_conf *lc)
{
	return ms->is_unix == (lc->path != NULL) &&
	    strcmp(ms->name, lc->name) == 0;
}

static struct msock *
msock_find(const struct listen_conf *lc)
{
	struct msock	*ms;

	TAILQ_FOREACH(ms, &socks, entry) {
		if (msock_is(ms, lc))
			return ms;
	}
	return NULL;
}

/*
 * What a reload may change on a kept set, applied to each socket.
 * Accepted connections inherit TCP_NODELAY from the listening socket:
 * setting it here spares the workers a setsockopt per connection.
 */
static void
msock_apply(struct msock *ms, const struct listen_conf *lc)
{
	int	j, nodelay = lc->tcp_nodelay;

	for (j = 0; j < ms->nfds; j++) {
		if (lc->backlog != ms->backlog &&
		    listen(ms->fds[j], lc->backlog) == -1)
			log_warn("listener %s: backlog %d", ms->name,
			    lc->backlog);
		if (!ms->is_unix && setsockopt(ms->fds[j], IPPROTO_TCP,
		    TCP_NODELAY, &nodelay, sizeof(nodelay)) == -1)
			log_warn("listener %s: TCP_NODELAY", ms->name);
	}
	ms->backlog = lc->backlog;
}

static void
msock_close(struct msock *ms)
{
	int	i;

	TAILQ_REMOVE(&socks, ms, entry);
	for (i = 0; i < ms->nfds; i++)
		close(ms->fds[i]);
	free(ms->fds);
	if (ms->is_unix && !ms->adopted && unlink(ms->path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", ms->path);
	free(ms);
}

/*
 * One listening socket handed to us: by systemd (a set of its own), or by
 * the master we replace (inherited: joins the set of its name, one socket
 * per slot, in the order given).  A socket that is not a listening stream
 * socket is closed.  -1 only if memory runs out.
 */
int
listeners_adopt_fd(int fd, int inherited)
{
	struct sockaddr_storage	 ss;
	struct msock		*ms = NULL, *m;
	socklen_t		 len = sizeof(ss), olen = sizeof(int);
	char			 name[sizeof(ms->name)];
	char			 path[sizeof(ms->path)] = "";
	int			*fds, type, listening, rp = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &olen) == -1 ||
	    type != SOCK_STREAM || !listening ||
	    sock_name(&ss, name, sizeof(name), path, sizeof(path)) == -1 ||
	    (inherited && getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &rp,
	    &olen) == -1) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warnx("%s: fd %d is not a listening stream socket we can "
		    "use; closing it", inherited ? "upgrade" :
		    "socket activation", fd);
		close(fd);
		return 0;
	}
	TAILQ_FOREACH(m, &socks, entry) {
		if (inherited && m->inherited && strcmp(m->name, name) == 0)
			ms = m;
	}
	if (ms == NULL && (ms = calloc(1, sizeof(*ms))) != NULL) {
		snprintf(ms->name, sizeof(ms->name), "%s", name);
		snprintf(ms->path, sizeof(ms->path), "%s", path);
		ms->is_unix = ss.ss_family == AF_UNIX;
		ms->adopted = 1;	/* its path is ours once we serve */
		ms->inherited = inherited;
		ms->reuseport = rp != 0;
		ms->backlog = -1;
		TAILQ_INSERT_TAIL(&socks, ms, entry);
		log_info("listener %s: from %s (fd %d)", name, inherited ?
		    "the master we replace" : "socket activation", fd);
	}
	if (ms == NULL || (fds = reallocarray(ms->fds, ms->nfds + 1,
	    sizeof(*fds))) == NULL) {
		log_warn("listener %s", name);
		close(fd);
		return -1;
	}
	ms->fds = fds;
	ms->fds[ms->nfds++] = fd;
	ms->committed = ms->listening = ms->nfds;
	return 0;
}

int
listeners_adopt(void)
{
	const char	*pid = getenv("LISTEN_PID");
	const char	*nfds = getenv("LISTEN_FDS");
	int		 fd, n;

	if (pid == NULL || nfds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atoi(nfds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (fd = 3; fd < 3 + n; fd++) {
		if (listeners_adopt_fd(fd, 0) == -1)
			return -1;
	}
	return 0;
}

int
listeners_each(int (*fn)(int fd, const char *name, void *arg), void *arg)
{
	struct msock	*ms;
	int		 i;

	TAILQ_FOREACH(ms, &socks, entry) {
		for (i = 0; !ms->retired && !ms->pending && i < ms->nfds; i++) {
			if (fn(ms->fds[i], ms->name, arg) == -1)
				return -1;
		}
	}
	return 0;
}

void
listeners_freeze(int on)
{
	steer_frozen = on;
}

/* Bind ms's sockets up to n (reuseport) or its one socket. */
static int
msock_grow(struct msock *ms, const struct listen_conf *lc, int n)
{
	int	*fds, fd;

	if (!ms->reuseport || n < 1)
		n = 1;
	if (ms->nfds >= n)
		return 0;
	if ((fds = reallocarray(ms->fds, n, sizeof(*fds))) == NULL) {
		log_warn("listener %s", lc->name);
		return -1;
	}
	ms->fds = fds;
	if (ms->nfds == 0 && ms->reuseport && listener_bind(lc, 0, 1) == -1)
		return -1;
	while (ms->nfds < n) {
		if ((fd = listener_bind(lc, ms->reuseport, 0)) == -1)
			return -1;
		ms->fds[ms->nfds++] = fd;
	}
	return 0;
}

static int
lsock_fill(struct lsock *l, const struct msock *ms)
{
	if ((l->fds = calloc(ms->nfds, sizeof(*l->fds))) == NULL) {
		log_warn("listener %s", ms->name);
		return -1;
	}
	memcpy(l->fds, ms->fds, ms->nfds * sizeof(*l->fds));
	l->nfds = ms->nfds;
	return 0;
}

int
listeners_prepare(const struct config *cfg, struct lsock *ls, int nworkers)
{
	const struct listen_conf	*lc;
	struct msock			*ms;
	size_t				 i;
	int				 rp;

	for (i = 0; i < cfg->nlisteners; i++) {
		lc = &cfg->listeners[i];
		ls[i].conf = lc;
		/* The master serves stats itself: one socket. */
		rp = lc->reuseport && lc->path == NULL &&
		    strcmp(lc->service, SERVICE_STATS) != 0;
		if ((ms = msock_find(lc)) == NULL) {
			if ((ms = calloc(1, sizeof(*ms))) == NULL) {
				log_warn("listener %s", lc->name);
				goto err;
			}
			ms->is_unix = lc->path != NULL;
			ms->pending = 1;
			ms->backlog = lc->backlog;
			ms->reuseport = rp;
			snprintf(ms->name, sizeof(ms->name), "%s", lc->name);
			if (lc->path != NULL)
				snprintf(ms->path, sizeof(ms->path), "%s",
				    lc->path);
			TAILQ_INSERT_TAIL(&socks, ms, entry);
			log_info("listening on %s (%s)", lc->name,
			    lc->service);
		} else if (ms->reuseport != rp)
			log_warnx("listener %s: reuseport can only change at "
			    "a restart; still %s", lc->name, ms->reuseport ?
			    "one socket per worker" : "one shared socket");
		ms->stats = strcmp(lc->service, SERVICE_STATS) == 0;
		if (msock_grow(ms, lc, nworkers) == -1 ||
		    lsock_fill(&ls[i], ms) == -1)
			goto err;
	}
	return 0;
err:
	for (i = 0; i < cfg->nlisteners; i++) {
		free(ls[i].fds);
		ls[i].fds = NULL;
	}
	listeners_abort();
	return -1;
}

void
lsocks_free(struct lsock *ls, size_t n)
{
	size_t	i;

	if (ls == NULL)
		return;
	for (i = 0; i < n; i++)
		free(ls[i].fds);
	free(ls);
}

void
listeners_abort(void)
{
	struct msock	*ms, *next;

	for (ms = TAILQ_FIRST(&socks); ms != NULL; ms = next) {
		next = TAILQ_NEXT(ms, entry);
		if (ms->pending) {
			msock_close(ms);
			continue;
		}
		while (ms->nfds > ms->committed)
			close(ms->fds[--ms->nfds]);
		if (ms->listening > ms->nfds)
			ms->listening = ms->nfds;
	}
}

int
listeners_listen(void)
{
	struct msock	*ms;

	TAILQ_FOREACH(ms, &socks, entry) {
		for (; ms->listening < ms->nfds; ms->listening++) {
			if (listen(ms->fds[ms->listening], ms->backlog) == -1) {
				log_warn("listener %s: listen", ms->name);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Refuse new clients (on) or take them again (off).  The classic BPF
 * program sees the TCP header and drops a SYN without ACK, so no new
 * handshake starts; segments of handshakes already begun pass, and those
 * clients reach the accept queue, where the draining workers' last sweep
 * finds them.
 */
static void
msock_filter(struct msock *ms, int on)
{
	struct sock_filter	nosyn[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),	/* TCP flags */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),	/* SYN|ACK */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog	fprog;
	int			i, rc, dummy = 0;

	memset(&fprog, 0, sizeof(fprog));
	fprog.len = sizeof(nosyn) / sizeof(nosyn[0]);
	fprog.filter = nosyn;
	for (i = 0; i < ms->nfds; i++) {
		rc = on ? setsockopt(ms->fds[i], SOL_SOCKET, SO_ATTACH_FILTER,
		    &fprog, sizeof(fprog)) : setsockopt(ms->fds[i], SOL_SOCKET,
		    SO_DETACH_FILTER, &dummy, sizeof(dummy));
		if (rc == -1 && (on || errno != ENOENT))
			log_warn("listener %s: %s filter", ms->name,
			    on ? "attach" : "detach");
	}
}

/* No new client from now on; the queued ones wait for the drain. */
static void
msock_retire(struct msock *ms, uint32_t last_gen)
{
	ms->retired = 1;
	ms->retired_gen = last_gen;
	if (ms->is_unix) {
		/* Clients connect by path; a re-added one binds anew. */
		if (!ms->adopted && unlink(ms->path) == -1 && errno != ENOENT)
			log_warn("unlink %s", ms->path);
		ms->adopted = 1;	/* its path is not ours any more */
		ms->name[0] = '\0';
	} else
		msock_filter(ms, 1);
}

void
listeners_retire_all(uint32_t last_gen)
{
	struct msock	*ms;

	/* The master's stats listeners answer until it exits: /health
	 * says 503 "stopping" meanwhile. */
	TAILQ_FOREACH(ms, &socks, entry) {
		/* Inherited and not committed: the master that handed it to
		 * us (an upgrade) still serves it. */
		if (!ms->retired && !ms->stats && !ms->inherited)
			msock_retire(ms, last_gen);
	}
}

void
listeners_unfilter(void)
{
	struct msock	*ms;

	TAILQ_FOREACH(ms, &socks, entry) {
		if (!ms->retired && !ms->is_unix)
			msock_filter(ms, 0);
	}
}

void
listeners_commit(const struct config *cfg, uint32_t new_gen)
{
	struct msock	*ms;
	size_t		 i;

	TAILQ_FOREACH(ms, &socks, entry) {
		/* An upgrade commits: the inherited paths are ours now. */
		if (ms->inherited)
			ms->adopted = ms->inherited = 0;
		if (ms->pending)
			ms->first_gen = new_gen;
		ms->pending = 0;
		ms->committed = ms->nfds;
		for (i = 0; i < cfg->nlisteners; i++) {
			if (msock_is(ms, &cfg->listeners[i]))
				break;
		}
		if (i == cfg->nlisteners) {
			if (!ms->retired) {
				log_info("listener %s removed; closing it once "
				    "its workers have drained", ms->name);
				msock_retire(ms, new_gen - 1);
			}
			continue;
		}
		if (ms->retired)	/* brought back */
			msock_filter(ms, 0);
		ms->retired = 0;
		msock_apply(ms, &cfg->listeners[i]);
	}
}

/*
 * Steer new clients of every reuseport set to the sockets some worker
 * accepts on (live[i]: slot i has one ready), with a classic BPF program:
 * a random pick among them.  The kernel would hash a client to any socket
 * of the set, including one whose worker died, or one only kept for its
 * queue after the worker count shrank.  With none live, the program
 * returns an index past the set and the kernel falls back to its hash.
 */
void
listeners_steer(const unsigned char *live, int nlive)
{
	struct sock_filter	 prog[2 + 2 * CONFIG_WORKERS_MAX + 1];
	struct sock_fprog	 fprog;
	struct msock		*ms;
	int			 idx[CONFIG_WORKERS_MAX];
	int			 n, i, k;

	TAILQ_FOREACH(ms, &socks, entry) {
		if (steer_frozen)
			break;
		/* Even a set of one: a socket bound for more workers joins
		 * the set under this program, not under the kernel's hash. */
		if (!ms->reuseport || ms->retired)
			continue;
		for (n = i = 0; i < ms->nfds && i < nlive; i++) {
			if (live[i])
				idx[n++] = i;
		}
		k = 0;
		if (n == 0)
			prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
			    UINT32_MAX);
		else {
			prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD |
			    BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_RANDOM);
			prog[k++] = (struct sock_filter)BPF_STMT(BPF_ALU |
			    BPF_MOD | BPF_K, n);
			for (i = 0; i < n - 1; i++) {
				prog[k++] = (struct sock_filter)BPF_JUMP(
				    BPF_JMP | BPF_JEQ | BPF_K, i, 0, 1);
				prog[k++] = (struct sock_filter)BPF_STMT(
				    BPF_RET | BPF_K, idx[i]);
			}
			prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET |
			    BPF_K, idx[n - 1]);
		}
		memset(&fprog, 0, sizeof(fprog));	/* its padding too */
		fprog.len = k;
		fprog.filter = prog;
		if (setsockopt(ms->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
		    &fprog, sizeof(fprog)) == -1 && !ms->steer_failed) {
			ms->steer_failed = 1;
			log_warn("listener %s: cannot steer clients away from "
			    "idle sockets (SO_ATTACH_REUSEPORT_CBPF)",
			    ms->name);
		}
	}
}

void
listeners_reap(int (*held)(uint32_t first_gen, uint32_t last_gen))
{
	struct msock	*ms, *next;

	for (ms = TAILQ_FIRST(&socks); ms != NULL; ms = next) {
		next = TAILQ_NEXT(ms, entry);
		if (ms->retired && !held(ms->first_gen, ms->retired_gen)) {
			log_info("listener %s closed", ms->name[0] != '\0' ?
			    ms->name : ms->path);
			msock_close(ms);
		}
	}
}

void
listeners_close_all(void)
{
	while (!TAILQ_EMPTY(&socks))
		msock_close(TAILQ_FIRST(&socks));
}

/* Is fd one of the set's?  Only at a fork, so a plain search. */
static int
lsocks_have(const struct lsock *ls, size_t n, int fd)
{
	size_t	i;
	int	j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < ls[i].nfds; j++) {
			if (ls[i].fds[j] == fd)
				return 1;
		}
	}
	return 0;
}

void
listeners_forget(const struct lsock *keep, size_t n)
{
	struct msock	*ms;
	int		 j;

	while ((ms = TAILQ_FIRST(&socks)) != NULL) {
		TAILQ_REMOVE(&socks, ms, entry);
		for (j = 0; j < ms->nfds; j++) {
			if (!lsocks_have(keep, n, ms->fds[j]))
				close(ms->fds[j]);
		}
		free(ms->fds);
		free(ms);
	}
}
