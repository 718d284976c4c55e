/*
 * tlsctx.c -- a TLS listener's contexts: one per certificate (the first is
 * the default, the others are chosen by the client's SNI name), all with
 * the same protocols, ciphers, ALPN list, client verification and session
 * ticket keys.
 *
 * The master builds them while it validates the file, before any worker
 * exists: the workers inherit them across fork() and never open a key
 * file.  Session tickets: every load of the file (start, reload) draws a
 * new secret, inherited by the generation's workers, from which each of
 * them derives the same ticket keys for each hour of the clock.  So a
 * client resumes on any worker of the generation, the keys change every
 * hour without a word between processes (a ticket of the previous hour
 * still resumes, and is replaced), and a reload changes them all.
 */
#include <sys/stat.h>

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/tlsctx.h"

#define TLS_EXPIRY_WARN_DAYS	14
#define TICKET_EPOCH_S		3600	/* ticket keys change this often */
#define TICKET_SECRET_LEN	32
#define TICKET_PREFIX_LEN	8	/* key name: the generation's, then
					   the epoch (8 bytes) */

#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
#define TLS_OP_KTLS	SSL_OP_ENABLE_KTLS
#else
#define TLS_OP_KTLS	0
#endif

struct tlsctx {
	SSL_CTX			**ctx;		/* per certificate */
	size_t			  n;
	const struct tls_conf	 *conf;
	unsigned char		  secret[TICKET_SECRET_LEN];
	unsigned char		  prefix[TICKET_PREFIX_LEN];
};

static void
tlsctx_free(void *arg)
{
	struct tlsctx	*tc = arg;
	size_t		 i;

	if (tc == NULL)
		return;
	for (i = 0; i < tc->n; i++)
		SSL_CTX_free(tc->ctx[i]);
	free(tc->ctx);
	OPENSSL_cleanse(tc->secret, sizeof(tc->secret));
	free(tc);
}

SSL_CTX *
tlsctx_default(const struct tls_conf *t)
{
	const struct tlsctx	*tc = t != NULL ? t->ctx : NULL;

	return tc != NULL && tc->n > 0 ? tc->ctx[0] : NULL;
}

int
tlsctx_ktls_possible(const char **why)
{
#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
	FILE	*f;
	char	 line[256];
	int	 ok = 0;

	/* The kernel lists its upper-layer protocols; without "tls" there
	 * (CONFIG_TLS not built or not loaded) OpenSSL stays in userspace. */
	if ((f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			ok = strstr(line, "tls") != NULL;
		fclose(f);
	}
	*why = ok ? NULL : "the kernel offers no \"tls\" ULP";
	return ok;
#else
	*why = "OpenSSL was built without kTLS";
	return 0;
#endif
}

static int
fail(const struct tls_conf *t, int line, char *err, size_t errlen,
    const char *fmt, ...) PF_PRINTF(5, 6);

/* "file:line: message: OpenSSL's reason"; clears OpenSSL's errors. */
static int
fail(const struct tls_conf *t, int line, char *err, size_t errlen,
    const char *fmt, ...)
{
	unsigned long	e = ERR_peek_last_error();
	const char	*why = e != 0 ? ERR_reason_error_string(e) : NULL;
	va_list		ap;
	int		n;

	n = snprintf(err, errlen, "%s:%d: ", t->file, line > 0 ? line : 1);
	if (n > 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		n += vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
	}
	if (why != NULL && n > 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - n, ": %s", why);
	ERR_clear_error();
	return -1;
}

/* Readable by this process, and a regular file: a clearer message than
 * OpenSSL's "system lib". */
static int
readable(const struct tls_conf *t, int line, const char *what,
    const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL)
		return fail(t, line, err, errlen, "%s %s: %s", what, path,
		    strerror(errno));
	if (fstat(fileno(f), &st) == -1 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return fail(t, line, err, errlen, "%s %s: not a regular file",
		    what, path);
	}
	fclose(f);
	return 0;
}

