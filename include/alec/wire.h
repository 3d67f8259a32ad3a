/* SPDX-License-Identifier: MIT */
#ifndef ALEC_WIRE_H
#define ALEC_WIRE_H

/* Wire primitives shared by every frame family (spec section 1). */

#include <stddef.h>
#include <stdint.h>

#define ALEC_VARINT_MAX 5

/* Unsigned LEB128 exactly as the reference accepts it: at most 5 bytes,
 * bits beyond 32 silently dropped, non-minimal forms accepted.
 * Returns bytes consumed (1..5), ALEC_ETRUNC or ALEC_EVARINT. */
int alec_varint_decode(const uint8_t *buf, size_t len, uint32_t *out);
/* Writes the minimal encoding of v into out (room for 5 bytes); returns its length. */
size_t alec_varint_encode(uint32_t v, uint8_t *out);
size_t alec_varint_size(uint32_t v);

/* Big-endian accessors; the caller has checked the length. */
static inline uint16_t alec_rd_be16(const uint8_t *p) {
  return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}
static inline uint32_t alec_rd_be24(const uint8_t *p) {
  return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t alec_rd_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t alec_rd_be64(const uint8_t *p) {
  return ((uint64_t)alec_rd_be32(p) << 32) | alec_rd_be32(p + 4);
}
static inline void alec_wr_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void alec_wr_be24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}
static inline void alec_wr_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void alec_wr_be64(uint8_t *p, uint64_t v) {
  alec_wr_be32(p, (uint32_t)(v >> 32));
  alec_wr_be32(p + 4, (uint32_t)v);
}

/* Little-endian accessors (the state formats); the caller has checked the length. */
static inline uint16_t alec_rd_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | ((unsigned)p[1] << 8));
}
static inline uint32_t alec_rd_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t alec_rd_le64(const uint8_t *p) {
  return (uint64_t)alec_rd_le32(p) | ((uint64_t)alec_rd_le32(p + 4) << 32);
}
static inline void alec_wr_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void alec_wr_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void alec_wr_le64(uint8_t *p, uint64_t v) {
  alec_wr_le32(p, (uint32_t)v);
  alec_wr_le32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32/ISO-HDLC (zlib's crc32: reflected 0xEDB88320, check value
 * 0xCBF43926), continued from crc (0 to start): the checksum of every saved
 * state format (ALCX, ALDX, ALEX, ALPL, fleet and receiver state files). */
uint32_t alec_crc32(uint32_t crc, const void *p, size_t n);

/* IEEE-754 bit casts (memcpy based, no aliasing UB). */
double alec_f64_from_bits(uint64_t bits);
uint64_t alec_f64_bits(double v);
float alec_f32_from_bits(uint32_t bits);
uint32_t alec_f32_bits(float v);
/* f64 -> f32 as Rust `as f32`: nearest-even, overflow to +/-inf, NaN stays NaN. */
float alec_f64_to_f32(double v);

/* Rust `t as i64`: NaN -> 0, saturating at the i64 limits, else truncation. */
int64_t alec_sat_trunc_i64(double t);
/* The reference delta rounding Q(x) (spec 1.4): half away from zero after the
 * f64 addition, saturating. */
int64_t alec_round_q(double x);

#endif
