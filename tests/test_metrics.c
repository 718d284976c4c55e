/*
 * test_metrics.c -- integration test of the stats listener's counters
 * across a worker's death and reloads, against the real binary: every
 * *_total series only grows, none disappears, a killed worker's counts
 * stay in its slot, a draining worker's last counts are not lost, and
 * the reload and respawn counters go up by what happened.  The output
 * passes "promtool check metrics" when promtool is installed.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

#define PROMTOOL	"/usr/bin/promtool"
#define MAX_SAMPLES	256

struct scrape {
	int	n;
	struct {
		char	key[192];	/* name{labels} */
		double	v;
	}	s[MAX_SAMPLES];
};

static struct daemon	d;
static char		sock[192];
static int		pe, ps;

/* GET /metrics; the body, malloc'd. */
static char *
fetch(void)
{
	const char	*req = "GET /metrics HTTP/1.0\r\n\r\n";
	char		*buf, *body;
	size_t		 got = 0, cap = 1 << 17;
	ssize_t		 n;
	int		 fd;

	buf = malloc(cap);
	assert_non_null(buf);
	fd = h_connect("127.0.0.1", ps, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, req, strlen(req), H_TIMEOUT_MS), 0);
	while (got < cap - 1 &&
	    poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, H_TIMEOUT_MS) == 1 &&
	    (n = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	assert_int_equal(strncmp(buf, "HTTP/1.0 200 OK\r\n", 17), 0);
	assert_non_null(body = strstr(buf, "\r\n\r\n"));
	body = strdup(body + 4);
	assert_non_null(body);
	free(buf);
	return body;
}

/* promtool's lint, when it is installed. */
static void
promtool_check(const char *body)
{
	char	path[256], cmd[1024];
	int	st;

	if (access(PROMTOOL, X_OK) == -1)
		return;
	snprintf(path, sizeof(path), "%s/metrics.txt", d.dir);
	assert_int_equal(h_write_file(path, body), 0);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics <%s >%s.out 2>&1",
	    path, path);
	st = system(cmd);
	if (st != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s.out >&2", path);
		(void)system(cmd);
	}
	assert_int_equal(st, 0);
}

