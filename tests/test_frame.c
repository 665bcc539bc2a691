/*
 * test_frame.c - unit tests of the length-prefix framing (tsocket_frame.h)
 *
 * The spec parser and the header functions are tested directly; the reader
 * through a unix socketpair on one tevent loop, with the writing side
 * driven by a small writer on the same loop.  Every loop is bounded by
 * tu_loop_until(); nothing sleeps.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "tsocket_frame.h"
#include "test_util.h"

#define TIMEOUT_MS	5000
#define BIG_TIMEOUT_MS	60000

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct tctx {
	TALLOC_CTX *mem;
	struct tevent_context *ev;
	struct tstream_context *w;	/* the writing end of the pair */
	struct tstream_context *r;	/* the reading end */
};

static int setup(void **state)
{
	struct tctx *t = talloc_zero(NULL, struct tctx);

	if (t == NULL) {
		return -1;
	}
	t->ev = tevent_context_init(t);
	t->mem = talloc_new(t);
	if (t->ev == NULL || t->mem == NULL ||
	    tstream_unix_socketpair(t->mem, &t->w, t->mem, &t->r) != 0) {
		talloc_free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;

	/* streams and requests first, while their event context exists */
	TALLOC_FREE(t->mem);
	talloc_free(t);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* Parse a spec that must be valid; fail the test with the message. */
static void parse_ok(const char *text, struct tframe_spec *spec)
{
	const char *msg = NULL;

	if (tframe_spec_parse(text, spec, &msg) != 0) {
		fail_msg("spec \"%s\" rejected: %s", text,
			 msg != NULL ? msg : "(no message)");
	}
}

/* A recognisable payload byte pattern. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
	}
}

/* A whole PDU (header by tframe_header, then the pattern payload). */
static uint8_t *make_pdu(TALLOC_CTX *mem, const struct tframe_spec *spec,
			 size_t plen, unsigned seed, size_t *len)
{
	size_t h = tframe_header_size(spec);
	uint8_t *p = talloc_array(mem, uint8_t, h + plen);

	assert_non_null(p);
	if (tframe_header(spec, plen, p) != 0) {
		fail_msg("tframe_header(%zu) failed: %s", plen,
			 strerror(errno));
	}
	fill(p + h, plen, seed);
	*len = h + plen;
	return p;
}

/* Append n bytes to the talloc buffer *buf of *len bytes. */
static void append(TALLOC_CTX *mem, uint8_t **buf, size_t *len,
		   const uint8_t *data, size_t n)
{
	uint8_t *nb = talloc_realloc(mem, *buf, uint8_t, *len + n);

	assert_non_null(nb);
	memcpy(nb + *len, data, n);
	*buf = nb;
	*len += n;
}

/*
 * Writes buf[0..len) to a stream, chunk bytes per writev (0: all in one),
 * one writev after the other, on the test's loop.
 */
struct writer {
	struct tevent_context *ev;
	struct tstream_context *stream;
	const uint8_t *buf;
	size_t len, off, chunk;
	unsigned writes;
	struct iovec iov;
	bool done;
	int err;
};

static void writer_next(struct writer *w);

static void writer_done(struct tevent_req *req)
{
	struct writer *w = tevent_req_callback_data(req, struct writer);
	int err = 0;
	int ret;

	ret = tstream_writev_recv(req, &err);
	talloc_free(req);
	if (ret == -1) {
		w->err = err;
		w->done = true;
		return;
	}
	w->off += (size_t)ret;
	w->writes++;
	writer_next(w);
}

static void writer_next(struct writer *w)
{
	struct tevent_req *req;
	size_t n = w->len - w->off;

	if (n == 0) {
		w->done = true;
		return;
	}
	if (w->chunk != 0 && n > w->chunk) {
		n = w->chunk;
	}
	w->iov.iov_base = (void *)(uintptr_t)(w->buf + w->off);
	w->iov.iov_len = n;
	req = tstream_writev_send(w, w->ev, w->stream, &w->iov, 1);
	if (req == NULL) {
		w->err = ENOMEM;
		w->done = true;
		return;
	}
	tevent_req_set_callback(req, writer_done, w);
}

static struct writer *writer_start(TALLOC_CTX *mem,
				   struct tevent_context *ev,
				   struct tstream_context *stream,
				   const uint8_t *buf, size_t len,
				   size_t chunk)
{
	struct writer *w = talloc_zero(mem, struct writer);

	assert_non_null(w);
	w->ev = ev;
	w->stream = stream;
	w->buf = buf;
	w->len = len;
	w->chunk = chunk;
	writer_next(w);
	return w;
}

/* Write all of buf in one go and wait until it is written. */
static void write_all(struct tctx *t, struct tstream_context *stream,
		      const uint8_t *buf, size_t len)
{
	struct writer *w = writer_start(t->mem, t->ev, stream, buf, len, 0);

	assert_true(tu_loop_until(t->ev, &w->done, TIMEOUT_MS));
	assert_int_equal(w->err, 0);
	assert_int_equal(w->off, len);
	talloc_free(w);
}

/* Start a PDU read; *done becomes true when it completes. */
static struct tevent_req *start_read(struct tctx *t,
				     struct tstream_context *stream,
				     struct tframe_reader *reader,
				     bool *done)
{
	struct tevent_req *req;

	*done = false;
	req = tstream_readv_pdu_send(t->mem, t->ev, stream,
				     tframe_next_vector, reader);
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, done);
	return req;
}

/*
 * Finish a completed PDU read: the PDU taken onto mem (NULL on error,
 * with the error in *err), *nread the bytes the read took from the stream.
 */
static uint8_t *finish_read(struct tevent_req *req,
			    struct tframe_reader *reader, TALLOC_CTX *mem,
			    size_t *size, int *err, int *nread)
{
	uint8_t *pdu;
	int ret;

	*err = 0;
	ret = tstream_readv_pdu_recv(req, err);
	talloc_free(req);
	if (nread != NULL) {
		*nread = ret;
	}
	if (ret == -1) {
		assert_int_not_equal(*err, 0);
		return NULL;
	}
	assert_true(ret >= 0);
	*size = 0;
	pdu = tframe_reader_take(reader, mem, size);
	assert_non_null(pdu);
	return pdu;
}

/* Read one PDU (bounded wait); NULL with *err on error. */
static uint8_t *read_pdu(struct tctx *t, struct tstream_context *stream,
			 struct tframe_reader *reader, TALLOC_CTX *mem,
			 size_t *size, int *err, int *nread, int timeout_ms)
{
	struct tevent_req *req;
	bool done;

	req = start_read(t, stream, reader, &done);
	assert_true(tu_loop_until(t->ev, &done, timeout_ms));
	return finish_read(req, reader, mem, size, err, nread);
}

/* Read one PDU that must be exactly want[0..want_len). */
static void expect_pdu(struct tctx *t, struct tstream_context *stream,
		       struct tframe_reader *reader, const uint8_t *want,
		       size_t want_len)
{
	TALLOC_CTX *tmp = talloc_new(t->mem);
	uint8_t *pdu;
	size_t size = 0;
	int err = 0;

	assert_non_null(tmp);
	pdu = read_pdu(t, stream, reader, tmp, &size, &err, NULL,
		       BIG_TIMEOUT_MS);
	if (pdu == NULL) {
		fail_msg("PDU read failed: %s", strerror(err));
	}
	assert_int_equal(size, want_len);
	assert_memory_equal(pdu, want, want_len);
	talloc_free(tmp);
}

/* Read one PDU that must fail with want_err. */
static void expect_read_error(struct tctx *t, struct tstream_context *stream,
			      struct tframe_reader *reader, int want_err)
{
	size_t size = 0;
	int err = 0;
	uint8_t *pdu;

	pdu = read_pdu(t, stream, reader, t->mem, &size, &err, NULL,
		       TIMEOUT_MS);
	if (pdu != NULL) {
		talloc_free(pdu);
		fail_msg("PDU read of %zu bytes succeeded, expected %s",
			 size, strerror(want_err));
	}
	if (err != want_err) {
		fail_msg("PDU read failed with %s, expected %s",
			 strerror(err), strerror(want_err));
	}
}

static struct tframe_reader *new_reader(TALLOC_CTX *mem, const char *text)
{
	struct tframe_spec spec;
	struct tframe_reader *reader;

	parse_ok(text, &spec);
	reader = tframe_reader_create(mem, &spec);
	assert_non_null(reader);
	return reader;
}

/* Every preset, and generic forms with and without adjustment. */
static const char *const all_specs[] = {
	"u8", "u16be", "u16le", "u32be", "u32le", "u64be", "u64le",
	"nbss", "dcerpc",
	"offset=2,size=2,le,adjust=-4",
	"size=4,include-header",
	"offset=3,size=3,adjust=5",
};

/* ------------------------------------------------------------------ */
/* tframe_spec_parse                                                  */
/* ------------------------------------------------------------------ */

/* Rule: each preset name gives its offset, size, byte order, counting. */
static void test_parse_presets(void **state)
{
	static const struct {
		const char *name;
		size_t offset, size;
		bool le, incl;
	} want[] = {
		{ "u8",     0, 1, false, false },
		{ "u16be",  0, 2, false, false },
		{ "u16le",  0, 2, true,  false },
		{ "u32be",  0, 4, false, false },
		{ "u32le",  0, 4, true,  false },
		{ "u64be",  0, 8, false, false },
		{ "u64le",  0, 8, true,  false },
		{ "nbss",   1, 3, false, false },
		{ "dcerpc", 8, 2, true,  true  },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(want); i++) {
		struct tframe_spec spec;

		memset(&spec, 0xa5, sizeof(spec));
		parse_ok(want[i].name, &spec);
		assert_int_equal(spec.length_offset, want[i].offset);
		assert_int_equal(spec.length_size, want[i].size);
		assert_int_equal(spec.little_endian, want[i].le);
		assert_int_equal(spec.length_includes_header, want[i].incl);
		assert_int_equal(spec.adjustment, 0);
		assert_int_equal(spec.max_pdu, 0);
		assert_int_equal(tframe_header_size(&spec),
				 want[i].offset + want[i].size);
		assert_int_equal(tframe_spec_check(&spec, NULL), 0);
	}
}

/* Rule: the generic options (and options after a preset) set each field. */
static void test_parse_generic(void **state)
{
	struct tframe_spec spec;

	(void)state;
	parse_ok("offset=2,size=2,le,adjust=-4", &spec);
	assert_int_equal(spec.length_offset, 2);
	assert_int_equal(spec.length_size, 2);
	assert_true(spec.little_endian);
	assert_int_equal(spec.adjustment, -4);
	assert_false(spec.length_includes_header);
	assert_int_equal(spec.max_pdu, 0);

	parse_ok("size=4,include-header", &spec);
	assert_int_equal(spec.length_offset, 0);
	assert_int_equal(spec.length_size, 4);
	assert_false(spec.little_endian);
	assert_true(spec.length_includes_header);
	assert_int_equal(spec.adjustment, 0);

	parse_ok("u32be,max=64k", &spec);
	assert_int_equal(spec.length_offset, 0);
	assert_int_equal(spec.length_size, 4);
	assert_false(spec.little_endian);
	assert_int_equal(spec.max_pdu, 65536);

	parse_ok("size=3,max=16m", &spec);
	assert_int_equal(spec.length_size, 3);
	assert_int_equal(spec.max_pdu, 16u * 1024 * 1024);

	parse_ok("u32be,max=65536", &spec);
	assert_int_equal(spec.max_pdu, 65536);

	/* an option after a preset overrides it */
	parse_ok("u16le,be", &spec);
	assert_int_equal(spec.length_size, 2);
	assert_false(spec.little_endian);

	parse_ok("size=8,le,adjust=7", &spec);
	assert_int_equal(spec.length_size, 8);
	assert_true(spec.little_endian);
	assert_int_equal(spec.adjustment, 7);
}

/* Rule: malformed specs fail with -1, EINVAL and a message. */
static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"",
		"u7",
		"size=5",
		"offset=x",
		"max=0",
		"u16be,max=0",
		"size=2,max=0",
		"u16be,u32be",		/* a preset not first */
		"size=2,max=1",		/* max smaller than the header */
		"bogus=1",
		"max=16m",		/* no size at all */
		"offset=-1,size=2",
		"size=4,max=1q",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		struct tframe_spec spec;
		const char *msg = NULL;
		int ret;

		errno = 0;
		ret = tframe_spec_parse(bad[i], &spec, &msg);
		if (ret != -1) {
			fail_msg("spec \"%s\" accepted", bad[i]);
		}
		if (errno != EINVAL) {
			fail_msg("spec \"%s\": errno %d, expected EINVAL",
				 bad[i], errno);
		}
		if (msg == NULL || msg[0] == '\0') {
			fail_msg("spec \"%s\": no error message", bad[i]);
		}
	}

	/* a NULL error pointer is allowed */
	{
		struct tframe_spec spec;

		errno = 0;
		assert_int_equal(tframe_spec_parse("u7", &spec, NULL), -1);
		assert_int_equal(errno, EINVAL);
		errno = 0;
		assert_int_equal(tframe_spec_parse(NULL, &spec, NULL), -1);
		assert_int_equal(errno, EINVAL);
	}
}

