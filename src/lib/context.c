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

/* CRC-32/ISO-HDLC (reflected 0xEDB88320), byte table: state blobs are
 * saved and checked often (restarts, atomicity checks in tests). */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xEE0E612Cu, 0x990951BAu, 0x076DC419u, 0x706AF48Fu,
    0xE963A535u, 0x9E6495A3u, 0x0EDB8832u, 0x79DCB8A4u, 0xE0D5E91Eu, 0x97D2D988u,
    0x09B64C2Bu, 0x7EB17CBDu, 0xE7B82D07u, 0x90BF1D91u, 0x1DB71064u, 0x6AB020F2u,
    0xF3B97148u, 0x84BE41DEu, 0x1ADAD47Du, 0x6DDDE4EBu, 0xF4D4B551u, 0x83D385C7u,
    0x136C9856u, 0x646BA8C0u, 0xFD62F97Au, 0x8A65C9ECu, 0x14015C4Fu, 0x63066CD9u,
    0xFA0F3D63u, 0x8D080DF5u, 0x3B6E20C8u, 0x4C69105Eu, 0xD56041E4u, 0xA2677172u,
    0x3C03E4D1u, 0x4B04D447u, 0xD20D85FDu, 0xA50AB56Bu, 0x35B5A8FAu, 0x42B2986Cu,
    0xDBBBC9D6u, 0xACBCF940u, 0x32D86CE3u, 0x45DF5C75u, 0xDCD60DCFu, 0xABD13D59u,
    0x26D930ACu, 0x51DE003Au, 0xC8D75180u, 0xBFD06116u, 0x21B4F4B5u, 0x56B3C423u,
    0xCFBA9599u, 0xB8BDA50Fu, 0x2802B89Eu, 0x5F058808u, 0xC60CD9B2u, 0xB10BE924u,
    0x2F6F7C87u, 0x58684C11u, 0xC1611DABu, 0xB6662D3Du, 0x76DC4190u, 0x01DB7106u,
    0x98D220BCu, 0xEFD5102Au, 0x71B18589u, 0x06B6B51Fu, 0x9FBFE4A5u, 0xE8B8D433u,
    0x7807C9A2u, 0x0F00F934u, 0x9609A88Eu, 0xE10E9818u, 0x7F6A0DBBu, 0x086D3D2Du,
    0x91646C97u, 0xE6635C01u, 0x6B6B51F4u, 0x1C6C6162u, 0x856530D8u, 0xF262004Eu,
    0x6C0695EDu, 0x1B01A57Bu, 0x8208F4C1u, 0xF50FC457u, 0x65B0D9C6u, 0x12B7E950u,
    0x8BBEB8EAu, 0xFCB9887Cu, 0x62DD1DDFu, 0x15DA2D49u, 0x8CD37CF3u, 0xFBD44C65u,
    0x4DB26158u, 0x3AB551CEu, 0xA3BC0074u, 0xD4BB30E2u, 0x4ADFA541u, 0x3DD895D7u,
    0xA4D1C46Du, 0xD3D6F4FBu, 0x4369E96Au, 0x346ED9FCu, 0xAD678846u, 0xDA60B8D0u,
    0x44042D73u, 0x33031DE5u, 0xAA0A4C5Fu, 0xDD0D7CC9u, 0x5005713Cu, 0x270241AAu,
    0xBE0B1010u, 0xC90C2086u, 0x5768B525u, 0x206F85B3u, 0xB966D409u, 0xCE61E49Fu,
    0x5EDEF90Eu, 0x29D9C998u, 0xB0D09822u, 0xC7D7A8B4u, 0x59B33D17u, 0x2EB40D81u,
    0xB7BD5C3Bu, 0xC0BA6CADu, 0xEDB88320u, 0x9ABFB3B6u, 0x03B6E20Cu, 0x74B1D29Au,
    0xEAD54739u, 0x9DD277AFu, 0x04DB2615u, 0x73DC1683u, 0xE3630B12u, 0x94643B84u,
    0x0D6D6A3Eu, 0x7A6A5AA8u, 0xE40ECF0Bu, 0x9309FF9Du, 0x0A00AE27u, 0x7D079EB1u,
    0xF00F9344u, 0x8708A3D2u, 0x1E01F268u, 0x6906C2FEu, 0xF762575Du, 0x806567CBu,
    0x196C3671u, 0x6E6B06E7u, 0xFED41B76u, 0x89D32BE0u, 0x10DA7A5Au, 0x67DD4ACCu,
    0xF9B9DF6Fu, 0x8EBEEFF9u, 0x17B7BE43u, 0x60B08ED5u, 0xD6D6A3E8u, 0xA1D1937Eu,
    0x38D8C2C4u, 0x4FDFF252u, 0xD1BB67F1u, 0xA6BC5767u, 0x3FB506DDu, 0x48B2364Bu,
    0xD80D2BDAu, 0xAF0A1B4Cu, 0x36034AF6u, 0x41047A60u, 0xDF60EFC3u, 0xA867DF55u,
    0x316E8EEFu, 0x4669BE79u, 0xCB61B38Cu, 0xBC66831Au, 0x256FD2A0u, 0x5268E236u,
    0xCC0C7795u, 0xBB0B4703u, 0x220216B9u, 0x5505262Fu, 0xC5BA3BBEu, 0xB2BD0B28u,
    0x2BB45A92u, 0x5CB36A04u, 0xC2D7FFA7u, 0xB5D0CF31u, 0x2CD99E8Bu, 0x5BDEAE1Du,
    0x9B64C2B0u, 0xEC63F226u, 0x756AA39Cu, 0x026D930Au, 0x9C0906A9u, 0xEB0E363Fu,
    0x72076785u, 0x05005713u, 0x95BF4A82u, 0xE2B87A14u, 0x7BB12BAEu, 0x0CB61B38u,
    0x92D28E9Bu, 0xE5D5BE0Du, 0x7CDCEFB7u, 0x0BDBDF21u, 0x86D3D2D4u, 0xF1D4E242u,
    0x68DDB3F8u, 0x1FDA836Eu, 0x81BE16CDu, 0xF6B9265Bu, 0x6FB077E1u, 0x18B74777u,
    0x88085AE6u, 0xFF0F6A70u, 0x66063BCAu, 0x11010B5Cu, 0x8F659EFFu, 0xF862AE69u,
    0x616BFFD3u, 0x166CCF45u, 0xA00AE278u, 0xD70DD2EEu, 0x4E048354u, 0x3903B3C2u,
    0xA7672661u, 0xD06016F7u, 0x4969474Du, 0x3E6E77DBu, 0xAED16A4Au, 0xD9D65ADCu,
    0x40DF0B66u, 0x37D83BF0u, 0xA9BCAE53u, 0xDEBB9EC5u, 0x47B2CF7Fu, 0x30B5FFE9u,
    0xBDBDF21Cu, 0xCABAC28Au, 0x53B39330u, 0x24B4A3A6u, 0xBAD03605u, 0xCDD70693u,
    0x54DE5729u, 0x23D967BFu, 0xB3667A2Eu, 0xC4614AB8u, 0x5D681B02u, 0x2A6F2B94u,
    0xB40BBE37u, 0xC30C8EA1u, 0x5A05DF1Bu, 0x2D02EF8Du,
};

