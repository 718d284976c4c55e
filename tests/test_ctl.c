/*
 * test_ctl.c -- unit tests for the control-channel codec (common/ctl.c):
 * decode(encode(m)) == m for every message type with distinctive, zero and
 * maximal values; the little-endian wire layout of ctl.h checked byte by
 * byte (STATS, READY, STATS_REQUEST, DRAIN_ACK); rejection of unknown
 * types, bad versions, wrong payload lengths and oversized frames as soon
 * as the bytes that show it have arrived; "need more" for every strict
 * prefix of a frame without reading past it; frames back to back; zeroing
 * of fields a type does not carry; type names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/ctl.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* What every type must look like: its payload length and how many bytes
 * of the union, from its start, its fields occupy. */
static const struct tcase {
	uint8_t		 type;
	const char	*name;
	size_t		 plen;
	size_t		 used;
} cases[] = {
	{ CTL_READY, "ready", 4, 4 },
	{ CTL_HEARTBEAT, "heartbeat", 4, 4 },
	{ CTL_STATS, "stats", 72, 72 },
	{ CTL_DRAINING, "draining", 8, 8 },
	{ CTL_GOODBYE, "goodbye", 4, 4 },
	{ CTL_REOPENED, "reopened", 4, 4 },
	{ CTL_DRAIN_ACK, "drain-ack", 4, 4 },
	{ CTL_DRAIN, "drain", 4, 4 },
	{ CTL_STATS_REQUEST, "stats-request", 0, 0 },
	{ CTL_REOPEN, "reopen", 4, 4 },
	{ CTL_COVER, "cover", 8, 8 },
	{ CTL_ACCEPT, "accept", 4, 4 },
	{ CTL_ALOG_REOPEN, "alog-reopen", 8, 8 },
};

enum fill { FILL_DISTINCT, FILL_MAX, FILL_ZERO };

static const struct tcase *
tcase_find(int type)
{
	size_t	i;

	for (i = 0; i < NELEM(cases); i++) {
		if (cases[i].type == type)
			return &cases[i];
	}
	return NULL;
}

/* Values whose bytes all differ, from field to field as well. */
static uint64_t
v64(int k, enum fill f)
{
	if (f == FILL_MAX)
		return UINT64_MAX;
	if (f == FILL_ZERO)
		return 0;
	return 0x8877665544332211ULL + (uint64_t)k * 0x0101010101010101ULL;
}

static uint32_t
v32(int k, enum fill f)
{
	if (f == FILL_MAX)
		return UINT32_MAX;
	if (f == FILL_ZERO)
		return 0;
	return 0x8c7b6a59U + (uint32_t)k * 0x01010101U;
}

/*
 * A message of the given type; the bytes of the union that the type does
 * not use are garbage, which encoding must ignore.
 */
static void
msg_make(struct ctl_msg *m, uint8_t type, enum fill f)
{
	memset(m, 0xa5, sizeof(*m));
	m->type = type;
	m->slot = f == FILL_DISTINCT ? 0xc3c2c1c0U : v32(0, f);
	m->pid = f == FILL_DISTINCT ? 0x00b2a190U : v32(0, f);
	m->seq = f == FILL_DISTINCT ? 0xfedcba98U : v32(0, f);
	switch (type) {
	case CTL_READY:
		m->u.ready.generation = v32(1, f);
		break;
	case CTL_HEARTBEAT:
		m->u.heartbeat.loop_lag_us = v32(2, f);
		break;
	case CTL_STATS:
		m->u.stats.conns_active = v64(1, f);
		m->u.stats.conns_total = v64(2, f);
		m->u.stats.accepts = v64(3, f);
		m->u.stats.bytes_in = v64(4, f);
		m->u.stats.bytes_out = v64(5, f);
		m->u.stats.errors = v64(6, f);
		m->u.stats.drops = v64(7, f);
		m->u.stats.out_active = v64(8, f);
		m->u.stats.out_total = v64(9, f);
		break;
	case CTL_DRAINING:
		m->u.draining.conns_active = v64(8, f);
		break;
	case CTL_GOODBYE:
		m->u.goodbye.reason = v32(3, f);
		break;
	case CTL_REOPENED:
		m->u.reopened.error = v32(4, f);
		break;
	case CTL_DRAIN_ACK:
		m->u.drain_ack.retired = v32(10, f);
		break;
	case CTL_DRAIN:
		m->u.drain.deadline_ms = v32(5, f);
		break;
	case CTL_REOPEN:
		m->u.reopen.target = v32(9, f);
		break;
	case CTL_COVER:
		m->u.cover.slot = v32(6, f);
		m->u.cover.on = v32(7, f);
		break;
	case CTL_ACCEPT:
		m->u.accept.generation = v32(8, f);
		break;
	case CTL_ALOG_REOPEN:
		m->u.alog_reopen.key = v64(9, f);
		break;
	default:
		break;
	}
}

