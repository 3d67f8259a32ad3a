/* SPDX-License-Identifier: MIT */
#include "alec/context.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack: no malloc */
#include <xxhash.h>

#include "alec/error.h"
#include "alec/wire.h"
#include "context_int.h"

#define MAX_SOURCES_LIMIT 65536u
#define MAX_PATTERNS_LIMIT 65535u
#define PATTERN_MAX_LEN 255u
#define PRUNE_MIN_FREQUENCY 2u
#define PRUNE_MAX_AGE 10000u
/* First external table: twice the inline capacity. */
#define EXT_INITIAL_SOURCES (2u * CTX_INLINE_SOURCES)

typedef struct ctx_pat {
  uint32_t code;
  uint8_t len;
  uint8_t has_value;
  uint64_t frequency;
  uint64_t last_used;
  uint64_t created_at;
  uint64_t hash;
  double value;
  double score; /* scratch for evolve() */
  uint8_t data[PATTERN_MAX_LEN];
} pat_entry;

/* ------------------------------------------------------------------ config */

void alec_context_config_init(alec_context_config *cfg) {
  cfg->scale = 100;
  cfg->ema_alpha = 0.3;
  cfg->max_sources = 256;
  cfg->max_patterns = 256;
  cfg->evolution_interval = 100;
  cfg->sanitize_nonfinite = 1;
}

int alec_context_config_validate(const alec_context_config *cfg) {
  if (!cfg)
    return ALEC_EINVAL;
  if (cfg->scale == 0)
    return ALEC_EINVAL;
  if (!(cfg->ema_alpha > 0.0 && cfg->ema_alpha <= 1.0))
    return ALEC_EINVAL;
  if (cfg->max_sources == 0 || cfg->max_sources > MAX_SOURCES_LIMIT)
    return ALEC_EINVAL;
  if (cfg->max_patterns > MAX_PATTERNS_LIMIT)
    return ALEC_EINVAL;
  return 0;
}

/* ----------------------------------------------------------------- sources */

static void index_insert(alec_context *ctx, uint32_t id, uint32_t dense) {
  uint32_t *slots = ctx_slots(ctx);
  uint32_t i = ctx_hash_slot(ctx, id);
  while (slots[i] != 0)
    i = (i + 1) & ctx->tmask;
  slots[i] = dense + 1;
}

static void index_rebuild(alec_context *ctx) {
  if (ctx_inline(ctx))
    return;
  memset(ctx_slots(ctx), 0, ((size_t)ctx->tmask + 1) * sizeof(uint32_t));
  for (uint32_t k = 0; k < ctx->n_src; k++)
    index_insert(ctx, ctx->src[k].id, k);
}

/* Room for `extra` more sources without any later allocation. Past the
 * inline capacity the sources move, for good, to one external block: a
 * reset never moves them back, so a reservation survives it. */
static int reserve_sources(alec_context *ctx, size_t extra) {
  if (extra > ctx->cfg.max_sources || ctx->n_src + extra > ctx->cfg.max_sources)
    return ALEC_ENOSPC;
  size_t need = ctx->n_src + extra;
  if (need <= ctx->cap_src)
    return 0;
  size_t cap = ctx_inline(ctx) ? EXT_INITIAL_SOURCES : ctx->cap_src;
  while (cap < need)
    cap *= 2;
  if (cap > ctx->cfg.max_sources)
    cap = ctx->cfg.max_sources;
  unsigned bits = 1;
  while (((size_t)1 << bits) < 2 * cap)
    bits++;
  size_t tcap = (size_t)1 << bits;
  ctx_src *ns = malloc(cap * sizeof *ns + tcap * sizeof(uint32_t));
  if (!ns)
    return ALEC_ENOMEM;
  if (ctx->n_src)
    memcpy(ns, ctx->src, ctx->n_src * sizeof *ns);
  if (!ctx_inline(ctx))
    free(ctx->src);
  ctx->src = ns;
  ctx->cap_src = (uint32_t)cap;
  ctx->tbits = (uint8_t)bits;
  ctx->tmask = (uint32_t)(tcap - 1);
  index_rebuild(ctx);
  return 0;
}

int alec_context_reserve(alec_context *ctx, size_t extra) {
  if (!ctx)
    return ALEC_EINVAL;
  return reserve_sources(ctx, extra);
}

