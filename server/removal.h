/*
 * removal.h -- the drain delay of a graceful stop (drain_delay): /health
 * says 503 and the instance keeps serving while a load balancer takes it
 * out, then the stop goes on as without the delay.
 */
#ifndef PF_REMOVAL_H
#define PF_REMOVAL_H

#include <stddef.h>

/* A graceful stop was asked: 1 if the delay starts now (the caller stops
 * later, when it ends), 0 if there is none to wait for (drain_delay is 0,
 * or the delay already ran or is running: stop now). */
int	removal_begin(void);
/* The stop goes on now: end a running delay, logging why. */
void	removal_end(const char *why);
/* 1 while the delay runs; *left_ms what remains of it. */
int	removal_pending(unsigned long *left_ms);
/* The master's phase for status: "serving", "draining for removal
 * (stopping in N.N s)", "stopping (graceful)" or "stopping (fast)". */
void	removal_phase(char *buf, size_t len);
/* Drop the timer (the exiting master, or a new worker). */
void	removal_free(void);

#endif
