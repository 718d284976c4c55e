/*
 * tls.c -- TLS under a connection: the server side of the handshake, and
 * the plaintext read, write and close that conn.c calls on a connection
 * of a TLS listener instead of the socket's.
 *
 * OpenSSL runs on the connection's non-blocking socket directly (a socket
 * BIO, so kTLS can take over the records where the kernel offers it).
 * SSL_ERROR_WANT_READ/WANT_WRITE never leave this file: they are EAGAIN
 * to conn.c, which waits for the next edge of its one event as it does on
 * a plain socket.  A read fills the worker's buffer with as many records
 * as have arrived, so the service gets one "data" per wakeup, not one per
 * 16 KiB record, and nothing is allocated per read.  Writes are partial
 * (whole records): what the socket does not take is queued by conn.c and
 * offered again from the queue (ACCEPT_MOVING_WRITE_BUFFER).
 *
 * The contexts come from the master (common/tlsctx.c), built before the
 * fork; the accessors of preforkd.h at the end say what was negotiated.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/tlsctx.h"
#include "worker/conn_state.h"
#include "worker/listener.h"
#include "worker/tls.h"

#define TLS_FLUSH_MAX	((size_t)64 * 1024)	/* plaintext offered per write */

#define TRUNCATED	"TLS: the stream ended without close_notify"

int
tls_start(struct pf_conn *c)
{
	SSL_CTX	*ctx = tlsctx_default(c->listener->conf->tls);

	if (ctx == NULL || (c->ssl = SSL_new(ctx)) == NULL) {
		log_warnx("listener %s: cannot start TLS",
		    c->listener->conf->name);
		ERR_clear_error();
		return -1;
	}
	if (SSL_set_fd(c->ssl, c->fd) != 1) {
		log_warnx("listener %s: cannot start TLS on fd %d",
		    c->listener->conf->name, c->fd);
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	SSL_set_accept_state(c->ssl);
	return 0;
}

void
tls_free(struct pf_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}

/* OpenSSL's reason for the last failure (static text), or dflt. */
static const char *
tls_reason(const char *dflt)
{
	unsigned long	e = ERR_peek_last_error();
	const char	*r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : dflt;
}

int
tls_handshake(struct pf_conn *c, const char **why)
{
	int	r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1)
		return 1;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_SYSCALL:
		*why = errno == 0 || errno == EAGAIN ?
		    "TLS handshake: the client closed the connection" :
		    errno == ECONNRESET ? "TLS handshake: reset by the client" :
		    "TLS handshake: socket error";
		ERR_clear_error();
		return -1;
	default:
		*why = tls_reason("TLS handshake failed");
		return -1;
	}
}

/*
 * The stream ended without the client's close_notify: a truncation (an
 * error), unless ours was sent first: many clients close the socket
 * without answering it, and nothing of theirs can be lost then.
 */
static ssize_t
tls_eof(struct pf_conn *c)
{
	if (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)
		return 0;
	c->errmsg = TRUNCATED;
	errno = EPROTO;
	return -1;
}

/*
 * What a failed SSL call (r) on c means: -1 with errno EAGAIN (wait), 0
 * (close_notify, reads only) or -1 with errno and c->errmsg set.
 */
static ssize_t
tls_failed(struct pf_conn *c, int r)
{
	int	err = errno;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (err != 0 && err != EAGAIN) {
			errno = err;
			return -1;
		}
		return tls_eof(c);
	default:
		/* OpenSSL 3 says an EOF without close_notify this way. */
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return tls_eof(c);
		}
		if (c->errmsg == NULL)
			c->errmsg = tls_reason("TLS error");
		else
			ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

