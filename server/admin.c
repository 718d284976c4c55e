/*
 * admin.c -- the admin Unix socket: accepting operators, authorising them,
 * reading one request line, answering, closing.
 *
 * Trust: the socket file has mode admin_mode (0600 by default), and every
 * client's SO_PEERCRED uid must be root or the daemon's own.  A request
 * longer than ADMIN_MAX_LINE or binary is answered "ERR ..." and that
 * client only is closed; one not finished within ADMIN_TIMEOUT_S is
 * dropped.  A request ended by EOF instead of a newline is answered (the
 * client half-closed).  After an error reply the master shuts its side
 * down and reads until the client closes (bounded by ADMIN_LINGER_S), so
 * the reply is not lost to a reset when unread input remains.
 *
 * The "stats" listeners (HTTP) are served by server/httpstats.c, with
 * their own connection cap: nothing from the network takes admin slots.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/config.h"
#include "server/admin.h"
#include "server/linger.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/round.h"
#include "server/reload.h"
#include "server/sockbind.h"
#include "server/upgrade.h"
#include "worker/service.h"

#define ADMIN_MAX_CLIENTS	64
#define ADMIN_TIMEOUT_S		10
#define ADMIN_LINGER_S		2	/* after an error reply */

struct admin_client {
	LIST_ENTRY(admin_client) entry;
	struct bufferevent	*bev;
	struct admin_req	 req;
	int			 waiting;	/* for stats or a reload */
	int			 gone;		/* closed while waiting */
	int			 answered;
	int			 linger;	/* shut down, read to EOF after */
	int			 lingering;
};

static struct {
	struct event_base	*base;
	struct event		*ev;
	int			 fd;
	int			 inherited;	/* an upgrade's, until adopted */
	mode_t			 mode;
	pid_t			 owner;		/* who removes the file */
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	LIST_HEAD(, admin_client) clients;
	int			 nclients;
} a = { .fd = -1, .inherited = -1 };

static const char	*inherited_path(void);

static const struct {
	const char		*name;
	enum admin_cmd		 cmd;
	const char		*help;
} commands[] = {
	{ "help", ADMIN_HELP, "this list" },
	{ "status", ADMIN_STATUS, "master, workers and totals" },
	{ "workers", ADMIN_WORKERS, "one line per worker; workers N, +N, -N: "
	    "run N workers (until the next reload)" },
	{ "stats", ADMIN_STATS, "traffic counters" },
	{ "stop", ADMIN_STOP, "fast stop" },
	{ "quit", ADMIN_QUIT, "graceful stop: let connections finish" },
	{ "reload", ADMIN_RELOAD, "re-read the configuration; reload --canary "
	    "N: one new worker alone for N seconds first" },
	{ "reopen", ADMIN_REOPEN, "reopen the log in every process" },
	{ "upgrade", ADMIN_UPGRADE, "run the binary on disk as the new master" },
};

int
admin_parse(const char *line, size_t len, struct admin_req *req, char *err,
    size_t errlen)
{
	char	word[3][16];
	size_t	i, w = 0, n;

	memset(req, 0, sizeof(*req));
	req->canary_ms = -1;
	for (i = 0; i < len; i++) {
		if (!isprint((unsigned char)line[i])) {
			snprintf(err, errlen, "request is not text");
			return -1;
		}
	}
	for (i = 0; i < len;) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		if (w == 3) {
			snprintf(err, errlen, "too many words");
			return -1;
		}
		for (n = 0; i < len && line[i] != ' '; i++, n++) {
			if (n == sizeof(word[w]) - 1) {
				snprintf(err, errlen, "word too long");
				return -1;
			}
			word[w][n] = line[i];
		}
		word[w++][n] = '\0';
	}
	if (w == 0) {
		snprintf(err, errlen, "empty request; try 'help'");
		return -1;
	}
	/* "workers N", "+N", "-N": digits only, 1 to 4 of them, so the
	 * number cannot overflow; the range is the master's to judge. */
	if (w == 2 && strcmp(word[0], "workers") == 0 &&
	    strcmp(word[1], "--json") != 0) {
		const char	*p = word[1];

		req->relative = *p == '+' || *p == '-';
		p += req->relative;
		n = strspn(p, "0123456789");
		if (n == 0 || n > 4 || p[n] != '\0') {
			snprintf(err, errlen, "workers: '%s' is not a count: "
			    "N, +N or -N", word[1]);
			return -1;
		}
		req->cmd = ADMIN_RESIZE;
		req->nworkers = atoi(p) * (word[1][0] == '-' ? -1 : 1);
		return 0;
	}
	/* "reload --canary N": whole seconds, 0 (none) to 3600. */
	if (w == 3 && strcmp(word[0], "reload") == 0 &&
	    strcmp(word[1], "--canary") == 0) {
		n = strspn(word[2], "0123456789");
		if (n == 0 || n > 4 || word[2][n] != '\0' ||
		    atoi(word[2]) > 3600) {
			snprintf(err, errlen, "reload --canary: '%s' is not a "
			    "number of seconds from 0 to 3600", word[2]);
			return -1;
		}
		req->cmd = ADMIN_RELOAD;
		req->canary_ms = atoi(word[2]) * 1000;
		return 0;
	}
	if (w == 3) {
		snprintf(err, errlen, "too many words");
		return -1;
	}
	if (w == 2 && strcmp(word[0], "reload") == 0 &&
	    strcmp(word[1], "--canary") == 0) {
		snprintf(err, errlen, "reload --canary: how many seconds?");
		return -1;
	}
	if (w == 2 && strcmp(word[1], "--json") != 0) {
		snprintf(err, errlen, "unknown option '%s'", word[1]);
		return -1;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(word[0], commands[i].name) == 0) {
			req->cmd = commands[i].cmd;
			req->json = w == 2;
			return 0;
		}
	}
	snprintf(err, errlen, "unknown command '%s'; try 'help'", word[0]);
	return -1;
}

