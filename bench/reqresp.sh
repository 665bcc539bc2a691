#!/usr/bin/env bash
#
# reqresp.sh - small request/response transactions (SMB and RPC traffic
# looks like this): reqresp.c's load generator sends a SIZE-byte request
# on each connection, waits for the SIZE-byte answer, and again, through
#   tsock relay        tcp -> tcp
#   socat fork         TCP-LISTEN,fork -> TCP
#   nothing            straight to the echo server (the ceiling)
# to reqresp.c's epoll echo server, with 1 and with 50 connections, and
# prints transactions per second, p50 and p99 latency and the ratios.
# Then, with SYSCALLS=1 (the default when strace is there), it counts
# tsock's system calls per relayed message (strace -c) over COUNT
# one-connection transactions, for TCP and for a UDP relay.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=5] [SIZE=64] [COUNT=20000]
#        [SYSCALLS=1] reqresp.sh
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat cc

SECS=${SECS:-5}
SIZE=${SIZE:-64}
COUNT=${COUNT:-20000}
SYSCALLS=${SYSCALLS:-1}
command -v strace >/dev/null 2>&1 || SYSCALLS=0

RR="$BENCH_TMP/reqresp"
cc -O2 -o "$RR" "$BENCH_DIR/reqresp.c" || die "cannot build reqresp.c"

bg_start echo "$RR" echo
wait_ready echo
ECHO_PORT=$READY_PORT

bg_start tsock "$TSOCK" relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$ECHO_PORT"
TSOCK_PID=$LAST_PID
wait_ready tsock
TSOCK_PORT=$READY_PORT

SOCAT_PORT=$(free_port tcp)
bg_start socat socat "TCP-LISTEN:$SOCAT_PORT,bind=127.0.0.1,reuseaddr,fork,backlog=1024,nodelay" \
	"TCP:127.0.0.1:$ECHO_PORT,nodelay"
wait_port "$SOCAT_PORT"

# measure PORT CONNS: "TPS P50 P99 N"
measure() {
	timeout $((SECS + 70)) "$RR" load "$1" "$2" "$SECS" "$SIZE"
}

echo "Request/response: $SIZE-byte requests and answers, ${SECS}s each"
printf '%-6s %-8s %10s %9s %9s\n' conns path "trans/s" "p50 us" "p99 us"
for conns in 1 50; do
	declare -A tps=()
	for path in direct tsock socat; do
		case $path in
		direct) port=$ECHO_PORT ;;
		tsock) port=$TSOCK_PORT ;;
		socat) port=$SOCAT_PORT ;;
		esac
		read -r t p50 p99 _ < <(measure "$port" "$conns")
		tps[$path]=$t
		printf '%-6s %-8s %10s %9s %9s\n' "$conns" "$path" "$t" "$p50" "$p99"
	done
	echo "  $conns conns: tsock/socat $(ratio "${tps[tsock]}" "${tps[socat]}"), tsock/direct $(ratio "${tps[tsock]}" "${tps[direct]}")"
	unset tps
done

# per_message PID COUNT CMD...: run CMD under `strace -c -f -p PID` and
# print each system call's count divided by COUNT.
per_message() {
	local pid=$1 count=$2 spid
	shift 2
	strace -c -f -o "$BENCH_TMP/strace.out" -p "$pid" 2>/dev/null &
	spid=$!
	sleep 0.5	# strace attaches
	"$@" >/dev/null
	kill -INT "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	# calls made fewer than once per 100 messages are set-up, not traffic
	awk -v n="$count" '$NF ~ /^[a-z_0-9]+$/ && $NF != "total" &&
		$4 + 0 >= n / 100 {
		printf "  %-12s %6.2f\n", $NF, $4 / n }' "$BENCH_TMP/strace.out"
}

if ((SYSCALLS)); then
	echo
	echo "tsock system calls per relayed message (each transaction is two"
	echo "messages: the request and the answer), $COUNT transactions, 1 connection:"
	echo " tcp -> tcp:"
	per_message "$TSOCK_PID" $((2 * COUNT)) \
		"$RR" load "$TSOCK_PORT" 1 120 "$SIZE" "$COUNT"

	# no per-peer limit on the echo (older tsocks have none to lift)
	norate=()
	"$TSOCK" --help | grep -q -- --max-rate && norate=(--max-rate 0)
	bg_start uecho "$TSOCK" udp-echo "${norate[@]}" udp:127.0.0.1:0
	wait_ready uecho
	bg_start urelay "$TSOCK" relay udp:127.0.0.1:0 "udp:127.0.0.1:$READY_PORT"
	URELAY_PID=$LAST_PID
	wait_ready urelay
	echo " udp -> udp:"
	per_message "$URELAY_PID" $((2 * COUNT)) "$PYTHON" -c '
import socket, sys
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for i in range(n):
    s.sendto(b"q" * size, ("127.0.0.1", port))
    s.recv(65536)
' "$READY_PORT" "$COUNT" "$SIZE"
fi
echo
machine_line
