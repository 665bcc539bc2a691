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
 * Like the kernel's connection tracking, getsockopt(SO_ORIGINAL_DST) on
 * the accepting end of a redirected connection (in the same process)
 * then tells the address it asked for; other sockets have none (ENOENT).
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

/* The redirected connections, by their source port: what each asked. */
#define REDIRECTS 1024
static struct {
	unsigned short src_port;
	struct sockaddr_in asked;
} redirects[REDIRECTS];
static unsigned next_redirect;

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
	struct sockaddr_in to, from;
	socklen_t from_len = sizeof(from);
	unsigned port;
	int ret, saved;

	if (real == NULL) {
		real = (connect_fn)dlsym(RTLD_NEXT, "connect");
	}
	if (sa == NULL || sa->sa_family != AF_INET || len < sizeof(to)) {
		return real(fd, sa, len);
	}
	memcpy(&to, sa, sizeof(to));
	if (to.sin_addr.s_addr != htonl(0x7f000002) ||
	    (port = redirect_port()) == 0) {
		return real(fd, sa, len);
	}
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((unsigned short)port);
	ret = real(fd, (const struct sockaddr *)&to, sizeof(to));
	saved = errno;
	if (getsockname(fd, (struct sockaddr *)&from, &from_len) == 0) {
		unsigned i = next_redirect++ % REDIRECTS;

		redirects[i].src_port = ntohs(from.sin_port);
		memcpy(&redirects[i].asked, sa, sizeof(redirects[i].asked));
	}
	errno = saved;
	return ret;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static getsockopt_fn real;
	struct sockaddr_in peer;
	socklen_t peer_len = sizeof(peer);
	unsigned i;

	if (real == NULL) {
		real = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	}
	if (level != SOL_IP || name != SO_ORIGINAL_DST) {
		return real(fd, level, name, val, len);
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0 &&
	    peer.sin_family == AF_INET && *len >= sizeof(peer)) {
		for (i = 0; i < REDIRECTS; i++) {
			if (redirects[i].src_port != 0 &&
			    redirects[i].src_port == ntohs(peer.sin_port)) {
				memcpy(val, &redirects[i].asked,
				       sizeof(peer));
				*len = sizeof(peer);
				return 0;
			}
		}
	}
	errno = ENOENT;
	return -1;
}
