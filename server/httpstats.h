/*
 * httpstats.h -- the "stats" listeners: a small HTTP/1.x server in the
 * master answering GET/HEAD /metrics (Prometheus text), / (the same) and
 * /health, with its own connection cap, separate from the admin socket's.
 */
#ifndef PF_HTTPSTATS_H
#define PF_HTTPSTATS_H

#include <stddef.h>

#include "worker/worker.h"

struct event_base;
struct config;

#define HTTP_MAX_REQUEST	8192	/* request line and headers */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER,
};

struct http_req {
	enum http_method method;
	size_t		 path_off;	/* the target's path, query excluded */
	size_t		 path_len;
	int		 minor;		/* HTTP/1.minor */
	size_t		 len;		/* through the blank line */
};

/*
 * Parse the request line and headers at the start of buf[0..len), without
 * sockets: 0 with req filled when the blank line ending the headers is
 * there; 1 if more bytes are needed; otherwise the HTTP status refusing
 * the request: 400 (not HTTP), 414 (request line longer than
 * HTTP_MAX_REQUEST), 431 (headers longer), 505 (not HTTP/1.x).
 */
int	http_parse(const char *buf, size_t len, struct http_req *req);

/* Serve the listeners of cfg whose service is "stats"; again after every
 * generation change (clients already connected are kept). */
int	httpstats_listen(struct event_base *base, const struct config *cfg,
	    const struct lsock *ls);
/* Stop accepting and drop every client (stop, or a new worker). */
void	httpstats_close(void);

#endif
