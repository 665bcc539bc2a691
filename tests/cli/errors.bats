#!/usr/bin/env bats
#
# errors.bats - tsock's exit status and messages: usage errors exit 2 and
# name the problem, network errors exit 1 with a message, --help, --usage
# and --version exit 0.  Loopback only.

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

# ------------------------------------------------------------ local helpers

# run_tsock ARGS...: run tsock (bounded, stdin from /dev/null); sets
# $status, $output (its stderr) and $stdout.
run_tsock() {
	status=0
	run_bounded 10 "$TSOCK" "$@" </dev/null \
		>"$TMP/stdout" 2>"$TMP/stderr" || status=$?
	stdout=$(cat "$TMP/stdout")
	output=$(cat "$TMP/stderr")
	# shown by bats only when the test fails
	printf 'tsock %s\n  status: %s\n  stdout: %s\n  stderr: %s\n' \
		"$*" "$status" "$stdout" "$output"
}

# has TEXT: the stderr of the last run_tsock contains TEXT.
has() {
	[[ "$output" == *"$1"* ]]
}

# usage_error MESSAGE ARGS...: tsock ARGS exits 2, prints nothing on
# stdout and MESSAGE on stderr, with a pointer to --help.
usage_error() {
	local message=$1
	shift
	run_tsock "$@"
	[ "$status" -eq 2 ]
	[ -z "$stdout" ]
	has "$message"
	has "tsock: "
}

# net_error MESSAGE ARGS...: tsock ARGS exits 1 with MESSAGE on stderr.
net_error() {
	local message=$1
	shift
	run_tsock "$@"
	[ "$status" -eq 1 ]
	[ -z "$stdout" ]
	has "$message"
	! has "Try 'tsock --help'"
}

# ------------------------------------------------------------ commands

@test "no command: exit 2, 'missing command'" {
	usage_error "missing command"
	has "Try 'tsock --help' for more information."
}

@test "unknown command 'tsock frobnicate': exit 2, names the command" {
	usage_error "unknown command 'frobnicate'" frobnicate
	has "Try 'tsock --help' for more information."
}

@test "'tsock connect' without an endpoint: exit 2, 'takes one ENDPOINT'" {
	usage_error "connect takes one ENDPOINT" connect
}

@test "'tsock listen' with three endpoints: exit 2, 'takes ENDPOINT and at most one DATA'" {
	usage_error "listen takes ENDPOINT and at most one DATA" listen \
		tcp:127.0.0.1:0 tcp:127.0.0.1:1 tcp:127.0.0.1:2
}

@test "'tsock relay tcp::0' without BACK: exit 2, 'relay takes FRONT and BACK'" {
	usage_error "relay takes FRONT and BACK" relay tcp::0
}

@test "too many arguments: exit 2" {
	usage_error "too many arguments" connect tcp:127.0.0.1:1 a b c
}

@test "'tsock udp-echo' with two endpoints: exit 2" {
	usage_error "udp-echo takes at most one ENDPOINT" udp-echo \
		udp:127.0.0.1:0 udp:127.0.0.1:0
}

@test "'tsock udp-echo tcp:...': exit 2, needs a udp endpoint" {
	usage_error "needs a udp or unix-dgram endpoint" udp-echo \
		tcp:127.0.0.1:0
}

@test "'tsock listen stdio': exit 2, listen needs a network endpoint" {
	usage_error "listen needs a network endpoint" listen stdio
}

@test "'tsock connect -': exit 2, connect needs a network endpoint" {
	usage_error "connect needs a network endpoint" connect -
}

@test "'tsock relay tcp::0 stdio': exit 2, BACK cannot be stdio" {
	usage_error "BACK cannot be stdio" relay tcp:127.0.0.1:0 stdio
}

# ------------------------------------------------------------ endpoints

@test "endpoint tcp:localhost: exit 2, 'missing port'" {
	usage_error "endpoint 'tcp:localhost': missing port" \
		connect tcp:localhost
}

@test "endpoint tcp:::1:80: exit 2, 'put IPv6 addresses in brackets'" {
	usage_error "endpoint 'tcp:::1:80': put IPv6 addresses in brackets" \
		connect tcp:::1:80
	has "tcp:[::1]:80"
}

@test "endpoint with port 70000: exit 2, 'out of range'" {
	usage_error "endpoint 'tcp:127.0.0.1:70000': port out of range" \
		connect tcp:127.0.0.1:70000
}

@test "endpoint with a non-numeric port: exit 2, 'port must be a number'" {
	usage_error "port must be a number" connect tcp:127.0.0.1:http
}

