/*
 * fuzz_admin.c -- libFuzzer target for the admin request parser
 * (admin_parse in server/admin.c): the input is one request line, not
 * terminated.  A parse must either succeed with a known command and json
 * 0 or 1, or fail with a terminated message in the error buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/admin.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_req	 req;
	char			 err[128], small[8];

	if (admin_parse((const char *)data, size, &req, err,
	    sizeof(err)) == 0) {
		if (req.cmd < ADMIN_HELP || req.cmd >= ADMIN_CMD_MAX_ ||
		    (req.json != 0 && req.json != 1))
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
		abort();
	/* A short buffer takes a truncated message, nothing more. */
	if (admin_parse((const char *)data, size, &req, small,
	    sizeof(small)) == -1 && memchr(small, '\0', sizeof(small)) == NULL)
		abort();
	return 0;
}
