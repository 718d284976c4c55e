/*
 * main.c -- command line, configuration check, and hand-over to the master.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "conf/config.h"
#include "server/adminclient.h"
#include "server/check.h"
#include "server/master.h"
#include "server/notify.h"
#include "server/pidfile.h"
#include "server/reload.h"
#include "server/upgrade.h"

#ifndef PF_CONFFILE
#define PF_CONFFILE	"/etc/preforkd/preforkd.conf"
#endif

#define SIGNAL_WAIT_SLACK_MS	5000

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: preforkd [-dhtV] [-c file] "
	    "[-s stop|quit|reload|reopen|upgrade]\n"
	    "  -c file    configuration file (default %s)\n"
	    "  -d         run as a daemon (also daemon = true)\n"
	    "  -t         check the configuration and exit\n"
	    "  -s signal  tell the running master (found by its pidfile):\n"
	    "             stop (fast), quit (graceful), reload, reopen (logs),\n"
	    "             upgrade (run the binary on disk as the new master)\n"
	    "  -V         print the version and exit\n"
	    "  -h         print this help and exit\n", PF_CONFFILE);
	exit(status);
}

/*
 * Detach from the terminal.  The command's own process stays until the
 * master reports its first generation ready (exit 0) or dies (exit 1), so
 * "preforkd -d && next-step" is reliable.  Returns the master's end of
 * the readiness pipe.
 */
static int
daemonize(const struct config *cfg)
{
	struct pollfd	pfd;
	char		c = 0;
	pid_t		pid;
	int		fds[2], null;

	if (cfg->log_file == NULL || strcmp(cfg->log_file, "stderr") == 0)
		fprintf(stderr, "preforkd: warning: in daemon mode stderr is "
		    "/dev/null; set log = { file = ... } or \"syslog\"\n");
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		fprintf(stderr, "preforkd: daemon: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		waitpid(pid, NULL, 0);
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, cfg->worker_timeout_ms * 2 + 10000) == 1 &&
		    read(fds[0], &c, 1) == 1 && c == '1')
			exit(0);
		fprintf(stderr, "preforkd: the daemon did not start; see "
		    "its log\n");
		exit(1);
	}
	close(fds[0]);
	if (setsid() == -1 || (pid = fork()) == -1)
		_exit(1);
	if (pid > 0)
		_exit(0);	/* not a session leader: no terminal, ever */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(log_fd() > STDERR_FILENO ? log_fd() : null, STDERR_FILENO);
		close(null);
	}
	return fds[1];
}

/* Gone, or a zombie its parent has not reaped yet. */
static int
pid_gone(pid_t pid)
{
	char	path[64], buf[512], *p;
	FILE	*f;
	int	 zombie = 0;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL)
		zombie = p[1] == ' ' && p[2] == 'Z';
	fclose(f);
	return zombie;
}

/* Wait up to ms for pid to be gone. */
static int
wait_gone(pid_t pid, int ms)
{
	struct timespec	step = { 0, 20 * 1000000L };

	for (; ms > 0; ms -= 20) {
		if (pid_gone(pid))
			return 0;
		nanosleep(&step, NULL);
	}
	return -1;
}

/*
 * -s upgrade without an admin socket: the pidfile names the new master
 * once it serves; until then (bounded like the upgrade itself) it names
 * the old one.
 */
static int
wait_upgraded(const struct config *cfg, pid_t old)
{
	struct timespec	step = { 0, 20 * 1000000L };
	char		err[CONFIG_ERRLEN];
	pid_t		pid;
	int		ms;

	for (ms = reload_wait_ms(cfg) + SIGNAL_WAIT_SLACK_MS; ms > 0;
	    ms -= 20) {
		if (pidfile_read(cfg->pidfile, &pid, err, sizeof(err)) == 0 &&
		    pid != old) {
			printf("preforkd: upgraded: master pid %ld -> %ld\n",
			    (long)old, (long)pid);
			return 0;
		}
		nanosleep(&step, NULL);
	}
	fprintf(stderr, "preforkd: pid %ld is still the master: the upgrade "
	    "failed (see its log; set admin_socket to get the reason)\n",
	    (long)old);
	return 1;
}

