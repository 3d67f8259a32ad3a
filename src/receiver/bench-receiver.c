/* SPDX-License-Identifier: MIT */
/* Hash flooding, measured (docs/SECURITY.md): the receiver's cost per frame
 * for a burst of emitter ids chosen to collide under the unkeyed finalizer
 * its tables used before (the ids share the low 32 bits of mix64(id), so
 * they filled one probe chain of every table), against a burst of random
 * ids, in the same run, interleaved. Each burst is one valid first frame
 * per new emitter, processed as the dispatch thread does, by a fresh
 * receiver (RateLimit on). Also the bytes of the per-emitter records.
 * Prints a table; asserts nothing. */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/encoder.h"
#include "hashflood.h"
#include "receiver.h"

#define IDS 6000
#define REPS 5

static void null_values(void *arg, const alec_rx_frame *f, uint64_t *sent, uint64_t *unconv) {
  (void)arg;
  (void)unconv;
  *sent += f->n;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ns per frame for one burst through a fresh receiver. */
static size_t table_bytes, table_records, table_max;

static double burst(const uint64_t *ids, const uint8_t *frame, size_t len, uint64_t *dispatched) {
  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  cfg.max_emitters = 2 * IDS;
  /* Every per-emitter structure on the path: the rate-limit bucket too
   * (never reached: one frame per emitter). */
  cfg.rate_limit = 1e6;
  cfg.rate_burst = 1e6;
  char err[ALEC_PC_ERR_LEN];
  if (alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "bench-receiver: %s\n", err);
    exit(1);
  }
  alec_rx_sink sink = {.values = null_values};
  alec_rx *rx;
  if (alec_rx_new(&rx, &cfg, &sink) != 0) exit(1);
  alec_rx_msg *m = alec_rx_msg_new(len);
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->format = ALEC_FORMAT_FIXED;
  m->channels = 2;
  m->received = (double)time(NULL);
  memcpy(m->data, frame, len);
  double t0 = cpu_now();
  for (size_t i = 0; i < IDS; i++) {
    m->emitter = ids[i];
    alec_rx_process(rx, m);
  }
  double t1 = cpu_now();
  alec_rx_stats st;
  alec_rx_get_stats(rx, m->received, &st);
  *dispatched = st.dispatched;
  table_bytes = st.emitter_table_bytes;
  table_records = st.emitter_records;
  table_max = cfg.max_emitters;
  free(m);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
  return (t1 - t0) * 1e9 / IDS;
}

/* ns per refused datagram (not an envelope: counted as `version`, one log
 * line per 10 s). The refusal must not pay for log text nobody reads. */
static double refusals(void) {
  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  char err[ALEC_PC_ERR_LEN];
  if (alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) != 0) exit(1);
  alec_rx_sink sink = {.values = null_values};
  alec_rx *rx;
  if (alec_rx_new(&rx, &cfg, &sink) != 0) exit(1);
  static const uint8_t junk[] = {0x07, 0x01, 0x02, 0x03};
  alec_rx_msg *m = alec_rx_msg_new(sizeof junk);
  m->kind = ALEC_RX_DATAGRAM;
  m->received = (double)time(NULL);
  memcpy(m->data, junk, sizeof junk);
  double t0 = cpu_now();
  for (size_t i = 0; i < 10 * IDS; i++) alec_rx_process(rx, m);
  double t1 = cpu_now();
  free(m);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
  return (t1 - t0) * 1e9 / (10 * IDS);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  static uint64_t colliding[IDS], random_ids[IDS];
  uint64_t r = UINT64_C(0x9E3779B97F4A7C15);
  for (size_t i = 0; i < IDS; i++) {
    colliding[i] = alec_hashflood_id(i);
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    random_ids[i] = r;
  }
  alec_encoder *enc;
  if (alec_encoder_new(&enc, NULL) != 0) return 1;
  double v[2] = {21.5, 48.0};
  uint8_t frame[ALEC_FRAME_MAX];
  int len = alec_encode_fixed(enc, v, 2, frame, sizeof frame);
  alec_encoder_free(enc);
  if (len <= 0) return 1;
  double c[REPS], n[REPS], j[REPS];
  uint64_t dc = 0, dn = 0;
  for (int k = 0; k < REPS; k++) {
    c[k] = burst(colliding, frame, (size_t)len, &dc);
    n[k] = burst(random_ids, frame, (size_t)len, &dn);
    j[k] = refusals();
  }
  double ratio[REPS];
  for (int k = 0; k < REPS; k++) ratio[k] = c[k] / n[k];
  qsort(c, REPS, sizeof c[0], cmp_d);
  qsort(n, REPS, sizeof n[0], cmp_d);
  qsort(ratio, REPS, sizeof ratio[0], cmp_d);
  qsort(j, REPS, sizeof j[0], cmp_d);
  printf("## Receiver: %d new emitters in one burst, ids colliding under the old unkeyed hash vs random ids\n\n", IDS);
  printf("%d interleaved repetitions, CPU ns per frame (one 2-channel keyframe per emitter), median [min, max]\n\n",
         REPS);
  printf("| ids | ns per frame | values stored |\n|---|---|---|\n");
  printf("| colliding (same low 32 bits of mix64) | %.0f [%.0f, %.0f] | %" PRIu64 " of %d |\n", c[REPS / 2], c[0],
         c[REPS - 1], dc, 2 * IDS);
  printf("| random | %.0f [%.0f, %.0f] | %" PRIu64 " of %d |\n", n[REPS / 2], n[0], n[REPS - 1], dn, 2 * IDS);
  printf("| refused datagram (not an envelope) | %.0f [%.0f, %.0f] | - |\n", j[REPS / 2], j[0], j[REPS - 1]);
  printf("\ncolliding / random: %.2fx [%.2f, %.2f]\n", ratio[REPS / 2], ratio[0], ratio[REPS - 1]);
  printf("\nper-emitter records (one table: state, device name, rate-limit bucket, keyframe limits): %zu records of %zu "
         "bytes for MaxEmitters %zu, %.0f bytes per MaxEmitters\n",
         table_records, table_records ? table_bytes / table_records : 0, table_max,
         table_max ? (double)table_bytes / (double)table_max : 0.0);
  return 0;
}
