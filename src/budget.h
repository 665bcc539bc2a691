/*
 * budget.h - one memory budget shared by every relay
 *
 * Relays charge the buffers they hold for framing and datagram assembly
 * (PDUs, their read-ahead, datagrams) to one budget.  Once it is spent,
 * relays start no new reads: they wait in line until memory is released.
 * Reads already under way finish, so the budget can be exceeded by what
 * those hold (a bounded amount each, see relay.c), and one whole PDU that
 * must be assembled (to become a datagram) may always go ahead on its own,
 * so a PDU larger than the budget still passes, one at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_BUDGET_H
#define TSOCK_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>
#include <tevent.h>

/* The default of --max-buffer and the smallest value it takes. */
#define BUDGET_DEFAULT (64u * 1024 * 1024)
#define BUDGET_MIN (256u * 1024)

struct budget;

/* A place in the line of readers waiting for memory (embed it). */
struct budget_wait {
	struct budget_wait *prev, *next;
	struct budget *budget;		/* set while waiting */
	size_t big;			/* waiting to assemble this much */
	bool now;			/* see budget_wait_over */
	void (*fn)(void *private_data);
	void *private_data;
};

struct budget *budget_create(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			     size_t limit);

/* Is the budget spent (new reads should wait)? */
bool budget_spent(const struct budget *b);

/*
 * Set what one holder holds: *charged is its charge so far, updated to
 * bytes.  Releasing memory wakes waiters (from the event loop, not from
 * here, so the caller's state stays consistent).
 */
void budget_set(struct budget *b, size_t *charged, size_t bytes);

/*
 * Wait in line, first come first served: fn(private_data) is called from
 * the event loop once the budget is no longer spent, or with big (not 0)
 * once a whole PDU of big bytes may start as budget_big_start() would
 * allow it (and it has been counted as started: call budget_big_done()).
 * A waiter already in line stays where it is.
 */
void budget_wait(struct budget *b, struct budget_wait *w, size_t big,
		 void (*fn)(void *private_data), void *private_data);

/*
 * The waiter may go on after all, spent or not (the caller's reason to
 * wait is gone): it is called from the event loop soon.  No-op if not
 * waiting.
 */
void budget_wait_over(struct budget_wait *w);

/* Leave the line (no-op if not waiting). */
void budget_cancel(struct budget_wait *w);

/*
 * A whole PDU of size bytes is about to be assembled: true if it may start
 * now (it fits, or no other such PDU is under way), and then the caller
 * must call budget_big_done() when it has been written.  False: wait.
 */
bool budget_big_start(struct budget *b, size_t size);
void budget_big_done(struct budget *b);

/* Bytes charged now. */
size_t budget_used(const struct budget *b);

#endif
