/* SPDX-License-Identifier: MIT */
/* Loss recovery of the TLV-fallback flow (lossrec.h). */

#include "lossrec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/context.h"
#include "alec/error.h"

/* Channel states. */
enum {
  ST_EXACT = 0,   /* receiver context = encoder context */
  ST_UNKNOWN = 1, /* predictor error E unknown (after ghosts of estimates) */
  ST_INT = 2,     /* E = c * n, n an unknown integer in [-NMAX, NMAX] */
  /* E identified and removed, unless the true n lay outside the candidates
   * and aliased with one inside: then E is now an integer D, and every
   * exact observation makes it c D. One check is not enough: 0.7 D is an
   * integer for every multiple of 10, and 0.49 D lies within the
   * tolerance of one for D = 49 or 51 (an uplink stored 24 registers off
   * that way). The channel is exact once no D in 1..VERIFY_DMAX passes
   * every check remembered (each at its own c): after 0.7 and 0.49, D =
   * 100 still does; after 0.343 as well, none below 1000. The checks of
   * the candidates' phase count too: the true n and the chosen one both
   * fitted there, so c_k (n - n') was within twice its bound of an
   * integer, and D = c (n - n') for the c of the identification: a check
   * on D with weight c_k / c. */
  ST_VERIFY = 3
};
#define VERIFY_DMAX 1000
#define VERIFY_KEEP 4 /* checks remembered (alec_lr.vc) */
#define NMAX 60
/* Below this c, c * NMAX is far below a quantum. */
#define C_NEGLIGIBLE 1e-5
/* Changes between received uplinks seen before their largest is trusted
 * as the bound of the lost ones (about 5 hours at 10 minutes). */
#define MIN_STEPS 32
/* Lost uplinks up to which the end point of the estimates is decoded. */
#define ESTIMATE_MAX_GAP 64

void alec_lr_init(alec_lr *s, unsigned channels) {
  memset(s, 0, sizeof *s);
  s->n = (uint8_t)(channels > ALEC_LR_MAX_CHANNELS ? ALEC_LR_MAX_CHANNELS : channels);
}

int alec_lr_fcnt(alec_lr *s, uint32_t fcnt, uint32_t *lost) {
  *lost = 0;
  if (!s->has_fcnt) {
    s->has_fcnt = 1;
    s->fcnt = fcnt;
    return ALEC_LR_FCNT_NEXT;
  }
  uint32_t d = fcnt - s->fcnt;
  if (d == 0) return ALEC_LR_FCNT_DUPLICATE;
  int rejoin = fcnt < ALEC_LR_REJOIN_FCNT && fcnt < s->fcnt && s->fcnt <= UINT32_MAX - ALEC_LR_MAX_GAP;
  /* Behind: a rejoined device counts from 0 again; a larger fCnt behind
   * the last one is a late copy. */
  if (d > UINT32_MAX - ALEC_LR_MAX_GAP && !rejoin)
    return ALEC_LR_FCNT_DUPLICATE;
  if (d <= ALEC_LR_MAX_GAP && !rejoin) {
    *lost = d - 1;
    s->fcnt = fcnt;
    return ALEC_LR_FCNT_NEXT;
  }
  /* A 16-bit counter (a transport that passes the frame header's FCnt)
   * wrapping near its end, rather than a rejoin. */
  if (s->fcnt <= 0xFFFFu && fcnt <= 0xFFFFu && s->fcnt >= 0x10000u - ALEC_LR_MAX_GAP && fcnt < ALEC_LR_MAX_GAP) {
    uint32_t d16 = (fcnt - s->fcnt) & 0xFFFFu;
    if (d16 >= 1 && d16 <= ALEC_LR_MAX_GAP) {
      *lost = d16 - 1;
      s->fcnt = fcnt;
      return ALEC_LR_FCNT_NEXT;
    }
  }
  s->fcnt = fcnt;
  return ALEC_LR_FCNT_RESET;
}

