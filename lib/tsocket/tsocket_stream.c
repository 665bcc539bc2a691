/*
 * tsocket_stream.c - the generic stream layer
 *
 * Each public request wraps one backend request.  The generic layer checks
 * vectors, enforces one read and one write at a time (EBUSY), and remembers
 * them so that freeing the stream can discard them before the backend
 * state they point into goes away.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include "tsocket_internal.h"

struct tstream_context {
	const char *location;
	const struct tstream_context_ops *ops;
	void *private_data;

	struct tevent_req *readv_req;
	struct tevent_req *writev_req;
	struct tevent_req *control_req;	/* a disconnect or a shutdown */
	struct tevent_req *monitor_req;
	bool write_shut;	/* tstream_shutdown started: writes EPIPE */
	bool disconnecting;	/* tstream_disconnect started: no more I/O */
};

static int tstream_context_destructor(struct tstream_context *stream)
{
	/* see tdgram_context_destructor() */
	if (stream->readv_req != NULL) {
		tevent_req_received(stream->readv_req);
	}
	if (stream->writev_req != NULL) {
		tevent_req_received(stream->writev_req);
	}
	if (stream->control_req != NULL) {
		tevent_req_received(stream->control_req);
	}
	if (stream->monitor_req != NULL) {
		tevent_req_received(stream->monitor_req);
	}
	return 0;
}

struct tstream_context *_tstream_context_create(TALLOC_CTX *mem_ctx,
					const struct tstream_context_ops *ops,
					void *pstate, size_t psize,
					const char *type,
					const char *location)
{
	void **ppstate = (void **)pstate;
	struct tstream_context *stream;

	stream = talloc_zero(mem_ctx, struct tstream_context);
	if (stream == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	stream->location = location;
	/* talloc reports then name the caller that created it */
	talloc_set_name_const(stream, location);
	stream->ops = ops;
	stream->private_data = talloc_zero_size(stream, psize);
	if (stream->private_data == NULL) {
		talloc_free(stream);
		errno = ENOMEM;
		return NULL;
	}
	talloc_set_name_const(stream->private_data, type);
	talloc_set_destructor(stream, tstream_context_destructor);
	*ppstate = stream->private_data;
	return stream;
}

void *_tstream_context_data(struct tstream_context *stream)
{
	return stream->private_data;
}

const char *tstream_error_message(struct tstream_context *stream)
{
	if (stream->ops->error_message == NULL) {
		return NULL;
	}
	return stream->ops->error_message(stream);
}

ssize_t tstream_pending_bytes(struct tstream_context *stream)
{
	return stream->ops->pending_bytes(stream);
}

/*
 * State shared by all stream requests: which slot of the stream the
 * request holds (NULL once it let go of it), the backend's recv function
 * and the result.
 */
struct tstream_io_state {
	const struct tstream_context_ops *ops;
	struct tstream_context *stream;
	struct tevent_context *ev;
	int (*recv_fn)(struct tevent_req *req, int *perrno);
	struct tevent_req **slot;
	int ret;
	uint8_t *buf;		/* tstream_read_some_alloc only */
	struct tevent_req *backend;	/* tstream_monitor only */
};

static int tstream_io_state_destructor(struct tstream_io_state *state)
{
	if (state->slot != NULL) {
		*state->slot = NULL;
		state->slot = NULL;
	}
	return 0;
}

/*
 * Create a readv/writev request: check the vector and the slot, and take
 * the slot.  Returns the request; *ok is false if it already failed.
 */
static struct tevent_req *tstream_io_create(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tstream_context *stream,
					    struct tevent_req **slot,
					    const struct iovec *vector,
					    size_t count, bool *ok)
{
	struct tevent_req *req;
	struct tstream_io_state *state;
	size_t total;
	int err;

	*ok = false;
	req = tevent_req_create(mem_ctx, &state, struct tstream_io_state);
	if (req == NULL) {
		return NULL;
	}
	err = tsocket_iovec_check(vector, count, &total);
	if (err == 0 && stream->disconnecting) {
		err = ENOTCONN;
	}
	if (err == 0 && *slot != NULL) {
		err = EBUSY;
	}
	if (err == 0 && slot == &stream->writev_req && stream->write_shut) {
		err = EPIPE;
	}
	if (err != 0) {
		tevent_req_error(req, err);
		return tevent_req_post(req, ev);
	}
	state->ops = stream->ops;
	state->stream = stream;
	state->ev = ev;
	state->slot = slot;
	*slot = req;
	talloc_set_destructor(state, tstream_io_state_destructor);
	*ok = true;
	return req;
}

static void tstream_monitor_end(struct tstream_context *stream,
				struct tevent_context *ev, int err);

/* Finish a readv/writev once the backend request has given its result. */
static void tstream_io_finish(struct tevent_req *req, int ret, int err)
{
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	struct tstream_context *stream = state->stream;

	if (ret == -1 && state->slot != NULL && stream != NULL &&
	    (state->slot == &stream->readv_req ||
	     state->slot == &stream->writev_req)) {
		/* as in Samba: a failed read or write ends the watch too */
		tstream_monitor_end(stream, state->ev, err);
	}
	state->ret = ret;
	/* free the slot first: the callback may well start the next one */
	tstream_io_state_destructor(state);
	if (ret == -1) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static int tstream_io_recv(struct tevent_req *req, int *perrno)
{
	struct tstream_io_state *state;
	int ret;

	if (tsocket_req_is_error(req, perrno)) {
		tevent_req_received(req);
		return -1;
	}
	state = tevent_req_data(req, struct tstream_io_state);
	ret = state->ret;
	tevent_req_received(req);
	return ret;
}

/* ---------------------------------------------------------------- readv */

static void tstream_readv_done(struct tevent_req *subreq);

struct tevent_req *tstream_readv_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      struct tstream_context *stream,
				      struct iovec *vector,
				      size_t count)
{
	struct tevent_req *req, *subreq;
	bool ok;

	req = tstream_io_create(mem_ctx, ev, stream, &stream->readv_req,
				vector, count, &ok);
	if (!ok) {
		return req;
	}
	subreq = stream->ops->readv_send(_tevent_req_data(req), ev,
					 stream, vector, count);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_readv_done, req);
	return req;
}

