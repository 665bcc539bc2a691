/*
 * test_dgram.c - unit tests of the libtsocket datagram API
 *
 * Real sockets on loopback only: UDP over 127.0.0.1 and ::1, unix
 * datagram sockets in a private temporary directory, and socketpairs
 * wrapped with tdgram_bsd_existing_socket().  Where a test needs a peer
 * whose address it knows, the peer is a plain BSD socket made here.
 * Every event loop is bounded by tu_loop_until() and every wait on a
 * plain socket by poll() with a timeout, so no test can hang.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "test_util.h"

/* How long to wait for something that must happen. */
#define LOOP_MS		2000
/* How long to watch for something that must not happen. */
#define QUIET_MS	100
/*
 * Seconds a whole test may take before SIGALRM kills the program: the
 * event loops are bounded, but a socket wrongly left blocking would hang
 * in a system call.
 */
#define WATCHDOG_S	20
/* Datagram size used to fill a socket buffer. */
#define FILL_LEN	1024
/* Upper bound on the datagrams sent to fill a socket buffer. */
#define FILL_MAX	10000

/* ------------------------------------------------------------------ */
/* Fixture                                                            */
/* ------------------------------------------------------------------ */

struct tctx {
	TALLOC_CTX *mem;		/* everything a test allocates */
	struct tevent_context *ev;
	int fds_at_start;
};

static int setup(void **state)
{
	struct tctx *t = talloc_zero(NULL, struct tctx);

	if (t == NULL) {
		return -1;
	}
	t->fds_at_start = tu_count_fds();
	t->mem = talloc_new(t);
	if (t->mem == NULL) {
		talloc_free(t);
		return -1;
	}
	t->ev = tevent_context_init(t->mem);
	if (t->ev == NULL) {
		talloc_free(t);
		return -1;
	}
	*state = t;
	alarm(WATCHDOG_S);
	return 0;
}

/* Frees everything the test made and checks that no fd was left open. */
static int teardown(void **state)
{
	struct tctx *t = *state;
	int start = t->fds_at_start;
	int now;

	alarm(0);
	talloc_free(t->mem);
	now = tu_count_fds();
	talloc_free(t);
	assert_int_equal(now, start);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Plain sockets and raw addresses                                    */
/* ------------------------------------------------------------------ */

struct raw_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* A plain fd, closed when the talloc object is freed (unless fd < 0). */
struct plain {
	int fd;
	struct raw_addr name;	/* the address it is bound to, if any */
};

static int plain_destructor(struct plain *p)
{
	if (p->fd >= 0) {
		close(p->fd);
	}
	return 0;
}

static struct plain *plain_wrap(TALLOC_CTX *mem, int fd)
{
	struct plain *p = talloc_zero(mem, struct plain);

	if (p == NULL) {
		close(fd);
	}
	assert_non_null(p);
	p->fd = fd;
	talloc_set_destructor(p, plain_destructor);
	return p;
}

static uint16_t raw_port(const struct raw_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	}
	assert_int_equal(a->ss.ss_family, AF_INET6);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

/* The numeric IP of an inet raw address, in a static buffer. */
static const char *raw_ip(const struct raw_addr *a)
{
	static char ip[INET6_ADDRSTRLEN];
	const void *src;

	if (a->ss.ss_family == AF_INET) {
		src = &((const struct sockaddr_in *)&a->ss)->sin_addr;
	} else {
		src = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	}
	assert_non_null(inet_ntop(a->ss.ss_family, src, ip, sizeof(ip)));
	return ip;
}

/*
 * The string tsocket_address_string() must give for a raw address,
 * worked out here without the library.
 */
static char *raw_string(TALLOC_CTX *mem, const struct raw_addr *a)
{
	char *s;

	switch (a->ss.ss_family) {
	case AF_INET:
		s = talloc_asprintf(mem, "ipv4:%s:%u", raw_ip(a),
				    (unsigned)raw_port(a));
		break;
	case AF_INET6:
		s = talloc_asprintf(mem, "ipv6:%s:%u", raw_ip(a),
				    (unsigned)raw_port(a));
		break;
	default:
		assert_int_equal(a->ss.ss_family, AF_UNIX);
		s = talloc_asprintf(mem, "unix:%s",
			((const struct sockaddr_un *)&a->ss)->sun_path);
		break;
	}
	assert_non_null(s);
	return s;
}

static struct tsocket_address *tsa_inet(TALLOC_CTX *mem, const char *ip,
					uint16_t port)
{
	struct tsocket_address *a = NULL;
	int ret;

	ret = tsocket_address_inet_from_strings(mem, "ip", ip, port, &a);
	assert_int_equal(ret, 0);
	assert_non_null(a);
	return a;
}

static struct tsocket_address *tsa_unix(TALLOC_CTX *mem, const char *path)
{
	struct tsocket_address *a = NULL;
	int ret;

	ret = tsocket_address_unix_from_path(mem, path, &a);
	assert_int_equal(ret, 0);
	assert_non_null(a);
	return a;
}

/* A library address for a raw inet address (built from its strings). */
static struct tsocket_address *tsa_from_raw(TALLOC_CTX *mem,
					    const struct raw_addr *a)
{
	return tsa_inet(mem, raw_ip(a), raw_port(a));
}

static char *addr_str(TALLOC_CTX *mem, const struct tsocket_address *a)
{
	char *s;

	assert_non_null(a);
	s = tsocket_address_string(a, mem);
	assert_non_null(s);
	return s;
}

/* True if this host can bind a UDP socket to ::1. */
static bool have_ipv6(void)
{
	struct sockaddr_in6 sin6;
	int fd, ret;

	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0) {
		return false;
	}
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ret = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	close(fd);
	return ret == 0;
}

/* A plain non-blocking UDP socket bound to the loopback address, port 0. */
static struct plain *plain_udp(TALLOC_CTX *mem, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct plain *p;
	int fd, ret;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	p = plain_wrap(mem, fd);
	ret = bind(fd, (struct sockaddr *)&ss, len);
	assert_int_equal(ret, 0);
	p->name.len = sizeof(p->name.ss);
	ret = getsockname(fd, (struct sockaddr *)&p->name.ss, &p->name.len);
	assert_int_equal(ret, 0);
	assert_true(raw_port(&p->name) != 0);
	return p;
}

/* A plain non-blocking unix datagram socket bound to path. */
static struct plain *plain_unix(TALLOC_CTX *mem, const char *path)
{
	struct sockaddr_un *sun;
	struct plain *p;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	p = plain_wrap(mem, fd);
	sun = (struct sockaddr_un *)&p->name.ss;
	sun->sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun->sun_path));
	strcpy(sun->sun_path, path);
	p->name.len = sizeof(*sun);
	ret = bind(fd, (struct sockaddr *)sun, sizeof(*sun));
	assert_int_equal(ret, 0);
	return p;
}

/* Wait (bounded) for one datagram on a plain socket and read it. */
static ssize_t plain_recv(int fd, void *buf, size_t size,
			  struct raw_addr *from)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct raw_addr dummy;
	ssize_t n;
	int ret;

	if (from == NULL) {
		from = &dummy;
	}
	ret = poll(&pfd, 1, LOOP_MS);
	assert_int_equal(ret, 1);
	memset(from, 0, sizeof(*from));
	from->len = sizeof(from->ss);
	n = recvfrom(fd, buf, size, MSG_DONTWAIT,
		     (struct sockaddr *)&from->ss, &from->len);
	assert_true(n >= 0);
	return n;
}

/* Nothing arrives on a plain socket for QUIET_MS. */
static void plain_quiet(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, QUIET_MS), 0);
}

static void plain_sendto(int fd, const void *buf, size_t len,
			 const struct raw_addr *to)
{
	ssize_t n;

	n = sendto(fd, buf, len, 0, (const struct sockaddr *)&to->ss,
		   to->len);
	assert_int_equal(n, len);
}

/* Read and count every datagram waiting on a plain socket. */
static unsigned plain_drain(int fd, size_t expect_len)
{
	uint8_t buf[FILL_LEN * 2];
	unsigned count = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		assert_int_equal(n, expect_len);
		count++;
		assert_true(count <= FILL_MAX);
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return count;
}

/* The open fds of this process, without the one used to list them. */
static int list_fds(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < max) {
		int fd;

		if (de->d_name[0] == '.') {
			continue;
		}
		fd = atoi(de->d_name);
		if (fd == dirfd(d)) {
			continue;
		}
		fds[n++] = fd;
	}
	closedir(d);
	return n;
}

/* The only fd in after[] that is not in before[] (asserts there is one). */
static int new_fd(const int *before, int nb, const int *after, int na)
{
	int found = -1;
	int i, j;

	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++) {
			if (after[i] == before[j]) {
				break;
			}
		}
		if (j == nb) {
			assert_int_equal(found, -1);
			found = after[i];
		}
	}
	assert_true(found >= 0);
	return found;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		buf[i] = (uint8_t)(i * 31 + seed + (i >> 8));
	}
}

/* ------------------------------------------------------------------ */
/* Bounded loops                                                      */
/* ------------------------------------------------------------------ */

struct quiet {
	bool stop;		/* set by our own timer */
	unsigned loops;		/* tevent_loop_once() iterations */
};

static void quiet_timer(struct tevent_context *ev, struct tevent_timer *te,
			struct timeval now, void *private_data)
{
	struct quiet *q = private_data;

	(void)ev;
	(void)te;
	(void)now;
	q->stop = true;
}

static void quiet_trace(enum tevent_trace_point tp, void *private_data)
{
	struct quiet *q = private_data;

	if (tp == TEVENT_TRACE_BEFORE_LOOP_ONCE) {
		q->loops++;
	}
}

