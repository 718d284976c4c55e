/*
 * epoll-echo.c -- the reference echo server for preforkd-bench: what a
 * careful C programmer writes by hand on raw epoll, with no library, to
 * measure preforkd against.
 *
 * The parent binds one SO_REUSEPORT listening socket per worker (the
 * kernel spreads new connections over them), forks -w workers and waits.
 * Each worker keeps only its own socket and runs one epoll loop: the
 * listener level-triggered, accepting in batches; connections edge-
 * triggered, non-blocking, TCP_NODELAY.  Reads go into one 64 KiB buffer
 * per process and are written straight back.  Only what the kernel refuses
 * (EAGAIN) is queued, in a small buffer allocated for that connection only
 * then, and the connection is not read again until it is written out:
 * memory stays bounded and an idle connection costs one pointer.
 *
 * SIGTERM or SIGINT stops the workers and the parent, which exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* accept4, and as configure sets it */
#endif

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RBUF_SIZE	(64 * 1024)
#define NEVENTS		256
#define ACCEPT_BATCH	64
#define MAX_WORKERS	256
#define LISTENER	((uint64_t)-1)	/* epoll data of the listener */

/* What the kernel did not take yet; exists only while non-empty. */
struct pending {
	size_t	len;
	size_t	off;
	int	eof;		/* the peer sent FIN: close once written */
	char	data[];
};

static volatile sig_atomic_t	 quit;
static struct pending		**pend;	/* by descriptor */
static size_t			 npend;
static char			 rbuf[RBUF_SIZE];
static int			 ep, lfd, spare = -1;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
conn_close(int fd)
{
	if ((size_t)fd < npend && pend[fd] != NULL) {
		free(pend[fd]);
		pend[fd] = NULL;
	}
	/* Closing removes it from the epoll set too. */
	if (close(fd) == -1)
		warn("close");
}

/* Remember bytes the kernel refused; -1 if out of memory. */
static int
pend_add(int fd, const char *buf, size_t len, int eof)
{
	struct pending	**np, *p;
	size_t		  n;

	if ((size_t)fd >= npend) {
		n = npend == 0 ? 1024 : npend;
		while (n <= (size_t)fd)
			n *= 2;
		if ((np = realloc(pend, n * sizeof(*np))) == NULL)
			return -1;
		memset(np + npend, 0, (n - npend) * sizeof(*np));
		pend = np;
		npend = n;
	}
	if ((p = malloc(sizeof(*p) + len)) == NULL)
		return -1;
	memcpy(p->data, buf, len);
	p->len = len;
	p->off = 0;
	p->eof = eof;
	pend[fd] = p;
	return 0;
}

/* Write what is pending; 1 if all of it went, 0 if not yet, -1 failed. */
static int
pend_flush(int fd)
{
	struct pending	*p = pend[fd];
	ssize_t		 n;

	while (p->off < p->len) {
		n = write(fd, p->data + p->off, p->len - p->off);
		if (n >= 0) {
			p->off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	free(p);
	pend[fd] = NULL;
	return 1;
}

/* Echo buf back; 0 if all went or the rest is queued, -1 to close. */
static int
echo_back(int fd, const char *buf, size_t len)
{
	ssize_t	n;
	size_t	off = 0;

	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (pend_add(fd, buf + off, len - off, 0) == -1) {
			warn("queue");
			return -1;
		}
		return 0;
	}
	return 0;
}

/*
 * Read and echo until the socket is drained or output is queued.  A short
 * read means drained, as the next arrival raises a new edge, unless a FIN
 * is pending (EPOLLRDHUP) or reading was suspended: then read to EAGAIN.
 */
static void
conn_read(int fd, int to_eagain)
{
	ssize_t	n;

	for (;;) {
		if ((size_t)fd < npend && pend[fd] != NULL)
			return;		/* resumed once written out */
		n = read(fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			if (echo_back(fd, rbuf, (size_t)n) == -1) {
				conn_close(fd);
				return;
			}
			if ((size_t)n < sizeof(rbuf) && !to_eagain)
				return;
			continue;
		}
		if (n == 0) {
			if ((size_t)fd < npend && pend[fd] != NULL)
				pend[fd]->eof = 1;
			else
				conn_close(fd);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_close(fd);
		return;
	}
}

static void
conn_event(int fd, uint32_t events)
{
	int	r, eof, to_eagain;

	to_eagain = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
	if ((size_t)fd < npend && pend[fd] != NULL) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		eof = pend[fd]->eof;
		if ((r = pend_flush(fd)) == -1 || (r == 1 && eof)) {
			conn_close(fd);
			return;
		}
		if (r == 0)
			return;
		/* Written out: read what waited meanwhile, edge or not. */
		to_eagain = 1;
		events |= EPOLLIN;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_read(fd, to_eagain);
}

/*
 * Out of descriptors: accept with the spare one and close at once, so the
 * client learns instead of waiting in a queue we cannot drain.
 */
static void
accept_shed(void)
{
	int	fd;

	if (spare == -1 || close(spare) == -1)
		return;
	spare = -1;
	if ((fd = accept(lfd, NULL, NULL)) != -1 && close(fd) == -1)
		warn("close");
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
accept_batch(void)
{
	struct epoll_event	ev;
	int			i, fd, one = 1;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
				accept_shed();
				return;
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;
			default:
				warn("accept");
				return;
			}
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == -1) {
			warn("TCP_NODELAY");
			conn_close(fd);
			continue;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.u64 = (uint64_t)fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			warn("epoll_ctl");
			conn_close(fd);
		}
	}
}

