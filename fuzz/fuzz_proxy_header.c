/*
 * fuzz_proxy_header.c - fuzz target for the PROXY protocol codec
 * (src/proxy_header.c)
 *
 * Input: the bytes a connection starts with, a header and what follows
 * it, parsed as they are; the same bytes are then read again as what to
 * build a header of (version, socktype, the two sockaddrs).  Checked
 * besides the sanitizers:
 *  - 0 means need > len, need at most 107 for v1 and at most the cap for
 *    v2, 8 for no bytes at all, and no error; -1 comes with a message;
 *  - 1: the header took at most len bytes (15 or more, a v1 line at
 *    most 107 ending in CRLF, a v2 one 16 plus its length field, at most
 *    the cap), both addresses of one family that the version carries,
 *    with their lengths, or local and none; TLVs inside the header;
 *  - every prefix of the input gives 0 or the whole input's verdict
 *    (the same header, or the same message), and a reader that reads
 *    exactly what it is asked for gets that verdict without ever being
 *    asked for a byte past the header;
 *  - what was parsed, built again, parses to the same addresses, and no
 *    smaller buffer takes it;
 *  - a header built from arbitrary sockaddrs parses, and carries what
 *    they said or nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The longest header and a little after it. */
#define MAX_INPUT (PROXY_HEADER_V2_MAX + 64)

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

struct verdict {
	int ret;
	size_t need;
	struct proxy_header h;
	const char *error;
};

static void parse(const uint8_t *buf, size_t len, struct verdict *v)
{
	v->need = 0;
	v->error = NULL;
	v->ret = proxy_header_parse(buf, len, &v->h, &v->need, &v->error);
}

static bool same_header(const struct proxy_header *a,
			const struct proxy_header *b)
{
	return a->version == b->version && a->local == b->local &&
	       a->socktype == b->socktype && a->length == b->length &&
	       a->src_len == b->src_len && a->dst_len == b->dst_len &&
	       memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	       memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0 &&
	       a->tlv_offset == b->tlv_offset &&
	       a->tlv_length == b->tlv_length;
}

static socklen_t family_len(int family)
{
	switch (family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	case AF_UNIX:
		return sizeof(struct sockaddr_un);
	default:
		return 0;
	}
}

/* What a parser's answer must be on its own, for len bytes of buf. */
static void check_verdict(const uint8_t *buf, size_t len,
			  const struct verdict *v)
{
	const struct proxy_header *h = &v->h;

	switch (v->ret) {
	case 0:
		CHECK(v->error == NULL);
		CHECK(v->need > len);
		if (len == 0) {
			CHECK(v->need == 8);
		} else if (buf[0] == 'P') {
			CHECK(v->need <= PROXY_HEADER_V1_MAX);
		} else {
			CHECK(v->need <= PROXY_HEADER_V2_MAX);
		}
		return;
	case -1:
		CHECK(v->error != NULL && v->error[0] != '\0');
		CHECK(strlen(v->error) < sizeof(h->errbuf));
		return;
	case 1:
		break;
	default:
		CHECK(!"a return other than 1, 0 and -1");
	}
	CHECK(v->error == NULL);
	CHECK(h->length >= 15 && h->length <= len);
	if (h->version == 1) {
		CHECK(h->length <= PROXY_HEADER_V1_MAX);
		CHECK(buf[h->length - 2] == '\r' && buf[h->length - 1] == '\n');
		CHECK(memchr(buf, '\n', h->length - 1) == NULL);
		CHECK(h->tlv_offset == 0 && h->tlv_length == 0);
	} else {
		CHECK(h->version == 2);
		CHECK(h->length >= 16 && h->length <= PROXY_HEADER_V2_MAX);
		CHECK(h->length == 16 + ((size_t)buf[14] << 8 | buf[15]));
		CHECK(h->tlv_offset + h->tlv_length <= h->length);
		CHECK((h->tlv_offset == 0) == (h->tlv_length == 0));
		CHECK(h->tlv_length == 0 ||
		      h->tlv_offset + h->tlv_length == h->length);
	}
	if (h->local) {
		CHECK(h->src.ss_family == AF_UNSPEC);
		CHECK(h->dst.ss_family == AF_UNSPEC);
		CHECK(h->src_len == 0 && h->dst_len == 0);
		CHECK(h->socktype == 0 || h->version == 2);
		CHECK(h->tlv_length == 0);
		return;
	}
	CHECK(h->src.ss_family == h->dst.ss_family);
	if (h->version == 1) {
		CHECK(h->socktype == SOCK_STREAM);
	} else {
		CHECK(h->socktype == SOCK_STREAM || h->socktype == SOCK_DGRAM);
	}
	switch (h->src.ss_family) {
	case AF_INET:
	case AF_INET6:
		CHECK(h->src_len == family_len(h->src.ss_family));
		CHECK(h->dst_len == h->src_len);
		break;
	case AF_UNIX:
		CHECK(h->version == 2);
		CHECK(h->src_len >= offsetof(struct sockaddr_un, sun_path));
		CHECK(h->src_len <= sizeof(struct sockaddr_un));
		CHECK(h->dst_len >= offsetof(struct sockaddr_un, sun_path));
		CHECK(h->dst_len <= sizeof(struct sockaddr_un));
		break;
	default:
		CHECK(!"a family the header cannot carry");
	}
}

