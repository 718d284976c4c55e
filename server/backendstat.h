/*
 * backendstat.h -- the proxy listeners' backends in the master's reports:
 * status --json (a "backends" array in each proxy listener's object) and
 * /metrics (preforkd_backend_* families).
 */
#ifndef PF_BACKENDSTAT_H
#define PF_BACKENDSTAT_H

#include "conf/config.h"

struct evbuffer;

/* ',"backends":[...]' for a proxy listener; nothing for any other. */
void	backendstat_json(struct evbuffer *out, const struct listen_conf *l);
/* The families, if cfg has a proxy listener. */
void	backendstat_prometheus(struct evbuffer *out, const struct config *cfg);

#endif
