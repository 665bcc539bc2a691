/*
 * fuzz_frame_spec.c - fuzz target for tframe_spec_parse() and the header
 * functions on the specs it accepts
 *
 * Input: the --frame text up to the first NUL (so the seed corpus is plain
 * text like "u32be,max=64k").  Bytes after the NUL, if any, give a payload
 * length (8 bytes, big endian) and then the bytes of a header to decode.
 * Checked besides the sanitizers:
 *  - a failure is EINVAL with a message, the same without *error;
 *  - an accepted spec passes tframe_spec_check(), makes a reader, and
 *    written back as options parses to the same spec;
 *  - tframe_header() fails exactly when the documentation says (compared
 *    with 128-bit arithmetic where the compiler has it), and what it
 *    writes tframe_pdu_size() reads back as the same size;
 *  - tframe_pdu_size() of any header fails exactly when documented, and
 *    a size it accepts tframe_header() writes back as the same field.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <talloc.h>
#include "tsocket_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A spec is a short option list; the header may be long (offset=). */
#define MAX_INPUT (4096 + 8)

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

static uint64_t max_pdu(const struct tframe_spec *spec)
{
	return spec->max_pdu != 0 ? spec->max_pdu : TFRAME_DEFAULT_MAX_PDU;
}

static bool spec_equal(const struct tframe_spec *a,
		       const struct tframe_spec *b)
{
	return a->length_offset == b->length_offset &&
	       a->length_size == b->length_size &&
	       a->little_endian == b->little_endian &&
	       a->adjustment == b->adjustment &&
	       a->length_includes_header == b->length_includes_header &&
	       a->max_pdu == b->max_pdu;
}

/* The spec as generic options, which must parse to the same spec. */
static char *spec_unparse(TALLOC_CTX *mem_ctx, const struct tframe_spec *s)
{
	char *text = talloc_asprintf(mem_ctx,
		"offset=%zu,size=%zu,%s,adjust=%lld%s", s->length_offset,
		s->length_size, s->little_endian ? "le" : "be",
		(long long)s->adjustment,
		s->length_includes_header ? ",include-header" : "");

	if (text != NULL && s->max_pdu != 0) {
		text = talloc_asprintf_append(text, ",max=%llu",
					      (unsigned long long)s->max_pdu);
	}
	return text;
}

/* The length field's value in a header (in whatever byte order). */
static uint64_t field_value(const struct tframe_spec *s, const uint8_t *hdr)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < s->length_size; i++) {
		size_t at = s->little_endian ? s->length_size - 1 - i : i;

		v = v << 8 | hdr[s->length_offset + at];
	}
	return v;
}

#ifdef __SIZEOF_INT128__
/*
 * What tframe_header() must do with payload_len, as documented, in
 * arithmetic that cannot overflow: 0, EMSGSIZE or EINVAL.
 */
static int expect_header(const struct tframe_spec *s, uint64_t payload_len)
{
	__int128 hsize = (__int128)tframe_header_size(s);
	__int128 total = hsize + payload_len;
	__int128 field;

	if (total > (__int128)max_pdu(s)) {
		return EMSGSIZE;
	}
	field = (s->length_includes_header ? total : (__int128)payload_len) -
		s->adjustment;
	if (field < 0) {
		return EINVAL;
	}
	if (field >> (8 * s->length_size) != 0) {
		return EMSGSIZE;
	}
	return 0;
}

/* What tframe_pdu_size() must say of a field value: 0 or the errno. */
static int expect_pdu_size(const struct tframe_spec *s, uint64_t field,
			   uint64_t *size)
{
	__int128 hsize = (__int128)tframe_header_size(s);
	__int128 total = (__int128)field + s->adjustment;

	if (!s->length_includes_header) {
		total += hsize;
	}
	if (total < hsize) {
		return EINVAL;
	}
	if (total > (__int128)max_pdu(s)) {
		return EMSGSIZE;
	}
	*size = (uint64_t)total;
	return 0;
}
#endif

/* Frame payload_len and read the header back. */
static void check_header(const struct tframe_spec *s, uint64_t payload_len,
			 uint8_t *hdr)
{
	size_t hsize = tframe_header_size(s);
	uint64_t size = 0;
	size_t i;
	int ret, err;

	memset(hdr, 0xa5, hsize);
	errno = 0;
	ret = tframe_header(s, payload_len, hdr);
	err = ret == 0 ? 0 : errno;
#ifdef __SIZEOF_INT128__
	if (err != expect_header(s, payload_len)) {
		fprintf(stderr, "tframe_header(%llu): errno %d, expected %d\n",
			(unsigned long long)payload_len, err,
			expect_header(s, payload_len));
	}
	CHECK(err == expect_header(s, payload_len));
#endif
	if (ret != 0) {
		CHECK(ret == -1);
		CHECK(err == EMSGSIZE || err == EINVAL);
		return;
	}
	CHECK(ret == 0);
	/* bytes before the field are zero */
	for (i = 0; i < s->length_offset; i++) {
		CHECK(hdr[i] == 0);
	}
	CHECK(tframe_pdu_size(s, hdr, &size) == 0);
	CHECK(size == hsize + payload_len);
}

