/*
 * cmd_proxy.c - tsock proxy FRONT: a forward proxy speaking SOCKS5,
 * SOCKS4/4a and HTTP CONNECT on one listener; every accepted request
 * becomes an ordinary relay session
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include "commands.h"
#include "log.h"
#include "proxy_server.h"
#include "run.h"
#include "session.h"

int cmd_proxy(const struct tsock_options *opts, struct endpoint **eps, int n)
{
	struct endpoint *front = eps[0];
	struct proxy_server_conf pc = {
		.rules = opts->target_rules,
		.users = opts->proxy_users,
		.defaults = &opts->endpoint,
		.family = opts->family,
		.request_timeout_ms = front->set.handshake_timeout_ms,
	};
	struct server_conf conf = {
		.front = front,
		.proxy = &pc,
		.max_conns = opts->max_conns,
		.check_loops = true,
		.greeting = "new client",
	};
	struct run *run;
	int status;

	if (!endpoint_is_stream(front)) {
		log_error("proxy: FRONT must be a stream endpoint (tcp:, "
			  "tls:, unix:...), not %s", front->text);
		return TSOCK_EXIT_USAGE;
	}
	if (front->kind->single_use) {
		log_error("proxy: FRONT cannot be %s: a proxy serves many "
			  "clients", front->text);
		return TSOCK_EXIT_USAGE;
	}
	if (!commands_prepare(eps, n, &status)) {
		return status;
	}
	run = run_create(NULL, opts);
	if (run == NULL) {
		return TSOCK_EXIT_FAILURE;
	}
	server_start(run, &conf);
	return run_loop(run);
}
