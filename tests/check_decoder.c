/* SPDX-License-Identifier: MIT */
/* Unit tests for the wire primitives, frame layouts, context and decoder,
 * plus conformance against the reference golden vectors ($ALEC_SHARED). */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"

/* ------------------------------------------------------------ helpers */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static size_t unhex(const char *s, size_t slen, uint8_t *out, size_t cap) {
  if (slen % 2 || slen / 2 > cap)
    return (size_t)-1;
  for (size_t i = 0; i < slen; i += 2) {
    int h = hexval(s[i]), l = hexval(s[i + 1]);
    if (h < 0 || l < 0)
      return (size_t)-1;
    out[i / 2] = (uint8_t)(h << 4 | l);
  }
  return slen / 2;
}

/* Hex with optional spaces / '|' separators (as written in the spec). */
static size_t H(const char *s, uint8_t *out) {
  char clean[8192];
  size_t k = 0;
  for (const char *p = s; *p && k + 1 < sizeof clean; p++)
    if (*p != ' ' && *p != '|')
      clean[k++] = *p;
  clean[k] = 0;
  return unhex(clean, k, out, 4096);
}

static uint64_t bits(double d) { return alec_f64_bits(d); }

static alec_decoder *mkdec(unsigned flags) {
  alec_decoder_config cfg;
  alec_decoder_config_init(&cfg);
  cfg.flags = flags;
  alec_decoder *d = NULL;
  ck_assert_int_eq(alec_decoder_new(&d, &cfg), 0);
  return d;
}

static size_t save_dec(const alec_decoder *d, uint8_t *buf, size_t cap) {
  long n = alec_decoder_save(d, buf, cap);
  ck_assert_int_gt(n, 0);
  return (size_t)n;
}

/* Builds a legacy single frame. */
static size_t mk_single(uint8_t *b, unsigned type, unsigned prio, uint16_t seq, uint32_t sid,
                        uint8_t enc, const uint8_t *val, size_t vlen) {
  alec_header h = {1, (uint8_t)type, (uint8_t)prio, seq, 0, 0};
  alec_header_write(&h, b);
  size_t n = ALEC_HEADER_SIZE;
  n += alec_varint_encode(sid, b + n);
  b[n++] = enc;
  memcpy(b + n, val, vlen);
  return n + vlen;
}

static size_t mk_raw32(uint8_t *b, unsigned type, uint16_t seq, uint32_t sid, float f) {
  uint8_t v[4];
  alec_wr_be32(v, alec_f32_bits(f));
  return mk_single(b, type, ALEC_P3, seq, sid, ALEC_ENC_RAW32, v, 4);
}

static size_t mk_raw64(uint8_t *b, uint16_t seq, uint32_t sid, double d) {
  uint8_t v[8];
  alec_wr_be64(v, alec_f64_bits(d));
  return mk_single(b, 0, ALEC_P3, seq, sid, ALEC_ENC_RAW64, v, 8);
}

static size_t mk_d8(uint8_t *b, uint16_t seq, uint32_t sid, int8_t d) {
  uint8_t v = (uint8_t)d;
  return mk_single(b, 0, ALEC_P4, seq, sid, ALEC_ENC_DELTA8, &v, 1);
}

/* Reference fixed-frame encoder (spec 3.2), test-only: observes raw input
 * like the reference FFI emitter, so tests do not depend on src/lib/encoder.c. */
static size_t ref_enc_fixed(alec_context *ectx, uint16_t seq, int keyframe, const double *v,
                            unsigned n, uint8_t *out) {
  out[0] = keyframe ? ALEC_FIXED_KEYFRAME : ALEC_FIXED_DATA;
  alec_wr_be16(out + 1, seq);
  alec_wr_be16(out + 3, (uint16_t)alec_context_version(ectx));
  size_t bm = alec_fixed_bitmap_size(n);
  memset(out + 5, 0, bm);
  size_t p = 5 + bm;
  double scale = (double)alec_context_scale(ectx);
  for (unsigned i = 0; i < n; i++) {
    uint32_t sid = i + 1;
    unsigned code = ALEC_FIX_RAW32;
    double last, pred;
    int64_t s = 0;
    if (!isfinite(v[i]) || keyframe) {
      code = ALEC_FIX_RAW32;
    } else if (alec_context_last_value(ectx, sid, &last) == 0 && fabs(v[i] - last) < DBL_EPSILON) {
      code = ALEC_FIX_REPEATED;
    } else if (alec_context_predict(ectx, sid, &pred) == 0) {
      s = alec_round_q((v[i] - pred) * scale);
      if (s >= -128 && s <= 127)
        code = ALEC_FIX_DELTA8;
      else if (s >= -32768 && s <= 32767)
        code = ALEC_FIX_DELTA16;
    }
    out[5 + i / 4] |= (uint8_t)(code << (2 * (i % 4)));
    if (code == ALEC_FIX_DELTA8) {
      out[p++] = (uint8_t)(int8_t)s;
    } else if (code == ALEC_FIX_DELTA16) {
      alec_wr_be16(out + p, (uint16_t)(int16_t)s);
      p += 2;
    } else if (code == ALEC_FIX_RAW32) {
      alec_wr_be32(out + p, alec_f32_bits(alec_f64_to_f32(v[i])));
      p += 4;
    }
  }
  for (unsigned i = 0; i < n; i++)
    ck_assert_int_eq(alec_context_observe(ectx, i + 1, v[i]), 0);
  return p;
}

static alec_context *ref_ctx(void) {
  alec_context_config c;
  alec_context_config_init(&c);
  c.sanitize_nonfinite = 0;
  alec_context *ctx = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, &c), 0);
  return ctx;
}

/* ------------------------------------------------------------ wire */

START_TEST(t_varint) {
  static const struct {
    uint32_t v;
    const char *hex;
  } vec[] = {{0, "00"},       {127, "7F"},         {128, "8001"},
             {300, "AC02"},   {16384, "808001"},   {0xFFFFFFFFu, "FFFFFFFF0F"}};
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
    uint8_t want[8], got[8];
    size_t wn = H(vec[i].hex, want);
    size_t n = alec_varint_encode(vec[i].v, got);
    ck_assert_uint_eq(n, wn);
    ck_assert_uint_eq(alec_varint_size(vec[i].v), wn);
    ck_assert_mem_eq(got, want, n);
    uint32_t back = 1;
    ck_assert_int_eq(alec_varint_decode(want, wn, &back), (int)wn);
    ck_assert_uint_eq(back, vec[i].v);
  }
  uint8_t b[8];
  uint32_t v = 0;
  /* Bits 4..6 of the fifth byte vanish. */
  size_t n = H("FFFFFFFF7F", b);
  ck_assert_int_eq(alec_varint_decode(b, n, &v), 5);
  ck_assert_uint_eq(v, 0xFFFFFFFFu);
  n = H("8000", b);
  ck_assert_int_eq(alec_varint_decode(b, n, &v), 2);
  ck_assert_uint_eq(v, 0);
  n = H("808080808001", b);
  ck_assert_int_eq(alec_varint_decode(b, n, &v), ALEC_EVARINT);
  ck_assert_int_eq(alec_varint_decode(b, 5, &v), ALEC_EVARINT);
  ck_assert_int_eq(alec_varint_decode(b, 4, &v), ALEC_ETRUNC);
  ck_assert_int_eq(alec_varint_decode(b, 0, &v), ALEC_ETRUNC);
}
END_TEST

START_TEST(t_round_q) {
  ck_assert_int_eq(alec_round_q((1.275 - 0.0) * 100.0), 127);
  ck_assert_int_eq(alec_round_q(1.276 * 100.0), 128);
  ck_assert_int_eq(alec_round_q(-1.285 * 100.0), -129);
  ck_assert_int_eq(alec_round_q(-1.284 * 100.0), -128);
  ck_assert_int_eq(alec_round_q(0.004999 * 100.0), 0);
  ck_assert_int_eq(alec_round_q(0.005 * 100.0), 1);
  ck_assert_int_eq(alec_round_q((22.57 - 22.5) * 100.0), 7);
  ck_assert_int_eq(alec_round_q(327.67 * 100.0), 32767);
  ck_assert_int_eq(alec_round_q(327.675 * 100.0), 32768);
  ck_assert_int_eq(alec_round_q(21474836.47 * 100.0), 2147483647);
  ck_assert_int_eq(alec_round_q(21474836.48 * 100.0), 2147483648LL);
  ck_assert_int_eq(alec_round_q(NAN), 0);
  ck_assert(alec_round_q(INFINITY) == INT64_MAX);
  ck_assert(alec_round_q(-INFINITY) == INT64_MIN);
  ck_assert(alec_round_q(1e300) == INT64_MAX);
  ck_assert(alec_sat_trunc_i64(9223372036854775808.0) == INT64_MAX);
  ck_assert(alec_sat_trunc_i64(-9223372036854775808.0) == INT64_MIN);
  ck_assert(alec_sat_trunc_i64(-9223372036854777856.0) == INT64_MIN);
  ck_assert(alec_sat_trunc_i64(9223372036854774784.0) == 9223372036854774784LL);
  ck_assert(alec_sat_trunc_i64(-2.9) == -2);
}
END_TEST

START_TEST(t_floats) {
  ck_assert_uint_eq(alec_f32_bits(alec_f64_to_f32(NAN)), 0x7FC00000u);
  ck_assert(isinf(alec_f64_to_f32(1e39)) && alec_f64_to_f32(1e39) > 0);
  ck_assert(isinf(alec_f64_to_f32(-1e300)) && alec_f64_to_f32(-1e300) < 0);
  ck_assert(alec_f64_to_f32(FLT_MAX) == FLT_MAX);
  ck_assert(alec_f64_to_f32(0x1.fffffefffffffp127) == FLT_MAX);
  ck_assert(isinf(alec_f64_to_f32(0x1.ffffffp127)));
  ck_assert_uint_eq(alec_f32_bits(alec_f64_to_f32(22.5)), 0x41B40000u);
  ck_assert(alec_f64_from_bits(0x7FF8000000000000ull) != alec_f64_from_bits(0x7FF8000000000000ull));
  ck_assert_uint_eq(alec_f64_bits(1.0), 0x3FF0000000000000ull);
}
END_TEST

/* ------------------------------------------------------------ frame */

START_TEST(t_header) {
  uint8_t b[16];
  alec_header h;
  for (unsigned p = 0; p < 5; p++) {
    alec_header w = {1, 0, (uint8_t)p, 0x1234, 0xDEADBEEF, 0xABCDEF};
    alec_header_write(&w, b);
    ck_assert_uint_eq(b[0], 0x40 + p);
    ck_assert_int_eq(alec_header_parse(b, 10, &h), 0);
    ck_assert_uint_eq(h.priority, p);
    ck_assert_uint_eq(h.sequence, 0x1234);
    ck_assert_uint_eq(h.timestamp, 0xDEADBEEF);
    ck_assert_uint_eq(h.ctx_version, 0xABCDEF);
    ck_assert_uint_eq(h.version, 1);
    ck_assert_int_eq(alec_frame_family(b, 10), ALEC_FAMILY_LEGACY);
  }
  b[0] = 0x47;
  ck_assert_int_eq(alec_header_parse(b, 10, &h), ALEC_EHEADER);
  ck_assert_int_eq(alec_frame_family(b, 10), ALEC_FAMILY_UNKNOWN);
  b[0] = 0x42;
  ck_assert_int_eq(alec_header_parse(b, 9, &h), ALEC_EHEADER);
  b[0] = 0xC2; /* version 3 accepted */
  ck_assert_int_eq(alec_header_parse(b, 10, &h), 0);
  ck_assert_uint_eq(h.version, 3);
  b[0] = 0x7A; /* type 7 */
  ck_assert_int_eq(alec_header_parse(b, 10, &h), 0);
  ck_assert_uint_eq(h.msg_type, 7);
  b[0] = 0xA1;
  ck_assert_int_eq(alec_frame_family(b, 10), ALEC_FAMILY_FIXED);
  b[0] = 0xA2;
  ck_assert_int_eq(alec_frame_family(b, 1), ALEC_FAMILY_FIXED);
  ck_assert_int_eq(alec_frame_family(b, 0), ALEC_FAMILY_UNKNOWN);

  alec_fixed_header fh;
  size_t n = H("A2 0007 0009 03 41B40000", b);
  ck_assert_int_eq(alec_fixed_header_parse(b, n, &fh), 0);
  ck_assert_uint_eq(fh.marker, 0xA2);
  ck_assert_uint_eq(fh.sequence, 7);
  ck_assert_uint_eq(fh.ctx_version, 9);
  ck_assert_int_eq(alec_fixed_header_parse(b, 4, &fh), ALEC_ETRUNC);
  b[0] = 0xA0;
  ck_assert_int_eq(alec_fixed_header_parse(b, n, &fh), ALEC_EMALFORMED);
  ck_assert_uint_eq(alec_fixed_bitmap_size(5), 2);
  ck_assert_uint_eq(alec_fixed_bitmap_size(64), 16);
}
END_TEST

