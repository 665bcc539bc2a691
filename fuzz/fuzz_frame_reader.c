/*
 * fuzz_frame_reader.c - fuzz target for the framing reader
 *
 * A byte stream from the input is read as PDUs with
 * tstream_readv_pdu_send(tframe_next_vector) until an error or the end,
 * and every result is compared with a plain walk over the same bytes.
 *
 * Input layout (all of it meaningful, so any mutation is a valid test):
 *   byte 0   spec: bit 7 clear, a preset (byte % 9); set, the generic form
 *            with bit 0 "le" and bit 1 "include-header"
 *   byte 1   bits 0-2 pick max= (all small, to keep allocations small);
 *            bits 3-4 both set: a unix socketpair instead of memory
 *   byte 2   generic form: offset= (bits 0-3), size= (bits 4-7, mod 5)
 *   byte 3   generic form: adjust=, as a signed byte
 *   byte 4   in-memory stream: how the bytes arrive (bits 0-1) and what
 *            tstream_pending_bytes says (bits 2-3); also seeds the chunks.
 *            Bit 4: after each PDU read, take the PDUs already read ahead
 *            with tframe_reader_take_buffered(), as the relay does
 *   rest     the stream
 *
 * The in-memory stream is a tstream backend of its own (tsocket_internal.h)
 * whose bytes "arrive" in chunks as reads wait for them, so the reader's
 * read-ahead sees every pattern of pending bytes, including a backend that
 * cannot tell (0) or fails (-1).  The socketpair has every byte waiting at
 * once and then the end of stream, through the real BSD backend.
 *
 * Checked for each PDU: it is exactly the next bytes of the stream, its
 * size is within [header size, max], tframe_pdu_size() of its header is
 * its size, tframe_header() of its payload length writes the same length
 * field, and the bytes read from the stream are the PDUs taken plus
 * tframe_reader_buffered().  The read that ends it all fails with the
 * errno the walk predicts: EPIPE when the stream ends inside a header or
 * a PDU (or before one), else what tframe_pdu_size() says of the header.
 * tframe_reader_take_buffered() must hand out exactly the PDUs that are
 * whole in what was read ahead, fail with ENOENT for one that is not, and
 * with the header's errno for a bad one.  After EPIPE the reader holds
 * bytes exactly when the stream ended inside a PDU (see check_cut()).
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "tsocket.h"
#include "tsocket_internal.h"
#include "tsocket_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_BYTES 5
/* More than a socketpair takes in one go would only be cut off there. */
#define MAX_STREAM (64 * 1024)

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/* ---------------------------------------------------------------- spec */

static const char *const presets[] = {
	"u8", "u16be", "u16le", "u32be", "u32le", "u64be", "u64le",
	"nbss", "dcerpc",
};

/* offset + size of each preset's header, for max= */
static const size_t preset_hsize[] = { 1, 2, 2, 4, 4, 8, 8, 4, 10 };

static const unsigned sizes[] = { 1, 2, 3, 4, 8 };

/*
 * The largest PDU: tiny (only the header fits, or one byte more) up to
 * beyond the reader's 64 KiB read-ahead buffer.  0 means the header size.
 */
static const unsigned long maxes[] = { 0, 1, 16, 64, 255, 1024, 4096, 70000 };

/* The spec text the first bytes choose. */
static char *spec_text(TALLOC_CTX *mem_ctx, const uint8_t *in)
{
	size_t hsize;
	unsigned long max;
	char *text;

	if ((in[0] & 0x80) == 0) {
		text = talloc_strdup(mem_ctx, presets[in[0] % 9]);
		hsize = preset_hsize[in[0] % 9];
	} else {
		unsigned offset = in[2] & 0x0f;
		unsigned size = sizes[(in[2] >> 4) % 5];

		text = talloc_asprintf(mem_ctx, "offset=%u,size=%u,%s,"
				       "adjust=%d%s", offset, size,
				       in[0] & 1 ? "le" : "be",
				       (int)(int8_t)in[3],
				       in[0] & 2 ? ",include-header" : "");
		hsize = offset + size;
	}
	max = maxes[in[1] & 7];
	if (max < 2) {
		max += hsize;
	} else if (max < hsize) {
		max = hsize;
	}
	if (text != NULL) {
		text = talloc_asprintf_append(text, ",max=%lu", max);
	}
	return text;
}

/* ---------------------------------------------------------------- memory */

/*
 * A read-only stream over a buffer.  Bytes up to `arrived` have come in;
 * a read that wants more makes more arrive, chunk by chunk, as a socket
 * would.  Reads complete on the next loop iteration, like real ones.
 */
