#!/usr/bin/env bash
#
# reqresp.sh - small request/response transactions (the shape of SMB and
# RPC traffic): reqresp.c's load generator sends a SIZE-byte request on
# each connection, waits for the SIZE-byte answer, and sends the next,
# through
#   tsock relay   `tsock relay tcp:127.0.0.1:0 tcp:127.0.0.1:ECHO`
#   socat fork    `socat TCP-LISTEN:P,bind=127.0.0.1,fork,reuseaddr
#                  TCP:127.0.0.1:ECHO` (one process per connection)
#   direct        straight to the echo server (the ceiling)
# to reqresp.c's epoll echo server, with 1 and with 50 connections (all
# in the client's one epoll thread), SECS seconds each, and prints the
# transactions per second, the p50, p99 and largest latency, the CPU the
# relay and the echo server spent per transaction, the client's CPU, and
# the ratios tsock/socat and tsock/direct.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=5] [RUNS=1] [SIZE=64]
#        [CONNS="1 50"] reqresp.sh
#
# With RUNS > 1 each case is run RUNS times (the paths taking turns) and
# the run with the most transactions/s is shown.  On 2 CPUs the client,
# the relay and the echo server share the CPUs: the "CPU us/trans"
# columns, which do not depend on how hard the relay was pushed, are the
# steadier comparison, and a client near 100% CPU means the client may
# be the limit.  bench/syscalls.sh counts the relay's system calls per
# message under the same traffic.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat cc

SECS=${SECS:-5}
RUNS=${RUNS:-1}
SIZE=${SIZE:-64}
CONNS=${CONNS:-1 50}
HZ=$(getconf CLK_TCK)

# The load generator and echo server, built for this run only.
RR=$BENCH_TMP/reqresp
cc -O2 -o "$RR" "$BENCH_DIR/reqresp.c" || die "cannot build reqresp.c"

bg_start echo "$RR" echo
ECHO_PID=$LAST_PID
wait_ready echo
ECHO_PORT=$READY_PORT

# The relays stay up for the whole run (idle while the others are
# measured); CPU is counted as the difference over each measurement.
bg_start tsock "$TSOCK" relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$ECHO_PORT"
TSOCK_PID=$LAST_PID
wait_ready tsock
TSOCK_PORT=$READY_PORT

# socat cannot report a port it picked: take one that was free (the way
# the other scripts do), and wait until socat listens on it.
SOCAT_PORT=$(free_port tcp)
bg_start socat socat "TCP-LISTEN:$SOCAT_PORT,bind=127.0.0.1,fork,reuseaddr,backlog=1024" \
	"TCP:127.0.0.1:$ECHO_PORT"
SOCAT_PID=$LAST_PID
wait_port "$SOCAT_PORT"

