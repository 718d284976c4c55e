/*
 * badversion.c -- a module built for another API version, which preforkd
 * must refuse to load.
 */
#include "preforkd/preforkd.h"

static int
bad_init(struct pf_listener *l)
{
	return 0;
}

const struct pf_module preforkd_module = {
	.api_version = PREFORKD_API_VERSION + 1,
	.service = { "bad", bad_init },
};