/* A zeroed entry for a new id; the caller reserved room. */
static ctx_src *append_src(alec_context *ctx, uint32_t id) {
  uint32_t k = ctx->n_src;
  ctx_src *e = &ctx->src[k];
  memset(e, 0, sizeof *e);
  e->id = id;
  if (ctx_inline(ctx))
    ctx->ids[k] = id;
  else
    index_insert(ctx, id, k);
  ctx->n_src = k + 1;
  return e;
}

static ctx_src *get_or_create(alec_context *ctx, uint32_t id, int *err) {
  ctx_src *e = ctx_find(ctx, id);
  if (e)
    return e;
  int rc = reserve_sources(ctx, 1);
  if (rc < 0) {
    *err = rc;
    return NULL;
  }
  return append_src(ctx, id);
}

/* ----------------------------------------------------------- lifecycle */

int alec_context_new(alec_context **out, const alec_context_config *cfg) {
  if (!out)
    return ALEC_EINVAL;
  *out = NULL;
  alec_context_config c;
  if (cfg)
    c = *cfg;
  else
    alec_context_config_init(&c);
  int rc = alec_context_config_validate(&c);
  if (rc < 0)
    return rc;
  alec_context *ctx = malloc(sizeof *ctx);
  if (!ctx)
    return ALEC_ENOMEM;
  ctx_init(ctx, &c, 0);
  *out = ctx;
  return 0;
}

void alec_context_free(alec_context *ctx) {
  /* A decoder's context is part of the decoder's block. */
  if (!ctx || ctx->embedded)
    return;
  ctx_release(ctx);
  free(ctx);
}

/* Moves src's state into dst (which keeps its identity and storage kind);
 * src is left empty and holds nothing. */
static void ctx_move(alec_context *dst, alec_context *src) {
  uint8_t emb = dst->embedded, nst = dst->no_stats;
  int inl = ctx_inline(src);
  ctx_release(dst);
  *dst = *src;
  dst->embedded = emb;
  dst->no_stats = nst;
  if (inl)
    dst->src = dst->inl;
  src->src = src->inl;
  src->cap_src = CTX_INLINE_SOURCES;
  src->n_src = 0;
  src->pat = NULL;
  src->n_pat = src->cap_pat = 0;
}

int alec_context_copy(alec_context *dst, const alec_context *src) {
  if (!dst || !src)
    return ALEC_EINVAL;
  if (dst == src)
    return 0;
  if (dst->cfg.max_sources != src->cfg.max_sources ||
      dst->cfg.max_patterns != src->cfg.max_patterns)
    return ALEC_EINVAL;
  ctx_src *ns = NULL;
  pat_entry *np = NULL;
  size_t tcap = (size_t)src->tmask + 1;
  if (!ctx_inline(src))
    ns = malloc((size_t)src->cap_src * sizeof *ns + tcap * sizeof(uint32_t));
  if (src->cap_pat)
    np = malloc((size_t)src->cap_pat * sizeof *np);
  if ((!ctx_inline(src) && !ns) || (src->cap_pat && !np)) {
    free(ns);
    free(np);
    return ALEC_ENOMEM;
  }
  uint8_t emb = dst->embedded, nst = dst->no_stats;
  ctx_release(dst);
  *dst = *src;
  dst->embedded = emb;
  dst->no_stats = nst;
  dst->src = dst->inl;
  if (ns) {
    memcpy(ns, src->src, (size_t)src->n_src * sizeof *ns);
    dst->src = ns;
    memcpy(ctx_slots(dst), ctx_slots(src), tcap * sizeof(uint32_t));
  }
  if (src->n_pat)
    memcpy(np, src->pat, (size_t)src->n_pat * sizeof *np);
  dst->pat = np;
  return 0;
}

void alec_context_reset(alec_context *ctx) {
  if (!ctx)
    return;
  alec_context_reset_to_baseline(ctx);
  ctx->n_pat = 0;
  ctx->next_code = 0;
  ctx->version = 0;
  ctx->obs = 0;
  ctx_sync_evolve(ctx);
}

void alec_context_reset_to_baseline(alec_context *ctx) {
  if (!ctx)
    return;
  ctx->n_src = 0;
  index_rebuild(ctx);
}

