#!/usr/bin/env bats
# faults.bats - hostile peers and faults: resets, truncated and oversized
# PDUs, idle and garbage clients, a reader that never reads, refused
# backends, file descriptor exhaustion and signals in mid-transfer.
#
# Every case also checks that the OTHER connections' data arrives intact
# (sha256) and, where tsock is meant to live on, that it still serves a
# fresh client afterwards.  Loopback and unix sockets in $TMP only, port
# 0 and readiness lines, every wait bounded (each test takes a few
# seconds at most).

setup() {
	load helpers
	setup_tmp
	# the interpreter itself, in case python3 is a wrapper that forks it:
	# killing such a wrapper would leave a server running
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
	export PYTHONDONTWRITEBYTECODE=1
	write_faults_py
}

teardown() {
	teardown_tmp
}

# ------------------------------------------------------------------ helpers

# $TMP/faults.py: the python peers (a backend server, well-behaved and
# hostile clients), imported by the drivers of the tests.
write_faults_py() {
	cat >"$TMP/faults.py" <<'EOF'
"""Peers for faults.bats.  Addresses are tsock endpoint strings:
tcp:127.0.0.1:PORT or unix:PATH.  Loopback and unix sockets only."""
import hashlib, os, socket, struct, sys, threading, time

MIB = 1 << 20


def parse(addr):
    kind, rest = addr.split(':', 1)
    if kind == 'unix':
        return socket.AF_UNIX, rest
    host, port = rest.rsplit(':', 1)
    return socket.AF_INET, (host, int(port))


def connect(addr, timeout=10):
    fam, sa = parse(addr)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.connect(sa)
    return c


def rst_close(c):
    """Close with a reset (RST) instead of a FIN: SO_LINGER {1, 0}."""
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()


def recv_all(c, limit=None):
    """Read to the end of the stream: (bytes, error text or None)."""
    got, n = [], 0
    try:
        while limit is None or n < limit:
            d = c.recv(MIB)
            if not d:
                break
            got.append(d)
            n += len(d)
    except OSError as e:
        return b''.join(got), str(e)
    return b''.join(got), None


def pdus(rng, count, maxsize, fmt='>I'):
    """count PDUs (header + random payload of 0..maxsize bytes)."""
    out = []
    for _ in range(count):
        n = rng.randrange(maxsize + 1)
        out.append(struct.pack(fmt, n) + rng.randbytes(n))
    return b''.join(out)


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


class Good(threading.Thread):
    """A well-behaved client: sends marker + payload while reading the
    echo, half-closes and checks every byte (sha256).  It sends the first
    half, then holds (connection open, data in flight) until finish(), so
    that a fault can be injected while it is in mid-transfer:
        g = Good(addr, data).start_and_wait()   # the echo flows
        ... the fault ...
        g.finish()                              # raises unless intact
    """

    def __init__(self, addr, payload, marker=b'ECHO', chunk=64 * 1024,
                 name='good'):
        super().__init__(daemon=True)
        self.addr, self.chunk, self.label = addr, chunk, name
        self.payload = marker + payload
        self.flowing = threading.Event()
        self.go = threading.Event()
        self.error = None
        self.got = b''

    def _send(self, c):
        half = len(self.payload) // 2
        try:
            for start, end in ((0, half), (half, len(self.payload))):
                for i in range(start, end, self.chunk):
                    c.sendall(self.payload[i:min(i + self.chunk, end)])
                self.go.wait(20)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.error = 'send: %s' % e

    def run(self):
        try:
            c = connect(self.addr)
        except OSError as e:
            self.error = 'connect: %s' % e
            self.flowing.set()
            return
        t = threading.Thread(target=self._send, args=(c,), daemon=True)
        t.start()
        got = []
        try:
            while True:
                d = c.recv(MIB)
                if not d:
                    break
                got.append(d)
                self.flowing.set()
        except OSError as e:
            self.error = 'recv: %s' % e
        self.flowing.set()
        t.join(30)
        c.close()
        self.got = b''.join(got)

    def start_and_wait(self, timeout=10):
        self.start()
        if not self.flowing.wait(timeout) or self.error:
            raise SystemExit('%s: no echo within %d s (%s)'
                             % (self.label, timeout, self.error))
        return self

    def finish(self, timeout=30):
        self.go.set()
        self.join(timeout)
        if self.is_alive():
            raise SystemExit('%s: not done within %d s' % (self.label, timeout))
        want = hashlib.sha256(self.payload).hexdigest()
        got = hashlib.sha256(self.got).hexdigest()
        if self.error or want != got:
            raise SystemExit('%s: %s; sent %d bytes (sha256 %s), got %d (%s)'
                             % (self.label, self.error, len(self.payload),
                                want[:16], len(self.got), got[:16]))
        print('%s: %d bytes intact, sha256 %s' % (self.label, len(self.got),
                                                  got[:16]), flush=True)
        return got


def echo_once(addr, size=64 * 1024, marker=b'ECHO', timeout=10):
    """A fresh round trip: raise unless size random bytes come back."""
    g = Good(addr, os.urandom(size), marker=marker, name='fresh client')
    g.start()
    g.finish(timeout)


# ---------------------------------------------------------------- server

def serve(argv):
    """server [--unix PATH] [--echo-only|--pdu-modes] [--rst-odd] [--file F]

    A threaded stream server.  By default each connection picks its mode
    with its first 4 bytes:
      ECHO  echo everything (the 4 bytes too) to the end, then close
      RSTB  echo, and reset the connection after 256 KiB
      SEND  send --file to the client ("sent N" on stdout every MiB),
            then close
      STAL  never read again (the connection stays open 30 s)
    --echo-only: every connection is echoed, from its first byte.
    --pdu-modes: u32be PDUs; a first PDU of CUTH gets 2 bytes of a header
    back, CUTB a header announcing 1000 bytes and 500 of them, and then
    the connection is closed; SEND gets --file; any other first PDU
    starts an echo.
    --rst-odd resets every odd-numbered connection as soon as accepted.
    """
    unix = file = None
    echo_only = rst_odd = pdu_modes = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--unix':
            unix = args.pop(0)
        elif a == '--file':
            file = args.pop(0)
        elif a == '--echo-only':
            echo_only = True
        elif a == '--pdu-modes':
            pdu_modes = True
        elif a == '--rst-odd':
            rst_odd = True
        else:
            raise SystemExit('server: unknown argument ' + a)
    if unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(unix)
        name = 'unix:' + unix
    else:
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        name = 'tcp:127.0.0.1:%d' % s.getsockname()[1]
    s.listen(512)
    lock = threading.Lock()

    def say(text):
        with lock:
            sys.stdout.write(text + '\n')
            sys.stdout.flush()

    print('listening on ' + name, file=sys.stderr, flush=True)

    def recv_exact(c, n):
        buf = b''
        while len(buf) < n:
            d = c.recv(n - len(buf))
            if not d:
                break
            buf += d
        return buf

    def echo(c, first, limit=None):
        n = len(first)
        c.sendall(first)
        while limit is None or n < limit:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)
            n += len(d)

    def send_file(c):
        sent = 0
        with open(file, 'rb') as f:
            while True:
                d = f.read(MIB)
                if not d:
                    break
                c.sendall(d)
                sent += len(d)
                say('sent %d' % sent)
        say('send done')
        c.shutdown(socket.SHUT_WR)
        recv_all(c)

    def handle(c, i):
        c.settimeout(30)
        try:
            if echo_only:
                echo(c, b'')
                c.shutdown(socket.SHUT_WR)
                return
            if pdu_modes:
                hdr = recv_exact(c, 4)
                body = recv_exact(c, struct.unpack('>I', hdr)[0]) \
                    if len(hdr) == 4 else b''
                say('conn %d first PDU %r' % (i, body[:8]))
                if body == b'CUTH':
                    c.sendall(b'\0\0')
                    return
                if body == b'CUTB':
                    c.sendall(struct.pack('>I', 1000) + b'b' * 500)
                    return
                if body == b'SEND':
                    send_file(c)
                    return
                echo(c, hdr + body)
                c.shutdown(socket.SHUT_WR)
                return
            first = recv_exact(c, 4)
            mode = first.decode('ascii', 'replace')
            say('conn %d mode %s' % (i, mode))
            if first == b'RSTB':
                echo(c, first, 256 * 1024)
                say('conn %d reset' % i)
                rst_close(c)
                return
            if first == b'SEND':
                send_file(c)
                return
            if first == b'STAL':
                time.sleep(30)
                return
            echo(c, first)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            say('conn %d: %s' % (i, e))
        finally:
            c.close()

    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        if rst_odd and n % 2 == 1:
            say('conn %d reset at once' % n)
            rst_close(c)
            continue
        threading.Thread(target=handle, args=(c, n), daemon=True).start()


