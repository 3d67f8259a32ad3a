/* SPDX-License-Identifier: MIT */
/* Classifier and encoder: the reference's worked examples (spec 2.9),
 * encoding boundaries, atomicity, conformance with the reference's golden
 * vectors (when $ALEC_SHARED is there), and the closed-loop accuracy bound
 * through our own decoder. */

#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"

/* ------------------------------------------------------------ helpers */

static void to_hex(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

/* Expected frames are written with spaces between fields, as in the spec. */
static void squeeze(const char *in, char *out) {
  for (; *in; in++)
    if (*in != ' ')
      *out++ = (char)((*in >= 'A' && *in <= 'F') ? *in - 'A' + 'a' : *in);
  *out = '\0';
}

#define ck_frame(buf, len, expected)                                                     \
  do {                                                                                   \
    char got_[2 * ALEC_FRAME_MAX + 1], want_[2 * ALEC_FRAME_MAX + 1];                    \
    ck_assert_int_gt((len), 0);                                                          \
    to_hex((buf), (size_t)(len), got_);                                                  \
    squeeze((expected), want_);                                                          \
    ck_assert_str_eq(got_, want_);                                                       \
  } while (0)

static alec_encoder *new_encoder(int reference, uint32_t keyframe_interval) {
  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.reference_compat = reference;
  cfg.keyframe_interval = keyframe_interval;
  alec_encoder *enc = NULL;
  ck_assert_int_eq(alec_encoder_new(&enc, &cfg), 0);
  return enc;
}

static alec_decoder *new_decoder(void) {
  alec_decoder *dec = NULL;
  ck_assert_int_eq(alec_decoder_new(&dec, NULL), 0);
  return dec;
}

static const char *shared_dir(void) {
  const char *d = getenv("ALEC_SHARED");
  return (d && *d) ? d : NULL;
}

static FILE *open_shared(const char *rel) {
  const char *d = shared_dir();
  if (!d)
    return NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", d, rel);
  return fopen(path, "r");
}

/* ------------------------------------------------------------ classifier */

START_TEST(classifier_rules) {
  alec_classifier c;
  alec_classifier_init(&c);
  ck_assert_double_eq(c.anomaly_threshold, 0.15);
  ck_assert_double_eq(c.critical_anomaly_threshold, 0.30);
  ck_assert_double_eq(c.minimum_delta_threshold, 0.01);
  alec_context *ctx = NULL;
  ck_assert_int_eq(alec_context_new(&ctx, NULL), 0);

  /* No prediction, whatever the value. */
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 100.0), ALEC_P3);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, NAN), ALEC_P3);

  ck_assert_int_eq(alec_context_observe(ctx, 1, 100.0), 0);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 100.0), ALEC_P5);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 100.9), ALEC_P5);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 101.0), ALEC_P4); /* exactly 0.01: not below */
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 105.0), ALEC_P4);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 115.0), ALEC_P4); /* exactly 0.15: not above */
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 120.0), ALEC_P2);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 80.0), ALEC_P2);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 130.0), ALEC_P2); /* exactly 0.30: not above */
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 131.0), ALEC_P1);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, -5.0), ALEC_P1);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, NAN), ALEC_P2);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, INFINITY), ALEC_P1);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, -INFINITY), ALEC_P1);

  /* |pred| <= DBL_EPSILON: the absolute deviation is used. */
  ck_assert_int_eq(alec_context_observe(ctx, 2, 0.0), 0);
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.005), ALEC_P5);
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.05), ALEC_P4);
  ck_assert_int_eq(alec_classify(&c, ctx, 2, -0.2), ALEC_P2);
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.5), ALEC_P1);

  /* Critical ranges come before the relative rules, per source. */
  ck_assert_int_eq(alec_classifier_set_critical(&c, 1, 99.95, 100.05), 0);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 99.9), ALEC_P1);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 100.1), ALEC_P1);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 100.05), ALEC_P5); /* bound itself is inside */
  ck_assert_int_eq(alec_classify(&c, ctx, 1, NAN), ALEC_P2);
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.005), ALEC_P5);
  /* Replacing keeps one entry. */
  ck_assert_int_eq(alec_classifier_set_critical(&c, 1, -INFINITY, 100.02), 0);
  ck_assert_uint_eq(c.n_critical, 1);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 99.9), ALEC_P5);
  ck_assert_int_eq(alec_classify(&c, ctx, 1, 100.03), ALEC_P1);
  /* No range for a source: none of the others apply. */
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.0), ALEC_P5);

  /* Scheduled transmission turns P4 into P3, not P5. */
  c.scheduled_interval = 60;
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.05), ALEC_P3);
  ck_assert_int_eq(alec_classify(&c, ctx, 2, 0.0), ALEC_P5);

  /* The table is bounded. */
  alec_classifier_init(&c);
  for (uint32_t i = 0; i < ALEC_CLASSIFIER_MAX_CRITICAL; i++)
    ck_assert_int_eq(alec_classifier_set_critical(&c, i, 0, 1), 0);
  ck_assert_int_eq(alec_classifier_set_critical(&c, 1000, 0, 1), ALEC_ENOSPC);
  ck_assert_int_eq(alec_classifier_set_critical(&c, 5, 0, 2), 0);

  /* Count >= 3: the EMA is the prediction. */
  alec_classifier_init(&c);
  for (int i = 0; i < 3; i++)
    alec_context_observe(ctx, 3, 10.0);
  alec_context_observe(ctx, 3, 20.0); /* ema = 13 */
  ck_assert_int_eq(alec_classify(&c, ctx, 3, 13.0), ALEC_P5);
  ck_assert_int_eq(alec_classify(&c, ctx, 3, 20.0), ALEC_P1);
  alec_context_free(ctx);
}
END_TEST

/* ------------------------------------------------------------ worked examples */

