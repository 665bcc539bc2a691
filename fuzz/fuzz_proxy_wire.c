/*
 * fuzz_proxy_wire.c - fuzz target for the SOCKS5, SOCKS4/4a and HTTP
 * CONNECT messages (src/proxy_wire.c)
 *
 * Input: the bytes one side of a proxy handshake sends.  They are read
 * as each parser's caller reads them: the proxy server's (src/
 * proxy_server.c: exact reads that grow to the total a parser asks for,
 * SOCKS4 a byte at a time after its 8 fixed bytes, HTTP a byte at a time
 * up to a header block of at most PROXY_REPLY_MAX) for a SOCKS5
 * conversation with and without credentials and for each request on its
 * own, and the client's (src/layer_proxy.c) for each kind of reply.  The
 * same bytes then give what the client builders are asked to send, which
 * the server parsers must read back.  Checked besides the sanitizers:
 *  - a parser that wants more asks for more than it has and never more
 *    than its protocol's longest message, and says the same once it has
 *    it (a SOCKS5 reply's total does not change);
 *  - a parsed request holds a host that is NUL-terminated, at most
 *    PROXY_NAME_MAX, printable, and the name or address the bytes carry,
 *    the port they encode, and NUL-terminated credentials;
 *  - a refusal is for the reason the bytes give (SOCKS5's reply code,
 *    HTTP's 405 only for another method);
 *  - client checks accept exactly the replies they should, and HTTP's
 *    message holds nothing that does not print;
 *  - what socks5_connect_request, socks5_userpass, socks4_connect_request
 *    and http_connect_request build parses back to what they were given
 *    (or is refused where the server must refuse it);
 *  - base64 encoding decodes back, and a buffer one byte short fails;
 *  - socks5_reply is as long as its ATYP says, and the client reads it
 *    back with its code.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <talloc.h>
#include "proxy_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The longest HTTP header block and a little after it. */
#define MAX_INPUT (PROXY_REPLY_MAX + 64)

/* The longest message of each protocol. */
#define SOCKS5_REQUEST_MAX (4 + 1 + 255 + 2)
#define SOCKS5_USERPASS_MAX (2 + 255 + 1 + 255)
#define SOCKS4_REQUEST_MAX (8 + (PROXY_NAME_MAX + 1) * 2)

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/* The bytes the other side sends, and how far they have been read. */
struct stream {
	const uint8_t *data;
	size_t size;
	size_t pos;
};

/*
 * What a proxy_io read does: fill in[] up to total bytes from the
 * stream; false if the stream ends first (the connection closed).
 */
static bool read_to(struct stream *s, uint8_t *in, size_t *in_len,
		    size_t total)
{
	size_t n;

	CHECK(total <= PROXY_REPLY_MAX);
	if (total <= *in_len) {
		return true;
	}
	n = total - *in_len;
	if (n > s->size - s->pos) {
		return false;
	}
	memcpy(in + *in_len, s->data + s->pos, n);
	s->pos += n;
	*in_len = total;
	return true;
}

static bool printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
			return false;
		}
	}
	return true;
}

/*
 * What the servers take as a host name: letters, digits, '-', '_' and
 * dots, no empty label (proxy_wire.c's request_name).
 */
static bool host_name_ok(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '.' || strstr(s, "..") != NULL) {
		return false;
	}
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.') {
			return false;
		}
	}
	return true;
}

/* The request as the parsers find it: junk where they write nothing. */
static void request_init(struct proxy_request *r)
{
	memset(r, 0xa5, sizeof(*r));
	r->has_credentials = false;
}

/* What every parsed request must be, whichever protocol. */
static void check_request(const struct proxy_request *r)
{
	size_t hl = strnlen(r->host, sizeof(r->host));

	CHECK(hl > 0 && hl <= PROXY_NAME_MAX);
	CHECK(printable(r->host));
	if (!r->is_name) {
		uint8_t a[16];

		CHECK(inet_pton(strchr(r->host, ':') != NULL ? AF_INET6
				: AF_INET, r->host, a) == 1);
	}
	if (r->has_credentials) {
		CHECK(strnlen(r->user, sizeof(r->user)) < sizeof(r->user));
		CHECK(strnlen(r->pass, sizeof(r->pass)) < sizeof(r->pass));
	}
}