/* The server's choice among the client's ALPN protocols: ours in order
 * of the client's preference; none shared, no ALPN (not an error). */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct tls_conf	*t = arg;
	unsigned char		*sel;

	if (SSL_select_next_proto(&sel, outlen, t->alpn_wire,
	    (unsigned int)t->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* SNI: the first certificate whose names cover the one asked for; the
 * default (the first) if none does, or none was asked for. */
static int
sni_select(SSL *ssl, int *alert, void *arg)
{
	const struct tlsctx	*tc = arg;
	const char		*name;
	X509			*x;
	size_t			 i;

	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || tc->n < 2)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < tc->n; i++) {
		x = SSL_CTX_get0_certificate(tc->ctx[i]);
		if (x != NULL && X509_check_host(x, name, 0, 0, NULL) == 1) {
			if (i > 0 && SSL_set_SSL_CTX(ssl, tc->ctx[i]) == NULL)
				return SSL_TLSEXT_ERR_ALERT_FATAL;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* The ticket keys of an epoch: AES-256 and HMAC-SHA256, from the secret. */
static int
ticket_keys(const struct tlsctx *tc, uint64_t epoch, unsigned char aes[32],
    unsigned char mac[32])
{
	unsigned char	msg[9];
	unsigned int	len;
	int		i;

	for (i = 0; i < 8; i++)
		msg[1 + i] = (unsigned char)(epoch >> (56 - 8 * i));
	msg[0] = 'a';
	if (HMAC(EVP_sha256(), tc->secret, sizeof(tc->secret), msg,
	    sizeof(msg), aes, &len) == NULL)
		return -1;
	msg[0] = 'm';
	if (HMAC(EVP_sha256(), tc->secret, sizeof(tc->secret), msg,
	    sizeof(msg), mac, &len) == NULL)
		return -1;
	return 0;
}

/*
 * Seal a new ticket with this hour's keys (enc), or find the keys of the
 * ticket a client brings: 1 this hour's, 2 the previous hour's or a TLS
 * 1.3 one (valid, and replaced with a new one), 0 unknown (a full
 * handshake), -1 error.
 */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct tlsctx	*tc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	unsigned char		 aes[32], mac[32];
	OSSL_PARAM		 params[3];
	uint64_t		 now = (uint64_t)time(NULL) / TICKET_EPOCH_S, epoch;
	int			 i, rc = 1;

	if (tc == NULL)
		return -1;
	if (enc) {
		epoch = now;
		memcpy(name, tc->prefix, TICKET_PREFIX_LEN);
		for (i = 0; i < 8; i++)
			name[TICKET_PREFIX_LEN + i] =
			    (unsigned char)(epoch >> (56 - 8 * i));
		if (RAND_bytes(iv, 16) != 1)
			return -1;
	} else {
		if (memcmp(name, tc->prefix, TICKET_PREFIX_LEN) != 0)
			return 0;	/* another generation's */
		for (i = 0, epoch = 0; i < 8; i++)
			epoch = epoch << 8 | name[TICKET_PREFIX_LEN + i];
		if (epoch != now && epoch + 1 != now)
			return 0;	/* expired */
		/* TLS 1.3 tickets are for one use (RFC 8446, C.4): a client
		 * resuming gets a new one, as after a full handshake. */
		rc = epoch == now && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
	}
	if (ticket_keys(tc, epoch, aes, mac) == -1)
		return -1;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, mac,
	    sizeof(mac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1 || (enc ?
	    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv) :
	    EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv)) != 1)
		rc = -1;
	OPENSSL_cleanse(aes, sizeof(aes));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* Valid now, and for a while yet (a warning, not an error). */
static int
check_dates(const struct tls_conf *t, const struct tls_cert_conf *cc,
    X509 *x, char *err, size_t errlen)
{
	time_t	soon = time(NULL) + (time_t)TLS_EXPIRY_WARN_DAYS * 86400;

	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		return fail(t, cc->line, err, errlen, "certificate %s has "
		    "expired", cc->certificate);
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		return fail(t, cc->line, err, errlen, "certificate %s is not "
		    "valid yet", cc->certificate);
	if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0)
		log_warnx("%s:%d: certificate %s expires within %d days",
		    t->file, cc->line, cc->certificate, TLS_EXPIRY_WARN_DAYS);
	return 0;
}

/* OpenSSL's default asks on the terminal: never. */
static int
no_passphrase(char *buf, int size, int rwflag, void *udata)
{
	return -1;
}

