/*
 * resolve.c - name resolution that does not block the event loop
 *
 * The loop thread's side of name lookups.  A relay whose back end is a
 * host name asks the same question for every client, often hundreds at
 * once, so each question (host, port, family) becomes one entry that
 * every request asking it waits on: one getaddrinfo(3) call, run by
 * resolve_pool.c, answers them all.  A successful answer stays in a small
 * cache for a few seconds, so a steady stream of clients costs a lookup
 * per few seconds, not one each.  Failures are not cached: the next
 * client tries again (while a lookup runs, its waiters share it anyway).
 *
 * A request that is freed (its client gone, its -w timeout hit) only
 * leaves its entry.  An entry nobody waits for is withdrawn from the
 * pool's queue if it has not started, so it costs nothing; if a worker
 * is already in getaddrinfo, which cannot be interrupted, the entry stays
 * for new askers to join and its answer feeds the cache.
 *
 * Entries are malloc'd, not talloc'd: they are shared with a worker
 * thread, and their life follows the lookup, not any one request.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "resolve.h"
#include "resolve_pool.h"

struct resolve_state;

/* One question, its lookup and its answer. */
struct resolve_entry {
	struct resolve_job job;		/* what the pool sees */
	struct resolve_entry *prev, *next;	/* pending or cached */
	struct resolve_state *waiters;
	bool cached;
	struct timespec expires;	/* when cached: reused until then */
};

/* The pool's wake descriptor, watched by resolver.ev. */
struct resolve_watch {
	struct tevent_fd *fde;
};

/* Loop thread only. */
static struct {
	struct resolve_entry *pending;	/* queued or running */
	struct resolve_entry *cache;	/* answered, newest first */
	unsigned ncached;
	struct tevent_context *ev;	/* whose loop watches the pool */
	struct resolve_watch *watch;
} resolver;

struct resolve_state {
	struct tevent_req *req;
	struct tevent_context *ev;
	struct resolve_entry *entry;	/* while waiting for it */
	struct resolve_state *prev, *next;	/* its waiters */
	struct tsocket_address **addrs;
	int count;
	const char *error;
};

static struct resolve_entry *entry_of(struct resolve_job *job)
{
	return (struct resolve_entry *)((char *)job -
					offsetof(struct resolve_entry, job));
}

static void entry_link(struct resolve_entry **head, struct resolve_entry *e)
{
	e->prev = NULL;
	e->next = *head;
	if (*head != NULL) {
		(*head)->prev = e;
	}
	*head = e;
}

static void entry_unlink(struct resolve_entry **head, struct resolve_entry *e)
{
	if (e->prev != NULL) {
		e->prev->next = e->next;
	} else {
		*head = e->next;
	}
	if (e->next != NULL) {
		e->next->prev = e->prev;
	}
	e->prev = e->next = NULL;
}

/* Only for an entry the pool does not hold (never queued, or done). */
static void entry_free(struct resolve_entry *e)
{
	if (e->job.result != NULL) {
		freeaddrinfo(e->job.result);
	}
	free(e->job.host);
	free(e);
}

static bool entry_matches(const struct resolve_entry *e, const char *host,
			  const char *port, const struct addrinfo *hints)
{
	return e->job.hints.ai_family == hints->ai_family &&
	       e->job.hints.ai_flags == hints->ai_flags &&
	       strcmp(e->job.port, port) == 0 &&
	       strcmp(e->job.host, host) == 0;
}

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static bool expired(const struct resolve_entry *e, const struct timespec *t)
{
	return t->tv_sec > e->expires.tv_sec ||
	       (t->tv_sec == e->expires.tv_sec &&
		t->tv_nsec >= e->expires.tv_nsec);
}

static void cache_drop(struct resolve_entry *e)
{
	entry_unlink(&resolver.cache, e);
	resolver.ncached--;
	entry_free(e);
}

/* A fresh cached answer to the question, dropping stale ones on the way. */
static struct resolve_entry *cache_find(const char *host, const char *port,
					const struct addrinfo *hints)
{
	struct resolve_entry *e, *next;
	struct timespec t;

	now(&t);
	for (e = resolver.cache; e != NULL; e = next) {
		next = e->next;
		if (expired(e, &t)) {
			cache_drop(e);
		} else if (entry_matches(e, host, port, hints)) {
			return e;
		}
	}
	return NULL;
}

