#!/usr/bin/env bash
# compare.sh -- preforkd against a hand-written epoll echo server (and a
# Node cluster echo server when node is installed), same worker count,
# same load generator, in alternating rounds on loopback.
#
# For every round, scenario and server: a fresh server, one preforkd-bench
# run, and the server's own CPU time (utime+stime+cutime+cstime of all its
# processes, from /proc/PID/stat, before and after) divided by the
# operations the bench completed.  The idle scenario also measures the
# growth of the servers' summed Pss (/proc/PID/smaps_rollup) per connection
# and how the connections spread over the worker processes.  Ratios are to
# the reference (epoll-echo) measured in the same round; the summary gives
# the medians over rounds.  See bench/README.
#
# With -P, proxies instead: preforkd (its built-in proxy service where the
# binary has one, and the examples/forward module), HAProxy (mode tcp,
# 2 threads) and nginx stream (2 workers), each between the same load
# generator and a fresh epoll-echo (2 workers) as the backend.  Only the
# proxy's processes are measured; ratios are to HAProxy in the same round.
#
# With -T (first), TLS terminators instead: bench/tls.sh runs with the
# other options (-r, -d, -w, -S, -s, -k); see there.
#
# Usage: bench/compare.sh [-akP] [-d secs] [-n conns] [-o dir] [-r rounds]
#                         [-S servers] [-s scenarios] [-w secs]
#        bench/compare.sh -T [-k] [-d secs] [-r rounds] [-S servers]
#                         [-s scenarios] [-w secs]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/bench
if [ "${1:-}" = -T ]; then
	shift
	exec bash "$here/tls.sh" "$@"
fi

ROUNDS=3
DURATION=3
WARMUP=1
WORKERS=2
IDLE_CONNS=10000
SCENARIOS="echo64 echo64x1000 echo16k connect idle"
ECHO_SERVERS="preforkd epoll-echo node"
PROXY_SERVERS="preforkd-proxy preforkd-fwd haproxy nginx"
SERVERS=
OUTDIR=
KEEP=
PROXY=
NSET=
ALOG=

usage() {
	cat <<EOF
usage: compare.sh [-akP] [-d secs] [-n conns] [-o dir] [-r rounds]
                  [-S servers] [-s scenarios] [-w secs]
  -a            also preforkd-alog: preforkd with an access log (text, to
                a file), and its cost: the ratios to preforkd
  -r rounds     alternating rounds (default $ROUNDS)
  -d secs       measured seconds per run, idle hold time (default $DURATION)
  -w secs       warm-up seconds per run (default $WARMUP)
  -n conns      connections of the idle scenario (default $IDLE_CONNS; with
                -P lowered if need be so that a one-process proxy, two
                descriptors per pair, fits under the hard ulimit -n)
  -s list       scenarios (default "$SCENARIOS";
                also: pipeline, 64 B x 50 connections x 16 in flight)
  -S list       servers (default "$ECHO_SERVERS", also preforkd-alog;
                with -P "$PROXY_SERVERS")
  -P            compare TCP proxies: client -> proxy -> epoll-echo (2
                workers, started afresh for every run as the backend).
                CPU and memory are counted for the proxy's processes
                only; ratios are to haproxy in the same round.
                  preforkd-proxy  listener with service = "proxy"
                                  (skipped if this preforkd has none)
                  preforkd-fwd    the examples/forward module (pf_connect
                                  and two pf_conn_pipe)
                  haproxy         mode tcp, nbthread 2, no logging
                  nginx           stream module, 2 workers, reuseport
  -o dir        keep the results, bench outputs and server logs in dir
  -k            keep the temporary directory
Environment: PREFORKD (default ./server/preforkd), PREFORKD_BENCH,
EPOLL_ECHO (default: bench/ binaries, else built here with \$CC), NODE;
for -P also FORWARD_SO (default ./examples/forward/forward.so), HAPROXY,
NGINX and NGINX_STREAM_MODULE (default
/usr/lib/nginx/modules/ngx_stream_module.so).  A server whose program is
not installed is skipped with a message (Debian: apt-get install -y nodejs
haproxy nginx libnginx-mod-stream).
EOF
}

