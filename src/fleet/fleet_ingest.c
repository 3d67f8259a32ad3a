/* SPDX-License-Identifier: MIT */
/* Fleet module: per-frame ingest (decode, channels, values, recurring-value
 * learner). */
#include "fleet_int.h"

/* ---------------------------------------------------------------- process */

static void count_error(alec_fleet *f, emitter *e, int err) {
  unsigned k = (unsigned)(-err);
  f->st.decode_errors++;
  if (k < ALEC_FLEET_NERRORS) f->st.errors[k]++;
  if (err == ALEC_EREPLAY) f->st.replays++;
  if (!e) {
    f->st.unknown_errors++;
    return;
  }
  e->decode_errors++;
  if (err == ALEC_EREPLAY) e->replays++;
  if (!e->errors) e->errors = calloc(ALEC_FLEET_NERRORS, sizeof *e->errors);
  if (e->errors && k < ALEC_FLEET_NERRORS && e->errors[k] < UINT32_MAX) e->errors[k]++;
}

static fchan *chan_get(alec_fleet *f, emitter *e, uint32_t id, unsigned hint) {
  fchan *ch = chans(e);
  /* Fixed frames put channel i at position i: try that slot first. */
  if (hint < e->n_ch && ch[hint].id == id) return &ch[hint];
  for (unsigned i = 0; i < e->n_ch; i++)
    if (ch[i].id == id) return &ch[i];
  if (e->n_ch >= f->cfg.max_channels) return NULL;
  if (e->n_ch == INLINE_CH || (e->xch && e->n_ch == e->cap_ch)) {
    unsigned nc = e->n_ch * 2u;
    if (nc > f->cfg.max_channels) nc = f->cfg.max_channels;
    fchan *n = realloc(e->xch, (size_t)nc * sizeof *n);
    if (!n) return NULL;
    if (!e->xch) memcpy(n, e->inl, sizeof e->inl);
    e->xch = n;
    e->cap_ch = (uint16_t)nc;
    ch = n;
  }
  fchan *c = &ch[e->n_ch++];
  memset(c, 0, sizeof *c);
  c->id = id;
  c->gc = alec_fleet__gc_lookup(f, e->group, id);
  if (c->gc != NONE &&
      alec_fleet__gc_add_member(f, c->gc, REF(e - f->em, e->n_ch - 1u)) != 0)
    f->members_dirty = 1; /* the rebuild tries again */
  return c;
}

/* Recurring-value counter: PAT_SLOTS slots as PAT_SETS sets of PAT_WAYS,
 * so a value costs one hash and PAT_WAYS compares. A slot that reached
 * pattern_min_count is learned and protected until it has not recurred for
 * PAT_EXPIRE values; otherwise the rarer (then older) way is replaced. */
#define PAT_WAYS 2
#define PAT_SETS (PAT_SLOTS / PAT_WAYS)

static void learn(const alec_fleet *f, emitter *e, double v) {
  unsigned minc = f->cfg.pattern_min_count;
  if (minc == 0) return;
  /* Delta-decoded values carry the prediction's rounding noise (42.0 comes
   * back as 42.000000000000007): recurrence is judged at the codec's own
   * resolution, 1/scale, which is all the wire promises anyway. */
  double scale = (double)f->cfg.decoder.ctx.scale;
  double q = v * scale;
  if (fabs(q) < 4.0e15) v = (double)(int64_t)(q + (q >= 0 ? 0.5 : -0.5)) / scale;
  if (v == 0.0) v = 0.0; /* one pattern for +0 and -0 */
  uint64_t bits = alec_f64_bits(v);
  uint32_t now = ++e->pat_clock;
  /* Unkeyed on purpose: the sender chooses these values, but the sets are
   * this emitter's own and bounded, so colliding values only evict its own
   * patterns, and the keyed hash would cost more than the set it indexes. */
  pat_slot *set = &e->pat[(mix64(bits) >> 32) % PAT_SETS * PAT_WAYS];
  int victim = -1;
  uint32_t vcount = UINT32_MAX, vlast = UINT32_MAX;
  for (int i = 0; i < PAT_WAYS; i++) {
    pat_slot *p = &set[i];
    if (p->count && p->bits == bits) {
      if (p->count < UINT32_MAX) p->count++;
      p->last = now;
      return;
    }
    uint32_t c = p->count;
    if (c >= minc && now - p->last <= PAT_EXPIRE) continue;
    if (c >= minc) c = 0;
    if (c < vcount || (c == vcount && p->last < vlast)) {
      victim = i;
      vcount = c;
      vlast = p->last;
    }
  }
  if (victim < 0) return;
  set[victim].bits = bits;
  set[victim].count = 1;
  set[victim].last = now;
}