static void tstream_readv_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	int err = 0;
	int ret;

	ret = state->ops->readv_recv(subreq, &err);
	TALLOC_FREE(subreq);
	tstream_io_finish(req, ret, err);
}

int tstream_readv_recv(struct tevent_req *req, int *perrno)
{
	return tstream_io_recv(req, perrno);
}

/* ---------------------------------------------------------------- writev */

static void tstream_writev_done(struct tevent_req *subreq);

struct tevent_req *tstream_writev_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct tstream_context *stream,
				       const struct iovec *vector,
				       size_t count)
{
	struct tevent_req *req, *subreq;
	bool ok;

	req = tstream_io_create(mem_ctx, ev, stream, &stream->writev_req,
				vector, count, &ok);
	if (!ok) {
		return req;
	}
	subreq = stream->ops->writev_send(_tevent_req_data(req), ev,
					  stream, vector, count);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_writev_done, req);
	return req;
}

static void tstream_writev_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	int err = 0;
	int ret;

	ret = state->ops->writev_recv(subreq, &err);
	TALLOC_FREE(subreq);
	tstream_io_finish(req, ret, err);
}

int tstream_writev_recv(struct tevent_req *req, int *perrno)
{
	return tstream_io_recv(req, perrno);
}

/* ---------------------------------------------------------------- disconnect */

/*
 * Disconnect and shutdown hold the stream's control slot while the
 * backend works, so that freeing the stream discards them too.
 */
static struct tevent_req *tstream_control_create(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					int busy_err, bool *ok)
{
	struct tevent_req *req;
	struct tstream_io_state *state;

	*ok = false;
	req = tevent_req_create(mem_ctx, &state, struct tstream_io_state);
	if (req == NULL) {
		return NULL;
	}
	if (busy_err != 0 || stream->control_req != NULL) {
		tevent_req_error(req, busy_err != 0 ? busy_err : EBUSY);
		return tevent_req_post(req, ev);
	}
	state->ops = stream->ops;
	state->stream = stream;
	state->slot = &stream->control_req;
	stream->control_req = req;
	talloc_set_destructor(state, tstream_io_state_destructor);
	*ok = true;
	return req;
}

static void tstream_control_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	int err = 0;
	int ret;

	ret = state->recv_fn(subreq, &err);
	TALLOC_FREE(subreq);
	if (ret == -1) {
		/* it failed: the stream is as it was (and still alive, or
		 * this request would have been discarded with it) */
		if (state->recv_fn == state->ops->shutdown_recv) {
			state->stream->write_shut = false;
		} else {
			state->stream->disconnecting = false;
		}
	}
	tstream_io_finish(req, ret, err);
}

