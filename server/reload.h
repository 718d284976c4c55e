/*
 * reload.h -- re-reading the configuration as a transaction.
 */
#ifndef PF_RELOAD_H
#define PF_RELOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/config.h"

struct child;
struct event_base;

/* Told the outcome: ok, and the reason or "generation N". */
typedef void (*reload_done_fn)(void *arg, int ok, const char *result);

struct reload_last {
	time_t		when;		/* 0: no reload yet */
	int		ok;
	uint64_t	took_ms;
	char		result[CONFIG_ERRLEN + 32];
};

int		 reload_init(struct event_base *base);
void		 reload_free(void);
/* Reload from the current file; done (may be NULL) hears the outcome.
 * canary_ms: a canary trial this long (0: none), or -1 for the file's
 * reload_canary. */
void		 reload_start(const char *why, int canary_ms, reload_done_fn done,
		    void *arg);
/* A canary worker is on trial: slots without a worker stay uncovered. */
int		 reload_canary_alone(void);
/* The canary's phase in words, for status; 0 if there is none. */
int		 reload_canary_phase(char *buf, size_t len);
/* "workers N" (relative: +N or -N): a new generation of the serving
 * configuration with that many workers; done hears the outcome once
 * they accept and the old ones stopped (reload.c says why). */
void		 reload_workers(int n, int relative, reload_done_fn done,
		    void *arg);
/* Abort a reload in progress, if any (the master is stopping). */
void		 reload_cancel(const char *why);
/* The longest a reload may take on cfg before it is given up. */
int		 reload_wait_ms(const struct config *cfg);
/* The longest a committed reload waits for the old workers' DRAIN_ACK
 * before it is reported. */
int		 reload_ack_wait_ms(const struct config *cfg);
/* c (told DRAIN) said it accepts nothing more (children.c). */
void		 reload_child_stopped(const struct child *c);
const struct reload_last *reload_last(void);

#endif
