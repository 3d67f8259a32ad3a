/* SPDX-License-Identifier: MIT */
/* Fleet module: per-emitter decoders and O(1) statistics, robust cross-fleet
 * scoring, drift detection, fleet shifts, receiver-side pattern learning.
 * The design choices and their sources are in include/alec/fleet.h and in
 * part B of the fleet notes (modified z-score: Iglewicz & Hoaglin 1993;
 * CUSUM: Page 1954, NIST/SEMATECH 6.3.2.3; hysteresis + dwell as in
 * Prometheus `for`/`keep_firing_for` and collectd's Hits). */
/* madvise(MADV_HUGEPAGE) is outside POSIX; without it (other systems) the
 * large arrays are plain allocations. */
#define _DEFAULT_SOURCE
#include "alec/fleet.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "alec/preload.h"
#include "alec/wire.h"

#define NONE UINT32_MAX
/* 0.6745 = Phi^-1(0.75): makes MAD-scaled deviations comparable to sigmas. */
#define MAD_SCALE 0.6745
/* Scores are clamped so that inf/NaN never enter the CUSUM or the baselines
 * even with values near DBL_MAX. */
#define Z_CLAMP 1e9
/* Weight of the per-value EW mean/variance exposed by the accessors. */
#define VALUE_EW_ALPHA 0.1
/* Receiver-side pattern learner: candidate slots per emitter, and how many of
 * an emitter's values a learned pattern survives without being seen again. */
#define PAT_SLOTS 8
#define PAT_EXPIRE 4096u
/* Bound on group+channel slots whatever the configuration says. */
#define GC_HARD_LIMIT (1u << 20)

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 1, 3)
#define PREFETCH_RO(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)(p))
#define PREFETCH_RO(p) ((void)(p))
#endif

/* ------------------------------------------------------- large arrays */

/* The emitter array and the id table of a large fleet are tens of MB read
 * at random: with 4 KiB pages nearly every frame also misses the TLB, and the
 * page walk adds to the chain of dependent misses (measured earlier, 100,000
 * emitters cold: 649 -> 564 ns per frame with huge pages). Tables of 2 MiB
 * or more are therefore 2 MiB aligned (rounded up to whole 2 MiB pages) and
 * offered to transparent huge pages; the kernel may ignore the advice,
 * nothing depends on it. free() releases them like any allocation. */
#define HUGE_BYTES ((size_t)2 << 20)

static void *big_alloc(size_t bytes) {
#ifdef MADV_HUGEPAGE
  if (bytes >= HUGE_BYTES) {
    size_t sz = (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_BYTES, sz) != 0) return NULL;
    (void)madvise(p, sz, MADV_HUGEPAGE);
    return p;
  }
#endif
  return malloc(bytes);
}

/* Growing a large array: realloc moves it without copying (mremap), where a
 * fresh aligned block would copy it and fault it in again at once (measured:
 * creating 100,000 emitters 2-3x slower). The whole 2 MiB pages inside the
 * block are advised instead; its ragged ends stay small pages. */
static void *big_realloc(void *old, size_t bytes) {
  void *p = realloc(old, bytes);
#ifdef MADV_HUGEPAGE
  if (p && bytes >= 2 * HUGE_BYTES) {
    uintptr_t a = ((uintptr_t)p + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1);
    uintptr_t b = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE_BYTES - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
  }
#endif
  return p;
}

/* ------------------------------------------------------------------ maps */

/* Open addressing, linear probing, backward-shift deletion: O(1) expected
 * with no tombstones to accumulate. Emitter ids come from the network, so
 * keys are mixed with a per-table secret seed: without it, ids chosen to
 * share their low hash bits would turn every lookup into a long probe. */
typedef struct map_slot {
  uint64_t key;
  uint32_t val; /* NONE = empty */
  uint32_t pad;
  /* The emitter map keeps the decoder here: decoding can start as soon as
   * the slot is read, while the emitter's own block is still on its way. */
  void *aux;
} map_slot;

typedef struct u64map {
  map_slot *s;
  uint32_t mask; /* capacity - 1, capacity a power of two; 0 when unallocated */
  uint32_t n;
  uint64_t seed;
} u64map;

static uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static uint32_t hslot(const u64map *m, uint64_t key) {
  return (uint32_t)mix64(key ^ m->seed) & m->mask;
}

static const map_slot *map_slot_of(const u64map *m, uint64_t key) {
  if (m->mask == 0) return NULL;
  uint32_t i = hslot(m, key);
  for (;;) {
    const map_slot *s = &m->s[i];
    if (s->val == NONE) return NULL;
    if (s->key == key) return s;
    i = (i + 1) & m->mask;
  }
}

static uint32_t map_find(const u64map *m, uint64_t key) {
  const map_slot *s = map_slot_of(m, key);
  return s ? s->val : NONE;
}

