/*
 * proxyproto.c -- parse a PROXY protocol v1 or v2 header at the start of
 * a buffer (the contract is in proxyproto.h).
 *
 * Both versions are read front to back and every check is made as soon as
 * the bytes it needs are there: a byte that no valid header could have at
 * its place is -1 at once, running out of bytes before that is 0.  The
 * result is built in a local struct and copied out only when the whole
 * header is valid.  Nothing is allocated; inet_pton(3) reads a copy of a
 * v1 address in a small stack buffer.
 *
 * pp_encode() is the other way round, for the proxy service's backends.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/proxyproto.h"

static const uint8_t v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1sig[] = "PROXY ";
#define V1SIG_LEN	(sizeof(v1sig) - 1)

#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_AF_UNSPEC	0x0
#define V2_AF_INET	0x1
#define V2_AF_INET6	0x2
#define V2_AF_UNIX	0x3
#define V2_TR_UNSPEC	0x0
#define V2_TR_STREAM	0x1
#define V2_TR_DGRAM	0x2

/* The byte classes of v1 fields. */
enum v1_class { CLS_V4, CLS_V6, CLS_PORT };

/* The longest text a v1 address field may hold (INET6_ADDRSTRLEN - 1:
 * an IPv6 address with an IPv4 tail). */
#define V1_V4_MAX	15
#define V1_V6_MAX	45
#define V1_PORT_MAX	5

static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

static int
in_class(uint8_t c, enum v1_class cls)
{
	if (c >= '0' && c <= '9')
		return 1;
	switch (cls) {
	case CLS_V4:
		return c == '.';
	case CLS_V6:
		return c == ':' || c == '.' || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F');
	case CLS_PORT:
		break;
	}
	return 0;
}

/*
 * Reads one v1 field of 1..max bytes of class cls ended by the byte end
 * into out (max + 1 bytes, NUL-terminated), and moves *pos past end.
 * 1: read; 0: the buffer ends first; -1: anything else (*why says what,
 * bad when the field itself is wrong).
 */
static int
v1_field(const uint8_t *buf, size_t len, size_t *pos, enum v1_class cls,
    size_t max, uint8_t end, char *out, const char **why, const char *bad)
{
	size_t	i = *pos, n = 0;
	uint8_t	c;

	for (;;) {
		if (i >= PP_V1_MAX)
			return fail(why, "v1: no CRLF within 107 bytes");
		if (i >= len)
			return 0;
		c = buf[i++];
		if (c == end && n > 0)
			break;
		if (c == end)
			return fail(why, "v1: empty field");
		if (c == '\n' && end == '\r')
			return fail(why, "v1: LF without CR");
		if (c == '\r' || c == '\n')
			return fail(why, "v1: missing field");
		if (c == ' ')
			return fail(why, "v1: extra field");
		if (n == max || !in_class(c, cls))
			return fail(why, bad);
		out[n++] = (char)c;
	}
	out[n] = '\0';
	*pos = i;
	return 1;
}

/* A dotted quad whose numbers have no leading zero (inet_pton does the
 * rest; some C libraries would read 010 as octal or accept it). */
static int
v4_no_leading_zero(const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '0' && (p == s || p[-1] == '.') &&
		    p[1] >= '0' && p[1] <= '9')
			return 0;
	}
	return 1;
}

