/*
 * groups.c -- the lists of groups of the configuration (listeners,
 * modules, a proxy's backends), a module's settings, the access_log
 * groups, and the checks of a group once its keys are read: a listener's
 * name and PROXY trust, keys that belong to another service, duplicates.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/proxyconf.h"
#include "conf/schema.h"

/* A module's settings: scalars only, copied as they are. */
int
conf_parse_settings(struct ctx *ctx, const config_setting_t *g,
    struct module_conf *md)
{
	const config_setting_t	*e;
	struct setting		*st;
	int			 i, n;

	if (!config_setting_is_group(g))
		return conf_fail(ctx, g, "'settings' must be a group { ... }");
	n = config_setting_length(g);
	md->settings_line = config_setting_source_line(g);
	if (n == 0)
		return 0;
	if ((md->settings = calloc(n, sizeof(*md->settings))) == NULL)
		return conf_fail(ctx, g, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(g, i);
		/* Counted at once, so config_free() frees whatever it holds. */
		st = &md->settings[md->nsettings++];
		st->line = config_setting_source_line(e);
		if ((st->key = strdup(config_setting_name(e))) == NULL)
			return conf_fail(ctx, e, "out of memory");
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
				return conf_fail(ctx, e, "out of memory");
			break;
		default:
			return conf_fail(ctx, e, "module setting '%s' must be a "
			    "number, a string or a boolean",
			    config_setting_name(e));
		}
	}
	return 0;
}

