#!/bin/sh
# check_keys.sh -- every key of the configuration schema (the field tables
# of conf/schema.c) is documented: an ".It Ic key" entry in preforkd.conf(5)
# and a "key = " line in the README's listing.  Run by make check.
set -eu

srcdir=${srcdir:-.}
src="$srcdir/conf/schema.c"
man="$srcdir/doc/preforkd.conf.5"
readme="$srcdir/README"

# "key:KIND" for each entry of the tables.
keys=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", K_\([A-Z]*\),.*/\1:\2/p' \
    "$src" | sort -u)
[ -n "$keys" ] || { echo "check_keys: no keys found in $src" >&2; exit 1; }

bad=0
n=0
for kk in $keys; do
	k=${kk%%:*}
	n=$((n + 1))
	# A scalar has its own entry; a group (log, listeners, modules) is
	# introduced in the text of its section.
	case ${kk#*:} in
	GROUP|LISTENERS|MODULES) pat="\.Ic $k\( \|$\)" ;;
	*) pat="^\.It Ic $k\( \|$\)" ;;
	esac
	if ! grep -q "$pat" "$man"; then
		echo "check_keys: '$k' is not in doc/preforkd.conf.5" >&2
		bad=1
	fi
	if ! grep -q "[{ ;]$k = " "$readme"; then
		echo "check_keys: '$k' is not in the README's listing" >&2
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "check_keys: all $n keys documented"
exit $bad
