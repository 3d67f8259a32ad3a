/* SPDX-License-Identifier: MIT */
/* An emulated LoRaWAN fleet through a receiver, against the truth
 * (loss_eval.h). */

#include "loss_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/decoder.h"
#include "alec/error.h"
#include "receiver.h"

/* The partner's registers to physical units, as a profile would say. */
static const double mult[ALEC_LWS_CHANNELS] = {1.0, 0.1, 0.5, 1.0, 0.1};
static const char *const items[ALEC_LWS_CHANNELS] = {"battery", "temperature", "humidity", "co2", "pressure"};

typedef struct dynarr {
  double *v;
  size_t n, cap;
} dynarr;

static int push(dynarr *a, double x) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? 2 * a->cap : 1024;
    double *n = realloc(a->v, nc * sizeof *n);
    if (!n) return ALEC_ENOMEM;
    a->v = n;
    a->cap = nc;
  }
  a->v[a->n++] = x;
  return 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double quantile(dynarr *a, double q) {
  if (a->n == 0) return 0;
  qsort(a->v, a->n, sizeof *a->v, cmp_d);
  size_t i = (size_t)ceil(q * (double)a->n);
  if (i > 0) i--;
  if (i >= a->n) i = a->n - 1;
  return a->v[i];
}

/* Per device: the loss episode in progress. */
typedef struct episode {
  int pending; /* a loss happened, no uplink received since */
  int open;
  long pos, last_bad;
} episode;

typedef struct run {
  alec_le_result *r;
  dynarr errs, ttes;
  const double *truth;
  int got[ALEC_LWS_CHANNELS];
  double err[ALEC_LWS_CHANNELS];
  int oom;
} run;

static void record(run *u, uint32_t ch, double value, int estimated) {
  if (ch >= ALEC_LWS_CHANNELS) return;
  double e = fabs(value - u->truth[ch] * mult[ch]) / mult[ch];
  if (!isfinite(e)) e = INFINITY;
  u->got[ch] = 1;
  u->err[ch] = e;
  u->r->delivered++;
  u->r->estimated += estimated != 0;
  if (e < 0.01) u->r->exact++;
  else u->r->off_001++;
  if (e > 1.0) u->r->off_unit++;
  if (e > u->r->max_err) u->r->max_err = e;
  if (push(&u->errs, e)) u->oom = 1;
}

static void sink_values(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible) {
  run *u = arg;
  (void)unconvertible;
  for (size_t i = 0; i < f->n; i++) {
    record(u, f->values[i].channel, f->values[i].value, f->values[i].flags & ALEC_RX_VALUE_ESTIMATED);
    (*dispatched)++;
  }
}

static void close_episode(run *u, episode *ep) {
  if (!ep->open) return;
  u->r->episodes++;
  double t = (double)(ep->last_bad + 1);
  if (ep->last_bad == ep->pos - 1 && ep->pos > 0) u->r->tte_never++;
  if (push(&u->ttes, t)) u->oom = 1;
  ep->open = 0;
}

static int uplink_exact(const run *u) {
  for (int c = 0; c < ALEC_LWS_CHANNELS; c++)
    if (!u->got[c] || !(u->err[c] < 0.01)) return 0;
  return 1;
}

int alec_le_profile_config(alec_plugin_config *pc, int estimate, unsigned max_emitters, char *err, size_t errlen) {
  alec_pc_init(pc);
  pc->resync_requests = 0; /* downlinks run on the wall clock: keep runs deterministic */
  pc->max_emitters = max_emitters;
  pc->emitter_timeout = 1e9;
  pc->profiles = calloc(1, sizeof *pc->profiles);
  if (!pc->profiles) return ALEC_ENOMEM;
  pc->n_profiles = 1;
  alec_pc_profile *p = &pc->profiles[0];
  strcpy(p->name, "em500-co2");
  p->s.format = ALEC_FORMAT_FIXED;
  p->s.channels = ALEC_LWS_CHANNELS;
  p->fallback = ALEC_PC_FALLBACK_MILESIGHT_TLV;
  p->loss_recovery = estimate ? ALEC_PC_LOSS_ESTIMATE : ALEC_PC_LOSS_HOLD;
  p->s.map.ch = calloc(ALEC_LWS_CHANNELS, sizeof *p->s.map.ch);
  if (!p->s.map.ch) return ALEC_ENOMEM;
  p->s.map.n = ALEC_LWS_CHANNELS;
  for (unsigned i = 0; i < ALEC_LWS_CHANNELS; i++) {
    alec_pc_channel *c = &p->s.map.ch[i];
    c->id = i;
    strcpy(c->type, "gauge");
    strcpy(c->type_instance, items[i]);
    c->ds_type = 0;
    c->has_conv = mult[i] != 1.0;
    c->multiply = mult[i];
    c->add = 0;
    if (alec_tlv_item_lookup(items[i], &p->tlv[i].id, &p->tlv[i].type) != 0) return ALEC_EINVAL;
    p->tlv[i].channel = (uint8_t)i;
  }
  p->n_tlv = ALEC_LWS_CHANNELS;
  return alec_pc_finalize(pc, NULL, NULL, err, errlen);
}