/* Decode an arbitrary header and, if it is valid, frame its size again. */
static void check_decode(const struct tframe_spec *s, const uint8_t *hdr,
			 uint8_t *again)
{
	size_t hsize = tframe_header_size(s);
	uint64_t size = 0, field = field_value(s, hdr);
	int ret, err;
#ifdef __SIZEOF_INT128__
	uint64_t want_size = 0;
	int want = expect_pdu_size(s, field, &want_size);
#endif

	errno = 0;
	ret = tframe_pdu_size(s, hdr, &size);
	err = ret == 0 ? 0 : errno;
#ifdef __SIZEOF_INT128__
	if (err != want) {
		fprintf(stderr, "tframe_pdu_size(field %llu): errno %d, "
			"expected %d\n", (unsigned long long)field, err, want);
	}
	CHECK(err == want);
	CHECK(ret != 0 || size == want_size);
#endif
	if (ret != 0) {
		CHECK(ret == -1);
		CHECK(err == EMSGSIZE || err == EINVAL);
		return;
	}
	CHECK(size >= hsize && size <= max_pdu(s));
	CHECK(tframe_header(s, size - hsize, again) == 0);
	CHECK(field_value(s, again) == field);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tframe_spec spec, spec2, spec3;
	struct tframe_reader *reader;
	const char *error, *error2;
	TALLOC_CTX *mem;
	const uint8_t *rest;
	uint8_t *hdr, *again;
	uint64_t max, payload = 0;
	size_t len, rest_len, hsize, i;
	char *text, *back;
	int ret, ret2, err;

	if (size > MAX_INPUT) {
		return 0;
	}
	mem = talloc_new(NULL);
	CHECK(mem != NULL);
	len = strnlen((const char *)data, size);
	text = talloc_strndup(mem, (const char *)data, len);
	CHECK(text != NULL);
	rest = len < size ? data + len + 1 : data + size;
	rest_len = (size_t)(data + size - rest);
	if (rest_len >= 8) {
		for (i = 0; i < 8; i++) {
			payload = payload << 8 | rest[i];
		}
		rest += 8;
		rest_len -= 8;
	}

	memset(&spec, 0x5a, sizeof(spec));
	error = NULL;
	errno = 0;
	ret = tframe_spec_parse(text, &spec, &error);
	err = errno;
	/* the same answer when the caller does not want the message */
	ret2 = tframe_spec_parse(text, &spec2, NULL);
	CHECK(ret == ret2);
	if (ret != 0) {
		CHECK(ret == -1);
		CHECK(err == EINVAL);
		CHECK(error != NULL && error[0] != '\0');
		talloc_free(mem);
		return 0;
	}
	CHECK(spec_equal(&spec, &spec2));
	error2 = NULL;
	CHECK(tframe_spec_check(&spec, &error2) == 0);
	CHECK(error2 == NULL);
	CHECK(spec.length_size == 1 || spec.length_size == 2 ||
	      spec.length_size == 3 || spec.length_size == 4 ||
	      spec.length_size == 8);
	hsize = tframe_header_size(&spec);
	CHECK(hsize == spec.length_offset + spec.length_size);
	CHECK(hsize <= 65536);
	max = max_pdu(&spec);
	CHECK(max >= hsize);

	reader = tframe_reader_create(mem, &spec);
	CHECK(reader != NULL);
	CHECK(tframe_reader_buffered(reader) == 0);
	talloc_free(reader);

	hdr = talloc_zero_size(mem, hsize);
	again = talloc_zero_size(mem, hsize);
	CHECK(hdr != NULL && again != NULL);

	/* payloads around the limits, and the one from the input */
	check_header(&spec, 0, hdr);
	check_header(&spec, 1, hdr);
	check_header(&spec, 255, hdr);
	check_header(&spec, 65536, hdr);
	check_header(&spec, max - hsize, hdr);
	check_header(&spec, max - hsize + 1, hdr);
	check_header(&spec, UINT64_MAX, hdr);
	check_header(&spec, payload, hdr);

	/* a header from the input bytes, repeated to fill it */
	if (rest_len > 0) {
		for (i = 0; i < hsize; i++) {
			hdr[i] = rest[i % rest_len];
		}
		check_decode(&spec, hdr, again);
	}

	/*
	 * Last, so that a spec the header functions choke on shows as the
	 * sanitizer's report: it is within the documented bounds, and it
	 * says the same written back as options.
	 */
	CHECK(spec.length_offset <= 65536 - spec.length_size);
	CHECK(max <= 256u * 1024 * 1024 - 1024);	/* one talloc buffer */
	back = spec_unparse(mem, &spec);
	CHECK(back != NULL);
	if (tframe_spec_parse(back, &spec3, &error) != 0) {
		fprintf(stderr, "'%s' parsed, but not '%s': %s\n", text,
			back, error);
		abort();
	}
	CHECK(spec_equal(&spec, &spec3));
	talloc_free(mem);
	return 0;
}