/* got == want field by field, and got's unused union bytes are zero. */
static void
msg_check(const struct ctl_msg *want, const struct ctl_msg *got)
{
	const struct tcase	*tc = tcase_find(want->type);
	const uint8_t		*u = (const uint8_t *)&got->u;
	size_t			 i;

	assert_non_null(tc);
	assert_int_equal(got->type, want->type);
	assert_int_equal(got->slot, want->slot);
	assert_int_equal(got->pid, want->pid);
	assert_int_equal(got->seq, want->seq);
	switch (want->type) {
	case CTL_READY:
		assert_int_equal(got->u.ready.generation,
		    want->u.ready.generation);
		break;
	case CTL_HEARTBEAT:
		assert_int_equal(got->u.heartbeat.loop_lag_us,
		    want->u.heartbeat.loop_lag_us);
		break;
	case CTL_STATS:
		assert_int_equal(got->u.stats.conns_active,
		    want->u.stats.conns_active);
		assert_int_equal(got->u.stats.conns_total,
		    want->u.stats.conns_total);
		assert_int_equal(got->u.stats.accepts, want->u.stats.accepts);
		assert_int_equal(got->u.stats.bytes_in, want->u.stats.bytes_in);
		assert_int_equal(got->u.stats.bytes_out,
		    want->u.stats.bytes_out);
		assert_int_equal(got->u.stats.errors, want->u.stats.errors);
		assert_int_equal(got->u.stats.drops, want->u.stats.drops);
		assert_int_equal(got->u.stats.out_active,
		    want->u.stats.out_active);
		assert_int_equal(got->u.stats.out_total,
		    want->u.stats.out_total);
		break;
	case CTL_DRAINING:
		assert_int_equal(got->u.draining.conns_active,
		    want->u.draining.conns_active);
		break;
	case CTL_GOODBYE:
		assert_int_equal(got->u.goodbye.reason, want->u.goodbye.reason);
		break;
	case CTL_REOPENED:
		assert_int_equal(got->u.reopened.error, want->u.reopened.error);
		break;
	case CTL_DRAIN_ACK:
		assert_int_equal(got->u.drain_ack.retired,
		    want->u.drain_ack.retired);
		break;
	case CTL_DRAIN:
		assert_int_equal(got->u.drain.deadline_ms,
		    want->u.drain.deadline_ms);
		break;
	case CTL_REOPEN:
		assert_int_equal(got->u.reopen.target, want->u.reopen.target);
		break;
	case CTL_COVER:
		assert_int_equal(got->u.cover.slot, want->u.cover.slot);
		assert_int_equal(got->u.cover.on, want->u.cover.on);
		break;
	case CTL_ACCEPT:
		assert_int_equal(got->u.accept.generation,
		    want->u.accept.generation);
		break;
	case CTL_ALOG_REOPEN:
		assert_int_equal(got->u.alog_reopen.key,
		    want->u.alog_reopen.key);
		break;
	default:
		break;
	}
	for (i = tc->used; i < sizeof(got->u); i++)
		assert_int_equal(u[i], 0);
}

static void
roundtrip(uint8_t type, enum fill f)
{
	const struct tcase	*tc = tcase_find(type);
	struct ctl_msg		 m, d;
	uint8_t			 buf[CTL_MAX_FRAME];
	ssize_t			 n;

	msg_make(&m, type, f);
	n = ctl_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, CTL_HDR_LEN + tc->plen);
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(ctl_decode(buf, n, &d), n);
	msg_check(&m, &d);
}

