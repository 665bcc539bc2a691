/*
 * test_resolve.c - tsock's resolver: lookups shared, cached, bounded and
 * given up at no cost
 *
 * getaddrinfo is wrapped (-Wl,--wrap=getaddrinfo): a lookup of a name
 * counts itself and then waits at a gate the test opens, so the test
 * decides when lookups end and sees how many ran and how many at once.
 * Numeric hosts go straight to the real getaddrinfo.  Names starting with
 * "fail" fail (EAI_NONAME); others answer 127.0.0.1.  The pool is
 * process-wide, so every test uses names of its own and leaves no lookup
 * behind.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <talloc.h>
#include <tevent.h>
#include "tsocket.h"
#include "resolve.h"
#include "resolve_pool.h"

int __real_getaddrinfo(const char *host, const char *port,
		       const struct addrinfo *hints, struct addrinfo **res);
int __wrap_getaddrinfo(const char *host, const char *port,
		       const struct addrinfo *hints, struct addrinfo **res);

/* The gate, shared with the pool's workers. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static unsigned gate_open;	/* lookups that may still pass */
static unsigned calls;		/* lookups of names started */
static unsigned inside;		/* lookups now waiting at the gate */

int __wrap_getaddrinfo(const char *host, const char *port,
		       const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo numeric = {
		.ai_family = AF_INET,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct timespec limit;

	if (hints != NULL && (hints->ai_flags & AI_NUMERICHOST) != 0) {
		return __real_getaddrinfo(host, port, hints, res);
	}
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 20;	/* a test that forgets to open fails, not hangs */
	pthread_mutex_lock(&gate_lock);
	calls++;
	inside++;
	pthread_cond_broadcast(&gate_changed);
	while (gate_open == 0) {
		if (pthread_cond_timedwait(&gate_changed, &gate_lock,
					   &limit) == ETIMEDOUT) {
			break;
		}
	}
	if (gate_open > 0) {
		gate_open--;
	}
	inside--;
	pthread_mutex_unlock(&gate_lock);
	if (strncmp(host, "fail", 4) == 0) {
		return EAI_NONAME;
	}
	return __real_getaddrinfo("127.0.0.1", port, &numeric, res);
}

static void gate_let_through(unsigned n)
{
	pthread_mutex_lock(&gate_lock);
	gate_open += n;
	pthread_cond_broadcast(&gate_changed);
	pthread_mutex_unlock(&gate_lock);
}

static unsigned gate_calls(void)
{
	unsigned n;

	pthread_mutex_lock(&gate_lock);
	n = calls;
	pthread_mutex_unlock(&gate_lock);
	return n;
}

/* Wait (bounded) until n lookups wait at the gate. */
static void gate_wait_inside(unsigned n)
{
	struct timespec limit;

	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 10;
	pthread_mutex_lock(&gate_lock);
	while (inside < n) {
		if (pthread_cond_timedwait(&gate_changed, &gate_lock,
					   &limit) == ETIMEDOUT) {
			break;
		}
	}
	assert_int_equal(inside, n);
	pthread_mutex_unlock(&gate_lock);
}

/* Threads of this process, from /proc. */
static int thread_count(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Threads: %d", &n) == 1) {
			break;
		}
	}
	fclose(f);
	return n;
}

/* One request and what became of it. */
struct ask {
	struct tevent_req *req;
	bool done;
	int count;
	char *error;
	char addr[64];
};

static void ask_done(struct tevent_req *req)
{
	struct ask *a = tevent_req_callback_data(req, struct ask);
	struct tsocket_address **addrs = NULL;
	char *s;

	a->done = true;
	a->count = resolve_recv(req, a, &addrs, &a->error);
	if (a->count > 0) {
		s = tsocket_address_string(addrs[0], a);
		snprintf(a->addr, sizeof(a->addr), "%s", s);
	}
	TALLOC_FREE(a->req);
}

static struct ask *ask(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		       const char *host)
{
	struct ask *a = talloc_zero(mem_ctx, struct ask);

	assert_non_null(a);
	a->req = resolve_send(a, ev, host, 445, AF_INET);
	assert_non_null(a->req);
	tevent_req_set_callback(a->req, ask_done, a);
	return a;
}

/* Run the loop until all n asks are done (bounded). */
static void loop_until_done(struct tevent_context *ev, struct ask **asks,
			    int n)
{
	int turns, i, pending;

	for (turns = 0; turns < 2000; turns++) {
		pending = 0;
		for (i = 0; i < n; i++) {
			pending += asks[i]->done ? 0 : 1;
		}
		if (pending == 0) {
			return;
		}
		tevent_loop_once(ev);
	}
	fail_msg("asks still pending after 2000 loop turns");
}

static void timer_fired(struct tevent_context *ev, struct tevent_timer *te,
			struct timeval now, void *private_data)
{
	*(bool *)private_data = true;
}

/* Run the loop for 50 ms: whatever would still come, comes. */
static void loop_a_little(struct tevent_context *ev)
{
	bool fired = false;
	int turns;

	assert_non_null(tevent_add_timer(ev, ev,
					 tevent_timeval_current_ofs(0, 50000),
					 timer_fired, &fired));
	for (turns = 0; turns < 1000 && !fired; turns++) {
		tevent_loop_once(ev);
	}
	assert_true(fired);
}

struct fixture {
	TALLOC_CTX *mem;
	struct tevent_context *ev;
};

