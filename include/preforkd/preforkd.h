/*
 * preforkd.h -- the public API for preforkd services.
 *
 * A service is a set of hooks on event emitters, in the style of Node's
 * "net" module.  Each worker process calls the service's init function once
 * per listener that names it; init registers a "connection" handler on the
 * listener's emitter, and that handler registers "data", "end", "close"...
 * handlers on each new connection:
 *
 *	static void
 *	on_data(void *conn, const struct pf_event_arg *ev, void *udata)
 *	{
 *		pf_conn_write(conn, ev->data, ev->len);
 *	}
 *
 *	static void
 *	on_connection(void *listener, const struct pf_event_arg *ev, void *u)
 *	{
 *		pf_conn_on(ev->conn, PF_EV_DATA, on_data, NULL);
 *	}
 *
 *	static int
 *	echo_init(struct pf_listener *l)
 *	{
 *		return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
 *		    on_connection, NULL);
 *	}
 *
 * Everything runs on the worker's single event loop: handlers must not
 * block.  Pointers handed to a handler (ev->data, ev->msg) are valid only
 * during that call.
 */
#ifndef PREFORKD_H
#define PREFORKD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PREFORKD_API_VERSION	1

/* Event ids: small integers, so emitting one is an array scan, no strcmp. */
enum pf_event {
	PF_EV_CONNECTION,	/* listener: a new connection, ev->conn */
	PF_EV_DATA,		/* conn: bytes arrived, ev->data, ev->len */
	PF_EV_END,		/* conn: the peer half-closed (sent FIN) */
	PF_EV_CLOSE,		/* conn: fully closed; ev->code = had_error */
	PF_EV_ERROR,		/* conn: ev->code = errno, ev->msg; close follows */
	PF_EV_TIMEOUT,		/* conn: idle for the time set (notify only), or
				   for the listener's idle_timeout (then the
				   connection is closed) */
	PF_EV_DRAIN,		/* conn: the queue emptied after write() gave 0,
				   or its turn came back after yield() */
	PF_EV_SHUTDOWN,		/* conn: the worker is draining; finish up */
	PF_EV_DROP,		/* listener: a client refused (allow/deny, per-
				   address limit): data/len its sockaddr,
				   msg why; closed right after */
	PF_EV_START,		/* worker: the loop is about to run */
	PF_EV_STOP,		/* worker: the loop has ended */
	PF_EV_SPAWN,		/* master: a worker was forked; code = pid */
	PF_EV_ONLINE,		/* master: a worker reported ready; code = pid */
	PF_EV_EXIT,		/* master: a worker exited; code = pid */
	PF_EV_DEGRADED,		/* master: a slot keeps failing; code = slot */
	PF_EV_CONNECT,		/* conn: pf_connect() is through */
	PF_EV_MAX_
};

/* What a handler receives; which fields are set depends on the event. */
struct pf_event_arg {
	const void		*data;	/* data */
	size_t			 len;	/* data */
	int			 code;	/* error: errno; close: had_error */
	const char		*msg;	/* error: text */
	struct pf_conn		*conn;	/* connection, drop (may be NULL) */
};

/* self is the object that emitted: a struct pf_conn *, pf_listener *... */
typedef void (*pf_handler)(void *self, const struct pf_event_arg *ev,
    void *udata);

struct pf_emitter;
struct pf_conn;
struct pf_listener;

/*
 * Emitters.  Handlers run in registration order.  A handler removed during
 * an emit is not called afterwards, even by that emit (unlike Node.js);
 * one added during an emit first runs on the next emit.  pf_on/pf_once
 * return 0, or -1 if out of memory or the emitter has 65535 live handlers
 * (removed ones awaiting the end of an emit do not count).  pf_off removes
 * the first (oldest) registration matching (event, fn, udata) -- Node.js
 * removes the newest -- and returns 0, or -1 if there was none.  pf_emit
 * returns how many handlers it called, or -1 (ELOOP) if it would nest
 * deeper than 4294967295 emits.  An emit on a connection's emitter holds
 * the connection until it returns, whoever emits: a handler destroying it
 * closes it then, not under the emit.
 */
int	 pf_on(struct pf_emitter *em, int event, pf_handler fn, void *udata);
int	 pf_once(struct pf_emitter *em, int event, pf_handler fn, void *udata);
int	 pf_off(struct pf_emitter *em, int event, pf_handler fn, void *udata);
void	 pf_off_all(struct pf_emitter *em, int event); /* event -1: all */
int	 pf_emit(struct pf_emitter *em, int event,
	    const struct pf_event_arg *arg);
