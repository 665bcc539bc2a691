#!/usr/bin/env bats
#
# proxy.bats - tsock reaching targets through proxies (--proxy, via=):
# SOCKS5 and SOCKS5h against microsocks and OpenSSH's ssh -D, SOCKS4 and
# SOCKS4a against ssh -D, HTTP CONNECT against tinyproxy, chains of them,
# TLS through a tunnel, and misbehaving proxies (fake_proxy.py).  Loopback
# only.  microsocks, tinyproxy and sshd cannot listen on port 0 and report
# it: they get free_port and a bounded wait until they accept.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	setup_tmp
	FAKE="$BATS_TEST_DIRNAME/fake_proxy.py"
}

teardown() {
	teardown_tmp
}

# start_microsocks NAME [ARGS...]: microsocks on 127.0.0.1, port in PORT_NAME.
start_microsocks() {
	need microsocks
	local name=$1 port
	shift
	port=$(free_port)
	microsocks -i 127.0.0.1 -p "$port" "$@" >"$TMP/$name.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_port "$port"
	eval "PORT_$name=$port"
}

# start_tinyproxy NAME [USER PASS]: tinyproxy on 127.0.0.1 (Basic auth
# with USER and PASS), port in PORT_NAME.
start_tinyproxy() {
	need tinyproxy
	local name=$1 port
	port=$(free_port)
	{
		echo "Port $port"
		echo "Listen 127.0.0.1"
		echo "Allow 127.0.0.1"
		echo "Timeout 30"
		echo "MaxClients 20"
		[ -n "${2:-}" ] && echo "BasicAuth $2 $3"
	} >"$TMP/$name.conf"
	tinyproxy -d -c "$TMP/$name.conf" >"$TMP/$name.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_port "$port"
	eval "PORT_$name=$port"
}

# start_ssh_socks: an sshd on 127.0.0.1 with a key of the test's own, and
# ssh -D logged in to it: OpenSSH's SOCKS4/4a/5 server on PORT_sshsocks.
start_ssh_socks() {
	need ssh
	[ -x /usr/sbin/sshd ] || skip "sshd is not installed"
	mkdir -p /run/sshd 2>/dev/null || true
	local sp dp
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/userkey"
	sp=$(free_port)
	SSHD_PORT=$sp
	cat >"$TMP/sshd.conf" <<EOF
ListenAddress 127.0.0.1:$sp
HostKey $TMP/hostkey
AuthorizedKeysFile $TMP/userkey.pub
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
EOF
	/usr/sbin/sshd -D -e -f "$TMP/sshd.conf" >"$TMP/sshd.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_port "$sp" || skip "sshd does not start here: $(cat "$TMP/sshd.log")"
	dp=$(free_port)
	ssh -N -D "127.0.0.1:$dp" -i "$TMP/userkey" -p "$sp" \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o ExitOnForwardFailure=yes -o BatchMode=yes \
		"$(id -un)@127.0.0.1" >"$TMP/ssh.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_port "$dp"
	PORT_sshsocks=$dp
}

# fake_proxy NAME MODE [ARG]: fake_proxy.py in the background (py_bg).
fake_proxy() {
	py_bg "$@" <"$FAKE"
}

# ask LINE TSOCK-ARGS...: run tsock with LINE on its stdin, which stays
# open until something comes back or tsock ends (bounded: some proxies
# close the whole tunnel at the client's first end of stream), then
# ends.  Output in ASK_OUT, stderr in ASK_ERR, exit status in EXIT_STATUS.
ask() {
	local line=$1 pid i
	shift
	rm -f "$TMP/ask.in"
	mkfifo "$TMP/ask.in"
	"$TSOCK" "$@" <"$TMP/ask.in" >"$TMP/ask.out" 2>"$TMP/ask.err" 3>&- &
	pid=$!
	BG_PIDS+=("$pid")
	exec 4>"$TMP/ask.in"
	# in a subshell: tsock may be gone already (SIGPIPE)
	(printf '%s\n' "$line" >&4) 2>/dev/null || true
	for ((i = 0; i < 500; i++)); do
		[ -s "$TMP/ask.out" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	exec 4>&-
	wait_exit "$pid" 10
	ASK_OUT=$(cat "$TMP/ask.out")
	ASK_ERR=$(cat "$TMP/ask.err")
}

# ------------------------------------------------------------ SOCKS5

@test "socks5: through microsocks to an echo server" {
	start_microsocks ms
	echo_server target
	ask "through socks5" connect --proxy "socks5://127.0.0.1:$PORT_ms" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = "through socks5" ]
	grep -q "accepted 1" "$TMP/target.out"
}

