#!/bin/bash
# run.sh - build the libFuzzer targets and run each for a bounded time
#
#   fuzz/run.sh [TARGET...]             build and fuzz (default: all)
#   fuzz/run.sh --build [TARGET...]     only build
#   fuzz/run.sh --minimize TARGET FILE  minimize a crash input and save it
#                                       as fuzz/corpus/TARGET/crash-HASH
#   fuzz/run.sh --regress [TARGET...]   build with gcc and fuzz/regress.c
#                                       (no clang needed) and replay the
#                                       corpus, as "make check" does
#
# Targets: endpoint frame_spec hostport frame_reader proxy_header
# proxy_url proxy_wire target_rules (fuzz/fuzz_TARGET.c).
# Environment:
#   FUZZ_SECONDS  time per target (default 60), libFuzzer -max_total_time
#   FUZZ_OUT      where builds, the growing corpus, logs and crash files go
#                 (default fuzz/out; not for committing)
#   FUZZ_CC       the libFuzzer compiler (default clang); REGRESS_CC (gcc)
#   FUZZ_FORK     1 (default): keep fuzzing after a crash, timeout or leak,
#                 so the whole time is used and every finding is kept (and
#                 crash-* regression inputs in the seed corpus that still
#                 fail do not stop the run); 0: stop at the first finding
#
# Findings land in $FUZZ_OUT/TARGET/crashes/ (crash-*, leak-*, timeout-*,
# oom-*); the log of each run in $FUZZ_OUT/TARGET/fuzz.log.  The exit
# status is 1 if any target left a finding there.
#
# Needs clang with its sanitizer and libFuzzer runtimes (Debian: clang,
# libclang-rt-14-dev or the version clang has) and pkg-config's talloc and
# tevent (libtalloc-dev, libtevent-dev).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
all_targets=(endpoint frame_spec hostport frame_reader proxy_header
	proxy_url proxy_wire target_rules)

: "${FUZZ_SECONDS:=60}"
: "${FUZZ_OUT:=$here/out}"
: "${FUZZ_CC:=clang}"
: "${REGRESS_CC:=gcc}"
: "${FUZZ_FORK:=1}"
mkdir -p "$FUZZ_OUT"
FUZZ_OUT=$(cd "$FUZZ_OUT" && pwd)

die() {
	echo "run.sh: $*" >&2
	exit 2
}

check_target() {
	[[ -f $here/fuzz_$1.c ]] ||
		die "unknown target '$1' (targets: ${all_targets[*]})"
}

# The library without TLS (the targets need none, and it would drag in
# gnutls), and for the endpoint target the tool but its main(): the
# parser reads the table of kinds, which names every kind's code.  The
# PROXY protocol codec, the proxy URL parser, the proxy messages and the
# target rules need nothing but themselves (and talloc).
sources_for() {
	local f
	case $1 in
	proxy_header | proxy_url | proxy_wire | target_rules)
		echo "$top/src/$1.c"
		return
		;;
	esac
	for f in "$top"/lib/tsocket/*.c; do
		[[ $f == */tsocket_tls.c ]] || echo "$f"
	done
	if [[ $1 == endpoint ]]; then
		for f in "$top"/src/*.c; do
			[[ $f == */tsock.c ]] || echo "$f"
		done
	fi
}

# Longest input worth trying: endpoints and addresses are words, a spec is
# an option list (plus a header), a stream a few PDUs, a PROXY header at
# most 16 + 1024 bytes (PROXY_HEADER_V2_MAX) and a little after it, a
# proxy URL two 255-byte credentials %-escaped, a proxy handshake an HTTP
# header block of PROXY_REPLY_MAX (8192) and a little after it, target
# rules a few lines of them.
max_len_for() {
	case $1 in
	endpoint | hostport) echo 256 ;;
	frame_spec) echo 512 ;;
	frame_reader) echo 8192 ;;
	proxy_header) echo 1104 ;;
	proxy_url) echo 2048 ;;
	proxy_wire) echo 8256 ;;
	target_rules) echo 1024 ;;
	esac
}

# configure's config.h, as far as these sources care: what
# AC_USE_SYSTEM_EXTENSIONS defines, and no GnuTLS.
write_config_h() {
	mkdir -p "$1"
	cat >"$1/config.h.$$" <<-'EOF'
	/* written by fuzz/run.sh in place of configure's */
	#ifndef _GNU_SOURCE
	# define _GNU_SOURCE 1
	#endif
	#define PACKAGE "tsock"
	EOF
	mv "$1/config.h.$$" "$1/config.h"
}

# build CC OUTPUT TARGET [EXTRA-SOURCE...], with the caller's cflags
build() {
	local cc=$1 out=$2 target=$3
	shift 3
	local dir
	dir=$(dirname "$out")
	write_config_h "$dir"
	# shellcheck disable=SC2046 # pkg-config output is meant to split
	"$cc" "${cflags[@]}" -I"$dir" -I"$top/lib/tsocket" -I"$top/src" \
		$(pkg-config --cflags talloc tevent) \
		-o "$out" "$here/fuzz_$target.c" "$@" \
		$(sources_for "$target") \
		$(pkg-config --libs talloc tevent) -lm -pthread
}

