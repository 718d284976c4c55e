/*
 * test_admin.c -- unit tests for the admin request parser (admin_parse in
 * server/admin.c): every command and --json, spacing, and the errors for
 * empty requests, unknown commands and options, too many words, words too
 * long and bytes that are not printable text; with error buffers too small
 * for the message.  Lines are passed in exactly sized, unterminated heap
 * copies, so under ASan a read past len is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/admin.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define ERRLEN		128

static const struct {
	const char	*name;
	enum admin_cmd	 cmd;
} commands[] = {
	{ "help", ADMIN_HELP },
	{ "status", ADMIN_STATUS },
	{ "workers", ADMIN_WORKERS },
	{ "stats", ADMIN_STATS },
	{ "stop", ADMIN_STOP },
	{ "quit", ADMIN_QUIT },
	{ "reload", ADMIN_RELOAD },
	{ "reopen", ADMIN_REOPEN },
	{ "upgrade", ADMIN_UPGRADE },
};

/* admin_parse on line[0..len), copied without a terminator; err is
 * errlen bytes of heap, and a success must leave it alone. */
static int
parse_n(const char *line, size_t len, struct admin_req *req, char *err,
    size_t errlen)
{
	char	*copy, *e;
	int	 rc;

	copy = malloc(len);
	e = malloc(errlen);
	assert_true(len == 0 || copy != NULL);
	assert_non_null(e);
	if (len > 0)
		memcpy(copy, line, len);
	memset(e, 'X', errlen);
	memset(req, 0xff, sizeof(*req));
	rc = admin_parse(copy, len, req, e, errlen);
	if (rc == 0) {
		/* Success says nothing in err. */
		assert_int_equal(e[0], 'X');
	} else {
		assert_int_equal(rc, -1);
		assert_non_null(memchr(e, '\0', errlen));
	}
	memcpy(err, e, errlen);
	free(e);
	free(copy);
	return rc;
}

static int
parse(const char *line, struct admin_req *req, char *err)
{
	return parse_n(line, strlen(line), req, err, ERRLEN);
}

/* The line is refused, and the message contains what. */
static void
refused_n(const char *line, size_t len, const char *what)
{
	struct admin_req	req;
	char			err[ERRLEN];

	assert_int_equal(parse_n(line, len, &req, err, sizeof(err)), -1);
	if (strstr(err, what) == NULL)
		fail_msg("\"%s\": error \"%s\" does not say \"%s\"", line, err,
		    what);
}

static void
refused(const char *line, const char *what)
{
	refused_n(line, strlen(line), what);
}

static void
test_commands(void **state)
{
	struct admin_req	req;
	char			err[ERRLEN], line[64];
	size_t			i;

	for (i = 0; i < NELEM(commands); i++) {
		assert_int_equal(parse(commands[i].name, &req, err), 0);
		assert_int_equal(req.cmd, commands[i].cmd);
		assert_int_equal(req.json, 0);

		snprintf(line, sizeof(line), "%s --json", commands[i].name);
		assert_int_equal(parse(line, &req, err), 0);
		assert_int_equal(req.cmd, commands[i].cmd);
		assert_int_equal(req.json, 1);
	}
}

/* "workers N", "+N", "-N": a count change; anything else after
 * "workers" but --json is refused. */
static void
test_workers_count(void **state)
{
	static const struct {
		const char	*line;
		int		 n, relative;
	} ok[] = {
		{ "workers 4", 4, 0 },
		{ "workers +1", 1, 1 },
		{ "workers -1", -1, 1 },
		{ "  workers   1024 ", 1024, 0 },
		{ "workers 0", 0, 0 },
		{ "workers 9999", 9999, 0 },
	};
	static const char *const bad[] = {
		"workers 10000", "workers x", "workers +", "workers -",
		"workers 1x", "workers +-1", "workers 0x10", "workers --1",
	};
	struct admin_req	req;
	char			err[ERRLEN];
	size_t			i;

	for (i = 0; i < NELEM(ok); i++) {
		assert_int_equal(parse(ok[i].line, &req, err), 0);
		assert_int_equal(req.cmd, ADMIN_RESIZE);
		assert_int_equal(req.nworkers, ok[i].n);
		assert_int_equal(req.relative, ok[i].relative);
		assert_int_equal(req.json, 0);
	}
	for (i = 0; i < NELEM(bad); i++)
		refused(bad[i], "is not a count");
	refused("status 4", "unknown option '4'");
	refused("workers 4 --json", "too many words");
	assert_int_equal(parse("workers --json", &req, err), 0);
	assert_int_equal(req.cmd, ADMIN_WORKERS);
}

/* "reload --canary N": whole seconds, 0 to 3600; plain reload: the
 * file's (-1). */
static void
test_reload_canary(void **state)
{
	static const char *const bad[] = {
		"reload --canary 3601", "reload --canary x",
		"reload --canary -1", "reload --canary 1.5", "reload --canary 99999",
	};
	struct admin_req	req;
	char			err[ERRLEN];
	size_t			i;

	assert_int_equal(parse("reload", &req, err), 0);
	assert_int_equal(req.cmd, ADMIN_RELOAD);
	assert_int_equal(req.canary_ms, -1);
	assert_int_equal(parse(" reload  --canary  30 ", &req, err), 0);
	assert_int_equal(req.cmd, ADMIN_RELOAD);
	assert_int_equal(req.canary_ms, 30000);
	assert_int_equal(parse("reload --canary 0", &req, err), 0);
	assert_int_equal(req.canary_ms, 0);
	assert_int_equal(parse("reload --canary 3600", &req, err), 0);
	assert_int_equal(req.canary_ms, 3600000);
	for (i = 0; i < NELEM(bad); i++)
		refused(bad[i], "is not a number of seconds");
	refused("reload --canary", "how many seconds?");
	refused("status --canary 3", "too many words");
	refused("reload --canary 3 x", "too many words");
}

