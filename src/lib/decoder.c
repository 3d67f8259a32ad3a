/* SPDX-License-Identifier: MIT */
#include "alec/decoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/error.h"
#include "alec/wire.h"
#include "context_int.h"
#include "wire_int.h"

#define REPLAY_WINDOW_DEFAULT 64u
#define REPLAY_WINDOW_MAX 32767u
#define FIXED_CTX_MAX_JUMP 256u
#define FIXED_GAP_CAP 255u
#define DECODER_FLAGS (ALEC_DECODER_STRICT_REFERENCE | ALEC_DECODER_STATISTICS)

/* One block per emitter (see context_int.h): the trackers, then the
 * context with its inline sources. The context configuration is the
 * context's own copy. */
struct alec_decoder {
  /* Legacy (single + multi) and fixed frames are tracked separately, as the
   * reference receiver does, although an emitter shares one counter. */
  uint16_t leg_seq;
  uint16_t fix_seq;
  uint16_t fix_ver;
  uint16_t replay_window;
  uint8_t leg_has;
  uint8_t fix_has;
  uint8_t strict; /* ALEC_DECODER_STRICT_REFERENCE */
  alec_context ctx;
};

_Static_assert(offsetof(struct alec_decoder, ctx) == 16, "trackers take 16 bytes");

/* Result of phase (a): what the commit has to do. */
typedef struct plan {
  uint32_t gap;
  int desync;     /* lost / duplicated frame: every source becomes DESYNC */
  int resync;     /* legacy RESYNC header or fixed all-Raw32 jump frame */
  int reset;      /* fixed reference policy: reset_to_baseline first */
} plan;

void alec_decoder_config_init(alec_decoder_config *cfg) {
  alec_context_config_init(&cfg->ctx);
  cfg->flags = 0;
  cfg->replay_window = REPLAY_WINDOW_DEFAULT;
}

static int strict(const alec_decoder *dec) { return dec->strict; }

static int validate_config(alec_decoder_config *c) {
  if (c->flags & ~(unsigned)DECODER_FLAGS)
    return ALEC_EINVAL;
  if (c->replay_window > REPLAY_WINDOW_MAX)
    return ALEC_EINVAL;
  /* The reference lets NaN into the EMA; strict mode must too. */
  if (c->flags & ALEC_DECODER_STRICT_REFERENCE)
    c->ctx.sanitize_nonfinite = 0;
  return alec_context_config_validate(&c->ctx);
}

int alec_decoder_new(alec_decoder **out, const alec_decoder_config *cfg) {
  if (!out)
    return ALEC_EINVAL;
  *out = NULL;
  alec_decoder_config c;
  if (cfg)
    c = *cfg;
  else
    alec_decoder_config_init(&c);
  int rc = validate_config(&c);
  if (rc < 0)
    return rc;
  alec_decoder *dec = malloc(sizeof *dec);
  if (!dec)
    return ALEC_ENOMEM;
  memset(dec, 0, offsetof(alec_decoder, ctx));
  ctx_init(&dec->ctx, &c.ctx, 1);
  dec->ctx.no_stats = (c.flags & ALEC_DECODER_STATISTICS) ? 0 : 1;
  dec->strict = (c.flags & ALEC_DECODER_STRICT_REFERENCE) ? 1 : 0;
  dec->replay_window = c.replay_window;
  *out = dec;
  return 0;
}

void alec_decoder_free(alec_decoder *dec) {
  if (!dec)
    return;
  ctx_release(&dec->ctx);
  free(dec);
}

size_t alec_decoder_memory(const alec_decoder *dec) {
  if (!dec)
    return 0;
  return offsetof(alec_decoder, ctx) + alec_context_memory(&dec->ctx);
}

void alec_decoder_prefetch(const alec_decoder *dec) {
#if defined(__GNUC__) || defined(__clang__)
  /* The whole block: trackers, context header and the inline sources, all
   * of which a frame of up to CTX_INLINE_SOURCES values reads and writes. */
  const char *p = (const char *)dec;
  if (!p)
    return;
  /* Every line the block touches, wherever it starts within a line. */
  for (size_t o = 0; o < sizeof *dec; o += 64)
    __builtin_prefetch(p + o, 1, 3);
  __builtin_prefetch(p + sizeof *dec - 1, 1, 3);
#else
  (void)dec;
#endif
}

void alec_decoder_reset(alec_decoder *dec) {
  if (!dec)
    return;
  dec->leg_has = 0;
  dec->leg_seq = 0;
  dec->fix_has = 0;
  dec->fix_seq = 0;
  dec->fix_ver = 0;
  alec_context_reset_to_baseline(&dec->ctx);
}

alec_context *alec_decoder_context(alec_decoder *dec) { return dec ? &dec->ctx : NULL; }

const alec_context *alec_decoder_context_const(const alec_decoder *dec) {
  return dec ? &dec->ctx : NULL;
}

/* ---------------------------------------------------------------- values */

static int is_raw(uint8_t enc) { return enc == ALEC_ENC_RAW32 || enc == ALEC_ENC_RAW64; }

static double delta(double pred, int64_t d, uint32_t scale) {
  /* Division first, then addition (spec 3.3). */
  return pred + ((double)d / (double)scale);
}

/* One legacy-encoded value of a source (e: its entry before the frame,
 * NULL when it has none). The caller has rejected Multi and (for multi
 * frames) pattern encodings. */
