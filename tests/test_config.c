/*
 * test_config.c -- unit tests for the configuration loader (conf/config.c):
 * the values and defaults a good file yields, and for every kind of bad
 * file a NULL result with a "file:line: message" naming the right line.
 * Also config_load() on real and missing files, and hostile input (binary
 * junk, deep nesting, huge strings) that must fail cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "server/check.h"

#define NAME	"test.conf"

/*
 * Parse text, expecting failure with "NAME:line: " followed by a message
 * containing phrase.  Reports the caller's line on mismatch.
 */
#define expect_error(text, line, phrase) \
	expect_error_at((text), (line), (phrase), __LINE__)

static void
expect_error_at(const char *text, int line, const char *phrase, int caller)
{
	struct config	*cfg;
	char		 err[CONFIG_ERRLEN], prefix[64];

	memset(err, 0, sizeof(err));
	snprintf(prefix, sizeof(prefix), "%s:%d: ", NAME, line);
	cfg = config_parse(text, NAME, err, sizeof(err));
	if (cfg != NULL || strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err + strlen(prefix), phrase) == NULL) {
		print_error("test_config.c:%d: want NULL and \"%s...%s...\"\n"
		    "  got %s, \"%s\"\n", caller, prefix, phrase,
		    cfg == NULL ? "NULL" : "a config", err);
		config_free(cfg);
		fail();
	}
}

/* Parse text that must be valid. */
static struct config *
parse_ok(const char *text)
{
	struct config	*cfg;
	char		 err[CONFIG_ERRLEN];

	err[0] = '\0';
	cfg = config_parse(text, NAME, err, sizeof(err));
	if (cfg == NULL) {
		print_error("unexpected error: %s\n", err);
		fail();
	}
	return cfg;
}

/* Make a string of n copies of c; the caller frees it. */
static char *
repeat(int c, size_t n)
{
	char	*s;

	s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Write text to a new temporary file; returns its name in path. */
static void
write_temp(char *path, size_t size, const char *text)
{
	FILE	*fp;
	int	 fd;

	snprintf(path, size, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) != EOF);
	assert_int_equal(fclose(fp), 0);
}

static const char good[] =
	"# a comment\n"					/* 1 */
	"workers = 4;\n"				/* 2 */
	"shutdown_timeout = 30;\n"			/* 3 */
	"log = { level = \"debug\"; };\n"		/* 4 */
	"listeners = (\n"				/* 5 */
	"	{ address = \"127.0.0.1\"; port = 7007;\n"	/* 6 */
	"	  service = \"echo\"; },\n"		/* 7 */
	"	{\n"					/* 8 */
	"		address = \"::1\";\n"		/* 9 */
	"		port = 7007;\n"			/* 10 */
	"		service = \"echo\";\n"		/* 11 */
	"		backlog = 16;\n"		/* 12 */
	"	},\n"					/* 13 */
	"	{ path = \"/tmp/preforkd.sock\"; service = \"chat\"; },\n"
	"	{ port = 8080; service = \"echo\"; }\n"	/* 15 */
	");\n";

static void
test_good(void **state)
{
	struct config		*cfg;
	struct listen_conf	*l;

	cfg = parse_ok(good);
	assert_string_equal(cfg->file, NAME);
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->shutdown_timeout_ms, 30000);
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg->nlisteners, 4);

	l = &cfg->listeners[0];
	assert_string_equal(l->address, "127.0.0.1");
	assert_int_equal(l->port, 7007);
	assert_null(l->path);
	assert_string_equal(l->service, "echo");
	assert_int_equal(l->backlog, 511);
	assert_int_equal(l->line, 6);
	assert_string_equal(l->name, "127.0.0.1:7007");

	l = &cfg->listeners[1];
	assert_string_equal(l->address, "::1");
	assert_int_equal(l->port, 7007);
	assert_null(l->path);
	assert_int_equal(l->backlog, 16);
	assert_int_equal(l->line, 8);
	assert_string_equal(l->name, "[::1]:7007");

	l = &cfg->listeners[2];
	assert_null(l->address);
	assert_int_equal(l->port, 0);
	assert_string_equal(l->path, "/tmp/preforkd.sock");
	assert_string_equal(l->service, "chat");
	assert_int_equal(l->backlog, 511);
	assert_int_equal(l->line, 14);
	assert_string_equal(l->name, "/tmp/preforkd.sock");

	l = &cfg->listeners[3];
	assert_string_equal(l->address, "0.0.0.0");
	assert_int_equal(l->port, 8080);
	assert_null(l->path);
	assert_int_equal(l->line, 15);
	assert_string_equal(l->name, "0.0.0.0:8080");

	config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct config	*cfg;

	cfg = parse_ok("listeners = ( { port = 7; service = \"echo\"; } );");
	assert_int_equal(cfg->workers, CONFIG_WORKERS_AUTO);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg->shutdown_timeout_ms, 10000);
	assert_int_equal(cfg->drain_delay_ms, 0);
	assert_int_equal(cfg->nlisteners, 1);
	assert_string_equal(cfg->listeners[0].address, "0.0.0.0");
	assert_int_equal(cfg->listeners[0].backlog, 511);
	assert_string_equal(cfg->listeners[0].name, "0.0.0.0:7");
	config_free(cfg);
}

static void
test_workers_auto(void **state)
{
	struct config	*cfg;

	cfg = parse_ok("workers = \"auto\";\n"
	    "listeners = ( { port = 1; service = \"e\"; } );");
	assert_int_equal(cfg->workers, CONFIG_WORKERS_AUTO);
	config_free(cfg);

	/* Hex is still an integer. */
	cfg = parse_ok("workers = 0x10;\n"
	    "listeners = ( { port = 1; service = \"e\"; } );");
	assert_int_equal(cfg->workers, 16);
	config_free(cfg);
}

static void
test_boundaries(void **state)
{
	struct config	*cfg;

	cfg = parse_ok("workers = 1; shutdown_timeout = 1; drain_delay = 0;\n"
	    "listeners = ( { port = 1; backlog = 1; service = \"e\"; } );");
	assert_int_equal(cfg->workers, 1);
	assert_int_equal(cfg->drain_delay_ms, 0);
	assert_int_equal(cfg->shutdown_timeout_ms, 1000);
	assert_int_equal(cfg->listeners[0].port, 1);
	assert_int_equal(cfg->listeners[0].backlog, 1);
	config_free(cfg);

	cfg = parse_ok("workers = 1024; shutdown_timeout = 3600;\n"
	    "drain_delay = 3600; listeners = ( { port = 65535;\n"
	    "backlog = 65535; service = \"e\"; } );");
	assert_int_equal(cfg->workers, CONFIG_WORKERS_MAX);
	assert_int_equal(cfg->drain_delay_ms, 3600000);
	assert_int_equal(cfg->shutdown_timeout_ms, 3600000);
	assert_int_equal(cfg->listeners[0].port, 65535);
	assert_int_equal(cfg->listeners[0].backlog, 65535);
	config_free(cfg);

	/* A 64-bit literal within range is fine too. */
	cfg = parse_ok("workers = 8L;\n"
	    "listeners = ( { port = 1; service = \"e\"; } );");
	assert_int_equal(cfg->workers, 8);
	config_free(cfg);
}

