/*
 * haproxy.h -- a private HAProxy for integration tests (tests/haproxy.c):
 * start it on a generated configuration, wait for its servers' state,
 * stop it.  Every wait is bounded.
 */
#ifndef PF_TEST_HAPROXY_H
#define PF_TEST_HAPROXY_H

#include <stddef.h>
#include <sys/types.h>

struct hap {
	pid_t		pid;
	char		dir[64];
	char		cfg[128];
	char		sock[128];
	char		log[128];
};

/* Find haproxy ($PATH, then /usr/sbin and /usr/local/sbin); 0 or -1. */
int	hap_find(void);
/* Write the printf-style configuration to a new private directory and
 * run haproxy -db on it, output to h->log (h->sock is for the config's
 * "stats socket"); 0 once the stats socket is there, or -1. */
int	hap_start(struct hap *h, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* TERM (KILL after a bound), and remove its directory. */
void	hap_stop(struct hap *h);
/* One command on the stats socket; the whole answer in out. */
int	hap_cmd(struct hap *h, const char *cmd, char *out, size_t max);
/* Server srv of backend be from "show stat": status ("UP", "DOWN",
 * "UP 1/2"...) and stot, its sessions since HAProxy started. */
int	hap_server(struct hap *h, const char *be, const char *srv,
	    char *status, size_t len, long *stot);
/* stot of be/srv, or -1. */
long	hap_stot(struct hap *h, const char *be, const char *srv);
/* Wait until done(arg), looking every 20 ms; 0 or -1 at the deadline. */
int	hap_wait(int (*done)(void *), void *arg, int timeout_ms);
/* Wait until be/srv has exactly that status; 0 or -1. */
int	hap_wait_server(struct hap *h, const char *be, const char *srv,
	    const char *status, int timeout_ms);

#endif
