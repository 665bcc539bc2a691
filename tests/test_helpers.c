/*
 * test_helpers.c - unit tests of the libtsocket PDU and queue helpers
 *
 * The PDUs are 2-byte big-endian length prefixes followed by that many
 * bytes, read with a next_vector function written here.  Everything runs
 * over unix socketpairs on one tevent loop, and every loop is bounded by
 * tu_loop_until().
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
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

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
#define PDU_MAX		1000	/* longer PDUs: protocol error */

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static void stream_pair(struct tu_ctx *t, struct tstream_context **w,
			struct tstream_context **r)
{
	*w = *r = NULL;
	assert_int_equal(tstream_unix_socketpair(t->mem, w, t->mem, r), 0);
	assert_non_null(*w);
	assert_non_null(*r);
}

/* ------------------------------------------------------------------ */
/* The PDU format: u16 big-endian length, then the body               */
/* ------------------------------------------------------------------ */

struct pdu {
	uint8_t hdr[2];
	uint8_t *body;
	size_t len;
	int stage;		/* 0 header next, 1 body next, 2 complete */
	unsigned calls;		/* how often next_vector was asked */
	bool fail_first;	/* fail the very first call with EPROTO */
};

static struct pdu *pdu_new(TALLOC_CTX *mem_ctx)
{
	struct pdu *p = talloc_zero(mem_ctx, struct pdu);

	assert_non_null(p);
	return p;
}

static int pdu_next_vector(struct tstream_context *stream,
			   void *private_data, TALLOC_CTX *mem_ctx,
			   struct iovec **vector, size_t *count)
{
	struct pdu *p = talloc_get_type_abort(private_data, struct pdu);
	struct iovec *v;

	(void)stream;
	p->calls++;
	if (p->fail_first) {
		errno = EPROTO;
		return -1;
	}
	switch (p->stage) {
	case 0:
		v = talloc_array(mem_ctx, struct iovec, 1);
		if (v == NULL) {
			errno = ENOMEM;
			return -1;
		}
		v[0].iov_base = p->hdr;
		v[0].iov_len = sizeof(p->hdr);
		p->stage = 1;
		*vector = v;
		*count = 1;
		return 0;
	case 1:
		p->len = ((size_t)p->hdr[0] << 8) | p->hdr[1];
		if (p->len > PDU_MAX) {
			errno = EPROTO;
			return -1;
		}
		p->stage = 2;
		if (p->len == 0) {
			break;
		}
		p->body = talloc_size(p, p->len);
		v = talloc_array(mem_ctx, struct iovec, 1);
		if (p->body == NULL || v == NULL) {
			errno = ENOMEM;
			return -1;
		}
		v[0].iov_base = p->body;
		v[0].iov_len = p->len;
		*vector = v;
		*count = 1;
		return 0;
	default:
		break;
	}
	*vector = NULL;
	*count = 0;
	return 0;
}

/* Byte j of the body of PDU number idx. */
static uint8_t pdu_byte(size_t idx, size_t j)
{
	return (uint8_t)(idx * 37 + j * 11 + 1);
}

/* lens[0..n-1] as consecutive PDUs in one buffer of *total bytes. */
static uint8_t *pdus_build(TALLOC_CTX *mem_ctx, const size_t *lens,
			   size_t n, size_t *total)
{
	size_t i, j, pos = 0, sum = 0;
	uint8_t *buf;

	for (i = 0; i < n; i++) {
		sum += 2 + lens[i];
	}
	buf = talloc_size(mem_ctx, sum);
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		buf[pos++] = (uint8_t)(lens[i] >> 8);
		buf[pos++] = (uint8_t)lens[i];
		for (j = 0; j < lens[i]; j++) {
			buf[pos++] = pdu_byte(i, j);
		}
	}
	*total = sum;
	return buf;
}

/* NULL if p holds PDU number idx of length len, else what is wrong. */
static const char *pdu_mismatch(const struct pdu *p, size_t idx, size_t len)
{
	size_t j;

	if (p->stage != 2) {
		return "PDU not complete";
	}
	if (p->len != len) {
		return "wrong PDU length";
	}
	for (j = 0; j < len; j++) {
		if (p->body[j] != pdu_byte(idx, j)) {
			return "wrong PDU content";
		}
	}
	/* header, body (if any), then the empty vector: no extra calls */
	if (p->calls != (len > 0 ? 3u : 2u)) {
		return "next_vector asked an unexpected number of times";
	}
	return NULL;
}