@test "socks5h: the proxy resolves the name (microsocks)" {
	start_microsocks ms
	echo_server target
	ask "by name" -v connect "tcp:localhost:$PORT_target,via=socks5h://127.0.0.1:$PORT_ms"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = "by name" ]
	[[ "$ASK_ERR" == *"SOCKS5 proxy 127.0.0.1:$PORT_ms: asking for localhost:$PORT_target"* ]]
}

@test "socks5: the name is resolved here and an address is sent" {
	fake_proxy fake socks5-reply 0
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_fake" \
		tcp:localhost:4660
	[ "$EXIT_STATUS" -eq 0 ]
	# VER CMD RSV ATYP=IPv4 127.0.0.1 port 4660 (0x1234)
	grep -qx "request 050100017f0000011234" "$TMP/fake.out"
	ask "x" connect --proxy "socks5h://127.0.0.1:$PORT_fake" \
		tcp:localhost:4660
	# ATYP=name, 9 bytes "localhost"
	grep -qx "request 05010003096c6f63616c686f73741234" "$TMP/fake.out"
}

@test "socks5: user and password (RFC 1929) accepted and refused" {
	start_microsocks ms -u alice -P 's3cret!'
	echo_server target
	ask "authenticated" connect \
		--proxy "socks5://alice:s3cret%21@127.0.0.1:$PORT_ms" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = "authenticated" ]
	ask "x" -v connect --proxy "socks5://alice:wrongpw@127.0.0.1:$PORT_ms" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"SOCKS5 proxy 127.0.0.1:$PORT_ms: user name or password rejected"* ]]
	[[ "$ASK_ERR" != *wrongpw* ]]
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_ms" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"no acceptable authentication method"* ]]
}

@test "socks5: a refused target is reported in the proxy's words" {
	start_microsocks ms
	local closed
	closed=$(free_port)
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_ms" \
		"tcp:127.0.0.1:$closed"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"SOCKS5 proxy 127.0.0.1:$PORT_ms: connection refused by destination host"* ]]
}

@test "socks5: every reply code has its words" {
	local code text port
	fake_proxy fake socks5-reply 2
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_fake" tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"connection not allowed by ruleset"* ]]
	for code in 1 3 4 6 7 8 9; do
		# a name each: a file of the last one's would be read as ready
		fake_proxy "fake$code" socks5-reply "$code"
		eval "port=\$PORT_fake$code"
		ask "x" connect --proxy "socks5://127.0.0.1:$port" \
			tcp:127.0.0.1:9
		[ "$EXIT_STATUS" -eq 1 ]
		case $code in
		1) text="general SOCKS server failure" ;;
		3) text="network unreachable" ;;
		4) text="host unreachable" ;;
		6) text="TTL expired" ;;
		7) text="command not supported" ;;
		8) text="address type not supported" ;;
		9) text="unknown SOCKS5 reply code" ;;
		esac
		echo "code $code: $ASK_ERR"
		[[ "$ASK_ERR" == *"$text"* ]]
	done
}

@test "socks5: garbage, a short reply and silence from the proxy" {
	fake_proxy garbage socks5-garbage
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_garbage" tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"not a SOCKS5 proxy"* ]]
	fake_proxy short socks5-short
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_short" tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"closed the connection before its reply was complete"* ]]
	fake_proxy silent socks5-silent
	ask "x" connect -w 1 --proxy "socks5://127.0.0.1:$PORT_silent" \
		tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"timed out"* ]]
}

@test "socks5: data sent with the proxy's reply is not lost" {
	fake_proxy fake socks5-ahead
	ask "echoed" connect --proxy "socks5://127.0.0.1:$PORT_fake" \
		tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$(head -1 "$TMP/ask.out")" = banner ]
}

