/*
 * tsocket_frame.h - length-prefix framing for tstream_readv_pdu
 *
 * Many protocols put the length of each PDU in a header field.  A
 * tframe_spec describes that field; a tframe_reader then reads whole PDUs
 * from a stream with tstream_readv_pdu_send() (its next_vector function is
 * tframe_next_vector), and tframe_header() builds the header that frames
 * an outgoing payload the same way.
 *
 * The reader keeps bytes that arrive beyond the current PDU for the next
 * ones, so a stream of small PDUs costs far fewer than two reads per PDU:
 * a PDU already buffered completes without any system call.
 *
 * Errors of a PDU read (tstream_readv_pdu_recv):
 *   EMSGSIZE  the header announces more than spec.max_pdu bytes (nothing
 *             is allocated for it first);
 *   EINVAL    the announced length is smaller than the header itself
 *             (self-inclusive formats) or negative after the adjustment;
 *   EPIPE     the stream ended inside a PDU (or before one).
 * After an error the reader's state is unspecified: close the stream.
 * One thing holds after EPIPE: tframe_reader_buffered() is above zero
 * exactly when the stream ended inside a PDU (it may count fewer bytes
 * than were lost: a partly filled body read is not counted).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCKET_FRAME_H
#define TSOCKET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tsocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest PDU a spec allows when max_pdu is left at 0. */
#define TFRAME_DEFAULT_MAX_PDU (16u * 1024 * 1024)

/*
 * Where the length is and what it counts.  The PDU's total size (header
 * included) is
 *     length + adjustment                  if length_includes_header,
 *     header_size + length + adjustment    otherwise,
 * where header_size = length_offset + length_size and length is the
 * field's value.  Bytes before the field (a type byte, say) are part of
 * the header.
 */
struct tframe_spec {
	size_t length_offset;	/* bytes before the length field */
	size_t length_size;	/* 1, 2, 3, 4 or 8 */
	bool little_endian;	/* default: big endian (network order) */
	int64_t adjustment;	/* added to the decoded length */
	bool length_includes_header;
	uint64_t max_pdu;	/* largest whole PDU accepted; 0: default;
				   at most 256 MiB - 1 KiB (one buffer) */
};

/*
 * Parse a spec: a preset name, optionally followed by options, or options
 * alone (the generic form), comma-separated:
 *     u8 u16be u16le u32be u32le u64be u64le
 *     nbss      1 type byte, then a 3-byte big-endian length
 *     dcerpc    little-endian u16 at offset 8, counting the whole PDU
 *     offset=N size=N be le adjust=N include-header max=N
 * e.g. "u32be,max=65536" or "offset=2,size=2,le,adjust=-4".
 * Returns 0, or -1 with errno EINVAL and *error (if not NULL) set to a
 * static message naming the problem.
 */
int tframe_spec_parse(const char *text, struct tframe_spec *spec,
		      const char **error);

/* Check a spec built by hand: 0, or -1 with EINVAL and *error. */
int tframe_spec_check(const struct tframe_spec *spec, const char **error);

/* Bytes in the header: length_offset + length_size. */
size_t tframe_header_size(const struct tframe_spec *spec);

/*
 * Write the header that frames a payload of payload_len bytes into hdr
 * (tframe_header_size() bytes; bytes before the length field are zero).
 * Returns 0, or -1 with EMSGSIZE if the PDU would exceed max_pdu or the
 * length does not fit in the field, EINVAL if it would be negative.
 */
int tframe_header(const struct tframe_spec *spec, uint64_t payload_len,
		  uint8_t *hdr);

/*
 * Decode a complete header: the PDU's total size (header included) in
 * *pdu_size.  Returns 0, or -1 with EMSGSIZE / EINVAL as described above.
 */
int tframe_pdu_size(const struct tframe_spec *spec, const uint8_t *hdr,
		    uint64_t *pdu_size);

struct tframe_reader;