/*
 * A reader that reads n PDUs one after the other with readv_pdu, checking
 * each; failures are recorded (not asserted inside the loop).
 */
struct chain {
	struct tevent_context *ev;
	struct tstream_context *s;
	const size_t *lens;
	size_t n, got;
	size_t total, consumed;
	bool check_pending;	/* all data is there once a PDU is read */
	struct pdu *cur;
	bool done;
	char *fail;
};

static void chain_next(struct chain *c);

static void chain_fail(struct chain *c, const char *why, int err)
{
	c->fail = talloc_asprintf(c, "PDU %zu: %s (%s)", c->got, why,
				  strerror(err));
	c->done = true;
}

static void chain_done(struct tevent_req *req)
{
	struct chain *c = tevent_req_callback_data(req, struct chain);
	const char *why;
	int ret, err = 0;

	ret = tstream_readv_pdu_recv(req, &err);
	talloc_free(req);
	if (ret == -1) {
		chain_fail(c, "readv_pdu failed", err);
		return;
	}
	if ((size_t)ret != 2 + c->lens[c->got]) {
		chain_fail(c, "wrong byte count", 0);
		return;
	}
	why = pdu_mismatch(c->cur, c->got, c->lens[c->got]);
	if (why != NULL) {
		chain_fail(c, why, 0);
		return;
	}
	c->consumed += (size_t)ret;
	if (c->check_pending &&
	    tstream_pending_bytes(c->s) != (ssize_t)(c->total - c->consumed)) {
		chain_fail(c, "read more than the PDU", 0);
		return;
	}
	TALLOC_FREE(c->cur);
	c->got++;
	chain_next(c);
}

static void chain_next(struct chain *c)
{
	struct tevent_req *req;

	if (c->got == c->n) {
		c->done = true;
		return;
	}
	c->cur = pdu_new(c);
	req = tstream_readv_pdu_send(c, c->ev, c->s, pdu_next_vector, c->cur);
	if (req == NULL) {
		chain_fail(c, "readv_pdu_send returned NULL", ENOMEM);
		return;
	}
	tevent_req_set_callback(req, chain_done, c);
}

static struct chain *chain_start(struct tu_ctx *t, struct tstream_context *s,
				 const size_t *lens, size_t n)
{
	struct chain *c = talloc_zero(t->mem, struct chain);

	assert_non_null(c);
	c->ev = t->ev;
	c->s = s;
	c->lens = lens;
	c->n = n;
	chain_next(c);
	return c;
}

static void chain_check(struct chain *c)
{
	if (c->fail != NULL) {
		fail_msg("%s", c->fail);
	}
	assert_true(c->done);
	assert_int_equal(c->got, c->n);
}

/* A writer that sends a buffer one byte per writev, on the same loop. */
struct trickle {
	struct tevent_context *ev;
	struct tstream_context *s;
	const uint8_t *data;
	size_t len, pos;
	struct iovec iov;
	bool done;
	int err;
};

static void trickle_next(struct trickle *tr);

static void trickle_done(struct tevent_req *req)
{
	struct trickle *tr = tevent_req_callback_data(req, struct trickle);
	int ret = tstream_writev_recv(req, &tr->err);

	talloc_free(req);
	if (ret != 1) {
		if (tr->err == 0) {
			tr->err = EIO;
		}
		tr->done = true;
		return;
	}
	tr->pos++;
	trickle_next(tr);
}

static void trickle_next(struct trickle *tr)
{
	struct tevent_req *req;

	if (tr->pos == tr->len) {
		tr->done = true;
		return;
	}
	tr->iov.iov_base = discard_const(tr->data + tr->pos);
	tr->iov.iov_len = 1;
	req = tstream_writev_send(tr, tr->ev, tr->s, &tr->iov, 1);
	if (req == NULL) {
		tr->err = ENOMEM;
		tr->done = true;
		return;
	}
	tevent_req_set_callback(req, trickle_done, tr);
}

