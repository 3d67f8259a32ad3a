/* SPDX-License-Identifier: MIT */
/* Immutable fleet snapshots for the dashboard and the bounded history rings
 * behind its charts; see snapshot.h for the threading model. */
#include "snapshot.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/error.h"
#include "alec/hash.h"

/* 0.6745 = Phi^-1(0.75): the fleet's modified z-score is MAD_SCALE x
 * (level - median) / MAD, so |z| = z_enter at median +/- z_enter x MAD / MAD_SCALE. */
#define MAD_SCALE 0.6745

/* Ring point as stored: the interval as an index from the store's epoch
 * and floats, because a chart needs no more than 7 digits and History x
 * channels x emitters of these is the bulk of the dashboard's memory. */
typedef struct ring_pt {
  uint32_t idx;
  float mean, min, max, lo, hi;
  uint8_t state;
} ring_pt;

typedef struct hring {
  uint32_t channel;
  uint32_t head, count; /* next slot to write, points held */
  float lo, hi;         /* band of the latest refresh, NaN: none */
  double sum;           /* exact sum of the newest point's values */
  uint32_t n;           /* ... and their number */
  ring_pt *pts;         /* NULL: over history_memory, not charted (retried) */
} hring;

typedef struct hentry {
  uint64_t id;
  struct hentry *next;
  uint64_t seen; /* last refresh that found the emitter in the fleet */
  uint32_t n_rings;
  hring rings[];
} hentry;

struct alec_snap_store {
  alec_snap_config cfg;
  alec_snap_names names;
  size_t ring_bytes;

  /* History: shared with readers, under hist_lock. A sink-side index of
   * its own, not the fleet's dense emitter index: the fleet moves its last
   * emitter into a removed one's place (indexes are not stable), the rings
   * outlive a snapshot and are read by the web server's threads by emitter
   * id, without the fleet lock. Chained, keyed by alec_hash_id (ids cannot
   * be chosen to collide), at most one entry per bucket on average
   * (maybe_grow), entries only for emitters the fleet holds (sync_history
   * drops the others): bounded by MaxEmitters (docs/SECURITY.md). */
  pthread_mutex_t hist_lock;
  hentry **buckets;
  size_t n_buckets, n_entries;
  size_t history_bytes;
  double epoch;
  int have_epoch;

  /* Dispatch thread only. */
  alec_snap_event *ev;
  size_t ev_head, ev_count;
  uint64_t ev_total;
  double last_refresh;
  int have_refresh;
  uint64_t seq;
  /* Incremental refresh (issue 13 finding 11): what the last snapshot saw,
   * to skip rebuilding an unchanged fleet, and what building it cost, so
   * the dashboard takes at most 1/COST_SHARE of the dispatch thread. */
  uint64_t seen_frames, seen_events;
  size_t seen_emitters, seen_active, seen_anomalous;
  double last_full, build_start, last_cost;

  /* The published snapshot, swapped under pub_lock. */
  pthread_mutex_t pub_lock;
  alec_snap *cur;
};

/* ------------------------------------------------------------------ config */

void alec_snap_config_init(alec_snap_config *cfg) {
  if (cfg == NULL) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->history = 300;
  cfg->history_interval = 1.0;
  cfg->chart_channels = 16;
  cfg->history_memory = (size_t)64 << 20;
  cfg->events = 256;
  cfg->refresh_interval = 0.5;
}

static int cfg_error(char *err, size_t errlen, const char *field, const char *rule) {
  if (err && errlen) snprintf(err, errlen, "%s: %s", field, rule);
  return ALEC_EINVAL;
}

int alec_snap_config_validate(const alec_snap_config *c, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (c == NULL) return cfg_error(err, errlen, "config", "missing");
  if (c->history > ALEC_SNAP_HISTORY_MAX) return cfg_error(err, errlen, "history", "must be in 0..100000");
  /* >= 0.1 s keeps a uint32 interval index valid for 13 years. */
  if (!(c->history_interval >= 0.1 && c->history_interval <= 86400))
    return cfg_error(err, errlen, "history_interval", "must be in [0.1, 86400] seconds");
  if (c->chart_channels < 1 || c->chart_channels > ALEC_SNAP_CHART_CHANNELS_MAX)
    return cfg_error(err, errlen, "chart_channels", "must be in 1..64");
  if (c->history > 0 && c->history_memory < (size_t)c->history * sizeof(ring_pt))
    return cfg_error(err, errlen, "history_memory", "must hold at least one channel's history");
  if (c->events < 1 || c->events > ALEC_SNAP_EVENTS_MAX) return cfg_error(err, errlen, "events", "must be in 1..65536");
  if (!(c->refresh_interval >= 0.05 && c->refresh_interval <= 3600))
    return cfg_error(err, errlen, "refresh_interval", "must be in [0.05, 3600] seconds");
  return 0;
}

