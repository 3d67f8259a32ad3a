/* SPDX-License-Identifier: MIT */
#ifndef ALEC_WIRE_INT_H
#define ALEC_WIRE_INT_H

/* The wire primitives the decoder runs on every frame or value, as inline
 * bodies (not installed). The exported alec_varint_decode, alec_header_parse
 * and alec_f32/f64_from_bits are these same functions; inside the library
 * they are inlined instead of being called through the PLT, which cost more
 * than their work on a 12-byte frame. The encoder's value conversions
 * (f64 to f32, rounding of a delta) likewise. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alec/error.h"
#include "alec/frame.h"
#include "alec/wire.h"

static inline int wire_varint_decode(const uint8_t *buf, size_t len, uint32_t *out) {
  uint32_t result = 0;
  unsigned shift = 0;
  for (size_t i = 0;; i++) {
    if (i >= len)
      return ALEC_ETRUNC;
    uint8_t b = buf[i];
    /* The reference truncates the shifted group to 32 bits: bits 4..6 of the
     * fifth byte vanish. shift < 32 here, so the shift itself is defined. */
    result |= (uint32_t)(b & 0x7Fu) << shift;
    if ((b & 0x80u) == 0) {
      if (out)
        *out = result;
      return (int)(i + 1);
    }
    shift += 7;
    if (shift >= 32)
      return ALEC_EVARINT;
  }
}

static inline double wire_f64_from_bits(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

static inline float wire_f32_from_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint32_t wire_f32_bits(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

static inline float wire_f64_to_f32(double v) {
  /* C leaves out-of-range conversions undefined (C11 6.3.1.5); Rust gives
   * +/-inf. Values within range but above FLT_MAX round to FLT_MAX or inf
   * per IEEE nearest-even: the cut-off is FLT_MAX + half an ulp (2^104). */
  if (isnan(v))
    return (float)v; /* Annex F: NaN stays NaN, same instruction as Rust's */
  const double lim = 0x1.ffffffp127; /* FLT_MAX + ulp/2: ties round to even = inf */
  if (v >= lim)
    return INFINITY;
  if (v <= -lim)
    return -INFINITY;
  return (float)v;
}

static inline int64_t wire_sat_trunc_i64(double t) {
  if (isnan(t))
    return 0;
  if (t >= 9223372036854775808.0)
    return INT64_MAX;
  if (t < -9223372036854775808.0)
    return INT64_MIN;
  return (int64_t)t;
}

static inline int64_t wire_round_q(double x) {
  double t = (x >= 0.0) ? x + 0.5 : x - 0.5;
  return wire_sat_trunc_i64(t);
}

static inline int wire_header_parse(const uint8_t *buf, size_t len, alec_header *h) {
  /* The reference reports a short header as InvalidHeader, not as a
   * truncation. */
  if (!buf || len < ALEC_HEADER_SIZE)
    return ALEC_EHEADER;
  uint8_t b = buf[0];
  uint8_t prio = b & 7u;
  if (prio > ALEC_P5)
    return ALEC_EHEADER;
  if (h) {
    h->version = (uint8_t)(b >> 6);
    h->msg_type = (uint8_t)((b >> 3) & 7u);
    h->priority = prio;
    h->sequence = alec_rd_be16(buf + 1);
    h->timestamp = alec_rd_be32(buf + 3);
    h->ctx_version = alec_rd_be24(buf + 7);
  }
  return 0;
}

#endif
