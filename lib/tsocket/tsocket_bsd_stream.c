/*
 * tsocket_bsd_stream.c - stream contexts over TCP and unix stream sockets
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "tsocket_bsd_private.h"

struct tstream_bsd {
	struct tsocket_bsd_fd *bfd;
	/* not a socket after all (a pipe, say): sendmsg(2) cannot be used */
	bool not_a_socket;
	/*
	 * The last read emptied the socket (it got less than it asked
	 * for): the next one waits for readability before its first try,
	 * instead of spending a read(2) on EAGAIN.
	 */
	bool drained;
	/* see tstream_bsd_write_after_peer_eof() */
	bool write_after_peer_eof;
	/* see tstream_bsd_optimize_readv() */
	bool optimize_readv;
	/* see tstream_bsd_fail_readv_first_error() */
	bool fail_readv_first_error;
};

static ssize_t tstream_bsd_pending_bytes(struct tstream_context *stream)
{
	struct tstream_bsd *bsd = tstream_context_data(stream,
						       struct tstream_bsd);
	int n = 0;

	if (bsd->bfd->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	if (ioctl(bsd->bfd->fd, FIONREAD, &n) == -1) {
		return -1;
	}
	return n;
}

/*
 * readv and writev share their state: the part of the caller's vector
 * still to be done (a private copy, since it is advanced in place) and
 * the bytes done so far.
 */
struct tstream_bsd_io_state {
	struct tstream_bsd *bsd;
	struct iovec *vector;
	size_t count;
	struct iovec small[4];	/* saves an allocation for short vectors */
	int total;
	bool some;		/* read_some: done after the first bytes */
	/* read_some_alloc: read into the scratch, then into alloc */
	bool to_scratch;
	uint8_t *alloc;
	int (*try_io)(struct tstream_bsd_io_state *state);
	int (*watch)(struct tsocket_bsd_fd *bfd, struct tevent_context *ev,
		     tsocket_bsd_fd_handler_t handler, void *private_data);
};

static int tstream_bsd_io_destructor(struct tstream_bsd_io_state *state)
{
	state->watch(state->bsd->bfd, NULL, NULL, NULL);
	return 0;
}

/* Account for n bytes done; 0 when the whole vector is, else EAGAIN. */
static int tstream_bsd_io_advance(struct tstream_bsd_io_state *state,
				  ssize_t n)
{
	state->total += (int)n;
	tsocket_iovec_advance(&state->vector, &state->count, (size_t)n);
	return state->count == 0 ? 0 : EAGAIN;
}

/* Read until the vector is full: 0, EAGAIN (wait), EPIPE, or an errno. */
static int tstream_bsd_readv_try(struct tstream_bsd_io_state *state)
{
	ssize_t n;

	if (state->bsd->fail_readv_first_error) {
		int err = 0;
		socklen_t len = sizeof(err);

		/* a reset fails the read even before data still queued */
		if (getsockopt(state->bsd->bfd->fd, SOL_SOCKET, SO_ERROR,
			       &err, &len) == 0 && err != 0) {
			return err;
		}
	}

	for (;;) {
		size_t want = 0, i;

		for (i = 0; i < state->count; i++) {
			want += state->vector[i].iov_len;
		}

		n = readv(state->bsd->bfd->fd, state->vector, (int)state->count);
		if (n == 0) {
			return EPIPE;	/* end of stream */
		}
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			state->bsd->drained = true;
			return errno == EWOULDBLOCK ? EAGAIN : errno;
		}
		state->bsd->drained = (size_t)n < want;
		if (tstream_bsd_io_advance(state, n) == 0 || state->some) {
			return 0;
		}
	}
}

/* Write the whole vector: 0, EAGAIN (wait), or an errno. */
static int tstream_bsd_writev_try(struct tstream_bsd_io_state *state)
{
	struct tstream_bsd *bsd = state->bsd;
	struct msghdr msg;
	ssize_t n;

	for (;;) {
		if (bsd->not_a_socket) {
			n = tsocket_writev_nosigpipe(bsd->bfd->fd,
						     state->vector,
						     state->count);
		} else {
			/* MSG_NOSIGNAL: a gone peer is EPIPE, never SIGPIPE */
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = state->vector;
			msg.msg_iovlen = state->count;
			n = sendmsg(bsd->bfd->fd, &msg, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				bsd->not_a_socket = true;
				continue;
			}
		}
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			return errno == EWOULDBLOCK ? EAGAIN : errno;
		}
		if (tstream_bsd_io_advance(state, n) == 0) {
			return 0;
		}
	}
}

