/*
 * fuzz_target_rules.c - fuzz target for --allow-target and --deny-target
 * (src/target_rules.c)
 *
 * Input: text (up to the first NUL), one item a line:
 *   +SPEC             an allow rule (so is a line that starts otherwise)
 *   -SPEC             a deny rule
 *   ?NAME,ADDR,PORT   a query: the name a client asked for, the address
 *                     it is reached at (either may be empty: NULL) and
 *                     the port
 * Every spec is added, and the rules that took are checked against the
 * queries, a few fixed ones and one made of each rule's own text:
 *  - target_rules_add takes or refuses a spec whatever else the set
 *    holds, and says why it refuses;
 *  - each query's answer is what the rules one by one say: denied if a
 *    deny rule matches, else allowed if no allow rule was given or one
 *    matches (so the order of the rules does not matter);
 *  - a deny rule matches exactly what the same rule as allow matches;
 *    adding deny "*" denies everything, adding allow "*" allows what no
 *    deny rule matches, and the empty set allows everything;
 *  - names match without case and with a trailing dot; a rule that
 *    matches without the address matches with it, and one that matches
 *    without the name with it; a rule that matches an IPv4 address
 *    matches it as a v4-mapped IPv6 one;
 *  - a rule matches what it names itself: its address, a name under
 *    *.domain (and not the domain), its name, at its lowest port.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <talloc.h>
#include "target_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096
#define MAX_RULES 24
#define MAX_QUERIES 64

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

struct spec {
	bool allow;
	const char *text;
	/* each accepted spec alone, as allow and as deny */
	struct target_rules *as_allow, *as_deny;
};

struct query {
	const char *name;
	struct sockaddr_storage ss;
	bool has_sa;
	uint16_t port;
};

struct state {
	TALLOC_CTX *mem;
	struct spec specs[MAX_RULES];
	size_t n_specs;
	struct query queries[MAX_QUERIES];
	size_t n_queries;
	/* the rules in order, backwards, the denies, and with "*" added */
	struct target_rules *all, *reversed, *denies, *plus_allow,
			    *plus_deny, *empty;
	bool any_allow;
};

static bool allowed(const struct target_rules *rules, const struct query *q)
{
	return target_allowed(rules, q->name,
			      q->has_sa ? (const struct sockaddr *)&q->ss
					: NULL, q->port);
}

static struct target_rules *rules_new(struct state *st)
{
	struct target_rules *rules = target_rules_create(st->mem);

	CHECK(rules != NULL);
	CHECK(target_rules_empty(rules) && !target_rules_restrict(rules));
	return rules;
}

/* Add spec to rules; whether it took. */
static bool add(struct target_rules *rules, bool allow, const char *spec)
{
	const char *why = target_rules_add(rules, allow, spec);

	CHECK(why == NULL || why[0] != '\0');
	if (why == NULL) {
		CHECK(!target_rules_empty(rules));
		CHECK(!allow || target_rules_restrict(rules));
	}
	return why == NULL;
}

static bool set_address(struct query *q, const char *text)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&q->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&q->ss;

	memset(&q->ss, 0, sizeof(q->ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
	} else {
		return q->has_sa = false;
	}
	return q->has_sa = true;
}

static void add_query(struct state *st, const char *name, const char *addr,
		      uint16_t port)
{
	struct query *q;

	if (st->n_queries == MAX_QUERIES) {
		return;
	}
	q = &st->queries[st->n_queries++];
	q->name = name;
	q->port = port;
	if (addr == NULL || !set_address(q, addr)) {
		q->has_sa = false;
	}
}

/* "?NAME,ADDR,PORT" */
static void parse_query(struct state *st, char *line)
{
	char *comma = strchr(line, ','), *addr = NULL, *port = NULL;

	if (comma != NULL) {
		*comma = '\0';
		addr = comma + 1;
		comma = strchr(addr, ',');
		if (comma != NULL) {
			*comma = '\0';
			port = comma + 1;
		}
	}
	add_query(st, line[0] != '\0' ? line : NULL,
		  addr != NULL && addr[0] != '\0' ? addr : NULL,
		  port != NULL ? (uint16_t)strtoul(port, NULL, 10) : 80);
}

