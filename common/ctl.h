/*
 * ctl.h -- the master<->worker control channel codec.
 *
 * A frame is a fixed 16-byte header followed by the payload:
 *
 *	offset	size	field
 *	0	1	protocol version (CTL_VERSION)
 *	1	1	message type
 *	2	2	payload length
 *	4	4	worker slot
 *	8	4	sender pid
 *	12	4	sequence number (per sender, wraps)
 *
 * All integers little-endian.  Every message type has a fixed payload of
 * 32- and 64-bit fields; a frame whose length differs from its type's, of
 * an unknown type or version, or longer than CTL_MAX_FRAME, is malformed.
 * Types are numbered in ranges: 1-63 worker to master, 64-127 master to
 * worker; a new message takes a new number, a changed layout a new version.
 *
 * Pure functions over byte buffers: no I/O, no allocation.
 */
#ifndef PF_CTL_H
#define PF_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_VERSION	1
#define CTL_HDR_LEN	16
#define CTL_MAX_FRAME	256

enum ctl_type {
	/* worker -> master */
	CTL_READY = 1,		/* generation */
	CTL_HEARTBEAT = 2,	/* loop lag */
	CTL_STATS = 3,		/* counters */
	CTL_DRAINING = 4,	/* active connections left */
	CTL_GOODBYE = 5,	/* reason */
	CTL_REOPENED = 6,	/* logs reopened; error (0 or errno) */
	CTL_DRAIN_ACK = 7,	/* DRAIN taken: accepts nothing under its own
				 * config any more; retired listeners still in
				 * their grace (see worker.c) */
	/* master -> worker */
	CTL_DRAIN = 64,		/* deadline */
	CTL_STATS_REQUEST = 65,
	CTL_REOPEN = 66,	/* target: the fd passed, or syslog */
	CTL_COVER = 67,		/* slot, on: accept on that slot's sockets */
	CTL_ACCEPT = 68,	/* generation committed: start accepting */
	CTL_ALOG_REOPEN = 69,	/* key: an access log's file, passed */
};

#define CTL_FROM_WORKER(t)	((t) >= 1 && (t) < 64)

struct ctl_stats {
	uint64_t	conns_active;
	uint64_t	conns_total;
	uint64_t	accepts;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint64_t	errors;
	uint64_t	drops;
	uint64_t	out_active;	/* pf_connect(): made, still open */
	uint64_t	out_total;	/* pf_connect(): connected */
};
/* The codec (ctl.c) and the reports (server/status.c) list every field. */
_Static_assert(sizeof(struct ctl_stats) == 9 * sizeof(uint64_t),
    "a new counter needs ctl.c's table and status.c's reports");

/* CTL_REOPEN's target: write to the descriptor that comes with it, or to
 * syslog (no descriptor).  The access logs' files come before it, one
 * CTL_ALOG_REOPEN each with its descriptor, so the worker's REOPENED
 * answers for them too. */
#define CTL_REOPEN_FD		0
#define CTL_REOPEN_SYSLOG	1

struct ctl_msg {
	uint8_t		type;
	uint32_t	slot;
	uint32_t	pid;
	uint32_t	seq;
	union {
		struct { uint32_t generation; }		ready;
		struct { uint32_t loop_lag_us; }		heartbeat;
		struct ctl_stats				stats;
		struct { uint64_t conns_active; }		draining;
		struct { uint32_t reason; }			goodbye;
		struct { uint32_t error; }			reopened;
		struct { uint32_t retired; }			drain_ack;
		struct { uint32_t deadline_ms; }		drain;
		struct { uint32_t target; }			reopen;
		struct { uint32_t slot, on; }			cover;
		struct { uint32_t generation; }		accept;
		struct { uint64_t key; }			alog_reopen;
	} u;
};

/* Encode m into buf; the frame length, or -1 if m->type is unknown or
 * cap is too small. */
ssize_t		 ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap);
/*
 * Decode the first frame of buf[0..len): the frame's length when m is
 * filled, 0 when more bytes are needed, -1 when the bytes are malformed
 * (the peer must be dropped).
 */
ssize_t		 ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m);
const char	*ctl_type_name(int type);

#endif
