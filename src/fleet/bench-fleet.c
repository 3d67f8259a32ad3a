/* SPDX-License-Identifier: MIT */
/* bench-fleet: cost of the fleet module as the fleet grows. For 1,000,
 * 10,000 and 100,000 emitters with 4 channels each, fixed frames are
 * encoded beforehand (closed-loop encoder, noisy scenario values), then fed
 * round by round: every emitter sends one frame, then one evaluation tick.
 * Rounds rotate over three arrival patterns:
 *  - warm, in order: emitters in creation order, and nothing else ran since
 *    the previous round, so a small fleet is still in the CPU caches;
 *  - warm, shuffled: a fixed random order;
 *  - cold, shuffled: a 64 MiB buffer is walked before the round (untimed),
 *    as in a daemon where seconds and other work separate two frames of an
 *    emitter: per-frame cost without the small-fleet cache bonus;
 *  - cold, shuffled, batched: the same, but BATCH frames at a time through
 *    alec_fleet_process_batch(), which overlaps the lookups of the next
 *    frames with the current one.
 * Also: ns per first frame (emitter creation), ns per evaluation tick,
 * accounted and measured (RSS) bytes per emitter. Speed is printed, never
 * asserted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alec/alec.h"
#include "alec/fleet.h"
#include "scenario.h"

#define CHANNELS 4
#define BATCH 64 /* frames per alec_fleet_process_batch call, as in a receive loop */
#define SLOT 32 /* bytes reserved per pre-encoded frame (4 ch: at most 5 + 1 + 16) */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_bytes(void) {
  FILE *fp = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (!fp) return 0;
  if (fscanf(fp, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(fp);
  return rss * sysconf(_SC_PAGESIZE);
}

typedef struct result {
  unsigned n, rounds;
  double ns_create, ns_warm_seq, ns_warm_shuf, ns_cold_shuf, ns_cold_batch, ns_eval, bytes_acct, bytes_rss;
  double dec_warm_seq, dec_cold_shuf; /* the same frames through bare decoders */
  uint64_t errors, events;
} result;

#define FLUSH_BYTES (64u << 20)
static unsigned char *flush_buf;

/* Evicts the fleet's state from every cache level (the LLC is 32 MiB or
 * less on the machines we measure on). */
static void flush_caches(void) {
  for (size_t i = 0; i < FLUSH_BYTES; i += 64) flush_buf[i]++;
}

static void count_ev(const alec_fleet_event *ev, void *arg) {
  (void)ev;
  ++*(uint64_t *)arg;
}

static int run(unsigned n, unsigned rounds, result *res) {
  alec_scenario sc;
  alec_scenario_init(&sc, "noisy");
  sc.emitters = n;
  sc.channels = CHANNELS;
  uint8_t *frames = malloc((size_t)rounds * n * SLOT);
  uint8_t *lens = malloc((size_t)rounds * n);
  uint32_t *perm = malloc((size_t)n * sizeof *perm);
  if (!frames || !lens || !perm) return -1;
  for (unsigned e = 0; e < n; e++) {
    alec_encoder *enc;
    if (alec_encoder_new(&enc, NULL) < 0) return -1;
    for (unsigned r = 0; r < rounds; r++) {
      double v[CHANNELS];
      for (unsigned c = 0; c < CHANNELS; c++) v[c] = alec_scenario_value(&sc, e, r, c);
      size_t at = (size_t)r * n + e;
      int len = alec_encode_fixed(enc, v, CHANNELS, frames + at * SLOT, SLOT);
      if (len <= 0) return -1;
      lens[at] = (uint8_t)len;
    }
    alec_encoder_free(enc);
  }
  /* A fixed pseudo-random arrival order (Fisher-Yates, LCG). */
  uint64_t x = 7;
  for (unsigned i = 0; i < n; i++) perm[i] = i;
  for (unsigned i = n - 1; i > 0; i--) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    unsigned j = (unsigned)((x >> 33) % (i + 1));
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }

  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_emitters = n;
  long rss0 = rss_bytes();
  alec_fleet *fleet;
  if (alec_fleet_new(&fleet, &cfg) < 0) return -1;
  memset(res, 0, sizeof *res);
  res->n = n;
  res->rounds = rounds;
  uint64_t errors = 0, events = 0;
  double t0 = now_ns();
  for (unsigned e = 0; e < n; e++)
    if (alec_fleet_process(fleet, e, ALEC_FORMAT_FIXED, CHANNELS, frames + (size_t)e * SLOT,
                           lens[e], 0.0, NULL, 0, NULL) != CHANNELS)
      errors++;
  res->ns_create = (now_ns() - t0) / n;
  double te = now_ns();
  alec_fleet_evaluate(fleet, 0.0, count_ev, &events);
  double eval_ns = now_ns() - te;
  double mode_ns[4] = {0, 0, 0, 0};
  unsigned mode_rounds[4] = {0, 0, 0, 0};
  alec_fleet_frame batch[BATCH];
  int bres[BATCH];
  memset(batch, 0, sizeof batch);
  for (unsigned r = 1; r < rounds; r++) {
    /* 0 warm in order, 1 warm shuffled, 2 cold shuffled, 3 cold shuffled batched */
    int mode = (int)(r % 4);
    if (mode >= 2) flush_caches();
    double t1 = now_ns();
    for (unsigned i = 0; mode == 3 && i < n; i += BATCH) {
      size_t nb = n - i < BATCH ? n - i : BATCH;
      for (size_t k = 0; k < nb; k++) {
        unsigned e = perm[i + k];
        size_t at = (size_t)r * n + e;
        batch[k].emitter_id = e;
        batch[k].fmt = ALEC_FORMAT_FIXED;
        batch[k].channels = CHANNELS;
        batch[k].data = frames + at * SLOT;
        batch[k].len = lens[at];
      }
      if (alec_fleet_process_batch(fleet, batch, nb, (double)r, bres) != (int)nb) errors++;
      for (size_t k = 0; k < nb; k++)
        if (bres[k] != CHANNELS) errors++;
    }
    for (unsigned i = 0; mode != 3 && i < n; i++) {
      unsigned e = mode ? perm[i] : i;
      size_t at = (size_t)r * n + e;
      if (alec_fleet_process(fleet, e, ALEC_FORMAT_FIXED, CHANNELS, frames + at * SLOT, lens[at],
                             (double)r, NULL, 0, NULL) != CHANNELS)
        errors++;
    }
    mode_ns[mode] += now_ns() - t1;
    mode_rounds[mode]++;
    te = now_ns();
    alec_fleet_evaluate(fleet, (double)r, count_ev, &events);
    eval_ns += now_ns() - te;
  }
  res->ns_warm_seq = mode_ns[0] / ((double)mode_rounds[0] * n);
  res->ns_warm_shuf = mode_ns[1] / ((double)mode_rounds[1] * n);
  res->ns_cold_shuf = mode_ns[2] / ((double)mode_rounds[2] * n);
  res->ns_cold_batch = mode_ns[3] / ((double)mode_rounds[3] * n);
  res->ns_eval = eval_ns / rounds;
  res->bytes_rss = (double)(rss_bytes() - rss0) / n;
  alec_fleet_stats st;
  alec_fleet_get_stats(fleet, (double)rounds, &st);
  res->bytes_acct = (double)st.memory_per_emitter;
  res->errors = errors + st.decode_errors;
  res->events = events;
  alec_fleet_free(fleet);

  /* Baseline: one bare alec_decoder per emitter, same frames, same orders,
   * no fleet: what the codec's own per-emitter state costs at this size. */
  alec_decoder **dec = calloc(n, sizeof *dec);
  if (!dec) return -1;
  for (unsigned e = 0; e < n; e++)
    if (alec_decoder_new(&dec[e], NULL) < 0) return -1;
  alec_value vals[CHANNELS];
  double dns[3] = {0, 0, 0};
  unsigned drounds[3] = {0, 0, 0};
  for (unsigned r = 0; r < rounds; r++) {
    int mode = (int)(r % 3);
    if (mode == 2) flush_caches();
    double t1 = now_ns();
    for (unsigned i = 0; i < n; i++) {
      unsigned e = mode ? perm[i] : i;
      size_t at = (size_t)r * n + e;
      if (alec_decoder_decode(dec[e], ALEC_FORMAT_FIXED, CHANNELS, frames + at * SLOT, lens[at],
                              vals, CHANNELS, NULL) != CHANNELS)
        res->errors++;
    }
    if (r > 0) {
      dns[mode] += now_ns() - t1;
      drounds[mode]++;
    }
  }
  res->dec_warm_seq = dns[0] / ((double)drounds[0] * n);
  res->dec_cold_shuf = dns[2] / ((double)drounds[2] * n);
  for (unsigned e = 0; e < n; e++) alec_decoder_free(dec[e]);
  free(dec);
  free(frames);
  free(lens);
  free(perm);
  return 0;
}

