#!/usr/bin/env bats
# frame.bats - `tsock relay --frame` with large PDUs and many clients:
# large PDUs between streams are passed on as they arrive (not held
# whole), a PDU cut short is passed on as a reset, and --max-buffer caps
# the memory all relays hold without stalling them.  Loopback only, port
# 0 and readiness lines, every wait bounded.

setup() {
	load helpers
	setup_tmp
	# the interpreter itself, not a wrapper that would outlive a kill
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
}

teardown() {
	teardown_tmp
}

# A sanitizer build pads and keeps freed chunks: its RSS says nothing.
sanitized() {
	ldd "$TSOCK" 2>/dev/null | grep -q 'libasan'
}

# sink NAME CONNS BYTES: a back end that reads everything from CONNS
# connections and prints "done N" for each that brought BYTES bytes
# ("short N" or "reset N" otherwise, at its end).
sink() {
	python_server "$1" "
import threading
lock = threading.Lock()
def say(line):
    with lock:    # one whole line at a time
        print(line, flush=True)
def serve(c, i):
    got = 0
    try:
        while got < $3:
            d = c.recv(1 << 20)
            if not d:
                break
            got += len(d)
    except ConnectionResetError:
        say('reset %d' % got)
        return
    say(('done %d' if got == $3 else 'short %d') % got)
    c.recv(1)
for i in range($2):
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c, i), daemon=True).start()
time.sleep(60)
"
}

@test "relay --frame u32be: 20 clients each half way through a 16 MiB PDU cost far less than 20 PDUs (body passed on as it arrives)" {
	local half=$((8 * 1024 * 1024)) rss_before rss most=0 i
	sink back 20 $((half + 4))
	start_tsock relay relay --frame u32be tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_back"
	rss_before=$(rss_kib "$PID_relay")
	# each client sends the header and half the body, then waits
	cat >"$TMP/client.py" <<'EOF2'
import socket, struct, sys, threading, time
port = int(sys.argv[1])
half = 8 * 1024 * 1024
body = b'\x5a' * half
socks = []
def one():
    c = socket.create_connection(('127.0.0.1', port), timeout=30)
    c.sendall(struct.pack('>I', 2 * half - 4) + body)
    socks.append(c)
ts = [threading.Thread(target=one) for _ in range(20)]
for t in ts: t.start()
for t in ts: t.join(60)
print('sent %d' % len(socks), flush=True)
time.sleep(30)
EOF2
	"$PY" "$TMP/client.py" "$PORT_relay" >"$TMP/client.out" 2>&1 3>&- &
	BG_PIDS+=("$!")
	# while the halves go through, tsock's RSS at its highest
	for ((i = 0; i < 1000; i++)); do
		rss=$(rss_kib "$PID_relay")
		((rss > most)) && most=$rss
		[ "$(grep -c '^done' "$TMP/back.out")" -eq 20 ] && break
		sleep 0.02
	done
	rss=$(rss_kib "$PID_relay")
	((rss > most)) && most=$rss
	echo "VmRSS before $rss_before kB, at most $most kB"
	tail -n 5 "$TMP/relay.err" "$TMP/client.out"
	cat "$TMP/back.out"
	# holding the halves whole would take 160 MiB
	if ! sanitized; then
		[ $((most - rss_before)) -lt 65536 ]
	fi
	# every half reached the back end, before the PDUs were complete
	[ "$(grep -c '^done' "$TMP/back.out")" -eq 20 ]
	kill -0 "$PID_relay"
}

