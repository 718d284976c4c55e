/*
 * generation.c -- a reload as a transaction on the workers: begin starts
 * generation N+1 beside N (its workers report READY but do not accept),
 * commit lets N+1 accept, retires removed listeners and drains N, abort
 * drains N+1 before it ever accepted and N serves on untouched.
 * server/reload.c decides which, and when.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/iplimit.h"
#include "common/log.h"
#include "server/admin.h"
#include "server/children.h"
#include "server/generation.h"
#include "server/httpstats.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/privs.h"

int
master_workers(const struct config *cfg)
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
needs_iplimit(const struct config *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].max_per_ip > 0)
			return 1;
	}
	return 0;
}

/* The current generation's set-up, as a struct gen and back. */
static void
gen_save(struct gen *g)
{
	g->cfg = master.cfg;
	g->ls = master.ls;
	g->slots = master.slots;
	g->nslots = master.nslots;
	g->generation = master.generation;
}

static void
gen_load(const struct gen *g)
{
	master.cfg = g->cfg;
	master.ls = g->ls;
	master.slots = g->slots;
	master.nslots = g->nslots;
	master.generation = g->generation;
}

/* A generation started by "workers N" shares the configuration of the
 * one before it: the one still current keeps it. */
void
gen_free(struct gen *g)
{
	slots_free(g->slots, g->nslots);
	lsocks_free(g->ls, g->cfg->nlisteners);
	if (g->cfg != master.cfg)
		config_free(g->cfg);
	memset(g, 0, sizeof(*g));
}

/*
 * Start generation N+1 on cfg and ls (already validated and prepared),
 * the workers of its first `start` slots now (a canary: one), the others
 * by master_spawn_rest(); the current one keeps serving until
 * master_end_generation().
 */
int
master_begin_generation(struct config *cfg, struct lsock *ls, int n,
    int start)
{
	struct slot	*slots;
	int		 i;

	/* A limit per address that the old file lacked needs the table. */
	if ((needs_iplimit(cfg) && iplimit_init() == -1) ||
	    slots_new(&slots, n) == -1)
		return -1;
	gen_save(&master.prev);
	for (i = 0; i < master.prev.nslots; i++)
		evtimer_del(master.prev.slots[i].respawn);
	/* Never a number an aborted generation had: its workers may still
	 * be draining, and must not be taken for the new one's. */
	if (master.generation_seq < master.prev.generation)
		master.generation_seq = master.prev.generation;
	gen_load(&(struct gen){ .cfg = cfg, .ls = ls, .slots = slots,
	    .nslots = n, .generation = ++master.generation_seq });
	if (cfg->rlimit_nofile > 0)
		privs_rlimit_nofile(cfg->rlimit_nofile);
	log_set_level(cfg->log_level);
	if (start < n)
		log_info("generation %u: starting %d of %d workers",
		    master.generation, start, n);
	else
		log_info("generation %u: starting %d workers",
		    master.generation, n);
	for (i = 0; i < n && i < start; i++)
		slot_spawn_soon(&master.slots[i]);
	return 0;
}

/* The slots of the new generation that have no worker yet get one. */
void
master_spawn_rest(void)
{
	int	i;

	for (i = 0; i < master.nslots; i++) {
		if (master.slots[i].child == NULL)
			slot_spawn_soon(&master.slots[i]);
	}
}

/* Keep at most max_old_generations draining: finish the oldest first. */
static void
drain_bound(void)
{
	struct child	*c;
	uint32_t	 gens[64], oldest;
	int		 n, i;

	for (;;) {
		n = 0;
		oldest = UINT32_MAX;
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->state != CHILD_DRAINING)
				continue;
			for (i = 0; i < n && gens[i] != c->generation; i++)
				;
			if (i == n && n < 64)
				gens[n++] = c->generation;
			if (c->generation < oldest)
				oldest = c->generation;
		}
		if (n <= master.cfg->max_old_generations)
			return;
		log_warnx("more than %d generations draining: stopping "
		    "generation %u now", master.cfg->max_old_generations,
		    oldest);
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->state == CHILD_DRAINING &&
			    c->generation == oldest) {
				child_kill(c, SIGTERM);
			}
		}
	}
}

/*
 * Commit: the new sockets listen, the new workers accept, every older
 * worker drains, and the old set-up is freed; -1 (nothing committed, the
 * caller aborts) if the kernel refuses to listen.  Abort: the new
 * generation, which never accepted, drains at once (it has no client to
 * lose) and the old one is current again.
 */
int
master_end_generation(int commit)
{
	struct child	*c;
	struct gen	 cur;
	int		 i;

	if (master.prev.cfg == NULL)
		return 0;
	if (commit) {
		if (listeners_listen() == -1)
			return -1;
		/* The new ones first: every socket has an acceptor. */
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->generation == master.generation &&
			    c->state == CHILD_READY)
				child_accept(c);
		}
		/* Removed listeners refuse new clients before the old
		 * workers' last sweep. */
		listeners_commit(master.cfg, master.generation);
		TAILQ_FOREACH(c, &master.children, entry) {
			if (c->generation < master.generation &&
			    (c->state == CHILD_READY ||
			    c->state == CHILD_STARTING))
				child_drain(c);
		}
		master_steer();
		gen_free(&master.prev);
		httpstats_listen(master.base, master.cfg, master.ls);
		drain_bound();
		listeners_reap(listeners_held);
		return 0;
	}
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->generation == master.generation &&
		    (c->state == CHILD_READY || c->state == CHILD_STARTING))
			child_drain(c);
	}
	master_steer();
	gen_save(&cur);
	gen_load(&master.prev);
	memset(&master.prev, 0, sizeof(master.prev));
	httpstats_listen(master.base, master.cfg, master.ls);
	gen_free(&cur);
	listeners_abort();
	log_set_level(master.cfg->log_level);
	for (i = 0; i < master.nslots; i++) {
		if (master.slots[i].child == NULL && !master.stopping)
			slot_spawn_soon(&master.slots[i]);
	}
	return 0;
}