@test "endpoint foo:1.2.3.4:5: exit 2, 'unknown endpoint type'" {
	usage_error "endpoint 'foo:1.2.3.4:5': unknown endpoint type 'foo'" \
		connect foo:1.2.3.4:5
}

@test "endpoint without a colon: exit 2, 'unknown endpoint type'" {
	usage_error "unknown endpoint type" connect 127.0.0.1
}

@test "endpoint 'tcp' alone: exit 2, 'missing address after the type'" {
	usage_error "missing address after the type" connect tcp
}

@test "endpoint unix:: exit 2, 'missing path'" {
	usage_error "endpoint 'unix:': missing path" connect unix:
}

@test "endpoint with a 200-character unix path: exit 2, 'too long'" {
	local path
	path=/tmp/$(printf 'p%.0s' {1..195})
	[ "${#path}" -eq 200 ]
	usage_error "too long" connect "unix:$path"
	usage_error "too long" listen "unix:$path"
	[ ! -e "$path" ]
}

@test "connect with port 0: exit 2, 'only valid when listening'" {
	usage_error "endpoint 'tcp:127.0.0.1:0': port 0 is only valid when listening" \
		connect tcp:127.0.0.1:0
}

@test "relay with port 0 for BACK: exit 2, 'only valid when listening'" {
	usage_error "port 0 is only valid when listening" \
		relay tcp:127.0.0.1:0 tcp:127.0.0.1:0
}

@test "connect without a host (tcp::80): exit 2, 'missing host'" {
	usage_error "endpoint 'tcp::80': missing host" connect tcp::80
}

@test "endpoint tcp:[::1:80: exit 2, missing ']'" {
	usage_error "missing ']'" connect 'tcp:[::1:80'
}

@test "endpoint tcp4:[::1]:80: exit 2, IPv4 only" {
	usage_error "IPv4 only" connect 'tcp4:[::1]:80'
}

@test "tls options parse in any build: a bad min-version= is exit 2 naming it; good ones reach the connect, or without GnuTLS the 'needs GnuTLS' error" {
	usage_error "endpoint 'tls:127.0.0.1:1,min-version=1.4': option " \
		connect 'tls:127.0.0.1:1,min-version=1.4'
	has "option 'min-version': invalid value '1.4'"
	if "$TSOCK" --version | grep -q '^TLS: not built'; then
		usage_error "built with GnuTLS" connect \
			'tls:127.0.0.1:1,alpn=h2:http/1.1,priority=NORMAL,min-version=1.2'
		usage_error "built with GnuTLS" --cert c.pem --key k.pem \
			listen 'tls:127.0.0.1:0,alpn=h2,min-version=1.3'
	else
		# port 1 of loopback: nothing listens there
		net_error "Connection refused" connect \
			'tls:127.0.0.1:1,alpn=h2:http/1.1,priority=NORMAL,min-version=1.2'
	fi
}

# ------------------------------------------------------------ options

@test "--frame bogus: exit 2, names the spec" {
	usage_error "--frame 'bogus'" --frame bogus connect tcp:127.0.0.1:9
	has "unknown preset"
	has "Try 'tsock --help' for more information."
}

@test "--max-pdu without --frame: exit 2, '--max-pdu needs --frame'" {
	usage_error "--max-pdu needs --frame" --max-pdu 10 \
		connect tcp:127.0.0.1:9
}

@test "--max-pdu with a bad size: exit 2, names the option and value" {
	usage_error "'abc'" --frame u16be --max-pdu abc connect tcp:127.0.0.1:9
	has "--max-pdu"
}

@test "bad option value '-w abc': exit 2, names the option and the value" {
	usage_error "invalid value 'abc'" -w abc connect tcp:127.0.0.1:9
	has "--timeout" || has "-w"
}

@test "bad option values for -q, -i, --max-conns: exit 2" {
	usage_error "invalid value '-1'" -q -1 connect tcp:127.0.0.1:9
	has "--linger"
	usage_error "invalid value 'soon'" -i soon connect tcp:127.0.0.1:9
	has "--idle-timeout"
	usage_error "invalid value '0'" --max-conns 0 \
		relay tcp:127.0.0.1:0 tcp:127.0.0.1:9
	has "--max-conns"
}

@test "option without its argument ('-w' last): exit 2, 'missing argument'" {
	usage_error "missing argument" -w
}

@test "unknown option --nope: exit 2, names the option" {
	usage_error "--nope: unknown option" --nope connect tcp:127.0.0.1:9
}