static void default_host(void *arg, uint64_t id, char *out, size_t cap) {
  (void)arg;
  snprintf(out, cap, "alec-%016" PRIx64, id);
}

static void default_channel(void *arg, int has_id, uint64_t id, const char *group, uint32_t ch, char *out,
                            size_t cap) {
  (void)arg, (void)has_id, (void)id, (void)group;
  snprintf(out, cap, "ch%" PRIu32, ch);
}

int alec_snap_store_new(alec_snap_store **out, const alec_snap_config *cfg, const alec_snap_names *names) {
  if (out == NULL) return ALEC_EINVAL;
  *out = NULL;
  alec_snap_config c;
  if (cfg) c = *cfg;
  else alec_snap_config_init(&c);
  if (alec_snap_config_validate(&c, NULL, 0) != 0) return ALEC_EINVAL;
  alec_snap_store *st = calloc(1, sizeof *st);
  if (st == NULL) return ALEC_ENOMEM;
  st->cfg = c;
  st->names.host = names && names->host ? names->host : default_host;
  st->names.channel = names && names->channel ? names->channel : default_channel;
  st->names.arg = names ? names->arg : NULL;
  st->ring_bytes = (size_t)c.history * sizeof(ring_pt);
  st->ev = calloc(c.events, sizeof *st->ev);
  st->n_buckets = 64;
  st->buckets = calloc(st->n_buckets, sizeof *st->buckets);
  if (st->ev == NULL || st->buckets == NULL) {
    free(st->ev);
    free(st->buckets);
    free(st);
    return ALEC_ENOMEM;
  }
  pthread_mutex_init(&st->hist_lock, NULL);
  pthread_mutex_init(&st->pub_lock, NULL);
  *out = st;
  return 0;
}

static void entry_free(alec_snap_store *st, hentry *e) {
  for (uint32_t i = 0; i < e->n_rings; i++) {
    if (e->rings[i].pts) st->history_bytes -= st->ring_bytes;
    free(e->rings[i].pts);
  }
  free(e);
}

void alec_snap_store_free(alec_snap_store *st) {
  if (st == NULL) return;
  for (size_t b = 0; b < st->n_buckets; b++) {
    hentry *e = st->buckets[b];
    while (e) {
      hentry *next = e->next;
      entry_free(st, e);
      e = next;
    }
  }
  free(st->buckets);
  free(st->ev);
  if (st->cur) alec_snap_release(st->cur);
  pthread_mutex_destroy(&st->hist_lock);
  pthread_mutex_destroy(&st->pub_lock);
  free(st);
}

/* ----------------------------------------------------------------- history */


static hentry *entry_find(const alec_snap_store *st, uint64_t id) {
  for (hentry *e = st->buckets[alec_hash_id(id) & (st->n_buckets - 1)]; e; e = e->next)
    if (e->id == id) return e;
  return NULL;
}

/* Doubles the table when the chains get long; a failed allocation only
 * leaves them longer. */
static void maybe_grow(alec_snap_store *st) {
  if (st->n_entries < st->n_buckets || st->n_buckets > SIZE_MAX / 2 / sizeof(hentry *)) return;
  size_t nb = st->n_buckets * 2;
  hentry **b = calloc(nb, sizeof *b);
  if (b == NULL) return;
  for (size_t i = 0; i < st->n_buckets; i++) {
    hentry *e = st->buckets[i];
    while (e) {
      hentry *next = e->next;
      size_t k = alec_hash_id(e->id) & (nb - 1);
      e->next = b[k];
      b[k] = e;
      e = next;
    }
  }
  free(st->buckets);
  st->buckets = b;
  st->n_buckets = nb;
}

static hentry *entry_create(alec_snap_store *st, uint64_t id) {
  hentry *e = calloc(1, sizeof *e + (size_t)st->cfg.chart_channels * sizeof(hring));
  if (e == NULL) return NULL;
  e->id = id;
  maybe_grow(st);
  size_t k = alec_hash_id(id) & (st->n_buckets - 1);
  e->next = st->buckets[k];
  st->buckets[k] = e;
  st->n_entries++;
  return e;
}

