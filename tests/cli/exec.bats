#!/usr/bin/env bats
#
# exec.bats - exec: and sh: endpoints (a child per connection) against
# real clients (socat, ncat, python3), on loopback only; every wait
# bounded.

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

# alive PID: true while PID is a live process (not a zombie).
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# wait_gone PID [SECONDS]: until PID is no live process (bounded).
wait_gone() {
	local i
	for ((i = 0; i < ${2:-10} * 50; i++)); do
		alive "$1" || return 0
		sleep 0.02
	done
	return 1
}

# zombies PID: how many defunct children PID has.
zombies() {
	local n=0 child
	for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		grep -q '^State:.*Z' "/proc/$child/status" 2>/dev/null &&
			n=$((n + 1))
	done
	echo "$n"
}

@test "connect exec: the child's stdin and stdout are the relay's other end, both ways with half-close" {
	run run_bounded 10 "$TSOCK" connect 'exec:tr a-z A-Z' <<<"hello world"
	[ "$status" -eq 0 ]
	[ "$output" = "HELLO WORLD" ]
}

@test "connect sh: runs the command with /bin/sh -c; -v reports the child's exit status" {
	run run_bounded 10 "$TSOCK" -v connect 'sh:read x; echo "got $x"; exit 0' <<<"line"
	[ "$status" -eq 0 ]
	[[ "$output" == *"got line"* ]]
	[[ "$output" == *"exited with status 0"* ]]
}

@test "connect exec: a child that does not read its input, or exits before it ends, is no error: its own status counts" {
	run run_bounded 10 "$TSOCK" connect exec:true <<<"never read"
	[ "$status" -eq 0 ]
	run run_bounded 10 sh -c "seq 200000 | '$TSOCK' connect 'exec:head -1'"
	[ "$status" -eq 0 ]
	[ "$output" = "1" ]
	# stdin still open: the child's end ends tsock, not stdin's
	run run_bounded 10 "$TSOCK" connect 'sh:exit 0' < <(sleep 8)
	[ "$status" -eq 0 ]
	run run_bounded 10 "$TSOCK" connect 'sh:exit 5' < <(sleep 8)
	[ "$status" -eq 1 ]
	[[ "$output" == *"exited with status 5"* ]]
}

@test "connect exec: exits 1 when the child fails, and says how" {
	run run_bounded 10 "$TSOCK" connect 'sh:echo partial; exit 3' </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"partial"* ]]
	[[ "$output" == *"sh:echo partial; exit 3: exited with status 3"* ]]
	run run_bounded 10 "$TSOCK" connect 'sh:kill -9 $$' </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"killed by signal 9"* ]]
}

@test "exec: splits like a shell without one: quotes and backslashes keep spaces, nothing is expanded" {
	run run_bounded 10 "$TSOCK" connect \
		"exec:printf '[%s]' 'a b' \"c  d\" e\\ f \$HOME *" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = '[a b][c  d][e f][$HOME][*]' ]
}

@test "exec: errors: a program that does not exist (exit 1, named), an empty command, an unclosed quote, exec as a listener (exit 2)" {
	run run_bounded 10 "$TSOCK" connect 'exec:/no/such/program arg' </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot run '/no/such/program': No such file or directory"* ]]
	run run_bounded 10 "$TSOCK" connect 'exec:nosuchprogram-tsock' </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot run 'nosuchprogram-tsock'"* ]]
	run "$TSOCK" connect 'exec:'
	[ "$status" -eq 2 ]
	[[ "$output" == *"endpoint 'exec:': empty command"* ]]
	run "$TSOCK" connect 'sh:   '
	[ "$status" -eq 2 ]
	[[ "$output" == *"empty command"* ]]
	run "$TSOCK" connect "exec:echo 'open"
	[ "$status" -eq 2 ]
	[[ "$output" == *"missing closing '"* ]]
	run "$TSOCK" relay exec:cat tcp:127.0.0.1:1
	[ "$status" -eq 2 ]
	[[ "$output" == *"exec endpoints cannot listen"* ]]
}

@test "exec: and sh: take no options: a command's ',x=y' is the command's" {
	run run_bounded 10 "$TSOCK" connect 'sh:echo a,b=c,insecure' </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "a,b=c,insecure" ]
	run run_bounded 10 "$TSOCK" connect 'exec:printf "a\tb\\n"' </dev/null
	# in "...", as in a shell, \t keeps its backslash and \\ is one
	[ "$output" = "$(printf 'a\tb')" ]
}

