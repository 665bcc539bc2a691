#!/usr/bin/env bats
# dns.bats - tsock as a DNS bridge in front of a real dnsmasq: DNS over
# UDP to DNS over TCP (--frame u16be, RFC 7766) and back.  dnsmasq
# listens on 127.0.0.1 only (--listen-address, --bind-interfaces) on a
# port that was free a moment ago (it cannot report a port 0); tsock uses
# port 0 and its readiness line.  Every wait is bounded.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	setup_tmp
	need dnsmasq
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
	start_dnsmasq
}

teardown() {
	teardown_tmp
}

# start_dnsmasq: dnsmasq answering A queries for *.example.test with
# 192.0.2.7, on 127.0.0.1:$DNS_PORT (UDP and TCP), nothing else; waits
# (bounded) until it answers over TCP.  Like BIND and unbound it serves
# a limited number of TCP clients at once (20).
start_dnsmasq() {
	local i
	DNS_PORT=$(free_port)
	dnsmasq -k --port="$DNS_PORT" --listen-address=127.0.0.1 \
		--bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null \
		--pid-file= --address=/example.test/192.0.2.7 \
		>"$TMP/dnsmasq.out" 2>"$TMP/dnsmasq.err" 3>&- &
	BG_PIDS+=("$!")
	for ((i = 0; i < 100; i++)); do
		if dns_client 3 tcp "$DNS_PORT" 1 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	cat "$TMP/dnsmasq.err"
	echo "dnsmasq does not answer on port $DNS_PORT" >&2
	return 1
}

# dns_client SECONDS udp|tcp PORT N [CONCURRENCY]: send N queries for
# qI.example.test; over udp each from a socket (a source port) of its
# own, CONCURRENCY at a time, each tried once; over tcp all pipelined in
# one write on one connection.  Prints "answered A of N": an answer
# counts when its id and question are the query's and it says 192.0.2.7.
dns_client() {
	local limit=$1
	shift
	DNS_CLIENT_SECS=$limit run_bounded "$limit" "$PY" - "$@" 3>&- <<'EOF'
import os, random, select, socket, struct, sys, time
kind, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conc = int(sys.argv[4]) if len(sys.argv) > 4 else 50
rng = random.Random(7)

def query(i, qid):
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in (b'q%d' % i, b'example', b'test'):
        q += bytes([len(label)]) + label
    return q + b'\0' + struct.pack('>HH', 1, 1)

def good(q, a):
    # same id, same question, and the address we configured
    return (len(a) > len(q) and a[:2] == q[:2] and a[12:len(q)] == q[12:]
            and a[-4:] == bytes([192, 0, 2, 7]))

answered = 0
if kind == 'udp':
    pending, sent, t0 = {}, 0, time.monotonic()
    # until just before the caller's bound: queries still out then count
    # as lost, but a slow machine is not cut short at a fixed 60 s
    until = int(os.environ['DNS_CLIENT_SECS']) - 3
    while (sent < n or pending) and time.monotonic() - t0 < until:
        while sent < n and len(pending) < conc:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            q = query(sent, rng.randrange(65536))
            s.sendto(q, ('127.0.0.1', port))
            pending[s] = (q, time.monotonic())
            sent += 1
        ready = select.select(list(pending), [], [], 0.5)[0]
        for s in ready:
            if good(pending[s][0], s.recv(4096)):
                answered += 1
            s.close()
            del pending[s]
        now = time.monotonic()
        # lost when unanswered past the bridge's own 10 s reply limit
        # (a loaded machine can take seconds; tsock must not lose it)
        for s in [s for s, v in pending.items() if now - v[1] > 20]:
            s.close()
            del pending[s]
else:
    qs = {}
    for i in range(n):
        qid = rng.randrange(65536)
        while qid in qs:
            qid = rng.randrange(65536)
        qs[qid] = query(i, qid)
    c = socket.create_connection(('127.0.0.1', port), timeout=10)
    c.sendall(b''.join(struct.pack('>H', len(q)) + q for q in qs.values()))
    buf = b''
    while answered < n:
        d = c.recv(65536)
        if not d:
            break
        buf += d
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack('>H', buf[:2])[0]:
            size = struct.unpack('>H', buf[:2])[0]
            a, buf = buf[2:2 + size], buf[2 + size:]
            q = qs.pop(struct.unpack('>H', a[:2])[0], None)
            if q is not None and good(q, a):
                answered += 1
print('answered %d of %d' % (answered, n))
EOF
}

