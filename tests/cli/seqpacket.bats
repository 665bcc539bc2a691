#!/usr/bin/env bats
#
# seqpacket.bats - unix-seqpacket endpoints (connections that keep message
# boundaries) against python3 peers, on loopback only.

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

# seqpacket_server NAME PATH: a python3 SOCK_SEQPACKET server at PATH that
# answers each message with "<LEN>:MESSAGE" and, at its client's end,
# sends "bye" and closes; its readiness line on stderr.
seqpacket_server() {
	py_bg "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(8)
print('listening on unix-seqpacket:' + sys.argv[1], file=sys.stderr,
      flush=True)
s.settimeout(30)
while True:
    c, _ = s.accept()
    c.settimeout(20)
    while True:
        m = c.recv(65536)
        if not m:
            break
        c.send(b'%d:' % len(m) + m)
    c.send(b'bye')
    c.close()
EOF
}

@test "relay unix-seqpacket -> unix-seqpacket: message for message both ways, and each side's end passed on" {
	seqpacket_server back "$TMP/back"
	start_tsock relay relay "unix-seqpacket:$TMP/front" \
		"unix-seqpacket:$TMP/back"
	[ "$LISTEN_relay" = "unix-seqpacket:$TMP/front" ]
	run run_bounded 20 python3 - "$TMP/front" <<'EOF'
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.settimeout(10)
c.connect(sys.argv[1])
sizes = [1, 7, 1000, 60000]
for n in sizes:
    c.send(b'm' * n)                # all sent before any is read
got = [c.recv(70000) for n in sizes]
ok = [g == b'%d:' % n + b'm' * n for g, n in zip(got, sizes)]
c.shutdown(socket.SHUT_WR)          # our end reaches the server
print(ok, c.recv(100), c.recv(100))
EOF
	[ "$output" = "[True, True, True, True] b'bye' b''" ]
}

@test "relay unix-seqpacket -> tcp --frame u16be: each message is a PDU, each PDU a message" {
	py_bg back <<'EOF'
import socket, struct, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(1)
print('listening on tcp:127.0.0.1:%d' % s.getsockname()[1],
      file=sys.stderr, flush=True)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(10)
data = b''
while len(data) < 2 + 3 + 2 + 4:
    data += c.recv(100)
print(data, flush=True)
c.sendall(struct.pack('>H', 2) + b'hi' + struct.pack('>H', 3) + b'yo!')
c.close()
EOF
	start_tsock relay relay --frame u16be "unix-seqpacket:$TMP/front" \
		"tcp:127.0.0.1:$PORT_back"
	run run_bounded 20 python3 - "$TMP/front" <<'EOF'
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.settimeout(10)
c.connect(sys.argv[1])
c.send(b'abc')
c.send(b'defg')
print(c.recv(100), c.recv(100), c.recv(100))
EOF
	[ "$output" = "b'hi' b'yo!' b''" ]
	wait_for_line "$TMP/back.out" "abc" 5
	[ "$(cat "$TMP/back.out")" = "b'\\x00\\x03abc\\x00\\x04defg'" ]
}

@test "relay unix-seqpacket:@NAME -> udp: a message is a datagram, a datagram a message" {
	start_tsock echo udp-echo udp:127.0.0.1:0
	local name="tsock-bats-sp-$$-$RANDOM"
	start_tsock relay relay "unix-seqpacket:@$name" "$LISTEN_echo"
	[ "$LISTEN_relay" = "unix-seqpacket:@$name" ]
	run run_bounded 20 python3 - "$name" <<'EOF'
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.settimeout(10)
c.connect(b'\0' + sys.argv[1].encode())
for m in (b'first', b'second message'):
    c.send(m)
print(c.recv(100), c.recv(100))
EOF
	[ "$output" = "b'first' b'second message'" ]
}

@test "connect unix-seqpacket: stdin to the server, its messages to stdout, its end ends tsock" {
	seqpacket_server back "$TMP/back"
	run run_bounded 20 "$TSOCK" connect "unix-seqpacket:$TMP/back" <<<"hello"
	[ "$status" -eq 0 ]
	[ "$output" = "6:hello
bye" ]
}

@test "unix-seqpacket errors: nobody listening (exit 1), udp-echo on it (exit 2)" {
	run run_bounded 10 "$TSOCK" connect "unix-seqpacket:$TMP/none" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"connect to unix-seqpacket:$TMP/none: No such file or directory"* ]]
	run "$TSOCK" udp-echo "unix-seqpacket:$TMP/x"
	[ "$status" -eq 2 ]
	[[ "$output" == *"udp-echo needs a udp or unix-dgram endpoint"* ]]
}

@test "unix-seqpacket with socat (type=5) on either side: socat's client through tsock, tsock's client to socat's listener" {
	start_tsock relay relay "unix-seqpacket:$TMP/front" 'exec:tr a-z A-Z'
	run run_bounded 10 socat -t 5 - "UNIX-CONNECT:$TMP/front,type=5" <<<"via socat"
	[ "$status" -eq 0 ]
	[ "$output" = "VIA SOCAT" ]
	socat "UNIX-LISTEN:$TMP/socat,type=5" EXEC:'tr a-z A-Z' &
	BG_PIDS+=("$!")
	wait_for_file "$TMP/socat" 5
	run run_bounded 10 "$TSOCK" connect "unix-seqpacket:$TMP/socat" <<<"to socat"
	[ "$status" -eq 0 ]
	[ "$output" = "TO SOCAT" ]
}
