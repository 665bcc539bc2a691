/*
 * proxy_url.h - the proxies tsock reaches targets through:
 * socks5://, socks5h://, socks4://, socks4a:// and http:// URLs
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_PROXY_URL_H
#define TSOCK_PROXY_URL_H

#include <stdbool.h>
#include <stdint.h>
#include <talloc.h>

enum proxy_type {
	PROXY_SOCKS5,		/* socks5://: the target resolved here */
	PROXY_SOCKS5H,		/* socks5h://: the proxy resolves it */
	PROXY_SOCKS4,		/* socks4://: IPv4 only, resolved here */
	PROXY_SOCKS4A,		/* socks4a://: the proxy resolves it */
	PROXY_HTTP,		/* http://: HTTP CONNECT */
};

/* The port a URL without one means, as curl takes it. */
#define PROXY_DEFAULT_PORT 1080

struct proxy_url {
	enum proxy_type type;
	char *host;		/* a name or an address, without brackets */
	uint16_t port;
	char *user;		/* NULL, or percent-decoded */
	char *pass;		/* NULL, or percent-decoded */
	/*
	 * For messages and -v: "SOCKS5 proxy 127.0.0.1:1080".  Never the
	 * credentials.
	 */
	char *label;
};

/*
 * Parse SCHEME://[USER[:PASS]@]HOST[:PORT][/] (IPv6 in brackets, '%XX'
 * escapes in USER and PASS).  NULL with *error (on mem_ctx; it never
 * repeats the credentials) if it is not one.
 */
struct proxy_url *proxy_url_parse(TALLOC_CTX *mem_ctx, const char *text,
				  char **error);

/* True if the proxy, not tsock, resolves the target's name. */
bool proxy_resolves_names(const struct proxy_url *url);

/* "SOCKS5", "SOCKS4", "HTTP": the protocol's name. */
const char *proxy_type_name(enum proxy_type type);

#endif
