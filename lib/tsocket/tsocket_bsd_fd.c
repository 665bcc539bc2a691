/*
 * tsocket_bsd_fd.c - one socket, one tevent_fd, a reader and a writer
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "tsocket_bsd_private.h"

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

/* How long a blocked writer ignores readability, see the header. */
#define TSOCKET_BSD_READ_QUIET_MS 500

static int tsocket_bsd_fd_update(struct tsocket_bsd_fd *bfd,
				 struct tevent_context *ev);

void tsocket_bsd_fd_close(struct tsocket_bsd_fd *bfd)
{
	TALLOC_FREE(bfd->read_quiet);
	TALLOC_FREE(bfd->fde);
	bfd->ev = NULL;
	bfd->on_readable = NULL;
	bfd->on_writable = NULL;
	if (bfd->fd != -1) {
		close(bfd->fd);
		bfd->fd = -1;
	}
}

static void tsocket_bsd_fd_quiet_over(struct tevent_context *ev,
				      struct tevent_timer *te,
				      struct timeval now, void *private_data)
{
	struct tsocket_bsd_fd *bfd = private_data;

	bfd->read_quiet = NULL;
	tsocket_bsd_fd_update(bfd, ev);
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
		bfd->on_writable(bfd->writable_private);
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
		/*
		 * Only a writer waits: an error (the write fails now), or
		 * data nobody reads yet.  Stop watching reads for a while
		 * first, the writer's callback may free us.
		 */
		bfd->read_quiet = tevent_add_timer(ev, bfd,
				tevent_timeval_current_ofs(0,
					TSOCKET_BSD_READ_QUIET_MS * 1000),
				tsocket_bsd_fd_quiet_over, bfd);
		tsocket_bsd_fd_update(bfd, ev);
		bfd->on_writable(bfd->writable_private);
	}
}

/* Make the tevent_fd match the handlers installed, on ev. */
static int tsocket_bsd_fd_update(struct tsocket_bsd_fd *bfd,
				 struct tevent_context *ev)
{
	uint16_t flags = 0;

	if (bfd->on_readable != NULL) {
		flags |= TEVENT_FD_READ;
	}
	if (bfd->on_writable != NULL) {
		flags |= TEVENT_FD_WRITE;
		if (bfd->read_quiet == NULL) {
			flags |= TEVENT_FD_READ;	/* for errors */
		}
	}
	if (bfd->fde != NULL && (ev != bfd->ev || flags == 0)) {
		/* a request on another loop, or nothing left to watch */
		TALLOC_FREE(bfd->fde);
		bfd->ev = NULL;
	}
	if (flags == 0) {
		return 0;
	}
	if (bfd->fde == NULL) {
		bfd->fde = tevent_add_fd(ev, bfd, bfd->fd, flags,
					 tsocket_bsd_fd_handler, bfd);
		if (bfd->fde == NULL) {
			errno = ENOMEM;
			return -1;
		}
		bfd->ev = ev;
		return 0;
	}
	tevent_fd_set_flags(bfd->fde, flags);
	return 0;
}

int tsocket_bsd_fd_watch_read(struct tsocket_bsd_fd *bfd,
			      struct tevent_context *ev,
			      tsocket_bsd_fd_handler_t handler,
			      void *private_data)
{
	bfd->on_readable = handler;
	bfd->readable_private = private_data;
	if (tsocket_bsd_fd_update(bfd, ev != NULL ? ev : bfd->ev) == -1) {
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
	if (tsocket_bsd_fd_update(bfd, ev != NULL ? ev : bfd->ev) == -1) {
		bfd->on_writable = NULL;	/* its request fails */
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
