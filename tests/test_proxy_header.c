/*
 * test_proxy_header.c - unit tests of the PROXY protocol codec
 * (src/proxy_header.c): round trips of both versions and every family,
 * the spec's own v1 lines, a header fed as a reader would feed it, and
 * each way a header can be wrong
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include "proxy_header.h"

#define SA(ss) ((const struct sockaddr *)&(ss))

/* v2's signature, then the 0x21 of the PROXY command */
#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define SIG_LEN 12

/* What the conversation sends after the header: never to be taken. */
#define AFTER "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"

static struct sockaddr_storage in4(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage in6(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin6_family = AF_INET6;
	in->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &in->sin6_addr), 1);
	return ss;
}

/*
 * A unix address of n bytes of name (path's NUL included, as the kernel
 * counts it, or "@name" for an abstract one, or "" for an unnamed one).
 */
static struct sockaddr_storage un(const char *path, socklen_t *len)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *u = (struct sockaddr_un *)&ss;
	size_t n = strlen(path);

	memset(&ss, 0, sizeof(ss));
	u->sun_family = AF_UNIX;
	if (path[0] == '@') {
		memcpy(u->sun_path + 1, path + 1, n - 1);
	} else if (n > 0) {
		memcpy(u->sun_path, path, n);
		n++;
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return ss;
}

/* Parse the whole of buf: a complete header of want bytes. */
static void parse_ok(const void *buf, size_t len, size_t want,
		     struct proxy_header *h)
{
	const char *error = NULL;
	size_t need = 0;
	int ret;

	ret = proxy_header_parse(buf, len, h, &need, &error);
	if (ret != 1) {
		fail_msg("parse: %d (%s, need %zu)", ret,
			 error != NULL ? error : "no error", need);
	}
	assert_null(error);
	assert_int_equal(h->length, want);
}

/* Parsing buf fails with a message containing want. */
static void parse_fails(const void *buf, size_t len, const char *want)
{
	struct proxy_header h;
	const char *error = NULL;
	size_t need = 0;
	int ret;

	ret = proxy_header_parse(buf, len, &h, &need, &error);
	if (ret != -1) {
		fail_msg("'%.*s': %d (need %zu), want the error \"%s\"",
			 (int)len, (const char *)buf, ret, need, want);
	}
	assert_non_null(error);
	if (strstr(error, want) == NULL) {
		fail_msg("got \"%s\", want \"%s\"", error, want);
	}
}

#define PARSE_FAILS(lit, want) parse_fails(lit, sizeof(lit) - 1, want)

/* Parsing buf wants more: at least min in all. */
static void parse_short(const void *buf, size_t len, size_t min)
{
	struct proxy_header h;
	const char *error = NULL;
	size_t need = 0;
	int ret;

	ret = proxy_header_parse(buf, len, &h, &need, &error);
	if (ret != 0) {
		fail_msg("%zu bytes: %d (%s), want 0", len, ret,
			 error != NULL ? error : "no error");
	}
	assert_true(need > len);
	assert_true(need >= min);
}

static void same_address(const struct sockaddr_storage *a, socklen_t alen,
			 const struct sockaddr_storage *b, socklen_t blen)
{
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
}

/*
 * Build a header, check it parses back to the same, with the
 * conversation's bytes after it left alone; returns its length.
 */
static size_t round_trip(int version, int socktype,
			 const struct sockaddr_storage *src, socklen_t slen,
			 const struct sockaddr_storage *dst, socklen_t dlen,
			 uint8_t *buf, struct proxy_header *h)
{
	ssize_t n;

	n = proxy_header_build(buf, PROXY_HEADER_BUILD_MAX, version,
			       socktype, (const struct sockaddr *)src, slen,
			       (const struct sockaddr *)dst, dlen);
	assert_true(n > 0);
	memcpy(buf + n, AFTER, sizeof(AFTER));
	parse_ok(buf, (size_t)n + sizeof(AFTER), (size_t)n, h);
	assert_int_equal(h->version, version);
	return (size_t)n;
}

