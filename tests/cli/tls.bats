#!/usr/bin/env bats
#
# tls.bats - tls: endpoints of tsock (connect, listen, relay) against real
# TLS peers: gnutls-serv, gnutls-cli, openssl s_server and s_client, and
# tsock itself.  Loopback only; tsock and python servers use port 0 and a
# readiness line; every wait is bounded in time.
#
# The certificates are made once per file (setup_file) with openssl, EC
# P-256 keys, into $BATS_FILE_TMPDIR; they are never committed:
#   ca.pem          a CA
#   server.pem      signed by ca, SAN DNS:localhost IP:127.0.0.1 IP:::1
#   client.pem      signed by ca, for client authentication
#   other-ca.pem    an unrelated CA
#   rogue.pem       a client certificate signed by other-ca

bats_require_minimum_version 1.5.0

# ------------------------------------------------------------ certificates

# make_ca NAME CN: a self-signed CA certificate NAME.pem, key NAME-key.pem.
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -days 2 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$CERTS/$1-key.pem" -out "$CERTS/$1.pem" 2>/dev/null
}

# make_leaf NAME CN CA EXTENSIONS: NAME.pem (+ NAME-key.pem) signed by CA;
# EXTENSIONS are openssl x509v3 config lines.
make_leaf() {
	local name=$1 cn=$2 ca=$3 ext=$4
	printf '%s\n' "$ext" >"$CERTS/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$cn" -keyout "$CERTS/$name-key.pem" \
		-out "$CERTS/$name.csr" 2>/dev/null &&
	openssl x509 -req -in "$CERTS/$name.csr" -days 2 \
		-CA "$CERTS/$ca.pem" -CAkey "$CERTS/$ca-key.pem" \
		-set_serial "0x$(openssl rand -hex 8)" \
		-extfile "$CERTS/$name.ext" -out "$CERTS/$name.pem" 2>/dev/null
}

setup_file() {
	load helpers
	# a tsock built without GnuTLS says so; every test is then skipped
	if "$TSOCK" listen tls:127.0.0.1:0 </dev/null 2>&1 |
	   grep -q 'built with GnuTLS'; then
		export TSOCK_NO_TLS=1
	fi
	export CERTS="$BATS_FILE_TMPDIR/certs"
	mkdir -p "$CERTS"
	make_ca ca "tsock test CA"
	make_ca other-ca "unrelated test CA"
	make_leaf server localhost ca 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
	make_leaf client "tsock test client" ca 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
	make_leaf rogue "rogue test client" other-ca 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
	local f
	for f in ca other-ca server client rogue; do
		[ -s "$CERTS/$f.pem" ] && [ -s "$CERTS/$f-key.pem" ] || {
			echo "cannot make test certificate $f" >&2
			return 1
		}
	done
}

teardown_file() {
	if [ -n "${CERTS:-}" ]; then
		rm -rf "$CERTS"
	fi
}

setup() {
	load helpers
	setup_tmp
	[ -z "${TSOCK_NO_TLS:-}" ] || skip "tsock built without GnuTLS"
	# the interpreter itself, so that its pid is the one we kill
	PY=$(python3 -c 'import sys; print(sys.executable)') || PY=python3
	SRV=(--cert "$CERTS/server.pem" --key "$CERTS/server-key.pem")
	NETNS=
	NETNS_EXEC=()	# see private_netns
}

teardown() {
	teardown_tmp
	if [ -n "${NETNS:-}" ]; then
		ip netns delete "$NETNS" 2>/dev/null || true
	fi
}

# private_netns: a network namespace of this test's own, with only a
# loopback, for servers that bind every address (gnutls-serv); NETNS_EXEC
# runs a command in it.  Skips the test where none can be made.
private_netns() {
	NETNS="tsock-$$-$BATS_TEST_NUMBER"
	if ! ip netns add "$NETNS" 2>/dev/null; then
		NETNS=
		skip "cannot make a network namespace (needs root and iproute2)"
	fi
	NETNS_EXEC=(ip netns exec "$NETNS")
	"${NETNS_EXEC[@]}" ip link set lo up
}

# ------------------------------------------------------------ local helpers

# wait_listening PORT [SECONDS]: wait (bounded, default 5 s) until some
# socket listens on TCP PORT, without connecting to it (per /proc/net).
wait_listening() {
	local hex i
	hex=$(printf '%04X' "$1")
	for ((i = 0; i < ${2:-5} * 50; i++)); do
		if "${NETNS_EXEC[@]}" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		   awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'; then
			return 0
		fi
		sleep 0.02
	done
	echo "nothing listens on port $1 after ${2:-5}s" >&2
	return 1
}