START_TEST(e1_single_sequence) {
  static const double v[] = {22.5, 22.5, 22.57, 23.0, 30.0, 123456789.123, NAN};
  static const char *want[] = {
      "42 0000 000004D2 000000 00 01 41B40000", "44 0001 000004D3 000001 00 30",
      "44 0002 000004D4 000002 00 10 07",       "43 0003 000004D5 000003 00 10 30",
      "40 0004 000004D6 000004 00 11 02DE",     "40 0005 000004D7 000005 00 00 419D6F34547DF3B6",
      "41 0006 000004D8 000006 00 00 7FF8000000000000"};
  static const alec_priority prio[] = {ALEC_P3, ALEC_P5, ALEC_P5, ALEC_P4,
                                       ALEC_P1, ALEC_P1, ALEC_P2};
  alec_encoder *enc = new_encoder(1, 50);
  for (int k = 0; k < 7; k++) {
    uint8_t buf[64];
    alec_priority p = ALEC_P5;
    int n = alec_encode_single(enc, 0, v[k], 1234567u + 1000u * (uint64_t)k, buf, sizeof buf, &p);
    ck_frame(buf, n, want[k]);
    ck_assert_int_eq(p, prio[k]);
  }
  ck_assert_uint_eq(alec_encoder_sequence(enc), 7);
  alec_encoder_free(enc);
}
END_TEST

START_TEST(e2_checksum) {
  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.reference_compat = 1;
  cfg.checksum = 1;
  alec_encoder *enc = NULL;
  ck_assert_int_eq(alec_encoder_new(&enc, &cfg), 0);
  uint8_t buf[64];
  /* A checksummed frame that does not fit is refused whole. */
  ck_assert_int_eq(alec_encode_single(enc, 300, 22.5, 5000, buf, 20, NULL), ALEC_EBUFSIZE);
  int n = alec_encode_single(enc, 300, 22.5, 5000, buf, sizeof buf, NULL);
  ck_assert_int_eq(n, 21);
  ck_frame(buf, n, "42 0000 00000005 000000 AC 02 01 41B40000 08 8D 81 9E");
  /* The trailer covers exactly header || payload. */
  static const uint8_t small[] = {0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x30};
  ck_assert_uint_eq(alec_checksum32(small, sizeof small), 0x864D8180u);
  alec_encoder_free(enc);
}
END_TEST

START_TEST(e4_multi_adaptive) {
  static const double rows[4][3] = {
      {22.5, 65.0, 1013.25}, {22.5, 66.0, 1013.25}, {22.5, 80.0, 1013.3}, {30.0, 80.0, 1013.3}};
  static const char *want[] = {
      "42 0000 0000003C 000000 00 40 03 00 01 41B40000 01 01 42820000 02 01 447D5000",
      "42 0001 0000003C 000003 00 40 01 01 10 64",
      "41 0002 0000003C 000006 00 40 01 01 11 0578",
      "40 0003 0000003C 000009 00 40 02 00 11 02EE 01 30"};
  alec_encoder *enc = new_encoder(1, 50);
  for (int k = 0; k < 4; k++) {
    uint8_t buf[256];
    int n = alec_encode_multi(enc, rows[k], 3, 60000, buf, sizeof buf);
    ck_frame(buf, n, want[k]);
  }
  alec_encoder_free(enc);
}
END_TEST

START_TEST(e5_fixed_forced_keyframe) {
  static const double rows[5][5] = {{3.6, 22.5, 45.0, 420.0, 1013.25},
                                    {3.6, 22.51, 45.0, 421.0, 1013.25},
                                    {3.6, 22.51, 45.1, 425.0, 1013.26},
                                    {3.6, 22.52, 45.1, 425.0, 1013.26},
                                    {3.6, 25.0, 45.1, 725.0, 1013.26}};
  static const char *want[] = {
      "A1 0000 0000 FF 03 40666666 41B40000 42340000 43D20000 447D5000",
      "A1 0001 0005 44 00 01 64", "A1 0002 000A 90 01 0A 0190 01",
      "A2 0003 000F FF 03 40666666 41B428F6 42346666 43D48000 447D50A4",
      "A1 0004 0014 88 00 00F9 7616"};
  alec_encoder *enc = new_encoder(1, 50);
  for (int k = 0; k < 5; k++) {
    uint8_t buf[64];
    if (k == 3) {
      static const uint8_t down[] = {0xFF, 0x12};
      ck_assert_int_eq(alec_encoder_downlink(enc, down, sizeof down), 0);
    }
    int n = alec_encode_fixed(enc, rows[k], 5, buf, sizeof buf);
    ck_frame(buf, n, want[k]);
  }
  alec_encoder_free(enc);
}
END_TEST

