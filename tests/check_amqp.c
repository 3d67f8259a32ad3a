/* SPDX-License-Identifier: MIT */
/* The broker-free parts of the AMQP transport: the uplink -> message step
 * shared with MQTT (nsmsg.h), the <AMQP> block's defaults and checks
 * (amqpconf.h), and the receiver's deferred completion that the consumer
 * acknowledges on (alec_rx_sink.mark, alec_rx_written). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/encoder.h"
#include "alec/error.h"
#include "amqpconf.h"
#include "nsmsg.h"
#include "receiver.h"

static size_t read_fixture(const char *name, uint8_t *buf, size_t cap) {
  char path[1024];
  const char *src = getenv("ALEC_SRCDIR");
  snprintf(path, sizeof path, "%s/tests/fixtures/lorawan/%s", src ? src : ".", name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "%s", path);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

static alec_pc_profile profile;

static const alec_pc_profile *port85(const void *arg, int port) {
  (void)arg;
  return port == 85 ? &profile : NULL;
}

START_TEST(uplink_to_message) {
  uint8_t json[8192];
  size_t n = read_fixture("chirpstack_up.json", json, sizeof json);
  alec_ns_uplink *u = malloc(sizeof *u);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, json, n, u), 0);
  memset(&profile, 0, sizeof profile);
  profile.s.format = ALEC_FORMAT_FIXED;
  profile.s.channels = 5;
  alec_ns_source src = {.dialect = ALEC_NS_CHIRPSTACK, .security = 1, .group_from = "tag:building", .profile = port85};
  alec_rx_msg *m;
  ck_assert_int_eq(alec_ns_to_msg(&src, u, 1000.0, &m), 0);
  ck_assert_int_eq(m->kind, ALEC_RX_PAYLOAD);
  ck_assert(m->has_emitter);
  ck_assert_uint_eq(m->emitter, UINT64_C(0x24e124126b316d47));
  ck_assert_ptr_eq(m->profile, &profile);
  ck_assert_uint_eq(m->format, ALEC_FORMAT_FIXED);
  ck_assert_uint_eq(m->channels, 5);
  ck_assert_int_eq(m->fport, 85);
  ck_assert(m->has_fcnt && m->fcnt == 1234);
  ck_assert(m->has_event_time && m->has_rssi && m->has_snr);
  ck_assert_str_eq(m->host, "em500-co2-07");
  ck_assert_str_eq(m->group, "north");
  ck_assert_uint_eq(m->len, u->data_len);
  ck_assert_mem_eq(m->data, u->data, u->data_len);
  ck_assert_ptr_null(m->done);
  free(m);
  /* Another port: not for the receiver. */
  u->fport = 9;
  ck_assert_int_eq(alec_ns_to_msg(&src, u, 1000.0, &m), ALEC_NSMSG_UNMAPPED_FPORT);
  ck_assert_ptr_null(m);
  u->fport = 85;
  u->data_len = 0;
  ck_assert_int_eq(alec_ns_to_msg(&src, u, 1000.0, &m), ALEC_NSMSG_NO_PAYLOAD);
  free(u);
}
END_TEST

static int finalize_amqp(alec_pc_amqp *a, char *err, size_t cap) {
  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  cfg.profiles = calloc(1, sizeof *cfg.profiles);
  snprintf(cfg.profiles[0].name, sizeof cfg.profiles[0].name, "p");
  cfg.profiles[0].s.format = ALEC_FORMAT_FIXED;
  cfg.profiles[0].s.channels = 2;
  cfg.n_profiles = 1;
  cfg.amqp = malloc(sizeof *cfg.amqp);
  *cfg.amqp = *a;
  cfg.n_amqp = 1;
  int rc = alec_pc_finalize(&cfg, NULL, NULL, err, cap);
  if (rc == 0) {
    *a = cfg.amqp[0];
    /* An AMQP-only receiver opens no UDP socket. */
    ck_assert_uint_eq(cfg.n_listen, 0);
  }
  alec_pc_free(&cfg);
  return rc;
}

