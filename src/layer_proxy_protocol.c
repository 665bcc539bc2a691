/*
 * layer_proxy_protocol.c - HAProxy's PROXY protocol as two layers:
 * sending a header to BACK (--send-proxy, send-proxy=) and taking one
 * from each client of FRONT (--accept-proxy, accept-proxy)
 *
 * The header's bytes are proxy_header.c's business; here they are read
 * exactly (the parser says how many more it needs, never past the
 * header's end, so the conversation's first bytes stay in the stream)
 * and what they say replaces the client's addresses: logs, access
 * checks and a further --send-proxy then see the original client.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "layer.h"
#include "layer_proxy_protocol.h"
#include "log.h"
#include "proxy_header.h"

/* ---------------------------------------------------------------- send */

struct send_state {
	uint8_t buf[PROXY_HEADER_BUILD_MAX];
	struct iovec iov;
	char *error;
};

static void send_written(struct tevent_req *subreq);

/*
 * The addresses a client came from and came to: its channel's (taken
 * from a header if it had one), else the accepted socket's (a unix
 * client's, which v2 can carry).  False if there are none (no client:
 * connect).
 */
static bool client_addresses(const struct channel *client,
			     struct sockaddr_storage *peer,
			     socklen_t *peer_len,
			     struct sockaddr_storage *local,
			     socklen_t *local_len)
{
	if (client == NULL) {
		return false;
	}
	if (client->peer_len > 0) {
		memcpy(peer, &client->peer, client->peer_len);
		*peer_len = client->peer_len;
	} else {
		*peer_len = sizeof(*peer);
		if (client->fd < 0 ||
		    getpeername(client->fd, (struct sockaddr *)peer,
				peer_len) == -1) {
			return false;
		}
	}
	if (client->local_len > 0) {
		memcpy(local, &client->local, client->local_len);
		*local_len = client->local_len;
		return true;
	}
	*local_len = sizeof(*local);
	return client->fd >= 0 &&
	       getsockname(client->fd, (struct sockaddr *)local,
			   local_len) == 0;
}

static struct tevent_req *send_proxy_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct channel *chan,
					  const struct endpoint *ep,
					  const struct channel *client,
					  void *unused)
{
	struct tevent_req *req, *subreq;
	struct send_state *state;
	struct sockaddr_storage peer, local;
	socklen_t peer_len = 0, local_len = 0;
	bool known = client_addresses(client, &peer, &peer_len, &local,
				      &local_len);
	ssize_t n;

	req = tevent_req_create(mem_ctx, &state, struct send_state);
	if (req == NULL) {
		return NULL;
	}
	/* unknown addresses, mixed families: LOCAL / UNKNOWN, by the codec */
	n = proxy_header_build(state->buf, sizeof(state->buf),
			       ep->set.send_proxy, SOCK_STREAM,
			       known ? (const struct sockaddr *)&peer : NULL,
			       known ? peer_len : 0,
			       known ? (const struct sockaddr *)&local : NULL,
			       local_len);
	if (n < 0) {
		state->error = talloc_strdup(state, "cannot build a PROXY "
					     "header");
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	state->iov.iov_base = state->buf;
	state->iov.iov_len = (size_t)n;
	subreq = tstream_writev_send(state, ev, chan->stream, &state->iov, 1);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, send_written, req);
	return req;
}

static void send_written(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct send_state *state = tevent_req_data(req, struct send_state);
	int err = 0;

	if (tstream_writev_recv(subreq, &err) == -1) {
		state->error = talloc_asprintf(state, "sending the PROXY "
					       "header: %s", strerror(err));
		TALLOC_FREE(subreq);
		tevent_req_error(req, err);
		return;
	}
	TALLOC_FREE(subreq);
	tevent_req_done(req);
}

static int send_proxy_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			   char **error)
{
	struct send_state *state = tevent_req_data(req, struct send_state);

	return layer_result(req, mem_ctx, state->error, error);
}

const struct layer layer_send_proxy = {
	.name = "PROXY header",
	.send = send_proxy_send,
	.recv = send_proxy_recv,
};

/* -------------------------------------------------------------- accept */