START_TEST(fixed_keyframe_interval) {
  /* Frames N, 2N... are keyframes; frame 0 is a cold 0xA1. */
  alec_encoder *enc = new_encoder(1, 4);
  for (int k = 0; k < 13; k++) {
    uint8_t buf[64];
    double v = 20.0 + 0.01 * k;
    int n = alec_encode_fixed(enc, &v, 1, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(buf[0], (k > 0 && k % 4 == 0) ? 0xA2 : 0xA1);
  }
  alec_encoder_free(enc);
  enc = new_encoder(1, 0);
  for (int k = 0; k < 120; k++) {
    uint8_t buf[64];
    double v = 20.0;
    ck_assert_int_gt(alec_encode_fixed(enc, &v, 1, buf, sizeof buf), 0);
    ck_assert_uint_eq(buf[0], 0xA1);
  }
  alec_encoder_free(enc);
}
END_TEST

/* ------------------------------------------------------------ boundaries */

/* Spec 3.1 boundaries against a prediction of 0. */
START_TEST(delta_boundaries) {
  static const struct {
    double v;
    const char *legacy; /* encoding byte + value */
    const char *fixed;  /* bitmap + value */
  } cases[] = {
      {1.275, "10 7F", "01 7F"},
      {1.276, "11 0080", "02 0080"},
      {-1.284, "10 80", "01 80"},
      {-1.285, "11 FF7F", "02 FF7F"},
      {327.67, "11 7FFF", "02 7FFF"},
      {327.675, "12 00008000", "03 43A3D666"},
      {21474836.47, "12 7FFFFFFF", "03 4BA3D70A"},
      {21474836.48, "00 4174 7AE1 47AE 147B", "03 4BA3D70A"},
      {0.004999, "10 00", "01 00"},
      {0.005, "10 01", "01 01"},
      {1e-17, "30", "00"}, /* within DBL_EPSILON of the last value 0 */
      {0.1, "10 0A", "01 0A"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[64];
    char want[128];
    alec_encoder *enc = new_encoder(1, 50);
    ck_assert_int_gt(alec_encode_single(enc, 0, 0.0, 0, buf, sizeof buf, NULL), 0);
    int n = alec_encode_single(enc, 0, cases[i].v, 0, buf, sizeof buf, NULL);
    ck_assert_int_gt(n, 11);
    char got[128];
    to_hex(buf + 11, (size_t)n - 11, got);
    squeeze(cases[i].legacy, want);
    ck_assert_msg(strcmp(got, want) == 0, "legacy %.17g: got %s want %s", cases[i].v, got, want);
    alec_encoder_free(enc);

    enc = new_encoder(1, 50);
    double z = 0.0;
    ck_assert_int_gt(alec_encode_fixed(enc, &z, 1, buf, sizeof buf), 0);
    n = alec_encode_fixed(enc, &cases[i].v, 1, buf, sizeof buf);
    ck_assert_int_gt(n, 5);
    to_hex(buf + 5, (size_t)n - 5, got);
    squeeze(cases[i].fixed, want);
    ck_assert_msg(strcmp(got, want) == 0, "fixed %.17g: got %s want %s", cases[i].v, got, want);
    alec_encoder_free(enc);
  }
}
END_TEST

START_TEST(argument_checks) {
  alec_encoder *enc = new_encoder(1, 50);
  uint8_t buf[ALEC_FRAME_MAX];
  double v[300];
  for (int i = 0; i < 300; i++)
    v[i] = i;
  ck_assert_int_eq(alec_encode_fixed(enc, v, 0, buf, sizeof buf), ALEC_ECHANNELS);
  ck_assert_int_eq(alec_encode_fixed(enc, v, 65, buf, sizeof buf), ALEC_ECHANNELS);
  ck_assert_int_eq(alec_encode_multi(enc, v, 256, 0, buf, sizeof buf), ALEC_EINVAL);
  ck_assert_uint_eq(alec_encoder_sequence(enc), 0);
  /* 255 new channels: all P3, all Raw32. */
  ck_assert_int_eq(alec_encode_multi(enc, v, 255, 0, buf, sizeof buf), 13 + 255 * 6);
  ck_assert_int_gt(alec_encode_fixed(enc, v, 64, buf, sizeof buf), 0);
  /* An empty multi frame is legal. */
  ck_assert_int_eq(alec_encode_multi(enc, v, 0, 0, buf, sizeof buf), 13);
  uint8_t b = 0x00;
  ck_assert_int_eq(alec_encoder_downlink(enc, &b, 1), ALEC_EINVAL);
  ck_assert_int_eq(alec_encoder_downlink(enc, &b, 0), ALEC_EINVAL);
  b = 0xFF;
  ck_assert_int_eq(alec_encoder_downlink(enc, &b, 0), ALEC_EINVAL);
  ck_assert_int_eq(alec_encoder_downlink(enc, NULL, 1), ALEC_EINVAL);
  ck_assert_int_eq(alec_encoder_downlink(enc, &b, 1), 0);
  ck_assert_int_eq(alec_encode_single(enc, 1, 1.0, 0, NULL, 10, NULL), ALEC_EINVAL);
  alec_encoder_free(enc);
  ck_assert_int_eq(alec_encoder_new(NULL, NULL), ALEC_EINVAL);
  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.ctx.scale = 0;
  ck_assert_int_lt(alec_encoder_new(&enc, &cfg), 0);
  /* A bounded context refuses a new source before anything is written. */
  alec_encoder_config_init(&cfg);
  cfg.ctx.max_sources = 2;
  ck_assert_int_eq(alec_encoder_new(&enc, &cfg), 0);
  ck_assert_int_gt(alec_encode_single(enc, 1, 1.0, 0, buf, sizeof buf, NULL), 0);
  ck_assert_int_gt(alec_encode_single(enc, 2, 1.0, 0, buf, sizeof buf, NULL), 0);
  ck_assert_int_eq(alec_encode_single(enc, 3, 1.0, 0, buf, sizeof buf, NULL), ALEC_ENOSPC);
  ck_assert_int_eq(alec_encode_fixed(enc, v, 3, buf, sizeof buf), ALEC_ENOSPC);
  ck_assert_uint_eq(alec_encoder_sequence(enc), 2);
  alec_encoder_free(enc);
}
END_TEST

/* ------------------------------------------------------------ atomicity */

typedef struct {
  uint8_t blob[1 << 16];
  long len;
  uint16_t seq;
} snapshot;

static void take(alec_encoder *enc, snapshot *s) {
  s->len = alec_encoder_save(enc, s->blob, sizeof s->blob);
  ck_assert_int_gt(s->len, 0);
  s->seq = alec_encoder_sequence(enc);
}

static void same(const snapshot *a, const snapshot *b) {
  ck_assert_int_eq(a->len, b->len);
  ck_assert_uint_eq(a->seq, b->seq);
  ck_assert(memcmp(a->blob, b->blob, (size_t)a->len) == 0);
}

/* family 0 single, 1 multi, 2 fixed */
static int encode_any(alec_encoder *enc, int family, const double *v, size_t n, uint8_t *out,
                      size_t cap) {
  switch (family) {
  case 0:
    return alec_encode_single(enc, 7, v[0], 1000, out, cap, NULL);
  case 1:
    return alec_encode_multi(enc, v, n, 1000, out, cap);
  default:
    return alec_encode_fixed(enc, v, n, out, cap);
  }
}

START_TEST(ebufsize_is_atomic) {
  static snapshot before, after;
  for (int reference = 0; reference <= 1; reference++) {
    for (int family = 0; family < 3; family++) {
      alec_encoder *a = new_encoder(reference, 5);
      alec_encoder *b = new_encoder(reference, 5);
      double v[4] = {20.0, 40.0, 60.0, 80.0};
      for (int k = 0; k < 23; k++) {
        uint8_t fa[ALEC_FRAME_MAX], fb[ALEC_FRAME_MAX];
        for (int c = 0; c < 4; c++)
          v[c] += (k % 7 == 3) ? 50.0 : 0.37 * (c + 1);
        if (k == 6)
          v[1] = NAN;
        if (k == 9) {
          alec_encoder_force_keyframe(a);
          alec_encoder_force_keyframe(b);
        }
        int nb = encode_any(b, family, v, 4, fb, sizeof fb);
        ck_assert_int_gt(nb, 0);
        take(a, &before);
        /* Every size below the frame's fails and changes nothing. */
        for (int cap = 0; cap < nb; cap += (cap < 16 ? 1 : 7)) {
          ck_assert_int_eq(encode_any(a, family, v, 4, fa, (size_t)cap), ALEC_EBUFSIZE);
          take(a, &after);
          same(&before, &after);
        }
        int na = encode_any(a, family, v, 4, fa, (size_t)nb);
        ck_assert_int_eq(na, nb);
        ck_assert(memcmp(fa, fb, (size_t)nb) == 0);
        if (k == 6)
          v[1] = 40.0;
      }
      alec_encoder_free(a);
      alec_encoder_free(b);
    }
  }
}
END_TEST

START_TEST(save_load_roundtrip) {
  static uint8_t blob[1 << 16], blob2[1 << 16];
  for (int reference = 0; reference <= 1; reference++) {
    alec_encoder *a = new_encoder(reference, 7);
    double v[3] = {1.0, 2.0, 3.0};
    uint8_t fa[256], fb[256];
    for (int k = 0; k < 30; k++) {
      v[k % 3] += 0.13 * k;
      ck_assert_int_gt(alec_encode_fixed(a, v, 3, fa, sizeof fa), 0);
      ck_assert_int_gt(alec_encode_single(a, 9, v[0], 0, fa, sizeof fa, NULL), 0);
      ck_assert_int_gt(alec_encode_multi(a, v, 3, 0, fa, sizeof fa), 0);
    }
    alec_encoder_force_keyframe(a);
    long need = alec_encoder_save(a, NULL, 0);
    ck_assert_int_gt(need, 24);
    ck_assert_int_eq(alec_encoder_save(a, blob, (size_t)need - 1), ALEC_EBUFSIZE);
    long len = alec_encoder_save(a, blob, sizeof blob);
    ck_assert_int_eq(len, need);

    alec_encoder *b = new_encoder(reference, 7);
    /* Every corruption is refused and leaves b as it was. */
    long fresh = alec_encoder_save(b, blob2, sizeof blob2);
    for (long i = 0; i < len; i += 3) {
      blob[i] ^= 0x5A;
      ck_assert_int_lt(alec_encoder_load(b, blob, (size_t)len), 0);
      blob[i] ^= 0x5A;
    }
    ck_assert_int_lt(alec_encoder_load(b, blob, (size_t)len - 1), 0);
    ck_assert_int_lt(alec_encoder_load(b, blob, 10), 0);
    ck_assert_int_eq(alec_encoder_save(b, blob2 + 32768, sizeof blob2 - 32768), fresh);
    ck_assert(memcmp(blob2, blob2 + 32768, (size_t)fresh) == 0);
    /* The other mode's state is refused. */
    alec_encoder *other = new_encoder(!reference, 7);
    ck_assert_int_eq(alec_encoder_load(other, blob, (size_t)len), ALEC_EINVAL);
    alec_encoder_free(other);

    ck_assert_int_eq(alec_encoder_load(b, blob, (size_t)len), 0);
    ck_assert_uint_eq(alec_encoder_sequence(a), alec_encoder_sequence(b));
    for (int k = 0; k < 20; k++) {
      v[k % 3] -= 0.29 * k;
      int na = alec_encode_fixed(a, v, 3, fa, sizeof fa);
      int nb = alec_encode_fixed(b, v, 3, fb, sizeof fb);
      ck_assert_int_eq(na, nb);
      ck_assert(memcmp(fa, fb, (size_t)na) == 0);
      na = alec_encode_multi(a, v, 3, 0, fa, sizeof fa);
      nb = alec_encode_multi(b, v, 3, 0, fb, sizeof fb);
      ck_assert_int_eq(na, nb);
      ck_assert(memcmp(fa, fb, (size_t)na) == 0);
      na = alec_encode_single(a, 9, v[1], 0, fa, sizeof fa, NULL);
      nb = alec_encode_single(b, 9, v[1], 0, fb, sizeof fb, NULL);
      ck_assert_int_eq(na, nb);
      ck_assert(memcmp(fa, fb, (size_t)na) == 0);
    }
    alec_encoder_free(a);
    alec_encoder_free(b);
  }
}
END_TEST

/* ------------------------------------------------------------ golden vectors */

#define VEC_MAX_VALUES 512

typedef struct {
  char scenario[128];
  long emitter;
  int has_frame;
  char frame_hex[2 * ALEC_FRAME_MAX + 1];
  int frame_too_long;
  uint64_t ts_ms;
  int encode_error;
  size_t n;
  uint32_t source_id[VEC_MAX_VALUES];
  long name_id[VEC_MAX_VALUES];
  double input[VEC_MAX_VALUES];
} vec_line;

/* A tiny scanner for the fields we need. Keys are unique at the top level
 * except inside "values", which is scanned separately. */
static const char *find_key(const char *s, const char *end, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  size_t pl = strlen(pat);
  for (const char *p = s; p + pl <= end; p++)
    if (*p == '"' && memcmp(p, pat, pl) == 0)
      return p + pl;
  return NULL;
}

static int is_null(const char *p) { return p && strncmp(p, "null", 4) == 0; }

static int copy_string(const char *p, char *out, size_t cap) {
  if (!p || *p != '"')
    return -1;
  p++;
  size_t i = 0;
  while (*p && *p != '"') {
    if (i + 1 >= cap)
      return -2;
    out[i++] = *p++;
  }
  out[i] = '\0';
  return 0;
}

static int parse_vec_line(const char *line, vec_line *v) {
  const char *end = line + strlen(line);
  const char *vals = find_key(line, end, "values");
  if (!vals || *vals != '[')
    return -1;
  const char *vals_end = strchr(vals, ']');
  if (!vals_end)
    return -1;
  /* Top-level keys may sit before or after the values array. */
  const char *p;
  memset(v->scenario, 0, sizeof v->scenario);
  p = find_key(line, vals, "scenario");
  if (copy_string(p, v->scenario, sizeof v->scenario) != 0)
    return -1;
  p = find_key(line, vals, "emitter");
  v->emitter = p ? strtol(p, NULL, 10) : 0;
  p = find_key(line, vals, "frame_hex");
  v->has_frame = p && !is_null(p);
  v->frame_too_long = 0;
  v->frame_hex[0] = '\0';
  if (v->has_frame && copy_string(p, v->frame_hex, sizeof v->frame_hex) != 0)
    v->frame_too_long = 1;
  p = find_key(vals_end, end, "timestamp_ms");
  v->ts_ms = (p && !is_null(p)) ? strtoull(p, NULL, 10) : 0;
  v->encode_error = find_key(vals_end, end, "encode_error") != NULL;

  v->n = 0;
  const char *q = vals + 1;
  while (q < vals_end) {
    const char *obj = strchr(q, '{');
    if (!obj || obj > vals_end)
      break;
    const char *obj_end = strchr(obj, '}');
    if (!obj_end || obj_end > vals_end)
      return -1;
    if (v->n == VEC_MAX_VALUES)
      return -1;
    p = find_key(obj, obj_end, "source_id");
    v->source_id[v->n] = (p && !is_null(p)) ? (uint32_t)strtoul(p, NULL, 10) : 0;
    p = find_key(obj, obj_end, "name_id");
    v->name_id[v->n] = (p && !is_null(p)) ? strtol(p, NULL, 10) : -1;
    p = find_key(obj, obj_end, "input_bits");
    char bits[32];
    if (copy_string(p, bits, sizeof bits) != 0)
      return -1;
    v->input[v->n] = alec_f64_from_bits(strtoull(bits, NULL, 16));
    v->n++;
    q = obj_end + 1;
  }
  return 0;
}

enum { FAM_SINGLE, FAM_MULTI, FAM_FIXED };

typedef struct {
  long frames, matched, rejected_by_design, mismatched;
} vec_stats;

#define VEC_MAX_ENCODERS 64

typedef struct {
  char scenario[128];
  long emitter[VEC_MAX_ENCODERS];
  alec_encoder *enc[VEC_MAX_ENCODERS];
  int n;
} enc_table;

static void table_clear(enc_table *t) {
  for (int i = 0; i < t->n; i++)
    alec_encoder_free(t->enc[i]);
  t->n = 0;
}

static alec_encoder *table_get(enc_table *t, const vec_line *v) {
  if (strcmp(t->scenario, v->scenario) != 0) {
    table_clear(t);
    snprintf(t->scenario, sizeof t->scenario, "%s", v->scenario);
  }
  for (int i = 0; i < t->n; i++)
    if (t->emitter[i] == v->emitter)
      return t->enc[i];
  ck_assert_int_lt(t->n, VEC_MAX_ENCODERS);
  /* The packet-loss scenario without keyframes is the only one run with
   * interval 0; every other one uses the reference default 50. */
  uint32_t kf = strstr(v->scenario, "no_keyframes") ? 0 : 50;
  t->enc[t->n] = new_encoder(1, kf);
  t->emitter[t->n] = v->emitter;
  return t->enc[t->n++];
}

static int run_vectors(const char *rel, int family, vec_stats *st) {
  memset(st, 0, sizeof *st);
  FILE *f = open_shared(rel);
  if (!f)
    return -1;
  static vec_line v;
  static enc_table t;
  memset(&t, 0, sizeof t);
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0, shown = 0;
  while (getline(&line, &cap, f) > 0) {
    lineno++;
    ck_assert_msg(parse_vec_line(line, &v) == 0, "%s:%ld: unparsable", rel, lineno);
    alec_encoder *enc = table_get(&t, &v);
    uint8_t out[ALEC_FRAME_MAX];
    char got[2 * ALEC_FRAME_MAX + 1];
    int n;
    if (family == FAM_SINGLE) {
      if (!v.has_frame) {
        /* Gated emitter: the value was classified and observed, not sent. */
        ck_assert_uint_eq(v.n, 1);
        ck_assert_int_eq(alec_context_observe(alec_encoder_context(enc), v.source_id[0],
                                              v.input[0]),
                         0);
        continue;
      }
      ck_assert_uint_eq(v.n, 1);
      n = alec_encode_single(enc, v.source_id[0], v.input[0], v.ts_ms, out, sizeof out, NULL);
    } else if (family == FAM_MULTI) {
      double row[VEC_MAX_VALUES];
      for (size_t i = 0; i < v.n; i++) {
        long id = v.name_id[i] >= 0 ? v.name_id[i] : (long)i;
        ck_assert_int_lt(id, VEC_MAX_VALUES);
        row[id] = v.input[i];
      }
      n = alec_encode_multi(enc, row, v.n, v.ts_ms, out, sizeof out);
      if (v.n > 255) {
        /* The reference writes a count byte that wrapped (a malformed
         * frame); we refuse such a frame. */
        ck_assert_int_eq(n, ALEC_EINVAL);
        st->rejected_by_design++;
        continue;
      }
    } else {
      n = alec_encode_fixed(enc, v.input, v.n, out, sizeof out);
      if (v.encode_error) {
        st->frames++;
        if (n == ALEC_ECHANNELS)
          st->matched++;
        else
          st->mismatched++;
        continue;
      }
    }
    st->frames++;
    if (n > 0 && v.has_frame && !v.frame_too_long) {
      to_hex(out, (size_t)n, got);
      if (strcmp(got, v.frame_hex) == 0) {
        st->matched++;
        continue;
      }
    }
    st->mismatched++;
    if (shown++ < 5)
      fprintf(stderr, "%s:%ld (%s step): got %s want %s (rc %d)\n", rel, lineno, v.scenario,
              n > 0 ? got : "-", v.frame_hex, n);
  }
  free(line);
  table_clear(&t);
  fclose(f);
  return 0;
}

START_TEST(reference_vectors) {
  static const struct {
    const char *file;
    int family;
  } files[] = {
      {"vectors/s1_single_hvac_24h.jsonl", FAM_SINGLE},
      {"vectors/s1b_single_gated_hvac_24h.jsonl", FAM_SINGLE},
      {"vectors/s2_multi_adaptive_hvac_24h.jsonl", FAM_MULTI},
      {"vectors/s3_fixed_hvac_24h.jsonl", FAM_FIXED},
      {"vectors/s4_fleet.jsonl", FAM_SINGLE},
      {"vectors/s5_hostile_single.jsonl", FAM_SINGLE},
      {"vectors/s5_hostile_multi.jsonl", FAM_MULTI},
      {"vectors/s5_hostile_fixed.jsonl", FAM_FIXED},
  };
  if (!shared_dir()) {
    printf("SKIP reference vectors: ALEC_SHARED not set\n");
    return;
  }
  long total = 0, total_ok = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    vec_stats st;
    if (run_vectors(files[i].file, files[i].family, &st) != 0) {
      printf("SKIP %s: not found under ALEC_SHARED\n", files[i].file);
      continue;
    }
    printf("vectors %-42s %6ld/%6ld frames match", files[i].file, st.matched, st.frames);
    if (st.rejected_by_design)
      printf(" (%ld refused by design: > 255 channels)", st.rejected_by_design);
    printf("\n");
    total += st.frames;
    total_ok += st.matched;
    ck_assert_msg(st.mismatched == 0, "%s: %ld frames differ", files[i].file, st.mismatched);
  }
  printf("vectors total: %ld/%ld frames byte-identical to the reference\n", total_ok, total);
  fflush(stdout);
}
END_TEST

/* ------------------------------------------------------------ closed loop */

typedef struct {
  size_t rows, cols;
  double *v; /* rows x cols */
} dataset;

static int load_csv(const char *rel, dataset *d) {
  FILE *f = open_shared(rel);
  if (!f)
    return -1;
  char *line = NULL;
  size_t cap = 0, alloc = 0;
  d->rows = d->cols = 0;
  d->v = NULL;
  int header = 1;
  while (getline(&line, &cap, f) > 0) {
    if (header) {
      for (char *p = line; *p; p++)
        if (*p == ',')
          d->cols++;
      header = 0;
      ck_assert(d->cols > 0 && d->cols <= 16);
      continue;
    }
    if (d->rows == alloc) {
      alloc = alloc ? alloc * 2 : 1024;
      d->v = realloc(d->v, alloc * d->cols * sizeof *d->v);
      ck_assert_ptr_nonnull(d->v);
    }
    char *p = strchr(line, ',');
    for (size_t c = 0; c < d->cols; c++) {
      ck_assert_ptr_nonnull(p);
      char *e;
      d->v[d->rows * d->cols + c] = strtod(p + 1, &e);
      ck_assert(e != p + 1);
      p = strchr(e, ',');
    }
    d->rows++;
  }
  free(line);
  fclose(f);
  return 0;
}

/* Closed-loop bound: half a quantum per delta, plus float32 rounding of the
 * value where Raw32 (or a repeat of it) carried it, plus a few ulps of f64
 * arithmetic. */
static double bound_for(double v, double scale) {
  return 0.5 / scale + fabs(v) * 0x1p-24 + fabs(v) * 4 * DBL_EPSILON + 1e-12;
}

typedef struct {
  long values, bad, unreliable, decode_errors;
  double max_err;
} accuracy;

static void check_value(accuracy *a, double input, const alec_value *got) {
  a->values++;
  if (got->flags & ALEC_VALUE_UNRELIABLE)
    a->unreliable++;
  if (isnan(input)) {
    if (!isnan(got->value))
      a->bad++;
    return;
  }
  double err = fabs(got->value - input);
  if (!(err <= bound_for(input, 100.0)))
    a->bad++;
  else if (err > a->max_err)
    a->max_err = err;
}

static void run_closed_loop(const dataset *d, int family, accuracy *a, long *bytes) {
  memset(a, 0, sizeof *a);
  *bytes = 0;
  alec_encoder *enc = new_encoder(0, 50);
  alec_decoder *dec = new_decoder();
  alec_value out[ALEC_FIXED_MAX_CHANNELS];
  uint8_t frame[ALEC_FRAME_MAX];
  for (size_t r = 0; r < d->rows; r++) {
    const double *row = d->v + r * d->cols;
    if (family == FAM_SINGLE) {
      for (size_t c = 0; c < d->cols; c++) {
        int n = alec_encode_single(enc, (uint32_t)c + 1, row[c], r * 1000u, frame, sizeof frame,
                                   NULL);
        ck_assert_int_gt(n, 0);
        *bytes += n;
        int k = alec_decoder_decode(dec, ALEC_FORMAT_SINGLE, 0, frame, (size_t)n, out, 1, NULL);
        if (k != 1) {
          a->decode_errors++;
          continue;
        }
        ck_assert_uint_eq(out[0].id, c + 1);
        check_value(a, row[c], &out[0]);
      }
    } else if (family == FAM_MULTI) {
      int n = alec_encode_multi(enc, row, d->cols, r * 1000u, frame, sizeof frame);
      ck_assert_int_gt(n, 0);
      *bytes += n;
      int k = alec_decoder_decode(dec, ALEC_FORMAT_MULTI, 0, frame, (size_t)n, out,
                                  ALEC_FIXED_MAX_CHANNELS, NULL);
      if (k < 0) {
        a->decode_errors++;
        continue;
      }
      for (int i = 0; i < k; i++) {
        ck_assert_uint_lt(out[i].id, d->cols);
        check_value(a, row[out[i].id], &out[i]);
      }
    } else {
      int n = alec_encode_fixed(enc, row, d->cols, frame, sizeof frame);
      ck_assert_int_gt(n, 0);
      *bytes += n;
      int k = alec_decoder_decode(dec, ALEC_FORMAT_FIXED, (unsigned)d->cols, frame, (size_t)n,
                                  out, ALEC_FIXED_MAX_CHANNELS, NULL);
      if (k != (int)d->cols) {
        a->decode_errors++;
        continue;
      }
      for (int i = 0; i < k; i++) {
        ck_assert_uint_eq(out[i].id, (unsigned)i);
        check_value(a, row[i], &out[i]);
      }
    }
  }
  alec_encoder_free(enc);
  alec_decoder_free(dec);
}

START_TEST(closed_loop_datasets) {
  static const char *files[] = {"data/samples/hvac_24h.csv", "data/samples/industrial_1h.csv",
                                "data/samples/smartgrid_24h.csv"};
  static const char *fam[] = {"single", "multi", "fixed"};
  if (!shared_dir()) {
    printf("SKIP closed-loop datasets: ALEC_SHARED not set\n");
    return;
  }
  for (size_t i = 0; i < 3; i++) {
    dataset d;
    if (load_csv(files[i], &d) != 0) {
      printf("SKIP %s: not found under ALEC_SHARED\n", files[i]);
      continue;
    }
    for (int family = 0; family < 3; family++) {
      accuracy a;
      long bytes;
      run_closed_loop(&d, family, &a, &bytes);
      printf("closed loop %-32s %-6s %7ld values, %8ld bytes, max |err| %.6f, %ld unreliable\n",
             files[i], fam[family], a.values, bytes, a.max_err, a.unreliable);
      ck_assert_msg(a.decode_errors == 0, "%s %s: %ld decode errors", files[i], fam[family],
                    a.decode_errors);
      ck_assert_msg(a.bad == 0, "%s %s: %ld values out of bound", files[i], fam[family], a.bad);
      ck_assert_msg(a.unreliable == 0, "%s %s: %ld unreliable", files[i], fam[family],
                    a.unreliable);
      if (family != FAM_MULTI)
        ck_assert_int_eq(a.values, (long)(d.rows * d.cols));
    }
    free(d.v);
  }
  fflush(stdout);
}
END_TEST

/* xorshift64*: deterministic, platform independent. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rng_uniform(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
}

START_TEST(closed_loop_random_walk) {
  const long frames = 1000000;
  alec_encoder *enc = new_encoder(0, 50);
  alec_decoder *dec = new_decoder();
  rng_state = 0x9E3779B97F4A7C15ull;
  double v = 20.0, max_err = 0.0;
  long bad = 0, errors = 0, unreliable = 0, bytes = 0;
  uint8_t frame[64];
  alec_value out[1];
  for (long k = 0; k < frames; k++) {
    /* Noise at three decimals, a drift, and now and then a jump too large
     * for Delta16 so Raw32 shows up too. */
    v += (rng_uniform() - 0.5) * 0.8 + (rng_uniform() - 0.5) * 0.003;
    if (rng_uniform() < 0.001)
      v += (rng_uniform() - 0.5) * 2000.0;
    int n = alec_encode_fixed(enc, &v, 1, frame, sizeof frame);
    if (n <= 0) {
      errors++;
      continue;
    }
    bytes += n;
    if (alec_decoder_decode(dec, ALEC_FORMAT_FIXED, 1, frame, (size_t)n, out, 1, NULL) != 1) {
      errors++;
      continue;
    }
    double err = fabs(out[0].value - v);
    if (!(err <= bound_for(v, 100.0)))
      bad++;
    if (err > max_err)
      max_err = err;
    if (out[0].flags & ALEC_VALUE_UNRELIABLE)
      unreliable++;
  }
  printf("closed loop random walk: %ld fixed frames, %ld bytes, max |err| %.6f\n", frames, bytes,
         max_err);
  fflush(stdout);
  ck_assert_int_eq(errors, 0);
  ck_assert_int_eq(bad, 0);
  ck_assert_int_eq(unreliable, 0);
  alec_encoder_free(enc);
  alec_decoder_free(dec);
}
END_TEST

