/* SPDX-License-Identifier: MIT */
/* The TLV fallback (issue 9, section 3) and loss in the TLV flow (issue
 * 15), through the receiver without collectd: fixtures from the device
 * emulator (reference-compatible encoder, the partner configuration),
 * ALEC_RX_PAYLOAD messages with fCnt, a test sink, values against the
 * registers the devices measured. */

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/decoder.h"
#include "alec/encoder.h"
#include "alec/error.h"
#include "loss_eval.h"
#include "lossrec.h"
#include "receiver.h"

static alec_le_result run_fleet(int receiver, double loss, int outage, int estimate) {
  alec_le_config c;
  memset(&c, 0, sizeof c);
  alec_lws_config_init(&c.sim);
  c.sim.loss = loss;
  if (!outage) c.sim.outage_start = -1;
  c.receiver = receiver;
  c.estimate = estimate;
  alec_le_result r;
  ck_assert_int_eq(alec_le_run(&c, &r), 0);
  return r;
}

/* Issue 9 acceptance: without loss every value exact, 0 gaps, 0 held back. */
START_TEST(t_clean_fleet_exact) {
  alec_le_result r = run_fleet(ALEC_LE_OURS, 0, 0, 0);
  ck_assert_uint_eq(r.uplinks, 40u * 432u);
  ck_assert_uint_eq(r.lost, 0);
  ck_assert_uint_gt(r.tlv, r.received / 3); /* cold starts, keyframes, frames over 11 bytes */
  ck_assert_uint_lt(r.tlv, r.received);
  ck_assert_uint_eq(r.delivered, r.expected);
  ck_assert_uint_eq(r.exact, r.expected);
  ck_assert(r.max_err == 0.0);
  ck_assert_uint_eq(r.fcnt_gaps, 0);
  ck_assert_uint_eq(r.held_back, 0);
  ck_assert_uint_eq(r.estimated, 0);
  ck_assert_uint_eq(r.decode_rejects, 0);
  ck_assert_uint_eq(r.tlv_frames, r.tlv);
  /* The reference's procedure on the same stream: close, not exact. */
  alec_le_result ref = run_fleet(ALEC_LE_REFERENCE, 0, 0, 0);
  ck_assert_uint_eq(ref.delivered, ref.expected);
  ck_assert(ref.max_err < 0.05);
}
END_TEST

/* Issue 15 targets: 2 % loss and a 90-minute outage, 40 devices x 3 days. */
START_TEST(t_lossy_fleet_bounded) {
  alec_le_result r = run_fleet(ALEC_LE_OURS, 0.02, 1, 0);
  ck_assert_uint_gt(r.lost, r.uplinks / 40);
  ck_assert_uint_eq(r.off_unit, 0);
  ck_assert_uint_eq(r.off_001, 0); /* hold: what is delivered is exact */
  ck_assert(r.max_err <= 1.0);
  ck_assert_uint_ge(r.delivered * 100, r.expected * 90);
  ck_assert_uint_eq(r.estimated, 0);
  ck_assert_uint_eq(r.fcnt_gaps, r.lost);
  ck_assert_uint_eq(r.ghosts, r.lost);
  ck_assert_uint_gt(r.reanchored, 0);
  ck_assert_uint_eq(r.delivered + r.held_back, r.expected);
  /* The reference receiver, same stream: wrong for hours. */
  alec_le_result ref = run_fleet(ALEC_LE_REFERENCE, 0.02, 1, 0);
  ck_assert_uint_gt(ref.off_unit, 100);
}
END_TEST

/* LossRecovery "estimate": everything delivered, estimates marked. */
START_TEST(t_lossy_fleet_estimates_marked) {
  alec_le_result h = run_fleet(ALEC_LE_OURS, 0.02, 1, 0);
  alec_le_result e = run_fleet(ALEC_LE_OURS, 0.02, 1, 1);
  ck_assert_uint_eq(e.delivered, e.expected);
  ck_assert_uint_eq(e.estimated, h.held_back);
  /* Every value off by anything is one of the marked estimates. */
  ck_assert_uint_le(e.off_001, e.estimated);
}
END_TEST

/* 1,000 lost uplinks on one device: sync is never lost for good. */
START_TEST(t_thousand_losses_one_device) {
  alec_le_config c;
  memset(&c, 0, sizeof c);
  alec_lws_config_init(&c.sim);
  c.sim.devices = 1;
  c.sim.days = 35;
  c.sim.loss = 0.25;
  c.sim.outage_start = -1;
  c.sim.loss_until = 33 * 86400.0;
  c.tail_from = 34 * 86400.0;
  c.receiver = ALEC_LE_OURS;
  alec_le_result r;
  ck_assert_int_eq(alec_le_run(&c, &r), 0);
  ck_assert_uint_ge(r.lost, 1000);
  ck_assert_uint_eq(r.off_unit, 0);
  ck_assert_uint_eq(r.fcnt_gaps, r.lost);
  ck_assert_uint_gt(r.tail_expected, 500);
  ck_assert_uint_eq(r.tail_exact, r.tail_expected);
  /* The reference: its context version falls behind for good. */
  c.receiver = ALEC_LE_REFERENCE;
  alec_le_result ref;
  ck_assert_int_eq(alec_le_run(&c, &ref), 0);
  ck_assert_uint_lt(ref.tail_exact, ref.tail_expected);
}
END_TEST

