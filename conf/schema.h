/*
 * schema.h -- the configuration's schema and the parser's pieces, shared
 * by the files of conf/ only: config.c (loading, the generic field
 * parser), schema.c (the tables of keys) and groups.c (lists of groups
 * and the checks of a group once it is read).
 */
#ifndef PF_SCHEMA_H
#define PF_SCHEMA_H

#include <libconfig.h>
#include <stddef.h>

#include "common/log.h"
#include "conf/config.h"

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
	K_CPUS,		/* "auto" or a non-empty list of CPU numbers < max */
	K_TLS,		/* a listener's tls group (tlsconf.c) */
	K_ALPN,		/* a list of protocol names, 1..255 bytes each */
	K_CERTS,	/* a list of { certificate; key; } groups */
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

/* The top of the file. */
extern const struct field	root_fields[];

/* config.c: "file:line: message" into ctx->err; always -1. */
int	conf_fail(struct ctx *ctx, const config_setting_t *s,
	    const char *fmt, ...) PF_PRINTF(3, 4);
/* Fill base from the settings of group, by the table fields. */
int	conf_parse_group(struct ctx *ctx, const config_setting_t *group,
	    const struct field *fields, void *base, struct config *cfg);

/* groups.c */
int	conf_parse_list(struct ctx *ctx, const config_setting_t *s,
	    const struct field *f, struct config *cfg);
int	conf_parse_settings(struct ctx *ctx, const config_setting_t *g,
	    struct module_conf *md);
int	conf_parse_backends(struct ctx *ctx, const config_setting_t *s,
	    const struct field *f, struct listen_conf *l, struct config *cfg);
int	conf_alog_check(struct ctx *ctx, const config_setting_t *g,
	    char **file, struct config_pos *pos);
int	conf_alog_inherit(struct ctx *ctx, struct config *cfg);

/* tlsconf.c */
int	conf_parse_tls(struct ctx *ctx, const config_setting_t *s,
	    const struct field *f, struct listen_conf *l, struct config *cfg);
int	conf_parse_alpn(struct ctx *ctx, const config_setting_t *s,
	    const struct field *f, struct tls_conf *t);
int	conf_parse_certs(struct ctx *ctx, const config_setting_t *s,
	    const struct field *f, struct tls_conf *t, struct config *cfg);

#endif