enum arrival { ARRIVE_ALL, ARRIVE_BYTE, ARRIVE_SMALL, ARRIVE_LARGE };
enum pending { PENDING_TRUE, PENDING_TRUE2, PENDING_ZERO, PENDING_FAIL };

struct mem_stream {
	const uint8_t *data;
	size_t len, pos, arrived;
	enum arrival arrival;
	enum pending pending;
	uint32_t rng;
};

static uint32_t mem_rng(struct mem_stream *ms)
{
	/* xorshift32: any fixed sequence will do, it only has to repeat */
	ms->rng ^= ms->rng << 13;
	ms->rng ^= ms->rng >> 17;
	ms->rng ^= ms->rng << 5;
	return ms->rng;
}

static void mem_arrive(struct mem_stream *ms)
{
	size_t chunk;

	switch (ms->arrival) {
	case ARRIVE_ALL:
		chunk = ms->len;
		break;
	case ARRIVE_BYTE:
		chunk = 1;
		break;
	case ARRIVE_SMALL:
		chunk = 1 + mem_rng(ms) % 16;
		break;
	default:
		chunk = 1 + mem_rng(ms) % 4096;
		break;
	}
	ms->arrived = chunk > ms->len - ms->arrived ? ms->len
						    : ms->arrived + chunk;
}

static ssize_t mem_pending_bytes(struct tstream_context *stream)
{
	struct mem_stream *ms = tstream_context_data(stream, struct mem_stream);

	switch (ms->pending) {
	case PENDING_ZERO:
		return 0;	/* a backend that cannot tell */
	case PENDING_FAIL:
		errno = EIO;
		return -1;
	default:
		return (ssize_t)(ms->arrived - ms->pos);
	}
}

struct mem_io_state {
	int ret;
};

static struct tevent_req *mem_readv_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_context *stream,
					 struct iovec *vector, size_t count)
{
	struct mem_stream *ms = tstream_context_data(stream, struct mem_stream);
	struct mem_io_state *state;
	struct tevent_req *req;
	size_t want = 0, got = 0, n, i;

	req = tevent_req_create(mem_ctx, &state, struct mem_io_state);
	if (req == NULL) {
		return NULL;
	}
	for (i = 0; i < count; i++) {
		want += vector[i].iov_len;
	}
	while (ms->arrived - ms->pos < want && ms->arrived < ms->len) {
		mem_arrive(ms);
	}
	for (i = 0; i < count && ms->pos < ms->len; i++) {
		n = vector[i].iov_len;
		if (n > ms->len - ms->pos) {
			n = ms->len - ms->pos;
		}
		memcpy(vector[i].iov_base, ms->data + ms->pos, n);
		ms->pos += n;
		got += n;
	}
	if (got < want) {
		tevent_req_error(req, EPIPE);	/* the end of the stream */
	} else {
		state->ret = (int)got;
		tevent_req_done(req);
	}
	return tevent_req_post(req, ev);
}

static int mem_io_recv(struct tevent_req *req, int *perrno)
{
	struct mem_io_state *state = tevent_req_data(req,
						     struct mem_io_state);
	int ret = state->ret;

	if (tsocket_req_is_error(req, perrno)) {
		ret = -1;
	}
	tevent_req_received(req);
	return ret;
}

/* Nothing writes or disconnects: these only make the ops table whole. */
static struct tevent_req *mem_writev_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tstream_context *stream,
					  const struct iovec *vector,
					  size_t count)
{
	struct mem_io_state *state;
	struct tevent_req *req;

	req = tevent_req_create(mem_ctx, &state, struct mem_io_state);
	if (req == NULL) {
		return NULL;
	}
	tevent_req_error(req, EBADF);
	return tevent_req_post(req, ev);
}

static struct tevent_req *mem_disconnect_send(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct tstream_context *stream)
{
	struct mem_io_state *state;
	struct tevent_req *req;

	req = tevent_req_create(mem_ctx, &state, struct mem_io_state);
	if (req == NULL) {
		return NULL;
	}
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static const struct tstream_context_ops mem_stream_ops = {
	.name = "fuzz-memory",
	.pending_bytes = mem_pending_bytes,
	.readv_send = mem_readv_send,
	.readv_recv = mem_io_recv,
	.writev_send = mem_writev_send,
	.writev_recv = mem_io_recv,
	.disconnect_send = mem_disconnect_send,
	.disconnect_recv = mem_io_recv,
};

static struct tstream_context *mem_stream_create(TALLOC_CTX *mem_ctx,
						 const uint8_t *data,
						 size_t len, uint8_t how,
						 struct mem_stream **pms)
{
	struct tstream_context *stream;
	struct mem_stream *ms;