/* Keep a successful answer: replaces an older one, evicts the oldest. */
static void cache_insert(struct resolve_entry *e)
{
	struct resolve_entry *c, *next, *oldest = NULL;
	struct timespec t;

	now(&t);
	for (c = resolver.cache; c != NULL; c = next) {
		next = c->next;
		if (expired(c, &t) ||
		    entry_matches(c, e->job.host, e->job.port, &e->job.hints)) {
			cache_drop(c);
		} else {
			oldest = c;
		}
	}
	if (resolver.ncached >= RESOLVE_CACHE_MAX && oldest != NULL) {
		cache_drop(oldest);
	}
	e->expires = t;
	e->expires.tv_sec += RESOLVE_CACHE_SECONDS;
	e->cached = true;
	entry_link(&resolver.cache, e);
	resolver.ncached++;
}

static struct resolve_entry *pending_find(const char *host, const char *port,
					  const struct addrinfo *hints)
{
	struct resolve_entry *e;

	for (e = resolver.pending; e != NULL; e = e->next) {
		if (entry_matches(e, host, port, hints)) {
			return e;
		}
	}
	return NULL;
}

static void waiter_add(struct resolve_entry *e, struct resolve_state *state)
{
	state->entry = e;
	state->prev = NULL;
	state->next = e->waiters;
	if (e->waiters != NULL) {
		e->waiters->prev = state;
	}
	e->waiters = state;
}

static void waiter_remove(struct resolve_state *state)
{
	struct resolve_entry *e = state->entry;

	if (state->prev != NULL) {
		state->prev->next = state->next;
	} else {
		e->waiters = state->next;
	}
	if (state->next != NULL) {
		state->next->prev = state->prev;
	}
	state->prev = state->next = NULL;
	state->entry = NULL;
}

static int resolve_state_destructor(struct resolve_state *state)
{
	struct resolve_entry *e = state->entry;

	if (e == NULL) {
		return 0;
	}
	waiter_remove(state);
	if (e->waiters == NULL && resolve_pool_withdraw(&e->job)) {
		/* nobody asks any more and it never ran */
		entry_unlink(&resolver.pending, e);
		entry_free(e);
	}
	return 0;
}

