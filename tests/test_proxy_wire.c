/*
 * test_proxy_wire.c - unit tests of the proxy parsers: proxy URLs
 * (src/proxy_url.c), the SOCKS5, SOCKS4/4a and HTTP CONNECT messages of
 * both sides (src/proxy_wire.c) and the target rules of tsock proxy
 * (src/target_rules.c), byte for byte where a peer reads the bytes
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <talloc.h>
#include "proxy_url.h"
#include "proxy_wire.h"
#include "target_rules.h"

/* A literal's bytes, without the NUL the compiler adds, and its start. */
#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1
#define U(s) ((const uint8_t *)(s))

/* A password no message may repeat. */
#define SECRET "s3cr3tPW"

static void assert_bytes(const uint8_t *got, size_t got_len,
			 const uint8_t *want, size_t want_len)
{
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
}

/* ------------------------------------------------------------ URLs */

static struct proxy_url *parse_ok(TALLOC_CTX *mem, const char *text)
{
	char *error = NULL;
	struct proxy_url *url = proxy_url_parse(mem, text, &error);

	if (url == NULL) {
		fail_msg("%s: %s", text, error);
	}
	assert_null(error);
	return url;
}

/* text is refused, with a message that starts with why and no secret */
static void parse_bad(TALLOC_CTX *mem, const char *text, const char *why)
{
	char *error = NULL;

	if (proxy_url_parse(mem, text, &error) != NULL) {
		fail_msg("%s: parsed", text);
	}
	assert_non_null(error);
	assert_true(strncmp(error, "bad proxy URL: ", 15) == 0);
	if (strstr(error + 15, why) != error + 15) {
		fail_msg("%s: '%s', not '%s'", text, error, why);
	}
	assert_null(strstr(error, SECRET));
}

static void test_url_schemes(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct proxy_url *url;

	url = parse_ok(mem, "socks5://127.0.0.1:1080");
	assert_int_equal(url->type, PROXY_SOCKS5);
	assert_string_equal(url->host, "127.0.0.1");
	assert_int_equal(url->port, 1080);
	assert_null(url->user);
	assert_null(url->pass);
	assert_string_equal(url->label, "SOCKS5 proxy 127.0.0.1:1080");
	assert_false(proxy_resolves_names(url));

	url = parse_ok(mem, "socks5h://proxy.example.org");
	assert_int_equal(url->type, PROXY_SOCKS5H);
	assert_string_equal(url->host, "proxy.example.org");
	assert_int_equal(url->port, PROXY_DEFAULT_PORT);
	assert_true(proxy_resolves_names(url));
	assert_string_equal(url->label,
			    "SOCKS5 proxy proxy.example.org:1080");

	url = parse_ok(mem, "socks4://10.0.0.1:1");
	assert_int_equal(url->type, PROXY_SOCKS4);
	assert_int_equal(url->port, 1);
	assert_false(proxy_resolves_names(url));
	assert_string_equal(url->label, "SOCKS4 proxy 10.0.0.1:1");

	/* SOCKS4's user id, and no password */
	url = parse_ok(mem, "socks4a://alice@tor:9050");
	assert_int_equal(url->type, PROXY_SOCKS4A);
	assert_string_equal(url->user, "alice");
	assert_null(url->pass);
	assert_true(proxy_resolves_names(url));
	assert_string_equal(url->label, "SOCKS4 proxy tor:9050");

	url = parse_ok(mem, "http://user:" SECRET "@proxy:3128/");
	assert_int_equal(url->type, PROXY_HTTP);
	assert_string_equal(url->host, "proxy");
	assert_int_equal(url->port, 3128);
	assert_string_equal(url->user, "user");
	assert_string_equal(url->pass, SECRET);
	assert_true(proxy_resolves_names(url));
	/* never the credentials */
	assert_string_equal(url->label, "HTTP proxy proxy:3128");

	/* the scheme without case; the highest port */
	url = parse_ok(mem, "SOCKS5H://h:65535");
	assert_int_equal(url->type, PROXY_SOCKS5H);
	assert_int_equal(url->port, 65535);

	assert_string_equal(proxy_type_name(PROXY_SOCKS5H), "SOCKS5");
	assert_string_equal(proxy_type_name(PROXY_SOCKS4A), "SOCKS4");
	assert_string_equal(proxy_type_name(PROXY_HTTP), "HTTP");
	talloc_free(mem);
}

static void test_url_ipv6(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct proxy_url *url;

	url = parse_ok(mem, "socks5://[::1]:1081");
	assert_string_equal(url->host, "::1");
	assert_int_equal(url->port, 1081);
	assert_string_equal(url->label, "SOCKS5 proxy [::1]:1081");

	url = parse_ok(mem, "http://u:p@[2001:db8::1]");
	assert_string_equal(url->host, "2001:db8::1");
	assert_int_equal(url->port, 1080);
	assert_string_equal(url->label, "HTTP proxy [2001:db8::1]:1080");
	talloc_free(mem);
}

static void test_url_escapes(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct proxy_url *url;
	char text[1024];

	url = parse_ok(mem, "socks5://us%65r:p%40ss%3A%2f@h");
	assert_string_equal(url->user, "user");
	assert_string_equal(url->pass, "p@ss:/");
	assert_string_equal(url->host, "h");

	/* the last '@' ends the password, which may hold one unescaped */
	url = parse_ok(mem, "socks5://u:p@ss@h:2");
	assert_string_equal(url->user, "u");
	assert_string_equal(url->pass, "p@ss");
	assert_string_equal(url->host, "h");
	assert_int_equal(url->port, 2);

	/* the first ':' ends the user: the password may hold more */
	url = parse_ok(mem, "http://u:a:b@h");
	assert_string_equal(url->user, "u");
	assert_string_equal(url->pass, "a:b");

	/* RFC 1929's longest, 255 bytes each */
	snprintf(text, sizeof(text), "socks5://%0255d:%0255d@h", 0, 0);
	url = parse_ok(mem, text);
	assert_int_equal(strlen(url->user), 255);
	assert_int_equal(strlen(url->pass), 255);
	talloc_free(mem);
}

