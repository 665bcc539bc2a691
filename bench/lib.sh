# shellcheck shell=bash
# shellcheck disable=SC2034  # LAST_PID, READY_PORT...: used by the scripts
#
# lib.sh - helpers shared by the tsock benchmark scripts (sourced, not run)
#
# Every benchmark runs tsock and its peers side by side on loopback only
# (127.0.0.1, ::1 or unix sockets in a private temp dir), for bounded
# durations, and leaves nothing behind: each background process is
# recorded when started and ended by its own id on exit, and the temp dir
# is removed.
#
# SPDX-License-Identifier: MIT

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
# the helpers import benchutil.py: leave no __pycache__ in the tree
export PYTHONDONTWRITEBYTECODE=1
UTIL="$BENCH_DIR/benchutil.py"

# Processes started with bg_start, ended in reverse order by cleanup.
BENCH_PIDS=()
# The pid of each by the name it was started under, for wait_ready.
declare -A BENCH_NAMED=()
BENCH_TMP=
# Set by bg_start and wait_ready (functions cannot return values to the
# calling shell through $(...) without losing the background job).
LAST_PID=
READY_PORT=

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

note() {
	echo "# $*" >&2
}

# The tsock binary: $TSOCK, which may also name a build directory (then
# its src/tsock), else ../src/tsock next to this script.
resolve_tsock() {
	local t=${TSOCK:-$BENCH_DIR/../src/tsock}

	if [[ -d $t ]]; then
		t=$t/src/tsock
	fi
	[[ -x $t ]] || die "no tsock binary at '$t' (set TSOCK=path/to/tsock or a build dir)"
	TSOCK=$(cd "$(dirname "$t")" && pwd)/$(basename "$t")
	export TSOCK
}

need() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 ||
			die "'$cmd' is missing (Debian: apt-get install iperf3 socat netcat-openbsd python3)"
	done
}

# End one process we started: TERM, then KILL if it lingers.  Its direct
# children (socat's forked handlers) go first, also by their own ids, so
# none is left holding a port.
stop_pid() {
	local pid=$1 child i

	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	for child in $(pgrep -P "$pid" 2>/dev/null || true); do
		kill -TERM "$child" 2>/dev/null || true
	done
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 40; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local i
	trap - EXIT INT TERM
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${BENCH_PIDS[i]}"
	done
	BENCH_PIDS=()
	if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
		rm -rf -- "$BENCH_TMP"
	fi
}

# Call first: tsock, temp dir, and the trap that undoes everything.
bench_init() {
	resolve_tsock
	need "$PYTHON" timeout pgrep
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tsock-bench.XXXXXX")
	trap cleanup EXIT
	# On a signal, clean up through the EXIT trap and say so in the status.
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# bg_start NAME CMD...: run CMD in the background, its output in
# $BENCH_TMP/NAME.out and NAME.err; its pid in LAST_PID.
bg_start() {
	local name=$1
	shift
	"$@" >"$BENCH_TMP/$name.out" 2>"$BENCH_TMP/$name.err" </dev/null &
	LAST_PID=$!
	BENCH_PIDS+=("$LAST_PID")
	BENCH_NAMED[$name]=$LAST_PID
}

# stop_bg PID: end a process started with bg_start before the script ends
# (so that the next measurement has the CPUs to itself).
stop_bg() {
	local pid=$1 i
	stop_pid "$pid"
	for i in "${!BENCH_PIDS[@]}"; do
		if [[ ${BENCH_PIDS[i]} == "$pid" ]]; then
			unset 'BENCH_PIDS[i]'
		fi
	done
	BENCH_PIDS=("${BENCH_PIDS[@]}")
}

# wait_ready NAME [SECS]: wait for the readiness line that tsock (and our
# python helpers) print on stderr, "listening on KIND:HOST:PORT"; the
# port in READY_PORT.
wait_ready() {
	local name=$1 secs=${2:-10} i line
	local err=$BENCH_TMP/$name.err pid=${BENCH_NAMED[$name]:-}

	for ((i = 0; i < secs * 20; i++)); do
		line=$(grep -m1 -E '^listening on [a-z0-9-]+:.*:[0-9]+$' "$err" 2>/dev/null || true)
		if [[ -n $line ]]; then
			READY_PORT=${line##*:}
			return 0
		fi
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			cat "$err" >&2 || true
			die "$name exited before listening"
		fi
		sleep 0.05
	done
	cat "$err" >&2 || true
	die "$name: no 'listening on' line within ${secs}s"
}

# For programs that cannot listen on port 0 and report it (socat,
# iperf3): a port that was free a moment ago.  Racy, acceptable here.
# free_port tcp|udp
free_port() {
	"$PYTHON" "$UTIL" free-port "$1"
}

# wait_port PORT [udp]: until something listens on 127.0.0.1:PORT.
wait_port() {
	"$PYTHON" "$UTIL" wait-port "$@" ||
		die "nothing listening on port $1 in time"
}

# ratio A B: A/B with two decimals, "-" when either is missing or B is 0.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0)
			print "-";
		else
			printf "%.2f\n", a / b }'
}

# max A B: the larger, treating "-" and "" as missing.
max() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || a == "-") print b;
		else if (b == "" || b == "-") print a;
		else if (a + 0 >= b + 0) print a; else print b }'
}

# About the machine, for the tables.  The load average at the end tells
# whether something else competed for the CPUs during the run (with 2
# CPUs, anything above 2 means the figures are low and noisy).
machine_line() {
	local cpu load
	cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//')
	read -r load _ </proc/loadavg
	echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r); $("$TSOCK" --version 2>/dev/null | head -1)"
	echo "load average (1 min) at the end: $load"
}
