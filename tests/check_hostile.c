/* SPDX-License-Identifier: MIT */
/* Randomised mutation of valid frames of every family against warm
 * decoders. Properties: no crash or out-of-bounds access (run it under
 * --enable-sanitizers), a rejected frame leaves the decoder bit-for-bit
 * unchanged, results are self-consistent, and a decoder that is never fed
 * is never affected. Frames come from the builders below, not from the
 * encoder, so this test does not depend on src/lib/encoder.c. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"

#define CASES 1000000L

/* ck_assert* reports every passing check to the parent process; in loops
 * of a million cases only failures may cost anything. */
#define REQUIRE(cond, ...)                                                                         \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ck_abort_msg(__VA_ARGS__);                                                                   \
  } while (0)
#define FRAME_ROOM 4096
#define OUT_ROOM 300

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* xorshift64*: deterministic across platforms. */
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* Trackers of the warm decoders, so that most unmutated frames are
 * accepted (next sequence, compatible context version). */
static uint16_t leg_next, fix_next, fix_ver;

static size_t put_header(uint8_t *b, unsigned type, uint16_t seq) {
  alec_header h;
  h.version = rndn(8) == 0 ? (uint8_t)rndn(4) : 1;
  h.msg_type = (uint8_t)type;
  h.priority = (uint8_t)rndn(5);
  h.sequence = seq;
  h.timestamp = (uint32_t)rnd();
  h.ctx_version = (uint32_t)rnd() & 0xFFFFFF;
  alec_header_write(&h, b);
  return ALEC_HEADER_SIZE;
}

static uint16_t pick_seq(uint16_t next) {
  unsigned r = rndn(16);
  if (r < 12)
    return next;
  if (r < 14)
    return (uint16_t)(next + rndn(4));
  return (uint16_t)rnd();
}

static uint32_t pick_sid(void) {
  unsigned r = rndn(16);
  if (r < 12)
    return rndn(8);
  if (r < 14)
    return 300;
  return (uint32_t)rnd();
}

static const uint8_t single_encs[] = {ALEC_ENC_RAW64,      ALEC_ENC_RAW32,    ALEC_ENC_DELTA8,
                                      ALEC_ENC_DELTA16,    ALEC_ENC_DELTA32,  ALEC_ENC_PATTERN,
                                      ALEC_ENC_PATTERN_DELTA, ALEC_ENC_REPEATED, ALEC_ENC_INTERPOLATED};
static const uint8_t multi_encs[] = {ALEC_ENC_RAW64,   ALEC_ENC_RAW32,    ALEC_ENC_DELTA8,
                                     ALEC_ENC_DELTA16, ALEC_ENC_DELTA32,  ALEC_ENC_REPEATED,
                                     ALEC_ENC_INTERPOLATED};

static size_t put_value(uint8_t *b, uint8_t enc) {
  size_t n = 0;
  switch (enc) {
  case ALEC_ENC_PATTERN:
    return alec_varint_encode(rndn(4), b);
  case ALEC_ENC_PATTERN_DELTA:
    n = alec_varint_encode(rndn(4), b);
    b[n] = (uint8_t)rnd();
    return n + 1;
  case ALEC_ENC_RAW32: {
    /* mostly sane values, sometimes any bit pattern (NaN, inf, denormal) */
    float f = (float)(rndn(20000)) / 100.0f;
    uint32_t bits = rndn(4) ? alec_f32_bits(f) : (uint32_t)rnd();
    alec_wr_be32(b, bits);
    return 4;
  }
  case ALEC_ENC_RAW64: {
    double d = (double)rndn(20000) / 100.0;
    alec_wr_be64(b, rndn(4) ? alec_f64_bits(d) : rnd());
    return 8;
  }
  default: {
    int s = alec_encoding_value_size(enc);
    for (int i = 0; i < s; i++)
      b[i] = (uint8_t)(rndn(2) ? rnd() : (rndn(2) ? 0 : 0xFF));
    return s > 0 ? (size_t)s : 0;
  }
  }
}

