/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the Milesight TLV parser (src/receiver/tlv.h).
 *
 * Input: byte 0 is the caller's item capacity (0..31), the rest one uplink
 * payload. Oracle: a model parser written here from the ALEC_TLV_ITEMS
 * table (same table, independent walk) gives the same result, the same
 * items and the same values; a refusal reports no items; a payload that
 * starts like an ALEC frame is never a valid TLV frame (the receiver tells
 * the two apart by that first byte). */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "tlv.h"

static const struct {
  uint8_t id, type, len, is_signed;
  double divisor;
} model[] = {
#define X_(n, id, ty, l, s, d) {id, ty, l, s, d},
    ALEC_TLV_ITEMS(X_)
#undef X_
};

#define CAP_MAX 32

static int model_parse(const uint8_t *p, size_t len, size_t cap, alec_tlv_item *out, size_t *n) {
  *n = 0;
  if (len == 0) return ALEC_TLV_EEMPTY;
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    if (i + 2 > len) return ALEC_TLV_ETRUNCATED;
    int m = -1;
    for (size_t j = 0; j < sizeof model / sizeof model[0]; j++)
      if (model[j].id == p[i] && model[j].type == p[i + 1]) m = (int)j;
    if (m < 0) return ALEC_TLV_EUNKNOWN;
    if (i + 2 + model[m].len > len) return ALEC_TLV_ETRUNCATED;
    if (k == cap) return ALEC_TLV_ENOSPC;
    const uint8_t *v = p + i + 2;
    int64_t raw = model[m].len == 1 ? (model[m].is_signed ? (int8_t)v[0] : v[0])
                                    : (model[m].is_signed ? (int16_t)(v[0] | v[1] << 8) : (uint16_t)(v[0] | v[1] << 8));
    out[k].id = p[i];
    out[k].type = p[i + 1];
    out[k].raw = raw;
    out[k].value = (double)raw / model[m].divisor;
    k++;
    i += 2 + model[m].len;
  }
  *n = k;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (n == 0) return 0;
  size_t cap = d[0] % CAP_MAX;
  const uint8_t *p = d + 1;
  size_t len = n - 1;
  alec_tlv_item got[CAP_MAX], want[CAP_MAX];
  size_t gn = 99, wn = 0;
  int r = alec_tlv_parse(len ? p : NULL, len, got, cap, &gn);
  int w = model_parse(p, len, cap, want, &wn);
  FUZZ_CHECK(r == w);
  FUZZ_CHECK(gn == wn);
  if (r != 0) {
    FUZZ_CHECK(gn == 0);
    FUZZ_CHECK(alec_tlv_strerror(r) != NULL && alec_tlv_kind_name(r) != NULL);
    return 0;
  }
  for (size_t i = 0; i < gn; i++) {
    FUZZ_CHECK(got[i].id == want[i].id && got[i].type == want[i].type && got[i].raw == want[i].raw);
    FUZZ_CHECK(got[i].value == want[i].value);
    FUZZ_CHECK(alec_tlv_item_name(got[i].id, got[i].type) != NULL);
  }
  FUZZ_CHECK(!alec_tlv_is_alec_frame(p, len));
  /* The same frame with a larger capacity parses the same. */
  size_t gn2;
  FUZZ_CHECK(alec_tlv_parse(p, len, got, CAP_MAX, &gn2) == 0 && gn2 == gn);
  return 0;
}
