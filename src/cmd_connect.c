/*
 * cmd_connect.c - tsock connect ENDPOINT: stdin and stdout to ENDPOINT
 *
 * When the data has ended, tsock waits for what the channel says it
 * must (exec: the child's exit) and fails (exit 1) if that failed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include "channel.h"
#include "commands.h"
#include "log.h"
#include "run.h"

struct connect {
	struct run *run;
	struct channel *stdio;
	struct channel *chan;
};

static void connect_finished(struct tevent_req *subreq)
{
	struct connect *c = tevent_req_callback_data(subreq, struct connect);
	char *error = NULL;

	if (c->chan->finish_recv(subreq, c, &error) == -1) {
		talloc_free(subreq);
		run_fail(c->run, TSOCK_EXIT_FAILURE, error);
		return;
	}
	talloc_free(subreq);
	run_end(c->run, TSOCK_EXIT_OK);
}

static void connect_relay_done(void *private_data, int err,
			       const char *message)
{
	struct connect *c = private_data;
	struct tevent_req *subreq;

	if (err != 0) {
		run_fail(c->run, TSOCK_EXIT_FAILURE, message);
		return;
	}
	if (c->chan->finish_send == NULL) {
		run_end(c->run, TSOCK_EXIT_OK);
		return;
	}
	subreq = c->chan->finish_send(c, c->run->ev, c->chan);
	if (subreq == NULL) {
		run_fail(c->run, TSOCK_EXIT_FAILURE, NULL);
		return;
	}
	tevent_req_set_callback(subreq, connect_finished, c);
}

static void connect_opened(struct tevent_req *subreq)
{
	struct connect *c = tevent_req_callback_data(subreq, struct connect);
	char *error = NULL;

	c->chan = channel_open_recv(subreq, c, &error);
	talloc_free(subreq);
	if (c->chan == NULL) {
		run_fail(c->run, TSOCK_EXIT_FAILURE, error);
		return;
	}
	log_verbose("connected to %s", c->chan->name);
	if (relay_start(c, c->run->ev, c->stdio, c->chan, &c->run->relay_opts,
			connect_relay_done, c) == NULL) {
		run_fail(c->run, TSOCK_EXIT_FAILURE, NULL);
	}
}

int cmd_connect(const struct tsock_options *opts, struct endpoint **eps,
		int n)
{
	struct endpoint *ep = eps[0];
	struct tevent_req *subreq;
	struct connect *c;
	struct run *run;
	char *error = NULL;
	int status;

	if (ep->kind->is_stdio) {
		/* stdio is already the other end */
		log_error("endpoint '%s': connect needs a network endpoint",
			  ep->text);
		return TSOCK_EXIT_USAGE;
	}
	if (!commands_prepare(eps, n, &status)) {
		return status;
	}
	run = run_create(NULL, opts);
	if (run == NULL) {
		return TSOCK_EXIT_FAILURE;
	}
	c = talloc_zero(run, struct connect);
	if (c == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, NULL);
		return run_loop(run);
	}
	c->run = run;
	run->first = c;
	c->stdio = channel_open_stdio(c, &error);
	if (c->stdio == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, error);
		return run_loop(run);
	}
	subreq = channel_open_send(c, run->ev, ep, NULL, NULL);
	if (subreq == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, NULL);
	} else {
		tevent_req_set_callback(subreq, connect_opened, c);
	}
	return run_loop(run);
}
