/*
 * accesslog.c -- the access log's lines (alog_format, pure) and a worker's
 * buffered writer for them.
 *
 * The cost per connection is a format into memory: a file's lines go to
 * a 64 KiB buffer written with one write(2) when it is nearly full (a few
 * hundred connections) and by a timer (access_log's flush, a second by
 * default), so a busy worker makes no syscall per connection and an idle
 * one still shows its lines within that time.  The time comes from the coarse wall clock (vDSO, no
 * syscall).  The master opened the files (a worker may be chrooted and
 * unprivileged); a write error drops the buffer, is counted and logged at
 * most every ALOG_WARN_MS, and never blocks or grows anything.  syslog
 * gets one syslog(3) call per line: it has its own buffering, or none.
 */
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "worker/accesslog.h"

#define ALOG_BUF		65536
#define ALOG_WARN_MS		10000

/* ---- the line ---- */

/* Appends all of a piece or nothing: a line too long for its buffer is
 * cut between pieces, never inside an escape. */
struct out {
	char	*p;
	size_t	 n, cap;
	int	 full;
};

static void
put(struct out *o, const char *s, size_t len)
{
	if (o->full || len > o->cap - o->n) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
}

static void
put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* v in decimal, at least width digits. */
static void
put_dec(struct out *o, uint64_t v, int width)
{
	char	tmp[24];
	int	i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || (int)sizeof(tmp) - i < width);
	put(o, tmp + i, sizeof(tmp) - i);
}

/* Days since 1970-01-01 to a date (H. Hinnant's civil_from_days). */
static void
civil(int64_t z, int *y, int *m, int *d)
{
	int64_t		era, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	yoe = z - era * 146097;
	yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
	doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 2026-12-03T07:53:43.123Z (UTC: no time zone to look up per line). */
static void
put_time(struct out *o, uint64_t ms)
{
	uint64_t	s = ms / 1000, sod = s % 86400;
	int		y, m, d;

	civil((int64_t)(s / 86400), &y, &m, &d);
	put_dec(o, (uint64_t)y, 4);
	put(o, "-", 1);
	put_dec(o, (uint64_t)m, 2);
	put(o, "-", 1);
	put_dec(o, (uint64_t)d, 2);
	put(o, "T", 1);
	put_dec(o, sod / 3600, 2);
	put(o, ":", 1);
	put_dec(o, sod / 60 % 60, 2);
	put(o, ":", 1);
	put_dec(o, sod % 60, 2);
	put(o, ".", 1);
	put_dec(o, ms % 1000, 3);
	put(o, "Z", 1);
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo;	/* no overlong forms */
		hi = s[0] == 0xed ? 0x9f : hi;	/* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi;	/* at most U+10FFFF */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

static const char hexdig[] = "0123456789abcdef";

/* A JSON string: control characters escaped, invalid UTF-8 replaced by
 * U+FFFD, so the line stays one valid JSON object; NULL is null. */
static void
put_json(struct out *o, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t			 k;

	if (s == NULL) {
		put_str(o, "null");
		return;
	}
	put(o, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			esc[1] = (char)*s;
			put(o, esc, 2);
			esc[1] = 'u';
			s++;
		} else if (*s == '\n') {
			put(o, "\\n", 2);
			s++;
		} else if (*s == '\t') {
			put(o, "\\t", 2);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			esc[4] = hexdig[*s >> 4];
			esc[5] = hexdig[*s & 15];
			put(o, esc, 6);
			s++;
		} else if (*s < 0x80) {
			for (k = 1; s[k] >= 0x20 && s[k] < 0x7f &&
			    s[k] != '"' && s[k] != '\\'; k++)
				;
			put(o, (const char *)s, k);
			s += k;
		} else if ((k = utf8_len(s)) > 0) {
			put(o, (const char *)s, k);
			s += k;
		} else {
			put_str(o, "\\ufffd");
			s++;
		}
	}
	put(o, "\"", 1);
}

/* A text value: as is if it is one plain word, else quoted with \" \\
 * and \xNN escapes, so a name never splits a line or a field. */
static void
put_text(struct out *o, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[4] = { '\\', 'x', 0, 0 };
	int			 plain = 1;

	if (s == NULL || *s == '\0') {
		put(o, "-", 1);
		return;
	}
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s == '"' || *s == '\\' || *s == '=' ||
		    *s == 0x7f) {
			plain = 0;
			break;
		}
	}
	if (plain) {
		put(o, str, (size_t)((const char *)s - str));
		return;
	}
	put(o, "\"", 1);
	for (s = (const unsigned char *)str; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			esc[1] = (char)*s;
			put(o, esc, 2);
			esc[1] = 'x';
		} else if (*s < ' ' || *s == 0x7f) {
			esc[2] = hexdig[*s >> 4];
			esc[3] = hexdig[*s & 15];
			put(o, esc, 4);
		} else
			put(o, (const char *)s, 1);
	}
	put(o, "\"", 1);
}

