/*
 * fuzz_proxyproto.c -- libFuzzer target for the PROXY protocol parser
 * (common/proxyproto.c): the input is the first bytes a balancer sent.
 * Whatever they are, the result must keep the contract of proxyproto.h:
 * a length within the input and the bound, a reason exactly when -1, the
 * output written only on success; a header parses to the same result on
 * its own and followed by more bytes; its strict prefixes need more; TLV
 * views lie inside it; the address lengths match the family; and a v1 TCP4
 * line, being canonical, prints back to exactly its own bytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proxyproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_tlv(struct pp_tlv v, int n)
{
	if (v.off == 0) {
		if (v.len != 0)
			abort();
		return;
	}
	if (v.off < PP_V2_HDR_LEN || v.off + v.len > n)
		abort();
}

static void
check_v1_tcp4(const uint8_t *data, int n, const struct pp_header *h)
{
	const struct sockaddr_in	*s = (const void *)&h->src;
	const struct sockaddr_in	*d = (const void *)&h->dst;
	char				 a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	char				 line[PP_V1_MAX + 1];
	int				 k;

	if (inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a)) == NULL ||
	    inet_ntop(AF_INET, &d->sin_addr, b, sizeof(b)) == NULL)
		abort();
	k = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", a, b,
	    ntohs(s->sin_port), ntohs(d->sin_port));
	if (k != n || memcmp(line, data, (size_t)n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 more[PP_HEADER_MAX + 1];
	struct pp_header	 h, h2, poison;
	const char		*why;
	int			 n, k;

	memset(&poison, 0xa5, sizeof(poison));
	h = poison;
	why = "unset";
	n = pp_parse(data, size, &h, &why);
	if (n < -1 || (size_t)(n > 0 ? n : 0) > size || n > PP_HEADER_MAX)
		abort();
	if ((n == -1) != (why != NULL))
		abort();
	if (n <= 0) {
		if (memcmp(&h, &poison, sizeof(h)) != 0)
			abort();
		/* Need more: never past the bound. */
		if (n == 0 && size >= PP_HEADER_MAX)
			abort();
		return 0;
	}

	if (h.version != 1 && h.version != 2)
		abort();
	switch (h.family) {
	case PP_TCP4:
		if (h.local || h.srclen != sizeof(struct sockaddr_in) ||
		    h.dstlen != h.srclen || h.src.ss_family != AF_INET ||
		    h.dst.ss_family != AF_INET)
			abort();
		break;
	case PP_TCP6:
		if (h.local || h.srclen != sizeof(struct sockaddr_in6) ||
		    h.dstlen != h.srclen || h.src.ss_family != AF_INET6 ||
		    h.dst.ss_family != AF_INET6)
			abort();
		break;
	case PP_UNSPEC:
		if (h.srclen != 0 || h.dstlen != 0)
			abort();
		break;
	default:
		abort();
	}
	if (h.version == 1 && (n > PP_V1_MAX || data[n - 2] != '\r' ||
	    data[n - 1] != '\n'))
		abort();
	check_tlv(h.alpn, n);
	check_tlv(h.authority, n);
	check_tlv(h.unique_id, n);
	if (h.unique_id.len > PP_UNIQUE_ID_MAX)
		abort();
	if (h.version == 1 && h.family == PP_TCP4)
		check_v1_tcp4(data, n, &h);

	/* The header alone, and with one more byte after it. */
	memset(&h2, 0x5a, sizeof(h2));
	if (pp_parse(data, (size_t)n, &h2, NULL) != n ||
	    memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
	memcpy(more, data, (size_t)n);
	more[n] = 'x';
	memset(&h2, 0x5a, sizeof(h2));
	if (pp_parse(more, (size_t)n + 1, &h2, NULL) != n ||
	    memcmp(&h, &h2, sizeof(h)) != 0)
		abort();

	/* Some strict prefixes: the short reads a connection sees. */
	for (k = 0; k < n; k += k < 20 ? 1 : 7) {
		if (pp_parse(data, (size_t)k, NULL, &why) != 0 || why != NULL)
			abort();
	}
	if (pp_parse(data, (size_t)n - 1, NULL, NULL) != 0)
		abort();
	return 0;
}
