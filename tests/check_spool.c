/* SPDX-License-Identifier: MIT */
/* The spool (src/receiver/spool.h): messages serialized and restored
 * field for field and in order, the limits, refusal of damaged spools, and
 * the receiver's use of it: MQTT messages dispatched but never confirmed
 * written are saved by alec_rx_stop in the state file and decode, exactly
 * and first, after the restart. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alec/encoder.h"
#include "alec/error.h"
#include "nsevent.h"
#include "receiver.h"
#include "spool.h"
#include "state.h"

static alec_plugin_config cfg;

/* $TMPDIR, as the other state-file tests. */
static void make_dir(char *dir, size_t cap) {
  const char *base = getenv("TMPDIR");
  snprintf(dir, cap, "%s/check_spool.XXXXXX", base && *base ? base : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Two <MQTT> blocks and two profiles, enough for the name resolution. */
static void setup_cfg(size_t n_mqtt) {
  alec_pc_init(&cfg);
  cfg.profiles = calloc(2, sizeof *cfg.profiles);
  snprintf(cfg.profiles[0].name, sizeof cfg.profiles[0].name, "p");
  cfg.profiles[0].s.format = ALEC_FORMAT_FIXED;
  cfg.profiles[0].s.channels = 2;
  snprintf(cfg.profiles[1].name, sizeof cfg.profiles[1].name, "q");
  cfg.profiles[1].s.format = ALEC_FORMAT_FIXED;
  cfg.profiles[1].s.channels = 3;
  cfg.n_profiles = 2;
  cfg.mqtt = calloc(2, sizeof *cfg.mqtt);
  alec_pc_mqtt_defaults(&cfg.mqtt[0], "net-a");
  alec_pc_mqtt_defaults(&cfg.mqtt[1], "net-b");
  cfg.mqtt[0].fports[0].port = 85;
  snprintf(cfg.mqtt[0].fports[0].profile, sizeof cfg.mqtt[0].fports[0].profile, "p");
  cfg.mqtt[0].n_fports = 1;
  cfg.mqtt[1].fports[0].port = 86;
  snprintf(cfg.mqtt[1].fports[0].profile, sizeof cfg.mqtt[1].fports[0].profile, "q");
  cfg.mqtt[1].n_fports = 1;
  cfg.mqtt[1].security = ALEC_PC_SEC_SIGN;
  cfg.mqtt[0].dialect = cfg.mqtt[1].dialect = ALEC_NS_CHIRPSTACK;
  cfg.n_mqtt = n_mqtt;
}

static alec_rx_msg *msg(int k, const uint8_t *data, size_t len) {
  alec_rx_msg *m = alec_rx_msg_new(len);
  ck_assert_ptr_nonnull(m);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = UINT64_C(0x24e124126b316d00) + (uint64_t)k;
  m->endpoint = &cfg.mqtt[k & 1];
  m->profile = &cfg.profiles[k & 1];
  m->format = (uint8_t)m->profile->s.format;
  m->channels = (uint8_t)m->profile->s.channels;
  m->has_fcnt = 1;
  m->fcnt = 1000u + (uint32_t)k;
  m->fport = (int16_t)(85 + (k & 1));
  m->has_event_time = k != 2;
  m->event_time = k != 2 ? 1.7e9 + k : 0;
  m->received = 1.7e9 + k + 0.25;
  m->has_rssi = 1;
  m->rssi = -100.5f - (float)k;
  m->has_snr = k != 3;
  m->snr = k != 3 ? -7.25f : 0;
  m->security = (uint8_t)cfg.mqtt[k & 1].security;
  m->skip = (uint16_t)(k * 3);
  snprintf(m->host, sizeof m->host, "em500-co2-%02d", k);
  if (k != 1) snprintf(m->group, sizeof m->group, "north");
  memcpy(m->data, data, len);
  return m;
}

static alec_rx_msg *list_of(int n) {
  alec_rx_msg *head = NULL, **tail = &head;
  for (int k = 0; k < n; k++) {
    uint8_t d[40];
    for (size_t i = 0; i < sizeof d; i++) d[i] = (uint8_t)(k * 31 + (int)i);
    *tail = msg(k, d, 10 + (size_t)k);
    tail = &(*tail)->next;
  }
  return head;
}

static void free_list(alec_rx_msg *m) {
  while (m) {
    alec_rx_msg *n = m->next;
    free(m);
    m = n;
  }
}

static void same(const alec_rx_msg *a, const alec_rx_msg *b) {
  ck_assert_uint_eq(a->kind, b->kind);
  ck_assert_uint_eq(a->emitter, b->emitter);
  ck_assert_uint_eq(a->has_emitter, b->has_emitter);
  ck_assert_uint_eq(a->has_event_time, b->has_event_time);
  ck_assert_uint_eq(a->has_fcnt, b->has_fcnt);
  ck_assert_uint_eq(a->has_rssi, b->has_rssi);
  ck_assert_uint_eq(a->has_snr, b->has_snr);
  ck_assert_uint_eq(a->fcnt, b->fcnt);
  ck_assert_int_eq(a->fport, b->fport);
  ck_assert(a->event_time == b->event_time && a->received == b->received);
  ck_assert(a->rssi == b->rssi && a->snr == b->snr);
  ck_assert_ptr_eq(a->endpoint, b->endpoint);
  ck_assert_ptr_eq(a->profile, b->profile);
  ck_assert_uint_eq(a->format, b->format);
  ck_assert_uint_eq(a->channels, b->channels);
  ck_assert_uint_eq(a->security, b->security);
  ck_assert_str_eq(a->host, b->host);
  ck_assert_str_eq(a->group, b->group);
  ck_assert_uint_eq(a->skip, b->skip);
  ck_assert_uint_eq(a->len, b->len);
  ck_assert_mem_eq(a->data, b->data, a->len);
  ck_assert_ptr_null(b->done);
  ck_assert_uint_eq(b->reply.where_len, 0); /* not kept: its client is another one after a restart */
}

START_TEST(roundtrip_in_order) {
  setup_cfg(2);
  alec_rx_msg *in = list_of(5);
  uint8_t *buf;
  size_t len;
  alec_spool_counts c;
  ck_assert_int_eq(alec_spool_encode(&cfg, in, 100, &buf, &len, &c), 0);
  ck_assert_uint_eq(c.kept, 5);
  ck_assert_uint_eq(c.over, 0);
  ck_assert_int_eq(alec_spool_check(buf, len), 0);
  alec_rx_msg *out;
  ck_assert_int_eq(alec_spool_decode(&cfg, buf, len, 100, &out, &c), 0);
  ck_assert_uint_eq(c.kept, 5);
  const alec_rx_msg *a = in, *b = out;
  for (; a && b; a = a->next, b = b->next) same(a, b);
  ck_assert_ptr_null(a);
  ck_assert_ptr_null(b);
  free(buf);
  free_list(in);
  free_list(out);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(limits) {
  setup_cfg(2);
  alec_rx_msg *in = list_of(5);
  /* Not of an <MQTT> block, or a transport that is redelivered: not spooled. */
  alec_rx_msg *udp = alec_rx_msg_new(4);
  udp->kind = ALEC_RX_DATAGRAM;
  in->next->next->next->next->next = udp;
  uint8_t *buf;
  size_t len;
  alec_spool_counts c;
  ck_assert_int_eq(alec_spool_encode(&cfg, in, 3, &buf, &len, &c), 0);
  ck_assert_uint_eq(c.kept, 3);
  ck_assert_uint_eq(c.over, 3);
  alec_rx_msg *out;
  /* A lower SpoolLimit at the restart keeps the oldest. */
  ck_assert_int_eq(alec_spool_decode(&cfg, buf, len, 2, &out, &c), 0);
  ck_assert_uint_eq(c.kept, 2);
  ck_assert_uint_eq(c.over, 1);
  ck_assert_uint_eq(out->emitter, in->emitter);
  ck_assert_uint_eq(out->next->emitter, in->next->emitter);
  ck_assert_ptr_null(out->next->next);
  free_list(out);
  /* The block of odd messages is gone: they are dropped, counted. */
  cfg.n_mqtt = 1;
  ck_assert_int_eq(alec_spool_decode(&cfg, buf, len, 100, &out, &c), 0);
  ck_assert_uint_eq(c.kept, 2);
  ck_assert_uint_eq(c.unresolved, 1);
  ck_assert_uint_eq(out->emitter, in->emitter);
  ck_assert_uint_eq(out->next->emitter, in->next->next->emitter);
  free_list(out);
  cfg.n_mqtt = 2;
  free(buf);
  ck_assert_int_eq(alec_spool_encode(&cfg, udp, 3, &buf, &len, &c), 0);
  ck_assert_ptr_null(buf);
  ck_assert_uint_eq(c.over, 1);
  ck_assert_int_eq(alec_spool_encode(&cfg, in, 0, &buf, &len, &c), 0);
  ck_assert_ptr_null(buf);
  free_list(in);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(damaged_refused) {
  setup_cfg(2);
  alec_rx_msg *in = list_of(3);
  uint8_t *buf;
  size_t len;
  alec_spool_counts c;
  ck_assert_int_eq(alec_spool_encode(&cfg, in, 100, &buf, &len, &c), 0);
  alec_rx_msg *out;
  /* Every truncation. */
  for (size_t n = 0; n < len; n++) {
    ck_assert_int_ne(alec_spool_check(buf, n), 0);
    ck_assert_int_ne(alec_spool_decode(&cfg, buf, n, 100, &out, &c), 0);
    ck_assert_ptr_null(out);
  }
  /* Every single byte changed: refused or still well-formed, never read out of bounds. */
  for (size_t i = 0; i < len; i++) {
    for (int v = 0; v < 256; v += 51) {
      uint8_t save = buf[i];
      buf[i] = (uint8_t)v;
      if (alec_spool_decode(&cfg, buf, len, 100, &out, &c) == 0) free_list(out);
      else ck_assert_ptr_null(out);
      buf[i] = save;
    }
  }
  uint8_t *big = malloc(len + 1);
  memcpy(big, buf, len);
  big[len] = 0;
  ck_assert_int_eq(alec_spool_check(big, len + 1), ALEC_ECORRUPT); /* trailing bytes */
  big[0] = 2;
  ck_assert_int_eq(alec_spool_check(big, len), ALEC_EVERSION);
  free(big);
  /* A count the bytes do not back. */
  buf[1] = buf[2] = buf[3] = buf[4] = 0xff;
  ck_assert_int_eq(alec_spool_check(buf, len), ALEC_ETRUNC);
  free(buf);
  free_list(in);
  /* A host that would be a path for the csv writer. */
  uint8_t d[4] = {1, 2, 3, 4};
  alec_rx_msg *m = msg(0, d, sizeof d);
  snprintf(m->host, sizeof m->host, "../etc");
  ck_assert_int_eq(alec_spool_encode(&cfg, m, 100, &buf, &len, &c), 0);
  ck_assert_int_eq(alec_spool_check(buf, len), ALEC_ECORRUPT);
  free(buf);
  free(m);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(state_file_section) {
  setup_cfg(2);
  alec_rx_msg *in = list_of(2);
  uint8_t *buf;
  size_t len;
  alec_spool_counts c;
  ck_assert_int_eq(alec_spool_encode(&cfg, in, 100, &buf, &len, &c), 0);
  char dir[512];
  make_dir(dir, sizeof dir);
  char path[600];
  snprintf(path, sizeof path, "%s/state", dir);
  alec_fleet_config fc;
  alec_fleet_config_init(&fc);
  alec_fleet *fleet;
  ck_assert_int_eq(alec_fleet_new(&fleet, &fc), 0);
  uint8_t *fs;
  size_t fsl;
  ck_assert_int_eq(alec_fleet_state_save(fleet, 1.7e9, &fs, &fsl, NULL), 0);
  alec_ps_meta meta;
  memset(&meta, 0, sizeof meta);
  snprintf(meta.receiver, sizeof meta.receiver, "rx");
  meta.spool = buf;
  meta.spool_len = len;
  char err[512];
  ck_assert_msg(alec_ps_save_rx(path, &meta, fs, fsl, err, sizeof err) == 0, "%s", err);
  alec_ps_meta got;
  ck_assert_msg(alec_ps_load_rx(path, fleet, 1.7e9, NULL, NULL, "rx", &got, NULL, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(got.format, ALEC_PS_FORMAT_SPOOL);
  ck_assert_uint_eq(got.spool_len, len);
  ck_assert_mem_eq(got.spool, buf, len);
  free(got.spool);
  free(got.keys);
  /* Without a spool: format 2, as before. */
  meta.spool = NULL;
  meta.spool_len = 0;
  ck_assert_int_eq(alec_ps_save_rx(path, &meta, fs, fsl, err, sizeof err), 0);
  ck_assert_int_eq(alec_ps_load_rx(path, fleet, 1.7e9, NULL, NULL, "rx", &got, NULL, err, sizeof err), 0);
  ck_assert_uint_eq(got.format, ALEC_PS_FORMAT);
  ck_assert_ptr_null(got.spool);
  free(got.keys);
  /* A damaged spool under a valid checksum refuses the file. */
  buf[len - 1] ^= 0;
  buf[0] = 9;
  meta.spool = buf;
  meta.spool_len = len;
  ck_assert_int_eq(alec_ps_save_rx(path, &meta, fs, fsl, err, sizeof err), 0);
  ck_assert_int_eq(alec_ps_load_rx(path, fleet, 1.7e9, NULL, NULL, "rx", &got, NULL, err, sizeof err), ALEC_EVERSION);
  ck_assert_ptr_null(got.spool);
  unlink(path);
  rmdir(dir);
  free(fs);
  free(buf);
  alec_fleet_free(fleet);
  free_list(in);
  alec_pc_free(&cfg);
}
END_TEST

/* ---- through the receiver ----------------------------------------------------- */

static uint64_t token;
static size_t n_values;
static double seen[64][3];

static uint64_t mark(void *arg) {
  (void)arg;
  return token;
}

/* As the plugin does: one value list per value, tokens count them, and
 * the lists a spooled message had written already are not dispatched. */
static void values(void *arg, const alec_rx_frame *f, uint64_t *sent, uint64_t *unconv) {
  (void)arg;
  (void)unconv;
  for (size_t i = f->msg ? f->msg->skip : 0; i < f->n; i++) {
    if (n_values < 64) {
      seen[n_values][0] = (double)f->id;
      seen[n_values][1] = f->values[i].channel;
      seen[n_values][2] = f->values[i].value;
    }
    n_values++;
  }
  *sent += f->n;
  token += f->n - (f->msg ? f->msg->skip : 0);
}

static alec_rx_msg *frame_msg(alec_encoder *enc, int k) {
  double v[2] = {20.0 + k, 0.5 * k};
  uint8_t frame[64];
  int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
  ck_assert_int_gt(len, 0);
  alec_rx_msg *m = alec_rx_msg_new((size_t)len);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = 42;
  m->endpoint = &cfg.mqtt[0];
  m->profile = alec_pc_mqtt_fport(&cfg.mqtt[0], 85);
  m->format = ALEC_FORMAT_FIXED;
  m->channels = 2;
  m->fport = 85;
  m->received = (double)time(NULL);
  memcpy(m->data, frame, (size_t)len);
  return m;
}

static void run_restart(size_t limit, size_t expect_spooled, int straddle) {
  char dir[512];
  make_dir(dir, sizeof dir);
  setup_cfg(1);
  snprintf(cfg.state_file, sizeof cfg.state_file, "%s/state", dir);
  snprintf(cfg.receiver_id, sizeof cfg.receiver_id, "rx");
  cfg.spool_limit = limit;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.values = values, .mark = mark};
  alec_rx *rx;
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  token = 0;
  n_values = 0;
  for (int k = 0; k < 5; k++) {
    alec_rx_msg *m = frame_msg(enc, k);
    alec_rx_process(rx, m);
    free(m);
  }
  ck_assert_uint_eq(n_values, 10);
  double first[10][3];
  memcpy(first, seen, sizeof first);
  /* The writers took the first two frames only (4 lists); then collectd
   * stopped, having taken the first list of the third frame or not. */
  alec_rx_written(rx, 4);
  alec_rx_hold(rx);
  alec_rx_writers_took(rx, straddle ? 5 : 4);
  alec_rx_stats st;
  alec_rx_stop(rx);
  alec_rx_get_stats(rx, 0, &st);
  ck_assert_uint_eq(st.spool_saved, expect_spooled);
  ck_assert_uint_eq(st.spool_lost, 3 - expect_spooled);
  alec_rx_free(rx);
  /* The restart: the three unwritten messages come first and decode
   * exactly (their decoder effect was undone), then the next live one. */
  n_values = 0;
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  alec_rx_get_stats(rx, 0, &st);
  ck_assert_uint_eq(st.spool_restored, expect_spooled);
  alec_rx_replay_spool(rx);
  if (expect_spooled == 3) ck_assert_uint_eq(n_values, 2 * expect_spooled - (size_t)straddle);
  /* Above SpoolLimit the newest are not kept: the oldest kept then
   * decode after a gap (held back, counted), never as errors. */
  for (size_t i = 0; expect_spooled == 3 && i < 2 * expect_spooled - (size_t)straddle; i++)
    ck_assert_mem_eq(seen[i], first[4 + (size_t)straddle + i], sizeof seen[i]); /* bit for bit as before the stop */
  alec_rx_msg *m = frame_msg(enc, 5);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_get_stats(rx, 0, &st);
  if (expect_spooled == 3) {
    size_t at = 2 * expect_spooled - (size_t)straddle;
    ck_assert_uint_eq(n_values, at + 2);
    ck_assert(seen[at][0] == 42 && fabs(seen[at][2] - 25.0) < 0.01);
    ck_assert_uint_eq(st.held_back, 0);
  }
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_DECODE], 0);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_STALE], 0);
  /* Everything is written now: the next state file has no spool. */
  alec_rx_written(rx, token);
  alec_rx_free(rx);
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  alec_rx_get_stats(rx, 0, &st);
  ck_assert_uint_eq(st.spool_restored, 0);
  alec_rx_free(rx);
  alec_encoder_free(enc);
  unlink(cfg.state_file);
  rmdir(dir);
  alec_pc_free(&cfg);
}

START_TEST(receiver_restart) { run_restart(100, 3, 0); }
END_TEST

/* collectd stopped in the middle of a frame's value lists. */
START_TEST(receiver_restart_straddle) { run_restart(100, 3, 1); }
END_TEST

START_TEST(receiver_restart_cap) { run_restart(2, 0, 0); }
END_TEST

int main(void) {
  Suite *s = suite_create("spool");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, roundtrip_in_order);
  tcase_add_test(tc, limits);
  tcase_add_test(tc, damaged_refused);
  tcase_add_test(tc, state_file_section);
  tcase_add_test(tc, receiver_restart);
  tcase_add_test(tc, receiver_restart_straddle);
  tcase_add_test(tc, receiver_restart_cap);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
