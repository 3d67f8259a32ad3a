/* SPDX-License-Identifier: MIT */
/* The emitter: legacy single (L1), multi adaptive (L3) and fixed-channel
 * frames, in reference-compatible or closed-loop mode (encoder.h).
 *
 * Every frame is first built in a local buffer against the context as it is,
 * and only once it fits the caller's buffer does any state move (sequence,
 * keyframe counters, context). That is what makes each call atomic. */

#include "alec/encoder.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/error.h"
#include "alec/frame.h"
#include "alec/wire.h"
#include "context_int.h"
#include "wire_int.h"

#define PROTOCOL_VERSION 1
#define MULTI_MAX_CHANNELS 255
/* 10-byte header + 5-byte varint + encoding byte + 8 value bytes + xxh32. */
#define SINGLE_FRAME_MAX (ALEC_HEADER_SIZE + ALEC_VARINT_MAX + 1 + 8 + ALEC_CHECKSUM_SIZE)
#define MULTI_FRAME_MAX (ALEC_HEADER_SIZE + 3 + MULTI_MAX_CHANNELS * 10)
#define FIXED_FRAME_MAX (ALEC_FIXED_HEADER_SIZE + 16 + ALEC_FIXED_MAX_CHANNELS * 4)
/* A closed-loop fixed resync advances the context version by more than the
 * receiver's 256 tolerance so that it sees a context mismatch and resets. */
#define FIXED_RESYNC_VERSION_JUMP 257u

_Static_assert(MULTI_FRAME_MAX <= ALEC_FRAME_MAX, "multi frame bound");
_Static_assert(FIXED_FRAME_MAX <= ALEC_FRAME_MAX, "fixed frame bound");

struct alec_encoder {
  alec_context *ctx;
  alec_classifier cls;
  int reference_compat;
  int checksum;
  uint32_t keyframe_interval;
  uint16_t sequence;
  /* Fixed frames since the last keyframe (spec 6.1). */
  uint32_t msk;
  /* Closed-loop multi frames since the last multi resync. */
  uint32_t multi_since_resync;
  int force_keyframe;
};

/* One value as it goes on the wire, with what the receiver will decode. */
typedef struct {
  uint8_t encoding; /* legacy ALEC_ENC_* (fixed codes are mapped at write time) */
  uint8_t len;      /* value bytes */
  uint8_t bytes[8];
  double recon;
} value_choice;

static void set_raw64(value_choice *c, double v) {
  c->encoding = ALEC_ENC_RAW64;
  c->len = 8;
  alec_wr_be64(c->bytes, alec_f64_bits(v));
  c->recon = v;
}

static void set_raw32(value_choice *c, double v) {
  float f = wire_f64_to_f32(v);
  c->encoding = ALEC_ENC_RAW32;
  c->len = 4;
  alec_wr_be32(c->bytes, wire_f32_bits(f));
  c->recon = (double)f;
}

static void set_repeated(value_choice *c, double last) {
  c->encoding = ALEC_ENC_REPEATED;
  c->len = 0;
  c->recon = last;
}

/* The raw tail of choose_encoding (spec 3.1 steps 3-4). */
static void choose_raw(value_choice *c, double v) {
  float f = wire_f64_to_f32(v);
  if (fabs((double)f - v) < 0.0001)
    set_raw32(c, v);
  else
    set_raw64(c, v);
}

/* Writes the smallest delta of at most max_bytes that holds s; 0 if none.
 * The reconstruction uses the decoder's exact expression (spec 3.3). */