/* Rule: tframe_spec_check rejects hand-built specs that cannot work. */
static void test_spec_check(void **state)
{
	struct tframe_spec spec = { .length_size = 5 };
	const char *msg = NULL;

	(void)state;
	errno = 0;
	assert_int_equal(tframe_spec_check(&spec, &msg), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(msg);

	spec.length_size = 4;
	spec.max_pdu = 3;	/* smaller than the 4-byte header */
	msg = NULL;
	errno = 0;
	assert_int_equal(tframe_spec_check(&spec, &msg), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(msg);

	spec.max_pdu = 4;
	assert_int_equal(tframe_spec_check(&spec, &msg), 0);

	/* the reader refuses a bad spec the same way */
	spec.length_size = 0;
	errno = 0;
	assert_null(tframe_reader_create(NULL, &spec));
	assert_int_equal(errno, EINVAL);
}

/* ------------------------------------------------------------------ */
/* tframe_header / tframe_pdu_size                                    */
/* ------------------------------------------------------------------ */

/* Rule: tframe_pdu_size(tframe_header(n)) is header size + n. */
static void test_header_roundtrip(void **state)
{
	static const uint64_t lens[] = { 0, 1, 5, 100, 200, 246, 1000,
					 65525, 70000, 1u << 20 };
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_LEN(all_specs); i++) {
		struct tframe_spec spec;
		uint8_t hdr[16];
		size_t h;

		parse_ok(all_specs[i], &spec);
		h = tframe_header_size(&spec);
		assert_true(h <= sizeof(hdr));
		for (j = 0; j < ARRAY_LEN(lens); j++) {
			uint64_t fieldmax, total, value, got = 0;

			/* skip lengths the field cannot hold */
			total = h + lens[j];
			value = spec.length_includes_header ? total
							     : lens[j];
			if (spec.adjustment > 0 &&
			    value < (uint64_t)spec.adjustment) {
				continue;
			}
			value -= (uint64_t)spec.adjustment;
			fieldmax = spec.length_size == 8 ? UINT64_MAX :
				   (UINT64_C(1) << (8 * spec.length_size)) - 1;
			if (value > fieldmax) {
				continue;
			}
			memset(hdr, 0xee, sizeof(hdr));
			if (tframe_header(&spec, lens[j], hdr) != 0) {
				fail_msg("%s: tframe_header(%llu): %s",
					 all_specs[i],
					 (unsigned long long)lens[j],
					 strerror(errno));
			}
			/* bytes before the field are zero */
			for (size_t k = 0; k < spec.length_offset; k++) {
				assert_int_equal(hdr[k], 0);
			}
			/* and nothing beyond the header is written */
			assert_int_equal(hdr[h], 0xee);
			if (tframe_pdu_size(&spec, hdr, &got) != 0) {
				fail_msg("%s: tframe_pdu_size(%llu): %s",
					 all_specs[i],
					 (unsigned long long)lens[j],
					 strerror(errno));
			}
			assert_int_equal(got, total);
		}
	}
}

/* Rule: the header bytes are the length in the spec's byte order. */
static void test_header_exact_bytes(void **state)
{
	struct tframe_spec spec;
	uint8_t hdr[16];
	uint64_t size = 0;

	(void)state;
	parse_ok("u16be", &spec);
	assert_int_equal(tframe_header(&spec, 0x0102, hdr), 0);
	assert_memory_equal(hdr, "\x01\x02", 2);

	parse_ok("u16le", &spec);
	assert_int_equal(tframe_header(&spec, 0x0102, hdr), 0);
	assert_memory_equal(hdr, "\x02\x01", 2);

	parse_ok("u8", &spec);
	assert_int_equal(tframe_header(&spec, 255, hdr), 0);
	assert_int_equal(hdr[0], 0xff);

	parse_ok("u32le", &spec);
	assert_int_equal(tframe_header(&spec, 0x010203, hdr), 0);
	assert_memory_equal(hdr, "\x03\x02\x01\x00", 4);

	parse_ok("u32be", &spec);
	assert_int_equal(tframe_header(&spec, 0x010203, hdr), 0);
	assert_memory_equal(hdr, "\x00\x01\x02\x03", 4);

	parse_ok("nbss", &spec);
	memset(hdr, 0xee, sizeof(hdr));
	assert_int_equal(tframe_header(&spec, 5, hdr), 0);
	assert_memory_equal(hdr, "\x00\x00\x00\x05", 4);
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), 0);
	assert_int_equal(size, 9);

	/* dcerpc: a 16-byte PDU (10-byte spec header + 6), LE at 8 */
	parse_ok("dcerpc", &spec);
	memset(hdr, 0xee, sizeof(hdr));
	assert_int_equal(tframe_header(&spec, 6, hdr), 0);
	assert_memory_equal(hdr, "\0\0\0\0\0\0\0\0\x10\x00", 10);
	/* a real DCE/RPC bind header: frag_length 72 at offset 8 */
	{
		static const uint8_t bind[16] = {
			0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00,
			0x48, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		};

		assert_int_equal(tframe_pdu_size(&spec, bind, &size), 0);
		assert_int_equal(size, 72);
	}

	/* generic: the field counts the whole PDU via adjust=-4 */
	parse_ok("offset=2,size=2,le,adjust=-4", &spec);
	memset(hdr, 0xee, sizeof(hdr));
	assert_int_equal(tframe_header(&spec, 10, hdr), 0);
	assert_memory_equal(hdr, "\x00\x00\x0e\x00", 4);

	/* 8-byte fields, with the maximum raised by hand */
	parse_ok("u64be", &spec);
	spec.max_pdu = UINT64_MAX;
	assert_int_equal(tframe_header(&spec, UINT64_C(0x0102030405060708),
				       hdr), 0);
	assert_memory_equal(hdr, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), 0);
	assert_true(size == UINT64_C(0x0102030405060710));
	parse_ok("u64le", &spec);
	spec.max_pdu = UINT64_MAX;
	assert_int_equal(tframe_header(&spec, UINT64_C(0x0102030405060708),
				       hdr), 0);
	assert_memory_equal(hdr, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
}

