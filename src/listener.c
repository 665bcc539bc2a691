/*
 * listener.c - listening endpoints: stream listeners and bound datagrams
 *
 * The kind binds the socket (struct endpoint_kind.bind); this file
 * accepts on it, or hands a datagram socket over as a channel, and
 * prints the readiness line.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "listener.h"
#include "log.h"

/* How long to stop accepting when out of file descriptors. */
#define LISTENER_BACKOFF_MS 100
/*
 * Receive buffer of datagram listeners: one socket takes every peer's
 * datagrams, so bursts must not overflow the default (about 200 KiB).
 * The kernel caps it at net.core.rmem_max.
 */
#define LISTENER_DGRAM_RCVBUF (4 * 1024 * 1024)

struct listener {
	struct tevent_context *ev;
	int fd;
	struct tevent_fd *fde;
	struct tevent_timer *backoff;
	const char *kind;
	char *name;		/* the listening address, as an endpoint */
	listener_accept_fn fn;
	void *private_data;
	bool paused;
	bool messages;		/* unix-seqpacket: clients are message channels */
};

/*
 * The name of a bound socket as an endpoint ("tcp:127.0.0.1:41234"), on
 * mem_ctx, and print the readiness line with it.  NULL on failure.
 */
static char *listener_announce(TALLOC_CTX *mem_ctx, int fd, const char *kind)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct tsocket_address *addr;
	char *name;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    tsocket_address_bsd_from_sockaddr(mem_ctx, (struct sockaddr *)&ss,
					      len, &addr) == -1) {
		return NULL;
	}
	name = channel_address_name(mem_ctx, kind, addr);
	talloc_free(addr);
	if (name != NULL) {
		fprintf(stderr, "listening on %s\n", name);
		fflush(stderr);
	}
	return name;
}

/*
 * The kind to name a socket by: ep's own, or for one tsock was given
 * (fd:, systemd) what the socket is.
 */
static const char *listener_kind_name(const struct endpoint *ep, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0;
	socklen_t tlen = sizeof(type);

	if (!ep->kind->inherited ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1) {
		return endpoint_kind_name(ep);
	}
	if (ss.ss_family == AF_UNIX) {
		return type == SOCK_STREAM ? "unix"
		       : type == SOCK_SEQPACKET ? "unix-seqpacket"
		       : "unix-dgram";
	}
	return type == SOCK_STREAM ? "tcp" : "udp";
}

static int listener_destructor(struct listener *l)
{
	TALLOC_FREE(l->fde);
	if (l->fd != -1) {
		close(l->fd);
	}
	return 0;
}

static void listener_update(struct listener *l)
{
	tevent_fd_set_flags(l->fde, l->paused || l->backoff != NULL
					? 0 : TEVENT_FD_READ);
}

static void listener_backoff_done(struct tevent_context *ev,
				  struct tevent_timer *te,
				  struct timeval now, void *private_data)
{
	struct listener *l = private_data;

	l->backoff = NULL;
	listener_update(l);
}

static void listener_readable(struct tevent_context *ev,
			      struct tevent_fd *fde, uint16_t flags,
			      void *private_data)
{
	struct listener *l = private_data;
	struct sockaddr_storage ss;
	socklen_t len;
	struct tsocket_address *peer;
	struct channel *client;
	int fd, n;

	/* take what is queued, but let other work in between */
	for (n = 0; n < 64 && !l->paused; n++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED) {
				continue;
			}
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* retry later instead of spinning */
				log_error("accept: %s (retrying)",
					  strerror(errno));
				l->backoff = tevent_add_timer(l->ev, l,
					tevent_timeval_current_ofs(0,
						LISTENER_BACKOFF_MS * 1000),
					listener_backoff_done, l);
				listener_update(l);
			}
			return;
		}
		client = channel_from_fd(NULL, fd, !l->messages, l->name);
		if (client == NULL) {
			log_error("accept: out of memory");
			continue;
		}
		client->messages_end = l->messages;
		if (ss.ss_family != AF_UNIX) {
			memcpy(&client->peer, &ss, len);
			client->peer_len = len;
		}
		if (ss.ss_family != AF_UNIX &&
		    tsocket_address_bsd_from_sockaddr(client,
				(struct sockaddr *)&ss, len, &peer) == 0) {
			talloc_free(client->name);
			client->name = channel_address_name(client, l->kind,
							    peer);
		}
		/* unix clients have no name of their own: the listener's */
		l->fn(client, l->private_data);
	}
}

struct listener *listener_create(TALLOC_CTX *mem_ctx,
				 struct tevent_context *ev,
				 const struct endpoint *ep,
				 listener_accept_fn fn, void *private_data,
				 char **error)
{
	struct listener *l;
	char *err = NULL;

	l = talloc_zero(mem_ctx, struct listener);
	if (l == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	l->ev = ev;
	l->fd = -1;
	l->fn = fn;
	l->private_data = private_data;
	l->messages = ep->carries == CARRIES_MESSAGES;
	talloc_set_destructor(l, listener_destructor);
	/* what the kind binds (a socket file) is l's: goes with it */
	l->fd = ep->kind->bind(l, ep, &err);
	if (l->fd != -1) {
		l->kind = listener_kind_name(ep, l->fd);
		l->fde = tevent_add_fd(ev, l, l->fd, TEVENT_FD_READ,
				       listener_readable, l);
		if (l->fde == NULL) {
			err = talloc_strdup(l, "out of memory");
		}
	}
	if (err != NULL) {
		*error = talloc_asprintf(mem_ctx, "listen on %s: %s",
					 ep->text, err);
		talloc_free(l);
		return NULL;
	}
	l->name = listener_announce(l, l->fd, l->kind);
	if (l->name == NULL) {
		l->name = talloc_strdup(l, ep->text);
	}
	return l;
}

bool listener_address(const struct listener *l, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(l->fd, (struct sockaddr *)ss, len) == 0;
}

void listener_pause(struct listener *l, bool paused)
{
	l->paused = paused;
	listener_update(l);
}

struct channel *listener_bind_dgram(TALLOC_CTX *mem_ctx,
				    const struct endpoint *ep, char **error)
{
	struct channel *chan;
	char *err = NULL, *name;
	int fd, size = LISTENER_DGRAM_RCVBUF;

	chan = talloc_zero(mem_ctx, struct channel);
	if (chan == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	chan->name = talloc_strdup(chan, ep->text);
	/* what the kind binds (a socket file) is chan's: goes with it */
	fd = ep->kind->bind(chan, ep, &err);
	if (fd != -1) {
		/* best effort: a smaller buffer still works */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		if (tdgram_bsd_existing_socket(chan, fd, &chan->dgram) == -1) {
			err = talloc_strdup(chan, strerror(errno));
			close(fd);
		}
	}
	if (err != NULL) {
		*error = talloc_asprintf(mem_ctx, "listen on %s: %s",
					 ep->text, err);
		talloc_free(chan);
		return NULL;
	}
	chan->fd = fd;
	chan->local_len = sizeof(chan->local);
	if (getsockname(fd, (struct sockaddr *)&chan->local,
			&chan->local_len) == -1) {
		chan->local_len = 0;
	}
	name = listener_announce(chan, fd, listener_kind_name(ep, fd));
	if (name != NULL) {
		talloc_free(chan->name);
		chan->name = name;
	}
	return chan;
}
