/* SPDX-License-Identifier: MIT */
#ifndef ALEC_ENVELOPE_H
#define ALEC_ENVELOPE_H

/* The envelope datagram (docs/ENVELOPE.md): ALEC frames carry no emitter
 * identity, so a datagram names, for each frame it carries, the emitter, the
 * frame family and (fixed frames) the channel count. One datagram carries
 * one or more records, so a gateway can batch the frames of many emitters.
 *
 *   datagram = header(1) record+ [auth trailer]
 *            | header(1) run [auth trailer]               (flag R)
 *   header   = version(4 bits, = 1) << 4 | flags(4 bits)
 *   record   = emitter(varint u64) desc(1) [length varint] frame
 *   run      = emitter(varint u64) desc(1) item+
 *   item     = fixed: frame; others: length(varint 1..ALEC_FRAME_MAX) frame
 *   desc     = family(2 bits) << 6 | low(6 bits)
 *              fixed:  low = channels - 1, frame length implied by its bitmap
 *              others: low = frame length 1..63, or 0 and a varint length
 *                      64..ALEC_FRAME_MAX follows
 *
 * The reader never allocates and never reads past the buffer; it accepts
 * exactly the canonical encodings the writer produces, so parse -> rebuild
 * is the identity. */

#include <stddef.h>
#include <stdint.h>

#include "alec/frame.h"

#define ALEC_ENVELOPE_VERSION 1
#define ALEC_ENVELOPE_HEADER_SIZE 1
/* Signed datagram: an authentication trailer follows the records
 * (alec/auth.h). The plain reader refuses it with ALEC_EAUTH; it is read
 * with alec_auth_reader_init() once alec_auth_verify() accepted it. */
#define ALEC_ENVELOPE_FLAG_AUTH 0x01u
/* Run: every frame of the datagram comes from one emitter in one family, so
 * the emitter id and descriptor are written once. A sender that fills a
 * datagram with one emitter's frames (a device buffering readings, a CSV
 * replay) pays about nothing per frame instead of 2-3 bytes. */
#define ALEC_ENVELOPE_FLAG_RUN 0x02u
#define ALEC_ENVELOPE_FLAGS_RESERVED 0x0Cu
/* The trailer: key id u16 BE + counter u64 BE + 16-byte truncated tag
 * (= ALEC_AUTH_TRAILER_SIZE; the counter made the reserved 18 bytes 26). */
#define ALEC_ENVELOPE_AUTH_TRAILER_SIZE 26
/* Largest UDP payload (IPv4); no datagram of ours is larger. */
#define ALEC_ENVELOPE_MAX_DATAGRAM 65507
#define ALEC_ENVELOPE_SHORT_LEN_MAX 63
#define ALEC_EMITTER_VARINT_MAX 10
/* Worst-case record overhead: 10-byte emitter id, descriptor, 2-byte length. */
#define ALEC_ENVELOPE_RECORD_OVERHEAD_MAX (ALEC_EMITTER_VARINT_MAX + 1 + 2)

/* Family codes of the descriptor's top two bits. */
enum {
  ALEC_ENV_FAMILY_SINGLE = 0,
  ALEC_ENV_FAMILY_SINGLE_XXH32 = 1,
  ALEC_ENV_FAMILY_MULTI = 2,
  ALEC_ENV_FAMILY_FIXED = 3
};

typedef struct alec_envelope_record {
  uint64_t emitter;
  alec_format format;
  unsigned channels;    /* fixed: 1..64; otherwise 0 */
  const uint8_t *frame; /* points into the datagram */
  size_t frame_len;
  size_t offset;        /* of the record in the datagram, for diagnostics */
} alec_envelope_record;

typedef struct alec_envelope_reader {
  const uint8_t *buf;
  size_t end;     /* end of the records (the trailer, if any, follows) */
  size_t pos;     /* next record; on error, where the bad record starts */
  unsigned flags; /* header flags */
  unsigned count; /* records returned so far */
  int error;      /* sticky: once an error is returned it is returned again */
  /* Flag R: the run's emitter, family and channels, read with its first frame. */
  uint64_t run_emitter;
  unsigned run_family;
  unsigned run_channels;
} alec_envelope_reader;

