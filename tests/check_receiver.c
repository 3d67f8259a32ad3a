/* SPDX-License-Identifier: MIT */
/* The receiver core (src/receiver/) without collectd: its queue under
 * several producers, and messages in, values, rejections and keyframe
 * requests out through a test sink. */

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/encoder.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "queue.h"
#include "dedup.h"
#include "receiver.h"

/* ---- queue ----------------------------------------------------------------- */

static alec_rx_msg *msg(size_t len, uint32_t seq) {
  alec_rx_msg *m = alec_rx_msg_new(len);
  ck_assert_ptr_nonnull(m);
  memcpy(m->data, &seq, sizeof seq < len ? sizeof seq : len);
  return m;
}

static size_t list_len(alec_rx_msg *m) {
  size_t n = 0;
  while (m) {
    alec_rx_msg *next = m->next;
    free(m);
    m = next;
    n++;
  }
  return n;
}

static struct timespec in_ms(long ms) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

START_TEST(queue_bounds) {
  alec_rxq q;
  ck_assert_int_eq(alec_rxq_init(&q, 0, 100), ALEC_EINVAL);
  ck_assert_int_eq(alec_rxq_init(&q, 3, 100), 0);
  ck_assert_ptr_null(alec_rxq_take_now(&q));
  alec_rx_msg *m[5];
  for (int i = 0; i < 5; i++) m[i] = msg(10, (uint32_t)i);
  /* By count: three of four fit, in order. */
  ck_assert_uint_eq(alec_rxq_push(&q, m, 4), 3);
  ck_assert_uint_eq(alec_rxq_count(&q), 3);
  alec_rx_msg *got = alec_rxq_take_now(&q);
  ck_assert_ptr_eq(got, m[0]);
  ck_assert_ptr_eq(got->next, m[1]);
  ck_assert_ptr_eq(got->next->next, m[2]);
  ck_assert_ptr_null(got->next->next->next);
  ck_assert_uint_eq(list_len(got), 3);
  /* By bytes: 10 + 81 > 90. */
  alec_rxq_destroy(&q);
  ck_assert_int_eq(alec_rxq_init(&q, 10, 90), 0);
  alec_rx_msg *big = msg(81, 9);
  ck_assert_uint_eq(alec_rxq_push(&q, &m[3], 1), 1);
  ck_assert_uint_eq(alec_rxq_push(&q, &big, 1), 0);
  free(big);
  /* An empty queue's take returns at the deadline. */
  ck_assert_uint_eq(list_len(alec_rxq_take_now(&q)), 1);
  struct timespec dl = in_ms(20), t1;
  ck_assert_ptr_null(alec_rxq_take(&q, &dl));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ck_assert(t1.tv_sec > dl.tv_sec || (t1.tv_sec == dl.tv_sec && t1.tv_nsec >= dl.tv_nsec));
  /* Freed by destroy with whatever is still queued. */
  ck_assert_uint_eq(alec_rxq_push(&q, &m[4], 1), 1);
  alec_rxq_destroy(&q);
}
END_TEST

#define PRODUCERS 3
#define PER_PRODUCER 60000
static alec_rxq tq;

static void *producer(void *arg) {
  uint32_t base = (uint32_t)(uintptr_t)arg * PER_PRODUCER;
  for (uint32_t i = 0; i < PER_PRODUCER; i++) {
    alec_rx_msg *m = msg(4 + i % 61, base + i);
    while (alec_rxq_push(&tq, &m, 1) != 1) sched_yield();
    /* Now and then the consumer must fall asleep between two pushes: the
     * wake-up that follows must never be lost. */
    if (i % 5000 == 0) {
      struct timespec pause = {0, 3000000};
      nanosleep(&pause, NULL);
    }
  }
  return NULL;
}

/* Every message arrives once and in each producer's order, and the consumer,
 * sleeping with a far deadline, is never left asleep on a queued message (a
 * lost wake-up would stall it for the 30 s deadline, past the test's
 * timeout). */
