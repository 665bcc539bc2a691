#!/bin/bash
# regress-tap.sh - replay each fuzz target's corpus, in TAP, for make check
#
# The regress programs (fuzz/regress_TARGET: the fuzz target linked with
# fuzz/regress.c) are looked for in $FUZZ_REGRESS_DIR, by default fuzz/
# under the current directory (the build tree, where make check runs);
# the corpora in $srcdir/fuzz/corpus (automake exports srcdir to tests).
# A target whose program fails is replayed again input by input, so the
# log names the inputs that fail.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

srcdir=${srcdir:-.}
bindir=${FUZZ_REGRESS_DIR:-fuzz}
corpus=$srcdir/fuzz/corpus
targets=(endpoint frame_spec hostport frame_reader proxy_header proxy_url
	proxy_wire target_rules)

echo "1..${#targets[@]}"
n=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	prog=$bindir/regress_$t
	dir=$corpus/$t
	if [ ! -x "$prog" ]; then
		echo "not ok $n - $t: $prog is missing"
		continue
	fi
	if [ ! -d "$dir" ]; then
		echo "not ok $n - $t: no corpus in $dir"
		continue
	fi
	if out=$("$prog" "$dir" 2>&1); then
		k=$(printf '%s\n' "$out" | tail -n 1 |
			sed -n 's/^\([0-9]*\) inputs replayed$/\1/p')
		if [ -n "$k" ] && [ "$k" -gt 0 ]; then
			echo "ok $n - $t: corpus replayed ($k inputs)"
		else
			echo "not ok $n - $t: no inputs in $dir"
		fi
		continue
	fi
	echo "not ok $n - $t: corpus replay failed"
	# the top of the report says the most
	printf '%s\n' "$out" | head -n 40 | sed 's/^/# /' || true
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		# a subshell that does not exec: it, not we, tells of the abort
		if ! ("$prog" "$f"; exit $?) >/dev/null 2>&1; then
			echo "# fails: $f"
		fi
	done
done
