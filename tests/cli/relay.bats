#!/usr/bin/env bats
# relay.bats - `tsock relay FRONT BACK` between stream endpoints, against
# real peers (python3 sockets, socat, OpenBSD nc) on loopback.  Ports are
# 0 and found from readiness lines; every wait is bounded.

setup() {
	load helpers
	setup_tmp
	# the interpreter itself, in case python3 is a wrapper that forks it:
	# killing such a wrapper would leave a server running
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
}

teardown() {
	teardown_tmp
}

# ------------------------------------------------------------------ helpers

# two_clients tcp|tcp6|unix ADDRESS PORT FILE_A FILE_B: open two
# connections first, then in parallel send each its file, half-close and
# read everything back into FILE.back.
two_clients() {
	cat >"$TMP/two_clients.py" <<'EOF'
import socket, sys, threading
kind, addr, port, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def connect():
    if kind == 'unix':
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect(addr)
    else:
        fam = socket.AF_INET6 if kind == 'tcp6' else socket.AF_INET
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect((addr, int(port)))
    return c

socks = [connect() for _ in files]     # both open before any data
errors = []

def send(c, data):
    try:
        for i in range(0, len(data), 50000):
            c.sendall(data[i:i + 50000])
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        errors.append('send: %s' % e)

def run(c, path):
    data = open(path, 'rb').read()
    t = threading.Thread(target=send, args=(c, data))
    t.start()
    got = []
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got.append(d)
    except OSError as e:
        errors.append('recv: %s' % e)
    t.join(15)
    open(path + '.back', 'wb').write(b''.join(got))

threads = [threading.Thread(target=run, args=(c, f))
           for c, f in zip(socks, files)]
for t in threads:
    t.start()
for t in threads:
    t.join(20)
if errors:
    sys.exit('; '.join(errors))
EOF
	run_bounded 25 "$PY" "$TMP/two_clients.py" "$@" 3>&-
}

# ------------------------------------------------------------------ tests

@test "relay unix->tcp: two concurrent socat clients each get their own 1 MiB back" {
	echo_server back tcp
	start_tsock relay relay "unix:$TMP/front" "tcp:127.0.0.1:$PORT_back"
	[ "$LISTEN_relay" = "unix:$TMP/front" ]
	[ -S "$TMP/front" ]
	random_file "$TMP/a" 1048576
	random_file "$TMP/b" 1048576

	run_bounded 20 socat -t 10 -T 10 - "UNIX-CONNECT:$TMP/front" \
		<"$TMP/a" >"$TMP/a.back" 3>&- &
	local pa=$!
	run_bounded 20 socat -t 10 -T 10 - "UNIX-CONNECT:$TMP/front" \
		<"$TMP/b" >"$TMP/b.back" 3>&- &
	local pb=$!
	wait "$pa"
	wait "$pb"

	[ "$(sha "$TMP/a.back")" = "$(sha "$TMP/a")" ]
	[ "$(sha "$TMP/b.back")" = "$(sha "$TMP/b")" ]
	# each client had its own backend connection
	grep -qx 'accepted 2' "$TMP/back.out"
	kill -0 "$PID_relay"
}

@test "relay tcp->unix: two concurrent python clients each get their own 1 MiB back" {
	echo_server back unix "$TMP/back"
	start_tsock relay relay tcp:127.0.0.1:0 "unix:$TMP/back"
	[[ $LISTEN_relay =~ ^tcp:127\.0\.0\.1:[0-9]+$ ]]
	[ "$PORT_relay" -gt 0 ]
	random_file "$TMP/a" 1048576
	random_file "$TMP/b" 1048576

	two_clients tcp 127.0.0.1 "$PORT_relay" "$TMP/a" "$TMP/b"

	[ "$(sha "$TMP/a.back")" = "$(sha "$TMP/a")" ]
	[ "$(sha "$TMP/b.back")" = "$(sha "$TMP/b")" ]
	grep -qx 'accepted 2' "$TMP/back.out"
	kill -0 "$PID_relay"
}

