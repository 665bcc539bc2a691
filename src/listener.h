/*
 * listener.h - listening endpoints: stream listeners and bound datagrams
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_LISTENER_H
#define TSOCK_LISTENER_H

#include <talloc.h>
#include <tevent.h>
#include "channel.h"
#include "endpoint.h"

struct listener;

/* Called with each accepted client, a channel the callee then owns. */
typedef void (*listener_accept_fn)(struct channel *client, void *private_data);

/*
 * Listen on a tcp or unix endpoint and print the readiness line
 * "listening on ENDPOINT" (the real address) on stderr.  A unix listener
 * refuses to replace a file that is not a socket, replaces a stale socket
 * nobody listens on, and removes its socket file when freed.  Returns
 * NULL with *error set on failure.
 */
struct listener *listener_create(TALLOC_CTX *mem_ctx,
				 struct tevent_context *ev,
				 const struct endpoint *ep,
				 listener_accept_fn fn, void *private_data,
				 char **error);

/* The listening socket's own address (getsockname); false on failure. */
bool listener_address(const struct listener *l, struct sockaddr_storage *ss,
		      socklen_t *len);

/* Stop or resume accepting (e.g. while at the connection limit). */
void listener_pause(struct listener *l, bool paused);

/*
 * Bind a udp or unix-dgram endpoint for receiving, print the readiness
 * line, and return it as a channel (a unix-dgram socket file is removed
 * when the channel is freed).  NULL with *error set on failure.
 */
struct channel *listener_bind_dgram(TALLOC_CTX *mem_ctx,
				    const struct endpoint *ep, char **error);

#endif
