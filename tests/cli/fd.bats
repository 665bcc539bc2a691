#!/usr/bin/env bats
#
# fd.bats - fd:N and systemd endpoints: descriptors tsock is given, by a
# python3 parent or by systemd-socket-activate, on loopback only.

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

# parent_of_tsock KIND [TSOCK ARGS with FD for the descriptor]: a python3
# parent makes a socket of KIND (tcp-listen, udp, pair), runs tsock with
# it, talks to it, and prints what came back.
parent_of_tsock() {
	run_bounded 20 python3 - "$TSOCK" "$@" <<'EOF'
import socket, subprocess, sys
tsock, kind, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if kind == 'tcp-listen':
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(8)
elif kind == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
else:
    s, mine = socket.socketpair()
fd = s.fileno()
args = [a.replace('FD', str(fd)) for a in args]
p = subprocess.Popen([tsock] + args, pass_fds=[fd], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
if kind == 'pair':
    s.close()                       # tsock's now
    mine.sendall(b'to stdout\n')
    mine.shutdown(socket.SHUT_WR)
    out, err = p.communicate(b'from stdin\n', timeout=10)
    mine.settimeout(5)
    print(mine.recv(100).decode().strip(), '|', out.decode().strip())
    sys.exit(0)
line = p.stderr.readline().decode().strip()
print(line)
if kind == 'tcp-listen':
    c = socket.create_connection(s.getsockname(), timeout=5)
    c.sendall(b'over tcp')
    c.shutdown(socket.SHUT_WR)
    print(c.recv(100).decode())
else:
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    c.sendto(b'over udp', s.getsockname())
    print(c.recv(100).decode())
p.terminate()
print('exit', p.wait())
EOF
}

@test "relay fd:N: a listening TCP socket from the parent is accepted on, named by its address" {
	run parent_of_tsock tcp-listen relay fd:FD 'exec:tr a-z A-Z'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^listening\ on\ tcp:127\.0\.0\.1:[0-9]+$ ]]
	[ "${lines[1]}" = "OVER TCP" ]
	[ "${lines[2]}" = "exit 143" ]
}

@test "udp-echo fd:N: a bound UDP socket from the parent is served" {
	run parent_of_tsock udp udp-echo fd:FD
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^listening\ on\ udp:127\.0\.0\.1:[0-9]+$ ]]
	[ "${lines[1]}" = "over udp" ]
}

@test "connect fd:N: a connected socket (one end of a socketpair) is relayed to stdin and stdout" {
	run parent_of_tsock pair connect fd:FD
	[ "$status" -eq 0 ]
	[ "$output" = "from stdin | to stdout" ]
}

@test "fd: errors: a closed descriptor, not a number, a listening socket to connect to, a non-socket to listen on (exit 2)" {
	run "$TSOCK" relay fd:57 tcp:127.0.0.1:1
	[ "$status" -eq 2 ]
	[[ "$output" == *"endpoint 'fd:57': descriptor 57 is not open"* ]]
	run "$TSOCK" connect fd:x
	[ "$status" -eq 2 ]
	[[ "$output" == *"expected a descriptor number"* ]]
	run "$TSOCK" relay fd:0 tcp:127.0.0.1:1 </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"descriptor 0 is not a socket"* ]]
	run parent_of_tsock tcp-listen connect fd:FD
	[[ "$output" == *"descriptor "*" is a listening socket (use it as FRONT)"* ]]
}

@test "systemd-socket-activate -l PATH: tsock relay systemd serves the passed unix socket and leaves its file" {
	need systemd-socket-activate
	systemd-socket-activate -l "$TMP/act" "$TSOCK" -v relay systemd \
		'exec:tr a-z A-Z' >"$TMP/act.out" 2>&1 &
	BG_PIDS+=("$!")
	local act=$!
	wait_for_line "$TMP/act.out" "^Listening on $TMP/act" 10
	# the first client starts tsock (it waits in the backlog meanwhile)
	run run_bounded 15 socat -t 5 - "UNIX-CONNECT:$TMP/act" <<<"first"
	[ "$output" = "FIRST" ]
	run run_bounded 15 socat -t 5 - "UNIX-CONNECT:$TMP/act" <<<"second"
	[ "$output" = "SECOND" ]
	wait_for_line "$TMP/act.out" "^listening on unix:$TMP/act\$"
	kill -TERM "$act"
	wait_exit "$act" 10
	[ "$EXIT_STATUS" -eq 143 ]
	# not tsock's to remove: systemd made it
	[ -S "$TMP/act" ]
}

@test "systemd-socket-activate with two named sockets: systemd:NAME picks one, systemd alone is refused" {
	need systemd-socket-activate
	local port
	port=$(free_port)
	systemd-socket-activate -l "$TMP/one" -l "127.0.0.1:$port" \
		--fdname=one:web "$TSOCK" relay systemd:web 'exec:tr a-z A-Z' \
		>"$TMP/act.out" 2>&1 &
	BG_PIDS+=("$!")
	wait_for_line "$TMP/act.out" "^Listening on 127.0.0.1:$port" 10
	run run_bounded 15 socat -t 5 - "TCP:127.0.0.1:$port" <<<"by name"
	[ "$output" = "BY NAME" ]
	wait_for_line "$TMP/act.out" "^listening on tcp:127.0.0.1:$port\$"

	systemd-socket-activate -l "$TMP/two" -l "$TMP/three" \
		"$TSOCK" relay systemd exec:cat >"$TMP/act2.out" 2>&1 &
	BG_PIDS+=("$!")
	local act2=$!
	wait_for_line "$TMP/act2.out" "^Listening on $TMP/three" 10
	run_bounded 15 socat -t 2 - "UNIX-CONNECT:$TMP/two" </dev/null || true
	wait_exit "$act2" 10
	[ "$EXIT_STATUS" -eq 2 ]
	grep -F "2 sockets passed: name one, systemd:NAME" "$TMP/act2.out"
}

@test "systemd: errors: nothing passed, sockets passed to another process, no such name (exit 2)" {
	run env -u LISTEN_PID -u LISTEN_FDS "$TSOCK" relay systemd exec:cat
	[ "$status" -eq 2 ]
	[[ "$output" == *"no sockets passed"* ]]
	run env LISTEN_PID=1 LISTEN_FDS=1 "$TSOCK" relay systemd exec:cat
	[ "$status" -eq 2 ]
	[[ "$output" == *"are for process 1, not this one"* ]]
	run "$TSOCK" connect systemd
	[ "$status" -eq 2 ]
	[[ "$output" == *"systemd endpoints cannot be connected to"* ]]
}