/*
 * Every prefix gives 0 or the verdict of the whole; every one is looked
 * at up to where v1 must have ended and v2's fixed part is, and then a
 * spread of them (a v2 parse cannot change before its length is there).
 */
static void check_prefixes(const uint8_t *buf, size_t size,
			   const struct verdict *whole)
{
	struct verdict v;
	size_t k;

	for (k = 0; k <= size; k += k < 128 ? 1 : 7) {
		parse(buf, k, &v);
		check_verdict(buf, k, &v);
		if (v.ret == 0) {
			/* never more than the whole turns out to need */
			if (whole->ret == 1) {
				CHECK(v.need <= whole->h.length);
			} else if (whole->ret == 0) {
				CHECK(v.need <= whole->need);
			}
			continue;
		}
		CHECK(v.ret == whole->ret);
		if (v.ret == 1) {
			CHECK(same_header(&v.h, &whole->h));
		} else {
			CHECK(strcmp(v.error, whole->error) == 0);
		}
	}
}

/*
 * A reader that reads exactly what it is asked for: never past the end
 * of the header, and the same verdict at the end.
 */
static void check_reader(const uint8_t *buf, size_t size,
			 const struct verdict *whole)
{
	struct verdict v;
	size_t have = 0;

	for (;;) {
		parse(buf, have, &v);
		check_verdict(buf, have, &v);
		if (v.ret != 0) {
			break;
		}
		CHECK(v.need > have);
		if (whole->ret == 1) {
			CHECK(v.need <= whole->h.length);
		}
		if (v.need > size) {
			/*
			 * The input ends before what was asked for (and,
			 * with need at most the header's length, before a
			 * complete header; the whole may fail on a byte
			 * the reader has not had).
			 */
			CHECK(whole->ret != 1);
			return;
		}
		have = v.need;
	}
	CHECK(v.ret == whole->ret);
	if (v.ret == 1) {
		CHECK(have == v.h.length);
		CHECK(same_header(&v.h, &whole->h));
	} else {
		CHECK(strcmp(v.error, whole->error) == 0);
	}
}

/* Build h again: the same addresses come back, and it takes no less. */
static void check_rebuild(const struct proxy_header *h)
{
	uint8_t buf[PROXY_HEADER_BUILD_MAX];
	struct verdict v;
	ssize_t n;

	if (h->local) {
		n = proxy_header_build(buf, sizeof(buf), h->version,
				       h->socktype, NULL, 0, NULL, 0);
	} else {
		n = proxy_header_build(buf, sizeof(buf), h->version,
				       h->socktype,
				       (const struct sockaddr *)&h->src,
				       h->src_len,
				       (const struct sockaddr *)&h->dst,
				       h->dst_len);
	}
	CHECK(n >= 15 && (size_t)n <= sizeof(buf));
	CHECK(proxy_header_build(buf, (size_t)n - 1, h->version, h->socktype,
				 (const struct sockaddr *)&h->src, h->src_len,
				 (const struct sockaddr *)&h->dst,
				 h->dst_len) == -1);
	CHECK(errno == ENOBUFS);
	parse(buf, (size_t)n, &v);
	check_verdict(buf, (size_t)n, &v);
	CHECK(v.ret == 1);
	CHECK(v.h.length == (size_t)n);
	CHECK(v.h.version == h->version);
	CHECK(v.h.local == h->local);
	if (!h->local) {
		CHECK(v.h.socktype == h->socktype);
		CHECK(v.h.src_len == h->src_len && v.h.dst_len == h->dst_len);
		CHECK(memcmp(&v.h.src, &h->src, h->src_len) == 0);
		CHECK(memcmp(&v.h.dst, &h->dst, h->dst_len) == 0);
	}
}

