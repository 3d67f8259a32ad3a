/* SPDX-License-Identifier: MIT */
#include "tlv.h"

struct tlv_def {
  uint8_t id, type, len, is_signed;
  double divisor;
  const char *name;
};

static const struct tlv_def defs[] = {
#define X_(n, id, ty, l, s, d) {id, ty, l, s, d, #n},
    ALEC_TLV_ITEMS(X_)
#undef X_
};

static const struct tlv_def *find(uint8_t id, uint8_t type) {
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    if (defs[i].id == id && defs[i].type == type) return &defs[i];
  return NULL;
}

int alec_tlv_is_alec_frame(const uint8_t *p, size_t len) {
  return len > 0 && (p[0] == 0xA1 || p[0] == 0xA2);
}

int alec_tlv_parse(const uint8_t *p, size_t len, alec_tlv_item *out, size_t cap, size_t *n) {
  size_t k = 0, i = 0;
  if (n) *n = 0;
  if (!p || len == 0) return ALEC_TLV_EEMPTY;
  while (i < len) {
    if (len - i < 2) return ALEC_TLV_ETRUNCATED;
    const struct tlv_def *d = find(p[i], p[i + 1]);
    if (!d) return ALEC_TLV_EUNKNOWN;
    if (len - i - 2 < d->len) return ALEC_TLV_ETRUNCATED;
    if (k >= cap) return ALEC_TLV_ENOSPC;
    const uint8_t *v = p + i + 2;
    int64_t raw;
    if (d->len == 1) {
      raw = d->is_signed ? (int64_t)(int8_t)v[0] : (int64_t)v[0];
    } else {
      uint16_t u = (uint16_t)(v[0] | (unsigned)v[1] << 8);
      raw = d->is_signed ? (int64_t)(int16_t)u : (int64_t)u;
    }
    out[k].id = d->id;
    out[k].type = d->type;
    out[k].raw = raw;
    out[k].value = (double)raw / d->divisor;
    k++;
    i += 2 + (size_t)d->len;
  }
  if (n) *n = k;
  return 0;
}

const char *alec_tlv_strerror(int err) {
  switch (err) {
  case ALEC_TLV_OK: return "success";
#define X_(n, s, m) case ALEC_TLV_E##n: return m;
    ALEC_TLV_ERRORS(X_)
#undef X_
  }
  return "unknown error";
}

const char *alec_tlv_kind_name(int err) {
  switch (err) {
  case ALEC_TLV_OK: return "ok";
#define X_(n, s, m) case ALEC_TLV_E##n: return #s;
    ALEC_TLV_ERRORS(X_)
#undef X_
  }
  return "unknown";
}

const char *alec_tlv_item_name(uint8_t id, uint8_t type) {
  const struct tlv_def *d = find(id, type);
  return d ? d->name : NULL;
}

