/*
 * proxy_header.c - HAProxy's PROXY protocol header, v1 and v2
 *
 * See proxy_header.h.  The parser looks at the bytes in order and at each
 * one checks only what that byte and the ones before it can show (the
 * signature, the v1 protocol word, CR and LF, the room left for the
 * CRLF, the v2 command, family and length), so that a prefix of a header
 * gives the same error as the whole of it, or none; only what needs the
 * whole header (v1 addresses and ports, v2 addresses and TLVs) waits for
 * its end, as the spec asks.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include "proxy_header.h"

/* v2 carries sun_path as 108 bytes, which is Linux's size. */
_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == 108,
	       "sun_path is not 108 bytes");

#define V2_FIXED 16		/* signature, ver_cmd, fam, length */
#define V2_UNIX_PATH 108

_Static_assert(PROXY_HEADER_BUILD_MAX > PROXY_HEADER_V1_MAX,
	       "proxy_header_build's buffer is too small for v1");

static const uint8_t v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

#define V2_VERSION 0x20		/* high nibble of ver_cmd */
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_AF_UNSPEC 0x0
#define V2_AF_INET 0x1
#define V2_AF_INET6 0x2
#define V2_AF_UNIX 0x3
#define V2_PROTO_UNSPEC 0x0
#define V2_PROTO_STREAM 0x1
#define V2_PROTO_DGRAM 0x2

#define NOT_PROXY "not a PROXY protocol header"

/*
 * The v1 words after "PROXY ", each with the shortest line it can start
 * (CRLF included), which bounds what may be asked for while it is still
 * a candidate.  UNKNOWN is a word of its own only when a space or the
 * CRLF follows it.
 */
static const struct v1_word {
	const char *word;
	size_t len;
	size_t min_line;
	int family;
} v1_words[] = {
	{ "TCP4 ", 5, sizeof("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n") - 1,
	  AF_INET },
	{ "TCP6 ", 5, sizeof("PROXY TCP6 :: :: 0 0\r\n") - 1, AF_INET6 },
	{ "UNKNOWN ", 8, sizeof("PROXY UNKNOWN \r\n") - 1, AF_UNSPEC },
	{ "UNKNOWN\r", 8, sizeof("PROXY UNKNOWN\r\n") - 1, AF_UNSPEC },
};
#define V1_NWORDS (sizeof(v1_words) / sizeof(v1_words[0]))
#define V1_WORD_AT 6		/* after "PROXY " */

static int fail(const char **error, const char *msg)
{
	*error = msg;
	return -1;
}

/* A decimal port, no leading zeros (the spec forbids them: octal). */
static bool v1_port(const uint8_t *p, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (p[0] == '0' && len > 1)) {
		return false;
	}
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9') {
			return false;
		}
		v = v * 10 + (p[i] - '0');
	}
	if (v > 65535) {
		return false;
	}
	*port = (uint16_t)v;
	return true;
}

/*
 * An address of the family in its canonical text.  Only the characters
 * of that family's form get to inet_pton, so a NUL cannot cut a field
 * short; IPv4 parts with a leading zero are refused here, whatever the
 * C library's inet_pton makes of them.
 */
static bool v1_address(const uint8_t *p, size_t len, int family, void *addr)
{
	char text[INET6_ADDRSTRLEN];
	size_t i;

	if (len == 0 || len >= sizeof(text)) {
		return false;
	}
	for (i = 0; i < len; i++) {
		uint8_t c = p[i];
		bool ok;

		if (family == AF_INET) {
			ok = (c >= '0' && c <= '9') || c == '.';
			if (c == '0' && (i == 0 || p[i - 1] == '.') &&
			    i + 1 < len && p[i + 1] != '.') {
				return false;
			}
		} else {
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F') || c == ':' || c == '.';
		}
		if (!ok) {
			return false;
		}
	}
	memcpy(text, p, len);
	text[len] = '\0';
	return inet_pton(family, text, addr) == 1;
}

static void set_inet(struct sockaddr_storage *ss, socklen_t *len, int family,
		     const void *addr, uint16_t port)
{
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr, 4);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, addr, 16);
		*len = sizeof(*in6);
	}
}

