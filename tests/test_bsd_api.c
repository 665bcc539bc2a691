/*
 * test_bsd_api.c - the BSD backend's settings and the calls that came
 * after the tsocket guide: writes towards a peer in CLOSE_WAIT (this
 * project's own versions of Samba's six "client spin" cases, bug 15202),
 * tstream_bsd_write_after_peer_eof, tstream_monitor,
 * tstream_read_some_alloc, the optimize and fail-first settings and the
 * broadcast socket.
 *
 * Everything runs on loopback (127.0.0.1 with port 0, or unix
 * socketpairs).  The far end of each connection is a raw socket driven
 * with plain send(2)/recv(2)/shutdown(2), so the tests decide exactly what
 * the peer does.  Every loop is bounded in turns and in time.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "test_util.h"

#define TIMEOUT_MS	5000

/*
 * Cases (1) and (2): the write must fail within a few loop turns.  One or
 * two are expected; a spinning loop would do hundreds of thousands.
 */
#define FAIL_TURNS_MAX	10
#define FAIL_WAIT_MS	3000

/*
 * A watched socket with data nobody reads is looked at once a second:
 * about one or two wakeups a second.  Over SPIN_WINDOW_MS a spinning
 * implementation does orders of magnitude more than SPIN_EVENTS_MAX.
 */
#define SPIN_WINDOW_MS	3000
#define SPIN_EVENTS_MAX	12

/* What a blocked write tries to send: far more than fits. */
#define BIG_WRITE	(256 * 1024)

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_int_not_equal(fl, -1);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A connected pair over TCP on 127.0.0.1 (port 0) or a unix socketpair:
 * *mine is non-blocking (to be wrapped in a stream), *raw stays a plain
 * blocking socket played by the test.  Small buffers make "full" quick
 * to reach.
 */
static void raw_pair(bool tcp, int *mine, int *raw)
{
	int small = 4096;
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
		/* inherited by the accepted socket: a small window */
		assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF,
					    &small, sizeof(small)), 0);
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
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof(small)), 0);
	set_nonblock(sv[0]);
	*mine = sv[0];
	*raw = sv[1];
}

/*
 * Fill fd's way towards a peer that does not read.  TCP may make room
 * again for a moment after the first EAGAIN (acks, window updates), so
 * the socket counts as full only once sends have said EAGAIN 10 times in
 * a row, 30 ms apart.
 */
static void fill(int fd)
{
	static char chunk[1024];
	int looks, full = 0;

	for (looks = 0; looks < 1000 && full < 10; looks++) {
		ssize_t n;

		while ((n = send(fd, chunk, sizeof(chunk),
				 MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
			full = 0;
		}
		assert_int_equal(n, -1);
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		full++;
		usleep(30 * 1000);
	}
	assert_int_equal(full, 10);
}

/* Drain whatever a non-blocking raw socket has queued; bytes read. */
static size_t drain(int fd)
{
	static char sink[1 << 16];
	size_t total = 0;
	ssize_t n;

	while ((n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
		total += (size_t)n;
	}
	return total;
}

/* Reset the connection from the raw side: SO_LINGER 0, then close. */
static void raw_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg)), 0);
	close(fd);
}

/*
 * A reset seen by a socket whose peer had already shut down its sending
 * side: Linux records it as EPIPE (tcp_reset() in CLOSE_WAIT), other
 * states as ECONNRESET.  Either is "the socket's error" passed on.
 */
static bool is_reset_err(int err)
{
	if (err != ECONNRESET && err != EPIPE) {
		print_error("error %d (%s), not a reset\n", err,
			    strerror(err));
		return false;
	}
	return true;
}

static struct tstream_context *wrap(struct tu_ctx *t, int fd)
{
	struct tstream_context *s = NULL;

	if (tstream_bsd_existing_socket(t->mem, fd, &s) != 0) {
		int err = errno;

		close(fd);
		fail_msg("tstream_bsd_existing_socket: %s", strerror(err));
	}
	assert_non_null(s);
	return s;
}

/* Wait (bounded) until req is done; false if it is not. */
static bool wait_done(struct tu_ctx *t, const bool *done, int ms)
{
	return tu_loop_until(t->ev, done, ms);
}

/* A request whose completion sets a flag. */
static void watch(struct tevent_req *req, bool *done)
{
	assert_non_null(req);
	*done = false;
	tevent_req_set_callback(req, tu_set_done, done);
}

/* A writev of BIG_WRITE bytes, kept pending by the caller. */
struct pending_write {
	struct tevent_req *req;
	bool done;
	struct iovec iov;
	uint8_t *buf;
};

