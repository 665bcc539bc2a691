/*
 * udp_front.h - one datagram socket serving many peers as sessions
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_UDP_FRONT_H
#define TSOCK_UDP_FRONT_H

#include <talloc.h>
#include <tevent.h>
#include "channel.h"

struct udp_front;

/*
 * Called for the first datagram of each new peer with a session: a
 * datagram channel that receives only that peer's datagrams and sends to
 * that peer through the front's socket.  The callee owns it; freeing it
 * ends the session (a later datagram from the peer starts a new one).
 */
typedef void (*udp_front_session_fn)(struct channel *session,
				     void *private_data);

/*
 * Serve sock (a bound datagram channel, which the front takes over).  At
 * most max_sessions sessions exist at once (0: no limit); datagrams from
 * further peers are dropped and logged with -v, and so are datagrams
 * beyond max_rate a second from one peer (0: no limit) and datagrams
 * that seem to come from sock's own address.
 */
struct udp_front *udp_front_create(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *sock, unsigned max_sessions,
				   unsigned max_rate,
				   udp_front_session_fn fn,
				   void *private_data);

#endif