/*
 * Run the loop for ms, whatever completes meanwhile, and return how many
 * times it went round (our own timer's wake-up included).  The end is a
 * timer of our own that makes tu_loop_until() succeed, so these "nothing
 * must happen" checks never depend on tu_loop_until() timing out.
 */
static unsigned run_quiet(struct tctx *t, int ms)
{
	struct quiet q = { .stop = false, .loops = 0 };
	tevent_trace_callback_t old_cb = NULL;
	void *old_priv = NULL;
	struct tevent_timer *te;

	te = tevent_add_timer(t->ev, t->mem,
			      tevent_timeval_current_ofs(ms / 1000,
					(ms % 1000) * 1000),
			      quiet_timer, &q);
	assert_non_null(te);
	tevent_get_trace_callback(t->ev, &old_cb, &old_priv);
	tevent_set_trace_callback(t->ev, quiet_trace, &q);
	tu_loop_until(t->ev, &q.stop, ms + LOOP_MS);
	tevent_set_trace_callback(t->ev, old_cb, old_priv);
	if (!q.stop) {
		talloc_free(te);	/* it has not fired: still ours */
	}
	assert_true(q.stop);
	return q.loops;
}

/* Run the loop until *done or about ms have passed; returns *done. */
static bool run_until(struct tctx *t, const bool *done, int ms)
{
	int waited;

	for (waited = 0; waited < ms && !*done; waited += 10) {
		run_quiet(t, 10);
	}
	return *done;
}

/* ------------------------------------------------------------------ */
/* Library helpers                                                    */
/* ------------------------------------------------------------------ */

/* A UDP context bound to ip port 0, connected to remote if not NULL. */
static struct tdgram_context *udp_new(struct tctx *t, const char *ip,
				      const struct tsocket_address *remote)
{
	struct tsocket_address *local = tsa_inet(t->mem, ip, 0);
	struct tdgram_context *dg = NULL;
	int ret;

	ret = tdgram_inet_udp_socket(local, remote, t->mem, &dg);
	assert_int_equal(ret, 0);
	assert_non_null(dg);
	/* the context must not depend on the addresses it was made from */
	talloc_free(local);
	return dg;
}

static struct tdgram_context *unix_new(struct tctx *t, const char *path,
				       const struct tsocket_address *remote)
{
	struct tsocket_address *local = tsa_unix(t->mem, path);
	struct tdgram_context *dg = NULL;
	int ret;

	ret = tdgram_unix_socket(local, remote, t->mem, &dg);
	assert_int_equal(ret, 0);
	assert_non_null(dg);
	talloc_free(local);
	return dg;
}

/*
 * A socketpair: one end wrapped with tdgram_bsd_existing_socket(), the
 * other a plain socket in *peer.  sndbuf > 0 shrinks the wrapped end's
 * send buffer so that it fills quickly.
 */
static struct tdgram_context *pair_new(struct tctx *t, struct plain **peer,
				       int sndbuf, int *wrapped_fd)
{
	struct tdgram_context *dg = NULL;
	int sv[2];
	int ret;

	ret = socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0, sv);
	assert_int_equal(ret, 0);
	*peer = plain_wrap(t->mem, sv[1]);
	if (sndbuf > 0) {
		ret = setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
				 sizeof(sndbuf));
		assert_int_equal(ret, 0);
	}
	ret = tdgram_bsd_existing_socket(t->mem, sv[0], &dg);
	if (ret != 0) {
		close(sv[0]);
	}
	assert_int_equal(ret, 0);
	assert_non_null(dg);
	if (wrapped_fd != NULL) {
		*wrapped_fd = sv[0];
	}
	return dg;
}

/* Run one tdgram_sendto to completion; returns its result. */
static ssize_t dg_send(struct tctx *t, struct tdgram_context *dg,
		       const void *buf, size_t len,
		       const struct tsocket_address *dst, int *perr)
{
	struct tevent_req *req;
	bool done = false;
	ssize_t n;

	*perr = 0;
	req = tdgram_sendto_send(t->mem, t->ev, dg, buf, len, dst);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	n = tdgram_sendto_recv(req, perr);
	talloc_free(req);
	return n;
}

/* Run one tdgram_recvfrom to completion; buf and src go on mem. */
static ssize_t dg_recv(struct tctx *t, TALLOC_CTX *mem,
		       struct tdgram_context *dg, uint8_t **buf,
		       struct tsocket_address **src, int *perr)
{
	struct tevent_req *req;
	bool done = false;
	ssize_t n;

	*perr = 0;
	req = tdgram_recvfrom_send(t->mem, t->ev, dg);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	n = tdgram_recvfrom_recv(req, perr, mem, buf, src);
	talloc_free(req);
	return n;
}

/*
 * Send len bytes from `from` to `to` (dst NULL on a connected socket)
 * with a receive pending on `to`, check both results and the data, and
 * return the source address the receive reported (on t->mem).
 */
static struct tsocket_address *xfer(struct tctx *t,
				    struct tdgram_context *from,
				    struct tdgram_context *to,
				    size_t len, unsigned seed,
				    const struct tsocket_address *dst)
{
	struct tevent_req *rreq, *sreq;
	bool rdone = false, sdone = false;
	struct tsocket_address *src = NULL;
	uint8_t *out, *in = NULL;
	ssize_t n;
	int err;

	out = talloc_size(t->mem, len);
	assert_non_null(out);
	fill_pattern(out, len, seed);

	rreq = tdgram_recvfrom_send(t->mem, t->ev, to);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	sreq = tdgram_sendto_send(t->mem, t->ev, from, out, len, dst);
	assert_non_null(sreq);
	tevent_req_set_callback(sreq, tu_set_done, &sdone);

	assert_true(tu_loop_until(t->ev, &sdone, LOOP_MS));
	err = 0;
	n = tdgram_sendto_recv(sreq, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, len);
	talloc_free(sreq);

	assert_true(tu_loop_until(t->ev, &rdone, LOOP_MS));
	err = 0;
	n = tdgram_recvfrom_recv(rreq, &err, t->mem, &in, &src);
	assert_int_equal(err, 0);
	assert_int_equal(n, len);
	assert_non_null(in);
	assert_memory_equal(in, out, len);
	assert_non_null(src);
	talloc_free(rreq);
	talloc_free(in);
	talloc_free(out);
	return src;
}

/*
 * A UDP context A on the loopback of family and a plain peer P.  With
 * connect, A is connected to P.  A sends one datagram to P so that the
 * test learns A's address (*a_raw), which the library cannot report.
 */
static struct tdgram_context *udp_with_peer(struct tctx *t, int family,
					    bool connect, struct plain **pp,
					    struct raw_addr *a_raw)
{
	const char *lo = family == AF_INET ? "127.0.0.1" : "::1";
	struct tsocket_address *paddr;
	struct tdgram_context *dg;
	struct plain *p;
	uint8_t buf[16];
	ssize_t n;
	int err;

	p = plain_udp(t->mem, family);
	paddr = tsa_from_raw(t->mem, &p->name);
	dg = udp_new(t, lo, connect ? paddr : NULL);

	n = dg_send(t, dg, "hello", 5, connect ? NULL : paddr, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 5);
	n = plain_recv(p->fd, buf, sizeof(buf), a_raw);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(a_raw->ss.ss_family, family);
	assert_string_equal(raw_ip(a_raw), lo);
	assert_true(raw_port(a_raw) != 0);

	talloc_free(paddr);
	*pp = p;
	return dg;
}

/*
 * Fill dg's socket (whose peer never reads) with FILL_LEN datagrams until
 * one sendto stays pending; return that request, whose callback sets
 * *done.  *nsent counts the datagrams that did go out.
 */
static struct tevent_req *stuck_sendto(struct tctx *t,
				       struct tdgram_context *dg,
				       bool *done, unsigned *nsent)
{
	static uint8_t fill[FILL_LEN];
	struct tevent_req *req;
	unsigned i;
	ssize_t n;
	int err;

	memset(fill, 'F', sizeof(fill));
	*nsent = 0;
	for (i = 0; i < FILL_MAX; i++) {
		*done = false;
		req = tdgram_sendto_send(t->mem, t->ev, dg, fill, FILL_LEN,
					 NULL);
		assert_non_null(req);
		tevent_req_set_callback(req, tu_set_done, done);
		if (!run_until(t, done, QUIET_MS)) {
			return req;
		}
		err = 0;
		n = tdgram_sendto_recv(req, &err);
		assert_int_equal(err, 0);
		assert_int_equal(n, FILL_LEN);
		talloc_free(req);
		(*nsent)++;
	}
	fail_msg("the socket buffer never filled up");
	return NULL;
}

/* ------------------------------------------------------------------ */
/* UDP                                                                */
/* ------------------------------------------------------------------ */

/*
 * Rule: an unconnected UDP socket sends to dst, and recvfrom returns the
 * data with the sender's address; that address works as a dst.
 */
static void udp_unconnected(struct tctx *t, int family)
{
	struct tdgram_context *a, *b;
	struct tsocket_address *src = NULL, *a_addr;
	struct raw_addr a_raw, b_raw;
	struct plain *p, *p2;
	uint8_t *buf = NULL;
	ssize_t n;
	int err;

	a = udp_with_peer(t, family, false, &p, &a_raw);

	/* plain peer -> A: data and source (the peer) */
	plain_sendto(p->fd, "world", 5, &a_raw);
	n = dg_recv(t, t->mem, a, &buf, &src, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "world", 5);
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &p->name));
	assert_int_equal(tsocket_address_inet_port(src),
			 raw_port(&p->name));
	assert_true(tsocket_address_is_inet(src,
				family == AF_INET ? "ipv4" : "ipv6"));
	talloc_free(buf);
	talloc_free(src);

	/* a second library socket B learns its own address through P */
	b = udp_with_peer(t, family, false, &p2, &b_raw);

	/* B -> A with dst; A sees B as the source */
	a_addr = tsa_from_raw(t->mem, &a_raw);
	src = xfer(t, b, a, 100, 1, a_addr);
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &b_raw));

	/* A answers B using the source address it was given */
	src = xfer(t, a, b, 200, 2, src);
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &a_raw));

	/* nothing else went to the plain peers */
	plain_quiet(p->fd);
	plain_quiet(p2->fd);
	talloc_free(a);
	talloc_free(b);
}

