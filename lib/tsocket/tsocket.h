/*
 * tsocket.h - public API of libtsocket
 *
 * Async sockets on talloc and tevent: endpoint addresses (tsocket_address),
 * datagram sockets (tdgram_context) and byte streams (tstream_context).
 * Every asynchronous operation is a foo_send() / foo_recv() pair of tevent
 * requests.  See tsocket(3) for the rules every implementation follows.
 *
 * Conventions used below:
 *  - Functions returning int return 0 on success and -1 with errno set on
 *    failure, unless stated otherwise.
 *  - foo_recv() functions return -1 and store the error in *perrno.
 *  - Errors found before any I/O is attempted (EINVAL, EBUSY...) are still
 *    reported through the request: foo_send() only returns NULL when it
 *    cannot allocate memory.
 *  - Constructors shown as macros record the caller's source location as the
 *    talloc name, which makes talloc reports point at the caller.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCKET_H
#define TSOCKET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <talloc.h>
#include <tevent.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iovec;
struct tsocket_address;
struct tdgram_context;
struct tstream_context;

/* ------------------------------------------------------------------ */
/* Addresses                                                          */
/* ------------------------------------------------------------------ */

/*
 * A printable form of the address, allocated on mem_ctx:
 * "ipv4:1.2.3.4:445", "ipv6:::1:445" (no brackets) or "unix:/path".
 * Returns NULL with errno EINVAL when addr is NULL, ENOMEM when out of
 * memory.
 */
char *tsocket_address_string(const struct tsocket_address *addr,
			     TALLOC_CTX *mem_ctx);

/*
 * A deep copy of addr, allocated on mem_ctx, that can be changed without
 * touching the original.  Returns NULL with errno set on failure.
 */
struct tsocket_address *_tsocket_address_copy(
	const struct tsocket_address *addr, TALLOC_CTX *mem_ctx,
	const char *location);
#define tsocket_address_copy(addr, mem_ctx) \
	_tsocket_address_copy(addr, mem_ctx, __location__)

/* ------------------------------------------------------------------ */
/* Datagrams                                                          */
/* ------------------------------------------------------------------ */

/*
 * Ask for the next datagram.  Only one receive may be pending per context:
 * a second one fails with EBUSY.  Zero-length datagrams are consumed and
 * skipped, so a completed receive always has at least one byte.
 */
struct tevent_req *tdgram_recvfrom_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tdgram_context *dgram);

/*
 * Result of tdgram_recvfrom_send(): the datagram length (never 0) with the
 * data in *buf and the sender in *src, both talloc children of mem_ctx
 * (either pointer may be NULL if the caller does not want it).
 * Returns -1 and *perrno on failure.
 */
ssize_t tdgram_recvfrom_recv(struct tevent_req *req, int *perrno,
			     TALLOC_CTX *mem_ctx, uint8_t **buf,
			     struct tsocket_address **src);

/*
 * Send len bytes of buf as one datagram to dst (NULL on a connected
 * socket uses its peer).  len 0 fails with EINVAL; a second send pending
 * on the same context fails with EBUSY.  buf and dst must stay valid
 * until the request completes.
 */
struct tevent_req *tdgram_sendto_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      struct tdgram_context *dgram,
				      const uint8_t *buf, size_t len,
				      const struct tsocket_address *dst);

/* Result of tdgram_sendto_send(): bytes sent, or -1 and *perrno. */
ssize_t tdgram_sendto_recv(struct tevent_req *req, int *perrno);

/*
 * Close the socket behind dgram.  Fails with EBUSY while a receive or a
 * send is pending.  talloc_free(dgram) is always a valid alternative.
 */
struct tevent_req *tdgram_disconnect_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tdgram_context *dgram);

/* Result of tdgram_disconnect_send(): 0, or -1 and *perrno. */
int tdgram_disconnect_recv(struct tevent_req *req, int *perrno);

