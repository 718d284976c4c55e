/*
 * test_accesslog.c -- unit tests for the access log (worker/accesslog.c):
 * the exact text and JSON lines for IPv4, IPv6, Unix and unknown peers,
 * escaping of hostile names, cuts at every buffer length, and the
 * buffered writer: no write per line, flushed when nearly full, on
 * reopen and at stop, lines routed per listener.
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "worker/accesslog.h"

/* 2026-12-03T07:53:43.123Z */
#define T0	1796284423123ULL

static struct sockaddr_in	sin4;
static struct sockaddr_in6	sin6;

static struct alog_rec
rec4(void)
{
	struct alog_rec	r = { 0 };

	sin4.sin_family = AF_INET;
	sin4.sin_port = htons(54321);
	inet_pton(AF_INET, "192.0.2.7", &sin4.sin_addr);
	r.time_ms = T0;
	r.listener = "127.0.0.1:7007";
	r.service = "echo";
	r.peer = (struct sockaddr *)&sin4;
	r.peerlen = sizeof(sin4);
	r.slot = 1;
	r.duration_ms = 12;
	r.bytes_in = 5;
	r.bytes_out = 6;
	r.reason = "end";
	return r;
}

static char *
fmt(const struct alog_rec *r, int json)
{
	static char	buf[ALOG_LINE_MAX + 1];
	size_t		n;

	n = alog_format(buf, ALOG_LINE_MAX, r, json);
	assert_true(n > 0 && n <= ALOG_LINE_MAX);
	assert_int_equal(buf[n - 1], '\n');
	buf[n] = '\0';
	return buf;
}

static void
test_text_ipv4(void **state)
{
	struct alog_rec	r = rec4();

	assert_string_equal(fmt(&r, 0), "2026-12-03T07:53:43.123Z "
	    "listener=127.0.0.1:7007 service=echo client=192.0.2.7:54321 "
	    "slot=1 duration_ms=12 bytes_in=5 bytes_out=6 reason=end\n");
	r.time_ms = 0;
	r.reason = "address denied";
	r.bytes_in = 18446744073709551615ULL;
	assert_string_equal(fmt(&r, 0), "1970-01-01T00:00:00.000Z "
	    "listener=127.0.0.1:7007 service=echo client=192.0.2.7:54321 "
	    "slot=1 duration_ms=12 bytes_in=18446744073709551615 bytes_out=6 "
	    "reason=\"address denied\"\n");
	/* A leap day, and the end of a year. */
	r.time_ms = 951782400000ULL + 86399999;	/* 2000-02-29 23:59:59.999 */
	assert_memory_equal(fmt(&r, 0), "2000-02-29T23:59:59.999Z", 24);
	r.time_ms = 1798761599000ULL;		/* 2026-12-31 23:59:59 */
	assert_memory_equal(fmt(&r, 0), "2026-12-31T23:59:59.000Z", 24);
}

static void
test_json_ipv4(void **state)
{
	struct alog_rec	r = rec4();

	assert_string_equal(fmt(&r, 1), "{\"time\":\"2026-12-03T07:53:43.123Z\","
	    "\"listener\":\"127.0.0.1:7007\",\"service\":\"echo\","
	    "\"client\":\"192.0.2.7\",\"client_port\":54321,\"slot\":1,"
	    "\"duration_ms\":12,\"bytes_in\":5,\"bytes_out\":6,"
	    "\"reason\":\"end\"}\n");
}

static void
test_ipv6_unix_unknown(void **state)
{
	struct alog_rec		r = rec4();
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(7);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	r.peer = (struct sockaddr *)&sin6;
	r.peerlen = sizeof(sin6);
	assert_non_null(strstr(fmt(&r, 0), " client=[2001:db8::1]:7 slot="));
	assert_non_null(strstr(fmt(&r, 1),
	    "\"client\":\"2001:db8::1\",\"client_port\":7,"));

	/* An unnamed Unix peer (what accept() returns for most). */
	r.listener = "/run/x.sock";
	r.peer = (struct sockaddr *)&sun;
	r.peerlen = sizeof(sa_family_t);
	assert_non_null(strstr(fmt(&r, 0),
	    "listener=/run/x.sock service=echo client=unix slot="));
	assert_non_null(strstr(fmt(&r, 1),
	    "\"client\":\"unix\",\"client_port\":null,"));
	/* A named one, its path with a space. */
	strcpy(sun.sun_path, "/tmp/a b");
	r.peerlen = offsetof(struct sockaddr_un, sun_path) + 9;
	assert_non_null(strstr(fmt(&r, 0), " client=\"unix:/tmp/a b\" slot="));
	assert_non_null(strstr(fmt(&r, 1), "\"client\":\"unix:/tmp/a b\","));
	/* None at all, or too short to be one. */
	r.peer = NULL;
	assert_non_null(strstr(fmt(&r, 0), " client=- slot="));
	assert_non_null(strstr(fmt(&r, 1),
	    "\"client\":null,\"client_port\":null,"));
	r.peer = (struct sockaddr *)&sin4;
	r.peerlen = 4;
	assert_non_null(strstr(fmt(&r, 0), " client=- slot="));
	r.slot = -1;
	assert_non_null(strstr(fmt(&r, 0), " slot=- "));
}