/* Rule: UDP over IPv4, unconnected: sendto with dst, recvfrom with src. */
static void test_udp4_unconnected(void **state)
{
	udp_unconnected(*state, AF_INET);
}

/* Rule: UDP over IPv6, unconnected: sendto with dst, recvfrom with src. */
static void test_udp6_unconnected(void **state)
{
	if (!have_ipv6()) {
		skip();
	}
	udp_unconnected(*state, AF_INET6);
}

/*
 * Rule: a connected UDP socket (remote given) sends with dst NULL to its
 * peer, and only receives from that peer.
 */
static void udp_connected(struct tctx *t, int family)
{
	struct tdgram_context *a;
	struct tsocket_address *src = NULL;
	struct raw_addr a_raw, from;
	struct plain *p, *q;
	uint8_t *buf = NULL;
	uint8_t pbuf[16];
	ssize_t n;
	int err;

	a = udp_with_peer(t, family, true, &p, &a_raw);

	/* a second send with dst NULL also reaches the peer */
	n = dg_send(t, a, "again", 5, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 5);
	n = plain_recv(p->fd, pbuf, sizeof(pbuf), &from);
	assert_int_equal(n, 5);
	assert_memory_equal(pbuf, "again", 5);
	assert_int_equal(raw_port(&from), raw_port(&a_raw));

	/* a stranger's datagram is dropped by the connected socket */
	q = plain_udp(t->mem, family);
	plain_sendto(q->fd, "stranger", 8, &a_raw);
	plain_sendto(p->fd, "peer", 4, &a_raw);

	n = dg_recv(t, t->mem, a, &buf, &src, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "peer", 4);
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &p->name));
	talloc_free(buf);
	talloc_free(src);
	talloc_free(a);
}

/* Rule: connected UDP over IPv4 (remote given, dst NULL). */
static void test_udp4_connected(void **state)
{
	udp_connected(*state, AF_INET);
}

/* Rule: connected UDP over IPv6 (remote given, dst NULL). */
static void test_udp6_connected(void **state)
{
	if (!have_ipv6()) {
		skip();
	}
	udp_connected(*state, AF_INET6);
}

/* Rule: a non-zero port in local is the port the socket is bound to. */
static void test_udp4_fixed_local_port(void **state)
{
	struct tctx *t = *state;
	struct tsocket_address *local, *paddr;
	struct tdgram_context *dg = NULL;
	struct plain *p, *probe;
	struct raw_addr from;
	uint16_t port;
	uint8_t buf[8];
	ssize_t n;
	int ret, err;

	/* find a free port by binding a plain socket and closing it */
	probe = plain_udp(t->mem, AF_INET);
	port = raw_port(&probe->name);
	talloc_free(probe);

	p = plain_udp(t->mem, AF_INET);
	paddr = tsa_from_raw(t->mem, &p->name);
	local = tsa_inet(t->mem, "127.0.0.1", port);
	ret = tdgram_inet_udp_socket(local, NULL, t->mem, &dg);
	assert_int_equal(ret, 0);

	n = dg_send(t, dg, "port", 4, paddr, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 4);
	n = plain_recv(p->fd, buf, sizeof(buf), &from);
	assert_int_equal(n, 4);
	assert_int_equal(raw_port(&from), port);
	talloc_free(dg);
}

/*
 * Rule: IPv6 UDP sockets are IPv6-only: an IPv4 datagram to the same
 * port is not received, and an IPv4 socket can bind that port.
 */
static void test_udp6_v6only(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a, *b = NULL;
	struct tsocket_address *paddr, *local4;
	struct plain *p, *p4;
	struct raw_addr a_raw, to4;
	struct tevent_req *rreq;
	bool rdone = false;
	uint8_t buf[8];
	ssize_t n;
	int ret, err;

	if (!have_ipv6()) {
		skip();
	}
	a = udp_new(t, "::", NULL);
	p = plain_udp(t->mem, AF_INET6);
	paddr = tsa_from_raw(t->mem, &p->name);
	n = dg_send(t, a, "v6", 2, paddr, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 2);
	n = plain_recv(p->fd, buf, sizeof(buf), &a_raw);
	assert_int_equal(n, 2);

	rreq = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);

	/* an IPv4 datagram to 127.0.0.1:<A's port> must not reach A */
	p4 = plain_udp(t->mem, AF_INET);
	memset(&to4, 0, sizeof(to4));
	((struct sockaddr_in *)&to4.ss)->sin_family = AF_INET;
	((struct sockaddr_in *)&to4.ss)->sin_addr.s_addr =
		htonl(INADDR_LOOPBACK);
	((struct sockaddr_in *)&to4.ss)->sin_port = htons(raw_port(&a_raw));
	to4.len = sizeof(struct sockaddr_in);
	plain_sendto(p4->fd, "v4", 2, &to4);
	run_quiet(t, QUIET_MS);
	assert_false(rdone);
	talloc_free(rreq);

	/* and the IPv4 side of the port is still free */
	local4 = tsa_inet(t->mem, "127.0.0.1", raw_port(&a_raw));
	ret = tdgram_inet_udp_socket(local4, NULL, t->mem, &b);
	assert_int_equal(ret, 0);
	talloc_free(b);
	talloc_free(a);
}

/*
 * Rule: tdgram_inet_udp_socket() fails with EINVAL for a non-inet or
 * mismatched address and leaks no fd doing so; tdgram_unix_socket()
 * refuses an inet address.
 */
static void test_bad_addresses(void **state)
{
	struct tctx *t = *state;
	struct tsocket_address *v4, *v4r, *v6, *ux;
	struct tdgram_context *dg = NULL;
	int before = tu_count_fds();
	int ret;

	v4 = tsa_inet(t->mem, "127.0.0.1", 0);
	v4r = tsa_inet(t->mem, "127.0.0.1", 9);
	v6 = tsa_inet(t->mem, "::1", 9);
	ux = tsa_unix(t->mem, "/nonexistent/x.sock");

	errno = 0;
	ret = tdgram_inet_udp_socket(ux, NULL, t->mem, &dg);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	ret = tdgram_inet_udp_socket(v4, ux, t->mem, &dg);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	ret = tdgram_inet_udp_socket(v4, v6, t->mem, &dg);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	ret = tdgram_unix_socket(v4, NULL, t->mem, &dg);
	assert_int_equal(ret, -1);
	assert_int_not_equal(errno, 0);

	errno = 0;
	ret = tdgram_unix_socket(tsa_unix(t->mem, ""), v4r, t->mem, &dg);
	assert_int_equal(ret, -1);
	assert_int_not_equal(errno, 0);

	assert_int_equal(tu_count_fds(), before);
}

/*
 * Rule: recvfrom's buf and src are talloc children of the mem_ctx given
 * to tdgram_recvfrom_recv(), so they outlive the request and the context.
 */
static void test_recv_talloc_parents(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tsocket_address *src = NULL;
	struct tevent_req *req;
	struct raw_addr a_raw;
	TALLOC_CTX *reqctx, *rctx;
	struct plain *p;
	uint8_t *buf = NULL;
	bool done = false;
	ssize_t n;
	int err = 0;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	reqctx = talloc_new(t->mem);
	rctx = talloc_new(t->mem);

	req = tdgram_recvfrom_send(reqctx, t->ev, a);
	assert_non_null(req);
	assert_ptr_equal(talloc_parent(req), reqctx);
	tevent_req_set_callback(req, tu_set_done, &done);
	plain_sendto(p->fd, "parent", 6, &a_raw);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));

	n = tdgram_recvfrom_recv(req, &err, rctx, &buf, &src);
	assert_int_equal(err, 0);
	assert_int_equal(n, 6);
	assert_non_null(buf);
	assert_non_null(src);
	assert_ptr_equal(talloc_parent(buf), rctx);
	assert_ptr_equal(talloc_parent(src), rctx);

	/* both stay valid after the request and the context are gone */
	talloc_free(reqctx);
	talloc_free(a);
	assert_memory_equal(buf, "parent", 6);
	assert_string_equal(addr_str(rctx, src),
			    raw_string(rctx, &p->name));
	talloc_free(rctx);
}

/* Rule: tdgram_recvfrom_recv() accepts NULL for buf and for src. */
static void test_recv_null_outputs(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tsocket_address *src = NULL;
	struct raw_addr a_raw;
	struct plain *p;
	uint8_t *buf = NULL;
	ssize_t n;
	int err;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);

	plain_sendto(p->fd, "one", 3, &a_raw);
	n = dg_recv(t, t->mem, a, NULL, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 3);

	plain_sendto(p->fd, "four", 4, &a_raw);
	n = dg_recv(t, t->mem, a, &buf, NULL, &err);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "four", 4);

	plain_sendto(p->fd, "fifth", 5, &a_raw);
	n = dg_recv(t, t->mem, a, NULL, &src, &err);
	assert_int_equal(n, 5);
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &p->name));
	talloc_free(buf);
	talloc_free(src);
	talloc_free(a);
}

static const size_t test_sizes[] = {
	1, 2, 3, 100, 511, 512, 1400, 1472, 1473, 1500, 4096, 8191,
	16384, 32768, 60000, 65000,
};

/*
 * Rule: datagrams of every size up to 65000 bytes arrive whole and
 * unchanged, one datagram per recvfrom, over UDP.
 */
