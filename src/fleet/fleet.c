/* SPDX-License-Identifier: MIT */
/* Fleet module: per-emitter decoders and O(1) statistics, robust cross-fleet
 * scoring, drift detection, fleet shifts, receiver-side pattern learning.
 * The design choices and their sources are in include/alec/fleet.h and in
 * part B of the fleet notes (modified z-score: Iglewicz & Hoaglin 1993;
 * CUSUM: Page 1954, NIST/SEMATECH 6.3.2.3; hysteresis + dwell as in
 * Prometheus `for`/`keep_firing_for` and collectd's Hits). */
#include "fleet_int.h"

/* ----------------------------------------------------------------- config */

void alec_fleet_config_init(alec_fleet_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_emitters = 1000;
  cfg->max_channels = 16;
  cfg->max_groups = 64;
  cfg->emitter_timeout = ALEC_FLEET_DEFAULT_EMITTER_TIMEOUT;
  cfg->z_enter = 3.5;
  cfg->z_exit = 2.5;
  cfg->z_failure = 7.0;
  cfg->enter_count = 3;
  cfg->exit_count = 5;
  cfg->min_peers = 3;
  cfg->mad_floor = 0.01;
  cfg->level_alpha = 1.0;
  cfg->cusum_k = 0.5;
  cfg->cusum_h = 12.0;
  cfg->baseline_alpha = 0.01;
  cfg->drift_warmup = 50;
  cfg->sync_interval = 60.0;
  cfg->shift_mads = 5.0;
  cfg->shift_fraction = 0.5;
  cfg->shift_alpha = 0.25;
  cfg->pattern_min_count = 3;
  cfg->stale_periods = 3.0;
  cfg->silent_fraction = 0.2;
  alec_decoder_config_init(&cfg->decoder);
  alec_context_config_init(&cfg->fleet_ctx);
}

static int fail(char *err, size_t errlen, const char *field, const char *rule, double got) {
  if (err && errlen) snprintf(err, errlen, "fleet config: %s %s (got %g)", field, rule, got);
  return ALEC_EINVAL;
}

/* `x >= lo && x <= hi` is false for NaN, so NaN is refused everywhere. */
#define REQUIRE(cond, field, rule, got)                                                            \
  do {                                                                                             \
    if (!(cond)) return fail(err, errlen, field, rule, (double)(got));                             \
  } while (0)