/*
 * "SRC DST SPORT DPORT" of a TCP4 or TCP6 line, p to end (the CRLF
 * excluded), fields separated by exactly one space.
 */
static int v1_addresses(const uint8_t *p, const uint8_t *end, int family,
			struct proxy_header *out, const char **error)
{
	static const char *const bad[4] = {
		"v1: bad source address", "v1: bad destination address",
		"v1: bad source port", "v1: bad destination port",
	};
	static const char *const missing[4] = {
		NULL, "v1: destination address missing",
		"v1: source port missing", "v1: destination port missing",
	};
	uint8_t addr[2][16];
	uint16_t port[2];
	int i;

	for (i = 0; i < 4; i++) {
		const uint8_t *q = p;
		bool ok;

		while (q < end && *q != ' ') {
			q++;
		}
		if (i < 2) {
			ok = v1_address(p, (size_t)(q - p), family, addr[i]);
		} else {
			ok = v1_port(p, (size_t)(q - p), &port[i - 2]);
		}
		if (!ok) {
			return fail(error, bad[i]);
		}
		if (i < 3) {
			if (q == end) {
				return fail(error, missing[i + 1]);
			}
			p = q + 1;
		} else if (q != end) {
			return fail(error,
				    "v1: more after the destination port");
		}
	}
	set_inet(&out->src, &out->src_len, family, addr[0], port[0]);
	set_inet(&out->dst, &out->dst_len, family, addr[1], port[1]);
	out->socktype = SOCK_STREAM;
	return 1;
}

static int parse_v1(const uint8_t *buf, size_t len, struct proxy_header *out,
		    size_t *need, const char **error)
{
	size_t scan = len < PROXY_HEADER_V1_MAX ? len : PROXY_HEADER_V1_MAX;
	unsigned candidates = (1u << V1_NWORDS) - 1;
	const struct v1_word *w = NULL;
	size_t i, k, end = 0, min_line;

	for (i = 0; i < scan; i++) {
		uint8_t c = buf[i];

		if (i < 5) {
			if (c != "PROXY"[i]) {
				return fail(error, NOT_PROXY);
			}
		} else if (i == 5) {
			if (c != ' ') {
				return fail(error, "v1: no space after PROXY");
			}
		} else {
			for (k = 0; k < V1_NWORDS; k++) {
				size_t j = i - V1_WORD_AT;

				if (j < v1_words[k].len &&
				    c != (uint8_t)v1_words[k].word[j]) {
					candidates &= ~(1u << k);
				}
			}
			if (candidates == 0) {
				return fail(error, "v1: protocol is not TCP4, "
					    "TCP6 or UNKNOWN");
			}
		}
		/* a LF has a byte before it: buf[0] is the P */
		if (c == '\n') {
			if (buf[i - 1] != '\r') {
				return fail(error, "v1: LF without CR");
			}
			end = i + 1;
			break;
		}
		if (i > 0 && buf[i - 1] == '\r') {
			return fail(error, "v1: CR not followed by LF");
		}
		/* the CRLF is still to come: LF next at the soonest */
		if (i + (c == '\r' ? 2 : 3) > PROXY_HEADER_V1_MAX) {
			return fail(error, "v1 header longer than 107 bytes");
		}
	}

	if (end == 0) {
		/* the shortest line the words still possible can make */
		min_line = PROXY_HEADER_V1_MAX;
		for (k = 0; k < V1_NWORDS; k++) {
			if ((candidates & (1u << k)) &&
			    v1_words[k].min_line < min_line) {
				min_line = v1_words[k].min_line;
			}
		}
		*need = len + (buf[len - 1] == '\r' ? 1 : 2);
		if (*need < min_line) {
			*need = min_line;
		}
		return 0;
	}

	/*
	 * The line ended with every byte of one word checked: a CR inside
	 * a word that is not UNKNOWN's own ends all of them.
	 */
	for (k = 0; k < V1_NWORDS; k++) {
		if (candidates & (1u << k)) {
			w = &v1_words[k];
			break;
		}
	}
	out->version = 1;
	out->length = end;
	if (w->family == AF_UNSPEC) {
		/* the spec: whatever comes before the CRLF is ignored */
		out->local = true;
		return 1;
	}
	return v1_addresses(buf + V1_WORD_AT + w->len, buf + end - 2,
			    w->family, out, error);
}

