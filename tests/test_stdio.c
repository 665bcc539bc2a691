/*
 * test_stdio.c - unit tests of the half-close operation (tstream_shutdown)
 * and of the stdio stream (tstream_stdio_create)
 *
 * Everything runs on loopback: 127.0.0.1 with port 0, unix sockets in a
 * private directory, socketpairs, pipes, /dev/null and regular files in a
 * private directory.  Every wait is bounded by a guard timer (and by
 * tu_loop_until() behind it); nothing sleeps.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "tsocket_internal.h"
#include "test_util.h"

#define TIMEOUT_MS	5000
#define BIG_TIMEOUT_MS	120000

#define KIB		1024
#define MIB		(1024 * 1024)

/* ------------------------------------------------------------------ */
/* Waiting                                                            */
/* ------------------------------------------------------------------ */

/*
 * A wait for a flag has a guard timer of its own that ends the run and
 * marks the wait as failed: a flag that is never set fails its test
 * instead of hanging.  Requests are waited for with wait_req
 * (test_util.h), which fails the test itself, naming the caller; so do
 * do_readv, do_writev, do_shutdown and do_disconnect.
 */
struct guard {
	bool *flag;
	bool fired;
	struct tevent_timer *te;
};

static void guard_fired(struct tevent_context *ev, struct tevent_timer *te,
			struct timeval now, void *private_data)
{
	struct guard *g = private_data;

	(void)ev;
	(void)te;
	(void)now;
	g->fired = true;
	g->te = NULL;		/* tevent frees a timer that fired */
	*g->flag = true;
}

/* Run the loop until *flag is set, for at most ms; true if it was set. */
static bool wait_flag(struct tu_ctx *t, bool *flag, int ms)
{
	struct guard g = { .flag = flag };

	if (*flag) {
		return true;
	}
	g.te = tevent_add_timer(t->ev, t->mem,
				tevent_timeval_current_ofs(ms / 1000,
							   (ms % 1000) * 1000),
				guard_fired, &g);
	assert_non_null(g.te);
	(void)tu_loop_until(t->ev, flag, ms + TIMEOUT_MS);
	TALLOC_FREE(g.te);
	return *flag && !g.fired;
}

static void immediate_ran(struct tevent_context *ev,
			  struct tevent_immediate *im, void *private_data)
{
	bool *ran = private_data;

	(void)ev;
	(void)im;
	*ran = true;
}

/*
 * Run every event that is already due: immediates run in the order they
 * were scheduled, so once one scheduled now has run, every request that
 * was completed and posted before it has run its callback too.  A
 * request whose callback has not run after this is really pending.
 */
static void flush_posted(struct tu_ctx *t)
{
	struct tevent_immediate *im = tevent_create_immediate(t->mem);
	bool ran = false;

	assert_non_null(im);
	tevent_schedule_immediate(im, t->ev, immediate_ran, &ran);
	assert_true(wait_flag(t, &ran, TIMEOUT_MS));
	talloc_free(im);
}

/* ------------------------------------------------------------------ */
/* Stream operations, each waited for                                 */
/* ------------------------------------------------------------------ */

/* Read one byte and expect end of stream (EPIPE). */
static void expect_eof(struct tu_ctx *t, struct tstream_context *s)
{
	uint8_t c;
	int err;

	assert_int_equal(do_readv(t, s, &c, 1, &err), -1);
	assert_int_equal(err, EPIPE);
}

/* ------------------------------------------------------------------ */
/* Fds, data patterns, raw sockets                                    */
/* ------------------------------------------------------------------ */

/*
 * A raw fd owned by the test context, so that a failing test does not
 * leak it: the destructor closes it unless close_fd() already did.
 */
static int fd_holder_destructor(int *fdp)
{
	if (*fdp != -1) {
		close(*fdp);
	}
	return 0;
}

static int *hold_fd(struct tu_ctx *t, int fd)
{
	int *fdp;

	assert_true(fd >= 0);
	fdp = talloc(t->mem, int);
	if (fdp == NULL) {
		close(fd);
		fail_msg("out of memory");
	}
	*fdp = fd;
	talloc_set_destructor(fdp, fd_holder_destructor);
	return fdp;
}

/* The stream now owns the fd: forget it without closing. */
static void release_fd(int *fdp)
{
	*fdp = -1;
	talloc_free(fdp);
}

static void close_fd(int *fdp)
{
	assert_int_equal(close(*fdp), 0);
	*fdp = -1;
	talloc_free(fdp);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_int_not_equal(fl, -1);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static bool is_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_int_not_equal(fl, -1);
	return (fl & O_NONBLOCK) != 0;
}

static int *open_held(struct tu_ctx *t, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd == -1) {
		fail_msg("open %s: %s", path, strerror(errno));
	}
	return hold_fd(t, fd);
}

/* Byte number off of every test stream: not periodic in 64 KiB. */
static uint8_t pattern_byte(size_t off)
{
	return (uint8_t)(off ^ ((off >> 8) * 131) ^ ((off >> 16) * 17));
}

static void fill_pattern(uint8_t *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		buf[i] = pattern_byte(off + i);
	}
}

/* true if buf holds the pattern bytes off .. off + len - 1 */
static bool check_pattern(const uint8_t *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != pattern_byte(off + i)) {
			return false;
		}
	}
	return true;
}

/* FNV-1a, 32 bits, continued from sum. */
static uint32_t checksum(uint32_t sum, const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		sum ^= buf[i];
		sum *= 16777619u;
	}
	return sum;
}

#define CHECKSUM_INIT	2166136261u

static void fd_ready(struct tevent_context *ev, struct tevent_fd *fde,
		     uint16_t flags, void *private_data)
{
	bool *ready = private_data;

	(void)ev;
	(void)fde;
	(void)flags;
	*ready = true;
}

/* Wait (bounded) until a raw fd is readable, running the loop meanwhile. */
static void wait_readable(struct tu_ctx *t, int fd)
{
	bool ready = false;
	struct tevent_fd *fde;

	fde = tevent_add_fd(t->ev, t->mem, fd, TEVENT_FD_READ, fd_ready,
			    &ready);
	assert_non_null(fde);
	assert_true(wait_flag(t, &ready, TIMEOUT_MS));
	talloc_free(fde);
}

/*
 * Read exactly len bytes from a raw socket, running the loop (and so the
 * streams that feed it) while it waits.
 */
static void raw_read(struct tu_ctx *t, int fd, void *buf, size_t len)
{
	unsigned rounds = 0;
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		assert_true(++rounds < 1000000);
		wait_readable(t, fd);
		n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			continue;
		}
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* The raw socket fd has reached end of stream. */
static void raw_expect_eof(struct tu_ctx *t, int fd)
{
	uint8_t c;

	wait_readable(t, fd);
	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), 0);
}

/* ------------------------------------------------------------------ */
/* Connected stream pairs                                             */
/* ------------------------------------------------------------------ */

