/*
 * log.h -- one-line log messages with levels, for master and workers.
 *
 * log_warn() appends strerror(errno); the others print the message as is.
 * Every function preserves errno.  fatal()/fatalx() are for start-up only.
 */
#ifndef PF_LOG_H
#define PF_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Same values as enum pf_log_level in preforkd/preforkd.h. */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define PF_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* who: "master", "worker 3"; copied. */
void	log_init(enum log_level level, const char *who);
void	log_set_level(enum log_level level);
void	log_set_who(const char *who);
int	log_level_parse(const char *name, enum log_level *level);
/*
 * Send lines to dest: a file path (appended to), "stderr" or "syslog"
 * (NULL means stderr).  Returns the new fd, -1 for syslog, or -2 with
 * err filled (the old destination stays).
 */
int	log_open(const char *dest, char *err, size_t errlen);
/* Write to fd from now on (closing the previous file); -1 when on syslog. */
void	log_set_fd(int fd);
int	log_fd(void);
/* The text of the last warning or error logged ("" if none yet). */
const char *log_last_warning(void);
int	log_enabled(enum log_level level);

void	log_warn(const char *fmt, ...) PF_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) PF_PRINTF(1, 2);
void	log_info(const char *fmt, ...) PF_PRINTF(1, 2);
void	log_vmsg(enum log_level level, const char *fmt, va_list ap)
	    PF_PRINTF(2, 0);
void	log_debug_fn(const char *fn, const char *fmt, ...) PF_PRINTF(2, 3);
void	fatal(const char *fmt, ...) PF_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *fmt, ...) PF_PRINTF(1, 2) __attribute__((noreturn));

#define log_debug(...) do {					\
	if (log_enabled(LOG_LEVEL_DEBUG))			\
		log_debug_fn(__func__, __VA_ARGS__);		\
} while (0)

#endif
