/*
 * child.c - the processes exec: and sh: endpoints start
 *
 * Children live in one list, apart from the talloc tree of a run, so
 * that child_end_all can still end them after the run is freed.  SIGCHLD
 * is caught through tevent; each child is waited for by its pid only
 * (WNOHANG), so nothing else tsock might start is reaped by mistake.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"
#include "log.h"

extern char **environ;

enum child_stage {
	CHILD_RUNNING,		/* in use, or ended of its own */
	CHILD_GRACE,		/* let go: CHILD_GRACE_MS to exit */
	CHILD_TERMINATED,	/* sent SIGTERM: CHILD_GRACE_MS more */
	CHILD_KILLED,		/* sent SIGKILL */
};

struct child {
	struct child *prev, *next;
	pid_t pid;
	char *name;
	enum child_stage stage;
	bool held;		/* by a channel (child_hold) */
	bool exited;
	int wstatus;
	struct tevent_context *ev;
	struct tevent_timer *timer;
	struct tevent_req *waiter;	/* child_wait_send's */
};

struct child_wait_state {
	struct child *c;	/* while it runs */
	int wstatus;
};

static struct child *children;		/* every child not freed */
static struct tevent_signal *sigchld;	/* on the ev of the run */

static int child_destructor(struct child *c)
{
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		children = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	return 0;
}

/* Free c once nobody needs it: exited, and neither held nor awaited. */
static void child_maybe_free(struct child *c)
{
	if (c->exited && !c->held && c->waiter == NULL) {
		talloc_free(c);
	}
}

static void child_exited(struct child *c, int wstatus)
{
	char *text = child_status_text(c, wstatus);

	c->exited = true;
	c->wstatus = wstatus;
	TALLOC_FREE(c->timer);
	log_verbose("%s (pid %d): %s", c->name, (int)c->pid,
		    text != NULL ? text : "ended");
	talloc_free(text);
	if (c->waiter != NULL) {
		struct tevent_req *req = c->waiter;
		struct child_wait_state *state = tevent_req_data(req,
						struct child_wait_state);

		state->wstatus = wstatus;
		state->c = NULL;
		c->waiter = NULL;
		child_maybe_free(c);
		tevent_req_done(req);
		return;
	}
	child_maybe_free(c);
}

static void child_sigchld(struct tevent_context *ev, struct tevent_signal *se,
			  int signum, int count, void *siginfo,
			  void *private_data)
{
	struct child *c = children;
	int wstatus;

	while (c != NULL) {
		if (!c->exited && waitpid(c->pid, &wstatus, WNOHANG) == c->pid) {
			child_exited(c, wstatus);
			/* what ran meanwhile may have freed any child: the
			   list again (each child exits once: bounded) */
			c = children;
			continue;
		}
		c = c->next;
	}
}

static int sigchld_destructor(struct tevent_signal **holder)
{
	sigchld = NULL;
	return 0;
}

/* Catch SIGCHLD on ev (once per run); false when out of memory. */
static bool child_catch_sigchld(struct tevent_context *ev)
{
	struct tevent_signal **holder;

	if (sigchld != NULL) {
		return true;
	}
	/* on ev: gone with the run, which frees ev */
	holder = talloc(ev, struct tevent_signal *);
	if (holder == NULL) {
		return false;
	}
	sigchld = tevent_add_signal(ev, holder, SIGCHLD, 0, child_sigchld,
				    NULL);
	if (sigchld == NULL) {
		talloc_free(holder);
		return false;
	}
	*holder = sigchld;
	talloc_set_destructor(holder, sigchld_destructor);
	return true;
}

static void child_next_stage(struct tevent_context *ev,
			     struct tevent_timer *te, struct timeval now,
			     void *private_data);

/* Signal the child's process group (its own: see child_start). */
static void child_signal(const struct child *c, int signum)
{
	if (kill(-c->pid, signum) == -1) {
		kill(c->pid, signum);	/* it left its group */
	}
}

