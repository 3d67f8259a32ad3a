/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FUZZ_UTIL_H
#define ALEC_FUZZ_UTIL_H

/* Helpers shared by the libFuzzer targets: a bounds-checked reader over the
 * fuzzer's input and an assertion that survives -DNDEBUG (a violated
 * invariant must crash the target so libFuzzer records the input). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                   \
    }                                                                            \
  } while (0)

typedef struct fuzz_in {
  const uint8_t *p;
  size_t n;
} fuzz_in;

static inline size_t fuzz_left(const fuzz_in *in) { return in->n; }

/* Past the end every read yields zeros, so a short input is just a
 * degenerate case of a long one instead of a separate code path. */
static inline uint8_t fuzz_u8(fuzz_in *in) {
  if (in->n == 0) return 0;
  uint8_t v = in->p[0];
  in->p++;
  in->n--;
  return v;
}

static inline uint16_t fuzz_u16(fuzz_in *in) {
  uint16_t hi = fuzz_u8(in);
  return (uint16_t)((hi << 8) | fuzz_u8(in));
}

static inline uint32_t fuzz_u32(fuzz_in *in) {
  uint32_t hi = fuzz_u16(in);
  return (hi << 16) | fuzz_u16(in);
}

static inline uint64_t fuzz_u64(fuzz_in *in) {
  uint64_t hi = fuzz_u32(in);
  return (hi << 32) | fuzz_u32(in);
}

/* Up to want bytes, pointing into the input (never copied). */
static inline const uint8_t *fuzz_bytes(fuzz_in *in, size_t want, size_t *got) {
  if (want > in->n) want = in->n;
  const uint8_t *p = in->p;
  in->p += want;
  in->n -= want;
  *got = want;
  return p;
}

#endif