START_TEST(t_names) {
  alec_format f;
  ck_assert_int_eq(alec_format_parse("single", &f), 0);
  ck_assert_int_eq(f, ALEC_FORMAT_SINGLE);
  ck_assert_int_eq(alec_format_parse("single-xxh32", &f), 0);
  ck_assert_int_eq(f, ALEC_FORMAT_SINGLE_XXH32);
  ck_assert_int_eq(alec_format_parse("multi", &f), 0);
  ck_assert_int_eq(f, ALEC_FORMAT_MULTI);
  ck_assert_int_eq(alec_format_parse("fixed", &f), 0);
  ck_assert_int_eq(f, ALEC_FORMAT_FIXED);
  ck_assert_int_eq(alec_format_parse("Fixed", &f), ALEC_EINVAL);
  ck_assert_int_eq(alec_format_parse(NULL, &f), ALEC_EINVAL);
  ck_assert_str_eq(alec_format_name(ALEC_FORMAT_SINGLE_XXH32), "single-xxh32");
  ck_assert_str_eq(alec_priority_name(ALEC_P1), "P1");
  ck_assert_str_eq(alec_priority_name(ALEC_P5), "P5");
  ck_assert_str_eq(alec_encoding_name(ALEC_ENC_DELTA16), "Delta16");
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_RAW64), 8);
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_RAW32), 4);
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_DELTA8), 1);
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_DELTA16), 2);
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_DELTA32), 4);
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_REPEATED), 0);
  ck_assert_int_eq(alec_encoding_value_size(ALEC_ENC_PATTERN), -1);
  ck_assert_int_eq(alec_encoding_value_size(0x7F), -1);
  for (int e = 0; e >= ALEC_ERROR_MIN; e--) {
    ck_assert_ptr_nonnull(alec_strerror(e));
    ck_assert_str_ne(alec_err_name(e), "ALEC_EUNKNOWN");
    for (int g = e - 1; g >= ALEC_ERROR_MIN; g--)
      ck_assert_str_ne(alec_err_name(e), alec_err_name(g));
  }
  ck_assert_str_eq(alec_err_name(ALEC_ETRUNC), "ALEC_ETRUNC");
  ck_assert_ptr_nonnull(alec_strerror(-1000));
  ck_assert_ptr_nonnull(alec_err_name(1000));
}
END_TEST

START_TEST(t_checksum) {
  uint8_t b[64] = {0};
  ck_assert_uint_eq(alec_checksum32(b, 0), 0x02CC5D05u);
  size_t n = H("42 00 00 00 00 00 00 00 00 00 | 00 30", b);
  ck_assert_uint_eq(alec_checksum32(b, n), 0x864D8180u);
  /* E2 */
  n = H("42 0000 00000005 000000 | AC 02 01 41B40000 | 08 8D 81 9E", b);
  ck_assert_uint_eq(n, 21);
  alec_decoder *d = mkdec(0);
  alec_value v[2];
  alec_frame_info info;
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE_XXH32, 0, b, n, v, 2, &info), 1);
  ck_assert_uint_eq(v[0].id, 300);
  ck_assert(v[0].value == 22.5);
  ck_assert_uint_eq(info.frame_len, 21);
  ck_assert_uint_eq(info.timestamp, 5);
  b[12] ^= 1;
  alec_decoder *d2 = mkdec(0);
  ck_assert_int_eq(alec_decoder_decode(d2, ALEC_FORMAT_SINGLE_XXH32, 0, b, n, v, 2, NULL),
                   ALEC_ECHECKSUM);
  ck_assert_int_eq(alec_decoder_decode(d2, ALEC_FORMAT_SINGLE_XXH32, 0, b, 13, v, 2, NULL),
                   ALEC_ETRUNC);
  b[0] = 0x47;
  ck_assert_int_eq(alec_decoder_decode(d2, ALEC_FORMAT_SINGLE_XXH32, 0, b, n, v, 2, NULL),
                   ALEC_EHEADER);
  alec_decoder_free(d);
  alec_decoder_free(d2);
}
END_TEST

/* ------------------------------------------------------------ worked examples */

START_TEST(t_e1_single) {
  static const char *frames[] = {
      "42 0000 000004D2 000000 | 00 01 41B40000", "44 0001 000004D3 000001 | 00 30",
      "44 0002 000004D4 000002 | 00 10 07",       "43 0003 000004D5 000003 | 00 10 30",
      "40 0004 000004D6 000004 | 00 11 02DE",     "40 0005 000004D7 000005 | 00 00 419D6F34547DF3B6",
      "41 0006 000004D8 000006 | 00 00 7FF8000000000000"};
  static const double approx[] = {22.5, 22.5, 22.57, 23.0, 30.0, 123456789.123, NAN};
  for (int strict = 0; strict < 2; strict++) {
    alec_decoder *d = mkdec(strict ? ALEC_DECODER_STRICT_REFERENCE : 0);
    for (int k = 0; k < 7; k++) {
      uint8_t b[64];
      alec_value v;
      alec_frame_info info;
      size_t n = H(frames[k], b);
      ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
      ck_assert_uint_eq(v.id, 0);
      ck_assert_uint_eq(info.sequence, k);
      ck_assert_uint_eq(info.timestamp, 1234 + k);
      ck_assert_uint_eq(info.ctx_version, k);
      ck_assert_uint_eq(info.frame_len, n);
      ck_assert_uint_eq(info.gap, 0);
      if (k == 2)
        ck_assert_uint_eq(bits(v.value), bits(22.5 + 7.0 / 100.0));
      if (k == 6) {
        ck_assert(isnan(v.value));
        ck_assert(v.flags & ALEC_VALUE_NONFINITE);
      } else {
        ck_assert(fabs(v.value - approx[k]) <= 0.005 + 1e-12);
        ck_assert_uint_eq(v.flags, 0);
      }
      ck_assert_uint_eq(alec_context_version(alec_decoder_context(d)), (uint32_t)k + 1);
    }
    alec_decoder_free(d);
  }
}
END_TEST

START_TEST(t_e3_e4_multi) {
  uint8_t b[128];
  alec_value v[8];
  alec_frame_info info;
  alec_decoder *d = mkdec(0);
  size_t n = H("42 0000 0000000C 000000 | 2A 40 03 | 01 01 41B40000 | 02 01 42820000 | 03 01 447D5000",
               b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, &info), 3);
  ck_assert(v[0].id == 1 && v[0].value == 22.5);
  ck_assert(v[1].id == 2 && v[1].value == 65.0);
  ck_assert(v[2].id == 3 && v[2].value == 1013.25);
  ck_assert_uint_eq(info.timestamp, 12);
  /* the same frame read as a single frame is a format error */
  alec_decoder *d1 = mkdec(0);
  ck_assert_int_eq(alec_decoder_decode(d1, ALEC_FORMAT_SINGLE, 0, b, n, v, 8, &info), ALEC_EFORMAT);
  alec_decoder_free(d1);
  alec_decoder_free(d);

  static const char *rows[] = {
      "42 0000 0000003C 000000 | 00 40 03 | 00 01 41B40000 | 01 01 42820000 | 02 01 447D5000",
      "42 0001 0000003C 000003 | 00 40 01 | 01 10 64",
      "41 0002 0000003C 000006 | 00 40 01 | 01 11 0578",
      "40 0003 0000003C 000009 | 00 40 02 | 00 11 02EE | 01 30"};
  d = mkdec(0);
  n = H(rows[0], b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, &info), 3);
  ck_assert(v[1].id == 1 && v[1].value == 65.0);
  n = H(rows[1], b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, &info), 1);
  ck_assert(v[0].id == 1 && v[0].value == 66.0);
  n = H(rows[2], b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, &info), 1);
  ck_assert(v[0].id == 1 && v[0].value == 80.0);
  ck_assert_uint_eq(info.priority, ALEC_P2);
  n = H(rows[3], b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, &info), 2);
  ck_assert(v[0].id == 0 && v[0].value == 30.0 && v[0].encoding == ALEC_ENC_DELTA16);
  ck_assert(v[1].id == 1 && v[1].value == 80.0 && v[1].encoding == ALEC_ENC_REPEATED);
  ck_assert_uint_eq(alec_context_version(alec_decoder_context(d)), 7);
  /* an empty multi frame is normal (all channels P5) */
  n = H("44 0004 0000003C 000009 | 00 40 00", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, NULL, 0, &info), 0);
  alec_decoder_free(d);
}
END_TEST

START_TEST(t_e5_fixed) {
  static const char *frames[] = {
      "A1 0000 0000 FF 03 40666666 41B40000 42340000 43D20000 447D5000",
      "A1 0001 0005 44 00 01 64", "A1 0002 000A 90 01 0A 0190 01",
      "A2 0003 000F FF 03 40666666 41B428F6 42346666 43D48000 447D50A4",
      "A1 0004 0014 88 00 00F9 7616"};
  static const double in[5][5] = {{3.6, 22.5, 45.0, 420.0, 1013.25},
                                  {3.6, 22.51, 45.0, 421.0, 1013.25},
                                  {3.6, 22.51, 45.1, 425.0, 1013.26},
                                  {3.6, 22.52, 45.1, 425.0, 1013.26},
                                  {3.6, 25.0, 45.1, 725.0, 1013.26}};
  for (int strict = 0; strict < 2; strict++) {
    alec_decoder *d = mkdec(strict ? ALEC_DECODER_STRICT_REFERENCE : 0);
    alec_context *ectx = ref_ctx();
    for (int k = 0; k < 5; k++) {
      uint8_t b[64], e[64];
      alec_value v[5];
      alec_frame_info info;
      size_t n = H(frames[k], b);
      /* our test encoder reproduces the reference bytes */
      size_t en = ref_enc_fixed(ectx, (uint16_t)k, k == 3, in[k], 5, e);
      ck_assert_uint_eq(en, n);
      ck_assert_mem_eq(e, b, n);
      ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 5, b, n, v, 5, &info), 5);
      ck_assert_int_eq(info.keyframe, k == 3);
      ck_assert_uint_eq(info.sequence, k);
      ck_assert_uint_eq(info.ctx_version, 5u * k);
      ck_assert_uint_eq(info.frame_len, n);
      ck_assert_int_eq(info.reset, 0);
      ck_assert_uint_eq(info.n_unreliable, 0);
      for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(v[i].id, i);
        ck_assert(fabs(v[i].value - in[k][i]) < 0.01);
      }
      if (k == 0)
        ck_assert(v[0].value == (double)3.6f && v[0].encoding == ALEC_ENC_RAW32);
      if (k == 1) {
        ck_assert_uint_eq(v[0].encoding, ALEC_ENC_REPEATED);
        ck_assert_uint_eq(v[1].encoding, ALEC_ENC_DELTA8);
        ck_assert_uint_eq(bits(v[1].value), bits(22.5 + 1.0 / 100.0));
      }
      if (k == 2)
        ck_assert_uint_eq(v[3].encoding, ALEC_ENC_DELTA16);
      if (k == 4) {
        ck_assert(fabs(v[1].value - 24.99957) < 1e-5);
        ck_assert(fabs(v[3].value - 724.997) < 1e-3);
      }
    }
    alec_context_free(ectx);
    alec_decoder_free(d);
  }
}
END_TEST

