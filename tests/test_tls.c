/*
 * test_tls.c -- integration tests of TLS listeners on the real daemon,
 * with certificates made at test time by openssl(1) in the daemon's
 * temporary directory (no key is ever committed), and Python's ssl module
 * and openssl s_client as clients.
 *
 * Echo over TLS 1.2 and 1.3 (s_client and Python), 1 MiB intact, each
 * side's close_notify; SNI picks the certificate; ALPN; client
 * certificates required and verified; a plaintext client, garbage and a
 * stalled handshake refused and counted; resumption on every worker of a
 * generation; preforkd -t on expired, expiring and mismatched
 * certificates; a reload that swaps certificates under TLS load without a
 * client error, and a bad certificate failing a reload.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

/* The client side, in Python: one mode per scenario, one line of result. */
static const char helper[] =
	"import socket, ssl, sys, threading, time, os\n"
	"def ctx(ver=None, alpn=None, cert=None, key=None):\n"
	"    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
	"    c.check_hostname = False\n"
	"    c.verify_mode = ssl.CERT_NONE\n"
	"    if ver == '1.2':\n"
	"        c.minimum_version = c.maximum_version = ssl.TLSVersion.TLSv1_2\n"
	"    elif ver == '1.3':\n"
	"        c.minimum_version = c.maximum_version = ssl.TLSVersion.TLSv1_3\n"
	"    if alpn:\n"
	"        c.set_alpn_protocols(alpn)\n"
	"    if cert:\n"
	"        c.load_cert_chain(cert, key)\n"
	"    return c\n"
	"def conn(c, port, sni=None, session=None):\n"
	"    s = socket.create_connection(('127.0.0.1', port), timeout=20)\n"
	"    return c.wrap_socket(s, server_hostname=sni, session=session)\n"
	"def echo(s, data):\n"
	"    s.sendall(data)\n"
	"    got = bytearray()\n"
	"    while len(got) < len(data):\n"
	"        d = s.recv(65536)\n"
	"        if not d:\n"
	"            raise Exception('eof after %d' % len(got))\n"
	"        got += d\n"
	"    if bytes(got) != data:\n"
	"        raise Exception('data differs')\n"
	"def der(f):\n"
	"    return ssl.PEM_cert_to_DER_cert(open(f).read())\n"
	"mode, port = sys.argv[1], int(sys.argv[2])\n"
	"a = sys.argv[3:]\n"
	"try:\n"
	"    if mode == 'echo':      # version size\n"
	"        s = conn(ctx(a[0]), port)\n"
	"        data = os.urandom(int(a[1]))\n"
	"        echo(s, data)\n"
	"        v = s.version()\n"
	"        s.unwrap()          # our close_notify, then the server's\n"
	"        s.close()\n"
	"        print('ok', v, len(data))\n"
	"    elif mode == 'cert':    # sni files...\n"
	"        s = conn(ctx(), port, sni=a[0] if a[0] != '-' else None)\n"
	"        d = s.getpeercert(binary_form=True)\n"
	"        echo(s, b'x')\n"
	"        s.close()\n"
	"        print('cert', [der(f) for f in a[1:]].index(d) if d in [der(f) for f in a[1:]] else -1)\n"
	"    elif mode == 'alpn':    # protocols\n"
	"        s = conn(ctx(alpn=a[0].split(',')), port)\n"
	"        echo(s, b'x')\n"
	"        print('alpn', s.selected_alpn_protocol())\n"
	"        s.close()\n"
	"    elif mode == 'client':  # cert key, or -\n"
	"        c = ctx(cert=a[0], key=a[1]) if a[0] != '-' else ctx()\n"
	"        s = conn(c, port)\n"
	"        echo(s, b'client')\n"
	"        s.close()\n"
	"        print('ok')\n"
	"    elif mode == 'info':    # sni alpn cert key: twice, resumed\n"
	"        c = ctx(alpn=[a[1]], cert=a[2], key=a[3])\n"
	"        lines = []\n"
	"        sess = None\n"
	"        for i in range(2):\n"
	"            s = conn(c, port, sni=a[0], session=sess)\n"
	"            got = b''\n"
	"            while True:\n"
	"                d = s.recv(4096)\n"
	"                if not d:\n"
	"                    break\n"
	"                got += d\n"
	"            sess = s.session\n"
	"            s.close()\n"
	"            lines.append(got.decode().strip())\n"
	"        print(' | '.join(lines))\n"
	"    elif mode == 'chargen': # bytes: read slowly, check each line\n"
	"        s = conn(ctx(), port)\n"
	"        want = int(a[0]); got = bytearray()\n"
	"        while len(got) < want:\n"
	"            d = s.recv(1000 if len(got) < 200000 else 65536)\n"
	"            if not d:\n"
	"                raise Exception('eof after %d' % len(got))\n"
	"            got += d\n"
	"        lines = bytes(got[:want - want % 74]).split(b'\\r\\n')[:-1]\n"
	"        bad = 0\n"
	"        for i, l in enumerate(lines):\n"
	"            f = (l[0] - 32 + 1) % 95\n"
	"            if len(l) != 72 or any(l[j] != 32 + (l[0] - 32 + j) % 95 for j in range(72)) or (i + 1 < len(lines) and lines[i + 1][0] != 32 + f):\n"
	"                bad += 1\n"
	"        s.close()\n"
	"        print('chargen', len(lines), 'bad', bad)\n"
	"    elif mode == 'truncate': # echo, then close without close_notify\n"
	"        s = conn(ctx(), port)\n"
	"        echo(s, b'cut')\n"
	"        s.close()\n"
	"        print('ok')\n"
	"    elif mode == 'resume':  # version n\n"
	"        c = ctx(a[0])\n"
	"        s = conn(c, port)\n"
	"        echo(s, b'first')   # a TLS 1.3 ticket comes after the handshake\n"
	"        sess = s.session\n"
	"        s.unwrap(); s.close()\n"
	"        n = int(a[1]); k = 0\n"
	"        for i in range(n):\n"
	"            s = conn(c, port, session=sess)\n"
	"            echo(s, b'again')\n"
	"            if s.session_reused:\n"
	"                k += 1\n"
	"            sess = s.session if s.session is not None else sess\n"
	"            s.close()\n"
	"        print('resumed', k, n)\n"
	"    elif mode == 'load':    # threads longlived stopfile certs...\n"
	"        nthr, nlong, stop = int(a[0]), int(a[1]), a[2]\n"
	"        certs = [der(f) for f in a[3:]]\n"
	"        res = {'ok': 0, 'err': 0, 'seen': set(), 'msgs': []}\n"
	"        lock = threading.Lock()\n"
	"        def note(key, v=1, msg=None):\n"
	"            with lock:\n"
	"                res[key] += v\n"
	"                if msg and len(res['msgs']) < 5: res['msgs'].append(msg)\n"
	"        def worker():\n"
	"            c = ctx()\n"
	"            while not os.path.exists(stop):\n"
	"                try:\n"
	"                    s = conn(c, port)\n"
	"                    d = s.getpeercert(binary_form=True)\n"
	"                    echo(s, os.urandom(2048))\n"
	"                    s.unwrap(); s.close()\n"
	"                    with lock:\n"
	"                        res['seen'].add(certs.index(d) if d in certs else -1)\n"
	"                    note('ok')\n"
	"                except Exception as e:\n"
	"                    note('err', msg=repr(e))\n"
	"        longs = []\n"
	"        c = ctx()\n"
	"        for i in range(nlong):\n"
	"            longs.append(conn(c, port))\n"
	"        th = [threading.Thread(target=worker) for i in range(nthr)]\n"
	"        for t in th: t.start()\n"
	"        print('started', flush=True)\n"
	"        nl = 0\n"
	"        while not os.path.exists(stop):\n"
	"            for s in longs:\n"
	"                try:\n"
	"                    echo(s, b'long-lived\\n'); nl += 1\n"
	"                except Exception as e:\n"
	"                    note('err', msg='long: ' + repr(e))\n"
	"            time.sleep(0.05)\n"
	"        for t in th: t.join()\n"
	"        for s in longs:\n"
	"            try:\n"
	"                echo(s, b'last\\n'); s.unwrap(); s.close(); nl += 1\n"
	"            except Exception as e:\n"
	"                note('err', msg='long: ' + repr(e))\n"
	"        print('load ok %d err %d long %d seen %s %s' % (res['ok'], res['err'], nl,\n"
	"              ','.join(str(x) for x in sorted(res['seen'])), ' | '.join(res['msgs'])), flush=True)\n"
	"except Exception as e:\n"
	"    print('error', repr(e))\n"
