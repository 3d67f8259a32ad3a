/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the envelope datagram parser (alec/envelope.h), the
 * signed-datagram reader (alec/auth.h, without the tag check: fuzz_auth
 * covers that) and the downlink parser (alec/downlink.h).
 *
 * Input: one datagram, exactly as it arrives on the socket (records or a
 * run, flag R; signed or not). Every record is
 * decoded by the decoder of its (emitter, format, channels) stream, as the
 * plugin does. Oracles: the reader never points outside the records,
 * alec_envelope_validate agrees with the iteration, errors are sticky, a
 * valid datagram rebuilt with the writer gives back the same bytes (the
 * reader accepts canonical encodings only), and so does a valid downlink. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/auth.h"
#include "alec/decoder.h"
#include "alec/downlink.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "fuzz_util.h"

#define SLOTS 8
/* Records are at least 3 bytes (emitter, descriptor, one frame byte). */
#define MAX_RECORDS (ALEC_ENVELOPE_MAX_DATAGRAM / 3 + 1)

typedef struct slot {
  int used;
  uint64_t emitter;
  alec_format format;
  unsigned channels;
  alec_decoder *dec;
} slot;

static alec_decoder *decoder_for(slot *slots, const alec_envelope_record *rec) {
  slot *free_slot = NULL;
  for (int i = 0; i < SLOTS; i++) {
    slot *s = &slots[i];
    if (s->used && s->emitter == rec->emitter && s->format == rec->format &&
        s->channels == rec->channels)
      return s->dec;
    if (!s->used && free_slot == NULL) free_slot = s;
  }
  if (free_slot == NULL) {
    /* Full: the new stream takes over a slot with a fresh decoder, like a
     * receiver that evicted an emitter. */
    free_slot = &slots[rec->emitter % SLOTS];
    alec_decoder_reset(free_slot->dec);
  } else {
    FUZZ_CHECK(alec_decoder_new(&free_slot->dec, NULL) == 0);
  }
  free_slot->used = 1;
  free_slot->emitter = rec->emitter;
  free_slot->format = rec->format;
  free_slot->channels = rec->channels;
  return free_slot->dec;
}

typedef struct rec_copy {
  uint64_t emitter;
  alec_format format;
  unsigned channels;
  size_t off, len;
} rec_copy;

/* Downlinks share the header byte with envelopes (flag D): a valid one is
 * rebuilt byte for byte; an uplink envelope is never taken for one. */
