/*
 * master.c -- the supervisor: forks one worker per slot, reaps and
 * respawns them, and stops them all on SIGTERM/SIGINT.
 *
 * The master runs its own libevent loop; signals arrive as ordinary
 * callbacks.  Respawn policy: a worker that exits after living at least
 * SLOT_HEALTHY_MS is replaced at once; one that dies younger counts as a
 * failure, and each consecutive failure doubles the delay before the next
 * attempt (SLOT_BACKOFF_MIN_MS up to SLOT_BACKOFF_MAX_MS), so a crash loop
 * costs one fork and one log line per delay, never a spin.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "server/listeners.h"
#include "server/master.h"
#include "worker/worker.h"

#define SLOT_HEALTHY_MS		1000
#define SLOT_BACKOFF_MIN_MS	100
#define SLOT_BACKOFF_MAX_MS	30000
#define STOP_KILL_MS		3000	/* TERM, then KILL after this */

struct slot {
	int		 id;
	pid_t		 pid;		/* 0: no worker */
	uint64_t	 started_ms;
	unsigned int	 failures;	/* consecutive young deaths */
	struct event	*respawn;
};

static struct {
	struct event_base	*base;
	struct config		*cfg;
	struct lsock		*ls;
	struct slot		*slots;
	int			 nslots;
	int			 alive;
	int			 stopping;
	pid_t			 pid;
	struct event		*sigs[4];
	struct event		*kill_timer;
} m;

static const int master_signals[] = { SIGTERM, SIGINT, SIGCHLD, SIGHUP };

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ms_to_tv(unsigned int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * In a new worker: drop every event of the master's loop.  The epoll fd
 * is shared with the master across fork, so the base is re-initialised
 * first; freeing it as it was would delete the master's registrations.
 */
static void
master_forget(void)
{
	size_t	i;
	int	j;

	if (event_reinit(m.base) == -1)
		log_warnx("event_reinit failed in new worker");
	for (i = 0; i < sizeof(m.sigs) / sizeof(m.sigs[0]); i++)
		event_free(m.sigs[i]);
	for (j = 0; j < m.nslots; j++)
		event_free(m.slots[j].respawn);
	event_free(m.kill_timer);
	event_base_free(m.base);
	m.base = NULL;
}

static void
slot_spawn(struct slot *s)
{
	struct timeval	tv;
	pid_t		pid;

	pid = fork();
	if (pid == -1) {
		log_warn("fork worker %d", s->id);
		s->failures++;
		ms_to_tv(SLOT_BACKOFF_MAX_MS / 10, &tv);
		evtimer_add(s->respawn, &tv);
		return;
	}
	if (pid == 0) {
		master_forget();
		worker_main(m.cfg, m.ls, m.cfg->nlisteners, s->id, m.pid);
	}
	s->pid = pid;
	s->started_ms = now_ms();
	m.alive++;
	log_info("worker %d started, pid %ld", s->id, (long)pid);
}

static void
slot_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot	*s = arg;

	if (!m.stopping && s->pid == 0)
		slot_spawn(s);
}

/* A worker of slot s has exited: respawn now, or after a backoff. */
static void
slot_schedule(struct slot *s, uint64_t lived_ms)
{
	struct timeval	tv;
	unsigned int	delay = 0, i;

	if (lived_ms < SLOT_HEALTHY_MS)
		s->failures++;
	else
		s->failures = 0;
	if (s->failures > 0) {
		delay = SLOT_BACKOFF_MIN_MS;
		for (i = 1; i < s->failures && delay < SLOT_BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > SLOT_BACKOFF_MAX_MS)
			delay = SLOT_BACKOFF_MAX_MS;
		log_warnx("worker %d died %u times in a row; next start in "
		    "%u ms", s->id, s->failures, delay);
	}
	ms_to_tv(delay, &tv);
	evtimer_add(s->respawn, &tv);
}

static struct slot *
slot_by_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < m.nslots; i++) {
		if (m.slots[i].pid == pid)
			return &m.slots[i];
	}
	return NULL;
}

static void
master_reap(void)
{
	struct slot	*s;
	pid_t		 pid;
	int		 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((s = slot_by_pid(pid)) == NULL) {
			log_info("child pid %ld reaped", (long)pid);
			continue;
		}
		if (WIFSIGNALED(st))
			log_warnx("worker %d (pid %ld) killed by signal %d%s",
			    s->id, (long)pid, WTERMSIG(st),
			    WCOREDUMP(st) ? " (core dumped)" : "");
		else if (WEXITSTATUS(st) != 0 || !m.stopping)
			log_warnx("worker %d (pid %ld) exited with status %d",
			    s->id, (long)pid, WEXITSTATUS(st));
		else
			log_info("worker %d (pid %ld) exited", s->id,
			    (long)pid);
		s->pid = 0;
		m.alive--;
		if (!m.stopping)
			slot_schedule(s, now_ms() - s->started_ms);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
	if (m.stopping && m.alive == 0)
		event_base_loopbreak(m.base);
}

