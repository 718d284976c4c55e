/*
 * test_proxyproto.c -- unit tests for the PROXY protocol parser
 * (common/proxyproto.c): every field of valid v1 TCP4/TCP6/UNKNOWN and v2
 * PROXY TCP4/TCP6/UNSPEC/UNIX and LOCAL headers, TLV views included; "need
 * more" for every strict prefix of each valid header with the output left
 * untouched; bytes after a header never consumed; every malformed case of
 * the spec (signatures, version, command, family, transport, lengths, TLVs,
 * the bound, CRLF, the 107-byte line, addresses, ports, fields, case),
 * each rejected as soon as the byte that shows it has arrived.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "common/proxyproto.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* What the client sends after the header: never part of it. */
static const char trailer[] = "GET / HTTP/1.0\r\n\r\n";

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A v2 header: the signature, ver/cmd, family, length, payload. */
static size_t
v2(uint8_t *out, uint8_t vercmd, uint8_t fam, const uint8_t *payload,
    size_t plen)
{
	memcpy(out, sig, sizeof(sig));
	out[12] = vercmd;
	out[13] = fam;
	out[14] = (uint8_t)(plen >> 8);
	out[15] = (uint8_t)plen;
	if (plen > 0)
		memcpy(out + 16, payload, plen);
	return 16 + plen;
}

static size_t
tlv(uint8_t *out, uint8_t type, const void *value, size_t len)
{
	out[0] = type;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	if (len > 0)
		memcpy(out + 3, value, len);
	return 3 + len;
}