# ------------------------------------------------------- OpenSSH ssh -D

@test "ssh -D: socks5, socks5h, socks4 and socks4a" {
	start_ssh_socks
	echo_server target
	local scheme
	for scheme in socks5 socks5h socks4 socks4a; do
		ask "via $scheme" connect --proxy "$scheme://127.0.0.1:$PORT_sshsocks" \
			"tcp:localhost:$PORT_target"
		[ "$EXIT_STATUS" -eq 0 ]
		[ "$ASK_OUT" = "via $scheme" ]
	done
	[ "$(grep -c accepted "$TMP/target.out")" -eq 4 ]
}

# -------------------------------------------------------------- SOCKS4

@test "socks4a: the name and the user id are sent; a rejection is reported" {
	fake_proxy fake socks4-reply 5b
	ask "x" connect --proxy "socks4a://bob@127.0.0.1:$PORT_fake" \
		tcp:example.test:80
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"SOCKS4 proxy 127.0.0.1:$PORT_fake: request rejected or failed"* ]]
	# 04 01 port 80, 0.0.0.1, "bob\0", "example.test\0"
	grep -qx "request 0401005000000001626f62006578616d706c652e7465737400" \
		"$TMP/fake.out"
}

@test "socks4: IPv6 targets are refused with a reason" {
	fake_proxy fake socks4-reply 5a
	ask "x" connect --proxy "socks4://127.0.0.1:$PORT_fake" "tcp:[::1]:80"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"SOCKS4 cannot reach IPv6 addresses"* ]]
}

# ---------------------------------------------------------- HTTP CONNECT

@test "http: CONNECT through tinyproxy, with Basic auth" {
	start_tinyproxy tp alice wonder
	echo_server target
	ask "through http" connect --proxy "http://alice:wonder@127.0.0.1:$PORT_tp" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = "through http" ]
	ask "x" -v connect --proxy "http://alice:badpass@127.0.0.1:$PORT_tp" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"HTTP proxy 127.0.0.1:$PORT_tp: HTTP 40"[17]* ]]
	[[ "$ASK_ERR" != *badpass* ]]
}

@test "http: the proxy's failure status is reported" {
	start_tinyproxy tp
	local closed
	closed=$(free_port)
	ask "x" connect --proxy "http://127.0.0.1:$PORT_tp" "tcp:127.0.0.1:$closed"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"HTTP proxy 127.0.0.1:$PORT_tp: HTTP 5"* ]]
	fake_proxy fake http-status "HTTP/1.1 403 Forbidden"
	ask "x" connect --proxy "http://u:p@127.0.0.1:$PORT_fake" "tcp:[::1]:443"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"HTTP 403 Forbidden"* ]]
	# the request: an IPv6 target in brackets, Basic base64("u:p")
	local req
	req=$(python3 -c 'import sys; print(bytes.fromhex(sys.argv[1]).decode())' \
		"$(sed -n 's/^request //p' "$TMP/fake.out")")
	[[ "$req" == "CONNECT [::1]:443 HTTP/1.1"* ]]
	[[ "$req" == *"Proxy-Authorization: Basic dTpw"* ]]
}

@test "http: an endless header and data sent with the reply" {
	fake_proxy long http-long
	ask "x" connect --proxy "http://127.0.0.1:$PORT_long" tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"reply header longer than it may be"* ]]
	fake_proxy ahead http-ahead
	ask "echoed" connect --proxy "http://127.0.0.1:$PORT_ahead" tcp:127.0.0.1:9
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$(head -1 "$TMP/ask.out")" = banner ]
}

# ---------------------------------------------------------------- chains

@test "chain: socks5 (microsocks) then http (tinyproxy) then the target" {
	start_microsocks ms
	start_tinyproxy tp
	echo_server target
	ask "chained" -v connect --proxy "socks5://127.0.0.1:$PORT_ms" \
		--proxy "http://127.0.0.1:$PORT_tp" "tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = chained ]
	[[ "$ASK_ERR" == *"SOCKS5 proxy 127.0.0.1:$PORT_ms: asking for 127.0.0.1:$PORT_tp"* ]]
	[[ "$ASK_ERR" == *"HTTP proxy 127.0.0.1:$PORT_tp: asking for 127.0.0.1:$PORT_target"* ]]
}

