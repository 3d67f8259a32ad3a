/* SPDX-License-Identifier: MIT */
/* Envelope datagrams: byte-exact examples of docs/ENVELOPE.md, every
 * rejection rule, and randomized robustness (random bytes, mutations of
 * valid datagrams, build -> parse round trips). The frames used below are
 * the worked examples E1, E2 and E5 of the reference wire-format spec. */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/envelope.h"
#include "alec/wire.h"
#include "alec/error.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  int hi = -1;
  for (; *s; s++) {
    int v;
    if (*s >= '0' && *s <= '9') v = *s - '0';
    else if (*s >= 'a' && *s <= 'f') v = *s - 'a' + 10;
    else if (*s >= 'A' && *s <= 'F') v = *s - 'A' + 10;
    else continue;
    if (hi < 0) {
      hi = v;
    } else {
      ck_assert_uint_lt(n, cap);
      out[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  ck_assert_int_eq(hi, -1);
  return n;
}

/* E1 k=0: L1 single, 16 bytes. */
static const char *E1_0 = "42 0000 000004D2 000000 00 01 41B40000";
/* E2: L1 with xxh32 trailer, source 300, 21 bytes. */
static const char *E2 = "42 0000 00000005 000000 AC 02 01 41B40000 08 8D 81 9E";
/* E5 frame 2: fixed, 5 channels, 9 bytes. */
static const char *E5_1 = "A1 0001 0005 44 00 01 64";
/* E5 frame 1: fixed, 5 channels, cold (all Raw32), 27 bytes. */
static const char *E5_0 = "A1 0000 0000 FF 03 40666666 41B40000 42340000 43D20000 447D5000";

/* A fixed-layout multi frame: 13-byte header then n Raw32 entries (6 B each). */
static size_t make_multi(uint8_t *out, unsigned n) {
  uint8_t hdr[10] = {0x42, 0, 0, 0, 0, 0, 0x3C, 0, 0, 0};
  memcpy(out, hdr, 10);
  out[10] = 0x00;
  out[11] = 0x40;
  out[12] = (uint8_t)n;
  size_t len = 13;
  for (unsigned i = 0; i < n; i++) {
    out[len++] = (uint8_t)i;
    out[len++] = 0x01;
    out[len++] = 0x41;
    out[len++] = 0xB4;
    out[len++] = 0x00;
    out[len++] = 0x00;
  }
  return len;
}

/* alec_envelope_validate() of the datagram written as hex. */
static void validates_to(const char *hex, int want) {
  uint8_t b[4096];
  size_t n = unhex(hex, b, sizeof b);
  int got = alec_envelope_validate(b, n);
  ck_assert_msg(got == want, "validate(%s) = %d, want %d", hex, got, want);
}

/* The reader's next record is the frame of len bytes for this emitter. */
static void next_record_is(alec_envelope_reader *r, uint64_t emitter, alec_format format,
                           unsigned channels, const uint8_t *frame, size_t len) {
  alec_envelope_record rec;
  ck_assert_int_eq(alec_envelope_next(r, &rec), 1);
  ck_assert(rec.emitter == emitter);
  ck_assert_int_eq(rec.format, format);
  ck_assert_uint_eq(rec.channels, channels);
  ck_assert_uint_eq(rec.frame_len, len);
  ck_assert_mem_eq(rec.frame, frame, len);
}

/* The one CRC of the state formats: zlib's crc32, continued across calls. */
START_TEST(crc32_check_value) {
  const char *v = "123456789";
  ck_assert_uint_eq(alec_crc32(0, v, 9), 0xCBF43926u);
  ck_assert_uint_eq(alec_crc32(alec_crc32(0, v, 4), v + 4, 5), 0xCBF43926u);
  ck_assert_uint_eq(alec_crc32(0, v, 0), 0);
  uint8_t b[8];
  alec_wr_le64(b, UINT64_C(0x0102030405060708));
  ck_assert_uint_eq(b[0], 8);
  ck_assert_uint_eq(alec_rd_le64(b), UINT64_C(0x0102030405060708));
  ck_assert_uint_eq(alec_rd_le16(b), 0x0708);
  ck_assert_uint_eq(alec_rd_le32(b + 4), 0x01020304u);
}
END_TEST

START_TEST(varint64_vectors) {
  static const struct {
    uint64_t v;
    const char *hex;
  } vec[] = {
      {0, "00"},
      {1, "01"},
      {127, "7F"},
      {128, "80 01"},
      {300, "AC 02"},
      {16383, "FF 7F"},
      {16384, "80 80 01"},
      {UINT64_C(0xFFFFFFFF), "FF FF FF FF 0F"},
      {UINT64_MAX, "FF FF FF FF FF FF FF FF FF 01"},
  };
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
    uint8_t want[16], got[ALEC_EMITTER_VARINT_MAX];
    size_t wn = unhex(vec[i].hex, want, sizeof want);
    size_t gn = alec_uvarint64_encode(vec[i].v, got);
    ck_assert_uint_eq(gn, wn);
    ck_assert_uint_eq(alec_uvarint64_size(vec[i].v), wn);
    ck_assert_mem_eq(got, want, wn);
    uint64_t back = 0;
    ck_assert_int_eq(alec_uvarint64_decode(want, wn, &back), (int)wn);
    ck_assert(back == vec[i].v);
    /* Every shorter prefix is truncated. */
    for (size_t k = 0; k < wn; k++) ck_assert_int_eq(alec_uvarint64_decode(want, k, &back), ALEC_ETRUNC);
  }
  uint8_t b[16];
  uint64_t v;
  size_t n = unhex("80 00", b, sizeof b); /* non-minimal 0 */
  ck_assert_int_eq(alec_uvarint64_decode(b, n, &v), ALEC_EVARINT);
  n = unhex("85 80 00", b, sizeof b); /* non-minimal 5 */
  ck_assert_int_eq(alec_uvarint64_decode(b, n, &v), ALEC_EVARINT);
  n = unhex("FF FF FF FF FF FF FF FF FF 02", b, sizeof b); /* 2^64 */
  ck_assert_int_eq(alec_uvarint64_decode(b, n, &v), ALEC_EVARINT);
  n = unhex("FF FF FF FF FF FF FF FF FF 81 01", b, sizeof b); /* 11 bytes */
  ck_assert_int_eq(alec_uvarint64_decode(b, n, &v), ALEC_EVARINT);
}
END_TEST

/* The hex examples of docs/ENVELOPE.md, built and parsed. */
START_TEST(doc_example_single) {
  uint8_t frame[64], want[96], buf[96];
  size_t fl = unhex(E1_0, frame, sizeof frame);
  ck_assert_uint_eq(fl, 16);
  size_t wl = unhex("10 05 10 42 0000 000004D2 000000 00 01 41B40000", want, sizeof want);
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
  ck_assert_int_eq(alec_envelope_add(&w, 5, ALEC_FORMAT_SINGLE, 0, frame, fl), 18);
  ck_assert_uint_eq(w.len, wl);
  ck_assert_mem_eq(buf, want, wl);

  alec_envelope_reader r;
  alec_envelope_record rec;
  ck_assert_int_eq(alec_envelope_reader_init(&r, want, wl), 0);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 1);
  ck_assert(rec.emitter == 5);
  ck_assert_int_eq(rec.format, ALEC_FORMAT_SINGLE);
  ck_assert_uint_eq(rec.channels, 0);
  ck_assert_uint_eq(rec.frame_len, 16);
  ck_assert_ptr_eq(rec.frame, want + 3);
  ck_assert_uint_eq(rec.offset, 1);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
  ck_assert_int_eq(alec_envelope_validate(want, wl), 1);
}
END_TEST