static void test_udp_sizes(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a, *b;
	struct tsocket_address *a_addr, *b_addr, *src;
	struct raw_addr a_raw, b_raw;
	struct plain *p;
	size_t i;

	a = udp_with_peer(t, AF_INET, false, &p, &a_raw);
	b = udp_with_peer(t, AF_INET, false, &p, &b_raw);
	a_addr = tsa_from_raw(t->mem, &a_raw);
	b_addr = tsa_from_raw(t->mem, &b_raw);

	for (i = 0; i < sizeof(test_sizes) / sizeof(test_sizes[0]); i++) {
		src = xfer(t, a, b, test_sizes[i], i, b_addr);
		assert_int_equal(tsocket_address_inet_port(src),
				 raw_port(&a_raw));
		talloc_free(src);
		src = xfer(t, b, a, test_sizes[i], i + 100, a_addr);
		assert_int_equal(tsocket_address_inet_port(src),
				 raw_port(&b_raw));
		talloc_free(src);
	}
	talloc_free(a);
	talloc_free(b);
}

/*
 * Rule: several datagrams waiting in the socket come out one per
 * recvfrom, in order, with their own lengths.
 */
static void test_udp_several_waiting(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct raw_addr a_raw;
	struct plain *p;
	uint8_t msg[8];
	uint8_t *buf = NULL;
	ssize_t n;
	int i, err;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	for (i = 0; i < 5; i++) {
		memset(msg, 'a' + i, sizeof(msg));
		plain_sendto(p->fd, msg, (size_t)i + 1, &a_raw);
	}
	for (i = 0; i < 5; i++) {
		n = dg_recv(t, t->mem, a, &buf, NULL, &err);
		assert_int_equal(err, 0);
		assert_int_equal(n, i + 1);
		memset(msg, 'a' + i, sizeof(msg));
		assert_memory_equal(buf, msg, (size_t)i + 1);
		talloc_free(buf);
		buf = NULL;
	}
	talloc_free(a);
}

/*
 * Rule: a connected UDP socket whose peer port is closed reports
 * ECONNREFUSED through recvfrom or sendto.
 */
static void udp_connrefused(struct tctx *t, int family)
{
	const char *lo = family == AF_INET ? "127.0.0.1" : "::1";
	struct tsocket_address *closed;
	struct tdgram_context *a;
	struct tevent_req *rreq;
	struct plain *probe;
	bool rdone = false, got = false;
	ssize_t n;
	int i, err;

	probe = plain_udp(t->mem, family);
	closed = tsa_from_raw(t->mem, &probe->name);
	talloc_free(probe);	/* nothing listens on that port now */

	a = udp_new(t, lo, closed);
	rreq = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);

	for (i = 0; i < 3 && !got; i++) {
		n = dg_send(t, a, "knock", 5, NULL, &err);
		if (n == -1) {
			assert_int_equal(err, ECONNREFUSED);
			got = true;
			break;
		}
		assert_int_equal(n, 5);
		if (run_until(t, &rdone, 500)) {
			err = 0;
			n = tdgram_recvfrom_recv(rreq, &err, t->mem, NULL,
						 NULL);
			assert_int_equal(n, -1);
			assert_int_equal(err, ECONNREFUSED);
			got = true;
		}
	}
	assert_true(got);
	talloc_free(rreq);
	talloc_free(a);
}

/* Rule: connected UDP to a closed IPv4 port gives ECONNREFUSED. */
static void test_udp4_connrefused(void **state)
{
	udp_connrefused(*state, AF_INET);
}

/* Rule: connected UDP to a closed IPv6 port gives ECONNREFUSED. */
static void test_udp6_connrefused(void **state)
{
	if (!have_ipv6()) {
		skip();
	}
	udp_connrefused(*state, AF_INET6);
}

/* ------------------------------------------------------------------ */
/* Unix datagram sockets                                              */
/* ------------------------------------------------------------------ */

/*
 * Rule: unconnected unix datagram sockets bound in a directory send with
 * dst; recvfrom reports the sender's path, which works as a dst.
 */
static void test_unix_unconnected(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	char *pa, *pb;
	struct tdgram_context *a, *b;
	struct tsocket_address *b_addr, *src;
	char *path;

	assert_non_null(dir);
	pa = talloc_asprintf(t->mem, "%s/a.sock", dir);
	pb = talloc_asprintf(t->mem, "%s/b.sock", dir);
	a = unix_new(t, pa, NULL);
	b = unix_new(t, pb, NULL);
	/* binding created the socket files */
	assert_int_equal(access(pa, F_OK), 0);
	assert_int_equal(access(pb, F_OK), 0);

	b_addr = tsa_unix(t->mem, pb);
	src = xfer(t, a, b, 10, 1, b_addr);
	assert_true(tsocket_address_is_unix(src));
	path = tsocket_address_unix_path(src, t->mem);
	assert_non_null(path);
	assert_string_equal(path, pa);
	assert_string_equal(addr_str(t->mem, src),
			    talloc_asprintf(t->mem, "unix:%s", pa));

	/* answer to the reported source */
	src = xfer(t, b, a, 20, 2, src);
	assert_string_equal(addr_str(t->mem, src),
			    talloc_asprintf(t->mem, "unix:%s", pb));
	talloc_free(a);
	talloc_free(b);
	/* the socket file is the caller's to remove: still there */
	assert_int_equal(access(pa, F_OK), 0);
}

/*
 * Rule: a unix datagram socket given a remote is connected to it and
 * sends with dst NULL; the peer's answer comes back with its path.
 */
static void test_unix_connected(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	char *pa, *pb;
	struct tdgram_context *a, *b;
	struct tsocket_address *src, *b_addr;

	assert_non_null(dir);
	pa = talloc_asprintf(t->mem, "%s/a.sock", dir);
	pb = talloc_asprintf(t->mem, "%s/b.sock", dir);
	b = unix_new(t, pb, NULL);
	b_addr = tsa_unix(t->mem, pb);
	a = unix_new(t, pa, b_addr);

	src = xfer(t, a, b, 33, 3, NULL);
	assert_string_equal(addr_str(t->mem, src),
			    talloc_asprintf(t->mem, "unix:%s", pa));
	src = xfer(t, b, a, 44, 4, src);
	assert_string_equal(addr_str(t->mem, src),
			    talloc_asprintf(t->mem, "unix:%s", pb));
	talloc_free(a);
	talloc_free(b);
}

/*
 * Rule: an empty local path leaves a unix datagram socket unbound; it
 * can still send to a connected peer, which receives the data from an
 * (unnamed) unix address.
 */
static void test_unix_unbound_sender(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	char *pb;
	struct tdgram_context *a, *b;
	struct tsocket_address *src, *b_addr;

	assert_non_null(dir);
	pb = talloc_asprintf(t->mem, "%s/b.sock", dir);
	b = unix_new(t, pb, NULL);
	b_addr = tsa_unix(t->mem, pb);
	a = unix_new(t, "", b_addr);

	src = xfer(t, a, b, 5, 5, NULL);
	assert_true(tsocket_address_is_unix(src));
	assert_true(strncmp(addr_str(t->mem, src), "unix:", 5) == 0);
	talloc_free(a);
	talloc_free(b);
}

/* Rule: unix datagrams of every size up to 65000 bytes arrive whole. */
static void test_unix_sizes(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	char *pa, *pb;
	struct tdgram_context *a, *b;
	struct tsocket_address *a_addr, *b_addr, *src;
	size_t i;

	assert_non_null(dir);
	pa = talloc_asprintf(t->mem, "%s/a.sock", dir);
	pb = talloc_asprintf(t->mem, "%s/b.sock", dir);
	a = unix_new(t, pa, NULL);
	b = unix_new(t, pb, NULL);
	a_addr = tsa_unix(t->mem, pa);
	b_addr = tsa_unix(t->mem, pb);

	for (i = 0; i < sizeof(test_sizes) / sizeof(test_sizes[0]); i++) {
		src = xfer(t, a, b, test_sizes[i], i, b_addr);
		talloc_free(src);
		src = xfer(t, b, a, test_sizes[i], i + 50, a_addr);
		talloc_free(src);
	}
	talloc_free(a);
	talloc_free(b);
}

/*
 * Rule: tdgram_unix_socket() with a remote path that does not exist
 * fails with connect(2)'s error (ENOENT) and leaks no fd.
 */
static void test_unix_missing_remote(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	struct tsocket_address *local, *remote;
	struct tdgram_context *dg = NULL;
	int before = tu_count_fds();
	int ret;

	assert_non_null(dir);
	local = tsa_unix(t->mem, "");
	remote = tsa_unix(t->mem,
			  talloc_asprintf(t->mem, "%s/missing.sock", dir));
	errno = 0;
	ret = tdgram_unix_socket(local, remote, t->mem, &dg);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tu_count_fds(), before);
}

/*
 * Rule: a sendto that the kernel refuses (unix path that does not exist)
 * fails through the request with sendto(2)'s error, and the context
 * stays usable.
 */
static void test_unix_sendto_missing_path(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	char *pa, *pb;
	struct tdgram_context *a, *b;
	struct tsocket_address *missing, *src;
	ssize_t n;
	int err;

	assert_non_null(dir);
	pa = talloc_asprintf(t->mem, "%s/a.sock", dir);
	pb = talloc_asprintf(t->mem, "%s/b.sock", dir);
	a = unix_new(t, pa, NULL);
	b = unix_new(t, pb, NULL);
	missing = tsa_unix(t->mem,
			   talloc_asprintf(t->mem, "%s/missing.sock", dir));

	n = dg_send(t, a, "lost", 4, missing, &err);
	assert_int_equal(n, -1);
	assert_int_equal(err, ENOENT);

	src = xfer(t, a, b, 7, 7, tsa_unix(t->mem, pb));
	assert_true(tsocket_address_is_unix(src));
	talloc_free(a);
	talloc_free(b);
}

