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
 *
 * "Only that worker writes its region" is enforced, not trusted: the
 * header (the master's "hi") has a page of its own and every region starts
 * on a page boundary, and each worker, when it starts, makes its view of
 * the whole mapping read-only but for its own region.  A worker that
 * scribbles elsewhere faults, alone.  What a worker reads from the mapping
 * is clamped before use: "hi" to the number of regions, and the counters
 * are plain numbers whose sum cannot overflow, so a corrupt value can at
 * worst make a count wrong, never make a worker read out of bounds.
 * All of this happens at start-up; counting costs no system call.
 */
#include <sys/mman.h>

#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "common/iplimit.h"
#include "common/log.h"

/* Every slot of two generations at the largest worker count (1024). */
#define IPL_REGIONS	2048
#define IPL_WIDTH	4096

struct ipl_region {
	uint16_t	row[2][IPL_WIDTH];
};

/* The first page of the mapping: the master writes it, workers read it. */
struct ipl_header {
	uint32_t	hi;	/* regions below it may be in use */
};

_Static_assert((uint64_t)IPL_REGIONS * UINT16_MAX <= UINT32_MAX,
    "a row sum must fit an unsigned int");
_Static_assert(IPL_WIDTH < UINT16_MAX, "UINT16_MAX marks an uncounted ref");

static unsigned char		*base;		/* the mapping */
static size_t			 map_len;
static size_t			 stride;	/* region to region: whole pages */
static struct ipl_header	*hdr;		/* base */
static unsigned char		*regions;	/* base + one page */
static uint32_t			 hi;		/* master only: what hdr->hi says */
static uint8_t			 used[IPL_REGIONS];	/* master only */
static int			 mine = -1;	/* worker only */

/* Only the pages of regions in use are ever touched. */
static struct ipl_region *
region_at(uint32_t r)
{
	return (struct ipl_region *)(void *)(regions + (size_t)r * stride);
}

int
iplimit_init(void)
{
	long	pg;

	if (base != NULL)
		return 0;
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0 ||
	    (size_t)pg < sizeof(struct ipl_header)) {
		log_warnx("per-address connection table: no page size");
		return -1;
	}
	stride = (sizeof(struct ipl_region) + (size_t)pg - 1) /
	    (size_t)pg * (size_t)pg;
	map_len = (size_t)pg + IPL_REGIONS * stride;
	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		base = NULL;
		log_warn("per-address connection table");
		return -1;
	}
	hdr = (struct ipl_header *)(void *)base;
	regions = base + pg;
	return 0;
}

int
iplimit_region_get(void)
{
	uint32_t	r;

	for (r = 0; base != NULL && r < IPL_REGIONS; r++) {
		if (!used[r]) {
			used[r] = 1;
			/* The master's own copy: never read back. */
			if (r >= hi) {
				hi = r + 1;
				__atomic_store_n(&hdr->hi, hi,
				    __ATOMIC_RELEASE);
			}
			return (int)r;
		}
	}
	if (base != NULL)
		log_warnx("per-address counts: all %d regions in use; a "
		    "worker goes uncounted", IPL_REGIONS);
	return -1;
}

void
iplimit_region_put(int region)
{
	if (base == NULL || region < 0 || region >= IPL_REGIONS)
		return;
	memset(region_at((uint32_t)region), 0, sizeof(struct ipl_region));
	used[region] = 0;
}

int
iplimit_use(int region)
{
	mine = -1;
	if (base == NULL)
		return 0;
	if (mprotect(base, map_len, PROT_READ) == -1) {
		log_warn("per-address connection table: read-only");
		return -1;
	}
	if (region < 0 || region >= IPL_REGIONS)
		return 0;
	if (mprotect(region_at((uint32_t)region), stride,
	    PROT_READ | PROT_WRITE) == -1) {
		log_warn("per-address connection table: region %d", region);
		return -1;
	}
	mine = region;
	return 0;
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
	uint32_t	r, n = __atomic_load_n(&hdr->hi, __ATOMIC_ACQUIRE);

	/* Shared memory: believe it only within the table. */
	if (n > IPL_REGIONS)
		n = IPL_REGIONS;
	for (r = 0; r < n; r++)
		sum += __atomic_load_n(&region_at(r)->row[row][idx],
		    __ATOMIC_RELAXED);
	return sum;
}

int
iplimit_acquire(const struct sockaddr *sa, unsigned int limit,
    struct ipl_ref *ref)
{
	struct ipl_region	*own;
	const uint8_t		*key = NULL;
	size_t			 len;
	unsigned int		 a, b;

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
	own = region_at((uint32_t)mine);
	__atomic_fetch_add(&own->row[0][ref->idx[0]], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&own->row[1][ref->idx[1]], 1, __ATOMIC_RELAXED);
	return 0;
}

void
iplimit_release(const struct ipl_ref *ref)
{
	struct ipl_region	*own;

	if (mine == -1 || ref->idx[0] >= IPL_WIDTH ||
	    ref->idx[1] >= IPL_WIDTH)
		return;
	own = region_at((uint32_t)mine);
	__atomic_fetch_sub(&own->row[0][ref->idx[0]], 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&own->row[1][ref->idx[1]], 1, __ATOMIC_RELAXED);
}
