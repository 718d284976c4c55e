/*
 * load.h -- continuous connect + echo load for integration tests
 * (load.c): start it, do what must not hurt a client, stop it and judge.
 */
#ifndef PF_TEST_LOAD_H
#define PF_TEST_LOAD_H

#include <sys/types.h>

#define LOAD_MAX	64

struct load_result {
	long	trips, connects, refused, resets, eofs, corrupt, hung;
};

struct load {
	pid_t	pid;
	int	stop;		/* write end */
	int	result;		/* read end */
};

/* n (at most LOAD_MAX) echo clients on 127.0.0.1:port, in a child. */
void	load_start(struct load *l, int port, int n);
/* Stop the load, collect its figures into res and print them. */
void	load_stop(struct load *l, struct load_result *res, const char *what);
/* No reset, EOF, corruption or hang, and at least min_trips round trips. */
void	load_assert_clean(const struct load_result *res, long min_trips);
/* Until the daemon (admin socket sock) accepted n more clients; bounded. */
void	load_wait_accepts(const char *sock, long long n);

#endif
