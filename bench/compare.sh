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
# Usage: bench/compare.sh [-ak] [-d secs] [-n conns] [-o dir] [-r rounds]
#                         [-S servers] [-s scenarios] [-w secs]
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/bench

ROUNDS=3
DURATION=3
WARMUP=1
WORKERS=2
IDLE_CONNS=10000
SCENARIOS="echo64 echo64x1000 echo16k connect idle"
SERVERS="preforkd epoll-echo node"
OUTDIR=
KEEP=
ALOG=

usage() {
	cat <<EOF
usage: compare.sh [-ak] [-d secs] [-n conns] [-o dir] [-r rounds]
                  [-S servers] [-s scenarios] [-w secs]
  -a            also preforkd-alog: preforkd with an access log (text, to
                a file), and its cost: the ratios to preforkd
  -r rounds     alternating rounds (default $ROUNDS)
  -d secs       measured seconds per run, idle hold time (default $DURATION)
  -w secs       warm-up seconds per run (default $WARMUP)
  -n conns      connections of the idle scenario (default $IDLE_CONNS)
  -s list       scenarios (default "$SCENARIOS";
                also: pipeline, 64 B x 50 connections x 16 in flight)
  -S list       servers (default "$SERVERS"; also: preforkd-alog)
  -o dir        keep the results, bench outputs and server logs in dir
  -k            keep the temporary directory
Environment: PREFORKD (default ./server/preforkd), PREFORKD_BENCH,
EPOLL_ECHO (default: bench/ binaries, else built here with \$CC), NODE.
EOF
}

while getopts "ad:hkn:o:r:S:s:w:" opt; do
	case $opt in
	a) ALOG=1 ;;
	d) DURATION=$OPTARG ;;
	k) KEEP=1 ;;
	n) IDLE_CONNS=$OPTARG ;;
	o) OUTDIR=$OPTARG ;;
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
case " $SERVERS " in
*" preforkd-alog "*) ;;
*) [ -z "$ALOG" ] || SERVERS="$SERVERS preforkd-alog" ;;
esac

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
	kill -TERM "$root" 2>/dev/null
	for _ in $(seq 50); do
		alive "$root" || break
		sleep 0.1
	done
	for p in $pids; do
		alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	wait "$root" 2>/dev/null
	return 0
}

cleanup() {
	local p

	trap - EXIT INT TERM HUP
	for p in ${PIDS[@]+"${PIDS[@]}"}; do
		alive "$p" && kill_tree "$p"
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
		    2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

sock_snap() {	# per process "pid sockets"
	local p

	for p in $(tree "$1"); do
		echo "$p $(find "/proc/$p/fd" -lname 'socket:*' 2>/dev/null |
		    wc -l)"
	done
}

port_free() {
	local hex

	hex=$(printf ':%04X' "$1")
	! awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h \
	    { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 \
	    2>/dev/null
}

pick_port() {
	local p _

	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		port_free "$p" && { echo "$p"; return 0; }
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

servers=
for s in $SERVERS; do
	case $s in
	preforkd|preforkd-alog)
		[ -x "$PREFORKD" ] || die "no $PREFORKD: build it (make), or set PREFORKD"
		;;
	epoll-echo)
		if [ -z "${EPOLL_ECHO:-}" ]; then
			if [ -x "$here/epoll-echo" ]; then
				EPOLL_ECHO=$here/epoll-echo
			else
				EPOLL_ECHO=$(build epoll-echo) || exit 2
			fi
		fi
		;;
	node)
		if ! command -v "$NODE" >/dev/null 2>&1; then
			say "node: not installed, skipped (apt-get install nodejs)"
			continue
		fi
		;;
	*) die "unknown server '$s' (preforkd, preforkd-alog, epoll-echo, node)" ;;
	esac
	servers+=" $s"
done
[ -n "$servers" ] || die "no server to run"

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

# Enough descriptors for the idle scenario: bench and servers inherit it.
case " $SCENARIOS " in
*" idle "*)
	need=$((IDLE_CONNS + 256))
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
		ulimit -Hn "$need" 2>/dev/null && ulimit -n "$need" 2>/dev/null
	fi
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
		say "idle: skipped: it needs ulimit -n >= $need, the limit is $(ulimit -n)"
		SCENARIOS=$(echo " $SCENARIOS " | sed 's/ idle / /')
	fi
	;;
esac

TCK=$(getconf CLK_TCK)
RUNS=0

start_server() {	# name port -> SPID
	local name=$1 port=$2 log=$work/$1.log n _
	local -a cmd alog=()

	case $name in
	preforkd|preforkd-alog)
		# A fresh access log each run: the disk holds one run's lines.
		rm -f "$work/access.log"
		[ "$name" = preforkd-alog ] &&
		    alog=("access_log = { file = \"$work/access.log\"; };")
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
	esac
	"${cmd[@]}" >>"$log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	# Ready: all its processes are there and one echo comes back.
	for _ in $(seq 100); do
		alive "$SPID" || { tail -5 "$log" >&2; die "$name did not start"; }
		n=$(tree "$SPID" | wc -w)
		if [ "$n" -ge $((WORKERS + 1)) ] && "$BENCH" -q -p "$port" -c 2 \
		    -d 0.05 -w 0 -t 1 echo >/dev/null 2>&1; then
			sleep 0.2
			return 0
		fi
		sleep 0.1
	done
	tail -5 "$log" >&2
	die "$name is not serving on port $port after 10 s"
}

stop_server() {
	kill_tree "$SPID"
	forget "$SPID"
}

