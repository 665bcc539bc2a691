/*
 * endpoint.h - parsing the endpoints users write on the command line
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_ENDPOINT_H
#define TSOCK_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>

enum endpoint_kind {
	EP_TCP,
	EP_UDP,
	EP_UNIX,		/* unix stream socket */
	EP_UNIX_DGRAM,
	EP_STDIO,
	EP_TLS,			/* TCP, then TLS */
};

struct endpoint {
	const char *text;	/* as the user wrote it, for messages */
	enum endpoint_kind kind;
	int family;		/* AF_UNSPEC, AF_INET or AF_INET6 */
	char *host;		/* NULL: every address (listening only) */
	uint16_t port;
	char *path;		/* unix and unix-dgram */
};

/*
 * Parse text as an endpoint.  listening allows a missing host and port 0.
 * family_hint (AF_UNSPEC, AF_INET, AF_INET6: from -4/-6) applies when the
 * endpoint does not name a family itself.  On error returns NULL and sets
 * *error to a message (on mem_ctx) that names the endpoint and the
 * problem, e.g. "endpoint 'tcp:localhost': missing port".
 */
struct endpoint *endpoint_parse(TALLOC_CTX *mem_ctx, const char *text,
				bool listening, int family_hint,
				char **error);

/* True for endpoints that carry a byte stream (tcp, tls, unix, stdio). */
bool endpoint_is_stream(const struct endpoint *ep);

/*
 * The endpoint types a command line may name as a separate word, as in
 * "tsock connect tcp 127.0.0.1:445".  True if word is one of them.
 */
bool endpoint_is_type_word(const char *word);

/* "tcp", "udp", "unix", "unix-dgram", "stdio" or "tls". */
const char *endpoint_kind_name(enum endpoint_kind kind);

#endif