/*
 * -s: act on the running master.  reload goes through the admin socket
 * when there is one, so the outcome comes back; stop and quit wait until
 * the master has exited.  Exit 0 on success, 1 with the reason otherwise.
 */
static int
signal_master(const struct config *cfg, const char *what)
{
	static const struct {
		const char	*name;
		int		 sig;
	} sigs[] = {
		{ "stop", SIGTERM }, { "quit", SIGQUIT }, { "reload", SIGHUP },
		{ "reopen", SIGUSR1 }, { "upgrade", SIGUSR2 },
	};
	char	err[CONFIG_ERRLEN];
	pid_t	pid;
	size_t	i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (strcmp(what, sigs[i].name) == 0)
			break;
	}
	if (i == sizeof(sigs) / sizeof(sigs[0])) {
		fprintf(stderr, "preforkd: -s %s: use stop, quit, reload, "
		    "reopen or upgrade\n", what);
		return 1;
	}
	/* Through the admin socket, the outcome comes back. */
	if ((sigs[i].sig == SIGHUP || sigs[i].sig == SIGUSR1 ||
	    sigs[i].sig == SIGUSR2) && cfg->admin_socket != NULL)
		return admin_request(cfg->admin_socket, what) == 0 ? 0 : 1;
	if (cfg->pidfile == NULL) {
		fprintf(stderr, "preforkd: %s sets no pidfile; cannot find the "
		    "master\n", cfg->file);
		return 1;
	}
	if (pidfile_read(cfg->pidfile, &pid, err, sizeof(err)) == -1) {
		fprintf(stderr, "preforkd: %s\n", err);
		return 1;
	}
	if (kill(pid, sigs[i].sig) == -1) {
		fprintf(stderr, "preforkd: kill %ld: %s\n", (long)pid,
		    strerror(errno));
		return 1;
	}
	if (sigs[i].sig == SIGUSR2)
		return wait_upgraded(cfg, pid);
	if (sigs[i].sig == SIGTERM || sigs[i].sig == SIGQUIT) {
		if (wait_gone(pid, cfg->shutdown_timeout_ms +
		    (sigs[i].sig == SIGQUIT ? cfg->drain_delay_ms : 0) +
		    SIGNAL_WAIT_SLACK_MS) == -1) {
			fprintf(stderr, "preforkd: pid %ld has not exited\n",
			    (long)pid);
			return 1;
		}
	} else
		printf("preforkd: signal sent to %ld (set admin_socket to get "
		    "the result)\n", (long)pid);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct config	*cfg;
	const char	*file = PF_CONFFILE, *sig = NULL;
	char		 err[CONFIG_ERRLEN];
	int		 ch, test = 0, detach = 0, upgrade = 0;

	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LEVEL_INFO, "master");
	upgrade_remember(argv);

	while ((ch = getopt(argc, argv, "c:dhs:tV")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			detach = 1;
			break;
		case 's':
			sig = optarg;
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

	if (sig == NULL && !test)
		upgrade = upgrade_child_init();
	/* -s stop|quit|reopen need the pidfile and admin socket, not a
	 * runnable file: a daemon must stay stoppable after someone broke
	 * its modules.  -s reload checks the file fully first. */
	cfg = sig != NULL && !test && strcmp(sig, "reload") != 0 ?
	    config_load(file, err, sizeof(err)) :
	    config_load_checked(file, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "preforkd: %s\n", err);
		upgrade_child_failed(err);
		return 1;
	}
	if (test || sig != NULL) {
		ch = sig != NULL ? signal_master(cfg, sig) : 0;
		if (test)
			printf("preforkd: configuration file %s is valid\n",
			    file);
		config_free(cfg);
		return ch;
	}
	log_set_level(cfg->log_level);
	if (log_open(cfg->log_file, err, sizeof(err)) == -2) {
		fprintf(stderr, "preforkd: %s\n", err);
		upgrade_child_failed(err);
		config_free(cfg);
		return 1;
	}
	/* A new master of an upgrade is detached already, if it must be. */
	if ((detach || cfg->daemon) && !upgrade)
		notify_set_ready_fd(daemonize(cfg));
	return master_run(cfg);
}
