/*
 * removal.c -- the drain delay before a graceful stop.  A load balancer
 * only learns that an instance goes away from its health checks, so on
 * quit the instance first fails /health and goes on serving for
 * drain_delay: by then the balancer sends it nothing new, and the
 * graceful stop that follows loses no client.
 */
#include <event2/event.h>
#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/master.h"
#include "server/notify.h"
#include "server/reload.h"
#include "server/removal.h"

static struct {
	struct event	*timer;
	uint64_t	 started_ms;
	uint64_t	 until_ms;
	enum { RM_NONE, RM_DELAY, RM_DONE } state;
} rm;

static void
removal_expired(evutil_socket_t fd, short what, void *arg)
{
	removal_end("over");
	master_stop(1);
}

int
removal_begin(void)
{
	struct timeval	tv;
	int		delay = master.cfg->drain_delay_ms;

	if (delay <= 0 || rm.state != RM_NONE)
		return 0;
	rm.state = RM_DONE;	/* whatever happens next, only once */
	if (rm.timer == NULL &&
	    (rm.timer = evtimer_new(master.base, removal_expired, NULL)) ==
	    NULL) {
		log_warnx("drain delay: cannot create its timer; stopping now");
		return 0;
	}
	clock_ms_to_tv(delay, &tv);
	if (evtimer_add(rm.timer, &tv) == -1) {
		log_warnx("drain delay: cannot arm its timer; stopping now");
		return 0;
	}
	rm.state = RM_DELAY;
	rm.started_ms = master_now_ms();
	rm.until_ms = rm.started_ms + delay;
	log_info("drain delay: /health fails, still serving for %.1f s, "
	    "then stopping gracefully", delay / 1000.0);
	/* systemd hears it now: the service is on its way out. */
	notify_send("STOPPING=1\nSTATUS=draining for removal (%.1f s)",
	    delay / 1000.0);
	return 1;
}

void
removal_end(const char *why)
{
	if (rm.state != RM_DELAY)
		return;
	rm.state = RM_DONE;
	evtimer_del(rm.timer);
	log_info("drain delay %s after %.1f s", why,
	    (master_now_ms() - rm.started_ms) / 1000.0);
}

int
removal_pending(unsigned long *left_ms)
{
	uint64_t	now;

	if (rm.state != RM_DELAY)
		return 0;
	now = master_now_ms();
	if (left_ms != NULL)
		*left_ms = now < rm.until_ms ? rm.until_ms - now : 0;
	return 1;
}

void
removal_phase(char *buf, size_t len)
{
	unsigned long	left;

	if (removal_pending(&left))
		snprintf(buf, len, "draining for removal: stopping in %.1f s",
		    left / 1000.0);
	else if (master.stopping)
		snprintf(buf, len, "stopping (%s)", master.stopping == 2 ?
		    "graceful" : "fast");
	else if (!reload_canary_phase(buf, len))
		snprintf(buf, len, "serving");
}

void
removal_free(void)
{
	if (rm.timer != NULL)
		event_free(rm.timer);
	rm.timer = NULL;
}
