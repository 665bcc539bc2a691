/*
 * endpoint_options.c - the NAME=VALUE options written after an endpoint
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include "endpoint_options.h"
#include "parse.h"

enum option_role { ROLE_ANY, ROLE_LISTEN, ROLE_CONNECT };
enum option_type {
	TYPE_STRING, TYPE_FLAG, TYPE_SECONDS, TYPE_MODE,
	TYPE_PROXY,		/* repeatable: a chain, in order */
	TYPE_PROXY_VERSION,	/* v1, v2 (the PROXY protocol's) */
	TYPE_TLS_VERSION,	/* 1.0 ... 1.3, as 10 ... 13 */
};

struct endpoint_option {
	const char *name;
	unsigned group;			/* KIND_OPT_... */
	enum option_role role;
	enum option_type type;
	size_t offset;			/* in struct endpoint_settings */
};

#define AT(field) offsetof(struct endpoint_settings, field)

/* Keep tsock(1) ("Endpoint options") in step. */
static const struct endpoint_option endpoint_options[] = {
	{ "timeout", KIND_OPT_CONNECT, ROLE_CONNECT, TYPE_SECONDS,
	  AT(connect_timeout_ms) },
	{ "cafile", KIND_OPT_TLS, ROLE_ANY, TYPE_STRING, AT(cafile) },
	{ "cert", KIND_OPT_TLS, ROLE_ANY, TYPE_STRING, AT(certfile) },
	{ "key", KIND_OPT_TLS, ROLE_ANY, TYPE_STRING, AT(keyfile) },
	{ "servername", KIND_OPT_TLS, ROLE_CONNECT, TYPE_STRING,
	  AT(servername) },
	{ "pin", KIND_OPT_TLS, ROLE_CONNECT, TYPE_STRING, AT(pin) },
	{ "insecure", KIND_OPT_TLS, ROLE_CONNECT, TYPE_FLAG, AT(insecure) },
	{ "require-client-cert", KIND_OPT_TLS, ROLE_LISTEN, TYPE_FLAG,
	  AT(require_client_cert) },
	{ "alpn", KIND_OPT_TLS, ROLE_ANY, TYPE_STRING, AT(alpn) },
	{ "priority", KIND_OPT_TLS, ROLE_ANY, TYPE_STRING, AT(priority) },
	{ "min-version", KIND_OPT_TLS, ROLE_ANY, TYPE_TLS_VERSION,
	  AT(min_version) },
	{ "mode", KIND_OPT_FILE, ROLE_LISTEN, TYPE_MODE, AT(mode) },
	{ "via", KIND_OPT_PROXY, ROLE_CONNECT, TYPE_PROXY, AT(proxies) },
	{ "send-proxy", KIND_OPT_PROXY_HEADER, ROLE_CONNECT,
	  TYPE_PROXY_VERSION, AT(send_proxy) },
	{ "accept-proxy", KIND_OPT_PROXY_HEADER, ROLE_LISTEN, TYPE_FLAG,
	  AT(accept_proxy) },
};

#define N_OPTIONS (sizeof(endpoint_options) / sizeof(endpoint_options[0]))

static const struct endpoint_option *option_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < N_OPTIONS; i++) {
		if (strlen(endpoint_options[i].name) == len &&
		    memcmp(endpoint_options[i].name, name, len) == 0) {
			return &endpoint_options[i];
		}
	}
	return NULL;
}

/* The length of the NAME at s: lower-case letters, digits and '-'. */
static size_t option_name_len(const char *s)
{
	size_t n = 0;

	if (s[0] < 'a' || s[0] > 'z') {
		return 0;
	}
	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
	       s[n] == '-') {
		n++;
	}
	return n;
}

bool endpoint_option_starts(const char *s)
{
	size_t n = option_name_len(s);
	const struct endpoint_option *o;

	if (n == 0) {
		return false;
	}
	if (s[n] == '=') {
		return true;
	}
	o = option_find(s, n);
	return o != NULL && o->type == TYPE_FLAG &&
	       (s[n] == ',' || s[n] == '\0');
}

char *endpoint_options_of(TALLOC_CTX *mem_ctx,
			  const struct endpoint_kind *kind)
{
	char *list = NULL;
	size_t i;

	for (i = 0; i < N_OPTIONS; i++) {
		if (!(kind->options & endpoint_options[i].group)) {
			continue;
		}
		list = list == NULL
		       ? talloc_strdup(mem_ctx, endpoint_options[i].name)
		       : talloc_asprintf_append(list, ", %s",
						endpoint_options[i].name);
	}
	return list;
}

void endpoint_options_print_names(FILE *out)
{
	size_t i;

	for (i = 0; i < N_OPTIONS; i++) {
		fprintf(out, "%s%s\n", endpoint_options[i].name,
			endpoint_options[i].type == TYPE_FLAG ? "" : "=");
	}
}

/* Why o cannot be on ep (on ep), or NULL. */
static const char *option_misplaced(struct endpoint *ep,
				    const struct endpoint_option *o)
{
	char *takes;

	if (!(ep->kind->options & o->group)) {
		takes = endpoint_options_of(ep, ep->kind);
		return talloc_asprintf(ep, "option '%s' does not apply to "
				       "%s endpoints (they take %s)", o->name,
				       ep->kind->name,
				       takes != NULL ? takes : "no options");
	}
	if (o->role == ROLE_LISTEN && !ep->listening) {
		return talloc_asprintf(ep, "option '%s' applies only to a "
				       "listening endpoint", o->name);
	}
	if (o->role == ROLE_CONNECT && ep->listening) {
		return talloc_asprintf(ep, "option '%s' applies only to an "
				       "endpoint tsock connects to", o->name);
	}
	return NULL;
}

