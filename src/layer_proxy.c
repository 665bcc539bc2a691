/*
 * layer_proxy.c - the proxy client layer: one hop of a chain through
 * SOCKS5 (RFC 1928, RFC 1929 user and password), SOCKS4 / SOCKS4a or
 * HTTP CONNECT proxies
 *
 * The transport is connected to the first proxy; hop i asks proxy i for
 * a tunnel to proxy i+1, the last hop to the target.  Each reads exactly
 * its reply (SOCKS replies say their length; HTTP's ends at its empty
 * line, read a byte at a time), so the conversation's first bytes stay
 * in the stream for the next stage (TLS) and nothing is read ahead.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include "layer.h"
#include "layer_proxy.h"
#include "log.h"
#include "proxy_io.h"
#include "proxy_wire.h"
#include "resolve.h"

struct hop_state {
	struct proxy_io io;		/* first: the steps' data */
	struct channel *chan;
	const struct proxy_hop *hop;
	uint8_t addr[16];		/* the target, resolved here */
	int addr_family;		/* AF_INET, AF_INET6, or 0: a name */
	char *error;
};

/* Fail the hop with "LABEL: why" (credentials never in why). */
static void hop_fail(struct tevent_req *req, const char *why)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	state->error = talloc_asprintf(state, "%s: %s", state->hop->url->label,
				       why);
	tevent_req_error(req, EPROTO);
}

static void hop_io_failed(struct tevent_req *req, int err, bool writing)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	hop_fail(req, writing ? talloc_asprintf(state, "sending the request: "
						"%s", strerror(err))
		 : proxy_io_read_error(state, err, "reply"));
}

#define hop_write(req, then) proxy_io_write(&hop_of(req)->io, (then))
#define hop_read(req, n, then) proxy_io_read(&hop_of(req)->io, (n), (then))

static struct hop_state *hop_of(struct tevent_req *req)
{
	return tevent_req_data(req, struct hop_state);
}

/* ------------------------------------------------------------- SOCKS5 */

static void socks5_chose_method(struct tevent_req *req);
static void socks5_send_request(struct tevent_req *req);

static void socks5_start(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	state->io.out_len = socks5_greeting(state->io.out,
					 state->hop->url->user != NULL);
	hop_write(req, socks5_chose_method);
}

static void socks5_read_method(struct tevent_req *req);
static void socks5_auth_done(struct tevent_req *req);
static void socks5_read_auth(struct tevent_req *req);

static void socks5_chose_method(struct tevent_req *req)
{
	hop_read(req, 2, socks5_read_method);
}

static void socks5_read_method(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	const struct proxy_url *url = state->hop->url;
	const char *why = socks5_check_method(state->io.in, url->user != NULL);

	if (why != NULL) {
		hop_fail(req, why);
		return;
	}
	if (state->io.in[1] == SOCKS5_AUTH_USERPASS) {
		state->io.out_len = socks5_userpass(state->io.out, url->user,
						 url->pass);
		hop_write(req, socks5_read_auth);
		return;
	}
	socks5_send_request(req);
}

static void socks5_read_auth(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	state->io.in_len = 0;
	hop_read(req, 2, socks5_auth_done);
}

static void socks5_auth_done(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	if (state->io.in[0] != 1) {
		hop_fail(req, "malformed reply to the user name and password");
		return;
	}
	if (state->io.in[1] != 0) {
		hop_fail(req, "user name or password rejected");
		return;
	}
	socks5_send_request(req);
}

static void socks5_read_reply(struct tevent_req *req);
static void socks5_reply_done(struct tevent_req *req);

static void socks5_send_request(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	state->io.out_len = socks5_connect_request(state->io.out,
						state->addr_family,
						state->addr,
						state->hop->target_host,
						state->hop->target_port);
	state->io.in_len = 0;
	hop_write(req, socks5_read_reply);
}

static void socks5_read_reply(struct tevent_req *req)
{
	/* VER REP RSV ATYP and the first byte of the address */
	hop_read(req, 5, socks5_reply_done);
}

static void socks5_reply_done(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	size_t total = 0;
	const char *why = socks5_check_reply(state->io.in, state->io.in_len, &total);

	if (why != NULL) {
		hop_fail(req, why);
		return;
	}
	if (state->io.in_len < total) {
		hop_read(req, total, socks5_reply_done);	/* BND.ADDR */
		return;
	}
	tevent_req_done(req);
}

/* ------------------------------------------------------------- SOCKS4 */

static void socks4_reply_done(struct tevent_req *req);
static void socks4_read_reply(struct tevent_req *req);

static void socks4_start(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	const struct proxy_url *url = state->hop->url;

	state->io.out_len = socks4_connect_request(state->io.out,
				state->addr_family == AF_INET
				? state->addr : NULL,
				state->hop->target_host,
				state->hop->target_port,
				url->user != NULL ? url->user : "");
	hop_write(req, socks4_read_reply);
}

static void socks4_read_reply(struct tevent_req *req)
{
	hop_read(req, SOCKS4_REPLY_LEN, socks4_reply_done);
}