START_TEST(doc_example_batch) {
  uint8_t f1[64], f2[64], f3[64], want[160], buf[160];
  size_t l1 = unhex(E5_1, f1, sizeof f1);
  size_t l2 = unhex(E2, f2, sizeof f2);
  size_t l3 = unhex(E5_0, f3, sizeof f3);
  ck_assert_uint_eq(l1, 9);
  ck_assert_uint_eq(l2, 21);
  ck_assert_uint_eq(l3, 27);
  size_t wl = unhex("10"
                    " AC 02 C4 A1 0001 0005 44 00 01 64"
                    " FF 7F 55 42 0000 00000005 000000 AC 02 01 41B40000 08 8D 81 9E"
                    " 80 80 01 C4 A1 0000 0000 FF 03 40666666 41B40000 42340000 43D20000 447D5000",
                    want, sizeof want);
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
  ck_assert_int_eq(alec_envelope_add(&w, 300, ALEC_FORMAT_FIXED, 5, f1, l1), 12);
  ck_assert_int_eq(alec_envelope_add(&w, 16383, ALEC_FORMAT_SINGLE_XXH32, 0, f2, l2), 24);
  ck_assert_int_eq(alec_envelope_add(&w, 16384, ALEC_FORMAT_FIXED, 5, f3, l3), 31);
  ck_assert_uint_eq(w.count, 3);
  ck_assert_uint_eq(w.len, wl);
  ck_assert_mem_eq(buf, want, wl);

  alec_envelope_reader r;
  alec_envelope_record rec;
  ck_assert_int_eq(alec_envelope_reader_init(&r, want, wl), 0);
  next_record_is(&r, 300, ALEC_FORMAT_FIXED, 5, f1, l1);
  next_record_is(&r, 16383, ALEC_FORMAT_SINGLE_XXH32, 0, f2, l2);
  next_record_is(&r, 16384, ALEC_FORMAT_FIXED, 5, f3, l3);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
  ck_assert_int_eq(alec_envelope_validate(want, wl), 3);
}
END_TEST

