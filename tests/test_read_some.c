/*
 * test_read_some.c - unit tests of tstream_read_some (read what arrived)
 *
 * Covers the BSD and stdio backends' own operation and the generic
 * fallback, which a pass-through backend without read_some exercises.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "tsocket_internal.h"
#include "test_util.h"

#define TIMEOUT_MS 5000

struct tctx {
	TALLOC_CTX *mem;
	struct tevent_context *ev;
	struct tstream_context *a, *b;	/* a socketpair */
};

static int setup(void **state)
{
	struct tctx *t = talloc_zero(NULL, struct tctx);

	if (t == NULL) {
		return -1;
	}
	t->mem = t;
	t->ev = tevent_context_init(t);
	if (t->ev == NULL ||
	    tstream_unix_socketpair(t, &t->a, t, &t->b) == -1) {
		talloc_free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	talloc_free(*state);
	return 0;
}

/* Write len bytes of data to s and wait until they are written. */
static void write_all(struct tctx *t, struct tstream_context *s,
		      const char *data, size_t len)
{
	struct iovec v = { .iov_base = (void *)(uintptr_t)data,
			   .iov_len = len };
	struct tevent_req *req;
	bool done = false;
	int err = 0;

	req = tstream_writev_send(t, t->ev, s, &v, 1);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_writev_recv(req, &err), (int)len);
}

/* Start a read_some of up to len bytes into buf. */
static struct tevent_req *start_read(struct tctx *t, struct tstream_context *s,
				     uint8_t *buf, size_t len, bool *done)
{
	struct tevent_req *req;

	*done = false;
	req = tstream_read_some_send(t, t->ev, s, buf, len);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, done);
	return req;
}

/* Rule: read_some returns what has arrived, not the buffer's size. */
static void test_returns_what_arrived(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[100];
	struct tevent_req *req;
	bool done;
	int err = 0;

	write_all(t, t->a, "0123456789", 10);
	req = start_read(t, t->b, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 10);
	assert_memory_equal(buf, "0123456789", 10);
}

/* Rule: with nothing there it waits, then takes the first bytes. */
static void test_waits_for_data(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[100];
	struct tevent_req *req;
	bool done;
	int err = 0;

	req = start_read(t, t->b, buf, sizeof(buf), &done);
	assert_false(tu_loop_until(t->ev, &done, 50));
	write_all(t, t->a, "abc", 3);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 3);
	assert_memory_equal(buf, "abc", 3);
}

/* Rule: never more than len bytes; the rest waits for the next read. */
static void test_at_most_len(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[4];
	struct tevent_req *req;
	bool done;
	int err = 0;

	write_all(t, t->a, "abcdef", 6);
	req = start_read(t, t->b, buf, 4, &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 4);
	assert_memory_equal(buf, "abcd", 4);
	req = start_read(t, t->b, buf, 4, &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 2);
	assert_memory_equal(buf, "ef", 2);
}

/* Rule: data before the end is delivered, then EPIPE. */
static void test_eof(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[16];
	struct tevent_req *req;
	bool done;
	int err = 0;

	write_all(t, t->a, "xy", 2);
	TALLOC_FREE(t->a);
	req = start_read(t, t->b, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 2);
	req = start_read(t, t->b, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), -1);
	assert_int_equal(err, EPIPE);
}

/* Rule: it shares the read slot with readv (EBUSY both ways). */
static void test_ebusy(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[16];
	struct iovec v = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct tevent_req *first, *second;
	bool done1 = false, done2 = false;
	int err = 0;

	first = start_read(t, t->b, buf, sizeof(buf), &done1);
	second = tstream_readv_send(t, t->ev, t->b, &v, 1);
	assert_non_null(second);
	tevent_req_set_callback(second, tu_set_done, &done2);
	assert_true(tu_loop_until(t->ev, &done2, TIMEOUT_MS));
	assert_int_equal(tstream_readv_recv(second, &err), -1);
	assert_int_equal(err, EBUSY);
	TALLOC_FREE(first);

	first = tstream_readv_send(t, t->ev, t->b, &v, 1);
	assert_non_null(first);
	second = start_read(t, t->b, buf, sizeof(buf), &done2);
	assert_true(tu_loop_until(t->ev, &done2, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(second, &err), -1);
	assert_int_equal(err, EBUSY);
	talloc_free(first);
}

/* Rule: len 0 and a NULL buffer are EINVAL, through the request. */
static void test_einval(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[1];
	struct tevent_req *req;
	bool done;
	int err = 0;

	req = start_read(t, t->b, buf, 0, &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), -1);
	assert_int_equal(err, EINVAL);
	req = start_read(t, t->b, NULL, 10, &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), -1);
	assert_int_equal(err, EINVAL);
}

