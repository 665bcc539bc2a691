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

/*
 * Resolve host and port to inet addresses of family (AF_UNSPEC, AF_INET
 * or AF_INET6).  Numeric addresses are answered at once; names are looked
 * up by getaddrinfo(3) on a helper thread while the loop goes on.
 */
struct tevent_req *resolve_send(TALLOC_CTX *mem_ctx,
				struct tevent_context *ev,
				const char *host, uint16_t port, int family);

/*
 * The addresses found, in getaddrinfo's order, as an array on mem_ctx.
 * Returns the count (at least 1), or -1 with *error set to a message.
 */
int resolve_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		 struct tsocket_address ***addrs, const char **error);

#endif