static void round_trip_same(int version, int socktype,
			    const struct sockaddr_storage *src, socklen_t slen,
			    const struct sockaddr_storage *dst, socklen_t dlen)
{
	uint8_t buf[PROXY_HEADER_BUILD_MAX + sizeof(AFTER)];
	struct proxy_header h;

	round_trip(version, socktype, src, slen, dst, dlen, buf, &h);
	assert_false(h.local);
	assert_int_equal(h.socktype, socktype);
	same_address(&h.src, h.src_len, src, slen);
	same_address(&h.dst, h.dst_len, dst, dlen);
}

/* Rule: v1 writes the spec's line for TCP4 and TCP6, and reads it back. */
static void test_v1_round_trip(void **state)
{
	struct sockaddr_storage s4 = in4("192.168.0.1", 56324);
	struct sockaddr_storage d4 = in4("192.168.0.11", 443);
	struct sockaddr_storage s6 = in6("2001:db8::1", 0);
	struct sockaddr_storage d6 = in6("::ffff:10.0.0.1", 65535);
	uint8_t buf[PROXY_HEADER_BUILD_MAX + sizeof(AFTER)];
	struct proxy_header h;
	size_t n;

	n = round_trip(1, SOCK_STREAM, &s4, sizeof(struct sockaddr_in), &d4,
		       sizeof(struct sockaddr_in), buf, &h);
	assert_memory_equal(buf, "PROXY TCP4 192.168.0.1 192.168.0.11 "
			    "56324 443\r\n", n);
	round_trip_same(1, SOCK_STREAM, &s4, sizeof(struct sockaddr_in), &d4,
			sizeof(struct sockaddr_in));

	n = round_trip(1, SOCK_STREAM, &s6, sizeof(struct sockaddr_in6), &d6,
		       sizeof(struct sockaddr_in6), buf, &h);
	assert_memory_equal(buf, "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 "
			    "0 65535\r\n", n);
	round_trip_same(1, SOCK_STREAM, &s6, sizeof(struct sockaddr_in6),
			&d6, sizeof(struct sockaddr_in6));
}

/* Rule: v2 carries TCP and UDP over IPv4 and IPv6, as haproxy writes it. */
static void test_v2_round_trip_inet(void **state)
{
	/* what haproxy sent for 172.19.0.1:42578 to 172.19.0.3:80 */
	static const uint8_t haproxy[] =
		SIG "\x21\x11\x00\x0c"
		"\xac\x13\x00\x01\xac\x13\x00\x03\xa6\x52\x00\x50";
	struct sockaddr_storage s4 = in4("172.19.0.1", 42578);
	struct sockaddr_storage d4 = in4("172.19.0.3", 80);
	struct sockaddr_storage s6 = in6("fe80::1:2:3:4", 1);
	struct sockaddr_storage d6 = in6("ffff:ffff:ffff:ffff:ffff:ffff:"
					 "ffff:ffff", 65535);
	uint8_t buf[PROXY_HEADER_BUILD_MAX + sizeof(AFTER)];
	struct proxy_header h;
	size_t n;

	n = round_trip(2, SOCK_STREAM, &s4, sizeof(struct sockaddr_in), &d4,
		       sizeof(struct sockaddr_in), buf, &h);
	assert_int_equal(n, sizeof(haproxy) - 1);
	assert_memory_equal(buf, haproxy, n);
	round_trip_same(2, SOCK_STREAM, &s4, sizeof(struct sockaddr_in), &d4,
			sizeof(struct sockaddr_in));
	round_trip_same(2, SOCK_DGRAM, &s4, sizeof(struct sockaddr_in), &d4,
			sizeof(struct sockaddr_in));
	assert_int_equal(h.tlv_offset, 0);
	assert_int_equal(h.tlv_length, 0);

	n = round_trip(2, SOCK_DGRAM, &s6, sizeof(struct sockaddr_in6), &d6,
		       sizeof(struct sockaddr_in6), buf, &h);
	assert_int_equal(n, 16 + 36);
	assert_int_equal(buf[12], 0x21);
	assert_int_equal(buf[13], 0x22);
	round_trip_same(2, SOCK_STREAM, &s6, sizeof(struct sockaddr_in6),
			&d6, sizeof(struct sockaddr_in6));
	round_trip_same(2, SOCK_DGRAM, &s6, sizeof(struct sockaddr_in6), &d6,
			sizeof(struct sockaddr_in6));
}