/*
 * The client as an address and a port: port -1 for a Unix peer ("unix",
 * or "unix:path" if it had bound a name) and for an unknown one (host
 * "").
 */
static void
peer_name(const struct sockaddr *sa, socklen_t len, char *host, size_t hlen,
    int *port)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;
	const struct sockaddr_un	*su;
	size_t				 n;

	*port = -1;
	host[0] = '\0';
	if (sa == NULL || len < sizeof(sa_family_t))
		return;
	switch (sa->sa_family) {
	case AF_INET:
		s4 = (const struct sockaddr_in *)sa;
		if (len < sizeof(*s4) ||
		    inet_ntop(AF_INET, &s4->sin_addr, host, hlen) == NULL)
			break;
		*port = ntohs(s4->sin_port);
		return;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)sa;
		if (len < sizeof(*s6) ||
		    inet_ntop(AF_INET6, &s6->sin6_addr, host, hlen) == NULL)
			break;
		*port = ntohs(s6->sin6_port);
		return;
	case AF_UNIX:
		su = (const struct sockaddr_un *)sa;
		n = len - offsetof(struct sockaddr_un, sun_path);
		if (n > sizeof(su->sun_path))
			n = sizeof(su->sun_path);
		if (len <= offsetof(struct sockaddr_un, sun_path) ||
		    su->sun_path[0] == '\0')	/* unnamed, or abstract */
			snprintf(host, hlen, "unix");
		else
			snprintf(host, hlen, "unix:%.*s", (int)n, su->sun_path);
		return;
	}
	host[0] = '\0';
}

size_t
alog_format(char *buf, size_t len, const struct alog_rec *r, int json)
{
	struct out	o = { buf, 0, len > 0 ? len - 1 : 0, 0 };
	char		host[INET6_ADDRSTRLEN + sizeof(struct sockaddr_un)];
	int		port;

	if (len == 0)
		return 0;
	peer_name(r->peer, r->peerlen, host, sizeof(host), &port);
	if (json) {
		put_str(&o, "{\"time\":\"");
		put_time(&o, r->time_ms);
		put_str(&o, "\",\"listener\":");
		put_json(&o, r->listener);
		put_str(&o, ",\"service\":");
		put_json(&o, r->service);
		put_str(&o, ",\"client\":");
		put_json(&o, host[0] != '\0' ? host : NULL);
		put_str(&o, ",\"client_port\":");
		if (port >= 0)
			put_dec(&o, (uint64_t)port, 1);
		else
			put_str(&o, "null");
		put_str(&o, ",\"slot\":");
	} else {
		put_time(&o, r->time_ms);
		put_str(&o, " listener=");
		put_text(&o, r->listener);
		put_str(&o, " service=");
		put_text(&o, r->service);
		put_str(&o, " client=");
		if (port >= 0 && strchr(host, ':') != NULL) {
			put(&o, "[", 1);
			put_str(&o, host);
			put(&o, "]", 1);
		} else
			put_text(&o, host);
		if (port >= 0) {
			put(&o, ":", 1);
			put_dec(&o, (uint64_t)port, 1);
		}
		put_str(&o, " slot=");
	}
	if (r->slot < 0)
		put(&o, "-", 1);
	else
		put_dec(&o, (uint64_t)r->slot, 1);
	put_str(&o, json ? ",\"duration_ms\":" : " duration_ms=");
	put_dec(&o, r->duration_ms, 1);
	put_str(&o, json ? ",\"bytes_in\":" : " bytes_in=");
	put_dec(&o, r->bytes_in, 1);
	put_str(&o, json ? ",\"bytes_out\":" : " bytes_out=");
	put_dec(&o, r->bytes_out, 1);
	put_str(&o, json ? ",\"reason\":" : " reason=");
	if (json) {
		put_json(&o, r->reason);
		put(&o, "}", 1);
	} else
		put_text(&o, r->reason);
	buf[o.n++] = '\n';
	return o.n;
}