/* ------------------------------------------------------------------ */
/* readv_pdu                                                          */
/* ------------------------------------------------------------------ */

/*
 * Rule: readv_pdu asks next_vector for buffers until it returns an empty
 * vector and returns the total: each whole PDU written is read whole,
 * and nothing of the stream beyond it is consumed.
 */
static void test_pdu_whole(void **state)
{
	struct tu_ctx *t = *state;
	static const size_t lens[] = { 5, 0, 300, PDU_MAX, 1 };
	struct tstream_context *w, *r;
	size_t i;

	stream_pair(t, &w, &r);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct pdu *p = pdu_new(t->mem);
		struct tevent_req *req;
		size_t total;
		uint8_t *buf;
		const char *why;
		int err = 0;

		/* the PDU of index i, built as the only one in a buffer */
		buf = pdus_build(t->mem, &lens[i], 1, &total);
		assert_int_equal(do_writev(t, w, buf, total, &err),
				 (int)total);
		req = tstream_readv_pdu_send(t->mem, t->ev, r,
					     pdu_next_vector, p);
		wait_req(t, req);
		assert_int_equal(tstream_readv_pdu_recv(req, &err),
				 (int)(2 + lens[i]));
		talloc_free(req);
		why = pdu_mismatch(p, 0, lens[i]);
		if (why != NULL) {
			fail_msg("PDU %zu: %s", i, why);
		}
		assert_int_equal(tstream_pending_bytes(r), 0);
		talloc_free(p);
		talloc_free(buf);
	}
	talloc_free(w);
	talloc_free(r);
}

/*
 * Rule: PDUs written one byte at a time by a writer on the same loop are
 * still read whole: readv_pdu only completes when next_vector says so.
 */
static void test_pdu_byte_by_byte(void **state)
{
	struct tu_ctx *t = *state;
	static const size_t lens[] = { 300, 1, 0, 2, 777 };
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	struct tstream_context *w, *r;
	struct trickle *tr;
	struct chain *c;

	stream_pair(t, &w, &r);
	tr = talloc_zero(t->mem, struct trickle);
	assert_non_null(tr);
	tr->ev = t->ev;
	tr->s = w;
	tr->data = pdus_build(tr, lens, n, &tr->len);

	c = chain_start(t, r, lens, n);
	trickle_next(tr);
	assert_true(tu_loop_until(t->ev, &c->done, TIMEOUT_MS));
	chain_check(c);
	assert_true(tu_loop_until(t->ev, &tr->done, TIMEOUT_MS));
	assert_int_equal(tr->err, 0);
	assert_int_equal(tr->pos, tr->len);
	assert_int_equal(tstream_pending_bytes(r), 0);
	talloc_free(c);
	talloc_free(tr);
	talloc_free(w);
	talloc_free(r);
}

/*
 * Rule: many PDUs arriving in one write are split correctly: each
 * readv_pdu takes exactly one PDU and leaves the rest in the stream.
 */
static void test_pdu_many_in_one_write(void **state)
{
	struct tu_ctx *t = *state;
	size_t lens[40];
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	struct tstream_context *w, *r;
	struct chain *c;
	uint8_t *buf;
	size_t i, total;
	int err = 0;

	for (i = 0; i < n; i++) {
		lens[i] = (i * 97) % 700;	/* includes 0 */
	}
	stream_pair(t, &w, &r);
	buf = pdus_build(t->mem, lens, n, &total);
	c = chain_start(t, r, lens, n);
	c->total = total;
	c->check_pending = true;
	assert_int_equal(do_writev(t, w, buf, total, &err), (int)total);
	assert_true(tu_loop_until(t->ev, &c->done, TIMEOUT_MS));
	chain_check(c);
	assert_int_equal(c->consumed, total);
	assert_int_equal(tstream_pending_bytes(r), 0);
	talloc_free(c);
	talloc_free(buf);
	talloc_free(w);
	talloc_free(r);
}

/*
 * Rule: next_vector returning -1 with errno EPROTO fails the PDU read
 * with EPROTO, through the request, whether it fails after reading a
 * header or on its very first call.
 */
