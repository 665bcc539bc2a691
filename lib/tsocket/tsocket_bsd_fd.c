/*
 * tsocket_bsd_fd.c - one socket, one tevent_fd, a reader and a writer
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include "tsocket_bsd_private.h"

__thread uint8_t tsocket_bsd_scratch[TSOCKET_BSD_SCRATCH_SIZE];

/*
 * The watcher's tevent_fd belongs to a loop the caller may free first
 * (an idle stream keeps its read interest armed, see the header).  A
 * guard allocated on the loop tells the watcher when that happens, so it
 * never touches a tevent_fd of a dead loop, nor mistakes a new loop at
 * the same address for the old one.
 */
struct tsocket_bsd_fd_guard {
	struct tsocket_bsd_fd *bfd;
};

static int tsocket_bsd_fd_guard_destructor(struct tsocket_bsd_fd_guard *g)
{
	if (g->bfd != NULL) {
		g->bfd->guard = NULL;
		g->bfd->fde = NULL;	/* tevent frees it with the loop */
		g->bfd->recheck = NULL;
		g->bfd->ev = NULL;
	}
	return 0;
}

/* Forget the loop: free its tevent_fd, timer and guard. */
static void tsocket_bsd_fd_leave_loop(struct tsocket_bsd_fd *bfd)
{
	TALLOC_FREE(bfd->recheck);
	TALLOC_FREE(bfd->fde);
	if (bfd->guard != NULL) {
		bfd->guard->bfd = NULL;
		TALLOC_FREE(bfd->guard);
	}
	bfd->ev = NULL;
}

static int tsocket_bsd_fd_destructor(struct tsocket_bsd_fd *bfd)
{
	tsocket_bsd_fd_close(bfd);
	return 0;
}

struct tsocket_bsd_fd *tsocket_bsd_fd_create(TALLOC_CTX *mem_ctx, int fd)
{
	struct tsocket_bsd_fd *bfd;

