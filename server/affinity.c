/*
 * affinity.c -- which CPU the worker of a slot runs on (cpu_affinity),
 * and which one a running worker is pinned to, for status.
 *
 * "auto" takes the CPUs the master itself may run on (its affinity mask,
 * so a cpuset or taskset that restricts the service is honoured) and
 * gives slot i the i-th of them, modulo their number; a list gives slot i
 * list[i mod length].  The master decides before fork and the worker pins
 * itself first thing (worker.c), so everything it starts (module threads
 * included) inherits the mask; a respawned or new-generation worker of
 * the same slot gets the same CPU.
 */
#include <sched.h>

#include "server/affinity.h"

int
affinity_cpu(const struct config *cfg, int slot)
{
	cpu_set_t	set;
	int		cpu, n, k;

	if (slot < 0)
		return -1;
	switch (cfg->cpu_affinity) {
	case CONFIG_CPUS_LIST:
		if (cfg->ncpus == 0)
			return -1;
		return cfg->cpus[(size_t)slot % cfg->ncpus];
	case CONFIG_CPUS_AUTO:
		if (sched_getaffinity(0, sizeof(set), &set) == -1 ||
		    (n = CPU_COUNT(&set)) == 0)
			return -1;
		k = slot % n;
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (CPU_ISSET(cpu, &set) && k-- == 0)
				return cpu;
		}
		return -1;
	default:
		return -1;
	}
}

int
affinity_allowed(int cpu)
{
	cpu_set_t	set;

	if (cpu < 0 || cpu >= CPU_SETSIZE ||
	    sched_getaffinity(0, sizeof(set), &set) == -1)
		return 0;
	return CPU_ISSET(cpu, &set) != 0;
}

int
affinity_of(pid_t pid)
{
	cpu_set_t	set;
	int		cpu;

	if (pid <= 0 || sched_getaffinity(pid, sizeof(set), &set) == -1 ||
	    CPU_COUNT(&set) != 1)
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set))
			return cpu;
	}
	return -1;
}