# A server that reads until EOF, then answers 1 s later and closes.
late_reply_server() {
	py_bg late <<'EOF'
import socket, sys, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(4)
print('listening on tcp:127.0.0.1:%d' % s.getsockname()[1],
      file=sys.stderr, flush=True)
s.settimeout(30)
while True:
    c, _ = s.accept()
    c.settimeout(10)
    data = b''
    while True:
        d = c.recv(65536)
        if not d:
            break
        data += d
    time.sleep(1)       # the reply comes well after the client's EOF
    c.sendall(b'late reply to ' + data)
    c.close()
EOF
}

@test "relay tcp->tcp half-close: nc -N gets a reply sent 1 s after its EOF" {
	late_reply_server
	start_tsock relay relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_late"

	run run_bounded 10 nc -N 127.0.0.1 "$PORT_relay" <<<"question" 3>&-
	[ "$status" -eq 0 ]
	[ "$output" = "late reply to question" ]
	kill -0 "$PID_relay"
}

@test "relay unix->tcp half-close: socat gets a reply sent 1 s after its EOF" {
	late_reply_server
	start_tsock relay relay "unix:$TMP/front" "tcp:127.0.0.1:$PORT_late"

	run run_bounded 10 socat -t 5 - "UNIX-CONNECT:$TMP/front" \
		<<<"via unix" 3>&-
	[ "$status" -eq 0 ]
	[ "$output" = "late reply to via unix" ]
}

@test "relay tcp->tcp half-close: a client that reads a 32 MiB reply only once the relay is stalled gets all of it" {
	# the server reads the request to EOF, then sends 32 MiB (more than
	# every socket buffer on the way holds); when its socket is full
	# (the client does not read yet, the relay waits on it) it says
	# "stalled" in a file, then sends the rest
	py_bg big "$TMP/stalled" <<'EOF2'
import hashlib, os, select, socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(4)
print('listening on tcp:127.0.0.1:%d' % s.getsockname()[1],
      file=sys.stderr, flush=True)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(10)
while c.recv(65536):
    pass
reply = os.urandom(32 << 20)
print(hashlib.sha256(reply).hexdigest(), flush=True)
c.setblocking(False)
sent = 0
while sent < len(reply):
    try:
        sent += c.send(reply[sent:])
    except BlockingIOError:
        open(sys.argv[1], 'w').close()      # stalled: tell the client
        if not select.select([], [c], [], 20)[1]:
            sys.exit('never writable again')
c.close()
EOF2
	start_tsock relay relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_big"

	run run_bounded 30 "$PY" - "$PORT_relay" "$TMP/stalled" 3>&- <<'EOF2'
import hashlib, os, socket, sys, time
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
c.settimeout(20)
c.connect(('127.0.0.1', int(sys.argv[1])))
c.sendall(b'send me a lot')
c.shutdown(socket.SHUT_WR)
for i in range(1000):              # bounded: 20 s
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.02)
else:
    sys.exit('the server never stalled')
# hashed as it comes: joining 32 MiB chunk by chunk would copy
# gigabytes and could take longer than the bound on a slow machine
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(1 << 20)
    if not d:
        break
    h.update(d)
    n += len(d)
print(n, h.hexdigest())
EOF2
	echo "$output"
	cat "$TMP/relay.err"
	[ "$status" -eq 0 ]
	[ "$output" = "$((32 << 20)) $(head -1 "$TMP/big.out")" ]
}

@test "relay tcp->tcp half-close from the server: the client still sends after the server's EOF" {
	# the server greets, half-closes at once, then reads to EOF and
	# prints how much it got and its sha256
	py_bg early <<'EOF'
import hashlib, socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(4)
print('listening on tcp:127.0.0.1:%d' % s.getsockname()[1],
      file=sys.stderr, flush=True)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(10)
c.sendall(b'greeting, and that is all from me')
c.shutdown(socket.SHUT_WR)
data = b''
while True:
    d = c.recv(65536)
    if not d:
        break
    data += d
print('%d %s' % (len(data), hashlib.sha256(data).hexdigest()), flush=True)
c.close()
EOF
	start_tsock relay relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_early"
	random_file "$TMP/up" 500000

	run run_bounded 10 "$PY" - "$PORT_relay" "$TMP/up" 3>&- <<'EOF'
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
got = b''
while True:
    d = c.recv(65536)
    if not d:
        break
    got += d
print(got.decode())
c.sendall(open(sys.argv[2], 'rb').read())   # after the server's EOF
c.shutdown(socket.SHUT_WR)
if c.recv(1) != b'':
    sys.exit('data after EOF')
EOF
	[ "$status" -eq 0 ]
	[ "$output" = "greeting, and that is all from me" ]
	wait_for_line "$TMP/early.out" '^[0-9]+ '
	[ "$(cat "$TMP/early.out")" = "500000 $(sha "$TMP/up")" ]
}

