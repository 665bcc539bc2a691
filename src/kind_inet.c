/*
 * kind_inet.c - tcp:, udp: and tls: endpoints (HOST:PORT)
 *
 *   tcp:HOST:PORT  tcp4:...  tcp6:...  udp:HOST:PORT  udp4:...  udp6:...
 *   tls:HOST:PORT (TCP, then the TLS layer)
 *
 * IPv6 literals go in brackets.  When listening, HOST may be left out
 * ("tcp::8080", "tcp:8080": every address) and PORT may be 0.  Names are
 * resolved off the event loop (resolve.h); a stream connect tries each
 * address in turn, a datagram socket takes the first usable one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "channel.h"
#include "endpoint.h"
#include "layer.h"
#include "log.h"
#include "resolve.h"
#include "selfloop.h"

/* ---------------------------------------------------------------- parse */

/* A decimal port; NULL or the reason it is not one. */
static const char *inet_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0') {
		return "missing port";
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return "port must be a number from 0 to 65535";
		}
		if (v <= 65535) {
			v = v * 10 + (unsigned long)(*p - '0');
		}
	}
	if (v > 65535) {
		return "port out of range (0-65535)";
	}
	*port = (uint16_t)v;
	return NULL;
}

/* HOST:PORT, [V6]:PORT, or (listening) PORT / :PORT; NULL or the error. */
static const char *inet_parse(struct endpoint *ep, const char *s,
			      bool listening)
{
	const char *host_start = s, *host_end, *port_str, *err;
	const char *colon;

	if (*s == '[') {
		host_start = s + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL) {
			return "missing ']' after the IPv6 address";
		}
		if (host_end[1] == '\0') {
			return "missing port";
		}
		if (host_end[1] != ':') {
			return "expected ':PORT' after ']'";
		}
		if (host_end == host_start) {
			return "empty address in brackets";
		}
		port_str = host_end + 2;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL) {
			bool digits = *s != '\0' &&
				      strspn(s, "0123456789") == strlen(s);

			if (!listening || !digits) {
				return "missing port";
			}
			/* a bare port: every address */
			return inet_parse_port(s, &ep->port);
		}
		if (strchr(colon + 1, ':') != NULL) {
			return talloc_asprintf(ep,
				"put IPv6 addresses in brackets, e.g. "
				"%s:[::1]:80", ep->kind->name);
		}
		host_end = colon;
		port_str = colon + 1;
	}
	err = inet_parse_port(port_str, &ep->port);
	if (err != NULL) {
		return err;
	}
	if (host_end > host_start) {
		ep->host = talloc_strndup(ep, host_start,
					  (size_t)(host_end - host_start));
		if (ep->host == NULL) {
			return "out of memory";
		}
		if (ep->family == AF_INET && *s == '[') {
			return "IPv4 only (tcp4/udp4 or -4), but the address "
			       "is in IPv6 brackets";
		}
	} else if (!listening) {
		return "missing host";
	}
	if (ep->port == 0 && !listening) {
		return "port 0 is only valid when listening";
	}
	return NULL;
}

/* ---------------------------------------------------------------- open */

struct inet_open_state {
	struct tevent_context *ev;
	const struct endpoint *ep;
	struct open_args *args;
	struct selfloop_conn *note;	/* of the connect under way */
	bool skipped_self;	/* an address was our own FRONT */
	struct channel *chan;
	struct tsocket_address **addrs;
	int naddrs, next;
	int last_err;
	char *error;
};

static void inet_open_resolved(struct tevent_req *subreq);
static void inet_open_try_next(struct tevent_req *req);
static void inet_open_connected(struct tevent_req *subreq);
static bool inet_note_connect(struct inet_open_state *state,
			      struct tevent_req *subreq,
			      const struct tsocket_address *remote);

static char *inet_self_error(TALLOC_CTX *mem_ctx, const char *name)
{
	return talloc_asprintf(mem_ctx, "connect to %s: that is this relay's "
			       "own listening address (a loop)", name);
}

static struct tevent_req *inet_open_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 const struct endpoint *ep,
					 struct open_args *args)
{
	struct tevent_req *req, *subreq;
	struct inet_open_state *state;

	req = tevent_req_create(mem_ctx, &state, struct inet_open_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->ep = ep;
	state->args = args;
	state->chan = talloc_zero(state, struct channel);
	if (tevent_req_nomem(state->chan, req)) {
		return tevent_req_post(req, ev);
	}
	state->chan->fd = -1;
	subreq = resolve_send(state, ev, ep->host, ep->port, ep->family);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, inet_open_resolved, req);
	return req;
}

