/*
 * httpstats.c -- the "stats" listeners: the master's small HTTP server
 * for GET/HEAD /metrics (or /) and /health.
 *
 * Our own parser and bufferevents, not libevent's evhttp: evhttp in 2.1
 * has no cap on connections (every accepted one gets a struct and a
 * buffer, and 70 idle clients cost what the operator cannot bound), no
 * hook between accept and the connection to apply a listener's
 * allow/deny and per-address limit, and no deadline for the whole
 * request (its timeout restarts on every byte, so a slow client keeps a
 * slot for ever).  What we need of HTTP is one request line and headers
 * to skip; http_parse does that as a pure function, tested and fuzzed
 * without sockets.
 *
 * Limits: at most HS_MAX_CLIENTS connections for all stats listeners
 * together, never taken from the admin socket's; the listener's allow,
 * deny and max_connections_per_ip, as workers apply them; the request
 * complete within the listener's idle_timeout or HS_REQUEST_MS (408
 * otherwise) and HTTP_MAX_REQUEST bytes (414/431).  After the reply the
 * master shuts its side down and reads until the client closes (bounded),
 * so a reply is never lost to a reset.
 *
 * Cost to workers: a /metrics request starts a stats round only if the
 * last one ended more than heartbeat_interval ago; requests meanwhile
 * join the running round or are answered from the last one.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cidr.h"
#include "common/clock.h"
#include "common/log.h"
#include "conf/config.h"
#include "server/admin.h"
#include "server/httpstats.h"
#include "server/linger.h"
#include "server/master.h"
#include "worker/service.h"

#define HS_MAX_CLIENTS		32
#define HS_REQUEST_MS		3000	/* whole request, from accept, by default */
#define HS_LINGER_MS		2000	/* reply out, client to close */

enum hs_state {
	HS_READING,
	HS_WAITING,		/* for a stats round */
	HS_WRITING,
	HS_LINGERING,		/* our side shut down, reading to EOF */
};

struct hs_client {
	LIST_ENTRY(hs_client)	 entry;
	struct bufferevent	*bev;
	struct event		*timer;
	struct sockaddr_storage	 ss;
	int			 max_per_ip;
	enum hs_state		 state;
	int			 head;
};

struct hs_listener {
	struct event		*ev;
	const struct listen_conf *lc;
};

static struct {
	struct event_base	*base;
	struct hs_listener	*ls;
	size_t			 nls;
	LIST_HEAD(, hs_client)	 clients;
	int			 nclients;
	int			 round_running;
	int			 have_round;
	uint64_t		 round_ms;	/* when the last round ended */
	unsigned int		 cache_ms;
	uint64_t		 refused_log_ms;
} hs;