static inline int decode_value(const alec_context *ctx, const ctx_src *e, uint32_t scale,
                               uint8_t enc, const uint8_t *p, size_t len, size_t *used,
                               double *out) {
  switch (enc) {
  case ALEC_ENC_RAW64:
    if (len < 8)
      return ALEC_ETRUNC;
    *out = wire_f64_from_bits(alec_rd_be64(p));
    *used = 8;
    return 0;
  case ALEC_ENC_RAW32:
    if (len < 4)
      return ALEC_ETRUNC;
    *out = (double)wire_f32_from_bits(alec_rd_be32(p));
    *used = 4;
    return 0;
  case ALEC_ENC_DELTA8:
    if (len < 1)
      return ALEC_ETRUNC;
    if (!e || !ctx_has_pred(e))
      return ALEC_ENOPRED;
    *out = delta(ctx_pred(ctx, e), (int8_t)p[0], scale);
    *used = 1;
    return 0;
  case ALEC_ENC_DELTA16:
    if (len < 2)
      return ALEC_ETRUNC;
    if (!e || !ctx_has_pred(e))
      return ALEC_ENOPRED;
    *out = delta(ctx_pred(ctx, e), (int16_t)alec_rd_be16(p), scale);
    *used = 2;
    return 0;
  case ALEC_ENC_DELTA32:
    if (len < 4)
      return ALEC_ETRUNC;
    if (!e || !ctx_has_pred(e))
      return ALEC_ENOPRED;
    *out = delta(ctx_pred(ctx, e), (int32_t)alec_rd_be32(p), scale);
    *used = 4;
    return 0;
  case ALEC_ENC_REPEATED:
    if (!e)
      return ALEC_ENOPREV;
    *out = e->last_value;
    *used = 0;
    return 0;
  case ALEC_ENC_INTERPOLATED:
    if (!e || !ctx_has_pred(e))
      return ALEC_ENOPRED;
    *out = ctx_pred(ctx, e);
    *used = 0;
    return 0;
  case ALEC_ENC_PATTERN:
  case ALEC_ENC_PATTERN_DELTA: {
    uint32_t code;
    int rc = wire_varint_decode(p, len, &code);
    if (rc < 0)
      return rc;
    size_t n = (size_t)rc;
    double pv;
    if (alec_context_pattern_value(ctx, code, &pv) < 0)
      return ALEC_EPATTERN;
    if (enc == ALEC_ENC_PATTERN) {
      *out = pv;
    } else {
      if (len - n < 1)
        return ALEC_ETRUNC;
      *out = delta(pv, (int8_t)p[n], scale);
      n++;
    }
    *used = n;
    return 0;
  }
  default:
    return ALEC_EENCODING;
  }
}

static int known_encoding(uint8_t enc) {
  switch (enc) {
  case ALEC_ENC_RAW64:
  case ALEC_ENC_RAW32:
  case ALEC_ENC_DELTA8:
  case ALEC_ENC_DELTA16:
  case ALEC_ENC_DELTA32:
  case ALEC_ENC_PATTERN:
  case ALEC_ENC_PATTERN_DELTA:
  case ALEC_ENC_REPEATED:
  case ALEC_ENC_INTERPOLATED:
  case ALEC_ENC_MULTI:
    return 1;
  default:
    return 0;
  }
}

/* Flags of a value decoded against the pre-frame flags of its source. */
static uint8_t value_flags(unsigned src_flags, uint8_t enc, double v, int desync_now) {
  uint8_t f = 0;
  if (!is_raw(enc) && (desync_now || (src_flags & (ALEC_SRC_DESYNC | ALEC_SRC_POISONED))))
    f |= ALEC_VALUE_UNRELIABLE;
  if (!isfinite(v))
    f |= ALEC_VALUE_NONFINITE;
  return f;
}

/* ------------------------------------------------------------- sequences */

/* diff = (seq - last) mod 2^16. Non-strict: 0 or up to replay_window
 * behind is a replay; further behind is a forward jump (restart). */
static int seq_check(const alec_decoder *dec, int has, uint16_t last, uint16_t seq,
                     uint32_t *diff) {
  uint32_t d = (uint16_t)(seq - last);
  *diff = d;
  if (!has || strict(dec))
    return 0;
  if (d == 0 || d >= 65536u - dec->replay_window)
    return ALEC_EREPLAY;
  return 0;
}

/* Observe after the reservation: cannot fail. */
static void observe_id(alec_context *ctx, uint32_t id, double v) {
  ctx_src *e = ctx_find(ctx, id);
  if (e)
    ctx_observe_entry(ctx, e, v);
  else
    (void)alec_context_observe(ctx, id, v);
}

/* ---------------------------------------------------------------- legacy */

/* One value of a known source on the fast paths below: the general
 * decode_value minus patterns, with 0 for anything that path must handle
 * (including every error, which it then reports). Returns the bytes used
 * plus one. */
__attribute__((always_inline)) static inline int fast_value(const alec_context *ctx, const ctx_src *e, double scale,
                             uint8_t enc, const uint8_t *p, size_t rem, double *v) {
  switch (enc) {
  case ALEC_ENC_RAW32:
    if (rem < 4)
      return 0;
    *v = (double)wire_f32_from_bits(alec_rd_be32(p));
    return 5;
  case ALEC_ENC_RAW64:
    if (rem < 8)
      return 0;
    *v = wire_f64_from_bits(alec_rd_be64(p));
    return 9;
  case ALEC_ENC_REPEATED:
    *v = e->last_value;
    return 1;
  default:
    break;
  }
  if (!ctx_has_pred(e))
    return 0;
  double pred = ctx_pred(ctx, e);
  /* Division first, then addition (spec 3.3), as delta() does. */
  switch (enc) {
  case ALEC_ENC_DELTA8:
    if (rem < 1)
      return 0;
    *v = pred + (double)(int8_t)p[0] / scale;
    return 2;
  case ALEC_ENC_DELTA16:
    if (rem < 2)
      return 0;
    *v = pred + (double)(int16_t)alec_rd_be16(p) / scale;
    return 3;
  case ALEC_ENC_DELTA32:
    if (rem < 4)
      return 0;
    *v = pred + (double)(int32_t)alec_rd_be32(p) / scale;
    return 5;
  case ALEC_ENC_INTERPOLATED:
    *v = pred;
    return 1;
  default:
    return 0;
  }
}

static inline uint8_t fast_flags(const ctx_src *e, uint8_t enc, double v) {
  uint8_t f = 0;
  if (!is_raw(enc) && (e->flags & (ALEC_SRC_DESYNC | ALEC_SRC_POISONED)))
    f = ALEC_VALUE_UNRELIABLE;
  if (!ctx_finite(v))
    f |= ALEC_VALUE_NONFINITE;
  return f;
}

/* Whether a first header byte is one legacy_fast may take (a valid
 * priority, not a resync): one load instead of two masked compares. */
#define LB(b) ((((b)&7u) <= ALEC_P5) && (((b)&0x38u) != (ALEC_MSG_RESYNC << 3)))
#define LB4(b) LB(b), LB((b) + 1), LB((b) + 2), LB((b) + 3)
#define LB16(b) LB4(b), LB4((b) + 4), LB4((b) + 8), LB4((b) + 12)
#define LB64(b) LB16(b), LB16((b) + 16), LB16((b) + 32), LB16((b) + 48)
static const uint8_t leg_b0_fast[256] = {LB64(0u), LB64(64u), LB64(128u), LB64(192u)};
#undef LB64
#undef LB16
#undef LB4
#undef LB