/*
 * The I/O is done: a read_some_alloc copies what landed in the scratch
 * into a buffer of its size.  Returns 0 or ENOMEM.
 */
static int tstream_bsd_io_take(struct tstream_bsd_io_state *state,
			       TALLOC_CTX *mem_ctx)
{
	if (state->to_scratch && state->alloc == NULL) {
		state->alloc = talloc_memdup(mem_ctx, tsocket_bsd_scratch,
					     (size_t)state->total);
		if (state->alloc == NULL) {
			return ENOMEM;
		}
	}
	return 0;
}

static void tstream_bsd_io_ready(void *private_data)
{
	struct tevent_req *req = private_data;
	struct tstream_bsd_io_state *state = tevent_req_data(req,
					struct tstream_bsd_io_state);
	struct tstream_bsd *bsd = state->bsd;
	int err = state->try_io(state);

	if (err == EAGAIN && state->try_io == tstream_bsd_writev_try &&
	    bsd->bfd->by_read) {
		/*
		 * Woken because the socket is readable, and nobody reads:
		 * a peer that reset, or one that shut down its sending
		 * side and waits for nothing from us (Samba's callers
		 * expect ECONNRESET then, rather than waiting forever on
		 * a full socket), or bytes nobody reads yet.
		 */
		err = tsocket_bsd_fd_peer_state(bsd->bfd,
				bsd->write_after_peer_eof ? 0 : ECONNRESET);
		if (err == 0) {
			err = tsocket_bsd_fd_writer_recheck(bsd->bfd) == 0
			      ? EAGAIN : errno;
		}
	}
	if (err == EAGAIN) {
		return;
	}
	if (state->try_io == tstream_bsd_readv_try) {
		bsd->bfd->read_waits_next = bsd->drained &&
					    !bsd->optimize_readv;
	}
	state->watch(bsd->bfd, NULL, NULL, NULL);
	if (err == 0) {
		err = tstream_bsd_io_take(state, state);
	}
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *tstream_bsd_io_send(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct tstream_context *stream,
					      const struct iovec *vector,
					      size_t count, bool reading,
					      bool some, bool to_scratch)
{
	struct tstream_bsd *bsd = tstream_context_data(stream,
						       struct tstream_bsd);
	struct tevent_req *req;
	struct tstream_bsd_io_state *state;
	int err;

	req = tevent_req_create(mem_ctx, &state, struct tstream_bsd_io_state);
	if (req == NULL) {
		return NULL;
	}
	state->bsd = bsd;
	state->some = some;
	state->to_scratch = to_scratch;
	state->try_io = reading ? tstream_bsd_readv_try
				: tstream_bsd_writev_try;
	state->watch = reading ? tsocket_bsd_fd_watch_read
			       : tsocket_bsd_fd_watch_write;
	if (bsd->bfd->fd == -1) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	state->vector = state->small;
	if (count > sizeof(state->small) / sizeof(state->small[0])) {
		state->vector = talloc_array(state, struct iovec, count);
		if (tevent_req_nomem(state->vector, req)) {
			return tevent_req_post(req, ev);
		}
	}
	memcpy(state->vector, vector, count * sizeof(*vector));
	state->count = count;

	/*
	 * Try at once: buffer space is usually there already, and data
	 * too, unless the last read emptied the socket.
	 */
	err = reading && bsd->drained && !bsd->optimize_readv
	      ? EAGAIN : state->try_io(state);
	if (err == EAGAIN &&
	    state->watch(bsd->bfd, ev, tstream_bsd_io_ready, req) == 0) {
		talloc_set_destructor(state, tstream_bsd_io_destructor);
		return req;
	}
	if (err == EAGAIN) {
		err = errno;
	}
	if (reading && bsd->bfd->read_waits_next &&
	    !(bsd->drained && !bsd->optimize_readv)) {
		/* done at once, and the next read tries at once too */
		bsd->bfd->read_waits_next = false;
		tsocket_bsd_fd_watch_read(bsd->bfd, NULL, NULL, NULL);
	}
	if (err == 0) {
		err = tstream_bsd_io_take(state, state);
	}
	return tsocket_req_post_result(req, ev, err);
}

static int tstream_bsd_io_recv(struct tevent_req *req, int *perrno)
{
	struct tstream_bsd_io_state *state = tevent_req_data(req,
					struct tstream_bsd_io_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = state->total;
	}
	tevent_req_received(req);
	return ret;
}

static struct tevent_req *tstream_bsd_readv_send(TALLOC_CTX *mem_ctx,
						 struct tevent_context *ev,
						 struct tstream_context *stream,
						 struct iovec *vector,
						 size_t count)
{
	return tstream_bsd_io_send(mem_ctx, ev, stream, vector, count, true,
				   false, false);
}

static struct tevent_req *tstream_bsd_read_some_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					uint8_t *buf, size_t len)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return tstream_bsd_io_send(mem_ctx, ev, stream, &v, 1, true, true,
				   false);
}

