/*
 * tlsctx.h -- the TLS contexts of a listener: built by the master from its
 * tls group while it validates the configuration (as root, so key files
 * may be readable by root only), inherited by the workers it forks.
 */
#ifndef PF_TLSCTX_H
#define PF_TLSCTX_H

#include <stddef.h>

#include "conf/config.h"

struct ssl_ctx_st;

/* Build the contexts of every TLS listener of cfg (t->ctx): 0, or -1
 * with "file:line: message" in err. */
int	tlsctx_build_all(struct config *cfg, char *err, size_t errlen);
/* The default context of t (its first certificate), or NULL. */
struct ssl_ctx_st *tlsctx_default(const struct tls_conf *t);
/* Whether this OpenSSL and kernel can offload records (kTLS); the
 * reason it cannot in *why otherwise. */
int	tlsctx_ktls_possible(const char **why);

#endif