/* ------------------------------------------------------------------ */
/* Streams                                                            */
/* ------------------------------------------------------------------ */

/*
 * How many received bytes are waiting to be read (may be 0, also at end
 * of stream).  Returns -1 with errno set on failure (ENOTCONN after a
 * disconnect).
 */
ssize_t tstream_pending_bytes(struct tstream_context *stream);

/*
 * Fill every buffer of vector[0..count-1] from the stream.  The request
 * completes only when all buffers are full.  An empty vector or a total
 * length of 0 fails with EINVAL, more than IOV_MAX entries or a total that
 * overflows with EMSGSIZE, a second pending read with EBUSY.  At end of
 * stream the read fails with EPIPE (bytes that arrived before the end are
 * delivered to earlier reads that they complete).  The vector (but not the
 * array itself) must stay valid until the request completes.
 */
struct tevent_req *tstream_readv_send(TALLOC_CTX *mem_ctx,
				      struct tevent_context *ev,
				      struct tstream_context *stream,
				      struct iovec *vector,
				      size_t count);

/* Result of tstream_readv_send(): total bytes read, or -1 and *perrno. */
int tstream_readv_recv(struct tevent_req *req, int *perrno);

/*
 * Write every buffer of vector[0..count-1] to the stream.  Same vector
 * rules as tstream_readv_send().  Writing to a peer that has gone fails
 * with EPIPE or ECONNRESET and never raises SIGPIPE.
 */
struct tevent_req *tstream_writev_send(TALLOC_CTX *mem_ctx,
				       struct tevent_context *ev,
				       struct tstream_context *stream,
				       const struct iovec *vector,
				       size_t count);

/* Result of tstream_writev_send(): total bytes written, or -1 and *perrno. */
int tstream_writev_recv(struct tevent_req *req, int *perrno);

/*
 * Close the stream.  Fails with EBUSY while a read or a write is pending.
 * Later operations on the stream fail with ENOTCONN.  talloc_free(stream)
 * is always a valid alternative.
 */
struct tevent_req *tstream_disconnect_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *stream);

/* Result of tstream_disconnect_send(): 0, or -1 and *perrno. */
int tstream_disconnect_recv(struct tevent_req *req, int *perrno);

/*
 * Beyond the tsocket guide: half-close.  End the writing direction of the
 * stream: the peer reads end of stream, while this side can still read
 * until the peer ends too.  On BSD sockets this is shutdown(SHUT_WR); on
 * a stdio stream it closes the write fd.  Fails with EBUSY while a write
 * is pending and ENOTSUP on streams that cannot do it; shutting down
 * twice succeeds.  Later writes fail with EPIPE.
 */
struct tevent_req *tstream_shutdown_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_context *stream);

/* Result of tstream_shutdown_send(): 0, or -1 and *perrno. */
int tstream_shutdown_recv(struct tevent_req *req, int *perrno);

/*
 * Beyond the tsocket guide: read whatever has arrived.  Completes as soon
 * as at least one byte (and at most len) has been read into buf, which
 * must stay valid until then.  This is what a relay wants: one read per
 * wakeup, however much came.  It uses the stream's read slot (EBUSY while
 * a readv is pending, and the other way round), len 0 or buf NULL fails
 * with EINVAL, end of stream with EPIPE.  Streams whose backend has no
 * such operation get it built from tstream_pending_bytes and readv.
 */
struct tevent_req *tstream_read_some_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tstream_context *stream,
					  uint8_t *buf, size_t len);

/* Result of tstream_read_some_send(): bytes read, or -1 and *perrno. */
ssize_t tstream_read_some_recv(struct tevent_req *req, int *perrno);