/* FNV-1a: the master and the workers name a file by its path's. */
uint64_t
alog_key(const char *path)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *path != '\0'; path++)
		h = (h ^ (unsigned char)*path) * 0x100000001b3ULL;
	return h;
}

/* ---- the worker's writer ---- */

struct alog_sink {
	const char	*path;		/* cfg's */
	uint64_t	 key;
	int		 fd;		/* -1: syslog, or not opened */
	int		 syslog;
	char		*buf;		/* ALOG_BUF, files only */
	size_t		 len;
	uint64_t	 errors;	/* failed writes */
	uint64_t	 lost;		/* bytes they dropped */
	uint64_t	 warned_ms;
};

struct accesslog {
	const struct config	*cfg;
	int			 slot;
	struct alog_sink	*sinks;
	size_t			 nsinks;
	struct alog_sink	**dest;		/* per listener of cfg */
	struct event		*timer;
	int			 reopen_error;
};

static void
sink_flush(struct alog_sink *s)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < s->len) {
		n = write(s->fd, s->buf + off, s->len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		/* Full disk, bad descriptor...: drop, count, say so now
		 * and then, and carry on serving. */
		if (n == 0)
			errno = EIO;
		s->errors++;
		s->lost += s->len - off;
		if (s->warned_ms == 0 ||
		    clock_coarse_ms() - s->warned_ms >= ALOG_WARN_MS) {
			s->warned_ms = clock_coarse_ms();
			log_warn("access log %s: %llu bytes lost in %llu "
			    "failed writes so far", s->path,
			    (unsigned long long)s->lost,
			    (unsigned long long)s->errors);
		}
		break;
	}
	s->len = 0;
}

void
accesslog_flush(struct accesslog *al)
{
	size_t	i;

	for (i = 0; al != NULL && i < al->nsinks; i++) {
		if (al->sinks[i].len > 0)
			sink_flush(&al->sinks[i]);
	}
}

static void
accesslog_tick(evutil_socket_t fd, short what, void *arg)
{
	accesslog_flush(arg);
}

static struct alog_sink *
sink_get(struct accesslog *al, const char *path)
{
	struct alog_sink	*s;
	size_t			 i;

	for (i = 0; i < al->nsinks; i++) {
		if (strcmp(al->sinks[i].path, path) == 0)
			return &al->sinks[i];
	}
	s = &al->sinks[al->nsinks++];
	s->path = path;
	s->key = alog_key(path);
	s->fd = -1;
	s->syslog = strcmp(path, "syslog") == 0;
	if (!s->syslog && (s->buf = malloc(ALOG_BUF)) == NULL)
		return NULL;
	return s;
}

/* Our files from the master's; the others (a file of the generation
 * before ours, still held by the master) are not ours to keep open. */
static void
claim(struct accesslog *al, const struct alog_fd *fds, size_t nfds)
{
	size_t	i, j;

	for (j = 0; j < nfds; j++) {
		for (i = 0; i < al->nsinks; i++) {
			if (!al->sinks[i].syslog && al->sinks[i].fd == -1 &&
			    al->sinks[i].key == fds[j].key)
				break;
		}
		if (i < al->nsinks)
			al->sinks[i].fd = fds[j].fd;
		else
			close(fds[j].fd);
	}
}

