/*
 * upgrade.c -- a binary upgrade (SIGUSR2, "preforkctl upgrade",
 * "preforkd -s upgrade") as a transaction between two masters.
 *
 * The old master forks and execs the binary at the path it was started
 * from (read at start-up from /proc/self/exe: the file now on disk, not
 * the inode it runs) with the same arguments.  The new master inherits
 * every listening socket of the serving set (all the per-slot reuseport
 * sockets) and the admin socket, named in its environment like systemd's
 * LISTEN_FDS:
 *
 *   PREFORKD_LISTEN_PID=<new pid>        the variables are for it only
 *   PREFORKD_LISTEN_FDS=<fd>=<address>,...   listening sockets, in order
 *   PREFORKD_ADMIN_FD=<fd>               the admin socket, if any
 *   PREFORKD_UPGRADE_FD=<fd>             a SOCK_SEQPACKET channel
 *   PREFORKD_UPGRADE_FROM=<old pid>
 *
 * It matches the sockets to its configuration's listeners by address
 * (getsockname, the names are for people), binds only what is new, checks
 * its configuration and starts its workers, which do not accept yet.  All
 * ready, it says READY on the channel; the old master leaves the steering
 * programs to it, stops serving its admin socket and says GO.  The new
 * master then listens on its new listeners, commits (sockets its file
 * lacks are closed like removed listeners: no new client, the queued ones
 * left to the old workers' last sweep), lets its workers accept, replaces
 * the pidfile (locked, renamed over) and serves the inherited admin socket
 * (same path, same file: no moment without one), and says DONE.  Only
 * then does the old master tell systemd MAINPID=<new pid> (it is the main
 * process, so NotifyAccess=main is enough), answer whoever asked, close
 * its copies of the sockets (never unlinking or filtering them: they are
 * the new master's) and stop gracefully: its workers drain, the last at
 * shutdown_timeout, and it exits.
 *
 * Until DONE nothing is lost by failing: an error the new master reports
 * (ERR <reason>: a bad file, a worker that cannot start), its exit (the
 * status is reaped here: the new master is our child), a closed channel,
 * or no READY within the deadline end the upgrade; the new master is told
 * to stop (its workers never accepted), and the old one serves on,
 * untouched, and reports why.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/admin.h"
#include "server/children.h"
#include "server/httpstats.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/notify.h"
#include "server/pidfile.h"
#include "server/removal.h"
#include "server/upgrade.h"

#define UPGRADE_SLACK_MS	1000	/* READY: beyond a reload's bound */
#define UPGRADE_DONE_WAIT_MS	5000	/* GO sent: until DONE */
#define UPGRADE_EOF_WAIT_MS	1000	/* channel closed: its exit status */
#define UPGRADE_GO_WAIT_MS	30000	/* new master: the old one's answer */
#define UPGRADE_MSG_MAX		(CONFIG_ERRLEN + 64)

enum phase {
	UP_IDLE,
	UP_STARTING,		/* old: waiting for READY */
	UP_GO,			/* old: GO sent, waiting for DONE */
	UP_WAITING,		/* new: READY sent (or not yet), before GO */
};

static struct {
	char			 exe[PATH_MAX];
	char			**argv;
	enum phase		 phase;
	int			 fd;		/* the channel, or -1 */
	struct event		*ev;
	struct event		*deadline;
	pid_t			 pid;		/* the new master, till reaped */
	int			 eof;		/* its channel closed */
	uint64_t		 started_ms;
	const char		*why;
	reload_done_fn		 done;
	void			*done_arg;
	struct reload_last	 last;
	/* A new master. */
	int			 sent_ready;
	pid_t			 from;
	char			*fds;		/* PREFORKD_LISTEN_FDS */
	char			*notify;	/* $NOTIFY_SOCKET, held back */
} u = { .fd = -1 };

static void	channel_send(const char *, ...) PF_PRINTF(1, 2);
static void	upgrade_fail(const char *, ...) PF_PRINTF(1, 2);

void
upgrade_remember(char **argv)
{
	ssize_t	n;

	u.argv = argv;
	n = readlink("/proc/self/exe", u.exe, sizeof(u.exe) - 1);
	u.exe[n > 0 ? n : 0] = '\0';
}

int
upgrade_busy(void)
{
	return u.phase != UP_IDLE;
}

const struct reload_last *
upgrade_last(void)
{
	return &u.last;
}

