/*
 * proxy_wire.c - SOCKS and HTTP CONNECT messages
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include "proxy_wire.h"

size_t socks5_greeting(uint8_t *out, bool with_auth)
{
	out[0] = SOCKS5_VERSION;
	out[1] = 1;
	/*
	 * Only the method we mean: offering "none" too would let a proxy
	 * skip the credentials we were told to give.
	 */
	out[2] = with_auth ? SOCKS5_AUTH_USERPASS : SOCKS5_AUTH_NONE;
	return 3;
}

const char *socks5_check_method(const uint8_t *in, bool with_auth)
{
	if (in[0] != SOCKS5_VERSION) {
		return "not a SOCKS5 proxy (bad version in its reply)";
	}
	if (in[1] == SOCKS5_AUTH_REFUSED) {
		return with_auth ? "no acceptable authentication method (it "
				   "does not take a user and password)"
				 : "no acceptable authentication method (it "
				   "wants credentials: socks5://USER:PASS@...)";
	}
	if (in[1] != (with_auth ? SOCKS5_AUTH_USERPASS : SOCKS5_AUTH_NONE)) {
		return "chose an authentication method that was not offered";
	}
	return NULL;
}

size_t socks5_userpass(uint8_t *out, const char *user, const char *pass)
{
	size_t ul = strlen(user), pl = strlen(pass), n = 0;

	out[n++] = 1;		/* the subnegotiation's version */
	out[n++] = (uint8_t)ul;
	memcpy(out + n, user, ul);
	n += ul;
	out[n++] = (uint8_t)pl;
	memcpy(out + n, pass, pl);
	return n + pl;
}

size_t socks5_connect_request(uint8_t *out, int family, const uint8_t *addr,
			      const char *host, uint16_t port)
{
	size_t n = 0, hl;

	out[n++] = SOCKS5_VERSION;
	out[n++] = SOCKS5_CMD_CONNECT;
	out[n++] = 0;
	if (family == AF_INET) {
		out[n++] = SOCKS5_ATYP_IPV4;
		memcpy(out + n, addr, 4);
		n += 4;
	} else if (family == AF_INET6) {
		out[n++] = SOCKS5_ATYP_IPV6;
		memcpy(out + n, addr, 16);
		n += 16;
	} else {
		hl = strlen(host);
		out[n++] = SOCKS5_ATYP_NAME;
		out[n++] = (uint8_t)hl;
		memcpy(out + n, host, hl);
		n += hl;
	}
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return n;
}

const char *socks5_reply_text(uint8_t code)
{
	switch (code) {
	case 0:
		return "succeeded";
	case 1:
		return "general SOCKS server failure";
	case 2:
		return "connection not allowed by ruleset";
	case 3:
		return "network unreachable";
	case 4:
		return "host unreachable";
	case 5:
		return "connection refused by destination host";
	case 6:
		return "TTL expired";
	case 7:
		return "command not supported";
	case 8:
		return "address type not supported";
	}
	return "unknown SOCKS5 reply code";
}

const char *socks5_check_reply(const uint8_t *in, size_t len, size_t *total)
{
	if (len < 5) {
		return "short reply";
	}
	if (in[0] != SOCKS5_VERSION) {
		return "not a SOCKS5 reply (bad version)";
	}
	if (in[1] != 0) {
		return socks5_reply_text(in[1]);
	}
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		*total = 4 + 4 + 2;
		return NULL;
	case SOCKS5_ATYP_IPV6:
		*total = 4 + 16 + 2;
		return NULL;
	case SOCKS5_ATYP_NAME:
		*total = 4 + 1 + in[4] + 2;
		return NULL;
	}
	return "malformed reply (unknown address type)";
}

size_t socks4_connect_request(uint8_t *out, const uint8_t *addr4,
			      const char *host, uint16_t port,
			      const char *user)
{
	size_t n = 0, l;

	out[n++] = 4;
	out[n++] = 1;		/* CONNECT */
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	if (addr4 != NULL) {
		memcpy(out + n, addr4, 4);
	} else {
		/* SOCKS4a: 0.0.0.x with x not 0 says "a name follows" */
		memcpy(out + n, "\0\0\0\1", 4);
	}
	n += 4;
	l = strlen(user) + 1;
	memcpy(out + n, user, l);
	n += l;
	if (addr4 == NULL) {
		l = strlen(host) + 1;
		memcpy(out + n, host, l);
		n += l;
	}
	return n;
}