static int try_delta(value_choice *c, int64_t s, double pred, double scale, int max_bytes,
                     int want_recon) {
  if (s >= INT8_MIN && s <= INT8_MAX) {
    c->encoding = ALEC_ENC_DELTA8;
    c->len = 1;
    c->bytes[0] = (uint8_t)((uint64_t)s & 0xFFu);
  } else if (s >= INT16_MIN && s <= INT16_MAX) {
    c->encoding = ALEC_ENC_DELTA16;
    c->len = 2;
    alec_wr_be16(c->bytes, (uint16_t)((uint64_t)s & 0xFFFFu));
  } else if (max_bytes >= 4 && s >= INT32_MIN && s <= INT32_MAX) {
    c->encoding = ALEC_ENC_DELTA32;
    c->len = 4;
    alec_wr_be32(c->bytes, (uint32_t)((uint64_t)s & 0xFFFFFFFFu));
  } else {
    return 0;
  }
  /* Only the closed loop reads it: the reference-compatible encoder
   * observes its inputs, and this division is most of a delta's cost. */
  if (want_recon)
    c->recon = pred + ((double)s / scale);
  return 1;
}

/* How close a value must be to the receiver's last value to travel as
 * Repeated. The reference uses DBL_EPSILON. In closed loop the last value is
 * a reconstruction that differs from the raw input by up to 0.5/scale, so an
 * unchanged input would never be a repeat again; accepting anything the
 * receiver's last value already represents within the delta error bound keeps
 * that bound and sends 0 bytes instead of a Delta8. */
static double repeat_tolerance(const alec_encoder *enc) {
  if (enc->reference_compat)
    return DBL_EPSILON;
  return 0.5 / (double)enc->ctx->cfg.scale;
}

/* Reference choose_encoding (spec 3.1), used by L1 and L3. */
static void choose_legacy(const alec_context *ctx, uint32_t sid, double v, double rep_tol,
                          value_choice *c) {
  /* The source's entry, looked up once: it exists iff last_value would
   * answer, and has a prediction iff predict would. */
  const ctx_src *e = ctx_find(ctx, sid);
  if (e && fabs(v - e->last_value) < rep_tol) {
    set_repeated(c, e->last_value);
    return;
  }
  if (e && ctx_has_pred(e)) {
    double pred = ctx_pred(ctx, e);
    double scale = (double)ctx->cfg.scale;
    if (try_delta(c, wire_round_q((v - pred) * scale), pred, scale, 4, 1))
      return;
  }
  choose_raw(c, v);
}

/* Fixed-frame choice (spec 3.2): no Delta32, no Raw64, no precision check. */
static void choose_fixed(const alec_context *ctx, const ctx_src *e, double v, int keyframe,
                         double rep_tol, int want_recon, value_choice *c) {
  if (!isfinite(v) || keyframe) {
    set_raw32(c, v);
    return;
  }
  if (e && fabs(v - e->last_value) < rep_tol) {
    set_repeated(c, e->last_value);
    return;
  }
  if (e && ctx_has_pred(e)) {
    double pred = ctx_pred(ctx, e);
    double scale = (double)ctx->cfg.scale;
    if (try_delta(c, wire_round_q((v - pred) * scale), pred, scale, 2, want_recon))
      return;
  }
  set_raw32(c, v);
}

static uint8_t fixed_code(uint8_t encoding) {
  switch (encoding) {
  case ALEC_ENC_REPEATED:
    return ALEC_FIX_REPEATED;
  case ALEC_ENC_DELTA8:
    return ALEC_FIX_DELTA8;
  case ALEC_ENC_DELTA16:
    return ALEC_FIX_DELTA16;
  default:
    return ALEC_FIX_RAW32;
  }
}

static int source_exists(const alec_context *ctx, uint32_t sid) {
  return ctx_find(ctx, sid) != NULL;
}

/* Makes room (and memory) for every source in sids (distinct) that does not
 * exist yet, so that the observations after a frame has been handed out
 * cannot fail half way. */
static int reserve_for(alec_context *ctx, const uint32_t *sids, size_t n) {
  size_t missing = 0;
  for (size_t i = 0; i < n; i++)
    if (!source_exists(ctx, sids[i]))
      missing++;
  return missing ? alec_context_reserve(ctx, missing) : 0;
}