static void check_downlink(const uint8_t *data, size_t size) {
  static alec_downlink_record dl[ALEC_ENVELOPE_MAX_DATAGRAM / 2];
  static uint8_t again[ALEC_ENVELOPE_MAX_DATAGRAM];
  int n = alec_downlink_read(data, size, dl, sizeof dl / sizeof dl[0]);
  if (n <= 0) {
    FUZZ_CHECK(n == ALEC_ETRUNC || n == ALEC_EVERSION || n == ALEC_EINVAL || n == ALEC_EAUTH ||
               n == ALEC_EMALFORMED || n == ALEC_EVARINT || n == ALEC_ERANGE);
    return;
  }
  FUZZ_CHECK(data[0] == ALEC_DOWNLINK_HEADER && (size_t)n <= size / 2);
  FUZZ_CHECK(alec_envelope_validate(data, size) == ALEC_EMALFORMED);
  int w = alec_downlink_write(again, sizeof again, dl, (size_t)n);
  FUZZ_CHECK(w == (int)size && memcmp(again, data, size) == 0);
  /* Fewer slots than records: the count is still the whole. */
  FUZZ_CHECK(alec_downlink_read(data, size, dl, 1) == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > ALEC_ENVELOPE_MAX_DATAGRAM) return 0;
  static rec_copy recs[MAX_RECORDS];
  slot slots[SLOTS];
  memset(slots, 0, sizeof slots);

  /* The varint is canonical: what decodes re-encodes to the same bytes. */
  uint64_t v;
  int vn = alec_uvarint64_decode(data, size, &v);
  if (vn > 0) {
    uint8_t enc[ALEC_EMITTER_VARINT_MAX];
    FUZZ_CHECK(alec_uvarint64_encode(v, enc) == (size_t)vn && memcmp(enc, data, (size_t)vn) == 0);
    FUZZ_CHECK(alec_uvarint64_size(v) == (size_t)vn);
  } else {
    FUZZ_CHECK(vn == ALEC_ETRUNC || vn == ALEC_EVARINT);
  }

  check_downlink(data, size);

  alec_envelope_reader r;
  int rc = alec_envelope_reader_init(&r, data, size);
  int valid = alec_envelope_validate(data, size);
  size_t end = size; /* of the records */
  int is_signed = 0;
  if (rc == ALEC_EAUTH) {
    /* Signed: the records end where the trailer starts. */
    FUZZ_CHECK(valid == ALEC_EAUTH);
    alec_auth_trailer t;
    int p = alec_auth_parse(data, size, &t);
    rc = alec_auth_reader_init(&r, data, size);
    FUZZ_CHECK(p == 1 ? rc == 0 : rc == p);
    if (rc == 0) {
      end = t.records_end;
      FUZZ_CHECK(r.end == end);
      is_signed = 1;
    }
  }
  if (rc < 0) {
    FUZZ_CHECK(rc >= ALEC_ERROR_MIN);
    if (!is_signed && valid != ALEC_EAUTH) FUZZ_CHECK(valid == rc);
    alec_envelope_record rec;
    FUZZ_CHECK(alec_envelope_next(&r, &rec) == rc);
    return 0;
  }

  size_t n = 0, prev_end = ALEC_ENVELOPE_HEADER_SIZE;
  alec_envelope_record rec;
  alec_value out[256];
  while ((rc = alec_envelope_next(&r, &rec)) > 0) {
    FUZZ_CHECK(rc == 1);
    /* Records are contiguous and inside the datagram. */
    FUZZ_CHECK(rec.offset == prev_end);
    FUZZ_CHECK(rec.frame >= data + rec.offset && rec.frame_len > 0);
    FUZZ_CHECK(rec.frame >= data && rec.frame + rec.frame_len <= data + end);
    FUZZ_CHECK(rec.frame_len <= ALEC_FRAME_MAX);
    prev_end = (size_t)(rec.frame - data) + rec.frame_len;
    FUZZ_CHECK(r.pos == prev_end);
    if (rec.format == ALEC_FORMAT_FIXED) {
      FUZZ_CHECK(rec.channels >= 1 && rec.channels <= ALEC_FIXED_MAX_CHANNELS);
      long fl = alec_fixed_frame_length(rec.frame, rec.frame_len, rec.channels);
      FUZZ_CHECK(fl >= 0 && (size_t)fl == rec.frame_len);
    } else {
      FUZZ_CHECK(rec.channels == 0);
    }
    FUZZ_CHECK(n < MAX_RECORDS);
    recs[n].emitter = rec.emitter;
    recs[n].format = rec.format;
    recs[n].channels = rec.channels;
    recs[n].off = (size_t)(rec.frame - data);
    recs[n].len = rec.frame_len;
    n++;

    alec_decoder *dec = decoder_for(slots, &rec);
    alec_frame_info info;
    int d = alec_decoder_decode(dec, rec.format, rec.channels, rec.frame, rec.frame_len, out,
                                sizeof out / sizeof out[0], &info);
    FUZZ_CHECK(d >= ALEC_ERROR_MIN && d <= 255);
    if (d >= 0) FUZZ_CHECK(info.frame_len <= rec.frame_len && info.n_values == (size_t)d);
  }
  FUZZ_CHECK(r.count == n);
  if (rc < 0) {
    FUZZ_CHECK(rc >= ALEC_ERROR_MIN);
    if (!is_signed) FUZZ_CHECK(valid == rc);
    /* Sticky. */
    FUZZ_CHECK(alec_envelope_next(&r, &rec) == rc);
  } else {
    FUZZ_CHECK(n >= 1);
    if (!is_signed) FUZZ_CHECK(valid == (int)n);
    FUZZ_CHECK(prev_end == end);
    /* Rebuild: identical bytes. One byte less of room: the last record is
     * refused and the writer keeps what it had. */
    uint8_t *copy = malloc(end);
    FUZZ_CHECK(copy != NULL);
    for (int pass = 0; pass < 2; pass++) {
      size_t cap = pass == 0 ? end : end - 1;
      alec_envelope_writer w;
      unsigned run = r.flags & ALEC_ENVELOPE_FLAG_RUN;
      FUZZ_CHECK(alec_envelope_writer_init(&w, copy, cap, run) == 0);
      for (size_t i = 0; i < n; i++) {
        size_t before = w.len;
        FUZZ_CHECK(alec_envelope_fits_run(&w, recs[i].emitter, recs[i].format, recs[i].channels));
        int a = alec_envelope_add(&w, recs[i].emitter, recs[i].format, recs[i].channels,
                                  data + recs[i].off, recs[i].len);
        if (pass == 1 && i == n - 1) {
          FUZZ_CHECK(a == ALEC_EBUFSIZE && w.len == before && w.count == n - 1);
        } else {
          FUZZ_CHECK(a > 0 && w.len == before + (size_t)a);
          /* In a run the id and descriptor are paid once, but a legacy
           * frame always carries its length. */
          size_t full = alec_envelope_record_overhead(recs[i].emitter, recs[i].format, recs[i].len) +
                        recs[i].len;
          FUZZ_CHECK(run ? (size_t)a <= full + alec_uvarint64_size(recs[i].len) : (size_t)a == full);
        }
      }
      /* The writer makes unsigned datagrams: the header differs by flag A. */
      if (pass == 0)
        FUZZ_CHECK(w.len == end && copy[0] == (data[0] & ~ALEC_ENVELOPE_FLAG_AUTH & 0xFFu) &&
                   memcmp(copy + 1, data + 1, end - 1) == 0);
    }
    free(copy);
    FUZZ_CHECK(alec_envelope_next(&r, &rec) == 0);
  }

  for (int i = 0; i < SLOTS; i++)
    if (slots[i].used) alec_decoder_free(slots[i].dec);
  return 0;
}
