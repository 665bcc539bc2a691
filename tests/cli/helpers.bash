# helpers.bash - shared by the bats tests of tsock
#
# Tests run tsock from the build tree ($TSOCK, set by make check), use
# loopback only, port 0 and the "listening on" readiness line, and bound
# every wait in time.

: "${TSOCK:=$BATS_TEST_DIRNAME/../../src/tsock}"

# A private temp dir per test, removed by teardown.
setup_tmp() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/tsock-bats.XXXXXX")
	BG_PIDS=()
}

# Kill what a test left running and remove its temp dir.
teardown_tmp() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# wait_for_line FILE REGEX [SECONDS]: wait until FILE has a line matching
# REGEX (bounded: default 5 s), print that line.
wait_for_line() {
	local file=$1 re=$2 limit=${3:-5} i
	for ((i = 0; i < limit * 50; i++)); do
		if [ -f "$file" ] && grep -m1 -E "$re" "$file"; then
			return 0
		fi
		sleep 0.02
	done
	echo "timed out waiting for /$re/ in $file:" >&2
	cat "$file" >&2 2>/dev/null
	return 1
}

# start_tsock NAME ARGS...: run tsock in the background with stderr in
# $TMP/NAME.err (stdout in $TMP/NAME.out, stdin from $TMP/NAME.in if it
# exists, else /dev/null), wait for its readiness line and set
# LISTEN_<NAME>=the endpoint it printed, PORT_<NAME>=its port (if any),
# PID_<NAME>=its pid.
start_tsock() {
	local name=$1 in line addr
	shift
	in=/dev/null
	[ -e "$TMP/$name.in" ] && in="$TMP/$name.in"
	"$TSOCK" "$@" <"$in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	line=$(wait_for_line "$TMP/$name.err" '^listening on ') || return 1
	addr=${line#listening on }
	eval "LISTEN_$name=\$addr"
	eval "PORT_$name=\${addr##*:}"
}

# run_bounded SECONDS CMD...: run CMD with a time limit (exit 124 if hit).
run_bounded() {
	local limit=$1
	shift
	timeout -k 2 "$limit" "$@"
}

# A python3 TCP server on 127.0.0.1 port 0: python_server NAME CODE,
# where CODE handles one accepted socket `c` (and may use `s`).  Prints
# "listening on tcp:127.0.0.1:PORT" so start_bg can wait for it.
python_server() {
	local name=$1 code=$2
	python3 -c "
import socket, sys, time, os
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(1024)
print('listening on tcp:127.0.0.1:%d' % s.getsockname()[1], file=sys.stderr, flush=True)
s.settimeout(20)
$code
" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	local line
	line=$(wait_for_line "$TMP/$name.err" '^listening on ') || return 1
	eval "PORT_$name=\${line##*:}"
}

# echo_back NAME: a threaded python TCP echo server (each connection
# echoed until EOF), port in PORT_NAME.
echo_back() {
	python_server "$1" '
import threading
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
s.settimeout(None)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'
}

# py_start NAME READY_REGEX [ARGS...]: run the python3 script read from
# stdin (saved as $TMP/NAME.py) in the background with ARGS, stdout in
# $TMP/NAME.out, stderr in $TMP/NAME.err and fd 3 closed (else bats
# would wait for it); wait (bounded) for a stderr line matching
# READY_REGEX and put it in READY_LINE; PID_<NAME> is its pid.  The
# interpreter is $PY if the test file set it (sys.executable, so that the
# pid is the interpreter's own, not a wrapper's), else python3.  Not in
# $(...): the process must be a child of the test's shell, in BG_PIDS.
py_start() {
	local name=$1 ready=$2
	shift 2
	cat >"$TMP/$name.py"
	"${PY:-python3}" "$TMP/$name.py" "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	READY_LINE=$(wait_for_line "$TMP/$name.err" "$ready")
}

# py_bg NAME [ARGS...]: py_start for a server that prints "listening on
# ENDPOINT" on stderr; sets LISTEN_<NAME> (the endpoint), PORT_<NAME>
# (the text after its last ':') and PID_<NAME>, like start_tsock.
py_bg() {
	local name=$1 addr
	shift
	py_start "$name" '^listening on ' "$@" || return 1
	addr=${READY_LINE#listening on }
	eval "LISTEN_$name=\$addr"
	eval "PORT_$name=\${addr##*:}"
}

# echo_server [-b] NAME [tcp|tcp6|unix [PATH]]: a threaded python stream
# echo server (py_bg) on 127.0.0.1 port 0 (tcp, the default), ::1 port 0
# (tcp6) or unix socket PATH.  Any number of clients, each echoed until
# EOF, then half-closed and closed (30 s without data ends one; 60 s
# without a new client ends the server).  Its stdout ($TMP/NAME.out) gets
# one "accepted N" line as the Nth connection is accepted, or with -b
# instead one "echoed N bytes" line as each connection ends.
echo_server() {
	local report=accepted
	if [ "$1" = -b ]; then
		report=bytes
		shift
	fi
	local name=$1
	shift
	py_bg "$name" "$report" "$@" <<'EOF'
import socket, sys, threading
report = sys.argv[1]
kind = sys.argv[2] if len(sys.argv) > 2 else 'tcp'
if kind == 'unix':
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sys.argv[3])
    name = 'unix:' + sys.argv[3]
elif kind == 'tcp6':
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.bind(('::1', 0))
    name = 'tcp:[::1]:%d' % s.getsockname()[1]
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    name = 'tcp:127.0.0.1:%d' % s.getsockname()[1]
s.listen(64)
print('listening on ' + name, file=sys.stderr, flush=True)

def serve(c):
    n = 0
    try:
        c.settimeout(30)
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
            n += len(d)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        print('echo: %s' % e, file=sys.stderr, flush=True)
    finally:
        c.close()
        if report == 'bytes':
            print('echoed %d bytes' % n, flush=True)

s.settimeout(60)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    if report == 'accepted':
        print('accepted %d' % n, flush=True)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
}

# need TOOL: skip the test unless TOOL is installed.
need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# refute COMMAND...: fail when COMMAND succeeds.  A bare "! COMMAND" fails
# a bats test only on its last line: set -e ignores a negated command.
refute() {
	if "$@"; then
		echo "expected to fail: $*" >&2
		return 1
	fi
	return 0
}

# wait_exit PID [SECONDS]: wait (bounded, default 10 s) for a background
# child to end (a zombie counts as ended); its exit status in EXIT_STATUS.
wait_exit() {
	local pid=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 50; i++)); do
		if ! kill -0 "$pid" 2>/dev/null ||
		   [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
			EXIT_STATUS=0
			wait "$pid" 2>/dev/null || EXIT_STATUS=$?
			return 0
		fi
		sleep 0.02
	done
	echo "process $pid still running after ${limit}s" >&2
	return 1
}