/* The usual legacy frame (single without checksum, or multi): the next
 * sequence number, not a resync, one-byte source id, every source known
 * with what its encoding needs. Decoded and committed with one lookup per
 * value; 0 when the frame is not of this kind, before anything changed
 * (decode_legacy then takes the general path, which reports the errors). */
__attribute__((always_inline)) static inline int legacy_fast(alec_decoder *dec, alec_format format, const uint8_t *frame, size_t len,
                       alec_value *out, size_t cap, alec_frame_info *info) {
  alec_context *ctx = &dec->ctx;
  if (len < ALEC_HEADER_SIZE + 2 || !dec->leg_has)
    return 0;
  uint8_t b0 = frame[0];
  uint16_t seq = alec_rd_be16(frame + 1);
  /* Priority valid, not a resync, the next sequence number, a one-byte
   * source id: separate branches, each predicted (combined with | they
   * cost 17 instructions of flag arithmetic). */
  if (!leg_b0_fast[b0])
    return 0;
  if (seq != (uint16_t)(dec->leg_seq + 1u))
    return 0;
  if (frame[ALEC_HEADER_SIZE] >> 7)
    return 0;
  uint32_t sid = frame[ALEC_HEADER_SIZE];
  uint8_t enc = frame[ALEC_HEADER_SIZE + 1];
  const uint8_t *p = frame + ALEC_HEADER_SIZE + 2, *end = frame + len;
  const double scale = (double)ctx->cfg.scale;
  size_t n, unreliable = 0;
  if (format == ALEC_FORMAT_SINGLE) {
    if (cap < 1)
      return 0;
    ctx_src *e = ctx_find(ctx, sid);
    if (!e)
      return 0;
    double v;
    int u = fast_value(ctx, e, scale, enc, p, (size_t)(end - p), &v);
    if (!u)
      return 0;
    p += u - 1;
    out[0].id = sid;
    out[0].value = v;
    out[0].encoding = enc;
    out[0].flags = fast_flags(e, enc, v);
    unreliable = out[0].flags & ALEC_VALUE_UNRELIABLE;
    dec->leg_seq = seq;
    ctx_observe_entry(ctx, e, v);
    n = 1;
  } else {
    if (enc != ALEC_ENC_MULTI || p == end)
      return 0;
    n = *p++;
    if (n == 0) {
      /* Every channel held back (P5): common, and nothing to observe. */
      dec->leg_seq = seq;
      goto info;
    }
    if (cap < n || !ctx_batch_ok(ctx, (uint32_t)n))
      return 0;
    ctx_src *ent[255];
    for (size_t i = 0; i < n; i++) {
      if (end - p < 2)
        return 0;
      uint32_t id = p[0];
      uint8_t e8 = p[1];
      p += 2;
      ctx_src *e = ctx_find(ctx, id);
      if (!e)
        return 0;
      double v;
      int u = fast_value(ctx, e, scale, e8, p, (size_t)(end - p), &v);
      if (!u)
        return 0;
      p += u - 1;
      ent[i] = e;
      out[i].id = id;
      out[i].value = v;
      out[i].encoding = e8;
      out[i].flags = fast_flags(e, e8, v);
      unreliable += out[i].flags & ALEC_VALUE_UNRELIABLE;
    }
    dec->leg_seq = seq;
    const int sanitize = ctx->cfg.sanitize_nonfinite, stats = !ctx->no_stats;
    const double alpha = ctx->cfg.ema_alpha, beta = 1.0 - alpha;
    for (size_t i = 0; i < n; i++)
      ctx_update_entry_ab(ent[i], out[i].value, !(out[i].flags & ALEC_VALUE_NONFINITE), sanitize,
                          alpha, beta, stats);
    ctx_count_batch(ctx, (uint32_t)n);
  }
info:
  if (info) {
    info->priority = b0 & 7u;
    info->msg_type = (b0 >> 3) & 7u;
    info->sequence = seq;
    info->ctx_version = alec_rd_be24(frame + 7);
    info->timestamp = alec_rd_be32(frame + 3);
    info->has_timestamp = 1;
    info->gap = 0;
    info->frame_len = (size_t)(p - frame);
    info->n_values = n;
    info->n_unreliable = unreliable;
  }
  return (int)n + 1;
}

/* The general path: every frame legacy_fast declines. Not inlined, so that
 * the fast path does not pay for its stack frame. */