START_TEST(t_pattern_decode) {
  alec_decoder *d = mkdec(0);
  alec_context *ctx = alec_decoder_context(d);
  double pv = 42.5;
  uint32_t code = 99;
  uint8_t data[2] = {1, 2};
  ck_assert_int_eq(alec_context_register_pattern(ctx, data, 2, &pv, &code), 0);
  ck_assert_uint_eq(code, 0);
  uint8_t b[32];
  alec_value v;
  size_t n = H("42 0000 00000000 000000 | 00 20 00", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), 1);
  ck_assert(v.value == 42.5);
  n = H("42 0001 00000000 000000 | 00 21 00 FB", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), 1);
  ck_assert_uint_eq(bits(v.value), bits(42.5 + (-5.0) / 100.0));
  n = H("42 0002 00000000 000000 | 00 20 05", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), ALEC_EPATTERN);
  /* a pattern without numeric value (as loaded from files) */
  ck_assert_int_eq(alec_context_set_pattern(ctx, 7, data, 1, 1), 0);
  n = H("42 0002 00000000 000000 | 00 20 07", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), ALEC_EPATTERN);
  /* pattern encodings are not allowed in multi frames */
  n = H("42 0002 00000000 000000 | 00 40 01 00 20 00", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, &v, 1, NULL),
                   ALEC_EMALFORMED);
  /* interpolated with last-value prediction 10.0 */
  n = mk_raw32(b, 0, 2, 5, 10.0f);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), 1);
  n = H("42 0003 00000000 000000 | 05 31", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), 1);
  ck_assert(v.value == 10.0);
  alec_decoder_free(d);
}
END_TEST

START_TEST(t_appendix_b) {
  uint8_t b[64];
  alec_value v;
  alec_decoder *d = mkdec(0);
  size_t n = H("42 0000 00000000 000000 | FF FF FF FF 7F 01 3F 80 00 00", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), 1);
  ck_assert_uint_eq(v.id, 4294967295u);
  ck_assert(v.value == 1.0);
  n = H("42 0001 00000000 000000 | 80 80 80 80 80 01 3F 80 00 00", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), ALEC_EVARINT);
  n = H("42 0001 00000000 000000 | 80 00 01 3F800000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, NULL), 1);
  ck_assert_uint_eq(v.id, 0);
  ck_assert(v.value == 1.0);
  /* trailing bytes after the value are ignored */
  n = H("42 0002 00000000 000000 | 00 01 3F800000 DE AD", b);
  alec_frame_info info;
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
  ck_assert(v.value == 1.0);
  ck_assert_uint_eq(info.frame_len, n - 2);
  alec_decoder_free(d);
}
END_TEST

/* ------------------------------------------------------------ context */

START_TEST(t_context_version) {
  alec_context *ctx = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, NULL), 0);
  for (int i = 0; i < 100; i++)
    ck_assert_int_eq(alec_context_observe(ctx, (uint32_t)(i % 3), (double)i), 0);
  ck_assert_uint_eq(alec_context_version(ctx), 101);
  for (int i = 0; i < 100; i++)
    ck_assert_int_eq(alec_context_observe(ctx, 7, (double)i), 0);
  ck_assert_uint_eq(alec_context_version(ctx), 202);
  ck_assert_uint_eq(alec_context_observations(ctx), 200);

  /* predict: count < 3 last value, then EMA in the exact expression order */
  alec_context_reset(ctx);
  ck_assert_uint_eq(alec_context_version(ctx), 0);
  double p;
  ck_assert_int_eq(alec_context_predict(ctx, 1, &p), ALEC_ENOPRED);
  ck_assert_int_eq(alec_context_last_value(ctx, 1, &p), ALEC_ENOPREV);
  ck_assert_int_eq(alec_context_ensure_source(ctx, 1), 0);
  ck_assert_uint_eq(alec_context_version(ctx), 0);
  ck_assert_int_eq(alec_context_predict(ctx, 1, &p), ALEC_ENOPRED);
  ck_assert_int_eq(alec_context_last_value(ctx, 1, &p), 0);
  ck_assert(p == 0.0);
  alec_context_observe(ctx, 1, 22.5);
  alec_context_observe(ctx, 1, 22.5);
  ck_assert_int_eq(alec_context_predict(ctx, 1, &p), 0);
  ck_assert(p == 22.5);
  alec_context_observe(ctx, 1, 22.57);
  ck_assert_int_eq(alec_context_predict(ctx, 1, &p), 0);
  ck_assert_uint_eq(bits(p), bits(22.520999999999997));
  alec_source_stats st;
  ck_assert_int_eq(alec_context_source(ctx, 1, &st), 0);
  ck_assert_uint_eq(st.count, 3);
  ck_assert(fabs(st.mean - 22.523333333333333) < 1e-12);
  alec_context_free(ctx);
}
END_TEST

START_TEST(t_context_hash) {
  alec_context *ctx = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, NULL), 0);
  ck_assert(alec_context_hash(ctx) == 0xEF46DB3751D8E999ull);
  uint8_t ab[2] = {0xAB, 0xCD};
  ck_assert_int_eq(alec_context_set_pattern(ctx, 0, ab, 2, 1), 0);
  ck_assert(alec_context_hash(ctx) == 0x46CCD22CBF2C4FADull);
  ck_assert_uint_eq(alec_context_version(ctx), 0); /* set_pattern: no bump */
  alec_context_reset(ctx);
  uint32_t c1, c2, c3;
  uint8_t x[1] = {1}, y[1] = {2};
  ck_assert_int_eq(alec_context_register_pattern(ctx, x, 1, NULL, &c1), 0);
  ck_assert_int_eq(alec_context_register_pattern(ctx, y, 1, NULL, &c2), 0);
  ck_assert_int_eq(alec_context_register_pattern(ctx, y, 1, NULL, &c3), 0);
  ck_assert_uint_eq(c1, 0);
  ck_assert_uint_eq(c2, 1);
  ck_assert_uint_eq(c3, 1);
  ck_assert_uint_eq(alec_context_version(ctx), 2);
  ck_assert_int_eq(alec_context_register_pattern(ctx, x, 0, NULL, &c1), ALEC_ERANGE);
  uint8_t big[256] = {0};
  ck_assert_int_eq(alec_context_register_pattern(ctx, big, 256, NULL, &c1), ALEC_ERANGE);
  /* evolve: prunes frequency < 2 (x), renumbers the rest, version + 1 */
  alec_context_evolve(ctx);
  ck_assert_uint_eq(alec_context_pattern_count(ctx), 1);
  alec_pattern_info pi;
  ck_assert_int_eq(alec_context_pattern_at(ctx, 0, &pi), 0);
  ck_assert_uint_eq(pi.code, 0);
  ck_assert_uint_eq(pi.data[0], 2);
  ck_assert_uint_eq(alec_context_version(ctx), 3);
  ck_assert_int_eq(alec_context_pattern_at(ctx, 1, &pi), ALEC_ENOTFOUND);
  alec_context_free(ctx);

  /* bounded dictionary */
  alec_context_config cfg;
  alec_context_config_init(&cfg);
  cfg.max_patterns = 4;
  ck_assert_int_eq(alec_context_new(&ctx, &cfg), 0);
  for (uint8_t i = 0; i < 4; i++)
    ck_assert_int_eq(alec_context_register_pattern(ctx, &i, 1, NULL, &c1), 0);
  uint8_t z = 9;
  ck_assert_int_eq(alec_context_register_pattern(ctx, &z, 1, NULL, &c1), ALEC_ENOSPC);
  alec_context_free(ctx);
}
END_TEST

START_TEST(t_context_bounds) {
  alec_context_config cfg;
  alec_context_config_init(&cfg);
  cfg.max_sources = 3;
  alec_context *ctx = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, &cfg), 0);
  for (uint32_t i = 0; i < 3; i++)
    ck_assert_int_eq(alec_context_observe(ctx, i * 1000003u, 1.0), 0);
  ck_assert_int_eq(alec_context_observe(ctx, 5, 1.0), ALEC_ENOSPC);
  ck_assert_int_eq(alec_context_can_observe(ctx, 5), 0);
  ck_assert_int_eq(alec_context_can_observe(ctx, 1000003u), 1);
  ck_assert_uint_eq(alec_context_version(ctx), 3);
  alec_context_reset_source(ctx, 1000003u);
  ck_assert_uint_eq(alec_context_source_count(ctx), 2);
  ck_assert_int_eq(alec_context_observe(ctx, 5, 1.0), 0);
  ck_assert_int_eq(alec_context_source(ctx, 2000006u, NULL), 0);
  ck_assert_int_eq(alec_context_source(ctx, 1000003u, NULL), ALEC_ENOTFOUND);
  alec_context_free(ctx);

  cfg.scale = 0;
  ck_assert_int_eq(alec_context_new(&ctx, &cfg), ALEC_EINVAL);
  alec_context_config_init(&cfg);
  cfg.ema_alpha = NAN;
  ck_assert_int_eq(alec_context_config_validate(&cfg), ALEC_EINVAL);
  cfg.ema_alpha = 0.3;
  cfg.max_sources = 65537;
  ck_assert_int_eq(alec_context_config_validate(&cfg), ALEC_EINVAL);

  /* many sources: hash index stays consistent through growth */
  alec_context_config_init(&cfg);
  cfg.max_sources = 5000;
  ck_assert_int_eq(alec_context_new(&ctx, &cfg), 0);
  for (uint32_t i = 0; i < 5000; i++)
    ck_assert_int_eq(alec_context_observe(ctx, i * 2654435761u, (double)i), 0);
  for (uint32_t i = 0; i < 5000; i++) {
    double p;
    ck_assert_int_eq(alec_context_last_value(ctx, i * 2654435761u, &p), 0);
    ck_assert(p == (double)i);
  }
  ck_assert_int_eq(alec_context_observe(ctx, 1, 1.0), ALEC_ENOSPC);
  alec_context_free(ctx);
}
END_TEST

START_TEST(t_context_nonfinite) {
  /* sanitising (default): NaN never enters the EMA */
  alec_context *ctx = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, NULL), 0);
  alec_context *ref = ref_ctx();
  double vals[] = {20.0, 20.1, 20.2, NAN, 20.4, INFINITY, 20.6};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    ck_assert_int_eq(alec_context_observe(ctx, 1, vals[i]), 0);
    ck_assert_int_eq(alec_context_observe(ref, 1, vals[i]), 0);
  }
  ck_assert_uint_eq(alec_context_version(ctx), alec_context_version(ref));
  ck_assert_uint_eq(alec_context_observations(ctx), 7);
  double p;
  ck_assert_int_eq(alec_context_predict(ctx, 1, &p), 0);
  ck_assert(isfinite(p) && fabs(p - 20.4) < 0.3);
  ck_assert_int_eq(alec_context_predict(ref, 1, &p), 0);
  ck_assert(isnan(p));
  ck_assert(alec_context_source_flags(ctx, 1) & ALEC_SRC_POISONED);
  alec_source_stats st;
  alec_context_source(ctx, 1, &st);
  ck_assert_uint_eq(st.count, 5);
  ck_assert(st.last_value == 20.6);

  /* count < 3 falls back to the last finite value */
  alec_context_reset(ctx);
  alec_context_observe(ctx, 2, 5.0);
  alec_context_observe(ctx, 2, NAN);
  ck_assert_int_eq(alec_context_predict(ctx, 2, &p), 0);
  ck_assert(p == 5.0);
  ck_assert_int_eq(alec_context_last_value(ctx, 2, &p), 0);
  ck_assert(isnan(p));
  /* non-finite first: entry exists (Repeated works) and, as in the
   * reference, the non-finite value is the prediction (the source is
   * poisoned, so the decoder flags what it predicts) */
  alec_context_observe(ctx, 3, NAN);
  ck_assert_int_eq(alec_context_predict(ctx, 3, &p), 0);
  ck_assert(isnan(p));
  ck_assert(alec_context_source_flags(ctx, 3) & ALEC_SRC_POISONED);
  ck_assert_int_eq(alec_context_last_value(ctx, 3, &p), 0);
  alec_context_free(ctx);
  alec_context_free(ref);
}
END_TEST