/* Closed loop: a source whose receiver state may differ from ours (it saw a
 * non-finite value, or a keyframe was requested) or whose periodic resync is
 * due. A source we never observed needs none: its first value goes raw. */
static int needs_resync(const alec_encoder *enc, uint32_t sid) {
  const ctx_src *e = ctx_find(enc->ctx, sid);
  if (!e)
    return 0;
  if (e->flags & (ALEC_SRC_POISONED | ALEC_SRC_DESYNC))
    return 1;
  return enc->keyframe_interval > 0 && e->count >= enc->keyframe_interval;
}

/* Closed-loop observation of what the receiver decoded. The context marks
 * non-finite values poisoned itself when it sanitizes; when configured not
 * to, we still need the mark to trigger the resync. */
static void observe_recon(alec_encoder *enc, uint32_t sid, double recon, int reset_first) {
  if (reset_first)
    alec_context_reset_source(enc->ctx, sid);
  if (alec_context_observe(enc->ctx, sid, recon) != 0)
    return; /* cannot fail: reserve_for() ran before the frame was committed */
  if (!isfinite(recon))
    alec_context_set_source_flags(enc->ctx, sid,
                                  alec_context_source_flags(enc->ctx, sid) | ALEC_SRC_POISONED);
}

static size_t write_header(const alec_encoder *enc, uint8_t msg_type, alec_priority prio,
                           uint64_t ts_ms, uint8_t *buf) {
  alec_header h;
  h.version = PROTOCOL_VERSION;
  h.msg_type = msg_type;
  h.priority = (uint8_t)prio;
  h.sequence = enc->sequence;
  h.timestamp = (uint32_t)(ts_ms / 1000u);
  h.ctx_version = alec_context_version(enc->ctx) & 0xFFFFFFu;
  alec_header_write(&h, buf);
  return ALEC_HEADER_SIZE;
}

static size_t put_value(uint8_t *p, const value_choice *c) {
  p[0] = c->encoding;
  memcpy(p + 1, c->bytes, c->len);
  return 1u + c->len;
}

void alec_encoder_config_init(alec_encoder_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof *cfg);
  alec_context_config_init(&cfg->ctx);
  alec_classifier_init(&cfg->classifier);
  cfg->reference_compat = 0;
  cfg->checksum = 0;
  cfg->keyframe_interval = 50;
}

int alec_encoder_new(alec_encoder **out, const alec_encoder_config *cfg) {
  if (out == NULL)
    return ALEC_EINVAL;
  *out = NULL;
  alec_encoder_config defaults;
  if (cfg == NULL) {
    alec_encoder_config_init(&defaults);
    cfg = &defaults;
  }
  if (cfg->classifier.n_critical > ALEC_CLASSIFIER_MAX_CRITICAL)
    return ALEC_EINVAL;
  alec_context_config cc = cfg->ctx;
  /* The reference's NaN poisoning is part of its frames (spec 4.7): a
   * reference-compatible encoder must poison exactly like it. */
  if (cfg->reference_compat)
    cc.sanitize_nonfinite = 0;
  int rc = alec_context_config_validate(&cc);
  if (rc < 0)
    return rc;
  alec_encoder *enc = calloc(1, sizeof *enc);
  if (enc == NULL)
    return ALEC_ENOMEM;
  rc = alec_context_new(&enc->ctx, &cc);
  if (rc < 0) {
    free(enc);
    return rc;
  }
  enc->cls = cfg->classifier;
  enc->reference_compat = cfg->reference_compat ? 1 : 0;
  enc->checksum = cfg->checksum ? 1 : 0;
  enc->keyframe_interval = cfg->keyframe_interval;
  *out = enc;
  return 0;
}

void alec_encoder_free(alec_encoder *enc) {
  if (enc == NULL)
    return;
  alec_context_free(enc->ctx);
  free(enc);
}

alec_context *alec_encoder_context(alec_encoder *enc) { return enc ? enc->ctx : NULL; }

