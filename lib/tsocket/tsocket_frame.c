/*
 * tsocket_frame.c - length-prefix framing: specs, headers and a reader
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "tsocket_frame.h"

/*
 * How much the reader asks for beyond the current PDU, at most.  Big
 * enough to take hundreds of small PDUs per read, small enough not to
 * matter per connection; it is only allocated while bytes are waiting.
 */
#define TFRAME_READ_AHEAD (64 * 1024)
/* A PDU is one talloc buffer: talloc's largest. */
#define TFRAME_LARGEST_MAX_PDU (256u * 1024 * 1024 - 1024)

/* ---------------------------------------------------------------- specs */

size_t tframe_header_size(const struct tframe_spec *spec)
{
	return spec->length_offset + spec->length_size;
}

static uint64_t tframe_max_pdu(const struct tframe_spec *spec)
{
	return spec->max_pdu != 0 ? spec->max_pdu : TFRAME_DEFAULT_MAX_PDU;
}

int tframe_spec_check(const struct tframe_spec *spec, const char **error)
{
	const char *msg = NULL;

	switch (spec->length_size) {
	case 1: case 2: case 3: case 4: case 8:
		break;
	default:
		msg = "length size must be 1, 2, 3, 4 or 8";
		break;
	}
	if (msg == NULL && (spec->length_offset > TFRAME_READ_AHEAD ||
			    tframe_header_size(spec) > TFRAME_READ_AHEAD)) {
		/* the header must fit in the read-ahead buffer */
		msg = "header (offset + size) is over 65536 bytes";
	}
	if (msg == NULL && tframe_max_pdu(spec) > TFRAME_LARGEST_MAX_PDU) {
		/* talloc refuses single allocations over 256 MiB */
		msg = "maximum PDU size is over 256 MiB";
	}
	if (msg == NULL && tframe_max_pdu(spec) < tframe_header_size(spec)) {
		msg = "maximum PDU size is smaller than the header";
	}
	if (msg != NULL) {
		if (error != NULL) {
			*error = msg;
		}
		errno = EINVAL;
		return -1;
	}
	return 0;
}

struct tframe_preset {
	const char *name;
	struct tframe_spec spec;
};

static const struct tframe_preset tframe_presets[] = {
	{ "u8",     { .length_size = 1 } },
	{ "u16be",  { .length_size = 2 } },
	{ "u16le",  { .length_size = 2, .little_endian = true } },
	{ "u32be",  { .length_size = 4 } },
	{ "u32le",  { .length_size = 4, .little_endian = true } },
	{ "u64be",  { .length_size = 8 } },
	{ "u64le",  { .length_size = 8, .little_endian = true } },
	{ "nbss",   { .length_offset = 1, .length_size = 3 } },
	{ "dcerpc", { .length_offset = 8, .length_size = 2,
		      .little_endian = true,
		      .length_includes_header = true } },
};

/* A decimal number, with an optional k/m/g suffix when scaled is true. */
static bool tframe_parse_number(const char *s, bool is_signed, bool scaled,
				int64_t *value)
{
	char *end;
	long long v;

	/* digits only (strtoll alone would take spaces and a sign) */
	if (is_signed && *s == '-') {
		if (s[1] < '0' || s[1] > '9') {
			return false;
		}
	} else if (*s < '0' || *s > '9') {
		return false;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s) {
		return false;
	}
	if (scaled && *end != '\0' && end[1] == '\0') {
		int shift = 0;

		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return false;
		}
		if (v < 0 || v > (INT64_MAX >> shift)) {
			return false;
		}
		v <<= shift;
		end++;
	}
	if (*end != '\0') {
		return false;
	}
	*value = v;
	return true;
}