static int setup(void **state)
{
	struct fixture *f = talloc_zero(NULL, struct fixture);

	f->mem = talloc_new(f);
	f->ev = tevent_context_init(f);
	assert_non_null(f->ev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	talloc_free(f);
	return 0;
}

static void test_numeric_needs_no_lookup(void **state)
{
	struct fixture *f = *state;
	unsigned before = gate_calls();
	struct ask *a = ask(f->mem, f->ev, "127.0.0.1");

	loop_until_done(f->ev, &a, 1);
	assert_int_equal(a->count, 1);
	assert_string_equal(a->addr, "ipv4:127.0.0.1:445");
	assert_int_equal(gate_calls(), before);
}

static void test_same_name_shares_one_lookup(void **state)
{
	struct fixture *f = *state;
	struct ask *asks[200];
	unsigned before = gate_calls();
	int i;

	for (i = 0; i < 200; i++) {
		asks[i] = ask(f->mem, f->ev, "shared.test");
	}
	gate_wait_inside(1);
	assert_int_equal(gate_calls(), before + 1);
	gate_let_through(1);
	loop_until_done(f->ev, asks, 200);
	for (i = 0; i < 200; i++) {
		assert_int_equal(asks[i]->count, 1);
		assert_string_equal(asks[i]->addr, "ipv4:127.0.0.1:445");
	}
	assert_int_equal(gate_calls(), before + 1);
}

static void test_answer_is_cached(void **state)
{
	struct fixture *f = *state;
	struct ask *a, *b;
	unsigned before = gate_calls();

	a = ask(f->mem, f->ev, "cached.test");
	gate_let_through(1);
	loop_until_done(f->ev, &a, 1);
	assert_int_equal(a->count, 1);
	assert_int_equal(gate_calls(), before + 1);

	/* answered from the cache: no lookup, the gate stays shut */
	b = ask(f->mem, f->ev, "cached.test");
	loop_until_done(f->ev, &b, 1);
	assert_int_equal(b->count, 1);
	assert_string_equal(b->addr, "ipv4:127.0.0.1:445");
	assert_int_equal(gate_calls(), before + 1);
}

static void test_failure_is_not_cached(void **state)
{
	struct fixture *f = *state;
	struct ask *a, *b;
	unsigned before = gate_calls();

	a = ask(f->mem, f->ev, "fail1.test");
	gate_let_through(1);
	loop_until_done(f->ev, &a, 1);
	assert_int_equal(a->count, -1);
	assert_non_null(a->error);

	b = ask(f->mem, f->ev, "fail1.test");
	gate_let_through(1);
	loop_until_done(f->ev, &b, 1);
	assert_int_equal(b->count, -1);
	assert_int_equal(gate_calls(), before + 2);
}

/*
 * Threads never exceed the pool's, a full queue refuses at once, and
 * requests given up before their lookup starts never run it.
 */
static void test_bounded_and_withdrawn(void **state)
{
	struct fixture *f = *state;
	enum { RUN = RESOLVE_POOL_THREADS, WAIT = RESOLVE_POOL_QUEUE_MAX };
	struct ask *running[RUN], *queued[WAIT], *refused, *again;
	char name[64];
	unsigned before = gate_calls();
	int threads_before = thread_count(), i;

	for (i = 0; i < RUN; i++) {
		snprintf(name, sizeof(name), "run%d.test", i);
		running[i] = ask(f->mem, f->ev, name);
	}
	gate_wait_inside(RUN);
	for (i = 0; i < WAIT; i++) {
		snprintf(name, sizeof(name), "wait%d.test", i);
		queued[i] = ask(f->mem, f->ev, name);
	}
	/* the workers were started once, by an earlier test or this one */
	assert_true(thread_count() <= 1 + RESOLVE_POOL_THREADS);
	assert_true(thread_count() >= threads_before);

	/* one more different name: refused at once, nothing started */
	refused = ask(f->mem, f->ev, "onetoomany.test");
	loop_until_done(f->ev, &refused, 1);
	assert_int_equal(refused->count, -1);
	assert_string_equal(refused->error, "too many name lookups waiting");
	assert_int_equal(gate_calls(), before + RUN);

	/* a name already waiting can still be asked: it shares */
	again = ask(f->mem, f->ev, "wait0.test");

	/* everyone queued gives up (their clients left, -w ran out) */
	for (i = 0; i < WAIT; i++) {
		TALLOC_FREE(queued[i]);
	}
	TALLOC_FREE(again);
	/* and one whose lookup runs: its answer goes to the cache only */
	TALLOC_FREE(running[0]);

	gate_let_through(RUN);
	loop_until_done(f->ev, &running[1], RUN - 1);
	loop_a_little(f->ev);
	/* the withdrawn lookups never ran */
	assert_int_equal(gate_calls(), before + RUN);

	/* the given-up running lookup answered the cache */
	again = ask(f->mem, f->ev, "run0.test");
	loop_until_done(f->ev, &again, 1);
	assert_int_equal(again->count, 1);
	assert_int_equal(gate_calls(), before + RUN);

	/* the queue has room again */
	again = ask(f->mem, f->ev, "afterwards.test");
	gate_let_through(1);
	loop_until_done(f->ev, &again, 1);
	assert_int_equal(again->count, 1);
	assert_int_equal(gate_calls(), before + RUN + 1);
	assert_true(thread_count() <= 1 + RESOLVE_POOL_THREADS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_numeric_needs_no_lookup,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_same_name_shares_one_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_is_cached,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_is_not_cached,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_and_withdrawn,
						setup, teardown),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	resolve_pool_stop();
	return failed;
}
