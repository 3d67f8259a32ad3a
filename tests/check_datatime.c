/* SPDX-License-Identifier: MIT */
/* Data time through the receiver core (collectd-alec(5), Data time): a
 * fleet of 12 emitters reporting every minute, each at its own phase, with
 * a common cycle and one emitter stepping away from its peers. Told live,
 * then with 40 minutes of it held in the broker (the receiver down: no
 * evaluation meanwhile) and delivered in one burst with the network
 * server's times: the same fleet events, at the same data times. Then the
 * wall-clock side: with nothing arriving the fleet's clock runs on and the
 * silence is reported. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alec/encoder.h"
#include "alec/error.h"
#include "alec/fleet.h"
#include "queue.h"
#include "receiver.h"

#define N_EM 12
#define PI 3.14159265358979323846
#define ROUNDS 100
#define PERIOD 60.0
#define HOLD_FROM 30 /* rounds [HOLD_FROM, HOLD_TO) wait in the broker */
#define HOLD_TO 70
#define STEP_ON 40 /* emitter 3: +3 (about 12 MADs) on rounds [40, 55) */
#define STEP_OFF 55
#define TRANSIT 0.3 /* live: received this long after the network server's time */
#define MAX_EV 256

typedef struct run {
  size_t n;
  alec_fleet_event ev[MAX_EV];
} run;

static void on_event(void *arg, const alec_fleet_event *ev) {
  run *r = arg;
  if (r->n >= MAX_EV) return;
  r->ev[r->n] = *ev;
  r->ev[r->n].group = NULL;
  r->n++;
}

static void on_values(void *arg, const alec_rx_frame *f, uint64_t *sent, uint64_t *unconv) {
  (void)arg;
  (void)unconv;
  *sent += f->n;
}

/* Deterministic noise, about N(0, 1): a sum of 4 uniforms from a hash. */
static double noise(uint64_t e, uint64_t k) {
  double s = 0;
  for (uint64_t j = 0; j < 4; j++) {
    uint64_t x = (e * 1000003u + k) * 4u + j + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    s += (double)(x >> 11) / 9007199254740992.0 - 0.5;
  }
  return s * 1.732;
}

typedef struct msg_t {
  double t; /* network-server time */
  unsigned e, k;
} msg_t;

static int cmp_msg(const void *a, const void *b) {
  const msg_t *x = a, *y = b;
  return x->t < y->t ? -1 : x->t > y->t;
}

static alec_rx_msg *uplink(alec_encoder *enc, const msg_t *u, double received) {
  double v[2] = {20.0 + 0.05 * u->e + 2.0 * sin(2.0 * PI * u->t / (200 * PERIOD)) + 0.3 * noise(u->e, u->k),
                 50.0 + 0.3 * noise(u->e + 100, u->k)};
  if (u->e == 3 && u->k >= STEP_ON && u->k < STEP_OFF) v[0] += 3.0;
  uint8_t frame[ALEC_FRAME_MAX];
  int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
  ck_assert_int_gt(len, 0);
  alec_rx_msg *m = alec_rx_msg_new((size_t)len);
  ck_assert_ptr_nonnull(m);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = 0x70B3D57ED0000000u + u->e;
  m->format = ALEC_FORMAT_FIXED;
  m->channels = 2;
  m->received = received;
  m->has_event_time = 1;
  m->event_time = u->t;
  memcpy(m->data, frame, (size_t)len);
  return m;
}

/* The story, live (held 0) or with rounds [HOLD_FROM, HOLD_TO) in one
 * burst. The caller's loop is the dispatch thread's: an idle evaluation on
 * the wall clock before each arrival (none while the receiver is down), a
 * score after each batch; then 10 periods of silence. */
