/*
 * harness.h -- helpers for integration tests: run the real preforkd on
 * loopback with a generated configuration and talk to it with real
 * sockets.  Every wait takes a deadline; nothing blocks unbounded.
 */
#ifndef PF_HARNESS_H
#define PF_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* The bound of a wait for the daemon: 5 s, four times that when it runs
 * under a wrapper (valgrind), which is that much slower to start, to
 * answer and to exit. */
#define H_TIMEOUT_MS	h_timeout_ms()
int	h_timeout_ms(void);

struct daemon {
	pid_t	pid;
	char	dir[64];	/* private temporary directory */
	char	conf[128];	/* its configuration file */
	char	log[128];	/* its stderr */
	char	sock[128];	/* <dir>/admin.sock, for configs that want one */
	char	notify[128];	/* <dir>/notify.sock: its $NOTIFY_SOCKET */
	int	notify_fd;	/* bound to notify by h_daemon_startf, or -1 */
};

/* A port that was free on 127.0.0.1 (family 4) or ::1 (6) a moment ago,
 * and not one of the last 256 this process was given. */
int	h_free_port(int family);
int	h_write_file(const char *path, const char *text);
/* Read a whole file into a NUL-terminated malloc'd string, or NULL. */
char	*h_read_file(const char *path);

/* Make d->dir, write conf_text to d->conf; d->pid is 0. */
int	h_daemon_init(struct daemon *d, const char *conf_text);
/* Run PREFORKD_BIN with the given arguments (NULL-terminated), stderr and
 * stdout to d->log; returns the exit status, or -1 on timeout. */
int	h_run(struct daemon *d, int timeout_ms, ...);
/* Start the daemon with listen_fd handed over as systemd's socket
 * activation does (fd 3, LISTEN_FDS=1); sets d->pid. */
pid_t	h_spawn_activated(struct daemon *d, int listen_fd);
/* The same, without waiting: the pid. */
pid_t	h_spawn(struct daemon *d, ...);
/* Start the daemon on d->conf and wait for its READY=1, then until
 * 'workers' workers run.  With workers -1 (not all will start), or if
 * the test set $NOTIFY_SOCKET itself: wait until host:port (or the Unix
 * path if port is 0) accepts instead.  0 or -1.  New tests should use
 * h_daemon_startf. */
int	h_daemon_start(struct daemon *d, int workers, const char *host,
	    int port);
/*
 * The one way to start a daemon: (if d->dir is empty, h_daemon_init d),
 * write the printf-style configuration to d->conf, start the daemon with
 * $NOTIFY_SOCKET on a datagram socket of our own and wait until it says
 * READY=1, i.e. every worker of the first generation reported ready and
 * the listeners are bound.  0, or -1 (with the log on stderr) if it exited
 * or stayed silent for H_TIMEOUT_MS.  A d that holds no daemon yet must
 * be zeroed or h_daemon_init'ed; configs can use d->dir and d->sock.
 */
int	h_daemon_startf(struct daemon *d, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Wait for a notification datagram containing needle (e.g. "READY=1"
 * after a reload) from a daemon started by h_daemon_startf; 0 or -1. */
int	h_wait_notify(struct daemon *d, const char *needle, int timeout_ms);
/* SIGTERM, bounded wait, SIGKILL fallback; removes d->dir.  -1 if the
 * daemon did not exit 0 or its log shows a sanitizer report or a crash. */
int	h_daemon_stop(struct daemon *d);
/* -1 if the log holds a sanitizer report or a core dump. */
int	h_log_clean(struct daemon *d);
/* waitpid with a deadline; returns the status or -1. */
int	h_wait_exit(pid_t pid, int timeout_ms);
/* Children of ppid found in /proc; returns how many (up to max). */
int	h_children(pid_t ppid, pid_t *out, int max);
/* Wait until ppid has exactly n children; 0 or -1. */
int	h_wait_children(pid_t ppid, int n, int timeout_ms);
/* Wait until the log contains needle; 0 or -1.  Sleeps on inotify, not
 * in steps: it returns as soon as the line is written. */
int	h_wait_log(struct daemon *d, const char *needle, int timeout_ms);
/* Wait until done(arg) holds, looking again whenever a file in dir is
 * created or written (inotify); 0 or -1 at the deadline. */
int	h_wait_dir(const char *dir, int (*done)(void *), void *arg,
	    int timeout_ms);
/* Wait until done(arg) holds, for what the daemon says only when asked
 * (a status or stats field, a process's children): asked again every
 * 10 ms; 0, or -1 at the deadline. */
int	h_wait_for(int (*done)(void *), void *arg, int timeout_ms);
/* Wait until the log contains needle at least n times; 0 or -1. */
int	h_wait_log_count(struct daemon *d, const char *needle, int n,
	    int timeout_ms);
int	h_pid_alive(pid_t pid);
/* Wait until none of pids[0..n) is alive; 0 or -1. */
int	h_wait_gone(const pid_t *pids, int n, int timeout_ms);
/* Open fds of pid whose /proc link starts with prefix (NULL: all); -1. */
int	h_fd_count(pid_t pid, const char *prefix);
/* VmRSS of pid in kB, or -1. */
long	h_rss_kb(pid_t pid);

/* Connect (blocking) to 127.0.0.1:port from the local address src. */
int	h_connect_from(const char *src, int port);
/* Connect to host:port (IPv4 or IPv6 literal), or a Unix path if port 0. */
int	h_connect(const char *host, int port, int timeout_ms);
int	h_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int	h_recv_exact(int fd, void *buf, size_t len, int timeout_ms);
/* 0 if the peer closes (EOF) within the time, -1 otherwise. */
int	h_recv_eof(int fd, int timeout_ms);
/* Write buf and read it back concurrently (full duplex); 0 if intact. */
int	h_echo_check(int fd, const void *buf, size_t len, int timeout_ms);
/* Connect, send msg, expect it back; 0 if intact. */
int	h_echo_once(const char *host, int port, const char *msg);
long	h_now_ms(void);

/* Run preforkctl -s sock args...; its exit status, output in *out
 * (malloc'd, stdout then stderr), or -1. */
int	h_ctl(const char *sock, char **out, ...);
/* The unsigned number after "key": following the first "after" in json
 * (after may be NULL); -1 if absent. */
long long h_json_num(const char *json, const char *after, const char *key);
/* CPU time (user + system) of pid, in ms, from /proc; -1 on error. */
long	h_cpu_ms(pid_t pid);
/* Count the lines of d's log containing needle. */
int	h_log_count(struct daemon *d, const char *needle);

#endif
