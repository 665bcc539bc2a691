/*
 * layers.c - running an endpoint's layers in order
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include "layer.h"

int layer_result(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		 char *message, char **error)
{
	enum tevent_req_state rs;
	uint64_t err;

	if (!tevent_req_is_error(req, &rs, &err)) {
		return 0;
	}
	*error = message != NULL ? talloc_steal(mem_ctx, message)
				 : talloc_strdup(mem_ctx, "out of memory");
	return -1;
}

bool layers_present(const struct endpoint *ep)
{
	return ep->layers != NULL && ep->layers[0] != NULL;
}

struct layers_run_state {
	struct tevent_context *ev;
	struct channel *chan;
	const struct endpoint *ep;
	const struct channel *client;
	size_t next;
	char *error;
};

static void layers_run_next(struct tevent_req *req);
static void layers_run_done(struct tevent_req *subreq);

struct tevent_req *layers_run_send(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *chan,
				   const struct endpoint *ep,
				   const struct channel *client)
{
	struct tevent_req *req;
	struct layers_run_state *state;
	int ms = ep->set.handshake_timeout_ms;

	req = tevent_req_create(mem_ctx, &state, struct layers_run_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->chan = chan;
	state->ep = ep;
	state->client = client;
	if (ep->listening && ms > 0 &&
	    !tevent_req_set_endtime(req, ev,
			tevent_timeval_current_ofs(ms / 1000,
						   (ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	layers_run_next(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static void layers_run_next(struct tevent_req *req)
{
	struct layers_run_state *state = tevent_req_data(req,
					struct layers_run_state);
	const struct layer *l;
	struct tevent_req *subreq;

	if (state->ep->layers == NULL ||
	    state->ep->layers[state->next] == NULL) {
		tevent_req_done(req);
		return;
	}
	l = state->ep->layers[state->next];
	subreq = l->send(state, state->ev, state->chan, state->ep,
			 state->client, state->ep->layer_state[state->next]);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, layers_run_done, req);
}

static void layers_run_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct layers_run_state *state = tevent_req_data(req,
					struct layers_run_state);
	const struct layer *l = state->ep->layers[state->next];
	char *error = NULL;

	if (l->recv(subreq, state, &error) == -1) {
		TALLOC_FREE(subreq);
		state->error = error;
		tevent_req_error(req, EPROTO);
		return;
	}
	TALLOC_FREE(subreq);
	state->next++;
	layers_run_next(req);
}

int layers_run_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		    char **error)
{
	struct layers_run_state *state = tevent_req_data(req,
					struct layers_run_state);
	enum tevent_req_state rs;
	uint64_t err;
	const char *why;

	if (!tevent_req_is_error(req, &rs, &err)) {
		return 0;
	}
	if (rs == TEVENT_REQ_TIMED_OUT) {
		/* a listener's clients only: see layers_run_send */
		const struct layer *l = state->ep->layers[state->next];

		*error = talloc_asprintf(mem_ctx, "%s: %s handshake timed out",
					 state->chan->name,
					 l != NULL ? l->name : "layer");
		return -1;
	}
	why = state->error != NULL ? state->error
	      : strerror(rs == TEVENT_REQ_USER_ERROR ? (int)err : ENOMEM);
	*error = talloc_asprintf(mem_ctx, "%s: %s", state->chan->name, why);
	return -1;
}
