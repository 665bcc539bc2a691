/*
 * proxy_server.c - one client of tsock proxy
 *
 * The first byte says the protocol: 5 is SOCKS5, 4 SOCKS4 or 4a, an
 * upper-case letter an HTTP request (only CONNECT is served).  Every
 * read takes exactly what the protocol says comes next, so data a
 * client sends right after its request is relayed, not lost.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "proxy_io.h"
#include "proxy_server.h"
#include "resolve.h"

enum proxy_proto { PROTO_SOCKS5, PROTO_SOCKS4, PROTO_HTTP };

struct serve_state {
	struct proxy_io io;		/* first: the steps' data */
	const struct proxy_server_conf *conf;
	struct channel *client;
	struct selfloop *self;
	struct tevent_timer *timer;	/* for the request */
	enum proxy_proto proto;
	struct proxy_request r;
	char *target;			/* "tcp:HOST:PORT", for messages */
	struct channel *back;
	struct tsocket_address **addrs;	/* a name's allowed addresses */
	int naddrs, next;
	void *owner;			/* the session */
	/*
	 * Not local, and no --auth: refused, in its protocol's words, as
	 * soon as that is known (before any lookup or connect).
	 */
	bool remote;
	char *error;
};

static const char remote_refused[] =
	"refused: without --auth only clients on loopback may use this proxy";

static const char *proto_name(enum proxy_proto p)
{
	return p == PROTO_SOCKS5 ? "SOCKS5" : p == PROTO_SOCKS4 ? "SOCKS4"
					    : "HTTP";
}

/* End with "client NAME: why" (the client has been answered). */
static void serve_fail(struct tevent_req *req, const char *why)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	state->error = talloc_asprintf(state, "proxy: client %s: %s",
				       state->client->name, why);
	tevent_req_error(req, EPROTO);
}

static void serve_io_failed(struct tevent_req *req, int err, bool writing)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	serve_fail(req, writing ? talloc_asprintf(state, "sending the reply: "
						  "%s", strerror(err))
		   : proxy_io_read_error(state, err, "request"));
}

static void serve_request_timeout(struct tevent_context *ev,
				  struct tevent_timer *te, struct timeval now,
				  void *private_data)
{
	struct tevent_req *req = private_data;
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	state->timer = NULL;
	serve_fail(req, "no complete request in time");
}

/* A loopback address. */
static bool address_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
			>> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/*
 * Loopback and unix clients: the ones served without credentials.  The
 * socket's real peer decides, and a PROXY header (--accept-proxy) can
 * only narrow it: a header is worth what its sender is, so a remote
 * sender's "127.0.0.1" counts for nothing, and a local haproxy's remote
 * client is still remote.
 */
static bool client_is_local(const struct channel *c)
{
	struct sockaddr_storage real;
	socklen_t len = sizeof(real);

	if (c->fd < 0 ||
	    getpeername(c->fd, (struct sockaddr *)&real, &len) == -1) {
		return false;
	}
	if (real.ss_family == AF_UNIX) {
		/* a header on a unix socket may say unix, or loopback */
		return c->peer_len == 0 || c->peer.ss_family == AF_UNIX ||
		       address_is_loopback(&c->peer);
	}
	return address_is_loopback(&real) &&
	       (c->peer_len == 0 || address_is_loopback(&c->peer));
}

/* a and b (NUL-terminated) equal, in a time that does not say where */
static bool same_secret(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a), i;
	unsigned diff = alen != blen;

	for (i = 0; i < blen; i++) {
		diff |= (unsigned)(b[i] ^ a[i < alen ? i : 0]);
	}
	return diff == 0;
}

/*
 * True if user and pass are one of conf's USER:PASS (split at the first
 * colon, so the user has none; every entry is compared).
 */
static bool credentials_ok(const struct proxy_server_conf *conf,
			   const char *user, const char *pass)
{
	char u[256];
	bool ok = false;
	size_t i, ul;

	for (i = 0; conf->users[i] != NULL; i++) {
		const char *entry = conf->users[i];
		const char *colon = strchr(entry, ':');

		ul = colon != NULL ? (size_t)(colon - entry) : 0;
		if (ul == 0 || ul >= sizeof(u)) {
			continue;
		}
		memcpy(u, entry, ul);
		u[ul] = '\0';
		ok |= same_secret(u, user, strlen(user)) &
		      same_secret(colon + 1, pass, strlen(pass));
	}
	memset(u, 0, sizeof(u));
	return ok;
}