static void
assert_addr(const struct sockaddr_storage *ss, socklen_t len, int af,
    const char *text, uint16_t port)
{
	char	got[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, af);
	if (af == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		assert_int_equal(len, sizeof(*sin));
		assert_non_null(inet_ntop(af, &sin->sin_addr, got,
		    sizeof(got)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		assert_int_equal(len, sizeof(*sin6));
		assert_non_null(inet_ntop(af, &sin6->sin6_addr, got,
		    sizeof(got)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(got, text);
}

static void
assert_no_addr(const struct pp_header *h)
{
	struct sockaddr_storage	zero;

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(h->srclen, 0);
	assert_int_equal(h->dstlen, 0);
	assert_memory_equal(&h->src, &zero, sizeof(zero));
	assert_memory_equal(&h->dst, &zero, sizeof(zero));
}

static void
assert_tlv(const uint8_t *buf, struct pp_tlv v, const char *value)
{
	if (value == NULL) {
		assert_int_equal(v.off, 0);
		assert_int_equal(v.len, 0);
		return;
	}
	assert_int_not_equal(v.off, 0);
	assert_int_equal(v.len, strlen(value));
	assert_memory_equal(buf + v.off, value, v.len);
}

/*
 * The header at buf[0, n): every strict prefix needs more and leaves h and
 * why alone; the whole header, and the header followed by the client's
 * first bytes, parse to n with the same result, returned in *h.
 */
static void
parse_valid(const uint8_t *buf, size_t n, struct pp_header *h)
{
	uint8_t			 more[PP_HEADER_MAX + sizeof(trailer)];
	struct pp_header	 h2, poison;
	const char		*why;
	size_t			 k;

	assert_true(n <= PP_HEADER_MAX);
	memset(&poison, 0xa5, sizeof(poison));
	for (k = 0; k < n; k++) {
		*h = poison;
		why = "untouched?";
		assert_int_equal(pp_parse(buf, k, h, &why), 0);
		assert_null(why);
		assert_memory_equal(h, &poison, sizeof(*h));
	}
	why = "untouched?";
	assert_int_equal(pp_parse(buf, n, h, &why), (int)n);
	assert_null(why);

	memcpy(more, buf, n);
	memcpy(more + n, trailer, sizeof(trailer));
	memset(&h2, 0x5a, sizeof(h2));
	assert_int_equal(pp_parse(more, n + sizeof(trailer), &h2, NULL),
	    (int)n);
	assert_memory_equal(h, &h2, sizeof(h2));
	/* Neither output is required. */
	assert_int_equal(pp_parse(buf, n, NULL, NULL), (int)n);
}

static void
parse_valid_str(const char *s, struct pp_header *h)
{
	parse_valid((const uint8_t *)s, strlen(s), h);
}

/*
 * buf[0, n) is malformed, and known to be so exactly once its byte at
 * index bad_at has arrived: shorter prefixes need more.
 */
static void
expect_bad(const void *buf, size_t n, size_t bad_at, const char *reason)
{
	struct pp_header	 h, poison;
	const char		*why;
	size_t			 k;

	memset(&poison, 0xa5, sizeof(poison));
	h = poison;
	for (k = 0; k <= bad_at && k < n; k++) {
		why = "untouched?";
		assert_int_equal(pp_parse(buf, k, &h, &why), 0);
		assert_null(why);
	}
	for (k = bad_at + 1; k <= n; k++) {
		why = NULL;
		assert_int_equal(pp_parse(buf, k, &h, &why), -1);
		assert_non_null(why);
		assert_string_equal(why, reason);
	}
	assert_memory_equal(&h, &poison, sizeof(h));
	assert_int_equal(pp_parse(buf, n, &h, NULL), -1);
}

static void
expect_bad_str(const char *s, size_t bad_at, const char *reason)
{
	expect_bad(s, strlen(s), bad_at, reason);
}

static void
test_v1_tcp4(void **state)
{
	struct pp_header	h;

	parse_valid_str("PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n", &h);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.local, 0);
	assert_int_equal(h.family, PP_TCP4);
	assert_addr(&h.src, h.srclen, AF_INET, "192.168.0.1", 56324);
	assert_addr(&h.dst, h.dstlen, AF_INET, "10.0.0.2", 443);
	assert_tlv(NULL, h.alpn, NULL);
	assert_tlv(NULL, h.authority, NULL);
	assert_tlv(NULL, h.unique_id, NULL);

	parse_valid_str("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", &h);
	assert_addr(&h.src, h.srclen, AF_INET, "0.0.0.0", 0);
	assert_addr(&h.dst, h.dstlen, AF_INET, "255.255.255.255", 65535);
}

static void
test_v1_tcp6(void **state)
{
	struct pp_header	h;
	const char		*longest = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	parse_valid_str("PROXY TCP6 2001:DB8::1 ::ffff:10.0.0.2 1 80\r\n", &h);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.local, 0);
	assert_int_equal(h.family, PP_TCP6);
	assert_addr(&h.src, h.srclen, AF_INET6, "2001:db8::1", 1);
	assert_addr(&h.dst, h.dstlen, AF_INET6, "::ffff:10.0.0.2", 80);

	assert_int_equal(strlen(longest), 104);
	parse_valid_str(longest, &h);
	assert_addr(&h.src, h.srclen, AF_INET6,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
}

static void
test_v1_unknown(void **state)
{
	struct pp_header	h;
	char			line[PP_V1_MAX + 1];

	parse_valid_str("PROXY UNKNOWN\r\n", &h);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.family, PP_UNSPEC);
	assert_no_addr(&h);

	parse_valid_str("PROXY UNKNOWN 1.2.3.4 whatever\r\n", &h);
	assert_int_equal(h.local, 1);
	assert_no_addr(&h);

	/* The spec's worst case: exactly 107 bytes. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(strlen(line), PP_V1_MAX);
	parse_valid_str(line, &h);
	assert_int_equal(h.local, 1);
}

static void
test_v2_tcp4_tlvs(void **state)
{
	uint8_t			 buf[PP_HEADER_MAX], pl[256];
	struct pp_header	 h;
	size_t			 n = 0, len;

	memcpy(pl + n, "\xc0\x00\x02\x01" "\x0a\x00\x00\x02"
	    "\xdc\x04" "\x01\xbb", 12);
	n += 12;
	n += tlv(pl + n, 0x04, "\0\0\0", 3);		/* NOOP */
	n += tlv(pl + n, PP2_TYPE_ALPN, "h2", 2);
	n += tlv(pl + n, PP2_TYPE_AUTHORITY, "example.com", 11);
	n += tlv(pl + n, 0xe0, "custom", 6);		/* unknown: skipped */
	n += tlv(pl + n, PP2_TYPE_UNIQUE_ID, "id-42", 5);
	n += tlv(pl + n, PP2_TYPE_ALPN, "http/1.1", 8);	/* the first wins */
	len = v2(buf, 0x21, 0x11, pl, n);

	parse_valid(buf, len, &h);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 0);
	assert_int_equal(h.family, PP_TCP4);
	assert_addr(&h.src, h.srclen, AF_INET, "192.0.2.1", 56324);
	assert_addr(&h.dst, h.dstlen, AF_INET, "10.0.0.2", 443);
	assert_tlv(buf, h.alpn, "h2");
	assert_tlv(buf, h.authority, "example.com");
	assert_tlv(buf, h.unique_id, "id-42");

	/* An empty TLV is present, with length 0. */
	n = 12;
	n += tlv(pl + n, PP2_TYPE_AUTHORITY, NULL, 0);
	len = v2(buf, 0x21, 0x11, pl, n);
	parse_valid(buf, len, &h);
	assert_int_equal(h.authority.off, 31);
	assert_int_equal(h.authority.len, 0);
	assert_tlv(buf, h.alpn, NULL);
}

static void
test_v2_tcp6(void **state)
{
	uint8_t			 buf[PP_HEADER_MAX], pl[64];
	struct pp_header	 h;
	size_t			 len;

	memset(pl, 0, sizeof(pl));
	pl[0] = 0x20; pl[1] = 0x01; pl[2] = 0x0d; pl[3] = 0xb8; pl[15] = 1;
	pl[16 + 10] = 0xff; pl[16 + 11] = 0xff;
	pl[16 + 12] = 10; pl[16 + 15] = 2;
	pl[32] = 0xff; pl[33] = 0xff;			/* 65535 */
	pl[34] = 0x00; pl[35] = 0x00;			/* 0 */
	len = v2(buf, 0x21, 0x21, pl, 36);

	parse_valid(buf, len, &h);
	assert_int_equal(len, 52);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 0);
	assert_int_equal(h.family, PP_TCP6);
	assert_addr(&h.src, h.srclen, AF_INET6, "2001:db8::1", 65535);
	assert_addr(&h.dst, h.dstlen, AF_INET6, "::ffff:10.0.0.2", 0);
	assert_tlv(buf, h.alpn, NULL);
	assert_tlv(buf, h.authority, NULL);
	assert_tlv(buf, h.unique_id, NULL);
}

static void
test_v2_local(void **state)
{
	uint8_t			 buf[PP_HEADER_MAX], pl[64];
	struct pp_header	 h;
	size_t			 len, n;

	/* The balancer's own health check. */
	len = v2(buf, 0x20, 0x00, NULL, 0);
	parse_valid(buf, len, &h);
	assert_int_equal(len, 16);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.family, PP_UNSPEC);
	assert_no_addr(&h);

	/* With TLVs. */
	n = tlv(pl, PP2_TYPE_UNIQUE_ID, "check", 5);
	len = v2(buf, 0x20, 0x00, pl, n);
	parse_valid(buf, len, &h);
	assert_int_equal(h.local, 1);
	assert_tlv(buf, h.unique_id, "check");

	/* LOCAL with a family: the addresses are not the client's. */
	memset(pl, 7, 12);
	len = v2(buf, 0x20, 0x11, pl, 12);
	parse_valid(buf, len, &h);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.family, PP_UNSPEC);
	assert_no_addr(&h);

	/* ... even a datagram one: nothing is relayed. */
	len = v2(buf, 0x20, 0x12, pl, 12);
	parse_valid(buf, len, &h);
	assert_int_equal(h.local, 1);
}

