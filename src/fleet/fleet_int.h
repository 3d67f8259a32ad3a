/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FLEET_INT_H
#define ALEC_FLEET_INT_H

/* Layout of alec_fleet and its internals, shared by the fleet_*.c files only
 * (not installed). Helpers on the per-frame path are static inline here so
 * that splitting the module by concern costs no calls. */
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

#include "alec/hash.h"
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
/* A group+channel baseline is refreshed once 1/REFRESH_DIV of its active
 * members have a value waiting to be scored, or when the oldest waited
 * 1/REFRESH_DIV of the group's reporting period: about REFRESH_DIV
 * selections per period whatever the group size (a value costs about
 * REFRESH_DIV member visits), and a score waits at most that long. */
#define REFRESH_DIV 4u
/* A baseline is taken over at most SAMPLE_MAX members: larger groups are
 * sampled with a stride whose offset rotates at each refresh. The median
 * of 1024 has a standard error of about 4 % of the spread, far below what
 * a threshold of 3.5 MADs can tell, and the cost of a refresh no longer
 * grows with the group. */
#define SAMPLE_MAX 1024u
/* Reporting period estimate: EWMA weight per report, after a plain mean of
 * the first PERIOD_WARMUP intervals. Frames closer than REPORT_GAP periods
 * (or 1 ms) to the previous one belong to the same report (one frame per
 * channel, a retransmission). One interval counts for at most twice the
 * estimate, so an outage does not stretch the period it is judged by. */
#define PERIOD_ALPHA 0.1
#define PERIOD_WARMUP 4u
#define REPORT_GAP 0.25
/* Stale and freshness horizons are never shorter than this (s): a receiver
 * that stalls for a few evaluations must not make a 10 ms fleet stale. */
#define STALE_FLOOR 1.0
/* An emitter is overdue (counts towards a group silence) after this many of
 * its periods without a report; a stale emitter's own notification waits up
 * to STALE_HOLD horizons while its group looks like it is going silent. */
#define OVERDUE_PERIODS 2.0
#define STALE_HOLD 2.0
/* A group+channel judges fleet shifts (and follows the common trend) only
 * after drift_warmup refreshes and this many of its reporting periods:
 * while a fleet comes up, its median is that of whoever reported first. */
#define SHIFT_WARM_PERIODS 5.0
/* Channel references in the member and pending lists: emitter index << 8 |
 * channel index (max_channels <= 256, max_emitters < 2^24). */
#define REF(e, c) (((uint32_t)(e) << 8) | (uint32_t)(c))
#define REF_E(r) ((r) >> 8)
#define REF_C(r) ((r)&0xffu)

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 1, 3)
#define PREFETCH_RO(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)(p))
#define PREFETCH_RO(p) ((void)(p))
#endif

/* ------------------------------------------------------------------ maps */

/* Open addressing, linear probing, backward-shift deletion: O(1) expected
 * with no tombstones to accumulate. Emitter ids come from the network, so
 * keys are hashed with the project's keyed hash (alec_hash_id, SipHash
 * under a per-process random key): ids cannot be chosen to share their low
 * hash bits and turn every lookup into a long probe. */
typedef struct map_slot {
  uint64_t key;
  uint32_t val; /* NONE = empty */
  uint32_t hash; /* low bits of the key's hash: growth and deletion do not hash again */
  /* The emitter map keeps the decoder here: decoding can start as soon as
   * the slot is read, while the emitter's own block is still on its way. */
  void *aux;
} map_slot;

typedef struct u64map {
  map_slot *s;
  uint32_t mask; /* capacity - 1, capacity a power of two; 0 when unallocated */
  uint32_t n;
} u64map;

/* Unkeyed: only for what no sender can turn into long probes (a bounded
 * set-associative cache per emitter, the pattern set, where colliding
 * values only evict that emitter's own patterns). */
static inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static inline uint32_t hslot(const u64map *m, uint64_t key) {
  return (uint32_t)alec_hash_id(key) & m->mask;
}

/* With the key's hash already computed (h: alec_hash_id(key), any table
 * size: the batch path hashes each id once for its prefetches and lookup). */
static inline const map_slot *map_slot_of_h(const u64map *m, uint64_t key, uint64_t h) {
  if (m->mask == 0) return NULL;
  uint32_t i = (uint32_t)h & m->mask;
  for (;;) {
    const map_slot *s = &m->s[i];
    if (s->val == NONE) return NULL;
    if (s->key == key) return s;
    i = (i + 1) & m->mask;
  }
}