static void
worker(int fd)
{
	struct epoll_event	ev, evs[NEVENTS];
	int			i, n;

	lfd = fd;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		err(1, "prctl");
	if (getppid() == 1)
		exit(1);
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (spare == -1)
		err(1, "/dev/null");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = LISTENER;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		err(1, "epoll_ctl");
	while (!quit) {
		n = epoll_wait(ep, evs, NEVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == LISTENER)
				accept_batch();
			else
				conn_event((int)evs[i].data.u64,
				    evs[i].events);
		}
	}
	exit(0);
}

static int
listen_on(const char *host, const char *port, int backlog)
{
	struct addrinfo	 hints, *res;
	int		 e, fd, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "%s port %s: %s", host, port, gai_strerror(e));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		err(1, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		err(1, "setsockopt");
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		err(1, "bind %s port %s", host, port);
	if (listen(fd, backlog) == -1)
		err(1, "listen");
	freeaddrinfo(res);
	return fd;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: epoll-echo [-a address] [-b backlog] [-p port] "
	    "[-w workers]\n"
	    "  -a address   numeric IPv4 or IPv6 address (default 127.0.0.1)\n"
	    "  -b backlog   listen backlog (default 511)\n"
	    "  -p port      port (default 7007)\n"
	    "  -w workers   worker processes, 1 to %d (default 2)\n",
	    MAX_WORKERS);
}

static long
number(const char *s, long min, long max, char flag)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max) {
		warnx("-%c %s: expected an integer from %ld to %ld", flag, s,
		    min, max);
		usage(stderr);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct sigaction	 sa;
	struct rlimit		 rl;
	const char		*host = "127.0.0.1", *port = "7007";
	pid_t			 pids[MAX_WORKERS], pid;
	int			 fds[MAX_WORKERS];
	int			 ch, i, n, status, left, rc = 0;
	int			 workers = 2, backlog = 511;

	while ((ch = getopt(argc, argv, "a:b:hp:w:")) != -1) {
		switch (ch) {
		case 'a':
			host = optarg;
			break;
		case 'b':
			backlog = (int)number(optarg, 1, 65535, ch);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'p':
			(void)number(optarg, 1, 65535, ch);
			port = optarg;
			break;
		case 'w':
			workers = (int)number(optarg, 1, MAX_WORKERS, ch);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* As many descriptors as we may have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "setrlimit");

	memset(&sa, 0, sizeof(sa));
	if (sigemptyset(&sa.sa_mask) == -1)
		err(1, "sigemptyset");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		err(1, "sigaction");
	sa.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns */
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		err(1, "sigaction");

	for (i = 0; i < workers; i++)
		fds[i] = listen_on(host, port, backlog);
	for (i = 0; i < workers; i++) {
		if ((pid = fork()) == -1) {
			warn("fork");
			rc = 1;
			break;
		}
		if (pid == 0) {
			for (n = 0; n < workers; n++) {
				if (n != i && close(fds[n]) == -1)
					err(1, "close");
			}
			worker(fds[i]);
		}
		pids[i] = pid;
	}
	n = i;
	/* Only the workers hold the sockets: one that dies takes its own
	 * away from the group instead of stranding connections in it. */
	for (i = 0; i < workers; i++) {
		if (close(fds[i]) == -1)
			warn("close");
	}
	if (rc == 0)
		fprintf(stderr, "epoll-echo: %d workers on %s port %s\n",
		    workers, host, port);

	for (left = n; left > 0 && !quit && rc == 0;) {
		if ((pid = wait(&status)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "wait");
		}
		left--;
		warnx("worker %ld exited unexpectedly (status %d)", (long)pid,
		    status);
		rc = 1;
	}
	for (i = 0; i < n; i++) {
		if (kill(pids[i], SIGTERM) == -1 && errno != ESRCH)
			warn("kill");
	}
	while ((pid = wait(&status)) != -1 || errno == EINTR) {
		if (pid != -1 && !(WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0) && !quit)
			rc = 1;
	}
	if (errno != ECHILD)
		err(1, "wait");
	return rc;
}
