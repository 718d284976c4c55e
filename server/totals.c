/*
 * totals.c -- the service's counters since the master started: what
 * exited workers counted, per slot, and the master's events.
 */
#include <string.h>

#include "server/totals.h"

void
totals_init(struct totals *t)
{
	memset(t, 0, sizeof(*t));
}

void
totals_add(struct ctl_stats *sum, const struct ctl_stats *s)
{
	sum->conns_active += s->conns_active;
	sum->conns_total += s->conns_total;
	sum->accepts += s->accepts;
	sum->bytes_in += s->bytes_in;
	sum->bytes_out += s->bytes_out;
	sum->errors += s->errors;
	sum->drops += s->drops;
	sum->out_active += s->out_active;
	sum->out_total += s->out_total;
}

int
totals_fold(struct totals *t, int slot, const struct ctl_stats *last)
{
	struct ctl_stats	s;

	if (slot < 0 || slot >= TOTALS_SLOTS || last == NULL)
		return -1;
	s = *last;
	s.conns_active = 0;	/* gauges: an exited worker has none */
	s.out_active = 0;
	totals_add(&t->folded[slot], &s);
	t->used[slot] = 1;
	return 0;
}

int
totals_used(const struct totals *t, int slot)
{
	return slot >= 0 && slot < TOTALS_SLOTS && t->used[slot];
}

int
totals_slot(const struct totals *t, int slot, const struct ctl_stats *live,
    struct ctl_stats *out)
{
	if (slot < 0 || slot >= TOTALS_SLOTS)
		return -1;
	*out = t->folded[slot];
	out->conns_active = 0;
	if (live != NULL)
		totals_add(out, live);
	return 0;
}

void
totals_event(struct totals *t, enum totals_event ev)
{
	if ((int)ev >= 0 && ev < TOTALS_EVENT_MAX)
		t->events[ev]++;
}

uint64_t
totals_events(const struct totals *t, enum totals_event ev)
{
	if ((int)ev < 0 || ev >= TOTALS_EVENT_MAX)
		return 0;
	return t->events[ev];
}
