/*
 * test_accesslog_daemon.c -- the access log against the real binary:
 * one line per connection with the right client, listener, byte counts
 * and reason, in text and in JSON (each line checked to be one flat JSON
 * object); a refused client's line with the refusal's reason; SIGUSR1
 * after a rename sends new lines to the new file; a reload to another
 * file; and a graceful stop loses no buffered line.  Waits follow the files (inotify), bounded.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
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

#define NCONN	20

/* Lines of path containing needle (NULL: all). */
static int
lines(const char *path, const char *needle)
{
	char	*text = h_read_file(path), *p, *nl;
	int	 n = 0;

	if (text == NULL)
		return 0;
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		if (needle == NULL || strstr(p, needle) != NULL)
			n++;
	}
	free(text);
	return n;
}

struct want {
	const char	*path;
	int		 n;
};

static int
has_lines(void *arg)
{
	const struct want	*w = arg;

	return lines(w->path, NULL) >= w->n;
}

/* Wait until path has n lines (it may not exist yet); then exactly n. */
static void
wait_lines(const char *dir, const char *path, int n)
{
	struct want	w = { path, n };

	assert_int_equal(h_wait_dir(dir, has_lines, &w, H_TIMEOUT_MS), 0);
	assert_int_equal(lines(path, NULL), n);
}

/* An echo round trip of len bytes on a fresh connection, closed by us
 * after the echo: the client's port. */
static int
echo_conn(int port, size_t len)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	char			buf[64], back[64];
	int			fd;

	assert_true(len <= sizeof(buf));
	memset(buf, 'a' + (int)(len % 26), len);
	fd = h_connect("127.0.0.1", port, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	assert_int_equal(h_send_all(fd, buf, len, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, back, len, H_TIMEOUT_MS), 0);
	assert_memory_equal(buf, back, len);
	/* Our FIN, then the server's: its side is closed when we see it. */
	shutdown(fd, SHUT_WR);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* A client refused: the port it came from. */
static int
refused_conn(int port)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			fd;

	fd = h_connect("127.0.0.1", port, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* The one line of path containing needle, or fail. */
static char *
line_with(const char *path, const char *needle)
{
	static char	 line[4096];
	char		*text = h_read_file(path), *p, *nl;
	int		 found = 0;

	assert_non_null(text);
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		if (strstr(p, needle) != NULL) {
			found++;
			snprintf(line, sizeof(line), "%s", p);
		}
	}
	free(text);
	if (found != 1) {
		print_error("%d lines of %s with \"%s\"\n", found, path,
		    needle);
		fail();
	}
	return line;
}

/* A JSON string at *p (escapes allowed, no raw control bytes). */
static int
json_string(const char **p)
{
	const char	*s = *p;

	if (*s++ != '"')
		return -1;
	while (*s != '"') {
		if ((unsigned char)*s < 0x20)
			return -1;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				if (!isxdigit((unsigned char)s[1]) ||
				    !isxdigit((unsigned char)s[2]) ||
				    !isxdigit((unsigned char)s[3]) ||
				    !isxdigit((unsigned char)s[4]))
					return -1;
				s += 4;
			} else if (strchr("\"\\/bfnrt", *s) == NULL || *s == '\0')
				return -1;
		}
		s++;
	}
	*p = s + 1;
	return 0;
}

/* line is one flat JSON object: strings, non-negative integers, null. */
static int
json_flat(const char *s)
{
	if (*s++ != '{')
		return -1;
	for (;;) {
		if (json_string(&s) == -1 || *s++ != ':')
			return -1;
		if (*s == '"') {
			if (json_string(&s) == -1)
				return -1;
		} else if (strncmp(s, "null", 4) == 0)
			s += 4;
		else if (isdigit((unsigned char)*s)) {
			while (isdigit((unsigned char)*s))
				s++;
		} else
			return -1;
		if (*s == '}')
			return s[1] == '\0' ? 0 : -1;
		if (*s++ != ',')
			return -1;
	}
}