static void
test_roundtrip_every_type(void **state)
{
	size_t	i;

	for (i = 0; i < NELEM(cases); i++) {
		roundtrip(cases[i].type, FILL_DISTINCT);
		roundtrip(cases[i].type, FILL_MAX);
		roundtrip(cases[i].type, FILL_ZERO);
	}
}

/* The table above is every type: any other number is refused. */
static void
test_cases_are_all_types(void **state)
{
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];
	int		t, known = 0;

	for (t = 0; t < 256; t++) {
		msg_make(&m, (uint8_t)t, FILL_DISTINCT);
		if (tcase_find(t) != NULL) {
			assert_true(ctl_encode(&m, buf, sizeof(buf)) > 0);
			known++;
		} else
			assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -1);
	}
	assert_int_equal(known, NELEM(cases));
}

/* ctl.h's table, by hand: a STATS frame. */
static void
test_layout_stats(void **state)
{
	static const uint8_t want[CTL_HDR_LEN + 72] = {
		0x01,				/* version */
		0x03,				/* CTL_STATS */
		0x48, 0x00,			/* length 72 */
		0xc0, 0xc1, 0xc2, 0xc3,		/* slot */
		0x90, 0xa1, 0xb2, 0x00,		/* pid */
		0x98, 0xba, 0xdc, 0xfe,		/* seq */
		0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89,
		0x13, 0x24, 0x35, 0x46, 0x57, 0x68, 0x79, 0x8a,
		0x14, 0x25, 0x36, 0x47, 0x58, 0x69, 0x7a, 0x8b,
		0x15, 0x26, 0x37, 0x48, 0x59, 0x6a, 0x7b, 0x8c,
		0x16, 0x27, 0x38, 0x49, 0x5a, 0x6b, 0x7c, 0x8d,
		0x17, 0x28, 0x39, 0x4a, 0x5b, 0x6c, 0x7d, 0x8e,
		0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f,
		0x19, 0x2a, 0x3b, 0x4c, 0x5d, 0x6e, 0x7f, 0x90,
		0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x80, 0x91,
	};
	struct ctl_msg	m, d;
	uint8_t		buf[CTL_MAX_FRAME];

	msg_make(&m, CTL_STATS, FILL_DISTINCT);
	assert_int_equal(m.u.stats.conns_active, 0x8978675645342312ULL);
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* And the other way: the bytes mean those values. */
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(ctl_decode(want, sizeof(want), &d), sizeof(want));
	assert_int_equal(d.slot, 0xc3c2c1c0U);
	assert_int_equal(d.pid, 0x00b2a190U);
	assert_int_equal(d.seq, 0xfedcba98U);
	assert_int_equal(d.u.stats.conns_active, 0x8978675645342312ULL);
	assert_int_equal(d.u.stats.drops, 0x8f7e6d5c4b3a2918ULL);
	assert_int_equal(d.u.stats.out_total, 0x91806f5e4d3c2b1aULL);
	msg_check(&m, &d);
}

/* A 32-bit payload: READY, and an empty one: STATS_REQUEST. */
static void
test_layout_small(void **state)
{
	static const uint8_t ready[CTL_HDR_LEN + 4] = {
		0x01, 0x01, 0x04, 0x00,
		0x07, 0x00, 0x00, 0x00,
		0x39, 0x30, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x80,
		0x44, 0x33, 0x22, 0x11,
	};
	static const uint8_t empty[CTL_HDR_LEN] = {
		0x01, 0x41, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff,
		0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t alog[CTL_HDR_LEN + 8] = {
		0x01, 0x45, 0x08, 0x00,
		0x02, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];

	memset(&m, 0, sizeof(m));
	m.type = CTL_READY;
	m.slot = 7;
	m.pid = 12345;
	m.seq = 0x80000001U;
	m.u.ready.generation = 0x11223344U;
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), sizeof(ready));
	assert_memory_equal(buf, ready, sizeof(ready));

	memset(&m, 0, sizeof(m));
	m.type = CTL_STATS_REQUEST;
	m.slot = UINT32_MAX;
	m.pid = 1;
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), sizeof(empty));
	assert_memory_equal(buf, empty, sizeof(empty));

	/* An access log's key: 64 bits, little-endian. */
	memset(&m, 0, sizeof(m));
	m.type = CTL_ALOG_REOPEN;
	m.slot = 2;
	m.pid = 1;
	m.u.alog_reopen.key = 0x0807060504030201ULL;
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), sizeof(alog));
	assert_memory_equal(buf, alog, sizeof(alog));
	assert_string_equal(ctl_type_name(CTL_ALOG_REOPEN), "alog-reopen");
}