START_TEST(doc_example_long_multi) {
  uint8_t frame[ALEC_FRAME_MAX], buf[ALEC_FRAME_MAX + 32];
  size_t fl = make_multi(frame, 20); /* 13 + 120 = 133 bytes */
  ck_assert_uint_eq(fl, 133);
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
  ck_assert_int_eq(alec_envelope_add(&w, 7, ALEC_FORMAT_MULTI, 0, frame, fl), (int)fl + 4);
  uint8_t want[8];
  size_t wl = unhex("10 07 80 85 01", want, sizeof want);
  ck_assert_mem_eq(buf, want, wl);
  ck_assert_int_eq(alec_envelope_validate(buf, w.len), 1);
  /* 63 bytes still use the short form, 64 the long one. */
  ck_assert_uint_eq(alec_envelope_record_overhead(7, ALEC_FORMAT_MULTI, 63), 2);
  ck_assert_uint_eq(alec_envelope_record_overhead(7, ALEC_FORMAT_MULTI, 64), 3);
}
END_TEST

/* The overhead claim of docs/ENVELOPE.md. */
START_TEST(overhead_claim) {
  for (uint64_t id = 0; id < 16384; id += 7) {
    ck_assert_uint_le(alec_envelope_record_overhead(id, ALEC_FORMAT_SINGLE, 28), 3);
    ck_assert_uint_le(alec_envelope_record_overhead(id, ALEC_FORMAT_SINGLE_XXH32, 28), 3);
    ck_assert_uint_le(alec_envelope_record_overhead(id, ALEC_FORMAT_MULTI, 63), 3);
    ck_assert_uint_le(alec_envelope_record_overhead(id, ALEC_FORMAT_FIXED, 277), 3);
  }
  ck_assert_uint_eq(alec_envelope_record_overhead(16384, ALEC_FORMAT_FIXED, 8), 4);
  ck_assert_uint_eq(alec_envelope_record_overhead(UINT64_MAX, ALEC_FORMAT_MULTI, 2600),
                    ALEC_ENVELOPE_RECORD_OVERHEAD_MAX);
}
END_TEST