static void
client_free(struct admin_client *cl)
{
	LIST_REMOVE(cl, entry);
	bufferevent_free(cl->bev);
	free(cl);
	a.nclients--;
}

/* The reply is out: act on it, then close. */
static void
client_written(struct bufferevent *bev, void *arg)
{
	struct admin_client	*cl = arg;
	enum admin_cmd		 cmd = cl->req.cmd;

	if (!cl->answered || cl->lingering)
		return;
	if (cl->linger) {
		struct timeval	tv = { ADMIN_LINGER_S, 0 };

		cl->lingering = 1;
		if (bev_linger(bev, &tv) == -1)
			client_free(cl);
		return;
	}
	client_free(cl);
	if (cmd == ADMIN_STOP)
		master_stop(0);
	else if (cmd == ADMIN_QUIT)
		master_stop(1);
}

static void
client_answer(struct admin_client *cl)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);
	size_t		 i;

	cl->answered = 1;
	bufferevent_disable(cl->bev, EV_READ);
	switch (cl->req.cmd) {
	case ADMIN_HELP:
		evbuffer_add_printf(out, "OK\n");
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			evbuffer_add_printf(out, "%-8s %s\n", commands[i].name,
			    commands[i].help);
		break;
	case ADMIN_STATUS:
	case ADMIN_WORKERS:
	case ADMIN_STATS:
		evbuffer_add_printf(out, "OK\n");
		admin_report(out, &cl->req);
		break;
	case ADMIN_STOP:
	case ADMIN_QUIT:
		evbuffer_add_printf(out, "OK\n%s\n", cl->req.cmd == ADMIN_STOP ?
		    "stopping" : "stopping gracefully");
		log_info("admin: %s", cl->req.cmd == ADMIN_STOP ? "stop" :
		    "quit");
		break;
	case ADMIN_RELOAD:
	case ADMIN_REOPEN:
	case ADMIN_RESIZE:
	case ADMIN_UPGRADE:
	case ADMIN_CMD_MAX_:
		break;		/* answered by client_reloaded/_reopened */
	}
	bufferevent_enable(cl->bev, EV_WRITE);
}

static void
client_reloaded(void *arg, int ok, const char *result)
{
	struct admin_client	*cl = arg;

	cl->waiting = 0;
	if (cl->gone) {
		client_free(cl);
		return;
	}
	evbuffer_add_printf(bufferevent_get_output(cl->bev), "%s%s\n",
	    ok ? "OK\n" : "ERR ", result);
	client_answer(cl);
}

static void
client_reopened(void *arg, int missing)
{
	struct admin_client	*cl = arg;
	char			 msg[224];

	if (missing == 0)
		snprintf(msg, sizeof(msg), "log reopened by every process");
	else
		snprintf(msg, sizeof(msg), "%d workers did not reopen the "
		    "log%s%s", missing, *round_error(ROUND_REOPEN) != '\0' ?
		    ": " : " (no answer)", round_error(ROUND_REOPEN));
	client_reloaded(cl, missing == 0, msg);
}