static void tell(run *r, int held) {
  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.arg = r, .values = on_values, .fleet_event = on_event};
  alec_rx *rx;
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  alec_encoder *enc[N_EM];
  for (unsigned e = 0; e < N_EM; e++) ck_assert_int_eq(alec_encoder_new(&enc[e], NULL), 0);
  static msg_t plan[N_EM * ROUNDS];
  const double t0 = 1767225600.0; /* times are the messages' own: any will do */
  size_t n = 0;
  for (unsigned k = 0; k < ROUNDS; k++)
    for (unsigned e = 0; e < N_EM; e++)
      plan[n++] = (msg_t){t0 + k * PERIOD + fmod(0.6180339887 * (e + 1), 1.0) * PERIOD, e, k};
  qsort(plan, n, sizeof *plan, cmp_msg);
  size_t i = 0;
  while (i < n) {
    const msg_t *u = &plan[i];
    double wall = u->t + TRANSIT;
    if (held && u->k >= HOLD_FROM && u->k < HOLD_TO) {
      i++;
      continue;
    }
    if (held && u->k == HOLD_TO && plan[i - 1].k < HOLD_TO) {
      /* Back: the broker delivers what it kept, in its order, at once. */
      for (size_t j = 0; j < i; j++) {
        if (plan[j].k < HOLD_FROM || plan[j].k >= HOLD_TO) continue;
        alec_rx_msg *m = uplink(enc[plan[j].e], &plan[j], wall);
        alec_rx_process(rx, m);
        free(m);
        /* The clock follows the data, never the burst's receive time. */
        ck_assert(alec_rx_clock(rx, NAN) <= plan[j].t + 1e-9);
      }
      alec_rx_score(rx, alec_rx_clock(rx, NAN));
    } else {
      double now = alec_rx_clock(rx, wall);
      if (now > 0) alec_rx_evaluate(rx, now);
    }
    alec_rx_msg *m = uplink(enc[u->e], u, wall);
    alec_rx_process(rx, m);
    free(m);
    alec_rx_score(rx, alec_rx_clock(rx, NAN));
    i++;
  }
  /* A live outage: nothing arrives, the clock runs on with the wall's. */
  double last = plan[n - 1].t + TRANSIT;
  for (double w = last + 1; w < last + 10 * PERIOD; w += 1) alec_rx_evaluate(rx, alec_rx_clock(rx, w));
  ck_assert_double_eq_tol(alec_rx_clock(rx, NAN), last + 10 * PERIOD - 1, 1.0);
  for (unsigned e = 0; e < N_EM; e++) alec_encoder_free(enc[e]);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
}

START_TEST(backlog_scored_as_live) {
  static run live, burst;
  memset(&live, 0, sizeof live);
  memset(&burst, 0, sizeof burst);
  tell(&live, 0);
  tell(&burst, 1);
  /* Live: emitter 3 channel 0 in and out of its step, then one group
   * silence, and nothing else. */
  unsigned entries = 0, exits = 0, silent = 0;
  for (size_t i = 0; i < live.n; i++) {
    const alec_fleet_event *ev = &live.ev[i];
    if (ev->kind == ALEC_FLEET_EVENT_SILENT) {
      ck_assert_int_eq(ev->severity, ALEC_FLEET_WARNING);
      silent++;
      continue;
    }
    ck_assert_msg(ev->kind == ALEC_FLEET_EVENT_EMITTER, "live: event kind %s",
                  alec_fleet_event_kind_name(ev->kind));
    ck_assert_uint_eq(ev->emitter_id & 0xff, 3);
    ck_assert_uint_eq(ev->channel, 0);
    if (ev->previous == ALEC_FLEET_NORMAL) entries++;
    if (ev->severity == ALEC_FLEET_NORMAL) exits++;
  }
  ck_assert_uint_eq(entries, 1);
  ck_assert_uint_eq(exits, 1);
  ck_assert_uint_eq(silent, 1);
  /* The burst: the same events, in the same order, at the same data times
   * (up to the live transit delay; silence is judged by scans a quarter of
   * a period apart, whose phase the burst moves). */
  ck_assert_uint_eq(burst.n, live.n);
  for (size_t i = 0; i < live.n; i++) {
    const alec_fleet_event *a = &live.ev[i], *b = &burst.ev[i];
    ck_assert_int_eq(b->kind, a->kind);
    ck_assert_uint_eq(b->emitter_id, a->emitter_id);
    ck_assert_uint_eq(b->channel, a->channel);
    ck_assert_int_eq(b->severity, a->severity);
    ck_assert_int_eq(b->previous, a->previous);
    double tol = a->kind == ALEC_FLEET_EVENT_SILENT ? PERIOD / 4 + 1.0 : 1.0;
    ck_assert_msg(fabs(b->time - a->time) <= tol, "event %zu at %.3f live, %.3f from the burst", i, a->time,
                  b->time);
  }
}
END_TEST

/* Legacy frames carry the emitter's own clock: one 300 s behind is moved
 * onto the receiver's clock by its least lag, so that next to an emitter
 * with a right clock it is live (no STALE), and the fleet's clock is the
 * receiver's; a frame it held back 30 s keeps its place behind the clock. */
static alec_rx_msg *legacy(alec_encoder *enc, uint64_t id, double value, double claimed, double received) {
  uint8_t frame[ALEC_FRAME_MAX];
  int len = alec_encode_single(enc, 0, value, (uint64_t)(claimed * 1000.0), frame, sizeof frame, NULL);
  ck_assert_int_gt(len, 0);
  alec_rx_msg *m = alec_rx_msg_new((size_t)len);
  ck_assert_ptr_nonnull(m);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = id;
  m->format = ALEC_FORMAT_SINGLE;
  m->received = received;
  memcpy(m->data, frame, (size_t)len);
  return m;
}