static hring *ring_get(alec_snap_store *st, hentry *e, uint32_t channel) {
  for (uint32_t i = 0; i < e->n_rings; i++)
    if (e->rings[i].channel == channel) return &e->rings[i];
  if (e->n_rings >= st->cfg.chart_channels) return NULL;
  hring *r = &e->rings[e->n_rings++];
  memset(r, 0, sizeof *r);
  r->channel = channel;
  r->lo = r->hi = NAN;
  return r;
}

static uint32_t interval_index(const alec_snap_store *st, double now) {
  double k = floor((now - st->epoch) / st->cfg.history_interval);
  if (!(k > 0)) return 0;
  return k >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)k;
}

static void ring_add(alec_snap_store *st, hring *r, uint32_t idx, double v, uint8_t state) {
  if (r->pts == NULL) {
    if (st->history_bytes + st->ring_bytes > st->cfg.history_memory) return;
    r->pts = malloc(st->ring_bytes);
    if (r->pts == NULL) return;
    st->history_bytes += st->ring_bytes;
    r->head = r->count = 0;
  }
  uint32_t cap = st->cfg.history;
  ring_pt *last = r->count ? &r->pts[(r->head + cap - 1) % cap] : NULL;
  /* A clock that went backwards folds into the newest point rather than
   * rewriting the past. */
  if (last && idx <= last->idx) {
    r->sum += v;
    r->n++;
    last->mean = (float)(r->sum / r->n);
    if (v < last->min) last->min = (float)v;
    if (v > last->max) last->max = (float)v;
    if (state > last->state) last->state = state;
    return;
  }
  ring_pt *p = &r->pts[r->head];
  p->idx = idx;
  p->mean = p->min = p->max = (float)v;
  p->lo = r->lo;
  p->hi = r->hi;
  p->state = state;
  r->sum = v;
  r->n = 1;
  r->head = (r->head + 1) % cap;
  if (r->count < cap) r->count++;
}

void alec_snap_record(alec_snap_store *st, uint64_t id, const alec_fleet_value *v, size_t n, double now) {
  if (st == NULL || v == NULL || n == 0 || st->cfg.history == 0 || !isfinite(now)) return;
  pthread_mutex_lock(&st->hist_lock);
  if (!st->have_epoch) {
    st->epoch = floor(now / st->cfg.history_interval) * st->cfg.history_interval;
    st->have_epoch = 1;
  }
  hentry *e = entry_find(st, id);
  if (e == NULL) e = entry_create(st, id);
  if (e) {
    uint32_t idx = interval_index(st, now);
    for (size_t i = 0; i < n; i++) {
      /* What the fleet holds out of its statistics stays out of the charts. */
      if (!v[i].tracked || (v[i].flags & (ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE)) || !isfinite(v[i].value))
        continue;
      hring *r = ring_get(st, e, v[i].channel);
      if (r) ring_add(st, r, idx, v[i].value, v[i].state <= ALEC_FLEET_FAILURE ? v[i].state : ALEC_FLEET_FAILURE);
    }
  }
  pthread_mutex_unlock(&st->hist_lock);
}

int alec_snap_history_get(alec_snap_store *st, uint64_t id, double until, alec_snap_history *h) {
  if (st == NULL || h == NULL) return ALEC_EINVAL;
  memset(h, 0, sizeof *h);
  pthread_mutex_lock(&st->hist_lock);
  hentry *e = entry_find(st, id);
  if (e == NULL || e->n_rings == 0) {
    pthread_mutex_unlock(&st->hist_lock);
    return 0;
  }
  size_t total = 0, nr = e->n_rings;
  for (size_t i = 0; i < nr; i++) total += e->rings[i].pts ? e->rings[i].count : 0;
  /* Bounded: chart_channels x history points. */
  void *mem = malloc(nr * sizeof(alec_snap_series) + total * sizeof(alec_snap_point) + 1);
  if (mem == NULL) {
    pthread_mutex_unlock(&st->hist_lock);
    return ALEC_ENOMEM;
  }
  alec_snap_series *ser = mem;
  alec_snap_point *pts = (alec_snap_point *)(ser + nr);
  uint32_t cap = st->cfg.history;
  for (size_t i = 0; i < nr; i++) {
    const hring *r = &e->rings[i];
    ser[i].channel = r->channel;
    ser[i].points = pts;
    ser[i].n = 0;
    if (r->pts == NULL) continue;
    uint32_t start = (r->head + cap - r->count) % cap;
    for (uint32_t k = 0; k < r->count; k++) {
      const ring_pt *q = &r->pts[(start + k) % cap];
      double t = st->epoch + (double)q->idx * st->cfg.history_interval;
      if (!isnan(until) && t > until) break;
      alec_snap_point *p = &pts[ser[i].n++];
      p->t = t;
      p->mean = q->mean;
      p->min = q->min;
      p->max = q->max;
      p->lo = q->lo;
      p->hi = q->hi;
      p->state = q->state;
    }
    pts += ser[i].n;
  }
  pthread_mutex_unlock(&st->hist_lock);
  h->n_series = nr;
  h->series = ser;
  h->mem = mem;
  return 0;
}