START_TEST(t_context_save_load) {
  alec_context *ctx = NULL, *c2 = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, NULL), 0);
  ck_assert_int_eq(alec_context_new(&c2, NULL), 0);
  for (int i = 0; i < 250; i++)
    alec_context_observe(ctx, (uint32_t)(i % 7), i * 0.37 + (i % 3 == 0 ? NAN : 0.0));
  alec_context_mark_all(ctx, ALEC_SRC_DESYNC);
  uint8_t pd[3] = {1, 2, 3};
  double pv = 1.5;
  uint32_t code;
  ck_assert_int_eq(alec_context_register_pattern(ctx, pd, 3, &pv, &code), 0);
  ck_assert_int_eq(alec_context_set_pattern(ctx, 40, pd, 2, 5), 0);
  static uint8_t a[65536], b[65536], e[65536];
  long n = alec_context_save(ctx, a, sizeof a);
  ck_assert_int_gt(n, 0);
  ck_assert_int_eq(alec_context_save(ctx, NULL, 0), n);
  ck_assert_int_eq(alec_context_save(ctx, a, (size_t)n - 1), ALEC_EBUFSIZE);
  ck_assert_int_eq(alec_context_load(c2, a, (size_t)n), 0);
  ck_assert_int_eq(alec_context_save(c2, b, sizeof b), n);
  ck_assert_mem_eq(a, b, (size_t)n);
  ck_assert(alec_context_hash(ctx) == alec_context_hash(c2));
  for (uint32_t s = 0; s < 7; s++) {
    double p1, p2;
    ck_assert_int_eq(alec_context_predict(ctx, s, &p1), alec_context_predict(c2, s, &p2));
    ck_assert_uint_eq(bits(p1), bits(p2));
    ck_assert_uint_eq(alec_context_source_flags(c2, s), ALEC_SRC_DESYNC | ALEC_SRC_POISONED);
  }
  ck_assert_int_eq(alec_context_pattern_value(c2, code, &pv), 0);
  ck_assert(pv == 1.5);

  /* every single-bit corruption and every truncation is rejected, c2 unchanged */
  alec_context *c3 = NULL;
  ck_assert_int_eq(alec_context_new(&c3, NULL), 0);
  alec_context_observe(c3, 99, 1.0);
  long en = alec_context_save(c3, e, sizeof e);
  for (long i = 0; i < n; i++) {
    memcpy(b, a, (size_t)n);
    b[i] ^= (uint8_t)(1u << (i % 8));
    ck_assert_int_lt(alec_context_load(c3, b, (size_t)n), 0);
    ck_assert_int_lt(alec_context_load(c3, a, (size_t)i), 0);
  }
  uint8_t chk[4096];
  ck_assert_int_eq(alec_context_save(c3, chk, sizeof chk), en);
  ck_assert_mem_eq(chk, e, (size_t)en);

  /* too many sources for this context's bound */
  alec_context_config cfg;
  alec_context_config_init(&cfg);
  cfg.max_sources = 4;
  alec_context *small = NULL;
  ck_assert_int_eq(alec_context_new(&small, &cfg), 0);
  ck_assert_int_eq(alec_context_load(small, a, (size_t)n), ALEC_ENOSPC);
  ck_assert_uint_eq(alec_context_source_count(small), 0);
  alec_context_free(small);

  /* copy */
  ck_assert_int_eq(alec_context_copy(c3, ctx), 0);
  ck_assert_int_eq(alec_context_save(c3, b, sizeof b), n);
  ck_assert_mem_eq(a, b, (size_t)n);
  alec_context_free(c3);
  alec_context_free(ctx);
  alec_context_free(c2);
}
END_TEST

/* Sources live inline up to a small count, then in an external table: a
 * context that starts external (reserve) must behave, save and iterate
 * exactly like one that moves over on its own, through resets, copies and
 * loads in both directions, also for a decoder's own context. */
static void same_ctx(const alec_context *a, const alec_context *b) {
  static uint8_t ba[65536], bb[65536];
  long na = alec_context_save(a, ba, sizeof ba), nb = alec_context_save(b, bb, sizeof bb);
  ck_assert_int_gt(na, 0);
  ck_assert_int_eq(na, nb);
  ck_assert_mem_eq(ba, bb, (size_t)na);
  for (uint32_t id = 0; id < 12; id++) {
    alec_source_view va, vb;
    ck_assert_int_eq(alec_context_view(a, id, &va), alec_context_view(b, id, &vb));
    ck_assert_int_eq(va.exists, vb.exists);
    ck_assert_int_eq(va.has_pred, vb.has_pred);
    ck_assert_uint_eq(bits(va.pred), bits(vb.pred));
    ck_assert_uint_eq(bits(va.last_value), bits(vb.last_value));
    ck_assert_uint_eq(va.flags, vb.flags);
  }
}

START_TEST(t_context_storage) {
  alec_context *a = NULL, *b = NULL, *c = NULL;
  ck_assert_int_eq(alec_context_new(&a, NULL), 0);
  ck_assert_int_eq(alec_context_new(&b, NULL), 0);
  ck_assert_int_eq(alec_context_new(&c, NULL), 0);
  ck_assert_int_eq(alec_context_reserve(b, 200), 0);
  size_t small_mem = alec_context_memory(a);
  uint64_t x = 12345;
  for (int step = 0; step < 4000; step++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    unsigned r = (unsigned)(x >> 33);
    /* Mostly few sources (inline), now and then up to 10 (external). */
    uint32_t id = (r >> 8) % ((step / 500) % 2 ? 10u : 4u);
    switch (r % 23) {
    case 0:
      alec_context_reset_source(a, id);
      alec_context_reset_source(b, id);
      break;
    case 1:
      if ((r >> 16) % 8 == 0) {
        alec_context_reset_to_baseline(a);
        alec_context_reset_to_baseline(b);
      }
      break;
    case 2:
      alec_context_set_source_flags(a, id, ALEC_SRC_DESYNC);
      alec_context_set_source_flags(b, id, ALEC_SRC_DESYNC);
      break;
    default: {
      double v = (double)(r % 1000) / 7.0;
      ck_assert_int_eq(alec_context_observe(a, id, v), 0);
      ck_assert_int_eq(alec_context_observe(b, id, v), 0);
    }
    }
    same_ctx(a, b);
    if (step % 97 == 0) {
      /* copy both ways across storage kinds */
      ck_assert_int_eq(alec_context_copy(c, step % 2 ? a : b), 0);
      same_ctx(a, c);
    }
  }
  ck_assert_uint_gt(alec_context_memory(a), small_mem);

  /* A decoder's own context: loads in both directions, copy, and
   * alec_context_free() leaves it alone. */
  alec_decoder *d = mkdec(0);
  size_t dmem = alec_decoder_memory(d);
  ck_assert_uint_gt(dmem, 0);
  ck_assert_uint_le(dmem, 512);
  alec_decoder_prefetch(d);
  alec_decoder_prefetch(NULL);
  alec_context *dc = alec_decoder_context(d);
  alec_context_free(dc); /* ignored */
  static uint8_t blob[65536];
  alec_context *few = NULL;
  ck_assert_int_eq(alec_context_new(&few, NULL), 0);
  for (uint32_t i = 1; i <= 3; i++)
    alec_context_observe(few, i, i * 1.25);
  for (uint32_t i = 0; i < 12; i++)
    alec_context_observe(c, i, i * 0.5);
  long n = alec_context_save(c, blob, sizeof blob);
  ck_assert_int_eq(alec_context_load(dc, blob, (size_t)n), 0);
  same_ctx(dc, c);
  ck_assert_uint_gt(alec_decoder_memory(d), dmem);
  n = alec_context_save(few, blob, sizeof blob);
  ck_assert_int_eq(alec_context_load(dc, blob, (size_t)n), 0);
  same_ctx(dc, few);
  ck_assert_int_eq(alec_context_copy(dc, c), 0);
  same_ctx(dc, c);
  ck_assert_int_eq(alec_context_copy(dc, few), 0);
  same_ctx(dc, few);
  /* the decoder still decodes against it: source 1 predicts 1.25 */
  uint8_t f[16];
  size_t fl = H("A1 0000 0000 01 00", f); /* fixed, 1 channel, Delta8 0 */
  alec_value out[4];
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, f, fl, out, 4, NULL), 1);
  ck_assert(out[0].value == 1.25);
  alec_decoder_free(d);
  alec_context_free(few);
  alec_context_free(a);
  alec_context_free(b);
  alec_context_free(c);
}
END_TEST

/* ------------------------------------------------------------ packet loss (spec 6.2) */

START_TEST(t_gap_table_strict) {
  /* 1 channel ramp +0.37/frame, frame 5 lost, keyframe interval 10 */
  static const struct {
    int k;
    double dec;
  } want[] = {{4, 21.4827}, {6, 21.9147}, {7, 23.0447}, {8, 24.2047},
              {10, 23.700001}, {11, 24.5551}, {15, 26.0361}};
  for (int strict = 0; strict < 2; strict++) {
    alec_decoder *d = mkdec(strict ? ALEC_DECODER_STRICT_REFERENCE : 0);
    alec_context *ectx = ref_ctx();
    size_t wi = 0;
    for (int k = 0; k < 16; k++) {
      double x = 20.0 + 0.37 * k;
      uint8_t f[32];
      size_t n = ref_enc_fixed(ectx, (uint16_t)k, k > 0 && k % 10 == 0, &x, 1, f);
      if (k == 5)
        continue;
      alec_value v;
      alec_frame_info info;
      ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, f, n, &v, 1, &info), 1);
      ck_assert_uint_eq(info.gap, k == 6 ? 1 : 0);
      ck_assert_int_eq(info.reset, k == 6);
      ck_assert_int_eq(info.keyframe, k == 10);
      ck_assert_int_eq(info.context_mismatch, 0);
      if (wi < sizeof want / sizeof want[0] && want[wi].k == k) {
        ck_assert_msg(fabs(v.value - want[wi].dec) < 6e-5, "k=%d got %.7f want %.7f", k, v.value,
                      want[wi].dec);
        wi++;
      }
      /* flags: from the gap frame on, every delta value is unreliable;
       * the keyframe's Raw32 is exact */
      if (k < 6)
        ck_assert_uint_eq(v.flags, 0);
      else if (k == 10)
        ck_assert_uint_eq(v.flags, 0);
      else
        ck_assert_uint_eq(v.flags & ALEC_VALUE_UNRELIABLE, ALEC_VALUE_UNRELIABLE);
      if (k >= 6)
        ck_assert(alec_context_source_flags(alec_decoder_context(d), 1) & ALEC_SRC_DESYNC);
    }
    ck_assert_uint_eq(wi, sizeof want / sizeof want[0]);
    alec_context_free(ectx);
    alec_decoder_free(d);
  }
}
END_TEST

START_TEST(t_fixed_mismatch_and_reorder) {
  alec_decoder *d = mkdec(ALEC_DECODER_STRICT_REFERENCE);
  uint8_t b[32];
  alec_value v;
  alec_frame_info info;
  size_t n = H("A1 0000 0000 03 41B40000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, b, n, &v, 1, &info), 1);
  /* +256 is compatible */
  n = H("A1 0001 0100 01 05", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, b, n, &v, 1, &info), 1);
  ck_assert_int_eq(info.context_mismatch, 0);
  ck_assert_int_eq(info.reset, 0);
  /* +257 is a mismatch, reset, value decoded with the old context */
  n = H("A1 0002 0201 01 05", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, b, n, &v, 1, &info), 1);
  ck_assert_int_eq(info.context_mismatch, 1);
  ck_assert_int_eq(info.reset, 1);
  ck_assert_uint_eq(bits(v.value), bits(22.5 + 5.0 / 100.0 + 5.0 / 100.0));
  ck_assert(v.flags & ALEC_VALUE_UNRELIABLE);
  alec_source_stats st;
  ck_assert_int_eq(alec_context_source(alec_decoder_context(d), 1, &st), 0);
  ck_assert_uint_eq(st.count, 1);
  /* a keyframe never mismatches */
  n = H("A2 0003 9999 03 41B40000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, b, n, &v, 1, &info), 1);
  ck_assert_int_eq(info.context_mismatch, 0);
  ck_assert_int_eq(info.reset, 0);
  /* an older frame looks like a gap of 255 (strict) */
  n = H("A2 0001 9999 03 41B40000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, b, n, &v, 1, &info), 1);
  ck_assert_uint_eq(info.gap, 255);
  /* strict: a duplicate is accepted (gap 0) and observed twice */
  uint32_t ver = alec_context_version(alec_decoder_context(d));
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 1, b, n, &v, 1, &info), 1);
  ck_assert_uint_eq(info.gap, 0);
  ck_assert_uint_eq(alec_context_version(alec_decoder_context(d)), ver + 1);
  alec_decoder_free(d);
}
END_TEST

