/*
 * status.c -- the status, workers and stats reports of the admin socket,
 * as aligned text or as JSON.
 *
 * The JSON of "status --json" is an interface (documented in README):
 *	{ "pid", "uptime_s", "started" (Unix time), "upgraded_from": the
 *	  pid of the master a binary upgrade replaced, or null,
 *	  "config", "generation", "listeners": [ { "name", "service", and
 *	  for a proxy listener "backends" (backendstat.c) } ],
 *	  "last_reload": null or { "time", "ok", "result" },
 *	  "phase": "serving", "draining for removal: stopping in N.N s",
 *	    "stopping (graceful)", "stopping (fast)" or a reload canary's
 *	    ("reload canary: worker 0 of generation N on trial, N.N s left"),
 *	  "worker_count": slots of the serving generation,
 *	  "workers_override": true if "preforkctl workers N" set that count
 *	    (the file's "workers" holds again at the next reload),
 *	  "workers": [ { "slot", "pid", "generation", "state", "uptime_s",
 *	    "failures", "heartbeat_age_ms", "loop_lag_ms",
 *	    "connections_active", "connections_total", "accepts",
 *	    "bytes_in", "bytes_out", "errors", "drops", "outbound_active",
 *	    "outbound_total", "cpu" } ],
 *	  "totals": { the counters, summed over "workers" },
 *	  "since_start": { the counters but connections_active, since the
 *	    master started (exited workers included), "reloads",
 *	    "reload_failures", "respawns", "respawn_backoffs", "recycles",
 *	    "hung_workers_killed", "slots": [ { "slot", the counters } ] },
 *	  "last_upgrade": null or { "time", "ok", "result" } (one this
 *	    master started and that failed; a done one ends the master) }
 * Fields may be added; none is removed or changes meaning.
 * A slot waiting for a respawn is listed with pid 0.  "cpu" is the CPU the
 * worker is pinned to (cpu_affinity), as the kernel says, or -1.
 *
 * The Prometheus text has every counter since the master started, per
 * slot (label "slot" only, so a respawn makes no new series) and in
 * total: what exited workers counted (server/totals.c) plus what the live
 * ones report, so no *_total ever goes down while the master runs.
 */
#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/tlsctx.h"
#include "server/admin.h"
#include "server/affinity.h"
#include "server/backendstat.h"
#include "server/master.h"
#include "server/reload.h"
#include "server/removal.h"
#include "server/totals.h"
#include "server/upgrade.h"

static void	tls_json(struct evbuffer *);

struct row {
	const struct child	*c;	/* NULL: slot without a worker */
	const struct slot	*s;	/* NULL: draining, out of its slot */
	int			 slot;
};

static void
json_str(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			evbuffer_add_printf(out, "\\u%04x", (unsigned char)*s);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* The master's events, as JSON fields and Prometheus families. */
static const struct {
	enum totals_event	 ev;
	const char		*json;
	const char		*prom;
	const char		*help;
} events[] = {
	{ TOTALS_RELOAD_OK, "reloads", "reloads_total",
	    "Reloads that committed a new generation." },
	{ TOTALS_RELOAD_FAILED, "reload_failures", "reload_failures_total",
	    "Reloads that failed; the serving generation was kept." },
	{ TOTALS_RESPAWN, "respawns", "respawns_total",
	    "Workers that died or were killed in their slot, replaced." },
	{ TOTALS_BACKOFF, "respawn_backoffs", "respawn_backoffs_total",
	    "Replacements delayed because a slot's workers kept dying young." },
	{ TOTALS_RECYCLE, "recycles", "recycles_total",
	    "Workers replaced at their connection limit." },
	{ TOTALS_HUNG_KILLED, "hung_workers_killed",
	    "hung_workers_killed_total",
	    "Workers aborted for being silent for worker_timeout." },
};

/* Per slot since start: the live children's reports summed, and which
 * slots to list (any with a worker now, or with one folded). */
static struct {
	struct ctl_stats	live[TOTALS_SLOTS];
	unsigned char		listed[TOTALS_SLOTS];
	int			max;	/* listed slots are below */
} since;

static void
since_collect(void)
{
	const struct child	*c;
	int			 i;

	memset(&since, 0, sizeof(since));
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->slot < 0 || c->slot >= TOTALS_SLOTS)
			continue;
		totals_add(&since.live[c->slot], &c->stats);
		since.listed[c->slot] = 1;
	}
	for (i = 0; i < TOTALS_SLOTS; i++) {
		if (i < master.nslots || totals_used(&master.totals, i))
			since.listed[i] = 1;
		if (since.listed[i])
			since.max = i + 1;
	}
}