# One run; appends a line to $work/results.
run_one() {
	local round=$1 scen=$2 name=$3 port out bpid rc
	local cpu0 cpu1 pss0='' pss1='' socks0 socks1 lines0 res spread split
	local ticks mem wait_s _
	local -a args

	port=$(pick_port) || die "no free port"
	start_server "$name" "$port"
	out=$work/run-$round-$scen-$name.out
	lines0=$(wc -l <"$work/$name.log")
	socks0=$(sock_snap "$SPID")
	[ "$scen" = idle ] && pss0=$(pss_kb "$SPID")
	cpu0=$(cpu_snap "$SPID")

	read -ra args <<<"$(scen_args "$scen")"
	# Fresh source addresses for every run: no run inherits the
	# TIME_WAIT sockets (and so the ephemeral-port shortage) of another.
	RUNS=$((RUNS + 1))
	"$BENCH" -p "$port" -b "127.$((1 + RUNS / 250)).$((RUNS % 250)).1" \
	    -S 16 "${args[@]}" >"$out" 2>&1 &
	bpid=$!
	PIDS+=("$bpid")
	if [ "$scen" = idle ]; then
		# Measure once every connection is open and has echoed.
		for _ in $(seq 1800); do
			grep -q '^idle: .* settled' "$out" && break
			alive "$bpid" || break
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
	wait "$bpid"
	rc=$?
	forget "$bpid"
	cpu1=$(cpu_snap "$SPID")
	stop_server

	res=$(grep '^RESULT ' "$out" | tail -1)
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
	    -v cpusplit="$split" -v logl=$(( $(wc -l <"$work/$name.log") - lines0 )) \
	    -v res="$res" 'BEGIN {
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
		printf "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\n",
		    round, scen, name, v["rps"], v["p99_us"], cpu, mem, spread,
		    cpusplit, v["errors"], rc, logl
	}' >>"$work/results"
	tail -1 "$work/results" | awk -F'\t' '{
		printf "  %-3s %-12s %-13s %10s %8s %9s %7s  %-13s %-14s %s%s\n",
		    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		    ($11 != 0 || $12 != 0) ? "  (exit " $11 ", " $12 " log lines)" : ""
	}'
}

say "preforkd vs epoll-echo (reference) vs Node: echo servers, $WORKERS workers each"
say "date: $(date -u '+%Y-%m-%d %H:%M UTC')  kernel: $(uname -r)  cpus: $(nproc)  cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
command -v "$NODE" >/dev/null 2>&1 && case " $servers " in *" node "*)
	say "node: $("$NODE" --version)" ;; esac
say "rounds: $ROUNDS  measured: ${DURATION}s  warm-up: ${WARMUP}s  idle connections: $IDLE_CONNS"
say "servers:$servers  scenarios: $SCENARIOS"
say ""
printf '  %-3s %-12s %-13s %10s %8s %9s %7s  %-13s %-14s %s\n' rnd scenario \
    server req/s p99_us cpu_us/op mem_B/c conns/worker ticks:root/wkrs errors
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

say ""
say "Each round, with the ratios to epoll-echo in the same round and scenario"
awk -F'\t' '
function ratio(x, r) { return r + 0 > 0 && x != "-" && x + 0 >= 0 ? sprintf("%.2f", x / r) : "-" }
{
	line[NR] = $0
	if ($3 == "epoll-echo") {
		R[$1, $2] = $4; P[$1, $2] = $5; C[$1, $2] = $6
	}
}
END {
	printf "  %-3s %-12s %-13s %10s %8s %9s %7s   %7s %7s %7s\n", "rnd",
	    "scenario", "server", "req/s", "p99_us", "cpu_us/op", "mem_B/c",
	    "rps/ref", "p99/ref", "cpu/ref"
	for (i = 1; i <= NR; i++) {
		split(line[i], f, "\t")
		k = f[1] SUBSEP f[2]
		printf "  %-3s %-12s %-13s %10.0f %8s %9s %7s   %7s %7s %7s\n",
		    f[1], f[2], f[3], f[4], f[5], f[6], f[7],
		    ratio(f[4], R[k]), ratio(f[5], P[k]), ratio(f[6], C[k])
	}
}' "$work/results"

say ""
say "Medians over $ROUNDS rounds; ratios are to epoll-echo in the same round (median of the per-round ratios)"
say "(cpu_us/op: server CPU per echo round trip, per connection for connect and idle; lower is better)"
awk -F'\t' -v servers="$servers" -v scens="$SCENARIOS" '
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
	printf "  %-12s %-13s %10s %8s %9s %7s   %7s %7s %7s %7s  %s\n",
	    "scenario", "server", "req/s", "p99_us", "cpu_us/op", "mem_B/c",
	    "rps/ref", "p99/ref", "cpu/ref", "mem/ref", "bad runs"
	ns = split(scens, S, " "); nv = split(servers, V, " ")
	for (i = 1; i <= ns; i++) for (k = 1; k <= nv; k++) {
		s = S[i]; v = V[k]; key = s SUBSEP v
		if (!(key in rps))
			continue
		rr = rp = rc = rm = ""
		for (r in rounds) {
			ref = "epoll-echo"
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
		printf "  %-12s %-13s %10.0f %8.0f %9.2f %7s   %7s %7s %7s %7s  %d\n",
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
	mkdir -p "$OUTDIR" && cp "$work"/results "$work"/*.out "$work"/*.log \
	    "$OUTDIR"/ 2>/dev/null
	say "results, bench outputs and server logs in $OUTDIR"
fi
bad=$(awk -F'\t' '$10 != 0 || $11 != 0 { n++ } END { print n + 0 }' "$work/results")
if [ "$bad" -ne 0 ]; then
	say "$bad run(s) had errors: see the bench outputs (-o dir)"
	exit 1
fi
exit 0