/* ------------------------------------------------------------ deviations */

START_TEST(t_replay) {
  for (int fam = 0; fam < 2; fam++) {
    alec_decoder *d = mkdec(0);
    uint8_t f[8][32];
    size_t fl[8];
    alec_value v;
    alec_frame_info info;
    alec_format fmt = fam ? ALEC_FORMAT_FIXED : ALEC_FORMAT_SINGLE;
    alec_context *ectx = ref_ctx();
    for (int k = 0; k < 8; k++) {
      double x = 10.0 + k;
      if (fam)
        fl[k] = ref_enc_fixed(ectx, (uint16_t)(k + 100), 0, &x, 1, f[k]);
      else
        fl[k] = k == 0 ? mk_raw32(f[k], 0, (uint16_t)(k + 100), 1, (float)x)
                       : mk_d8(f[k], (uint16_t)(k + 100), 1, 100);
    }
    static uint8_t s1[4096], s2[4096];
    for (int k = 0; k < 4; k++)
      ck_assert_int_eq(alec_decoder_decode(d, fmt, 1, f[k], fl[k], &v, 1, &info), 1);
    size_t n1 = save_dec(d, s1, sizeof s1);
    /* duplicate and older frames are replays; nothing changes */
    for (int k = 0; k < 4; k++) {
      ck_assert_int_eq(alec_decoder_decode(d, fmt, 1, f[k], fl[k], &v, 1, &info), ALEC_EREPLAY);
      ck_assert_uint_eq(save_dec(d, s2, sizeof s2), n1);
      ck_assert_mem_eq(s1, s2, n1);
    }
    ck_assert_int_eq(alec_decoder_decode(d, fmt, 1, f[4], fl[4], &v, 1, &info), 1);
    ck_assert_uint_eq(v.flags, 0);
    ck_assert_uint_eq(info.gap, 0);

    /* strict: the duplicate is decoded again */
    alec_decoder *s = mkdec(ALEC_DECODER_STRICT_REFERENCE);
    ck_assert_int_eq(alec_decoder_decode(s, fmt, 1, f[0], fl[0], &v, 1, &info), 1);
    ck_assert_int_eq(alec_decoder_decode(s, fmt, 1, f[0], fl[0], &v, 1, &info), 1);
    ck_assert(alec_context_source_flags(alec_decoder_context(s), 1) & ALEC_SRC_DESYNC);
    alec_decoder_free(s);

    /* a frame far behind the window is a forward jump (emitter restart) */
    uint8_t b[32];
    size_t n;
    if (fam)
      n = H("A1 0010 0000 03 41200000", b);
    else
      n = mk_raw32(b, 0, 0x10, 1, 10.0f);
    ck_assert_int_eq(alec_decoder_decode(d, fmt, 1, b, n, &v, 1, &info), 1);
    ck_assert_uint_gt(info.gap, 0);
    alec_context_free(ectx);
    alec_decoder_free(d);
  }
}
END_TEST

START_TEST(t_nonfinite_deviation) {
  /* reference emitter after a NaN: EMA NaN, sends Delta8 00 forever */
  uint8_t b[32];
  alec_value v;
  alec_frame_info info;
  for (int strict = 0; strict < 2; strict++) {
    alec_decoder *d = mkdec(strict ? ALEC_DECODER_STRICT_REFERENCE : 0);
    uint16_t seq = 0;
    size_t n = mk_raw32(b, 0, seq++, 1, 20.0f);
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    for (int i = 0; i < 3; i++) {
      n = mk_d8(b, seq++, 1, 10);
      ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    }
    n = mk_raw64(b, seq++, 1, NAN);
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    ck_assert_uint_eq(v.flags, ALEC_VALUE_NONFINITE);
    n = mk_d8(b, seq++, 1, 0);
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    ck_assert(v.flags & ALEC_VALUE_UNRELIABLE);
    ck_assert_uint_eq(info.n_unreliable, 1);
    if (strict) {
      ck_assert(isnan(v.value));
      ck_assert(v.flags & ALEC_VALUE_NONFINITE);
    } else {
      ck_assert(isfinite(v.value) && fabs(v.value - 20.15) < 0.05);
    }
    /* a Raw32 is exact and reliable, but the source stays poisoned */
    n = mk_raw32(b, 0, seq++, 1, 21.0f);
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    ck_assert_uint_eq(v.flags, 0);
    ck_assert(alec_context_source_flags(alec_decoder_context(d), 1) & ALEC_SRC_POISONED);
    /* resync frame (type 6): clean again in default mode only */
    n = mk_raw32(b, ALEC_MSG_RESYNC, seq++, 1, 21.5f);
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    ck_assert_int_eq(info.msg_type, ALEC_MSG_RESYNC);
    n = mk_d8(b, seq++, 1, 5);
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, &v, 1, &info), 1);
    if (strict) {
      ck_assert(isnan(v.value));
    } else {
      ck_assert_uint_eq(alec_context_source_flags(alec_decoder_context(d), 1), 0);
      ck_assert_uint_eq(v.flags, 0);
      ck_assert_uint_eq(bits(v.value), bits(21.5 + 5.0 / 100.0));
    }
    alec_decoder_free(d);
  }
}
END_TEST

START_TEST(t_gap_flags_and_resync) {
  uint8_t b[64];
  alec_value v[4];
  alec_frame_info info;
  alec_decoder *d = mkdec(0);
  size_t n = mk_raw32(b, 0, 0, 1, 10.0f);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, v, 4, &info), 1);
  n = mk_raw32(b, 0, 1, 2, 20.0f);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, v, 4, &info), 1);
  n = mk_d8(b, 2, 1, 1);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, v, 4, &info), 1);
  ck_assert_uint_eq(v[0].flags, 0);
  /* sequence 3 lost */
  n = mk_d8(b, 4, 1, 1);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, v, 4, &info), 1);
  ck_assert_uint_eq(info.gap, 1);
  ck_assert_uint_eq(v[0].flags, ALEC_VALUE_UNRELIABLE);
  ck_assert_uint_eq(info.n_unreliable, 1);
  alec_context *ctx = alec_decoder_context(d);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 1), ALEC_SRC_DESYNC);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 2), ALEC_SRC_DESYNC);
  /* a raw value is reliable but does not clear the source */
  n = mk_raw32(b, 0, 5, 2, 21.0f);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_SINGLE, 0, b, n, v, 4, &info), 1);
  ck_assert_uint_eq(v[0].flags, 0);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 2), ALEC_SRC_DESYNC);
  /* multi resync frame: raw entries reset their source */
  n = H("72 0006 00000000 000000 | 00 40 02 | 01 01 41300000 | 02 10 05", b);
  ck_assert_uint_eq(b[0] >> 3 & 7, ALEC_MSG_RESYNC);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 4, &info), 2);
  ck_assert_int_eq(info.resync, 1);
  ck_assert_uint_eq(v[0].flags, ALEC_VALUE_RESYNC);
  ck_assert_uint_eq(v[1].flags, ALEC_VALUE_UNRELIABLE);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 1), 0);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 2), ALEC_SRC_DESYNC);
  alec_source_stats st;
  alec_context_source(ctx, 1, &st);
  ck_assert_uint_eq(st.count, 1);
  alec_decoder_free(d);

  /* fixed: gap, keyframe keeps DESYNC, resync frame (all Raw32 + jump) clears */
  d = mkdec(0);
  ctx = alec_decoder_context(d);
  alec_context *ectx = ref_ctx();
  double x[2] = {1.0, 2.0};
  for (int k = 0; k < 4; k++) {
    x[0] += 0.1;
    x[1] += 0.2;
    n = ref_enc_fixed(ectx, (uint16_t)k, 0, x, 2, b);
    if (k == 2)
      continue;
    ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 2, b, n, v, 4, &info), 2);
  }
  ck_assert_uint_eq(info.gap, 1);
  ck_assert_uint_eq(info.n_unreliable, 2);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 1), ALEC_SRC_DESYNC);
  n = ref_enc_fixed(ectx, 4, 1, x, 2, b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 2, b, n, v, 4, &info), 2);
  ck_assert_int_eq(info.keyframe, 1);
  ck_assert_uint_eq(v[0].flags, 0);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 1), ALEC_SRC_DESYNC);
  /* our closed-loop resync: version + 257 then all Raw32 on a 0xA1 */
  alec_context_set_version(ectx, alec_context_version(ectx) + 257);
  n = ref_enc_fixed(ectx, 5, 1, x, 2, b);
  b[0] = ALEC_FIXED_DATA;
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 2, b, n, v, 4, &info), 2);
  ck_assert_int_eq(info.context_mismatch, 1);
  ck_assert_int_eq(info.reset, 1);
  ck_assert_int_eq(info.resync, 1);
  ck_assert_uint_eq(v[0].flags, ALEC_VALUE_RESYNC);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 1), 0);
  ck_assert_uint_eq(alec_context_source_flags(ctx, 2), 0);
  alec_context_free(ectx);
  alec_decoder_free(d);
}
END_TEST

/* ------------------------------------------------------------ atomicity */

static void expect_unchanged(alec_decoder *d, alec_format fmt, unsigned ch, const uint8_t *f,
                             size_t n, size_t cap, int want) {
  static uint8_t s1[1 << 16], s2[1 << 16];
  alec_value v[256];
  alec_frame_info info;
  size_t n1 = save_dec(d, s1, sizeof s1);
  int rc = alec_decoder_decode(d, fmt, ch, f, n, v, cap, &info);
  ck_assert_int_eq(rc, want);
  ck_assert_uint_eq(save_dec(d, s2, sizeof s2), n1);
  ck_assert_mem_eq(s1, s2, n1);
}