START_TEST(queue_threads) {
  ck_assert_int_eq(alec_rxq_init(&tq, 1000, 1000 * 64), 0);
  pthread_t th[PRODUCERS];
  for (uintptr_t p = 0; p < PRODUCERS; p++) ck_assert_int_eq(pthread_create(&th[p], NULL, producer, (void *)p), 0);
  uint32_t next[PRODUCERS] = {0};
  uint64_t total = 0, batches = 0;
  while (total < (uint64_t)PRODUCERS * PER_PRODUCER) {
    struct timespec dl = in_ms(30000);
    alec_rx_msg *m = alec_rxq_take(&tq, &dl);
    ck_assert_ptr_nonnull(m);
    batches++;
    while (m) {
      uint32_t seq;
      memcpy(&seq, m->data, sizeof seq);
      unsigned p = seq / PER_PRODUCER;
      ck_assert_uint_lt(p, PRODUCERS);
      ck_assert_uint_eq(seq % PER_PRODUCER, next[p]);
      ck_assert_uint_eq(m->len, 4 + next[p] % 61);
      next[p]++;
      alec_rx_msg *n = m->next;
      free(m);
      m = n;
      total++;
    }
  }
  for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
  ck_assert_ptr_null(alec_rxq_take_now(&tq));
  ck_assert_uint_eq(tq.bytes, 0);
  /* Batching: far fewer wake-ups than messages. */
  ck_assert_uint_lt(batches, total / 4);
  alec_rxq_destroy(&tq);
}
END_TEST

/* ---- receiver -------------------------------------------------------------- */

typedef struct capture {
  size_t frames, values;
  double last_value[8];
  uint64_t last_id;
  char last_host[ALEC_RX_NAME_LEN], last_group[ALEC_RX_GROUP_LEN];
  double last_time, last_interval;
  size_t logs;
  char last_log[1024];
  size_t requests;
  uint64_t request_ids[64];
  int last_bare;
} capture;

static void cap_log(void *arg, int level, const char *m) {
  (void)level;
  capture *c = arg;
  c->logs++;
  snprintf(c->last_log, sizeof c->last_log, "%s", m);
}

static void cap_values(void *arg, const alec_rx_frame *f, uint64_t *sent, uint64_t *unconv) {
  (void)unconv;
  capture *c = arg;
  c->frames++;
  c->values += f->n;
  c->last_id = f->id;
  c->last_time = f->time;
  c->last_interval = f->interval;
  snprintf(c->last_host, sizeof c->last_host, "%s", f->host);
  snprintf(c->last_group, sizeof c->last_group, "%s", f->group);
  for (size_t i = 0; i < f->n && i < 8; i++) c->last_value[f->values[i].channel % 8] = f->values[i].value;
  *sent += f->n;
}

static int cap_send(void *ctx, const uint8_t *where, size_t where_len, const uint64_t *ids, unsigned n, int bare) {
  (void)where;
  (void)where_len;
  capture *c = ctx;
  for (unsigned i = 0; i < n && c->requests < 64; i++) c->request_ids[c->requests++] = ids[i];
  c->last_bare = bare;
  return 1;
}

static alec_plugin_config cfg;
static capture cap;
static alec_rx *rx;

static void setup(void) {
  memset(&cap, 0, sizeof cap);
  alec_pc_init(&cfg);
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.arg = &cap, .log = cap_log, .values = cap_values};
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
}

static void teardown(void) {
  alec_rx_free(rx);
  alec_pc_free(&cfg);
}

static alec_rx_msg *payload_msg(uint64_t id, const uint8_t *frame, size_t len, unsigned channels, double t) {
  alec_rx_msg *m = alec_rx_msg_new(len);
  ck_assert_ptr_nonnull(m);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = id;
  m->format = ALEC_FORMAT_FIXED;
  m->channels = (uint8_t)channels;
  m->received = t;
  m->reply.send = cap_send;
  m->reply.ctx = &cap;
  memcpy(m->data, frame, len);
  return m;
}

/* A payload of an emitter the transport identified decodes exactly, with
 * the metadata's host and group, and times that increase. */