static void
test_v2_unspec_unix(void **state)
{
	static const uint8_t	 zeros[PP_V2_MAX_PAYLOAD];
	uint8_t			 buf[PP_HEADER_MAX], pl[PP_V2_MAX_PAYLOAD];
	struct pp_header	 h;
	size_t			 len, n;

	n = tlv(pl, PP2_TYPE_AUTHORITY, "a.example", 9);
	len = v2(buf, 0x21, 0x00, pl, n);
	parse_valid(buf, len, &h);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 0);
	assert_int_equal(h.family, PP_UNSPEC);
	assert_no_addr(&h);
	assert_tlv(buf, h.authority, "a.example");

	/* AF_UNIX stream: 216 bytes of paths, reported as unspec. */
	memset(pl, 0, 216);
	memcpy(pl, "/run/a.sock", 11);
	memcpy(pl + 108, "/run/b.sock", 11);
	n = 216 + tlv(pl + 216, PP2_TYPE_ALPN, "x", 1);
	len = v2(buf, 0x21, 0x31, pl, n);
	parse_valid(buf, len, &h);
	assert_int_equal(h.local, 0);
	assert_int_equal(h.family, PP_UNSPEC);
	assert_no_addr(&h);
	assert_tlv(buf, h.alpn, "x");

	/* The bound itself is valid: one TLV filling 512 bytes. */
	memset(pl, 0, sizeof(pl));
	n = tlv(pl, 0x04, zeros, PP_V2_MAX_PAYLOAD - 3);
	len = v2(buf, 0x21, 0x00, pl, n);
	assert_int_equal(len, PP_HEADER_MAX);
	parse_valid(buf, len, &h);
}