void alec_snap_history_free(alec_snap_history *h) {
  if (h == NULL) return;
  free(h->mem);
  memset(h, 0, sizeof *h);
}

/* ------------------------------------------------------------------ events */

void alec_snap_event_add(alec_snap_store *st, const alec_fleet_event *ev) {
  if (st == NULL || ev == NULL) return;
  alec_snap_event *e = &st->ev[st->ev_head];
  memset(e, 0, sizeof *e);
  e->time = ev->time;
  e->kind = (uint8_t)ev->kind;
  e->severity = (uint8_t)ev->severity;
  e->previous = (uint8_t)ev->previous;
  e->has_id = ev->kind == ALEC_FLEET_EVENT_EMITTER || ev->kind == ALEC_FLEET_EVENT_STALE;
  e->reason = ev->reason;
  e->emitter_id = ev->emitter_id;
  e->channel = ev->channel;
  e->peers = ev->peers;
  e->value = ev->value;
  e->median = ev->median;
  e->mad = ev->mad;
  e->score = ev->score;
  e->cusum = ev->cusum;
  snprintf(e->group, sizeof e->group, "%s", ev->group ? ev->group : "");
  if (e->has_id) st->names.host(st->names.arg, ev->emitter_id, e->host, sizeof e->host);
  st->names.channel(st->names.arg, e->has_id, ev->emitter_id, e->group, ev->channel, e->name, sizeof e->name);
  st->ev_head = (st->ev_head + 1) % st->cfg.events;
  if (st->ev_count < st->cfg.events) st->ev_count++;
  st->ev_total++;
}

/* ---------------------------------------------------------------- snapshots */

#define COST_SHARE 20.0 /* a snapshot costing c seconds waits at least COST_SHARE x c for the next */
#define IDLE_REBUILD 10.0 /* an unchanged fleet is still rebuilt this often (ages, active flags) */

static double mono_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int alec_snap_due(const alec_snap_store *st, double now) {
  if (st == NULL || !isfinite(now)) return 0;
  if (!st->have_refresh) return 1;
  double gap = st->cfg.refresh_interval;
  if (COST_SHARE * st->last_cost > gap) gap = COST_SHARE * st->last_cost;
  return now < st->last_refresh || now - st->last_refresh >= gap;
}

int alec_snap_unchanged(alec_snap_store *st, const alec_fleet *fleet, double now) {
  if (st == NULL || fleet == NULL || !st->have_refresh || !isfinite(now) || now < st->last_refresh ||
      now - st->last_full >= IDLE_REBUILD)
    return 0;
  alec_fleet_stats fs;
  alec_fleet_get_stats(fleet, now, &fs);
  if (fs.frames != st->seen_frames || st->ev_total != st->seen_events || fs.emitters != st->seen_emitters ||
      fs.active != st->seen_active || fs.anomalous != st->seen_anomalous)
    return 0;
  st->last_refresh = now; /* the next look after another interval */
  return 1;
}

static void snap_free(alec_snap *s) {
  free(s->groups);
  free(s->bands);
  free(s->emitters);
  free(s->channels);
  free(s->by_id);
  free(s->events);
  free(s->cache);
  pthread_mutex_destroy(&s->cache_lock);
  free(s);
}

void alec_snap_release(alec_snap *s) {
  if (s && atomic_fetch_sub(&s->refs, 1) == 1) snap_free(s);
}

alec_snap *alec_snap_acquire(alec_snap_store *st) {
  if (st == NULL) return NULL;
  pthread_mutex_lock(&st->pub_lock);
  alec_snap *s = st->cur;
  if (s) atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&st->pub_lock);
  return s;
}