static void
test_log_levels(void **state)
{
	static const struct {
		const char	*name;
		enum log_level	 level;
	} t[] = {
		{ "error", LOG_LEVEL_ERROR },
		{ "warn", LOG_LEVEL_WARN },
		{ "info", LOG_LEVEL_INFO },
		{ "debug", LOG_LEVEL_DEBUG },
		/* syslog's names, as aliases */
		{ "emerg", LOG_LEVEL_ERROR },
		{ "alert", LOG_LEVEL_ERROR },
		{ "crit", LOG_LEVEL_ERROR },
		{ "err", LOG_LEVEL_ERROR },
		{ "warning", LOG_LEVEL_WARN },
		{ "WARNING", LOG_LEVEL_WARN },
		{ "notice", LOG_LEVEL_INFO },
	};
	struct config	*cfg;
	char		 text[256];
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(text, sizeof(text), "log = { level = \"%s\"; };\n"
		    "listeners = ( { port = 1; service = \"e\"; } );",
		    t[i].name);
		cfg = parse_ok(text);
		assert_int_equal(cfg->log_level, t[i].level);
		config_free(cfg);
	}
}

static void
test_ipv6_and_mapped(void **state)
{
	struct config	*cfg;

	/* Distinct listeners on v4 and v6 wildcards of the same port. */
	cfg = parse_ok("listeners = (\n"
	    "{ port = 1; service = \"e\"; },\n"
	    "{ address = \"::\"; port = 1; service = \"e\"; },\n"
	    "{ address = \"::ffff:10.0.0.1\"; port = 1; service = \"e\"; }\n"
	    ");");
	assert_int_equal(cfg->nlisteners, 3);
	assert_string_equal(cfg->listeners[0].name, "0.0.0.0:1");
	assert_string_equal(cfg->listeners[1].name, "[::]:1");
	assert_string_equal(cfg->listeners[2].name, "[::ffff:10.0.0.1]:1");
	assert_int_equal(cfg->listeners[2].line, 4);
	config_free(cfg);
}

static void
test_syntax_error(void **state)
{
	expect_error("workers = 4;\n"
	    "log = { level = \"info\"; };\n"
	    "listeners = ( { port = 1; service = \"e\" } }\n"
	    ");\n", 3, "syntax error");
	expect_error("workers = 4;\n"
	    "\n"
	    "listeners;\n", 3, "syntax error");
	expect_error("workers = = 4;", 1, "syntax error");
	/* libconfig itself rejects a key given twice. */
	expect_error("workers = 4;\n"
	    "workers = 5;\n", 2, "duplicate setting");
}

static void
test_unknown_keys(void **state)
{
	expect_error("workers = 4;\n"
	    "wrokers = 4;\n"
	    "listeners = ( { port = 1; service = \"e\"; } );",
	    2, "unknown setting 'wrokers'");
	expect_error("listeners = (\n"
	    "  { port = 1; service = \"e\"; },\n"
	    "  { port = 2;\n"
	    "    service = \"e\";\n"
	    "    bogus = 1; }\n"
	    ");", 5, "unknown setting 'bogus'");
	expect_error("log = {\n"
	    "  level = \"info\";\n"
	    "  path = \"/var/log/x\";\n"
	    "};\n"
	    "listeners = ( { port = 1; service = \"e\"; } );",
	    3, "unknown setting 'path'");
	/* A key that only belongs to a listener is unknown at the top. */
	expect_error("\nport = 80;\n", 2, "unknown setting 'port'");
	/* And a top-level key inside a listener. */
	expect_error("listeners = ( { port = 1; service = \"e\";\n"
	    "workers = 2; } );", 2, "unknown setting 'workers'");
}

static void
test_wrong_types(void **state)
{
	expect_error("workers = \"two\";\n"
	    "listeners = ( { port = 1; service = \"e\"; } );",
	    1, "'workers' must be an integer or \"auto\"");
	expect_error("workers = 2.5;\n", 1, "'workers' must be an integer");
	expect_error("workers = true;\n", 1, "'workers' must be an integer");
	expect_error("\nshutdown_timeout = \"10\";\n", 2,
	    "'shutdown_timeout' must be a number of seconds");
	expect_error("listeners = (\n"
	    "  { port = \"80\"; service = \"e\"; }\n"
	    ");", 2, "'port' must be an integer");
	expect_error("listeners = (\n"
	    "  { port = 1;\n"
	    "    backlog = 1.0; service = \"e\"; }\n"
	    ");", 3, "'backlog' must be an integer");
	expect_error("listeners = (\n"
	    "  { port = 1;\n"
	    "    service = 5; }\n"
	    ");", 3, "'service' must be a string");
	expect_error("listeners = ( { port = 1; service = \"e\";\n"
	    "address = [\"1.2.3.4\"]; } );", 2, "'address' must be a string");
	expect_error("log = {\n"
	    "  level = 3;\n"
	    "};", 2, "'level' must be one of");
	expect_error("workers = 2;\n"
	    "log = 5;\n", 2, "'log' must be a group");
	expect_error("log = ( \"info\" );\n", 1, "'log' must be a group");
	expect_error("workers = 2;\n"
	    "listeners = 5;\n", 2, "'listeners' must be a list");
	expect_error("\nlisteners = { port = 1; service = \"e\"; };\n", 2,
	    "'listeners' must be a list");
	expect_error("listeners = [ 1, 2 ];\n", 1,
	    "'listeners' must be a list");
	expect_error("listeners = (\n"
	    "  { port = 1; service = \"e\"; },\n"
	    "  \"0.0.0.0:80\" );", 3, "'listeners' entries must be groups");
	expect_error("listeners = (\n"
	    "  ( { port = 1; service = \"e\"; } )\n"
	    ");", 2, "'listeners' entries must be groups");
}