START_TEST(payload_frames) {
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double t0 = (double)time(NULL);
  for (int k = 0; k < 50; k++) {
    double v[3] = {20.0 + 0.01 * k, 50.0 - 0.02 * k, 1000.0};
    uint8_t frame[ALEC_FRAME_MAX];
    int len = alec_encode_fixed(enc, v, 3, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    alec_rx_msg *m = payload_msg(0x70B3D57ED0001234u, frame, (size_t)len, 3, t0);
    snprintf(m->host, sizeof m->host, "co2-hall");
    snprintf(m->group, sizeof m->group, "building-a");
    alec_rx_process(rx, m);
    free(m);
    ck_assert_uint_eq(cap.frames, (size_t)k + 1);
    ck_assert_double_eq_tol(cap.last_value[0], v[0], 0.005);
    ck_assert_double_eq_tol(cap.last_value[1], v[1], 0.005);
    ck_assert_double_eq_tol(cap.last_value[2], v[2], 0.005);
  }
  ck_assert_str_eq(cap.last_host, "co2-hall");
  ck_assert_str_eq(cap.last_group, "building-a");
  /* All 50 frames arrived at the same receive time: still increasing. */
  ck_assert(cap.last_time > t0);
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(st.dispatched, 150);
  ck_assert_uint_eq(st.fleet.groups >= 1, 1);
  /* Notifications, scores and the dashboard name the emitter as its values. */
  char host[ALEC_RX_NAME_LEN];
  alec_rx_emitter_host(rx, 0x70B3D57ED0001234u, host, sizeof host);
  ck_assert_str_eq(host, "co2-hall");
  alec_rx_emitter_host(rx, 0x70B3D57ED0005678u, host, sizeof host);
  ck_assert_str_eq(host, "alec-70b3d57ed0005678");
  /* A device renamed on the network server: the new name from its next frame on. */
  double v[3] = {21.0, 49.0, 1000.0};
  uint8_t frame[ALEC_FRAME_MAX];
  int len = alec_encode_fixed(enc, v, 3, frame, sizeof frame);
  ck_assert_int_gt(len, 0);
  alec_rx_msg *m = payload_msg(0x70B3D57ED0001234u, frame, (size_t)len, 3, t0);
  snprintf(m->host, sizeof m->host, "co2-hall-east");
  alec_rx_process(rx, m);
  free(m);
  ck_assert_str_eq(cap.last_host, "co2-hall-east");
  alec_rx_emitter_host(rx, 0x70B3D57ED0001234u, host, sizeof host);
  ck_assert_str_eq(host, "co2-hall-east");
  alec_encoder_free(enc);
}
END_TEST

/* An emitter without configuration whose messages come with a profile
 * (fPort): notifications, scores and the dashboard take their channel names
 * from that profile, as its values do, per emitter and per metadata group. */
START_TEST(payload_profile_names) {
  alec_pc_channel chans[2] = {{.id = 0, .type = "temperature", .type_instance = "indoor", .ds_type = -1},
                              {.id = 2, .type = "gauge", .type_instance = "co2", .ds_type = -1}};
  alec_pc_profile prof;
  memset(&prof, 0, sizeof prof);
  snprintf(prof.name, sizeof prof.name, "em500");
  prof.s.map.ch = chans;
  prof.s.map.n = 2;
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double t0 = (double)time(NULL), v[3] = {21.5, 40.0, 800.0};
  uint8_t frame[ALEC_FRAME_MAX];
  int len = alec_encode_fixed(enc, v, 3, frame, sizeof frame);
  ck_assert_int_gt(len, 0);
  ck_assert_ptr_null(alec_rx_emitter_map(rx, 0x70B3D57ED0000042u));
  alec_rx_msg *m = payload_msg(0x70B3D57ED0000042u, frame, (size_t)len, 3, t0);
  m->profile = &prof;
  snprintf(m->group, sizeof m->group, "hall");
  alec_rx_process(rx, m);
  free(m);
  ck_assert_uint_eq(cap.frames, 1);
  ck_assert_ptr_eq(alec_rx_emitter_map(rx, 0x70B3D57ED0000042u), &prof.s.map);
  ck_assert_ptr_eq(alec_rx_group_map(rx, "hall", 2), &prof.s.map);
  ck_assert_ptr_null(alec_rx_group_map(rx, "hall", 1)); /* channel 1 unnamed */
  ck_assert_ptr_null(alec_rx_group_map(rx, "other", 0));
  ck_assert_ptr_null(alec_rx_emitter_map(rx, 0x70B3D57ED0000043u));
  alec_encoder_free(enc);
}
END_TEST

/* Redelivery ids: every one of the last ALEC_DEDUP_GEN is remembered,
 * none is taken for another, and memory stays fixed however many arrive. */
START_TEST(dedup_generations) {
  static alec_dedup d; /* 128 KiB: not on the stack */
  alec_dedup_clear(&d);
  ck_assert_uint_eq(alec_dedup_key(""), 0);
  ck_assert(!alec_dedup_has(&d, 0));
  char id[40];
  for (unsigned k = 0; k < 20000; k++) {
    snprintf(id, sizeof id, "6f7c0c5e-%08x-4a1b", k);
    uint64_t key = alec_dedup_key(id);
    ck_assert(!alec_dedup_has(&d, key));
    alec_dedup_add(&d, key);
    ck_assert(alec_dedup_has(&d, key));
    if (k >= ALEC_DEDUP_GEN) {
      snprintf(id, sizeof id, "6f7c0c5e-%08x-4a1b", k - ALEC_DEDUP_GEN);
      ck_assert(alec_dedup_has(&d, alec_dedup_key(id)));
    }
  }
  snprintf(id, sizeof id, "6f7c0c5e-%08x-4a1b", 0u);
  ck_assert(!alec_dedup_has(&d, alec_dedup_key(id))); /* long forgotten */
}
END_TEST

/* Frames received 10 minutes apart give the fleet a 10-minute period, and
 * the values that interval. */
START_TEST(payload_period_interval) {
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double now = (double)time(NULL);
  for (int k = 0; k < 8; k++) {
    double v[2] = {20.0 + 0.1 * k, 50.0};
    uint8_t frame[ALEC_FRAME_MAX];
    int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    double t = now + 600.0 * k;
    alec_rx_msg *m = payload_msg(42, frame, (size_t)len, 2, t);
    alec_rx_process(rx, m);
    free(m);
    alec_rx_score(rx, t);
  }
  ck_assert_uint_eq(cap.frames, 8);
  ck_assert_double_eq_tol(cap.last_interval, 600.0, 1e-6);
  alec_encoder_free(enc);
}
END_TEST

/* A lost frame: the next one's unreliable values are held back and a
 * keyframe request goes back through the message's reply handle, once. */
START_TEST(loss_requests_keyframe) {
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double t0 = (double)time(NULL);
  for (int k = 0; k < 12; k++) {
    double v[2] = {20.0 + 0.3 * k, 40.0 + 0.7 * k};
    uint8_t frame[ALEC_FRAME_MAX];
    int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    if (k == 5) continue; /* lost */
    alec_rx_msg *m = payload_msg(77, frame, (size_t)len, 2, t0 + k);
    alec_rx_process(rx, m);
    free(m);
  }
  ck_assert_uint_eq(cap.requests, 1);
  ck_assert_uint_eq(cap.request_ids[0], 77);
  ck_assert_int_eq(cap.last_bare, 1);
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_gt(st.held_back, 0);
  ck_assert_uint_eq(st.resync_sent, 1);
  alec_encoder_free(enc);
}
END_TEST

/* Hostile input is counted by kind and logged at most once per kind and
 * 10 s, and never reaches the sink. */
START_TEST(rejections) {
  double t0 = (double)time(NULL);
  static const uint8_t junk[] = {0x07, 0x01, 0x02};
  for (int i = 0; i < 1000; i++) {
    alec_rx_msg *m = alec_rx_msg_new(sizeof junk);
    m->kind = ALEC_RX_DATAGRAM;
    m->received = t0;
    memcpy(m->data, junk, sizeof junk);
    alec_rx_process(rx, m);
    free(m);
  }
  /* A fixed payload without a channel count: refused as a format error. */
  alec_rx_msg *m = payload_msg(5, junk, sizeof junk, 0, t0);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_VERSION] + st.rejected[ALEC_RX_REJ_MALFORMED], 1000);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_FORMAT], 1);
  ck_assert_uint_eq(cap.frames, 0);
  ck_assert_uint_le(cap.logs, 3);
  ck_assert_str_eq(alec_rx_reject_name(ALEC_RX_REJ_UNKNOWN), "unknown_emitter");
}
END_TEST

