/*
 * resolve.h - name resolution that does not block the event loop
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_RESOLVE_H
#define TSOCK_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>
#include <tevent.h>
#include "tsocket.h"

/* Limits, documented in tsock(1); the pool's are in resolve_pool.h. */
#define RESOLVE_CACHE_SECONDS 5		/* how long an answer is reused */
#define RESOLVE_CACHE_MAX 64		/* answers kept at most */

/*
 * Resolve host and port to inet addresses of family (AF_UNSPEC, AF_INET
 * or AF_INET6).  Numeric addresses are answered at once; names are looked
 * up by getaddrinfo(3) on a small pool of threads while the loop goes on
 * (see resolve_pool.h for its limits).  Requests for the same host, port
 * and family share one lookup while it runs, and a successful answer is
 * reused for RESOLVE_CACHE_SECONDS.  With too many different lookups
 * waiting, the request fails at once (EAGAIN, "too many name lookups
 * waiting").
 *
 * Freeing the request gives up on the answer at no further cost: a
 * lookup nobody waits for any more is dropped if it has not started, and
 * if it has, its answer only goes to the cache.  Lookups in flight must
 * all come from one event context (tsock has one), and a request must not
 * outlive its context.
 */
struct tevent_req *resolve_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				const char *host, uint16_t port, int family);

/*
 * The addresses found, in getaddrinfo's order, as an array on mem_ctx.
 * Returns the count (at least 1), or -1 with *error set to a message on
 * mem_ctx.
 */
int resolve_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		 struct tsocket_address ***addrs, char **error);

#endif