static void
test_out_of_range(void **state)
{
	expect_error("workers = 0;\n", 1, "'workers' is 0, must be 1 to 1024");
	expect_error("\nworkers = 5000;\n", 2,
	    "'workers' is 5000, must be 1 to 1024");
	expect_error("workers = -1;\n", 1, "'workers' is -1");
	expect_error("workers = 5000000000L;\n", 1, "'workers' is 5000000000");
	expect_error("workers = 2;\nshutdown_timeout = 0;\n", 2,
	    "'shutdown_timeout' must be 0.01 to 86400 seconds");
	expect_error("shutdown_timeout = 86401;\n", 1,
	    "'shutdown_timeout' must be 0.01 to 86400 seconds");
	expect_error("workers = 2;\n\ndrain_delay = -0.5;\n", 3,
	    "'drain_delay' must be 0 to 3600 seconds");
	expect_error("drain_delay = 3600.5;\n", 1,
	    "'drain_delay' must be 0 to 3600 seconds");
	expect_error("heartbeat_interval = 2;\nworker_timeout = 1.5;\n"
	    "listeners = ({ port = 7; service = \"echo\"; });\n", 2,
	    "'worker_timeout' must be longer than 'heartbeat_interval'");
	expect_error("worker_timeout = \"1\";\n", 1,
	    "'worker_timeout' must be a number of seconds");
	/* libconfig 1.5 reads 0600 as decimal: modes are octal strings. */
	expect_error("\nadmin_mode = 0600;\n", 2,
	    "'admin_mode' must be an octal string");
	expect_error("admin_mode = \"0800\";\n", 1,
	    "'admin_mode' must be an octal mode");
	expect_error("admin_mode = \"01000\";\n", 1,
	    "'admin_mode' must be an octal mode");
	expect_error("listeners = (\n"
	    "  { service = \"e\";\n"
	    "    port = 0; }\n"
	    ");", 3, "'port' is 0, must be 1 to 65535");
	expect_error("listeners = (\n"
	    "  { service = \"e\";\n"
	    "    port = 70000; }\n"
	    ");", 3, "'port' is 70000, must be 1 to 65535");
	expect_error("listeners = (\n"
	    "  { service = \"e\"; port = 1;\n"
	    "    backlog = 0; }\n"
	    ");", 3, "'backlog' is 0, must be 1 to 65535");
	expect_error("listeners = ( { service = \"e\"; port = 1;\n"
	    "backlog = 65536; } );", 2, "'backlog' is 65536");
}

static void
test_bad_level_name(void **state)
{
	expect_error("workers = 1;\n"
	    "log = { level = \"verbose\"; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 2,
	    "'level' must be one of \"error\", \"warn\", \"info\", \"debug\"");
	expect_error("log = { level = \"\"; };\n", 1, "'level' must be one of");
	expect_error("log = { level = \"DEBUG \"; };\n", 1,
	    "'level' must be one of");
}

static void
test_listener_checks(void **state)
{
	/* Errors about a listener as a whole name the line of its '{'. */
	expect_error("listeners = (\n"
	    "  { port = 1; service = \"e\"; },\n"
	    "  { port = 2;\n"
	    "    address = \"127.0.0.1\"; }\n"
	    ");", 3, "listener has no 'service'");
	expect_error("listeners = (\n"
	    "  { path = \"/tmp/s\"; port = 2;\n"
	    "    service = \"e\"; }\n"
	    ");", 2, "listener has both 'path' and 'address'/'port'");
	expect_error("listeners = (\n"
	    "  { path = \"/tmp/s\"; address = \"127.0.0.1\";\n"
	    "    service = \"e\"; }\n"
	    ");", 2, "listener has both 'path' and 'address'/'port'");
	expect_error("listeners = (\n"
	    "\n"
	    "  { service = \"e\"; }\n"
	    ");", 3, "listener needs 'port' (or 'path')");
	expect_error("listeners = (\n"
	    "  { address = \"127.0.0.1\"; service = \"e\"; }\n"
	    ");", 2, "listener needs 'port' (or 'path')");
	expect_error("listeners = (\n"
	    "  { port = 1; service = \"e\"; },\n"
	    "  { address = \"localhost\"; port = 1; service = \"e\"; }\n"
	    ");", 3, "'address' \"localhost\" is not a numeric IPv4 or IPv6");
	expect_error("listeners = (\n"
	    "  { address = \"1.2.3.999\"; port = 1; service = \"e\"; }\n"
	    ");", 2, "'address' \"1.2.3.999\" is not a numeric");
	expect_error("listeners = (\n"
	    "  { address = \"::g\"; port = 1; service = \"e\"; }\n"
	    ");", 2, "'address' \"::g\" is not a numeric");
	expect_error("listeners = (\n"
	    "  { address = \"[::1]\"; port = 1; service = \"e\"; }\n"
	    ");", 2, "is not a numeric");
}

static void
test_duplicate_listener(void **state)
{
	expect_error("listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = 80; service = \"e\"; },\n"
	    "  { port = 81; service = \"e\"; },\n"
	    "  { address = \"127.0.0.1\"; port = 80; service = \"f\"; }\n"
	    ");", 4, "listener 127.0.0.1:80 is already defined at line 2");
	/* The default address is the same as spelling it out. */
	expect_error("listeners = (\n"
	    "  { port = 80; service = \"e\"; },\n"
	    "\n"
	    "  { address = \"0.0.0.0\"; port = 80; service = \"e\"; }\n"
	    ");", 4, "listener 0.0.0.0:80 is already defined at line 2");
	expect_error("listeners = (\n"
	    "  { address = \"::1\"; port = 9; service = \"e\"; },\n"
	    "  { address = \"::1\"; port = 9; service = \"e\"; }\n"
	    ");", 3, "listener [::1]:9 is already defined at line 2");
	expect_error("listeners = (\n"
	    "  { path = \"/tmp/s\"; service = \"e\"; },\n"
	    "  { path = \"/tmp/s\"; service = \"e\"; }\n"
	    ");", 3, "listener /tmp/s is already defined at line 2");
}

static void
test_empty_listeners(void **state)
{
	expect_error("workers = 2;\n"
	    "listeners = ( );\n", 2, "'listeners' is empty");
	expect_error("workers = 2;\n"
	    "listeners = [ ];\n", 2, "'listeners' is empty");
}

static void
test_no_listeners(void **state)
{
	/* Nothing to point at: the top of the file, never line 0. */
	expect_error("workers = 2;\n"
	    "log = { level = \"info\"; };\n", 1, "no 'listeners' defined");
	expect_error("", 1, "no 'listeners' defined");
	expect_error("# only a comment\n", 1, "no 'listeners' defined");
}