static void
channel_send(const char *fmt, ...)
{
	char	msg[UPGRADE_MSG_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		n = sizeof(msg) - 1;
	if (u.fd != -1 && n > 0 && send(u.fd, msg, n, MSG_NOSIGNAL) != n)
		log_warn("upgrade: channel");
}

static void
channel_close(void)
{
	if (u.ev != NULL)
		event_free(u.ev);
	u.ev = NULL;
	if (u.fd != -1)
		close(u.fd);
	u.fd = -1;
}

static void
upgrade_finish(int ok, const char *result)
{
	reload_done_fn	done = u.done;

	u.phase = UP_IDLE;
	u.done = NULL;
	evtimer_del(u.deadline);
	channel_close();
	u.last.when = time(NULL);
	u.last.ok = ok;
	u.last.took_ms = master_now_ms() - u.started_ms;
	snprintf(u.last.result, sizeof(u.last.result), "%s (%llu ms)", result,
	    (unsigned long long)u.last.took_ms);
	if (ok)
		log_info("upgrade (%s): done, %s", u.why, u.last.result);
	else
		log_warnx("upgrade (%s) failed: %s; still serving", u.why,
		    u.last.result);
	if (done != NULL)
		done(u.done_arg, ok, u.last.result);
}

/* The new master failed before it served: it goes, and we serve on. */
static void
upgrade_fail(const char *fmt, ...)
{
	char	why[UPGRADE_MSG_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (u.phase == UP_GO) {
		char	err[CONFIG_ERRLEN];
		pid_t	pid;
		int	fd;

		listeners_freeze(0);
		listeners_unfilter();
		master_steer();
		admin_pause(0);
		/* It may have taken the pidfile over already. */
		if (master.pidfile != NULL && (pidfile_read(master.pidfile,
		    &pid, err, sizeof(err)) == -1 || pid != master.pid)) {
			if ((fd = pidfile_take_over(master.pidfile, err,
			    sizeof(err))) == -1)
				log_warnx("pidfile %s", err);
			else {
				if (master.pidfd != -1)
					close(master.pidfd);
				master.pidfd = fd;
			}
		}
	}
	/* After GO it may have taken the pidfile and the admin socket: a
	 * SIGTERM would have it remove them on its way out. */
	if (u.pid > 0 && kill(u.pid, u.eof || u.phase == UP_GO ? SIGKILL :
	    SIGTERM) == -1 && errno != ESRCH)
		log_warn("upgrade: kill %ld", (long)u.pid);
	upgrade_finish(0, why);
}

/* Every slot of the first generation has a READY worker. */
static int
all_ready(void)
{
	int	i;

	for (i = 0; i < master.nslots; i++) {
		if (master.slots[i].child == NULL ||
		    master.slots[i].child->state != CHILD_READY)
			return 0;
	}
	return 1;
}

/* Old master: the new one is ready; it may serve. */
static void
old_ready(void)
{
	struct timeval	tv;

	if (master.stopping) {
		upgrade_fail("this master is stopping");
		return;
	}
	u.phase = UP_GO;
	listeners_freeze(1);
	admin_pause(1);
	channel_send("GO");
	clock_ms_to_tv(UPGRADE_DONE_WAIT_MS, &tv);
	evtimer_add(u.deadline, &tv);
}

/* Old master: the new one serves, admin socket and pidfile included. */
static void
old_done(void)
{
	char	result[128];
	pid_t	pid = u.pid;

	master.handed_over = 1;
	httpstats_close();
	listeners_forget(NULL, 0);	/* ours; the workers keep theirs */
	admin_release();
	if (master.pidfd != -1)
		close(master.pidfd);	/* the file is the new master's */
	master.pidfd = -1;
	notify_send("MAINPID=%ld\nREADY=1\nSTATUS=upgraded: serving as pid %ld",
	    (long)pid, (long)pid);
	unsetenv("NOTIFY_SOCKET");	/* the unit follows the new master */
	snprintf(result, sizeof(result), "upgraded: master pid %ld -> %ld",
	    (long)master.pid, (long)pid);
	upgrade_finish(1, result);
	master_stop(1);
}

/* New master: the old one let go; serve. */
static void
new_go(void)
{
	struct child	*c;

	evtimer_del(u.deadline);
	if (master.stopping) {
		/* Told to stop meanwhile: the old master serves on. */
		channel_send("ERR the new master (pid %ld) is stopping",
		    (long)getpid());
		u.phase = UP_IDLE;
		return;
	}
	master.upgrading = 0;
	if (master_serve() == -1) {
		channel_send("ERR cannot listen on the new listeners (see the "
		    "log of pid %ld)", (long)getpid());
		u.phase = UP_IDLE;
		master_stop(0);
		return;
	}
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->state == CHILD_READY && !c->accepting &&
		    c->generation == master.generation)
			child_accept(c);
	}
	master_steer();
	if (master.cfg->pidfile != NULL) {
		char	err[CONFIG_ERRLEN];

		if ((master.pidfile = strdup(master.cfg->pidfile)) == NULL ||
		    (master.pidfd = pidfile_take_over(master.pidfile, err,
		    sizeof(err))) == -1)
			log_warnx("pidfile %s", master.pidfile ? err :
			    "strdup");
	}
	admin_take_over();
	if (u.notify != NULL && setenv("NOTIFY_SOCKET", u.notify, 1) == -1)
		log_warn("NOTIFY_SOCKET");
	master.upgraded_from = u.from;
	channel_send("DONE");
	channel_close();
	u.phase = UP_IDLE;
	log_info("upgrade: serving as the master; pid %ld drains and exits",
	    (long)u.from);
}