static size_t build_single(uint8_t *b, int checksum) {
  size_t n = put_header(b, rndn(4) == 0 ? ALEC_MSG_RESYNC : ALEC_MSG_DATA, pick_seq(leg_next));
  n += alec_varint_encode(pick_sid(), b + n);
  uint8_t enc = rndn(20) ? single_encs[rndn(sizeof single_encs)] : (uint8_t)rnd();
  b[n++] = enc;
  n += put_value(b + n, enc);
  if (checksum) {
    alec_wr_be32(b + n, alec_checksum32(b, n));
    n += 4;
  }
  return n;
}

static size_t build_multi(uint8_t *b) {
  size_t n = put_header(b, rndn(4) == 0 ? ALEC_MSG_RESYNC : ALEC_MSG_DATA, pick_seq(leg_next));
  b[n++] = 0;
  b[n++] = ALEC_ENC_MULTI;
  unsigned count = rndn(16) ? rndn(13) : rndn(256);
  b[n++] = (uint8_t)count;
  for (unsigned i = 0; i < count; i++) {
    b[n++] = (uint8_t)(rndn(8) ? rndn(10) : rnd());
    uint8_t enc = rndn(30) ? multi_encs[rndn(sizeof multi_encs)] : (uint8_t)rnd();
    b[n++] = enc;
    n += put_value(b + n, enc);
  }
  return n;
}

static size_t build_fixed(uint8_t *b, unsigned *channels) {
  static const unsigned chs[] = {1, 2, 3, 4, 5, 8, 16, 33, 63, 64};
  unsigned ch = chs[rndn(sizeof chs / sizeof chs[0])];
  *channels = ch;
  b[0] = rndn(4) ? ALEC_FIXED_DATA : ALEC_FIXED_KEYFRAME;
  alec_wr_be16(b + 1, pick_seq(fix_next));
  alec_wr_be16(b + 3, (uint16_t)(rndn(8) ? fix_ver + rndn(300) : rnd()));
  size_t bm = alec_fixed_bitmap_size(ch);
  size_t n = 5 + bm;
  memset(b + 5, 0, bm);
  for (unsigned i = 0; i < ch; i++) {
    unsigned code = rndn(4);
    b[5 + i / 4] |= (uint8_t)(code << (2 * (i % 4)));
    static const uint8_t map[4] = {ALEC_ENC_REPEATED, ALEC_ENC_DELTA8, ALEC_ENC_DELTA16,
                                   ALEC_ENC_RAW32};
    n += put_value(b + n, map[code]);
  }
  return n;
}

/* ------------------------------------------------------------ warm-up */

static void feed(alec_decoder *d, alec_format fmt, unsigned ch, const uint8_t *b, size_t n) {
  alec_value out[OUT_ROOM];
  int rc = alec_decoder_decode(d, fmt, ch, b, n, out, OUT_ROOM, NULL);
  ck_assert_msg(rc >= 0, "warm-up frame rejected: %s", alec_err_name(rc));
}