static void
test_bom(void **state)
{
	/* A UTF-8 byte order mark is named, with a line, not "syntax error". */
	expect_error("\xef\xbb\xbfworkers = 2;\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 1,
	    "UTF-8 byte order mark");
}

/* config_check_runtime() on text that parses: NULL, or its error. */
static void
runtime_error_at(const char *text, int line, const char *phrase, int caller)
{
	struct config	*cfg = parse_ok(text);
	char		 err[CONFIG_ERRLEN], prefix[64];
	int		 rc;

	memset(err, 0, sizeof(err));
	rc = config_check_runtime(cfg, err, sizeof(err));
	config_free(cfg);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", NAME, line);
	if (phrase == NULL ? rc != 0 : rc != -1 ||
	    strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err + strlen(prefix), phrase) == NULL) {
		print_error("test_config.c:%d: want %s%s, got %d \"%s\"\n",
		    caller, phrase ? prefix : "0", phrase ? phrase : "", rc,
		    err);
		fail();
	}
}
#define runtime_error(text, line, phrase) \
	runtime_error_at((text), (line), (phrase), __LINE__)

/* access_log: global, per listener (own, inherited, "off"), errors. */
static void
test_access_log(void **state)
{
	struct config	*cfg;

	cfg = parse_ok("access_log = { file = \"/tmp/a.log\"; };\n"
	    "listeners = (\n"
	    "{ port = 1; service = \"e\"; },\n"
	    "{ port = 2; service = \"e\";\n"
	    "  access_log = { file = \"syslog\"; format = \"json\"; }; },\n"
	    "{ port = 3; service = \"e\"; access_log = { file = \"off\"; }; }"
	    ");");
	assert_string_equal(cfg->alog_file, "/tmp/a.log");
	assert_int_equal(cfg->alog_json, 0);
	assert_int_equal(cfg->pos_alog_file.line, 1);
	assert_string_equal(cfg->listeners[0].alog_file, "/tmp/a.log");
	assert_null(cfg->listeners[0].alog_pos.file);
	assert_string_equal(cfg->listeners[1].alog_file, "syslog");
	assert_int_equal(cfg->listeners[1].alog_json, 1);
	assert_int_equal(cfg->listeners[1].alog_pos.line, 5);
	assert_null(cfg->listeners[2].alog_file);
	config_free(cfg);

	/* The global format is inherited with the file. */
	cfg = parse_ok("access_log = { format = \"json\"; file = \"a\"; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );");
	assert_int_equal(cfg->listeners[0].alog_json, 1);
	config_free(cfg);
	cfg = parse_ok("listeners = ( { port = 1; service = \"e\"; } );");
	assert_null(cfg->alog_file);
	assert_null(cfg->listeners[0].alog_file);
	assert_int_equal(cfg->alog_flush_ms, 1000);
	config_free(cfg);
	cfg = parse_ok("access_log = { file = \"off\"; flush = 0.05; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );");
	assert_null(cfg->alog_file);
	assert_int_equal(cfg->alog_flush_ms, 50);
	config_free(cfg);
	expect_error("access_log = { file = \"a\";\n flush = 0; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 2, "'flush'");
	expect_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  access_log = { file = \"a\"; flush = 1; }; } );", 3,
	    "unknown setting 'flush'");

	expect_error("access_log = {\n format = \"xml\"; file = \"a\"; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 2,
	    "'format' must be \"text\" or \"json\"");
	expect_error("access_log = { format = 1; file = \"a\"; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 1,
	    "'format' must be");
	expect_error("\naccess_log = { file = \"\"; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 2,
	    "'file' must not be empty");
	expect_error("access_log = { format = \"json\"; };\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 1,
	    "'access_log' needs 'file'");
	expect_error("access_log = \"a\";\n"
	    "listeners = ( { port = 1; service = \"e\"; } );", 1,
	    "'access_log' must be a group");
	expect_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  access_log = { level = \"info\"; }; } );", 3,
	    "unknown setting 'level'");
	expect_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  access_log = { format = \"text\"; }; } );", 3,
	    "'access_log' needs 'file'");
}

/* cpu_affinity: "auto" or a list of CPU numbers; each must exist here. */
static void
test_cpu_affinity(void **state)
{
	const char	*l = "listeners = ( { port = 1; service = \"e\"; } );\n";
	struct config	*cfg;
	char		 text[512];

	cfg = parse_ok(l);
	assert_int_equal(cfg->cpu_affinity, CONFIG_CPUS_NONE);
	config_free(cfg);
	snprintf(text, sizeof(text), "%scpu_affinity = \"auto\";", l);
	cfg = parse_ok(text);
	assert_int_equal(cfg->cpu_affinity, CONFIG_CPUS_AUTO);
	config_free(cfg);
	snprintf(text, sizeof(text), "%scpu_affinity = [ 0, 3, 1023 ];", l);
	cfg = parse_ok(text);
	assert_int_equal(cfg->cpu_affinity, CONFIG_CPUS_LIST);
	assert_int_equal(cfg->ncpus, 3);
	assert_int_equal(cfg->cpus[1], 3);
	assert_int_equal(cfg->cpus[2], 1023);
	config_free(cfg);
	snprintf(text, sizeof(text), "%s\ncpu_affinity = [];", l);
	expect_error(text, 3, "'cpu_affinity' is an empty list");
	snprintf(text, sizeof(text), "%scpu_affinity = \"all\";", l);
	expect_error(text, 2, "'cpu_affinity' must be \"auto\" or a list");
	snprintf(text, sizeof(text), "%scpu_affinity = 2;", l);
	expect_error(text, 2, "'cpu_affinity' must be \"auto\" or a list");
	snprintf(text, sizeof(text), "%scpu_affinity = ( 0,\n \"1\" );", l);
	expect_error(text, 3, "'cpu_affinity': entry 2 is not a CPU number");
	snprintf(text, sizeof(text), "%scpu_affinity = [ 1024 ];", l);
	expect_error(text, 2, "CPU 1024 out of range, must be 0 to 1023");
	snprintf(text, sizeof(text), "%scpu_affinity = [ -1 ];", l);
	expect_error(text, 2, "CPU -1 out of range");
	/* In range but not this machine's (or not this process's). */
	snprintf(text, sizeof(text), "%s\ncpu_affinity = [ 0, 999 ];", l);
	runtime_error(text, 3, "cpu_affinity: CPU 999 is not available");
}

static void
test_runtime_checks(void **state)
{
	const char	*l = "listeners = ( { port = 1; service = \"e\"; } );\n";
	char		 text[512];

	/* What start-up would create, where it cannot. */
	snprintf(text, sizeof(text), "%s\npidfile = \"/nonexistent/p.pid\";", l);
	runtime_error(text, 3, "pidfile /nonexistent/p.pid: directory "
	    "/nonexistent");
	snprintf(text, sizeof(text), "%slog = {\n level = \"warning\";\n"
	    " file = \"/nonexistent/log\"; };", l);
	runtime_error(text, 4, "log file /nonexistent/log: directory");
	snprintf(text, sizeof(text), "%s\naccess_log = {\n"
	    " file = \"/nonexistent/a.log\"; };", l);
	runtime_error(text, 4, "access log /nonexistent/a.log: directory");
	runtime_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  access_log = {\n file = \"/nonexistent/b.log\"; }; } );", 4,
	    "listener 0.0.0.0:1: access log /nonexistent/b.log: directory");
	snprintf(text, sizeof(text), "%saccess_log = { file = \"/etc\"; };", l);
	runtime_error(text, 2, "exists and is not a regular file");
	snprintf(text, sizeof(text), "%saccess_log = { file = \"syslog\"; };",
	    l);
	runtime_error(text, 0, NULL);
	snprintf(text, sizeof(text), "admin_socket = \"/nonexistent/a.sock\";"
	    "\n%s", l);
	runtime_error(text, 1, "admin_socket /nonexistent/a.sock");
	runtime_error("listeners = (\n{ port = 1; service = \"e\"; },\n"
	    "{ path = \"/nonexistent/l.sock\"; service = \"e\"; });", 3,
	    "listener /nonexistent/l.sock: directory");
	/* An existing file of the wrong kind. */
	snprintf(text, sizeof(text), "%sadmin_socket = \"/etc/passwd\";", l);
	runtime_error(text, 2, "exists and is not a socket");
	snprintf(text, sizeof(text), "%spidfile = \"/etc\";", l);
	runtime_error(text, 2, "exists and is not a regular file");
	/* Who and where the workers run. */
	snprintf(text, sizeof(text), "%s\n\nuser = \"no-such-user-pf\";", l);
	runtime_error(text, 4, "user 'no-such-user-pf' does not exist");
	snprintf(text, sizeof(text), "%sgroup = \"no-such-group-pf\";", l);
	runtime_error(text, 2, "group 'no-such-group-pf' does not exist");
	snprintf(text, sizeof(text), "%schroot = \"/nonexistent\";", l);
	runtime_error(text, 2, "chroot /nonexistent");
	snprintf(text, sizeof(text), "%schroot = \"relative\";", l);
	runtime_error(text, 2, "not an absolute path");
	snprintf(text, sizeof(text), "%schroot = \"/etc/passwd\";", l);
	runtime_error(text, 2, "not a directory");
	/* And what can be done passes. */
	snprintf(text, sizeof(text), "%spidfile = \"/tmp/pf-check.pid\";\n"
	    "admin_socket = \"/tmp/pf-check.sock\";\nchroot = \"/\";\n"
	    "log = { file = \"syslog\"; };", l);
	runtime_error(text, 0, NULL);
	runtime_error(l, 0, NULL);
}

static void
test_string_limits(void **state)
{
	struct config	*cfg;
	char		*p, text[512], phrase[64];
	size_t		 max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	/* The longest path that fits sun_path with its NUL is accepted. */
	p = repeat('p', max - 1);
	snprintf(text, sizeof(text), "listeners = (\n"
	    "  { path = \"/%s\"; service = \"e\"; }\n);", p);
	cfg = parse_ok(text);
	assert_int_equal(strlen(cfg->listeners[0].path), max);
	assert_string_equal(cfg->listeners[0].name, cfg->listeners[0].path);
	config_free(cfg);

	/* One more byte is not. */
	snprintf(text, sizeof(text), "listeners = (\n"
	    "  { service = \"e\";\n    path = \"/%sp\"; }\n);", p);
	free(p);
	snprintf(phrase, sizeof(phrase), "'path' is longer than %zu bytes",
	    max);
	expect_error(text, 3, phrase);

	/* Empty strings. */
	expect_error("listeners = (\n"
	    "  { port = 1;\n    service = \"\"; }\n);", 3,
	    "'service' must not be empty");
	expect_error("listeners = (\n"
	    "  { port = 1; service = \"e\";\n    address = \"\"; }\n);", 3,
	    "'address' must not be empty");
	expect_error("listeners = (\n"
	    "  { service = \"e\";\n    path = \"\"; }\n);", 3,
	    "'path' must not be empty");
}

static void
test_long_strings(void **state)
{
	char	*s, *text;
	size_t	 n = 100000, size = n + 256;

	s = repeat('x', n);
	text = malloc(size);
	assert_non_null(text);

	snprintf(text, size, "listeners = (\n"
	    "  { port = 1;\n    service = \"%s\"; }\n);", s);
	expect_error(text, 3, "'service' is longer than 64 bytes");

	snprintf(text, size, "listeners = (\n"
	    "  { port = 1; service = \"e\";\n    address = \"%s\"; }\n);", s);
	expect_error(text, 3, "'address' is longer than");

	/* A long key name. */
	snprintf(text, size, "\n%s = 1;\n", s);
	expect_error(text, 2, "unknown setting 'xxxx");

	free(text);
	free(s);
}

static void
test_binary_junk(void **state)
{
	struct config	*cfg;
	char		 junk[512], err[CONFIG_ERRLEN];
	uint32_t	 x = 12345;
	size_t		 i;
	int		 round;

	/* A deterministic stream of non-NUL bytes, many times over. */
	for (round = 0; round < 300; round++) {
		for (i = 0; i < sizeof(junk) - 1; i++) {
			x = x * 1103515245u + 12345u;
			junk[i] = (char)((x >> 16) % 255 + 1);
		}
		junk[(round * 7) % (sizeof(junk) - 1) + 1] = '\0';
		err[0] = '\0';
		cfg = config_parse(junk, NAME, err, sizeof(err));
		assert_null(cfg);
		assert_true(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
		assert_true(strlen(err) > strlen(NAME ":0: "));
	}

	/* Junk after a good start. */
	expect_error("workers = 2;\n\x01\x02\xff\xfe = \x80;\n", 2,
	    "syntax error");
}

static void
test_deep_nesting(void **state)
{
	struct config	*cfg;
	char		*text, *p, err[CONFIG_ERRLEN];
	size_t		 depth, i, size;

	/* Valid libconfig, wrong schema: rejected at the outermost key. */
	depth = 200;
	size = depth * 16 + 64;
	text = malloc(size);
	assert_non_null(text);
	p = text;
	for (i = 0; i < depth; i++)
		p += sprintf(p, "a = { ");
	p += sprintf(p, "b = 1;");
	for (i = 0; i < depth; i++)
		p += sprintf(p, " };");
	expect_error(text, 1, "unknown setting 'a'");

	/* The same under "log" and as nested lists in "listeners". */
	p = text;
	p += sprintf(p, "log = {\n");
	for (i = 0; i < depth; i++)
		p += sprintf(p, "a = { ");
	for (i = 0; i < depth; i++)
		p += sprintf(p, " };");
	p += sprintf(p, "};");
	expect_error(text, 2, "unknown setting 'a'");

	p = text;
	p += sprintf(p, "\nlisteners = ");
	for (i = 0; i < depth; i++)
		p += sprintf(p, "( ");
	for (i = 0; i < depth; i++)
		p += sprintf(p, ") ");
	p += sprintf(p, ";");
	expect_error(text, 2, "'listeners' entries must be groups");
	free(text);

	/* Far deeper than the parser's stack: an error, not a crash. */
	depth = 20000;
	size = depth * 16 + 64;
	text = malloc(size);
	assert_non_null(text);
	p = text;
	for (i = 0; i < depth; i++)
		p += sprintf(p, "a={");
	for (i = 0; i < depth; i++)
		p += sprintf(p, "};");
	err[0] = '\0';
	cfg = config_parse(text, NAME, err, sizeof(err));
	free(text);
	assert_null(cfg);
	assert_true(strncmp(err, NAME ":1: ", strlen(NAME ":1: ")) == 0);
	assert_true(strlen(err) > strlen(NAME ":1: "));
}

static void
test_small_errbuf(void **state)
{
	struct config	*cfg;
	char		 err[32];

	/* The message is cut, still terminated, never overruns. */
	memset(err, 'Z', sizeof(err));
	cfg = config_parse("workers = 0;", NAME, err, 8);
	assert_null(cfg);
	assert_string_equal(err, "test.co");
	assert_int_equal(err[8], 'Z');

	memset(err, 'Z', sizeof(err));
	cfg = config_parse("workers = 0;", NAME, err, 14);
	assert_null(cfg);
	assert_string_equal(err, "test.conf:1: ");
	assert_int_equal(err[14], 'Z');

	memset(err, 'Z', sizeof(err));
	cfg = config_parse("workers = = 0;", NAME, err, 16);
	assert_null(cfg);
	assert_string_equal(err, "test.conf:1: sy");
	assert_int_equal(err[16], 'Z');

	memset(err, 'Z', sizeof(err));
	cfg = config_parse("workers = 0;", NAME, err, 1);
	assert_null(cfg);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'Z');

	config_free(NULL);
}

static void
test_load_file(void **state)
{
	struct config	*cfg;
	char		 path[64], err[CONFIG_ERRLEN], want[128];

	/* A good file: the name kept is the path given. */
	write_temp(path, sizeof(path), good);
	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (cfg == NULL)
		print_error("%s\n", err);
	assert_non_null(cfg);
	assert_string_equal(cfg->file, path);
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->nlisteners, 4);
	assert_int_equal(cfg->listeners[1].line, 8);
	config_free(cfg);

	/* A schema error names the real file and line. */
	write_temp(path, sizeof(path), "workers = 2;\n"
	    "listeners = (\n"
	    "  { port = 0; service = \"e\"; }\n"
	    ");\n");
	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s:3: ", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, "'port' is 0"));

	/* So does a syntax error. */
	write_temp(path, sizeof(path), "workers = 2;\n"
	    "\n"
	    "listeners;\n");
	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s:3: ", path);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, "syntax error"));

	/* And a missing listeners key: line 1 of the file. */
	write_temp(path, sizeof(path), "workers = 2;\n");
	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s:1: no 'listeners' defined", path);
	assert_string_equal(err, want);
}