static void start_write(struct tu_ctx *t, struct tstream_context *s,
			struct pending_write *p)
{
	p->buf = talloc_size(t->mem, BIG_WRITE);
	assert_non_null(p->buf);
	memset(p->buf, 'w', BIG_WRITE);
	p->iov = (struct iovec){ .iov_base = p->buf, .iov_len = BIG_WRITE };
	p->req = tstream_writev_send(t->mem, t->ev, s, &p->iov, 1);
	watch(p->req, &p->done);
}

static void end_write(struct pending_write *p)
{
	TALLOC_FREE(p->req);
	TALLOC_FREE(p->buf);
}

struct guard {
	bool expired;
};

static void guard_expired(struct tevent_context *ev, struct tevent_timer *te,
			  struct timeval now, void *private_data)
{
	struct guard *g = private_data;

	g->expired = true;
}

/*
 * Run the loop one turn at a time until *done, or ms pass; the number
 * of turns it took (a turn ending the wait by the guard not counted).
 * The turn cap only keeps a spinning loop from running on.
 */
static unsigned turns_until(struct tu_ctx *t, const bool *done, int ms)
{
	struct guard g = { .expired = false };
	struct tevent_timer *te;
	unsigned turns = 0;

	te = tevent_add_timer(t->ev, t->ev,
			      tevent_timeval_current_ofs(ms / 1000,
					(ms % 1000) * 1000),
			      guard_expired, &g);
	assert_non_null(te);
	while (!*done && !g.expired && turns < 1000000) {
		assert_int_equal(tevent_loop_once(t->ev), 0);
		if (!g.expired) {
			turns++;
		}
	}
	if (!g.expired) {
		talloc_free(te);
	}
	return turns;
}

/*
 * The raw peer reads everything until the pending write is done (or ms
 * pass, then it fails); the bytes it read.
 */
static size_t peer_reads_all(struct tu_ctx *t, int raw,
			     struct pending_write *p, int ms)
{
	long long end = now_ms() + ms;
	size_t total = 0;

	set_nonblock(raw);
	while (!p->done && now_ms() < end) {
		total += drain(raw);
		tu_loop_until(t->ev, &p->done, 20);
	}
	assert_true(p->done);
	total += drain(raw);
	return total;
}

/* ------------------------------------------------------------------ */
/* Samba's client spin cases (bug 15202), written anew                 */
/* ------------------------------------------------------------------ */

/*
 * Rule: a writev blocked on a full socket whose peer has shut down its
 * sending side (CLOSE_WAIT here), with no readv pending, fails with
 * ECONNRESET within a few loop turns and a bounded time, instead of
 * waiting for ever or spinning.  more_data: the peer first sent bytes
 * that nobody reads (Samba's "more disconnected" cases).
 */
static void disconnected_client_spin(void **state, bool tcp,
				     bool more_data)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending_write p;
	long long start;
	unsigned turns;
	int mine, raw, err = 0;

	raw_pair(tcp, &mine, &raw);
	fill(mine);
	if (more_data) {
		assert_int_equal(send(raw, "nobody reads this", 17, 0), 17);
	}
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	s = wrap(t, mine);
	start_write(t, s, &p);
	assert_false(p.done);	/* it did have to wait */

	start = now_ms();
	turns = turns_until(t, &p.done, FAIL_WAIT_MS);
	if (!p.done || turns > FAIL_TURNS_MAX) {
		fail_msg("write done=%d after %u turns, %lld ms", p.done,
			 turns, now_ms() - start);
	}
	assert_int_equal(tstream_writev_recv(p.req, &err), -1);
	assert_int_equal(err, ECONNRESET);
	end_write(&p);
	talloc_free(s);
	close(raw);
}

static void test_disconnected_client_spin_tcp(void **state)
{
	disconnected_client_spin(state, true, false);
}

static void test_disconnected_client_spin_unix(void **state)
{
	disconnected_client_spin(state, false, false);
}

static void test_more_disconnected_client_spin_tcp(void **state)
{
	disconnected_client_spin(state, true, true);
}

static void test_more_disconnected_client_spin_unix(void **state)
{
	disconnected_client_spin(state, false, true);
}

/*
 * Rule: a writev blocked on a full socket while the peer, still
 * connected, has sent bytes nobody reads stays pending without an error
 * and without spinning the loop (about one look a second); it completes
 * with the full count once the peer reads.
 */
static void more_client_spin(void **state, bool tcp)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending_write p;
	unsigned events;
	int mine, raw, err = 0;

	raw_pair(tcp, &mine, &raw);
	fill(mine);
	assert_int_equal(send(raw, "nobody reads this", 17, 0), 17);
	s = wrap(t, mine);
	start_write(t, s, &p);

	events = tu_loop_count_events(t->ev, SPIN_WINDOW_MS);
	assert_false(p.done);
	if (events > SPIN_EVENTS_MAX) {
		fail_msg("%u wakeups in %d ms: the loop spins", events,
			 SPIN_WINDOW_MS);
	}
	/* still a working connection: the peer reads and the write ends */
	peer_reads_all(t, raw, &p, 10000);
	assert_int_equal(tstream_writev_recv(p.req, &err), BIG_WRITE);
	end_write(&p);
	talloc_free(s);
	close(raw);
}