static uint32_t crc32_iso(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++)
    c = (c >> 8) ^ crc_table[(c ^ p[i]) & 0xFFu];
  return c ^ 0xFFFFFFFFu;
}

#define ALCX_FORMAT 1u
/* magic, fmt, scale, alpha, max_src, max_pat, evo, sanitize, version, obs,
 * next_code, n_src */
#define ALCX_HEAD (4 + 4 + 4 + 8 + 4 + 4 + 4 + 4 + 4 + 8 + 4 + 4)
#define ALCX_SRC (4 + 4 + 8 + 8 * 5) /* id, flags, count, last, last finite, ema, mean, ssd */
#define ALCX_PAT_FIXED (4 + 1 + 8 + 8 + 8 + 1 + 8)

static void wr_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static void wr_le64(uint8_t *p, uint64_t v) {
  wr_le32(p, (uint32_t)v);
  wr_le32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t rd_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd_le64(const uint8_t *p) {
  return (uint64_t)rd_le32(p) | ((uint64_t)rd_le32(p + 4) << 32);
}

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
  wr_le32(p + 4, ALCX_FORMAT);
  wr_le32(p + 8, ctx->cfg.scale);
  wr_le64(p + 12, alec_f64_bits(ctx->cfg.ema_alpha));
  wr_le32(p + 20, ctx->cfg.max_sources);
  wr_le32(p + 24, ctx->cfg.max_patterns);
  wr_le32(p + 28, ctx->cfg.evolution_interval);
  wr_le32(p + 32, ctx->cfg.sanitize_nonfinite ? 1u : 0u);
  wr_le32(p + 36, ctx->version);
  wr_le64(p + 40, ctx->obs);
  wr_le32(p + 48, ctx->next_code);
  wr_le32(p + 52, ctx->n_src);
  p += ALCX_HEAD;
  for (uint32_t k = 0; k < ctx->n_src; k++) {
    const ctx_src *e = &ctx->src[k];
    wr_le32(p, e->id);
    wr_le32(p + 4, e->flags);
    wr_le64(p + 8, e->count);
    wr_le64(p + 16, alec_f64_bits(e->last_value));
    wr_le64(p + 24, alec_f64_bits(e->last_finite));
    wr_le64(p + 32, alec_f64_bits(e->ema));
    wr_le64(p + 40, alec_f64_bits(e->mean));
    wr_le64(p + 48, alec_f64_bits(e->ssd));
    p += ALCX_SRC;
  }
  wr_le32(p, ctx->n_pat);
  p += 4;
  for (uint32_t k = 0; k < ctx->n_pat; k++) {
    const pat_entry *e = &ctx->pat[k];
    wr_le32(p, e->code);
    p[4] = e->len;
    memcpy(p + 5, e->data, e->len);
    p += 5 + e->len;
    wr_le64(p, e->frequency);
    wr_le64(p + 8, e->last_used);
    wr_le64(p + 16, e->created_at);
    p[24] = e->has_value;
    wr_le64(p + 25, alec_f64_bits(e->value));
    p += 33;
  }
  wr_le32(p, crc32_iso(out, (size_t)(p - out)));
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
  if (crc32_iso(buf, end) != rd_le32(buf + end))
    return ALEC_ECORRUPT;
  if (rd_le32(buf + 4) != ALCX_FORMAT)
    return ALEC_EVERSION;

  /* Semantics (scale, alpha, evolution, sanitising) come from the blob;
   * resource bounds stay this context's own. */
  alec_context_config cfg = ctx->cfg;
  cfg.scale = rd_le32(buf + 8);
  cfg.ema_alpha = alec_f64_from_bits(rd_le64(buf + 12));
  cfg.evolution_interval = rd_le32(buf + 28);
  uint32_t san = rd_le32(buf + 32);
  if (san > 1)
    return ALEC_ECORRUPT;
  cfg.sanitize_nonfinite = (int)san;
  if (alec_context_config_validate(&cfg) < 0)
    return ALEC_ECORRUPT;
  uint32_t n_src = rd_le32(buf + 52);
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
  tmp->version = rd_le32(buf + 36);
  tmp->obs = rd_le64(buf + 40);
  ctx_sync_evolve(tmp);
  tmp->next_code = rd_le32(buf + 48);
  rc = reserve_sources(tmp, n_src);
  if (rc < 0)
    goto fail;
  for (uint32_t k = 0; k < n_src; k++) {
    const uint8_t *p = buf + off;
    uint32_t id = rd_le32(p);
    uint32_t flags = rd_le32(p + 4);
    if (ctx_find(tmp, id) || (flags & ~(unsigned)(ALEC_SRC_POISONED | ALEC_SRC_DESYNC))) {
      rc = ALEC_ECORRUPT;
      goto fail;
    }
    ctx_src *e = append_src(tmp, id);
    e->flags = flags;
    e->count = rd_le64(p + 8);
    e->last_value = alec_f64_from_bits(rd_le64(p + 16));
    e->last_finite = alec_f64_from_bits(rd_le64(p + 24));
    e->ema = alec_f64_from_bits(rd_le64(p + 32));
    e->mean = alec_f64_from_bits(rd_le64(p + 40));
    e->ssd = alec_f64_from_bits(rd_le64(p + 48));
    off += ALCX_SRC;
  }
  if (end - off < 4) {
    rc = ALEC_ECORRUPT;
    goto fail;
  }
  uint32_t n_pat = rd_le32(buf + off);
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
    uint32_t code = rd_le32(buf + off);
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
    e->frequency = rd_le64(buf + off);
    e->last_used = rd_le64(buf + off + 8);
    e->created_at = rd_le64(buf + off + 16);
    if (buf[off + 24] > 1) {
      rc = ALEC_ECORRUPT;
      goto fail;
    }
    e->has_value = buf[off + 24];
    e->value = alec_f64_from_bits(rd_le64(buf + off + 25));
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
