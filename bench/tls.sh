#!/usr/bin/env bash
# tls.sh -- TLS terminators compared (compare.sh -T runs this): preforkd's
# echo on a tls listener against HAProxy (ssl crt), stunnel and hitch, each
# terminating TLS in front of bench/epoll-echo, 2 workers (threads for
# HAProxy; stunnel makes a thread per connection), in alternating rounds.
#
# Scenarios (bench/tls-bench, TLS 1.3, 8 client threads):
#   full-ecdsa  full handshakes, ECDSA P-256 certificate (+64 B echoed)
#   full-rsa    the same with RSA 2048
#   resume      every connection resumes the previous one's ticket
#   echo16k     one connection per client, 16 KiB written and read back
#
# CPU per operation: utime+stime of the server's processes, before and
# after the run, over every operation of the run.  The peers' figure
# counts both sides of them, the terminator and the epoll-echo behind it
# (preforkd terminates and serves in one process); the terminator alone
# is shown too.  Ratios are to HAProxy (both sides) in the same round;
# the summary gives medians over rounds.
#
# Usage: bench/tls.sh [-r rounds] [-d secs] [-w secs] [-S servers]
#                     [-s scenarios] [-k]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/bench
ROUNDS=3 DURATION=3 WARMUP=1 WORKERS=2 CLIENTS=8 KEEP=
SCENARIOS="full-ecdsa full-rsa resume echo16k"
SERVERS="preforkd haproxy stunnel hitch"

while getopts "d:kr:S:s:w:h" opt; do
	case $opt in
	d) DURATION=$OPTARG ;;
	k) KEEP=1 ;;
	r) ROUNDS=$OPTARG ;;
	S) SERVERS=$OPTARG ;;
	s) SCENARIOS=$OPTARG ;;
	w) WARMUP=$OPTARG ;;
	*) sed -n '2,22p' "$0"; exit 2 ;;
	esac
done

PREFORKD=${PREFORKD:-$top/server/preforkd}
EPOLL_ECHO=${EPOLL_ECHO:-$here/epoll-echo}
HAPROXY=${HAPROXY:-haproxy} STUNNEL=${STUNNEL:-stunnel4} HITCH=${HITCH:-hitch}
work=$(mktemp -d "${TMPDIR:-/tmp}/preforkd-tls.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		pkill -TERM -P "$p" 2>/dev/null || true
		kill -TERM "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "$KEEP" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
die() { echo "tls.sh: $*" >&2; exit 2; }

TLS_BENCH=${TLS_BENCH:-}
if [ -z "$TLS_BENCH" ]; then
	TLS_BENCH=$work/tls-bench
	${CC:-cc} -O2 -Wall -Wextra -pthread -o "$TLS_BENCH" \
	    "$here/tls-bench.c" $(pkg-config --cflags --libs libssl libcrypto) ||
	    die "cannot build tls-bench"
fi
[ -x "$EPOLL_ECHO" ] || die "no $EPOLL_ECHO: make builds it"
[ -x "$PREFORKD" ] || die "no $PREFORKD: make builds it"

# Certificates, made here: ECDSA P-256 and RSA 2048, self-signed.
(cd "$work" &&
 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
     -keyout ecdsa.key -out ecdsa.pem -days 30 -subj /CN=localhost &&
 openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem \
     -days 30 -subj /CN=localhost &&
 cat ecdsa.pem ecdsa.key >ecdsa.both && cat rsa.pem rsa.key >rsa.both
) >/dev/null 2>&1 || die "openssl cannot make the certificates"

avail=
for s in $SERVERS; do
	case $s in
	preforkd) ;;
	haproxy) command -v "$HAPROXY" >/dev/null || { echo "haproxy: not installed, skipped"; continue; } ;;
	stunnel) command -v "$STUNNEL" >/dev/null || { echo "stunnel: not installed, skipped (apt-get install stunnel4)"; continue; } ;;
	hitch) command -v "$HITCH" >/dev/null || { echo "hitch: not installed, skipped (apt-get install hitch)"; continue; } ;;
	*) die "unknown server $s" ;;
	esac
	avail+=" $s"
done

TCK=$(getconf CLK_TCK)
port_n=$((21000 + RANDOM % 8000))

