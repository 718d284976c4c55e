/*
 * peer.c -- framed control-channel I/O over a non-blocking stream socket.
 *
 * Input is read into a fixed buffer and cut into frames by ctl_decode();
 * output goes through an evbuffer and a write event armed only while
 * something is queued.  Whatever goes wrong -- EOF, an error, bytes that
 * do not decode -- ends in exactly one dispatch with m == NULL, from the
 * loop; what to do about it (respawn a worker, exit) is the owner's call.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/peer.h"

#define PEER_INBUF	(CTL_MAX_FRAME * 16)
#define PEER_MAX_OUT	(64 * 1024)	/* a peer this far behind is dead */

struct peer {
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	struct evbuffer		*out;
	peer_dispatch_fn	 fn;
	void			*arg;
	const char		*failed;	/* reason, once it has gone */
	int			 malformed;	/* it broke the protocol */
	int			 fd_in;		/* received, not yet taken */
	int			 busy;
	int			 dead;		/* freed while busy */
	size_t			 inlen;
	uint8_t			 in[PEER_INBUF];
};

static void
peer_really_free(struct peer *p)
{
	if (p->fd_in != -1)
		close(p->fd_in);
	if (p->rev != NULL)
		event_free(p->rev);
	if (p->wev != NULL)
		event_free(p->wev);
	if (p->out != NULL)
		evbuffer_free(p->out);
	if (p->fd != -1)
		close(p->fd);
	free(p);
}

/* Report the peer gone, once; returns 1 if it was freed meanwhile. */
static int
peer_gone(struct peer *p, const char *reason)
{
	if (p->failed == NULL) {
		p->failed = reason;
		event_del(p->rev);
		event_del(p->wev);
		p->fn(p, NULL, reason, p->arg);
	}
	return p->dead;
}

/* read(2) that also accepts one passed descriptor, kept for the taking. */
static ssize_t
peer_recv(struct peer *p)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;
	int		 fd;

	iov.iov_base = p->in + p->inlen;
	iov.iov_len = sizeof(p->in) - p->inlen;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(p->fd, &msg, MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (p->fd_in != -1)
			close(p->fd_in);	/* an unclaimed one: drop it */
		p->fd_in = fd;
	}
	return n;
}

/* One read and its frames dispatched; 0 if nothing was there. */
static int
peer_read_once(struct peer *p)
{
	struct ctl_msg	 m;
	size_t		 off = 0;
	ssize_t		 n;

	n = peer_recv(p);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	p->busy++;
	if (n <= 0) {
		peer_gone(p, n == 0 ? "closed" : strerror(errno));
		goto out;
	}
	p->inlen += n;
	while (!p->dead && p->failed == NULL &&
	    (n = ctl_decode(p->in + off, p->inlen - off, &m)) != 0) {
		if (n == -1) {
			p->malformed = 1;
			peer_gone(p, "malformed frame");
			goto out;
		}
		off += n;
		p->fn(p, &m, NULL, p->arg);
	}
	if (!p->dead) {
		memmove(p->in, p->in + off, p->inlen - off);
		p->inlen -= off;
	}
out:
	if (--p->busy == 0 && p->dead)
		peer_really_free(p);
	return 1;
}

static void
peer_read(evutil_socket_t fd, short what, void *arg)
{
	(void)peer_read_once(arg);
}

void
peer_read_pending(struct peer *p)
{
	int	more = 1;

	p->busy++;
	while (more && !p->dead && p->failed == NULL)
		more = peer_read_once(p);
	if (--p->busy == 0 && p->dead)
		peer_really_free(p);
}

static int
peer_write_some(struct peer *p)
{
	while (evbuffer_get_length(p->out) > 0) {
		if (evbuffer_write(p->out, p->fd) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
	}
	if (evbuffer_get_length(p->out) > 0)
		event_add(p->wev, NULL);
	else
		event_del(p->wev);
	return 0;
}

static void
peer_write(evutil_socket_t fd, short what, void *arg)
{
	struct peer	*p = arg;

	if (peer_write_some(p) == -1) {
		p->busy++;
		peer_gone(p, strerror(errno));
		if (--p->busy == 0 && p->dead)
			peer_really_free(p);
	}
}

/* Failures while sending are reported from the loop, not the caller. */
static void
peer_fail_later(struct peer *p)
{
	event_del(p->rev);
	event_del(p->wev);
	event_active(p->rev, EV_READ, 0);
	shutdown(p->fd, SHUT_RDWR);
}

struct peer *
peer_new(struct event_base *base, int fd, peer_dispatch_fn fn, void *arg)
{
	struct peer	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("control channel");
		return NULL;
	}
	p->fd = fd;
	p->fd_in = -1;
	p->fn = fn;
	p->arg = arg;
	p->rev = event_new(base, fd, EV_READ | EV_PERSIST, peer_read, p);
	p->wev = event_new(base, fd, EV_WRITE, peer_write, p);
	p->out = evbuffer_new();
	if (p->rev == NULL || p->wev == NULL || p->out == NULL ||
	    event_add(p->rev, NULL) == -1) {
		log_warnx("control channel: cannot set up events");
		p->fd = -1;		/* the caller still owns it */
		peer_really_free(p);
		return NULL;
	}
	return p;
}

void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	if (p->busy > 0) {
		p->dead = 1;
		return;
	}
	peer_really_free(p);
}

int
peer_send(struct peer *p, const struct ctl_msg *m)
{
	uint8_t	buf[CTL_MAX_FRAME];
	ssize_t	n;

	if (p->failed != NULL)
		return -1;
	if ((n = ctl_encode(m, buf, sizeof(buf))) == -1) {
		log_warnx("control channel: cannot encode %s",
		    ctl_type_name(m->type));
		return -1;
	}
	if (evbuffer_get_length(p->out) + n > PEER_MAX_OUT ||
	    evbuffer_add(p->out, buf, n) == -1 || peer_write_some(p) == -1) {
		peer_fail_later(p);
		return -1;
	}
	return 0;
}

int
peer_send_fd(struct peer *p, const struct ctl_msg *m, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	uint8_t		 buf[CTL_MAX_FRAME];
	ssize_t		 n;

	if (fd == -1)
		return peer_send(p, m);
	if (p->failed != NULL || (n = ctl_encode(m, buf, sizeof(buf))) == -1)
		return -1;
	/* The descriptor rides on the frame's own first byte. */
	peer_flush(p, 100);
	if (evbuffer_get_length(p->out) > 0)
		return -1;
	iov.iov_base = buf;
	iov.iov_len = n;
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	CMSG_FIRSTHDR(&msg)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&msg)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&msg)->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msg)), &fd, sizeof(fd));
	do
		n = sendmsg(p->fd, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)iov.iov_len)
		return 0;
	if (n > 0)	/* the rest of the frame, without the descriptor */
		evbuffer_add(p->out, buf + n, iov.iov_len - n);
	else if (errno != EAGAIN)
		peer_fail_later(p);
	return n > 0 ? peer_write_some(p) : -1;
}

int
peer_take_fd(struct peer *p)
{
	int	fd = p->fd_in;

	p->fd_in = -1;
	return fd;
}

void
peer_flush(struct peer *p, int timeout_ms)
{
	struct pollfd	pfd = { p->fd, POLLOUT, 0 };

	while (p->failed == NULL && evbuffer_get_length(p->out) > 0 &&
	    poll(&pfd, 1, timeout_ms) == 1) {
		if (peer_write_some(p) == -1)
			break;
	}
}

int
peer_malformed(const struct peer *p)
{
	return p->malformed;
}