@test "relay --frame u32be: partial PDUs are held back, whole PDUs of every size pass" {
	echo_server back tcp
	start_tsock relay relay --frame u32be tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_back"
	cat >"$TMP/client.py" <<'EOF'
import os, random, socket, struct, sys, threading
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)

def pdu(payload):
    return struct.pack('>I', len(payload)) + payload

def recv_exact(n):
    buf = b''
    while len(buf) < n:
        d = c.recv(min(n - len(buf), 1 << 20))
        if not d:
            sys.exit('EOF after %d of %d bytes' % (len(buf), n))
        buf += d
    return buf

def nothing_for(secs, what):
    c.settimeout(secs)
    try:
        d = c.recv(65536)
        sys.exit('%s: got %d bytes back before the PDU was whole'
                 % (what, len(d)))
    except socket.timeout:
        pass
    c.settimeout(10)

# a PDU cut inside its header, then inside its payload: nothing passes
# until the last byte is there
whole = pdu(os.urandom(1000))
c.sendall(whole[:2])
nothing_for(0.3, 'half a header')
c.sendall(whole[2:500])
nothing_for(0.3, 'half a payload')
c.sendall(whole[500:])
if recv_exact(len(whole)) != whole:
    sys.exit('the PDU came back changed')

# many PDUs, empty to 1 MiB, sent in odd-sized pieces
rng = random.Random(7)
sizes = [0, 1, 2, 3, 4, 5, 255, 4096, 65535, 65536, 1 << 20] + \
        [rng.randint(0, 20000) for _ in range(200)]
blob = b''.join(pdu(os.urandom(n)) for n in sizes)

def send():
    i = 0
    while i < len(blob):
        n = rng.randint(1, 70000)
        c.sendall(blob[i:i + n])
        i += n
t = threading.Thread(target=send)
t.start()
back = recv_exact(len(blob))
t.join(10)
if back != blob:
    sys.exit('PDU stream came back changed')
c.shutdown(socket.SHUT_WR)
if c.recv(1) != b'':
    sys.exit('extra data after the last PDU')
print('ok')
EOF
	run run_bounded 20 "$PY" "$TMP/client.py" "$PORT_relay" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	kill -0 "$PID_relay"
}

@test "relay --frame u32be --max-pdu 100: an oversized PDU closes only its connection, with a log" {
	echo_server back tcp
	start_tsock relay relay --frame u32be --max-pdu 100 tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_back"
	cat >"$TMP/client.py" <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])

def pdu(payload):
    return struct.pack('>I', len(payload)) + payload

def recv_exact(c, n):
    buf = b''
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            sys.exit('EOF after %d of %d bytes' % (len(buf), n))
        buf += d
    return buf

good = socket.create_connection(('127.0.0.1', port), timeout=5)
first = pdu(b'first PDU of the good connection')
good.sendall(first)
if recv_exact(good, len(first)) != first:
    sys.exit('good connection: first PDU changed')

bad = socket.create_connection(('127.0.0.1', port), timeout=5)
bad.sendall(struct.pack('>I', 1000) + b'x' * 60)
try:
    d = bad.recv(65536)
    if d:
        sys.exit('oversized PDU: got %d bytes back' % len(d))
except ConnectionResetError:
    pass
except socket.timeout:
    sys.exit('oversized PDU: the connection was not closed within 5 s')
print('bad closed', flush=True)

# the good connection still works after the bad one was closed
second = pdu(b'y' * 96)         # exactly the limit, header included
good.sendall(second)
if recv_exact(good, len(second)) != second:
    sys.exit('good connection: second PDU changed')
good.shutdown(socket.SHUT_WR)
if good.recv(1) != b'':
    sys.exit('good connection: extra data')
print('ok')
EOF
	run run_bounded 15 "$PY" "$TMP/client.py" "$PORT_relay" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "bad closed" ]
	[ "${lines[1]}" = ok ]
	wait_for_line "$TMP/relay.err" '[Pp][Dd][Uu].*(limit|max-pdu|too (large|big))'
	kill -0 "$PID_relay"
}