@test "via= on relay's BACK; via=direct overrides --proxy" {
	start_microsocks ms
	echo_server target
	start_tsock relay relay tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_target,via=socks5://127.0.0.1:$PORT_ms"
	ask "relayed" connect "tcp:127.0.0.1:$PORT_relay"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = relayed ]
	ask "direct" connect --proxy socks5://127.0.0.1:9 \
		"tcp:127.0.0.1:$PORT_target,via=direct"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = direct ]
}

@test "tls through an HTTP tunnel verifies the target's name" {
	start_tinyproxy tp
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
	if "$TSOCK" listen tls:127.0.0.1:0 </dev/null 2>&1 |
	   grep -q 'built with GnuTLS'; then
		skip "built without GnuTLS"
	fi
	# the server ends first, with close_notify: tinyproxy, like most
	# proxies, closes the whole tunnel at the client's end of stream
	start_tsock tlsd listen -k "tls:127.0.0.1:0,cert=$TMP/cert.pem,key=$TMP/key.pem" \
		"exec:echo secret"
	# HTTP CONNECT to the address, the name given for TLS
	ask "hello" connect --proxy "http://127.0.0.1:$PORT_tp" \
		"tls:127.0.0.1:$PORT_tlsd,cafile=$TMP/cert.pem,servername=localhost"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = secret ]
	# the certificate is for localhost only: 127.0.0.1 does not match
	ask "x" connect --proxy "http://127.0.0.1:$PORT_tp" \
		"tls:127.0.0.1:$PORT_tlsd,cafile=$TMP/cert.pem"
	[ "$EXIT_STATUS" -eq 1 ]
	[ -z "$ASK_OUT" ]
}

# ----------------------------------------------------------- bad input

@test "bad proxy URLs are usage errors that never repeat a password" {
	run "$TSOCK" connect --proxy "ftp://127.0.0.1:21" tcp:127.0.0.1:9
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown proxy scheme"* ]]
	run "$TSOCK" connect --proxy "socks5://user:topsecret@127.0.0.1:99999" tcp:127.0.0.1:9
	[ "$status" -eq 2 ]
	[[ "$output" == *"proxy port must be a number"* ]]
	[[ "$output" != *topsecret* ]]
	run "$TSOCK" connect --proxy "socks4a://u:p@127.0.0.1:1080" tcp:127.0.0.1:9
	[ "$status" -eq 2 ]
	[[ "$output" == *"SOCKS4 takes a user name but no password"* ]]
	run "$TSOCK" connect "tcp:127.0.0.1:9,via=socks5://[::1" 
	[ "$status" -eq 2 ]
	[[ "$output" == *"missing ']'"* ]]
	run "$TSOCK" connect --proxy socks5://127.0.0.1:1080 unix:/nonexistent
	[ "$status" -eq 2 ]
	[[ "$output" == *"--proxy: no endpoint here goes through it"* ]]
	run "$TSOCK" connect "unix:/x,via=socks5://127.0.0.1:1080"
	[ "$status" -eq 2 ]
}

@test "a proxy that is not there: the connect error names it" {
	local closed
	closed=$(free_port)
	run "$TSOCK" connect --proxy "socks5://127.0.0.1:$closed" tcp:127.0.0.1:9 </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"connect to tcp:127.0.0.1:$closed: Connection refused"* ]]
}

# ============================================= the server: tsock proxy

# http_target NAME: a small HTTP server answering "hello from target".
http_target() {
	py_bg "$1" <<'PY'
import http.server, sys
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from target\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
print("listening on tcp:127.0.0.1:%d" % s.server_address[1], file=sys.stderr, flush=True)
s.serve_forever()
PY
}

