/* SPDX-License-Identifier: MIT */
/* Fleet module: evaluation (robust baselines, median/MAD, CUSUM, state
 * machine, events, fleet shifts). */
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