START_TEST(t_atomic) {
  alec_decoder_config cfg;
  alec_decoder_config_init(&cfg);
  cfg.ctx.max_sources = 4;
  alec_decoder *d = NULL;
  ck_assert_int_eq(alec_decoder_new(&d, &cfg), 0);
  uint8_t b[128];
  alec_value v[8];
  size_t n = H("42 0000 00000000 000000 | 00 40 02 | 01 01 41300000 | 02 01 41400000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, NULL), 2);
  /* second entry needs a prediction it does not have: first entry not observed */
  n = H("42 0001 00000000 000000 | 00 40 02 | 01 10 01 | 03 10 01", b);
  expect_unchanged(d, ALEC_FORMAT_MULTI, 0, b, n, 8, ALEC_ENOPRED);
  n = H("42 0001 00000000 000000 | 00 40 02 | 01 10 01 | 01 30", b);
  expect_unchanged(d, ALEC_FORMAT_MULTI, 0, b, n, 1, ALEC_EBUFSIZE);
  expect_unchanged(d, ALEC_FORMAT_MULTI, 0, b, n - 1, 8, ALEC_ETRUNC);
  expect_unchanged(d, ALEC_FORMAT_SINGLE, 0, b, n, 8, ALEC_EFORMAT);
  /* three new sources where only two fit */
  n = H("42 0001 00000000 000000 | 00 40 04 | 05 01 41300000 | 06 01 41300000 | 07 01 41300000 | "
        "05 01 41300000",
        b);
  expect_unchanged(d, ALEC_FORMAT_MULTI, 0, b, n, 8, ALEC_ENOSPC);
  /* duplicates of new ids count once: fits */
  n = H("42 0001 00000000 000000 | 00 40 03 | 05 01 41300000 | 06 01 41300000 | 05 01 41300000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_MULTI, 0, b, n, v, 8, NULL), 3);
  ck_assert_uint_eq(alec_context_source_count(alec_decoder_context(d)), 4);
  n = mk_raw32(b, 0, 2, 9, 1.0f);
  expect_unchanged(d, ALEC_FORMAT_SINGLE, 0, b, n, 1, ALEC_ENOSPC);
  n = mk_raw32(b, 0, 1, 1, 1.0f);
  expect_unchanged(d, ALEC_FORMAT_SINGLE, 0, b, n, 1, ALEC_EREPLAY);
  expect_unchanged(d, ALEC_FORMAT_SINGLE, 0, b, 9, 1, ALEC_EHEADER);
  expect_unchanged(d, ALEC_FORMAT_SINGLE, 0, b, n, 0, ALEC_EBUFSIZE);
  alec_decoder_free(d);

  /* fixed: 5 channels with 4 allowed sources */
  ck_assert_int_eq(alec_decoder_new(&d, &cfg), 0);
  n = H("A1 0000 0000 FF 03 40666666 41B40000 42340000 43D20000 447D5000", b);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 5, b, n, 8, ALEC_ENOSPC);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 5, b, n, 4, ALEC_EBUFSIZE);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 0, b, n, 8, ALEC_ECHANNELS);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 65, b, n, 80, ALEC_ECHANNELS);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 65, b, 20, 80, ALEC_ETRUNC);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 5, b, n - 1, 8, ALEC_ETRUNC);
  expect_unchanged(d, (alec_format)99, 5, b, n, 8, ALEC_EINVAL);
  n = H("A1 0000 0000 FF 40666666 41B40000 42340000 43D20000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 4, b, n, v, 8, NULL), 4);
  /* reset after a gap needs n slots from an empty table: fits */
  n = H("A1 0005 0004 55 01 01 01 01", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 4, b, n, v, 8, NULL), 4);
  alec_decoder_free(d);

  cfg.ctx.max_sources = 8;
  ck_assert_int_eq(alec_decoder_new(&d, &cfg), 0);
  n = H("A1 0000 0000 0F 41B40000 41B40000", b);
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, 2, b, n, v, 8, NULL), 2);
  n = H("A1 0001 0002 0F 41B40000 41B40000", b);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 3, b, n, 8, ALEC_ENOPREV);
  n = H("A1 0001 0002 1F 41B40000 41B40000 05", b);
  expect_unchanged(d, ALEC_FORMAT_FIXED, 3, b, n, 8, ALEC_ENOPRED);
  b[0] = 0x42;
  expect_unchanged(d, ALEC_FORMAT_FIXED, 3, b, n, 8, ALEC_EFORMAT);
  alec_decoder_free(d);
}
END_TEST

/* ------------------------------------------------------- ghost frames */

#define GH_CH 5
#define GH_FRAMES 10

/* Noisy 3-decimal signals: deltas quantise (scale 100), so the receiver's
 * reconstruction differs from the emitter's raw input. */
static void ghost_values(double v[GH_FRAMES][GH_CH]) {
  uint32_t r = 12345u;
  for (int k = 0; k < GH_FRAMES; k++)
    for (int i = 0; i < GH_CH; i++) {
      r = r * 1103515245u + 12345u;
      double noise = (double)((r >> 16) % 2001u) / 1000.0 - 1.0; /* -1..1, 3 decimals */
      v[k][i] = 20.0 * (i + 1) + 0.25 * k + noise;
    }
}

static uint16_t saved_u16(const uint8_t *b, size_t off) {
  return (uint16_t)(b[off] | b[off + 1] << 8);
}

/* The scenario of the reference 1.3.10 ghost frame: f5 was encoded but the
 * device sent its own format; the receiver is fed v5 instead. */
START_TEST(t_ghost_frame) {
  double v[GH_FRAMES][GH_CH];
  ghost_values(v);
  for (int strict = 0; strict < 2; strict++) {
    unsigned fl = strict ? ALEC_DECODER_STRICT_REFERENCE : 0;
    alec_context *ectx = ref_ctx();
    uint8_t f[GH_FRAMES][64];
    size_t fn[GH_FRAMES];
    for (int k = 0; k < GH_FRAMES; k++)
      fn[k] = ref_enc_fixed(ectx, (uint16_t)k, 0, v[k], GH_CH, f[k]);
    alec_decoder *a = mkdec(fl), *b = mkdec(fl);
    double oa[GH_FRAMES][GH_CH], ob[GH_FRAMES][GH_CH];
    for (int k = 0; k < GH_FRAMES; k++) {
      alec_value va[GH_CH];
      alec_frame_info info;
      ck_assert_int_eq(alec_decoder_decode(a, ALEC_FORMAT_FIXED, GH_CH, f[k], fn[k], va, GH_CH,
                                           &info), GH_CH);
      ck_assert_uint_eq(info.n_unreliable, 0);
      for (int i = 0; i < GH_CH; i++)
        oa[k][i] = va[i].value;
    }
    int ghost = 4; /* f5, sequence 4 */
    for (int k = 0; k < GH_FRAMES; k++) {
      alec_value vb[GH_CH];
      alec_frame_info info;
      if (k == ghost) {
        uint32_t ver = alec_context_version(alec_decoder_context(b));
        ck_assert_int_eq(alec_decoder_feed_values(b, v[k], GH_CH), 0);
        uint8_t sv[4096];
        size_t sn = save_dec(b, sv, sizeof sv);
        ck_assert_uint_ge(sn, 22);
        ck_assert_uint_eq(sv[17], 1);
        ck_assert_uint_eq(saved_u16(sv, 18), (uint16_t)k);
        ck_assert_uint_eq(saved_u16(sv, 20), (uint16_t)ver);
        /* the frame's header carried the same version */
        ck_assert_uint_eq(saved_u16(sv, 20), alec_rd_be16(f[k] + 3));
        /* had the real frame arrived too, it is a replay of the ghost */
        if (!strict)
          ck_assert_int_eq(alec_decoder_decode(b, ALEC_FORMAT_FIXED, GH_CH, f[k], fn[k], vb,
                                               GH_CH, &info), ALEC_EREPLAY);
        for (int i = 0; i < GH_CH; i++)
          ob[k][i] = v[k][i];
        continue;
      }
      ck_assert_int_eq(alec_decoder_decode(b, ALEC_FORMAT_FIXED, GH_CH, f[k], fn[k], vb, GH_CH,
                                           &info), GH_CH);
      ck_assert_uint_eq(info.gap, 0);
      ck_assert_int_eq(info.reset, 0);
      ck_assert_int_eq(info.context_mismatch, 0);
      ck_assert_uint_eq(info.n_unreliable, 0);
      for (int i = 0; i < GH_CH; i++) {
        ck_assert_uint_eq(vb[i].flags & ALEC_VALUE_UNRELIABLE, 0);
        ob[k][i] = vb[i].value;
      }
    }
    /* Up to the ghost B is A. After it, B's EMA holds the raw v5 (as the
     * emitter's does) where A's holds its reconstruction of v5, so the two
     * differ; B's predictions are the closer to the emitter's, and over the
     * frames after the ghost B's total error is the smaller. Both stay
     * within the codec's bound (quantisation 0.005 plus a few frames' drift). */
    double ea = 0, eb = 0;
    int differ = 0;
    for (int k = 0; k < GH_FRAMES; k++)
      for (int i = 0; i < GH_CH; i++) {
        ck_assert(fabs(ob[k][i] - v[k][i]) < 0.01);
        ck_assert(fabs(oa[k][i] - v[k][i]) < 0.01);
        if (k < ghost)
          ck_assert_uint_eq(bits(ob[k][i]), bits(oa[k][i]));
        if (k > ghost) {
          ea += fabs(oa[k][i] - v[k][i]);
          eb += fabs(ob[k][i] - v[k][i]);
          differ += bits(ob[k][i]) != bits(oa[k][i]);
        }
      }
    fprintf(stderr, "ghost strict=%d: after the ghost A err %.6f, B err %.6f, %d values differ\n",
            strict, ea, eb, differ);
    ck_assert_int_gt(differ, 0);
    ck_assert(eb < ea);
    alec_decoder_free(a);
    alec_decoder_free(b);
    alec_context_free(ectx);
  }
}
END_TEST

START_TEST(t_ghost_frame_invalid) {
  double v[65];
  for (int i = 0; i < 65; i++)
    v[i] = i;
  alec_decoder *d = mkdec(0);
  /* once on a fresh decoder, once after a frame and a ghost */
  for (int round = 0; round < 2; round++) {
    uint8_t before[4096], after[4096];
    size_t nb = save_dec(d, before, sizeof before);
    ck_assert_int_eq(alec_decoder_feed_values(d, v, 0), ALEC_EINVAL);
    ck_assert_int_eq(alec_decoder_feed_values(d, v, 65), ALEC_EINVAL);
    ck_assert_int_eq(alec_decoder_feed_values(d, NULL, 3), ALEC_EINVAL);
    ck_assert_int_eq(alec_decoder_feed_values(NULL, v, 3), ALEC_EINVAL);
    size_t na = save_dec(d, after, sizeof after);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(after, before, na);
    ck_assert_int_eq(alec_decoder_feed_values(d, v, 64), 0);
  }
  /* more channels than the context may hold: refused, unchanged */
  alec_decoder_config cfg;
  alec_decoder_config_init(&cfg);
  cfg.ctx.max_sources = 4;
  alec_decoder *s = NULL;
  ck_assert_int_eq(alec_decoder_new(&s, &cfg), 0);
  uint8_t before[4096], after[4096];
  size_t nb = save_dec(s, before, sizeof before);
  ck_assert_int_eq(alec_decoder_feed_values(s, v, 5), ALEC_ENOSPC);
  size_t na = save_dec(s, after, sizeof after);
  ck_assert_uint_eq(na, nb);
  ck_assert_mem_eq(after, before, na);
  alec_decoder_free(s);
  alec_decoder_free(d);
}
END_TEST

/* Fresh decoder: the ghost is frame 0 (0xFFFF + 1); then several ghosts in a
 * row, each one sequence further; the save keeps the trackers. */
START_TEST(t_ghost_frame_fresh_and_consecutive) {
  double v[GH_FRAMES][GH_CH];
  ghost_values(v);
  alec_context *ectx = ref_ctx();
  uint8_t f[GH_FRAMES][64];
  size_t fn[GH_FRAMES];
  for (int k = 0; k < GH_FRAMES; k++)
    fn[k] = ref_enc_fixed(ectx, (uint16_t)k, 0, v[k], GH_CH, f[k]);
  alec_decoder *d = mkdec(0);
  ck_assert_int_eq(alec_decoder_feed_values(d, v[0], GH_CH), 0);
  uint8_t sv[4096];
  size_t sn = save_dec(d, sv, sizeof sv);
  ck_assert_uint_eq(sv[17], 1);
  ck_assert_uint_eq(saved_u16(sv, 18), 0);
  ck_assert_uint_eq(saved_u16(sv, 20), 0);
  alec_value out[GH_CH];
  alec_frame_info info;
  ck_assert_int_eq(alec_decoder_decode(d, ALEC_FORMAT_FIXED, GH_CH, f[1], fn[1], out, GH_CH,
                                       &info), GH_CH);
  ck_assert_uint_eq(info.gap, 0);
  ck_assert_uint_eq(info.n_unreliable, 0);
  /* f2, f3, f4 sent in another format */
  for (int k = 2; k <= 4; k++) {
    ck_assert_int_eq(alec_decoder_feed_values(d, v[k], GH_CH), 0);
    sn = save_dec(d, sv, sizeof sv);
    ck_assert_uint_eq(saved_u16(sv, 18), (uint16_t)k);
    ck_assert_uint_eq(saved_u16(sv, 20), alec_rd_be16(f[k] + 3));
  }
  /* a restart between the ghosts and the next frame loses nothing */
  alec_decoder *r = mkdec(0);
  ck_assert_int_eq(alec_decoder_load(r, sv, sn), 0);
  for (int k = 5; k < GH_FRAMES; k++) {
    ck_assert_int_eq(alec_decoder_decode(r, ALEC_FORMAT_FIXED, GH_CH, f[k], fn[k], out, GH_CH,
                                         &info), GH_CH);
    ck_assert_uint_eq(info.gap, 0);
    ck_assert_int_eq(info.context_mismatch, 0);
    ck_assert_uint_eq(info.n_unreliable, 0);
    for (int i = 0; i < GH_CH; i++)
      ck_assert(fabs(out[i].value - v[k][i]) < 0.01);
  }
  /* a ghost after sequence 0xFFFF wraps to 0 */
  alec_decoder *w = mkdec(0);
  uint8_t b[64];
  fn[0] = ref_enc_fixed(ectx, 0xFFFFu, 1, v[0], GH_CH, b); /* keyframe: all Raw32 */
  ck_assert_int_eq(alec_decoder_decode(w, ALEC_FORMAT_FIXED, GH_CH, b, fn[0], out, GH_CH, &info),
                   GH_CH);
  ck_assert_int_eq(alec_decoder_feed_values(w, v[1], 1), 0);
  sn = save_dec(w, sv, sizeof sv);
  ck_assert_uint_eq(saved_u16(sv, 18), 0);
  alec_decoder_free(w);
  alec_decoder_free(r);
  alec_decoder_free(d);
  alec_context_free(ectx);
}
END_TEST

