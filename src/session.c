/*
 * session.c - a server and the life of each of its clients
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <malloc.h>
#include <string.h>
#include "layer.h"
#include "listener.h"
#include "log.h"
#include "proxy_server.h"
#include "selfloop.h"
#include "session.h"
#include "udp_front.h"

/* Trim the heap when idle again after this many sessions ended. */
#define SERVER_TRIM_AFTER 64

struct server {
	struct run *run;
	struct server_conf conf;
	struct listener *listener;	/* a stream FRONT */
	struct selfloop *self;		/* with conf.check_loops */
	unsigned active;		/* sessions running */
	unsigned ended;			/* since the last trim */
};

struct session {
	struct server *server;
	struct channel *front;
	struct channel *back;		/* conf.data, or the session's own */
	struct relay *relay;
};

static int server_destructor(struct server *srv)
{
	/* first, so that sessions going away do not touch it */
	TALLOC_FREE(srv->listener);
	return 0;
}

static int session_destructor(struct session *s)
{
	struct server *srv = s->server;

	srv->active--;
	srv->ended++;
	if (srv->active == 0 && srv->ended >= SERVER_TRIM_AFTER) {
		/* idle after a busy spell: give its memory back */
		malloc_trim(0);
		srv->ended = 0;
	}
	if (srv->listener != NULL) {
		listener_pause(srv->listener,
			       srv->active >= srv->conf.max_conns);
	}
	return 0;
}

static struct session *session_create(struct server *srv,
				      struct channel *front)
{
	struct session *s = talloc_zero(srv, struct session);

	if (s == NULL) {
		talloc_free(front);
		return NULL;
	}
	s->server = srv;
	s->front = talloc_steal(s, front);
	srv->active++;
	talloc_set_destructor(s, session_destructor);
	if (srv->listener != NULL && srv->active >= srv->conf.max_conns) {
		if (srv->conf.max_conns > 1) {
			log_verbose("connection limit (%u) reached: waiting",
				    srv->conf.max_conns);
		}
		listener_pause(srv->listener, true);
	}
	return s;
}

static void session_relay_done(void *private_data, int err,
			       const char *message)
{
	struct session *s = private_data;
	struct server *srv = s->server;

	if (err != 0) {
		log_error("%s", message);
	}
	talloc_free(s);
	if (srv->conf.serve_once) {
		run_end(srv->run, err != 0 ? TSOCK_EXIT_FAILURE
					   : TSOCK_EXIT_OK);
	}
}

/* Relay the session's FRONT and BACK, once both are there. */
static void session_relay(struct session *s)
{
	struct server *srv = s->server;
	struct run *run = srv->run;
	struct relay_opts *ro = &run->relay_opts;

	if (channel_is_endless(s->front) && srv->conf.back != NULL) {
		/* a datagram session ends when idle */
		ro = talloc_memdup(s, &run->relay_opts, sizeof(*ro));
		if (ro == NULL) {
			log_error("out of memory");
			talloc_free(s);
			return;
		}
		ro->idle_timeout_ms = run->opts->session_idle_ms;
	}
	if (srv->conf.back != NULL || srv->conf.proxy != NULL) {
		log_verbose("relaying %s <-> %s", s->front->name,
			    s->back->name);
	}
	s->relay = relay_start(s, run->ev, s->front, s->back, ro,
			       session_relay_done, s);
	if (s->relay == NULL) {
		log_error("out of memory");
		talloc_free(s);
	}
}

static void session_back_opened(struct tevent_req *subreq)
{
	struct session *s = tevent_req_callback_data(subreq, struct session);
	char *error = NULL;

	s->back = channel_open_recv(subreq, s, &error);
	talloc_free(subreq);
	if (s->back == NULL) {
		log_error("%s (client %s)", error, s->front->name);
		talloc_free(s);
		return;
	}
	session_relay(s);
}

static void session_proxied(struct tevent_req *subreq)
{
	struct session *s = tevent_req_callback_data(subreq, struct session);
	char *error = NULL;

	s->back = proxy_serve_recv(subreq, s, &error);
	talloc_free(subreq);
	if (s->back == NULL) {
		log_error("%s", error);
		talloc_free(s);
		return;
	}
	session_relay(s);
}

