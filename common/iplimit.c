/*
 * iplimit.c -- connections per client address, across all workers.
 *
 * A shared anonymous mapping made by the master before it forks: one
 * region per live worker, and only that worker writes its region, so no
 * locks.  A region is a count-min sketch: two rows of IPL_WIDTH counters,
 * each address hashed once into each row.  An address's count is the
 * smaller of its two row sums over all regions.  Collisions can only
 * over-count -- a busy neighbour may make an address look busier -- never
 * under-count.  Without locks, workers accepting from one address at the
 * same instant may each pass the check: the limit can be exceeded by at
 * most one per other worker, briefly.  When a worker exits, however it
 * exits, the master zeroes its region: a crash leaks no counts.
 */
#include <sys/mman.h>

#include <netinet/in.h>
#include <string.h>

#include "common/iplimit.h"
#include "common/log.h"

/* Every slot of two generations at the largest worker count (1024). */
#define IPL_REGIONS	2048
#define IPL_WIDTH	4096

struct ipl_region {
	uint16_t	row[2][IPL_WIDTH];
};

/* Only the pages of regions in use are ever touched. */
struct ipl_shared {
	uint32_t		hi;	/* regions below it may be in use */
	struct ipl_region	region[IPL_REGIONS];
};

static struct ipl_shared	*shm;
static struct ipl_region	*table;		/* shm->region */
static uint8_t			 used[IPL_REGIONS];	/* master only */
static int			 mine = -1;	/* worker only */

int
iplimit_init(void)
{
	if (shm != NULL)
		return 0;
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		shm = NULL;
		log_warn("per-address connection table");
		return -1;
	}
	table = shm->region;
	return 0;
}

int
iplimit_region_get(void)
{
	int	r;

	for (r = 0; table != NULL && r < IPL_REGIONS; r++) {
		if (!used[r]) {
			used[r] = 1;
			if ((uint32_t)r >= shm->hi)
				__atomic_store_n(&shm->hi, r + 1,
				    __ATOMIC_RELEASE);
			return r;
		}
	}
	if (table != NULL)
		log_warnx("per-address counts: all %d regions in use; a "
		    "worker goes uncounted", IPL_REGIONS);
	return -1;
}

void
iplimit_region_put(int region)
{
	if (table == NULL || region < 0 || region >= IPL_REGIONS)
		return;
	memset(&table[region], 0, sizeof(table[region]));
	used[region] = 0;
}

void
iplimit_use(int region)
{
	mine = table != NULL ? region : -1;
}

/* The address bytes that identify a client (IPv4-mapped -> IPv4). */
static size_t
addr_key(const struct sockaddr *sa, const uint8_t **key)
{
	const struct sockaddr_in6	*sin6 = (const void *)sa;

	if (sa->sa_family == AF_INET) {
		*key = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	*key = sin6->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		*key += 12;
		return 4;
	}
	return 16;
}

static uint16_t
hash(const uint8_t *key, size_t len, uint64_t seed)
{
	uint64_t	h = 0xcbf29ce484222325ULL ^ seed;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (uint16_t)(h % IPL_WIDTH);
}

static unsigned int
row_sum(int row, uint16_t idx)
{
	unsigned int	sum = 0;
	uint32_t	r, hi = __atomic_load_n(&shm->hi, __ATOMIC_ACQUIRE);

	for (r = 0; r < hi; r++)
		sum += __atomic_load_n(&table[r].row[row][idx],
		    __ATOMIC_RELAXED);
	return sum;
}

int
iplimit_acquire(const struct sockaddr *sa, unsigned int limit,
    struct ipl_ref *ref)
{
	const uint8_t	*key = NULL;
	size_t		 len;
	unsigned int	 a, b;

	if (mine == -1 || (len = addr_key(sa, &key)) == 0) {
		ref->idx[0] = ref->idx[1] = UINT16_MAX;
		return 0;	/* not counted: Unix sockets, no table */
	}
	ref->idx[0] = hash(key, len, 0);
	ref->idx[1] = hash(key, len, 0x9e3779b97f4a7c15ULL);
	a = row_sum(0, ref->idx[0]);
	b = row_sum(1, ref->idx[1]);
	if ((a < b ? a : b) >= limit)
		return -1;
	__atomic_fetch_add(&table[mine].row[0][ref->idx[0]], 1,
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&table[mine].row[1][ref->idx[1]], 1,
	    __ATOMIC_RELAXED);
	return 0;
}

void
iplimit_release(const struct ipl_ref *ref)
{
	if (mine == -1 || ref->idx[0] == UINT16_MAX)
		return;
	__atomic_fetch_sub(&table[mine].row[0][ref->idx[0]], 1,
	    __ATOMIC_RELAXED);
	__atomic_fetch_sub(&table[mine].row[1][ref->idx[1]], 1,
	    __ATOMIC_RELAXED);
}