void alec_context_reset_source(alec_context *ctx, uint32_t source_id) {
  if (!ctx)
    return;
  ctx_src *e = ctx_find(ctx, source_id);
  if (!e)
    return;
  uint32_t k = (uint32_t)(e - ctx->src);
  uint32_t last = ctx->n_src - 1;
  if (k != last) {
    ctx->src[k] = ctx->src[last];
    if (ctx_inline(ctx))
      ctx->ids[k] = ctx->ids[last];
  }
  ctx->n_src--;
  /* Rare (resync only): a full rebuild keeps the probing code trivial. */
  index_rebuild(ctx);
}

/* ----------------------------------------------------------- observe */

int alec_context_can_observe(const alec_context *ctx, uint32_t source_id) {
  if (!ctx)
    return 0;
  return ctx_find(ctx, source_id) != NULL || ctx->n_src < ctx->cfg.max_sources;
}

int alec_context_ensure_source(alec_context *ctx, uint32_t source_id) {
  if (!ctx)
    return ALEC_EINVAL;
  int err = 0;
  return get_or_create(ctx, source_id, &err) ? 0 : err;
}

int alec_context_observe(alec_context *ctx, uint32_t source_id, double v) {
  if (!ctx)
    return ALEC_EINVAL;
  int err = 0;
  ctx_src *e = get_or_create(ctx, source_id, &err);
  if (!e)
    return err;
  ctx_observe_entry(ctx, e, v);
  return 0;
}

/* ----------------------------------------------------------- queries */

int alec_context_predict(const alec_context *ctx, uint32_t source_id, double *out) {
  if (!ctx)
    return ALEC_EINVAL;
  const ctx_src *e = ctx_find(ctx, source_id);
  if (!e || !ctx_has_pred(e))
    return ALEC_ENOPRED;
  if (out)
    *out = ctx_pred(ctx, e);
  return 0;
}

int alec_context_last_value(const alec_context *ctx, uint32_t source_id, double *out) {
  if (!ctx)
    return ALEC_EINVAL;
  const ctx_src *e = ctx_find(ctx, source_id);
  if (!e)
    return ALEC_ENOPREV;
  if (out)
    *out = e->last_value;
  return 0;
}

int alec_context_view(const alec_context *ctx, uint32_t source_id, alec_source_view *out) {
  return ctx_view(ctx, ctx ? ctx_find(ctx, source_id) : NULL, out);
}

static void fill_stats(const ctx_src *e, alec_source_stats *out) {
  out->source_id = e->id;
  out->count = e->count;
  out->last_value = e->last_value;
  out->ema = e->ema;
  out->mean = e->mean;
  out->sum_sq_diff = e->ssd;
  out->flags = e->flags;
}

int alec_context_source(const alec_context *ctx, uint32_t source_id, alec_source_stats *out) {
  if (!ctx)
    return ALEC_EINVAL;
  const ctx_src *e = ctx_find(ctx, source_id);
  if (!e)
    return ALEC_ENOTFOUND;
  if (out)
    fill_stats(e, out);
  return 0;
}

unsigned alec_context_source_flags(const alec_context *ctx, uint32_t source_id) {
  if (!ctx)
    return 0;
  const ctx_src *e = ctx_find(ctx, source_id);
  return e ? e->flags : 0;
}

void alec_context_set_source_flags(alec_context *ctx, uint32_t source_id, unsigned flags) {
  if (!ctx)
    return;
  ctx_src *e = ctx_find(ctx, source_id);
  if (e)
    e->flags = flags;
}

void alec_context_mark_all(alec_context *ctx, unsigned flags) {
  if (!ctx)
    return;
  for (uint32_t k = 0; k < ctx->n_src; k++)
    ctx->src[k].flags |= flags;
}

size_t alec_context_source_count(const alec_context *ctx) { return ctx ? ctx->n_src : 0; }

int alec_context_source_at(const alec_context *ctx, size_t i, alec_source_stats *out) {
  if (!ctx || i >= ctx->n_src)
    return ALEC_ENOTFOUND;
  if (out)
    fill_stats(&ctx->src[i], out);
  return 0;
}

uint32_t alec_context_version(const alec_context *ctx) { return ctx ? ctx->version : 0; }