/* ------------------------------------------------------------------ */
/* Existing sockets                                                   */
/* ------------------------------------------------------------------ */

/*
 * Rule: tdgram_bsd_existing_socket() wraps a caller's non-blocking
 * datagram socket (here one end of a socketpair): data flows both ways,
 * and freeing the context closes the fd.
 */
static void test_existing_socketpair(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct tsocket_address *src = NULL;
	struct plain *peer;
	uint8_t *buf = NULL;
	uint8_t pbuf[16];
	ssize_t n;
	int fd, err;

	dg = pair_new(t, &peer, 0, &fd);

	n = send(peer->fd, "from-peer", 9, 0);
	assert_int_equal(n, 9);
	n = dg_recv(t, t->mem, dg, &buf, &src, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "from-peer", 9);
	assert_non_null(src);
	assert_true(tsocket_address_is_unix(src));

	n = dg_send(t, dg, "to-peer", 7, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 7);
	n = plain_recv(peer->fd, pbuf, sizeof(pbuf), NULL);
	assert_int_equal(n, 7);
	assert_memory_equal(pbuf, "to-peer", 7);

	/* the context owns the fd: freeing it closes the fd */
	assert_true(fcntl(fd, F_GETFD) != -1);
	talloc_free(dg);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	talloc_free(buf);
	talloc_free(src);
}

/*
 * Rule: tdgram_bsd_existing_socket() on a bound UDP socket: recvfrom
 * reports the sender, sendto with dst reaches it from the bound port.
 */
static void test_existing_udp(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg = NULL;
	struct tsocket_address *src = NULL, *paddr;
	struct plain *e, *p;
	struct raw_addr from, e_name;
	uint8_t *buf = NULL;
	uint8_t pbuf[16];
	ssize_t n;
	int ret, err;

	e = plain_udp(t->mem, AF_INET);
	e_name = e->name;
	ret = tdgram_bsd_existing_socket(t->mem, e->fd, &dg);
	assert_int_equal(ret, 0);
	e->fd = -1;		/* the context owns it now */

	p = plain_udp(t->mem, AF_INET);
	plain_sendto(p->fd, "inbound", 7, &e_name);
	n = dg_recv(t, t->mem, dg, &buf, &src, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "inbound", 7);
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &p->name));

	paddr = tsa_from_raw(t->mem, &p->name);
	n = dg_send(t, dg, "outbound", 8, paddr, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 8);
	n = plain_recv(p->fd, pbuf, sizeof(pbuf), &from);
	assert_int_equal(n, 8);
	assert_memory_equal(pbuf, "outbound", 8);
	assert_int_equal(raw_port(&from), raw_port(&e_name));
	talloc_free(dg);
}

/*
 * Rule: constructors are macros that record the caller's source location
 * as the talloc name of the new context.
 */
static void test_constructor_location(void **state)
{
	struct tctx *t = *state;
	struct tsocket_address *local = tsa_inet(t->mem, "127.0.0.1", 0);
	struct tsocket_address *ulocal = tsa_unix(t->mem, "");
	struct tdgram_context *dg = NULL;
	struct plain *peer;
	int ret;

	ret = tdgram_inet_udp_socket(local, NULL, t->mem, &dg);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(talloc_get_name(dg), "test_dgram.c"));
	talloc_free(dg);

	ret = tdgram_unix_socket(ulocal, NULL, t->mem, &dg);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(talloc_get_name(dg), "test_dgram.c"));
	talloc_free(dg);

	dg = pair_new(t, &peer, 0, NULL);
	assert_non_null(strstr(talloc_get_name(dg), "test_dgram.c"));
	talloc_free(dg);
}

/* ------------------------------------------------------------------ */
/* Argument rules                                                     */
/* ------------------------------------------------------------------ */

/*
 * Rule: a zero-length datagram is consumed and skipped: recvfrom
 * returns the next, non-empty one (datagrams waiting before the call).
 */
static void test_zero_length_skipped_queued(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct plain *peer;
	uint8_t *buf = NULL;
	ssize_t n;
	int err;

	dg = pair_new(t, &peer, 0, NULL);
	assert_int_equal(send(peer->fd, "", 0, 0), 0);
	assert_int_equal(send(peer->fd, "", 0, 0), 0);
	assert_int_equal(send(peer->fd, "Z", 1, 0), 1);

	n = dg_recv(t, t->mem, dg, &buf, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 1);
	assert_int_equal(buf[0], 'Z');
	talloc_free(buf);
	talloc_free(dg);
}

/*
 * Extension: a connected SOCK_SEQPACKET socket keeps its messages, and
 * its peer's end (a read of 0 bytes, which on a datagram socket would be
 * an empty datagram to skip) is EPIPE, whether it was queued or came
 * while the receive waited.
 */
static void test_seqpacket_end_is_epipe(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	uint8_t *buf = NULL;
	ssize_t n;
	int sv[2], err;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK,
				    0, sv), 0);
	assert_int_equal(tdgram_bsd_existing_socket(t->mem, sv[0], &dg), 0);
	assert_int_equal(send(sv[1], "one", 3, 0), 3);
	assert_int_equal(send(sv[1], "two!", 4, 0), 4);
	n = dg_recv(t, t->mem, dg, &buf, NULL, &err);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "one", 3);
	TALLOC_FREE(buf);
	n = dg_recv(t, t->mem, dg, &buf, NULL, &err);
	assert_int_equal(n, 4);
	TALLOC_FREE(buf);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	n = dg_recv(t, t->mem, dg, &buf, NULL, &err);
	assert_int_equal(n, -1);
	assert_int_equal(err, EPIPE);
	assert_null(buf);
	close(sv[1]);
	talloc_free(dg);
}

/*
 * Rule: a zero-length datagram that arrives while recvfrom is pending
 * does not complete it; the next non-empty one does (UDP).
 */
static void test_zero_length_skipped_pending(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tsocket_address *src = NULL;
	struct tevent_req *req;
	struct raw_addr a_raw;
	struct plain *p;
	uint8_t *buf = NULL;
	bool done = false;
	ssize_t n;
	int err = 0;

	a = udp_with_peer(t, AF_INET, false, &p, &a_raw);
	req = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);

	plain_sendto(p->fd, "", 0, &a_raw);
	run_quiet(t, QUIET_MS);
	assert_false(done);

	plain_sendto(p->fd, "Y", 1, &a_raw);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	n = tdgram_recvfrom_recv(req, &err, t->mem, &buf, &src);
	assert_int_equal(err, 0);
	assert_int_equal(n, 1);
	assert_int_equal(buf[0], 'Y');
	assert_string_equal(addr_str(t->mem, src),
			    raw_string(t->mem, &p->name));
	talloc_free(req);
	talloc_free(a);
}

/*
 * Rule: sendto with len 0 fails with EINVAL through the request (the
 * send function still returns a request), nothing is sent, and the
 * context stays usable.
 */
static void test_sendto_len0_einval(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct tevent_req *req;
	struct plain *peer;
	uint8_t pbuf[8];
	bool done = false;
	ssize_t n;
	int err = 0;

	dg = pair_new(t, &peer, 0, NULL);
	req = tdgram_sendto_send(t->mem, t->ev, dg,
				 (const uint8_t *)"x", 0, NULL);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	n = tdgram_sendto_recv(req, &err);
	assert_int_equal(n, -1);
	assert_int_equal(err, EINVAL);
	talloc_free(req);
	plain_quiet(peer->fd);

	n = dg_send(t, dg, "x", 1, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 1);
	assert_int_equal(plain_recv(peer->fd, pbuf, sizeof(pbuf), NULL), 1);
	talloc_free(dg);
}

/*
 * Rule: sendto with dst NULL on an unconnected socket fails through the
 * request (no destination).
 */
static void test_sendto_unconnected_null_dst(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	ssize_t n;
	int err;

	dg = udp_new(t, "127.0.0.1", NULL);
	n = dg_send(t, dg, "nowhere", 7, NULL, &err);
	assert_int_equal(n, -1);
	assert_int_not_equal(err, 0);
	talloc_free(dg);
}

/* ------------------------------------------------------------------ */
/* One request per direction                                          */
/* ------------------------------------------------------------------ */

/*
 * Rule: a second recvfrom while one is pending fails with EBUSY (through
 * the request); the first keeps waiting; a sendto at the same time is
 * fine; once the first completes, a new recvfrom is accepted.
 */
static void test_recvfrom_ebusy(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tevent_req *r1, *r2;
	struct raw_addr a_raw;
	struct plain *p;
	uint8_t *buf = NULL;
	uint8_t pbuf[8];
	bool d1 = false, d2 = false;
	ssize_t n;
	int i, err;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	r1 = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(r1);
	tevent_req_set_callback(r1, tu_set_done, &d1);

	/* twice: freeing an EBUSY request must not free r1's slot */
	for (i = 0; i < 2; i++) {
		d2 = false;
		r2 = tdgram_recvfrom_send(t->mem, t->ev, a);
		assert_non_null(r2);
		tevent_req_set_callback(r2, tu_set_done, &d2);
		assert_true(tu_loop_until(t->ev, &d2, LOOP_MS));
		err = 0;
		n = tdgram_recvfrom_recv(r2, &err, t->mem, &buf, NULL);
		assert_int_equal(n, -1);
		assert_int_equal(err, EBUSY);
		talloc_free(r2);
		assert_false(d1);
	}

	/* the send direction is independent */
	n = dg_send(t, a, "send", 4, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 4);
	assert_int_equal(plain_recv(p->fd, pbuf, sizeof(pbuf), NULL), 4);
	assert_false(d1);

	/* r1 still gets the next datagram */
	plain_sendto(p->fd, "first", 5, &a_raw);
	assert_true(tu_loop_until(t->ev, &d1, LOOP_MS));
	err = 0;
	n = tdgram_recvfrom_recv(r1, &err, t->mem, &buf, NULL);
	assert_int_equal(err, 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "first", 5);
	talloc_free(buf);
	talloc_free(r1);

	/* and the slot is free again */
	plain_sendto(p->fd, "next", 4, &a_raw);
	n = dg_recv(t, t->mem, a, &buf, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 4);
	talloc_free(buf);
	talloc_free(a);
}

