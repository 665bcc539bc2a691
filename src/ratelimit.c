/*
 * ratelimit.c - datagrams per second, per peer address
 *
 * A token bucket per peer: rate tokens a second, at most a second's worth
 * (rate) saved up.  What it is for is loops more than floods: a datagram
 * that two echo servers bounce between them, or a spoofed one that makes
 * a server answer itself, goes round as fast as the machine allows, so
 * its bucket runs dry within a second and the datagram is dropped, which
 * ends the loop.
 *
 * Peers are kept in a fixed table, hashed; a peer that hashes onto a
 * slot held by another takes the slot over (its bucket starts full).  So
 * memory is bounded whatever the number of peers, at the price of
 * letting a peer that shares a slot with a busy one through sometimes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "ratelimit.h"

#define RATELIMIT_SLOTS 1024

struct ratelimit_slot {
	struct sockaddr_storage ss;
	socklen_t len;		/* 0: free */
	double tokens;
	double last;		/* seconds, monotonic */
};

struct ratelimit {
	unsigned rate;
	struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

struct ratelimit *ratelimit_create(TALLOC_CTX *mem_ctx, unsigned rate)
{
	struct ratelimit *rl;

	if (rate == 0) {
		return NULL;
	}
	rl = talloc_zero(mem_ctx, struct ratelimit);
	if (rl != NULL) {
		rl->rate = rate;
	}
	return rl;
}

static double ratelimit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned ratelimit_hash(const struct sockaddr_storage *ss,
			       socklen_t len)
{
	const unsigned char *p = (const unsigned char *)ss;
	unsigned h = 2166136261u;	/* FNV-1a */
	socklen_t i;

	for (i = 0; i < len; i++) {
		h = (h ^ p[i]) * 16777619u;
	}
	return h % RATELIMIT_SLOTS;
}

bool ratelimit_allow(struct ratelimit *rl, const struct sockaddr_storage *ss,
		     socklen_t len)
{
	struct ratelimit_slot *slot;
	double now;

	if (rl == NULL) {
		return true;
	}
	if (len > sizeof(*ss)) {
		len = sizeof(*ss);
	}
	now = ratelimit_now();
	slot = &rl->slots[ratelimit_hash(ss, len)];
	if (slot->len != len || memcmp(&slot->ss, ss, len) != 0) {
		memcpy(&slot->ss, ss, len);
		slot->len = len;
		slot->tokens = rl->rate;
		slot->last = now;
	}
	slot->tokens += (now - slot->last) * rl->rate;
	if (slot->tokens > rl->rate) {
		slot->tokens = rl->rate;
	}
	slot->last = now;
	if (slot->tokens < 1.0) {
		return false;
	}
	slot->tokens -= 1.0;
	return true;
}
