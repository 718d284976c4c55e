/*
 * admit.h -- judging and refusing a listener's new clients.
 */
#ifndef PF_ADMIT_H
#define PF_ADMIT_H

#include <sys/socket.h>

#include "common/iplimit.h"

struct pf_listener;

/* Admit the client at sa (allow, deny, per-address limit: 0 with *ref
 * taken), or refuse it (-1, reported); the caller closes a refused one. */
int	admit_client(struct pf_listener *l,
	    const struct sockaddr *sa, socklen_t salen,
	    struct ipl_ref *ref);
/* Report a refused client (drop event, counter, log line; loud: worth an
 * info line, rate-limited). */
void	admit_refused(struct pf_listener *l,
	    const struct sockaddr *sa, socklen_t salen,
	    const char *why, int loud);

#endif
