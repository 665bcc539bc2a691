#!/usr/bin/env bats
#
# connect.bats - tsock connect and tsock listen against real peers
# (python3 sockets, socat, nc), on loopback only.  Every server uses port 0
# and a readiness line; every wait is bounded in time.

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

# ------------------------------------------------------------ local helpers

# py_server NAME SCRIPT [ARGS...]: py_bg (helpers.bash) with the script
# given as an argument: sets PORT_<NAME> and PID_<NAME>.
py_server() {
	local name=$1 script=$2
	shift 2
	py_bg "$name" "$@" <<<"$script"
}

# socat_echo NAME: a socat TCP echo server on 127.0.0.1, port 0; sets
# PORT_<NAME> from socat's own "listening on" log line.
socat_echo() {
	local name=$1 line
	# -t 30: after our EOF socat would close 0.5 s later, echo or not.
	# cat, not PIPE: on our EOF socat closes cat's input, and cat's end
	# after the last echoed byte is what ends the connection (with PIPE,
	# socat now and then kept its pipe open and waited out the 30 s)
	socat -d -d -t 30 TCP-LISTEN:0,bind=127.0.0.1 EXEC:cat \
		>/dev/null 2>"$TMP/$name.err" &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	line=$(wait_for_line "$TMP/$name.err" \
		'listening on AF=2 127\.0\.0\.1:[0-9]+') || return 1
	line=${line##*:}
	eval "PORT_$name=\${line%%[^0-9]*}"
}

# A TCP echo server for one client: echoes until EOF, then closes.
ECHO_ONE='
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d:
        break
    c.sendall(d)
c.close()
'

# ------------------------------------------------------------ connect

@test "connect tcp:127.0.0.1:PORT round-trips 4 MiB through a python echo server" {
	random_file "$TMP/data" $((4 * 1024 * 1024))
	python_server echo "$ECHO_ONE"
	run_bounded 20 "$TSOCK" connect "tcp:127.0.0.1:$PORT_echo" \
		<"$TMP/data" >"$TMP/got"
	[ "$(stat -c %s "$TMP/got")" -eq $((4 * 1024 * 1024)) ]
	[ "$(sha "$TMP/got")" = "$(sha "$TMP/data")" ]
}

@test "connect tcp 127.0.0.1:PORT (two-word form) round-trips 4 MiB through socat" {
	random_file "$TMP/data" $((4 * 1024 * 1024))
	socat_echo echo
	run_bounded 20 "$TSOCK" connect tcp "127.0.0.1:$PORT_echo" \
		<"$TMP/data" >"$TMP/got"
	[ "$(stat -c %s "$TMP/got")" -eq $((4 * 1024 * 1024)) ]
	[ "$(sha "$TMP/got")" = "$(sha "$TMP/data")" ]
}

@test "connect half-closes on stdin EOF and still prints a reply sent 1 s later" {
	python_server late '
c, _ = s.accept()
data = b""
while True:
    d = c.recv(4096)
    if not d:
        break
    data += d
time.sleep(1)
c.sendall(b"reply to " + data)
c.close()
'
	run run_bounded 10 sh -c 'printf req | "$1" connect "tcp:127.0.0.1:$2"' \
		sh "$TSOCK" "$PORT_late"
	[ "$status" -eq 0 ]
	[ "$output" = "reply to req" ]
}

@test "connect unix:PATH talks to a python unix stream server" {
	py_server unix '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
print("listening on unix:" + sys.argv[1], file=sys.stderr, flush=True)
s.settimeout(20)
c, _ = s.accept()
data = b""
while True:
    d = c.recv(4096)
    if not d:
        break
    data += d
c.sendall(b"unix got " + data)
c.close()
' "$TMP/u.sock"
	run run_bounded 10 sh -c 'printf "hello unix" | "$1" connect "unix:$2"' \
		sh "$TSOCK" "$TMP/u.sock"
	[ "$status" -eq 0 ]
	[ "$output" = "unix got hello unix" ]
}

@test "connect tcp:[::1]:PORT talks to an IPv6 server" {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
		2>/dev/null || skip "::1 is not available"
	py_server v6 '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.bind(("::1", 0))
s.listen(1)
print("listening on tcp:[::1]:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
s.settimeout(20)
c, peer = s.accept()
data = b""
while True:
    d = c.recv(4096)
    if not d:
        break
    data += d
c.sendall(b"v6 " + peer[0].encode() + b" " + data)
c.close()
'
	run run_bounded 10 sh -c 'printf "hello six" | "$1" connect "tcp:[::1]:$2"' \
		sh "$TSOCK" "$PORT_v6"
	[ "$status" -eq 0 ]
	[ "$output" = "v6 ::1 hello six" ]
}

@test "connect udp:127.0.0.1:PORT gets the echo of a python UDP echo server" {
	py_server uecho '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print("listening on udp:127.0.0.1:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
s.settimeout(20)
while True:
    d, peer = s.recvfrom(65536)
    s.sendto(d, peer)
'
	run run_bounded 10 sh -c 'printf "ping over udp" | "$1" -q 0.5 connect "udp:127.0.0.1:$2"' \
		sh "$TSOCK" "$PORT_uecho"
	[ "$status" -eq 0 ]
	[ "$output" = "ping over udp" ]
}

# ------------------------------------------------------------ listen

@test "listen tcp:127.0.0.1:0 sends stdin to an nc client and prints what it sends" {
	random_file "$TMP/srv.in" $((4 * 1024 * 1024))
	random_file "$TMP/client.data" $((256 * 1024))
	start_tsock srv listen tcp:127.0.0.1:0
	[[ "$LISTEN_srv" =~ ^tcp:127\.0\.0\.1:[0-9]+$ ]]
	[ "$PORT_srv" -gt 0 ]
	run_bounded 20 nc -N 127.0.0.1 "$PORT_srv" \
		<"$TMP/client.data" >"$TMP/client.got"
	wait_exit "$PID_srv" 10
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$(sha "$TMP/client.got")" = "$(sha "$TMP/srv.in")" ]
	[ "$(sha "$TMP/srv.out")" = "$(sha "$TMP/client.data")" ]
}

@test "listen -k serves two clients one after the other" {
	start_tsock srv -k listen tcp:127.0.0.1:0
	run_bounded 10 python3 -c '
import socket, sys
for word in (b"first\n", b"second\n"):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    c.sendall(word)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096):
        pass
    c.close()
' "$PORT_srv"
	wait_for_line "$TMP/srv.out" '^second$'
	[ "$(cat "$TMP/srv.out")" = "$(printf 'first\nsecond')" ]
	# still accepting after both
	kill -0 "$PID_srv"
	kill -TERM "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 143 ]
}

# ------------------------------------------------------------ -v and -x

@test "-v reports the connection and byte counts on stderr" {
	python_server echo "$ECHO_ONE"
	run_bounded 10 sh -c 'printf hello | "$1" -v connect "tcp:127.0.0.1:$2"' \
		sh "$TSOCK" "$PORT_echo" >"$TMP/out" 2>"$TMP/err"
	[ "$(cat "$TMP/out")" = hello ]
	grep -F "connected to tcp:127.0.0.1:$PORT_echo" "$TMP/err"
	grep -E "closed .*: 5 bytes sent, 5 received" "$TMP/err"
}

@test "-x dumps the data in hex on stderr" {
	python_server echo "$ECHO_ONE"
	run_bounded 10 sh -c 'printf hello | "$1" -x connect "tcp:127.0.0.1:$2"' \
		sh "$TSOCK" "$PORT_echo" >"$TMP/out" 2>"$TMP/err"
	[ "$(cat "$TMP/out")" = hello ]
	grep -F "stdio > tcp:127.0.0.1:$PORT_echo (5 bytes)" "$TMP/err"
	grep -F "tcp:127.0.0.1:$PORT_echo > stdio (5 bytes)" "$TMP/err"
	grep -E '^00000000  68 65 6c 6c 6f .*hello$' "$TMP/err"
}

@test "without -v and -x a clean connect prints nothing on stderr" {
	python_server echo "$ECHO_ONE"
	run_bounded 10 sh -c 'printf hello | "$1" connect "tcp:127.0.0.1:$2"' \
		sh "$TSOCK" "$PORT_echo" >"$TMP/out" 2>"$TMP/err"
	[ "$(cat "$TMP/out")" = hello ]
	[ ! -s "$TMP/err" ]
}

@test "listen -v reports the client's address on stderr" {
	start_tsock srv -v listen tcp:127.0.0.1:0
	run_bounded 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(c.getsockname()[1], flush=True)
c.sendall(b"hi")
c.shutdown(socket.SHUT_WR)
while c.recv(4096):
    pass
' "$PORT_srv" >"$TMP/client.port"
	wait_exit "$PID_srv" 10
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$(cat "$TMP/srv.out")" = hi ]
	grep -F "connection from tcp:127.0.0.1:$(cat "$TMP/client.port")" \
		"$TMP/srv.err"
}

@test "listen tcp 127.0.0.1:0 (two-word form) prints its readiness line" {
	start_tsock srv listen tcp 127.0.0.1:0
	[[ "$LISTEN_srv" =~ ^tcp:127\.0\.0\.1:[0-9]+$ ]]
	run_bounded 10 nc -N 127.0.0.1 "$PORT_srv" </dev/null >/dev/null
	wait_exit "$PID_srv" 10
	[ "$EXIT_STATUS" -eq 0 ]
}

# ------------------------------------------------------------ unix socket files

@test "listen unix:PATH refuses to replace a regular file and leaves it alone" {
	printf 'precious\n' >"$TMP/s"
	run run_bounded 5 "$TSOCK" listen "unix:$TMP/s" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"$TMP/s"* ]]
	[[ "$output" == *"not a socket"* ]]
	[ -f "$TMP/s" ]
	[ "$(cat "$TMP/s")" = precious ]
}

@test "listen unix:PATH removes its socket file after SIGTERM and exits 143" {
	start_tsock srv listen "unix:$TMP/s"
	[ "$LISTEN_srv" = "unix:$TMP/s" ]
	[ -S "$TMP/s" ]
	kill -TERM "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ ! -e "$TMP/s" ]
}

@test "listen unix:PATH removes its socket file after SIGINT and exits 130" {
	start_tsock srv listen "unix:$TMP/s"
	[ -S "$TMP/s" ]
	kill -INT "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 130 ]
	[ ! -e "$TMP/s" ]
}

@test "listen unix:PATH replaces a stale socket file left by a dead process" {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
' "$TMP/s"
	[ -S "$TMP/s" ]
	start_tsock srv listen "unix:$TMP/s"
	[ -S "$TMP/s" ]
	kill -TERM "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ ! -e "$TMP/s" ]
}