while getopts "ad:hkn:o:Pr:S:s:w:" opt; do
	case $opt in
	a) ALOG=1 ;;
	d) DURATION=$OPTARG ;;
	k) KEEP=1 ;;
	n) IDLE_CONNS=$OPTARG; NSET=1 ;;
	o) OUTDIR=$OPTARG ;;
	P) PROXY=1 ;;
	r) ROUNDS=$OPTARG ;;
	S) SERVERS=$OPTARG ;;
	s) SCENARIOS=$OPTARG ;;
	w) WARMUP=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }
case $ROUNDS in ''|*[!0-9]*|0) echo "compare.sh: -r: a positive integer" >&2; exit 2 ;; esac
case $IDLE_CONNS in ''|*[!0-9]*|0) echo "compare.sh: -n: a positive integer" >&2; exit 2 ;; esac
if [ -n "$PROXY" ]; then
	SERVERS=${SERVERS:-$PROXY_SERVERS}
	REF=haproxy
else
	SERVERS=${SERVERS:-$ECHO_SERVERS}
	REF=epoll-echo
	case " $SERVERS " in
	*" preforkd-alog "*) ;;
	*) [ -z "$ALOG" ] || SERVERS="$SERVERS preforkd-alog" ;;
	esac
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/preforkd-compare.XXXXXX") || exit 2
PIDS=()			# everything started, for the cleanup

say() { printf '%s\n' "$*"; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 2; }

