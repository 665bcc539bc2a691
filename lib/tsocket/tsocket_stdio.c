/*
 * tsocket_stdio.c - one stream over a read fd and a write fd
 *
 * Written on the backend API (tsocket_internal.h) only.  Each direction
 * has its own fd and tevent_fd.  Fds that epoll cannot watch (regular
 * files, /dev/null) never block, so they are read and written directly
 * and the result is posted.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "tsocket_internal.h"

struct tstream_stdio_side {
	int fd;
	bool pollable;		/* false: I/O never blocks, do it directly */
	bool is_socket;		/* sendmsg(MSG_NOSIGNAL) works */
	bool is_fifo;		/* a pipe: its write end is never readable */
	bool is_tty;
	int saved_flags;	/* to restore, or -1 if left untouched */
	struct tevent_fd *fde;
};

struct tstream_stdio {
	struct tstream_stdio_side in, out;
};

/* Whether epoll can watch fd: it cannot for regular files and the like. */
static bool tstream_stdio_pollable(int fd)
{
	struct epoll_event event = { .events = EPOLLIN };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	bool ok;

	if (epfd == -1) {
		return true;
	}
	ok = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0;
	close(epfd);
	return ok;
}

static int tstream_stdio_side_init(struct tstream_stdio_side *side, int fd)
{
	struct stat st;
	int flags;

	side->fd = fd;
	side->saved_flags = -1;
	if (fstat(fd, &st) == -1) {
		return -1;
	}
	side->is_socket = S_ISSOCK(st.st_mode);
	side->is_fifo = S_ISFIFO(st.st_mode);
	side->is_tty = isatty(fd) == 1;
	side->pollable = tstream_stdio_pollable(fd);
	if (!side->pollable) {
		return 0;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags == -1) {
		return -1;
	}
	if (!(flags & O_NONBLOCK)) {
		if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
			return -1;
		}
		/* a terminal is shared with the shell: give it back as found */
		side->saved_flags = flags;
	}
	return 0;
}

static void tstream_stdio_side_close(struct tstream_stdio_side *side,
				     int other_fd)
{
	TALLOC_FREE(side->fde);
	if (side->fd == -1) {
		return;
	}
	if (side->saved_flags != -1) {
		fcntl(side->fd, F_SETFL, side->saved_flags);
	}
	if (side->fd != other_fd) {
		close(side->fd);
	}
	side->fd = -1;
}

static int tstream_stdio_destructor(struct tstream_stdio *stdio)
{
	tstream_stdio_side_close(&stdio->out, stdio->in.fd);
	tstream_stdio_side_close(&stdio->in, -1);
	return 0;
}

static ssize_t tstream_stdio_pending_bytes(struct tstream_context *stream)
{
	struct tstream_stdio *stdio = tstream_context_data(stream,
						struct tstream_stdio);
	int n = 0;

	if (stdio->in.fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	/* not every kind of fd knows (regular files do not): say 0 then */
	if (ioctl(stdio->in.fd, FIONREAD, &n) == -1 || n < 0) {
		return 0;
	}
	return n;
}

/* ---------------------------------------------------------------- I/O */

/*
 * readv and writev share their state: the rest of the caller's vector (a
 * private copy, advanced in place) and the bytes moved so far.
 */
struct tstream_stdio_io_state {
	struct tstream_stdio_side *side;
	struct tevent_timer *read_quiet;	/* see tstream_stdio_io_ready */
	struct iovec *vector;
	size_t count;
	int total;
	bool reading;
	bool some;		/* read_some: done after the first bytes */
};

/* Write without ever raising SIGPIPE, even on pipes and terminals. */
static ssize_t tstream_stdio_write(struct tstream_stdio_side *side,
				   const struct iovec *vector, size_t count)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)vector,
			      .msg_iovlen = count };

	if (side->is_socket) {
		return sendmsg(side->fd, &msg, MSG_NOSIGNAL);
	}
	return tsocket_writev_nosigpipe(side->fd, vector, count);
}

/* Move bytes until the vector is done: 0, EAGAIN (wait) or an errno. */
static int tstream_stdio_try(struct tstream_stdio_io_state *state)
{
	struct tstream_stdio_side *side = state->side;
	ssize_t n;

	for (;;) {
		if (state->reading) {
			n = readv(side->fd, state->vector, (int)state->count);
			if (n == 0) {
				return EPIPE;	/* end of input */
			}
		} else {
			n = tstream_stdio_write(side, state->vector,
						state->count);
		}
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			return errno == EWOULDBLOCK ? EAGAIN : errno;
		}
		state->total += (int)n;
		tsocket_iovec_advance(&state->vector, &state->count,
				      (size_t)n);
		if (state->count == 0 || state->some) {
			return 0;
		}
	}
}