static inline const map_slot *map_slot_of(const u64map *m, uint64_t key) {
  if (m->mask == 0) return NULL;
  uint32_t i = hslot(m, key);
  for (;;) {
    const map_slot *s = &m->s[i];
    if (s->val == NONE) return NULL;
    if (s->key == key) return s;
    i = (i + 1) & m->mask;
  }
}

static inline uint32_t map_find(const u64map *m, uint64_t key) {
  const map_slot *s = map_slot_of(m, key);
  return s ? s->val : NONE;
}

/* Inserts or overwrites; the caller reserved room. */
static inline void map_put_aux(u64map *m, uint64_t key, uint32_t val, void *aux) {
  uint32_t h = (uint32_t)alec_hash_id(key), i = h & m->mask;
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
  m->s[i].hash = h;
  m->s[i].aux = aux;
  m->n++;
}

static inline void map_put(u64map *m, uint64_t key, uint32_t val) {
  map_put_aux(m, key, val, NULL);
}

static inline size_t map_memory(const u64map *m) {
  return m->mask ? ((size_t)m->mask + 1) * sizeof(map_slot) : 0;
}

/* ------------------------------------------------------------- structures */

typedef struct fchan {
  /* What a baseline refresh reads of every sampled member comes first, so
   * that it is one cache line wherever the channel sits in its emitter. */
  double t_value; /* time of its latest value in the statistics */
  double level;   /* EWMA over its own values, weight level_alpha per value */
  uint8_t has_level;
  uint8_t state;  /* alec_fleet_state */
  uint8_t reason; /* ALEC_FLEET_REASON_* of the current anomaly */
  uint8_t pending;   /* has a value not scored yet (it is in the pending list) */
  uint32_t gc;    /* group+channel slot, NONE: not scored */
  uint32_t id;
  uint16_t above;    /* consecutive out-of-band evaluations while NORMAL */
  uint16_t below;    /* consecutive in-band evaluations while anomalous */
  uint16_t sev_up;   /* consecutive evaluations past z_failure while WARNING */
  uint16_t sev_down; /* consecutive evaluations well below it while FAILURE */
  uint32_t evals;
  uint32_t base_n; /* in-control evaluations that fed base_z */
  /* Scores live in z units, where float's 7 digits are plenty; it keeps a
   * channel within 96 bytes. */
  float score, base_z, cpos, cneg;
  uint64_t values;
  double last, mean, var;
} fchan;

typedef struct pat_slot {
  uint64_t bits;
  uint32_t count; /* 0 = empty */
  uint32_t last;  /* emitter value clock when last seen */
} pat_slot;

/* Alignment of the emitter array (see alec_fleet__em_reserve). */
#define EM_ALIGN 64u

/* Channels of an emitter live inside it up to INLINE_CH (one block of
 * memory per emitter, fetched together); more go to the heap. */
#define INLINE_CH 4

