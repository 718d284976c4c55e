/*
 * service.h -- the table of services a listener can name.
 */
#ifndef PF_SERVICE_H
#define PF_SERVICE_H

#include "preforkd/preforkd.h"

const struct pf_service	*service_find(const char *name);

extern const struct pf_service service_echo;

#endif
