/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the fleet module (alec/fleet.h).
 *
 * Input: cfg(3) op*
 *   cfg: detector tuning and small bounds (3..10 emitters, 1..64 groups,
 *        1..256 channels) so that every limit is reached.
 *   op (1 byte), by op & 7:
 *     0-3  frame: emitter(1 or 1+8) channels(1) dt(1) len(2) frame[len & 0xFFF];
 *          format = (op >> 3 & 3) + 1, op bit 5: small output buffer, else
 *          op bit 6: through alec_fleet_process_hint (hints shared by ids)
 *     4    evaluate, dt(1) first
 *     5    set group: emitter, name length(1), name; length 0xFF: clear it
 *     6    queries over every emitter and channel
 *     7    sub-op(1): remove stale / remove emitter / sync patterns / time
 *          jump (either way) / preload round trip of the fleet context /
 *          non-finite time / restore an emitter from another's decoder /
 *          fleet state save and load into a fresh fleet
 * Time moves by signed steps, so it goes backwards too. Invariants: the
 * bounds hold, refused calls change nothing visible, every event and every
 * accessor returns sane values. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/context.h"
#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/fleet_state.h"
#include "alec/preload.h"
#include "fuzz_util.h"

#define MAX_OPS 1500

typedef struct ev_ctx {
  const alec_fleet_config *cfg;
  int count;
  double now;
} ev_ctx;

static void on_event(const alec_fleet_event *ev, void *arg) {
  ev_ctx *c = arg;
  c->count++;
  FUZZ_CHECK(ev->kind == ALEC_FLEET_EVENT_EMITTER || ev->kind == ALEC_FLEET_EVENT_SHIFT ||
             ev->kind == ALEC_FLEET_EVENT_STALE || ev->kind == ALEC_FLEET_EVENT_SILENT);
  FUZZ_CHECK(ev->severity <= ALEC_FLEET_FAILURE && ev->previous <= ALEC_FLEET_FAILURE);
  FUZZ_CHECK(ev->severity != ev->previous);
  FUZZ_CHECK(ev->group != NULL && strlen(ev->group) <= ALEC_FLEET_GROUP_MAX);
  FUZZ_CHECK(ev->time == c->now);
  FUZZ_CHECK(!isnan(ev->median) && !isnan(ev->mad) && !isnan(ev->score));
  if (ev->kind == ALEC_FLEET_EVENT_EMITTER) {
    FUZZ_CHECK(ev->peers >= c->cfg->min_peers);
    FUZZ_CHECK(ev->mad >= c->cfg->mad_floor);
    FUZZ_CHECK((ev->reason & ~(unsigned)(ALEC_FLEET_REASON_LEVEL | ALEC_FLEET_REASON_DRIFT)) == 0);
  } else if (ev->kind != ALEC_FLEET_EVENT_STALE) {
    FUZZ_CHECK(ev->emitter_id == 0);
  }
  FUZZ_CHECK(alec_fleet_state_name(ev->severity) != NULL);
}

static uint64_t emitter_id(fuzz_in *in) {
  uint8_t b = fuzz_u8(in);
  /* Mostly a handful of ids so that emitters recur; sometimes any 64 bits. */
  if (b & 0x80) return fuzz_u64(in);
  return b & 0x0F;
}

static void config_from(fuzz_in *in, alec_fleet_config *cfg) {
  static const uint32_t warm[4] = {1, 2, 5, 50};
  static const uint32_t chans[4] = {1, 4, 16, 256};
  static const uint32_t groups[4] = {1, 2, 4, 64};
  static const uint32_t pmin[4] = {0, 2, 3, 255};
  uint8_t a = fuzz_u8(in), b = fuzz_u8(in), c = fuzz_u8(in);
  alec_fleet_config_init(cfg);
  cfg->max_emitters = 3 + (a & 7);
  cfg->emitter_timeout = 60.0;
  cfg->enter_count = 1 + ((a >> 3) & 3);
  cfg->exit_count = 1 + ((a >> 5) & 3);
  if (a & 0x80) cfg->level_alpha = 0.5;
  cfg->drift_warmup = warm[b & 3];
  cfg->cusum_h = (b & 4) ? 0.0 : 3.0;
  if (b & 8) cfg->mad_floor = 1e-9;
  if (b & 0x10) cfg->shift_fraction = 1.0;
  if (b & 0x20) cfg->shift_alpha = 1.0;
  if (b & 0x40) cfg->min_peers = cfg->max_emitters;
  if (b & 0x80) cfg->decoder.flags |= ALEC_DECODER_STRICT_REFERENCE;
  cfg->max_channels = chans[c & 3];
  cfg->max_groups = groups[(c >> 2) & 3];
  cfg->pattern_min_count = pmin[(c >> 4) & 3];
  cfg->sync_interval = (c & 0x40) ? 0.0 : 5.0;
  if (c & 0x80) cfg->fleet_ctx.max_patterns = 2;
}

