/*
 * schema.c -- the keys of the configuration file: a table per group, each
 * key with its kind, its range and the field it fills.  Every key here
 * must be in preforkd.conf(5) and the README (tests/check_keys.sh).
 */
#include <sys/un.h>

#include <arpa/inet.h>
#include <limits.h>

#include "conf/proxyconf.h"
#include "conf/schema.h"
#include "conf/tlsconf.h"

static const struct field backend_fields[] = {
	{ "address", K_STR, F(backend_conf, address), 0, 253, NULL },
	{ "port", K_INT, F(backend_conf, port), 1, 65535, NULL },
	{ "path", K_STR, F(backend_conf, path), 0,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1, NULL },
	{ "weight", K_INT, F(backend_conf, weight), 1, PROXY_WEIGHT_MAX,
	    NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

/* access_log = { file = ...; format = ...; }, in a listener and at the top. */
static const struct field listener_alog_fields[] = {
	{ "file", K_STR, F(listen_conf, alog_file), 0, PATH_MAX - 1, NULL },
	{ "format", K_FORMAT, F(listen_conf, alog_json), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field alog_fields[] = {
	{ "file", K_STR, F(config, alog_file), 0, PATH_MAX - 1, NULL },
	{ "format", K_FORMAT, F(config, alog_json), 0, 0, NULL },
	{ "flush", K_MS, F(config, alog_flush_ms), 10, 60000, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

/* tls = { ... } in a listener (conf/tlsconf.c). */
static const struct field tls_cert_fields[] = {
	{ "certificate", K_STR, F(tls_cert_conf, certificate), 0, PATH_MAX - 1,
	    NULL },
	{ "key", K_STR, F(tls_cert_conf, key), 0, PATH_MAX - 1, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field tls_fields[] = {
	{ "certificate", K_STR, F(tls_conf, certificate), 0, PATH_MAX - 1,
	    NULL },
	{ "key", K_STR, F(tls_conf, key), 0, PATH_MAX - 1, NULL },
	{ "certificates", K_CERTS, 0, 1, TLS_CERTS_MAX, tls_cert_fields },
	{ "protocols", K_STR, F(tls_conf, protocols), 0, 16, NULL },
	{ "ciphers", K_STR, F(tls_conf, ciphers), 0, 4096, NULL },
	{ "ciphersuites", K_STR, F(tls_conf, ciphersuites), 0, 4096, NULL },
	{ "alpn", K_ALPN, 0, 1, TLS_ALPN_MAX, NULL },
	{ "client_ca", K_STR, F(tls_conf, client_ca), 0, PATH_MAX - 1, NULL },
	{ "handshake_timeout", K_MS, F(tls_conf, handshake_timeout_ms), 10,
	    3600000, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field listener_fields[] = {
	{ "address", K_STR, F(listen_conf, address), 0, INET6_ADDRSTRLEN, NULL },
	{ "port", K_INT, F(listen_conf, port), 1, 65535, NULL },
	{ "path", K_STR, F(listen_conf, path), 0,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1, NULL },
	{ "service", K_STR, F(listen_conf, service), 0, 64, NULL },
	{ "backlog", K_INT, F(listen_conf, backlog), 1, 65535, NULL },
	{ "tcp_nodelay", K_BOOL, F(listen_conf, tcp_nodelay), 0, 1, NULL },
	{ "reuseport", K_BOOL, F(listen_conf, reuseport), 0, 1, NULL },
	{ "idle_timeout", K_MS, F(listen_conf, idle_timeout_ms), 0, 86400000,
	    NULL },
	/* At least a full read (64 KiB) plus the default high water mark,
	 * so a service that heeds backpressure is never cut off. */
	{ "max_output_buffer", K_INT, F(listen_conf, max_output), 131072,
	    1 << 30, NULL },
	{ "max_connections_per_ip", K_INT, F(listen_conf, max_per_ip), 0,
	    65535, NULL },
	{ "allow", K_CIDRS, F(listen_conf, allow), 0, 0, NULL },
	{ "deny", K_CIDRS, F(listen_conf, deny), 0, 0, NULL },
	{ "proxy_protocol", K_BOOL, F(listen_conf, proxy_protocol), 0, 1,
	    NULL },
	{ "proxy_trusted", K_CIDRS, F(listen_conf, proxy_trusted), 0, 0,
	    NULL },
	{ "proxy_timeout", K_MS, F(listen_conf, proxy_timeout_ms), 10,
	    3600000, NULL },
	/* service = "proxy" (conf/proxyconf.c). */
	{ "backends", K_BACKENDS, 0, 1, PROXY_BACKENDS_MAX, backend_fields },
	{ "balance", K_BALANCE, F(listen_conf, proxy.balance), 0, 0, NULL },
	{ "connect_timeout", K_MS, F(listen_conf, proxy.connect_timeout_ms),
	    10, 3600000, NULL },
	{ "retries", K_INT, F(listen_conf, proxy.retries), 0,
	    PROXY_BACKENDS_MAX - 1, NULL },
	{ "backend_fail_max", K_INT, F(listen_conf, proxy.fail_max), 0,
	    1000000, NULL },
	{ "backend_down_time", K_MS, F(listen_conf, proxy.down_ms), 10,
	    86400000, NULL },
	{ "send_proxy", K_SENDPROXY, F(listen_conf, proxy.send_proxy), 0, 0,
	    NULL },
	{ "check_interval", K_MS, F(listen_conf, proxy.check_interval_ms), 10,
	    3600000, NULL },
	{ "check_timeout", K_MS, F(listen_conf, proxy.check_timeout_ms), 10,
	    3600000, NULL },
	{ "check_rise", K_INT, F(listen_conf, proxy.check_rise), 1, 100, NULL },
	{ "check_fall", K_INT, F(listen_conf, proxy.check_fall), 1, 100, NULL },
	{ "access_log", K_GROUP, 0, 0, 0, listener_alog_fields },
	{ "tls", K_TLS, 0, 0, 0, tls_fields },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field module_fields[] = {
	{ "name", K_STR, F(module_conf, name), 0, 64, NULL },
	{ "path", K_STR, F(module_conf, path), 0, PATH_MAX - 1, NULL },
	{ "settings", K_SETTINGS, 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct field log_fields[] = {
	{ "level", K_LEVEL, F(config, log_level), 0, 0, NULL },
	{ "file", K_STR, F(config, log_file), 0, PATH_MAX - 1, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

const struct field root_fields[] = {
	{ "workers", K_WORKERS, F(config, workers), 1, CONFIG_WORKERS_MAX,
	    NULL },
	{ "shutdown_timeout", K_MS, F(config, shutdown_timeout_ms), 10,
	    86400000, NULL },
	{ "drain_delay", K_MS, F(config, drain_delay_ms), 0, 3600000, NULL },
	{ "reload_canary", K_MS, F(config, reload_canary_ms), 0, 3600000,
	    NULL },
	{ "heartbeat_interval", K_MS, F(config, heartbeat_interval_ms), 10,
	    60000, NULL },
	{ "worker_timeout", K_MS, F(config, worker_timeout_ms), 50, 3600000,
	    NULL },
	{ "min_uptime", K_MS, F(config, min_uptime_ms), 1, 3600000, NULL },
	{ "max_connections_per_worker", K_INT, F(config, max_conns_per_worker),
	    0, INT_MAX, NULL },
	{ "max_connections_jitter", K_INT, F(config, max_conns_jitter), 0,
	    INT_MAX, NULL },
	{ "max_connections", K_INT, F(config, max_connections), 0, 1 << 24,
	    NULL },
	{ "max_old_generations", K_INT, F(config, max_old_generations), 1,
	    64, NULL },
	{ "admin_socket", K_STR, F(config, admin_socket), 0,
	    sizeof(((struct sockaddr_un *)0)->sun_path) - 1, NULL },
	{ "admin_mode", K_MODE, F(config, admin_mode), 0, 0777, NULL },
	{ "pidfile", K_STR, F(config, pidfile), 0, PATH_MAX - 1, NULL },
	{ "chroot", K_STR, F(config, chroot), 0, PATH_MAX - 1, NULL },
	{ "user", K_STR, F(config, user), 0, 64, NULL },
	{ "group", K_STR, F(config, group), 0, 64, NULL },
	{ "rlimit_nofile", K_INT, F(config, rlimit_nofile), 64, 1 << 24,
	    NULL },
	{ "daemon", K_BOOL, F(config, daemon), 0, 1, NULL },
	{ "cpu_affinity", K_CPUS, F(config, cpu_affinity), 0,
	    CONFIG_CPUS_MAX - 1, NULL },
	{ "log", K_GROUP, 0, 0, 0, log_fields },
	{ "access_log", K_GROUP, 0, 0, 0, alog_fields },
	{ "listeners", K_LISTENERS, 0, 0, 0, listener_fields },
	{ "modules", K_MODULES, 0, 0, 0, module_fields },
	{ NULL, 0, 0, 0, 0, NULL }
};
