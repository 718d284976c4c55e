/*
 * iplimit.h -- connections per client address, counted across workers.
 */
#ifndef PF_IPLIMIT_H
#define PF_IPLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

/* What a connection keeps to give its count back. */
struct ipl_ref {
	uint16_t	idx[2];
};

/* Master: map the shared table (once, before forking); -1 logged. */
int	iplimit_init(void);
/* Master: a region for a new worker, or -1 if none is free; given back
 * (and zeroed) when that worker has exited. */
int	iplimit_region_get(void);
void	iplimit_region_put(int region);
/* Worker, at start: count into this region (-1: count nothing, refuse
 * nothing), and from now on write no other part of the table (the rest is
 * made read-only here).  0, or -1 logged. */
int	iplimit_use(int region);
/* Worker: count sa if it has fewer than limit connections: 0, with ref
 * filled; -1 if it is at the limit. */
int	iplimit_acquire(const struct sockaddr *sa, unsigned int limit,
	    struct ipl_ref *ref);
void	iplimit_release(const struct ipl_ref *ref);

#endif
