/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FLEET_SCENARIO_H
#define ALEC_FLEET_SCENARIO_H

/* Synthetic fleets shared by fleet_demo, the fleet tests, bench-fleet and
 * alec-send: every value is a pure function of (scenario, emitter, step,
 * channel, seed), so a sender and a test produce exactly the same numbers.
 *
 * Channel 0 is a temperature: 20 + sin(0.01 t) plus a per-scenario part;
 * channel c > 0 follows the same law shifted by 10 c and carries no anomaly.
 *
 *  spike    emitter i: 20 + 0.5 i + sin(0.01 t); the target emitter (5) gets
 *           +20 for every t > 500 (default 10 emitters, 1000 steps)
 *  recovery the same, but the spike ends: +20 only for 500 < t <= 700
 *  drift    20 + sin(0.01 t) + N(0, 0.5^2) per value (a fleet with spread
 *           0.5); the target emitter drifts +0.02 per step from t = 300
 *  shift    as spike without target, the whole fleet gets +20 for t > 500
 *  groups   two peer groups: emitters with i % 3 == 2 are in "hall-b" at
 *           35 + 0.5 i, the others in "hall-a" at 20 + 0.5 i
 *  noisy    20 + sin(0.01 t) + N(0, 0.5^2) per value, no anomaly (default
 *           1000 emitters, 1000 steps)
 */

#include <stdint.h>

typedef enum alec_scenario_kind {
  ALEC_SCENARIO_SPIKE = 0,
  ALEC_SCENARIO_RECOVERY,
  ALEC_SCENARIO_DRIFT,
  ALEC_SCENARIO_SHIFT,
  ALEC_SCENARIO_GROUPS,
  ALEC_SCENARIO_NOISY,
  ALEC_SCENARIO_COUNT
} alec_scenario_kind;

typedef struct alec_scenario {
  alec_scenario_kind kind;
  unsigned emitters; /* >= 1 */
  unsigned steps;    /* t = 0 .. steps-1 */
  unsigned channels; /* 1..64 */
  uint64_t seed;     /* noise (drift, noisy) */
  unsigned target;   /* emitter that deviates (spike, recovery, drift) */
  double noise_sd;   /* drift, noisy: 0.5 */
} alec_scenario;

/* Fills s with the defaults of the named scenario (NULL: "spike").
 * ALEC_EINVAL for an unknown name. */
int alec_scenario_init(alec_scenario *s, const char *name);
const char *alec_scenario_name(alec_scenario_kind k);
double alec_scenario_value(const alec_scenario *s, unsigned emitter, unsigned step,
                           unsigned channel);
/* Peer group of an emitter ("" when the scenario has no groups). */
const char *alec_scenario_group(const alec_scenario *s, unsigned emitter);
/* What the scenario injects into an emitter at a step (0 when nothing): the
 * true offset from normal behaviour, for tests and reports. */
double alec_scenario_offset(const alec_scenario *s, unsigned emitter, unsigned step);
/* 1 if the emitter is meant to be anomalous at that step. */
int alec_scenario_expected(const alec_scenario *s, unsigned emitter, unsigned step);

/* Deterministic standard normal deviate keyed by (seed, a, b, c). */
double alec_scenario_gauss(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

#endif
