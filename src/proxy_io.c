/*
 * proxy_io.c - the exchanges of a proxy handshake
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include "proxy_io.h"

static void proxy_io_written(struct tevent_req *subreq);
static void proxy_io_read_done(struct tevent_req *subreq);

void proxy_io_write(struct proxy_io *io, void (*then)(struct tevent_req *req))
{
	struct tevent_req *subreq;

	io->then = then;
	io->iov.iov_base = io->out;
	io->iov.iov_len = io->out_len;
	subreq = tstream_writev_send(io->req, io->ev, io->stream, &io->iov, 1);
	if (tevent_req_nomem(subreq, io->req)) {
		return;
	}
	tevent_req_set_callback(subreq, proxy_io_written, io);
}

static void proxy_io_written(struct tevent_req *subreq)
{
	struct proxy_io *io = tevent_req_callback_data_void(subreq);
	int err = 0;

	if (tstream_writev_recv(subreq, &err) == -1) {
		TALLOC_FREE(subreq);
		io->failed(io->req, err, true);
		return;
	}
	TALLOC_FREE(subreq);
	io->then(io->req);
}

static int proxy_io_next_vector(struct tstream_context *stream,
				void *private_data, TALLOC_CTX *mem_ctx,
				struct iovec **vector, size_t *count)
{
	struct proxy_io *io = private_data;

	if (io->want == 0) {		/* a header block */
		if (http_head_complete(io->in, io->in_len)) {
			*count = 0;
			return 0;
		}
		if (io->in_len == sizeof(io->in)) {
			errno = EMSGSIZE;
			return -1;
		}
		io->iov.iov_base = io->in + io->in_len;
		io->iov.iov_len = 1;
		io->in_len++;
	} else if (io->want > sizeof(io->in)) {
		errno = EMSGSIZE;	/* never past the buffer */
		return -1;
	} else if (io->in_len < io->want) {
		io->iov.iov_base = io->in + io->in_len;
		io->iov.iov_len = io->want - io->in_len;
		io->in_len = io->want;
	} else {
		*count = 0;
		return 0;
	}
	*vector = &io->iov;
	*count = 1;
	return 0;
}

void proxy_io_read(struct proxy_io *io, size_t total,
		   void (*then)(struct tevent_req *req))
{
	struct tevent_req *subreq;

	io->then = then;
	io->want = total;
	subreq = tstream_readv_pdu_send(io->req, io->ev, io->stream,
					proxy_io_next_vector, io);
	if (tevent_req_nomem(subreq, io->req)) {
		return;
	}
	tevent_req_set_callback(subreq, proxy_io_read_done, io);
}

static void proxy_io_read_done(struct tevent_req *subreq)
{
	struct proxy_io *io = tevent_req_callback_data_void(subreq);
	int err = 0;

	if (tstream_readv_pdu_recv(subreq, &err) == -1) {
		TALLOC_FREE(subreq);
		io->failed(io->req, err, false);
		return;
	}
	TALLOC_FREE(subreq);
	io->then(io->req);
}

char *proxy_io_read_error(TALLOC_CTX *mem_ctx, int err, const char *what)
{
	switch (err) {
	case EMSGSIZE:
		return talloc_asprintf(mem_ctx, "%s header longer than it may "
				       "be", what);
	case 0:
	case EPIPE:
	case ECONNRESET:
		return talloc_asprintf(mem_ctx, "closed the connection before "
				       "its %s was complete", what);
	}
	return talloc_asprintf(mem_ctx, "reading the %s: %s", what,
			       strerror(err));
}
