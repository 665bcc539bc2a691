/*
 * kind_fd.c - fd:N and systemd[:NAME]: descriptors tsock was given
 *
 *   fd:N             an open descriptor: a listening socket is listened
 *                    on (accepted on, or a datagram socket served), a
 *                    connected socket or anything else (a pipe, a tty)
 *                    is opened as it is; what it carries is found with
 *                    SO_TYPE when the endpoint is parsed
 *   systemd[:NAME]   a socket passed by socket activation (LISTEN_PID,
 *                    LISTEN_FDS, LISTEN_FDNAMES, as sd_listen_fds(3)
 *                    defines them): the only one, or the one named NAME
 *
 * tsock did not create these sockets, so it never removes a socket file
 * of theirs.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "channel.h"
#include "endpoint.h"

/* The first descriptor socket activation passes (SD_LISTEN_FDS_START). */
#define FD_LISTEN_START 3

/*
 * What fd is and whether it fits the role; NULL or why not.  Sets
 * ep->carries from its socket type.
 */
static const char *fd_classify(struct endpoint *ep, int fd, bool listening)
{
	int type = 0, accepting = 0;
	socklen_t len = sizeof(type);

	if (fcntl(fd, F_GETFD) == -1) {
		return talloc_asprintf(ep, "descriptor %d is not open", fd);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		if (errno != ENOTSOCK) {
			return talloc_asprintf(ep, "descriptor %d: %s", fd,
					       strerror(errno));
		}
		if (listening) {
			return talloc_asprintf(ep, "descriptor %d is not a "
					       "socket: nothing to listen on",
					       fd);
		}
		ep->carries = CARRIES_BYTES;	/* a pipe, a tty, a file */
		return NULL;
	}
	len = sizeof(accepting);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting,
		       &len) == -1) {
		accepting = 0;
	}
	switch (type) {
	case SOCK_STREAM:
		ep->carries = CARRIES_BYTES;
		break;
	case SOCK_SEQPACKET:
		ep->carries = CARRIES_MESSAGES;
		break;
	case SOCK_DGRAM:
		ep->carries = CARRIES_DATAGRAMS;
		/* a datagram socket is served as it is: no listen(2) */
		return NULL;
	default:
		return talloc_asprintf(ep, "descriptor %d: a socket of a type "
				       "tsock does not relay (%d)", fd, type);
	}
	if (listening && !accepting) {
		return talloc_asprintf(ep, "descriptor %d is a connected "
				       "socket, not a listening one (use it "
				       "with connect)", fd);
	}
	if (!listening && accepting) {
		return talloc_asprintf(ep, "descriptor %d is a listening "
				       "socket (use it as FRONT)", fd);
	}
	return NULL;
}

static const char *fd_parse(struct endpoint *ep, const char *address,
			    bool listening)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(address, &end, 10);
	if (*address < '0' || *address > '9' || *end != '\0' || errno != 0 ||
	    n > 1000000) {
		return "expected a descriptor number (fd:3)";
	}
	ep->fd = (int)n;
	return fd_classify(ep, ep->fd, listening);
}

/* Which LISTEN_FDNAMES entry is name; -1 if none. */
static int systemd_find_name(const char *names, const char *name, int count)
{
	size_t len = strlen(name);
	int i;

	for (i = 0; i < count && names != NULL; i++) {
		const char *colon = strchr(names, ':');
		size_t n = colon != NULL ? (size_t)(colon - names)
					 : strlen(names);

		if (n == len && strncmp(names, name, len) == 0) {
			return i;
		}
		names = colon != NULL ? colon + 1 : NULL;
	}
	return -1;
}

