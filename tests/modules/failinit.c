/*
 * failinit.c -- echo whose start fails in a worker while the file named by
 * its "fail_if" setting exists: the checks in the master pass, the new
 * workers of a reload fail (the failed-reload tests).  A worker's start
 * waits while the file named by "slow_if" exists (at most 30 s): a reload
 * that stays pending until the test lets it go.  A worker started while
 * the file named by "crash_if" exists aborts a second after its first
 * client, at the first moment it has none (a canary that crashes, without
 * taking a client with it).
 */
#include <sys/inotify.h>
#include <sys/resource.h>

#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "preforkd/preforkd.h"

static int	fi_live, fi_doomed, fi_crash_armed;

/* SIGABRT, without leaving a core file behind. */
static void
fi_crash(void)
{
	struct rlimit	rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	abort();
}

static void
fi_data(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_write(conn, ev->data, ev->len);
}

static void
fi_close(void *conn, const struct pf_event_arg *ev, void *udata)
{
	if (--fi_live == 0 && fi_doomed)
		fi_crash();
}

static void	fi_doom(struct pf_timer *, void *);

static void
fi_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	if (fi_crash_armed) {
		fi_crash_armed = 0;
		if (pf_set_timeout(1000, fi_doom, NULL) == NULL)
			fi_crash();
	}
	fi_live++;
	pf_conn_on(ev->conn, PF_EV_DATA, fi_data, NULL);
	pf_conn_on(ev->conn, PF_EV_CLOSE, fi_close, NULL);
}

static void
fi_doom(struct pf_timer *t, void *udata)
{
	pf_log(PF_LOG_WARN, "failinit: crashing once idle (%d clients)",
	    fi_live);
	fi_doomed = 1;
	if (fi_live == 0)
		fi_crash();
}

static int
fi_check(const struct pf_settings *s)
{
	static const char *const known[] = { "fail_if", "slow_if", "crash_if",
	    NULL };

	return pf_settings_only(s, known);
}

/* While path exists, wait (at most 30 s) for its removal. */
static void
fi_hold(const char *path)
{
	struct pollfd	pfd;

	if ((pfd.fd = inotify_init1(IN_CLOEXEC)) == -1)
		return;
	pfd.events = POLLIN;
	/* Watch first, then look: a removal in between is still seen. */
	if (inotify_add_watch(pfd.fd, path, IN_ATTRIB | IN_DELETE_SELF) != -1 &&
	    access(path, F_OK) == 0)
		(void)poll(&pfd, 1, 30000);
	close(pfd.fd);
}

static int
fi_init(struct pf_listener *l)
{
	const char	*path = NULL;

	if (pf_setting_str(pf_listener_settings(l), "slow_if", &path) == 0)
		fi_hold(path);
	if (pf_setting_str(pf_listener_settings(l), "fail_if", &path) == 0 &&
	    access(path, F_OK) == 0) {
		pf_log(PF_LOG_WARN, "failinit: %s exists: failing", path);
		return -1;
	}
	if (pf_setting_str(pf_listener_settings(l), "crash_if", &path) == 0 &&
	    access(path, F_OK) == 0)
		fi_crash_armed = 1;
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION, fi_connection,
	    NULL);
}

const struct pf_module preforkd_module = {
	.api_version = PREFORKD_API_VERSION,
	.service = { "failinit", fi_init },
	.check = fi_check,
};
