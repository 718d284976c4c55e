/*
 * proxyconf.c -- the settings of a proxy listener: defaults, values of the
 * enumerated keys, and the checks on each backend.  No libconfig here:
 * config.c parses, this judges what it parsed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/proxyconf.h"

const char *const proxyconf_keys[] = {
	"backends", "balance", "connect_timeout", "retries",
	"backend_fail_max", "backend_down_time", "send_proxy",
	"check_interval", "check_timeout", "check_rise", "check_fall", NULL
};

static const char *const balance_names[] = {
	[BALANCE_ROUNDROBIN] = "roundrobin",
	[BALANCE_LEASTCONN] = "leastconn",
	[BALANCE_SOURCE] = "source",
};

void
proxyconf_defaults(struct proxy_conf *p)
{
	p->balance = BALANCE_ROUNDROBIN;
	p->connect_timeout_ms = 5000;
	p->retries = 2;
	p->fail_max = 3;
	p->down_ms = 10000;
	p->send_proxy = 0;
	p->check_interval_ms = 0;
	p->check_timeout_ms = 1000;
	p->check_rise = 2;
	p->check_fall = 1;
}

void
proxyconf_free(struct proxy_conf *p)
{
	size_t	i;

	for (i = 0; i < p->nbackends; i++) {
		free(p->backends[i].address);
		free(p->backends[i].path);
	}
	free(p->backends);
	p->backends = NULL;
	p->nbackends = 0;
}

int
proxyconf_balance(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(balance_names) / sizeof(balance_names[0]); i++) {
		if (strcmp(s, balance_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

int
proxyconf_send_proxy(const char *s)
{
	if (strcmp(s, "v1") == 0)
		return 1;
	if (strcmp(s, "v2") == 0)
		return 2;
	return -1;
}

/* A DNS name as RFC 1123 allows it: labels of letters, digits and
 * hyphens, 1 to 63 bytes, not starting or ending with a hyphen. */
static int
host_name_ok(const char *s)
{
	size_t	label = 0;
	char	prev = '.';

	if (strlen(s) > 253)
		return 0;
	for (; *s != '\0'; prev = *s++) {
		if (*s == '.') {
			if (label == 0 || prev == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-') ||
		    (*s == '-' && label == 0) || ++label > 63)
			return 0;
	}
	return prev != '-';
}

int
proxyconf_backend(struct backend_conf *b, char *msg, size_t len)
{
	struct in6_addr	a6;
	struct in_addr	a4;
	char		host[INET6_ADDRSTRLEN];

	b->hslot = -1;
	if (b->weight == 0)
		b->weight = 1;
	if (b->path != NULL) {
		if (b->address != NULL || b->port != 0) {
			snprintf(msg, len, "backend has both 'path' and "
			    "'address'/'port'");
			return -1;
		}
		snprintf(b->name, sizeof(b->name), "%s", b->path);
		return 0;
	}
	if (b->address == NULL || b->port == 0) {
		snprintf(msg, len, "backend needs 'address' and 'port' (or "
		    "'path')");
		return -1;
	}
	/* Canonical, so a backend hashes the same however it is written. */
	if (inet_pton(AF_INET, b->address, &a4) == 1) {
		inet_ntop(AF_INET, &a4, host, sizeof(host));
		snprintf(b->name, sizeof(b->name), "%s:%d", host, b->port);
	} else if (inet_pton(AF_INET6, b->address, &a6) == 1) {
		inet_ntop(AF_INET6, &a6, host, sizeof(host));
		snprintf(b->name, sizeof(b->name), "[%s]:%d", host, b->port);
	} else if (host_name_ok(b->address))
		snprintf(b->name, sizeof(b->name), "%s:%d", b->address,
		    b->port);
	else {
		snprintf(msg, len, "backend 'address' \"%s\" is neither an IP "
		    "address nor a host name", b->address);
		return -1;
	}
	return 0;
}
