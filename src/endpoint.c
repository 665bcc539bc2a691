/*
 * endpoint.c - parsing KIND:ADDRESS[,NAME=VALUE]... and preparing layers
 *
 * What the ADDRESS means is the kind's business (kind_*.c); this file
 * finds the kind in the table, splits off the options, checks that each
 * applies to the kind and the role, and applies them over the defaults.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include "endpoint.h"
#include "endpoint_options.h"
#include "layer.h"
#include "layer_proxy.h"
#include "layer_proxy_protocol.h"
#include "parse.h"
#include "proxy_url.h"

const char *endpoint_kind_name(const struct endpoint *ep)
{
	return ep->kind->name;
}

/*
 * Where the options start in an address: at the first comma followed by
 * NAME= or by a flag's name on its own (see endpoint_options.h).  A
 * comma written "\," is part of the address.  NULL if there are none.
 */
static const char *endpoint_options_start(const char *text)
{
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == ',') {
			p++;
			continue;
		}
		if (*p == ',' && endpoint_option_starts(p + 1)) {
			return p;
		}
	}
	return NULL;
}

/*
 * text with the credentials of any proxy URL in it (via=SCHEME://USER:
 * PASS@HOST) written "***": what messages and -v may show of it.
 */
static char *endpoint_masked(TALLOC_CTX *mem_ctx, const char *text)
{
	char *out = talloc_strdup(mem_ctx, "");
	const char *p = text, *sep;

	while (out != NULL && (sep = strstr(p, "://")) != NULL) {
		const char *user = sep + 3;
		size_t span = strcspn(user, ",/");
		const char *at = NULL, *q;

		for (q = user; q < user + span; q++) {
			if (*q == '@') {
				at = q;		/* the last: see proxy_url.c */
			}
		}
		if (at == NULL) {
			out = talloc_strndup_append(out, p,
						    (size_t)(user - p));
			p = user;
			continue;
		}
		out = talloc_asprintf_append(out, "%.*s***", (int)(user - p), p);
		p = at;
	}
	return out != NULL ? talloc_strdup_append(out, p) : NULL;
}

/* The proxy chain of ep's settings, parsed; NULL or why not. */
static const char *endpoint_parse_proxies(struct endpoint *ep)
{
	const char *const *urls = ep->set.proxies;
	char *error = NULL;
	size_t i, n = 0;

	while (urls != NULL && urls[n] != NULL) {
		n++;
	}
	if (n == 0) {
		return NULL;
	}
	ep->proxy_urls = talloc_zero_array(ep, struct proxy_url *, n);
	if (ep->proxy_urls == NULL) {
		return "out of memory";
	}
	for (i = 0; i < n; i++) {
		ep->proxy_urls[i] = proxy_url_parse(ep, urls[i], &error);
		if (ep->proxy_urls[i] == NULL) {
			return error;
		}
	}
	ep->n_proxies = n;
	return NULL;
}