static void
test_escaping(void **state)
{
	struct alog_rec	r = rec4();
	const char	*line;

	r.service = "a\"b\\c\nd\te\x01=\x7f";
	r.listener = "caf\xc3\xa9 \xff\xe0\x80\x80";	/* é, then junk */
	r.reason = "";
	assert_non_null(strstr(fmt(&r, 0), " listener=\"caf\xc3\xa9 \xff\xe0"
	    "\x80\x80\" service=\"a\\\"b\\\\c\\x0ad\\x09e\\x01=\\x7f\" "));
	assert_non_null(strstr(fmt(&r, 0), " reason=-\n"));
	assert_non_null(strstr(fmt(&r, 1), "\"listener\":\"caf\xc3\xa9 "
	    "\\ufffd\\ufffd\\ufffd\\ufffd\",\"service\":\"a\\\"b\\\\c\\nd\\te"
	    "\\u0001=\\u007f\","));
	assert_non_null(strstr(fmt(&r, 1), "\"reason\":\"\"}\n"));
	r.reason = NULL;
	assert_non_null(strstr(fmt(&r, 1), "\"reason\":null}\n"));
	/* 4-byte UTF-8 passes, a surrogate does not. */
	r.service = "\xf0\x9f\x98\x80\xed\xa0\x80";
	assert_non_null(strstr(fmt(&r, 1),
	    "\"service\":\"\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd\""));
	/* No way to end a line early or start a field. */
	r.service = "x\n2026 listener=evil";
	line = fmt(&r, 0);
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_non_null(strstr(line,
	    " service=\"x\\x0a2026 listener=evil\" "));
}

/* The longest names, every byte escaped, still fit; any shorter buffer
 * gets a cut line that ends in a newline and never overruns. */
static void
test_truncation(void **state)
{
	struct alog_rec	r = rec4();
	char		lname[128], sname[65], buf[ALOG_LINE_MAX + 16];
	size_t		full, len, n;
	int		json;

	memset(lname, 0x01, sizeof(lname) - 1);
	lname[sizeof(lname) - 1] = '\0';
	memset(sname, '"', sizeof(sname) - 1);
	sname[sizeof(sname) - 1] = '\0';
	r.listener = lname;
	r.service = sname;
	r.reason = "too many connections from this address";
	for (json = 0; json <= 1; json++) {
		full = alog_format(buf, ALOG_LINE_MAX, &r, json);
		assert_true(full < ALOG_LINE_MAX);
		assert_int_equal(buf[full - 1], '\n');
		assert_int_equal(alog_format(buf, 0, &r, json), 0);
		for (len = 1; len <= full + 2; len++) {
			memset(buf, 'Z', sizeof(buf));
			n = alog_format(buf, len, &r, json);
			assert_true(n >= 1 && n <= len);
			assert_int_equal(buf[n - 1], '\n');
			assert_int_equal(buf[len], 'Z');
			assert_null(memchr(buf, '\n', n - 1));
			if (len >= full)
				assert_int_equal(n, full);
		}
	}
}

/* ---- the writer ---- */

static char	dir[] = "/tmp/test_accesslog.XXXXXX";

static int
open_log(const char *name)
{
	char	path[128];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	return fd;
}

static size_t
count_lines(const char *name, const char *needle)
{
	char	path[128], line[4096];
	FILE	*f;
	size_t	n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (needle == NULL || strstr(line, needle) != NULL)
			n++;
	}
	fclose(f);
	return n;
}