# feed TEXT [FILE REGEX]...: print the line TEXT, then keep stdout open
# until each FILE has a line matching REGEX (bounded: 5 s each), so that
# whatever reads it does not see end of stream before its peer's data
# has arrived.
feed() {
	printf '%s\n' "$1"
	shift
	while (($# >= 2)); do
		wait_for_line "$1" "$2" 5 >/dev/null || true
		shift 2
	done
}

# gnutls_echo NAME [ARGS...]: gnutls-serv --echo with the server
# certificate on a free port (it cannot report a port 0).  It binds every
# address, so it runs in a private network namespace (private_netns):
# clients of it run there too, through "${NETNS_EXEC[@]}".  Waits until
# it listens and sets PORT_<NAME>.
gnutls_echo() {
	local name=$1 port
	shift
	need gnutls-serv
	private_netns
	port=$(free_port)
	"${NETNS_EXEC[@]}" gnutls-serv --echo -p "$port" --x509certfile "$CERTS/server.pem" \
		--x509keyfile "$CERTS/server-key.pem" "$@" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	wait_for_line "$TMP/$name.err" "listening on IPv4 .* port $port" \
		>/dev/null || return 1
	wait_listening "$port" || return 1
	eval "PORT_$name=\$port"
}

# s_server_rev NAME [ARGS...]: openssl s_server on 127.0.0.1 port 0 with
# the server certificate, answering each line reversed (-rev), any number
# of clients one after another; sets PORT_<NAME> from its "ACCEPT" line.
s_server_rev() {
	local name=$1 line
	shift
	openssl s_server -accept 127.0.0.1:0 -cert "$CERTS/server.pem" \
		-key "$CERTS/server-key.pem" -rev "$@" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	line=$(wait_for_line "$TMP/$name.out" '^ACCEPT ') || return 1
	eval "PORT_$name=\${line##*:}"
}

# fingerprint FILE: the SHA-256 fingerprint of a certificate, AB:CD:...
fingerprint() {
	local fp
	fp=$(openssl x509 -noout -fingerprint -sha256 -in "$1") || return 1
	echo "${fp#*=}"
}

# slow_client NAME PORT MODE LIMIT: a plaintext client of PORT that sends
# nothing (MODE silent) or an HTTP request (MODE garbage), then waits up to
# LIMIT seconds for the server to close.  Its stderr ($TMP/NAME.err) says
# "connected", then "eof after S", "reset after S" or "open after S".
slow_client() {
	local name=$1
	shift
	cat >"$TMP/$name.py" <<'EOF'
import socket, sys, time
port, mode, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
c = socket.create_connection(('127.0.0.1', port), timeout=5)
t0 = time.monotonic()
print('connected', file=sys.stderr, flush=True)
if mode == 'garbage':
    c.sendall(b'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n')
c.settimeout(0.05)
how = 'open'
while time.monotonic() - t0 < limit:
    try:
        if not c.recv(65536):
            how = 'eof'
            break
    except socket.timeout:
        pass
    except OSError:
        how = 'reset'
        break
print('%s after %.2f' % (how, time.monotonic() - t0), file=sys.stderr,
      flush=True)
EOF
	"$PY" "$TMP/$name.py" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&- &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	wait_for_line "$TMP/$name.err" '^connected' >/dev/null
}

# --------------------------------------------- tsock connect, real servers

@test "connect tls: to gnutls-serv --echo: lines round-trip" {
	gnutls_echo gs
	printf 'first line\nsecond line, a bit longer\nthird\n' >"$TMP/in"
	run --separate-stderr run_bounded 10 "${NETNS_EXEC[@]}" "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_gs" <"$TMP/in"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$TMP/in")" ]
}

@test "connect tls: 4 MiB of text through gnutls-serv --echo come back intact" {
	gnutls_echo gs
	# text lines: gnutls-serv --echo is line-minded, not binary-safe
	head -c $((3 << 20)) /dev/urandom | base64 -w 76 >"$TMP/in"
	run_bounded 30 "${NETNS_EXEC[@]}" "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_gs" \
		<"$TMP/in" >"$TMP/out" 2>"$TMP/c.err" 3>&- || cat "$TMP/c.err"
	[ "$(sha "$TMP/out")" = "$(sha "$TMP/in")" ]
}

@test "connect tls: to openssl s_server -rev: a line comes back reversed" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_srv" \
		<<<"hello over tls"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "slt revo olleh" ]
}

@test "connect tls: to openssl s_server -quiet: data both ways" {
	local port rc=0
	port=$(free_port)
	# s_server -quiet closes the connection at end of its stdin: keep it
	# open until the client's line has come
	mkfifo "$TMP/srv.in"
	feed "from the server" "$TMP/srv.out" '^from the client$' \
		>"$TMP/srv.in" 3>&- &
	BG_PIDS+=("$!")
	openssl s_server -accept "127.0.0.1:$port" -naccept 1 -quiet \
		-cert "$CERTS/server.pem" -key "$CERTS/server-key.pem" \
		<"$TMP/srv.in" >"$TMP/srv.out" 2>"$TMP/srv.err" 3>&- &
	BG_PIDS+=("$!")
	wait_listening "$port"

	# stdin stays open until both sides have the other's line
	feed "from the client" "$TMP/srv.out" '^from the client$' \
		"$TMP/c.out" '^from the server$' |
		run_bounded 10 "$TSOCK" connect --cafile "$CERTS/ca.pem" \
			"tls:127.0.0.1:$port" >"$TMP/c.out" 2>"$TMP/c.err" ||
		rc=$?
	cat "$TMP/c.err" "$TMP/srv.err"
	[ "$rc" -eq 0 ]
	[ "$(cat "$TMP/c.out")" = "from the server" ]
	[ "$(cat "$TMP/srv.out")" = "from the client" ]
}

