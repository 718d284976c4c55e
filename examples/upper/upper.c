/*
 * upper.c -- an example preforkd module: a line protocol that answers
 * each line with the same line in upper case.
 *
 * Settings (all optional):
 *	prefix = "> ";		put before every answer
 *	max_line = 1024;	longer lines are refused and the client closed
 *
 * It shows the parts of a service: the per-connection state hung on the
 * connection with pf_conn_set_data and freed on "close", backpressure
 * (pause while the client does not read, resume on "drain"), settings
 * checked at configuration time, and a master hook.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <preforkd/preforkd.h>

struct upper {
	size_t		 len;
	char		 line[];	/* max_line bytes */
};

static const char	*prefix = "";
static long long	 max_line = 1024;

static void
upper_close(void *conn, const struct pf_event_arg *ev, void *udata)
{
	free(pf_conn_get_data(conn));
}

static void
upper_drain(void *conn, const struct pf_event_arg *ev, void *udata)
{
	pf_conn_resume(conn);
}

static void
upper_answer(void *conn, struct upper *u)
{
	size_t	i;

	for (i = 0; i < u->len; i++)
		u->line[i] = (char)toupper((unsigned char)u->line[i]);
	if (pf_conn_write(conn, prefix, strlen(prefix)) == 0 ||
	    pf_conn_write(conn, u->line, u->len) == 0)
		pf_conn_pause(conn);	/* the client is not reading */
	u->len = 0;
}

static void
upper_data(void *conn, const struct pf_event_arg *ev, void *udata)
{
	struct upper	*u = pf_conn_get_data(conn);
	const char	*p = ev->data;
	size_t		 i;

	for (i = 0; i < ev->len; i++) {
		if (u->len == (size_t)max_line) {
			pf_conn_write(conn, "line too long\n", 14);
			pf_conn_end(conn);
			return;
		}
		u->line[u->len++] = p[i];
		if (p[i] == '\n')
			upper_answer(conn, u);
	}
}

static void
upper_connection(void *listener, const struct pf_event_arg *ev, void *udata)
{
	struct upper	*u;

	if ((u = malloc(sizeof(*u) + (size_t)max_line)) == NULL) {
		pf_conn_destroy(ev->conn);
		return;
	}
	u->len = 0;
	pf_conn_set_data(ev->conn, u);
	pf_conn_on(ev->conn, PF_EV_DATA, upper_data, NULL);
	pf_conn_on(ev->conn, PF_EV_DRAIN, upper_drain, NULL);
	pf_conn_on(ev->conn, PF_EV_CLOSE, upper_close, NULL);
}

static int
upper_check(const struct pf_settings *s)
{
	static const char *const known[] = { "prefix", "max_line", NULL };
	const char	*str;
	long long	 n;

	if (pf_settings_only(s, known) == -1)
		return -1;
	if (pf_setting_int(s, "max_line", &n) == 0 && (n < 16 || n > 65536))
		return pf_settings_fail(s, "max_line", "%lld is not in 16 to "
		    "65536", n);
	if (pf_setting_str(s, "prefix", &str) == -1 &&
	    pf_setting_int(s, "prefix", &n) == 0)
		return pf_settings_fail(s, "prefix", "must be a string");
	return 0;
}

static int
upper_init(struct pf_listener *l)
{
	const struct pf_settings	*s = pf_listener_settings(l);

	pf_setting_str(s, "prefix", &prefix);
	pf_setting_int(s, "max_line", &max_line);
	pf_log(PF_LOG_INFO, "upper on %s, max_line %lld", pf_listener_name(l),
	    max_line);
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    upper_connection, NULL);
}

const struct pf_module preforkd_module = {
	.api_version = PREFORKD_API_VERSION,
	.service = { "upper", upper_init },
	.check = upper_check,
};