/* Rule: EMSGSIZE when the length does not fit the field or max_pdu. */
static void test_header_emsgsize(void **state)
{
	struct tframe_spec spec;
	uint8_t hdr[16];
	uint64_t size = 0;

	(void)state;
	parse_ok("u8", &spec);
	errno = 0;
	assert_int_equal(tframe_header(&spec, 256, hdr), -1);
	assert_int_equal(errno, EMSGSIZE);

	parse_ok("u16be", &spec);
	errno = 0;
	assert_int_equal(tframe_header(&spec, 65536, hdr), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(tframe_header(&spec, 65535, hdr), 0);

	/* dcerpc counts its 10-byte header in the 16-bit field */
	parse_ok("dcerpc", &spec);
	errno = 0;
	assert_int_equal(tframe_header(&spec, 65526, hdr), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(tframe_header(&spec, 65525, hdr), 0);

	/* the whole PDU (header included) may be max_pdu bytes */
	parse_ok("u32be,max=64k", &spec);
	assert_int_equal(tframe_header(&spec, 65532, hdr), 0);
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), 0);
	assert_int_equal(size, 65536);
	errno = 0;
	assert_int_equal(tframe_header(&spec, 65533, hdr), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* and a header announcing one byte more is refused */
	memcpy(hdr, "\x00\x00\xff\xfd", 4);
	errno = 0;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), -1);
	assert_int_equal(errno, EMSGSIZE);

	/* default maximum */
	parse_ok("u32be", &spec);
	errno = 0;
	assert_int_equal(tframe_header(&spec, TFRAME_DEFAULT_MAX_PDU - 3,
				       hdr), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(tframe_header(&spec, TFRAME_DEFAULT_MAX_PDU - 4,
				       hdr), 0);
	memcpy(hdr, "\xff\xff\xff\xff", 4);
	errno = 0;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), -1);
	assert_int_equal(errno, EMSGSIZE);

	/* an 8-byte field at its largest value */
	parse_ok("u64be", &spec);
	memset(hdr, 0xff, 8);
	errno = 0;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), -1);
	assert_int_equal(errno, EMSGSIZE);
	errno = 0;
	assert_int_equal(tframe_header(&spec, UINT64_MAX, hdr), -1);
	assert_int_equal(errno, EMSGSIZE);
}

