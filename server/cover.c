/*
 * cover.c -- who takes a slot's clients: reuseport steering to the
 * workers that accept, and another worker of the generation accepting on
 * the sockets of a slot whose own worker cannot (dead, starting, stalled).
 */
#include <stdint.h>
#include <string.h>

#include "common/ctl.h"
#include "common/log.h"
#include "common/peer.h"
#include "server/children.h"
#include "server/listeners.h"
#include "server/master.h"
#include "server/reload.h"

/* New clients of reuseport listeners go only where a worker accepts. */
void
master_steer(void)
{
	static unsigned char	 live[CONFIG_WORKERS_MAX];
	struct child		*c;

	memset(live, 0, sizeof(live));
	TAILQ_FOREACH(c, &master.children, entry) {
		if (c->accepting && !c->stalled && c->slot < CONFIG_WORKERS_MAX)
			live[c->slot] = 1;
	}
	listeners_steer(live, CONFIG_WORKERS_MAX);
}

static int
child_serving(const struct child *c, uint32_t generation)
{
	return c != NULL && c->accepting && !c->stalled && c->peer != NULL &&
	    c->generation == generation;
}

static void
child_cover(struct child *c, int slot, int on)
{
	struct ctl_msg	msg = { .type = CTL_COVER };

	msg.slot = c->slot;
	msg.pid = master.pid;
	msg.u.cover.slot = slot;
	msg.u.cover.on = on;
	if (c->peer != NULL)
		(void)peer_send(c->peer, &msg);
}

/* Mark the ready workers of slots[0..n) whose heartbeat is late (by
 * cfg's interval) stalled, or no longer; 1 if any changed. */
static int
mark_stalled(struct slot *slots, int n, const struct config *cfg,
    uint64_t now)
{
	struct child	*c;
	uint64_t	 late = 2 * (uint64_t)cfg->heartbeat_interval_ms + 100;
	int		 i, changed = 0, stalled;

	for (i = 0; i < n; i++) {
		c = slots[i].child;
		stalled = c != NULL && c->state == CHILD_READY &&
		    now - c->heartbeat_ms > late;
		if (c != NULL && c->stalled != stalled) {
			c->stalled = stalled;
			changed = 1;
			if (stalled)
				log_warnx("worker %d (pid %ld) silent for %llu "
				    "ms; the others take its clients", c->slot,
				    (long)c->pid,
				    (unsigned long long)(now - c->heartbeat_ms));
		}
	}
	return changed;
}

/* Each slot of slots[0..n) without a serving worker of generation gets
 * another of them to accept on its sockets; one that has its own again
 * lets the cover go. */
static void
cover_slots(struct slot *slots, int n, uint32_t generation)
{
	struct slot	*s;
	struct child	*c;
	int		 i, j;

	for (i = 0; i < n; i++) {
		s = &slots[i];
		if (child_serving(s->child, generation)) {
			if (s->cover != NULL)
				child_cover(s->cover, i, 0);
			s->cover = NULL;
			continue;
		}
		if (s->cover != NULL && child_serving(s->cover, generation))
			continue;
		s->cover = NULL;
		for (j = 1; j < n; j++) {
			c = slots[(i + j) % n].child;
			if (child_serving(c, generation)) {
				s->cover = c;
				child_cover(c, i, 1);
				break;
			}
		}
	}
}

/*
 * A reuseport socket is accepted on by one worker only.  While that worker
 * is dead, starting, or stalled (its heartbeat late), the clients already
 * queued there would wait for it: another worker of the generation, which
 * holds the same sockets, accepts on them meanwhile.  New clients are
 * steered away from it too.  While a reload's canary is on trial the old
 * generation is the one serving: its slots are covered, by its workers,
 * and the new generation's empty slots are not.
 */
void
master_cover(uint64_t now)
{
	int	changed;

	changed = mark_stalled(master.slots, master.nslots, master.cfg, now);
	if (master.prev.cfg != NULL)
		changed |= mark_stalled(master.prev.slots, master.prev.nslots,
		    master.prev.cfg, now);
	if (changed)
		master_steer();
	if (!reload_canary_alone())
		cover_slots(master.slots, master.nslots, master.generation);
	else if (master.prev.cfg != NULL)
		cover_slots(master.prev.slots, master.prev.nslots,
		    master.prev.generation);
}