/* Rule: freeing a pending read_some cancels it; the data stays. */
static void test_cancel(void **state)
{
	struct tctx *t = *state;
	uint8_t buf[16];
	struct tevent_req *req;
	bool done;
	int err = 0;

	req = start_read(t, t->b, buf, sizeof(buf), &done);
	assert_false(tu_loop_until(t->ev, &done, 20));
	talloc_free(req);
	write_all(t, t->a, "late", 4);
	assert_false(done);
	req = start_read(t, t->b, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 4);
	assert_memory_equal(buf, "late", 4);
}

/* Rule: the stdio stream reads what a pipe holds. */
static void test_stdio_pipe(void **state)
{
	struct tctx *t = *state;
	struct tstream_context *s;
	uint8_t buf[64];
	struct tevent_req *req;
	int fds[2], out;
	bool done;
	int err = 0;

	assert_int_equal(pipe(fds), 0);
	out = dup(fds[1]);
	assert_true(out >= 0);
	assert_int_equal(tstream_stdio_create(t, fds[0], out, &s), 0);
	assert_int_equal(write(fds[1], "piped", 5), 5);
	req = start_read(t, s, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 5);
	assert_memory_equal(buf, "piped", 5);
	close(fds[1]);
	talloc_free(s);
}

/*
 * A pass-through backend over another stream that has no read_some op,
 * so the generic fallback (pending_bytes + readv) does the work.
 */
struct passthrough {
	struct tstream_context *inner;
};

struct passthrough_state {
	int ret;
};

static ssize_t passthrough_pending(struct tstream_context *stream)
{
	struct passthrough *p = tstream_context_data(stream,
						     struct passthrough);

	return tstream_pending_bytes(p->inner);
}

static void passthrough_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct passthrough_state *st = tevent_req_data(req,
						struct passthrough_state);
	int err = 0;

	st->ret = tstream_readv_recv(subreq, &err);
	talloc_free(subreq);
	if (st->ret == -1) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *passthrough_readv_send(TALLOC_CTX *mem_ctx,
						 struct tevent_context *ev,
						 struct tstream_context *stream,
						 struct iovec *vector,
						 size_t count)
{
	struct passthrough *p = tstream_context_data(stream,
						     struct passthrough);
	struct tevent_req *req, *subreq;
	struct passthrough_state *st;

	req = tevent_req_create(mem_ctx, &st, struct passthrough_state);
	if (req == NULL) {
		return NULL;
	}
	subreq = tstream_readv_send(st, ev, p->inner, vector, count);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, passthrough_done, req);
	return req;
}

static int passthrough_recv(struct tevent_req *req, int *perrno)
{
	struct passthrough_state *st = tevent_req_data(req,
						struct passthrough_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = st->ret;
	}
	tevent_req_received(req);
	return ret;
}

static const struct tstream_context_ops passthrough_ops = {
	.name = "passthrough",
	.pending_bytes = passthrough_pending,
	.readv_send = passthrough_readv_send,
	.readv_recv = passthrough_recv,
};

/* Rule: backends without read_some get it from pending_bytes + readv. */
static void test_fallback(void **state)
{
	struct tctx *t = *state;
	struct tstream_context *s;
	struct passthrough *p;
	uint8_t buf[100];
	struct tevent_req *req;
	bool done;
	int err = 0;

	s = tstream_context_create(t, &passthrough_ops, &p,
				   struct passthrough, __location__);
	assert_non_null(s);
	p->inner = t->b;

	/* already there: taken in one go */
	write_all(t, t->a, "0123456789", 10);
	req = start_read(t, s, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 10);
	assert_memory_equal(buf, "0123456789", 10);

	/* not there yet: one byte waits, then the rest comes with it */
	req = start_read(t, s, buf, sizeof(buf), &done);
	assert_false(tu_loop_until(t->ev, &done, 20));
	write_all(t, t->a, "wxyz", 4);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), 4);
	assert_memory_equal(buf, "wxyz", 4);

	/* end of stream */
	TALLOC_FREE(t->a);
	req = start_read(t, s, buf, sizeof(buf), &done);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_read_some_recv(req, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_returns_what_arrived),
		T(test_waits_for_data),
		T(test_at_most_len),
		T(test_eof),
		T(test_ebusy),
		T(test_einval),
		T(test_cancel),
		T(test_stdio_pipe),
		T(test_fallback),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