static void
test_not_proxy(void **state)
{
	uint8_t	buf[32];

	assert_int_equal(pp_parse((const uint8_t *)"", 0, NULL, NULL), 0);
	expect_bad_str("GET / HTTP/1.0\r\n", 0, "not a PROXY header");
	expect_bad_str("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", 0,
	    "not a PROXY header");
	expect_bad_str("\x16\x03\x01\x02\x00", 0, "not a PROXY header");
	expect_bad_str("PROXy TCP4", 4, "not a PROXY header");
	expect_bad_str("PROXY\tTCP4", 5, "not a PROXY header");
	expect_bad_str("\r\n\r\nGET", 4, "not a PROXY header");

	/* The v2 signature with its last byte wrong. */
	memcpy(buf, sig, sizeof(sig));
	buf[11] = 'X';
	expect_bad(buf, 16, 11, "not a PROXY header");
}

static void
test_v2_bad_version_command(void **state)
{
	uint8_t	buf[64];
	size_t	len;

	len = v2(buf, 0x11, 0x11, (const uint8_t *)"123456789abc", 12);
	expect_bad(buf, len, 12, "v2: bad version");
	len = v2(buf, 0x31, 0x11, (const uint8_t *)"123456789abc", 12);
	expect_bad(buf, len, 12, "v2: bad version");
	len = v2(buf, 0x01, 0x00, NULL, 0);
	expect_bad(buf, len, 12, "v2: bad version");
	len = v2(buf, 0x22, 0x11, (const uint8_t *)"123456789abc", 12);
	expect_bad(buf, len, 12, "v2: unknown command");
	len = v2(buf, 0x2f, 0x00, NULL, 0);
	expect_bad(buf, len, 12, "v2: unknown command");
}

static void
test_v2_bad_family_transport(void **state)
{
	uint8_t	buf[PP_HEADER_MAX], pl[256];
	size_t	len;

	memset(pl, 0, sizeof(pl));
	len = v2(buf, 0x21, 0x41, pl, 12);
	expect_bad(buf, len, 13, "v2: unknown family");
	len = v2(buf, 0x20, 0xf0, pl, 0);
	expect_bad(buf, len, 13, "v2: unknown family");
	len = v2(buf, 0x21, 0x13, pl, 12);
	expect_bad(buf, len, 13, "v2: unknown transport");
	len = v2(buf, 0x21, 0x10, pl, 12);
	expect_bad(buf, len, 13, "v2: unknown transport");
	len = v2(buf, 0x21, 0x01, pl, 0);
	expect_bad(buf, len, 13, "v2: unknown transport");
	len = v2(buf, 0x20, 0x02, pl, 0);
	expect_bad(buf, len, 13, "v2: unknown transport");
	len = v2(buf, 0x21, 0x12, pl, 12);
	expect_bad(buf, len, 13, "v2: datagram transport not supported");
	len = v2(buf, 0x21, 0x22, pl, 36);
	expect_bad(buf, len, 13, "v2: datagram transport not supported");
	len = v2(buf, 0x21, 0x32, pl, 216);
	expect_bad(buf, len, 13, "v2: datagram transport not supported");
}

static void
test_v2_lengths(void **state)
{
	uint8_t	buf[PP_HEADER_MAX + 8], pl[PP_V2_MAX_PAYLOAD + 8];
	size_t	len;

	memset(pl, 0, sizeof(pl));
	/* Too short for the family's addresses: known from the length. */
	len = v2(buf, 0x21, 0x11, pl, 11);
	expect_bad(buf, len, 15, "v2: address block too short");
	len = v2(buf, 0x21, 0x11, pl, 0);
	expect_bad(buf, len, 15, "v2: address block too short");
	len = v2(buf, 0x21, 0x21, pl, 35);
	expect_bad(buf, len, 15, "v2: address block too short");
	len = v2(buf, 0x21, 0x21, pl, 12);
	expect_bad(buf, len, 15, "v2: address block too short");
	len = v2(buf, 0x21, 0x31, pl, 215);
	expect_bad(buf, len, 15, "v2: address block too short");
	len = v2(buf, 0x20, 0x21, pl, 12);
	expect_bad(buf, len, 15, "v2: address block too short");

	/* Above the bound: refused before the payload arrives. */
	len = v2(buf, 0x21, 0x00, pl, PP_V2_MAX_PAYLOAD + 1);
	expect_bad(buf, len, 15, "v2: too long");
	buf[14] = 0xff;
	buf[15] = 0xff;
	expect_bad(buf, 16, 15, "v2: too long");
}