static void warm(alec_decoder *d) {
  uint8_t b[FRAME_ROOM];
  uint16_t seq = 0;
  static const uint32_t sids[] = {0, 1, 2, 3, 4, 5, 6, 7, 300};
  for (int k = 0; k < 6; k++) {
    for (size_t s = 0; s < sizeof sids / sizeof sids[0]; s++) {
      alec_header h = {1, 0, 2, seq++, 0, 0};
      alec_header_write(&h, b);
      size_t n = ALEC_HEADER_SIZE + alec_varint_encode(sids[s], b + ALEC_HEADER_SIZE);
      if (k == 0) {
        b[n++] = ALEC_ENC_RAW32;
        alec_wr_be32(b + n, alec_f32_bits(20.0f + (float)s));
        n += 4;
      } else {
        b[n++] = ALEC_ENC_DELTA8;
        b[n++] = (uint8_t)(int8_t)(k * 3 - 7);
      }
      feed(d, ALEC_FORMAT_SINGLE, 0, b, n);
    }
  }
  for (int k = 0; k < 3; k++) {
    alec_header h = {1, 0, 2, seq++, 0, 0};
    alec_header_write(&h, b);
    size_t n = ALEC_HEADER_SIZE;
    b[n++] = 0;
    b[n++] = ALEC_ENC_MULTI;
    b[n++] = 10;
    for (uint8_t id = 0; id < 10; id++) {
      b[n++] = id;
      if (k == 0 && id >= 8) {
        b[n++] = ALEC_ENC_RAW32;
        alec_wr_be32(b + n, alec_f32_bits(5.5f));
        n += 4;
      } else {
        b[n++] = ALEC_ENC_DELTA16;
        alec_wr_be16(b + n, (uint16_t)(int16_t)(k * 100 - 150));
        n += 2;
      }
    }
    feed(d, ALEC_FORMAT_MULTI, 0, b, n);
  }
  leg_next = seq;

  /* 64 fixed channels: cold Raw32 frame, then deltas */
  alec_context *ctx = alec_decoder_context(d);
  for (int k = 0; k < 5; k++) {
    b[0] = ALEC_FIXED_DATA;
    alec_wr_be16(b + 1, (uint16_t)k);
    alec_wr_be16(b + 3, (uint16_t)alec_context_version(ctx));
    memset(b + 5, k == 0 ? 0xFF : 0x55, 16);
    size_t n = 21;
    for (int i = 0; i < 64; i++) {
      if (k == 0) {
        alec_wr_be32(b + n, alec_f32_bits((float)i * 1.5f));
        n += 4;
      } else {
        b[n++] = (uint8_t)(int8_t)(i % 7 - 3);
      }
    }
    fix_ver = (uint16_t)alec_context_version(ctx);
    feed(d, ALEC_FORMAT_FIXED, 64, b, n);
  }
  fix_next = 5;

  double pv[3] = {42.5, -3.0, 1e300};
  for (uint8_t i = 0; i < 3; i++) {
    uint8_t data[2] = {0xAB, i};
    uint32_t code;
    ck_assert_int_eq(alec_context_register_pattern(ctx, data, 2, &pv[i], &code), 0);
  }
  /* a dictionary entry without a numeric value, as loaded from files */
  uint8_t raw[1] = {7};
  ck_assert_int_eq(alec_context_set_pattern(ctx, 3, raw, 1, 1), 0);
}

/* ------------------------------------------------------------ mutation */

static size_t mutate(uint8_t *b, size_t n, alec_format *fmt, unsigned *ch) {
  switch (rndn(10)) {
  case 0: /* untouched */
    break;
  case 1: { /* bit flips */
    unsigned k = 1 + rndn(8);
    for (unsigned i = 0; i < k && n; i++)
      b[rndn((unsigned)n)] ^= (uint8_t)(1u << rndn(8));
    break;
  }
  case 2: { /* random bytes */
    unsigned k = 1 + rndn(4);
    for (unsigned i = 0; i < k && n; i++)
      b[rndn((unsigned)n)] = (uint8_t)rnd();
    break;
  }
  case 3: /* truncation */
    n = n ? rndn((unsigned)n) : 0;
    break;
  case 4: { /* extension */
    unsigned k = 1 + rndn(32);
    for (unsigned i = 0; i < k && n < FRAME_ROOM; i++)
      b[n++] = (uint8_t)rnd();
    break;
  }
  case 5: { /* entirely random */
    n = rndn(300);
    for (size_t i = 0; i < n; i++)
      b[i] = (uint8_t)rnd();
    if (n && rndn(2))
      b[0] = (uint8_t)(rndn(2) ? 0xA1 + rndn(2) : 0x40 + rndn(5));
    break;
  }
  case 6: { /* insert or delete a byte */
    if (!n)
      break;
    size_t at = rndn((unsigned)n);
    if (rndn(2) && n < FRAME_ROOM) {
      memmove(b + at + 1, b + at, n - at);
      b[at] = (uint8_t)rnd();
      n++;
    } else {
      memmove(b + at, b + at + 1, n - at - 1);
      n--;
    }
    break;
  }
  case 7: { /* interesting bytes at interesting places */
    static const uint8_t magic[] = {0x00, 0x7F, 0x80, 0xFF, 0x40, 0xA1, 0xA2, 0x30, 0x31, 0x20};
    if (n)
      b[rndn(n < 16 ? (unsigned)n : 16)] = magic[rndn(sizeof magic)];
    break;
  }
  case 8: /* wrong format */
    *fmt = (alec_format)(rndn(6));
    if (rndn(8) == 0)
      *fmt = (alec_format)(rndn(2) ? 99 : -1);
    break;
  default: { /* wrong channel count */
    static const unsigned chs[] = {0, 1, 2, 63, 64, 65, 66, 255, 256, 0x7FFFFFFFu, UINT_MAX};
    *ch = rndn(2) ? chs[rndn(sizeof chs / sizeof chs[0])] : rndn(70);
    break;
  }
  }
  return n;
}