int main(int argc, char **argv) {
  (void)argv;
  /* Rounds chosen so each size processes about 1-2 million frames and the
   * whole run stays well under a minute on 2 cores. */
  static const unsigned sizes[3] = {1000, 10000, 100000};
  static const unsigned rounds[3] = {601, 91, 21};
  result res[3];
  int quick = argc > 1; /* any argument: smaller run (smoke test) */
  flush_buf = malloc(FLUSH_BYTES);
  if (!flush_buf) return 1;
  memset(flush_buf, 1, FLUSH_BYTES); /* resident before any RSS reading */
  printf("bench-fleet: fixed frames, %d channels per emitter, one evaluation per round\n\n",
         CHANNELS);
  for (int i = 0; i < 3; i++) {
    unsigned r = quick ? 7 : rounds[i];
    if (run(sizes[i], r, &res[i]) != 0) {
      fprintf(stderr, "bench-fleet: setup failed at %u emitters\n", sizes[i]);
      return 1;
    }
  }
  printf("alec_fleet_process, ns per frame                     batch(%d) | bare decoder, ns/frame\n",
         BATCH);
  printf("%9s %6s %11s %11s %11s %10s %10s | %11s %11s\n", "emitters", "rounds", "warm,order",
         "warm,shuf", "cold,shuf", "cold,shuf", "1st frame", "warm,order", "cold,shuf");
  for (int i = 0; i < 3; i++)
    printf("%9u %6u %11.1f %11.1f %11.1f %10.1f %10.1f | %11.1f %11.1f\n", res[i].n,
           res[i].rounds, res[i].ns_warm_seq, res[i].ns_warm_shuf, res[i].ns_cold_shuf,
           res[i].ns_cold_batch, res[i].ns_create, res[i].dec_warm_seq, res[i].dec_cold_shuf);
  printf("100,000 vs 1,000: fleet %.2fx cold shuffled, %.2fx cold shuffled batched, %.2fx warm in "
         "order, %.2fx warm shuffled; bare decoder %.2fx cold shuffled, %.2fx warm in order\n\n",
         res[2].ns_cold_shuf / res[0].ns_cold_shuf, res[2].ns_cold_batch / res[0].ns_cold_batch,
         res[2].ns_warm_seq / res[0].ns_warm_seq,
         res[2].ns_warm_shuf / res[0].ns_warm_shuf, res[2].dec_cold_shuf / res[0].dec_cold_shuf,
         res[2].dec_warm_seq / res[0].dec_warm_seq);
  printf("%9s %12s %12s %14s %14s %7s\n", "emitters", "ms/eval tick", "ns/emitter", "bytes/emitter",
         "bytes/emitter", "errors");
  printf("%9s %12s %12s %14s %14s %7s\n", "", "", "per tick", "(accounted)", "(RSS)", "");
  for (int i = 0; i < 3; i++)
    printf("%9u %12.3f %12.1f %14.0f %14.0f %7" PRIu64 "\n", res[i].n, res[i].ns_eval / 1e6,
           res[i].ns_eval / res[i].n, res[i].bytes_acct, res[i].bytes_rss, res[i].errors);
  printf("(warm: a 1,000-emitter fleet, about 2 MB, stays in cache between rounds; cold: a 64 MiB "
         "walk before the round evicts it, as seconds of other work do in a daemon)\n");
  free(flush_buf);
  return res[0].errors || res[1].errors || res[2].errors ? 1 : 0;
}
