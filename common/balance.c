/*
 * balance.c -- backend choice for the proxy service: smooth weighted round
 * robin (as nginx's upstream), weighted least connections, and source
 * hashing on a consistent-hash ring; passive health on top of all three.
 *
 * Costs per pick: round robin and leastconn scan the backends once (a
 * handful of integer operations each); source hashes the key and does a
 * binary search on the ring.  No allocation after balance_new().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/balance.h"

/* Ring points per unit of weight: enough for shares within a few per
 * cent of the weights, bounded so a big table stays small. */
#define RING_PER_WEIGHT		160
#define RING_BUDGET		16384

struct bal_node {
	int		 weight;
	int		 current;	/* smooth round robin's running score */
	unsigned int	 active;	/* connections open now */
	unsigned int	 fails;		/* connect failures in a row */
	uint64_t	 down_until;	/* 0: up */
	const uint8_t	*checked;	/* the active checks' byte: 0 up */
	const uint32_t	*good;		/* their count of checks passed */
	uint32_t	 good_at_down;	/* *good when passive health took
					   it down */
};

struct ring_point {
	uint32_t	 hash;
	uint32_t	 node;
};

struct balance {
	enum balance_kind	 kind;
	size_t			 n;
	unsigned int		 fail_max;
	unsigned int		 down_ms;
	size_t			 ndown;
	size_t			 cursor;	/* leastconn: where ties start */
	struct ring_point	*ring;
	size_t			 nring;
	struct bal_node		 node[];
};

/* FNV-1a, then a 64-bit finaliser (splitmix64's) so that keys differing in
 * one byte land far apart on the ring. */
static uint64_t
hash_mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static uint64_t
hash_bytes(const void *p, size_t len)
{
	const unsigned char	*s = p;
	uint64_t		 h = 0xcbf29ce484222325ULL;

	while (len-- > 0) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return hash_mix(h);
}

static int
point_cmp(const void *a, const void *b)
{
	const struct ring_point	*x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

static int
ring_build(struct balance *b, const char *const *names)
{
	size_t		 i, j, k, per, total = 0;

	for (i = 0; i < b->n; i++)
		total += (size_t)b->node[i].weight;
	if (total == 0)		/* cannot be: n >= 1, weights >= 1 */
		return -1;
	per = RING_BUDGET / total;
	if (per > RING_PER_WEIGHT)
		per = RING_PER_WEIGHT;
	if (per == 0)
		per = 1;
	b->nring = total * per;
	if ((b->ring = calloc(b->nring, sizeof(*b->ring))) == NULL)
		return -1;
	for (i = 0, k = 0; i < b->n; i++) {
		uint64_t	base = hash_bytes(names[i], strlen(names[i]));

		for (j = 0; j < (size_t)b->node[i].weight * per; j++, k++) {
			b->ring[k].hash = (uint32_t)(hash_mix(base +
			    (j + 1) * 0x9e3779b97f4a7c15ULL) >> 32);
			b->ring[k].node = (uint32_t)i;
		}
	}
	qsort(b->ring, b->nring, sizeof(*b->ring), point_cmp);
	return 0;
}

struct balance *
balance_new(enum balance_kind kind, size_t n, const int *w,
    const char *const *names, unsigned int fail_max, unsigned int down_ms)
{
	struct balance	*b;
	size_t		 i;

	if (n == 0 || n > 65535 || kind > BAL_SOURCE) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (w[i] < 1 || w[i] > 256 || (kind == BAL_SOURCE &&
		    names[i] == NULL)) {
			errno = EINVAL;
			return NULL;
		}
	}
	if ((b = calloc(1, sizeof(*b) + n * sizeof(b->node[0]))) == NULL)
		return NULL;
	b->kind = kind;
	b->n = n;
	b->fail_max = fail_max;
	b->down_ms = down_ms > 0 ? down_ms : 1;
	for (i = 0; i < n; i++)
		b->node[i].weight = w[i];
	if (kind == BAL_SOURCE && ring_build(b, names) == -1) {
		free(b);
		return NULL;
	}
	return b;
}

void
balance_free(struct balance *b)
{
	if (b == NULL)
		return;
	free(b->ring);
	free(b);
}

/* Up, or down but due back (then up again: one more failure takes it
 * down at once, its failures in a row are still counted). */
static int
check_down(const struct bal_node *nd)
{
	return nd->checked != NULL &&
	    __atomic_load_n(nd->checked, __ATOMIC_RELAXED) != 0;
}

int
balance_is_up(struct balance *b, int i, uint64_t now)
{
	struct bal_node	*nd = &b->node[i];

	if (check_down(nd))
		return 0;
	if (nd->down_until == 0)
		return 1;
	/* A check passed since: the backend is back before down_ms. */
	if (now < nd->down_until && (nd->good == NULL ||
	    __atomic_load_n(nd->good, __ATOMIC_RELAXED) == nd->good_at_down))
		return 0;
	nd->down_until = 0;
	b->ndown--;
	return 1;
}

