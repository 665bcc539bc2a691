#!/usr/bin/env bash
#
# relay_throughput.sh - TCP relay throughput: iperf3 client -> relay ->
# iperf3 server on 127.0.0.1, for tsock relay, socat (default buffer and
# -b 1048576), and the direct connection with no relay as the ceiling.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=5] [RUNS=2] relay_throughput.sh
#
# Each path is measured RUNS times for SECS seconds and the best run kept
# (loopback figures are noisy on a shared 2-CPU machine; the best run is
# the least disturbed one).  Figures: iperf3's receiver bits/s.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need iperf3 socat

SECS=${SECS:-5}
RUNS=${RUNS:-2}

# iperf3 cannot report a port it picked itself: take one that was free.
SERVER_PORT=$(free_port tcp)
bg_start iperf3-server iperf3 -s -B 127.0.0.1 -p "$SERVER_PORT"
wait_port "$SERVER_PORT"

# measure PORT: best receiver Gbit/s of RUNS iperf3 runs through PORT,
# in RESULT (not printed: the callers that start relays must not run in a
# $(...) subshell, where the cleanup trap would not know their processes).
measure() {
	local port=$1 best=- run bps json gbps all=
	for ((run = 1; run <= RUNS; run++)); do
		json=$BENCH_TMP/iperf-$port-$run.json
		# bounded: iperf3's own -t plus time to connect and report
		if ! timeout --foreground -k 2 $((SECS + 20)) iperf3 -c 127.0.0.1 -p "$port" \
			-t "$SECS" -J >"$json" 2>"$json.err"; then
			note "iperf3 through port $port failed: $(head -c 300 "$json.err")"
			continue
		fi
		bps=$("$PYTHON" "$UTIL" iperf-bps "$json") || continue
		gbps=$(awk -v b="$bps" 'BEGIN { printf "%.2f", b / 1e9 }')
		all+="${all:+ }$gbps"
		best=$(max "$best" "$gbps")
	done
	RESULT=$best
	RUNS_SEEN=${all:--}
}

note "direct (no relay)"
measure "$SERVER_PORT"
DIRECT=$RESULT
DIRECT_ALL=$RUNS_SEEN

note "tsock relay"
bg_start tsock "$TSOCK" relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$SERVER_PORT"
TSOCK_PID=$LAST_PID
wait_ready tsock
measure "$READY_PORT"
TSOCK_GBPS=$RESULT
TSOCK_ALL=$RUNS_SEEN
stop_bg "$TSOCK_PID"

# socat: default buffer (8192) and a 1 MiB one, as DESIGN.md asks
socat_measure() {
	local port pid
	port=$(free_port tcp)
	bg_start "socat$#" socat "$@" \
		"TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
		"TCP:127.0.0.1:$SERVER_PORT"
	pid=$LAST_PID
	wait_port "$port"
	measure "$port"
	stop_bg "$pid"
}

note "socat (default buffer)"
socat_measure
SOCAT=$RESULT
SOCAT_ALL=$RUNS_SEEN
note "socat -b 1048576"
socat_measure -b 1048576
SOCAT_1M=$RESULT
SOCAT_1M_ALL=$RUNS_SEEN

echo
echo "TCP relay throughput: iperf3 over 127.0.0.1, ${SECS}s per run, best of $RUNS"
machine_line
printf '%-26s %8s %10s   %s\n' path Gbit/s "vs direct" "(every run)"
printf '%-26s %8s %10s   %s\n' "direct (no relay)" "$DIRECT" "$(ratio "$DIRECT" "$DIRECT")" "$DIRECT_ALL"
printf '%-26s %8s %10s   %s\n' "tsock relay" "$TSOCK_GBPS" "$(ratio "$TSOCK_GBPS" "$DIRECT")" "$TSOCK_ALL"
printf '%-26s %8s %10s   %s\n' "socat (default -b 8192)" "$SOCAT" "$(ratio "$SOCAT" "$DIRECT")" "$SOCAT_ALL"
printf '%-26s %8s %10s   %s\n' "socat -b 1048576" "$SOCAT_1M" "$(ratio "$SOCAT_1M" "$DIRECT")" "$SOCAT_1M_ALL"
echo "ratio tsock / socat -b 1M:    $(ratio "$TSOCK_GBPS" "$SOCAT_1M")"
echo "ratio tsock / socat default:  $(ratio "$TSOCK_GBPS" "$SOCAT")"
echo "ratio tsock / direct:         $(ratio "$TSOCK_GBPS" "$DIRECT")"
exit 0