/*
 * Watch the stream for the connection breaking, without reading: for an
 * idle stream, or one whose reads are paused, whose peer may reset.  The
 * request completes only with an error: the socket's error (ECONNRESET
 * for a reset), ECONNRESET when the peer has shut down its sending side
 * (as for writes: not with tstream_bsd_write_after_peer_eof), and the
 * error of a read or write of the stream that fails (EPIPE at its end),
 * ECONNABORTED when the stream is disconnected.  Data that arrives is left for the
 * next read.  It runs beside a pending readv and writev; one monitor at
 * a time (EBUSY); streams that cannot be watched fail with ENOTSUP.
 * Free the request to stop watching.  Watching a socket whose data
 * nobody reads costs one look a second, not a busy loop.
 */
struct tevent_req *tstream_monitor_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream);

/* Result of tstream_monitor_send(): -1 and *perrno (see above). */
int tstream_monitor_recv(struct tevent_req *req, int *perrno);

/*
 * Beyond the tsocket guide: tstream_read_some into a buffer made for
 * what arrived.  Nothing is allocated while the request waits, so any
 * number of idle streams can wait at no cost in memory; the result is
 * between 1 and max bytes, in a talloc buffer of exactly that size.  On
 * BSD sockets this is one read(2) per call.  Same slot and end of stream
 * rules as tstream_read_some; max 0 fails with EINVAL.
 */
struct tevent_req *tstream_read_some_alloc_send(TALLOC_CTX *mem_ctx,
						struct tevent_context *ev,
						struct tstream_context *stream,
						size_t max);

/* Bytes read, with the buffer moved to mem_ctx; or -1 and *perrno. */
ssize_t tstream_read_some_alloc_recv(struct tevent_req *req, int *perrno,
				     TALLOC_CTX *mem_ctx, uint8_t **buf);

/*
 * Beyond the tsocket guide: why the stream's last request failed, in
 * more words than its errno (for a TLS stream: "the peer sent a fatal
 * alert: Certificate is required", say).  NULL when the backend has
 * nothing to add; the string belongs to the stream.
 */
const char *tstream_error_message(struct tstream_context *stream);

/* ------------------------------------------------------------------ */
/* PDU and queue helpers                                              */
/* ------------------------------------------------------------------ */

/*
 * Called by tstream_readv_pdu_send() before every read: set *vector and
 * *count to the buffers to fill next (allocated on mem_ctx or owned by
 * private_data), or *count to 0 when the PDU is complete.  Return 0, or
 * -1 with errno set to fail the PDU read with that errno.
 */
typedef int (*tstream_readv_pdu_next_vector_t)(struct tstream_context *stream,
					       void *private_data,
					       TALLOC_CTX *mem_ctx,
					       struct iovec **vector,
					       size_t *count);

/*
 * Read one PDU: ask next_vector_fn for buffers and fill them until it
 * returns an empty vector.  Errors from reads or from next_vector_fn fail
 * the request.
 */
struct tevent_req *tstream_readv_pdu_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				struct tstream_context *stream,
				tstream_readv_pdu_next_vector_t next_vector_fn,
				void *next_vector_private);

/* Result of tstream_readv_pdu_send(): total bytes read, or -1 and *perrno. */
int tstream_readv_pdu_recv(struct tevent_req *req, int *perrno);

/*
 * Queued variants: the operation waits in queue until every request
 * queued before it has completed, so callers may start many at once and
 * they run in order.  A request freed while waiting leaves the queue.
 * The data (buf, dst, vector) must stay valid until completion.
 */
struct tevent_req *tdgram_sendto_queue_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tdgram_context *dgram,
					    struct tevent_queue *queue,
					    const uint8_t *buf,
					    size_t len,
					    struct tsocket_address *dst);
ssize_t tdgram_sendto_queue_recv(struct tevent_req *req, int *perrno);

struct tevent_req *tstream_readv_pdu_queue_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				struct tstream_context *stream,
				struct tevent_queue *queue,
				tstream_readv_pdu_next_vector_t next_vector_fn,
				void *next_vector_private);
int tstream_readv_pdu_queue_recv(struct tevent_req *req, int *perrno);

