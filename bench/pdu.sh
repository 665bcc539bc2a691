#!/usr/bin/env bash
#
# pdu.sh - PDUs per second through a framing relay: pdu_load.py pipelines
# u32be-framed PDUs with a 64-byte payload (68 bytes on the wire) through
#   tsock relay --frame u32be   (reads and writes PDU by PDU)
#   tsock relay                 (byte relay: the same bytes, unframed)
#   socat -b 1048576            (byte relay)
#   nothing                     (straight to the echo server: the ceiling)
# to a threaded python echo server on 127.0.0.1, checking every echoed
# byte, and counts the PDUs echoed in SECS seconds.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=5] [RUNS=2] [SIZE=64] pdu.sh
#
# The byte relays may well run faster than python can check: the CPU the
# relay used per PDU is shown beside the rate for that reason.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat

SECS=${SECS:-5}
RUNS=${RUNS:-2}
SIZE=${SIZE:-64}
LOAD="$BENCH_DIR/pdu_load.py"

bg_start echo "$PYTHON" "$UTIL" echo-tcp
ECHO_PID=$LAST_PID
wait_ready echo
ECHO_PORT=$READY_PORT

# measure NAME PORT PID [--tree]: best of RUNS through PORT (the relay is
# PID, with --tree its children too); "RATE US_PER_PDU" in RESULT.
measure() {
	local name=$1 port=$2 pid=$3 run json rate cpu best=-1 us=-
	shift 3
	for ((run = 1; run <= RUNS; run++)); do
		json=$BENCH_TMP/$name-$run.json
		if ! timeout --foreground -k 2 $((SECS + 20)) "$PYTHON" "$LOAD" --port "$port" \
			--size "$SIZE" --duration "$SECS" --watch "$pid" "$@" \
			>"$json" 2>"$json.err"; then
			note "$name: $(cat "$json" "$json.err" | tail -3)"
			continue
		fi
		read -r rate cpu <<<"$("$PYTHON" "$UTIL" json-get "$json" rate server_cpu)"
		if ((rate > best)); then
			best=$rate
			us=$(awk -v c="$cpu" -v r="$rate" -v s="$SECS" 'BEGIN {
				if (r == 0) print "-"; else printf "%.2f", c * 1e6 / (r * s) }')
		fi
	done
	((best >= 0)) || best=-
	RESULT="$best $us"
}

note "direct to the echo server"
# the echo server's own CPU, for comparison
measure direct "$ECHO_PORT" "$ECHO_PID"
read -r DIRECT DIRECT_US <<<"$RESULT"

# tsock_measure NAME [OPTION...]: a tsock relay in front of the echo.
tsock_measure() {
	local name=$1 pid
	shift
	bg_start "$name" "$TSOCK" relay "$@" tcp:127.0.0.1:0 "tcp:127.0.0.1:$ECHO_PORT"
	pid=$LAST_PID
	wait_ready "$name"
	measure "$name" "$READY_PORT" "$pid"
	stop_bg "$pid"
}

note "tsock relay --frame u32be"
tsock_measure framed --frame u32be
read -r FRAMED FRAMED_US <<<"$RESULT"
note "tsock relay (bytes)"
tsock_measure bytes
read -r BYTES BYTES_US <<<"$RESULT"

note "socat -b 1048576"
# socat cannot report a port it picked: take one that was free.
SOCAT_PORT=$(free_port tcp)
bg_start socat socat -b 1048576 "TCP-LISTEN:$SOCAT_PORT,bind=127.0.0.1,reuseaddr,fork" \
	"TCP:127.0.0.1:$ECHO_PORT"
SOCAT_PID=$LAST_PID
wait_port "$SOCAT_PORT"
# the forked child does the work: --tree counts it
measure socat "$SOCAT_PORT" "$SOCAT_PID" --tree
read -r SOCAT SOCAT_US <<<"$RESULT"
stop_bg "$SOCAT_PID"

echo
echo "PDUs through a relay to an echo server on 127.0.0.1: u32be + ${SIZE}-byte payload, pipelined, ${SECS}s, best of $RUNS"
machine_line
printf '%-34s %12s %12s %16s\n' path "PDUs/s" "vs direct" "relay CPU us/PDU"
printf '%-34s %12s %12s %16s\n' "direct (no relay)" "$DIRECT" "1.00" "(echo: $DIRECT_US)"
printf '%-34s %12s %12s %16s\n' "tsock relay --frame u32be" "$FRAMED" "$(ratio "$FRAMED" "$DIRECT")" "$FRAMED_US"
printf '%-34s %12s %12s %16s\n' "tsock relay (bytes)" "$BYTES" "$(ratio "$BYTES" "$DIRECT")" "$BYTES_US"
printf '%-34s %12s %12s %16s\n' "socat -b 1048576 (bytes)" "$SOCAT" "$(ratio "$SOCAT" "$DIRECT")" "$SOCAT_US"
echo "ratio tsock --frame / tsock bytes:  $(ratio "$FRAMED" "$BYTES")"
echo "ratio tsock --frame / socat -b 1M:  $(ratio "$FRAMED" "$SOCAT")"
echo "ratio tsock bytes / socat -b 1M:    $(ratio "$BYTES" "$SOCAT")"
exit 0