void alec_lr_restart(alec_lr *s, alec_decoder *dec) {
  unsigned n = s->n;
  uint32_t fcnt = s->fcnt;
  uint8_t has = s->has_fcnt;
  uint64_t ghosts = s->ghosts, re = s->reanchored;
  alec_lr_init(s, n);
  s->fcnt = fcnt;
  s->has_fcnt = has;
  s->ghosts = ghosts;
  s->reanchored = re;
  if (dec) {
    alec_decoder_reset(dec);
    alec_context_reset(alec_decoder_context(dec));
  }
}

static double alpha_of(const alec_decoder *dec) {
  const alec_context_config *cc = alec_context_get_config(alec_decoder_context_const(dec));
  return cc && cc->ema_alpha > 0 && cc->ema_alpha <= 1 ? cc->ema_alpha : 0.3;
}

static double tol_of(const alec_decoder *dec) {
  uint32_t scale = alec_context_scale(alec_decoder_context_const(dec));
  /* Half a quantum (delta rounding) plus 0.7 of one left by a correction. */
  return 0.9 / (double)(scale ? scale : 100);
}

/* Ghost frames for the lost uplinks: the encoder observed values we never
 * saw; linear between the last values and `end` is the estimate. */
static uint32_t replay(alec_lr *s, alec_decoder *dec, uint32_t lost, const double *end) {
  double est[64];
  for (uint32_t j = 1; j <= lost; j++) {
    double t = (double)j / (double)(lost + 1);
    for (unsigned i = 0; i < s->n; i++) {
      double a = s->has_last ? s->last[i] : end[i];
      double b = isfinite(end[i]) ? end[i] : a;
      est[i] = isfinite(a) ? a + (b - a) * t : b;
    }
    if (alec_decoder_feed_values(dec, est, s->n) != 0) return j - 1;
  }
  return lost;
}

void alec_lr_unknown(alec_lr *s) {
  for (unsigned i = 0; i < s->n; i++) {
    s->st[i] = ST_UNKNOWN;
    s->c[i] = 1.0;
    s->nmax[i] = NMAX;
  }
}

/* After `lost` ghosts interpolated between exact end points, the error left
 * in the EMA: alpha * sum (1 - alpha)^(lost - j) * |estimate_j - value_j|,
 * with |estimate_j - value_j| <= 2 (step + 1) min(j, lost + 1 - j) if no
 * value moved faster than twice the fastest change seen. */
static unsigned loss_bound(const alec_lr *s, unsigned i, uint32_t lost, double a) {
  if (s->steps[i] < MIN_STEPS) return NMAX; /* too little history to tell */
  double sum = 0, w = 1;
  uint32_t from = lost > 400 ? lost - 400 : 0; /* older terms are below 1e-60 */
  for (uint32_t j = lost; j > from; j--) {
    uint32_t edge = j < lost + 1 - j ? j : lost + 1 - j;
    sum += w * (double)edge;
    w *= 1 - a;
  }
  double b = a * sum * 2 * (s->step[i] + 1) + 2;
  return b >= NMAX ? NMAX : (unsigned)ceil(b);
}

static void after_replay(alec_lr *s, const alec_decoder *dec, uint32_t lost) {
  double a = alpha_of(dec);
  for (unsigned i = 0; i < s->n; i++) {
    /* A second loss before the first was resolved: its error adds up. */
    unsigned b = s->st[i] == ST_EXACT ? loss_bound(s, i, lost, a) : NMAX;
    s->st[i] = ST_UNKNOWN;
    s->c[i] = 1.0;
    s->nmax[i] = (uint8_t)b;
  }
}

static void all_candidates(alec_lr *s, unsigned i) {
  unsigned m = s->nmax[i] ? s->nmax[i] : NMAX;
  s->cand[i][0] = s->cand[i][1] = 0;
  for (unsigned b = NMAX - m; b <= NMAX + m; b++) s->cand[i][b / 64] |= UINT64_C(1) << (b % 64);
}

