/* SPDX-License-Identifier: MIT */
/* Fleet detection in virtual time at real cadences: the same fleet story
 * told at a 10 ms and at a 10 min reporting period, in lockstep and with
 * every emitter at its own phase, and with periods mixed within one group,
 * must give the same events: entries within 3 of the emitter's own reports
 * after the onset, exits within 5 after the end, one fleet shift for a group
 * that moves as a whole (and none for a slow common cycle), stale emitters
 * and one notification for a group that goes silent at once. The fleet is
 * evaluated after every report, as the receiver does after every batch. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"
#include "alec/fleet.h"
#include "scenario.h"

#define N_EM 24
#define PI 3.14159265358979323846
#define MAX_EV 512

/* Times are in units of the reference period P. */
#define T_END 220.0
#define STEP_ON 60.0 /* emitter 5: +3 (about 12 MADs) on [60, 120) */
#define STEP_OFF 120.0
#define SHIFT_AT 100.0 /* group b (12..23): +4 for good from 100 */
#define LATE_ON 103.0  /* emitter 17: +3 on top of its group, on [103, 160) */
#define LATE_OFF 160.0

typedef struct rec {
  alec_fleet_event ev;
  char group[ALEC_FLEET_GROUP_MAX + 1];
} rec;

typedef struct run {
  double P;             /* reference period (s) */
  double period[N_EM];  /* each emitter's own period (s) */
  double phase[N_EM];   /* first report (s) */
  double dead_from[N_EM]; /* no report at or after this time (s) */
  double end;             /* s, 0: T_END periods */
  size_t n;
  rec ev[MAX_EV];
} run;

static void on_event(const alec_fleet_event *ev, void *arg) {
  run *r = arg;
  if (r->n >= MAX_EV) return;
  r->ev[r->n].ev = *ev;
  snprintf(r->ev[r->n].group, sizeof r->ev[r->n].group, "%s", ev->group);
  r->ev[r->n].ev.group = NULL;
  r->n++;
}

static double truth(const run *r, unsigned e, double t, uint64_t k) {
  double u = t / r->P;
  double v = 20.0 + 0.05 * (e % 12) + 2.0 * sin(2.0 * PI * u / 200.0) +
             0.3 * alec_scenario_gauss(7, e, k, 0);
  if (e == 5 && u >= STEP_ON && u < STEP_OFF) v += 3.0;
  if (e >= 12 && u >= SHIFT_AT) v += 4.0;
  if (e == 17 && u >= LATE_ON && u < LATE_OFF) v += 3.0;
  return v;
}

static alec_fleet_config cadence_config(void) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  /* The one setting that must suit the slowest reporting period. */
  cfg.emitter_timeout = 7200;
  return cfg;
}

/* keep non-NULL: the fleet is handed over instead of freed. */
static void simulate_keep(run *r, alec_fleet **keep) {
  alec_fleet_config cfg = cadence_config();
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  alec_encoder *enc[N_EM];
  uint64_t k[N_EM];
  double next[N_EM];
  for (unsigned e = 0; e < N_EM; e++) {
    ck_assert_int_eq(alec_encoder_new(&enc[e], NULL), 0);
    ck_assert_int_eq(alec_fleet_set_emitter_group(f, e, e < 12 ? "a" : "b"), 0);
    k[e] = 0;
    next[e] = r->phase[e];
  }
  double end = r->end > 0 ? r->end : T_END * r->P;
  uint8_t fr[64];
  for (;;) {
    unsigned e = 0;
    for (unsigned i = 1; i < N_EM; i++)
      if (next[i] < next[e]) e = i;
    double t = next[e];
    if (t >= end) break;
    next[e] = r->phase[e] + (double)(++k[e]) * r->period[e];
    if (t >= r->dead_from[e]) {
      /* Silent: only the clock moves (the receiver's timer). */
      ck_assert_int_ge(alec_fleet_evaluate(f, t, on_event, r), 0);
      continue;
    }
    double v = truth(r, e, t, k[e]);
    int n = alec_encode_fixed(enc[e], &v, 1, fr, sizeof fr);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(alec_fleet_process(f, e, ALEC_FORMAT_FIXED, 1, fr, (size_t)n, t, NULL, 0, NULL),
                     1);
    ck_assert_int_ge(alec_fleet_evaluate(f, t, on_event, r), 0);
  }
  for (unsigned e = 0; e < N_EM; e++) alec_encoder_free(enc[e]);
  if (keep) *keep = f;
  else alec_fleet_free(f);
}