static int tstream_stdio_io_destructor(struct tstream_stdio_io_state *state)
{
	TALLOC_FREE(state->side->fde);
	return 0;
}

/* Flags for a waiting request's tevent_fd. */
static uint16_t tstream_stdio_io_flags(struct tstream_stdio_io_state *state)
{
	struct tstream_stdio_side *side = state->side;

	if (state->reading) {
		return TEVENT_FD_READ;
	}
	/*
	 * tevent (before 0.16) reports errors and hang-ups only to fds
	 * watched for reading, so a writer watches for reading too: a
	 * pipe's write end is never readable otherwise; a socket or a
	 * terminal may be, which tstream_stdio_io_ready deals with.
	 */
	if ((side->is_fifo || side->is_socket || side->is_tty) &&
	    state->read_quiet == NULL) {
		return TEVENT_FD_WRITE | TEVENT_FD_READ;
	}
	return TEVENT_FD_WRITE;
}

static void tstream_stdio_quiet_over(struct tevent_context *ev,
				     struct tevent_timer *te,
				     struct timeval now, void *private_data)
{
	struct tstream_stdio_io_state *state = private_data;

	state->read_quiet = NULL;
	if (state->side->fde != NULL) {
		tevent_fd_set_flags(state->side->fde,
				    tstream_stdio_io_flags(state));
	}
}

static void tstream_stdio_io_ready(struct tevent_context *ev,
				   struct tevent_fd *fde,
				   uint16_t flags, void *private_data)
{
	struct tevent_req *req = private_data;
	struct tstream_stdio_io_state *state = tevent_req_data(req,
					struct tstream_stdio_io_state);
	int err = tstream_stdio_try(state);

	if (err == EAGAIN) {
		if (!state->reading && !(flags & TEVENT_FD_WRITE)) {
			/* readable, not writable: input nobody reads yet;
			 * look again later instead of waking at once */
			state->read_quiet = tevent_add_timer(ev, state,
					tevent_timeval_current_ofs(0, 500000),
					tstream_stdio_quiet_over, state);
			tevent_fd_set_flags(fde,
					    tstream_stdio_io_flags(state));
		}
		return;
	}
	TALLOC_FREE(state->side->fde);
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *tstream_stdio_io_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_stdio_side *side,
					const struct iovec *vector,
					size_t count, bool reading, bool some)
{
	struct tevent_req *req;
	struct tstream_stdio_io_state *state;
	int err;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_stdio_io_state);
	if (req == NULL) {
		return NULL;
	}
	state->side = side;
	state->reading = reading;
	state->some = some;
	if (side->fd == -1) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	state->vector = talloc_memdup(state, vector, count * sizeof(*vector));
	if (tevent_req_nomem(state->vector, req)) {
		return tevent_req_post(req, ev);
	}
	state->count = count;

	err = tstream_stdio_try(state);
	if (err == EAGAIN && side->pollable) {
		side->fde = tevent_add_fd(ev, state, side->fd,
					  tstream_stdio_io_flags(state),
					  tstream_stdio_io_ready, req);
		if (side->fde != NULL) {
			talloc_set_destructor(state,
					      tstream_stdio_io_destructor);
			return req;
		}
		err = ENOMEM;
	}
	return tsocket_req_post_result(req, ev, err);
}

static int tstream_stdio_io_recv(struct tevent_req *req, int *perrno)
{
	struct tstream_stdio_io_state *state = tevent_req_data(req,
					struct tstream_stdio_io_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = state->total;
	}
	tevent_req_received(req);
	return ret;
}

static struct tevent_req *tstream_stdio_readv_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					struct iovec *vector, size_t count)
{
	struct tstream_stdio *stdio = tstream_context_data(stream,
						struct tstream_stdio);

	return tstream_stdio_io_send(mem_ctx, ev, &stdio->in, vector, count,
				     true, false);
}

