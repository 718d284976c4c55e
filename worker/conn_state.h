/*
 * conn_state.h -- the connection object's fields, private to the two
 * files that own it: conn.c (its life, reading, writing, events) and
 * conninfo.c (what it knows: the PROXY header that names the client,
 * addresses, counters).
 */
#ifndef PF_CONN_STATE_H
#define PF_CONN_STATE_H

#include <sys/queue.h>

#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdint.h>

#include "common/emitter.h"
#include "common/iplimit.h"
#include "common/proxyproto.h"

struct wctx;
struct pf_listener;

#define C_PAUSED	0x0001
#define C_READ_PENDING	0x0002	/* readable while paused */
#define C_READ_EOF	0x0004	/* the peer sent FIN */
#define C_ENDING	0x0008	/* end(): FIN once the queue is flushed */
#define C_WR_SHUT	0x0010	/* our FIN is sent */
#define C_FAILED	0x0020	/* error pending, reported from the loop */
#define C_CLOSED	0x0040	/* teardown requested */
#define C_HALF_OPEN	0x0080
#define C_NEED_DRAIN	0x0100	/* write() returned 0: emit drain */
#define C_TIMED_OUT	0x0200	/* timeout emitted since last activity */
#define C_TIMED		0x0400	/* on the timed list */
#define C_HAD_ERROR	0x0800
#define C_IDLE		0x1000	/* idle_timeout passed: close */
#define C_YIELD		0x2000	/* pf_conn_yield(): "drain" next turn */
#define C_PROXY		0x4000	/* awaiting the PROXY header: not announced */
#define C_CONNECTING	0x8000	/* outbound: resolving or connecting */
#define C_OUTBOUND	0x10000	/* made by pf_connect(), not accepted */
#define C_ANNOUNCED	0x20000	/* "connection" emitted (refused: never) */
#define C_TLS_HS	0x40000	/* TLS handshake running: not announced */
#define C_PIPE_NO_END	0x80000	/* its pipe does not forward "end" */
#define C_SHUT_PENDING	0x100000 /* drain began before it was announced */

/* The client's address from accept(), kept after the connection (and
 * its PROXY block) only on a listener with an access log: a reset
 * connection has no peer name left to ask for.  A named Unix peer keeps
 * only its family. */
struct conn_peer {
	socklen_t		len;
	struct sockaddr_in6	sa;
};

/* What a PROXY header said; the TLVs kept point into raw. */
struct conn_proxy {
	struct pp_header	hdr;
	uint8_t			raw[PP_HEADER_MAX];
};

struct pf_conn {
	struct pf_emitter	 em;
	struct event		 ev;
	TAILQ_ENTRY(pf_conn)	 entry;		/* every connection */
	TAILQ_ENTRY(pf_conn)	 timed_entry;	/* timeout or lingering */
	struct wctx		*w;
	struct pf_listener	*listener;
	struct evbuffer		*out;		/* NULL while nothing queued */
	void			*data;
	struct conn_proxy	*pp;		/* PROXY listener, else NULL */
	struct evdns_getaddrinfo_request *dns;	/* resolving: holds busy */
	struct ssl_st		*ssl;		/* TLS listener, else NULL */
	struct pf_conn		*pipe_to;	/* pf_conn_pipe: we feed it */
	struct pf_conn		*pipe_from;	/* it feeds us */
	const char		*why;		/* why it closed */
	const char		*errmsg;	/* instead of strerror(err) */
	uint64_t		 start_ms;
	uint64_t		 last_ms;
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint32_t		 timeout_ms;
	uint32_t		 connect_ms;	/* while connecting */
	uint32_t		 idle_ms;	/* the listener's idle_timeout */
	uint32_t		 high_water;
	uint32_t		 max_output;	/* queued bytes: the hard cap */
	int			 fd;
	int			 err;
	uint32_t		 flags;
	uint32_t		 busy;		/* dispatches and emits running */
	struct ipl_ref		 ipl;		/* per-address count */
};

/* conn.c: the object's life, for the files that make connections. */
struct pf_conn	*conn_new(struct wctx *w, struct pf_listener *l, int fd,
		    size_t extra);
/* Watch fd, which c owns from now on (0), or -1: fd is still the
 * caller's. */
int		 conn_attach(struct pf_conn *c, int fd);
void		 conn_release(struct pf_conn *c);
void		 conn_close(struct pf_conn *c, int had_error, const char *why);
void		 conn_fail(struct pf_conn *c, int err);
int		 conn_live(const struct pf_conn *c);
void		 timed_update(struct pf_conn *c);

/* conn.c, for the stages before the service (conn_stage.c). */
void		 conn_touch(struct pf_conn *c);
void		 conn_read(struct pf_conn *c, int to_eagain);
/* conn_stage.c: the PROXY header read, the TLS handshake going on. */
void		 conn_proxy_stage(struct pf_conn *c, short what);
void		 conn_tls_stage(struct pf_conn *c, short what);

/* pipe.c: what a pipe does at c's data, end, drain and close, before
 * the service's handlers hear of them. */
void		 pipe_data(struct pf_conn *src, const void *data, size_t len);
void		 pipe_end(struct pf_conn *src);
void		 pipe_close(struct pf_conn *c, int had_error);

/* connect.c: 0 once fd is connected, EINPROGRESS while it is not, or
 * why it failed. */
int		 connect_result(int fd);
/* Stop resolving; the resolver's callback still comes, and lets c go. */
void		 connect_cancel(struct pf_conn *c);

/*
 * The PROXY stage: peek at what has arrived and, once it holds a whole
 * header, take exactly the header off the socket.  1: taken (c->pp->hdr
 * filled), 0: wait for more, -1: refuse the client for *why.
 */
int	conn_proxy_take(struct pf_conn *c, short what, const char **why);

/* conninfo.c, for the access log: keep the client's address as accept()
 * gave it; write c's line at its close. */
void	conn_keep_peer(struct pf_conn *c, const struct sockaddr *sa,
	    socklen_t salen);
void	conn_alog(const struct pf_conn *c);

#endif