@test "proxy: curl through SOCKS5, SOCKS5h, SOCKS4, SOCKS4a and HTTP CONNECT" {
	need curl
	http_target web
	start_tsock px -v proxy tcp:127.0.0.1:0
	local how
	for how in --socks5 --socks5-hostname --socks4 --socks4a; do
		run curl -sS --max-time 10 "$how" "127.0.0.1:$PORT_px" \
			"http://localhost:$PORT_web/"
		[ "$status" -eq 0 ]
		[ "$output" = "hello from target" ]
	done
	run curl -sS --max-time 10 -p -x "http://127.0.0.1:$PORT_px" \
		"http://localhost:$PORT_web/"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from target" ]
	grep -q "SOCKS5 CONNECT localhost:$PORT_web" "$TMP/px.err"
	grep -q "SOCKS4 CONNECT 127.0.0.1:$PORT_web" "$TMP/px.err"
	grep -q "HTTP CONNECT localhost:$PORT_web" "$TMP/px.err"
}

@test "proxy: --auth for SOCKS5 and HTTP; SOCKS4 is refused; no password in logs" {
	need curl
	http_target web
	start_tsock px -v proxy --auth alice:wonder --auth bob:builder tcp:127.0.0.1:0
	run curl -sS --max-time 10 --socks5-hostname "127.0.0.1:$PORT_px" \
		--proxy-user bob:builder "http://localhost:$PORT_web/"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from target" ]
	run curl -sS --max-time 10 -p -x "http://alice:wonder@127.0.0.1:$PORT_px" \
		"http://localhost:$PORT_web/"
	[ "$output" = "hello from target" ]
	run curl -s --max-time 10 --socks5 "127.0.0.1:$PORT_px" \
		--proxy-user alice:sesame "http://localhost:$PORT_web/"
	[ "$status" -ne 0 ]
	run curl -s --max-time 10 -p -x "http://127.0.0.1:$PORT_px" \
		-o /dev/null -w '%{http_connect}' "http://localhost:$PORT_web/"
	[ "$output" = 407 ]
	run curl -s --max-time 10 --socks4 "127.0.0.1:$PORT_px" \
		"http://localhost:$PORT_web/"
	[ "$status" -ne 0 ]
	wait_for_line "$TMP/px.err" "SOCKS5: wrong user name or password"
	wait_for_line "$TMP/px.err" "SOCKS4 refused: it has no password"
	refute grep -q -e sesame -e wonder -e builder "$TMP/px.err"
	# tsock's own client, with credentials
	echo_server target
	ask "own client" connect --proxy "socks5h://alice:wonder@127.0.0.1:$PORT_px" \
		"tcp:localhost:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = "own client" ]
}

@test "proxy: --auth-file, and bad proxy options are usage errors" {
	printf '# users\n\ncarol:pw1\n' >"$TMP/users"
	echo_server target
	start_tsock px proxy --auth-file "$TMP/users" tcp:127.0.0.1:0
	ask "filed" connect --proxy "http://carol:pw1@127.0.0.1:$PORT_px" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = filed ]
	run run_bounded 5 "$TSOCK" proxy --auth-file "$TMP/nonexistent" tcp:127.0.0.1:0
	[ "$status" -eq 2 ]
	run run_bounded 5 "$TSOCK" proxy --auth nocolon tcp:127.0.0.1:0
	[ "$status" -eq 2 ]
	[[ "$output" == *"expected USER:PASS"* ]]
	run run_bounded 5 "$TSOCK" proxy --allow-target 10.0.0.0/33 tcp:127.0.0.1:0
	[ "$status" -eq 2 ]
	run run_bounded 5 "$TSOCK" proxy --deny-target "*:70000" tcp:127.0.0.1:0
	[ "$status" -eq 2 ]
	run run_bounded 5 "$TSOCK" relay --auth a:b tcp:127.0.0.1:0 tcp:127.0.0.1:9
	[ "$status" -eq 2 ]
	[[ "$output" == *"are for tsock proxy"* ]]
	run run_bounded 5 "$TSOCK" proxy udp:127.0.0.1:0
	[ "$status" -eq 2 ]
}