static void check_bounds(const alec_fleet *fleet, const alec_fleet_config *cfg, double now) {
  alec_fleet_stats st;
  alec_fleet_get_stats(fleet, now, &st);
  size_t n = alec_fleet_emitter_count(fleet);
  FUZZ_CHECK(n <= cfg->max_emitters);
  FUZZ_CHECK(st.emitters == n);
  FUZZ_CHECK(st.active <= n && st.anomalous <= n);
  FUZZ_CHECK(st.groups <= cfg->max_groups && st.groups <= st.emitters);
  FUZZ_CHECK(st.memory == alec_fleet_memory(fleet));
  FUZZ_CHECK(st.compression_ratio >= 0 && !isnan(st.compression_ratio));
  FUZZ_CHECK(alec_fleet_active_emitters(fleet, now, NULL, 0) == st.active);
}

static void queries(alec_fleet *fleet, const alec_fleet_config *cfg, double now) {
  size_t n = alec_fleet_emitter_count(fleet);
  uint64_t ids[16];
  size_t active = alec_fleet_active_emitters(fleet, now, ids, 16);
  FUZZ_CHECK(active <= n);
  for (size_t i = 0; i < active && i < 16; i++) {
    alec_fleet_emitter_info ei;
    FUZZ_CHECK(alec_fleet_get_emitter(fleet, ids[i], now, &ei) == 0 && ei.active);
  }
  for (size_t i = 0;; i++) {
    alec_fleet_emitter_info ei;
    int rc = alec_fleet_emitter_at(fleet, i, now, &ei);
    if (rc == ALEC_ENOTFOUND) {
      FUZZ_CHECK(i == n);
      break;
    }
    FUZZ_CHECK(rc == 0 && i < n);
    FUZZ_CHECK(ei.group[ALEC_FLEET_GROUP_MAX] == '\0' || strlen(ei.group) <= ALEC_FLEET_GROUP_MAX);
    FUZZ_CHECK(ei.n_channels <= cfg->max_channels);
    FUZZ_CHECK(ei.state <= ALEC_FLEET_FAILURE);
    alec_fleet_emitter_info again;
    FUZZ_CHECK(alec_fleet_get_emitter(fleet, ei.id, now, &again) == 0 && again.id == ei.id);
    unsigned k;
    for (k = 0;; k++) {
      alec_fleet_channel_info ci;
      int r = alec_fleet_get_channel(fleet, ei.id, k, &ci);
      if (r == ALEC_ENOTFOUND) break;
      FUZZ_CHECK(r == 0);
      FUZZ_CHECK(ci.state <= ALEC_FLEET_FAILURE);
      FUZZ_CHECK(!(ci.stddev < 0));
    }
    FUZZ_CHECK(k == ei.n_channels);
    double pv[8];
    int np = alec_fleet_emitter_patterns(fleet, ei.id, pv, 8);
    FUZZ_CHECK(np >= 0 && (unsigned)np == ei.n_patterns);
    alec_decoder *dec = alec_fleet_emitter_decoder(fleet, ei.id);
    FUZZ_CHECK(dec != NULL && alec_decoder_save(dec, NULL, 0) > 0);
  }
}

