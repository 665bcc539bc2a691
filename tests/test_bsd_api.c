/*
 * test_bsd_api.c - the BSD settings and the calls Samba's library added
 * after the tsocket guide: writes towards a peer in CLOSE_WAIT (Samba's
 * bug 15202 cases, written anew here), tstream_bsd_write_after_peer_eof,
 * tstream_monitor, tstream_read_some_alloc, the optimize and fail-first
 * settings and the broadcast socket.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "test_util.h"
#include "tsocket.h"

/* A test's bound on loop turns, generous: a spinning loop does millions. */
#define TURNS_MAX 10

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_int_not_equal(fl, -1);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/*
 * A connected pair: *mine (non-blocking, to be wrapped) and *raw, over
 * TCP on 127.0.0.1 or a unix socketpair.
 */
static void raw_pair(bool tcp, int *mine, int *raw)
{
	int sv[2];

	if (!tcp) {
		assert_int_equal(socketpair(AF_UNIX,
					    SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
				 0);
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);
		int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_int_not_equal(lfd, -1);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(lfd, (struct sockaddr *)&sin,
				      sizeof(sin)), 0);
		assert_int_equal(listen(lfd, 1), 0);
		assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin,
					     &len), 0);
		sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_not_equal(sv[0], -1);

		assert_int_equal(connect(sv[0], (struct sockaddr *)&sin,
					 sizeof(sin)), 0);
		sv[1] = accept(lfd, NULL, NULL);
		assert_int_not_equal(sv[1], -1);
		close(lfd);
	}
	set_nonblock(sv[0]);
	*mine = sv[0];
	*raw = sv[1];
}

/*
 * Fill fd's way to a peer that does not read.  TCP makes room again for
 * a while after the first EAGAIN (acks, window and buffer growth), so it
 * counts as full only once 128-byte sends (the size of the write to
 * come) have said EAGAIN 21 times in a row, 50 ms apart.
 */