static void
master_signal_all(int sig)
{
	int	i;

	for (i = 0; i < m.nslots; i++) {
		if (m.slots[i].pid > 0 && kill(m.slots[i].pid, sig) == -1 &&
		    errno != ESRCH)
			log_warn("kill worker %d (pid %ld)", m.slots[i].id,
			    (long)m.slots[i].pid);
	}
}

static void
master_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("%d workers still running after %d ms; killing them",
	    m.alive, STOP_KILL_MS);
	master_signal_all(SIGKILL);
}

static void
master_stop(int sig)
{
	struct timeval	tv;
	int		i;

	if (m.stopping) {
		log_warnx("signal %d again: killing workers now", sig);
		master_signal_all(SIGKILL);
		return;
	}
	log_info("signal %d: stopping %d workers", sig, m.alive);
	m.stopping = 1;
	for (i = 0; i < m.nslots; i++)
		evtimer_del(m.slots[i].respawn);
	master_signal_all(SIGTERM);
	ms_to_tv(STOP_KILL_MS, &tv);
	evtimer_add(m.kill_timer, &tv);
	if (m.alive == 0)
		event_base_loopbreak(m.base);
}

static void
master_signal(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGCHLD:
		master_reap();
		break;
	case SIGHUP:
		log_warnx("SIGHUP: reload is not supported yet; ignored");
		break;
	default:
		master_stop(sig);
		break;
	}
}

static int
master_setup(void)
{
	size_t	i;
	int	j;

	if ((m.base = event_base_new()) == NULL) {
		log_warnx("cannot create event base");
		return -1;
	}
	for (i = 0; i < sizeof(m.sigs) / sizeof(m.sigs[0]); i++) {
		m.sigs[i] = evsignal_new(m.base, master_signals[i],
		    master_signal, NULL);
		if (m.sigs[i] == NULL || evsignal_add(m.sigs[i], NULL) == -1) {
			log_warnx("cannot watch signal %d", master_signals[i]);
			return -1;
		}
	}
	if ((m.kill_timer = evtimer_new(m.base, master_kill_cb, NULL)) ==
	    NULL) {
		log_warnx("cannot create timer");
		return -1;
	}
	for (j = 0; j < m.nslots; j++) {
		m.slots[j].id = j;
		m.slots[j].respawn = evtimer_new(m.base, slot_respawn_cb,
		    &m.slots[j]);
		if (m.slots[j].respawn == NULL) {
			log_warnx("cannot create timer");
			return -1;
		}
	}
	return 0;
}

static void
master_cleanup(void)
{
	size_t	i;
	int	j;

	if (m.ls != NULL)
		listeners_close(m.ls, m.cfg->nlisteners);
	free(m.ls);
	for (i = 0; i < sizeof(m.sigs) / sizeof(m.sigs[0]); i++) {
		if (m.sigs[i] != NULL)
			event_free(m.sigs[i]);
	}
	for (j = 0; j < m.nslots; j++) {
		if (m.slots[j].respawn != NULL)
			event_free(m.slots[j].respawn);
	}
	free(m.slots);
	if (m.kill_timer != NULL)
		event_free(m.kill_timer);
	if (m.base != NULL)
		event_base_free(m.base);
}

static int
workers_count(const struct config *cfg)
{
	long	n;

	if (cfg->workers != CONFIG_WORKERS_AUTO)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (int)n;
}

int
master_run(struct config *cfg)
{
	int	i, status = 1;

	m.cfg = cfg;
	m.pid = getpid();
	m.nslots = workers_count(cfg);
	m.ls = calloc(cfg->nlisteners, sizeof(*m.ls));
	m.slots = calloc(m.nslots, sizeof(*m.slots));
	if (m.ls == NULL || m.slots == NULL) {
		log_warn("master");
		goto out;
	}
	if (master_setup() == -1 || listeners_open(cfg, m.ls) == -1) {
		free(m.ls);
		m.ls = NULL;
		goto out;
	}
	log_info("starting %d workers (config %s)", m.nslots, cfg->file);
	for (i = 0; i < m.nslots; i++)
		slot_spawn(&m.slots[i]);
	if (event_base_dispatch(m.base) == -1)
		log_warnx("event loop failed");
	else
		status = 0;
	/* Only a failed loop gets here with workers left: never orphan them. */
	if (m.alive > 0) {
		master_signal_all(SIGKILL);
		while (m.alive > 0 && waitpid(-1, NULL, 0) > 0)
			m.alive--;
	}
	log_info("stopped");
out:
	master_cleanup();
	return status;
}