static int
v1_addr(const char *text, int af, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	if (af == AF_INET) {
		sin = (struct sockaddr_in *)ss;
		if (!v4_no_leading_zero(text) ||
		    inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		*sslen = sizeof(*sin);
	} else {
		sin6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/* Decimal 0-65535, no leading zero; -1 otherwise. */
static long
v1_port(const char *text)
{
	long	v = 0;

	if (text[0] == '0' && text[1] != '\0')
		return -1;
	for (; *text != '\0'; text++)
		v = v * 10 + (*text - '0');
	return v > 65535 ? -1 : v;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port_net)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = port_net;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = port_net;
}

/* "PROXY UNKNOWN", then CRLF or a space and anything up to CRLF. */
static int
v1_unknown(const uint8_t *buf, size_t len, size_t pos, struct pp_header *h,
    const char **why)
{
	size_t	i;

	if (pos >= len)
		return 0;
	if (buf[pos] != ' ' && buf[pos] != '\r')
		return fail(why, "v1: unknown protocol");
	if (buf[pos] == '\r') {
		if (pos + 1 >= len)
			return 0;
		if (buf[pos + 1] != '\n')
			return fail(why, "v1: CR without LF");
		i = pos;
	} else {
		for (i = pos + 1;; i++) {
			if (i + 1 >= PP_V1_MAX)
				return fail(why,
				    "v1: no CRLF within 107 bytes");
			if (i + 1 >= len)
				return 0;
			if (buf[i] == '\r' && buf[i + 1] == '\n')
				break;
		}
	}
	h->local = 1;
	h->family = PP_UNSPEC;
	return (int)(i + 2);
}

static int
parse_v1(const uint8_t *buf, size_t len, struct pp_header *h,
    const char **why)
{
	static const struct {
		const char	*word;
		int		 family;
	} protos[] = {
		{ "TCP4 ", PP_TCP4 },
		{ "TCP6 ", PP_TCP6 },
		{ "UNKNOWN", PP_UNSPEC },
	};
	char		 text[V1_V6_MAX + 1];
	const char	*p;
	enum v1_class	 cls;
	size_t		 pos = V1SIG_LEN, avail, wlen, i, max;
	long		 sport, dport;
	int		 family = -1, af, r;

	if (len <= pos)
		return 0;
	avail = len - pos;
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		p = protos[i].word;
		wlen = strlen(p);
		if (memcmp(buf + pos, p, avail < wlen ? avail : wlen) != 0)
			continue;
		if (avail < wlen)
			return 0;
		family = protos[i].family;
		pos += wlen;
		break;
	}
	if (family == -1)
		return fail(why, "v1: unknown protocol");
	if (family == PP_UNSPEC)
		return v1_unknown(buf, len, pos, h, why);

	h->family = (uint8_t)family;
	af = family == PP_TCP4 ? AF_INET : AF_INET6;
	max = family == PP_TCP4 ? V1_V4_MAX : V1_V6_MAX;
	cls = family == PP_TCP4 ? CLS_V4 : CLS_V6;

	r = v1_field(buf, len, &pos, cls, max, ' ', text, why,
	    "v1: bad source address");
	if (r <= 0)
		return r;
	if (v1_addr(text, af, &h->src, &h->srclen) == -1)
		return fail(why, "v1: bad source address");
	r = v1_field(buf, len, &pos, cls, max, ' ', text, why,
	    "v1: bad destination address");
	if (r <= 0)
		return r;
	if (v1_addr(text, af, &h->dst, &h->dstlen) == -1)
		return fail(why, "v1: bad destination address");
	r = v1_field(buf, len, &pos, CLS_PORT, V1_PORT_MAX, ' ', text, why,
	    "v1: bad source port");
	if (r <= 0)
		return r;
	if ((sport = v1_port(text)) == -1)
		return fail(why, "v1: bad source port");
	r = v1_field(buf, len, &pos, CLS_PORT, V1_PORT_MAX, '\r', text, why,
	    "v1: bad destination port");
	if (r <= 0)
		return r;
	if ((dport = v1_port(text)) == -1)
		return fail(why, "v1: bad destination port");
	if (pos >= PP_V1_MAX)
		return fail(why, "v1: no CRLF within 107 bytes");
	if (pos >= len)
		return 0;
	if (buf[pos] != '\n')
		return fail(why, "v1: CR without LF");
	set_port(&h->src, htons((uint16_t)sport));
	set_port(&h->dst, htons((uint16_t)dport));
	return (int)(pos + 1);
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The TLVs in buf[pos, end): each one whole, the kept ones recorded. */
static int
v2_tlvs(const uint8_t *buf, size_t pos, size_t end, struct pp_header *h,
    const char **why)
{
	struct pp_tlv	*v;
	size_t		 l;

	while (pos < end) {
		if (end - pos < 3)
			return fail(why, "v2: TLV header truncated");
		l = be16(buf + pos + 1);
		if (l > end - pos - 3)
			return fail(why, "v2: TLV runs past the header");
		switch (buf[pos]) {
		case PP2_TYPE_ALPN:
			v = &h->alpn;
			break;
		case PP2_TYPE_AUTHORITY:
			v = &h->authority;
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (l > PP_UNIQUE_ID_MAX)
				return fail(why, "v2: unique ID too long");
			v = &h->unique_id;
			break;
		default:
			v = NULL;
			break;
		}
		if (v != NULL && v->off == 0) {
			v->off = (uint16_t)(pos + 3);
			v->len = (uint16_t)l;
		}
		pos += 3 + l;
	}
	return 0;
}

static int
parse_v2(const uint8_t *buf, size_t len, struct pp_header *h,
    const char **why)
{
	struct sockaddr_in	*s4, *d4;
	struct sockaddr_in6	*s6, *d6;
	size_t			 alen, plen;
	uint8_t			 cmd, af, tr;

	if (len < 13)
		return 0;
	if (buf[12] >> 4 != 2)
		return fail(why, "v2: bad version");
	cmd = buf[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return fail(why, "v2: unknown command");
	if (len < 14)
		return 0;
	af = buf[13] >> 4;
	tr = buf[13] & 0x0f;
	switch (af) {
	case V2_AF_UNSPEC:
		alen = 0;
		break;
	case V2_AF_INET:
		alen = 12;
		break;
	case V2_AF_INET6:
		alen = 36;
		break;
	case V2_AF_UNIX:
		alen = 216;
		break;
	default:
		return fail(why, "v2: unknown family");
	}
	/* Defined: 0x00, and a real family with STREAM or DGRAM. */
	if (af == V2_AF_UNSPEC ? tr != V2_TR_UNSPEC :
	    tr != V2_TR_STREAM && tr != V2_TR_DGRAM)
		return fail(why, "v2: unknown transport");
	if (tr == V2_TR_DGRAM && cmd == V2_CMD_PROXY)
		return fail(why, "v2: datagram transport not supported");
	if (len < PP_V2_HDR_LEN)
		return 0;
	plen = be16(buf + 14);
	if (plen > PP_V2_MAX_PAYLOAD)
		return fail(why, "v2: too long");
	if (plen < alen)
		return fail(why, "v2: address block too short");
	if (len < PP_V2_HDR_LEN + plen)
		return 0;
	if (v2_tlvs(buf, PP_V2_HDR_LEN + alen, PP_V2_HDR_LEN + plen, h,
	    why) == -1)
		return -1;

	h->local = cmd == V2_CMD_LOCAL;
	h->family = PP_UNSPEC;
	if (cmd == V2_CMD_PROXY && af == V2_AF_INET) {
		h->family = PP_TCP4;
		s4 = (struct sockaddr_in *)&h->src;
		d4 = (struct sockaddr_in *)&h->dst;
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, buf + 16, 4);
		memcpy(&d4->sin_addr, buf + 20, 4);
		memcpy(&s4->sin_port, buf + 24, 2);
		memcpy(&d4->sin_port, buf + 26, 2);
		h->srclen = h->dstlen = sizeof(struct sockaddr_in);
	} else if (cmd == V2_CMD_PROXY && af == V2_AF_INET6) {
		h->family = PP_TCP6;
		s6 = (struct sockaddr_in6 *)&h->src;
		d6 = (struct sockaddr_in6 *)&h->dst;
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, buf + 16, 16);
		memcpy(&d6->sin6_addr, buf + 32, 16);
		memcpy(&s6->sin6_port, buf + 48, 2);
		memcpy(&d6->sin6_port, buf + 50, 2);
		h->srclen = h->dstlen = sizeof(struct sockaddr_in6);
	}
	return (int)(PP_V2_HDR_LEN + plen);
}

int
pp_parse(const uint8_t *buf, size_t len, struct pp_header *h,
    const char **why)
{
	struct pp_header	tmp;
	size_t			n;
	int			r;

	if (why != NULL)
		*why = NULL;
	if (len == 0)
		return 0;
	memset(&tmp, 0, sizeof(tmp));
	if (buf[0] == v2sig[0]) {
		n = len < sizeof(v2sig) ? len : sizeof(v2sig);
		if (memcmp(buf, v2sig, n) != 0)
			return fail(why, "not a PROXY header");
		tmp.version = 2;
		r = parse_v2(buf, len, &tmp, why);
	} else if (buf[0] == (uint8_t)v1sig[0]) {
		n = len < V1SIG_LEN ? len : V1SIG_LEN;
		if (memcmp(buf, v1sig, n) != 0)
			return fail(why, "not a PROXY header");
		tmp.version = 1;
		r = parse_v1(buf, len, &tmp, why);
	} else
		return fail(why, "not a PROXY header");
	if (r > 0 && h != NULL)
		*h = tmp;
	return r;
}

/* Both addresses as IPv6 if either is (the other mapped): 1, or 0 if
 * either is not an IP address at all. */
static int
encode_as6(const struct sockaddr *sa, struct in6_addr *a, uint16_t *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)sa;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET6) {
		*a = sin6->sin6_addr;
		*port = sin6->sin6_port;
		return 1;
	}
	if (sa->sa_family != AF_INET)
		return 0;
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = 0xff;
	a->s6_addr[11] = 0xff;
	memcpy(&a->s6_addr[12], &sin->sin_addr, 4);
	*port = sin->sin_port;
	return 1;
}

