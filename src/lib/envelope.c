/* SPDX-License-Identifier: MIT */
/* Envelope datagrams (docs/ENVELOPE.md). Only canonical encodings are
 * accepted: one byte string per datagram content, so a reader cannot be
 * tricked into two views of the same datagram and parse -> rebuild is exact. */

#include "alec/envelope.h"

#include <string.h>

#include "alec/error.h"

int alec_uvarint64_decode(const uint8_t *buf, size_t len, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < ALEC_EMITTER_VARINT_MAX; i++) {
    if (i >= len) return ALEC_ETRUNC;
    uint8_t b = buf[i];
    /* The 10th byte holds bit 63 only; anything more would not fit. */
    if (i == ALEC_EMITTER_VARINT_MAX - 1 && b > 1) return ALEC_EVARINT;
    v |= (uint64_t)(b & 0x7Fu) << (7 * i);
    if (!(b & 0x80u)) {
      /* A zero final group after the first byte means a longer form than
       * needed (e.g. 80 00 for 0). */
      if (i > 0 && b == 0) return ALEC_EVARINT;
      *out = v;
      return (int)(i + 1);
    }
  }
  return ALEC_EVARINT;
}

size_t alec_uvarint64_encode(uint64_t v, uint8_t out[ALEC_EMITTER_VARINT_MAX]) {
  size_t n = 0;
  while (v >= 0x80u) {
    out[n++] = (uint8_t)((v & 0x7Fu) | 0x80u);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

size_t alec_uvarint64_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80u) {
    v >>= 7;
    n++;
  }
  return n;
}

long alec_fixed_frame_length(const uint8_t *buf, size_t len, unsigned channels) {
  static const uint8_t code_size[4] = {0, 1, 2, 4}; /* Repeated, Delta8, Delta16, Raw32 */
  if (channels < 1 || channels > ALEC_FIXED_MAX_CHANNELS) return ALEC_ECHANNELS;
  size_t bitmap = alec_fixed_bitmap_size(channels);
  size_t need = ALEC_FIXED_HEADER_SIZE + bitmap;
  if (len < need) return ALEC_ETRUNC;
  for (unsigned i = 0; i < channels; i++) {
    unsigned code = (buf[ALEC_FIXED_HEADER_SIZE + i / 4] >> (2 * (i % 4))) & 3u;
    need += code_size[code];
  }
  if (len < need) return ALEC_ETRUNC;
  return (long)need;
}

static int family_of(alec_format f) {
  switch (f) {
  case ALEC_FORMAT_SINGLE: return ALEC_ENV_FAMILY_SINGLE;
  case ALEC_FORMAT_SINGLE_XXH32: return ALEC_ENV_FAMILY_SINGLE_XXH32;
  case ALEC_FORMAT_MULTI: return ALEC_ENV_FAMILY_MULTI;
  case ALEC_FORMAT_FIXED: return ALEC_ENV_FAMILY_FIXED;
  }
  return -1;
}

static const alec_format format_of_family[4] = {ALEC_FORMAT_SINGLE, ALEC_FORMAT_SINGLE_XXH32,
                                                ALEC_FORMAT_MULTI, ALEC_FORMAT_FIXED};

int alec_envelope_reader_init(alec_envelope_reader *r, const uint8_t *buf, size_t len) {
  memset(r, 0, sizeof(*r));
  r->buf = buf;
  r->error = ALEC_ETRUNC;
  if (buf == NULL || len < ALEC_ENVELOPE_HEADER_SIZE) return r->error;
  unsigned version = buf[0] >> 4;
  unsigned flags = buf[0] & 0x0Fu;
  r->flags = flags;
  if (version != ALEC_ENVELOPE_VERSION) return r->error = ALEC_EVERSION;
  if (flags & ALEC_ENVELOPE_FLAGS_RESERVED) return r->error = ALEC_EMALFORMED;
  /* Checked after the reserved bits: an authenticated datagram of a later
   * version is well formed, we just cannot verify it. */
  if (flags & ALEC_ENVELOPE_FLAG_AUTH) return r->error = ALEC_EAUTH;
  r->end = len;
  r->pos = ALEC_ENVELOPE_HEADER_SIZE;
  r->error = 0;
  return 0;
}

/* The head of a record (or of a run) at p: emitter id and descriptor byte.
 * Returns the bytes it takes or a negative ALEC_E* code. */
static int read_head(const uint8_t *p, size_t left, uint64_t *emitter, uint8_t *desc) {
  int n = alec_uvarint64_decode(p, left, emitter);
  if (n < 0) return n;
  if ((size_t)n >= left) return ALEC_ETRUNC;
  *desc = p[n];
  return n + 1;
}

/* Hands out the frame of frame_len bytes that follows the used bytes at the
 * reader's position (used <= what is left), and moves past it. */
