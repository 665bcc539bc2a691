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
#include <sys/uio.h>
#include "tsocket_internal.h"

struct tstream_context {
	const char *location;
	const struct tstream_context_ops *ops;
	void *private_data;

	struct tevent_req *readv_req;
	struct tevent_req *writev_req;
	struct tevent_req *control_req;	/* a disconnect or a shutdown */
	bool write_shut;	/* tstream_shutdown started: writes EPIPE */
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
	int (*recv_fn)(struct tevent_req *req, int *perrno);
	struct tevent_req **slot;
	int ret;
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
	state->slot = slot;
	*slot = req;
	talloc_set_destructor(state, tstream_io_state_destructor);
	*ok = true;
	return req;
}

/* Finish a readv/writev once the backend request has given its result. */
static void tstream_io_finish(struct tevent_req *req, int ret, int err)
{
	struct tstream_io_state *state = tevent_req_data(req,
						struct tstream_io_state);

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