/* FRONT is ready: open BACK for it, or take the data channel. */
static void session_open_back(struct session *s)
{
	struct server *srv = s->server;
	struct tevent_req *subreq;

	if (srv->conf.proxy != NULL) {
		subreq = proxy_serve_send(s, srv->run->ev, s->front,
					  srv->conf.proxy, srv->self);
		if (subreq == NULL) {
			log_error("out of memory");
			talloc_free(s);
			return;
		}
		tevent_req_set_callback(subreq, session_proxied, s);
		return;
	}
	if (srv->conf.back == NULL) {
		s->back = srv->conf.data;
		session_relay(s);
		return;
	}
	subreq = channel_open_send(s, srv->run->ev, srv->conf.back, s->front,
				   srv->self);
	if (subreq == NULL) {
		log_error("out of memory");
		talloc_free(s);
		return;
	}
	tevent_req_set_callback(subreq, session_back_opened, s);
}

static void session_front_layered(struct tevent_req *subreq)
{
	struct session *s = tevent_req_callback_data(subreq, struct session);
	char *error = NULL;

	if (layers_run_recv(subreq, s, &error) == -1) {
		log_error("%s", error);
		talloc_free(s);
		return;
	}
	talloc_free(subreq);
	session_open_back(s);
}

/* A new client (stream) or session (datagram peer) of FRONT. */
static void server_new_client(struct channel *front, void *private_data)
{
	struct server *srv = private_data;
	struct session *s;
	void *looped;

	log_verbose("%s %s", srv->conf.greeting, front->name);
	/* our own connection to BACK, come back: a loop, broken here */
	looped = selfloop_find_conn(srv->self, front->fd, &front->peer,
				    front->peer_len);
	if (looped != NULL) {
		struct session *other = looped;

		log_error("relay loop: client %s is this relay's own "
			  "connection to BACK (for client %s); both closed",
			  front->name, other->front->name);
		talloc_free(front);
		talloc_free(other);
		return;
	}
	s = session_create(srv, front);
	if (s == NULL) {
		log_error("out of memory");
		return;
	}
	if (s->front->stream != NULL && layers_present(srv->conf.front)) {
		struct tevent_req *subreq;

		subreq = layers_run_send(s, srv->run->ev, s->front,
					 srv->conf.front, NULL);
		if (subreq == NULL) {
			log_error("out of memory");
			talloc_free(s);
			return;
		}
		tevent_req_set_callback(subreq, session_front_layered, s);
		return;
	}
	session_open_back(s);
}

/* Listen on FRONT: accept streams, or serve datagram peers as sessions. */
static bool server_listen(struct server *srv)
{
	const struct endpoint *ep = srv->conf.front;
	const struct tsock_options *opts = srv->run->opts;
	/* as the inet kinds bind: "every address" is IPv6 and IPv4 */
	bool dual = ep->host == NULL && ep->family != AF_INET6;
	struct sockaddr_storage ss;
	socklen_t len;
	struct channel *sock;
	char *error = NULL;

	if (ep->carries != CARRIES_DATAGRAMS) {
		srv->listener = listener_create(srv, srv->run->ev, ep,
						server_new_client, srv,
						&error);
		if (srv->listener == NULL) {
			run_fail(srv->run, TSOCK_EXIT_FAILURE, error);
			return false;
		}
		if (srv->self != NULL &&
		    listener_address(srv->listener, &ss, &len)) {
			selfloop_set_front(srv->self, &ss, len, true, dual);
		}
		return true;
	}
	sock = listener_bind_dgram(srv, ep, &error);
	if (sock == NULL ||
	    udp_front_create(srv, srv->run->ev, sock,
			     srv->conf.max_sessions,
			     opts->max_rate > 0 ? (unsigned)opts->max_rate : 0,
			     server_new_client, srv) == NULL) {
		run_fail(srv->run, TSOCK_EXIT_FAILURE, error);
		return false;
	}
	if (srv->self != NULL) {
		selfloop_set_front(srv->self, &sock->local, sock->local_len,
				   false, dual);
	}
	return true;
}

bool server_start(struct run *run, const struct server_conf *conf)
{
	struct server *srv = talloc_zero(run, struct server);

	if (srv == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, NULL);
		return false;
	}
	srv->run = run;
	srv->conf = *conf;
	run->first = srv;
	talloc_set_destructor(srv, server_destructor);
	if (conf->check_loops) {
		srv->self = selfloop_create(srv);
		if (srv->self == NULL) {
			run_fail(run, TSOCK_EXIT_FAILURE, NULL);
			return false;
		}
	}
	if (!server_listen(srv)) {
		return false;
	}
	if (srv->self != NULL && conf->back != NULL &&
	    selfloop_is_front_endpoint(srv->self, conf->back)) {
		run_fail(run, TSOCK_EXIT_USAGE,
			 talloc_asprintf(srv, "BACK %s is this relay's own "
					 "FRONT %s: it would connect to "
					 "itself", conf->back->text,
					 conf->front->text));
		return false;
	}
	return true;
}
