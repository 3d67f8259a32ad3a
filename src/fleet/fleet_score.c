/* SPDX-License-Identifier: MIT */
/* Fleet module: evaluation (robust baselines, median/MAD, CUSUM, state
 * machine, events, fleet shifts, stale emitters and silent groups).
 *
 * Cost follows the data: a value marks its channel pending (O(1)); an
 * evaluation refreshes only the group+channels that have pending members
 * (O(members) selection, at most about REFRESH_DIV times per reporting
 * period of the group), scores only the pending channels, and scans the
 * emitters for silence at a rate set by their shortest period. */
#include "fleet_int.h"

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

/* ------------------------------------------------ member and pending lists */

int alec_fleet__gc_add_member(alec_fleet *f, uint32_t gc, uint32_t ref) {
  gcslot *s = &f->gcs[gc];
  if (s->n_mem == s->cap_mem) {
    uint32_t nc = s->cap_mem ? s->cap_mem * 2 : 8;
    uint32_t *n = realloc(s->mem, (size_t)nc * sizeof *n);
    if (!n) return ALEC_ENOMEM;
    s->mem = n;
    s->cap_mem = nc;
  }
  s->mem[s->n_mem++] = ref;
  return 0;
}

static int pend_push(alec_fleet *f, uint32_t ref, uint32_t gc) {
  if (f->n_pend == f->cap_pend) {
    uint32_t nc = f->cap_pend ? f->cap_pend * 2 : 64;
    pend_ref *n = realloc(f->pend, (size_t)nc * sizeof *n);
    if (!n) return ALEC_ENOMEM;
    f->pend = n;
    f->cap_pend = nc;
  }
  f->pend[f->n_pend].ref = ref;
  f->pend[f->n_pend].gc = gc;
  f->n_pend++;
  return 0;
}

static int refresh_due(const gcslot *s, double now);

void alec_fleet__pend(alec_fleet *f, emitter *e, fchan *c, double now) {
  c->pending = 1;
  f->gcs[c->gc].pending++;
  /* Without room the flag stays: the rebuild lists it. */
  if (pend_push(f, REF(e - f->em, c - chans(e)), c->gc) != 0) f->members_dirty = 1;
  const gcslot *s = &f->gcs[c->gc];
  if (!f->due && refresh_due(s, now)) f->due = 1;
  double at = s->last_refresh + (s->period > 0 ? s->period / REFRESH_DIV : 0.0);
  if (s->have_refresh && at < f->next_due) f->next_due = at;
}

int alec_fleet_score_due(const alec_fleet *f, double now) {
  return f && (f->due || now >= f->next_due);
}

/* Emitters are addressed by index, which removal and group changes alter:
 * then both lists are rebuilt from the channels (O(tracked channels), only
 * after such a change). */
static int rebuild_lists(alec_fleet *f) {
  for (uint32_t g = 0; g < f->n_gc; g++) f->gcs[g].n_mem = f->gcs[g].pending = 0;
  f->n_pend = 0;
  for (uint32_t i = 0; i < f->n_em; i++) {
    emitter *e = &f->em[i];
    fchan *ch = chans(e);
    for (unsigned j = 0; j < e->n_ch; j++) {
      if (ch[j].gc == NONE) {
        ch[j].pending = 0;
        continue;
      }
      if (alec_fleet__gc_add_member(f, ch[j].gc, REF(i, j)) != 0) return ALEC_ENOMEM;
      if (!ch[j].pending) continue;
      if (pend_push(f, REF(i, j), ch[j].gc) != 0) return ALEC_ENOMEM;
      f->gcs[ch[j].gc].pending++;
    }
  }
  f->members_dirty = 0;
  return 0;
}

/* ----------------------------------------------------------- fleet shifts */

/* A fleet shift is the group median leaving its baseline (an EWMA of the
 * median with weight shift_alpha per reporting period of the group) by more
 * than shift_mads baseline MADs with at least shift_fraction of the peers
 * beyond that distance on the same side, for enter_count reporting periods.
 * The baseline holds still while a candidate lasts, so a step stays a step
 * however long the dwell; a smooth common movement (a ramp, a diurnal cycle
 * slow against the reporting period) is followed with a lag of about
 * 1/shift_alpha periods and never departs that far. */