START_TEST(t_decoder_save_load) {
  alec_decoder *d = mkdec(0), *d2 = mkdec(0);
  alec_context *ectx = ref_ctx();
  uint8_t f[64];
  alec_value v1[4], v2[4];
  static uint8_t a[1 << 16], b[1 << 16], c[1 << 16];
  double x[3] = {1, 2, 3};
  for (int k = 0; k < 300; k++) {
    for (int i = 0; i < 3; i++)
      x[i] += (k % 7 - 3) * 0.013 * (i + 1);
    size_t n = ref_enc_fixed(ectx, (uint16_t)k, k % 50 == 49, x, 3, f);
    if (k == 200) {
      size_t an = save_dec(d, a, sizeof a);
      ck_assert_int_eq(alec_decoder_load(d2, a, an), 0);
      ck_assert_uint_eq(save_dec(d2, b, sizeof b), an);
      ck_assert_mem_eq(a, b, an);
      /* corrupt blobs are rejected, d2 unchanged */
      for (size_t i = 0; i < an; i += 3) {
        memcpy(c, a, an);
        c[i] ^= 0x10;
        ck_assert_int_lt(alec_decoder_load(d2, c, an), 0);
        ck_assert_int_lt(alec_decoder_load(d2, a, i), 0);
      }
      ck_assert_uint_eq(save_dec(d2, b, sizeof b), an);
      ck_assert_mem_eq(a, b, an);
      ck_assert_int_eq(alec_decoder_save(d, a, an - 1), ALEC_EBUFSIZE);
    }
    int r1 = alec_decoder_decode(d, ALEC_FORMAT_FIXED, 3, f, n, v1, 4, NULL);
    ck_assert_int_eq(r1, 3);
    if (k >= 200) {
      ck_assert_int_eq(alec_decoder_decode(d2, ALEC_FORMAT_FIXED, 3, f, n, v2, 4, NULL), 3);
      for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(bits(v1[i].value), bits(v2[i].value));
    }
  }
  /* a replay is still detected after the restart */
  size_t n = ref_enc_fixed(ectx, 299, 0, x, 3, f);
  ck_assert_int_eq(alec_decoder_decode(d2, ALEC_FORMAT_FIXED, 3, f, n, v2, 4, NULL), ALEC_EREPLAY);
  alec_context_free(ectx);
  alec_decoder_free(d);
  alec_decoder_free(d2);
}
END_TEST

/* ALEC_DECODER_STATISTICS: the same values and predictor state either way;
 * only a decoder with the flag keeps the Welford mean / sum of squared
 * differences, and the flag travels with the saved state. */
START_TEST(t_decoder_statistics) {
  alec_decoder *ds = mkdec(ALEC_DECODER_STATISTICS), *dn = mkdec(0);
  alec_context *ectx = ref_ctx();
  uint8_t f[64];
  alec_value vs[4], vn[4];
  double x[3] = {1, 2, 3}, mean[3] = {0}, ssd[3] = {0};
  for (int k = 0; k < 120; k++) {
    for (int i = 0; i < 3; i++)
      x[i] += (k % 7 - 3) * 0.013 * (i + 1);
    size_t n = ref_enc_fixed(ectx, (uint16_t)k, k % 50 == 49, x, 3, f);
    ck_assert_int_eq(alec_decoder_decode(ds, ALEC_FORMAT_FIXED, 3, f, n, vs, 4, NULL), 3);
    ck_assert_int_eq(alec_decoder_decode(dn, ALEC_FORMAT_FIXED, 3, f, n, vn, 4, NULL), 3);
    for (int i = 0; i < 3; i++) {
      ck_assert_uint_eq(bits(vs[i].value), bits(vn[i].value));
      double d = vs[i].value - mean[i];
      mean[i] += d / (double)(k + 1);
      ssd[i] += d * (vs[i].value - mean[i]);
    }
  }
  for (uint32_t id = 1; id <= 3; id++) {
    alec_source_stats a, b;
    ck_assert_int_eq(alec_context_source(alec_decoder_context(ds), id, &a), 0);
    ck_assert_int_eq(alec_context_source(alec_decoder_context(dn), id, &b), 0);
    ck_assert_uint_eq(a.count, b.count);
    ck_assert_uint_eq(bits(a.ema), bits(b.ema));
    ck_assert_uint_eq(bits(a.last_value), bits(b.last_value));
    ck_assert_uint_eq(bits(a.mean), bits(mean[id - 1]));
    ck_assert_uint_eq(bits(a.sum_sq_diff), bits(ssd[id - 1]));
    ck_assert(b.mean == 0.0 && b.sum_sq_diff == 0.0);
  }
  /* the flag is saved: a decoder created without it loads it */
  static uint8_t a[1 << 12], b[1 << 12];
  size_t an = save_dec(ds, a, sizeof a);
  alec_decoder *dl = mkdec(0);
  ck_assert_int_eq(alec_decoder_load(dl, a, an), 0);
  ck_assert_uint_eq(save_dec(dl, b, sizeof b), an);
  ck_assert_mem_eq(a, b, an);
  size_t n = ref_enc_fixed(ectx, 120, 0, x, 3, f);
  ck_assert_int_eq(alec_decoder_decode(dl, ALEC_FORMAT_FIXED, 3, f, n, vs, 4, NULL), 3);
  alec_source_stats st;
  ck_assert_int_eq(alec_context_source(alec_decoder_context(dl), 1, &st), 0);
  ck_assert(st.mean != mean[0]);
  /* and without it, loading turns them off */
  an = save_dec(dn, a, sizeof a);
  ck_assert_int_eq(alec_decoder_load(dl, a, an), 0);
  ck_assert_int_eq(alec_decoder_decode(dl, ALEC_FORMAT_FIXED, 3, f, n, vs, 4, NULL), 3);
  ck_assert_int_eq(alec_context_source(alec_decoder_context(dl), 1, &st), 0);
  ck_assert(st.mean == 0.0);
  alec_context_free(ectx);
  alec_decoder_free(ds);
  alec_decoder_free(dn);
  alec_decoder_free(dl);
}
END_TEST

/* ------------------------------------------------------------ golden vectors */

static const char *shared_dir(void) {
  const char *s = getenv("ALEC_SHARED");
  return (s && *s) ? s : NULL;
}

static FILE *open_vec(const char *name) {
  const char *dir = shared_dir();
  if (!dir)
    return NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/vectors/%s", dir, name);
  return fopen(path, "r");
}

/* Tiny JSON field access for the flat vector lines: finds "key": at the
 * top nesting level of [s, e) and returns the value start. */
static const char *jkey(const char *s, const char *e, const char *key) {
  size_t kl = strlen(key);
  int depth = 0, instr = 0;
  for (const char *p = s; p < e; p++) {
    char ch = *p;
    if (instr) {
      if (ch == '\\')
        p++;
      else if (ch == '"')
        instr = 0;
      continue;
    }
    if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      depth--;
    } else if (ch == '"') {
      if (depth == 1 && (size_t)(e - p) > kl + 2 && strncmp(p + 1, key, kl) == 0 &&
          p[kl + 1] == '"' && p[kl + 2] == ':')
        return p + kl + 3;
      instr = 1;
    }
  }
  return NULL;
}

/* End of the JSON value starting at p. */
static const char *jend(const char *p, const char *e) {
  int depth = 0, instr = 0;
  for (; p < e; p++) {
    char ch = *p;
    if (instr) {
      if (ch == '\\')
        p++;
      else if (ch == '"')
        instr = 0;
      continue;
    }
    if (ch == '"')
      instr = 1;
    else if (ch == '{' || ch == '[')
      depth++;
    else if (ch == '}' || ch == ']') {
      if (depth == 0)
        return p;
      if (--depth == 0)
        return p + 1;
    } else if (ch == ',' && depth == 0)
      return p;
  }
  return e;
}

/* String value (without quotes) or NULL for null / absent. */
static const char *jstr(const char *s, const char *e, const char *key, size_t *len) {
  const char *p = jkey(s, e, key);
  if (!p || *p != '"')
    return NULL;
  const char *q = jend(p, e);
  *len = (size_t)(q - p) - 2;
  return p + 1;
}

static long jint(const char *s, const char *e, const char *key, long dflt) {
  const char *p = jkey(s, e, key);
  if (!p || *p == 'n')
    return dflt;
  return strtol(p, NULL, 10);
}

static int jtrue(const char *s, const char *e, const char *key) {
  const char *p = jkey(s, e, key);
  return p && strncmp(p, "true", 4) == 0;
}

typedef struct jval {
  long name_id;
  int has_bits;
  uint64_t bits;
  int in_frame;
} jval;

/* The objects of the "values" array. */
static size_t jvalues(const char *s, const char *e, jval *out, size_t cap) {
  const char *p = jkey(s, e, "values");
  if (!p || *p != '[')
    return 0;
  const char *end = jend(p, e);
  size_t n = 0;
  p++;
  while (p < end && n < cap) {
    while (p < end && *p != '{')
      p++;
    if (p >= end)
      break;
    const char *q = jend(p, end);
    size_t bl;
    const char *bs = jstr(p, q, "decoded_bits", &bl);
    out[n].name_id = jint(p, q, "name_id", -1);
    out[n].in_frame = jtrue(p, q, "in_frame");
    out[n].has_bits = bs != NULL;
    out[n].bits = bs ? strtoull(bs, NULL, 16) : 0;
    n++;
    p = q;
  }
  return n;
}

typedef struct conf {
  size_t frames, values, match, flagged, rejected_flagged, bad, ver_ok, ver_checked;
} conf;

#define MAXV 400