static void test_url_errors(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char text[1024];

	parse_bad(mem, "127.0.0.1:1080", "expected SCHEME://HOST:PORT");
	parse_bad(mem, "ftp://h:21", "unknown proxy scheme");
	parse_bad(mem, "socks://h", "unknown proxy scheme");
	parse_bad(mem, "http://h:3128/path", "a proxy URL has no path");
	parse_bad(mem, "http://u:" SECRET "@h:3128//", "a proxy URL has no");
	parse_bad(mem, "socks5://h:0", "proxy port must be");
	parse_bad(mem, "socks5://h:65536", "proxy port must be");
	parse_bad(mem, "socks5://h:", "proxy port must be");
	parse_bad(mem, "socks5://h:8a", "proxy port must be");
	parse_bad(mem, "socks5://h:-1", "proxy port must be");
	parse_bad(mem, "socks5://h:001080", "proxy port must be");
	parse_bad(mem, "socks4://u:" SECRET "@h", "SOCKS4 takes a user name");
	parse_bad(mem, "socks4a://u:" SECRET "@h", "SOCKS4 takes a user");
	parse_bad(mem, "socks5://user@h", "a proxy user needs a password");
	parse_bad(mem, "socks5h://user@h", "a proxy user needs a password");
	parse_bad(mem, "http://user@h", "a proxy user needs a password");
	parse_bad(mem, "socks5://:" SECRET "@h", "SOCKS5 user and password");
	parse_bad(mem, "socks5://user:@h", "SOCKS5 user and password");
	snprintf(text, sizeof(text), "socks5://%0256d:" SECRET "@h", 0);
	parse_bad(mem, text, "SOCKS5 user and password must each be");
	snprintf(text, sizeof(text), "socks5h://u:" SECRET "%0248d@h", 0);
	parse_bad(mem, text, "SOCKS5 user and password must each be");
	parse_bad(mem, "socks5://u%4:" SECRET "@h", "bad %-escape");
	parse_bad(mem, "socks5://u:" SECRET "%zz@h", "bad %-escape");
	parse_bad(mem, "socks5://u:" SECRET "%00@h", "bad %-escape");
	parse_bad(mem, "socks5://[::1:1080", "missing ']'");
	parse_bad(mem, "socks5://[::1]1080", "expected ':PORT' after ']'");
	parse_bad(mem, "socks5://", "missing proxy host");
	parse_bad(mem, "socks5://u:" SECRET "@", "missing proxy host");
	parse_bad(mem, "socks5://u:" SECRET "@:1080", "missing proxy host");
	parse_bad(mem, "socks5://[]:1080", "missing proxy host");
	parse_bad(mem, "socks5://u:" SECRET "@a b", "bad proxy host");
	talloc_free(mem);
}

/* ----------------------------------------------------- client: SOCKS */

static void test_socks5_client_messages(void **unused)
{
	uint8_t out[PROXY_REQUEST_MAX];
	uint8_t a4[4] = { 127, 0, 0, 1 }, a6[16] = { 0 };
	size_t n;

	n = socks5_greeting(out, false);
	assert_bytes(out, n, BYTES("\x05\x01\x00"));
	n = socks5_greeting(out, true);
	assert_bytes(out, n, BYTES("\x05\x01\x02"));

	n = socks5_userpass(out, "alice", "secret");
	assert_bytes(out, n, BYTES("\x01\x05" "alice" "\x06" "secret"));

	n = socks5_connect_request(out, AF_INET, a4, NULL, 80);
	assert_bytes(out, n, BYTES("\x05\x01\x00\x01\x7f\x00\x00\x01"
				   "\x00\x50"));
	a6[15] = 1;
	n = socks5_connect_request(out, AF_INET6, a6, NULL, 443);
	assert_bytes(out, n, BYTES("\x05\x01\x00\x04"
				   "\x00\x00\x00\x00\x00\x00\x00\x00"
				   "\x00\x00\x00\x00\x00\x00\x00\x01"
				   "\x01\xbb"));
	n = socks5_connect_request(out, 0, NULL, "example.org", 8080);
	assert_bytes(out, n, BYTES("\x05\x01\x00\x03\x0b" "example.org"
				   "\x1f\x90"));
}

static void test_socks5_long_name(void **unused)
{
	uint8_t out[PROXY_REQUEST_MAX];
	char name[257];
	size_t n;

	memset(name, 'a', 255);
	name[255] = '\0';
	n = socks5_connect_request(out, 0, NULL, name, 1);
	assert_int_equal(n, 7 + 255);
	assert_int_equal(out[4], 255);

	/*
	 * The builder trusts its caller with the length: the layer refuses
	 * names over 255 bytes before building (layer_proxy.c, hop_talk;
	 * proxy.bats tests it).  Here, what the builder alone does.
	 */
	memset(name, 'a', 256);
	name[256] = '\0';
	n = socks5_connect_request(out, 0, NULL, name, 1);
	assert_int_equal(n, 7 + 256);
	assert_int_equal(out[4], 0);
}

