/*
 * channel.c - opening endpoints as a client
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "channel.h"
#include "log.h"
#include "resolve.h"
#include "selfloop.h"
#ifdef HAVE_GNUTLS
#include "tsocket_tls.h"
#endif

char *channel_address_name(TALLOC_CTX *mem_ctx, const char *kind,
			   const struct tsocket_address *addr)
{
	char *host, *name;

	if (tsocket_address_is_unix(addr)) {
		char *path = tsocket_address_unix_path(addr, mem_ctx);

		name = talloc_asprintf(mem_ctx, "%s:%s", kind,
				       path != NULL ? path : "");
		talloc_free(path);
		return name;
	}
	host = tsocket_address_inet_addr_string(addr, mem_ctx);
	if (host == NULL) {
		return talloc_asprintf(mem_ctx, "%s:?", kind);
	}
	name = talloc_asprintf(mem_ctx,
			       tsocket_address_is_inet(addr, "ipv6")
				? "%s:[%s]:%u" : "%s:%s:%u",
			       kind, host, tsocket_address_inet_port(addr));
	talloc_free(host);
	return name;
}

struct channel_open_state {
	struct tevent_context *ev;
	const struct endpoint *ep;
	struct tstream_tls_params *tls;
	struct selfloop *self;
	void *owner;		/* mem_ctx: what a loop through us closes */
	struct selfloop_conn *note;	/* of the connect under way */
	bool skipped_self;	/* an address was our own FRONT */
	struct channel *chan;
	struct tsocket_address **addrs;
	int naddrs, next;
	int last_err;
	char *error;
};

static void channel_open_resolved(struct tevent_req *subreq);
static void channel_open_try_next(struct tevent_req *req);
static void channel_open_connected(struct tevent_req *subreq);
static bool channel_note_connect(struct channel_open_state *state,
				 struct tevent_req *subreq,
				 const struct tsocket_address *remote);
#ifdef HAVE_GNUTLS
static void channel_open_secured(struct tevent_req *subreq);
#endif
static int channel_open_unix_dgram(struct channel_open_state *state);

static char *channel_self_error(TALLOC_CTX *mem_ctx, const char *name)
{
	return talloc_asprintf(mem_ctx, "connect to %s: that is this relay's "
			       "own listening address (a loop)", name);
}

