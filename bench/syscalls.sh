#!/usr/bin/env bash
#
# syscalls.sh - the system calls tsock makes per relayed message: one
# connection of request/response ping-pong (reqresp.c's load generator,
# SIZE-byte requests and answers, one in flight) runs COUNT messages
# through
#   tcp:  `tsock relay tcp:127.0.0.1:0 tcp:127.0.0.1:ECHO`, to reqresp.c's
#         epoll echo server
#   udp:  `tsock relay udp:127.0.0.1:0 udp:127.0.0.1:UECHO`, to
#         `tsock udp-echo udp:127.0.0.1:0`
# while `strace -f -c -p RELAY_PID` counts the relay's calls.  Prints each
# call's count divided by COUNT: the calls per message, where a message
# is one request and its answer, so it crosses the relay twice (halve the
# figures for one direction).
#
# usage: [TSOCK=path/to/tsock|builddir] [COUNT=20000] [SIZE=64] [CONNS=1]
#        syscalls.sh
#
# CONNS > 1 spreads the COUNT messages over that many connections (UDP:
# client sockets, so relay sessions), each with one in flight, to see
# whether the relay batches its calls under load.
#
# Only the messages are traced: the client connects and makes one
# warm-up transaction (the UDP relay opens its session then) before
# strace attaches, and closes only after strace has detached, so neither
# the set-up nor the tear-down is counted.  strace slows the relay down
# many times over; the counts do not depend on the speed with one message
# in flight (though a relay that batches under load would make fewer
# calls per message with more connections).  UDP requests lost and resent
# (after 200 ms) are shown; they add calls.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need cc strace

COUNT=${COUNT:-20000}
SIZE=${SIZE:-64}
CONNS=${CONNS:-1}
[[ $COUNT =~ ^[0-9]+$ && $COUNT -gt 0 ]] || die "COUNT must be a positive number"

RR=$BENCH_TMP/reqresp
cc -O2 -o "$RR" "$BENCH_DIR/reqresp.c" || die "cannot build reqresp.c"

# wait_line NAME WORD [SECS]: until NAME's stderr has a line WORD
# (reqresp load -H says "ready" and "done"), or NAME ended.
wait_line() {
	local name=$1 word=$2 secs=${3:-60} i pid=${BENCH_NAMED[$1]}
	for ((i = 0; i < secs * 20; i++)); do
		grep -qx "$word" "$BENCH_TMP/$name.err" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$BENCH_TMP/$name.err" >&2 || true
	die "$name: no '$word' line"
}