static void
test_load_include(void **state)
{
	struct config	*cfg;
	char		 dir[64], main_conf[96], sub[96], err[CONFIG_ERRLEN];
	FILE		*fp;

	/* @include is relative to the including file's directory. */
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
	snprintf(sub, sizeof(sub), "%s/sub.conf", dir);

	assert_non_null(fp = fopen(main_conf, "w"));
	assert_true(fputs("workers = 2;\n@include \"sub.conf\"\n", fp) != EOF);
	assert_int_equal(fclose(fp), 0);
	assert_non_null(fp = fopen(sub, "w"));
	assert_true(fputs("listeners = (\n"
	    "\n"
	    "  { port = 0; service = \"e\"; }\n"
	    ");\n", fp) != EOF);
	assert_int_equal(fclose(fp), 0);

	err[0] = '\0';
	cfg = config_load(main_conf, err, sizeof(err));
	unlink(sub);
	unlink(main_conf);
	rmdir(dir);
	assert_null(cfg);
	/* The error is in the included file, at its own line 3. */
	assert_non_null(strstr(err, "sub.conf:3: "));
	assert_non_null(strstr(err, "'port' is 0"));
}

static void
test_load_include_missing(void **state)
{
	struct config	*cfg;
	char		 dir[64], main_conf[96], err[CONFIG_ERRLEN], want[128];
	FILE		*fp;

	/* A missing @include names the file it could not open. */
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
	assert_non_null(fp = fopen(main_conf, "w"));
	assert_true(fputs("workers = 2;\n@include \"nope.conf\"\n", fp) !=
	    EOF);
	assert_int_equal(fclose(fp), 0);
	err[0] = '\0';
	cfg = config_load(main_conf, err, sizeof(err));
	unlink(main_conf);
	rmdir(dir);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s:2: ", main_conf);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "\"nope.conf\""));

	/* And from a string, too. */
	expect_error("workers = 2;\n\n@include \"/nonexistent/x.conf\"\n", 3,
	    "\"/nonexistent/x.conf\"");
}