/* Rule: v2 carries unix paths, abstract names and unnamed sockets. */
static void test_v2_round_trip_unix(void **state)
{
	char longest[109];
	socklen_t slen, dlen;
	struct sockaddr_storage src = un("", &slen);
	struct sockaddr_storage dst = un("/run/tsock/front.sock", &dlen);
	uint8_t buf[PROXY_HEADER_BUILD_MAX + sizeof(AFTER)];
	struct proxy_header h;
	size_t n;

	/* a client of a unix listener is usually unnamed */
	n = round_trip(2, SOCK_STREAM, &src, slen, &dst, dlen, buf, &h);
	assert_int_equal(n, 16 + 216);
	assert_int_equal(buf[13], 0x31);
	assert_int_equal(h.src_len, sizeof(sa_family_t));
	round_trip_same(2, SOCK_STREAM, &src, slen, &dst, dlen);
	round_trip_same(2, SOCK_DGRAM, &dst, dlen, &src, slen);

	src = un("@tsock-abstract", &slen);
	round_trip_same(2, SOCK_STREAM, &src, slen, &dst, dlen);

	/* a path of all 108 bytes has no NUL, in v2 as in the kernel */
	memset(longest, 'x', 108);
	longest[0] = '/';
	longest[108] = '\0';
	src = un(longest, &slen);
	slen--;
	assert_int_equal(slen, sizeof(struct sockaddr_un));
	round_trip_same(2, SOCK_STREAM, &src, slen, &dst, dlen);

	/* a path given without its NUL comes back with it */
	dlen--;
	round_trip(2, SOCK_STREAM, &src, slen, &dst, dlen, buf, &h);
	same_address(&h.dst, h.dst_len, &dst, dlen + 1);
}

/*
 * Rule: what a version cannot carry is v1 UNKNOWN or v2 LOCAL (nothing,
 * families that differ, AF_UNIX or UDP in v1, short sockaddrs), which
 * parse as local, with no addresses.
 */
static void test_unknown_and_local(void **state)
{
	struct sockaddr_storage s4 = in4("10.1.2.3", 1234);
	struct sockaddr_storage d6 = in6("::1", 80);
	socklen_t ulen;
	struct sockaddr_storage u = un("/tmp/x", &ulen);
	uint8_t buf[PROXY_HEADER_BUILD_MAX + sizeof(AFTER)];
	const struct {
		int socktype;
		const struct sockaddr_storage *src, *dst;
		socklen_t slen, dlen;
		bool v2_carries;
	} cases[] = {
		{ SOCK_STREAM, NULL, NULL, 0, 0, false },
		{ SOCK_STREAM, &s4, NULL, sizeof(struct sockaddr_in), 0,
		  false },
		{ SOCK_STREAM, NULL, &s4, 0, sizeof(struct sockaddr_in),
		  false },
		{ SOCK_STREAM, &s4, &d6, sizeof(struct sockaddr_in),
		  sizeof(struct sockaddr_in6), false },
		{ SOCK_STREAM, &u, &u, ulen, ulen, true },
		{ SOCK_DGRAM, &s4, &s4, sizeof(struct sockaddr_in),
		  sizeof(struct sockaddr_in), true },
		{ SOCK_SEQPACKET, &u, &u, ulen, ulen, false },
		{ SOCK_STREAM, &s4, &s4, sizeof(struct sockaddr_in) - 1,
		  sizeof(struct sockaddr_in), false },
		{ SOCK_STREAM, &d6, &d6, sizeof(struct sockaddr_in6),
		  sizeof(struct sockaddr_in), false },
		{ SOCK_STREAM, &u, &u, 1, ulen, false },
	};
	struct proxy_header h;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = round_trip(1, cases[i].socktype, cases[i].src,
			       cases[i].slen, cases[i].dst, cases[i].dlen,
			       buf, &h);
		assert_int_equal(n, 15);
		assert_memory_equal(buf, "PROXY UNKNOWN\r\n", 15);
		assert_true(h.local);
		assert_int_equal(h.socktype, 0);
		assert_int_equal(h.src.ss_family, AF_UNSPEC);
		assert_int_equal(h.dst.ss_family, AF_UNSPEC);
		assert_int_equal(h.src_len, 0);
		assert_int_equal(h.dst_len, 0);

		n = round_trip(2, cases[i].socktype, cases[i].src,
			       cases[i].slen, cases[i].dst, cases[i].dlen,
			       buf, &h);
		if (cases[i].v2_carries) {
			assert_false(h.local);
			continue;
		}
		assert_int_equal(n, 16);
		assert_memory_equal(buf, SIG "\x20\x00\x00\x00", 16);
		assert_true(h.local);
		assert_int_equal(h.socktype, 0);
		assert_int_equal(h.src.ss_family, AF_UNSPEC);
		assert_int_equal(h.dst.ss_family, AF_UNSPEC);
		assert_int_equal(h.src_len, 0);
		assert_int_equal(h.dst_len, 0);
	}
}

