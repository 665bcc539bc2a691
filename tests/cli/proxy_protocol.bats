#!/usr/bin/env bats
#
# proxy_protocol.bats - the PROXY protocol (v1 and v2): tsock --send-proxy
# and --accept-proxy against each other and against haproxy, which cannot
# listen on port 0 (free_port and a bounded wait until it accepts), and
# clients that send no header, a bad one, half of one or none in time.

bats_require_minimum_version 1.5.0

setup() {
	load helpers
	setup_tmp
}

teardown() {
	teardown_tmp
}

# who_server NAME [OPTIONS...]: tsock taking PROXY headers on 127.0.0.1
# port 0, answering each client with the address it believes it has:
# "ADDR PORT".
who_server() {
	local name=$1
	shift
	start_tsock "$name" -v listen -k --accept-proxy "$@" tcp:127.0.0.1:0 \
		'sh:echo "$TSOCK_PEER_ADDR $TSOCK_PEER_PORT"'
}

# ask_from PORT [BYTES [close]]: connect to 127.0.0.1:PORT, send BYTES
# (python escapes; with "close", then end the stream), print
# "MYPORT<TAB>the answer" (or "closed" if none).
ask_from() {
	run_bounded 20 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
if sys.argv[3] == "close":
    c.shutdown(socket.SHUT_WR)
got = b""
try:
    while True:
        d = c.recv(4096)
        if not d:
            break
        got += d
except ConnectionResetError:
    pass
print("%d\t%s" % (c.getsockname()[1], got.decode().strip() or "closed"))
' "$1" "${2:-}" "${3:-}"
}

# start_haproxy NAME FRONT-BIND-OPTIONS SERVER-PORT SERVER-OPTIONS: haproxy
# in TCP mode from 127.0.0.1:PORT_NAME to 127.0.0.1:SERVER-PORT.
start_haproxy() {
	need haproxy
	local name=$1 bind_opts=$2 server=$3 server_opts=$4 port
	port=$(free_port)
	cat >"$TMP/$name.cfg" <<EOF
global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend front
    bind 127.0.0.1:$port $bind_opts
    default_backend back
backend back
    server s1 127.0.0.1:$server $server_opts
EOF
	haproxy -db -f "$TMP/$name.cfg" >"$TMP/$name.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_port "$port"
	eval "PORT_$name=$port"
}