@test "relay to a refused backend: the client is closed, 'Connection refused' is logged, tsock keeps serving" {
	# a port held bound but not listening: connecting to it is refused
	# until the test creates $TMP/go, then it listens and echoes
	py_start holder '^reserved ' "$TMP/go" <<'EOF'
import os, socket, sys, threading, time
go = sys.argv[1]
s = socket.socket()
s.bind(('127.0.0.1', 0))
port = s.getsockname()[1]
print('reserved tcp:127.0.0.1:%d' % port, file=sys.stderr, flush=True)
for _ in range(2000):
    if os.path.exists(go):
        break
    time.sleep(0.01)
else:
    sys.exit('never told to listen')
s.listen(8)
print('listening on tcp:127.0.0.1:%d' % port, file=sys.stderr, flush=True)
s.settimeout(30)

def serve(c):
    c.settimeout(10)
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()

while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
	local back_port=${READY_LINE##*:}
	start_tsock relay relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$back_port"

	# nc ends only when tsock closes the connection
	run run_bounded 5 nc 127.0.0.1 "$PORT_relay" </dev/null 3>&-
	[ "$status" -ne 124 ]
	[ -z "$output" ]
	wait_for_line "$TMP/relay.err" 'Connection refused'
	grep -q "127.0.0.1:$back_port" "$TMP/relay.err"
	kill -0 "$PID_relay"

	# once a backend exists, the same tsock relays the next client
	touch "$TMP/go"
	wait_for_line "$TMP/holder.err" '^listening on '
	run run_bounded 5 nc -N 127.0.0.1 "$PORT_relay" <<<"second try" 3>&-
	[ "$status" -eq 0 ]
	[ "$output" = "second try" ]
	kill -0 "$PID_relay"
}

@test "relay with an IPv6 front tcp:[::1]:0 to an IPv6 backend" {
	"$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
		2>/dev/null || skip "::1 is not usable here"
	echo_server back tcp6
	start_tsock relay relay 'tcp:[::1]:0' "tcp:[::1]:$PORT_back"
	[[ $LISTEN_relay =~ ^tcp:\[::1\]:[0-9]+$ ]]
	random_file "$TMP/a" 300000
	random_file "$TMP/b" 200000

	two_clients tcp6 ::1 "$PORT_relay" "$TMP/a" "$TMP/b"

	[ "$(sha "$TMP/a.back")" = "$(sha "$TMP/a")" ]
	[ "$(sha "$TMP/b.back")" = "$(sha "$TMP/b")" ]
}

@test "relay with an IPv6 front to an IPv4 backend" {
	"$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
		2>/dev/null || skip "::1 is not usable here"
	echo_server back tcp
	start_tsock relay relay 'tcp:[::1]:0' "tcp:127.0.0.1:$PORT_back"

	run run_bounded 5 socat -t 5 - "TCP6:[::1]:$PORT_relay" <<<"six to four" 3>&-
	[ "$status" -eq 0 ]
	[ "$output" = "six to four" ]
}

@test "relay: the unix front socket file is removed after SIGTERM (exit 143)" {
	echo_server back tcp
	start_tsock relay relay "unix:$TMP/front" "tcp:127.0.0.1:$PORT_back"
	[ -S "$TMP/front" ]
	run run_bounded 5 socat -t 5 - "UNIX-CONNECT:$TMP/front" <<<"ping" 3>&-
	[ "$output" = ping ]

	kill -TERM "$PID_relay"
	wait_exit "$PID_relay" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ ! -e "$TMP/front" ]
}

@test "relay: SIGHUP, SIGQUIT, SIGUSR2 and SIGALRM end tsock cleanly (128+N, socket file removed, no core)" {
	echo_server back tcp
	local sig num
	for sig in HUP QUIT USR2 ALRM; do
		num=$(kill -l "$sig")
		rm -f "$TMP/relay.err"
		start_tsock relay relay "unix:$TMP/front-$sig" \
			"tcp:127.0.0.1:$PORT_back"
		[ -S "$TMP/front-$sig" ]
		kill -"$sig" "$PID_relay"
		wait_exit "$PID_relay" 5
		echo "SIG$sig: exit $EXIT_STATUS"
		[ "$EXIT_STATUS" -eq $((128 + num)) ]
		[ ! -e "$TMP/front-$sig" ]
	done
}