uint16_t alec_encoder_sequence(const alec_encoder *enc) { return enc ? enc->sequence : 0; }

int alec_encode_single(alec_encoder *enc, uint32_t source_id, double value, uint64_t ts_ms,
                       uint8_t *out, size_t cap, alec_priority *prio) {
  if (enc == NULL || (out == NULL && cap > 0))
    return ALEC_EINVAL;
  int rc = reserve_for(enc->ctx, &source_id, 1);
  if (rc < 0)
    return rc;

  alec_priority p = alec_classify(&enc->cls, enc->ctx, source_id, value);
  value_choice c;
  int resync = 0;
  /* The reference sends non-finite values as Raw64 without trying anything
   * else (spec 3.1 precondition). */
  if (!isfinite(value)) {
    set_raw64(&c, value);
  } else if (!enc->reference_compat && needs_resync(enc, source_id)) {
    resync = 1;
    choose_raw(&c, value);
  } else {
    choose_legacy(enc->ctx, source_id, value, repeat_tolerance(enc), &c);
  }

  uint8_t buf[SINGLE_FRAME_MAX];
  size_t n = write_header(enc, resync ? ALEC_MSG_RESYNC : ALEC_MSG_DATA, p, ts_ms, buf);
  n += alec_varint_encode(source_id, buf + n);
  n += put_value(buf + n, &c);
  if (enc->checksum) {
    alec_wr_be32(buf + n, alec_checksum32(buf, n));
    n += ALEC_CHECKSUM_SIZE;
  }
  if (n > cap)
    return ALEC_EBUFSIZE;
  memcpy(out, buf, n);

  enc->sequence++;
  if (enc->reference_compat)
    (void)alec_context_observe(enc->ctx, source_id, value);
  else
    observe_recon(enc, source_id, c.recon, resync);
  if (prio != NULL)
    *prio = p;
  return (int)n;
}