static int map_rehash(u64map *m, uint32_t cap) {
  map_slot *ns = big_alloc((size_t)cap * sizeof *ns);
  if (!ns) return ALEC_ENOMEM;
  for (uint32_t i = 0; i < cap; i++)
    ns[i].val = NONE, ns[i].key = 0, ns[i].pad = 0, ns[i].aux = NULL;
  uint32_t nmask = cap - 1;
  if (m->mask)
    for (uint32_t i = 0; i <= m->mask; i++) {
      if (m->s[i].val == NONE) continue;
      uint32_t j = (uint32_t)mix64(m->s[i].key ^ m->seed) & nmask;
      while (ns[j].val != NONE) j = (j + 1) & nmask;
      ns[j] = m->s[i];
    }
  free(m->s);
  m->s = ns;
  m->mask = nmask;
  return 0;
}

/* Makes room for `extra` more keys (load factor <= 1/2). */
static int map_reserve(u64map *m, uint32_t extra) {
  uint64_t need = ((uint64_t)m->n + extra) * 2;
  uint64_t cap = m->mask ? (uint64_t)m->mask + 1 : 0;
  if (need <= cap) return 0;
  uint64_t ncap = cap ? cap : 16;
  while (ncap < need) ncap *= 2;
  if (ncap > (1ull << 31)) return ALEC_ENOMEM;
  return map_rehash(m, (uint32_t)ncap);
}

/* Inserts or overwrites; the caller reserved room. */
static void map_put_aux(u64map *m, uint64_t key, uint32_t val, void *aux) {
  uint32_t i = hslot(m, key);
  while (m->s[i].val != NONE) {
    if (m->s[i].key == key) {
      m->s[i].val = val;
      m->s[i].aux = aux;
      return;
    }
    i = (i + 1) & m->mask;
  }
  m->s[i].key = key;
  m->s[i].val = val;
  m->s[i].aux = aux;
  m->n++;
}

static void map_put(u64map *m, uint64_t key, uint32_t val) { map_put_aux(m, key, val, NULL); }

static void map_del(u64map *m, uint64_t key) {
  if (m->mask == 0) return;
  uint32_t i = hslot(m, key);
  for (;;) {
    if (m->s[i].val == NONE) return;
    if (m->s[i].key == key) break;
    i = (i + 1) & m->mask;
  }
  /* Backward shift: pull later members of the probe run into the hole when
   * their home slot does not lie cyclically in (hole, j]. */
  uint32_t hole = i, j = i;
  for (;;) {
    j = (j + 1) & m->mask;
    if (m->s[j].val == NONE) break;
    uint32_t home = hslot(m, m->s[j].key);
    int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      m->s[hole] = m->s[j];
      hole = j;
    }
  }
  m->s[hole].val = NONE;
  m->n--;
}

static size_t map_memory(const u64map *m) {
  return m->mask ? ((size_t)m->mask + 1) * sizeof(map_slot) : 0;
}

/* ------------------------------------------------------------- structures */

typedef struct fchan {
  uint32_t id;
  uint32_t gc;    /* group+channel slot, NONE: not scored */
  uint8_t state;  /* alec_fleet_state */
  uint8_t reason; /* ALEC_FLEET_REASON_* of the current anomaly */
  uint8_t has_level;
  uint8_t scored;    /* takes part in the running evaluation */
  uint16_t above;    /* consecutive out-of-band evaluations while NORMAL */
  uint16_t below;    /* consecutive in-band evaluations while anomalous */
  uint16_t sev_up;   /* consecutive evaluations past z_failure while WARNING */
  uint16_t sev_down; /* consecutive evaluations well below it while FAILURE */
  uint32_t fresh_n;  /* values since the last evaluation */
  uint32_t evals;
  uint32_t base_n; /* in-control evaluations that fed base_z */
  uint64_t values;
  double fresh_sum;
  double last, mean, var;
  double level;
  /* Scores live in z units, where float's 7 digits are plenty; it keeps a
   * channel within 96 bytes. */
  float score, base_z, cpos, cneg;
} fchan;

typedef struct pat_slot {
  uint64_t bits;
  uint32_t count; /* 0 = empty */
  uint32_t last;  /* emitter value clock when last seen */
} pat_slot;

/* Channels of an emitter live inside it up to INLINE_CH (one block of
 * memory per emitter, fetched together); more go to the heap. */
#define INLINE_CH 4

/* Fields touched by every frame come first. */
typedef struct emitter {
  alec_decoder *dec;
  fchan *xch; /* heap channels when n_ch > INLINE_CH, else NULL */
  uint16_t n_ch, cap_ch;
  uint16_t group;
  uint16_t pad;
  uint32_t pat_clock;
  uint32_t pad2;
  double last_seen;
  uint64_t frames, values, bytes;
  uint64_t gaps, resets, resyncs;
  uint64_t prio[5];
  pat_slot pat[PAT_SLOTS];
  fchan inl[INLINE_CH];
  uint64_t id;
  double first_seen;
  uint64_t decode_errors, replays, unreliable, nonfinite;
  uint32_t *errors; /* ALEC_FLEET_NERRORS counters, allocated on the first error */
} emitter;

