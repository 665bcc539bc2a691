/*
 * tls_glue.h - TLS for tsock: credentials from options, server handshakes
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_TLS_GLUE_H
#define TSOCK_TLS_GLUE_H

#include <talloc.h>
#include <tevent.h>
#include "channel.h"
#include "endpoint.h"
#include "options.h"

struct tstream_tls_params;

/*
 * Client credentials for connecting to ep (a tls endpoint): the name
 * checked is --servername or else ep's host.  Warns on stderr when
 * --insecure turns verification off.  NULL with *error (on mem_ctx) and
 * *status (the exit status to use) on failure.
 */
struct tstream_tls_params *tls_client_params(TALLOC_CTX *mem_ctx,
					     const struct tsock_options *opts,
					     const struct endpoint *ep,
					     char **error, int *status);

/* Server credentials (--cert, --key, --require-client-cert, --cafile). */
struct tstream_tls_params *tls_server_params(TALLOC_CTX *mem_ctx,
					     const struct tsock_options *opts,
					     char **error, int *status);

/*
 * Run the server side of the handshake on an accepted client, within
 * timeout_ms; on success client->stream is the TLS stream.
 */
struct tevent_req *tls_secure_client_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct channel *client,
					  struct tstream_tls_params *params,
					  int timeout_ms);
/* 0, or -1 with *error (on mem_ctx) saying why. */
int tls_secure_client_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			   char **error);

#endif
