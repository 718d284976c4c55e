/*
 * tlsconf.c -- a listener's tls = { ... } group: its certificates (one, or
 * several chosen by SNI), the minimum protocol, the ALPN list, and the
 * checks that need the whole group.  Only the file is judged here: whether
 * the certificates can be read, match their keys and are valid is the
 * master's (server/tlsctx.c), which also builds the contexts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/schema.h"
#include "conf/tlsconf.h"

void
tlsconf_free(struct tls_conf *t)
{
	size_t	i;

	if (t == NULL)
		return;
	if (t->ctx != NULL && t->ctx_free != NULL)
		t->ctx_free(t->ctx);
	for (i = 0; i < t->ncerts; i++) {
		free(t->certs[i].certificate);
		free(t->certs[i].key);
	}
	free(t->certs);
	for (i = 0; i < t->nalpn; i++)
		free(t->alpn[i]);
	free(t->alpn);
	free(t->alpn_wire);
	free(t->certificate);
	free(t->key);
	free(t->protocols);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->client_ca);
	free(t->file);
	free(t);
}

/* alpn = [ "h2", "http/1.1" ]: kept as strings and in the wire format. */
int
conf_parse_alpn(struct ctx *ctx, const config_setting_t *s,
    const struct field *f, struct tls_conf *t)
{
	const config_setting_t	*e;
	const char		*p;
	size_t			 len, off = 0;
	int			 i, n;

	if ((!config_setting_is_array(s) && !config_setting_is_list(s)) ||
	    (n = config_setting_length(s)) == 0)
		return conf_fail(ctx, s, "'%s' must be a non-empty list of "
		    "protocol names, e.g. [ \"h2\", \"http/1.1\" ]", f->name);
	if (n > f->max)
		return conf_fail(ctx, s, "'%s' has %d entries, at most %lld",
		    f->name, n, f->max);
	if ((t->alpn = calloc(n + 1, sizeof(*t->alpn))) == NULL ||
	    (t->alpn_wire = malloc((size_t)n * 256)) == NULL)
		return conf_fail(ctx, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_fail(ctx, e, "'%s': entry %d is not a string",
			    f->name, i + 1);
		p = config_setting_get_string(e);
		if ((len = strlen(p)) == 0 || len > 255)
			return conf_fail(ctx, e, "'%s': entry %d must be 1 to 255 "
			    "bytes", f->name, i + 1);
		if ((t->alpn[t->nalpn] = strdup(p)) == NULL)
			return conf_fail(ctx, e, "out of memory");
		t->nalpn++;
		t->alpn_wire[off++] = (unsigned char)len;
		memcpy(t->alpn_wire + off, p, len);
		off += len;
	}
	t->alpn_len = off;
	return 0;
}

/* certificates = ( { certificate = ...; key = ...; }, ... ) */
int
conf_parse_certs(struct ctx *ctx, const config_setting_t *s,
    const struct field *f, struct tls_conf *t, struct config *cfg)
{
	const config_setting_t	*e;
	struct tls_cert_conf	*c;
	int			 i, n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST ||
	    (n = config_setting_length(s)) == 0)
		return conf_fail(ctx, s, "'%s' must be a non-empty list: ( { "
		    "certificate = ...; key = ...; }, ... )", f->name);
	if (n > f->max)
		return conf_fail(ctx, s, "'%s' has %d entries, at most %lld",
		    f->name, n, f->max);
	if ((t->certs = calloc(n, sizeof(*t->certs))) == NULL)
		return conf_fail(ctx, s, "out of memory");
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		/* Counted at once, so tlsconf_free() frees whatever it holds. */
		c = &t->certs[t->ncerts++];
		c->line = config_setting_source_line(e);
		if (!config_setting_is_group(e))
			return conf_fail(ctx, e, "'%s' entries must be groups "
			    "{ ... }", f->name);
		if (conf_parse_group(ctx, e, f->sub, c, cfg) == -1)
			return -1;
		if (c->certificate == NULL || c->key == NULL)
			return conf_fail(ctx, e, "'%s' entry %d needs "
			    "'certificate' and 'key'", f->name, i + 1);
	}
	return 0;
}

/* The checks that need the whole group, once its keys are read. */
static int
tls_check(struct ctx *ctx, const config_setting_t *s, struct tls_conf *t)
{
	const config_setting_t	*k;

	if (t->ncerts > 0 && (t->certificate != NULL || t->key != NULL))
		return conf_fail(ctx, s, "'tls' has both 'certificates' and "
		    "'certificate'/'key': use one or the other");
	if (t->ncerts == 0) {
		if (t->certificate == NULL || t->key == NULL)
			return conf_fail(ctx, s, "'tls' needs 'certificate' and "
			    "'key' (or 'certificates')");
		if ((t->certs = calloc(1, sizeof(*t->certs))) == NULL)
			return conf_fail(ctx, s, "out of memory");
		t->ncerts = 1;
		t->certs[0].certificate = t->certificate;
		t->certs[0].key = t->key;
		t->certificate = t->key = NULL;
		k = config_setting_get_member(s, "certificate");
		t->certs[0].line = k != NULL ? (int)config_setting_source_line(k) :
		    t->line;
	}
	t->min_version = 12;
	if (t->protocols != NULL) {
		if (strcmp(t->protocols, "TLSv1.2") == 0)
			t->min_version = 12;
		else if (strcmp(t->protocols, "TLSv1.3") == 0)
			t->min_version = 13;
		else
			return conf_fail(ctx, config_setting_get_member(s,
			    "protocols"), "'protocols' must be \"TLSv1.2\" or "
			    "\"TLSv1.3\" (the oldest version accepted), not "
			    "\"%s\"", t->protocols);
	}
	return 0;
}

int
conf_parse_tls(struct ctx *ctx, const config_setting_t *s,
    const struct field *f, struct listen_conf *l, struct config *cfg)
{
	struct tls_conf	*t;
	const char	*file;

	if (!config_setting_is_group(s))
		return conf_fail(ctx, s, "'%s' must be a group { certificate = "
		    "...; key = ...; }", f->name);
	tlsconf_free(l->tls);
	if ((l->tls = t = calloc(1, sizeof(*t))) == NULL)
		return conf_fail(ctx, s, "out of memory");
	t->handshake_timeout_ms = TLS_HANDSHAKE_TIMEOUT_MS;
	t->line = config_setting_source_line(s);
	if ((file = config_setting_source_file(s)) == NULL)
		file = ctx->name;
	if ((t->file = strdup(file)) == NULL)
		return conf_fail(ctx, s, "out of memory");
	if (conf_parse_group(ctx, s, f->sub, t, cfg) == -1)
		return -1;
	return tls_check(ctx, s, t);
}