/*
 * A v2 unix address: 108 bytes, a path padded with NULs, or an abstract
 * name (a NUL, then the name, padded), or all NULs for none.
 */
static void v2_unix(const uint8_t *p, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	struct sockaddr_un *un = (struct sockaddr_un *)ss;
	size_t n;

	un->sun_family = AF_UNIX;
	if (p[0] != '\0') {
		n = strnlen((const char *)p, V2_UNIX_PATH);
		memcpy(un->sun_path, p, n);
		/* as the kernel counts a path: with its NUL if it has one */
		if (n < V2_UNIX_PATH) {
			n++;
		}
	} else {
		for (n = V2_UNIX_PATH; n > 0 && p[n - 1] == '\0'; n--) {
		}
		memcpy(un->sun_path, p, n);
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static int v2_socktype(uint8_t proto)
{
	return proto == V2_PROTO_STREAM ? SOCK_STREAM :
	       proto == V2_PROTO_DGRAM ? SOCK_DGRAM : 0;
}

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_header *out,
		    size_t *need, const char **error)
{
	size_t head = len < V2_FIXED ? len : V2_FIXED;
	size_t i, total = 0, block = 0, p;
	uint8_t cmd = 0, family = 0, proto = 0;

	for (i = 0; i < head; i++) {
		uint8_t c = buf[i];

		if (i < sizeof(v2_sig)) {
			if (c != v2_sig[i]) {
				return fail(error, NOT_PROXY);
			}
		} else if (i == 12) {
			cmd = c & 0x0f;
			if ((c & 0xf0) != V2_VERSION ||
			    (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)) {
				snprintf(out->errbuf, sizeof(out->errbuf),
					 "v2: unsupported version/command "
					 "0x%02x", c);
				return fail(error, out->errbuf);
			}
		} else if (i == 13) {
			/* LOCAL: the spec has the family ignored */
			if (cmd == V2_CMD_LOCAL) {
				continue;
			}
			family = c >> 4;
			proto = c & 0x0f;
			if (family > V2_AF_UNIX) {
				snprintf(out->errbuf, sizeof(out->errbuf),
					 "v2: unknown address family in "
					 "0x%02x", c);
				return fail(error, out->errbuf);
			}
			if (proto > V2_PROTO_DGRAM) {
				snprintf(out->errbuf, sizeof(out->errbuf),
					 "v2: unknown transport protocol in "
					 "0x%02x", c);
				return fail(error, out->errbuf);
			}
			/*
			 * Either half UNSPEC: the addresses, if any, are
			 * to be ignored, and so where the TLVs start.
			 */
			if (proto != V2_PROTO_UNSPEC) {
				block = family == V2_AF_INET ? 12 :
					family == V2_AF_INET6 ? 36 :
					family == V2_AF_UNIX ? 216 : 0;
			}
		} else if (i == 15) {
			size_t n = (size_t)buf[14] << 8 | buf[15];

			total = V2_FIXED + n;
			if (total > PROXY_HEADER_V2_MAX) {
				snprintf(out->errbuf, sizeof(out->errbuf),
					 "v2 header too long (%zu bytes; at "
					 "most %d)", total,
					 PROXY_HEADER_V2_MAX);
				return fail(error, out->errbuf);
			}
			if (n < block) {
				snprintf(out->errbuf, sizeof(out->errbuf),
					 "v2: address length %zu too short "
					 "for %s (%zu needed)", n,
					 family == V2_AF_INET ? "AF_INET" :
					 family == V2_AF_INET6 ? "AF_INET6" :
					 "AF_UNIX", block);
				return fail(error, out->errbuf);
			}
		}
	}
	if (len < V2_FIXED) {
		*need = V2_FIXED;
		return 0;
	}
	if (len < total) {
		*need = total;
		return 0;
	}

	out->version = 2;
	out->length = total;
	if (cmd == V2_CMD_LOCAL || block == 0) {
		out->local = true;
		if (cmd == V2_CMD_PROXY) {
			out->socktype = v2_socktype(proto);
		}
		return 1;
	}

	p = V2_FIXED;
	switch (family) {
	case V2_AF_INET:
	case V2_AF_INET6: {
		int af = family == V2_AF_INET ? AF_INET : AF_INET6;
		size_t alen = family == V2_AF_INET ? 4 : 16;
		const uint8_t *ports = buf + p + 2 * alen;

		set_inet(&out->src, &out->src_len, af, buf + p,
			 (uint16_t)(ports[0] << 8 | ports[1]));
		set_inet(&out->dst, &out->dst_len, af, buf + p + alen,
			 (uint16_t)(ports[2] << 8 | ports[3]));
		break;
	}
	default:
		v2_unix(buf + p, &out->src, &out->src_len);
		v2_unix(buf + p + V2_UNIX_PATH, &out->dst, &out->dst_len);
		break;
	}
	out->socktype = v2_socktype(proto);

	/* TLVs: type, 16-bit length, value; each has to fit */
	p += block;
	if (p < total) {
		out->tlv_offset = p;
		out->tlv_length = total - p;
	}
	while (p < total) {
		size_t n;

		if (total - p < 3) {
			snprintf(out->errbuf, sizeof(out->errbuf),
				 "v2: %zu bytes after the last TLV, too "
				 "few for one", total - p);
			return fail(error, out->errbuf);
		}
		n = (size_t)buf[p + 1] << 8 | buf[p + 2];
		if (n > total - p - 3) {
			snprintf(out->errbuf, sizeof(out->errbuf),
				 "v2: TLV 0x%02x of %zu bytes overruns the "
				 "header by %zu", buf[p], n,
				 n - (total - p - 3));
			return fail(error, out->errbuf);
		}
		p += 3 + n;
	}
	return 1;
}

int proxy_header_parse(const uint8_t *buf, size_t len,
		       struct proxy_header *out, size_t *need,
		       const char **error)
{
	size_t need_dummy;
	const char *error_dummy;

	if (need == NULL) {
		need = &need_dummy;
	}
	if (error == NULL) {
		error = &error_dummy;
	}
	memset(out, 0, sizeof(*out));
	*need = 0;
	*error = NULL;

	if (len == 0) {
		/* enough to tell "PROXY " from v2's signature */
		*need = 8;
		return 0;
	}
	if (buf[0] == 'P') {
		return parse_v1(buf, len, out, need, error);
	}
	if (buf[0] == v2_sig[0]) {
		return parse_v2(buf, len, out, need, error);
	}
	return fail(error, NOT_PROXY);
}

/*
 * What of src and dst a header can carry: their family (AF_UNSPEC for
 * nothing).
 */
static int carried_family(int version, int socktype,
			  const struct sockaddr *src, socklen_t src_len,
			  const struct sockaddr *dst, socklen_t dst_len)
{
	socklen_t min, max;

	if (src == NULL || dst == NULL || src->sa_family != dst->sa_family) {
		return AF_UNSPEC;
	}
	if (socktype != SOCK_STREAM &&
	    (version == 1 || socktype != SOCK_DGRAM)) {
		return AF_UNSPEC;
	}
	switch (src->sa_family) {
	case AF_INET:
		min = max = sizeof(struct sockaddr_in);
		break;
	case AF_INET6:
		min = max = sizeof(struct sockaddr_in6);
		break;
	case AF_UNIX:
		if (version == 1) {
			return AF_UNSPEC;
		}
		min = offsetof(struct sockaddr_un, sun_path);
		max = sizeof(struct sockaddr_un);
		break;
	default:
		return AF_UNSPEC;
	}
	/* a longer sockaddr_in(6) is fine: only what it starts with counts */
	if (src_len < min || dst_len < min ||
	    (src->sa_family == AF_UNIX && (src_len > max || dst_len > max))) {
		return AF_UNSPEC;
	}
	return src->sa_family;
}

static size_t build_v1(char *line, size_t size, int family,
		       const struct sockaddr *src, const struct sockaddr *dst)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	unsigned sport, dport;
	int n;

	if (family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)src;
		const struct sockaddr_in *b = (const struct sockaddr_in *)dst;

		inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
		inet_ntop(AF_INET, &b->sin_addr, d, sizeof(d));
		sport = ntohs(a->sin_port);
		dport = ntohs(b->sin_port);
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *a =
			(const struct sockaddr_in6 *)src;
		const struct sockaddr_in6 *b =
			(const struct sockaddr_in6 *)dst;

		inet_ntop(AF_INET6, &a->sin6_addr, s, sizeof(s));
		inet_ntop(AF_INET6, &b->sin6_addr, d, sizeof(d));
		sport = ntohs(a->sin6_port);
		dport = ntohs(b->sin6_port);
	} else {
		n = snprintf(line, size, "PROXY UNKNOWN\r\n");
		return (size_t)n;
	}
	n = snprintf(line, size, "PROXY %s %s %s %u %u\r\n",
		     family == AF_INET ? "TCP4" : "TCP6", s, d, sport, dport);
	return (size_t)n;
}