static void
test_load_missing(void **state)
{
	struct config	*cfg;
	char		 err[CONFIG_ERRLEN];
	const char	*path = "/nonexistent/preforkd-test/preforkd.conf";

	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot read"));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

static void
test_load_directory(void **state)
{
	struct config	*cfg;
	char		 dir[64], err[CONFIG_ERRLEN];

	/*
	 * A directory cannot be read as a config file, and the message
	 * must say why, not "Success" (strerror(0)).
	 */
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(dir));
	err[0] = '\0';
	cfg = config_load(dir, err, sizeof(err));
	rmdir(dir);
	assert_null(cfg);
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "cannot read"));
	if (strstr(err, strerror(0)) != NULL) {
		print_error("misleading reason: \"%s\"\n", err);
		fail();
	}
}

static void
test_sample_config(void **state)
{
	struct config	*cfg;
	const char	*srcdir;
	char		 path[4096], err[CONFIG_ERRLEN];

	/* The shipped sample must load; make check says where it is. */
	if ((srcdir = getenv("PREFORKD_TEST_SRCDIR")) == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/conf/preforkd.conf", srcdir);
	err[0] = '\0';
	cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		print_error("%s\n", err);
	assert_non_null(cfg);
	assert_true(cfg->nlisteners >= 1);
	config_free(cfg);
}

/* proxy_protocol: off by default; trusted defaults to loopback; bounds. */
static void
test_proxy_keys(void **state)
{
	struct config		*cfg;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	char			 err[512];

	cfg = config_parse("listeners = (\n"
	    "{ port = 1; service = \"echo\"; },\n"
	    "{ port = 2; service = \"echo\"; proxy_protocol = true; },\n"
	    "{ port = 3; service = \"echo\"; proxy_protocol = true;\n"
	    "  proxy_trusted = [ \"10.0.0.0/8\" ]; proxy_timeout = 0.5; }\n"
	    ");\n", "t", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->listeners[0].proxy_protocol, 0);
	assert_int_equal(cfg->listeners[1].proxy_protocol, 1);
	assert_int_equal(cfg->listeners[1].proxy_timeout_ms, 5000);
	assert_int_equal(cfg->listeners[1].nproxy_trusted, 2);
	sin.sin_addr.s_addr = htonl(0x7f000005);
	assert_true(cidr_match_any(cfg->listeners[1].proxy_trusted, 2,
	    (struct sockaddr *)&sin));
	sin.sin_addr.s_addr = htonl(0x0a000001);
	assert_false(cidr_match_any(cfg->listeners[1].proxy_trusted, 2,
	    (struct sockaddr *)&sin));
	assert_int_equal(cfg->listeners[2].nproxy_trusted, 1);
	assert_true(cidr_match_any(cfg->listeners[2].proxy_trusted, 1,
	    (struct sockaddr *)&sin));
	assert_int_equal(cfg->listeners[2].proxy_timeout_ms, 500);
	config_free(cfg);

	expect_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  proxy_trusted = [ \"10.0.0.0/8\" ]; } );\n", 2,
	    "'proxy_trusted' without 'proxy_protocol = true'");
	expect_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  proxy_protocol = true; proxy_timeout = 0; } );\n", 3,
	    "'proxy_timeout' must be 0.01 to 3600 seconds");
	expect_error("listeners = (\n{ port = 1; service = \"e\";\n"
	    "  proxy_protocol = true; proxy_trusted = [ \"x\" ]; } );\n", 3,
	    "'proxy_trusted': entry 1 is not an address");
}

