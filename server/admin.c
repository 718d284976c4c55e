/*
 * admin.c -- the admin Unix socket: accepting operators, authorising them,
 * reading one request line, answering, closing.
 *
 * Trust: the socket file has mode admin_mode (0600 by default), and every
 * client's SO_PEERCRED uid must be root or the daemon's own.  A request
 * longer than ADMIN_MAX_LINE, binary, or not finished within
 * ADMIN_TIMEOUT_S drops that client only.
 *
 * The same clients, with http set, serve the "stats" service: listeners
 * the master keeps for itself, answering "GET /metrics" (or "/") with the
 * Prometheus exposition of fresh counters, over HTTP/1.0.  Anyone who can
 * reach such a listener may read the counters, nothing else.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
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
#include "server/listeners.h"
#include "server/master.h"
#include "server/round.h"
#include "server/reload.h"
#include "worker/service.h"

#define ADMIN_MAX_CLIENTS	64
#define ADMIN_TIMEOUT_S		10
#define ADMIN_MAX_HTTP		8192	/* request line and headers */

struct admin_client {
	LIST_ENTRY(admin_client) entry;
	struct bufferevent	*bev;
	struct admin_req	 req;
	int			 waiting;	/* for stats or a reload */
	int			 http;		/* a stats listener's client */
	int			 gone;		/* closed while waiting */
	int			 answered;
};

static struct {
	struct event_base	*base;
	struct event		*ev;
	int			 fd;
	pid_t			 owner;		/* who removes the file */
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	LIST_HEAD(, admin_client) clients;
	int			 nclients;
	struct event		**stats;	/* accept on stats listeners */
	size_t			 nstats;
} a = { .fd = -1 };

static const struct {
	const char		*name;
	enum admin_cmd		 cmd;
	const char		*help;
} commands[] = {
	{ "help", ADMIN_HELP, "this list" },
	{ "status", ADMIN_STATUS, "master, workers and totals" },
	{ "workers", ADMIN_WORKERS, "one line per worker" },
	{ "stats", ADMIN_STATS, "traffic counters" },
	{ "stop", ADMIN_STOP, "fast stop" },
	{ "quit", ADMIN_QUIT, "graceful stop: let connections finish" },
	{ "reload", ADMIN_RELOAD, "re-read the configuration" },
	{ "reopen", ADMIN_REOPEN, "reopen the log in every process" },
};

int
admin_parse(const char *line, size_t len, struct admin_req *req, char *err,
    size_t errlen)
{
	char	word[2][16];
	size_t	i, w = 0, n;

	memset(req, 0, sizeof(*req));
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
		if (w == 2) {
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

	if (!cl->answered)
		return;
	client_free(cl);
	if (cmd == ADMIN_STOP)
		master_stop(0);
	else if (cmd == ADMIN_QUIT)
		master_stop(1);
}

static void
http_reply(struct evbuffer *out, const char *status, const char *type,
    struct evbuffer *body)
{
	evbuffer_add_printf(out, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type,
	    evbuffer_get_length(body));
	evbuffer_add_buffer(out, body);
}

static void
client_metrics(struct evbuffer *out)
{
	struct evbuffer	*body = evbuffer_new();

	if (body == NULL) {
		evbuffer_add_printf(out, "HTTP/1.0 500 Internal Server Error"
		    "\r\nConnection: close\r\n\r\n");
		return;
	}
	admin_report_prometheus(body);
	http_reply(out, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
	    body);
	evbuffer_free(body);
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
	case ADMIN_METRICS:
		client_metrics(out);
		break;
	case ADMIN_RELOAD:
	case ADMIN_REOPEN:
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
	struct evbuffer	*out = bufferevent_get_output(cl->bev), *body;

	if (!cl->http)
		evbuffer_add_printf(out, "ERR %s\n", why);
	else if ((body = evbuffer_new()) != NULL) {
		evbuffer_add_printf(body, "%s\n", why + 4);
		/* why is "NNN reason": the status line and the text. */
		http_reply(out, why, "text/plain", body);
		evbuffer_free(body);
	}
	cl->answered = 1;
	cl->req.cmd = ADMIN_HELP;
	bufferevent_disable(cl->bev, EV_READ);
}

/*
 * An HTTP request: wait for the blank line ending the headers, then judge
 * the request line only.  -1 if incomplete, 0 when cl->req is set, 1 when
 * an error was answered.
 */
static int
http_request(struct admin_client *cl, struct evbuffer *in)
{
	struct evbuffer_ptr	 end;
	char			*line;
	size_t			 len;
	int			 rc = 1;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos == -1)
		return -1;
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) == NULL)
		return -1;
	if (strncmp(line, "GET ", 4) != 0)
		client_error(cl, "405 Method Not Allowed");
	else if (strncmp(strchr(line, ' ') + 1, "/metrics ", 9) != 0 &&
	    strncmp(strchr(line, ' ') + 1, "/ ", 2) != 0)
		client_error(cl, "404 Not Found");
	else {
		cl->req.cmd = ADMIN_METRICS;
		rc = 0;
	}
	free(line);
	return rc;
}

