/*
 * cmd_listen.c - tsock listen ENDPOINT [DATA]: one client at a time,
 * relayed to stdin and stdout, or to DATA opened for it (exec:...)
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include "commands.h"
#include "log.h"
#include "run.h"
#include "session.h"

int cmd_listen(const struct tsock_options *opts, struct endpoint **eps,
	       int n)
{
	struct tsock_options one = *opts;
	struct server_conf conf = {
		.front = eps[0],
		.back = n > 1 && !eps[1]->kind->is_stdio ? eps[1] : NULL,
		/* one client at a time: the listener pauses meanwhile */
		.max_conns = 1,
		.max_sessions = 1,
		.serve_once = !opts->keep_open,
		/* DATA opened per client must not lead back to ENDPOINT */
		.check_loops = n > 1 && !eps[1]->kind->is_stdio,
		.greeting = "connection from",
	};
	struct run *run;
	char *error = NULL;
	int status;

	if (eps[0]->kind->is_stdio) {
		/* stdio is already the other end */
		log_error("endpoint '%s': listen needs a network endpoint",
			  eps[0]->text);
		return TSOCK_EXIT_USAGE;
	}
	if (n > 1 && eps[1]->kind->single_use && !eps[1]->kind->is_stdio &&
	    opts->keep_open) {
		log_error("listen -k: DATA cannot be %s: one descriptor "
			  "cannot serve one client after another",
			  eps[1]->text);
		return TSOCK_EXIT_USAGE;
	}
	if (!commands_prepare(eps, n, &status)) {
		return status;
	}
	one.max_conns = 1;
	run = run_create(NULL, &one);
	if (run == NULL) {
		return TSOCK_EXIT_FAILURE;
	}
	run->relay_opts.keep_stdio = opts->keep_open;
	if (eps[0]->carries == CARRIES_DATAGRAMS &&
	    run->relay_opts.idle_timeout_ms == 0) {
		/* a datagram peer only ever ends by going quiet */
		run->relay_opts.idle_timeout_ms = opts->session_idle_ms;
	}
	if (conf.back == NULL) {
		conf.data = channel_open_stdio(run, &error);
		if (conf.data == NULL) {
			run_fail(run, TSOCK_EXIT_FAILURE, error);
			return run_loop(run);
		}
	}
	server_start(run, &conf);
	return run_loop(run);
}
