/*
 * daytime.c -- the daytime service (RFC 867): on connection, send the date
 * and time as one line of ASCII, then end the connection.
 *
 * The format is the first one RFC 867 suggests, always in UTC and with
 * English names whatever the locale, e.g.
 *
 *	Tuesday, November 24, 2026 16:12:00-UTC\r\n
 *
 * Anything the client sends is discarded.
 */
#include <stdio.h>
#include <time.h>

#include "preforkd/preforkd.h"
#include "worker/service.h"

static const char *const days[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday",
};

static const char *const months[] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};

static void
daytime_connection(void *listener, const struct pf_event_arg *ev,
    void *udata)
{
	struct tm	tm;
	time_t		now = time(NULL);
	char		line[96];
	int		n;

	if (gmtime_r(&now, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		pf_conn_destroy(ev->conn);
		return;
	}
	n = snprintf(line, sizeof(line), "%s, %s %d, %lld %02d:%02d:%02d-UTC"
	    "\r\n", days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday,
	    (long long)tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		pf_conn_destroy(ev->conn);
		return;
	}
	/* On failure the connection closes by itself; end is then a no-op. */
	pf_conn_write(ev->conn, line, (size_t)n);
	pf_conn_end(ev->conn);
}

static int
daytime_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    daytime_connection, NULL);
}

const struct pf_service service_daytime = {
	.name = "daytime",
	.init = daytime_init,
};
