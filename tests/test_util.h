/*
 * test_util.h - small helpers shared by the libtsocket unit tests
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_TEST_UTIL_H
#define TSOCK_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>
#include <tevent.h>

/*
 * Run ev until *done becomes true or timeout_ms passes.  Returns *done.
 * Every test loop goes through this, so no test can hang.
 */
bool tu_loop_until(struct tevent_context *ev, const bool *done,
		   int timeout_ms);

/*
 * Run ev for about timeout_ms and count how many events it handled
 * (the timer that ends the run not included).  Used to prove that an idle
 * context does not wake the loop.
 */
unsigned tu_loop_count_events(struct tevent_context *ev, int timeout_ms);

/* A tevent_req callback that sets the bool pointed to by its private data. */
void tu_set_done(struct tevent_req *req);

/*
 * A fresh private directory for unix socket files, allocated on mem_ctx;
 * it is removed (with whatever is left inside) when the string is freed.
 */
char *tu_tmpdir(TALLOC_CTX *mem_ctx);

/*
 * The fixture most test programs share: a talloc context for everything
 * a test allocates and a tevent context.  tu_setup/tu_teardown are the
 * cmocka setup and teardown; teardown frees the test's allocations
 * (streams, requests, fds) before the event context they use.
 */
struct tu_ctx {
	TALLOC_CTX *mem;
	struct tevent_context *ev;
};

int tu_setup(void **state);
int tu_teardown(void **state);

/* Number of open file descriptors of this process. */
int tu_count_fds(void);

/*
 * Waiting for requests and single stream operations; these fail the
 * running cmocka test instead of returning when a request does not
 * complete in time.
 */
struct tstream_context;

/* How long wait_req and the do_* wrappers wait for a request. */
#define TU_TIMEOUT_MS	5000

/*
 * Run t->ev until req has completed, for at most ms; if it has not by
 * then, fail the test with a message naming file:line.  Use it through
 * wait_req (TU_TIMEOUT_MS) or wait_req_ms, which pass the caller's place.
 */
void wait_req_at(struct tu_ctx *t, struct tevent_req *req, int ms,
		 const char *file, int line);
#define wait_req(t, req) \
	wait_req_at(t, req, TU_TIMEOUT_MS, __FILE__, __LINE__)
#define wait_req_ms(t, req, ms) \
	wait_req_at(t, req, ms, __FILE__, __LINE__)

/*
 * One tstream_readv / tstream_writev of the single buffer buf[len], one
 * tstream_disconnect or tstream_shutdown on s, sent on t->mem, waited for
 * (wait_req) and received: the _recv function's return value, its errno
 * in *err (0 if none).
 */
int do_readv(struct tu_ctx *t, struct tstream_context *s,
	     void *buf, size_t len, int *err);
int do_writev(struct tu_ctx *t, struct tstream_context *s,
	      const void *buf, size_t len, int *err);
int do_disconnect(struct tu_ctx *t, struct tstream_context *s, int *err);
int do_shutdown(struct tu_ctx *t, struct tstream_context *s, int *err);

#endif