size_t	 pf_listener_count(const struct pf_emitter *em, int event);

/*
 * Connections.  A struct pf_conn * is valid until its "close" event has
 * been emitted.  Errors found while writing are reported asynchronously,
 * from the loop, never from inside pf_conn_write().
 */
struct pf_emitter *pf_conn_emitter(struct pf_conn *c);
int	 pf_conn_on(struct pf_conn *c, int event, pf_handler fn, void *udata);

/*
 * Write len bytes: straight to the socket when nothing is queued, else
 * queued.  Returns 1 while the queue is below the high watermark, 0 once it
 * is at or above it ("drain" follows when it empties), -1 when the
 * connection can no longer be written (ended, closed or failed).
 */
int	 pf_conn_write(struct pf_conn *c, const void *buf, size_t len);
/* Flush what is queued, send FIN, then close. */
void	 pf_conn_end(struct pf_conn *c);
/* Close now, discarding queued output. */
void	 pf_conn_destroy(struct pf_conn *c);
void	 pf_conn_pause(struct pf_conn *c);
void	 pf_conn_resume(struct pf_conn *c);
/* Emit "drain" once the other ready connections have had their turn: a
 * service with more to write than one turn should take goes on there. */
void	 pf_conn_yield(struct pf_conn *c);
/* Emit "timeout" after ms of inactivity (0 disables).  Notify only. */
void	 pf_conn_set_timeout(struct pf_conn *c, unsigned int ms);
/* Keep the write side open after the peer's "end" (default: off). */
void	 pf_conn_set_allow_half_open(struct pf_conn *c, int on);
void	 pf_conn_set_high_water(struct pf_conn *c, size_t bytes);
size_t	 pf_conn_buffered(const struct pf_conn *c);
/*
 * Outbound connections (Node's net.connect), from a worker: to host (a
 * numeric IPv4/IPv6 address, or a name, looked up without blocking) and
 * port, or to the Unix socket at path.  The connection is returned at
 * once and emits "connect" when it is through, then the events of an
 * accepted one; what is written before is queued.  A connection that
 * cannot be made emits "error" (ev->code: an errno, ETIMEDOUT after
 * timeout_ms, default 10 s; EHOSTUNREACH with the resolver's message for
 * a name not found), then "close" -- from the loop, never from inside
 * pf_connect().  NULL with errno EINVAL for bad options (or outside a
 * worker), ENOMEM.  pf_conn_listener() is NULL for it.
 */
struct pf_connect_opts {
	const char	*host;
	unsigned int	 port;
	const char	*path;		/* instead of host and port */
	unsigned int	 timeout_ms;	/* to connect; 0: 10 s */
};
struct pf_conn *pf_connect(const struct pf_connect_opts *o);
/*
 * pf_conn_pipe: write what src receives to dst (Node's pipe).  While dst
 * is above its high water mark src is paused, and resumed on dst's
 * "drain"; src's end ends dst (not with PF_PIPE_NO_END); src closing with
 * an error destroys dst, and dst closing ends src (destroys it, on an
 * error).  src is made half-open (its end no longer ends it: the other
 * direction may still be flowing).  Two pipes, one each way, are a proxy.
 * A pipe acts before the service's handlers, which still see every
 * event; a connection feeds one pipe and is fed by one at a time.
 * 0, or -1 with errno (EINVAL; EBUSY: src already feeds a pipe, or dst is
 * already fed by one).  pf_conn_unpipe undoes it.
 */
#define PF_PIPE_NO_END	0x01
int	 pf_conn_pipe(struct pf_conn *src, struct pf_conn *dst, int flags);
void	 pf_conn_unpipe(struct pf_conn *src, struct pf_conn *dst);
/* TCP_NODELAY (accepted: as the listener's tcp_nodelay; outbound: on),
 * SO_KEEPALIVE with the idle time before the first probe (0: the
 * system's); 0, or -1 with errno (a Unix socket has neither). */
int	 pf_conn_set_nodelay(struct pf_conn *c, int on);
int	 pf_conn_set_keepalive(struct pf_conn *c, int on,
	    unsigned int idle_s);
