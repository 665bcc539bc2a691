/*
 * endpoint_options.h - the NAME=VALUE options written after an endpoint
 *
 * tls:example.org:443,cafile=ca.pem,servername=x: each option overrides,
 * for its endpoint only, the global option of the same name.  Each
 * belongs to a group (KIND_OPT_...) that a kind takes or not, and may
 * apply only when listening or only when connecting; anything else is a
 * usage error that names the option and the endpoint.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_ENDPOINT_OPTIONS_H
#define TSOCK_ENDPOINT_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include "endpoint.h"

/*
 * True if s (just after a comma) starts an option: NAME= with NAME made
 * of lower-case letters, digits and '-', or the name of a flag on its
 * own ("insecure", followed by a comma or the end).
 */
bool endpoint_option_starts(const char *s);

/* "v1" or "v2" (also "1", "2") as 1 or 2: --send-proxy, send-proxy=. */
bool parse_proxy_version(const char *s, int *version);

/*
 * Apply "NAME=VALUE,..." (s, after the first comma) to ep's settings.
 * NULL, or the reason (on ep) it cannot be.
 */
const char *endpoint_options_apply(struct endpoint *ep, const char *s);

/* s[0..len) with each "\," made ",", on mem_ctx (NULL: out of memory). */
char *endpoint_unescape(TALLOC_CTX *mem_ctx, const char *s, size_t len);

/* The options ep's kind takes, "timeout, cafile, ...", or NULL. */
char *endpoint_options_of(TALLOC_CTX *mem_ctx,
			  const struct endpoint_kind *kind);

/* Every option name, one per line with "=" after those with a value. */
void endpoint_options_print_names(FILE *out);

#endif