static ssize_t tstream_bsd_read_some_recv(struct tevent_req *req,
					  int *perrno)
{
	return tstream_bsd_io_recv(req, perrno);
}

static struct tevent_req *tstream_bsd_read_alloc_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					size_t max)
{
	struct iovec v = { .iov_base = tsocket_bsd_scratch, .iov_len = max };

	if (v.iov_len > sizeof(tsocket_bsd_scratch)) {
		v.iov_len = sizeof(tsocket_bsd_scratch);
	}
	return tstream_bsd_io_send(mem_ctx, ev, stream, &v, 1, true, true,
				   true);
}

static ssize_t tstream_bsd_read_alloc_recv(struct tevent_req *req,
					   int *perrno, TALLOC_CTX *mem_ctx,
					   uint8_t **buf)
{
	struct tstream_bsd_io_state *state = tevent_req_data(req,
					struct tstream_bsd_io_state);
	uint8_t *got = talloc_move(mem_ctx, &state->alloc);
	ssize_t n = tstream_bsd_io_recv(req, perrno);

	if (n == -1) {
		talloc_free(got);
		return -1;
	}
	*buf = got;
	return n;
}

static struct tevent_req *tstream_bsd_writev_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					const struct iovec *vector,
					size_t count)
{
	return tstream_bsd_io_send(mem_ctx, ev, stream, vector, count, false,
				   false, false);
}

/* ---------------------------------------------------------------- monitor */

struct tstream_bsd_monitor_state {
	struct tstream_bsd *bsd;
};

static int tstream_bsd_monitor_destructor(struct tstream_bsd_monitor_state *s)
{
	tsocket_bsd_fd_watch_monitor(s->bsd->bfd, NULL, NULL, NULL);
	return 0;
}

/* Readable with nobody reading, or a second gone by: anything wrong? */
static void tstream_bsd_monitor_look(void *private_data)
{
	struct tevent_req *req = private_data;
	struct tstream_bsd_monitor_state *state = tevent_req_data(req,
					struct tstream_bsd_monitor_state);
	struct tstream_bsd *bsd = state->bsd;
	int err;

	err = tsocket_bsd_fd_peer_state(bsd->bfd,
			bsd->write_after_peer_eof ? 0 : ECONNRESET);
	if (err == 0) {
		/* bytes nobody reads yet: look again in a while */
		if (tsocket_bsd_fd_writer_recheck(bsd->bfd) == 0) {
			return;
		}
		err = errno;
	}
	tsocket_bsd_fd_watch_monitor(bsd->bfd, NULL, NULL, NULL);
	talloc_set_destructor(state, NULL);
	tevent_req_error(req, err);
}

static struct tevent_req *tstream_bsd_monitor_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream)
{
	struct tstream_bsd *bsd = tstream_context_data(stream,
						       struct tstream_bsd);
	struct tevent_req *req;
	struct tstream_bsd_monitor_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_bsd_monitor_state);
	if (req == NULL) {
		return NULL;
	}
	state->bsd = bsd;
	if (bsd->bfd->fd == -1) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	if (tsocket_bsd_fd_watch_monitor(bsd->bfd, ev,
					 tstream_bsd_monitor_look, req) == -1) {
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}
	talloc_set_destructor(state, tstream_bsd_monitor_destructor);
	return req;
}

static int tstream_bsd_monitor_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

/* ---------------------------------------------------------------- disconnect */

struct tstream_bsd_disconnect_state {
	int unused;
};

static struct tevent_req *tstream_bsd_disconnect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream)
{
	struct tstream_bsd *bsd = tstream_context_data(stream,
						       struct tstream_bsd);
	struct tevent_req *req;
	struct tstream_bsd_disconnect_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_bsd_disconnect_state);
	if (req == NULL) {
		return NULL;
	}
	if (bsd->bfd->fd == -1) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	tsocket_bsd_fd_close(bsd->bfd);
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static int tstream_bsd_disconnect_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

/* ---------------------------------------------------------------- shutdown */

static struct tevent_req *tstream_bsd_shutdown_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream)
{
	struct tstream_bsd *bsd = tstream_context_data(stream,
						       struct tstream_bsd);
	struct tevent_req *req;
	struct tstream_bsd_disconnect_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_bsd_disconnect_state);
	if (req == NULL) {
		return NULL;
	}
	if (bsd->bfd->fd == -1) {
		tevent_req_error(req, ENOTCONN);
	} else if (shutdown(bsd->bfd->fd, SHUT_WR) == -1) {
		tevent_req_error(req, errno);
	} else {
		tevent_req_done(req);
	}
	return tevent_req_post(req, ev);
}