static void fill(int fd)
{
	static char chunk[128];
	int looks, full = 0;

	for (looks = 0; looks < 2000 && full < 21; looks++) {
		ssize_t n;

		while ((n = send(fd, chunk, sizeof(chunk),
				 MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
			full = 0;
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		full++;
		usleep(50 * 1000);
	}
	assert_int_equal(full, 21);
}

static struct tstream_context *wrap(struct tu_ctx *t, int fd)
{
	struct tstream_context *s = NULL;

	assert_int_equal(tstream_bsd_existing_socket(t->mem, fd, &s), 0);
	return s;
}

struct pending {
	struct tevent_req *req;
	bool done;
	struct iovec iov;
	char buf[128];
};

static void pending_write(struct tu_ctx *t, struct tstream_context *s,
			  struct pending *p)
{
	memset(p->buf, 'w', sizeof(p->buf));
	p->iov = (struct iovec){ .iov_base = p->buf,
				 .iov_len = sizeof(p->buf) };
	p->done = false;
	p->req = tstream_writev_send(t->mem, t->ev, s, &p->iov, 1);
	assert_non_null(p->req);
	tevent_req_set_callback(p->req, tu_set_done, &p->done);
}

/* Loop turns until done, at most TURNS_MAX; the turns taken. */
static unsigned turns_until(struct tu_ctx *t, const bool *done)
{
	unsigned turns = 0;

	while (!*done && turns < TURNS_MAX) {
		/* never blocks for ever: every case has a wakeup coming */
		assert_int_equal(tevent_loop_once(t->ev), 0);
		turns++;
	}
	return turns;
}

/*
 * Rule (Samba, bug 15202): a write blocked on a full socket whose peer
 * shut down its sending side, with no read pending, fails with
 * ECONNRESET within a loop turn or two.  more_data: the peer first sent
 * bytes nobody reads.
 */
static void close_wait_write(void **state, bool tcp, bool more_data)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending p;
	int mine, raw, err = 0;

	raw_pair(tcp, &mine, &raw);
	fill(mine);
	if (more_data) {
		assert_int_equal(send(raw, "unread", 6, 0), 6);
	}
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	s = wrap(t, mine);
	pending_write(t, s, &p);
	assert_true(turns_until(t, &p.done) <= 3);
	assert_true(p.done);
	assert_int_equal(tstream_writev_recv(p.req, &err), -1);
	assert_int_equal(err, ECONNRESET);
	talloc_free(p.req);
	talloc_free(s);
	close(raw);
}

static void test_close_wait_write_tcp(void **state)
{
	close_wait_write(state, true, false);
}

static void test_close_wait_write_unix(void **state)
{
	close_wait_write(state, false, false);
}

static void test_close_wait_more_data_tcp(void **state)
{
	close_wait_write(state, true, true);
}

static void test_close_wait_more_data_unix(void **state)
{
	close_wait_write(state, false, true);
}

/*
 * Rule: a write blocked while the peer sends bytes nobody reads neither
 * fails nor spins: a few wakeups over two seconds (it looks once a
 * second), then it completes when the peer reads.
 */
static void unread_data_write(void **state, bool tcp)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending p;
	static char sink[1 << 16];
	unsigned events;
	int mine, raw, err = 0;

	raw_pair(tcp, &mine, &raw);
	fill(mine);
	assert_int_equal(send(raw, "unread", 6, 0), 6);
	s = wrap(t, mine);
	pending_write(t, s, &p);
	events = tu_loop_count_events(t->ev, 2000);
	assert_false(p.done);
	assert_true(events <= TURNS_MAX);
	/* the peer reads everything: the write goes through */
	set_nonblock(raw);
	while (!p.done) {
		while (recv(raw, sink, sizeof(sink), 0) > 0) {
		}
		assert_true(tu_loop_until(t->ev, &p.done, 100) || !p.done);
	}
	assert_int_equal(tstream_writev_recv(p.req, &err), 128);
	talloc_free(p.req);
	talloc_free(s);
	close(raw);
}

static void test_unread_data_write_tcp(void **state)
{
	unread_data_write(state, true);
}

static void test_unread_data_write_unix(void **state)
{
	unread_data_write(state, false);
}

/*
 * Rule: with tstream_bsd_write_after_peer_eof a write to a half-closed
 * peer waits (without spinning) and completes once the peer reads.
 */
static void test_write_after_peer_eof(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending p;
	static char sink[1 << 16];
	unsigned events;
	int mine, raw, err = 0;

	raw_pair(true, &mine, &raw);
	fill(mine);
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	s = wrap(t, mine);
	assert_false(tstream_bsd_write_after_peer_eof(s, true));
	assert_true(tstream_bsd_write_after_peer_eof(s, true));
	pending_write(t, s, &p);
	events = tu_loop_count_events(t->ev, 2000);
	assert_false(p.done);
	assert_true(events <= TURNS_MAX);
	set_nonblock(raw);
	while (!p.done) {
		while (recv(raw, sink, sizeof(sink), 0) > 0) {
		}
		tu_loop_until(t->ev, &p.done, 100);
	}
	assert_int_equal(tstream_writev_recv(p.req, &err), 128);
	talloc_free(p.req);
	talloc_free(s);
	close(raw);
}

/* ------------------------------------------------------------ monitor */

static struct tevent_req *start_monitor(struct tu_ctx *t,
					struct tstream_context *s, bool *done)
{
	struct tevent_req *req = tstream_monitor_send(t->mem, t->ev, s);

	assert_non_null(req);
	*done = false;
	tevent_req_set_callback(req, tu_set_done, done);
	return req;
}

/* Rule: a monitor ends with ECONNRESET when the peer resets. */
static void test_monitor_reset(void **state)
{
	struct tu_ctx *t = *state;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct tstream_context *s;
	struct tevent_req *req;
	bool done;
	int mine, raw, err = 0;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	assert_false(tu_loop_until(t->ev, &done, 100));
	assert_int_equal(setsockopt(raw, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg)), 0);
	close(raw);
	assert_true(tu_loop_until(t->ev, &done, 5000));
	assert_int_equal(tstream_monitor_recv(req, &err), -1);
	assert_int_equal(err, ECONNRESET);
	talloc_free(req);
	talloc_free(s);
}

/*
 * Rule: a half-closed peer ends the monitor with ECONNRESET, as it would
 * a blocked write, unless tstream_bsd_write_after_peer_eof is on.
 */