/* A rejoin (device reboot, fCnt back to 0) mid-stream: resync, exact. */
START_TEST(t_rejoin) {
  alec_le_config c;
  memset(&c, 0, sizeof c);
  alec_lws_config_init(&c.sim);
  c.sim.devices = 3;
  c.sim.loss = 0;
  c.sim.outage_start = -1;
  c.reboot_at = 200;
  c.receiver = ALEC_LE_OURS;
  alec_le_result r;
  ck_assert_int_eq(alec_le_run(&c, &r), 0);
  ck_assert_uint_eq(r.fcnt_resets, 1);
  ck_assert_uint_eq(r.exact, r.expected);
  ck_assert_uint_eq(r.held_back, 0);
}
END_TEST

START_TEST(t_fcnt_classes) {
  alec_lr s;
  alec_lr_init(&s, 5);
  uint32_t lost;
  ck_assert_int_eq(alec_lr_fcnt(&s, 100, &lost), ALEC_LR_FCNT_NEXT);
  ck_assert_uint_eq(lost, 0);
  ck_assert_int_eq(alec_lr_fcnt(&s, 100, &lost), ALEC_LR_FCNT_DUPLICATE);
  ck_assert_int_eq(alec_lr_fcnt(&s, 99, &lost), ALEC_LR_FCNT_DUPLICATE);
  ck_assert_int_eq(alec_lr_fcnt(&s, 104, &lost), ALEC_LR_FCNT_NEXT);
  ck_assert_uint_eq(lost, 3);
  /* A small counter again: rejoin. */
  ck_assert_int_eq(alec_lr_fcnt(&s, 0, &lost), ALEC_LR_FCNT_RESET);
  /* Far behind, not small: a late copy. */
  alec_lr_fcnt(&s, 5000, &lost);
  ck_assert_int_eq(alec_lr_fcnt(&s, 4990, &lost), ALEC_LR_FCNT_DUPLICATE);
  /* 16-bit counter wrapping. */
  alec_lr_init(&s, 5);
  alec_lr_fcnt(&s, 65534, &lost);
  ck_assert_int_eq(alec_lr_fcnt(&s, 1, &lost), ALEC_LR_FCNT_NEXT);
  ck_assert_uint_eq(lost, 2);
  /* 32-bit wrap. */
  alec_lr_init(&s, 5);
  alec_lr_fcnt(&s, UINT32_MAX, &lost);
  ck_assert_int_eq(alec_lr_fcnt(&s, 0, &lost), ALEC_LR_FCNT_NEXT);
  ck_assert_uint_eq(lost, 0);
  /* Beyond LoRaWAN's MAX_FCNT_GAP: not a loss. */
  alec_lr_init(&s, 5);
  alec_lr_fcnt(&s, 10, &lost);
  ck_assert_int_eq(alec_lr_fcnt(&s, 10 + ALEC_LR_MAX_GAP + 1, &lost), ALEC_LR_FCNT_RESET);
}
END_TEST

/* ---- hostile TLV through the receiver ------------------------------------- */

typedef struct sinkrec {
  size_t values;
} sinkrec;

static void sink_values(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible) {
  (void)unconvertible;
  ((sinkrec *)arg)->values += f->n;
  *dispatched += f->n;
}

static alec_rx_msg *payload(const alec_plugin_config *pc, uint64_t id, uint32_t fcnt, const uint8_t *p, size_t n) {
  alec_rx_msg *m = alec_rx_msg_new(n);
  ck_assert_ptr_nonnull(m);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = id;
  m->has_fcnt = 1;
  m->fcnt = fcnt;
  m->fport = 85;
  m->received = 1796083200.0 + fcnt * 600.0;
  m->profile = &pc->profiles[0];
  m->len = n;
  memcpy(m->data, p, n);
  return m;
}

