#!/usr/bin/env bats
#
# resolve.bats - name lookups for a back end given by name: however many
# clients ask, a few threads, one lookup per name at a time, answers
# reused for a few seconds, and clients that give up cost nothing.
#
# getaddrinfo is made slow (and counted) by preloading the test library
# $SLOW_GETADDRINFO (tests/slow_getaddrinfo.so): each lookup of a name
# waits SLOW_GAI_DELAY_MS and logs "start"/"end" lines in SLOW_GAI_LOG.
# The back end is tcp4:localhost (from /etc/hosts, no DNS).  Loopback
# only; every wait is bounded.

setup() {
	load helpers
	setup_tmp
	[ -n "${SLOW_GETADDRINFO:-}" ] ||
		SLOW_GETADDRINFO=$BATS_TEST_DIRNAME/../slow_getaddrinfo.so
	[ -f "$SLOW_GETADDRINFO" ] || skip "no $SLOW_GETADDRINFO (make check builds it)"
	getent ahostsv4 localhost | grep -q '^127\.' ||
		skip "localhost does not resolve to 127.x here"
	export SLOW_GAI_LOG=$TMP/gai.log
	# a sanitizer build must accept the preloaded library before its
	# runtime
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	echo_back echo
}

teardown() {
	teardown_tmp
}

# slow_relay DELAY_MS ARGS...: tsock relay from tcp:127.0.0.1:0 to the
# echo server by name, lookups taking DELAY_MS; PID_relay, PORT_relay.
slow_relay() {
	local delay=$1
	shift
	SLOW_GAI_DELAY_MS=$delay LD_PRELOAD=$SLOW_GETADDRINFO \
		start_tsock relay relay "$@" tcp:127.0.0.1:0 \
		"tcp4:localhost:$PORT_echo"
}

# clients N [SECONDS]: N clients connect at once, each sends one line and
# waits for it back; prints "ok K" (K echoed), "reset K", "closed K".
# Signals it has connected them all by creating $TMP/connected.
clients() {
	run_bounded "${2:-20}" python3 -c '
import os, socket, sys, selectors
n, port, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
got = {}
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"hello %d\n" % i)
    c.setblocking(False)
    sel.register(c, selectors.EVENT_READ, i)
    got[i] = b""
open(flag, "w").close()
ok = reset = closed = 0
left = n
while left:
    events = sel.select(timeout=15)
    if not events:
        break
    for key, _ in events:
        c, i = key.fileobj, key.data
        try:
            d = c.recv(4096)
        except ConnectionResetError:
            d, reset = None, reset + 1
        if d:
            got[i] += d
            if got[i] != b"hello %d\n" % i:
                continue
            ok += 1
        elif d == b"":
            closed += 1
        sel.unregister(c)
        c.close()
        left -= 1
print("ok %d reset %d closed %d" % (ok, reset, closed))
' "$1" "$PORT_relay" "$TMP/connected"
}

# threads PID: the number of threads of a process.
threads() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

# lookups: how many lookups of localhost have started.
lookups() {
	grep -c '^start localhost ' "$SLOW_GAI_LOG" 2>/dev/null || true
}

@test "300 clients of a named back end while its lookup is slow: one lookup, at most 4 helper threads, all served" {
	slow_relay 1500
	clients 300 >"$TMP/clients.out" &
	local cpid=$!
	wait_for_line "$SLOW_GAI_LOG" '^start localhost ' 10
	wait_for_file "$TMP/connected" 10
	# every client is connected and waits for the one lookup
	local t
	t=$(threads "$PID_relay")
	echo "threads while 300 clients wait: $t"
	[ "$t" -le 5 ]
	wait "$cpid"
	cat "$TMP/clients.out"
	[ "$(cat "$TMP/clients.out")" = "ok 300 reset 0 closed 0" ]
	echo "lookups: $(lookups)"
	[ "$(lookups)" -eq 1 ]
	[ "$(threads "$PID_relay")" -le 5 ]
}

@test "clients after a lookup are answered from its result: no new lookup for a few seconds" {
	slow_relay 200
	local start=$SECONDS
	run clients 1
	[ "$output" = "ok 1 reset 0 closed 0" ]
	local i
	for i in 1 2 3 4 5; do
		run clients 4
		[ "$output" = "ok 4 reset 0 closed 0" ]
	done
	# an answer is reused for 5 s (RESOLVE_CACHE_SECONDS): one lookup,
	# and on a machine so loaded that this took longer, one more per
	# 5 s at most (not one per client)
	local took=$((SECONDS - start))
	echo "lookups: $(lookups) in about $took s"
	[ "$(lookups)" -le $((1 + took / 5)) ]
}

@test "-w 1 with a lookup that takes 6 s: clients are closed after -w, and what they asked costs nothing more" {
	slow_relay 6000 -w 1
	run clients 100 10
	echo "clients: $output"
	# all given up by the timeout, none served, and that before the
	# lookup ended (not a wall-clock bound: a loaded machine may be slow)
	[[ "$output" == "ok 0 "* ]]
	refute grep -q '^end localhost ' "$SLOW_GAI_LOG"
	# the one lookup still runs (getaddrinfo cannot be stopped) but
	# nothing else: no thread per client, no further lookups
	[ "$(threads "$PID_relay")" -le 5 ]
	wait_for_line "$SLOW_GAI_LOG" '^end localhost ' 10
	[ "$(lookups)" -eq 1 ]
	# the relay goes on: the next client is served from that answer
	run clients 1
	[ "$output" = "ok 1 reset 0 closed 0" ]
	[ "$(lookups)" -eq 1 ]
}