@test "dns bridge udp->tcp: 25 dig queries from fresh source ports are all answered (dnsmasq)" {
	need dig
	start_tsock bridge relay --frame u16be udp:127.0.0.1:0 \
		"tcp:127.0.0.1:$DNS_PORT"
	local i answers=0
	for ((i = 1; i <= 25; i++)); do
		r=$(run_bounded 10 dig +short +tries=1 +time=3 -p "$PORT_bridge" \
			@127.0.0.1 "q$i.example.test" 3>&-) || true
		[ "$r" = 192.0.2.7 ] && answers=$((answers + 1))
	done
	echo "$answers of 25 answered"
	[ "$answers" -eq 25 ]
}

# A plain datagram relay gives each peer a socket of its own: dig (a
# fresh source port per query) and dnsmasq, both real, see nothing else.
@test "relay udp->udp: dig queries and 300 from 300 source ports, 50 at once, all answered by dnsmasq" {
	need dig
	start_tsock relay relay udp:127.0.0.1:0 "udp:127.0.0.1:$DNS_PORT"
	local i r answers=0
	for ((i = 1; i <= 10; i++)); do
		r=$(run_bounded 10 dig +short +tries=1 +time=3 -p "$PORT_relay" \
			@127.0.0.1 "d$i.example.test" 3>&-) || true
		[ "$r" = 192.0.2.7 ] && answers=$((answers + 1))
	done
	echo "$answers of 10 dig queries answered"
	[ "$answers" -eq 10 ]
	run dns_client 60 udp "$PORT_relay" 300 50
	echo "$output"
	[ "$output" = "answered 300 of 300" ]
}

@test "dns bridge udp->tcp: 1000 queries from 1000 source ports, 100 at once, all answered over a pool of at most 8 connections" {
	start_tsock bridge relay -v --frame u16be udp:127.0.0.1:0 \
		"tcp:127.0.0.1:$DNS_PORT"
	run dns_client 150 udp "$PORT_bridge" 1000 100
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "answered 1000 of 1000" ]
	# the pool size is logged with each new connection
	most=$(sed -n 's/.*(\([0-9]*\) in the pool)$/\1/p' "$TMP/bridge.err" |
		sort -n | tail -1)
	echo "at most $most connections at once"
	[ -n "$most" ] && [ "$most" -le 8 ]
	kill -0 "$PID_bridge"
}

@test "dns bridge udp->tcp --pool 2: 300 queries, 50 at once, use at most 2 connections" {
	start_tsock bridge relay -v --pool 2 --frame u16be udp:127.0.0.1:0 \
		"tcp:127.0.0.1:$DNS_PORT"
	run dns_client 60 udp "$PORT_bridge" 300 50
	echo "$output"
	tail -n 20 "$TMP/bridge.err"
	[ "$output" = "answered 300 of 300" ]
	most=$(sed -n 's/.*(\([0-9]*\) in the pool)$/\1/p' "$TMP/bridge.err" |
		sort -n | tail -1)
	[ -n "$most" ] && [ "$most" -le 2 ]
}

@test "dns bridge tcp->udp: 200 queries pipelined on one TCP connection are all answered (dnsmasq over UDP)" {
	start_tsock bridge relay --frame u16be tcp:127.0.0.1:0 \
		"udp:127.0.0.1:$DNS_PORT"
	run dns_client 30 tcp "$PORT_bridge" 200
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "answered 200 of 200" ]
}

@test "dns bridge udp->tcp: a back end that is down: the queries go unanswered, it is logged, tsock keeps running" {
	local port
	port=$("$PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 3>&-)
	start_tsock bridge relay --frame u16be udp:127.0.0.1:0 \
		"tcp:127.0.0.1:$port"
	run dns_client 30 udp "$PORT_bridge" 3 3
	[ "$output" = "answered 0 of 3" ]
	wait_for_line "$TMP/bridge.err" 'Connection refused' 5
	kill -0 "$PID_bridge"
}
