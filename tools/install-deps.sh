#!/bin/sh
# Install the Debian packages needed to build and test tsock, when missing.
# Runs apt-get as root (directly, or through sudo).
set -e

packages="build-essential autoconf automake pkg-config
	libtalloc-dev libtevent-dev libpopt-dev libcmocka-dev
	libgnutls28-dev gnutls-bin openssl
	bats socat netcat-openbsd python3 valgrind groff-base
	dnsmasq-base bind9-dnsutils ncat systemd bash-completion
	microsocks tinyproxy openssh-server openssh-client haproxy curl
	nginx-light"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
else
	sudo="sudo"
fi
echo "install-deps: installing$missing"
$sudo apt-get update -q
# Servers the tests start themselves, on loopback only (tinyproxy, sshd,
# haproxy...): their packages must not start them as services, bound to
# every address.  policy-rc.d says no to every service start meanwhile.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
	own_policy=1
fi
status=0
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing || status=$?
[ -z "$own_policy" ] || $sudo rm -f "$policy"
exit $status