;

static struct {
	struct daemon	d;
	int		p_main, p_sni, p_client, p_13, p_info, p_plain, p_proxy;
	int		p_chargen;
	char		dir[64];
} t;

static int	sh(const char *, ...) __attribute__((format(printf, 1, 2)));
static int	py(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* A shell command in the certificates' directory: 0 if it exited 0. */
static int
sh(const char *fmt, ...)
{
	char	*cmd, *full;
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = asprintf(&full, "cd %s && (%s) >/dev/null 2>&1", t.dir, cmd);
	free(cmd);
	if (rc < 0)
		return -1;
	rc = system(full);
	free(full);
	return rc == 0 ? 0 : -1;
}

/* A certificate for name, signed by the test CA, valid for days. */
static int
make_cert(const char *name, int days)
{
	return sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout %s.key -out %s.csr -subj /CN=%s && "
	    "printf 'subjectAltName=DNS:%s\\n' >%s.ext && "
	    "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -days %d -extfile %s.ext -out %s.pem",
	    name, name, name, name, name, name, days, name, name);
}

/* The helper's one line of output, run with args (bounded by timeout). */
static int
py(char *out, size_t size, const char *fmt, ...)
{
	char	*args, *cmd;
	FILE	*f;
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = vasprintf(&args, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = asprintf(&cmd, "cd %s && timeout 120 python3 helper.py %s 2>&1",
	    t.dir, args);
	free(args);
	if (rc < 0 || (f = popen(cmd, "r")) == NULL) {
		free(cmd);
		return -1;
	}
	free(cmd);
	out[0] = '\0';
	if (fgets(out, (int)size, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	rc = pclose(f);
	return rc == 0 ? 0 : -1;
}

/*
 * Read what fd gets until the server closes it (EOF or reset): 0 if it
 * did within the bound and never sent back what was sent (an alert at
 * most, not an echo).
 */
static int
recv_closed(int fd, const char *sent, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	long		 deadline = h_now_ms() + timeout_ms;
	char		 buf[4096];
	ssize_t		 n;
	size_t		 got = 0;

	while (h_now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - h_now_ms())) < 1)
			continue;
		if ((n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) == 0 ||
		    (n == -1 && errno == ECONNRESET)) {
			buf[got] = '\0';
			return sent[0] != '\0' && got >= 4 &&
			    memmem(buf, got, sent + 4, 4) != NULL ? -1 : 0;
		}
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return -1;
		if (n > 0 && (got += (size_t)n) >= sizeof(buf) - 1)
			return -1;
	}
	return -1;
}

