/*
 * config.h -- the validated configuration the rest of preforkd sees.
 *
 * Nothing from libconfig leaks past conf/: the loader parses and checks the
 * file and hands back plain structs.  Every error is "file:line: message".
 */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

#include <stddef.h>

#include "common/cidr.h"
#include "common/log.h"

#define CONFIG_ERRLEN		512
#define CONFIG_WORKERS_AUTO	0
#define CONFIG_WORKERS_MAX	1024
/* cpu_affinity: none, "auto" (the online CPUs in turn) or a list. */
#define CONFIG_CPUS_NONE	0
#define CONFIG_CPUS_AUTO	1
#define CONFIG_CPUS_LIST	2
#define CONFIG_CPUS_MAX		1024	/* CPU_SETSIZE on Linux */

/* One backend of a proxy listener: host and port, or a Unix path. */
struct backend_conf {
	char		*address;	/* numeric address or host name */
	int		 port;
	char		*path;
	int		 weight;	/* 1..256 */
	int		 line;
	char		 name[280];	/* "10.0.0.1:80", "[::1]:80", "h:80",
					   a path: for log lines and hashing */
	int		 hslot;		/* its slot in the shared backend
					   table (the master sets it before
					   forking), or -1 */
};

enum balance_algo {
	BALANCE_ROUNDROBIN,
	BALANCE_LEASTCONN,
	BALANCE_SOURCE,
};

/* The settings of service = "proxy" (conf/proxyconf.c checks them). */
struct proxy_conf {
	struct backend_conf *backends;
	size_t		 nbackends;
	int		 balance;		/* enum balance_algo */
	int		 connect_timeout_ms;
	int		 retries;		/* other backends after a failure */
	int		 fail_max;		/* failures in a row: down */
	int		 down_ms;		/* for this long */
	int		 send_proxy;		/* 0, or PROXY version 1 or 2 */
	int		 check_interval_ms;	/* active checks; 0: none */
	int		 check_timeout_ms;
	int		 check_rise;		/* checks in a row: up again */
	int		 check_fall;		/* failed in a row: down */
};

/* One certificate of a TLS listener: its chain and its private key. */
struct tls_cert_conf {
	char		*certificate;	/* PEM: leaf first, then the chain */
	char		*key;		/* PEM private key */
	int		 line;
};

/*
 * A listener's tls group (conf/tlsconf.c checks it).  certs[0] is the
 * default, the others are chosen by SNI.  The master builds the contexts
 * (server/tlsctx.c) while it validates the file: ctx is theirs, freed with
 * the configuration by ctx_free, so conf/ needs no TLS library.
 */
struct tls_conf {
	char		*certificate;	/* as written; moved into certs */
	char		*key;
	struct tls_cert_conf *certs;
	size_t		 ncerts;
	char		*protocols;	/* the minimum: "TLSv1.2", "TLSv1.3" */
	int		 min_version;	/* 12 or 13 */
	char		*ciphers;	/* TLS 1.2 cipher list, or NULL */
	char		*ciphersuites;	/* TLS 1.3 suites, or NULL */
	char		*client_ca;	/* require and verify client certs */
	char		**alpn;		/* protocol names, NULL-ended */
	size_t		 nalpn;
	unsigned char	*alpn_wire;	/* the same, as ALPN sends them */
	size_t		 alpn_len;
	int		 handshake_timeout_ms;
	int		 line;
	char		*file;		/* where the group is */
	void		*ctx;
	void		(*ctx_free)(void *);
};

/* Where a setting was read: for checks made after parsing (server/check.c). */
struct config_pos {
	char		*file;		/* NULL: not set */
	int		 line;
};

struct listen_conf {
	char		*address;	/* numeric IPv4/IPv6, or NULL */
	int		 port;
	char		*path;		/* Unix stream socket, or NULL */
	char		*service;
	int		 backlog;
	int		 tcp_nodelay;
	int		 reuseport;	/* one socket per worker slot */
	int		 idle_timeout_ms;	/* 0: none */
	int		 max_output;		/* bytes queued per connection */
	int		 max_per_ip;		/* 0: no limit */
	struct cidr	*allow;			/* none: everyone */
	size_t		 nallow;
	struct cidr	*deny;
	size_t		 ndeny;
	int		 proxy_protocol;	/* a PROXY header comes first */
	struct cidr	*proxy_trusted;		/* who may send one */
	size_t		 nproxy_trusted;
	int		 proxy_timeout_ms;	/* to receive it */
	struct proxy_conf proxy;		/* service = "proxy" */
	struct tls_conf	*tls;			/* NULL: plaintext */
	int		 line;		/* where it was defined */
	char		 name[128];	/* "127.0.0.1:7007", "[::1]:7", path */
	/* Access log: a path or "syslog", NULL for none.  The listener's own
	 * access_log, else a copy of the global one; alog_pos.file is set
	 * only for its own (file = "off" there: none). */
	char		*alog_file;
	int		 alog_json;	/* format = "json" */
	struct config_pos alog_pos;
};

/* One scalar of a module's settings group, for the module to judge. */
enum setting_type {
	SETTING_INT,
	SETTING_FLOAT,
	SETTING_BOOL,
	SETTING_STR,
};

struct setting {
	char			*key;
	enum setting_type	 type;
	int			 line;
	long long		 i;	/* int, bool */
	double			 f;
	char			*s;
};

struct module_conf {
	char		*name;
	char		*path;
	int		 line;
	int		 settings_line;
	struct setting	*settings;
	size_t		 nsettings;
};

struct config {
	char			*file;
	int			 workers;	/* CONFIG_WORKERS_AUTO or n */
	enum log_level		 log_level;
	char			*log_file;	/* path, "stderr", "syslog" */
	char			*alog_file;	/* access log: path, "syslog" */
	int			 alog_json;
	int			 alog_flush_ms;	/* longest a line waits */
	int			 shutdown_timeout_ms;
	int			 drain_delay_ms;	/* quit: 503 first */
	int			 reload_canary_ms;	/* one worker first */
	int			 heartbeat_interval_ms;
	int			 worker_timeout_ms;
	int			 min_uptime_ms;	/* shorter lives are failures */
	int			 max_conns_per_worker;	/* 0: never recycle */
	int			 max_conns_jitter;
	int			 max_connections;	/* per worker; 0: none */
	int			 max_old_generations;
	char			*admin_socket;		/* NULL: none */
	char			*pidfile;		/* NULL: none */
	char			*chroot;		/* workers' root */
	char			*user;			/* workers run as */
	char			*group;
	int			 rlimit_nofile;		/* 0: leave it */
	int			 daemon;
	int			 admin_mode;
	int			 cpu_affinity;	/* CONFIG_CPUS_* */
	int			*cpus;		/* LIST: slot i on cpus[i % n] */
	size_t			 ncpus;
	struct listen_conf	*listeners;
	size_t			 nlisteners;
	struct module_conf	*modules;
	size_t			 nmodules;
	/* Where the settings checked at run time came from. */
	struct config_pos	 pos_log_file;
	struct config_pos	 pos_alog_file;
	struct config_pos	 pos_admin_socket;
	struct config_pos	 pos_pidfile;
	struct config_pos	 pos_chroot;
	struct config_pos	 pos_user;
	struct config_pos	 pos_group;
	struct config_pos	 pos_cpu_affinity;
};

/* Parse and validate; NULL with err filled on any problem. */
struct config	*config_load(const char *file, char *err, size_t errlen);
/* The same from a string; name stands for the file in messages. */
struct config	*config_parse(const char *text, const char *name, char *err,
		    size_t errlen);
void		 config_free(struct config *cfg);

#endif
