/*
 * cidr.h -- address blocks ("10.0.0.0/8", "::1", "2001:db8::/32") and
 * matching a peer address against them.  Pure functions.
 */
#ifndef PF_CIDR_H
#define PF_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned int	bits;		/* prefix length */
	uint8_t		addr[16];	/* network order, host bits zero */
};

/* Parse "addr" or "addr/bits"; 0, or -1 if it is not a block. */
int	cidr_parse(const char *text, struct cidr *c);
/* Does sa fall in c?  An IPv4-mapped IPv6 address matches IPv4 blocks. */
int	cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* Any of n blocks. */
int	cidr_match_any(const struct cidr *c, size_t n,
	    const struct sockaddr *sa);

#endif