static void observe(alec_fleet *f, emitter *e, fchan *c, double v, double now) {
  c->values++;
  e->values++;
  if (c->values == 1) {
    c->mean = v;
    c->var = 0;
  } else {
    /* West's EW variance; restart on overflow rather than carry inf. */
    double d = v - c->mean;
    double incr = VALUE_EW_ALPHA * d;
    double m = c->mean + incr;
    double var = (1.0 - VALUE_EW_ALPHA) * (c->var + d * incr);
    if (isfinite(m) && isfinite(var)) {
      c->mean = m;
      c->var = var;
    } else {
      c->mean = v;
      c->var = 0;
    }
  }
  c->last = v;
  /* The level moves per value, in the emitter's own reports, so that its
   * smoothing does not depend on how often the fleet is evaluated. */
  if (!c->has_level) {
    c->level = v;
    c->has_level = 1;
  } else {
    double l = c->level + f->cfg.level_alpha * (v - c->level);
    c->level = isfinite(l) ? l : v;
  }
  c->t_value = now;
  if (!c->pending && c->gc != NONE) alec_fleet__pend(f, e, c, now);
  learn(f, e, v);
}

/* Reporting period from the intervals between the emitter's reports. */
static void note_report(alec_fleet *f, emitter *e, double now) {
  if (e->frames == 0) return; /* created by this frame, or restored */
  double dt = now - e->last_seen;
  if (!(dt > 1e-3) || (e->period > 0 && dt < REPORT_GAP * e->period)) return;
  if (e->period > 0 && dt > 2.0 * e->period) dt = 2.0 * e->period;
  if (e->period_n < UINT32_MAX) e->period_n++;
  double w = e->period_n <= PERIOD_WARMUP ? 1.0 / (double)e->period_n : PERIOD_ALPHA;
  e->period = e->period_n == 1 ? dt : e->period + w * (dt - e->period);
  /* Stale scans run at a quarter of the shortest period: a new, shorter
   * one brings the next scan forward. */
  double q = e->period / 4.0;
  if (q < STALE_FLOOR / 4.0) q = STALE_FLOOR / 4.0;
  if (now + q < f->next_stale_scan) f->next_stale_scan = now + q;
}

/* Room for one more emitter (the caller checked max_emitters). */
int alec_fleet__em_reserve(alec_fleet *f) {
  if (f->n_em < f->cap_em) return 0;
  uint32_t nc = f->cap_em ? f->cap_em * 2 : 16;
  if (nc > f->cfg.max_emitters) nc = f->cfg.max_emitters;
  /* Emitters start on a cache line (an emitter is a whole number of lines):
   * the fields a refresh or a stale scan reads of a member then share one
   * line. realloc guarantees 16 bytes only (a large block starts 16 bytes
   * into its pages), so the array sits up to EM_ALIGN - 16 bytes into its
   * block, and moves to keep the alignment when the block comes back with
   * a different one. */
  size_t old_off = f->em ? (size_t)((char *)f->em - (char *)f->em_block) : 0;
  char *blk = alec_fleet__big_realloc(f->em_block, (size_t)nc * sizeof(emitter) + EM_ALIGN);
  if (!blk) return ALEC_ENOMEM;
  size_t off = (EM_ALIGN - (uintptr_t)blk % EM_ALIGN) % EM_ALIGN;
  if (off != old_off && f->n_em) memmove(blk + off, blk + old_off, (size_t)f->n_em * sizeof(emitter));
  f->em_block = blk;
  f->em = (emitter *)(void *)(blk + off);
  f->cap_em = nc;
  return 0;
}

int alec_fleet__emitter_create(alec_fleet *f, uint64_t id, double now, alec_decoder *dec) {
  emitter *e = &f->em[f->n_em];
  memset(e, 0, sizeof *e);
  e->id = id;
  e->dec = dec;
  e->first_seen = now;
  e->last_seen = now;
  uint32_t g = map_find(&f->assign, id);
  e->group = g == NONE ? 0 : (uint16_t)g;
  map_put_aux(&f->emap, id, f->n_em, dec);
  return (int)f->n_em++;
}

