/*
 * backendstat.c -- per-backend status of the proxy listeners, for the
 * admin socket's status --json and the /metrics page.
 *
 * The numbers come from the shared backend table (common/pxshm.c): what
 * the live workers count now plus what exited workers counted, so they
 * need no stats round and no *_total goes down while a backend stays
 * configured (a reload that keeps a backend keeps its slot; one that
 * drops it and adds it back later starts it from zero).  The state is the
 * master's active checks' (server/healthcheck.c); without checks a backend
 * is "up" here, whatever each worker's passive health thinks of it.
 *
 *	"backends": [ { "name", "state": "up" | "down", "checked",
 *	  "weight", "active", "connections_total", "connect_errors",
 *	  "bytes_in" (read from the backend), "bytes_out" (written to it),
 *	  "checks", "check_failures", "state_changes" } ]
 */
#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/pxshm.h"
#include "conf/proxyconf.h"
#include "server/backendstat.h"
#include "server/healthcheck.h"

struct bstat {
	struct pxs_row	c;
	struct hc_info	h;
};

static void
bstat_get(const struct backend_conf *b, struct bstat *st)
{
	memset(st, 0, sizeof(*st));
	st->h.up = 1;
	if (pxshm_sum(b->hslot, &st->c) == -1)
		memset(&st->c, 0, sizeof(st->c));
	if (healthcheck_info(b->hslot, &st->h) == -1) {
		memset(&st->h, 0, sizeof(st->h));
		st->h.up = 1;
	}
}

/* JSON string and Prometheus label value escape the same three. */
static void
quoted(struct evbuffer *out, const char *s, int json)
{
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (json && (unsigned char)*s < 0x20)
			evbuffer_add_printf(out, "\\u%04x", (unsigned char)*s);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static int
is_proxy(const struct listen_conf *l)
{
	return l->proxy.nbackends > 0;
}

void
backendstat_json(struct evbuffer *out, const struct listen_conf *l)
{
	const struct backend_conf	*b;
	struct bstat			 st;
	size_t				 i;

	if (!is_proxy(l))
		return;
	evbuffer_add_printf(out, ",\"backends\":[");
	for (i = 0; i < l->proxy.nbackends; i++) {
		b = &l->proxy.backends[i];
		bstat_get(b, &st);
		evbuffer_add_printf(out, "%s{\"name\":", i > 0 ? "," : "");
		quoted(out, b->name, 1);
		evbuffer_add_printf(out, ",\"state\":\"%s\",\"checked\":%s,"
		    "\"weight\":%d,\"active\":%llu,\"connections_total\":%llu,"
		    "\"connect_errors\":%llu,\"bytes_in\":%llu,"
		    "\"bytes_out\":%llu,\"checks\":%llu,\"check_failures\":%llu,"
		    "\"state_changes\":%llu}", st.h.up ? "up" : "down",
		    st.h.checked ? "true" : "false", b->weight,
		    (unsigned long long)st.c.active,
		    (unsigned long long)st.c.total,
		    (unsigned long long)st.c.errors,
		    (unsigned long long)st.c.bytes_in,
		    (unsigned long long)st.c.bytes_out,
		    (unsigned long long)st.h.checks,
		    (unsigned long long)st.h.check_failures,
		    (unsigned long long)st.h.changes);
	}
	evbuffer_add(out, "]", 1);
}

enum bfield {
	BF_UP, BF_ACTIVE, BF_TOTAL, BF_ERRORS, BF_IN, BF_OUT, BF_CHECKS,
	BF_CHECK_FAILURES, BF_MAX
};

static uint64_t
bfield(const struct bstat *st, enum bfield f)
{
	switch (f) {
	case BF_UP:		return (uint64_t)(st->h.up != 0);
	case BF_ACTIVE:		return st->c.active;
	case BF_TOTAL:		return st->c.total;
	case BF_ERRORS:		return st->c.errors;
	case BF_IN:		return st->c.bytes_in;
	case BF_OUT:		return st->c.bytes_out;
	case BF_CHECKS:		return st->h.checks;
	default:		return st->h.check_failures;
	}
}

void
backendstat_prometheus(struct evbuffer *out, const struct config *cfg)
{
	static const struct {
		const char	*name, *type, *help;
	} fam[BF_MAX] = {
		[BF_UP] = { "up", "gauge", "1 if the active checks find the "
		    "backend up (or it is not checked), 0 if down." },
		[BF_ACTIVE] = { "connections_active", "gauge",
		    "Connections to the backend, connecting or connected." },
		[BF_TOTAL] = { "connections_total", "counter",
		    "Connections to the backend that connected." },
		[BF_ERRORS] = { "connect_errors_total", "counter",
		    "Connects to the backend that failed." },
		[BF_IN] = { "received_bytes_total", "counter",
		    "Bytes read from the backend (closed connections)." },
		[BF_OUT] = { "sent_bytes_total", "counter",
		    "Bytes written to the backend (closed connections)." },
		[BF_CHECKS] = { "checks_total", "counter",
		    "Active health checks made." },
		[BF_CHECK_FAILURES] = { "check_failures_total", "counter",
		    "Active health checks that failed." },
	};
	const struct listen_conf	*l;
	struct bstat			 st;
	size_t				 i, j;
	int				 f, any = 0;

	for (i = 0; i < cfg->nlisteners; i++)
		any |= is_proxy(&cfg->listeners[i]);
	if (!any)
		return;
	for (f = 0; f < BF_MAX; f++) {
		evbuffer_add_printf(out, "# HELP preforkd_backend_%s %s\n"
		    "# TYPE preforkd_backend_%s %s\n", fam[f].name,
		    fam[f].help, fam[f].name, fam[f].type);
		for (i = 0; i < cfg->nlisteners; i++) {
			l = &cfg->listeners[i];
			for (j = 0; j < l->proxy.nbackends; j++) {
				bstat_get(&l->proxy.backends[j], &st);
				evbuffer_add_printf(out, "preforkd_backend_%s"
				    "{listener=", fam[f].name);
				quoted(out, l->name, 0);
				evbuffer_add_printf(out, ",backend=");
				quoted(out, l->proxy.backends[j].name, 0);
				evbuffer_add_printf(out, "} %llu\n",
				    (unsigned long long)bfield(&st,
				    (enum bfield)f));
			}
		}
	}
}