static int
encode_v1(uint8_t *buf, size_t cap, int fam, const void *s, const void *d,
    uint16_t sport, uint16_t dport)
{
	char	sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN], line[128];
	int	n;

	if (fam == PP_UNSPEC)
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	else {
		inet_ntop(fam == PP_TCP4 ? AF_INET : AF_INET6, s, sa,
		    sizeof(sa));
		inet_ntop(fam == PP_TCP4 ? AF_INET : AF_INET6, d, da,
		    sizeof(da));
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
		    fam == PP_TCP4 ? "TCP4" : "TCP6", sa, da,
		    (unsigned int)ntohs(sport), (unsigned int)ntohs(dport));
	}
	if (n < 0 || (size_t)n > cap)
		return -1;
	memcpy(buf, line, (size_t)n);	/* without snprintf's NUL */
	return n;
}

static int
encode_v2(uint8_t *buf, size_t cap, int fam, const void *s, const void *d,
    uint16_t sport, uint16_t dport)
{
	size_t	alen = fam == PP_TCP4 ? 4 : fam == PP_TCP6 ? 16 : 0;
	size_t	plen = alen > 0 ? 2 * alen + 4 : 0;

	if (cap < PP_V2_HDR_LEN + plen)
		return -1;
	memcpy(buf, v2sig, sizeof(v2sig));
	buf[12] = 0x20 | (alen > 0 ? V2_CMD_PROXY : V2_CMD_LOCAL);
	buf[13] = alen == 4 ? (V2_AF_INET << 4) | V2_TR_STREAM :
	    alen == 16 ? (V2_AF_INET6 << 4) | V2_TR_STREAM : 0;
	buf[14] = (uint8_t)(plen >> 8);
	buf[15] = (uint8_t)plen;
	if (alen > 0) {
		memcpy(buf + 16, s, alen);
		memcpy(buf + 16 + alen, d, alen);
		/* Already in network byte order. */
		memcpy(buf + 16 + 2 * alen, &sport, 2);
		memcpy(buf + 18 + 2 * alen, &dport, 2);
	}
	return (int)(PP_V2_HDR_LEN + plen);
}

int
pp_encode(uint8_t *buf, size_t cap, int version, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	struct in6_addr	 s6, d6;
	const void	*s = NULL, *d = NULL;
	uint16_t	 sport = 0, dport = 0;
	int		 fam = PP_UNSPEC;

	if (version != 1 && version != 2)
		return -1;
	if (src != NULL && dst != NULL && src->sa_family == AF_INET &&
	    dst->sa_family == AF_INET) {
		fam = PP_TCP4;
		s = &((const struct sockaddr_in *)src)->sin_addr;
		d = &((const struct sockaddr_in *)dst)->sin_addr;
		sport = ((const struct sockaddr_in *)src)->sin_port;
		dport = ((const struct sockaddr_in *)dst)->sin_port;
	} else if (encode_as6(src, &s6, &sport) &&
	    encode_as6(dst, &d6, &dport)) {
		fam = PP_TCP6;
		s = &s6;
		d = &d6;
	}
	if (version == 1)
		return encode_v1(buf, cap, fam, s, d, sport, dport);
	return encode_v2(buf, cap, fam, s, d, sport, dport);
}