static void test_more_client_spin_tcp(void **state)
{
	more_client_spin(state, true);
}

static void test_more_client_spin_unix(void **state)
{
	more_client_spin(state, false);
}

/* ------------------------------------------------------------------ */
/* tstream_bsd_write_after_peer_eof                                    */
/* ------------------------------------------------------------------ */

/*
 * Rule: with tstream_bsd_write_after_peer_eof on, the write of the
 * "disconnected client" case does not fail: it waits without spinning,
 * and completes with the full byte count once the peer reads everything.
 */
static void write_after_peer_eof(void **state, bool tcp)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending_write p;
	unsigned events;
	size_t got;
	int mine, raw, err = 0;

	raw_pair(tcp, &mine, &raw);
	fill(mine);
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	s = wrap(t, mine);
	assert_false(tstream_bsd_write_after_peer_eof(s, true));
	start_write(t, s, &p);

	events = tu_loop_count_events(t->ev, SPIN_WINDOW_MS);
	assert_false(p.done);
	if (events > SPIN_EVENTS_MAX) {
		fail_msg("%u wakeups in %d ms: the loop spins", events,
			 SPIN_WINDOW_MS);
	}
	got = peer_reads_all(t, raw, &p, 10000);
	assert_int_equal(tstream_writev_recv(p.req, &err), BIG_WRITE);
	/* what fill() queued, then the whole write */
	assert_true(got >= BIG_WRITE);
	end_write(&p);
	talloc_free(s);
	close(raw);
}

static void test_write_after_peer_eof_tcp(void **state)
{
	write_after_peer_eof(state, true);
}

static void test_write_after_peer_eof_unix(void **state)
{
	write_after_peer_eof(state, false);
}

/*
 * Rule: with write_after_peer_eof on, a reset still ends the waiting
 * write, with the socket's error (see is_reset_err()), within about the
 * second it waits between looks.
 */
static void test_write_after_peer_eof_reset(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct pending_write p;
	int mine, raw, err = 0;

	raw_pair(true, &mine, &raw);
	fill(mine);
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	s = wrap(t, mine);
	tstream_bsd_write_after_peer_eof(s, true);
	start_write(t, s, &p);
	assert_true(tu_loop_count_events(t->ev, 1200) <= SPIN_EVENTS_MAX);
	assert_false(p.done);

	raw_reset(raw);
	assert_true(wait_done(t, &p.done, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(p.req, &err), -1);
	assert_true(is_reset_err(err));
	end_write(&p);
	talloc_free(s);
}

/* ------------------------------------------------------------------ */
/* tstream_monitor                                                     */
/* ------------------------------------------------------------------ */

static struct tevent_req *start_monitor(struct tu_ctx *t,
					struct tstream_context *s, bool *done)
{
	struct tevent_req *req = tstream_monitor_send(t->mem, t->ev, s);

	watch(req, done);
	return req;
}

/* The monitor's result: must be -1; its errno. */
static int monitor_err(struct tevent_req *req)
{
	int err = 0;

	assert_int_equal(tstream_monitor_recv(req, &err), -1);
	assert_int_not_equal(err, 0);
	return err;
}

/* Rule: a monitor on an idle connection ends with ECONNRESET on a reset. */
static void test_monitor_reset(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req;
	bool done;
	int mine, raw;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	/* idle: nothing happens, and the loop sleeps */
	assert_true(tu_loop_count_events(t->ev, 300) <= 2);
	assert_false(done);
	raw_reset(raw);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(monitor_err(req), ECONNRESET);
	talloc_free(req);
	talloc_free(s);
}

/*
 * Rule: a peer that shuts down its sending side ends the monitor with
 * ECONNRESET, as it would a blocked write; with write_after_peer_eof on
 * the monitor keeps watching (without spinning), and still ends when
 * the peer resets (TCP) or goes away altogether (unix: EPIPE).
 */
static void monitor_peer_shutdown(void **state, bool tcp)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req;
	bool done;
	int mine, raw;

	raw_pair(tcp, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 100));
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(monitor_err(req), ECONNRESET);
	talloc_free(req);

	assert_false(tstream_bsd_write_after_peer_eof(s, true));
	req = start_monitor(t, s, &done);
	assert_true(tu_loop_count_events(t->ev, 2000) <= SPIN_EVENTS_MAX);
	assert_false(done);
	if (tcp) {
		raw_reset(raw);
		assert_true(wait_done(t, &done, TIMEOUT_MS));
		assert_true(is_reset_err(monitor_err(req)));
	} else {
		/* the peer goes away altogether: both directions are shut */
		close(raw);
		assert_true(wait_done(t, &done, TIMEOUT_MS));
		assert_int_equal(monitor_err(req), EPIPE);
	}
	talloc_free(req);
	talloc_free(s);
}

