/* SPDX-License-Identifier: MIT */
#ifndef ALEC_CLASSIFIER_H
#define ALEC_CLASSIFIER_H

/* Priority classifier P1..P5, exactly as the reference (spec section 5). */

#include <stdint.h>

#include "alec/context.h"
#include "alec/frame.h"

#define ALEC_CLASSIFIER_MAX_CRITICAL 64

typedef struct alec_critical_range {
  uint32_t source_id;
  double min; /* -INFINITY: no lower bound */
  double max; /* +INFINITY: no upper bound */
} alec_critical_range;

typedef struct alec_classifier {
  double anomaly_threshold;          /* 0.15 */
  double critical_anomaly_threshold; /* 0.30 */
  double minimum_delta_threshold;    /* 0.01 */
  uint64_t scheduled_interval;       /* 0 */
  unsigned n_critical;
  alec_critical_range critical[ALEC_CLASSIFIER_MAX_CRITICAL];
} alec_classifier;

void alec_classifier_init(alec_classifier *c);
/* Adds or replaces the range of a source; ALEC_ENOSPC past the table size. */
int alec_classifier_set_critical(alec_classifier *c, uint32_t source_id, double min, double max);
alec_priority alec_classify(const alec_classifier *c, const alec_context *ctx, uint32_t source_id,
                            double value);

#endif