@test "proxy: --allow-target and --deny-target, by address, port and name" {
	echo_server a
	echo_server b
	start_tsock px proxy --allow-target "127.0.0.0/8:$PORT_a" \
		--allow-target "localhost:$PORT_b" --deny-target "[::1]" \
		tcp:127.0.0.1:0
	ask "to a" connect --proxy "socks5://127.0.0.1:$PORT_px" "tcp:127.0.0.1:$PORT_a"
	[ "$ASK_OUT" = "to a" ]
	# b by address: no rule allows it
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_px" "tcp:127.0.0.1:$PORT_b"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"connection not allowed by ruleset"* ]]
	# b by name (resolved by the proxy, to 127.0.0.1 first)
	ask "to b" connect -4 --proxy "socks5h://127.0.0.1:$PORT_px" "tcp:localhost:$PORT_b"
	[ "$ASK_OUT" = "to b" ]
	ask "x" connect --proxy "http://127.0.0.1:$PORT_px" "tcp:[::1]:$PORT_a"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"HTTP 403"* ]]
	wait_for_line "$TMP/px.err" "CONNECT 127.0.0.1:$PORT_b: not an allowed target"
}

@test "proxy: never connects to itself; refusals in each protocol's words" {
	start_tsock px proxy tcp:127.0.0.1:0
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_px" "tcp:127.0.0.1:$PORT_px"
	[ "$EXIT_STATUS" -eq 1 ]
	[[ "$ASK_ERR" == *"connection not allowed by ruleset"* ]]
	local closed
	closed=$(free_port)
	ask "x" connect --proxy "socks5://127.0.0.1:$PORT_px" "tcp:127.0.0.1:$closed"
	[[ "$ASK_ERR" == *"connection refused by destination host"* ]]
	ask "x" connect --proxy "socks4://127.0.0.1:$PORT_px" "tcp:127.0.0.1:$closed"
	[[ "$ASK_ERR" == *"request rejected or failed"* ]]
	ask "x" connect --proxy "http://127.0.0.1:$PORT_px" "tcp:127.0.0.1:$closed"
	[[ "$ASK_ERR" == *"HTTP 502"* ]]
	ask "x" connect --proxy "socks5h://127.0.0.1:$PORT_px" "tcp:no-such-host.invalid:80"
	[[ "$ASK_ERR" == *"host unreachable"* ]]
	wait_for_line "$TMP/px.err" "that is this proxy itself"
}

@test "proxy: chained through two tsock proxies, with data right after the request" {
	echo_server target
	start_tsock px1 proxy tcp:127.0.0.1:0
	start_tsock px2 proxy --proxy "socks5://127.0.0.1:$PORT_px1" tcp:127.0.0.1:0
	ask "two hops" connect --proxy "http://127.0.0.1:$PORT_px2" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$EXIT_STATUS" -eq 0 ]
	[ "$ASK_OUT" = "two hops" ]
	# an HTTP client that does not wait for "200" before its data
	run run_bounded 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\r\n\r\nearly data" % sys.argv[2].encode())
got = b""
while not got.endswith(b"early data"):
    d = c.recv(4096)
    if not d:
        break
    got += d
print(got.split(b"\r\n\r\n", 1)[1].decode())' "$PORT_px2" "$PORT_target"
	[ "$status" -eq 0 ]
	[ "$output" = "early data" ]
}

@test "proxy: garbage and a silent client are dropped; others are served meanwhile" {
	echo_server target
	start_tsock px -w 1 proxy tcp:127.0.0.1:0
	python3 - "$PORT_px" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)
PY
	BG_PIDS+=("$!")
	run run_bounded 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"\x16\x03\x01garbage")
try:
    print(c.recv(100) or "closed")
except ConnectionResetError:
    print("closed")' "$PORT_px"
	[ "$output" = closed ]
	ask "still served" connect --proxy "socks5://127.0.0.1:$PORT_px" \
		"tcp:127.0.0.1:$PORT_target"
	[ "$ASK_OUT" = "still served" ]
	wait_for_line "$TMP/px.err" "not a SOCKS or HTTP request \\(first byte 0x16\\)"
	wait_for_line "$TMP/px.err" "no complete request in time" 10
}

