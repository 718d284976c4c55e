/*
 * fuzz_http.c -- libFuzzer target for the stats listeners' request parser
 * (http_parse in server/httpstats.c): the input is what a client sent so
 * far.  The result must be one of the documented codes; a complete
 * request lies within the input and the limit, its path starts with '/'
 * inside the request line; and a prefix of a complete request is never
 * judged differently from "need more" or the same verdict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/httpstats.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;
	struct http_req	 req, sub;
	char		*copy;
	int		 rc, rc2;

	/* An exact-size copy, so ASan sees any read past the end. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, buf, size);
	rc = http_parse(copy, size, &req);
	switch (rc) {
	case 0:
		if (req.len == 0 || req.len > size ||
		    req.len > HTTP_MAX_REQUEST ||
		    req.method > HTTP_OTHER || req.minor < 0 ||
		    req.minor > 9 || req.path_len == 0 ||
		    req.path_off + req.path_len > req.len ||
		    copy[req.path_off] != '/')
			abort();
		/* The request alone parses the same. */
		if (http_parse(copy, req.len, &sub) != 0 ||
		    sub.len != req.len)
			abort();
		/* One byte short of it: need more, never a verdict. */
		if ((rc2 = http_parse(copy, req.len - 1, &sub)) != 1)
			abort();
		break;
	case 1:
		if (size >= HTTP_MAX_REQUEST)
			abort();
		break;
	case 400:
	case 505:
		break;
	case 414:
	case 431:
		if (size < HTTP_MAX_REQUEST)
			abort();
		break;
	default:
		abort();
	}
	free(copy);
	return 0;
}