/* The address bytes at a, as the request carries them in text. */
static bool host_is_address(const struct proxy_request *r, int family,
			    const uint8_t *a)
{
	char text[INET6_ADDRSTRLEN];

	CHECK(inet_ntop(family, a, text, sizeof(text)) != NULL);
	return !r->is_name && strcmp(r->host, text) == 0;
}

/* ------------------------------------------------------------- SOCKS5 */

/*
 * RFC 1929's request, read as the server does: 0 read, -1 refused or
 * the stream ended.
 */
static int server_userpass(struct stream *s, struct proxy_request *r)
{
	uint8_t in[PROXY_REPLY_MAX];
	size_t in_len = 0, total = 2;
	int ret, rounds = 0;

	for (;;) {
		if (!read_to(s, in, &in_len, total)) {
			return -1;
		}
		total = 0;
		ret = socks5_userpass_parse(in, in_len, &total, r);
		if (ret != 1) {
			break;
		}
		CHECK(total > in_len && total <= SOCKS5_USERPASS_MAX);
		CHECK(++rounds <= 2);	/* ULEN, then PLEN: no more */
	}
	if (ret == -1) {
		/* a bad header, or a NUL that would cut user or password */
		CHECK(in[0] != 1 || in[1] == 0 ||
		      memchr(in + 2, '\0', in[1]) != NULL ||
		      memchr(in + 3 + in[1], '\0', in[2 + in[1]]) != NULL);
		return -1;
	}
	CHECK(ret == 0);
	CHECK(in[0] == 1 && in[1] > 0);
	CHECK(in_len == 2 + (size_t)in[1] + 1 + in[2 + in[1]]);
	CHECK(r->has_credentials);
	/* no NUL in either: all of them are kept */
	CHECK(strnlen(r->user, sizeof(r->user)) == in[1]);
	CHECK(memcmp(r->user, in + 2, strlen(r->user)) == 0);
	CHECK(strnlen(r->pass, sizeof(r->pass)) == in[2 + in[1]]);
	CHECK(memcmp(r->pass, in + 3 + in[1], strlen(r->pass)) == 0);
	return 0;
}

/*
 * The CONNECT request, as the server reads it: 0 read, -1 refused
 * (*code what the reply says) or the stream ended (*code 0).
 */
static int server_request5(struct stream *s, struct proxy_request *r,
			   uint8_t *code)
{
	uint8_t in[PROXY_REPLY_MAX];
	size_t in_len = 0, total = 5;
	int ret, rounds = 0;

	for (;;) {
		if (!read_to(s, in, &in_len, total)) {
			*code = 0;
			return -1;
		}
		total = 0;
		*code = 0xee;
		ret = socks5_request_parse(in, in_len, &total, r, code);
		if (ret != 1) {
			break;
		}
		CHECK(total > in_len && total <= SOCKS5_REQUEST_MAX);
		CHECK(++rounds <= 1);	/* all lengths are in the first 5 */
	}
	if (ret == -1) {
		if (in[0] != SOCKS5_VERSION || in[2] != 0) {
			CHECK(*code == 1);
		} else if (in[1] != SOCKS5_CMD_CONNECT) {
			CHECK(*code == 7);
		} else if (in[3] != SOCKS5_ATYP_IPV4 &&
			   in[3] != SOCKS5_ATYP_IPV6 &&
			   in[3] != SOCKS5_ATYP_NAME) {
			CHECK(*code == 8);
		} else {
			/* only a name can be refused for what it is */
			CHECK(in[3] == SOCKS5_ATYP_NAME && *code == 4);
			CHECK(in_len == 4 + 1 + (size_t)in[4] + 2);
		}
		return -1;
	}
	CHECK(ret == 0);
	check_request(r);
	CHECK(in[0] == SOCKS5_VERSION && in[1] == SOCKS5_CMD_CONNECT &&
	      in[2] == 0);
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		CHECK(in_len == 10);
		CHECK(host_is_address(r, AF_INET, in + 4));
		break;
	case SOCKS5_ATYP_IPV6:
		CHECK(in_len == 22);
		CHECK(host_is_address(r, AF_INET6, in + 4));
		break;
	case SOCKS5_ATYP_NAME:
		CHECK(in_len == 4 + 1 + (size_t)in[4] + 2);
		CHECK(r->is_name && strlen(r->host) == in[4]);
		CHECK(memcmp(r->host, in + 5, in[4]) == 0);
		break;
	default:
		CHECK(!"an address type that is not one");
	}
	CHECK(r->port == (in[in_len - 2] << 8 | in[in_len - 1]));
	return 0;
}

