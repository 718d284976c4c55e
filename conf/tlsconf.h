/*
 * tlsconf.h -- the tls group of a listener: its keys' limits, and freeing
 * what the loader and the master made of it.
 */
#ifndef PF_TLSCONF_H
#define PF_TLSCONF_H

#include "conf/config.h"

#define TLS_CERTS_MAX		64	/* certificates on one listener */
#define TLS_ALPN_MAX		16	/* protocol names */
#define TLS_HANDSHAKE_TIMEOUT_MS 10000

/* Everything t holds, its contexts too; NULL is fine. */
void	tlsconf_free(struct tls_conf *t);

#endif
