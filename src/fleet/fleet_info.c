/* SPDX-License-Identifier: MIT */
/* Fleet module: stats and introspection, emitter restore and removal. */
#include "fleet_int.h"

/* ---------------------------------------------------------------- accessors */

static size_t emitter_memory(const emitter *e) {
  size_t m = sizeof *e + (e->xch ? (size_t)e->cap_ch * sizeof(fchan) : 0);
  if (e->errors) m += ALEC_FLEET_NERRORS * sizeof *e->errors;
  if (e->dec) m += alec_decoder_memory(e->dec);
  return m;
}

static void fill_info(const alec_fleet *f, const emitter *e, double now,
                      alec_fleet_emitter_info *o) {
  memset(o, 0, sizeof *o);
  o->id = e->id;
  memcpy(o->group, f->groups[e->group].name, sizeof o->group);
  o->frames = e->frames;
  o->values = e->values;
  o->bytes = e->bytes;
  o->decode_errors = e->decode_errors;
  if (e->errors)
    for (unsigned k = 0; k < ALEC_FLEET_NERRORS; k++) o->errors[k] = e->errors[k];
  o->gaps = e->gaps;
  o->resets = e->resets;
  o->resyncs = e->resyncs;
  o->replays = e->replays;
  o->unreliable = e->unreliable;
  o->nonfinite = e->nonfinite;
  for (int p = 0; p < 5; p++) o->priority[p] = e->prio[p];
  o->first_seen = e->first_seen;
  o->last_seen = e->last_seen;
  o->active = is_active(f, e, now);
  o->state = ALEC_FLEET_NORMAL;
  for (unsigned j = 0; j < e->n_ch; j++)
    if (cchans(e)[j].state > o->state) o->state = (alec_fleet_state)cchans(e)[j].state;
  o->n_channels = e->n_ch;
  for (int k = 0; k < PAT_SLOTS; k++)
    if (pat_learned(f, e, &e->pat[k])) o->n_patterns++;
  o->memory = emitter_memory(e);
  o->period = e->period;
  o->stale = now - e->last_seen > stale_horizon(f, e);
}

int alec_fleet_get_emitter(const alec_fleet *f, uint64_t id, double now,
                           alec_fleet_emitter_info *out) {
  if (!f || !out) return ALEC_EINVAL;
  uint32_t i = map_find(&f->emap, id);
  if (i == NONE) return ALEC_ENOTFOUND;
  fill_info(f, &f->em[i], now, out);
  return 0;
}

int alec_fleet_get_channel(const alec_fleet *f, uint64_t id, unsigned idx,
                           alec_fleet_channel_info *o) {
  if (!f || !o) return ALEC_EINVAL;
  uint32_t i = map_find(&f->emap, id);
  if (i == NONE) return ALEC_ENOTFOUND;
  const emitter *e = &f->em[i];
  if (idx >= e->n_ch) return ALEC_ENOTFOUND;
  const fchan *c = &cchans(e)[idx];
  memset(o, 0, sizeof *o);
  o->channel = c->id;
  o->state = (alec_fleet_state)c->state;
  o->reason = c->reason;
  o->values = c->values;
  o->last_value = c->last;
  o->mean = c->mean;
  o->stddev = sqrt(c->var);
  o->level = c->level;
  o->has_level = c->has_level;
  o->score = c->score;
  o->baseline_z = c->base_z;
  o->cusum_pos = c->cpos;
  o->cusum_neg = c->cneg;
  o->evaluations = c->evals;
  return 0;
}

size_t alec_fleet_emitter_count(const alec_fleet *f) { return f ? f->n_em : 0; }

int alec_fleet_emitter_at(const alec_fleet *f, size_t i, double now, alec_fleet_emitter_info *out) {
  if (!f || !out) return ALEC_EINVAL;
  if (i >= f->n_em) return ALEC_ENOTFOUND;
  fill_info(f, &f->em[i], now, out);
  return 0;
}

size_t alec_fleet_active_emitters(const alec_fleet *f, double now, uint64_t *ids, size_t cap) {
  size_t n = 0;
  if (!f) return 0;
  for (uint32_t i = 0; i < f->n_em; i++) {
    if (!is_active(f, &f->em[i], now)) continue;
    if (ids && n < cap) ids[n] = f->em[i].id;
    n++;
  }
  return n;
}