/* Checks the header. 0, or ALEC_ETRUNC (empty), ALEC_EVERSION (version not
 * 1), ALEC_EMALFORMED (reserved flag bits set), ALEC_EAUTH (signed
 * datagram: verify it and read it with alec/auth.h). */
int alec_envelope_reader_init(alec_envelope_reader *r, const uint8_t *buf, size_t len);

/* 1 and *rec filled, 0 at the end (only after at least one record), or a
 * negative error: ALEC_EMALFORMED (no record at all), ALEC_ETRUNC (record or
 * frame cut short, trailing bytes that are not a record), ALEC_EVARINT
 * (emitter id or length varint overlong or not minimal), ALEC_ERANGE (length
 * above ALEC_FRAME_MAX). */
int alec_envelope_next(alec_envelope_reader *r, alec_envelope_record *rec);

/* Walks the whole datagram: number of records (>= 1) or the first error. A
 * receiver validates before acting on any record so a damaged datagram is
 * rejected as a whole. */
int alec_envelope_validate(const uint8_t *buf, size_t len);

typedef struct alec_envelope_writer {
  uint8_t *buf;
  size_t cap;
  size_t len;
  unsigned count;
  unsigned flags;
  uint64_t run_emitter;
  alec_format run_format;
  unsigned run_channels;
} alec_envelope_writer;

/* Starts a datagram in buf. flags: 0 or ALEC_ENVELOPE_FLAG_RUN (then every
 * record must name the emitter, format and channels of the first one, else
 * alec_envelope_add returns ALEC_EINVAL and the caller starts a new
 * datagram); anything else ALEC_EINVAL (signing is alec/auth.h's job);
 * ALEC_EBUFSIZE if cap is 0. */
int alec_envelope_writer_init(alec_envelope_writer *w, uint8_t *buf, size_t cap, unsigned flags);

/* Appends one record. Returns the bytes appended (> 0) or ALEC_EINVAL (bad
 * format, empty frame), ALEC_ECHANNELS (fixed: channels outside 1..64),
 * ALEC_ERANGE (frame longer than ALEC_FRAME_MAX), ALEC_EMALFORMED (fixed
 * frame whose bitmap implies another length), ALEC_EBUFSIZE (no room; the
 * writer is unchanged). */
int alec_envelope_add(alec_envelope_writer *w, uint64_t emitter, alec_format format,
                      unsigned channels, const uint8_t *frame, size_t frame_len);

/* Bytes a record takes around its frame (emitter id, descriptor, length)
 * in a datagram without flag R: an upper bound for a run. */
size_t alec_envelope_record_overhead(uint64_t emitter, alec_format format, size_t frame_len);
/* Whether alec_envelope_add(w, emitter, format, channels, ...) may follow
 * in this datagram (always, unless the writer holds a run of another
 * emitter, format or channel count). */
int alec_envelope_fits_run(const alec_envelope_writer *w, uint64_t emitter, alec_format format,
                           unsigned channels);

/* Length a fixed frame of `channels` channels occupies according to its
 * bitmap: 5 + ceil(2n/8) + sum of the per-channel sizes. Returns it (> 0),
 * ALEC_ECHANNELS or ALEC_ETRUNC (buf too short to hold the bitmap or the
 * implied data). */
long alec_fixed_frame_length(const uint8_t *buf, size_t len, unsigned channels);

/* u64 LEB128 as the envelope uses it: minimal, at most 10 bytes.
 * decode: bytes consumed, ALEC_ETRUNC or ALEC_EVARINT. encode: length. */
int alec_uvarint64_decode(const uint8_t *buf, size_t len, uint64_t *out);
size_t alec_uvarint64_encode(uint64_t v, uint8_t out[ALEC_EMITTER_VARINT_MAX]);
size_t alec_uvarint64_size(uint64_t v);

#endif