static int args_ok(alec_format fmt, unsigned channels, const uint8_t *frame, size_t len,
                   const alec_fleet_value *out, size_t cap) {
  if ((!frame && len) || (cap && !out)) return 0;
  return fmt != ALEC_FORMAT_FIXED || (channels >= 1 && channels <= ALEC_FIXED_MAX_CHANNELS);
}

/* now is finite, f and the arguments valid: the public entry points
 * checked. ei, dec: the emitter's index and decoder as the caller found
 * them (by the map or a checked hint), NONE and NULL for an id the fleet
 * does not know. *where (nullable) gets the emitter's index + 1 on success. */
static int process_at(alec_fleet *f, uint64_t id, uint32_t ei, alec_decoder *dec, alec_format fmt,
                      unsigned channels, const uint8_t *frame, size_t len, double now,
                      alec_fleet_value *out, size_t cap, alec_frame_info *info, uint32_t *where) {
  alec_frame_info fi;
  memset(&fi, 0, sizeof fi);
  int n;
  emitter *e;
  if (ei == NONE) {
    if (f->n_em >= f->cfg.max_emitters) {
      f->st.rejected_emitters++;
      return ALEC_ENOSPC;
    }
    /* Reserve everything creation needs before decoding: once the decoder
     * accepted the frame, creating the emitter must not fail. */
    if (alec_fleet__em_reserve(f) != 0) return ALEC_ENOMEM;
    if (alec_fleet__map_reserve(&f->emap, 1) != 0) return ALEC_ENOMEM;
    if (!f->spare) {
      int r = alec_decoder_new(&f->spare, &f->cfg.decoder);
      if (r < 0) return r;
    }
    n = alec_decoder_decode(f->spare, fmt, channels, frame, len, f->vbuf, ALEC_FLEET_MAX_VALUES,
                            &fi);
    if (n < 0) {
      count_error(f, NULL, n);
      alec_decoder_reset(f->spare);
      return n;
    }
    ei = (uint32_t)alec_fleet__emitter_create(f, id, now, f->spare);
    f->spare = NULL;
    e = &f->em[ei];
  } else {
    /* With 10^5 emitters the state is far out of cache: start fetching the
     * decoder's block and our part of the emitter together, so that their
     * misses overlap instead of following one another. */
    alec_decoder_prefetch(dec);
    e = &f->em[ei];
    for (size_t o = 0; o < offsetof(emitter, id); o += 64) PREFETCH((const char *)e + o);
    n = alec_decoder_decode(dec, fmt, channels, frame, len, f->vbuf, ALEC_FLEET_MAX_VALUES, &fi);
    if (n < 0) {
      count_error(f, e, n);
      return n;
    }
  }
  if (n > ALEC_FLEET_MAX_VALUES) n = ALEC_FLEET_MAX_VALUES;
  note_report(f, e, now);
  /* The latest frame defines "last seen" even if the clock went backwards:
   * ages are clamped at 0 later, nothing is computed modulo anything. */
  e->last_seen = now;
  e->frames++;
  e->bytes += len;
  unsigned prio = fi.priority < 5 ? fi.priority : ALEC_P3;
  e->prio[prio]++;
  e->gaps += fi.gap;
  e->resets += fi.reset ? 1 : 0;
  e->resyncs += fi.resync ? 1 : 0;
  f->st.frames++;
  f->st.bytes += len;
  f->st.priority[prio]++;
  if (prio <= ALEC_P2) f->st.regular_anomalies++;
  f->st.gaps += fi.gap;
  f->st.resets += fi.reset ? 1 : 0;
  f->st.resyncs += fi.resync ? 1 : 0;
  f->st.values += (uint64_t)n;
  for (int i = 0; i < n; i++) {
    const alec_value *v = &f->vbuf[i];
    fchan *c = chan_get(f, e, v->id, (unsigned)i);
    int usable = !(v->flags & (ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE)) && isfinite(v->value);
    if (!usable) {
      if (!isfinite(v->value) || (v->flags & ALEC_VALUE_NONFINITE))
        e->nonfinite++;
      else
        e->unreliable++;
    }
    if (!c || c->gc == NONE) f->st.untracked_values++;
    if (c && usable) observe(f, e, c, v->value, now);
    if ((size_t)i < cap) {
      alec_fleet_value *o = &out[i];
      o->channel = v->id;
      o->priority = (uint8_t)prio;
      o->flags = v->flags;
      o->state = c ? c->state : ALEC_FLEET_NORMAL;
      o->tracked = (c && c->gc != NONE) ? 1 : 0;
      o->value = v->value;
      o->score = c ? c->score : 0.0;
    }
  }
  if (info) *info = fi;
  if (where) *where = ei + 1;
  return n;
}