@test "connect tls:localhost: the name checked is the host (DNS SAN)" {
	s_server_rev rev
	run --separate-stderr run_bounded 10 "$TSOCK" -4 connect \
		--cafile "$CERTS/ca.pem" "tls:localhost:$PORT_rev" <<<"abc"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "cba" ]
}

@test "connect tls:[::1]: IPv6 loopback, the IP SAN is checked" {
	"$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
		2>/dev/null || skip "no IPv6 loopback"
	echo "over ipv6" >"$TMP/lst.in"
	start_tsock lst "${SRV[@]}" listen 'tls:[::1]:0'
	[ "$LISTEN_lst" = "tls:[::1]:$PORT_lst" ]
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:[::1]:$PORT_lst" </dev/null
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "over ipv6" ]
}

# --------------------------------------------- tsock listen, real clients

@test "listen tls: gnutls-cli as the client: data both ways" {
	need gnutls-cli
	local rc=0
	mkfifo "$TMP/lst.in"
	feed "to the client" "$TMP/lst.out" '^to the server$' \
		>"$TMP/lst.in" 3>&- &
	BG_PIDS+=("$!")
	start_tsock lst "${SRV[@]}" listen tls:127.0.0.1:0

	printf 'to the server\n' |
		run_bounded 10 gnutls-cli --x509cafile "$CERTS/ca.pem" \
			-p "$PORT_lst" 127.0.0.1 >"$TMP/gc.out" 2>"$TMP/gc.err" ||
		rc=$?
	wait_exit "$PID_lst"
	cat "$TMP/lst.err" "$TMP/gc.err"
	[ "$rc" -eq 0 ]
	grep -qx 'to the client' "$TMP/gc.out"
	[ "$(cat "$TMP/lst.out")" = "to the server" ]
	[ "$EXIT_STATUS" -eq 0 ]
}

@test "listen tls: openssl s_client as the client: data both ways" {
	local rc=0
	mkfifo "$TMP/lst.in"
	feed "to the client" "$TMP/lst.out" '^to the server$' \
		>"$TMP/lst.in" 3>&- &
	BG_PIDS+=("$!")
	start_tsock lst "${SRV[@]}" listen tls:127.0.0.1:0

	# -quiet implies -ign_eof: s_client ends when tsock closes
	printf 'to the server\n' |
		run_bounded 10 openssl s_client -quiet -verify_return_error \
			-CAfile "$CERTS/ca.pem" -connect "127.0.0.1:$PORT_lst" \
			>"$TMP/sc.out" 2>"$TMP/sc.err" || rc=$?
	wait_exit "$PID_lst"
	cat "$TMP/lst.err" "$TMP/sc.err"
	[ "$rc" -eq 0 ]
	[ "$(cat "$TMP/sc.out")" = "to the client" ]
	[ "$(cat "$TMP/lst.out")" = "to the server" ]
	[ "$EXIT_STATUS" -eq 0 ]
}

@test "listen tls: tsock connect as the client, with -k two in a row" {
	start_tsock lst -k "${SRV[@]}" listen tls:127.0.0.1:0
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_lst" <<<"one"
	[ "$status" -eq 0 ]
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_lst" <<<"two"
	[ "$status" -eq 0 ]
	wait_for_line "$TMP/lst.out" '^two$'
	[ "$(cat "$TMP/lst.out")" = "$(printf 'one\ntwo')" ]
}

# --------------------------------------------- relay chain

@test "relay chain tcp -> tls -> tls -> tcp: 8 MiB round-trip intact" {
	echo_server -b echo
	start_tsock back "${SRV[@]}" relay tls:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_echo"
	start_tsock front --cafile "$CERTS/ca.pem" relay tcp:127.0.0.1:0 \
		"tls:127.0.0.1:$PORT_back"
	random_file "$TMP/data" $((8 * 1024 * 1024))

	run run_bounded 30 "$PY" - "$PORT_front" "$TMP/data" "$TMP/back" \
		3>&- <<'EOF'
import socket, sys, threading
port, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = socket.create_connection(('127.0.0.1', port), timeout=20)

def send():
    with open(src, 'rb') as f:
        while True:
            b = f.read(65536)
            if not b:
                break
            c.sendall(b)
    c.shutdown(socket.SHUT_WR)

t = threading.Thread(target=send)
t.start()
n = 0
with open(dst, 'wb') as f:
    while True:
        d = c.recv(65536)
        if not d:
            break
        f.write(d)
        n += len(d)
t.join()
print('received %d bytes' % n)
EOF
	echo "$output"
	cat "$TMP/front.err" "$TMP/back.err"
	[ "$status" -eq 0 ]
	[ "$output" = "received $((8 * 1024 * 1024)) bytes" ]
	[ "$(sha "$TMP/back")" = "$(sha "$TMP/data")" ]
	wait_for_line "$TMP/echo.out" "^echoed $((8 * 1024 * 1024)) bytes"
}

# --------------------------------------------- verification

@test "verify: a server from an unknown CA is refused (exit 1)" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/other-ca.pem" "tls:127.0.0.1:$PORT_srv" \
		<<<"secret"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" =~ "issuer is unknown" || "$stderr" =~ "not trusted" ]]
}