__attribute__((noinline)) static int decode_legacy(alec_decoder *dec, alec_format format, const uint8_t *frame, size_t len,
                         alec_value *out, size_t cap, alec_frame_info *info) {
  alec_context *ctx = &dec->ctx;
  size_t body = len; /* bytes of header + payload (without checksum) */
  alec_header h;
  int rc;

  if (format == ALEC_FORMAT_SINGLE_XXH32 && len < ALEC_HEADER_SIZE + ALEC_CHECKSUM_SIZE)
    return ALEC_ETRUNC;
  rc = wire_header_parse(frame, len, &h);
  if (rc < 0)
    return rc;
  if (format == ALEC_FORMAT_SINGLE_XXH32) {
    body = len - ALEC_CHECKSUM_SIZE;
    if (alec_checksum32(frame, body) != alec_rd_be32(frame + body))
      return ALEC_ECHECKSUM;
  }
  if (format != ALEC_FORMAT_MULTI && cap < 1)
    return ALEC_EBUFSIZE;

  plan pl = {0};
  uint32_t diff;
  rc = seq_check(dec, dec->leg_has, dec->leg_seq, h.sequence, &diff);
  if (rc < 0)
    return rc;
  if (dec->leg_has) {
    if (diff == 0)
      pl.desync = 1; /* strict: a duplicate is observed twice */
    else
      pl.gap = diff - 1;
    if (pl.gap > 0)
      pl.desync = 1;
  }
  pl.resync = !strict(dec) && h.msg_type == ALEC_MSG_RESYNC;

  const uint8_t *p = frame + ALEC_HEADER_SIZE;
  size_t rem = body - ALEC_HEADER_SIZE;
  size_t n = 0;
  size_t fresh = 0; /* sources the commit will create */
  uint32_t scale = ctx->cfg.scale;
  /* The entries of the frame's sources, looked up once: the commit reuses
   * them unless it creates or resets sources (which may move entries). */
  ctx_src *ent1 = NULL;
  ctx_src *ent[255];

  if (rem == 0)
    return ALEC_ETRUNC;
  uint32_t sid;
  rc = wire_varint_decode(p, rem, &sid);
  if (rc < 0)
    return rc;
  p += rc;
  rem -= (size_t)rc;
  if (rem == 0)
    return ALEC_ETRUNC;
  uint8_t enc = *p++;
  rem--;

  if (format != ALEC_FORMAT_MULTI) {
    if (!known_encoding(enc))
      return ALEC_EENCODING;
    if (enc == ALEC_ENC_MULTI)
      return ALEC_EFORMAT; /* reference: "Multi encoding should use decode_multi" */
    size_t used;
    double v;
    ent1 = ctx_find(ctx, sid);
    fresh = !ent1;
    rc = decode_value(ctx, ent1, scale, enc, p, rem, &used, &v);
    if (rc < 0)
      return rc;
    p += used;
    out[0].id = sid;
    out[0].value = v;
    out[0].encoding = enc;
    out[0].flags = value_flags(ent1 ? ent1->flags : 0, enc, v, pl.desync);
    n = 1;
  } else {
    if (enc != ALEC_ENC_MULTI)
      return ALEC_EFORMAT; /* reference: "Expected Multi encoding" */
    if (rem == 0)
      return ALEC_ETRUNC;
    size_t count = *p++;
    rem--;
    if (cap < count)
      return ALEC_EBUFSIZE;
    uint8_t seen[32] = {0}; /* new name_ids, counted once */
    for (size_t i = 0; i < count; i++) {
      if (rem < 2)
        return ALEC_ETRUNC;
      uint32_t id = p[0];
      uint8_t e = p[1];
      p += 2;
      rem -= 2;
      if (!known_encoding(e))
        return ALEC_EENCODING;
      if (e == ALEC_ENC_PATTERN || e == ALEC_ENC_PATTERN_DELTA || e == ALEC_ENC_MULTI)
        return ALEC_EMALFORMED; /* "Unsupported encoding in multi frame" */
      size_t used;
      double v;
      ctx_src *en = ctx_find(ctx, id);
      ent[i] = en;
      if (!en && !(seen[id >> 3] & (1u << (id & 7)))) {
        seen[id >> 3] |= (uint8_t)(1u << (id & 7));
        fresh++;
      }
      rc = decode_value(ctx, en, scale, e, p, rem, &used, &v);
      if (rc < 0)
        return rc;
      p += used;
      rem -= used;
      out[i].id = id;
      out[i].value = v;
      out[i].encoding = e;
      out[i].flags = value_flags(en ? en->flags : 0, e, v, pl.desync);
    }
    n = count;
  }

  if (fresh) {
    rc = alec_context_reserve(ctx, fresh);
    if (rc < 0)
      return rc;
  }

  /* ---- commit: nothing below can fail ---- */
  dec->leg_has = 1;
  dec->leg_seq = h.sequence;
  if (pl.desync)
    alec_context_mark_all(ctx, ALEC_SRC_DESYNC);
  size_t unreliable = 0;
  if (!fresh && !pl.resync) {
    /* Every entry known and none reset: no lookup again. */
    if (format != ALEC_FORMAT_MULTI) {
      ctx_observe_entry(ctx, ent1, out[0].value);
      unreliable = (out[0].flags & ALEC_VALUE_UNRELIABLE) != 0;
    } else if (ctx_batch_ok(ctx, (uint32_t)n)) {
      for (size_t i = 0; i < n; i++) {
        ctx_update_entry(ctx, ent[i], out[i].value, !(out[i].flags & ALEC_VALUE_NONFINITE));
        unreliable += (out[i].flags & ALEC_VALUE_UNRELIABLE) != 0;
      }
      ctx_count_batch(ctx, (uint32_t)n);
    } else {
      for (size_t i = 0; i < n; i++) {
        ctx_observe_entry(ctx, ent[i], out[i].value);
        unreliable += (out[i].flags & ALEC_VALUE_UNRELIABLE) != 0;
      }
    }
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (pl.resync && is_raw(out[i].encoding)) {
      alec_context_reset_source(ctx, out[i].id);
      out[i].flags |= ALEC_VALUE_RESYNC;
      if (info)
        info->resync = 1;
    }
    observe_id(ctx, out[i].id, out[i].value);
    if (out[i].flags & ALEC_VALUE_UNRELIABLE)
      unreliable++;
  }

done:
  if (info) {
    info->priority = h.priority;
    info->msg_type = h.msg_type;
    info->sequence = h.sequence;
    info->ctx_version = h.ctx_version;
    info->timestamp = h.timestamp;
    info->has_timestamp = 1;
    info->gap = pl.gap;
    /* The trailer covers every byte before it, so all of them count. */
    info->frame_len = body == len ? (size_t)(p - frame) : len;
    info->n_values = n;
    info->n_unreliable = unreliable;
  }
  return (int)n;
}

__attribute__((noinline)) static int decode_legacy_noinfo(alec_decoder *dec, alec_format format,
                                                          const uint8_t *frame, size_t len,
                                                          alec_value *out, size_t cap) {
  return decode_legacy(dec, format, frame, len, out, cap, NULL);
}

/* ----------------------------------------------------------------- fixed */

/* Data bytes of the four 2-bit codes of one bitmap byte (Repeated 0,
 * Delta8 1, Delta16 2, Raw32 4): the frame length is checked from the
 * bitmap's bytes, not channel by channel. */
static const uint8_t fix_bytes[256] = {
    0, 1, 2, 4, 1, 2, 3, 5, 2, 3, 4, 6, 4, 5, 6, 8, 1, 2, 3, 5, 2, 3, 4, 6, 3, 4, 5, 7, 5,
    6, 7, 9, 2, 3, 4, 6, 3, 4, 5, 7, 4, 5, 6, 8, 6, 7, 8, 10, 4, 5, 6, 8, 5, 6, 7, 9, 6, 7,
    8, 10, 8, 9, 10, 12, 1, 2, 3, 5, 2, 3, 4, 6, 3, 4, 5, 7, 5, 6, 7, 9, 2, 3, 4, 6, 3, 4,
    5, 7, 4, 5, 6, 8, 6, 7, 8, 10, 3, 4, 5, 7, 4, 5, 6, 8, 5, 6, 7, 9, 7, 8, 9, 11, 5, 6,
    7, 9, 6, 7, 8, 10, 7, 8, 9, 11, 9, 10, 11, 13, 2, 3, 4, 6, 3, 4, 5, 7, 4, 5, 6, 8, 6,
    7, 8, 10, 3, 4, 5, 7, 4, 5, 6, 8, 5, 6, 7, 9, 7, 8, 9, 11, 4, 5, 6, 8, 5, 6, 7, 9, 6,
    7, 8, 10, 8, 9, 10, 12, 6, 7, 8, 10, 7, 8, 9, 11, 8, 9, 10, 12, 10, 11, 12, 14, 4, 5,
    6, 8, 5, 6, 7, 9, 6, 7, 8, 10, 8, 9, 10, 12, 5, 6, 7, 9, 6, 7, 8, 10, 7, 8, 9, 11, 9,
    10, 11, 13, 6, 7, 8, 10, 7, 8, 9, 11, 8, 9, 10, 12, 10, 11, 12, 14, 8, 9, 10, 12, 9, 10,
    11, 13, 10, 11, 12, 14, 12, 13, 14, 16};