/* Rule: the spec's v1 lines, its longest ones included, parse. */
static void test_v1_spec_lines(void **state)
{
	static const char example[] =
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
		"GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
	static const char tcp4_max[] =
		"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
	static const char tcp6_max[] =
		"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char worst[] =
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	struct sockaddr_storage want;
	struct proxy_header h;

	parse_ok(example, sizeof(example) - 1, 47, &h);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_int_equal(h.socktype, SOCK_STREAM);
	want = in4("192.168.0.1", 56324);
	same_address(&h.src, h.src_len, &want, sizeof(struct sockaddr_in));
	want = in4("192.168.0.11", 443);
	same_address(&h.dst, h.dst_len, &want, sizeof(struct sockaddr_in));

	parse_ok(tcp4_max, sizeof(tcp4_max) - 1, 56, &h);
	want = in4("255.255.255.255", 65535);
	same_address(&h.src, h.src_len, &want, sizeof(struct sockaddr_in));

	parse_ok(tcp6_max, sizeof(tcp6_max) - 1, 104, &h);
	want = in6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	same_address(&h.dst, h.dst_len, &want, sizeof(struct sockaddr_in6));

	parse_ok("PROXY UNKNOWN\r\n", 15, 15, &h);
	assert_true(h.local);
	assert_int_equal(sizeof(worst) - 1, PROXY_HEADER_V1_MAX);
	parse_ok(worst, sizeof(worst) - 1, PROXY_HEADER_V1_MAX, &h);
	assert_true(h.local);
	assert_int_equal(h.src.ss_family, AF_UNSPEC);
	/* whatever comes before the CRLF */
	parse_ok("PROXY UNKNOWN \r\n", 16, 16, &h);
	parse_ok("PROXY UNKNOWN a b\t\x01\xff\r\n", 22, 22, &h);
	assert_true(h.local);
	/* the lowest values, and every IPv6 form inet_pton reads */
	parse_ok("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", 32, 32, &h);
	parse_ok("PROXY TCP6 :: :: 0 0\r\n", 22, 22, &h);
	parse_ok("PROXY TCP6 ::FFFF:1.2.3.4 1::2 1 2\r\n", 36, 36, &h);
}

/*
 * Feed buf (a header of hlen bytes and more) as a reader would, only
 * ever the bytes asked for; check that what is asked for never goes
 * past the header, and how many reads that took.
 */
static size_t feed(const uint8_t *buf, size_t len, size_t hlen,
		   struct proxy_header *h)
{
	const char *error = NULL;
	size_t have = 0, need = 0, reads = 0;
	int ret;

	for (;;) {
		ret = proxy_header_parse(buf, have, h, &need, &error);
		if (ret != 0) {
			break;
		}
		assert_true(need > have);
		if (need > hlen) {
			fail_msg("%zu bytes in, asked for %zu of a %zu-byte "
				 "header", have, need, hlen);
		}
		assert_true(need <= len);
		have = need;
		reads++;
	}
	if (ret != 1) {
		fail_msg("%zu bytes in: %d (%s)", have, ret,
			 error != NULL ? error : "no error");
	}
	assert_int_equal(have, hlen);
	assert_int_equal(h->length, hlen);
	return reads;
}