@test "verify: the system store does not trust the test CA (exit 1)" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		"tls:127.0.0.1:$PORT_srv" <<<"secret"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" =~ "verification failed" ]]
}

@test "verify: a name the certificate lacks is refused (--servername)" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --servername other.example \
		"tls:127.0.0.1:$PORT_srv" <<<"secret"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" =~ name ]]
	# and the name it has is accepted
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --servername localhost \
		"tls:127.0.0.1:$PORT_srv" <<<"abc"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "cba" ]
}

@test "verify: a wrong --pin is refused, even with a trusted CA" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --pin "sha256:$(printf '0%.0s' {1..64})" \
		"tls:127.0.0.1:$PORT_srv" <<<"secret"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" =~ pin ]]
}

@test "verify: the right --pin is enough without --cafile" {
	local fp
	fp=$(fingerprint "$CERTS/server.pem")
	s_server_rev srv
	# as openssl prints it, with colons
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--pin "sha256:$fp" "tls:127.0.0.1:$PORT_srv" <<<"pinned"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "dennip" ]
	# plain lower-case hex
	fp=$(tr -d : <<<"$fp" | tr 'A-F' 'a-f')
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--pin "sha256:$fp" "tls:127.0.0.1:$PORT_srv" <<<"again"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "niaga" ]
	# the pin of another certificate is refused
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--pin "sha256:$(fingerprint "$CERTS/client.pem")" \
		"tls:127.0.0.1:$PORT_srv" <<<"secret"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" =~ pin ]]
}

@test "verify: --insecure talks to an untrusted server, with a warning" {
	s_server_rev srv
	# untrusted: the wrong CA and the wrong name
	run --separate-stderr run_bounded 10 "$TSOCK" connect --insecure \
		--cafile "$CERTS/other-ca.pem" --servername other.example \
		"tls:127.0.0.1:$PORT_srv" <<<"risky"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "yksir" ]
	[[ "$stderr" =~ warning ]]
	[[ "$stderr" =~ insecure ]]
}

@test "verify: a refused server is told so by a TLS alert" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/other-ca.pem" "tls:127.0.0.1:$PORT_srv" \
		<<<"do not send this"
	[ "$status" -eq 1 ]
	# a later, proper client is still served
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_srv" <<<"ok"
	[ "$status" -eq 0 ]
	[ "$output" = "ko" ]
	cat "$TMP/srv.err"
	refute grep -q 'siht dnes ton od' "$TMP/srv.out"
	# RFC 8446 6.2: the refusal is a fatal alert (bad_certificate,
	# unknown_ca...), not a bare TCP close ("unexpected eof")
	grep -qi 'alert' "$TMP/srv.err"
}

# --------------------------------------------- client certificates

@test "--require-client-cert on gnutls-serv: tsock connect --cert/--key" {
	gnutls_echo gs --require-client-cert --x509cafile "$CERTS/ca.pem"

	run --separate-stderr run_bounded 10 "${NETNS_EXEC[@]}" "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_gs" <<<"anonymous"
	echo "no cert: status=$status out=$output stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ -n "$stderr" ]

	run --separate-stderr run_bounded 10 "${NETNS_EXEC[@]}" "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --cert "$CERTS/rogue.pem" \
		--key "$CERTS/rogue-key.pem" "tls:127.0.0.1:$PORT_gs" <<<"rogue"
	echo "rogue cert: status=$status out=$output stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]

	run --separate-stderr run_bounded 10 "${NETNS_EXEC[@]}" "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --cert "$CERTS/client.pem" \
		--key "$CERTS/client-key.pem" "tls:127.0.0.1:$PORT_gs" \
		<<<"authenticated"
	echo "client cert: status=$status out=$output stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "authenticated" ]
}

@test "--require-client-cert on a tsock relay: only the client cert passes" {
	local st_anon st_rogue out_anon out_rogue
	echo_server -b echo
	start_tsock rly "${SRV[@]}" --cafile "$CERTS/ca.pem" \
		--require-client-cert relay tls:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_echo"

	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_rly" \
		<<<"anonymous"
	echo "no cert: status=$status out=$output stderr=$stderr"
	st_anon=$status out_anon=$output

	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --cert "$CERTS/rogue.pem" \
		--key "$CERTS/rogue-key.pem" "tls:127.0.0.1:$PORT_rly" \
		<<<"rogue"
	echo "rogue cert: status=$status out=$output stderr=$stderr"
	st_rogue=$status out_rogue=$output

	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" --cert "$CERTS/client.pem" \
		--key "$CERTS/client-key.pem" "tls:127.0.0.1:$PORT_rly" \
		<<<"authenticated"
	echo "client cert: status=$status out=$output stderr=$stderr"
	cat "$TMP/rly.err"
	[ "$status" -eq 0 ]
	[ "$output" = "authenticated" ]
	# the relay refused the other two, which never reached the back end
	# (a GnuTLS client does not offer a certificate from a CA the server
	# did not ask for, so the rogue one shows none either)
	[ "$(grep -c 'Certificate is required' "$TMP/rly.err")" -eq 2 ]
	wait_for_line "$TMP/echo.out" '^echoed'
	[ "$(cat "$TMP/echo.out")" = "echoed 14 bytes" ]
	# and the refused clients fail
	[ -z "$out_anon" ] && [ -z "$out_rogue" ]
	[ "$st_anon" -eq 1 ]
	[ "$st_rogue" -eq 1 ]
}