static void note_step(alec_lr *s, unsigned i, double v) {
  if (!s->last_exact[i] || !isfinite(v) || !isfinite(s->last[i])) return;
  double d = fabs(v - s->last[i]);
  if (d > s->step[i]) {
    s->step[i] = d;
    /* The candidates of an unresolved loss were narrowed by the slower
     * changes seen before it; a faster one now (CO2 at the start of office
     * hours: 18 then 85 ppm per uplink) says the lost values may have moved
     * as fast, beyond them (a value 6 units off was stored that way). */
    if (s->st[i] == ST_INT && s->nmax[i] < NMAX) {
      s->st[i] = ST_UNKNOWN;
      s->nmax[i] = NMAX;
    }
  }
  if (s->steps[i] < UINT8_MAX) s->steps[i]++;
}

static int has_cand(const alec_lr *s, unsigned i, int n) {
  unsigned b = (unsigned)(n + NMAX);
  return (s->cand[i][b / 64] >> (b % 64)) & 1;
}

static void drop_cand(alec_lr *s, unsigned i, int n) {
  unsigned b = (unsigned)(n + NMAX);
  s->cand[i][b / 64] &= ~(UINT64_C(1) << (b % 64));
}

/* An exact observation of channel i shrinks E by (1 - alpha). */
static void exact_observed(alec_lr *s, unsigned i, double keep) {
  if (s->st[i] == ST_VERIFY) s->c[i] *= keep;
  if (s->st[i] != ST_INT) return;
  s->c[i] *= keep;
  s->eps[i] *= keep;
  if (s->c[i] * (s->nmax[i] ? s->nmax[i] : NMAX) < C_NEGLIGIBLE) {
    s->st[i] = ST_EXACT;
    s->reanchored++;
  }
}

uint32_t alec_lr_exact(alec_lr *s, alec_decoder *dec, uint32_t lost, const double *values) {
  uint32_t done = 0;
  if (dec && lost > 0) {
    done = replay(s, dec, lost, values);
    s->ghosts += done;
    after_replay(s, dec, done);
  }
  double keep = dec ? 1.0 - alpha_of(dec) : 0.7;
  for (unsigned i = 0; i < s->n; i++) {
    exact_observed(s, i, keep);
    if (lost == 0) note_step(s, i, values[i]);
    s->last[i] = values[i];
    s->rep[i] = values[i];
    s->last_exact[i] = 1;
  }
  s->has_last = 1;
  return done;
}

/* Saved decoder state: decoding must not observe what it decoded (the
 * caller observes the exact registers instead). */
typedef struct saved {
  uint8_t stack[2048];
  uint8_t *buf;
  long len;
} saved;

static int save(saved *sv, const alec_decoder *dec) {
  long need = alec_decoder_save(dec, NULL, 0);
  if (need < 0) return (int)need;
  sv->buf = (size_t)need <= sizeof sv->stack ? sv->stack : malloc((size_t)need);
  if (!sv->buf) return ALEC_ENOMEM;
  sv->len = alec_decoder_save(dec, sv->buf, (size_t)need);
  return sv->len < 0 ? (int)sv->len : 0;
}

static void restore(saved *sv, alec_decoder *dec) { (void)alec_decoder_load(dec, sv->buf, (size_t)sv->len); }

static void drop(saved *sv) {
  if (sv->buf && sv->buf != sv->stack) free(sv->buf);
  sv->buf = NULL;
}

/* Decodes without a trace in dec. */
static int peek(alec_decoder *dec, unsigned n, const uint8_t *frame, size_t len, alec_value *vals,
                alec_frame_info *info) {
  saved sv;
  int rc = save(&sv, dec);
  if (rc < 0) return rc;
  rc = alec_decoder_decode(dec, ALEC_FORMAT_FIXED, n, frame, len, vals, n, info);
  restore(&sv, dec);
  drop(&sv);
  return rc;
}

/* The lost uplinks' ghosts, their end point estimated by decoding the frame
 * after them: twice, as the decoded values depend on the estimates (by
 * less than alpha of their error, so this converges). */