static void
test_writer(void **state)
{
	struct event_base	*base = event_base_new();
	struct config		*cfg;
	struct alog_fd		 fds[3];
	struct accesslog	*al;
	struct alog_rec		 r = rec4();
	char			 err[CONFIG_ERRLEN], text[512], path[128];
	size_t			 i, n;

	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text),
	    "access_log = { file = \"%s/a.log\"; };\n"
	    "listeners = (\n"
	    "{ port = 1; service = \"echo\"; },\n"
	    "{ port = 2; service = \"echo\"; access_log = {\n"
	    "  file = \"%s/b.log\"; format = \"json\"; }; },\n"
	    "{ port = 3; service = \"echo\"; access_log = { file = \"off\"; }; },"
	    "\n{ port = 4; service = \"echo\";\n"
	    "  access_log = { file = \"%s/a.log\"; format = \"json\"; }; } );",
	    dir, dir, dir);
	cfg = config_parse(text, "t.conf", err, sizeof(err));
	assert_non_null(cfg);
	snprintf(path, sizeof(path), "%s/a.log", dir);
	fds[0] = (struct alog_fd){ alog_key(path), open_log("a.log") };
	snprintf(path, sizeof(path), "%s/b.log", dir);
	fds[1] = (struct alog_fd){ alog_key(path), open_log("b.log") };
	fds[2] = (struct alog_fd){ alog_key("/elsewhere"), open_log("c.log") };
	al = accesslog_new(base, cfg, 3, fds, 3);
	assert_non_null(al);
	/* Not ours: closed at start. */
	assert_int_equal(fcntl(fds[2].fd, F_GETFD), -1);

	for (i = 0; i < 100; i++) {
		accesslog_conn(al, &cfg->listeners[i % 4], &r);
	}
	/* Buffered: nothing written yet. */
	assert_int_equal(count_lines("a.log", NULL), 0);
	assert_int_equal(count_lines("b.log", NULL), 0);
	accesslog_flush(al);
	assert_int_equal(count_lines("a.log", " slot=3 "), 25);
	assert_int_equal(count_lines("a.log", "\"slot\":3,"), 25);
	assert_int_equal(count_lines("b.log", "{\"time\":\"20"), 25);
	/* An unknown listener pointer is ignored. */
	accesslog_conn(al, (const struct listen_conf *)&r, &r);

	/* Nearly full: written without waiting for the timer. */
	for (i = 0, n = 0; i < 2000; i++)
		accesslog_conn(al, &cfg->listeners[0], &r);
	n = count_lines("a.log", NULL);
	assert_true(n > 50 && n < 2050);

	/* Reopen: what was buffered goes to the old file, then the new. */
	snprintf(path, sizeof(path), "%s/a.log", dir);
	accesslog_conn(al, &cfg->listeners[0], &r);
	assert_int_equal(accesslog_reopen(al, alog_key(path), open_log("a2.log")),
	    0);
	assert_int_equal(count_lines("a.log", NULL), 2051);
	assert_int_equal(accesslog_reopen(al, alog_key("/not/ours"),
	    open_log("d.log")), 0);
	assert_int_equal(accesslog_reopen(al, alog_key(path), -1), EBADF);
	assert_int_equal(accesslog_reopen_error(al), EBADF);
	assert_int_equal(accesslog_reopen_error(al), 0);
	accesslog_conn(al, &cfg->listeners[0], &r);
	accesslog_conn(al, &cfg->listeners[3], &r);
	/* Free flushes. */
	accesslog_free(al);
	assert_int_equal(count_lines("a2.log", NULL), 2);
	/* None at all: every call is a no-op. */
	accesslog_conn(NULL, &cfg->listeners[0], &r);
	accesslog_flush(NULL);
	assert_int_equal(accesslog_reopen(NULL, 1, open_log("e.log")), 0);
	assert_int_equal(accesslog_reopen_error(NULL), 0);
	accesslog_free(NULL);
	config_free(cfg);
	event_base_free(base);
	snprintf(text, sizeof(text), "rm -rf %s", dir);
	assert_int_equal(system(text), 0);
}

/* No access log anywhere: no file, no timer, every call a no-op. */
static void
test_writer_off(void **state)
{
	struct event_base	*base = event_base_new();
	struct config		*cfg;
	struct alog_rec		 r = rec4();
	struct accesslog	*al;
	char			 err[CONFIG_ERRLEN];

	cfg = config_parse("listeners = ( { port = 1; service = \"e\"; } );",
	    "t.conf", err, sizeof(err));
	assert_non_null(cfg);
	al = accesslog_new(base, cfg, 0, NULL, 0);
	assert_non_null(al);
	accesslog_conn(al, &cfg->listeners[0], &r);
	accesslog_flush(al);
	accesslog_free(al);
	config_free(cfg);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_ipv4),
		cmocka_unit_test(test_json_ipv4),
		cmocka_unit_test(test_ipv6_unix_unknown),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