static int
usable(struct balance *b, size_t i, uint64_t now, int any)
{
	const struct bal_node	*nd = &b->node[i];

	return any || (nd->down_until == 0 && !check_down(nd)) ||
	    balance_is_up(b, (int)i, now);
}

/* nginx's smooth weighted round robin: every pick raises each backend's
 * score by its weight and lowers the winner's by the sum, which spreads a
 * 1:3 share as b a b b, never a burst of one backend. */
static int
pick_rr(struct balance *b, uint64_t now, int any)
{
	struct bal_node	*nd;
	size_t		 i;
	int		 best = -1, total = 0;

	for (i = 0; i < b->n; i++) {
		if (!usable(b, i, now, any))
			continue;
		nd = &b->node[i];
		nd->current += nd->weight;
		total += nd->weight;
		if (best == -1 || nd->current > b->node[best].current)
			best = (int)i;
	}
	if (best != -1)
		b->node[best].current -= total;
	return best;
}

/* Fewest connections per unit of weight (compared by cross products, no
 * division); ties go round, starting after the last one chosen. */
static int
pick_leastconn(struct balance *b, uint64_t now, int any)
{
	struct bal_node	*nd, *bn;
	size_t		 k;
	int		 best = -1;

	for (k = 0; k < b->n; k++) {
		size_t	i = (b->cursor + k) % b->n;

		if (!usable(b, i, now, any))
			continue;
		nd = &b->node[i];
		bn = best == -1 ? NULL : &b->node[best];
		if (bn == NULL || (uint64_t)nd->active * (uint64_t)bn->weight <
		    (uint64_t)bn->active * (uint64_t)nd->weight)
			best = (int)i;
	}
	if (best != -1)
		b->cursor = ((size_t)best + 1) % b->n;
	return best;
}

/* The first point at or after the key's hash, going round; a down
 * backend's points pass its clients to whoever owns the next ones, so
 * only its share moves, spread over the others by their weights. */
static int
pick_source(struct balance *b, const void *key, size_t keylen, uint64_t now,
    int any)
{
	uint32_t	h = (uint32_t)(hash_bytes(key, key != NULL ? keylen : 0) >>
			    32);
	size_t		lo = 0, hi = b->nring, k;

	while (lo < hi) {
		k = lo + (hi - lo) / 2;
		if (b->ring[k].hash < h)
			lo = k + 1;
		else
			hi = k;
	}
	for (k = 0; k < b->nring; k++) {
		size_t	at = (lo + k) % b->nring;

		if (usable(b, b->ring[at].node, now, any))
			return (int)b->ring[at].node;
	}
	return -1;
}

static int
pick(struct balance *b, const void *key, size_t keylen, uint64_t now,
    int any)
{
	switch (b->kind) {
	case BAL_LEASTCONN:
		return pick_leastconn(b, now, any);
	case BAL_SOURCE:
		return pick_source(b, key, keylen, now, any);
	default:
		return pick_rr(b, now, any);
	}
}

int
balance_pick(struct balance *b, const void *key, size_t keylen,
    uint64_t now)
{
	int	i = pick(b, key, keylen, now, 0);

	return i != -1 ? i : pick(b, key, keylen, now, 1);
}

int
balance_next(struct balance *b, int first, int tried, uint64_t now)
{
	size_t	i;
	int	down = -1;

	if (first < 0 || tried < 0 || (size_t)first >= b->n ||
	    (size_t)tried >= b->n)
		return -1;
	for (i = ((size_t)tried + 1) % b->n; i != (size_t)first;
	    i = (i + 1) % b->n) {
		if (balance_is_up(b, (int)i, now))
			return (int)i;
		if (down == -1)
			down = (int)i;
	}
	return down;
}

void
balance_begin(struct balance *b, int i)
{
	b->node[i].active++;
}

void
balance_end(struct balance *b, int i)
{
	if (b->node[i].active > 0)
		b->node[i].active--;
}

int
balance_fail(struct balance *b, int i, uint64_t now)
{
	struct bal_node	*nd = &b->node[i];

	if (nd->fails < UINT32_MAX)
		nd->fails++;
	if (b->fail_max == 0 || nd->fails < b->fail_max ||
	    nd->down_until != 0)
		return 0;
	nd->down_until = now + b->down_ms;
	if (nd->good != NULL)
		nd->good_at_down = __atomic_load_n(nd->good, __ATOMIC_RELAXED);
	b->ndown++;
	return 1;
}

void
balance_ok(struct balance *b, int i)
{
	struct bal_node	*nd = &b->node[i];

	nd->fails = 0;
	if (nd->down_until != 0) {
		nd->down_until = 0;
		b->ndown--;
	}
}

size_t
balance_ndown(const struct balance *b)
{
	return b->ndown;
}

unsigned int
balance_active(const struct balance *b, int i)
{
	return b->node[i].active;
}

void
balance_set_check(struct balance *b, int i, const uint8_t *state,
    const uint32_t *good)
{
	if (i >= 0 && (size_t)i < b->n) {
		b->node[i].checked = state;
		b->node[i].good = good;
	}
}
