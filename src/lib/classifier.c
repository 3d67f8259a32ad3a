/* SPDX-License-Identifier: MIT */
/* Priority classifier (spec section 5). The priority changes frame bytes
 * (legacy header bits, multi membership and order), so every comparison
 * below keeps the reference's exact form, including how NaN falls through. */

#include "alec/classifier.h"

#include <float.h>
#include <math.h>

#include "alec/error.h"

void alec_classifier_init(alec_classifier *c) {
  c->anomaly_threshold = 0.15;
  c->critical_anomaly_threshold = 0.30;
  c->minimum_delta_threshold = 0.01;
  c->scheduled_interval = 0;
  c->n_critical = 0;
  for (unsigned i = 0; i < ALEC_CLASSIFIER_MAX_CRITICAL; i++) {
    c->critical[i].source_id = 0;
    c->critical[i].min = -INFINITY;
    c->critical[i].max = INFINITY;
  }
}

int alec_classifier_set_critical(alec_classifier *c, uint32_t source_id, double min, double max) {
  if (c == NULL || c->n_critical > ALEC_CLASSIFIER_MAX_CRITICAL) return ALEC_EINVAL;
  for (unsigned i = 0; i < c->n_critical; i++) {
    if (c->critical[i].source_id == source_id) {
      c->critical[i].min = min;
      c->critical[i].max = max;
      return 0;
    }
  }
  if (c->n_critical == ALEC_CLASSIFIER_MAX_CRITICAL) return ALEC_ENOSPC;
  c->critical[c->n_critical].source_id = source_id;
  c->critical[c->n_critical].min = min;
  c->critical[c->n_critical].max = max;
  c->n_critical++;
  return 0;
}

alec_priority alec_classify(const alec_classifier *c, const alec_context *ctx, uint32_t source_id,
                            double value) {
  double pred;
  if (alec_context_predict(ctx, source_id, &pred) != 0) return ALEC_P3;

  double absolute = fabs(value - pred);
  double relative = fabs(pred) > DBL_EPSILON ? absolute / fabs(pred) : absolute;

  /* A corrupted table size must not make us read past the array. */
  unsigned n = c->n_critical < ALEC_CLASSIFIER_MAX_CRITICAL ? c->n_critical
                                                             : ALEC_CLASSIFIER_MAX_CRITICAL;
  for (unsigned i = 0; i < n; i++) {
    if (c->critical[i].source_id != source_id) continue;
    if (value < c->critical[i].min) return ALEC_P1;
    if (value > c->critical[i].max) return ALEC_P1;
    break;
  }

  /* Written as "not <=" so that a NaN relative deviation lands here (P2),
   * as in the reference. */
  if (!(relative <= c->anomaly_threshold))
    return relative > c->critical_anomaly_threshold ? ALEC_P1 : ALEC_P2;
  if (relative < c->minimum_delta_threshold) return ALEC_P5;
  if (c->scheduled_interval > 0) return ALEC_P3;
  return ALEC_P4;
}