@test "proxy: ssh through it with ncat as ProxyCommand" {
	need ncat
	start_ssh_socks
	start_tsock px proxy tcp:127.0.0.1:0
	run run_bounded 20 ssh -i "$TMP/userkey" -p "$SSHD_PORT" \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o BatchMode=yes \
		-o "ProxyCommand=ncat --proxy 127.0.0.1:$PORT_px --proxy-type socks5 %h %p" \
		"$(id -un)@127.0.0.1" echo through-tsock-proxy
	[ "$status" -eq 0 ]
	[[ "$output" == *through-tsock-proxy* ]]
}

# socks5_ask PORT ATYP HOST-HEX TARGET-PORT: a raw SOCKS5 CONNECT (no
# authentication), prints the reply code (or "closed").
socks5_ask() {
	run_bounded 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"\x05\x01\x00")
c.recv(2)
atyp, host = int(sys.argv[2]), bytes.fromhex(sys.argv[3])
if atyp == 3:
    host = bytes([len(host)]) + host
c.sendall(bytes([5, 1, 0, atyp]) + host + int(sys.argv[4]).to_bytes(2, "big"))
r = c.recv(10)
print(r[1] if len(r) > 1 else "closed")' "$@"
}

@test "proxy: no way past the rules: 0.0.0.0, ::, numeric names, option text in names" {
	echo_server target
	start_tsock px -v proxy --deny-target 127.0.0.0/8 --deny-target '[::1]' \
		tcp:127.0.0.1:0
	local hex
	# 0.0.0.0 and :: reach loopback services under another name
	run socks5_ask "$PORT_px" 1 00000000 "$PORT_target"
	[ "$output" = 2 ]
	run socks5_ask "$PORT_px" 4 00000000000000000000000000000000 "$PORT_target"
	[ "$output" = 2 ]
	# names that are addresses are judged as addresses
	for name in 0 127.1 2130706433 0x7f000001; do
		hex=$(printf '%s' "$name" | od -An -tx1 | tr -d ' \n')
		run socks5_ask "$PORT_px" 3 "$hex" "$PORT_target"
		echo "$name: $output"
		[ "$output" = 2 ]
	done
	# endpoint option text in a name is no name at all
	hex=$(printf 'x.test]:22,via=socks5h://[::1' | od -An -tx1 | tr -d ' \n')
	run socks5_ask "$PORT_px" 3 "$hex" 80
	[ "$output" = 4 ]
	refute grep -q "via=" "$TMP/px.err"
	# itself, by the unspecified address
	run socks5_ask "$PORT_px" 1 00000000 "$PORT_px"
	[ "$output" = 2 ]
}

@test "proxy: a PROXY header can narrow who is local, not widen it" {
	echo_server target
	start_tsock px proxy --accept-proxy tcp:127.0.0.1:0
	run run_bounded 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"PROXY TCP4 192.0.2.1 127.0.0.1 5555 1080\r\n\x05\x01\x00")
print(c.recv(2).hex())' "$PORT_px"
	# SOCKS5's "no acceptable method": refused in its own words
	[ "$output" = 05ff ]
	wait_for_line "$TMP/px.err" "tcp:192.0.2.1:5555: refused: without --auth only clients on loopback"
	run run_bounded 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"PROXY TCP4 127.0.0.9 127.0.0.1 5555 1080\r\n\x05\x01\x00")
print(c.recv(2).hex())' "$PORT_px"
	[ "$output" = 0500 ]
}

@test "client: names and user ids too long for a SOCKS request are refused, not overrun" {
	fake_proxy fake socks5-reply 0
	local long huge
	long=$(printf 'a%.0s' {1..300})
	huge=$(printf 'a%.0s' {1..20000})
	run run_bounded 10 "$TSOCK" connect --proxy "socks5h://127.0.0.1:$PORT_fake" \
		"tcp:$huge:80" </dev/null
	[ "$status" -eq 1 ]
	run run_bounded 10 "$TSOCK" connect --proxy "socks5h://127.0.0.1:$PORT_fake" \
		"tcp:$long:80" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"longer than a proxy request can carry"* ]]
	run run_bounded 10 "$TSOCK" connect --proxy "socks4a://$huge@127.0.0.1:$PORT_fake" \
		tcp:example.test:80 </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"user name is longer than 255 bytes"* ]]
}