static void
client_stats_ready(void *arg, int missing)
{
	struct admin_client	*cl = arg;

	cl->waiting = 0;
	if (cl->gone)
		client_free(cl);
	else
		client_answer(cl);
}

static void
client_error(struct admin_client *cl, const char *why)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);

	evbuffer_add_printf(out, "ERR %s\n", why);
	cl->answered = 1;
	cl->linger = 1;
	cl->req.cmd = ADMIN_HELP;
	bufferevent_disable(cl->bev, EV_READ);
	bufferevent_enable(cl->bev, EV_WRITE);
}

/* The answer comes from a callback; read nothing more meanwhile. */
static void
client_wait(struct admin_client *cl)
{
	cl->waiting = 1;
	bufferevent_disable(cl->bev, EV_READ);
}

/* One request line (no newline): answer it, now or from a callback. */
static void
client_line(struct admin_client *cl, const char *line, size_t len)
{
	char	err[128];

	if (len > ADMIN_MAX_LINE) {
		log_warnx("admin: request too long; answering and closing");
		client_error(cl, "request too long");
		return;
	}
	if (admin_parse(line, len, &cl->req, err, sizeof(err)) == -1) {
		client_error(cl, err);
		return;
	}
	switch (cl->req.cmd) {
	case ADMIN_STATUS:
	case ADMIN_WORKERS:
	case ADMIN_STATS:
		client_wait(cl);
		master_refresh_stats(client_stats_ready, cl);
		break;
	case ADMIN_RELOAD:
		client_wait(cl);
		master_reload("admin", cl->req.canary_ms, client_reloaded, cl);
		break;
	case ADMIN_RESIZE:
		client_wait(cl);
		log_info("admin: workers %s%d", cl->req.relative &&
		    cl->req.nworkers > 0 ? "+" : "", cl->req.nworkers);
		master_resize(cl->req.nworkers, cl->req.relative,
		    client_reloaded, cl);
		break;
	case ADMIN_UPGRADE:
		client_wait(cl);
		upgrade_start("admin", client_reloaded, cl);
		break;
	case ADMIN_REOPEN:
		client_wait(cl);
		if (master_reopen(client_reopened, cl, err, sizeof(err)) == -1)
			client_reloaded(cl, 0, err);
		break;
	default:
		client_answer(cl);
		break;
	}
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct admin_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 len;

	if (cl->lingering) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (cl->answered || cl->waiting)
		return;
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		/* No newline within the limit: it cannot become a request. */
		if (evbuffer_get_length(in) > ADMIN_MAX_LINE)
			client_line(cl, NULL, evbuffer_get_length(in));
		return;
	}
	client_line(cl, line, len);
	free(line);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct admin_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 len;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    !cl->lingering) {
		/* Half-closed: the reply still goes out. */
		if (cl->waiting || cl->answered)
			return;
		/* A last request ended by EOF, not by a newline. */
		if ((len = evbuffer_get_length(in)) > 0) {
			const char *line = len > ADMIN_MAX_LINE ? NULL :
			    (const char *)evbuffer_pullup(in, -1);

			if (line != NULL && line[len - 1] == '\r')
				len--;	/* as before a newline */
			client_line(cl, line, len);
			len = evbuffer_get_length(in);
			evbuffer_drain(in, len);
			if (cl->answered || cl->waiting)
				cl->linger = 0;	/* nothing more can come */
			return;
		}
	}
	if (cl->waiting) {
		cl->gone = 1;	/* freed when the answer arrives */
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !cl->lingering)
		log_warnx("admin: client timed out; dropping it");
	client_free(cl);
}

static int
client_allowed(int fd)
{
	struct ucred	cred;
	socklen_t	len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("admin: SO_PEERCRED");
		return 0;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return 1;
	log_warnx("admin: refused uid %ld (pid %ld)", (long)cred.uid,
	    (long)cred.pid);
	return 0;
}

static void
admin_accept(evutil_socket_t fd, short what, void *arg)
{
	struct admin_client	*cl;
	struct timeval		 tv = { ADMIN_TIMEOUT_S, 0 };
	int			 cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("admin: accept");
		return;
	}
	if (a.nclients >= ADMIN_MAX_CLIENTS || !client_allowed(cfd)) {
		if (a.nclients >= ADMIN_MAX_CLIENTS)
			log_warnx("admin: too many clients; refusing one");
		close(cfd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->bev = bufferevent_socket_new(a.base, cfd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warn("admin: client");
		free(cl);
		close(cfd);
		return;
	}
	a.nclients++;
	LIST_INSERT_HEAD(&a.clients, cl, entry);
	bufferevent_setcb(cl->bev, client_read, client_written, client_event,
	    cl);
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, ADMIN_MAX_LINE + 2);
	bufferevent_enable(cl->bev, EV_READ);
}