/* Rule: a reader that reads exactly what it is asked for gets the header
 * and no byte after it, for every kind of header. */
static void test_incremental(void **state)
{
	static const char *const v1[] = {
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n",
		"PROXY TCP6 :: :: 0 0\r\n",
		"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN \r\n",
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		"PROXY UNKNOWN\r\r\r\r\n",
	};
	/* v2 headers of every family, LOCAL, and TLVs; lengths given */
	static const struct {
		const char *bytes;
		size_t len;
	} v2[] = {
		{ SIG "\x20\x00\x00\x00", 16 },
		{ SIG "\x21\x11\x00\x0c" "\1\2\3\4\5\6\7\x8\0\x50\1\xbb", 28 },
		{ SIG "\x21\x12\x00\x0f" "\1\2\3\4\5\6\7\x8\0\x50\1\xbb"
		  "\x04\0\0", 31 },
		{ SIG "\x20\x21\x00\x05" "abcde", 21 },
		{ SIG "\x21\x00\x00\x02" "ab", 18 },
	};
	uint8_t buf[PROXY_HEADER_V2_MAX + sizeof(AFTER)];
	struct sockaddr_storage s6 = in6("2001:db8::1", 4711);
	socklen_t slen;
	struct sockaddr_storage su = un("/some/path", &slen);
	struct proxy_header h;
	size_t i, n, reads;
	ssize_t b;

	for (i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		n = strlen(v1[i]);
		memcpy(buf, v1[i], n);
		memcpy(buf + n, AFTER, sizeof(AFTER));
		if (strstr(v1[i], "\r\r") != NULL) {
			/* CR then CR: not a line end, and not allowed */
			parse_fails(buf, n, "CR not followed by LF");
			continue;
		}
		reads = feed(buf, n + sizeof(AFTER), n, &h);
		/* the line's end is looked for two bytes at a time */
		assert_true(reads <= 2 + (n - 15 + 1) / 2 + 1);
	}
	for (i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
		memcpy(buf, v2[i].bytes, v2[i].len);
		memcpy(buf + v2[i].len, AFTER, sizeof(AFTER));
		reads = feed(buf, v2[i].len + sizeof(AFTER), v2[i].len, &h);
		/* 8 bytes, 16, the rest */
		assert_true(reads <= 3);
	}
	/* the largest v2 header: its addresses, then TLVs up to the cap */
	b = proxy_header_build(buf, sizeof(buf), 2, SOCK_STREAM, SA(su), slen,
			       SA(s6), sizeof(struct sockaddr_in6));
	assert_int_equal(b, 16);	/* families differ: LOCAL */
	b = proxy_header_build(buf, sizeof(buf), 2, SOCK_STREAM, SA(su), slen,
			       SA(su), slen);
	assert_int_equal(b, 16 + 216);
	n = PROXY_HEADER_V2_MAX - (size_t)b - 3;
	buf[b] = 0xe0;
	buf[b + 1] = (uint8_t)(n >> 8);
	buf[b + 2] = (uint8_t)n;
	memset(buf + b + 3, 'T', n);
	buf[14] = (PROXY_HEADER_V2_MAX - 16) >> 8;
	buf[15] = (PROXY_HEADER_V2_MAX - 16) & 0xff;
	memcpy(buf + PROXY_HEADER_V2_MAX, AFTER, sizeof(AFTER));
	feed(buf, PROXY_HEADER_V2_MAX + sizeof(AFTER), PROXY_HEADER_V2_MAX,
	     &h);
	assert_false(h.local);
	assert_int_equal(h.src.ss_family, AF_UNIX);
	assert_int_equal(h.tlv_offset, 16 + 216);
	assert_int_equal(h.tlv_length, n + 3);
}