struct accesslog *
accesslog_new(struct event_base *base, const struct config *cfg, int slot,
    const struct alog_fd *fds, size_t nfds)
{
	struct accesslog	*al;
	struct timeval		 tv;
	size_t			 i;
	int			 files = 0;

	if ((al = calloc(1, sizeof(*al))) == NULL)
		goto err;
	al->cfg = cfg;
	al->slot = slot;
	for (i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].alog_file != NULL)
			break;
	}
	if (i < cfg->nlisteners) {
		al->sinks = calloc(cfg->nlisteners, sizeof(*al->sinks));
		al->dest = calloc(cfg->nlisteners, sizeof(*al->dest));
		if (al->sinks == NULL || al->dest == NULL)
			goto err;
	}
	for (i = 0; i < cfg->nlisteners && al->dest != NULL; i++) {
		if (cfg->listeners[i].alog_file != NULL &&
		    (al->dest[i] = sink_get(al, cfg->listeners[i].alog_file)) ==
		    NULL)
			goto err;
	}
	claim(al, fds, nfds);
	nfds = 0;		/* the sinks own them now */
	for (i = 0; i < al->nsinks; i++)
		files += !al->sinks[i].syslog;
	if (files > 0) {
		if ((al->timer = event_new(base, -1, EV_PERSIST,
		    accesslog_tick, al)) == NULL)
			goto err;
		clock_ms_to_tv(cfg->alog_flush_ms, &tv);
		if (event_add(al->timer, &tv) == -1)
			goto err;
	}
	return al;
err:
	log_warn("access log");
	for (i = 0; i < nfds; i++)
		close(fds[i].fd);
	accesslog_free(al);
	return NULL;
}

void
accesslog_free(struct accesslog *al)
{
	size_t	i;

	if (al == NULL)
		return;
	accesslog_flush(al);
	for (i = 0; i < al->nsinks; i++) {
		if (al->sinks[i].fd != -1)
			close(al->sinks[i].fd);
		free(al->sinks[i].buf);
	}
	if (al->timer != NULL)
		event_free(al->timer);
	free(al->sinks);
	free(al->dest);
	free(al);
}

int
accesslog_reopen(struct accesslog *al, uint64_t key, int fd)
{
	struct alog_sink	*s = NULL;
	size_t			 i;

	if (fd == -1) {		/* the descriptor did not come */
		if (al != NULL && al->reopen_error == 0)
			al->reopen_error = EBADF;
		return EBADF;
	}
	for (i = 0; al != NULL && i < al->nsinks && s == NULL; i++) {
		if (!al->sinks[i].syslog && al->sinks[i].key == key)
			s = &al->sinks[i];
	}
	if (s == NULL) {
		close(fd);	/* not a file of ours */
		return 0;
	}
	if (s->len > 0 && s->fd != -1)
		sink_flush(s);
	if (s->fd != -1)
		close(s->fd);
	s->fd = fd;
	s->len = 0;
	return 0;
}

int
accesslog_reopen_error(struct accesslog *al)
{
	int	e;

	if (al == NULL)
		return 0;
	e = al->reopen_error;
	al->reopen_error = 0;
	return e;
}

void
accesslog_conn(struct accesslog *al, const struct listen_conf *lc,
    const struct alog_rec *r)
{
	struct alog_sink	*s;
	struct alog_rec		 rec;
	struct timespec		 ts;
	char			 line[ALOG_LINE_MAX];
	uintptr_t		 off;
	size_t			 n;

	if (al == NULL || al->dest == NULL)
		return;
	/* The listener's index by its place in cfg: no lookup by name. */
	off = (uintptr_t)lc - (uintptr_t)al->cfg->listeners;
	if (off % sizeof(*lc) != 0 || off / sizeof(*lc) >= al->cfg->nlisteners ||
	    (s = al->dest[off / sizeof(*lc)]) == NULL)
		return;
	rec = *r;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	rec.time_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	rec.slot = al->slot;
	if (s->syslog) {
		n = alog_format(line, sizeof(line), &rec, lc->alog_json);
		syslog(LOG_DAEMON | LOG_INFO, "%.*s", (int)n - 1, line);
		return;
	}
	if (s->fd == -1)
		return;		/* the master could not open it (it said so) */
	s->len += alog_format(s->buf + s->len, ALOG_LINE_MAX, &rec,
	    lc->alog_json);
	if (s->len > ALOG_BUF - ALOG_LINE_MAX)
		sink_flush(s);
}

void
accesslog_refused(struct accesslog *al, const struct listen_conf *lc,
    const struct sockaddr *sa, socklen_t salen, const char *why)
{
	struct alog_rec	r = { 0 };

	r.listener = lc->name;
	r.service = lc->service;
	r.peer = sa;
	r.peerlen = salen;
	r.reason = why;
	accesslog_conn(al, lc, &r);
}
