/*
 * layer.h - stages run on a stream once it is open
 *
 * A layer takes an open stream and hands back a stream: TLS, a hop
 * through a SOCKS or HTTP proxy, the PROXY protocol's header.  A kind
 * lists the layers every connection of it runs (tls: TCP, then the TLS
 * layer); an endpoint's options add more (via=: a proxy hop each, before
 * the kind's).  endpoint_prepare puts them in order (struct endpoint's
 * layers); they run after the transport connects (channel.c, within the
 * connect timeout) or accepts (session.c, within the handshake
 * timeout).  Layers know nothing of commands.
 *
 * A layer that reads past its own handshake (a proxy's reply followed by
 * the first bytes of the conversation) must not lose those bytes: it
 * hands the next stage a stream that returns them first.  The TLS layer
 * reads nothing ahead that its TLS stream does not keep.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_LAYER_H
#define TSOCK_LAYER_H

#include <talloc.h>
#include <tevent.h>
#include "channel.h"
#include "endpoint.h"

struct layer {
	const char *name;
	/*
	 * Get ready for ep, before anything is opened (ep->listening says
	 * which side it will play): load credentials into *state, on
	 * mem_ctx.  0, or the exit status of the failure with *error (on
	 * mem_ctx).  NULL if there is nothing to prepare.
	 */
	int (*prepare)(TALLOC_CTX *mem_ctx, struct endpoint *ep, void **state,
		       char **error);
	/*
	 * Run the layer on chan->stream; when done, chan->stream is the
	 * stream the next stage uses (owning the one before).  client is
	 * the accepted client chan was opened for (relay's BACK), or NULL.
	 */
	struct tevent_req *(*send)(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *chan,
				   const struct endpoint *ep,
				   const struct channel *client, void *state);
	/* 0, or -1 with *error (on mem_ctx) saying why, without the name */
	int (*recv)(struct tevent_req *req, TALLOC_CTX *mem_ctx, char **error);
};

/*
 * For a layer's recv: 0 if req succeeded, else -1 with *error its
 * message (message, on the request's state, or "out of memory").
 */
int layer_result(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		 char *message, char **error);

/* The layers ep runs, each from the state endpoint_prepare made. */
bool layers_present(const struct endpoint *ep);

/*
 * Run ep's layers on chan in order (client: as for struct layer's send).
 * An accepted chan (ep listening) must be done within
 * ep->set.handshake_timeout_ms: a client that never finishes its
 * handshake is dropped.
 */
struct tevent_req *layers_run_send(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *chan,
				   const struct endpoint *ep,
				   const struct channel *client);
/* 0, or -1 with *error (on mem_ctx): "NAME: reason". */
int layers_run_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		    char **error);

/* The TLS layer (layer_tls.c). */
extern const struct layer layer_tls;

/* "GnuTLS 3.7.9" (the library in use), or NULL if built without. */
const char *layer_tls_version(void);

#endif