static void inet_open_resolved(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct inet_open_state *state = tevent_req_data(req,
					struct inet_open_state);
	char *error = NULL;

	state->naddrs = resolve_recv(subreq, state, &state->addrs, &error);
	if (state->naddrs == -1) {
		state->error = talloc_asprintf(state, "cannot resolve '%s': %s",
					       state->ep->host, error);
		state->args->err = EHOSTUNREACH;
		TALLOC_FREE(subreq);
		tevent_req_error(req, EHOSTUNREACH);
		return;
	}
	TALLOC_FREE(subreq);
	inet_open_try_next(req);
}

static bool inet_is_stream(const struct endpoint *ep)
{
	return ep->carries == CARRIES_BYTES;
}

/* True if remote is our own FRONT (see selfloop.h). */
static bool inet_is_self(const struct inet_open_state *state,
			 const struct tsocket_address *remote)
{
	struct sockaddr_storage ss;
	ssize_t len;

	if (state->args->self == NULL) {
		return false;
	}
	len = tsocket_address_bsd_sockaddr(remote, (struct sockaddr *)&ss,
					   sizeof(ss));
	return len > 0 && selfloop_is_front(state->args->self,
					    inet_is_stream(state->ep),
					    (struct sockaddr *)&ss,
					    (socklen_t)len);
}

/* Connect to the next address; UDP just takes the first usable one. */
static void inet_open_try_next(struct tevent_req *req)
{
	struct inet_open_state *state = tevent_req_data(req,
					struct inet_open_state);
	struct tsocket_address *remote, *local;
	struct tevent_req *subreq;
	bool v6;

	if (state->next >= state->naddrs) {
		if (state->skipped_self && state->last_err == 0) {
			state->error = inet_self_error(state, state->ep->text);
		} else if (state->skipped_self) {
			state->error = talloc_asprintf(state,
				"connect to %s: %s (one of its addresses, "
				"this relay's own listening address, skipped)",
				state->chan->name, strerror(state->last_err));
		} else {
			state->error = talloc_asprintf(state,
				"connect to %s: %s", state->chan->name,
				strerror(state->last_err != 0
					 ? state->last_err : EHOSTUNREACH));
		}
		state->args->err = state->skipped_self && state->last_err == 0
				   ? ELOOP : state->last_err != 0
				   ? state->last_err : EHOSTUNREACH;
		tevent_req_error(req, state->last_err != 0 ? state->last_err
							   : EHOSTUNREACH);
		return;
	}
	remote = state->addrs[state->next++];
	v6 = tsocket_address_is_inet(remote, "ipv6");
	TALLOC_FREE(state->chan->name);
	state->chan->name = channel_address_name(state->chan,
						 state->ep->kind->name, remote);
	TALLOC_FREE(state->args->trying);
	state->args->trying = talloc_strdup(state->args, state->chan->name);
	if (inet_is_self(state, remote)) {
		log_verbose("%s: skipped, this relay's own listening address",
			    state->chan->name);
		state->skipped_self = true;
		inet_open_try_next(req);
		return;
	}
	if (tsocket_address_inet_from_strings(state, v6 ? "ipv6" : "ipv4",
					      NULL, 0, &local) == -1) {
		tevent_req_error(req, errno);
		return;
	}
	if (!inet_is_stream(state->ep)) {
		if (tdgram_inet_udp_socket(local, remote, state->chan,
					   &state->chan->dgram) == -1) {
			state->last_err = errno;
			inet_open_try_next(req);
			return;
		}
		tevent_req_done(req);
		return;
	}
	subreq = tstream_inet_tcp_connect_send(state, state->ev, local, remote);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	if (state->args->self != NULL &&
	    !inet_note_connect(state, subreq, remote)) {
		tevent_req_oom(req);
		return;
	}
	tevent_req_set_callback(subreq, inet_open_connected, req);
}

/*
 * Note the local end of a connect just started, for the relay to know
 * its own connection if FRONT accepts it (see selfloop.h).  False when
 * out of memory.
 */
static bool inet_note_connect(struct inet_open_state *state,
			      struct tevent_req *subreq,
			      const struct tsocket_address *remote)
{
	struct sockaddr_storage ss, rs;
	struct tsocket_address *local = NULL;
	ssize_t len, rlen;

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
	state->note = selfloop_note_conn(state->args->self, state->chan, &ss,
					 (socklen_t)len,
					 (struct sockaddr *)&rs,
					 (socklen_t)rlen, state->args->owner);
	return state->note != NULL;
}