static uint32_t replay_before_frame(alec_lr *s, alec_decoder *dec, uint32_t lost, const uint8_t *frame,
                                    size_t len) {
  double end[64];
  alec_value vals[64];
  for (unsigned i = 0; i < s->n; i++) end[i] = s->last[i];
  saved sv;
  /* Beyond a few hours the end point hardly matters for an EMA whose
   * memory is 0.7^k: skip the two trial decodes (a third of the work). */
  if (s->has_last && lost <= ESTIMATE_MAX_GAP && save(&sv, dec) == 0) {
    for (int pass = 0; pass < 2; pass++) {
      replay(s, dec, lost, end);
      int rc = alec_decoder_decode(dec, ALEC_FORMAT_FIXED, s->n, frame, len, vals, s->n, NULL);
      restore(&sv, dec);
      if (rc != (int)s->n) break;
      for (unsigned i = 0; i < s->n; i++)
        if (isfinite(vals[i].value)) end[i] = vals[i].value;
    }
    drop(&sv);
  }
  uint32_t done = replay(s, dec, lost, end);
  s->ghosts += done;
  after_replay(s, dec, done);
  return done;
}

/* 1 when some integer D in 1..VERIFY_DMAX other than 0 would have passed
 * every remembered check of channel i as well: c D within t of an integer
 * for each c (symmetric in the sign of D). At most VERIFY_DMAX x
 * VERIFY_KEEP products, and only while a channel is being verified. */
static int alias_left(const alec_lr *s, unsigned i) {
  for (int d = 1; d <= VERIFY_DMAX; d++) {
    int all = 1;
    for (unsigned k = 0; k < s->passes[i] && all; k++) {
      double y = s->vc[i][k] * d;
      all = fabs(y - nearbyint(y)) <= (double)s->vt[i][k];
    }
    if (all) return 1;
  }
  return 0;
}

/* Remembers a check at c with bound t (a new c only; the oldest goes). */
static void check_passed(alec_lr *s, unsigned i, double c, double t) {
  /* Rounded up: a float bound must not be tighter than the double one. */
  float ft = (float)t * (1 + 1e-6f);
  for (unsigned k = 0; k < s->passes[i]; k++)
    if (s->vc[i][k] == c) {
      if (ft < s->vt[i][k]) s->vt[i][k] = ft;
      return;
    }
  if (s->passes[i] == VERIFY_KEEP) {
    memmove(&s->vc[i][0], &s->vc[i][1], (VERIFY_KEEP - 1) * sizeof s->vc[i][0]);
    memmove(&s->vt[i][0], &s->vt[i][1], (VERIFY_KEEP - 1) * sizeof s->vt[i][0]);
    s->passes[i]--;
  }
  s->vc[i][s->passes[i]] = c;
  s->vt[i][s->passes[i]++] = ft;
}