int alec_fleet_emitter_patterns(const alec_fleet *f, uint64_t id, double *out, size_t cap) {
  if (!f || (cap && !out)) return ALEC_EINVAL;
  uint32_t i = map_find(&f->emap, id);
  if (i == NONE) return ALEC_ENOTFOUND;
  const emitter *e = &f->em[i];
  int n = 0;
  for (int k = 0; k < PAT_SLOTS; k++) {
    if (!pat_learned(f, e, &e->pat[k])) continue;
    if ((size_t)n < cap) out[n] = alec_f64_from_bits(e->pat[k].bits);
    n++;
  }
  return n;
}

alec_decoder *alec_fleet_emitter_decoder(alec_fleet *f, uint64_t id) {
  if (!f) return NULL;
  uint32_t i = map_find(&f->emap, id);
  return i == NONE ? NULL : f->em[i].dec;
}

int alec_fleet_restore_emitter(alec_fleet *f, uint64_t id, const uint8_t *state, size_t len,
                               double last_seen) {
  if (!f || !state || !isfinite(last_seen)) return ALEC_EINVAL;
  if (map_find(&f->emap, id) != NONE) return ALEC_EINVAL;
  if (f->n_em >= f->cfg.max_emitters) return ALEC_ENOSPC;
  if (alec_fleet__em_reserve(f) != 0) return ALEC_ENOMEM;
  if (alec_fleet__map_reserve(&f->emap, 1) != 0) return ALEC_ENOMEM;
  alec_decoder *dec = NULL;
  int r = alec_decoder_new(&dec, &f->cfg.decoder);
  if (r < 0) return r;
  r = alec_decoder_load(dec, state, len);
  if (r < 0) {
    alec_decoder_free(dec);
    return r;
  }
  alec_fleet__emitter_create(f, id, last_seen, dec);
  return 0;
}

static void remove_at(alec_fleet *f, uint32_t i) {
  emitter *e = &f->em[i];
  alec_fleet__map_del(&f->emap, e->id);
  alec_fleet__emitter_release(e);
  f->members_dirty = 1; /* member and pending lists name emitters by index */
  uint32_t last = f->n_em - 1;
  if (i != last) {
    f->em[i] = f->em[last];
    map_put_aux(&f->emap, f->em[i].id, i, f->em[i].dec); /* overwrites in place */
  }
  f->n_em--;
}

int alec_fleet_remove_emitter(alec_fleet *f, uint64_t id) {
  if (!f) return ALEC_EINVAL;
  uint32_t i = map_find(&f->emap, id);
  if (i == NONE) return ALEC_ENOTFOUND;
  remove_at(f, i);
  return 0;
}

/* The OKAYs of what a removed emitter leaves active. The band is unknown
 * (its peers moved on since it last reported): NaN, as for stale events. */
static void resolve_removed(alec_fleet *f, const emitter *e, double now, alec_fleet_event_cb cb,
                            void *arg) {
  alec_fleet_event ev;
  const fchan *ch = cchans(e);
  for (unsigned i = 0; i < e->n_ch; i++) {
    const fchan *c = &ch[i];
    if (c->state == ALEC_FLEET_NORMAL) continue;
    memset(&ev, 0, sizeof ev);
    ev.kind = ALEC_FLEET_EVENT_EMITTER;
    ev.severity = ALEC_FLEET_NORMAL;
    ev.previous = (alec_fleet_state)c->state;
    ev.reason = c->reason;
    ev.emitter_id = e->id;
    ev.group = f->groups[e->group].name;
    ev.channel = c->id;
    ev.value = c->level;
    const gcslot *s = c->gc != NONE && c->gc < f->n_gc ? &f->gcs[c->gc] : NULL;
    ev.median = s && s->valid ? s->median : NAN;
    ev.mad = s && s->valid ? s->mad : NAN;
    ev.peers = s ? s->n : 0;
    ev.score = c->score;
    ev.cusum = c->cpos > c->cneg ? c->cpos : c->cneg;
    ev.time = now;
    ev.warn_min = ev.warn_max = ev.fail_min = ev.fail_max = NAN;
    ev.removed = 1;
    f->st.anomaly_exits++;
    if (cb) cb(&ev, arg);
  }
  if (e->stale != STALE_NOTIFIED) return;
  memset(&ev, 0, sizeof ev);
  ev.kind = ALEC_FLEET_EVENT_STALE;
  ev.severity = ALEC_FLEET_NORMAL;
  ev.previous = ALEC_FLEET_WARNING;
  ev.emitter_id = e->id;
  ev.group = f->groups[e->group].name;
  ev.value = now > e->last_seen ? now - e->last_seen : 0;
  ev.median = e->period;
  ev.mad = stale_horizon(f, e);
  ev.score = e->period > 0 ? ev.value / e->period : 0;
  ev.peers = f->groups[e->group].known;
  ev.time = now;
  ev.warn_min = ev.fail_min = ev.fail_max = NAN;
  ev.warn_max = ev.mad;
  ev.removed = 1;
  if (cb) cb(&ev, arg);
}