struct accept_state {
	struct channel *chan;
	uint8_t buf[PROXY_HEADER_V2_MAX];
	size_t len;
	struct iovec iov;
	struct proxy_header hdr;
	const char *why;	/* the parser's refusal */
	char *error;
};

static void accept_read(struct tevent_req *subreq);

/* Ask for exactly what the parser needs next: never past the header. */
static int accept_next_vector(struct tstream_context *stream,
			      void *private_data, TALLOC_CTX *mem_ctx,
			      struct iovec **vector, size_t *count)
{
	struct accept_state *state = private_data;
	size_t need = 0;
	int rc;

	rc = proxy_header_parse(state->buf, state->len, &state->hdr, &need,
				&state->why);
	if (rc != 0) {
		*count = 0;	/* complete, or refused: accept_read says */
		return 0;
	}
	if (need <= state->len || need > sizeof(state->buf)) {
		state->why = "PROXY header parser asked for too much";
		*count = 0;
		return 0;
	}
	state->iov.iov_base = state->buf + state->len;
	state->iov.iov_len = need - state->len;
	state->len = need;
	*vector = &state->iov;
	*count = 1;
	return 0;
}

static struct tevent_req *accept_proxy_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct channel *chan,
					    const struct endpoint *ep,
					    const struct channel *client,
					    void *unused)
{
	struct tevent_req *req, *subreq;
	struct accept_state *state;

	req = tevent_req_create(mem_ctx, &state, struct accept_state);
	if (req == NULL) {
		return NULL;
	}
	state->chan = chan;
	subreq = tstream_readv_pdu_send(state, ev, chan->stream,
					accept_next_vector, state);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, accept_read, req);
	return req;
}

static void accept_read(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct accept_state *state = tevent_req_data(req, struct accept_state);
	struct proxy_header *h = &state->hdr;
	struct channel *chan = state->chan;
	const char *kind;
	int err = 0;

	if (tstream_readv_pdu_recv(subreq, &err) == -1) {
		TALLOC_FREE(subreq);
		state->error = talloc_asprintf(state, "no PROXY header: %s",
				err == 0 || err == EPIPE || err == ECONNRESET
				? "the client closed before sending all of it"
				: strerror(err));
		tevent_req_error(req, err != 0 ? err : EPIPE);
		return;
	}
	TALLOC_FREE(subreq);
	if (proxy_header_parse(state->buf, state->len, h, NULL, &state->why)
	    != 1) {
		state->error = talloc_asprintf(state, "bad PROXY header: %s",
					       state->why != NULL ? state->why
					       : "incomplete");
		tevent_req_error(req, EPROTO);
		return;
	}
	if (h->local) {
		log_verbose("%s: PROXY v%d header without addresses (%s): "
			    "its own are kept", chan->name, h->version,
			    h->version == 1 ? "UNKNOWN" : "LOCAL");
		tevent_req_done(req);
		return;
	}
	memcpy(&chan->peer, &h->src, h->src_len);
	chan->peer_len = h->src_len;
	memcpy(&chan->local, &h->dst, h->dst_len);
	chan->local_len = h->dst_len;
	kind = h->src.ss_family == AF_UNIX ? "unix" : "tcp";
	{
		struct tsocket_address *addr = NULL;
		char *name;

		if (tsocket_address_bsd_from_sockaddr(state,
				(struct sockaddr *)&h->src, h->src_len,
				&addr) == 0 &&
		    (name = channel_address_name(chan, kind, addr)) != NULL) {
			char *p;

			/* a path from the wire: only what prints, to logs */
			for (p = name; *p != '\0'; p++) {
				if ((unsigned char)*p < 0x20 ||
				    (unsigned char)*p >= 0x7f) {
					*p = '?';
				}
			}
			log_verbose("%s: PROXY v%d header: client %s",
				    chan->name, h->version, name);
			talloc_free(chan->name);
			chan->name = name;
		}
	}
	tevent_req_done(req);
}

static int accept_proxy_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			     char **error)
{
	struct accept_state *state = tevent_req_data(req, struct accept_state);

	return layer_result(req, mem_ctx, state->error, error);
}

const struct layer layer_accept_proxy = {
	.name = "PROXY header",
	.send = accept_proxy_send,
	.recv = accept_proxy_recv,
};
