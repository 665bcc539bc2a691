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
 * The fd is only watched for the directions that have a request waiting,
 * so an idle socket (say, a half-closed peer nobody reads from) never
 * wakes the loop.
 *
 * One exception: tevent (before 0.16) reports socket errors only to fds
 * watched for reading, and drops a write-only fd that fails without a
 * word.  So a waiting writer also watches for reading.  If that wakes it
 * while the write still cannot go on (the peer sent data or its end of
 * stream, and nobody reads), reading is left unwatched for a while
 * instead of waking the loop again and again; a timer looks again later.
 */
typedef void (*tsocket_bsd_fd_handler_t)(void *private_data);

struct tsocket_bsd_fd {
	int fd;
	struct tevent_context *ev;
	struct tevent_fd *fde;
	tsocket_bsd_fd_handler_t on_readable;
	void *readable_private;
	tsocket_bsd_fd_handler_t on_writable;
	void *writable_private;
	struct tevent_timer *read_quiet;	/* see above */
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
