/*
 * tsocket_dgram.c - the generic datagram layer
 *
 * Each public request wraps one backend request.  The context remembers
 * the pending receive and send (one per direction, EBUSY otherwise) so
 * that freeing the context can discard them before the backend state they
 * point into goes away.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include "tsocket_internal.h"

struct tdgram_context {
	const char *location;
	const struct tdgram_context_ops *ops;
	void *private_data;

	struct tevent_req *recvfrom_req;
	struct tevent_req *sendto_req;
	struct tevent_req *disconnect_req;
};

static int tdgram_context_destructor(struct tdgram_context *dgram)
{
	/*
	 * tevent_req_received() frees the request's state, including the
	 * backend request below it, and makes sure its callback never runs.
	 * The state destructors clear the slots.
	 */
	if (dgram->recvfrom_req != NULL) {
		tevent_req_received(dgram->recvfrom_req);
	}
	if (dgram->sendto_req != NULL) {
		tevent_req_received(dgram->sendto_req);
	}
	if (dgram->disconnect_req != NULL) {
		tevent_req_received(dgram->disconnect_req);
	}
	return 0;
}

struct tdgram_context *_tdgram_context_create(TALLOC_CTX *mem_ctx,
					const struct tdgram_context_ops *ops,
					void *pstate, size_t psize,
					const char *type,
					const char *location)
{
	void **ppstate = (void **)pstate;
	struct tdgram_context *dgram;

	dgram = talloc_zero(mem_ctx, struct tdgram_context);
	if (dgram == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	dgram->location = location;
	/* talloc reports then name the caller that created it */
	talloc_set_name_const(dgram, location);
	dgram->ops = ops;
	dgram->private_data = talloc_zero_size(dgram, psize);
	if (dgram->private_data == NULL) {
		talloc_free(dgram);
		errno = ENOMEM;
		return NULL;
	}
	talloc_set_name_const(dgram->private_data, type);
	talloc_set_destructor(dgram, tdgram_context_destructor);
	*ppstate = dgram->private_data;
	return dgram;
}

void *_tdgram_context_data(struct tdgram_context *dgram)
{
	return dgram->private_data;
}

/* ---------------------------------------------------------------- recvfrom */

struct tdgram_recvfrom_state {
	const struct tdgram_context_ops *ops;
	struct tdgram_context *dgram;	/* set while this request holds the slot */
	uint8_t *buf;
	struct tsocket_address *src;
	ssize_t len;
};

static int tdgram_recvfrom_state_destructor(struct tdgram_recvfrom_state *state)
{
	if (state->dgram != NULL) {
		state->dgram->recvfrom_req = NULL;
		state->dgram = NULL;
	}
	return 0;
}

static void tdgram_recvfrom_done(struct tevent_req *subreq);

struct tevent_req *tdgram_recvfrom_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tdgram_context *dgram)
{
	struct tevent_req *req, *subreq;
	struct tdgram_recvfrom_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tdgram_recvfrom_state);
	if (req == NULL) {
		return NULL;
	}
	if (dgram->recvfrom_req != NULL) {
		tevent_req_error(req, EBUSY);
		return tevent_req_post(req, ev);
	}
	state->ops = dgram->ops;
	state->dgram = dgram;
	dgram->recvfrom_req = req;
	talloc_set_destructor(state, tdgram_recvfrom_state_destructor);

	subreq = state->ops->recvfrom_send(state, ev, dgram);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tdgram_recvfrom_done, req);
	return req;
}

static void tdgram_recvfrom_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tdgram_recvfrom_state *state = tevent_req_data(req,
					struct tdgram_recvfrom_state);
	int err = 0;

	state->len = state->ops->recvfrom_recv(subreq, &err, state,
					       &state->buf, &state->src);
	TALLOC_FREE(subreq);
	/* free the slot first: the callback may well ask for the next one */
	tdgram_recvfrom_state_destructor(state);
	if (state->len == -1) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

ssize_t tdgram_recvfrom_recv(struct tevent_req *req, int *perrno,
			     TALLOC_CTX *mem_ctx, uint8_t **buf,
			     struct tsocket_address **src)
{
	struct tdgram_recvfrom_state *state;
	ssize_t len;