# wait_for_file PATH [SECONDS]: until PATH exists (bounded, default 5 s).
wait_for_file() {
	local i limit=${2:-5}
	for ((i = 0; i < limit * 50; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.02
	done
	echo "no $1 after $limit s" >&2
	return 1
}

# free_port: a TCP port of 127.0.0.1 that was free a moment ago, for
# peers that cannot listen on port 0 and report the port.
free_port() {
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 3>&-
}

# wait_port PORT [SECONDS]: until 127.0.0.1:PORT accepts (bounded,
# default 10 s), for servers started on a free_port.
wait_port() {
	local port=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 50; i++)); do
		if (exec 5<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.02
	done
	echo "nothing accepts on 127.0.0.1:$port after $limit s" >&2
	return 1
}

# fd_count PID, rss_kib PID: open descriptors and VmRSS (KiB) of a process.
fd_count() {
	ls "/proc/$1/fd" | wc -l
}

# wait_fds PID MAX [SECONDS]: wait (bounded, default 2 s) until PID has at
# most MAX open descriptors, for a process that may still be closing the
# last connection's; on a timeout, shows what it holds.
wait_fds() {
	local pid=$1 max=$2 secs=${3:-2} i n
	for ((i = 0; i < secs * 50; i++)); do
		n=$(fd_count "$pid")
		[ "$n" -le "$max" ] && return 0
		sleep 0.02
	done
	echo "pid $pid has $n fds, expected at most $max" >&2
	ls -l "/proc/$pid/fd" >&2
	return 1
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# idle_over_a_second PID: true if PID used (almost) no CPU in a second
# (the sleep is the measured interval, not a wait for anything); a
# process that spins or answers itself in a loop burns ~100 ticks a
# second, an idle one ~0.
idle_over_a_second() {
	local start end
	start=$(cpu_ticks "$1")
	sleep 1
	end=$(cpu_ticks "$1")
	echo "cpu ticks in 1 s: $((end - start))"
	[ $((end - start)) -lt 20 ]
}

# sha FILE: the sha256 of a file.
sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# random_file PATH BYTES: a file of random bytes.
random_file() {
	head -c "$2" /dev/urandom >"$1"
}
