/* SPDX-License-Identifier: MIT */
/* libFuzzer target: frame decoding in every family.
 *
 * Input:  fmt(1) cfg(1) { hdr u16 BE, frame[hdr & 0x1FFF] }*
 *   fmt: bits 0-1 format (single, single-xxh32, multi, fixed),
 *        bits 2-7 fixed channel count - 1
 *   cfg: bit 0 strict reference, bit 1 no NaN sanitising, bits 2-3 max
 *        sources {256, 1, 3, 16}, bits 4-5 scale {100, 1, 10, 1000},
 *        bit 6 replay window 2, bit 7 preloaded patterns
 *   hdr: bits 13-15 what to do with the frame: 0-4 decode, 5 decode into a
 *        too small buffer, 6 save/load round trip, 7 decode without info
 * Every frame goes to the same decoder, so its state evolves. A failed
 * decode must leave the decoder byte-for-byte unchanged (its saved blob is
 * the witness), and a second decoder that is never used must not change. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/decoder.h"
#include "alec/error.h"
#include "fuzz_util.h"

#define BLOB_MAX (1u << 20)

static uint8_t *blob(const alec_decoder *dec, size_t *len) {
  long need = alec_decoder_save(dec, NULL, 0);
  FUZZ_CHECK(need > 0 && (size_t)need <= BLOB_MAX);
  uint8_t *b = malloc((size_t)need);
  FUZZ_CHECK(b != NULL);
  long w = alec_decoder_save(dec, b, (size_t)need);
  FUZZ_CHECK(w == need);
  /* One byte less must be refused, not overrun. */
  FUZZ_CHECK(alec_decoder_save(dec, b, (size_t)need - 1) == ALEC_EBUFSIZE);
  *len = (size_t)need;
  return b;
}

static int same_state(const alec_decoder *dec, const uint8_t *ref, size_t ref_len) {
  size_t n;
  uint8_t *b = blob(dec, &n);
  int same = n == ref_len && memcmp(b, ref, n) == 0;
  free(b);
  return same;
}

static void config_from(uint8_t c, alec_decoder_config *cfg) {
  static const uint32_t max_src[4] = {256, 1, 3, 16};
  static const uint32_t scale[4] = {100, 1, 10, 1000};
  alec_decoder_config_init(cfg);
  if (c & 0x01) cfg->flags |= ALEC_DECODER_STRICT_REFERENCE;
  if (c & 0x02) cfg->ctx.sanitize_nonfinite = 0;
  cfg->ctx.max_sources = max_src[(c >> 2) & 3];
  cfg->ctx.scale = scale[(c >> 4) & 3];
  if (c & 0x40) cfg->replay_window = 2;
}

static void preload_patterns(alec_decoder *dec) {
  static const uint8_t pat[3][2] = {{0x01, 0x02}, {0x7F}, {0xAA, 0xBB}};
  static const size_t plen[3] = {2, 1, 2};
  static const double val[3] = {21.5, -3.0, 1e300};
  alec_context *ctx = alec_decoder_context(dec);
  for (int i = 0; i < 3; i++) {
    uint32_t code;
    FUZZ_CHECK(alec_context_register_pattern(ctx, pat[i], plen[i], &val[i], &code) == 0);
  }
}

static void check_result(int rc, alec_format fmt, unsigned channels, size_t len, size_t cap,
                         const alec_value *out, const alec_frame_info *info) {
  if (rc < 0) {
    FUZZ_CHECK(rc >= ALEC_ERROR_MIN);
    FUZZ_CHECK(alec_strerror(rc) != NULL);
    return;
  }
  FUZZ_CHECK((size_t)rc <= cap);
  FUZZ_CHECK(rc <= 255);
  if (fmt == ALEC_FORMAT_FIXED) FUZZ_CHECK((unsigned)rc <= channels);
  if (fmt == ALEC_FORMAT_SINGLE || fmt == ALEC_FORMAT_SINGLE_XXH32) FUZZ_CHECK(rc <= 1);
  for (int i = 0; i < rc; i++) {
    if (fmt == ALEC_FORMAT_FIXED) FUZZ_CHECK(out[i].id < channels);
    FUZZ_CHECK((out[i].flags & ~(unsigned)(ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE |
                                             ALEC_VALUE_RESYNC)) == 0);
  }
  if (info) {
    FUZZ_CHECK(info->format == fmt);
    FUZZ_CHECK(info->n_values == (size_t)rc);
    FUZZ_CHECK(info->n_unreliable <= info->n_values);
    FUZZ_CHECK(info->frame_len <= len);
    FUZZ_CHECK(info->priority <= ALEC_P5);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  uint8_t f = fuzz_u8(&in);
  alec_format fmt = (alec_format)((f & 3) + 1);
  unsigned channels = (unsigned)(f >> 2) + 1;
  uint8_t c = fuzz_u8(&in);
  alec_decoder_config cfg;
  config_from(c, &cfg);

  alec_decoder *dec = NULL, *idle = NULL;
  FUZZ_CHECK(alec_decoder_new(&dec, &cfg) == 0);
  FUZZ_CHECK(alec_decoder_new(&idle, &cfg) == 0);
  if (c & 0x80) preload_patterns(dec);
  size_t idle_len;
  uint8_t *idle_blob = blob(idle, &idle_len);

  alec_value out[256];
  while (fuzz_left(&in) > 0) {
    uint16_t hdr = fuzz_u16(&in);
    unsigned op = hdr >> 13;
    size_t len;
    const uint8_t *frame = fuzz_bytes(&in, hdr & 0x1FFFu, &len);

    if (op == 6) {
      /* Save / load into a fresh decoder must reproduce the same blob. */
      size_t a_len;
      uint8_t *a = blob(dec, &a_len);
      alec_decoder *copy = NULL;
      FUZZ_CHECK(alec_decoder_new(&copy, &cfg) == 0);
      FUZZ_CHECK(alec_decoder_load(copy, a, a_len) == 0);
      FUZZ_CHECK(same_state(copy, a, a_len));
      alec_decoder_free(copy);
      free(a);
      continue;
    }

    size_t cap = op == 5 ? (len & 3u) : sizeof out / sizeof out[0];
    alec_frame_info info;
    alec_frame_info *ip = op == 7 ? NULL : &info;
    size_t before_len;
    uint8_t *before = blob(dec, &before_len);
    int rc = alec_decoder_decode(dec, fmt, channels, frame, len, out, cap, ip);
    check_result(rc, fmt, channels, len, cap, out, ip);
    if (rc < 0) FUZZ_CHECK(same_state(dec, before, before_len));
    free(before);
  }

  FUZZ_CHECK(same_state(idle, idle_blob, idle_len));
  free(idle_blob);
  alec_decoder_free(idle);
  alec_decoder_free(dec);
  return 0;
}