@test "relay: SIGUSR1 does not end tsock (reserved for statistics)" {
	echo_server back tcp
	start_tsock relay relay -v "unix:$TMP/front" "tcp:127.0.0.1:$PORT_back"
	kill -USR1 "$PID_relay"
	wait_for_line "$TMP/relay.err" 'statistics not available yet' 5
	run run_bounded 5 socat -t 5 - "UNIX-CONNECT:$TMP/front" <<<"ping" 3>&-
	[ "$output" = ping ]
	kill -0 "$PID_relay"
}

@test "relay: a stale unix front socket file is replaced, a live one is refused" {
	echo_server back tcp
	# a stale socket file: bound, then its owner went away
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$TMP/front"
	[ -S "$TMP/front" ]
	start_tsock relay relay "unix:$TMP/front" "tcp:127.0.0.1:$PORT_back"
	run run_bounded 5 socat -t 5 - "UNIX-CONNECT:$TMP/front" <<<"fresh" 3>&-
	[ "$output" = fresh ]

	# a second tsock on the same, live, path must not steal it
	run run_bounded 5 "$TSOCK" relay "unix:$TMP/front" \
		"tcp:127.0.0.1:$PORT_back" 3>&-
	[ "$status" -eq 1 ]
	[[ $output == *"$TMP/front"* ]]
	[ -S "$TMP/front" ]
	run run_bounded 5 socat -t 5 - "UNIX-CONNECT:$TMP/front" <<<"still" 3>&-
	[ "$output" = still ]
}

# ------------------------------------------------------------ abortive ends

# end_reporter: a server that reads until the end and prints
# "got N bytes, then eof" or "got N bytes, then reset".
end_reporter() {
	py_bg ender <<'EOF2'
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(4)
print('listening on tcp:127.0.0.1:%d' % s.getsockname()[1],
      file=sys.stderr, flush=True)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(20)
n, how = 0, 'eof'
try:
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
except ConnectionResetError:
    how = 'reset'
print('got %d bytes, then %s' % (n, how), flush=True)
EOF2
}

@test "relay tcp->tcp: a client that resets is passed on to the back end as a reset, not a clean end" {
	end_reporter
	start_tsock relay relay -v tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_ender"
	run run_bounded 10 "$PY" - "$PORT_relay" 3>&- <<'EOF2'
import socket, struct, sys, time
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
c.sendall(b'half a request')
time.sleep(0.5)        # let it reach the back end first
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
c.close()              # a reset
EOF2
	[ "$status" -eq 0 ]
	wait_for_line "$TMP/ender.out" '^got ' 10
	cat "$TMP/ender.out"
	grep -qx 'got 14 bytes, then reset' "$TMP/ender.out"
	grep -q 'ended abortively' "$TMP/relay.err"
}

@test "relay tls->tcp: a TLS client that closes without close_notify (truncation) resets the back end" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 1 -subj /CN=localhost -keyout "$TMP/k.pem" \
		-out "$TMP/c.pem" 2>/dev/null
	if "$TSOCK" listen tls:127.0.0.1:0 </dev/null 2>&1 |
	   grep -q 'built with GnuTLS'; then
		skip "tsock built without GnuTLS"
	fi
	end_reporter
	start_tsock relay relay -v --cert "$TMP/c.pem" --key "$TMP/k.pem" \
		tls:127.0.0.1:0 "tcp:127.0.0.1:$PORT_ender"
	run run_bounded 10 "$PY" - "$PORT_relay" 3>&- <<'EOF2'
import os, socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
c = ctx.wrap_socket(raw)
c.sendall(b'half a request')
time.sleep(0.5)        # let it reach the back end first
# end of the TCP stream without a TLS close_notify
raw2 = socket.socket(fileno=os.dup(c.fileno()))
raw2.shutdown(socket.SHUT_WR)
time.sleep(0.5)
os._exit(0)            # no close_notify on the way out either
EOF2
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for_line "$TMP/ender.out" '^got ' 10
	cat "$TMP/ender.out" "$TMP/relay.err"
	grep -qx 'got 14 bytes, then reset' "$TMP/ender.out"
	grep -q 'ended abortively' "$TMP/relay.err"
}