static void test_pdu_next_vector_error(void **state)
{
	struct tu_ctx *t = *state;
	static const uint8_t bad_hdr[2] = { 0xff, 0xff };
	struct tstream_context *w, *r;
	struct tevent_req *req;
	struct pdu *p;
	int err = 0;

	stream_pair(t, &w, &r);

	p = pdu_new(t->mem);
	p->fail_first = true;
	req = tstream_readv_pdu_send(t->mem, t->ev, r, pdu_next_vector, p);
	assert_non_null(req);
	wait_req(t, req);
	assert_int_equal(tstream_readv_pdu_recv(req, &err), -1);
	assert_int_equal(err, EPROTO);
	assert_int_equal(p->calls, 1);
	talloc_free(req);
	talloc_free(p);

	p = pdu_new(t->mem);
	assert_int_equal(do_writev(t, w, bad_hdr, 2, &err), 2);
	req = tstream_readv_pdu_send(t->mem, t->ev, r, pdu_next_vector, p);
	assert_non_null(req);
	wait_req(t, req);
	err = 0;
	assert_int_equal(tstream_readv_pdu_recv(req, &err), -1);
	assert_int_equal(err, EPROTO);
	assert_int_equal(p->calls, 2);
	talloc_free(req);
	talloc_free(p);
	talloc_free(w);
	talloc_free(r);
}

/* Read one PDU from r and expect it to fail with EPIPE. */
static void expect_pdu_epipe(struct tu_ctx *t, struct tstream_context *r)
{
	struct pdu *p = pdu_new(t->mem);
	struct tevent_req *req;
	int err = 0;

	req = tstream_readv_pdu_send(t->mem, t->ev, r, pdu_next_vector, p);
	wait_req(t, req);
	assert_int_equal(tstream_readv_pdu_recv(req, &err), -1);
	assert_int_equal(err, EPIPE);
	talloc_free(req);
	talloc_free(p);
}

/*
 * Rule: end of stream in the middle of a PDU (in its body or in its
 * header) fails the PDU read with EPIPE.
 */
static void test_pdu_eof_mid_pdu(void **state)
{
	struct tu_ctx *t = *state;
	static const uint8_t part[] = { 0x00, 0x0a, 'a', 'b', 'c', 'd' };
	struct tstream_context *w, *r;
	int err = 0;

	/* header says 10 bytes, only 4 come */
	stream_pair(t, &w, &r);
	assert_int_equal(do_writev(t, w, part, sizeof(part), &err),
			 (int)sizeof(part));
	talloc_free(w);
	expect_pdu_epipe(t, r);
	talloc_free(r);

	/* half a header */
	stream_pair(t, &w, &r);
	assert_int_equal(do_writev(t, w, part, 1, &err), 1);
	talloc_free(w);
	expect_pdu_epipe(t, r);
	talloc_free(r);
}

/* ------------------------------------------------------------------ */
/* Queues                                                             */
/* ------------------------------------------------------------------ */

#define QMAX 64

/*
 * Completion bookkeeping for up to QMAX queued requests.  The callbacks
 * keep their requests (freed at the end of the test): the next request in
 * a queue must start when the one before it completes, not only when the
 * caller gets round to freeing it.
 */
struct qrun {
	struct qone {
		struct qrun *q;
		int idx;
		struct tevent_req *req;
	} one[QMAX];
	int ret[QMAX];
	int err[QMAX];
	bool fired[QMAX];
	int order[QMAX];
	unsigned ndone, expected;
	bool done;
};

static struct qrun *qrun_new(TALLOC_CTX *mem_ctx, unsigned expected)
{
	struct qrun *q = talloc_zero(mem_ctx, struct qrun);
	int i;

	assert_non_null(q);
	for (i = 0; i < QMAX; i++) {
		q->one[i].q = q;
		q->one[i].idx = i;
	}
	q->expected = expected;
	return q;
}

/* Free the requests that are left. */
static void qrun_free(struct qrun *q)
{
	int i;

	for (i = 0; i < QMAX; i++) {
		TALLOC_FREE(q->one[i].req);
	}
	talloc_free(q);
}

