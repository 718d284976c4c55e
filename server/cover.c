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
child_serving(const struct child *c)
{
	return c != NULL && c->accepting && !c->stalled && c->peer != NULL &&
	    c->generation == master.generation;
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

/*
 * A reuseport socket is accepted on by one worker only.  While that worker
 * is dead, starting, or stalled (its heartbeat late), the clients already
 * queued there would wait for it: another worker of the generation, which
 * holds the same sockets, accepts on them meanwhile.  New clients are
 * steered away from it too.
 */
void
master_cover(uint64_t now)
{
	struct slot	*s;
	struct child	*c;
	uint64_t	 late = 2 * (uint64_t)master.cfg->heartbeat_interval_ms +
			    100;
	int		 i, j, changed = 0, stalled;

	for (i = 0; i < master.nslots; i++) {
		c = master.slots[i].child;
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
	if (changed)
		master_steer();
	/* A canary serves its own sockets only: the slots that have no
	 * worker yet are the old generation's to serve. */
	if (reload_canary_alone())
		return;
	for (i = 0; i < master.nslots; i++) {
		s = &master.slots[i];
		if (child_serving(s->child)) {
			if (s->cover != NULL)
				child_cover(s->cover, i, 0);
			s->cover = NULL;
			continue;
		}
		if (s->cover != NULL && child_serving(s->cover))
			continue;
		s->cover = NULL;
		for (j = 1; j < master.nslots; j++) {
			c = master.slots[(i + j) % master.nslots].child;
			if (child_serving(c)) {
				s->cover = c;
				child_cover(c, i, 1);
				break;
			}
		}
	}
}
