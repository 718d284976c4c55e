/*
 * cidr.c -- parsing address blocks and matching addresses against them,
 * for the allow/deny lists of listeners.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"

int
cidr_parse(const char *text, struct cidr *c)
{
	char		 buf[INET6_ADDRSTRLEN + 5], *slash, *end;
	unsigned int	 max, i;
	long		 bits;

	if (strlen(text) >= sizeof(buf))
		return -1;
	memset(c, 0, sizeof(*c));
	strcpy(buf, text);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->bits = max;
	if (slash != NULL) {
		bits = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || bits < 0 ||
		    bits > (long)max)
			return -1;
		c->bits = (unsigned int)bits;
	}
	/* Clear the host bits so "10.1.2.3/8" means 10.0.0.0/8. */
	for (i = c->bits; i < max; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return 0;
}

static int
prefix_equal(const uint8_t *a, const uint8_t *net, unsigned int bits)
{
	unsigned int	full = bits / 8, rest = bits % 8;
	uint8_t		mask;

	if (memcmp(a, net, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == net[full];
}

int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	static const uint8_t	 mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	const uint8_t		*a;

	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr;
		return c->family == AF_INET && prefix_equal(a, c->addr,
		    c->bits);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (c->family == AF_INET6)
		return prefix_equal(a, c->addr, c->bits);
	return memcmp(a, mapped, sizeof(mapped)) == 0 &&
	    prefix_equal(a + 12, c->addr, c->bits);
}

int
cidr_match_any(const struct cidr *c, size_t n, const struct sockaddr *sa)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (cidr_match(&c[i], sa))
			return 1;
	}
	return 0;
}
