/*
 * target_rules.h - where a proxy's clients may go: --allow-target and
 * --deny-target
 *
 * A rule is HOST[:PORT[-PORT]]: HOST is "*" (any), an address, a CIDR
 * block (10.0.0.0/8, [2001:db8::]/32: IPv6 in brackets when a port
 * follows), or a name ("example.org", or "*.example.org" for the names
 * under it; compared without case).  A name rule matches the name a
 * client asked for; an address rule matches the address it is reached
 * at (after resolving).  A deny that matches wins; with any allow rule,
 * only what an allow rule matches is allowed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_TARGET_RULES_H
#define TSOCK_TARGET_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <talloc.h>

struct target_rules;

/* An empty set (everything allowed), on mem_ctx. */
struct target_rules *target_rules_create(TALLOC_CTX *mem_ctx);

/* Add an allow or deny rule; NULL, or why spec is not one (static). */
const char *target_rules_add(struct target_rules *rules, bool allow,
			     const char *spec);

/* True if a deny rule matches name (as asked) and port by name alone. */
bool target_name_denied(const struct target_rules *rules, const char *name,
			uint16_t port);

/* True if some rule is about addresses (CIDR blocks, addresses). */
bool target_rules_have_addresses(const struct target_rules *rules);

/* True if no rule was added. */
bool target_rules_empty(const struct target_rules *rules);

/* True if there are allow rules (everything else is then denied). */
bool target_rules_restrict(const struct target_rules *rules);

/*
 * Whether a client may reach name (as asked, or NULL if it gave an
 * address) at sa (NULL: not resolved yet, address rules then neither
 * allow nor deny) and port.
 */
bool target_allowed(const struct target_rules *rules, const char *name,
		    const struct sockaddr *sa, uint16_t port);

#endif
