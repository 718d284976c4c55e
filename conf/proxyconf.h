/*
 * proxyconf.h -- the settings of a proxy listener (service = "proxy"):
 * defaults, the names of its keys, and the checks on each backend, apart
 * from the generic loader so config.c only routes keys here.
 */
#ifndef PF_PROXYCONF_H
#define PF_PROXYCONF_H

#include <stddef.h>

#include "conf/config.h"

#define PROXY_SERVICE		"proxy"
#define PROXY_BACKENDS_MAX	256
#define PROXY_WEIGHT_MAX	256

/* The listener keys that only a proxy listener may set, NULL-ended. */
extern const char *const proxyconf_keys[];

void	proxyconf_defaults(struct proxy_conf *p);
void	proxyconf_free(struct proxy_conf *p);
/* "roundrobin"... to enum balance_algo; "v1"/"v2" to 1/2; -1 if neither. */
int	proxyconf_balance(const char *s);
int	proxyconf_send_proxy(const char *s);
/* Complete and check one parsed backend (its name, its weight's default);
 * -1 with a message in msg. */
int	proxyconf_backend(struct backend_conf *b, char *msg, size_t len);

#endif