# The pid given and all its descendants, from the ppid field of
# /proc/PID/stat (the comm field may hold spaces and parentheses).
tree() {
	local root=$1 d p line rest queue out=
	local -A kids=()

	for d in /proc/[0-9]*; do
		{ read -r line <"$d/stat"; } 2>/dev/null || continue
		rest=${line##*) }
		set -- $rest
		kids[$2]+=" ${d#/proc/}"
	done
	queue=$root
	while [ -n "${queue// /}" ]; do
		set -- $queue
		p=$1
		shift
		queue="$* ${kids[$p]:-}"
		out+=" $p"
	done
	echo $out
}

alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# TERM the root, then KILL whatever of its tree is left after 5 s.
kill_tree() {
	local root=$1 pids p _

	pids=$(tree "$root")
	kill -TERM "$root" 2>/dev/null || true
	for _ in $(seq 50); do
		alive "$root" || break
		sleep 0.1
	done
	for p in $pids; do
		if alive "$p"; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	wait "$root" 2>/dev/null || true
	return 0
}

cleanup() {
	local p

	trap - EXIT INT TERM HUP
	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		if alive "$p"; then
			kill_tree "$p"
		fi
	done
	if [ -n "$KEEP" ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'say "compare.sh: interrupted, cleaning up" >&2; exit 130' INT TERM HUP

forget() {	# drop a pid from PIDS once it is gone
	local p keep=()

	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=(${keep[@]+"${keep[@]}"})
}

# Per process "pid ticks" of utime+stime+cutime+cstime (fields 14-17).
cpu_snap() {
	local p line rest

	for p in $(tree "$1"); do
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		rest=${line##*) }
		set -- $rest
		echo "$p $(( ${12} + ${13} + ${14} + ${15} ))"
	done
}

pss_kb() {	# summed Pss of the tree, kB
	local p sum=0 v

	for p in $(tree "$1"); do
		v=$(awk '/^Pss:/ { print $2; exit }' "/proc/$p/smaps_rollup" \
		    2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

sock_snap() {	# per process "pid sockets"
	local p n

	for p in $(tree "$1"); do
		n=$(find "/proc/$p/fd" -lname 'socket:*' 2>/dev/null |
		    wc -l) || true
		echo "$p ${n:-0}"
	done
}

port_free() {
	local hex

	hex=$(printf ':%04X' "$1")
	! awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h \
	    { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 \
	    2>/dev/null
}

pick_port() {	# a free port, not the one given (if any)
	local p _

	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		[ "$p" != "${1:-}" ] || continue
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Build what is missing.
build() {	# name -> path of the binary
	local src=$here/$1.c out=$work/$1

	${CC:-cc} -O2 -Wall -Wextra -pthread -o "$out" "$src" \
	    >"$work/build-$1.log" 2>&1 || {
		cat "$work/build-$1.log" >&2
		die "cannot build $src"
	}
	echo "$out"
}
if [ -z "${PREFORKD_BENCH:-}" ]; then
	if [ -x "$here/preforkd-bench" ]; then
		PREFORKD_BENCH=$here/preforkd-bench
	else
		PREFORKD_BENCH=$(build preforkd-bench) || exit 2
	fi
fi
BENCH=$PREFORKD_BENCH
PREFORKD=${PREFORKD:-$top/server/preforkd}
NODE=${NODE:-node}
FORWARD_SO=${FORWARD_SO:-$top/examples/forward/forward.so}
HAPROXY=${HAPROXY:-haproxy}
NGINX=${NGINX:-nginx}
NGINX_STREAM_MODULE=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}

need_epoll_echo() {
	if [ -z "${EPOLL_ECHO:-}" ]; then
		if [ -x "$here/epoll-echo" ]; then
			EPOLL_ECHO=$here/epoll-echo
		else
			EPOLL_ECHO=$(build epoll-echo) || exit 2
		fi
	fi
}

# The configuration of preforkd as a proxy to 127.0.0.1:bport, on stdout.
# kind: fwd (the example module) or proxy (the built-in service).
preforkd_proxy_conf() {	# kind port bport
	local kind=$1 port=$2 bport=$3

	cat <<EOF
# generated by bench/compare.sh
workers = $WORKERS;
log = { level = "warn"; };
EOF
	case $kind in
	fwd)
		cat <<EOF
modules = ({ name = "forward"; path = "$FORWARD_SO";
	settings = { host = "127.0.0.1"; port = $bport; }; });
listeners = ({ address = "127.0.0.1"; port = $port; service = "forward";
	backlog = 511; });
EOF
		;;
	proxy)
		cat <<EOF
listeners = ({ address = "127.0.0.1"; port = $port; service = "proxy";
	backlog = 511; backends = ({ address = "127.0.0.1"; port = $bport; }); });
EOF
		;;
	esac
}

servers=
for s in $SERVERS; do
	case $PROXY:$s in
	:preforkd|:preforkd-alog)
		[ -x "$PREFORKD" ] || die "no $PREFORKD: build it (make), or set PREFORKD"
		;;
	:epoll-echo)
		need_epoll_echo
		;;
	:node)
		if ! command -v "$NODE" >/dev/null 2>&1; then
			say "node: not installed, skipped (apt-get install nodejs)"
			continue
		fi
		;;
	1:preforkd-fwd)
		[ -x "$PREFORKD" ] || die "no $PREFORKD: build it (make), or set PREFORKD"
		if [ ! -f "$FORWARD_SO" ]; then
			say "preforkd-fwd: no $FORWARD_SO, skipped (make builds it)"
			continue
		fi
		;;
	1:preforkd-proxy)
		[ -x "$PREFORKD" ] || die "no $PREFORKD: build it (make), or set PREFORKD"
		preforkd_proxy_conf proxy 7 8 >"$work/check.conf"
		if ! "$PREFORKD" -t -c "$work/check.conf" >"$work/check.log" 2>&1
		then
			say "preforkd-proxy: this preforkd has no proxy service, skipped ($(head -1 "$work/check.log"))"
			continue
		fi
		;;
	1:haproxy)
		if ! command -v "$HAPROXY" >/dev/null 2>&1; then
			say "haproxy: not installed, skipped (apt-get install haproxy)"
			continue
		fi
		;;
	1:nginx)
		if ! command -v "$NGINX" >/dev/null 2>&1; then
			say "nginx: not installed, skipped (apt-get install nginx libnginx-mod-stream)"
			continue
		fi
		if [ ! -f "$NGINX_STREAM_MODULE" ]; then
			say "nginx: no $NGINX_STREAM_MODULE, skipped (apt-get install libnginx-mod-stream)"
			continue
		fi
		;;
	:*) die "unknown server '$s' (preforkd, preforkd-alog, epoll-echo, node; -P for proxies)" ;;
	*) die "unknown proxy '$s' ($PROXY_SERVERS)" ;;
	esac
	servers+=" $s"
