/*
 * commands.c - the tsock commands: connect, listen, relay, udp-echo
 *
 * Every command is one tevent loop in one process.  A command ends when
 * its work is done (connect, listen without -k) or on a signal whose
 * default action would end the process (see run_ending_signals), after
 * which the talloc tree is freed: that closes every socket and removes
 * the unix socket files tsock created.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include "bridge.h"
#include "budget.h"
#include "commands.h"
#include "listener.h"
#include "log.h"
#include "ratelimit.h"
#include "relay.h"
#include "selfloop.h"
#include "tls_glue.h"
#include "udp_front.h"

/* Trim the heap when idle again after this many relays ended. */
#define RUN_TRIM_AFTER 64

struct run {
	struct tevent_context *ev;
	const struct tsock_options *opts;
	struct relay_opts relay_opts;
	const struct endpoint *back;	/* relay: what each client gets */
	struct listener *listener;
	struct selfloop *self;		/* relay: FRONT, not to be BACK */
	struct channel *stdio;		/* connect and listen */
	struct tstream_tls_params *tls_client;	/* a tls endpoint to open */
	struct tstream_tls_params *tls_server;	/* a tls listener */
	unsigned active;		/* relays running */
	unsigned ended;			/* relays ended since the last trim */
	bool done;
	int status;
};

/*
 * The signals whose default action ends the process (terminate, or
 * terminate with a core dump): killed by one of them, tsock would leave
 * its unix socket files behind, so each ends the loop cleanly instead,
 * with status 128+N.  Not here: SIGPIPE (ignored: a closed peer is an
 * error of the write), SIGUSR1 (reserved, see run_usr1), SIGKILL and
 * SIGSTOP (cannot be caught) and the signals of a fault in tsock itself
 * (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS): a handler
 * that returns to the faulting instruction would fault again forever,
 * and a core is what such a bug should leave.  The real-time signals,
 * which also terminate by default, are added in run_create.  Keep
 * tsock(1) in step.
 */
static const int run_ending_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGUSR2, SIGALRM, SIGTERM,
#ifdef SIGSTKFLT
	SIGSTKFLT,
#endif
	SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF,
#ifdef SIGPOLL
	SIGPOLL,
#elif defined(SIGIO)
	SIGIO,
#endif
#ifdef SIGPWR
	SIGPWR,
#endif
};

static void run_signalled(struct tevent_context *ev,
			  struct tevent_signal *se, int signum, int count,
			  void *siginfo, void *private_data)
{
	struct run *run = private_data;

	log_verbose("%s: exiting", strsignal(signum));
	run->status = 128 + signum;
	run->done = true;
}

/*
 * SIGUSR1 is kept for asking a running tsock for statistics; until that
 * exists it must not end tsock either (its default action would), so it
 * is caught and only noted.
 */
static void run_usr1(struct tevent_context *ev, struct tevent_signal *se,
		     int signum, int count, void *siginfo, void *private_data)
{
	log_verbose("%s: statistics not available yet", strsignal(signum));
}

/* Catch the signals that would otherwise end tsock uncleanly. */
static bool run_catch_signals(struct run *run)
{
	size_t i;
	int signum;

	for (i = 0; i < sizeof(run_ending_signals) /
			sizeof(run_ending_signals[0]); i++) {
		if (tevent_add_signal(run->ev, run, run_ending_signals[i], 0,
				      run_signalled, run) == NULL) {
			return false;
		}
	}
	if (tevent_add_signal(run->ev, run, SIGUSR1, 0, run_usr1,
			      run) == NULL) {
		return false;
	}
#if defined(SIGRTMIN) && defined(SIGRTMAX)
	/*
	 * Best effort: tevent may hold fewer signals than the system has,
	 * and a debugger or valgrind may keep some real-time ones for
	 * itself; those keep their default action.
	 */
	for (signum = SIGRTMIN; signum <= SIGRTMAX; signum++) {
		if ((size_t)signum < tevent_num_signals()) {
			tevent_add_signal(run->ev, run, signum, 0,
					  run_signalled, run);
		}
	}
#else
	(void)signum;
#endif
	return true;
}