static int
tchar(int c)
{
	return c != '\0' && (isalnum((unsigned char)c) ||
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Out of bytes at i: incomplete, or too long if the limit is reached. */
#define MORE(code)	(n == HTTP_MAX_REQUEST ? (code) : 1)

int
http_parse(const char *buf, size_t len, struct http_req *req)
{
	static const char	 v[] = "HTTP/";
	size_t			 n = len < HTTP_MAX_REQUEST ? len :
				    HTTP_MAX_REQUEST, i, t, k;
	const char		*q;
	int			 major;

	memset(req, 0, sizeof(*req));
	for (i = 0; i < n && tchar(buf[i]); i++)
		;
	if (i == n)
		return MORE(414);
	if (i == 0 || buf[i] != ' ')
		return 400;
	if (i == 3 && memcmp(buf, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (i == 4 && memcmp(buf, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	else
		req->method = HTTP_OTHER;
	for (t = ++i; i < n && buf[i] > ' ' && buf[i] < 0x7f; i++)
		;
	if (i == n)
		return MORE(414);
	if (i == t || buf[t] != '/' || buf[i] != ' ')
		return 400;
	req->path_off = t;
	q = memchr(buf + t, '?', i - t);
	req->path_len = q != NULL ? (size_t)(q - (buf + t)) : i - t;
	i++;
	for (k = 0; k < 5; k++, i++) {
		if (i == n)
			return MORE(414);
		if (buf[i] != v[k])
			return 400;
	}
	for (k = 0; k < 3; k++, i++) {
		if (i == n)
			return MORE(414);
		if (k == 1 ? buf[i] != '.' : !isdigit((unsigned char)buf[i]))
			return 400;
	}
	major = buf[i - 3] - '0';
	req->minor = buf[i - 1] - '0';
	if (i < n && buf[i] == '\r')
		i++;
	if (i == n)
		return MORE(414);
	if (buf[i++] != '\n')
		return 400;
	if (major != 1)
		return 505;
	for (;;) {
		if (i < n && buf[i] == '\r')
			i++;
		if (i == n)
			return MORE(431);
		if (buf[i] == '\n') {
			req->len = i + 1;
			return 0;
		}
		if (i > 0 && buf[i - 1] == '\r')
			return 400;	/* a CR not ending the headers */
		for (t = i; i < n && tchar(buf[i]); i++)
			;
		if (i == n)
			return MORE(431);
		if (i == t || buf[i] != ':')
			return 400;	/* no name, space before ':', fold */
		for (i++; i < n && buf[i] != '\r' && buf[i] != '\n' &&
		    (buf[i] == '\t' || (unsigned char)buf[i] >= ' ') &&
		    buf[i] != 0x7f; i++)
			;
		if (i < n && buf[i] == '\r')
			i++;
		if (i == n)
			return MORE(431);
		if (buf[i++] != '\n')
			return 400;
	}
}

static const char *
status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static void
client_free(struct hs_client *cl)
{
	LIST_REMOVE(cl, entry);
	event_free(cl->timer);
	bufferevent_free(cl->bev);
	free(cl);
	hs.nclients--;
}

static void
timer_set(struct hs_client *cl, unsigned int ms)
{
	struct timeval	tv;

	clock_ms_to_tv(ms, &tv);
	evtimer_add(cl->timer, &tv);
}

/* The whole answer at once; body may be NULL (then text is the body). */
static void
client_reply(struct hs_client *cl, int code, const char *type,
    const char *extra, struct evbuffer *body, const char *text)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);
	size_t		 blen = body != NULL ? evbuffer_get_length(body) :
			    text != NULL ? strlen(text) : 0;

	evbuffer_add_printf(out, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", code,
	    status_text(code), type, blen, extra != NULL ? extra : "");
	if (!cl->head) {
		if (body != NULL)
			evbuffer_add_buffer(out, body);
		else if (text != NULL)
			evbuffer_add(out, text, blen);
	}
	cl->state = HS_WRITING;
	bufferevent_disable(cl->bev, EV_READ);
	bufferevent_enable(cl->bev, EV_WRITE);
	timer_set(cl, HS_LINGER_MS);
}

static void
client_error(struct hs_client *cl, int code)
{
	char	text[64];

	snprintf(text, sizeof(text), "%s\n", status_text(code));
	client_reply(cl, code, "text/plain", code == 405 ?
	    "Allow: GET, HEAD\r\n" : NULL, NULL, text);
}

static void
client_metrics(struct hs_client *cl)
{
	struct evbuffer	*body = evbuffer_new();

	if (body == NULL) {
		client_error(cl, 500);
		return;
	}
	admin_report_prometheus(body);
	client_reply(cl, 200, "text/plain; version=0.0.4; charset=utf-8",
	    NULL, body, NULL);
	evbuffer_free(body);
}

static void
client_health(struct hs_client *cl)
{
	char	why[256];
	size_t	n;
	int	ok;

	ok = master_health(why, sizeof(why) - 1);
	n = strlen(why);
	why[n] = '\n';
	why[n + 1] = '\0';
	client_reply(cl, ok ? 200 : 503, "text/plain", NULL, NULL, why);
}

static void
round_done(void *arg, int missing)
{
	struct hs_client	*cl, *next;

	(void)arg;
	(void)missing;
	hs.round_running = 0;
	hs.have_round = 1;
	hs.round_ms = master_now_ms();
	for (cl = LIST_FIRST(&hs.clients); cl != NULL; cl = next) {
		next = LIST_NEXT(cl, entry);
		if (cl->state == HS_WAITING)
			client_metrics(cl);
	}
}

/* Fresh counters: the last round's if recent, else join or start one. */
static void
metrics_request(struct hs_client *cl)
{
	if (hs.have_round && !hs.round_running &&
	    master_now_ms() - hs.round_ms < hs.cache_ms) {
		client_metrics(cl);
		return;
	}
	cl->state = HS_WAITING;
	bufferevent_disable(cl->bev, EV_READ);
	timer_set(cl, HS_LINGER_MS);	/* the round's bound is shorter */
	if (hs.round_running)
		return;
	hs.round_running = 1;
	log_debug("stats round for the stats listeners");
	master_refresh_stats(round_done, NULL);
}

static int
path_is(const char *buf, const struct http_req *req, const char *path)
{
	return req->path_len == strlen(path) &&
	    memcmp(buf + req->path_off, path, req->path_len) == 0;
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct hs_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http_req		 req;
	size_t			 len = evbuffer_get_length(in);
	const char		*buf;
	int			 rc;

	if (cl->state == HS_LINGERING) {
		evbuffer_drain(in, len);
		return;
	}
	if (cl->state != HS_READING)
		return;
	if ((buf = (const char *)evbuffer_pullup(in, -1)) == NULL)
		return;
	rc = http_parse(buf, len, &req);
	if (rc == 1)
		return;
	if (rc != 0) {
		client_error(cl, rc);
		return;
	}
	cl->head = req.method == HTTP_HEAD;
	if (path_is(buf, &req, "/metrics") || path_is(buf, &req, "/")) {
		if (req.method == HTTP_OTHER)
			client_error(cl, 405);
		else
			metrics_request(cl);
	} else if (path_is(buf, &req, "/health")) {
		if (req.method == HTTP_OTHER)
			client_error(cl, 405);
		else
			client_health(cl);
	} else
		client_error(cl, 404);
}

/* The reply is out: shut our side, read until the client closes. */
static void
client_written(struct bufferevent *bev, void *arg)
{
	struct hs_client	*cl = arg;

	if (cl->state != HS_WRITING)
		return;
	cl->state = HS_LINGERING;
	if (bev_linger(bev, NULL) == -1)
		client_free(cl);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct hs_client	*cl = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/* Half-closed after a request: still answer it. */
		if (cl->state == HS_WAITING || cl->state == HS_WRITING)
			return;
		if (cl->state == HS_READING &&
		    evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
			client_error(cl, 400);	/* ended mid-request */
			return;
		}
	}
	client_free(cl);
}

static void
client_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hs_client	*cl = arg;

	(void)fd;
	(void)what;
	if (cl->state == HS_READING)
		client_error(cl, 408);
	else
		client_free(cl);
}

static int
same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

/* The listener's allow/deny and per-address limit: NULL, or why not. */
static const char *
client_refused(const struct listen_conf *lc, const struct sockaddr_storage *ss)
{
	const struct sockaddr	*sa = (const struct sockaddr *)ss;
	struct hs_client	*cl;
	int			 n = 0;

	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return NULL;
	if (lc->ndeny > 0 && cidr_match_any(lc->deny, lc->ndeny, sa))
		return "address denied";
	if (lc->nallow > 0 && !cidr_match_any(lc->allow, lc->nallow, sa))
		return "address not allowed";
	if (lc->max_per_ip > 0) {
		LIST_FOREACH(cl, &hs.clients, entry)
			n += same_address(&cl->ss, ss);
		if (n >= lc->max_per_ip)
			return "too many connections from this address";
	}
	return NULL;
}

/* One line per second at most for refusals, whatever the rate. */
static void
refused_log(const struct listen_conf *lc, const char *why)
{
	uint64_t	now = master_now_ms();

	if (now - hs.refused_log_ms < 1000)
		return;
	hs.refused_log_ms = now;
	log_warnx("stats listener %s: refused a client: %s", lc->name, why);
}

static void
hs_accept(evutil_socket_t fd, short what, void *arg)
{
	struct hs_listener	*l = arg;
	struct hs_client	*cl;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	const char		*why;
	int			 cfd;

	(void)what;
	memset(&ss, 0, sizeof(ss));
	cfd = accept4(fd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("stats listener %s: accept", l->lc->name);
		return;
	}
	why = hs.nclients >= HS_MAX_CLIENTS ? "too many clients" :
	    client_refused(l->lc, &ss);
	if (why != NULL) {
		refused_log(l->lc, why);
		close(cfd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->timer = evtimer_new(hs.base, client_timeout, cl)) == NULL ||
	    (cl->bev = bufferevent_socket_new(hs.base, cfd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warn("stats listener %s: client", l->lc->name);
		if (cl != NULL && cl->timer != NULL)
			event_free(cl->timer);
		free(cl);
		close(cfd);
		return;
	}
	cl->ss = ss;
	cl->state = HS_READING;
	hs.nclients++;
	LIST_INSERT_HEAD(&hs.clients, cl, entry);
	bufferevent_setcb(cl->bev, client_read, client_written, client_event,
	    cl);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, HTTP_MAX_REQUEST);
	bufferevent_enable(cl->bev, EV_READ);
	timer_set(cl, l->lc->idle_timeout_ms > 0 ? l->lc->idle_timeout_ms :
	    HS_REQUEST_MS);
}

static void
listeners_free(void)
{
	size_t	i;

	for (i = 0; i < hs.nls; i++)
		event_free(hs.ls[i].ev);
	free(hs.ls);
	hs.ls = NULL;
	hs.nls = 0;
}

int
httpstats_listen(struct event_base *base, const struct config *cfg,
    const struct lsock *ls)
{
	size_t	i;

	listeners_free();
	hs.base = base;
	hs.cache_ms = cfg->heartbeat_interval_ms;
	if (cfg->nlisteners == 0)
		return 0;
	if ((hs.ls = calloc(cfg->nlisteners, sizeof(*hs.ls))) == NULL) {
		log_warn("stats listeners");
		return -1;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		struct hs_listener	*l = &hs.ls[hs.nls];

		if (strcmp(cfg->listeners[i].service, SERVICE_STATS) != 0)
			continue;
		l->lc = &cfg->listeners[i];
		l->ev = event_new(base, ls[i].fds[0], EV_READ | EV_PERSIST,
		    hs_accept, l);
		if (l->ev == NULL || event_add(l->ev, NULL) == -1) {
			log_warnx("stats listener %s: cannot add event",
			    cfg->listeners[i].name);
			if (l->ev != NULL)
				event_free(l->ev);
			continue;
		}
		hs.nls++;
	}
	return 0;
}

void
httpstats_close(void)
{
	listeners_free();
	while (!LIST_EMPTY(&hs.clients))
		client_free(LIST_FIRST(&hs.clients));
	hs.round_running = 0;
	hs.have_round = 0;
}
