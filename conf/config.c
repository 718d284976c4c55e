/*
 * config.c -- load a libconfig file into a struct config and validate it.
 *
 * The schema (schema.c) is a table per group: each key has a kind, a range
 * and the offset of the field it fills; this file reads a group by its
 * table, value by value, and groups.c what is made of groups.  Unknown
 * keys, wrong types and values out of range are all errors naming the
 * file and line of the offending setting.
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
#include "conf/schema.h"
#include "conf/tlsconf.h"

int
conf_fail(struct ctx *ctx, const config_setting_t *s, const char *fmt, ...)
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
		return conf_fail(ctx, s, "'%s' must be an integer", f->name);
	v = config_setting_get_int64(s);
	if (v < f->min || v > f->max)
		return conf_fail(ctx, s, "'%s' is %lld, must be %lld to %lld",
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
		return conf_fail(ctx, s, "'%s' must be an octal string, e.g. "
		    "\"0600\"", f->name);
	str = config_setting_get_string(s);
	errno = 0;
	v = strtol(str, &end, 8);
	if (*str == '\0' || *end != '\0' || errno != 0 || v < f->min ||
	    v > f->max)
		return conf_fail(ctx, s, "'%s' must be an octal mode from \"0\" to "
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
		return conf_fail(ctx, s, "'%s' must be a list of addresses, e.g. "
		    "[ \"10.0.0.0/8\", \"::1\" ]", f->name);
	n = config_setting_length(s);
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return conf_fail(ctx, s, "out of memory");
	free(*(struct cidr **)dst);
	*(struct cidr **)dst = v;
	*(size_t *)((char *)dst + sizeof(struct cidr *)) = n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    cidr_parse(config_setting_get_string(e), &v[i]) == -1)
			return conf_fail(ctx, e, "'%s': entry %d is not an address "
			    "or address/bits", f->name, i + 1);
	}
	return 0;
}

/*
 * cpu_affinity: "auto" or [ 0, 2, ... ].  Only the numbers are judged
 * here; whether each CPU exists for this process is server/check.c's.
 */
static int
get_cpus(struct ctx *ctx, const config_setting_t *s, const struct field *f,
    struct config *cfg)
{
	const config_setting_t	*e;
	long long		 v;
	int			 i, n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (strcmp(config_setting_get_string(s), "auto") != 0)
			goto bad;
		cfg->cpu_affinity = CONFIG_CPUS_AUTO;
		return 0;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		goto bad;
	if ((n = config_setting_length(s)) == 0)
		return conf_fail(ctx, s, "'%s' is an empty list", f->name);
	free(cfg->cpus);
	if ((cfg->cpus = calloc(n, sizeof(*cfg->cpus))) == NULL)
		return conf_fail(ctx, s, "out of memory");
	cfg->ncpus = n;
	cfg->cpu_affinity = CONFIG_CPUS_LIST;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_INT &&
		    config_setting_type(e) != CONFIG_TYPE_INT64)
			return conf_fail(ctx, e, "'%s': entry %d is not a CPU "
			    "number", f->name, i + 1);
		v = config_setting_get_int64(e);
		if (v < f->min || v > f->max)
			return conf_fail(ctx, e, "'%s': CPU %lld out of range, "
			    "must be %lld to %lld", f->name, v, f->min, f->max);
		cfg->cpus[i] = (int)v;
	}
	return 0;
bad:
	return conf_fail(ctx, s, "'%s' must be \"auto\" or a list of CPU numbers, "
	    "e.g. [ 0, 2 ]", f->name);
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
		return conf_fail(ctx, s, "'%s' must be a number of seconds",
		    f->name);
	if (!(ms >= f->min && ms <= f->max))
		return conf_fail(ctx, s, "'%s' must be %g to %g seconds", f->name,
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
				return conf_fail(ctx, s, "'%s' must be an integer "
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
			return conf_fail(ctx, s, "'%s' must be true or false",
			    f->name);
		*(int *)dst = config_setting_get_bool(s);
		return 0;
	case K_MS:
		return get_ms(ctx, s, f, dst);
	case K_STR:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, "'%s' must be a string", f->name);
		str = config_setting_get_string(s);
		if (*str == '\0')
			return conf_fail(ctx, s, "'%s' must not be empty", f->name);
		if (strlen(str) > (size_t)f->max)
			return conf_fail(ctx, s, "'%s' is longer than %lld bytes",
			    f->name, f->max);
		if ((copy = strdup(str)) == NULL)
			return conf_fail(ctx, s, "out of memory");
		free(*(char **)dst);
		*(char **)dst = copy;
		return 0;
	case K_CPUS:
		return get_cpus(ctx, s, f, base);
	case K_FORMAT:
		str = config_setting_type(s) == CONFIG_TYPE_STRING ?
		    config_setting_get_string(s) : "";
		if (strcmp(str, "text") != 0 && strcmp(str, "json") != 0)
			return conf_fail(ctx, s, "'%s' must be \"text\" or \"json\"",
			    f->name);
		*(int *)dst = strcmp(str, "json") == 0;
		return 0;
	case K_LEVEL:
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    log_level_parse(config_setting_get_string(s), dst) == -1)
			return conf_fail(ctx, s, "'%s' must be one of \"error\", "
			    "\"warn\", \"info\", \"debug\"", f->name);
		return 0;
	case K_BALANCE:
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    (*(int *)dst = proxyconf_balance(
		    config_setting_get_string(s))) == -1)
			return conf_fail(ctx, s, "'%s' must be one of "
			    "\"roundrobin\", \"leastconn\", \"source\"",
			    f->name);
		return 0;
	case K_SENDPROXY:
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    (*(int *)dst = proxyconf_send_proxy(
		    config_setting_get_string(s))) == -1)
			return conf_fail(ctx, s, "'%s' must be \"v1\" or \"v2\"",
			    f->name);
		return 0;
	default:
		return conf_fail(ctx, s, "'%s': internal error: bad kind", f->name);
	}
}