/* Rule: what to have first, and the least each version asks for. */
static void test_need(void **state)
{
	static const uint8_t sig[] = SIG "\x21\x11\x00\x0c";
	struct proxy_header h;
	size_t need = 0, i;

	assert_int_equal(proxy_header_parse((const uint8_t *)"", 0, &h, &need,
					    NULL), 0);
	assert_int_equal(need, 8);
	/* NULL need and error are fine */
	assert_int_equal(proxy_header_parse((const uint8_t *)"", 0, &h, NULL,
					    NULL), 0);
	for (i = 1; i < 8; i++) {
		parse_short("PROXY TCP4 ", i, 8);
		parse_short(sig, i, 8);
	}
	for (i = 8; i < 16; i++) {
		parse_short(sig, i, 16);
	}
	parse_short(sig, 16, 28);
	/* UNKNOWN can be 15 bytes; TCP6 22; TCP4 32 */
	parse_short("PROXY UNK", 9, 15);
	parse_short("PROXY TCP6", 10, 22);
	parse_short("PROXY TCP4", 10, 32);
	assert_int_equal(proxy_header_parse((const uint8_t *)"PROXY TC", 8, &h,
					    &need, NULL), 0);
	assert_int_equal(need, 22);
	/* after a CR, the LF: one more byte */
	assert_int_equal(proxy_header_parse((const uint8_t *)
		"PROXY UNKNOWN junk\r", 19, &h, &need, NULL), 0);
	assert_int_equal(need, 20);
	assert_int_equal(proxy_header_parse((const uint8_t *)
		"PROXY UNKNOWN junk", 18, &h, &need, NULL), 0);
	assert_int_equal(need, 20);
}