build_fuzzer() {
	# shellcheck disable=SC2054 # the commas are clang's, not the array's
	local cflags=(-g -O1 -fno-omit-frame-pointer
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
		-Wall -Wextra -Wno-unused-parameter
		-Wno-missing-field-initializers -Werror)
	echo "== building fuzz_$1 with $FUZZ_CC"
	build "$FUZZ_CC" "$FUZZ_OUT/build/fuzz_$1" "$1"
}

build_regress() {
	local cflags=(-g -O1 -Wall -Wextra -Wno-unused-parameter
		-Wno-missing-field-initializers -Werror)
	echo "== building regress_$1 with $REGRESS_CC"
	build "$REGRESS_CC" "$FUZZ_OUT/build-regress/regress_$1" "$1" \
		"$here/regress.c"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# fuzz TARGET: run it for FUZZ_SECONDS; 1 if it left findings
fuzz() {
	local t=$1 dir=$FUZZ_OUT/$1 bin=$FUZZ_OUT/build/fuzz_$1
	local opts=(-max_total_time="$FUZZ_SECONDS"
		-max_len="$(max_len_for "$t")" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1 -artifact_prefix="$dir/crashes/")
	mkdir -p "$dir/corpus" "$dir/crashes"
	if [[ -f $here/$t.dict ]]; then
		opts+=(-dict="$here/$t.dict")
	fi
	if [[ $FUZZ_FORK == 1 ]]; then
		opts+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1
			-ignore_ooms=1)
	fi
	echo "== fuzzing $t for ${FUZZ_SECONDS}s (log: $dir/fuzz.log)"
	# new inputs go to the first directory: the seed corpus stays as it is
	"$bin" "${opts[@]}" "$dir/corpus" "$here/corpus/$t" \
		>"$dir/fuzz.log" 2>&1 || true
	# the last status line counts the runs (with -fork=1 too)
	grep -E '^#[0-9]+' "$dir/fuzz.log" | tail -n 1 || true
	grep -E '^(stat::|INFO: fuzzed for|Done [0-9]+ runs)' \
		"$dir/fuzz.log" || true
	if compgen -G "$dir/crashes/*" >/dev/null; then
		echo "== $t: findings in $dir/crashes/:"
		ls -l "$dir/crashes/"
		return 1
	fi
	echo "== $t: no findings"
	return 0
}

# minimize TARGET FILE: the smallest input that still fails the same way
minimize() {
	local t=$1 file=$2 bin=$FUZZ_OUT/build/fuzz_$1 min hash
	[[ -f $file ]] || die "no such file: $file"
	[[ -x $bin ]] || build_fuzzer "$t"
	min=$FUZZ_OUT/$t/minimized-$(basename "$file")
	mkdir -p "$FUZZ_OUT/$t"
	"$bin" -minimize_crash=1 -max_total_time=120 -runs=100000 \
		-exact_artifact_path="$min" "$file" \
		>"$FUZZ_OUT/$t/minimize.log" 2>&1 || true
	[[ -f $min ]] || min=$file	# nothing smaller crashes the same way
	hash=$(sha1sum "$min" | cut -c1-12)
	cp "$min" "$here/corpus/$t/crash-$hash"
	echo "saved fuzz/corpus/$t/crash-$hash ($(stat -c %s "$min") bytes):"
	od -An -tx1 -v "$min" | tr -d ' \n'
	echo
	echo "-- how it fails now:"
	# the target's and the sanitizer's words, without libFuzzer's chatter
	local chatter='^(INFO:|MS:|base unit:|artifact_prefix|Running|Executed'
	chatter+='|NOTE:|\*\*\*| +Combine|0x| +#([1-9][0-9]|[89]) )'
	"$bin" "$min" 2>&1 | grep -v -E "$chatter" | head -n 25 || true
}

mode=fuzz
case ${1:-} in
--build) mode=build; shift ;;
--regress) mode=regress; shift ;;
--minimize)
	[[ $# -eq 3 ]] || die "usage: run.sh --minimize TARGET FILE"
	check_target "$2"
	minimize "$2" "$3"
	exit 0
	;;
-*) die "unknown option $1" ;;
esac

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	targets=("${all_targets[@]}")
fi
for t in "${targets[@]}"; do
	check_target "$t"
done

status=0
for t in "${targets[@]}"; do
	case $mode in
	build) build_fuzzer "$t" ;;
	regress)
		build_regress "$t"
		"$FUZZ_OUT/build-regress/regress_$t" "$here/corpus/$t" ||
			status=1
		;;
	fuzz)
		build_fuzzer "$t"
		fuzz "$t" || status=1
		;;
	esac
done
exit "$status"
