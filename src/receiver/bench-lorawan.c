/* SPDX-License-Identifier: MIT */
/* bench-lorawan: loss in the TLV-fallback flow (docs/LORAWAN-LOSS.md). The
 * partner configuration (5 channels in registers, TLV above 11 bytes,
 * keyframe interval 30), 40 devices x 3 days at 10 min, 2 % random loss and
 * a 90-minute outage, through the reference receiver's procedure and this
 * receiver (LossRecovery hold and estimate), per seed. Accuracy, not speed:
 * the figures are deterministic for a seed.
 *   bench-lorawan [seeds (3)] [loss percent (2)] */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/decoder.h"
#include "alec/encoder.h"
#include "alec/error.h"
#include "loss_eval.h"
#include "lossrec.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One uplink's recovery work after `lost` lost uplinks: TLV (ghosts only)
 * or an ALEC frame (ghosts estimated by decoding it twice first). */
static double cost_once(uint32_t lost, int alec) {
  alec_decoder *dec;
  if (alec_decoder_new(&dec, NULL) != 0) return -1;
  alec_encoder_config ec;
  alec_encoder_config_init(&ec);
  ec.reference_compat = 1;
  ec.keyframe_interval = 0;
  alec_encoder *enc;
  if (alec_encoder_new(&enc, &ec) != 0) return -1;
  alec_lr lr;
  alec_lr_init(&lr, 5);
  double v[5] = {100, 215, 90, 600, 10100};
  uint8_t frame[64];
  int n = 0;
  for (int i = 0; i < 40; i++) {
    v[3] += i % 3;
    n = alec_encode_fixed(enc, v, 5, frame, sizeof frame);
    alec_lr_exact(&lr, dec, 0, v);
    alec_decoder_feed_values(dec, v, 5);
  }
  for (uint32_t j = 0; j < lost; j++) n = alec_encode_fixed(enc, v, 5, frame, sizeof frame);
  n = alec_encode_fixed(enc, v, 5, frame, sizeof frame);
  double feed[5], out[5];
  uint8_t st[5];
  double t0 = now_s();
  if (alec) alec_lr_decode(&lr, dec, lost, frame, (size_t)n, feed, out, st, NULL);
  else alec_lr_exact(&lr, dec, lost, v);
  double t = now_s() - t0;
  alec_encoder_free(enc);
  alec_decoder_free(dec);
  return t;
}

/* Median and range of the cost of the largest gap LoRaWAN allows against
 * the same uplink without loss, interleaved. */
static void cost_table(void) {
  enum { RUNS = 21 };
  static const uint32_t gaps[] = {0, 1, 9, 1000, ALEC_LR_MAX_GAP};
  double t[2][5][RUNS];
  for (int r = 0; r < RUNS; r++)
    for (int k = 0; k < 2; k++)
      for (int g = 0; g < 5; g++) t[k][g][r] = cost_once(gaps[g], k);
  printf("\nrecovery work of one uplink after a gap (median [min..max] of %d, interleaved; ratio to gap 0)\n", RUNS);
  printf("%-6s %8s %28s %8s\n", "uplink", "lost", "us", "ratio");
  for (int k = 0; k < 2; k++) {
    double base = 0;
    for (int g = 0; g < 5; g++) {
      qsort(t[k][g], RUNS, sizeof(double), cmp_d);
      double med = t[k][g][RUNS / 2];
      if (g == 0) base = med;
      char range[64];
      snprintf(range, sizeof range, "%.1f [%.1f..%.1f]", med * 1e6, t[k][g][0] * 1e6, t[k][g][RUNS - 1] * 1e6);
      printf("%-6s %8u %28s %8.0f\n", k ? "ALEC" : "TLV", gaps[g], range, base > 0 ? med / base : 0);
    }
  }
}

int main(int argc, char **argv) {
  unsigned seeds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 3;
  double loss = argc > 2 ? strtod(argv[2], NULL) / 100.0 : 0.02;
  if (seeds == 0 || seeds > 1000 || !(loss >= 0 && loss <= 1)) {
    fprintf(stderr, "usage: bench-lorawan [seeds 1..1000] [loss percent]\n");
    return 2;
  }
  printf("40 devices x 3 days, 600 s, %.1f %% loss + 90 min outage at 36 h; registers; 'off' in register units\n",
         loss * 100);
  printf("%-4s %-18s %7s %6s %6s %9s %8s %8s %8s %7s %7s %7s %6s %6s\n", "seed", "receiver", "uplinks", "lost%",
         "tlv%", "deliver%", "estim%", ">0.01", ">1unit", "max", "p99", "tte50", "tte90", "ttemax");
  static const char *const names[] = {"reference 1.3.10", "ours, hold", "ours, estimate"};
  int status = 0;
  for (unsigned s = 1; s <= seeds; s++) {
    for (int k = 0; k < 3; k++) {
      alec_le_config c;
      memset(&c, 0, sizeof c);
      alec_lws_config_init(&c.sim);
      c.sim.seed = s;
      c.sim.loss = loss;
      c.receiver = k == 0 ? ALEC_LE_REFERENCE : ALEC_LE_OURS;
      c.estimate = k == 2;
      c.reboot_at = 0;
      alec_le_result r;
      int rc = alec_le_run(&c, &r);
      if (rc) {
        fprintf(stderr, "bench-lorawan: %s\n", alec_strerror(rc));
        status = 1;
        continue;
      }
      printf("%-4u %-18s %7llu %6.2f %6.1f %9.2f %8.2f %8llu %8llu %7.3g %7.3g %7.0f %7.0f %6.0f\n", s, names[k],
             (unsigned long long)r.uplinks, 100.0 * (double)r.lost / (double)r.uplinks,
             100.0 * (double)r.tlv / (double)r.received, 100.0 * (double)r.delivered / (double)r.expected,
             100.0 * (double)r.estimated / (double)r.expected, (unsigned long long)r.off_001,
             (unsigned long long)r.off_unit, r.max_err, r.p99_err, r.tte_median, r.tte_p90, r.tte_max);
    }
  }
  printf("tte: uplinks from the first received after a loss until all five values are delivered and within 0.01\n");
  cost_table();
  return status;
}