static void qrun_record(struct qone *o, int ret, int err)
{
	struct qrun *q = o->q;

	q->ret[o->idx] = ret;
	q->err[o->idx] = err;
	q->fired[o->idx] = true;
	q->order[q->ndone++] = o->idx;
	if (q->ndone == q->expected) {
		q->done = true;
	}
}

static void qwrite_done(struct tevent_req *req)
{
	struct qone *o = tevent_req_callback_data_void(req);
	int err = 0;
	int ret = tstream_writev_queue_recv(req, &err);

	qrun_record(o, ret, err);
}

/* Message i of a queue test: i + 1 bytes of value i + 1. */
static void qmsgs(TALLOC_CTX *mem_ctx, int n, uint8_t **bufs,
		  struct iovec *iov)
{
	int i;

	for (i = 0; i < n; i++) {
		bufs[i] = talloc_size(mem_ctx, (size_t)i + 1);
		assert_non_null(bufs[i]);
		memset(bufs[i], i + 1, (size_t)i + 1);
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = (size_t)i + 1;
	}
}

/*
 * Read what the queued writes produced and check it is the messages
 * (except skip, if >= 0) in order, and nothing more.
 */
static void qcheck_stream(struct tu_ctx *t, struct tstream_context *r, int n,
			  int skip_idx)
{
	size_t total = 0, pos = 0;
	uint8_t *buf;
	int i, err = 0;
	size_t j;

	for (i = 0; i < n; i++) {
		if (i != skip_idx) {
			total += (size_t)i + 1;
		}
	}
	buf = talloc_size(t->mem, total);
	assert_non_null(buf);
	assert_int_equal(do_readv(t, r, buf, total, &err), (int)total);
	for (i = 0; i < n; i++) {
		if (i == skip_idx) {
			continue;
		}
		for (j = 0; j < (size_t)i + 1; j++) {
			if (buf[pos + j] != (uint8_t)(i + 1)) {
				fail_msg("message %d out of order at byte "
					 "%zu", i, pos + j);
			}
		}
		pos += (size_t)i + 1;
	}
	assert_int_equal(tstream_pending_bytes(r), 0);
	talloc_free(buf);
}

/*
 * Rule: tstream_writev_queue_send serializes writes: 50 started at once
 * all succeed, complete in order, and their bytes arrive in order.
 */
static void test_writev_queue_order(void **state)
{
	struct tu_ctx *t = *state;
	const int n = 50;
	struct tstream_context *w, *r;
	struct tevent_queue *queue;
	uint8_t *bufs[QMAX];
	struct iovec iov[QMAX];
	struct qrun *q = qrun_new(t->mem, (unsigned)n);
	int i;

	stream_pair(t, &w, &r);
	queue = tevent_queue_create(t->mem, "writev_queue_order");
	assert_non_null(queue);
	qmsgs(t->mem, n, bufs, iov);
	for (i = 0; i < n; i++) {
		struct tevent_req *req;

		req = tstream_writev_queue_send(t->mem, t->ev, w, queue,
						&iov[i], 1);
		assert_non_null(req);
		tevent_req_set_callback(req, qwrite_done, &q->one[i]);
		q->one[i].req = req;
	}
	assert_true(tu_loop_until(t->ev, &q->done, TIMEOUT_MS));
	for (i = 0; i < n; i++) {
		assert_int_equal(q->ret[i], i + 1);
		assert_int_equal(q->order[i], i);
	}
	assert_int_equal(tevent_queue_length(queue), 0);
	qcheck_stream(t, r, n, -1);
	qrun_free(q);
	talloc_free(queue);
	talloc_free(w);
	talloc_free(r);
	for (i = 0; i < n; i++) {
		talloc_free(bufs[i]);
	}
}

/*
 * Rule: a queued write freed before it started leaves the queue: its
 * bytes are never written, its callback never fires, and the others
 * still arrive in order.
 */
