/*
 * proxy_url.c - parsing proxy URLs
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <string.h>
#include "proxy_url.h"

static const struct {
	const char *scheme;
	enum proxy_type type;
} proxy_schemes[] = {
	{ "socks5", PROXY_SOCKS5 },
	{ "socks5h", PROXY_SOCKS5H },
	{ "socks4", PROXY_SOCKS4 },
	{ "socks4a", PROXY_SOCKS4A },
	{ "http", PROXY_HTTP },
};

const char *proxy_type_name(enum proxy_type type)
{
	switch (type) {
	case PROXY_SOCKS5:
	case PROXY_SOCKS5H:
		return "SOCKS5";
	case PROXY_SOCKS4:
	case PROXY_SOCKS4A:
		return "SOCKS4";
	case PROXY_HTTP:
		return "HTTP";
	}
	return "?";
}

bool proxy_resolves_names(const struct proxy_url *url)
{
	return url->type == PROXY_SOCKS5H || url->type == PROXY_SOCKS4A ||
	       url->type == PROXY_HTTP;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* s[0..len) with %XX decoded, on mem_ctx; NULL if an escape is bad. */
static char *percent_decode(TALLOC_CTX *mem_ctx, const char *s, size_t len)
{
	char *out = talloc_array(mem_ctx, char, len + 1);
	size_t i, n = 0;

	if (out == NULL) {
		return NULL;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len || hex_value(s[i + 1]) < 0 ||
			    hex_value(s[i + 2]) < 0) {
				goto bad;
			}
			out[n++] = (char)(hex_value(s[i + 1]) * 16 +
					  hex_value(s[i + 2]));
			if (out[n - 1] == '\0') {
				goto bad;	/* would cut the string */
			}
			i += 2;
			continue;
		}
		out[n++] = s[i];
	}
	out[n] = '\0';
	return out;
bad:
	talloc_free(out);
	return NULL;
}

/* The port at s (len bytes, digits only, 1-65535); false if not one. */
static bool parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5) {
		return false;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535) {
		return false;
	}
	*port = (uint16_t)v;
	return true;
}

/* HOST[:PORT] or [V6][:PORT] at s (len bytes) into url; NULL or why not. */
static const char *parse_host_port(struct proxy_url *url, const char *s,
				   size_t len)
{
	const char *host = s, *port = NULL;
	size_t host_len;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL) {
			return "missing ']' after the IPv6 address";
		}
		host = s + 1;
		host_len = (size_t)(close - host);
		if (close + 1 < s + len) {
			if (close[1] != ':') {
				return "expected ':PORT' after ']'";
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		host_len = colon != NULL ? (size_t)(colon - s) : len;
		if (colon != NULL) {
			port = colon + 1;
		}
	}
	if (host_len == 0) {
		return "missing proxy host";
	}
	if (memchr(host, '/', host_len) != NULL ||
	    memchr(host, '@', host_len) != NULL ||
	    memchr(host, ' ', host_len) != NULL) {
		return "bad proxy host";
	}
	url->host = talloc_strndup(url, host, host_len);
	url->port = PROXY_DEFAULT_PORT;
	if (port != NULL &&
	    !parse_port(port, (size_t)(s + len - port), &url->port)) {
		return "proxy port must be a number from 1 to 65535";
	}
	return url->host != NULL ? NULL : "out of memory";
}

struct proxy_url *proxy_url_parse(TALLOC_CTX *mem_ctx, const char *text,
				  char **error)
{
	struct proxy_url *url = talloc_zero(mem_ctx, struct proxy_url);
	const char *sep = strstr(text, "://"), *rest, *at, *end, *err;
	size_t i, scheme_len;

	if (url == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	if (sep == NULL) {
		err = "expected SCHEME://HOST:PORT with SCHEME socks5, "
		      "socks5h, socks4, socks4a or http";
		goto fail;
	}
	scheme_len = (size_t)(sep - text);
	for (i = 0; i < sizeof(proxy_schemes) / sizeof(proxy_schemes[0]);
	     i++) {
		if (strlen(proxy_schemes[i].scheme) == scheme_len &&
		    strncasecmp(text, proxy_schemes[i].scheme,
				scheme_len) == 0) {
			break;
		}
	}
	if (i == sizeof(proxy_schemes) / sizeof(proxy_schemes[0])) {
		err = "unknown proxy scheme (expected socks5, socks5h, "
		      "socks4, socks4a or http)";
		goto fail;
	}
	url->type = proxy_schemes[i].type;
	rest = sep + 3;
	end = rest + strlen(rest);
	if (end > rest && end[-1] == '/') {
		end--;		/* "http://proxy:3128/" */
	}
	if (memchr(rest, '/', (size_t)(end - rest)) != NULL) {
		err = "a proxy URL has no path";
		goto fail;
	}
	/* the last '@': a password may hold one unescaped */
	at = NULL;
	for (const char *p = rest; p < end; p++) {
		if (*p == '@') {
			at = p;
		}
	}
	if (at != NULL) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		const char *user_end = colon != NULL ? colon : at;

		url->user = percent_decode(url, rest,
					   (size_t)(user_end - rest));
		if (colon != NULL) {
			url->pass = percent_decode(url, colon + 1,
						   (size_t)(at - colon - 1));
		}
		if (url->user == NULL || (colon != NULL && url->pass == NULL)) {
			err = "bad %-escape in the proxy's user or password";
			goto fail;
		}
		if (url->type == PROXY_SOCKS4 || url->type == PROXY_SOCKS4A) {
			if (url->pass != NULL) {
				err = "SOCKS4 takes a user name but no "
				      "password";
				goto fail;
			}
		} else if (url->pass == NULL) {
			err = "a proxy user needs a password (USER:PASS@)";
			goto fail;
		}
		if (url->type == PROXY_SOCKS5 || url->type == PROXY_SOCKS5H) {
			/* RFC 1929: each is one to 255 bytes */
			if (strlen(url->user) == 0 || strlen(url->user) > 255 ||
			    strlen(url->pass) == 0 ||
			    strlen(url->pass) > 255) {
				err = "SOCKS5 user and password must each be "
				      "1 to 255 bytes";
				goto fail;
			}
		}
		rest = at + 1;
	}
	err = parse_host_port(url, rest, (size_t)(end - rest));
	if (err != NULL) {
		goto fail;
	}
	url->label = talloc_asprintf(url, strchr(url->host, ':') != NULL
				     ? "%s proxy [%s]:%u" : "%s proxy %s:%u",
				     proxy_type_name(url->type), url->host,
				     url->port);
	if (url->label == NULL) {
		err = "out of memory";
		goto fail;
	}
	return url;
fail:
	/* the text may hold a password: name only what is safe */
	*error = talloc_asprintf(mem_ctx, "bad proxy URL: %s", err);
	talloc_free(url);
	return NULL;
}
