/*
 * sockbind.h -- binding one listening socket (sockbind.c), for the set of
 * listeners and the admin socket.
 */
#ifndef PF_SOCKBIND_H
#define PF_SOCKBIND_H

#include <sys/socket.h>

#include <stddef.h>

#include "conf/config.h"

/* Make room for a Unix socket at path: 0 if nothing is there or only a
 * stale socket (removed); -1 (logged, with what) if anything else is. */
int	unix_path_free(const char *path, const char *what);
/* A socket bound to lc's address, not yet listening, or -1 (logged); see
 * sockbind.c for reuseport and probe. */
int	listener_bind(const struct listen_conf *lc, int reuseport, int probe);
/* The name (and, for a Unix socket, the path) a configured listener bound
 * to ss would have; -1 for an address no listener can have. */
int	sock_name(const struct sockaddr_storage *ss, char *name, size_t size,
	    char *path, size_t psize);

#endif
