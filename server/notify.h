/*
 * notify.h -- telling systemd (or whoever set $NOTIFY_SOCKET) how the
 * service is doing, without libsystemd.
 */
#ifndef PF_NOTIFY_H
#define PF_NOTIFY_H

#include "common/log.h"

/* Send one datagram of "KEY=value" lines; nothing if not supervised. */
void	notify_send(const char *fmt, ...) PF_PRINTF(1, 2);
/* RELOADING=1 with the MONOTONIC_USEC systemd's reload protocol needs. */
void	notify_reloading(void);
/* The first generation serves: READY=1, and release a waiting parent. */
void	notify_ready(int workers);
/* Daemon mode: the pipe the parent waits on for notify_ready(). */
void	notify_set_ready_fd(int fd);
/* In a new worker: close the pipe, which only the master may answer. */
void	notify_forget(void);

#endif
