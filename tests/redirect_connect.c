/*
 * redirect_connect.c - an LD_PRELOAD library for the command-line tests
 * that plays a NAT redirect rule
 *
 * A relay loop that no address comparison can see before connecting
 * comes from the network: a redirect (iptables REDIRECT, a DNAT rule)
 * that sends connections for one address to the relay's own port.
 * Preloaded, this connect(2) sends every TCP connection for 127.0.0.2
 * to 127.0.0.1, at the port written in the file REDIRECT_CONNECT_PORT_FILE
 * (read at each connect, so a test can write it once it knows the
 * port).  Without the file, connections go where they were meant to.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

/* The port to redirect to, or 0 for none (yet). */
static unsigned redirect_port(void)
{
	const char *path = getenv("REDIRECT_CONNECT_PORT_FILE");
	unsigned port = 0;
	FILE *f;

	if (path == NULL || (f = fopen(path, "re")) == NULL) {
		return 0;
	}
	if (fscanf(f, "%u", &port) != 1 || port > 65535) {
		port = 0;
	}
	fclose(f);
	return port;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static connect_fn real;
	struct sockaddr_in to;
	unsigned port;

	if (real == NULL) {
		real = (connect_fn)dlsym(RTLD_NEXT, "connect");
	}
	if (sa != NULL && sa->sa_family == AF_INET && len >= sizeof(to)) {
		memcpy(&to, sa, sizeof(to));
		if (to.sin_addr.s_addr == htonl(0x7f000002) &&
		    (port = redirect_port()) != 0) {
			to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			to.sin_port = htons((uint16_t)port);
			return real(fd, (const struct sockaddr *)&to,
				    sizeof(to));
		}
	}
	return real(fd, sa, len);
}
