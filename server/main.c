/*
 * main.c -- command line, configuration check, and hand-over to the master.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/config.h"
#include "server/master.h"
#include "worker/module.h"
#include "worker/service.h"

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

/* What libconfig cannot know: modules load, and named services exist. */
static int
config_check_services(const struct config *cfg, char *err, size_t errlen)
{
	size_t	i, j;

	if (module_load(cfg, 1, err, errlen) == -1)
		return -1;
	for (i = 0; i < cfg->nlisteners; i++) {
		for (j = 0; j < cfg->nmodules; j++) {
			if (strcmp(cfg->modules[j].name,
			    cfg->listeners[i].service) == 0)
				break;
		}
		if (j == cfg->nmodules &&
		    service_find(cfg->listeners[i].service) == NULL) {
			snprintf(err, errlen, "%s:%d: listener %s: unknown "
			    "service '%s'", cfg->file, cfg->listeners[i].line,
			    cfg->listeners[i].name, cfg->listeners[i].service);
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct config	*cfg;
	const char	*file = PF_CONFFILE;
	char		 err[CONFIG_ERRLEN];
	int		 ch, test = 0, status;

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

	if ((cfg = config_load(file, err, sizeof(err))) == NULL ||
	    config_check_services(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "preforkd: %s\n", err);
		config_free(cfg);
		return 1;
	}
	if (test) {
		printf("preforkd: configuration file %s is valid\n", file);
		config_free(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);
	status = master_run(cfg);
	config_free(cfg);
	return status;
}
