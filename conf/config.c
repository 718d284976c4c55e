/*
 * config.c -- load a libconfig file into a struct config and validate it.
 *
 * The schema is a table per group: each key has a kind, a range and the
 * offset of the field it fills.  Unknown keys, wrong types and values out of
 * range are all errors naming the file and line of the offending setting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conf/config.h"
#include "conf/proxyconf.h"

enum kind {
	K_INT,		/* integer in [min, max] */
	K_MS,		/* seconds (integer or float) in [min, max] ms, as ms */
	K_MODE,		/* file mode as an octal string, e.g. "0600" */
	K_BOOL,		/* true or false */
	K_WORKERS,	/* integer in [min, max] or "auto" */
	K_STR,		/* non-empty string, at most max bytes */
	K_LEVEL,	/* log level name */
	K_GROUP,	/* nested group filling the same struct */
	K_LISTENERS,	/* list of listener groups */
	K_MODULES,	/* list of module groups */
	K_SETTINGS,	/* a module's group of scalars, judged by the module */
	K_CIDRS,	/* list of "addr[/bits]" strings */
	K_BACKENDS,	/* a proxy's list of backend groups, at most max */
	K_BALANCE,	/* "roundrobin", "leastconn" or "source" */
	K_SENDPROXY,	/* "v1" or "v2" */
	K_FORMAT,	/* access log format: "text" (0) or "json" (1) */
};

struct field {
	const char		*name;
	enum kind		 kind;
	size_t			 off;
	long long		 min, max;
	const struct field	*sub;	/* K_GROUP, K_LISTENERS */
};

struct ctx {
	const char	*name;		/* file name for messages */
	char		*err;
	size_t		 errlen;
};

#define F(t, f)	offsetof(struct t, f)