# wait_traced PID TRACER: until every thread of PID is traced by TRACER
# (strace prints nothing on stdout when it has attached); bounded to 10 s.
wait_traced() {
	local pid=$1 tracer=$2 i task ok
	for ((i = 0; i < 200; i++)); do
		ok=1
		for task in /proc/"$pid"/task/*; do
			grep -qx "TracerPid:[[:space:]]*$tracer" "$task/status" 2>/dev/null || ok=0
		done
		((ok)) && return 0
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.05
	done
	cat "$BENCH_TMP/strace-$pid.err" >&2 || true
	die "strace did not attach to $pid"
}

# trace NAME RELAY_PID PORT [-u]: COUNT messages through PORT with strace
# on RELAY_PID; strace's summary in $BENCH_TMP/NAME.strace and the
# client's result line in $BENCH_TMP/NAME-load.out.
trace() {
	local name=$1 relay=$2 port=$3 client tracer
	shift 3
	# the client: connect, warm up, "ready", wait for SIGUSR1 (<= 60 s),
	# COUNT messages (<= 240 s), "done", wait for SIGUSR1 again (<= 60 s):
	# bounded by itself (and not under timeout(1), which would not pass
	# SIGUSR1 on)
	bg_start "$name-load" "$RR" load -H "$@" "$port" "$CONNS" 240 "$SIZE" "$COUNT"
	client=$LAST_PID
	wait_line "$name-load" ready 20
	bg_start "strace-$relay" strace -f -c -o "$BENCH_TMP/$name.strace" -p "$relay"
	tracer=$LAST_PID
	wait_traced "$relay" "$tracer"
	# go
	kill -USR1 "$client"
	wait_line "$name-load" "done" 250
	# strace prints its summary when it detaches, on SIGTERM
	stop_bg "$tracer"
	kill -USR1 "$client" 2>/dev/null || true
	stop_bg "$client"
	[[ -s $BENCH_TMP/$name.strace ]] || die "$name: strace wrote no summary"
}

# The per-peer rate limit of newer tsocks' udp-echo (--max-rate) is
# lifted: the echo is not what is measured.
norate=()
if "$TSOCK" --help 2>&1 | grep -q -- --max-rate; then
	norate=(--max-rate 0)
fi

note "tcp relay, $COUNT messages under strace"
bg_start echo "$RR" echo
wait_ready echo
bg_start tcprelay "$TSOCK" relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$READY_PORT"
TCP_RELAY=$LAST_PID
wait_ready tcprelay
trace tcp "$TCP_RELAY" "$READY_PORT"

note "udp relay, $COUNT messages under strace"
bg_start uecho "$TSOCK" udp-echo "${norate[@]}" udp:127.0.0.1:0
wait_ready uecho
bg_start udprelay "$TSOCK" relay udp:127.0.0.1:0 "udp:127.0.0.1:$READY_PORT"
UDP_RELAY=$LAST_PID
wait_ready udprelay
trace udp "$UDP_RELAY" "$READY_PORT" -u

# calls NAME COLUMN: "COLUMN SYSCALL CALLS ERRORS" lines from strace -c's
# table (its columns: % time, seconds, usecs/call, calls, [errors,] syscall).
calls() {
	awk -v col="$2" 'NF >= 5 && $1 ~ /^[0-9.]+$/ && $NF != "total" {
		print col, $NF, $4, (NF >= 6 ? $5 : 0) }' "$BENCH_TMP/$1.strace"
}

read -r _ _ _ _ _ _ TCP_LOST <"$BENCH_TMP/tcp-load.out"
read -r _ _ _ _ _ _ UDP_LOST <"$BENCH_TMP/udp-load.out"

echo
echo "tsock system calls per message: $COUNT messages of ${SIZE}-byte request +"
echo "${SIZE}-byte answer, $CONNS connection(s), one in flight each (strace -f -c -p RELAY)"
machine_line
echo "UDP requests resent: $UDP_LOST (TCP: $TCP_LOST)"
# The table: the calls asked about always, in this order, then any other
# call made at least once per 100 messages (set-up stays below that).
awk -v n="$COUNT" '
	{ calls[$1, $2] = $3; errs[$1, $2] = $4; seen[$2] = 1 }
	END {
		split("readv recvmsg read recvfrom recvmmsg writev sendmsg write " \
		      "sendto sendmmsg epoll_wait epoll_pwait epoll_ctl ioctl", fixed, " ")
		split("readv recvmsg read recvfrom recvmmsg", rd, " ")
		split("writev sendmsg write sendto sendmmsg", wr, " ")
		printf "%-12s %10s %10s   %10s %10s\n", "", "tcp relay", "", "udp relay", ""
		printf "%-12s %10s %10s   %10s %10s\n", "syscall", "calls/msg", "errors/msg",
			"calls/msg", "errors/msg"
		for (i = 1; i in fixed; i++) {
			s = fixed[i]; shown[s] = 1
			# the optional ones only when made
			if (s ~ /^(recvfrom|recvmmsg|sendto|sendmmsg|epoll_pwait)$/ &&
			    !((1, s) in calls) && !((2, s) in calls))
				continue
			row(s)
		}
		for (s in seen)
			if (!(s in shown) && (calls[1, s] >= n / 100 || calls[2, s] >= n / 100))
				row(s)
		for (f = 1; f <= 2; f++) {
			r[f] = w[f] = t[f] = 0
			for (i = 1; i in rd; i++) r[f] += calls[f, rd[i]]
			for (i = 1; i in wr; i++) w[f] += calls[f, wr[i]]
			for (s in seen) t[f] += calls[f, s]
		}
		printf "%-12s %10.3f %10s   %10.3f\n", "(all reads)", r[1] / n, "", r[2] / n
		printf "%-12s %10.3f %10s   %10.3f\n", "(all writes)", w[1] / n, "", w[2] / n
		printf "%-12s %10.3f %10s   %10.3f\n", "(all calls)", t[1] / n, "", t[2] / n
	}
	function row(s) {
		printf "%-12s %10.3f %10.3f   %10.3f %10.3f\n", s, calls[1, s] / n,
			errs[1, s] / n, calls[2, s] / n, errs[2, s] / n
	}' <(calls tcp 1; calls udp 2)
echo "(a message crosses the relay twice: request and answer; errors are"
echo " mostly EAGAIN, reads that found nothing)"
exit 0
