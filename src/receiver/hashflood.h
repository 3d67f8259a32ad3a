/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_HASHFLOOD_H
#define ALEC_RECEIVER_HASHFLOOD_H

/* Emitter ids chosen to collide under the unkeyed finalizer the receiver's
 * tables used before they were keyed (MurmurHash3's fmix64): the attack of
 * docs/SECURITY.md "hash flooding", for the benchmark and the real-daemon
 * test. An attacker who knows an invertible hash picks the hash values and
 * computes the ids: here every id shares the low 32 bits of fmix64(id), so
 * under the old hash they all filled one probe chain. Test code only. */

#include <stdint.h>

static inline uint64_t alec_hashflood_inv_mul_(uint64_t c) {
  uint64_t x = c; /* Newton: correct to 2^k bits after k/3 steps */
  for (int i = 0; i < 6; i++) x *= 2 - c * x;
  return x;
}

static inline uint64_t alec_hashflood_unmix64_(uint64_t y) {
  y ^= y >> 33;
  y *= alec_hashflood_inv_mul_(UINT64_C(0xc4ceb9fe1a85ec53));
  y ^= y >> 33;
  y *= alec_hashflood_inv_mul_(UINT64_C(0xff51afd7ed558ccd));
  y ^= y >> 33;
  return y;
}

/* The k-th colliding id (k >= 0). */
static inline uint64_t alec_hashflood_id(uint64_t k) {
  return alec_hashflood_unmix64_(((k + 1) << 32) | 0x5a5a5a5au);
}

#endif
