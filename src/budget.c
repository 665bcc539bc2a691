/*
 * budget.c - one memory budget shared by every relay (see budget.h)
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include "budget.h"

struct budget {
	struct tevent_context *ev;
	size_t limit;
	size_t used;
	unsigned big;			/* whole PDUs being assembled */
	struct budget_wait *head, *tail;
	struct tevent_immediate *wake;
	bool wake_armed;
};

struct budget *budget_create(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			     size_t limit)
{
	struct budget *b = talloc_zero(mem_ctx, struct budget);

	if (b == NULL) {
		return NULL;
	}
	b->ev = ev;
	b->limit = limit;
	b->wake = tevent_create_immediate(b);
	if (b->wake == NULL) {
		talloc_free(b);
		return NULL;
	}
	return b;
}

bool budget_spent(const struct budget *b)
{
	return b->used >= b->limit;
}

size_t budget_used(const struct budget *b)
{
	return b->used;
}

static void budget_unlink(struct budget *b, struct budget_wait *w)
{
	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else {
		b->head = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	} else {
		b->tail = w->prev;
	}
	w->prev = w->next = NULL;
	w->budget = NULL;
}

/*
 * Wake waiters first come, first served, for as long as the budget is not
 * spent.  Each is taken off the line before its callback runs, and the
 * head is looked up afresh each time: a callback may end relays, and so
 * take other waiters off the line.
 */
static bool budget_big_fits(const struct budget *b, size_t size)
{
	/*
	 * One may always go ahead: a PDU larger than what is free (or than
	 * the whole budget) is then assembled alone rather than never.
	 */
	return b->big == 0 ||
	       (b->used <= b->limit && size <= b->limit - b->used);
}

/* May the first in line go now? */
static bool budget_head_may_go(const struct budget *b)
{
	const struct budget_wait *w = b->head;

	if (w == NULL) {
		return false;
	}
	if (w->now) {
		return true;
	}
	return w->big != 0 ? budget_big_fits(b, w->big) : !budget_spent(b);
}

static void budget_wake(struct tevent_context *ev,
			struct tevent_immediate *im, void *private_data)
{
	struct budget *b = private_data;

	b->wake_armed = false;
	while (budget_head_may_go(b)) {
		struct budget_wait *w = b->head;

		budget_unlink(b, w);
		if (w->big != 0) {
			b->big++;
		}
		w->fn(w->private_data);
	}
}

static void budget_arm_wake(struct budget *b)
{
	if (b->wake_armed || !budget_head_may_go(b)) {
		return;
	}
	b->wake_armed = true;
	tevent_schedule_immediate(b->wake, b->ev, budget_wake, b);
}

void budget_set(struct budget *b, size_t *charged, size_t bytes)
{
	b->used -= *charged;
	b->used += bytes;
	*charged = bytes;
	budget_arm_wake(b);
}

void budget_wait(struct budget *b, struct budget_wait *w, size_t big,
		 void (*fn)(void *private_data), void *private_data)
{
	w->big = big;
	w->now = false;
	w->fn = fn;
	w->private_data = private_data;
	if (w->budget != NULL) {
		return;
	}
	w->budget = b;
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail != NULL) {
		b->tail->next = w;
	} else {
		b->head = w;
	}
	b->tail = w;
	/* released in the meantime: do not wait for the next release */
	budget_arm_wake(b);
}

void budget_wait_over(struct budget_wait *w)
{
	struct budget *b = w->budget;

	if (b == NULL || w->big != 0) {
		return;
	}
	/* to the front of the line, which is woken whatever is spent */
	budget_unlink(b, w);
	w->budget = b;
	w->now = true;
	w->prev = NULL;
	w->next = b->head;
	if (b->head != NULL) {
		b->head->prev = w;
	} else {
		b->tail = w;
	}
	b->head = w;
	budget_arm_wake(b);
}

void budget_cancel(struct budget_wait *w)
{
	if (w->budget != NULL) {
		budget_unlink(w->budget, w);
	}
}

bool budget_big_start(struct budget *b, size_t size)
{
	if (!budget_big_fits(b, size)) {
		return false;
	}
	b->big++;
	return true;
}

void budget_big_done(struct budget *b)
{
	b->big--;
	budget_arm_wake(b);
}
