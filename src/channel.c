/*
 * channel.c - opening endpoints as a client: the kind's opener, then
 * the layers, within the connect timeout
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
#include "layer.h"

char *channel_address_name(TALLOC_CTX *mem_ctx, const char *kind,
			   const struct tsocket_address *addr)
{
	char *host, *name;

	if (tsocket_address_is_unix(addr)) {
		struct sockaddr_un un;
		ssize_t len = tsocket_address_bsd_sockaddr(addr,
					(struct sockaddr *)&un, sizeof(un));
		size_t off = offsetof(struct sockaddr_un, sun_path);

		if (len > (ssize_t)off + 1 && un.sun_path[0] == '\0') {
			/* abstract: the name is every byte after the NUL */
			return talloc_asprintf(mem_ctx, "%s:@%.*s", kind,
					       (int)((size_t)len - off - 1),
					       un.sun_path + 1);
		}
		if (len <= (ssize_t)off) {
			return talloc_asprintf(mem_ctx, "%s:", kind);
		}
		return talloc_asprintf(mem_ctx, "%s:%.*s", kind,
				       (int)strnlen(un.sun_path,
						    (size_t)len - off),
				       un.sun_path);
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

struct channel *channel_from_fd(TALLOC_CTX *mem_ctx, int fd, bool stream,
				const char *name)
{
	struct channel *chan = talloc_zero(mem_ctx, struct channel);
	int rc;

	if (chan == NULL) {
		close(fd);
		return NULL;
	}
	chan->fd = fd;
	chan->name = talloc_strdup(chan, name);
	rc = stream ? tstream_bsd_existing_socket(chan, fd, &chan->stream)
		    : tdgram_bsd_existing_socket(chan, fd, &chan->dgram);
	if (rc == -1 || chan->name == NULL) {
		if (chan->stream == NULL && chan->dgram == NULL) {
			close(fd);
		}
		talloc_free(chan);
		return NULL;
	}
	if (stream) {
		/* tsock carries half-closed conversations: see tsock(1) */
		tstream_bsd_write_after_peer_eof(chan->stream, true);
	}
	return chan;
}

struct channel_open_state {
	struct tevent_context *ev;
	const struct endpoint *ep;
	struct open_args *args;
	struct channel *chan;
	char *error;
};

static void channel_open_opened(struct tevent_req *subreq);
static void channel_open_layered(struct tevent_req *subreq);
static void channel_open_layers(struct tevent_req *req);

struct tevent_req *channel_open_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     const struct endpoint *ep,
				     const struct channel *client,
				     struct selfloop *self)
{
	return channel_open_owned_send(mem_ctx, ev, ep, client, self,
				       mem_ctx);
}

struct tevent_req *channel_open_owned_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   const struct endpoint *ep,
					   const struct channel *client,
					   struct selfloop *self, void *owner)
{
	struct tevent_req *req, *subreq;
	struct channel_open_state *state;
	const struct endpoint *opened;
	int ms = ep->set.connect_timeout_ms;

	req = tevent_req_create(mem_ctx, &state, struct channel_open_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->ep = ep;
	state->args = talloc_zero(state, struct open_args);
	if (tevent_req_nomem(state->args, req)) {
		return tevent_req_post(req, ev);
	}
	state->args->client = client;
	state->args->self = self;
	state->args->owner = owner;
	if (ms > 0 &&
	    !tevent_req_set_endtime(req, ev,
			tevent_timeval_current_ofs(ms / 1000,
						   (ms % 1000) * 1000))) {
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	/* through proxies, the transport goes to the first */
	opened = ep->via != NULL ? ep->via : ep;
	if (opened->kind->open != NULL) {
		state->chan = opened->kind->open(state, opened, state->args,
						 &state->error);
		if (state->chan == NULL) {
			tevent_req_error(req, EIO);
			return tevent_req_post(req, ev);
		}
		channel_open_layers(req);
		if (!tevent_req_is_in_progress(req)) {
			return tevent_req_post(req, ev);
		}
		return req;
	}
	subreq = opened->kind->open_send(state, ev, opened, state->args);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, channel_open_opened, req);
	return req;
}

static void channel_open_opened(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);

	state->chan = (state->ep->via != NULL ? state->ep->via
					      : state->ep)->kind->open_recv(
				subreq, state, &state->error);
	TALLOC_FREE(subreq);
	if (state->chan == NULL) {
		tevent_req_error(req, EIO);
		return;
	}
	channel_open_layers(req);
}

/* The transport is open: run the layers, if any. */
static void channel_open_layers(struct tevent_req *req)
{
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	struct tevent_req *subreq;

	if (!layers_present(state->ep)) {
		tevent_req_done(req);
		return;
	}
	if (state->ep->via != NULL) {
		/* through proxies: from here on it is the target's */
		char *name = talloc_asprintf(state->chan, "%s:%s%s%s:%u",
				endpoint_kind_name(state->ep),
				strchr(state->ep->host, ':') ? "[" : "",
				state->ep->host,
				strchr(state->ep->host, ':') ? "]" : "",
				state->ep->port);

		if (tevent_req_nomem(name, req)) {
			return;
		}
		talloc_free(state->chan->name);
		state->chan->name = name;
	}
	subreq = layers_run_send(state, state->ev, state->chan, state->ep,
				 state->args->client);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, channel_open_layered, req);
}

static void channel_open_layered(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);

	if (layers_run_recv(subreq, state, &state->error) == -1) {
		TALLOC_FREE(subreq);
		tevent_req_error(req, EPROTO);
		return;
	}
	TALLOC_FREE(subreq);
	tevent_req_done(req);
}

struct channel *channel_opener_result(struct tevent_req *req,
				      struct channel **chan, char **failure,
				      TALLOC_CTX *mem_ctx, char **error)
{
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = *failure != NULL ? talloc_steal(mem_ctx, *failure)
			 : talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	return talloc_steal(mem_ctx, *chan);
}

int channel_open_errno(struct tevent_req *req)
{
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (!tevent_req_is_error(req, &rs, &err)) {
		return 0;
	}
	if (rs == TEVENT_REQ_TIMED_OUT) {
		return ETIMEDOUT;
	}
	if (state->chan != NULL && rs == TEVENT_REQ_USER_ERROR &&
	    err == EPROTO) {
		return EPROTO;		/* open, then a layer refused */
	}
	return state->args != NULL && state->args->err != 0 ? state->args->err
							      : EIO;
}

struct channel *channel_open_recv(struct tevent_req *req,
				  TALLOC_CTX *mem_ctx, char **error)
{
	struct channel_open_state *state = tevent_req_data(req,
					struct channel_open_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		const char *name = state->chan != NULL ? state->chan->name
				   : state->args != NULL &&
				     state->args->trying != NULL
				   ? state->args->trying : state->ep->text;

		if (rs == TEVENT_REQ_TIMED_OUT) {
			*error = talloc_asprintf(mem_ctx, "connect to %s: "
						 "timed out", name);
		} else if (state->error != NULL) {
			*error = talloc_steal(mem_ctx, state->error);
		} else {
			*error = talloc_asprintf(mem_ctx, "connect to %s: %s",
						 name, rs == TEVENT_REQ_NO_MEMORY
						 ? "out of memory"
						 : "failed");
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