/* DRAIN_ACK, the worker's word that it stopped accepting, by hand; its
 * frame is refused one byte short or long of its payload. */
static void
test_layout_drain_ack(void **state)
{
	static const uint8_t ack[CTL_HDR_LEN + 4] = {
		0x01, 0x07, 0x04, 0x00,
		0x01, 0x00, 0x00, 0x00,
		0xd2, 0x04, 0x00, 0x00,
		0x05, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00,
	};
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];

	memset(&m, 0, sizeof(m));
	m.type = CTL_DRAIN_ACK;
	m.slot = 1;
	m.pid = 1234;
	m.seq = 5;
	m.u.drain_ack.retired = 2;
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), sizeof(ack));
	assert_memory_equal(buf, ack, sizeof(ack));
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(ctl_decode(ack, sizeof(ack), &m), sizeof(ack));
	assert_int_equal(m.type, CTL_DRAIN_ACK);
	assert_int_equal(m.u.drain_ack.retired, 2);
	assert_string_equal(ctl_type_name(CTL_DRAIN_ACK), "drain-ack");

	memcpy(buf, ack, sizeof(ack));
	buf[2] = 0x03;
	assert_int_equal(ctl_decode(buf, sizeof(ack), &m), -1);
	buf[2] = 0x05;
	buf[sizeof(ack)] = 0;
	assert_int_equal(ctl_decode(buf, sizeof(ack) + 1, &m), -1);
	buf[2] = 0x04;
	assert_int_equal(ctl_decode(buf, sizeof(ack) - 1, &m), 0);
}

static void
test_encode_unknown_type(void **state)
{
	static const uint8_t	bad[] = { 0, 8, 63, 70, 127, 128, 255 };
	struct ctl_msg		m;
	uint8_t			buf[CTL_MAX_FRAME];
	size_t			i;

	for (i = 0; i < NELEM(bad); i++) {
		msg_make(&m, bad[i], FILL_DISTINCT);
		assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -1);
	}
}

/* Exactly the frame's length fits, one byte less does not; the buffers are
 * exactly cap bytes so a write past cap is caught by ASan. */
static void
test_encode_cap(void **state)
{
	struct ctl_msg	m;
	uint8_t		*buf;
	size_t		 i, cap, flen;

	for (i = 0; i < NELEM(cases); i++) {
		msg_make(&m, cases[i].type, FILL_DISTINCT);
		flen = CTL_HDR_LEN + cases[i].plen;
		for (cap = 0; cap <= flen; cap++) {
			buf = malloc(cap);
			assert_true(cap == 0 || buf != NULL);
			assert_int_equal(ctl_encode(&m, buf, cap),
			    cap == flen ? (ssize_t)flen : -1);
			free(buf);
		}
	}
}

/* A valid frame of the given type in buf; its length. */
static size_t
frame_make(uint8_t *buf, uint8_t type)
{
	struct ctl_msg	m;
	ssize_t		n;

	msg_make(&m, type, FILL_DISTINCT);
	n = ctl_encode(&m, buf, CTL_MAX_FRAME);
	assert_true(n >= CTL_HDR_LEN);
	return n;
}

/* Decode exactly buf[0..len) from a heap copy of that size. */
static ssize_t
decode_exact(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	uint8_t	*copy;
	ssize_t	 rc;

	copy = malloc(len);
	assert_true(len == 0 || copy != NULL);
	if (len > 0)
		memcpy(copy, buf, len);
	rc = ctl_decode(copy, len, m);
	free(copy);
	return rc;
}

