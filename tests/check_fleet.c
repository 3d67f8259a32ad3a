/* SPDX-License-Identifier: MIT */
/* Fleet module, shared fleet context and preload files. The scenario tests
 * run the real closed-loop encoder, the wire and the fleet module, as
 * fleet_demo does. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alec/alec.h"
#include "alec/fleet.h"
#include "alec/preload.h"
#include "scenario.h"

/* ------------------------------------------------------------- helpers */

#define MAX_EV 4096

typedef struct evlog {
  size_t n;
  alec_fleet_event ev[MAX_EV];
  unsigned step[MAX_EV];
  unsigned cur;
} evlog;

static void log_cb(const alec_fleet_event *ev, void *arg) {
  evlog *l = arg;
  if (l->n < MAX_EV) {
    l->ev[l->n] = *ev;
    l->ev[l->n].group = NULL; /* only valid during the callback */
    l->step[l->n] = l->cur;
    l->n++;
  }
}

static int is_entry(const alec_fleet_event *e) {
  return e->kind == ALEC_FLEET_EVENT_EMITTER && e->previous == ALEC_FLEET_NORMAL;
}
static int is_exit(const alec_fleet_event *e) {
  return e->kind == ALEC_FLEET_EVENT_EMITTER && e->severity == ALEC_FLEET_NORMAL;
}

/* Runs a scenario through per-emitter closed-loop encoders into a fleet of
 * the default configuration, its events into the cleared log; returns the
 * number of scored emitter-evaluations. */
static uint64_t run_scenario(const alec_scenario *sc, int use_groups, alec_format fmt, evlog *log,
                             alec_fleet **keep) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  if (cfg.max_emitters < sc->emitters) cfg.max_emitters = sc->emitters;
  memset(log, 0, sizeof *log);
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  alec_encoder **enc = calloc(sc->emitters, sizeof *enc);
  ck_assert_ptr_nonnull(enc);
  for (unsigned e = 0; e < sc->emitters; e++) {
    ck_assert_int_eq(alec_encoder_new(&enc[e], NULL), 0);
    const char *g = alec_scenario_group(sc, e);
    if (use_groups && g[0]) ck_assert_int_eq(alec_fleet_set_emitter_group(f, e, g), 0);
  }
  uint8_t fr[ALEC_FRAME_MAX];
  double v[64];
  for (unsigned t = 0; t < sc->steps; t++) {
    log->cur = t;
    for (unsigned e = 0; e < sc->emitters; e++) {
      for (unsigned c = 0; c < sc->channels; c++) v[c] = alec_scenario_value(sc, e, t, c);
      if (fmt == ALEC_FORMAT_FIXED) {
        int n = alec_encode_fixed(enc[e], v, sc->channels, fr, sizeof fr);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(
            alec_fleet_process(f, e, fmt, sc->channels, fr, (size_t)n, t, NULL, 0, NULL),
            (int)sc->channels);
      } else {
        for (unsigned c = 0; c < sc->channels; c++) {
          int n = alec_encode_single(enc[e], c, v[c], (uint64_t)t * 1000, fr, sizeof fr, NULL);
          ck_assert_int_gt(n, 0);
          ck_assert_int_eq(alec_fleet_process(f, e, fmt, 0, fr, (size_t)n, t, NULL, 0, NULL), 1);
        }
      }
    }
    ck_assert_int_ge(alec_fleet_evaluate(f, t, log_cb, log), 0);
  }
  uint64_t evals = 0;
  for (size_t i = 0; i < alec_fleet_emitter_count(f); i++) {
    alec_fleet_emitter_info ei;
    ck_assert_int_eq(alec_fleet_emitter_at(f, i, sc->steps, &ei), 0);
    for (unsigned j = 0; j < ei.n_channels; j++) {
      alec_fleet_channel_info ci;
      ck_assert_int_eq(alec_fleet_get_channel(f, ei.id, j, &ci), 0);
      evals += ci.evaluations;
    }
  }
  for (unsigned e = 0; e < sc->emitters; e++) alec_encoder_free(enc[e]);
  free(enc);
  if (keep)
    *keep = f;
  else
    alec_fleet_free(f);
  return evals;
}

/* One encoder per emitter, one value per frame, for hand-made fleets. */
typedef struct rig {
  alec_fleet *f;
  alec_encoder *enc[64];
} rig;

static void rig_init(rig *r, const alec_fleet_config *cfg) {
  memset(r, 0, sizeof *r);
  ck_assert_int_eq(alec_fleet_new(&r->f, cfg), 0);
}

static int rig_send(rig *r, unsigned e, double value, double now) {
  uint8_t fr[64];
  if (!r->enc[e]) ck_assert_int_eq(alec_encoder_new(&r->enc[e], NULL), 0);
  int n = alec_encode_fixed(r->enc[e], &value, 1, fr, sizeof fr);
  ck_assert_int_gt(n, 0);
  return alec_fleet_process(r->f, e, ALEC_FORMAT_FIXED, 1, fr, (size_t)n, now, NULL, 0, NULL);
}

static void rig_free(rig *r) {
  for (int i = 0; i < 64; i++) alec_encoder_free(r->enc[i]);
  alec_fleet_free(r->f);
}

/* --------------------------------------------------------------- config */

START_TEST(test_config_defaults) {
  alec_fleet_config c;
  char err[160];
  alec_fleet_config_init(&c);
  ck_assert_int_eq(alec_fleet_config_validate(&c, err, sizeof err), 0);
  ck_assert_str_eq(err, "");
  ck_assert(c.z_exit < c.z_enter && c.z_enter < c.z_failure);
  ck_assert_uint_eq(c.min_peers, 3);
  ck_assert(c.mad_floor == 0.01);
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, NULL), 0);
  ck_assert_uint_eq(alec_fleet_get_config(f)->max_emitters, 1000);
  ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  alec_fleet_free(f);
  alec_fleet_free(NULL);
}
END_TEST

START_TEST(test_config_hostile) {
  alec_fleet_config c;
  char err[160];
  alec_fleet *f = (alec_fleet *)1;
#define BAD(stmt, name)                                                                            \
  do {                                                                                             \
    alec_fleet_config_init(&c);                                                                    \
    stmt;                                                                                          \
    ck_assert_int_eq(alec_fleet_config_validate(&c, err, sizeof err), ALEC_EINVAL);                \
    ck_assert_msg(strstr(err, name) != NULL, "error '%s' does not name %s", err, name);            \
    ck_assert_int_eq(alec_fleet_new(&f, &c), ALEC_EINVAL);                                         \
    ck_assert_ptr_null(f);                                                                         \
  } while (0)
  BAD(c.max_emitters = 0, "max_emitters");
  BAD(c.max_emitters = 4000000000u, "max_emitters");
  BAD(c.max_channels = 0, "max_channels");
  BAD(c.max_channels = 100000, "max_channels");
  BAD(c.max_groups = 0, "max_groups");
  BAD(c.emitter_timeout = 0, "emitter_timeout");
  BAD(c.emitter_timeout = -5, "emitter_timeout");
  BAD(c.emitter_timeout = NAN, "emitter_timeout");
  BAD(c.emitter_timeout = INFINITY, "emitter_timeout");
  BAD(c.z_enter = NAN, "z_enter");
  BAD(c.z_enter = -1, "z_enter");
  BAD(c.z_exit = 4.0, "z_exit"); /* above z_enter: no hysteresis */
  BAD(c.z_exit = 0, "z_exit");
  BAD(c.z_failure = 3.0, "z_failure");
  BAD(c.z_failure = NAN, "z_failure");
  BAD(c.enter_count = 0, "enter_count");
  BAD(c.exit_count = 1000000, "exit_count");
  BAD(c.min_peers = 2, "min_peers");
  BAD(c.min_peers = 0, "min_peers");
  BAD(c.mad_floor = 0, "mad_floor");
  BAD(c.mad_floor = -0.01, "mad_floor");
  BAD(c.mad_floor = NAN, "mad_floor");
  BAD(c.level_alpha = 0, "level_alpha");
  BAD(c.level_alpha = 1.5, "level_alpha");
  BAD(c.cusum_k = -1, "cusum_k");
  BAD(c.cusum_h = NAN, "cusum_h");
  BAD(c.cusum_h = -2, "cusum_h");
  BAD(c.baseline_alpha = 0, "baseline_alpha");
  BAD(c.drift_warmup = 0, "drift_warmup");
  BAD(c.sync_interval = -1, "sync_interval");
  BAD(c.sync_interval = NAN, "sync_interval");
  BAD(c.shift_mads = 0, "shift_mads");
  BAD(c.shift_fraction = 1.5, "shift_fraction");
  BAD(c.shift_fraction = 0, "shift_fraction");
  BAD(c.shift_alpha = INFINITY, "shift_alpha");
  BAD(c.pattern_min_count = 1, "pattern_min_count");
  BAD(c.pattern_min_count = 1000, "pattern_min_count");
  BAD(c.decoder.ctx.scale = 0, "decoder");
  BAD(c.fleet_ctx.ema_alpha = NAN, "fleet_ctx");
  ck_assert_int_eq(alec_fleet_config_validate(NULL, err, sizeof err), ALEC_EINVAL);
  /* Legal corner: drift detection off. */
  alec_fleet_config_init(&c);
  c.cusum_h = 0;
  c.sync_interval = 0;
  c.pattern_min_count = 0;
  ck_assert_int_eq(alec_fleet_config_validate(&c, NULL, 0), 0);
}
END_TEST

