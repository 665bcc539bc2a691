/*
 * endpoint.c - parsing the endpoints users write on the command line
 *
 * Grammar (see tsock(1)):
 *   tcp:HOST:PORT  tcp4:...  tcp6:...  udp:HOST:PORT  udp4:...  udp6:...
 *   unix:PATH  unix-dgram:PATH  stdio  -  tls:HOST:PORT
 * IPv6 literals go in brackets.  When listening, HOST may be left out
 * ("tcp::8080", "tcp:8080") and PORT may be 0.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "endpoint.h"

struct endpoint_type {
	const char *name;
	enum endpoint_kind kind;
	int family;
};

static const struct endpoint_type endpoint_types[] = {
	{ "tcp", EP_TCP, AF_UNSPEC },
	{ "tcp4", EP_TCP, AF_INET },
	{ "tcp6", EP_TCP, AF_INET6 },
	{ "udp", EP_UDP, AF_UNSPEC },
	{ "udp4", EP_UDP, AF_INET },
	{ "udp6", EP_UDP, AF_INET6 },
	{ "unix", EP_UNIX, AF_UNSPEC },
	{ "unix-dgram", EP_UNIX_DGRAM, AF_UNSPEC },
	{ "tls", EP_TLS, AF_UNSPEC },
};

#define N_TYPES (sizeof(endpoint_types) / sizeof(endpoint_types[0]))

const char *endpoint_kind_name(enum endpoint_kind kind)
{
	switch (kind) {
	case EP_TCP: return "tcp";
	case EP_UDP: return "udp";
	case EP_UNIX: return "unix";
	case EP_UNIX_DGRAM: return "unix-dgram";
	case EP_STDIO: return "stdio";
	case EP_TLS: return "tls";
	}
	return "?";
}

bool endpoint_is_stream(const struct endpoint *ep)
{
	return ep->kind == EP_TCP || ep->kind == EP_UNIX ||
	       ep->kind == EP_STDIO || ep->kind == EP_TLS;
}

static const struct endpoint_type *endpoint_find_type(const char *name,
						      size_t len)
{
	size_t i;

	for (i = 0; i < N_TYPES; i++) {
		if (strlen(endpoint_types[i].name) == len &&
		    strncmp(endpoint_types[i].name, name, len) == 0) {
			return &endpoint_types[i];
		}
	}
	return NULL;
}

bool endpoint_is_type_word(const char *word)
{
	return endpoint_find_type(word, strlen(word)) != NULL;
}

/* A decimal port; NULL or the reason it is not one. */
static const char *endpoint_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0') {
		return "missing port";
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return "port must be a number from 0 to 65535";
		}
		if (v <= 65535) {
			v = v * 10 + (unsigned long)(*p - '0');
		}
	}
	if (v > 65535) {
		return "port out of range (0-65535)";
	}
	*port = (uint16_t)v;
	return NULL;
}

/* HOST:PORT, [V6]:PORT, or (listening) PORT / :PORT; NULL or the error. */
static const char *endpoint_parse_inet(TALLOC_CTX *mem_ctx, const char *s,
				       const char *type, bool listening,
				       struct endpoint *ep)
{
	const char *host_start = s, *host_end, *port_str, *err;
	const char *colon;

	if (*s == '[') {
		host_start = s + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL) {
			return "missing ']' after the IPv6 address";
		}
		if (host_end[1] == '\0') {
			return "missing port";
		}
		if (host_end[1] != ':') {
			return "expected ':PORT' after ']'";
		}
		if (host_end == host_start) {
			return "empty address in brackets";
		}
		port_str = host_end + 2;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL) {
			bool digits = *s != '\0' &&
				      strspn(s, "0123456789") == strlen(s);

			if (!listening || !digits) {
				return "missing port";
			}
			/* a bare port: every address */
			return endpoint_parse_port(s, &ep->port);
		}
		if (strchr(colon + 1, ':') != NULL) {
			return talloc_asprintf(mem_ctx,
				"put IPv6 addresses in brackets, e.g. "
				"%s:[::1]:80", type);
		}
		host_end = colon;
		port_str = colon + 1;
	}
	err = endpoint_parse_port(port_str, &ep->port);
	if (err != NULL) {
		return err;
	}
	if (host_end > host_start) {
		ep->host = talloc_strndup(ep, host_start,
					  (size_t)(host_end - host_start));
		if (ep->host == NULL) {
			return "out of memory";
		}
		if (ep->family == AF_INET && *s == '[') {
			return "IPv4 only (tcp4/udp4 or -4), but the address "
			       "is in IPv6 brackets";
		}
	} else if (!listening) {
		return "missing host";
	}
	if (ep->port == 0 && !listening) {
		return "port 0 is only valid when listening";
	}
	return NULL;
}

struct endpoint *endpoint_parse(TALLOC_CTX *mem_ctx, const char *text,
				bool listening, int family_hint,
				char **error)
{
	const struct endpoint_type *type;
	struct endpoint *ep;
	const char *colon, *rest, *err = NULL;
	struct sockaddr_un un;

	*error = NULL;
	ep = talloc_zero(mem_ctx, struct endpoint);
	if (ep == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	ep->text = talloc_strdup(ep, text);
	ep->family = family_hint;
	if (strcmp(text, "-") == 0 || strcmp(text, "stdio") == 0) {
		ep->kind = EP_STDIO;
		return ep;
	}
	colon = strchr(text, ':');
	if (colon == NULL) {
		err = endpoint_is_type_word(text)
			? "missing address after the type"
			: "unknown endpoint type (use tcp:HOST:PORT, "
			  "udp:HOST:PORT, unix:PATH, unix-dgram:PATH or stdio)";
		goto fail;
	}
	type = endpoint_find_type(text, (size_t)(colon - text));
	if (type == NULL) {
		err = talloc_asprintf(ep, "unknown endpoint type '%.*s' (use "
				      "tcp, tcp4, tcp6, udp, udp4, udp6, unix, "
				      "unix-dgram, tls or stdio)",
				      (int)(colon - text), text);
		goto fail;
	}
	ep->kind = type->kind;
	if (type->family != AF_UNSPEC) {
		ep->family = type->family;
	}
	rest = colon + 1;
	if (ep->kind == EP_UNIX || ep->kind == EP_UNIX_DGRAM) {
		if (*rest == '\0') {
			err = "missing path";
		} else if (strlen(rest) >= sizeof(un.sun_path)) {
			err = talloc_asprintf(ep, "path too long for a unix "
					      "socket (at most %zu bytes)",
					      sizeof(un.sun_path) - 1);
		} else {
			ep->path = talloc_strdup(ep, rest);
		}
	} else {
		err = endpoint_parse_inet(ep, rest, type->name, listening, ep);
	}
	if (err == NULL) {
		return ep;
	}
fail:
	*error = talloc_asprintf(mem_ctx, "endpoint '%s': %s", text, err);
	talloc_free(ep);
	return NULL;
}