static long long
status_drops(void)
{
	char		*json = NULL;
	long long	 v = -1;

	if (h_ctl(t.d.sock, &json, "status", "--json", (char *)NULL) == 0)
		v = h_json_num(json, "\"totals\"", "drops");
	free(json);
	return v;
}

static int
setup(void **state)
{
	char	path[256];

	if (h_daemon_init(&t.d, NULL) == -1)
		return -1;
	snprintf(t.dir, sizeof(t.dir), "%s", t.d.dir);
	snprintf(path, sizeof(path), "%s/helper.py", t.dir);
	if (h_write_file(path, helper) == -1)
		return -1;
	if (sh("openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
	    "-days 30 -subj /CN=test-ca") == -1 ||
	    make_cert("a.test", 30) == -1 || make_cert("b.test", 30) == -1 ||
	    make_cert("new.test", 30) == -1 ||
	    make_cert("client", 30) == -1)
		return -1;
	t.p_main = h_free_port(AF_INET);
	t.p_sni = h_free_port(AF_INET);
	t.p_client = h_free_port(AF_INET);
	t.p_13 = h_free_port(AF_INET);
	t.p_info = h_free_port(AF_INET);
	t.p_plain = h_free_port(AF_INET);
	t.p_proxy = h_free_port(AF_INET);
	t.p_chargen = h_free_port(AF_INET);
	return h_daemon_startf(&t.d,
	    "workers = 2;\n"
	    "admin_socket = \"%s\";\n"
	    "modules = ( { name = \"tlsinfo\"; path = \"" TLSINFO_MODULE
	    "\"; } );\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"chargen\";\n"
	    "  tls = { certificate = \"%s/a.test.pem\";\n"
	    "          key = \"%s/a.test.key\"; }; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\"; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"proxy\";\n"
	    "  backends = ( { address = \"127.0.0.1\"; port = %d; } );\n"
	    "  tls = { certificate = \"%s/a.test.pem\";\n"
	    "          key = \"%s/a.test.key\"; }; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"tlsinfo\";\n"
	    "  tls = { certificates = (\n"
	    "    { certificate = \"%s/a.test.pem\"; key = \"%s/a.test.key\"; },\n"
	    "    { certificate = \"%s/b.test.pem\"; key = \"%s/b.test.key\"; }"
	    " );\n"
	    "          alpn = [ \"other\", \"echo\" ];\n"
	    "          client_ca = \"%s/ca.pem\"; }; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "  tls = { certificate = \"%s/a.test.pem\"; key = \"%s/a.test.key\";\n"
	    "          alpn = [ \"echo\", \"other\" ];\n"
	    "          handshake_timeout = 0.5; }; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "  tls = { certificates = (\n"
	    "    { certificate = \"%s/a.test.pem\"; key = \"%s/a.test.key\"; },\n"
	    "    { certificate = \"%s/b.test.pem\"; key = \"%s/b.test.key\"; }"
	    " ); }; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "  tls = { certificate = \"%s/a.test.pem\"; key = \"%s/a.test.key\";\n"
	    "          client_ca = \"%s/ca.pem\"; }; },\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "  tls = { certificate = \"%s/a.test.pem\"; key = \"%s/a.test.key\";\n"
	    "          protocols = \"TLSv1.3\"; }; }\n"
	    ");\n", t.d.sock, t.p_chargen, t.dir, t.dir, t.p_plain, t.p_proxy, t.p_plain, t.dir, t.dir,
	    t.p_info, t.dir, t.dir, t.dir, t.dir, t.dir,
	    t.p_main, t.dir, t.dir, t.p_sni, t.dir, t.dir,
	    t.dir, t.dir, t.p_client, t.dir, t.dir, t.dir, t.p_13, t.dir,
	    t.dir);
}

static int
teardown(void **state)
{
	int	rc = h_daemon_stop(&t.d);

	return rc == 0 && h_log_clean(&t.d) == 0 ? 0 : -1;
}

/*
 * openssl s_client with flag (a version): a line sent, the same line
 * back; then its input ends, it sends close_notify and must exit 0.
 * 0 if all that happened within the bound.
 */
static int
s_client(int port, const char *flag)
{
	static const char	 msg[] = "hello over tls\n";
	char			 addr[32], buf[64];
	size_t			 got = 0;
	long			 deadline = h_now_ms() + 30000;
	int			 in[2], out[2], st;
	ssize_t			 n;
	pid_t			 pid;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if (pipe(in) == -1 || pipe(out) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		int	null = open("/dev/null", O_WRONLY);

		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(null, 2);
		close(in[1]);
		close(out[0]);
		execlp("openssl", "openssl", "s_client", "-connect", addr, flag,
		    "-quiet", "-no_ign_eof", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid == -1 || write(in[1], msg, sizeof(msg) - 1) !=
	    (ssize_t)sizeof(msg) - 1)
		goto fail;
	while (got < sizeof(msg) - 1 && h_now_ms() < deadline) {
		if (poll(&(struct pollfd){ out[0], POLLIN, 0 }, 1,
		    (int)(deadline - h_now_ms())) < 1)
			continue;
		if ((n = read(out[0], buf + got, sizeof(buf) - got)) <= 0)
			break;
		got += (size_t)n;
	}
	close(in[1]);
	in[1] = -1;
	if (got != sizeof(msg) - 1 || memcmp(buf, msg, got) != 0)
		goto fail;
	close(out[0]);
	if (h_wait_exit(pid, 30000) != 0)
		return -1;
	return 0;
fail:
	if (in[1] != -1)
		close(in[1]);
	close(out[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	return -1;
}

static void
test_s_client(void **state)
{
	assert_int_equal(s_client(t.p_main, "-tls1_2"), 0);
	assert_int_equal(s_client(t.p_main, "-tls1_3"), 0);
	assert_int_equal(s_client(t.p_13, "-tls1_3"), 0);
	/* protocols = "TLSv1.3": a TLS 1.2 client is refused. */
	assert_int_equal(s_client(t.p_13, "-tls1_2"), -1);
}

/* Python's ssl: 1 MiB each way intact over each version, ended by
 * unwrap() (the client's close_notify, then the server's). */
static void
test_python_echo(void **state)
{
	char	out[256];

	assert_int_equal(py(out, sizeof(out), "echo %d 1.2 1048576",
	    t.p_main), 0);
	assert_string_equal(out, "ok TLSv1.2 1048576");
	assert_int_equal(py(out, sizeof(out), "echo %d 1.3 1048576",
	    t.p_main), 0);
	assert_string_equal(out, "ok TLSv1.3 1048576");
	assert_int_equal(py(out, sizeof(out), "echo %d 1.3 1", t.p_13), 0);
	assert_string_equal(out, "ok TLSv1.3 1");
}

static void
test_sni(void **state)
{
	char	out[256];

	assert_int_equal(py(out, sizeof(out), "cert %d b.test a.test.pem "
	    "b.test.pem", t.p_sni), 0);
	assert_string_equal(out, "cert 1");
	assert_int_equal(py(out, sizeof(out), "cert %d a.test a.test.pem "
	    "b.test.pem", t.p_sni), 0);
	assert_string_equal(out, "cert 0");
	/* No name, or one no certificate has: the first. */
	assert_int_equal(py(out, sizeof(out), "cert %d - a.test.pem "
	    "b.test.pem", t.p_sni), 0);
	assert_string_equal(out, "cert 0");
	assert_int_equal(py(out, sizeof(out), "cert %d c.test a.test.pem "
	    "b.test.pem", t.p_sni), 0);
	assert_string_equal(out, "cert 0");
}

static void
test_alpn(void **state)
{
	char	out[256];

	assert_int_equal(py(out, sizeof(out), "alpn %d foo,other,echo",
	    t.p_main), 0);
	assert_string_equal(out, "alpn echo");
	assert_int_equal(py(out, sizeof(out), "alpn %d other", t.p_main), 0);
	assert_string_equal(out, "alpn other");
	/* Nothing shared: served without ALPN. */
	assert_int_equal(py(out, sizeof(out), "alpn %d foo", t.p_main), 0);
	assert_string_equal(out, "alpn None");
}

static void
test_client_cert(void **state)
{
	char		out[256];
	long long	before = status_drops();

	assert_true(before >= 0);
	assert_int_equal(py(out, sizeof(out), "client %d client.pem "
	    "client.key", t.p_client), 0);
	assert_string_equal(out, "ok");
	/* Without one, or with one the CA did not sign: refused. */
	assert_int_equal(py(out, sizeof(out), "client %d -", t.p_client), 0);
	assert_string_not_equal(out, "ok");
	assert_non_null(strstr(out, "error"));
	assert_int_equal(sh("openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout self.key -out self.pem "
	    "-days 30 -subj /CN=self"), 0);
	assert_int_equal(py(out, sizeof(out), "client %d self.pem self.key",
	    t.p_client), 0);
	assert_non_null(strstr(out, "error"));
	/* Both counted (the counters come with the status). */
	assert_true(status_drops() >= before + 2);
}

/* Bytes that are not a ClientHello, and a client that says nothing:
 * closed without an answer, counted as drops, logged at most once a
 * second per worker. */
static void
test_refused(void **state)
{
	static const char *const junk[] = {
		"GET / HTTP/1.0\r\n\r\n",
		"\x16\x03\x01\x00\x05garbage-garbage-garbage",
	};
	long long	before = status_drops();
	int		lines = h_log_count(&t.d, "refused");
	long		t0, t1;
	int		i, fd;

	assert_true(before >= 0);
	t0 = h_now_ms();
	for (i = 0; i < 6; i++) {
		assert_true((fd = h_connect("127.0.0.1", t.p_main,
		    H_TIMEOUT_MS)) != -1);
		assert_int_equal(h_send_all(fd, junk[i % 2],
		    strlen(junk[i % 2]), H_TIMEOUT_MS), 0);
		/* An alert at most, never the bytes back; then the end. */
		assert_int_equal(recv_closed(fd, junk[i % 2], H_TIMEOUT_MS), 0);
		close(fd);
	}
	/* handshake_timeout = 0.5: a silent client is closed after it. */
	assert_true((fd = h_connect("127.0.0.1", t.p_main, H_TIMEOUT_MS)) !=
	    -1);
	t1 = h_now_ms();
	assert_int_equal(recv_closed(fd, "", H_TIMEOUT_MS + 500), 0);
	assert_true(h_now_ms() - t1 >= 400);
	close(fd);
	assert_true(status_drops() >= before + 7);
	/* Not one line per client: one a second per worker at most. */
	assert_true(h_log_count(&t.d, "refused") - lines <=
	    2 * ((h_now_ms() - t0) / 1000 + 2));
}

/* One ticket, then every connection resumes, whichever worker takes it
 * (the ticket keys are the generation's). */
/* Connections worker slot has served so far (status), or -1. */
static long long
slot_conns(int slot)
{
	char		*json = NULL, after[32];
	long long	 v = -1;

	snprintf(after, sizeof(after), "{\"slot\":%d,", slot);
	if (h_ctl(t.d.sock, &json, "status", "--json", (char *)NULL) == 0)
		v = h_json_num(json, after, "connections_total");
	free(json);
	return v;
}

static void
test_resume(void **state)
{
	char		out[256];
	long long	c0 = slot_conns(0), c1 = slot_conns(1);
	int		k, n;

	assert_true(c0 >= 0 && c1 >= 0);

	assert_int_equal(py(out, sizeof(out), "resume %d 1.3 40", t.p_main),
	    0);
	assert_int_equal(sscanf(out, "resumed %d %d", &k, &n), 2);
	assert_int_equal(n, 40);
	assert_true(k * 100 >= n * 95);
	assert_int_equal(py(out, sizeof(out), "resume %d 1.2 40", t.p_main),
	    0);
	assert_int_equal(sscanf(out, "resumed %d %d", &k, &n), 2);
	assert_true(k * 100 >= n * 95);
	/* Both workers took some of them: resumed across workers. */
	assert_true(slot_conns(0) > c0 + 1);
	assert_true(slot_conns(1) > c1 + 1);
}

/* status --json says per TLS listener whether kTLS is in use. */
static void
test_status_ktls(void **state)
{
	char	*json = NULL;

	assert_int_equal(h_ctl(t.d.sock, &json, "status", "--json",
	    (char *)NULL), 0);
	assert_non_null(strstr(json, "\"tls\":true,\"ktls\":"));
	free(json);
}

/* A configuration of the reload daemon: its one TLS listener on cert
 * (and key); old generations keep their clients for long. */
static int
write_reload_conf(struct daemon *d, int port, const char *cert,
    const char *key)
{
	char	*text;
	int	 rc;

	if (asprintf(&text, "workers = 2;\nshutdown_timeout = 120;\n"
	    "max_old_generations = 16;\nadmin_socket = \"%s\";\n"
	    "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = %d; service = \"echo\";\n"
	    "  tls = { certificate = \"%s/%s\";\n"
	    "          key = \"%s/%s\"; }; }\n"
	    ");\n", d->sock, port, t.dir, cert, t.dir, key) < 0)
		return -1;
	rc = h_write_file(d->conf, text);
	free(text);
	return rc;
}

/*
 * Certificates swapped by reloads while clients keep connecting (full
 * handshakes, 2 KiB echoed, close_notify) and long-lived connections keep
 * echoing across all the generations: no client sees an error, new
 * connections get the new certificate, and a certificate that does not
 * load fails its reload with file:line while the last good one serves on.
 */
static void
test_reload_swap(void **state)
{
	static const char *const certs[] = { "a.test", "new.test" };
	struct daemon	 d;
	char		 cert[64], key[64], out[512], stop[128], *msg = NULL;
	FILE		*load;
	int		 port = h_free_port(AF_INET), i, ok, err, nlong;
	int		 reloads = 6;
	char		*cmd;

	memset(&d, 0, sizeof(d));
	assert_int_equal(h_daemon_init(&d, NULL), 0);
	assert_int_equal(write_reload_conf(&d, port, "a.test.pem",
	    "a.test.key"), 0);
	assert_int_equal(h_daemon_start(&d, 2, "127.0.0.1", port), 0);
	snprintf(stop, sizeof(stop), "%s/stop", d.dir);
	assert_true(asprintf(&cmd, "cd %s && timeout 300 python3 helper.py "
	    "load %d 4 4 %s a.test.pem new.test.pem 2>&1", t.dir, port,
	    stop) > 0);
	assert_non_null(load = popen(cmd, "r"));
	free(cmd);
	assert_non_null(fgets(out, sizeof(out), load));
	assert_string_equal(out, "started\n");

	/* PREFORKD_TLS_RELOADS: more of them, by hand (bench/README). */
	if (getenv("PREFORKD_TLS_RELOADS") != NULL)
		reloads = atoi(getenv("PREFORKD_TLS_RELOADS"));
	for (i = 1; i <= reloads; i++) {
		snprintf(cert, sizeof(cert), "%s.pem", certs[i % 2]);
		snprintf(key, sizeof(key), "%s.key", certs[i % 2]);
		assert_int_equal(write_reload_conf(&d, port, cert, key), 0);
		assert_int_equal(h_ctl(d.sock, NULL, "reload", (char *)NULL), 0);
		/* The reload is done: a new client gets the new one. */
		assert_int_equal(py(out, sizeof(out), "cert %d - a.test.pem "
		    "new.test.pem", port), 0);
		snprintf(cert, sizeof(cert), "cert %d", i % 2);
		assert_string_equal(out, cert);
	}

	/* A key that is not the certificate's: the reload fails, says
	 * where, and the last good certificate serves on. */
	assert_int_equal(write_reload_conf(&d, port, "a.test.pem",
	    "b.test.key"), 0);
	assert_int_equal(h_ctl(d.sock, &msg, "reload", (char *)NULL), 1);
	snprintf(out, sizeof(out), "%s:7: key %s/b.test.key", d.conf, t.dir);
	assert_non_null(msg);
	if (strstr(msg, out) == NULL)
		print_error("got %s\n", msg);
	assert_non_null(strstr(msg, out));
	free(msg);
	assert_int_equal(py(out, sizeof(out), "cert %d - a.test.pem "
	    "new.test.pem", port), 0);
	assert_string_equal(out, "cert 0");

	assert_int_equal(h_write_file(stop, ""), 0);
	assert_non_null(fgets(out, sizeof(out), load));
	assert_int_equal(pclose(load), 0);
	if (sscanf(out, "load ok %d err %d long %d", &ok, &err, &nlong) != 3 ||
	    err != 0)
		print_error("load: %s\n", out);
	assert_int_equal(sscanf(out, "load ok %d err %d long %d", &ok, &err,
	    &nlong), 3);
	assert_int_equal(err, 0);
	assert_true(ok >= reloads);
	/* Every long-lived connection echoed after the last reload. */
	assert_true(nlong >= 4 * 2);
	/* Both certificates were seen by the load's clients. */
	assert_non_null(strstr(out, "seen 0,1"));
	assert_int_equal(h_daemon_stop(&d), 0);
	assert_int_equal(h_log_clean(&d), 0);
}

/* preforkd -t on a file whose certificate is expired, expires soon, or
 * does not match its key. */
static int
check_t(const char *cert, const char *key, char *out, size_t size)
{
	char	conf[128], *text, *cmd;
	FILE	*f;
	size_t	n;
	int	rc;

	snprintf(conf, sizeof(conf), "%s/check.conf", t.dir);
	if (asprintf(&text, "listeners = (\n"
	    "{ address = \"127.0.0.1\"; port = 1; service = \"echo\";\n"
	    "  tls = { certificate = \"%s/%s\";\n"
	    "          key = \"%s/%s\"; }; }\n"
	    ");\n", t.dir, cert, t.dir, key) < 0)
		return -2;
	rc = h_write_file(conf, text);
	free(text);
	if (rc == -1 || asprintf(&cmd, "%s -t -c %s 2>&1", PREFORKD_BIN,
	    conf) < 0)
		return -2;
	f = popen(cmd, "r");
	free(cmd);
	if (f == NULL)
		return -2;
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	rc = pclose(f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -2;
}

static void
test_check(void **state)
{
	char	out[1024], want[256];

	assert_int_equal(check_t("a.test.pem", "a.test.key", out,
	    sizeof(out)), 0);
	assert_non_null(strstr(out, "is valid"));
	assert_null(strstr(out, "expires"));
	/* Expiring within 14 days: valid, with a warning. */
	assert_int_equal(make_cert("soon.test", 5), 0);
	assert_int_equal(check_t("soon.test.pem", "soon.test.key", out,
	    sizeof(out)), 0);
	assert_non_null(strstr(out, "expires within 14 days"));
	/* Expired: made by a CA for a period long gone. */
	assert_int_equal(sh("mkdir -p old && : >old/index.txt && "
	    "echo 01 >old/serial && printf '[ca]\\ndefault_ca=d\\n[d]\\n"
	    "dir=old\\ndatabase=old/index.txt\\nnew_certs_dir=old\\n"
	    "serial=old/serial\\ndefault_md=sha256\\npolicy=p\\n"
	    "[p]\\ncommonName=supplied\\n' >old/ca.cnf && "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout old.key -out old.csr -subj /CN=old && "
	    "openssl ca -batch -config old/ca.cnf -cert ca.pem -keyfile ca.key "
	    "-in old.csr -out old.pem -notext -startdate 20200101000000Z "
	    "-enddate 20200201000000Z"), 0);
	assert_int_equal(check_t("old.pem", "old.key", out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "%s/check.conf:3: certificate %s/old.pem "
	    "has expired", t.dir, t.dir);
	assert_non_null(strstr(out, want));
	/* Another certificate's key. */
	assert_int_equal(check_t("a.test.pem", "b.test.key", out,
	    sizeof(out)), 1);
	snprintf(want, sizeof(want), "%s/check.conf:3: key %s/b.test.key",
	    t.dir, t.dir);
	assert_non_null(strstr(out, want));
	/* Unreadable. */
	assert_int_equal(check_t("none.pem", "a.test.key", out, sizeof(out)),
	    1);
	assert_non_null(strstr(out, "none.pem: No such file or directory"));
}

/* What the accessors of preforkd.h say, through a module that writes
 * them: version, cipher, SNI, ALPN, resumption, client subject. */
static void
test_accessors(void **state)
{
	char	out[1024], v[2][32], ciph[2][64], sni[2][64], alpn[2][32];
	char	subj[2][64];
	int	res[2];

	assert_int_equal(py(out, sizeof(out), "info %d b.test echo client.pem "
	    "client.key", t.p_info), 0);
	if (sscanf(out, "%31s %63s %63s %31s %d %63s | %31s %63s %63s %31s "
	    "%d %63s", v[0], ciph[0], sni[0], alpn[0], &res[0], subj[0], v[1],
	    ciph[1], sni[1], alpn[1], &res[1], subj[1]) != 12)
		print_error("got %s\n", out);
	assert_int_equal(sscanf(out, "%31s %63s %63s %31s %d %63s | %31s "
	    "%63s %63s %31s %d %63s", v[0], ciph[0], sni[0], alpn[0], &res[0],
	    subj[0], v[1], ciph[1], sni[1], alpn[1], &res[1], subj[1]), 12);
	assert_string_equal(v[0], "TLSv1.3");
	assert_string_not_equal(ciph[0], "-");
	assert_string_equal(sni[0], "b.test");
	assert_string_equal(alpn[0], "echo");
	assert_int_equal(res[0], 0);
	assert_string_equal(subj[0], "/CN=client");
	/* The second connection resumed the first's session. */
	assert_string_equal(v[1], "TLSv1.3");
	assert_string_equal(sni[1], "b.test");
	assert_string_equal(alpn[1], "echo");
	assert_int_equal(res[1], 1);
	assert_string_equal(subj[1], "/CN=client");
}

/* The proxy service terminates TLS in front of a plaintext backend (here
 * the same daemon's echo) with no change to it: 1 MiB each way. */
static void
test_proxy(void **state)
{
	char	out[256];

	assert_int_equal(py(out, sizeof(out), "echo %d 1.3 1048576",
	    t.p_proxy), 0);
	assert_string_equal(out, "ok TLSv1.3 1048576");
	assert_int_equal(py(out, sizeof(out), "echo %d 1.2 100000",
	    t.p_proxy), 0);
	assert_string_equal(out, "ok TLSv1.2 100000");
}

/* chargen writes until write() says 0 and waits for "drain": over TLS
 * to a slow reader, 4 MiB of lines, every one of them whole and in
 * order. */
static void
test_backpressure(void **state)
{
	char	out[256];
	int	lines, bad;

	assert_int_equal(py(out, sizeof(out), "chargen %d 4194304",
	    t.p_chargen), 0);
	assert_int_equal(sscanf(out, "chargen %d bad %d", &lines, &bad), 2);
	assert_int_equal(lines, 4194304 / 74);
	assert_int_equal(bad, 0);
}

static long long
status_errors(void)
{
	char		*json = NULL;
	long long	 v = -1;

	if (h_ctl(t.d.sock, &json, "status", "--json", (char *)NULL) == 0)
		v = h_json_num(json, "\"totals\"", "errors");
	free(json);
	return v;
}

/*
 * A client that closes without close_notify while the stream is open has
 * truncated it: an error.  After the server's own close_notify (tlsinfo
 * ends first) a bare close is the normal end, not an error.
 */
static void
test_truncation(void **state)
{
	char		out[1024];
	long long	before = status_errors(), now = -1;
	long		deadline;

	assert_true(before >= 0);
	assert_int_equal(py(out, sizeof(out), "info %d a.test echo client.pem "
	    "client.key", t.p_info), 0);
	assert_int_equal(py(out, sizeof(out), "truncate %d", t.p_main), 0);
	assert_string_equal(out, "ok");
	/* The worker counts it when it reads the end: wait for that. */
	deadline = h_now_ms() + H_TIMEOUT_MS;
	while (h_now_ms() < deadline && (now = status_errors()) < before + 1)
		usleep(20000);
	assert_int_equal(now, before + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s_client),
		cmocka_unit_test(test_python_echo),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_status_ktls),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_reload_swap),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