/* -------------------------------------------------------------- scenarios */

START_TEST(test_scenario_spike) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "spike"), 0);
  static evlog log;
  alec_fleet *f;
  run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, &f);
  unsigned entries = 0;
  for (size_t i = 0; i < log.n; i++) {
    const alec_fleet_event *e = &log.ev[i];
    ck_assert_int_eq(e->kind, ALEC_FLEET_EVENT_EMITTER);
    ck_assert_msg(e->emitter_id == 5, "emitter %llu entered at t=%u",
                  (unsigned long long)e->emitter_id, log.step[i]);
    ck_assert_msg(!is_exit(e), "emitter 5 left the anomaly at t=%u", log.step[i]);
    if (is_entry(e)) {
      entries++;
      ck_assert_uint_ge(log.step[i], 501);
      ck_assert_uint_le(log.step[i], 510);
      ck_assert(e->reason & ALEC_FLEET_REASON_LEVEL);
      ck_assert_uint_eq(e->peers, 10);
      ck_assert(e->score > 3.5);
    }
  }
  ck_assert_uint_eq(entries, 1);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 5, 999, &ei), 0);
  ck_assert_int_ne(ei.state, ALEC_FLEET_NORMAL);
  ck_assert_uint_eq(ei.frames, 1000);
  alec_fleet_stats st;
  alec_fleet_get_stats(f, 999, &st);
  ck_assert_uint_eq(st.anomalous, 1);
  ck_assert_uint_eq(st.anomaly_entries, 1);
  ck_assert_uint_eq(st.frames, 10000);
  ck_assert_uint_eq(st.values, 10000);
  ck_assert_uint_eq(st.raw_bytes, 80000);
  ck_assert(st.compression_ratio > 1.0);
  ck_assert_uint_eq(st.decode_errors, 0);
  ck_assert_uint_eq(st.gaps, 0);
  alec_fleet_free(f);
}
END_TEST

START_TEST(test_scenario_spike_single_frames) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "spike"), 0);
  sc.steps = 600;
  sc.channels = 2;
  static evlog log;
  run_scenario(&sc, 0, ALEC_FORMAT_SINGLE, &log, NULL);
  unsigned entries = 0;
  for (size_t i = 0; i < log.n; i++) {
    ck_assert_uint_eq(log.ev[i].emitter_id, 5);
    ck_assert_uint_eq(log.ev[i].channel, 0); /* the spike is on channel 0 only */
    if (is_entry(&log.ev[i])) {
      entries++;
      ck_assert_uint_ge(log.step[i], 501);
      ck_assert_uint_le(log.step[i], 510);
    }
  }
  ck_assert_uint_eq(entries, 1);
}
END_TEST

START_TEST(test_scenario_recovery) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "recovery"), 0);
  static evlog log;
  run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, NULL);
  unsigned entries = 0, exits = 0;
  for (size_t i = 0; i < log.n; i++) {
    ck_assert_uint_eq(log.ev[i].emitter_id, 5);
    if (is_entry(&log.ev[i])) {
      entries++;
      ck_assert_uint_ge(log.step[i], 501);
      ck_assert_uint_le(log.step[i], 510);
    }
    if (is_exit(&log.ev[i])) {
      exits++;
      ck_assert_uint_gt(log.step[i], 700);
      ck_assert_uint_le(log.step[i], 715);
      ck_assert_int_eq(log.ev[i].severity, ALEC_FLEET_NORMAL);
    }
  }
  ck_assert_uint_eq(entries, 1);
  ck_assert_uint_eq(exits, 1);
}
END_TEST

START_TEST(test_scenario_shift) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "shift"), 0);
  static evlog log;
  run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, NULL);
  unsigned enter = 0, leave = 0;
  for (size_t i = 0; i < log.n; i++) {
    ck_assert_msg(log.ev[i].kind == ALEC_FLEET_EVENT_SHIFT, "emitter %llu event at t=%u",
                  (unsigned long long)log.ev[i].emitter_id, log.step[i]);
    if (log.ev[i].severity == ALEC_FLEET_NORMAL) {
      leave++;
      ck_assert_uint_gt(log.step[i], 503);
    } else {
      enter++;
      ck_assert_uint_ge(log.step[i], 501);
      ck_assert_uint_le(log.step[i], 510);
      ck_assert(log.ev[i].score > 5.0);
      ck_assert_uint_eq(log.ev[i].peers, 10);
    }
  }
  ck_assert_uint_eq(enter, 1);
  ck_assert_uint_eq(leave, 1);
}
END_TEST

START_TEST(test_scenario_groups) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "groups"), 0);
  static evlog log;
  alec_fleet *f;
  run_scenario(&sc, 1, ALEC_FORMAT_FIXED, &log, &f);
  ck_assert_uint_eq(log.n, 0);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 5, 999, &ei), 0);
  ck_assert_str_eq(ei.group, "hall-b");
  ck_assert_int_eq(alec_fleet_get_emitter(f, 4, 999, &ei), 0);
  ck_assert_str_eq(ei.group, "hall-a");
  alec_fleet_free(f);
  /* The same fleet without its groups: the test is not vacuous. */
  run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, NULL);
  unsigned entries = 0;
  for (size_t i = 0; i < log.n; i++)
    if (is_entry(&log.ev[i])) {
      entries++;
      ck_assert_uint_eq(log.ev[i].emitter_id % 3, 2);
    }
  ck_assert_uint_eq(entries, 3);
}
END_TEST

START_TEST(test_scenario_drift) {
  /* Several seeds: the requirement must not hold by luck. */
  for (uint64_t seed = 1; seed <= 8; seed++) {
    alec_scenario sc;
    ck_assert_int_eq(alec_scenario_init(&sc, "drift"), 0);
    sc.seed = seed;
    static evlog log;
    run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, NULL);
    int found = 0;
    for (size_t i = 0; i < log.n; i++) {
      const alec_fleet_event *e = &log.ev[i];
      if (!is_entry(e)) continue;
      ck_assert_msg(e->emitter_id == sc.target, "seed %llu: false entry of emitter %llu at t=%u",
                    (unsigned long long)seed, (unsigned long long)e->emitter_id, log.step[i]);
      if (found) continue;
      found = 1;
      double off = alec_scenario_offset(&sc, sc.target, log.step[i]);
      ck_assert_msg(off > 0, "seed %llu: flagged before the drift began (t=%u)",
                    (unsigned long long)seed, log.step[i]);
      ck_assert_msg(off < 5.0 * e->mad, "seed %llu: flagged at t=%u, offset %.3f >= 5 MAD (%.3f)",
                    (unsigned long long)seed, log.step[i], off, e->mad);
      ck_assert(e->reason & ALEC_FLEET_REASON_DRIFT);
    }
    ck_assert_msg(found, "seed %llu: drift never flagged", (unsigned long long)seed);
  }
}
END_TEST

START_TEST(test_scenario_noisy) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "noisy"), 0);
  ck_assert_uint_eq(sc.emitters, 1000);
  ck_assert_uint_eq(sc.steps, 1000);
  static evlog log;
  uint64_t evals = run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, NULL);
  unsigned entries = 0;
  for (size_t i = 0; i < log.n; i++) {
    ck_assert_int_eq(log.ev[i].kind, ALEC_FLEET_EVENT_EMITTER); /* no fleet shift either */
    entries += is_entry(&log.ev[i]);
  }
  ck_assert_uint_eq(evals, 1000000);
  double rate = (double)entries * 10000.0 / (double)evals;
  printf("noisy 1000x1000: %u false entries in %llu emitter-evaluations = %.4f per 10,000\n",
         entries, (unsigned long long)evals, rate);
  ck_assert_msg(rate < 1.0, "false entry rate %.4f per 10,000", rate);
}
END_TEST

/* ------------------------------------------------------------ mechanics */