/* By the keyed map; h = alec_hash_id(id) (the batch path hashed it ahead). */
static int process_one(alec_fleet *f, uint64_t id, uint64_t h, alec_format fmt, unsigned channels,
                       const uint8_t *frame, size_t len, double now, alec_fleet_value *out,
                       size_t cap, alec_frame_info *info, uint32_t *where) {
  if (!args_ok(fmt, channels, frame, len, out, cap)) return ALEC_EINVAL;
  const map_slot *slot = map_slot_of_h(&f->emap, id, h);
  uint32_t ei = slot ? slot->val : NONE;
  return process_at(f, id, ei, ei == NONE ? NULL : (alec_decoder *)slot->aux, fmt, channels, frame,
                    len, now, out, cap, info, where);
}

int alec_fleet_process(alec_fleet *f, uint64_t id, alec_format fmt, unsigned channels,
                       const uint8_t *frame, size_t len, double now, alec_fleet_value *out,
                       size_t cap, alec_frame_info *info) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  return process_one(f, id, alec_hash_id(id), fmt, channels, frame, len, now, out, cap, info, NULL);
}

int alec_fleet_process_hint(alec_fleet *f, uint32_t *hint, uint64_t id, alec_format fmt,
                            unsigned channels, const uint8_t *frame, size_t len, double now,
                            alec_fleet_value *out, size_t cap, alec_frame_info *info,
                            double *period) {
  if (period) *period = 0.0;
  if (!f || !hint || !isfinite(now)) return ALEC_EINVAL;
  if (!args_ok(fmt, channels, frame, len, out, cap)) return ALEC_EINVAL;
  uint32_t where = 0;
  int n;
  /* The hint is only a guess (emitters move when one is removed; it may
   * come from another fleet): the emitter it names must carry the id. Its
   * id sits apart from its hot lines, so all are requested together. */
  uint32_t i = *hint - 1u;
  if (*hint != 0 && i < f->n_em) {
    const emitter *e = &f->em[i];
    PREFETCH_RO(e);
    PREFETCH_RO(&e->id);
  }
  if (*hint != 0 && i < f->n_em && f->em[i].id == id && f->em[i].dec)
    n = process_at(f, id, i, f->em[i].dec, fmt, channels, frame, len, now, out, cap, info, &where);
  else
    n = process_one(f, id, alec_hash_id(id), fmt, channels, frame, len, now, out, cap, info, &where);
  if (n < 0) return n;
  *hint = where;
  if (period) *period = f->em[where - 1].period;
  return n;
}

/* Software pipeline over the dependent misses of a frame (id -> hash slot ->
 * emitter + decoder): the slot of frame i + SLOT_AHEAD is requested, the
 * slot of frame i + STATE_AHEAD (by then in cache) is read and its emitter
 * and decoder requested, then frame i is processed. Processing may create,
 * move or remove emitters and rehash the table, so nothing read ahead is
 * trusted: process_one looks everything up again, and the early reads only
 * decide which lines to prefetch (a stale address costs a useless fetch,
 * never a wrong result). */
#define SLOT_AHEAD 16
#define STATE_AHEAD 8

static void prefetch_slot(const alec_fleet *f, const alec_fleet_frame *fr, uint64_t h) {
  if (f->emap.mask) PREFETCH(&f->emap.s[(uint32_t)h & f->emap.mask]);
  if (fr->data && fr->len) PREFETCH_RO(fr->data);
}

static void prefetch_state(const alec_fleet *f, uint64_t id, uint64_t h) {
  const map_slot *s = map_slot_of_h(&f->emap, id, h);
  if (!s || s->val >= f->n_em) return;
  alec_decoder_prefetch((const alec_decoder *)s->aux);
  const emitter *e = &f->em[s->val];
  for (size_t o = 0; o < offsetof(emitter, id); o += 64) PREFETCH((const char *)e + o);
  /* The emitter is rarely line aligned: its hot part ends on one more line. */
  PREFETCH((const char *)e + offsetof(emitter, id) - 1);
}