	if (tsocket_req_is_error(req, perrno)) {
		tevent_req_received(req);
		return -1;
	}
	state = tevent_req_data(req, struct tdgram_recvfrom_state);
	if (buf != NULL) {
		*buf = talloc_move(mem_ctx, &state->buf);
	}
	if (src != NULL) {
		*src = talloc_move(mem_ctx, &state->src);
	}
	len = state->len;
	tevent_req_received(req);
	return len;
}

/* ---------------------------------------------------------------- sendto */

struct tdgram_sendto_state {
	const struct tdgram_context_ops *ops;
	struct tdgram_context *dgram;	/* set while this request holds the slot */
	ssize_t len;
};

static int tdgram_sendto_state_destructor(struct tdgram_sendto_state *state)
{
	if (state->dgram != NULL) {
		state->dgram->sendto_req = NULL;
		state->dgram = NULL;
	}
	return 0;
}

static void tdgram_sendto_done(struct tevent_req *subreq);

struct tevent_req *tdgram_sendto_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      struct tdgram_context *dgram,
				      const uint8_t *buf, size_t len,
				      const struct tsocket_address *dst)
{
	struct tevent_req *req, *subreq;
	struct tdgram_sendto_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tdgram_sendto_state);
	if (req == NULL) {
		return NULL;
	}
	if (buf == NULL || len == 0) {
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	if (dgram->sendto_req != NULL) {
		tevent_req_error(req, EBUSY);
		return tevent_req_post(req, ev);
	}
	state->ops = dgram->ops;
	state->dgram = dgram;
	dgram->sendto_req = req;
	talloc_set_destructor(state, tdgram_sendto_state_destructor);

	subreq = state->ops->sendto_send(state, ev, dgram, buf, len, dst);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tdgram_sendto_done, req);
	return req;
}

static void tdgram_sendto_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tdgram_sendto_state *state = tevent_req_data(req,
					struct tdgram_sendto_state);
	int err = 0;

	state->len = state->ops->sendto_recv(subreq, &err);
	TALLOC_FREE(subreq);
	tdgram_sendto_state_destructor(state);
	if (state->len == -1) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

ssize_t tdgram_sendto_recv(struct tevent_req *req, int *perrno)
{
	struct tdgram_sendto_state *state;
	ssize_t len;

	if (tsocket_req_is_error(req, perrno)) {
		tevent_req_received(req);
		return -1;
	}
	state = tevent_req_data(req, struct tdgram_sendto_state);
	len = state->len;
	tevent_req_received(req);
	return len;
}

/* ---------------------------------------------------------------- disconnect */

struct tdgram_disconnect_state {
	const struct tdgram_context_ops *ops;
	struct tdgram_context *dgram;	/* set while this request holds the slot */
	int ret;
};

static int tdgram_disconnect_state_destructor(
	struct tdgram_disconnect_state *state)
{
	if (state->dgram != NULL) {
		state->dgram->disconnect_req = NULL;
		state->dgram = NULL;
	}
	return 0;
}

static void tdgram_disconnect_done(struct tevent_req *subreq);

struct tevent_req *tdgram_disconnect_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tdgram_context *dgram)
{
	struct tevent_req *req, *subreq;
	struct tdgram_disconnect_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tdgram_disconnect_state);
	if (req == NULL) {
		return NULL;
	}
	if (dgram->recvfrom_req != NULL || dgram->sendto_req != NULL ||
	    dgram->disconnect_req != NULL) {
		tevent_req_error(req, EBUSY);
		return tevent_req_post(req, ev);
	}
	state->ops = dgram->ops;
	state->dgram = dgram;
	dgram->disconnect_req = req;
	talloc_set_destructor(state, tdgram_disconnect_state_destructor);
	subreq = state->ops->disconnect_send(state, ev, dgram);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tdgram_disconnect_done, req);
	return req;
}

static void tdgram_disconnect_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tdgram_disconnect_state *state = tevent_req_data(req,
					struct tdgram_disconnect_state);
	int err = 0;

	state->ret = state->ops->disconnect_recv(subreq, &err);
	TALLOC_FREE(subreq);
	tdgram_disconnect_state_destructor(state);
	if (state->ret == -1) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

int tdgram_disconnect_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}
