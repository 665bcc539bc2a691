/*
 * proxy_wire.h - the bytes of SOCKS5 (RFC 1928, RFC 1929), SOCKS4 and
 * SOCKS4a, and HTTP CONNECT: building requests and checking replies,
 * without I/O, so the layers stay about order and the parsers can be
 * fuzzed on their own
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_PROXY_WIRE_H
#define TSOCK_PROXY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <talloc.h>

/*
 * Bounds: a request tsock sends (HTTP with a 255-byte host and 255-byte
 * credentials in Base64 fits), and a reply header it reads (HTTP's
 * status line and headers; a proxy that sends more is refused).
 */
#define PROXY_REQUEST_MAX 2048
#define PROXY_REPLY_MAX 8192

#define SOCKS5_VERSION 5
#define SOCKS5_AUTH_NONE 0x00
#define SOCKS5_AUTH_USERPASS 0x02
#define SOCKS5_AUTH_REFUSED 0xff
#define SOCKS5_CMD_CONNECT 1
#define SOCKS5_ATYP_IPV4 1
#define SOCKS5_ATYP_NAME 3
#define SOCKS5_ATYP_IPV6 4
#define SOCKS4_REPLY_LEN 8

/* ------------------------------------------------------------ client */

/* The method offer: no authentication, or user and password only. */
size_t socks5_greeting(uint8_t *out, bool with_auth);

/* The server's choice (2 bytes): NULL if usable, else why not. */
const char *socks5_check_method(const uint8_t *in, bool with_auth);

/* RFC 1929's request; user and pass are 1 to 255 bytes. */
size_t socks5_userpass(uint8_t *out, const char *user, const char *pass);

/*
 * CONNECT to addr (family AF_INET or AF_INET6), or if family is 0 to
 * host by name (at most 255 bytes), and port.
 */
size_t socks5_connect_request(uint8_t *out, int family, const uint8_t *addr,
			      const char *host, uint16_t port);

/*
 * The reply so far (len >= 5 bytes): NULL with *total the whole reply's
 * length if good so far, else why it refuses ("connection refused by
 * destination host") or is not a reply.
 */
const char *socks5_check_reply(const uint8_t *in, size_t len,
			       size_t *total);

/* What a SOCKS5 reply code means, in words. */
const char *socks5_reply_text(uint8_t code);

/*
 * SOCKS4 CONNECT to addr4 (4 bytes), or if it is NULL SOCKS4a's to host
 * by name; user may be "".
 */
size_t socks4_connect_request(uint8_t *out, const uint8_t *addr4,
			      const char *host, uint16_t port,
			      const char *user);

/* The 8-byte reply: NULL if granted, else why not. */
const char *socks4_check_reply(const uint8_t *in);

/*
 * "CONNECT host:port HTTP/1.1" with Host and, with user (and pass),
 * Basic Proxy-Authorization.  The length, or -1 if size is too small.
 */
ssize_t http_connect_request(char *buf, size_t size, const char *host,
			     uint16_t port, const char *user,
			     const char *pass);

/* True if buf ends a header block: "\r\n\r\n" (or "\n\n"). */
bool http_head_complete(const uint8_t *buf, size_t len);

/*
 * The proxy's reply header: NULL if it is 2xx, else why not (on
 * mem_ctx): "HTTP 407 Proxy Authentication Required", "not an HTTP
 * reply".
 */
char *http_check_reply(TALLOC_CTX *mem_ctx, const uint8_t *buf, size_t len);

/* Base64 of in (len bytes) into out (4 * ((len + 2) / 3) + 1 bytes). */
void base64_encode(char *out, const uint8_t *in, size_t len);


/* ------------------------------------------------------------ server */

/* Longest target name a request may carry (SOCKS5's limit). */
#define PROXY_NAME_MAX 255

/* A request a proxy server read: where the client wants to go. */
struct proxy_request {
	char host[PROXY_NAME_MAX + 1];	/* a name or an address, as text */
	bool is_name;
	uint16_t port;
	char user[256];			/* RFC 1929's, SOCKS4's or Basic's */
	char pass[256];
	bool has_credentials;
};

/*
 * SOCKS5 CONNECT request, the len bytes read so far (at least 5):
 * 0 complete (into *r), 1 read up to *total bytes first, -1 refused
 * with *code the reply code to send (7: not CONNECT, 8: address type).
 */
int socks5_request_parse(const uint8_t *in, size_t len, size_t *total,
			 struct proxy_request *r, uint8_t *code);

/* RFC 1929 request so far (len >= 2): as socks5_request_parse. */
int socks5_userpass_parse(const uint8_t *in, size_t len, size_t *total,
			  struct proxy_request *r);

/* SOCKS5 reply with code and the address the proxy connected from. */
size_t socks5_reply(uint8_t *out, uint8_t code, const struct sockaddr *bound);

/*
 * SOCKS4/4a request so far (the 8 fixed bytes, then a byte at a time):
 * 0 complete, 1 need one more byte, -1 not acceptable (not CONNECT, or
 * a user id or name longer than PROXY_NAME_MAX).
 */
int socks4_request_parse(const uint8_t *in, size_t len,
			 struct proxy_request *r);

/*
 * An HTTP request header block: 0 a CONNECT (into *r, with the Basic
 * credentials if any), -1 not acceptable with *status what to answer
 * (400 malformed, 405 not CONNECT).
 */
int http_request_parse(const uint8_t *buf, size_t len,
		       struct proxy_request *r, int *status);

/* Base64 decoding of in (len chars) into out (size); -1 if invalid. */
ssize_t base64_decode(uint8_t *out, size_t size, const char *in, size_t len);

#endif