static void shift_step(evctx *x, gcslot *s, double dt) {
  const alec_fleet_config *c = &x->f->cfg;
  double gp = s->period > 0 ? s->period : (dt > 0 ? dt : 1.0);
  /* Without any member's period (two reports each) there is no time scale yet. */
  int warm = s->base_n >= c->drift_warmup && (s->period > 0 || s->base_n >= 4 * c->drift_warmup) &&
             x->now - s->born >= SHIFT_WARM_PERIODS * gp * (1.0 - 1e-9);
  if (warm) {
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
    ev.warn_min = s->base_median - thr;
    ev.warn_max = s->base_median + thr;
    ev.fail_min = ev.fail_max = NAN;
    int on = !s->shift_on ? (d > thr && frac_up >= c->shift_fraction) ||
                                (d < -thr && frac_down >= c->shift_fraction)
                          : fabs(d) < thr * (c->z_exit / c->z_enter);
    if (!on) {
      s->cand = 0;
    } else if (!s->cand) {
      s->cand = 1;
      s->cand_since = x->now;
    }
    unsigned dwell = s->shift_on ? c->exit_count : c->enter_count;
    /* Dwell in the group's own reporting periods (a refresh at the first
     * evaluation of the candidate counts as the first), not in refreshes,
     * whose rate depends on the group size. */
    if (s->cand && x->now - s->cand_since >= ((double)dwell - 1.0) * gp * (1.0 - 1e-9)) {
      s->cand = 0;
      alec_fleet_state prev = s->shift_on ? ALEC_FLEET_WARNING : ALEC_FLEET_NORMAL;
      s->shift_on = !s->shift_on;
      s->shift_dir = s->shift_on ? (d > 0 ? 1 : -1) : 0;
      if (s->shift_on) x->f->st.shift_events++;
      ev.severity = s->shift_on ? ALEC_FLEET_WARNING : ALEC_FLEET_NORMAL;
      ev.previous = prev;
      emit(x, &ev);
    }
  }
  /* The baseline follows the fleet (slowly), so a lasting shift becomes the
   * new normal and its event ends; it holds while an entry is pending. */
  if (s->base_n < UINT32_MAX) s->base_n++;
  if (s->base_n == 1) {
    s->base_median = s->median;
    s->base_mad = s->mad;
  } else if (s->shift_on || !s->cand) {
    double w = 1.0 - pow(1.0 - c->shift_alpha, dt / gp);
    if (!(w <= 1.0)) w = 1.0;
    if (w < 1.0 / (double)s->base_n) w = 1.0 / (double)s->base_n; /* warm-up: running mean */
    double before = s->base_median;
    s->base_median += w * (s->median - s->base_median);
    s->base_mad += w * (s->mad - s->base_mad);
    /* The common trend, from the baseline (which a step does not move
     * while it is a candidate): smoothed like the baseline itself. */
    /* Over at least a quarter of the group's period: refreshes a few ms
     * apart (a lockstep fleet's round, a backlog scored in data time) would
     * turn the median's move within one round into a trend of hundreds per
     * second, and every older level would be projected that far. */
    if (warm) {
      if (!s->slope_anchor || x->now < s->slope_t) {
        s->slope_anchor = 1;
        s->slope_t = x->now - dt;
        s->slope_base = before;
      }
      double span = x->now - s->slope_t;
      if (span > 0 && span >= gp / REFRESH_DIV * (1.0 - 1e-9)) {
        double inst = (s->base_median - s->slope_base) / span;
        double ws = 1.0 - pow(1.0 - c->shift_alpha, span / gp);
        if (!(ws <= 1.0)) ws = 1.0;
        if (ws < w) ws = w;
        double sl = s->slope + ws * (inst - s->slope);
        s->slope = isfinite(sl) ? sl : 0.0;
        s->slope_t = x->now;
        s->slope_base = s->base_median;
      }
    }
  }
  if (!isfinite(s->base_median)) s->base_median = s->median;
  if (!(s->base_mad >= c->mad_floor) || !isfinite(s->base_mad)) s->base_mad = s->mad;
}

/* ------------------------------------------------------ emitter scoring */

static double projected(const gcslot *s, const fchan *ch, double now);