START_TEST(test_median_mad_floor) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  rig r;
  rig_init(&r, &cfg);
  static evlog log;
  memset(&log, 0, sizeof log);
  /* 1, 2, 3, 4, 100: median 3, MAD median{2,1,0,1,97} = 1. */
  const double v[5] = {1, 2, 3, 4, 100};
  for (int t = 0; t < 3; t++) {
    for (unsigned e = 0; e < 5; e++) ck_assert_int_eq(rig_send(&r, e, v[e], t), 1);
    ck_assert_int_ge(alec_fleet_evaluate(r.f, t, log_cb, &log), 0);
  }
  alec_fleet_channel_info ci;
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 4, 0, &ci), 0);
  ck_assert_double_eq_tol(ci.score, 0.6745 * 97.0, 1e-4); /* stored as float */
  ck_assert_int_eq(ci.state, ALEC_FLEET_FAILURE);
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 0, 0, &ci), 0);
  ck_assert_double_eq_tol(ci.score, 0.6745 * -2.0, 1e-6);
  ck_assert_uint_eq(log.n, 1);
  ck_assert_uint_eq(log.ev[0].emitter_id, 4);
  ck_assert_double_eq_tol(log.ev[0].median, 3.0, 1e-12);
  ck_assert_double_eq_tol(log.ev[0].mad, 1.0, 1e-12);
  ck_assert_uint_eq(log.ev[0].peers, 5);
  rig_free(&r);

  /* Identical values: MAD 0 is floored at mad_floor (0.01). */
  rig_init(&r, &cfg);
  memset(&log, 0, sizeof log);
  for (int t = 0; t < 5; t++) {
    for (unsigned e = 0; e < 6; e++) ck_assert_int_eq(rig_send(&r, e, e == 5 ? 20.05 : 20.0, t), 1);
    ck_assert_int_ge(alec_fleet_evaluate(r.f, t, log_cb, &log), 0);
  }
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 5, 0, &ci), 0);
  ck_assert_double_eq_tol(ci.score, 0.6745 * 0.05 / 0.01, 1e-3); /* 3.37 < 3.5 */
  ck_assert_uint_eq(log.n, 0);
  rig_free(&r);
}
END_TEST

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double brute_median(double *a, size_t n) {
  qsort(a, n, sizeof *a, cmp_dbl);
  return n % 2 ? a[n / 2] : 0.5 * a[n / 2 - 1] + 0.5 * a[n / 2];
}

START_TEST(test_median_random) {
  /* The quickselect median/MAD against sorting, on random, duplicated,
   * sorted, reversed and constant inputs of odd and even sizes. */
  uint64_t x = 2024;
  for (int trial = 0; trial < 120; trial++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    unsigned n = 3 + (unsigned)(x >> 40) % 150;
    int shape = trial % 6;
    alec_fleet_config cfg;
    alec_fleet_config_init(&cfg);
    alec_fleet *f;
    ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
    for (unsigned e = 0; e < n; e++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      double v;
      switch (shape) {
      case 0: v = (double)((x >> 33) % 1000) / 7.0; break;  /* random */
      case 1: v = (double)((x >> 33) % 4); break;           /* heavy duplicates */
      case 2: v = (double)e; break;                         /* ascending */
      case 3: v = (double)(n - e); break;                   /* descending */
      case 4: v = 5.0; break;                               /* constant: MAD floor */
      default: v = (e % 2 ? 1e6 : -1e6) + (double)e; break; /* two far clusters */
      }
      uint8_t fr[16];
      alec_encoder *enc;
      ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
      int len = alec_encode_fixed(enc, &v, 1, fr, sizeof fr);
      ck_assert_int_eq(
          alec_fleet_process(f, e, ALEC_FORMAT_FIXED, 1, fr, (size_t)len, 0, NULL, 0, NULL), 1);
      alec_encoder_free(enc);
    }
    ck_assert_int_ge(alec_fleet_evaluate(f, 0, NULL, NULL), 0);
    static double lv[200], tmp[200];
    static float sc[200];
    for (unsigned e = 0; e < n; e++) {
      alec_fleet_channel_info ci;
      ck_assert_int_eq(alec_fleet_get_channel(f, e, 0, &ci), 0);
      ck_assert_uint_eq(ci.evaluations, 1);
      lv[e] = ci.level;
      sc[e] = (float)ci.score;
    }
    memcpy(tmp, lv, n * sizeof *lv);
    double med = brute_median(tmp, n);
    for (unsigned e = 0; e < n; e++) tmp[e] = fabs(lv[e] - med);
    double mad = brute_median(tmp, n);
    if (mad < 0.01) mad = 0.01;
    for (unsigned e = 0; e < n; e++) {
      double want = 0.6745 * (lv[e] - med) / mad;
      double tol = 1e-5 * (fabs(want) > 1 ? fabs(want) : 1);
      ck_assert_msg(fabs(sc[e] - want) <= tol, "trial %d shape %d n %u emitter %u: %g vs %g", trial,
                    shape, n, e, (double)sc[e], want);
    }
    alec_fleet_free(f);
  }
}
END_TEST

START_TEST(test_min_peers_and_even_median) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  rig r;
  rig_init(&r, &cfg);
  static evlog log;
  memset(&log, 0, sizeof log);
  /* Two emitters: below min_peers, nothing is scored however far apart. */
  for (int t = 0; t < 10; t++) {
    rig_send(&r, 0, 0.0, t);
    rig_send(&r, 1, 1000.0, t);
    ck_assert_int_eq(alec_fleet_evaluate(r.f, t, log_cb, &log), 0);
  }
  alec_fleet_channel_info ci;
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 1, 0, &ci), 0);
  ck_assert_uint_eq(ci.evaluations, 0);
  ck_assert(ci.score == 0.0);
  /* Four: median of 0, 1000, 10, 20 is 15, MAD of {15, 985, 5, 5} = 10. */
  for (int t = 10; t < 11; t++) {
    rig_send(&r, 0, 0.0, t);
    rig_send(&r, 1, 1000.0, t);
    rig_send(&r, 2, 10.0, t);
    rig_send(&r, 3, 20.0, t);
    alec_fleet_evaluate(r.f, t, log_cb, &log);
  }
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 1, 0, &ci), 0);
  ck_assert_uint_eq(ci.evaluations, 1);
  ck_assert_double_eq_tol(ci.score, 0.6745 * 985.0 / 10.0, 1e-4);
  rig_free(&r);
}
END_TEST

START_TEST(test_only_fresh_active_emitters) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.emitter_timeout = 10;
  rig r;
  rig_init(&r, &cfg);
  for (unsigned e = 0; e < 5; e++) rig_send(&r, e, 20.0 + e, 0);
  ck_assert_int_ge(alec_fleet_evaluate(r.f, 0, NULL, NULL), 0);
  /* Only 3 send again: 3 fresh peers, the silent two are not compared. */
  static evlog log;
  memset(&log, 0, sizeof log);
  for (int t = 1; t < 4; t++) {
    for (unsigned e = 0; e < 3; e++) rig_send(&r, e, 20.0 + e, t);
    alec_fleet_evaluate(r.f, t, log_cb, &log);
  }
  alec_fleet_channel_info ci;
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 4, 0, &ci), 0);
  ck_assert_uint_eq(ci.evaluations, 1);
  ck_assert_int_eq(alec_fleet_get_channel(r.f, 0, 0, &ci), 0);
  ck_assert_uint_eq(ci.evaluations, 4);
  uint64_t ids[8];
  ck_assert_uint_eq(alec_fleet_active_emitters(r.f, 5, ids, 8), 5);
  ck_assert_uint_eq(alec_fleet_active_emitters(r.f, 10.5, ids, 8), 3);
  ck_assert_uint_eq(alec_fleet_active_emitters(r.f, 100, NULL, 0), 0);
  rig_free(&r);
}
END_TEST

