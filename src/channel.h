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
	 * A datagram channel on a connection (unix-seqpacket): reading 0
	 * bytes is its end, which is passed on as the end of stream.
	 */
	bool messages_end;
	/*
	 * A program's end (exec:): it may stop reading, or exit with input
	 * unread; EPIPE and ECONNRESET on it end that direction, not the
	 * relay with an error, and once it has hung up entirely and its
	 * output is passed on, nothing more can go to it: the relay is over.
	 */
	bool quits_quietly;
	/*
	 * What to wait for once the data has ended (exec: the child's
	 * exit), if anything: done, or -1 with *error saying what failed.
	 */
	struct tevent_req *(*finish_send)(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct channel *chan);
	int (*finish_recv)(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			   char **error);
	void *finish_data;		/* the kind's, for finish_send */
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
 * Open ep as a client, as its kind does (a connected socket, stdin and
 * stdout, a child process...), then run its layers (TLS).  Everything
 * together is bounded by ep's connect timeout (timeout=, -w), if any.
 * client: the accepted client this is for, or NULL; self: see struct
 * open_args.  A loop through FRONT frees mem_ctx (see selfloop.h).
 */
struct selfloop;

struct tevent_req *channel_open_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     const struct endpoint *ep,
				     const struct channel *client,
				     struct selfloop *self);

/*
 * As channel_open_send, with owner (not mem_ctx) the object a loop
 * check's note of the connection belongs to, and hands back when the
 * connection comes back to FRONT (see selfloop.h): the session.
 */
struct tevent_req *channel_open_owned_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   const struct endpoint *ep,
					   const struct channel *client,
					   struct selfloop *self, void *owner);

/*
 * For a kind's open_recv: the opener's channel (*chan) on mem_ctx, or on
 * failure NULL with *error its message (*failure, else "out of memory").
 */
struct channel *channel_opener_result(struct tevent_req *req,
				      struct channel **chan, char **failure,
				      TALLOC_CTX *mem_ctx, char **error);

/* The channel on mem_ctx, or NULL with *error (on mem_ctx) set. */
struct channel *channel_open_recv(struct tevent_req *req,
				  TALLOC_CTX *mem_ctx, char **error);

/*
 * Why a failed open failed, as an errno, before channel_open_recv:
 * ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH (also: a name that does not
 * resolve), ENETUNREACH, ELOOP (only our own address), EPROTO (a layer
 * refused), or EIO when not known.
 */
int channel_open_errno(struct tevent_req *req);

/*
 * True if ss is the channel's own bound address (see struct channel):
 * the same port, and the same address or a wildcard one; the same path
 * for unix sockets.  A datagram "from" there is one we sent ourselves,
 * or one spoofed to make us answer ourselves.
 */
bool channel_is_own_address(const struct channel *chan,
			    const struct sockaddr_storage *ss, socklen_t len);

/* A datagram source that never ends (udp, unix-dgram: no connection). */
static inline bool channel_is_endless(const struct channel *chan)
{
	return chan->dgram != NULL && !chan->messages_end;
}

/* stdin and stdout (fds 0 and 1, which it then owns) as a channel. */
struct channel *channel_open_stdio(TALLOC_CTX *mem_ctx, char **error);

/* A channel for fd, which it then owns; NULL (fd closed) on failure. */
struct channel *channel_from_fd(TALLOC_CTX *mem_ctx, int fd, bool stream,
				const char *name);

/* "tcp:1.2.3.4:80", "tcp:[::1]:80", "unix:/p" for a tsocket address. */
char *channel_address_name(TALLOC_CTX *mem_ctx, const char *kind,
			   const struct tsocket_address *addr);

#endif
