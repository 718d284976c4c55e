/*
 * check.c -- the configuration against the system it will run on.
 *
 * conf/ judges the file on its own; this judges what start-up would meet:
 * directories that do not exist, files of the wrong kind, unknown users,
 * groups and chroot directories, CPUs this process may not run on.  It
 * only looks (stat, access, getpwnam, sched_getaffinity):
 * it binds, opens and writes nothing, so "preforkd -t" may run it next to
 * a live master, and a reload runs it before it changes anything.
 * config_load_checked is the whole check start-up, -t and reload share:
 * the file, then this, then the modules it loads (in check mode).
 */
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/tlsctx.h"
#include "server/affinity.h"
#include "server/check.h"
#include "server/privs.h"
#include "worker/module.h"
#include "worker/service.h"

static int
fail(const struct config *cfg, const char *file, int line, char *err,
    size_t errlen, const char *fmt, ...) PF_PRINTF(6, 7);

static int
fail(const struct config *cfg, const char *file, int line, char *err,
    size_t errlen, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(err, errlen, "%s:%d: ", file != NULL ? file : cfg->file,
	    line > 0 ? line : 1);
	if (n > 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * path will be created (or opened, if kind says it may exist) by the
 * master: its directory must exist and be writable, and an existing path
 * must be a regular file (S_IFREG) or a socket (S_IFSOCK).  NULL if fine,
 * else why not.
 */
static const char *
creatable(const char *path, mode_t kind, char *why, size_t len)
{
	struct stat	 st;
	char		 dir[PATH_MAX];
	char		*slash;

	if (stat(path, &st) == 0) {
		if ((st.st_mode & S_IFMT) != kind) {
			snprintf(why, len, "exists and is not a %s",
			    kind == S_IFSOCK ? "socket" : "regular file");
			return why;
		}
		if (kind == S_IFREG && access(path, W_OK) == -1) {
			snprintf(why, len, "cannot write: %s", strerror(errno));
			return why;
		}
		return NULL;
	}
	if (errno != ENOENT) {
		snprintf(why, len, "%s", strerror(errno));
		return why;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1) {
		snprintf(why, len, "directory %s: %s", dir, strerror(errno));
		return why;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", dir);
		return why;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(why, len, "directory %s: cannot create files: %s", dir,
		    strerror(errno));
		return why;
	}
	return NULL;
}

/* An access log's file (not "syslog", not none) can be opened. */
static int
alog_creatable(const char *file, char *buf, size_t len, const char **why)
{
	if (file == NULL || strcmp(file, "syslog") == 0)
		return 0;
	return (*why = creatable(file, S_IFREG, buf, len)) == NULL ? 0 : -1;
}

int
config_check_runtime(const struct config *cfg, char *err, size_t errlen)
{
	const struct listen_conf	*l;
	const struct config_pos		*pos;
	struct passwd			*pw = NULL;
	struct group			*gr = NULL;
	struct stat			 st;
	const char			*why;
	char				 buf[PATH_MAX + 64];
	size_t				 i;

	pos = &cfg->pos_log_file;
	if (cfg->log_file != NULL && strcmp(cfg->log_file, "stderr") != 0 &&
	    strcmp(cfg->log_file, "syslog") != 0 &&
	    (why = creatable(cfg->log_file, S_IFREG, buf, sizeof(buf))) != NULL)
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "log file %s: %s", cfg->log_file, why);
	pos = &cfg->pos_alog_file;
	if (alog_creatable(cfg->alog_file, buf, sizeof(buf), &why) == -1)
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "access log %s: %s", cfg->alog_file, why);
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		pos = &l->alog_pos;
		if (pos->file != NULL && alog_creatable(l->alog_file, buf,
		    sizeof(buf), &why) == -1)
			return fail(cfg, pos->file, pos->line, err, errlen,
			    "listener %s: access log %s: %s", l->name,
			    l->alog_file, why);
	}
	pos = &cfg->pos_pidfile;
	if (cfg->pidfile != NULL &&
	    (why = creatable(cfg->pidfile, S_IFREG, buf, sizeof(buf))) != NULL)
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "pidfile %s: %s", cfg->pidfile, why);
	pos = &cfg->pos_admin_socket;
	if (cfg->admin_socket != NULL && (why = creatable(cfg->admin_socket,
	    S_IFSOCK, buf, sizeof(buf))) != NULL)
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "admin_socket %s: %s", cfg->admin_socket, why);
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		if (l->path != NULL &&
		    (why = creatable(l->path, S_IFSOCK, buf, sizeof(buf))) != NULL)
			return fail(cfg, NULL, l->line, err, errlen,
			    "listener %s: %s", l->path, why);
	}

	pos = &cfg->pos_chroot;
	if (cfg->chroot != NULL) {
		if (cfg->chroot[0] != '/')
			return fail(cfg, pos->file, pos->line, err, errlen,
			    "chroot %s: not an absolute path", cfg->chroot);
		if (stat(cfg->chroot, &st) == -1)
			return fail(cfg, pos->file, pos->line, err, errlen,
			    "chroot %s: %s", cfg->chroot, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(cfg, pos->file, pos->line, err, errlen,
			    "chroot %s: not a directory", cfg->chroot);
	}
	pos = &cfg->pos_user;
	if (cfg->user != NULL && (pw = getpwnam(cfg->user)) == NULL)
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "user '%s' does not exist", cfg->user);
	if (pw != NULL && geteuid() != 0 && pw->pw_uid != geteuid())
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "user '%s' needs preforkd to start as root", cfg->user);
	pos = &cfg->pos_group;
	if (cfg->group != NULL && (gr = getgrnam(cfg->group)) == NULL)
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "group '%s' does not exist", cfg->group);
	if (gr != NULL && geteuid() != 0 && gr->gr_gid != getegid())
		return fail(cfg, pos->file, pos->line, err, errlen,
		    "group '%s' needs preforkd to start as root", cfg->group);
	/* The workers are forked from the master and may only narrow its
	 * mask: a CPU outside it (offline, another cpuset) cannot be had. */
	pos = &cfg->pos_cpu_affinity;
	for (i = 0; cfg->cpu_affinity == CONFIG_CPUS_LIST && i < cfg->ncpus;
	    i++) {
		if (!affinity_allowed(cfg->cpus[i]))
			return fail(cfg, pos->file, pos->line, err, errlen,
			    "cpu_affinity: CPU %d is not available to "
			    "preforkd (offline, or outside its CPU set)",
			    cfg->cpus[i]);
	}
	return 0;
}