/* The reference's encoder, in the same conditions, drifts (spec 4.9): the
 * closed loop is what makes the bound hold. Documented by measurement. */
START_TEST(reference_mode_drifts) {
  alec_encoder *enc = new_encoder(1, 0);
  alec_decoder_config dc;
  alec_decoder_config_init(&dc);
  dc.flags = ALEC_DECODER_STRICT_REFERENCE;
  alec_decoder *dec = NULL;
  ck_assert_int_eq(alec_decoder_new(&dec, &dc), 0);
  rng_state = 12345;
  double v = 20.0, max_err = 0.0;
  uint8_t frame[64];
  alec_value out[1];
  for (long k = 0; k < 20000; k++) {
    v += (rng_uniform() - 0.5) * 0.8 + (rng_uniform() - 0.5) * 0.003;
    int n = alec_encode_fixed(enc, &v, 1, frame, sizeof frame);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(alec_decoder_decode(dec, ALEC_FORMAT_FIXED, 1, frame, (size_t)n, out, 1, NULL),
                     1);
    if (fabs(out[0].value - v) > max_err)
      max_err = fabs(out[0].value - v);
  }
  printf("reference mode random walk: 20000 fixed frames, max |err| %.6f\n", max_err);
  fflush(stdout);
  ck_assert_double_gt(max_err, 0.0051);
  alec_encoder_free(enc);
  alec_decoder_free(dec);
}
END_TEST