	bfd = talloc_zero(mem_ctx, struct tsocket_bsd_fd);
	if (bfd == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	bfd->fd = fd;
	talloc_set_destructor(bfd, tsocket_bsd_fd_destructor);
	return bfd;
}

/* How often a writer that cannot go on looks again, see the header. */
#define TSOCKET_BSD_RECHECK_SECS 1

static int tsocket_bsd_fd_update(struct tsocket_bsd_fd *bfd,
				 struct tevent_context *ev);

void tsocket_bsd_fd_close(struct tsocket_bsd_fd *bfd)
{
	tsocket_bsd_fd_leave_loop(bfd);
	bfd->on_readable = NULL;
	bfd->on_writable = NULL;
	bfd->on_monitor = NULL;
	if (bfd->fd != -1) {
		if (bfd->reset_on_close) {
			/* no linger at all: close(2) sends a reset */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(bfd->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		}
		close(bfd->fd);
		bfd->fd = -1;
	}
}

static void tsocket_bsd_fd_call_writer(struct tsocket_bsd_fd *bfd,
				       bool by_read)
{
	bfd->by_read = by_read;
	bfd->on_writable(bfd->writable_private);
}

static void tsocket_bsd_fd_recheck_due(struct tevent_context *ev,
				       struct tevent_timer *te,
				       struct timeval now, void *private_data)
{
	struct tsocket_bsd_fd *bfd = private_data;

	bfd->recheck = NULL;
	/* each asks for the next look if it still cannot tell */
	if (bfd->on_writable != NULL) {
		tsocket_bsd_fd_call_writer(bfd, true);
	} else if (bfd->on_monitor != NULL) {
		bfd->on_monitor(bfd->monitor_private);
	}
}

int tsocket_bsd_fd_writer_recheck(struct tsocket_bsd_fd *bfd)
{
	if ((bfd->on_writable == NULL && bfd->on_monitor == NULL) ||
	    bfd->ev == NULL) {
		return 0;
	}
	if (bfd->recheck == NULL) {
		bfd->recheck = tevent_add_timer(bfd->ev, bfd,
				tevent_timeval_current_ofs(
					TSOCKET_BSD_RECHECK_SECS, 0),
				tsocket_bsd_fd_recheck_due, bfd);
		if (bfd->recheck == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	return tsocket_bsd_fd_update(bfd, bfd->ev);
}

int tsocket_bsd_fd_peer_state(const struct tsocket_bsd_fd *bfd,
			      int peer_eof_errno)
{
	struct pollfd pfd = { .fd = bfd->fd, .events = POLLRDHUP };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&pfd, 1, 0) <= 0) {
		return 0;
	}
	if (pfd.revents & (POLLERR | POLLNVAL)) {
		if (getsockopt(bfd->fd, SOL_SOCKET, SO_ERROR, &err,
			       &len) == -1 || err == 0) {
			err = (pfd.revents & POLLNVAL) ? EBADF : ECONNRESET;
		}
		return err;
	}
	if (pfd.revents & POLLHUP) {
		return EPIPE;	/* both directions are shut: nothing to send to */
	}
	if (pfd.revents & POLLRDHUP) {
		return peer_eof_errno;
	}
	return 0;
}

static void tsocket_bsd_fd_handler(struct tevent_context *ev,
				   struct tevent_fd *fde,
				   uint16_t flags, void *private_data)
{
	struct tsocket_bsd_fd *bfd = private_data;

	/*
	 * Serve one direction per wakeup: the handler may complete a
	 * request whose callback frees this very watcher.  The other
	 * direction is still ready and gets its turn on the next wakeup.
	 */
	if ((flags & TEVENT_FD_WRITE) && bfd->on_writable != NULL) {
		tsocket_bsd_fd_call_writer(bfd, false);
		return;
	}
	if (!(flags & TEVENT_FD_READ)) {
		return;
	}
	if (bfd->on_readable != NULL) {
		bfd->on_readable(bfd->readable_private);
		return;
	}
	if (bfd->on_writable != NULL) {
		/* an error, an end of stream, or bytes nobody reads */
		tsocket_bsd_fd_call_writer(bfd, true);
		return;
	}
	if (bfd->on_monitor != NULL) {
		bfd->on_monitor(bfd->monitor_private);
		return;
	}
	/* interest left armed after the last read: drop it now */
	tevent_fd_set_flags(bfd->fde, 0);
}

/* Make the tevent_fd match the handlers installed, on ev. */
static int tsocket_bsd_fd_update(struct tsocket_bsd_fd *bfd,
				 struct tevent_context *ev)
{
	uint16_t flags = 0;

	if (bfd->on_writable == NULL && bfd->on_monitor == NULL) {
		TALLOC_FREE(bfd->recheck);
	}
	if (bfd->on_readable != NULL) {
		TALLOC_FREE(bfd->recheck);	/* the reader sees it all */
		flags |= TEVENT_FD_READ;
	}
	if (bfd->on_writable != NULL) {
		flags |= TEVENT_FD_WRITE;
	}
	if ((bfd->on_writable != NULL || bfd->on_monitor != NULL) &&
	    bfd->recheck == NULL) {
		flags |= TEVENT_FD_READ;	/* for errors */
	}
	if (bfd->fde != NULL && ev != NULL && ev != bfd->ev) {
		/* a request on another loop */
		tsocket_bsd_fd_leave_loop(bfd);
	}
	if (flags == 0) {
		if (bfd->fde == NULL) {
			return 0;
		}
		if (bfd->recheck == NULL && bfd->read_waits_next) {
			/* keep reading armed for the next read (see above) */
			flags = TEVENT_FD_READ;
		}
		/* else a monitor looks once a second, or nothing waits */
		if (tevent_fd_get_flags(bfd->fde) != flags) {
			tevent_fd_set_flags(bfd->fde, flags);
		}
		return 0;
	}
	if (ev == NULL) {
		ev = bfd->ev;
	}
	if (bfd->fde == NULL) {
		if (bfd->guard == NULL) {
			bfd->guard = talloc_zero(ev,
					struct tsocket_bsd_fd_guard);
			if (bfd->guard == NULL) {
				errno = ENOMEM;
				return -1;
			}
			bfd->guard->bfd = bfd;
			talloc_set_destructor(bfd->guard,
					      tsocket_bsd_fd_guard_destructor);
		}
		bfd->fde = tevent_add_fd(ev, bfd, bfd->fd, flags,
					 tsocket_bsd_fd_handler, bfd);
		if (bfd->fde == NULL) {
			errno = ENOMEM;
			return -1;
		}
		bfd->ev = ev;
		return 0;
	}
	if (tevent_fd_get_flags(bfd->fde) != flags) {
		tevent_fd_set_flags(bfd->fde, flags);
	}
	return 0;
}

int tsocket_bsd_fd_watch_read(struct tsocket_bsd_fd *bfd,
			      struct tevent_context *ev,
			      tsocket_bsd_fd_handler_t handler,
			      void *private_data)
{
	bfd->on_readable = handler;
	bfd->readable_private = private_data;
	if (tsocket_bsd_fd_update(bfd, ev) == -1) {
		bfd->on_readable = NULL;	/* its request fails */
		return -1;
	}
	return 0;
}

int tsocket_bsd_fd_watch_write(struct tsocket_bsd_fd *bfd,
			       struct tevent_context *ev,
			       tsocket_bsd_fd_handler_t handler,
			       void *private_data)
{
	bfd->on_writable = handler;
	bfd->writable_private = private_data;
	if (tsocket_bsd_fd_update(bfd, ev) == -1) {
		bfd->on_writable = NULL;	/* its request fails */
		return -1;
	}
	return 0;
}

int tsocket_bsd_fd_watch_monitor(struct tsocket_bsd_fd *bfd,
				 struct tevent_context *ev,
				 tsocket_bsd_fd_handler_t handler,
				 void *private_data)
{
	bfd->on_monitor = handler;
	bfd->monitor_private = private_data;
	if (tsocket_bsd_fd_update(bfd, ev) == -1) {
		bfd->on_monitor = NULL;	/* its request fails */
		return -1;
	}
	return 0;
}

int tsocket_bsd_socket_bind(const struct tsocket_address_bsd *local,
			    int family, int type)
{
	int fd, saved;
	int one = 1;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return -1;
	}
	if (family == AF_INET6) {
		/* an "ipv6" address means IPv6 only, as in Samba */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			       sizeof(one)) == -1) {
			goto fail;
		}
	}
	if (local == NULL || tsocket_address_bsd_is_wildcard(local)) {
		return fd;
	}
	if (family != AF_UNIX && type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		       sizeof(one)) == -1) {
		goto fail;
	}
	if (bind(fd, &local->u.sa, local->sa_socklen) == -1) {
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