int alec_fleet_remove_stale(alec_fleet *f, double now) {
  return alec_fleet_remove_stale_notify(f, now, NULL, NULL);
}

int alec_fleet_remove_stale_notify(alec_fleet *f, double now, alec_fleet_event_cb cb, void *arg) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  int removed = 0;
  double limit = 2.0 * f->cfg.emitter_timeout;
  for (uint32_t i = 0; i < f->n_em;) {
    double age = now - f->em[i].last_seen; /* negative when the clock went back: kept */
    if (age > limit) {
      resolve_removed(f, &f->em[i], now, cb, arg);
      remove_at(f, i);
      removed++;
    } else {
      i++;
    }
  }
  return removed;
}

size_t alec_fleet_memory(const alec_fleet *f) {
  if (!f) return 0;
  size_t m = sizeof *f + (size_t)f->cap_em * sizeof(emitter) + map_memory(&f->emap) +
             map_memory(&f->assign) + map_memory(&f->gcmap) +
             (size_t)f->cap_groups * sizeof(group) + (size_t)f->cap_gc * sizeof(gcslot) +
             f->cap_scratch * sizeof(double) + f->cap_pscratch * sizeof(uint64_t) +
             alec_context_memory(f->fctx) + (size_t)f->cap_pend * sizeof(pend_ref);
  for (uint32_t i = 0; i < f->n_gc; i++) m += (size_t)f->gcs[i].cap_mem * sizeof(uint32_t);
  for (uint32_t i = 0; i < f->n_em; i++) m += emitter_memory(&f->em[i]) - sizeof(emitter);
  return m;
}

void alec_fleet_get_stats(const alec_fleet *f, double now, alec_fleet_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!f) return;
  *out = f->st;
  out->emitters = f->n_em;
  /* Groups that have emitters: the default group "" always exists but is
   * not a group an operator would count when every emitter has one. */
  uint8_t seen[ALEC_FLEET_MAX_GROUPS_LIMIT / 8] = {0};
  out->groups = 0;
  for (uint32_t i = 0; i < f->n_em; i++) {
    const emitter *e = &f->em[i];
    if (!(seen[e->group / 8] & (1u << (e->group % 8)))) {
      seen[e->group / 8] |= (uint8_t)(1u << (e->group % 8));
      out->groups++;
    }
    if (is_active(f, e, now)) out->active++;
    int anom = 0;
    for (unsigned j = 0; j < e->n_ch; j++)
      if (cchans(e)[j].state != ALEC_FLEET_NORMAL) anom = 1;
    out->anomalous += (size_t)anom;
    for (int k = 0; k < PAT_SLOTS; k++)
      if (pat_learned(f, e, &e->pat[k])) out->patterns_learned++;
  }
  for (uint32_t g = 0; g < f->n_gc; g++) out->shifts_active += f->gcs[g].shift_on;
  out->raw_bytes = out->values * 8u;
  out->compression_ratio = out->bytes ? (double)out->raw_bytes / (double)out->bytes : 0.0;
  out->memory = alec_fleet_memory(f);
  size_t fixed = sizeof *f;
  out->memory_per_emitter = f->n_em ? (out->memory - fixed) / f->n_em : 0;
}

const char *alec_fleet_event_kind_name(alec_fleet_event_kind k) {
  switch (k) {
#define KIND_NAME(e, v, name)                                                                      \
  case ALEC_FLEET_EVENT_##e:                                                                       \
    return name;
    ALEC_FLEET_EVENT_KINDS(KIND_NAME)
#undef KIND_NAME
  default:
    return "unknown";
  }
}

double alec_fleet_emitter_period(const alec_fleet *f, uint64_t id) {
  if (!f) return 0;
  uint32_t i = map_find(&f->emap, id);
  return i == NONE ? 0 : f->em[i].period;
}

const char *alec_fleet_state_name(alec_fleet_state s) {
  switch (s) {
  case ALEC_FLEET_NORMAL: return "okay";
  case ALEC_FLEET_WARNING: return "warning";
  case ALEC_FLEET_FAILURE: return "failure";
  }
  return "unknown";
}