/* Runs one vector file; per scenario a fresh decoder. */
static void run_vectors(const char *file, alec_format fmt, unsigned flags, conf *c) {
  FILE *fp = open_vec(file);
  if (!fp)
    return;
  memset(c, 0, sizeof *c);
  char *line = NULL;
  size_t lcap = 0;
  ssize_t ll;
  char scen[256] = "";
  alec_decoder *d = NULL;
  static jval jv[MAXV];
  static uint8_t frame[8192];
  static alec_value out[MAXV];
  int strict = (flags & ALEC_DECODER_STRICT_REFERENCE) != 0;
  while ((ll = getline(&line, &lcap, fp)) > 0) {
    const char *s = line, *e = line + ll;
    size_t sl = 0;
    const char *sc = jstr(s, e, "scenario", &sl);
    if (!sc || sl >= sizeof scen)
      continue;
    if (!d || strncmp(scen, sc, sl) != 0 || scen[sl] != 0) {
      memcpy(scen, sc, sl);
      scen[sl] = 0;
      alec_decoder_free(d);
      d = mkdec(flags);
    }
    size_t hl;
    const char *hex = jstr(s, e, "frame_hex", &hl);
    if (!hex || jtrue(s, e, "dropped"))
      continue;
    size_t fl = unhex(hex, hl, frame, sizeof frame);
    ck_assert(fl != (size_t)-1);
    size_t nv = jvalues(s, e, jv, MAXV);
    unsigned ch = 0;
    if (fmt == ALEC_FORMAT_FIXED) {
      const char *fx = strstr(scen, "fixed");
      ch = (fx && fx[5] >= '0' && fx[5] <= '9') ? (unsigned)atoi(fx + 5) : (unsigned)nv;
    }
    int expect_err = jkey(s, e, "decode_error") != NULL;
    int anyflag = 0;
    alec_context *ctx = alec_decoder_context(d);
    for (size_t i = 0; i < alec_context_source_count(ctx); i++) {
      alec_source_stats st;
      alec_context_source_at(ctx, i, &st);
      if (st.flags)
        anyflag = 1;
    }
    alec_frame_info info;
    int rc = alec_decoder_decode(d, fmt, ch, frame, fl, out, MAXV, &info);
    c->frames++;
    size_t want = 0;
    for (size_t i = 0; i < nv; i++)
      want += jv[i].has_bits;
    if (expect_err) {
      if (rc >= 0) {
        c->bad++;
        fprintf(stderr, "%s: %s step %ld: reference rejects, we accept\n", file, scen,
                jint(s, e, "step", -1));
      }
      continue;
    }
    c->values += want;
    if (rc < 0) {
      if (!strict && anyflag) {
        c->rejected_flagged += want;
      } else {
        c->bad += want ? want : 1;
        fprintf(stderr, "%s: %s step %ld: decode error %s\n", file, scen, jint(s, e, "step", -1),
                alec_err_name(rc));
      }
      continue;
    }
    if (strict) {
      long rxv = jint(s, e, "rx_context_version_after", -1);
      c->ver_checked++;
      if (rxv < 0 || (uint32_t)rxv == alec_context_version(ctx))
        c->ver_ok++;
      else
        fprintf(stderr, "%s: %s step %ld: rx version %u want %ld\n", file, scen,
                jint(s, e, "step", -1), alec_context_version(ctx), rxv);
      if (fmt == ALEC_FORMAT_FIXED) {
        long g = jint(s, e, "rx_gap_size", -1);
        if (g >= 0)
          ck_assert_uint_eq(info.gap, (uint32_t)g);
        ck_assert_int_eq(info.reset, jtrue(s, e, "rx_reset_to_baseline"));
        ck_assert_int_eq(info.context_mismatch, jtrue(s, e, "rx_context_mismatch"));
      }
    }
    /* pair reference values with ours */
    int used[MAXV] = {0};
    for (size_t i = 0; i < nv; i++) {
      if (!jv[i].has_bits)
        continue;
      long key = fmt == ALEC_FORMAT_MULTI ? jv[i].name_id : (long)i;
      int k = -1;
      if (fmt == ALEC_FORMAT_SINGLE && rc == 1)
        k = 0;
      else
        for (int j = 0; j < rc; j++)
          if (!used[j] && (long)out[j].id == key) {
            k = j;
            break;
          }
      if (k < 0) {
        c->bad++;
        fprintf(stderr, "%s: %s step %ld: value %zu missing\n", file, scen, jint(s, e, "step", -1),
                i);
        continue;
      }
      used[k] = 1;
      if (bits(out[k].value) == jv[i].bits)
        c->match++;
      else if (!strict && (out[k].flags & (ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE)))
        c->flagged++;
      else {
        c->bad++;
        fprintf(stderr, "%s: %s step %ld: value %zu bits %016llx want %016llx flags %u\n", file,
                scen, jint(s, e, "step", -1), i, (unsigned long long)bits(out[k].value),
                (unsigned long long)jv[i].bits, out[k].flags);
      }
    }
  }
  alec_decoder_free(d);
  free(line);
  fclose(fp);
}

static void conformance(const char *file, alec_format fmt) {
  if (!shared_dir()) {
    printf("SKIP %s: ALEC_SHARED not set\n", file);
    return;
  }
  FILE *fp = open_vec(file);
  if (!fp) {
    printf("SKIP %s: not found\n", file);
    return;
  }
  fclose(fp);
  conf cs, cd;
  run_vectors(file, fmt, ALEC_DECODER_STRICT_REFERENCE, &cs);
  run_vectors(file, fmt, 0, &cd);
  printf("%-36s strict: %zu/%zu values bit-exact (%zu frames, %zu rx versions ok) | "
         "default: %zu/%zu bit-exact, %zu differ but flagged, %zu in rejected frames after "
         "poison/desync\n",
         file, cs.match, cs.values, cs.frames, cs.ver_ok, cd.match, cd.values, cd.flagged,
         cd.rejected_flagged);
  ck_assert_uint_eq(cs.bad, 0);
  ck_assert_uint_eq(cs.match, cs.values);
  ck_assert_uint_eq(cs.ver_ok, cs.ver_checked);
  ck_assert_uint_eq(cd.bad, 0);
  ck_assert_uint_eq(cd.match + cd.flagged + cd.rejected_flagged, cd.values);
}

START_TEST(t_vec_s1) { conformance("s1_single_hvac_24h.jsonl", ALEC_FORMAT_SINGLE); }
END_TEST
START_TEST(t_vec_s1b) { conformance("s1b_single_gated_hvac_24h.jsonl", ALEC_FORMAT_SINGLE); }
END_TEST
START_TEST(t_vec_s2) { conformance("s2_multi_adaptive_hvac_24h.jsonl", ALEC_FORMAT_MULTI); }
END_TEST
START_TEST(t_vec_s3) { conformance("s3_fixed_hvac_24h.jsonl", ALEC_FORMAT_FIXED); }
END_TEST
START_TEST(t_vec_s5_single) { conformance("s5_hostile_single.jsonl", ALEC_FORMAT_SINGLE); }
END_TEST
START_TEST(t_vec_s5_multi) { conformance("s5_hostile_multi.jsonl", ALEC_FORMAT_MULTI); }
END_TEST
START_TEST(t_vec_s5_fixed) { conformance("s5_hostile_fixed.jsonl", ALEC_FORMAT_FIXED); }
END_TEST

/* Reference verdict -> our code. */
static int map_verdict(const char *err, size_t len) {
  char b[512];
  if (len >= sizeof b)
    len = sizeof b - 1;
  memcpy(b, err, len);
  b[len] = 0;
  if (strstr(b, "InvalidHeader") || strstr(b, "from_bytes -> None"))
    return ALEC_EHEADER;
  if (strstr(b, "BufferTooShort"))
    return ALEC_ETRUNC;
  if (strstr(b, "UnknownEncodingType"))
    return ALEC_EENCODING;
  if (strstr(b, "InvalidChecksum"))
    return ALEC_ECHECKSUM;
  if (strstr(b, "UnknownPattern") || strstr(b, "no numeric value"))
    return ALEC_EPATTERN;
  if (strstr(b, "No prediction") || strstr(b, "Delta encoding without prediction"))
    return ALEC_ENOPRED;
  if (strstr(b, "No previous value") || strstr(b, "without prior value"))
    return ALEC_ENOPREV;
  if (strstr(b, "Varint too long"))
    return ALEC_EVARINT;
  if (strstr(b, "Multi encoding should use") || strstr(b, "Expected Multi") ||
      strstr(b, "not a fixed-channel"))
    return ALEC_EFORMAT;
  if (strstr(b, "channel_count"))
    return ALEC_ECHANNELS;
  return ALEC_EMALFORMED;
}

START_TEST(t_vec_malformed) {
  FILE *fp = open_vec("s5_decoder_malformed.jsonl");
  if (!fp) {
    printf("SKIP s5_decoder_malformed.jsonl: ALEC_SHARED not set or file missing\n");
    return;
  }
  char *line = NULL;
  size_t lcap = 0;
  ssize_t ll;
  size_t cases = 0, rejected = 0, accepted_ok = 0;
  static uint8_t frame[4096];
  alec_value out[80];
  while ((ll = getline(&line, &lcap, fp)) > 0) {
    const char *s = line, *e = line + ll;
    size_t hl;
    const char *hex = jstr(s, e, "frame_hex", &hl);
    ck_assert_ptr_nonnull(hex);
    size_t fl = unhex(hex, hl, frame, sizeof frame);
    static const struct {
      const char *key;
      alec_format fmt;
    } modes[] = {{"decode_bytes", ALEC_FORMAT_SINGLE},
                 {"decode_multi", ALEC_FORMAT_MULTI},
                 {"decode_multi_fixed", ALEC_FORMAT_FIXED}};
    for (size_t m = 0; m < 3; m++) {
      const char *o = jkey(s, e, modes[m].key);
      if (!o)
        continue;
      const char *oe = jend(o, e);
      int ok = jtrue(o, oe, "ok");
      unsigned ch = (unsigned)jint(s, e, "channel_count", 0);
      for (int strict = 0; strict < 2; strict++) {
        alec_decoder *d = mkdec(strict ? ALEC_DECODER_STRICT_REFERENCE : 0);
        int rc = alec_decoder_decode(d, modes[m].fmt, ch, frame, fl, out, 80, NULL);
        cases++;
        if (ok) {
          ck_assert_msg(rc >= 0, "line %.60s mode %s: %s", s, modes[m].key, alec_err_name(rc));
          size_t vl;
          const char *vb = jstr(o, oe, "value_bits", &vl);
          if (vb)
            ck_assert_uint_eq(bits(out[0].value), strtoull(vb, NULL, 16));
          long sid = jint(o, oe, "source_id", -1);
          if (sid >= 0)
            ck_assert_uint_eq(out[0].id, (uint32_t)sid);
          accepted_ok++;
        } else {
          size_t el;
          const char *err = jstr(o, oe, "error", &el);
          ck_assert_ptr_nonnull(err);
          ck_assert_msg(rc == map_verdict(err, el), "%.60s mode %s: got %s for %.*s", s,
                        modes[m].key, alec_err_name(rc), (int)el, err);
          rejected++;
        }
        alec_decoder_free(d);
      }
    }
  }
  printf("s5_decoder_malformed.jsonl: %zu decodes, %zu rejected with the reference verdict, "
         "%zu accepted with the reference value\n",
         cases, rejected, accepted_ok);
  ck_assert_uint_eq(rejected + accepted_ok, cases);
  free(line);
  fclose(fp);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *suite(void) {
  Suite *s = suite_create("decoder");
  TCase *t = tcase_create("wire");
  tcase_add_test(t, t_varint);
  tcase_add_test(t, t_round_q);
  tcase_add_test(t, t_floats);
  tcase_add_test(t, t_header);
  tcase_add_test(t, t_names);
  tcase_add_test(t, t_checksum);
  suite_add_tcase(s, t);

  t = tcase_create("examples");
  tcase_add_test(t, t_e1_single);
  tcase_add_test(t, t_e3_e4_multi);
  tcase_add_test(t, t_e5_fixed);
  tcase_add_test(t, t_pattern_decode);
  tcase_add_test(t, t_appendix_b);
  suite_add_tcase(s, t);

  t = tcase_create("context");
  tcase_add_test(t, t_context_version);
  tcase_add_test(t, t_context_hash);
  tcase_add_test(t, t_context_bounds);
  tcase_add_test(t, t_context_nonfinite);
  tcase_add_test(t, t_context_save_load);
  tcase_add_test(t, t_context_storage);
  suite_add_tcase(s, t);

  t = tcase_create("receiver");
  tcase_add_test(t, t_gap_table_strict);
  tcase_add_test(t, t_fixed_mismatch_and_reorder);
  tcase_add_test(t, t_replay);
  tcase_add_test(t, t_nonfinite_deviation);
  tcase_add_test(t, t_gap_flags_and_resync);
  tcase_add_test(t, t_atomic);
  tcase_add_test(t, t_decoder_save_load);
  tcase_add_test(t, t_decoder_statistics);
  tcase_add_test(t, t_ghost_frame);
  tcase_add_test(t, t_ghost_frame_invalid);
  tcase_add_test(t, t_ghost_frame_fresh_and_consecutive);
  suite_add_tcase(s, t);

  t = tcase_create("vectors");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, t_vec_malformed);
  tcase_add_test(t, t_vec_s1);
  tcase_add_test(t, t_vec_s1b);
  tcase_add_test(t, t_vec_s2);
  tcase_add_test(t, t_vec_s3);
  tcase_add_test(t, t_vec_s5_single);
  tcase_add_test(t, t_vec_s5_multi);
  tcase_add_test(t, t_vec_s5_fixed);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
