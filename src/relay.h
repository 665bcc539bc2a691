/*
 * relay.h - carry data both ways between two channels
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_RELAY_H
#define TSOCK_RELAY_H

#include <stdbool.h>
#include <talloc.h>
#include <tevent.h>
#include "channel.h"
#include "tsocket_frame.h"

struct budget;

struct relay_opts {
	/* frame the stream side(s) with this spec; NULL: raw bytes */
	const struct tframe_spec *frame;
	/* end when nothing moved for this long; 0: never */
	int idle_timeout_ms;
	/*
	 * After the stream side of a stream<->datagram relay reached end of
	 * stream, wait this long (from the last datagram) for replies.
	 */
	int linger_ms;
	bool hexdump;
	/* leave stdio open at the end (listen -k serves the next client) */
	bool keep_stdio;
	/* charged with framing and datagram buffers; NULL: no limit */
	struct budget *budget;
};

/*
 * Called once when the relay ends: err 0 for a normal end (both
 * directions reached end of stream, or an idle/linger timeout), else the
 * errno, with message naming what failed.  The callee may free the relay
 * (and the channels) from here.
 */
typedef void (*relay_done_fn)(void *private_data, int err,
			      const char *message);

struct relay;

/*
 * Start relaying between a and b (which stay the caller's: free them
 * after the relay).  Each direction reads from one channel and writes to
 * the other; end of stream becomes a write-shutdown of the other side, so
 * the opposite direction goes on until it ends too.  Without framing a
 * stream feeding a datagram channel sends each chunk it reads as one
 * datagram; with framing each PDU is one datagram (and back).
 */
struct relay *relay_start(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			  struct channel *a, struct channel *b,
			  const struct relay_opts *opts,
			  relay_done_fn fn, void *private_data);

#endif
