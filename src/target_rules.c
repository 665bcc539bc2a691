/*
 * target_rules.c - --allow-target and --deny-target
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "target_rules.h"

struct target_rule {
	bool allow;
	enum { RULE_ANY, RULE_NAME, RULE_NET } what;
	char *name;		/* RULE_NAME: "example.org" or "*.org" */
	int family;		/* RULE_NET */
	uint8_t addr[16];
	unsigned prefix;
	uint16_t port_lo, port_hi;
};

struct target_rules {
	struct target_rule *rules;
	size_t n;
	bool restrict_;		/* an allow rule was given */
};

struct target_rules *target_rules_create(TALLOC_CTX *mem_ctx)
{
	return talloc_zero(mem_ctx, struct target_rules);
}

bool target_rules_empty(const struct target_rules *rules)
{
	return rules->n == 0;
}

bool target_rules_restrict(const struct target_rules *rules)
{
	return rules->restrict_;
}

/* "N" or "N-M" (0-65535, N <= M); false if not. */
static bool parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long a, b;

	if (!isdigit((unsigned char)*s)) {
		return false;
	}
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1])) {
			return false;
		}
		b = strtoul(end + 1, &end, 10);
	}
	if (*end != '\0' || a > 65535 || b > 65535 || a > b) {
		return false;
	}
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

/* ADDR[/PREFIX] into r; false if it is not one. */
static bool parse_net(struct target_rule *r, char *s)
{
	char *slash = strchr(s, '/');
	unsigned long prefix;
	char *end;
	bool ok;

	if (slash != NULL) {
		*slash = '\0';
	}
	ok = inet_pton(AF_INET, s, r->addr) == 1;
	r->family = AF_INET;
	r->prefix = 32;
	if (!ok && inet_pton(AF_INET6, s, r->addr) == 1) {
		ok = true;
		r->family = AF_INET6;
		r->prefix = 128;
	}
	if (slash != NULL) {
		*slash = '/';	/* for the caller's next guess */
	}
	if (!ok) {
		return false;
	}
	if (slash != NULL) {
		if (!isdigit((unsigned char)slash[1])) {
			return false;
		}
		prefix = strtoul(slash + 1, &end, 10);	/* "/32" */
		if (*end != '\0' || prefix > r->prefix) {
			return false;
		}
		r->prefix = (unsigned)prefix;
	}
	return true;
}

/* A host name rule: letters, digits, '-', '.', "*." only at the start. */
static bool valid_name(const char *s)
{
	const char *p = strncmp(s, "*.", 2) == 0 ? s + 2 : s;

	if (*p == '\0') {
		return false;
	}
	for (; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_') {
			return false;
		}
	}
	return true;
}

const char *target_rules_add(struct target_rules *rules, bool allow,
			     const char *spec)
{
	struct target_rule r = { .allow = allow, .port_hi = 65535 };
	struct target_rule *grown;
	char *host = talloc_strdup(rules, spec), *port = NULL;
	size_t colons = 0;
	const char *p;

	if (host == NULL) {
		return "out of memory";
	}
	for (p = host; *p != '\0'; p++) {
		colons += *p == ':';
	}
	if (host[0] == '[') {
		char *close = strchr(host, ']');

		if (close == NULL) {
			return "missing ']' after the IPv6 address";
		}
		*close = '\0';
		if (close[1] == '/') {		/* [2001:db8::]/32 */
			char *c = strchr(close + 1, ':');

			if (c != NULL) {
				*c = '\0';
				port = c + 1;
			}
			memmove(close, close + 1, strlen(close + 1) + 1);
		} else if (close[1] == ':') {
			port = close + 2;
		} else if (close[1] != '\0') {
			return "expected ':PORT' after ']'";
		}
		host++;
	} else if (colons == 1) {
		port = strchr(host, ':');
		*port++ = '\0';
	}
	if (port != NULL && !parse_ports(port, &r.port_lo, &r.port_hi)) {
		return "bad port: expected N or N-M, from 0 to 65535";
	}
	if (strcmp(host, "*") == 0) {
		r.what = RULE_ANY;
	} else if (parse_net(&r, host)) {
		r.what = RULE_NET;
	} else if (strchr(host, '/') == NULL && valid_name(host)) {
		r.what = RULE_NAME;
		r.name = host;
	} else {
		return "expected *, an address, a CIDR block or a host name";
	}
	grown = talloc_realloc(rules, rules->rules, struct target_rule,
			       rules->n + 1);
	if (grown == NULL) {
		return "out of memory";
	}
	rules->rules = grown;
	rules->rules[rules->n++] = r;
	rules->restrict_ = rules->restrict_ || allow;
	return NULL;
}

/* s's length without trailing dots: "example.org." is example.org */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '.') {
		n--;
	}
	return n;
}

static bool name_matches(const char *rule, const char *name)
{
	size_t rl, nl = name_len(name);

	if (strncmp(rule, "*.", 2) == 0) {
		rl = name_len(rule + 1);	/* ".example.org" */
		return nl > rl && strncasecmp(name + nl - rl, rule + 1,
					      rl) == 0;
	}
	rl = name_len(rule);
	return rl == nl && strncasecmp(rule, name, nl) == 0;
}

static bool net_matches(const struct target_rule *r,
			const struct sockaddr *sa)
{
	const uint8_t *a;
	uint8_t v4[4];
	unsigned full, rest;

	if (sa->sa_family == AF_INET && r->family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 && r->family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	} else if (sa->sa_family == AF_INET6 && r->family == AF_INET &&
		   IN6_IS_ADDR_V4MAPPED(
			&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		/* ::ffff:10.1.2.3 is 10.1.2.3: no way around a v4 rule */
		memcpy(v4, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr
		       + 12, 4);
		a = v4;
	} else {
		return false;
	}
	full = r->prefix / 8;
	rest = r->prefix % 8;
	if (memcmp(a, r->addr, full) != 0) {
		return false;
	}
	return rest == 0 ||
	       ((a[full] ^ r->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool rule_matches(const struct target_rule *r, const char *name,
			 const struct sockaddr *sa, uint16_t port)
{
	if (port < r->port_lo || port > r->port_hi) {
		return false;
	}
	switch (r->what) {
	case RULE_ANY:
		return true;
	case RULE_NAME:
		return name != NULL && name_matches(r->name, name);
	case RULE_NET:
		return sa != NULL && net_matches(r, sa);
	}
	return false;
}

bool target_name_denied(const struct target_rules *rules, const char *name,
			uint16_t port)
{
	size_t i;

	for (i = 0; i < rules->n; i++) {
		const struct target_rule *r = &rules->rules[i];

		if (!r->allow && r->what != RULE_NET &&
		    rule_matches(r, name, NULL, port)) {
			return true;
		}
	}
	return false;
}

bool target_rules_have_addresses(const struct target_rules *rules)
{
	size_t i;

	for (i = 0; i < rules->n; i++) {
		if (rules->rules[i].what == RULE_NET) {
			return true;
		}
	}
	return false;
}

bool target_allowed(const struct target_rules *rules, const char *name,
		    const struct sockaddr *sa, uint16_t port)
{
	bool allowed = !rules->restrict_;
	size_t i;

	for (i = 0; i < rules->n; i++) {
		const struct target_rule *r = &rules->rules[i];

		if (!rule_matches(r, name, sa, port)) {
			continue;
		}
		if (!r->allow) {
			return false;
		}
		allowed = true;
	}
	return allowed;
}
