/*
 * commands.h - the tsock commands: connect, listen, relay, udp-echo
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_COMMANDS_H
#define TSOCK_COMMANDS_H

#include "endpoint.h"
#include "options.h"

/* Each runs the command to its end and returns the exit status. */
int cmd_connect(const struct tsock_options *opts, const struct endpoint *ep);
int cmd_listen(const struct tsock_options *opts, const struct endpoint *ep);
int cmd_relay(const struct tsock_options *opts, const struct endpoint *front,
	      const struct endpoint *back);
int cmd_udp_echo(const struct tsock_options *opts, const struct endpoint *ep);

#endif