static fchan *chans(emitter *e) { return e->xch ? e->xch : e->inl; }
static const fchan *cchans(const emitter *e) { return e->xch ? e->xch : e->inl; }

typedef struct gcslot {
  uint16_t group;
  uint8_t valid; /* median/mad of this evaluation are meaningful */
  uint8_t shift_on;
  int8_t shift_dir;
  uint8_t pad[3];
  uint32_t channel;
  uint32_t n;        /* fresh peers in the running evaluation */
  uint32_t up, down; /* peers that moved beyond the shift threshold */
  uint32_t s_above, s_below;
  uint32_t base_n;
  size_t off, fill;
  double median, mad;
  double base_median, base_mad;
} gcslot;

typedef struct group {
  char name[ALEC_FLEET_GROUP_MAX + 1];
} group;

struct alec_fleet {
  alec_fleet_config cfg;
  emitter *em;
  uint32_t n_em, cap_em;
  u64map emap;   /* id -> index into em */
  u64map assign; /* id -> group index (operator assignments) */
  group *groups;
  uint32_t n_groups, cap_groups;
  gcslot *gcs;
  uint32_t n_gc, cap_gc, max_gc;
  u64map gcmap;        /* (group << 32 | channel) -> index into gcs */
  alec_decoder *spare; /* decoder tried on frames of unknown emitters */
  alec_context *fctx;
  double *scratch;
  size_t cap_scratch;
  uint64_t *pscratch;
  size_t cap_pscratch;
  int have_sync;
  double last_sync;
  alec_fleet_stats st; /* cumulative counters (gauges are computed on demand) */
  alec_value vbuf[ALEC_FLEET_MAX_VALUES];
};

/* ----------------------------------------------------------------- config */