/*
 * Rule: a second sendto while one is pending (socket buffer full, peer
 * not reading) fails with EBUSY; the first completes once the peer
 * reads; a recvfrom meanwhile is fine.
 */
static void test_sendto_ebusy(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct tevent_req *stuck, *s2;
	struct plain *peer;
	uint8_t *buf = NULL;
	bool dstuck = false, d2 = false;
	unsigned nsent, drained;
	ssize_t n;
	int i, err;

	dg = pair_new(t, &peer, 4096, NULL);
	stuck = stuck_sendto(t, dg, &dstuck, &nsent);

	for (i = 0; i < 2; i++) {
		d2 = false;
		s2 = tdgram_sendto_send(t->mem, t->ev, dg,
					(const uint8_t *)"x", 1, NULL);
		assert_non_null(s2);
		tevent_req_set_callback(s2, tu_set_done, &d2);
		assert_true(tu_loop_until(t->ev, &d2, LOOP_MS));
		err = 0;
		n = tdgram_sendto_recv(s2, &err);
		assert_int_equal(n, -1);
		assert_int_equal(err, EBUSY);
		talloc_free(s2);
		assert_false(dstuck);
	}

	/* the receive direction is independent */
	assert_int_equal(send(peer->fd, "r", 1, 0), 1);
	n = dg_recv(t, t->mem, dg, &buf, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 1);
	assert_int_equal(buf[0], 'r');
	talloc_free(buf);
	assert_false(dstuck);

	/* the peer reads: the stuck send goes out */
	drained = plain_drain(peer->fd, FILL_LEN);
	assert_int_equal(drained, nsent);
	assert_true(tu_loop_until(t->ev, &dstuck, LOOP_MS));
	err = 0;
	n = tdgram_sendto_recv(stuck, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, FILL_LEN);
	talloc_free(stuck);
	assert_int_equal(plain_drain(peer->fd, FILL_LEN), 1);
	talloc_free(dg);
}

/* ------------------------------------------------------------------ */
/* Disconnect                                                         */
/* ------------------------------------------------------------------ */

static int dg_disconnect(struct tctx *t, struct tdgram_context *dg,
			 int *perr)
{
	struct tevent_req *req;
	bool done = false;
	int ret;

	*perr = 0;
	req = tdgram_disconnect_send(t->mem, t->ev, dg);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	ret = tdgram_disconnect_recv(req, perr);
	talloc_free(req);
	return ret;
}

/*
 * Rule: disconnect while a recvfrom is pending fails with EBUSY and
 * leaves the recvfrom working; afterwards disconnect succeeds.
 */
static void test_disconnect_busy_recvfrom(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tevent_req *rreq;
	struct raw_addr a_raw;
	struct plain *p;
	bool rdone = false;
	ssize_t n;
	int ret, err;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	rreq = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);

	ret = dg_disconnect(t, a, &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EBUSY);
	assert_false(rdone);

	plain_sendto(p->fd, "still", 5, &a_raw);
	assert_true(tu_loop_until(t->ev, &rdone, LOOP_MS));
	err = 0;
	n = tdgram_recvfrom_recv(rreq, &err, t->mem, NULL, NULL);
	assert_int_equal(err, 0);
	assert_int_equal(n, 5);
	talloc_free(rreq);

	ret = dg_disconnect(t, a, &err);
	assert_int_equal(err, 0);
	assert_int_equal(ret, 0);
	talloc_free(a);
}

/*
 * Rule: disconnect while a sendto is pending fails with EBUSY and leaves
 * the sendto working; afterwards disconnect succeeds.
 */
static void test_disconnect_busy_sendto(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct tevent_req *stuck;
	struct plain *peer;
	bool dstuck = false;
	unsigned nsent;
	ssize_t n;
	int ret, err;

	dg = pair_new(t, &peer, 4096, NULL);
	stuck = stuck_sendto(t, dg, &dstuck, &nsent);

	ret = dg_disconnect(t, dg, &err);
	assert_int_equal(ret, -1);
	assert_int_equal(err, EBUSY);
	assert_false(dstuck);

	assert_int_equal(plain_drain(peer->fd, FILL_LEN), nsent);
	assert_true(tu_loop_until(t->ev, &dstuck, LOOP_MS));
	err = 0;
	n = tdgram_sendto_recv(stuck, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, FILL_LEN);
	talloc_free(stuck);

	ret = dg_disconnect(t, dg, &err);
	assert_int_equal(err, 0);
	assert_int_equal(ret, 0);
	talloc_free(dg);
}

/*
 * Rule: disconnect closes the socket at once; later recvfrom, sendto and
 * disconnect fail cleanly through their requests (ENOTCONN or similar),
 * and freeing the context afterwards does not close the fd a second time.
 */
static void test_disconnect_then_ops(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct plain *peer;
	uint8_t *buf = NULL;
	ssize_t n;
	int ret, err, before, fd;

	dg = pair_new(t, &peer, 0, NULL);
	before = tu_count_fds();
	ret = dg_disconnect(t, dg, &err);
	assert_int_equal(err, 0);
	assert_int_equal(ret, 0);
	assert_int_equal(tu_count_fds(), before - 1);

	/* the peer sees the socket gone */
	errno = 0;
	assert_int_equal(send(peer->fd, "x", 1, 0), -1);

	n = dg_recv(t, t->mem, dg, &buf, NULL, &err);
	assert_int_equal(n, -1);
	assert_int_not_equal(err, 0);
	assert_null(buf);

	n = dg_send(t, dg, "x", 1, NULL, &err);
	assert_int_equal(n, -1);
	assert_int_not_equal(err, 0);

	ret = dg_disconnect(t, dg, &err);
	assert_int_equal(ret, -1);
	assert_int_not_equal(err, 0);

	/* likely reuses the closed fd's number: must survive the free */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	talloc_free(dg);
	ret = fcntl(fd, F_GETFD);
	close(fd);
	assert_true(ret != -1);
}

/* ------------------------------------------------------------------ */
/* Cancel by free                                                     */
/* ------------------------------------------------------------------ */

/*
 * Rule: freeing a pending recvfrom cancels it (its slot is freed, the
 * loop is not woken for it) and a new recvfrom then gets the data.
 */
static void test_free_pending_recvfrom(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tevent_req *rreq;
	struct raw_addr a_raw;
	struct plain *p;
	uint8_t *buf = NULL;
	bool rdone = false;
	unsigned events;
	ssize_t n;
	int err;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	rreq = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	run_quiet(t, QUIET_MS / 2);
	assert_false(rdone);
	talloc_free(rreq);

	/* data arrives with nobody reading: no callback, no busy loop */
	plain_sendto(p->fd, "after", 5, &a_raw);
	events = run_quiet(t, QUIET_MS);
	assert_true(events < 50);
	assert_false(rdone);

	/* a new recvfrom is accepted and gets the waiting datagram */
	n = dg_recv(t, t->mem, a, &buf, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "after", 5);
	talloc_free(buf);
	talloc_free(a);
}

/*
 * Rule: freeing a pending sendto cancels it: its datagram is never sent,
 * its slot is freed, and a new sendto works.
 */
static void test_free_pending_sendto(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct tevent_req *stuck;
	struct plain *peer;
	uint8_t pbuf[16];
	bool dstuck = false;
	unsigned nsent;
	ssize_t n;
	int err;

	dg = pair_new(t, &peer, 4096, NULL);
	stuck = stuck_sendto(t, dg, &dstuck, &nsent);
	talloc_free(stuck);

	/* only the datagrams that completed are in the peer's queue */
	assert_int_equal(plain_drain(peer->fd, FILL_LEN), nsent);
	run_quiet(t, QUIET_MS);
	assert_false(dstuck);
	assert_int_equal(plain_drain(peer->fd, FILL_LEN), 0);

	n = dg_send(t, dg, "new", 3, NULL, &err);
	assert_int_equal(err, 0);
	assert_int_equal(n, 3);
	n = plain_recv(peer->fd, pbuf, sizeof(pbuf), NULL);
	assert_int_equal(n, 3);
	assert_memory_equal(pbuf, "new", 3);
	talloc_free(dg);
}

/*
 * Rule: freeing the context with a recvfrom pending (and its datagram
 * already waiting) leaves no dangling pointer and the callback never
 * fires; the orphaned request can still be freed.
 */
static void test_free_dgram_pending_recvfrom(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *a;
	struct tevent_req *rreq;
	struct raw_addr a_raw;
	struct plain *p;
	bool rdone = false;

	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	rreq = tdgram_recvfrom_send(t->mem, t->ev, a);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	run_quiet(t, QUIET_MS / 2);
	assert_false(rdone);

	plain_sendto(p->fd, "late", 4, &a_raw);
	talloc_free(a);
	run_quiet(t, QUIET_MS);
	assert_false(rdone);
	talloc_free(rreq);
	run_quiet(t, QUIET_MS / 2);
	assert_false(rdone);

	/* the same with the request allocated on the context itself */
	a = udp_with_peer(t, AF_INET, true, &p, &a_raw);
	rreq = tdgram_recvfrom_send(a, t->ev, a);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	plain_sendto(p->fd, "late", 4, &a_raw);
	talloc_free(a);
	run_quiet(t, QUIET_MS);
	assert_false(rdone);
}

/*
 * Rule: freeing the context with a sendto pending: no crash, and the
 * callback never fires even when the socket would become writable.
 */