done
[ -n "$servers" ] || die "no server to run"
[ -z "$PROXY" ] || need_epoll_echo	# the backend
case " $servers " in
*" $REF "*) ;;
*) say "$REF: not among the servers run, so no ratios" ;;
esac

scen_args() {
	case $1 in
	echo64)		echo "-c 50 -s 64 -w $WARMUP -d $DURATION echo" ;;
	echo64x1000)	echo "-c 1000 -s 64 -w $WARMUP -d $DURATION echo" ;;
	echo16k)	echo "-c 50 -s 16384 -w $WARMUP -d $DURATION echo" ;;
	pipeline)	echo "-c 50 -s 64 -P 16 -w $WARMUP -d $DURATION echo" ;;
	connect)	echo "-c 50 -s 64 -w $WARMUP -d $DURATION connect" ;;
	idle)		echo "-c $IDLE_CONNS -s 16 -k 1 -d $DURATION idle" ;;
	*)		return 1 ;;
	esac
}
for s in $SCENARIOS; do
	scen_args "$s" >/dev/null || die "unknown scenario '$s' (echo64 echo64x1000 echo16k pipeline connect idle)"
done

# Descriptors: bench and servers inherit the limit.  A proxy holds two per
# connection, and HAProxy is one process: with -P the idle scenario is
# sized to fit (unless -n says otherwise).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FDLIM=$(ulimit -n)
[ "$FDLIM" != unlimited ] || FDLIM=1048576
per_conn=1
[ -z "$PROXY" ] || per_conn=2
case " $SCENARIOS " in
*" idle "*)
	if [ -n "$PROXY" ] && [ -z "$NSET" ] &&
	    [ $((per_conn * IDLE_CONNS + 256)) -gt "$FDLIM" ]; then
		IDLE_CONNS=$(( (FDLIM - 256) / per_conn / 100 * 100 ))
		say "idle: $IDLE_CONNS pairs, not 10000: a one-process proxy needs two descriptors a pair and ulimit -Hn is $FDLIM"
	fi
	need=$((per_conn * IDLE_CONNS + 256))
	if [ "$FDLIM" -lt "$need" ]; then
		say "idle: skipped: it needs ulimit -n >= $need, the limit is $FDLIM"
		SCENARIOS=$(echo " $SCENARIOS " | sed 's/ idle / /')
	fi
	;;
esac
# HAProxy: as many connections as its descriptors allow (two per pair).
HAPROXY_MAXCONN=$(( (FDLIM - 100) / 2 ))
[ "$HAPROXY_MAXCONN" -le 200000 ] || HAPROXY_MAXCONN=200000

TCK=$(getconf CLK_TCK)
RUNS=0

# Start a command in the background, its output appended to a log: its
# pid in LPID, and in PIDS for the cleanup.
launch() {	# log cmd...
	local log=$1

	shift
	"$@" >>"$log" 2>&1 &
	LPID=$!
	PIDS+=("$LPID")
}

# Wait, for at most 10 s, until the process tree of pid has nprocs
# processes and an echo through port comes back.
wait_ready() {	# name pid nprocs port log
	local name=$1 pid=$2 nprocs=$3 port=$4 log=$5 n
	local deadline=$((SECONDS + 10))

	while [ "$SECONDS" -le "$deadline" ]; do
		alive "$pid" || { tail -5 "$log" >&2; die "$name did not start"; }
		n=$(tree "$pid" | wc -w)
		if [ "$n" -ge "$nprocs" ] && "$BENCH" -q -p "$port" -c 2 \
		    -d 0.05 -w 0 -t 1 echo >/dev/null 2>&1; then
			# Let start-up work finish before the CPU baseline.
			sleep 0.2
			return 0
		fi
		sleep 0.1
	done
	tail -5 "$log" >&2
	die "$name is not serving on port $port after 10 s"
}