/* Move c on to its next stage of ending, with a timer for the one after. */
static void child_escalate(struct child *c)
{
	if (c->exited || c->stage == CHILD_KILLED) {
		return;
	}
	c->stage++;
	if (c->stage == CHILD_TERMINATED) {
		log_verbose("%s (pid %d): still running: SIGTERM", c->name,
			    (int)c->pid);
		child_signal(c, SIGTERM);
	} else if (c->stage == CHILD_KILLED) {
		log_verbose("%s (pid %d): still running: SIGKILL", c->name,
			    (int)c->pid);
		child_signal(c, SIGKILL);
		return;
	}
	c->timer = tevent_add_timer(c->ev, c,
				    tevent_timeval_current_ofs(
					CHILD_GRACE_MS / 1000,
					(CHILD_GRACE_MS % 1000) * 1000),
				    child_next_stage, c);
	if (c->timer == NULL) {
		child_signal(c, SIGKILL);	/* out of memory: no waiting */
		c->stage = CHILD_KILLED;
	}
}

static void child_next_stage(struct tevent_context *ev,
			     struct tevent_timer *te, struct timeval now,
			     void *private_data)
{
	struct child *c = private_data;

	c->timer = NULL;
	child_escalate(c);
}

/* The environment for a child: tsock's, with env's NAME=VALUE on top. */
static char **child_environ(TALLOC_CTX *mem_ctx, char *const env[])
{
	size_t n = 0, extra = 0, i, j, k = 0;
	char **out;

	while (environ[n] != NULL) {
		n++;
	}
	while (env != NULL && env[extra] != NULL) {
		extra++;
	}
	out = talloc_zero_array(mem_ctx, char *, n + extra + 1);
	if (out == NULL) {
		return NULL;
	}
	for (i = 0; i < n; i++) {
		bool replaced = false;

		for (j = 0; j < extra && !replaced; j++) {
			size_t len = strcspn(env[j], "=");

			replaced = strncmp(environ[i], env[j], len) == 0 &&
				   environ[i][len] == '=';
		}
		if (!replaced) {
			out[k++] = environ[i];
		}
	}
	for (j = 0; j < extra; j++) {
		out[k++] = env[j];
	}
	out[k] = NULL;
	return out;
}

/*
 * Whether program can be run: a path with a '/' as it is, a name looked
 * up in PATH.  0 or the errno.  posix_spawnp reports this itself where
 * it uses vfork semantics, but where it forks (under valgrind, say) a
 * program that cannot run only shows as exit status 127: checked first,
 * the message is the same everywhere.
 */
static int child_find_program(const char *program)
{
	const char *path = getenv("PATH"), *p, *colon;
	char candidate[4096];
	int err = ENOENT;

	if (strchr(program, '/') != NULL) {
		return access(program, X_OK) == 0 ? 0 : errno;
	}
	if (path == NULL) {
		path = "/usr/local/bin:/usr/bin:/bin";
	}
	for (p = path; ; p = colon + 1) {
		int n;

		colon = strchr(p, ':');
		n = snprintf(candidate, sizeof(candidate), "%.*s%s%s",
			     (int)(colon != NULL ? colon - p : (long)strlen(p)),
			     p, (colon == p || *p == '\0') ? "" : "/",
			     program);
		if (n > 0 && (size_t)n < sizeof(candidate)) {
			if (access(candidate, X_OK) == 0) {
				return 0;
			}
			if (errno == EACCES) {
				err = EACCES;	/* found, but not runnable */
			}
		}
		if (colon == NULL) {
			return err;
		}
	}
}

struct child *child_start(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			  char *const argv[], int fd, char *const env[],
			  const char *name, char **error)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	struct child *c;
	char **envp;
	int rc;

	static bool ending_at_exit;

	rc = child_find_program(argv[0]);
	if (rc != 0) {
		*error = talloc_asprintf(mem_ctx, "cannot run '%s': %s",
					 argv[0], strerror(rc));
		return NULL;
	}
	if (!ending_at_exit) {
		/* whatever way tsock ends, no child outlives it */
		ending_at_exit = atexit(child_end_all) == 0;
	}
	if (!child_catch_sigchld(ev)) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	/* not on mem_ctx: a child outlives a run (see child_end_all) */
	c = talloc_zero(NULL, struct child);
	envp = c != NULL ? child_environ(c, env) : NULL;
	if (c == NULL || envp == NULL ||
	    (c->name = talloc_strdup(c, name)) == NULL) {
		talloc_free(c);
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	c->ev = ev;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* stdin and stdout: the socket (dup2 clears its close-on-exec) */
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	/* nothing else of tsock's: another client's socket held open by a
	   child would keep that connection from ever closing */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	/* tsock ignores SIGPIPE; programs expect it, and the rest, as usual */
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	/*
	 * A process group of its own: ending the child ends what it started
	 * too (sh:'trap "" TERM; sleep 60' leaves no sleep behind).
	 */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
					POSIX_SPAWN_SETSIGMASK |
					POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	TALLOC_FREE(envp);
	if (rc != 0) {
		*error = talloc_asprintf(mem_ctx, "cannot run '%s': %s",
					 argv[0], strerror(rc));
		talloc_free(c);
		return NULL;
	}
	talloc_set_destructor(c, child_destructor);
	c->next = children;
	if (children != NULL) {
		children->prev = c;
	}
	children = c;
	log_verbose("%s: started pid %d", name, (int)c->pid);
	return c;
}

