/* SPDX-License-Identifier: MIT */
#ifndef ALEC_DECODER_H
#define ALEC_DECODER_H

/* One receiver for one emitter: its context plus sequence trackers for the
 * legacy and the fixed families (spec 4.9, 6.2, 6.3). alec_decoder_decode()
 * is atomic: on any error the decoder (context, trackers) is unchanged. */

#include <stddef.h>
#include <stdint.h>

#include "alec/context.h"
#include "alec/frame.h"

typedef struct alec_decoder alec_decoder;

/* Value flags. */
enum {
  /* Could not be reconstructed reliably: decoded from prediction state that
   * a lost frame, a reset or a non-finite value has made uncertain. A
   * receiver that must not store wrong data holds these back. */
  ALEC_VALUE_UNRELIABLE = 1u << 0,
  ALEC_VALUE_NONFINITE = 1u << 1, /* NaN or +/-Inf */
  ALEC_VALUE_RESYNC = 1u << 2     /* this value re-synchronised its source */
};

typedef struct alec_value {
  uint32_t id;       /* source_id (single), name_id (multi), channel index 0.. (fixed) */
  double value;
  uint8_t encoding;  /* alec_encoding; fixed codes are mapped to ALEC_ENC_* */
  uint8_t flags;     /* ALEC_VALUE_* */
} alec_value;

typedef struct alec_frame_info {
  alec_format format;
  uint8_t priority;      /* header priority (legacy); ALEC_P3 for fixed frames */
  uint8_t msg_type;      /* legacy header type */
  uint16_t sequence;
  uint32_t ctx_version;  /* 24 bits legacy, 16 bits fixed */
  uint32_t timestamp;    /* seconds, legacy only */
  int has_timestamp;
  int keyframe;          /* fixed 0xA2 */
  int resync;            /* the frame re-synchronised at least one source */
  int reset;             /* prediction state was reset (reference fixed policy) */
  int context_mismatch;  /* fixed: ctx version jumped more than 256 */
  uint32_t gap;          /* frames missing before this one (fixed: capped at 255) */
  size_t frame_len;      /* bytes of the frame that were used */
  size_t n_values;
  size_t n_unreliable;
} alec_frame_info;

enum {
  /* Behave exactly like the reference receiver: no replay rejection, NaN
   * poisons, no resync frames. Values are still flagged. */
  ALEC_DECODER_STRICT_REFERENCE = 1u << 0,
  /* Keep the Welford mean and sum of squared differences of every source
   * (alec_context_source's mean / sum_sq_diff). No decoder reads them and
   * their division is 5-25% of decoding, so a decoder without this flag
   * leaves them at what it was created or loaded with (0 when fresh); count,
   * last value, EMA and flags are kept either way. Saved with the state. */
  ALEC_DECODER_STATISTICS = 1u << 1
};

typedef struct alec_decoder_config {
  alec_context_config ctx;
  unsigned flags;
  uint16_t replay_window; /* frames behind the newest rejected as replays, default 64 */
} alec_decoder_config;

void alec_decoder_config_init(alec_decoder_config *cfg);
int alec_decoder_new(alec_decoder **out, const alec_decoder_config *cfg /* NULL: defaults */);
void alec_decoder_free(alec_decoder *dec);
void alec_decoder_reset(alec_decoder *dec);
/* The decoder's own context, part of the decoder's memory: valid until
 * alec_decoder_free(); alec_context_free() ignores it. */
alec_context *alec_decoder_context(alec_decoder *dec);
const alec_context *alec_decoder_context_const(const alec_decoder *dec);

/* Decodes one frame of the given format (channels: fixed only, 1..64) and
 * observes the decoded values as the reference receiver does. Fills up to
 * cap values; returns the number of values (>= 0) or a negative error.
 * ALEC_EBUFSIZE when cap is too small (nothing changed). A multi frame
 * holds at most 255 values, a fixed frame at most 64. */
int alec_decoder_decode(alec_decoder *dec, alec_format format, unsigned channels,
                        const uint8_t *frame, size_t len, alec_value *out, size_t cap,
                        alec_frame_info *info /* may be NULL */);

/* Ghost frame (reference 1.3.10 alec_decoder_feed_values): the emitter's
 * encoder produced a fixed frame of these n values (channels 1..n, 1..64)
 * but the device sent them in another format. Advances the fixed-frame
 * trackers as if that frame (sequence last + 1, or 0 when none was seen;
 * version = the context version before observing) had been decoded, and
 * observes the values, so the next fixed frame decodes without a gap.
 * ALEC_EINVAL for n outside 1..64; ALEC_ENOSPC / ALEC_ENOMEM when the new
 * channels do not fit. On error nothing changed. */
int alec_decoder_feed_values(alec_decoder *dec, const double *values, unsigned n);

/* Bytes of heap this decoder holds, its context included. (Addition.) A
 * decoder with up to 4 sources and no pattern is one 352-byte block. */
size_t alec_decoder_memory(const alec_decoder *dec);

/* Hint, no effect on results: starts fetching the decoder's state into the
 * cache. A receiver of many emitters calls it as soon as it knows which
 * decoder the next frame goes to (e.g. right after its id lookup), so the
 * misses overlap with other work. NULL is ignored. (Addition.) */
void alec_decoder_prefetch(const alec_decoder *dec);

/* Persisted trackers + context, for restarts (versioned, CRC-protected). */
long alec_decoder_save(const alec_decoder *dec, uint8_t *out, size_t cap);
int alec_decoder_load(alec_decoder *dec, const uint8_t *buf, size_t len);

#endif
