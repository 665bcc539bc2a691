/*
 * test_stream.c - unit tests of the libtsocket streams (BSD backend)
 *
 * Every test runs on loopback only: 127.0.0.1, ::1 or unix sockets in a
 * private directory, with port 0 and listening sockets made here with plain
 * socket(2)/bind(2)/listen(2).  Every loop is bounded by tu_loop_until().
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "test_util.h"

#ifndef discard_const
#define discard_const(ptr) ((void *)(uintptr_t)(const void *)(ptr))
#endif

#define TIMEOUT_MS	5000
#define PROMPT_MS	2000	/* for errors the kernel reports at once */
#define BIG_TIMEOUT_MS	60000

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_int_not_equal(fl, -1);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void fd_ready(struct tevent_context *ev, struct tevent_fd *fde,
		     uint16_t flags, void *private_data)
{
	bool *ready = private_data;

	(void)ev;
	(void)fde;
	(void)flags;
	*ready = true;
}

/* Wait (bounded) until a raw fd is readable. */
static void wait_readable(struct tu_ctx *t, int fd)
{
	bool ready = false;
	struct tevent_fd *fde;

	fde = tevent_add_fd(t->ev, t->mem, fd, TEVENT_FD_READ, fd_ready,
			    &ready);
	assert_non_null(fde);
	assert_true(tu_loop_until(t->ev, &ready, TIMEOUT_MS));
	talloc_free(fde);
}

/* Read exactly len bytes from a raw socket, driving the loop meanwhile. */
static void raw_read(struct tu_ctx *t, int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		wait_readable(t, fd);
		n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			continue;
		}
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* Write len bytes to a raw socket that has room for them. */
static void raw_write(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	assert_int_equal(n, (ssize_t)len);
}

/*
 * A stream over one end of a unix socketpair made non-blocking here; the
 * other end stays a raw (blocking, close-on-exec) socket in *raw.
 */
static struct tstream_context *wrapped_pair(struct tu_ctx *t, int *raw)
{
	struct tstream_context *s = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	set_nonblock(sv[0]);
	if (tstream_bsd_existing_socket(t->mem, sv[0], &s) != 0) {
		int err = errno;

		close(sv[0]);
		close(sv[1]);
		fail_msg("tstream_bsd_existing_socket: %s", strerror(err));
	}
	assert_non_null(s);
	*raw = sv[1];
	return s;
}

static bool ipv6_usable(void)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd == -1) {
		return false;
	}
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

/*
 * A TCP socket bound to the loopback address of family on port 0; listening
 * unless listen_too is false.  The port the kernel chose goes to *port.
 */
static int inet_socket(int family, bool listen_too, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_int_not_equal(fd, -1);
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
					    &one, sizeof(one)), 0);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (listen_too) {
		assert_int_equal(listen(fd, 8), 0);
	}
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (family == AF_INET6) {
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	assert_int_not_equal(*port, 0);
	return fd;
}

/* Accept one connection on lfd once it is ready (bounded wait). */
static int accept_ready(struct tu_ctx *t, int lfd)
{
	int fd;

	wait_readable(t, lfd);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_int_not_equal(fd, -1);
	return fd;
}

/* The port of the peer of a connected inet socket. */
static uint16_t peer_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getpeername(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6) {
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * Start a TCP connect from the "any" address of fam to ip:port and wait
 * (at most ms) for it to finish.  Returns the request, which the caller
 * frees after calling the recv function of its choice.
 */
static struct tevent_req *tcp_connect_ms(struct tu_ctx *t, const char *fam,
					 const char *ip, uint16_t port,
					 int ms)
{
	struct tsocket_address *local = NULL, *remote = NULL;
	struct tevent_req *req;

	assert_int_equal(tsocket_address_inet_from_strings(t->mem, fam, NULL,
							   0, &local), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, fam, ip,
							   port, &remote), 0);
	req = tstream_inet_tcp_connect_send(t->mem, t->ev, local, remote);
	assert_non_null(req);
	/* the addresses may go away once the request exists */
	talloc_free(local);
	talloc_free(remote);
	wait_req_ms(t, req, ms);
	return req;
}

#define tcp_connect_start(t, fam, ip, port) \
	tcp_connect_ms(t, fam, ip, port, TIMEOUT_MS)

/* A connected TCP stream over IPv4 loopback; the accepted raw fd in *afd. */
static struct tstream_context *tcp_pair(struct tu_ctx *t, int *lfd, int *afd)
{
	struct tstream_context *s = NULL;
	struct tevent_req *req;
	uint16_t port;
	int ret, err = 0;

	*lfd = inet_socket(AF_INET, true, &port);
	req = tcp_connect_start(t, "ipv4", "127.0.0.1", port);
	ret = tstream_inet_tcp_connect_recv(req, &err, t->mem, &s);
	talloc_free(req);
	if (ret != 0) {
		fail_msg("tcp connect failed: %s", strerror(err));
	}
	assert_non_null(s);
	*afd = accept_ready(t, *lfd);
	return s;
}

static int unix_listener(const char *path, bool listen_too)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_int_not_equal(fd, -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listen_too) {
		assert_int_equal(listen(fd, 8), 0);
	}
	return fd;
}

/* Connect a unix stream (unbound local end) to path; ret and errno out. */
static int unix_connect(struct tu_ctx *t, const char *path,
			struct tstream_context **s, int *err)
{
	struct tsocket_address *local = NULL, *remote = NULL;
	struct tevent_req *req;
	int ret;

	assert_int_equal(tsocket_address_unix_from_path(t->mem, "", &local),
			 0);
	assert_int_equal(tsocket_address_unix_from_path(t->mem, path,
							&remote), 0);
	req = tstream_unix_connect_send(t->mem, t->ev, local, remote);
	assert_non_null(req);
	talloc_free(local);
	talloc_free(remote);
	wait_req(t, req);
	*err = 0;
	ret = tstream_unix_connect_recv(req, err, t->mem, s);
	talloc_free(req);
	return ret;
}

/* Send "ping" one way and "pong!" the other way between a and b. */
static void exchange(struct tu_ctx *t, struct tstream_context *a,
		     struct tstream_context *b)
{
	char buf[8];
	int err;

