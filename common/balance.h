/*
 * balance.h -- choosing a backend for a new client: smooth weighted round
 * robin, least connections, source-address hashing, and the passive
 * health that takes a failing backend out of all three for a while, and
 * the active health the master's checks share with the workers.
 *
 * Pure logic: no I/O, no clock (the caller passes "now" in ms, and only
 * needs to read it while some backend is down: balance_ndown()), one
 * allocation at balance_new() and none after.  The state is a worker's
 * own: each worker balances its clients independently.
 */
#ifndef PF_BALANCE_H
#define PF_BALANCE_H

#include <stddef.h>
#include <stdint.h>

enum balance_kind {
	BAL_ROUNDROBIN,
	BAL_LEASTCONN,
	BAL_SOURCE,
};

struct balance;

/*
 * n backends (1..65535) of weights w[i] (1..256), named names[i] (the
 * source hash is built from the names, so a backend keeps its share of
 * clients across reloads and in every worker).  fail_max connect failures
 * in a row take a backend down for down_ms (fail_max 0: never).  NULL if
 * out of memory or the arguments are out of range.
 */
struct balance	*balance_new(enum balance_kind kind, size_t n, const int *w,
		    const char *const *names, unsigned int fail_max,
		    unsigned int down_ms);
void		 balance_free(struct balance *b);

/*
 * The backend for a new client; key/keylen (the client's address, for
 * BAL_SOURCE; ignored otherwise) may be NULL/0, which hashes as empty.
 * Down backends are skipped; if every backend is down, they are all
 * taken as up (trying one is better than refusing the client).
 */
int		 balance_pick(struct balance *b, const void *key,
		    size_t keylen, uint64_t now);
/*
 * The backend to retry with after tried one failed, first being the
 * client's first pick: the next up backend after tried in the list order
 * that the client has not tried (none between first and tried is), or -1
 * when the walk is back at first.  A down one is taken if no up one is
 * left.
 */
int		 balance_next(struct balance *b, int first, int tried,
		    uint64_t now);

/* A connection to backend i begins / ends: leastconn's counts. */
void		 balance_begin(struct balance *b, int i);
void		 balance_end(struct balance *b, int i);
/* A connect to i failed / succeeded.  balance_fail returns 1 when the
 * failure takes i down. */
int		 balance_fail(struct balance *b, int i, uint64_t now);
void		 balance_ok(struct balance *b, int i);
int		 balance_is_up(struct balance *b, int i, uint64_t now);
/* Backends marked down (some perhaps due back): read the clock only when
 * this is not 0. */
size_t		 balance_ndown(const struct balance *b);
unsigned int	 balance_active(const struct balance *b, int i);
/*
 * Active health: backend i is down whenever *state is not 0 (a byte the
 * master's checker writes in shared memory; NULL: not checked).  On top of
 * the passive health: down by either is down, and when every backend is
 * down they are all tried, as above.  *good counts the checks that passed
 * (NULL: none): one passing after passive health took i down ends that
 * before down_ms.
 */
void		 balance_set_check(struct balance *b, int i,
		    const uint8_t *state, const uint32_t *good);

#endif