@test "relay --frame u32be: 16 MiB PDUs (and small ones between them) go through a stream echo intact" {
	echo_back back
	start_tsock relay relay --frame u32be tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_back"
	run run_bounded 60 "$PY" - "$PORT_relay" 3>&- <<'EOF2'
import hashlib, os, socket, struct, sys, threading
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
sizes = [16 * 1024 * 1024 - 4, 3, 65536, 65537, 70000, 0,
         16 * 1024 * 1024 - 4, 1 << 20, 17]
blob = b''.join(struct.pack('>I', n) + os.urandom(n) for n in sizes)
def send():
    c.sendall(blob)
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
h = hashlib.sha256()
got = 0
while True:
    d = c.recv(1 << 20)
    if not d:
        break
    h.update(d)
    got += len(d)
t.join(30)
if got != len(blob) or h.digest() != hashlib.sha256(blob).digest():
    sys.exit('%d of %d bytes back, changed: %s' % (got, len(blob),
             h.digest() != hashlib.sha256(blob).digest()))
print('ok')
EOF2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "relay --frame u32be: a client that ends inside a large PDU's body resets the back end (no clean end for a cut PDU)" {
	sink back 1 $((1024 * 1024 + 4))
	start_tsock relay relay -v --frame u32be tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_back"
	run run_bounded 10 "$PY" - "$PORT_relay" 3>&- <<'EOF2'
import socket, struct, sys, time
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
c.sendall(struct.pack('>I', 1024 * 1024) + b'x' * 300000)
time.sleep(0.5)        # let the head reach the back end first
c.shutdown(socket.SHUT_WR)   # a clean end, but inside the PDU
c.recv(1)
EOF2
	[ "$status" -eq 0 ]
	wait_for_line "$TMP/back.out" '^(done|short|reset) ' 10
	cat "$TMP/back.out" "$TMP/relay.err"
	grep -qx 'reset 300004' "$TMP/back.out"
	grep -q 'ended inside a PDU' "$TMP/relay.err"
	kill -0 "$PID_relay"
}

@test "--max-buffer: sizes below 256k, zero, junk and a missing suffix number are usage errors (exit 2)" {
	local bad
	for bad in 0 255k 1000 x 64q -1 '' 99999999999999999999g; do
		run run_bounded 5 "$TSOCK" --max-buffer "$bad" relay \
			tcp:127.0.0.1:0 tcp:127.0.0.1:9 </dev/null
		echo "'$bad': $status $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"--max-buffer"*"at least 256k"* ]]
	done
	run run_bounded 5 "$TSOCK" --help
	[[ "$output" == *"--max-buffer"* ]]
}

@test "relay --frame u32be --max-buffer 256k: 20 echo clients with 1 MiB PDUs each way all complete (no stall)" {
	echo_back back
	start_tsock relay relay --max-buffer 256k --frame u32be \
		tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_back"
	run run_bounded 60 "$PY" - "$PORT_relay" 3>&- <<'EOF2'
import os, socket, struct, sys, threading
port = int(sys.argv[1])
bad = []
def one(i):
    try:
        talk(i)
    except Exception as e:
        bad.append('client %d: %r' % (i, e))
def talk(i):
    c = socket.create_connection(('127.0.0.1', port), timeout=30)
    sizes = [1 << 20, 100, 40000, (1 << 20) + 1, 0, 65536, 1 << 20]
    blob = b''.join(struct.pack('>I', n) + os.urandom(n) for n in sizes)
    t = threading.Thread(target=lambda: (c.sendall(blob),
                                         c.shutdown(socket.SHUT_WR)))
    t.start()
    back = bytearray()
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        back += d
    t.join(30)
    if bytes(back) != blob:
        bad.append('client %d: %d of %d bytes' % (i, len(back), len(blob)))
ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
for t in ts: t.start()
for t in ts: t.join(50)
if bad or any(t.is_alive() for t in ts):
    sys.exit('; '.join(bad) or 'a client is stuck')
print('ok')
EOF2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	kill -0 "$PID_relay"
}

@test "relay --frame u32be tcp->unix-dgram --max-buffer 256k: PDUs small and over 64 KiB become datagrams and come back as PDUs" {
	start_tsock echo udp-echo "unix-dgram:$TMP/echo"
	start_tsock relay relay --max-buffer 256k --frame u32be \
		tcp:127.0.0.1:0 "unix-dgram:$TMP/echo"
	run run_bounded 30 "$PY" - "$PORT_relay" 3>&- <<'EOF2'
import os, socket, struct, sys, threading
port = int(sys.argv[1])
bad = []
def one(i):
    try:
        talk(i)
    except Exception as e:
        bad.append('client %d: %r' % (i, e))
def talk(i):
    c = socket.create_connection(('127.0.0.1', port), timeout=10)
    for n in [10, 60000, 100000, 150000, 5]:
        p = struct.pack('>I', n) + os.urandom(n)
        c.sendall(p)
        back = b''
        while len(back) < len(p):
            d = c.recv(1 << 20)
            if not d:
                break
            back += d
        if back != p:
            bad.append('client %d: PDU of %d changed' % (i, n))
            return
ts = [threading.Thread(target=one, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join(25)
if bad or any(t.is_alive() for t in ts):
    sys.exit('; '.join(bad) or 'a client is stuck')
print('ok')
EOF2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}
