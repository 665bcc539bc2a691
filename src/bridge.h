/*
 * bridge.h - datagram requests over a pool of framed stream connections
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_BRIDGE_H
#define TSOCK_BRIDGE_H

#include <stdbool.h>
#include <talloc.h>
#include <tevent.h>
#include "channel.h"
#include "tsocket_frame.h"

struct bridge_opts {
	const struct tframe_spec *frame;	/* of the stream side */
	const struct endpoint *back;		/* a stream endpoint */
	int reply_ms;		/* a request waits this long; 0: default */
	int idle_ms;		/* an unused connection is closed after */
	unsigned pool;		/* connections at most */
	bool hexdump;
};

struct bridge;

/*
 * Serve the datagram socket sock (taken over): each datagram is framed
 * and sent to the back end on a pooled connection, and the PDU that
 * answers it goes back to its sender.  See bridge.c.
 */
struct bridge *bridge_create(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			     struct channel *sock,
			     const struct bridge_opts *opts);

#endif