/* The fleet dictionary survives its own preload file. */
static void preload_roundtrip(alec_fleet *fleet) {
  const alec_context *fctx = alec_fleet_context_const(fleet);
  long need = alec_preload_write(fctx, "fuzz", 1, 2, NULL, 0);
  if (need == ALEC_ERANGE) return;
  FUZZ_CHECK(need >= ALEC_PRELOAD_HEADER_SIZE);
  uint8_t *buf = malloc((size_t)need);
  FUZZ_CHECK(buf != NULL);
  FUZZ_CHECK(alec_preload_write(fctx, "fuzz", 1, 2, buf, (size_t)need) == need);
  alec_context *copy = NULL;
  FUZZ_CHECK(alec_context_new(&copy, alec_context_get_config(fctx)) == 0);
  alec_preload_info info;
  FUZZ_CHECK(alec_preload_read(copy, buf, (size_t)need, &info) == 0);
  FUZZ_CHECK(info.dict_count == alec_context_pattern_count(fctx));
  FUZZ_CHECK(alec_context_hash(copy) == alec_context_hash(fctx));
  FUZZ_CHECK(alec_context_version(copy) == alec_context_version(fctx));
  alec_context_free(copy);
  free(buf);
}

/* An emitter re-created from another one's saved decoder (restart path). */
static void restore(alec_fleet *fleet, const alec_fleet_config *cfg, uint64_t from, uint64_t to,
                    double now) {
  alec_decoder *dec = alec_fleet_emitter_decoder(fleet, from);
  if (dec == NULL) return;
  long need = alec_decoder_save(dec, NULL, 0);
  FUZZ_CHECK(need > 0);
  uint8_t *b = malloc((size_t)need);
  FUZZ_CHECK(b != NULL && alec_decoder_save(dec, b, (size_t)need) == need);
  size_t before = alec_fleet_emitter_count(fleet);
  int exists = alec_fleet_emitter_decoder(fleet, to) != NULL;
  int rc = alec_fleet_restore_emitter(fleet, to, b, (size_t)need, now);
  if (exists) FUZZ_CHECK(rc == ALEC_EINVAL);
  else if (before >= cfg->max_emitters) FUZZ_CHECK(rc == ALEC_ENOSPC);
  else FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(alec_fleet_emitter_count(fleet) == before + (rc == 0));
  if (rc == 0) {
    long n2 = alec_decoder_save(alec_fleet_emitter_decoder(fleet, to), NULL, 0);
    FUZZ_CHECK(n2 == need);
  }
  free(b);
}

static uint8_t *decoder_blob(alec_decoder *dec, size_t *len) {
  long need = alec_decoder_save(dec, NULL, 0);
  FUZZ_CHECK(need > 0);
  uint8_t *b = malloc((size_t)need);
  FUZZ_CHECK(b != NULL && alec_decoder_save(dec, b, (size_t)need) == need);
  *len = (size_t)need;
  return b;
}

static void copy_groups(const alec_fleet *from, alec_fleet *to, double now) {
  size_t n = alec_fleet_emitter_count(from);
  for (size_t i = 0; i < n; i++) {
    alec_fleet_emitter_info ei;
    FUZZ_CHECK(alec_fleet_emitter_at(from, i, now, &ei) == 0);
    FUZZ_CHECK(alec_fleet_set_emitter_group(to, ei.id, ei.group) == 0);
  }
}

/* Every emitter's decoder survives a save and a load into a fresh fleet
 * (groups come from the configuration, so the fresh fleet gets them first);
 * a second save/load changes nothing more. */
