/*
 * preforkctl.c -- the operator's client for preforkd's admin socket.
 *
 * Sends one request line, prints the reply's body, and exits 0 if the
 * master answered OK, 1 with its reason if it answered ERR, 2 if it could
 * not be reached or did not answer in time.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/adminclient.h"

#ifndef PF_ADMIN_SOCKET
#define PF_ADMIN_SOCKET	"/run/preforkd/admin.sock"
#endif

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: preforkctl [-h] [-s socket] command [--json]\n"
	    "       preforkctl [-h] [-s socket] workers N | +N | -N\n"
	    "commands: status, workers, stats, stop, quit, reload, reopen, "
	    "upgrade, help\n"
	    "default socket: %s\n", PF_ADMIN_SOCKET);
	exit(status);
}

int
main(int argc, char *argv[])
{
	const char	*path = PF_ADMIN_SOCKET;
	char		 req[256];
	int		 ch, i, n;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "+hs:")) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 's':
			path = optarg;
			break;
		default:
			usage(2);
		}
	}
	if (optind == argc)
		usage(2);
	for (n = 0, i = optind; i < argc; i++) {
		n += snprintf(req + n, sizeof(req) - n, "%s%s",
		    i > optind ? " " : "", argv[i]);
		if ((size_t)n >= sizeof(req) - 1) {
			fprintf(stderr, "preforkctl: request too long\n");
			return 2;
		}
	}
	return admin_request(path, req);
}