/* Ramp with a NaN in the middle: the NaN arrives as NaN, the next finite
 * value travels in a resync frame, and everything after it is exact to the
 * bound and reliable. */
START_TEST(closed_loop_nan_recovers) {
  for (int family = 0; family < 3; family++) {
    alec_encoder *enc = new_encoder(0, 1000);
    alec_decoder *dec = new_decoder();
    uint8_t frame[ALEC_FRAME_MAX];
    alec_value out[4];
    for (int k = 0; k < 80; k++) {
      double row[2] = {20.0 + 0.37 * k, 50.0 - 0.21 * k};
      if (k == 40)
        row[0] = NAN;
      if (k == 50)
        row[0] = INFINITY;
      int n = family == FAM_SINGLE
                  ? alec_encode_single(enc, 1, row[0], 0, frame, sizeof frame, NULL)
                  : encode_any(enc, family, row, 2, frame, sizeof frame);
      ck_assert_int_gt(n, 0);
      alec_format fmt = family == FAM_SINGLE  ? ALEC_FORMAT_SINGLE
                        : family == FAM_MULTI ? ALEC_FORMAT_MULTI
                                              : ALEC_FORMAT_FIXED;
      alec_frame_info info;
      int got = alec_decoder_decode(dec, fmt, 2, frame, (size_t)n, out, 4, &info);
      /* A multi frame may carry nothing (every channel P5). */
      ck_assert_msg(got > 0 || (got == 0 && family == FAM_MULTI), "family %d frame %d: %d", family,
                    k, got);
      int after_nonfinite = (k == 41 || k == 51);
      if (after_nonfinite) {
        if (family == FAM_FIXED) {
          ck_assert_uint_eq(frame[0], 0xA1);
          ck_assert_int_eq(frame[5], 0x0F); /* both channels Raw32 */
          ck_assert_int_eq(info.context_mismatch, 1);
        } else {
          ck_assert_uint_eq((frame[0] >> 3) & 7u, ALEC_MSG_RESYNC);
        }
        ck_assert_int_eq(info.resync, 1);
      }
      for (int i = 0; i < got; i++) {
        uint32_t ch = family == FAM_SINGLE ? out[i].id - 1 : out[i].id;
        double want = ch == 0 ? row[0] : row[1];
        if (!isfinite(want)) {
          ck_assert_msg(isnan(want) ? isnan(out[i].value) : out[i].value == want,
                        "non-finite family %d frame %d", family, k);
          ck_assert(out[i].flags & ALEC_VALUE_NONFINITE);
          continue;
        }
        ck_assert_msg(fabs(out[i].value - want) <= bound_for(want, 100.0),
                      "family %d frame %d ch %u: %.17g vs %.17g", family, k, ch, out[i].value,
                      want);
        ck_assert_msg(!(out[i].flags & ALEC_VALUE_UNRELIABLE), "family %d frame %d ch %u unreliable",
                      family, k, ch);
      }
    }
    alec_encoder_free(enc);
    alec_decoder_free(dec);
  }
}
END_TEST

