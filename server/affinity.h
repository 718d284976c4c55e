/*
 * affinity.h -- cpu_affinity: the CPU of a slot's worker (affinity.c).
 */
#ifndef PF_AFFINITY_H
#define PF_AFFINITY_H

#include <sys/types.h>

#include "conf/config.h"

/* The CPU slot's worker is to be pinned to, or -1: not pinned. */
int	affinity_cpu(const struct config *cfg, int slot);
/* May this process (the master, or preforkd -t) run on cpu? */
int	affinity_allowed(int cpu);
/* The one CPU pid may run on, or -1 (several, or unknown). */
int	affinity_of(pid_t pid);

#endif