static void simulate(run *r) { simulate_keep(r, NULL); }

/* Reports of emitter e in (from, to]. */
static unsigned reports_between(const run *r, unsigned e, double from, double to) {
  unsigned n = 0;
  for (uint64_t i = 0;; i++) {
    double t = r->phase[e] + (double)i * r->period[e];
    if (t > to) break;
    if (t > from) n++;
  }
  return n;
}

static void setup(run *r, double P, int own_phase, int mixed) {
  memset(r, 0, sizeof *r);
  r->P = P;
  for (unsigned e = 0; e < N_EM; e++) {
    r->period[e] = mixed ? (e % 2 ? 1.5 * P : 0.5 * P) : P;
    r->phase[e] = own_phase ? fmod(0.6180339887 * (e + 1), 1.0) * r->period[e] : 0.0;
    r->dead_from[e] = INFINITY;
  }
}

static void check_story(const run *r, const char *what) {
  unsigned entries5 = 0, exits5 = 0, entries17 = 0, exits17 = 0, shift_on = 0, shift_off = 0;
  for (size_t i = 0; i < r->n; i++) {
    const alec_fleet_event *ev = &r->ev[i].ev;
    double u = ev->time / r->P;
    if (ev->kind == ALEC_FLEET_EVENT_SHIFT) {
      ck_assert_msg(strcmp(r->ev[i].group, "b") == 0, "%s: shift in group %s at %.2f P", what,
                    r->ev[i].group, u);
      if (ev->severity != ALEC_FLEET_NORMAL) {
        shift_on++;
        ck_assert_msg(u > SHIFT_AT && u < SHIFT_AT + 6, "%s: shift entry at %.2f P", what, u);
      } else {
        shift_off++;
      }
      continue;
    }
    ck_assert_msg(ev->kind == ALEC_FLEET_EVENT_EMITTER, "%s: event kind %d at %.2f P", what,
                  ev->kind, u);
    unsigned e = (unsigned)ev->emitter_id;
    ck_assert_msg(e == 5 || e == 17, "%s: emitter %u flagged at %.2f P (z %.2f)", what, e, u,
                  ev->score);
    double on = (e == 5 ? STEP_ON : LATE_ON) * r->P, off = (e == 5 ? STEP_OFF : LATE_OFF) * r->P;
    if (ev->previous == ALEC_FLEET_NORMAL) {
      unsigned late = reports_between(r, e, on, ev->time);
      ck_assert_msg(ev->time > on && late <= 3, "%s: emitter %u entered %u reports after onset",
                    what, e, late);
      if (e == 5) entries5++;
      else entries17++;
    } else if (ev->severity == ALEC_FLEET_NORMAL) {
      unsigned late = reports_between(r, e, off, ev->time);
      ck_assert_msg(ev->time > off && late <= 5, "%s: emitter %u left %u reports after the end",
                    what, e, late);
      if (e == 5) exits5++;
      else exits17++;
    }
  }
  ck_assert_msg(entries5 == 1 && exits5 == 1, "%s: emitter 5: %u entries, %u exits", what,
                entries5, exits5);
  ck_assert_msg(entries17 == 1 && exits17 == 1, "%s: emitter 17: %u entries, %u exits", what,
                entries17, exits17);
  ck_assert_msg(shift_on == 1 && shift_off == 1, "%s: %u shift entries, %u exits", what,
                shift_on, shift_off);
}

static const struct {
  const char *name;
  double P;
  int own_phase, mixed;
} variants[] = {
    {"10 ms lockstep", 0.01, 0, 0},   {"10 ms own phases", 0.01, 1, 0},
    {"10 min lockstep", 600, 0, 0},   {"10 min own phases", 600, 1, 0},
    {"5/15 min mixed", 600, 1, 1},    {"1 s own phases", 1, 1, 0},
    {"50/150 ms mixed", 0.1, 1, 1},
};

