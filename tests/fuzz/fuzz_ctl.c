/*
 * fuzz_ctl.c -- libFuzzer target for the control-channel decoder
 * (common/ctl.c): the input is a byte stream decoded frame by frame, as
 * the master and workers read it, until a frame is incomplete or
 * malformed.  Every frame that decodes must encode back to exactly the
 * bytes it came from, with the length decode reported.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];
	size_t		off = 0;
	ssize_t		n, e;

	while (off < size) {
		memset(&m, 0xff, sizeof(m));
		n = ctl_decode(data + off, size - off, &m);
		if (n == 0 || n == -1)
			break;
		if (n < CTL_HDR_LEN || n > CTL_MAX_FRAME ||
		    (size_t)n > size - off)
			abort();
		e = ctl_encode(&m, buf, sizeof(buf));
		if (e != n || memcmp(buf, data + off, n) != 0)
			abort();
		off += n;
	}
	return 0;
}