struct tevent_req *tstream_writev_queue_send(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     struct tstream_context *stream,
					     struct tevent_queue *queue,
					     const struct iovec *vector,
					     size_t count);
int tstream_writev_queue_recv(struct tevent_req *req, int *perrno);

/* ------------------------------------------------------------------ */
/* BSD sockets: inet (IPv4, IPv6) and unix addresses                  */
/* ------------------------------------------------------------------ */

/*
 * Build an inet address from a numeric address string (no DNS).  family
 * is "ip" (detect from the string), "ipv4" or "ipv6", case-insensitive.
 * addr_string NULL means any address ("0.0.0.0", or "::" for "ipv6").
 * IPv6 strings may carry a scope ("fe80::1%eth0").
 * Errors: EINVAL for a bad or mismatched address, EAFNOSUPPORT for an
 * unknown family (or for "ipv6" on a system without IPv6).
 */
int _tsocket_address_inet_from_strings(TALLOC_CTX *mem_ctx,
				       const char *family,
				       const char *addr_string,
				       uint16_t port,
				       struct tsocket_address **addr,
				       const char *location);
#define tsocket_address_inet_from_strings(mem_ctx, family, addr_string, \
					  port, addr) \
	_tsocket_address_inet_from_strings(mem_ctx, family, addr_string, \
					   port, addr, __location__)

/*
 * Like tsocket_address_inet_from_strings(), with the port in the string:
 * "1.2.3.4:80", "[::1]:80", or a bare address ("1.2.3.4", "::1", "[::1]")
 * that takes default_port.  A port that is empty, not decimal or over
 * 65535, stray brackets or trailing garbage fail with EINVAL.
 */
int _tsocket_address_inet_from_hostport_strings(TALLOC_CTX *mem_ctx,
						const char *family,
						const char *host_port_addr,
						uint16_t default_port,
						struct tsocket_address **addr,
						const char *location);
#define tsocket_address_inet_from_hostport_strings(mem_ctx, family, \
		host_port_addr, default_port, addr) \
	_tsocket_address_inet_from_hostport_strings(mem_ctx, family, \
		host_port_addr, default_port, addr, __location__)

/*
 * True if addr is an inet address of family fam: "ip" matches both,
 * "ipv4" and "ipv6" (case-insensitive) only their own.  False for NULL,
 * unix addresses and unknown families.
 */
bool tsocket_address_is_inet(const struct tsocket_address *addr,
			     const char *fam);

/* The numeric address ("1.2.3.4", "::1") or NULL/EINVAL if not inet. */
char *tsocket_address_inet_addr_string(const struct tsocket_address *addr,
				       TALLOC_CTX *mem_ctx);

/* The port, or 0 with errno EINVAL if addr is not inet. */
uint16_t tsocket_address_inet_port(const struct tsocket_address *addr);

/* Change the port: 0, or -1/EINVAL if addr is not inet. */
int tsocket_address_inet_set_port(struct tsocket_address *addr,
				  uint16_t port);

/* True if addr is a unix domain address. */
bool tsocket_address_is_unix(const struct tsocket_address *addr);

/*
 * Build a unix address from a filesystem path (NULL means "").  A path
 * that does not fit in sun_path (with its terminating NUL) fails with
 * ENAMETOOLONG.
 */
int _tsocket_address_unix_from_path(TALLOC_CTX *mem_ctx, const char *path,
				    struct tsocket_address **addr,
				    const char *location);
#define tsocket_address_unix_from_path(mem_ctx, path, addr) \
	_tsocket_address_unix_from_path(mem_ctx, path, addr, __location__)

/* The path of a unix address, or NULL/EINVAL if addr is not unix. */
char *tsocket_address_unix_path(const struct tsocket_address *addr,
				TALLOC_CTX *mem_ctx);

/*
 * Wrap a struct sockaddr (AF_INET, AF_INET6 or AF_UNIX) in an address.
 * Errors: EAFNOSUPPORT for another family, EINVAL when sa is NULL or
 * sa_socklen is too small for the family or larger than a
 * struct sockaddr_storage.
 */