static struct run *run_create(TALLOC_CTX *mem_ctx,
			      const struct tsock_options *opts)
{
	struct run *run = talloc_zero(mem_ctx, struct run);

	if (run == NULL) {
		return NULL;
	}
	run->opts = opts;
	run->relay_opts = opts->relay;
	if (opts->have_frame) {
		run->relay_opts.frame = &opts->frame;
	}
	run->ev = tevent_context_init(run);
	/* before any relay: it must outlive them all (talloc frees the
	   newest children first) */
	if (run->ev != NULL) {
		run->relay_opts.budget = budget_create(run, run->ev,
						       opts->max_buffer);
	}
	if (run->ev == NULL || run->relay_opts.budget == NULL ||
	    !run_catch_signals(run)) {
		talloc_free(run);
		return NULL;
	}
	return run;
}

/* Run until done; frees everything and returns the exit status. */
static int run_loop(struct run *run)
{
	int status;

	while (!run->done) {
		if (tevent_loop_once(run->ev) != 0) {
			log_error("event loop: %s", strerror(errno));
			run->status = TSOCK_EXIT_FAILURE;
			break;
		}
	}
	status = run->status;
	/* first, so that clients going away do not touch it */
	TALLOC_FREE(run->listener);
	talloc_free(run);
	return status;
}

static void run_fail(struct run *run, const char *message)
{
	log_error("%s", message);
	run->status = TSOCK_EXIT_FAILURE;
	run->done = true;
}

/*
 * Load the TLS credentials the endpoints need: client ones for open (the
 * endpoint tsock connects to), server ones for listening (may be NULL).
 * False (and done) on failure.
 */
static bool run_setup_tls(struct run *run, const struct endpoint *open,
			  const struct endpoint *listening)
{
	char *error = NULL;
	int status = TSOCK_EXIT_FAILURE;

	if (open != NULL && open->kind == EP_TLS) {
		run->tls_client = tls_client_params(run, run->opts, open,
						    &error, &status);
		if (run->tls_client == NULL) {
			goto fail;
		}
	}
	if (listening != NULL && listening->kind == EP_TLS) {
		run->tls_server = tls_server_params(run, run->opts, &error,
						    &status);
		if (run->tls_server == NULL) {
			goto fail;
		}
	}
	return true;
fail:
	run_fail(run, error);
	run->status = status;
	return false;
}