static const char *systemd_parse(struct endpoint *ep, const char *address,
				 bool listening)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char *end;
	long count;
	int index = 0;

	if (pid == NULL || fds == NULL) {
		return "no sockets passed (LISTEN_PID and LISTEN_FDS are not "
		       "set: start tsock by socket activation)";
	}
	if (strtol(pid, &end, 10) != (long)getpid() || *end != '\0') {
		return talloc_asprintf(ep, "the sockets passed are for process "
				       "%s, not this one (LISTEN_PID)", pid);
	}
	count = strtol(fds, &end, 10);
	if (*end != '\0' || count < 1 || count > 1000) {
		return talloc_asprintf(ep, "LISTEN_FDS=%s: no sockets passed",
				       fds);
	}
	if (*address != '\0') {
		index = systemd_find_name(names, address, (int)count);
		if (index == -1) {
			return talloc_asprintf(ep, "no socket named '%s' "
					       "passed (LISTEN_FDNAMES=%s)",
					       address,
					       names != NULL ? names : "");
		}
	} else if (count > 1) {
		return talloc_asprintf(ep, "%ld sockets passed: name one, "
				       "systemd:NAME (LISTEN_FDNAMES=%s)",
				       count, names != NULL ? names : "");
	}
	ep->fd = FD_LISTEN_START + index;
	return fd_classify(ep, ep->fd, listening);
}

/*
 * Make ep's descriptor tsock's: not for exec: children, and, when
 * nonblock, never blocking.  0, or -1 with *error on mem_ctx.
 */
static int fd_take(TALLOC_CTX *mem_ctx, const struct endpoint *ep,
		   bool nonblock, char **error)
{
	int flags = fcntl(ep->fd, F_GETFL);

	if (flags == -1 ||
	    (nonblock && fcntl(ep->fd, F_SETFL, flags | O_NONBLOCK) == -1) ||
	    fcntl(ep->fd, F_SETFD, FD_CLOEXEC) == -1) {
		*error = talloc_asprintf(mem_ctx, "descriptor %d: %s", ep->fd,
					 strerror(errno));
		return -1;
	}
	return 0;
}

/* The descriptor, given over to the listener (which closes it). */
static int fd_bind(TALLOC_CTX *owner, const struct endpoint *ep,
		   char **error)
{
	if (fd_take(owner, ep, true, error) == -1) {
		return -1;
	}
	/* what activated us is used up: children must not think it theirs */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return ep->fd;
}

static struct channel *fd_open(TALLOC_CTX *mem_ctx, const struct endpoint *ep,
			       struct open_args *args, char **error)
{
	struct channel *chan;
	int type;
	socklen_t len = sizeof(type);
	char *name = talloc_asprintf(mem_ctx, "fd:%d", ep->fd);
	bool socket = getsockopt(ep->fd, SOL_SOCKET, SO_TYPE, &type,
				 &len) == 0;

	/*
	 * Not a socket: a pipe or a terminal, whose open file tsock may
	 * share with its parent; tstream_stdio makes it non-blocking and
	 * puts it back as it was at the end.
	 */
	if (fd_take(mem_ctx, ep, socket, error) == -1) {
		return NULL;
	}
	if (socket) {
		chan = channel_from_fd(mem_ctx, ep->fd,
				       ep->carries == CARRIES_BYTES, name);
		if (chan != NULL) {
			chan->messages_end = ep->carries == CARRIES_MESSAGES;
		}
	} else {
		/* not a socket: read and written as stdio is */
		chan = talloc_zero(mem_ctx, struct channel);
		if (chan != NULL) {
			chan->fd = -1;
			chan->name = talloc_strdup(chan, name);
			if (tstream_stdio_create(chan, ep->fd, ep->fd,
						 &chan->stream) == -1) {
				TALLOC_FREE(chan);
			}
		}
	}
	if (chan == NULL) {
		*error = talloc_asprintf(mem_ctx, "%s: %s", name,
					 strerror(errno));
	}
	return chan;
}

const struct endpoint_kind kind_fd = {
	.name = "fd",
	.carries = CARRIES_BYTES,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.inherited = true,
	.single_use = true,
	.syntax = "fd:N",
	.help = "an open descriptor (a listening socket is listened on)",
	.parse = fd_parse,
	.open = fd_open,
	.bind = fd_bind,
};

const struct endpoint_kind kind_systemd = {
	.name = "systemd",
	.carries = CARRIES_BYTES,
	.roles = KIND_LISTENS,
	.inherited = true,
	.address_optional = true,
	.syntax = "systemd[:NAME]",
	.help = "the socket passed by socket activation, or the one named",
	.parse = systemd_parse,
	.bind = fd_bind,
};