if __name__ == '__main__' and sys.argv[1:2] == ['server']:
    serve(sys.argv[2:])
EOF
}

# backend NAME [SERVER ARGS...]: start a faults.py server in the
# background (stdout in $TMP/NAME.out, stderr in $TMP/NAME.err); sets
# ADDR_<NAME> (tsock endpoint), PORT_<NAME> (tcp) and PID_<NAME>.
backend() {
	local name=$1 line addr
	shift
	"$PY" "$TMP/faults.py" server "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	line=$(wait_for_line "$TMP/$name.err" '^listening on ') || return 1
	addr=${line#listening on }
	eval "ADDR_$name=\$addr"
	eval "PORT_$name=\${addr##*:}"
}

# drive SECONDS [ARGS...] <<'EOF' ... EOF: run the python script on stdin
# (with faults.py importable) bounded in time, as `run` does: $status,
# $output.  The output is echoed, so a failing test shows it.
drive() {
	local limit=$1
	shift
	cat >"$TMP/drive.py"
	run run_bounded "$limit" env PYTHONPATH="$TMP" "$PY" "$TMP/drive.py" "$@" 3>&-
	echo "driver status $status:"
	echo "$output"
}

# fresh_roundtrip ADDR [MODE]: a new client through ADDR gets 64 KiB of
# random bytes back intact.  MODE: ECHO (default: the faults.py server's
# echo mode), or u32be / u64be for whole PDUs through a --frame relay to
# an --echo-only server.
fresh_roundtrip() {
	local addr=$1 mode=${2:-ECHO}
	run run_bounded 10 env PYTHONPATH="$TMP" "$PY" -c '
import struct, sys, os, faults
addr, mode = sys.argv[1], sys.argv[2]
if mode == "ECHO":
    faults.echo_once(addr)
else:
    fmt = {"u32be": ">I", "u64be": ">Q"}[mode]
    payload = b"".join(struct.pack(fmt, n) + os.urandom(n)
                       for n in (0, 1, 1000, 65536))
    g = faults.Good(addr, payload, marker=b"", name="fresh client")
    g.start()
    g.finish(10)
' "$addr" "$mode" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ resets

@test "relay tcp->tcp: a client that resets (RST) mid-transfer is logged; a concurrent transfer is intact" {
	backend back
	start_tsock relay relay tcp:127.0.0.1:0 "$ADDR_back"
	idle_fds=$(fd_count "$PID_relay")

	drive 20 "$LISTEN_relay" <<'EOF'
import os, sys, time, faults
addr = sys.argv[1]
good = faults.Good(addr, os.urandom(4 << 20)).start_and_wait()
bad = faults.connect(addr)
print('bad client port %d' % bad.getsockname()[1], flush=True)
bad.sendall(b'ECHO' + os.urandom(1 << 20))
if len(bad.recv(65536)) == 0:
    sys.exit('bad client: no echo before the reset')
faults.rst_close(bad)           # unread echo in flight: a reset
time.sleep(0.2)
good.finish()
EOF
	[ "$status" -eq 0 ]
	badport=$(sed -n 's/^bad client port //p' <<<"$output")
	wait_for_line "$TMP/relay.err" "tcp:127.0.0.1:$badport: Connection reset by peer"
	fresh_roundtrip "$LISTEN_relay"
	wait_fds "$PID_relay" "$idle_fds"
}

@test "relay tcp->tcp: a backend that resets mid-transfer is logged; a concurrent transfer is intact" {
	backend back
	start_tsock relay relay tcp:127.0.0.1:0 "$ADDR_back"
	idle_fds=$(fd_count "$PID_relay")

	drive 20 "$LISTEN_relay" <<'EOF'
import os, socket, sys, threading, faults
addr = sys.argv[1]
good = faults.Good(addr, os.urandom(4 << 20)).start_and_wait()
bad = faults.connect(addr)
data = b'RSTB' + os.urandom(2 << 20)        # reset after 256 KiB
def send():
    try:
        bad.sendall(data)
    except OSError:
        pass
t = threading.Thread(target=send, daemon=True)
t.start()
got, err = faults.recv_all(bad)
print('bad client: %d bytes back, then %s' % (len(got), err or 'EOF'))
if len(got) >= len(data) or got != data[:len(got)]:
    sys.exit('bad client: the echo is not a strict prefix of what it sent')
good.finish()
EOF
	[ "$status" -eq 0 ]
	grep -q 'reset$' "$TMP/back.out"
	wait_for_line "$TMP/relay.err" "tcp:127.0.0.1:$PORT_back: Connection reset by peer"
	fresh_roundtrip "$LISTEN_relay"
	wait_fds "$PID_relay" "$idle_fds"
}

# ------------------------------------------------------------------ PDUs

@test "relay --frame u32be: clients that close inside a PDU header and body end only their connection" {
	backend back --echo-only
	start_tsock relay relay -v --frame u32be tcp:127.0.0.1:0 "$ADDR_back"
	idle_fds=$(fd_count "$PID_relay")

	drive 20 "$LISTEN_relay" <<'EOF'
import random, struct, sys, time, faults
addr = sys.argv[1]
good = faults.Good(addr, faults.pdus(random.Random(1), 300, 20000),
                   marker=b'').start_and_wait()
for name, data in (('header', b'\0\0'),
                   ('body', struct.pack('>I', 1000) + b'x' * 500)):
    c = faults.connect(addr)
    print('%s client port %d' % (name, c.getsockname()[1]), flush=True)
    c.sendall(data)
    time.sleep(0.1)
    c.close()
    time.sleep(0.1)
good.finish()
EOF
	[ "$status" -eq 0 ]
	for cut in header body; do
		port=$(sed -n "s/^$cut client port //p" <<<"$output")
		# the connection ends, and the partial PDU is not passed on
		wait_for_line "$TMP/relay.err" "tcp:127.0.0.1:$port: the stream ended inside a PDU"
		wait_for_line "$TMP/relay.err" "closed tcp:127.0.0.1:$port <-> .*: 0 bytes sent"
	done
	fresh_roundtrip "$LISTEN_relay" u32be
	wait_fds "$PID_relay" "$idle_fds"
}

@test "relay --frame u32be: backends that close inside a PDU header and body end only their connection" {
	backend back --pdu-modes
	start_tsock relay relay -v --frame u32be tcp:127.0.0.1:0 "$ADDR_back"
	idle_fds=$(fd_count "$PID_relay")

	drive 20 "$LISTEN_relay" <<'EOF'
import random, struct, sys, faults
addr = sys.argv[1]
rng = random.Random(2)
good = faults.Good(addr, struct.pack('>I', 4) + b'ECHO' +
                   faults.pdus(rng, 300, 20000), marker=b'').start_and_wait()
for cut in (b'CUTH', b'CUTB'):
    c = faults.connect(addr)
    c.sendall(struct.pack('>I', 4) + cut)
    got, err = faults.recv_all(c)
    print('%s: %d bytes back, then %s' % (cut.decode(), len(got), err or 'EOF'))
    if got:
        sys.exit('a partial PDU was passed on: %r' % got[:16])
    c.close()
good.finish()
EOF
	[ "$status" -eq 0 ]
	grep -q "first PDU b'CUTH'" "$TMP/back.out"
	grep -q "first PDU b'CUTB'" "$TMP/back.out"
	fresh_roundtrip "$LISTEN_relay" u32be
	wait_fds "$PID_relay" "$idle_fds"
}

@test "relay --frame u32be: a connection cut inside a PDU is reported without -v (partial PDU dropped)" {
	# Without -v a clean end of stream is silent; an end inside a PDU
	# loses the bytes of that PDU, so it should say so like other errors.
	backend back --echo-only
	start_tsock relay relay --frame u32be tcp:127.0.0.1:0 "$ADDR_back"

	drive 10 "$LISTEN_relay" <<'EOF'
import struct, sys, time, faults
c = faults.connect(sys.argv[1])
print('client port %d' % c.getsockname()[1], flush=True)
c.sendall(struct.pack('>I', 1000) + b'x' * 500)
time.sleep(0.1)
c.close()
EOF
	[ "$status" -eq 0 ]
	port=$(sed -n 's/^client port //p' <<<"$output")
	fresh_roundtrip "$LISTEN_relay" u32be
	wait_for_line "$TMP/relay.err" "tcp:127.0.0.1:$port" 1
}

@test "relay --frame u32be and u64be: a PDU header announcing 4 GiB closes that connection with the --max-pdu message; RSS stays small" {
	backend back --echo-only
	start_tsock r32 relay --frame u32be tcp:127.0.0.1:0 "$ADDR_back"
	start_tsock r64 relay --frame u64be tcp:127.0.0.1:0 "$ADDR_back"

	drive 20 "$LISTEN_r32" "$LISTEN_r64" <<'EOF'
import os, random, struct, sys, faults
for addr, hdr, fmt in ((sys.argv[1], b'\xff' * 4, '>I'),
                       (sys.argv[2], b'\xff' * 8, '>Q'),
                       (sys.argv[2], struct.pack('>Q', 4 << 30), '>Q')):
    good = faults.Good(addr, faults.pdus(random.Random(3), 200, 20000, fmt),
                       marker=b'').start_and_wait()
    bad = faults.connect(addr)
    print('bad client port %d' % bad.getsockname()[1], flush=True)
    try:
        bad.sendall(hdr + os.urandom(1 << 20))   # and a body that starts
    except OSError:
        pass                                   # closed already
    got, err = faults.recv_all(bad)
    if got:
        sys.exit('the oversized PDU got %d bytes back' % len(got))
    print('bad client closed (%s)' % (err or 'EOF'), flush=True)
    good.finish()
EOF
	[ "$status" -eq 0 ]
	for port in $(sed -n 's/^bad client port //p' <<<"$output"); do
		grep -h "tcp:127.0.0.1:$port: PDU larger than the limit (--max-pdu)" \
			"$TMP/r32.err" "$TMP/r64.err"
	done
	for pid in "$PID_r32" "$PID_r64"; do
		rss=$(rss_kib "$pid")
		echo "tsock $pid VmRSS $rss KiB"
		[ "$rss" -lt 65536 ]
	done
	fresh_roundtrip "$LISTEN_r32" u32be
	fresh_roundtrip "$LISTEN_r64" u64be
}

# ------------------------------------------------------------------ idle, garbage, slow readers

@test "relay --frame u32be: a client that never sends and clients that send garbage do not disturb others" {
	backend back --echo-only
	start_tsock relay relay --frame u32be tcp:127.0.0.1:0 "$ADDR_back"

	drive 20 "$LISTEN_relay" <<'EOF'
import os, random, socket, struct, sys, time, faults
addr = sys.argv[1]
idle = faults.connect(addr)                 # connects, never sends
good = faults.Good(addr, faults.pdus(random.Random(4), 300, 20000),
                   marker=b'').start_and_wait()
rng = random.Random(5)
held = []
for i in range(20):
    c = faults.connect(addr)
    # random bytes: some parse as huge headers (closed), some as small
    # ones whose body never completes (held open)
    try:
        c.sendall(rng.randbytes(rng.randrange(1, 100000)))
    except OSError:
        pass                    # closed already: fine
    if i % 2:
        c.close()
    else:
        held.append(c)
# a header whose body never comes, and a header alone
for data in (struct.pack('>I', 100) + b'z' * 10, struct.pack('>I', 5)):
    c = faults.connect(addr)
    c.sendall(data)
    held.append(c)
time.sleep(0.3)
good.finish()
# the idle client is still connected: nothing came and nothing closed it
idle.settimeout(0.2)
try:
    d = idle.recv(1)
    sys.exit('idle client: %r' % d)
except socket.timeout:
    pass
for c in held + [idle]:
    c.close()
print('ok')
EOF
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = ok ]
	fresh_roundtrip "$LISTEN_relay" u32be
	kill -0 "$PID_relay"
}

# slow_reader [--frame u32be]: a client asks the backend for 100 MiB
# through the relay and does not read: the backend must block (tsock does
# not read ahead of its writes) with tsock's RSS bounded; then the client
# reads every byte.  With --frame the file is u32be PDUs of 64 KiB.
slow_reader() {
	local want
	if [ $# -gt 0 ]; then
		"$PY" -c '
import os, struct, sys
with open(sys.argv[1], "wb") as f:
    for _ in range(1600):
        f.write(struct.pack(">I", 65536) + os.urandom(65536))
' "$TMP/big"
		backend back --pdu-modes --file "$TMP/big"
	else
		random_file "$TMP/big" $((100 * 1024 * 1024))
		backend back --file "$TMP/big"
	fi
	want=$(sha "$TMP/big")
	start_tsock relay relay "$@" tcp:127.0.0.1:0 "$ADDR_back"

	drive 40 "$LISTEN_relay" "$PID_relay" "$TMP/back.out" "$want" $# <<'EOF'
import hashlib, os, random, struct, sys, time, faults
addr, pid, progress, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
framed = sys.argv[5] != '0'
slow = faults.connect(addr)
slow.sendall(struct.pack('>I', 4) + b'SEND' if framed else b'SEND')

def sent():
    lines = [l for l in open(progress).read().split('\n') if l.startswith('sent ')]
    return int(lines[-1].split()[1]) if lines else 0

# wait until the backend is blocked: its count stops growing for 0.5 s
last, still, peak = -1, 0, 0
for _ in range(100):                        # 10 s at most
    time.sleep(0.1)
    now = sent()
    peak = max(peak, faults.rss_kib(pid))
    still = still + 1 if now == last else 0
    last = now
    if still >= 5 and now > 0:
        break
print('backend blocked after %d MiB, tsock VmRSS peak %d KiB' % (last >> 20, peak))
if last >= 100 << 20:
    sys.exit('the backend was never blocked: tsock read ahead of the reader')
if peak >= 64 * 1024:
    sys.exit('tsock RSS %d KiB while the reader does not read' % peak)
# other connections are served meanwhile
if framed:
    good = faults.Good(addr, faults.pdus(random.Random(6), 100, 40000),
                       marker=b'')
else:
    good = faults.Good(addr, os.urandom(2 << 20))
good.start_and_wait()
good.finish()
# now read everything
h, n = hashlib.sha256(), 0
slow.settimeout(20)
while True:
    d = slow.recv(1 << 20)
    if not d:
        break
    h.update(d)
    n += len(d)
print('slow reader: %d bytes, sha256 %s' % (n, h.hexdigest()[:16]))
if h.hexdigest() != want:
    sys.exit('slow reader: the data differs from the file')
print('tsock VmRSS after %d KiB' % faults.rss_kib(pid))
EOF
	[ "$status" -eq 0 ]
	grep -q '^send done' "$TMP/back.out"
	if [ $# -gt 0 ]; then
		fresh_roundtrip "$LISTEN_relay" u32be
	else
		fresh_roundtrip "$LISTEN_relay"
	fi
}

@test "relay: a client that never reads 100 MiB: backpressure keeps RSS bounded, then every byte arrives" {
	slow_reader
}

@test "relay --frame u32be: a client that never reads 100 MiB of PDUs: RSS bounded, then every byte arrives" {
	slow_reader --frame u32be
}

@test "relay: a client that resets while its backend does not read is noticed: reset logged, both sockets closed" {
	# tsock is blocked writing this client's data to a backend that
	# stopped reading, so it is not reading from the client: the reset
	# must still end the relay instead of holding two sockets until the
	# backend moves
	backend back
	start_tsock relay relay tcp:127.0.0.1:0 "$ADDR_back"
	idle_fds=$(fd_count "$PID_relay")

	drive 20 "$LISTEN_relay" "$TMP/back.out" <<'EOF'
import os, sys, threading, time, faults
addr = sys.argv[1]
good = faults.Good(addr, os.urandom(2 << 20)).start_and_wait()
bad = faults.connect(addr)
print('bad client port %d' % bad.getsockname()[1], flush=True)
def send():
    try:
        bad.sendall(b'STAL' + os.urandom(64 << 20))   # blocks: nobody reads
    except OSError:
        pass
threading.Thread(target=send, daemon=True).start()
# the backend has the request and reads no more (bounded: 10 s) ...
for i in range(500):
    if 'mode STAL' in open(sys.argv[2]).read():
        break
    time.sleep(0.02)
else:
    sys.exit('the backend never got the request')
time.sleep(0.5)     # ... and the buffers on the way fill up
faults.rst_close(bad)
good.finish()
EOF
	[ "$status" -eq 0 ]
	badport=$(sed -n 's/^bad client port //p' <<<"$output")
	wait_for_line "$TMP/back.out" 'mode STAL' 10
	fresh_roundtrip "$LISTEN_relay"
	wait_for_line "$TMP/relay.err" "tcp:127.0.0.1:$badport: Connection reset by peer" 10
	wait_fds "$PID_relay" "$idle_fds"
}

# ------------------------------------------------------------------ backends that fail

@test "relay: refused and missing backends fail only their clients, logged; a relay to a live backend serves meanwhile" {
	backend back
	# a port bound but never listening: connecting to it is refused
	"$PY" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print("reserved %d" % s.getsockname()[1], file=sys.stderr, flush=True)
time.sleep(30)
' 2>"$TMP/holder.err" 3>&- &
	BG_PIDS+=("$!")
	line=$(wait_for_line "$TMP/holder.err" '^reserved ')
	refused=${line#reserved }
	start_tsock bad1 relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$refused"
	start_tsock bad2 relay tcp:127.0.0.1:0 "unix:$TMP/nobody-here"
	start_tsock good relay tcp:127.0.0.1:0 "$ADDR_back"

	drive 20 "$LISTEN_good" "$LISTEN_bad1" "$LISTEN_bad2" <<'EOF'
import os, sys, threading, faults
good_addr, bad = sys.argv[1], sys.argv[2:]
goods = [faults.Good(good_addr, os.urandom(1 << 20), name='good %d' % i)
         for i in range(4)]
for g in goods:
    g.start_and_wait()
results = []
def victim(addr):
    try:
        c = faults.connect(addr, timeout=5)
        c.sendall(b'ECHO hello')
        got, err = faults.recv_all(c)
        results.append((got, err))
    except OSError as e:
        results.append((b'', str(e)))
ts = [threading.Thread(target=victim, args=(a,)) for a in bad for _ in range(10)]
for t in ts:
    t.start()
for t in ts:
    t.join(10)
if len(results) != 20 or any(got for got, _ in results):
    sys.exit('refused clients: %r' % results)
print('20 clients of broken backends closed')
for g in goods:
    g.finish()
EOF
	[ "$status" -eq 0 ]
	[ "$(grep -c "tcp:127.0.0.1:$refused: Connection refused" "$TMP/bad1.err")" -eq 10 ]
	[ "$(grep -c "nobody-here: No such file or directory" "$TMP/bad2.err")" -eq 10 ]
	fresh_roundtrip "$LISTEN_good"
	kill -0 "$PID_bad1"
	kill -0 "$PID_bad2"
}

@test "relay: a backend that resets every other connection at accept: the others' data is intact" {
	backend back --rst-odd
	start_tsock relay relay tcp:127.0.0.1:0 "$ADDR_back"
	idle_fds=$(fd_count "$PID_relay")

	drive 20 "$LISTEN_relay" <<'EOF'
import os, socket, sys, threading, faults
addr = sys.argv[1]
ok, cut, bad = [], [], []
lock = threading.Lock()
def client(i):
    data = b'ECHO' + os.urandom(256 * 1024)
    try:
        c = faults.connect(addr)
        def send():
            try:
                c.sendall(data)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        t = threading.Thread(target=send, daemon=True)
        t.start()
        got, err = faults.recv_all(c)
        c.close()
    except OSError as e:
        got, err = b'', str(e)
    with lock:
        if got == data and err is None:
            ok.append(i)
        elif got == data[:len(got)] and len(got) < 256 * 1024:
            cut.append(i)       # its backend was reset: closed early
        else:
            bad.append(i)
ts = [threading.Thread(target=client, args=(i,)) for i in range(20)]
for t in ts:
    t.start()
for t in ts:
    t.join(15)
print('intact %d, cut %d, corrupted %d' % (len(ok), len(cut), len(bad)))
if bad or len(ok) + len(cut) != 20:
    sys.exit('some clients got wrong data or hung')
if len(ok) != 10:
    sys.exit('expected 10 intact connections')
EOF
	[ "$status" -eq 0 ]
	[ "$(grep -c 'reset at once' "$TMP/back.out")" -eq 10 ]
	grep -q "tcp:127.0.0.1:$PORT_back: " "$TMP/relay.err"
	# the next backend connection is an even one: served
	fresh_roundtrip "$LISTEN_relay" || fresh_roundtrip "$LISTEN_relay"
	wait_fds "$PID_relay" "$idle_fds"
}

# ------------------------------------------------------------------ fd exhaustion

@test "relay under ulimit -n 64: 200 clients at once are refused or wait, logged; an established transfer is intact; tsock recovers" {
	backend back
	# bash execs tsock: same pid, with the lower limit
	TSOCK=bash start_tsock relay -c 'ulimit -n 64 && exec "$0" "$@"' \
		"$TSOCK" relay tcp:127.0.0.1:0 "$ADDR_back"
	grep -E '^Max open files +64 ' "/proc/$PID_relay/limits"
	idle_fds=$(fd_count "$PID_relay")

	drive 30 "$LISTEN_relay" <<'EOF'
import os, socket, sys, time, faults
addr = sys.argv[1]
good = faults.Good(addr, os.urandom(2 << 20)).start_and_wait()
conns = []
for i in range(200):
    c = faults.connect(addr, timeout=5)     # the kernel's backlog accepts
    c.sendall(b'ECHO %d' % i)
    conns.append(c)
time.sleep(3)       # generous: the machine may be busy
ok = closed = waiting = 0
for i, c in enumerate(conns):
    c.settimeout(0.02)
    try:
        d = c.recv(100)
        if d == b'ECHO %d' % i:
            ok += 1
        elif d == b'':
            closed += 1
        else:
            sys.exit('client %d got %r' % (i, d))
    except socket.timeout:
        waiting += 1
    except OSError:
        closed += 1
print('flood: %d served, %d closed, %d waiting' % (ok, closed, waiting))
if ok == 0 or closed + waiting == 0:
    sys.exit('expected some clients served and some refused or waiting')
good.finish()
for c in conns:
    c.close()
EOF
	[ "$status" -eq 0 ]
	# logged: "accept: Too many open files (retrying)" when accept(2)
	# fails, "connect to ...: Too many open files (client ...)" when the
	# backend socket cannot be made
	grep 'Too many open files' "$TMP/relay.err" |
		sed -E 's/[0-9]+/N/g' | sort | uniq -c
	# recovered: every descriptor is given back and a new client is
	# served (the flood's backlog drains through accept first, which on
	# a busy machine takes a while)
	wait_fds "$PID_relay" "$idle_fds" 15
	for i in 1 2 3 4 5; do
		fresh_roundtrip "$LISTEN_relay" && break
		sleep 0.5
	done
	[ "$status" -eq 0 ]
	wait_fds "$PID_relay" "$idle_fds" 15
}

# ------------------------------------------------------------------ signals

# signal_mid_transfer SIGNAL STATUS: a unix-front relay killed with
# SIGNAL while a client streams through it exits STATUS, removes its
# socket file and closes the client's connection.
signal_mid_transfer() {
	local sig=$1 want=$2
	backend back
	start_tsock relay relay "unix:$TMP/front" "$ADDR_back"
	[ -S "$TMP/front" ]
	env PYTHONPATH="$TMP" "$PY" -c '
import os, socket, sys, threading, faults
c = faults.connect(sys.argv[1])
def send():
    try:
        c.sendall(b"ECHO")
        while True:
            c.sendall(os.urandom(65536))
    except OSError:
        pass
threading.Thread(target=send, daemon=True).start()
n, said = 0, False
try:
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        n += len(d)
        if n >= 1 << 20 and not said:
            print("flowing", flush=True)
            said = True
    print("ended: EOF after %d bytes" % n, flush=True)
except OSError as e:
    print("ended: %s after %d bytes" % (e, n), flush=True)
' "unix:$TMP/front" >"$TMP/client.out" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_for_line "$TMP/client.out" '^flowing'
	kill "-$sig" "$PID_relay"
	wait_exit "$PID_relay" 5
	echo "exit status $EXIT_STATUS"
	[ "$EXIT_STATUS" -eq "$want" ]
	[ ! -e "$TMP/front" ]
	wait_for_line "$TMP/client.out" '^ended: '
}

@test "relay unix->tcp: SIGINT during a transfer: exit 130, the socket file is removed, the client sees the end" {
	signal_mid_transfer INT 130
}

@test "relay unix->tcp: SIGTERM during a transfer: exit 143, the socket file is removed, the client sees the end" {
	signal_mid_transfer TERM 143
}