@test "--require-client-cert: refused openssl clients get a TLS alert" {
	local rc1=0 rc2=0
	start_tsock lst "${SRV[@]}" --cafile "$CERTS/ca.pem" \
		--require-client-cert listen tls:127.0.0.1:0
	printf 'anonymous\n' |
		run_bounded 10 openssl s_client -quiet -CAfile "$CERTS/ca.pem" \
			-connect "127.0.0.1:$PORT_lst" \
			>"$TMP/sc1.out" 2>"$TMP/sc1.err" || rc1=$?
	# openssl shows its certificate even if the server's list of CAs
	# does not name the issuer
	printf 'rogue\n' |
		run_bounded 10 openssl s_client -quiet -CAfile "$CERTS/ca.pem" \
			-cert "$CERTS/rogue.pem" -key "$CERTS/rogue-key.pem" \
			-connect "127.0.0.1:$PORT_lst" \
			>"$TMP/sc2.out" 2>"$TMP/sc2.err" || rc2=$?
	cat "$TMP/lst.err" "$TMP/sc1.err" "$TMP/sc2.err"
	grep -q 'Certificate is required' "$TMP/lst.err"
	grep -q 'issuer is unknown\|not trusted' "$TMP/lst.err"
	[ ! -s "$TMP/lst.out" ]
	[ ! -s "$TMP/sc1.out" ] && [ ! -s "$TMP/sc2.out" ]
	[ "$rc1" -ne 0 ] && [ "$rc2" -ne 0 ]
	kill -0 "$PID_lst"	# still listening
	# RFC 8446 4.4.2.4 and 6.2: the refusal is a fatal alert
	# (certificate_required, unknown_ca), not a bare TCP close
	grep -qi 'alert' "$TMP/sc1.err"
	grep -qi 'alert' "$TMP/sc2.err"
}

@test "--require-client-cert: tsock connect names the server's refusal" {
	gnutls_echo gs --require-client-cert --x509cafile "$CERTS/ca.pem"
	run --separate-stderr run_bounded 10 "${NETNS_EXEC[@]}" "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_gs" <<<"anonymous"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	# gnutls-serv sends a certificate_required alert: the message should
	# say so (e.g. "alert: Certificate is required"), not just
	# "Protocol error"
	[[ "$stderr" =~ [Aa]lert|[Cc]ertificate ]]
}

@test "--require-client-cert: gnutls-cli with the client cert is served" {
	need gnutls-cli
	echo_server -b echo
	start_tsock rly "${SRV[@]}" --cafile "$CERTS/ca.pem" \
		--require-client-cert relay tls:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_echo"
	local rc=0
	feed "via gnutls-cli" "$TMP/gc.out" '^via gnutls-cli$' |
		run_bounded 10 gnutls-cli --x509cafile "$CERTS/ca.pem" \
			--x509certfile "$CERTS/client.pem" \
			--x509keyfile "$CERTS/client-key.pem" \
			-p "$PORT_rly" 127.0.0.1 >"$TMP/gc.out" 2>"$TMP/gc.err" ||
		rc=$?
	cat "$TMP/rly.err"
	[ "$rc" -eq 0 ]
	grep -qx 'via gnutls-cli' "$TMP/gc.out"
}

# --------------------------------------------- slow and broken clients

@test "relay tls: silent and garbage clients do not block a TLS client" {
	echo_server -b echo
	start_tsock rly "${SRV[@]}" relay tls:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_echo"
	slow_client silent "$PORT_rly" silent 8
	slow_client garbage "$PORT_rly" garbage 8

	run --separate-stderr run_bounded 5 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_rly" \
		<<<"not blocked"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "not blocked" ]
	# the silent client is still connected (default: 10 s to finish)
	kill -0 "$PID_silent"
	refute grep -q 'after' "$TMP/silent.err"
	# the garbage was refused and never reached the back end
	wait_for_line "$TMP/garbage.err" '^(eof|reset) after'
	wait_for_line "$TMP/echo.out" '^echoed'
	[ "$(cat "$TMP/echo.out")" = "echoed 12 bytes" ]
	kill -0 "$PID_rly"
}

@test "relay tls -w 1: a silent client is dropped after about 1 s" {
	echo_server -b echo
	start_tsock rly -w 1 "${SRV[@]}" relay tls:127.0.0.1:0 \
		"tcp:127.0.0.1:$PORT_echo"
	slow_client silent "$PORT_rly" silent 5
	local line t
	line=$(wait_for_line "$TMP/silent.err" ' after ' 7)
	echo "$line"
	cat "$TMP/rly.err"
	[[ "$line" =~ ^(eof|reset)\ after\ ([0-9.]+)$ ]]
	t=${BASH_REMATCH[2]}
	# about 1 s: not at once, well before the 5 s limit
	awk -v t="$t" 'BEGIN { exit !(t >= 0.7 && t < 4) }'
	grep -q 'timed out' "$TMP/rly.err"
	# the relay goes on serving
	run --separate-stderr run_bounded 5 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_rly" <<<"next"
	[ "$status" -eq 0 ]
	[ "$output" = "next" ]
}