START_TEST(header_rules) {
  alec_envelope_reader r;
  alec_envelope_record rec;
  uint8_t b[32] = {0};
  ck_assert_int_eq(alec_envelope_reader_init(&r, b, 0), ALEC_ETRUNC);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), ALEC_ETRUNC);
  ck_assert_int_eq(alec_envelope_reader_init(&r, NULL, 5), ALEC_ETRUNC);
  /* Version 0, 2, 4 (a bare legacy frame 0x42), 10 (a bare fixed frame 0xA1). */
  const uint8_t versions[] = {0x00, 0x20, 0x42, 0xA1, 0xF0};
  for (size_t i = 0; i < sizeof versions; i++) {
    b[0] = versions[i];
    b[1] = 0x05;
    b[2] = 0x01;
    b[3] = 0x00;
    ck_assert_int_eq(alec_envelope_reader_init(&r, b, 4), ALEC_EVERSION);
    ck_assert_int_eq(alec_envelope_validate(b, 4), ALEC_EVERSION);
  }
  for (unsigned fl = 4; fl < 16; fl += 2) {
    if (!(fl & ALEC_ENVELOPE_FLAGS_RESERVED)) continue;
    b[0] = (uint8_t)(0x10 | fl);
    ck_assert_int_eq(alec_envelope_validate(b, 4), ALEC_EMALFORMED);
    b[0] = (uint8_t)(0x11 | fl);
    ck_assert_int_eq(alec_envelope_validate(b, 4), ALEC_EMALFORMED);
  }
  b[0] = 0x11; /* authenticated: unsupported */
  ck_assert_int_eq(alec_envelope_validate(b, 4), ALEC_EAUTH);
  ck_assert_int_eq(alec_envelope_reader_init(&r, b, 4), ALEC_EAUTH);
  ck_assert_uint_eq(r.flags, ALEC_ENVELOPE_FLAG_AUTH);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), ALEC_EAUTH);
  b[0] = 0x10; /* header only: no record */
  ck_assert_int_eq(alec_envelope_validate(b, 1), ALEC_EMALFORMED);
  ck_assert_int_eq(alec_envelope_reader_init(&r, b, 1), 0);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), ALEC_EMALFORMED);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), ALEC_EMALFORMED); /* sticky */
}
END_TEST

START_TEST(record_rules) {
  uint8_t b[4096];
  /* Trailing garbage after a valid record. */
  validates_to("10 05 10 42 0000 000004D2 000000 00 01 41B40000 05", ALEC_ETRUNC);
  validates_to("10 05 10 42 0000 000004D2 000000 00 01 41B40000 05 01", ALEC_ETRUNC);
  /* Frame shorter than announced. */
  validates_to("10 05 11 42 0000 000004D2 000000 00 01 41B40000", ALEC_ETRUNC);
  /* Emitter id not minimal, too long, truncated. */
  validates_to("10 85 00 01 42", ALEC_EVARINT);
  validates_to("10 FF FF FF FF FF FF FF FF FF 7F 01 42", ALEC_EVARINT);
  validates_to("10 85", ALEC_ETRUNC);
  validates_to("10 05", ALEC_ETRUNC); /* no descriptor */
  /* Long length in long form below 64 (has a short form), not minimal, too big. */
  validates_to("10 05 00 10 42 0000 000004D2 000000 00 01 41B40000", ALEC_EVARINT);
  validates_to("10 05 00 C5 00", ALEC_EVARINT);
  validates_to("10 05 00 A9 14", ALEC_ERANGE); /* 2601 */
  validates_to("10 05 00 FF FF FF FF FF FF FF FF FF 01", ALEC_ERANGE);
  validates_to("10 05 00 A8 14", ALEC_ETRUNC); /* 2600 but nothing follows */
  validates_to("10 05 00", ALEC_ETRUNC);
  /* Fixed: bitmap or data cut short. */
  validates_to("10 05 C4 A1 0001 0005 44", ALEC_ETRUNC);
  validates_to("10 05 C4 A1 0001 0005 44 00 01", ALEC_ETRUNC);
  validates_to("10 05 C4 A1 0001", ALEC_ETRUNC);
  /* 64 channels (desc 0xFF) all Raw32: 5 + 16 + 256 bytes. */
  b[0] = 0x10;
  b[1] = 0x01;
  b[2] = 0xFF;
  memset(b + 3, 0, 5);
  b[3] = 0xA2;
  memset(b + 8, 0xFF, 16);
  memset(b + 24, 0x41, 256);
  ck_assert_int_eq(alec_envelope_validate(b, 3 + 277), 1);
  ck_assert_int_eq(alec_envelope_validate(b, 3 + 276), ALEC_ETRUNC);
}
END_TEST

