/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_LOSS_EVAL_H
#define ALEC_RECEIVER_LOSS_EVAL_H

/* Runs an emulated LoRaWAN fleet (src/tools/lorawan_sim.h) through a
 * receiver and compares what it delivers with the registers the devices
 * measured. Two receivers: this project's (alec_rx with a Fallback
 * profile: ALEC_RX_PAYLOAD messages, fCnt, a test sink), and the reference
 * receiver's procedure (1.3.10: decode ALEC frames with the reference
 * policy, feed TLV frames with alec_decoder_feed_values, no fCnt). Used by
 * tests/check_lorawan.c and bench-lorawan (docs/LORAWAN-LOSS.md). */

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lorawan_sim.h"

enum { ALEC_LE_OURS = 0, ALEC_LE_REFERENCE = 1 };

typedef struct alec_le_result {
  uint64_t uplinks, received, lost, tlv;
  uint64_t expected;   /* values of received uplinks */
  uint64_t delivered;  /* values dispatched (exact + estimated) */
  uint64_t estimated;  /* dispatched marked as estimates */
  uint64_t exact;      /* delivered equal to the register (|err| < 0.01) */
  uint64_t off_unit;   /* delivered more than one register unit off */
  uint64_t off_001;    /* delivered more than 0.01 off */
  double max_err, p99_err; /* register units, over delivered values */
  /* Loss episodes (a loss up to the next one, per device): uplinks from the
   * first received one after the loss to exactness (all channels delivered
   * within 0.01, for good within the episode). */
  uint64_t episodes;
  double tte_median, tte_p90, tte_max;
  uint64_t tte_never; /* episodes that ended (next loss, end) still inexact */
  /* Receiver counters (ours). */
  uint64_t fcnt_gaps, ghosts, held_back, reanchored, tlv_frames, decode_rejects, fcnt_resets;
  /* Uplinks at or after tail_from: their values, and how many were
   * delivered exact (sync regained for good). */
  uint64_t tail_expected, tail_exact;
} alec_le_result;

typedef struct alec_le_config {
  alec_lws_config sim;
  int receiver;      /* ALEC_LE_* */
  int estimate;      /* ours: LossRecovery "estimate" instead of "hold" */
  /* Reboot device 0 before this uplink index (a rejoin), 0: never. */
  uint64_t reboot_at;
  double tail_from; /* s after the start; 0: no tail */
  /* The receiver hears device 0 only from this uplink on (it started
   * later, without state), 0: from the first. */
  uint64_t join_at;
} alec_le_config;

/* The partner's profile as a test or a benchmark configures it: Format
 * fixed, Channels 5, Fallback milesight-tlv, the five TLV items, registers
 * to units by Multiply (temperature and pressure 0.1, humidity 0.5),
 * ResyncRequests off (downlinks run on the wall clock). Finalized. */
int alec_le_profile_config(alec_plugin_config *pc, int estimate, unsigned max_emitters, char *err, size_t errlen);

/* 0, or a negative ALEC_E* code. */
int alec_le_run(const alec_le_config *cfg, alec_le_result *out);

#endif