/* Rule: EINVAL when the announced PDU is shorter than its header. */
static void test_header_einval(void **state)
{
	struct tframe_spec spec;
	uint8_t hdr[16];
	uint64_t size = 0;

	(void)state;
	/* dcerpc announcing 4 bytes: less than its 10-byte header */
	parse_ok("dcerpc", &spec);
	memset(hdr, 0, sizeof(hdr));
	hdr[8] = 4;
	errno = 0;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), -1);
	assert_int_equal(errno, EINVAL);
	/* exactly the header is a valid, empty PDU */
	hdr[8] = 10;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), 0);
	assert_int_equal(size, 10);

	parse_ok("size=4,include-header", &spec);
	memcpy(hdr, "\x00\x00\x00\x03", 4);
	errno = 0;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), -1);
	assert_int_equal(errno, EINVAL);

	/* negative after the adjustment */
	parse_ok("offset=2,size=2,le,adjust=-4", &spec);
	memcpy(hdr, "\x00\x00\x03\x00", 4);
	errno = 0;
	assert_int_equal(tframe_pdu_size(&spec, hdr, &size), -1);
	assert_int_equal(errno, EINVAL);

	/* a header cannot be built for a length below the adjustment */
	parse_ok("size=2,adjust=3", &spec);
	errno = 0;
	assert_int_equal(tframe_header(&spec, 2, hdr), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tframe_header(&spec, 3, hdr), 0);
	assert_memory_equal(hdr, "\x00\x00", 2);
}

/* ------------------------------------------------------------------ */
/* The reader                                                         */
/* ------------------------------------------------------------------ */

/* Rule: take with no complete PDU returns NULL with ENOENT. */
static void test_take_without_pdu(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u16be");
	size_t size = 0;

	errno = 0;
	assert_null(tframe_reader_take(reader, t->mem, &size));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tframe_reader_buffered(reader), 0);
}

/* Rule: every preset and generic form round-trips through a stream. */
static void test_stream_roundtrip(void **state)
{
	struct tctx *t = *state;
	static const size_t plens[] = { 5, 17, 200 };
	size_t i, j;

	for (i = 0; i < ARRAY_LEN(all_specs); i++) {
		TALLOC_CTX *mem = talloc_new(t->mem);
		struct tstream_context *w, *r;
		struct tframe_reader *reader;
		struct tframe_spec spec;
		uint8_t *pdus[ARRAY_LEN(plens)];
		size_t lens[ARRAY_LEN(plens)];
		uint8_t *all = NULL;
		size_t all_len = 0;

		assert_non_null(mem);
		assert_int_equal(tstream_unix_socketpair(mem, &w, mem, &r),
				 0);
		parse_ok(all_specs[i], &spec);
		reader = tframe_reader_create(mem, &spec);
		assert_non_null(reader);
		for (j = 0; j < ARRAY_LEN(plens); j++) {
			pdus[j] = make_pdu(mem, &spec, plens[j],
					   (unsigned)(i * 10 + j), &lens[j]);
			append(mem, &all, &all_len, pdus[j], lens[j]);
		}
		write_all(t, w, all, all_len);
		for (j = 0; j < ARRAY_LEN(plens); j++) {
			expect_pdu(t, r, reader, pdus[j], lens[j]);
		}
		assert_int_equal(tframe_reader_buffered(reader), 0);
		talloc_free(mem);
	}
}

