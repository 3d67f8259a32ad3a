/* SPDX-License-Identifier: MIT */
/* bench-fleet-cadence: what the fleet costs at real cadences, in virtual
 * time. Every emitter reports at its own phase once per period (fixed
 * frames, 4 channels, pre-encoded); time advances in 0.1 s slices, each
 * slice's frames go through alec_fleet_process_hint (each emitter's hint
 * kept beside it, as the receiver keeps it in its emitter record) and then
 * one alec_fleet_evaluate runs, as the receiver's dispatch thread does
 * (after every batch, and every EvaluationInterval). The first period creates the
 * emitters and is not timed. Printed: CPU per virtual second as a share of
 * one core, split into ingest (decode + level, O(1) per value) and
 * evaluation (baselines, scores, stale scans), the same frames through bare
 * decoders as the baseline (in the same slice, just before the fleet gets
 * them, so that both see the same machine load), the fleet's own share
 * (ingest - bare decode + evaluation) and memory per emitter-channel.
 * Repetitions are interleaved over the cases (case 1, 2, 3, 1, 2, 3, ...);
 * medians of REPEAT runs with their range; speed is printed, never
 * asserted. Arguments: "quick" for a small smoke run, then optionally the
 * numbers of the cases to run (1-based), e.g. `bench-fleet-cadence 2` for
 * a profile of the second alone. */
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
#define SLOT 32
#define SLICE 0.1
#define REPEAT 3

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

typedef struct cfg {
  const char *name;
  unsigned n, groups, periods; /* periods: timed periods after the untimed first */
  double period;
  int bare; /* also time bare decoders */
} bcfg;

typedef struct res {
  double ingest, eval, bare; /* CPU ns over the timed periods */
  double bare_loop;          /* the same frames through fresh decoders in one loop */
  double vsec, frames;
  double bytes_acct, bytes_rss;
  uint64_t events;
} res;

