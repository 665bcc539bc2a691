/*
 * cmd_relay.c - tsock relay FRONT BACK: every client of FRONT relayed to
 * a connection to BACK of its own
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include "bridge.h"
#include "commands.h"
#include "listener.h"
#include "log.h"
#include "run.h"
#include "session.h"

/*
 * Framed datagrams to a stream back end: requests answered over a pool
 * of connections (bridge.c) rather than a connection per peer.
 */
static void relay_bridge(struct run *run, const struct endpoint *front,
			 const struct endpoint *back)
{
	const struct tsock_options *opts = run->opts;
	struct bridge_opts bo = {
		.frame = run->relay_opts.frame,
		.back = back,
		.reply_ms = opts->relay.idle_timeout_ms,
		.idle_ms = opts->session_idle_ms,
		.pool = opts->pool,
		.hexdump = opts->relay.hexdump,
	};
	struct channel *sock;
	char *error = NULL;

	sock = listener_bind_dgram(run, front, &error);
	if (sock == NULL || bridge_create(run, run->ev, sock, &bo) == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, error);
	}
}

int cmd_relay(const struct tsock_options *opts, struct endpoint **eps, int n)
{
	struct endpoint *front = eps[0], *back = eps[1];
	struct server_conf conf = {
		.front = front,
		.back = back,
		.max_conns = opts->max_conns,
		.max_sessions = opts->max_sessions,
		.check_loops = true,
		.greeting = "new client",
	};
	struct run *run;
	int status;

	if (back->kind->single_use && !front->kind->is_stdio) {
		/* one stdin and stdout, one descriptor: not many clients */
		log_error("relay: BACK cannot be %s (use 'tsock listen %s %s')",
			  back->kind->is_stdio ? "stdio" : back->text,
			  front->text, back->text);
		return TSOCK_EXIT_USAGE;
	}
	if (opts->have_frame && !endpoint_is_stream(front) &&
	    !endpoint_is_stream(back)) {
		log_error("--frame needs a stream endpoint on one side");
		return TSOCK_EXIT_USAGE;
	}
	if (front->kind->is_stdio) {
		return cmd_connect(opts, eps + 1, 1);
	}
	if (!commands_prepare(eps, n, &status)) {
		return status;
	}
	run = run_create(NULL, opts);
	if (run == NULL) {
		return TSOCK_EXIT_FAILURE;
	}
	if (opts->have_frame && front->carries == CARRIES_DATAGRAMS) {
		relay_bridge(run, front, back);
	} else {
		server_start(run, &conf);
	}
	return run_loop(run);
}