/* service = "proxy": backends, defaults, names, and where each key may be. */
static void
test_proxy_service(void **state)
{
	const struct proxy_conf	*p;
	struct config		*cfg;
	char			 err[512];

	(void)state;
	cfg = config_parse("listeners = (\n"
	    "{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { address = \"127.0.0.1\"; port = 7007; },\n"
	    "    { address = \"0::1\"; port = 7; weight = 256; },\n"
	    "    { address = \"db-1.example.net\"; port = 5432; },\n"
	    "    { path = \"/run/x.sock\"; weight = 3; } ); },\n"
	    "{ port = 2; service = \"proxy\"; balance = \"source\";\n"
	    "  connect_timeout = 0.25; retries = 0; backend_fail_max = 0;\n"
	    "  backend_down_time = 30; send_proxy = \"v2\";\n"
	    "  check_interval = 0.5; check_timeout = 0.25; check_rise = 3;\n"
	    "  check_fall = 4;\n"
	    "  backends = ( { path = \"/s\"; } ); }\n"
	    ");\n", "t", err, sizeof(err));
	assert_non_null(cfg);
	p = &cfg->listeners[0].proxy;
	assert_int_equal(p->nbackends, 4);
	assert_string_equal(p->backends[0].name, "127.0.0.1:7007");
	assert_int_equal(p->backends[0].weight, 1);
	assert_int_equal(p->backends[0].line, 3);
	assert_string_equal(p->backends[1].name, "[::1]:7");
	assert_int_equal(p->backends[1].weight, 256);
	assert_string_equal(p->backends[2].name, "db-1.example.net:5432");
	assert_string_equal(p->backends[3].name, "/run/x.sock");
	assert_string_equal(p->backends[3].path, "/run/x.sock");
	assert_int_equal(p->backends[3].weight, 3);
	assert_int_equal(p->balance, BALANCE_ROUNDROBIN);
	assert_int_equal(p->connect_timeout_ms, 5000);
	assert_int_equal(p->retries, 2);
	assert_int_equal(p->fail_max, 3);
	assert_int_equal(p->down_ms, 10000);
	assert_int_equal(p->send_proxy, 0);
	assert_int_equal(p->check_interval_ms, 0);
	assert_int_equal(p->check_timeout_ms, 1000);
	assert_int_equal(p->check_rise, 2);
	assert_int_equal(p->check_fall, 1);
	assert_int_equal(p->backends[0].hslot, -1);
	p = &cfg->listeners[1].proxy;
	assert_int_equal(p->check_interval_ms, 500);
	assert_int_equal(p->check_timeout_ms, 250);
	assert_int_equal(p->check_rise, 3);
	assert_int_equal(p->check_fall, 4);
	assert_int_equal(p->balance, BALANCE_SOURCE);
	assert_int_equal(p->connect_timeout_ms, 250);
	assert_int_equal(p->retries, 0);
	assert_int_equal(p->fail_max, 0);
	assert_int_equal(p->down_ms, 30000);
	assert_int_equal(p->send_proxy, 2);
	assert_int_equal(cfg->listeners[0].proxy.nbackends, 4);
	config_free(cfg);

	expect_error("listeners = (\n{ port = 1; service = \"proxy\"; }\n"
	    ");\n", 2, "proxy listener has no 'backends'");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  balance = \"leastconn\"; } );\n", 3,
	    "'balance' is a setting of service = \"proxy\" only");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  backends = ( { path = \"/s\"; } ); } );\n", 3,
	    "'backends' is a setting of service = \"proxy\" only");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( ); } );\n", 3, "'backends' must be a non-empty");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; },\n"
	    "  { address = \"10.0.0.1\"; port = 1; weight = 0; } ); } );\n",
	    4, "'weight' is 0, must be 1 to 256");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; },\n"
	    "  { address = \"10.0.0.1\"; port = 1; weight = 257; } ); } );\n",
	    4, "'weight' is 257, must be 1 to 256");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; },\n"
	    "  { address = \"10.0.0.1\"; } ); } );\n",
	    4, "backend needs 'address' and 'port'");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; port = 3; } ); } );\n",
	    3, "backend has both 'path' and 'address'/'port'");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = (\n { address = \"a..b\"; port = 3; } ); } );\n",
	    4, "is neither an IP address nor a host name");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; bogus = 1; } ); } );\n",
	    3, "unknown setting 'bogus'");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; } );\n"
	    "  balance = \"random\"; } );\n", 4, "'balance' must be one of");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; } );\n"
	    "  send_proxy = \"v3\"; } );\n", 4,
	    "'send_proxy' must be \"v1\" or \"v2\"");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; } );\n"
	    "  connect_timeout = 0; } );\n", 4,
	    "'connect_timeout' must be 0.01 to 3600 seconds");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  check_interval = 1; } );\n", 3,
	    "'check_interval' is a setting of service = \"proxy\" only");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; } );\n"
	    "  check_rise = 0; } );\n", 4, "'check_rise' is 0, must be 1 to 100");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = ( { path = \"/s\"; } );\n"
	    "  check_interval = 0.001; } );\n", 4,
	    "'check_interval' must be 0.01 to 3600 seconds");
	expect_error("listeners = (\n{ port = 1; service = \"proxy\";\n"
	    "  backends = { path = \"/s\"; }; } );\n", 3,
	    "'backends' must be a non-empty list");
}

