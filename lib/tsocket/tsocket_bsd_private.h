/*
 * tsocket_bsd_private.h - what the BSD backend's files share
 *
 * Not installed: other backends use tsocket_internal.h only.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCKET_BSD_PRIVATE_H
#define TSOCKET_BSD_PRIVATE_H

#include <netinet/in.h>
#include <sys/un.h>
#include "tsocket_internal.h"

/* ---------------------------------------------------------------- addresses */

struct tsocket_address_bsd {
	socklen_t sa_socklen;	/* the length bind(2)/connect(2) want */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
		struct sockaddr_storage ss;	/* keeps sun_path terminated */
	} u;
};

/* The sockaddr behind addr, or NULL if addr is not a BSD address. */
const struct tsocket_address_bsd *tsocket_address_bsd_data(
	const struct tsocket_address *addr);

/* Wrap a sockaddr the kernel gave us (recvfrom, getsockname). */
struct tsocket_address *tsocket_address_bsd_wrap(TALLOC_CTX *mem_ctx,
						 const struct sockaddr *sa,
						 socklen_t sa_socklen);

/* ---------------------------------------------------------------- fds */

/*
 * One socket watched by one tevent_fd, shared by a reader and a writer.
 *
 * Reading: when the next read will wait for readability (see
 * read_waits_next), interest in reading stays armed after a read is
 * done, so the next read of a conversation costs no epoll_ctl(2); it is
 * dropped when the socket turns readable with nobody reading.
 *
 * Writing: tevent (before 0.16) reports socket errors only to fds
 * watched for reading, and drops a write-only fd that fails without a
 * word.  So a waiting writer also watches for reading, and a wakeup for
 * reading with nobody reading goes to the writer, flagged by_read: the
 * writer's handler tries again, and if it still cannot write, looks at
 * the socket (tsocket_bsd_fd_peer_state) and either fails or calls
 * tsocket_bsd_fd_writer_recheck(): reading is then left unwatched (the
 * bytes nobody reads would wake the loop again and again) and the writer
 * is called again, by_read, once a second until it is done.
 */
typedef void (*tsocket_bsd_fd_handler_t)(void *private_data);

struct tsocket_bsd_fd_guard;

struct tsocket_bsd_fd {
	int fd;
	struct tevent_context *ev;
	struct tevent_fd *fde;
	struct tsocket_bsd_fd_guard *guard;	/* forgets fde if ev dies */
	tsocket_bsd_fd_handler_t on_readable;
	void *readable_private;
	tsocket_bsd_fd_handler_t on_writable;
	void *writable_private;
	bool by_read;		/* this call of on_writable: see above */
	/* tstream_monitor: called like a writer woken by_read */
	tsocket_bsd_fd_handler_t on_monitor;
	void *monitor_private;
	struct tevent_timer *recheck;	/* see tsocket_bsd_fd_writer_recheck */
	bool reset_on_close;	/* see tstream_bsd_reset_on_close() */
	/*
	 * The next read will wait for readability (the last one emptied
	 * the socket): keep reading armed in between.  Otherwise the next
	 * read tries at once, and an armed interest would only wake the
	 * loop for nothing.
	 */
	bool read_waits_next;
};

/* Take ownership of fd; it is closed when the watcher is freed. */
struct tsocket_bsd_fd *tsocket_bsd_fd_create(TALLOC_CTX *mem_ctx, int fd);

/*
 * Call handler(private_data) when the fd becomes readable (writable), on
 * ev.  NULL handler stops watching that direction.  Returns 0 or -1/errno.
 */
int tsocket_bsd_fd_watch_read(struct tsocket_bsd_fd *bfd,
			      struct tevent_context *ev,
			      tsocket_bsd_fd_handler_t handler,
			      void *private_data);
int tsocket_bsd_fd_watch_write(struct tsocket_bsd_fd *bfd,
			       struct tevent_context *ev,
			       tsocket_bsd_fd_handler_t handler,
			       void *private_data);

/*
 * Call handler(private_data) when the socket may have failed, like a
 * writer woken by_read (a monitor: no writer waits, nobody reads).
 */
int tsocket_bsd_fd_watch_monitor(struct tsocket_bsd_fd *bfd,
				 struct tevent_context *ev,
				 tsocket_bsd_fd_handler_t handler,
				 void *private_data);

/*
 * The waiting writer (or the monitor) found nothing wrong, only bytes
 * nobody reads: see above.  0 or -1/errno.
 */
int tsocket_bsd_fd_writer_recheck(struct tsocket_bsd_fd *bfd);

/*
 * What a writer that cannot write finds at the other end, without
 * reading: 0 (nothing wrong: bytes nobody reads, or nothing), the
 * socket's error (ECONNRESET for a reset), EPIPE when both directions
 * are shut, or, if the peer has shut down its sending side (its end of
 * stream is waiting, RDHUP), peer_eof_errno.
 */
int tsocket_bsd_fd_peer_state(const struct tsocket_bsd_fd *bfd,
			      int peer_eof_errno);

/*
 * Where reads land before they are copied into a buffer of their exact
 * size (datagrams, tstream_read_some_alloc): one read(2) instead of a
 * FIONREAD and a read.  Only ever used between a read and its copy, so
 * one per thread is enough.  No UDP payload is larger.
 */
#define TSOCKET_BSD_SCRATCH_SIZE 65536
extern __thread uint8_t tsocket_bsd_scratch[TSOCKET_BSD_SCRATCH_SIZE];

/* Stop watching and close the fd (a later close is a no-op). */
void tsocket_bsd_fd_close(struct tsocket_bsd_fd *bfd);

/* ---------------------------------------------------------------- sockets */

/*
 * A new non-blocking, close-on-exec socket of the address's family,
 * bound to it unless it is a wildcard (any address, port 0, empty unix
 * path).  Returns the fd or -1/errno.
 */
int tsocket_bsd_socket_bind(const struct tsocket_address_bsd *local,
			    int family, int type);

/* True if the address is a wildcard that needs no bind(2). */
bool tsocket_address_bsd_is_wildcard(const struct tsocket_address_bsd *a);

#endif
