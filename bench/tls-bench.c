/*
 * tls-bench.c -- a load generator for TLS echo servers (preforkd's echo
 * on a tls listener, or any TLS terminator in front of an echo server).
 * Three workloads, -c client threads each with blocking sockets:
 *
 *	full	connect, full handshake, 64 bytes echoed, close_notify, close
 *	resume	the same, resuming the session of the thread's previous
 *		connection (a ticket): counts how many resumed
 *	echo	one connection per thread, -s bytes written and read back
 *
 * Every byte read back is compared with what was sent.  The output ends
 * with "RESULT ops=N errors=E resumed=R secs=S ops_per_s=X" for the
 * measured window (after -w seconds of warm-up); "total=N" counts the
 * whole run, warm-up included, for CPU per operation measured around the
 * whole process.  Exit status 0 when no error was seen, 1 otherwise, 2 on
 * bad usage.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mode { M_FULL, M_RESUME, M_ECHO };

static struct {
	struct sockaddr_in	 sin;
	enum mode		 mode;
	int			 clients, secs, warm, size, v12;
	SSL_CTX			*ctx;
	atomic_int		 phase;		/* 0 warm-up, 1 measured, 2 stop */
	atomic_ulong		 ops, total, errors, resumed;
} g;

static int
io_all(SSL *ssl, unsigned char *buf, int len, int wr)
{
	size_t	n;
	int	off = 0;

	while (off < len) {
		if ((wr ? SSL_write_ex(ssl, buf + off, len - off, &n) :
		    SSL_read_ex(ssl, buf + off, len - off, &n)) != 1)
			return -1;
		off += (int)n;
	}
	return 0;
}

static SSL *
tls_connect(int *fdp, SSL_SESSION *sess)
{
	SSL	*ssl;
	int	 fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(fd, (struct sockaddr *)&g.sin, sizeof(g.sin)) == -1 ||
	    (ssl = SSL_new(g.ctx)) == NULL) {
		close(fd);
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	if (sess != NULL)
		SSL_set_session(ssl, sess);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return ssl;
}

static void
count(int ok, int resumed)
{
	int	measured = atomic_load(&g.phase) == 1;

	if (!ok) {
		atomic_fetch_add(&g.errors, 1);
		ERR_clear_error();
		return;
	}
	atomic_fetch_add(&g.total, 1);
	if (measured) {
		atomic_fetch_add(&g.ops, 1);
		if (resumed)
			atomic_fetch_add(&g.resumed, 1);
	}
}

static void *
client(void *arg)
{
	unsigned char	*out, *in;
	SSL_SESSION	*sess = NULL;
	SSL		*ssl;
	int		 fd, i, ok, size = g.mode == M_ECHO ? g.size : 64;

	out = malloc(size);
	in = malloc(size);
	if (out == NULL || in == NULL)
		return NULL;
	for (i = 0; i < size; i++)
		out[i] = (unsigned char)(i * 7 + (intptr_t)arg);
	if (g.mode == M_ECHO) {
		if ((ssl = tls_connect(&fd, NULL)) == NULL) {
			count(0, 0);
			goto done;
		}
		while (atomic_load(&g.phase) < 2) {
			ok = io_all(ssl, out, size, 1) == 0 &&
			    io_all(ssl, in, size, 0) == 0 &&
			    memcmp(in, out, size) == 0;
			count(ok, 0);
			if (!ok)
				break;
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
		goto done;
	}
	while (atomic_load(&g.phase) < 2) {
		if ((ssl = tls_connect(&fd, g.mode == M_RESUME ? sess :
		    NULL)) == NULL) {
			count(0, 0);
			continue;
		}
		ok = io_all(ssl, out, size, 1) == 0 &&
		    io_all(ssl, in, size, 0) == 0 && memcmp(in, out, size) == 0;
		count(ok, SSL_session_reused(ssl));
		if (g.mode == M_RESUME) {
			/* The ticket of this connection, for the next. */
			SSL_SESSION_free(sess);
			sess = SSL_get1_session(ssl);
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
done:
	SSL_SESSION_free(sess);
	free(out);
	free(in);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tls-bench -p port [-m full|resume|echo] "
	    "[-c clients] [-d secs] [-w secs] [-s bytes] [-2]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	pthread_t	*th;
	struct timeval	 t0, t1;
	double		 secs;
	int		 ch, i, port = 0;

	g.clients = 8;
	g.secs = 3;
	g.warm = 1;
	g.size = 16384;
	while ((ch = getopt(argc, argv, "2c:d:m:p:s:w:")) != -1) {
		switch (ch) {
		case '2': g.v12 = 1; break;
		case 'c': g.clients = atoi(optarg); break;
		case 'd': g.secs = atoi(optarg); break;
		case 'w': g.warm = atoi(optarg); break;
		case 's': g.size = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'm':
			if (strcmp(optarg, "full") == 0)
				g.mode = M_FULL;
			else if (strcmp(optarg, "resume") == 0)
				g.mode = M_RESUME;
			else if (strcmp(optarg, "echo") == 0)
				g.mode = M_ECHO;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || g.clients < 1 || g.secs < 1 ||
	    g.warm < 0 || g.size < 1)
		usage();
	g.sin.sin_family = AF_INET;
	g.sin.sin_port = htons((uint16_t)port);
	g.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((g.ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return 2;
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_CLIENT);
	if (g.v12)
		SSL_CTX_set_max_proto_version(g.ctx, TLS1_2_VERSION);
	if ((th = calloc(g.clients, sizeof(*th))) == NULL)
		return 2;
	for (i = 0; i < g.clients; i++)
		if (pthread_create(&th[i], NULL, client, (void *)(intptr_t)i))
			return 2;
	sleep((unsigned)g.warm);
	gettimeofday(&t0, NULL);
	atomic_store(&g.phase, 1);
	sleep((unsigned)g.secs);
	atomic_store(&g.phase, 2);
	gettimeofday(&t1, NULL);
	for (i = 0; i < g.clients; i++)
		pthread_join(th[i], NULL);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_usec - t0.tv_usec) / 1e6;
	printf("RESULT ops=%lu total=%lu errors=%lu resumed=%lu secs=%.2f "
	    "ops_per_s=%.0f\n", atomic_load(&g.ops), atomic_load(&g.total),
	    atomic_load(&g.errors), atomic_load(&g.resumed), secs,
	    (double)atomic_load(&g.ops) / secs);
	free(th);
	SSL_CTX_free(g.ctx);
	return atomic_load(&g.errors) == 0 ? 0 : 1;
}