static void serve_got_request(struct tevent_req *req);
static void serve_refuse(struct tevent_req *req, int err, const char *why);

/* ------------------------------------------------------------- SOCKS5 */

static void socks5_methods(struct tevent_req *req);
static void socks5_method_sent(struct tevent_req *req);
static void socks5_auth_read(struct tevent_req *req);
static void socks5_auth_answered(struct tevent_req *req);
static void socks5_request_read(struct tevent_req *req);
static void serve_closed(struct tevent_req *req);

static void socks5_greeting_read(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	if (state->io.in_len < 2) {
		proxy_io_read(&state->io, 2, socks5_greeting_read);
		return;
	}
	if (state->io.in[1] == 0) {
		serve_fail(req, "SOCKS5 greeting offers no method");
		return;
	}
	proxy_io_read(&state->io, 2 + state->io.in[1], socks5_methods);
}

static void socks5_methods(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	uint8_t want = state->conf->users != NULL ? SOCKS5_AUTH_USERPASS
						  : SOCKS5_AUTH_NONE;
	size_t i;

	for (i = 2; i < state->io.in_len && state->io.in[i] != want; i++) {
	}
	state->io.out[0] = SOCKS5_VERSION;
	state->io.out[1] = i < state->io.in_len && !state->remote
			   ? want : SOCKS5_AUTH_REFUSED;
	state->io.out_len = 2;
	if (state->remote) {
		state->error = talloc_strdup(state, remote_refused);
		proxy_io_write(&state->io, serve_closed);
		return;
	}
	if (state->io.out[1] == SOCKS5_AUTH_REFUSED) {
		state->error = talloc_strdup(state, want == SOCKS5_AUTH_NONE
			? "SOCKS5 client offers no method without credentials"
			: "SOCKS5 client offers no user and password method "
			  "(--auth)");
		proxy_io_write(&state->io, serve_closed);
		return;
	}
	proxy_io_write(&state->io, socks5_method_sent);
}

static void socks5_method_sent(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	state->io.in_len = 0;
	if (state->conf->users != NULL) {
		proxy_io_read(&state->io, 2, socks5_auth_read);
		return;
	}
	proxy_io_read(&state->io, 5, socks5_request_read);
}

static void socks5_auth_read(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	size_t total = 0;
	bool ok;

	switch (socks5_userpass_parse(state->io.in, state->io.in_len, &total,
				      &state->r)) {
	case 1:
		proxy_io_read(&state->io, total, socks5_auth_read);
		return;
	case -1:
		serve_fail(req, "malformed SOCKS5 user and password");
		return;
	}
	ok = credentials_ok(state->conf, state->r.user, state->r.pass);
	memset(state->r.pass, 0, sizeof(state->r.pass));
	state->io.out[0] = 1;
	state->io.out[1] = ok ? 0 : 1;
	state->io.out_len = 2;
	if (!ok) {
		/* not the user: people type passwords there, and bytes */
		state->error = talloc_strdup(state, "SOCKS5: wrong user name "
					     "or password");
		proxy_io_write(&state->io, serve_closed);
		return;
	}
	proxy_io_write(&state->io, socks5_auth_answered);
}

static void socks5_auth_answered(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	state->io.in_len = 0;
	proxy_io_read(&state->io, 5, socks5_request_read);
}

static void socks5_request_read(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	size_t total = 0;
	uint8_t code = 1;

	switch (socks5_request_parse(state->io.in, state->io.in_len, &total,
				     &state->r, &code)) {
	case 1:
		proxy_io_read(&state->io, total, socks5_request_read);
		return;
	case -1:
		state->io.out_len = socks5_reply(state->io.out, code, NULL);
		state->error = talloc_asprintf(state, "SOCKS5 request refused: "
					       "%s", socks5_reply_text(code));
		proxy_io_write(&state->io, serve_closed);
		return;
	}
	serve_got_request(req);
}

/* ------------------------------------------------------------- SOCKS4 */