@test "listen tls -w 1: a silent client is dropped, then the next served" {
	echo "for the second client" >"$TMP/lst.in"
	start_tsock lst -w 1 "${SRV[@]}" listen tls:127.0.0.1:0
	slow_client silent "$PORT_lst" silent 5
	run --separate-stderr run_bounded 6 "$TSOCK" connect \
		--cafile "$CERTS/ca.pem" "tls:127.0.0.1:$PORT_lst" </dev/null
	echo "status=$status stderr=$stderr"
	cat "$TMP/lst.err"
	[ "$status" -eq 0 ]
	[ "$output" = "for the second client" ]
	wait_for_line "$TMP/silent.err" '^(eof|reset) after'
}

# --------------------------------------------- usage errors

@test "a tls listener without --cert/--key is a usage error (exit 2)" {
	run --separate-stderr run_bounded 5 "$TSOCK" listen tls:127.0.0.1:0
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 2 ]
	[[ "$stderr" =~ "--cert" ]]
	[[ "$stderr" != *"listening on"* ]]

	run --separate-stderr run_bounded 5 "$TSOCK" relay tls:127.0.0.1:0 \
		tcp:127.0.0.1:9
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 2 ]
	[[ "$stderr" =~ "--cert" ]]

	run --separate-stderr run_bounded 5 "$TSOCK" \
		--cert "$CERTS/server.pem" listen tls:127.0.0.1:0
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 2 ]
	[[ "$stderr" =~ "--key" ]]
}

# ------------------------------------ TLS 1.3 session tickets, key updates

# s_server_www NAME DIR [ARGS...]: openssl s_server -WWW serving DIR on
# 127.0.0.1 port 0, any number of clients; sets PORT_<NAME> from its
# "ACCEPT" line.  With TLS 1.3 it sends two NewSessionTicket messages
# after each handshake (unless -num_tickets 0).
s_server_www() {
	local name=$1 dir=$2 line
	shift 2
	(cd "$dir" && exec openssl s_server -accept 127.0.0.1:0 \
		-cert "$CERTS/server.pem" -key "$CERTS/server-key.pem" \
		-WWW "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" 3>&-) &
	BG_PIDS+=("$!")
	line=$(wait_for_line "$TMP/$name.out" '^ACCEPT ') || return 1
	eval "PORT_$name=\${line##*:}"
}

# www_downloads PORT COUNT: download /file COUNT times through tsock
# connect; each must be the whole file (status line and body, checked
# by sha256 of the body).
www_downloads() {
	local port=$1 count=$2 i want got
	want=$(sha "$TMP/www/file")
	for ((i = 1; i <= count; i++)); do
		# stdin stays open a moment: the reply comes before our EOF
		{ printf 'GET /file HTTP/1.0\r\n\r\n'; sleep 1; } |
			run_bounded 20 "$TSOCK" connect --cafile "$CERTS/ca.pem" \
			"tls:127.0.0.1:$port" >"$TMP/got" 2>"$TMP/got.err" 3>&- ||
			{ cat "$TMP/got.err"; return 1; }
		# the body follows the first empty line
		got=$(sed '1,/^\r$/d' "$TMP/got" | sha256sum | cut -d' ' -f1)
		echo "download $i: $(wc -c <"$TMP/got") bytes"
		[ "$got" = "$want" ] || { cat "$TMP/got.err"; return 1; }
	done
}

@test "connect tls: 6 downloads of 4 MiB from openssl s_server with TLS 1.3 session tickets are complete" {
	mkdir -p "$TMP/www"
	random_file "$TMP/www/file" $((4 << 20))
	s_server_www www "$TMP/www" -tls1_3
	www_downloads "$PORT_www" 6
}

@test "connect tls: downloads from openssl s_server -num_tickets 0 and with TLS 1.2 are complete" {
	mkdir -p "$TMP/www"
	random_file "$TMP/www/file" $((4 << 20))
	s_server_www nt "$TMP/www" -tls1_3 -num_tickets 0
	www_downloads "$PORT_nt" 2
	s_server_www t12 "$TMP/www" -tls1_2
	www_downloads "$PORT_t12" 2
}

@test "listen tls: openssl s_client (TLS 1.3, tickets) downloads 8 MiB intact" {
	random_file "$TMP/srv.in" $((8 << 20))
	start_tsock srv listen "${SRV[@]}" tls:127.0.0.1:0
	# -ign_eof: s_client reads until tsock's close_notify
	run_bounded 60 openssl s_client -quiet -ign_eof -tls1_3 \
		-connect "127.0.0.1:$PORT_srv" </dev/null >"$TMP/c.out" \
		2>"$TMP/c.err" 3>&- || true
	wait_exit "$PID_srv" 30
	[ "$(sha "$TMP/c.out")" = "$(sha "$TMP/srv.in")" ]
}