/* fixed_fast's decode-and-commit loop (its preconditions checked). */
CTX_HOT size_t fixed_loop(ctx_src *src, unsigned channels, const uint8_t *bmp, const uint8_t *p,
                          alec_value *out, double scale, double alpha, double beta, int sanitize,
                          int stats) {
  size_t unrel = 0;
  unsigned bits = 0;
  for (unsigned i = 0; i < channels; i++) {
    ctx_src *e = &src[i];
    if ((i & 3u) == 0)
      bits = bmp[i >> 2];
    unsigned code = bits & 3u;
    bits >>= 2;
    double v;
    uint8_t enc;
    if (code == ALEC_FIX_RAW32) {
      v = (double)wire_f32_from_bits(alec_rd_be32(p));
      p += 4;
      enc = ALEC_ENC_RAW32;
    } else if (code == ALEC_FIX_REPEATED) {
      v = e->last_value;
      enc = ALEC_ENC_REPEATED;
    } else if (code == ALEC_FIX_DELTA8) {
      /* Division first, then addition (spec 3.3), as delta() does. */
      v = ctx_pred_s(e, sanitize) + (double)(int8_t)p[0] / scale;
      p += 1;
      enc = ALEC_ENC_DELTA8;
    } else {
      v = ctx_pred_s(e, sanitize) + (double)(int16_t)alec_rd_be16(p) / scale;
      p += 2;
      enc = ALEC_ENC_DELTA16;
    }
    uint8_t f = 0;
    if (enc != ALEC_ENC_RAW32 && (e->flags & (ALEC_SRC_DESYNC | ALEC_SRC_POISONED)))
      f = ALEC_VALUE_UNRELIABLE;
    int fin = ctx_finite(v);
    if (!fin)
      f |= ALEC_VALUE_NONFINITE;
    unrel += f & ALEC_VALUE_UNRELIABLE;
    out[i].id = i;
    out[i].value = v;
    out[i].encoding = enc;
    out[i].flags = f;
    ctx_update_entry_ab(e, v, fin, sanitize, alpha, beta, stats);
  }
  return unrel;
}

/* The usual fixed frame: no gap, no reset, no resync, channel i already at
 * dense position i with a prediction, no evolve within the frame. Decodes
 * and commits it with one entry access per value; 0 when the frame is not
 * of this kind, before anything changed (decode_fixed then takes the
 * general path, which also reports the errors). */
__attribute__((always_inline)) static inline int fixed_fast(alec_context *ctx, unsigned channels, const uint8_t *bmp,
                      const uint8_t *p, alec_value *out, size_t *unreliable) {
  if (ctx->n_src < channels || !ctx_batch_ok(ctx, channels))
    return 0;
  ctx_src *src = ctx->src;
  /* Everything that could send the frame to the general path is checked
   * first, so that each channel can then be decoded and committed at once
   * (channel i's entry is only read for channel i). */
  unsigned bits = 0;
  for (unsigned i = 0; i < channels; i++) {
    /* The entry's own id (ids[] only mirrors it for inline lookups). */
    const ctx_src *e = &src[i];
    if ((i & 3u) == 0)
      bits = bmp[i >> 2];
    unsigned code = bits & 3u;
    bits >>= 2;
    if (e->id != i + 1 || (code != ALEC_FIX_RAW32 && !ctx_has_pred(e)))
      return 0;
  }
  const double scale = (double)ctx->cfg.scale;
  const int sanitize = ctx->cfg.sanitize_nonfinite, stats = !ctx->no_stats;
  const double alpha = ctx->cfg.ema_alpha, beta = 1.0 - alpha;
  /* The default configuration with constant flags: fewer live registers
   * and no per-value test of them. */
  size_t unrel = sanitize && !stats
                     ? fixed_loop(src, channels, bmp, p, out, scale, alpha, beta, 1, 0)
                     : fixed_loop(src, channels, bmp, p, out, scale, alpha, beta, sanitize, stats);
  ctx_count_batch(ctx, channels);
  *unreliable = unrel;
  return 1;
}