/* A whole SOCKS5 conversation, from the greeting on. */
static void server_socks5(struct stream *s, bool with_auth)
{
	uint8_t in[PROXY_REPLY_MAX];
	uint8_t want = with_auth ? SOCKS5_AUTH_USERPASS : SOCKS5_AUTH_NONE;
	struct proxy_request r;
	size_t in_len = 0, i;
	uint8_t code;

	if (!read_to(s, in, &in_len, 2) || in[0] != SOCKS5_VERSION ||
	    in[1] == 0 || !read_to(s, in, &in_len, 2 + (size_t)in[1])) {
		return;
	}
	for (i = 2; i < in_len && in[i] != want; i++) {
	}
	if (i == in_len) {
		return;		/* no method the server takes */
	}
	request_init(&r);
	if (with_auth && server_userpass(s, &r) != 0) {
		return;
	}
	server_request5(s, &r, &code);
}

/* ------------------------------------------------------------- SOCKS4 */

/*
 * SOCKS4/4a's request, the 8 fixed bytes and then a byte at a time:
 * 0 read, -1 refused, 1 the stream ended first; *len what was read.
 */
static int server_request4(struct stream *s, struct proxy_request *r,
			   size_t *len)
{
	uint8_t in[PROXY_REPLY_MAX];
	size_t in_len = 0, total = 8;
	const uint8_t *user_end;
	bool is_4a;
	int ret;

	for (;;) {
		if (!read_to(s, in, &in_len, total)) {
			*len = in_len;
			return 1;
		}
		ret = socks4_request_parse(in, in_len, r);
		if (ret != 1) {
			break;
		}
		CHECK(in_len < SOCKS4_REQUEST_MAX);
		total = in_len + 1;
	}
	*len = in_len;
	is_4a = in[4] == 0 && in[5] == 0 && in[6] == 0 && in[7] != 0;
	user_end = in_len > 8 ? memchr(in + 8, '\0', in_len - 8) : NULL;
	if (ret == -1) {
		/*
		 * Not a CONNECT, a user id or name too long, or (only
		 * SOCKS4a's, once it ends) a name that is not one
		 */
		CHECK(in[0] != 4 || in[1] != 1 ||
		      (user_end == NULL && in_len - 8 > PROXY_NAME_MAX) ||
		      (is_4a && user_end != NULL));
		return -1;
	}
	CHECK(ret == 0);
	check_request(r);
	CHECK(in[0] == 4 && in[1] == 1);
	CHECK(r->port == (in[2] << 8 | in[3]));
	/* nothing read past the request's last NUL */
	CHECK(in_len > 8 && in[in_len - 1] == '\0');
	CHECK(user_end != NULL && user_end - (in + 8) <= PROXY_NAME_MAX);
	CHECK(strcmp(r->user, (const char *)in + 8) == 0);
	if (is_4a) {
		CHECK(user_end + 1 < in + in_len);
		CHECK(r->is_name);
		CHECK(strcmp(r->host, (const char *)user_end + 1) == 0);
		CHECK(user_end + 1 + strlen(r->host) == in + in_len - 1);
	} else {
		CHECK(user_end == in + in_len - 1);
		CHECK(host_is_address(r, AF_INET, in + 4));
	}
	return 0;
}

/* ------------------------------------------------------------- HTTP */

/*
 * Read a header block as proxy_io does, a byte at a time until it ends
 * one: its length, or 0 if the stream ends first or it would not fit.
 */
static size_t read_head(struct stream *s, uint8_t *in)
{
	size_t in_len = 0;

	for (;;) {
		if (http_head_complete(in, in_len)) {
			CHECK(in_len >= 2 && in[in_len - 1] == '\n');
			return in_len;
		}
		if (in_len == PROXY_REPLY_MAX) {
			return 0;
		}
		if (!read_to(s, in, &in_len, in_len + 1)) {
			return 0;
		}
	}
}

