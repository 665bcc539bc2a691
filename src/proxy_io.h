/*
 * proxy_io.h - the exchanges of a proxy handshake, either side: send a
 * message, read exactly N bytes, or read a header block a byte at a time
 * (so that nothing after it is taken from the stream)
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_PROXY_IO_H
#define TSOCK_PROXY_IO_H

#include <stdint.h>
#include <sys/uio.h>
#include <tevent.h>
#include "proxy_wire.h"
#include "tsocket.h"

struct proxy_io {
	struct tevent_context *ev;
	struct tstream_context *stream;
	struct tevent_req *req;		/* the handshake's, for the steps */
	/* a step failed: err is an errno, EMSGSIZE for an over-long head */
	void (*failed)(struct tevent_req *req, int err, bool writing);
	uint8_t out[PROXY_REQUEST_MAX];
	size_t out_len;
	uint8_t in[PROXY_REPLY_MAX];
	size_t in_len;
	/* private */
	size_t want;
	struct iovec iov;
	void (*then)(struct tevent_req *req);
};

/* Send out[0..out_len), then call then(io->req). */
void proxy_io_write(struct proxy_io *io, void (*then)(struct tevent_req *req));

/*
 * Read until in[] holds total bytes, or with total 0 until it ends a
 * header block ("\r\n\r\n") within sizeof(in); then call then(io->req).
 */
void proxy_io_read(struct proxy_io *io, size_t total,
		   void (*then)(struct tevent_req *req));

/*
 * What a failed read of what ("reply", "request") means, in words, on
 * mem_ctx: "closed the connection before its reply was complete".
 */
char *proxy_io_read_error(TALLOC_CTX *mem_ctx, int err, const char *what);

#endif