START_TEST(test_same_events_at_any_cadence) {
  static run r;
  setup(&r, variants[_i].P, variants[_i].own_phase, variants[_i].mixed);
  simulate(&r);
  check_story(&r, variants[_i].name);
}
END_TEST

/* A dead emitter is STALE after 3 of its periods and OKAY when back; a
 * third of a group silenced at once is one SILENT event, not 4 STALE. The
 * stale horizon is never below 1 s: the fast variants are not run. */
START_TEST(test_stale_and_silent_group) {
  static run r;
  setup(&r, variants[_i].P, variants[_i].own_phase, variants[_i].mixed);
  r.dead_from[3] = 30.0 * r.P; /* dead for good */
  for (unsigned e = 12; e < 16; e++) r.dead_from[e] = 40.0 * r.P;
  simulate(&r);
  unsigned stale3 = 0, others = 0, silent_on = 0;
  for (size_t i = 0; i < r.n; i++) {
    const alec_fleet_event *ev = &r.ev[i].ev;
    double u = ev->time / r.P;
    if (ev->kind == ALEC_FLEET_EVENT_STALE) {
      if (ev->emitter_id == 3) {
        ck_assert_int_eq(ev->severity, ALEC_FLEET_WARNING);
        double silent = (ev->time - 30.0 * r.P) / r.period[3];
        ck_assert_msg(silent >= 2.0 && silent <= 5.0, "%s: stale after %.2f periods",
                      variants[_i].name, silent);
        stale3++;
      } else {
        others++;
      }
    } else if (ev->kind == ALEC_FLEET_EVENT_SILENT) {
      ck_assert_str_eq(r.ev[i].group, "b");
      ck_assert_int_eq(ev->severity, ALEC_FLEET_WARNING);
      ck_assert_msg(u > 40.0 && u < 45.0, "%s: silence at %.2f P", variants[_i].name, u);
      silent_on++;
    }
  }
  ck_assert_msg(stale3 == 1, "%s: %u stale events for emitter 3", variants[_i].name, stale3);
  ck_assert_msg(others == 0, "%s: %u stale events for the silent group", variants[_i].name,
                others);
  ck_assert_uint_eq(silent_on, 1);
}
END_TEST

START_TEST(test_stale_okay_when_back) {
  static run r;
  /* Emitter 3 silent on [30, 40) P: one WARNING, one OKAY. */
  setup(&r, 600, 1, 0);
  alec_fleet_config cfg = cadence_config();
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  alec_encoder *enc[N_EM];
  for (unsigned e = 0; e < N_EM; e++) ck_assert_int_eq(alec_encoder_new(&enc[e], NULL), 0);
  uint8_t fr[64];
  for (unsigned k = 0; k < 60; k++)
    for (unsigned e = 0; e < N_EM; e++) {
      double t = r.phase[e] + k * r.P;
      if (e == 3 && k >= 30 && k < 40) continue;
      double v = truth(&r, e, t, k);
      int n = alec_encode_fixed(enc[e], &v, 1, fr, sizeof fr);
      ck_assert_int_eq(alec_fleet_process(f, e, ALEC_FORMAT_FIXED, 1, fr, (size_t)n, t, NULL, 0,
                                          NULL),
                       1);
      ck_assert_int_ge(alec_fleet_evaluate(f, t, on_event, &r), 0);
    }
  unsigned warn = 0, okay = 0;
  for (size_t i = 0; i < r.n; i++) {
    const alec_fleet_event *ev = &r.ev[i].ev;
    ck_assert_int_eq(ev->kind, ALEC_FLEET_EVENT_STALE);
    ck_assert_uint_eq(ev->emitter_id, 3);
    if (ev->severity == ALEC_FLEET_WARNING) warn++;
    else okay++;
  }
  ck_assert_uint_eq(warn, 1);
  ck_assert_uint_eq(okay, 1);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 3, 60 * r.P, &ei), 0);
  ck_assert_double_eq_tol(ei.period, 600.0, 10.0); /* one outage counts as two periods */
  for (unsigned e = 0; e < N_EM; e++) alec_encoder_free(enc[e]);
  alec_fleet_free(f);
}
END_TEST