void alec_fleet_config_init(alec_fleet_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_emitters = 1000;
  cfg->max_channels = 16;
  cfg->max_groups = 64;
  cfg->emitter_timeout = 300.0;
  cfg->z_enter = 3.5;
  cfg->z_exit = 2.5;
  cfg->z_failure = 7.0;
  cfg->enter_count = 3;
  cfg->exit_count = 5;
  cfg->min_peers = 3;
  cfg->mad_floor = 0.01;
  cfg->level_alpha = 1.0;
  cfg->cusum_k = 0.5;
  cfg->cusum_h = 10.0;
  cfg->baseline_alpha = 0.01;
  cfg->drift_warmup = 50;
  cfg->sync_interval = 60.0;
  cfg->shift_mads = 5.0;
  cfg->shift_fraction = 0.5;
  cfg->shift_alpha = 0.05;
  cfg->pattern_min_count = 3;
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

/* Not cryptographic, only unpredictable from the network: /dev/urandom when
 * there is one, else the object's address (ASLR) and the clocks. */
static uint64_t random_seed(const void *obj) {
  uint64_t seed = 0;
  FILE *fp = fopen("/dev/urandom", "rb");
  if (fp) {
    if (fread(&seed, sizeof seed, 1, fp) != 1) seed = 0;
    fclose(fp);
  }
  seed ^= mix64((uint64_t)(uintptr_t)obj) ^ mix64((uint64_t)time(NULL)) ^ (uint64_t)clock();
  return seed;
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
  uint64_t seed = random_seed(f);
  f->emap.seed = seed;
  f->assign.seed = mix64(seed);
  f->gcmap.seed = mix64(seed + 1);
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

static void emitter_release(emitter *e) {
  alec_decoder_free(e->dec);
  free(e->xch);
  free(e->errors);
  e->dec = NULL;
  e->xch = NULL;
  e->errors = NULL;
}

void alec_fleet_free(alec_fleet *f) {
  if (!f) return;
  for (uint32_t i = 0; i < f->n_em; i++) emitter_release(&f->em[i]);
  free(f->em);
  free(f->emap.s);
  free(f->assign.s);
  free(f->groups);
  free(f->gcs);
  free(f->gcmap.s);
  alec_decoder_free(f->spare);
  alec_context_free(f->fctx);
  free(f->scratch);
  free(f->pscratch);
  free(f);
}

const alec_fleet_config *alec_fleet_get_config(const alec_fleet *f) { return f ? &f->cfg : NULL; }

/* ------------------------------------------------------------ gc slots */

static uint32_t gc_lookup(alec_fleet *f, uint16_t g, uint32_t channel) {
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
  if (map_reserve(&f->gcmap, 1) != 0) return NONE;
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
    int r = map_reserve(&f->assign, 1);
    if (r) return r;
  }
  map_put(&f->assign, id, (uint32_t)g);
  uint32_t ei = map_find(&f->emap, id);
  if (ei != NONE) {
    emitter *e = &f->em[ei];
    if (e->group != (uint16_t)g) {
      e->group = (uint16_t)g;
      fchan *ch = chans(e);
      for (unsigned i = 0; i < e->n_ch; i++) {
        ch[i].gc = gc_lookup(f, e->group, ch[i].id);
        chan_restart(&ch[i]);
      }
    }
  }
  return 0;
}

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
  c->gc = gc_lookup(f, e->group, id);
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

static int pat_learned(const alec_fleet *f, const emitter *e, const pat_slot *p) {
  return f->cfg.pattern_min_count && p->count >= f->cfg.pattern_min_count &&
         e->pat_clock - p->last <= PAT_EXPIRE;
}

static void observe(alec_fleet *f, emitter *e, fchan *c, double v) {
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
  double s = c->fresh_sum + v;
  if (!isfinite(s)) { /* keep the latest value only */
    c->fresh_sum = v;
    c->fresh_n = 1;
  } else {
    c->fresh_sum = s;
    if (c->fresh_n < UINT32_MAX) c->fresh_n++;
  }
  learn(f, e, v);
}

/* Room for one more emitter (the caller checked max_emitters). */
static int em_reserve(alec_fleet *f) {
  if (f->n_em < f->cap_em) return 0;
  uint32_t nc = f->cap_em ? f->cap_em * 2 : 16;
  if (nc > f->cfg.max_emitters) nc = f->cfg.max_emitters;
  emitter *ne = big_realloc(f->em, (size_t)nc * sizeof *ne);
  if (!ne) return ALEC_ENOMEM;
  f->em = ne;
  f->cap_em = nc;
  return 0;
}

static int emitter_create(alec_fleet *f, uint64_t id, double now, alec_decoder *dec) {
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

/* now is finite and f valid: the public entry points checked. */
static int process_one(alec_fleet *f, uint64_t id, alec_format fmt, unsigned channels,
                       const uint8_t *frame, size_t len, double now, alec_fleet_value *out,
                       size_t cap, alec_frame_info *info) {
  if ((!frame && len) || (cap && !out)) return ALEC_EINVAL;
  if (fmt == ALEC_FORMAT_FIXED && (channels < 1 || channels > ALEC_FIXED_MAX_CHANNELS))
    return ALEC_EINVAL;
  alec_frame_info fi;
  memset(&fi, 0, sizeof fi);
  int n;
  emitter *e;
  const map_slot *slot = map_slot_of(&f->emap, id);
  uint32_t ei = slot ? slot->val : NONE;
  if (ei == NONE) {
    if (f->n_em >= f->cfg.max_emitters) {
      f->st.rejected_emitters++;
      return ALEC_ENOSPC;
    }
    /* Reserve everything creation needs before decoding: once the decoder
     * accepted the frame, creating the emitter must not fail. */
    if (em_reserve(f) != 0) return ALEC_ENOMEM;
    if (map_reserve(&f->emap, 1) != 0) return ALEC_ENOMEM;
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
    ei = (uint32_t)emitter_create(f, id, now, f->spare);
    f->spare = NULL;
    e = &f->em[ei];
  } else {
    /* With 10^5 emitters the state is far out of cache: start fetching the
     * decoder's block and our part of the emitter together, so that their
     * misses overlap instead of following one another. */
    alec_decoder_prefetch((const alec_decoder *)slot->aux);
    e = &f->em[ei];
    for (size_t o = 0; o < offsetof(emitter, id); o += 64) PREFETCH((const char *)e + o);
    n = alec_decoder_decode((alec_decoder *)slot->aux, fmt, channels, frame, len, f->vbuf,
                            ALEC_FLEET_MAX_VALUES, &fi);
    if (n < 0) {
      count_error(f, e, n);
      return n;
    }
  }
  if (n > ALEC_FLEET_MAX_VALUES) n = ALEC_FLEET_MAX_VALUES;
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
    if (c && usable) observe(f, e, c, v->value);
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
  return n;
}

int alec_fleet_process(alec_fleet *f, uint64_t id, alec_format fmt, unsigned channels,
                       const uint8_t *frame, size_t len, double now, alec_fleet_value *out,
                       size_t cap, alec_frame_info *info) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  return process_one(f, id, fmt, channels, frame, len, now, out, cap, info);
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

static void prefetch_slot(const alec_fleet *f, const alec_fleet_frame *fr) {
  if (f->emap.mask) PREFETCH(&f->emap.s[hslot(&f->emap, fr->emitter_id)]);
  if (fr->data && fr->len) PREFETCH_RO(fr->data);
}

static void prefetch_state(const alec_fleet *f, uint64_t id) {
  const map_slot *s = map_slot_of(&f->emap, id);
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
  for (size_t i = 0; i < n && i < SLOT_AHEAD; i++) prefetch_slot(f, &frames[i]);
  for (size_t i = 0; i < n && i < STATE_AHEAD; i++) prefetch_state(f, frames[i].emitter_id);
  for (size_t i = 0; i < n; i++) {
    if (i + SLOT_AHEAD < n) prefetch_slot(f, &frames[i + SLOT_AHEAD]);
    if (i + STATE_AHEAD < n) prefetch_state(f, frames[i + STATE_AHEAD].emitter_id);
    const alec_fleet_frame *fr = &frames[i];
    int r = process_one(f, fr->emitter_id, fr->fmt, fr->channels, fr->data, fr->len, now, fr->out,
                        fr->cap, fr->info);
    if (results) results[i] = r;
    if (r >= 0) ok++;
  }
  return ok > (size_t)INT_MAX ? INT_MAX : (int)ok;
}

/* ------------------------------------------------------------ evaluation */

static void swapd(double *a, double *b) {
  double t = *a;
  *a = *b;
  *b = t;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* k-th smallest of a[0..n) (partially reorders a). Quickselect with a
 * median-of-three pivot; after 2 log2(n) + 8 rounds it falls back to qsort
 * of what is left, so adversarial values cannot make it quadratic. */
static double select_k(double *a, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  unsigned budget = 8;
  for (size_t m = n; m > 1; m >>= 1) budget += 2;
  while (hi > lo) {
    if (budget-- == 0) {
      qsort(a + lo, hi - lo + 1, sizeof *a, cmpd);
      return a[k];
    }
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo]) swapd(&a[mid], &a[lo]);
    if (a[hi] < a[lo]) swapd(&a[hi], &a[lo]);
    if (a[hi] < a[mid]) swapd(&a[hi], &a[mid]);
    double p = a[mid];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        swapd(&a[i], &a[j]);
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return a[k];
  }
  return a[k];
}

/* Median of a[0..n), n >= 1; a is reordered. */
static double median_of(double *a, size_t n) {
  size_t k = (n - 1) / 2;
  double lo = select_k(a, n, k);
  if (n % 2) return lo;
  double hi = a[k + 1];
  for (size_t i = k + 2; i < n; i++)
    if (a[i] < hi) hi = a[i];
  /* Halves first: the sum of two large values must not overflow. */
  return 0.5 * lo + 0.5 * hi;
}

static double clampz(double z) {
  if (z != z) return 0.0;
  if (z > Z_CLAMP) return Z_CLAMP;
  if (z < -Z_CLAMP) return -Z_CLAMP;
  return z;
}

static int is_active(const alec_fleet *f, const emitter *e, double now) {
  double age = now - e->last_seen;
  return !(age >= f->cfg.emitter_timeout); /* negative age (clock went back): active */
}

typedef struct evctx {
  alec_fleet *f;
  alec_fleet_event_cb cb;
  void *arg;
  double now;
  int count;
} evctx;

static void emit(evctx *x, alec_fleet_event *ev) {
  x->count++;
  ev->time = x->now;
  if (x->cb) x->cb(ev, x->arg);
}

static void shift_step(evctx *x, gcslot *s) {
  const alec_fleet_config *c = &x->f->cfg;
  if (s->base_n >= c->drift_warmup) {
    double thr = c->shift_mads * s->base_mad;
    double d = s->median - s->base_median;
    double frac_up = (double)s->up / (double)s->n, frac_down = (double)s->down / (double)s->n;
    double score = d / s->base_mad;
    alec_fleet_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = ALEC_FLEET_EVENT_SHIFT;
    ev.group = x->f->groups[s->group].name;
    ev.channel = s->channel;
    ev.value = s->median;
    ev.median = s->base_median;
    ev.mad = s->base_mad;
    ev.score = clampz(score);
    ev.peers = s->n;
    if (!s->shift_on) {
      int cand =
          (d > thr && frac_up >= c->shift_fraction) || (d < -thr && frac_down >= c->shift_fraction);
      s->s_above = cand ? s->s_above + 1 : 0;
      if (s->s_above >= c->enter_count) {
        s->shift_on = 1;
        s->shift_dir = d > 0 ? 1 : -1;
        s->s_above = s->s_below = 0;
        x->f->st.shift_events++;
        ev.severity = ALEC_FLEET_WARNING;
        ev.previous = ALEC_FLEET_NORMAL;
        emit(x, &ev);
      }
    } else {
      int back = fabs(d) < thr * (c->z_exit / c->z_enter);
      s->s_below = back ? s->s_below + 1 : 0;
      if (s->s_below >= c->exit_count) {
        s->shift_on = 0;
        s->shift_dir = 0;
        s->s_above = s->s_below = 0;
        ev.severity = ALEC_FLEET_NORMAL;
        ev.previous = ALEC_FLEET_WARNING;
        emit(x, &ev);
      }
    }
  }
  /* The baseline follows the fleet (slowly), so a lasting shift becomes the
   * new normal and its event ends. */
  if (s->base_n < UINT32_MAX) s->base_n++;
  double w = 1.0 / (double)s->base_n;
  if (w < c->shift_alpha) w = c->shift_alpha;
  if (s->base_n == 1) {
    s->base_median = s->median;
    s->base_mad = s->mad;
  } else {
    s->base_median += w * (s->median - s->base_median);
    s->base_mad += w * (s->mad - s->base_mad);
  }
  if (!isfinite(s->base_median)) s->base_median = s->median;
  if (!(s->base_mad >= c->mad_floor) || !isfinite(s->base_mad)) s->base_mad = s->mad;
}

static void chan_step(evctx *x, emitter *e, fchan *ch, const gcslot *s) {
  const alec_fleet_config *c = &x->f->cfg;
  double z = clampz(MAD_SCALE * (ch->level - s->median) / s->mad);
  double az = fabs(z);
  double h = c->cusum_h;
  float hf = (float)h;
  ch->score = (float)z;
  if (ch->evals < UINT32_MAX) ch->evals++;

  /* Drift: two-sided CUSUM of the score against the emitter's own in-control
   * score, so a member that always sits at the edge of a heterogeneous fleet
   * is not a drift. Big deviations belong to the level test: the CUSUM is
   * frozen meanwhile and capped at h, which keeps the return to normal quick. */
  int drift = 0;
  if (h > 0) {
    if (ch->base_n >= c->drift_warmup && az <= c->z_enter) {
      double u = z - ch->base_z;
      double p = ch->cpos + u - c->cusum_k, q = ch->cneg - u - c->cusum_k;
      /* Capped at h as stored (float): the alarm test below must see the
       * cap itself, whatever h's rounding. */
      ch->cpos = p < 0 ? 0.0f : (p >= hf ? hf : (float)p);
      ch->cneg = q < 0 ? 0.0f : (q >= hf ? hf : (float)q);
    }
    drift = ch->cpos >= hf || ch->cneg >= hf;
    if (ch->state == ALEC_FLEET_NORMAL && az <= c->z_enter && ch->cpos < h / 2 &&
        ch->cneg < h / 2) {
      if (ch->base_n < UINT32_MAX) ch->base_n++;
      double w = 1.0 / (double)ch->base_n;
      if (w < c->baseline_alpha) w = c->baseline_alpha;
      ch->base_z = (float)(ch->base_z + w * (z - ch->base_z));
    }
  }
  int level = az > c->z_enter;
  int out_band = level || drift;
  int in_band = az < c->z_exit && (h <= 0 || (ch->cpos < h / 2 && ch->cneg < h / 2));
  if (s->shift_on) out_band = 0; /* the group moved: one fleet event instead */

  alec_fleet_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = ALEC_FLEET_EVENT_EMITTER;
  ev.emitter_id = e->id;
  ev.group = x->f->groups[e->group].name;
  ev.channel = ch->id;
  ev.value = ch->level;
  ev.median = s->median;
  ev.mad = s->mad;
  ev.score = z;
  ev.cusum = ch->cpos > ch->cneg ? ch->cpos : ch->cneg;
  ev.peers = s->n;
  ev.previous = (alec_fleet_state)ch->state;
  ev.reason = (level ? ALEC_FLEET_REASON_LEVEL : 0u) | (drift ? ALEC_FLEET_REASON_DRIFT : 0u);

  if (ch->state == ALEC_FLEET_NORMAL) {
    ch->above = out_band ? (uint16_t)(ch->above + 1) : 0;
    if (ch->above >= c->enter_count) {
      ch->state = az > c->z_failure ? ALEC_FLEET_FAILURE : ALEC_FLEET_WARNING;
      ch->reason = (uint8_t)ev.reason;
      ch->above = ch->below = ch->sev_up = ch->sev_down = 0;
      x->f->st.anomaly_entries++;
      ev.severity = (alec_fleet_state)ch->state;
      emit(x, &ev);
    }
    return;
  }
  ch->below = in_band ? (uint16_t)(ch->below + 1) : 0;
  if (ch->below >= c->exit_count) {
    ch->state = ALEC_FLEET_NORMAL;
    ch->above = ch->below = ch->sev_up = ch->sev_down = 0;
    ch->reason = 0;
    x->f->st.anomaly_exits++;
    ev.severity = ALEC_FLEET_NORMAL;
    emit(x, &ev);
    return;
  }
  if (ev.reason) ch->reason = (uint8_t)ev.reason;
  /* Severity changes use the same dwell and a hysteresis as wide as the
   * enter/exit one. */
  if (ch->state == ALEC_FLEET_WARNING) {
    ch->sev_up = az > c->z_failure ? (uint16_t)(ch->sev_up + 1) : 0;
    if (ch->sev_up >= c->enter_count) {
      ch->state = ALEC_FLEET_FAILURE;
      ch->sev_up = ch->sev_down = 0;
      ev.severity = ALEC_FLEET_FAILURE;
      emit(x, &ev);
    }
  } else if (ch->below == 0) { /* already on its way to OKAY: no WARNING in between */
    ch->sev_down = az < c->z_failure - (c->z_enter - c->z_exit) ? (uint16_t)(ch->sev_down + 1) : 0;
    if (ch->sev_down >= c->exit_count) {
      ch->state = ALEC_FLEET_WARNING;
      ch->sev_up = ch->sev_down = 0;
      ev.severity = ALEC_FLEET_WARNING;
      emit(x, &ev);
    }
  }
}

static int ensure_scratch(alec_fleet *f, size_t need) {
  if (need <= f->cap_scratch) return 0;
  size_t nc = f->cap_scratch ? f->cap_scratch : 256;
  while (nc < need) nc *= 2;
  double *n = realloc(f->scratch, nc * sizeof *n);
  if (!n) return ALEC_ENOMEM;
  f->scratch = n;
  f->cap_scratch = nc;
  return 0;
}

int alec_fleet_evaluate(alec_fleet *f, double now, alec_fleet_event_cb cb, void *arg) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  const alec_fleet_config *c = &f->cfg;
  size_t total = 0;
  for (uint32_t i = 0; i < f->n_em; i++) total += f->em[i].n_ch;
  if (ensure_scratch(f, total) != 0) return ALEC_ENOMEM;

  for (uint32_t g = 0; g < f->n_gc; g++) {
    gcslot *s = &f->gcs[g];
    s->n = s->up = s->down = 0;
    s->valid = 0;
  }
  /* Pass 1: fold fresh values into levels, count peers per group+channel and
   * how many moved beyond the shift threshold of the previous baseline. */
  for (uint32_t i = 0; i < f->n_em; i++) {
    emitter *e = &f->em[i];
    int active = is_active(f, e, now);
    for (unsigned j = 0; j < e->n_ch; j++) {
      fchan *ch = &chans(e)[j];
      ch->scored = 0;
      if (ch->fresh_n == 0) continue;
      double m = ch->fresh_sum / (double)ch->fresh_n;
      ch->fresh_sum = 0;
      ch->fresh_n = 0;
      if (!ch->has_level) {
        ch->level = m;
        ch->has_level = 1;
      } else {
        double l = ch->level + c->level_alpha * (m - ch->level);
        ch->level = isfinite(l) ? l : m;
      }
      if (!active || ch->gc == NONE) continue;
      gcslot *s = &f->gcs[ch->gc];
      ch->scored = 1;
      s->n++;
      if (s->base_n > 0) {
        double thr = c->shift_mads * s->base_mad;
        double d = ch->level - s->base_median;
        if (d > thr) s->up++;
        if (d < -thr) s->down++;
      }
    }
  }
  size_t off = 0;
  for (uint32_t g = 0; g < f->n_gc; g++) {
    f->gcs[g].off = f->gcs[g].fill = off;
    off += f->gcs[g].n;
  }
  /* Pass 2: gather the levels of each group+channel contiguously. */
  for (uint32_t i = 0; i < f->n_em; i++) {
    emitter *e = &f->em[i];
    for (unsigned j = 0; j < e->n_ch; j++) {
      fchan *ch = &chans(e)[j];
      if (!ch->scored) continue;
      f->scratch[f->gcs[ch->gc].fill++] = ch->level;
    }
  }
  evctx x = {f, cb, arg, now, 0};
  /* Pass 3: robust baseline per group+channel, fleet shifts. */
  for (uint32_t g = 0; g < f->n_gc; g++) {
    gcslot *s = &f->gcs[g];
    if (s->n < c->min_peers) continue;
    double *a = f->scratch + s->off;
    s->median = median_of(a, s->n);
    for (uint32_t k = 0; k < s->n; k++) a[k] = fabs(a[k] - s->median);
    double mad = median_of(a, s->n);
    s->mad = (mad >= c->mad_floor && isfinite(mad)) ? mad : (isfinite(mad) ? c->mad_floor : 1e300);
    s->valid = 1;
    shift_step(&x, s);
    /* Scores divide by the larger of this evaluation's MAD and its recent
     * average: the MAD of a small group dips by chance (10 peers: by half,
     * often), and every score would jump with it. A real widening of the
     * fleet still counts at once. */
    if (s->base_n > 1 && s->base_mad > s->mad) s->mad = s->base_mad;
  }
  /* Pass 4: score every fresh emitter+channel, run its state machine. */
  for (uint32_t i = 0; i < f->n_em; i++) {
    emitter *e = &f->em[i];
    for (unsigned j = 0; j < e->n_ch; j++) {
      fchan *ch = &chans(e)[j];
      if (!ch->scored) continue;
      ch->scored = 0;
      const gcslot *s = &f->gcs[ch->gc];
      if (!s->valid) continue;
      chan_step(&x, e, ch, s);
    }
  }
  f->st.evaluations++;
  if (!f->have_sync || now < f->last_sync) {
    f->have_sync = 1;
    f->last_sync = now;
  } else if (c->sync_interval > 0 && now - f->last_sync >= c->sync_interval) {
    f->last_sync = now;
    (void)alec_fleet_sync_patterns(f, now);
  }
  return x.count;
}

