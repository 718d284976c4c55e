#!/bin/sh
# readme_check.sh -- run the README's set-up commands literally, as its
# reader would paste them (CI runs this as root, where there is no sudo).
#
#   readme_check.sh test   the "whole test suite" command line
#   readme_check.sh run    the "build and run" command line, in the
#                          background; then the README's nc line must print
#                          hello and its stop line must stop that instance
#
# Run from the top of the source tree.
set -eu

readme=README
fail() { echo "readme_check: $*" >&2; [ -f "${log:-}" ] && tail -n 30 "$log" >&2; exit 1; }
# An indented README line starting with $1 (a fixed string), without its
# indentation and trailing "# comment".
line() {
	grep -F "    $1" "$readme" | sed -n "${2:-1}p" |
	    sed -e 's/^    //' -e 's/[[:space:]]*#[^'\'']*$//'
}

setup='$([ "$(id -u)" -eq 0 ] || echo sudo) sh -c '\''apt-get'
run=$(line "$setup" 1)
test=$(line "$setup" 2)
hello=$(line "printf 'hello")
stop=$(line "./server/preforkd -c conf/preforkd.conf -s stop")
case $run in *'&& ./server/preforkd -c conf/preforkd.conf') ;;
	*) fail "no run command line in the README" ;; esac
case $test in *'&& make -j4 check') ;;
	*) fail "no test command line in the README" ;; esac
[ -n "$hello" ] && [ -n "$stop" ] || fail "no nc or stop line in the README"

case ${1:-run} in
test)
	echo "readme_check: $test"
	exec sh -c "$test"
	;;
run)
	log=$(mktemp /tmp/preforkd-readme.XXXXXX)
	trap 'rm -f "$log"' EXIT
	echo "readme_check: $run &"
	sh -c "$run" >"$log" 2>&1 &
	job=$!
	# It builds first: give it up to 15 minutes to answer.
	i=0
	until reply=$(sh -c "$hello" 2>/dev/null) && [ "$reply" = hello ]; do
		kill -0 $job 2>/dev/null || fail "the run command exited"
		i=$((i + 1))
		[ $i -gt 1800 ] && fail "no echo on 127.0.0.1:7007"
		sleep 0.5
	done
	echo "readme_check: $hello -> $reply"
	echo "readme_check: $stop"
	sh -c "$stop" || fail "the stop line failed"
	wait $job || fail "preforkd exited with status $?"
	if sh -c "$hello" >/dev/null 2>&1 &&
	    [ "$(sh -c "$hello" 2>/dev/null)" = hello ]; then
		fail "something still answers on 127.0.0.1:7007"
	fi
	echo "readme_check: the README's run, nc and stop lines work as written"
	;;
*)
	fail "usage: readme_check.sh run|test"
	;;
esac
