/*
 * kind_unix.c - unix:, unix-dgram: and unix-seqpacket: endpoints (PATH
 * or @NAME)
 *
 *   unix:PATH  unix:@NAME  unix-dgram:PATH  unix-dgram:@NAME
 *   unix-seqpacket:PATH  unix-seqpacket:@NAME
 *
 * @NAME is a name in Linux's abstract namespace: no file, gone with the
 * socket.  A listener on a PATH takes care of its socket file (see
 * socket_file.h); mode= sets that file's permissions.  A unix-dgram
 * client gets an autobound abstract address, so that it can receive
 * replies and leaves no file behind.  A unix-seqpacket connection keeps
 * message boundaries: it is relayed as datagrams (one message each),
 * and reading 0 bytes from it is its end.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "channel.h"
#include "endpoint.h"
#include "selfloop.h"
#include "socket_file.h"

static bool unix_is_abstract(const struct endpoint *ep)
{
	return ep->path[0] == '@';
}

static const char *unix_parse(struct endpoint *ep, const char *address,
			      bool listening)
{
	struct sockaddr_un un;
	size_t max = sizeof(un.sun_path) - 1;

	if (*address == '\0') {
		return "missing path";
	}
	if (address[0] == '@' && address[1] == '\0') {
		return "missing name after '@' (an abstract socket)";
	}
	/* a path needs a NUL at its end; an abstract name has one first */
	if (address[0] == '@' && strlen(address + 1) > max) {
		return talloc_asprintf(ep, "abstract name too long for a unix "
				       "socket (at most %zu bytes after '@')",
				       max);
	}
	if (address[0] != '@' && strlen(address) > max) {
		return talloc_asprintf(ep, "path too long for a unix socket "
				       "(at most %zu bytes)", max);
	}
	if (address[0] == '@' && ep->set.mode != -1) {
		return "mode= needs a socket file, not an abstract name";
	}
	ep->path = talloc_strdup(ep, address);
	return ep->path != NULL ? NULL : "out of memory";
}

/* The socket address of ep's path or abstract name, and its length. */
static socklen_t unix_sockaddr(const struct endpoint *ep,
			       struct sockaddr_un *un)
{
	size_t len = strlen(ep->path);

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	if (unix_is_abstract(ep)) {
		/* sun_path[0] stays 0; the name is exactly what follows */
		memcpy(un->sun_path + 1, ep->path + 1, len - 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				   len);
	}
	memcpy(un->sun_path, ep->path, len);
	return (socklen_t)sizeof(*un);
}

static int unix_type(const struct endpoint *ep)
{
	switch (ep->carries) {
	case CARRIES_BYTES:
		return SOCK_STREAM;
	case CARRIES_MESSAGES:
		return SOCK_SEQPACKET;
	case CARRIES_DATAGRAMS:
		break;
	}
	return SOCK_DGRAM;
}

static char *unix_self_error(TALLOC_CTX *mem_ctx, const struct endpoint *ep)
{
	return talloc_asprintf(mem_ctx, "connect to %s: that is this relay's "
			       "own listening address (a loop)", ep->text);
}

/* ------------------------------------------------ a stream: connect */

struct unix_open_state {
	const struct endpoint *ep;
	struct channel *chan;
	char *error;
};

static void unix_open_connected(struct tevent_req *subreq);

static struct tevent_req *unix_open_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 const struct endpoint *ep,
					 struct open_args *args)
{
	struct tevent_req *req, *subreq;
	struct unix_open_state *state;
	struct tsocket_address *local = NULL, *remote = NULL;
	struct sockaddr_un un;
	socklen_t len = unix_sockaddr(ep, &un);

	req = tevent_req_create(mem_ctx, &state, struct unix_open_state);
	if (req == NULL) {
		return NULL;
	}
	state->ep = ep;
	if (selfloop_is_front_path(args->self, ep->path)) {
		state->error = unix_self_error(state, ep);
		tevent_req_error(req, ELOOP);
		return tevent_req_post(req, ev);
	}
	state->chan = talloc_zero(state, struct channel);
	if (tevent_req_nomem(state->chan, req)) {
		return tevent_req_post(req, ev);
	}
	state->chan->fd = -1;
	state->chan->name = talloc_asprintf(state->chan, "unix:%s", ep->path);
	if (tsocket_address_unix_from_path(state, "", &local) == -1 ||
	    tsocket_address_bsd_from_sockaddr(state, (struct sockaddr *)&un,
					      len, &remote) == -1) {
		state->error = talloc_asprintf(state, "connect to %s: %s",
					       ep->text, strerror(errno));
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}
	subreq = tstream_unix_connect_send(state, ev, local, remote);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, unix_open_connected, req);
	return req;
}

static void unix_open_connected(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct unix_open_state *state = tevent_req_data(req,
					struct unix_open_state);
	int err = 0;

	if (tstream_unix_connect_recv(subreq, &err, state->chan,
				      &state->chan->stream) == -1) {
		TALLOC_FREE(subreq);
		state->error = talloc_asprintf(state, "connect to %s: %s",
					       state->chan->name,
					       strerror(err));
		tevent_req_error(req, err);
		return;
	}
	TALLOC_FREE(subreq);
	/* tsock carries half-closed conversations: see tsock(1) */
	tstream_bsd_write_after_peer_eof(state->chan->stream, true);
	tevent_req_done(req);
}