/* What a start, -t and a reload read: the file, then everything it names. */
struct config *
config_load_checked(const char *file, char *err, size_t errlen)
{
	struct config	*cfg;
	size_t		 i, j;

	struct privs	 privs;

	if ((cfg = config_load(file, err, errlen)) == NULL)
		return NULL;
	for (j = 0; j < cfg->nmodules; j++) {
		if (service_builtin(cfg->modules[j].name) != NULL ||
		    strcmp(cfg->modules[j].name, SERVICE_STATS) == 0) {
			snprintf(err, errlen, "%s:%d: module %s: a built-in "
			    "service has that name", cfg->file,
			    cfg->modules[j].line, cfg->modules[j].name);
			goto fail;
		}
	}
	if (config_check_runtime(cfg, err, errlen) == -1 ||
	    tlsctx_build_all(cfg, err, errlen) == -1 ||
	    privs_resolve(cfg, &privs, err, errlen) == -1 ||
	    module_load(cfg, MODULE_CHECK, NULL, err, errlen) == -1)
		goto fail;
	if (cfg->chroot != NULL && (cfg->chroot[0] != '/' ||
	    access(cfg->chroot, X_OK) == -1)) {
		snprintf(err, errlen, "%s: chroot %s: %s", cfg->file,
		    cfg->chroot, cfg->chroot[0] != '/' ? "not an absolute path" :
		    strerror(errno));
		goto fail;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		for (j = 0; j < cfg->nmodules; j++) {
			if (strcmp(cfg->modules[j].name,
			    cfg->listeners[i].service) == 0)
				break;
		}
		if (j == cfg->nmodules &&
		    strcmp(cfg->listeners[i].service, SERVICE_STATS) != 0 &&
		    service_find(cfg->listeners[i].service) == NULL) {
			snprintf(err, errlen, "%s:%d: listener %s: unknown "
			    "service '%s'", cfg->file, cfg->listeners[i].line,
			    cfg->listeners[i].name, cfg->listeners[i].service);
			goto fail;
		}
	}
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}
