/*
 * ratelimit.h - datagrams per second, per peer address
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_RATELIMIT_H
#define TSOCK_RATELIMIT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <talloc.h>

struct ratelimit;

/* A limit of rate datagrams a second per peer; NULL (no limit) for 0. */
struct ratelimit *ratelimit_create(TALLOC_CTX *mem_ctx, unsigned rate);

/* True if one more datagram from this peer is within its rate. */
bool ratelimit_allow(struct ratelimit *rl, const struct sockaddr_storage *ss,
		     socklen_t len);

#endif
