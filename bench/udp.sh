#!/usr/bin/env bash
#
# udp.sh - UDP datagrams per second on 127.0.0.1, with udp_load.py keeping
# a window of 64-byte datagrams outstanding per client socket:
#  1. echo: tsock udp-echo against socat's UDP echo, one client socket;
#  2. relay: 100 client sockets (100 peers, so 100 sessions) through
#     `tsock relay udp:... udp:ECHO` against socat UDP-LISTEN,fork, both
#     in front of the same tsock udp-echo.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=5] [RUNS=2] [WINDOW=16]
#        [PEERS=100] [RELAY_WINDOW=4] udp.sh
#
# socat's echo is `socat -T 5 -b 64 UDP-LISTEN:P,bind=127.0.0.1 PIPE`: of
# the socat UDP echoes (EXEC:cat or SYSTEM:cat add a process and a pipe
# hop, UDP-RECVFROM,fork forks for every datagram) it is the fastest.  It
# echoes through a pipe, so with the default -b 8192 it glues datagrams
# that queue up in the pipe into one reply: that row is shown for
# information, but the ratio uses -b 64, which keeps each 64-byte
# datagram whole as a real echo must.  UDP-LISTEN serves one peer and
# ends with it, so each run gets a fresh server.
#
# Besides the rate, the table shows the CPU the server (relay) used per
# datagram: the load generator is python and may itself be the limit on
# 2 CPUs, and then CPU per datagram is the fairer comparison.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat

SECS=${SECS:-5}
RUNS=${RUNS:-2}
WINDOW=${WINDOW:-16}
PEERS=${PEERS:-100}
# 100 peers x 4 in flight: about what the relay's front socket buffer
# holds; larger windows mostly measure drops at that buffer.
RELAY_WINDOW=${RELAY_WINDOW:-4}
LOAD="$BENCH_DIR/udp_load.py"

# The back end for the relay runs: one tsock udp-echo for both relays.
ECHO_PORT=

# start_server KIND RUN: start one server (echo or relay); SRV_PID,
# SRV_PORT, and SRV_TREE (--tree when its forked children count too).
start_server() {
	local kind=$1 run=$2 port
	SRV_TREE=
	case $kind in
	tsock-echo)
		bg_start "$kind-$run" "$TSOCK" udp-echo --max-rate 0 udp:127.0.0.1:0
		SRV_PID=$LAST_PID
		wait_ready "$kind-$run"
		SRV_PORT=$READY_PORT
		return
		;;
	tsock-relay)
		bg_start "$kind-$run" "$TSOCK" relay udp:127.0.0.1:0 \
			"udp:127.0.0.1:$ECHO_PORT"
		SRV_PID=$LAST_PID
		wait_ready "$kind-$run"
		SRV_PORT=$READY_PORT
		return
		;;
	esac
	# socat cannot report a port it picked: take one that was free.
	port=$(free_port udp)
	case $kind in
	socat-echo-64)
		bg_start "$kind-$run" socat -T 5 -b 64 \
			"UDP-LISTEN:$port,bind=127.0.0.1" PIPE
		;;
	socat-echo)
		bg_start "$kind-$run" socat -T 5 \
			"UDP-LISTEN:$port,bind=127.0.0.1" PIPE
		;;
	socat-relay)
		bg_start "$kind-$run" socat -T 10 \
			"UDP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
			"UDP:127.0.0.1:$ECHO_PORT"
		SRV_TREE=--tree
		;;
	*) die "unknown server $kind" ;;
	esac
	SRV_PID=$LAST_PID
	SRV_PORT=$port
	wait_port "$port" udp
}

