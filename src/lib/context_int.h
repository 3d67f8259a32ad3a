/* SPDX-License-Identifier: MIT */
#ifndef ALEC_CONTEXT_INT_H
#define ALEC_CONTEXT_INT_H

/* Layout of alec_context, shared by context.c, decoder.c and encoder.c only
 * (not installed). A fleet receiver keeps one decoder per emitter and, at 10^5
 * emitters, every frame finds that state out of cache: each separate heap
 * block on the decode path is one more dependent miss. So a decoder, its
 * context and the first CTX_INLINE_SOURCES sources are one 352-byte block
 * (6 cache lines, sometimes 7 at malloc's 16-byte alignment; aligning it to
 * 64 would save that line at the price of ~110 bytes of allocator padding
 * per emitter):
 *
 *   decoder trackers (16) | context header (112) | 4 inline sources (4 x 56)
 *
 * Beyond CTX_INLINE_SOURCES the sources move to one external block (dense
 * entries followed by an open-addressing index); the pattern dictionary is
 * allocated on the first pattern. A standalone context (encoder, fleet
 * context) is the same struct on its own. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/context.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define CTX_INLINE_SOURCES 4u

/* The per-value helpers below are forced inline: in the decoder's large
 * fast paths GCC otherwise keeps some of them as calls. */
#if defined(__GNUC__) || defined(__clang__)
#define CTX_HOT static inline __attribute__((always_inline))
#else
#define CTX_HOT static inline
#endif

/* One source: 56 bytes. */
typedef struct ctx_src {
  uint32_t id;
  unsigned flags;
  uint64_t count;
  double last_value;
  /* predict() with count < 3 falls back to this when sanitising, so one
   * non-finite reading does not become the prediction. */
  double last_finite;
  double ema;
  double mean;
  double ssd;
} ctx_src;

struct ctx_pat;

struct alec_context {
  /* Read by every observe. */
  alec_context_config cfg;
  ctx_src *src;      /* inl, or the external block */
  uint32_t n_src;
  uint32_t cap_src;  /* CTX_INLINE_SOURCES while inline */
  uint64_t obs;
  uint32_t version;
  /* Observations left until the next evolve (0: never); avoids a 64-bit
   * modulo per observe. Recomputed whenever obs or the interval is set. */
  uint32_t evo_left;
  /* Inline mode: the ids of inl[0..n_src), so a lookup reads this line
   * only, not one line per candidate. */
  uint32_t ids[CTX_INLINE_SOURCES];
  /* External mode: index of (tmask + 1) uint32 slots right after the
   * cap_src entries, slot = dense index + 1, 0 = empty, at most half full. */
  uint32_t tmask;
  uint8_t tbits;
  uint8_t embedded; /* part of a decoder's block: alec_context_free ignores it */
  /* Non-zero: observe skips the Welford mean / sum of squared differences
   * (a decoder without ALEC_DECODER_STATISTICS). Like `embedded`, a
   * property of this context, kept by copy, move and load. */
  uint8_t no_stats;
  uint8_t pad_;
  /* Patterns sorted by ascending code, NULL until the first one. */
  struct ctx_pat *pat;
  uint32_t n_pat, cap_pat;
  uint32_t next_code;
  uint32_t pad2_;
  ctx_src inl[CTX_INLINE_SOURCES];
};

_Static_assert(sizeof(struct alec_context) == 112 + CTX_INLINE_SOURCES * sizeof(ctx_src),
               "context header stays within 112 bytes");

CTX_HOT int ctx_inline(const alec_context *ctx) { return ctx->src == ctx->inl; }

CTX_HOT uint32_t *ctx_slots(const alec_context *ctx) {
  return (uint32_t *)(void *)(ctx->src + ctx->cap_src);
}

CTX_HOT uint32_t ctx_hash_slot(const alec_context *ctx, uint32_t id) {
  return (uint32_t)((id * 0x9E3779B1u) >> (32 - ctx->tbits)) & ctx->tmask;
}

CTX_HOT ctx_src *ctx_find(const alec_context *ctx, uint32_t id) {
  ctx_src *src = ctx->src;
  if (ctx_inline(ctx)) {
#if defined(__SSE2__)
    /* The four inline ids in one compare: no loop, no branch that depends
     * on which source a frame carries (single frames alternate them). */
    _Static_assert(CTX_INLINE_SOURCES == 4, "one 128-bit compare");
    __m128i m = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)ctx->ids),
                                _mm_set1_epi32((int)id));
    unsigned hit = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(m)) & ((1u << ctx->n_src) - 1u);
    return hit ? &src[__builtin_ctz(hit)] : NULL;
#else
    for (uint32_t k = 0; k < ctx->n_src; k++)
      if (ctx->ids[k] == id)
        return &src[k];
    return NULL;
#endif
  }
  const uint32_t *slots = ctx_slots(ctx);
  uint32_t i = ctx_hash_slot(ctx, id);
  for (;;) {
    uint32_t s = slots[i];
    if (s == 0)
      return NULL;
    if (src[s - 1].id == id)
      return &src[s - 1];
    i = (i + 1) & ctx->tmask;
  }
}

/* Same, trying dense position `hint` first: fixed frames create channel i
 * as the i-th source, so this is one compare in the common case. */
CTX_HOT ctx_src *ctx_find_hint(const alec_context *ctx, uint32_t id, uint32_t hint) {
  if (hint < ctx->n_src &&
      (ctx_inline(ctx) ? ctx->ids[hint] == id : ctx->src[hint].id == id))
    return &ctx->src[hint];
  return ctx_find(ctx, id);
}