struct child_holder {
	struct child *c;
};

static int child_holder_destructor(struct child_holder *h)
{
	struct child *c = h->c;

	c->held = false;
	if (!c->exited && c->stage == CHILD_RUNNING) {
		child_escalate(c);	/* a grace period first */
	}
	child_maybe_free(c);
	return 0;
}

int child_hold(struct child *c, TALLOC_CTX *holder)
{
	struct child_holder *h = talloc(holder, struct child_holder);

	if (h == NULL) {
		return -1;
	}
	h->c = c;
	c->held = true;
	talloc_set_destructor(h, child_holder_destructor);
	return 0;
}

static int child_wait_destructor(struct child_wait_state *state)
{
	struct child *c = state->c;

	if (c != NULL) {
		state->c = NULL;
		c->waiter = NULL;
		child_maybe_free(c);
	}
	return 0;
}

struct tevent_req *child_wait_send(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct child *c)
{
	struct tevent_req *req;
	struct child_wait_state *state;

	req = tevent_req_create(mem_ctx, &state, struct child_wait_state);
	if (req == NULL) {
		return NULL;
	}
	if (c->exited) {
		state->wstatus = c->wstatus;
		tevent_req_done(req);
		return tevent_req_post(req, ev);
	}
	if (c->waiter != NULL) {
		tevent_req_error(req, EBUSY);
		return tevent_req_post(req, ev);
	}
	state->c = c;
	c->waiter = req;
	talloc_set_destructor(state, child_wait_destructor);
	if (c->stage == CHILD_RUNNING) {
		child_escalate(c);	/* a grace period, then signals */
	}
	return req;
}

int child_wait_recv(struct tevent_req *req, int *wstatus)
{
	struct child_wait_state *state = tevent_req_data(req,
					struct child_wait_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		return -1;
	}
	*wstatus = state->wstatus;
	return 0;
}

char *child_status_text(TALLOC_CTX *mem_ctx, int wstatus)
{
	if (WIFEXITED(wstatus)) {
		return talloc_asprintf(mem_ctx, "exited with status %d",
				       WEXITSTATUS(wstatus));
	}
	if (WIFSIGNALED(wstatus)) {
		return talloc_asprintf(mem_ctx, "killed by signal %d (%s)",
				       WTERMSIG(wstatus),
				       strsignal(WTERMSIG(wstatus)));
	}
	return talloc_strdup(mem_ctx, "ended");
}

/* Reap whatever of the list has exited; true if some still run. */
static bool child_reap_exited(void)
{
	struct child *c;
	bool running = false;
	int wstatus;

	for (c = children; c != NULL; c = c->next) {
		if (!c->exited) {
			if (waitpid(c->pid, &wstatus, WNOHANG) == c->pid) {
				c->exited = true;
				c->wstatus = wstatus;
			} else {
				running = true;
			}
		}
	}
	return running;
}

void child_end_all(void)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct child *c;
	int i, wstatus;

	if (!child_reap_exited()) {
		goto out;
	}
	for (c = children; c != NULL; c = c->next) {
		if (!c->exited) {
			child_signal(c, SIGTERM);
		}
	}
	/* bounded: CHILD_GRACE_MS in 10 ms steps */
	for (i = 0; i < CHILD_GRACE_MS / 10 && child_reap_exited(); i++) {
		nanosleep(&tick, NULL);
	}
	for (c = children; c != NULL; c = c->next) {
		if (!c->exited) {
			child_signal(c, SIGKILL);
			waitpid(c->pid, &wstatus, 0);
			c->exited = true;
		}
	}
out:
	while (children != NULL) {
		talloc_free(children);
	}
}
