/* SPDX-License-Identifier: MIT */
#include "scenario.h"

#include <math.h>
#include <string.h>

#include "alec/error.h"

static const char *const names[ALEC_SCENARIO_COUNT] = {"spike", "recovery", "drift",
                                                       "shift", "groups",   "noisy"};

const char *alec_scenario_name(alec_scenario_kind k) {
  return (unsigned)k < ALEC_SCENARIO_COUNT ? names[k] : "unknown";
}

int alec_scenario_init(alec_scenario *s, const char *name) {
  unsigned k;
  if (s == NULL) return ALEC_EINVAL;
  if (name == NULL) name = "spike";
  for (k = 0; k < ALEC_SCENARIO_COUNT; k++)
    if (strcmp(name, names[k]) == 0) break;
  if (k == ALEC_SCENARIO_COUNT) return ALEC_EINVAL;
  memset(s, 0, sizeof *s);
  s->kind = (alec_scenario_kind)k;
  s->emitters = s->kind == ALEC_SCENARIO_NOISY ? 1000 : 10;
  s->steps = 1000;
  s->channels = 1;
  s->seed = 1;
  s->target = 5;
  s->noise_sd = 0.5;
  return 0;
}

/* splitmix64 finaliser: a counter-based generator, so any (emitter, step)
 * can be produced independently and in any order by any program. */
static uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static double unit_open(uint64_t x) {
  /* 53 random bits mapped into (0, 1): log() below never sees 0. */
  return ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double alec_scenario_gauss(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = mix64(seed ^ mix64(a ^ mix64(b ^ mix64(c))));
  double u1 = unit_open(h);
  double u2 = unit_open(mix64(h));
  /* Box-Muller; cos() keeps one deviate per key. */
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double alec_scenario_offset(const alec_scenario *s, unsigned emitter, unsigned step) {
  switch (s->kind) {
  case ALEC_SCENARIO_SPIKE: return (emitter == s->target && step > 500) ? 20.0 : 0.0;
  case ALEC_SCENARIO_RECOVERY:
    return (emitter == s->target && step > 500 && step <= 700) ? 20.0 : 0.0;
  case ALEC_SCENARIO_DRIFT:
    return (emitter == s->target && step > 300) ? 0.02 * (double)(step - 300) : 0.0;
  case ALEC_SCENARIO_SHIFT: return step > 500 ? 20.0 : 0.0;
  default: return 0.0;
  }
}

int alec_scenario_expected(const alec_scenario *s, unsigned emitter, unsigned step) {
  if (s->kind == ALEC_SCENARIO_SHIFT) return 0; /* a fleet event, not an emitter's */
  return alec_scenario_offset(s, emitter, step) != 0.0;
}

const char *alec_scenario_group(const alec_scenario *s, unsigned emitter) {
  if (s->kind == ALEC_SCENARIO_GROUPS) return emitter % 3 == 2 ? "hall-b" : "hall-a";
  return "";
}

double alec_scenario_value(const alec_scenario *s, unsigned emitter, unsigned step,
                           unsigned channel) {
  double t = (double)step;
  double base = 20.0 + sin(0.01 * t) + 10.0 * (double)channel;
  double v;
  switch (s->kind) {
  case ALEC_SCENARIO_DRIFT:
  case ALEC_SCENARIO_NOISY:
    v = base + s->noise_sd * alec_scenario_gauss(s->seed, emitter, step, channel);
    break;
  case ALEC_SCENARIO_GROUPS:
    v = base + 0.5 * (double)emitter + (emitter % 3 == 2 ? 15.0 : 0.0);
    break;
  default: v = base + 0.5 * (double)emitter; break;
  }
  if (channel == 0) v += alec_scenario_offset(s, emitter, step);
  return v;
}