static void
test_v2_bad_tlvs(void **state)
{
	uint8_t	buf[PP_HEADER_MAX], pl[PP_V2_MAX_PAYLOAD], id[129];
	size_t	len, n;

	memset(pl, 0, sizeof(pl));
	memset(id, 'i', sizeof(id));

	/* A TLV longer than what is left of the header. */
	n = 12 + tlv(pl + 12, PP2_TYPE_ALPN, "h2", 2);
	pl[12 + 2] = 3;
	len = v2(buf, 0x21, 0x11, pl, n);
	expect_bad(buf, len, len - 1, "v2: TLV runs past the header");

	/* ... after a valid one. */
	n = 12 + tlv(pl + 12, PP2_TYPE_ALPN, "h2", 2);
	n += tlv(pl + n, 0xe0, "abcd", 4);
	pl[n - 5] = 0xff;
	len = v2(buf, 0x20, 0x11, pl, n);
	expect_bad(buf, len, len - 1, "v2: TLV runs past the header");

	/* One or two bytes left: not even a TLV header. */
	n = tlv(pl, PP2_TYPE_AUTHORITY, "x", 1) + 1;
	pl[n - 1] = 0x04;
	len = v2(buf, 0x21, 0x00, pl, n);
	expect_bad(buf, len, len - 1, "v2: TLV header truncated");
	pl[n++] = 0x00;
	len = v2(buf, 0x21, 0x00, pl, n);
	expect_bad(buf, len, len - 1, "v2: TLV header truncated");
	len = v2(buf, 0x21, 0x11, pl, 13);
	expect_bad(buf, len, len - 1, "v2: TLV header truncated");

	/* UNIQUE_ID is at most 128 bytes. */
	n = tlv(pl, PP2_TYPE_UNIQUE_ID, id, 129);
	len = v2(buf, 0x21, 0x00, pl, n);
	expect_bad(buf, len, len - 1, "v2: unique ID too long");
}

static void
test_unique_id_bound(void **state)
{
	uint8_t			 buf[PP_HEADER_MAX], pl[256], id[128];
	struct pp_header	 h;
	size_t			 len, n;

	memset(id, 'i', sizeof(id));
	n = tlv(pl, PP2_TYPE_UNIQUE_ID, id, sizeof(id));
	len = v2(buf, 0x21, 0x00, pl, n);
	parse_valid(buf, len, &h);
	assert_int_equal(h.unique_id.off, 19);
	assert_int_equal(h.unique_id.len, 128);
}

static void
test_v1_crlf(void **state)
{
	char	line[PP_V1_MAX + 16];

	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 30,
	    "v1: LF without CR");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", 31,
	    "v1: CR without LF");
	expect_bad_str("PROXY UNKNOWN\rX", 14, "v1: CR without LF");
	expect_bad_str("PROXY UNKNOWN\n", 13, "v1: unknown protocol");

	/* UNKNOWN without CRLF: fine until 107 bytes are in. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	line[PP_V1_MAX - 2] = '\r';
	line[PP_V1_MAX - 1] = 'x';
	expect_bad(line, sizeof(line), PP_V1_MAX - 1,
	    "v1: no CRLF within 107 bytes");
	/* A CR with its LF just past 107 bytes. */
	line[PP_V1_MAX - 1] = '\r';
	line[PP_V1_MAX] = '\n';
	expect_bad(line, sizeof(line), PP_V1_MAX - 1,
	    "v1: no CRLF within 107 bytes");
}

static void
test_v1_too_long(void **state)
{
	/* Each field is well formed; the line is 116 bytes. */
	const char	*s = "PROXY TCP6 "
	    "0000:0000:0000:0000:0000:ffff:255.255.255.255 "
	    "0000:0000:0000:0000:0000:ffff:255.255.255.255 65535 65535\r\n";

	expect_bad_str(s, PP_V1_MAX - 1, "v1: no CRLF within 107 bytes");
}

