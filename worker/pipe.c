/*
 * pipe.c -- pf_conn_pipe(): what one connection receives is written to
 * another, with backpressure and the ends forwarded; two of them, one
 * each way, make a proxy.
 *
 * Built on the public emitter only: a pipe is five handlers (on src:
 * data, end, close; on dst: drain, close) whose udata is the other
 * connection, so it needs no memory of its own, and pf_off() with the
 * same (event, handler, udata) undoes it.  Each close handler removes
 * every handler that points at the closing connection, so nothing left
 * on the other one can reach it once it is freed.
 */
#include <errno.h>

#include "preforkd/preforkd.h"

static void	pipe_src_close(void *, const struct pf_event_arg *, void *);
static void	pipe_src_close_keep(void *, const struct pf_event_arg *,
		    void *);
static void	pipe_dst_close(void *, const struct pf_event_arg *, void *);

/* dst cannot take more now: stop reading src until dst drains. */
static void
pipe_data(void *src, const struct pf_event_arg *ev, void *dst)
{
	if (pf_conn_write(dst, ev->data, ev->len) != 1)
		pf_conn_pause(src);
}

static void
pipe_end(void *src, const struct pf_event_arg *ev, void *dst)
{
	pf_conn_end(dst);
}

static void
pipe_drain(void *dst, const struct pf_event_arg *ev, void *src)
{
	pf_conn_resume(src);
}

static void
pipe_off(struct pf_conn *src, struct pf_conn *dst)
{
	struct pf_emitter	*s = pf_conn_emitter(src);
	struct pf_emitter	*d = pf_conn_emitter(dst);

	pf_off(s, PF_EV_DATA, pipe_data, dst);
	pf_off(s, PF_EV_END, pipe_end, dst);
	pf_off(s, PF_EV_CLOSE, pipe_src_close, dst);
	pf_off(s, PF_EV_CLOSE, pipe_src_close_keep, dst);
	pf_off(d, PF_EV_DRAIN, pipe_drain, src);
	pf_off(d, PF_EV_CLOSE, pipe_dst_close, src);
}

/* src is gone: a broken src breaks dst; a clean one ends it (it was
 * ended already, unless src was destroyed without an end). */
static void
pipe_src_close(void *src, const struct pf_event_arg *ev, void *dst)
{
	pipe_off(src, dst);
	if (ev->code)
		pf_conn_destroy(dst);
	else
		pf_conn_end(dst);
}

static void
pipe_src_close_keep(void *src, const struct pf_event_arg *ev, void *dst)
{
	pipe_off(src, dst);
	if (ev->code)
		pf_conn_destroy(dst);
}

/* dst is gone: nothing src sends can go anywhere any more. */
static void
pipe_dst_close(void *dst, const struct pf_event_arg *ev, void *src)
{
	pipe_off(src, dst);
	pf_conn_resume(src);
	if (ev->code)
		pf_conn_destroy(src);
	else
		pf_conn_end(src);
}

int
pf_conn_pipe(struct pf_conn *src, struct pf_conn *dst, int flags)
{
	struct pf_emitter	*s = pf_conn_emitter(src);
	struct pf_emitter	*d = pf_conn_emitter(dst);
	int			 keep = (flags & PF_PIPE_NO_END) != 0;

	if (src == dst || (flags & ~PF_PIPE_NO_END)) {
		errno = EINVAL;
		return -1;
	}
	/* src's end is dst's business now, not a reason to end src. */
	pf_conn_set_allow_half_open(src, 1);
	if (pf_on(s, PF_EV_DATA, pipe_data, dst) == -1 ||
	    (!keep && pf_on(s, PF_EV_END, pipe_end, dst) == -1) ||
	    pf_on(s, PF_EV_CLOSE, keep ? pipe_src_close_keep :
	    pipe_src_close, dst) == -1 ||
	    pf_on(d, PF_EV_DRAIN, pipe_drain, src) == -1 ||
	    pf_on(d, PF_EV_CLOSE, pipe_dst_close, src) == -1) {
		pipe_off(src, dst);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
pf_conn_unpipe(struct pf_conn *src, struct pf_conn *dst)
{
	pipe_off(src, dst);
	pf_conn_resume(src);
}
