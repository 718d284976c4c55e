/*
 * log.c -- the process-wide logger: level filter, "who" tag, and one
 * destination -- stderr, a file, or syslog.  A line is one write(2) (files
 * are opened O_APPEND), so lines of many processes never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "preforkd/preforkd.h"

static enum log_level	 cur_level = LOG_LEVEL_INFO;
static char		 cur_who[32] = "preforkd";
static int		 cur_fd = STDERR_FILENO;
static int		 cur_syslog;
static char		 last_warning[256];	/* for log_last_warning() */

static const int syslog_prio[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(enum log_level level, const char *who)
{
	log_set_level(level);
	log_set_who(who);
}

void
log_set_level(enum log_level level)
{
	cur_level = level;
}

void
log_set_who(const char *who)
{
	snprintf(cur_who, sizeof(cur_who), "%s", who);
}

int
log_open(const char *dest, char *err, size_t errlen)
{
	int	fd;

	if (dest == NULL || strcmp(dest, "stderr") == 0) {
		log_set_fd(STDERR_FILENO);
		return STDERR_FILENO;
	}
	if (strcmp(dest, "syslog") == 0) {
		openlog("preforkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_set_fd(-1);
		cur_syslog = 1;
		return -1;
	}
	fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		snprintf(err, errlen, "log file %s: %s", dest, strerror(errno));
		return -2;
	}
	log_set_fd(fd);
	return fd;
}

void
log_set_fd(int fd)
{
	if (cur_fd > STDERR_FILENO && cur_fd != fd)
		close(cur_fd);
	cur_fd = fd;
	cur_syslog = 0;
}

int
log_fd(void)
{
	return cur_syslog ? -1 : cur_fd;
}

int
log_enabled(enum log_level level)
{
	return level <= cur_level;
}

int
log_level_parse(const char *name, enum log_level *level)
{
	size_t	i;

	/* syslog's names (nginx's error_log uses them) are aliases. */
	static const struct {
		const char	*name;
		enum log_level	 level;
	} aliases[] = {
		{ "emerg", LOG_LEVEL_ERROR },
		{ "alert", LOG_LEVEL_ERROR },
		{ "crit", LOG_LEVEL_ERROR },
		{ "err", LOG_LEVEL_ERROR },
		{ "warning", LOG_LEVEL_WARN },
		{ "notice", LOG_LEVEL_INFO },
	};

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(name, aliases[i].name) == 0) {
			*level = aliases[i].level;
			return 0;
		}
	}
	return -1;
}

/* Format one line and write it with a single write(2); errno preserved. */
static void
log_line(enum log_level level, const char *err, const char *fmt, va_list ap)
    PF_PRINTF(3, 0);
static void	log_str(enum log_level, const char *, ...) PF_PRINTF(2, 3);

static void
log_line(enum log_level level, const char *err, const char *fmt, va_list ap)
{
	char		 line[2048], *p;
	struct timespec	 ts;
	struct tm	 tm;
	int		 saved = errno, n, m;

	if (cur_syslog) {
		n = vsnprintf(line, sizeof(line), fmt, ap);
		syslog(syslog_prio[level], "%s: %s%s%s", cur_who,
		    n < 0 ? "" : line, err ? ": " : "", err ? err : "");
		if (level <= LOG_LEVEL_WARN)
			snprintf(last_warning, sizeof(last_warning),
			    "%.200s%s%.50s", n < 0 ? "" : line, err ? ": " : "",
			    err ? err : "");
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02d %02d:%02d:%02d.%03ld preforkd[%ld] %s: %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, (long)getpid(),
	    cur_who, level_names[level]);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line)) {
		m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if (err != NULL && (size_t)n < sizeof(line)) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", err);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n] = '\0';
	if (level <= LOG_LEVEL_WARN && (p = strstr(line, "]")) != NULL &&
	    (p = strstr(p, level_names[level])) != NULL)
		snprintf(last_warning, sizeof(last_warning), "%.255s",
		    p + strlen(level_names[level]) + 2);
	line[n++] = '\n';
	while (write(cur_fd, line, n) == -1 && errno == EINTR)
		;
	errno = saved;
}

const char *
log_last_warning(void)
{
	return last_warning;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (log_enabled(level))
		log_line(level, NULL, fmt, ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	if (!log_enabled(LOG_LEVEL_WARN))
		return;
	va_start(ap, fmt);
	log_line(LOG_LEVEL_WARN, strerror(errno), fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug_fn(const char *fn, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	errno = saved;
	log_str(LOG_LEVEL_DEBUG, "%s: %s", fn, buf);
}

static void
log_str(enum log_level level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(level, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_LEVEL_ERROR, strerror(errno), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* The public entry point for modules (preforkd/preforkd.h). */
void
pf_log(enum pf_log_level level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg((enum log_level)level, fmt, ap);
	va_end(ap);
}