# cpu_ticks PID: CPU ticks of PID (user + system), plus those of its
# children: the reaped ones (cutime + cstime) and the living ones.  For
# socat the forked children do the relaying.
cpu_ticks() {
	local pid=$1 total=0 f child
	for child in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
		# the fields after "(comm) ": f[11] utime, f[12] stime,
		# f[13] cutime, f[14] cstime (stat(5) fields 14 to 17)
		read -r -a f <<<"$(sed 's/^.*) //' "/proc/$child/stat" 2>/dev/null || true)"
		((${#f[@]} > 14)) || continue
		total=$((total + f[11] + f[12]))
		if [[ $child == "$pid" ]]; then
			total=$((total + f[13] + f[14]))
		fi
	done
	echo "$total"
}

# until socat's children for the last client have ended and been reaped
# (their CPU then shows in socat's cutime); bounded to 2 s.
wait_children() {
	local i
	for ((i = 0; i < 40; i++)); do
		pgrep -P "$1" >/dev/null 2>&1 || return 0
		sleep 0.05
	done
}

# us_per ticks count: CPU microseconds per transaction
us_per() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN {
		if (n == "-" || n + 0 == 0) print "-"; else printf "%.2f", t * 1e6 / hz / n }'
}

# measure PATH CONNS: one run; "TPS P50 P99 MAX N CLIENT% RELAY_US ECHO_US"
# in RESULT (RESULT empty when the client failed).
measure() {
	local path=$1 conns=$2 port relay_pid out r0 r1 e0 e1 tps p50 p99 mx n cpu _
	case $path in
	direct) port=$ECHO_PORT relay_pid= ;;
	tsock) port=$TSOCK_PORT relay_pid=$TSOCK_PID ;;
	socat) port=$SOCAT_PORT relay_pid=$SOCAT_PID ;;
	esac
	RESULT=
	r0=0 r1=0
	[[ -z $relay_pid ]] || r0=$(cpu_ticks "$relay_pid")
	e0=$(cpu_ticks "$ECHO_PID")
	# bounded: SECS, the connects and warm-up (<= 10 s), and slack
	if ! out=$(timeout --foreground -k 2 $((SECS + 30)) "$RR" load "$port" "$conns" "$SECS" "$SIZE" \
		2>"$BENCH_TMP/load.err"); then
		note "$path, $conns conns: client failed: $(tail -2 "$BENCH_TMP/load.err")"
		return 0
	fi
	if [[ -n $relay_pid ]]; then
		[[ $path != socat ]] || wait_children "$relay_pid"
		r1=$(cpu_ticks "$relay_pid")
	fi
	e1=$(cpu_ticks "$ECHO_PID")
	read -r tps p50 p99 mx n cpu _ <<<"$out"
	local relay_us=-
	[[ -z $relay_pid ]] || relay_us=$(us_per $((r1 - r0)) "$n")
	RESULT="$tps $p50 $p99 $mx $n $cpu $relay_us $(us_per $((e1 - e0)) "$n")"
}

# Results by "PATH CONNS": the best run's RESULT.
declare -A BEST=()
for conns in $CONNS; do
	for ((run = 1; run <= RUNS; run++)); do
		for path in tsock socat direct; do
			note "$path, $conns conns, run $run: ${SECS}s"
			measure "$path" "$conns"
			[[ -n $RESULT ]] || continue
			prev=${BEST["$path $conns"]:-}
			if [[ -z $prev ]] || ((${RESULT%% *} > ${prev%% *})); then
				BEST["$path $conns"]=$RESULT
			fi
		done
	done
done

echo
echo "Request/response: ${SIZE}-byte request, ${SIZE}-byte answer, one in flight per connection,"
echo "through a relay to an epoll echo server on 127.0.0.1; ${SECS}s per case, best of $RUNS"
machine_line
printf '%-6s %-12s %9s %8s %8s %8s %12s %11s %8s\n' conns path "trans/s" "p50 us" \
	"p99 us" "max us" "relay us/tr" "echo us/tr" "client%"
for conns in $CONNS; do
	declare -A tps=() p50s=()
	for path in tsock socat direct; do
		r=${BEST["$path $conns"]:-}
		if [[ -z $r ]]; then
			printf '%-6s %-12s %9s\n' "$conns" "$path" -
			tps[$path]=- p50s[$path]=-
			continue
		fi
		read -r t p50 p99 mx _ cpu rus eus <<<"$r"
		tps[$path]=$t p50s[$path]=$p50
		printf '%-6s %-12s %9s %8s %8s %8s %12s %11s %8s\n' "$conns" "$path" \
			"$t" "$p50" "$p99" "$mx" "$rus" "$eus" "$cpu"
	done
	echo "  $conns conns: trans/s tsock/socat $(ratio "${tps[tsock]}" "${tps[socat]}")," \
		"tsock/direct $(ratio "${tps[tsock]}" "${tps[direct]}");" \
		"p50 tsock/socat $(ratio "${p50s[tsock]}" "${p50s[socat]}")," \
		"tsock/direct $(ratio "${p50s[tsock]}" "${p50s[direct]}")"
	unset tps p50s
done
echo "(relay us/tr: the relay's CPU per transaction, socat's summed over its"
echo " processes; echo us/tr: the echo server's; client%: the load generator's"
echo " CPU in percent of one CPU)"
exit 0
