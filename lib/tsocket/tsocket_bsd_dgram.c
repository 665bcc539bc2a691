/*
 * tsocket_bsd_dgram.c - datagram contexts over UDP and unix sockets
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include "tsocket_bsd_private.h"

struct tdgram_bsd {
	struct tsocket_bsd_fd *bfd;
	int family;
	/*
	 * Once a receive has had to wait, later ones wait for readability
	 * before their first try: one epoll_wait and one recvfrom(2) per
	 * datagram, never a recvfrom(2) spent on EAGAIN, and the loop
	 * serves other sockets between datagrams even under a flood.
	 */
	bool wait_first;
	bool optimize_recvfrom;	/* see tdgram_bsd_optimize_recvfrom() */
	/*
	 * A SOCK_SEQPACKET connection: reading 0 bytes is its peer's end
	 * (EPIPE, as a stream's), not an empty datagram to skip.
	 */
	bool seqpacket;
};


/* ---------------------------------------------------------------- recvfrom */

struct tdgram_bsd_recvfrom_state {
	struct tdgram_bsd *bsd;
	struct tevent_context *ev;
	uint8_t *buf;
	ssize_t len;
	struct tsocket_address *src;
};

static int tdgram_bsd_recvfrom_destructor(struct tdgram_bsd_recvfrom_state *s)
{
	tsocket_bsd_fd_watch_read(s->bsd->bfd, NULL, NULL, NULL);
	return 0;
}

/*
 * Receive one datagram into a buffer of its own.  Returns its length,
 * 0 for an empty datagram (dropped), -1 with errno (EAGAIN: none yet).
 */