static void state_round_trip(alec_fleet *fleet, const alec_fleet_config *cfg, double now) {
  uint8_t *a = NULL;
  size_t a_len;
  FUZZ_CHECK(alec_fleet_state_save(fleet, now, &a, &a_len, NULL) == 0);
  alec_fleet *fresh = NULL;
  FUZZ_CHECK(alec_fleet_new(&fresh, cfg) == 0);
  size_t n = alec_fleet_emitter_count(fleet);
  copy_groups(fleet, fresh, now);
  alec_fleet_state_info info;
  FUZZ_CHECK(alec_fleet_state_load(fresh, a, a_len, now, NULL, NULL, &info) == 0);
  FUZZ_CHECK(alec_fleet_emitter_count(fresh) == n);
  FUZZ_CHECK(info.emitters == n && info.bytes == a_len && info.group_changes == 0);
  for (size_t i = 0; i < n; i++) {
    alec_fleet_emitter_info ei;
    FUZZ_CHECK(alec_fleet_emitter_at(fleet, i, now, &ei) == 0);
    size_t x_len, y_len;
    uint8_t *x = decoder_blob(alec_fleet_emitter_decoder(fleet, ei.id), &x_len);
    alec_decoder *d = alec_fleet_emitter_decoder(fresh, ei.id);
    FUZZ_CHECK(d != NULL);
    uint8_t *y = decoder_blob(d, &y_len);
    FUZZ_CHECK(x_len == y_len && memcmp(x, y, x_len) == 0);
    free(x);
    free(y);
  }
  uint8_t *b = NULL, *c = NULL;
  size_t b_len, c_len;
  FUZZ_CHECK(alec_fleet_state_save(fresh, now, &b, &b_len, NULL) == 0);
  alec_fleet *again = NULL;
  FUZZ_CHECK(alec_fleet_new(&again, cfg) == 0);
  copy_groups(fleet, again, now);
  FUZZ_CHECK(alec_fleet_state_load(again, b, b_len, now, NULL, NULL, NULL) == 0);
  FUZZ_CHECK(alec_fleet_state_save(again, now, &c, &c_len, NULL) == 0);
  FUZZ_CHECK(b_len == c_len && memcmp(b, c, b_len) == 0);
  free(c);
  free(b);
  free(a);
  alec_fleet_free(again);
  alec_fleet_free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size};
  alec_fleet_config cfg;
  config_from(&in, &cfg);
  char err[128];
  FUZZ_CHECK(alec_fleet_config_validate(&cfg, err, sizeof err) == 0);
  alec_fleet *fleet = NULL;
  FUZZ_CHECK(alec_fleet_new(&fleet, &cfg) == 0);

  double now = 1000.0;
  static alec_fleet_value out[ALEC_FLEET_MAX_VALUES];
  uint32_t hints[8] = {0};
  for (int ops = 0; fuzz_left(&in) > 0 && ops < MAX_OPS; ops++) {
    uint8_t op = fuzz_u8(&in);
    switch (op & 7) {
    case 0: case 1: case 2: case 3: {
      uint64_t id = emitter_id(&in);
      alec_format fmt = (alec_format)(((op >> 3) & 3) + 1);
      unsigned channels = fuzz_u8(&in) % 66u;
      now += (int8_t)fuzz_u8(&in) * 0.5;
      size_t len;
      const uint8_t *frame = fuzz_bytes(&in, fuzz_u16(&in) & 0x0FFFu, &len);
      size_t cap = (op & 0x20) ? (op >> 6) : ALEC_FLEET_MAX_VALUES;
      size_t before = alec_fleet_emitter_count(fleet);
      alec_fleet_emitter_info known;
      int was_known = alec_fleet_get_emitter(fleet, id, now, &known) == 0;
      alec_frame_info info;
      int rc;
      if ((op & 0x60) == 0x40) {
        /* Hinted: the slots are shared by ids, so hints are often wrong. */
        double period = -1;
        rc = alec_fleet_process_hint(fleet, &hints[id % 8], id, fmt, channels, frame, len, now, out, cap, &info,
                                     &period);
        FUZZ_CHECK(period == (rc < 0 ? 0.0 : alec_fleet_emitter_period(fleet, id)));
      } else {
        rc = alec_fleet_process(fleet, id, fmt, channels, frame, len, now, cap ? out : NULL, cap, &info);
      }
      if (rc < 0) {
        FUZZ_CHECK(rc >= ALEC_ERROR_MIN);
        FUZZ_CHECK(alec_fleet_emitter_count(fleet) == before);
        if (fmt == ALEC_FORMAT_FIXED && (channels < 1 || channels > 64))
          FUZZ_CHECK(rc == ALEC_EINVAL);
        if (rc == ALEC_ENOSPC) FUZZ_CHECK(!was_known && before == cfg.max_emitters);
      } else {
        FUZZ_CHECK(rc <= ALEC_FLEET_MAX_VALUES && info.n_values == (size_t)rc);
        FUZZ_CHECK(alec_fleet_emitter_count(fleet) == before + (was_known ? 0 : 1));
        for (int i = 0; i < rc && (size_t)i < cap; i++) {
          FUZZ_CHECK(out[i].state <= ALEC_FLEET_FAILURE && out[i].tracked <= 1);
          FUZZ_CHECK(out[i].priority <= ALEC_P5);
        }
        alec_fleet_emitter_info ei;
        FUZZ_CHECK(alec_fleet_get_emitter(fleet, id, now, &ei) == 0 && ei.active);
      }
      break;
    }
    case 4: {
      now += (int8_t)fuzz_u8(&in) * 0.5;
      ev_ctx ec = {&cfg, 0, now};
      int rc = alec_fleet_evaluate(fleet, now, on_event, &ec);
      FUZZ_CHECK(rc == ec.count);
      break;
    }
    case 5: {
      uint64_t id = emitter_id(&in);
      char name[80];
      size_t len;
      uint8_t lb = fuzz_u8(&in);
      if (lb == 0xFF) { /* clear the assignment: back to the default group */
        FUZZ_CHECK(alec_fleet_clear_emitter_group(fleet, id) == 0);
        alec_fleet_emitter_info ei;
        if (alec_fleet_get_emitter(fleet, id, now, &ei) == 0) FUZZ_CHECK(ei.group[0] == '\0');
        break;
      }
      const uint8_t *p = fuzz_bytes(&in, lb % 72u, &len);
      memcpy(name, p, len);
      name[len] = '\0';
      int rc = alec_fleet_set_emitter_group(fleet, id, name);
      if (strlen(name) > ALEC_FLEET_GROUP_MAX) FUZZ_CHECK(rc == ALEC_ERANGE);
      FUZZ_CHECK(rc == 0 || rc == ALEC_ERANGE || rc == ALEC_ENOSPC || rc == ALEC_EINVAL);
      if (rc == 0) {
        alec_fleet_emitter_info ei;
        if (alec_fleet_get_emitter(fleet, id, now, &ei) == 0)
          FUZZ_CHECK(strcmp(ei.group, name) == 0);
      }
      break;
    }
    case 6:
      queries(fleet, &cfg, now);
      break;
    case 7: {
      uint8_t sub = fuzz_u8(&in);
      switch (sub % 8) {
      case 0: {
        size_t before = alec_fleet_emitter_count(fleet);
        int rc = alec_fleet_remove_stale(fleet, now);
        FUZZ_CHECK(rc >= 0 && (size_t)rc <= before);
        FUZZ_CHECK(alec_fleet_emitter_count(fleet) == before - (size_t)rc);
        break;
      }
      case 1: {
        uint64_t id = emitter_id(&in);
        alec_fleet_emitter_info ei;
        int known = alec_fleet_get_emitter(fleet, id, now, &ei) == 0;
        int rc = alec_fleet_remove_emitter(fleet, id);
        FUZZ_CHECK(rc == (known ? 0 : ALEC_ENOTFOUND));
        FUZZ_CHECK(alec_fleet_get_emitter(fleet, id, now, &ei) == ALEC_ENOTFOUND);
        break;
      }
      case 2: {
        int rc = alec_fleet_sync_patterns(fleet, now);
        FUZZ_CHECK(rc >= 0);
        break;
      }
      case 3:
        now += (int16_t)fuzz_u16(&in) * 10.0;
        break;
      case 4:
        preload_roundtrip(fleet);
        break;
      case 5: {
        size_t before = alec_fleet_emitter_count(fleet);
        double bad = (sub & 0x80) ? NAN : INFINITY;
        uint8_t frame[1] = {0};
        FUZZ_CHECK(alec_fleet_process(fleet, 1, ALEC_FORMAT_SINGLE, 0, frame, 1, bad, NULL, 0,
                                      NULL) == ALEC_EINVAL);
        FUZZ_CHECK(alec_fleet_evaluate(fleet, bad, NULL, NULL) == ALEC_EINVAL);
        FUZZ_CHECK(alec_fleet_emitter_count(fleet) == before);
        break;
      }
      case 6:
        restore(fleet, &cfg, emitter_id(&in), emitter_id(&in), now);
        break;
      case 7:
        state_round_trip(fleet, &cfg, now);
        break;
      }
      break;
    }
    }
    check_bounds(fleet, &cfg, now);
  }
  alec_fleet_free(fleet);
  return 0;
}