static SSL_CTX *
ctx_new(struct tlsctx *tc, const struct tls_conf *t,
    const struct tls_cert_conf *cc, char *err, size_t errlen)
{
	STACK_OF(X509_NAME)	*cas;
	SSL_CTX			*ctx;
	X509			*x;
	const char		*why;

	if (readable(t, cc->line, "certificate", cc->certificate, err,
	    errlen) == -1 || readable(t, cc->line, "key", cc->key, err,
	    errlen) == -1)
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		fail(t, t->line, err, errlen, "cannot make a TLS context");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Only where the kernel has it: else OpenSSL would try (and fail)
	 * a setsockopt(TCP_ULP) on every connection for nothing. */
	if (tlsctx_ktls_possible(&why))
		SSL_CTX_set_options(ctx, TLS_OP_KTLS);
	/* A write that the socket takes only in part returns what went out
	 * (whole records); the rest is queued and retried from the queue. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Tell clients what the keys allow: up to the next rotation. */
	SSL_CTX_set_timeout(ctx, TICKET_EPOCH_S);
	/* The master must never wait on a terminal for a passphrase (it
	 * would stop serving during a reload): an encrypted key fails. */
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/* Only tickets: their keys are shared by the generation's workers,
	 * a per-process session cache is not. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!SSL_CTX_set_min_proto_version(ctx, t->min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION)) {
		fail(t, t->line, err, errlen, "cannot set 'protocols'");
		goto err;
	}
	if (t->ciphers != NULL && !SSL_CTX_set_cipher_list(ctx, t->ciphers)) {
		fail(t, t->line, err, errlen, "'ciphers' \"%s\"", t->ciphers);
		goto err;
	}
	if (t->ciphersuites != NULL &&
	    !SSL_CTX_set_ciphersuites(ctx, t->ciphersuites)) {
		fail(t, t->line, err, errlen, "'ciphersuites' \"%s\"",
		    t->ciphersuites);
		goto err;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cc->certificate) != 1) {
		fail(t, cc->line, err, errlen, "certificate %s",
		    cc->certificate);
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cc->key, SSL_FILETYPE_PEM) != 1) {
		fail(t, cc->line, err, errlen, "key %s (one protected by a "
		    "passphrase is not supported)", cc->key);
		goto err;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		fail(t, cc->line, err, errlen, "key %s does not match "
		    "certificate %s", cc->key, cc->certificate);
		goto err;
	}
	if ((x = SSL_CTX_get0_certificate(ctx)) == NULL ||
	    check_dates(t, cc, x, err, errlen) == -1)
		goto err;
	if (t->client_ca != NULL) {
		if (readable(t, t->line, "client_ca", t->client_ca, err,
		    errlen) == -1)
			goto err;
		if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) !=
		    1 || (cas = SSL_load_client_CA_file(t->client_ca)) == NULL) {
			fail(t, t->line, err, errlen, "client_ca %s",
			    t->client_ca);
			goto err;
		}
		SSL_CTX_set_client_CA_list(ctx, cas);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	if (t->alpn_len > 0)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, (void *)t);
	/* Resumed sessions must come from this listener's contexts. */
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)
	    "preforkd", 8) != 1 || SSL_CTX_set_app_data(ctx, tc) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		fail(t, t->line, err, errlen, "cannot set session tickets");
		goto err;
	}
	return ctx;
err:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
tlsctx_build(struct tls_conf *t, char *err, size_t errlen)
{
	struct tlsctx	*tc;
	size_t		 i;

	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->ctx = calloc(t->ncerts, sizeof(*tc->ctx))) == NULL) {
		free(tc);
		return fail(t, t->line, err, errlen, "out of memory");
	}
	tc->conf = t;
	t->ctx = tc;
	t->ctx_free = tlsctx_free;
	if (RAND_bytes(tc->secret, sizeof(tc->secret)) != 1 ||
	    RAND_bytes(tc->prefix, sizeof(tc->prefix)) != 1)
		return fail(t, t->line, err, errlen, "no random bytes for "
		    "the session ticket keys");
	for (i = 0; i < t->ncerts; i++) {
		if ((tc->ctx[i] = ctx_new(tc, t, &t->certs[i], err,
		    errlen)) == NULL)
			return -1;
		tc->n++;
	}
	SSL_CTX_set_tlsext_servername_callback(tc->ctx[0], sni_select);
	SSL_CTX_set_tlsext_servername_arg(tc->ctx[0], tc);
	return 0;
}

int
tlsctx_build_all(struct config *cfg, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].tls != NULL &&
		    cfg->listeners[i].tls->ctx == NULL &&
		    tlsctx_build(cfg->listeners[i].tls, err, errlen) == -1)
			return -1;
	}
	return 0;
}