/* The answer comes from a callback; read nothing more meanwhile. */
static void
client_wait(struct admin_client *cl)
{
	cl->waiting = 1;
	bufferevent_disable(cl->bev, EV_READ);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct admin_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line, err[128];
	size_t			 len;

	if (cl->answered || cl->waiting)
		return;
	if (cl->http) {
		if (evbuffer_get_length(in) > ADMIN_MAX_HTTP) {
			client_error(cl, "431 Request Header Fields Too Large");
			return;
		}
		if (http_request(cl, in) != 0)
			return;
		client_wait(cl);
		master_refresh_stats(client_stats_ready, cl);
		return;
	}
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > ADMIN_MAX_LINE) {
			log_warnx("admin: request too long; dropping client");
			client_free(cl);
		}
		return;
	}
	if (len > ADMIN_MAX_LINE ||
	    admin_parse(line, len, &cl->req, err, sizeof(err)) == -1) {
		client_error(cl, len > ADMIN_MAX_LINE ? "request too long" :
		    err);
		free(line);
		return;
	}
	free(line);
	switch (cl->req.cmd) {
	case ADMIN_STATUS:
	case ADMIN_WORKERS:
	case ADMIN_STATS:
		client_wait(cl);
		master_refresh_stats(client_stats_ready, cl);
		break;
	case ADMIN_RELOAD:
		client_wait(cl);
		reload_start("admin", client_reloaded, cl);
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
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct admin_client	*cl = arg;

	if (cl->waiting) {
		cl->gone = 1;	/* freed when the stats arrive */
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
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
	int			 cfd, http = arg != NULL;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("admin: accept");
		return;
	}
	if (a.nclients >= ADMIN_MAX_CLIENTS || (!http && !client_allowed(cfd))) {
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
	cl->http = http;
	LIST_INSERT_HEAD(&a.clients, cl, entry);
	bufferevent_setcb(cl->bev, client_read, client_written, client_event,
	    cl);
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, http ?
	    ADMIN_MAX_HTTP + 1 : ADMIN_MAX_LINE + 2);
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

static void
stats_close(void)
{
	size_t	i;

	for (i = 0; i < a.nstats; i++)
		event_free(a.stats[i]);
	free(a.stats);
	a.stats = NULL;
	a.nstats = 0;
}

int
admin_listen_stats(struct event_base *base, const struct config *cfg,
    const struct lsock *ls)
{
	size_t	i;

	stats_close();
	a.base = base;
	if ((a.stats = calloc(cfg->nlisteners, sizeof(*a.stats))) == NULL) {
		log_warn("stats listeners");
		return -1;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		if (strcmp(cfg->listeners[i].service, SERVICE_STATS) != 0)
			continue;
		a.stats[a.nstats] = event_new(base, ls[i].fds[0],
		    EV_READ | EV_PERSIST, admin_accept, (void *)1);
		if (a.stats[a.nstats] == NULL ||
		    event_add(a.stats[a.nstats], NULL) == -1) {
			log_warnx("stats listener %s: cannot add event",
			    cfg->listeners[i].name);
			if (a.stats[a.nstats] != NULL)
				event_free(a.stats[a.nstats]);
			continue;
		}
		a.nstats++;
	}
	return 0;
}

void
admin_close(void)
{
	stats_close();
	while (!LIST_EMPTY(&a.clients))
		client_free(LIST_FIRST(&a.clients));
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