/* Apply one comma-separated item; NULL or the error message. */
static const char *tframe_parse_item(const char *item, bool first,
				     struct tframe_spec *spec)
{
	const char *eq = strchr(item, '=');
	const char *val = eq != NULL ? eq + 1 : NULL;
	size_t klen = eq != NULL ? (size_t)(eq - item) : strlen(item);
	int64_t v;
	size_t i;

#define TFRAME_KEY(k) (klen == strlen(k) && strncmp(item, k, klen) == 0)
	if (val == NULL) {
		if (TFRAME_KEY("be")) {
			spec->little_endian = false;
			return NULL;
		}
		if (TFRAME_KEY("le")) {
			spec->little_endian = true;
			return NULL;
		}
		if (TFRAME_KEY("include-header")) {
			spec->length_includes_header = true;
			return NULL;
		}
		for (i = 0; i < sizeof(tframe_presets) /
				sizeof(tframe_presets[0]); i++) {
			if (strcmp(item, tframe_presets[i].name) == 0) {
				if (!first) {
					return "a preset must come first";
				}
				*spec = tframe_presets[i].spec;
				return NULL;
			}
		}
		return "unknown preset or option (presets: u8, u16be, "
		       "u16le, u32be, u32le, u64be, u64le, nbss, dcerpc)";
	}
	if (TFRAME_KEY("offset")) {
		if (!tframe_parse_number(val, false, false, &v)) {
			return "offset= needs a number";
		}
		spec->length_offset = (size_t)v;
		return NULL;
	}
	if (TFRAME_KEY("size")) {
		if (!tframe_parse_number(val, false, false, &v) ||
		    v > 8) {
			return "size= must be 1, 2, 3, 4 or 8";
		}
		spec->length_size = (size_t)v;
		return NULL;
	}
	if (TFRAME_KEY("adjust")) {
		if (!tframe_parse_number(val, true, false, &v)) {
			return "adjust= needs a whole number";
		}
		spec->adjustment = v;
		return NULL;
	}
	if (TFRAME_KEY("max")) {
		if (!tframe_parse_number(val, false, true, &v) || v == 0) {
			return "max= needs a positive size (e.g. 65536, 64k, 16m)";
		}
		spec->max_pdu = (uint64_t)v;
		return NULL;
	}
#undef TFRAME_KEY
	return "unknown option (options: offset=, size=, be, le, adjust=, "
	       "include-header, max=)";
}

int tframe_spec_parse(const char *text, struct tframe_spec *spec,
		      const char **error)
{
	struct tframe_spec s = { .length_size = 0 };
	const char *msg = NULL;
	char *copy, *item, *save = NULL;
	bool first = true;

	if (text == NULL || text[0] == '\0') {
		msg = "empty framing spec";
		goto fail;
	}
	copy = strdup(text);
	if (copy == NULL) {
		return -1;
	}
	for (item = strtok_r(copy, ",", &save); item != NULL && msg == NULL;
	     item = strtok_r(NULL, ",", &save)) {
		msg = tframe_parse_item(item, first, &s);
		first = false;
	}
	free(copy);
	if (msg == NULL && s.length_size == 0) {
		msg = "no length size: name a preset or give size=";
	}
	if (msg != NULL) {
		goto fail;
	}
	if (tframe_spec_check(&s, error) == -1) {
		return -1;
	}
	*spec = s;
	return 0;
fail:
	if (error != NULL) {
		*error = msg;
	}
	errno = EINVAL;
	return -1;
}

/* ---------------------------------------------------------------- headers */

int tframe_pdu_size(const struct tframe_spec *spec, const uint8_t *hdr,
		    uint64_t *pdu_size)
{
	const uint8_t *field = hdr + spec->length_offset;
	uint64_t hsize = tframe_header_size(spec);
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < spec->length_size; i++) {
		size_t byte = spec->little_endian ? spec->length_size - 1 - i
						  : i;
		total = (total << 8) | field[byte];
	}
	if (!spec->length_includes_header) {
		if (total > UINT64_MAX - hsize) {
			errno = EMSGSIZE;
			return -1;
		}
		total += hsize;
	}
	if (spec->adjustment < 0) {
		uint64_t sub = (uint64_t)(-(spec->adjustment + 1)) + 1;

		if (total < sub) {
			errno = EINVAL;
			return -1;
		}
		total -= sub;
	} else {
		if (total > UINT64_MAX - (uint64_t)spec->adjustment) {
			errno = EMSGSIZE;
			return -1;
		}
		total += (uint64_t)spec->adjustment;
	}
	if (total < hsize) {
		errno = EINVAL;
		return -1;
	}
	if (total > tframe_max_pdu(spec)) {
		errno = EMSGSIZE;
		return -1;
	}
	*pdu_size = total;
	return 0;
}

