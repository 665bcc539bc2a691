#!/usr/bin/env bats
# hygiene.bats - resources: no fd leaks, no busy loop, no SIGPIPE deaths

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

@test "relay: 1000 connections one after another leak no file descriptor" {
	echo_back echo
	start_tsock relay relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_echo"
	before=$(fd_count "$PID_relay")
	run run_bounded 60 python3 -c "
import socket
for i in range(1000):
    c = socket.create_connection(('127.0.0.1', $PORT_relay), timeout=5)
    c.sendall(b'ping %d' % i)
    c.shutdown(socket.SHUT_WR)
    got = b''
    while True:
        d = c.recv(100)
        if not d:
            break
        got += d
    assert got == b'ping %d' % i, got
    c.close()
print('done')
"
	[ "$status" -eq 0 ]
	[ "$output" = "done" ]
	# the last relay may still be closing: give it a bounded moment
	wait_fds "$PID_relay" "$before" 1
	kill -0 "$PID_relay"
}

@test "relay: idle half-closed connections do not spin the CPU" {
	# the backend shuts down its side at once and then stays idle
	python_server back '
c, _ = s.accept()
c.shutdown(socket.SHUT_WR)
time.sleep(20)
'
	start_tsock relay relay tcp:127.0.0.1:0 "tcp:127.0.0.1:$PORT_back"
	idle_fds=$(fd_count "$PID_relay")
	# a client that connects and then neither sends nor reads
	python3 -c "
import socket, time
c = socket.create_connection(('127.0.0.1', $PORT_relay))
time.sleep(20)
" &
	BG_PIDS+=("$!")
	# wait until the relay holds both ends
	for i in $(seq 100); do
		[ "$(fd_count "$PID_relay")" -ge $((idle_fds + 2)) ] && break
		sleep 0.02
	done
	[ "$(fd_count "$PID_relay")" -ge $((idle_fds + 2)) ]
	idle_over_a_second "$PID_relay"
}

@test "connect: a peer that closes while tsock writes is an error, not SIGPIPE" {
	python_server sink '
c, _ = s.accept()
c.recv(10)
c.close()
'
	random_file "$TMP/big" $((8 * 1024 * 1024))
	run run_bounded 20 "$TSOCK" connect "tcp:127.0.0.1:$PORT_sink" <"$TMP/big"
	echo "status $status: $output"
	# 1: a network error; 141 would be a death by SIGPIPE
	[ "$status" -eq 1 ]
	[[ "$output" == *"tcp:127.0.0.1:$PORT_sink"* ]]
}

@test "connect: output into a closed pipe ends quietly, not by SIGPIPE" {
	python_server talker '
c, _ = s.accept()
for i in range(2000):
    c.sendall(b"x" * 4096)
'
	run run_bounded 20 bash -c "'$TSOCK' connect tcp:127.0.0.1:$PORT_talker </dev/null | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "0" ]
}
