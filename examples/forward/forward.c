/*
 * forward.c -- an example preforkd module: a TCP forwarder.  Every client
 * gets a connection of its own to the backend, and the two are piped into
 * each other: backpressure, half-close and errors are pf_conn_pipe()'s.
 *
 * Settings: host = "127.0.0.1" (or a name); port = 7;
 */
#include <preforkd/preforkd.h>

static struct pf_connect_opts	to = { "127.0.0.1", 7, NULL, 5000 };

static void
forward_connection(void *listener, const struct pf_event_arg *ev, void *u)
{
	struct pf_conn	*back;

	if ((back = pf_connect(&to)) == NULL) {
		pf_conn_destroy(ev->conn);
		return;
	}
	if (pf_conn_pipe(ev->conn, back, 0) == -1 ||
	    pf_conn_pipe(back, ev->conn, 0) == -1) {
		pf_conn_destroy(back);
		pf_conn_destroy(ev->conn);
	}
}

static int
forward_check(const struct pf_settings *s)
{
	static const char *const known[] = { "host", "port", NULL };
	long long	 port = 7;

	if (pf_settings_only(s, known) == -1)
		return -1;
	if (pf_setting_int(s, "port", &port) == 0 && (port < 1 || port > 65535))
		return pf_settings_fail(s, "port", "%lld is not a port", port);
	return 0;
}

static int
forward_init(struct pf_listener *l)
{
	const struct pf_settings	*s = pf_listener_settings(l);
	long long			 port = 7;

	pf_setting_str(s, "host", &to.host);
	if (pf_setting_int(s, "port", &port) == 0)
		to.port = (unsigned int)port;
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    forward_connection, NULL);
}

const struct pf_module preforkd_module = {
	.api_version = PREFORKD_API_VERSION,
	.service = { "forward", forward_init },
	.check = forward_check,
};
