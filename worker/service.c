/*
 * service.c -- the services built into preforkd, looked up by name.
 */
#include <stddef.h>
#include <string.h>

#include "worker/service.h"

static const struct pf_service *const builtin[] = {
	&service_echo,
};

const struct pf_service *
service_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (strcmp(builtin[i]->name, name) == 0)
			return builtin[i];
	}
	return NULL;
}