static void
test_v1_bad_addresses(void **state)
{
	expect_bad_str("PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n", 20,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 16,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", 20,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", 19,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.07.8 1 2\r\n", 27,
	    "v1: bad destination address");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8.00000000 1 2\r\n", 34,
	    "v1: bad destination address");
	expect_bad_str("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 11,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP4 1.2.3.4 a.b.c.d 1 2\r\n", 19,
	    "v1: bad destination address");
	expect_bad_str("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 18,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP6 ::1 2001:db8:::1 1 2\r\n", 27,
	    "v1: bad destination address");
	expect_bad_str("PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", 32,
	    "v1: bad destination address");
	expect_bad_str("PROXY TCP6 gggg::1 ::1 1 2\r\n", 11,
	    "v1: bad source address");
}

static void
test_v1_bad_ports(void **state)
{
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 32,
	    "v1: bad source port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", 34,
	    "v1: bad destination port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n", 32,
	    "v1: bad source port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", 30,
	    "v1: bad source port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", 31,
	    "v1: bad destination port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 27,
	    "v1: bad source port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", 27,
	    "v1: bad source port");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n", 28,
	    "v1: bad source port");
}

static void
test_v1_bad_fields(void **state)
{
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 30,
	    "v1: extra field");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 30,
	    "v1: extra field");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 28,
	    "v1: missing field");
	expect_bad_str("PROXY TCP4 1.2.3.4 5.6.7.8\r\n", 26,
	    "v1: missing field");
	expect_bad_str("PROXY TCP4 \r\n", 11, "v1: missing field");
	expect_bad_str("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 11,
	    "v1: empty field");
	expect_bad_str("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", 19,
	    "v1: empty field");
	expect_bad_str("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", 18,
	    "v1: bad source address");
	expect_bad_str("PROXY TCP4\r\n", 10, "v1: unknown protocol");
	expect_bad_str("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 6,
	    "v1: unknown protocol");
	expect_bad_str("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 9,
	    "v1: unknown protocol");
	expect_bad_str("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", 6,
	    "v1: unknown protocol");
	expect_bad_str("PROXY UNKNOWNX\r\n", 13, "v1: unknown protocol");
	expect_bad_str("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 7,
	    "v1: unknown protocol");
}

/* A valid header followed by a second one: only the first is taken. */
static void
test_back_to_back(void **state)
{
	const char		*two = "PROXY UNKNOWN\r\nPROXY UNKNOWN\r\n";
	uint8_t			 buf[64];
	struct pp_header	 h;
	size_t			 len;

	assert_int_equal(pp_parse((const uint8_t *)two, strlen(two), &h,
	    NULL), 15);
	len = v2(buf, 0x20, 0x00, NULL, 0);
	memcpy(buf + len, sig, sizeof(sig));
	assert_int_equal(pp_parse(buf, len + sizeof(sig), &h, NULL), 16);
}

/* pp_encode: what it writes, pp_parse reads back as the same addresses. */
static void
sa4(struct sockaddr_storage *ss, const char *a, unsigned int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, a, &sin->sin_addr), 1);
}

static void
sa6(struct sockaddr_storage *ss, const char *a, unsigned int port)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
}

