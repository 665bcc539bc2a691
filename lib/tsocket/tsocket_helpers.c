/*
 * tsocket_helpers.c - reading whole PDUs, and queued I/O
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include "tsocket_internal.h"

/* ---------------------------------------------------------------- readv_pdu */

struct tstream_readv_pdu_state {
	struct tevent_context *ev;
	struct tstream_context *stream;
	tstream_readv_pdu_next_vector_t next_vector_fn;
	void *next_vector_private;
	int total;
};

static void tstream_readv_pdu_readv_done(struct tevent_req *subreq);

/*
 * Ask next_vector_fn what to read next and start reading it.  Vectors are
 * allocated on the request's state and go away with it.
 */
static void tstream_readv_pdu_next(struct tevent_req *req)
{
	struct tstream_readv_pdu_state *state = tevent_req_data(req,
					struct tstream_readv_pdu_state);
	struct tevent_req *subreq;
	struct iovec *vector = NULL;
	size_t count = 0;

	errno = 0;
	if (state->next_vector_fn(state->stream, state->next_vector_private,
				  state, &vector, &count) == -1) {
		tevent_req_error(req, errno != 0 ? errno : EIO);
		return;
	}
	if (count == 0) {
		tevent_req_done(req);
		return;
	}
	subreq = tstream_readv_send(state, state->ev, state->stream,
				    vector, count);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tstream_readv_pdu_readv_done, req);
}

struct tevent_req *tstream_readv_pdu_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				struct tstream_context *stream,
				tstream_readv_pdu_next_vector_t next_vector_fn,
				void *next_vector_private)
{
	struct tevent_req *req;
	struct tstream_readv_pdu_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_readv_pdu_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->stream = stream;
	state->next_vector_fn = next_vector_fn;
	state->next_vector_private = next_vector_private;
	if (next_vector_fn == NULL) {
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	tstream_readv_pdu_next(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static void tstream_readv_pdu_readv_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_readv_pdu_state *state = tevent_req_data(req,
					struct tstream_readv_pdu_state);
	int err = 0;
	int ret;

	ret = tstream_readv_recv(subreq, &err);
	TALLOC_FREE(subreq);
	if (ret == -1) {
		tevent_req_error(req, err);
		return;
	}
	if (ret > INT_MAX - state->total) {
		tevent_req_error(req, EMSGSIZE);
		return;
	}
	state->total += ret;
	tstream_readv_pdu_next(req);
}

int tstream_readv_pdu_recv(struct tevent_req *req, int *perrno)
{
	struct tstream_readv_pdu_state *state = tevent_req_data(req,
					struct tstream_readv_pdu_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = state->total;
	}
	tevent_req_received(req);
	return ret;
}

/* ---------------------------------------------------------------- queues */

/*
 * The state of every queued request starts with this.  The queue entry is
 * dropped as soon as the request finishes, so the next one in the queue
 * starts then, not only when the caller gets round to freeing this one.
 */
struct tsocket_queued {
	struct tevent_queue_entry *entry;
	struct tevent_context *ev;
	ssize_t ret;
};

/*
 * Lives on the queue entry to notice when something else frees it (the
 * queue itself, when it is freed first), so we never free it twice.
 */
struct tsocket_queued_guard {
	struct tsocket_queued *q;
};

static int tsocket_queued_guard_destructor(struct tsocket_queued_guard *g)
{
	g->q->entry = NULL;
	return 0;
}

static void tsocket_queued_cleanup(struct tevent_req *req,
				   enum tevent_req_state req_state)
{
	struct tsocket_queued *q = _tevent_req_data(req);

	TALLOC_FREE(q->entry);
}

/* Queue req to run trigger in its turn; false if it failed already. */
static bool tsocket_queued_add(struct tevent_req *req,
			       struct tevent_context *ev,
			       struct tevent_queue *queue,
			       tevent_queue_trigger_fn_t trigger)
{
	struct tsocket_queued *q = _tevent_req_data(req);
	struct tsocket_queued_guard *guard;

	q->ev = ev;
	q->entry = tevent_queue_add_entry(queue, ev, req, trigger, NULL);
	if (tevent_req_nomem(q->entry, req)) {
		return false;
	}
	guard = talloc_zero(q->entry, struct tsocket_queued_guard);
	if (tevent_req_nomem(guard, req)) {
		TALLOC_FREE(q->entry);
		return false;
	}
	guard->q = q;
	talloc_set_destructor(guard, tsocket_queued_guard_destructor);
	tevent_req_set_cleanup_fn(req, tsocket_queued_cleanup);
	return true;
}

/* Finish req with the result of its operation. */
static void tsocket_queued_finish(struct tevent_req *req, ssize_t ret,
				  int err)
{
	struct tsocket_queued *q = _tevent_req_data(req);

	if (ret == -1) {
		tevent_req_error(req, err);
		return;
	}
	q->ret = ret;
	tevent_req_done(req);
}

static ssize_t tsocket_queued_recv(struct tevent_req *req, int *perrno)
{
	struct tsocket_queued *q = _tevent_req_data(req);
	ssize_t ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = q->ret;
	}
	tevent_req_received(req);
	return ret;
}

/* ---------------------------------------------------------------- sendto */

struct tdgram_sendto_queue_state {
	struct tsocket_queued q;	/* first: see tsocket_queued */
	struct tdgram_context *dgram;
	const uint8_t *buf;
	size_t len;
	const struct tsocket_address *dst;
};

static void tdgram_sendto_queue_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = 0;
	ssize_t ret = tdgram_sendto_recv(subreq, &err);

	TALLOC_FREE(subreq);
	tsocket_queued_finish(req, ret, err);
}