	stream = tstream_context_create(mem_ctx, &mem_stream_ops, &ms,
					struct mem_stream, __location__);
	if (stream == NULL) {
		return NULL;
	}
	ms->data = data;
	ms->len = len;
	ms->arrival = (enum arrival)(how & 3);
	ms->pending = (enum pending)((how >> 2) & 3);
	/* never 0, or xorshift stays there */
	ms->rng = 0x9e3779b9u ^ ((uint32_t)how << 8) ^ (uint32_t)len;
	*pms = ms;
	return stream;
}

/* ---------------------------------------------------------------- socket */

/*
 * The read end of a socketpair holding as much of the data as fits in it
 * (*len is cut down to that), followed by the end of the stream.
 */
static struct tstream_context *socket_stream_create(TALLOC_CTX *mem_ctx,
						    const uint8_t *data,
						    size_t *len)
{
	struct tstream_context *stream = NULL;
	size_t done = 0;
	ssize_t n;
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
		return NULL;
	}
	/* nobody reads while we write: never wait for room */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[1], F_SETFL, O_NONBLOCK) == -1) {
		goto fail;
	}
	while (done < *len) {
		n = write(fds[1], data + done, *len - done);
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		done += (size_t)n;
	}
	*len = done;
	close(fds[1]);
	fds[1] = -1;
	if (tstream_bsd_existing_socket(mem_ctx, fds[0], &stream) == -1) {
		goto fail;
	}
	return stream;
fail:
	close(fds[0]);
	if (fds[1] != -1) {
		close(fds[1]);
	}
	return NULL;
}

/* ---------------------------------------------------------------- model */

/*
 * What reading the PDU at off must give: 0 with its size, or the errno
 * the reader has to fail with.
 */
static int expect_pdu(const struct tframe_spec *spec, const uint8_t *data,
		      size_t len, size_t off, uint64_t *size)
{
	size_t hsize = tframe_header_size(spec);

	if (len - off < hsize) {
		return EPIPE;
	}
	if (tframe_pdu_size(spec, data + off, size) == -1) {
		return errno;
	}
	if (len - off < *size) {
		return EPIPE;
	}
	return 0;
}

/* The checks on one PDU that the reader returned. */
static void check_pdu(const struct tframe_spec *spec, const uint8_t *pdu,
		      size_t size, uint8_t *hdr)
{
	size_t hsize = tframe_header_size(spec);
	uint64_t max = spec->max_pdu;
	uint64_t decoded = 0;

	CHECK(size >= hsize);
	CHECK(size <= max);
	CHECK(tframe_pdu_size(spec, pdu, &decoded) == 0);
	CHECK(decoded == size);
	/* framing the payload again gives the same length field */
	CHECK(tframe_header(spec, size - hsize, hdr) == 0);
	CHECK(memcmp(hdr + spec->length_offset, pdu + spec->length_offset,
		     spec->length_size) == 0);
}

/*
 * After EPIPE, with `left` bytes of the stream not taken as PDUs.  The
 * relay tells a clean end from one inside a PDU by whether the reader
 * still holds bytes (tframe_reader_buffered() > 0), so it must hold some
 * exactly when the stream was cut, and never more than came.  The count
 * relies on tstream_pending_bytes(): a backend whose pending_bytes fails
 * may lose a cut header's bytes, so only the bound is checked there.
 */
static void check_cut(const struct tframe_reader *reader,
		      const struct mem_stream *ms, size_t left)
{
	size_t buffered = tframe_reader_buffered(reader);

	if (buffered > left) {
		fprintf(stderr, "EPIPE: %zu bytes buffered, %zu left\n",
			buffered, left);
	}
	CHECK(buffered <= left);
	if (ms != NULL && ms->pending == PENDING_FAIL) {
		return;
	}
	if ((buffered > 0) != (left > 0)) {
		fprintf(stderr, "EPIPE: %zu bytes buffered, %zu left: %s\n",
			buffered, left, left > 0 ? "a cut taken for an end"
						 : "an end taken for a cut");
	}
	CHECK((buffered > 0) == (left > 0));
}

/*
 * Take the PDUs already read ahead, as long as there are (bytes[0..off)
 * are taken, read_total bytes were read); the new off.
 */