int alec_lr_decode(alec_lr *s, alec_decoder *dec, uint32_t lost, const uint8_t *frame, size_t len, double *feed,
                   double *out, uint8_t *status, alec_frame_info *info) {
  unsigned n = s->n;
  alec_value vals[64];
  alec_frame_info fi;
  int replayed = lost > 0;
  if (lost > 0) replay_before_frame(s, dec, lost, frame, len);
  int rc = peek(dec, n, frame, len, vals, &fi);
  /* A loss the fCnt did not show (no fCnt from the transport, or an
   * encoder that counts otherwise): the frame's sequence counts the
   * encoder's frames, so it wins, once (the trackers are aligned after). */
  if (rc == (int)n && lost == 0 && fi.gap > 0) {
    replay_before_frame(s, dec, fi.gap, frame, len);
    replayed = 1;
    rc = peek(dec, n, frame, len, vals, &fi);
  }
  if (info) *info = fi;
  if (rc < 0) return rc;
  if (rc != (int)n) return ALEC_EMALFORMED;
  double a = alpha_of(dec), keep = 1.0 - a, k = keep / a, tol = tol_of(dec);
  double rep_new[ALEC_LR_MAX_CHANNELS];
  for (unsigned i = 0; i < n; i++) rep_new[i] = NAN;
  double tol_unit = (double)alec_context_scale(alec_decoder_context_const(dec));
  if (!(tol_unit > 0)) tol_unit = 100;
  for (unsigned i = 0; i < n; i++) {
    double v = vals[i].value;
    if (!isfinite(v)) {
      feed[i] = v;
      out[i] = v;
      status[i] = ALEC_LR_NONE;
      s->st[i] = ST_UNKNOWN;
      s->c[i] = 1.0;
      continue;
    }
    double r = nearbyint(v), f = v - r;
    if (vals[i].encoding == ALEC_ENC_RAW32 || vals[i].encoding == ALEC_ENC_RAW64) {
      /* Raw values are the register itself, whatever the predictor holds. */
      feed[i] = out[i] = r;
      status[i] = ALEC_LR_EXACT;
      exact_observed(s, i, keep);
      continue;
    }
    if (vals[i].encoding == ALEC_ENC_REPEATED) {
      /* The encoder's last value again: known exactly unless a loss came
       * in between (then the lost uplink's value, estimated). */
      if (s->last_exact[i] && !replayed) {
        feed[i] = out[i] = s->last[i];
        status[i] = ALEC_LR_EXACT;
        exact_observed(s, i, keep);
      } else if (!replayed && s->has_last) {
        /* The last value was uncertain, and is again. Observing what was
         * observed as it (its true value plus E) leaves E as it is. */
        feed[i] = s->rep[i];
        out[i] = s->last[i];
        status[i] = ALEC_LR_ESTIMATE;
        rep_new[i] = s->rep[i];
        if (s->st[i] == ST_EXACT) s->st[i] = ST_UNKNOWN; /* cannot happen: last was exact */
      } else {
        feed[i] = out[i] = s->has_last ? s->last[i] : r;
        status[i] = s->st[i] == ST_EXACT && !replayed ? ALEC_LR_EXACT : ALEC_LR_ESTIMATE;
        if (status[i] != ALEC_LR_EXACT) {
          /* An estimate observed: its error is outside the loss bound. */
          s->st[i] = ST_UNKNOWN;
          s->nmax[i] = NMAX;
        }
      }
      continue;
    }
    alec_source_stats ss;
    if (s->st[i] != ST_EXACT &&
        (alec_context_source(alec_decoder_context_const(dec), i + 1, &ss) != 0 || ss.count < 3)) {
      /* The predictor is still the last value (fewer than 3 observations):
       * what the corrections below assume of the EMA does not hold. The
       * last value becomes r; the EMA's error stays unknown. */
      feed[i] = out[i] = r;
      status[i] = ALEC_LR_ESTIMATE;
      s->st[i] = ST_UNKNOWN;
      s->nmax[i] = NMAX;
      continue;
    }
    if (s->st[i] == ST_EXACT && fabs(f) > tol) s->st[i] = ST_UNKNOWN; /* an undetected loss */
    if ((s->st[i] == ST_INT || s->st[i] == ST_VERIFY) && s->c[i] == 1.0 && fabs(f) > tol + s->eps[i])
      s->st[i] = ST_UNKNOWN;
    double q = 0.5 / tol_unit; /* a delta's rounding */
    switch (s->st[i]) {
    case ST_EXACT:
      feed[i] = out[i] = r;
      status[i] = ALEC_LR_EXACT;
      break;
    case ST_VERIFY:
      if (s->c[i] == 1.0 || (float)s->c[i] == s->vlast[i]) {
        /* Not yet verifiable, or checked at this c already: E stays the
         * integer it is (or c D of it). */
        feed[i] = out[i] = r;
        status[i] = ALEC_LR_ESTIMATE;
        break;
      }
      if (fabs(f) > tol + s->eps[i]) {
        s->nmax[i] = NMAX;
        goto restart; /* an alias: start over */
      }
      feed[i] = out[i] = r;
      s->vlast[i] = (float)s->c[i];
      check_passed(s, i, s->c[i], tol + s->eps[i]);
      if (alias_left(s, i)) {
        status[i] = ALEC_LR_ESTIMATE;
        break;
      }
      status[i] = ALEC_LR_EXACT;
      s->st[i] = ST_EXACT;
      s->reanchored++;
      break;
    case ST_UNKNOWN:
    restart:
      /* E = n + f for some integer n: observing r - k f instead of r takes
       * f out of the predictor, E becomes n (plus alpha/(1-alpha)... of
       * this frame's rounding, eps). */
      feed[i] = r - k * f;
      out[i] = r;
      status[i] = ALEC_LR_ESTIMATE;
      s->st[i] = ST_INT;
      s->c[i] = 1.0;
      s->eps[i] = keep * q;
      all_candidates(s, i);
      s->passes[i] = 0;
      break;
    case ST_INT: {
      /* A candidate is dropped only when it misses by half a quantum more
       * than the rounding bound: eps follows the roundings observed, not
       * every one the encoder made, and the true n once missed the bound by
       * 0.001 while a wrong one fitted (a value stored 1 unit off). */
      double c = s->c[i], t = 2 * q + s->eps[i] + 1e-9;
      if (c == 1.0) {
        /* No exact observation since: every n fits, E stays n. */
        feed[i] = out[i] = r;
        status[i] = ALEC_LR_ESTIMATE;
        break;
      }
      int hits = 0, same = 1;
      double val = 0, guess = 0;
      int guess_n = NMAX + 1;
      for (int m = -NMAX; m <= NMAX; m++) {
        if (!has_cand(s, i, m)) continue;
        double y = v - c * m, ry = nearbyint(y);
        if (fabs(y - ry) > t) {
          drop_cand(s, i, m);
          continue;
        }
        if (hits && ry != val) same = 0;
        val = ry;
        hits++;
        if (abs(m) < abs(guess_n)) {
          guess_n = m;
          guess = ry;
        }
      }
      if (hits == 0) {
        /* Nothing fits (a lost value moved faster than assumed): start
         * over from here with every candidate. */
        s->nmax[i] = NMAX;
        goto restart;
      }
      if (hits == 1) {
        /* The checks so far were on n - n'; D = c (n - n'). */
        for (unsigned k = 0; k < s->passes[i]; k++) s->vc[i][k] /= c;
        /* Identified: v - val is E itself; observing val - k E removes it. */
        double e = v - val;
        feed[i] = val - k * e;
        out[i] = val;
        if (s->nmax[i] < NMAX) {
          /* The candidates covered what the estimates can have got wrong. */
          status[i] = ALEC_LR_EXACT;
          s->st[i] = ST_EXACT;
          s->reanchored++;
          break;
        }
        /* Only the widest range was assumed: exact when no alias up to
         * VERIFY_DMAX fitted every check so far, else verify first. */
        s->c[i] = 1.0;
        s->eps[i] = keep * q;
        if (!alias_left(s, i)) {
          status[i] = ALEC_LR_EXACT;
          s->st[i] = ST_EXACT;
          s->reanchored++;
          break;
        }
        status[i] = ALEC_LR_ESTIMATE;
        s->st[i] = ST_VERIFY;
        s->vlast[i] = 1.0f;
        break;
      }
      /* An n outside the candidates that fits as the ones left do differs
       * from them by x with c x within 2 t of an integer. */
      check_passed(s, i, c, 2 * t);
      /* Several n fit: E keeps its form, plus alpha of this rounding. */
      feed[i] = v;
      rep_new[i] = v;
      s->eps[i] += a * q;
      out[i] = same ? val : guess;
      status[i] = same && s->nmax[i] < NMAX ? ALEC_LR_EXACT : ALEC_LR_ESTIMATE;
      break;
    }
    }
  }
  for (unsigned i = 0; i < n; i++) {
    if (status[i] == ALEC_LR_EXACT && !replayed) note_step(s, i, out[i]);
    if (isfinite(out[i])) s->last[i] = out[i];
    s->rep[i] = isnan(rep_new[i]) ? out[i] : rep_new[i];
    s->last_exact[i] = status[i] == ALEC_LR_EXACT && isfinite(out[i]);
  }
  s->has_last = 1;
  return (int)n;
}
