/*
 * service.h -- the table of services a listener can name.
 */
#ifndef PF_SERVICE_H
#define PF_SERVICE_H

#include "preforkd/preforkd.h"

/* Listeners of this service are served by the master (Prometheus text
 * over HTTP), never by workers. */
#define SERVICE_STATS	"stats"

/* Built in, or from a loaded module. */
const struct pf_service	*service_find(const char *name);
const struct pf_service	*service_builtin(const char *name);

extern const struct pf_service service_chargen;
extern const struct pf_service service_daytime;
extern const struct pf_service service_discard;
extern const struct pf_service service_echo;
extern const struct pf_service service_proxy;
extern const struct pf_service service_time;

#endif
