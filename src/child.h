/*
 * child.h - the processes exec: and sh: endpoints start
 *
 * A child's stdin and stdout are one end of a socketpair (its stderr is
 * tsock's).  tsock reaps every child it started (no zombies), reports how
 * it ended with -v, and ends the ones that outlive their use: when the
 * channel that held a child goes, a child still running gets
 * CHILD_GRACE_MS to exit, then SIGTERM, then after CHILD_GRACE_MS more,
 * SIGKILL; when tsock itself ends, SIGTERM at once, then SIGKILL.
 * Documented in tsock(1).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_CHILD_H
#define TSOCK_CHILD_H

#include <talloc.h>
#include <tevent.h>

#define CHILD_GRACE_MS 2000

struct child;

/*
 * Start argv (argv[0] looked up in PATH when it has no '/') with fd as
 * its stdin and stdout, and env (NAME=VALUE strings, NULL-terminated)
 * added to tsock's environment.  name is for messages ("exec:cat").  The
 * child, to be handed to child_hold; or NULL with *error on mem_ctx
 * ("cannot run 'x': No such file or directory").
 */
struct child *child_start(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			  char *const argv[], int fd, char *const env[],
			  const char *name, char **error);

/*
 * Tie c to holder (a channel): when holder is freed, c is ended as above
 * if it still runs.
 */
int child_hold(struct child *c, TALLOC_CTX *holder);

/*
 * Wait until c has exited, ending it as above if it runs on.  wstatus
 * as waitpid(2) gives it.
 */
struct tevent_req *child_wait_send(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct child *c);
int child_wait_recv(struct tevent_req *req, int *wstatus);

/* "exited with status 3", "killed by signal 9 (Killed)", on mem_ctx. */
char *child_status_text(TALLOC_CTX *mem_ctx, int wstatus);

/*
 * At the very end (run by atexit once a child was started): SIGTERM
 * every child left, SIGKILL those still there after CHILD_GRACE_MS.
 */
void child_end_all(void);

#endif
