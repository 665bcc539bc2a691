/*
 * proxy_header.h - HAProxy's PROXY protocol header, v1 (text) and v2
 * (binary): parsing and building
 *
 * The header a proxy puts before a connection's first byte to say whose
 * connection it is (doc/proxy-protocol.txt of HAProxy).  These are pure
 * functions on buffers, with no I/O and no event loop, so that they can
 * be fuzzed on their own and used by whichever layer reads or writes the
 * header.
 *
 * A receiver must never read past the header: what follows is the
 * conversation's, and belongs to whoever takes the connection over.
 * proxy_header_parse() therefore says, each time it needs more, how many
 * bytes to have in all before calling it again, never more than the
 * header can turn out to be, so that a caller can read exactly that many
 * (recv without MSG_PEEK, a stream read of a given size).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_PROXY_HEADER_H
#define TSOCK_PROXY_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The longest v1 line, CRLF included (the spec's worst case). */
#define PROXY_HEADER_V1_MAX 107

/*
 * The longest v2 header we accept.  The format allows 16 + 65535 bytes,
 * but the addresses take at most 216 and the TLVs senders add (SNI,
 * ALPN, a unique ID of at most 128 bytes, TLS details) a few hundred:
 * 1024 after the fixed 16 leave room for all of them, and keep what a
 * hostile client can make us hold per connection small.
 */
#define PROXY_HEADER_V2_MAX (16 + 1024)

/* Enough for any header proxy_header_build() writes (v2 with AF_UNIX). */
#define PROXY_HEADER_BUILD_MAX (16 + 216)

struct proxy_header {
	int version;		/* 1 or 2 */
	/*
	 * No addresses: use the connection's own.  A v2 LOCAL command, a
	 * v2 PROXY command with AF_UNSPEC or UNSPEC transport, v1 UNKNOWN.
	 */
	bool local;
	/*
	 * SOCK_STREAM or SOCK_DGRAM (v2 may say UDP); 0 when the header
	 * does not say (v1 UNKNOWN, v2 LOCAL, v2 UNSPEC transport).
	 */
	int socktype;
	/*
	 * AF_INET, AF_INET6 or (v2 only) AF_UNIX, both of one family; with
	 * local, ss_family AF_UNSPEC and the lengths 0.  A unix address is
	 * a path (the length counts its NUL), an abstract name (sun_path[0]
	 * is NUL; trailing NULs, which v2's padding cannot tell from the
	 * name, are dropped), or unnamed (the length is that of the family
	 * alone).
	 */
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
	size_t length;		/* bytes the header took */
	/*
	 * v2: where in the buffer the TLVs are (their lengths are checked
	 * to fit), for a caller who wants them; 0 and 0 when there are none
	 * or, after a LOCAL or UNSPEC header, where they start is unknown.
	 */
	size_t tlv_offset, tlv_length;
	char errbuf[80];	/* for the messages that carry numbers */
};

/*
 * Parse the first len bytes received so far (len may go past the
 * header: nothing after it is looked at).  need and error may be NULL.
 *
 *  1: a complete header, described in *out; it took out->length bytes,
 *     and everything after them is the conversation's.
 *  0: not enough yet.  *need is how many bytes to have in all before
 *     calling again (more than len, and never more than the header can
 *     be long, so reading exactly need - len more bytes never reads
 *     past its end): 8 for nothing at all, then the shortest header
 *     the bytes so far can begin (15, "PROXY UNKNOWN\r\n", for v1 until
 *     its protocol shows; 16 for v2); then for v1, whose end is only
 *     known at its CRLF, one or two bytes more at a time (two while the
 *     last byte is no CR), up to PROXY_HEADER_V1_MAX; for v2 the length
 *     its fixed part gives.
 * -1: not a valid header.  *error says what is wrong, in English, as
 *     soon as the bytes show it.  It is a string constant or out->errbuf
 *     and lives as long as *out is left alone.
 *
 * The verdict depends on the bytes only, not on how they were cut up:
 * parsing a prefix gives 0 or the same error as the whole.  Apart from
 * errbuf, *out is only meaningful after 1.
 */
int proxy_header_parse(const uint8_t *buf, size_t len,
		       struct proxy_header *out, size_t *need,
		       const char **error);

/*
 * Write a header of version 1 or 2 into buf (size bytes; no NUL after
 * it).  socktype says TCP (SOCK_STREAM) or UDP (SOCK_DGRAM); src and dst
 * are the client's address and the one it connected to, AF_INET,
 * AF_INET6 or (v2) AF_UNIX.  When there is nothing to tell or the
 * version cannot tell it (src or dst NULL, of different families or too
 * short for their family, AF_UNIX or UDP in v1, another socktype), the
 * header says so: "PROXY UNKNOWN\r\n" in v1, a LOCAL command with
 * AF_UNSPEC in v2, and the receiver uses the connection's own addresses.
 *
 * Returns the header's length, or -1 with errno ENOBUFS when size is
 * too small (PROXY_HEADER_BUILD_MAX always does) or EINVAL for another
 * version.
 */
ssize_t proxy_header_build(uint8_t *buf, size_t size, int version,
			   int socktype,
			   const struct sockaddr *src, socklen_t src_len,
			   const struct sockaddr *dst, socklen_t dst_len);

#endif