START_TEST(test_time_backwards) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.emitter_timeout = 100;
  rig r;
  rig_init(&r, &cfg);
  for (unsigned e = 0; e < 4; e++) ck_assert_int_eq(rig_send(&r, e, 10.0, 1e6), 1);
  ck_assert_int_ge(alec_fleet_evaluate(r.f, 1e6, NULL, NULL), 0);
  /* The clock jumps far back: nothing is stale, nothing wraps. */
  ck_assert_int_eq(alec_fleet_remove_stale(r.f, 0.0), 0);
  ck_assert_int_eq(alec_fleet_remove_stale(r.f, -1e12), 0);
  ck_assert_uint_eq(alec_fleet_emitter_count(r.f), 4);
  ck_assert_uint_eq(alec_fleet_active_emitters(r.f, 5.0, NULL, 0), 4);
  for (unsigned e = 0; e < 4; e++) ck_assert_int_eq(rig_send(&r, e, 10.0, 5.0), 1);
  ck_assert_int_ge(alec_fleet_evaluate(r.f, 5.0, NULL, NULL), 0);
  ck_assert_int_ge(alec_fleet_evaluate(r.f, 4.0, NULL, NULL), 0);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(r.f, 0, 4.0, &ei), 0);
  ck_assert(ei.active);
  ck_assert(ei.last_seen == 5.0);
  ck_assert_uint_eq(ei.frames, 2);
  /* Non-finite time is refused, not stored. */
  uint8_t fr[16];
  double v = 1.0;
  int n = alec_encode_fixed(r.enc[0], &v, 1, fr, sizeof fr);
  ck_assert_int_eq(
      alec_fleet_process(r.f, 0, ALEC_FORMAT_FIXED, 1, fr, (size_t)n, NAN, NULL, 0, NULL),
      ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_evaluate(r.f, INFINITY, NULL, NULL), ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_remove_stale(r.f, NAN), ALEC_EINVAL);
  ck_assert_uint_eq(alec_fleet_emitter_count(r.f), 4);
  rig_free(&r);
}
END_TEST

START_TEST(test_max_emitters) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_emitters = 5;
  rig r;
  rig_init(&r, &cfg);
  for (unsigned e = 0; e < 5; e++) ck_assert_int_eq(rig_send(&r, e, 1.0, 0), 1);
  ck_assert_int_eq(rig_send(&r, 5, 1.0, 0), ALEC_ENOSPC);
  ck_assert_int_eq(rig_send(&r, 6, 1.0, 0), ALEC_ENOSPC);
  ck_assert_uint_eq(alec_fleet_emitter_count(r.f), 5);
  /* Live emitters keep working and are never evicted. */
  for (unsigned e = 0; e < 5; e++) ck_assert_int_eq(rig_send(&r, e, 2.0, 1), 1);
  alec_fleet_stats st;
  alec_fleet_get_stats(r.f, 1, &st);
  ck_assert_uint_eq(st.rejected_emitters, 2);
  ck_assert_uint_eq(st.emitters, 5);
  ck_assert_uint_eq(st.frames, 10);
  /* Room again after a removal. */
  ck_assert_int_eq(alec_fleet_remove_emitter(r.f, 2), 0);
  ck_assert_int_eq(alec_fleet_remove_emitter(r.f, 2), ALEC_ENOTFOUND);
  alec_encoder_free(r.enc[5]);
  r.enc[5] = NULL;
  ck_assert_int_eq(rig_send(&r, 5, 1.0, 2), 1);
  ck_assert_uint_eq(alec_fleet_emitter_count(r.f), 5);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(r.f, 2, 2, &ei), ALEC_ENOTFOUND);
  ck_assert_int_eq(alec_fleet_get_emitter(r.f, 5, 2, &ei), 0);
  rig_free(&r);
}
END_TEST

START_TEST(test_undecodable_frame_no_emitter) {
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, NULL), 0);
  const uint8_t garbage[] = {0xA1, 0x00}; /* truncated fixed header */
  const uint8_t badprio[] = {0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01}; /* priority 7 */
  alec_fleet_value out[4];
  int r1 =
      alec_fleet_process(f, 42, ALEC_FORMAT_FIXED, 1, garbage, sizeof garbage, 0, out, 4, NULL);
  ck_assert_int_lt(r1, 0);
  int r2 =
      alec_fleet_process(f, 43, ALEC_FORMAT_SINGLE, 0, badprio, sizeof badprio, 0, out, 4, NULL);
  ck_assert_int_lt(r2, 0);
  ck_assert_int_lt(alec_fleet_process(f, 44, ALEC_FORMAT_MULTI, 0, NULL, 0, 0, out, 4, NULL), 0);
  ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 42, 0, &ei), ALEC_ENOTFOUND);
  alec_fleet_stats st;
  alec_fleet_get_stats(f, 0, &st);
  ck_assert_uint_eq(st.decode_errors, 3);
  ck_assert_uint_eq(st.unknown_errors, 3);
  ck_assert_uint_eq(st.errors[-r1], r1 == r2 ? 2 : 1);
  ck_assert_uint_eq(st.emitters, 0);
  /* Bad arguments are not decode errors. */
  ck_assert_int_eq(alec_fleet_process(f, 1, ALEC_FORMAT_FIXED, 0, garbage, 2, 0, NULL, 0, NULL),
                   ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process(f, 1, ALEC_FORMAT_FIXED, 65, garbage, 2, 0, NULL, 0, NULL),
                   ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process(f, 1, ALEC_FORMAT_FIXED, 1, garbage, 2, 0, NULL, 4, NULL),
                   ALEC_EINVAL);

  /* A known emitter: errors are counted per kind, replays too. */
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  uint8_t fr[32];
  double v = 21.5;
  int n = alec_encode_fixed(enc, &v, 1, fr, sizeof fr);
  alec_frame_info info;
  ck_assert_int_eq(alec_fleet_process(f, 7, ALEC_FORMAT_FIXED, 1, fr, (size_t)n, 1, out, 4, &info),
                   1);
  ck_assert_uint_eq(out[0].channel, 0);
  ck_assert(out[0].value == 21.5);
  ck_assert_uint_eq(out[0].priority, ALEC_P3);
  ck_assert_uint_eq(out[0].state, ALEC_FLEET_NORMAL);
  ck_assert_uint_eq(out[0].tracked, 1);
  ck_assert_uint_eq(info.n_values, 1);
  ck_assert_int_eq(alec_fleet_process(f, 7, ALEC_FORMAT_FIXED, 1, fr, (size_t)n, 2, out, 4, NULL),
                   ALEC_EREPLAY);
  ck_assert_int_lt(alec_fleet_process(f, 7, ALEC_FORMAT_FIXED, 1, fr, 3, 2, out, 4, NULL), 0);
  ck_assert_int_eq(alec_fleet_get_emitter(f, 7, 2, &ei), 0);
  ck_assert_uint_eq(ei.frames, 1);
  ck_assert_uint_eq(ei.decode_errors, 2);
  ck_assert_uint_eq(ei.replays, 1);
  ck_assert_uint_eq(ei.errors[-ALEC_EREPLAY], 1);
  ck_assert(ei.last_seen == 1.0); /* failed frames do not refresh "last seen" */
  alec_fleet_get_stats(f, 2, &st);
  ck_assert_uint_eq(st.replays, 1);
  ck_assert_uint_eq(st.emitters, 1);
  alec_encoder_free(enc);
  alec_fleet_free(f);
}
END_TEST

START_TEST(test_output_cap_and_nonfinite) {
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, NULL), 0);
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  uint8_t fr[64];
  double v[4] = {1.0, 2.0, NAN, 4.0};
  int n = alec_encode_fixed(enc, v, 4, fr, sizeof fr);
  ck_assert_int_gt(n, 0);
  alec_fleet_value out[2];
  /* Returns the frame's count, writes only what fits. */
  ck_assert_int_eq(alec_fleet_process(f, 1, ALEC_FORMAT_FIXED, 4, fr, (size_t)n, 0, out, 2, NULL),
                   4);
  ck_assert(out[0].value == 1.0 && out[1].value == 2.0);
  ck_assert_uint_eq(out[1].channel, 1);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 1, 0, &ei), 0);
  ck_assert_uint_eq(ei.n_channels, 4);
  ck_assert_uint_eq(ei.nonfinite, 1);
  ck_assert_uint_eq(ei.values, 3); /* the NaN stays out of the statistics */
  alec_fleet_channel_info ci;
  ck_assert_int_eq(alec_fleet_get_channel(f, 1, 2, &ci), 0);
  ck_assert_uint_eq(ci.values, 0);
  ck_assert_int_eq(alec_fleet_get_channel(f, 1, 4, &ci), ALEC_ENOTFOUND);
  /* max_channels bounds what is scored, not what is returned. */
  alec_fleet_free(f);
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_channels = 2;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  alec_encoder_free(enc);
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  v[2] = 3.0;
  n = alec_encode_fixed(enc, v, 4, fr, sizeof fr);
  alec_fleet_value o4[4];
  ck_assert_int_eq(alec_fleet_process(f, 1, ALEC_FORMAT_FIXED, 4, fr, (size_t)n, 0, o4, 4, NULL),
                   4);
  ck_assert_uint_eq(o4[3].tracked, 0);
  ck_assert(o4[3].value == 4.0);
  alec_fleet_stats st;
  alec_fleet_get_stats(f, 0, &st);
  ck_assert_uint_eq(st.untracked_values, 2);
  alec_encoder_free(enc);
  alec_fleet_free(f);
}
END_TEST

