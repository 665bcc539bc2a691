#!/usr/bin/env bats
#
# endings.bats - what tsock leaves behind and what it refuses: stale and
# live unix socket files, and removing only its own socket file.  Private
# temp dirs only; every wait is bounded.

setup() {
	load helpers
	setup_tmp
	# the interpreter itself, in case python3 is a wrapper that forks it
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
}

teardown() {
	teardown_tmp
}

# ------------------------------------------------------ unix socket files

# full_unix_listener NAME PATH BACKLOG_FILL: a live python unix listener on
# PATH with listen(0) whose backlog is then filled by non-blocking
# connects (BACKLOG_FILL of them), never accepting; prints "full".
full_unix_listener() {
	"$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(0)
held = []
for i in range(int(sys.argv[2])):
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(sys.argv[1])
    except BlockingIOError:
        pass
    held.append(c)
print("full", file=sys.stderr, flush=True)
time.sleep(60)
' "$2" "$3" >"$TMP/$1.out" 2>"$TMP/$1.err" 3>&- &
	eval "PID_$1=$!"
	BG_PIDS+=("$!")
	wait_for_line "$TMP/$1.err" '^full$'
}

@test "listen unix:PATH: a live listener with a full backlog is refused at once, not waited for" {
	full_unix_listener live "$TMP/s" 3
	SECONDS=0
	run run_bounded 5 "$TSOCK" listen "unix:$TMP/s" </dev/null
	echo "status $status after ${SECONDS}s: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unix:$TMP/s"* ]]
	[[ "$output" == *"in use"* ]]
	[ "$SECONDS" -lt 3 ]
	[ -S "$TMP/s" ]
	kill -0 "$PID_live"
}

@test "relay unix:PATH: a live listener with a full backlog is refused at once, not waited for" {
	full_unix_listener live "$TMP/front" 3
	run run_bounded 5 "$TSOCK" relay "unix:$TMP/front" tcp:127.0.0.1:9 </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use"* ]]
	[ -S "$TMP/front" ]
}

@test "listen unix-dgram:PATH over a live unix stream listener is refused, the file kept" {
	full_unix_listener live "$TMP/s" 0
	run run_bounded 5 "$TSOCK" udp-echo "unix-dgram:$TMP/s" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use"* ]]
	[ -S "$TMP/s" ]
}

# stale_socket PATH: a unix socket file whose owner is gone.
stale_socket() {
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1"
}

@test "listen unix:PATH: a symlink to a socket is neither followed nor removed" {
	stale_socket "$TMP/target"
	ln -s target "$TMP/link"
	run run_bounded 5 "$TSOCK" listen "unix:$TMP/link" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"symbolic link"* ]]
	[ -L "$TMP/link" ]
	[ -S "$TMP/target" ]
	# a dangling one is left alone too
	ln -s nowhere "$TMP/dangling"
	run run_bounded 5 "$TSOCK" listen "unix:$TMP/dangling" </dev/null
	[ "$status" -eq 1 ]
	[ -L "$TMP/dangling" ]
}

@test "listen unix:PATH: a fifo, a directory or a regular file there is never removed" {
	mkfifo "$TMP/fifo"
	mkdir "$TMP/dir"
	printf 'precious\n' >"$TMP/file"
	for f in fifo dir file; do
		run run_bounded 5 "$TSOCK" listen "unix:$TMP/$f" </dev/null
		echo "$f: $status $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not a socket"* ]]
	done
	[ -p "$TMP/fifo" ]
	[ -d "$TMP/dir" ]
	[ "$(cat "$TMP/file")" = precious ]
}

@test "listen unix:PATH under a symlinked directory replaces a stale socket there and removes its own at exit" {
	mkdir "$TMP/real"
	ln -s real "$TMP/via"
	stale_socket "$TMP/real/s"
	start_tsock srv listen "unix:$TMP/via/s"
	[ -S "$TMP/real/s" ]
	kill -TERM "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ ! -e "$TMP/real/s" ]
	[ -L "$TMP/via" ]
}

@test "at exit tsock removes its socket file from the directory it bound in, even if that was renamed, and nothing at the old path" {
	mkdir "$TMP/d"
	start_tsock srv listen "unix:$TMP/d/s"
	# the directory moves away; another socket takes the old path
	mv "$TMP/d" "$TMP/moved"
	mkdir "$TMP/d"
	stale_socket "$TMP/d/s"
	kill -TERM "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ ! -e "$TMP/moved/s" ]
	[ -S "$TMP/d/s" ]
}

@test "at exit a directory swapped for a symlink is not followed: the socket it leads to stays" {
	mkdir "$TMP/d" "$TMP/other"
	start_tsock srv listen "unix:$TMP/d/s"
	mv "$TMP/d" "$TMP/moved"
	stale_socket "$TMP/other/s"
	ln -s other "$TMP/d"
	kill -TERM "$PID_srv"
	wait_exit "$PID_srv" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ -S "$TMP/other/s" ]
	[ -L "$TMP/d" ]
	[ ! -e "$TMP/moved/s" ]
}

