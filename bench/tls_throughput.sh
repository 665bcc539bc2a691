#!/usr/bin/env bash
#
# tls_throughput.sh - TLS relay throughput: iperf3 client -> a relay that
# originates TLS -> a relay that terminates it -> iperf3 server, all on
# 127.0.0.1, for tsock (relay tcp -> tls, relay tls -> tcp) and for socat
# (TCP-LISTEN -> OPENSSL, OPENSSL-LISTEN -> TCP, with -b 1048576), plus the
# direct connection with no relay as the ceiling.
#
# usage: [TSOCK=path/to/tsock|builddir] [SECS=5] [RUNS=2] tls_throughput.sh
#
# Both chains encrypt and decrypt every byte once, with the TLS versions
# and ciphers their libraries pick by default (GnuTLS for tsock, OpenSSL
# for socat), on a throwaway EC certificate made for the run.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
need iperf3 socat openssl

SECS=${SECS:-5}
RUNS=${RUNS:-2}

# a certificate for 127.0.0.1, made for this run only
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$BENCH_TMP/key.pem" -out "$BENCH_TMP/cert.pem" -days 1 \
	-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
	2>/dev/null
CERT=$BENCH_TMP/cert.pem
KEY=$BENCH_TMP/key.pem

SERVER_PORT=$(free_port tcp)
bg_start iperf3-server iperf3 -s -B 127.0.0.1 -p "$SERVER_PORT"
wait_port "$SERVER_PORT"

# measure PORT: best receiver Gbit/s of RUNS iperf3 runs, in RESULT
measure() {
	local port=$1 best=- run bps json gbps all=
	for ((run = 1; run <= RUNS; run++)); do
		json=$BENCH_TMP/iperf-$port-$run.json
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

note "tsock: relay tcp -> tls, relay tls -> tcp"
bg_start tsock-term "$TSOCK" relay --cert "$CERT" --key "$KEY" \
	tls:127.0.0.1:0 "tcp:127.0.0.1:$SERVER_PORT"
TERM_PID=$LAST_PID
wait_ready tsock-term
TLS_PORT=$READY_PORT
bg_start tsock-orig "$TSOCK" relay --cafile "$CERT" tcp:127.0.0.1:0 \
	"tls:127.0.0.1:$TLS_PORT"
ORIG_PID=$LAST_PID
wait_ready tsock-orig
measure "$READY_PORT"
TSOCK_GBPS=$RESULT
TSOCK_ALL=$RUNS_SEEN
stop_bg "$ORIG_PID"
stop_bg "$TERM_PID"

note "socat -b 1048576: TCP-LISTEN -> OPENSSL, OPENSSL-LISTEN -> TCP"
TLS_PORT=$(free_port tcp)
bg_start socat-term socat -b 1048576 \
	"OPENSSL-LISTEN:$TLS_PORT,bind=127.0.0.1,reuseaddr,fork,cert=$CERT,key=$KEY,verify=0" \
	"TCP:127.0.0.1:$SERVER_PORT"
TERM_PID=$LAST_PID
wait_port "$TLS_PORT"
PLAIN_PORT=$(free_port tcp)
bg_start socat-orig socat -b 1048576 \
	"TCP-LISTEN:$PLAIN_PORT,bind=127.0.0.1,reuseaddr,fork" \
	"OPENSSL:127.0.0.1:$TLS_PORT,cafile=$CERT"
ORIG_PID=$LAST_PID
wait_port "$PLAIN_PORT"
measure "$PLAIN_PORT"
SOCAT_GBPS=$RESULT
SOCAT_ALL=$RUNS_SEEN
stop_bg "$ORIG_PID"
stop_bg "$TERM_PID"

echo
echo "TLS relay throughput: iperf3 -> originate TLS -> terminate TLS -> iperf3, ${SECS}s per run, best of $RUNS"
machine_line
printf '%-30s %8s %10s   %s\n' path Gbit/s "vs direct" "(every run)"
printf '%-30s %8s %10s   %s\n' "direct (no relay)" "$DIRECT" "$(ratio "$DIRECT" "$DIRECT")" "$DIRECT_ALL"
printf '%-30s %8s %10s   %s\n' "tsock (GnuTLS)" "$TSOCK_GBPS" "$(ratio "$TSOCK_GBPS" "$DIRECT")" "$TSOCK_ALL"
printf '%-30s %8s %10s   %s\n' "socat -b 1048576 (OpenSSL)" "$SOCAT_GBPS" "$(ratio "$SOCAT_GBPS" "$DIRECT")" "$SOCAT_ALL"
echo "ratio tsock / socat:  $(ratio "$TSOCK_GBPS" "$SOCAT_GBPS")"
exit 0
