#!/bin/sh
# valgrind-check.sh BUILDDIR: run every unit test program of a (plain,
# not sanitizer) build under valgrind's memcheck and report each as one
# TAP line: ok when valgrind found no error and no leak and the tests
# passed.  CI runs it; it needs valgrind (Debian: valgrind).
set -u
build=${1:?usage: valgrind-check.sh BUILDDIR}
here=$(cd "$(dirname "$0")" && pwd)

progs=""
for p in "$build"/tests/test_*; do
	case $p in
	*.o|*.log|*.trs|*.c) continue ;;
	esac
	[ -x "$p" ] && progs="$progs $p"
done
set -- $progs
echo "1..$#"
n=0
status=0
for p in "$@"; do
	n=$((n + 1))
	log=$p.valgrind.log
	if CMOCKA_MESSAGE_OUTPUT=TAP valgrind --quiet --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite,indirect \
		--suppressions="$here/valgrind.supp" "$p" >"$log" 2>&1; then
		echo "ok $n - valgrind $(basename "$p")"
	else
		echo "not ok $n - valgrind $(basename "$p") (see $log)"
		sed 's/^/# /' "$log" | tail -40
		status=1
	fi
done
exit $status