int alec_encode_multi(alec_encoder *enc, const double *values, size_t n, uint64_t ts_ms,
                      uint8_t *out, size_t cap) {
  if (enc == NULL || (values == NULL && n > 0) || (out == NULL && cap > 0) ||
      n > MULTI_MAX_CHANNELS)
    return ALEC_EINVAL;

  uint8_t prio[MULTI_MAX_CHANNELS];
  uint32_t order[MULTI_MAX_CHANNELS]; /* channels in frame order */
  value_choice ch[MULTI_MAX_CHANNELS];
  size_t count = 0;
  int closed = !enc->reference_compat;
  int resync = 0;

  for (size_t i = 0; i < n; i++)
    prio[i] = (uint8_t)alec_classify(&enc->cls, enc->ctx, (uint32_t)i, values[i]);

  if (closed) {
    if (enc->keyframe_interval > 0 && enc->multi_since_resync >= enc->keyframe_interval)
      resync = 1;
    /* A channel still non-finite cannot be re-synchronised by this frame, so
     * it alone must not turn every frame into a full raw one. */
    for (size_t i = 0; i < n && !resync; i++)
      if (isfinite(values[i]) && needs_resync(enc, (uint32_t)i))
        resync = 1;
  }

  /* Header priority: the most urgent transmitted-by-rule channel, else P3
   * (even when only P4 channels made it in, spec 2.5 step 7). */
  alec_priority hprio = ALEC_P3;
  for (size_t i = 0; i < n; i++)
    if (prio[i] <= ALEC_P3 && prio[i] < hprio)
      hprio = (alec_priority)prio[i];

  uint8_t buf[MULTI_FRAME_MAX];
  size_t len = write_header(enc, resync ? ALEC_MSG_RESYNC : ALEC_MSG_DATA, hprio, ts_ms, buf);
  buf[len++] = 0x00; /* frame source id, always 0 */
  buf[len++] = ALEC_ENC_MULTI;
  size_t count_at = len++;

  if (resync) {
    /* Every channel raw, in input order: the receiver restarts each one from
     * exactly the value we restart ours from. */
    for (size_t i = 0; i < n; i++) {
      if (isfinite(values[i]))
        choose_raw(&ch[count], values[i]);
      else
        set_raw64(&ch[count], values[i]);
      order[count] = (uint32_t)i;
      buf[len++] = (uint8_t)i;
      len += put_value(buf + len, &ch[count]);
      count++;
    }
  } else {
    /* P1..P3 stable-sorted by priority (a bucket pass per priority keeps
     * input order within ties), with no size cap. */
    for (unsigned p = ALEC_P1; p <= ALEC_P3; p++) {
      for (size_t i = 0; i < n; i++) {
        if (prio[i] != p)
          continue;
        if (closed && !isfinite(values[i]))
          set_raw64(&ch[count], values[i]);
        else
          choose_legacy(enc->ctx, (uint32_t)i, values[i], repeat_tolerance(enc), &ch[count]);
        order[count] = (uint32_t)i;
        buf[len++] = (uint8_t)i;
        len += put_value(buf + len, &ch[count]);
        count++;
      }
    }
    /* P4 greedily, in input order, while the frame stays within the cap. */
    for (size_t i = 0; i < n; i++) {
      if (prio[i] != ALEC_P4)
        continue;
      value_choice c;
      if (closed && !isfinite(values[i]))
        set_raw64(&c, values[i]);
      else
        choose_legacy(enc->ctx, (uint32_t)i, values[i], repeat_tolerance(enc), &c);
      if (len + 2u + c.len > ALEC_MULTI_FRAME_CAP)
        continue;
      ch[count] = c;
      order[count] = (uint32_t)i;
      buf[len++] = (uint8_t)i;
      len += put_value(buf + len, &ch[count]);
      count++;
    }
  }
  buf[count_at] = (uint8_t)count;

  /* Sources that will be observed: all channels (reference), the frame's
   * channels (closed loop). */
  uint32_t all[MULTI_MAX_CHANNELS];
  const uint32_t *obs = order;
  size_t nobs = count;
  if (!closed) {
    for (size_t i = 0; i < n; i++)
      all[i] = (uint32_t)i;
    obs = all;
    nobs = n;
  }
  int rc = reserve_for(enc->ctx, obs, nobs);
  if (rc < 0)
    return rc;
  if (len > cap)
    return ALEC_EBUFSIZE;
  memcpy(out, buf, len);

  enc->sequence++;
  if (!closed) {
    /* Like the reference FFI: every raw input, dropped channels included. */
    for (size_t i = 0; i < n; i++)
      (void)alec_context_observe(enc->ctx, (uint32_t)i, values[i]);
  } else {
    for (size_t k = 0; k < count; k++)
      observe_recon(enc, order[k], ch[k].recon, resync);
    if (resync)
      enc->multi_since_resync = 1;
    else if (enc->multi_since_resync < UINT32_MAX)
      enc->multi_since_resync++;
  }
  return (int)len;
}

/* Reference mode, every channel's entry known, the frame built in the
 * caller's buffer (so nothing can fail) and no evolve within it: each
 * channel chosen as choose_fixed would, written and observed at once
 * (channel i reads and writes only entry i). Returns the frame length; the
 * caller counts the n observations. */