int _tsocket_address_bsd_from_sockaddr(TALLOC_CTX *mem_ctx,
				       const struct sockaddr *sa,
				       size_t sa_socklen,
				       struct tsocket_address **addr,
				       const char *location);
#define tsocket_address_bsd_from_sockaddr(mem_ctx, sa, sa_socklen, addr) \
	_tsocket_address_bsd_from_sockaddr(mem_ctx, sa, sa_socklen, addr, \
					   __location__)

/*
 * Copy the struct sockaddr behind addr into sa.  Returns its length, or
 * -1 with EINVAL when addr is not a BSD address or sa_socklen is too small.
 */
ssize_t tsocket_address_bsd_sockaddr(const struct tsocket_address *addr,
				     struct sockaddr *sa,
				     size_t sa_socklen);

/* ------------------------------------------------------------------ */
/* BSD sockets: datagram and stream contexts                          */
/* ------------------------------------------------------------------ */

/*
 * A UDP socket bound to local (an inet address; port 0 picks a free
 * port) and, if remote is not NULL, connected to remote (same family).
 * IPv6 sockets are IPv6-only.  Errors: EINVAL for a non-inet or
 * mismatched address, and whatever socket(2), bind(2) or connect(2) set.
 */
int _tdgram_inet_udp_socket(const struct tsocket_address *local,
			    const struct tsocket_address *remote,
			    TALLOC_CTX *mem_ctx,
			    struct tdgram_context **dgram,
			    const char *location);
#define tdgram_inet_udp_socket(local, remote, mem_ctx, dgram) \
	_tdgram_inet_udp_socket(local, remote, mem_ctx, dgram, __location__)

/*
 * An unconnected UDP socket bound to local (an IPv4 address) that may
 * send to broadcast addresses (SO_BROADCAST).  EINVAL for anything but
 * an IPv4 address.
 */
int _tdgram_inet_udp_broadcast_socket(const struct tsocket_address *local,
				      TALLOC_CTX *mem_ctx,
				      struct tdgram_context **dgram,
				      const char *location);
#define tdgram_inet_udp_broadcast_socket(local, mem_ctx, dgram) \
	_tdgram_inet_udp_broadcast_socket(local, mem_ctx, dgram, \
					  __location__)

/*
 * A unix datagram socket bound to local (an empty path leaves it unbound)
 * and connected to remote when remote is not NULL.  The socket file that
 * binding creates is the caller's to remove.
 */
int _tdgram_unix_socket(const struct tsocket_address *local,
			const struct tsocket_address *remote,
			TALLOC_CTX *mem_ctx,
			struct tdgram_context **dgram,
			const char *location);
#define tdgram_unix_socket(local, remote, mem_ctx, dgram) \
	_tdgram_unix_socket(local, remote, mem_ctx, dgram, __location__)

/*
 * Wrap an existing non-blocking datagram socket.  On success the context
 * owns fd and closes it when freed; on failure fd is left to the caller.
 * Beyond the tsocket guide: fd may be a connected SOCK_SEQPACKET socket,
 * whose end (a read of 0 bytes) tdgram_recvfrom reports as EPIPE.
 */
int _tdgram_bsd_existing_socket(TALLOC_CTX *mem_ctx, int fd,
				struct tdgram_context **dgram,
				const char *location);
#define tdgram_bsd_existing_socket(mem_ctx, fd, dgram) \
	_tdgram_bsd_existing_socket(mem_ctx, fd, dgram, __location__)

/*
 * When on, every recvfrom tries recvfrom(2) at once, before waiting for
 * the socket to be readable: for callers that know datagrams are
 * queued.  Off (the default), a receive tries at once until one has had
 * to wait, and after that waits for readability first: no recvfrom(2)
 * is spent on EAGAIN, and other sockets get their turn between
 * datagrams.  Returns the previous setting; false and no change for a
 * context that is not a BSD socket.
 */