static void test_monitor_peer_shutdown_tcp(void **state)
{
	monitor_peer_shutdown(state, true);
}

static void test_monitor_peer_shutdown_unix(void **state)
{
	monitor_peer_shutdown(state, false);
}

/*
 * Rule: the monitor reads nothing.  Bytes the peer sends while it
 * watches stay queued, intact, for a later readv, and bytes nobody reads
 * do not make the loop spin; the monitor keeps watching through it all.
 */
static void monitor_leaves_data(void **state, bool tcp)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req, *rreq;
	uint8_t sent[1000], got[1000];
	struct iovec iov;
	unsigned events;
	bool done, rdone;
	size_t i;
	int mine, raw, err = 0;

	for (i = 0; i < sizeof(sent); i++) {
		sent[i] = (uint8_t)(i * 7 + 3);
	}
	raw_pair(tcp, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	assert_int_equal(send(raw, sent, sizeof(sent), 0), sizeof(sent));

	events = tu_loop_count_events(t->ev, SPIN_WINDOW_MS);
	assert_false(done);
	if (events > SPIN_EVENTS_MAX) {
		fail_msg("%u wakeups in %d ms: the loop spins", events,
			 SPIN_WINDOW_MS);
	}
	assert_int_equal(tstream_pending_bytes(s), sizeof(sent));

	/* a readv beside the monitor gets every byte */
	memset(got, 0, sizeof(got));
	iov = (struct iovec){ .iov_base = got, .iov_len = sizeof(got) };
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	watch(rreq, &rdone);
	assert_true(wait_done(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), sizeof(got));
	assert_memory_equal(got, sent, sizeof(sent));
	talloc_free(rreq);

	/* still watching */
	assert_false(wait_done(t, &done, 100));
	if (tcp) {
		raw_reset(raw);
		assert_true(wait_done(t, &done, TIMEOUT_MS));
		assert_int_equal(monitor_err(req), ECONNRESET);
	} else {
		close(raw);
	}
	talloc_free(req);
	talloc_free(s);
}

static void test_monitor_leaves_data_tcp(void **state)
{
	monitor_leaves_data(state, true);
}

static void test_monitor_leaves_data_unix(void **state)
{
	monitor_leaves_data(state, false);
}

/*
 * Rule: the monitor runs beside a pending readv and a pending writev:
 * neither is disturbed (the read gets its bytes, the write completes when
 * the peer reads) and the monitor still ends with the reset after.
 */
static void test_monitor_beside_readv_writev(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req, *rreq;
	struct pending_write p;
	struct iovec iov;
	char buf[5];
	bool done, rdone;
	int mine, raw, err = 0;

	raw_pair(true, &mine, &raw);
	fill(mine);
	s = wrap(t, mine);
	iov = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	watch(rreq, &rdone);
	start_write(t, s, &p);
	req = start_monitor(t, s, &done);

	assert_true(tu_loop_count_events(t->ev, 1500) <= SPIN_EVENTS_MAX);
	assert_false(rdone);
	assert_false(p.done);
	assert_false(done);

	assert_int_equal(send(raw, "hello", 5, 0), 5);
	assert_true(wait_done(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), 5);
	assert_memory_equal(buf, "hello", 5);
	TALLOC_FREE(rreq);
	assert_false(done);

	peer_reads_all(t, raw, &p, 10000);
	assert_int_equal(tstream_writev_recv(p.req, &err), BIG_WRITE);
	end_write(&p);
	assert_false(wait_done(t, &done, 100));

	raw_reset(raw);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(monitor_err(req), ECONNRESET);
	talloc_free(req);
	talloc_free(s);
}

/*
 * Rule: tstream_disconnect ends a running monitor with an error (the
 * header says ECONNABORTED), its callback run from the loop; a monitor
 * started after the disconnect fails at once.
 */
static void test_monitor_disconnect(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req, *dreq;
	bool done, ddone;
	int mine, raw, err = 0;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 50));
	dreq = tstream_disconnect_send(t->mem, t->ev, s);
	watch(dreq, &ddone);
	assert_false(done);	/* not from inside tstream_disconnect_send */
	assert_true(wait_done(t, &done, 1000));
	assert_int_equal(monitor_err(req), ECONNABORTED);
	talloc_free(req);
	assert_true(wait_done(t, &ddone, 1000));
	assert_int_equal(tstream_disconnect_recv(dreq, &err), 0);
	talloc_free(dreq);

	req = start_monitor(t, s, &done);
	assert_true(wait_done(t, &done, 1000));
	assert_int_equal(monitor_err(req), ENOTCONN);
	talloc_free(req);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: one monitor at a time: a second fails with EBUSY and leaves the
 * first one watching.
 */
