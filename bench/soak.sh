#!/usr/bin/env bash
#
# soak.sh - a bounded soak of tsock relays of every endpoint type, with
# every byte checked, and the relays' descriptors and memory watched.
#
# usage: [TSOCK=path/to/tsock|builddir] [SOAK_SECONDS=300] [SOAK_WORKERS=4]
#        [SOAK_SEED=1] bench/soak.sh
#
# Six relays, each its own tsock process, in front of python asyncio echo
# servers (soak_client.py backend: TCP, unix stream and UDP):
#     tcp_tcp     relay tcp:127.0.0.1:0 tcp:127.0.0.1:ECHO
#     unix_tcp    relay unix:TMP/front.sock tcp:127.0.0.1:ECHO
#     tcp_unix    relay tcp:127.0.0.1:0 unix:TMP/echo.sock
#     tcp_tcp32   relay --frame u32be tcp:127.0.0.1:0 tcp:127.0.0.1:ECHO
#     udp_udp     relay -i 5 udp:127.0.0.1:0 udp:127.0.0.1:ECHO
#     udp_tcp16   relay -i 5 --frame u16be udp:127.0.0.1:0 tcp:127.0.0.1:ECHO
# (-i 5: datagram sessions end after 5 s without traffic instead of 60, so
# that they are all gone when the fds are counted at the end.)
#
# For SOAK_SECONDS (default 300), soak_client.py drive runs, per stream
# relay, SOAK_WORKERS workers (default 4) opening connections one after
# another, short (1 B - 256 KiB) and 1 in 20 bulk (1 - 16 MiB at full
# speed), plus SOAK_WORKERS/2 workers of long ones (64 KiB - 4 MiB in
# chunks with pauses, over 2 - 15 s); through the framed relay the bytes
# are u32be PDUs of random sizes, cut at random places.  Per UDP relay,
# SOAK_WORKERS workers run sessions (a socket each) of 1 - 300 datagrams
# of random sizes, one in flight.  Every connection's echo is checked by
# sha256 and length, every datagram byte for byte.
#
# At the end it prints: connections and datagrams checked, datagrams
# lost, mismatches, stream errors, and for each tsock its open fds at
# the start (before any traffic) and at the end (once idle again: up to
# 20 s for connections to close and sessions to expire), and its VmRSS at
# the start, in the middle and at the end of the load, once idle after,
# the peak, and every 5 s sample (it should stay flat).
#
# Exit status: 0 when every byte came back and no tsock gained a
# descriptor; 1 on any mismatch, stream error, fd growth or tsock death.
# Loopback and unix sockets in a private temp dir only; every process is
# started and ended by its own pid, the temp dir removed on exit.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init

SOAK_SECONDS=${SOAK_SECONDS:-300}
SOAK_WORKERS=${SOAK_WORKERS:-4}
SOAK_SEED=${SOAK_SEED:-1}
[[ $SOAK_SECONDS =~ ^[0-9]+$ && $SOAK_SECONDS -gt 0 ]] ||
	die "SOAK_SECONDS must be a positive number of seconds"
[[ $SOAK_WORKERS =~ ^[0-9]+$ && $SOAK_WORKERS -gt 0 ]] ||
	die "SOAK_WORKERS must be a positive number"
[[ $SOAK_SEED =~ ^[0-9]+$ ]] || die "SOAK_SEED must be a number"
CLIENT="$BENCH_DIR/soak_client.py"

# ready_line NAME REGEX [SECS]: the first line of $BENCH_TMP/NAME.err
# matching REGEX, waited for (bounded); dies if NAME exits first.
ready_line() {
	local name=$1 re=$2 secs=${3:-10} i line pid=${BENCH_NAMED[$1]:-}
	for ((i = 0; i < secs * 20; i++)); do
		line=$(grep -m1 -E "$re" "$BENCH_TMP/$name.err" 2>/dev/null || true)
		if [[ -n $line ]]; then
			echo "$line"
			return 0
		fi
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			cat "$BENCH_TMP/$name.err" >&2 || true
			die "$name exited before it was ready"
		fi
		sleep 0.05
	done
	cat "$BENCH_TMP/$name.err" >&2 || true
	die "$name: not ready within ${secs}s"
}

# The echo servers.
bg_start backend "$PYTHON" "$CLIENT" backend --unix "$BENCH_TMP/echo.sock"
ECHO_TCP=$(ready_line backend '^listening on tcp:')
ECHO_TCP=${ECHO_TCP#listening on }
ECHO_UDP=$(ready_line backend '^listening on udp:')
ECHO_UDP=${ECHO_UDP#listening on }
ready_line backend '^listening on unix:' >/dev/null
ECHO_UNIX=unix:$BENCH_TMP/echo.sock

# relay NAME ARGS...: start `tsock relay ARGS...`; its front endpoint (as
# printed on its readiness line) in FRONT[NAME], pid in PID[NAME].
declare -A FRONT=() PID=()
RELAYS=()
relay() {
	local name=$1 line
	shift
	bg_start "$name" "$TSOCK" relay "$@"
	PID[$name]=$LAST_PID
	line=$(ready_line "$name" '^listening on ')
	FRONT[$name]=${line#listening on }
	RELAYS+=("$name")
}

relay tcp_tcp tcp:127.0.0.1:0 "$ECHO_TCP"
relay unix_tcp "unix:$BENCH_TMP/front.sock" "$ECHO_TCP"
relay tcp_unix tcp:127.0.0.1:0 "$ECHO_UNIX"
relay tcp_tcp32 --frame u32be tcp:127.0.0.1:0 "$ECHO_TCP"
relay udp_udp -i 5 udp:127.0.0.1:0 "$ECHO_UDP"
relay udp_tcp16 -i 5 --frame u16be udp:127.0.0.1:0 "$ECHO_TCP"

ARGS=(--seconds "$SOAK_SECONDS" --workers "$SOAK_WORKERS" --seed "$SOAK_SEED")
for name in "${RELAYS[@]}"; do
	ARGS+=(--watch "$name=${PID[$name]}")
done
ARGS+=(--tcp "${FRONT[tcp_tcp]}" --tcp "${FRONT[unix_tcp]}"
	--tcp "${FRONT[tcp_unix]}" --pdu "${FRONT[tcp_tcp32]}"
	--udp "${FRONT[udp_udp]}" --udp-framed "${FRONT[udp_tcp16]}")

note "soak: ${SOAK_SECONDS} s, $SOAK_WORKERS workers per relay, progress every 30 s"
for name in "${RELAYS[@]}"; do
	note "  $name: pid ${PID[$name]}, front ${FRONT[$name]}"
done

status=0
# bounded: the load, a long connection's timeouts, the drain, and slack
timeout -k 5 $((SOAK_SECONDS + 180)) "$PYTHON" "$CLIENT" drive "${ARGS[@]}" ||
	status=$?

# What the relays logged (errors; they run without -v), shortened.
for name in "${RELAYS[@]}"; do
	n=$(grep -vc '^listening on ' "$BENCH_TMP/$name.err" || true)
	echo "  $name logged $n lines"
	if ((n > 0)); then
		grep -v '^listening on ' "$BENCH_TMP/$name.err" | head -5 | sed 's/^/    /'
	fi
	if ! kill -0 "${PID[$name]}" 2>/dev/null; then
		echo "  $name: tsock exited"
		status=1
	fi
done
machine_line
exit "$status"