START_TEST(writer_rules) {
  uint8_t frame[64], buf[64];
  size_t fl = unhex(E5_1, frame, sizeof frame);
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, ALEC_ENVELOPE_FLAG_AUTH), ALEC_EINVAL);
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, 0, 0), ALEC_EBUFSIZE);
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 0, frame, fl), ALEC_ECHANNELS);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 65, frame, fl), ALEC_ECHANNELS);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 4, frame, fl), ALEC_EMALFORMED);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 5, frame, fl - 1), ALEC_EMALFORMED);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 5, frame, fl + 1), ALEC_EMALFORMED);
  ck_assert_int_eq(alec_envelope_add(&w, 1, (alec_format)0, 0, frame, fl), ALEC_EINVAL);
  ck_assert_int_eq(alec_envelope_add(&w, 1, (alec_format)9, 0, frame, fl), ALEC_EINVAL);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_SINGLE, 0, frame, 0), ALEC_EINVAL);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_SINGLE, 0, frame, ALEC_FRAME_MAX + 1), ALEC_ERANGE);
  ck_assert_uint_eq(w.len, 1);
  ck_assert_uint_eq(w.count, 0);
  /* Fill up: 5 records of 11 bytes fit in 64 - 1, the 6th does not. */
  for (int i = 0; i < 5; i++) ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 5, frame, fl), 11);
  uint8_t before[64];
  memcpy(before, buf, sizeof buf);
  ck_assert_int_eq(alec_envelope_add(&w, 1, ALEC_FORMAT_FIXED, 5, frame, fl), ALEC_EBUFSIZE);
  ck_assert_uint_eq(w.len, 56);
  ck_assert_uint_eq(w.count, 5);
  ck_assert_mem_eq(buf, before, sizeof buf);
  ck_assert_int_eq(alec_envelope_validate(buf, w.len), 5);
}
END_TEST

START_TEST(fixed_length_rules) {
  uint8_t f[300];
  memset(f, 0, sizeof f);
  f[0] = 0xA1;
  ck_assert_int_eq(alec_fixed_frame_length(f, sizeof f, 0), ALEC_ECHANNELS);
  ck_assert_int_eq(alec_fixed_frame_length(f, sizeof f, 65), ALEC_ECHANNELS);
  for (unsigned n = 1; n <= 64; n++) {
    /* all Repeated */
    ck_assert_int_eq(alec_fixed_frame_length(f, sizeof f, n), (long)(5 + (2 * n + 7) / 8));
  }
  memset(f + 5, 0xFF, 16);
  ck_assert_int_eq(alec_fixed_frame_length(f, sizeof f, 64), 277);
  ck_assert_int_eq(alec_fixed_frame_length(f, 276, 64), ALEC_ETRUNC);
  ck_assert_int_eq(alec_fixed_frame_length(f, 20, 64), ALEC_ETRUNC);
  ck_assert_int_eq(alec_fixed_frame_length(f, 4, 1), ALEC_ETRUNC);
  /* Bits of channels beyond n are not counted. */
  f[5] = 0xFC; /* ch0 Repeated, ch1..3 Raw32 */
  ck_assert_int_eq(alec_fixed_frame_length(f, sizeof f, 1), 6);
  ck_assert_int_eq(alec_fixed_frame_length(f, sizeof f, 2), 10);
}
END_TEST

/* xorshift64*: deterministic, seeded from the test, no global state. */
static uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * UINT64_C(2685821657736338717);
}

/* A random valid frame of a family: random bytes of a plausible length; for
 * fixed a random bitmap and matching data. */