static void
test_text(void **state)
{
	struct daemon	 d = { 0 };
	char		 path[192], needle[128], *l;
	int		 pa = h_free_port(4), pb = h_free_port(4);
	int		 ports[NCONN], i, dport;

	assert_int_equal(h_daemon_init(&d, ""), 0);
	snprintf(path, sizeof(path), "%s/access.log", d.dir);
	assert_int_equal(h_daemon_startf(&d,
	    "workers = 2;\n"
	    "access_log = { file = \"%s\"; flush = 0.05; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "    deny = [ \"127.0.0.1\" ]; }\n"
	    ");\n", path, pa, pb), 0);
	for (i = 0; i < NCONN; i++)
		ports[i] = echo_conn(pa, (size_t)i + 1);
	dport = refused_conn(pb);
	wait_lines(d.dir, path, NCONN + 1);

	for (i = 0; i < NCONN; i++) {
		/* The listener too: a client port may come again towards
		 * the other listener. */
		snprintf(needle, sizeof(needle), " listener=127.0.0.1:%d "
		    "service=echo client=127.0.0.1:%d ", pa, ports[i]);
		l = line_with(path, needle);
		snprintf(needle, sizeof(needle), " listener=127.0.0.1:%d "
		    "service=echo client=127.0.0.1:%d slot=", pa, ports[i]);
		assert_non_null(strstr(l, needle));
		snprintf(needle, sizeof(needle), " bytes_in=%d bytes_out=%d "
		    "reason=end", i + 1, i + 1);
		if (strstr(l, needle) == NULL) {
			print_error("want \"%s\" in \"%s\"\n", needle, l);
			fail();
		}
		assert_true(strstr(l, " slot=0 ") || strstr(l, " slot=1 "));
		assert_true(strncmp(l, "20", 2) == 0 && l[10] == 'T' &&
		    l[23] == 'Z');
	}
	snprintf(needle, sizeof(needle), " listener=127.0.0.1:%d "
	    "service=echo client=127.0.0.1:%d ", pb, dport);
	l = line_with(path, needle);
	snprintf(needle, sizeof(needle), " listener=127.0.0.1:%d ", pb);
	assert_non_null(strstr(l, needle));
	assert_non_null(strstr(l, " bytes_in=0 bytes_out=0 "
	    "reason=\"address denied\""));
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* JSON lines; then a rename and SIGUSR1: the next lines go to the new
 * file, none to the old. */
static void
test_json_reopen(void **state)
{
	struct daemon	 d = { 0 };
	char		 path[192], old[200], needle[128], *l, *text, *p, *nl;
	int		 port = h_free_port(4), i, cport;

	assert_int_equal(h_daemon_init(&d, ""), 0);
	snprintf(path, sizeof(path), "%s/access.json", d.dir);
	snprintf(old, sizeof(old), "%s.1", path);
	assert_int_equal(h_daemon_startf(&d,
	    "workers = 2;\n"
	    "access_log = { file = \"off\"; flush = 0.05; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "    access_log = { file = \"%s\"; format = \"json\"; }; }\n"
	    ");\n", port, path), 0);
	for (i = 0; i < NCONN; i++)
		cport = echo_conn(port, 10);
	wait_lines(d.dir, path, NCONN);
	text = h_read_file(path);
	assert_non_null(text);
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		if (json_flat(p) == -1) {
			print_error("not one JSON object: %s\n", p);
			fail();
		}
	}
	free(text);
	snprintf(needle, sizeof(needle), "\"client\":\"127.0.0.1\","
	    "\"client_port\":%d,", cport);
	l = line_with(path, needle);
	snprintf(needle, sizeof(needle), "\"listener\":\"127.0.0.1:%d\","
	    "\"service\":\"echo\",", port);
	assert_non_null(strstr(l, needle));
	assert_non_null(strstr(l, ",\"bytes_in\":10,\"bytes_out\":10,"
	    "\"reason\":\"end\"}"));

	/* logrotate's way: rename, then USR1; the master and both workers
	 * say the log was reopened once they write to the new files. */
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(kill(d.pid, SIGUSR1), 0);
	assert_int_equal(h_wait_log_count(&d, "log reopened", 3,
	    H_TIMEOUT_MS), 0);
	for (i = 0; i < NCONN; i++)
		echo_conn(port, 3);
	wait_lines(d.dir, path, NCONN);
	assert_int_equal(lines(path, "\"bytes_in\":3,"), NCONN);
	assert_int_equal(lines(old, NULL), NCONN);
	assert_int_equal(lines(old, "\"bytes_in\":3,"), 0);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* Behind a balancer: the client is the one the PROXY header names; a
 * malformed header is refused with the parser's reason, and the line of
 * a sender not trusted names the sender. */
static void
test_proxy(void **state)
{
	struct daemon	 d = { 0 };
	char		 path[192], hdr[128], back[8], needle[160], *l;
	int		 pp = h_free_port(4), pu = h_free_port(4), fd, n;

	assert_int_equal(h_daemon_init(&d, ""), 0);
	snprintf(path, sizeof(path), "%s/access.log", d.dir);
	assert_int_equal(h_daemon_startf(&d,
	    "workers = 1;\n"
	    "access_log = { file = \"%s\"; flush = 0.05; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "    proxy_protocol = true; },\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "    proxy_protocol = true; proxy_trusted = [ \"10.0.0.0/8\" ]; }\n"
	    ");\n", path, pp, pu), 0);
	fd = h_connect("127.0.0.1", pp, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	n = snprintf(hdr, sizeof(hdr), "PROXY TCP6 2001:db8::7 ::1 40001 %d"
	    "\r\nhello", pp);
	assert_int_equal(h_send_all(fd, hdr, (size_t)n, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, back, 5, H_TIMEOUT_MS), 0);
	assert_memory_equal(back, "hello", 5);
	shutdown(fd, SHUT_WR);
	assert_int_equal(h_recv_eof(fd, H_TIMEOUT_MS), 0);
	close(fd);
	fd = h_connect("127.0.0.1", pp, H_TIMEOUT_MS);
	assert_true(fd >= 0);
	assert_int_equal(h_send_all(fd, "PROXY TCP4 1.2.3\r\n", 18,
	    H_TIMEOUT_MS), 0);
	/* Closed (reset: the header was only peeked at), unserved. */
	assert_int_equal(h_recv_exact(fd, back, 1, H_TIMEOUT_MS), -1);
	close(fd);
	refused_conn(pu);
	wait_lines(d.dir, path, 3);

	l = line_with(path, " client=[2001:db8::7]:40001 ");
	assert_non_null(strstr(l, " bytes_in=5 bytes_out=5 reason=end"));
	snprintf(needle, sizeof(needle), " listener=127.0.0.1:%d ", pu);
	l = line_with(path, needle);
	assert_non_null(strstr(l, " client=127.0.0.1:"));
	assert_non_null(strstr(l, " reason=\"not a trusted PROXY sender\""));
	assert_int_equal(lines(path, " bytes_in=0 bytes_out=0 "), 2);
	l = line_with(path, " reason=\"v1: ");
	assert_non_null(strstr(l, " client=127.0.0.1:"));
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* A reload naming another file: the new generation writes there, the
 * old one flushed what it had to the old file; the next reopen lets the
 * master close the file nobody uses any more. */
static void
test_reload_new_file(void **state)
{
	struct daemon	 d = { 0 };
	char		 a[192], b[192], conf[1024];
	int		 port = h_free_port(4), i;

	assert_int_equal(h_daemon_init(&d, ""), 0);
	snprintf(a, sizeof(a), "%s/a.log", d.dir);
	snprintf(b, sizeof(b), "%s/b.log", d.dir);
	assert_int_equal(h_daemon_startf(&d,
	    "workers = 2;\n"
	    "access_log = { file = \"%s\"; flush = 0.05; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; }\n"
	    ");\n", a, port), 0);
	for (i = 0; i < 5; i++)
		echo_conn(port, 4);
	wait_lines(d.dir, a, 5);
	assert_int_equal(h_fd_count(d.pid, a), 1);

	snprintf(conf, sizeof(conf), "workers = 2;\n"
	    "access_log = { file = \"%s\"; format = \"json\"; flush = 0.05; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; }\n"
	    ");\n", b, port);
	assert_int_equal(h_write_file(d.conf, conf), 0);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_int_equal(h_wait_log(&d, "done, generation 2", H_TIMEOUT_MS),
	    0);
	/* Once the old workers are gone, nobody else accepts. */
	assert_int_equal(h_wait_log_count(&d, ") exited", 2, H_TIMEOUT_MS),
	    0);
	for (i = 0; i < 5; i++)
		echo_conn(port, 7);
	wait_lines(d.dir, b, 5);
	assert_int_equal(lines(b, "\"bytes_in\":7,"), 5);
	assert_int_equal(lines(a, NULL), 5);

	assert_int_equal(kill(d.pid, SIGUSR1), 0);
	assert_int_equal(h_wait_log_count(&d, "log reopened", 3,
	    H_TIMEOUT_MS), 0);
	assert_int_equal(h_fd_count(d.pid, a), 0);
	assert_int_equal(h_fd_count(d.pid, b), 1);
	assert_int_equal(h_daemon_stop(&d), 0);
}

/* A graceful stop right after a burst: every line is in the file when
 * the master has exited, though the flush timer never ran. */
static void
test_flush_at_stop(void **state)
{
	struct daemon	 d = { 0 };
	char		 path[192];
	int		 port = h_free_port(4), i, st, n = 200;

	assert_int_equal(h_daemon_init(&d, ""), 0);
	snprintf(path, sizeof(path), "%s/access.log", d.dir);
	assert_int_equal(h_daemon_startf(&d,
	    "workers = 2;\n"
	    "access_log = { file = \"%s\"; flush = 0.05; };\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; service = \"echo\"; }\n"
	    ");\n", path, port), 0);
	for (i = 0; i < n; i++)
		echo_conn(port, 1);
	assert_int_equal(kill(d.pid, SIGQUIT), 0);
	st = h_wait_exit(d.pid, H_TIMEOUT_MS);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	d.pid = 0;
	assert_int_equal(lines(path, NULL), n);
	assert_int_equal(lines(path, " reason=end"), n);
	assert_int_equal(h_daemon_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json_reopen),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_reload_new_file),
		cmocka_unit_test(test_flush_at_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
