/*
 * children.h -- forking, watching and steering the workers (children.c),
 * for the master's other parts.
 */
#ifndef PF_CHILDREN_H
#define PF_CHILDREN_H

#include <sys/types.h>

#include <event2/event.h>
#include <signal.h>
#include <stdint.h>

#include "server/master.h"

#define KILL_GRACE_MS		1000	/* SIGABRT or SIGTERM, then SIGKILL */

/* Fork the worker of slot s now, or from the loop (never from inside an
 * I/O callback). */
void	slot_spawn(struct slot *s);
void	slot_spawn_soon(struct slot *s);
int	slots_new(struct slot **slots, int n);
void	slots_free(struct slot *slots, int n);
/* The master's word that c's generation is committed: serve. */
void	child_accept(struct child *c);
/* The configuration c runs under (the old one's, during a reload). */
const struct config *child_cfg(const struct child *c);
/* Tell c to drain: stop accepting, finish, exit by the deadline. */
void	child_drain(struct child *c);
void	child_signal(struct child *c, int sig);
/* Signal c to end it; the monitor follows up with SIGKILL if need be. */
void	child_kill(struct child *c, int sig);
/* New clients of reuseport listeners go only where a worker accepts
 * (cover.c). */
void	master_steer(void);
/* Stalled workers found, and slots without a serving worker covered by
 * another of the generation (cover.c). */
void	master_cover(uint64_t now);
/* Does a worker of generations first..last still hold its listeners? */
int	listeners_held(uint32_t first, uint32_t last);
/* SIGCHLD: reap, respawn or back off. */
void	master_reap(void);
/* The periodic check: hung workers, overdue drains, recovered slots. */
void	master_monitor(evutil_socket_t fd, short what, void *arg);

/* In a new worker (master.c): the master's signal handlers go, mask (the
 * one before fork) comes back, and every event and descriptor of the
 * master's is dropped. */
void	master_forget(const sigset_t *mask);

#endif