START_TEST(amqp_block_checks) {
  char err[ALEC_PC_ERR_LEN];
  alec_pc_amqp a;
  alec_pc_amqp_defaults(&a, "shard");
  ck_assert_int_ne(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "Queue") != NULL, "%s", err);
  snprintf(a.queue, sizeof a.queue, "alec.shard.0");
  ck_assert_int_ne(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "FPort") != NULL, "%s", err);
  a.fports[0].port = 85;
  snprintf(a.fports[0].profile, sizeof a.fports[0].profile, "nope");
  a.n_fports = 1;
  ck_assert_int_ne(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "nope") != NULL, "%s", err);
  snprintf(a.fports[0].profile, sizeof a.fports[0].profile, "p");
  snprintf(a.client_cert, sizeof a.client_cert, "c.pem");
  ck_assert_int_ne(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "ClientKey") != NULL, "%s", err);
  a.client_cert[0] = '\0';
  snprintf(a.group_from, sizeof a.group_from, "owner");
  ck_assert_int_ne(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "GroupFrom") != NULL, "%s", err);
  a.group_from[0] = '\0';
  ck_assert_int_eq(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_int_eq(a.port, 5672);
  ck_assert_ptr_nonnull(alec_pc_amqp_fport(&a, 85));
  ck_assert_ptr_null(alec_pc_amqp_fport(&a, 86));
  snprintf(a.ca_cert, sizeof a.ca_cert, "ca.pem");
  a.port = 0;
  ck_assert_int_eq(finalize_amqp(&a, err, sizeof err), 0);
  ck_assert_int_eq(a.port, 5671);
}
END_TEST

/* ---- deferred completion ---------------------------------------------------- */

static uint64_t token, done_tags[64];
static size_t n_done, n_values;

static uint64_t mark(void *arg) {
  (void)arg;
  return token;
}

static void values(void *arg, const alec_rx_frame *f, uint64_t *sent, uint64_t *unconv) {
  (void)arg;
  (void)unconv;
  n_values += f->n;
  *sent += f->n;
  token++; /* as the plugin does: the frame's last value list carries it */
}

static void done(void *ctx, uint64_t tag) {
  (void)ctx;
  if (n_done < 64) done_tags[n_done] = tag;
  n_done++;
}

START_TEST(done_waits_for_writers) {
  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.values = values, .mark = mark};
  alec_rx *rx;
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  token = 0;
  n_done = n_values = 0;
  for (int k = 0; k < 5; k++) {
    double v[2] = {20.0 + k, 1.0};
    uint8_t frame[64];
    int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    alec_rx_msg *m = alec_rx_msg_new((size_t)len);
    m->kind = ALEC_RX_PAYLOAD;
    m->has_emitter = 1;
    m->emitter = 42;
    m->format = ALEC_FORMAT_FIXED;
    m->channels = 2;
    m->received = (double)time(NULL);
    m->done = done;
    m->done_tag = 100 + (uint64_t)k;
    memcpy(m->data, frame, (size_t)len);
    alec_rx_process(rx, m);
    free(m);
  }
  ck_assert_uint_eq(n_values, 10);
  /* Dispatched, not written: nothing is done yet. */
  ck_assert_uint_eq(n_done, 0);
  alec_rx_written(rx, 2);
  ck_assert_uint_eq(n_done, 2);
  ck_assert_uint_eq(done_tags[0], 100);
  ck_assert_uint_eq(done_tags[1], 101);
  /* An older confirmation changes nothing; the last completes the rest, in order. */
  alec_rx_written(rx, 1);
  ck_assert_uint_eq(n_done, 2);
  alec_rx_written(rx, 5);
  ck_assert_uint_eq(n_done, 5);
  for (int k = 0; k < 5; k++) ck_assert_uint_eq(done_tags[k], 100 + (uint64_t)k);
  alec_encoder_free(enc);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("amqp");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, uplink_to_message);
  tcase_add_test(tc, amqp_block_checks);
  tcase_add_test(tc, done_waits_for_writers);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