static void
channel_read(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv;
	char		msg[UPGRADE_MSG_MAX];
	ssize_t		n;

	while (u.fd != -1 && u.phase != UP_IDLE) {
		n = recv(u.fd, msg, sizeof(msg) - 1, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			channel_close();
			if (u.phase == UP_WAITING) {
				log_warnx("upgrade: the old master (pid %ld) "
				    "gave up; exiting", (long)u.from);
				master_stop(0);
				return;
			}
			/* Exiting, probably: its status comes with the reap. */
			u.eof = 1;
			clock_ms_to_tv(UPGRADE_EOF_WAIT_MS, &tv);
			evtimer_add(u.deadline, &tv);
			return;
		}
		msg[n] = '\0';
		if (u.phase == UP_WAITING) {
			if (strcmp(msg, "GO") == 0)
				new_go();
			else {
				log_warnx("upgrade: the old master said '%s'; "
				    "exiting", msg);
				master_stop(0);
			}
			return;
		}
		if (strncmp(msg, "ERR ", 4) == 0)
			upgrade_fail("the new master (pid %ld): %s",
			    (long)u.pid, msg + 4);
		else if (u.phase == UP_STARTING && strcmp(msg, "READY") == 0)
			old_ready();
		else if (u.phase == UP_GO && strcmp(msg, "DONE") == 0)
			old_done();
		else
			upgrade_fail("the new master (pid %ld) said '%.64s'",
			    (long)u.pid, msg);
	}
}

static void
upgrade_timeout(evutil_socket_t fd, short what, void *arg)
{
	if (u.phase == UP_WAITING) {
		log_warnx("upgrade: no word from the old master (pid %ld) in "
		    "%d ms; exiting", (long)u.from, UPGRADE_GO_WAIT_MS);
		master_stop(0);
	} else if (u.eof)
		upgrade_fail("the new master (pid %ld) closed its channel "
		    "before it served", (long)u.pid);
	else if (u.phase != UP_IDLE)
		upgrade_fail("the new master (pid %ld) was not %s by its "
		    "deadline", (long)u.pid, u.phase == UP_GO ? "serving" :
		    "ready");
}

void
upgrade_reaped(pid_t pid, int st)
{
	char	how[64];

	if (pid != u.pid || pid <= 0) {
		log_info("child pid %ld reaped", (long)pid);
		return;
	}
	u.pid = 0;
	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(st));
	if (u.phase == UP_STARTING || u.phase == UP_GO)
		upgrade_fail("the new master (pid %ld, %s) %s before it "
		    "served", (long)pid, u.exe, how);
	else if (master.handed_over)
		log_warnx("upgrade: the new master (pid %ld) %s", (long)pid,
		    how);
	else
		log_info("upgrade: the failed new master (pid %ld) %s",
		    (long)pid, how);
}

/* New master: READY once every worker is; a worker that dies starting
 * ends the upgrade, as it would end a reload. */
static void
child_online(void *self, const struct pf_event_arg *ev, void *udata)
{
	if (u.phase == UP_WAITING && !u.sent_ready && all_ready()) {
		u.sent_ready = 1;
		channel_send("READY");
	}
}

static void
child_exit(void *self, const struct pf_event_arg *ev, void *udata)
{
	const struct child	*c = ev->data;

	if (u.phase != UP_WAITING || c->state != CHILD_STARTING ||
	    c->generation != master.generation)
		return;
	channel_send("ERR worker %d (pid %ld) failed to start; see the log",
	    c->slot, (long)c->pid);
	u.phase = UP_IDLE;
	master_stop(0);
}

