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
"$root$sbindir/preforkd" -t -c "$root$sysconfdir/preforkd/preforkd.conf" \
    >/dev/null || fail "the installed sample configuration is refused"
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
