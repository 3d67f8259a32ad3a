/* SPDX-License-Identifier: MIT */
/* Token buckets per emitter (ratelimit.h). */

#include "ratelimit.h"

#include <math.h>

#include "alec/error.h"

int alec_rl_init(alec_rl *rl, double rate, double burst) {
  if (!(rate > 0) || !isfinite(rate) || !(burst >= 1) || !isfinite(burst)) return ALEC_EINVAL;
  rl->rate = rate;
  rl->burst = burst;
  return 0;
}

int alec_rl_allow(const alec_rl *rl, alec_rl_bucket *b, double now) {
  if (b->last == 0) {
    /* A full bucket carries no information: it is what a new emitter gets. */
    b->tokens = rl->burst;
    b->last = now;
  } else if (now > b->last) {
    b->tokens += (now - b->last) * rl->rate;
    if (b->tokens > rl->burst) b->tokens = rl->burst;
    b->last = now;
  } else if (now < b->last - 1.0) {
    /* The clock stepped back: restart the refill from here. */
    b->last = now;
  }
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    return 1;
  }
  return 0;
}