/* ---------------------------------------------------------------- patterns */

static int cmpu64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static int fleet_has_pattern(const alec_context *ctx, const uint8_t *data, size_t len) {
  alec_pattern_info pi;
  for (size_t i = 0; alec_context_pattern_at(ctx, i, &pi) == 0; i++)
    if (pi.len == len && memcmp(pi.data, data, len) == 0) return 1;
  return 0;
}

int alec_fleet_sync_patterns(alec_fleet *f, double now) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  if (f->cfg.pattern_min_count == 0) return 0;
  size_t active = 0, np = 0;
  for (uint32_t i = 0; i < f->n_em; i++)
    if (is_active(f, &f->em[i], now)) active++;
  if (active < 2) return 0;
  size_t need = active * PAT_SLOTS;
  if (need > f->cap_pscratch) {
    uint64_t *n = realloc(f->pscratch, need * sizeof *n);
    if (!n) return ALEC_ENOMEM;
    f->pscratch = n;
    f->cap_pscratch = need;
  }
  for (uint32_t i = 0; i < f->n_em; i++) {
    const emitter *e = &f->em[i];
    if (!is_active(f, e, now)) continue;
    for (int k = 0; k < PAT_SLOTS; k++)
      if (pat_learned(f, e, &e->pat[k])) f->pscratch[np++] = e->pat[k].bits;
  }
  /* Sorting groups equal patterns: each emitter contributes a value at most
   * once (its slots hold distinct values), so a run length is a count of
   * emitters. */
  qsort(f->pscratch, np, sizeof *f->pscratch, cmpu64);
  int promoted = 0;
  for (size_t i = 0; i < np;) {
    size_t j = i + 1;
    while (j < np && f->pscratch[j] == f->pscratch[i]) j++;
    if ((j - i) * 2 > active) {
      uint8_t data[8];
      alec_wr_be64(data, f->pscratch[i]);
      if (!fleet_has_pattern(f->fctx, data, 8)) {
        double v = alec_f64_from_bits(f->pscratch[i]);
        uint32_t code;
        int r = alec_context_register_pattern(f->fctx, data, 8, &v, &code);
        if (r < 0) return promoted ? promoted : r;
        promoted++;
        f->st.patterns_promoted++;
      }
    }
    i = j;
  }
  return promoted;
}

