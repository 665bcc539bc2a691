/*
 * proxy_server.h - the server side of tsock proxy: one client's
 * request (SOCKS5, SOCKS4/4a or HTTP CONNECT, told apart by the first
 * byte), checked and answered, and the target connected
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_PROXY_SERVER_H
#define TSOCK_PROXY_SERVER_H

#include <talloc.h>
#include <tevent.h>
#include "channel.h"
#include "endpoint.h"
#include "target_rules.h"

struct selfloop;

struct proxy_server_conf {
	const struct target_rules *rules;	/* where clients may go */
	/*
	 * "USER:PASS" each, NULL-terminated, or NULL: no credentials asked,
	 * and then only clients on loopback (or unix sockets) are served.
	 */
	const char *const *users;
	/* what targets are opened with: -w, -4/-6, --proxy upstream */
	const struct endpoint_settings *defaults;
	int family;
	int request_timeout_ms;		/* for the client's request */
};

/*
 * Read client's request, check it, connect to its target (never to our
 * own FRONT: self) and answer.  Any bytes the client sent after its
 * request stay in its stream for the relay.
 */
struct tevent_req *proxy_serve_send(TALLOC_CTX *mem_ctx,
				    struct tevent_context *ev,
				    struct channel *client,
				    const struct proxy_server_conf *conf,
				    struct selfloop *self);

/*
 * The target's channel, on mem_ctx, with the client told it may go on;
 * or NULL with *error (on mem_ctx) saying who asked for what and why it
 * was refused (the client was told, as well as its protocol can).
 */
struct channel *proxy_serve_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
				 char **error);

#endif