static size_t fixed_ref_fast(alec_context *ctx, ctx_src *const *ent, const double *values,
                             size_t n, int keyframe, double rep_tol, uint8_t *buf) {
  const double scale = (double)ctx->cfg.scale;
  const int sanitize = ctx->cfg.sanitize_nonfinite;
  const double alpha = ctx->cfg.ema_alpha, beta = 1.0 - alpha;
  size_t len = ALEC_FIXED_HEADER_SIZE + alec_fixed_bitmap_size((unsigned)n);
  uint8_t *bmp = buf + ALEC_FIXED_HEADER_SIZE;
  unsigned bits = 0;
  for (size_t i = 0; i < n; i++) {
    ctx_src *e = ent[i];
    const double v = values[i];
    const int fin = ctx_finite(v);
    unsigned code = ALEC_FIX_RAW32;
    if (fin && !keyframe) {
      if (fabs(v - e->last_value) < rep_tol) {
        code = ALEC_FIX_REPEATED;
      } else if (ctx_has_pred(e)) {
        int64_t q = wire_round_q((v - ctx_pred(ctx, e)) * scale);
        if (q >= INT8_MIN && q <= INT8_MAX) {
          code = ALEC_FIX_DELTA8;
          buf[len++] = (uint8_t)((uint64_t)q & 0xFFu);
        } else if (q >= INT16_MIN && q <= INT16_MAX) {
          code = ALEC_FIX_DELTA16;
          alec_wr_be16(buf + len, (uint16_t)((uint64_t)q & 0xFFFFu));
          len += 2;
        }
      }
    }
    if (code == ALEC_FIX_RAW32) {
      alec_wr_be32(buf + len, wire_f32_bits(wire_f64_to_f32(v)));
      len += 4;
    }
    bits |= code << (2 * (i % 4));
    if (i % 4 == 3 || i + 1 == n) {
      bmp[i / 4] = (uint8_t)bits;
      bits = 0;
    }
    ctx_update_entry_ab(e, v, fin, sanitize, alpha, beta, 1);
  }
  return len;
}

