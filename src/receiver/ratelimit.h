/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_RATELIMIT_H
#define ALEC_PLUGIN_RATELIMIT_H

/* Per-emitter token buckets (plugin option RateLimit): each emitter may
 * send `rate` frames per second on average and `burst` frames at once; the
 * frames above are dropped before they are decoded, so one noisy or hostile
 * emitter cannot take the dispatch thread from the others.
 *
 * The table is bounded and allocated once: a set-associative cache of
 * buckets (8 per set). A full bucket carries no information (it is what a
 * new emitter gets), so when a set is full the bucket idle longest is
 * reused; an emitter sending steadily keeps its bucket. Independent of
 * collectd; internal to the plugin (alec_rl_ prefix). */

#include <stddef.h>
#include <stdint.h>

typedef struct alec_rl alec_rl;

/* rate > 0 frames/s, burst >= 1 frames, capacity: emitters tracked at
 * once (rounded up). 0, ALEC_EINVAL or ALEC_ENOMEM. */
int alec_rl_new(alec_rl **out, double rate, double burst, size_t capacity);
void alec_rl_free(alec_rl *rl);

/* 1 if a frame of this emitter arriving at `now` (seconds, any clock that
 * does not jump much; a step backwards only delays the refill) may pass
 * (and takes its token), 0 if it is over the limit. */
int alec_rl_allow(alec_rl *rl, uint64_t emitter, double now);

/* Bytes allocated. */
size_t alec_rl_memory(const alec_rl *rl);
/* Buckets reused for another emitter while not yet full (a flood of new
 * emitter ids in one set). */
uint64_t alec_rl_evictions(const alec_rl *rl);

#endif