	assert_int_equal(do_writev(t, a, "ping", 4, &err), 4);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(do_readv(t, b, buf, 4, &err), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(do_writev(t, b, "pong!", 5, &err), 5);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(do_readv(t, a, buf, 5, &err), 5);
	assert_memory_equal(buf, "pong!", 5);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                         */
/* ------------------------------------------------------------------ */

/*
 * Shared body of the TCP connect tests: connect to a loopback listener,
 * check the result of the 4- or 5-argument recv call, and move bytes
 * both ways between the stream and the accepted (wrapped) connection.
 */
static void tcp_connect_case(struct tu_ctx *t, int family, bool five)
{
	const char *fam = family == AF_INET6 ? "ipv6" : "ipv4";
	const char *ip = family == AF_INET6 ? "::1" : "127.0.0.1";
	struct tstream_context *client = NULL, *server = NULL;
	struct tsocket_address *local = NULL;
	struct tevent_req *req;
	uint16_t port;
	char buf[8];
	ssize_t pending;
	int lfd, afd, ret, err = 0;

	if (family == AF_INET6 && !ipv6_usable()) {
		skip();
	}
	lfd = inet_socket(family, true, &port);
	req = tcp_connect_start(t, fam, ip, port);
	if (five) {
		ret = tstream_inet_tcp_connect_recv(req, &err, t->mem,
						    &client, &local);
	} else {
		ret = tstream_inet_tcp_connect_recv(req, &err, t->mem,
						    &client);
	}
	talloc_free(req);
	if (ret != 0) {
		fail_msg("connect to %s port %u: %s", ip, port,
			 strerror(err));
	}
	assert_non_null(client);
	assert_ptr_equal(talloc_parent(client), t->mem);

	afd = accept_ready(t, lfd);
	if (five) {
		char *addr;

		assert_non_null(local);
		assert_ptr_equal(talloc_parent(local), t->mem);
		assert_true(tsocket_address_is_inet(local, fam));
		assert_int_not_equal(tsocket_address_inet_port(local), 0);
		/* it is the address the server sees as its peer */
		assert_int_equal(tsocket_address_inet_port(local),
				 peer_port(afd));
		addr = tsocket_address_inet_addr_string(local, t->mem);
		assert_non_null(addr);
		assert_string_equal(addr, ip);
		talloc_free(addr);
		talloc_free(local);
	}
	assert_int_equal(tstream_bsd_existing_socket(t->mem, afd, &server),
			 0);

	/* pending_bytes on TCP: somewhere between 0 and what was sent */
	assert_int_equal(do_writev(t, client, "ping", 4, &err), 4);
	pending = tstream_pending_bytes(server);
	assert_true(pending >= 0 && pending <= 4);
	assert_int_equal(do_readv(t, server, buf, 4, &err), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(tstream_pending_bytes(server), 0);
	exchange(t, client, server);

	talloc_free(client);
	talloc_free(server);
	close(lfd);
}

/* Rule: TCP connect over IPv4 works with the guide's 4-argument recv. */
static void test_tcp_connect_ipv4_recv4(void **state)
{
	tcp_connect_case(*state, AF_INET, false);
}

/* Rule: the 5-argument recv also returns the local address (port != 0). */
static void test_tcp_connect_ipv4_recv5(void **state)
{
	tcp_connect_case(*state, AF_INET, true);
}

/* Rule: TCP connect over IPv6 works with the 4-argument recv. */
static void test_tcp_connect_ipv6_recv4(void **state)
{
	tcp_connect_case(*state, AF_INET6, false);
}

/* Rule: IPv6 with the 5-argument recv gives an ipv6 local address. */
static void test_tcp_connect_ipv6_recv5(void **state)
{
	tcp_connect_case(*state, AF_INET6, true);
}

/*
 * Rule (extension): the local address of a TCP connect is known as soon
 * as the request exists, before the connect completes; it is the address
 * the other end accepts from and the one the 5-argument recv returns.  A
 * connect that failed at once has none (EINVAL).
 */
static void test_tcp_connect_local_early(void **state)
{
	struct tu_ctx *t = *state;
	struct tsocket_address *local = NULL, *remote = NULL;
	struct tsocket_address *early = NULL, *final = NULL, *v6 = NULL;
	struct tstream_context *s = NULL;
	struct tevent_req *req;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port, early_port;
	int lfd, afd, err = 0;

	lfd = inet_socket(AF_INET, true, &port);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				NULL, 0, &local), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", port, &remote), 0);
	req = tstream_inet_tcp_connect_send(t->mem, t->ev, local, remote);
	assert_non_null(req);
	assert_int_equal(tstream_inet_tcp_connect_local(req, t->mem, &early),
			 0);
	early_port = tsocket_address_inet_port(early);
	assert_int_not_equal(early_port, 0);

	afd = accept_ready(t, lfd);
	assert_int_equal(getpeername(afd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port),
			 early_port);
	if (tevent_req_is_in_progress(req)) {	/* accept_ready loops too */
		wait_req_ms(t, req, TIMEOUT_MS);
	}
	assert_int_equal(tstream_inet_tcp_connect_recv(req, &err, t->mem, &s,
						       &final), 0);
	assert_int_equal(tsocket_address_inet_port(final), early_port);
	talloc_free(req);
	talloc_free(s);
	close(afd);
	close(lfd);

	/* an IPv6 source for an IPv4 target fails at once: no address */
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv6",
				"::1", 0, &v6), 0);
	req = tstream_inet_tcp_connect_send(t->mem, t->ev, v6, remote);
	assert_non_null(req);
	errno = 0;
	assert_int_equal(tstream_inet_tcp_connect_local(req, t->mem, &early),
			 -1);
	assert_int_equal(errno, EINVAL);
	talloc_free(req);
	talloc_free(local);
	talloc_free(remote);
	talloc_free(v6);
}

/*
 * Rule: connecting to a port where nobody listens fails with ECONNREFUSED
 * through the request, and leaves no socket behind.  The port is held
 * by a bound but not listening socket, so no other process can take it.
 */
static void test_tcp_connect_refused(void **state)
{
	struct tu_ctx *t = *state;
	int families[] = { AF_INET, AF_INET6 };
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		int family = families[i];
		struct tstream_context *s = NULL;
		struct tevent_req *req;
		uint16_t port;
		int fd, fds, ret, err = 0;

		if (family == AF_INET6 && !ipv6_usable()) {
			continue;
		}
		fd = inet_socket(family, false, &port);
		fds = tu_count_fds();
		req = tcp_connect_ms(t,
				family == AF_INET6 ? "ipv6" : "ipv4",
				family == AF_INET6 ? "::1" : "127.0.0.1",
				port, PROMPT_MS);
		ret = tstream_inet_tcp_connect_recv(req, &err, t->mem, &s);
		assert_int_equal(ret, -1);
		assert_int_equal(err, ECONNREFUSED);
		talloc_free(req);
		assert_int_equal(tu_count_fds(), fds);
		close(fd);
	}
}

/* Rule: tstream_unix_connect reaches a listening unix socket. */
static void test_unix_connect(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *client = NULL, *server = NULL;
	char *dir = tu_tmpdir(t->mem);
	char *path;
	int lfd, afd, err = 0;

	assert_non_null(dir);
	path = talloc_asprintf(t->mem, "%s/sock", dir);
	lfd = unix_listener(path, true);
	if (unix_connect(t, path, &client, &err) != 0) {
		fail_msg("unix connect: %s", strerror(err));
	}
	assert_non_null(client);
	assert_ptr_equal(talloc_parent(client), t->mem);
	afd = accept_ready(t, lfd);
	assert_int_equal(tstream_bsd_existing_socket(t->mem, afd, &server),
			 0);
	exchange(t, client, server);
	talloc_free(client);
	talloc_free(server);
	close(lfd);
	talloc_free(dir);
}