int alec_encode_fixed(alec_encoder *enc, const double *values, size_t n, uint8_t *out,
                      size_t cap) {
  if (enc == NULL || (out == NULL && cap > 0))
    return ALEC_EINVAL;
  if (n < 1 || n > ALEC_FIXED_MAX_CHANNELS)
    return ALEC_ECHANNELS;
  if (values == NULL)
    return ALEC_EINVAL;
  int closed = !enc->reference_compat;

  int keyframe = (enc->keyframe_interval > 0 && enc->msk >= enc->keyframe_interval) ||
                 enc->force_keyframe;
  if (closed)
    for (size_t i = 0; i < n && !keyframe; i++)
      if (isfinite(values[i]) && needs_resync(enc, (uint32_t)i + 1u))
        keyframe = 1;

  /* Channel i is source i + 1, normally at dense position i: each entry is
   * looked up once, here, after the reservation (which may move entries). */
  alec_context *ctx = enc->ctx;
  uint32_t sids[ALEC_FIXED_MAX_CHANNELS];
  ctx_src *ent[ALEC_FIXED_MAX_CHANNELS];
  size_t missing = 0;
  for (size_t i = 0; i < n; i++) {
    sids[i] = (uint32_t)i + 1u;
    ent[i] = ctx_find_hint(ctx, sids[i], (uint32_t)i);
    missing += !ent[i];
  }
  if (missing) {
    int rc = alec_context_reserve(ctx, missing);
    if (rc < 0)
      return rc;
    for (size_t i = 0; i < n; i++)
      ent[i] = ctx_find(ctx, sids[i]);
  }

  /* Closed loop: a keyframe is a plain 0xA1 frame whose context version
   * jumps past the receiver's tolerance, which makes both the reference
   * receiver and ours reset before observing its raw values. */
  uint32_t version = ctx->version;
  if (closed && keyframe)
    version += FIXED_RESYNC_VERSION_JUMP;

  /* Built in place when the caller's buffer holds the largest frame n
   * channels can make (nothing can fail after that), else locally. */
  uint8_t tmp[FIXED_FRAME_MAX];
  size_t bm = alec_fixed_bitmap_size((unsigned)n);
  uint8_t *buf = cap >= ALEC_FIXED_HEADER_SIZE + bm + 4 * n ? out : tmp;
  value_choice ch[ALEC_FIXED_MAX_CHANNELS];
  buf[0] = (keyframe && !closed) ? ALEC_FIXED_KEYFRAME : ALEC_FIXED_DATA;
  alec_wr_be16(buf + 1, enc->sequence);
  alec_wr_be16(buf + 3, (uint16_t)(version & 0xFFFFu));
  size_t len = ALEC_FIXED_HEADER_SIZE + bm;
  double rep_tol = repeat_tolerance(enc);
  unsigned bits = 0;
  if (!closed && !missing && buf == out && ctx_batch_ok(ctx, (uint32_t)n)) {
    len = fixed_ref_fast(ctx, ent, values, n, keyframe, rep_tol, buf);
    goto counters;
  }
  for (size_t i = 0; i < n; i++) {
    choose_fixed(ctx, ent[i], values[i], keyframe, rep_tol, closed, &ch[i]);
    /* Each bitmap byte written once its four codes (or the last) are known:
     * no memset call for a few bytes. */
    bits |= (unsigned)fixed_code(ch[i].encoding) << (2 * (i % 4));
    if (i % 4 == 3 || i + 1 == n) {
      buf[ALEC_FIXED_HEADER_SIZE + i / 4] = (uint8_t)bits;
      bits = 0;
    }
    /* Constant-size copies (0, 1, 2 or 4 bytes), no call. */
    switch (ch[i].len) {
    case 4:
      memcpy(buf + len, ch[i].bytes, 4);
      break;
    case 2:
      memcpy(buf + len, ch[i].bytes, 2);
      break;
    case 1:
      buf[len] = ch[i].bytes[0];
      break;
    default:
      break;
    }
    len += ch[i].len;
  }
  if (len > cap)
    return ALEC_EBUFSIZE;
  if (buf != out)
    memcpy(out, buf, len);

counters:
  enc->sequence++;
  if (keyframe) {
    enc->msk = 1;
    enc->force_keyframe = 0;
  } else if (enc->msk < UINT32_MAX) {
    enc->msk++;
  }
  if (!closed) {
    /* Entries that existed before the frame stay where they are while the
     * missing ones are appended (room was reserved). */
    if (buf == out && !missing && ctx_batch_ok(ctx, (uint32_t)n)) {
      ctx_count_batch(ctx, (uint32_t)n); /* entries updated by fixed_ref_fast */
    } else if (!missing && ctx_batch_ok(ctx, (uint32_t)n)) {
      /* The counters once per frame, as in the decoder's fast path. */
      const int sanitize = ctx->cfg.sanitize_nonfinite;
      const double alpha = ctx->cfg.ema_alpha, beta = 1.0 - alpha;
      for (size_t i = 0; i < n; i++)
        ctx_update_entry_ab(ent[i], values[i], ctx_finite(values[i]), sanitize, alpha, beta, 1);
      ctx_count_batch(ctx, (uint32_t)n);
    } else {
      for (size_t i = 0; i < n; i++) {
        if (ent[i])
          ctx_observe_entry(ctx, ent[i], values[i]);
        else
          (void)alec_context_observe(ctx, sids[i], values[i]);
      }
    }
  } else {
    if (keyframe) {
      alec_context_set_version(enc->ctx, version);
      alec_context_reset_to_baseline(enc->ctx);
    }
    for (size_t i = 0; i < n; i++)
      observe_recon(enc, sids[i], ch[i].recon, 0);
  }
  return (int)len;
}

void alec_encoder_force_keyframe(alec_encoder *enc) {
  if (enc == NULL)
    return;
  enc->force_keyframe = 1;
  /* Legacy closed loop re-synchronises per source: each one's next finite
   * value goes raw in a resync frame. */
  if (!enc->reference_compat)
    alec_context_mark_all(enc->ctx, ALEC_SRC_DESYNC);
}

