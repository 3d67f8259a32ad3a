/* SPDX-License-Identifier: MIT */
/* bench-fleet: cost of the fleet module as the fleet grows. For 1,000,
 * 10,000 and 100,000 emitters with 4 channels each, fixed frames are
 * encoded beforehand (closed-loop encoder, noisy scenario values), then fed
 * round by round: every emitter sends one frame, then one evaluation tick.
 * Reported: ns per frame in alec_fleet_process (steady state, emitters in
 * creation order and in a shuffled order), ns per first frame (creation),
 * ns per evaluation tick, accounted and measured (RSS) bytes per emitter.
 * Speed is printed, never asserted. */
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
  double ns_create, ns_frame_seq, ns_frame_shuf, ns_eval, bytes_acct, bytes_rss;
  uint64_t errors, events;
} result;

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
  double seq_ns = 0, shuf_ns = 0;
  unsigned seq_rounds = 0, shuf_rounds = 0;
  for (unsigned r = 1; r < rounds; r++) {
    int shuffled = r % 2 == 0;
    double t1 = now_ns();
    for (unsigned i = 0; i < n; i++) {
      unsigned e = shuffled ? perm[i] : i;
      size_t at = (size_t)r * n + e;
      if (alec_fleet_process(fleet, e, ALEC_FORMAT_FIXED, CHANNELS, frames + at * SLOT, lens[at],
                             (double)r, NULL, 0, NULL) != CHANNELS)
        errors++;
    }
    double dt = now_ns() - t1;
    if (shuffled)
      shuf_ns += dt, shuf_rounds++;
    else
      seq_ns += dt, seq_rounds++;
    te = now_ns();
    alec_fleet_evaluate(fleet, (double)r, count_ev, &events);
    eval_ns += now_ns() - te;
  }
  res->ns_frame_seq = seq_ns / ((double)seq_rounds * n);
  res->ns_frame_shuf = shuf_ns / ((double)shuf_rounds * n);
  res->ns_eval = eval_ns / rounds;
  res->bytes_rss = (double)(rss_bytes() - rss0) / n;
  alec_fleet_stats st;
  alec_fleet_get_stats(fleet, (double)rounds, &st);
  res->bytes_acct = (double)st.memory_per_emitter;
  res->errors = errors + st.decode_errors;
  res->events = events;
  alec_fleet_free(fleet);
  free(frames);
  free(lens);
  free(perm);
  return 0;
}

int main(int argc, char **argv) {
  (void)argv;
  /* Rounds chosen so each size processes about 1-2 million frames. */
  static const unsigned sizes[3] = {1000, 10000, 100000};
  static const unsigned rounds[3] = {1001, 101, 21};
  result res[3];
  int quick = argc > 1; /* any argument: smaller run (smoke test) */
  printf("bench-fleet: fixed frames, %d channels per emitter, one evaluation per round\n",
         CHANNELS);
  printf("%9s %7s %12s %12s %12s %12s %10s %12s %11s %7s\n", "emitters", "rounds",
         "ns/frame", "ns/frame", "ns/first", "ms/eval", "ns/eval", "bytes/emit", "bytes/emit",
         "errors");
  printf("%9s %7s %12s %12s %12s %12s %10s %12s %11s %7s\n", "", "", "(in order)", "(shuffled)",
         "frame", "tick", "per emit", "(accounted)", "(RSS)", "");
  for (int i = 0; i < 3; i++) {
    unsigned r = quick ? 5 : rounds[i];
    if (run(sizes[i], r, &res[i]) != 0) {
      fprintf(stderr, "bench-fleet: setup failed at %u emitters\n", sizes[i]);
      return 1;
    }
    printf("%9u %7u %12.1f %12.1f %12.1f %12.3f %10.1f %12.0f %11.0f %7" PRIu64 "\n", res[i].n,
           res[i].rounds, res[i].ns_frame_seq, res[i].ns_frame_shuf, res[i].ns_create,
           res[i].ns_eval / 1e6, res[i].ns_eval / res[i].n, res[i].bytes_acct, res[i].bytes_rss,
           res[i].errors);
    fflush(stdout);
  }
  printf("ns/frame 100,000 vs 1,000 emitters: %.2fx in order, %.2fx shuffled\n",
         res[2].ns_frame_seq / res[0].ns_frame_seq, res[2].ns_frame_shuf / res[0].ns_frame_shuf);
  return res[0].errors || res[1].errors || res[2].errors ? 1 : 0;
}
