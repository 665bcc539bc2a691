/*
 * tls_glue.c - TLS for tsock: credentials from options, server handshakes
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include "log.h"
#include "tls_glue.h"
#ifdef HAVE_GNUTLS
#include "tsocket_tls.h"
#endif

#ifdef HAVE_GNUTLS

struct tstream_tls_params *tls_client_params(TALLOC_CTX *mem_ctx,
					     const struct tsock_options *opts,
					     const struct endpoint *ep,
					     char **error, int *status)
{
	struct tstream_tls_client_opts co = {
		.cafile = opts->cafile,
		.servername = opts->servername != NULL ? opts->servername
						       : ep->host,
		.pin = opts->pin,
		.certfile = opts->certfile,
		.keyfile = opts->keyfile,
		.insecure = opts->insecure,
	};
	struct tstream_tls_params *params;

	if (opts->insecure) {
		log_error("warning: --insecure: the server's certificate "
			  "is not verified");
	}
	if (tstream_tls_params_client(mem_ctx, &co, &params, error) == -1) {
		*status = TSOCK_EXIT_FAILURE;
		return NULL;
	}
	return params;
}

struct tstream_tls_params *tls_server_params(TALLOC_CTX *mem_ctx,
					     const struct tsock_options *opts,
					     char **error, int *status)
{
	struct tstream_tls_server_opts so = {
		.certfile = opts->certfile,
		.keyfile = opts->keyfile,
		.cafile = opts->cafile,
		.require_client_cert = opts->require_client_cert,
	};
	struct tstream_tls_params *params;

	if (opts->certfile == NULL || opts->keyfile == NULL) {
		*error = talloc_strdup(mem_ctx, "a tls listener needs --cert "
				       "and --key");
		*status = TSOCK_EXIT_USAGE;
		return NULL;
	}
	if (tstream_tls_params_server(mem_ctx, &so, &params, error) == -1) {
		*status = TSOCK_EXIT_FAILURE;
		return NULL;
	}
	return params;
}

struct tls_secure_state {
	struct channel *client;
	char *error;
};

static void tls_secure_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_secure_state *state = tevent_req_data(req,
					struct tls_secure_state);
	struct tstream_context *tls = NULL;
	int err = 0;

	if (tstream_tls_handshake_recv(subreq, &err, state->client, &tls,
				       &state->error) == -1) {
		talloc_free(subreq);
		talloc_steal(state, state->error);
		if (err == ETIMEDOUT) {
			/* the handshake's own end time ran out */
			state->error = talloc_strdup(state,
						     "TLS handshake timed out");
		}
		tevent_req_error(req, err);
		return;
	}
	talloc_free(subreq);
	state->client->stream = tls;	/* owns the TCP stream now */
	tevent_req_done(req);
}

struct tevent_req *tls_secure_client_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct channel *client,
					  struct tstream_tls_params *params,
					  int timeout_ms)
{
	struct tevent_req *req, *subreq;
	struct tls_secure_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_secure_state);
	if (req == NULL) {
		return NULL;
	}
	state->client = client;
	subreq = tstream_tls_accept_send(state, ev, client->stream, params);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	/* a client that never finishes the handshake is dropped */
	if (!tevent_req_set_endtime(subreq, ev,
			tevent_timeval_current_ofs(timeout_ms / 1000,
					(timeout_ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tls_secure_done, req);
	return req;
}

int tls_secure_client_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			   char **error)
{
	struct tls_secure_state *state = tevent_req_data(req,
					struct tls_secure_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = talloc_asprintf(mem_ctx, "%s: %s", state->client->name,
			state->error != NULL ? state->error
			: strerror(rs == TEVENT_REQ_USER_ERROR ? (int)err
							       : ENOMEM));
		return -1;
	}
	return 0;
}

#else /* no GnuTLS: tls endpoints fail with a clear message */

static const char tls_missing[] = "tls: endpoints need a tsock built with "
				  "GnuTLS (libgnutls28-dev)";

struct tstream_tls_params *tls_client_params(TALLOC_CTX *mem_ctx,
					     const struct tsock_options *opts,
					     const struct endpoint *ep,
					     char **error, int *status)
{
	*error = talloc_strdup(mem_ctx, tls_missing);
	*status = TSOCK_EXIT_USAGE;
	return NULL;
}

struct tstream_tls_params *tls_server_params(TALLOC_CTX *mem_ctx,
					     const struct tsock_options *opts,
					     char **error, int *status)
{
	*error = talloc_strdup(mem_ctx, tls_missing);
	*status = TSOCK_EXIT_USAGE;
	return NULL;
}

struct tevent_req *tls_secure_client_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct channel *client,
					  struct tstream_tls_params *params,
					  int timeout_ms)
{
	return NULL;
}

int tls_secure_client_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			   char **error)
{
	*error = talloc_strdup(mem_ctx, tls_missing);
	return -1;
}

#endif