/* Scrape, check the format, and parse every sample. */
static void
scrape(struct scrape *sc)
{
	char	*body = fetch(), *line, *sp, *save = NULL;

	promtool_check(body);
	sc->n = 0;
	for (line = strtok_r(body, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (*line == '#')
			continue;
		assert_non_null(sp = strrchr(line, ' '));
		assert_true(sp - line < (long)sizeof(sc->s[0].key));
		assert_true(sc->n < MAX_SAMPLES);
		memcpy(sc->s[sc->n].key, line, sp - line);
		sc->s[sc->n].key[sp - line] = '\0';
		sc->s[sc->n].v = strtod(sp + 1, NULL);
		sc->n++;
	}
	free(body);
}

static double	val(const struct scrape *, const char *);

/* The stats service answers from a round at most heartbeat_interval old:
 * scrape until key has reached want (bounded); the caller then asserts
 * exact values. */
static void
scrape_until(struct scrape *sc, const char *key, double want)
{
	long	deadline = h_now_ms() + H_TIMEOUT_MS;

	for (;;) {
		scrape(sc);
		if (val(sc, key) >= want || h_now_ms() >= deadline)
			return;
		poll(NULL, 0, 50);
	}
}

/* A sample's value; -1 if absent. */
static double
val(const struct scrape *sc, const char *key)
{
	int	i;

	for (i = 0; i < sc->n; i++) {
		if (strcmp(sc->s[i].key, key) == 0)
			return sc->s[i].v;
	}
	return -1;
}

/* Every *_total series of a is in b, and not lower; no pid label on one. */
static void
monotonic(const struct scrape *a, const struct scrape *b)
{
	const char	*name;
	double		 v;
	int		 i;
	size_t		 len;

	for (i = 0; i < b->n; i++) {
		name = b->s[i].key;
		len = strcspn(name, "{");
		if (len > 6 && strncmp(name + len - 6, "_total", 6) == 0)
			assert_null(strstr(name, "pid="));
	}
	for (i = 0; i < a->n; i++) {
		name = a->s[i].key;
		len = strcspn(name, "{");
		if (len < 6 || strncmp(name + len - 6, "_total", 6) != 0)
			continue;
		v = val(b, name);
		if (v < a->s[i].v)
			print_error("%s went from %.0f to %.0f\n", name,
			    a->s[i].v, v);
		assert_true(v >= a->s[i].v);
	}
}

static long long
slot_pid(int slot)
{
	char		*json = NULL, key[32];
	long long	 pid;

	assert_int_equal(h_ctl(sock, &json, "status", "--json", (char *)NULL),
	    0);
	snprintf(key, sizeof(key), "{\"slot\":%d,", slot);
	pid = h_json_num(json, key, "pid");
	free(json);
	return pid;
}

/* Wait until slot has a ready worker other than old. */
static void
wait_replaced(int slot, long long old)
{
	long	 deadline = h_now_ms() + H_TIMEOUT_MS;
	char	*json, key[32], *p;
	int	 ok;

	snprintf(key, sizeof(key), "{\"slot\":%d,", slot);
	for (;;) {
		json = NULL;
		assert_int_equal(h_ctl(sock, &json, "status", "--json",
		    (char *)NULL), 0);
		p = strstr(json, key);
		ok = p != NULL && h_json_num(json, key, "pid") > 0 &&
		    h_json_num(json, key, "pid") != old &&
		    strncmp(strstr(p, "\"state\":"), "\"state\":\"ready\"",
		    15) == 0;
		free(json);
		if (ok)
			return;
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
}

static void
write_conf(int workers, int broken)
{
	char	conf[1024];

	snprintf(conf, sizeof(conf),
	    "workers = %d;\n"
	    "heartbeat_interval = 0.2;\n"
	    "worker_timeout = 5;\n"
	    "shutdown_timeout = 10;\n"
	    "admin_socket = \"%s\";\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"stats\"; }%s);\n",
	    workers, sock, pe, ps, broken ? " oops" : "");
	assert_int_equal(h_write_file(d.conf, conf), 0);
}

static void
echo_n(int n, const char *msg)
{
	int	i;

	for (i = 0; i < n; i++)
		assert_int_equal(h_echo_once("127.0.0.1", pe, msg), 0);
}

static void
test_counters_survive(void **state)
{
	static struct scrape	 m0, m1, m2, m3, m4;
	char			 big[1000], back[1000];
	long long		 old;
	int			 held;

	(void)state;
	pe = h_free_port(4);
	ps = h_free_port(4);
	assert_int_equal(h_daemon_init(&d, NULL), 0);
	snprintf(sock, sizeof(sock), "%s/admin.sock", d.dir);
	write_conf(2, 0);
	assert_int_equal(h_daemon_start(&d, 2, "127.0.0.1", ps), 0);

	scrape(&m0);
	assert_true(val(&m0, "preforkd_respawns_total") == 0);
	assert_true(val(&m0, "preforkd_reloads_total") == 0);
	assert_true(val(&m0, "preforkd_reload_failures_total") == 0);
	assert_true(val(&m0, "preforkd_worker_connections_total{slot=\"0\"}")
	    >= 0);
	assert_true(val(&m0, "preforkd_worker_connections_total{slot=\"1\"}")
	    >= 0);

	/* Traffic: the totals count it exactly. */
	echo_n(20, "0123456789");
	scrape_until(&m1, "preforkd_connections_total",
	    val(&m0, "preforkd_connections_total") + 20);
	monotonic(&m0, &m1);
	assert_true(val(&m1, "preforkd_connections_total") ==
	    val(&m0, "preforkd_connections_total") + 20);
	assert_true(val(&m1, "preforkd_received_bytes_total") ==
	    val(&m0, "preforkd_received_bytes_total") + 200);

	/* kill -9 a worker: its counts stay in slot 0, one respawn. */
	old = slot_pid(0);
	assert_true(old > 0);
	assert_int_equal(kill((pid_t)old, SIGKILL), 0);
	wait_replaced(0, old);
	scrape_until(&m2, "preforkd_respawns_total",
	    val(&m1, "preforkd_respawns_total") + 1);
	monotonic(&m1, &m2);
	assert_true(val(&m2, "preforkd_respawns_total") ==
	    val(&m1, "preforkd_respawns_total") + 1);
	assert_true(val(&m2, "preforkd_connections_total") ==
	    val(&m1, "preforkd_connections_total"));
	assert_true(val(&m2, "preforkd_worker_connections_total{slot=\"0\"}")
	    == val(&m1, "preforkd_worker_connections_total{slot=\"0\"}"));

	/*
	 * Reload with a client held open: the old worker serving it drains,
	 * serves 1000 more bytes, and exits.  Those bytes reach the totals
	 * only through its last report: they must be there.
	 */
	held = h_connect("127.0.0.1", pe, H_TIMEOUT_MS);
	assert_true(held >= 0);
	assert_int_equal(h_echo_check(held, "x", 1, H_TIMEOUT_MS), 0);
	echo_n(10, "abcdefghij");
	assert_int_equal(h_ctl(sock, NULL, "reload", (char *)NULL), 0);
	memset(big, 'z', sizeof(big));
	assert_int_equal(h_send_all(held, big, sizeof(big), H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(held, back, sizeof(back),
	    H_TIMEOUT_MS), 0);
	close(held);
	assert_int_equal(h_wait_children(d.pid, 2, H_TIMEOUT_MS), 0);
	scrape_until(&m3, "preforkd_received_bytes_total",
	    val(&m2, "preforkd_received_bytes_total") + 100 + 1 + 1000);
	monotonic(&m2, &m3);
	assert_true(val(&m3, "preforkd_reloads_total") ==
	    val(&m2, "preforkd_reloads_total") + 1);
	assert_true(val(&m3, "preforkd_reload_failures_total") ==
	    val(&m2, "preforkd_reload_failures_total"));
	assert_true(val(&m3, "preforkd_respawns_total") ==
	    val(&m2, "preforkd_respawns_total"));
	assert_true(val(&m3, "preforkd_connections_total") ==
	    val(&m2, "preforkd_connections_total") + 11);
	assert_true(val(&m3, "preforkd_received_bytes_total") ==
	    val(&m2, "preforkd_received_bytes_total") + 100 + 1 + 1000);
	assert_true(val(&m3, "preforkd_sent_bytes_total") ==
	    val(&m2, "preforkd_sent_bytes_total") + 100 + 1 + 1000);
	assert_true(val(&m3, "preforkd_generation") == 2);

	/* A failed reload counts as one; a smaller generation keeps the
	 * series of the slot it no longer has. */
	write_conf(1, 1);
	assert_int_equal(h_ctl(sock, NULL, "reload", (char *)NULL), 1);
	write_conf(1, 0);
	assert_int_equal(h_ctl(sock, NULL, "reload", (char *)NULL), 0);
	assert_int_equal(h_wait_children(d.pid, 1, H_TIMEOUT_MS), 0);
	echo_n(5, "12345");
	scrape_until(&m4, "preforkd_connections_total",
	    val(&m3, "preforkd_connections_total") + 5);
	monotonic(&m3, &m4);
	assert_true(val(&m4, "preforkd_reload_failures_total") ==
	    val(&m3, "preforkd_reload_failures_total") + 1);
	assert_true(val(&m4, "preforkd_reloads_total") ==
	    val(&m3, "preforkd_reloads_total") + 1);
	assert_true(val(&m4, "preforkd_connections_total") ==
	    val(&m3, "preforkd_connections_total") + 5);
	assert_true(val(&m4, "preforkd_workers") == 1);
	assert_true(val(&m4, "preforkd_respawns_total") ==
	    val(&m3, "preforkd_respawns_total"));
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* status --json: the old fields as they were, since_start beside them. */
static void
test_json_since_start(void **state)
{
	char		*json = NULL;
	long long	 old;

	(void)state;
	pe = h_free_port(4);
	ps = h_free_port(4);
	assert_int_equal(h_daemon_init(&d, NULL), 0);
	snprintf(sock, sizeof(sock), "%s/admin.sock", d.dir);
	write_conf(2, 0);
	assert_int_equal(h_daemon_start(&d, 2, "127.0.0.1", ps), 0);
	echo_n(7, "hello");
	old = slot_pid(1);
	assert_true(old > 0);
	assert_int_equal(h_ctl(sock, &json, "status", "--json", (char *)NULL),
	    0);
	assert_int_equal(h_json_num(json, "\"since_start\"",
	    "connections_total"), 7);
	free(json);
	assert_int_equal(kill((pid_t)old, SIGKILL), 0);
	wait_replaced(1, old);
	json = NULL;
	assert_int_equal(h_ctl(sock, &json, "status", "--json", (char *)NULL),
	    0);
	/* "totals" sums the live workers, as documented; since_start keeps
	 * what the dead one counted. */
	assert_true(h_json_num(json, "\"totals\"", "connections_total") >= 0);
	assert_non_null(strstr(json, "\"totals\":{\"connections_active\":"));
	assert_int_equal(h_json_num(json, "\"since_start\"",
	    "connections_total"), 7);
	assert_int_equal(h_json_num(json, "\"since_start\"", "respawns"), 1);
	assert_int_equal(h_json_num(json, "\"since_start\"", "reloads"), 0);
	assert_int_equal(h_json_num(json, "\"since_start\"",
	    "reload_failures"), 0);
	assert_non_null(strstr(json, "\"slots\":[{\"slot\":0,"));
	free(json);
	json = NULL;
	assert_int_equal(h_ctl(sock, &json, "stats", (char *)NULL), 0);
	assert_non_null(strstr(json, "since start: 7 connections"));
	assert_non_null(strstr(json, "1 respawns"));
	free(json);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_survive),
		cmocka_unit_test(test_json_since_start),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