static void
test_bad_version(void **state)
{
	static const uint8_t	bad[] = { 0, 2, 0x81, 0xff };
	struct ctl_msg		m;
	uint8_t			buf[CTL_MAX_FRAME];
	size_t			i, n, len;

	for (i = 0; i < NELEM(bad); i++) {
		n = frame_make(buf, CTL_READY);
		buf[0] = bad[i];
		/* From the first byte on, whatever follows. */
		for (len = 1; len <= n; len++)
			assert_int_equal(decode_exact(buf, len, &m), -1);
	}
}

static void
test_unknown_type(void **state)
{
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];
	size_t		len;
	int		t;

	for (t = 0; t < 256; t++) {
		if (tcase_find(t) != NULL)
			continue;
		frame_make(buf, CTL_READY);
		buf[1] = (uint8_t)t;
		/* Two bytes are enough to tell; a whole header too. */
		for (len = 2; len <= CTL_HDR_LEN + 4; len++)
			assert_int_equal(decode_exact(buf, len, &m), -1);
	}
}

/* A payload length other than the type's is malformed, never "more". */
static void
test_bad_length(void **state)
{
	static const uint16_t	deltas[] = { 1, 2, 3, 4, 8, 56, 256, 0x8000 };
	struct ctl_msg		m;
	uint8_t			buf[CTL_MAX_FRAME];
	size_t			i, j, n, plen, bad, len;

	for (i = 0; i < NELEM(cases); i++) {
		plen = cases[i].plen;
		for (j = 0; j < NELEM(deltas) * 2; j++) {
			/* Longer, then shorter (when there is room). */
			if (j % 2 == 0)
				bad = plen + deltas[j / 2];
			else if (deltas[j / 2] <= plen)
				bad = plen - deltas[j / 2];
			else
				continue;
			if (bad > 0xffff)
				continue;
			memset(buf, 0x5a, sizeof(buf));
			n = frame_make(buf, cases[i].type);
			buf[2] = bad & 0xff;
			buf[3] = bad >> 8;
			/* The header alone, the claimed frame, the real one
			 * with trailing bytes, and everything. */
			assert_int_equal(decode_exact(buf, CTL_HDR_LEN, &m), -1);
			len = CTL_HDR_LEN + bad;
			if (len <= sizeof(buf))
				assert_int_equal(decode_exact(buf, len, &m),
				    -1);
			assert_int_equal(decode_exact(buf, n, &m), -1);
			assert_int_equal(decode_exact(buf, n + 8, &m), -1);
			assert_int_equal(decode_exact(buf, sizeof(buf), &m),
			    -1);
		}
	}
}

/* Both length bytes count: 72 + 256 is not 72. */
static void
test_length_high_byte(void **state)
{
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];

	frame_make(buf, CTL_STATS);
	assert_int_equal(buf[2], 72);
	buf[3] = 1;
	assert_int_equal(decode_exact(buf, sizeof(buf), &m), -1);
	frame_make(buf, CTL_STATS_REQUEST);
	buf[3] = 1;
	assert_int_equal(decode_exact(buf, sizeof(buf), &m), -1);
}

static void
test_too_long(void **state)
{
	static const uint16_t	lens[] = {
		CTL_MAX_FRAME - CTL_HDR_LEN + 1, CTL_MAX_FRAME, 0x7fff, 0xffff
	};
	struct ctl_msg		m;
	uint8_t			buf[CTL_MAX_FRAME];
	size_t			i, j;

	for (i = 0; i < NELEM(cases); i++) {
		for (j = 0; j < NELEM(lens); j++) {
			frame_make(buf, cases[i].type);
			buf[2] = lens[j] & 0xff;
			buf[3] = lens[j] >> 8;
			assert_int_equal(decode_exact(buf, CTL_HDR_LEN, &m), -1);
			assert_int_equal(decode_exact(buf, sizeof(buf), &m),
			    -1);
		}
	}
}

/* Every strict prefix of a valid frame asks for more, reading only what
 * it was given (the copies are exactly sized, for ASan). */
static void
test_partial(void **state)
{
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];
	size_t		i, n, len;

	for (i = 0; i < NELEM(cases); i++) {
		n = frame_make(buf, cases[i].type);
		for (len = 0; len < n; len++)
			assert_int_equal(decode_exact(buf, len, &m), 0);
		assert_int_equal(decode_exact(buf, n, &m), n);
	}
}