static void test_socks5_reply_texts(void **unused)
{
	static const char *const texts[] = {
		"succeeded",
		"general SOCKS server failure",
		"connection not allowed by ruleset",
		"network unreachable",
		"host unreachable",
		"connection refused by destination host",
		"TTL expired",
		"command not supported",
		"address type not supported",
	};
	unsigned code;

	for (code = 0; code < 9; code++) {
		assert_string_equal(socks5_reply_text((uint8_t)code),
				    texts[code]);
	}
	assert_string_equal(socks5_reply_text(9), "unknown SOCKS5 reply code");
	assert_string_equal(socks5_reply_text(255),
			    "unknown SOCKS5 reply code");
}

static void test_socks5_client_checks(void **unused)
{
	size_t total;

	assert_null(socks5_check_method(U("\x05\x00"), false));
	assert_null(socks5_check_method(U("\x05\x02"), true));
	assert_string_equal(socks5_check_method(U("\x04\x00"), false),
			    "not a SOCKS5 proxy (bad version in its reply)");
	assert_non_null(strstr(socks5_check_method(U("\x05\xff"), false),
			       "wants credentials"));
	assert_non_null(strstr(socks5_check_method(U("\x05\xff"), true),
			       "does not take a user and password"));
	/* what was not offered: "none" after credentials, or the reverse */
	assert_string_equal(socks5_check_method(U("\x05\x00"), true),
			    "chose an authentication method that was not "
			    "offered");
	assert_non_null(socks5_check_method(U("\x05\x02"), false));

	total = 0;
	assert_null(socks5_check_reply(BYTES("\x05\x00\x00\x01\x7f"),
				       &total));
	assert_int_equal(total, 10);
	assert_null(socks5_check_reply(BYTES("\x05\x00\x00\x04\x20"),
				       &total));
	assert_int_equal(total, 22);
	assert_null(socks5_check_reply(BYTES("\x05\x00\x00\x03\x04"),
				       &total));
	assert_int_equal(total, 11);
	assert_null(socks5_check_reply(BYTES("\x05\x00\x00\x03\x04host"
					     "\x00\x50"), &total));
	assert_int_equal(total, 11);
	assert_string_equal(socks5_check_reply(BYTES("\x05\x05\x00\x01\x00"),
					       &total),
			    "connection refused by destination host");
	assert_string_equal(socks5_check_reply(BYTES("\x05\x02\x00\x01\x00"),
					       &total),
			    "connection not allowed by ruleset");
	assert_string_equal(socks5_check_reply(BYTES("\x04\x00\x00\x01\x00"),
					       &total),
			    "not a SOCKS5 reply (bad version)");
	assert_string_equal(socks5_check_reply(BYTES("\x05\x00\x00\x02\x00"),
					       &total),
			    "malformed reply (unknown address type)");
	assert_string_equal(socks5_check_reply(BYTES("\x05\x00\x00\x01"),
					       &total), "short reply");
}

static void test_socks4_client(void **unused)
{
	uint8_t out[PROXY_REQUEST_MAX];
	uint8_t a4[4] = { 10, 0, 0, 1 };
	size_t n;

	n = socks4_connect_request(out, a4, NULL, 80, "");
	assert_bytes(out, n, BYTES("\x04\x01\x00\x50\x0a\x00\x00\x01\x00"));
	n = socks4_connect_request(out, a4, NULL, 80, "bob");
	assert_bytes(out, n, BYTES("\x04\x01\x00\x50\x0a\x00\x00\x01"
				   "bob\x00"));
	/* SOCKS4a: 0.0.0.1, the user id, then the name */
	n = socks4_connect_request(out, NULL, "example.org", 443, "bob");
	assert_bytes(out, n, BYTES("\x04\x01\x01\xbb\x00\x00\x00\x01"
				   "bob\x00" "example.org\x00"));

	assert_null(socks4_check_reply(U("\x00\x5a\x00\x00\x00\x00\x00"
					     "\x00")));
	assert_string_equal(socks4_check_reply(U("\x00\x5b\0\0\0\0\0\0")),
			    "request rejected or failed");
	assert_non_null(strstr(socks4_check_reply(U("\x00\x5c\0\0\0\0\0"
							"\0")), "identd"));
	assert_non_null(strstr(socks4_check_reply(U("\x00\x5d\0\0\0\0\0"
							"\0")),
			       "different user"));
	assert_string_equal(socks4_check_reply(U("\x04\x5a\0\0\0\0\0\0")),
			    "not a SOCKS4 reply (bad version)");
	assert_string_equal(socks4_check_reply(U("\x00\x01\0\0\0\0\0\0")),
			    "malformed reply (unknown reply code)");
}

/* ------------------------------------------------------ client: HTTP */

static void test_http_connect_request(void **unused)
{
	char buf[PROXY_REQUEST_MAX];
	const char *want;
	ssize_t n;

	want = "CONNECT example.org:443 HTTP/1.1\r\n"
	       "Host: example.org:443\r\n\r\n";
	n = http_connect_request(buf, sizeof(buf), "example.org", 443, NULL,
				 NULL);
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);

	want = "CONNECT example.org:443 HTTP/1.1\r\n"
	       "Host: example.org:443\r\n"
	       "Proxy-Authorization: Basic dTpw\r\n\r\n";
	n = http_connect_request(buf, sizeof(buf), "example.org", 443, "u",
				 "p");
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);

	/* a user without a password: "u:" */
	n = http_connect_request(buf, sizeof(buf), "h", 1, "u", NULL);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "Proxy-Authorization: Basic dTo=\r\n"));

	want = "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n";
	n = http_connect_request(buf, sizeof(buf), "::1", 8443, NULL, NULL);
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);

	/* too small a buffer, even by the NUL: -1, not a cut request */
	n = http_connect_request(buf, strlen(want), "::1", 8443, NULL, NULL);
	assert_int_equal(n, -1);
	n = http_connect_request(buf, 10, "::1", 8443, NULL, NULL);
	assert_int_equal(n, -1);
}