struct tevent_req *tstream_disconnect_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *stream)
{
	struct tevent_req *req, *subreq;
	struct tstream_io_state *state;
	bool busy = stream->readv_req != NULL || stream->writev_req != NULL;
	bool ok;

	req = tstream_control_create(mem_ctx, ev, stream, busy ? EBUSY : 0,
				     &ok);
	if (!ok) {
		return req;
	}
	state = tevent_req_data(req, struct tstream_io_state);
	state->recv_fn = stream->ops->disconnect_recv;
	stream->disconnecting = true;
	tstream_monitor_end(stream, ev, ECONNABORTED);
	subreq = stream->ops->disconnect_send(state, ev, stream);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_control_done, req);
	return req;
}

int tstream_disconnect_recv(struct tevent_req *req, int *perrno)
{
	return tstream_io_recv(req, perrno) == -1 ? -1 : 0;
}

/* ---------------------------------------------------------------- shutdown */

struct tevent_req *tstream_shutdown_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_context *stream)
{
	struct tevent_req *req, *subreq;
	struct tstream_io_state *state;
	int err = 0;
	bool ok;

	if (stream->writev_req != NULL) {
		err = EBUSY;
	} else if (stream->ops->shutdown_send == NULL) {
		err = ENOTSUP;
	}
	req = tstream_control_create(mem_ctx, ev, stream, err, &ok);
	if (!ok) {
		return req;
	}
	if (stream->write_shut) {
		tstream_io_finish(req, 0, 0);
		return tevent_req_post(req, ev);
	}
	/* from now on writes fail with EPIPE, even while this runs */
	stream->write_shut = true;
	state = tevent_req_data(req, struct tstream_io_state);
	state->recv_fn = stream->ops->shutdown_recv;
	subreq = stream->ops->shutdown_send(state, ev, stream);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_control_done, req);
	return req;
}

int tstream_shutdown_recv(struct tevent_req *req, int *perrno)
{
	return tstream_io_recv(req, perrno) == -1 ? -1 : 0;
}

/* ---------------------------------------------------------------- read_some */

/*
 * For backends without a read_some op: read what pending_bytes says has
 * arrived, or one byte (which waits for data) and then what came with
 * it.  Called on the backend ops directly: the public request already
 * holds the read slot.
 */
struct tstream_read_some_fallback_state {
	struct tevent_context *ev;
	struct tstream_context *stream;
	uint8_t *buf;
	size_t len, got;
	struct iovec iov;
};

static void tstream_read_some_fallback_done(struct tevent_req *subreq);

static void tstream_read_some_fallback_next(struct tevent_req *req)
{
	struct tstream_read_some_fallback_state *state = tevent_req_data(req,
				struct tstream_read_some_fallback_state);
	const struct tstream_context_ops *ops = state->stream->ops;
	struct tevent_req *subreq;
	ssize_t pending = ops->pending_bytes(state->stream);
	size_t want;

	if (state->got > 0 && (pending <= 0 || state->got == state->len)) {
		tevent_req_done(req);
		return;
	}
	want = pending > 0 ? (size_t)pending : 1;
	if (want > state->len - state->got) {
		want = state->len - state->got;
	}
	state->iov.iov_base = state->buf + state->got;
	state->iov.iov_len = want;
	subreq = ops->readv_send(state, state->ev, state->stream, &state->iov,
				 1);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tstream_read_some_fallback_done, req);
}

static void tstream_read_some_fallback_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_read_some_fallback_state *state = tevent_req_data(req,
				struct tstream_read_some_fallback_state);
	int err = 0;
	int n;

	n = state->stream->ops->readv_recv(subreq, &err);
	TALLOC_FREE(subreq);
	if (n == -1) {
		if (state->got > 0) {
			/* deliver what came; the error comes again next time */
			tevent_req_done(req);
			return;
		}
		tevent_req_error(req, err);
		return;
	}
	state->got += (size_t)n;
	tstream_read_some_fallback_next(req);
}

static struct tevent_req *tstream_read_some_fallback_send(
	TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	struct tstream_context *stream, uint8_t *buf, size_t len)
{
	struct tevent_req *req;
	struct tstream_read_some_fallback_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_read_some_fallback_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->stream = stream;
	state->buf = buf;
	state->len = len;
	tstream_read_some_fallback_next(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static ssize_t tstream_read_some_fallback_recv(struct tevent_req *req,
					       int *perrno)
{
	struct tstream_read_some_fallback_state *state = tevent_req_data(req,
				struct tstream_read_some_fallback_state);
	ssize_t ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = (ssize_t)state->got;
	}
	tevent_req_received(req);
	return ret;
}

static void tstream_read_some_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	int err = 0;
	ssize_t n;

	if (state->ops->read_some_recv != NULL) {
		n = state->ops->read_some_recv(subreq, &err);
	} else {
		n = tstream_read_some_fallback_recv(subreq, &err);
	}
	TALLOC_FREE(subreq);
	tstream_io_finish(req, (int)n, err);
}