static void socks4_request_read(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	if (state->io.in_len < 8) {
		proxy_io_read(&state->io, 8, socks4_request_read);
		return;
	}
	if (state->remote) {
		serve_refuse(req, EACCES, remote_refused);
		return;
	}
	switch (socks4_request_parse(state->io.in, state->io.in_len,
				     &state->r)) {
	case 1:
		proxy_io_read(&state->io, state->io.in_len + 1,
			      socks4_request_read);
		return;
	case -1:
		serve_refuse(req, EPROTO, "SOCKS4 request refused: not a "
			     "CONNECT, or a name or user id too long");
		return;
	}
	if (state->conf->users != NULL) {
		serve_refuse(req, EACCES, "SOCKS4 refused: it has no "
			     "password, and --auth asks for one");
		return;
	}
	serve_got_request(req);
}

/* --------------------------------------------------------------- HTTP */

static void http_request_read(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	int status = 400;

	if (state->remote) {
		serve_refuse(req, EACCES, remote_refused);	/* 403 */
		return;
	}
	if (http_request_parse(state->io.in, state->io.in_len, &state->r,
			       &status) == -1) {
		serve_refuse(req, status == 405 ? EOPNOTSUPP : EINVAL,
			     status == 405 ? "HTTP request is not a CONNECT "
					     "(this proxy only tunnels)"
					   : "malformed HTTP CONNECT request");
		return;
	}
	if (state->conf->users != NULL &&
	    (!state->r.has_credentials ||
	     !credentials_ok(state->conf, state->r.user, state->r.pass))) {
		memset(state->r.pass, 0, sizeof(state->r.pass));
		serve_refuse(req, EACCES, state->r.has_credentials
			     ? "HTTP: wrong user name or password"
			     : "HTTP: no credentials (--auth asks for them)");
		return;
	}
	memset(state->r.pass, 0, sizeof(state->r.pass));
	serve_got_request(req);
}

/* ------------------------------------------------------- the answer */

/* The client was sent a refusal: the session ends with state->error. */
static void serve_closed(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	serve_fail(req, state->error);
}

/* Answer a refusal for err in the client's protocol, then end with why. */
static void serve_refuse(struct tevent_req *req, int err, const char *why)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	const char *status;
	uint8_t code;

	state->error = talloc_strdup(state, why);
	switch (state->proto) {
	case PROTO_SOCKS5:
		code = err == EACCES || err == ELOOP ? 2
		       : err == ECONNREFUSED ? 5
		       : err == ENETUNREACH ? 3
		       : err == EHOSTUNREACH || err == ETIMEDOUT ? 4 : 1;
		state->io.out_len = socks5_reply(state->io.out, code, NULL);
		break;
	case PROTO_SOCKS4:
		memcpy(state->io.out, "\0\x5b\0\0\0\0\0\0", 8);
		state->io.out_len = 8;
		break;
	case PROTO_HTTP:
		status = err == EACCES && state->conf->users != NULL &&
			 strncmp(why, "HTTP:", 5) == 0
			 ? "407 Proxy Authentication Required\r\n"
			   "Proxy-Authenticate: Basic realm=\"tsock\""
			 : err == EACCES || err == ELOOP ? "403 Forbidden"
			 : err == EOPNOTSUPP ? "405 Method Not Allowed\r\n"
					       "Allow: CONNECT"
			 : err == EINVAL ? "400 Bad Request"
			 : err == ETIMEDOUT ? "504 Gateway Timeout"
			 : "502 Bad Gateway";
		state->io.out_len = (size_t)snprintf((char *)state->io.out,
			sizeof(state->io.out), "HTTP/1.1 %s\r\n"
			"Content-Length: 0\r\nConnection: close\r\n\r\n",
			status);
		break;
	}
	proxy_io_write(&state->io, serve_closed);
}

static void serve_resolved(struct tevent_req *subreq);
static void serve_connect(struct tevent_req *req, const char *host);
static void serve_connect_next(struct tevent_req *req);
static void serve_connected(struct tevent_req *subreq);
static void serve_answered(struct tevent_req *req);

static void serve_not_allowed(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);

	serve_refuse(req, EACCES, talloc_asprintf(state, "%s CONNECT %s: not "
		     "an allowed target", proto_name(state->proto),
		     state->target));
}

/*
 * 0.0.0.0/8, :: and ::ffff:0.0.0.0: "this host" to connect(2), which
 * reaches loopback services under another name: past the rules and our
 * own FRONT's address.  Never a target.
 */
static bool address_unspecified(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
			>> 24) == 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_UNSPECIFIED(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 0);
	}
	return true;
}

