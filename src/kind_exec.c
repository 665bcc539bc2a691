/*
 * kind_exec.c - exec: and sh: endpoints, a program per connection
 *
 *   exec:PROGRAM ARG...   split on spaces, no shell: a backslash or
 *                         quotes ('...' or "...") keep a space
 *   sh:COMMAND            run by /bin/sh -c COMMAND
 *
 * The child's stdin and stdout are one end of a socketpair, so the relay
 * half-closes towards it like towards any socket: its stdin reaches end
 * of file while tsock still reads what it writes, until it closes its
 * stdout (or exits).  An accepted client's addresses are in its
 * environment (TSOCK_PEER_ADDR, TSOCK_PEER_PORT, TSOCK_LOCAL_ADDR,
 * TSOCK_LOCAL_PORT).  child.h reaps and ends children.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "channel.h"
#include "child.h"
#include "endpoint.h"

/* Split s into words as a shell would, without expanding anything. */
static const char *exec_parse(struct endpoint *ep, const char *s,
			      bool listening)
{
	size_t n = 0, cap = 4;
	char *word = NULL;
	char quote = 0;

	ep->argv = talloc_zero_array(ep, char *, cap);
	if (ep->argv == NULL) {
		return "out of memory";
	}
	for (;; s++) {
		char ch = *s;

		if (quote == 0 && (ch == ' ' || ch == '\t' || ch == '\0')) {
			if (word != NULL) {
				if (n + 2 > cap) {
					cap *= 2;
					ep->argv = talloc_realloc(ep, ep->argv,
								  char *, cap);
					if (ep->argv == NULL) {
						return "out of memory";
					}
				}
				ep->argv[n++] = word;
				ep->argv[n] = NULL;
				word = NULL;
			}
			if (ch == '\0') {
				break;
			}
			continue;
		}
		if (ch == '\0') {
			return talloc_asprintf(ep, "missing closing %c", quote);
		}
		if (word == NULL) {
			word = talloc_strdup(ep, "");
		}
		if (quote == 0 && (ch == '\'' || ch == '"')) {
			quote = ch;	/* '' and "" make an empty word */
			continue;
		}
		if (ch == quote) {
			quote = 0;
			continue;
		}
		/* outside quotes a backslash keeps any character; inside
		   "...", as in a shell, only $ ` " \\ (else it stays) */
		if (ch == '\\' && s[1] != '\0' &&
		    (quote == 0 ||
		     (quote == '"' && strchr("$`\"\\", s[1]) != NULL))) {
			ch = *++s;
		}
		word = talloc_asprintf_append(word, "%c", ch);
		if (word == NULL) {
			return "out of memory";
		}
	}
	return n > 0 ? NULL : "empty command";
}

static const char *sh_parse(struct endpoint *ep, const char *s,
			    bool listening)
{
	if (strspn(s, " \t") == strlen(s)) {
		return "empty command";
	}
	ep->argv = talloc_zero_array(ep, char *, 4);
	if (ep->argv == NULL) {
		return "out of memory";
	}
	ep->argv[0] = talloc_strdup(ep->argv, "/bin/sh");
	ep->argv[1] = talloc_strdup(ep->argv, "-c");
	ep->argv[2] = talloc_strdup(ep->argv, s);
	return ep->argv[2] != NULL ? NULL : "out of memory";
}

/* Add "PREFIX_ADDR=..." and "PREFIX_PORT=..." for ss to env at *n. */
static void exec_env_address(TALLOC_CTX *mem_ctx, char **env, size_t *n,
			     const char *prefix,
			     const struct sockaddr_storage *ss, socklen_t len)
{
	struct tsocket_address *addr = NULL;
	char *host;

	if (len == 0 ||
	    tsocket_address_bsd_from_sockaddr(mem_ctx, (const void *)ss,
					      len, &addr) == -1) {
		return;
	}
	if (tsocket_address_is_unix(addr)) {
		const struct sockaddr_un *un = (const void *)ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);

		if (len > off + 1 && un->sun_path[0] != '\0') {
			env[(*n)++] = talloc_asprintf(mem_ctx, "%s_ADDR=%.*s",
				prefix, (int)strnlen(un->sun_path, len - off),
				un->sun_path);
		}
		return;
	}
	host = tsocket_address_inet_addr_string(addr, mem_ctx);
	if (host != NULL) {
		env[(*n)++] = talloc_asprintf(mem_ctx, "%s_ADDR=%s", prefix,
					      host);
		env[(*n)++] = talloc_asprintf(mem_ctx, "%s_PORT=%u", prefix,
					      tsocket_address_inet_port(addr));
	}
}