# Ticks of a process and its descendants (children listed by the kernel).
ticks() {
	local p sum=0 line rest kids
	for p in "$@"; do
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		rest=${line##*) }
		set -- $rest
		sum=$((sum + ${12} + ${13}))
		kids=$(cat /proc/"$p"/task/*/children 2>/dev/null) || true
		[ -z "$kids" ] || sum=$((sum + $(ticks $kids)))
	done
	echo $sum
}

ready() {	# port: a TLS handshake completes
	local i
	for i in $(seq 100); do
		if timeout 2 openssl s_client -connect "127.0.0.1:$1" </dev/null \
		    -quiet -no_ign_eof >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

start() {	# name cert port bport -> SPID BEPID
	local name=$1 cert=$2 port=$3 bport=$4
	BEPID=
	if [ "$name" != preforkd ]; then
		"$EPOLL_ECHO" -p "$bport" -w "$WORKERS" -b 511 \
		    >>"$work/backend.log" 2>&1 &
		BEPID=$!
		PIDS+=("$BEPID")
	fi
	case $name in
	preforkd)
		cat >"$work/p.conf" <<EOT
workers = $WORKERS;
log = { level = "warn"; };
listeners = ({ address = "127.0.0.1"; port = $port; service = "echo";
	backlog = 511;
	tls = { certificate = "$work/$cert.pem"; key = "$work/$cert.key"; }; });
EOT
		"$PREFORKD" -c "$work/p.conf" >>"$work/$name.log" 2>&1 & ;;
	haproxy)
		cat >"$work/h.cfg" <<EOT
global
	nbthread $WORKERS
	maxconn 4000
defaults
	mode tcp
	timeout connect 5s
	timeout client 1h
	timeout server 1h
listen tls
	bind 127.0.0.1:$port ssl crt $work/$cert.both
	server echo 127.0.0.1:$bport
EOT
		"$HAPROXY" -db -f "$work/h.cfg" >>"$work/$name.log" 2>&1 & ;;
	stunnel)
		cat >"$work/s.conf" <<EOT
foreground = yes
pid =
debug = 3
[tls]
accept = 127.0.0.1:$port
connect = 127.0.0.1:$bport
cert = $work/$cert.pem
key = $work/$cert.key
EOT
		"$STUNNEL" "$work/s.conf" >>"$work/$name.log" 2>&1 & ;;
	hitch)
		"$HITCH" --frontend="[127.0.0.1]:$port" \
		    --backend="[127.0.0.1]:$bport" --workers="$WORKERS" \
		    --daemon=off --tls-protos="TLSv1.2 TLSv1.3" \
		    $( [ "$(id -u)" -ne 0 ] || echo --user=nobody ) \
		    "$work/$cert.both" >>"$work/$name.log" 2>&1 & ;;
	esac
	SPID=$!
	PIDS+=("$SPID")
	ready "$port" || { tail -5 "$work/$name.log" >&2; die "$name does not serve"; }
}

stop() {
	local p
	for p in $SPID $BEPID; do
		pkill -TERM -P "$p" 2>/dev/null || true
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

: >"$work/results"
for round in $(seq "$ROUNDS"); do
	for scen in $SCENARIOS; do
		case $scen in
		full-ecdsa) cert=ecdsa args="-m full" ;;
		full-rsa) cert=rsa args="-m full" ;;
		resume) cert=ecdsa args="-m resume" ;;
		echo16k) cert=ecdsa args="-m echo -s 16384" ;;
		*) die "unknown scenario $scen" ;;
		esac
		for name in $avail; do
			port_n=$((port_n + 2))
			port=$port_n bport=$((port_n + 1))
			start "$name" "$cert" "$port" "$bport"
			s0=$(ticks "$SPID"); b0=0
			[ -z "$BEPID" ] || b0=$(ticks "$BEPID")
			out=$("$TLS_BENCH" -p "$port" -c "$CLIENTS" \
			    -d "$DURATION" -w "$WARMUP" $args) || true
			s1=$(ticks "$SPID"); b1=0
			[ -z "$BEPID" ] || b1=$(ticks "$BEPID")
			stop
			res=${out##*RESULT }
			total=$(sed -n 's/.*total=\([0-9]*\).*/\1/p' <<<"$res")
			echo "$round $scen $name $((s1 - s0)) $((b1 - b0)) $res" \
			    >>"$work/results"
			awk -v r="$round" -v sc="$scen" -v n="$name" \
			    -v s=$((s1 - s0)) -v b=$((b1 - b0)) -v t="${total:-0}" \
			    -v tck="$TCK" -v res="$res" 'BEGIN {
				printf "round %d %-10s %-8s cpu/op %7.1f us " \
				    "(terminator %7.1f) %s\n", r, sc, n,
				    t ? (s + b) * 1e6 / tck / t : 0,
				    t ? s * 1e6 / tck / t : 0, res }'
		done
	done
done

echo
echo "medians over $ROUNDS rounds; cpu/op in microseconds, both sides;"
echo "x haproxy: the ratio to HAProxy's cpu/op in the same round"
awk -v tck="$TCK" '
function med(k, n,  i, j, t, a) {
	n = cnt[k]; for (i = 1; i <= n; i++) a[i] = v[k, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function put(k, x) { v[k, ++cnt[k]] = x }
{
	round = $1; sc = $2; n = $3; s = $4; b = $5
	for (i = 6; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	cpu = f["total"] ? (s + b) * 1e6 / tck / f["total"] : 0
	put(sc SUBSEP n SUBSEP "cpu", cpu)
	put(sc SUBSEP n SUBSEP "term", f["total"] ? s * 1e6 / tck / f["total"] : 0)
	put(sc SUBSEP n SUBSEP "ops", f["ops_per_s"])
	put(sc SUBSEP n SUBSEP "err", f["errors"])
	put(sc SUBSEP n SUBSEP "res", f["ops"] ? 100 * f["resumed"] / f["ops"] : 0)
	c[round, sc, n] = cpu; seen[sc] = 1; srv[n] = 1
}
END {
	printf "%-10s %-8s %9s %9s %11s %8s %6s %9s\n", "scenario", "server",
	    "ops/s", "cpu/op", "terminator", "resumed", "errors", "x haproxy"
	for (sc in seen) for (n in srv) {
		if (!cnt[sc, n, "cpu"]) continue
		delete r; m = 0
		for (k = 1; k <= cnt[sc, n, "cpu"]; k++)
			if (c[k, sc, "haproxy"] > 0) r[++m] = c[k, sc, n] / c[k, sc, "haproxy"]
		for (i = 1; i <= m; i++) v[sc, n, "ratio", i] = r[i]; cnt[sc, n, "ratio"] = m
		printf "%-10s %-8s %9.0f %9.1f %11.1f %7.0f%% %6d %9s\n", sc, n,
		    med(sc SUBSEP n SUBSEP "ops"), med(sc SUBSEP n SUBSEP "cpu"),
		    med(sc SUBSEP n SUBSEP "term"), med(sc SUBSEP n SUBSEP "res"),
		    med(sc SUBSEP n SUBSEP "err"),
		    m ? sprintf("%.2fx", med(sc SUBSEP n SUBSEP "ratio")) : "-"
	}
}' "$work/results" | { read -r h; echo "$h"; sort; }
