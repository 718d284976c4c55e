/*
 * tls.h -- TLS under a connection (worker/tls.c): the handshake, and
 * read/write/close that conn.c calls instead of the socket's on a TLS
 * listener, so services see the plaintext through the same events.
 */
#ifndef PF_TLS_H
#define PF_TLS_H

#include <sys/types.h>

struct pf_conn;

/* Begin the server side of a handshake on c's socket: 0, or -1 (logged). */
int	tls_start(struct pf_conn *c);
/* Go on with it: 1 done, 0 waiting for the socket, -1 failed (*why). */
int	tls_handshake(struct pf_conn *c, const char **why);
/*
 * Like read(2) and write(2), on the plaintext: -1 with errno EAGAIN to wait
 * for the socket.  tls_read returns 0 at the client's close_notify; a
 * stream that ends without one, or a bad record, is -1 with errno EPROTO
 * and c->errmsg saying which.
 */
ssize_t	tls_read(struct pf_conn *c, void *buf, size_t len);
ssize_t	tls_write(struct pf_conn *c, const void *buf, size_t len);
/* Send from c->out (like evbuffer_write): what went out, or -1. */
ssize_t	tls_flush(struct pf_conn *c);
/* Send close_notify: 1 sent, 0 to try again once writable, -1 (errno). */
int	tls_close_notify(struct pf_conn *c);
void	tls_free(struct pf_conn *c);

#endif