/* An emitter that dies while anomalous and is removed (2 x EmitterTimeout
 * silent) gets the OKAYs of its alerts, marked removed, so that a
 * downstream alert manager does not keep them firing. */
START_TEST(test_removed_emitter_resolved) {
  static run r;
  setup(&r, 600, 1, 0);
  r.dead_from[5] = 80.0 * r.P; /* in its step, anomalous since about 61 P */
  r.end = 90.0 * r.P;
  alec_fleet *f;
  simulate_keep(&r, &f);
  unsigned entered = 0, stale = 0;
  for (size_t i = 0; i < r.n; i++) {
    const alec_fleet_event *ev = &r.ev[i].ev;
    if (ev->emitter_id != 5) continue;
    if (ev->kind == ALEC_FLEET_EVENT_EMITTER && ev->previous == ALEC_FLEET_NORMAL) entered++;
    if (ev->kind == ALEC_FLEET_EVENT_STALE && ev->severity == ALEC_FLEET_WARNING) stale++;
    ck_assert_int_eq(ev->removed, 0);
  }
  ck_assert_uint_eq(entered, 1);
  ck_assert_uint_eq(stale, 1);
  alec_fleet_stats st;
  alec_fleet_get_stats(f, r.end, &st);
  uint64_t exits = st.anomaly_exits;
  size_t before = r.n;
  /* Not yet: 2 x timeout after its last report, the live ones stay. */
  double last = 80.0 * r.P;
  ck_assert_int_eq(alec_fleet_remove_stale_notify(f, last + 2 * 7200 - 601, on_event, &r), 0);
  ck_assert_uint_eq(r.n, before);
  ck_assert_int_eq(alec_fleet_remove_stale_notify(f, last + 2 * 7200 + 1, on_event, &r), 1);
  ck_assert_uint_eq(r.n, before + 2);
  unsigned okay_emitter = 0, okay_stale = 0;
  for (size_t i = before; i < r.n; i++) {
    const alec_fleet_event *ev = &r.ev[i].ev;
    ck_assert_uint_eq(ev->emitter_id, 5);
    ck_assert_int_eq(ev->severity, ALEC_FLEET_NORMAL);
    ck_assert_int_eq(ev->removed, 1);
    ck_assert_str_eq(r.ev[i].group, "a");
    ck_assert_double_eq(ev->time, last + 2 * 7200 + 1);
    if (ev->kind == ALEC_FLEET_EVENT_EMITTER) {
      ck_assert_int_ne(ev->previous, ALEC_FLEET_NORMAL);
      ck_assert_uint_eq(ev->channel, 0);
      okay_emitter++;
    } else {
      ck_assert_int_eq(ev->kind, ALEC_FLEET_EVENT_STALE);
      ck_assert_int_eq(ev->previous, ALEC_FLEET_WARNING);
      okay_stale++;
    }
  }
  ck_assert_uint_eq(okay_emitter, 1);
  ck_assert_uint_eq(okay_stale, 1);
  alec_fleet_get_stats(f, r.end, &st);
  ck_assert_uint_eq(st.anomaly_exits, exits + 1);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(f, 5, r.end, &ei), ALEC_ENOTFOUND);
  /* Nothing left to resolve, nothing sent twice. */
  ck_assert_int_eq(alec_fleet_remove_stale_notify(f, last + 2 * 7200 + 2, on_event, &r), 0);
  ck_assert_uint_eq(r.n, before + 2);
  ck_assert_int_eq(alec_fleet_remove_stale_notify(NULL, 0, on_event, &r), ALEC_EINVAL);
  ck_assert_int_eq(alec_fleet_remove_stale_notify(f, NAN, on_event, &r), ALEC_EINVAL);
  alec_fleet_free(f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fleet_cadence");
  TCase *tc = tcase_create("cadence");
  int nv = (int)(sizeof variants / sizeof variants[0]);
  tcase_add_loop_test(tc, test_same_events_at_any_cadence, 0, nv);
  tcase_add_loop_test(tc, test_stale_and_silent_group, 2, 6);
  tcase_add_test(tc, test_stale_okay_when_back);
  tcase_add_test(tc, test_removed_emitter_resolved);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