int
upgrade_child_init(void)
{
	const char	*fd = getenv(UPGRADE_ENV_FD);
	const char	*pid = getenv(UPGRADE_ENV_PID);
	const char	*from = getenv(UPGRADE_ENV_FROM);
	const char	*fds = getenv(UPGRADE_ENV_FDS);
	const char	*admin = getenv(UPGRADE_ENV_ADMIN);
	const char	*notify = getenv("NOTIFY_SOCKET");
	int		 ours;

	if (fd == NULL)
		return 0;
	ours = pid != NULL && atol(pid) == (long)getpid() && atoi(fd) > 2;
	if (ours) {
		u.fd = atoi(fd);
		u.from = from != NULL ? (pid_t)atol(from) : 0;
		u.fds = fds != NULL ? strdup(fds) : NULL;
		if (admin != NULL && atoi(admin) > 2)
			admin_inherit(atoi(admin));
		/* Until we serve, systemd's main process is the old master. */
		if (notify != NULL && (u.notify = strdup(notify)) != NULL)
			unsetenv("NOTIFY_SOCKET");
	}
	unsetenv(UPGRADE_ENV_FD);
	unsetenv(UPGRADE_ENV_PID);
	unsetenv(UPGRADE_ENV_FROM);
	unsetenv(UPGRADE_ENV_FDS);
	unsetenv(UPGRADE_ENV_ADMIN);
	if (!ours) {
		log_warnx("upgrade: %s is not for this process; ignored",
		    UPGRADE_ENV_FD);
		return 0;
	}
	if (fcntl(u.fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(u.fd, F_SETFL, O_NONBLOCK) == -1) {
		log_warn("upgrade: channel fd %d", u.fd);
		u.fd = -1;
		return 0;
	}
	u.phase = UP_WAITING;
	master.upgrading = 1;
	return 1;
}

void
upgrade_child_failed(const char *why)
{
	if (u.phase == UP_WAITING)
		channel_send("ERR %s", why);
}

int
upgrade_init(struct event_base *base)
{
	struct timeval	tv;

	u.deadline = evtimer_new(base, upgrade_timeout, NULL);
	if (u.deadline == NULL ||
	    pf_on(&master.life, PF_EV_ONLINE, child_online, NULL) == -1 ||
	    pf_on(&master.life, PF_EV_EXIT, child_exit, NULL) == -1) {
		log_warnx("upgrade: cannot create events");
		return -1;
	}
	if (u.phase != UP_WAITING)
		return 0;
	u.ev = event_new(base, u.fd, EV_READ | EV_PERSIST, channel_read, NULL);
	clock_ms_to_tv(UPGRADE_GO_WAIT_MS, &tv);
	if (u.ev == NULL || event_add(u.ev, NULL) == -1 ||
	    evtimer_add(u.deadline, &tv) == -1) {
		log_warnx("upgrade: cannot watch the channel");
		return -1;
	}
	return 0;
}

int
upgrade_inherit(void)
{
	char	*p, *end;

	/* "fd=address,fd=address": a part not starting "<digits>=" belongs
	 * to the address before it (a path with a comma). */
	for (p = u.fds; p != NULL && *p != '\0'; p = end) {
		long	fd = strtol(p, &end, 10);

		if (end != p && *end == '=' && fd > 2 && fd < INT_MAX &&
		    listeners_adopt_fd((int)fd, 1) == -1)
			return -1;
		end = strchr(end, ',');
		end = end != NULL ? end + 1 : NULL;
	}
	free(u.fds);
	u.fds = NULL;
	return 0;
}

void
upgrade_cancel(const char *why)
{
	if (u.phase == UP_STARTING || u.phase == UP_GO)
		upgrade_fail("%s", why);
}

void
upgrade_free(void)
{
	channel_close();
	if (u.deadline != NULL)
		event_free(u.deadline);
	u.deadline = NULL;
	free(u.fds);
	free(u.notify);
	u.fds = u.notify = NULL;
}

void
upgrade_forget(void)
{
	if (u.fd != -1)
		close(u.fd);
	u.fd = -1;
}

/* The environment's list of sockets, grown as it goes. */
struct fdlist {
	char	*s;
	size_t	 len, cap;
};

static int
fdlist_add(int fd, const char *name, void *arg)
{
	struct fdlist	*l = arg;
	size_t		 need = strlen(name) + 16;
	char		*ns;

	if (l->cap - l->len < need) {
		if ((ns = realloc(l->s, l->cap + need + 1024)) == NULL)
			return -1;
		l->s = ns;
		l->cap += need + 1024;
	}
	l->len += snprintf(l->s + l->len, l->cap - l->len, "%s%d=%s",
	    l->len > 0 ? "," : "", fd, name);
	return 0;
}

static int
fd_inheritable(int fd, const char *name, void *arg)
{
	return fcntl(fd, F_SETFD, 0);
}

/* In the forked child: become the new master, or say why not. */
static void __attribute__((noreturn))
upgrade_exec(int chan, const sigset_t *mask, const char *fds)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGCHLD,
				    SIGHUP, SIGUSR1, SIGUSR2 };
	char			 num[32], msg[UPGRADE_MSG_MAX];
	size_t			 i;
	int			 n;

	/* The master's handlers would write to its signal pipe. */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	if (setenv(UPGRADE_ENV_PID, num, 1) == -1 ||
	    setenv(UPGRADE_ENV_FDS, fds, 1) == -1)
		goto fail;
	snprintf(num, sizeof(num), "%ld", (long)getppid());
	if (setenv(UPGRADE_ENV_FROM, num, 1) == -1)
		goto fail;
	snprintf(num, sizeof(num), "%d", chan);
	if (setenv(UPGRADE_ENV_FD, num, 1) == -1 ||
	    listeners_each(fd_inheritable, NULL) == -1 ||
	    fcntl(chan, F_SETFD, 0) == -1)
		goto fail;
	if (admin_fd() != -1) {
		snprintf(num, sizeof(num), "%d", admin_fd());
		if (setenv(UPGRADE_ENV_ADMIN, num, 1) == -1 ||
		    fcntl(admin_fd(), F_SETFD, 0) == -1)
			goto fail;
	} else
		unsetenv(UPGRADE_ENV_ADMIN);
	execv(u.exe, u.argv);