/* Rule: tstream_unix_connect to a path that does not exist -> ENOENT. */
static void test_unix_connect_enoent(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s = NULL;
	char *dir = tu_tmpdir(t->mem);
	char *path;
	int fds, err = 0;

	assert_non_null(dir);
	path = talloc_asprintf(t->mem, "%s/missing", dir);
	fds = tu_count_fds();
	assert_int_equal(unix_connect(t, path, &s, &err), -1);
	assert_int_equal(err, ENOENT);
	assert_int_equal(tu_count_fds(), fds);
	talloc_free(dir);
}

/* Rule: a unix socket file with nobody listening -> ECONNREFUSED. */
static void test_unix_connect_refused(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s = NULL;
	char *dir = tu_tmpdir(t->mem);
	char *path;
	int fd, err = 0;

	assert_non_null(dir);
	path = talloc_asprintf(t->mem, "%s/deaf", dir);
	fd = unix_listener(path, false);
	assert_int_equal(unix_connect(t, path, &s, &err), -1);
	assert_int_equal(err, ECONNREFUSED);
	close(fd);
	talloc_free(dir);
}

/*
 * Rule: tstream_unix_socketpair gives two connected streams, each on its
 * own talloc parent; freeing one is end of stream for the other.
 */
static void test_unix_socketpair(void **state)
{
	struct tu_ctx *t = *state;
	TALLOC_CTX *m1 = talloc_new(t->mem), *m2 = talloc_new(t->mem);
	struct tstream_context *s1 = NULL, *s2 = NULL;
	char c;
	int err;

	assert_int_equal(tstream_unix_socketpair(m1, &s1, m2, &s2), 0);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_ptr_equal(talloc_parent(s1), m1);
	assert_ptr_equal(talloc_parent(s2), m2);
	exchange(t, s1, s2);
	exchange(t, s2, s1);
	talloc_free(m1);
	assert_int_equal(do_readv(t, s2, &c, 1, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(m2);
}

/*
 * Rule: tstream_bsd_existing_socket wraps a non-blocking socket made by
 * the caller, and owns it: freeing the stream closes the fd.
 */
static void test_bsd_existing_socket(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s = NULL;
	int sv[2], err;
	char buf[4];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	set_nonblock(sv[0]);
	assert_int_equal(tstream_bsd_existing_socket(t->mem, sv[0], &s), 0);
	assert_non_null(s);

	raw_write(sv[1], "abc", 3);
	assert_int_equal(do_readv(t, s, buf, 3, &err), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(do_writev(t, s, "wxyz", 4, &err), 4);
	raw_read(t, sv[1], buf, 4);
	assert_memory_equal(buf, "wxyz", 4);

	talloc_free(s);
	errno = 0;
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	/* and the peer sees the end of the stream */
	assert_int_equal(recv(sv[1], buf, 1, MSG_DONTWAIT), 0);
	close(sv[1]);
}

/* ------------------------------------------------------------------ */
/* Moving data                                                        */
/* ------------------------------------------------------------------ */

#define BIG_TOTAL	(16u * 1024 * 1024)
#define BIG_WCHUNK	(64u * 1024)

static const size_t big_rsizes[] = { 1000, 70000, 1, 4093, 65537, 3 };
#define BIG_RMAX 70000

struct big_xfer {
	struct tevent_context *ev;
	struct tstream_context *w, *r;
	uint8_t *wbuf, *rbuf;
	struct iovec wiov, riov;
	size_t written, nread;
	unsigned nwrites, nreads;
	uint32_t wsum, rsum, rng;
	bool wdone, rdone, done;
	int werr, rerr;
};

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h = (h ^ p[i]) * 16777619u;
	}
	return h;
}

static void big_write_next(struct big_xfer *x);
static void big_read_next(struct big_xfer *x);

static void big_check_done(struct big_xfer *x)
{
	x->done = x->wdone && x->rdone;
}

static void big_write_done(struct tevent_req *req)
{
	struct big_xfer *x = tevent_req_callback_data(req, struct big_xfer);
	int ret = tstream_writev_recv(req, &x->werr);

	talloc_free(req);
	if (ret != (int)x->wiov.iov_len) {
		if (ret != -1) {
			x->werr = EIO;
		}
		x->wdone = x->rdone = true;
		big_check_done(x);
		return;
	}
	x->written += (size_t)ret;
	x->nwrites++;
	big_write_next(x);
}

static void big_write_next(struct big_xfer *x)
{
	struct tevent_req *req;
	size_t i;

	if (x->written == BIG_TOTAL) {
		x->wdone = true;
		big_check_done(x);
		return;
	}
	/* new pseudo-random content for every chunk (xorshift32) */
	for (i = 0; i < BIG_WCHUNK; i += 4) {
		x->rng ^= x->rng << 13;
		x->rng ^= x->rng >> 17;
		x->rng ^= x->rng << 5;
		memcpy(x->wbuf + i, &x->rng, 4);
	}
	x->wsum = fnv1a(x->wsum, x->wbuf, BIG_WCHUNK);
	x->wiov.iov_base = x->wbuf;
	x->wiov.iov_len = BIG_WCHUNK;
	req = tstream_writev_send(x, x->ev, x->w, &x->wiov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, big_write_done, x);
}

static void big_read_done(struct tevent_req *req)
{
	struct big_xfer *x = tevent_req_callback_data(req, struct big_xfer);
	int ret = tstream_readv_recv(req, &x->rerr);

	talloc_free(req);
	if (ret != (int)x->riov.iov_len) {
		if (ret != -1) {
			x->rerr = EIO;
		}
		x->wdone = x->rdone = true;
		big_check_done(x);
		return;
	}
	x->rsum = fnv1a(x->rsum, x->rbuf, (size_t)ret);
	x->nread += (size_t)ret;
	x->nreads++;
	big_read_next(x);
}

static void big_read_next(struct big_xfer *x)
{
	size_t want = big_rsizes[x->nreads %
				 (sizeof(big_rsizes) / sizeof(big_rsizes[0]))];
	struct tevent_req *req;

	if (x->nread == BIG_TOTAL) {
		x->rdone = true;
		big_check_done(x);
		return;
	}
	if (want > BIG_TOTAL - x->nread) {
		want = BIG_TOTAL - x->nread;
	}
	x->riov.iov_base = x->rbuf;
	x->riov.iov_len = want;
	req = tstream_readv_send(x, x->ev, x->r, &x->riov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, big_read_done, x);
}

/*
 * Rule: readv completes only when its buffer is full and writev only when
 * everything is written, whatever the socket does: 16 MiB in 64 KiB writes
 * read back in odd sizes (partial reads and writes on both sides), on one
 * loop, arrive complete and in order (same checksum).
 */
static void test_large_transfer(void **state)
{
	struct tu_ctx *t = *state;
	struct big_xfer *x = talloc_zero(t->mem, struct big_xfer);

	assert_non_null(x);
	x->ev = t->ev;
	x->wbuf = talloc_size(x, BIG_WCHUNK);
	x->rbuf = talloc_size(x, BIG_RMAX);
	assert_non_null(x->wbuf);
	assert_non_null(x->rbuf);
	x->rng = 2463534242u;
	x->wsum = x->rsum = 2166136261u;
	assert_int_equal(tstream_unix_socketpair(x, &x->w, x, &x->r), 0);

	big_read_next(x);
	big_write_next(x);
	assert_true(tu_loop_until(t->ev, &x->done, BIG_TIMEOUT_MS));
	assert_int_equal(x->werr, 0);
	assert_int_equal(x->rerr, 0);
	assert_int_equal(x->written, BIG_TOTAL);
	assert_int_equal(x->nread, BIG_TOTAL);
	assert_int_equal(x->nwrites, BIG_TOTAL / BIG_WCHUNK);
	assert_int_equal(x->rsum, x->wsum);
	assert_int_equal(tstream_pending_bytes(x->r), 0);
	talloc_free(x);
}

/*
 * Rule: readv fills every buffer of a multi-entry vector (zero-length
 * entries among non-empty ones are allowed) and completes only then,
 * with the total; the iovec array itself need not outlive the send call.
 */
static void test_readv_multi_vector(void **state)
{
	struct tu_ctx *t = *state;
	const char *msg = "abcdefghijklmnop";	/* 16 bytes */
	uint8_t a[3], b[1], c[5], d[7];
	struct iovec *iov = talloc_array(t->mem, struct iovec, 6);
	struct tstream_context *s;
	struct tevent_req *req;
	bool done = false;
	int raw, err = 0;

	assert_non_null(iov);
	s = wrapped_pair(t, &raw);
	iov[0] = (struct iovec){ .iov_base = a, .iov_len = sizeof(a) };
	iov[1] = (struct iovec){ .iov_base = b, .iov_len = sizeof(b) };
	iov[2] = (struct iovec){ .iov_base = d, .iov_len = 0 };
	iov[3] = (struct iovec){ .iov_base = c, .iov_len = sizeof(c) };
	iov[4] = (struct iovec){ .iov_base = d, .iov_len = sizeof(d) };
	iov[5] = (struct iovec){ .iov_base = a, .iov_len = 0 };
	req = tstream_readv_send(t->mem, t->ev, s, iov, 6);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	/* the array may go now: only the buffers must stay */
	memset(iov, 0xff, 6 * sizeof(*iov));
	talloc_free(iov);

	raw_write(raw, msg, 5);
	assert_false(tu_loop_until(t->ev, &done, 50));
	raw_write(raw, msg + 5, 5);
	assert_false(tu_loop_until(t->ev, &done, 50));
	raw_write(raw, msg + 10, 6);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(req, &err), 16);
	talloc_free(req);
	assert_memory_equal(a, msg, 3);
	assert_memory_equal(b, msg + 3, 1);
	assert_memory_equal(c, msg + 4, 5);
	assert_memory_equal(d, msg + 9, 7);
	talloc_free(s);
	close(raw);
}