/* Extra bytes after a frame are the next frame's, not this one's. */
static void
test_back_to_back(void **state)
{
	struct ctl_msg	a, b, m;
	uint8_t		buf[2 * CTL_MAX_FRAME];
	size_t		i, j, n1, n2;
	ssize_t		rc;

	for (i = 0; i < NELEM(cases); i++) {
		for (j = 0; j < NELEM(cases); j++) {
			msg_make(&a, cases[i].type, FILL_DISTINCT);
			msg_make(&b, cases[j].type, FILL_MAX);
			b.seq = 42;
			n1 = ctl_encode(&a, buf, CTL_MAX_FRAME);
			n2 = ctl_encode(&b, buf + n1, CTL_MAX_FRAME);
			assert_int_equal(n1, CTL_HDR_LEN + cases[i].plen);
			assert_int_equal(n2, CTL_HDR_LEN + cases[j].plen);

			memset(&m, 0xff, sizeof(m));
			rc = decode_exact(buf, n1 + n2, &m);
			assert_int_equal(rc, n1);
			msg_check(&a, &m);
			memset(&m, 0xff, sizeof(m));
			rc = decode_exact(buf + rc, n1 + n2 - rc, &m);
			assert_int_equal(rc, n2);
			msg_check(&b, &m);

			/* The second one cut short: the first still comes
			 * out, then "more". */
			assert_int_equal(decode_exact(buf, n1 + n2 - 1, &m),
			    n1);
			assert_int_equal(decode_exact(buf + n1, n2 - 1, &m), 0);
		}
	}
}

/* A decoded message carries nothing from what was in m before. */
static void
test_zeroes_unused(void **state)
{
	struct ctl_msg	m;
	uint8_t		buf[CTL_MAX_FRAME];
	size_t		n;

	n = frame_make(buf, CTL_READY);
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(ctl_decode(buf, n, &m), n);
	assert_int_equal(m.u.ready.generation, v32(1, FILL_DISTINCT));
	assert_int_equal(m.u.stats.conns_active >> 32, 0);
	assert_int_equal(m.u.stats.conns_total, 0);
	assert_int_equal(m.u.stats.drops, 0);

	n = frame_make(buf, CTL_DRAINING);
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(ctl_decode(buf, n, &m), n);
	assert_int_equal(m.u.draining.conns_active, v64(8, FILL_DISTINCT));
	assert_int_equal(m.u.stats.conns_total, 0);

	n = frame_make(buf, CTL_STATS_REQUEST);
	memset(&m, 0xff, sizeof(m));
	assert_int_equal(ctl_decode(buf, n, &m), n);
	assert_int_equal(m.type, CTL_STATS_REQUEST);
	assert_int_equal(m.u.stats.conns_active, 0);
	assert_int_equal(m.u.stats.drops, 0);
}

static void
test_type_name(void **state)
{
	static const int	unknown[] = {
		0, 8, 63, 70, 127, 255, 256, 256 + CTL_READY, -1, -256
	};
	size_t			i;

	for (i = 0; i < NELEM(cases); i++)
		assert_string_equal(ctl_type_name(cases[i].type),
		    cases[i].name);
	for (i = 0; i < NELEM(unknown); i++)
		assert_string_equal(ctl_type_name(unknown[i]), "unknown");
}

static void
test_direction(void **state)
{
	assert_true(CTL_FROM_WORKER(CTL_READY));
	assert_true(CTL_FROM_WORKER(CTL_REOPENED));
	assert_true(CTL_FROM_WORKER(CTL_DRAIN_ACK));
	assert_false(CTL_FROM_WORKER(CTL_DRAIN));
	assert_false(CTL_FROM_WORKER(CTL_REOPEN));
	assert_false(CTL_FROM_WORKER(CTL_ALOG_REOPEN));
	assert_false(CTL_FROM_WORKER(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_cases_are_all_types),
		cmocka_unit_test(test_layout_stats),
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_drain_ack),
		cmocka_unit_test(test_encode_unknown_type),
		cmocka_unit_test(test_encode_cap),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_bad_length),
		cmocka_unit_test(test_length_high_byte),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_zeroes_unused),
		cmocka_unit_test(test_type_name),
		cmocka_unit_test(test_direction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