bool tdgram_bsd_optimize_recvfrom(struct tdgram_context *dgram, bool on);

/*
 * Connect a TCP stream from local (an inet address, usually the "any"
 * address with port 0) to remote.  Errors (in tstream_inet_tcp_connect_recv)
 * include ECONNREFUSED, ETIMEDOUT, ENETUNREACH and EINVAL for mismatched
 * or non-inet addresses.
 */
struct tevent_req *tstream_inet_tcp_connect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					const struct tsocket_address *local,
					const struct tsocket_address *remote);

/*
 * Result: 0 with the connected stream in *stream (on mem_ctx) and, when
 * local is not NULL, the local address the kernel chose in *local (also on
 * mem_ctx).  Accepts both the 4-argument call of the tsocket guide and
 * the later 5-argument one:
 *   tstream_inet_tcp_connect_recv(req, &err, mem_ctx, &stream);
 *   tstream_inet_tcp_connect_recv(req, &err, mem_ctx, &stream, &local);
 */
int _tstream_inet_tcp_connect_recv(struct tevent_req *req, int *perrno,
				   TALLOC_CTX *mem_ctx,
				   struct tstream_context **stream,
				   struct tsocket_address **local,
				   const char *location);
#define TSOCKET_PICK_3RD_(a, b, name, ...) name
#define tstream_inet_tcp_connect_recv(req, perrno, mem_ctx, ...) \
	TSOCKET_PICK_3RD_(__VA_ARGS__, TSOCKET_TCP_RECV5_, \
			  TSOCKET_TCP_RECV4_, unused) \
		(req, perrno, mem_ctx, __VA_ARGS__)
#define TSOCKET_TCP_RECV4_(req, perrno, mem_ctx, stream) \
	_tstream_inet_tcp_connect_recv(req, perrno, mem_ctx, stream, NULL, \
				       __location__)
#define TSOCKET_TCP_RECV5_(req, perrno, mem_ctx, stream, local) \
	_tstream_inet_tcp_connect_recv(req, perrno, mem_ctx, stream, local, \
				       __location__)

/*
 * Extension: the local address of a TCP connect still under way (the
 * kernel binds it when the connect starts), on mem_ctx.  A caller knows
 * its own end before the other end can accept it (tsock recognises a
 * connection to itself so).  0, or -1 with errno (EINVAL: none, e.g.
 * the connect failed at once).
 */
int tstream_inet_tcp_connect_local(struct tevent_req *req,
				   TALLOC_CTX *mem_ctx,
				   struct tsocket_address **local);

/*
 * Connect a unix stream to the socket at remote; local may be a unix
 * address to bind first (empty path: unbound).  ENOENT when the path
 * does not exist, ECONNREFUSED when nobody listens on it.
 */
struct tevent_req *tstream_unix_connect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					const struct tsocket_address *local,
					const struct tsocket_address *remote);
int _tstream_unix_connect_recv(struct tevent_req *req, int *perrno,
			       TALLOC_CTX *mem_ctx,
			       struct tstream_context **stream,
			       const char *location);
#define tstream_unix_connect_recv(req, perrno, mem_ctx, stream) \
	_tstream_unix_connect_recv(req, perrno, mem_ctx, stream, __location__)

/* Two connected unix streams, stream1 on mem_ctx1 and stream2 on mem_ctx2. */
int _tstream_unix_socketpair(TALLOC_CTX *mem_ctx1,
			     struct tstream_context **stream1,
			     TALLOC_CTX *mem_ctx2,
			     struct tstream_context **stream2,
			     const char *location);
#define tstream_unix_socketpair(mem_ctx1, stream1, mem_ctx2, stream2) \
	_tstream_unix_socketpair(mem_ctx1, stream1, mem_ctx2, stream2, \
				 __location__)

