#!/usr/bin/env bash
#
# concurrent.sh - many relayed connections at once, and memory per
# connection: N clients -> relay -> asyncio echo server on 127.0.0.1, each
# client sending a small message every second for DURATION seconds and
# checking its echo.  For tsock relay, and for socat TCP-LISTEN,fork
# (one process per client) when N <= SOCAT_MAX.
#
# usage: [TSOCK=path/to/tsock|builddir] [DURATION=10] [SOCAT_MAX=1000]
#        concurrent.sh [N]            (N defaults to 1000; try 9000 too)
#
# Memory: the relay's VmRSS before the first client, its peak while the
# N connections are held, and 1 s after they closed; per connection is
# (peak - before) / N.  For socat the RSS of all its processes is summed,
# which counts the pages they share once per process; Pss, which splits
# shared pages between the processes, is shown beside it.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need socat

N=${1:-1000}
DURATION=${DURATION:-10}
SOCAT_MAX=${SOCAT_MAX:-1000}
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || die "N must be a positive number"

# Each relayed connection costs the relay two descriptors (client and
# back end), the client and the echo server one each: raise the soft
# limit to the hard one, which the children inherit.
ulimit -n "$(ulimit -Hn)"
FDS=$(ulimit -n)
if [[ $FDS != unlimited ]] && ((FDS < 2 * N + 64)); then
	note "ulimit -n is $FDS: too few for $N relayed connections (need $((2 * N + 64)))"
fi

bg_start echo "$PYTHON" "$UTIL" echo-async
wait_ready echo
ECHO_PORT=$READY_PORT

# Bounded: connects (<= 60 s), the talk, closing, and some slack.
CLIENT_LIMIT=$((DURATION + 120))

# run_client NAME PORT PID [--tree]: the client through PORT, watching
# PID; its JSON report in $BENCH_TMP/NAME.json.
run_client() {
	local name=$1 port=$2 pid=$3
	shift 3
	if ! timeout --foreground -k 5 "$CLIENT_LIMIT" "$PYTHON" "$BENCH_DIR/conc_client.py" \
		--port "$port" --conns "$N" --duration "$DURATION" \
		--watch "$pid" "$@" >"$BENCH_TMP/$name.json" 2>"$BENCH_TMP/$name.client.err"; then
		note "$name client failed: $(tail -3 "$BENCH_TMP/$name.client.err")"
		echo '{}' >"$BENCH_TMP/$name.json"
	fi
	grep -v '^$' "$BENCH_TMP/$name.client.err" >&2 || true
}

# row NAME LABEL: one table line from NAME's report.
row() {
	local name=$1 label=$2 opened held failed ri rh rc pi ph per pper
	read -r opened held failed ri rh rc pi ph <<<"$("$PYTHON" "$UTIL" json-get \
		"$BENCH_TMP/$name.json" opened held echo_failed rss_idle rss_held \
		rss_closed pss_idle pss_held)"
	per=$(awk -v a="$ri" -v b="$rh" -v n="$N" 'BEGIN {
		if (a == "-" || b == "-") print "-"; else printf "%.1f", (b - a) / n }')
	pper=$(awk -v a="$pi" -v b="$ph" -v n="$N" 'BEGIN {
		if (a == "-" || b == "-") print "-"; else printf "%.1f", (b - a) / n }')
	printf '%-22s %6s %6s %6s %10s %10s %10s %9s %9s\n' "$label" "$opened" \
		"$held" "$failed" "$ri" "$rh" "$rc" "$per" "$pper"
	RESULT="$per $pper"
}

note "tsock relay, $N connections"
bg_start tsock "$TSOCK" relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$ECHO_PORT"
TSOCK_PID=$LAST_PID
wait_ready tsock
run_client tsock "$READY_PORT" "$TSOCK_PID"
stop_bg "$TSOCK_PID"

SOCAT_RAN=no
if ((N <= SOCAT_MAX)); then
	note "socat TCP-LISTEN,fork, $N connections"
	# socat cannot report a port it picked: take one that was free.
	SOCAT_PORT=$(free_port tcp)
	bg_start socat socat "TCP-LISTEN:$SOCAT_PORT,bind=127.0.0.1,reuseaddr,fork,backlog=4096" \
		"TCP:127.0.0.1:$ECHO_PORT"
	SOCAT_PID=$LAST_PID
	wait_port "$SOCAT_PORT"
	run_client socat "$SOCAT_PORT" "$SOCAT_PID" --tree
	stop_bg "$SOCAT_PID"
	SOCAT_RAN=yes
else
	note "socat skipped: N=$N > SOCAT_MAX=$SOCAT_MAX (one process per connection)"
fi

echo
echo "Concurrent connections: $N clients through a relay to an echo server on 127.0.0.1,"
echo "one message a second each for ${DURATION}s; memory in KiB (RSS; socat: summed over its processes)"
machine_line
printf '%-22s %6s %6s %6s %10s %10s %10s %9s %9s\n' relay opened held failed \
	"RSS before" "RSS held" "RSS after" "KiB/conn" "PSS/conn"
row tsock "tsock relay"
read -r TSOCK_PER TSOCK_PPER <<<"$RESULT"
if [[ $SOCAT_RAN == yes ]]; then
	row socat "socat fork"
	read -r SOCAT_PER SOCAT_PPER <<<"$RESULT"
	echo "memory per connection, socat / tsock: RSS $(ratio "$SOCAT_PER" "$TSOCK_PER"), PSS $(ratio "$SOCAT_PPER" "$TSOCK_PPER")"
fi
exit 0