/*
 * Accept the connection waiting on lfd with plain accept4(2) and wrap it,
 * made non-blocking, in a stream.
 */
static struct tstream_context *accept_stream(struct tu_ctx *t, int lfd)
{
	struct tstream_context *s = NULL;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int *fdp;

	if (fd == -1) {
		fail_msg("accept4: %s", strerror(errno));
	}
	fdp = hold_fd(t, fd);
	set_nonblock(fd);
	assert_int_equal(tstream_bsd_existing_socket(t->mem, fd, &s), 0);
	assert_non_null(s);
	release_fd(fdp);
	return s;
}

/* A TCP client stream (tstream_inet_tcp_connect) and its accepted peer. */
static void tcp_pair(struct tu_ctx *t, struct tstream_context **client,
		     struct tstream_context **server)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	struct tsocket_address *local = NULL, *remote = NULL;
	struct tevent_req *req;
	int *lfd;
	int err = 0;

	/* non-blocking: accept4() fails instead of hanging if nobody came */
	lfd = hold_fd(t, socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
				 SOCK_CLOEXEC, 0));
	assert_int_equal(bind(*lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(*lfd, 4), 0);
	assert_int_equal(getsockname(*lfd, (struct sockaddr *)&sin, &len), 0);
	assert_int_not_equal(ntohs(sin.sin_port), 0);

	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				NULL, 0, &local), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", ntohs(sin.sin_port), &remote), 0);
	req = tstream_inet_tcp_connect_send(t->mem, t->ev, local, remote);
	wait_req(t, req);
	assert_int_equal(tstream_inet_tcp_connect_recv(req, &err, t->mem,
						       client), 0);
	assert_int_equal(err, 0);
	talloc_free(req);
	assert_non_null(*client);

	*server = accept_stream(t, *lfd);
	close_fd(lfd);
	talloc_free(local);
	talloc_free(remote);
}

/* A unix client stream (tstream_unix_connect) and its accepted peer. */
static void unix_pair(struct tu_ctx *t, struct tstream_context **client,
		      struct tstream_context **server)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct tsocket_address *local = NULL, *remote = NULL;
	struct tevent_req *req;
	char *dir, *path;
	int *lfd;
	int err = 0;

	dir = tu_tmpdir(t->mem);
	assert_non_null(dir);
	path = talloc_asprintf(dir, "%s/sock", dir);
	assert_non_null(path);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);

	lfd = hold_fd(t, socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				 SOCK_CLOEXEC, 0));
	assert_int_equal(bind(*lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(*lfd, 4), 0);

	assert_int_equal(tsocket_address_unix_from_path(t->mem, "", &local),
			 0);
	assert_int_equal(tsocket_address_unix_from_path(t->mem, path,
							&remote), 0);
	req = tstream_unix_connect_send(t->mem, t->ev, local, remote);
	wait_req(t, req);
	assert_int_equal(tstream_unix_connect_recv(req, &err, t->mem,
						   client), 0);
	assert_int_equal(err, 0);
	talloc_free(req);
	assert_non_null(*client);

	*server = accept_stream(t, *lfd);
	close_fd(lfd);
	talloc_free(local);
	talloc_free(remote);
	talloc_free(dir);	/* removes the socket file too */
}

/*
 * A stream over one end of a unix socketpair made non-blocking here; the
 * other end stays a raw socket in *raw (owned by the test context).
 */
static struct tstream_context *wrapped_pair(struct tu_ctx *t, int **raw,
					    int **wrapped_fd)
{
	struct tstream_context *s = NULL;
	int sv[2];
	int *fd0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	fd0 = hold_fd(t, sv[0]);
	*raw = hold_fd(t, sv[1]);
	set_nonblock(sv[0]);
	if (wrapped_fd != NULL) {
		/* the caller works on the fd before wrapping it */
		*wrapped_fd = fd0;
		return NULL;
	}
	assert_int_equal(tstream_bsd_existing_socket(t->mem, sv[0], &s), 0);
	release_fd(fd0);
	return s;
}

/* ------------------------------------------------------------------ */
/* Half-close over BSD streams                                        */
/* ------------------------------------------------------------------ */

/*
 * The half-close exchange: the client writes a request and shuts down;
 * the server reads the request, then end of stream (EPIPE); it writes a
 * reply of 1 MiB (more than the socket buffers hold) and closes; the
 * client, although shut down for writing, reads the whole reply and then
 * end of stream.
 */
static void half_close_exchange(struct tu_ctx *t,
				struct tstream_context *client,
				struct tstream_context *server)
{
	static const char request[] = "GET /half-close please\r\n";
	const size_t reply_len = MIB;
	uint8_t got_request[sizeof(request)];
	uint8_t *reply, *got;
	struct iovec wiov, riov;
	struct tevent_req *wreq, *rreq;
	bool wdone = false, rdone = false;
	int err;

	assert_int_equal(do_writev(t, client, request, sizeof(request), &err),
			 (int)sizeof(request));
	assert_int_equal(do_shutdown(t, client, &err), 0);
	assert_int_equal(err, 0);

	memset(got_request, 0, sizeof(got_request));
	assert_int_equal(do_readv(t, server, got_request,
				  sizeof(got_request), &err),
			 (int)sizeof(request));
	assert_memory_equal(got_request, request, sizeof(request));
	expect_eof(t, server);

	reply = talloc_size(t->mem, reply_len);
	got = talloc_zero_size(t->mem, reply_len);
	assert_non_null(reply);
	assert_non_null(got);
	fill_pattern(reply, 0, reply_len);