@test "connect tls: 8 MiB uploaded to openssl s_server (TLS 1.3, tickets) intact" {
	local port
	random_file "$TMP/up" $((8 << 20))
	port=$(free_port)
	# its stdin stays open (s_server ends at its end), for 30 s at most
	{ sleep 30; } | openssl s_server -accept "127.0.0.1:$port" \
		-naccept 1 -quiet -tls1_3 -cert "$CERTS/server.pem" \
		-key "$CERTS/server-key.pem" >"$TMP/srv.out" \
		2>"$TMP/srv.err" 3>&- &
	BG_PIDS+=("$!")
	wait_listening "$port"
	run_bounded 30 "$TSOCK" connect --cafile "$CERTS/ca.pem" \
		"tls:127.0.0.1:$port" <"$TMP/up" >/dev/null 2>"$TMP/c.err" 3>&-
	# the server writes what it got as it comes: wait for all of it
	for ((i = 0; i < 500; i++)); do
		[ "$(stat -c %s "$TMP/srv.out")" -ge $((8 << 20)) ] && break
		sleep 0.02
	done
	[ "$(sha "$TMP/srv.out")" = "$(sha "$TMP/up")" ]
}

# ------------------------------------ ALPN, priority strings, min-version

@test "connect tls: alpn=h2 to openssl s_server -alpn h2,http/1.1: -v logs the version, cipher and ALPN h2" {
	s_server_rev srv -alpn h2,http/1.1
	run --separate-stderr run_bounded 10 "$TSOCK" connect -v \
		"tls:127.0.0.1:$PORT_srv,cafile=$CERTS/ca.pem,alpn=h2" \
		<<<"negotiated"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "detaitogen" ]
	[[ "$stderr" == *"tls:127.0.0.1:$PORT_srv: TLSv1.3, TLS_"*", ALPN h2"* ]]
	# a protocol the server does not take: refused, and said so
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		"tls:127.0.0.1:$PORT_srv,cafile=$CERTS/ca.pem,alpn=imap" \
		<<<"not this"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" =~ ALPN ]]
	[[ "$stderr" =~ imap ]]
}

@test "listen tls: alpn=h2:http/1.1: openssl s_client -alpn http/1.1 gets http/1.1, one offering none is served, one offering neither is refused" {
	start_tsock lst -v -k "${SRV[@]}" listen \
		'tls:127.0.0.1:0,alpn=h2:http/1.1'
	run run_bounded 10 openssl s_client -alpn http/1.1 \
		-CAfile "$CERTS/ca.pem" -connect "127.0.0.1:$PORT_lst" \
		</dev/null 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^ALPN protocol: http/1.1$' <<<"$output"
	wait_for_line "$TMP/lst.err" 'TLSv1\.3, TLS_.*, ALPN http/1\.1$'

	# the server's order decides between two it accepts
	run run_bounded 10 openssl s_client -alpn http/1.1,h2 \
		-CAfile "$CERTS/ca.pem" -connect "127.0.0.1:$PORT_lst" \
		</dev/null 3>&-
	[ "$status" -eq 0 ]
	grep -q '^ALPN protocol: h2$' <<<"$output"

	run run_bounded 10 openssl s_client -CAfile "$CERTS/ca.pem" \
		-connect "127.0.0.1:$PORT_lst" </dev/null 3>&-
	[ "$status" -eq 0 ]
	grep -q '^No ALPN negotiated$' <<<"$output"
	wait_for_line "$TMP/lst.err" 'TLSv1\.3, TLS_[A-Z0-9_]*, no ALPN$'

	run run_bounded 10 openssl s_client -alpn spdy/3 \
		-CAfile "$CERTS/ca.pem" -connect "127.0.0.1:$PORT_lst" \
		</dev/null 3>&-
	echo "$output"
	[ "$status" -ne 0 ]
	grep -qi 'no application protocol' <<<"$output"
	wait_for_line "$TMP/lst.err" 'none of the ALPN protocols accepted \(h2, http/1\.1\)'
	kill -0 "$PID_lst"	# still serving
}

@test "priority=NORMAL:-VERS-TLS1.3: -v says TLSv1.2, connecting and listening" {
	s_server_rev srv
	run --separate-stderr run_bounded 10 "$TSOCK" connect -v \
		"tls:127.0.0.1:$PORT_srv,cafile=$CERTS/ca.pem,priority=NORMAL:-VERS-TLS1.3" \
		<<<"twelve"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "evlewt" ]
	[[ "$stderr" == *"tls:127.0.0.1:$PORT_srv: TLSv1.2, TLS_ECDHE_"* ]]

	echo "from a TLS 1.2 server" >"$TMP/lst.in"
	start_tsock lst -v "${SRV[@]}" listen \
		'tls:127.0.0.1:0,priority=NORMAL:-VERS-TLS1.3'
	run --separate-stderr run_bounded 10 "$TSOCK" connect -v \
		"tls:127.0.0.1:$PORT_lst,cafile=$CERTS/ca.pem" </dev/null
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "from a TLS 1.2 server" ]
	[[ "$stderr" =~ "TLSv1.2" ]]
	wait_for_line "$TMP/lst.err" '^tsock: tls:127\.0\.0\.1:[0-9]+: TLSv1\.2, TLS_'
}