struct endpoint *endpoint_parse(TALLOC_CTX *mem_ctx, const char *text,
				bool listening, int family_hint,
				const struct endpoint_settings *defaults,
				char **error)
{
	const struct endpoint_kind *kind;
	struct endpoint *ep;
	const char *colon, *opts, *err = NULL;
	char *address;
	size_t name_len, addr_len;
	int family = AF_UNSPEC;

	*error = NULL;
	ep = talloc_zero(mem_ctx, struct endpoint);
	if (ep == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	ep->text = endpoint_masked(ep, text);
	ep->family = family_hint;
	ep->fd = -1;
	ep->listening = listening;
	ep->set = *defaults;

	/* the kind's name ends at the first ':' or ',' */
	name_len = strcspn(text, ":,");
	colon = text[name_len] == ':' ? text + name_len : NULL;
	kind = endpoint_kind_find(text, name_len, &family);
	/*
	 * Where its options start.  A kind that takes none has none: what
	 * follows the colon is all address (a command line of exec: or
	 * sh: may well hold ",x=y").
	 */
	opts = kind == NULL ? NULL
	       : colon == NULL ? (text[name_len] == ',' ? text + name_len
							: NULL)
	       : kind->options != 0 ? endpoint_options_start(colon + 1)
	       : NULL;
	if (kind == NULL) {
		err = talloc_asprintf(ep, "unknown endpoint type '%.*s': "
				      "expected one of %s", (int)name_len,
				      text, endpoint_kind_list());
		goto fail;
	}
	ep->kind = kind;
	ep->carries = kind->carries;
	if (family != AF_UNSPEC) {
		ep->family = family;
	}
	if (kind->no_address && colon != NULL) {
		err = talloc_asprintf(ep, "%s takes no address", kind->name);
		goto fail;
	}
	if (!kind->no_address && !kind->address_optional && colon == NULL) {
		err = talloc_asprintf(ep, "missing address after the type "
				      "(%s)", kind->syntax);
		goto fail;
	}
	if (!(kind->roles & (listening ? KIND_LISTENS : KIND_CONNECTS))) {
		err = talloc_asprintf(ep, "%s endpoints cannot %s",
				      kind->name,
				      listening ? "listen" : "be connected to");
		goto fail;
	}
	/* first: a kind's parser may check its address against them */
	if (opts != NULL) {
		err = endpoint_options_apply(ep, opts + 1);
		if (err != NULL) {
			goto fail;
		}
	}
	if (!kind->no_address) {
		const char *start = colon != NULL ? colon + 1 : text + name_len;

		addr_len = opts != NULL ? (size_t)(opts - start)
					: strlen(start);
		address = endpoint_unescape(ep, start, addr_len);
		if (address == NULL) {
			err = "out of memory";
			goto fail;
		}
		err = kind->parse(ep, address, listening);
		if (err != NULL) {
			goto fail;
		}
	}
	if (!listening && (kind->options & KIND_OPT_PROXY)) {
		err = endpoint_parse_proxies(ep);
		if (err != NULL) {
			goto fail;
		}
	}
	return ep;
fail:
	*error = talloc_asprintf(mem_ctx, "endpoint '%s': %s",
				 ep->text != NULL ? ep->text : "", err);
	talloc_free(ep);
	return NULL;
}

struct endpoint *endpoint_tcp(TALLOC_CTX *mem_ctx, const char *host,
			      uint16_t port, int family,
			      const struct endpoint_settings *set,
			      char **error)
{
	extern const struct endpoint_kind kind_tcp;
	struct endpoint *ep = talloc_zero(mem_ctx, struct endpoint);
	const char *err;

	if (ep == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	ep->kind = &kind_tcp;
	ep->carries = CARRIES_BYTES;
	ep->family = family;
	ep->host = talloc_strdup(ep, host);
	ep->port = port;
	ep->fd = -1;
	ep->set = *set;
	ep->text = talloc_asprintf(ep, strchr(host, ':') != NULL
				   ? "tcp:[%s]:%u" : "tcp:%s:%u", host, port);
	if (ep->host == NULL || ep->text == NULL) {
		err = "out of memory";
		goto fail;
	}
	err = endpoint_parse_proxies(ep);
	if (err != NULL) {
		goto fail;
	}
	return ep;
fail:
	*error = talloc_strdup(mem_ctx, err);
	talloc_free(ep);
	return NULL;
}

/*
 * The tcp endpoint of ep's first proxy: what the transport connects to
 * (ep's settings, but no proxies of its own: its timeout, its family).
 */
static struct endpoint *endpoint_first_proxy(struct endpoint *ep)
{
	struct endpoint_settings set = ep->set;
	char *error = NULL;

	set.proxies = NULL;
	return endpoint_tcp(ep, ep->proxy_urls[0]->host,
			    ep->proxy_urls[0]->port, ep->family, &set, &error);
}

/* Hop i of ep's chain: proxy i, asked for proxy i+1 or for ep. */
static struct proxy_hop *endpoint_hop(struct endpoint *ep, size_t i)
{
	struct proxy_hop *hop = talloc_zero(ep, struct proxy_hop);

	if (hop == NULL) {
		return NULL;
	}
	hop->url = ep->proxy_urls[i];
	hop->family = ep->family;
	if (i + 1 < ep->n_proxies) {
		hop->target_host = ep->proxy_urls[i + 1]->host;
		hop->target_port = ep->proxy_urls[i + 1]->port;
	} else {
		hop->target_host = ep->host;
		hop->target_port = ep->port;
	}
	return hop;
}

/* The PROXY protocol's layer ep's settings ask for, if any. */
static const struct layer *endpoint_header_layer(const struct endpoint *ep)
{
	if (!endpoint_is_stream(ep) ||
	    !(ep->kind->options & KIND_OPT_PROXY_HEADER)) {
		return NULL;
	}
	if (ep->listening) {
		return ep->set.accept_proxy ? &layer_accept_proxy : NULL;
	}
	return ep->set.send_proxy != 0 ? &layer_send_proxy : NULL;
}

int endpoint_prepare(struct endpoint *ep, char **error)
{
	const struct layer *header = endpoint_header_layer(ep);
	size_t i, n = 0, k = 0, h = header != NULL ? 1 : 0;
	int status;

	while (ep->kind->layers != NULL && ep->kind->layers[k] != NULL) {
		k++;
	}
	/* proxy hops, then the PROXY header (to BACK, or from a client), */
	/* then the kind's (TLS): haproxy's order */
	n = ep->n_proxies + h + k;
	if (n == 0) {
		return 0;
	}
	ep->layers = talloc_zero_array(ep, const struct layer *, n + 1);
	ep->layer_state = talloc_zero_array(ep, void *, n + 1);
	if (ep->layers == NULL || ep->layer_state == NULL) {
		goto nomem;
	}
	if (ep->n_proxies > 0) {
		ep->via = endpoint_first_proxy(ep);
		if (ep->via == NULL) {
			goto nomem;
		}
	}
	for (i = 0; i < ep->n_proxies; i++) {
		ep->layers[i] = &layer_proxy;
		ep->layer_state[i] = endpoint_hop(ep, i);
		if (ep->layer_state[i] == NULL) {
			goto nomem;
		}
	}
	if (header != NULL) {
		ep->layers[ep->n_proxies] = header;
	}
	for (i = 0; i < k; i++) {
		const struct layer *l = ep->kind->layers[i];
		size_t at = ep->n_proxies + h + i;

		ep->layers[at] = l;
		if (l->prepare == NULL) {
			continue;
		}
		status = l->prepare(ep, ep, &ep->layer_state[at], error);
		if (status != 0) {
			return status;
		}
	}
	return 0;
nomem:
	*error = talloc_strdup(ep, "out of memory");
	return 1;
}