static size_t take_buffered(const struct tframe_spec *spec,
			    struct tframe_reader *reader, TALLOC_CTX *mem_ctx,
			    const uint8_t *bytes, size_t len, size_t off,
			    size_t read_total, uint8_t *hdr)
{
	size_t hsize = tframe_header_size(spec);
	uint64_t want_size = 0;
	uint8_t *pdu;
	size_t got = 0, avail;
	int want;

	for (;;) {
		/* what the walk says of the PDU at off, and how much is in */
		avail = read_total - off;
		CHECK(tframe_reader_buffered(reader) == avail);
		want = expect_pdu(spec, bytes, len, off, &want_size);
		if (avail < hsize) {
			want = ENOENT;
		} else if (want == 0 || want == EPIPE) {
			/*
			 * With the header in, EPIPE means the PDU runs past
			 * the end of the stream: it cannot be whole here.
			 */
			if (want_size > avail) {
				want = ENOENT;
			}
			CHECK(want != EPIPE);
		}
		errno = 0;
		pdu = tframe_reader_take_buffered(reader, mem_ctx, &got);
		if (pdu == NULL) {
			if (errno != want) {
				fprintf(stderr, "take_buffered at %zu "
					"(%zu buffered): errno %d, expected "
					"%d\n", off, avail, errno, want);
			}
			CHECK(errno == want);
			return off;
		}
		if (want != 0) {
			fprintf(stderr, "take_buffered at %zu (%zu "
				"buffered): a PDU, expected errno %d\n", off,
				avail, want);
		}
		CHECK(want == 0);
		CHECK(talloc_parent(pdu) == mem_ctx);
		CHECK(got == want_size);
		CHECK(memcmp(pdu, bytes + off, got) == 0);
		check_pdu(spec, pdu, got, hdr);
		talloc_free(pdu);
		off += got;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tframe_spec spec;
	struct tframe_reader *reader;
	struct tstream_context *stream;
	struct tevent_context *ev;
	struct mem_stream *ms = NULL;
	struct tevent_req *req;
	const uint8_t *bytes;
	const char *error = NULL;
	TALLOC_CTX *mem;
	uint64_t want_size = 0;
	uint8_t *pdu, *hdr;
	size_t len, off = 0, got, read_total = 0, npdu = 0;
	char *text;
	int n, err, want;

	if (size < HEADER_BYTES || size - HEADER_BYTES > MAX_STREAM) {
		return 0;
	}
	bytes = data + HEADER_BYTES;
	len = size - HEADER_BYTES;

	mem = talloc_new(NULL);
	CHECK(mem != NULL);
	text = spec_text(mem, data);
	CHECK(text != NULL);
	if (tframe_spec_parse(text, &spec, &error) != 0) {
		fprintf(stderr, "spec '%s': %s\n", text, error);
		abort();	/* spec_text() only makes valid ones */
	}
	hdr = talloc_size(mem, tframe_header_size(&spec));
	ev = tevent_context_init(mem);
	reader = tframe_reader_create(mem, &spec);
	CHECK(hdr != NULL && ev != NULL && reader != NULL);

	if ((data[1] & 0x18) == 0x18) {
		stream = socket_stream_create(mem, bytes, &len);
	} else {
		stream = mem_stream_create(mem, bytes, len, data[4], &ms);
	}
	CHECK(stream != NULL);

	/* every PDU has at least one byte: at most len + 1 rounds */
	for (;;) {
		CHECK(npdu <= len);
		want = expect_pdu(&spec, bytes, len, off, &want_size);
		req = tstream_readv_pdu_send(mem, ev, stream,
					     tframe_next_vector, reader);
		CHECK(req != NULL);
		/* false only if the loop has nothing left to wait for */
		CHECK(tevent_req_poll(req, ev));
		err = 0;
		n = tstream_readv_pdu_recv(req, &err);
		talloc_free(req);
		if (n == -1) {
			if (err != want) {
				fprintf(stderr, "PDU %zu at %zu: errno %d, "
					"expected %d\n", npdu, off, err,
					want);
			}
			CHECK(err == want);
			if (err == EPIPE) {
				check_cut(reader, ms, len - off);
			}
			break;
		}
		if (want != 0) {
			fprintf(stderr, "PDU %zu at %zu: read, expected "
				"errno %d\n", npdu, off, want);
		}
		CHECK(want == 0);
		CHECK(n >= 0);
		read_total += (size_t)n;

		pdu = tframe_reader_take(reader, mem, &got);
		CHECK(pdu != NULL);
		CHECK(talloc_parent(pdu) == mem);
		CHECK(got == want_size);
		CHECK(memcmp(pdu, bytes + off, got) == 0);
		check_pdu(&spec, pdu, got, hdr);
		talloc_free(pdu);
		off += got;
		npdu++;

		/* nothing is lost or made up between stream and PDUs */
		CHECK(read_total == off + tframe_reader_buffered(reader));
		CHECK(read_total <= len);
		if (ms != NULL) {
			CHECK(read_total == ms->pos);
		}
		/* a PDU is taken once */
		errno = 0;
		CHECK(tframe_reader_take(reader, mem, &got) == NULL);
		CHECK(errno == ENOENT);

		if (data[4] & 0x10) {
			off = take_buffered(&spec, reader, mem, bytes, len,
					    off, read_total, hdr);
		}
	}
	talloc_free(mem);
	return 0;
}
