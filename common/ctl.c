/*
 * ctl.c -- encode and decode control-channel frames (layout in ctl.h).
 *
 * Each message type is described once, as a list of fields (size and
 * offset in struct ctl_msg); encoding and decoding walk that list, so a
 * new message is one table entry and both directions agree by
 * construction.  Decoding checks the version, the type, the exact payload
 * length and the frame bound before it reads a payload byte.
 */
#include <string.h>

#include "common/ctl.h"

#define CTL_MAX_FIELDS	9

struct ctl_field {
	uint8_t		size;		/* 4 or 8 */
	uint16_t	off;		/* in struct ctl_msg */
};

struct ctl_type_desc {
	uint8_t			type;
	const char		*name;
	uint8_t			nfields;
	struct ctl_field	fields[CTL_MAX_FIELDS];
};

#define U32(f)	{ 4, offsetof(struct ctl_msg, f) }
#define U64(f)	{ 8, offsetof(struct ctl_msg, f) }

static const struct ctl_type_desc types[] = {
	{ CTL_READY, "ready", 1, { U32(u.ready.generation) } },
	{ CTL_HEARTBEAT, "heartbeat", 1, { U32(u.heartbeat.loop_lag_us) } },
	{ CTL_STATS, "stats", 9, {
		U64(u.stats.conns_active), U64(u.stats.conns_total),
		U64(u.stats.accepts), U64(u.stats.bytes_in),
		U64(u.stats.bytes_out), U64(u.stats.errors),
		U64(u.stats.drops), U64(u.stats.out_active),
		U64(u.stats.out_total) } },
	{ CTL_DRAINING, "draining", 1, { U64(u.draining.conns_active) } },
	{ CTL_GOODBYE, "goodbye", 1, { U32(u.goodbye.reason) } },
	{ CTL_REOPENED, "reopened", 1, { U32(u.reopened.error) } },
	{ CTL_DRAIN_ACK, "drain-ack", 1, { U32(u.drain_ack.retired) } },
	{ CTL_DRAIN, "drain", 1, { U32(u.drain.deadline_ms) } },
	{ CTL_STATS_REQUEST, "stats-request", 0, { { 0, 0 } } },
	{ CTL_REOPEN, "reopen", 1, { U32(u.reopen.target) } },
	{ CTL_COVER, "cover", 2, { U32(u.cover.slot), U32(u.cover.on) } },
	{ CTL_ACCEPT, "accept", 1, { U32(u.accept.generation) } },
	{ CTL_ALOG_REOPEN, "alog-reopen", 1, { U64(u.alog_reopen.key) } },
};

static const struct ctl_type_desc *
type_desc(int type)
{
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (types[i].type == type)
			return &types[i];
	}
	return NULL;
}

static size_t
payload_len(const struct ctl_type_desc *d)
{
	size_t	len = 0;
	int	i;

	for (i = 0; i < d->nfields; i++)
		len += d->fields[i].size;
	return len;
}

static void
put_le(uint8_t *p, uint64_t v, int size)
{
	int	i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int size)
{
	uint64_t	v = 0;
	int		i;

	for (i = size - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

const char *
ctl_type_name(int type)
{
	const struct ctl_type_desc	*d = type_desc(type);

	return d == NULL ? "unknown" : d->name;
}

ssize_t
ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
{
	const struct ctl_type_desc	*d = type_desc(m->type);
	const uint8_t			*src = (const uint8_t *)m;
	uint8_t				*p;
	uint32_t			 v32;
	uint64_t			 v64;
	size_t				 len;
	int				 i;

	if (d == NULL)
		return -1;
	len = payload_len(d);
	if (CTL_HDR_LEN + len > cap)
		return -1;
	buf[0] = CTL_VERSION;
	buf[1] = m->type;
	put_le(buf + 2, len, 2);
	put_le(buf + 4, m->slot, 4);
	put_le(buf + 8, m->pid, 4);
	put_le(buf + 12, m->seq, 4);
	p = buf + CTL_HDR_LEN;
	for (i = 0; i < d->nfields; i++) {
		if (d->fields[i].size == 4) {
			memcpy(&v32, src + d->fields[i].off, 4);
			put_le(p, v32, 4);
		} else {
			memcpy(&v64, src + d->fields[i].off, 8);
			put_le(p, v64, 8);
		}
		p += d->fields[i].size;
	}
	return CTL_HDR_LEN + len;
}

ssize_t
ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	const struct ctl_type_desc	*d;
	const uint8_t			*p;
	uint8_t				*dst = (uint8_t *)m;
	uint32_t			 v32;
	uint64_t			 v64;
	size_t				 plen;
	int				 i;

	/* Judge what has arrived before waiting for more of it. */
	if (len >= 1 && buf[0] != CTL_VERSION)
		return -1;
	if (len >= 2 && (d = type_desc(buf[1])) == NULL)
		return -1;
	if (len < CTL_HDR_LEN)
		return 0;
	d = type_desc(buf[1]);
	plen = get_le(buf + 2, 2);
	if (plen != payload_len(d) || CTL_HDR_LEN + plen > CTL_MAX_FRAME)
		return -1;
	if (len < CTL_HDR_LEN + plen)
		return 0;

	memset(m, 0, sizeof(*m));
	m->type = buf[1];
	m->slot = (uint32_t)get_le(buf + 4, 4);
	m->pid = (uint32_t)get_le(buf + 8, 4);
	m->seq = (uint32_t)get_le(buf + 12, 4);
	p = buf + CTL_HDR_LEN;
	for (i = 0; i < d->nfields; i++) {
		if (d->fields[i].size == 4) {
			v32 = (uint32_t)get_le(p, 4);
			memcpy(dst + d->fields[i].off, &v32, 4);
		} else {
			v64 = get_le(p, 8);
			memcpy(dst + d->fields[i].off, &v64, 8);
		}
		p += d->fields[i].size;
	}
	return CTL_HDR_LEN + plen;
}