	/* the client reads on after its end: keep writing to it */
	tstream_bsd_write_after_peer_eof(server, true);
	/* both at once: the reply does not fit in the socket buffers */
	wiov = (struct iovec) { .iov_base = reply, .iov_len = reply_len };
	riov = (struct iovec) { .iov_base = got, .iov_len = reply_len };
	wreq = tstream_writev_send(t->mem, t->ev, server, &wiov, 1);
	assert_non_null(wreq);
	tevent_req_set_callback(wreq, tu_set_done, &wdone);
	rreq = tstream_readv_send(t->mem, t->ev, client, &riov, 1);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	assert_true(wait_flag(t, &wdone, TIMEOUT_MS));
	assert_true(wait_flag(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(wreq, &err), (int)reply_len);
	assert_int_equal(tstream_readv_recv(rreq, &err), (int)reply_len);
	talloc_free(wreq);
	talloc_free(rreq);
	assert_true(check_pattern(got, 0, reply_len));

	assert_int_equal(do_disconnect(t, server, &err), 0);
	expect_eof(t, client);

	talloc_free(reply);
	talloc_free(got);
}

/*
 * Rule: half-close on TCP (shutdown(SHUT_WR)): the peer reads the data
 * and then end of stream, and the shut-down side still reads the reply.
 */
static void test_shutdown_tcp(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *client = NULL, *server = NULL;
	int start = tu_count_fds();

	tcp_pair(t, &client, &server);
	half_close_exchange(t, client, server);
	talloc_free(client);
	talloc_free(server);
	assert_int_equal(tu_count_fds(), start);
}

/* Rule: the same half-close over a unix stream (tstream_unix_connect). */
static void test_shutdown_unix(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *client = NULL, *server = NULL;
	int start = tu_count_fds();

	unix_pair(t, &client, &server);
	half_close_exchange(t, client, server);
	talloc_free(client);
	talloc_free(server);
	assert_int_equal(tu_count_fds(), start);
}

/* Rule: the same half-close over tstream_unix_socketpair(). */
static void test_shutdown_socketpair(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	int start = tu_count_fds();

	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	half_close_exchange(t, s1, s2);
	talloc_free(s1);
	talloc_free(s2);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Rule: "Later writes fail with EPIPE" - reported through the request
 * (tstream_writev_send() returns a request, the error comes from recv),
 * also for a write started while the shutdown is still on its way; data
 * written before the shutdown still arrives.
 */
static void test_shutdown_then_writev_epipe(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	struct tevent_req *sreq, *wreq;
	struct iovec iov;
	uint8_t buf[4] = "abc";
	uint8_t got[4];
	bool sdone = false, wdone = false;
	int err;

	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	assert_int_equal(do_writev(t, s1, buf, sizeof(buf), &err),
			 (int)sizeof(buf));

	/* a write started right after shutdown_send, before it completed */
	sreq = tstream_shutdown_send(t->mem, t->ev, s1);
	assert_non_null(sreq);
	tevent_req_set_callback(sreq, tu_set_done, &sdone);
	iov = (struct iovec) { .iov_base = buf, .iov_len = sizeof(buf) };
	wreq = tstream_writev_send(t->mem, t->ev, s1, &iov, 1);
	assert_non_null(wreq);
	tevent_req_set_callback(wreq, tu_set_done, &wdone);
	assert_true(wait_flag(t, &sdone, TIMEOUT_MS));
	assert_true(wait_flag(t, &wdone, TIMEOUT_MS));
	err = 0;
	assert_int_equal(tstream_shutdown_recv(sreq, &err), 0);
	assert_int_equal(err, 0);
	assert_int_equal(tstream_writev_recv(wreq, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(sreq);
	talloc_free(wreq);

	/* and a write started after the shutdown completed */
	assert_int_equal(do_writev(t, s1, buf, sizeof(buf), &err), -1);
	assert_int_equal(err, EPIPE);

	/* only the data from before the shutdown reaches the peer */
	assert_int_equal(do_readv(t, s2, got, sizeof(got), &err),
			 (int)sizeof(got));
	assert_memory_equal(got, buf, sizeof(buf));
	expect_eof(t, s2);

	talloc_free(s1);
	talloc_free(s2);
}

/*
 * Rule: "shutting down twice succeeds" - and the second one changes
 * nothing: writes still fail with EPIPE, reads still work.
 */
static void test_shutdown_twice(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	uint8_t buf[3] = { 1, 2, 3 };
	uint8_t got[3];
	int err;

	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	assert_int_equal(do_shutdown(t, s1, &err), 0);
	assert_int_equal(do_shutdown(t, s1, &err), 0);
	assert_int_equal(err, 0);
	assert_int_equal(do_writev(t, s1, buf, sizeof(buf), &err), -1);
	assert_int_equal(err, EPIPE);
	expect_eof(t, s2);

	/* the other direction still works */
	assert_int_equal(do_writev(t, s2, buf, sizeof(buf), &err),
			 (int)sizeof(buf));
	assert_int_equal(do_readv(t, s1, got, sizeof(got), &err),
			 (int)sizeof(got));
	assert_memory_equal(got, buf, sizeof(buf));

	/* both sides shut down: still fine, and the reader sees the end */
	assert_int_equal(do_shutdown(t, s2, &err), 0);
	expect_eof(t, s1);
	assert_int_equal(do_shutdown(t, s1, &err), 0);

	talloc_free(s1);
	talloc_free(s2);
}

/*
 * Rule: shutdown "fails with EBUSY while a write is pending" (through
 * the request), and the failed shutdown does not disturb that write: it
 * completes once the peer reads, and a shutdown after it succeeds.
 */
static void test_shutdown_ebusy(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s = NULL;
	struct tevent_req *wreq, *sreq;
	struct iovec iov;
	const size_t chunk = 64 * KIB;
	uint8_t *buf, *got;
	size_t filled = 0;
	bool wdone = false, full = false;
	int *raw = NULL, *fd = NULL;
	unsigned i;
	int err;

	(void)wrapped_pair(t, &raw, &fd);
	buf = talloc_size(t->mem, chunk);
	assert_non_null(buf);

	/* fill the socket buffer: the peer never reads (bounded loop) */
	for (i = 0; i < 4096 && !full; i++) {
		ssize_t n;

		fill_pattern(buf, filled, chunk);
		n = send(*fd, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			full = true;
			continue;
		}
		assert_true(n > 0);
		filled += (size_t)n;
	}
	assert_true(full);
	assert_int_equal(tstream_bsd_existing_socket(t->mem, *fd, &s), 0);
	release_fd(fd);

	/* this write has no room: it stays pending */
	fill_pattern(buf, filled, chunk);
	iov = (struct iovec) { .iov_base = buf, .iov_len = chunk };
	wreq = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(wreq);
	tevent_req_set_callback(wreq, tu_set_done, &wdone);
	flush_posted(t);
	assert_false(wdone);

	sreq = tstream_shutdown_send(t->mem, t->ev, s);
	assert_non_null(sreq);
	wait_req(t, sreq);
	err = 0;
	assert_int_equal(tstream_shutdown_recv(sreq, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(sreq);
	assert_false(wdone);

	/* the peer reads everything: the write completes, unharmed */
	got = talloc_size(t->mem, filled + chunk);
	assert_non_null(got);
	raw_read(t, *raw, got, filled + chunk);
	assert_true(wait_flag(t, &wdone, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(wreq, &err), (int)chunk);
	talloc_free(wreq);
	assert_true(check_pattern(got, 0, filled + chunk));

	/* now there is nothing pending: shutdown works, the peer sees EOF */
	assert_int_equal(do_shutdown(t, s, &err), 0);
	raw_expect_eof(t, *raw);

	talloc_free(s);
	talloc_free(got);
	talloc_free(buf);
}

/*
 * Rule: only a pending write makes shutdown EBUSY: with a read pending,
 * shutdown succeeds and the read still completes with the peer's data.
 */
static void test_shutdown_with_pending_readv(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s1 = NULL, *s2 = NULL;
	struct tevent_req *rreq;
	struct iovec iov;
	uint8_t got[5];
	bool rdone = false;
	int err;

	assert_int_equal(tstream_unix_socketpair(t->mem, &s1, t->mem, &s2),
			 0);
	iov = (struct iovec) { .iov_base = got, .iov_len = sizeof(got) };
	rreq = tstream_readv_send(t->mem, t->ev, s1, &iov, 1);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	flush_posted(t);
	assert_false(rdone);

	assert_int_equal(do_shutdown(t, s1, &err), 0);
	assert_int_equal(err, 0);
	assert_false(rdone);
	expect_eof(t, s2);

	assert_int_equal(do_writev(t, s2, "hello", 5, &err), 5);
	assert_true(wait_flag(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), 5);
	assert_memory_equal(got, "hello", 5);
	talloc_free(rreq);

	talloc_free(s1);
	talloc_free(s2);
}

/* ------------------------------------------------------------------ */
/* A backend without shutdown                                         */
/* ------------------------------------------------------------------ */

/*
 * A minimal backend: writes and reads complete at once (reads with
 * zeroes), disconnect works, and the ops table has no shutdown_send.
 */
struct fake_stream {
	unsigned writes;
	unsigned shutdowns;	/* calls of the shutdown op, if it has one */
};

struct fake_io_state {
	int total;
};

static ssize_t fake_pending_bytes(struct tstream_context *stream)
{
	(void)stream;
	return 0;
}

static struct tevent_req *fake_io_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       const struct iovec *vector,
				       size_t count, bool reading)
{
	struct tevent_req *req;
	struct fake_io_state *state;
	size_t i;

	req = tevent_req_create(mem_ctx, &state, struct fake_io_state);
	if (req == NULL) {
		return NULL;
	}
	for (i = 0; i < count; i++) {
		if (reading) {
			memset(vector[i].iov_base, 0, vector[i].iov_len);
		}
		state->total += (int)vector[i].iov_len;
	}
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static struct tevent_req *fake_readv_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tstream_context *stream,
					  struct iovec *vector, size_t count)
{
	(void)stream;
	return fake_io_send(mem_ctx, ev, vector, count, true);
}

static struct tevent_req *fake_writev_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *stream,
					   const struct iovec *vector,
					   size_t count)
{
	struct fake_stream *fake = tstream_context_data(stream,
							struct fake_stream);

	fake->writes++;
	return fake_io_send(mem_ctx, ev, vector, count, false);
}

static int fake_io_recv(struct tevent_req *req, int *perrno)
{
	struct fake_io_state *state = tevent_req_data(req,
						      struct fake_io_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = state->total;
	}
	tevent_req_received(req);
	return ret;
}

static struct tevent_req *fake_disconnect_send(TALLOC_CTX *mem_ctx,
					       struct tevent_context *ev,
					       struct tstream_context *stream)
{
	(void)stream;
	return fake_io_send(mem_ctx, ev, NULL, 0, false);
}

static int fake_disconnect_recv(struct tevent_req *req, int *perrno)
{
	return fake_io_recv(req, perrno) == -1 ? -1 : 0;
}

static const struct tstream_context_ops fake_ops = {
	.name = "fake-no-shutdown",
	.pending_bytes = fake_pending_bytes,
	.readv_send = fake_readv_send,
	.readv_recv = fake_io_recv,
	.writev_send = fake_writev_send,
	.writev_recv = fake_io_recv,
	.disconnect_send = fake_disconnect_send,
	.disconnect_recv = fake_disconnect_recv,
	/* .shutdown_send and .shutdown_recv left NULL on purpose */
};

/*
 * Rule: shutdown on a stream whose backend cannot do it fails with
 * ENOTSUP, through the request; the failed shutdown does not end the
 * writing direction (writes after it still reach the backend).
 */
static void test_shutdown_enotsup(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct fake_stream *fake = NULL;
	struct tevent_req *req;
	uint8_t buf[8] = "payload";
	int err = 0;

	s = tstream_context_create(t->mem, &fake_ops, &fake,
				   struct fake_stream, __location__);
	assert_non_null(s);
	assert_non_null(fake);

	/* the fake works: a write goes through */
	assert_int_equal(do_writev(t, s, buf, sizeof(buf), &err),
			 (int)sizeof(buf));
	assert_int_equal(fake->writes, 1);

	req = tstream_shutdown_send(t->mem, t->ev, s);
	assert_non_null(req);
	wait_req(t, req);
	assert_int_equal(tstream_shutdown_recv(req, &err), -1);
	assert_int_equal(err, ENOTSUP);
	talloc_free(req);

	/* twice: the same answer */
	assert_int_equal(do_shutdown(t, s, &err), -1);
	assert_int_equal(err, ENOTSUP);

	assert_int_equal(do_writev(t, s, buf, sizeof(buf), &err),
			 (int)sizeof(buf));
	assert_int_equal(fake->writes, 2);

	talloc_free(s);
}

/* The same fake backend, this time with a shutdown op that counts calls. */
static struct tevent_req *fake_shutdown_send(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     struct tstream_context *stream)
{
	struct fake_stream *fake = tstream_context_data(stream,
							struct fake_stream);

	fake->shutdowns++;
	return fake_io_send(mem_ctx, ev, NULL, 0, false);
}

static const struct tstream_context_ops fake_shutdown_ops = {
	.name = "fake-with-shutdown",
	.pending_bytes = fake_pending_bytes,
	.readv_send = fake_readv_send,
	.readv_recv = fake_io_recv,
	.writev_send = fake_writev_send,
	.writev_recv = fake_io_recv,
	.disconnect_send = fake_disconnect_send,
	.disconnect_recv = fake_disconnect_recv,
	.shutdown_send = fake_shutdown_send,
	.shutdown_recv = fake_disconnect_recv,
};

/*
 * Rule: the generic layer itself enforces the shutdown rules, whatever
 * the backend's kernel would say: EBUSY while a writev is pending (the
 * backend op is not called), EPIPE for every later write (which never
 * reaches the backend, even one started while the shutdown runs), and
 * a second shutdown succeeds without calling the backend op again.
 */
static void test_shutdown_generic_rules(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct fake_stream *fake = NULL;
	struct tevent_req *wreq, *sreq, *w2req;
	struct iovec iov;
	uint8_t buf[4] = "abc";
	bool wdone = false, sdone = false, w2done = false;
	int err = 0;

	s = tstream_context_create(t->mem, &fake_shutdown_ops, &fake,
				   struct fake_stream, __location__);
	assert_non_null(s);

	/* the fake's writev completes only on the next loop turn */
	iov = (struct iovec) { .iov_base = buf, .iov_len = sizeof(buf) };
	wreq = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(wreq);
	tevent_req_set_callback(wreq, tu_set_done, &wdone);
	assert_false(wdone);
	sreq = tstream_shutdown_send(t->mem, t->ev, s);
	assert_non_null(sreq);
	wait_req(t, sreq);
	assert_int_equal(tstream_shutdown_recv(sreq, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(sreq);
	assert_int_equal(fake->shutdowns, 0);
	assert_true(wait_flag(t, &wdone, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(wreq, &err), (int)sizeof(buf));
	talloc_free(wreq);
	assert_int_equal(fake->writes, 1);

	/* shutdown, and a write started before it has completed */
	sreq = tstream_shutdown_send(t->mem, t->ev, s);
	assert_non_null(sreq);
	tevent_req_set_callback(sreq, tu_set_done, &sdone);
	w2req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(w2req);
	tevent_req_set_callback(w2req, tu_set_done, &w2done);
	assert_true(wait_flag(t, &sdone, TIMEOUT_MS));
	assert_true(wait_flag(t, &w2done, TIMEOUT_MS));
	assert_int_equal(tstream_shutdown_recv(sreq, &err), 0);
	assert_int_equal(tstream_writev_recv(w2req, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(sreq);
	talloc_free(w2req);
	assert_int_equal(fake->shutdowns, 1);

	assert_int_equal(do_writev(t, s, buf, sizeof(buf), &err), -1);
	assert_int_equal(err, EPIPE);
	assert_int_equal(fake->writes, 1);

	assert_int_equal(do_shutdown(t, s, &err), 0);
	assert_int_equal(fake->shutdowns, 1);

	/* reading is not affected */
	assert_int_equal(do_readv(t, s, buf, sizeof(buf), &err),
			 (int)sizeof(buf));

	talloc_free(s);
}

/* ------------------------------------------------------------------ */
/* The stdio stream                                                   */
/* ------------------------------------------------------------------ */

/* A stdio stream over two fds held by the test; the stream owns them. */
static struct tstream_context *stdio_stream(struct tu_ctx *t, int *rfd,
					    int *wfd)
{
	struct tstream_context *s = NULL;

	if (tstream_stdio_create(t->mem, *rfd, *wfd, &s) != 0) {
		fail_msg("tstream_stdio_create: %s", strerror(errno));
	}
	assert_non_null(s);
	if (wfd != rfd) {
		release_fd(wfd);
	}
	release_fd(rfd);
	return s;
}

/* A pipe whose ends are held by the test context. */
static void held_pipe(struct tu_ctx *t, int **rfd, int **wfd)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	*rfd = hold_fd(t, p[0]);
	*wfd = hold_fd(t, p[1]);
}

/*
 * The 16 MiB transfer: the writer chains 64 KiB writevs, the reader
 * chains reads of odd sizes; both run from their callbacks on one loop.
 */
struct xfer {
	struct tu_ctx *t;
	struct tstream_context *w, *r;
	size_t total;

	uint8_t *wbuf;
	size_t wpos;
	uint32_t wsum;
	int werr;		/* 0, or what went wrong on the write side */
	bool wdone;

	uint8_t *rbuf;
	size_t rpos;
	unsigned nreads;
	uint32_t rsum;
	int rerr;
	bool rdone;
	bool mismatch;
	size_t mismatch_at;
};

#define XFER_WCHUNK	(64 * KIB)

static const size_t xfer_read_sizes[] = {
	1, 3, 4093, 65537, 7, 131071, 12289, 999983, 511, 70001, 17,
};
#define XFER_RBUF	999983

static void xfer_write_done(struct tevent_req *req);
static void xfer_shutdown_done(struct tevent_req *req);
static void xfer_read_done(struct tevent_req *req);

static void xfer_write_next(struct xfer *x)
{
	struct iovec iov;
	struct tevent_req *req;
	size_t len = x->total - x->wpos;

	if (len == 0) {
		/* all written: end the stream so the reader sees EOF */
		req = tstream_shutdown_send(x->t->mem, x->t->ev, x->w);
		if (req == NULL) {
			x->werr = ENOMEM;
			x->wdone = true;
			return;
		}
		tevent_req_set_callback(req, xfer_shutdown_done, x);
		return;
	}
	if (len > XFER_WCHUNK) {
		len = XFER_WCHUNK;
	}
	fill_pattern(x->wbuf, x->wpos, len);
	x->wsum = checksum(x->wsum, x->wbuf, len);
	iov = (struct iovec) { .iov_base = x->wbuf, .iov_len = len };
	req = tstream_writev_send(x->t->mem, x->t->ev, x->w, &iov, 1);
	if (req == NULL) {
		x->werr = ENOMEM;
		x->wdone = true;
		return;
	}
	tevent_req_set_callback(req, xfer_write_done, x);
}

static void xfer_write_done(struct tevent_req *req)
{
	struct xfer *x = tevent_req_callback_data_void(req);
	size_t len = x->total - x->wpos;
	int err = 0;
	int ret;

	if (len > XFER_WCHUNK) {
		len = XFER_WCHUNK;
	}
	ret = tstream_writev_recv(req, &err);
	talloc_free(req);
	if (ret != (int)len) {
		x->werr = ret == -1 ? err : EIO;
		x->wdone = true;
		return;
	}
	x->wpos += len;
	xfer_write_next(x);
}

static void xfer_shutdown_done(struct tevent_req *req)
{
	struct xfer *x = tevent_req_callback_data_void(req);
	int err = 0;

	if (tstream_shutdown_recv(req, &err) != 0) {
		x->werr = err != 0 ? err : EIO;
	}
	talloc_free(req);
	x->wdone = true;
}

/* The size of the next read: the next odd size, cut to what is left. */
static size_t xfer_read_len(const struct xfer *x)
{
	size_t n = sizeof(xfer_read_sizes) / sizeof(xfer_read_sizes[0]);
	size_t len = xfer_read_sizes[x->nreads % n];

	if (len > x->total - x->rpos) {
		len = x->total - x->rpos;
	}
	return len;
}

static void xfer_read_next(struct xfer *x)
{
	struct iovec iov;
	struct tevent_req *req;
	size_t len = xfer_read_len(x);

	if (len == 0) {
		x->rdone = true;
		return;
	}
	iov = (struct iovec) { .iov_base = x->rbuf, .iov_len = len };
	req = tstream_readv_send(x->t->mem, x->t->ev, x->r, &iov, 1);
	if (req == NULL) {
		x->rerr = ENOMEM;
		x->rdone = true;
		return;
	}
	tevent_req_set_callback(req, xfer_read_done, x);
}

static void xfer_read_done(struct tevent_req *req)
{
	struct xfer *x = tevent_req_callback_data_void(req);
	size_t len = xfer_read_len(x);
	int err = 0;
	int ret;

	ret = tstream_readv_recv(req, &err);
	talloc_free(req);
	if (ret != (int)len) {
		x->rerr = ret == -1 ? err : EIO;
		x->rdone = true;
		return;
	}
	if (!x->mismatch && !check_pattern(x->rbuf, x->rpos, len)) {
		x->mismatch = true;
		x->mismatch_at = x->rpos;
	}
	x->rsum = checksum(x->rsum, x->rbuf, len);
	x->rpos += len;
	x->nreads++;
	xfer_read_next(x);
}

/*
 * Rule: a stdio stream moves a large amount of data through a pipe, in
 * order and complete: one stdio stream writes 16 MiB into a pipe in
 * 64 KiB writevs, another one (over the read end) reads it with reads of
 * odd sizes, both on one loop; the checksums match, and after the
 * writer's shutdown the reader sees end of stream.
 */
static void test_stdio_pipe_16mib(void **state)
{
	struct tu_ctx *t = *state;
	struct xfer x = {
		.t = t,
		.total = 16 * MIB,
		.wsum = CHECKSUM_INIT,
		.rsum = CHECKSUM_INIT,
	};
	int *prd, *pwr, *null_r, *null_w;
	int start = tu_count_fds();

	held_pipe(t, &prd, &pwr);
	null_r = open_held(t, "/dev/null", O_RDONLY);
	null_w = open_held(t, "/dev/null", O_WRONLY);
	x.w = stdio_stream(t, null_r, pwr);
	x.r = stdio_stream(t, prd, null_w);
	x.wbuf = talloc_size(t->mem, XFER_WCHUNK);
	x.rbuf = talloc_size(t->mem, XFER_RBUF);
	assert_non_null(x.wbuf);
	assert_non_null(x.rbuf);

	xfer_write_next(&x);
	xfer_read_next(&x);
	assert_true(wait_flag(t, &x.wdone, BIG_TIMEOUT_MS));
	assert_true(wait_flag(t, &x.rdone, BIG_TIMEOUT_MS));

	if (x.werr != 0 || x.rerr != 0) {
		fail_msg("write side: %s at %zu, read side: %s at %zu",
			 strerror(x.werr), x.wpos, strerror(x.rerr), x.rpos);
	}
	assert_int_equal(x.wpos, x.total);
	assert_int_equal(x.rpos, x.total);
	if (x.mismatch) {
		fail_msg("data differ at offset %zu", x.mismatch_at);
	}
	assert_int_equal(x.rsum, x.wsum);
	assert_true(x.nreads > 16);	/* odd sizes, many reads */

	/* the writer shut down: nothing more comes */
	expect_eof(t, x.r);

	talloc_free(x.w);
	talloc_free(x.r);
	talloc_free(x.wbuf);
	talloc_free(x.rbuf);
	assert_int_equal(tu_count_fds(), start);
}

/* Write a file of len pattern bytes in dir; returns its path. */
static char *make_pattern_file(struct tu_ctx *t, const char *dir,
			       const char *name, size_t len)
{
	char *path = talloc_asprintf(t->mem, "%s/%s", dir, name);
	uint8_t *buf = talloc_size(t->mem, len);
	int fd;

	assert_non_null(path);
	assert_non_null(buf);
	fill_pattern(buf, 0, len);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_int_not_equal(fd, -1);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	talloc_free(buf);
	return path;
}

/*
 * Rule: a regular file works as input (it cannot be polled and is read
 * directly): the whole file arrives, reads spanning several read(2)
 * calls included, and the read after the last byte fails with EPIPE.
 */
static void test_stdio_regular_file_input(void **state)
{
	struct tu_ctx *t = *state;
	const size_t len = MIB;
	const size_t parts[] = { 1, 4095, 300001, len - 1 - 4095 - 300001 };
	struct tstream_context *s;
	char *dir, *path;
	uint8_t *got;
	size_t off = 0, i;
	int *fd, *null_w;
	int start = tu_count_fds();
	int err;

	dir = tu_tmpdir(t->mem);
	assert_non_null(dir);
	path = make_pattern_file(t, dir, "input", len);
	fd = open_held(t, path, O_RDONLY);
	null_w = open_held(t, "/dev/null", O_WRONLY);
	s = stdio_stream(t, fd, null_w);

	got = talloc_zero_size(t->mem, len);
	assert_non_null(got);
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		assert_int_equal(do_readv(t, s, got + off, parts[i], &err),
				 (int)parts[i]);
		off += parts[i];
	}
	assert_int_equal(off, len);
	assert_true(check_pattern(got, 0, len));
	expect_eof(t, s);
	/* and it stays at the end */
	expect_eof(t, s);

	talloc_free(s);
	talloc_free(got);
	talloc_free(path);
	talloc_free(dir);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Rule: /dev/null works as output (it cannot be polled and is written
 * directly): writes of any size succeed with their full length, and
 * reading /dev/null as input is an immediate end of stream.
 */
static void test_stdio_devnull_output(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct iovec iov[3];
	struct tevent_req *req;
	uint8_t *buf;
	int *null_r, *null_w;
	int start = tu_count_fds();
	int err;

	null_r = open_held(t, "/dev/null", O_RDONLY);
	null_w = open_held(t, "/dev/null", O_WRONLY);
	s = stdio_stream(t, null_r, null_w);
	buf = talloc_zero_size(t->mem, 4 * MIB);
	assert_non_null(buf);

	assert_int_equal(do_writev(t, s, buf, 1, &err), 1);
	assert_int_equal(do_writev(t, s, buf, 4 * MIB, &err), 4 * MIB);

	iov[0] = (struct iovec) { .iov_base = buf, .iov_len = 10 };
	iov[1] = (struct iovec) { .iov_base = buf + 10, .iov_len = 70000 };
	iov[2] = (struct iovec) { .iov_base = buf, .iov_len = 3 };
	req = tstream_writev_send(t->mem, t->ev, s, iov, 3);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), 70013);
	talloc_free(req);

	expect_eof(t, s);

	talloc_free(s);
	talloc_free(buf);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Rule: a regular file works as output: what was written (single and
 * multi-buffer writevs, 1 MiB and more in all) is in the file, in order,
 * once the stream is freed.
 */
static void test_stdio_regular_file_output(void **state)
{
	struct tu_ctx *t = *state;
	const size_t len = MIB + 12345;
	struct tstream_context *s;
	struct tevent_req *req;
	struct iovec iov[4];
	struct stat st;
	char *dir, *path;
	uint8_t *buf, *got;
	int *fd, *null_r;
	int start = tu_count_fds();
	int rfd, err;

	dir = tu_tmpdir(t->mem);
	assert_non_null(dir);
	path = talloc_asprintf(t->mem, "%s/output", dir);
	assert_non_null(path);
	fd = open_held(t, path, O_WRONLY | O_CREAT | O_TRUNC);
	null_r = open_held(t, "/dev/null", O_RDONLY);
	s = stdio_stream(t, null_r, fd);

	buf = talloc_size(t->mem, len);
	got = talloc_zero_size(t->mem, len);
	assert_non_null(buf);
	assert_non_null(got);
	fill_pattern(buf, 0, len);

	assert_int_equal(do_writev(t, s, buf, 5, &err), 5);
	iov[0] = (struct iovec) { .iov_base = buf + 5, .iov_len = 1 };
	iov[1] = (struct iovec) { .iov_base = buf + 6, .iov_len = 65536 };
	iov[2] = (struct iovec) { .iov_base = buf + 65542, .iov_len = 3 };
	iov[3] = (struct iovec) { .iov_base = buf + 65545, .iov_len = 500000 };
	req = tstream_writev_send(t->mem, t->ev, s, iov, 4);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), 565540);
	talloc_free(req);
	assert_int_equal(do_writev(t, s, buf + 565545, len - 565545, &err),
			 (int)(len - 565545));
	talloc_free(s);
	assert_int_equal(tu_count_fds(), start);

	rfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_not_equal(rfd, -1);
	assert_int_equal(fstat(rfd, &st), 0);
	assert_int_equal(st.st_size, (off_t)len);
	assert_int_equal(read(rfd, got, len), (ssize_t)len);
	assert_int_equal(close(rfd), 0);
	assert_true(check_pattern(got, 0, len));

	talloc_free(buf);
	talloc_free(got);
	talloc_free(path);
	talloc_free(dir);
}

/*
 * Rule: "tstream_shutdown closes write_fd": the stream gives up that fd
 * at once (one fd fewer), the reader of the pipe gets the data and then
 * end of stream (EPIPE) - also a read already pending when the shutdown
 * comes - later writes fail with EPIPE, a second shutdown succeeds, the
 * read side keeps working and a disconnect afterwards closes the rest.
 */
static void test_stdio_shutdown_closes_write_fd(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *w, *r;
	struct tevent_req *rreq;
	struct iovec iov;
	int *p1r, *p1w, *p2r, *p2w, *null_w;
	uint8_t got[6];
	bool rdone = false;
	int start = tu_count_fds();
	int before, err;

	/* w reads pipe 2 and writes pipe 1; r reads pipe 1 */
	held_pipe(t, &p1r, &p1w);
	held_pipe(t, &p2r, &p2w);
	null_w = open_held(t, "/dev/null", O_WRONLY);
	w = stdio_stream(t, p2r, p1w);
	r = stdio_stream(t, p1r, null_w);

	assert_int_equal(do_writev(t, w, "data!", 6, &err), 6);
	assert_int_equal(do_readv(t, r, got, sizeof(got), &err), 6);
	assert_memory_equal(got, "data!", 6);

	/* r waits for more when w shuts down */
	iov = (struct iovec) { .iov_base = got, .iov_len = 1 };
	rreq = tstream_readv_send(t->mem, t->ev, r, &iov, 1);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	flush_posted(t);
	assert_false(rdone);

	before = tu_count_fds();
	assert_int_equal(do_shutdown(t, w, &err), 0);
	assert_int_equal(err, 0);
	assert_int_equal(tu_count_fds(), before - 1);

	assert_true(wait_flag(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(rreq);
	expect_eof(t, r);

	assert_int_equal(do_writev(t, w, "more", 4, &err), -1);
	assert_int_equal(err, EPIPE);
	assert_int_equal(do_shutdown(t, w, &err), 0);
	assert_int_equal(tu_count_fds(), before - 1);

	/* w still reads */
	assert_int_equal(write(*p2w, "back", 4), 4);
	assert_int_equal(do_readv(t, w, got, 4, &err), 4);
	assert_memory_equal(got, "back", 4);

	/* a disconnect after the shutdown closes the read fd */
	assert_int_equal(do_disconnect(t, w, &err), 0);
	assert_int_equal(tu_count_fds(), before - 2);

	close_fd(p2w);
	talloc_free(w);
	talloc_free(r);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Rule: with one socket as both read_fd and write_fd, shutdown "shuts a
 * socket down for writing": the peer reads the data then EOF, while a
 * read pending on the same fd all along still gets the peer's reply;
 * freeing closes the socket once.
 */
static void test_stdio_shutdown_socket_same_fd(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *rreq;
	struct iovec iov;
	int *raw, *fd;
	uint8_t got[8], reply[6];
	bool rdone = false;
	int start = tu_count_fds();
	int err;

	(void)wrapped_pair(t, &raw, &fd);
	s = stdio_stream(t, fd, fd);

	/* a read pending across the write and the shutdown */
	iov = (struct iovec) { .iov_base = reply, .iov_len = sizeof(reply) };
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	flush_posted(t);
	assert_false(rdone);

	assert_int_equal(do_writev(t, s, "request", 8, &err), 8);
	assert_int_equal(do_shutdown(t, s, &err), 0);
	assert_int_equal(err, 0);
	raw_read(t, *raw, got, 8);
	assert_memory_equal(got, "request", 8);
	raw_expect_eof(t, *raw);
	assert_false(rdone);

	assert_int_equal(do_writev(t, s, "x", 1, &err), -1);
	assert_int_equal(err, EPIPE);

	assert_int_equal(send(*raw, "reply", 6, MSG_NOSIGNAL), 6);
	assert_true(wait_flag(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), 6);
	assert_memory_equal(reply, "reply", 6);
	talloc_free(rreq);
	close_fd(raw);
	expect_eof(t, s);

	talloc_free(s);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Make sure SIGPIPE has its default disposition (it kills the process)
 * and is not blocked, so a test really finds out whether a write raises
 * it.  The old state goes back afterwards.
 */
struct sigpipe_state {
	struct sigaction old_action;
	sigset_t old_mask;
};

static void sigpipe_default(struct sigpipe_state *s)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, &s->old_action), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, &s->old_mask), 0);
}

static void sigpipe_restore(struct sigpipe_state *s)
{
	assert_int_equal(sigaction(SIGPIPE, &s->old_action, NULL), 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, &s->old_mask, NULL), 0);
}

/* SIGPIPE is at its default, unblocked, and none is pending. */
static void assert_sigpipe_default_quiet(void)
{
	struct sigaction sa;
	sigset_t mask, pending;

	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGPIPE));
	assert_int_equal(sigpending(&pending), 0);
	assert_false(sigismember(&pending, SIGPIPE));
}

/*
 * Rule: "Writes never raise SIGPIPE: a gone reader is EPIPE" - writing
 * to a pipe whose read end is closed fails with EPIPE, with SIGPIPE at
 * its default disposition, and the process lives on (were SIGPIPE
 * raised, it would kill the test program here).
 */
static void test_stdio_epipe_no_sigpipe(void **state)
{
	struct tu_ctx *t = *state;
	struct sigpipe_state sps;
	struct tstream_context *s;
	int *prd, *pwr, *null_r;
	int err;

	sigpipe_default(&sps);
	held_pipe(t, &prd, &pwr);
	null_r = open_held(t, "/dev/null", O_RDONLY);
	close_fd(prd);
	s = stdio_stream(t, null_r, pwr);

	assert_int_equal(do_writev(t, s, "lost", 4, &err), -1);
	assert_int_equal(err, EPIPE);
	/* again, now that the first one is over */
	assert_int_equal(do_writev(t, s, "lost", 4, &err), -1);
	assert_int_equal(err, EPIPE);
	assert_sigpipe_default_quiet();

	talloc_free(s);
	sigpipe_restore(&sps);
}

/*
 * Rule: the same for a write that is already pending (the pipe is full)
 * when the reader goes away: it fails with EPIPE, no SIGPIPE.
 */
static void test_stdio_epipe_pending_write(void **state)
{
	struct tu_ctx *t = *state;
	struct sigpipe_state sps;
	struct tstream_context *s;
	struct tevent_req *req;
	struct iovec iov;
	uint8_t *buf;
	const size_t len = 4 * MIB;	/* more than any pipe holds */
	int *prd, *pwr, *null_r;
	bool done = false;
	int err = 0;

	sigpipe_default(&sps);
	held_pipe(t, &prd, &pwr);
	null_r = open_held(t, "/dev/null", O_RDONLY);
	s = stdio_stream(t, null_r, pwr);
	buf = talloc_zero_size(t->mem, len);
	assert_non_null(buf);

	iov = (struct iovec) { .iov_base = buf, .iov_len = len };
	req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	flush_posted(t);
	assert_false(done);

	close_fd(prd);
	assert_true(wait_flag(t, &done, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(req, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(req);
	assert_sigpipe_default_quiet();

	talloc_free(s);
	talloc_free(buf);
	sigpipe_restore(&sps);
}

/*
 * Rule: pollable fds are made non-blocking while the stream exists and
 * get their original flags back when it is freed (the write fd already
 * when a shutdown closes it); the stream closes its fds when freed.
 * The flags live in the open file description, so a dup() of each fd
 * shows them after the stream has closed its own.
 */
static void test_stdio_flags_restored(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int *prd, *pwr, *drd, *dwr;
	uint8_t c = 0;
	int start = tu_count_fds();
	int err;

	held_pipe(t, &prd, &pwr);
	drd = hold_fd(t, dup(*prd));
	dwr = hold_fd(t, dup(*pwr));
	assert_false(is_nonblock(*drd));
	assert_false(is_nonblock(*dwr));

	/* one stream over both ends of one pipe: it talks to itself */
	s = stdio_stream(t, prd, pwr);
	assert_true(is_nonblock(*drd));
	assert_true(is_nonblock(*dwr));
	assert_int_equal(do_writev(t, s, "z", 1, &err), 1);
	assert_int_equal(do_readv(t, s, &c, 1, &err), 1);
	assert_int_equal(c, 'z');

	/* shutdown closes the write fd: its flags come back at once */
	assert_int_equal(do_shutdown(t, s, &err), 0);
	assert_false(is_nonblock(*dwr));
	assert_true(is_nonblock(*drd));

	talloc_free(s);
	assert_int_equal(tu_count_fds(), start + 2);
	assert_false(is_nonblock(*drd));
	assert_false(is_nonblock(*dwr));

	close_fd(drd);
	close_fd(dwr);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Rule: "get their original flags back": an fd that was already
 * non-blocking stays so after the stream is freed, and freeing after a
 * shutdown (write fd already closed) still restores the read fd.
 */
static void test_stdio_flags_kept_nonblock(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int *prd, *pwr, *drd, *dwr;
	int start = tu_count_fds();
	int err;

	held_pipe(t, &prd, &pwr);
	set_nonblock(*pwr);
	drd = hold_fd(t, dup(*prd));
	dwr = hold_fd(t, dup(*pwr));
	assert_false(is_nonblock(*drd));
	assert_true(is_nonblock(*dwr));

	s = stdio_stream(t, prd, pwr);
	assert_true(is_nonblock(*drd));
	assert_true(is_nonblock(*dwr));
	assert_int_equal(do_shutdown(t, s, &err), 0);
	assert_true(is_nonblock(*dwr));

	talloc_free(s);
	assert_int_equal(tu_count_fds(), start + 2);
	assert_false(is_nonblock(*drd));
	assert_true(is_nonblock(*dwr));

	close_fd(drd);
	close_fd(dwr);
	assert_int_equal(tu_count_fds(), start);
}

/*
 * Rule: "Returns 0, or -1 with errno (EBADF for a closed fd)": a negative
 * or closed fd on either side fails with EBADF, creates no stream, and
 * leaves the valid fd of the call open with its flags untouched.
 */
static void test_stdio_bad_fd(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s = NULL;
	int *prd, *pwr;
	int closed_fd;
	int start;

	held_pipe(t, &prd, &pwr);
	/* an fd number that is surely closed: just closed, nothing reused */
	closed_fd = dup(*prd);
	assert_int_not_equal(closed_fd, -1);
	assert_int_equal(close(closed_fd), 0);
	assert_int_equal(fcntl(closed_fd, F_GETFD), -1);
	start = tu_count_fds();

	errno = 0;
	assert_int_equal(tstream_stdio_create(t->mem, -1, *pwr, &s), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(tstream_stdio_create(t->mem, *prd, -1, &s), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(tstream_stdio_create(t->mem, -5, -5, &s), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(tstream_stdio_create(t->mem, closed_fd, *pwr, &s),
			 -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(tstream_stdio_create(t->mem, *prd, closed_fd, &s),
			 -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(tstream_stdio_create(t->mem, closed_fd, closed_fd,
					      &s), -1);
	assert_int_equal(errno, EBADF);
	assert_null(s);

	/* the valid fds are still open and still blocking */
	assert_int_equal(tu_count_fds(), start);
	assert_int_not_equal(fcntl(*prd, F_GETFD), -1);
	assert_int_not_equal(fcntl(*pwr, F_GETFD), -1);
	assert_false(is_nonblock(*prd));
	assert_false(is_nonblock(*pwr));
	/* and nothing was left behind on the context */
	assert_int_equal(talloc_total_blocks(t->mem), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
		T(test_shutdown_tcp),
		T(test_shutdown_unix),
		T(test_shutdown_socketpair),
		T(test_shutdown_then_writev_epipe),
		T(test_shutdown_twice),
		T(test_shutdown_ebusy),
		T(test_shutdown_with_pending_readv),
		T(test_shutdown_enotsup),
		T(test_shutdown_generic_rules),
		T(test_stdio_pipe_16mib),
		T(test_stdio_regular_file_input),
		T(test_stdio_devnull_output),
		T(test_stdio_regular_file_output),
		T(test_stdio_shutdown_closes_write_fd),
		T(test_stdio_shutdown_socket_same_fd),
		T(test_stdio_epipe_no_sigpipe),
		T(test_stdio_epipe_pending_write),
		T(test_stdio_flags_restored),
		T(test_stdio_flags_kept_nonblock),
		T(test_stdio_bad_fd),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