static void test_writev_queue_free_waiting(void **state)
{
	struct tu_ctx *t = *state;
	const int n = 10, victim = 5;
	struct tstream_context *w, *r;
	struct tevent_queue *queue;
	struct tevent_req *reqs[QMAX];
	uint8_t *bufs[QMAX];
	struct iovec iov[QMAX];
	struct qrun *q = qrun_new(t->mem, (unsigned)n - 1);
	size_t qlen;
	int i;

	stream_pair(t, &w, &r);
	queue = tevent_queue_create(t->mem, "writev_queue_free");
	assert_non_null(queue);
	qmsgs(t->mem, n, bufs, iov);
	for (i = 0; i < n; i++) {
		reqs[i] = tstream_writev_queue_send(t->mem, t->ev, w, queue,
						    &iov[i], 1);
		assert_non_null(reqs[i]);
		tevent_req_set_callback(reqs[i], qwrite_done, &q->one[i]);
		q->one[i].req = reqs[i];
	}
	/* nothing ran yet: the victim is waiting behind five others */
	qlen = tevent_queue_length(queue);
	assert_true(qlen > 0);
	talloc_free(reqs[victim]);
	q->one[victim].req = NULL;
	assert_int_equal(tevent_queue_length(queue), qlen - 1);

	assert_true(tu_loop_until(t->ev, &q->done, TIMEOUT_MS));
	assert_false(q->fired[victim]);
	for (i = 0; i < n - 1; i++) {
		int idx = i < victim ? i : i + 1;

		assert_int_equal(q->order[i], idx);
		assert_int_equal(q->ret[idx], idx + 1);
	}
	qcheck_stream(t, r, n, victim);
	qrun_free(q);
	talloc_free(queue);
	talloc_free(w);
	talloc_free(r);
	for (i = 0; i < n; i++) {
		talloc_free(bufs[i]);
	}
}

static void qpdu_done(struct tevent_req *req)
{
	struct qone *o = tevent_req_callback_data_void(req);
	int err = 0;
	int ret = tstream_readv_pdu_queue_recv(req, &err);

	qrun_record(o, ret, err);
}

/*
 * Rule: readv_pdu_queue serializes PDU reads: readers queued at once get
 * consecutive PDUs, in the order they were queued.
 */
static void test_readv_pdu_queue_order(void **state)
{
	struct tu_ctx *t = *state;
	static const size_t lens[] = { 3, 0, 200, 1, 50, 999 };
	const int n = sizeof(lens) / sizeof(lens[0]);
	struct tstream_context *w, *r;
	struct tevent_queue *queue;
	struct pdu *p[sizeof(lens) / sizeof(lens[0])];
	struct qrun *q = qrun_new(t->mem, (unsigned)n);
	uint8_t *buf;
	size_t total;
	int i, err = 0;

	stream_pair(t, &w, &r);
	queue = tevent_queue_create(t->mem, "readv_pdu_queue");
	assert_non_null(queue);
	for (i = 0; i < n; i++) {
		struct tevent_req *req;

		p[i] = pdu_new(t->mem);
		req = tstream_readv_pdu_queue_send(t->mem, t->ev, r, queue,
						   pdu_next_vector, p[i]);
		assert_non_null(req);
		tevent_req_set_callback(req, qpdu_done, &q->one[i]);
		q->one[i].req = req;
	}
	buf = pdus_build(t->mem, lens, (size_t)n, &total);
	assert_int_equal(do_writev(t, w, buf, total, &err), (int)total);
	assert_true(tu_loop_until(t->ev, &q->done, TIMEOUT_MS));
	for (i = 0; i < n; i++) {
		const char *why;

		assert_int_equal(q->order[i], i);
		assert_int_equal(q->ret[i], (int)(2 + lens[i]));
		why = pdu_mismatch(p[i], (size_t)i, lens[i]);
		if (why != NULL) {
			fail_msg("reader %d: %s", i, why);
		}
		talloc_free(p[i]);
	}
	assert_int_equal(tstream_pending_bytes(r), 0);
	talloc_free(buf);
	qrun_free(q);
	talloc_free(queue);
	talloc_free(w);
	talloc_free(r);
}

/* Datagrams received on the raw end of the dgram socketpair. */
struct dgram_sink {
	uint8_t data[QMAX][QMAX];
	ssize_t len[QMAX];
	unsigned n;
	int fd;
	int err;
};