/*
 * A reader of PDUs framed by spec (copied), allocated on mem_ctx.  Use one
 * reader per stream, for the stream's whole life: it holds bytes read
 * ahead.  NULL with errno on failure (EINVAL for a bad spec).
 */
struct tframe_reader *tframe_reader_create(TALLOC_CTX *mem_ctx,
					   const struct tframe_spec *spec);

/*
 * The next_vector function to pass to tstream_readv_pdu_send() (or the
 * queue variant) with the reader as its private data.
 */
int tframe_next_vector(struct tstream_context *stream, void *private_data,
		       TALLOC_CTX *mem_ctx, struct iovec **vector,
		       size_t *count);

/*
 * After tstream_readv_pdu_recv() succeeded: take the PDU (header
 * included), a talloc buffer moved onto mem_ctx; its size in *size.
 * Returns NULL with errno ENOENT if no PDU is complete.
 */
uint8_t *tframe_reader_take(struct tframe_reader *reader,
			    TALLOC_CTX *mem_ctx, size_t *size);

/*
 * Take the next PDU if it is already complete in the read-ahead buffer,
 * without any I/O (to batch many small PDUs into one write).  Returns
 * NULL with errno ENOENT when it is not (read it with
 * tstream_readv_pdu_send), or EMSGSIZE / EINVAL when its header is bad
 * (the next read reports that too).
 */
uint8_t *tframe_reader_take_buffered(struct tframe_reader *reader,
				     TALLOC_CTX *mem_ctx, size_t *size);

/* Bytes read ahead and not yet part of a taken PDU. */
size_t tframe_reader_buffered(const struct tframe_reader *reader);

/*
 * Large PDUs need not be held whole.  With a hold limit set, a PDU whose
 * total size is over hold_max is not assembled: once its header has been
 * checked (against max_pdu as always) the PDU read completes without a
 * PDU (tframe_reader_take says ENOENT) and tframe_reader_stopped_size()
 * gives the PDU's size.  The caller then does one of:
 *   tframe_reader_assemble()  hold it whole after all (to build a
 *                             datagram, say): the next PDU read finishes
 *                             it and tframe_reader_take() returns it;
 *   tframe_reader_take_head() take the header and what of the body was
 *                             read ahead with it, then read the rest of
 *                             the body from the stream itself (read_some
 *                             sized reads of at most body_left bytes),
 *                             counting it with tframe_reader_body_read();
 *                             once body_left is 0 the next PDU read
 *                             starts at the next header.
 * While a PDU is stopped, further PDU reads complete at once without
 * reading; while body_left is not 0 they fail with EBUSY.  The hold limit
 * applies to tframe_reader_take_buffered() too.  Without a hold limit
 * (hold_max 0, the default) every PDU is assembled whole as before.
 */
void tframe_reader_set_hold_max(struct tframe_reader *reader,
				uint64_t hold_max);

/* The size of the PDU the last read stopped at (header included), or 0. */
uint64_t tframe_reader_stopped_size(const struct tframe_reader *reader);

/* Assemble the stopped PDU whole: 0, or -1 with ENOENT / ENOMEM. */
int tframe_reader_assemble(struct tframe_reader *reader);

/*
 * Take the stopped PDU's head: its header and the part of its body that
 * was read ahead (a talloc buffer on mem_ctx of *size bytes).  NULL with
 * ENOENT if no PDU is stopped, ENOMEM.
 */
uint8_t *tframe_reader_take_head(struct tframe_reader *reader,
				 TALLOC_CTX *mem_ctx, size_t *size);

/* Body bytes of the PDU whose head was taken that are still to come. */
uint64_t tframe_reader_body_left(const struct tframe_reader *reader);

/* Count n body bytes the caller read: 0, or -1 with EINVAL if too many. */
int tframe_reader_body_read(struct tframe_reader *reader, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* TSOCKET_FRAME_H */