/* Open stdin/stdout as a channel; false (and done) on failure. */
static bool run_open_stdio(struct run *run)
{
	run->stdio = talloc_zero(run, struct channel);
	if (run->stdio == NULL) {
		run_fail(run, "out of memory");
		return false;
	}
	run->stdio->fd = -1;
	run->stdio->name = talloc_strdup(run->stdio, "stdio");
	run->stdio->is_stdio = true;
	if (tstream_stdio_create(run->stdio, 0, 1, &run->stdio->stream) == -1) {
		run_fail(run, talloc_asprintf(run, "stdio: %s",
					      strerror(errno)));
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- connect */

static void connect_relay_done(void *private_data, int err,
			       const char *message)
{
	struct run *run = private_data;

	if (err != 0) {
		run_fail(run, message);
		return;
	}
	run->done = true;
}

static void connect_opened(struct tevent_req *subreq)
{
	struct run *run = tevent_req_callback_data(subreq, struct run);
	struct channel *chan;
	char *error = NULL;

	chan = channel_open_recv(subreq, run, &error);
	talloc_free(subreq);
	if (chan == NULL) {
		run_fail(run, error);
		return;
	}
	log_verbose("connected to %s", chan->name);
	if (relay_start(run, run->ev, run->stdio, chan, &run->relay_opts,
			connect_relay_done, run) == NULL) {
		run_fail(run, "out of memory");
	}
}

int cmd_connect(const struct tsock_options *opts, const struct endpoint *ep)
{
	struct run *run = run_create(NULL, opts);
	struct tevent_req *subreq;

	if (run == NULL) {
		log_error("out of memory");
		return TSOCK_EXIT_FAILURE;
	}
	if (run_setup_tls(run, ep, NULL) && run_open_stdio(run)) {
		subreq = channel_open_send(run, run->ev, ep, run->tls_client,
					   NULL, opts->connect_timeout_ms);
		if (subreq == NULL) {
			run_fail(run, "out of memory");
		} else {
			tevent_req_set_callback(subreq, connect_opened, run);
		}
	}
	return run_loop(run);
}

/* ---------------------------------------------------------------- relays */

/* One client of listen or relay, with what it is relayed to. */
struct client {
	struct run *run;
	struct channel *front;
	struct channel *back;
	struct relay *relay;
};

static int client_destructor(struct client *c)
{
	struct run *run = c->run;

	run->active--;
	run->ended++;
	if (run->active == 0 && run->ended >= RUN_TRIM_AFTER) {
		/* idle after a busy spell: give its memory back */
		malloc_trim(0);
		run->ended = 0;
	}
	if (run->listener != NULL) {
		listener_pause(run->listener,
			       run->active >= run->opts->max_conns);
	}
	return 0;
}

static struct client *client_create(struct run *run, struct channel *front)
{
	struct client *c = talloc_zero(run, struct client);

	if (c == NULL) {
		talloc_free(front);
		return NULL;
	}
	c->run = run;
	c->front = talloc_steal(c, front);
	run->active++;
	talloc_set_destructor(c, client_destructor);
	if (run->listener != NULL && run->active >= run->opts->max_conns) {
		if (run->opts->max_conns > 1) {
			log_verbose("connection limit (%u) reached: waiting",
				    run->opts->max_conns);
		}
		listener_pause(run->listener, true);
	}
	return c;
}

/*
 * A client of a tls listener first completes its handshake, within the
 * handshake timeout (others are served meanwhile); then next(c) goes on.
 * Clients of other listeners go on at once.
 */
typedef void (*client_next_fn)(struct client *c);

struct client_secure {
	struct client *c;
	client_next_fn next;
};

static void client_secured(struct tevent_req *subreq)
{
	struct client_secure *cs = tevent_req_callback_data(subreq,
						struct client_secure);
	struct client *c = cs->c;
	client_next_fn next = cs->next;
	char *error = NULL;

	if (tls_secure_client_recv(subreq, c, &error) == -1) {
		log_error("%s", error);
		talloc_free(c);
		return;
	}
	talloc_free(subreq);
	next(c);
}

static void client_secure(struct client *c, client_next_fn next)
{
	struct run *run = c->run;
	struct client_secure *cs;
	struct tevent_req *subreq;

	if (run->tls_server == NULL || c->front->stream == NULL) {
		next(c);
		return;
	}
	cs = talloc_zero(c, struct client_secure);
	if (cs == NULL) {
		log_error("out of memory");
		talloc_free(c);
		return;
	}
	cs->c = c;
	cs->next = next;
	subreq = tls_secure_client_send(cs, run->ev, c->front, run->tls_server,
					run->opts->handshake_timeout_ms);
	if (subreq == NULL) {
		log_error("out of memory");
		talloc_free(c);
		return;
	}
	tevent_req_set_callback(subreq, client_secured, cs);
}

static void client_relay_done(void *private_data, int err,
			      const char *message)
{
	struct client *c = private_data;

	if (err != 0) {
		log_error("%s", message);
	}
	talloc_free(c);
}

/* Relay a client to its back end, once both are there. */
static void client_start_relay(struct client *c, struct channel *back,
			       int idle_ms)
{
	struct run *run = c->run;
	struct relay_opts *ro = &run->relay_opts;

	c->back = talloc_steal(c, back);
	if (idle_ms > 0) {
		/* datagram sessions end when idle */
		ro = talloc_memdup(c, &run->relay_opts, sizeof(*ro));
		if (ro == NULL) {
			talloc_free(c);
			return;
		}
		ro->idle_timeout_ms = idle_ms;
	}
	log_verbose("relaying %s <-> %s", c->front->name, back->name);
	c->relay = relay_start(c, run->ev, c->front, c->back, ro,
			       client_relay_done, c);
	if (c->relay == NULL) {
		log_error("out of memory");
		talloc_free(c);
	}
}

static void relay_back_opened(struct tevent_req *subreq)
{
	struct client *c = tevent_req_callback_data(subreq, struct client);
	struct channel *back;
	char *error = NULL;

	back = channel_open_recv(subreq, c, &error);
	talloc_free(subreq);
	if (back == NULL) {
		log_error("%s (client %s)", error, c->front->name);
		talloc_free(c);
		return;
	}
	client_start_relay(c, back,
			   c->front->dgram != NULL ? c->run->opts->session_idle_ms
						   : 0);
}

/* Open the back end of a client (once its front is ready). */
static void relay_open_back(struct client *c)
{
	struct run *run = c->run;
	struct tevent_req *subreq;

	subreq = channel_open_send(c, run->ev, run->back, run->tls_client,
				   run->self, run->opts->connect_timeout_ms);
	if (subreq == NULL) {
		log_error("out of memory");
		talloc_free(c);
		return;
	}
	tevent_req_set_callback(subreq, relay_back_opened, c);
}

/* A new client (stream) or session (datagram). */
static void relay_new_client(struct channel *front, void *private_data)
{
	struct run *run = private_data;
	struct client *c, *looped;

	log_verbose("new client %s", front->name);
	/* our own connection to BACK, come back: a loop, broken here */
	looped = selfloop_find_conn(run->self, front->fd,
				    &front->peer, front->peer_len);
	if (looped != NULL) {
		log_error("relay loop: client %s is this relay's own "
			  "connection to BACK (for client %s); both closed",
			  front->name, looped->front->name);
		talloc_free(front);
		talloc_free(looped);
		return;
	}
	c = client_create(run, front);
	if (c == NULL) {
		log_error("out of memory");
		return;
	}
	client_secure(c, relay_open_back);
}

/*
 * Listen on a front endpoint: accept streams, or serve datagram peers as
 * sessions; fn gets each.  False (and done) on failure.
 */
static bool run_listen(struct run *run, const struct endpoint *ep,
		       unsigned max_sessions, udp_front_session_fn fn)
{
	/* as listener_bind: "every address" is IPv6 and IPv4 */
	bool dual = ep->host == NULL && ep->family != AF_INET6;
	struct sockaddr_storage ss;
	socklen_t len;
	struct channel *sock;
	char *error = NULL;

	if (endpoint_is_stream(ep)) {
		run->listener = listener_create(run, run->ev, ep, fn, run,
						&error);
		if (run->listener == NULL) {
			run_fail(run, error);
			return false;
		}
		if (run->self != NULL &&
		    listener_address(run->listener, &ss, &len)) {
			selfloop_set_front(run->self, &ss, len, true, dual);
		}
		return true;
	}
	sock = listener_bind_dgram(run, ep, &error);
	if (sock == NULL ||
	    udp_front_create(run, run->ev, sock, max_sessions,
			     run->opts->max_rate > 0
			     ? (unsigned)run->opts->max_rate : 0,
			     fn, run) == NULL) {
		run_fail(run, error != NULL ? error : "out of memory");
		return false;
	}
	if (run->self != NULL) {
		selfloop_set_front(run->self, &sock->local, sock->local_len,
				   false, dual);
	}
	return true;
}

/*
 * Framed datagrams to a stream back end: requests answered over a pool
 * of connections (bridge.c) rather than a connection per peer.
 */
static void run_bridge(struct run *run, const struct endpoint *front,
		       const struct endpoint *back)
{
	const struct tsock_options *opts = run->opts;
	struct bridge_opts bo = {
		.frame = run->relay_opts.frame,
		.back = back,
		.tls = run->tls_client,
		.connect_timeout_ms = opts->connect_timeout_ms,
		.reply_ms = opts->relay.idle_timeout_ms,
		.idle_ms = opts->session_idle_ms,
		.pool = opts->pool,
		.hexdump = opts->relay.hexdump,
	};
	struct channel *sock;
	char *error = NULL;

	sock = listener_bind_dgram(run, front, &error);
	if (sock == NULL || bridge_create(run, run->ev, sock, &bo) == NULL) {
		run_fail(run, error != NULL ? error : "out of memory");
	}
}

/*
 * The FRONT of a relay, which BACK must not be: refused at start when
 * BACK is written as FRONT's address (names: see selfloop.h).
 */
static void run_listen_relay(struct run *run, const struct endpoint *front,
			     const struct endpoint *back)
{
	run->self = selfloop_create(run);
	if (run->self == NULL) {
		run_fail(run, "out of memory");
		return;
	}
	if (!run_listen(run, front, run->opts->max_sessions,
			relay_new_client)) {
		return;
	}
	if (selfloop_is_front_endpoint(run->self, back)) {
		run_fail(run, talloc_asprintf(run, "BACK %s is this relay's "
					      "own FRONT %s: it would "
					      "connect to itself", back->text,
					      front->text));
		run->status = TSOCK_EXIT_USAGE;
	}
}

int cmd_relay(const struct tsock_options *opts, const struct endpoint *front,
	      const struct endpoint *back)
{
	struct run *run;

	if (front->kind == EP_STDIO) {
		return cmd_connect(opts, back);
	}
	run = run_create(NULL, opts);
	if (run == NULL) {
		log_error("out of memory");
		return TSOCK_EXIT_FAILURE;
	}
	run->back = back;
	if (!run_setup_tls(run, back, front)) {
		return run_loop(run);
	}
	if (opts->have_frame && !endpoint_is_stream(front) &&
	    endpoint_is_stream(back)) {
		run_bridge(run, front, back);
	} else {
		run_listen_relay(run, front, back);
	}
	return run_loop(run);
}

/* ---------------------------------------------------------------- listen */

static void listen_relay_done(void *private_data, int err,
			      const char *message)
{
	struct client *c = private_data;
	struct run *run = c->run;

	if (err != 0) {
		log_error("%s", message);
	}
	talloc_free(c);
	if (!run->opts->keep_open) {
		run->status = err != 0 ? TSOCK_EXIT_FAILURE : TSOCK_EXIT_OK;
		run->done = true;
	}
}

/* Bridge a client to stdio, once its front is ready. */
static void listen_bridge(struct client *c)
{
	struct run *run = c->run;

	c->relay = relay_start(c, run->ev, c->front, run->stdio,
			       &run->relay_opts, listen_relay_done, c);
	if (c->relay == NULL) {
		log_error("out of memory");
		talloc_free(c);
	}
}

/* One client at a time is bridged to stdio; -k serves the next one. */
static void listen_new_client(struct channel *front, void *private_data)
{
	struct run *run = private_data;
	struct client *c;

	log_verbose("connection from %s", front->name);
	c = client_create(run, front);
	if (c == NULL) {
		log_error("out of memory");
		return;
	}
	client_secure(c, listen_bridge);
}

int cmd_listen(const struct tsock_options *opts, const struct endpoint *ep)
{
	struct tsock_options one = *opts;
	struct run *run;

	/* one client at a time: the listener pauses while one is served */
	one.max_conns = 1;
	run = run_create(NULL, &one);
	if (run == NULL) {
		log_error("out of memory");
		return TSOCK_EXIT_FAILURE;
	}
	run->relay_opts.keep_stdio = opts->keep_open;
	if (!endpoint_is_stream(ep) && run->relay_opts.idle_timeout_ms == 0) {
		/* a datagram peer only ever ends by going quiet */
		run->relay_opts.idle_timeout_ms = opts->session_idle_ms;
	}
	if (run_setup_tls(run, NULL, ep) && run_open_stdio(run)) {
		run_listen(run, ep, 1, listen_new_client);
	}
	return run_loop(run);
}

/* ---------------------------------------------------------------- udp-echo */

struct echo {
	struct run *run;
	struct channel *sock;
	struct ratelimit *limit;	/* --max-rate */
	uint8_t *buf;
	struct tsocket_address *peer;
	ssize_t len;
};

static void echo_receive(struct echo *e);

static void echo_sent(struct tevent_req *subreq)
{
	struct echo *e = tevent_req_callback_data(subreq, struct echo);
	int err = 0;

	if (tdgram_sendto_recv(subreq, &err) == -1) {
		log_verbose("%s: %s", e->sock->name, strerror(err));
	}
	talloc_free(subreq);
	TALLOC_FREE(e->buf);
	TALLOC_FREE(e->peer);
	echo_receive(e);
}

/*
 * Never answer ourselves (a datagram spoofed to come from our own
 * address would echo for ever), nor a peer beyond its rate (two echo
 * servers bouncing a datagram: the bucket runs dry, the loop ends).
 */
static bool echo_may_answer(struct echo *e)
{
	struct sockaddr_storage ss;
	ssize_t len;

	len = tsocket_address_bsd_sockaddr(e->peer, (struct sockaddr *)&ss,
					   sizeof(ss));
	if (len <= 0) {
		return false;
	}
	if (channel_is_own_address(e->sock, &ss, (socklen_t)len)) {
		log_verbose("%s: a datagram from our own address: dropped",
			    e->sock->name);
		return false;
	}
	if (!ratelimit_allow(e->limit, &ss, (socklen_t)len)) {
		log_verbose("%s: over --max-rate: a datagram dropped",
			    e->sock->name);
		return false;
	}
	return true;
}

static void echo_received(struct tevent_req *subreq)
{
	struct echo *e = tevent_req_callback_data(subreq, struct echo);
	int err = 0;

	e->len = tdgram_recvfrom_recv(subreq, &err, e, &e->buf, &e->peer);
	talloc_free(subreq);
	if (e->len == -1) {
		/* ICMP errors for earlier replies: keep serving */
		log_verbose("%s: %s", e->sock->name, strerror(err));
		echo_receive(e);
		return;
	}
	if (!echo_may_answer(e)) {
		TALLOC_FREE(e->buf);
		TALLOC_FREE(e->peer);
		echo_receive(e);
		return;
	}
	if (e->run->opts->relay.hexdump) {
		log_hexdump("<", e->buf, (size_t)e->len);
	}
	subreq = tdgram_sendto_send(e, e->run->ev, e->sock->dgram, e->buf,
				    (size_t)e->len, e->peer);
	if (subreq == NULL) {
		run_fail(e->run, "out of memory");
		return;
	}
	tevent_req_set_callback(subreq, echo_sent, e);
}

static void echo_receive(struct echo *e)
{
	struct tevent_req *subreq;

	subreq = tdgram_recvfrom_send(e, e->run->ev, e->sock->dgram);
	if (subreq == NULL) {
		run_fail(e->run, "out of memory");
		return;
	}
	tevent_req_set_callback(subreq, echo_received, e);
}

int cmd_udp_echo(const struct tsock_options *opts, const struct endpoint *ep)
{
	struct run *run = run_create(NULL, opts);
	struct echo *e;
	char *error = NULL;

	if (run == NULL) {
		log_error("out of memory");
		return TSOCK_EXIT_FAILURE;
	}
	e = talloc_zero(run, struct echo);
	if (e == NULL) {
		run_fail(run, "out of memory");
		return run_loop(run);
	}
	e->run = run;
	e->sock = listener_bind_dgram(e, ep, &error);
	if (e->sock == NULL) {
		run_fail(run, error);
		return run_loop(run);
	}
	e->limit = ratelimit_create(e, opts->max_rate >= 0
				       ? (unsigned)opts->max_rate
				       : TSOCK_ECHO_MAX_RATE);
	echo_receive(e);
	return run_loop(run);
}