/* The general path: every frame fixed_entry's fast path declines. */
__attribute__((noinline)) static int decode_fixed(alec_decoder *dec, unsigned channels, const uint8_t *frame, size_t len,
                        alec_value *out, size_t cap, alec_frame_info *info) {
  alec_context *ctx = &dec->ctx;
  /* Reference check order (spec 6.2). */
  if (channels == 0)
    return ALEC_ECHANNELS;
  if (cap < channels)
    return ALEC_EBUFSIZE;
  size_t bm = ((size_t)channels * 2 + 7) / 8;
  if (len < ALEC_FIXED_HEADER_SIZE + bm)
    return ALEC_ETRUNC;
  if (frame[0] != ALEC_FIXED_DATA && frame[0] != ALEC_FIXED_KEYFRAME)
    return ALEC_EFORMAT; /* "not a fixed-channel ALEC frame" */
  int keyframe = frame[0] == ALEC_FIXED_KEYFRAME;
  uint16_t seq = alec_rd_be16(frame + 1), ver = alec_rd_be16(frame + 3);

  uint32_t diff;
  int rc = seq_check(dec, dec->fix_has, dec->fix_seq, seq, &diff);
  plan pl = {0};
  int mismatch = 0;
  if (dec->fix_has) {
    pl.gap = diff == 0 ? 0 : (diff - 1 > FIXED_GAP_CAP ? FIXED_GAP_CAP : diff - 1);
    if (!keyframe)
      mismatch = (uint16_t)(ver - dec->fix_ver) > FIXED_CTX_MAX_JUMP;
  }
  if (channels > ALEC_FIXED_MAX_CHANNELS)
    return ALEC_ECHANNELS;
  if (rc < 0)
    return rc;

  const uint8_t *bmp = frame + ALEC_FIXED_HEADER_SIZE;
  size_t total = ALEC_FIXED_HEADER_SIZE + bm;
  int all_raw = 1;
  unsigned full = channels / 4, tail = channels % 4;
  for (unsigned k = 0; k < full; k++) {
    total += fix_bytes[bmp[k]];
    all_raw &= bmp[k] == 0xFFu;
  }
  if (tail) {
    /* Codes beyond the last channel are ignored, as the reference does. */
    unsigned mask = (1u << (2 * tail)) - 1u, b = bmp[full] & mask;
    total += fix_bytes[b];
    all_raw &= b == mask;
  }
  if (len < total)
    return ALEC_ETRUNC;

  /* A duplicate (diff 0) is observed twice by the reference: its state no
   * longer matches the emitter's. */
  pl.desync = pl.gap > 0 || mismatch || (dec->fix_has && diff == 0);
  pl.resync = !strict(dec) && !keyframe && mismatch && all_raw;
  pl.reset = !keyframe && (pl.gap > 0 || mismatch);

  const uint8_t *p = bmp + bm;
  size_t unreliable = 0;
  uint32_t scale = ctx->cfg.scale;
  size_t fresh = 0;
  /* Each channel's entry, looked up once: the commit reuses them unless it
   * creates or resets sources (which may move the entries). */
  ctx_src *ent[ALEC_FIXED_MAX_CHANNELS];
  for (unsigned i = 0; i < channels; i++) {
    unsigned code = (bmp[i / 4] >> (2 * (i % 4))) & 3u;
    ctx_src *e = ctx_find_hint(ctx, i + 1, i);
    ent[i] = e;
    fresh += !e;
    double v;
    uint8_t enc;
    switch (code) {
    case ALEC_FIX_REPEATED:
      if (!e)
        return ALEC_ENOPREV;
      v = e->last_value;
      enc = ALEC_ENC_REPEATED;
      break;
    case ALEC_FIX_DELTA8:
      if (!e || !ctx_has_pred(e))
        return ALEC_ENOPRED;
      v = delta(ctx_pred(ctx, e), (int8_t)p[0], scale);
      p += 1;
      enc = ALEC_ENC_DELTA8;
      break;
    case ALEC_FIX_DELTA16:
      if (!e || !ctx_has_pred(e))
        return ALEC_ENOPRED;
      v = delta(ctx_pred(ctx, e), (int16_t)alec_rd_be16(p), scale);
      p += 2;
      enc = ALEC_ENC_DELTA16;
      break;
    default:
      v = (double)wire_f32_from_bits(alec_rd_be32(p));
      p += 4;
      enc = ALEC_ENC_RAW32;
      break;
    }
    out[i].id = i;
    out[i].value = v;
    out[i].encoding = enc;
    out[i].flags = value_flags(e ? e->flags : 0, enc, v, pl.desync);
  }

  /* Sources the commit creates: after a reset all n are new. */
  rc = 0;
  if (pl.reset) {
    size_t have = ctx->n_src;
    if (channels > ctx->cfg.max_sources)
      return ALEC_ENOSPC;
    if (channels > have)
      rc = alec_context_reserve(ctx, channels - have);
  } else if (fresh) {
    rc = alec_context_reserve(ctx, fresh);
  }
  if (rc < 0)
    return rc;

  /* ---- commit: nothing below can fail ---- */
  dec->fix_has = 1;
  dec->fix_seq = seq;
  dec->fix_ver = ver;
  if (pl.reset)
    alec_context_reset_to_baseline(ctx);
  if (!pl.reset && !fresh && ctx_batch_ok(ctx, channels)) {
    /* The usual frame: every entry known and kept, no evolve within it. */
    for (unsigned i = 0; i < channels; i++) {
      ctx_update_entry(ctx, ent[i], out[i].value, !(out[i].flags & ALEC_VALUE_NONFINITE));
      unreliable += (out[i].flags & ALEC_VALUE_UNRELIABLE) != 0;
    }
    ctx_count_batch(ctx, channels);
  } else {
    int direct = !pl.reset && !fresh;
    for (unsigned i = 0; i < channels; i++) {
      if (direct)
        ctx_observe_entry(ctx, ent[i], out[i].value);
      else
        observe_id(ctx, i + 1, out[i].value);
      unreliable += (out[i].flags & ALEC_VALUE_UNRELIABLE) != 0;
    }
  }
  if (pl.resync)
    for (unsigned i = 0; i < channels; i++)
      out[i].flags |= ALEC_VALUE_RESYNC;
  if (pl.desync && !pl.resync)
    alec_context_mark_all(ctx, ALEC_SRC_DESYNC);

  if (info) {
    info->priority = ALEC_P3;
    info->msg_type = ALEC_MSG_FIXED;
    info->sequence = seq;
    info->ctx_version = ver;
    info->keyframe = keyframe;
    info->resync = pl.resync;
    info->reset = pl.reset;
    info->context_mismatch = mismatch;
    info->gap = pl.gap;
    info->frame_len = total;
    info->n_values = channels;
    info->n_unreliable = unreliable;
  }
  return (int)channels;
}

__attribute__((noinline)) static int decode_fixed_noinfo(alec_decoder *dec, unsigned channels,
                                                         const uint8_t *frame, size_t len,
                                                         alec_value *out, size_t cap) {
  return decode_fixed(dec, channels, frame, len, out, cap, NULL);
}

/* ----------------------------------------------------------- dispatch */

__attribute__((always_inline)) static inline int legacy_entry(alec_decoder *dec, alec_format format, const uint8_t *frame, size_t len,
                        alec_value *out, size_t cap, alec_frame_info *info) {
  if (format != ALEC_FORMAT_SINGLE_XXH32) {
    int rc = legacy_fast(dec, format, frame, len, out, cap, info);
    if (rc > 0)
      return rc - 1;
  }
  /* Without info, six arguments: a tail call, so the fast path needs no
   * frame and no saved registers of its own. */
  if (!info)
    return decode_legacy_noinfo(dec, format, frame, len, out, cap);
  return decode_legacy(dec, format, frame, len, out, cap, info);
}

/* The usual fixed frame: the next sequence number, no context-version jump
 * (so no gap, reset or resync), the whole frame present; fixed_fast
 * decides the rest. Anything else goes to decode_fixed, which checks in the
 * reference's order and reports the errors. */