/* Rule: PDUs written one byte per writev arrive whole, for every spec. */
static void test_stream_byte_by_byte(void **state)
{
	struct tctx *t = *state;
	static const size_t plens[] = { 5, 40, 9 };
	size_t i, j;

	for (i = 0; i < ARRAY_LEN(all_specs); i++) {
		TALLOC_CTX *mem = talloc_new(t->mem);
		struct tstream_context *w, *r;
		struct tframe_reader *reader;
		struct tframe_spec spec;
		struct writer *wr;
		uint8_t *pdus[ARRAY_LEN(plens)];
		size_t lens[ARRAY_LEN(plens)];
		uint8_t *all = NULL;
		size_t all_len = 0;

		assert_non_null(mem);
		assert_int_equal(tstream_unix_socketpair(mem, &w, mem, &r),
				 0);
		parse_ok(all_specs[i], &spec);
		reader = tframe_reader_create(mem, &spec);
		assert_non_null(reader);
		for (j = 0; j < ARRAY_LEN(plens); j++) {
			pdus[j] = make_pdu(mem, &spec, plens[j],
					   (unsigned)(i + j), &lens[j]);
			append(mem, &all, &all_len, pdus[j], lens[j]);
		}
		/* the reads run while the writer trickles */
		wr = writer_start(mem, t->ev, w, all, all_len, 1);
		for (j = 0; j < ARRAY_LEN(plens); j++) {
			expect_pdu(t, r, reader, pdus[j], lens[j]);
		}
		assert_true(tu_loop_until(t->ev, &wr->done, TIMEOUT_MS));
		assert_int_equal(wr->err, 0);
		assert_int_equal(wr->writes, all_len);
		assert_int_equal(tframe_reader_buffered(reader), 0);
		talloc_free(mem);
	}
}

/*
 * Rule: many PDUs in one write arrive whole and in order, and the read-
 * ahead holds the following ones (buffered > 0) after the first is taken.
 */
static void test_stream_many_in_one_write(void **state)
{
	struct tctx *t = *state;
	enum { N = 1000 };
	struct tframe_reader *reader = new_reader(t->mem, "u16be");
	struct tframe_spec spec;
	uint8_t **pdus = talloc_array(t->mem, uint8_t *, N);
	size_t *lens = talloc_array(t->mem, size_t, N);
	uint8_t *all = NULL;
	size_t all_len = 0, total_read = 0;
	size_t i;

	assert_non_null(pdus);
	assert_non_null(lens);
	parse_ok("u16be", &spec);
	for (i = 0; i < N; i++) {
		pdus[i] = make_pdu(t->mem, &spec, i % 13, (unsigned)i,
				   &lens[i]);
		append(t->mem, &all, &all_len, pdus[i], lens[i]);
	}
	write_all(t, t->w, all, all_len);

	for (i = 0; i < N; i++) {
		uint8_t *pdu;
		size_t size = 0;
		int err = 0, nread = 0;

		if (i > 0 && tframe_reader_buffered(reader) == 0) {
			fail_msg("nothing read ahead before PDU %zu", i);
		}
		pdu = read_pdu(t, t->r, reader, t->mem, &size, &err, &nread,
			       TIMEOUT_MS);
		if (pdu == NULL) {
			fail_msg("PDU %zu: %s", i, strerror(err));
		}
		assert_int_equal(size, lens[i]);
		assert_memory_equal(pdu, pdus[i], size);
		talloc_free(pdu);
		total_read += (size_t)nread;
	}
	/* every byte was read exactly once, and none is left over */
	assert_int_equal(total_read, all_len);
	assert_int_equal(tframe_reader_buffered(reader), 0);
	assert_int_equal(tstream_pending_bytes(t->r), 0);
}

/*
 * Rule: tframe_reader_take_buffered hands out PDUs already read ahead,
 * without I/O, and says ENOENT once the next one is not complete.
 */
static void test_take_buffered(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u16be");
	struct tframe_spec spec;
	uint8_t *p[3], *all = NULL, *pdu;
	size_t len[3], all_len = 0, size = 0;
	int err = 0, nread = 0;
	size_t i;

	parse_ok("u16be", &spec);
	for (i = 0; i < 3; i++) {
		p[i] = make_pdu(t->mem, &spec, 5 + i, (unsigned)i, &len[i]);
		append(t->mem, &all, &all_len, p[i], len[i]);
	}
	/* the first two whole, the third one byte short */
	write_all(t, t->w, all, all_len - 1);
	assert_null(tframe_reader_take_buffered(reader, t->mem, &size));
	assert_int_equal(errno, ENOENT);
	pdu = read_pdu(t, t->r, reader, t->mem, &size, &err, &nread,
		       TIMEOUT_MS);
	assert_non_null(pdu);
	assert_memory_equal(pdu, p[0], len[0]);
	pdu = tframe_reader_take_buffered(reader, t->mem, &size);
	assert_non_null(pdu);
	assert_int_equal(size, len[1]);
	assert_memory_equal(pdu, p[1], len[1]);
	assert_null(tframe_reader_take_buffered(reader, t->mem, &size));
	assert_int_equal(errno, ENOENT);
	/* the last byte completes the third through the normal read */
	write_all(t, t->w, all + all_len - 1, 1);
	pdu = read_pdu(t, t->r, reader, t->mem, &size, &err, &nread,
		       TIMEOUT_MS);
	assert_non_null(pdu);
	assert_int_equal(size, len[2]);
	assert_memory_equal(pdu, p[2], len[2]);
	assert_int_equal(tframe_reader_buffered(reader), 0);
}

/* Rule: a PDU with an empty body is just its header. */
static void test_stream_empty_body(void **state)
{
	struct tctx *t = *state;
	static const char *const specs[] = {
		"u16be", "dcerpc", "nbss", "offset=2,size=2,le,adjust=-4",
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(specs); i++) {
		TALLOC_CTX *mem = talloc_new(t->mem);
		struct tstream_context *w, *r;
		struct tframe_reader *reader;
		struct tframe_spec spec;
		uint8_t *p0, *p1, *all = NULL;
		size_t l0, l1, all_len = 0;

		assert_non_null(mem);
		assert_int_equal(tstream_unix_socketpair(mem, &w, mem, &r),
				 0);
		parse_ok(specs[i], &spec);
		reader = tframe_reader_create(mem, &spec);
		assert_non_null(reader);
		p0 = make_pdu(mem, &spec, 0, 1, &l0);
		p1 = make_pdu(mem, &spec, 3, 2, &l1);
		assert_int_equal(l0, tframe_header_size(&spec));
		append(mem, &all, &all_len, p0, l0);
		append(mem, &all, &all_len, p0, l0);
		append(mem, &all, &all_len, p1, l1);
		write_all(t, w, all, all_len);
		expect_pdu(t, r, reader, p0, l0);
		expect_pdu(t, r, reader, p0, l0);
		expect_pdu(t, r, reader, p1, l1);
		talloc_free(mem);
	}
}