static size_t random_frame(uint64_t *s, alec_format f, unsigned ch, uint8_t *out) {
  if (f == ALEC_FORMAT_FIXED) {
    size_t bm = (2u * ch + 7u) / 8u;
    out[0] = (rnd(s) & 1) ? 0xA1 : 0xA2;
    for (size_t i = 1; i < 5 + bm; i++) out[i] = (uint8_t)rnd(s);
    if (ch % 4) out[5 + bm - 1] &= (uint8_t)((1u << (2 * (ch % 4))) - 1u);
    long need = alec_fixed_frame_length(out, ALEC_FRAME_MAX, ch);
    ck_assert_int_gt(need, 0);
    for (long i = 5 + (long)bm; i < need; i++) out[i] = (uint8_t)rnd(s);
    return (size_t)need;
  }
  size_t len = 1 + rnd(s) % (rnd(s) % 8 == 0 ? ALEC_FRAME_MAX : 80);
  for (size_t i = 0; i < len; i++) out[i] = (uint8_t)rnd(s);
  return len;
}

static uint64_t random_emitter(uint64_t *s) {
  switch (rnd(s) % 4) {
  case 0: return rnd(s) % 128;
  case 1: return rnd(s) % 16384;
  case 2: return rnd(s) >> (rnd(s) % 64);
  default: return UINT64_MAX - rnd(s) % 3;
  }
}

typedef struct built {
  uint64_t emitter;
  alec_format format;
  unsigned channels;
  size_t off, len;
} built;

START_TEST(random_round_trip) {
  uint64_t s = UINT64_C(0x9E3779B97F4A7C15);
  static uint8_t frames[16 * ALEC_FRAME_MAX];
  static uint8_t dgram[16 * (ALEC_FRAME_MAX + ALEC_ENVELOPE_RECORD_OVERHEAD_MAX) + 1];
  for (int iter = 0; iter < 3000; iter++) {
    built b[16];
    unsigned n = 1 + (unsigned)(rnd(&s) % 16);
    alec_envelope_writer w;
    ck_assert_int_eq(alec_envelope_writer_init(&w, dgram, sizeof dgram, 0), 0);
    size_t foff = 0;
    for (unsigned i = 0; i < n; i++) {
      b[i].emitter = random_emitter(&s);
      b[i].format = (alec_format)(1 + rnd(&s) % 4);
      b[i].channels = b[i].format == ALEC_FORMAT_FIXED ? 1 + (unsigned)(rnd(&s) % 64) : 0;
      b[i].off = foff;
      b[i].len = random_frame(&s, b[i].format, b[i].channels, frames + foff);
      foff += b[i].len;
      size_t before = w.len;
      int rc = alec_envelope_add(&w, b[i].emitter, b[i].format, b[i].channels, frames + b[i].off, b[i].len);
      ck_assert_int_gt(rc, 0);
      ck_assert_uint_eq(w.len - before, (size_t)rc);
      ck_assert_uint_eq((size_t)rc, b[i].len + alec_envelope_record_overhead(b[i].emitter, b[i].format, b[i].len));
    }
    ck_assert_int_eq(alec_envelope_validate(dgram, w.len), (int)n);
    alec_envelope_reader r;
    alec_envelope_record rec;
    ck_assert_int_eq(alec_envelope_reader_init(&r, dgram, w.len), 0);
    for (unsigned i = 0; i < n; i++)
      next_record_is(&r, b[i].emitter, b[i].format, b[i].channels, frames + b[i].off, b[i].len);
    ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
    /* Every strict prefix longer than the header is rejected or ends on a
     * record boundary. */
    size_t cut = 1 + rnd(&s) % w.len;
    int rc = alec_envelope_validate(dgram, cut);
    ck_assert(rc < 0 || (rc >= 1 && (unsigned)rc <= n));
  }
}
END_TEST

/* Parse arbitrary input: records stay inside the buffer, and any datagram
 * that validates is rebuilt byte for byte from its records (canonical). */
/* Flag R: one emitter id and descriptor for the whole datagram; fixed
 * frames follow bare, other families each after their length. */