static void test_base64(void **unused)
{
	/* RFC 4648's test vectors */
	static const char *const vectors[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char enc[16];
	uint8_t dec[16];
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t len = strlen(vectors[i][0]);

		base64_encode(enc, (const uint8_t *)vectors[i][0], len);
		assert_string_equal(enc, vectors[i][1]);
		assert_int_equal(base64_decode(dec, sizeof(dec), vectors[i][1],
					       strlen(vectors[i][1])), len);
		assert_memory_equal(dec, vectors[i][0], len);
	}
	base64_encode(enc, (const uint8_t *)"\xff\xfe\x00", 3);
	assert_string_equal(enc, "//4A");

	assert_int_equal(base64_decode(dec, 2, "dTpw", 4), -1);
	assert_int_equal(base64_decode(dec, 3, "dTpw", 4), 3);
	assert_int_equal(base64_decode(dec, sizeof(dec), "dT!w", 4), -1);
	assert_int_equal(base64_decode(dec, sizeof(dec), "dT=w", 4), -1);
	assert_int_equal(base64_decode(dec, sizeof(dec), "dTpw ", 5), -1);
}

static void test_http_check_reply(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *why;

	assert_null(http_check_reply(mem, BYTES("HTTP/1.1 200 Connection "
						"established\r\n\r\n")));
	assert_null(http_check_reply(mem, BYTES("HTTP/1.0 200\r\n\r\n")));
	assert_null(http_check_reply(mem, BYTES("HTTP/1.1 204 OK\n\n")));
	assert_null(http_check_reply(mem, BYTES("HTTP/1.1 299 Odd\r\n\r\n")));

	why = http_check_reply(mem, BYTES("HTTP/1.1 407 Proxy Authentication "
					  "Required\r\nProxy-Authenticate: "
					  "Basic realm=\"x\"\r\n\r\n"));
	assert_string_equal(why, "HTTP 407 Proxy Authentication Required (it "
			    "wants other credentials, or some: "
			    "http://USER:PASS@...)");
	why = http_check_reply(mem, BYTES("HTTP/1.1 403 Forbidden\r\n\r\n"));
	assert_string_equal(why, "HTTP 403 Forbidden");
	why = http_check_reply(mem, BYTES("HTTP/1.1 502\r\n\r\n"));
	assert_string_equal(why, "HTTP 502");
	why = http_check_reply(mem, BYTES("HTTP/1.1 199 Early\r\n\r\n"));
	assert_string_equal(why, "HTTP 199 Early");

	/* the proxy's words, with what does not print replaced */
	why = http_check_reply(mem, BYTES("HTTP/1.0 502 Bad\x1b[31m\x7f"
					  "Gate\x00way\r\n\r\n"));
	assert_string_equal(why, "HTTP 502 Bad?[31m?Gate?way");

	assert_string_equal(http_check_reply(mem, BYTES("SSH-2.0-OpenSSH_9."
							"6\r\n\r\n")),
			    "not an HTTP reply");
	assert_string_equal(http_check_reply(mem, BYTES("HTTP/2 200 OK\r\n"
							"\r\n")),
			    "not an HTTP reply");
	assert_string_equal(http_check_reply(mem, BYTES("HTTP/1.1 2000 OK\r\n"
							"\r\n")),
			    "not an HTTP reply");
	assert_string_equal(http_check_reply(mem, BYTES("HTTP/1.1 600 X\r\n"
							"\r\n")),
			    "not an HTTP reply");
	assert_string_equal(http_check_reply(mem, BYTES("HTTP/1.1 20\r\n"
							"\r\n")),
			    "not an HTTP reply");
	assert_string_equal(http_check_reply(mem, BYTES("")),
			    "not an HTTP reply");

	assert_true(http_head_complete(BYTES("HTTP/1.1 200 OK\r\n\r\n")));
	assert_true(http_head_complete(BYTES("HTTP/1.1 200 OK\n\n")));
	assert_false(http_head_complete(BYTES("HTTP/1.1 200 OK\r\n")));
	assert_false(http_head_complete(BYTES("\n")));
	assert_false(http_head_complete(BYTES("")));
	talloc_free(mem);
}

/* ----------------------------------------------------- server: SOCKS */

static void request_init(struct proxy_request *r)
{
	memset(r, 0, sizeof(*r));
}

static void test_socks5_request_parse(void **unused)
{
	struct proxy_request r;
	size_t total;
	uint8_t code;

#define REQ_V4 "\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x50"
	request_init(&r);
	total = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x01\x0a"),
					      &total, &r, &code), 1);
	assert_int_equal(total, 10);
	assert_int_equal(socks5_request_parse(BYTES(REQ_V4), &total, &r,
					      &code), 0);
	assert_string_equal(r.host, "10.0.0.1");
	assert_false(r.is_name);
	assert_int_equal(r.port, 80);

	request_init(&r);
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x04"
		"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
		"\x01" "\x01\xbb"), &total, &r, &code), 0);
	assert_string_equal(r.host, "2001:db8::1");
	assert_false(r.is_name);
	assert_int_equal(r.port, 443);

	request_init(&r);
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x03\x0b"),
					      &total, &r, &code), 1);
	assert_int_equal(total, 18);
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x03\x0b"
						    "example.org\x1f\x90"),
					      &total, &r, &code), 0);
	assert_string_equal(r.host, "example.org");
	assert_true(r.is_name);
	assert_int_equal(r.port, 8080);

	/* refusals, with the reply code to send */
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x02\x00\x01\x0a"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 7);	/* BIND */
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x03\x00\x01\x0a"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 7);	/* UDP ASSOCIATE */
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x02\x0a"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 8);
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x04\x01\x00\x01\x0a"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 1);
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x01\x01\x0a"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 1);	/* RSV not 0 */
	/* names: no space, control character or nothing */
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x03\x03"
						    "a b\x00\x50"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 4);
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x03\x03"
						    "a\x7f" "b\x00\x50"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 4);
	code = 0;
	assert_int_equal(socks5_request_parse(BYTES("\x05\x01\x00\x03\x00"
						    "\x00\x50"),
					      &total, &r, &code), -1);
	assert_int_equal(code, 4);
}