/*
 * Wrap an existing non-blocking stream socket (an accepted connection,
 * say).  On success the stream owns fd and closes it when freed; on
 * failure fd is left to the caller.
 */
int _tstream_bsd_existing_socket(TALLOC_CTX *mem_ctx, int fd,
				 struct tstream_context **stream,
				 const char *location);
#define tstream_bsd_existing_socket(mem_ctx, fd, stream) \
	_tstream_bsd_existing_socket(mem_ctx, fd, stream, __location__)

/*
 * A write waiting on a full socket whose peer has shut down its sending
 * side (its end of stream is waiting to be read, CLOSE_WAIT) while no
 * readv is pending fails with ECONNRESET within a loop turn or two, as
 * in Samba: such a peer usually reads nothing any more, and the write
 * would otherwise wait for ever.  A caller that carries half-closed
 * conversations (a relay, a client that sends a request and then shuts
 * down its side) turns this off with on = true: the write then waits for
 * the peer to read, looking at the socket once a second without spinning
 * (a reset still ends it).  Returns the previous setting; false and no
 * change for a stream that is not a BSD socket stream.
 */
bool tstream_bsd_write_after_peer_eof(struct tstream_context *stream,
				      bool on);

/*
 * When on, freeing or disconnecting the stream resets the connection
 * (SO_LINGER with a zero timeout: the peer gets a TCP RST, and unsent
 * data is dropped) instead of ending it cleanly.  For passing on an
 * abortive end: a relay whose one side was reset, or truncated (TLS
 * without close_notify), should not make it look like a complete
 * exchange to the other side.  Returns the previous setting; false and
 * no change for a stream that is not a BSD socket stream.
 */
bool tstream_bsd_reset_on_close(struct tstream_context *stream, bool on);

/*
 * When on, every readv (and read_some) tries readv(2) at once, before
 * waiting for the socket to be readable: for callers that know data is
 * there (after tstream_pending_bytes, say).  Off (the default), a read
 * tries at once unless the last one emptied the socket (got less than
 * it asked for), and then waits for readability first: a conversation
 * of small messages costs one read(2) per message, none spent on
 * EAGAIN.  Returns the previous setting; false and no change for a
 * stream that is not a BSD socket stream.
 */
bool tstream_bsd_optimize_readv(struct tstream_context *stream, bool on);

/*
 * When on, a read on a socket with a pending error (a reset) fails with
 * that error at once, even while received data is still queued: a
 * server that wants to stop serving a client that is gone.  Off (the
 * default), queued data is read first.  Returns the previous setting;
 * false and no change for a stream that is not a BSD socket stream.
 */
bool tstream_bsd_fail_readv_first_error(struct tstream_context *stream,
					bool on);

/* ------------------------------------------------------------------ */
/* Beyond the guide: a stream over a pair of file descriptors         */
/* ------------------------------------------------------------------ */

/*
 * One stream that reads from read_fd and writes to write_fd: stdin and
 * stdout, pipes, a terminal, a regular file or /dev/null.  The stream
 * owns both fds (they may be the same fd) and closes them when freed.
 * Pollable fds (pipes, terminals, sockets) are made non-blocking and get
 * their original flags back when the stream is freed; regular files and
 * other fds that cannot be polled are read and written directly.  Writes
 * never raise SIGPIPE: a gone reader is EPIPE.  tstream_shutdown closes
 * write_fd (or shuts a socket down for writing).
 * Returns 0, or -1 with errno (EBADF for a closed fd).
 */
int _tstream_stdio_create(TALLOC_CTX *mem_ctx, int read_fd, int write_fd,
			  struct tstream_context **stream,
			  const char *location);
#define tstream_stdio_create(mem_ctx, read_fd, write_fd, stream) \
	_tstream_stdio_create(mem_ctx, read_fd, write_fd, stream, \
			      __location__)

#ifdef __cplusplus
}
#endif

#endif /* TSOCKET_H */