int alec_le_run(const alec_le_config *cfg, alec_le_result *out) {
  memset(out, 0, sizeof *out);
  run u;
  memset(&u, 0, sizeof u);
  u.r = out;
  alec_lws *sim = NULL;
  alec_rx *rx = NULL;
  alec_decoder **refs = NULL;
  episode *eps = NULL;
  alec_plugin_config pc;
  int rc = alec_lws_new(&sim, &cfg->sim);
  alec_pc_init(&pc);
  if (rc) goto done;
  unsigned nd = cfg->sim.devices;
  eps = calloc(nd, sizeof *eps);
  if (!eps) {
    rc = ALEC_ENOMEM;
    goto done;
  }
  if (cfg->receiver == ALEC_LE_OURS) {
    char err[512];
    if ((rc = alec_le_profile_config(&pc, cfg->estimate, cfg->sim.devices + 16, err, sizeof err)) != 0) goto done;
    alec_rx_sink sink = {.arg = &u, .values = sink_values};
    if (alec_rx_new(&rx, &pc, &sink) != 0) {
      rc = ALEC_EINVAL;
      goto done;
    }
  } else {
    refs = calloc(nd, sizeof *refs);
    if (!refs) {
      rc = ALEC_ENOMEM;
      goto done;
    }
    alec_decoder_config dc;
    alec_decoder_config_init(&dc);
    dc.flags = ALEC_DECODER_STRICT_REFERENCE;
    for (unsigned i = 0; i < nd; i++)
      if ((rc = alec_decoder_new(&refs[i], &dc)) != 0) goto done;
  }
  alec_lws_uplink up;
  alec_rx_msg *m = alec_rx_msg_new(ALEC_LWS_MAX_PAYLOAD);
  if (!m) {
    rc = ALEC_ENOMEM;
    goto done;
  }
  while (alec_lws_next(sim, &up) == 1) {
    if (cfg->reboot_at && up.device == 0 && up.index + 1 == cfg->reboot_at) alec_lws_reboot(sim, 0);
    out->uplinks++;
    episode *ep = &eps[up.device];
    if (up.device == 0 && up.index < cfg->join_at) up.lost = 1;
    if (up.lost) {
      out->lost++;
      close_episode(&u, ep);
      ep->pending = 1;
      continue;
    }
    out->received++;
    out->tlv += up.tlv != 0;
    out->expected += ALEC_LWS_CHANNELS;
    u.truth = up.truth;
    memset(u.got, 0, sizeof u.got);
    if (rx) {
      memset(m, 0, sizeof *m);
      m->kind = ALEC_RX_PAYLOAD;
      m->has_emitter = 1;
      m->emitter = up.deveui;
      m->has_fcnt = 1;
      m->fcnt = up.fcnt;
      m->fport = up.fport;
      m->received = up.time;
      m->format = ALEC_FORMAT_FIXED;
      m->channels = ALEC_LWS_CHANNELS;
      m->profile = &pc.profiles[0];
      m->len = up.len;
      memcpy(m->data, up.payload, up.len);
      alec_rx_process(rx, m);
    } else {
      alec_decoder *d = refs[up.device];
      if (up.tlv) {
        if (alec_decoder_feed_values(d, up.truth, ALEC_LWS_CHANNELS) == 0)
          for (unsigned c = 0; c < ALEC_LWS_CHANNELS; c++) record(&u, c, up.truth[c] * mult[c], 0);
      } else {
        alec_value v[ALEC_LWS_CHANNELS];
        int n = alec_decoder_decode(d, ALEC_FORMAT_FIXED, ALEC_LWS_CHANNELS, up.payload, up.len, v,
                                    ALEC_LWS_CHANNELS, NULL);
        if (n < 0) out->decode_rejects++;
        for (int c = 0; c < n; c++) record(&u, v[c].id, v[c].value * mult[v[c].id], 0);
      }
    }
    if (cfg->tail_from > 0 && up.time - cfg->sim.start >= cfg->tail_from) {
      out->tail_expected += ALEC_LWS_CHANNELS;
      for (int c = 0; c < ALEC_LWS_CHANNELS; c++) out->tail_exact += u.got[c] && u.err[c] < 0.01;
    }
    if (ep->pending) {
      ep->pending = 0;
      ep->open = 1;
      ep->pos = 0;
      ep->last_bad = -1;
    }
    if (ep->open) {
      if (!uplink_exact(&u)) ep->last_bad = ep->pos;
      ep->pos++;
    }
  }
  free(m);
  for (unsigned i = 0; i < nd; i++) close_episode(&u, &eps[i]);
  out->p99_err = quantile(&u.errs, 0.99);
  out->tte_median = quantile(&u.ttes, 0.5);
  out->tte_p90 = quantile(&u.ttes, 0.9);
  out->tte_max = u.ttes.n ? u.ttes.v[u.ttes.n - 1] : 0;
  if (rx) {
    alec_rx_stats st;
    alec_rx_get_stats(rx, 0, &st);
    out->fcnt_gaps = st.fcnt_gaps;
    out->ghosts = st.ghosts_replayed;
    out->held_back = st.held_back;
    out->reanchored = st.reanchored;
    out->tlv_frames = st.tlv_frames;
    out->decode_rejects = st.rejected[ALEC_RX_REJ_DECODE];
    out->fcnt_resets = st.fcnt_resets;
  } else {
    out->held_back = out->expected - out->delivered;
  }
  rc = u.oom ? ALEC_ENOMEM : 0;
done:
  alec_rx_free(rx);
  alec_pc_free(&pc);
  if (refs)
    for (unsigned i = 0; i < cfg->sim.devices; i++) alec_decoder_free(refs[i]);
  free(refs);
  free(eps);
  free(u.errs.v);
  free(u.ttes.v);
  alec_lws_free(sim);
  return rc;
}