static void test_socks5_userpass_parse(void **unused)
{
	const uint8_t msg[] = "\x01\x05" "alice" "\x06" "secret";
	struct proxy_request r;
	size_t total = 0;

	request_init(&r);
	assert_int_equal(socks5_userpass_parse(msg, 2, &total, &r), 1);
	assert_int_equal(total, 8);
	assert_int_equal(socks5_userpass_parse(msg, 8, &total, &r), 1);
	assert_int_equal(total, 14);
	assert_false(r.has_credentials);
	assert_int_equal(socks5_userpass_parse(msg, 14, &total, &r), 0);
	assert_true(r.has_credentials);
	assert_string_equal(r.user, "alice");
	assert_string_equal(r.pass, "secret");

	assert_int_equal(socks5_userpass_parse(BYTES("\x02\x01u\x01p"),
					       &total, &r), -1);
	assert_int_equal(socks5_userpass_parse(BYTES("\x01\x00\x01p"),
					       &total, &r), -1);
}

static void test_socks5_reply(void **unused)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	uint8_t out[PROXY_REQUEST_MAX];
	size_t n;

	n = socks5_reply(out, 5, NULL);
	assert_bytes(out, n, BYTES("\x05\x05\x00\x01\0\0\0\0\0\0"));

	s4.sin_port = htons(1234);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr), 1);
	n = socks5_reply(out, 0, (struct sockaddr *)&s4);
	assert_bytes(out, n, BYTES("\x05\x00\x00\x01\xc0\x00\x02\x01"
				   "\x04\xd2"));

	s6.sin6_port = htons(443);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", &s6.sin6_addr),
			 1);
	n = socks5_reply(out, 0, (struct sockaddr *)&s6);
	assert_bytes(out, n, BYTES("\x05\x00\x00\x04"
		"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
		"\x02" "\x01\xbb"));
}

/*
 * Feed msg as proxy_server.c does: the 8 fixed bytes, then one at a
 * time while the parser says 1; the answer, with *used what it took.
 */
static int socks4_feed(const uint8_t *msg, size_t len,
		       struct proxy_request *r, size_t *used)
{
	size_t have;
	int ret = 1;

	for (have = 8; have <= len; have++) {
		ret = socks4_request_parse(msg, have, r);
		if (ret != 1) {
			break;
		}
	}
	*used = have;
	return ret;
}

static void test_socks4_request_parse(void **unused)
{
	struct proxy_request r;
	uint8_t msg[8 + 300];
	size_t used;

	request_init(&r);
	assert_int_equal(socks4_feed(BYTES("\x04\x01\x00\x50\x7f\x00\x00\x01"
					   "bob\x00" "after"), &r, &used), 0);
	assert_int_equal(used, 12);	/* nothing of what follows */
	assert_string_equal(r.host, "127.0.0.1");
	assert_false(r.is_name);
	assert_int_equal(r.port, 80);
	assert_string_equal(r.user, "bob");

	/* an empty user id, and an address that ends in 0: not SOCKS4a */
	request_init(&r);
	assert_int_equal(socks4_feed(BYTES("\x04\x01\x00\x50\x0a\x00\x00\x00"
					   "\x00"), &r, &used), 0);
	assert_string_equal(r.host, "10.0.0.0");
	assert_string_equal(r.user, "");

	/* SOCKS4a: 0.0.0.x, then the name after the user id */
	request_init(&r);
	assert_int_equal(socks4_feed(BYTES("\x04\x01\x01\xbb\x00\x00\x00\x07"
					   "\x00" "example.org\x00" "after"),
				     &r, &used), 0);
	assert_int_equal(used, 8 + 1 + 12);
	assert_string_equal(r.host, "example.org");
	assert_true(r.is_name);
	assert_int_equal(r.port, 443);
	assert_string_equal(r.user, "");

	/* incomplete: 1 at each byte until the NUL */
	request_init(&r);
	assert_int_equal(socks4_request_parse(BYTES("\x04\x01\x00\x50\x7f"
						    "\x00\x00\x01"), &r), 1);
	assert_int_equal(socks4_request_parse(BYTES("\x04\x01\x00\x50\x7f"
						    "\x00\x00\x01" "bo"), &r),
			 1);

	/* BIND, another version, a name that is not one */
	assert_int_equal(socks4_feed(BYTES("\x04\x02\x00\x50\x7f\x00\x00\x01"
					   "\x00"), &r, &used), -1);
	assert_int_equal(socks4_feed(BYTES("\x05\x01\x00\x50\x7f\x00\x00\x01"
					   "\x00"), &r, &used), -1);
	assert_int_equal(socks4_feed(BYTES("\x04\x01\x00\x50\x00\x00\x00\x01"
					   "\x00" "a b\x00"), &r, &used), -1);
	assert_int_equal(socks4_feed(BYTES("\x04\x01\x00\x50\x00\x00\x00\x01"
					   "\x00\x00"), &r, &used), -1);

	/* a user id or name of 256 bytes: refused at the 256th */
	memcpy(msg, "\x04\x01\x00\x50\x7f\x00\x00\x01", 8);
	memset(msg + 8, 'u', 300);
	assert_int_equal(socks4_feed(msg, sizeof(msg), &r, &used), -1);
	assert_int_equal(used, 8 + 256);
	memcpy(msg, "\x04\x01\x00\x50\x00\x00\x00\x01\x00", 9);
	memset(msg + 9, 'n', 299);
	assert_int_equal(socks4_feed(msg, sizeof(msg), &r, &used), -1);
	assert_int_equal(used, 9 + 256);
	/* 255 and its NUL are fine */
	memcpy(msg, "\x04\x01\x00\x50\x7f\x00\x00\x01", 8);
	memset(msg + 8, 'u', 255);
	msg[8 + 255] = '\0';
	assert_int_equal(socks4_feed(msg, sizeof(msg), &r, &used), 0);
	assert_int_equal(strlen(r.user), 255);
}

