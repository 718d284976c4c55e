#!/bin/sh
# uninstall_check.sh -- "make uninstall" removes the installed sample
# configuration only if nobody edited it.  Run by make installcheck from
# the build directory (MAKE, sysconfdir come from make).
set -eu

d=$(mktemp -d /tmp/preforkd-un.XXXXXX)
trap 'rm -rf "$d"' EXIT
f="$d$sysconfdir/preforkd/preforkd.conf"
fail() { echo "uninstall_check: $*" >&2; exit 1; }

$MAKE -s install-data-local DESTDIR="$d" >/dev/null
[ -f "$f" ] || fail "make install put no $f"
$MAKE -s uninstall-local DESTDIR="$d" >/dev/null
[ ! -f "$f" ] || fail "the unedited sample was kept"

$MAKE -s install-data-local DESTDIR="$d" >/dev/null
echo 'workers = 3;' >>"$f"
$MAKE -s uninstall-local DESTDIR="$d" >/dev/null
[ -f "$f" ] || fail "make uninstall removed an edited $f"
echo "uninstall_check: an edited configuration survives make uninstall"