long alec_snap_find(const alec_snap *s, uint64_t id) {
  if (s == NULL) return -1;
  size_t lo = 0, hi = s->n_emitters;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t m = s->emitters[s->by_id[mid]].id;
    if (m == id) return (long)s->by_id[mid];
    if (m < id) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

int alec_snap_cached(alec_snap *s, int (*render)(const alec_snap *s, char **buf, size_t *len), const char **buf,
                     size_t *len) {
  if (s == NULL || render == NULL || buf == NULL || len == NULL) return ALEC_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&s->cache_lock);
  if (s->cache == NULL) {
    char *b = NULL;
    size_t l = 0;
    rc = render(s, &b, &l);
    if (rc >= 0) {
      s->cache = b;
      s->cache_len = l;
    }
  }
  *buf = s->cache;
  *len = s->cache_len;
  pthread_mutex_unlock(&s->cache_lock);
  return rc < 0 ? rc : 0;
}

/* Sorting helpers: qsort has no context argument, so the comparators that
 * need the snapshot see it through this pointer; refresh runs in the
 * dispatch thread only. */
static const alec_snap *sort_ctx;

typedef struct lvl {
  uint32_t group, channel;
  double level;
} lvl;

static int cmp_lvl(const void *a, const void *b) {
  const lvl *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  if (x->channel != y->channel) return x->channel < y->channel ? -1 : 1;
  return (x->level > y->level) - (x->level < y->level);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double sorted_median(const double *a, size_t n) {
  return n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

static int cmp_display(const void *a, const void *b) {
  const alec_snap_emitter *x = a, *y = b;
  if (x->state != y->state) return x->state > y->state ? -1 : 1;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  int c = strcmp(x->host, y->host);
  if (c) return c;
  return (x->id > y->id) - (x->id < y->id);
}

static int cmp_by_id(const void *a, const void *b) {
  uint64_t x = sort_ctx->emitters[*(const uint32_t *)a].id, y = sort_ctx->emitters[*(const uint32_t *)b].id;
  return (x > y) - (x < y);
}

static int cmp_group_idx(const void *a, const void *b) {
  return strcmp(sort_ctx->groups[*(const uint32_t *)a].name, sort_ctx->groups[*(const uint32_t *)b].name);
}

static long band_find(const alec_snap *s, uint32_t group, uint32_t channel) {
  const alec_snap_group *g = &s->groups[group];
  size_t lo = g->band_off, hi = (size_t)g->band_off + g->n_bands;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->bands[mid].channel == channel) return (long)mid;
    if (s->bands[mid].channel < channel) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
  return h;
}

/* Group index of a name, creating the group; the table is sized for every
 * group the fleet allows, so it never fills. UINT32_MAX on overflow. */
static uint32_t group_index(alec_snap *s, uint32_t *tab, size_t mask, size_t cap, const char *name) {
  size_t k = fnv1a(name) & mask;
  for (size_t probes = 0; probes <= mask; probes++, k = (k + 1) & mask) {
    if (tab[k] == 0) {
      if (s->n_groups >= cap) return UINT32_MAX;
      alec_snap_group *g = &s->groups[s->n_groups];
      memset(g, 0, sizeof *g);
      snprintf(g->name, sizeof g->name, "%s", name);
      tab[k] = (uint32_t)++s->n_groups;
      return tab[k] - 1;
    }
    if (strcmp(s->groups[tab[k] - 1].name, name) == 0) return tab[k] - 1;
  }
  return UINT32_MAX;
}

static void copy_emitter(alec_snap_emitter *e, const alec_fleet_emitter_info *in) {
  memset(e, 0, sizeof *e);
  e->id = in->id;
  e->active = (uint8_t)(in->active != 0);
  e->state = (uint8_t)(in->state <= ALEC_FLEET_FAILURE ? in->state : ALEC_FLEET_FAILURE);
  e->frames = in->frames;
  e->values = in->values;
  e->bytes = in->bytes;
  e->decode_errors = in->decode_errors;
  e->gaps = in->gaps;
  e->resets = in->resets;
  e->resyncs = in->resyncs;
  e->replays = in->replays;
  e->unreliable = in->unreliable;
  e->nonfinite = in->nonfinite;
  memcpy(e->priority, in->priority, sizeof e->priority);
  e->first_seen = in->first_seen;
  e->last_seen = in->last_seen;
  e->compression_ratio = in->bytes ? 8.0 * (double)in->values / (double)in->bytes : NAN;
  e->n_patterns = in->n_patterns;
  e->memory = in->memory;
  e->n_ch = in->n_channels;
}

static void copy_channel(alec_snap_channel *c, const alec_fleet_channel_info *in) {
  memset(c, 0, sizeof *c);
  c->channel = in->channel;
  c->state = (uint8_t)(in->state <= ALEC_FLEET_FAILURE ? in->state : ALEC_FLEET_FAILURE);
  c->has_level = (uint8_t)(in->has_level != 0);
  c->reason = in->reason;
  c->values = in->values;
  c->evaluations = in->evaluations;
  c->last_value = in->last_value;
  c->mean = in->mean;
  c->stddev = in->stddev;
  c->level = in->level;
  c->score = in->score;
  c->baseline_z = in->baseline_z;
  c->cusum = in->cusum_pos > in->cusum_neg ? in->cusum_pos : in->cusum_neg;
  c->band = -1;
}

/* Median and MAD of each group+channel over the levels of active emitters
 * that the fleet has scored (the peers it compares). */
static int compute_bands(alec_snap *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->n_emitters; i++) {
    const alec_snap_emitter *e = &s->emitters[i];
    if (!e->active) continue;
    for (uint32_t k = 0; k < e->n_ch; k++) {
      const alec_snap_channel *c = &s->channels[e->ch_off + k];
      if (c->has_level && c->evaluations > 0 && isfinite(c->level)) n++;
    }
  }
  lvl *l = malloc((n ? n : 1) * sizeof *l);
  double *dev = malloc((n ? n : 1) * sizeof *dev);
  s->bands = malloc((n ? n : 1) * sizeof *s->bands);
  if (l == NULL || dev == NULL || s->bands == NULL) {
    free(l);
    free(dev);
    return ALEC_ENOMEM;
  }
  n = 0;
  for (size_t i = 0; i < s->n_emitters; i++) {
    const alec_snap_emitter *e = &s->emitters[i];
    if (!e->active) continue;
    for (uint32_t k = 0; k < e->n_ch; k++) {
      const alec_snap_channel *c = &s->channels[e->ch_off + k];
      if (c->has_level && c->evaluations > 0 && isfinite(c->level))
        l[n++] = (lvl){.group = e->group, .channel = c->channel, .level = c->level};
    }
  }
  qsort(l, n, sizeof *l, cmp_lvl);
  double width = s->z_enter / MAD_SCALE;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && l[j].group == l[i].group && l[j].channel == l[i].channel) j++;
    size_t m = j - i;
    if (m >= s->min_peers && m > 0) {
      for (size_t k = 0; k < m; k++) dev[k] = l[i + k].level;
      double med = sorted_median(dev, m);
      for (size_t k = 0; k < m; k++) dev[k] = fabs(l[i + k].level - med);
      qsort(dev, m, sizeof *dev, cmp_double);
      double mad = sorted_median(dev, m);
      if (!(mad >= s->mad_floor)) mad = s->mad_floor;
      alec_snap_band *b = &s->bands[s->n_bands++];
      b->group = l[i].group;
      b->channel = l[i].channel;
      b->peers = (uint32_t)m;
      b->median = med;
      b->mad = mad;
      b->lo = med - width * mad;
      b->hi = med + width * mad;
      alec_snap_group *g = &s->groups[b->group];
      if (g->n_bands == 0) g->band_off = (uint32_t)(s->n_bands - 1);
      g->n_bands++;
    }
    i = j;
  }
  free(l);
  free(dev);
  return 0;
}

