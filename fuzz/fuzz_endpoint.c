/*
 * fuzz_endpoint.c - fuzz target for endpoint_parse() (src/endpoint.c)
 *
 * The input is the endpoint text as a user would type it (up to the first
 * NUL byte), so the seed corpus is plain text.  Each input is parsed six
 * times, listening and not, with each family hint, since those change
 * which branches the parser takes.  Besides the sanitizers, the target
 * checks what the parser promises:
 *  - NULL comes with an error message naming the endpoint, success with
 *    none;
 *  - a parsed endpoint is consistent (the family of a tcp4/udp6 type wins
 *    over the hint, a connecting endpoint has a host and a non-zero port,
 *    a unix path fits in sun_path);
 *  - whatever parses for connecting parses the same for listening, which
 *    only allows more (for kinds that can do both, without options);
 *  - an inet endpoint (without options) written back as TYPE:HOST:PORT
 *    (HOST in brackets when it needs them) parses to the same endpoint
 *    again.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <talloc.h>
#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Endpoints are command-line words: longer inputs find nothing new. */
#define MAX_INPUT 1024

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

static const int family_hints[] = { AF_UNSPEC, AF_INET, AF_INET6 };
static const struct endpoint_settings defaults = { .mode = -1 };

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return a == b;
	}
	return strcmp(a, b) == 0;
}

static bool is_kind(const struct endpoint *ep, const char *name)
{
	return strcmp(ep->kind->name, name) == 0;
}

static bool is_inet_kind(const struct endpoint *ep)
{
	return is_kind(ep, "tcp") || is_kind(ep, "udp") || is_kind(ep, "tls");
}

/* The checks on one successfully parsed endpoint. */
static void check_endpoint(const char *text, bool listening, int hint,
			   const struct endpoint *ep)
{
	const char *colon = strchr(text, ':');
	/* no comma: no options, nothing escaped; the address is verbatim */
	bool plain = strchr(text, ',') == NULL;
	struct sockaddr_un un;

	CHECK(str_eq(ep->text, text));
	CHECK(ep->kind != NULL);
	CHECK(ep->kind->roles & (listening ? KIND_LISTENS : KIND_CONNECTS));
	CHECK(ep->family == AF_UNSPEC || ep->family == AF_INET ||
	      ep->family == AF_INET6);

	if (ep->kind->no_address) {
		CHECK(colon == NULL || strchr(text, ',') < colon);
		return;
	}
	/* every other kind is TYPE:REST */
	CHECK(colon != NULL);
	if (ep->path != NULL) {
		CHECK(!plain || str_eq(ep->path, colon + 1));
		CHECK(ep->path[0] != '\0');
		CHECK(strlen(ep->path) < sizeof(un.sun_path) + 1);
		CHECK(ep->host == NULL);
		return;
	}
	if (ep->argv != NULL) {
		CHECK(ep->argv[0] != NULL);
		CHECK(ep->host == NULL);
		return;
	}
	CHECK(is_inet_kind(ep));
	CHECK(endpoint_is_stream(ep) == !is_kind(ep, "udp"));

	/* a family in the type ("tcp6") beats the hint, else the hint */
	if (colon - text == 4 && (text[3] == '4' || text[3] == '6')) {
		CHECK(ep->family == (text[3] == '4' ? AF_INET : AF_INET6));
	} else {
		CHECK(ep->family == hint);
	}
	if (!listening) {
		CHECK(ep->host != NULL);
		CHECK(ep->port != 0);
	}
	if (ep->host != NULL && plain) {
		CHECK(ep->host[0] != '\0');
		/* a bracketed host ends at the first ']'; others at ':' */
		if (colon[1] == '[') {
			CHECK(strchr(ep->host, ']') == NULL);
		} else {
			CHECK(strchr(ep->host, ':') == NULL);
		}
	}
}

/*
 * Write an inet endpoint back as the user could have: the type as given,
 * then HOST:PORT, [HOST]:PORT or (no host) :PORT.
 */
static char *endpoint_unparse(TALLOC_CTX *mem_ctx, const char *text,
			      const struct endpoint *ep)
{
	int type_len = (int)(strchr(text, ':') - text);
	const char *host = ep->host != NULL ? ep->host : "";
	bool brackets = strchr(host, ':') != NULL || host[0] == '[';

	return talloc_asprintf(mem_ctx, "%.*s:%s%s%s:%u", type_len, text,
			       brackets ? "[" : "", host, brackets ? "]" : "",
			       (unsigned)ep->port);
}

static bool endpoint_same(const struct endpoint *a, const struct endpoint *b)
{
	return a->kind == b->kind && a->family == b->family &&
	       str_eq(a->host, b->host) && a->port == b->port &&
	       str_eq(a->path, b->path);
}

/* Parse text one way and check the result; the endpoint or NULL. */
static struct endpoint *parse_checked(TALLOC_CTX *mem_ctx, const char *text,
				      bool listening, int hint)
{
	struct endpoint *ep;
	char *error = (char *)"not set";
	char *prefix;

	ep = endpoint_parse(mem_ctx, text, listening, hint, &defaults, &error);
	if (ep == NULL) {
		CHECK(error != NULL);
		/* the message names the endpoint as it was written */
		prefix = talloc_asprintf(mem_ctx, "endpoint '%s': ", text);
		CHECK(prefix != NULL);
		CHECK(strncmp(error, prefix, strlen(prefix)) == 0);
		CHECK(strlen(error) > strlen(prefix));
		CHECK(talloc_parent(error) == mem_ctx);
		return NULL;
	}
	CHECK(error == NULL);
	CHECK(talloc_parent(ep) == mem_ctx);
	check_endpoint(text, listening, hint, ep);
	return ep;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *mem;
	struct endpoint *connect_ep, *listen_ep, *again;
	char *text, *back;
	size_t len, h;

	if (size > MAX_INPUT) {
		return 0;
	}
	mem = talloc_new(NULL);
	CHECK(mem != NULL);
	/* the parser takes a C string: stop at the first NUL */
	len = strnlen((const char *)data, size);
	text = talloc_strndup(mem, (const char *)data, len);
	CHECK(text != NULL);

	for (h = 0; h < sizeof(family_hints) / sizeof(family_hints[0]); h++) {
		int hint = family_hints[h];

		connect_ep = parse_checked(mem, text, false, hint);
		listen_ep = parse_checked(mem, text, true, hint);
		/*
		 * listening only allows more, and changes nothing else, for
		 * kinds that do both and without options (some apply to one
		 * side only)
		 */
		if (connect_ep != NULL && strchr(text, ',') == NULL &&
		    (connect_ep->kind->roles & KIND_LISTENS)) {
			CHECK(listen_ep != NULL);
			CHECK(endpoint_same(connect_ep, listen_ep));
		}
		if (listen_ep == NULL || !is_inet_kind(listen_ep) ||
		    strchr(text, ',') != NULL) {
			continue;
		}
		back = endpoint_unparse(mem, text, listen_ep);
		CHECK(back != NULL);
		again = parse_checked(mem, back, true, hint);
		if (again == NULL) {
			fprintf(stderr, "'%s' parsed, but not '%s'\n", text,
				back);
		}
		CHECK(again != NULL);
		CHECK(endpoint_same(listen_ep, again));
	}
	talloc_free(mem);
	return 0;
}