int
conf_parse_group(struct ctx *ctx, const config_setting_t *group,
    const struct field *fields, void *base, struct config *cfg)
{
	const config_setting_t	*s;
	const struct field	*f;
	int			 i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(group, i);
		if ((f = field_find(fields, config_setting_name(s))) == NULL)
			return conf_fail(ctx, s, "unknown setting '%s'",
			    config_setting_name(s));
		switch (f->kind) {
		case K_GROUP:
			if (!config_setting_is_group(s))
				return conf_fail(ctx, s, "'%s' must be a group "
				    "{ ... }", f->name);
			if (conf_parse_group(ctx, s, f->sub, base, cfg) == -1)
				return -1;
			break;
		case K_LISTENERS:
		case K_MODULES:
			if (conf_parse_list(ctx, s, f, cfg) == -1)
				return -1;
			break;
		case K_SETTINGS:
			if (conf_parse_settings(ctx, s, base) == -1)
				return -1;
			break;
		case K_BACKENDS:
			if (conf_parse_backends(ctx, s, f, base, cfg) == -1)
				return -1;
			break;
		case K_TLS:
			if (conf_parse_tls(ctx, s, f, base, cfg) == -1)
				return -1;
			break;
		case K_ALPN:
			if (conf_parse_alpn(ctx, s, f, base) == -1)
				return -1;
			break;
		case K_CERTS:
			if (conf_parse_certs(ctx, s, f, base, cfg) == -1)
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
		conf_fail(ctx, NULL, "out of memory");
		return NULL;
	}
	cfg->workers = CONFIG_WORKERS_AUTO;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->shutdown_timeout_ms = 10000;
	cfg->heartbeat_interval_ms = 1000;
	cfg->alog_flush_ms = 1000;
	cfg->worker_timeout_ms = 10000;
	cfg->min_uptime_ms = 1000;
	cfg->admin_mode = 0600;
	cfg->max_old_generations = 2;
	if (conf_parse_group(ctx, config_root_setting(lc), root_fields, cfg,
	    cfg) == -1 || conf_alog_check(ctx, config_root_setting(lc),
	    &cfg->alog_file, &cfg->pos_alog_file) == -1 ||
	    conf_alog_inherit(ctx, cfg) == -1)
		goto err;
	if (cfg->nlisteners == 0) {
		/* Nothing to point at: the top of the file. */
		snprintf(ctx->err, ctx->errlen, "%s:1: no 'listeners' defined",
		    ctx->name);
		goto err;
	}
	if (cfg->worker_timeout_ms <= cfg->heartbeat_interval_ms) {
		conf_fail(ctx, config_lookup(lc, "worker_timeout"), "'worker_timeout'"
		    " must be longer than 'heartbeat_interval'");
		goto err;
	}
	if (pos_keep(lc, "log.file", ctx, &cfg->pos_log_file) == -1 ||
	    pos_keep(lc, "admin_socket", ctx, &cfg->pos_admin_socket) == -1 ||
	    pos_keep(lc, "pidfile", ctx, &cfg->pos_pidfile) == -1 ||
	    pos_keep(lc, "chroot", ctx, &cfg->pos_chroot) == -1 ||
	    pos_keep(lc, "user", ctx, &cfg->pos_user) == -1 ||
	    pos_keep(lc, "group", ctx, &cfg->pos_group) == -1 ||
	    pos_keep(lc, "cpu_affinity", ctx, &cfg->pos_cpu_affinity) == -1) {
		conf_fail(ctx, NULL, "out of memory");
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
		tlsconf_free(cfg->listeners[i].tls);
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
	free(cfg->pos_cpu_affinity.file);
	free(cfg->cpus);
	free(cfg->file);
	free(cfg);
}
