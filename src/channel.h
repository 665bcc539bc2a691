/*
 * channel.h - one open endpoint: a stream or a datagram socket
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_CHANNEL_H
#define TSOCK_CHANNEL_H

#include <stdbool.h>
#include <talloc.h>
#include <tevent.h>
#include "tsocket.h"
#include "endpoint.h"

struct channel {
	char *name;			/* for messages, e.g. "tcp:1.2.3.4:80" */
	struct tstream_context *stream;	/* a stream endpoint, or */
	struct tdgram_context *dgram;	/* a datagram endpoint */
	bool is_stdio;
	/*
	 * Our own address: a bound datagram socket's (listener_bind_dgram),
	 * or the local end of a TCP connection we opened.
	 */
	struct sockaddr_storage local;
	socklen_t local_len;
	/* an accepted client's address (0 length: none, e.g. unix) */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	/*
	 * The socket under stream or dgram (which owns it) for an accepted
	 * client and a bound datagram socket; -1 for others.
	 */
	int fd;
};

/*
 * Open ep as a client: connect a stream, wrap stdin/stdout (fds 0 and 1,
 * which the channel then owns), or make a connected datagram
 * socket (unix-dgram clients get an autobound abstract address, so they
 * can receive replies and leave no file behind).  timeout_ms > 0 bounds
 * name resolution and connecting together.
 */
struct tstream_tls_params;
struct selfloop;

/*
 * tls endpoints connect over TCP, then run the TLS handshake with tls
 * (client params; NULL for other endpoints).  With self (else NULL),
 * addresses of our own FRONT are skipped, and each TCP connect is noted
 * there as mem_ctx's, which a loop through FRONT then closes (see
 * selfloop.h).
 */
struct tevent_req *channel_open_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     const struct endpoint *ep,
				     struct tstream_tls_params *tls,
				     struct selfloop *self,
				     int timeout_ms);

/* The channel on mem_ctx, or NULL with *error (on mem_ctx) set. */
struct channel *channel_open_recv(struct tevent_req *req,
				  TALLOC_CTX *mem_ctx, char **error);

/*
 * True if ss is the channel's own bound address (see struct channel):
 * the same port, and the same address or a wildcard one; the same path
 * for unix sockets.  A datagram "from" there is one we sent ourselves,
 * or one spoofed to make us answer ourselves.
 */
bool channel_is_own_address(const struct channel *chan,
			    const struct sockaddr_storage *ss, socklen_t len);

/* "tcp:1.2.3.4:80", "tcp:[::1]:80", "unix:/p" for a tsocket address. */
char *channel_address_name(TALLOC_CTX *mem_ctx, const char *kind,
			   const struct tsocket_address *addr);

#endif