static void dgram_sink_read(struct tevent_context *ev, struct tevent_fd *fde,
			    uint16_t flags, void *private_data)
{
	struct dgram_sink *sink = private_data;
	int fd = sink->fd;

	(void)ev;
	(void)fde;
	(void)flags;
	for (;;) {
		uint8_t tmp[QMAX + 1];
		ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				sink->err = errno;
			}
			return;
		}
		if (sink->n == QMAX || n > QMAX) {
			sink->err = EMSGSIZE;
			return;
		}
		memcpy(sink->data[sink->n], tmp, (size_t)n);
		sink->len[sink->n++] = n;
	}
}

static void qsendto_done(struct tevent_req *req)
{
	struct qone *o = tevent_req_callback_data_void(req);
	int err = 0;
	ssize_t ret = tdgram_sendto_queue_recv(req, &err);

	qrun_record(o, (int)ret, err);
}

/*
 * Rule: tdgram_sendto_queue_send serializes datagrams: 20 started at once
 * on a wrapped unix datagram socketpair (more than its queue holds, so
 * some have to wait) all succeed and arrive in order.
 */
static void test_dgram_sendto_queue_order(void **state)
{
	struct tu_ctx *t = *state;
	const int n = 20;
	struct tdgram_context *d = NULL;
	struct tevent_queue *queue;
	struct dgram_sink *sink = talloc_zero(t->mem, struct dgram_sink);
	struct qrun *q = qrun_new(t->mem, (unsigned)n);
	struct tevent_fd *fde;
	uint8_t *bufs[QMAX];
	struct iovec iov[QMAX];
	int sv[2], fl, i;

	assert_non_null(sink);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	fl = fcntl(sv[0], F_GETFL);
	assert_int_equal(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK), 0);
	if (tdgram_bsd_existing_socket(t->mem, sv[0], &d) != 0) {
		close(sv[0]);
		close(sv[1]);
		fail_msg("tdgram_bsd_existing_socket: %s", strerror(errno));
	}
	assert_non_null(d);
	queue = tevent_queue_create(t->mem, "sendto_queue");
	assert_non_null(queue);
	qmsgs(t->mem, n, bufs, iov);
	for (i = 0; i < n; i++) {
		struct tevent_req *req;

		req = tdgram_sendto_queue_send(t->mem, t->ev, d, queue,
					       bufs[i], (size_t)i + 1, NULL);
		assert_non_null(req);
		tevent_req_set_callback(req, qsendto_done, &q->one[i]);
		q->one[i].req = req;
	}
	/*
	 * Let the queue fill the socket up before anyone reads (the kernel
	 * queues only about 10 datagrams, so the rest have to wait).
	 */
	(void)tu_loop_until(t->ev, &q->done, 20);
	sink->fd = sv[1];
	fde = tevent_add_fd(t->ev, t->mem, sv[1], TEVENT_FD_READ,
			    dgram_sink_read, sink);
	assert_non_null(fde);
	assert_true(tu_loop_until(t->ev, &q->done, TIMEOUT_MS));
	/* one more pass for the datagrams sent last */
	dgram_sink_read(t->ev, fde, TEVENT_FD_READ, sink);
	talloc_free(fde);

	assert_int_equal(sink->err, 0);
	assert_int_equal(sink->n, n);
	for (i = 0; i < n; i++) {
		uint8_t want[QMAX];

		assert_int_equal(q->order[i], i);
		assert_int_equal(q->ret[i], i + 1);
		assert_int_equal(sink->len[i], i + 1);
		memset(want, i + 1, (size_t)i + 1);
		assert_memory_equal(sink->data[i], want, (size_t)i + 1);
	}
	talloc_free(d);
	close(sv[1]);
	qrun_free(q);
	talloc_free(queue);
	talloc_free(sink);
	for (i = 0; i < n; i++) {
		talloc_free(bufs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
		T(test_pdu_whole),
		T(test_pdu_byte_by_byte),
		T(test_pdu_many_in_one_write),
		T(test_pdu_next_vector_error),
		T(test_pdu_eof_mid_pdu),
		T(test_writev_queue_order),
		T(test_writev_queue_free_waiting),
		T(test_readv_pdu_queue_order),
		T(test_dgram_sendto_queue_order),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
