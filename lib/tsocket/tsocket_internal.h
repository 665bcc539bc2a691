/*
 * tsocket_internal.h - the API for authors of tsocket backends
 *
 * A backend (BSD sockets, TLS, a stdio pair, a framing layer...) fills an
 * ops table and creates its contexts with the *_create() macros below.
 * The generic layer (tsocket.c) then does the bookkeeping every backend
 * would otherwise repeat:
 *
 *  - it validates arguments (empty vectors, zero lengths) and enforces
 *    "one request per direction" (EBUSY) before a backend op is called;
 *  - it wraps each backend request in a request of its own, so freeing
 *    the caller's request frees the backend's (cancel by free), and
 *    freeing a context with requests pending discards them without their
 *    callbacks ever firing.
 *
 * A backend op therefore only ever sees valid arguments and at most one
 * readv/recvfrom and one writev/sendto at a time.  Backend send functions
 * allocate their request on the mem_ctx they are given and must not
 * complete it synchronously (use tevent_req_post()).  Backend requests may
 * be freed at any time; their cleanup must leave the backend consistent.
 * Backend private data is a talloc child of the context, so it is still
 * valid while pending requests are being discarded.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCKET_INTERNAL_H
#define TSOCKET_INTERNAL_H

#include <sys/uio.h>
#include "tsocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Addresses                                                          */
/* ------------------------------------------------------------------ */

struct tsocket_address_ops {
	const char *name;
	/* printable form, see tsocket_address_string() */
	char *(*string)(const struct tsocket_address *addr,
			TALLOC_CTX *mem_ctx);
	/* deep copy, see tsocket_address_copy() */
	struct tsocket_address *(*copy)(const struct tsocket_address *addr,
					TALLOC_CTX *mem_ctx,
					const char *location);
};

struct tsocket_address {
	const char *location;	/* where it was created, for debugging */
	const struct tsocket_address_ops *ops;
	void *private_data;	/* the backend's, a child of this address */
};

/*
 * Allocate an address on mem_ctx with zeroed private data of the given
 * type; *(type **)pstate points at it.  NULL/ENOMEM on failure.
 */
struct tsocket_address *_tsocket_address_create(TALLOC_CTX *mem_ctx,
					const struct tsocket_address_ops *ops,
					void *pstate, size_t psize,
					const char *type,
					const char *location);
#define tsocket_address_create(mem_ctx, ops, state, type, location) \
	_tsocket_address_create(mem_ctx, ops, state, sizeof(type), #type, \
				location)

/* ------------------------------------------------------------------ */
/* Datagram contexts                                                  */
/* ------------------------------------------------------------------ */

struct tdgram_context_ops {
	const char *name;

	/* Must complete with a datagram of at least one byte. */
	struct tevent_req *(*recvfrom_send)(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tdgram_context *dgram);
	ssize_t (*recvfrom_recv)(struct tevent_req *req, int *perrno,
				 TALLOC_CTX *mem_ctx, uint8_t **buf,
				 struct tsocket_address **src);

	/* len is never 0 */
	struct tevent_req *(*sendto_send)(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tdgram_context *dgram,
					  const uint8_t *buf, size_t len,
					  const struct tsocket_address *dst);
	ssize_t (*sendto_recv)(struct tevent_req *req, int *perrno);

	/* never called while a recvfrom or a sendto is pending */
	struct tevent_req *(*disconnect_send)(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct tdgram_context *dgram);
	int (*disconnect_recv)(struct tevent_req *req, int *perrno);
};

struct tdgram_context *_tdgram_context_create(TALLOC_CTX *mem_ctx,
					const struct tdgram_context_ops *ops,
					void *pstate, size_t psize,
					const char *type,
					const char *location);
#define tdgram_context_create(mem_ctx, ops, state, type, location) \
	_tdgram_context_create(mem_ctx, ops, state, sizeof(type), #type, \
			       location)

void *_tdgram_context_data(struct tdgram_context *dgram);
#define tdgram_context_data(dgram, type) \
	talloc_get_type_abort(_tdgram_context_data(dgram), type)

/* ------------------------------------------------------------------ */
/* Stream contexts                                                    */
/* ------------------------------------------------------------------ */

struct tstream_context_ops {
	const char *name;

	ssize_t (*pending_bytes)(struct tstream_context *stream);

	/*
	 * vector has count >= 1 entries, at most IOV_MAX, with a non-zero
	 * total that fits in an int.  The op must fill every buffer (or
	 * fail, with EPIPE at end of stream) and must copy the array if it
	 * needs it after returning.
	 */
	struct tevent_req *(*readv_send)(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_context *stream,
					 struct iovec *vector,
					 size_t count);
	int (*readv_recv)(struct tevent_req *req, int *perrno);

	/* same vector rules as readv_send */
	struct tevent_req *(*writev_send)(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tstream_context *stream,
					  const struct iovec *vector,
					  size_t count);
	int (*writev_recv)(struct tevent_req *req, int *perrno);