/*
 * via=URL: the first on an endpoint replaces --proxy's chain, each
 * further one adds a hop; via=direct leaves the endpoint's chain empty.
 * The URLs are checked once the whole endpoint is read (endpoint.c).
 */
static const char *option_add_proxy(struct endpoint *ep, const char *value)
{
	size_t n = 0;
	const char **list;

	if (value == NULL || *value == '\0') {
		return "option 'via' needs a proxy URL (or direct)";
	}
	while (ep->own_proxies != NULL && ep->own_proxies[n] != NULL) {
		n++;
	}
	list = talloc_realloc(ep, ep->own_proxies, const char *, n + 2);
	if (list == NULL) {
		return "out of memory";
	}
	if (strcmp(value, "direct") != 0) {
		list[n++] = value;
	}
	list[n] = NULL;
	ep->own_proxies = list;
	ep->set.proxies = list;
	return NULL;
}

bool parse_proxy_version(const char *s, int *version)
{
	if (strcmp(s, "v1") == 0 || strcmp(s, "1") == 0) {
		*version = 1;
	} else if (strcmp(s, "v2") == 0 || strcmp(s, "2") == 0) {
		*version = 2;
	} else {
		return false;
	}
	return true;
}

/* "1.0" ... "1.3" as 10 ... 13 (no GnuTLS needed to parse them). */
static bool parse_tls_version(const char *s, int *version)
{
	if (strlen(s) != 3 || s[0] != '1' || s[1] != '.' || s[2] < '0' ||
	    s[2] > '3') {
		return false;
	}
	*version = 10 + (s[2] - '0');
	return true;
}

/* Set o from value (unescaped, on ep); NULL or why not. */
static const char *option_set(struct endpoint *ep,
			      const struct endpoint_option *o,
			      const char *value)
{
	char *field = (char *)&ep->set + o->offset;
	bool ok = true;

	switch (o->type) {
	case TYPE_STRING:
		if (value == NULL || *value == '\0') {
			return talloc_asprintf(ep, "option '%s' needs a value",
					       o->name);
		}
		*(const char **)(void *)field = value;
		return NULL;
	case TYPE_FLAG:
		if (value == NULL) {
			*(bool *)(void *)field = true;
		} else {
			ok = parse_bool(value, (bool *)(void *)field);
		}
		break;
	case TYPE_SECONDS:
		ok = value != NULL &&
		     parse_seconds(value, (int *)(void *)field);
		break;
	case TYPE_MODE:
		ok = value != NULL && parse_mode(value, (int *)(void *)field);
		break;
	case TYPE_PROXY:
		return option_add_proxy(ep, value);
	case TYPE_PROXY_VERSION:
		ok = value != NULL &&
		     parse_proxy_version(value, (int *)(void *)field);
		break;
	case TYPE_TLS_VERSION:
		if (value == NULL ||
		    !parse_tls_version(value, (int *)(void *)field)) {
			return talloc_asprintf(ep, "option '%s': invalid value "
					       "'%s' (expected 1.0, 1.1, 1.2 "
					       "or 1.3)", o->name,
					       value != NULL ? value : "");
		}
		break;
	}
	if (!ok) {
		return talloc_asprintf(ep, "option '%s': invalid value '%s'",
				       o->name, value != NULL ? value : "");
	}
	return NULL;
}

char *endpoint_unescape(TALLOC_CTX *mem_ctx, const char *s, size_t len)
{
	char *out = talloc_array(mem_ctx, char, len + 1);
	size_t i, n = 0;

	if (out == NULL) {
		return NULL;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == ',') {
			i++;
		}
		out[n++] = s[i];
	}
	out[n] = '\0';
	return out;
}

const char *endpoint_options_apply(struct endpoint *ep, const char *s)
{
	while (*s != '\0') {
		const struct endpoint_option *o;
		const char *end = s, *value = NULL, *err;
		size_t n = option_name_len(s);

		/* this option's text ends where the next one starts */
		while (*end != '\0' &&
		       !(end[0] == ',' && end[-1] != '\\' &&
			 endpoint_option_starts(end + 1))) {
			end++;
		}
		if (n == 0 || (s[n] != '=' && s + n != end)) {
			return talloc_asprintf(ep, "bad option '%.*s' (expected "
					       "NAME=VALUE)", (int)(end - s),
					       s);
		}
		o = option_find(s, n);
		if (o == NULL) {
			char *takes = endpoint_options_of(ep, ep->kind);

			return talloc_asprintf(ep, "unknown option '%.*s' (%s "
					       "endpoints take %s)", (int)n, s,
					       ep->kind->name,
					       takes != NULL ? takes
							     : "no options");
		}
		err = option_misplaced(ep, o);
		if (err != NULL) {
			return err;
		}
		if (s[n] == '=') {
			value = endpoint_unescape(ep, s + n + 1,
						  (size_t)(end - (s + n + 1)));
			if (value == NULL) {
				return "out of memory";
			}
		}
		err = option_set(ep, o, value);
		if (err != NULL) {
			return err;
		}
		s = *end == ',' ? end + 1 : end;
	}
	return NULL;
}