struct tevent_req *channel_open_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     const struct endpoint *ep,
				     struct tstream_tls_params *tls,
				     struct selfloop *self,
				     int timeout_ms)
{
	struct tevent_req *req, *subreq;
	struct channel_open_state *state;
	struct tsocket_address *local = NULL, *remote = NULL;

	req = tevent_req_create(mem_ctx, &state, struct channel_open_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->ep = ep;
	state->tls = tls;
	state->self = self;
	state->owner = mem_ctx;
	state->chan = talloc_zero(state, struct channel);
	if (tevent_req_nomem(state->chan, req)) {
		return tevent_req_post(req, ev);
	}
	state->chan->fd = -1;
	if (timeout_ms > 0 &&
	    !tevent_req_set_endtime(req, ev,
			tevent_timeval_current_ofs(timeout_ms / 1000,
					(timeout_ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}

	switch (ep->kind) {
	case EP_STDIO:
		state->chan->name = talloc_strdup(state->chan, "stdio");
		state->chan->is_stdio = true;
		if (tstream_stdio_create(state->chan, 0, 1,
					 &state->chan->stream) == -1) {
			state->last_err = errno;
			tevent_req_error(req, errno);
		} else {
			tevent_req_done(req);
		}
		return tevent_req_post(req, ev);
	case EP_UNIX:
		if (selfloop_is_front_path(self, ep->path)) {
			state->error = channel_self_error(state, ep->text);
			tevent_req_error(req, ELOOP);
			return tevent_req_post(req, ev);
		}
		if (tsocket_address_unix_from_path(state, "", &local) == -1 ||
		    tsocket_address_unix_from_path(state, ep->path,
						   &remote) == -1) {
			state->last_err = errno;
			tevent_req_error(req, errno);
			return tevent_req_post(req, ev);
		}
		state->chan->name = talloc_asprintf(state->chan, "unix:%s",
						    ep->path);
		subreq = tstream_unix_connect_send(state, ev, local, remote);
		if (tevent_req_nomem(subreq, req)) {
			return tevent_req_post(req, ev);
		}
		tevent_req_set_callback(subreq, channel_open_connected, req);
		return req;
	case EP_UNIX_DGRAM:
		if (selfloop_is_front_path(self, ep->path)) {
			state->error = channel_self_error(state, ep->text);
			tevent_req_error(req, ELOOP);
			return tevent_req_post(req, ev);
		}
		state->chan->name = talloc_asprintf(state->chan,
						    "unix-dgram:%s", ep->path);
		if (channel_open_unix_dgram(state) == -1) {
			state->last_err = errno;
			tevent_req_error(req, errno);
		} else {
			tevent_req_done(req);
		}
		return tevent_req_post(req, ev);
	case EP_TCP:
	case EP_UDP:
	case EP_TLS:
		subreq = resolve_send(state, ev, ep->host, ep->port,
				      ep->family);
		if (tevent_req_nomem(subreq, req)) {
			return tevent_req_post(req, ev);
		}
		tevent_req_set_callback(subreq, channel_open_resolved, req);
		return req;
	}
	tevent_req_error(req, EINVAL);
	return tevent_req_post(req, ev);
}

/* A unix datagram socket with an autobound abstract address. */
static int channel_open_unix_dgram(struct channel_open_state *state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd, saved;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return -1;
	}
	/* binding just the family asks Linux for a unique abstract name */
	if (bind(fd, (struct sockaddr *)&un, sizeof(sa_family_t)) == -1) {
		goto fail;
	}
	strncpy(un.sun_path, state->ep->path, sizeof(un.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		goto fail;
	}
	if (tdgram_bsd_existing_socket(state->chan, fd,
				       &state->chan->dgram) == -1) {
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void channel_open_resolved(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	const char *error = NULL;

	state->naddrs = resolve_recv(subreq, state, &state->addrs, &error);
	TALLOC_FREE(subreq);
	if (state->naddrs == -1) {
		state->error = talloc_asprintf(state, "cannot resolve '%s': %s",
					       state->ep->host, error);
		tevent_req_error(req, EHOSTUNREACH);
		return;
	}
	channel_open_try_next(req);
}

/* True if remote is our own FRONT (see selfloop.h). */
static bool channel_is_self(const struct channel_open_state *state,
			    const struct tsocket_address *remote)
{
	struct sockaddr_storage ss;
	ssize_t len;

	if (state->self == NULL) {
		return false;
	}
	len = tsocket_address_bsd_sockaddr(remote, (struct sockaddr *)&ss,
					   sizeof(ss));
	return len > 0 && selfloop_is_front(state->self,
					    state->ep->kind != EP_UDP,
					    (struct sockaddr *)&ss,
					    (socklen_t)len);
}

/* Connect to the next address; UDP just takes the first usable one. */
static void channel_open_try_next(struct tevent_req *req)
{
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	struct tsocket_address *remote, *local;
	struct tevent_req *subreq;
	bool v6;

	if (state->next >= state->naddrs) {
		if (state->skipped_self && state->last_err == 0) {
			state->error = channel_self_error(state,
							  state->ep->text);
			tevent_req_error(req, ELOOP);
			return;
		}
		if (state->skipped_self) {
			state->error = talloc_asprintf(state,
				"connect to %s: %s (one of its addresses, "
				"this relay's own listening address, skipped)",
				state->chan->name, strerror(state->last_err));
		}
		tevent_req_error(req, state->last_err != 0 ? state->last_err
							   : EHOSTUNREACH);
		return;
	}
	remote = state->addrs[state->next++];
	v6 = tsocket_address_is_inet(remote, "ipv6");
	TALLOC_FREE(state->chan->name);
	state->chan->name = channel_address_name(state->chan,
			endpoint_kind_name(state->ep->kind), remote);
	if (channel_is_self(state, remote)) {
		log_verbose("%s: skipped, this relay's own listening address",
			    state->chan->name);
		state->skipped_self = true;
		channel_open_try_next(req);
		return;
	}
	if (tsocket_address_inet_from_strings(state, v6 ? "ipv6" : "ipv4",
					      NULL, 0, &local) == -1) {
		tevent_req_error(req, errno);
		return;
	}
	if (state->ep->kind == EP_UDP) {
		if (tdgram_inet_udp_socket(local, remote, state->chan,
					   &state->chan->dgram) == -1) {
			state->last_err = errno;
			channel_open_try_next(req);
			return;
		}
		tevent_req_done(req);
		return;
	}
	subreq = tstream_inet_tcp_connect_send(state, state->ev, local, remote);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	if (state->self != NULL && !channel_note_connect(state, subreq, remote)) {
		tevent_req_oom(req);
		return;
	}
	tevent_req_set_callback(subreq, channel_open_connected, req);
}

/*
 * Note the local end of a connect just started, for the relay to know
 * its own connection if FRONT accepts it (see selfloop.h).  False when
 * out of memory.
 */
static bool channel_note_connect(struct channel_open_state *state,
				 struct tevent_req *subreq,
				 const struct tsocket_address *remote)
{
	struct sockaddr_storage rs;
	ssize_t rlen;
	struct tsocket_address *local = NULL;
	struct sockaddr_storage ss;
	ssize_t len;

	TALLOC_FREE(state->note);	/* of an address that failed */
	if (tstream_inet_tcp_connect_local(subreq, state, &local) == -1) {
		return true;	/* failed at once: nothing to note */
	}
	len = tsocket_address_bsd_sockaddr(local, (struct sockaddr *)&ss,
					   sizeof(ss));
	talloc_free(local);
	rlen = tsocket_address_bsd_sockaddr(remote, (struct sockaddr *)&rs,
					    sizeof(rs));
	if (len <= 0 || rlen <= 0) {
		return true;
	}
	state->note = selfloop_note_conn(state->self, state->chan, &ss,
					 (socklen_t)len,
					 (struct sockaddr *)&rs,
					 (socklen_t)rlen, state->owner);
	return state->note != NULL;
}

static void channel_open_connected(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	int err = 0;
	int ret;

	if (state->ep->kind == EP_UNIX) {
		ret = tstream_unix_connect_recv(subreq, &err, state->chan,
						&state->chan->stream);
	} else {
		struct tsocket_address *local = NULL;
		ssize_t len;

		ret = tstream_inet_tcp_connect_recv(subreq, &err, state->chan,
						    &state->chan->stream,
						    &local);
		/* our end's address: a loop is recognised by it */
		if (ret == 0) {
			len = tsocket_address_bsd_sockaddr(local,
					(struct sockaddr *)&state->chan->local,
					sizeof(state->chan->local));
			state->chan->local_len = len > 0 ? (socklen_t)len : 0;
			talloc_free(local);
		}
	}
	TALLOC_FREE(subreq);
	if (ret == 0) {
		/* tsock carries half-closed conversations: see tsock(1) */
		tstream_bsd_write_after_peer_eof(state->chan->stream, true);
	}
	if (ret == 0 && state->ep->kind == EP_TLS) {
#ifdef HAVE_GNUTLS
		subreq = tstream_tls_connect_send(state, state->ev,
						  state->chan->stream,
						  state->tls);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, channel_open_secured, req);
#else
		tevent_req_error(req, ENOTSUP);
#endif
		return;
	}
	if (ret == 0) {
		tevent_req_done(req);
		return;
	}
	state->last_err = err;
	TALLOC_FREE(state->note);	/* that socket is closed */
	if (state->ep->kind == EP_UNIX) {
		tevent_req_error(req, err);
		return;
	}
	channel_open_try_next(req);
}

#ifdef HAVE_GNUTLS
static void channel_open_secured(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	struct tstream_context *tls = NULL;
	char *error = NULL;
	int err = 0;

	if (tstream_tls_handshake_recv(subreq, &err, state->chan, &tls,
				       &error) == -1) {
		TALLOC_FREE(subreq);
		state->error = talloc_asprintf(state, "%s: %s",
					       state->chan->name, error);
		tevent_req_error(req, err);
		return;
	}
	TALLOC_FREE(subreq);
	/* the TLS stream owns the TCP one now */
	state->chan->stream = tls;
	tevent_req_done(req);
}
#endif

struct channel *channel_open_recv(struct tevent_req *req,
				  TALLOC_CTX *mem_ctx, char **error)
{
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		if (state->error != NULL) {
			*error = talloc_steal(mem_ctx, state->error);
		} else if (rs == TEVENT_REQ_TIMED_OUT) {
			*error = talloc_asprintf(mem_ctx,
				"connect to %s: timed out",
				state->chan->name != NULL ? state->chan->name
							  : state->ep->text);
		} else {
			*error = talloc_asprintf(mem_ctx, "connect to %s: %s",
				state->chan->name != NULL ? state->chan->name
							  : state->ep->text,
				strerror(rs == TEVENT_REQ_USER_ERROR
					 ? (int)err : ENOMEM));
		}
		return NULL;
	}
	return talloc_steal(mem_ctx, state->chan);
}

bool channel_is_own_address(const struct channel *chan,
			    const struct sockaddr_storage *ss, socklen_t len)
{
	const struct sockaddr_storage *me = &chan->local;

	if (chan->local_len == 0 || ss->ss_family != me->ss_family) {
		return false;
	}
	if (me->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)me;
		const struct sockaddr_in *b = (const struct sockaddr_in *)ss;

		return a->sin_port == b->sin_port &&
		       (a->sin_addr.s_addr == htonl(INADDR_ANY) ||
			a->sin_addr.s_addr == b->sin_addr.s_addr);
	}
	if (me->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)me;
		const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)ss;

		return a->sin6_port == b->sin6_port &&
		       (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr) ||
			IN6_ARE_ADDR_EQUAL(&a->sin6_addr, &b->sin6_addr));
	}
	if (me->ss_family == AF_UNIX) {
		const struct sockaddr_un *a = (const struct sockaddr_un *)me;
		const struct sockaddr_un *b = (const struct sockaddr_un *)ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);

		/* unbound or unnamed: no address to compare */
		return chan->local_len > off + 1 && len == chan->local_len &&
		       memcmp(a->sun_path, b->sun_path, len - off) == 0;
	}
	return false;
}
