/*
 * pxshm.c -- the proxy's shared backend table (see pxshm.h).
 *
 * One anonymous shared mapping, made by the master before it forks any
 * worker of a configuration with a proxy listener.  Its first page is the
 * master's: the health bytes (and "hi", the regions that may be in use).
 * Then one region per live worker, each on whole pages, holding a row of
 * counters per backend slot.  As in iplimit.c, the rules are enforced, not
 * trusted: a worker makes its view of the whole mapping read-only but for
 * its own region, so a worker that scribbles faults alone and can neither
 * mark a backend down for the others nor change their counts.  What the
 * master reads back is plain numbers: a worker can make its own counts
 * wrong, nothing more (the master never indexes by them).
 *
 * Only pages in use are touched: a worker's region costs the pages of the
 * slots its backends have, the master's sums read only regions below hi.
 * When a worker exits, however it exits, the master folds its counters
 * into the slots' totals and zeroes its region, so a backend's totals
 * never go down while it is configured.
 */
#include <sys/mman.h>

#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pxshm.h"

/* Two generations at the largest worker count, as iplimit.c. */
#define PXS_REGIONS	2048

struct pxs_header {
	uint32_t	hi;			/* regions below may be in use */
	uint8_t		health[PXS_SLOTS];
	uint32_t	good[PXS_SLOTS];	/* checks passed, wraps */
};

struct pxs_region {
	struct pxs_row	row[PXS_SLOTS];
};

static unsigned char		*base;
static size_t			 map_len, page, stride;
static struct pxs_header	*hdr;
static unsigned char		*regions;
static uint32_t			 hi;			/* master only */
static uint8_t			 used[PXS_REGIONS];	/* master only */
static struct pxs_row		 folded[PXS_SLOTS];	/* master only */
static int			 mine = -1;		/* worker only */

static struct pxs_region *
region_at(uint32_t r)
{
	return (struct pxs_region *)(void *)(regions + (size_t)r * stride);
}

int
pxshm_init(void)
{
	long	pg;

	if (base != NULL)
		return 0;
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0 ||
	    (size_t)pg < sizeof(struct pxs_header)) {
		log_warnx("proxy backend table: no page size");
		return -1;
	}
	page = (size_t)pg;
	stride = (sizeof(struct pxs_region) + page - 1) / page * page;
	map_len = page + PXS_REGIONS * stride;
	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		base = NULL;
		log_warn("proxy backend table");
		return -1;
	}
	hdr = (struct pxs_header *)(void *)base;
	regions = base + page;
	return 0;
}

int
pxshm_ready(void)
{
	return base != NULL;
}

int
pxshm_region_get(void)
{
	uint32_t	r;

	for (r = 0; base != NULL && r < PXS_REGIONS; r++) {
		if (!used[r]) {
			used[r] = 1;
			if (r >= hi) {
				hi = r + 1;
				__atomic_store_n(&hdr->hi, hi,
				    __ATOMIC_RELEASE);
			}
			return (int)r;
		}
	}
	if (base != NULL)
		log_warnx("proxy backend table: all %d regions in use; a "
		    "worker's backend counts go unreported", PXS_REGIONS);
	return -1;
}

void
pxshm_region_put(int region)
{
	struct pxs_region	*rg;
	size_t			 i;

	if (base == NULL || region < 0 || region >= PXS_REGIONS ||
	    !used[region])
		return;
	rg = region_at((uint32_t)region);
	for (i = 0; i < PXS_SLOTS; i++) {
		folded[i].total += rg->row[i].total;
		folded[i].errors += rg->row[i].errors;
		folded[i].bytes_in += rg->row[i].bytes_in;
		folded[i].bytes_out += rg->row[i].bytes_out;
	}
	/* Give the pages back: a region is mostly zeroes. */
	if (madvise(rg, stride, MADV_REMOVE) == -1)
		memset(rg, 0, sizeof(*rg));
	used[region] = 0;
}

void
pxshm_set_health(int slot, uint8_t state)
{
	if (base != NULL && slot >= 0 && slot < PXS_SLOTS)
		__atomic_store_n(&hdr->health[slot], state, __ATOMIC_RELAXED);
}

void
pxshm_check_passed(int slot)
{
	if (base != NULL && slot >= 0 && slot < PXS_SLOTS)
		__atomic_store_n(&hdr->good[slot], hdr->good[slot] + 1,
		    __ATOMIC_RELAXED);
}

void
pxshm_slot_reset(int slot)
{
	if (slot < 0 || slot >= PXS_SLOTS)
		return;
	memset(&folded[slot], 0, sizeof(folded[slot]));
	pxshm_set_health(slot, PXS_UP);
}

int
pxshm_sum(int slot, struct pxs_row *out)
{
	const struct pxs_row	*row;
	uint32_t		 r;

	memset(out, 0, sizeof(*out));
	if (base == NULL || slot < 0 || slot >= PXS_SLOTS)
		return -1;
	*out = folded[slot];
	out->active = 0;
	for (r = 0; r < hi; r++) {
		if (!used[r])
			continue;
		row = &region_at(r)->row[slot];
		out->active += __atomic_load_n(&row->active, __ATOMIC_RELAXED);
		out->total += __atomic_load_n(&row->total, __ATOMIC_RELAXED);
		out->errors += __atomic_load_n(&row->errors, __ATOMIC_RELAXED);
		out->bytes_in += __atomic_load_n(&row->bytes_in,
		    __ATOMIC_RELAXED);
		out->bytes_out += __atomic_load_n(&row->bytes_out,
		    __ATOMIC_RELAXED);
	}
	/* Only a corrupt row can make the gauge "negative": clamp it. */
	if (out->active > (uint64_t)1 << 48)
		out->active = 0;
	return 0;
}

int
pxshm_use(int region)
{
	mine = -1;
	if (base == NULL)
		return 0;
	if (mprotect(base, map_len, PROT_READ) == -1) {
		log_warn("proxy backend table: read-only");
		return -1;
	}
	if (region < 0 || region >= PXS_REGIONS)
		return 0;
	if (mprotect(region_at((uint32_t)region), stride,
	    PROT_READ | PROT_WRITE) == -1) {
		log_warn("proxy backend table: region %d", region);
		return -1;
	}
	mine = region;
	return 0;
}

struct pxs_row *
pxshm_row(int slot)
{
	if (mine == -1 || slot < 0 || slot >= PXS_SLOTS)
		return NULL;
	return &region_at((uint32_t)mine)->row[slot];
}

const uint8_t *
pxshm_health(int slot)
{
	if (base == NULL || slot < 0 || slot >= PXS_SLOTS)
		return NULL;
	return &hdr->health[slot];
}

const uint32_t *
pxshm_good(int slot)
{
	if (base == NULL || slot < 0 || slot >= PXS_SLOTS)
		return NULL;
	return &hdr->good[slot];
}