/* May the client go to sa (asked for as name, or NULL)? */
static bool address_allowed(const struct serve_state *state, const char *name,
			    const struct sockaddr *sa)
{
	return !address_unspecified(sa) &&
	       target_allowed(state->conf->rules, name, sa, state->r.port);
}

/*
 * A name written as an address ("127.1", "2130706433", "::1") is one:
 * address rules judge it, whatever is asked to connect.
 */
static void request_numeric(struct proxy_request *r)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!r->is_name) {
		return;
	}
	if (inet_aton(r->host, &a4) == 1) {
		inet_ntop(AF_INET, &a4, r->host, sizeof(r->host));
		r->is_name = false;
	} else if (inet_pton(AF_INET6, r->host, &a6) == 1) {
		r->is_name = false;
	}
}

static void serve_got_request(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	struct proxy_request *r = &state->r;
	const struct target_rules *rules = state->conf->rules;
	struct tevent_req *subreq;
	struct sockaddr_storage ss = { 0 };

	request_numeric(r);
	state->target = talloc_asprintf(state, strchr(r->host, ':') != NULL
					? "[%s]:%u" : "%s:%u", r->host,
					r->port);
	if (tevent_req_nomem(state->target, req)) {
		return;
	}
	if (!r->is_name) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET, r->host, &s4->sin_addr) == 1) {
			ss.ss_family = AF_INET;
		} else if (inet_pton(AF_INET6, r->host, &s6->sin6_addr) == 1) {
			ss.ss_family = AF_INET6;
		}
		if (!address_allowed(state, NULL, (struct sockaddr *)&ss)) {
			serve_not_allowed(req);
			return;
		}
		serve_connect(req, r->host);
		return;
	}
	/* a name a deny rule names costs no lookup */
	if (target_name_denied(rules, r->host, r->port)) {
		serve_not_allowed(req);
		return;
	}
	if (state->conf->defaults->proxies != NULL &&
	    !target_rules_have_addresses(rules)) {
		/* passed on upstream by name: name rules judge it */
		if (!target_allowed(rules, r->host, NULL, r->port)) {
			serve_not_allowed(req);
			return;
		}
		serve_connect(req, r->host);
		return;
	}
	/* resolved here (within the request's time), for address rules */
	subreq = resolve_send(state, state->io.ev, r->host, r->port,
			      state->conf->family);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, serve_resolved, req);
}

static void serve_resolved(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	struct tsocket_address **addrs = NULL;
	char *error = NULL;
	int n, i, kept = 0;

	n = resolve_recv(subreq, state, &addrs, &error);
	TALLOC_FREE(subreq);
	if (n == -1) {
		serve_refuse(req, EHOSTUNREACH, talloc_asprintf(state,
			     "%s CONNECT %s: cannot resolve: %s",
			     proto_name(state->proto), state->target, error));
		return;
	}
	/* the addresses the rules allow, tried in order */
	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss;

		if (tsocket_address_bsd_sockaddr(addrs[i],
				(struct sockaddr *)&ss, sizeof(ss)) > 0 &&
		    address_allowed(state, state->r.host,
				    (struct sockaddr *)&ss)) {
			addrs[kept++] = addrs[i];
		}
	}
	if (state->conf->defaults->proxies != NULL) {
		/* upstream picks the address: every one must be allowed */
		if (kept < n) {
			serve_not_allowed(req);
			return;
		}
		serve_connect(req, state->r.host);
		return;
	}
	if (kept == 0) {
		serve_not_allowed(req);
		return;
	}
	state->addrs = addrs;
	state->naddrs = kept;
	serve_connect_next(req);
}

/* Connect to the next allowed address of a name. */
static void serve_connect_next(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	char *host;

	host = tsocket_address_inet_addr_string(state->addrs[state->next++],
						state);
	if (tevent_req_nomem(host, req)) {
		return;
	}
	serve_connect(req, host);
}