/* Rule: a 1 MiB PDU, larger than any read-ahead, arrives whole. */
static void test_stream_large_pdu(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be");
	struct tframe_spec spec;
	struct writer *wr;
	uint8_t *big, *small, *all = NULL;
	size_t big_len, small_len, all_len = 0;

	parse_ok("u32be", &spec);
	big = make_pdu(t->mem, &spec, 1024 * 1024, 7, &big_len);
	small = make_pdu(t->mem, &spec, 33, 8, &small_len);
	append(t->mem, &all, &all_len, big, big_len);
	append(t->mem, &all, &all_len, small, small_len);
	append(t->mem, &all, &all_len, big, big_len);

	/* one writev, far more than the socket buffer: both sides run */
	wr = writer_start(t->mem, t->ev, t->w, all, all_len, 0);
	expect_pdu(t, t->r, reader, big, big_len);
	expect_pdu(t, t->r, reader, small, small_len);
	expect_pdu(t, t->r, reader, big, big_len);
	assert_true(tu_loop_until(t->ev, &wr->done, BIG_TIMEOUT_MS));
	assert_int_equal(wr->err, 0);
	assert_int_equal(tframe_reader_buffered(reader), 0);
	/* nothing of the taken PDUs is left on the reader */
	assert_true(talloc_total_size(reader) < 1024 * 1024);
}

/*
 * Rule: the PDUs that follow a PDU larger than the read-ahead, already
 * waiting on the stream, are read along with its body and arrive whole.
 */
static void test_stream_large_then_small(void **state)
{
	struct tctx *t = *state;
	enum { N = 20 };
	struct tframe_reader *reader = new_reader(t->mem, "u32le");
	struct tframe_spec spec;
	uint8_t *big, *small[N], *all = NULL;
	size_t big_len, small_len[N], all_len = 0;
	size_t i;

	parse_ok("u32le", &spec);
	big = make_pdu(t->mem, &spec, 70000, 11, &big_len);
	append(t->mem, &all, &all_len, big, big_len);
	for (i = 0; i < N; i++) {
		small[i] = make_pdu(t->mem, &spec, i * 3, (unsigned)i,
				    &small_len[i]);
		append(t->mem, &all, &all_len, small[i], small_len[i]);
	}
	/* all of it waits on the stream before the first read */
	write_all(t, t->w, all, all_len);
	expect_pdu(t, t->r, reader, big, big_len);
	/* the small PDUs came in with the end of the big one's body */
	assert_true(tframe_reader_buffered(reader) > 0);
	for (i = 0; i < N; i++) {
		expect_pdu(t, t->r, reader, small[i], small_len[i]);
	}
	assert_int_equal(tframe_reader_buffered(reader), 0);
	assert_int_equal(tstream_pending_bytes(t->r), 0);
}

/*
 * Rule: a header announcing more than the default maximum (4 GiB) fails
 * with EMSGSIZE, and nothing is allocated for it.
 */
static void test_stream_max_default(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be");
	static const uint8_t hdr[] = { 0xff, 0xff, 0xff, 0xff, 'a', 'b' };

	write_all(t, t->w, hdr, sizeof(hdr));
	expect_read_error(t, t->r, reader, EMSGSIZE);
	assert_true(talloc_total_size(reader) < 1024 * 1024);
	assert_true(talloc_total_size(t->mem) < 1024 * 1024);
}

/* Rule: an explicit max_pdu bounds the whole PDU, header included. */
static void test_stream_max_explicit(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be,max=64k");
	struct tframe_spec spec;
	struct writer *wr;
	uint8_t *p;
	size_t len;

	parse_ok("u32be,max=64k", &spec);
	/* exactly max_pdu bytes: accepted */
	p = make_pdu(t->mem, &spec, 65532, 3, &len);
	assert_int_equal(len, 65536);
	wr = writer_start(t->mem, t->ev, t->w, p, len, 0);
	expect_pdu(t, t->r, reader, p, len);
	assert_true(tu_loop_until(t->ev, &wr->done, TIMEOUT_MS));
	assert_int_equal(wr->err, 0);

	/* one byte more: refused */
	write_all(t, t->w, (const uint8_t *)"\x00\x00\xff\xfd", 4);
	expect_read_error(t, t->r, reader, EMSGSIZE);
}

/* Rule: a self-inclusive header announcing less than itself is EINVAL. */
static void test_stream_self_inclusive_short(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "dcerpc");
	uint8_t hdr[16];

	memset(hdr, 0, sizeof(hdr));
	hdr[0] = 5;
	hdr[2] = 0x0b;
	hdr[8] = 4;	/* frag_length 4 < 10-byte header */
	write_all(t, t->w, hdr, sizeof(hdr));
	expect_read_error(t, t->r, reader, EINVAL);
}

/* Rule: the stream ending inside a PDU header fails with EPIPE. */
static void test_stream_eof_mid_header(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be");

	write_all(t, t->w, (const uint8_t *)"\x00\x00", 2);
	TALLOC_FREE(t->w);
	expect_read_error(t, t->r, reader, EPIPE);
}

/* Rule: the stream ending inside a PDU body fails with EPIPE. */
static void test_stream_eof_mid_body(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u16be");
	struct tevent_req *req;
	struct writer *wr;
	uint8_t *pdu;
	size_t size = 0;
	int err = 0;
	bool done;

	/* the read waits while the header and half the body arrive */
	req = start_read(t, t->r, reader, &done);
	wr = writer_start(t->mem, t->ev, t->w,
			  (const uint8_t *)"\x00\x0a" "abcde", 7, 1);
	assert_true(tu_loop_until(t->ev, &wr->done, TIMEOUT_MS));
	assert_int_equal(wr->err, 0);
	assert_false(done);
	TALLOC_FREE(t->w);
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	pdu = finish_read(req, reader, t->mem, &size, &err, NULL);
	assert_null(pdu);
	assert_int_equal(err, EPIPE);
}