/* One emitter, one family: a single-value frame after fixed frames would
 * move a fixed channel's predictor; it is refused and counted. */
START_TEST(family_switch) {
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double t0 = (double)time(NULL);
  uint8_t buf[1400], frame[ALEC_FRAME_MAX];
  alec_envelope_writer w;
  double v[2] = {21.5, 40.0};
  int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
  ck_assert_int_gt(alec_envelope_add(&w, 9, ALEC_FORMAT_FIXED, 2, frame, (size_t)len), 0);
  alec_encoder *single;
  ck_assert_int_eq(alec_encoder_new(&single, NULL), 0);
  len = alec_encode_single(single, 1, 99.0, 0, frame, sizeof frame, NULL);
  ck_assert_int_gt(len, 0);
  ck_assert_int_gt(alec_envelope_add(&w, 9, ALEC_FORMAT_SINGLE, 0, frame, (size_t)len), 0);
  alec_rx_msg *m = alec_rx_msg_new(w.len);
  m->kind = ALEC_RX_DATAGRAM;
  m->received = t0;
  memcpy(m->data, buf, w.len);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(cap.frames, 1);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_FORMAT], 1);
  ck_assert(strstr(cap.last_log, "family switch") != NULL);
  ck_assert_double_eq_tol(cap.last_value[1], 40.0, 0.005);
  alec_encoder_free(enc);
  alec_encoder_free(single);
}
END_TEST