/* Bytes received from and sent to the peer so far (Node's bytesRead,
 * bytesWritten); queued bytes count once the kernel has taken them. */
uint64_t pf_conn_bytes_read(const struct pf_conn *c);
uint64_t pf_conn_bytes_written(const struct pf_conn *c);
/*
 * The client's address and the address it connected to.  On a listener
 * with proxy_protocol these are what the balancer's PROXY header said
 * (unless it said LOCAL or UNKNOWN: then the connection's own); 0, or -1
 * with errno set.
 */
int	 pf_conn_peer_addr(const struct pf_conn *c,
	    struct sockaddr_storage *ss, socklen_t *len);
int	 pf_conn_local_addr(const struct pf_conn *c,
	    struct sockaddr_storage *ss, socklen_t *len);
/* The transport peer: the balancer on a proxy_protocol listener, else the
 * same as pf_conn_peer_addr(). */
int	 pf_conn_proxy_addr(const struct pf_conn *c,
	    struct sockaddr_storage *ss, socklen_t *len);
/* A PROXY v2 TLV the balancer sent (its value, *len bytes, not NUL-
 * terminated), or NULL: not sent, not a proxy_protocol listener, or a
 * type not kept. */
#define PF_PROXY_TLV_ALPN	0x01
#define PF_PROXY_TLV_AUTHORITY	0x02
#define PF_PROXY_TLV_UNIQUE_ID	0x05
const void *pf_conn_proxy_tlv(const struct pf_conn *c, int type,
	    size_t *len);
/* "127.0.0.1:5000", "[::1]:5000" or "unix"; returns buf. */
const char *pf_addr_str(const struct sockaddr *sa, socklen_t len,
	    char *buf, size_t size);
/* The peer's address as text, for log lines; returns buf. */
const char *pf_conn_str(const struct pf_conn *c, char *buf, size_t size);
void	*pf_conn_get_data(const struct pf_conn *c);
void	 pf_conn_set_data(struct pf_conn *c, void *data);
/* The socket itself: on a TLS listener it carries records, not the
 * plaintext; read and write through the methods above. */
int	 pf_conn_fd(const struct pf_conn *c);
/*
 * What a TLS listener's handshake settled, read-only; NULL (or 0) on a
 * plaintext connection.  The version ("TLSv1.3"), the cipher (OpenSSL's
 * name), the server name the client asked for (SNI), the ALPN protocol
 * chosen (one of the listener's alpn list), whether the session was
 * resumed (1) rather than negotiated in full, and the subject of the
 * client's certificate (client_ca), written into buf (OpenSSL's one-line
 * form, "/CN=..."), which is returned.
 */
const char *pf_conn_tls_version(const struct pf_conn *c);
const char *pf_conn_tls_cipher(const struct pf_conn *c);
const char *pf_conn_tls_sni(const struct pf_conn *c);
const char *pf_conn_tls_alpn(const struct pf_conn *c);
int	 pf_conn_tls_resumed(const struct pf_conn *c);
const char *pf_conn_tls_peer_subject(const struct pf_conn *c, char *buf,
	    size_t size);
struct pf_listener *pf_conn_listener(const struct pf_conn *c);

/* Listeners and the worker. */
struct pf_emitter *pf_listener_emitter(struct pf_listener *l);
const char	*pf_listener_name(const struct pf_listener *l);
struct pf_emitter *pf_worker_emitter(void);
int		 pf_worker_slot(void);

/*
 * Timers, as Node's setTimeout and setInterval, on the worker's loop.
 * pf_set_timeout calls fn(t, udata) once, ms from now (0: on the next turn
 * of the loop); pf_set_interval calls it every ms (an interval of 0 is
 * taken as 1, as Node does).  Both return NULL with errno set: ENOMEM, or
 * EINVAL if fn is NULL or the caller is not a worker (check() and
 * master_init run elsewhere); a service's init may set timers.
 *
 * A timer never fires before its time, nor in the loop turn that set it;
 * it may be late by the tick of the loop's clock (1-4 ms, the kernel's
 * HZ) and by what the loop was busy with.  Timers due at the same moment
 * fire in no set order: to run b after a, set b from a's callback.
 *
 * An interval is planned from when it was due, not from when its callback
 * ran, so it does not drift.  After a stall longer than the interval (a
 * slow callback, a busy loop) it fires once, late, and counts again from
 * then: the calls missed are not made up in a burst.
 *
 * A one-shot timer is freed when its callback returns, and its handle is
 * then invalid (forget it in the callback) -- unless the callback called
 * pf_timer_refresh() on it, which keeps it for one more round.
 * pf_clear_timer() stops and frees a timer that has not fired (NULL is
 * ignored), from anywhere, callbacks included: its own (freed when the
 * callback returns) or another due in the same turn (it does not fire).
 * A callback may set and clear any number of timers.  pf_timer_refresh()
 * restarts the count: the timer fires ms from now, an interval then every
 * ms from there.
 *
 * A timer belongs to no connection: clear it in the connection's "close"
 * handler.  Timers go on firing while the worker drains; when the worker
 * stops (its last connection closed, the drain deadline, SIGTERM) every
 * timer left is freed without being called, after PF_EV_STOP.
 */
