/*
 * listener.c - listening endpoints: stream listeners and bound datagrams
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

/*
 * A unix socket file we created, removed when this goes away.
 *
 * Everything done to the file goes through its directory, opened once
 * before the first look: if a directory on the way is renamed or swapped
 * for a symlink meanwhile, the checks and the unlink still happen in the
 * directory that was looked at, so only the very file that was checked
 * (a socket, not a symlink) can go.  O_PATH needs no read permission on
 * the directory, and serves fstatat and unlinkat.
 */
struct socket_file {
	int dirfd;
	char *name;		/* the file's name in dirfd */
	char *path;		/* as the user gave it, for bind and messages */
	bool bound;		/* dev and ino are those of our socket */
	dev_t dev;
	ino_t ino;
};

static int socket_file_destructor(struct socket_file *sf)
{
	struct stat st;

	/* only if it is still ours: someone may have replaced it */
	if (sf->bound &&
	    fstatat(sf->dirfd, sf->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == sf->dev &&
	    st.st_ino == sf->ino) {
		unlinkat(sf->dirfd, sf->name, 0);
	}
	close(sf->dirfd);
	return 0;
}

/*
 * The address to connect to the file at: through /proc/self/fd, so that
 * it is the file in the directory we hold, if /proc has our directory
 * there and the name fits; else its path.
 */
static void socket_file_sockaddr(const struct socket_file *sf,
				 struct sockaddr_un *un)
{
	struct stat dir, via_proc;
	char proc[64];
	int n;

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sf->dirfd);
	n = snprintf(un->sun_path, sizeof(un->sun_path), "%s/%s", proc,
		     sf->name);
	if (n > 0 && (size_t)n < sizeof(un->sun_path) &&
	    fstat(sf->dirfd, &dir) == 0 && stat(proc, &via_proc) == 0 &&
	    dir.st_dev == via_proc.st_dev && dir.st_ino == via_proc.st_ino) {
		return;
	}
	memset(un->sun_path, 0, sizeof(un->sun_path));
	strncpy(un->sun_path, sf->path, sizeof(un->sun_path) - 1);
}

/*
 * Whether someone serves the socket file: a connect that does not wait.
 * A live listener whose backlog is full answers EAGAIN at once where a
 * blocking connect would wait for it to accept (maybe forever).  NULL if
 * nobody does (ECONNREFUSED: a stale file), else why not to replace it.
 */
static const char *socket_file_probe(const struct socket_file *sf, int type)
{
	struct sockaddr_un un;
	int fd, rc, err;

	socket_file_sockaddr(sf, &un);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return strerror(errno);
	}
	rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
	err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN || err == EINPROGRESS ||
	    err == EPROTOTYPE) {
		/* accepted, queued, backlog full, or a live other type */
		return "address in use: another process listens there";
	}
	if (err == ECONNREFUSED || err == ENOENT) {
		return NULL;	/* stale, or gone already */
	}
	return strerror(err);
}

/*
 * Make room for a unix socket at path: fine if nothing is there, a stale
 * socket is removed, anything else is an error.  On success *psf holds
 * the directory for socket_file_bound.  NULL or the reason.
 */
static const char *socket_file_prepare(TALLOC_CTX *mem_ctx, const char *path,
				       int type, struct socket_file **psf)
{
	struct socket_file *sf;
	const char *slash = strrchr(path, '/');
	const char *err;
	char *dir;
	struct stat st, again;

	sf = talloc_zero(mem_ctx, struct socket_file);
	if (sf == NULL) {
		return "out of memory";
	}
	sf->dirfd = -1;
	sf->path = talloc_strdup(sf, path);
	sf->name = talloc_strdup(sf, slash != NULL ? slash + 1 : path);
	dir = slash == NULL ? talloc_strdup(sf, ".")
	      : slash == path ? talloc_strdup(sf, "/")
	      : talloc_strndup(sf, path, slash - path);
	if (sf->path == NULL || sf->name == NULL || dir == NULL) {
		talloc_free(sf);
		return "out of memory";
	}
	if (sf->name[0] == '\0') {
		talloc_free(sf);
		return "names a directory, not a socket file";
	}
	sf->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sf->dirfd == -1) {
		err = strerror(errno);
		talloc_free(sf);
		return err;
	}
	talloc_set_destructor(sf, socket_file_destructor);

	if (fstatat(sf->dirfd, sf->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT) {
			*psf = sf;
			return NULL;
		}
		err = strerror(errno);
		talloc_free(sf);
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		/* even to a socket: whose it is, is anybody's guess */
		talloc_free(sf);
		return "file exists and is a symbolic link, not a socket "
		       "(refusing to follow or replace it)";
	}
	if (!S_ISSOCK(st.st_mode)) {
		talloc_free(sf);
		return "file exists and is not a socket (refusing to "
		       "replace it)";
	}
	err = socket_file_probe(sf, type);
	if (err != NULL) {
		talloc_free(sf);
		return err;
	}
	/* the file probed must still be the one to go */
	if (fstatat(sf->dirfd, sf->name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
	    again.st_dev == st.st_dev && again.st_ino == st.st_ino &&
	    unlinkat(sf->dirfd, sf->name, 0) == -1 && errno != ENOENT) {
		err = strerror(errno);
		talloc_free(sf);
		return err;
	}
	*psf = sf;
	return NULL;
}

/*
 * Our socket is bound: note its file, to be removed when sf goes.  Found
 * through the directory held since the checks, like everything else.
 */
static void socket_file_bound(struct socket_file *sf)
{
	struct stat st;

	if (fstatat(sf->dirfd, sf->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode)) {
		sf->dev = st.st_dev;
		sf->ino = st.st_ino;
		sf->bound = true;
	}
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
		err = socket_file_prepare(mem_ctx, ep->path, type, sf);
		if (err != NULL) {
			return err;
		}
		/*
		 * Bound by its path, not through the directory held: the
		 * name is what peers see as our address.
		 */
		strncpy(un.sun_path, ep->path, sizeof(un.sun_path) - 1);
		fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1 || bind(fd, (struct sockaddr *)&un,
				     sizeof(un)) == -1) {
			err = strerror(errno);
			TALLOC_FREE(*sf);
			goto fail;
		}
		socket_file_bound(*sf);
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
		client->fd = fd;
		if (ss.ss_family != AF_UNIX) {
			memcpy(&client->peer, &ss, len);
			client->peer_len = len;
		}
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
	chan->fd = fd;
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