static struct channel *unix_open_recv(struct tevent_req *req,
				      TALLOC_CTX *mem_ctx, char **error)
{
	struct unix_open_state *state = tevent_req_data(req,
					struct unix_open_state);

	return channel_opener_result(req, &state->chan, &state->error,
				     mem_ctx, error);
}

/* ------------------------------------------------ datagrams: connect */

static struct channel *unix_dgram_open(TALLOC_CTX *mem_ctx,
				       const struct endpoint *ep,
				       struct open_args *args, char **error)
{
	struct sockaddr_un un, any = { .sun_family = AF_UNIX };
	socklen_t len = unix_sockaddr(ep, &un);
	char *name;
	int fd;

	if (selfloop_is_front_path(args->self, ep->path)) {
		*error = unix_self_error(mem_ctx, ep);
		return NULL;
	}
	name = talloc_asprintf(mem_ctx, "unix-dgram:%s", ep->path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* binding just the family asks Linux for a unique abstract name */
	if (fd == -1 ||
	    bind(fd, (struct sockaddr *)&any, sizeof(sa_family_t)) == -1 ||
	    connect(fd, (struct sockaddr *)&un, len) == -1) {
		*error = talloc_asprintf(mem_ctx, "connect to %s: %s", name,
					 strerror(errno));
		if (fd != -1) {
			close(fd);
		}
		return NULL;
	}
	return channel_from_fd(mem_ctx, fd, false, name);
}

/* ------------------------------------------------ messages: connect */

/*
 * A unix connect does not wait for the listener to accept: it succeeds
 * at once or fails (EAGAIN: its backlog is full).
 */
static struct channel *unix_seqpacket_open(TALLOC_CTX *mem_ctx,
					   const struct endpoint *ep,
					   struct open_args *args,
					   char **error)
{
	struct sockaddr_un un;
	socklen_t len = unix_sockaddr(ep, &un);
	struct channel *chan;
	char *name;
	int fd;

	if (selfloop_is_front_path(args->self, ep->path)) {
		*error = unix_self_error(mem_ctx, ep);
		return NULL;
	}
	name = talloc_asprintf(mem_ctx, "unix-seqpacket:%s", ep->path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&un, len) == -1) {
		*error = talloc_asprintf(mem_ctx, "connect to %s: %s", name,
					 strerror(errno));
		if (fd != -1) {
			close(fd);
		}
		return NULL;
	}
	chan = channel_from_fd(mem_ctx, fd, false, name);
	if (chan != NULL) {
		chan->messages_end = true;
	}
	return chan;
}

/* ---------------------------------------------------------------- listen */

static int unix_bind(TALLOC_CTX *owner, const struct endpoint *ep,
		     char **error)
{
	struct socket_file *sf = NULL;	/* on owner: goes with the socket */
	struct sockaddr_un un;
	socklen_t len = unix_sockaddr(ep, &un);
	int type = unix_type(ep);
	mode_t old_umask = 0;
	int fd, rc;

	if (!unix_is_abstract(ep)) {
		sf = socket_file_prepare(owner, ep->path, type, error);
		if (sf == NULL) {
			return -1;
		}
	}
	/*
	 * Bound by its path, not through the directory held: the name is
	 * what peers see as our address.
	 */
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		goto fail;
	}
	/*
	 * mode=: the file is made with it (through the umask, which no
	 * other thread of tsock uses), so there is no moment where it has
	 * other permissions, and no chmod by name that a file swapped in
	 * after bind could redirect.
	 */
	if (ep->set.mode != -1) {
		old_umask = umask((mode_t)(~ep->set.mode & 0777));
	}
	rc = bind(fd, (struct sockaddr *)&un, len);
	if (ep->set.mode != -1) {
		umask(old_umask);
	}
	if (rc == -1) {
		goto fail;
	}
	if (sf != NULL) {
		socket_file_bound(sf);
	}
	if (type != SOCK_DGRAM && listen(fd, SOMAXCONN) == -1) {
		goto fail;
	}
	return fd;
fail:
	*error = talloc_strdup(owner, strerror(errno));
	if (fd != -1) {
		close(fd);
	}
	TALLOC_FREE(sf);
	return -1;
}

/* ---------------------------------------------------------------- kinds */

const struct endpoint_kind kind_unix = {
	.name = "unix",
	.carries = CARRIES_BYTES,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.options = KIND_OPT_CONNECT | KIND_OPT_FILE | KIND_OPT_PROXY_HEADER,
	.syntax = "unix:PATH",
	.help = "unix stream socket (@NAME: abstract, no file)",
	.parse = unix_parse,
	.open_send = unix_open_send,
	.open_recv = unix_open_recv,
	.bind = unix_bind,
};

const struct endpoint_kind kind_unix_dgram = {
	.name = "unix-dgram",
	.carries = CARRIES_DATAGRAMS,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.options = KIND_OPT_FILE,
	.syntax = "unix-dgram:PATH",
	.help = "unix datagram socket (@NAME: abstract, no file)",
	.parse = unix_parse,
	.open = unix_dgram_open,
	.bind = unix_bind,
};

const struct endpoint_kind kind_unix_seqpacket = {
	.name = "unix-seqpacket",
	.carries = CARRIES_MESSAGES,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.options = KIND_OPT_FILE,
	.syntax = "unix-seqpacket:PATH",
	.help = "unix socket that keeps message boundaries (@NAME too)",
	.parse = unix_parse,
	.open = unix_seqpacket_open,
	.bind = unix_bind,
};