ssize_t
tls_read(struct pf_conn *c, void *buf, size_t len)
{
	size_t	got = 0, n;
	ssize_t	r;
	int	ok;

	while (got < len) {
		ERR_clear_error();
		errno = 0;
		if ((ok = SSL_read_ex(c->ssl, (char *)buf + got, len - got,
		    &n)) == 1) {
			got += n;
			continue;
		}
		r = tls_failed(c, ok);
		if (got == 0)
			return r;
		/*
		 * Data came before the end or the error: hand it over now,
		 * and come back for the rest from the loop (its edge has been
		 * taken, no other would come).
		 */
		if (r == 0 || errno != EAGAIN)
			event_active(&c->ev, EV_READ | EV_CLOSED, 0);
		break;
	}
	return (ssize_t)got;
}

ssize_t
tls_write(struct pf_conn *c, const void *buf, size_t len)
{
	size_t	sent = 0, n;
	ssize_t	r;
	int	ok;

	while (sent < len) {
		ERR_clear_error();
		errno = 0;
		if ((ok = SSL_write_ex(c->ssl, (const char *)buf + sent,
		    len - sent, &n)) == 1) {
			sent += n;
			continue;
		}
		if ((r = tls_failed(c, ok)) == 0) {
			errno = EPIPE;		/* no writing after close */
			r = -1;
		}
		if (sent == 0 || errno != EAGAIN)
			return r;
		break;
	}
	return (ssize_t)sent;
}

ssize_t
tls_flush(struct pf_conn *c)
{
	size_t		 len = evbuffer_get_length(c->out);
	unsigned char	*p;
	ssize_t		 n;

	if (len > TLS_FLUSH_MAX)
		len = TLS_FLUSH_MAX;
	/* A record refused by the socket is offered again from here: the
	 * same bytes first, at least as many. */
	if ((p = evbuffer_pullup(c->out, (ssize_t)len)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if ((n = tls_write(c, p, len)) > 0)
		evbuffer_drain(c->out, (size_t)n);
	return n;
}

int
tls_close_notify(struct pf_conn *c)
{
	int	r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_shutdown(c->ssl)) >= 0)
		return 1;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		ERR_clear_error();
		if (errno == 0)
			errno = EPIPE;
		return -1;
	}
}

/* Public accessors, documented in preforkd/preforkd.h. */

const char *
pf_conn_tls_version(const struct pf_conn *c)
{
	return c->ssl != NULL ? SSL_get_version(c->ssl) : NULL;
}

const char *
pf_conn_tls_cipher(const struct pf_conn *c)
{
	return c->ssl != NULL ? SSL_CIPHER_get_name(
	    SSL_get_current_cipher(c->ssl)) : NULL;
}

const char *
pf_conn_tls_sni(const struct pf_conn *c)
{
	return c->ssl != NULL ? SSL_get_servername(c->ssl,
	    TLSEXT_NAMETYPE_host_name) : NULL;
}

/* The name from the listener's own list, so it ends with a NUL. */
const char *
pf_conn_tls_alpn(const struct pf_conn *c)
{
	const struct tls_conf	*t;
	const unsigned char	*p;
	unsigned int		 len;
	size_t			 i;

	if (c->ssl == NULL)
		return NULL;
	SSL_get0_alpn_selected(c->ssl, &p, &len);
	t = c->listener->conf->tls;
	for (i = 0; p != NULL && i < t->nalpn; i++) {
		if (strlen(t->alpn[i]) == len && memcmp(t->alpn[i], p, len) == 0)
			return t->alpn[i];
	}
	return NULL;
}

int
pf_conn_tls_resumed(const struct pf_conn *c)
{
	return c->ssl != NULL && SSL_session_reused(c->ssl) == 1;
}

const char *
pf_conn_tls_peer_subject(const struct pf_conn *c, char *buf, size_t size)
{
	X509	*x;

	if (c->ssl == NULL || size == 0 ||
	    (x = SSL_get0_peer_certificate(c->ssl)) == NULL)
		return NULL;
	if (X509_NAME_oneline(X509_get_subject_name(x), buf, (int)size) ==
	    NULL) {
		ERR_clear_error();
		return NULL;
	}
	return buf;
}