/* tls = { ... }: the keys read into plain settings; contexts are the
 * master's (nothing is read from the files here). */
static void
test_tls_keys(void **state)
{
	struct config		*cfg;
	const struct tls_conf	*t;

	cfg = parse_ok("listeners = (\n"
	    "{ port = 1; service = \"echo\"; },\n"
	    "{ port = 2; service = \"echo\";\n"
	    "  tls = { certificate = \"c.pem\"; key = \"k.pem\"; }; },\n"
	    "{ port = 3; service = \"echo\";\n"
	    "  tls = { certificates = ( { certificate = \"a.pem\"; key = "
	    "\"a.key\"; },\n"
	    "    { certificate = \"b.pem\"; key = \"b.key\"; } );\n"
	    "    protocols = \"TLSv1.3\"; ciphers = \"ECDHE+AESGCM\";\n"
	    "    ciphersuites = \"TLS_AES_128_GCM_SHA256\";\n"
	    "    alpn = [ \"h2\", \"http/1.1\" ]; client_ca = \"ca.pem\";\n"
	    "    handshake_timeout = 2.5; }; }\n"
	    ");\n");
	assert_null(cfg->listeners[0].tls);
	t = cfg->listeners[1].tls;
	assert_non_null(t);
	assert_int_equal(t->ncerts, 1);
	assert_string_equal(t->certs[0].certificate, "c.pem");
	assert_string_equal(t->certs[0].key, "k.pem");
	assert_int_equal(t->certs[0].line, 4);
	assert_int_equal(t->min_version, 12);
	assert_int_equal(t->handshake_timeout_ms, 10000);
	assert_int_equal(t->nalpn, 0);
	assert_null(t->client_ca);
	assert_null(t->ctx);
	t = cfg->listeners[2].tls;
	assert_int_equal(t->ncerts, 2);
	assert_string_equal(t->certs[1].certificate, "b.pem");
	assert_string_equal(t->certs[1].key, "b.key");
	assert_int_equal(t->certs[1].line, 7);
	assert_int_equal(t->min_version, 13);
	assert_string_equal(t->ciphers, "ECDHE+AESGCM");
	assert_string_equal(t->ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(t->client_ca, "ca.pem");
	assert_int_equal(t->handshake_timeout_ms, 2500);
	assert_int_equal(t->nalpn, 2);
	assert_string_equal(t->alpn[1], "http/1.1");
	assert_int_equal(t->alpn_len, 3 + 9);
	assert_memory_equal(t->alpn_wire, "\002h2\010http/1.1", 12);
	config_free(cfg);
}

static void
test_tls_errors(void **state)
{
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c.pem\"; }; } );\n", 3,
	    "'tls' needs 'certificate' and 'key'");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { }; } );\n", 3, "'tls' needs 'certificate' and 'key'");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = 1; } );\n", 3, "'tls' must be a group");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    protocols = \"SSLv3\"; }; } );\n", 4,
	    "'protocols' must be \"TLSv1.2\" or \"TLSv1.3\"");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    certificates = ( { certificate = \"a\"; key = \"b\"; } ); }; "
	    "} );\n", 3, "both 'certificates' and 'certificate'/'key'");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificates = ( { certificate = \"a\"; key = \"b\"; "
	    "},\n    { certificate = \"a\"; } ); }; } );\n", 4,
	    "'certificates' entry 2 needs 'certificate' and 'key'");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificates = ( ); }; } );\n", 3,
	    "'certificates' must be a non-empty list");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    alpn = [ \"h2\", \"\" ]; }; } );\n", 4,
	    "'alpn': entry 2 must be 1 to 255 bytes");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    alpn = [ ]; }; } );\n", 4, "'alpn' must be a non-empty list");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    alpn = [ 1 ]; }; } );\n", 4, "'alpn': entry 1 is not a string");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    handshake_timeout = 0; }; } );\n", 4,
	    "'handshake_timeout' must be 0.01 to 3600 seconds");
	expect_error("listeners = (\n{ port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\";\n"
	    "    sni = true; }; } );\n", 4, "unknown setting 'sni'");
	expect_error("listeners = (\n{ port = 1; service = \"stats\";\n"
	    "  tls = { certificate = \"c\"; key = \"k\"; }; } );\n", 3,
	    "'tls' is not available on service = \"stats\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_workers_auto),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_ipv6_and_mapped),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_level_name),
		cmocka_unit_test(test_listener_checks),
		cmocka_unit_test(test_duplicate_listener),
		cmocka_unit_test(test_empty_listeners),
		cmocka_unit_test(test_no_listeners),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_access_log),
		cmocka_unit_test(test_runtime_checks),
		cmocka_unit_test(test_cpu_affinity),
		cmocka_unit_test(test_load_include_missing),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_binary_junk),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_small_errbuf),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_include),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_proxy_keys),
		cmocka_unit_test(test_proxy_service),
		cmocka_unit_test(test_tls_keys),
		cmocka_unit_test(test_tls_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