/* A sanitised source that has seen only non-finite values still has a
 * prediction, as in the reference where they were counted. */
CTX_HOT int ctx_has_pred(const ctx_src *e) {
  return e->count > 0 || (e->flags & ALEC_SRC_POISONED);
}

/* Sanitising: a non-finite last value never becomes the prediction, the
 * last finite one does. Only non-finite values so far: the reference would
 * predict that value (its count is >= 1), so we do too; the decoder flags
 * what follows as unreliable because the source is poisoned. */
CTX_HOT double ctx_pred_s(const ctx_src *e, int sanitize) {
  if (e->count == 0)
    return e->last_value;
  if (e->count < 3)
    return sanitize ? e->last_finite : e->last_value;
  return e->ema;
}

CTX_HOT double ctx_pred(const alec_context *ctx, const ctx_src *e) {
  return ctx_pred_s(e, ctx->cfg.sanitize_nonfinite);
}

/* alec_context_view() of an entry, NULL meaning "no such source". */
static inline int ctx_view(const alec_context *ctx, const ctx_src *e, alec_source_view *out) {
  if (!e) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  out->exists = 1;
  out->last_value = e->last_value;
  out->flags = e->flags;
  out->has_pred = ctx_has_pred(e);
  out->pred = out->has_pred ? ctx_pred(ctx, e) : 0.0;
  return 1;
}

/* isfinite() as one integer compare: exponent not all ones. */
CTX_HOT int ctx_finite(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return (b << 1) < 0xFFE0000000000000ull;
}

/* The per-source half of the reference observe() (spec 4.2); `finite` is
 * ctx_finite(v), which the decoder already knows from the value's flags.
 * alpha and beta = 1 - alpha come from the caller, which computes them once
 * per frame (the compiler cannot: the entry may alias the configuration). */
CTX_HOT void ctx_update_entry_ab(ctx_src *e, double v, int finite, int sanitize, double alpha,
                                 double beta, int stats) {
  e->last_value = v;
  if (!finite) {
    /* The flag is ours and set in both modes; only sanitising keeps the
     * value out of the predictor. */
    e->flags |= ALEC_SRC_POISONED;
    if (sanitize)
      return;
  }
  /* Reference expression order (spec 4.2); -ffp-contract=off keeps the two
   * products unfused. */
  uint64_t c = e->count + 1;
  e->count = c;
  e->last_finite = v;
  if (c == 1)
    e->ema = v;
  else
    e->ema = alpha * v + beta * e->ema;
  /* The division is most of an observe's cost; no decoder reads these. */
  if (!stats)
    return;
  double d = v - e->mean;
  /* count < 2^63: the signed conversion is the same value, one instruction
   * instead of the unsigned sequence. */
  double m = e->mean + d / (double)(int64_t)c;
  e->mean = m;
  e->ssd += d * (v - m);
}

CTX_HOT void ctx_update_entry(const alec_context *ctx, ctx_src *e, double v, int finite) {
  ctx_update_entry_ab(e, v, finite, ctx->cfg.sanitize_nonfinite, ctx->cfg.ema_alpha,
                      1.0 - ctx->cfg.ema_alpha, !ctx->no_stats);
}

/* Reference observe() (spec 4.2) on an existing entry. */
CTX_HOT void ctx_observe_entry(alec_context *ctx, ctx_src *e, double v) {
  ctx->obs++;
  ctx_update_entry(ctx, e, v, ctx_finite(v));
  ctx->version++;
  /* Reference rule: evolve when observation_count % interval == 0. */
  if (ctx->evo_left && --ctx->evo_left == 0) {
    ctx->evo_left = ctx->cfg.evolution_interval;
    alec_context_evolve(ctx);
  }
}

/* A frame's n observations at once: each entry updated by
 * ctx_update_entry, then the context counters as n ctx_observe_entry calls
 * leave them. Only valid when no evolve falls before the last of the n
 * (evolve reads the observation count), which ctx_batch_ok tells. */
CTX_HOT int ctx_batch_ok(const alec_context *ctx, uint32_t n) {
  return ctx->evo_left == 0 || ctx->evo_left >= n;
}

CTX_HOT void ctx_count_batch(alec_context *ctx, uint32_t n) {
  ctx->obs += n;
  ctx->version += n;
  if (ctx->evo_left && (ctx->evo_left -= n) == 0) {
    ctx->evo_left = ctx->cfg.evolution_interval;
    alec_context_evolve(ctx);
  }
}

static inline void ctx_sync_evolve(alec_context *ctx) {
  uint32_t iv = ctx->cfg.evolution_interval;
  ctx->evo_left = iv ? iv - (uint32_t)(ctx->obs % iv) : 0;
}

/* An empty context in place (cfg already validated); `embedded`: part of a
 * decoder block, which alone may release it (ctx_release). */
static inline void ctx_init(alec_context *ctx, const alec_context_config *cfg, int embedded) {
  memset(ctx, 0, sizeof *ctx);
  ctx->cfg = *cfg;
  ctx->src = ctx->inl;
  ctx->cap_src = CTX_INLINE_SOURCES;
  ctx->embedded = (uint8_t)(embedded ? 1 : 0);
  ctx_sync_evolve(ctx);
}

/* Frees what the context holds outside its own struct. */
static inline void ctx_release(alec_context *ctx) {
  if (!ctx_inline(ctx))
    free(ctx->src);
  free(ctx->pat);
  ctx->src = ctx->inl;
  ctx->cap_src = CTX_INLINE_SOURCES;
  ctx->n_src = 0;
  ctx->pat = NULL;
  ctx->n_pat = ctx->cap_pat = 0;
}

#endif