start_server() {	# name port bport -> SPID (and BEPID with -P)
	local name=$1 port=$2 bport=${3:-} log=$work/$1.log nprocs
	local -a cmd alog=()

	nprocs=$((WORKERS + 1))
	if [ -n "$PROXY" ]; then
		launch "$work/backend.log" "$EPOLL_ECHO" -p "$bport" \
		    -w "$WORKERS" -b 511
		BEPID=$LPID
		wait_ready backend "$BEPID" "$nprocs" "$bport" \
		    "$work/backend.log"
	fi
	case $name in
	preforkd|preforkd-alog)
		# A fresh access log each run: the disk holds one run's lines.
		rm -f "$work/access.log"
		if [ "$name" = preforkd-alog ]; then
			alog=("access_log = { file = \"$work/access.log\"; };")
		fi
		cat >"$work/$name.conf" <<EOF
# generated by bench/compare.sh
workers = $WORKERS;
log = { level = "warn"; };
${alog[@]+"${alog[@]}"}
listeners = (
	{ address = "127.0.0.1"; port = $port; service = "echo"; backlog = 511; }
);
EOF
		cmd=("$PREFORKD" -c "$work/$name.conf")
		;;
	epoll-echo)
		cmd=("$EPOLL_ECHO" -p "$port" -w "$WORKERS" -b 511)
		;;
	node)
		cmd=(env PORT="$port" HOST=127.0.0.1 WORKERS="$WORKERS" \
		    "$NODE" "$here/node-echo.js")
		;;
	preforkd-fwd|preforkd-proxy)
		preforkd_proxy_conf "${name#preforkd-}" "$port" "$bport" \
		    >"$work/$name.conf"
		cmd=("$PREFORKD" -c "$work/$name.conf")
		;;
	haproxy)
		cat >"$work/haproxy.cfg" <<EOF
# generated by bench/compare.sh: plain TCP relay, no logging
global
	nbthread $WORKERS
	maxconn $HAPROXY_MAXCONN
defaults
	mode tcp
	maxconn $HAPROXY_MAXCONN
	timeout connect 5s
	timeout client 1h
	timeout server 1h
listen bench
	bind 127.0.0.1:$port backlog 511
	server echo 127.0.0.1:$bport
EOF
		cmd=("$HAPROXY" -db -f "$work/haproxy.cfg")
		nprocs=1	# threads, not processes
		;;
	nginx)
		mkdir -p "$work/nginx"
		cat >"$work/nginx.conf" <<EOF
# generated by bench/compare.sh: plain TCP relay, no access log
load_module $NGINX_STREAM_MODULE;
worker_processes $WORKERS;
worker_rlimit_nofile $FDLIM;
events { worker_connections $((FDLIM - 100)); }
stream {
	server {
		listen 127.0.0.1:$port reuseport backlog=511;
		proxy_pass 127.0.0.1:$bport;
		proxy_connect_timeout 5s;
		proxy_timeout 1h;
	}
}
EOF
		cmd=("$NGINX" -p "$work/nginx" -c "$work/nginx.conf" \
		    -e "$work/nginx.log" -g "daemon off; pid $work/nginx/nginx.pid; error_log $work/nginx.log warn;")
		;;
	esac
	launch "$log" "${cmd[@]}"
	SPID=$LPID
	wait_ready "$name" "$SPID" "$nprocs" "$port" "$log"
}

stop_server() {
	kill_tree "$SPID"
	forget "$SPID"
	if [ -n "$PROXY" ]; then
		kill_tree "$BEPID"
		forget "$BEPID"
	fi
}

loglines() {	# lines in the server's log (and the backend's)
	local n

	n=$(cat "$work/$1.log" ${PROXY:+"$work/backend.log"} 2>/dev/null |
	    wc -l) || true
	echo "${n:-0}"
}