/* The environment that tells the child whom it serves; NULL-terminated. */
static char **exec_env(TALLOC_CTX *mem_ctx, const struct channel *client)
{
	char **env = talloc_zero_array(mem_ctx, char *, 5);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	size_t n = 0;

	if (env == NULL || client == NULL) {
		return env;
	}
	exec_env_address(env, env, &n, "TSOCK_PEER", &client->peer,
			 client->peer_len);
	if (client->fd != -1 &&
	    getsockname(client->fd, (struct sockaddr *)&local, &len) == 0) {
		exec_env_address(env, env, &n, "TSOCK_LOCAL", &local, len);
	}
	return env;
}

/* ------------------------------------------- waiting for the child */

struct exec_finish_state {
	struct channel *chan;
	char *error;
};

static void exec_finished(struct tevent_req *subreq);

/* connect exec: waits for the child and fails if it did (cmd_connect) */
static struct tevent_req *exec_finish_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct channel *chan)
{
	struct tevent_req *req, *subreq;
	struct exec_finish_state *state;

	req = tevent_req_create(mem_ctx, &state, struct exec_finish_state);
	if (req == NULL) {
		return NULL;
	}
	state->chan = chan;
	subreq = child_wait_send(state, ev, chan->finish_data);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, exec_finished, req);
	return req;
}

static void exec_finished(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct exec_finish_state *state = tevent_req_data(req,
					struct exec_finish_state);
	int wstatus = 0;

	if (child_wait_recv(subreq, &wstatus) == -1) {
		TALLOC_FREE(subreq);
		tevent_req_oom(req);
		return;
	}
	TALLOC_FREE(subreq);
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		state->error = talloc_asprintf(state, "%s: %s",
					       state->chan->name,
					       child_status_text(state,
								 wstatus));
		tevent_req_error(req, ECHILD);
		return;
	}
	tevent_req_done(req);
}

static int exec_finish_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
			    char **error)
{
	struct exec_finish_state *state = tevent_req_data(req,
					struct exec_finish_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = state->error != NULL
			 ? talloc_steal(mem_ctx, state->error)
			 : talloc_strdup(mem_ctx, "out of memory");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- open */

struct exec_open_state {
	struct channel *chan;
	char *error;
};

static struct tevent_req *exec_open_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 const struct endpoint *ep,
					 struct open_args *args)
{
	struct tevent_req *req;
	struct exec_open_state *state;
	struct child *c;
	char **env;
	int sv[2];

	req = tevent_req_create(mem_ctx, &state, struct exec_open_state);
	if (req == NULL) {
		return NULL;
	}
	/* ours non-blocking, the child's as programs expect: blocking */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		sv[0] = sv[1] = -1;
	} else if (fcntl(sv[0], F_SETFL,
			 fcntl(sv[0], F_GETFL) | O_NONBLOCK) == -1) {
		int saved = errno;

		close(sv[0]);
		close(sv[1]);
		sv[0] = sv[1] = -1;
		errno = saved;
	}
	if (sv[0] == -1) {
		state->error = talloc_asprintf(state, "%s: socketpair: %s",
					       ep->text, strerror(errno));
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}
	env = exec_env(state, args->client);
	c = env != NULL ? child_start(state, ev, ep->argv, sv[1], env,
				      ep->text, &state->error)
			: NULL;
	close(sv[1]);	/* the child's now, or nobody's */
	if (c == NULL) {
		close(sv[0]);
		if (state->error != NULL) {
			state->error = talloc_asprintf(state, "%s: %s",
						       ep->text, state->error);
		}
		tevent_req_error(req, ENOEXEC);
		return tevent_req_post(req, ev);
	}
	state->chan = channel_from_fd(state, sv[0], true, ep->text);
	/* a channel that cannot be made lets the child go at once */
	if (state->chan == NULL || child_hold(c, state->chan) == -1) {
		if (state->chan == NULL) {
			child_hold(c, state);
		}
		tevent_req_oom(req);
		return tevent_req_post(req, ev);
	}
	state->chan->quits_quietly = true;
	state->chan->finish_send = exec_finish_send;
	state->chan->finish_recv = exec_finish_recv;
	state->chan->finish_data = c;
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static struct channel *exec_open_recv(struct tevent_req *req,
				      TALLOC_CTX *mem_ctx, char **error)
{
	struct exec_open_state *state = tevent_req_data(req,
					struct exec_open_state);

	return channel_opener_result(req, &state->chan, &state->error,
				     mem_ctx, error);
}

const struct endpoint_kind kind_exec = {
	.name = "exec",
	.carries = CARRIES_BYTES,
	.roles = KIND_CONNECTS,
	.syntax = "exec:PROGRAM ARG...",
	.help = "a program per connection, on its stdin and stdout",
	.parse = exec_parse,
	.open_send = exec_open_send,
	.open_recv = exec_open_recv,
};

const struct endpoint_kind kind_sh = {
	.name = "sh",
	.carries = CARRIES_BYTES,
	.roles = KIND_CONNECTS,
	.syntax = "sh:COMMAND",
	.help = "a /bin/sh -c COMMAND per connection, as exec:",
	.parse = sh_parse,
	.open_send = exec_open_send,
	.open_recv = exec_open_recv,
};
