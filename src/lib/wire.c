/* SPDX-License-Identifier: MIT */
#include "alec/wire.h"

#include <math.h>
#include <string.h>

#include "alec/envelope.h"
#include "alec/error.h"
#include "wire_int.h"

int alec_varint_decode(const uint8_t *buf, size_t len, uint32_t *out) {
  return wire_varint_decode(buf, len, out);
}

/* LEB128 writes the same bytes whatever the width of the integer: the u32
 * forms are the envelope's u64 ones (at most 5 bytes for a u32). */
size_t alec_varint_encode(uint32_t v, uint8_t *out) { return alec_uvarint64_encode(v, out); }

size_t alec_varint_size(uint32_t v) { return alec_uvarint64_size(v); }

double alec_f64_from_bits(uint64_t bits) { return wire_f64_from_bits(bits); }

uint64_t alec_f64_bits(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

float alec_f32_from_bits(uint32_t bits) { return wire_f32_from_bits(bits); }

uint32_t alec_f32_bits(float v) { return wire_f32_bits(v); }

float alec_f64_to_f32(double v) { return wire_f64_to_f32(v); }

int64_t alec_sat_trunc_i64(double t) { return wire_sat_trunc_i64(t); }

int64_t alec_round_q(double x) { return wire_round_q(x); }