# One run; appends a line to $work/results.
run_one() {
	local round=$1 scen=$2 name=$3 port bport='' out bpid rc
	local cpu0 cpu1 pss0='' pss1='' socks0 socks1 lines0 res spread split
	local ticks mem wait_s _
	local -a args

	port=$(pick_port) || die "no free port"
	if [ -n "$PROXY" ]; then
		bport=$(pick_port "$port") || die "no free port"
	fi
	start_server "$name" "$port" "$bport"
	lines0=$(loglines "$name")
	out=$work/run-$round-$scen-$name.out
	socks0=$(sock_snap "$SPID")
	[ "$scen" != idle ] || pss0=$(pss_kb "$SPID")
	cpu0=$(cpu_snap "$SPID")

	read -ra args <<<"$(scen_args "$scen")"
	# Fresh source addresses for every run: no run inherits the
	# TIME_WAIT sockets (and so the ephemeral-port shortage) of another.
	RUNS=$((RUNS + 1))
	launch "$out" "$BENCH" -p "$port" \
	    -b "127.$((1 + RUNS / 250)).$((RUNS % 250)).1" -S 16 "${args[@]}"
	bpid=$LPID
	if [ "$scen" = idle ]; then
		# Measure once every connection is open and has echoed.
		for _ in $(seq 1800); do
			if grep -q '^idle: .* settled' "$out" ||
			    ! alive "$bpid"; then
				break
			fi
			sleep 0.05
		done
		sleep 0.5
		pss1=$(pss_kb "$SPID")
		socks1=$(sock_snap "$SPID")
	else
		wait_s=$(awk -v w="$WARMUP" -v d="$DURATION" \
		    'BEGIN { print w + d / 2 }')
		sleep "$wait_s"
		socks1=$(sock_snap "$SPID")
	fi
	rc=0
	wait "$bpid" || rc=$?
	forget "$bpid"
	cpu1=$(cpu_snap "$SPID")
	stop_server

	res=$(grep '^RESULT ' "$out" | tail -1) || res=
	[ -n "$res" ] || { tail -5 "$out" >&2; res="RESULT errors=-1"; }
	# Sockets each worker gained during the run (the root process apart).
	spread=$(awk -v root="$SPID" '
	    NR == FNR { base[$1] = $2; next }
	    $1 != root { s = s sep ($2 - base[$1]); sep = "/" }
	    END { print s == "" ? "-" : s }' \
	    <(echo "$socks0") <(echo "$socks1"))
	# CPU per process: root first, then the workers, in ticks.
	split=$(awk -v root="$SPID" '
	    NR == FNR { base[$1] = $2; next }
	    { d = $2 - base[$1]; if ($1 == root) r = d; else { w = w "/" d } }
	    END { print r w }' <(echo "$cpu0") <(echo "$cpu1"))
	ticks=$(awk 'NR == FNR { b += $2; next } { a += $2 }
	    END { print a - b }' <(echo "$cpu0") <(echo "$cpu1"))
	mem=-
	if [ "$scen" = idle ]; then
		mem=$(awk -v a="$pss0" -v b="$pss1" -v r="$res" 'BEGIN {
		    n = 0; if (match(r, / open=[0-9]+/))
			n = substr(r, RSTART + 6, RLENGTH - 6) + 0
		    m = n > 0 ? (b - a) * 1024 / n : 0
		    if (m < 0 && m > -1) m = 0	# noise around nothing
		    if (n > 0) printf "%.0f", m; else print "-" }')
	fi
	awk -v round="$round" -v scen="$scen" -v name="$name" -v rc="$rc" \
	    -v ticks="$ticks" -v tck="$TCK" -v mem="$mem" -v spread="$spread" \
	    -v cpusplit="$split" -v logl=$(( $(loglines "$name") - lines0 )) \
	    -v load="$(cut -d' ' -f1 /proc/loadavg)" -v res="$res" 'BEGIN {
		n = split(res, kv, " ")
		for (i = 2; i <= n; i++) {
			j = index(kv[i], "=")
			v[substr(kv[i], 1, j - 1)] = substr(kv[i], j + 1)
		}
		# Operations: every round trip or connection the run completed
		# (warm-up and drain included, like the CPU time); idle: every
		# connection held.
		ops = scen == "idle" ? v["open"] : v["total_reqs"]
		cpu = ops > 0 ? ticks * 1e6 / tck / ops : -1
		printf "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		    round, scen, name, v["rps"], v["p99_us"], cpu, mem, spread,
		    cpusplit, v["errors"], rc, logl, load
	}' >>"$work/results"
	tail -1 "$work/results" | awk -F'\t' '{
		printf "  %-3s %-12s %-14s %10s %8s %9s %7s  %-13s %-14s %5s %s%s\n",
		    $1, $2, $3, $4, $5, $6, $7, $8, $9, $13, $10,
		    ($11 != 0 || $12 != 0) ? "  (exit " $11 ", " $12 " log lines)" : ""
	}'
}

if [ -n "$PROXY" ]; then
	say "TCP proxies: preforkd-bench -> proxy -> epoll-echo ($WORKERS workers, the backend); $WORKERS workers or threads each; CPU and memory of the proxy only"
else
	say "preforkd vs epoll-echo (reference) vs Node: echo servers, $WORKERS workers each"
fi
say "date: $(date -u '+%Y-%m-%d %H:%M UTC')  kernel: $(uname -r)  cpus: $(nproc)  cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
case " $servers " in *" node "*)
	say "node: $("$NODE" --version)" ;; esac
