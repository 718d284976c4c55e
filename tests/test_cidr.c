/*
 * test_cidr.c -- unit tests for common/cidr.c: parsing blocks, host bits
 * cleared, matching IPv4, IPv6 and IPv4-mapped addresses, bad input.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cidr.h"

static int
match(const char *block, const char *addr)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	struct cidr		c;

	assert_int_equal(cidr_parse(block, &c), 0);
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return cidr_match(&c, (struct sockaddr *)&sin);
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	sin6.sin6_family = AF_INET6;
	return cidr_match(&c, (struct sockaddr *)&sin6);
}

static void
test_ipv4(void **state)
{
	assert_true(match("10.0.0.0/8", "10.200.3.4"));
	assert_false(match("10.0.0.0/8", "11.0.0.1"));
	assert_true(match("127.0.0.1", "127.0.0.1"));
	assert_false(match("127.0.0.1", "127.0.0.2"));
	assert_true(match("192.168.1.0/25", "192.168.1.127"));
	assert_false(match("192.168.1.0/25", "192.168.1.128"));
	assert_true(match("0.0.0.0/0", "8.8.8.8"));
	/* Host bits are cleared: 10.1.2.3/8 is 10.0.0.0/8. */
	assert_true(match("10.1.2.3/8", "10.9.9.9"));
}

static void
test_ipv6(void **state)
{
	assert_true(match("::1", "::1"));
	assert_false(match("::1", "::2"));
	assert_true(match("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(match("2001:db8::/32", "2001:db9::1"));
	assert_true(match("fe80::/10", "febf::1"));
	assert_false(match("fe80::/10", "fec0::1"));
	/* Families do not mix, except IPv4-mapped IPv6 for IPv4 blocks. */
	assert_false(match("::1", "127.0.0.1"));
	assert_false(match("127.0.0.0/8", "::1"));
	assert_true(match("127.0.0.0/8", "::ffff:127.0.0.9"));
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1",
		"10.0.0/8", "localhost", "10.0.0.0/8x", "1.2.3.4/8/8",
		"::1::2", "0123456789012345678901234567890123456789012345678",
	};
	struct cidr	c;
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
}

static void
test_any(void **state)
{
	struct sockaddr_in	sin;
	struct cidr		c[2];

	assert_int_equal(cidr_parse("10.0.0.0/8", &c[0]), 0);
	assert_int_equal(cidr_parse("192.168.0.0/16", &c[1]), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.168.5.5", &sin.sin_addr);
	assert_true(cidr_match_any(c, 2, (struct sockaddr *)&sin));
	assert_false(cidr_match_any(c, 1, (struct sockaddr *)&sin));
	assert_false(cidr_match_any(c, 0, (struct sockaddr *)&sin));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_any),
	};

	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