static void test_free_dgram_pending_sendto(void **state)
{
	struct tctx *t = *state;
	struct tdgram_context *dg;
	struct tevent_req *stuck;
	struct plain *peer;
	bool dstuck = false;
	unsigned nsent;

	dg = pair_new(t, &peer, 4096, NULL);
	stuck = stuck_sendto(t, dg, &dstuck, &nsent);
	talloc_free(dg);
	plain_drain(peer->fd, FILL_LEN);
	run_quiet(t, QUIET_MS);
	assert_false(dstuck);
	talloc_free(stuck);
}

/* ------------------------------------------------------------------ */
/* Re-arming from callbacks                                           */
/* ------------------------------------------------------------------ */

#define CHAIN_N 6

struct chain {
	struct tctx *t;
	struct tdgram_context *dg;
	unsigned count;
	ssize_t lens[CHAIN_N];
	int errs[CHAIN_N];
	uint8_t first[CHAIN_N];
	uint8_t out[CHAIN_N][CHAIN_N];
	bool done;
};

static void chain_recv_done(struct tevent_req *req)
{
	struct chain *c = tevent_req_callback_data(req, struct chain);
	struct tevent_req *next = NULL;
	uint8_t *buf = NULL;
	int err = 0;
	ssize_t n;

	/*
	 * The finished request is no longer pending: the next one may start
	 * before it is even collected.
	 */
	if (c->count + 1 < CHAIN_N) {
		next = tdgram_recvfrom_send(c->t->mem, c->t->ev, c->dg);
	}
	n = tdgram_recvfrom_recv(req, &err, c->t->mem, &buf, NULL);
	talloc_free(req);
	c->lens[c->count] = n;
	c->errs[c->count] = err;
	c->first[c->count] = n > 0 ? buf[0] : 0;
	talloc_free(buf);
	c->count++;
	if (n < 0 || next == NULL) {
		talloc_free(next);
		c->done = true;
		return;
	}
	tevent_req_set_callback(next, chain_recv_done, c);
}

/*
 * Rule: a completed recvfrom frees its slot before its callback runs, so
 * the callback can start the next recvfrom (no EBUSY), even before it
 * collects the finished one.
 */
static void test_recvfrom_rearm_in_callback(void **state)
{
	struct tctx *t = *state;
	struct chain *c = talloc_zero(t->mem, struct chain);
	struct tevent_req *req;
	struct plain *peer;
	uint8_t msg[CHAIN_N];
	unsigned i;

	assert_non_null(c);
	c->t = t;
	c->dg = pair_new(t, &peer, 0, NULL);
	for (i = 0; i < CHAIN_N; i++) {
		memset(msg, 'a' + i, sizeof(msg));
		assert_int_equal(send(peer->fd, msg, i + 1, 0), i + 1);
	}
	req = tdgram_recvfrom_send(t->mem, t->ev, c->dg);
	assert_non_null(req);
	tevent_req_set_callback(req, chain_recv_done, c);
	assert_true(tu_loop_until(t->ev, &c->done, LOOP_MS));
	assert_int_equal(c->count, CHAIN_N);
	for (i = 0; i < CHAIN_N; i++) {
		assert_int_equal(c->errs[i], 0);
		assert_int_equal(c->lens[i], i + 1);
		assert_int_equal(c->first[i], 'a' + i);
	}
	talloc_free(c->dg);
	talloc_free(c);
}

static void chain_send_done(struct tevent_req *req)
{
	struct chain *c = tevent_req_callback_data(req, struct chain);
	struct tevent_req *next = NULL;
	unsigned k = c->count + 1;
	int err = 0;
	ssize_t n;

	/* as above: start the next send before collecting this one */
	if (k < CHAIN_N) {
		memset(c->out[k], 'a' + k, CHAIN_N);
		next = tdgram_sendto_send(c->t->mem, c->t->ev, c->dg,
					  c->out[k], k + 1, NULL);
	}
	n = tdgram_sendto_recv(req, &err);
	talloc_free(req);
	c->lens[c->count] = n;
	c->errs[c->count] = err;
	c->count++;
	if (n < 0 || next == NULL) {
		talloc_free(next);
		c->done = true;
		return;
	}
	tevent_req_set_callback(next, chain_send_done, c);
}

/*
 * Rule: a completed sendto frees its slot before its callback runs, so
 * the callback can start the next sendto (no EBUSY), even before it
 * collects the finished one.
 */
static void test_sendto_rearm_in_callback(void **state)
{
	struct tctx *t = *state;
	struct chain *c = talloc_zero(t->mem, struct chain);
	struct tevent_req *req;
	struct plain *peer;
	uint8_t pbuf[16];
	unsigned i;

	assert_non_null(c);
	c->t = t;
	c->dg = pair_new(t, &peer, 0, NULL);
	memset(c->out[0], 'a', CHAIN_N);
	req = tdgram_sendto_send(t->mem, t->ev, c->dg, c->out[0], 1, NULL);
	assert_non_null(req);
	tevent_req_set_callback(req, chain_send_done, c);
	assert_true(tu_loop_until(t->ev, &c->done, LOOP_MS));
	assert_int_equal(c->count, CHAIN_N);
	for (i = 0; i < CHAIN_N; i++) {
		assert_int_equal(c->errs[i], 0);
		assert_int_equal(c->lens[i], i + 1);
		assert_int_equal(plain_recv(peer->fd, pbuf, sizeof(pbuf),
					    NULL), i + 1);
		assert_int_equal(pbuf[0], 'a' + i);
	}
	talloc_free(c->dg);
	talloc_free(c);
}

/* ------------------------------------------------------------------ */
/* File descriptors                                                   */
/* ------------------------------------------------------------------ */

enum dg_kind {
	KIND_UDP4,
	KIND_UDP4_CONNECTED,
	KIND_UDP6,
	KIND_UNIX_BOUND,
	KIND_UNIX_CONNECTED,
	KIND_MAX
};

/* A new context of the given kind (peers given for the connected ones). */
static struct tdgram_context *kind_new(struct tctx *t, enum dg_kind kind,
				       const char *dir,
				       const struct tsocket_address *peer4,
				       const struct tsocket_address *upeer)
{
	static unsigned n;
	char *path;

	switch (kind) {
	case KIND_UDP4:
		return udp_new(t, "127.0.0.1", NULL);
	case KIND_UDP4_CONNECTED:
		return udp_new(t, "127.0.0.1", peer4);
	case KIND_UDP6:
		return udp_new(t, "::1", NULL);
	case KIND_UNIX_BOUND:
		path = talloc_asprintf(t->mem, "%s/k%u.sock", dir, n++);
		return unix_new(t, path, NULL);
	case KIND_UNIX_CONNECTED:
		return unix_new(t, "", upeer);
	default:
		fail();
	}
	return NULL;
}

/*
 * Rule: every socket the library creates is non-blocking and
 * close-on-exec, and is the one fd the context holds (closed on free).
 */
static void test_nonblock_cloexec(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	struct tsocket_address *peer4, *upeer;
	struct tdgram_context *dg;
	struct plain *p4, *pu;
	int before[1024], after[1024];
	int nb, na, fd, fl, kind;
	bool v6 = have_ipv6();

	assert_non_null(dir);
	p4 = plain_udp(t->mem, AF_INET);
	peer4 = tsa_from_raw(t->mem, &p4->name);
	pu = plain_unix(t->mem, talloc_asprintf(t->mem, "%s/peer.sock",
						dir));
	upeer = tsa_unix(t->mem, talloc_asprintf(t->mem, "%s/peer.sock",
						 dir));

	for (kind = 0; kind < KIND_MAX; kind++) {
		if (kind == KIND_UDP6 && !v6) {
			continue;
		}
		nb = list_fds(before, 1024);
		dg = kind_new(t, kind, dir, peer4, upeer);
		na = list_fds(after, 1024);
		assert_int_equal(na, nb + 1);
		fd = new_fd(before, nb, after, na);

		fl = fcntl(fd, F_GETFL);
		assert_true(fl != -1);
		assert_true((fl & O_NONBLOCK) != 0);
		fl = fcntl(fd, F_GETFD);
		assert_true(fl != -1);
		assert_true((fl & FD_CLOEXEC) != 0);

		talloc_free(dg);
		errno = 0;
		assert_int_equal(fcntl(fd, F_GETFD), -1);
		assert_int_equal(errno, EBADF);
	}
	talloc_free(p4);
	talloc_free(pu);
}

/*
 * Rule: freeing contexts releases their fds whatever state they were in
 * (idle, after I/O, after a disconnect, with requests pending).
 */
static void test_no_fd_leak(void **state)
{
	struct tctx *t = *state;
	char *dir = tu_tmpdir(t->mem);
	struct tsocket_address *peer4, *upeer;
	struct tdgram_context *dg;
	struct tevent_req *req;
	struct plain *p4, *pu, *peer;
	struct raw_addr a_raw;
	bool done = false;
	unsigned nsent;
	int before, kind, err, i;

	assert_non_null(dir);
	p4 = plain_udp(t->mem, AF_INET);
	peer4 = tsa_from_raw(t->mem, &p4->name);
	pu = plain_unix(t->mem, talloc_asprintf(t->mem, "%s/peer.sock",
						dir));
	upeer = tsa_unix(t->mem, talloc_asprintf(t->mem, "%s/peer.sock",
						 dir));
	before = tu_count_fds();

	for (i = 0; i < 3; i++) {
		/* idle contexts of every kind */
		for (kind = 0; kind < KIND_MAX; kind++) {
			if (kind == KIND_UDP6 && !have_ipv6()) {
				continue;
			}
			dg = kind_new(t, kind, dir, peer4, upeer);
			talloc_free(dg);
		}
		assert_int_equal(tu_count_fds(), before);

		/* after I/O, with a recvfrom pending */
		dg = udp_with_peer(t, AF_INET, true, &peer, &a_raw);
		req = tdgram_recvfrom_send(t->mem, t->ev, dg);
		assert_non_null(req);
		run_quiet(t, 10);
		talloc_free(dg);
		talloc_free(req);
		talloc_free(peer);
		assert_int_equal(tu_count_fds(), before);

		/* after a disconnect */
		dg = udp_new(t, "127.0.0.1", peer4);
		assert_int_equal(dg_disconnect(t, dg, &err), 0);
		talloc_free(dg);
		assert_int_equal(tu_count_fds(), before);

		/* existing socket with a sendto stuck */
		dg = pair_new(t, &peer, 4096, NULL);
		req = stuck_sendto(t, dg, &done, &nsent);
		talloc_free(req);
		talloc_free(dg);
		talloc_free(peer);
		done = false;
		assert_int_equal(tu_count_fds(), before);
	}
	talloc_free(p4);
	talloc_free(pu);
}