# measure KIND SOCKETS WINDOW: best of RUNS; its report in KIND.json.
measure() {
	local kind=$1 sockets=$2 window=$3 run json rate best=-1
	local -a tree
	for ((run = 1; run <= RUNS; run++)); do
		start_server "$kind" "$run"
		json=$BENCH_TMP/$kind-$run.json
		tree=()
		[[ -z $SRV_TREE ]] || tree=("$SRV_TREE")
		if ! timeout --foreground -k 2 $((SECS + 30)) "$PYTHON" "$LOAD" --port "$SRV_PORT" \
			--sockets "$sockets" --window "$window" --size 64 \
			--duration "$SECS" --watch "$SRV_PID" "${tree[@]}" \
			>"$json" 2>"$json.err"; then
			note "$kind: load generator failed: $(tail -3 "$json.err")"
			stop_bg "$SRV_PID"
			continue
		fi
		stop_bg "$SRV_PID"
		rate=$("$PYTHON" "$UTIL" json-get "$json" rate)
		if ((rate > best)); then
			best=$rate
			cp "$json" "$BENCH_TMP/$kind.json"
		fi
	done
	[[ -f $BENCH_TMP/$kind.json ]] || echo '{}' >"$BENCH_TMP/$kind.json"
}

# row KIND LABEL: a table line; the rate in RESULT.
row() {
	local kind=$1 label=$2 rate recv replies lost stray cpu us
	read -r rate recv replies lost stray cpu <<<"$("$PYTHON" "$UTIL" json-get \
		"$BENCH_TMP/$kind.json" rate received replies lost stray server_cpu)"
	us=$(awk -v c="$cpu" -v r="$rate" -v s="$SECS" 'BEGIN {
		if (c == "-" || r == "-" || r == 0) print "-";
		else printf "%.2f", c * 1e6 / (r * s) }')
	printf '%-40s %10s %8s %7s %15s %9s\n' "$label" "$rate" "$lost" "$stray" \
		"$recv/$replies" "$us"
	RESULT="$rate $us"
}

header() {
	printf '%-40s %10s %8s %7s %15s %9s\n' path "dgrams/s" lost stray \
		"echoed/rx" "CPU us/dg"
}

note "echo: tsock udp-echo"
measure tsock-echo 1 "$WINDOW"
note "echo: socat -b 64 UDP-LISTEN PIPE"
measure socat-echo-64 1 "$WINDOW"
note "echo: socat UDP-LISTEN PIPE (default -b 8192)"
measure socat-echo 1 "$WINDOW"

bg_start backend-echo "$TSOCK" udp-echo --max-rate 0 udp:127.0.0.1:0
wait_ready backend-echo
ECHO_PORT=$READY_PORT
note "relay: tsock relay udp -> udp, $PEERS peers"
measure tsock-relay "$PEERS" "$RELAY_WINDOW"
note "relay: socat UDP-LISTEN,fork -> UDP, $PEERS peers"
measure socat-relay "$PEERS" "$RELAY_WINDOW"

echo
echo "UDP on 127.0.0.1: 64-byte datagrams, ${SECS}s per run, best of $RUNS"
machine_line
echo "echo, 1 client socket, $WINDOW datagrams outstanding:"
header
row tsock-echo "tsock udp-echo"
read -r T_RATE T_US <<<"$RESULT"
row socat-echo-64 "socat -b 64 UDP-LISTEN PIPE"
read -r S_RATE S_US <<<"$RESULT"
row socat-echo "socat UDP-LISTEN PIPE (glues replies)"
echo "ratio tsock / socat -b 64: rate $(ratio "$T_RATE" "$S_RATE"), CPU per datagram $(ratio "$T_US" "$S_US")"
echo
echo "relay udp -> udp -> tsock udp-echo, $PEERS client sockets, $RELAY_WINDOW outstanding each:"
header
row tsock-relay "tsock relay"
read -r T_RATE T_US <<<"$RESULT"
row socat-relay "socat UDP-LISTEN,fork (all processes)"
read -r S_RATE S_US <<<"$RESULT"
echo "ratio tsock / socat fork: rate $(ratio "$T_RATE" "$S_RATE"), CPU per datagram $(ratio "$T_US" "$S_US")"
exit 0