int tframe_header(const struct tframe_spec *spec, uint64_t payload_len,
		  uint8_t *hdr)
{
	uint64_t hsize = tframe_header_size(spec);
	uint64_t value;
	size_t i;

	if (payload_len > tframe_max_pdu(spec) - hsize) {
		errno = EMSGSIZE;
		return -1;
	}
	value = spec->length_includes_header ? payload_len + hsize
					     : payload_len;
	/* the field holds value - adjustment */
	if (spec->adjustment > 0) {
		if (value < (uint64_t)spec->adjustment) {
			errno = EINVAL;
			return -1;
		}
		value -= (uint64_t)spec->adjustment;
	} else {
		uint64_t add = (uint64_t)(-(spec->adjustment + 1)) + 1;

		if (spec->adjustment != 0 && value > UINT64_MAX - add) {
			errno = EMSGSIZE;
			return -1;
		}
		if (spec->adjustment != 0) {
			value += add;
		}
	}
	if (spec->length_size < 8 && (value >> (8 * spec->length_size)) != 0) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(hdr, 0, spec->length_offset);
	for (i = 0; i < spec->length_size; i++) {
		size_t byte = spec->little_endian ? i
						  : spec->length_size - 1 - i;
		hdr[spec->length_offset + byte] = (uint8_t)(value >> (8 * i));
	}
	return 0;
}

/* ---------------------------------------------------------------- reader */

struct tframe_reader {
	struct tframe_spec spec;
	size_t hsize;

	/* bytes read ahead: ahead[start..end) are valid */
	uint8_t *ahead;
	size_t start, end;

	/* the PDU being assembled: pdu[0..have) of size bytes */
	uint8_t *pdu;
	uint64_t size;
	uint64_t have;

	/*
	 * PDUs over hold_max (0: none) are not assembled: the read stops
	 * once their header is checked (stopped, size set, the header still
	 * in ahead), and the caller either assembles it after all or takes
	 * the head and reads the body_left remaining bytes itself.
	 */
	uint64_t hold_max;
	bool stopped;
	uint64_t body_left;

	/*
	 * What the last vector asked for, accounted on the next call.  The
	 * token lives on the PDU request that asked: if that request goes
	 * away without coming back (cancelled, failed), the bytes it asked
	 * for never came and are forgotten.
	 */
	size_t asked_pdu, asked_ahead;
	struct tframe_ask_token *token;

	struct iovec iov[2];
};

struct tframe_ask_token {
	struct tframe_reader *reader;
};

static int tframe_ask_token_destructor(struct tframe_ask_token *t)
{
	t->reader->asked_pdu = t->reader->asked_ahead = 0;
	t->reader->token = NULL;
	return 0;
}

static int tframe_reader_destructor(struct tframe_reader *r)
{
	if (r->token != NULL) {
		talloc_set_destructor(r->token, NULL);
	}
	return 0;
}