static void tdgram_sendto_queue_trigger(struct tevent_req *req,
					void *private_data)
{
	struct tdgram_sendto_queue_state *state = tevent_req_data(req,
					struct tdgram_sendto_queue_state);
	struct tevent_req *subreq;

	subreq = tdgram_sendto_send(state, state->q.ev, state->dgram,
				    state->buf, state->len, state->dst);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tdgram_sendto_queue_done, req);
}

struct tevent_req *tdgram_sendto_queue_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tdgram_context *dgram,
					    struct tevent_queue *queue,
					    const uint8_t *buf,
					    size_t len,
					    struct tsocket_address *dst)
{
	struct tevent_req *req;
	struct tdgram_sendto_queue_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tdgram_sendto_queue_state);
	if (req == NULL) {
		return NULL;
	}
	state->dgram = dgram;
	state->buf = buf;
	state->len = len;
	state->dst = dst;
	if (!tsocket_queued_add(req, ev, queue, tdgram_sendto_queue_trigger)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

ssize_t tdgram_sendto_queue_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_queued_recv(req, perrno);
}

/* ---------------------------------------------------------------- readv_pdu */

struct tstream_readv_pdu_queue_state {
	struct tsocket_queued q;	/* first: see tsocket_queued */
	struct tstream_context *stream;
	tstream_readv_pdu_next_vector_t next_vector_fn;
	void *next_vector_private;
};

static void tstream_readv_pdu_queue_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = 0;
	int ret = tstream_readv_pdu_recv(subreq, &err);

	TALLOC_FREE(subreq);
	tsocket_queued_finish(req, ret, err);
}

static void tstream_readv_pdu_queue_trigger(struct tevent_req *req,
					    void *private_data)
{
	struct tstream_readv_pdu_queue_state *state = tevent_req_data(req,
					struct tstream_readv_pdu_queue_state);
	struct tevent_req *subreq;

	subreq = tstream_readv_pdu_send(state, state->q.ev, state->stream,
					state->next_vector_fn,
					state->next_vector_private);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tstream_readv_pdu_queue_done, req);
}

struct tevent_req *tstream_readv_pdu_queue_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				struct tstream_context *stream,
				struct tevent_queue *queue,
				tstream_readv_pdu_next_vector_t next_vector_fn,
				void *next_vector_private)
{
	struct tevent_req *req;
	struct tstream_readv_pdu_queue_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_readv_pdu_queue_state);
	if (req == NULL) {
		return NULL;
	}
	state->stream = stream;
	state->next_vector_fn = next_vector_fn;
	state->next_vector_private = next_vector_private;
	if (!tsocket_queued_add(req, ev, queue,
				tstream_readv_pdu_queue_trigger)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

int tstream_readv_pdu_queue_recv(struct tevent_req *req, int *perrno)
{
	return (int)tsocket_queued_recv(req, perrno);
}

/* ---------------------------------------------------------------- writev */

struct tstream_writev_queue_state {
	struct tsocket_queued q;	/* first: see tsocket_queued */
	struct tstream_context *stream;
	const struct iovec *vector;
	size_t count;
};

static void tstream_writev_queue_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = 0;
	int ret = tstream_writev_recv(subreq, &err);

	TALLOC_FREE(subreq);
	tsocket_queued_finish(req, ret, err);
}

static void tstream_writev_queue_trigger(struct tevent_req *req,
					 void *private_data)
{
	struct tstream_writev_queue_state *state = tevent_req_data(req,
					struct tstream_writev_queue_state);
	struct tevent_req *subreq;

	subreq = tstream_writev_send(state, state->q.ev, state->stream,
				     state->vector, state->count);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tstream_writev_queue_done, req);
}

struct tevent_req *tstream_writev_queue_send(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     struct tstream_context *stream,
					     struct tevent_queue *queue,
					     const struct iovec *vector,
					     size_t count)
{
	struct tevent_req *req;
	struct tstream_writev_queue_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_writev_queue_state);
	if (req == NULL) {
		return NULL;
	}
	state->stream = stream;
	/* the caller's array may be gone by the time our turn comes */
	if (count > 0 && vector != NULL) {
		state->vector = talloc_memdup(state, vector,
					      count * sizeof(*vector));
		if (tevent_req_nomem(state->vector, req)) {
			return tevent_req_post(req, ev);
		}
	}
	state->count = count;
	if (!tsocket_queued_add(req, ev, queue,
				tstream_writev_queue_trigger)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

int tstream_writev_queue_recv(struct tevent_req *req, int *perrno)
{
	return (int)tsocket_queued_recv(req, perrno);
}