case " $servers " in *" haproxy "*)
	say "haproxy: $("$HAPROXY" -v 2>&1 | head -1)" ;; esac
case " $servers " in *" nginx "*)
	say "nginx: $("$NGINX" -v 2>&1 | head -1)" ;; esac
say "rounds: $ROUNDS  measured: ${DURATION}s  warm-up: ${WARMUP}s  idle connections: $IDLE_CONNS"
say "servers:$servers  scenarios: $SCENARIOS"
say ""
printf '  %-3s %-12s %-14s %10s %8s %9s %7s  %-13s %-14s %5s %s\n' rnd scenario \
    server req/s p99_us cpu_us/op mem_B/c conns/worker ticks:root/wkrs load errors
: >"$work/results"

order=$servers
for round in $(seq "$ROUNDS"); do
	for scen in $SCENARIOS; do
		for name in $order; do
			run_one "$round" "$scen" "$name"
		done
	done
	# Alternate: the next round starts with the next server.
	set -- $order
	first=$1
	shift
	order="$* $first"
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

say ""
say "Each round, with the ratios to $REF in the same round and scenario"
awk -F'\t' -v ref="$REF" '
function ratio(x, r) { return r + 0 > 0 && x != "-" && x + 0 >= 0 ? sprintf("%.2f", x / r) : "-" }
{
	line[NR] = $0
	if ($3 == ref) {
		R[$1, $2] = $4; P[$1, $2] = $5; C[$1, $2] = $6
	}
}
END {
	printf "  %-3s %-12s %-14s %10s %8s %9s %7s   %7s %7s %7s\n", "rnd",
	    "scenario", "server", "req/s", "p99_us", "cpu_us/op", "mem_B/c",
	    "rps/ref", "p99/ref", "cpu/ref"
	for (i = 1; i <= NR; i++) {
		split(line[i], f, "\t")
		k = f[1] SUBSEP f[2]
		printf "  %-3s %-12s %-14s %10.0f %8s %9s %7s   %7s %7s %7s\n",
		    f[1], f[2], f[3], f[4], f[5], f[6], f[7],
		    ratio(f[4], R[k]), ratio(f[5], P[k]), ratio(f[6], C[k])
	}
}' "$work/results"

say ""
say "Medians over $ROUNDS rounds; ratios are to $REF in the same round (median of the per-round ratios)"
if [ -n "$PROXY" ]; then
	say "(cpu_us/op: the proxy's CPU per echo round trip, per connection for connect and idle; mem_B/c: per proxied pair; lower is better)"
else
	say "(cpu_us/op: server CPU per echo round trip, per connection for connect and idle; lower is better)"
fi
say "load average at start: see above; at the end: $LOADAVG_END; 1-minute load at the end of the runs: $(
    awk -F'\t' '{ print $13 }' "$work/results" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "min %s, median %s, max %s", a[1], a[int((NR + 1) / 2)], a[NR] }')"