static void test_monitor_busy(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req, *req2;
	bool done, done2;
	int mine, raw;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	req = start_monitor(t, s, &done);
	req2 = start_monitor(t, s, &done2);
	assert_true(wait_done(t, &done2, 1000));
	assert_int_equal(monitor_err(req2), EBUSY);
	talloc_free(req2);
	assert_false(done);

	raw_reset(raw);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(monitor_err(req), ECONNRESET);
	talloc_free(req);
	talloc_free(s);
}

/* Rule: a stream that cannot be watched (stdio) fails with ENOTSUP. */
static void test_monitor_not_supported(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *io = NULL;
	struct tevent_req *req;
	bool done;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(tstream_stdio_create(t->mem, fds[0], fds[1], &io), 0);
	req = start_monitor(t, io, &done);
	assert_true(wait_done(t, &done, 1000));
	assert_int_equal(monitor_err(req), ENOTSUP);
	talloc_free(req);
	/* it took nothing: another can be started (and fails the same) */
	req = start_monitor(t, io, &done);
	assert_true(wait_done(t, &done, 1000));
	assert_int_equal(monitor_err(req), ENOTSUP);
	talloc_free(req);
	talloc_free(io);
}

/*
 * Rule: freeing a monitor stops it: no callback later (not even when
 * its once-a-second look was due, nor on a reset), nothing left behind
 * on the stream, and a new monitor can be started.
 */
static void test_monitor_free_stops(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req;
	size_t blocks;
	bool done;
	int mine, raw;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);

	/* first one, so that what the stream keeps for any watch exists */
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 50));
	talloc_free(req);
	blocks = talloc_total_blocks(t->mem);

	/* data nobody reads: the monitor waits for its next look */
	assert_int_equal(send(raw, "x", 1, 0), 1);
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 300));
	talloc_free(req);
	assert_int_equal(talloc_total_blocks(t->mem), blocks);
	/* past the time of the next look */
	tu_loop_count_events(t->ev, 1500);
	assert_false(done);

	/* the slot is free again */
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 100));
	talloc_free(req);

	/* a reset after the free calls nobody */
	raw_reset(raw);
	tu_loop_count_events(t->ev, 300);
	assert_false(done);
	assert_int_equal(talloc_total_blocks(t->mem), blocks);
	talloc_free(s);
}

/*
 * Rule: a readv of the stream that fails ends the monitor too, with the
 * read's error (EPIPE at the end of the stream), as in Samba.
 */