static ssize_t tdgram_bsd_recv_one(struct tdgram_bsd_recvfrom_state *state)
{
	int fd = state->bsd->bfd->fd;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	/* unix datagrams can be larger than the scratch: measured first */
	uint8_t *buf = tsocket_bsd_scratch;
	size_t buflen = sizeof(tsocket_bsd_scratch);
	ssize_t len;

	if (state->bsd->family == AF_UNIX) {
		len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
		if (len <= 0) {
			/* errors, and empty datagrams, are read below */
			len = 0;
		}
		if ((size_t)len > buflen) {
			buf = talloc_size(state, (size_t)len);
			if (buf == NULL) {
				errno = ENOMEM;
				return -1;
			}
			buflen = (size_t)len;
		}
	}
	len = recvfrom(fd, buf, buflen, 0, (struct sockaddr *)&ss, &sslen);
	if (len <= 0) {
		if (buf != tsocket_bsd_scratch) {
			talloc_free(buf);
		}
		return len;
	}
	if (sslen < sizeof(sa_family_t)) {
		/* unnamed unix peers (socketpair) come without an address */
		ss.ss_family = (sa_family_t)state->bsd->family;
		sslen = sizeof(sa_family_t);
	}
	if (buf == tsocket_bsd_scratch) {
		state->buf = talloc_memdup(state, buf, (size_t)len);
	} else {
		state->buf = buf;
	}
	state->src = tsocket_address_bsd_wrap(state, (struct sockaddr *)&ss,
					      sslen);
	if (state->buf == NULL || state->src == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return len;
}

/* Receive until a non-empty datagram: 0, EAGAIN (wait), or an errno. */
static int tdgram_bsd_recvfrom_try(struct tdgram_bsd_recvfrom_state *state)
{
	ssize_t len;

	for (;;) {
		len = tdgram_bsd_recv_one(state);
		if (len > 0) {
			state->len = len;
			return 0;
		}
		if (len == 0 && state->bsd->seqpacket) {
			return EPIPE;	/* the connection's end */
		}
		if (len == 0 || errno == EINTR) {
			continue;	/* empty datagrams are skipped */
		}
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	}
}

static void tdgram_bsd_recvfrom_readable(void *private_data)
{
	struct tevent_req *req = private_data;
	struct tdgram_bsd_recvfrom_state *state = tevent_req_data(req,
					struct tdgram_bsd_recvfrom_state);
	int err = tdgram_bsd_recvfrom_try(state);

	if (err == EAGAIN) {
		return;
	}
	state->bsd->wait_first = true;
	state->bsd->bfd->read_waits_next = !state->bsd->optimize_recvfrom;
	tsocket_bsd_fd_watch_read(state->bsd->bfd, NULL, NULL, NULL);
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *tdgram_bsd_recvfrom_send(TALLOC_CTX *mem_ctx,
						   struct tevent_context *ev,
						   struct tdgram_context *dgram)
{
	struct tdgram_bsd *bsd = tdgram_context_data(dgram, struct tdgram_bsd);
	struct tevent_req *req;
	struct tdgram_bsd_recvfrom_state *state;
	int err;

	req = tevent_req_create(mem_ctx, &state,
				struct tdgram_bsd_recvfrom_state);
	if (req == NULL) {
		return NULL;
	}
	state->bsd = bsd;
	if (bsd->bfd->fd == -1) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	/* see wait_first */
	err = bsd->wait_first && !bsd->optimize_recvfrom
	      ? EAGAIN : tdgram_bsd_recvfrom_try(state);
	if (err == EAGAIN &&
	    tsocket_bsd_fd_watch_read(bsd->bfd, ev,
				      tdgram_bsd_recvfrom_readable,
				      req) == 0) {
		talloc_set_destructor(state, tdgram_bsd_recvfrom_destructor);
		return req;
	}
	if (err == EAGAIN) {
		err = errno;
	}
	return tsocket_req_post_result(req, ev, err);
}

static ssize_t tdgram_bsd_recvfrom_recv(struct tevent_req *req, int *perrno,
					TALLOC_CTX *mem_ctx, uint8_t **buf,
					struct tsocket_address **src)
{
	struct tdgram_bsd_recvfrom_state *state = tevent_req_data(req,
					struct tdgram_bsd_recvfrom_state);
	ssize_t len;

	if (tsocket_req_is_error(req, perrno)) {
		tevent_req_received(req);
		return -1;
	}
	*buf = talloc_move(mem_ctx, &state->buf);
	*src = talloc_move(mem_ctx, &state->src);
	len = state->len;
	tevent_req_received(req);
	return len;
}

/* ---------------------------------------------------------------- sendto */

struct tdgram_bsd_sendto_state {
	struct tdgram_bsd *bsd;
	const uint8_t *buf;
	size_t len;
	struct sockaddr_storage dst;
	socklen_t dstlen;		/* 0: the connected peer */
	ssize_t sent;
};

static int tdgram_bsd_sendto_destructor(struct tdgram_bsd_sendto_state *s)
{
	tsocket_bsd_fd_watch_write(s->bsd->bfd, NULL, NULL, NULL);
	return 0;
}

/* Send the datagram: 0, EAGAIN (wait), or an errno. */
static int tdgram_bsd_sendto_try(struct tdgram_bsd_sendto_state *state)
{
	ssize_t n;

	do {
		n = sendto(state->bsd->bfd->fd, state->buf, state->len,
			   MSG_NOSIGNAL,
			   state->dstlen ? (struct sockaddr *)&state->dst : NULL,
			   state->dstlen);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	}
	state->sent = n;
	return 0;
}

static void tdgram_bsd_sendto_writable(void *private_data)
{
	struct tevent_req *req = private_data;
	struct tdgram_bsd_sendto_state *state = tevent_req_data(req,
					struct tdgram_bsd_sendto_state);
	int err = tdgram_bsd_sendto_try(state);

	if (err == EAGAIN && state->bsd->bfd->by_read &&
	    tsocket_bsd_fd_writer_recheck(state->bsd->bfd) == -1) {
		/* datagrams nobody reads woke us: see the fd watcher */
		err = errno;
	}
	if (err == EAGAIN) {
		return;
	}
	tsocket_bsd_fd_watch_write(state->bsd->bfd, NULL, NULL, NULL);
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *tdgram_bsd_sendto_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tdgram_context *dgram,
					const uint8_t *buf, size_t len,
					const struct tsocket_address *dst)
{
	struct tdgram_bsd *bsd = tdgram_context_data(dgram, struct tdgram_bsd);
	const struct tsocket_address_bsd *dst_bsd = NULL;
	struct tevent_req *req;
	struct tdgram_bsd_sendto_state *state;
	int err;

	req = tevent_req_create(mem_ctx, &state,
				struct tdgram_bsd_sendto_state);
	if (req == NULL) {
		return NULL;
	}
	state->bsd = bsd;
	state->buf = buf;
	state->len = len;
	if (dst != NULL) {
		dst_bsd = tsocket_address_bsd_data(dst);
		if (dst_bsd == NULL || dst_bsd->u.sa.sa_family != bsd->family) {
			tevent_req_error(req, EINVAL);
			return tevent_req_post(req, ev);
		}
		memcpy(&state->dst, &dst_bsd->u, dst_bsd->sa_socklen);
		state->dstlen = dst_bsd->sa_socklen;
	}
	if (bsd->bfd->fd == -1) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	err = tdgram_bsd_sendto_try(state);
	if (err == EAGAIN &&
	    tsocket_bsd_fd_watch_write(bsd->bfd, ev,
				       tdgram_bsd_sendto_writable,
				       req) == 0) {
		talloc_set_destructor(state, tdgram_bsd_sendto_destructor);
		return req;
	}
	if (err == EAGAIN) {
		err = errno;
	}
	return tsocket_req_post_result(req, ev, err);
}

static ssize_t tdgram_bsd_sendto_recv(struct tevent_req *req, int *perrno)
{
	struct tdgram_bsd_sendto_state *state = tevent_req_data(req,
					struct tdgram_bsd_sendto_state);
	ssize_t sent = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		sent = state->sent;
	}
	tevent_req_received(req);
	return sent;
}

/* ---------------------------------------------------------------- disconnect */

struct tdgram_bsd_disconnect_state {
	int unused;
};

static struct tevent_req *tdgram_bsd_disconnect_send(TALLOC_CTX *mem_ctx,
						struct tevent_context *ev,
						struct tdgram_context *dgram)
{
	struct tdgram_bsd *bsd = tdgram_context_data(dgram, struct tdgram_bsd);
	struct tevent_req *req;
	struct tdgram_bsd_disconnect_state *state;

	req = tevent_req_create(mem_ctx, &state,
				struct tdgram_bsd_disconnect_state);
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

static int tdgram_bsd_disconnect_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

static const struct tdgram_context_ops tdgram_bsd_ops = {
	.name = "bsd",
	.recvfrom_send = tdgram_bsd_recvfrom_send,
	.recvfrom_recv = tdgram_bsd_recvfrom_recv,
	.sendto_send = tdgram_bsd_sendto_send,
	.sendto_recv = tdgram_bsd_sendto_recv,
	.disconnect_send = tdgram_bsd_disconnect_send,
	.disconnect_recv = tdgram_bsd_disconnect_recv,
};

/* ---------------------------------------------------------------- constructors */

/* Wrap fd (a datagram socket of the given family) in a context. */
static int tdgram_bsd_wrap(TALLOC_CTX *mem_ctx, int fd, int family,
			   struct tdgram_context **dgram,
			   const char *location)
{
	struct tdgram_context *d;
	struct tdgram_bsd *bsd;

	d = tdgram_context_create(mem_ctx, &tdgram_bsd_ops, &bsd,
				  struct tdgram_bsd, location);
	if (d == NULL) {
		return -1;
	}
	bsd->family = family;
	bsd->bfd = tsocket_bsd_fd_create(bsd, fd);
	if (bsd->bfd == NULL) {
		talloc_free(d);
		return -1;
	}
	*dgram = d;
	return 0;
}

/*
 * A datagram socket bound to local and connected to remote (if not
 * NULL); both must be BSD addresses of one of the families allowed.
 */
static int tdgram_bsd_socket(const struct tsocket_address *local,
			     const struct tsocket_address *remote,
			     bool want_unix, bool broadcast,
			     TALLOC_CTX *mem_ctx,
			     struct tdgram_context **dgram,
			     const char *location)
{
	int one = 1;
	const struct tsocket_address_bsd *l = tsocket_address_bsd_data(local);
	const struct tsocket_address_bsd *r = tsocket_address_bsd_data(remote);
	int family, fd, saved;

	if (l == NULL || (remote != NULL && r == NULL) ||
	    want_unix != (l->u.sa.sa_family == AF_UNIX) ||
	    (r != NULL && r->u.sa.sa_family != l->u.sa.sa_family)) {
		errno = EINVAL;
		return -1;
	}
	family = l->u.sa.sa_family;
	if (broadcast && family != AF_INET) {
		errno = EINVAL;	/* only IPv4 has broadcasts */
		return -1;
	}
	fd = tsocket_bsd_socket_bind(l, family, SOCK_DGRAM);
	if (fd == -1) {
		return -1;
	}
	if (broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one,
				    sizeof(one)) == -1) {
		goto fail;
	}
	if (r != NULL && connect(fd, &r->u.sa, r->sa_socklen) == -1) {
		goto fail;
	}
	if (tdgram_bsd_wrap(mem_ctx, fd, family, dgram, location) == -1) {
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int _tdgram_inet_udp_socket(const struct tsocket_address *local,
			    const struct tsocket_address *remote,
			    TALLOC_CTX *mem_ctx,
			    struct tdgram_context **dgram,
			    const char *location)
{
	return tdgram_bsd_socket(local, remote, false, false, mem_ctx, dgram,
				 location);
}

int _tdgram_inet_udp_broadcast_socket(const struct tsocket_address *local,
				      TALLOC_CTX *mem_ctx,
				      struct tdgram_context **dgram,
				      const char *location)
{
	return tdgram_bsd_socket(local, NULL, false, true, mem_ctx, dgram,
				 location);
}

int _tdgram_unix_socket(const struct tsocket_address *local,
			const struct tsocket_address *remote,
			TALLOC_CTX *mem_ctx,
			struct tdgram_context **dgram,
			const char *location)
{
	return tdgram_bsd_socket(local, remote, true, false, mem_ctx, dgram,
				 location);
}

int _tdgram_bsd_existing_socket(TALLOC_CTX *mem_ctx, int fd,
				struct tdgram_context **dgram,
				const char *location)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int type = 0;
	socklen_t tlen = sizeof(type);
	struct tdgram_bsd *bsd;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	/* the family decides how datagrams are received */
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1) {
		return -1;
	}
	if (tdgram_bsd_wrap(mem_ctx, fd, ss.ss_family, dgram,
			    location) == -1) {
		return -1;
	}
	bsd = talloc_get_type(_tdgram_context_data(*dgram), struct tdgram_bsd);
	bsd->seqpacket = type == SOCK_SEQPACKET;
	return 0;
}

bool tdgram_bsd_optimize_recvfrom(struct tdgram_context *dgram, bool on)
{
	struct tdgram_bsd *bsd;
	bool old;

	if (dgram == NULL) {
		return false;
	}
	bsd = talloc_get_type(_tdgram_context_data(dgram), struct tdgram_bsd);
	if (bsd == NULL) {
		return false;
	}
	old = bsd->optimize_recvfrom;
	bsd->optimize_recvfrom = on;
	return old;
}
