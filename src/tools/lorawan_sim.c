/* SPDX-License-Identifier: MIT */
/* EM500-CO2-like LoRaWAN fleet in virtual time (lorawan_sim.h). */

#include "lorawan_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/encoder.h"
#include "alec/error.h"

typedef struct dev {
  alec_encoder *enc;
  uint64_t rng;
  double phase;
  uint32_t fcnt;
  uint64_t index;
  int keyframe_request;
  /* Signals, in registers. */
  double batt, temp, hum, co2, pres;
  double temp_base, hum_base, co2_peak;
  int day; /* day of the current CO2 peak */
} dev;

struct alec_lws {
  alec_lws_config cfg;
  dev *d;
  unsigned *order; /* devices by phase */
  uint64_t period_index, periods;
  unsigned next; /* position in order */
};

void alec_lws_config_init(alec_lws_config *c) {
  memset(c, 0, sizeof *c);
  c->devices = 40;
  c->days = 3;
  c->period = 600;
  c->loss = 0.02;
  c->outage_start = 36 * 3600.0;
  c->outage_length = 90 * 60.0;
  c->loss_until = -1;
  c->ceiling = 11;
  c->keyframe = 30;
  c->seed = 1;
  c->start = 1796083200.0; /* 2026-12-01T00:00:00Z */
  c->first_deveui = UINT64_C(0x24E124136B000000);
  c->anomaly_start = -1;
}