awk -F'\t' -v servers="$servers" -v scens="$SCENARIOS" -v ref="$REF" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	if (n == 0)
		return "-"
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function num(x) { return x != "" && x != "-" && x + 0 >= 0 }
{
	key = $2 SUBSEP $3
	rps[key] = rps[key] " " $4; p99[key] = p99[key] " " $5
	cpu[key] = cpu[key] " " $6
	if (num($7)) mem[key] = mem[key] " " $7
	err[key] += ($10 != 0) + ($11 != 0)
	R[$1, $2, $3] = $4; P[$1, $2, $3] = $5; C[$1, $2, $3] = $6
	M[$1, $2, $3] = $7
	rounds[$1] = 1
}
END {
	printf "  %-12s %-14s %10s %8s %9s %7s   %7s %7s %7s %7s  %s\n",
	    "scenario", "server", "req/s", "p99_us", "cpu_us/op", "mem_B/c",
	    "rps/ref", "p99/ref", "cpu/ref", "mem/ref", "bad runs"
	ns = split(scens, S, " "); nv = split(servers, V, " ")
	for (i = 1; i <= ns; i++) for (k = 1; k <= nv; k++) {
		s = S[i]; v = V[k]; key = s SUBSEP v
		if (!(key in rps))
			continue
		rr = rp = rc = rm = ""
		for (r in rounds) {
			if (!((r, s, ref) in R) || !((r, s, v) in R))
				continue
			if (R[r, s, ref] + 0 > 0) rr = rr " " R[r, s, v] / R[r, s, ref]
			if (P[r, s, ref] + 0 > 0) rp = rp " " P[r, s, v] / P[r, s, ref]
			if (C[r, s, ref] + 0 > 0) rc = rc " " C[r, s, v] / C[r, s, ref]
			# A reference near 0 bytes makes the ratio noise.
			if (num(M[r, s, ref]) && M[r, s, ref] + 0 >= 64 && num(M[r, s, v]))
				rm = rm " " M[r, s, v] / M[r, s, ref]
		}
		m = median(mem[key])
		printf "  %-12s %-14s %10.0f %8.0f %9.2f %7s   %7s %7s %7s %7s  %d\n",
		    s, v, median(rps[key]), median(p99[key]), median(cpu[key]),
		    m == "-" ? "-" : sprintf("%.0f", m),
		    rr == "" ? "-" : sprintf("%.2f", median(rr)),
		    rp == "" ? "-" : sprintf("%.2f", median(rp)),
		    rc == "" ? "-" : sprintf("%.2f", median(rc)),
		    rm == "" ? "-" : sprintf("%.2f", median(rm)), err[key]
	}
}' "$work/results"

case "$servers " in
*" preforkd-alog "*) case "$servers " in *" preforkd "*)
	say ""
	say "The access log's cost: preforkd-alog / preforkd in the same round (median of the per-round ratios)"
	awk -F'\t' -v scens="$SCENARIOS" '
	function median(list,    a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) {
			t = a[i] + 0
			for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
				a[j + 1] = a[j]
			a[j + 1] = t
		}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$3 == "preforkd" || $3 == "preforkd-alog" {
		R[$1, $2, $3] = $4; C[$1, $2, $3] = $6; rounds[$1] = 1
	}
	END {
		printf "  %-12s %9s %9s  %s\n", "scenario", "rps", "cpu_us/op",
		    "cpu_us/op per round (alog/plain)"
		ns = split(scens, S, " ")
		for (i = 1; i <= ns; i++) {
			s = S[i]; rr = rc = per = ""
			for (r in rounds) {
				a = "preforkd-alog"; p = "preforkd"
				if (!((r, s, a) in R) || !((r, s, p) in R) ||
				    R[r, s, p] + 0 <= 0 || C[r, s, p] + 0 <= 0)
					continue
				rr = rr " " R[r, s, a] / R[r, s, p]
				rc = rc " " C[r, s, a] / C[r, s, p]
				per = per sprintf(" %s/%s", C[r, s, a], C[r, s, p])
			}
			if (rc != "")
				printf "  %-12s %9.3f %9.3f %s\n", s, median(rr),
				    median(rc), per
		}
	}' "$work/results"
	;; esac ;;
esac

if [ -n "$OUTDIR" ]; then
	shopt -s nullglob
	if mkdir -p "$OUTDIR" && cp "$work"/results "$work"/*.out \
	    "$work"/*.log "$work"/*.conf "$work"/*.cfg "$OUTDIR"/
	then
		say "results, bench outputs, configurations and server logs in $OUTDIR"
	else
		say "some files could not be copied to $OUTDIR"
	fi
fi
bad=$(awk -F'\t' '$10 != 0 || $11 != 0 { n++ } END { print n + 0 }' \
    "$work/results")
if [ "$bad" -ne 0 ]; then
	say "$bad run(s) had errors: see the bench outputs (-o dir)"
	exit 1
fi
exit 0