START_TEST(run_mode) {
  uint8_t f1[64], f5[64], f2[64], want[160], buf[160];
  size_t l1 = unhex(E5_1, f1, sizeof f1);
  size_t l5 = unhex(E5_0, f5, sizeof f5);
  size_t l2 = unhex(E2, f2, sizeof f2);
  size_t wl = unhex("12 AC 02 C4"
                    " A1 0001 0005 44 00 01 64"
                    " A1 0001 0005 44 00 01 64"
                    " A1 0000 0000 FF 03 40666666 41B40000 42340000 43D20000 447D5000",
                    want, sizeof want);
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, ALEC_ENVELOPE_FLAG_RUN), 0);
  ck_assert_int_eq(alec_envelope_add(&w, 300, ALEC_FORMAT_FIXED, 5, f1, l1), (int)l1 + 3);
  ck_assert_int_eq(alec_envelope_add(&w, 300, ALEC_FORMAT_FIXED, 5, f1, l1), (int)l1);
  /* another emitter, family or channel count does not join the run */
  ck_assert(!alec_envelope_fits_run(&w, 301, ALEC_FORMAT_FIXED, 5));
  ck_assert_int_eq(alec_envelope_add(&w, 301, ALEC_FORMAT_FIXED, 5, f1, l1), ALEC_EINVAL);
  ck_assert_int_eq(alec_envelope_add(&w, 300, ALEC_FORMAT_SINGLE_XXH32, 0, f2, l2), ALEC_EINVAL);
  ck_assert_int_eq(alec_envelope_add(&w, 300, ALEC_FORMAT_FIXED, 4, f1, l1), ALEC_EMALFORMED);
  ck_assert_int_eq(alec_envelope_add(&w, 300, ALEC_FORMAT_FIXED, 5, f5, l5), (int)l5);
  ck_assert_uint_eq(w.count, 3);
  ck_assert_uint_eq(w.len, wl);
  ck_assert_mem_eq(buf, want, wl);

  alec_envelope_reader r;
  alec_envelope_record rec;
  ck_assert_int_eq(alec_envelope_reader_init(&r, want, wl), 0);
  next_record_is(&r, 300, ALEC_FORMAT_FIXED, 5, f1, l1);
  next_record_is(&r, 300, ALEC_FORMAT_FIXED, 5, f1, l1);
  next_record_is(&r, 300, ALEC_FORMAT_FIXED, 5, f5, l5);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
  ck_assert_int_eq(alec_envelope_validate(want, wl), 3);
  /* a frame cut short at the end */
  ck_assert_int_eq(alec_envelope_validate(want, wl - 1), ALEC_ETRUNC);

  /* legacy frames in a run: a varint length before each */
  size_t sl = unhex("12 07 40 15", want, sizeof want);
  memcpy(want + sl, f2, l2);
  sl += l2;
  want[sl++] = 0x15;
  memcpy(want + sl, f2, l2);
  sl += l2;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, ALEC_ENVELOPE_FLAG_RUN), 0);
  ck_assert_int_eq(alec_envelope_add(&w, 7, ALEC_FORMAT_SINGLE_XXH32, 0, f2, l2), (int)l2 + 3);
  ck_assert_int_eq(alec_envelope_add(&w, 7, ALEC_FORMAT_SINGLE_XXH32, 0, f2, l2), (int)l2 + 1);
  ck_assert_uint_eq(w.len, sl);
  ck_assert_mem_eq(buf, want, sl);
  ck_assert_int_eq(alec_envelope_validate(want, sl), 2);
  /* a run descriptor with a length in it, and a zero-length item, are refused */
  want[2] = 0x55;
  ck_assert_int_eq(alec_envelope_validate(want, sl), ALEC_EMALFORMED);
  want[2] = 0x40;
  want[3] = 0x00;
  ck_assert_int_eq(alec_envelope_validate(want, sl), ALEC_EMALFORMED);
  /* no frame after the head */
  ck_assert_int_eq(alec_envelope_validate(want, 3), ALEC_ETRUNC);
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0x04), ALEC_EINVAL);
}
END_TEST