/* Envelope datagrams through the threaded path: submit, dispatch thread,
 * sink; stop drains what was queued. */
static int plain_spawn(pthread_t *t, void *(*fn)(void *), void *arg, const char *name) {
  (void)name;
  return pthread_create(t, NULL, fn, arg);
}

START_TEST(threaded_envelopes) {
  ck_assert_int_eq(alec_rx_start(rx, plain_spawn), 0);
  alec_encoder *enc[4];
  for (int e = 0; e < 4; e++) ck_assert_int_eq(alec_encoder_new(&enc[e], NULL), 0);
  for (int k = 0; k < 100; k++) {
    uint8_t buf[1400];
    alec_envelope_writer w;
    ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
    for (int e = 0; e < 4; e++) {
      double v[2] = {10.0 * e + 0.1 * k, 5.0};
      uint8_t frame[ALEC_FRAME_MAX];
      int len = alec_encode_fixed(enc[e], v, 2, frame, sizeof frame);
      ck_assert_int_gt(alec_envelope_add(&w, 100 + (uint64_t)e, ALEC_FORMAT_FIXED, 2, frame, (size_t)len), 0);
    }
    alec_rx_msg *m = alec_rx_msg_new(w.len);
    m->kind = ALEC_RX_DATAGRAM;
    m->received = (double)time(NULL);
    memcpy(m->data, buf, w.len);
    alec_rx_submit(rx, &m, 1);
  }
  alec_rx_stop(rx);
  ck_assert_uint_eq(cap.frames, 400);
  ck_assert_uint_eq(cap.values, 800);
  for (int e = 0; e < 4; e++) alec_encoder_free(enc[e]);
}
END_TEST

/* Device names are read by other threads (notifications, scores, the
 * dashboard) while the dispatch thread renames emitters and prunes the
 * table: under the sanitizers, no read of a freed name or table. */
static atomic_int names_stop;

static void *name_reader(void *arg) {
  alec_rx *r = arg;
  char host[ALEC_RX_NAME_LEN];
  uint64_t n = 0;
  while (!atomic_load(&names_stop)) {
    alec_rx_emitter_host(r, 5000 + n % 256, host, sizeof host);
    ck_assert(strncmp(host, "dev-", 4) == 0 || strncmp(host, "alec-", 5) == 0);
    n++;
  }
  return NULL;
}

START_TEST(host_readers) {
  atomic_store(&names_stop, 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, name_reader, rx), 0);
  double t0 = (double)time(NULL), step = 2 * cfg.emitter_timeout + 100;
  double v[2] = {1.0, 2.0};
  uint8_t frame[ALEC_FRAME_MAX];
  for (int r = 0; r < 4; r++) {
    double t = t0 + r * step;
    for (int k = 0; k < 64; k++) {
      alec_encoder *enc;
      ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
      for (int j = 0; j < 3; j++) {
        int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
        ck_assert_int_gt(len, 0);
        alec_rx_msg *m = payload_msg(5000 + (uint64_t)(r * 64 + k), frame, (size_t)len, 2, t);
        snprintf(m->host, sizeof m->host, "dev-%d-%d", k, j); /* renamed at every frame */
        alec_rx_process(rx, m);
        free(m);
      }
      alec_encoder_free(enc);
    }
    alec_rx_evaluate(rx, t + 1); /* prunes the previous round's emitters */
  }
  atomic_store(&names_stop, 1);
  pthread_join(th, NULL);
  ck_assert_uint_eq(cap.values, 4 * 64 * 3 * 2);
  char host[ALEC_RX_NAME_LEN];
  alec_rx_emitter_host(rx, 5000 + 3 * 64 + 7, host, sizeof host);
  ck_assert_str_eq(host, "dev-7-2");
  alec_rx_emitter_host(rx, 5000 + 7, host, sizeof host);
  ck_assert_str_eq(host, "alec-000000000000138f");
}
END_TEST

/* Issue 13 finding 2: an unknown emitter's channels are bounded
 * (UnknownMaxChannels) and so are new identifiers per second
 * (MaxNewIdentifiers); configured emitters are not. */