/* A frame that never arrives: the decoder flags what it cannot trust, and is
 * exact again from the next periodic resync / keyframe, or right after a
 * downlink keyframe request. */
START_TEST(closed_loop_loss_recovers) {
  for (int use_downlink = 0; use_downlink <= 1; use_downlink++) {
    for (int family = 0; family < 3; family++) {
      const int interval = 10, lost = 15;
      /* Periodic: a per-source resync at its 10th frame after the last;
       * downlink: the receiver asks right after noticing the gap. */
      const int recovered_at = use_downlink ? lost + 2 : 20;
      alec_encoder *enc = new_encoder(0, use_downlink ? 0 : interval);
      alec_decoder *dec = new_decoder();
      uint8_t frame[ALEC_FRAME_MAX];
      alec_value out[4];
      long unreliable_before = 0;
      for (int k = 0; k < 60; k++) {
        double row[2] = {20.0 + 0.37 * k + 0.05 * (k % 3), 50.0 - 0.21 * k};
        int n = family == FAM_SINGLE
                    ? alec_encode_single(enc, 1, row[0], 0, frame, sizeof frame, NULL)
                    : encode_any(enc, family, row, 2, frame, sizeof frame);
        ck_assert_int_gt(n, 0);
        if (k == lost)
          continue;
        alec_format fmt = family == FAM_SINGLE  ? ALEC_FORMAT_SINGLE
                          : family == FAM_MULTI ? ALEC_FORMAT_MULTI
                                                : ALEC_FORMAT_FIXED;
        alec_frame_info info;
        int got = alec_decoder_decode(dec, fmt, 2, frame, (size_t)n, out, 4, &info);
        ck_assert_msg(got >= 0, "family %d frame %d: %s", family, k, alec_strerror(got));
        if (k == lost + 1) {
          ck_assert_uint_eq(info.gap, 1);
          if (use_downlink) {
            static const uint8_t req = ALEC_DOWNLINK_KEYFRAME;
            ck_assert_int_eq(alec_encoder_downlink(enc, &req, 1), 0);
          }
        }
        for (int i = 0; i < got; i++) {
          uint32_t ch = family == FAM_SINGLE ? out[i].id - 1 : out[i].id;
          double want = ch == 0 ? row[0] : row[1];
          int ok = fabs(out[i].value - want) <= bound_for(want, 100.0);
          if (k < lost) {
            ck_assert(ok);
            ck_assert(!(out[i].flags & ALEC_VALUE_UNRELIABLE));
          } else if (k >= recovered_at) {
            ck_assert_msg(ok, "family %d downlink %d frame %d ch %u: %.17g vs %.17g", family,
                          use_downlink, k, ch, out[i].value, want);
            ck_assert_msg(!(out[i].flags & ALEC_VALUE_UNRELIABLE),
                          "family %d downlink %d frame %d unreliable", family, use_downlink, k);
          } else if (out[i].flags & ALEC_VALUE_UNRELIABLE) {
            unreliable_before++;
          } else {
            /* Whatever the decoder does not flag must be right. */
            ck_assert_msg(ok, "family %d frame %d: unflagged wrong value", family, k);
          }
        }
      }
      alec_encoder_free(enc);
      alec_decoder_free(dec);
    }
  }
}
END_TEST

