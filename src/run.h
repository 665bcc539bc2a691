/*
 * run.h - one command's event loop, its signals and its exit status
 *
 * Every command is one tevent loop in one process.  It ends when its work
 * is done (connect, listen without -k) or on a signal whose default
 * action would end the process, after which the talloc tree is freed:
 * that closes every socket and removes the unix socket files tsock
 * created (child processes are ended at exit: see child.h).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_RUN_H
#define TSOCK_RUN_H

#include <stdbool.h>
#include <talloc.h>
#include <tevent.h>
#include "options.h"
#include "relay.h"

struct run {
	struct tevent_context *ev;
	const struct tsock_options *opts;
	struct relay_opts relay_opts;	/* opts->relay, with the budget */
	/* freed before everything else at the end (a server) */
	void *first;
	bool done;
	int status;
};

/* A run for opts, with the signals caught; NULL (reported) when out of
   memory. */
struct run *run_create(TALLOC_CTX *mem_ctx, const struct tsock_options *opts);

/* Run until done; frees everything and returns the exit status. */
int run_loop(struct run *run);

/* End with status, after logging message ("tsock: message"). */
void run_fail(struct run *run, int status, const char *message);

/* End with status. */
void run_end(struct run *run, int status);

#endif