void alec_context_set_version(alec_context *ctx, uint32_t version) {
  if (ctx)
    ctx->version = version;
}

uint64_t alec_context_observations(const alec_context *ctx) { return ctx ? ctx->obs : 0; }

uint32_t alec_context_scale(const alec_context *ctx) { return ctx ? ctx->cfg.scale : 0; }

const alec_context_config *alec_context_get_config(const alec_context *ctx) {
  return ctx ? &ctx->cfg : NULL;
}

size_t alec_context_memory(const alec_context *ctx) {
  if (!ctx)
    return 0;
  size_t m = sizeof *ctx;
  if (!ctx_inline(ctx))
    m += (size_t)ctx->cap_src * sizeof(ctx_src) + ((size_t)ctx->tmask + 1) * sizeof(uint32_t);
  m += (size_t)ctx->cap_pat * sizeof(pat_entry);
  return m;
}

/* ----------------------------------------------------------- patterns */

static long find_pat(const alec_context *ctx, uint32_t code) {
  size_t lo = 0, hi = ctx->n_pat;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint32_t c = ctx->pat[mid].code;
    if (c == code)
      return (long)mid;
    if (c < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -(long)lo - 1;
}

static int reserve_patterns(alec_context *ctx, uint32_t need) {
  if (need <= ctx->cap_pat)
    return 0;
  uint32_t cap = ctx->cap_pat ? ctx->cap_pat : 8;
  while (cap < need)
    cap *= 2;
  if (cap > ctx->cfg.max_patterns)
    cap = ctx->cfg.max_patterns;
  if (cap < need)
    return ALEC_ENOSPC;
  pat_entry *np = realloc(ctx->pat, (size_t)cap * sizeof *np);
  if (!np)
    return ALEC_ENOMEM;
  ctx->pat = np;
  ctx->cap_pat = cap;
  return 0;
}

int alec_context_register_pattern(alec_context *ctx, const uint8_t *data, size_t len,
                                  const double *value, uint32_t *code) {
  if (!ctx || (!data && len))
    return ALEC_EINVAL;
  /* Reference order: full before too large before already known. */
  if (ctx->n_pat >= ctx->cfg.max_patterns)
    return ALEC_ENOSPC;
  if (len == 0 || len > PATTERN_MAX_LEN)
    return ALEC_ERANGE;
  uint64_t h = XXH64(data, len, 0);
  for (uint32_t k = 0; k < ctx->n_pat; k++) {
    pat_entry *p = &ctx->pat[k];
    if (p->hash == h && p->len == len && memcmp(p->data, data, len) == 0) {
      p->frequency++;
      if (code)
        *code = p->code;
      return 0;
    }
  }
  if (ctx->next_code == UINT32_MAX)
    return ALEC_ENOSPC;
  int rc = reserve_patterns(ctx, ctx->n_pat + 1);
  if (rc < 0)
    return rc;
  uint32_t c = ctx->next_code;
  /* Every existing code is below next_code, so appending keeps the order. */
  long pos = find_pat(ctx, c);
  if (pos >= 0)
    return ALEC_ECORRUPT;
  size_t at = (size_t)(-pos - 1);
  if (at < ctx->n_pat)
    memmove(&ctx->pat[at + 1], &ctx->pat[at], (ctx->n_pat - at) * sizeof *ctx->pat);
  pat_entry *p = &ctx->pat[at];
  memset(p, 0, offsetof(pat_entry, data));
  p->code = c;
  p->len = (uint8_t)len;
  memcpy(p->data, data, len);
  p->hash = h;
  p->frequency = 1;
  p->last_used = ctx->obs;
  p->created_at = ctx->obs;
  if (value) {
    p->has_value = 1;
    p->value = *value;
  }
  ctx->n_pat++;
  ctx->next_code = c + 1;
  ctx->version++;
  if (code)
    *code = c;
  return 0;
}

int alec_context_pattern_value(const alec_context *ctx, uint32_t code, double *out) {
  if (!ctx)
    return ALEC_EINVAL;
  long k = find_pat(ctx, code);
  if (k < 0 || !ctx->pat[k].has_value)
    return ALEC_EPATTERN;
  if (out)
    *out = ctx->pat[k].value;
  return 0;
}

size_t alec_context_pattern_count(const alec_context *ctx) { return ctx ? ctx->n_pat : 0; }

int alec_context_pattern_at(const alec_context *ctx, size_t i, alec_pattern_info *out) {
  if (!ctx || i >= ctx->n_pat)
    return ALEC_ENOTFOUND;
  const pat_entry *p = &ctx->pat[i];
  if (out) {
    out->code = p->code;
    out->data = p->data;
    out->len = p->len;
    out->frequency = p->frequency;
    out->last_used = p->last_used;
    out->has_value = p->has_value;
    out->value = p->value;
  }
  return 0;
}

int alec_context_set_pattern(alec_context *ctx, uint32_t code, const uint8_t *data, size_t len,
                             uint64_t frequency) {
  if (!ctx || (!data && len))
    return ALEC_EINVAL;
  if (len == 0 || len > PATTERN_MAX_LEN || code == UINT32_MAX)
    return ALEC_ERANGE;
  long pos = find_pat(ctx, code);
  pat_entry *p;
  if (pos >= 0) {
    p = &ctx->pat[pos];
  } else {
    if (ctx->n_pat >= ctx->cfg.max_patterns)
      return ALEC_ENOSPC;
    int rc = reserve_patterns(ctx, ctx->n_pat + 1);
    if (rc < 0)
      return rc;
    size_t at = (size_t)(-pos - 1);
    if (at < ctx->n_pat)
      memmove(&ctx->pat[at + 1], &ctx->pat[at], (ctx->n_pat - at) * sizeof *ctx->pat);
    ctx->n_pat++;
    p = &ctx->pat[at];
  }
  memset(p, 0, offsetof(pat_entry, data));
  p->code = code;
  p->len = (uint8_t)len;
  memcpy(p->data, data, len);
  p->hash = XXH64(data, len, 0);
  p->frequency = frequency;
  if (code >= ctx->next_code)
    ctx->next_code = code + 1;
  return 0;
}

static int cmp_score(const void *a, const void *b) {
  const pat_entry *x = a, *y = b;
  if (x->score > y->score)
    return -1;
  if (x->score < y->score)
    return 1;
  /* The reference breaks ties in HashMap order (random); ours is the old
   * code, so two runs always agree. */
  return (x->code > y->code) - (x->code < y->code);
}

void alec_context_evolve(alec_context *ctx) {
  if (!ctx)
    return;
  uint64_t now = ctx->obs;
  uint32_t w = 0;
  for (uint32_t k = 0; k < ctx->n_pat; k++) {
    pat_entry *p = &ctx->pat[k];
    uint64_t age = now > p->last_used ? now - p->last_used : 0;
    if (p->frequency < PRUNE_MIN_FREQUENCY || age > PRUNE_MAX_AGE)
      continue;
    if (w != k)
      ctx->pat[w] = *p;
    w++;
  }
  ctx->n_pat = w;
  if (w > 0) {
    for (uint32_t k = 0; k < w; k++) {
      pat_entry *p = &ctx->pat[k];
      uint64_t age = now > p->last_used ? now - p->last_used : 0;
      p->score = log((double)p->frequency + 1.0) * (1.0 / (1.0 + (double)age / 1000.0));
    }
    qsort(ctx->pat, w, sizeof *ctx->pat, cmp_score);
    for (uint32_t k = 0; k < w; k++)
      ctx->pat[k].code = k;
  }
  ctx->next_code = w;
  ctx->version++;
}

uint64_t alec_context_hash(const alec_context *ctx) {
  XXH64_state_t st;
  XXH64_reset(&st, 0);
  if (ctx) {
    for (uint32_t k = 0; k < ctx->n_pat; k++) {
      const pat_entry *p = &ctx->pat[k];
      uint8_t hdr[6];
      alec_wr_be32(hdr, p->code);
      alec_wr_be16(hdr + 4, p->len);
      XXH64_update(&st, hdr, sizeof hdr);
      XXH64_update(&st, p->data, p->len);
    }
  }
  return (uint64_t)XXH64_digest(&st);
}

/* ----------------------------------------------------------- persistence */

#define ALCX_FORMAT 1u
/* magic, fmt, scale, alpha, max_src, max_pat, evo, sanitize, version, obs,
 * next_code, n_src */
#define ALCX_HEAD (4 + 4 + 4 + 8 + 4 + 4 + 4 + 4 + 4 + 8 + 4 + 4)
#define ALCX_SRC (4 + 4 + 8 + 8 * 5) /* id, flags, count, last, last finite, ema, mean, ssd */
#define ALCX_PAT_FIXED (4 + 1 + 8 + 8 + 8 + 1 + 8)

long alec_context_save(const alec_context *ctx, uint8_t *out, size_t cap) {
  if (!ctx)
    return ALEC_EINVAL;
  size_t need = ALCX_HEAD + (size_t)ctx->n_src * ALCX_SRC + 4 + 4;
  for (uint32_t k = 0; k < ctx->n_pat; k++)
    need += ALCX_PAT_FIXED + ctx->pat[k].len;
  if (!out)
    return (long)need;
  if (cap < need)
    return ALEC_EBUFSIZE;
  uint8_t *p = out;
  memcpy(p, "ALCX", 4);
  alec_wr_le32(p + 4, ALCX_FORMAT);
  alec_wr_le32(p + 8, ctx->cfg.scale);
  alec_wr_le64(p + 12, alec_f64_bits(ctx->cfg.ema_alpha));
  alec_wr_le32(p + 20, ctx->cfg.max_sources);
  alec_wr_le32(p + 24, ctx->cfg.max_patterns);
  alec_wr_le32(p + 28, ctx->cfg.evolution_interval);
  alec_wr_le32(p + 32, ctx->cfg.sanitize_nonfinite ? 1u : 0u);
  alec_wr_le32(p + 36, ctx->version);
  alec_wr_le64(p + 40, ctx->obs);
  alec_wr_le32(p + 48, ctx->next_code);
  alec_wr_le32(p + 52, ctx->n_src);
  p += ALCX_HEAD;
  for (uint32_t k = 0; k < ctx->n_src; k++) {
    const ctx_src *e = &ctx->src[k];
    alec_wr_le32(p, e->id);
    alec_wr_le32(p + 4, e->flags);
    alec_wr_le64(p + 8, e->count);
    alec_wr_le64(p + 16, alec_f64_bits(e->last_value));
    alec_wr_le64(p + 24, alec_f64_bits(e->last_finite));
    alec_wr_le64(p + 32, alec_f64_bits(e->ema));
    alec_wr_le64(p + 40, alec_f64_bits(e->mean));
    alec_wr_le64(p + 48, alec_f64_bits(e->ssd));
    p += ALCX_SRC;
  }
  alec_wr_le32(p, ctx->n_pat);
  p += 4;
  for (uint32_t k = 0; k < ctx->n_pat; k++) {
    const pat_entry *e = &ctx->pat[k];
    alec_wr_le32(p, e->code);
    p[4] = e->len;
    memcpy(p + 5, e->data, e->len);
    p += 5 + e->len;
    alec_wr_le64(p, e->frequency);
    alec_wr_le64(p + 8, e->last_used);
    alec_wr_le64(p + 16, e->created_at);
    p[24] = e->has_value;
    alec_wr_le64(p + 25, alec_f64_bits(e->value));
    p += 33;
  }
  alec_wr_le32(p, alec_crc32(0, out, (size_t)(p - out)));
  p += 4;
  return (long)(p - out);
}

int alec_context_load(alec_context *ctx, const uint8_t *buf, size_t len) {
  if (!ctx || !buf)
    return ALEC_EINVAL;
  if (len < ALCX_HEAD + 8)
    return ALEC_ECORRUPT;
  if (memcmp(buf, "ALCX", 4) != 0)
    return ALEC_ECORRUPT;
  size_t end = len - 4;
  if (alec_crc32(0, buf, end) != alec_rd_le32(buf + end))
    return ALEC_ECORRUPT;
  if (alec_rd_le32(buf + 4) != ALCX_FORMAT)
    return ALEC_EVERSION;

  /* Semantics (scale, alpha, evolution, sanitising) come from the blob;
   * resource bounds stay this context's own. */
  alec_context_config cfg = ctx->cfg;
  cfg.scale = alec_rd_le32(buf + 8);
  cfg.ema_alpha = alec_f64_from_bits(alec_rd_le64(buf + 12));
  cfg.evolution_interval = alec_rd_le32(buf + 28);
  uint32_t san = alec_rd_le32(buf + 32);
  if (san > 1)
    return ALEC_ECORRUPT;
  cfg.sanitize_nonfinite = (int)san;
  if (alec_context_config_validate(&cfg) < 0)
    return ALEC_ECORRUPT;
  uint32_t n_src = alec_rd_le32(buf + 52);
  if (n_src > cfg.max_sources)
    return ALEC_ENOSPC;
  size_t off = ALCX_HEAD;
  if ((end - off) / ALCX_SRC < n_src)
    return ALEC_ECORRUPT;

  /* Built aside (on the stack: no allocation beyond the tables) and moved
   * in only once everything is validated. */
  alec_context tmp_ctx;
  alec_context *tmp = &tmp_ctx;
  int rc;
  ctx_init(tmp, &cfg, 0);
  tmp->version = alec_rd_le32(buf + 36);
  tmp->obs = alec_rd_le64(buf + 40);
  ctx_sync_evolve(tmp);
  tmp->next_code = alec_rd_le32(buf + 48);
  rc = reserve_sources(tmp, n_src);
  if (rc < 0)
    goto fail;
  for (uint32_t k = 0; k < n_src; k++) {
    const uint8_t *p = buf + off;
    uint32_t id = alec_rd_le32(p);
    uint32_t flags = alec_rd_le32(p + 4);
    if (ctx_find(tmp, id) || (flags & ~(unsigned)(ALEC_SRC_POISONED | ALEC_SRC_DESYNC))) {
      rc = ALEC_ECORRUPT;
      goto fail;
    }
    ctx_src *e = append_src(tmp, id);
    e->flags = flags;
    e->count = alec_rd_le64(p + 8);
    e->last_value = alec_f64_from_bits(alec_rd_le64(p + 16));
    e->last_finite = alec_f64_from_bits(alec_rd_le64(p + 24));
    e->ema = alec_f64_from_bits(alec_rd_le64(p + 32));
    e->mean = alec_f64_from_bits(alec_rd_le64(p + 40));
    e->ssd = alec_f64_from_bits(alec_rd_le64(p + 48));
    off += ALCX_SRC;
  }
  if (end - off < 4) {
    rc = ALEC_ECORRUPT;
    goto fail;
  }
  uint32_t n_pat = alec_rd_le32(buf + off);
  off += 4;
  if (n_pat > cfg.max_patterns) {
    rc = ALEC_ENOSPC;
    goto fail;
  }
  if ((end - off) / (ALCX_PAT_FIXED + 1) < n_pat) {
    rc = ALEC_ECORRUPT;
    goto fail;
  }
  rc = reserve_patterns(tmp, n_pat);
  if (rc < 0)
    goto fail;
  for (uint32_t k = 0; k < n_pat; k++) {
    if (end - off < 5) {
      rc = ALEC_ECORRUPT;
      goto fail;
    }
    uint32_t code = alec_rd_le32(buf + off);
    uint8_t plen = buf[off + 4];
    off += 5;
    if (plen == 0 || end - off < (size_t)plen + 33 ||
        (k > 0 && code <= tmp->pat[k - 1].code) || code >= tmp->next_code) {
      rc = ALEC_ECORRUPT;
      goto fail;
    }
    pat_entry *e = &tmp->pat[k];
    memset(e, 0, offsetof(pat_entry, data));
    e->code = code;
    e->len = plen;
    memcpy(e->data, buf + off, plen);
    e->hash = XXH64(e->data, plen, 0);
    off += plen;
    e->frequency = alec_rd_le64(buf + off);
    e->last_used = alec_rd_le64(buf + off + 8);
    e->created_at = alec_rd_le64(buf + off + 16);
    if (buf[off + 24] > 1) {
      rc = ALEC_ECORRUPT;
      goto fail;
    }
    e->has_value = buf[off + 24];
    e->value = alec_f64_from_bits(alec_rd_le64(buf + off + 25));
    off += 33;
    tmp->n_pat++;
  }
  if (off != end) {
    rc = ALEC_ECORRUPT;
    goto fail;
  }
  /* The fully validated state moves in; ctx keeps its identity. */
  ctx_move(ctx, tmp);
  return 0;
fail:
  ctx_release(tmp);
  return rc;
}