/* What a rule says of q: true if it matches. */
static bool matches(const struct spec *s, const struct query *q)
{
	bool m = allowed(s->as_allow, q);

	/* as deny, the same rule the other way round */
	CHECK(allowed(s->as_deny, q) == !m);
	return m;
}

static void check_query(const struct state *st, const struct query *q)
{
	bool denied = false, allowed_by_one = false;
	size_t i;

	for (i = 0; i < st->n_specs; i++) {
		const struct spec *s = &st->specs[i];

		if (s->as_allow == NULL) {
			continue;	/* refused */
		}
		if (matches(s, q)) {
			denied = denied || !s->allow;
			allowed_by_one = allowed_by_one || s->allow;
		}
	}
	CHECK(allowed(st->all, q) ==
	      (!denied && (!st->any_allow || allowed_by_one)));
	CHECK(allowed(st->reversed, q) == allowed(st->all, q));
	CHECK(allowed(st->denies, q) == !denied);
	CHECK(allowed(st->plus_allow, q) == !denied);
	CHECK(!allowed(st->plus_deny, q));
	CHECK(allowed(st->empty, q));
}

/* Variants of q that each rule must see as q, or (more) as matching. */
static void check_variants(const struct state *st, const struct query *q)
{
	struct query v;
	char *name;
	size_t i, n;

	for (i = 0; i < st->n_specs; i++) {
		const struct spec *s = &st->specs[i];
		bool m;

		if (s->as_allow == NULL) {
			continue;
		}
		m = matches(s, q);
		if (q->name != NULL) {
			/* another case */
			name = talloc_strdup(st->mem, q->name);
			CHECK(name != NULL);
			for (n = 0; name[n] != '\0'; n++) {
				name[n] = (char)(islower((unsigned char)
							 name[n])
						 ? toupper((unsigned char)
							   name[n])
						 : tolower((unsigned char)
							   name[n]));
			}
			v = *q;
			v.name = name;
			CHECK(matches(s, &v) == m);
			/* a trailing dot, if it had none */
			n = strlen(q->name);
			if (n > 0 && q->name[n - 1] != '.') {
				v.name = talloc_asprintf(st->mem, "%s.",
							 q->name);
				CHECK(v.name != NULL);
				CHECK(matches(s, &v) == m);
			}
			/* no name: only address rules can still match */
			v = *q;
			v.name = NULL;
			CHECK(!matches(s, &v) || m);
		}
		if (q->has_sa) {
			v = *q;
			v.has_sa = false;
			CHECK(!matches(s, &v) || m);
		}
		if (q->has_sa && q->ss.ss_family == AF_INET) {
			const struct sockaddr_in *s4 =
				(const struct sockaddr_in *)&q->ss;
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&v.ss;

			v = *q;
			memset(&v.ss, 0, sizeof(v.ss));
			s6->sin6_family = AF_INET6;
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
			CHECK(!m || matches(s, &v));
		}
	}
}

/*
 * The query a rule names by itself: its address (without the prefix),
 * its name, or one under its *.domain, at its lowest port.  Also checks
 * that *.domain does not match the domain itself.
 */
