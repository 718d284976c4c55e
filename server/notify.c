/*
 * notify.c -- the sd_notify protocol, by hand: one datagram per message to
 * the Unix socket named by $NOTIFY_SOCKET ('@' starts an abstract name).
 * Failures are logged at debug level and otherwise ignored: supervision
 * must never stop the service, so a receiver whose queue is full (or
 * that stopped reading) never blocks the master: MSG_DONTWAIT.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/notify.h"

static int	ready_fd = -1;	/* daemon mode: the waiting parent's pipe */

void
notify_set_ready_fd(int fd)
{
	ready_fd = fd;
}

void
notify_forget(void)
{
	if (ready_fd != -1)
		close(ready_fd);
	ready_fd = -1;
}

void
notify_ready(int workers)
{
	notify_send("READY=1\nSTATUS=serving, %d workers", workers);
	if (ready_fd != -1) {
		if (write(ready_fd, "1", 1) != 1)
			log_debug("ready pipe: %s", strerror(errno));
		notify_forget();
	}
}

void
notify_send(const char *fmt, ...)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	char			 msg[1024];
	socklen_t		 len;
	va_list			 ap;
	size_t			 plen;
	int			 fd, n;

	if (path == NULL || *path == '\0')
		return;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + plen;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_debug("notify socket: %s", strerror(errno));
		return;
	}
	if (sendto(fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sun,
	    len) == -1)
		log_debug("notify %s: %s", path, strerror(errno));
	close(fd);
}

void
notify_reloading(void)
{
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)clock_mono_us());
}