static void serve_connect(struct tevent_req *req, const char *host)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	struct endpoint *ep;
	struct tevent_req *subreq;
	char *error = NULL;

	/* the request is in: from here the connect timeout (-w) counts */
	TALLOC_FREE(state->timer);
	/* built, not parsed: nothing of the client's is read as options */
	ep = endpoint_tcp(state, host, state->r.port, state->conf->family,
			  state->conf->defaults, &error);
	if (ep == NULL || endpoint_prepare(ep, &error) != 0) {
		serve_refuse(req, EINVAL, error);
		return;
	}
	log_verbose("proxy: client %s: %s CONNECT %s", state->client->name,
		    proto_name(state->proto), state->target);
	/*
	 * Our connection to the target is noted as the session's (owner),
	 * for the loop check to find if it comes back to FRONT.
	 */
	subreq = channel_open_owned_send(state, state->io.ev, ep,
					 state->client, state->self,
					 state->owner);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, serve_connected, req);
}

static void serve_connected(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	int err = channel_open_errno(subreq);
	char *error = NULL;

	state->back = channel_open_recv(subreq, state, &error);
	TALLOC_FREE(subreq);
	if (state->back == NULL && state->next < state->naddrs &&
	    err != ELOOP && err != ETIMEDOUT) {
		log_verbose("proxy: client %s: %s", state->client->name, error);
		serve_connect_next(req);	/* the name's next address */
		return;
	}
	if (state->back == NULL) {
		serve_refuse(req, err, talloc_asprintf(state, "%s CONNECT %s: "
			     "%s", proto_name(state->proto), state->target,
			     err == ELOOP ? "that is this proxy itself"
					  : error));
		return;
	}
	switch (state->proto) {
	case PROTO_SOCKS5:
		state->io.out_len = socks5_reply(state->io.out, 0,
			state->back->local_len > 0
			? (struct sockaddr *)&state->back->local : NULL);
		break;
	case PROTO_SOCKS4:
		memcpy(state->io.out, "\0\x5a\0\0\0\0\0\0", 8);
		state->io.out_len = 8;
		break;
	case PROTO_HTTP:
		state->io.out_len = (size_t)snprintf((char *)state->io.out,
			sizeof(state->io.out),
			"HTTP/1.1 200 Connection established\r\n\r\n");
		break;
	}
	proxy_io_write(&state->io, serve_answered);
}

static void serve_answered(struct tevent_req *req)
{
	tevent_req_done(req);
}

/* ---------------------------------------------------------- the start */

static void serve_first_byte(struct tevent_req *req)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	uint8_t first = state->io.in[0];

	if (first == SOCKS5_VERSION) {
		state->proto = PROTO_SOCKS5;
		socks5_greeting_read(req);
	} else if (first == 4) {
		state->proto = PROTO_SOCKS4;
		socks4_request_read(req);
	} else if (first >= 'A' && first <= 'Z') {
		state->proto = PROTO_HTTP;
		proxy_io_read(&state->io, 0, http_request_read);
	} else {
		serve_fail(req, talloc_asprintf(state, "not a SOCKS or HTTP "
			   "request (first byte 0x%02x)", first));
	}
}

struct tevent_req *proxy_serve_send(TALLOC_CTX *mem_ctx,
				    struct tevent_context *ev,
				    struct channel *client,
				    const struct proxy_server_conf *conf,
				    struct selfloop *self)
{
	struct tevent_req *req;
	struct serve_state *state;
	int ms = conf->request_timeout_ms;

	req = tevent_req_create(mem_ctx, &state, struct serve_state);
	if (req == NULL) {
		return NULL;
	}
	state->io.ev = ev;
	state->io.stream = client->stream;
	state->io.req = req;
	state->io.failed = serve_io_failed;
	state->conf = conf;
	state->client = client;
	state->self = self;
	state->owner = mem_ctx;
	/* an open proxy for the world is what nobody asked for */
	state->remote = conf->users == NULL && !client_is_local(client);
	if (ms > 0) {
		state->timer = tevent_add_timer(ev, state,
				tevent_timeval_current_ofs(ms / 1000,
							   (ms % 1000) * 1000),
				serve_request_timeout, req);
		if (tevent_req_nomem(state->timer, req)) {
			return tevent_req_post(req, ev);
		}
	}
	proxy_io_read(&state->io, 1, serve_first_byte);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

struct channel *proxy_serve_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
				 char **error)
{
	struct serve_state *state = tevent_req_data(req, struct serve_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = state->error != NULL
			 ? talloc_steal(mem_ctx, state->error)
			 : talloc_asprintf(mem_ctx, "proxy: client %s: out of "
					   "memory", state->client->name);
		return NULL;
	}
	return talloc_steal(mem_ctx, state->back);
}