int
admin_open(struct event_base *base, const struct config *cfg)
{
	struct sockaddr_un	sun;
	mode_t			old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", cfg->admin_socket);
	snprintf(a.path, sizeof(a.path), "%s", cfg->admin_socket);
	a.base = base;
	a.mode = cfg->admin_mode;
	/* The socket of the master an upgrade replaces, at the same path:
	 * kept (its queue too), served once the upgrade commits. */
	if (a.inherited != -1 && strcmp(inherited_path(), a.path) == 0) {
		a.fd = a.inherited;
		a.inherited = -1;
		a.ev = event_new(base, a.fd, EV_READ | EV_PERSIST, admin_accept,
		    NULL);
		if (a.ev == NULL)
			goto err;
		log_info("admin socket %s: from the master we replace", a.path);
		return 0;
	}
	if (unix_path_free(a.path, "admin socket") == -1)
		return -1;
	a.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a.fd == -1) {
		log_warn("admin socket: socket");
		return -1;
	}
	/* Create it with the right mode: no window where it is wider. */
	old = umask(0777 & ~cfg->admin_mode);
	if (bind(a.fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("admin socket %s: bind", a.path);
		goto err;
	}
	umask(old);
	a.owner = getpid();
	if (chmod(a.path, cfg->admin_mode) == -1 || listen(a.fd, 16) == -1) {
		log_warn("admin socket %s", a.path);
		goto err;
	}
	a.ev = event_new(base, a.fd, EV_READ | EV_PERSIST, admin_accept, NULL);
	if (a.ev == NULL || event_add(a.ev, NULL) == -1) {
		log_warnx("admin socket: cannot add event");
		goto err;
	}
	log_info("admin socket %s", a.path);
	return 0;
err:
	admin_close();
	return -1;
}

void
admin_close(void)
{
	struct admin_client	*cl;

	/* An answer still queued as the master exits (an upgrade's) goes
	 * out, as far as the socket takes it; never from a new worker. */
	while ((cl = LIST_FIRST(&a.clients)) != NULL) {
		if (getpid() == master.pid)
			(void)evbuffer_write(bufferevent_get_output(cl->bev),
			    bufferevent_getfd(cl->bev));
		client_free(cl);
	}
	if (a.inherited != -1)
		close(a.inherited);
	a.inherited = -1;
	if (a.ev != NULL) {
		event_free(a.ev);
		a.ev = NULL;
	}
	if (a.fd != -1) {
		close(a.fd);
		a.fd = -1;
		if (a.owner == getpid() && unlink(a.path) == -1)
			log_warn("unlink %s", a.path);
		a.owner = 0;
	}
}

/* The path of the inherited admin socket, or "". */
static const char *
inherited_path(void)
{
	static struct sockaddr_un	sun;
	socklen_t			len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	if (a.inherited == -1 || getsockname(a.inherited,
	    (struct sockaddr *)&sun, &len) == -1 || sun.sun_family != AF_UNIX)
		return "";
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	return sun.sun_path;
}

int
admin_fd(void)
{
	return a.fd;
}

void
admin_inherit(int fd)
{
	/* Ours now: not for what this master may exec in its turn. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		log_warn("admin socket (inherited)");
	a.inherited = fd;
}

void
admin_pause(int on)
{
	if (a.ev != NULL && (on ? event_del(a.ev) :
	    event_add(a.ev, NULL)) == -1)
		log_warnx("admin socket: cannot %s it", on ? "pause" :
		    "resume");
}

void
admin_release(void)
{
	if (a.ev != NULL)
		event_free(a.ev);
	a.ev = NULL;
	if (a.fd != -1)
		close(a.fd);
	a.fd = -1;
	a.owner = 0;
}

void
admin_take_over(void)
{
	const char	*old = inherited_path();

	/* Our file now has another path, or none: the old one goes. */
	if (*old != '\0' && unlink(old) == -1 && errno != ENOENT)
		log_warn("unlink %s", old);
	if (a.inherited != -1)
		close(a.inherited);
	a.inherited = -1;
	if (a.fd == -1 || a.owner != 0)
		return;
	a.owner = getpid();
	if (chmod(a.path, a.mode) == -1)
		log_warn("admin socket %s: chmod", a.path);
	admin_pause(0);
}