alec_context *alec_fleet_context(alec_fleet *f) { return f ? f->fctx : NULL; }
const alec_context *alec_fleet_context_const(const alec_fleet *f) { return f ? f->fctx : NULL; }

int alec_fleet_export_context(const alec_fleet *f, const char *path) {
  if (!f || !path) return ALEC_EINVAL;
  return alec_preload_save_file(f->fctx, path, "fleet", 0, f->st.values);
}

int alec_fleet_import_context(alec_fleet *f, const char *path) {
  if (!f || !path) return ALEC_EINVAL;
  return alec_preload_load_file(f->fctx, path, NULL);
}

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
  if (em_reserve(f) != 0) return ALEC_ENOMEM;
  if (map_reserve(&f->emap, 1) != 0) return ALEC_ENOMEM;
  alec_decoder *dec = NULL;
  int r = alec_decoder_new(&dec, &f->cfg.decoder);
  if (r < 0) return r;
  r = alec_decoder_load(dec, state, len);
  if (r < 0) {
    alec_decoder_free(dec);
    return r;
  }
  emitter_create(f, id, last_seen, dec);
  return 0;
}

static void remove_at(alec_fleet *f, uint32_t i) {
  emitter *e = &f->em[i];
  map_del(&f->emap, e->id);
  emitter_release(e);
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

int alec_fleet_remove_stale(alec_fleet *f, double now) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  int removed = 0;
  double limit = 2.0 * f->cfg.emitter_timeout;
  for (uint32_t i = 0; i < f->n_em;) {
    double age = now - f->em[i].last_seen; /* negative when the clock went back: kept */
    if (age > limit) {
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
             alec_context_memory(f->fctx);
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

const char *alec_fleet_state_name(alec_fleet_state s) {
  switch (s) {
  case ALEC_FLEET_NORMAL: return "okay";
  case ALEC_FLEET_WARNING: return "warning";
  case ALEC_FLEET_FAILURE: return "failure";
  }
  return "unknown";
}
