#!/bin/sh
# installcheck.sh -- the installed tree works on its own: the example
# module builds against the installed header with pkg-config alone, and
# the installed preforkd checks and serves it.  Run by make installcheck
# (DESTDIR, sbindir, libdir, sysconfdir and srcdir come from make).
set -eu

root=${DESTDIR:-}
work=$(mktemp -d /tmp/preforkd-ic.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "installcheck: $*" >&2; [ -f "$work/log" ] && cat "$work/log" >&2; exit 1; }

cp "$srcdir/examples/upper/upper.c" "$srcdir/examples/upper/Makefile" "$work/"
PKG_CONFIG_PATH="$root$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" \
    make -s -C "$work" >/dev/null || fail "the example does not build"

cat >"$work/preforkd.conf" <<CONF
workers = 2;
modules = ({ name = "upper"; path = "$work/upper.so";
             settings = { prefix = "> "; max_line = 64; }; });
listeners = ({ path = "$work/upper.sock"; service = "upper"; });
CONF
sample="$root$sysconfdir/preforkd/preforkd.conf"
# (The sample itself is checked below, as the unit would run it.)
"$root$sbindir/preforkd" -t -c "$work/preforkd.conf" >/dev/null ||
    fail "the example configuration is refused"

"$root$sbindir/preforkd" -c "$work/preforkd.conf" 2>"$work/log" &
pid=$!
i=0
until [ -S "$work/upper.sock" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "no socket after 5 s"
	sleep 0.05
done
reply=$(printf 'hello\n' | timeout 5 nc -U -q1 "$work/upper.sock") ||
    fail "no answer"
[ "$reply" = "> HELLO" ] || fail "answer was '$reply', not '> HELLO'"
echo "installcheck: the example module builds with pkg-config and serves"
kill "$pid" && wait "$pid" || fail "preforkd did not stop on TERM"
pid=

# The installed unit and configuration work together: the paths the unit
# uses (RuntimeDirectory, ExecReload's admin socket) are the ones the
# configuration sets, and the unit's commands start, reload, report and
# stop the daemon, with systemd's notifications on a fake NOTIFY_SOCKET.
# /run/preforkd becomes $work/run, and port 7007 a free one, so this never
# meets a real instance.
unit="$root$systemdsystemunitdir/preforkd.service"
[ -f "$unit" ] || fail "no unit at $unit"
key() { sed -n "s/^$1=//p" "$unit"; }
rundir=/run/$(key RuntimeDirectory)
reload=$(key ExecReload)
case $reload in
*" -s $rundir/admin.sock reload") ;;
*) fail "ExecReload ($reload) does not use $rundir/admin.sock" ;;
esac
grep -q "^admin_socket = \"$rundir/admin.sock\";" "$sample" ||
    fail "the installed configuration sets no admin_socket $rundir/admin.sock"
grep -q "^pidfile = \"$rundir/" "$sample" ||
    fail "the installed configuration sets no pidfile in $rundir"
case $(key ExecStart) in
"$sbindir/preforkd -c $sysconfdir/preforkd/preforkd.conf") ;;
*) fail "ExecStart does not run $sbindir/preforkd on the installed file" ;;
esac

command -v socat >/dev/null || fail "socat is needed for the notify socket"
mkdir "$work/run"
# As root, the daemon runs under the unit's capability bounding set and
# no_new_privs (setpriv), on a privileged port, workers as nobody: the
# sandbox leaves it what it needs.  Otherwise a port in 20000-59999.
# Another may take the port before preforkd binds it, so start-up is tried
# on up to five.
sandbox=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	caps=$(key CapabilityBoundingSet | tr ' ' '\n' |
	    sed -n 's/^CAP_\(.*\)/+\1/p' | tr 'A-Z\n' 'a-z,' | sed 's/,$//')
	[ -n "$caps" ] || fail "the unit sets no CapabilityBoundingSet"
	sandbox="setpriv --bounding-set=-all,$caps --inh-caps=-all --no-new-privs"
fi
pick_port() {
	if [ -n "$sandbox" ]; then
		port=$(( 600 + $(od -An -N2 -tu2 /dev/urandom) % 400 ))
	else
		port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	fi
	sed -e "s|$rundir/|$work/run/|g" -e "s/port = 7007;/port = $port;/" \
	    "$sample" >"$work/installed.conf"
	[ "$(id -u)" -eq 0 ] || sed -i '/^user = /d' "$work/installed.conf"
}
pick_port
socat -u UNIX-RECV:"$work/notify.sock" OPEN:"$work/notify",creat,append \
    2>/dev/null &
notifier=$!
trap 'kill $notifier 2>/dev/null; cleanup' EXIT
i=0
until [ -S "$work/notify.sock" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "no notify socket"; sleep 0.05
done
wait_for() {	# pattern, count
	i=0
	until [ "$(grep -c "$1" "$work/notify" 2>/dev/null)" -ge "$2" ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "no $1 (x$2) on NOTIFY_SOCKET"
		sleep 0.05
	done
}
ctl() {
	"$root$(echo "$reload" | sed -e 's/ .*//')" -s "$work/run/admin.sock" "$@"
}

"$root$sbindir/preforkd" -t -c "$work/installed.conf" >/dev/null ||
    fail "ExecStartPre (-t) refuses the installed sample configuration"
tries=0
while :; do
	NOTIFY_SOCKET="$work/notify.sock" $sandbox "$root$sbindir/preforkd" \
	    -c "$work/installed.conf" 2>"$work/log" &
	pid=$!
	i=0
	until grep -q READY=1 "$work/notify" 2>/dev/null ||
	    ! kill -0 $pid 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "no READY=1 on NOTIFY_SOCKET"
		sleep 0.05
	done
	grep -q READY=1 "$work/notify" 2>/dev/null && break
	wait $pid || true
	pid=
	tries=$((tries + 1))
	grep -q 'Address already in use' "$work/log" && [ $tries -lt 5 ] ||
	    fail "preforkd did not start on the installed configuration"
	pick_port
done
reply=$(printf 'hello\n' | timeout 5 nc -q1 127.0.0.1 $port) || fail "no echo"
[ "$reply" = hello ] || fail "echo answered '$reply'"
[ "$(cat "$work/run/preforkd.pid")" = "$pid" ] || fail "pidfile is wrong"
# ExecReload, as the unit writes it (with $work/run for /run/preforkd).
eval "$root$(echo "$reload" | sed -e "s|$rundir/|$work/run/|")" ||
    fail "ExecReload failed"
wait_for RELOADING=1 1
wait_for READY=1 2
ctl status >/dev/null || fail "preforkctl status failed"
if [ -n "$sandbox" ]; then
	w=$(ps -o user= --ppid "$pid" | sort -u | tr -d ' ')
	[ "$w" = nobody ] || fail "workers run as '$w', not nobody"
fi
ctl status --json | grep -Eq '"generation": ?2[,}]' ||
    fail "status does not show generation 2 after the reload"
ctl stop >/dev/null || fail "preforkctl stop failed"
wait "$pid" || fail "preforkd exited with $? after stop"
pid=
wait_for STOPPING=1 1
[ ! -e "$work/run/preforkd.pid" ] || fail "the pidfile was left behind"
echo "installcheck: the installed unit's commands start, reload, report" \
    "and stop preforkd on the installed configuration" \
    "${sandbox:+(port $port, workers as nobody, under: $sandbox)}"