__attribute__((always_inline)) static inline int fixed_entry(alec_decoder *dec, unsigned channels, const uint8_t *frame, size_t len,
                       alec_value *out, size_t cap, alec_frame_info *info) {
  if (channels - 1u < ALEC_FIXED_MAX_CHANNELS && cap >= channels && dec->fix_has) {
    size_t bm = ((size_t)channels * 2 + 7) / 8;
    uint8_t m0 = len >= ALEC_FIXED_HEADER_SIZE + bm ? frame[0] : 0;
    if (m0 == ALEC_FIXED_DATA || m0 == ALEC_FIXED_KEYFRAME) {
      int keyframe = m0 == ALEC_FIXED_KEYFRAME;
      uint16_t seq = alec_rd_be16(frame + 1), ver = alec_rd_be16(frame + 3);
      const uint8_t *bmp = frame + ALEC_FIXED_HEADER_SIZE;
      size_t total = ALEC_FIXED_HEADER_SIZE + bm, unreliable;
      unsigned full = channels / 4, tail = channels % 4;
      for (unsigned k = 0; k < full; k++)
        total += fix_bytes[bmp[k]];
      if (tail)
        total += fix_bytes[bmp[full] & ((1u << (2 * tail)) - 1u)];
      if (seq == (uint16_t)(dec->fix_seq + 1u) &&
          (keyframe || (uint16_t)(ver - dec->fix_ver) <= FIXED_CTX_MAX_JUMP) && len >= total &&
          fixed_fast(&dec->ctx, channels, bmp, bmp + bm, out, &unreliable)) {
        dec->fix_seq = seq;
        dec->fix_ver = ver;
        if (info) {
          info->priority = ALEC_P3;
          info->msg_type = ALEC_MSG_FIXED;
          info->sequence = seq;
          info->ctx_version = ver;
          info->keyframe = keyframe;
          info->frame_len = total;
          info->n_values = channels;
          info->n_unreliable = unreliable;
        }
        return (int)channels;
      }
    }
  }
  if (!info)
    return decode_fixed_noinfo(dec, channels, frame, len, out, cap);
  return decode_fixed(dec, channels, frame, len, out, cap, info);
}

/* Ghost frame (spec 4.9, reference 1.3.10): the emitter built a fixed frame
 * but sent something else. Its encoder still stamped that frame with its
 * context version, took the next sequence number and observed the values, so
 * the receiver mirrors all three; the next real frame then follows with no
 * gap and no version jump. */
int alec_decoder_feed_values(alec_decoder *dec, const double *values, unsigned n) {
  if (!dec || !values || n == 0 || n > ALEC_FIXED_MAX_CHANNELS)
    return ALEC_EINVAL;
  alec_context *ctx = &dec->ctx;
  size_t fresh = 0;
  for (unsigned i = 0; i < n; i++)
    fresh += !ctx_find_hint(ctx, i + 1, i);
  /* Reserve first so that a refusal leaves the decoder unchanged. */
  if (fresh) {
    int rc = alec_context_reserve(ctx, fresh);
    if (rc < 0)
      return rc;
  }
  uint16_t wire_ver = (uint16_t)(ctx->version & 0xFFFFu);
  /* 0xFFFF + 1 wraps to 0: a fresh decoder expects the ghost to be frame 0. */
  uint16_t wire_seq = (uint16_t)((dec->fix_has ? dec->fix_seq : 0xFFFFu) + 1u);
  dec->fix_has = 1;
  dec->fix_seq = wire_seq;
  dec->fix_ver = wire_ver;
  for (unsigned i = 0; i < n; i++)
    observe_id(ctx, i + 1, values[i]);
  return 0;
}

/* With frame info: cleared first, and again when the frame is refused. */
__attribute__((noinline)) static int decode_info(alec_decoder *dec, alec_format format,
                                                 unsigned channels, const uint8_t *frame,
                                                 size_t len, alec_value *out, size_t cap,
                                                 alec_frame_info *info) {
  memset(info, 0, sizeof *info);
  info->format = format;
  int rc;
  switch (format) {
  case ALEC_FORMAT_SINGLE:
  case ALEC_FORMAT_SINGLE_XXH32:
  case ALEC_FORMAT_MULTI:
    rc = legacy_entry(dec, format, frame, len, out, cap, info);
    break;
  case ALEC_FORMAT_FIXED:
    rc = fixed_entry(dec, channels, frame, len, out, cap, info);
    break;
  default:
    return ALEC_EINVAL;
  }
  if (rc < 0) {
    memset(info, 0, sizeof *info);
    info->format = format;
  }
  return rc;
}

/* The three hot paths without frame info, each on its own. Their
 * parameters are alec_decoder_decode's first seven, in place, so that it
 * reaches them with a bare jump (no argument moved). */
#define HOT_ARGS                                                                             \
  alec_decoder *dec, alec_format format, unsigned channels, const uint8_t *frame, size_t len, \
      alec_value *out, size_t cap
/* noipa: GCC would otherwise drop the unused parameters, and the jump
 * would move the others. */
#if defined(__GNUC__) && !defined(__clang__)
#define HOT_FN __attribute__((noinline, noipa)) static int
#else
#define HOT_FN __attribute__((noinline)) static int
#endif
HOT_FN single_hot(HOT_ARGS) {
  (void)format;
  (void)channels;
  return legacy_entry(dec, ALEC_FORMAT_SINGLE, frame, len, out, cap, NULL);
}

HOT_FN multi_hot(HOT_ARGS) {
  (void)format;
  (void)channels;
  return legacy_entry(dec, ALEC_FORMAT_MULTI, frame, len, out, cap, NULL);
}

HOT_FN fixed_hot(HOT_ARGS) {
  (void)format;
  return fixed_entry(dec, channels, frame, len, out, cap, NULL);
}
#undef HOT_ARGS
#undef HOT_FN

/* A NULL frame or frame info asked for: off the hot path. */
__attribute__((noinline)) static int decode_other(alec_decoder *dec, alec_format format,
                                                  unsigned channels, const uint8_t *frame,
                                                  size_t len, alec_value *out, size_t cap,
                                                  alec_frame_info *info) {
  if (!frame) {
    if (len)
      return ALEC_EINVAL;
    frame = (const uint8_t *)"";
  }
  if (info)
    return decode_info(dec, format, channels, frame, len, out, cap, info);
  switch (format) {
  case ALEC_FORMAT_SINGLE:
  case ALEC_FORMAT_SINGLE_XXH32:
  case ALEC_FORMAT_MULTI:
    return legacy_entry(dec, format, frame, len, out, cap, NULL);
  case ALEC_FORMAT_FIXED:
    return fixed_entry(dec, channels, frame, len, out, cap, NULL);
  default:
    return ALEC_EINVAL;
  }
}