@test "relay tcp -> exec:cat: socat and python clients each get their own 1 MiB back (a child each, like inetd)" {
	start_tsock relay relay tcp:127.0.0.1:0 exec:cat
	random_file "$TMP/a" 1048576
	random_file "$TMP/b" 1048576
	run_bounded 30 socat -t 20 - "TCP:127.0.0.1:$PORT_relay" \
		<"$TMP/a" >"$TMP/a.back" &
	local p1=$!
	run_bounded 30 python3 - "$PORT_relay" "$TMP/b" >"$TMP/b.back" <<'EOF' &
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
c.sendall(open(sys.argv[2], 'rb').read())
c.shutdown(socket.SHUT_WR)
out = sys.stdout.buffer
while True:
    d = c.recv(65536)
    if not d:
        break
    out.write(d)
EOF
	local p2=$!
	wait "$p1"
	wait "$p2"
	[ "$(sha "$TMP/a.back")" = "$(sha "$TMP/a")" ]
	[ "$(sha "$TMP/b.back")" = "$(sha "$TMP/b")" ]
}

@test "relay tcp -> exec: with ncat as the client" {
	need ncat
	start_tsock relay relay tcp:127.0.0.1:0 'exec:tr a-z A-Z'
	run run_bounded 10 sh -c "printf 'from ncat\n' | ncat 127.0.0.1 $PORT_relay"
	[ "$status" -eq 0 ]
	[ "$output" = "FROM NCAT" ]
}

@test "relay -> sh: the child learns the client's and the listener's addresses from TSOCK_PEER_* and TSOCK_LOCAL_*" {
	start_tsock relay relay tcp:127.0.0.1:0 \
		'sh:echo "$TSOCK_PEER_ADDR $TSOCK_PEER_PORT $TSOCK_LOCAL_ADDR $TSOCK_LOCAL_PORT"'
	run run_bounded 10 python3 - "$PORT_relay" <<'EOF'
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
me = c.getsockname()
got = b''
while True:
    d = c.recv(4096)
    if not d:
        break
    got += d
want = '127.0.0.1 %d 127.0.0.1 %s' % (me[1], sys.argv[1])
print('ok' if got.decode().strip() == want else 'got %r want %r' % (got, want))
EOF
	[ "$output" = "ok" ]
}

@test "relay -> sh: what the child writes after its stdin ended, and just before it exits, all reaches the client" {
	start_tsock relay relay tcp:127.0.0.1:0 \
		'sh:cat >/dev/null; sleep 0.3; head -c 300000 /dev/zero | tr "\0" x; echo end'
	run run_bounded 20 python3 - "$PORT_relay" <<'EOF'
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
c.sendall(b'ignored\n')
c.shutdown(socket.SHUT_WR)          # the child's stdin ends here
n, tail = 0, b''
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
    tail = (tail + d)[-4:]
print(n, tail)
EOF
	[ "$output" = "300004 b'end\\n'" ]
}

@test "relay -> exec: children that exit early close their client; 20 clients leave no zombie and no child" {
	start_tsock relay relay tcp:127.0.0.1:0 exec:true
	local i
	for i in $(seq 20); do
		run run_bounded 10 python3 - "$PORT_relay" <<'EOF'
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
print('eof' if c.recv(10) == b'' else 'data')
EOF
		[ "$output" = "eof" ]
	done
	# reaped as they exit: bounded wait for the last SIGCHLD
	for i in $(seq 100); do
		[ "$(zombies "$PID_relay")" -eq 0 ] && break
		sleep 0.05
	done
	[ "$(zombies "$PID_relay")" -eq 0 ]
	[ -z "$(cat /proc/"$PID_relay"/task/*/children)" ]
	alive "$PID_relay"
}

@test "relay -> sh: a child that ignores SIGTERM is killed when tsock ends, with what it started; tsock exits 143 without waiting for ever" {
	# the shell ignores SIGTERM, and so does the sleep it starts
	start_tsock relay relay tcp:127.0.0.1:0 \
		"sh:trap '' TERM; sleep 60 & echo \$! >$TMP/child.pid; wait"
	run_bounded 10 python3 - "$PORT_relay" "$TMP/child.pid" <<'EOF' &
import os, socket, sys, time
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
for i in range(250):                # bounded: 5 s
    if os.path.exists(sys.argv[2]) and open(sys.argv[2]).read().strip():
        break
    time.sleep(0.02)
time.sleep(8)                       # hold the connection; killed below
EOF
	local client=$!
	wait_for_file "$TMP/child.pid" 10
	local child
	for i in $(seq 50); do
		child=$(cat "$TMP/child.pid")
		[ -n "$child" ] && break
		sleep 0.02
	done
	alive "$child"
	kill -TERM "$PID_relay"
	wait_exit "$PID_relay" 15
	[ "$EXIT_STATUS" -eq 143 ]
	wait_gone "$child" 5
	kill "$client" 2>/dev/null || true
}