int alec_fleet_config_validate(const alec_fleet_config *c, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!c) {
    if (err && errlen) snprintf(err, errlen, "fleet config: NULL");
    return ALEC_EINVAL;
  }
  REQUIRE(c->max_emitters >= 1 && c->max_emitters <= ALEC_FLEET_MAX_EMITTERS_LIMIT, "max_emitters",
          "must be in 1..10000000", c->max_emitters);
  REQUIRE(c->max_channels >= 1 && c->max_channels <= ALEC_FLEET_MAX_CHANNELS_LIMIT, "max_channels",
          "must be in 1..256", c->max_channels);
  REQUIRE(c->max_groups >= 1 && c->max_groups <= ALEC_FLEET_MAX_GROUPS_LIMIT, "max_groups",
          "must be in 1..4096", c->max_groups);
  REQUIRE(c->emitter_timeout > 0 && c->emitter_timeout <= 1e9, "emitter_timeout",
          "must be in (0, 1e9] seconds", c->emitter_timeout);
  REQUIRE(c->z_enter > 0 && c->z_enter <= 1e6, "z_enter", "must be in (0, 1e6]", c->z_enter);
  REQUIRE(c->z_exit > 0 && c->z_exit < c->z_enter, "z_exit", "must be > 0 and < z_enter",
          c->z_exit);
  REQUIRE(c->z_failure > c->z_enter && c->z_failure <= 1e6, "z_failure",
          "must be > z_enter and <= 1e6", c->z_failure);
  REQUIRE(c->enter_count >= 1 && c->enter_count <= ALEC_FLEET_DWELL_LIMIT, "enter_count",
          "must be in 1..10000", c->enter_count);
  REQUIRE(c->exit_count >= 1 && c->exit_count <= ALEC_FLEET_DWELL_LIMIT, "exit_count",
          "must be in 1..10000", c->exit_count);
  REQUIRE(c->min_peers >= 3 && c->min_peers <= c->max_emitters, "min_peers",
          "must be >= 3 and <= max_emitters", c->min_peers);
  REQUIRE(c->mad_floor > 0 && c->mad_floor <= 1e12, "mad_floor", "must be in (0, 1e12]",
          c->mad_floor);
  REQUIRE(c->level_alpha > 0 && c->level_alpha <= 1, "level_alpha", "must be in (0, 1]",
          c->level_alpha);
  REQUIRE(c->cusum_k >= 0 && c->cusum_k <= 100, "cusum_k", "must be in [0, 100]", c->cusum_k);
  REQUIRE(c->cusum_h >= 0 && c->cusum_h <= 1e6, "cusum_h", "must be 0 (off) or in (0, 1e6]",
          c->cusum_h);
  REQUIRE(c->baseline_alpha > 0 && c->baseline_alpha <= 1, "baseline_alpha", "must be in (0, 1]",
          c->baseline_alpha);
  REQUIRE(c->drift_warmup >= 1 && c->drift_warmup <= 1000000, "drift_warmup",
          "must be in 1..1000000", c->drift_warmup);
  REQUIRE(c->sync_interval >= 0 && c->sync_interval <= 1e9, "sync_interval",
          "must be 0 (manual) or in (0, 1e9] seconds", c->sync_interval);
  REQUIRE(c->shift_mads > 0 && c->shift_mads <= 1e6, "shift_mads", "must be in (0, 1e6]",
          c->shift_mads);
  REQUIRE(c->shift_fraction > 0 && c->shift_fraction <= 1, "shift_fraction", "must be in (0, 1]",
          c->shift_fraction);
  REQUIRE(c->shift_alpha > 0 && c->shift_alpha <= 1, "shift_alpha", "must be in (0, 1]",
          c->shift_alpha);
  REQUIRE(c->pattern_min_count == 0 || (c->pattern_min_count >= 2 && c->pattern_min_count <= 255),
          "pattern_min_count", "must be 0 (off) or in 2..255", c->pattern_min_count);
  REQUIRE(c->stale_periods == 0 || (c->stale_periods >= 1 && c->stale_periods <= 1e6),
          "stale_periods", "must be 0 (off) or in [1, 1e6]", c->stale_periods);
  REQUIRE(c->silent_fraction >= 0 && c->silent_fraction <= 1, "silent_fraction",
          "must be 0 (off) or in (0, 1]", c->silent_fraction);
  if (alec_context_config_validate(&c->decoder.ctx) != 0) {
    if (err && errlen) snprintf(err, errlen, "fleet config: decoder.ctx is invalid");
    return ALEC_EINVAL;
  }
  if (alec_context_config_validate(&c->fleet_ctx) != 0) {
    if (err && errlen) snprintf(err, errlen, "fleet config: fleet_ctx is invalid");
    return ALEC_EINVAL;
  }
  return 0;
}

/* ---------------------------------------------------------------- lifetime */

static int group_find(const alec_fleet *f, const char *name) {
  for (uint32_t i = 0; i < f->n_groups; i++)
    if (strcmp(f->groups[i].name, name) == 0) return (int)i;
  return -1;
}

static int group_add(alec_fleet *f, const char *name) {
  if (f->n_groups >= f->cfg.max_groups) return ALEC_ENOSPC;
  if (f->n_groups == f->cap_groups) {
    uint32_t nc = f->cap_groups ? f->cap_groups * 2 : 4;
    if (nc > f->cfg.max_groups) nc = f->cfg.max_groups;
    group *ng = realloc(f->groups, (size_t)nc * sizeof *ng);
    if (!ng) return ALEC_ENOMEM;
    f->groups = ng;
    f->cap_groups = nc;
  }
  memset(&f->groups[f->n_groups], 0, sizeof(group));
  memcpy(f->groups[f->n_groups].name, name, strlen(name));
  return (int)f->n_groups++;
}

int alec_fleet_new(alec_fleet **out, const alec_fleet_config *cfg) {
  if (!out) return ALEC_EINVAL;
  *out = NULL;
  alec_fleet_config def;
  if (!cfg) {
    alec_fleet_config_init(&def);
    cfg = &def;
  }
  if (alec_fleet_config_validate(cfg, NULL, 0) != 0) return ALEC_EINVAL;
  alec_fleet *f = calloc(1, sizeof *f);
  if (!f) return ALEC_ENOMEM;
  f->cfg = *cfg;
  f->next_due = INFINITY;
  uint64_t mg = (uint64_t)cfg->max_groups * cfg->max_channels;
  f->max_gc = mg > GC_HARD_LIMIT ? GC_HARD_LIMIT : (uint32_t)mg;
  int r = alec_context_new(&f->fctx, &cfg->fleet_ctx);
  if (r == 0 && group_add(f, "") < 0) r = ALEC_ENOMEM;
  if (r != 0) {
    alec_fleet_free(f);
    return r < 0 ? r : ALEC_ENOMEM;
  }
  *out = f;
  return 0;
}