struct pf_timer;
typedef void (*pf_timer_fn)(struct pf_timer *t, void *udata);

struct pf_timer *pf_set_timeout(unsigned int ms, pf_timer_fn fn,
	    void *udata);
struct pf_timer *pf_set_interval(unsigned int ms, pf_timer_fn fn,
	    void *udata);
void	 pf_clear_timer(struct pf_timer *t);
void	 pf_timer_refresh(struct pf_timer *t);

/* Services: a name and an init function called once per listener. */
struct pf_service {
	const char	*name;
	int		(*init)(struct pf_listener *l);
};

/*
 * Module settings: the scalars of the module's "settings = { ... }" group
 * in the configuration.  The getters return 0 and set *out, or -1 if the
 * key is absent or holds another type (*out is left alone, so set the
 * default first).  pf_setting_float also takes an integer.
 */
struct pf_settings;

int	 pf_setting_int(const struct pf_settings *s, const char *key,
	    long long *out);
int	 pf_setting_float(const struct pf_settings *s, const char *key,
	    double *out);
int	 pf_setting_bool(const struct pf_settings *s, const char *key,
	    int *out);
int	 pf_setting_str(const struct pf_settings *s, const char *key,
	    const char **out);
/* In check(): refuse the settings with a message the operator sees as
 * "file:line: module NAME: KEY: message" (key may be NULL).  Returns -1,
 * so "return pf_settings_fail(...)" reads well. */
int	 pf_settings_fail(const struct pf_settings *s, const char *key,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Fail on any key not in known[] (NULL-terminated); 0 if all are. */
int	 pf_settings_only(const struct pf_settings *s,
	    const char *const known[]);
/* A service's settings, from its init (empty for built-in services). */
const struct pf_settings *pf_listener_settings(const struct pf_listener *l);

/*
 * A module is a shared object that defines one struct pf_module named
 * preforkd_module:
 *
 *	const struct pf_module preforkd_module = {
 *		.api_version = PREFORKD_API_VERSION,
 *		.service = { "upper", upper_init },
 *		.check = upper_check,			(optional)
 *		.master_init = upper_master_init,	(optional)
 *	};
 *
 * or, with neither hook, PREFORKD_MODULE("upper", upper_init).  Whenever
 * the module is loaded -- by "preforkd -t", before a generation starts,
 * in each worker -- it must be the same API version, give the service
 * name the configuration says, and pass check(), which judges its
 * settings.  Each worker then calls service.init for every listener whose
 * service is that name.
 *
 * master_init, if set, runs in the master once the module is loaded there
 * (at start and after each reload) and may hook the master's lifecycle
 * events -- PF_EV_SPAWN, PF_EV_ONLINE, PF_EV_EXIT (ev->code is the pid)
 * and PF_EV_DEGRADED (ev->code is the slot) -- as Node's cluster module
 * does.  It runs in the supervisor: keep it small and never block.
 */
struct pf_module {
	unsigned int		 api_version;
	struct pf_service	 service;
	int			(*check)(const struct pf_settings *s);
	int			(*master_init)(struct pf_emitter *master);
};

#define PREFORKD_MODULE(name, init)					\
	const struct pf_module preforkd_module = {			\
		.api_version = PREFORKD_API_VERSION,			\
		.service = { (name), (init) },				\
	}

/* Logging to the daemon's log, one line per call, tagged with the
 * process ("master", "worker 3"). */
enum pf_log_level {
	PF_LOG_ERROR,
	PF_LOG_WARN,
	PF_LOG_INFO,
	PF_LOG_DEBUG
};
void	pf_log(enum pf_log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
