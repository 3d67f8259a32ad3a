/* SPDX-License-Identifier: MIT */
#ifndef ALEC_ENCODER_H
#define ALEC_ENCODER_H

/* The emitter side. Two modes:
 *  - reference-compatible: observes the raw input like reference emitters
 *    and reproduces their frames byte for byte;
 *  - closed-loop (default): observes its own reconstruction, i.e. exactly
 *    what the receiver decodes, so the receiver's error stays within
 *    0.5/scale per delta forever; resync frames (docs/PROTOCOL.md) let a
 *    receiver recover exactly after a loss or a non-finite value.
 * Every call is atomic: on error (e.g. ALEC_EBUFSIZE) nothing changes. */

#include <stddef.h>
#include <stdint.h>

#include "alec/classifier.h"
#include "alec/context.h"
#include "alec/frame.h"

typedef struct alec_encoder alec_encoder;

typedef struct alec_encoder_config {
  alec_context_config ctx;
  alec_classifier classifier;
  int reference_compat;       /* 0: closed loop (default), 1: reference (its context then
                                 ignores ctx.sanitize_nonfinite: the reference's NaN
                                 poisoning shows in its frames) */
  int checksum;               /* single frames: append the xxh32 trailer */
  uint32_t keyframe_interval; /* fixed: keyframe every N frames (default 50, 0 = off);
                                 closed loop, single: resync a source every N of its frames;
                                 closed loop, multi: an all-raw resync frame every N frames */
} alec_encoder_config;

void alec_encoder_config_init(alec_encoder_config *cfg);
int alec_encoder_new(alec_encoder **out, const alec_encoder_config *cfg /* NULL: defaults */);
void alec_encoder_free(alec_encoder *enc);
alec_context *alec_encoder_context(alec_encoder *enc);
uint16_t alec_encoder_sequence(const alec_encoder *enc); /* next sequence number */

/* L1 single value. ts_ms: milliseconds (header carries ts_ms / 1000).
 * Returns the frame length (> 0) or a negative error; *prio (nullable)
 * receives the classified priority. */
int alec_encode_single(alec_encoder *enc, uint32_t source_id, double value, uint64_t ts_ms,
                       uint8_t *out, size_t cap, alec_priority *prio);

/* L3 multi adaptive: values[i] has name_id i (n <= 255). The frame may
 * omit channels (P5, P4 beyond the 127-byte cap). */
int alec_encode_multi(alec_encoder *enc, const double *values, size_t n, uint64_t ts_ms,
                      uint8_t *out, size_t cap);

/* Fixed-channel frame, n in 1..64 (ALEC_ECHANNELS otherwise). */
int alec_encode_fixed(alec_encoder *enc, const double *values, size_t n, uint8_t *out,
                      size_t cap);

/* Request a keyframe (fixed) / resync of every source (closed loop) on the
 * next frame. */
void alec_encoder_force_keyframe(alec_encoder *enc);
/* Downlink from the receiver: 0xFF = keyframe request; ALEC_EINVAL otherwise. */
int alec_encoder_downlink(alec_encoder *enc, const uint8_t *msg, size_t len);

/* Encoder state for restarts (versioned, CRC-protected). */
long alec_encoder_save(const alec_encoder *enc, uint8_t *out, size_t cap);
int alec_encoder_load(alec_encoder *enc, const uint8_t *buf, size_t len);

#endif
