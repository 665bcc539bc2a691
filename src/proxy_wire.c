/*
 * proxy_wire.c - SOCKS and HTTP CONNECT messages
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
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