static void restart_rx(unsigned max_channels, double max_ids) {
  alec_rx_free(rx);
  alec_pc_free(&cfg);
  memset(&cap, 0, sizeof cap);
  alec_pc_init(&cfg);
  cfg.unknown_max_channels = max_channels;
  cfg.max_new_identifiers = max_ids;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.arg = &cap, .log = cap_log, .values = cap_values};
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
}

START_TEST(unknown_bounds) {
  restart_rx(16, 1000);
  double t0 = (double)time(NULL);
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double v[64];
  for (int i = 0; i < 64; i++) v[i] = 20.0 + i;
  uint8_t frame[ALEC_FRAME_MAX];
  /* Fixed frames wider than the bound: refused before decoding. */
  int len = alec_encode_fixed(enc, v, 20, frame, sizeof frame);
  ck_assert_int_gt(len, 0);
  alec_rx_msg *m = payload_msg(500, frame, (size_t)len, 20, t0);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_CHANNELS], 1);
  ck_assert_uint_eq(st.fleet.frames, 0);
  ck_assert_uint_eq(cap.values, 0);
  /* Multi frames of 24 names: the first 16 are dispatched, every time. */
  alec_encoder *menc;
  ck_assert_int_eq(alec_encoder_new(&menc, NULL), 0);
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 24; i++) v[i] = 20.0 + i + 3.0 * k;
    len = alec_encode_multi(menc, v, 24, (uint64_t)(t0 * 1000) + (uint64_t)k, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    m = payload_msg(501, frame, (size_t)len, 0, t0 + k);
    m->format = ALEC_FORMAT_MULTI;
    alec_rx_process(rx, m);
    free(m);
  }
  ck_assert_uint_eq(cap.values, 3 * 16);
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_CHANNELS], 4);
  alec_encoder_free(menc);

  /* 10 new identifiers per second: 5 emitters x 4 channels at once get 10
   * through, the rest come with the frames of the next second. */
  restart_rx(16, 10);
  alec_encoder *fe[5];
  for (int e = 0; e < 5; e++) ck_assert_int_eq(alec_encoder_new(&fe[e], NULL), 0);
  for (int k = 0; k < 2; k++)
    for (int e = 0; e < 5; e++) {
      len = alec_encode_fixed(fe[e], v, 4, frame, sizeof frame);
      uint8_t buf[256];
      alec_envelope_writer w;
      ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, 0), 0);
      ck_assert_int_gt(alec_envelope_add(&w, 600 + (uint64_t)e, ALEC_FORMAT_FIXED, 4, frame, (size_t)len), 0);
      m = alec_rx_msg_new(w.len);
      m->kind = ALEC_RX_DATAGRAM;
      m->received = t0 + k;
      memcpy(m->data, buf, w.len);
      m->len = w.len;
      alec_rx_process(rx, m);
      free(m);
    }
  for (int e = 0; e < 5; e++) alec_encoder_free(fe[e]);
  alec_rx_get_stats(rx, t0, &st);
  /* Second 0: 10 tokens, 10 channels. Second 1: those 10 again, and 10
   * more tokens for the other 10 channels. */
  ck_assert_uint_eq(cap.values, 10 + 10 + 10);
  ck_assert_uint_gt(st.rejected[ALEC_RX_REJ_NEW_IDS], 0);
  /* Devices a network server identified are not rate-limited: 5 more x 4
   * channels in the same second all land. */
  uint64_t before = cap.values, refused = st.rejected[ALEC_RX_REJ_NEW_IDS];
  for (int e = 0; e < 5; e++) {
    ck_assert_int_eq(alec_encoder_new(&fe[e], NULL), 0);
    len = alec_encode_fixed(fe[e], v, 4, frame, sizeof frame);
    m = payload_msg(700 + (uint64_t)e, frame, (size_t)len, 4, t0 + 1);
    alec_rx_process(rx, m);
    free(m);
    alec_encoder_free(fe[e]);
  }
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(cap.values - before, 20);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_NEW_IDS], refused);
  alec_encoder_free(enc);
}
END_TEST

/* Issue 13 finding 1: one record per emitter. Unknown ids take at most
 * MaxEmitters records; a configured emitter keeps its own, with its rate
 * limit state, whatever the flood (before, the buckets were a table of
 * their own that a flood of new ids evicted). */