/* Rule: the stream ending before any byte of a PDU fails with EPIPE. */
static void test_stream_eof_before_pdu(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "nbss");

	TALLOC_FREE(t->w);
	expect_read_error(t, t->r, reader, EPIPE);
}

/* Rule: the stream ending between two PDUs fails the next read, EPIPE. */
static void test_stream_eof_between_pdus(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u16le");
	struct tframe_spec spec;
	uint8_t *p;
	size_t len;

	parse_ok("u16le", &spec);
	p = make_pdu(t->mem, &spec, 12, 9, &len);
	write_all(t, t->w, p, len);
	TALLOC_FREE(t->w);
	expect_pdu(t, t->r, reader, p, len);
	expect_read_error(t, t->r, reader, EPIPE);
}

/*
 * Rule: one reader serves the stream for its whole life, so a PDU read
 * freed before any byte arrived must not disturb the next read.
 */
static void test_stream_read_cancelled(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be");
	struct tframe_spec spec;
	struct tevent_req *req;
	uint8_t *p;
	size_t len;
	bool done;

	parse_ok("u32be", &spec);
	p = make_pdu(t->mem, &spec, 21, 5, &len);
	/* nothing has been written: the read waits, then is given up */
	req = start_read(t, t->r, reader, &done);
	assert_false(done);
	assert_true(tevent_req_is_in_progress(req));
	talloc_free(req);
	assert_int_equal(tframe_reader_buffered(reader), 0);

	write_all(t, t->w, p, len);
	expect_pdu(t, t->r, reader, p, len);
}

/*
 * Rule: a spec that tframe_spec_parse accepts can be read: the largest
 * header allowed (offset 65535 + a 1-byte length = 64 KiB) works, and one
 * byte more is refused when parsing, not when reading.
 */
static void test_stream_largest_offset(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader;
	struct tframe_spec spec;
	struct writer *wr;
	uint8_t *p;
	size_t len;

	assert_int_equal(tframe_spec_parse("offset=65536,size=1", &spec, NULL),
			 -1);
	assert_int_equal(errno, EINVAL);
	parse_ok("offset=65535,size=1", &spec);
	reader = tframe_reader_create(t->mem, &spec);
	assert_non_null(reader);
	p = make_pdu(t->mem, &spec, 3, 4, &len);
	assert_int_equal(len, 65539);
	wr = writer_start(t->mem, t->ev, t->w, p, len, 0);
	expect_pdu(t, t->r, reader, p, len);
	assert_true(tu_loop_until(t->ev, &wr->done, TIMEOUT_MS));
	assert_int_equal(wr->err, 0);
}

/* ------------------------------------------------------------------ */
/* Large PDUs: hold_max, take_head, body reads, assemble              */
/* ------------------------------------------------------------------ */

/* Start a PDU read and wait for it; the request's result (0 or -1/err). */
static int read_until_done(struct tctx *t, struct tframe_reader *reader,
			   int *err)
{
	struct tevent_req *req;
	bool done;
	int ret;

	req = start_read(t, t->r, reader, &done);
	assert_true(tu_loop_until(t->ev, &done, BIG_TIMEOUT_MS));
	*err = 0;
	ret = tstream_readv_pdu_recv(req, err);
	talloc_free(req);
	return ret == -1 ? -1 : 0;
}

/*
 * Read the stopped PDU's body the way a forwarding caller does: pieces
 * of at most `piece` bytes with read_some, counted with body_read.
 * Appends head and body to *buf.
 */
static void read_body(struct tctx *t, struct tframe_reader *reader,
		      size_t piece, uint8_t **buf, size_t *len)
{
	uint8_t *chunk = talloc_size(t->mem, piece);

	assert_non_null(chunk);
	while (tframe_reader_body_left(reader) > 0) {
		uint64_t left = tframe_reader_body_left(reader);
		size_t want = left < piece ? (size_t)left : piece;
		struct tevent_req *req;
		bool done = false;
		int err = 0;
		ssize_t n;

		req = tstream_read_some_send(t->mem, t->ev, t->r, chunk,
					     want);
		assert_non_null(req);
		tevent_req_set_callback(req, tu_set_done, &done);
		assert_true(tu_loop_until(t->ev, &done, BIG_TIMEOUT_MS));
		n = tstream_read_some_recv(req, &err);
		talloc_free(req);
		if (n <= 0) {
			fail_msg("body read: %zd (%s)", n, strerror(err));
		}
		assert_true((size_t)n <= want);
		assert_int_equal(tframe_reader_body_read(reader, (size_t)n), 0);
		append(t->mem, buf, len, chunk, (size_t)n);
	}
	talloc_free(chunk);
}

/*
 * Rule: with a hold limit, a larger PDU stops the read at its checked
 * header; take_head gives the header and what was read ahead, the body
 * comes from the stream in pieces, and the PDU after it is read whole.
 */
static void test_hold_take_head(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be");
	struct tframe_spec spec;
	struct writer *wr;
	uint8_t *big, *small, *all = NULL, *got = NULL, *head;
	size_t big_len, small_len, all_len = 0, got_len = 0, size = 0;
	int err = 0;

	parse_ok("u32be", &spec);
	tframe_reader_set_hold_max(reader, 1000);
	big = make_pdu(t->mem, &spec, 300000, 3, &big_len);
	small = make_pdu(t->mem, &spec, 996, 4, &small_len); /* = hold_max */
	append(t->mem, &all, &all_len, big, big_len);
	append(t->mem, &all, &all_len, small, small_len);
	wr = writer_start(t->mem, t->ev, t->w, all, all_len, 0);

	assert_int_equal(read_until_done(t, reader, &err), 0);
	errno = 0;
	assert_null(tframe_reader_take(reader, t->mem, &size));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(tframe_reader_stopped_size(reader), big_len);
	/* nothing was allocated for the body */
	assert_true(talloc_total_size(reader) < 70 * 1024);
	/* a read while stopped completes at once, still stopped */
	assert_int_equal(read_until_done(t, reader, &err), 0);
	assert_int_equal(tframe_reader_stopped_size(reader), big_len);

	head = tframe_reader_take_head(reader, t->mem, &size);
	assert_non_null(head);
	assert_true(size >= 4 && size < big_len);
	assert_int_equal(tframe_reader_stopped_size(reader), 0);
	assert_int_equal(tframe_reader_body_left(reader), big_len - size);
	append(t->mem, &got, &got_len, head, size);
	/* a PDU read now would skip the body */
	assert_int_equal(read_until_done(t, reader, &err), -1);
	assert_int_equal(err, EBUSY);
	read_body(t, reader, 4096, &got, &got_len);
	assert_int_equal(got_len, big_len);
	assert_memory_equal(got, big, big_len);
	/* the next one is at most hold_max: whole, as before */
	expect_pdu(t, t->r, reader, small, small_len);
	assert_true(tu_loop_until(t->ev, &wr->done, BIG_TIMEOUT_MS));
	assert_int_equal(wr->err, 0);
	assert_int_equal(tframe_reader_buffered(reader), 0);
	assert_int_equal(tframe_reader_body_left(reader), 0);
}