void alec_fleet__emitter_release(emitter *e) {
  alec_decoder_free(e->dec);
  free(e->xch);
  free(e->errors);
  e->dec = NULL;
  e->xch = NULL;
  e->errors = NULL;
}

void alec_fleet_free(alec_fleet *f) {
  if (!f) return;
  for (uint32_t i = 0; i < f->n_em; i++) alec_fleet__emitter_release(&f->em[i]);
  free(f->em_block);
  free(f->emap.s);
  free(f->assign.s);
  free(f->groups);
  for (uint32_t i = 0; i < f->n_gc; i++) free(f->gcs[i].mem);
  free(f->gcs);
  free(f->pend);
  free(f->gcmap.s);
  alec_decoder_free(f->spare);
  alec_context_free(f->fctx);
  free(f->scratch);
  free(f->pscratch);
  free(f);
}

const alec_fleet_config *alec_fleet_get_config(const alec_fleet *f) { return f ? &f->cfg : NULL; }

/* ------------------------------------------------------------ gc slots */

uint32_t alec_fleet__gc_lookup(alec_fleet *f, uint16_t g, uint32_t channel) {
  uint64_t key = ((uint64_t)g << 32) | channel;
  uint32_t i = map_find(&f->gcmap, key);
  if (i != NONE) return i;
  if (f->n_gc >= f->max_gc) return NONE;
  if (f->n_gc == f->cap_gc) {
    uint32_t nc = f->cap_gc ? f->cap_gc * 2 : 16;
    if (nc > f->max_gc) nc = f->max_gc;
    gcslot *n = realloc(f->gcs, (size_t)nc * sizeof *n);
    if (!n) return NONE;
    f->gcs = n;
    f->cap_gc = nc;
  }
  if (alec_fleet__map_reserve(&f->gcmap, 1) != 0) return NONE;
  gcslot *s = &f->gcs[f->n_gc];
  memset(s, 0, sizeof *s);
  s->group = g;
  s->channel = channel;
  map_put(&f->gcmap, key, f->n_gc);
  return f->n_gc++;
}

/* Forgets what the detector learnt about an emitter+channel relative to its
 * peers (used when its peer group changes). */
static void chan_restart(fchan *c) {
  c->above = c->below = c->sev_up = c->sev_down = 0;
  c->base_n = 0;
  c->base_z = 0;
  c->cpos = c->cneg = 0.0f;
}

/* ---------------------------------------------------------------- groups */

int alec_fleet_set_emitter_group(alec_fleet *f, uint64_t id, const char *name) {
  if (!f || !name) return ALEC_EINVAL;
  if (strlen(name) > ALEC_FLEET_GROUP_MAX) return ALEC_ERANGE;
  int g = group_find(f, name);
  if (g < 0) {
    g = group_add(f, name);
    if (g < 0) return g;
  }
  uint32_t cur = map_find(&f->assign, id);
  if (cur == NONE) {
    if (f->assign.n >= f->cfg.max_emitters) return ALEC_ENOSPC;
    int r = alec_fleet__map_reserve(&f->assign, 1);
    if (r) return r;
  }
  map_put(&f->assign, id, (uint32_t)g);
  uint32_t ei = map_find(&f->emap, id);
  if (ei != NONE) {
    emitter *e = &f->em[ei];
    if (e->group != (uint16_t)g) {
      e->group = (uint16_t)g;
      f->members_dirty = 1;
      fchan *ch = chans(e);
      for (unsigned i = 0; i < e->n_ch; i++) {
        ch[i].gc = alec_fleet__gc_lookup(f, e->group, ch[i].id);
        chan_restart(&ch[i]);
      }
    }
  }
  return 0;
}

/* Assignments are bounded by max_emitters: a receiver that assigns groups
 * to emitters it learns (metadata, unauthenticated ones) releases them when
 * it forgets the emitter. */
int alec_fleet_clear_emitter_group(alec_fleet *f, uint64_t id) {
  if (!f) return ALEC_EINVAL;
  if (map_find(&f->assign, id) == NONE) return 0;
  int rc = alec_fleet_set_emitter_group(f, id, "");
  if (rc) return rc;
  alec_fleet__map_del(&f->assign, id);
  return 0;
}