/* Slot i's counters since start, or all slots' (i == -1). */
static void
since_get(int i, struct ctl_stats *out)
{
	struct ctl_stats	s;
	int			j;

	if (i >= 0) {
		if (totals_slot(&master.totals, i, &since.live[i], out) == -1)
			memset(out, 0, sizeof(*out));
		return;
	}
	memset(out, 0, sizeof(*out));
	for (j = 0; j < since.max; j++) {
		if (totals_slot(&master.totals, j, &since.live[j], &s) == 0)
			totals_add(out, &s);
	}
}

/* The counters; without connections_active if !gauge. */
static void
counters_json2(struct evbuffer *out, const struct ctl_stats *s, int gauge)
{
	if (gauge)
		evbuffer_add_printf(out, "\"connections_active\":%llu,",
		    (unsigned long long)s->conns_active);
	if (gauge)
		evbuffer_add_printf(out, "\"outbound_active\":%llu,",
		    (unsigned long long)s->out_active);
	evbuffer_add_printf(out,
	    "\"connections_total\":%llu,\"accepts\":%llu,\"bytes_in\":%llu,"
	    "\"bytes_out\":%llu,\"errors\":%llu,\"drops\":%llu,"
	    "\"outbound_total\":%llu",
	    (unsigned long long)s->conns_total,
	    (unsigned long long)s->accepts, (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out, (unsigned long long)s->errors,
	    (unsigned long long)s->drops, (unsigned long long)s->out_total);
}

static void
counters_json(struct evbuffer *out, const struct ctl_stats *s)
{
	counters_json2(out, s, 1);
}

static void
since_json(struct evbuffer *out)
{
	struct ctl_stats	s;
	size_t			i;
	int			j, first = 1;

	since_get(-1, &s);
	evbuffer_add_printf(out, ",\"since_start\":{");
	counters_json2(out, &s, 0);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		evbuffer_add_printf(out, ",\"%s\":%llu", events[i].json,
		    (unsigned long long)totals_events(&master.totals,
		    events[i].ev));
	evbuffer_add_printf(out, ",\"slots\":[");
	for (j = 0; j < since.max; j++) {
		if (!since.listed[j])
			continue;
		since_get(j, &s);
		evbuffer_add_printf(out, "%s{\"slot\":%d,", first ? "" : ",",
		    j);
		counters_json2(out, &s, 0);
		evbuffer_add(out, "}", 1);
		first = 0;
	}
	evbuffer_add_printf(out, "]}");
}

/*
 * Every slot (with or without a worker), then draining children; their
 * counters summed into sum, and how many rows have a worker in *live.
 */
static size_t
rows_collect(struct row *rows, size_t max, struct ctl_stats *sum, int *live)
{
	const struct child	*c;
	size_t			 n = 0, j;
	int			 i;

	for (i = 0; i < master.nslots && n < max; i++) {
		rows[n].c = master.slots[i].child;
		rows[n].slot = i;
		rows[n++].s = &master.slots[i];
	}
	TAILQ_FOREACH(c, &master.children, entry) {
		if (n == max)
			break;
		if (child_slot(c) != NULL)
			continue;
		rows[n].c = c;
		rows[n].slot = c->slot;
		rows[n++].s = NULL;
	}
	memset(sum, 0, sizeof(*sum));
	*live = 0;
	for (j = 0; j < n; j++) {
		if (rows[j].c != NULL) {
			totals_add(sum, &rows[j].c->stats);
			(*live)++;
		}
	}
	return n;
}

static void
row_json(struct evbuffer *out, const struct row *r, uint64_t now)
{
	static const struct ctl_stats	 zero;
	const struct child		*c = r->c;

	evbuffer_add_printf(out, "{\"slot\":%d,\"pid\":%ld,\"generation\":%u,"
	    "\"state\":\"%s\",\"uptime_s\":%llu,\"failures\":%u,"
	    "\"heartbeat_age_ms\":%llu,\"loop_lag_ms\":%.3f,",
	    r->slot, c != NULL ? (long)c->pid : 0L,
	    c != NULL ? c->generation : master.generation,
	    child_state_name(c, r->s),
	    c != NULL ? (unsigned long long)(now - c->started_ms) / 1000 : 0,
	    r->s != NULL ? r->s->failures : 0,
	    c != NULL ? (unsigned long long)(now - c->heartbeat_ms) : 0,
	    c != NULL ? c->loop_lag_us / 1000.0 : 0.0);
	counters_json(out, c != NULL ? &c->stats : &zero);
	/* Read back, not assumed: a pin that failed, or was changed from
	 * outside, shows as it is. */
	evbuffer_add_printf(out, ",\"cpu\":%d}", c != NULL && c->cpu >= 0 ?
	    affinity_of(c->pid) : -1);
}

/* A reload's or an upgrade's last outcome: null, or time, ok, result. */
static void
outcome_json(struct evbuffer *out, const struct reload_last *last)
{
	if (last->when == 0)
		evbuffer_add_printf(out, "null");
	else {
		evbuffer_add_printf(out, "{\"time\":%lld,\"ok\":%s,"
		    "\"result\":", (long long)last->when,
		    last->ok ? "true" : "false");
		json_str(out, last->result);
		evbuffer_add(out, "}", 1);
	}
}

static void
report_json(struct evbuffer *out, const struct row *rows, size_t n,
    const struct ctl_stats *sum, uint64_t now)
{
	const struct reload_last	*last = reload_last();
	char				 phase[64];
	size_t				 i;

	evbuffer_add_printf(out, "{\"pid\":%ld,\"uptime_s\":%llu,"
	    "\"started\":%lld,\"upgraded_from\":", (long)master.pid,
	    (unsigned long long)(now - master.started_ms) / 1000,
	    (long long)master.started_at);
	if (master.upgraded_from > 0)
		evbuffer_add_printf(out, "%ld", (long)master.upgraded_from);
	else
		evbuffer_add_printf(out, "null");
	evbuffer_add_printf(out, ",\"config\":");
	json_str(out, master.cfg->file);
	evbuffer_add_printf(out, ",\"generation\":%u,\"listeners\":[",
	    master.generation);
	for (i = 0; i < master.cfg->nlisteners; i++) {
		evbuffer_add_printf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, master.cfg->listeners[i].name);
		evbuffer_add_printf(out, ",\"service\":");
		json_str(out, master.cfg->listeners[i].service);
		backendstat_json(out, &master.cfg->listeners[i]);
		if (master.cfg->listeners[i].tls != NULL)
			tls_json(out);
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add_printf(out, "],\"last_reload\":");
	outcome_json(out, last);
	removal_phase(phase, sizeof(phase));
	evbuffer_add_printf(out, ",\"phase\":");
	json_str(out, phase);
	evbuffer_add_printf(out, ",\"worker_count\":%d,\"workers_override\":"
	    "%s", master.nslots, master.workers_override ? "true" : "false");
	evbuffer_add_printf(out, ",\"workers\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		row_json(out, &rows[i], now);
	}
	evbuffer_add_printf(out, "],\"totals\":{");
	counters_json(out, sum);
	evbuffer_add(out, "}", 1);
	since_json(out);
	last = upgrade_last();
	evbuffer_add_printf(out, ",\"last_upgrade\":");
	outcome_json(out, last);
	evbuffer_add_printf(out, "}\n");
}

/* A TLS listener: whether the kernel encrypts its records (kTLS), and
 * why not when it does not. */
static void
tls_json(struct evbuffer *out)
{
	const char	*why = NULL;
	int		 on = tlsctx_ktls_possible(&why);

	evbuffer_add_printf(out, ",\"tls\":true,\"ktls\":%s",
	    on ? "true" : "false");
	if (why != NULL) {
		evbuffer_add_printf(out, ",\"ktls_why_not\":");
		json_str(out, why);
	}
}

static void
report_last_reload(struct evbuffer *out)
{
	const struct reload_last	*last = reload_last();
	struct tm			 tm;
	char				 when[32];

	if (last->when == 0) {
		evbuffer_add_printf(out, "last reload: none\n");
		return;
	}
	localtime_r(&last->when, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	evbuffer_add_printf(out, "last reload: %s, %s: %s\n", when,
	    last->ok ? "ok" : "failed", last->result);
}

static void
report_text(struct evbuffer *out, enum admin_cmd cmd, const struct row *rows,
    size_t n, const struct ctl_stats *sum, uint64_t now)
{
	const struct child	*c;
	struct ctl_stats	 since_all;
	char			 phase[64];
	size_t			 i;

	if (cmd == ADMIN_STATUS) {
		evbuffer_add_printf(out, "pid %ld, up %llus, generation %u, "
		    "config %s\nlisteners:", (long)master.pid,
		    (unsigned long long)(now - master.started_ms) / 1000,
		    master.generation, master.cfg->file);
		for (i = 0; i < master.cfg->nlisteners; i++)
			evbuffer_add_printf(out, " %s (%s)",
			    master.cfg->listeners[i].name,
			    master.cfg->listeners[i].service);
		removal_phase(phase, sizeof(phase));
		evbuffer_add_printf(out, "\nphase: %s\n", phase);
		if (master.workers_override)
			evbuffer_add_printf(out, "workers: %d, set at run time "
			    "(the file says %d; a reload goes back to it)\n",
			    master.nslots, master_workers(master.cfg));
		else
			evbuffer_add_printf(out, "workers: %d\n",
			    master.nslots);
		report_last_reload(out);
	}
	if (cmd != ADMIN_STATS) {
		evbuffer_add_printf(out, "%4s %7s %3s %-10s %7s %4s %7s %8s\n",
		    "slot", "pid", "gen", "state", "up_s", "fail", "hb_ms",
		    "lag_ms");
		for (i = 0; i < n; i++) {
			c = rows[i].c;
			evbuffer_add_printf(out, "%4d %7ld %3u %-10s %7llu %4u "
			    "%7llu %8.3f\n", rows[i].slot,
			    c ? (long)c->pid : 0L,
			    c ? c->generation : master.generation,
			    child_state_name(c, rows[i].s),
			    c ? (unsigned long long)(now - c->started_ms) /
			    1000 : 0, rows[i].s ? rows[i].s->failures : 0,
			    c ? (unsigned long long)(now - c->heartbeat_ms) :
			    0, c ? c->loop_lag_us / 1000.0 : 0.0);
		}
	}
	if (cmd == ADMIN_WORKERS)
		return;
	evbuffer_add_printf(out, "%4s %7s %8s %10s %8s %14s %14s %6s %6s\n",
	    "slot", "pid", "active", "total", "accepts", "bytes_in",
	    "bytes_out", "errors", "drops");
	for (i = 0; i < n; i++) {
		if ((c = rows[i].c) == NULL)
			continue;
		evbuffer_add_printf(out, "%4d %7ld %8llu %10llu %8llu %14llu "
		    "%14llu %6llu %6llu\n", c->slot, (long)c->pid,
		    (unsigned long long)c->stats.conns_active,
		    (unsigned long long)c->stats.conns_total,
		    (unsigned long long)c->stats.accepts,
		    (unsigned long long)c->stats.bytes_in,
		    (unsigned long long)c->stats.bytes_out,
		    (unsigned long long)c->stats.errors,
		    (unsigned long long)c->stats.drops);
	}
	evbuffer_add_printf(out, "%4s %7s %8llu %10llu %8llu %14llu %14llu "
	    "%6llu %6llu\n", "all", "-", (unsigned long long)sum->conns_active,
	    (unsigned long long)sum->conns_total,
	    (unsigned long long)sum->accepts,
	    (unsigned long long)sum->bytes_in,
	    (unsigned long long)sum->bytes_out,
	    (unsigned long long)sum->errors, (unsigned long long)sum->drops);
	since_get(-1, &since_all);
	evbuffer_add_printf(out, "since start: %llu connections, %llu accepts, "
	    "%llu bytes in, %llu bytes out, %llu errors, %llu drops; "
	    "%llu reloads, %llu failed; %llu respawns, %llu backoffs, "
	    "%llu recycles, %llu hung killed\n",
	    (unsigned long long)since_all.conns_total,
	    (unsigned long long)since_all.accepts,
	    (unsigned long long)since_all.bytes_in,
	    (unsigned long long)since_all.bytes_out,
	    (unsigned long long)since_all.errors,
	    (unsigned long long)since_all.drops,
	    (unsigned long long)totals_events(&master.totals, TOTALS_RELOAD_OK),
	    (unsigned long long)totals_events(&master.totals,
	    TOTALS_RELOAD_FAILED),
	    (unsigned long long)totals_events(&master.totals, TOTALS_RESPAWN),
	    (unsigned long long)totals_events(&master.totals, TOTALS_BACKOFF),
	    (unsigned long long)totals_events(&master.totals, TOTALS_RECYCLE),
	    (unsigned long long)totals_events(&master.totals,
	    TOTALS_HUNG_KILLED));
}

void
admin_report(struct evbuffer *out, const struct admin_req *req)
{
	struct row		rows[CONFIG_WORKERS_MAX * 2];
	struct ctl_stats	sum;
	uint64_t		now = master_now_ms();
	size_t			n;
	int			live;

	n = rows_collect(rows, sizeof(rows) / sizeof(rows[0]), &sum, &live);
	since_collect();
	if (req->json)
		report_json(out, rows, n, &sum, now);
	else
		report_text(out, req->cmd, rows, n, &sum, now);
}

/* One family: HELP, TYPE, the total, and a series per slot (the gauge
 * sums the slot's live workers; the counters count since start). */
static void
prom_family(struct evbuffer *out, const char *name, const char *type,
    const char *help, size_t off)
{
	struct ctl_stats	s;
	int			i;

	since_get(-1, &s);
	evbuffer_add_printf(out, "# HELP preforkd_%s %s (all workers)\n"
	    "# TYPE preforkd_%s %s\npreforkd_%s %llu\n", name, help, name,
	    type, name, (unsigned long long)*(const uint64_t *)
	    ((const char *)&s + off));
	evbuffer_add_printf(out, "# HELP preforkd_worker_%s %s (per slot)\n"
	    "# TYPE preforkd_worker_%s %s\n", name, help, name, type);
	for (i = 0; i < since.max; i++) {
		if (!since.listed[i])
			continue;
		since_get(i, &s);
		evbuffer_add_printf(out, "preforkd_worker_%s{slot=\"%d\"} %llu\n",
		    name, i, (unsigned long long)*(const uint64_t *)
		    ((const char *)&s + off));
	}
}

/*
 * Prometheus text exposition (format 0.0.4) of the master's view: each
 * counter as preforkd_* (all slots) and preforkd_worker_*{slot}, counting
 * since the master started; the master's events; per process gauges
 * labelled slot, pid and generation.
 */
void
admin_report_prometheus(struct evbuffer *out)
{
	static const struct {
		const char	*name;
		const char	*type;
		const char	*help;
		size_t		 off;
	} fam[] = {
		{ "connections_active", "gauge", "Open connections.",
		    offsetof(struct ctl_stats, conns_active) },
		{ "connections_total", "counter", "Connections served.",
		    offsetof(struct ctl_stats, conns_total) },
		{ "accepts_total", "counter", "Connections accepted.",
		    offsetof(struct ctl_stats, accepts) },
		{ "received_bytes_total", "counter", "Bytes read from clients.",
		    offsetof(struct ctl_stats, bytes_in) },
		{ "sent_bytes_total", "counter", "Bytes written to clients.",
		    offsetof(struct ctl_stats, bytes_out) },
		{ "errors_total", "counter", "Connections closed on an error.",
		    offsetof(struct ctl_stats, errors) },
		{ "drops_total", "counter", "Connections refused at a limit.",
		    offsetof(struct ctl_stats, drops) },
		{ "outbound_connections_active", "gauge",
		    "Connections a service opened (pf_connect), still open.",
		    offsetof(struct ctl_stats, out_active) },
		{ "outbound_connections_total", "counter",
		    "Connections a service opened (pf_connect) that connected.",
		    offsetof(struct ctl_stats, out_total) },
	};
	struct row		rows[CONFIG_WORKERS_MAX * 2];
	struct ctl_stats	sum;
	const struct child	*c;
	uint64_t		now = master_now_ms();
	size_t			n, i;
	int			workers;

	n = rows_collect(rows, sizeof(rows) / sizeof(rows[0]), &sum,
	    &workers);
	since_collect();
	for (i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
		prom_family(out, fam[i].name, fam[i].type, fam[i].help,
		    fam[i].off);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		evbuffer_add_printf(out, "# HELP preforkd_%s %s\n"
		    "# TYPE preforkd_%s counter\npreforkd_%s %llu\n",
		    events[i].prom, events[i].help, events[i].prom,
		    events[i].prom, (unsigned long long)totals_events(
		    &master.totals, events[i].ev));
	evbuffer_add_printf(out, "# HELP preforkd_worker_info A worker "
	    "process: its slot, pid, generation and state.\n"
	    "# TYPE preforkd_worker_info gauge\n");
	for (i = 0; i < n; i++) {
		if ((c = rows[i].c) != NULL)
			evbuffer_add_printf(out, "preforkd_worker_info"
			    "{slot=\"%d\",pid=\"%ld\",generation=\"%u\","
			    "state=\"%s\"} 1\n", c->slot, (long)c->pid,
			    c->generation, child_state_name(c, rows[i].s));
	}
	evbuffer_add_printf(out, "# HELP preforkd_worker_loop_lag_seconds "
	    "Event-loop lag at the last heartbeat.\n"
	    "# TYPE preforkd_worker_loop_lag_seconds gauge\n");
	for (i = 0; i < n; i++) {
		if ((c = rows[i].c) != NULL)
			evbuffer_add_printf(out, "preforkd_worker_loop_lag_seconds"
			    "{slot=\"%d\",pid=\"%ld\",generation=\"%u\"} "
			    "%.6f\n", c->slot, (long)c->pid, c->generation,
			    c->loop_lag_us / 1e6);
	}
	evbuffer_add_printf(out, "# HELP preforkd_workers Live worker "
	    "processes.\n# TYPE preforkd_workers gauge\npreforkd_workers %d\n"
	    "# HELP preforkd_generation Serving generation.\n"
	    "# TYPE preforkd_generation gauge\npreforkd_generation %u\n"
	    "# HELP preforkd_uptime_seconds Master uptime.\n"
	    "# TYPE preforkd_uptime_seconds gauge\n"
	    "preforkd_uptime_seconds %llu\n", workers, master.generation,
	    (unsigned long long)(now - master.started_ms) / 1000);
	backendstat_prometheus(out, master.cfg);
}

/* Every slot of slots[0..n) has a ready worker; *bad the first that has not. */
static int
slots_ready(const struct slot *slots, int n, int *bad)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (slots[i].child == NULL ||
		    slots[i].child->state != CHILD_READY) {
			*bad = slots[i].id;
			return 0;
		}
	}
	return 1;
}

/*
 * Healthy while this instance accepts: not stopping or about to (the
 * drain delay), and every slot of the serving generation has a ready
 * worker (during a reload, those of the generation still serving count).
 */
int
master_health(char *why, size_t len)
{
	int	bad = 0;

	if (master.stopping || removal_pending(NULL)) {
		removal_phase(why, len);
		return 0;
	}
	if (slots_ready(master.slots, master.nslots, &bad) ||
	    (master.prev.cfg != NULL &&
	    slots_ready(master.prev.slots, master.prev.nslots, &bad))) {
		snprintf(why, len, "ok: %d workers ready, generation %u",
		    master.nslots, master.generation);
		return 1;
	}
	snprintf(why, len, "slot %d has no ready worker", bad);
	return 0;
}