START_TEST(legacy_clock_offset) {
  static run r;
  memset(&r, 0, sizeof r);
  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.arg = &r, .values = on_values, .fleet_event = on_event};
  alec_rx *rx;
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  alec_encoder *enc[4];
  for (unsigned e = 0; e < 4; e++) ck_assert_int_eq(alec_encoder_new(&enc[e], NULL), 0);
  const double t0 = 1767225600.4;
  double recv = t0;
  for (unsigned k = 0; k < 40; k++) {
    for (unsigned e = 0; e < 4; e++) {
      recv = t0 + 10.0 * k + 0.01 * e;
      double now = alec_rx_clock(rx, recv);
      if (now > 0) alec_rx_evaluate(rx, now);
      /* Emitter 0's clock is 300 s behind, the others' right. */
      alec_rx_msg *m = legacy(enc[e], 100 + e, 20.0 + 0.1 * e, recv - (e == 0 ? 300.0 : 0.0), recv);
      alec_rx_process(rx, m);
      free(m);
      alec_rx_score(rx, alec_rx_clock(rx, NAN));
      ck_assert_double_eq_tol(alec_rx_clock(rx, NAN), recv, 1.0);
    }
  }
  /* Held back 30 s by the device: behind the clock, which stays. */
  alec_rx_msg *m = legacy(enc[0], 100, 20.0, recv + 1 - 300.0 - 30.0, recv + 1);
  alec_rx_process(rx, m);
  free(m);
  ck_assert_double_eq_tol(alec_rx_clock(rx, NAN), recv, 1e-6);
  for (size_t i = 0; i < r.n; i++)
    ck_assert_msg(r.ev[i].kind != ALEC_FLEET_EVENT_STALE, "emitter %" PRIu64 " stale",
                  (uint64_t)r.ev[i].emitter_id);
  for (unsigned e = 0; e < 4; e++) alec_encoder_free(enc[e]);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
}
END_TEST

/* The least lag survives a restart (StateFile): an emitter whose clock is
 * 300 s behind, then collectd down for 6 minutes while its frames wait (a
 * gateway's queue, a broker); the burst after the restart keeps its data
 * times (the emitter's stamps moved by the saved lag, within
 * TimestampTolerance), not the receive time. Without the saved lag the
 * first frame of the burst would set it to 660 s. */
START_TEST(legacy_lag_restored) {
  char dir[] = "/tmp/alec-datatime-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  static run r;
  memset(&r, 0, sizeof r);
  alec_rx_sink sink = {.arg = &r, .values = on_values, .fleet_event = on_event};
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  /* The first life ends now: the restored fleet clock is the save's time. */
  const double t0 = (double)time(NULL) - 60.0 * 20 + 0.4, behind = 300.0;
  double recv = t0;
  char err[ALEC_PC_ERR_LEN];
  for (int life = 0; life < 2; life++) {
    alec_plugin_config cfg;
    alec_pc_init(&cfg);
    snprintf(cfg.state_file, sizeof cfg.state_file, "%s/alec.state", dir);
    ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
    alec_rx *rx;
    ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
    for (unsigned k = 0; k < (life == 0 ? 20u : 5u); k++) {
      /* Live, 0.2 s in transit; after the restart, the 5 frames of the
       * minutes the receiver was down, delivered at once. */
      double claimed = life == 0 ? t0 + 60.0 * k - behind : t0 + 60.0 * (20 + k) - behind;
      recv = life == 0 ? claimed + behind + 0.2 : t0 + 60.0 * 26;
      alec_rx_msg *m = legacy(enc, 500, 20.0 + 0.1 * k, claimed, recv);
      alec_rx_process(rx, m);
      free(m);
      if (life == 1)
        ck_assert_msg(fabs(alec_rx_clock(rx, NAN) - (claimed + behind)) < 1.0,
                      "frame %u of the burst at data time %.1f, sent at %.1f", k, alec_rx_clock(rx, NAN),
                      claimed + behind);
    }
    alec_rx_stop(rx);
    alec_rx_free(rx);
    alec_pc_free(&cfg);
  }
  alec_encoder_free(enc);
  char path[64];
  snprintf(path, sizeof path, "%s/alec.state", dir);
  unlink(path);
  rmdir(dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("datatime");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, backlog_scored_as_live);
  tcase_add_test(tc, legacy_clock_offset);
  tcase_add_test(tc, legacy_lag_restored);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