	/* never called while a readv or a writev is pending */
	struct tevent_req *(*disconnect_send)(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct tstream_context *stream);
	int (*disconnect_recv)(struct tevent_req *req, int *perrno);

	/*
	 * Optional (NULL: tstream_shutdown fails with ENOTSUP).  End the
	 * writing direction so the peer sees end of stream; reading goes
	 * on.  Never called while a writev is pending, nor twice: the
	 * generic layer fails later writes with EPIPE itself.
	 */
	struct tevent_req *(*shutdown_send)(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tstream_context *stream);
	int (*shutdown_recv)(struct tevent_req *req, int *perrno);

	/*
	 * Optional (NULL: built from pending_bytes and readv_send).  Read
	 * between 1 and len bytes, whatever has arrived; EPIPE at end of
	 * stream.  Same slot rules as readv_send; len is never 0.
	 */
	struct tevent_req *(*read_some_send)(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     struct tstream_context *stream,
					     uint8_t *buf, size_t len);
	ssize_t (*read_some_recv)(struct tevent_req *req, int *perrno);

	/*
	 * Optional (NULL: built from read_some, one byte first).  Read
	 * between 1 and max bytes into a buffer of that size allocated
	 * only once they are there (see tstream_read_some_alloc_send); the
	 * recv moves it to mem_ctx.  Same slot rules as readv_send.
	 */
	struct tevent_req *(*read_alloc_send)(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct tstream_context *stream,
					      size_t max);
	ssize_t (*read_alloc_recv)(struct tevent_req *req, int *perrno,
				   TALLOC_CTX *mem_ctx, uint8_t **buf);

	/*
	 * Optional (NULL: tstream_monitor fails with ENOTSUP).  Complete,
	 * with an error, when the connection breaks (see
	 * tstream_monitor_send), without reading anything.  Runs beside a
	 * readv and a writev; freeing the request stops the watch.  The
	 * generic layer ends it itself on a disconnect and when a read
	 * or a write fails.
	 */
	struct tevent_req *(*monitor_send)(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *stream);
	int (*monitor_recv)(struct tevent_req *req, int *perrno);

	/*
	 * Optional: a description of the stream's last failure beyond its
	 * errno (a TLS alert, say), or NULL.  See tstream_error_message().
	 */
	const char *(*error_message)(struct tstream_context *stream);
};

struct tstream_context *_tstream_context_create(TALLOC_CTX *mem_ctx,
					const struct tstream_context_ops *ops,
					void *pstate, size_t psize,
					const char *type,
					const char *location);
#define tstream_context_create(mem_ctx, ops, state, type, location) \
	_tstream_context_create(mem_ctx, ops, state, sizeof(type), #type, \
				location)

void *_tstream_context_data(struct tstream_context *stream);
#define tstream_context_data(stream, type) \
	talloc_get_type_abort(_tstream_context_data(stream), type)

/* ------------------------------------------------------------------ */
/* Small helpers shared by backends                                   */
/* ------------------------------------------------------------------ */

/*
 * Check a vector as the generic layer does: 0 if it is usable, else the
 * errno (EINVAL for empty or zero-length, EMSGSIZE for too many entries
 * or a total that does not fit in an int).  *total gets the byte count.
 */
int tsocket_iovec_check(const struct iovec *vector, size_t count,
			size_t *total);

/*
 * Consume n bytes from the front of *vector and *count (after a partial
 * readv/writev): fully used entries are dropped, a partly used one is
 * advanced.  The array itself is modified.
 */
void tsocket_iovec_advance(struct iovec **vector, size_t *count, size_t n);

/*
 * A request's error as an errno: the tevent error code if it is set,
 * otherwise EIO (or ENOMEM, ETIMEDOUT for those tevent states).  Returns
 * true if the request failed.
 */
bool tsocket_req_is_error(struct tevent_req *req, int *perrno);

/*
 * writev(2) that never raises SIGPIPE, for fds that are not sockets
 * (pipes, terminals): a gone reader is EPIPE.  SIGPIPE is blocked around
 * the write and a SIGPIPE the write raised is taken back.
 */
ssize_t tsocket_writev_nosigpipe(int fd, const struct iovec *vector,
				 size_t count);

/*
 * End a request that a send function finished at once: with err, or done
 * if err is 0.  Returns the posted request, so a send function can end
 * with "return tsocket_req_post_result(req, ev, err);".
 */
struct tevent_req *tsocket_req_post_result(struct tevent_req *req,
					   struct tevent_context *ev,
					   int err);

/*
 * The recv function of a request with no result but success: 0, or -1
 * with *perrno.  The request is received either way.
 */
int tsocket_req_simple_recv(struct tevent_req *req, int *perrno);

#ifdef __cplusplus
}
#endif

#endif /* TSOCKET_INTERNAL_H */