static struct tevent_req *tstream_stdio_read_some_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					uint8_t *buf, size_t len)
{
	struct tstream_stdio *stdio = tstream_context_data(stream,
						struct tstream_stdio);
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return tstream_stdio_io_send(mem_ctx, ev, &stdio->in, &v, 1, true,
				     true);
}

static ssize_t tstream_stdio_read_some_recv(struct tevent_req *req,
					    int *perrno)
{
	return tstream_stdio_io_recv(req, perrno);
}

static struct tevent_req *tstream_stdio_writev_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					const struct iovec *vector,
					size_t count)
{
	struct tstream_stdio *stdio = tstream_context_data(stream,
						struct tstream_stdio);

	return tstream_stdio_io_send(mem_ctx, ev, &stdio->out, vector, count,
				     false, false);
}

/* ---------------------------------------------------------------- closing */

struct tstream_stdio_close_state {
	int unused;
};

/* Disconnect (both sides) or shutdown (the write side): done at once. */
static struct tevent_req *tstream_stdio_close_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_stdio *stdio,
					bool write_only)
{
	struct tevent_req *req;
	struct tstream_stdio_close_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_stdio_close_state);
	if (req == NULL) {
		return NULL;
	}
	if (stdio->out.fd == -1 && (write_only || stdio->in.fd == -1)) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	if (write_only && stdio->out.fd == stdio->in.fd) {
		/* one fd both ways: only a socket can end one direction */
		if (stdio->out.is_socket &&
		    shutdown(stdio->out.fd, SHUT_WR) == -1) {
			tevent_req_error(req, errno);
			return tevent_req_post(req, ev);
		}
		TALLOC_FREE(stdio->out.fde);
		stdio->out.saved_flags = -1;	/* in restores them */
		stdio->out.fd = -1;
	} else {
		tstream_stdio_side_close(&stdio->out, stdio->in.fd);
	}
	if (!write_only) {
		tstream_stdio_side_close(&stdio->in, -1);
	}
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static int tstream_stdio_close_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

static struct tevent_req *tstream_stdio_disconnect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream)
{
	return tstream_stdio_close_send(mem_ctx, ev,
			tstream_context_data(stream, struct tstream_stdio),
			false);
}

static struct tevent_req *tstream_stdio_shutdown_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream)
{
	return tstream_stdio_close_send(mem_ctx, ev,
			tstream_context_data(stream, struct tstream_stdio),
			true);
}

static const struct tstream_context_ops tstream_stdio_ops = {
	.name = "stdio",
	.pending_bytes = tstream_stdio_pending_bytes,
	.readv_send = tstream_stdio_readv_send,
	.readv_recv = tstream_stdio_io_recv,
	.writev_send = tstream_stdio_writev_send,
	.writev_recv = tstream_stdio_io_recv,
	.disconnect_send = tstream_stdio_disconnect_send,
	.disconnect_recv = tstream_stdio_close_recv,
	.shutdown_send = tstream_stdio_shutdown_send,
	.shutdown_recv = tstream_stdio_close_recv,
	.read_some_send = tstream_stdio_read_some_send,
	.read_some_recv = tstream_stdio_read_some_recv,
};

int _tstream_stdio_create(TALLOC_CTX *mem_ctx, int read_fd, int write_fd,
			  struct tstream_context **stream,
			  const char *location)
{
	struct tstream_context *s;
	struct tstream_stdio *stdio;
	int saved;

	if (read_fd < 0 || write_fd < 0) {
		errno = EBADF;
		return -1;
	}
	s = tstream_context_create(mem_ctx, &tstream_stdio_ops, &stdio,
				   struct tstream_stdio, location);
	if (s == NULL) {
		return -1;
	}
	stdio->in.fd = stdio->out.fd = -1;
	if (tstream_stdio_side_init(&stdio->in, read_fd) == -1) {
		goto fail;
	}
	if (write_fd == read_fd) {
		stdio->out = stdio->in;
		stdio->out.saved_flags = -1;	/* in restores them */
	} else if (tstream_stdio_side_init(&stdio->out, write_fd) == -1) {
		goto fail;
	}
	talloc_set_destructor(stdio, tstream_stdio_destructor);
	*stream = s;
	return 0;
fail:
	saved = errno;
	/* give the fds back untouched: the caller still owns them */
	if (stdio->in.saved_flags != -1) {
		fcntl(stdio->in.fd, F_SETFL, stdio->in.saved_flags);
	}
	talloc_free(s);
	errno = saved;
	return -1;
}