static void put_unix(uint8_t *p, const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	size_t n = len - offsetof(struct sockaddr_un, sun_path);

	memset(p, 0, V2_UNIX_PATH);
	memcpy(p, un->sun_path, n);
}

static size_t build_v2(uint8_t *hdr, int family, int socktype,
		       const struct sockaddr *src, socklen_t src_len,
		       const struct sockaddr *dst, socklen_t dst_len)
{
	uint8_t *p = hdr + V2_FIXED;
	uint8_t proto = socktype == SOCK_STREAM ? V2_PROTO_STREAM
						: V2_PROTO_DGRAM;
	size_t n;

	memcpy(hdr, v2_sig, sizeof(v2_sig));
	hdr[12] = V2_VERSION | V2_CMD_PROXY;
	switch (family) {
	case AF_INET: {
		const struct sockaddr_in *a = (const struct sockaddr_in *)src;
		const struct sockaddr_in *b = (const struct sockaddr_in *)dst;

		hdr[13] = V2_AF_INET << 4 | proto;
		memcpy(p, &a->sin_addr, 4);
		memcpy(p + 4, &b->sin_addr, 4);
		memcpy(p + 8, &a->sin_port, 2);
		memcpy(p + 10, &b->sin_port, 2);
		n = 12;
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *a =
			(const struct sockaddr_in6 *)src;
		const struct sockaddr_in6 *b =
			(const struct sockaddr_in6 *)dst;

		hdr[13] = V2_AF_INET6 << 4 | proto;
		memcpy(p, &a->sin6_addr, 16);
		memcpy(p + 16, &b->sin6_addr, 16);
		memcpy(p + 32, &a->sin6_port, 2);
		memcpy(p + 34, &b->sin6_port, 2);
		n = 36;
		break;
	}
	case AF_UNIX:
		hdr[13] = V2_AF_UNIX << 4 | proto;
		put_unix(p, src, src_len);
		put_unix(p + V2_UNIX_PATH, dst, dst_len);
		n = 2 * V2_UNIX_PATH;
		break;
	default:
		/* the spec: LOCAL with AF_UNSPEC and no addresses */
		hdr[12] = V2_VERSION | V2_CMD_LOCAL;
		hdr[13] = V2_AF_UNSPEC << 4 | V2_PROTO_UNSPEC;
		n = 0;
		break;
	}
	hdr[14] = (uint8_t)(n >> 8);
	hdr[15] = (uint8_t)n;
	return V2_FIXED + n;
}

ssize_t proxy_header_build(uint8_t *buf, size_t size, int version,
			   int socktype,
			   const struct sockaddr *src, socklen_t src_len,
			   const struct sockaddr *dst, socklen_t dst_len)
{
	/* v1's longest line and snprintf's NUL fit in this too */
	uint8_t hdr[PROXY_HEADER_BUILD_MAX];
	int family;
	size_t n;

	if (version != 1 && version != 2) {
		errno = EINVAL;
		return -1;
	}
	family = carried_family(version, socktype, src, src_len, dst,
				dst_len);
	if (version == 1) {
		n = build_v1((char *)hdr, sizeof(hdr), family, src, dst);
	} else {
		n = build_v2(hdr, family, socktype, src, src_len, dst,
			     dst_len);
	}
	if (n > size) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(buf, hdr, n);
	return (ssize_t)n;
}
