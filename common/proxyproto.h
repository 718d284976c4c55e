/*
 * proxyproto.h -- the PROXY protocol header parser (versions 1 and 2 of
 * the haproxy.org specification, receiving side).
 *
 * A balancer in front of the daemon sends one header before the client's
 * bytes, carrying the client's address (source) and the address the client
 * connected to (destination).  pp_parse() looks at the bytes read so far
 * and says whether they hold a complete header, need more, or can never
 * become one:
 *
 *	> 0	a valid header of that many bytes starts buf; the bytes after
 *		it belong to the client and are not looked at
 *	0	buf (possibly empty) is a strict prefix of a header that may
 *		still turn out valid: read more, up to PP_HEADER_MAX in all
 *	-1	malformed; *why (if why is not NULL) is a short static reason
 *
 * A first byte that starts neither signature is -1 at once, so a client
 * speaking something else is told apart after one byte.  Every check is
 * made as soon as the bytes it needs have arrived (a v1 address or port
 * once its field has ended).  h is written only when the result is > 0;
 * *why is set to NULL unless the result is -1; either may be NULL.
 *
 * Version 1 is one strict line, at most PP_V1_MAX bytes with its CRLF:
 *	"PROXY TCP4 <src> <dst> <sport> <dport>\r\n"	(TCP6 likewise)
 *	"PROXY UNKNOWN\r\n" or "PROXY UNKNOWN <anything but CRLF>\r\n"
 * with single spaces, dotted-quad IPv4 without leading zeros, IPv6 as
 * inet_pton(3) reads it, decimal ports 0-65535 without leading zeros.
 *
 * Version 2 is the 12-byte signature, version 2 with command LOCAL or
 * PROXY, a family/transport byte of a defined value, a big-endian length
 * (at most PP_V2_MAX_PAYLOAD) that must cover the family's address block
 * (for LOCAL too), then type-length-value records filling the rest
 * exactly.  PROXY over a datagram transport is refused; AF_UNIX is
 * accepted and reported as PP_UNSPEC.  LOCAL (the balancer's own health
 * check) reports no address whatever its family: the connection keeps its
 * transport addresses, as it does for v1 UNKNOWN and for PP_UNSPEC.
 *
 * Pure function: no I/O, no allocation, no global state.
 */
#ifndef PF_PROXYPROTO_H
#define PF_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PP_V1_MAX		107	/* the longest v1 line, CRLF included */
#define PP_V2_HDR_LEN		16	/* signature, ver/cmd, fam, length */
#define PP_V2_MAX_PAYLOAD	512	/* our bound on the v2 length field */
#define PP_HEADER_MAX		(PP_V2_HDR_LEN + PP_V2_MAX_PAYLOAD)
#define PP_UNIQUE_ID_MAX	128	/* the spec's bound on UNIQUE_ID */

/* v2 TLV types kept (the others are bounds-checked and skipped). */
#define PP2_TYPE_ALPN		0x01
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_UNIQUE_ID	0x05

enum pp_family {
	PP_UNSPEC = 0,		/* no address in the header: keep the transport's */
	PP_TCP4 = 1,
	PP_TCP6 = 2,
};

/* A TLV value: buf[off .. off + len).  off == 0 means absent (a header's
 * TLVs never start at 0); the first record of a type wins. */
struct pp_tlv {
	uint16_t	off;
	uint16_t	len;
};

struct pp_header {
	uint8_t			version;	/* 1 or 2 */
	uint8_t			local;		/* v2 LOCAL or v1 UNKNOWN */
	uint8_t			family;		/* enum pp_family */
	/* Set for PP_TCP4/PP_TCP6 only (else zeroed, lengths 0): AF_INET or
	 * AF_INET6, ports in network byte order. */
	struct sockaddr_storage	src;
	struct sockaddr_storage	dst;
	socklen_t		srclen;
	socklen_t		dstlen;
	/* v2 only. */
	struct pp_tlv		alpn;
	struct pp_tlv		authority;
	struct pp_tlv		unique_id;
};

int	pp_parse(const uint8_t *buf, size_t len, struct pp_header *h,
	    const char **why);

/*
 * The sending side: a header of version 1 or 2 saying the client src
 * connected to dst, written to buf (cap bytes); its length, or -1 if cap
 * is too small or version is neither.  Both addresses IPv4: TCP4; both
 * IPv6, or one of each (the IPv4 one mapped, ::ffff:a.b.c.d): TCP6.
 * Anything else (a Unix socket, NULL) says nothing of the client: v1
 * "PROXY UNKNOWN", v2 LOCAL with family UNSPEC, as HAProxy sends them; the
 * receiver then keeps the connection's own addresses.  v2 carries no
 * TLVs.  PP_ENCODE_MAX bytes are always enough.  No allocation.
 */
#define PP_ENCODE_MAX		PP_V1_MAX	/* > the 52 of v2 TCP6 */
int	pp_encode(uint8_t *buf, size_t cap, int version,
	    const struct sockaddr *src, const struct sockaddr *dst);

#endif /* PF_PROXYPROTO_H */