@test "relay -> sh: a child still running when its client has gone gets SIGTERM after the grace period" {
	start_tsock relay relay -v tcp:127.0.0.1:0 \
		"sh:echo \$\$ >$TMP/child.pid; exec sleep 60"
	run run_bounded 10 python3 - "$PORT_relay" "$TMP/child.pid" <<'EOF'
import os, socket, sys, time
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
for i in range(250):                # bounded: 5 s
    if os.path.exists(sys.argv[2]) and open(sys.argv[2]).read().strip():
        break
    time.sleep(0.02)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\1\0\0\0\0\0\0\0')
c.close()                           # a reset: the session ends at once
print('closed')
EOF
	[ "$output" = "closed" ]
	local child
	child=$(cat "$TMP/child.pid")
	wait_gone "$child" 10
	wait_for_line "$TMP/relay.err" 'still running: SIGTERM' 5
	wait_for_line "$TMP/relay.err" 'killed by signal 15' 5
	alive "$PID_relay"
}

@test "listen tcp DATA=exec: each client in turn gets a child; -k serves the next" {
	start_tsock lis listen -k tcp:127.0.0.1:0 'exec:tr a-z A-Z'
	local i
	for i in 1 2 3; do
		run run_bounded 10 socat -t 5 - "TCP:127.0.0.1:$PORT_lis" <<<"client $i"
		[ "$output" = "CLIENT $i" ]
	done
	alive "$PID_lis"
}

@test "fd: cannot be relay's BACK or listen -k's DATA: one descriptor cannot serve many clients (exit 2)" {
	touch "$TMP/f"
	run "$TSOCK" relay tcp:127.0.0.1:0 fd:6 6<>"$TMP/f"
	[ "$status" -eq 2 ]
	[[ "$output" == *"BACK cannot be fd:6"* ]]
	run "$TSOCK" listen -k tcp:127.0.0.1:0 fd:6 6<>"$TMP/f"
	[ "$status" -eq 2 ]
	[[ "$output" == *"DATA cannot be fd:6"* ]]
}

@test "relay unix:@NAME (abstract, no file) <-> socat ABSTRACT-CONNECT, and unix-dgram:@NAME" {
	local name="tsock-bats-$$-$RANDOM"
	start_tsock relay relay "unix:@$name" exec:cat
	[ "$LISTEN_relay" = "unix:@$name" ]
	run run_bounded 10 socat -t 5 - "ABSTRACT-CONNECT:$name" <<<"over abstract"
	[ "$output" = "over abstract" ]
	# and tsock as the client of an abstract listener
	run run_bounded 10 "$TSOCK" connect "unix:@$name" <<<"tsock client"
	[ "$output" = "tsock client" ]
	start_tsock echo udp-echo "unix-dgram:@$name-d"
	[ "$LISTEN_echo" = "unix-dgram:@$name-d" ]
	run run_bounded 10 python3 - "$name-d" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(b'\0' + b'tsock-bats-client-%d' % __import__('os').getpid())
s.settimeout(5)
s.sendto(b'ping', b'\0' + sys.argv[1].encode())
print(s.recv(100).decode())
EOF
	[ "$output" = "ping" ]
}

@test "abstract names: too long (exit 2), empty (exit 2), mode= refused; relay unix:@a to itself refused" {
	run "$TSOCK" connect "unix:@$(printf 'a%.0s' $(seq 108))"
	[ "$status" -eq 2 ]
	[[ "$output" == *"abstract name too long"* ]]
	run "$TSOCK" connect "unix:@"
	[ "$status" -eq 2 ]
	[[ "$output" == *"missing name after '@'"* ]]
	run run_bounded 5 "$TSOCK" listen "unix:@tsock-bats-$$,mode=0600"
	[ "$status" -eq 2 ]
	[[ "$output" == *"mode= needs a socket file"* ]]
	run run_bounded 5 "$TSOCK" relay "unix:@tsock-bats-self-$$" \
		"unix:@tsock-bats-self-$$"
	[ "$status" -eq 2 ]
	[[ "$output" == *"would connect to itself"* ]]
	# listen's DATA is opened per client too: the same guard
	run run_bounded 5 "$TSOCK" listen "unix:$TMP/self" "unix:$TMP/self"
	[ "$status" -eq 2 ]
	[[ "$output" == *"would connect to itself"* ]]
}

@test "unix:PATH,mode=0600: the socket file gets that mode" {
	start_tsock relay relay "unix:$TMP/s,mode=0600" exec:cat
	[ "$(stat -c %a "$TMP/s")" = "600" ]
	run run_bounded 10 socat -t 5 - "UNIX-CONNECT:$TMP/s" <<<"moded"
	[ "$output" = "moded" ]
	run "$TSOCK" connect "unix:$TMP/s,mode=0600"
	[ "$status" -eq 2 ]
	[[ "$output" == *"option 'mode' applies only to a listening endpoint"* ]]
}