/* ------------------------------------------------------------------ */
/* Queue helper                                                       */
/* ------------------------------------------------------------------ */

#define QN 5

struct qstate {
	unsigned order[QN];
	unsigned n;
	unsigned want;
	bool all;
};

struct qreq {
	struct qstate *qs;
	unsigned idx;
	ssize_t ret;
	int err;
};

static void queue_done(struct tevent_req *req)
{
	struct qreq *q = tevent_req_callback_data_void(req);

	q->err = 0;
	q->ret = tdgram_sendto_queue_recv(req, &q->err);
	talloc_free(req);
	if (q->qs->n < QN) {
		q->qs->order[q->qs->n] = q->idx;
	}
	q->qs->n++;
	q->qs->all = q->qs->n >= q->qs->want;
}

/*
 * Queue QN sends of msgs[i] (i+1 bytes of 'a'+i) at once on dg to dst;
 * reqs[i] and qr[i] are filled.
 */
static void queue_all(struct tctx *t, struct tdgram_context *dg,
		      struct tevent_queue *queue,
		      struct tsocket_address *dst,
		      uint8_t msgs[QN][QN], struct qstate *qs,
		      struct qreq *qr, struct tevent_req **reqs)
{
	unsigned i;

	for (i = 0; i < QN; i++) {
		memset(msgs[i], 'a' + i, QN);
		qr[i].qs = qs;
		qr[i].idx = i;
		qr[i].ret = 0;
		qr[i].err = -1;
		reqs[i] = tdgram_sendto_queue_send(t->mem, t->ev, dg, queue,
						   msgs[i], i + 1, dst);
		assert_non_null(reqs[i]);
		tevent_req_set_callback(reqs[i], queue_done, &qr[i]);
	}
}

/*
 * Rule: sends queued at once with tdgram_sendto_queue_send() all complete
 * and their datagrams arrive in the order queued.
 */
static void test_queue_order(void **state)
{
	struct tctx *t = *state;
	struct tevent_queue *queue;
	struct tdgram_context *dg;
	struct tsocket_address *paddr;
	struct tevent_req *reqs[QN];
	struct qstate qs = { .want = QN };
	struct qreq qr[QN];
	uint8_t msgs[QN][QN];
	uint8_t pbuf[16];
	struct plain *p;
	unsigned i;
	ssize_t n;

	queue = tevent_queue_create(t->mem, "dgram-test");
	assert_non_null(queue);
	p = plain_udp(t->mem, AF_INET);
	paddr = tsa_from_raw(t->mem, &p->name);
	dg = udp_new(t, "127.0.0.1", NULL);

	queue_all(t, dg, queue, paddr, msgs, &qs, qr, reqs);
	assert_int_equal(tevent_queue_length(queue), QN);
	assert_true(tu_loop_until(t->ev, &qs.all, LOOP_MS));
	assert_int_equal(qs.n, QN);
	for (i = 0; i < QN; i++) {
		assert_int_equal(qs.order[i], i);
		assert_int_equal(qr[i].err, 0);
		assert_int_equal(qr[i].ret, i + 1);
		n = plain_recv(p->fd, pbuf, sizeof(pbuf), NULL);
		assert_int_equal(n, i + 1);
		assert_memory_equal(pbuf, msgs[i], i + 1);
	}
	plain_quiet(p->fd);
	assert_int_equal(tevent_queue_length(queue), 0);
	talloc_free(dg);
	talloc_free(queue);
}

/*
 * Rule: a queued request freed before it starts leaves the queue: its
 * datagram is never sent and the requests after it still run in order.
 */
static void test_queue_free_waiting(void **state)
{
	struct tctx *t = *state;
	struct tevent_queue *queue;
	struct tdgram_context *dg;
	struct tsocket_address *paddr;
	struct tevent_req *reqs[QN];
	struct qstate qs = { .want = QN - 2 };
	struct qreq qr[QN];
	uint8_t msgs[QN][QN];
	uint8_t pbuf[16];
	static const unsigned expect[] = { 0, 2, 4 };
	struct plain *p;
	unsigned i;
	ssize_t n;

	queue = tevent_queue_create(t->mem, "dgram-test");
	assert_non_null(queue);
	p = plain_udp(t->mem, AF_INET);
	paddr = tsa_from_raw(t->mem, &p->name);
	dg = udp_new(t, "127.0.0.1", NULL);

	queue_all(t, dg, queue, paddr, msgs, &qs, qr, reqs);
	talloc_free(reqs[1]);
	talloc_free(reqs[3]);
	assert_int_equal(tevent_queue_length(queue), QN - 2);

	assert_true(tu_loop_until(t->ev, &qs.all, LOOP_MS));
	/* give a wrongly kept request the chance to show up */
	run_quiet(t, QUIET_MS / 2);
	assert_int_equal(qs.n, QN - 2);
	for (i = 0; i < QN - 2; i++) {
		unsigned k = expect[i];

		assert_int_equal(qs.order[i], k);
		assert_int_equal(qr[k].err, 0);
		assert_int_equal(qr[k].ret, k + 1);
		n = plain_recv(p->fd, pbuf, sizeof(pbuf), NULL);
		assert_int_equal(n, k + 1);
		assert_memory_equal(pbuf, msgs[k], k + 1);
	}
	plain_quiet(p->fd);
	assert_int_equal(tevent_queue_length(queue), 0);
	talloc_free(dg);
	talloc_free(queue);
}

/*
 * Rule: a queued send of len 0 fails with EINVAL through its request and
 * does not block the requests queued behind it.
 */
static void test_queue_len0(void **state)
{
	struct tctx *t = *state;
	struct tevent_queue *queue;
	struct tdgram_context *dg;
	struct tevent_req *r0, *r1;
	struct qstate qs = { .want = 2 };
	struct qreq q0 = { .qs = &qs, .idx = 0 }, q1 = { .qs = &qs, .idx = 1 };
	struct plain *peer;
	uint8_t pbuf[8];

	queue = tevent_queue_create(t->mem, "dgram-test");
	assert_non_null(queue);
	dg = pair_new(t, &peer, 0, NULL);
	r0 = tdgram_sendto_queue_send(t->mem, t->ev, dg, queue,
				      (const uint8_t *)"e", 0, NULL);
	assert_non_null(r0);
	tevent_req_set_callback(r0, queue_done, &q0);
	r1 = tdgram_sendto_queue_send(t->mem, t->ev, dg, queue,
				      (const uint8_t *)"ok", 2, NULL);
	assert_non_null(r1);
	tevent_req_set_callback(r1, queue_done, &q1);

	assert_true(tu_loop_until(t->ev, &qs.all, LOOP_MS));
	assert_int_equal(q0.ret, -1);
	assert_int_equal(q0.err, EINVAL);
	assert_int_equal(q1.err, 0);
	assert_int_equal(q1.ret, 2);
	assert_int_equal(plain_recv(peer->fd, pbuf, sizeof(pbuf), NULL), 2);
	assert_memory_equal(pbuf, "ok", 2);
	plain_quiet(peer->fd);
	talloc_free(dg);
	talloc_free(queue);
}

/* ------------------------------------------------------------------ */

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_udp4_unconnected),
		T(test_udp6_unconnected),
		T(test_udp4_connected),
		T(test_udp6_connected),
		T(test_udp4_fixed_local_port),
		T(test_udp6_v6only),
		T(test_bad_addresses),
		T(test_recv_talloc_parents),
		T(test_recv_null_outputs),
		T(test_udp_sizes),
		T(test_udp_several_waiting),
		T(test_udp4_connrefused),
		T(test_udp6_connrefused),
		T(test_unix_unconnected),
		T(test_unix_connected),
		T(test_unix_unbound_sender),
		T(test_unix_sizes),
		T(test_unix_missing_remote),
		T(test_unix_sendto_missing_path),
		T(test_existing_socketpair),
		T(test_existing_udp),
		T(test_constructor_location),
		T(test_zero_length_skipped_queued),
		T(test_seqpacket_end_is_epipe),
		T(test_zero_length_skipped_pending),
		T(test_sendto_len0_einval),
		T(test_sendto_unconnected_null_dst),
		T(test_recvfrom_ebusy),
		T(test_sendto_ebusy),
		T(test_disconnect_busy_recvfrom),
		T(test_disconnect_busy_sendto),
		T(test_disconnect_then_ops),
		T(test_free_pending_recvfrom),
		T(test_free_pending_sendto),
		T(test_free_dgram_pending_recvfrom),
		T(test_free_dgram_pending_sendto),
		T(test_recvfrom_rearm_in_callback),
		T(test_sendto_rearm_in_callback),
		T(test_nonblock_cloexec),
		T(test_no_fd_leak),
		T(test_queue_order),
		T(test_queue_free_waiting),
		T(test_queue_len0),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