static void check_self(struct state *st, const struct spec *s, uint16_t port)
{
	char *host = talloc_strdup(st->mem, s->text), *port_text = NULL;
	char *slash, *close;
	struct query q = { .port = port };
	size_t colons = 0, i;

	CHECK(host != NULL);
	for (i = 0; host[i] != '\0'; i++) {
		colons += host[i] == ':';
	}
	if (host[0] == '[') {
		close = strchr(host, ']');
		CHECK(close != NULL);
		*close = '\0';
		port_text = strchr(close + 1, ':');
		host++;
	} else if (colons == 1) {
		port_text = strchr(host, ':');
		*port_text = '\0';
	}
	if (port_text != NULL) {
		q.port = (uint16_t)strtoul(port_text + 1, NULL, 10);
	}
	slash = strchr(host, '/');
	if (slash != NULL) {
		*slash = '\0';
	}
	if (strcmp(host, "*") == 0) {
		q.name = "example.org";
		CHECK(matches(s, &q));
		q.name = NULL;
		CHECK(matches(s, &q));
		return;
	}
	if (set_address(&q, host)) {
		CHECK(matches(s, &q));
		return;
	}
	CHECK(slash == NULL);
	if (strncmp(host, "*.", 2) == 0) {
		q.name = host + 2;
		CHECK(!matches(s, &q));
		q.name = talloc_asprintf(st->mem, "a%s", host + 1);
		CHECK(q.name != NULL);
	} else {
		q.name = host;
	}
	/* trailing dots, the rule's or the name's, do not count */
	CHECK(matches(s, &q));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *st;
	char *text, *line, *next;
	uint16_t port = 80;
	size_t i;

	if (size > MAX_INPUT) {
		return 0;
	}
	st = talloc_zero(NULL, struct state);
	CHECK(st != NULL);
	st->mem = st;
	text = talloc_strndup(st, (const char *)data,
			      strnlen((const char *)data, size));
	CHECK(text != NULL);
	if (size >= 2) {
		port = (uint16_t)(data[size - 2] << 8 | data[size - 1]);
	}
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
		}
		if (line[0] == '?') {
			parse_query(st, line + 1);
		} else if (st->n_specs < MAX_RULES) {
			struct spec *s = &st->specs[st->n_specs++];

			s->allow = line[0] != '-';
			s->text = line[0] == '+' || line[0] == '-' ? line + 1
								   : line;
		}
	}

	st->all = rules_new(st);
	st->reversed = rules_new(st);
	st->denies = rules_new(st);
	st->plus_allow = rules_new(st);
	st->plus_deny = rules_new(st);
	st->empty = rules_new(st);
	for (i = 0; i < st->n_specs; i++) {
		struct spec *s = &st->specs[i];
		bool took = add(st->all, s->allow, s->text);

		/* the same verdict alone, either way, and in another set */
		s->as_allow = rules_new(st);
		s->as_deny = rules_new(st);
		CHECK(add(s->as_allow, true, s->text) == took);
		CHECK(add(s->as_deny, false, s->text) == took);
		CHECK(add(st->plus_allow, s->allow, s->text) == took);
		CHECK(add(st->plus_deny, s->allow, s->text) == took);
		if (!took) {
			s->as_allow = s->as_deny = NULL;
			continue;
		}
		st->any_allow = st->any_allow || s->allow;
		if (!s->allow) {
			CHECK(add(st->denies, false, s->text));
		}
	}
	for (i = st->n_specs; i-- > 0;) {
		add(st->reversed, st->specs[i].allow, st->specs[i].text);
	}
	CHECK(target_rules_restrict(st->all) == st->any_allow);
	CHECK(add(st->plus_allow, true, "*"));
	CHECK(add(st->plus_deny, false, "*"));

	/* some of everything, then each rule's own */
	add_query(st, "example.org", NULL, port);
	add_query(st, "www.example.org", "10.1.2.3", port);
	add_query(st, NULL, "127.0.0.1", port);
	add_query(st, NULL, "::1", port);
	add_query(st, NULL, "::ffff:10.1.2.3", 0);
	add_query(st, NULL, NULL, 65535);
	for (i = 0; i < st->n_queries; i++) {
		check_query(st, &st->queries[i]);
		check_variants(st, &st->queries[i]);
	}
	for (i = 0; i < st->n_specs; i++) {
		if (st->specs[i].as_allow != NULL) {
			check_self(st, &st->specs[i], port);
		}
	}
	talloc_free(st);
	return 0;
}