START_TEST(test_stale_removal) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.emitter_timeout = 300;
  rig r;
  rig_init(&r, &cfg);
  for (unsigned e = 0; e < 6; e++) rig_send(&r, e, 1.0, 0);
  for (unsigned e = 3; e < 6; e++) rig_send(&r, e, 1.0, 500);
  alec_fleet_stats st;
  alec_fleet_get_stats(r.f, 500, &st);
  ck_assert_uint_eq(st.emitters, 6);
  ck_assert_uint_eq(st.active, 3);
  ck_assert_int_eq(alec_fleet_remove_stale(r.f, 500), 0); /* 500 <= 2 x timeout */
  ck_assert_int_eq(alec_fleet_remove_stale(r.f, 601), 3);
  ck_assert_uint_eq(alec_fleet_emitter_count(r.f), 3);
  alec_fleet_emitter_info ei;
  for (unsigned e = 0; e < 3; e++)
    ck_assert_int_eq(alec_fleet_get_emitter(r.f, e, 601, &ei), ALEC_ENOTFOUND);
  for (unsigned e = 3; e < 6; e++) ck_assert_int_eq(alec_fleet_get_emitter(r.f, e, 601, &ei), 0);
  rig_free(&r);
}
END_TEST

START_TEST(test_emitter_table_churn) {
  /* Many inserts and removals in random order exercise the hash table's
   * backward-shift deletion and the dense array's swap-remove. */
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_emitters = 4000;
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  const uint8_t kf[] = {0xA1, 0x00, 0x00, 0x00, 0x00, 0x03, 0x41, 0xA0, 0x00, 0x00};
  static unsigned char present[4000];
  memset(present, 0, sizeof present);
  uint64_t x = 12345;
  for (int round = 0; round < 20000; round++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    unsigned k = (unsigned)(x >> 33) % 4000;
    uint64_t id = (uint64_t)k * 0x9E3779B97F4A7C15ull; /* spread-out ids */
    if (present[k] && (x & 1)) {
      ck_assert_int_eq(alec_fleet_remove_emitter(f, id), 0);
      present[k] = 0;
    } else if (!present[k]) {
      ck_assert_int_eq(
          alec_fleet_process(f, id, ALEC_FORMAT_FIXED, 1, kf, sizeof kf, round, NULL, 0, NULL), 1);
      present[k] = 1;
    }
  }
  size_t n = 0;
  for (unsigned k = 0; k < 4000; k++) {
    alec_fleet_emitter_info ei;
    int r = alec_fleet_get_emitter(f, (uint64_t)k * 0x9E3779B97F4A7C15ull, 0, &ei);
    ck_assert_int_eq(r, present[k] ? 0 : ALEC_ENOTFOUND);
    n += present[k];
  }
  ck_assert_uint_eq(alec_fleet_emitter_count(f), n);
  alec_fleet_free(f);
}
END_TEST

START_TEST(test_groups_api) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_groups = 3; /* "" + 2 */
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  char longname[100];
  memset(longname, 'x', sizeof longname - 1);
  longname[99] = '\0';
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 1, longname), ALEC_ERANGE);
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 1, "a"), 0);
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 2, "b"), 0);
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 3, "c"), ALEC_ENOSPC);
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 3, "a"), 0);
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 3, NULL), ALEC_EINVAL);
  const uint8_t kf[] = {0xA1, 0x00, 0x00, 0x00, 0x00, 0x03, 0x41, 0xA0, 0x00, 0x00};
  ck_assert_int_eq(alec_fleet_process(f, 3, ALEC_FORMAT_FIXED, 1, kf, sizeof kf, 0, NULL, 0, NULL),
                   1);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 3, 0, &ei), 0);
  ck_assert_str_eq(ei.group, "a"); /* assigned before its first frame */
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 3, "b"), 0);
  ck_assert_int_eq(alec_fleet_get_emitter(f, 3, 0, &ei), 0);
  ck_assert_str_eq(ei.group, "b");
  /* The assignment survives removal. */
  ck_assert_int_eq(alec_fleet_remove_emitter(f, 3), 0);
  ck_assert_int_eq(alec_fleet_process(f, 3, ALEC_FORMAT_FIXED, 1, kf, sizeof kf, 1, NULL, 0, NULL),
                   1);
  ck_assert_int_eq(alec_fleet_get_emitter(f, 3, 1, &ei), 0);
  ck_assert_str_eq(ei.group, "b");
  alec_fleet_stats st;
  alec_fleet_get_stats(f, 1, &st);
  ck_assert_uint_eq(st.groups, 1); /* only "b" has an emitter */
  ck_assert_str_eq(alec_fleet_state_name(ALEC_FLEET_NORMAL), "okay");
  ck_assert_str_eq(alec_fleet_state_name(ALEC_FLEET_WARNING), "warning");
  ck_assert_str_eq(alec_fleet_state_name(ALEC_FLEET_FAILURE), "failure");
  alec_fleet_free(f);
}
END_TEST

/* ----------------------------------------------------- fleet context */

START_TEST(test_pattern_promotion) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.sync_interval = 0; /* promotion only on request */
  rig r;
  rig_init(&r, &cfg);
  /* Emitters 0-5 keep reporting 42.0 now and then, emitters 6-9 report 7.5:
   * 42.0 is in 6 of 10 emitters, 7.5 in 4 of 10. */
  for (int t = 0; t < 30; t++)
    for (unsigned e = 0; e < 10; e++) {
      double v = (t % 3 == 0) ? (e < 6 ? 42.0 : 7.5) : 20.0 + 0.37 * e + 0.011 * t;
      ck_assert_int_eq(rig_send(&r, e, v, t), 1);
    }
  double pv[8];
  ck_assert_int_ge(alec_fleet_emitter_patterns(r.f, 0, pv, 8), 1);
  int has42 = 0;
  int np = alec_fleet_emitter_patterns(r.f, 0, pv, 8);
  for (int i = 0; i < np && i < 8; i++) has42 |= pv[i] == 42.0;
  ck_assert(has42);
  /* Receiver-side learning never touches a decoder's dictionary. */
  ck_assert_uint_eq(
      alec_context_pattern_count(alec_decoder_context(alec_fleet_emitter_decoder(r.f, 0))), 0);
  const alec_context *fc = alec_fleet_context_const(r.f);
  ck_assert_uint_eq(alec_context_pattern_count(fc), 0);
  ck_assert_int_eq(alec_fleet_sync_patterns(r.f, 30), 1);
  ck_assert_uint_eq(alec_context_pattern_count(fc), 1);
  alec_pattern_info pi;
  ck_assert_int_eq(alec_context_pattern_at(fc, 0, &pi), 0);
  ck_assert_uint_eq(pi.len, 8);
  uint8_t be[8];
  alec_wr_be64(be, alec_f64_bits(42.0));
  ck_assert_mem_eq(pi.data, be, 8);
  ck_assert(pi.has_value && pi.value == 42.0);
  /* Idempotent. */
  ck_assert_int_eq(alec_fleet_sync_patterns(r.f, 31), 0);
  alec_fleet_stats st;
  alec_fleet_get_stats(r.f, 31, &st);
  ck_assert_uint_eq(st.patterns_promoted, 1);
  ck_assert_uint_ge(st.patterns_learned, 10);
  /* A full fleet dictionary stops promotion without an error (found by
   * fuzz_fleet): 7.5 now in a majority, no room for it. */
  alec_context *wc = alec_fleet_context(r.f);
  int full = 0;
  for (uint64_t k = 0; k < 100000 && !full; k++) {
    uint8_t d[8];
    alec_wr_be64(d, UINT64_C(0x7ff8000000000000) + k);
    uint32_t code;
    int rc = alec_context_register_pattern(wc, d, 8, NULL, &code);
    full = rc == ALEC_ENOSPC;
    ck_assert(rc >= 0 || full);
  }
  ck_assert(full);
  size_t n_full = alec_context_pattern_count(fc);
  for (int t = 31; t < 60; t++)
    for (unsigned e = 0; e < 10; e++) ck_assert_int_eq(rig_send(&r, e, (t % 2 == 0) ? 7.5 : 20.0 + 0.37 * e, t), 1);
  ck_assert_int_eq(alec_fleet_sync_patterns(r.f, 60), 0);
  ck_assert_uint_eq(alec_context_pattern_count(fc), n_full);
  rig_free(&r);
}
END_TEST

START_TEST(test_pattern_sync_interval) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.sync_interval = 10;
  rig r;
  rig_init(&r, &cfg);
  for (int t = 0; t < 25; t++) {
    for (unsigned e = 0; e < 4; e++) rig_send(&r, e, (t % 2) ? 5.0 : 6.0 + e, t);
    alec_fleet_evaluate(r.f, t, NULL, NULL);
  }
  ck_assert_uint_eq(alec_context_pattern_count(alec_fleet_context_const(r.f)), 1);
  rig_free(&r);
}
END_TEST