int alec_encoder_downlink(alec_encoder *enc, const uint8_t *msg, size_t len) {
  if (enc == NULL || msg == NULL || len == 0)
    return ALEC_EINVAL;
  /* Bytes after the command are ignored, as by the reference. */
  if (msg[0] != ALEC_DOWNLINK_KEYFRAME)
    return ALEC_EINVAL;
  alec_encoder_force_keyframe(enc);
  return 0;
}

/* ---- persistence -------------------------------------------------------
 * "ALEX" | fmt u8 = 1 | flags u8 | sequence u16 | msk u32 |
 * multi_since_resync u32 | ctx_len u32 | context (alec_context_save) | crc32
 * All little-endian like the context blob; CRC-32/ISO-HDLC over everything
 * before it. */

#define SAVE_MAGIC "ALEX"
#define SAVE_FORMAT 1
#define SAVE_HEADER 20
#define SAVE_OVERHEAD (SAVE_HEADER + 4)
#define SAVE_F_FORCE 0x01u
#define SAVE_F_REFERENCE 0x02u


long alec_encoder_save(const alec_encoder *enc, uint8_t *out, size_t cap) {
  if (enc == NULL)
    return ALEC_EINVAL;
  long clen = alec_context_save(enc->ctx, NULL, 0);
  if (clen < 0)
    return clen;
  if ((unsigned long)clen > UINT32_MAX - SAVE_OVERHEAD)
    return ALEC_ERANGE;
  size_t total = (size_t)clen + SAVE_OVERHEAD;
  if (out == NULL)
    return (long)total;
  if (cap < total)
    return ALEC_EBUFSIZE;
  memcpy(out, SAVE_MAGIC, 4);
  out[4] = SAVE_FORMAT;
  out[5] = (uint8_t)((enc->force_keyframe ? SAVE_F_FORCE : 0u) |
                     (enc->reference_compat ? SAVE_F_REFERENCE : 0u));
  alec_wr_le16(out + 6, enc->sequence);
  alec_wr_le32(out + 8, enc->msk);
  alec_wr_le32(out + 12, enc->multi_since_resync);
  alec_wr_le32(out + 16, (uint32_t)clen);
  long w = alec_context_save(enc->ctx, out + SAVE_HEADER, (size_t)clen);
  if (w < 0)
    return w;
  if (w != clen)
    return ALEC_ECORRUPT;
  alec_wr_le32(out + SAVE_HEADER + clen, alec_crc32(0, out, SAVE_HEADER + (size_t)clen));
  return (long)total;
}

int alec_encoder_load(alec_encoder *enc, const uint8_t *buf, size_t len) {
  if (enc == NULL || buf == NULL)
    return ALEC_EINVAL;
  if (len < SAVE_OVERHEAD || memcmp(buf, SAVE_MAGIC, 4) != 0)
    return ALEC_ECORRUPT;
  if (alec_rd_le32(buf + len - 4) != alec_crc32(0, buf, len - 4))
    return ALEC_ECORRUPT;
  if (buf[4] != SAVE_FORMAT)
    return ALEC_EVERSION;
  uint8_t flags = buf[5];
  if (flags & ~(SAVE_F_FORCE | SAVE_F_REFERENCE))
    return ALEC_ECORRUPT;
  if (alec_rd_le32(buf + 16) != len - SAVE_OVERHEAD)
    return ALEC_ECORRUPT;
  /* The two modes keep different things in the context (raw inputs vs the
   * receiver's reconstructions); mixing them would desynchronise silently. */
  if (((flags & SAVE_F_REFERENCE) != 0) != (enc->reference_compat != 0))
    return ALEC_EINVAL;
  int rc = alec_context_load(enc->ctx, buf + SAVE_HEADER, len - SAVE_OVERHEAD);
  if (rc < 0)
    return rc;
  enc->force_keyframe = (flags & SAVE_F_FORCE) != 0;
  enc->sequence = alec_rd_le16(buf + 6);
  enc->msk = alec_rd_le32(buf + 8);
  enc->multi_since_resync = alec_rd_le32(buf + 12);
  return 0;
}