/* A unix address as v2 carries it back: the path, or the name trimmed. */
static void check_unix(const struct sockaddr_storage *given, socklen_t len,
		       const struct sockaddr_storage *got, socklen_t got_len)
{
	const struct sockaddr_un *g = (const struct sockaddr_un *)given;
	const struct sockaddr_un *u = (const struct sockaddr_un *)got;
	size_t base = offsetof(struct sockaddr_un, sun_path);
	size_t n = len - base, m = got_len - base;

	CHECK(u->sun_family == AF_UNIX);
	if (n > 0 && g->sun_path[0] != '\0') {
		n = strnlen(g->sun_path, n);
		CHECK(m == n + (n < sizeof(u->sun_path)));
	} else {
		while (n > 0 && g->sun_path[n - 1] == '\0') {
			n--;
		}
		CHECK(m == n);
	}
	CHECK(memcmp(u->sun_path, g->sun_path, n) == 0);
}

/*
 * The input as what to build from: version, socktype, family and the
 * two lengths from its first bytes, the sockaddrs from the rest.
 */
static void check_build(const uint8_t *data, size_t size)
{
	static const int socktypes[] = {
		SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, 0,
	};
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	struct sockaddr_storage ss[2];
	socklen_t len[2];
	uint8_t buf[PROXY_HEADER_BUILD_MAX];
	struct verdict v;
	int version, socktype, i;
	size_t n;
	ssize_t r;

	if (size < 5) {
		return;
	}
	version = 1 + (data[0] & 1);
	socktype = socktypes[(data[0] >> 1) & 3];
	memset(ss, 0, sizeof(ss));
	n = size - 5 < sizeof(ss) ? size - 5 : sizeof(ss);
	memcpy(ss, data + 5, n);
	for (i = 0; i < 2; i++) {
		/* mostly a family the header carries, sometimes any */
		if ((data[1 + i] & 0xc0) != 0xc0) {
			ss[i].ss_family = families[(data[1 + i] & 0x3f) % 3];
		}
		len[i] = data[3 + i] % (sizeof(struct sockaddr_un) + 8);
		if ((data[1 + i] & 0x30) == 0) {
			len[i] = family_len(ss[i].ss_family);
		}
	}
	if ((data[0] & 0x80) != 0) {
		/* the same family for both, most of the time */
		ss[1].ss_family = ss[0].ss_family;
	}
	r = proxy_header_build(buf, sizeof(buf), version, socktype,
			       (const struct sockaddr *)&ss[0], len[0],
			       (const struct sockaddr *)&ss[1], len[1]);
	CHECK(r >= 15 && (size_t)r <= sizeof(buf));
	parse(buf, (size_t)r, &v);
	check_verdict(buf, (size_t)r, &v);
	CHECK(v.ret == 1 && v.h.length == (size_t)r);
	CHECK(v.h.version == version);
	if (v.h.local) {
		return;
	}
	CHECK(v.h.socktype == socktype);
	CHECK(v.h.src.ss_family == ss[0].ss_family);
	CHECK(v.h.dst.ss_family == ss[1].ss_family);
	for (i = 0; i < 2; i++) {
		const struct sockaddr_storage *got = i == 0 ? &v.h.src
							    : &v.h.dst;
		socklen_t got_len = i == 0 ? v.h.src_len : v.h.dst_len;

		if (ss[i].ss_family == AF_INET) {
			const struct sockaddr_in *a =
				(const struct sockaddr_in *)&ss[i];
			const struct sockaddr_in *b =
				(const struct sockaddr_in *)got;

			CHECK(a->sin_port == b->sin_port);
			CHECK(a->sin_addr.s_addr == b->sin_addr.s_addr);
		} else if (ss[i].ss_family == AF_INET6) {
			const struct sockaddr_in6 *a =
				(const struct sockaddr_in6 *)&ss[i];
			const struct sockaddr_in6 *b =
				(const struct sockaddr_in6 *)got;

			CHECK(a->sin6_port == b->sin6_port);
			CHECK(memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0);
		} else {
			CHECK(ss[i].ss_family == AF_UNIX);
			check_unix(&ss[i], len[i], got, got_len);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict whole;

	if (size > MAX_INPUT) {
		return 0;
	}
	parse(data, size, &whole);
	check_verdict(data, size, &whole);
	check_prefixes(data, size, &whole);
	check_reader(data, size, &whole);
	if (whole.ret == 1) {
		check_rebuild(&whole.h);
	}
	check_build(data, size);
	return 0;
}