struct tevent_req *tstream_read_some_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tstream_context *stream,
					  uint8_t *buf, size_t len)
{
	struct iovec v = { .iov_base = buf, .iov_len = buf != NULL ? len : 0 };
	struct tevent_req *req, *subreq;
	void *state;
	bool ok;

	req = tstream_io_create(mem_ctx, ev, stream, &stream->readv_req, &v, 1,
				&ok);
	if (!ok) {
		return req;
	}
	state = _tevent_req_data(req);
	if (stream->ops->read_some_send != NULL) {
		subreq = stream->ops->read_some_send(state, ev, stream, buf,
						     len);
	} else {
		subreq = tstream_read_some_fallback_send(state, ev, stream,
							 buf, len);
	}
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_read_some_done, req);
	return req;
}

ssize_t tstream_read_some_recv(struct tevent_req *req, int *perrno)
{
	return tstream_io_recv(req, perrno);
}

/* ---------------------------------------------------------------- read_some_alloc */

/*
 * For backends without a read_alloc op: wait for one byte (no buffer
 * yet), then take whatever else came with it into a buffer of that size.
 */
struct tstream_read_alloc_fallback_state {
	struct tevent_context *ev;
	struct tstream_context *stream;
	size_t max, got;
	uint8_t first;
	uint8_t *buf;
};

static void tstream_read_alloc_fallback_first(struct tevent_req *subreq);
static void tstream_read_alloc_fallback_rest(struct tevent_req *subreq);

/* One read_some on the backend ops, whichever way it has it. */
static struct tevent_req *tstream_backend_read_some_send(
	TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	struct tstream_context *stream, uint8_t *buf, size_t len)
{
	if (stream->ops->read_some_send != NULL) {
		return stream->ops->read_some_send(mem_ctx, ev, stream, buf,
						   len);
	}
	return tstream_read_some_fallback_send(mem_ctx, ev, stream, buf, len);
}

static ssize_t tstream_backend_read_some_recv(struct tstream_context *stream,
					      struct tevent_req *subreq,
					      int *perrno)
{
	if (stream->ops->read_some_recv != NULL) {
		return stream->ops->read_some_recv(subreq, perrno);
	}
	return tstream_read_some_fallback_recv(subreq, perrno);
}

static struct tevent_req *tstream_read_alloc_fallback_send(
	TALLOC_CTX *mem_ctx, struct tevent_context *ev,
	struct tstream_context *stream, size_t max)
{
	struct tevent_req *req, *subreq;
	struct tstream_read_alloc_fallback_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_read_alloc_fallback_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->stream = stream;
	state->max = max;
	subreq = tstream_backend_read_some_send(state, ev, stream,
						&state->first, 1);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_read_alloc_fallback_first, req);
	return req;
}

static void tstream_read_alloc_fallback_first(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_read_alloc_fallback_state *state = tevent_req_data(req,
				struct tstream_read_alloc_fallback_state);
	ssize_t n, pending;
	size_t size;
	int err = 0;

	n = tstream_backend_read_some_recv(state->stream, subreq, &err);
	TALLOC_FREE(subreq);
	if (n <= 0) {
		tevent_req_error(req, n == 0 ? EIO : err);
		return;
	}
	pending = state->stream->ops->pending_bytes(state->stream);
	size = 1 + (pending > 0 ? (size_t)pending : 0);
	if (size > state->max) {
		size = state->max;
	}
	state->buf = talloc_size(state, size);
	if (tevent_req_nomem(state->buf, req)) {
		return;
	}
	state->buf[0] = state->first;
	state->got = 1;
	if (size == 1) {
		tevent_req_done(req);
		return;
	}
	subreq = tstream_backend_read_some_send(state, state->ev,
						state->stream, state->buf + 1,
						size - 1);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tstream_read_alloc_fallback_rest, req);
}

static void tstream_read_alloc_fallback_rest(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_read_alloc_fallback_state *state = tevent_req_data(req,
				struct tstream_read_alloc_fallback_state);
	int err = 0;
	ssize_t n;

	n = tstream_backend_read_some_recv(state->stream, subreq, &err);
	TALLOC_FREE(subreq);
	/* the first byte is there: an error comes again with the next read */
	if (n > 0) {
		state->got += (size_t)n;
	}
	if (state->got < talloc_get_size(state->buf)) {
		state->buf = talloc_realloc(state, state->buf, uint8_t,
					    state->got);
	}
	tevent_req_done(req);
}