START_TEST(emitter_table_bounds) {
  alec_rx_free(rx);
  alec_pc_free(&cfg);
  memset(&cap, 0, sizeof cap);
  alec_pc_init(&cfg);
  cfg.emitters = calloc(2, sizeof(*cfg.emitters));
  ck_assert_ptr_nonnull(cfg.emitters);
  cfg.n_emitters = 2;
  cfg.emitters[0].id = 7;
  cfg.emitters[1].id = 8; /* configured, silent until the flood is over */
  cfg.max_emitters = 50;
  cfg.rate_limit = 1;
  cfg.rate_burst = 5;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
  alec_rx_sink sink = {.arg = &cap, .log = cap_log, .values = cap_values};
  ck_assert_int_eq(alec_rx_new(&rx, &cfg, &sink), 0);
  double t0 = (double)time(NULL);
  alec_encoder *enc, *other;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  ck_assert_int_eq(alec_encoder_new(&other, NULL), 0);
  uint8_t frame[ALEC_FRAME_MAX], last[ALEC_FRAME_MAX];
  int len = 0;
  for (int k = 0; k < 5; k++) {
    double v[2] = {20.0 + 0.1 * k, 50.0};
    len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    memcpy(last, frame, (size_t)len);
    alec_rx_msg *m = payload_msg(7, frame, (size_t)len, 2, t0);
    alec_rx_process(rx, m);
    free(m);
  }
  ck_assert_uint_eq(cap.values, 10);
  /* 200 unknown ids, one keyframe each: 50 (MaxEmitters) are admitted,
   * the other 150 are refused before decoding. */
  double ov[2] = {1.0, 2.0};
  int olen = alec_encode_fixed(other, ov, 2, frame, sizeof frame);
  ck_assert_int_gt(olen, 0);
  for (uint64_t id = 1000; id < 1200; id++) {
    alec_rx_msg *m = payload_msg(id, frame, (size_t)olen, 2, t0);
    alec_rx_process(rx, m);
    free(m);
  }
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(cap.values, 10 + 50 * 2);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_MAX_EMITTERS], 150);
  /* The flood did not take the room of a configured emitter that had not
   * reported yet: the fleet keeps room for them beside MaxEmitters unknown
   * ones. */
  alec_encoder *e8;
  ck_assert_int_eq(alec_encoder_new(&e8, NULL), 0);
  double v8[2] = {21.0, 51.0};
  int len8 = alec_encode_fixed(e8, v8, 2, frame, sizeof frame);
  ck_assert_int_gt(len8, 0);
  alec_rx_msg *m8 = payload_msg(8, frame, (size_t)len8, 2, t0);
  alec_rx_process(rx, m8);
  free(m8);
  alec_encoder_free(e8);
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(cap.values, 10 + 50 * 2 + 2);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_MAX_EMITTERS], 150);
  /* Emitter 7's bucket is still empty: its sixth frame of the second is
   * refused by the rate limit (a fresh bucket would pass it to the fleet,
   * which would count it stale). */
  alec_rx_msg *m = payload_msg(7, last, (size_t)len, 2, t0);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_RATE], 1);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_STALE], 0);
  /* Ten seconds later its burst again, every value stored. */
  for (int k = 5; k < 10; k++) {
    double v[2] = {20.0 + 0.1 * k, 50.0};
    len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    m = payload_msg(7, frame, (size_t)len, 2, t0 + 10);
    alec_rx_process(rx, m);
    free(m);
    ck_assert_double_eq_tol(cap.last_value[0], v[0], 0.005);
  }
  ck_assert_uint_eq(cap.values, 10 + 50 * 2 + 2 + 10);
  /* A device name in the record; then the prune (2 x EmitterTimeout): the
   * silent records go and free their room, a live one keeps its name. */
  double ov2[2] = {1.5, 2.5};
  olen = alec_encode_fixed(other, ov2, 2, frame, sizeof frame);
  ck_assert_int_gt(olen, 0);
  m = payload_msg(1000, frame, (size_t)olen, 2, t0 + 5000);
  snprintf(m->host, sizeof m->host, "dev-1000");
  alec_rx_process(rx, m);
  free(m);
  ck_assert_str_eq(cap.last_host, "dev-1000");
  char host[ALEC_RX_NAME_LEN];
  alec_rx_emitter_host(rx, 1000, host, sizeof host);
  ck_assert_str_eq(host, "dev-1000");
  double later = t0 + 2 * cfg.emitter_timeout + 100;
  alec_rx_evaluate(rx, later);
  alec_rx_emitter_host(rx, 1000, host, sizeof host);
  ck_assert_str_eq(host, "dev-1000");
  alec_rx_emitter_host(rx, 1001, host, sizeof host);
  ck_assert_str_eq(host, "alec-00000000000003e9");
  alec_encoder *fresh;
  ck_assert_int_eq(alec_encoder_new(&fresh, NULL), 0);
  olen = alec_encode_fixed(fresh, ov, 2, frame, sizeof frame);
  size_t before = cap.values;
  m = payload_msg(1199, frame, (size_t)olen, 2, later);
  alec_rx_process(rx, m);
  free(m);
  alec_rx_get_stats(rx, later, &st);
  ck_assert_uint_eq(st.rejected[ALEC_RX_REJ_MAX_EMITTERS], 150);
  ck_assert_uint_eq(cap.values, before + 2);
  alec_encoder_free(fresh);
  alec_encoder_free(enc);
  alec_encoder_free(other);
}
END_TEST

