/*
 * load.c -- continuous connect + echo load for integration tests, in a
 * process of its own: n echo clients on a port, each reconnecting after a
 * few round trips (the first few after every one: connect churn), until
 * the test writes to its stop pipe; then it reports what went wrong
 * (refused, reset, EOF, corrupt, hung) and how much went right.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tests/load.h"

#define MSG_LEN		32

struct client {
	int	fd;
	int	trips_left;
	size_t	got;
	char	msg[MSG_LEN];
	char	back[MSG_LEN];
};

/* Connect; 0, or -1 with *refused set when the kernel said so.  A hang
 * (no answer to the SYN for timeout_ms) is neither. */
static int
load_connect(struct client *c, int port, int timeout_ms, int *refused)
{
	struct sockaddr_in	sin;
	struct pollfd		pfd;
	socklen_t		elen = sizeof(int);
	int			err = 0;

	*refused = 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno != EINPROGRESS)
			err = errno;
		else {
			pfd.fd = c->fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) != 1)
				err = ETIMEDOUT;
			else
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
				    &elen);
		}
	}
	if (err == 0)
		return 0;
	*refused = err == ECONNREFUSED;
	close(c->fd);
	c->fd = -1;
	return -1;
}

static int
load_send(struct client *c, unsigned int *seed, int id)
{
	snprintf(c->msg, sizeof(c->msg), "client %03d %010u ......\n",
	    id % 1000, rand_r(seed));
	c->got = 0;
	return h_send_all(c->fd, c->msg, MSG_LEN, H_TIMEOUT_MS);
}

/* (Re)connect client i and send; counts what went wrong.  A client the
 * server refused is left closed (fd -1) and tried again later. */
static void
load_open(struct client *c, int i, int port, unsigned int *seed,
    struct load_result *res)
{
	int	refused;

	if (load_connect(c, port, 3000, &refused) == -1) {
		if (refused)
			res->refused++;
		else
			res->hung++;
		return;
	}
	res->connects++;
	c->trips_left = i < 4 ? 1 : 5 + rand_r(seed) % 40;
	if (load_send(c, seed, i) != 0)
		res->resets++;
}

static void
load_run(int port, int n, int stop, int result)
{
	struct client		cl[LOAD_MAX];
	struct pollfd		pfd[LOAD_MAX + 1];
	struct load_result	res;
	unsigned int		seed = (unsigned int)getpid();
	long			last;
	ssize_t			r;
	int			i, closed;

	memset(&res, 0, sizeof(res));
	for (i = 0; i < n; i++)
		load_open(&cl[i], i, port, &seed, &res);
	for (;;) {
		for (closed = i = 0; i < n; i++) {
			pfd[i].fd = cl[i].fd;
			pfd[i].events = POLLIN;
			closed += cl[i].fd == -1;
		}
		pfd[n].fd = stop;
		pfd[n].events = POLLIN;
		/* Refused clients retry every 5 ms. */
		r = poll(pfd, n + 1, closed > 0 ? 5 : 2000);
		if (r == 0 && closed == 0) {
			res.hung++;	/* nobody answered anyone for 2 s */
			continue;
		}
		if (pfd[n].revents != 0)
			break;
		for (i = 0; i < n; i++) {
			if (cl[i].fd == -1) {
				load_open(&cl[i], i, port, &seed, &res);
				continue;
			}
			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			r = recv(cl[i].fd, cl[i].back + cl[i].got,
			    MSG_LEN - cl[i].got, 0);
			if (r == 0)
				res.eofs++;
			else if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				res.resets++;
			} else if ((cl[i].got += r) < MSG_LEN)
				continue;
			else if (memcmp(cl[i].msg, cl[i].back, MSG_LEN) != 0)
				res.corrupt++;
			else {
				res.trips++;
				if (--cl[i].trips_left > 0) {
					if (load_send(&cl[i], &seed, i) != 0)
						res.resets++;
					continue;
				}
			}
			close(cl[i].fd);
			load_open(&cl[i], i, port, &seed, &res);
		}
	}
	/* The clients still in a round trip must finish it. */
	last = h_now_ms() + H_TIMEOUT_MS;
	for (i = 0; i < n; i++) {
		if (cl[i].fd == -1)
			continue;
		if (cl[i].got < MSG_LEN && h_recv_exact(cl[i].fd,
		    cl[i].back + cl[i].got, MSG_LEN - cl[i].got,
		    (int)(last - h_now_ms())) != 0)
			res.resets++;
		close(cl[i].fd);
	}
	r = write(result, &res, sizeof(res));
	_exit(r == (ssize_t)sizeof(res) ? 0 : 2);
}

void
load_start(struct load *l, int port, int n)
{
	int	sp[2], rp[2];

	assert_true(n <= LOAD_MAX);
	assert_int_equal(pipe(sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, rp), 0);
	l->pid = fork();
	assert_true(l->pid != -1);
	if (l->pid == 0) {
		close(sp[1]);
		close(rp[0]);
		load_run(port, n, sp[0], rp[1]);
	}
	close(sp[0]);
	close(rp[1]);
	l->stop = sp[1];
	l->result = rp[0];
}

void
load_stop(struct load *l, struct load_result *res, const char *what)
{
	int	st;

	assert_int_equal(write(l->stop, "x", 1), 1);
	assert_int_equal(h_recv_exact(l->result, res, sizeof(*res), 20000),
	    0);
	st = h_wait_exit(l->pid, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(l->stop);
	close(l->result);
	print_message("%s: %ld round trips, %ld connections; refused %ld, "
	    "resets %ld, eofs %ld, corrupt %ld, hung %ld\n", what, res->trips,
	    res->connects, res->refused, res->resets, res->eofs, res->corrupt,
	    res->hung);
}

void
load_assert_clean(const struct load_result *res, long min_trips)
{
	assert_int_equal(res->resets, 0);
	assert_int_equal(res->eofs, 0);
	assert_int_equal(res->corrupt, 0);
	assert_int_equal(res->hung, 0);
	assert_true(res->trips >= min_trips);
}


struct accepts {
	const char	*sock;
	long long	 start, n;
};

/* The daemon's accepts, per stats --json, grew by n since the first
 * answer. */
static int
accepts_grew(void *arg)
{
	struct accepts	*a = arg;
	char		*json = NULL;
	long long	 now = -1;

	if (h_ctl(a->sock, &json, "stats", "--json", (char *)NULL) == 0)
		now = h_json_num(json, "totals", "accepts");
	free(json);
	if (now < 0)
		return 0;
	if (a->start == -1)
		a->start = now;
	return now - a->start >= a->n;
}

/* Wait until the load has done at least n more round trips' worth of
 * work: the daemon's accepts, per stats --json on sock, grew by n. */
void
load_wait_accepts(const char *sock, long long n)
{
	struct accepts	a = { sock, -1, n };

	assert_int_equal(h_wait_for(accepts_grew, &a, H_TIMEOUT_MS), 0);
}