static void test_monitor_ends_with_failed_readv(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req, *rreq;
	struct iovec iov;
	char c;
	bool done, rdone;
	int mine, raw, err = 0;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	iov = (struct iovec){ .iov_base = &c, .iov_len = 1 };
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	watch(rreq, &rdone);
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 50));
	assert_int_equal(shutdown(raw, SHUT_WR), 0);
	assert_true(wait_done(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(rreq);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(monitor_err(req), EPIPE);
	talloc_free(req);
	talloc_free(s);
	close(raw);
}

/*
 * Rule: freeing the stream under a running monitor (its once-a-second
 * look armed) discards the request: no callback afterwards, and the
 * request can still be freed by its owner.
 */
static void test_monitor_stream_freed(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	struct tevent_req *req;
	bool done;
	int mine, raw;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	assert_int_equal(send(raw, "x", 1, 0), 1);
	req = start_monitor(t, s, &done);
	assert_false(wait_done(t, &done, 200));
	talloc_free(s);
	raw_reset(raw);
	tu_loop_count_events(t->ev, 1500);
	assert_false(done);
	talloc_free(req);
}

/* ------------------------------------------------------------------ */
/* tstream_read_some_alloc                                             */
/* ------------------------------------------------------------------ */

static ssize_t read_alloc(struct tu_ctx *t, struct tstream_context *s,
			  size_t max, uint8_t **buf, int *err)
{
	struct tevent_req *req;
	bool done;
	ssize_t n;

	*err = 0;
	*buf = NULL;
	req = tstream_read_some_alloc_send(t->mem, t->ev, s, max);
	watch(req, &done);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	n = tstream_read_some_alloc_recv(req, err, t->mem, buf);
	talloc_free(req);
	return n;
}

/*
 * Rule: tstream_read_some_alloc returns between 1 and max bytes of what
 * arrived, in a talloc buffer of exactly that size; max 0 is EINVAL,
 * EBUSY while a readv is pending (and the other way round), EPIPE at the
 * end of the stream.  peer is the raw fd that feeds s.
 */
static void read_alloc_rules(struct tu_ctx *t, struct tstream_context *s,
			     int peer)
{
	static uint8_t big[200000];
	struct tevent_req *rreq, *req;
	struct iovec iov;
	uint8_t *buf = NULL;
	uint8_t one;
	size_t i, got, put;
	bool done, rdone;
	int err = 0;
	ssize_t n;

	assert_int_equal(write(peer, "0123456789", 10), 10);
	n = read_alloc(t, s, 4, &buf, &err);
	assert_int_equal(n, 4);
	assert_non_null(buf);
	assert_int_equal(talloc_get_size(buf), 4);
	assert_memory_equal(buf, "0123", 4);
	TALLOC_FREE(buf);
	n = read_alloc(t, s, 1000, &buf, &err);
	assert_int_equal(n, 6);
	assert_int_equal(talloc_get_size(buf), 6);
	assert_memory_equal(buf, "456789", 6);
	TALLOC_FREE(buf);

	/* max 0 */
	assert_int_equal(read_alloc(t, s, 0, &buf, &err), -1);
	assert_int_equal(err, EINVAL);
	assert_null(buf);

	/* a readv holds the read slot */
	iov = (struct iovec){ .iov_base = &one, .iov_len = 1 };
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	watch(rreq, &rdone);
	assert_int_equal(read_alloc(t, s, 10, &buf, &err), -1);
	assert_int_equal(err, EBUSY);
	assert_null(buf);
	assert_false(rdone);
	assert_int_equal(write(peer, "R", 1), 1);
	assert_true(wait_done(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), 1);
	assert_int_equal(one, 'R');
	TALLOC_FREE(rreq);

	/* and a pending read_some_alloc holds it against a readv */
	req = tstream_read_some_alloc_send(t->mem, t->ev, s, 10);
	watch(req, &done);
	rreq = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	watch(rreq, &rdone);
	assert_true(wait_done(t, &rdone, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(rreq, &err), -1);
	assert_int_equal(err, EBUSY);
	TALLOC_FREE(rreq);
	assert_false(done);
	assert_int_equal(write(peer, "ab", 2), 2);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_alloc_recv(req, &err, t->mem,
						      &buf), 2);
	assert_int_equal(talloc_get_size(buf), 2);
	assert_memory_equal(buf, "ab", 2);
	TALLOC_FREE(buf);
	TALLOC_FREE(req);

	/* more than any one read: pieces of 1..max, exact sizes, intact */
	for (i = 0; i < sizeof(big); i++) {
		big[i] = (uint8_t)(i % 251);
	}
	set_nonblock(peer);
	put = got = 0;
	i = 0;
	while (got < sizeof(big)) {
		assert_true(++i < 100000);
		if (put < sizeof(big)) {
			ssize_t w = write(peer, big + put, sizeof(big) - put);

			if (w > 0) {
				put += (size_t)w;
			} else {
				assert_true(errno == EAGAIN);
			}
		}
		n = read_alloc(t, s, 3000, &buf, &err);
		assert_true(n >= 1 && n <= 3000);
		assert_int_equal(talloc_get_size(buf), (size_t)n);
		assert_memory_equal(buf, big + got, (size_t)n);
		got += (size_t)n;
		TALLOC_FREE(buf);
	}

	/* end of stream */
	close(peer);
	assert_int_equal(read_alloc(t, s, 100, &buf, &err), -1);
	assert_int_equal(err, EPIPE);
	assert_null(buf);
}

static void test_read_some_alloc_tcp(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int mine, raw;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	read_alloc_rules(t, s, raw);
	talloc_free(s);
}

static void test_read_some_alloc_unix(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	int mine, raw;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	read_alloc_rules(t, s, raw);
	talloc_free(s);
}

/* The same on a stdio stream over a pipe: the generic fallback. */
static void test_read_some_alloc_stdio(void **state)
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

/*
 * Rule: a large max on a BSD socket is fine: what arrived, at most max,
 * in a buffer of exactly that size.
 */
static void test_read_some_alloc_large_max(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	uint8_t *buf = NULL;
	int mine, raw, err = 0;
	ssize_t n;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	assert_int_equal(send(raw, "xyz", 3, 0), 3);
	n = read_alloc(t, s, (size_t)1 << 30, &buf, &err);
	assert_int_equal(n, 3);
	assert_int_equal(talloc_get_size(buf), 3);
	assert_memory_equal(buf, "xyz", 3);
	/* the buffer is the caller's: the request is gone already */
	assert_ptr_equal(talloc_parent(buf), t->mem);
	TALLOC_FREE(buf);
	talloc_free(s);
	close(raw);
}

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

/*
 * Rule: each BSD setting is off by default, returns the previous value,
 * and belongs to its own stream; on a stream that is not a BSD socket
 * (stdio) each says false and keeps nothing.  Same for the datagram
 * setting.
 */
static void test_settings(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s, *s2, *io = NULL;
	struct tsocket_address *local = NULL;
	struct tdgram_context *d = NULL;
	bool (*const set[])(struct tstream_context *, bool) = {
		tstream_bsd_write_after_peer_eof,
		tstream_bsd_optimize_readv,
		tstream_bsd_fail_readv_first_error,
		tstream_bsd_reset_on_close,
	};
	int mine, raw, mine2, raw2, fds[2];
	size_t i;

	raw_pair(false, &mine, &raw);
	raw_pair(true, &mine2, &raw2);
	s = wrap(t, mine);
	s2 = wrap(t, mine2);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(tstream_stdio_create(t->mem, fds[0], fds[1], &io), 0);

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		assert_false(set[i](s, true));
		assert_true(set[i](s, true));
		assert_true(set[i](s, false));
		assert_false(set[i](s, false));
		assert_false(set[i](s, true));
		/* the other stream still has the default */
		assert_false(set[i](s2, false));

		assert_false(set[i](io, true));
		assert_false(set[i](io, true));
		assert_false(set[i](io, false));
	}
	talloc_free(s);
	talloc_free(s2);
	talloc_free(io);
	close(raw);
	close(raw2);

	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", 0, &local), 0);
	assert_int_equal(tdgram_inet_udp_socket(local, NULL, t->mem, &d), 0);
	assert_false(tdgram_bsd_optimize_recvfrom(d, true));
	assert_true(tdgram_bsd_optimize_recvfrom(d, true));
	assert_true(tdgram_bsd_optimize_recvfrom(d, false));
	assert_false(tdgram_bsd_optimize_recvfrom(d, false));
	talloc_free(d);
	talloc_free(local);
}