/* ------------------------------------------------------ server: HTTP */

static int http_parse(const char *text, struct proxy_request *r,
		      int *status)
{
	request_init(r);
	*status = 0;
	return http_request_parse((const uint8_t *)text, strlen(text), r,
				  status);
}

static void test_http_request_parse(void **unused)
{
	struct proxy_request r;
	int status;

	assert_int_equal(http_parse("CONNECT example.org:443 HTTP/1.1\r\n"
				    "Host: example.org:443\r\n\r\n", &r,
				    &status), 0);
	assert_string_equal(r.host, "example.org");
	assert_true(r.is_name);
	assert_int_equal(r.port, 443);
	assert_false(r.has_credentials);

	assert_int_equal(http_parse("CONNECT [2001:db8::1]:22 HTTP/1.1\r\n"
				    "\r\n", &r, &status), 0);
	assert_string_equal(r.host, "2001:db8::1");
	assert_false(r.is_name);
	assert_int_equal(r.port, 22);

	assert_int_equal(http_parse("CONNECT 10.0.0.1:80 HTTP/1.0\n\n", &r,
				    &status), 0);
	assert_string_equal(r.host, "10.0.0.1");
	assert_false(r.is_name);
	assert_int_equal(r.port, 80);

	/* malformed: 400 */
	assert_int_equal(http_parse("CONNECT example.org HTTP/1.1\r\n\r\n",
				    &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT example.org:0 HTTP/1.1\r\n\r\n",
				    &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT example.org:65536 HTTP/1.1\r\n"
				    "\r\n", &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT example.org:+80 HTTP/1.1\r\n"
				    "\r\n", &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT [::1:80 HTTP/1.1\r\n\r\n", &r,
				    &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT [::1]80 HTTP/1.1\r\n\r\n", &r,
				    &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT a\x01z:80 HTTP/1.1\r\n\r\n", &r,
				    &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT example.org:443 FTP/1.0\r\n\r\n",
				    &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT example.org:443\r\n\r\n", &r,
				    &status), -1);
	assert_int_equal(status, 400);

	/* another method: 405 */
	assert_int_equal(http_parse("GET http://example.org/ HTTP/1.1\r\n"
				    "Host: example.org\r\n\r\n", &r, &status),
			 -1);
	assert_int_equal(status, 405);
	assert_int_equal(http_parse("connect example.org:443 HTTP/1.1\r\n"
				    "\r\n", &r, &status), -1);
	assert_int_equal(status, 405);
}

static void test_http_request_nul_in_target(void **unused)
{
	static const uint8_t req[] = "CONNECT a:80\0junk HTTP/1.1\r\n\r\n";
	struct proxy_request r;
	int status = 0;

	/* a NUL would end the target early: a 400, not "a:80" */
	request_init(&r);
	assert_int_equal(http_request_parse(req, sizeof(req) - 1, &r,
					    &status), -1);
	assert_int_equal(status, 400);
}

static void test_http_credentials(void **unused)
{
	struct proxy_request r;
	int status;

	assert_int_equal(http_parse("CONNECT h:1 HTTP/1.1\r\n"
				    "Host: h:1\r\n"
				    "Proxy-Authorization: Basic dTpw\r\n\r\n",
				    &r, &status), 0);
	assert_true(r.has_credentials);
	assert_string_equal(r.user, "u");
	assert_string_equal(r.pass, "p");

	/* the header's name without case, the password with a ':' */
	assert_int_equal(http_parse("CONNECT h:1 HTTP/1.1\n"
				    "proxy-authorization:  basic "
				    "YWxpY2U6czplYw== \n\n", &r, &status), 0);
	assert_string_equal(r.user, "alice");
	assert_string_equal(r.pass, "s:ec");

	/* malformed Base64, no ':', no Basic: 400 */
	assert_int_equal(http_parse("CONNECT h:1 HTTP/1.1\r\n"
				    "Proxy-Authorization: Basic d!pw\r\n\r\n",
				    &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT h:1 HTTP/1.1\r\n"
				    "Proxy-Authorization: Basic dXNlcg==\r\n"
				    "\r\n", &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT h:1 HTTP/1.1\r\n"
				    "Proxy-Authorization: Digest dTpw\r\n\r\n",
				    &r, &status), -1);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse("CONNECT h:1 HTTP/1.1\r\n"
				    "Proxy-Authorization:\r\n\r\n", &r,
				    &status), -1);
	assert_int_equal(status, 400);
}

/* -------------------------------------------------------- target rules */

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	return ss;
}

static bool allowed_addr(const struct target_rules *rules, const char *a,
			 uint16_t port)
{
	struct sockaddr_storage ss = addr(a);

	return target_allowed(rules, NULL, (struct sockaddr *)&ss, port);
}

