/*
 * layer_tls.c - the TLS layer: credentials from an endpoint's settings,
 * the client or the server side of the handshake
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "layer.h"
#include "log.h"
#include "options.h"
#ifdef HAVE_GNUTLS
#include <gnutls/gnutls.h>
#include "tsocket_tls.h"
#endif

#ifdef HAVE_GNUTLS

/* alpn=h2:http/1.1 (':' since ',' ends an option) as the library's list */
static const char *tls_alpn(TALLOC_CTX *mem_ctx,
			    const struct endpoint_settings *set)
{
	char *list, *c;

	if (set->alpn == NULL) {
		return NULL;
	}
	list = talloc_strdup(mem_ctx, set->alpn);
	for (c = list; c != NULL && *c != '\0'; c++) {
		if (*c == ':') {
			*c = ',';
		}
	}
	return list;
}

/*
 * priority= narrowed by min-version=: the versions below it taken out of
 * the priority string in effect.  Without priority= that is GnuTLS's
 * default, which a string starting with ':' is appended to.
 */
static const char *tls_priority(TALLOC_CTX *mem_ctx,
				const struct endpoint_settings *set)
{
	static const char *const below[] = {
		"-VERS-SSL3.0", "-VERS-TLS1.0", "-VERS-TLS1.1",
		"-VERS-TLS1.2",
	};
	char *text;
	int i;

	if (set->min_version == 0) {
		return set->priority;
	}
	text = talloc_strdup(mem_ctx, set->priority != NULL ? set->priority
							    : "");
	for (i = 0; i <= set->min_version - 10 && text != NULL; i++) {
		text = talloc_asprintf_append(text, ":%s", below[i]);
	}
	return text;
}

static int tls_prepare(TALLOC_CTX *mem_ctx, struct endpoint *ep, void **state,
		       char **error)
{
	const struct endpoint_settings *set = &ep->set;
	struct tstream_tls_params *params = NULL;
	const char *alpn = tls_alpn(mem_ctx, set);
	const char *priority = tls_priority(mem_ctx, set);

	/* a NULL here would quietly mean "the default": no weaker TLS */
	if ((set->alpn != NULL && alpn == NULL) ||
	    (set->min_version != 0 && priority == NULL)) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return TSOCK_EXIT_FAILURE;
	}
	if (ep->listening) {
		struct tstream_tls_server_opts so = {
			.certfile = set->certfile,
			.keyfile = set->keyfile,
			.cafile = set->cafile,
			.require_client_cert = set->require_client_cert,
			.alpn = alpn,
			.priority = priority,
		};

		if (set->certfile == NULL || set->keyfile == NULL) {
			*error = talloc_strdup(mem_ctx, "a tls listener needs "
					       "--cert and --key (or cert= "
					       "and key=)");
			return TSOCK_EXIT_USAGE;
		}
		if (tstream_tls_params_server(mem_ctx, &so, &params,
					      error) == -1) {
			return TSOCK_EXIT_FAILURE;
		}
	} else {
		struct tstream_tls_client_opts co = {
			.cafile = set->cafile,
			.servername = set->servername != NULL ? set->servername
							      : ep->host,
			.pin = set->pin,
			.certfile = set->certfile,
			.keyfile = set->keyfile,
			.insecure = set->insecure,
			.alpn = alpn,
			.priority = priority,
		};

		if (set->insecure) {
			log_error("warning: --insecure: the server's "
				  "certificate is not verified");
		}
		if (tstream_tls_params_client(mem_ctx, &co, &params,
					      error) == -1) {
			return TSOCK_EXIT_FAILURE;
		}
	}
	*state = params;
	return 0;
}

struct tls_layer_state {
	struct channel *chan;
	const struct endpoint *ep;
	char *error;
};

static void tls_layer_done(struct tevent_req *subreq);

/*
 * -v: what the handshake agreed on, e.g. "tls:127.0.0.1:8443: TLSv1.3,
 * TLS_AES_256_GCM_SHA384, ALPN h2"; "no ALPN" only where alpn= asked.
 */
static void tls_log_info(struct channel *chan, const struct endpoint *ep)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *version = NULL, *cipher = NULL, *alpn = NULL;

	if (tmp == NULL ||
	    tstream_tls_info(chan->stream, tmp, &version, &cipher,
			     &alpn) == -1) {
		log_verbose("%s: TLS: %s", chan->name, strerror(errno));
	} else if (alpn != NULL) {
		log_verbose("%s: %s, %s, ALPN %s", chan->name, version,
			    cipher, alpn);
	} else {
		log_verbose("%s: %s, %s%s", chan->name, version, cipher,
			    ep->set.alpn != NULL ? ", no ALPN" : "");
	}
	talloc_free(tmp);
}

static struct tevent_req *tls_send(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *chan,
				   const struct endpoint *ep,
				   const struct channel *client, void *params)
{
	struct tevent_req *req, *subreq;
	struct tls_layer_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_layer_state);
	if (req == NULL) {
		return NULL;
	}
	state->chan = chan;
	state->ep = ep;
	subreq = ep->listening
		 ? tstream_tls_accept_send(state, ev, chan->stream, params)
		 : tstream_tls_connect_send(state, ev, chan->stream, params);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tls_layer_done, req);
	return req;
}

static void tls_layer_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_layer_state *state = tevent_req_data(req,
					struct tls_layer_state);
	struct tstream_context *tls = NULL;
	int err = 0;

	if (tstream_tls_handshake_recv(subreq, &err, state->chan, &tls,
				       &state->error) == -1) {
		talloc_steal(state, state->error);
		TALLOC_FREE(subreq);
		tevent_req_error(req, err);
		return;
	}
	TALLOC_FREE(subreq);
	state->chan->stream = tls;	/* owns the plain stream now */
	if (log_is_verbose) {
		tls_log_info(state->chan, state->ep);
	}
	tevent_req_done(req);
}

static int tls_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		    char **error)
{
	struct tls_layer_state *state = tevent_req_data(req,
					struct tls_layer_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = state->error != NULL
			 ? talloc_steal(mem_ctx, state->error)
			 : talloc_strdup(mem_ctx, strerror(
				rs == TEVENT_REQ_USER_ERROR ? (int)err
							    : ENOMEM));
		return -1;
	}
	return 0;
}

const char *layer_tls_version(void)
{
	static char text[64];

	snprintf(text, sizeof(text), "GnuTLS %s", gnutls_check_version(NULL));
	return text;
}

#else /* no GnuTLS: tls endpoints fail at start with a clear message */

const char *layer_tls_version(void)
{
	return NULL;
}

static int tls_prepare(TALLOC_CTX *mem_ctx, struct endpoint *ep, void **state,
		       char **error)
{
	*error = talloc_strdup(mem_ctx, "tls: endpoints need a tsock built "
			       "with GnuTLS (libgnutls28-dev)");
	return TSOCK_EXIT_USAGE;
}

static struct tevent_req *tls_send(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *chan,
				   const struct endpoint *ep,
				   const struct channel *client, void *params)
{
	return NULL;	/* never prepared, never run */
}

static int tls_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		    char **error)
{
	return -1;
}

#endif

const struct layer layer_tls = {
	.name = "TLS",
	.prepare = tls_prepare,
	.send = tls_send,
	.recv = tls_recv,
};