/* Encode, check every shorter buffer is refused, parse it back. */
static int
round_trip(int version, const struct sockaddr_storage *s,
    const struct sockaddr_storage *d, struct pp_header *h)
{
	uint8_t		buf[PP_ENCODE_MAX + 16];
	size_t		cap;
	int		n;

	n = pp_encode(buf, sizeof(buf), version, (const struct sockaddr *)s,
	    (const struct sockaddr *)d);
	assert_true(n > 0 && n <= PP_ENCODE_MAX);
	for (cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(pp_encode(buf, cap, version,
		    (const struct sockaddr *)s, (const struct sockaddr *)d), -1);
	assert_int_equal(pp_encode(buf, (size_t)n, version,
	    (const struct sockaddr *)s, (const struct sockaddr *)d), n);
	memcpy(buf + n, "tail", 4);
	assert_int_equal(pp_parse(buf, (size_t)n + 4, h, NULL), n);
	assert_int_equal(h->version, version);
	return n;
}

static void
test_encode_tcp4(void **state)
{
	struct sockaddr_storage	 s, d;
	struct pp_header	 h;
	uint8_t			 buf[PP_ENCODE_MAX];
	int			 v;

	(void)state;
	sa4(&s, "192.0.2.7", 51234);
	sa4(&d, "198.51.100.1", 443);
	assert_int_equal(pp_encode(buf, sizeof(buf), 1,
	    (struct sockaddr *)&s, (struct sockaddr *)&d), 45);
	assert_memory_equal(buf,
	    "PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n", 45);
	for (v = 1; v <= 2; v++) {
		assert_int_equal(round_trip(v, &s, &d, &h), v == 1 ? 45 : 28);
		assert_int_equal(h.family, PP_TCP4);
		assert_int_equal(h.local, 0);
		assert_int_equal(h.srclen, sizeof(struct sockaddr_in));
		assert_memory_equal(&h.src, &s, sizeof(struct sockaddr_in));
		assert_memory_equal(&h.dst, &d, sizeof(struct sockaddr_in));
	}
}

static void
test_encode_tcp6(void **state)
{
	struct sockaddr_storage	 s, d, m;
	struct pp_header	 h;
	struct sockaddr_in6	*x;
	int			 v;

	(void)state;
	sa6(&s, "2001:db8::1", 65535);
	sa6(&d, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);
	sa4(&m, "127.0.0.2", 4000);
	for (v = 1; v <= 2; v++) {
		assert_int_equal(round_trip(v, &s, &d, &h), v == 1 ? 72 : 52);
		assert_int_equal(h.family, PP_TCP6);
		x = (struct sockaddr_in6 *)&h.src;
		assert_int_equal(x->sin6_family, AF_INET6);
		assert_int_equal(ntohs(x->sin6_port), 65535);
		assert_memory_equal(&x->sin6_addr,
		    &((struct sockaddr_in6 *)&s)->sin6_addr, 16);
		x = (struct sockaddr_in6 *)&h.dst;
		assert_memory_equal(&x->sin6_addr,
		    &((struct sockaddr_in6 *)&d)->sin6_addr, 16);
		/* One of each: the IPv4 one mapped. */
		round_trip(v, &m, &d, &h);
		assert_int_equal(h.family, PP_TCP6);
		x = (struct sockaddr_in6 *)&h.src;
		assert_true(IN6_IS_ADDR_V4MAPPED(&x->sin6_addr));
		assert_memory_equal(&x->sin6_addr.s6_addr[12], "\x7f\0\0\x02", 4);
		assert_int_equal(ntohs(x->sin6_port), 4000);
	}
}

static void
test_encode_unspec(void **state)
{
	struct sockaddr_storage	 s, u;
	struct pp_header	 h;
	uint8_t			 buf[PP_ENCODE_MAX];
	int			 v;

	(void)state;
	sa4(&s, "192.0.2.7", 1);
	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	for (v = 1; v <= 2; v++) {
		assert_int_equal(round_trip(v, &s, &u, &h), v == 1 ? 15 : 16);
		assert_int_equal(h.family, PP_UNSPEC);
		assert_int_equal(h.local, 1);
		assert_int_equal(h.srclen, 0);
		round_trip(v, &u, &u, &h);
		assert_int_equal(h.family, PP_UNSPEC);
		assert_int_equal(pp_encode(buf, sizeof(buf), v, NULL, NULL),
		    v == 1 ? 15 : 16);
	}
	assert_memory_equal(buf, sig, sizeof(sig));
	assert_int_equal(buf[12], 0x20);	/* v2 LOCAL */
	assert_int_equal(pp_encode(buf, sizeof(buf), 3, NULL, NULL), -1);
	assert_int_equal(pp_encode(buf, sizeof(buf), 0, NULL, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v2_tcp4_tlvs),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_unspec_unix),
		cmocka_unit_test(test_unique_id_bound),
		cmocka_unit_test(test_not_proxy),
		cmocka_unit_test(test_v2_bad_version_command),
		cmocka_unit_test(test_v2_bad_family_transport),
		cmocka_unit_test(test_v2_lengths),
		cmocka_unit_test(test_v2_bad_tlvs),
		cmocka_unit_test(test_v1_crlf),
		cmocka_unit_test(test_v1_too_long),
		cmocka_unit_test(test_v1_bad_addresses),
		cmocka_unit_test(test_v1_bad_ports),
		cmocka_unit_test(test_v1_bad_fields),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_encode_tcp4),
		cmocka_unit_test(test_encode_tcp6),
		cmocka_unit_test(test_encode_unspec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
