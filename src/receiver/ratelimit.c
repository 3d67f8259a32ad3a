/* SPDX-License-Identifier: MIT */
/* Token buckets per emitter in a fixed set-associative table (ratelimit.h). */

#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>

#include "alec/error.h"
#include "alec/hash.h"

#define WAYS 8

typedef struct bucket {
  uint64_t id;
  double tokens;
  double last; /* time of the last refill */
  int used;
} bucket;

struct alec_rl {
  double rate, burst;
  bucket *b;
  size_t set_mask; /* sets - 1 */
  size_t sets;
  uint64_t evictions;
};


int alec_rl_new(alec_rl **out, double rate, double burst, size_t capacity) {
  *out = NULL;
  if (!(rate > 0) || !isfinite(rate) || !(burst >= 1) || !isfinite(burst) || capacity == 0 ||
      capacity > ((size_t)1 << 30))
    return ALEC_EINVAL;
  size_t sets = 1;
  while (sets * WAYS < capacity) sets <<= 1;
  alec_rl *rl = calloc(1, sizeof(*rl));
  if (rl == NULL) return ALEC_ENOMEM;
  rl->b = calloc(sets * WAYS, sizeof(*rl->b));
  if (rl->b == NULL) {
    free(rl);
    return ALEC_ENOMEM;
  }
  rl->rate = rate;
  rl->burst = burst;
  rl->sets = sets;
  rl->set_mask = sets - 1;
  *out = rl;
  return 0;
}

void alec_rl_free(alec_rl *rl) {
  if (rl == NULL) return;
  free(rl->b);
  free(rl);
}

static void refill(const alec_rl *rl, bucket *b, double now) {
  if (now > b->last) {
    b->tokens += (now - b->last) * rl->rate;
    if (b->tokens > rl->burst) b->tokens = rl->burst;
    b->last = now;
  } else if (now < b->last - 1.0) {
    /* The clock stepped back: restart the refill from here. */
    b->last = now;
  }
}

int alec_rl_allow(alec_rl *rl, uint64_t emitter, double now) {
  bucket *set = &rl->b[((size_t)alec_hash_id(emitter) & rl->set_mask) * WAYS];
  bucket *victim = NULL, *hit = NULL;
  for (int i = 0; i < WAYS; i++) {
    bucket *b = &set[i];
    if (b->used && b->id == emitter) {
      hit = b;
      break;
    }
    if (!b->used) {
      if (victim == NULL || victim->used) victim = b;
    } else if (victim == NULL || (victim->used && b->last < victim->last)) {
      victim = b;
    }
  }
  if (hit == NULL) {
    hit = victim;
    if (hit->used) {
      refill(rl, hit, now);
      if (hit->tokens < rl->burst) rl->evictions++;
    }
    hit->used = 1;
    hit->id = emitter;
    hit->tokens = rl->burst;
    hit->last = now;
  } else {
    refill(rl, hit, now);
  }
  if (hit->tokens >= 1.0) {
    hit->tokens -= 1.0;
    return 1;
  }
  return 0;
}

size_t alec_rl_memory(const alec_rl *rl) {
  return rl ? sizeof(*rl) + rl->sets * WAYS * sizeof(*rl->b) : 0;
}

uint64_t alec_rl_evictions(const alec_rl *rl) { return rl ? rl->evictions : 0; }
