/*
 * tlsinfo.c -- a test service: on connection it writes what the TLS
 * accessors say, one line ("TLSv1.3 TLS_AES_256_GCM_SHA384 sni alpn
 * resumed subject", "-" for NULL), and ends.
 */
#include <stdio.h>
#include <string.h>

#include "preforkd/preforkd.h"

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
tlsinfo_connection(void *l, const struct pf_event_arg *ev, void *udata)
{
	char	line[1024], subject[256];

	snprintf(line, sizeof(line), "%s %s %s %s %d %s\n",
	    or_dash(pf_conn_tls_version(ev->conn)),
	    or_dash(pf_conn_tls_cipher(ev->conn)),
	    or_dash(pf_conn_tls_sni(ev->conn)),
	    or_dash(pf_conn_tls_alpn(ev->conn)),
	    pf_conn_tls_resumed(ev->conn),
	    or_dash(pf_conn_tls_peer_subject(ev->conn, subject,
	    sizeof(subject))));
	pf_conn_write(ev->conn, line, strlen(line));
	pf_conn_end(ev->conn);
}

static int
tlsinfo_init(struct pf_listener *l)
{
	return pf_on(pf_listener_emitter(l), PF_EV_CONNECTION,
	    tlsinfo_connection, NULL);
}

PREFORKD_MODULE("tlsinfo", tlsinfo_init);