@test "--send-proxy v1 and v2 to --accept-proxy: the back end sees the real client" {
	local v line
	who_server who
	for v in v1 v2; do
		start_tsock "relay$v" --send-proxy "$v" relay tcp:127.0.0.1:0 \
			"tcp:127.0.0.1:$PORT_who"
		eval "line=\$(ask_from \$PORT_relay$v)"
		echo "$v: $line"
		# the answer names the client's own port, not the relay's
		[ "${line%%$'\t'*}" = "$(cut -d' ' -f2 <<<"${line#*$'\t'}")" ]
		[[ "$line" == *$'\t'"127.0.0.1 "* ]]
	done
	grep -q "PROXY v1 header: client" "$TMP/who.err"
	grep -q "PROXY v2 header: client" "$TMP/who.err"
}

@test "--accept-proxy then --send-proxy: the header's client is passed on" {
	who_server who
	start_tsock relay --accept-proxy --send-proxy v2 relay tcp:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_who"
	run ask_from "$PORT_relay" 'PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n'
	[[ "$output" == *$'\t'"192.0.2.1 1234" ]]
	run ask_from "$PORT_relay" 'PROXY TCP6 2001:db8::7 2001:db8::8 4321 443\r\n'
	[[ "$output" == *$'\t'"2001:db8::7 4321" ]]
	# UNKNOWN: the connection's own address is the client's
	run ask_from "$PORT_relay" 'PROXY UNKNOWN\r\n'
	[[ "$output" == *$'\t'"127.0.0.1 "* ]]
}

@test "haproxy send-proxy and send-proxy-v2 to tsock --accept-proxy" {
	local opts line
	who_server who
	for opts in send-proxy send-proxy-v2; do
		start_haproxy "ha${opts//-/_}" "" "$PORT_who" "$opts"
		eval "line=\$(ask_from \$PORT_ha${opts//-/_})"
		echo "$opts: $line"
		[ "${line%%$'\t'*}" = "$(cut -d' ' -f2 <<<"${line#*$'\t'}")" ]
	done
}

@test "tsock --send-proxy v1 and v2 to haproxy accept-proxy (and on to tsock)" {
	local v line
	who_server who
	# haproxy takes the header and sends its own on: the client's
	# address must survive both hops
	start_haproxy ha accept-proxy "$PORT_who" send-proxy-v2
	for v in v1 v2; do
		start_tsock "relay$v" --send-proxy "$v" relay tcp:127.0.0.1:0 \
			"tcp:127.0.0.1:$PORT_ha"
		eval "line=\$(ask_from \$PORT_relay$v)"
		echo "$v: $line"
		[ "${line%%$'\t'*}" = "$(cut -d' ' -f2 <<<"${line#*$'\t'}")" ]
	done
	# without a header haproxy drops the connection
	run ask_from "$PORT_ha" 'hello\r\n'
	[[ "$output" == *$'\t'closed ]]
}

@test "--accept-proxy: no header, a bad one, half of one, or none in time closes only that client" {
	who_server who -w 1
	run ask_from "$PORT_who" 'GET / HTTP/1.0\r\n\r\n'
	[[ "$output" == *$'\t'closed ]]
	run ask_from "$PORT_who" 'PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n'
	[[ "$output" == *$'\t'closed ]]
	run ask_from "$PORT_who" "PROXY TCP4 $(printf 'x%.0s' {1..120})"
	[[ "$output" == *$'\t'closed ]]
	# the v2 signature, then the client hangs up
	run ask_from "$PORT_who" '\r\n\r\n\x00\r\nQUIT\n\x21\x11' close
	[[ "$output" == *$'\t'closed ]]
	# a client that sends nothing is dropped after -w 1 ...
	python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(20)' "$PORT_who" 3>&- &
	BG_PIDS+=("$!")
	# ... while a good one is served
	run ask_from "$PORT_who" 'PROXY TCP4 203.0.113.9 127.0.0.1 4444 80\r\n'
	[[ "$output" == *$'\t'"203.0.113.9 4444" ]]
	wait_for_line "$TMP/who.err" "bad PROXY header: not a PROXY protocol header"
	wait_for_line "$TMP/who.err" "bad PROXY header: .*port"
	wait_for_line "$TMP/who.err" "bad PROXY header: v1 header longer than 107 bytes"
	wait_for_line "$TMP/who.err" "no PROXY header: the client closed before sending all of it"
	wait_for_line "$TMP/who.err" "PROXY header handshake timed out" 10
}

@test "--send-proxy without a client (connect) sends UNKNOWN or LOCAL; unix clients in v2" {
	who_server who
	run run_bounded 10 "$TSOCK" connect --send-proxy v2 "tcp:127.0.0.1:$PORT_who" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == "127.0.0.1 "* ]]
	wait_for_line "$TMP/who.err" "PROXY v2 header without addresses \\(LOCAL\\)"
	start_tsock urelay --send-proxy v2 relay "unix:$TMP/front.sock" \
		"tcp:127.0.0.1:$PORT_who"
	run run_bounded 10 "$TSOCK" connect "unix:$TMP/front.sock" </dev/null
	[ "$status" -eq 0 ]
	wait_for_line "$TMP/who.err" "PROXY v2 header: client unix:"
}

@test "PROXY protocol options: bad values and misplaced ones are usage errors" {
	run "$TSOCK" --send-proxy v3 relay tcp:127.0.0.1:0 tcp:127.0.0.1:9
	[ "$status" -eq 2 ]
	run "$TSOCK" connect "tcp:127.0.0.1:9,accept-proxy"
	[ "$status" -eq 2 ]
	[[ "$output" == *"applies only to a listening endpoint"* ]]
	run "$TSOCK" connect "udp:127.0.0.1:9,send-proxy=v2"
	[ "$status" -eq 2 ]
}

@test "nginx's proxy_protocol listener sees the client tsock --send-proxy names" {
	need curl
	[ -x /usr/sbin/nginx ] || skip "nginx is not installed"
	local port v out
	port=$(free_port)
	mkdir -p "$TMP/nginx"
	cat >"$TMP/nginx.conf" <<CONF
daemon off;
master_process off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx;
    proxy_temp_path $TMP/nginx;
    fastcgi_temp_path $TMP/nginx;
    uwsgi_temp_path $TMP/nginx;
    scgi_temp_path $TMP/nginx;
    server {
        listen 127.0.0.1:$port proxy_protocol;
        location / { return 200 "\$proxy_protocol_addr \$proxy_protocol_port\n"; }
    }
}
CONF
	/usr/sbin/nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx.out" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_port "$port"
	for v in v1 v2; do
		start_tsock "relay$v" --send-proxy "$v" relay tcp:127.0.0.1:0 \
			"tcp:127.0.0.1:$port"
		eval "out=\$(run_bounded 10 curl -sS -w ' %{local_port}' \
			http://127.0.0.1:\$PORT_relay$v/)"
		echo "$v: $out"
		# "127.0.0.1 PORT\n PORT": nginx names curl's own port
		[[ "$out" == "127.0.0.1 "* ]]
		[ "$(sed -n '1s/.* //p' <<<"$out")" = "$(sed -n '2s/ //p' <<<"$out")" ]
	done
}