/* ------------------------------------------------------------ test */

typedef struct tally {
  long cases, accepted, rejected;
  long by_err[1 - ALEC_ERROR_MIN];
  long by_family[4][2];
} tally;

static size_t snapshot(const alec_decoder *d, uint8_t *buf, size_t cap) {
  long n = alec_decoder_save(d, buf, cap);
  REQUIRE(n > 0, "save failed: %s", alec_err_name((int)n));
  return (size_t)n;
}

START_TEST(t_mutation) {
  alec_decoder_config cfg;
  alec_decoder *dec[2], *quiet;
  for (int i = 0; i < 2; i++) {
    alec_decoder_config_init(&cfg);
    cfg.flags = i ? ALEC_DECODER_STRICT_REFERENCE : 0;
    ck_assert_int_eq(alec_decoder_new(&dec[i], &cfg), 0);
    warm(dec[i]);
  }
  alec_decoder_config_init(&cfg);
  ck_assert_int_eq(alec_decoder_new(&quiet, &cfg), 0);
  warm(quiet);

  static uint8_t snap[2][1 << 16], cur[1 << 16], quiet0[1 << 16];
  size_t snap_len[2];
  for (int i = 0; i < 2; i++)
    snap_len[i] = snapshot(dec[i], snap[i], sizeof snap[i]);
  size_t quiet_len = snapshot(quiet, quiet0, sizeof quiet0);

  /* Frames and outputs sit at the very end of heap blocks so that the
   * sanitizer sees any read past len or write past cap. */
  uint8_t *fheap = malloc(FRAME_ROOM);
  alec_value *oheap = malloc(OUT_ROOM * sizeof *oheap);
  ck_assert_ptr_nonnull(fheap);
  ck_assert_ptr_nonnull(oheap);
  static uint8_t work[FRAME_ROOM];
  tally t;
  memset(&t, 0, sizeof t);

  for (long c = 0; c < CASES; c++) {
    alec_format fmt;
    unsigned ch = 0;
    size_t n;
    unsigned fam = rndn(4);
    switch (fam) {
    case 0:
      fmt = ALEC_FORMAT_SINGLE;
      n = build_single(work, 0);
      break;
    case 1:
      fmt = ALEC_FORMAT_SINGLE_XXH32;
      n = build_single(work, 1);
      break;
    case 2:
      fmt = ALEC_FORMAT_MULTI;
      n = build_multi(work);
      break;
    default:
      fmt = ALEC_FORMAT_FIXED;
      n = build_fixed(work, &ch);
      break;
    }
    n = mutate(work, n, &fmt, &ch);
    size_t cap = rndn(16) ? OUT_ROOM : rndn(70);
    uint8_t *frame = fheap + FRAME_ROOM - n;
    memcpy(frame, work, n);
    alec_value *out = oheap + OUT_ROOM - cap;
    int which = (int)(c & 1);
    alec_decoder *d = dec[which];
    alec_frame_info info;
    int rc = alec_decoder_decode(d, fmt, ch, n ? frame : (rndn(2) ? NULL : frame), n,
                                 cap ? out : NULL, cap, rndn(8) ? &info : NULL);
    t.cases++;
    if (rc < 0) {
      REQUIRE(rc >= ALEC_ERROR_MIN, "case %ld: bad code %d", c, rc);
      t.rejected++;
      t.by_err[-rc]++;
      t.by_family[fam][1]++;
      size_t cl = snapshot(d, cur, sizeof cur);
      REQUIRE(cl == snap_len[which] && memcmp(cur, snap[which], cl) == 0,
              "case %ld: %s changed the decoder", c, alec_err_name(rc));
    } else {
      t.accepted++;
      t.by_family[fam][0]++;
      REQUIRE((size_t)rc <= cap, "case %ld: %d values for cap %zu", c, rc, cap);
      if (fmt == ALEC_FORMAT_FIXED)
        REQUIRE((unsigned)rc == ch, "case %ld: %d values for %u channels", c, rc, ch);
      else
        REQUIRE(rc <= 255, "case %ld: %d values", c, rc);
      for (int i = 0; i < rc; i++)
        REQUIRE(out[i].flags <= (ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE | ALEC_VALUE_RESYNC),
                "case %ld: flags", c);
      /* back to the warm state for the next case */
      REQUIRE(alec_decoder_load(d, snap[which], snap_len[which]) == 0, "case %ld: reload", c);
    }
    if (c % 100000 == 0) {
      size_t ql = snapshot(quiet, cur, sizeof cur);
      REQUIRE(ql == quiet_len && memcmp(cur, quiet0, ql) == 0, "case %ld: bystander changed", c);
    }
  }
  size_t ql = snapshot(quiet, cur, sizeof cur);
  ck_assert(ql == quiet_len && memcmp(cur, quiet0, ql) == 0);

  static const char *fam_name[4] = {"single", "single-xxh32", "multi", "fixed"};
  printf("hostile mutation: %ld cases, %ld accepted, %ld rejected (state unchanged on every "
         "rejection)\n",
         t.cases, t.accepted, t.rejected);
  printf("  %-14s %10s %10s\n", "family", "accepted", "rejected");
  for (int f = 0; f < 4; f++)
    printf("  %-14s %10ld %10ld\n", fam_name[f], t.by_family[f][0], t.by_family[f][1]);
  printf("  %-16s %10s\n", "error", "count");
  for (int e = 1; e <= -ALEC_ERROR_MIN; e++)
    if (t.by_err[e])
      printf("  %-16s %10ld\n", alec_err_name(-e), t.by_err[e]);
  /* every family must both pass and fail sometimes, else the generator is broken */
  for (int f = 0; f < 4; f++) {
    ck_assert_int_gt(t.by_family[f][0], 1000);
    ck_assert_int_gt(t.by_family[f][1], 1000);
  }
  free(fheap);
  free(oheap);
  alec_decoder_free(dec[0]);
  alec_decoder_free(dec[1]);
  alec_decoder_free(quiet);
}
END_TEST