static void socks4_reply_done(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	const char *why = socks4_check_reply(state->io.in);

	if (why != NULL) {
		hop_fail(req, why);
		return;
	}
	tevent_req_done(req);
}

/* --------------------------------------------------------------- HTTP */

static void http_read_reply(struct tevent_req *req);
static void http_reply_done(struct tevent_req *req);

static void http_start(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	const struct proxy_url *url = state->hop->url;
	ssize_t n;

	n = http_connect_request((char *)state->io.out, sizeof(state->io.out),
				 state->hop->target_host,
				 state->hop->target_port, url->user,
				 url->pass);
	if (n < 0) {
		hop_fail(req, "request too long");
		return;
	}
	state->io.out_len = (size_t)n;
	hop_write(req, http_read_reply);
}

static void http_read_reply(struct tevent_req *req)
{
	hop_read(req, 0, http_reply_done);
}

static void http_reply_done(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	char *why = http_check_reply(state, state->io.in, state->io.in_len);

	if (why != NULL) {
		hop_fail(req, why);
		return;
	}
	tevent_req_done(req);
}

/* -------------------------------------------------------------- a hop */

static void hop_resolved(struct tevent_req *subreq);
static void hop_talk(struct tevent_req *req);

static struct tevent_req *proxy_send(TALLOC_CTX *mem_ctx,
				     struct tevent_context *ev,
				     struct channel *chan,
				     const struct endpoint *ep,
				     const struct channel *client,
				     void *private_state)
{
	struct tevent_req *req, *subreq;
	struct hop_state *state;
	const struct proxy_hop *hop = private_state;

	req = tevent_req_create(mem_ctx, &state, struct hop_state);
	if (req == NULL) {
		return NULL;
	}
	state->io.ev = ev;
	state->io.stream = chan->stream;
	state->io.req = req;
	state->io.failed = hop_io_failed;
	state->chan = chan;
	state->hop = hop;
	log_verbose("%s: asking for %s:%u", hop->url->label, hop->target_host,
		    hop->target_port);
	if (inet_pton(AF_INET, hop->target_host, state->addr) == 1) {
		state->addr_family = AF_INET;
	} else if (inet_pton(AF_INET6, hop->target_host, state->addr) == 1) {
		state->addr_family = AF_INET6;
	}
	if (state->addr_family != 0 || proxy_resolves_names(hop->url)) {
		hop_talk(req);
		if (!tevent_req_is_in_progress(req)) {
			return tevent_req_post(req, ev);
		}
		return req;
	}
	/* socks5:// and socks4://: the name is resolved here */
	subreq = resolve_send(state, ev, hop->target_host, hop->target_port,
			      hop->url->type == PROXY_SOCKS4 ? AF_INET
							     : hop->family);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, hop_resolved, req);
	return req;
}

static void hop_resolved(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	struct tsocket_address **addrs = NULL;
	struct sockaddr_storage ss;
	char *error = NULL;
	int n;

	n = resolve_recv(subreq, state, &addrs, &error);
	TALLOC_FREE(subreq);
	if (n == -1) {
		state->error = talloc_asprintf(state, "cannot resolve '%s': %s",
					       state->hop->target_host, error);
		tevent_req_error(req, EHOSTUNREACH);
		return;
	}
	/* the proxy connects to one address: the first the lookup gave */
	if (tsocket_address_bsd_sockaddr(addrs[0], (struct sockaddr *)&ss,
					 sizeof(ss)) <= 0) {
		hop_fail(req, "resolved to an address it cannot use");
		return;
	}
	if (ss.ss_family == AF_INET) {
		memcpy(state->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		memcpy(state->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		       16);
	}
	state->addr_family = ss.ss_family;
	hop_talk(req);
}

static void hop_talk(struct tevent_req *req)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);
	const struct proxy_url *url = state->hop->url;

	/* what the requests can carry (they are built into io.out) */
	if (state->addr_family == 0 &&
	    strlen(state->hop->target_host) > PROXY_NAME_MAX) {
		hop_fail(req, "the target's name is longer than a proxy "
			 "request can carry (255 bytes)");
		return;
	}
	if (url->user != NULL && strlen(url->user) > PROXY_NAME_MAX) {
		hop_fail(req, "the user name is longer than 255 bytes");
		return;
	}

	switch (state->hop->url->type) {
	case PROXY_SOCKS5:
	case PROXY_SOCKS5H:
		socks5_start(req);
		return;
	case PROXY_SOCKS4:
	case PROXY_SOCKS4A:
		if (state->addr_family == AF_INET6) {
			hop_fail(req, "SOCKS4 cannot reach IPv6 addresses");
			return;
		}
		socks4_start(req);
		return;
	case PROXY_HTTP:
		http_start(req);
		return;
	}
}

static int proxy_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		      char **error)
{
	struct hop_state *state = tevent_req_data(req, struct hop_state);

	return layer_result(req, mem_ctx, state->error, error);
}

const struct layer layer_proxy = {
	.name = "proxy",
	.send = proxy_send,
	.recv = proxy_recv,
};
