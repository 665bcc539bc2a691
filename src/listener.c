/*
 * listener.c - listening endpoints: stream listeners and bound datagrams
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
};

/* A unix socket file we created, removed when this goes away. */
struct socket_file {
	char *path;
	dev_t dev;
	ino_t ino;
};

static int socket_file_destructor(struct socket_file *sf)
{
	struct stat st;

	/* only if it is still ours: someone may have replaced it */
	if (lstat(sf->path, &st) == 0 && st.st_dev == sf->dev &&
	    st.st_ino == sf->ino) {
		unlink(sf->path);
	}
	return 0;
}

/*
 * Make room for a unix socket at path: fine if nothing is there, a stale
 * socket is removed, anything else is an error.  NULL or the reason.
 */
static const char *socket_file_prepare(const char *path, int type)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		return errno == ENOENT ? NULL : strerror(errno);
	}
	if (!S_ISSOCK(st.st_mode)) {
		return "file exists and is not a socket (refusing to "
		       "replace it)";
	}
	strncpy(un.sun_path, path, sizeof(un.sun_path) - 1);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return strerror(errno);
	}
	rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
	close(fd);
	if (rc == 0) {
		return "address in use: another process listens there";
	}
	if (errno != ECONNREFUSED) {
		return strerror(errno);
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		return strerror(errno);
	}
	return NULL;
}

static struct socket_file *socket_file_track(TALLOC_CTX *mem_ctx,
					     const char *path)
{
	struct socket_file *sf = talloc_zero(mem_ctx, struct socket_file);
	struct stat st;

	if (sf == NULL || lstat(path, &st) == -1) {
		talloc_free(sf);
		return NULL;
	}
	sf->path = talloc_strdup(sf, path);
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	talloc_set_destructor(sf, socket_file_destructor);
	return sf;
}

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
 * A socket of the endpoint's kind bound to its address; NULL or the
 * error.  "Every address" is IPv6 "::" accepting IPv4 too, unless -4 or
 * the endpoint say otherwise.
 */
static const char *listener_bind(TALLOC_CTX *mem_ctx,
				 const struct endpoint *ep, int type,
				 int *pfd, struct socket_file **sf)
{
	struct addrinfo hints = { .ai_socktype = type,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char port[8];
	const char *err = NULL;
	int fd = -1, one = 1, zero = 0, rc;

	if (ep->kind == EP_UNIX || ep->kind == EP_UNIX_DGRAM) {
		err = socket_file_prepare(ep->path, type);
		if (err != NULL) {
			return err;
		}
		strncpy(un.sun_path, ep->path, sizeof(un.sun_path) - 1);
		fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1 || bind(fd, (struct sockaddr *)&un,
				     sizeof(un)) == -1) {
			err = strerror(errno);
			goto fail;
		}
		*sf = socket_file_track(mem_ctx, ep->path);
		*pfd = fd;
		return NULL;
	}

	snprintf(port, sizeof(port), "%u", (unsigned)ep->port);
	hints.ai_family = ep->family;
	if (ep->host == NULL && ep->family == AF_UNSPEC) {
		hints.ai_family = AF_INET6;	/* dual stack, see above */
	}
	rc = getaddrinfo(ep->host, port, &hints, &res);
	if (rc != 0 && ep->host == NULL && hints.ai_family == AF_INET6) {
		hints.ai_family = AF_INET;	/* no IPv6 here */
		rc = getaddrinfo(NULL, port, &hints, &res);
	}
	if (rc != 0) {
		return gai_strerror(rc);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			err = strerror(errno);
			continue;
		}
		if (type == SOCK_STREAM) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
		}
		if (ai->ai_family == AF_INET6) {
			/* dual stack only for "every address" */
			int v6only = ep->host != NULL ||
				     ep->family == AF_INET6;

			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				   v6only ? &one : &zero, sizeof(one));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			break;
		}
		err = strerror(errno);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		return err != NULL ? err : "no usable address";
	}
	*pfd = fd;
	return NULL;
fail:
	if (fd != -1) {
		close(fd);
	}
	return err;
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
		client = talloc_zero(NULL, struct channel);
		if (client == NULL ||
		    tstream_bsd_existing_socket(client, fd,
						&client->stream) == -1) {
			log_error("accept: out of memory");
			close(fd);
			talloc_free(client);
			continue;
		}
		/* tsock carries half-closed conversations: see tsock(1) */
		tstream_bsd_write_after_peer_eof(client->stream, true);
		if (ss.ss_family != AF_UNIX &&
		    tsocket_address_bsd_from_sockaddr(client,
				(struct sockaddr *)&ss, len, &peer) == 0) {
			client->name = channel_address_name(client, l->kind,
							    peer);
		} else {
			/* unix clients have no name of their own */
			client->name = talloc_strdup(client, l->name);
		}
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
	struct socket_file *sf = NULL;	/* a child of l: goes with it */
	const char *err;

	l = talloc_zero(mem_ctx, struct listener);
	if (l == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	l->ev = ev;
	l->fd = -1;
	l->fn = fn;
	l->private_data = private_data;
	l->kind = endpoint_kind_name(ep->kind);
	talloc_set_destructor(l, listener_destructor);
	err = listener_bind(l, ep, SOCK_STREAM, &l->fd, &sf);
	if (err == NULL && listen(l->fd, SOMAXCONN) == -1) {
		err = strerror(errno);
	}
	if (err == NULL) {
		l->fde = tevent_add_fd(ev, l, l->fd, TEVENT_FD_READ,
				       listener_readable, l);
		if (l->fde == NULL) {
			err = "out of memory";
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

void listener_pause(struct listener *l, bool paused)
{
	l->paused = paused;
	listener_update(l);
}

struct channel *listener_bind_dgram(TALLOC_CTX *mem_ctx,
				    const struct endpoint *ep, char **error)
{
	struct channel *chan;
	struct socket_file *sf = NULL;
	const char *err;
	char *name;
	int fd = -1;

	chan = talloc_zero(mem_ctx, struct channel);
	if (chan == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	chan->name = talloc_strdup(chan, ep->text);
	err = listener_bind(chan, ep, SOCK_DGRAM, &fd, &sf);
	if (err == NULL) {
		int size = LISTENER_DGRAM_RCVBUF;

		/* best effort: a smaller buffer still works */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	if (err == NULL &&
	    tdgram_bsd_existing_socket(chan, fd, &chan->dgram) == -1) {
		err = strerror(errno);
		close(fd);
	}
	if (err != NULL) {
		*error = talloc_asprintf(mem_ctx, "listen on %s: %s",
					 ep->text, err);
		talloc_free(chan);
		return NULL;
	}
	chan->local_len = sizeof(chan->local);
	if (getsockname(fd, (struct sockaddr *)&chan->local,
			&chan->local_len) == -1) {
		chan->local_len = 0;
	}
	name = listener_announce(chan, fd, endpoint_kind_name(ep->kind));
	if (name != NULL) {
		talloc_free(chan->name);
		chan->name = name;
	}
	return chan;
}