/* Fields touched by every frame come first. */
typedef struct emitter {
  alec_decoder *dec;
  fchan *xch; /* heap channels when n_ch > INLINE_CH, else NULL */
  uint16_t n_ch, cap_ch;
  uint16_t group;
  uint8_t stale; /* STALE_* */
  uint8_t pad;
  uint32_t pat_clock;
  uint32_t period_n; /* intervals that fed period */
  double last_seen;
  double period; /* observed reporting period (s), 0 until two reports */
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

static inline fchan *chans(emitter *e) { return e->xch ? e->xch : e->inl; }
static inline const fchan *cchans(const emitter *e) { return e->xch ? e->xch : e->inl; }

/* STALE_SEEN: stale at one scan, notified at the next if still so (group
 * verdicts come from the previous scan's counts: this waits for them). */
enum { STALE_NO = 0, STALE_NOTIFIED = 1, STALE_FOLDED = 2, STALE_SEEN = 3 };

typedef struct gcslot {
  uint16_t group;
  uint8_t valid; /* median/mad of the latest refresh are meaningful */
  uint8_t shift_on;
  int8_t shift_dir;
  uint8_t refresh_now; /* decided in the running evaluation (stamp) */
  uint8_t have_refresh;
  uint8_t cand; /* fleet-shift candidate (or back, while shift_on) since cand_since */
  uint32_t channel;
  uint32_t n;        /* active peers in the latest refresh's sample */
  uint32_t n_active; /* estimated active members (n x stride) */
  uint32_t sample_off;
  uint32_t up, down; /* peers that moved beyond the shift threshold */
  uint32_t base_n;
  uint32_t pending; /* members with a value not scored yet */
  uint32_t *mem;    /* REF() of every channel of this group+channel */
  uint32_t n_mem, cap_mem;
  uint64_t stamp; /* evaluation that decided refresh_now */
  double last_refresh, cand_since;
  double born; /* first refresh */
  double period; /* mean reporting period of the active members, 0 unknown */
  double median, mad;
  double base_median, base_mad;
  double slope; /* of the baseline median, per second: projects older levels to now */
  double slope_t, slope_base; /* start of the slope's current window (>= a quarter period) */
  uint8_t slope_anchor;       /* slope_t is set */
} gcslot;

/* A pending channel and its group+channel, so that deciding which
 * baselines to refresh does not fetch every pending emitter. */
typedef struct pend_ref {
  uint32_t ref, gc;
} pend_ref;

typedef struct group {
  char name[ALEC_FLEET_GROUP_MAX + 1];
  uint32_t members, overdue; /* counted by the running stale scan */
  uint32_t known;            /* members in the previous scan */
  uint8_t silent;            /* a group silence is notified */
  double silent_end;         /* when the latest silence ended */
  uint8_t suspect;           /* overdue members look like the start of one */
} group;

struct alec_fleet {
  alec_fleet_config cfg;
  emitter *em;   /* EM_ALIGN-aligned inside em_block */
  void *em_block;
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
  pend_ref *pend; /* channels with a value not scored yet */
  uint32_t n_pend, cap_pend;
  int members_dirty; /* emitters moved or changed group: rebuild the lists */
  int due;           /* a baseline refresh became due since the last evaluation */
  double next_due;   /* earliest time one with pending members is due by its age */
  double next_stale_scan;
  int have_stale_scan;
  int have_sync;
  double last_sync;
  alec_fleet_stats st; /* cumulative counters (gauges are computed on demand) */
  alec_value vbuf[ALEC_FLEET_MAX_VALUES];
};

static inline int pat_learned(const alec_fleet *f, const emitter *e, const pat_slot *p) {
  return f->cfg.pattern_min_count && p->count >= f->cfg.pattern_min_count &&
         e->pat_clock - p->last <= PAT_EXPIRE;
}

static inline int is_active(const alec_fleet *f, const emitter *e, double now) {
  double age = now - e->last_seen;
  return !(age >= f->cfg.emitter_timeout); /* negative age (clock went back): active */
}

/* How long an emitter may stay silent before it is stale (and leaves the
 * baselines): stale_periods of its own reporting period, never below
 * STALE_FLOOR, never above emitter_timeout; emitter_timeout while its period
 * is unknown. */
static inline double stale_horizon(const alec_fleet *f, const emitter *e) {
  double t = f->cfg.emitter_timeout;
  double k = f->cfg.stale_periods > 0 ? f->cfg.stale_periods : 3.0;
  if (e->period > 0) {
    double h = k * e->period;
    if (h < STALE_FLOOR) h = STALE_FLOOR;
    if (h < t) t = h;
  }
  return t;
}

/* Takes part in baselines: reported within its stale horizon. */
static inline int is_fresh(const alec_fleet *f, const emitter *e, double now) {
  double age = now - e->last_seen;
  return !(age > stale_horizon(f, e));
}

/* Cross-file internals stay out of the shared library's exported symbols,
 * as they were when static: nothing outside the fleet module may call them. */
#if defined(__GNUC__) || defined(__clang__)
#define FLEET_INTERNAL __attribute__((visibility("hidden")))
#else
#define FLEET_INTERNAL
#endif

/* fleet_map.c */
FLEET_INTERNAL void *alec_fleet__big_realloc(void *old, size_t bytes);
FLEET_INTERNAL int alec_fleet__map_reserve(u64map *m, uint32_t extra);
FLEET_INTERNAL void alec_fleet__map_del(u64map *m, uint64_t key);

/* fleet.c */
FLEET_INTERNAL void alec_fleet__emitter_release(emitter *e);
FLEET_INTERNAL uint32_t alec_fleet__gc_lookup(alec_fleet *f, uint16_t g, uint32_t channel);

/* fleet_score.c */
FLEET_INTERNAL int alec_fleet__gc_add_member(alec_fleet *f, uint32_t gc, uint32_t ref);
FLEET_INTERNAL void alec_fleet__pend(alec_fleet *f, emitter *e, fchan *c, double now);

/* fleet_ingest.c */
FLEET_INTERNAL int alec_fleet__em_reserve(alec_fleet *f);
FLEET_INTERNAL int alec_fleet__emitter_create(alec_fleet *f, uint64_t id, double now,
                                              alec_decoder *dec);

#endif