static char *tmp_path(const char *name) {
  static char buf[512];
  /* The build tree when run by `make check`, else the current directory. */
  const char *dir = getenv("ALEC_BUILDDIR");
  if (!dir || !*dir) dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = ".";
  snprintf(buf, sizeof buf, "%s/check_fleet_%ld_%s", dir, (long)getpid(), name);
  return buf;
}

START_TEST(test_preload_roundtrip) {
  ck_assert_uint_eq(alec_preload_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
  alec_context *a, *b;
  ck_assert_int_eq(alec_context_new(&a, NULL), 0);
  ck_assert_int_eq(alec_context_new(&b, NULL), 0);
  const uint8_t p1[] = {0xAB, 0xCD};
  const uint8_t p2[] = {1, 2, 3, 4, 5, 6, 7, 8};
  ck_assert_int_eq(alec_context_set_pattern(a, 0, p1, 2, 3), 0);
  ck_assert_int_eq(alec_context_set_pattern(a, 7, p2, 8, 1), 0);
  alec_context_set_version(a, 10009);
  long n = alec_preload_write(a, "temperature", 1700000000ull, 12345, NULL, 0);
  ck_assert_int_eq(n, 66 + 4 + (7 + 2) + (7 + 8) + 49 + 6);
  uint8_t buf[256];
  ck_assert_int_eq(alec_preload_write(a, "temperature", 1700000000ull, 12345, buf, 10),
                   ALEC_EBUFSIZE);
  ck_assert_int_eq(alec_preload_write(a, "temperature", 1700000000ull, 12345, buf, sizeof buf), n);
  ck_assert_mem_eq(buf, "ALEC", 4);
  ck_assert_uint_eq(buf[4], 1);
  ck_assert_uint_eq(buf[12], 11); /* sensor_type_len, LE */
  alec_preload_info info;
  ck_assert_int_eq(alec_preload_read(b, buf, (size_t)n, &info), 0);
  ck_assert_uint_eq(info.context_version, 10009);
  ck_assert_str_eq(info.sensor_type, "temperature");
  ck_assert_uint_eq(info.created_timestamp, 1700000000ull);
  ck_assert_uint_eq(info.training_samples, 12345);
  ck_assert_uint_eq(info.dict_count, 2);
  ck_assert_uint_eq(alec_context_version(b), 10009);
  ck_assert_uint_eq(alec_context_pattern_count(b), 2);
  ck_assert_uint_eq(alec_context_hash(a), alec_context_hash(b));
  alec_pattern_info pi;
  ck_assert_int_eq(alec_context_pattern_at(b, 1, &pi), 0);
  ck_assert_uint_eq(pi.code, 7);
  ck_assert_uint_eq(pi.frequency, 1);
  ck_assert_mem_eq(pi.data, p2, 8);

  /* Through files and the fleet: export, import into a fresh fleet. */
  alec_fleet *f, *g;
  ck_assert_int_eq(alec_fleet_new(&f, NULL), 0);
  ck_assert_int_eq(alec_fleet_new(&g, NULL), 0);
  double v = 42.0;
  uint8_t d8[8];
  alec_wr_be64(d8, alec_f64_bits(v));
  uint32_t code;
  ck_assert_int_eq(alec_context_register_pattern(alec_fleet_context(f), d8, 8, &v, &code), 0);
  const char *path = tmp_path("fleet.alec-context");
  ck_assert_int_eq(alec_fleet_export_context(f, path), 0);
  ck_assert_int_eq(alec_fleet_import_context(g, path), 0);
  ck_assert_uint_eq(alec_context_hash(alec_fleet_context_const(f)),
                    alec_context_hash(alec_fleet_context_const(g)));
  ck_assert_uint_eq(alec_context_version(alec_fleet_context_const(g)),
                    alec_context_version(alec_fleet_context_const(f)));
  ck_assert_int_eq(alec_preload_load_file(b, path, &info), 0);
  ck_assert_str_eq(info.sensor_type, "fleet");
  unlink(path);
  ck_assert_int_eq(alec_fleet_import_context(g, path), ALEC_EIO);
  ck_assert_int_eq(alec_fleet_export_context(f, "/nonexistent-dir/x/y"), ALEC_EIO);
  alec_fleet_free(f);
  alec_fleet_free(g);
  alec_context_free(a);
  alec_context_free(b);
}
END_TEST

static void fix_crc(uint8_t *buf, size_t len) {
  uint32_t c = alec_preload_crc32(0, buf, 62);
  c = alec_preload_crc32(c, buf + 66, len - 66);
  for (int i = 0; i < 4; i++) buf[62 + i] = (uint8_t)(c >> (8 * i));
}

START_TEST(test_preload_hostile) {
  alec_context *a, *b;
  ck_assert_int_eq(alec_context_new(&a, NULL), 0);
  ck_assert_int_eq(alec_context_new(&b, NULL), 0);
  const uint8_t p[] = {9, 8, 7};
  ck_assert_int_eq(alec_context_set_pattern(a, 3, p, 3, 2), 0);
  ck_assert_int_eq(alec_context_set_pattern(a, 4, p, 2, 2), 0);
  uint8_t good[256], bad[256];
  long n = alec_preload_write(a, "x", 1, 2, good, sizeof good);
  ck_assert_int_gt(n, 0);
  /* b holds something that must survive every failed load. */
  const uint8_t keep[] = {0x55};
  ck_assert_int_eq(alec_context_set_pattern(b, 0, keep, 1, 1), 0);
  alec_context_set_version(b, 77);
  uint64_t h0 = alec_context_hash(b);

  for (long cut = 0; cut < n; cut++) /* every truncation */
    ck_assert_int_lt(alec_preload_read(b, good, (size_t)cut, NULL), 0);
  memcpy(bad, good, (size_t)n);
  bad[0] = 'X';
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ECORRUPT);
  memcpy(bad, good, (size_t)n);
  bad[n - 1] ^= 1; /* CRC covers the tail */
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ECORRUPT);
  memcpy(bad, good, (size_t)n);
  bad[20] ^= 1; /* ... and the header */
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ECORRUPT);
  /* The reference allocates dict_count entries before any check: 2^30 with
   * a valid CRC must be refused from the length alone. */
  memcpy(bad, good, (size_t)n);
  bad[66] = 0, bad[67] = 0, bad[68] = 0, bad[69] = 0x40;
  fix_crc(bad, (size_t)n);
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ETRUNC);
  memcpy(bad, good, (size_t)n);
  bad[66] = 0xFF, bad[67] = 0xFF, bad[68] = 0xFF, bad[69] = 0xFF;
  fix_crc(bad, (size_t)n);
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ETRUNC);
  /* Duplicate code: second entry's code (offset 70 + 1+3 + 2 + 4 + 1+2) = 3. */
  memcpy(bad, good, (size_t)n);
  bad[70 + 1 + 3 + 6 + 1 + 2] = 3;
  bad[70 + 1 + 3 + 6 + 1 + 2 + 1] = 0;
  fix_crc(bad, (size_t)n);
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ECORRUPT);
  /* Zero-length pattern. */
  memcpy(bad, good, (size_t)n);
  bad[70] = 0;
  fix_crc(bad, (size_t)n);
  ck_assert_int_lt(alec_preload_read(b, bad, (size_t)n, NULL), 0);
  /* Pattern length running past the end. */
  memcpy(bad, good, (size_t)n);
  bad[70] = 255;
  fix_crc(bad, (size_t)n);
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ETRUNC);
  /* Statistics k and model c running past the end. */
  size_t stats = 70 + (1 + 3 + 6) + (1 + 2 + 6);
  memcpy(bad, good, (size_t)n);
  bad[stats + 48] = 200;
  fix_crc(bad, (size_t)n);
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ETRUNC);
  memcpy(bad, good, (size_t)n);
  bad[stats + 49 + 1] = 3;
  fix_crc(bad, (size_t)n);
  ck_assert_int_eq(alec_preload_read(b, bad, (size_t)n, NULL), ALEC_ETRUNC);
  /* More entries than the context may hold. */
  alec_context_config small;
  alec_context_config_init(&small);
  small.max_patterns = 1;
  alec_context *c1;
  ck_assert_int_eq(alec_context_new(&c1, &small), 0);
  ck_assert_int_eq(alec_preload_read(c1, good, (size_t)n, NULL), ALEC_ENOSPC);
  alec_context_free(c1);
  /* Random single-byte mutations with the CRC repaired: never a crash,
   * and a failure never changes the context. */
  uint64_t x = 99;
  for (int i = 0; i < 20000; i++) {
    memcpy(bad, good, (size_t)n);
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    size_t pos = 66 + (size_t)(x >> 33) % (size_t)(n - 66);
    bad[pos] = (uint8_t)(x >> 20);
    fix_crc(bad, (size_t)n);
    alec_context *t;
    ck_assert_int_eq(alec_context_new(&t, NULL), 0);
    ck_assert_int_eq(alec_context_copy(t, b), 0);
    int r = alec_preload_read(t, bad, (size_t)n, NULL);
    if (r < 0) ck_assert_uint_eq(alec_context_hash(t), h0);
    alec_context_free(t);
  }
  ck_assert_uint_eq(alec_context_hash(b), h0);
  ck_assert_uint_eq(alec_context_version(b), 77);
  /* A file that is too big is refused before it is read. */
  const char *path = tmp_path("big.alec-context");
  FILE *fp = fopen(path, "wb");
  ck_assert_ptr_nonnull(fp);
  ck_assert_int_eq(fseek(fp, (long)ALEC_PRELOAD_FILE_MAX + 1, SEEK_SET), 0);
  fputc(0, fp);
  fclose(fp);
  ck_assert_int_eq(alec_preload_load_file(b, path, NULL), ALEC_ERANGE);
  unlink(path);
  ck_assert_int_eq(alec_preload_read(b, good, (size_t)n, NULL), 0);
  ck_assert_uint_eq(alec_context_pattern_count(b), 2);
  alec_context_free(a);
  alec_context_free(b);
}
END_TEST