@test "400 clients arriving in waves while lookups are slow: threads stay bounded, every client served" {
	slow_relay 500
	local i t max=0
	for i in 1 2 3 4; do
		rm -f "$TMP/connected"
		clients 100 >"$TMP/wave$i.out" &
		# sampled while the wave's clients are all waiting
		wait_for_file "$TMP/connected" 10
		t=$(threads "$PID_relay")
		[ "$t" -gt "$max" ] && max=$t
		wait $!
	done
	echo "most threads seen: $max"
	[ "$max" -le 5 ]
	for i in 1 2 3 4; do
		[ "$(cat "$TMP/wave$i.out")" = "ok 100 reset 0 closed 0" ]
	done
}

# tiny_flood_during_lookup FRONT_KIND: 200 peers send 1500 one-byte
# datagrams each to a relay whose back end is still being looked up (the
# lookup ends when the test opens its gate, after the flood); sets TOTAL
# and MOST (what reached the back end in all and from one session) and
# GROWTH (the relay's RSS growth in kB meanwhile).
tiny_flood_during_lookup() {
	local kind=$1 front
	# a sink that counts what reaches the back end from each source,
	# until 3 s of quiet
	python3 -c '
import collections, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
except OSError:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
s.bind(("127.0.0.1", 0))
print("listening on udp:127.0.0.1:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
s.settimeout(40)
per = collections.Counter()
try:
    while True:
        _, src = s.recvfrom(100)
        per[src] += 1
        s.settimeout(3)
except socket.timeout:
    pass
print(sum(per.values()), max(per.values()) if per else 0, flush=True)
' >"$TMP/sink.out" 2>"$TMP/sink.err" &
	local sink=$!
	BG_PIDS+=("$sink")
	local line
	line=$(wait_for_line "$TMP/sink.err" '^listening on ')
	if [ "$kind" = udp ]; then
		front=udp:127.0.0.1:0
	else
		front=unix-dgram:$TMP/front.sock
	fi
	SLOW_GAI_GATE=$TMP/gate LD_PRELOAD=$SLOW_GETADDRINFO \
		start_tsock relay relay --max-rate 0 \
		"$front" "udp4:localhost:${line##*:}"
	local rss_before where=$TMP/front.sock
	[ "$kind" != udp ] || where=$PORT_relay
	rss_before=$(rss_kib "$PID_relay")
	# 200 peers x 1500 one-byte datagrams, paced so that the relay's
	# socket queue does not overflow, all while the lookup runs
	run run_bounded 60 python3 -c '
import socket, sys, time
kind, where = sys.argv[1], sys.argv[2]
socks = []
for p in range(200):
    if kind == "udp":
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.connect(("127.0.0.1", int(where)))
    else:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.bind("\0tsock-test-%d-%d" % (time.monotonic_ns(), p))
        c.connect(where)
    socks.append(c)
for i in range(1500):
    for c in socks:
        c.send(b"x")
    time.sleep(0.001)
print("sent")
' "$kind" "$where"
	[ "$output" = sent ]
	# still looking up: what is queued is all there is
	grep -q '^start localhost ' "$SLOW_GAI_LOG"
	refute grep -q '^end localhost ' "$SLOW_GAI_LOG"
	local rss_during
	rss_during=$(rss_kib "$PID_relay")
	GROWTH=$((rss_during - rss_before))
	touch "$TMP/gate"
	wait "$sink"
	read -r TOTAL MOST <"$TMP/sink.out"
	echo "VmRSS before $rss_before kB, with the queues $rss_during kB"
	echo "the back end got $TOTAL datagrams, at most $MOST from one session"
	[ "$TOTAL" -ge 1 ]
}

# A unix-dgram front serves every session from its own socket, so tsock
# queues what it reads for each until the back end opens: its caps hold.
@test "relay unix-dgram: tiny datagrams from 200 peers while the back end's name is looked up: at most 1024 queued per session, 65536 in all" {
	tiny_flood_during_lookup unix
	[ "$TOTAL" -le 65536 ]
	[ "$MOST" -le 1024 ]
	# 65536 queued datagrams, at about 1 KiB each, stay under 100 MiB
	# (not measurable in a sanitizer build, whose allocator pads every
	# chunk and keeps freed ones: there the counts above must do)
	if ! ldd "$TSOCK" 2>/dev/null | grep -q 'libasan'; then
		[ "$GROWTH" -lt 102400 ]
	fi
}

# An IP session has a socket of its own, where the kernel keeps its
# datagrams until the relay reads: bounded by that socket's buffer, and
# nothing grows in tsock.
@test "relay udp: tiny datagrams from 200 peers while the back end's name is looked up wait in each session's own socket, bounded" {
	tiny_flood_during_lookup udp
	[ "$MOST" -le 1024 ]
	[ "$TOTAL" -le $((200 * 1024)) ]
	if ! ldd "$TSOCK" 2>/dev/null | grep -q 'libasan'; then
		[ "$GROWTH" -lt 20480 ]
	fi
}