static const struct tstream_context_ops tstream_bsd_ops = {
	.name = "bsd",
	.pending_bytes = tstream_bsd_pending_bytes,
	.readv_send = tstream_bsd_readv_send,
	.readv_recv = tstream_bsd_io_recv,
	.writev_send = tstream_bsd_writev_send,
	.writev_recv = tstream_bsd_io_recv,
	.disconnect_send = tstream_bsd_disconnect_send,
	.disconnect_recv = tstream_bsd_disconnect_recv,
	.shutdown_send = tstream_bsd_shutdown_send,
	.shutdown_recv = tstream_bsd_disconnect_recv,
	.read_some_send = tstream_bsd_read_some_send,
	.read_some_recv = tstream_bsd_read_some_recv,
	.read_alloc_send = tstream_bsd_read_alloc_send,
	.read_alloc_recv = tstream_bsd_read_alloc_recv,
	.monitor_send = tstream_bsd_monitor_send,
	.monitor_recv = tstream_bsd_monitor_recv,
};

/* ---------------------------------------------------------------- settings */

/* The BSD state behind stream, or NULL for another kind of stream. */
static struct tstream_bsd *tstream_bsd_of(struct tstream_context *stream)
{
	if (stream == NULL) {
		return NULL;
	}
	return talloc_get_type(_tstream_context_data(stream),
			       struct tstream_bsd);
}

bool tstream_bsd_write_after_peer_eof(struct tstream_context *stream,
				      bool on)
{
	struct tstream_bsd *bsd = tstream_bsd_of(stream);
	bool old;

	if (bsd == NULL) {
		return false;
	}
	old = bsd->write_after_peer_eof;
	bsd->write_after_peer_eof = on;
	return old;
}

bool tstream_bsd_reset_on_close(struct tstream_context *stream, bool on)
{
	struct tstream_bsd *bsd = tstream_bsd_of(stream);
	bool old;

	if (bsd == NULL) {
		return false;
	}
	old = bsd->bfd->reset_on_close;
	bsd->bfd->reset_on_close = on;
	return old;
}

bool tstream_bsd_optimize_readv(struct tstream_context *stream, bool on)
{
	struct tstream_bsd *bsd = tstream_bsd_of(stream);
	bool old;

	if (bsd == NULL) {
		return false;
	}
	old = bsd->optimize_readv;
	bsd->optimize_readv = on;
	return old;
}

bool tstream_bsd_fail_readv_first_error(struct tstream_context *stream,
					bool on)
{
	struct tstream_bsd *bsd = tstream_bsd_of(stream);
	bool old;

	if (bsd == NULL) {
		return false;
	}
	old = bsd->fail_readv_first_error;
	bsd->fail_readv_first_error = on;
	return old;
}

/* ---------------------------------------------------------------- constructors */

int _tstream_bsd_existing_socket(TALLOC_CTX *mem_ctx, int fd,
				 struct tstream_context **stream,
				 const char *location)
{
	struct tstream_context *s;
	struct tstream_bsd *bsd;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	s = tstream_context_create(mem_ctx, &tstream_bsd_ops, &bsd,
				   struct tstream_bsd, location);
	if (s == NULL) {
		return -1;
	}
	bsd->bfd = tsocket_bsd_fd_create(bsd, fd);
	if (bsd->bfd == NULL) {
		talloc_free(s);
		return -1;
	}
	*stream = s;
	return 0;
}

int _tstream_unix_socketpair(TALLOC_CTX *mem_ctx1,
			     struct tstream_context **stream1,
			     TALLOC_CTX *mem_ctx2,
			     struct tstream_context **stream2,
			     const char *location)
{
	struct tstream_context *s1 = NULL, *s2 = NULL;
	int fds[2];
	int saved;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       fds) == -1) {
		return -1;
	}
	if (_tstream_bsd_existing_socket(mem_ctx1, fds[0], &s1,
					 location) == -1) {
		goto fail;
	}
	fds[0] = -1;	/* s1 owns it now */
	if (_tstream_bsd_existing_socket(mem_ctx2, fds[1], &s2,
					 location) == -1) {
		goto fail;
	}
	*stream1 = s1;
	*stream2 = s2;
	return 0;
fail:
	saved = errno;
	talloc_free(s1);
	if (fds[0] != -1) {
		close(fds[0]);
	}
	close(fds[1]);
	errno = saved;
	return -1;
}