/* Hands the new bands to the rings, marks the charted channels and drops
 * the rings of emitters the fleet no longer knows. */
static void sync_history(alec_snap_store *st, alec_snap *s, double now) {
  pthread_mutex_lock(&st->hist_lock);
  uint32_t cur = st->have_epoch ? interval_index(st, now) : 0;
  for (size_t i = 0; i < s->n_emitters; i++) {
    alec_snap_emitter *e = &s->emitters[i];
    hentry *h = entry_find(st, e->id);
    if (h == NULL) continue;
    h->seen = s->seq;
    for (uint32_t r = 0; r < h->n_rings; r++) {
      hring *ring = &h->rings[r];
      ring->lo = ring->hi = NAN;
      for (uint32_t k = 0; k < e->n_ch; k++) {
        alec_snap_channel *c = &s->channels[e->ch_off + k];
        if (c->channel != ring->channel) continue;
        c->charted = ring->pts != NULL;
        if (c->band >= 0) {
          ring->lo = (float)s->bands[c->band].lo;
          ring->hi = (float)s->bands[c->band].hi;
        }
        break;
      }
      if (ring->pts && ring->count) {
        ring_pt *last = &ring->pts[(ring->head + st->cfg.history - 1) % st->cfg.history];
        if (last->idx == cur) {
          last->lo = ring->lo;
          last->hi = ring->hi;
        }
      }
    }
  }
  for (size_t b = 0; b < st->n_buckets; b++) {
    hentry **pp = &st->buckets[b];
    while (*pp) {
      hentry *h = *pp;
      if (h->seen != s->seq) {
        *pp = h->next;
        entry_free(st, h);
        st->n_entries--;
      } else {
        pp = &h->next;
      }
    }
  }
  s->history_bytes = st->history_bytes;
  pthread_mutex_unlock(&st->hist_lock);
  if (st->cfg.history > 0)
    for (size_t i = 0; i < s->n_channels; i++) s->history_dropped += !s->channels[i].charted;
}