/* Answer a request from getaddrinfo's result (or failure). */
static void resolve_answer(struct tevent_req *req, int rc, int sys_errno,
			   const struct addrinfo *result)
{
	struct resolve_state *state = tevent_req_data(req,
						      struct resolve_state);
	const struct addrinfo *ai;
	int n = 0;

	if (rc != 0) {
		state->error = talloc_strdup(state, rc == EAI_SYSTEM
					     ? strerror(sys_errno)
					     : gai_strerror(rc));
		tevent_req_error(req, EHOSTUNREACH);
		return;
	}
	for (ai = result; ai != NULL; ai = ai->ai_next) {
		n++;
	}
	state->addrs = talloc_zero_array(state, struct tsocket_address *,
					 n > 0 ? n : 1);
	if (tevent_req_nomem(state->addrs, req)) {
		return;
	}
	for (ai = result; ai != NULL; ai = ai->ai_next) {
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

/* A lookup came back: answer everyone who waits for it. */
static void resolve_deliver(struct resolve_entry *e)
{
	struct resolve_state *state;

	entry_unlink(&resolver.pending, e);
	if (e->job.rc == 0) {
		cache_insert(e);
	}
	while ((state = e->waiters) != NULL) {
		waiter_remove(state);
		/*
		 * Callbacks later, from the loop: one that frees other
		 * requests or asks again must not run while this list and
		 * entry are being walked.
		 */
		tevent_req_defer_callback(state->req, state->ev);
		resolve_answer(state->req, e->job.rc, e->job.sys_errno,
			       e->job.result);
	}
	if (!e->cached) {
		entry_free(e);
	}
}

static void resolve_woken(struct tevent_context *ev, struct tevent_fd *fde,
			  uint16_t flags, void *private_data)
{
	struct resolve_job *job, *next;

	for (job = resolve_pool_take_done(); job != NULL; job = next) {
		next = job->next;
		resolve_deliver(entry_of(job));
	}
}

static int resolve_watch_destructor(struct resolve_watch *w)
{
	if (resolver.watch == w) {
		resolver.watch = NULL;
		resolver.ev = NULL;
	}
	return 0;
}

/*
 * Watch the pool's descriptor on ev.  The watch lives on ev, so it goes
 * with it and a later context can take over once nobody waits.
 */
static int resolve_watch(struct tevent_context *ev, const char **why)
{
	struct resolve_watch *w;
	struct resolve_entry *e;
	int fd;

	if (resolver.ev == ev) {
		return 0;
	}
	for (e = resolver.pending; e != NULL; e = e->next) {
		if (e->waiters != NULL) {
			*why = "name lookups from two event contexts";
			errno = EBUSY;
			return -1;
		}
	}
	TALLOC_FREE(resolver.watch);
	fd = resolve_pool_wake_fd();
	if (fd == -1) {
		*why = "cannot make a pipe for name lookups";
		return -1;
	}
	w = talloc_zero(ev, struct resolve_watch);
	if (w == NULL) {
		errno = ENOMEM;
		*why = NULL;
		return -1;
	}
	w->fde = tevent_add_fd(ev, w, fd, TEVENT_FD_READ, resolve_woken, NULL);
	if (w->fde == NULL) {
		talloc_free(w);
		errno = ENOMEM;
		*why = NULL;
		return -1;
	}
	talloc_set_destructor(w, resolve_watch_destructor);
	resolver.watch = w;
	resolver.ev = ev;
	return 0;
}

static struct resolve_entry *entry_new(const char *host, const char *port,
				       const struct addrinfo *hints)
{
	struct resolve_entry *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		return NULL;
	}
	e->job.host = strdup(host);
	if (e->job.host == NULL) {
		free(e);
		return NULL;
	}
	snprintf(e->job.port, sizeof(e->job.port), "%s", port);
	e->job.hints = *hints;
	return e;
}

/* Fail a request with a message of ours (NULL: strerror of err). */
static struct tevent_req *resolve_fail(struct tevent_req *req,
				       struct tevent_context *ev, int err,
				       const char *why)
{
	struct resolve_state *state = tevent_req_data(req,
						      struct resolve_state);

	state->error = why;
	tevent_req_error(req, err != 0 ? err : EIO);
	return tevent_req_post(req, ev);
}

struct tevent_req *resolve_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				const char *host, uint16_t port, int family)
{
	struct tevent_req *req;
	struct resolve_state *state;
	struct resolve_entry *e;
	struct addrinfo hints = {
		.ai_family = family,
		.ai_socktype = SOCK_STREAM,	/* one entry per address */
		.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST,
	};
	struct addrinfo *result = NULL;
	const char *why = NULL;
	char portstr[8];
	int rc;

	req = tevent_req_create(mem_ctx, &state, struct resolve_state);
	if (req == NULL) {
		return NULL;
	}
	state->req = req;
	state->ev = ev;
	talloc_set_destructor(state, resolve_state_destructor);
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);

	/* numeric addresses need no thread */
	rc = getaddrinfo(host, portstr, &hints, &result);
	if (rc != EAI_NONAME) {
		resolve_answer(req, rc, errno, result);
		if (result != NULL) {
			freeaddrinfo(result);
		}
		return tevent_req_post(req, ev);
	}
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;

	e = cache_find(host, portstr, &hints);
	if (e != NULL) {
		resolve_answer(req, 0, 0, e->job.result);
		return tevent_req_post(req, ev);
	}
	if (resolve_watch(ev, &why) == -1) {
		return resolve_fail(req, ev, errno, why);
	}
	e = pending_find(host, portstr, &hints);
	if (e != NULL) {
		waiter_add(e, state);
		return req;
	}
	e = entry_new(host, portstr, &hints);
	if (tevent_req_nomem(e, req)) {
		return tevent_req_post(req, ev);
	}
	if (resolve_pool_submit(&e->job, &why) == -1) {
		rc = errno;
		entry_free(e);
		return resolve_fail(req, ev, rc, why);
	}
	entry_link(&resolver.pending, e);
	waiter_add(e, state);
	return req;
}

int resolve_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		 struct tsocket_address ***addrs, char **error)
{
	struct resolve_state *state = tevent_req_data(req,
						      struct resolve_state);
	enum tevent_req_state rs;
	uint64_t err;

	if (tevent_req_is_error(req, &rs, &err)) {
		*error = talloc_strdup(mem_ctx, state->error != NULL
				       ? state->error
				       : rs == TEVENT_REQ_NO_MEMORY
				       ? "out of memory" : strerror((int)err));
		return -1;
	}
	*addrs = talloc_move(mem_ctx, &state->addrs);
	return state->count;
}