@test "udp-echo unix-dgram: its socket file goes from the directory it bound in, even if that was renamed" {
	mkdir "$TMP/d"
	start_tsock echo udp-echo "unix-dgram:$TMP/d/s"
	mv "$TMP/d" "$TMP/moved"
	kill -TERM "$PID_echo"
	wait_exit "$PID_echo" 5
	[ "$EXIT_STATUS" -eq 143 ]
	[ ! -e "$TMP/moved/s" ]
}

# ------------------------------------------------------------ relay loops

# A relay refused for being its own back end: exit 2 at once, saying so,
# and no socket file left behind.
refused_as_own_back() {
	run run_bounded 5 "$TSOCK" relay "$@" </dev/null
	echo "status $status: $output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"own FRONT"* ]]
}

@test "relay tcp:127.0.0.1:P tcp:127.0.0.1:P: refused at start (exit 2), not a connection storm" {
	local port
	port=$(free_port)
	refused_as_own_back "tcp:127.0.0.1:$port" "tcp:127.0.0.1:$port"
}

@test "relay udp:127.0.0.1:P udp:127.0.0.1:P: refused at start (exit 2)" {
	local port
	port=$(free_port)
	refused_as_own_back "udp:127.0.0.1:$port" "udp:127.0.0.1:$port"
}

@test "relay tcp front and a udp back of the same port number: not a loop, it runs" {
	local port
	port=$(free_port)
	start_tsock relay relay "tcp:127.0.0.1:$port" "udp:127.0.0.1:$port"
	kill -0 "$PID_relay"
}

@test "relay unix:PATH with BACK a symlink to its own socket file: refused at start (exit 2)" {
	ln -s "$TMP/front" "$TMP/link"
	refused_as_own_back "unix:$TMP/front" "unix:$TMP/link"
	[ ! -e "$TMP/front" ]
	refused_as_own_back "unix:$TMP/front" "unix:$TMP/./front"
}

@test "relay with BACK a name that resolves to FRONT: the client is closed with a reason, tsock keeps its fds" {
	local port i after_first
	port=$(free_port)
	start_tsock relay relay "tcp:127.0.0.1:$port" "tcp4:localhost:$port"
	for i in 1 2; do
		run run_bounded 5 "$PY" -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=4)
c.sendall(b"hello")
try:
    print("read", len(c.recv(100)))
except ConnectionResetError:
    print("read 0")     # closed with "hello" unread: a reset
' "$port"
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$output" = "read 0" ]
		wait_for_line "$TMP/relay.err" "own listening address" 5
		# the first lookup starts the resolver (a pipe): count after it
		[ "$i" -eq 2 ] || after_first=$(fd_count "$PID_relay")
	done
	cat "$TMP/relay.err"
	[ "$(grep -c 'own listening address' "$TMP/relay.err")" -eq 2 ]
	[ "$(fd_count "$PID_relay")" -eq "$after_first" ]
	kill -0 "$PID_relay"
}

@test "relay loop through a redirect (NAT-like): broken at its first turn, both ends closed, tsock keeps serving" {
	local port i before
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	# connections for 127.0.0.2 go to our own port, once it is known
	REDIRECT_CONNECT_PORT_FILE=$TMP/port LD_PRELOAD=$REDIRECT_CONNECT \
		start_tsock relay relay -v tcp:127.0.0.1:0 tcp:127.0.0.2:9
	echo "$PORT_relay" >"$TMP/port"
	before=$(fd_count "$PID_relay")
	for i in 1 2; do
		run run_bounded 5 "$PY" -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=4)
c.sendall(b"hello")
try:
    print("read", len(c.recv(100)))
except ConnectionResetError:
    print("read 0")
' "$PORT_relay"
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$output" = "read 0" ]
	done
	wait_for_line "$TMP/relay.err" "relay loop.*both closed" 5
	cat "$TMP/relay.err"
	# two clients, each looped once: four accepted, two loops broken
	[ "$(grep -c 'relay loop' "$TMP/relay.err")" -eq 2 ]
	[ "$(grep -c 'new client' "$TMP/relay.err")" -eq 4 ]
	wait_fds "$PID_relay" "$before" 5
	kill -0 "$PID_relay"
}

@test "relay with 600 clients at once: none is taken for a loop, though the kernel gives our back connections their ports too" {
	local i
	echo_back echo
	start_tsock relay relay "tcp:127.0.0.1:0" "tcp:127.0.0.1:$PORT_echo"
	# a client's port may be the port of one of tsock's own connections
	# to BACK (to another address): that is no loop
	run run_bounded 60 "$PY" - "$PORT_relay" <<'EOF2'
import socket, sys, selectors
port = int(sys.argv[1])
conns = []
for i in range(600):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"%08d" % i)
    conns.append(c)
ok = 0
for i, c in enumerate(conns):
    want = b"%08d" % i
    got = b""
    try:
        while len(got) < len(want):
            d = c.recv(64)
            if not d:
                break
            got += d
    except OSError:
        pass
    ok += got == want
    c.close()
print("echoed", ok)
EOF2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "echoed 600" ]
	! grep 'relay loop' "$TMP/relay.err"
}
