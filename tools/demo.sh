#!/bin/sh
# Run tsock's main job on its defaults: a UDP echo server on
# udp:127.0.0.1:7007, and a client that sends a line through it.
set -e
tsock=${TSOCK:-$(dirname "$0")/../src/tsock}
log=$(mktemp)
trap 'kill "$server" 2>/dev/null; rm -f "$log"' EXIT

"$tsock" -v udp-echo 2>"$log" &
server=$!
# wait (at most 5 s) for the readiness line
i=0
until grep -q '^listening on ' "$log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$server" 2>/dev/null; then
		cat "$log" >&2
		exit 1
	fi
	sleep 0.05
done
sed -n 's/^/server: /p' "$log"
echo "hello from tsock" | "$tsock" connect -q 0.5 udp:127.0.0.1:7007