/* The event of a transition of ch (its new severity is ch->state). */
static void emitter_event(const evctx *x, alec_fleet_event *ev, const emitter *e, const fchan *ch,
                          const gcslot *s, double z, alec_fleet_state prev, unsigned reason) {
  const alec_fleet_config *c = &x->f->cfg;
  memset(ev, 0, sizeof *ev);
  ev->kind = ALEC_FLEET_EVENT_EMITTER;
  ev->emitter_id = e->id;
  ev->group = x->f->groups[e->group].name;
  ev->channel = ch->id;
  ev->value = ch->level;
  ev->median = s->median;
  ev->mad = s->mad;
  ev->score = z;
  ev->cusum = ch->cpos > ch->cneg ? ch->cpos : ch->cneg;
  ev->peers = s->n;
  ev->warn_min = s->median - c->z_enter * s->mad / MAD_SCALE;
  ev->warn_max = s->median + c->z_enter * s->mad / MAD_SCALE;
  ev->fail_min = s->median - c->z_failure * s->mad / MAD_SCALE;
  ev->fail_max = s->median + c->z_failure * s->mad / MAD_SCALE;
  ev->previous = prev;
  ev->reason = reason;
  ev->severity = (alec_fleet_state)ch->state;
}

static void chan_step(evctx *x, emitter *e, fchan *ch, const gcslot *s) {
  const alec_fleet_config *c = &x->f->cfg;
  double z = clampz(MAD_SCALE * (projected(s, ch, x->now) - s->median) / s->mad);
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
  /* No suppression during a fleet shift: the score is taken against the
   * concurrent median, so a common move leaves it where it was, and an
   * emitter far from its moved peers is as anomalous as ever. */
  int out_band = level || drift;
  int in_band = az < c->z_exit && (h <= 0 || (ch->cpos < h / 2 && ch->cneg < h / 2));

  unsigned reason = (level ? ALEC_FLEET_REASON_LEVEL : 0u) | (drift ? ALEC_FLEET_REASON_DRIFT : 0u);
  /* Most scores change no state: the event is only built for a transition
   * (it reads the emitter's own line, which scoring does not need). */
  alec_fleet_event ev;
  alec_fleet_state prev = (alec_fleet_state)ch->state;
  if (ch->state == ALEC_FLEET_NORMAL) {
    ch->above = out_band ? (uint16_t)(ch->above + 1) : 0;
    if (ch->above >= c->enter_count) {
      ch->state = az > c->z_failure ? ALEC_FLEET_FAILURE : ALEC_FLEET_WARNING;
      ch->reason = (uint8_t)reason;
      ch->above = ch->below = ch->sev_up = ch->sev_down = 0;
      x->f->st.anomaly_entries++;
      emitter_event(x, &ev, e, ch, s, z, prev, reason);
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
    emitter_event(x, &ev, e, ch, s, z, prev, reason);
    emit(x, &ev);
    return;
  }
  if (reason) ch->reason = (uint8_t)reason;
  /* Severity changes use the same dwell and a hysteresis as wide as the
   * enter/exit one. */
  if (ch->state == ALEC_FLEET_WARNING) {
    ch->sev_up = az > c->z_failure ? (uint16_t)(ch->sev_up + 1) : 0;
    if (ch->sev_up >= c->enter_count) {
      ch->state = ALEC_FLEET_FAILURE;
      ch->sev_up = ch->sev_down = 0;
      emitter_event(x, &ev, e, ch, s, z, prev, reason);
      emit(x, &ev);
    }
  } else if (ch->below == 0) { /* already on its way to OKAY: no WARNING in between */
    ch->sev_down = az < c->z_failure - (c->z_enter - c->z_exit) ? (uint16_t)(ch->sev_down + 1) : 0;
    if (ch->sev_down >= c->exit_count) {
      ch->state = ALEC_FLEET_WARNING;
      ch->sev_up = ch->sev_down = 0;
      emitter_event(x, &ev, e, ch, s, z, prev, reason);
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

/* ------------------------------------------------------------ baselines */

static int refresh_due(const gcslot *s, double now) {
  if (!s->have_refresh || now < s->last_refresh) return 1;
  uint32_t thr = s->n_active / REFRESH_DIV;
  if (s->pending >= (thr ? thr : 1)) return 1;
  return now - s->last_refresh >= (s->period > 0 ? s->period / REFRESH_DIV : 0.0);
}

/* A level as of now: members report at their own phases, and during a
 * common trend (a diurnal cycle) an older level lags its fresher peers by
 * trend x age; compared as they are, every fresh emitter would look biased
 * and the CUSUM would integrate that bias. */
static double projected(const gcslot *s, const fchan *ch, double now) {
  double age = now - ch->t_value;
  if (!(age > 0)) return ch->level;
  double v = ch->level + s->slope * age;
  return isfinite(v) ? v : ch->level;
}

/* How far ahead the loops over members, pending channels and emitters
 * request what they will read: enough to cover a memory latency with the
 * work of the visits in between. */
#define PF_AHEAD 12u

/* The emitter's first line (period, channel pointer) and, for an inline
 * channel, the first line of the channel (level, time of value). A heap
 * channel's address would need the emitter's line first: not prefetched.
 * A macro: GCC finds a function made of prefetches alone free of side
 * effects and drops its calls. */
#define PREFETCH_MEMBER(f, r)                                            \
  do {                                                                   \
    const emitter *pe_ = &(f)->em[REF_E(r)];                             \
    PREFETCH_RO(pe_);                                                    \
    if (REF_C(r) < INLINE_CH) PREFETCH_RO(&pe_->inl[REF_C(r)]);          \
  } while (0)

/* Median and MAD over every fresh member, whether it reported since the
 * previous refresh or not: the baseline must not depend on who happened to
 * report in the last evaluation interval. */
static void refresh(evctx *x, gcslot *s) {
  alec_fleet *f = x->f;
  const alec_fleet_config *c = &f->cfg;
  double now = x->now;
  double *a = f->scratch;
  uint32_t n = 0, up = 0, down = 0, pn = 0;
  double psum = 0, thr = c->shift_mads * s->base_mad;
  uint32_t stride = s->n_mem > SAMPLE_MAX ? (s->n_mem + SAMPLE_MAX - 1) / SAMPLE_MAX : 1;
  uint32_t start = stride > 1 ? s->sample_off++ % stride : 0;
  /* Members are scattered over the emitter array: each visit would wait for
   * its emitter's line and its channel's; requested PF_AHEAD members ahead,
   * the misses overlap. */
  uint64_t ahead = (uint64_t)PF_AHEAD * stride;
  for (uint32_t k = start; k < s->n_mem; k += stride) {
    if (k + ahead < s->n_mem) PREFETCH_MEMBER(f, s->mem[k + ahead]);
    uint32_t r = s->mem[k];
    const emitter *e = &f->em[REF_E(r)];
    const fchan *ch = &cchans(e)[REF_C(r)];
    double age = now - ch->t_value;
    if (!ch->has_level || age > stale_horizon(f, e)) continue;
    double lv = projected(s, ch, now);
    a[n++] = lv;
    if (e->period > 0) {
      psum += e->period;
      pn++;
    }
    if (s->base_n > 0) {
      double d = lv - s->base_median;
      if (d > thr) up++;
      if (d < -thr) down++;
    }
  }
  double dt = s->have_refresh && now > s->last_refresh ? now - s->last_refresh : 0.0;
  if (!s->have_refresh || now < s->born) s->born = now;
  s->have_refresh = 1;
  s->last_refresh = now;
  s->n = n;
  uint64_t na = (uint64_t)n * stride;
  s->n_active = na > UINT32_MAX ? UINT32_MAX : (uint32_t)na;
  s->up = up;
  s->down = down;
  s->period = pn ? psum / (double)pn : 0.0;
  s->valid = 0;
  if (n < c->min_peers || n == 0) return;
  s->median = median_of(a, n);
  for (uint32_t k = 0; k < n; k++) a[k] = fabs(a[k] - s->median);
  double mad = median_of(a, n);
  s->mad = (mad >= c->mad_floor && isfinite(mad)) ? mad : (isfinite(mad) ? c->mad_floor : 1e300);
  s->valid = 1;
  shift_step(x, s, dt);
  /* Scores divide by the larger of this refresh's MAD and its recent
   * average: the MAD of a small group dips by chance (10 peers: by half,
   * often), and every score would jump with it. A real widening of the
   * fleet still counts at once. */
  if (s->base_n > 1 && s->base_mad > s->mad) s->mad = s->base_mad;
}

/* ------------------------------------------------ stale and silent emitters */

static void stale_event(evctx *x, const emitter *e, double age, double horizon,
                        alec_fleet_state sev) {
  alec_fleet_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = ALEC_FLEET_EVENT_STALE;
  ev.severity = sev;
  ev.previous = sev == ALEC_FLEET_NORMAL ? ALEC_FLEET_WARNING : ALEC_FLEET_NORMAL;
  ev.emitter_id = e->id;
  ev.group = x->f->groups[e->group].name;
  ev.value = age < 0 ? 0 : age;
  ev.median = e->period;
  ev.mad = horizon;
  ev.score = e->period > 0 ? ev.value / e->period : 0;
  ev.peers = x->f->groups[e->group].known;
  ev.warn_min = ev.fail_min = ev.fail_max = NAN;
  ev.warn_max = horizon;
  emit(x, &ev);
}

/* An emitter silent beyond its stale horizon is STALE (OKAY when it reports
 * again). When enough of a group is overdue at once (a gateway down), the
 * group gets one SILENT event and its members' STALE events are folded
 * into it; a member still stale when the group is back gets its own. */
static void stale_scan(evctx *x) {
  alec_fleet *f = x->f;
  const alec_fleet_config *c = &f->cfg;
  double now = x->now;
  if (c->stale_periods <= 0) return;
  /* A clock that went back far reschedules rather than stalls the scans. */
  if (f->have_stale_scan && now < f->next_stale_scan &&
      f->next_stale_scan - now <= c->emitter_timeout)
    return;
  /* One pass over the emitters: each group's verdict comes from the counts
   * of the previous scan (a quarter period ago), the counts for the next
   * are gathered meanwhile. */
  for (uint32_t gi = 0; gi < f->n_groups; gi++) {
    group *g = &f->groups[gi];
    if (c->silent_fraction <= 0) {
      g->suspect = 0;
      continue;
    }
    double need = ceil(c->silent_fraction * (double)g->members);
    if (need < c->min_peers) need = c->min_peers;
    int enter = !g->silent && g->members > 0 && (double)g->overdue >= need;
    int leave = g->silent && 2.0 * (double)g->overdue < need;
    if (enter || leave) {
      g->silent = (uint8_t)enter;
      if (leave) g->silent_end = now;
      alec_fleet_event ev;
      memset(&ev, 0, sizeof ev);
      ev.kind = ALEC_FLEET_EVENT_SILENT;
      ev.severity = enter ? ALEC_FLEET_WARNING : ALEC_FLEET_NORMAL;
      ev.previous = enter ? ALEC_FLEET_NORMAL : ALEC_FLEET_WARNING;
      ev.group = g->name;
      ev.value = g->overdue;
      ev.median = g->members;
      ev.score = g->members ? (double)g->overdue / (double)g->members : 0;
      ev.peers = g->overdue;
      ev.warn_min = ev.warn_max = ev.fail_min = ev.fail_max = NAN;
      emit(x, &ev);
    }
    /* Half way to a silence: members that go stale now may be its start. */
    g->suspect = g->overdue >= 2 && 2.0 * (double)g->overdue >= need;
  }
  for (uint32_t gi = 0; gi < f->n_groups; gi++) {
    f->groups[gi].known = f->groups[gi].members;
    f->groups[gi].members = f->groups[gi].overdue = 0;
  }
  double minp = c->emitter_timeout;
  for (uint32_t i = 0; i < f->n_em; i++) {
    if (i + PF_AHEAD < f->n_em) PREFETCH(&f->em[i + PF_AHEAD]);
    emitter *e = &f->em[i];
    double age = now - e->last_seen, h = stale_horizon(f, e);
    /* Floored like the horizon: a fast fleet is not overdue because the
     * receiver or the network paused for a few of its periods. */
    double od = e->period > 0 ? OVERDUE_PERIODS * e->period : h;
    if (od < STALE_FLOOR) od = STALE_FLOOR;
    if (od > h) od = h;
    group *g = &f->groups[e->group];
    g->members++;
    if (age > od) g->overdue++;
    if (e->period > 0 && e->period < minp) minp = e->period;
    if (!(age > h)) {
      if (e->stale == STALE_NOTIFIED) stale_event(x, e, age, h, ALEC_FLEET_NORMAL);
      e->stale = STALE_NO;
      continue;
    }
    if (e->stale == STALE_NOTIFIED) continue;
    if (g->silent) {
      e->stale = STALE_FOLDED;
      continue;
    }
    /* Back from a silence, members report again one period after another:
     * one still silent after its hold is stale on its own account. */
    if (e->stale == STALE_FOLDED && now - g->silent_end <= STALE_HOLD * h) continue;
    if (g->suspect && age <= STALE_HOLD * h) continue;
    if (e->stale == STALE_NO) {
      e->stale = STALE_SEEN;
      continue;
    }
    e->stale = STALE_NOTIFIED;
    stale_event(x, e, age, h, ALEC_FLEET_WARNING);
  }
  double dt = minp / 4.0;
  if (dt < STALE_FLOOR / 4.0) dt = STALE_FLOOR / 4.0;
  if (dt > c->emitter_timeout / 8.0) dt = c->emitter_timeout / 8.0;
  f->have_stale_scan = 1;
  f->next_stale_scan = now + dt;
}

/* ------------------------------------------------------------ evaluation */

int alec_fleet_evaluate(alec_fleet *f, double now, alec_fleet_event_cb cb, void *arg) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  const alec_fleet_config *c = &f->cfg;
  if (f->members_dirty && rebuild_lists(f) != 0) return ALEC_ENOMEM;
  uint64_t stamp = f->st.evaluations + 1;
  /* Which group+channels with pending members refresh now. */
  size_t need = 0;
  for (uint32_t k = 0; k < f->n_pend; k++) {
    gcslot *s = &f->gcs[f->pend[k].gc];
    if (s->stamp == stamp) continue;
    s->stamp = stamp;
    s->refresh_now = (uint8_t)refresh_due(s, now);
    uint32_t cap = s->n_mem < SAMPLE_MAX ? s->n_mem : SAMPLE_MAX;
    if (s->refresh_now && cap > need) need = cap;
  }
  if (ensure_scratch(f, need) != 0) {
    for (uint32_t k = 0; k < f->n_pend; k++) f->gcs[f->pend[k].gc].stamp = 0;
    return ALEC_ENOMEM;
  }
  f->st.evaluations = stamp;
  evctx x = {f, cb, arg, now, 0};
  for (uint32_t k = 0; k < f->n_pend; k++) {
    gcslot *s = &f->gcs[f->pend[k].gc];
    if (s->refresh_now != 1) continue;
    s->refresh_now = 2; /* once per evaluation */
    refresh(&x, s);
  }
  /* Score the pending channels of what was refreshed; the others wait. */
  uint32_t keep = 0;
  for (uint32_t k = 0; k < f->n_pend; k++) {
    if (k + PF_AHEAD < f->n_pend) {
      pend_ref q = f->pend[k + PF_AHEAD];
      if (f->gcs[q.gc].refresh_now) {
        const emitter *qe = &f->em[REF_E(q.ref)];
        PREFETCH_RO(qe);
        /* Scoring writes most of the channel: both of its lines. */
        if (REF_C(q.ref) < INLINE_CH) {
          PREFETCH(&qe->inl[REF_C(q.ref)]);
          PREFETCH((const char *)&qe->inl[REF_C(q.ref)] + sizeof(fchan) - 1);
        }
      }
    }
    pend_ref p = f->pend[k];
    gcslot *s = &f->gcs[p.gc];
    if (!s->refresh_now) {
      f->pend[keep++] = p;
      continue;
    }
    emitter *e = &f->em[REF_E(p.ref)];
    fchan *ch = &chans(e)[REF_C(p.ref)];
    ch->pending = 0;
    if (s->pending) s->pending--;
    if (s->valid) chan_step(&x, e, ch, s);
  }
  f->n_pend = keep;
  f->due = 0;
  f->next_due = INFINITY;
  for (uint32_t k = 0; k < f->n_pend; k++) {
    const gcslot *s = &f->gcs[f->pend[k].gc];
    double at = s->last_refresh + (s->period > 0 ? s->period / REFRESH_DIV : 0.0);
    if (at < f->next_due) f->next_due = at;
  }
  stale_scan(&x);
  if (!f->have_sync || now < f->last_sync) {
    f->have_sync = 1;
    f->last_sync = now;
  } else if (c->sync_interval > 0 && now - f->last_sync >= c->sync_interval) {
    f->last_sync = now;
    (void)alec_fleet_sync_patterns(f, now);
  }
  return x.count;
}