START_TEST(t_hostile_tlv) {
  alec_plugin_config pc;
  char err[256];
  ck_assert_int_eq(alec_le_profile_config(&pc, 0, 16, err, sizeof err), 0);
  sinkrec rec = {0};
  alec_rx_sink sink = {.arg = &rec, .values = sink_values};
  alec_rx *rx;
  ck_assert_int_eq(alec_rx_new(&rx, &pc, &sink), 0);
  static const uint8_t good[] = {0x01, 0x75, 0x64, 0x03, 0x67, 0x19, 0x01, 0x04, 0x68, 0x73,
                                 0x05, 0x7D, 0x67, 0x04, 0x06, 0x73, 0x68, 0x27};
  static const uint8_t truncated[] = {0x01, 0x75, 0x64, 0x03, 0x67, 0x19};
  static const uint8_t unknown[] = {0x01, 0x75, 0x64, 0x99, 0x42, 0x00};
  static const uint8_t incomplete[] = {0x01, 0x75, 0x64, 0x03, 0x67, 0x19, 0x01};
  struct {
    const uint8_t *p;
    size_t n;
    int kind;
  } bad[] = {
      {truncated, sizeof truncated, ALEC_RX_REJ_OF_TLV(ALEC_TLV_ETRUNCATED)},
      {unknown, sizeof unknown, ALEC_RX_REJ_OF_TLV(ALEC_TLV_EUNKNOWN)},
      {incomplete, sizeof incomplete, ALEC_RX_REJ_TLV_INCOMPLETE},
      {good, 0, ALEC_RX_REJ_OF_TLV(ALEC_TLV_EEMPTY)},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    alec_rx_msg *m = payload(&pc, 7, (uint32_t)i, bad[i].p, bad[i].n);
    alec_rx_process(rx, m);
    free(m);
    alec_rx_stats st;
    alec_rx_get_stats(rx, 0, &st);
    ck_assert_uint_eq(st.rejected[bad[i].kind], 1);
  }
  ck_assert_uint_eq(rec.values, 0);
  ck_assert_str_eq(alec_rx_reject_name(ALEC_RX_REJ_OF_TLV(ALEC_TLV_ETRUNCATED)), "tlv_truncated");
  /* The published example decodes, converted: temperature 28.1 degC. */
  alec_rx_msg *m = payload(&pc, 7, 10, good, sizeof good);
  alec_rx_process(rx, m);
  ck_assert_uint_eq(rec.values, 5);
  /* The same fCnt again (a redelivery): refused as stale. */
  alec_rx_process(rx, m);
  free(m);
  alec_rx_stats st;
  alec_rx_get_stats(rx, 0, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_STALE], 1);
  ck_assert_uint_eq(st.tlv_frames, 1);
  ck_assert_uint_eq(rec.values, 5);
  /* An ALEC frame of an emitter without state: refused, counted. */
  static const uint8_t alec[] = {0xA1, 0x00, 0x01, 0x00, 0x05, 0x80, 0x00, 0x00, 0xC8};
  m = payload(&pc, 8, 1, alec, sizeof alec);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_get_stats(rx, 0, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_DECODE], 1);
  alec_rx_free(rx);
  alec_pc_free(&pc);
}
END_TEST

static double conv_seen;
static void sink_first(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible) {
  (void)arg;
  (void)unconvertible;
  for (size_t i = 0; i < f->n; i++)
    if (f->values[i].channel == 1) conv_seen = f->values[i].value;
  *dispatched += f->n;
}

START_TEST(t_conversion) {
  alec_plugin_config pc;
  char err[256];
  ck_assert_int_eq(alec_le_profile_config(&pc, 0, 16, err, sizeof err), 0);
  alec_rx_sink sink = {.values = sink_first};
  alec_rx *rx;
  ck_assert_int_eq(alec_rx_new(&rx, &pc, &sink), 0);
  static const uint8_t good[] = {0x01, 0x75, 0x64, 0x03, 0x67, 0x19, 0x01, 0x04, 0x68, 0x73,
                                 0x05, 0x7D, 0x67, 0x04, 0x06, 0x73, 0x68, 0x27};
  alec_rx_msg *m = payload(&pc, 9, 0, good, sizeof good);
  alec_rx_process(rx, m);
  free(m);
  ck_assert(conv_seen == 281 * 0.1);
  alec_rx_free(rx);
  alec_pc_free(&pc);
}
END_TEST

/* Finalize refuses a fallback profile that cannot feed every channel. */
START_TEST(t_config_checks) {
  alec_plugin_config pc;
  char err[256];
  ck_assert_int_eq(alec_le_profile_config(&pc, 0, 16, err, sizeof err), 0);
  pc.profiles[0].n_tlv = 4; /* pressure unmapped */
  pc.finalized = 0;
  ck_assert_int_eq(alec_pc_finalize(&pc, NULL, NULL, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "channel 4 has no TLV item"));
  pc.profiles[0].n_tlv = 5;
  pc.profiles[0].tlv[4].channel = 3;
  ck_assert_int_eq(alec_pc_finalize(&pc, NULL, NULL, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "mapped twice"));
  alec_pc_free(&pc);
}
END_TEST

int main(void) {
  Suite *s = suite_create("lorawan");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, t_clean_fleet_exact);
  tcase_add_test(tc, t_lossy_fleet_bounded);
  tcase_add_test(tc, t_lossy_fleet_estimates_marked);
  tcase_add_test(tc, t_thousand_losses_one_device);
  tcase_add_test(tc, t_rejoin);
  tcase_add_test(tc, t_fcnt_classes);
  tcase_add_test(tc, t_hostile_tlv);
  tcase_add_test(tc, t_conversion);
  tcase_add_test(tc, t_config_checks);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