int alec_decoder_decode(alec_decoder *dec, alec_format format, unsigned channels,
                        const uint8_t *frame, size_t len, alec_value *out, size_t cap,
                        alec_frame_info *info) {
  /* The same refusals (all ALEC_EINVAL) as one condition would give, in an
   * order that costs the valid call one test each. */
  if (!dec || (!out && cap))
    return ALEC_EINVAL;
  if (!frame || info)
    return decode_other(dec, format, channels, frame, len, out, cap, info);
  /* Tail calls: no frame of our own on the hot path, and one function per
   * format, so that a single frame does not set up the multi path's 2 KiB
   * of entry pointers nor save the registers the fixed loop needs. */
  switch (format) {
  case ALEC_FORMAT_SINGLE:
    return single_hot(dec, format, channels, frame, len, out, cap);
  case ALEC_FORMAT_MULTI:
    return multi_hot(dec, format, channels, frame, len, out, cap);
  case ALEC_FORMAT_SINGLE_XXH32:
    return decode_legacy_noinfo(dec, format, frame, len, out, cap);
  case ALEC_FORMAT_FIXED:
    return fixed_hot(dec, format, channels, frame, len, out, cap);
  default:
    return ALEC_EINVAL;
  }
}

/* ----------------------------------------------------------- persistence */

#define ALDX_FORMAT 1u
/* magic, fmt, flags, window, leg_has, leg_seq, fix_has, fix_seq, fix_ver, ctx_len */
#define ALDX_HEAD (4 + 4 + 4 + 2 + 1 + 2 + 1 + 2 + 2 + 4)
#define ALCX_MIN 36 /* ALCX up to and including its sanitize field */

/* The embedded ALCX blob carries its own CRC over all of its bytes, so the
 * trailer covers our header plus that CRC: every byte is protected without
 * hashing the context twice. The caller guarantees end >= ALDX_HEAD + 4. */
static uint32_t aldx_crc(const uint8_t *buf, size_t end) {
  uint8_t tmp[ALDX_HEAD + 4];
  memcpy(tmp, buf, ALDX_HEAD);
  memcpy(tmp + ALDX_HEAD, buf + end - 4, 4);
  return alec_crc32(0, tmp, sizeof tmp);
}

long alec_decoder_save(const alec_decoder *dec, uint8_t *out, size_t cap) {
  if (!dec)
    return ALEC_EINVAL;
  long clen = alec_context_save(&dec->ctx, NULL, 0);
  if (clen < 0)
    return clen;
  size_t need = ALDX_HEAD + (size_t)clen + 4;
  if (!out)
    return (long)need;
  if (cap < need)
    return ALEC_EBUFSIZE;
  memcpy(out, "ALDX", 4);
  alec_wr_le32(out + 4, ALDX_FORMAT);
  alec_wr_le32(out + 8, (dec->strict ? (uint32_t)ALEC_DECODER_STRICT_REFERENCE : 0u) |
                       (dec->ctx.no_stats ? 0u : (uint32_t)ALEC_DECODER_STATISTICS));
  alec_wr_le16(out + 12, dec->replay_window);
  out[14] = (uint8_t)(dec->leg_has ? 1 : 0);
  alec_wr_le16(out + 15, dec->leg_seq);
  out[17] = (uint8_t)(dec->fix_has ? 1 : 0);
  alec_wr_le16(out + 18, dec->fix_seq);
  alec_wr_le16(out + 20, dec->fix_ver);
  alec_wr_le32(out + 22, (uint32_t)clen);
  long w = alec_context_save(&dec->ctx, out + ALDX_HEAD, (size_t)clen);
  if (w != clen)
    return w < 0 ? w : ALEC_EINVAL;
  size_t off = ALDX_HEAD + (size_t)clen;
  alec_wr_le32(out + off, aldx_crc(out, off));
  return (long)(off + 4);
}

int alec_decoder_load(alec_decoder *dec, const uint8_t *buf, size_t len) {
  if (!dec || !buf)
    return ALEC_EINVAL;
  if (len < ALDX_HEAD + ALCX_MIN + 4 || memcmp(buf, "ALDX", 4) != 0)
    return ALEC_ECORRUPT;
  size_t end = len - 4;
  if (aldx_crc(buf, end) != alec_rd_le32(buf + end))
    return ALEC_ECORRUPT;
  if (alec_rd_le32(buf + 4) != ALDX_FORMAT)
    return ALEC_EVERSION;
  uint32_t flags = alec_rd_le32(buf + 8);
  uint16_t window = alec_rd_le16(buf + 12);
  if (buf[14] > 1 || buf[17] > 1)
    return ALEC_ECORRUPT;
  if (flags & ~(unsigned)DECODER_FLAGS || window > REPLAY_WINDOW_MAX)
    return ALEC_ECORRUPT;
  uint32_t clen = alec_rd_le32(buf + 22);
  if (clen != end - ALDX_HEAD)
    return ALEC_ECORRUPT;
  /* Strict mode needs the reference's NaN handling (ALCX offset 32:
   * sanitize flag); refuse the contradiction before anything changes. */
  if ((flags & ALEC_DECODER_STRICT_REFERENCE) && alec_rd_le32(buf + ALDX_HEAD + 32) != 0)
    return ALEC_ECORRUPT;
  /* The context load is atomic and the last thing that can fail. */
  int rc = alec_context_load(&dec->ctx, buf + ALDX_HEAD, clen);
  if (rc < 0)
    return rc;
  dec->strict = (flags & ALEC_DECODER_STRICT_REFERENCE) ? 1 : 0;
  /* As strict mode, the statistics setting travels with the state. A state
   * saved before the flag existed loads without them: its mean and sum of
   * squared differences stay as saved (frozen) until a decoder with
   * ALEC_DECODER_STATISTICS loads it. */
  dec->ctx.no_stats = (flags & ALEC_DECODER_STATISTICS) ? 0 : 1;
  dec->replay_window = window;
  dec->leg_has = buf[14];
  dec->leg_seq = alec_rd_le16(buf + 15);
  dec->fix_has = buf[17];
  dec->fix_seq = alec_rd_le16(buf + 18);
  dec->fix_ver = alec_rd_le16(buf + 20);
  return 0;
}