/* Rule: every way a v1 line can be wrong is an error that says which. */
static void test_v1_errors(void **state)
{
	struct proxy_header h;
	char line[256];

	PARSE_FAILS("GET / HTTP/1.1\r\n", "not a PROXY protocol header");
	PARSE_FAILS("PROXZ", "not a PROXY protocol header");
	PARSE_FAILS("proxy TCP4", "not a PROXY protocol header");
	PARSE_FAILS("PROXY\r\n", "no space after PROXY");
	PARSE_FAILS("PROXY  TCP4", "not TCP4, TCP6 or UNKNOWN");
	PARSE_FAILS("PROXY TCP5 ", "not TCP4, TCP6 or UNKNOWN");
	PARSE_FAILS("PROXY UDP4 ", "not TCP4, TCP6 or UNKNOWN");
	PARSE_FAILS("PROXY UNKNOWNX\r\n", "not TCP4, TCP6 or UNKNOWN");
	PARSE_FAILS("PROXY TCP4\r\n", "not TCP4, TCP6 or UNKNOWN");
	PARSE_FAILS("PROXY \r\n", "not TCP4, TCP6 or UNKNOWN");
	/* a lone LF or CR does not end the line */
	PARSE_FAILS("PROXY UNKNOWN \n", "LF without CR");
	PARSE_FAILS("PROXY UNKNOWN\n", "not TCP4, TCP6 or UNKNOWN");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR");
	PARSE_FAILS("PROXY UNKNOWN\rX", "CR not followed by LF");
	PARSE_FAILS("PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n",
		    "CR not followed by LF");
	/* addresses */
	PARSE_FAILS("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		    "v1: bad source address");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n",
		    "v1: bad destination address");
	PARSE_FAILS("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
		    "v1: bad source address");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n",
		    "v1: bad destination address");
	PARSE_FAILS("PROXY TCP4 ::1 ::1 1 2\r\n", "v1: bad source address");
	PARSE_FAILS("PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
		    "v1: bad source address");
	PARSE_FAILS("PROXY TCP6 ::1 fe80::1%1 1 2\r\n",
		    "v1: bad destination address");
	PARSE_FAILS("PROXY TCP6 ::1 1::2::3 1 2\r\n",
		    "v1: bad destination address");
	PARSE_FAILS("PROXY TCP4 localhost 5.6.7.8 1 2\r\n",
		    "v1: bad source address");
	PARSE_FAILS("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n",
		    "v1: bad source address");
	/* ports */
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		    "v1: bad source port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
		    "v1: bad destination port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
		    "v1: bad source port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",
		    "v1: bad destination port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",
		    "v1: bad destination port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 999999\r\n",
		    "v1: bad destination port");
	/* spaces: exactly one between fields, none at the ends */
	PARSE_FAILS("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
		    "v1: bad source address");
	PARSE_FAILS("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
		    "v1: bad destination address");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
		    "more after the destination port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		    "more after the destination port");
	PARSE_FAILS("PROXY TCP4 1.2.3.4\r\n", "destination address missing");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8\r\n", "source port missing");
	PARSE_FAILS("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		    "destination port missing");
	PARSE_FAILS("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
		    "v1: bad source address");

	/*
	 * 107 bytes at most, CRLF included, and known to be too long as
	 * soon as the CRLF cannot fit any more
	 */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	parse_short(line, 105, 107);
	parse_fails(line, 106, "v1 header longer than 107 bytes");
	parse_fails(line, sizeof(line), "v1 header longer than 107 bytes");
	memcpy(line + 106, "\r\n", 2);
	parse_fails(line, 108, "v1 header longer than 107 bytes");
	memcpy(line + 105, "\r\n", 2);
	parse_short(line, 106, 107);
	parse_ok(line, sizeof(line), 107, &h);
	assert_true(h.local);
	/* truncated: no verdict yet, whatever the cut */
	parse_short("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31, 32);
	parse_short("PROXY TCP4 1.2.3.4 5.6.7.8 65536", 32, 34);
}

/* Rule: every way a v2 header can be wrong is an error that says which. */
static void test_v2_errors(void **state)
{
	uint8_t buf[PROXY_HEADER_V2_MAX + 64];
	const char *error = NULL;
	struct proxy_header h;
	size_t need;

	PARSE_FAILS("\r\n\r\n\0\r\nQUIT\r", "not a PROXY protocol header");
	PARSE_FAILS("\r\n\r\n\1", "not a PROXY protocol header");
	PARSE_FAILS("\r\r", "not a PROXY protocol header");
	PARSE_FAILS("\x16\x03\x01", "not a PROXY protocol header");
	PARSE_FAILS(SIG "\x11\x11\x00\x0c",
		    "v2: unsupported version/command 0x11");
	PARSE_FAILS(SIG "\x31", "v2: unsupported version/command 0x31");
	PARSE_FAILS(SIG "\x22\x11\x00\x0c",
		    "v2: unsupported version/command 0x22");
	PARSE_FAILS(SIG "\x2f", "v2: unsupported version/command 0x2f");
	PARSE_FAILS(SIG "\x21\x41", "v2: unknown address family in 0x41");
	PARSE_FAILS(SIG "\x21\xf0", "v2: unknown address family in 0xf0");
	PARSE_FAILS(SIG "\x21\x13", "v2: unknown transport protocol in 0x13");
	PARSE_FAILS(SIG "\x21\x21\x00\x08",
		    "v2: address length 8 too short for AF_INET6");
	PARSE_FAILS(SIG "\x21\x11\x00\x0b",
		    "v2: address length 11 too short for AF_INET");
	PARSE_FAILS(SIG "\x21\x32\x00\xd7",
		    "v2: address length 215 too short for AF_UNIX");
	PARSE_FAILS(SIG "\x21\x11\x04\x01",
		    "v2 header too long (1041 bytes; at most 1040)");
	PARSE_FAILS(SIG "\x20\x00\xff\xff",
		    "v2 header too long (65551 bytes; at most 1040)");
	/* TLVs that do not fit the length */
	PARSE_FAILS(SIG "\x21\x11\x00\x0f" "\1\2\3\4\5\6\7\x8\0\x50\1\xbb"
		    "\x01\x00\x01", "v2: TLV 0x01 of 1 bytes overruns");
	PARSE_FAILS(SIG "\x21\x11\x00\x14" "\1\2\3\4\5\6\7\x8\0\x50\1\xbb"
		    "\x02\x00\x02zz" "\x05\xff\xff",
		    "v2: TLV 0x05 of 65535 bytes overruns the header by 65535");
	PARSE_FAILS(SIG "\x21\x11\x00\x0e" "\1\2\3\4\5\6\7\x8\0\x50\1\xbb"
		    "\x04\x00", "2 bytes after the last TLV");
	/* LOCAL, or an UNSPEC half, skips the block: no TLVs in it */
	parse_ok(SIG "\x20\x11\x00\x03" "\x01\x00\x09", 19, 19, &h);
	assert_true(h.local);
	parse_ok(SIG "\x20\xff\x00\x00", 16, 16, &h);
	assert_true(h.local);
	parse_ok(SIG "\x21\x01\x00\x03" "xyz", 19, 19, &h);
	assert_true(h.local);
	assert_int_equal(h.socktype, SOCK_STREAM);
	parse_ok(SIG "\x21\x10\x00\x00", 16, 16, &h);
	assert_true(h.local);
	assert_int_equal(h.socktype, 0);
	/* TLVs that do fit: kept for the caller */
	parse_ok(SIG "\x21\x11\x00\x14" "\1\2\3\4\5\6\7\x8\0\x50\1\xbb"
		 "\x02\x00\x02zz" "\x04\x00\x00" AFTER, 16 + 20 +
		 sizeof(AFTER), 36, &h);
	assert_false(h.local);
	assert_int_equal(h.tlv_offset, 28);
	assert_int_equal(h.tlv_length, 8);

	/* truncated: 0 and the length the header gives */
	parse_short(SIG "\x21\x21\x00\x24" "0123456789", 26, 52);
	/* the cap itself is fine */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, SIG "\x20\x00", 14);
	buf[14] = (PROXY_HEADER_V2_MAX - 16) >> 8;
	buf[15] = (PROXY_HEADER_V2_MAX - 16) & 0xff;
	assert_int_equal(proxy_header_parse(buf, 16, &h, &need, &error), 0);
	assert_int_equal(need, PROXY_HEADER_V2_MAX);
	parse_ok(buf, sizeof(buf), PROXY_HEADER_V2_MAX, &h);
}

