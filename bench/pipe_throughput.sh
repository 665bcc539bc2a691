#!/usr/bin/env bash
#
# pipe_throughput.sh - stdin -> TCP throughput: `head -c 2G /dev/zero`
# piped into tsock connect, socat -b 262144 and OpenBSD nc -N, each
# towards the same fast sink on 127.0.0.1.
#
# usage: [TSOCK=path/to/tsock|builddir] [SIZE=2G] [RUNS=2] pipe_throughput.sh
#
# The sink (benchutil.py tcp-sink: python recv_into a 1 MiB buffer) times
# from accept to end of stream and counts the bytes, so every figure is
# checked to be the whole SIZE.  A python sender writing straight from
# memory (no pipe, no relay) gives the sink's ceiling.  Best of RUNS.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat nc head numfmt

SIZE=${SIZE:-2G}
RUNS=${RUNS:-2}
BYTES=$(numfmt --from=iec "$SIZE")
# bounded: even 100 MB/s gets through 2 GiB in this time
LIMIT=${LIMIT:-120}

# run_one NAME CMD...: one transfer of SIZE zeros from stdin through CMD
# (where @PORT@ stands for the sink's port) into a fresh sink; MB/s in
# RESULT ("-" if it failed or fell short).
run_one() {
	local name=$1 sink_pid out bytes secs arg
	local -a cmd=()
	shift
	bg_start "sink-$name" "$PYTHON" "$UTIL" tcp-sink
	sink_pid=$LAST_PID
	wait_ready "sink-$name"
	for arg in "$@"; do
		cmd+=("${arg//@PORT@/$READY_PORT}")
	done
	RESULT=-
	# The sender's stdout (data echoed back: none) is thrown away.
	if [[ ${cmd[0]} == "$PYTHON" ]]; then
		# the ceiling: no pipe, the sender writes from memory
		timeout --foreground -k 2 "$LIMIT" "${cmd[@]}" ||
			note "$name: sender failed"
	elif ! head -c "$SIZE" /dev/zero |
		timeout --foreground -k 2 "$LIMIT" "${cmd[@]}" >/dev/null; then
		note "$name: sender failed"
	fi
	# the sink ends by itself at end of stream; not if the sender failed
	timeout 10 tail --pid="$sink_pid" -f /dev/null || true
	stop_bg "$sink_pid"
	out=$(cat "$BENCH_TMP/sink-$name.out")
	read -r bytes secs <<<"${out:-0 0}"
	if [[ $bytes != "$BYTES" ]]; then
		note "$name: sink got $bytes bytes, not $BYTES"
		return
	fi
	RESULT=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / 1e6 / s }')
}

# best NAME CMD...: best of RUNS runs, in RESULT.
best() {
	local b=- run
	for ((run = 1; run <= RUNS; run++)); do
		run_one "$@"
		b=$(max "$b" "$RESULT")
	done
	RESULT=$b
}

# The pipe alone, with no socket: how fast head can feed any sender.
pipe_only() {
	local t0 t1 b=- run
	for ((run = 1; run <= RUNS; run++)); do
		t0=$(date +%s.%N)
		head -c "$SIZE" /dev/zero | timeout --foreground -k 2 "$LIMIT" cat >/dev/null
		t1=$(date +%s.%N)
		b=$(max "$b" "$(awk -v b="$BYTES" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.0f", b / 1e6 / (z - a) }')")
	done
	RESULT=$b
}

note "pipe only: head | cat"
pipe_only
PIPE=$RESULT
note "python sender, no pipe (sink ceiling)"
best direct "$PYTHON" "$UTIL" tcp-source @PORT@ "$BYTES"
DIRECT=$RESULT
note "tsock connect"
best tsock "$TSOCK" connect tcp:127.0.0.1:@PORT@
TSOCK_MBS=$RESULT
note "socat -b 262144"
best socat socat -b 262144 - TCP:127.0.0.1:@PORT@
SOCAT=$RESULT
note "nc -N"
best nc nc -N 127.0.0.1 @PORT@
NC=$RESULT

echo
echo "stdin -> TCP: head -c $SIZE /dev/zero | SENDER -> python sink on 127.0.0.1, best of $RUNS"
machine_line
printf '%-36s %10s %12s\n' sender MB/s "tsock / it"
printf '%-36s %10s %12s\n' "head | cat >/dev/null (pipe only)" "$PIPE" "$(ratio "$TSOCK_MBS" "$PIPE")"
printf '%-36s %10s %12s\n' "python from memory (sink ceiling)" "$DIRECT" "$(ratio "$TSOCK_MBS" "$DIRECT")"
printf '%-36s %10s %12s\n' "tsock connect" "$TSOCK_MBS" "1.00"
printf '%-36s %10s %12s\n' "socat -b 262144 -" "$SOCAT" "$(ratio "$TSOCK_MBS" "$SOCAT")"
printf '%-36s %10s %12s\n' "nc -N (OpenBSD)" "$NC" "$(ratio "$TSOCK_MBS" "$NC")"
exit 0
