/*
 * service.c -- finding a service by name: built in, or from a module.
 */
#include <stddef.h>
#include <string.h>

#include "worker/module.h"
#include "worker/service.h"

static const struct pf_service *const builtin[] = {
	&service_echo,
	&service_discard,
	&service_chargen,
	&service_daytime,
	&service_time,
	&service_proxy,
};

const struct pf_service *
service_builtin(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (strcmp(builtin[i]->name, name) == 0)
			return builtin[i];
	}
	return NULL;
}

const struct pf_service *
service_find(const char *name)
{
	const struct pf_service	*svc = service_builtin(name);

	return svc != NULL ? svc : module_service(name);
}