static const struct field backend_fields[] = {
	{ "address", K_STR, F(backend_conf, address), 0, 253, NULL },
	{ "port", K_INT, F(backend_conf, port), 1, 65535, NULL },
	{ "path", K_STR, F(backend_conf, path), 0,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1, NULL },
	{ "weight", K_INT, F(backend_conf, weight), 1, PROXY_WEIGHT_MAX,
	    NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

/* access_log = { file = ...; format = ...; }, in a listener and at the top. */
static const struct field listener_alog_fields[] = {
	{ "file", K_STR, F(listen_conf, alog_file), 0, PATH_MAX - 1, NULL },
	{ "format", K_FORMAT, F(listen_conf, alog_json), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field alog_fields[] = {
	{ "file", K_STR, F(config, alog_file), 0, PATH_MAX - 1, NULL },
	{ "format", K_FORMAT, F(config, alog_json), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field listener_fields[] = {
	{ "address", K_STR, F(listen_conf, address), 0, INET6_ADDRSTRLEN, NULL },
	{ "port", K_INT, F(listen_conf, port), 1, 65535, NULL },
	{ "path", K_STR, F(listen_conf, path), 0,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1, NULL },
	{ "service", K_STR, F(listen_conf, service), 0, 64, NULL },
	{ "backlog", K_INT, F(listen_conf, backlog), 1, 65535, NULL },
	{ "tcp_nodelay", K_BOOL, F(listen_conf, tcp_nodelay), 0, 1, NULL },
	{ "reuseport", K_BOOL, F(listen_conf, reuseport), 0, 1, NULL },
	{ "idle_timeout", K_MS, F(listen_conf, idle_timeout_ms), 0, 86400000,
	    NULL },
	/* At least a full read (64 KiB) plus the default high water mark,
	 * so a service that heeds backpressure is never cut off. */
	{ "max_output_buffer", K_INT, F(listen_conf, max_output), 131072,
	    1 << 30, NULL },
	{ "max_connections_per_ip", K_INT, F(listen_conf, max_per_ip), 0,
	    65535, NULL },
	{ "allow", K_CIDRS, F(listen_conf, allow), 0, 0, NULL },
	{ "deny", K_CIDRS, F(listen_conf, deny), 0, 0, NULL },
	{ "proxy_protocol", K_BOOL, F(listen_conf, proxy_protocol), 0, 1,
	    NULL },
	{ "proxy_trusted", K_CIDRS, F(listen_conf, proxy_trusted), 0, 0,
	    NULL },
	{ "proxy_timeout", K_MS, F(listen_conf, proxy_timeout_ms), 10,
	    3600000, NULL },
	/* service = "proxy" (conf/proxyconf.c). */
	{ "backends", K_BACKENDS, 0, 1, PROXY_BACKENDS_MAX, backend_fields },
	{ "balance", K_BALANCE, F(listen_conf, proxy.balance), 0, 0, NULL },
	{ "connect_timeout", K_MS, F(listen_conf, proxy.connect_timeout_ms),
	    10, 3600000, NULL },
	{ "retries", K_INT, F(listen_conf, proxy.retries), 0,
	    PROXY_BACKENDS_MAX - 1, NULL },
	{ "backend_fail_max", K_INT, F(listen_conf, proxy.fail_max), 0,
	    1000000, NULL },
	{ "backend_down_time", K_MS, F(listen_conf, proxy.down_ms), 10,
	    86400000, NULL },
	{ "send_proxy", K_SENDPROXY, F(listen_conf, proxy.send_proxy), 0, 0,
	    NULL },
	{ "access_log", K_GROUP, 0, 0, 0, listener_alog_fields },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field module_fields[] = {
	{ "name", K_STR, F(module_conf, name), 0, 64, NULL },
	{ "path", K_STR, F(module_conf, path), 0, PATH_MAX - 1, NULL },
	{ "settings", K_SETTINGS, 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field log_fields[] = {
	{ "level", K_LEVEL, F(config, log_level), 0, 0, NULL },
	{ "file", K_STR, F(config, log_file), 0, PATH_MAX - 1, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field root_fields[] = {
	{ "workers", K_WORKERS, F(config, workers), 1, CONFIG_WORKERS_MAX,
	    NULL },
	{ "shutdown_timeout", K_MS, F(config, shutdown_timeout_ms), 10,
	    86400000, NULL },
	{ "drain_delay", K_MS, F(config, drain_delay_ms), 0, 3600000, NULL },
	{ "heartbeat_interval", K_MS, F(config, heartbeat_interval_ms), 10,
	    60000, NULL },
	{ "worker_timeout", K_MS, F(config, worker_timeout_ms), 50, 3600000,
	    NULL },
	{ "min_uptime", K_MS, F(config, min_uptime_ms), 1, 3600000, NULL },
	{ "max_connections_per_worker", K_INT, F(config, max_conns_per_worker),
	    0, INT_MAX, NULL },
	{ "max_connections_jitter", K_INT, F(config, max_conns_jitter), 0,
	    INT_MAX, NULL },
	{ "max_connections", K_INT, F(config, max_connections), 0, 1 << 24,
	    NULL },
	{ "max_old_generations", K_INT, F(config, max_old_generations), 1,
	    64, NULL },
	{ "admin_socket", K_STR, F(config, admin_socket), 0,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1, NULL },
	{ "admin_mode", K_MODE, F(config, admin_mode), 0, 0777, NULL },
	{ "pidfile", K_STR, F(config, pidfile), 0, PATH_MAX - 1, NULL },
	{ "chroot", K_STR, F(config, chroot), 0, PATH_MAX - 1, NULL },
	{ "user", K_STR, F(config, user), 0, 64, NULL },
	{ "group", K_STR, F(config, group), 0, 64, NULL },
	{ "rlimit_nofile", K_INT, F(config, rlimit_nofile), 64, 1 << 24,
	    NULL },
	{ "daemon", K_BOOL, F(config, daemon), 0, 1, NULL },
	{ "log", K_GROUP, 0, 0, 0, log_fields },
	{ "access_log", K_GROUP, 0, 0, 0, alog_fields },
	{ "listeners", K_LISTENERS, 0, 0, 0, listener_fields },
	{ "modules", K_MODULES, 0, 0, 0, module_fields },
	{ NULL, 0, 0, 0, 0, NULL }
};

static int
fail(struct ctx *ctx, const config_setting_t *s, const char *fmt, ...)
    PF_PRINTF(3, 4);

static int
fail(struct ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	const char	*file = NULL;
	va_list		 ap;
	int		 n, line = 0;

	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (file == NULL)
		file = ctx->name;
	n = snprintf(ctx->err, ctx->errlen, "%s:%d: ", file, line);
	if (n > 0 && (size_t)n < ctx->errlen) {
		va_start(ap, fmt);
		vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct field *
field_find(const struct field *fields, const char *name)
{
	for (; fields->name != NULL; fields++) {
		if (strcmp(fields->name, name) == 0)
			return fields;
	}
	return NULL;
}

static int
get_int(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    int *out)
{
	long long	v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(ctx, s, "'%s' must be an integer", f->name);
	v = config_setting_get_int64(s);
	if (v < f->min || v > f->max)
		return fail(ctx, s, "'%s' is %lld, must be %lld to %lld",
		    f->name, v, f->min, f->max);
	*out = (int)v;
	return 0;
}

/*
 * libconfig 1.5 has no octal literals (0600 reads as decimal 600), so a
 * file mode is written as a string and read in base 8.
 */
static int
get_mode(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    int *out)
{
	const char	*str;
	char		*end;
	long		 v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ctx, s, "'%s' must be an octal string, e.g. "
		    "\"0600\"", f->name);
	str = config_setting_get_string(s);
	errno = 0;
	v = strtol(str, &end, 8);
	if (*str == '\0' || *end != '\0' || errno != 0 || v < f->min ||
	    v > f->max)
		return fail(ctx, s, "'%s' must be an octal mode from \"0\" to "
		    "\"0777\", not \"%s\"", f->name, str);
	*out = (int)v;
	return 0;
}

_Static_assert(offsetof(struct listen_conf, nallow) ==
    offsetof(struct listen_conf, allow) + sizeof(struct cidr *) &&
    offsetof(struct listen_conf, ndeny) ==
    offsetof(struct listen_conf, deny) + sizeof(struct cidr *) &&
    offsetof(struct listen_conf, nproxy_trusted) ==
    offsetof(struct listen_conf, proxy_trusted) + sizeof(struct cidr *),
    "a cidr list's count follows its pointer");

/* allow/deny: the array pointer at dst, its count right after it. */
static int
get_cidrs(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    void *dst)
{
	const config_setting_t	*e;
	struct cidr		*v;
	int			 i, n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail(ctx, s, "'%s' must be a list of addresses, e.g. "
		    "[ \"10.0.0.0/8\", \"::1\" ]", f->name);
	n = config_setting_length(s);
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return fail(ctx, s, "out of memory");
	free(*(struct cidr **)dst);
	*(struct cidr **)dst = v;
	*(size_t *)((char *)dst + sizeof(struct cidr *)) = n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    cidr_parse(config_setting_get_string(e), &v[i]) == -1)
			return fail(ctx, e, "'%s': entry %d is not an address "
			    "or address/bits", f->name, i + 1);
	}
	return 0;
}

/* A duration in seconds, integer or fractional, kept in milliseconds. */
static int
get_ms(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    int *out)
{
	double	ms;

	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		ms = config_setting_get_float(s) * 1000.0;
	else if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		ms = (double)config_setting_get_int64(s) * 1000.0;
	else
		return fail(ctx, s, "'%s' must be a number of seconds",
		    f->name);
	if (!(ms >= f->min && ms <= f->max))
		return fail(ctx, s, "'%s' must be %g to %g seconds", f->name,
		    f->min / 1000.0, f->max / 1000.0);
	*out = (int)ms;
	return 0;
}

static int
set_field(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    void *base)
{
	const char	*str;
	char		*copy;
	void		*dst = (char *)base + f->off;

	switch (f->kind) {
	case K_WORKERS:
		if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			if (strcmp(config_setting_get_string(s), "auto") != 0)
				return fail(ctx, s, "'%s' must be an integer "
				    "or \"auto\"", f->name);
			*(int *)dst = CONFIG_WORKERS_AUTO;
			return 0;
		}
		return get_int(ctx, s, f, dst);
	case K_INT:
		return get_int(ctx, s, f, dst);
	case K_MODE:
		return get_mode(ctx, s, f, dst);
	case K_CIDRS:
		return get_cidrs(ctx, s, f, dst);
	case K_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(ctx, s, "'%s' must be true or false",
			    f->name);
		*(int *)dst = config_setting_get_bool(s);
		return 0;
	case K_MS:
		return get_ms(ctx, s, f, dst);
	case K_STR:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(ctx, s, "'%s' must be a string", f->name);
		str = config_setting_get_string(s);
		if (*str == '\0')
			return fail(ctx, s, "'%s' must not be empty", f->name);
		if (strlen(str) > (size_t)f->max)
			return fail(ctx, s, "'%s' is longer than %lld bytes",
			    f->name, f->max);
		if ((copy = strdup(str)) == NULL)
			return fail(ctx, s, "out of memory");
		free(*(char **)dst);
		*(char **)dst = copy;
		return 0;
	case K_FORMAT:
		str = config_setting_type(s) == CONFIG_TYPE_STRING ?
		    config_setting_get_string(s) : "";
		if (strcmp(str, "text") != 0 && strcmp(str, "json") != 0)
			return fail(ctx, s, "'%s' must be \"text\" or \"json\"",
			    f->name);
		*(int *)dst = strcmp(str, "json") == 0;
		return 0;
	case K_LEVEL:
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    log_level_parse(config_setting_get_string(s), dst) == -1)
			return fail(ctx, s, "'%s' must be one of \"error\", "
			    "\"warn\", \"info\", \"debug\"", f->name);
		return 0;
	case K_BALANCE:
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    (*(int *)dst = proxyconf_balance(
		    config_setting_get_string(s))) == -1)
			return fail(ctx, s, "'%s' must be one of "
			    "\"roundrobin\", \"leastconn\", \"source\"",
			    f->name);
		return 0;
	case K_SENDPROXY:
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    (*(int *)dst = proxyconf_send_proxy(
		    config_setting_get_string(s))) == -1)
			return fail(ctx, s, "'%s' must be \"v1\" or \"v2\"",
			    f->name);
		return 0;
	default:
		return fail(ctx, s, "'%s': internal error: bad kind", f->name);
	}
}

static int	parse_group(struct ctx *, const config_setting_t *,
		    const struct field *, void *, struct config *);

/* A module's settings: scalars only, copied as they are. */
static int
parse_settings(struct ctx *ctx, const config_setting_t *g,
    struct module_conf *md)
{
	const config_setting_t	*e;
	struct setting		*st;
	int			 i, n;

	if (!config_setting_is_group(g))
		return fail(ctx, g, "'settings' must be a group { ... }");
	n = config_setting_length(g);
	md->settings_line = config_setting_source_line(g);
	if (n == 0)
		return 0;
	if ((md->settings = calloc(n, sizeof(*md->settings))) == NULL)
		return fail(ctx, g, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(g, i);
		/* Counted at once, so config_free() frees whatever it holds. */
		st = &md->settings[md->nsettings++];
		st->line = config_setting_source_line(e);
		if ((st->key = strdup(config_setting_name(e))) == NULL)
			return fail(ctx, e, "out of memory");
		switch (config_setting_type(e)) {
		case CONFIG_TYPE_INT:
		case CONFIG_TYPE_INT64:
			st->type = SETTING_INT;
			st->i = config_setting_get_int64(e);
			st->f = (double)st->i;
			break;
		case CONFIG_TYPE_FLOAT:
			st->type = SETTING_FLOAT;
			st->f = config_setting_get_float(e);
			break;
		case CONFIG_TYPE_BOOL:
			st->type = SETTING_BOOL;
			st->i = config_setting_get_bool(e);
			break;
		case CONFIG_TYPE_STRING:
			st->type = SETTING_STR;
			if ((st->s = strdup(config_setting_get_string(e))) ==
			    NULL)
				return fail(ctx, e, "out of memory");
			break;
		default:
			return fail(ctx, e, "module setting '%s' must be a "
			    "number, a string or a boolean",
			    config_setting_name(e));
		}
	}
	return 0;
}

/* A proxy's backends: a list of groups, each checked in proxyconf.c. */
static int
parse_backends(struct ctx *ctx, const config_setting_t *s,
    const struct field *f, struct listen_conf *l, struct config *cfg)
{
	const config_setting_t	*e;
	struct backend_conf	*b;
	char			 msg[CONFIG_ERRLEN];
	int			 i, n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST ||
	    (n = config_setting_length(s)) == 0)
		return fail(ctx, s, "'%s' must be a non-empty list: ( { address "
		    "= ...; port = ...; }, ... )", f->name);
	if (n > f->max)
		return fail(ctx, s, "'%s' has %d entries, at most %lld",
		    f->name, n, f->max);
	proxyconf_free(&l->proxy);
	if ((l->proxy.backends = calloc(n, sizeof(*b))) == NULL)
		return fail(ctx, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		/* Counted at once, so config_free() frees whatever it holds. */
		b = &l->proxy.backends[l->proxy.nbackends++];
		b->line = config_setting_source_line(e);
		if (!config_setting_is_group(e))
			return fail(ctx, e, "'%s' entries must be groups "
			    "{ ... }", f->name);
		if (parse_group(ctx, e, f->sub, b, cfg) == -1)
			return -1;
		if (proxyconf_backend(b, msg, sizeof(msg)) == -1)
			return fail(ctx, e, "%s", msg);
	}
	return 0;
}

/* The proxy's keys belong to proxy listeners, which need backends. */
static int
listener_proxy_check(struct ctx *ctx, const config_setting_t *s,
    const struct listen_conf *l)
{
	const config_setting_t	*k;
	size_t			 i;

	if (strcmp(l->service, PROXY_SERVICE) == 0)
		return l->proxy.nbackends == 0 ? fail(ctx, s, "proxy listener "
		    "has no 'backends'") : 0;
	for (i = 0; proxyconf_keys[i] != NULL; i++) {
		if ((k = config_setting_get_member(s, proxyconf_keys[i])) !=
		    NULL)
			return fail(ctx, k, "'%s' is a setting of service = "
			    "\"" PROXY_SERVICE "\" only", proxyconf_keys[i]);
	}
	return 0;
}

static int
listener_check(struct ctx *ctx, const config_setting_t *s,
    struct listen_conf *l)
{
	struct in6_addr	a6;
	struct in_addr	a4;
	char		host[INET6_ADDRSTRLEN];

	if (l->service == NULL)
		return fail(ctx, s, "listener has no 'service'");
	if (listener_proxy_check(ctx, s, l) == -1)
		return -1;
	if (l->proxy_trusted != NULL && !l->proxy_protocol)
		return fail(ctx, s, "'proxy_trusted' without "
		    "'proxy_protocol = true'");
	/* A header says who the client is: by default only a balancer on
	 * this machine may say it. */
	if (l->proxy_protocol && l->proxy_trusted == NULL) {
		if ((l->proxy_trusted = calloc(2, sizeof(struct cidr))) ==
		    NULL)
			return fail(ctx, s, "out of memory");
		l->nproxy_trusted = 2;
		if (cidr_parse("127.0.0.0/8", &l->proxy_trusted[0]) == -1 ||
		    cidr_parse("::1", &l->proxy_trusted[1]) == -1)
			return fail(ctx, s, "cannot make the loopback blocks");
	}
	if (l->path != NULL) {
		if (l->address != NULL || l->port != 0)
			return fail(ctx, s, "listener has both 'path' and "
			    "'address'/'port'");
		snprintf(l->name, sizeof(l->name), "%s", l->path);
		return 0;
	}
	if (l->port == 0)
		return fail(ctx, s, "listener needs 'port' (or 'path')");
	if (l->address == NULL && (l->address = strdup("0.0.0.0")) == NULL)
		return fail(ctx, s, "out of memory");
	/* Names are canonical, so "::1" and "0::1" are one listener. */
	if (inet_pton(AF_INET, l->address, &a4) == 1) {
		inet_ntop(AF_INET, &a4, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "%s:%d", host, l->port);
	} else if (inet_pton(AF_INET6, l->address, &a6) == 1) {
		inet_ntop(AF_INET6, &a6, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "[%s]:%d", host, l->port);
	} else
		return fail(ctx, s, "'address' \"%s\" is not a numeric IPv4 "
		    "or IPv6 address", l->address);
	return 0;
}

static int
module_check(struct ctx *ctx, const config_setting_t *s,
    const struct module_conf *md, const struct module_conf *prev, size_t n)
{
	size_t	i;

	if (md->name == NULL || md->path == NULL)
		return fail(ctx, s, "module needs 'name' and 'path'");
	for (i = 0; i < n; i++) {
		if (strcmp(prev[i].name, md->name) == 0)
			return fail(ctx, s, "module '%s' is already defined at "
			    "line %d", md->name, prev[i].line);
	}
	return 0;
}

static int
listener_unique(struct ctx *ctx, const config_setting_t *s,
    const struct listen_conf *l, const struct listen_conf *prev, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if ((prev[i].path == NULL) == (l->path == NULL) &&
		    strcmp(prev[i].name, l->name) == 0)
			return fail(ctx, s, "listener %s is already defined at "
			    "line %d", l->name, prev[i].line);
	}
	return 0;
}

/*
 * An access_log group in g (the top, or a listener) needs a file; keep
 * where it was set, for the checks made at start-up (server/check.c).
 * "off" is none (a listener's own turns the global one off for it).
 */
static int
alog_check(struct ctx *ctx, const config_setting_t *g, char **file,
    struct config_pos *pos)
{
	const config_setting_t	*s, *fs;
	const char		*name;

	if ((s = config_setting_get_member(g, "access_log")) == NULL)
		return 0;
	if ((fs = config_setting_get_member(s, "file")) == NULL)
		return fail(ctx, s, "'access_log' needs 'file' (a path or "
		    "\"syslog\")");
	if ((name = config_setting_source_file(fs)) == NULL)
		name = ctx->name;
	if ((pos->file = strdup(name)) == NULL)
		return fail(ctx, s, "out of memory");
	pos->line = config_setting_source_line(fs);
	if (strcmp(*file, "off") == 0) {
		free(*file);
		*file = NULL;
	}
	return 0;
}

/* A listener without an access_log of its own writes to the global one. */
static int
alog_inherit(struct ctx *ctx, struct config *cfg)
{
	struct listen_conf	*l;
	size_t			 i;

	for (i = 0; i < cfg->nlisteners && cfg->alog_file != NULL; i++) {
		l = &cfg->listeners[i];
		if (l->alog_pos.file != NULL)
			continue;
		if ((l->alog_file = strdup(cfg->alog_file)) == NULL)
			return fail(ctx, NULL, "out of memory");
		l->alog_json = cfg->alog_json;
	}
	return 0;
}

/* A list of groups: listeners or modules. */
static int
parse_list(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    struct config *cfg)
{
	const config_setting_t	*e;
	struct listen_conf	*l, *ls = NULL;
	struct module_conf	*md, *mds = NULL;
	size_t			 i;
	int			 n, line;

	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(s) == 0))
		return fail(ctx, s, "'%s' must be a list: ( { ... }, ... )",
		    f->name);
	if ((n = config_setting_length(s)) == 0)
		return f->kind == K_LISTENERS ?
		    fail(ctx, s, "'%s' is empty", f->name) : 0;
	if (f->kind == K_LISTENERS) {
		if ((cfg->listeners = ls = calloc(n, sizeof(*ls))) == NULL)
			return fail(ctx, s, "out of memory");
		cfg->nlisteners = n;
	} else {
		if ((cfg->modules = mds = calloc(n, sizeof(*mds))) == NULL)
			return fail(ctx, s, "out of memory");
		cfg->nmodules = n;
	}
	for (i = 0; i < (size_t)n; i++) {
		e = config_setting_get_elem(s, i);
		line = config_setting_source_line(e);
		if (!config_setting_is_group(e))
			return fail(ctx, e, "'%s' entries must be groups "
			    "{ ... }", f->name);
		if (ls != NULL) {
			l = &ls[i];
			l->backlog = 511;
			l->tcp_nodelay = 1;
			l->reuseport = 1;
			l->max_output = 1 << 20;
			l->proxy_timeout_ms = 5000;
			proxyconf_defaults(&l->proxy);
			l->line = line;
			if (parse_group(ctx, e, f->sub, l, cfg) == -1 ||
			    alog_check(ctx, e, &l->alog_file, &l->alog_pos) ==
			    -1 || listener_check(ctx, e, l) == -1 ||
			    listener_unique(ctx, e, l, cfg->listeners, i) == -1)
				return -1;
		} else if (mds != NULL) {
			md = &mds[i];
			md->line = line;
			if (parse_group(ctx, e, f->sub, md, cfg) == -1 ||
			    module_check(ctx, e, md, cfg->modules, i) == -1)
				return -1;
		}
	}
	return 0;
}

static int
parse_group(struct ctx *ctx, const config_setting_t *group,
    const struct field *fields, void *base, struct config *cfg)
{
	const config_setting_t	*s;
	const struct field	*f;
	int			 i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(group, i);
		if ((f = field_find(fields, config_setting_name(s))) == NULL)
			return fail(ctx, s, "unknown setting '%s'",
			    config_setting_name(s));
		switch (f->kind) {
		case K_GROUP:
			if (!config_setting_is_group(s))
				return fail(ctx, s, "'%s' must be a group "
				    "{ ... }", f->name);
			if (parse_group(ctx, s, f->sub, base, cfg) == -1)
				return -1;
			break;
		case K_LISTENERS:
		case K_MODULES:
			if (parse_list(ctx, s, f, cfg) == -1)
				return -1;
			break;
		case K_SETTINGS:
			if (parse_settings(ctx, s, base) == -1)
				return -1;
			break;
		case K_BACKENDS:
			if (parse_backends(ctx, s, f, base, cfg) == -1)
				return -1;
			break;
		default:
			if (set_field(ctx, s, f, base) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/* Keep the file and line of a setting, if it is set. */
static int
pos_keep(config_t *lc, const char *path, struct ctx *ctx,
    struct config_pos *pos)
{
	const config_setting_t	*s;
	const char		*file;

	if ((s = config_lookup(lc, path)) == NULL)
		return 0;
	if ((file = config_setting_source_file(s)) == NULL)
		file = ctx->name;
	if ((pos->file = strdup(file)) == NULL)
		return -1;
	pos->line = config_setting_source_line(s);
	return 0;
}

static struct config *
config_build(config_t *lc, const char *name, struct ctx *ctx)
{
	struct config	*cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->file = strdup(name)) == NULL) {
		free(cfg);
		fail(ctx, NULL, "out of memory");
		return NULL;
	}
	cfg->workers = CONFIG_WORKERS_AUTO;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->shutdown_timeout_ms = 10000;
	cfg->heartbeat_interval_ms = 1000;
	cfg->worker_timeout_ms = 10000;
	cfg->min_uptime_ms = 1000;
	cfg->admin_mode = 0600;
	cfg->max_old_generations = 2;
	if (parse_group(ctx, config_root_setting(lc), root_fields, cfg,
	    cfg) == -1 || alog_check(ctx, config_root_setting(lc),
	    &cfg->alog_file, &cfg->pos_alog_file) == -1 ||
	    alog_inherit(ctx, cfg) == -1)
		goto err;
	if (cfg->nlisteners == 0) {
		/* Nothing to point at: the top of the file. */
		snprintf(ctx->err, ctx->errlen, "%s:1: no 'listeners' defined",
		    ctx->name);
		goto err;
	}
	if (cfg->worker_timeout_ms <= cfg->heartbeat_interval_ms) {
		fail(ctx, config_lookup(lc, "worker_timeout"), "'worker_timeout'"
		    " must be longer than 'heartbeat_interval'");
		goto err;
	}
	if (pos_keep(lc, "log.file", ctx, &cfg->pos_log_file) == -1 ||
	    pos_keep(lc, "admin_socket", ctx, &cfg->pos_admin_socket) == -1 ||
	    pos_keep(lc, "pidfile", ctx, &cfg->pos_pidfile) == -1 ||
	    pos_keep(lc, "chroot", ctx, &cfg->pos_chroot) == -1 ||
	    pos_keep(lc, "user", ctx, &cfg->pos_user) == -1 ||
	    pos_keep(lc, "group", ctx, &cfg->pos_group) == -1) {
		fail(ctx, NULL, "out of memory");
		goto err;
	}
	return cfg;
err:
	config_free(cfg);
	return NULL;
}

/*
 * Line n of a file, or of text when file is NULL, into buf ("" if there is
 * none).
 */
static void
line_get(const char *file, const char *text, int n, char *buf, size_t len)
{
	FILE	*f;
	size_t	 k;
	int	 i;

	buf[0] = '\0';
	if (file != NULL) {
		if ((f = fopen(file, "r")) == NULL)
			return;
		for (i = 1; fgets(buf, (int)len, f) != NULL && i < n; i++)
			buf[0] = '\0';
		if (i < n)
			buf[0] = '\0';
		fclose(f);
		return;
	}
	for (i = 1; i < n && text != NULL; i++) {
		if ((text = strchr(text, '\n')) != NULL)
			text++;
	}
	if (text == NULL)
		return;
	k = strcspn(text, "\n");
	snprintf(buf, len, "%.*s", (int)(k < len ? k : len - 1), text);
}

/*
 * libconfig's error, as "file:line: message".  It says "cannot open include
 * file" without the name: take it from the @include line.
 */
static void
parse_error(config_t *lc, const char *name, const char *text, char *err,
    size_t errlen)
{
	const char	*file = config_error_file(lc), *msg = config_error_text(lc);
	char		 line[1024], *q, *e;
	int		 n = config_error_line(lc);

	if (file == NULL)
		file = name;
	if (msg == NULL)
		msg = "syntax error";
	if (strstr(msg, "include") != NULL) {
		line_get(config_error_file(lc) != NULL || text == NULL ? file :
		    NULL, text, n, line, sizeof(line));
		if ((q = strchr(line, '"')) != NULL &&
		    (e = strchr(q + 1, '"')) != NULL) {
			*e = '\0';
			snprintf(err, errlen, "%s:%d: %s \"%s\"", file, n, msg,
			    q + 1);
			return;
		}
	}
	snprintf(err, errlen, "%s:%d: %s", file, n < 1 ? 1 : n, msg);
}

static int
has_bom(const char *p)
{
	return (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb &&
	    (unsigned char)p[2] == 0xbf;
}

#define BOM_MESSAGE	"the file starts with a UTF-8 byte order mark; save " \
	"it without one"

static struct config *
config_finish(config_t *lc, int rc, const char *name, const char *text,
    char *err, size_t errlen)
{
	struct ctx	 ctx = { name, err, errlen };
	struct config	*cfg = NULL;

	if (rc != CONFIG_TRUE)
		parse_error(lc, name, text, err, errlen);
	else
		cfg = config_build(lc, name, &ctx);
	config_destroy(lc);
	return cfg;
}

struct config *
config_load(const char *file, char *err, size_t errlen)
{
	struct stat	 st;
	config_t	 lc;
	FILE		*f;
	char		 dir[PATH_MAX], bom[3];
	char		*slash;
	int		 rc;

	/* Open it here: libconfig's I/O errors do not always set errno. */
	if ((f = fopen(file, "r")) == NULL || fstat(fileno(f), &st) == -1) {
		snprintf(err, errlen, "%s: cannot read: %s", file,
		    strerror(errno));
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot read: %s", file,
		    S_ISDIR(st.st_mode) ? "is a directory" :
		    "not a regular file");
		fclose(f);
		return NULL;
	}
	if (fread(bom, 1, sizeof(bom), f) == sizeof(bom) && has_bom(bom)) {
		snprintf(err, errlen, "%s:1: " BOM_MESSAGE, file);
		fclose(f);
		return NULL;
	}
	rewind(f);
	config_init(&lc);
	snprintf(dir, sizeof(dir), "%s", file);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		config_set_include_dir(&lc, dir);
	}
	rc = config_read(&lc, f);
	fclose(f);
	return config_finish(&lc, rc, file, NULL, err, errlen);
}

struct config *
config_parse(const char *text, const char *name, char *err, size_t errlen)
{
	config_t	lc;
	int		rc;

	if (strlen(text) >= 3 && has_bom(text)) {
		snprintf(err, errlen, "%s:1: " BOM_MESSAGE, name);
		return NULL;
	}
	config_init(&lc);
	rc = config_read_string(&lc, text);
	return config_finish(&lc, rc, name, text, err, errlen);
}

void
config_free(struct config *cfg)
{
	size_t	i, j;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nlisteners; i++) {
		free(cfg->listeners[i].address);
		free(cfg->listeners[i].path);
		free(cfg->listeners[i].service);
		free(cfg->listeners[i].allow);
		free(cfg->listeners[i].deny);
		free(cfg->listeners[i].proxy_trusted);
		proxyconf_free(&cfg->listeners[i].proxy);
		free(cfg->listeners[i].alog_file);
		free(cfg->listeners[i].alog_pos.file);
	}
	free(cfg->listeners);
	for (i = 0; i < cfg->nmodules; i++) {
		free(cfg->modules[i].name);
		free(cfg->modules[i].path);
		for (j = 0; j < cfg->modules[i].nsettings; j++) {
			free(cfg->modules[i].settings[j].key);
			free(cfg->modules[i].settings[j].s);
		}
		free(cfg->modules[i].settings);
	}
	free(cfg->modules);
	free(cfg->admin_socket);
	free(cfg->pidfile);
	free(cfg->chroot);
	free(cfg->user);
	free(cfg->group);
	free(cfg->log_file);
	free(cfg->alog_file);
	free(cfg->pos_log_file.file);
	free(cfg->pos_alog_file.file);
	free(cfg->pos_admin_socket.file);
	free(cfg->pos_pidfile.file);
	free(cfg->pos_chroot.file);
	free(cfg->pos_user.file);
	free(cfg->pos_group.file);
	free(cfg->file);
	free(cfg);
}
