/*
 * fuzz_proxy_url.c - fuzz target for proxy_url_parse() (src/proxy_url.c)
 *
 * The input is the URL as a user would type it after --proxy (up to the
 * first NUL byte), so the seed corpus is plain text.  Checked besides
 * the sanitizers:
 *  - NULL comes with a message "bad proxy URL: ...", success with none;
 *  - a parsed URL has a host (no '/', '@' or ' ' in it), a port from 1
 *    to 65535 (1080 when the text has none), a user and password as the
 *    scheme takes them (SOCKS4: no password; SOCKS5 and HTTP: both or
 *    neither; SOCKS5: each 1 to 255 bytes), and they are the %-decoded
 *    text around the first ':' before the last '@';
 *  - the label is "TYPE proxy HOST:PORT" (HOST in brackets if it has a
 *    ':'), and the same as that of the URL without its credentials;
 *  - the scheme is compared without case, and one trailing '/' changes
 *    nothing;
 *  - the message of a failure never holds the password part of the text
 *    (between the first ':' after "://" and the last '@'), unless it is
 *    one of the parser's fixed messages that happens to contain it.
 *
 * Why not simply "the label never contains the password": the label is
 * made of the type's name, the host and the port only, so a password
 * such as "roxy", "1080" or "y h:" (across the host's edge) shows in it
 * by coincidence.  What is guaranteed is that the label depends on
 * nothing before the last '@', which is what the second label check
 * says; the same goes for the messages, which are fixed strings.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <talloc.h>
#include "proxy_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two 255-byte credentials, %-escaped, and a host: longer finds nothing. */
#define MAX_INPUT 2048

/* A password part shorter than this is too likely a coincidence. */
#define SECRET_MIN 4

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/*
 * URLs that take each of the parser's ways to fail: their messages are
 * its fixed words, the only ones a password may show up in.
 */
static const char *const failing[] = {
	"socks5", "ftp://h", "socks5://h/x", "socks5://%zz:p@h",
	"socks4://u:p@h", "socks5://u@h", "socks5://:p@h",
	"socks5://[::1", "socks5://[::1]x", "socks5://", "socks5://a b",
	"socks5://h:0",
};
#define N_FAILING (sizeof(failing) / sizeof(failing[0]))
static char *fixed_messages[N_FAILING + 1];

static void collect_fixed_messages(void)
{
	size_t i;

	if (fixed_messages[0] != NULL) {
		return;
	}
	for (i = 0; i < N_FAILING; i++) {
		char *error = NULL;

		CHECK(proxy_url_parse(NULL, failing[i], &error) == NULL);
		CHECK(error != NULL);
		fixed_messages[i] = error;	/* kept for the whole run */
	}
	/* the one that cannot be provoked */
	fixed_messages[N_FAILING] = talloc_strdup(NULL, "bad proxy URL: "
						  "out of memory");
	CHECK(fixed_messages[N_FAILING] != NULL);
}

static bool is_fixed_message(const char *error)
{
	size_t i;

	for (i = 0; i <= N_FAILING; i++) {
		if (strcmp(error, fixed_messages[i]) == 0) {
			return true;
		}
	}
	return false;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* s[0..len) %-decoded, the plain way; NULL if an escape is bad or NUL. */
static char *decode(TALLOC_CTX *mem, const char *s, size_t len)
{
	char *out = talloc_array(mem, char, len + 1);
	size_t i, n = 0;

	CHECK(out != NULL);
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (len - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0 ||
		    (hex(s[i + 1]) | hex(s[i + 2])) == 0) {
			return NULL;
		}
		out[n++] = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
		i += 2;
	}
	out[n] = '\0';
	return out;
}

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return a == b;
	}
	return strcmp(a, b) == 0;
}

/* The parts of the text the checks look at; NULL where there is none. */
struct parts {
	const char *rest;	/* after "://" */
	const char *at;		/* the last '@' in rest */
	const char *colon;	/* the first ':' in rest, before at */
};

static void split(const char *text, struct parts *p)
{
	const char *sep = strstr(text, "://");

	p->rest = sep != NULL ? sep + 3 : NULL;
	p->at = p->rest != NULL ? strrchr(p->rest, '@') : NULL;
	p->colon = NULL;
	if (p->at != NULL) {
		p->colon = memchr(p->rest, ':', (size_t)(p->at - p->rest));
	}
}

static void check_failure(const char *text, const struct parts *p,
			  const char *error)
{
	CHECK(error != NULL);
	CHECK(strncmp(error, "bad proxy URL: ", 15) == 0 && error[15] != 0);
	if (p->colon != NULL &&
	    (size_t)(p->at - p->colon - 1) >= SECRET_MIN) {
		char *secret = talloc_strndup(NULL, p->colon + 1,
					      (size_t)(p->at - p->colon - 1));

		CHECK(secret != NULL);
		CHECK(strstr(error, secret) == NULL ||
		      is_fixed_message(error));
		talloc_free(secret);
	}
}