static ssize_t tstream_read_alloc_fallback_recv(struct tevent_req *req,
						int *perrno,
						TALLOC_CTX *mem_ctx,
						uint8_t **buf)
{
	struct tstream_read_alloc_fallback_state *state = tevent_req_data(req,
				struct tstream_read_alloc_fallback_state);
	ssize_t ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		*buf = talloc_move(mem_ctx, &state->buf);
		ret = (ssize_t)state->got;
	}
	tevent_req_received(req);
	return ret;
}

static void tstream_read_alloc_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	int err = 0;
	ssize_t n;

	if (state->ops->read_alloc_recv != NULL) {
		n = state->ops->read_alloc_recv(subreq, &err, state,
						&state->buf);
	} else {
		n = tstream_read_alloc_fallback_recv(subreq, &err, state,
						     &state->buf);
	}
	TALLOC_FREE(subreq);
	tstream_io_finish(req, (int)n, err);
}

struct tevent_req *tstream_read_some_alloc_send(TALLOC_CTX *mem_ctx,
						struct tevent_context *ev,
						struct tstream_context *stream,
						size_t max)
{
	static uint8_t any;	/* the slot checks want a buffer */
	struct iovec v = { .iov_base = &any, .iov_len = max };
	struct tevent_req *req, *subreq;
	void *state;
	bool ok;

	if (max > INT_MAX) {
		max = INT_MAX;
		v.iov_len = max;
	}
	req = tstream_io_create(mem_ctx, ev, stream, &stream->readv_req, &v, 1,
				&ok);
	if (!ok) {
		return req;
	}
	state = _tevent_req_data(req);
	if (stream->ops->read_alloc_send != NULL) {
		subreq = stream->ops->read_alloc_send(state, ev, stream, max);
	} else {
		subreq = tstream_read_alloc_fallback_send(state, ev, stream,
							  max);
	}
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tstream_read_alloc_done, req);
	return req;
}

ssize_t tstream_read_some_alloc_recv(struct tevent_req *req, int *perrno,
				     TALLOC_CTX *mem_ctx, uint8_t **buf)
{
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	uint8_t *got = talloc_move(mem_ctx, &state->buf);
	ssize_t n = tstream_io_recv(req, perrno);

	if (n == -1) {
		talloc_free(got);
		return -1;
	}
	*buf = got;
	return n;
}

/* ---------------------------------------------------------------- monitor */

static void tstream_monitor_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);
	int err = 0;
	int ret;

	ret = state->ops->monitor_recv(subreq, &err);
	TALLOC_FREE(subreq);
	state->backend = NULL;
	tstream_io_finish(req, ret == -1 ? -1 : 0, err);
}

/* A disconnect ends the watch: the stream is going away on purpose. */
static void tstream_monitor_end(struct tstream_context *stream,
				struct tevent_context *ev, int err)
{
	struct tevent_req *req = stream->monitor_req;
	struct tstream_io_state *state;

	if (req == NULL) {
		return;
	}
	state = tevent_req_data(req, struct tstream_io_state);
	TALLOC_FREE(state->backend);
	/* its callback runs later, not inside tstream_disconnect_send */
	tevent_req_defer_callback(req, ev);
	tstream_io_finish(req, -1, err);
}

struct tevent_req *tstream_monitor_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream)
{
	static uint8_t any;	/* the slot checks want a buffer */
	struct iovec v = { .iov_base = &any, .iov_len = 1 };
	struct tstream_io_state *state;
	struct tevent_req *req;
	bool ok;

	req = tstream_io_create(mem_ctx, ev, stream, &stream->monitor_req,
				&v, 1, &ok);
	if (!ok) {
		return req;
	}
	state = tevent_req_data(req, struct tstream_io_state);
	if (stream->ops->monitor_send == NULL) {
		tstream_io_finish(req, -1, ENOTSUP);
		return tevent_req_post(req, ev);
	}
	state->backend = stream->ops->monitor_send(state, ev, stream);
	if (tevent_req_nomem(state->backend, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(state->backend, tstream_monitor_done, req);
	return req;
}

int tstream_monitor_recv(struct tevent_req *req, int *perrno)
{
	return tstream_io_recv(req, perrno) == -1 ? -1 : 0;
}