const char *socks4_check_reply(const uint8_t *in)
{
	if (in[0] != 0) {
		return "not a SOCKS4 reply (bad version)";
	}
	switch (in[1]) {
	case 0x5a:
		return NULL;
	case 0x5b:
		return "request rejected or failed";
	case 0x5c:
		return "request rejected: the proxy cannot reach our identd";
	case 0x5d:
		return "request rejected: identd reports a different user";
	}
	return "malformed reply (unknown reply code)";
}

void base64_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*out++ = digits[in[i] >> 2];
		*out++ = digits[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = digits[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*out++ = digits[in[i + 2] & 63];
	}
	if (i < len) {
		*out++ = digits[in[i] >> 2];
		if (i + 1 < len) {
			*out++ = digits[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*out++ = digits[(in[i + 1] & 15) << 2];
		} else {
			*out++ = digits[(in[i] & 3) << 4];
			*out++ = '=';
		}
		*out++ = '=';
	}
	*out = '\0';
}

ssize_t http_connect_request(char *buf, size_t size, const char *host,
			     uint16_t port, const char *user,
			     const char *pass)
{
	const char *fmt = strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u";
	char target[300], cred[520], b64[700], auth[760] = "";
	int n;

	n = snprintf(target, sizeof(target), fmt, host, port);
	if (n < 0 || (size_t)n >= sizeof(target)) {
		return -1;
	}
	if (user != NULL) {
		n = snprintf(cred, sizeof(cred), "%s:%s", user,
			     pass != NULL ? pass : "");
		if (n < 0 || (size_t)n >= sizeof(cred)) {
			return -1;
		}
		base64_encode(b64, (const uint8_t *)cred, (size_t)n);
		snprintf(auth, sizeof(auth),
			 "Proxy-Authorization: Basic %s\r\n", b64);
		memset(cred, 0, sizeof(cred));
	}
	n = snprintf(buf, size, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
		     target, target, auth);
	memset(auth, 0, sizeof(auth));
	if (n < 0 || (size_t)n >= size) {
		return -1;
	}
	return n;
}

bool http_head_complete(const uint8_t *buf, size_t len)
{
	return (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) ||
	       (len >= 2 && memcmp(buf + len - 2, "\n\n", 2) == 0);
}

char *http_check_reply(TALLOC_CTX *mem_ctx, const uint8_t *buf, size_t len)
{
	const char *line = (const char *)buf;
	size_t line_len = 0, reason_len;
	unsigned code;

	while (line_len < len && buf[line_len] != '\r' &&
	       buf[line_len] != '\n') {
		line_len++;
	}
	/* "HTTP/1.1 200 Connection established" */
	if (line_len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    line[8] != ' ' || line[9] < '1' || line[9] > '5' ||
	    line[10] < '0' || line[10] > '9' || line[11] < '0' ||
	    line[11] > '9' || (line_len > 12 && line[12] != ' ')) {
		return talloc_strdup(mem_ctx, "not an HTTP reply");
	}
	code = (unsigned)(line[9] - '0') * 100 +
	       (unsigned)(line[10] - '0') * 10 + (unsigned)(line[11] - '0');
	if (code >= 200 && code < 300) {
		return NULL;
	}
	reason_len = line_len > 13 ? line_len - 13 : 0;
	if (reason_len > 200) {
		reason_len = 200;
	}
	/* the reason is the proxy's text: keep only what prints */
	{
		char reason[201];
		size_t i;

		for (i = 0; i < reason_len; i++) {
			unsigned char c = (unsigned char)line[13 + i];

			reason[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		reason[reason_len] = '\0';
		return talloc_asprintf(mem_ctx, "HTTP %u%s%s%s", code,
				       reason_len > 0 ? " " : "", reason,
				       code == 407 ? " (it wants other "
				       "credentials, or some: "
				       "http://USER:PASS@...)" : "");
	}
}

/* ------------------------------------------------------------ server */

/* Address bytes to text in r->host. */
static void request_address(struct proxy_request *r, int family,
			    const uint8_t *addr)
{
	inet_ntop(family, addr, r->host, sizeof(r->host));
	r->is_name = false;
}

/*
 * A host name from a request: letters, digits, '-', '_' and dots, no
 * empty label, 1 to PROXY_NAME_MAX bytes.  Nothing else can be a name,
 * and nothing else can then mean anything to what it is handed to.
 */
static bool request_name(struct proxy_request *r, const uint8_t *name,
			 size_t len)
{
	size_t i;

	if (len == 0 || len > PROXY_NAME_MAX || name[0] == '.') {
		return false;
	}
	for (i = 0; i < len; i++) {
		uint8_t c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.') ||
		    (c == '.' && i + 1 < len && name[i + 1] == '.')) {
			return false;
		}
	}
	memcpy(r->host, name, len);
	r->host[len] = '\0';
	r->is_name = true;
	return true;
}

int socks5_request_parse(const uint8_t *in, size_t len, size_t *total,
			 struct proxy_request *r, uint8_t *code)
{
	size_t need;

	if (in[0] != SOCKS5_VERSION || in[2] != 0) {
		*code = 1;
		return -1;
	}
	if (in[1] != SOCKS5_CMD_CONNECT) {
		*code = 7;	/* BIND, UDP ASSOCIATE: not served */
		return -1;
	}
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		need = 4 + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		need = 4 + 16 + 2;
		break;
	case SOCKS5_ATYP_NAME:
		need = 4 + 1 + (size_t)in[4] + 2;
		break;
	default:
		*code = 8;
		return -1;
	}
	if (len < need) {
		*total = need;
		return 1;
	}
	if (in[3] == SOCKS5_ATYP_IPV4) {
		request_address(r, AF_INET, in + 4);
	} else if (in[3] == SOCKS5_ATYP_IPV6) {
		request_address(r, AF_INET6, in + 4);
	} else if (!request_name(r, in + 5, in[4])) {
		*code = 4;	/* no such host can be reached */
		return -1;
	}
	r->port = (uint16_t)(in[need - 2] << 8 | in[need - 1]);
	return 0;
}

int socks5_userpass_parse(const uint8_t *in, size_t len, size_t *total,
			  struct proxy_request *r)
{
	size_t ul, pl;

	if (in[0] != 1 || in[1] == 0) {
		return -1;
	}
	ul = in[1];
	if (len < 2 + ul + 1) {
		*total = 2 + ul + 1;
		return 1;
	}
	pl = in[2 + ul];
	if (len < 2 + ul + 1 + pl) {
		*total = 2 + ul + 1 + pl;
		return 1;
	}
	if (memchr(in + 2, '\0', ul) != NULL ||
	    memchr(in + 3 + ul, '\0', pl) != NULL) {
		return -1;	/* a NUL would cut them short */
	}
	memcpy(r->user, in + 2, ul);
	r->user[ul] = '\0';
	memcpy(r->pass, in + 3 + ul, pl);
	r->pass[pl] = '\0';
	r->has_credentials = true;
	return 0;
}

size_t socks5_reply(uint8_t *out, uint8_t code, const struct sockaddr *bound)
{
	size_t n = 0;

	out[n++] = SOCKS5_VERSION;
	out[n++] = code;
	out[n++] = 0;
	if (bound != NULL && bound->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
			(const struct sockaddr_in6 *)bound;

		out[n++] = SOCKS5_ATYP_IPV6;
		memcpy(out + n, &s6->sin6_addr, 16);
		n += 16;
		memcpy(out + n, &s6->sin6_port, 2);
	} else if (bound != NULL && bound->sa_family == AF_INET) {
		const struct sockaddr_in *s4 =
			(const struct sockaddr_in *)bound;

		out[n++] = SOCKS5_ATYP_IPV4;
		memcpy(out + n, &s4->sin_addr, 4);
		n += 4;
		memcpy(out + n, &s4->sin_port, 2);
	} else {
		out[n++] = SOCKS5_ATYP_IPV4;
		memset(out + n, 0, 6);
		n += 4;
	}
	return n + 2;
}

int socks4_request_parse(const uint8_t *in, size_t len,
			 struct proxy_request *r)
{
	const uint8_t *user_end, *name;
	bool is_4a = in[4] == 0 && in[5] == 0 && in[6] == 0 && in[7] != 0;
	size_t ul;

	if (in[0] != 4 || in[1] != 1) {
		return -1;	/* BIND is not served */
	}
	if (len < 9) {
		return 1;
	}
	user_end = memchr(in + 8, '\0', len - 8);
	if (user_end == NULL) {
		return len - 8 > PROXY_NAME_MAX ? -1 : 1;
	}
	ul = (size_t)(user_end - (in + 8));
	if (ul > PROXY_NAME_MAX) {
		return -1;	/* fed whole, not a byte at a time */
	}
	if (!is_4a) {
		request_address(r, AF_INET, in + 4);
	} else {
		name = user_end + 1;
		if (name >= in + len ||
		    memchr(name, '\0', (size_t)(in + len - name)) == NULL) {
			return (size_t)(in + len - name) > PROXY_NAME_MAX
			       ? -1 : 1;
		}
		if (!request_name(r, name, strlen((const char *)name))) {
			return -1;
		}
	}
	memcpy(r->user, in + 8, ul);
	r->user[ul] = '\0';
	r->port = (uint16_t)(in[2] << 8 | in[3]);
	return 0;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

ssize_t base64_decode(uint8_t *out, size_t size, const char *in, size_t len)
{
	size_t i, n = 0;
	unsigned bits = 0, nbits = 0;

	while (len > 0 && in[len - 1] == '=') {
		len--;
	}
	for (i = 0; i < len; i++) {
		int v = base64_value(in[i]);

		if (v < 0) {
			return -1;
		}
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (n == size) {
				return -1;
			}
			out[n++] = (uint8_t)(bits >> nbits);
		}
	}
	return (ssize_t)n;
}

/* The value of header name in the block (len bytes), or NULL. */
static const char *http_header(const char *buf, size_t len, const char *name,
			       size_t *vlen)
{
	const char *line = memchr(buf, '\n', len), *end = buf + len;
	size_t nl = strlen(name);

	while (line != NULL && line + 1 < end) {
		const char *start = line + 1, *eol;

		eol = memchr(start, '\n', (size_t)(end - start));
		if (eol == NULL) {
			return NULL;
		}
		if ((size_t)(eol - start) > nl && start[nl] == ':' &&
		    strncasecmp(start, name, nl) == 0) {
			const char *v = start + nl + 1;

			while (v < eol && (*v == ' ' || *v == '\t')) {
				v++;
			}
			*vlen = (size_t)(eol - v);
			while (*vlen > 0 && (v[*vlen - 1] == '\r' ||
					     v[*vlen - 1] == ' ')) {
				(*vlen)--;
			}
			return v;
		}
		line = eol;
	}
	return NULL;
}

int http_request_parse(const uint8_t *buf, size_t len,
		       struct proxy_request *r, int *status)
{
	const char *s = (const char *)buf, *sp1, *sp2, *eol, *colon, *auth;
	size_t tl, alen = 0;
	char target[PROXY_NAME_MAX + 16];
	uint8_t cred[512];
	ssize_t cl;
	unsigned long port;
	char *end;

	*status = 400;
	eol = memchr(s, '\n', len);
	if (eol == NULL) {
		return -1;
	}
	sp1 = memchr(s, ' ', (size_t)(eol - s));
	if (sp1 == NULL) {
		return -1;
	}
	if ((size_t)(sp1 - s) != 7 || memcmp(s, "CONNECT", 7) != 0) {
		*status = 405;	/* a forward proxy of tunnels only */
		return -1;
	}
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL || (size_t)(eol - sp2) < 9 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		return -1;
	}
	tl = (size_t)(sp2 - sp1 - 1);
	if (tl == 0 || tl >= sizeof(target) ||
	    memchr(sp1 + 1, '\0', tl) != NULL) {
		return -1;	/* a NUL would end the target early */
	}
	memcpy(target, sp1 + 1, tl);
	target[tl] = '\0';
	if (target[0] == '[') {
		char *close = strchr(target, ']');

		if (close == NULL || close[1] != ':') {
			return -1;
		}
		*close = '\0';
		colon = close + 1;
		/* the address moves down; the port stays after it */
		memmove(target, target + 1, strlen(target + 1) + 1);
	} else {
		colon = strrchr(target, ':');
		if (colon == NULL) {
			return -1;
		}
		*(char *)colon = '\0';
	}
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port == 0 ||
	    port > 65535) {
		return -1;
	}
	{
		uint8_t a[16];

		if (inet_pton(AF_INET, target, a) == 1) {
			request_address(r, AF_INET, a);
		} else if (inet_pton(AF_INET6, target, a) == 1) {
			request_address(r, AF_INET6, a);
		} else if (!request_name(r, (const uint8_t *)target,
					 strlen(target))) {
			return -1;
		}
	}
	r->port = (uint16_t)port;
	auth = http_header(s, len, "Proxy-Authorization", &alen);
	if (auth != NULL) {
		const char *p;

		if (alen < 6 || strncasecmp(auth, "Basic ", 6) != 0) {
			return -1;
		}
		cl = base64_decode(cred, sizeof(cred) - 1, auth + 6, alen - 6);
		if (cl < 0) {
			return -1;
		}
		cred[cl] = '\0';
		p = memchr(cred, ':', (size_t)cl);
		if (p == NULL || (size_t)(p - (char *)cred) >= sizeof(r->user) ||
		    strlen(p + 1) >= sizeof(r->pass) ||
		    memchr(cred, '\0', (size_t)cl) != NULL) {
			memset(cred, 0, sizeof(cred));
			return -1;
		}
		memcpy(r->user, cred, (size_t)(p - (char *)cred));
		r->user[p - (char *)cred] = '\0';
		strcpy(r->pass, p + 1);
		r->has_credentials = true;
		memset(cred, 0, sizeof(cred));
	}
	return 0;
}