/* Rule: building into too small a buffer fails, and writes nothing. */
static void test_build_sizes(void **state)
{
	struct sockaddr_storage s6 = in6("ffff:ffff:ffff:ffff:ffff:ffff:"
					 "ffff:ffff", 65535);
	struct sockaddr_storage s4 = in4("1.2.3.4", 5);
	socklen_t ulen;
	struct sockaddr_storage u = un("/tmp/x", &ulen);
	uint8_t buf[PROXY_HEADER_BUILD_MAX + 1];
	const struct {
		int version;
		const struct sockaddr_storage *sa;
		socklen_t len;
		size_t want;
	} cases[] = {
		{ 1, &s6, sizeof(struct sockaddr_in6), 104 },
		{ 1, &s4, sizeof(struct sockaddr_in), 32 },
		{ 1, NULL, 0, 15 },
		{ 2, &s6, sizeof(struct sockaddr_in6), 52 },
		{ 2, &s4, sizeof(struct sockaddr_in), 28 },
		{ 2, &u, ulen, PROXY_HEADER_BUILD_MAX },
		{ 2, NULL, 0, 16 },
	};
	size_t i, size;
	ssize_t n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sockaddr *sa =
			(const struct sockaddr *)cases[i].sa;

		for (size = 0; size < cases[i].want; size++) {
			memset(buf, 0xaa, sizeof(buf));
			errno = 0;
			n = proxy_header_build(buf, size, cases[i].version,
					       SOCK_STREAM, sa, cases[i].len,
					       sa, cases[i].len);
			assert_int_equal(n, -1);
			assert_int_equal(errno, ENOBUFS);
			assert_int_equal(buf[0], 0xaa);
		}
		memset(buf, 0xaa, sizeof(buf));
		n = proxy_header_build(buf, size, cases[i].version,
				       SOCK_STREAM, sa, cases[i].len, sa,
				       cases[i].len);
		assert_int_equal(n, cases[i].want);
		/* no NUL or anything else after it */
		assert_int_equal(buf[n], 0xaa);
	}
	errno = 0;
	assert_int_equal(proxy_header_build(buf, sizeof(buf), 3, SOCK_STREAM,
					    NULL, 0, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(proxy_header_build(buf, sizeof(buf), 0, SOCK_STREAM,
					    NULL, 0, NULL, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_round_trip),
		cmocka_unit_test(test_v2_round_trip_inet),
		cmocka_unit_test(test_v2_round_trip_unix),
		cmocka_unit_test(test_unknown_and_local),
		cmocka_unit_test(test_v1_spec_lines),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_need),
		cmocka_unit_test(test_v1_errors),
		cmocka_unit_test(test_v2_errors),
		cmocka_unit_test(test_build_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