/* Remember that the request behind mem_ctx asked for the last vector. */
static int tframe_reader_asked(struct tframe_reader *r, TALLOC_CTX *mem_ctx)
{
	if (r->token != NULL && talloc_parent(r->token) == mem_ctx) {
		return 0;
	}
	if (r->token != NULL) {
		talloc_set_destructor(r->token, NULL);
		TALLOC_FREE(r->token);
	}
	r->token = talloc_zero(mem_ctx, struct tframe_ask_token);
	if (r->token == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r->token->reader = r;
	talloc_set_destructor(r->token, tframe_ask_token_destructor);
	return 0;
}

struct tframe_reader *tframe_reader_create(TALLOC_CTX *mem_ctx,
					   const struct tframe_spec *spec)
{
	struct tframe_reader *r;

	if (tframe_spec_check(spec, NULL) == -1) {
		return NULL;
	}
	r = talloc_zero(mem_ctx, struct tframe_reader);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->spec = *spec;
	r->hsize = tframe_header_size(spec);
	talloc_set_destructor(r, tframe_reader_destructor);
	return r;
}

size_t tframe_reader_buffered(const struct tframe_reader *r)
{
	return (r->end - r->start) + (size_t)r->have;
}

/* Start a PDU whose header is at ahead[start]: 0 or -1/errno. */
static int tframe_reader_start_pdu(struct tframe_reader *r)
{
	size_t avail = r->end - r->start;
	size_t take;

	if (tframe_pdu_size(&r->spec, r->ahead + r->start, &r->size) == -1) {
		return -1;
	}
	/* only now, with the size checked, is the PDU allocated */
	r->pdu = talloc_size(r, (size_t)r->size);
	if (r->pdu == NULL) {
		errno = ENOMEM;
		return -1;
	}
	take = avail < r->size ? avail : (size_t)r->size;
	memcpy(r->pdu, r->ahead + r->start, take);
	r->have = take;
	r->start += take;
	if (r->start == r->end) {
		r->start = r->end = 0;
	}
	return 0;
}

/* The read-ahead buffer exists only while it may hold bytes. */
static int tframe_reader_alloc_ahead(struct tframe_reader *r)
{
	if (r->ahead == NULL) {
		r->ahead = talloc_size(r, TFRAME_READ_AHEAD);
		if (r->ahead == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

/* How many bytes beyond `need` are already waiting on the stream. */
static size_t tframe_reader_extra(struct tstream_context *stream,
				  size_t need, size_t room)
{
	ssize_t pending = tstream_pending_bytes(stream);

	if (pending <= 0 || (size_t)pending <= need) {
		return 0;
	}
	pending -= (ssize_t)need;
	return (size_t)pending < room ? (size_t)pending : room;
}

int tframe_next_vector(struct tstream_context *stream, void *private_data,
		       TALLOC_CTX *mem_ctx, struct iovec **vector,
		       size_t *count)
{
	struct tframe_reader *r = talloc_get_type_abort(private_data,
							struct tframe_reader);
	size_t need, extra, want;
	ssize_t pending;

	/* the previous vector was filled completely (see token) */
	r->have += r->asked_pdu;
	r->end += r->asked_ahead;
	r->asked_pdu = r->asked_ahead = 0;

	*vector = r->iov;
	*count = 0;

	if (r->body_left > 0) {
		/* the caller reads that body itself, see take_head */
		errno = EBUSY;
		return -1;
	}
	if (r->stopped) {
		return 0;	/* still waiting for assemble or take_head */
	}
	if (r->pdu == NULL && r->end - r->start >= r->hsize) {
		uint64_t size;

		if (tframe_pdu_size(&r->spec, r->ahead + r->start,
				    &size) == -1) {
			return -1;
		}
		if (r->hold_max != 0 && size > r->hold_max) {
			/* checked, not allocated: the caller decides */
			r->stopped = true;
			r->size = size;
			return 0;
		}
		if (tframe_reader_start_pdu(r) == -1) {
			return -1;
		}
	}
	if (r->pdu != NULL && r->have == r->size) {
		return 0;	/* complete: no read needed */
	}

	if (r->pdu == NULL) {
		if (tframe_reader_alloc_ahead(r) == -1) {
			return -1;
		}
		/* still in the header: read into the read-ahead buffer */
		if (r->start > 0) {
			memmove(r->ahead, r->ahead + r->start,
				r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		need = r->hsize - r->end;
		if (need > TFRAME_READ_AHEAD - r->end) {
			/* a header larger than the buffer: not supported */
			errno = EMSGSIZE;
			return -1;
		}
		pending = tstream_pending_bytes(stream);
		if (pending >= 0 && (size_t)pending < need) {
			/*
			 * Only what has arrived (or one byte, which waits):
			 * a stream that ends inside the header then leaves
			 * those bytes counted, so the end is seen as cutting
			 * a PDU short (see tframe_reader_buffered).
			 */
			want = pending > 0 ? (size_t)pending : 1;
		} else {
			want = need + tframe_reader_extra(stream, need,
					TFRAME_READ_AHEAD - r->end - need);
		}
		r->iov[0].iov_base = r->ahead + r->end;
		r->iov[0].iov_len = want;
		r->asked_ahead = want;
		*count = 1;
		return tframe_reader_asked(r, mem_ctx);
	}
	/* in the body: read it in place, and what follows into ahead */
	need = (size_t)(r->size - r->have);
	extra = tframe_reader_extra(stream, need, TFRAME_READ_AHEAD);
	r->iov[0].iov_base = r->pdu + r->have;
	r->iov[0].iov_len = need;
	r->asked_pdu = need;
	*count = 1;
	if (extra > 0 && tframe_reader_alloc_ahead(r) == 0) {
		/* start == end == 0 here: all of ahead went into the PDU */
		r->iov[1].iov_base = r->ahead;
		r->iov[1].iov_len = extra;
		r->asked_ahead = extra;
		*count = 2;
	}
	return tframe_reader_asked(r, mem_ctx);
}

uint8_t *tframe_reader_take(struct tframe_reader *r, TALLOC_CTX *mem_ctx,
			    size_t *size)
{
	uint8_t *pdu;

	if (r->pdu == NULL || r->have != r->size) {
		errno = ENOENT;
		return NULL;
	}
	pdu = talloc_move(mem_ctx, &r->pdu);
	*size = (size_t)r->size;
	r->size = r->have = 0;
	if (r->start == r->end) {
		/* nothing waiting: give the read-ahead memory back */
		TALLOC_FREE(r->ahead);
		r->start = r->end = 0;
	}
	return pdu;
}

uint8_t *tframe_reader_take_buffered(struct tframe_reader *r,
				     TALLOC_CTX *mem_ctx, size_t *size)
{
	size_t avail = r->end - r->start;
	uint64_t pdu_size;
	uint8_t *pdu;

	if (r->pdu != NULL || r->stopped || r->body_left > 0 ||
	    r->asked_pdu != 0 || r->asked_ahead != 0 || avail < r->hsize) {
		errno = ENOENT;
		return NULL;
	}
	if (tframe_pdu_size(&r->spec, r->ahead + r->start, &pdu_size) == -1) {
		return NULL;
	}
	if (pdu_size > avail ||
	    (r->hold_max != 0 && pdu_size > r->hold_max)) {
		/* the next read stops at its header (see hold_max) */
		errno = ENOENT;
		return NULL;
	}
	pdu = talloc_memdup(mem_ctx, r->ahead + r->start, (size_t)pdu_size);
	if (pdu == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->start += (size_t)pdu_size;
	if (r->start == r->end) {
		TALLOC_FREE(r->ahead);
		r->start = r->end = 0;
	}
	*size = (size_t)pdu_size;
	return pdu;
}

/* ---------------------------------------------------------------- large PDUs */

void tframe_reader_set_hold_max(struct tframe_reader *r, uint64_t hold_max)
{
	r->hold_max = hold_max;
}

uint64_t tframe_reader_stopped_size(const struct tframe_reader *r)
{
	return r->stopped ? r->size : 0;
}

int tframe_reader_assemble(struct tframe_reader *r)
{
	if (!r->stopped) {
		errno = ENOENT;
		return -1;
	}
	/* the header is still at ahead[start]: start the PDU as usual */
	if (tframe_reader_start_pdu(r) == -1) {
		return -1;
	}
	r->stopped = false;
	return 0;
}

uint8_t *tframe_reader_take_head(struct tframe_reader *r,
				 TALLOC_CTX *mem_ctx, size_t *size)
{
	size_t avail = r->end - r->start;
	size_t take;
	uint8_t *head;

	if (!r->stopped) {
		errno = ENOENT;
		return NULL;
	}
	/* the header and whatever of the body was read ahead with it */
	take = avail < r->size ? avail : (size_t)r->size;
	head = talloc_memdup(mem_ctx, r->ahead + r->start, take);
	if (head == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->start += take;
	if (r->start == r->end) {
		TALLOC_FREE(r->ahead);
		r->start = r->end = 0;
	}
	r->body_left = r->size - take;
	r->stopped = false;
	r->size = 0;
	*size = take;
	return head;
}

uint64_t tframe_reader_body_left(const struct tframe_reader *r)
{
	return r->body_left;
}

int tframe_reader_body_read(struct tframe_reader *r, size_t n)
{
	if (n > r->body_left) {
		errno = EINVAL;
		return -1;
	}
	r->body_left -= n;
	return 0;
}