fail:
	n = snprintf(msg, sizeof(msg), "ERR exec %s: %s", u.exe,
	    strerror(errno));
	(void)send(chan, msg, n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1,
	    MSG_NOSIGNAL);
	_exit(127);
}

void
upgrade_start(const char *why, reload_done_fn done, void *arg)
{
	struct fdlist	 fds = { NULL, 0, 0 };
	struct timeval	 tv;
	const char	*refused = NULL;
	char		 err[UPGRADE_MSG_MAX];
	sigset_t	 all, old;
	int		 sv[2] = { -1, -1 };
	pid_t		 pid;

	if (u.phase != UP_IDLE)
		refused = "an upgrade is in progress";
	else if (master.stopping || master.handed_over || removal_pending(NULL))
		refused = "stopping";
	else if (master.prev.cfg != NULL)
		refused = "a reload is in progress";
	if (refused == NULL && (u.exe[0] == '\0' ||
	    access(u.exe, X_OK) == -1)) {
		snprintf(err, sizeof(err), "cannot run %.512s: %s", u.exe[0] ?
		    u.exe : "the binary (its path is unknown)",
		    u.exe[0] ? strerror(errno) : "no /proc/self/exe");
		refused = err;
	}
	if (refused != NULL) {
		log_warnx("upgrade (%s) refused: %s", why, refused);
		if (done != NULL)
			done(arg, 0, refused);
		return;
	}
	u.why = why;
	u.done = done;
	u.done_arg = arg;
	u.eof = 0;
	u.started_ms = master_now_ms();
	u.phase = UP_STARTING;
	if (listeners_each(fdlist_add, &fds) == -1 || (fds.s == NULL &&
	    (fds.s = strdup("")) == NULL)) {
		free(fds.s);
		upgrade_finish(0, "out of memory");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		snprintf(err, sizeof(err), "socketpair: %s", strerror(errno));
		goto fail;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		snprintf(err, sizeof(err), "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		upgrade_exec(sv[1], &old, fds.s);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(fds.s);
	close(sv[1]);
	u.pid = pid;
	u.fd = sv[0];
	u.ev = event_new(master.base, u.fd, EV_READ | EV_PERSIST, channel_read,
	    NULL);
	if (u.ev == NULL || event_add(u.ev, NULL) == -1) {
		upgrade_fail("cannot watch the new master's channel");
		return;
	}
	clock_ms_to_tv(reload_wait_ms(master.cfg) + UPGRADE_SLACK_MS, &tv);
	evtimer_add(u.deadline, &tv);
	log_info("upgrade (%s): started %s as pid %ld", why, u.exe, (long)pid);
	return;
fail:
	free(fds.s);
	if (sv[0] != -1) {
		close(sv[0]);
		close(sv[1]);
	}
	upgrade_finish(0, err);
}