int alec_fleet_process_batch(alec_fleet *f, const alec_fleet_frame *frames, size_t n, double now,
                             int *results) {
  if (!f || (n && !frames) || !isfinite(now)) return ALEC_EINVAL;
  size_t ok = 0;
  /* Each id is hashed once (the keyed hash costs more than a probe): its
   * hash waits in a ring from its slot prefetch to its lookup. */
  uint64_t hs[SLOT_AHEAD + 1];
  for (size_t i = 0; i < n && i < SLOT_AHEAD; i++) {
    hs[i] = alec_hash_id(frames[i].emitter_id);
    prefetch_slot(f, &frames[i], hs[i]);
  }
  for (size_t i = 0; i < n && i < STATE_AHEAD; i++) prefetch_state(f, frames[i].emitter_id, hs[i]);
  for (size_t i = 0; i < n; i++) {
    if (i + SLOT_AHEAD < n) {
      uint64_t *h = &hs[(i + SLOT_AHEAD) % (SLOT_AHEAD + 1)];
      *h = alec_hash_id(frames[i + SLOT_AHEAD].emitter_id);
      prefetch_slot(f, &frames[i + SLOT_AHEAD], *h);
    }
    if (i + STATE_AHEAD < n)
      prefetch_state(f, frames[i + STATE_AHEAD].emitter_id, hs[(i + STATE_AHEAD) % (SLOT_AHEAD + 1)]);
    const alec_fleet_frame *fr = &frames[i];
    int r = process_one(f, fr->emitter_id, hs[i % (SLOT_AHEAD + 1)], fr->fmt, fr->channels, fr->data, fr->len,
                        now, fr->out, fr->cap, fr->info, NULL);
    if (results) results[i] = r;
    if (r >= 0) ok++;
  }
  return ok > (size_t)INT_MAX ? INT_MAX : (int)ok;
}

/* Ghost frame (alec_decoder_feed_values) with the fleet's bookkeeping: the
 * values are exact (a device's own fallback format), so they enter the
 * statistics like decoded values; the emitter is created by its first one
 * (a LoRaWAN device's first uplink is always the fallback). */
int alec_fleet_feed_values(alec_fleet *f, uint64_t id, const double *values, unsigned n,
                           double now) {
  if (!f || !values || n < 1 || n > ALEC_FIXED_MAX_CHANNELS || !isfinite(now))
    return ALEC_EINVAL;
  const map_slot *slot = map_slot_of(&f->emap, id);
  uint32_t ei = slot ? slot->val : NONE;
  emitter *e;
  int rc;
  if (ei == NONE) {
    if (f->n_em >= f->cfg.max_emitters) {
      f->st.rejected_emitters++;
      return ALEC_ENOSPC;
    }
    if (alec_fleet__em_reserve(f) != 0) return ALEC_ENOMEM;
    if (alec_fleet__map_reserve(&f->emap, 1) != 0) return ALEC_ENOMEM;
    if (!f->spare) {
      rc = alec_decoder_new(&f->spare, &f->cfg.decoder);
      if (rc < 0) return rc;
    }
    rc = alec_decoder_feed_values(f->spare, values, n);
    if (rc < 0) {
      alec_decoder_reset(f->spare);
      return rc;
    }
    ei = (uint32_t)alec_fleet__emitter_create(f, id, now, f->spare);
    f->spare = NULL;
    e = &f->em[ei];
  } else {
    e = &f->em[ei];
    rc = alec_decoder_feed_values((alec_decoder *)slot->aux, values, n);
    if (rc < 0) return rc;
  }
  /* A fed uplink (the device's own format) is a report like a frame: it
   * counts for the emitter's period and its values are scored. */
  note_report(f, e, now);
  e->last_seen = now;
  e->frames++;
  e->prio[ALEC_P3]++;
  f->st.frames++;
  f->st.priority[ALEC_P3]++;
  f->st.values += n;
  for (unsigned i = 0; i < n; i++) {
    fchan *c = chan_get(f, e, i, i);
    if (!c || c->gc == NONE) f->st.untracked_values++;
    if (!isfinite(values[i])) {
      e->nonfinite++;
      continue;
    }
    if (c) observe(f, e, c, values[i], now);
  }
  return 0;
}