START_TEST(test_scenario_values) {
  alec_scenario s;
  ck_assert_int_eq(alec_scenario_init(&s, "nope"), ALEC_EINVAL);
  ck_assert_int_eq(alec_scenario_init(&s, NULL), 0);
  ck_assert_int_eq(s.kind, ALEC_SCENARIO_SPIKE);
  ck_assert_double_eq_tol(alec_scenario_value(&s, 3, 0, 0), 21.5, 1e-12);
  ck_assert_double_eq_tol(alec_scenario_value(&s, 5, 501, 0), 20 + 2.5 + sin(5.01) + 20, 1e-12);
  ck_assert_double_eq_tol(alec_scenario_value(&s, 5, 500, 0), 20 + 2.5 + sin(5.0), 1e-12);
  ck_assert_double_eq_tol(alec_scenario_value(&s, 5, 501, 1), 30 + 2.5 + sin(5.01), 1e-12);
  ck_assert_int_eq(alec_scenario_init(&s, "noisy"), 0);
  double a = alec_scenario_value(&s, 17, 33, 0), b = alec_scenario_value(&s, 17, 33, 0);
  ck_assert(a == b); /* pure function */
  double sum = 0, sq = 0;
  for (unsigned i = 0; i < 20000; i++) {
    double g = alec_scenario_gauss(1, i, 2, 3);
    sum += g;
    sq += g * g;
  }
  ck_assert_double_eq_tol(sum / 20000, 0.0, 0.03);
  ck_assert_double_eq_tol(sq / 20000, 1.0, 0.05);
  ck_assert_int_eq(alec_scenario_init(&s, "groups"), 0);
  ck_assert_str_eq(alec_scenario_group(&s, 2), "hall-b");
  ck_assert_str_eq(alec_scenario_group(&s, 3), "hall-a");
  ck_assert_int_eq(alec_scenario_init(&s, "recovery"), 0);
  ck_assert(alec_scenario_expected(&s, 5, 700) && !alec_scenario_expected(&s, 5, 701));
}
END_TEST

START_TEST(test_memory_accounting) {
  alec_scenario sc;
  ck_assert_int_eq(alec_scenario_init(&sc, "spike"), 0);
  sc.steps = 20;
  sc.channels = 4;
  static evlog log;
  alec_fleet *f;
  run_scenario(&sc, 0, ALEC_FORMAT_FIXED, &log, &f);
  alec_fleet_stats st;
  alec_fleet_get_stats(f, 19, &st);
  ck_assert_uint_gt(st.memory_per_emitter, 200);
  ck_assert_uint_lt(st.memory_per_emitter, 64 * 1024);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 0, 19, &ei), 0);
  ck_assert_uint_eq(ei.n_channels, 4);
  ck_assert_uint_gt(ei.memory, 0);
  ck_assert_uint_ge(alec_fleet_memory(f), ei.memory * 10);
  alec_fleet_free(f);
}
END_TEST

/* alec_fleet_process_batch must be n calls of alec_fleet_process: a random
 * stream (new emitters, max_emitters reached, decode errors, bad arguments,
 * unknown emitters, removals and evaluations between batches, one emitter
 * several times in a batch) through two fleets, one frame by frame, one in
 * batches, gives identical results, outputs, emitters and statistics. */
static unsigned bt_rnd(uint64_t *x) {
  *x = *x * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)(*x >> 33);
}

static void count_events(const alec_fleet_event *ev, void *arg) {
  (void)ev;
  ++*(uint64_t *)arg;
}

#define BT_IDS 60
#define BT_FRAMES 4000
#define BT_OUT 8
START_TEST(test_batch_equals_per_frame) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_emitters = 40;
  cfg.min_peers = 3;
  /* fa frame by frame, fb in batches, fc through hints (some scrambled:
   * a wrong hint must cost a lookup, never a wrong emitter). */
  alec_fleet *fa, *fb, *fc;
  ck_assert_int_eq(alec_fleet_new(&fa, &cfg), 0);
  ck_assert_int_eq(alec_fleet_new(&fb, &cfg), 0);
  ck_assert_int_eq(alec_fleet_new(&fc, &cfg), 0);
  static uint32_t hint[4100];
  static alec_fleet_value oc[BT_OUT];
  alec_frame_info ic;
  alec_encoder *enc[BT_IDS];
  for (unsigned i = 0; i < BT_IDS; i++) ck_assert_int_eq(alec_encoder_new(&enc[i], NULL), 0);
  static uint8_t buf[BT_FRAMES][64];
  static alec_fleet_frame fr[BT_FRAMES];
  static alec_fleet_value oa[BT_FRAMES][BT_OUT], ob[BT_FRAMES][BT_OUT];
  static alec_frame_info ia[BT_FRAMES], ib[BT_FRAMES];
  static int ra[BT_FRAMES], rb[BT_FRAMES];
  memset(oa, 0x5a, sizeof oa);
  memset(ob, 0x5a, sizeof ob);
  memset(ia, 0x5a, sizeof ia);
  memset(ib, 0x5a, sizeof ib);
  uint64_t x = 12345;