/* Hostile persisted state: mutated ALDX / ALCX blobs never load partially. */
START_TEST(t_state_mutation) {
  alec_decoder *d = NULL, *victim = NULL;
  ck_assert_int_eq(alec_decoder_new(&d, NULL), 0);
  ck_assert_int_eq(alec_decoder_new(&victim, NULL), 0);
  warm(d);
  static uint8_t blob[1 << 16], m[1 << 16], v0[1 << 16], v1[1 << 16];
  size_t bl = snapshot(d, blob, sizeof blob);
  size_t vl = snapshot(victim, v0, sizeof v0);
  long loaded = 0;
  for (long c = 0; c < 20000; c++) {
    size_t n = bl;
    memcpy(m, blob, bl);
    alec_format f = ALEC_FORMAT_SINGLE;
    unsigned ch = 0;
    n = mutate(m, n, &f, &ch);
    int rc = alec_decoder_load(victim, m, n);
    if (rc == 0) {
      loaded++;
      /* only the identical blob may load */
      REQUIRE(n == bl && memcmp(m, blob, n) == 0, "case %ld: a modified blob loaded", c);
      REQUIRE(alec_decoder_load(victim, v0, vl) == 0, "case %ld: reload", c);
    } else {
      size_t l = snapshot(victim, v1, sizeof v1);
      REQUIRE(l == vl && memcmp(v1, v0, l) == 0, "case %ld: failed load changed state", c);
    }
    rc = alec_context_load(alec_decoder_context(victim), m, n);
    REQUIRE(rc < 0, "case %ld: ALDX loaded as ALCX", c); /* never the same format */
  }
  printf("hostile state blobs: 20000 mutations, %ld identical ones loaded, all others rejected\n",
         loaded);
  alec_decoder_free(d);
  alec_decoder_free(victim);
}
END_TEST

int main(void) {
  Suite *s = suite_create("hostile");
  TCase *t = tcase_create("mutation");
  tcase_set_timeout(t, 600);
  tcase_add_test(t, t_mutation);
  tcase_add_test(t, t_state_mutation);
  suite_add_tcase(s, t);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