static bool allowed_name(const struct target_rules *rules, const char *n,
			 uint16_t port)
{
	return target_allowed(rules, n, NULL, port);
}

static struct target_rules *rules_of(TALLOC_CTX *mem, bool allow,
				     const char *spec)
{
	struct target_rules *rules = target_rules_create(mem);
	const char *why;

	assert_non_null(rules);
	why = target_rules_add(rules, allow, spec);
	if (why != NULL) {
		fail_msg("%s: %s", spec, why);
	}
	return rules;
}

static void test_rules_cidr(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r;

	r = rules_of(mem, true, "10.0.0.0/8");
	assert_true(allowed_addr(r, "10.0.0.0", 1));
	assert_true(allowed_addr(r, "10.255.1.2", 1));
	assert_false(allowed_addr(r, "11.0.0.1", 1));
	assert_false(allowed_addr(r, "9.255.255.255", 1));
	assert_false(allowed_addr(r, "::1", 1));

	/* a prefix that is not a whole byte */
	r = rules_of(mem, true, "8.0.0.0/7");
	assert_true(allowed_addr(r, "8.0.0.0", 1));
	assert_true(allowed_addr(r, "9.1.1.1", 1));
	assert_false(allowed_addr(r, "10.0.0.1", 1));
	assert_false(allowed_addr(r, "7.255.255.255", 1));

	r = rules_of(mem, true, "1.2.3.4/32");
	assert_true(allowed_addr(r, "1.2.3.4", 1));
	assert_false(allowed_addr(r, "1.2.3.5", 1));
	r = rules_of(mem, true, "1.2.3.4");
	assert_true(allowed_addr(r, "1.2.3.4", 1));
	assert_false(allowed_addr(r, "1.2.3.5", 1));

	/* /0: every address of the family, and only of it */
	r = rules_of(mem, false, "0.0.0.0/0");
	assert_false(allowed_addr(r, "1.2.3.4", 1));
	assert_false(allowed_addr(r, "255.255.255.255", 1));
	assert_true(allowed_addr(r, "::1", 1));
	r = rules_of(mem, false, "::/0");
	assert_false(allowed_addr(r, "2001:db8::1", 1));
	assert_true(allowed_addr(r, "1.2.3.4", 1));

	r = rules_of(mem, true, "[2001:db8::]/32");
	assert_true(allowed_addr(r, "2001:db8:ffff::1", 1));
	assert_false(allowed_addr(r, "2001:db9::", 1));
	r = rules_of(mem, true, "fc00::/7");
	assert_true(allowed_addr(r, "fd12::1", 1));
	assert_false(allowed_addr(r, "fe00::1", 1));
	r = rules_of(mem, true, "[::1]/128");
	assert_true(allowed_addr(r, "::1", 1));
	assert_false(allowed_addr(r, "::2", 1));
	r = rules_of(mem, true, "::1");
	assert_true(allowed_addr(r, "::1", 1));
	assert_false(allowed_addr(r, "::2", 1));

	/* an address rule says nothing of a name not resolved yet */
	r = rules_of(mem, false, "10.0.0.0/8");
	assert_true(allowed_name(r, "10.0.0.1", 1));
	talloc_free(mem);
}

static void test_rules_v4_mapped(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r;

	/* ::ffff:127.0.0.1 is 127.0.0.1: no way around a v4 rule */
	r = rules_of(mem, false, "127.0.0.0/8");
	assert_false(allowed_addr(r, "127.0.0.1", 22));
	assert_false(allowed_addr(r, "::ffff:127.0.0.1", 22));
	assert_true(allowed_addr(r, "::ffff:128.0.0.1", 22));
	/* IPv4-compatible is not mapped */
	assert_true(allowed_addr(r, "::127.0.0.1", 22));

	r = rules_of(mem, true, "192.0.2.0/24");
	assert_true(allowed_addr(r, "::ffff:192.0.2.77", 1));
	assert_false(allowed_addr(r, "::ffff:192.0.3.77", 1));
	talloc_free(mem);
}

static void test_rules_names(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r;
	struct sockaddr_storage ss = addr("192.0.2.1");

	r = rules_of(mem, true, "example.org");
	assert_true(allowed_name(r, "example.org", 1));
	assert_true(allowed_name(r, "EXAMPLE.Org", 1));
	assert_true(allowed_name(r, "example.org.", 1));
	assert_false(allowed_name(r, "www.example.org", 1));
	assert_false(allowed_name(r, "example.org.uk", 1));
	/* trailing dots do not count (empty labels never reach the rules:
	   the servers refuse such names) */
	assert_true(allowed_name(r, "example.org..", 1));
	/* a name rule needs the name, whatever the address */
	assert_false(allowed_addr(r, "192.0.2.1", 1));
	assert_true(target_allowed(r, "example.org", (struct sockaddr *)&ss,
				   1));

	r = rules_of(mem, true, "*.Example.ORG");
	assert_true(allowed_name(r, "www.example.org", 1));
	assert_true(allowed_name(r, "a.b.example.org.", 1));
	assert_false(allowed_name(r, "example.org", 1));
	assert_false(allowed_name(r, "example.org.", 1));
	assert_false(allowed_name(r, "badexample.org", 1));
	assert_false(allowed_name(r, ".example.org", 1));

	r = rules_of(mem, true, "[example.org]:80");
	assert_true(allowed_name(r, "example.org", 80));
	assert_false(allowed_name(r, "example.org", 81));
	talloc_free(mem);
}