/* The request line's target, split as HTTP says: host and port text. */
static bool split_target(const uint8_t *in, size_t len, char *host,
			 size_t host_size, unsigned long *port)
{
	const char *s = (const char *)in;
	const char *eol = memchr(s, '\n', len), *sp1, *sp2, *colon, *h;
	size_t hl;
	char *end;

	if (eol == NULL || (sp1 = memchr(s, ' ', (size_t)(eol - s))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL) {
		return false;
	}
	h = sp1 + 1;
	for (colon = sp2 - 1; colon > h && *colon != ':'; colon--) {
	}
	if (colon <= h) {
		return false;
	}
	if (h[0] == '[') {
		/* "[v6]:port": the ']' right before the last ':' */
		if (colon[-1] != ']') {
			return false;
		}
		h++;
		hl = (size_t)(colon - 1 - h);
	} else {
		hl = (size_t)(colon - h);
	}
	if (hl >= host_size || colon + 1 == sp2) {
		return false;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = strtoul(colon + 1, &end, 10);
	return end == sp2;
}

static void server_http(struct stream *s)
{
	uint8_t in[PROXY_REPLY_MAX];
	struct proxy_request r;
	size_t len = read_head(s, in);
	int status = 0, ret;
	char host[PROXY_REPLY_MAX];
	unsigned long port;
	const uint8_t *sp;

	if (len == 0) {
		return;
	}
	request_init(&r);
	ret = http_request_parse(in, len, &r, &status);
	sp = memchr(in, ' ', len);
	if (ret == -1) {
		CHECK(status == 400 || status == 405);
		if (status == 405) {
			CHECK(sp != NULL &&
			      ((size_t)(sp - in) != 7 ||
			       memcmp(in, "CONNECT", 7) != 0));
		}
		return;
	}
	CHECK(ret == 0);
	check_request(&r);
	CHECK(len > 8 && memcmp(in, "CONNECT ", 8) == 0);
	/* a target with a NUL is refused, so this one has none */
	sp = memchr(in + 8, ' ', len - 8);
	CHECK(sp != NULL && memchr(in + 8, '\0', (size_t)(sp - in - 8)) == NULL);
	CHECK(split_target(in, len, host, sizeof(host), &port));
	CHECK(r.port == port);
	if (r.is_name) {
		CHECK(strcmp(r.host, host) == 0);
	} else {
		uint8_t a[16];
		int family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;

		CHECK(inet_pton(family, host, a) == 1);
		CHECK(host_is_address(&r, family, a));
	}
	if (r.has_credentials) {
		CHECK(strchr(r.user, ':') == NULL);
	}
}

/* ------------------------------------------------------- the client */

static void client_socks5_method(const uint8_t *data, size_t size)
{
	const char *why;

	if (size < 2) {
		return;
	}
	why = socks5_check_method(data, false);
	CHECK((why == NULL) == (data[0] == 5 && data[1] == SOCKS5_AUTH_NONE));
	why = socks5_check_method(data, true);
	CHECK((why == NULL) ==
	      (data[0] == 5 && data[1] == SOCKS5_AUTH_USERPASS));
}

/* The reply to CONNECT: 5 bytes, then up to the total they say. */
static void client_socks5_reply(struct stream *s)
{
	uint8_t in[PROXY_REPLY_MAX];
	size_t in_len = 0, total = 0, again = 0;
	const char *why;

	if (!read_to(s, in, &in_len, 5)) {
		return;
	}
	why = socks5_check_reply(in, in_len, &total);
	if (why != NULL) {
		CHECK(in[0] != SOCKS5_VERSION || in[1] != 0 ||
		      (in[3] != SOCKS5_ATYP_IPV4 && in[3] != SOCKS5_ATYP_IPV6 &&
		       in[3] != SOCKS5_ATYP_NAME));
		if (in[0] == SOCKS5_VERSION && in[1] != 0) {
			CHECK(strcmp(why, socks5_reply_text(in[1])) == 0);
		}
		return;
	}
	CHECK(in[0] == SOCKS5_VERSION && in[1] == 0);
	CHECK(total >= in_len && total <= SOCKS5_REQUEST_MAX);
	CHECK(total == (in[3] == SOCKS5_ATYP_IPV4 ? 10
			: in[3] == SOCKS5_ATYP_IPV6 ? 22 : 7 + (size_t)in[4]));
	if (!read_to(s, in, &in_len, total)) {
		return;
	}
	CHECK(socks5_check_reply(in, in_len, &again) == NULL);
	CHECK(again == total);
}

static void client_socks4_reply(const uint8_t *data, size_t size)
{
	if (size < SOCKS4_REPLY_LEN) {
		return;
	}
	CHECK((socks4_check_reply(data) == NULL) ==
	      (data[0] == 0 && data[1] == 0x5a));
}

static void client_http_reply(struct stream *s)
{
	uint8_t in[PROXY_REPLY_MAX];
	size_t len = read_head(s, in), i;
	char *why;

	if (len == 0) {
		return;
	}
	why = http_check_reply(NULL, in, len);
	if (why == NULL) {
		CHECK(len >= 12 && memcmp(in, "HTTP/1.", 7) == 0 &&
		      in[8] == ' ' && in[9] == '2');
		return;
	}
	CHECK(strncmp(why, "HTTP ", 5) == 0 ||
	      strcmp(why, "not an HTTP reply") == 0);
	/* the proxy's reason, cut and made printable */
	CHECK(strlen(why) < 300);
	for (i = 0; why[i] != '\0'; i++) {
		CHECK(why[i] >= 0x20 && why[i] < 0x7f);
	}
	talloc_free(why);
}

/* ------------------------------------------------------ round trips */

/* What to build, carved from the input. */
struct params {
	uint16_t port;
	uint8_t sel;
	const char *host;	/* NUL-terminated pieces of a copy */
	const char *user;
	const char *pass;
	uint8_t addr[16];
};

/* "Host-like": what every parser takes as a name, whatever its rules. */
static bool plain_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= PROXY_NAME_MAX && host_name_ok(s);
}

static void round_trip_socks5(const struct params *p)
{
	uint8_t out[PROXY_REQUEST_MAX];
	struct proxy_request r;
	struct stream s = { .data = out };
	size_t hl = strlen(p->host);
	int family = p->sel % 3 == 0 ? AF_INET : p->sel % 3 == 1 ? AF_INET6
								 : 0;
	uint8_t code = 0;
	int ret;

	/*
	 * socks5_connect_request trusts its caller with the name's length:
	 * the layer refuses names over 255 bytes (layer_proxy.c, hop_talk).
	 */
	if (family == 0 && hl > PROXY_NAME_MAX) {
		return;
	}
	s.size = socks5_connect_request(out, family, p->addr, p->host,
					p->port);
	CHECK(s.size == (family == AF_INET ? 10 : family == AF_INET6 ? 22
			 : 7 + hl));
	request_init(&r);
	ret = server_request5(&s, &r, &code);
	CHECK(s.pos == s.size);
	if (family == 0 && (hl == 0 || !host_name_ok(p->host))) {
		CHECK(ret == -1 && code == 4);
		return;
	}
	CHECK(ret == 0);
	CHECK(r.port == p->port);
	if (family != 0) {
		CHECK(host_is_address(&r, family, p->addr));
	} else {
		CHECK(r.is_name && strcmp(r.host, p->host) == 0);
	}

	/* the credentials, as RFC 1929 limits them */
	if (strlen(p->user) < 1 || strlen(p->user) > 255 ||
	    strlen(p->pass) < 1 || strlen(p->pass) > 255) {
		return;
	}
	s.size = socks5_userpass(out, p->user, p->pass);
	s.pos = 0;
	CHECK(s.size == 3 + strlen(p->user) + strlen(p->pass));
	request_init(&r);
	CHECK(server_userpass(&s, &r) == 0);
	CHECK(s.pos == s.size);
	CHECK(strcmp(r.user, p->user) == 0 && strcmp(r.pass, p->pass) == 0);
}

static void round_trip_socks4(const struct params *p)
{
	uint8_t out[PROXY_REQUEST_MAX];
	struct proxy_request r;
	struct stream s = { .data = out };
	bool by_name = p->sel & 1;
	size_t ul = strlen(p->user), hl = strlen(p->host), len = 0;
	int ret;

	/*
	 * socks4_connect_request trusts its caller too: the layer refuses
	 * user ids and names over 255 bytes each (layer_proxy.c, hop_talk).
	 */
	if (8 + ul + 1 + (by_name ? hl + 1 : 0) > PROXY_REQUEST_MAX) {
		return;
	}
	/* 0.0.0.x, x not 0, is SOCKS4a's "a name follows": not an address */
	if (!by_name && p->addr[0] == 0 && p->addr[1] == 0 &&
	    p->addr[2] == 0 && p->addr[3] != 0) {
		return;
	}
	s.size = socks4_connect_request(out, by_name ? NULL : p->addr,
					p->host, p->port, p->user);
	CHECK(s.size == 8 + ul + 1 + (by_name ? hl + 1 : 0));
	request_init(&r);
	ret = server_request4(&s, &r, &len);
	if (ul > PROXY_NAME_MAX || (by_name && (hl == 0 ||
			hl > PROXY_NAME_MAX || !host_name_ok(p->host)))) {
		CHECK(ret == -1);	/* longer than the server takes */
		return;
	}
	CHECK(len == s.size);
	CHECK(ret == 0);
	CHECK(r.port == p->port && strcmp(r.user, p->user) == 0);
	if (by_name) {
		CHECK(r.is_name && strcmp(r.host, p->host) == 0);
	} else {
		CHECK(host_is_address(&r, AF_INET, p->addr));
	}
}

static void round_trip_http(const struct params *p)
{
	char out[PROXY_REQUEST_MAX];
	uint8_t head[PROXY_REPLY_MAX];
	struct proxy_request r;
	struct stream s = { .data = (const uint8_t *)out };
	bool with_auth = p->sel & 1;
	const char *user = with_auth ? p->user : NULL;
	ssize_t n;
	int status = 0;
	uint8_t a[16];

	n = http_connect_request(out, sizeof(out), p->host, p->port, user,
				 p->pass);
	if (n == -1) {
		/* only what cannot fit */
		CHECK(strlen(p->host) + 8 >= 300 ||
		      (user != NULL && strlen(user) + strlen(p->pass) + 1 >=
		       520));
		return;
	}
	CHECK(n > 0 && (size_t)n == strlen(out));
	/* a short buffer is -1, never a cut request */
	CHECK(http_connect_request(out, (size_t)n, p->host, p->port, user,
				   p->pass) == -1);
	n = http_connect_request(out, sizeof(out), p->host, p->port, user,
				 p->pass);
	/*
	 * The builder takes the host as its caller gives it (the layer: a
	 * name from the command line or the next proxy's URL): a name that
	 * is not one would make another request line.
	 */
	if (!plain_name(p->host)) {
		return;
	}
	s.size = (size_t)n;
	CHECK(read_head(&s, head) == (size_t)n);
	if (p->port == 0 ||
	    (user != NULL && (strchr(user, ':') != NULL ||
			      strlen(user) > 255 || strlen(p->pass) > 255))) {
		return;		/* what the server need not take back */
	}
	request_init(&r);
	CHECK(http_request_parse((const uint8_t *)out, (size_t)n, &r,
				 &status) == 0);
	check_request(&r);
	CHECK(r.port == p->port);
	if (inet_pton(AF_INET, p->host, a) == 1) {
		CHECK(host_is_address(&r, AF_INET, a));
	} else if (inet_pton(AF_INET6, p->host, a) == 1) {
		CHECK(host_is_address(&r, AF_INET6, a));
	} else {
		CHECK(r.is_name && strcmp(r.host, p->host) == 0);
	}
	CHECK(r.has_credentials == (user != NULL));
	if (user != NULL) {
		CHECK(strcmp(r.user, user) == 0);
		CHECK(strcmp(r.pass, p->pass) == 0);
	}
}

/*
 * The input as parameters: port (2 bytes), a selector, 16 address
 * bytes, then host, user and pass separated by NULs.
 */
static void round_trips(TALLOC_CTX *mem, const uint8_t *data, size_t size)
{
	struct params p;
	char *copy, *cur, *end;

	if (size < 19) {
		return;
	}
	p.port = (uint16_t)(data[0] << 8 | data[1]);
	p.sel = data[2];
	memcpy(p.addr, data + 3, 16);
	copy = talloc_size(mem, size - 19 + 3);
	CHECK(copy != NULL);
	memcpy(copy, data + 19, size - 19);
	/* three NULs after it, so each piece ends */
	memset(copy + size - 19, 0, 3);
	end = copy + size - 19 + 2;
	cur = copy;
	p.host = cur;
	cur += strlen(cur) + 1;
	p.user = cur;
	cur += cur < end ? strlen(cur) + 1 : 0;
	p.pass = cur;
	round_trip_socks5(&p);
	round_trip_socks4(&p);
	round_trip_http(&p);
}

/* ------------------------------------------------------ the rest */

static void check_base64(TALLOC_CTX *mem, const uint8_t *data, size_t size)
{
	size_t len = size < 1024 ? size : 1024, elen;
	char *enc = talloc_size(mem, 4 * ((len + 2) / 3) + 1);
	uint8_t *dec = talloc_size(mem, len + 1), *again;
	ssize_t n, m;
	size_t i, valid;

	CHECK(enc != NULL && dec != NULL);
	base64_encode(enc, data, len);
	elen = strlen(enc);
	CHECK(elen == 4 * ((len + 2) / 3));
	n = base64_decode(dec, len, enc, elen);
	CHECK(n == (ssize_t)len && memcmp(dec, data, len) == 0);
	if (len > 0) {
		CHECK(base64_decode(dec, len - 1, enc, elen) == -1);
	}

	/* the input as Base64 text: what decodes encodes and decodes again */
	n = base64_decode(dec, len, (const char *)data, len);
	if (n < 0) {
		return;
	}
	for (valid = len; valid > 0 && data[valid - 1] == '='; valid--) {
	}
	for (i = 0; i < valid; i++) {
		CHECK(data[i] != '=');
	}
	CHECK((size_t)n == valid * 6 / 8);
	enc = talloc_size(mem, 4 * (((size_t)n + 2) / 3) + 1);
	again = talloc_size(mem, (size_t)n + 1);
	CHECK(enc != NULL && again != NULL);
	base64_encode(enc, dec, (size_t)n);
	m = base64_decode(again, (size_t)n, enc, strlen(enc));
	CHECK(m == n && memcmp(again, dec, (size_t)n) == 0);
}

static void check_socks5_reply(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	const struct sockaddr *bound = (const struct sockaddr *)&ss;
	uint8_t out[PROXY_REQUEST_MAX], code;
	size_t n, total = 0;
	const char *why;

	if (size < 2) {
		return;
	}
	code = data[0];
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, data + 2, size - 2 < sizeof(ss) ? size - 2 : sizeof(ss));
	switch (data[1] & 3) {
	case 0:
		ss.ss_family = AF_INET;
		break;
	case 1:
		ss.ss_family = AF_INET6;
		break;
	case 2:
		ss.ss_family = AF_UNIX;	/* a unix client's back end: none */
		break;
	default:
		bound = NULL;
	}
	memset(out, 0xa5, sizeof(out));
	n = socks5_reply(out, code, bound);
	CHECK(out[0] == SOCKS5_VERSION && out[1] == code && out[2] == 0);
	if (bound != NULL && ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;

		CHECK(n == 22 && out[3] == SOCKS5_ATYP_IPV6);
		CHECK(memcmp(out + 4, &s6->sin6_addr, 16) == 0);
		CHECK(memcmp(out + 20, &s6->sin6_port, 2) == 0);
	} else {
		CHECK(n == 10 && out[3] == SOCKS5_ATYP_IPV4);
		if (bound != NULL && ss.ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)&ss;

			CHECK(memcmp(out + 4, &s4->sin_addr, 4) == 0);
			CHECK(memcmp(out + 8, &s4->sin_port, 2) == 0);
		} else {
			CHECK(memcmp(out + 4, "\0\0\0\0\0\0", 6) == 0);
		}
	}
	CHECK(out[n] == 0xa5);		/* not a byte more */
	why = socks5_check_reply(out, n, &total);
	if (code == 0) {
		CHECK(why == NULL && total == n);
	} else {
		CHECK(why != NULL && strcmp(why, socks5_reply_text(code)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *mem;
	struct proxy_request r;
	struct stream s;
	uint8_t code;
	size_t len;

	if (size > MAX_INPUT) {
		return 0;
	}
	mem = talloc_new(NULL);
	CHECK(mem != NULL);

	/* the server: whole conversations, then each request on its own */
	s = (struct stream){ .data = data, .size = size };
	server_socks5(&s, false);
	s.pos = 0;
	server_socks5(&s, true);
	s.pos = 0;
	request_init(&r);
	server_request5(&s, &r, &code);
	s.pos = 0;
	request_init(&r);
	server_userpass(&s, &r);
	s.pos = 0;
	request_init(&r);
	server_request4(&s, &r, &len);
	s.pos = 0;
	server_http(&s);

	/* the client */
	client_socks5_method(data, size);
	s.pos = 0;
	client_socks5_reply(&s);
	client_socks4_reply(data, size);
	s.pos = 0;
	client_http_reply(&s);

	round_trips(mem, data, size);
	check_base64(mem, data, size);
	check_socks5_reply(data, size);
	talloc_free(mem);
	return 0;
}