/*
 * Rule: with fail_readv_first_error a reset fails the next read at once
 * with ECONNRESET even while received bytes are still queued; off (the
 * default), the queued bytes are read first and the reset comes after.
 */
static void fail_first(struct tu_ctx *t, bool on)
{
	struct tstream_context *s;
	uint8_t *buf = NULL;
	int mine, raw, err = 0;
	ssize_t n;

	raw_pair(true, &mine, &raw);
	s = wrap(t, mine);
	assert_int_equal(send(raw, "late", 4, 0), 4);
	/* the bytes are in mine's queue before the reset comes */
	assert_int_equal(read_alloc(t, s, 1, &buf, &err), 1);
	assert_memory_equal(buf, "l", 1);
	TALLOC_FREE(buf);
	assert_false(tstream_bsd_fail_readv_first_error(s, on));
	raw_reset(raw);
	tu_loop_count_events(t->ev, 100);
	n = read_alloc(t, s, 100, &buf, &err);
	if (on) {
		assert_int_equal(n, -1);
		assert_int_equal(err, ECONNRESET);
	} else {
		assert_int_equal(n, 3);
		assert_memory_equal(buf, "ate", 3);
		TALLOC_FREE(buf);
		assert_int_equal(read_alloc(t, s, 100, &buf, &err), -1);
		assert_int_equal(err, ECONNRESET);
	}
	assert_null(buf);
	talloc_free(s);
}

static void test_fail_readv_first_error_on(void **state)
{
	fail_first(*state, true);
}

static void test_fail_readv_first_error_off(void **state)
{
	fail_first(*state, false);
}

/*
 * Rule: with optimize_readv on, reads still work after one that emptied
 * the socket (the case where the default waits before trying).
 */
static void test_optimize_readv_reads(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *s;
	uint8_t *buf = NULL;
	int mine, raw, err = 0, i;

	raw_pair(false, &mine, &raw);
	s = wrap(t, mine);
	tstream_bsd_optimize_readv(s, true);
	for (i = 0; i < 3; i++) {
		assert_int_equal(send(raw, "abc", 3, 0), 3);
		assert_int_equal(read_alloc(t, s, 100, &buf, &err), 3);
		assert_memory_equal(buf, "abc", 3);
		TALLOC_FREE(buf);
	}
	talloc_free(s);
	close(raw);
}

/* ------------------------------------------------------------------ */
/* tdgram_inet_udp_broadcast_socket                                    */
/* ------------------------------------------------------------------ */

/*
 * The fd the next socket(2) of this process gets: POSIX hands out the
 * lowest free number, so this is how a test finds a context's socket.
 */
static int next_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_int_not_equal(fd, -1);
	close(fd);
	return fd;
}

static int int_opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static int sendto_err(struct tu_ctx *t, struct tdgram_context *d,
		      const struct tsocket_address *to)
{
	struct tevent_req *req;
	bool done;
	int err = 0;
	ssize_t n;

	req = tdgram_sendto_send(t->mem, t->ev, d, (const uint8_t *)"x", 1,
				 to);
	watch(req, &done);
	assert_true(wait_done(t, &done, 1000));
	n = tdgram_sendto_recv(req, &err);
	talloc_free(req);
	return n == 1 ? 0 : err;
}