static void test_monitor_peer_eof(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req;
	bool done;
	int mine, raw, err = 0;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	assert_true(tu_loop_until(t->ev, &done, 5000));
	assert_int_equal(tstream_monitor_recv(req, &err), -1);
	assert_int_equal(err, ECONNRESET);
	talloc_free(req);

	tstream_bsd_write_after_peer_eof(s, true);
	req = start_monitor(t, s, &done);
	assert_true(tu_loop_count_events(t->ev, 1500) <= TURNS_MAX);
	assert_false(done);
	talloc_free(req);	/* stops it: no callback */
	tu_loop_count_events(t->ev, 50);
	assert_false(done);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: the monitor reads nothing: bytes that come while it watches stay
 * for the next read, and do not make the loop spin.
 */
static void test_monitor_leaves_data(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req, *rreq;
	struct iovec iov;
	char buf[4];
	bool done, rdone = false;
	int mine, raw, err = 0;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	assert_int_equal(send(raw, "abcd", 4, 0), 4);
	assert_true(tu_loop_count_events(t->ev, 2000) <= TURNS_MAX);
	assert_false(done);
	/* a read beside the monitor gets the bytes */
	iov = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	assert_non_null(rreq);
	tevent_req_set_callback(rreq, tu_set_done, &rdone);
	assert_true(tu_loop_until(t->ev, &rdone, 5000));
	assert_int_equal(tstream_readv_recv(rreq, &err), 4);
	assert_memory_equal(buf, "abcd", 4);
	talloc_free(rreq);
	assert_false(done);
	talloc_free(req);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: one monitor at a time (EBUSY); a disconnect ends it with
 * ECONNABORTED; streams without one fail with ENOTSUP.
 */
static void test_monitor_rules(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s, *io = NULL;
	struct tevent_req *req, *req2, *dreq;
	bool done, done2, ddone = false;
	int mine, raw, fds[2], err = 0;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	req2 = start_monitor(t, s, &done2);
	assert_true(tu_loop_until(t->ev, &done2, 1000));
	assert_int_equal(tstream_monitor_recv(req2, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(req2);
	dreq = tstream_disconnect_send(t->mem, t->ev, s);
	assert_non_null(dreq);
	tevent_req_set_callback(dreq, tu_set_done, &ddone);
	assert_true(tu_loop_until(t->ev, &done, 1000));
	assert_int_equal(tstream_monitor_recv(req, &err), -1);
	assert_int_equal(err, ECONNABORTED);
	talloc_free(req);
	assert_true(tu_loop_until(t->ev, &ddone, 1000));
	assert_int_equal(tstream_disconnect_recv(dreq, &err), 0);
	talloc_free(dreq);
	talloc_free(s);
	close(raw);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(tstream_stdio_create(t->mem, fds[0], fds[1], &io), 0);
	req = start_monitor(t, io, &done);
	assert_true(tu_loop_until(t->ev, &done, 1000));
	assert_int_equal(tstream_monitor_recv(req, &err), -1);
	assert_int_equal(err, ENOTSUP);
	talloc_free(req);
	talloc_free(io);
}

/* ------------------------------------------------------------ read_some_alloc */

static ssize_t read_alloc(struct tu_ctx *t, struct tstream_context *s,
			  size_t max, uint8_t **buf, int *err)
{
	struct tevent_req *req;
	bool done = false;
	ssize_t n;

	req = tstream_read_some_alloc_send(t->mem, t->ev, s, max);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, 5000));
	n = tstream_read_some_alloc_recv(req, err, t->mem, buf);
	talloc_free(req);
	return n;
}

/*
 * Rule: tstream_read_some_alloc gives what arrived, at most max bytes,
 * in a buffer of exactly that size; EPIPE at the end, EINVAL for max 0;
 * on sockets and, built by the generic layer, on other streams.
 */
static void read_alloc_rules(struct tu_ctx *t, struct tstream_context *s,
			     int peer)
{
	uint8_t *buf = NULL;
	int err = 0;
	ssize_t n;

	assert_int_equal(write(peer, "0123456789", 10), 10);
	n = read_alloc(t, s, 4, &buf, &err);
	assert_int_equal(n, 4);
	assert_int_equal(talloc_get_size(buf), 4);
	assert_memory_equal(buf, "0123", 4);
	TALLOC_FREE(buf);
	n = read_alloc(t, s, 1000, &buf, &err);
	assert_int_equal(n, 6);
	assert_int_equal(talloc_get_size(buf), 6);
	assert_memory_equal(buf, "456789", 6);
	TALLOC_FREE(buf);
	assert_int_equal(read_alloc(t, s, 0, &buf, &err), -1);
	assert_int_equal(err, EINVAL);
	assert_null(buf);
	close(peer);
	assert_int_equal(read_alloc(t, s, 100, &buf, &err), -1);
	assert_int_equal(err, EPIPE);
}

static void test_read_some_alloc_socket(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int mine, raw;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	read_alloc_rules(t, s, raw);
	talloc_free(s);
}

static void test_read_some_alloc_pipe(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s = NULL;
	int in[2], out;

	assert_int_equal(pipe(in), 0);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_int_not_equal(out, -1);
	assert_int_equal(tstream_stdio_create(t->mem, in[0], out, &s), 0);
	read_alloc_rules(t, s, in[1]);
	talloc_free(s);
}

/* ------------------------------------------------------------ settings */

/*
 * Rule: each setting returns the previous one; streams and contexts
 * that are not BSD sockets say false and keep nothing.
 */
static void test_settings(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s, *io = NULL;
	struct tsocket_address *local = NULL;
	struct tdgram_context *d = NULL;
	int mine, raw, fds[2];

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	assert_false(tstream_bsd_optimize_readv(s, true));
	assert_true(tstream_bsd_optimize_readv(s, false));
	assert_false(tstream_bsd_fail_readv_first_error(s, true));
	assert_true(tstream_bsd_fail_readv_first_error(s, false));
	assert_false(tstream_bsd_reset_on_close(s, true));
	assert_true(tstream_bsd_reset_on_close(s, false));
	talloc_free(s);
	close(raw);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(tstream_stdio_create(t->mem, fds[0], fds[1], &io), 0);
	assert_false(tstream_bsd_optimize_readv(io, true));
	assert_false(tstream_bsd_optimize_readv(io, true));
	assert_false(tstream_bsd_write_after_peer_eof(io, true));
	assert_false(tstream_bsd_write_after_peer_eof(io, true));
	talloc_free(io);

	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", 0, &local), 0);
	assert_int_equal(tdgram_inet_udp_socket(local, NULL, t->mem, &d), 0);
	assert_false(tdgram_bsd_optimize_recvfrom(d, true));
	assert_true(tdgram_bsd_optimize_recvfrom(d, false));
	talloc_free(d);
	talloc_free(local);
}

/*
 * Rule: with fail_readv_first_error a reset fails the read at once,
 * even while received bytes are queued; without, the bytes come first.
 */
static void test_fail_readv_first_error(void **state)
{
	struct tu_ctx *t = *state;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct tstream_context *s;
	uint8_t *buf = NULL;
	int mine, raw, err = 0;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	assert_int_equal(send(raw, "late", 4, 0), 4);
	/* the bytes are in mine's queue before the reset comes */
	assert_int_equal(read_alloc(t, s, 1, &buf, &err), 1);
	TALLOC_FREE(buf);
	tstream_bsd_fail_readv_first_error(s, true);
	assert_int_equal(setsockopt(raw, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg)), 0);
	close(raw);
	tu_loop_count_events(t->ev, 100);
	assert_int_equal(read_alloc(t, s, 100, &buf, &err), -1);
	assert_int_equal(err, ECONNRESET);
	talloc_free(s);
}

/* Rule: the broadcast socket is IPv4 only and may send to broadcasts. */
static void test_broadcast_socket(void **state)
{
	struct tu_ctx *t = *state;
	struct tsocket_address *local = NULL, *v6 = NULL, *bcast = NULL;
	struct tdgram_context *b = NULL, *plain = NULL;
	struct tevent_req *req;
	bool done;
	int err;

	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", 0, &local), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv6",
				"::1", 0, &v6), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"255.255.255.255", 9, &bcast), 0);
	assert_int_equal(tdgram_inet_udp_broadcast_socket(v6, t->mem, &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tdgram_inet_udp_broadcast_socket(local, t->mem, &b),
			 0);
	assert_int_equal(tdgram_inet_udp_socket(local, NULL, t->mem, &plain),
			 0);

	/* without SO_BROADCAST the kernel refuses a broadcast at once */
	done = false;
	req = tdgram_sendto_send(t->mem, t->ev, plain, (const uint8_t *)"x",
				 1, bcast);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, 1000));
	err = 0;
	assert_int_equal(tdgram_sendto_recv(req, &err), -1);
	assert_int_equal(err, EACCES);
	talloc_free(req);

	/* with it, whatever the routes say, it is not refused for that */
	done = false;
	req = tdgram_sendto_send(t->mem, t->ev, b, (const uint8_t *)"x", 1,
				 bcast);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, 1000));
	err = 0;
	tdgram_sendto_recv(req, &err);
	assert_int_not_equal(err, EACCES);
	talloc_free(req);
	talloc_free(b);
	talloc_free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
		T(test_close_wait_write_tcp),
		T(test_close_wait_write_unix),
		T(test_close_wait_more_data_tcp),
		T(test_close_wait_more_data_unix),
		T(test_unread_data_write_tcp),
		T(test_unread_data_write_unix),
		T(test_write_after_peer_eof),
		T(test_monitor_reset),
		T(test_monitor_peer_eof),
		T(test_monitor_leaves_data),
		T(test_monitor_rules),
		T(test_read_some_alloc_socket),
		T(test_read_some_alloc_pipe),
		T(test_settings),
		T(test_fail_readv_first_error),
		T(test_broadcast_socket),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
