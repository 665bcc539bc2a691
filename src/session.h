/*
 * session.h - a server and the life of each of its clients
 *
 * A server listens on FRONT (accepting streams, or taking each datagram
 * peer as a session) and gives every client a session: its own
 * connection, loop check, FRONT's layers (TLS) within the handshake
 * timeout, then BACK opened for it (or the one data channel: listen's
 * stdio), then the relay, then the end.  Commands only set servers up.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_SESSION_H
#define TSOCK_SESSION_H

#include <stdbool.h>
#include "channel.h"
#include "endpoint.h"
#include "run.h"

struct proxy_server_conf;

struct server_conf {
	const struct endpoint *front;	/* listening */
	const struct endpoint *back;	/* opened for each client, or */
	struct channel *data;		/* what every client gets in turn */
	/* or BACK is where each client's proxy request says (tsock proxy) */
	const struct proxy_server_conf *proxy;
	unsigned max_conns;		/* clients at once */
	unsigned max_sessions;		/* datagram peers at once */
	/* end the run when the first client is done (listen without -k) */
	bool serve_once;
	/* BACK must not lead back to FRONT (relay; see selfloop.h) */
	bool check_loops;
	/* -v's line for a new client: "new client", "connection from" */
	const char *greeting;
};

struct server;

/*
 * Listen on conf->front and serve clients until the run ends (the
 * server is run->first).  False (and the run failed) if FRONT cannot
 * listen.
 */
bool server_start(struct run *run, const struct server_conf *conf);

#endif