/* A proxy's backends: a list of groups, each checked in proxyconf.c. */
int
conf_parse_backends(struct ctx *ctx, const config_setting_t *s,
    const struct field *f, struct listen_conf *l, struct config *cfg)
{
	const config_setting_t	*e;
	struct backend_conf	*b;
	char			 msg[CONFIG_ERRLEN];
	int			 i, n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST ||
	    (n = config_setting_length(s)) == 0)
		return conf_fail(ctx, s, "'%s' must be a non-empty list: ( { address "
		    "= ...; port = ...; }, ... )", f->name);
	if (n > f->max)
		return conf_fail(ctx, s, "'%s' has %d entries, at most %lld",
		    f->name, n, f->max);
	proxyconf_free(&l->proxy);
	if ((l->proxy.backends = calloc(n, sizeof(*b))) == NULL)
		return conf_fail(ctx, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		/* Counted at once, so config_free() frees whatever it holds. */
		b = &l->proxy.backends[l->proxy.nbackends++];
		b->line = config_setting_source_line(e);
		if (!config_setting_is_group(e))
			return conf_fail(ctx, e, "'%s' entries must be groups "
			    "{ ... }", f->name);
		if (conf_parse_group(ctx, e, f->sub, b, cfg) == -1)
			return -1;
		if (proxyconf_backend(b, msg, sizeof(msg)) == -1)
			return conf_fail(ctx, e, "%s", msg);
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
		return l->proxy.nbackends == 0 ? conf_fail(ctx, s, "proxy listener "
		    "has no 'backends'") : 0;
	for (i = 0; proxyconf_keys[i] != NULL; i++) {
		if ((k = config_setting_get_member(s, proxyconf_keys[i])) !=
		    NULL)
			return conf_fail(ctx, k, "'%s' is a setting of service = "
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
		return conf_fail(ctx, s, "listener has no 'service'");
	if (listener_proxy_check(ctx, s, l) == -1)
		return -1;
	/* The master serves stats itself, in plaintext. */
	if (l->tls != NULL && strcmp(l->service, "stats") == 0)
		return conf_fail(ctx, config_setting_get_member(s, "tls"),
		    "'tls' is not available on service = \"stats\"");
	if (l->proxy_trusted != NULL && !l->proxy_protocol)
		return conf_fail(ctx, s, "'proxy_trusted' without "
		    "'proxy_protocol = true'");
	/* A header says who the client is: by default only a balancer on
	 * this machine may say it. */
	if (l->proxy_protocol && l->proxy_trusted == NULL) {
		if ((l->proxy_trusted = calloc(2, sizeof(struct cidr))) ==
		    NULL)
			return conf_fail(ctx, s, "out of memory");
		l->nproxy_trusted = 2;
		if (cidr_parse("127.0.0.0/8", &l->proxy_trusted[0]) == -1 ||
		    cidr_parse("::1", &l->proxy_trusted[1]) == -1)
			return conf_fail(ctx, s, "cannot make the loopback blocks");
	}
	if (l->path != NULL) {
		if (l->address != NULL || l->port != 0)
			return conf_fail(ctx, s, "listener has both 'path' and "
			    "'address'/'port'");
		snprintf(l->name, sizeof(l->name), "%s", l->path);
		return 0;
	}
	if (l->port == 0)
		return conf_fail(ctx, s, "listener needs 'port' (or 'path')");
	if (l->address == NULL && (l->address = strdup("0.0.0.0")) == NULL)
		return conf_fail(ctx, s, "out of memory");
	/* Names are canonical, so "::1" and "0::1" are one listener. */
	if (inet_pton(AF_INET, l->address, &a4) == 1) {
		inet_ntop(AF_INET, &a4, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "%s:%d", host, l->port);
	} else if (inet_pton(AF_INET6, l->address, &a6) == 1) {
		inet_ntop(AF_INET6, &a6, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "[%s]:%d", host, l->port);
	} else
		return conf_fail(ctx, s, "'address' \"%s\" is not a numeric IPv4 "
		    "or IPv6 address", l->address);
	return 0;
}

static int
module_check(struct ctx *ctx, const config_setting_t *s,
    const struct module_conf *md, const struct module_conf *prev, size_t n)
{
	size_t	i;

	if (md->name == NULL || md->path == NULL)
		return conf_fail(ctx, s, "module needs 'name' and 'path'");
	for (i = 0; i < n; i++) {
		if (strcmp(prev[i].name, md->name) == 0)
			return conf_fail(ctx, s, "module '%s' is already defined at "
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
			return conf_fail(ctx, s, "listener %s is already defined at "
			    "line %d", l->name, prev[i].line);
	}
	return 0;
}

/*
 * An access_log group in g (the top, or a listener) needs a file; keep
 * where it was set, for the checks made at start-up (server/check.c).
 * "off" is none (a listener's own turns the global one off for it).
 */
int
conf_alog_check(struct ctx *ctx, const config_setting_t *g, char **file,
    struct config_pos *pos)
{
	const config_setting_t	*s, *fs;
	const char		*name;

	if ((s = config_setting_get_member(g, "access_log")) == NULL)
		return 0;
	if ((fs = config_setting_get_member(s, "file")) == NULL)
		return conf_fail(ctx, s, "'access_log' needs 'file' (a path or "
		    "\"syslog\")");
	if ((name = config_setting_source_file(fs)) == NULL)
		name = ctx->name;
	if ((pos->file = strdup(name)) == NULL)
		return conf_fail(ctx, s, "out of memory");
	pos->line = config_setting_source_line(fs);
	if (strcmp(*file, "off") == 0) {
		free(*file);
		*file = NULL;
	}
	return 0;
}

/* A listener without an access_log of its own writes to the global one. */
int
conf_alog_inherit(struct ctx *ctx, struct config *cfg)
{
	struct listen_conf	*l;
	size_t			 i;

	for (i = 0; i < cfg->nlisteners && cfg->alog_file != NULL; i++) {
		l = &cfg->listeners[i];
		if (l->alog_pos.file != NULL)
			continue;
		if ((l->alog_file = strdup(cfg->alog_file)) == NULL)
			return conf_fail(ctx, NULL, "out of memory");
		l->alog_json = cfg->alog_json;
	}
	return 0;
}

/* A list of groups: listeners or modules. */
int
conf_parse_list(struct ctx *ctx, const config_setting_t *s, const struct field *f,
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
		return conf_fail(ctx, s, "'%s' must be a list: ( { ... }, ... )",
		    f->name);
	if ((n = config_setting_length(s)) == 0)
		return f->kind == K_LISTENERS ?
		    conf_fail(ctx, s, "'%s' is empty", f->name) : 0;
	if (f->kind == K_LISTENERS) {
		if ((cfg->listeners = ls = calloc(n, sizeof(*ls))) == NULL)
			return conf_fail(ctx, s, "out of memory");
		cfg->nlisteners = n;
	} else {
		if ((cfg->modules = mds = calloc(n, sizeof(*mds))) == NULL)
			return conf_fail(ctx, s, "out of memory");
		cfg->nmodules = n;
	}
	for (i = 0; i < (size_t)n; i++) {
		e = config_setting_get_elem(s, i);
		line = config_setting_source_line(e);
		if (!config_setting_is_group(e))
			return conf_fail(ctx, e, "'%s' entries must be groups "
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
			if (conf_parse_group(ctx, e, f->sub, l, cfg) == -1 ||
			    conf_alog_check(ctx, e, &l->alog_file, &l->alog_pos) ==
			    -1 || listener_check(ctx, e, l) == -1 ||
			    listener_unique(ctx, e, l, cfg->listeners, i) == -1)
				return -1;
		} else if (mds != NULL) {
			md = &mds[i];
			md->line = line;
			if (conf_parse_group(ctx, e, f->sub, md, cfg) == -1 ||
			    module_check(ctx, e, md, cfg->modules, i) == -1)
				return -1;
		}
	}
	return 0;
}
