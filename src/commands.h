/*
 * commands.h - the table of tsock's commands
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_COMMANDS_H
#define TSOCK_COMMANDS_H

#include <stdbool.h>
#include "endpoint.h"
#include "options.h"

struct command {
	const char *name;
	const char *synopsis;		/* "relay FRONT BACK" */
	const char *takes;		/* for errors: "FRONT and BACK" */
	const char *help;		/* for --help, lines of 50 columns */
	int min_args, max_args;		/* endpoints */
	bool first_listens;		/* the first endpoint listens */
	bool two_words;			/* "connect tcp 127.0.0.1:445" */
	const char *default_endpoint;	/* with no endpoint given */
	/* Runs the command to its end; the exit status. */
	int (*run)(const struct tsock_options *opts, struct endpoint **eps,
		   int n);
};

/* Every command, ending with a NULL name. */
extern const struct command commands[];

const struct command *command_find(const char *name);

/* "connect, listen, relay or udp-echo" */
const char *command_list(void);

int cmd_connect(const struct tsock_options *opts, struct endpoint **eps,
		int n);
int cmd_listen(const struct tsock_options *opts, struct endpoint **eps,
	       int n);
int cmd_relay(const struct tsock_options *opts, struct endpoint **eps, int n);
int cmd_udp_echo(const struct tsock_options *opts, struct endpoint **eps,
		 int n);
int cmd_proxy(const struct tsock_options *opts, struct endpoint **eps, int n);

/*
 * Get eps ready (endpoint_prepare) before anything is opened; false
 * after logging why, with *status the exit status to use.
 */
bool commands_prepare(struct endpoint **eps, int n, int *status);

#endif
