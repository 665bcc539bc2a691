/*
 * run.c - one command's event loop, its signals and its exit status
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include "budget.h"
#include "log.h"
#include "run.h"

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

struct run *run_create(TALLOC_CTX *mem_ctx, const struct tsock_options *opts)
{
	struct run *run = talloc_zero(mem_ctx, struct run);

	if (run == NULL) {
		log_error("out of memory");
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
		log_error("out of memory");
		talloc_free(run);
		return NULL;
	}
	return run;
}

int run_loop(struct run *run)
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
	/* first, so that what goes away later does not touch it */
	TALLOC_FREE(run->first);
	talloc_free(run);
	return status;
}

void run_fail(struct run *run, int status, const char *message)
{
	log_error("%s", message != NULL ? message : "out of memory");
	run_end(run, status);
}

void run_end(struct run *run, int status)
{
	run->status = status;
	run->done = true;
}

