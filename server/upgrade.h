/*
 * upgrade.h -- a binary upgrade: the master runs the binary on disk as a
 * new master, hands it every socket, and drains out once it serves.
 */
#ifndef PF_UPGRADE_H
#define PF_UPGRADE_H

#include "server/reload.h"

struct event_base;

/* Environment of a new master (preforkd(8) documents it). */
#define UPGRADE_ENV_FD		"PREFORKD_UPGRADE_FD"
#define UPGRADE_ENV_FROM	"PREFORKD_UPGRADE_FROM"
#define UPGRADE_ENV_PID		"PREFORKD_LISTEN_PID"
#define UPGRADE_ENV_FDS		"PREFORKD_LISTEN_FDS"
#define UPGRADE_ENV_ADMIN	"PREFORKD_ADMIN_FD"

/* main: the binary's path and the arguments, for the next upgrade. */
void	upgrade_remember(char **argv);
/* main: started by an upgrade?  Reads and clears the environment. */
int	upgrade_child_init(void);
/* main: this new master cannot start; the old one hears why. */
void	upgrade_child_failed(const char *why);
/* The master's loop is there (master_setup); -1 logged. */
int	upgrade_init(struct event_base *base);
/* A new master: adopt the listening sockets of the old one; -1 logged. */
int	upgrade_inherit(void);
/* The master stops: an upgrade it started fails (the new master goes). */
void	upgrade_cancel(const char *why);
void	upgrade_free(void);
/* In a new worker: the channel is the master's only. */
void	upgrade_forget(void);
/* SIGUSR2, "preforkctl upgrade": done (may be NULL) hears the outcome. */
void	upgrade_start(const char *why, reload_done_fn done, void *arg);
/* An upgrade is under way (or this master is a new one, not yet
 * serving): no reload or worker count change meanwhile. */
int	upgrade_busy(void);
/* The last upgrade this master started, for status. */
const struct reload_last *upgrade_last(void);

#endif