@test "--frame on two datagram endpoints: exit 2" {
	usage_error "--frame needs a stream endpoint" --frame u16be \
		relay udp:127.0.0.1:0 udp:127.0.0.1:9
}

# ------------------------------------------------------------ network errors

@test "connect to a closed loopback port: exit 1, 'Connection refused'" {
	local port
	port=$(free_port)
	net_error "connect to tcp:127.0.0.1:$port: Connection refused" \
		connect "tcp:127.0.0.1:$port"
}

@test "connect to loopback port 1: exit 1, 'Connection refused'" {
	python3 -c '
import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", 1))
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)
' || skip "something listens on 127.0.0.1:1"
	net_error "Connection refused" connect tcp:127.0.0.1:1
}

@test "unix connect to a missing path: exit 1, 'No such file or directory'" {
	net_error "connect to unix:$TMP/missing: No such file or directory" \
		connect "unix:$TMP/missing"
}

@test "unix connect to a regular file: exit 1, 'Connection refused'" {
	: >"$TMP/file"
	net_error "Connection refused" connect "unix:$TMP/file"
}

@test "unresolvable host no-such-host.invalid: exit 1, 'cannot resolve'" {
	net_error "cannot resolve 'no-such-host.invalid'" \
		connect tcp:no-such-host.invalid:80
}

@test "-w 1 against a loopback listener with a full backlog: exit 1, 'timed out'" {
	# a listener with backlog 0 that never accepts: once its queue is
	# full, the kernel drops further SYNs and a connect hangs
	cat >"$TMP/full.py" <<'EOF'
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(8):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(c)
time.sleep(0.2)
print("listening on tcp:127.0.0.1:%d" % port, file=sys.stderr, flush=True)
time.sleep(20)
EOF
	python3 "$TMP/full.py" 2>"$TMP/full.err" &
	BG_PIDS+=("$!")
	local line port start elapsed
	line=$(wait_for_line "$TMP/full.err" '^listening on ')
	port=${line##*:}
	# the probe: a connect that does not finish within 0.5 s
	python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except socket.timeout:
    sys.exit(0)
sys.exit(1)
' "$port" || skip "this kernel completes connects to a full backlog"
	start=$SECONDS
	net_error "connect to tcp:127.0.0.1:$port: timed out" \
		-w 1 connect "tcp:127.0.0.1:$port"
	elapsed=$((SECONDS - start))
	[ "$elapsed" -le 4 ]
}

@test "listen on a port in use: exit 1, 'Address already in use'" {
	python_server busy 'time.sleep(20)'
	net_error "listen on tcp:127.0.0.1:$PORT_busy: Address already in use" \
		listen "tcp:127.0.0.1:$PORT_busy"
}

@test "listen unix: in a missing directory: exit 1 with the reason" {
	net_error "No such file or directory" listen "unix:$TMP/nodir/s"
	has "listen on unix:$TMP/nodir/s"
}

# ------------------------------------------------------------ help

@test "--help: exit 0, lists options and the commands" {
	run_tsock --help
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ "$stdout" == *"Usage: tsock"* ]]
	for word in connect listen relay udp-echo --frame --keep-open \
		--timeout --verbose --hexdump --version --usage; do
		[[ "$stdout" == *"$word"* ]]
	done
	[[ "$stdout" == *"Exit status"* ]]
}

@test "-? is --help" {
	run_tsock '-?'
	[ "$status" -eq 0 ]
	[[ "$stdout" == *"Commands:"* ]]
}

@test "--usage: exit 0, a short usage message" {
	run_tsock --usage
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ "$stdout" == *"Usage: tsock"* ]]
	[[ "$stdout" == *"COMMAND ENDPOINT"* ]]
}

@test "--version and -V: exit 0, print the version" {
	local want=
	if [ -f "$BATS_TEST_DIRNAME/../../configure.ac" ]; then
		want=$(sed -n 's/^AC_INIT(\[tsock\], *\[\([^]]*\)\].*/\1/p' \
			"$BATS_TEST_DIRNAME/../../configure.ac")
	fi
	run_tsock --version
	[ "$status" -eq 0 ]
	[[ "$stdout" =~ ^tsock\ [0-9]+\.[0-9]+ ]]
	[ -z "$want" ] || [ "${stdout%%$'\n'*}" = "tsock $want" ]
	# the optional parts built: TLS with GnuTLS's version, or not built
	[[ "$stdout" =~ $'\n'"TLS: "("GnuTLS "[0-9]+\.[0-9]+|"not built") ]]
	run_tsock -V
	[ "$status" -eq 0 ]
	[[ "$stdout" =~ ^tsock\ [0-9]+\.[0-9]+ ]]
}
