/*
 * resolve.c - name resolution that does not block the event loop
 *
 * getaddrinfo(3) blocks, so names are looked up on a detached thread that
 * owns a malloc'd job and signals completion through a pipe the loop
 * watches.  A request freed early just drops its reference: the thread
 * finishes on its own and frees the job.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "resolve.h"

struct resolve_job {
	char *host;
	char port[8];
	struct addrinfo hints;
	struct addrinfo *result;
	int rc;
	int sys_errno;		/* errno of an EAI_SYSTEM failure */
	int wake[2];		/* the thread writes one byte when done */
	int refs;		/* the thread's and the request's */
};

static void resolve_job_unref(struct resolve_job *job)
{
	if (__atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) != 0) {
		return;
	}
	if (job->result != NULL) {
		freeaddrinfo(job->result);
	}
	close(job->wake[0]);
	close(job->wake[1]);
	free(job->host);
	free(job);
}

static void *resolve_thread(void *arg)
{
	struct resolve_job *job = arg;
	char byte = 0;
	ssize_t n;

	job->rc = getaddrinfo(job->host, job->port, &job->hints,
			      &job->result);
	job->sys_errno = errno;
	do {
		n = write(job->wake[1], &byte, 1);
	} while (n == -1 && errno == EINTR);
	resolve_job_unref(job);
	return NULL;
}

struct resolve_state {
	struct resolve_job *job;
	struct tevent_fd *fde;
	struct tsocket_address **addrs;
	int count;
	const char *error;
};

static int resolve_state_destructor(struct resolve_state *state)
{
	TALLOC_FREE(state->fde);
	if (state->job != NULL) {
		resolve_job_unref(state->job);
		state->job = NULL;
	}
	return 0;
}

/* Turn the getaddrinfo result into tsocket addresses. */
static void resolve_finish(struct tevent_req *req)
{
	struct resolve_state *state = tevent_req_data(req,
						      struct resolve_state);
	struct resolve_job *job = state->job;
	struct addrinfo *ai;
	int n = 0;

	if (job->rc != 0) {
		state->error = job->rc == EAI_SYSTEM ? strerror(job->sys_errno)
						     : gai_strerror(job->rc);
		tevent_req_error(req, EHOSTUNREACH);
		return;
	}
	for (ai = job->result; ai != NULL; ai = ai->ai_next) {
		n++;
	}
	state->addrs = talloc_zero_array(state, struct tsocket_address *,
					 n > 0 ? n : 1);
	if (tevent_req_nomem(state->addrs, req)) {
		return;
	}
	for (ai = job->result; ai != NULL; ai = ai->ai_next) {
		if (tsocket_address_bsd_from_sockaddr(state->addrs,
				ai->ai_addr, ai->ai_addrlen,
				&state->addrs[state->count]) == 0) {
			state->count++;
		}
	}
	if (state->count == 0) {
		state->error = "no usable address";
		tevent_req_error(req, EHOSTUNREACH);
		return;
	}
	tevent_req_done(req);
}

static void resolve_woken(struct tevent_context *ev, struct tevent_fd *fde,
			  uint16_t flags, void *private_data)
{
	struct tevent_req *req = private_data;
	struct resolve_state *state = tevent_req_data(req,
						      struct resolve_state);

	TALLOC_FREE(state->fde);
	resolve_finish(req);
}

struct tevent_req *resolve_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				const char *host, uint16_t port, int family)
{
	struct tevent_req *req;
	struct resolve_state *state;
	struct resolve_job *job;
	pthread_attr_t attr;
	pthread_t thread;

	req = tevent_req_create(mem_ctx, &state, struct resolve_state);
	if (req == NULL) {
		return NULL;
	}
	job = calloc(1, sizeof(*job));
	if (tevent_req_nomem(job, req)) {
		return tevent_req_post(req, ev);
	}
	job->refs = 1;
	job->wake[0] = job->wake[1] = -1;
	state->job = job;
	talloc_set_destructor(state, resolve_state_destructor);

	snprintf(job->port, sizeof(job->port), "%u", (unsigned)port);
	job->hints.ai_family = family;
	job->hints.ai_socktype = SOCK_STREAM;	/* one entry per address */
	job->hints.ai_flags = AI_NUMERICSERV;
	job->host = strdup(host);
	if (tevent_req_nomem(job->host, req)) {
		return tevent_req_post(req, ev);
	}
	/* numeric addresses need no thread */
	job->hints.ai_flags |= AI_NUMERICHOST;
	job->rc = getaddrinfo(job->host, job->port, &job->hints, &job->result);
	job->sys_errno = errno;
	if (job->rc != EAI_NONAME) {
		resolve_finish(req);
		return tevent_req_post(req, ev);
	}
	job->hints.ai_flags &= ~AI_NUMERICHOST;
	job->hints.ai_flags |= AI_ADDRCONFIG;

	if (pipe2(job->wake, O_CLOEXEC) == -1) {
		tevent_req_error(req, errno);
		return tevent_req_post(req, ev);
	}
	state->fde = tevent_add_fd(ev, state, job->wake[0], TEVENT_FD_READ,
				   resolve_woken, req);
	if (tevent_req_nomem(state->fde, req)) {
		return tevent_req_post(req, ev);
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	job->refs = 2;
	if (pthread_create(&thread, &attr, resolve_thread, job) != 0) {
		job->refs = 1;
		pthread_attr_destroy(&attr);
		tevent_req_error(req, EAGAIN);
		return tevent_req_post(req, ev);
	}
	pthread_attr_destroy(&attr);
	return req;
}

int resolve_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		 struct tsocket_address ***addrs, const char **error)
{
	struct resolve_state *state = tevent_req_data(req,
						      struct resolve_state);
	enum tevent_req_state rs;
	uint64_t err;
	int count;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = state->error != NULL ? state->error
					      : strerror((int)err);
		return -1;
	}
	*addrs = talloc_move(mem_ctx, &state->addrs);
	count = state->count;
	return count;
}
