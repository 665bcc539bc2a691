/*
 * tsocket_bsd_connect.c - async connects of TCP and unix stream sockets
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tsocket_bsd_private.h"

struct tstream_bsd_connect_state {
	int fd;			/* ours until the caller takes the stream */
	struct tevent_fd *fde;
	struct sockaddr_storage local;
	socklen_t local_len;
};

static int tstream_bsd_connect_destructor(
	struct tstream_bsd_connect_state *state)
{
	TALLOC_FREE(state->fde);
	if (state->fd != -1) {
		close(state->fd);
		state->fd = -1;
	}
	return 0;
}

/* Remember the local address the kernel chose; 0 or an errno. */
static int tstream_bsd_connect_finish(struct tstream_bsd_connect_state *state)
{
	state->local_len = sizeof(state->local);
	if (getsockname(state->fd, (struct sockaddr *)&state->local,
			&state->local_len) == -1) {
		state->local_len = 0;
		return errno;
	}
	return 0;
}

static void tstream_bsd_connect_writable(struct tevent_context *ev,
					 struct tevent_fd *fde,
					 uint16_t flags, void *private_data)
{
	struct tevent_req *req = private_data;
	struct tstream_bsd_connect_state *state = tevent_req_data(req,
					struct tstream_bsd_connect_state);
	int err = 0;
	socklen_t len = sizeof(err);

	TALLOC_FREE(state->fde);
	if (getsockopt(state->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
		err = errno;
	}
	if (err == 0) {
		err = tstream_bsd_connect_finish(state);
	}
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

/*
 * Connect a stream socket of remote's family, bound to local first unless
 * local is a wildcard.  want_unix says which kind both addresses must be.
 */
static struct tevent_req *tstream_bsd_connect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					const struct tsocket_address *local,
					const struct tsocket_address *remote,
					bool want_unix)
{
	const struct tsocket_address_bsd *l = tsocket_address_bsd_data(local);
	const struct tsocket_address_bsd *r = tsocket_address_bsd_data(remote);
	struct tevent_req *req;
	struct tstream_bsd_connect_state *state;
	int family;

	req = tevent_req_create(mem_ctx, &state,
				struct tstream_bsd_connect_state);
	if (req == NULL) {
		return NULL;
	}
	state->fd = -1;
	talloc_set_destructor(state, tstream_bsd_connect_destructor);

	if (r == NULL || (local != NULL && l == NULL) ||
	    want_unix != (r->u.sa.sa_family == AF_UNIX)) {
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	family = r->u.sa.sa_family;
	if (l != NULL && l->u.sa.sa_family != family) {
		/* "any address, any port" of the other family is fine */
		if (!tsocket_address_bsd_is_wildcard(l) ||
		    (want_unix != (l->u.sa.sa_family == AF_UNIX))) {
			tevent_req_error(req, EINVAL);
			return tevent_req_post(req, ev);
		}
		l = NULL;
	}

	state->fd = tsocket_bsd_socket_bind(l, family, SOCK_STREAM);
	if (state->fd == -1) {
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}
	if (connect(state->fd, &r->u.sa, r->sa_socklen) == 0) {
		/* unix sockets usually connect at once */
		int err = tstream_bsd_connect_finish(state);

		if (err != 0) {
			tevent_req_error(req, err);
		} else {
			tevent_req_done(req);
		}
		return tevent_req_post(req, ev);
	}
	if (errno != EINPROGRESS) {
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}
	/* bound by connect(2) already: see tstream_inet_tcp_connect_local */
	(void)tstream_bsd_connect_finish(state);
	/* READ too: tevent reports errors (refused) only to readers */
	state->fde = tevent_add_fd(ev, state, state->fd,
				   TEVENT_FD_READ | TEVENT_FD_WRITE,
				   tstream_bsd_connect_writable, req);
	if (tevent_req_nomem(state->fde, req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

int tstream_inet_tcp_connect_local(struct tevent_req *req,
				   TALLOC_CTX *mem_ctx,
				   struct tsocket_address **local)
{
	struct tstream_bsd_connect_state *state = tevent_req_data(req,
					struct tstream_bsd_connect_state);

	if (state->local_len == 0) {
		errno = EINVAL;
		return -1;
	}
	*local = tsocket_address_bsd_wrap(mem_ctx,
					  (struct sockaddr *)&state->local,
					  state->local_len);
	return *local != NULL ? 0 : -1;
}

/* Hand the connected socket over as a stream. */
static int tstream_bsd_connect_recv(struct tevent_req *req, int *perrno,
				    TALLOC_CTX *mem_ctx,
				    struct tstream_context **stream,
				    struct tsocket_address **local,
				    const char *location)
{
	struct tstream_bsd_connect_state *state = tevent_req_data(req,
					struct tstream_bsd_connect_state);
	struct tsocket_address *laddr = NULL;
	int ret = -1;

	if (tsocket_req_is_error(req, perrno)) {
		goto done;
	}
	if (local != NULL) {
		laddr = tsocket_address_bsd_wrap(mem_ctx,
				(struct sockaddr *)&state->local,
				state->local_len);
		if (laddr == NULL) {
			*perrno = errno;
			goto done;
		}
	}
	if (_tstream_bsd_existing_socket(mem_ctx, state->fd, stream,
					 location) == -1) {
		*perrno = errno;
		talloc_free(laddr);
		goto done;
	}
	state->fd = -1;
	if (local != NULL) {
		*local = laddr;
	}
	ret = 0;
done:
	tevent_req_received(req);
	return ret;
}

struct tevent_req *tstream_inet_tcp_connect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					const struct tsocket_address *local,
					const struct tsocket_address *remote)
{
	return tstream_bsd_connect_send(mem_ctx, ev, local, remote, false);
}

int _tstream_inet_tcp_connect_recv(struct tevent_req *req, int *perrno,
				   TALLOC_CTX *mem_ctx,
				   struct tstream_context **stream,
				   struct tsocket_address **local,
				   const char *location)
{
	return tstream_bsd_connect_recv(req, perrno, mem_ctx, stream, local,
					location);
}

struct tevent_req *tstream_unix_connect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					const struct tsocket_address *local,
					const struct tsocket_address *remote)
{
	return tstream_bsd_connect_send(mem_ctx, ev, local, remote, true);
}

int _tstream_unix_connect_recv(struct tevent_req *req, int *perrno,
			       TALLOC_CTX *mem_ctx,
			       struct tstream_context **stream,
			       const char *location)
{
	return tstream_bsd_connect_recv(req, perrno, mem_ctx, stream, NULL,
					location);
}