/*
 * Rule: the broadcast socket is an IPv4 UDP socket bound to local with
 * SO_BROADCAST set (a plain UDP socket has it off): sending to the
 * limited broadcast is refused (EACCES) for the plain one and not for it;
 * it sends to unicast addresses too.  IPv6 and unix addresses: EINVAL.
 */
static void test_broadcast_socket(void **state)
{
	struct tu_ctx *t = *state;
	struct tsocket_address *local = NULL, *v6 = NULL, *ux = NULL;
	struct tsocket_address *bcast = NULL, *to_plain = NULL, *from = NULL;
	struct tdgram_context *b = NULL, *plain = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct tevent_req *req;
	uint8_t *buf = NULL;
	int bfd, pfd, err = 0;
	bool done;

	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", 0, &local), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv6",
				"::1", 0, &v6), 0);
	assert_int_equal(tsocket_address_unix_from_path(t->mem,
				"/nonexistent/bcast", &ux), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"255.255.255.255", 9, &bcast), 0);

	errno = 0;
	assert_int_equal(tdgram_inet_udp_broadcast_socket(v6, t->mem, &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(b);
	errno = 0;
	assert_int_equal(tdgram_inet_udp_broadcast_socket(ux, t->mem, &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(b);

	bfd = next_fd();
	assert_int_equal(tdgram_inet_udp_broadcast_socket(local, t->mem, &b),
			 0);
	assert_non_null(b);
	pfd = next_fd();
	assert_int_equal(tdgram_inet_udp_socket(local, NULL, t->mem, &plain),
			 0);

	/* straight from the sockets */
	assert_int_equal(int_opt(bfd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	assert_int_equal(int_opt(bfd, SOL_SOCKET, SO_DOMAIN), AF_INET);
	assert_int_not_equal(int_opt(bfd, SOL_SOCKET, SO_BROADCAST), 0);
	assert_int_equal(int_opt(pfd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	assert_int_equal(int_opt(pfd, SOL_SOCKET, SO_BROADCAST), 0);
	assert_int_equal(getsockname(bfd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_not_equal(sin.sin_port, 0);

	/* without SO_BROADCAST the kernel refuses a broadcast at once */
	assert_int_equal(sendto_err(t, plain, bcast), EACCES);
	/* with it, it is not refused for that (no route is another matter) */
	assert_int_not_equal(sendto_err(t, b, bcast), EACCES);

	/* and it is an ordinary UDP socket for unicast */
	len = sizeof(sin);
	assert_int_equal(getsockname(pfd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(tsocket_address_inet_from_strings(t->mem, "ipv4",
				"127.0.0.1", ntohs(sin.sin_port), &to_plain),
			 0);
	req = tdgram_recvfrom_send(t->mem, t->ev, plain);
	watch(req, &done);
	assert_int_equal(sendto_err(t, b, to_plain), 0);
	assert_true(wait_done(t, &done, TIMEOUT_MS));
	assert_int_equal(tdgram_recvfrom_recv(req, &err, t->mem, &buf, &from),
			 1);
	assert_int_equal(buf[0], 'x');
	talloc_free(req);
	talloc_free(buf);
	talloc_free(from);
	talloc_free(b);
	talloc_free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
		T(test_disconnected_client_spin_tcp),
		T(test_disconnected_client_spin_unix),
		T(test_more_disconnected_client_spin_tcp),
		T(test_more_disconnected_client_spin_unix),
		T(test_more_client_spin_tcp),
		T(test_more_client_spin_unix),
		T(test_write_after_peer_eof_tcp),
		T(test_write_after_peer_eof_unix),
		T(test_write_after_peer_eof_reset),
		T(test_monitor_reset),
		T(test_monitor_peer_shutdown_tcp),
		T(test_monitor_peer_shutdown_unix),
		T(test_monitor_leaves_data_tcp),
		T(test_monitor_leaves_data_unix),
		T(test_monitor_beside_readv_writev),
		T(test_monitor_disconnect),
		T(test_monitor_busy),
		T(test_monitor_not_supported),
		T(test_monitor_free_stops),
		T(test_monitor_ends_with_failed_readv),
		T(test_monitor_stream_freed),
		T(test_read_some_alloc_tcp),
		T(test_read_some_alloc_unix),
		T(test_read_some_alloc_stdio),
		T(test_read_some_alloc_large_max),
		T(test_settings),
		T(test_fail_readv_first_error_on),
		T(test_fail_readv_first_error_off),
		T(test_optimize_readv_reads),
		T(test_broadcast_socket),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