#define BT_RND() bt_rnd(&x)
  for (unsigned k = 0; k < BT_FRAMES; k++) {
    unsigned id = BT_RND() % BT_IDS;
    unsigned ch = id % 6 + 1;
    double v[6];
    for (unsigned c = 0; c < ch; c++) {
      unsigned r = BT_RND() % 100;
      v[c] = r < 30 ? 20.0 + c : r < 32 ? NAN : 20.0 + c + (double)(BT_RND() % 1000) / 100.0;
      if (id % 10 == 3 && c == 0) v[c] += 50.0; /* a deviating emitter */
    }
    int len = alec_encode_fixed(enc[id], v, ch, buf[k], sizeof buf[k]);
    ck_assert_int_gt(len, 0);
    alec_fleet_frame *f = &fr[k];
    memset(f, 0, sizeof *f);
    f->emitter_id = 1000 + id;
    f->fmt = ALEC_FORMAT_FIXED;
    f->channels = ch;
    f->data = buf[k];
    f->len = (size_t)len;
    unsigned m = BT_RND() % 100;
    if (m < 4) {
      f->len = BT_RND() % (unsigned)len; /* truncated */
    } else if (m < 7) {
      unsigned at = BT_RND() % (unsigned)len;
      buf[k][at] ^= (uint8_t)(1u << (BT_RND() % 8)); /* corrupted */
    } else if (m < 8) {
      f->channels = 0; /* bad argument */
    } else if (m < 10) {
      f->emitter_id = 5000 + BT_RND() % 50; /* unknown emitter, garbage */
      for (int b = 0; b < len; b++) buf[k][b] = (uint8_t)BT_RND();
    } else if (m < 11) {
      f->data = NULL;
      f->len = 0;
    }
    f->cap = BT_RND() % (BT_OUT + 1);
  }
  unsigned k = 0, chunk = 0;
  uint64_t ea = 0, eb = 0;
  while (k < BT_FRAMES) {
    size_t nb = 1 + BT_RND() % 70;
    if (nb > BT_FRAMES - k) nb = BT_FRAMES - k;
    double now = (double)chunk;
    int ok = 0;
    for (size_t j = 0; j < nb; j++) {
      alec_fleet_frame *f = &fr[k + j];
      ra[k + j] = alec_fleet_process(fa, f->emitter_id, f->fmt, f->channels, f->data, f->len, now,
                                     f->cap ? oa[k + j] : NULL, f->cap, &ia[k + j]);
      if (ra[k + j] >= 0) ok++;
    }
    alec_fleet_frame bf[70];
    for (size_t j = 0; j < nb; j++) {
      bf[j] = fr[k + j];
      bf[j].out = bf[j].cap ? ob[k + j] : NULL;
      bf[j].info = (j % 3) ? &ib[k + j] : NULL;
      if (!bf[j].info) ib[k + j] = ia[k + j]; /* not asked for */
    }
    ck_assert_int_eq(alec_fleet_process_batch(fb, bf, nb, now, rb + k), ok);
    for (size_t j = 0; j < nb; j++) {
      ck_assert_int_eq(ra[k + j], rb[k + j]);
      ck_assert(memcmp(oa[k + j], ob[k + j], sizeof oa[0]) == 0);
      ck_assert(memcmp(&ia[k + j], &ib[k + j], sizeof ia[0]) == 0);
    }
    for (size_t j = 0; j < nb; j++) {
      alec_fleet_frame *f = &fr[k + j];
      uint32_t *h = &hint[f->emitter_id - 1000];
      unsigned m = BT_RND() % 10;
      if (m == 0) *h = (uint32_t)BT_RND() % 48; /* wrong, or out of range */
      if (m == 1) *h = UINT32_MAX;
      memset(oc, 0x5a, sizeof oc);
      memset(&ic, 0x5a, sizeof ic);
      double period = -1;
      int rc = alec_fleet_process_hint(fc, h, f->emitter_id, f->fmt, f->channels, f->data, f->len, now,
                                       f->cap ? oc : NULL, f->cap, &ic, &period);
      ck_assert_int_eq(rc, ra[k + j]);
      ck_assert(memcmp(oa[k + j], oc, sizeof oc) == 0);
      if (rc >= 0) {
        ck_assert(memcmp(&ia[k + j], &ic, sizeof ic) == 0);
        ck_assert(period == alec_fleet_emitter_period(fa, f->emitter_id));
      } else {
        ck_assert(period == 0.0);
      }
    }
    k += (unsigned)nb;
    chunk++;
    if (chunk % 5 == 0) {
      uint64_t na = 0, nbv = 0;
      uint64_t nc = 0;
      ck_assert_int_eq(alec_fleet_evaluate(fa, now, count_events, &na),
                       alec_fleet_evaluate(fb, now, count_events, &nbv));
      ck_assert_int_eq(alec_fleet_evaluate(fc, now, count_events, &nc), (int)na);
      ea += na;
      eb += nbv;
    }
    if (chunk % 9 == 0) {
      uint64_t id = 1000 + BT_RND() % BT_IDS;
      int rr = alec_fleet_remove_emitter(fa, id);
      ck_assert_int_eq(rr, alec_fleet_remove_emitter(fb, id));
      ck_assert_int_eq(rr, alec_fleet_remove_emitter(fc, id)); /* the last one's hint now names a moved emitter */
    }
    if (chunk % 13 == 0) {
      uint64_t id = 1000 + BT_RND() % BT_IDS;
      int rg = alec_fleet_set_emitter_group(fa, id, "g1");
      ck_assert_int_eq(rg, alec_fleet_set_emitter_group(fb, id, "g1"));
      ck_assert_int_eq(rg, alec_fleet_set_emitter_group(fc, id, "g1"));
    }
  }
  ck_assert_uint_eq(ea, eb);
  alec_fleet_stats sa, sb;
  alec_fleet_get_stats(fa, (double)chunk, &sa);
  alec_fleet_get_stats(fb, (double)chunk, &sb);
  ck_assert(memcmp(&sa, &sb, sizeof sa) == 0);
  alec_fleet_stats sc;
  alec_fleet_get_stats(fc, (double)chunk, &sc);
  ck_assert(memcmp(&sa, &sc, sizeof sa) == 0);
  /* The stream did reach every case. */
  ck_assert_uint_gt(sa.rejected_emitters, 0);
  ck_assert_uint_gt(sa.unknown_errors, 0);
  ck_assert_uint_gt(sa.decode_errors, sa.unknown_errors);
  ck_assert_uint_eq(sa.emitters, 40);
  ck_assert_uint_eq(alec_fleet_emitter_count(fa), alec_fleet_emitter_count(fb));
  for (size_t i = 0; i < alec_fleet_emitter_count(fa); i++) {
    alec_fleet_emitter_info a, b;
    ck_assert_int_eq(alec_fleet_emitter_at(fa, i, (double)chunk, &a), 0);
    ck_assert_int_eq(alec_fleet_emitter_at(fb, i, (double)chunk, &b), 0);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    ck_assert_int_eq(alec_fleet_emitter_at(fc, i, (double)chunk, &b), 0);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    for (unsigned c = 0;; c++) {
      alec_fleet_channel_info ca, cb;
      int r = alec_fleet_get_channel(fa, a.id, c, &ca);
      ck_assert_int_eq(r, alec_fleet_get_channel(fb, a.id, c, &cb));
      if (r != 0) break;
      ck_assert(memcmp(&ca, &cb, sizeof ca) == 0);
    }
  }
  /* Arguments. */
  ck_assert_int_eq(alec_fleet_process_batch(NULL, fr, 1, 0.0, NULL), ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process_batch(fb, NULL, 1, 0.0, NULL), ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process_batch(fb, fr, 1, NAN, NULL), ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process_batch(fb, NULL, 0, 0.0, NULL), 0);
  uint32_t h0 = 0;
  ck_assert_int_eq(alec_fleet_process_hint(NULL, &h0, 1, ALEC_FORMAT_FIXED, 1, buf[0], 1, 0.0, NULL, 0, NULL, NULL),
                   ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process_hint(fc, NULL, 1, ALEC_FORMAT_FIXED, 1, buf[0], 1, 0.0, NULL, 0, NULL, NULL),
                   ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process_hint(fc, &h0, 1, ALEC_FORMAT_FIXED, 0, buf[0], 1, 0.0, NULL, 0, NULL, NULL),
                   ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_process_hint(fc, &h0, 1, ALEC_FORMAT_FIXED, 1, buf[0], 1, NAN, NULL, 0, NULL, NULL),
                   ALEC_EINVAL);
  ck_assert_uint_eq(h0, 0);
  for (unsigned i = 0; i < BT_IDS; i++) alec_encoder_free(enc[i]);
  alec_fleet_free(fa);
  alec_fleet_free(fb);
  alec_fleet_free(fc);
#undef BT_RND
}
END_TEST

static Suite *fleet_suite(void) {
  Suite *s = suite_create("fleet");
  TCase *tc = tcase_create("config");
  tcase_add_test(tc, test_config_defaults);
  tcase_add_test(tc, test_config_hostile);
  suite_add_tcase(s, tc);
  tc = tcase_create("scenarios");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_scenario_values);
  tcase_add_test(tc, test_scenario_spike);
  tcase_add_test(tc, test_scenario_spike_single_frames);
  tcase_add_test(tc, test_scenario_recovery);
  tcase_add_test(tc, test_scenario_shift);
  tcase_add_test(tc, test_scenario_groups);
  tcase_add_test(tc, test_scenario_drift);
  tcase_add_test(tc, test_scenario_noisy);
  suite_add_tcase(s, tc);
  tc = tcase_create("mechanics");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_median_mad_floor);
  tcase_add_test(tc, test_median_random);
  tcase_add_test(tc, test_min_peers_and_even_median);
  tcase_add_test(tc, test_only_fresh_active_emitters);
  tcase_add_test(tc, test_time_backwards);
  tcase_add_test(tc, test_max_emitters);
  tcase_add_test(tc, test_undecodable_frame_no_emitter);
  tcase_add_test(tc, test_output_cap_and_nonfinite);
  tcase_add_test(tc, test_stale_removal);
  tcase_add_test(tc, test_emitter_table_churn);
  tcase_add_test(tc, test_groups_api);
  tcase_add_test(tc, test_memory_accounting);
  tcase_add_test(tc, test_batch_equals_per_frame);
  suite_add_tcase(s, tc);
  tc = tcase_create("fleet_context");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_pattern_promotion);
  tcase_add_test(tc, test_pattern_sync_interval);
  tcase_add_test(tc, test_preload_roundtrip);
  tcase_add_test(tc, test_preload_hostile);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(fleet_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