/* splitmix64: per-device streams from one seed. */
static uint64_t next_u64(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

static double gauss(uint64_t *s) {
  double u = uniform(s), v = uniform(s);
  if (u < 1e-300) u = 1e-300;
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int new_encoder(const alec_lws_config *c, alec_encoder **enc) {
  alec_encoder_config ec;
  alec_encoder_config_init(&ec);
  ec.reference_compat = 1;
  ec.keyframe_interval = c->keyframe;
  return alec_encoder_new(enc, &ec);
}

static int cmp_phase_ctx_sort(const void *a, const void *b, const dev *d) {
  double x = d[*(const unsigned *)a].phase, y = d[*(const unsigned *)b].phase;
  return x < y ? -1 : x > y;
}

int alec_lws_new(alec_lws **out, const alec_lws_config *cfg) {
  *out = NULL;
  alec_lws_config c;
  if (cfg) c = *cfg;
  else alec_lws_config_init(&c);
  if (c.devices == 0 || c.devices > 1000000 || !(c.period > 0) || !(c.days > 0) || !(c.loss >= 0 && c.loss <= 1) ||
      c.ceiling < 8 || c.ceiling > ALEC_LWS_MAX_PAYLOAD)
    return ALEC_EINVAL;
  alec_lws *s = calloc(1, sizeof *s);
  if (!s) return ALEC_ENOMEM;
  s->cfg = c;
  s->d = calloc(c.devices, sizeof *s->d);
  s->order = calloc(c.devices, sizeof *s->order);
  if (!s->d || !s->order) {
    alec_lws_free(s);
    return ALEC_ENOMEM;
  }
  s->periods = (uint64_t)(c.days * 86400.0 / c.period);
  for (unsigned i = 0; i < c.devices; i++) {
    dev *d = &s->d[i];
    d->rng = c.seed * UINT64_C(1000003) + i;
    (void)next_u64(&d->rng);
    d->phase = uniform(&d->rng) * c.period;
    d->batt = 100 - (double)(i % 7);
    d->temp_base = 205 + (double)(i % 30);
    d->temp = d->temp_base;
    d->hum_base = 80 + (double)(i % 25);
    d->hum = d->hum_base;
    d->co2 = 420 + (double)(i % 40);
    d->co2_peak = 800 + 600 * uniform(&d->rng);
    d->day = -1;
    d->pres = 10100 + (double)(i % 50);
    if (new_encoder(&c, &d->enc) != 0) {
      alec_lws_free(s);
      return ALEC_ENOMEM;
    }
    s->order[i] = i;
  }
  /* Insertion sort by phase (qsort has no context argument in C11). */
  for (unsigned i = 1; i < c.devices; i++) {
    unsigned v = s->order[i], j = i;
    while (j > 0 && cmp_phase_ctx_sort(&s->order[j - 1], &v, s->d) > 0) {
      s->order[j] = s->order[j - 1];
      j--;
    }
    s->order[j] = v;
  }
  *out = s;
  return 0;
}

void alec_lws_free(alec_lws *s) {
  if (!s) return;
  if (s->d)
    for (unsigned i = 0; i < s->cfg.devices; i++) alec_encoder_free(s->d[i].enc);
  free(s->d);
  free(s->order);
  free(s);
}

void alec_lws_downlink(alec_lws *s, unsigned device, const uint8_t *msg, size_t len) {
  if (device < s->cfg.devices && len == 1 && msg[0] == 0xFF) s->d[device].keyframe_request = 1;
}

void alec_lws_reboot(alec_lws *s, unsigned device) {
  if (device >= s->cfg.devices) return;
  dev *d = &s->d[device];
  alec_encoder *e;
  if (new_encoder(&s->cfg, &e) != 0) return;
  alec_encoder_free(d->enc);
  d->enc = e;
  d->fcnt = 0;
  d->keyframe_request = 0;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Indoor signals at 10-minute resolution: slow steps in temperature,
 * humidity and pressure, CO2 following occupancy (office hours on
 * weekdays) with ventilation noise. */
static void measure(alec_lws *s, dev *d, double t, double *r) {
  double tod = fmod(t, 86400.0) / 3600.0;
  int day = (int)floor(t / 86400.0);
  if (day != d->day) {
    d->day = day;
    d->co2_peak = 750 + 650 * uniform(&d->rng);
  }
  if (uniform(&d->rng) < 1.0 / 400) d->batt -= 1;
  double ttarget = d->temp_base + 15 * sin(6.283185307179586 * (tod - 9) / 24);
  if (uniform(&d->rng) < 0.25) d->temp += ttarget > d->temp ? 1 : ttarget < d->temp ? -1 : 0;
  if (uniform(&d->rng) < 0.7) d->temp += uniform(&d->rng) < 0.5 ? -1 : 1;
  double htarget = d->hum_base - 0.5 * (d->temp - d->temp_base);
  if (uniform(&d->rng) < 0.7) d->hum += htarget > d->hum ? 1 : htarget < d->hum ? -1 : 0;
  if (uniform(&d->rng) < 0.8) d->pres += uniform(&d->rng) < 0.5 ? -1 : 1;
  int weekday = ((day + 3) % 7) < 5; /* Monday 0: 1970-01-01 was a Thursday */
  double ctarget = weekday && tod >= 8 && tod < 18 ? d->co2_peak : 420;
  d->co2 += (ctarget - d->co2) * 0.12 + gauss(&d->rng) * 8;
  d->co2 = clampd(d->co2, 380, 5000);
  /* The offset is on the reading, not on the device's state: it ends with
   * the window. */
  double rel = t - s->cfg.start, off = 0;
  if (s->cfg.anomaly_start >= 0 && (unsigned)(d - s->d) == s->cfg.anomaly_device && rel >= s->cfg.anomaly_start &&
      rel < s->cfg.anomaly_start + s->cfg.anomaly_length)
    off = s->cfg.anomaly_temp;
  r[0] = clampd(d->batt, 0, 100);
  r[1] = clampd(nearbyint(d->temp + off), -400, 850);
  r[2] = clampd(nearbyint(d->hum), 0, 200);
  r[3] = nearbyint(d->co2);
  r[4] = clampd(nearbyint(d->pres), 3000, 11000);
}

size_t alec_lws_tlv_encode(const double *r, uint8_t *o) {
  int t = (int)r[1];
  unsigned c = (unsigned)r[3], p = (unsigned)r[4];
  uint8_t b[] = {0x01, 0x75, (uint8_t)r[0], 0x03, 0x67, (uint8_t)(t & 0xFF), (uint8_t)((t >> 8) & 0xFF),
                 0x04, 0x68, (uint8_t)r[2], 0x05, 0x7D, (uint8_t)(c & 0xFF), (uint8_t)(c >> 8),
                 0x06, 0x73, (uint8_t)(p & 0xFF), (uint8_t)(p >> 8)};
  memcpy(o, b, sizeof b);
  return sizeof b;
}

int alec_lws_next(alec_lws *s, alec_lws_uplink *u) {
  if (s->next >= s->cfg.devices) {
    s->next = 0;
    s->period_index++;
  }
  if (s->period_index >= s->periods) return 0;
  unsigned i = s->order[s->next++];
  dev *d = &s->d[i];
  memset(u, 0, sizeof *u);
  u->device = i;
  u->deveui = s->cfg.first_deveui + i;
  double rel = (double)s->period_index * s->cfg.period + d->phase;
  u->time = s->cfg.start + rel;
  u->fport = ALEC_LWS_FPORT;
  u->fcnt = d->fcnt++;
  u->index = d->index++;
  measure(s, d, u->time, u->truth);
  if (d->keyframe_request) {
    alec_encoder_force_keyframe(d->enc);
    d->keyframe_request = 0;
  }
  uint8_t frame[64];
  int n = alec_encode_fixed(d->enc, u->truth, ALEC_LWS_CHANNELS, frame, sizeof frame);
  if (n > 0 && (size_t)n <= s->cfg.ceiling && frame[0] == 0xA1) {
    memcpy(u->payload, frame, (size_t)n);
    u->len = (size_t)n;
  } else {
    /* Option C: the frame the encoder produced is not sent. */
    u->tlv = 1;
    u->len = alec_lws_tlv_encode(u->truth, u->payload);
  }
  double draw = uniform(&d->rng);
  u->lost = (draw < s->cfg.loss && (s->cfg.loss_until < 0 || rel < s->cfg.loss_until)) ||
            (s->cfg.outage_start >= 0 && rel >= s->cfg.outage_start && rel < s->cfg.outage_start + s->cfg.outage_length);
  u->rssi = (float)(-95 - 20 * uniform(&d->rng));
  u->snr = (float)(-8 + 14 * uniform(&d->rng));
  return 1;
}