static int take_record(alec_envelope_reader *r, alec_envelope_record *rec, uint64_t emitter,
                       unsigned family, unsigned channels, size_t used, size_t frame_len) {
  if (frame_len > r->end - r->pos - used) return r->error = ALEC_ETRUNC;
  rec->emitter = emitter;
  rec->format = format_of_family[family];
  rec->channels = channels;
  rec->frame = r->buf + r->pos + used;
  rec->frame_len = frame_len;
  rec->offset = r->pos;
  r->pos += used + frame_len;
  r->count++;
  return 1;
}

/* Length of the frame at p in a run: fixed frames delimit themselves,
 * others carry a minimal varint length 1..ALEC_FRAME_MAX first. */
static int run_item(alec_envelope_reader *r, const uint8_t *p, size_t left, size_t *used,
                    size_t *frame_len) {
  if (r->run_family == ALEC_ENV_FAMILY_FIXED) {
    long fl = alec_fixed_frame_length(p, left, r->run_channels);
    if (fl < 0) return (int)fl;
    *used = 0;
    *frame_len = (size_t)fl;
    return 0;
  }
  uint64_t ext;
  int n = alec_uvarint64_decode(p, left, &ext);
  if (n < 0) return n;
  if (ext == 0) return ALEC_EMALFORMED;
  if (ext > ALEC_FRAME_MAX) return ALEC_ERANGE;
  *used = (size_t)n;
  *frame_len = (size_t)ext;
  return 0;
}

static int next_in_run(alec_envelope_reader *r, alec_envelope_record *rec) {
  const uint8_t *p = r->buf + r->pos;
  size_t left = r->end - r->pos;
  size_t used = 0;
  if (r->count == 0) {
    uint8_t desc;
    int n = read_head(p, left, &r->run_emitter, &desc);
    if (n < 0) return r->error = n;
    used = (size_t)n;
    r->run_family = desc >> 6;
    if (r->run_family == ALEC_ENV_FAMILY_FIXED)
      r->run_channels = (desc & 0x3Fu) + 1;
    else if (desc & 0x3Fu)
      return r->error = ALEC_EMALFORMED; /* lengths travel per item in a run */
  }
  size_t item_used = 0, frame_len = 0;
  int rc = run_item(r, p + used, left - used, &item_used, &frame_len);
  if (rc < 0) return r->error = rc;
  used += item_used;
  return take_record(r, rec, r->run_emitter, r->run_family,
                     r->run_family == ALEC_ENV_FAMILY_FIXED ? r->run_channels : 0, used, frame_len);
}

int alec_envelope_next(alec_envelope_reader *r, alec_envelope_record *rec) {
  if (r->error) return r->error;
  if (r->pos >= r->end) {
    /* A datagram without records says nothing; refuse it rather than
     * counting it as a valid (empty) datagram. */
    if (r->count == 0) return r->error = ALEC_EMALFORMED;
    return 0;
  }
  if (r->flags & ALEC_ENVELOPE_FLAG_RUN) return next_in_run(r, rec);
  const uint8_t *p = r->buf + r->pos;
  size_t left = r->end - r->pos;
  uint64_t emitter;
  uint8_t desc;
  int n = read_head(p, left, &emitter, &desc);
  if (n < 0) return r->error = n;
  size_t used = (size_t)n;
  unsigned family = desc >> 6;
  unsigned low = desc & 0x3Fu;
  size_t frame_len;
  unsigned channels = 0;
  if (family == ALEC_ENV_FAMILY_FIXED) {
    channels = low + 1;
    long fl = alec_fixed_frame_length(p + used, left - used, channels);
    if (fl < 0) return r->error = (int)fl;
    frame_len = (size_t)fl;
  } else if (low != 0) {
    frame_len = low;
  } else {
    uint64_t ext;
    n = alec_uvarint64_decode(p + used, left - used, &ext);
    if (n < 0) return r->error = n;
    used += (size_t)n;
    if (ext <= ALEC_ENVELOPE_SHORT_LEN_MAX) return r->error = ALEC_EVARINT; /* has a short form */
    if (ext > ALEC_FRAME_MAX) return r->error = ALEC_ERANGE;
    frame_len = (size_t)ext;
  }
  return take_record(r, rec, emitter, family, channels, used, frame_len);
}

int alec_envelope_validate(const uint8_t *buf, size_t len) {
  alec_envelope_reader r;
  alec_envelope_record rec;
  int rc = alec_envelope_reader_init(&r, buf, len);
  if (rc < 0) return rc;
  while ((rc = alec_envelope_next(&r, &rec)) > 0) {
  }
  return rc < 0 ? rc : (int)r.count;
}

