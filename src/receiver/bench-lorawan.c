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

#include "alec/error.h"
#include "loss_eval.h"

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
  return status;
}