/* Issue 13 finding 10: a claimed time outside TimestampTolerance is
 * replaced by the receive time and counted. */
START_TEST(time_tolerance) {
  double t0 = (double)time(NULL);
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  double v[2] = {1, 2};
  uint8_t frame[ALEC_FRAME_MAX];
  /* A network-server time may lie up to 7 days back (a broker backlog). */
  const double claims[] = {t0 + 59, t0 - 700000, t0 - 30, t0 + 4};
  const double want[] = {t0, t0 + 1, t0 - 30 + 2 /* increasing */, t0 + 4 + 3};
  for (int k = 0; k < 4; k++) {
    int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    alec_rx_msg *m = payload_msg(800, frame, (size_t)len, 2, t0 + k);
    m->has_event_time = 1;
    m->event_time = claims[k];
    alec_rx_process(rx, m);
    free(m);
    if (k < 2) ck_assert_double_eq(cap.last_time, want[k]);
  }
  alec_rx_stats st;
  alec_rx_get_stats(rx, t0, &st);
  ck_assert_uint_eq(st.time_clamped[1], 1);
  ck_assert_uint_eq(st.time_clamped[0], 1);
  /* -30 s is within the tolerance, but times of one emitter only increase. */
  ck_assert_double_eq(cap.last_time, t0 + 4);
  (void)want;
  alec_encoder_free(enc);
}
END_TEST

/* A backlog three days old (a broker's persistent session): the read
 * callback's statistics and scores see the fleet's clock, not the wall's,
 * so its emitters are active while the fleet scores them. */
START_TEST(readers_fleet_time) {
  double wall = (double)time(NULL), t0 = wall - 3 * 86400.0;
  ck_assert_double_eq(alec_rx_fleet_time(rx, wall), wall); /* no evaluation yet */
  alec_encoder *enc;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  for (int k = 0; k < 6; k++) {
    double v[2] = {20.0 + 0.1 * k, 50.0};
    uint8_t frame[ALEC_FRAME_MAX];
    int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    alec_rx_msg *m = payload_msg(4242, frame, (size_t)len, 2, wall);
    m->has_event_time = 1;
    m->event_time = t0 + 600.0 * k;
    alec_rx_process(rx, m);
    free(m);
    alec_rx_evaluate(rx, alec_rx_clock(rx, NAN));
  }
  double ft = alec_rx_fleet_time(rx, wall + 5);
  ck_assert_double_le(ft, t0 + 3000 + 5 + 1);
  ck_assert_double_ge(ft, t0 + 3000);
  alec_rx_stats st;
  alec_rx_get_stats(rx, ft, &st);
  ck_assert_uint_eq(st.fleet.active, 1);
  alec_rx_get_stats(rx, wall, &st); /* the wall's time: three days silent */
  ck_assert_uint_eq(st.fleet.active, 0);
  alec_encoder_free(enc);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("receiver");
  TCase *tq_case = tcase_create("queue");
  tcase_set_timeout(tq_case, 20);
  tcase_add_test(tq_case, queue_bounds);
  tcase_add_test(tq_case, queue_threads);
  suite_add_tcase(s, tq_case);
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, payload_frames);
  tcase_add_test(tc, payload_profile_names);
  tcase_add_test(tc, dedup_generations);
  tcase_add_test(tc, payload_period_interval);
  tcase_add_test(tc, loss_requests_keyframe);
  tcase_add_test(tc, rejections);
  tcase_add_test(tc, family_switch);
  tcase_add_test(tc, unknown_bounds);
  tcase_add_test(tc, emitter_table_bounds);
  tcase_add_test(tc, host_readers);
  tcase_add_test(tc, time_tolerance);
  tcase_add_test(tc, readers_fleet_time);
  tcase_add_test(tc, threaded_envelopes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