static int cmp_display_idx(const void *a, const void *b) {
  return cmp_display(&sort_ctx->emitters[*(const uint32_t *)a], &sort_ctx->emitters[*(const uint32_t *)b]);
}

int alec_snap_gather(alec_snap_store *st, const alec_fleet *fleet, double now, alec_snap **pending) {
  if (pending) *pending = NULL;
  if (st == NULL || fleet == NULL || pending == NULL || !isfinite(now)) return ALEC_EINVAL;
  const alec_fleet_config *fc = alec_fleet_get_config(fleet);
  alec_snap *s = calloc(1, sizeof *s);
  if (s == NULL) return ALEC_ENOMEM;
  st->build_start = mono_now();
  atomic_init(&s->refs, 1);
  pthread_mutex_init(&s->cache_lock, NULL);
  s->time = now;
  s->cfg = st->cfg;
  s->z_enter = fc->z_enter;
  s->z_exit = fc->z_exit;
  s->z_failure = fc->z_failure;
  s->emitter_timeout = fc->emitter_timeout;
  s->mad_floor = fc->mad_floor;
  s->min_peers = fc->min_peers;
  alec_fleet_get_stats(fleet, now, &s->stats);

  size_t n = alec_fleet_emitter_count(fleet);
  size_t gcap = (size_t)fc->max_groups + 1, gslots = 16;
  while (gslots < 2 * gcap) gslots <<= 1;
  uint32_t *gtab = calloc(gslots, sizeof *gtab);
  s->groups = calloc(gcap, sizeof *s->groups);
  s->emitters = malloc((n ? n : 1) * sizeof *s->emitters);
  if (gtab == NULL || s->groups == NULL || s->emitters == NULL) goto nomem;

  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    alec_fleet_emitter_info info;
    if (alec_fleet_emitter_at(fleet, i, now, &info) != 0) break;
    alec_snap_emitter *e = &s->emitters[s->n_emitters];
    copy_emitter(e, &info);
    uint32_t g = group_index(s, gtab, gslots - 1, gcap, info.group);
    if (g == UINT32_MAX) continue; /* more groups than the fleet allows: cannot happen */
    e->group = g;
    total += e->n_ch;
    s->n_emitters++;
  }
  free(gtab);
  gtab = NULL;
  s->channels = malloc((total ? total : 1) * sizeof *s->channels);
  if (s->channels == NULL) goto nomem;
  for (size_t i = 0; i < s->n_emitters; i++) {
    alec_snap_emitter *e = &s->emitters[i];
    e->ch_off = (uint32_t)s->n_channels;
    uint32_t k;
    for (k = 0; k < e->n_ch && s->n_channels < total; k++) {
      alec_fleet_channel_info ci;
      if (alec_fleet_get_channel(fleet, e->id, k, &ci) != 0) break;
      copy_channel(&s->channels[s->n_channels++], &ci);
      double z = fabs(ci.score);
      if (ci.evaluations > 0 && isfinite(z) && z > e->score) e->score = z;
    }
    e->n_ch = k;
  }
  *pending = s;
  return 0;

nomem:
  free(gtab);
  snap_free(s);
  return ALEC_ENOMEM;
}

