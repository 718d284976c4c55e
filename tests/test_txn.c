/*
 * test_txn.c -- integration tests of the promise that nothing an operator
 * does hurts a client that completed a handshake: failed reloads, resizing
 * reloads, listeners removed and re-added, kill -9 storms, stop during a
 * reload and a graceful stop, all under continuous connect + echo load
 * (counted by a load process: refused, reset, EOF, corrupt, hung); and a
 * reload's reply, under the same load, only once no client can meet the
 * old rules any more.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

#define MSG_LEN		32
#define LOAD_MAX	64
#define ECHO_LISTENER	"listeners = ({ address = \"127.0.0.1\"; port = %d; " \
			"service = \"failinit\"; backlog = 1024; });\n"

struct tx {
	struct daemon	d;
	char		sock[160];
	char		flag[160];	/* failinit's fail_if */
	char		slow[160];	/* and slow_if */
};

static void	tx_write(struct tx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* The common head (admin socket, fast heartbeats, the failinit module)
 * plus body. */
static void
tx_write(struct tx *t, const char *fmt, ...)
{
	char	body[2048], conf[4096];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(conf, sizeof(conf),
	    "heartbeat_interval = 0.1;\n"
	    "shutdown_timeout = 30;\n"
	    "max_old_generations = 30;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ({ name = \"failinit\"; path = \"%s\";\n"
	    "    settings = { fail_if = \"%s\"; slow_if = \"%s\"; }; });\n"
	    "%s", t->sock, FAILINIT_MODULE, t->flag, t->slow, body);
	assert_int_equal(h_write_file(t->d.conf, conf), 0);
}

static void
tx_init(struct tx *t)
{
	assert_int_equal(h_daemon_init(&t->d, NULL), 0);
	snprintf(t->sock, sizeof(t->sock), "%s/admin.sock", t->d.dir);
	snprintf(t->flag, sizeof(t->flag), "%s/fail", t->d.dir);
	snprintf(t->slow, sizeof(t->slow), "%s/slow", t->d.dir);
}

/* The common head, n echo workers on port, started and ready. */
static void
tx_start(struct tx *t, int n, int port)
{
	tx_init(t);
	tx_write(t, "workers = %d;\n" ECHO_LISTENER, n, port);
	assert_int_equal(h_daemon_start(&t->d, n, "127.0.0.1", port), 0);
}

static int
tx_reload(struct tx *t)
{
	return h_ctl(t->sock, NULL, "reload", (char *)NULL);
}

/*
 * The load: a process of its own drives n echo clients on a port, each
 * reconnecting after a few round trips (the first few after every one:
 * connect churn), until the test writes to its stop pipe; then it reports.
 */
struct load_result {
	long	trips, connects, refused, resets, eofs, corrupt, hung;
};

struct load {
	pid_t	pid;
	int	stop;		/* write end */
	int	result;		/* read end */
};

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

static void
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

static void
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

static void
load_assert_clean(const struct load_result *res, long min_trips)
{
	assert_int_equal(res->resets, 0);
	assert_int_equal(res->eofs, 0);
	assert_int_equal(res->corrupt, 0);
	assert_int_equal(res->hung, 0);
	assert_true(res->trips >= min_trips);
}

/* Wait until the load has done at least n more round trips' worth of
 * work: the daemon's accepts, per status --json, grew by n. */
static void
wait_accepts(struct tx *t, long long n)
{
	long		 deadline = h_now_ms() + H_TIMEOUT_MS;
	long long	 start = -1, now;
	char		*json;

	for (;;) {
		json = NULL;
		if (h_ctl(t->sock, &json, "stats", "--json", (char *)NULL) == 0) {
			now = h_json_num(json, "totals", "accepts");
			if (start == -1)
				start = now;
			else if (now - start >= n) {
				free(json);
				return;
			}
		}
		free(json);
		assert_true(h_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
}

/*
 * 20 reloads whose new workers fail to start (the module's init fails in
 * workers only), each growing the worker count from 1: every one fails,
 * the first generation keeps serving, and not one client notices.
 */
static void
test_failed_reloads(void **state)
{
	static const int	grow[] = { 2, 4, 3 };
	struct load_result	res;
	struct load		l;
	struct tx		t;
	char			*json = NULL;
	int			p = h_free_port(4), i;

	tx_start(&t, 1, p);
	load_start(&l, p, 24);
	wait_accepts(&t, 20);
	assert_int_equal(h_write_file(t.flag, "x"), 0);
	for (i = 0; i < 20; i++) {
		tx_write(&t, "workers = %d;\n" ECHO_LISTENER, grow[i % 3], p);
		assert_int_equal(tx_reload(&t), 1);
	}
	wait_accepts(&t, 20);
	load_stop(&l, &res, "20 failed reloads");
	load_assert_clean(&res, 500);
	assert_int_equal(res.refused, 0);
	assert_int_equal(h_ctl(t.sock, &json, "status", "--json", (char *)NULL),
	    0);
	assert_int_equal(h_json_num(json, NULL, "generation"), 1);
	free(json);
	assert_int_equal(h_log_count(&t.d, "failinit:"), 20 * 3);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/* 20 reloads alternating 1, 4, 2, 3 workers: all succeed, nothing lost. */
static void
test_resizing_reloads(void **state)
{
	static const int	n[] = { 4, 2, 3, 1 };
	struct load_result	res;
	struct load		l;
	struct tx		t;
	int			p = h_free_port(4), i;

	tx_start(&t, 1, p);
	load_start(&l, p, 24);
	wait_accepts(&t, 20);
	for (i = 0; i < 20; i++) {
		tx_write(&t, "workers = %d;\n" ECHO_LISTENER, n[i % 4], p);
		assert_int_equal(tx_reload(&t), 0);
	}
	wait_accepts(&t, 20);
	load_stop(&l, &res, "20 resizing reloads");
	load_assert_clean(&res, 500);
	assert_int_equal(res.refused, 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

#define TWO_LISTENERS	"workers = 2;\nlisteners = (" \
			"{ address = \"127.0.0.1\"; port = %d; " \
			"service = \"echo\"; }%s);\n"
#define SECOND		", { address = \"127.0.0.1\"; port = %d; " \
			"service = \"echo\"; }"

/*
 * A listener removed and re-added 10 times under load on it and on a kept
 * one: the kept one loses nothing; the removed one's clients are served,
 * or refused while it is gone -- never accepted and then reset.
 */
static void
test_listener_remove_readd(void **state)
{
	struct load_result	ra, rb;
	struct load		la, lb;
	struct tx		t;
	char			second[160];
	int			pa = h_free_port(4), pb = h_free_port(4), i;

	tx_init(&t);
	snprintf(second, sizeof(second), SECOND, pb);
	tx_write(&t, TWO_LISTENERS, pa, second);
	assert_int_equal(h_daemon_start(&t.d, 2, "127.0.0.1", pa), 0);
	load_start(&la, pa, 16);
	load_start(&lb, pb, 4);
	wait_accepts(&t, 40);
	for (i = 0; i < 10; i++) {
		tx_write(&t, TWO_LISTENERS, pa, "");
		assert_int_equal(tx_reload(&t), 0);
		/* Closed once its workers let go: clients are refused. */
		assert_int_equal(h_wait_log_count(&t.d, "closed", i + 1,
		    H_TIMEOUT_MS), 0);
		tx_write(&t, TWO_LISTENERS, pa, second);
		assert_int_equal(tx_reload(&t), 0);
	}
	wait_accepts(&t, 40);
	load_stop(&la, &ra, "kept listener");
	load_stop(&lb, &rb, "removed and re-added listener");
	load_assert_clean(&ra, 300);
	assert_int_equal(ra.refused, 0);
	assert_int_equal(rb.resets, 0);
	assert_int_equal(rb.eofs, 0);
	assert_int_equal(rb.corrupt, 0);
	assert_true(rb.trips >= 10);
	assert_true(h_log_count(&t.d, "closed") >= 10);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/* The master's children now (workers), from /proc. */
static int
workers_now(pid_t master, pid_t *out, int max)
{
	return h_children(master, out, max);
}

/*
 * kill -9 of a random worker every 0.2 s: each is replaced at once (no
 * crash-loop backoff), and a probe client is answered every time; a
 * probe cut by the kill of its own worker retries.  Meanwhile every new
 * worker gets SIGHUP and SIGUSR1 the instant it is seen: the master must
 * not take them for its own (no reload, no reopen).
 */
static void
test_kill_storm(void **state)
{
	struct tx	 t;
	const char	*env = getenv("PF_STORM_SECONDS");
	pid_t		 kids[16], seen[4096];
	long		 end, next_kill;
	int		 p = h_free_port(4), n, i, j, nseen = 0, kills = 0;
	int		 probes = 0, retries = 0, fd;
	char		 back[8], *json = NULL;

	tx_init(&t);
	tx_write(&t, "workers = 2;\nmin_uptime = 5;\n" ECHO_LISTENER, p);
	assert_int_equal(h_daemon_start(&t.d, 2, "127.0.0.1", p), 0);
	end = h_now_ms() + 1000L * (env != NULL ? atoi(env) : 5);
	next_kill = h_now_ms();
	while (h_now_ms() < end) {
		n = workers_now(t.d.pid, kids, 16);
		for (i = 0; i < n; i++) {
			for (j = 0; j < nseen && seen[j] != kids[i]; j++)
				;
			if (j < nseen || nseen == 4096)
				continue;
			seen[nseen++] = kids[i];
			kill(kids[i], SIGHUP);
			kill(kids[i], SIGUSR1);
		}
		if (h_now_ms() >= next_kill && n > 0) {
			kill(kids[rand() % n], SIGKILL);
			kills++;
			next_kill += 200;
		}
		/* The probe: answered within its bound, retried if cut. */
		for (j = 0; j < 5; j++) {
			fd = h_connect("127.0.0.1", p, 2000);
			assert_true(fd != -1);
			if (h_send_all(fd, "probe\n", 6, 2000) == 0 &&
			    h_recv_exact(fd, back, 6, 2000) == 0) {
				close(fd);
				break;
			}
			close(fd);
			retries++;
		}
		assert_true(j < 5);
		probes++;
	}
	print_message("kill storm: %d kills, %d probes answered, %d retried, "
	    "%d workers seen\n", kills, probes, retries, nseen);
	assert_true(kills >= 20);
	/* Served all along: more answers than kills (about 8 a kill under
	 * ASan on a busy 2-core machine, 170 on a quiet one). */
	assert_true(probes > kills);
	assert_true(retries * 10 < probes);
	assert_int_equal(h_log_count(&t.d, "degraded"), 0);
	/* HUP and USR1 at birth neither reach the master's handlers nor
	 * kill the worker (the master's default handlers come back when its
	 * signal events are freed in the child: only then unblock). */
	assert_int_equal(h_log_count(&t.d, "killed by signal 1\n"), 0);
	assert_int_equal(h_log_count(&t.d, "killed by signal 10"), 0);
	assert_int_equal(h_log_count(&t.d, "reload"), 0);
	assert_int_equal(h_log_count(&t.d, "log reopened"), 0);
	assert_int_equal(h_wait_children(t.d.pid, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_ctl(t.sock, &json, "status", (char *)NULL), 0);
	assert_null(strstr(json, "degraded"));
	free(json);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * A graceful stop under connect + echo load: every client that got in is
 * served to the end of its round trip; after that, clients are refused.
 */
static void
test_stop_drains(void **state)
{
	struct load_result	res;
	struct load		l;
	struct tx		t;
	int			p = h_free_port(4), st;

	tx_start(&t, 2, p);
	load_start(&l, p, 16);
	wait_accepts(&t, 50);
	assert_int_equal(kill(t.d.pid, SIGQUIT), 0);
	assert_int_equal(h_wait_log(&t.d, "draining", H_TIMEOUT_MS), 0);
	load_stop(&l, &res, "graceful stop");
	st = h_wait_exit(t.d.pid, 35000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t.d.pid = 0;
	load_assert_clean(&res, 50);
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * SIGQUIT while a reload waits for its new workers: the reload is
 * cancelled with that reason, nobody is SIGKILLed, a client of the old
 * generation is served until it leaves.
 */
static void
test_stop_during_reload(void **state)
{
	struct tx	 t;
	char		*out = NULL;
	pid_t		 ctl;
	int		 p = h_free_port(4), fd, st;
	char		 back[6];

	tx_start(&t, 2, p);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd != -1);
	/* The new workers wait for the file to go: the reload is pending. */
	assert_int_equal(h_write_file(t.slow, "x"), 0);
	if ((ctl = fork()) == 0)
		_exit(h_ctl(t.sock, &out, "reload", (char *)NULL));
	assert_int_equal(h_wait_log(&t.d, "generation 2: starting",
	    H_TIMEOUT_MS), 0);
	assert_int_equal(kill(t.d.pid, SIGQUIT), 0);
	st = h_wait_exit(ctl, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	if (h_wait_log(&t.d, "failed: stopping", H_TIMEOUT_MS) != 0)
		print_message("%s\n", h_read_file(t.d.log));
	assert_int_equal(h_log_count(&t.d, "failed: stopping"), 1);
	assert_int_equal(unlink(t.slow), 0);
	/* The old generation's client is still served. */
	assert_int_equal(h_send_all(fd, "hello\n", 6, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd, back, 6, H_TIMEOUT_MS), 0);
	assert_memory_equal(back, "hello\n", 6);
	close(fd);
	st = h_wait_exit(t.d.pid, 35000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t.d.pid = 0;
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_log_count(&t.d, "unexpected"), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * SIGQUIT while the first workers are still starting, with a client the
 * kernel already queued: the workers accept it before they drain, and it
 * is served.
 */
static void
test_stop_while_starting(void **state)
{
	struct tx	t;
	int		p = h_free_port(4), fd, st;
	char		back[6];

	tx_init(&t);
	tx_write(&t, "workers = 2;\n" ECHO_LISTENER, p);
	assert_int_equal(h_write_file(t.slow, "x"), 0);
	/* Not ready, so no READY=1: wait for the socket instead. */
	assert_int_equal(h_daemon_start(&t.d, -1, "127.0.0.1", p), 0);
	fd = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
	assert_true(fd != -1);
	assert_int_equal(h_send_all(fd, "hello\n", 6, H_TIMEOUT_MS), 0);
	assert_int_equal(h_log_count(&t.d, "ready"), 0);	/* still starting */
	assert_int_equal(kill(t.d.pid, SIGQUIT), 0);
	assert_int_equal(h_wait_log(&t.d, "graceful stop", H_TIMEOUT_MS), 0);
	assert_int_equal(unlink(t.slow), 0);
	assert_int_equal(h_recv_exact(fd, back, 6, H_TIMEOUT_MS), 0);
	assert_memory_equal(back, "hello\n", 6);
	close(fd);
	st = h_wait_exit(t.d.pid, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t.d.pid = 0;
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * max_connections: accepting pauses at the cap and resumes only after a
 * tenth of it has closed; one log line per episode, not per connection.
 */
static void
test_capacity_hysteresis(void **state)
{
	struct tx	t;
	int		p = h_free_port(4), fd[24], i;
	char		back[6];

	tx_init(&t);
	tx_write(&t, "workers = 1;\nmax_connections = 20;\n" ECHO_LISTENER,
	    p);
	assert_int_equal(h_daemon_start(&t.d, 1, "127.0.0.1", p), 0);
	for (i = 0; i < 24; i++) {
		fd[i] = h_connect("127.0.0.1", p, H_TIMEOUT_MS);
		assert_true(fd[i] != -1);
		assert_int_equal(h_send_all(fd[i], "hello\n", 6, H_TIMEOUT_MS),
		    0);
	}
	for (i = 0; i < 20; i++)
		assert_int_equal(h_recv_exact(fd[i], back, 6, H_TIMEOUT_MS),
		    0);
	assert_int_equal(h_wait_log(&t.d, "not accepting until 18",
	    H_TIMEOUT_MS), 0);
	/* One closes: 19 < 20, but no resume yet. */
	close(fd[0]);
	assert_int_equal(h_recv_exact(fd[20], back, 6, 300), -1);
	/* Another: 18, accepting again; the queued ones get in, up to 20. */
	close(fd[1]);
	assert_int_equal(h_recv_exact(fd[20], back, 6, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd[21], back, 6, H_TIMEOUT_MS), 0);
	assert_int_equal(h_recv_exact(fd[22], back, 6, 300), -1);
	assert_int_equal(h_log_count(&t.d, "not accepting until"), 2);
	for (i = 2; i < 24; i++)
		close(fd[i]);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

#define RULES_LISTENER	"workers = 2;\nlisteners = ({ " \
			"address = \"127.0.0.1\"; port = %d; " \
			"service = \"failinit\"; backlog = 1024;%s });\n"
#define DENY_SECOND	" deny = [ \"127.0.0.2\" ];"
#define RULE_RELOADS	10
#define RULE_PROBES	24

/* Reload through the admin socket and read the reply to its end, with
 * nothing in between (preforkctl's exit would be seen a poll step late). */
static void
reload_direct(struct tx *t)
{
	struct pollfd	pfd;
	char		reply[512];
	size_t		got = 0;
	ssize_t		n;
	long		deadline = h_now_ms() + 2 * H_TIMEOUT_MS;
	int		fd = h_connect(t->sock, 0, H_TIMEOUT_MS);

	assert_true(fd != -1);
	assert_int_equal(h_send_all(fd, "reload\n", 7, H_TIMEOUT_MS), 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		assert_true(h_now_ms() < deadline);
		if (poll(&pfd, 1, (int)(deadline - h_now_ms())) != 1)
			continue;
		n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	reply[got] = '\0';
	if (strncmp(reply, "OK\n", 3) != 0)
		print_message("reload: %s\n", reply);
	assert_memory_equal(reply, "OK\n", 3);
}

/* A probe sent "x": 1 if it came back (admitted), 0 if the server closed
 * or reset it (refused); neither within the bound fails the test. */
static int
probe_admitted(int fd)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		c;
	ssize_t		n;

	assert_int_equal(poll(&pfd, 1, H_TIMEOUT_MS), 1);
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 1 && c == 'x')
		return 1;
	assert_true(n == 0 || (n == -1 && errno == ECONNRESET));
	return 0;
}

/*
 * Reloads that add and remove "deny 127.0.0.2", under a steady stream of
 * clients from 127.0.0.1: once the reply says the reload is done, every
 * new client from 127.0.0.2 is judged by the new rules.  A client an old
 * worker still admitted (or refused) under the old ones would be the
 * reload reported before it had taken effect.
 */
static void
test_reload_rules_at_reply(void **state)
{
	struct load_result	res;
	struct load		l;
	struct tx		t;
	int			p = h_free_port(4), fd[RULE_PROBES];
	int			i, j, deny, wrong = 0, probes = 0;

	tx_init(&t);
	tx_write(&t, RULES_LISTENER, p, "");
	assert_int_equal(h_daemon_start(&t.d, 2, "127.0.0.1", p), 0);
	load_start(&l, p, 16);
	wait_accepts(&t, 50);
	for (i = 0; i < RULE_RELOADS; i++) {
		deny = i % 2 == 0;
		tx_write(&t, RULES_LISTENER, p, deny ? DENY_SECOND : "");
		reload_direct(&t);
		/* Back to back: the first ones land right after the reply. */
		for (j = 0; j < RULE_PROBES; j++) {
			fd[j] = h_connect_from("127.0.0.2", p);
			assert_true(fd[j] != -1);
			(void)send(fd[j], "x", 1, MSG_NOSIGNAL);
		}
		for (j = 0; j < RULE_PROBES; j++) {
			if (probe_admitted(fd[j]) == deny) {
				wrong++;
				print_message("reload %d: probe %d %s under "
				    "the old rules\n", i, j,
				    deny ? "admitted" : "refused");
			}
			close(fd[j]);
			probes++;
		}
	}
	load_stop(&l, &res, "reloads changing deny");
	print_message("%d probes after the reload replies, %d judged by the "
	    "old rules\n", probes, wrong);
	load_assert_clean(&res, 50);
	assert_int_equal(res.refused, 0);
	assert_true(probes >= RULE_RELOADS * RULE_PROBES);
	assert_int_equal(wrong, 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/* preforkctl reload in a child: exits 0 if the reply is OK and holds
 * want. */
static pid_t
reload_async(struct tx *t, const char *want)
{
	pid_t	pid = fork();
	char	*out = NULL;
	int	rc;

	assert_true(pid != -1);
	if (pid == 0) {
		rc = h_ctl(t->sock, &out, "reload", (char *)NULL);
		if (rc == 0 && out != NULL && strstr(out, want) != NULL)
			_exit(0);
		fprintf(stderr, "reload: %d: %s\n", rc, out != NULL ? out :
		    "(no output)");
		_exit(3);
	}
	return pid;
}

/*
 * An old worker that never confirms it stopped accepting (SIGSTOP) holds
 * the reply for the bound (1 s here) and no longer, and is named in the
 * log and the reply; a second reload meanwhile is refused as in progress.
 * A graceful stop while a confirmation is awaited reports the committed
 * reload at once, and the stop goes on as usual.
 */
static void
test_reload_unconfirmed(void **state)
{
	struct tx	 t;
	char		*out = NULL, who[64];
	pid_t		 kids[4], ctl;
	long		 t0, took;
	int		 p = h_free_port(4), st;

	tx_start(&t, 2, p);
	assert_int_equal(h_children(t.d.pid, kids, 4), 2);
	assert_int_equal(kill(kids[0], SIGSTOP), 0);
	t0 = h_now_ms();
	ctl = reload_async(&t, "generation 2; 1 old worker did not confirm");
	assert_int_equal(h_wait_log_count(&t.d, "ready, generation 2", 2,
	    H_TIMEOUT_MS), 0);
	assert_int_equal(h_ctl(t.sock, &out, "reload", (char *)NULL), 1);
	assert_non_null(strstr(out, "a reload is already in progress"));
	free(out);
	st = h_wait_exit(ctl, H_TIMEOUT_MS);
	took = h_now_ms() - t0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	print_message("reply with a stopped old worker after %ld ms\n", took);
	assert_true(took >= 1000 && took < 1000 + H_TIMEOUT_MS);
	snprintf(who, sizeof(who), "(pid %ld) of generation 1 did not confirm",
	    (long)kids[0]);
	assert_int_equal(h_log_count(&t.d, who), 1);
	assert_int_equal(kill(kids[0], SIGCONT), 0);
	assert_int_equal(h_wait_children(t.d.pid, 2, H_TIMEOUT_MS), 0);

	/* Stop while waiting for a (stopped) old worker's word. */
	assert_int_equal(h_children(t.d.pid, kids, 4), 2);
	assert_int_equal(kill(kids[1], SIGSTOP), 0);
	ctl = reload_async(&t, "generation 3, stopping");
	assert_int_equal(h_wait_log_count(&t.d, "ready, generation 3", 2,
	    H_TIMEOUT_MS), 0);
	assert_int_equal(kill(t.d.pid, SIGQUIT), 0);
	st = h_wait_exit(ctl, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(kill(kids[1], SIGCONT), 0);
	st = h_wait_exit(t.d.pid, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t.d.pid = 0;
	assert_int_equal(h_log_count(&t.d, "killing"), 0);
	assert_int_equal(h_log_count(&t.d, "did not confirm it"), 1);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/* Lines of the file at path from process pid that contain needle. */
static int
pid_said(const char *path, pid_t pid, const char *needle)
{
	char	*text = h_read_file(path), *p, *eol, tag[48];
	int	 n = 0;

	snprintf(tag, sizeof(tag), "preforkd[%ld] ", (long)pid);
	for (p = text; p != NULL && (p = strstr(p, tag)) != NULL; p = eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if (memmem(p, eol - p, needle, strlen(needle)) != NULL)
			n++;
	}
	free(text);
	return n;
}

struct said {
	const char	*path, *needle;
	const pid_t	*pids;
	int		 n;
};

static int
said_all(void *arg)
{
	const struct said	*s = arg;
	int			 i;

	for (i = 0; i < s->n && pid_said(s->path, s->pids[i], s->needle) > 0;
	    i++)
		;
	return i == s->n;
}

/* Wait until every one of pids has said needle in path (a file in the
 * daemon's directory, or its log); 0 or -1. */
static int
all_said(struct tx *t, const char *path, const pid_t *pids, int n,
    const char *needle)
{
	struct said	s = { path, needle, pids, n };

	return h_wait_dir(t->d.dir, said_all, &s, H_TIMEOUT_MS);
}

static pid_t
ctl_async(struct tx *t, const char *cmd)
{
	pid_t	pid = fork();
	char	*out = NULL;
	int	rc;

	assert_true(pid != -1);
	if (pid == 0) {
		rc = h_ctl(t->sock, &out, cmd, (char *)NULL);
		_exit(rc == 0 && out != NULL &&
		    strstr(out, "reopened by every process") != NULL ? 0 : 3);
	}
	return pid;
}

/*
 * Two reopens, the second after another rotation while the first still
 * waits for a (stopped) worker: the second is answered only once every
 * worker writes to the newest file.
 */
static void
test_reopen_overlap(void **state)
{
	struct tx	t;
	char		log[200], mid[200], old[200];
	pid_t		kids[4], a, b;
	int		p = h_free_port(4), st;

	tx_init(&t);
	snprintf(log, sizeof(log), "%s/server.log", t.d.dir);
	snprintf(mid, sizeof(mid), "%s/server.log.1", t.d.dir);
	snprintf(old, sizeof(old), "%s/server.log.2", t.d.dir);
	tx_write(&t, "workers = 2;\nlog = { file = \"%s\"; };\n" ECHO_LISTENER,
	    log, p);
	assert_int_equal(h_daemon_start(&t.d, 2, "127.0.0.1", p), 0);
	assert_int_equal(h_children(t.d.pid, kids, 4), 2);
	assert_int_equal(rename(log, old), 0);
	assert_int_equal(kill(kids[0], SIGSTOP), 0);
	a = ctl_async(&t, "reopen");
	assert_int_equal(all_said(&t, log, &t.d.pid, 1, "log reopened"), 0);
	assert_int_equal(rename(log, mid), 0);
	b = ctl_async(&t, "reopen");
	assert_int_equal(all_said(&t, log, &t.d.pid, 1, "log reopened"), 0);
	assert_int_equal(h_wait_exit(b, 100), -1);	/* still waiting */
	assert_int_equal(kill(kids[0], SIGCONT), 0);
	st = h_wait_exit(a, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = h_wait_exit(b, H_TIMEOUT_MS);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Answered: both workers already write to the newest file. */
	assert_int_equal(pid_said(log, kids[0], "log reopened"), 1);
	assert_int_equal(pid_said(log, kids[1], "log reopened"), 1);
	assert_int_equal(pid_said(mid, kids[0], "log reopened"), 1);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

/*
 * Reloads that move the log file -> syslog -> stderr -> another file:
 * every worker follows each time.
 */
static void
test_log_targets(void **state)
{
	struct tx	 t;
	char		 f1[200], f2[200], *before, *after, *out = NULL;
	pid_t		 kids[4];
	int		 p = h_free_port(4), n;

	tx_init(&t);
	snprintf(f1, sizeof(f1), "%s/one.log", t.d.dir);
	snprintf(f2, sizeof(f2), "%s/two.log", t.d.dir);
	tx_write(&t, "workers = 2;\nlog = { file = \"%s\"; };\n" ECHO_LISTENER,
	    f1, p);
	assert_int_equal(h_daemon_start(&t.d, 2, "127.0.0.1", p), 0);
	assert_int_equal(h_children(t.d.pid, kids, 4), 2);
	assert_int_equal(h_ctl(t.sock, NULL, "reopen", (char *)NULL), 0);
	assert_int_equal(all_said(&t, f1, kids, 2, "log reopened"), 0);

	/* To syslog: nothing more from any worker in the file. */
	tx_write(&t, "workers = 2;\nlog = { file = \"syslog\"; };\n"
	    ECHO_LISTENER, p);
	/* The reply says how long it took. */
	assert_int_equal(h_ctl(t.sock, &out, "reload", (char *)NULL), 0);
	assert_non_null(strstr(out, "generation 2 ("));
	assert_non_null(strstr(out, " ms)"));
	free(out);
	assert_int_equal(h_wait_children(t.d.pid, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_ctl(t.sock, NULL, "reopen", (char *)NULL), 0);
	before = h_read_file(f1);
	assert_int_equal(h_ctl(t.sock, NULL, "reopen", (char *)NULL), 0);
	after = h_read_file(f1);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* To stderr (the daemon's log here), then to another file. */
	tx_write(&t, "workers = 2;\nlog = { file = \"stderr\"; };\n"
	    ECHO_LISTENER, p);
	assert_int_equal(tx_reload(&t), 0);
	assert_int_equal(h_wait_children(t.d.pid, 2, H_TIMEOUT_MS), 0);
	n = h_children(t.d.pid, kids, 4);
	assert_int_equal(n, 2);
	assert_int_equal(all_said(&t, t.d.log, kids, 2, "log reopened"), 0);
	tx_write(&t, "workers = 2;\nlog = { file = \"%s\"; };\n"
	    ECHO_LISTENER, f2, p);
	assert_int_equal(tx_reload(&t), 0);
	assert_int_equal(h_wait_children(t.d.pid, 2, H_TIMEOUT_MS), 0);
	assert_int_equal(h_children(t.d.pid, kids, 4), 2);
	assert_int_equal(all_said(&t, f2, kids, 2, "log reopened"), 0);
	assert_int_equal(h_daemon_stop(&t.d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_reloads),
		cmocka_unit_test(test_resizing_reloads),
		cmocka_unit_test(test_listener_remove_readd),
		cmocka_unit_test(test_kill_storm),
		cmocka_unit_test(test_stop_drains),
		cmocka_unit_test(test_stop_during_reload),
		cmocka_unit_test(test_stop_while_starting),
		cmocka_unit_test(test_capacity_hysteresis),
		cmocka_unit_test(test_reopen_overlap),
		cmocka_unit_test(test_log_targets),
		cmocka_unit_test(test_reload_rules_at_reply),
		cmocka_unit_test(test_reload_unconfirmed),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("PF_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PF_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