static void check_parse(const uint8_t *buf, size_t len, uint8_t *rebuilt, size_t cap) {
  int count = alec_envelope_validate(buf, len);
  alec_envelope_reader r;
  alec_envelope_record rec;
  int rc = alec_envelope_reader_init(&r, buf, len);
  if (rc < 0) {
    ck_assert_int_eq(count, rc);
    return;
  }
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, rebuilt, cap, r.flags & ALEC_ENVELOPE_FLAG_RUN), 0);
  int seen = 0;
  while ((rc = alec_envelope_next(&r, &rec)) > 0) {
    seen++;
    ck_assert(rec.frame >= buf && rec.frame + rec.frame_len <= buf + len);
    ck_assert_uint_ge(rec.frame_len, 1);
    ck_assert_uint_le(rec.frame_len, ALEC_FRAME_MAX);
    ck_assert_int_gt(alec_envelope_add(&w, rec.emitter, rec.format, rec.channels, rec.frame, rec.frame_len), 0);
  }
  if (rc < 0) {
    ck_assert_int_eq(count, rc);
    ck_assert_int_eq(alec_envelope_next(&r, &rec), rc);
  } else {
    ck_assert_int_eq(count, seen);
    ck_assert_uint_eq(w.len, len);
    ck_assert_mem_eq(rebuilt, buf, len);
  }
}

START_TEST(random_bytes_and_mutations) {
  uint64_t s = UINT64_C(0xD1B54A32D192ED03);
  static uint8_t buf[8192], rebuilt[8192], frame[ALEC_FRAME_MAX];
  size_t valid_after_mutation = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len;
    if (iter % 2 == 0) {
      /* Random bytes, with a valid header most of the time. */
      len = rnd(&s) % 200;
      for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rnd(&s);
      if (len && rnd(&s) % 4) buf[0] = 0x10;
    } else {
      /* A valid datagram, then a few mutations. */
      alec_envelope_writer w;
      ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf - 16, 0), 0);
      unsigned n = 1 + (unsigned)(rnd(&s) % 4);
      for (unsigned i = 0; i < n; i++) {
        alec_format f = (alec_format)(1 + rnd(&s) % 4);
        unsigned ch = f == ALEC_FORMAT_FIXED ? 1 + (unsigned)(rnd(&s) % 8) : 0;
        size_t fl = random_frame(&s, f, ch, frame);
        if (f != ALEC_FORMAT_FIXED && fl > 1500) fl = 1 + rnd(&s) % 1500;
        (void)alec_envelope_add(&w, random_emitter(&s), f, ch, frame, fl);
      }
      len = w.len;
      unsigned muts = 1 + (unsigned)(rnd(&s) % 3);
      for (unsigned m = 0; m < muts; m++) {
        switch (rnd(&s) % 4) {
        case 0: buf[rnd(&s) % len] ^= (uint8_t)(1u << (rnd(&s) % 8)); break;
        case 1: buf[rnd(&s) % len] = (uint8_t)rnd(&s); break;
        case 2: len = 1 + rnd(&s) % len; break;
        default:
          if (len < sizeof buf - 8) {
            size_t at = rnd(&s) % (len + 1), k = 1 + rnd(&s) % 4;
            memmove(buf + at + k, buf + at, len - at);
            for (size_t i = 0; i < k; i++) buf[at + i] = (uint8_t)rnd(&s);
            len += k;
          }
        }
      }
      if (alec_envelope_validate(buf, len) > 0) valid_after_mutation++;
    }
    check_parse(buf, len, rebuilt, sizeof rebuilt);
  }
  /* Mutations inside frame bytes keep datagrams valid: the test really
   * exercised the success path too. */
  ck_assert_uint_gt(valid_after_mutation, 100);
}
END_TEST

static Suite *envelope_suite(void) {
  Suite *s = suite_create("envelope");
  TCase *tc = tcase_create("format");
  tcase_add_test(tc, crc32_check_value);
  tcase_add_test(tc, varint64_vectors);
  tcase_add_test(tc, doc_example_single);
  tcase_add_test(tc, doc_example_batch);
  tcase_add_test(tc, doc_example_long_multi);
  tcase_add_test(tc, overhead_claim);
  tcase_add_test(tc, header_rules);
  tcase_add_test(tc, record_rules);
  tcase_add_test(tc, writer_rules);
  tcase_add_test(tc, fixed_length_rules);
  tcase_add_test(tc, run_mode);
  suite_add_tcase(s, tc);
  TCase *tr = tcase_create("random");
  tcase_set_timeout(tr, 120);
  tcase_add_test(tr, random_round_trip);
  tcase_add_test(tr, random_bytes_and_mutations);
  suite_add_tcase(s, tr);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(envelope_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