static void
test_spaces(void **state)
{
	static const struct {
		const char	*line;
		enum admin_cmd	 cmd;
		int		 json;
	} ok[] = {
		{ " status", ADMIN_STATUS, 0 },
		{ "status ", ADMIN_STATUS, 0 },
		{ "   workers   ", ADMIN_WORKERS, 0 },
		{ "stats    --json", ADMIN_STATS, 1 },
		{ "  stop  --json  ", ADMIN_STOP, 1 },
	};
	struct admin_req	req;
	char			err[ERRLEN];
	size_t			i;

	for (i = 0; i < NELEM(ok); i++) {
		assert_int_equal(parse(ok[i].line, &req, err), 0);
		assert_int_equal(req.cmd, ok[i].cmd);
		assert_int_equal(req.json, ok[i].json);
	}
}

/* Only len bytes count: what follows them is not read. */
static void
test_len_bounds_line(void **state)
{
	struct admin_req	req;
	char			err[ERRLEN];

	assert_int_equal(parse_n("quit --json", 4, &req, err, ERRLEN), 0);
	assert_int_equal(req.cmd, ADMIN_QUIT);
	assert_int_equal(req.json, 0);
	assert_int_equal(parse_n("stats\x01", 5, &req, err, ERRLEN), 0);
	assert_int_equal(req.cmd, ADMIN_STATS);
	/* "stat" is not "stats" or "status". */
	refused_n("status", 4, "unknown command 'stat'");
}

static void
test_empty(void **state)
{
	refused("", "empty request");
	refused(" ", "empty request");
	refused("        ", "empty request");
}

static void
test_unknown_command(void **state)
{
	refused("frob", "unknown command 'frob'");
	refused("frob --json", "unknown command 'frob'");
	refused("statuss", "'statuss'");
	refused("--json", "'--json'");
	/* Fifteen bytes is the longest word: unknown, not too long. */
	refused("abcdefghijklmno", "unknown command 'abcdefghijklmno'");
}

static void
test_unknown_option(void **state)
{
	refused("status --xml", "unknown option '--xml'");
	refused("status json", "unknown option 'json'");
	refused("status --jso", "unknown option");
	refused("status --json=1", "unknown option");
	refused("status -j", "unknown option");
	refused("frob --xml", "unknown option");
}

static void
test_too_many_words(void **state)
{
	refused("status --json --json", "too many words");
	refused("a b c", "too many words");
	refused("  help  --json  x  ", "too many words");
}

static void
test_word_too_long(void **state)
{
	char	line[ADMIN_MAX_LINE + 1];

	refused("abcdefghijklmnop", "too long");
	refused("status --jsonjsonjsonjso", "too long");
	refused("   abcdefghijklmnopq --json", "too long");
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	refused(line, "too long");
	memcpy(line, "status ", 7);
	refused(line, "too long");
}

static void
test_not_text(void **state)
{
	static const struct {
		const char	*line;
		size_t		 len;
	} bad[] = {
		{ "status\0", 7 },
		{ "sta\0tus", 7 },
		{ "\0", 1 },
		{ "status\r", 7 },
		{ "status\n", 7 },
		{ "status\t--json", 13 },
		{ "status \x80", 8 },
		{ "\xc3\xa9tat", 5 },
		{ "\x1b[Astatus", 9 },
		{ "status\x7f", 7 },
		{ "status --json\xff", 14 },
	};
	size_t	i;

	for (i = 0; i < NELEM(bad); i++)
		refused_n(bad[i].line, bad[i].len, "not text");
}

/* A previous request leaves nothing behind, even json. */
static void
test_req_reset(void **state)
{
	struct admin_req	req;
	char			err[ERRLEN];

	memset(&req, 0, sizeof(req));
	req.json = 1;
	assert_int_equal(admin_parse("help", 4, &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, ADMIN_HELP);
	assert_int_equal(req.json, 0);
}

/* Errors truncate to the buffer given, terminated (ASan: heap-sized). */
static void
test_small_err(void **state)
{
	static const char	*lines[] = {
		"", "   ", "frob", "abcdefghijklmno", "status --xml",
		"a b c", "abcdefghijklmnop", "status\r",
	};
	static const size_t	 sizes[] = { 1, 2, 8 };
	struct admin_req	 req;
	char			 full[ERRLEN], err[ERRLEN];
	size_t			 i, j, n;

	for (i = 0; i < NELEM(lines); i++) {
		assert_int_equal(parse(lines[i], &req, full), -1);
		n = strlen(full);
		assert_true(n > 8);
		for (j = 0; j < NELEM(sizes); j++) {
			assert_int_equal(parse_n(lines[i], strlen(lines[i]),
			    &req, err, sizes[j]), -1);
			assert_int_equal(strlen(err), sizes[j] - 1);
			assert_memory_equal(err, full, sizes[j] - 1);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_spaces),
		cmocka_unit_test(test_workers_count),
		cmocka_unit_test(test_reload_canary),
		cmocka_unit_test(test_len_bounds_line),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_too_many_words),
		cmocka_unit_test(test_word_too_long),
		cmocka_unit_test(test_not_text),
		cmocka_unit_test(test_req_reset),
		cmocka_unit_test(test_small_err),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