int alec_snap_publish(alec_snap_store *st, alec_snap *s) {
  if (s == NULL) return ALEC_EINVAL;
  if (st == NULL) {
    snap_free(s);
    return ALEC_EINVAL;
  }
  double now = s->time;
  s->seq = st->seq + 1;
  size_t ng = s->n_groups ? s->n_groups : 1, ne = s->n_emitters ? s->n_emitters : 1;

  /* Groups by name; emitters follow the new indexes. */
  uint32_t *perm = malloc(ng * sizeof *perm);
  uint32_t *inv = malloc(ng * sizeof *inv);
  alec_snap_group *sorted = malloc(ng * sizeof *sorted);
  if (perm == NULL || inv == NULL || sorted == NULL) {
    free(perm);
    free(inv);
    free(sorted);
    goto nomem;
  }
  for (uint32_t g = 0; g < s->n_groups; g++) perm[g] = g;
  sort_ctx = s;
  qsort(perm, s->n_groups, sizeof *perm, cmp_group_idx);
  for (uint32_t g = 0; g < s->n_groups; g++) {
    sorted[g] = s->groups[perm[g]];
    inv[perm[g]] = g;
  }
  memcpy(s->groups, sorted, s->n_groups * sizeof *sorted);
  free(sorted);
  free(perm);
  for (size_t i = 0; i < s->n_emitters; i++) s->emitters[i].group = inv[s->emitters[i].group];
  free(inv);

  if (compute_bands(s) != 0) goto nomem;
  for (size_t b = 0; b < s->n_bands; b++)
    st->names.channel(st->names.arg, 0, 0, s->groups[s->bands[b].group].name, s->bands[b].channel, s->bands[b].name,
                      sizeof s->bands[b].name);
  for (size_t i = 0; i < s->n_emitters; i++) {
    alec_snap_emitter *e = &s->emitters[i];
    alec_snap_group *g = &s->groups[e->group];
    g->emitters++;
    g->active += e->active;
    g->anomalous += e->state != ALEC_FLEET_NORMAL;
    st->names.host(st->names.arg, e->id, e->host, sizeof e->host);
    for (uint32_t k = 0; k < e->n_ch; k++) {
      alec_snap_channel *c = &s->channels[e->ch_off + k];
      long b = band_find(s, e->group, c->channel);
      c->band = (int32_t)b;
      st->names.channel(st->names.arg, 1, e->id, g->name, c->channel, c->name, sizeof c->name);
    }
  }
  sync_history(st, s, now);

  /* Display order: sort indexes, then move each emitter once. */
  uint32_t *order = malloc(ne * sizeof *order);
  alec_snap_emitter *disp = malloc(ne * sizeof *disp);
  s->by_id = malloc(ne * sizeof *s->by_id);
  s->events = malloc((st->ev_count ? st->ev_count : 1) * sizeof *s->events);
  if (order == NULL || disp == NULL || s->by_id == NULL || s->events == NULL) {
    free(order);
    free(disp);
    goto nomem;
  }
  for (size_t i = 0; i < s->n_emitters; i++) order[i] = (uint32_t)i;
  sort_ctx = s;
  qsort(order, s->n_emitters, sizeof *order, cmp_display_idx);
  for (size_t i = 0; i < s->n_emitters; i++) disp[i] = s->emitters[order[i]];
  free(order);
  free(s->emitters);
  s->emitters = disp;
  for (size_t i = 0; i < s->n_emitters; i++) s->by_id[i] = (uint32_t)i;
  qsort(s->by_id, s->n_emitters, sizeof *s->by_id, cmp_by_id);
  for (size_t i = 0; i < st->ev_count; i++)
    s->events[i] = st->ev[(st->ev_head + st->cfg.events - 1 - i) % st->cfg.events];
  s->n_events = st->ev_count;
  s->events_total = st->ev_total;

  st->seq = s->seq;
  st->last_refresh = now;
  st->last_full = now;
  st->have_refresh = 1;
  st->seen_frames = s->stats.frames;
  st->seen_events = st->ev_total;
  st->seen_emitters = s->stats.emitters;
  st->seen_active = s->stats.active;
  st->seen_anomalous = s->stats.anomalous;
  st->last_cost = mono_now() - st->build_start;
  s->build_seconds = st->last_cost; /* set before readers can see it: published below */
  pthread_mutex_lock(&st->pub_lock);
  alec_snap *old = st->cur;
  st->cur = s;
  pthread_mutex_unlock(&st->pub_lock);
  alec_snap_release(old);
  return 0;

nomem:
  snap_free(s);
  return ALEC_ENOMEM;
}

int alec_snap_refresh(alec_snap_store *st, const alec_fleet *fleet, double now) {
  alec_snap *s;
  int rc = alec_snap_gather(st, fleet, now, &s);
  return rc != 0 ? rc : alec_snap_publish(st, s);
}
