/*
 * pipe.c -- pf_conn_pipe(): what one connection receives is written to
 * another, with backpressure and the ends forwarded; two of them, one
 * each way, make a proxy.
 *
 * A pipe is two pointers, src->pipe_to and dst->pipe_from, which the
 * connection code follows at the four events a pipe acts on (src's data
 * and end, dst's drain, either's close), before the service's handlers
 * hear of them.  So a pipe registers no handler: a proxied pair holds no
 * hook array, and a read costs a write, not an emit.  A connection feeds
 * one pipe and is fed by one at a time.
 */
#include <errno.h>

#include "worker/conn_state.h"

/* dst cannot take more now: stop reading src until dst drains. */
void
pipe_data(struct pf_conn *src, const void *data, size_t len)
{
	if (pf_conn_write(src->pipe_to, data, len) != 1)
		pf_conn_pause(src);
}

void
pipe_end(struct pf_conn *src)
{
	if (!(src->flags & C_PIPE_NO_END))
		pf_conn_end(src->pipe_to);
}

/*
 * c is closing.  What fed it can send nowhere any more: it is resumed and
 * ended (destroyed, on an error).  What it fed is ended (unless told not
 * to), or destroyed on an error.  Both links go first: a destroy may
 * close, and free, the other one at once.
 */
void
pipe_close(struct pf_conn *c, int had_error)
{
	struct pf_conn	*dst = c->pipe_to, *src = c->pipe_from;
	int		 end_dst = !(c->flags & C_PIPE_NO_END);

	if (dst != NULL)
		c->pipe_to = dst->pipe_from = NULL;
	if (src != NULL)
		c->pipe_from = src->pipe_to = NULL;
	if (src != NULL) {
		pf_conn_resume(src);
		if (had_error)
			pf_conn_destroy(src);
		else
			pf_conn_end(src);
	}
	if (dst != NULL && dst != src) {
		if (had_error)
			pf_conn_destroy(dst);
		else if (end_dst)
			pf_conn_end(dst);
	}
}

int
pf_conn_pipe(struct pf_conn *src, struct pf_conn *dst, int flags)
{
	if (src == dst || (flags & ~PF_PIPE_NO_END)) {
		errno = EINVAL;
		return -1;
	}
	if (src->pipe_to != NULL || dst->pipe_from != NULL) {
		errno = EBUSY;
		return -1;
	}
	src->pipe_to = dst;
	dst->pipe_from = src;
	if (flags & PF_PIPE_NO_END)
		src->flags |= C_PIPE_NO_END;
	else
		src->flags &= ~C_PIPE_NO_END;
	/* src's end is dst's business now, not a reason to end src. */
	pf_conn_set_allow_half_open(src, 1);
	return 0;
}

void
pf_conn_unpipe(struct pf_conn *src, struct pf_conn *dst)
{
	if (src->pipe_to != dst)
		return;
	src->pipe_to = dst->pipe_from = NULL;
	pf_conn_resume(src);
}
