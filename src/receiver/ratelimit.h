/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_RATELIMIT_H
#define ALEC_PLUGIN_RATELIMIT_H

/* Per-emitter token buckets (plugin option RateLimit): each emitter may
 * send `rate` frames per second on average and `burst` frames at once; the
 * frames above are dropped before they are decoded, so one noisy or hostile
 * emitter cannot take the dispatch thread from the others.
 *
 * No table here: the bucket is a field of the receiver's per-emitter record
 * (receiver.c, em_slot), so an emitter costs one keyed lookup per record and
 * the buckets are bounded by what bounds that table. Independent of
 * collectd; internal to the receiver (alec_rl_ prefix). */

#include <stdint.h>

/* The limit, shared by every emitter. */
typedef struct alec_rl {
  double rate, burst;
} alec_rl;

/* One emitter's bucket. All zero: not used yet (full at its first frame). */
typedef struct alec_rl_bucket {
  double tokens;
  double last; /* time of the last refill; 0: new */
} alec_rl_bucket;

/* rate > 0 frames/s, burst >= 1 frames. 0 or ALEC_EINVAL. */
int alec_rl_init(alec_rl *rl, double rate, double burst);

/* 1 if a frame of this emitter arriving at `now` (seconds > 0, any clock
 * that does not jump much; a step backwards only delays the refill) may
 * pass (and takes its token), 0 if it is over the limit. */
int alec_rl_allow(const alec_rl *rl, alec_rl_bucket *b, double now);

#endif