/*
 * Rule: a stopped PDU whose whole self was read ahead comes out of
 * take_head complete (body_left 0); take_buffered leaves a PDU over the
 * hold limit to the next read, which stops at it.
 */
static void test_hold_buffered(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u16be");
	struct tframe_spec spec;
	uint8_t *a, *b, *all = NULL, *head;
	size_t a_len, b_len, all_len = 0, size = 0;
	int err = 0;

	parse_ok("u16be", &spec);
	tframe_reader_set_hold_max(reader, 50);
	a = make_pdu(t->mem, &spec, 10, 1, &a_len);
	b = make_pdu(t->mem, &spec, 100, 2, &b_len);
	append(t->mem, &all, &all_len, a, a_len);
	append(t->mem, &all, &all_len, b, b_len);
	write_all(t, t->w, all, all_len);

	expect_pdu(t, t->r, reader, a, a_len);
	errno = 0;
	assert_null(tframe_reader_take_buffered(reader, t->mem, &size));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(read_until_done(t, reader, &err), 0);
	assert_int_equal(tframe_reader_stopped_size(reader), b_len);
	head = tframe_reader_take_head(reader, t->mem, &size);
	assert_non_null(head);
	assert_int_equal(size, b_len);
	assert_memory_equal(head, b, b_len);
	assert_int_equal(tframe_reader_body_left(reader), 0);
	assert_int_equal(tframe_reader_buffered(reader), 0);
}

/* Rule: a stopped PDU can be assembled whole after all. */
static void test_hold_assemble(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "nbss");
	struct tframe_spec spec;
	struct writer *wr;
	uint8_t *big, *small, *all = NULL;
	size_t big_len, small_len, all_len = 0;
	int err = 0;

	parse_ok("nbss", &spec);
	tframe_reader_set_hold_max(reader, 64);
	big = make_pdu(t->mem, &spec, 200000, 5, &big_len);
	small = make_pdu(t->mem, &spec, 7, 6, &small_len);
	append(t->mem, &all, &all_len, big, big_len);
	append(t->mem, &all, &all_len, small, small_len);
	wr = writer_start(t->mem, t->ev, t->w, all, all_len, 1000);

	errno = 0;
	assert_int_equal(tframe_reader_assemble(reader), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(read_until_done(t, reader, &err), 0);
	assert_int_equal(tframe_reader_stopped_size(reader), big_len);
	assert_int_equal(tframe_reader_assemble(reader), 0);
	assert_int_equal(tframe_reader_stopped_size(reader), 0);
	expect_pdu(t, t->r, reader, big, big_len);
	expect_pdu(t, t->r, reader, small, small_len);
	assert_true(tu_loop_until(t->ev, &wr->done, BIG_TIMEOUT_MS));
	assert_int_equal(wr->err, 0);
}

/*
 * Rule: the hold limit does not loosen max_pdu (EMSGSIZE at the header,
 * nothing allocated), and body_read refuses more than is left.
 */
static void test_hold_limits(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be,max=1000");
	uint8_t hdr[4] = { 0, 0, 0x10, 0 };	/* 4096 bytes */
	size_t size = 0;

	tframe_reader_set_hold_max(reader, 100);
	errno = 0;
	assert_int_equal(tframe_reader_body_read(reader, 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(tframe_reader_take_head(reader, t->mem, &size));
	assert_int_equal(errno, ENOENT);
	write_all(t, t->w, hdr, sizeof(hdr));
	expect_read_error(t, t->r, reader, EMSGSIZE);
}

/*
 * Rule: with a hold limit a stream that ends inside a header is still
 * EPIPE with bytes buffered (cut short), as without one.
 */
static void test_hold_eof_after_header(void **state)
{
	struct tctx *t = *state;
	struct tframe_reader *reader = new_reader(t->mem, "u32be");
	uint8_t hdr[4] = { 0, 1, 0, 0 };
	int err = 0;

	tframe_reader_set_hold_max(reader, 100);
	write_all(t, t->w, hdr, 2);
	TALLOC_FREE(t->w);
	assert_int_equal(read_until_done(t, reader, &err), -1);
	assert_int_equal(err, EPIPE);
	assert_true(tframe_reader_buffered(reader) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_parse_presets),
		T(test_parse_generic),
		T(test_parse_errors),
		T(test_spec_check),
		T(test_header_roundtrip),
		T(test_header_exact_bytes),
		T(test_header_emsgsize),
		T(test_header_einval),
		T(test_take_without_pdu),
		T(test_stream_roundtrip),
		T(test_stream_byte_by_byte),
		T(test_stream_many_in_one_write),
		T(test_take_buffered),
		T(test_stream_empty_body),
		T(test_stream_large_pdu),
		T(test_stream_large_then_small),
		T(test_stream_max_default),
		T(test_stream_max_explicit),
		T(test_stream_self_inclusive_short),
		T(test_stream_eof_mid_header),
		T(test_stream_eof_mid_body),
		T(test_stream_eof_before_pdu),
		T(test_stream_eof_between_pdus),
		T(test_stream_read_cancelled),
		T(test_stream_largest_offset),
		T(test_hold_take_head),
		T(test_hold_buffered),
		T(test_hold_assemble),
		T(test_hold_limits),
		T(test_hold_eof_after_header),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