@test "min-version=1.3 against openssl s_server -tls1_2: exit 1 with a message; 1.2 goes through" {
	s_server_rev srv -tls1_2
	run --separate-stderr run_bounded 10 "$TSOCK" connect \
		"tls:127.0.0.1:$PORT_srv,cafile=$CERTS/ca.pem,min-version=1.3" \
		<<<"too old"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == *"tls:127.0.0.1:$PORT_srv: TLS handshake"* ]]
	[[ "$stderr" =~ [Vv]ersion ]]

	run --separate-stderr run_bounded 10 "$TSOCK" connect -v \
		"tls:127.0.0.1:$PORT_srv,cafile=$CERTS/ca.pem,min-version=1.2" \
		<<<"new enough"
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "hguone wen" ]
	[[ "$stderr" =~ "TLSv1.2" ]]
}

@test "min-version=1.3 on a listener refuses an openssl s_client -tls1_2" {
	start_tsock lst -k "${SRV[@]}" listen 'tls:127.0.0.1:0,min-version=1.3'
	run run_bounded 10 openssl s_client -tls1_2 -CAfile "$CERTS/ca.pem" \
		-connect "127.0.0.1:$PORT_lst" </dev/null 3>&-
	echo "$output"
	[ "$status" -ne 0 ]
	wait_for_line "$TMP/lst.err" 'TLS handshake'
	run run_bounded 10 openssl s_client -tls1_3 -CAfile "$CERTS/ca.pem" \
		-connect "127.0.0.1:$PORT_lst" </dev/null 3>&-
	[ "$status" -eq 0 ]
	grep -q 'TLSv1.3' <<<"$output"
}

@test "a bad min-version= is a usage error (exit 2) naming option and endpoint; a bad priority= fails at start naming the part" {
	local ep
	for ep in 'tls:127.0.0.1:1,min-version=1.4' \
		  'tls:127.0.0.1:1,min-version=TLS1.3' \
		  'tls:127.0.0.1:1,min-version=1'; do
		run --separate-stderr run_bounded 5 "$TSOCK" connect "$ep"
		echo "status=$status stderr=$stderr"
		[ "$status" -eq 2 ]
		[[ "$stderr" == *"endpoint '$ep'"*"option 'min-version'"* ]]
	done
	run --separate-stderr run_bounded 5 "$TSOCK" "${SRV[@]}" listen \
		'tls:127.0.0.1:0,min-version=2'
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 2 ]
	[[ "$stderr" =~ "option 'min-version'" ]]
	[[ "$stderr" != *"listening on"* ]]

	run --separate-stderr run_bounded 5 "$TSOCK" "${SRV[@]}" listen \
		'tls:127.0.0.1:0,priority=NORMAL:+BOGUS'
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" =~ "invalid at '+BOGUS'" ]]
	[[ "$stderr" != *"listening on"* ]]
	# min-version= narrows priority= to nothing: said at start too
	run --separate-stderr run_bounded 5 "$TSOCK" connect \
		'tls:127.0.0.1:1,priority=NORMAL:-VERS-TLS1.3,min-version=1.3'
	echo "status=$status stderr=$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" =~ "no TLS protocol version" ]]
}

# nginx_h2c NAME: nginx on 127.0.0.1 (a free port: it cannot report port
# 0) speaking HTTP/2 without TLS (prior knowledge), answering "hello" to
# everything; its files in $TMP/NAME.  Sets PORT_<NAME>; skips the test
# where nginx is not installed.
nginx_h2c() {
	local name=$1 nginx port dir
	nginx=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$nginx" ] || skip "nginx is not installed"
	dir="$TMP/$name"
	mkdir -p "$dir/tmp"
	port=$(free_port)
	cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	server {
		listen 127.0.0.1:$port http2;
		location / {
			default_type text/plain;
			return 200 "hello\n";
		}
	}
}
EOF
	"$nginx" -g 'daemon off;' -e "$dir/error.log" -p "$dir" \
		-c "$dir/nginx.conf" </dev/null >"$TMP/$name.out" \
		2>"$TMP/$name.err" 3>&- &
	eval "PID_$name=$!"
	BG_PIDS+=("$!")
	wait_listening "$port" || {
		cat "$TMP/$name.err" "$dir/error.log" >&2
		return 1
	}
	eval "PORT_$name=\$port"
}

@test "curl --http2 through tsock's TLS termination (alpn=h2:http/1.1) to nginx speaking h2c" {
	need curl
	curl --version | grep -q HTTP2 || skip "curl without HTTP/2"
	nginx_h2c ngx
	start_tsock rly -v relay \
		"tls:127.0.0.1:0,cert=$CERTS/server.pem,key=$CERTS/server-key.pem,alpn=h2:http/1.1" \
		"tcp:127.0.0.1:$PORT_ngx"
	run run_bounded 15 curl --http2 -sS --max-time 10 \
		--cacert "$CERTS/ca.pem" \
		--resolve "localhost:$PORT_rly:127.0.0.1" \
		-w '%{http_version}\n' "https://localhost:$PORT_rly/"
	echo "$output"
	cat "$TMP/rly.err"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'hello\n2')" ]
	grep -q 'TLSv1\.3, TLS_.*, ALPN h2$' "$TMP/rly.err"
}
