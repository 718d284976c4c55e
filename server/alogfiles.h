/*
 * alogfiles.h -- the access-log files the master holds open for its
 * workers, one per distinct path.
 */
#ifndef PF_ALOGFILES_H
#define PF_ALOGFILES_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "worker/accesslog.h"

struct peer;

struct alog_files {
	struct alog_fd	*fds;		/* what a new worker inherits */
	char		**paths;
	size_t		 n;
};

/*
 * Open each file cfg or prev (NULL: none) writes to that is not open yet,
 * close those neither does.  0, or -1 with "access log PATH: why" in err
 * (the files that did open stay open).
 */
int	alogfiles_sync(struct alog_files *af, const struct config *cfg,
	    const struct config *prev, char *err, size_t errlen);
/* Open every file anew (after a rename by logrotate).  -1 with err for
 * the first that cannot be: it keeps its old descriptor. */
int	alogfiles_reopen(struct alog_files *af, char *err, size_t errlen);
/* Hand every file to the worker at the other end of p (CTL_ALOG_REOPEN
 * with its descriptor); -1 if one could not be sent. */
int	alogfiles_send(const struct alog_files *af, struct peer *p,
	    uint32_t slot, uint32_t pid);
void	alogfiles_free(struct alog_files *af);

#endif