static void inet_open_connected(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct inet_open_state *state = tevent_req_data(req,
					struct inet_open_state);
	struct tsocket_address *local = NULL;
	int err = 0;
	ssize_t len;

	if (tstream_inet_tcp_connect_recv(subreq, &err, state->chan,
					  &state->chan->stream, &local) == -1) {
		TALLOC_FREE(subreq);
		state->last_err = err;
		TALLOC_FREE(state->note);	/* that socket is closed */
		inet_open_try_next(req);
		return;
	}
	TALLOC_FREE(subreq);
	/* our end's address: a loop is recognised by it */
	len = tsocket_address_bsd_sockaddr(local,
			(struct sockaddr *)&state->chan->local,
			sizeof(state->chan->local));
	state->chan->local_len = len > 0 ? (socklen_t)len : 0;
	talloc_free(local);
	/* tsock carries half-closed conversations: see tsock(1) */
	tstream_bsd_write_after_peer_eof(state->chan->stream, true);
	tevent_req_done(req);
}

static struct channel *inet_open_recv(struct tevent_req *req,
				      TALLOC_CTX *mem_ctx, char **error)
{
	struct inet_open_state *state = tevent_req_data(req,
					struct inet_open_state);

	return channel_opener_result(req, &state->chan, &state->error,
				     mem_ctx, error);
}

/* ---------------------------------------------------------------- listen */

/*
 * A socket bound to the endpoint's address, listening if a stream.
 * "Every address" is IPv6 "::" accepting IPv4 too, unless -4 or the
 * endpoint say otherwise.
 */
static int inet_bind(TALLOC_CTX *owner, const struct endpoint *ep,
		     char **error)
{
	int type = inet_is_stream(ep) ? SOCK_STREAM : SOCK_DGRAM;
	struct addrinfo hints = { .ai_socktype = type,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int fd = -1, one = 1, zero = 0, rc, err = 0;

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
		*error = talloc_strdup(owner, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			err = errno;
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
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    (type != SOCK_STREAM || listen(fd, SOMAXCONN) == 0)) {
			break;
		}
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		*error = talloc_strdup(owner, err != 0 ? strerror(err)
						       : "no usable address");
	}
	return fd;
}

/* ---------------------------------------------------------------- kinds */

static const struct endpoint_alias tcp_aliases[] = {
	{ "tcp4", AF_INET }, { "tcp6", AF_INET6 }, { NULL, 0 },
};
static const struct endpoint_alias udp_aliases[] = {
	{ "udp4", AF_INET }, { "udp6", AF_INET6 }, { NULL, 0 },
};
static const struct layer *const tls_layers[] = { &layer_tls, NULL };

const struct endpoint_kind kind_tcp = {
	.name = "tcp",
	.aliases = tcp_aliases,
	.carries = CARRIES_BYTES,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.options = KIND_OPT_CONNECT | KIND_OPT_PROXY | KIND_OPT_PROXY_HEADER,
	.syntax = "tcp:HOST:PORT",
	.help = "TCP (tcp4, tcp6: IPv4 or IPv6 only)",
	.parse = inet_parse,
	.open_send = inet_open_send,
	.open_recv = inet_open_recv,
	.bind = inet_bind,
};

const struct endpoint_kind kind_udp = {
	.name = "udp",
	.aliases = udp_aliases,
	.carries = CARRIES_DATAGRAMS,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.options = KIND_OPT_CONNECT,
	.syntax = "udp:HOST:PORT",
	.help = "UDP (udp4, udp6: IPv4 or IPv6 only)",
	.parse = inet_parse,
	.open_send = inet_open_send,
	.open_recv = inet_open_recv,
	.bind = inet_bind,
};

const struct endpoint_kind kind_tls = {
	.name = "tls",
	.carries = CARRIES_BYTES,
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.options = KIND_OPT_CONNECT | KIND_OPT_TLS | KIND_OPT_PROXY |
		   KIND_OPT_PROXY_HEADER,
	.syntax = "tls:HOST:PORT",
	.help = "TCP, then TLS (certificates: --cafile, --cert, --key...)",
	.parse = inet_parse,
	.open_send = inet_open_send,
	.open_recv = inet_open_recv,
	.bind = inet_bind,
	.layers = tls_layers,
};