/* Rule: writev writes every buffer of a multi-entry vector, in order. */
static void test_writev_multi_vector(void **state)
{
	struct tu_ctx *t = *state;
	struct iovec *iov = talloc_array(t->mem, struct iovec, 4);
	struct tstream_context *s;
	struct tevent_req *req;
	char buf[12];
	int raw, err = 0;

	assert_non_null(iov);
	s = wrapped_pair(t, &raw);
	iov[0] = (struct iovec){ .iov_base = discard_const("hel"),
				 .iov_len = 3 };
	iov[1] = (struct iovec){ .iov_base = discard_const("x"),
				 .iov_len = 0 };
	iov[2] = (struct iovec){ .iov_base = discard_const("lo, "),
				 .iov_len = 4 };
	iov[3] = (struct iovec){ .iov_base = discard_const("world"),
				 .iov_len = 5 };
	req = tstream_writev_send(t->mem, t->ev, s, iov, 4);
	assert_non_null(req);
	talloc_free(iov);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), 12);
	talloc_free(req);
	raw_read(t, raw, buf, 12);
	assert_memory_equal(buf, "hello, world", 12);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: at end of stream, bytes that arrived before it are delivered
 * first; only the next read fails, with EPIPE (and keeps failing).
 */
static void test_eof_after_data(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	char buf[10];
	int raw, err;

	s = wrapped_pair(t, &raw);
	raw_write(raw, "0123456789", 10);
	close(raw);
	assert_int_equal(do_readv(t, s, buf, 10, &err), 10);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(do_readv(t, s, buf, 1, &err), -1);
	assert_int_equal(err, EPIPE);
	assert_int_equal(do_readv(t, s, buf, 1, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(s);
}

/* Rule: a read that end of stream leaves unfilled fails with EPIPE. */
static void test_eof_short_read(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	char buf[20];
	int raw, err;

	s = wrapped_pair(t, &raw);
	raw_write(raw, "0123456789", 10);
	shutdown(raw, SHUT_WR);
	assert_int_equal(do_readv(t, s, buf, 20, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(s);
	close(raw);
}

static void sigpipe_default(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, NULL), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
}

/* SIGPIPE is still at its default, unblocked and not pending. */
static void assert_sigpipe_untouched(void)
{
	struct sigaction sa;
	sigset_t set;

	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &set), 0);
	assert_false(sigismember(&set, SIGPIPE));
	assert_int_equal(sigpending(&set), 0);
	assert_false(sigismember(&set, SIGPIPE));
}

/*
 * Rule: writev to a unix peer that has gone fails with EPIPE or
 * ECONNRESET and never raises SIGPIPE (which is left at its default
 * disposition, so a raised SIGPIPE would kill this test program).
 */
static void test_writev_closed_peer_unix(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	char buf[100];
	int raw, err, i;

	sigpipe_default();
	memset(buf, 'x', sizeof(buf));
	s = wrapped_pair(t, &raw);
	close(raw);
	for (i = 0; i < 2; i++) {
		assert_int_equal(do_writev(t, s, buf, sizeof(buf), &err), -1);
		assert_true(err == EPIPE || err == ECONNRESET);
	}
	assert_sigpipe_untouched();
	talloc_free(s);
}

/* Rule: the same over TCP, where the failure shows on a later write. */
static void test_writev_closed_peer_tcp(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	uint8_t *buf = talloc_zero_size(t->mem, BIG_WCHUNK);
	int lfd, afd, i, ret = 0, err = 0;

	assert_non_null(buf);
	sigpipe_default();
	s = tcp_pair(t, &lfd, &afd);
	close(afd);
	close(lfd);
	/* bounded: 512 * 64 KiB is far more than any socket buffer */
	for (i = 0; i < 512; i++) {
		ret = do_writev(t, s, buf, BIG_WCHUNK, &err);
		if (ret == -1) {
			break;
		}
		assert_int_equal(ret, BIG_WCHUNK);
	}
	assert_int_equal(ret, -1);
	assert_true(err == EPIPE || err == ECONNRESET);
	assert_sigpipe_untouched();
	talloc_free(s);
	talloc_free(buf);
}

#define MIB (1024u * 1024)

/*
 * Start a writev of size bytes on s that cannot finish (nobody reads),
 * make sure it is waiting, then close the peer's fd: the writev must then
 * fail with EPIPE or ECONNRESET, without SIGPIPE.
 */
static void writev_blocked_then_peer_gone(struct tu_ctx *t,
					  struct tstream_context *s,
					  int peer_fd, size_t size)
{
	uint8_t *big = talloc_zero_size(t->mem, size);
	struct tevent_req *req;
	struct iovec iov;
	bool done = false;
	int err = 0;

	assert_non_null(big);
	sigpipe_default();
	iov = (struct iovec){ .iov_base = big, .iov_len = size };
	req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_false(tu_loop_until(t->ev, &done, 50));
	/* the peer goes with unread data: TCP answers with a reset */
	close(peer_fd);
	if (!tu_loop_until(t->ev, &done, PROMPT_MS)) {
		fail_msg("pending writev still waiting %d ms after the peer "
			 "closed", PROMPT_MS);
	}
	assert_int_equal(tstream_writev_recv(req, &err), -1);
	assert_true(err == EPIPE || err == ECONNRESET);
	assert_sigpipe_untouched();
	talloc_free(req);
	talloc_free(big);
}

/* Rule: a writev waiting for room fails when the unix peer closes. */
static void test_writev_blocked_peer_closes_unix(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int raw;

	s = wrapped_pair(t, &raw);
	writev_blocked_then_peer_gone(t, s, raw, MIB);
	talloc_free(s);
}

/* Rule: a writev waiting for room fails when the TCP peer resets. */
static void test_writev_blocked_peer_closes_tcp(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int lfd, afd, small = 4096;

	s = tcp_pair(t, &lfd, &afd);
	close(lfd);
	/* a small receive buffer, and more than the largest send buffer */
	assert_int_equal(setsockopt(afd, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	writev_blocked_then_peer_gone(t, s, afd, 16 * MIB);
	talloc_free(s);
}

/* ------------------------------------------------------------------ */
/* One request per direction, disconnect                              */
/* ------------------------------------------------------------------ */

/*
 * Rule: a second readv while one is pending fails with EBUSY, through its
 * request; the first one is untouched and still completes.
 */
static void test_readv_ebusy(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *r1, *r2;
	struct iovec iov1, iov2;
	char b1[4], b2[4];
	bool done1 = false;
	int raw, err = 0;

	s = wrapped_pair(t, &raw);
	iov1 = (struct iovec){ .iov_base = b1, .iov_len = sizeof(b1) };
	iov2 = (struct iovec){ .iov_base = b2, .iov_len = sizeof(b2) };
	r1 = tstream_readv_send(t->mem, t->ev, s, &iov1, 1);
	assert_non_null(r1);
	tevent_req_set_callback(r1, tu_set_done, &done1);
	r2 = tstream_readv_send(t->mem, t->ev, s, &iov2, 1);
	assert_non_null(r2);
	wait_req(t, r2);
	assert_int_equal(tstream_readv_recv(r2, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(r2);
	assert_false(done1);
	assert_true(tevent_req_is_in_progress(r1));

	raw_write(raw, "data", 4);
	assert_true(tu_loop_until(t->ev, &done1, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(r1, &err), 4);
	assert_memory_equal(b1, "data", 4);
	talloc_free(r1);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: a second writev while one is pending fails with EBUSY; the first
 * still completes whole.  A readv in the other direction is not busy.
 */
static void test_writev_ebusy(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	uint8_t *big = talloc_size(t->mem, MIB);
	uint8_t *back = talloc_size(t->mem, MIB);
	struct tevent_req *w1, *w2, *r1;
	struct iovec iov1, iov2, iovr;
	bool wdone = false, rdone = false;
	char c = 0;
	int err = 0;
	size_t i;

	assert_non_null(big);
	assert_non_null(back);
	for (i = 0; i < MIB; i++) {
		big[i] = (uint8_t)(i * 7 + (i >> 10));
	}
	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	iov1 = (struct iovec){ .iov_base = big, .iov_len = MIB };
	w1 = tstream_writev_send(t->mem, t->ev, s1, &iov1, 1);
	assert_non_null(w1);
	tevent_req_set_callback(w1, tu_set_done, &wdone);
	iov2 = (struct iovec){ .iov_base = discard_const("x"), .iov_len = 1 };
	w2 = tstream_writev_send(t->mem, t->ev, s1, &iov2, 1);
	assert_non_null(w2);
	wait_req(t, w2);
	assert_int_equal(tstream_writev_recv(w2, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(w2);
	/* 1 MiB does not fit in a socket buffer nobody reads */
	assert_false(wdone);

	/* the read direction is free */
	iovr = (struct iovec){ .iov_base = &c, .iov_len = 1 };
	r1 = tstream_readv_send(t->mem, t->ev, s1, &iovr, 1);
	assert_non_null(r1);
	tevent_req_set_callback(r1, tu_set_done, &rdone);

	assert_int_equal(do_readv(t, s2, back, MIB, &err), (int)MIB);
	assert_true(tu_loop_until(t->ev, &wdone, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(w1, &err), (int)MIB);
	talloc_free(w1);
	assert_memory_equal(back, big, MIB);

	assert_int_equal(do_writev(t, s2, "!", 1, &err), 1);
	assert_true(tu_loop_until(t->ev, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(r1, &err), 1);
	assert_int_equal(c, '!');
	talloc_free(r1);
	talloc_free(s1);
	talloc_free(s2);
	talloc_free(big);
	talloc_free(back);
}

/*
 * Rule: disconnect while a readv or a writev is pending fails with EBUSY
 * and leaves the stream and the pending request working.
 */
static void test_disconnect_ebusy(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	uint8_t *big = talloc_zero_size(t->mem, MIB);
	struct tevent_req *r, *w, *d;
	struct iovec iov, wiov;
	bool rdone = false;
	char buf[4];
	int err = 0;

	assert_non_null(big);
	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	iov = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
	r = tstream_readv_send(t->mem, t->ev, s1, &iov, 1);
	assert_non_null(r);
	tevent_req_set_callback(r, tu_set_done, &rdone);
	d = tstream_disconnect_send(t->mem, t->ev, s1);
	wait_req(t, d);
	assert_int_equal(tstream_disconnect_recv(d, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(d);
	assert_false(rdone);
	assert_int_equal(do_writev(t, s2, "abcd", 4, &err), 4);
	assert_true(tu_loop_until(t->ev, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(r, &err), 4);
	assert_memory_equal(buf, "abcd", 4);
	talloc_free(r);

	/* now with a writev that cannot finish */
	wiov = (struct iovec){ .iov_base = big, .iov_len = MIB };
	w = tstream_writev_send(t->mem, t->ev, s1, &wiov, 1);
	assert_non_null(w);
	d = tstream_disconnect_send(t->mem, t->ev, s1);
	wait_req(t, d);
	assert_int_equal(tstream_disconnect_recv(d, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(d);
	assert_true(tevent_req_is_in_progress(w));
	talloc_free(w);

	/* nothing pending any more: disconnect works */
	assert_int_equal(do_disconnect(t, s1, &err), 0);
	talloc_free(s1);
	talloc_free(s2);
	talloc_free(big);
}

/*
 * Rule: after a disconnect the socket is closed (the peer sees EOF) and
 * readv, writev, pending_bytes and disconnect fail with ENOTCONN.
 */
static void test_after_disconnect(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	char buf[4];
	int raw, fds, err = 0;

	s = wrapped_pair(t, &raw);
	fds = tu_count_fds();
	assert_int_equal(do_disconnect(t, s, &err), 0);
	assert_int_equal(tu_count_fds(), fds - 1);
	assert_int_equal(recv(raw, buf, 1, MSG_DONTWAIT), 0);

	assert_int_equal(do_readv(t, s, buf, 1, &err), -1);
	assert_int_equal(err, ENOTCONN);
	assert_int_equal(do_writev(t, s, "a", 1, &err), -1);
	assert_int_equal(err, ENOTCONN);
	errno = 0;
	assert_int_equal(tstream_pending_bytes(s), -1);
	assert_int_equal(errno, ENOTCONN);
	assert_int_equal(do_disconnect(t, s, &err), -1);
	assert_int_equal(err, ENOTCONN);
	talloc_free(s);
	close(raw);
}

/* ------------------------------------------------------------------ */
/* Vector checks                                                      */
/* ------------------------------------------------------------------ */

static void expect_readv_error(struct tu_ctx *t, struct tstream_context *s,
			       struct iovec *iov, size_t count, int expected)
{
	struct tevent_req *req;
	int err = 0;

	req = tstream_readv_send(t->mem, t->ev, s, iov, count);
	assert_non_null(req);
	wait_req(t, req);
	assert_int_equal(tstream_readv_recv(req, &err), -1);
	assert_int_equal(err, expected);
	talloc_free(req);
}

static void expect_writev_error(struct tu_ctx *t, struct tstream_context *s,
				struct iovec *iov, size_t count, int expected)
{
	struct tevent_req *req;
	int err = 0;

	req = tstream_writev_send(t->mem, t->ev, s, iov, count);
	assert_non_null(req);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), -1);
	assert_int_equal(err, expected);
	talloc_free(req);
}

static void expect_vector_error(struct tu_ctx *t, struct tstream_context *s,
				struct iovec *iov, size_t count, int expected)
{
	expect_readv_error(t, s, iov, count, expected);
	expect_writev_error(t, s, iov, count, expected);
}

/*
 * Rule: bad vectors fail through the request (send never returns NULL):
 * count 0 or all-zero lengths -> EINVAL; more than IOV_MAX entries, or
 * lengths whose sum passes INT_MAX or wraps around SIZE_MAX -> EMSGSIZE.
 * The failed requests leave the stream usable.
 */
static void test_vector_errors(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	struct iovec iov[3], *many;
	uint8_t byte = 0;
	size_t i;

	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	for (i = 0; i < 3; i++) {
		iov[i].iov_base = &byte;
		iov[i].iov_len = 0;
	}
	expect_vector_error(t, s1, iov, 0, EINVAL);
	expect_vector_error(t, s1, NULL, 0, EINVAL);
	expect_vector_error(t, s1, iov, 1, EINVAL);
	expect_vector_error(t, s1, iov, 3, EINVAL);

	many = talloc_array(t->mem, struct iovec, IOV_MAX + 1);
	assert_non_null(many);
	for (i = 0; i < IOV_MAX + 1; i++) {
		many[i].iov_base = &byte;
		many[i].iov_len = 1;
	}
	expect_vector_error(t, s1, many, IOV_MAX + 1, EMSGSIZE);
	talloc_free(many);

	iov[0].iov_len = INT_MAX;
	iov[1].iov_len = 1;
	expect_vector_error(t, s1, iov, 2, EMSGSIZE);
	iov[0].iov_len = (size_t)INT_MAX / 2 + 1;
	iov[1].iov_len = (size_t)INT_MAX / 2 + 1;
	expect_vector_error(t, s1, iov, 2, EMSGSIZE);
	iov[0].iov_len = SIZE_MAX;
	iov[1].iov_len = 2;		/* wraps to 1 */
	expect_vector_error(t, s1, iov, 2, EMSGSIZE);
	iov[0].iov_len = SIZE_MAX / 2 + 1;
	iov[1].iov_len = SIZE_MAX / 2 + 1;	/* wraps to 0 */
	expect_vector_error(t, s1, iov, 2, EMSGSIZE);
	iov[0].iov_len = SIZE_MAX;
	iov[1].iov_len = 0;
	expect_vector_error(t, s1, iov, 2, EMSGSIZE);

	/* no slot was left taken by the failed requests */
	exchange(t, s1, s2);
	talloc_free(s1);
	talloc_free(s2);
}

/* ------------------------------------------------------------------ */
/* pending_bytes, cancel, free                                        */
/* ------------------------------------------------------------------ */

/*
 * Rule: tstream_pending_bytes reports the unread bytes: 0 at first, then
 * between 0 and N after the peer wrote N (exactly N on a socketpair once
 * they are there), less after a read, and the rest after the peer left.
 */
static void test_pending_bytes(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	uint8_t buf[100];
	ssize_t n;
	int err;

	memset(buf, 'p', sizeof(buf));
	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	assert_int_equal(tstream_pending_bytes(s2), 0);
	assert_int_equal(do_writev(t, s1, buf, 100, &err), 100);
	n = tstream_pending_bytes(s2);
	assert_true(n >= 0 && n <= 100);
	assert_int_equal(n, 100);
	assert_int_equal(do_readv(t, s2, buf, 30, &err), 30);
	assert_int_equal(tstream_pending_bytes(s2), 70);
	talloc_free(s1);
	assert_int_equal(tstream_pending_bytes(s2), 70);
	assert_int_equal(do_readv(t, s2, buf, 70, &err), 70);
	n = tstream_pending_bytes(s2);
	assert_int_equal(n, 0);
	talloc_free(s2);
}

struct fired {
	bool fired;
};

static void set_fired(struct tevent_req *req)
{
	struct fired *f = tevent_req_callback_data_void(req);

	f->fired = true;
}

/*
 * Rule: freeing a pending readv cancels it: its callback never fires, it
 * consumes nothing, and a new readv gets the data.
 */
static void test_cancel_readv(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct fired f = { false };
	struct tevent_req *req;
	struct iovec iov;
	char buf[5], other[5];
	int raw, err;

	s = wrapped_pair(t, &raw);
	iov = (struct iovec){ .iov_base = other, .iov_len = sizeof(other) };
	req = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, set_fired, &f);
	/* let it get going (and wait on the socket) */
	assert_false(tu_loop_until(t->ev, &f.fired, 20));
	talloc_free(req);

	raw_write(raw, "hello", 5);
	assert_int_equal(do_readv(t, s, buf, 5, &err), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_false(f.fired);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: freeing a pending writev cancels it: a new writev is not EBUSY,
 * and none of the cancelled bytes (which had not been sent) show up.
 */
static void test_cancel_writev(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct fired f = { false };
	struct tevent_req *req;
	struct iovec iov;
	uint8_t *fill = talloc_zero_size(t->mem, BIG_WCHUNK);
	char buf[10];
	size_t filled = 0, drained = 0;
	bool done = false;
	int sv[2], err = 0;

	assert_non_null(fill);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	set_nonblock(sv[0]);
	/* fill the socket up so that the next write has to wait */
	for (;;) {
		ssize_t n = send(sv[0], fill, BIG_WCHUNK, MSG_DONTWAIT);

		if (n == -1) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			break;
		}
		filled += (size_t)n;
		assert_true(filled < 64 * MIB);
	}
	assert_int_equal(tstream_bsd_existing_socket(t->mem, sv[0], &s), 0);

	iov = (struct iovec){ .iov_base = discard_const("AAAAAAAAAA"),
			      .iov_len = 10 };
	req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, set_fired, &f);
	assert_false(tu_loop_until(t->ev, &f.fired, 20));
	talloc_free(req);

	iov = (struct iovec){ .iov_base = discard_const("BBBBBBBBBB"),
			      .iov_len = 10 };
	req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	while (drained < filled) {
		size_t want = filled - drained;

		if (want > BIG_WCHUNK) {
			want = BIG_WCHUNK;
		}
		raw_read(t, sv[1], fill, want);
		drained += want;
	}
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(req, &err), 10);
	talloc_free(req);
	raw_read(t, sv[1], buf, 10);
	assert_memory_equal(buf, "BBBBBBBBBB", 10);
	assert_int_equal(recv(sv[1], buf, 1, MSG_DONTWAIT), -1);
	assert_false(f.fired);
	talloc_free(s);
	close(sv[1]);
	talloc_free(fill);
}

/*
 * Rule: freeing a stream with a readv and a writev pending is safe: the
 * socket is closed, the callbacks never fire, and the requests can still
 * be freed afterwards.
 */
static void test_free_stream_with_pending(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	uint8_t *big = talloc_zero_size(t->mem, MIB);
	struct fired fr = { false }, fw = { false };
	struct tevent_req *r, *w;
	struct iovec riov, wiov;
	char buf[4];
	int fds, err;

	assert_non_null(big);
	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	riov = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
	r = tstream_readv_send(t->mem, t->ev, s1, &riov, 1);
	assert_non_null(r);
	tevent_req_set_callback(r, set_fired, &fr);
	wiov = (struct iovec){ .iov_base = big, .iov_len = MIB };
	w = tstream_writev_send(t->mem, t->ev, s1, &wiov, 1);
	assert_non_null(w);
	tevent_req_set_callback(w, set_fired, &fw);
	assert_false(tu_loop_until(t->ev, &fr.fired, 20));

	fds = tu_count_fds();
	talloc_free(s1);
	assert_int_equal(tu_count_fds(), fds - 1);
	/* wake the old socket's side up: the peer writes and reads */
	(void)do_writev(t, s2, "wake", 4, &err);
	assert_false(tu_loop_until(t->ev, &fr.fired, 50));
	assert_false(fr.fired);
	assert_false(fw.fired);
	talloc_free(r);
	talloc_free(w);
	talloc_free(s2);
	talloc_free(big);
}

/* ------------------------------------------------------------------ */
/* No spinning on a half-closed peer                                  */
/* ------------------------------------------------------------------ */

/*
 * Make the stream wait in both directions once (a readv started before
 * its data, a writev of wsize bytes larger than the socket buffers), so
 * that it has watched its fd both ways; then let the peer go (shutdown or
 * close).  With no request pending the loop must stay asleep.  The next
 * read still sees the end of stream, and the loop is quiet afterwards.
 */
static void idle_after_peer_gone(struct tu_ctx *t, struct tstream_context *s,
				 int raw, bool do_close, size_t wsize)
{
	uint8_t *big = talloc_size(t->mem, wsize);
	uint8_t *back = talloc_size(t->mem, wsize);
	struct tevent_req *req;
	struct iovec iov;
	bool done = false;
	char buf[3];
	unsigned events;
	int err = 0;

	assert_non_null(big);
	assert_non_null(back);
	memset(big, 'w', wsize);

	iov = (struct iovec){ .iov_base = buf, .iov_len = 3 };
	req = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_false(tu_loop_until(t->ev, &done, 20));
	raw_write(raw, "abc", 3);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(req, &err), 3);
	assert_memory_equal(buf, "abc", 3);
	talloc_free(req);

	done = false;
	iov = (struct iovec){ .iov_base = big, .iov_len = wsize };
	req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_false(tu_loop_until(t->ev, &done, 20));
	raw_read(t, raw, back, wsize);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(req, &err), (int)wsize);
	assert_memory_equal(back, big, wsize);
	talloc_free(req);

	if (do_close) {
		close(raw);
	} else {
		assert_int_equal(shutdown(raw, SHUT_WR), 0);
	}
	/* once at most: to drop the read interest the last read left */
	events = tu_loop_count_events(t->ev, 200);
	if (events > 1) {
		fail_msg("idle stream woke the loop %u times in 200 ms",
			 events);
	}
	assert_int_equal(do_readv(t, s, buf, 1, &err), -1);
	assert_int_equal(err, EPIPE);
	events = tu_loop_count_events(t->ev, 100);
	if (events != 0) {
		fail_msg("stream at EOF woke the loop %u times in 100 ms",
			 events);
	}
	talloc_free(big);
	talloc_free(back);
}

/* Rule: no CPU spin when the peer did shutdown(SHUT_WR). */
static void test_no_spin_peer_shutdown(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int raw;

	s = wrapped_pair(t, &raw);
	idle_after_peer_gone(t, s, raw, false, MIB);
	talloc_free(s);
	close(raw);
}

/* Rule: no CPU spin when the peer closed its end. */
static void test_no_spin_peer_closed(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int raw;

	s = wrapped_pair(t, &raw);
	idle_after_peer_gone(t, s, raw, true, MIB);
	talloc_free(s);
}

/* Rule: no CPU spin on a TCP stream whose peer closed. */
static void test_no_spin_tcp_peer_closed(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int lfd, afd;

	s = tcp_pair(t, &lfd, &afd);
	close(lfd);
	/*
	 * More than the largest send buffer and the receive window of a
	 * socket nobody reads.  (A tiny receive buffer would make the
	 * transfer crawl on persist timers.)
	 */
	idle_after_peer_gone(t, s, afd, true, 16 * MIB);
	talloc_free(s);
}

/* ------------------------------------------------------------------ */
/* File descriptors                                                   */
/* ------------------------------------------------------------------ */

/*
 * Rule: streams close their sockets when freed or disconnected: the
 * number of open fds is the same after creating and freeing streams of
 * every kind (and after failed connects).
 */
static void test_fd_count(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	char *dir = tu_tmpdir(t->mem);
	char *path;
	int before, lfd, afd, raw, err = 0;

	assert_non_null(dir);
	path = talloc_asprintf(t->mem, "%s/sock", dir);
	before = tu_count_fds();
	assert_true(before > 0);

	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	assert_int_equal(tu_count_fds(), before + 2);
	talloc_free(s1);
	talloc_free(s2);
	assert_int_equal(tu_count_fds(), before);

	s1 = tcp_pair(t, &lfd, &afd);
	assert_int_equal(tstream_bsd_existing_socket(t->mem, afd, &s2), 0);
	exchange(t, s1, s2);
	talloc_free(s1);
	talloc_free(s2);
	close(lfd);
	assert_int_equal(tu_count_fds(), before);

	lfd = unix_listener(path, true);
	assert_int_equal(unix_connect(t, path, &s1, &err), 0);
	afd = accept_ready(t, lfd);
	close(afd);
	close(lfd);
	talloc_free(s1);
	assert_int_equal(tu_count_fds(), before);

	unlink(path);
	assert_int_equal(unix_connect(t, path, &s1, &err), -1);
	assert_int_equal(tu_count_fds(), before);

	s1 = wrapped_pair(t, &raw);
	assert_int_equal(do_disconnect(t, s1, &err), 0);
	close(raw);
	assert_int_equal(tu_count_fds(), before);
	talloc_free(s1);
	assert_int_equal(tu_count_fds(), before);
	talloc_free(dir);
}

#define MAX_FDS 1024

static void fd_snapshot(bool open_fds[MAX_FDS])
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	memset(open_fds, 0, MAX_FDS * sizeof(bool));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (de->d_name[0] == '.') {
			continue;
		}
		fd = atoi(de->d_name);
		if (fd == dirfd(d)) {
			continue;	/* our own directory stream */
		}
		if (fd >= 0 && fd < MAX_FDS) {
			open_fds[fd] = true;
		}
	}
	closedir(d);
}

/*
 * Check every socket opened since the snapshot: it must be non-blocking
 * and close-on-exec.  Returns how many there are.
 */
static unsigned check_new_sockets(const bool before[MAX_FDS])
{
	bool now[MAX_FDS];
	unsigned n = 0;
	int fd;

	fd_snapshot(now);
	for (fd = 0; fd < MAX_FDS; fd++) {
		struct stat st;
		int fl, fdfl;

		if (!now[fd] || before[fd]) {
			continue;
		}
		if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
			continue;	/* e.g. the directory stream's fd */
		}
		fl = fcntl(fd, F_GETFL);
		fdfl = fcntl(fd, F_GETFD);
		if (fl == -1 || !(fl & O_NONBLOCK)) {
			fail_msg("socket fd %d is blocking", fd);
		}
		if (fdfl == -1 || !(fdfl & FD_CLOEXEC)) {
			fail_msg("socket fd %d is not close-on-exec", fd);
		}
		n++;
	}
	return n;
}

/*
 * Rule: the sockets the library creates (socketpair, TCP connect, unix
 * connect) are non-blocking and close-on-exec.
 */
static void test_nonblock_cloexec(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	struct tevent_req *req;
	bool *before = talloc_array(t->mem, bool, MAX_FDS);
	char *dir = tu_tmpdir(t->mem);
	char *path;
	uint16_t port;
	int lfd, afd, err = 0;

	assert_non_null(before);
	assert_non_null(dir);

	fd_snapshot(before);
	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	assert_int_equal(check_new_sockets(before), 2);
	talloc_free(s1);
	talloc_free(s2);

	lfd = inet_socket(AF_INET, true, &port);
	fd_snapshot(before);
	req = tcp_connect_start(t, "ipv4", "127.0.0.1", port);
	assert_int_equal(tstream_inet_tcp_connect_recv(req, &err, t->mem,
						       &s1), 0);
	talloc_free(req);
	assert_int_equal(check_new_sockets(before), 1);
	afd = accept_ready(t, lfd);
	close(afd);
	close(lfd);
	talloc_free(s1);

	path = talloc_asprintf(t->mem, "%s/sock", dir);
	lfd = unix_listener(path, true);
	fd_snapshot(before);
	assert_int_equal(unix_connect(t, path, &s1, &err), 0);
	assert_int_equal(check_new_sockets(before), 1);
	afd = accept_ready(t, lfd);
	close(afd);
	close(lfd);
	talloc_free(s1);
	talloc_free(dir);
	talloc_free(before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
		T(test_tcp_connect_ipv4_recv4),
		T(test_tcp_connect_ipv4_recv5),
		T(test_tcp_connect_ipv6_recv4),
		T(test_tcp_connect_ipv6_recv5),
		T(test_tcp_connect_local_early),
	T(test_tcp_connect_refused),
		T(test_unix_connect),
		T(test_unix_connect_enoent),
		T(test_unix_connect_refused),
		T(test_unix_socketpair),
		T(test_bsd_existing_socket),
		T(test_large_transfer),
		T(test_readv_multi_vector),
		T(test_writev_multi_vector),
		T(test_eof_after_data),
		T(test_eof_short_read),
		T(test_writev_closed_peer_unix),
		T(test_writev_closed_peer_tcp),
		T(test_writev_blocked_peer_closes_unix),
		T(test_writev_blocked_peer_closes_tcp),
		T(test_readv_ebusy),
		T(test_writev_ebusy),
		T(test_disconnect_ebusy),
		T(test_after_disconnect),
		T(test_vector_errors),
		T(test_pending_bytes),
		T(test_cancel_readv),
		T(test_cancel_writev),
		T(test_free_stream_with_pending),
		T(test_no_spin_peer_shutdown),
		T(test_no_spin_peer_closed),
		T(test_no_spin_tcp_peer_closed),
		T(test_fd_count),
		T(test_nonblock_cloexec),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