/* A fixed pseudo-random phase in [0, 1) per emitter. */
static double mix_phase(unsigned e) {
  uint64_t x = (uint64_t)e * 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

static void count_ev(const alec_fleet_event *ev, void *arg) {
  (void)ev;
  ++*(uint64_t *)arg;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int run(const bcfg *b, res *out) {
  unsigned n = b->n, rounds = b->periods + 1;
  unsigned slices = (unsigned)(b->period / SLICE + 0.5);
  uint8_t *frames = malloc((size_t)rounds * n * SLOT);
  uint8_t *lens = malloc((size_t)rounds * n);
  unsigned *bucket_start = calloc(slices + 1, sizeof *bucket_start);
  uint32_t *order = malloc((size_t)n * sizeof *order);
  uint32_t *hints = calloc(n, sizeof *hints);
  if (!frames || !lens || !bucket_start || !order || !hints) return -1;
  alec_scenario sc;
  alec_scenario_init(&sc, "noisy");
  sc.emitters = n;
  sc.channels = CHANNELS;
  for (unsigned e = 0; e < n; e++) {
    alec_encoder *enc;
    if (alec_encoder_new(&enc, NULL) != 0) return -1;
    for (unsigned r = 0; r < rounds; r++) {
      double v[CHANNELS];
      for (unsigned c = 0; c < CHANNELS; c++) v[c] = alec_scenario_value(&sc, e, r, c);
      int len = alec_encode_fixed(enc, v, CHANNELS, frames + ((size_t)r * n + e) * SLOT, SLOT);
      if (len <= 0) return -1;
      lens[(size_t)r * n + e] = (uint8_t)len;
    }
    alec_encoder_free(enc);
  }
  /* Emitters by phase slice (counting sort of a fixed pseudo-random phase). */
  for (unsigned e = 0; e < n; e++) bucket_start[(uint32_t)(mix_phase(e) * slices) + 1]++;
  for (unsigned s = 0; s < slices; s++) bucket_start[s + 1] += bucket_start[s];
  unsigned *fill = calloc(slices, sizeof *fill);
  if (!fill) return -1;
  for (unsigned e = 0; e < n; e++) {
    unsigned s = (uint32_t)(mix_phase(e) * slices);
    order[bucket_start[s] + fill[s]++] = e;
  }
  free(fill);

  alec_decoder **dec = NULL;
  if (b->bare) {
    dec = malloc((size_t)n * sizeof *dec);
    if (!dec) return -1;
    for (unsigned e = 0; e < n; e++)
      if (alec_decoder_new(&dec[e], NULL) != 0) return -1;
  }
  alec_fleet_config fc;
  alec_fleet_config_init(&fc);
  fc.max_emitters = n;
  fc.emitter_timeout = 4 * b->period;
  fc.max_groups = b->groups + 1;
  fc.pattern_min_count = 0; /* value learning is not what is measured */
  fc.sync_interval = 0;
  alec_fleet *f;
  if (alec_fleet_new(&f, &fc) != 0) return -1;
  long rss0 = rss_bytes();
  char g[16];
  for (unsigned e = 0; e < n; e++) {
    snprintf(g, sizeof g, "g%u", e % b->groups);
    if (alec_fleet_set_emitter_group(f, e, g) != 0) return -1;
  }
  memset(out, 0, sizeof *out);
  double t = 0;
  alec_value vals[CHANNELS];
  for (unsigned r = 0; r < rounds; r++) {
    for (unsigned s = 0; s < slices; s++, t += SLICE) {
      unsigned k0 = bucket_start[s], k1 = bucket_start[s + 1];
      /* The bare decoders get the slice's frames before the fleet in one
       * slice and after it in the next: neither side is the one that
       * always finds the frames in cache. */
      int bare_first = (s & 1) == 0;
      double d0 = 0, d1 = 0;
      if (dec && bare_first) {
        d0 = cpu_ns();
        for (unsigned k = k0; k < k1; k++) {
          unsigned e = order[k];
          size_t i = (size_t)r * n + e;
          /* Its lines requested together, as the fleet requests them. */
          alec_decoder_prefetch(dec[e]);
          if (alec_decoder_decode(dec[e], ALEC_FORMAT_FIXED, CHANNELS, frames + i * SLOT, lens[i], vals,
                                  CHANNELS, NULL) != CHANNELS)
            return -1;
        }
        d1 = cpu_ns();
      }
      double c0 = cpu_ns();
      for (unsigned k = k0; k < k1; k++) {
        unsigned e = order[k];
        size_t i = (size_t)r * n + e;
        if (alec_fleet_process_hint(f, &hints[e], e, ALEC_FORMAT_FIXED, CHANNELS, frames + i * SLOT, lens[i],
                                    t, NULL, 0, NULL, NULL) != CHANNELS)
          return -1;
      }
      double c1 = cpu_ns();
      if (alec_fleet_evaluate(f, t, count_ev, &out->events) < 0) return -1;
      double c2 = cpu_ns();
      if (dec && !bare_first) {
        d0 = cpu_ns();
        for (unsigned k = k0; k < k1; k++) {
          unsigned e = order[k];
          size_t i = (size_t)r * n + e;
          /* Its lines requested together, as the fleet requests them. */
          alec_decoder_prefetch(dec[e]);
          if (alec_decoder_decode(dec[e], ALEC_FORMAT_FIXED, CHANNELS, frames + i * SLOT, lens[i], vals,
                                  CHANNELS, NULL) != CHANNELS)
            return -1;
        }
        d1 = cpu_ns();
      }
      if (r > 0) {
        out->ingest += c1 - c0;
        out->eval += c2 - c1;
        out->bare += d1 - d0;
      }
    }
  }
  out->vsec = (double)b->periods * b->period;
  out->frames = (double)b->periods * n;
  out->bytes_acct = (double)alec_fleet_memory(f) / ((double)n * CHANNELS);
  out->bytes_rss = (double)(rss_bytes() - rss0) / ((double)n * CHANNELS);
  alec_fleet_free(f);
  if (dec) {
    /* The previous measure of decoding, for comparison: fresh decoders, each
     * round in one loop with nothing else in between (caches warm with
     * decoders only). */
    for (unsigned e = 0; e < n; e++) {
      alec_decoder_free(dec[e]);
      if (alec_decoder_new(&dec[e], NULL) != 0) return -1;
    }
    for (unsigned r = 0; r < rounds; r++) {
      double c0 = cpu_ns();
      for (unsigned k = 0; k < n; k++) {
        unsigned e = order[k];
        size_t i = (size_t)r * n + e;
        if (alec_decoder_decode(dec[e], ALEC_FORMAT_FIXED, CHANNELS, frames + i * SLOT, lens[i], vals,
                                CHANNELS, NULL) != CHANNELS)
          return -1;
      }
      if (r > 0) out->bare_loop += cpu_ns() - c0;
    }
    for (unsigned e = 0; e < n; e++) alec_decoder_free(dec[e]);
    free(dec);
  }
  free(frames);
  free(lens);
  free(bucket_start);
  free(order);
  free(hints);
  return 0;
}

static void med3(double *v, char *buf, size_t cap) {
  qsort(v, REPEAT, sizeof *v, cmpd);
  snprintf(buf, cap, "%.3f [%.3f,%.3f]", v[REPEAT / 2], v[0], v[REPEAT - 1]);
}

#define NCASES 3

int main(int argc, char **argv) {
  int quick = argc > 1 && strcmp(argv[1], "quick") == 0; /* a small smoke run */
  const bcfg cases[NCASES] = {
      {"1M x 4 ch every 10 min, 64 groups", quick ? 20000 : 1000000, 64, 1, 600, 0},
      {"100k x 4 ch every 1 s, 16 groups", quick ? 10000 : 100000, 16, quick ? 3 : 10, 1, 1},
      {"100k x 4 ch every 1 s, 1 group", quick ? 10000 : 100000, 1, quick ? 3 : 10, 1, 1},
  };
  int want[NCASES] = {0, 0, 0}, any = 0;
  for (int i = quick ? 2 : 1; i < argc; i++) {
    int k = atoi(argv[i]);
    if (k < 1 || k > NCASES) {
      fprintf(stderr, "usage: bench-fleet-cadence [quick] [case 1..%d ...]\n", NCASES);
      return 2;
    }
    want[k - 1] = any = 1;
  }
  for (int i = 0; i < NCASES; i++)
    if (!any) want[i] = 1;
  /* ing/ev/bare/own in % of a core, per case and repetition. */
  static double m[NCASES][5][REPEAT];
  res last[NCASES];
  for (int k = 0; k < REPEAT; k++) {
    for (int i = 0; i < NCASES; i++) {
      if (!want[i]) continue;
      res r;
      if (run(&cases[i], &r) != 0) {
        fprintf(stderr, "bench-fleet-cadence: %s failed\n", cases[i].name);
        return 1;
      }
      double u = 100.0 / (r.vsec * 1e9);
      m[i][0][k] = r.ingest * u;
      m[i][1][k] = r.eval * u;
      m[i][2][k] = r.bare * u;
      m[i][3][k] = (r.ingest - r.bare + r.eval) * u;
      m[i][4][k] = r.bare_loop * u;
      last[i] = r;
    }
  }
  printf("bench-fleet-cadence: virtual time in %.1f s slices, one evaluation per slice; median of %d "
         "interleaved runs [min, max], %% of one core\n\n",
         SLICE, REPEAT);
  printf("%-34s %8s %19s %19s %19s %19s %7s %7s %19s %7s %7s\n", "fleet", "frames", "ingest",
         "evaluate", "bare decode", "fleet own", "own/dec", "eva/dec", "bare decode, loop", "B/em-ch",
         "RSS/ech");
  for (int i = 0; i < NCASES; i++) {
    if (!want[i]) continue;
    char a[5][40];
    double ratio = 0, eratio = 0;
    if (cases[i].bare) {
      double q[REPEAT], qe[REPEAT];
      for (int k = 0; k < REPEAT; k++) {
        q[k] = m[i][3][k] / m[i][2][k];
        qe[k] = m[i][1][k] / m[i][2][k];
      }
      qsort(q, REPEAT, sizeof *q, cmpd);
      qsort(qe, REPEAT, sizeof *qe, cmpd);
      ratio = q[REPEAT / 2];
      eratio = qe[REPEAT / 2];
    }
    for (int j = 0; j < 5; j++) med3(m[i][j], a[j], sizeof a[j]);
    char rs[16], es[16];
    if (!cases[i].bare) {
      snprintf(a[2], sizeof a[2], "-");
      snprintf(a[3], sizeof a[3], "-");
      snprintf(a[4], sizeof a[4], "-");
      snprintf(rs, sizeof rs, "-");
      snprintf(es, sizeof es, "-");
    } else {
      snprintf(rs, sizeof rs, "%.2fx", ratio);
      snprintf(es, sizeof es, "%.2fx", eratio);
    }
    printf("%-34s %8.0f %19s %19s %19s %19s %7s %7s %19s %7.0f %7.0f\n", cases[i].name, last[i].frames,
           a[0], a[1], a[2], a[3], rs, es, a[4], last[i].bytes_acct, last[i].bytes_rss);
  }
  printf("\ningest = alec_fleet_process_hint (decode, level, pending); evaluate = alec_fleet_evaluate "
         "(baselines, scores, stale scans); bare decode = the same frames through bare decoders in "
         "the same slices; fleet own = ingest - bare decode + evaluate (what the fleet adds to "
         "decoding); own/dec, eva/dec = medians of the per-run ratios of fleet own and evaluate to bare "
         "decode; bare decode, loop = fresh decoders, each round in one loop after the fleet run (the "
         "earlier measure, caches holding decoders only); B/em-ch = alec_fleet_memory per "
         "emitter-channel, RSS/ech = resident growth per emitter-channel\n");
  return 0;
}
