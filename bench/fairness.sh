#!/usr/bin/env bash
#
# fairness.sh - does one flooding UDP peer hold up everyone else?  One
# socket floods the server with 32-byte datagrams as fast as python can
# send them, while another socket sends PROBES probes 10 ms apart (on
# time, whatever comes back) and reports their median, 99th percentile
# and largest round-trip time, and how many got no answer.  Side by side, all in front of
# the same tsock udp-echo --max-rate 0:
#  - direct: flood and probe go to the echo itself (the floor: the
#    machine's own scheduling and socket queues);
#  - tsock relay udp:... udp:ECHO, and the same with --max-rate 2000
#    (the flooding peer's excess dropped as soon as it is read);
#  - socat UDP-LISTEN,fork to the echo.
# On 2 CPUs the flooder, the relay and the echo compete for the CPUs, so
# compare with the direct row, not with zero.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=6] [PROBES=300] fairness.sh
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat

SECS=${SECS:-6}
PROBES=${PROBES:-300}
LOAD="$BENCH_DIR/fairness_load.py"

bg_start echo "$TSOCK" udp-echo --max-rate 0 udp:127.0.0.1:0
wait_ready echo
ECHO_PORT=$READY_PORT

# run KIND: the probe's figures under the flood, as a table row.
run() {
	local kind=$1 port pid="" flood_out json
	flood_out=$BENCH_TMP/$kind.flood
	case $kind in
	direct) port=$ECHO_PORT ;;
	tsock | tsock-rate)
		local -a rate=()
		[[ $kind == tsock ]] || rate=(--max-rate 2000)
		bg_start "$kind" "$TSOCK" relay "${rate[@]}" udp:127.0.0.1:0 \
			"udp:127.0.0.1:$ECHO_PORT"
		pid=$LAST_PID
		wait_ready "$kind"
		port=$READY_PORT
		;;
	socat)
		port=$(free_port udp)
		bg_start "$kind" socat -T 10 \
			"UDP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
			"UDP:127.0.0.1:$ECHO_PORT"
		pid=$LAST_PID
		wait_port "$port" udp
		;;
	esac
	# the probe's session exists before the flood starts
	timeout -k 2 10 "$PYTHON" "$LOAD" probe "$port" 3 >/dev/null
	timeout -k 2 $((SECS + 10)) "$PYTHON" "$LOAD" flood "$port" "$SECS" \
		>"$flood_out" &
	local flood_pid=$!
	sleep 0.5	# let the flood build up (a benchmark, not a test)
	json=$(timeout -k 2 $((PROBES / 20 + 60)) "$PYTHON" "$LOAD" probe \
		"$port" "$PROBES")
	wait "$flood_pid" || true
	[[ -z $pid ]] || stop_bg "$pid"
	"$PYTHON" - "$kind" "$(cat "$flood_out")" "$json" <<'PY'
import json, sys
kind, flood, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print("%-10s %-12s %8s %8s %8s %5s/%d" % (kind, flood.split()[-1],
      j["median_ms"], j["p99_ms"], j["max_ms"], j["lost"],
      j["answered"] + j["lost"]))
PY
}

machine_line
printf '%-10s %-12s %8s %8s %8s %s\n' "path" "flood" "median" "p99" "max" "lost (ms)"
run direct
run tsock
run tsock-rate
run socat
