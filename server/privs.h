/*
 * privs.h -- who the workers run as, and the master's descriptor limit.
 */
#ifndef PF_PRIVS_H
#define PF_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

#include "conf/config.h"

struct privs {
	uid_t	uid;		/* (uid_t)-1: stay as we are */
	gid_t	gid;
	char	user[65];
};

/* Names to ids; -1 with err if unknown, or if a drop is asked of a
 * master that is not root. */
int	privs_resolve(const struct config *cfg, struct privs *p, char *err,
	    size_t errlen);
/* In a new worker: become p for good; -1 (logged) if that fails. */
int	privs_drop(const struct privs *p);
/* A worker's confinement: chroot (if set), then user/group; -1 logged. */
int	privs_confine(const struct config *cfg);
/* RLIMIT_NOFILE to n (soft and hard); logged, never fatal. */
void	privs_rlimit_nofile(int n);

#endif
