/*
 * main.c -- command line, configuration check, and hand-over to the master.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/config.h"
#include "server/master.h"
#include "server/reload.h"

#ifndef PF_CONFFILE
#define PF_CONFFILE	"/etc/preforkd/preforkd.conf"
#endif

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: preforkd [-htV] [-c file]\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -t       check the configuration and exit\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help and exit\n", PF_CONFFILE);
	exit(status);
}

int
main(int argc, char *argv[])
{
	struct config	*cfg;
	const char	*file = PF_CONFFILE;
	char		 err[CONFIG_ERRLEN];
	int		 ch, test = 0;

	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LEVEL_INFO, "master");

	while ((ch = getopt(argc, argv, "c:htV")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'h':
			usage(0);
		case 't':
			test = 1;
			break;
		case 'V':
			printf("preforkd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);

	if ((cfg = reload_load_config(file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "preforkd: %s\n", err);
		return 1;
	}
	if (test) {
		printf("preforkd: configuration file %s is valid\n", file);
		config_free(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);
	return master_run(cfg);
}
