/*
 * crash.c -- a service module that aborts as soon as a worker starts it,
 * for the crash-loop tests.
 */
#include <stdlib.h>

#include "preforkd/preforkd.h"

static int
crash_init(struct pf_listener *l)
{
	abort();
}

PREFORKD_MODULE("crash", crash_init);