/* Closed-loop legacy resync cadence: every keyframe_interval frames of a
 * source, its value goes raw in a resync frame. */
START_TEST(closed_loop_resync_cadence) {
  alec_encoder *enc = new_encoder(0, 5);
  uint8_t frame[64];
  for (int k = 0; k < 21; k++) {
    int n = alec_encode_single(enc, 3, 10.0 + 0.01 * k, 0, frame, sizeof frame, NULL);
    ck_assert_int_gt(n, 0);
    int resync = ((frame[0] >> 3) & 7u) == ALEC_MSG_RESYNC;
    ck_assert_int_eq(resync, k > 0 && k % 5 == 0);
    if (resync)
      ck_assert_uint_eq(frame[11], ALEC_ENC_RAW32);
  }
  /* Fixed: keyframes are 0xA1 with a version jump > 256, never 0xA2. */
  uint16_t last_ver = 0;
  for (int k = 0; k < 21; k++) {
    double v = 10.0 + 0.01 * k;
    int n = alec_encode_fixed(enc, &v, 1, frame, sizeof frame);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(frame[0], 0xA1);
    uint16_t ver = (uint16_t)((frame[3] << 8) | frame[4]);
    if (k > 0) {
      uint16_t jump = (uint16_t)(ver - last_ver);
      ck_assert_int_eq(jump > 256, k % 5 == 0);
    }
    last_ver = ver;
  }
  alec_encoder_free(enc);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *encoder_suite(void) {
  Suite *s = suite_create("encoder");
  TCase *tc = tcase_create("classifier");
  tcase_add_test(tc, classifier_rules);
  suite_add_tcase(s, tc);

  tc = tcase_create("reference");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, e1_single_sequence);
  tcase_add_test(tc, e2_checksum);
  tcase_add_test(tc, e4_multi_adaptive);
  tcase_add_test(tc, e5_fixed_forced_keyframe);
  tcase_add_test(tc, fixed_keyframe_interval);
  tcase_add_test(tc, delta_boundaries);
  tcase_add_test(tc, argument_checks);
  tcase_add_test(tc, ebufsize_is_atomic);
  tcase_add_test(tc, save_load_roundtrip);
  tcase_add_test(tc, reference_vectors);
  suite_add_tcase(s, tc);

  tc = tcase_create("closed_loop");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, closed_loop_datasets);
  tcase_add_test(tc, closed_loop_random_walk);
  tcase_add_test(tc, reference_mode_drifts);
  tcase_add_test(tc, closed_loop_nan_recovers);
  tcase_add_test(tc, closed_loop_loss_recovers);
  tcase_add_test(tc, closed_loop_resync_cadence);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(encoder_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