static void check_success(TALLOC_CTX *mem, const char *text,
			  const struct parts *p, const struct proxy_url *url)
{
	const char *host_part;
	char *label, *plain, *error = NULL;
	struct proxy_url *again;
	size_t len;

	CHECK(p->rest != NULL);
	CHECK(url->host != NULL && url->host[0] != '\0');
	CHECK(strpbrk(url->host, "/@ ") == NULL);
	CHECK(url->port >= 1);
	switch (url->type) {
	case PROXY_SOCKS4:
	case PROXY_SOCKS4A:
		CHECK(url->pass == NULL);
		break;
	case PROXY_SOCKS5:
	case PROXY_SOCKS5H:
		CHECK((url->user == NULL) == (url->pass == NULL));
		if (url->user != NULL) {
			CHECK(strlen(url->user) >= 1 &&
			      strlen(url->user) <= 255);
			CHECK(strlen(url->pass) >= 1 &&
			      strlen(url->pass) <= 255);
		}
		break;
	case PROXY_HTTP:
		CHECK((url->user == NULL) == (url->pass == NULL));
		break;
	default:
		CHECK(!"a type the parser has no scheme for");
	}
	CHECK(proxy_resolves_names(url) ==
	      (url->type == PROXY_SOCKS5H || url->type == PROXY_SOCKS4A ||
	       url->type == PROXY_HTTP));

	/* the credentials are what the text says, decoded */
	CHECK((url->user != NULL) == (p->at != NULL));
	if (p->at != NULL) {
		const char *user_end = p->colon != NULL ? p->colon : p->at;

		CHECK(str_eq(url->user, decode(mem, p->rest,
					       (size_t)(user_end - p->rest))));
		CHECK((url->pass != NULL) == (p->colon != NULL));
		if (p->colon != NULL) {
			CHECK(str_eq(url->pass, decode(mem, p->colon + 1,
					(size_t)(p->at - p->colon - 1))));
		}
	}
	host_part = p->at != NULL ? p->at + 1 : p->rest;
	CHECK(strstr(host_part, url->host) != NULL);
	len = strlen(host_part);
	if (len > 0 && host_part[len - 1] == '/') {
		len--;
	}
	/* no ':' after the host (or its ']'): the default port */
	if (memchr(host_part + (host_part[0] == '[') + strlen(url->host), ':',
		   len - (host_part[0] == '[') - strlen(url->host)) == NULL) {
		CHECK(url->port == PROXY_DEFAULT_PORT);
	}

	label = talloc_asprintf(mem, strchr(url->host, ':') != NULL
				? "%s proxy [%s]:%u" : "%s proxy %s:%u",
				proxy_type_name(url->type), url->host,
				url->port);
	CHECK(label != NULL);
	CHECK(url->label != NULL && strcmp(url->label, label) == 0);

	/* the label is that of the URL without what precedes the '@' */
	plain = talloc_asprintf(mem, "%.*s%s", (int)(p->rest - text), text,
				host_part);
	CHECK(plain != NULL);
	again = proxy_url_parse(mem, plain, &error);
	CHECK(again != NULL && error == NULL);
	CHECK(again->type == url->type && again->port == url->port);
	CHECK(strcmp(again->host, url->host) == 0);
	CHECK(again->user == NULL && again->pass == NULL);
	CHECK(strcmp(again->label, url->label) == 0);
}

/* Parse and check one text; true if it parsed. */
static bool parse_checked(TALLOC_CTX *mem, const char *text,
			  struct proxy_url **out)
{
	struct parts p;
	struct proxy_url *url;
	char *error = NULL;

	split(text, &p);
	url = proxy_url_parse(mem, text, &error);
	if (url == NULL) {
		check_failure(text, &p, error);
	} else {
		CHECK(error == NULL);
		check_success(mem, text, &p, url);
	}
	*out = url;
	return url != NULL;
}

static bool same_url(const struct proxy_url *a, const struct proxy_url *b)
{
	return a->type == b->type && a->port == b->port &&
	       strcmp(a->host, b->host) == 0 && str_eq(a->user, b->user) &&
	       str_eq(a->pass, b->pass) && strcmp(a->label, b->label) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *mem;
	struct proxy_url *url, *other;
	char *text, *variant, *sep;
	size_t len, i;
	bool ok;

	if (size > MAX_INPUT) {
		return 0;
	}
	collect_fixed_messages();
	mem = talloc_new(NULL);
	CHECK(mem != NULL);
	/* the parser takes a C string: stop at the first NUL */
	len = strnlen((const char *)data, size);
	text = talloc_strndup(mem, (const char *)data, len);
	CHECK(text != NULL);
	ok = parse_checked(mem, text, &url);

	/* the scheme in upper case: the same verdict and URL */
	variant = talloc_strdup(mem, text);
	CHECK(variant != NULL);
	sep = strstr(variant, "://");
	for (i = 0; sep != NULL && variant + i < sep; i++) {
		variant[i] = (char)toupper((unsigned char)variant[i]);
	}
	CHECK(parse_checked(mem, variant, &other) == ok);
	CHECK(!ok || same_url(url, other));

	/* and with one '/' after it, if it had none */
	if (len == 0 || text[len - 1] != '/') {
		variant = talloc_asprintf(mem, "%s/", text);
		CHECK(variant != NULL);
		CHECK(parse_checked(mem, variant, &other) == ok);
		CHECK(!ok || same_url(url, other));
	}
	talloc_free(mem);
	return 0;
}
