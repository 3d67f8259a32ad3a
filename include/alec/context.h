/* SPDX-License-Identifier: MIT */
#ifndef ALEC_CONTEXT_H
#define ALEC_CONTEXT_H

/* The evolving context one emitter and its receiver each keep (spec section 4):
 * per-source predictor state (last value, EMA, Welford statistics, count),
 * the version counter, the pattern dictionary. Memory per source is constant
 * (no value history); the number of sources and patterns is bounded by the
 * configuration, so no input can make a context grow without limit. */

#include <stddef.h>
#include <stdint.h>

typedef struct alec_context alec_context;

typedef struct alec_context_config {
  uint32_t scale;              /* delta scale factor, default 100 */
  double ema_alpha;            /* default 0.3 */
  uint32_t max_sources;        /* default 256, at most 65536 */
  uint32_t max_patterns;       /* default 256, at most 65535 */
  uint32_t evolution_interval; /* observations between evolve(), default 100, 0 = never */
  /* Non-zero (default): a NaN/Inf observation never enters the EMA or the
   * Welford state, it marks the source poisoned instead (docs/PROTOCOL.md,
   * deviations). Zero: exactly the reference (NaN poisons forever). */
  int sanitize_nonfinite;
} alec_context_config;

/* Per-source flags. */
enum {
  ALEC_SRC_POISONED = 1u << 0, /* saw a non-finite value since its last resync */
  ALEC_SRC_DESYNC = 1u << 1    /* a frame was lost or state reset since its last resync */
};

typedef struct alec_source_stats {
  uint32_t source_id;
  uint64_t count;
  double last_value;
  double ema;
  double mean;
  double sum_sq_diff;
  unsigned flags;
} alec_source_stats;

void alec_context_config_init(alec_context_config *cfg);
/* ALEC_EINVAL for zero scale, alpha outside (0,1], bounds outside their range. */
int alec_context_config_validate(const alec_context_config *cfg);

int alec_context_new(alec_context **out, const alec_context_config *cfg /* NULL: defaults */);
/* NULL and a decoder's own context (alec_decoder_context) are ignored. */
void alec_context_free(alec_context *ctx);
/* Deep copy of src into dst (same limits required, else ALEC_EINVAL). */
int alec_context_copy(alec_context *dst, const alec_context *src);

/* reset(): everything, version 0. reset_to_baseline(): source stats only. */
void alec_context_reset(alec_context *ctx);
void alec_context_reset_to_baseline(alec_context *ctx);
/* Forget one source (used on resync). */
void alec_context_reset_source(alec_context *ctx, uint32_t source_id);

/* Reference observe() (spec 4.2) incl. version rule and evolve every
 * evolution_interval observations. ALEC_ENOSPC when a new source would exceed
 * max_sources (nothing changes then). */
int alec_context_observe(alec_context *ctx, uint32_t source_id, double value);
/* Whether observe(source_id) would succeed (the source exists or there is room). */
int alec_context_can_observe(const alec_context *ctx, uint32_t source_id);
/* Makes room for `extra` new sources so that the next observes of up to that
 * many unknown sources cannot fail (no allocation after it). ALEC_ENOSPC when
 * max_sources would be exceeded, ALEC_ENOMEM. (Addition: lets the decoder
 * check and allocate before committing a frame.) */
int alec_context_reserve(alec_context *ctx, size_t extra);
/* Creates an empty (count 0) entry without touching version (reference
 * ensure_source_stats). */
int alec_context_ensure_source(alec_context *ctx, uint32_t source_id);

/* 0 and *out, or ALEC_ENOPRED (no entry or count 0). count < 3: last value,
 * else EMA. */
int alec_context_predict(const alec_context *ctx, uint32_t source_id, double *out);
/* 0 and *out, or ALEC_ENOPREV when the source has no entry. */
int alec_context_last_value(const alec_context *ctx, uint32_t source_id, double *out);
int alec_context_source(const alec_context *ctx, uint32_t source_id, alec_source_stats *out);
unsigned alec_context_source_flags(const alec_context *ctx, uint32_t source_id);
void alec_context_set_source_flags(alec_context *ctx, uint32_t source_id, unsigned flags);
/* Sets flags on every existing source (e.g. ALEC_SRC_DESYNC after a gap). */
void alec_context_mark_all(alec_context *ctx, unsigned flags);
size_t alec_context_source_count(const alec_context *ctx);
/* Iteration: fills the i-th source (internal order), ALEC_ENOTFOUND past the end. */
int alec_context_source_at(const alec_context *ctx, size_t i, alec_source_stats *out);

/* Everything a decoder needs about one source, in one lookup. (Addition:
 * keeps the decode path at one lookup per value plus the observe.) */
typedef struct alec_source_view {
  int exists;        /* an entry exists: last_value is defined (maybe 0.0) */
  int has_pred;      /* count >= 1: pred is what alec_context_predict gives */
  double last_value;
  double pred;
  unsigned flags;
} alec_source_view;
/* Returns 1 when the source exists, 0 otherwise (view zeroed). */
int alec_context_view(const alec_context *ctx, uint32_t source_id, alec_source_view *out);

uint32_t alec_context_version(const alec_context *ctx);
void alec_context_set_version(alec_context *ctx, uint32_t version);
uint64_t alec_context_observations(const alec_context *ctx);
uint32_t alec_context_scale(const alec_context *ctx);
const alec_context_config *alec_context_get_config(const alec_context *ctx);
/* Bytes of heap this context holds (for fleet accounting). */
size_t alec_context_memory(const alec_context *ctx);

/* Pattern dictionary (spec 4.5). value may be NULL (pattern without a numeric
 * value, like every pattern loaded from a file). Returns the code in *code.
 * ALEC_ENOSPC when full, ALEC_ERANGE when len > 255 or 0. */
int alec_context_register_pattern(alec_context *ctx, const uint8_t *data, size_t len,
                                  const double *value, uint32_t *code);
/* 0 and the numeric value, ALEC_EPATTERN when absent or without value. */
int alec_context_pattern_value(const alec_context *ctx, uint32_t code, double *out);
size_t alec_context_pattern_count(const alec_context *ctx);
typedef struct alec_pattern_info {
  uint32_t code;
  const uint8_t *data; /* valid until the next mutation of the context */
  uint8_t len;
  uint64_t frequency;
  uint64_t last_used;
  int has_value;
  double value;
} alec_pattern_info;
/* Patterns in ascending code order; ALEC_ENOTFOUND past the end. */
int alec_context_pattern_at(const alec_context *ctx, size_t i, alec_pattern_info *out);
/* Sets a pattern at a given code (import); bumps next_code, not the version. */
int alec_context_set_pattern(alec_context *ctx, uint32_t code, const uint8_t *data, size_t len,
                             uint64_t frequency);
void alec_context_evolve(alec_context *ctx);
/* xxh64 over the dictionary (spec 4.6). */
uint64_t alec_context_hash(const alec_context *ctx);

/* Complete state (sources with flags, dictionary, counters) in our own
 * versioned, CRC-protected little-endian format "ALCX", for restart without
 * desynchronisation. save: returns bytes written or ALEC_EBUFSIZE; with
 * out == NULL returns the size needed. load: never allocates by a size read
 * from the input beyond the context's configured bounds; on error ctx is
 * unchanged. */
long alec_context_save(const alec_context *ctx, uint8_t *out, size_t cap);
int alec_context_load(alec_context *ctx, const uint8_t *buf, size_t len);

#endif