static void test_rules_trailing_dot(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r;

	/* a rule's own trailing dot does not count either */
	r = rules_of(mem, true, "example.org.");
	assert_true(allowed_name(r, "example.org", 1));
	assert_true(allowed_name(r, "example.org.", 1));
	r = rules_of(mem, false, "*.example.org.");
	assert_false(allowed_name(r, "www.example.org", 1));
	talloc_free(mem);
}

static void test_rules_ports(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r;

	r = rules_of(mem, true, "*:443");
	assert_true(allowed_name(r, "example.org", 443));
	assert_true(allowed_addr(r, "::1", 443));
	assert_false(allowed_addr(r, "::1", 80));

	r = rules_of(mem, true, "example.org:8000-8080");
	assert_true(allowed_name(r, "example.org", 8000));
	assert_true(allowed_name(r, "example.org", 8080));
	assert_false(allowed_name(r, "example.org", 7999));
	assert_false(allowed_name(r, "example.org", 8081));

	r = rules_of(mem, true, "10.0.0.0/8:22");
	assert_true(allowed_addr(r, "10.1.1.1", 22));
	assert_false(allowed_addr(r, "10.1.1.1", 23));
	r = rules_of(mem, true, "[2001:db8::]/32:0-1023");
	assert_true(allowed_addr(r, "2001:db8::5", 0));
	assert_true(allowed_addr(r, "2001:db8::5", 1023));
	assert_false(allowed_addr(r, "2001:db8::5", 1024));
	r = rules_of(mem, true, "[::1]:65535");
	assert_true(allowed_addr(r, "::1", 65535));
	assert_false(allowed_addr(r, "::1", 65534));
	talloc_free(mem);
}

static void test_rules_deny_wins(void **unused)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r = target_rules_create(mem);

	assert_true(target_rules_empty(r));
	assert_false(target_rules_restrict(r));
	assert_true(allowed_name(r, "anything", 1));
	assert_true(allowed_addr(r, "127.0.0.1", 0));

	/* deny rules only: everything else still goes */
	assert_null(target_rules_add(r, false, "bad.example.org"));
	assert_false(target_rules_empty(r));
	assert_false(target_rules_restrict(r));
	assert_false(allowed_name(r, "bad.example.org", 1));
	assert_true(allowed_name(r, "other.org", 1));

	/* an allow rule restricts, and the deny still wins over it */
	assert_null(target_rules_add(r, true, "*.example.org"));
	assert_true(target_rules_restrict(r));
	assert_false(allowed_name(r, "bad.example.org", 1));
	assert_true(allowed_name(r, "good.example.org", 1));
	assert_false(allowed_name(r, "other.org", 1));

	/* whichever comes first */
	r = rules_of(mem, true, "*");
	assert_null(target_rules_add(r, false, "10.0.0.0/8"));
	assert_false(allowed_addr(r, "10.0.0.1", 1));
	assert_true(allowed_addr(r, "11.0.0.1", 1));

	r = rules_of(mem, false, "*");
	assert_null(target_rules_add(r, true, "*"));
	assert_false(allowed_name(r, "example.org", 1));
	assert_false(allowed_addr(r, "::1", 1));
	assert_false(target_allowed(r, NULL, NULL, 0));
	talloc_free(mem);
}

static void test_rules_bad_specs(void **unused)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "::/129", "[::1]/129", "1.2.3.4/", "1.2.3.4/x",
		"1.2.3.4/ 8", "[::1", "[::1]x", "example.org:70000",
		"example.org:", "example.org:2-1", "example.org:1-",
		"example.org:-1", "example.org:80x", "a/b", "", ":80", "[]",
		"*.", "*.*", "a*", "a b", "exa\x01mple.org",
	};
	TALLOC_CTX *mem = talloc_new(NULL);
	struct target_rules *r = target_rules_create(mem);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = target_rules_add(r, false, bad[i]);

		if (why == NULL) {
			fail_msg("'%s' taken", bad[i]);
		}
		assert_true(why[0] != '\0');
	}
	assert_string_equal(target_rules_add(r, true, "[::1"),
			    "missing ']' after the IPv6 address");
	assert_string_equal(target_rules_add(r, true, "h:70000"),
			    "bad port: expected N or N-M, from 0 to 65535");
	assert_string_equal(target_rules_add(r, true, "a/b"),
			    "expected *, an address, a CIDR block or a host "
			    "name");
	/* nothing was added */
	assert_true(target_rules_empty(r));
	assert_false(target_rules_restrict(r));
	talloc_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_schemes),
		cmocka_unit_test(test_url_ipv6),
		cmocka_unit_test(test_url_escapes),
		cmocka_unit_test(test_url_errors),
		cmocka_unit_test(test_socks5_client_messages),
		cmocka_unit_test(test_socks5_long_name),
		cmocka_unit_test(test_socks5_reply_texts),
		cmocka_unit_test(test_socks5_client_checks),
		cmocka_unit_test(test_socks4_client),
		cmocka_unit_test(test_http_connect_request),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_http_check_reply),
		cmocka_unit_test(test_socks5_request_parse),
		cmocka_unit_test(test_socks5_userpass_parse),
		cmocka_unit_test(test_socks5_reply),
		cmocka_unit_test(test_socks4_request_parse),
		cmocka_unit_test(test_http_request_parse),
		cmocka_unit_test(test_http_request_nul_in_target),
		cmocka_unit_test(test_http_credentials),
		cmocka_unit_test(test_rules_cidr),
		cmocka_unit_test(test_rules_v4_mapped),
		cmocka_unit_test(test_rules_names),
		cmocka_unit_test(test_rules_trailing_dot),
		cmocka_unit_test(test_rules_ports),
		cmocka_unit_test(test_rules_deny_wins),
		cmocka_unit_test(test_rules_bad_specs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