int alec_envelope_writer_init(alec_envelope_writer *w, uint8_t *buf, size_t cap, unsigned flags) {
  memset(w, 0, sizeof(*w));
  if (flags & ~ALEC_ENVELOPE_FLAG_RUN) return ALEC_EINVAL;
  if (buf == NULL || cap < ALEC_ENVELOPE_HEADER_SIZE) return ALEC_EBUFSIZE;
  w->buf = buf;
  w->cap = cap;
  w->flags = flags;
  buf[0] = (uint8_t)(ALEC_ENVELOPE_VERSION << 4 | flags);
  w->len = ALEC_ENVELOPE_HEADER_SIZE;
  return 0;
}

size_t alec_envelope_record_overhead(uint64_t emitter, alec_format format, size_t frame_len) {
  size_t n = alec_uvarint64_size(emitter) + 1;
  if (format != ALEC_FORMAT_FIXED && frame_len > ALEC_ENVELOPE_SHORT_LEN_MAX)
    n += alec_uvarint64_size(frame_len);
  return n;
}

int alec_envelope_fits_run(const alec_envelope_writer *w, uint64_t emitter, alec_format format,
                           unsigned channels) {
  if (!(w->flags & ALEC_ENVELOPE_FLAG_RUN) || w->count == 0) return 1;
  if (format != ALEC_FORMAT_FIXED) channels = 0;
  return emitter == w->run_emitter && format == w->run_format && channels == w->run_channels;
}

/* A frame of a run: after the first, only the frame (fixed) or its length
 * and the frame. */
static int add_to_run(alec_envelope_writer *w, uint64_t emitter, alec_format format, int family,
                      unsigned channels, const uint8_t *frame, size_t frame_len) {
  if (family == ALEC_ENV_FAMILY_FIXED) {
    if (channels < 1 || channels > ALEC_FIXED_MAX_CHANNELS) return ALEC_ECHANNELS;
    long fl = alec_fixed_frame_length(frame, frame_len, channels);
    if (fl < 0 || (size_t)fl != frame_len) return ALEC_EMALFORMED;
  } else {
    channels = 0;
  }
  if (!alec_envelope_fits_run(w, emitter, format, channels)) return ALEC_EINVAL;
  size_t head = 0;
  if (w->count == 0)
    head = alec_uvarint64_size(emitter) + 1;
  size_t item = family == ALEC_ENV_FAMILY_FIXED ? 0 : alec_uvarint64_size(frame_len);
  if (w->cap - w->len < head + item + frame_len) return ALEC_EBUFSIZE;
  uint8_t *p = w->buf + w->len;
  if (head) {
    p += alec_uvarint64_encode(emitter, p);
    *p++ = (uint8_t)((unsigned)family << 6 |
                     (family == ALEC_ENV_FAMILY_FIXED ? channels - 1 : 0u));
    w->run_emitter = emitter;
    w->run_format = format;
    w->run_channels = channels;
  }
  if (item) p += alec_uvarint64_encode(frame_len, p);
  memcpy(p, frame, frame_len);
  w->len += head + item + frame_len;
  w->count++;
  return (int)(head + item + frame_len);
}

int alec_envelope_add(alec_envelope_writer *w, uint64_t emitter, alec_format format,
                      unsigned channels, const uint8_t *frame, size_t frame_len) {
  int family = family_of(format);
  if (family < 0 || frame == NULL || frame_len == 0 || w->buf == NULL) return ALEC_EINVAL;
  if (frame_len > ALEC_FRAME_MAX) return ALEC_ERANGE;
  if (w->flags & ALEC_ENVELOPE_FLAG_RUN)
    return add_to_run(w, emitter, format, family, channels, frame, frame_len);
  uint8_t desc;
  if (family == ALEC_ENV_FAMILY_FIXED) {
    if (channels < 1 || channels > ALEC_FIXED_MAX_CHANNELS) return ALEC_ECHANNELS;
    /* The receiver splits fixed records by the bitmap, so a frame that
     * disagrees with it would shift every following record. */
    long fl = alec_fixed_frame_length(frame, frame_len, channels);
    if (fl < 0 || (size_t)fl != frame_len) return ALEC_EMALFORMED;
    desc = (uint8_t)((unsigned)family << 6 | (channels - 1));
  } else {
    unsigned low = frame_len <= ALEC_ENVELOPE_SHORT_LEN_MAX ? (unsigned)frame_len : 0;
    desc = (uint8_t)((unsigned)family << 6 | low);
  }
  size_t overhead = alec_envelope_record_overhead(emitter, format, frame_len);
  if (w->cap - w->len < overhead + frame_len) return ALEC_EBUFSIZE;
  uint8_t *p = w->buf + w->len;
  p += alec_uvarint64_encode(emitter, p);
  *p++ = desc;
  if (family != ALEC_ENV_FAMILY_FIXED && frame_len > ALEC_ENVELOPE_SHORT_LEN_MAX)
    p += alec_uvarint64_encode(frame_len, p);
  memcpy(p, frame, frame_len);
  w->len += overhead + frame_len;
  w->count++;
  return (int)(overhead + frame_len);
}
