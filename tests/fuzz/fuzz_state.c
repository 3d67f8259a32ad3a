/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the state-file loaders alec_context_load,
 * alec_decoder_load, alec_encoder_load, alec_preload_read and the fleet
 * state (alec_fleet_state_load / _read).
 *
 * Input: kind(1) sel(1) cfg(1) blob
 *   kind % 5: context, decoder, encoder, preload, fleet state
 *   sel: bit 2 repair the CRCs and length fields first (so mutations get
 *        past the checksums into the structure), bits 3-4 how much state
 *        the target holds before the load, bit 5 encoder in reference mode,
 *        bit 6 strict decoder, bit 7 no NaN sanitising; fleet state: bit 0
 *        load through a FILE (fmemopen), bit 1 a filter keeping even ids,
 *        bit 5 through the receiver's state-file reader (alec_ps_read_rx:
 *        the "ALRS" receiver section with its format-3 spool, then the
 *        fleet state), bit 6 with it expecting the receiver id "rx-a"
 *   cfg: bits 0-1 max sources {256, 2, 16, 4096}, bits 2-3 max patterns
 *        {256, 1, 4, 65535}, bits 4-5 scale {100, 1, 10, 1000}, bits 6-7
 *        max emitters of the fleet {4, 1, 16, 1000}
 * The loaded object always has state of its own, so "unchanged on error" is
 * meaningful: its saved blob is compared before and after a failed load (a
 * fleet must have no emitter again). A successful load must save and load
 * again to the same blob. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/context.h"
#include "alec/decoder.h"
#include "alec/encoder.h"
#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/fleet_state.h"
#include "alec/preload.h"
#include "fuzz_util.h"
#include "spool.h"
#include "state.h"

/* Offsets of our own blob layouts (src/lib: context.c "ALCX", decoder.c
 * "ALDX", encoder.c "ALEX"). Only the repair step depends on them: if they
 * change, repaired inputs become ordinary ones and nothing breaks. */
#define ALDX_HEAD 26
#define ALDX_CLEN_OFF 22
#define ALEX_HEAD 20
#define ALEX_CLEN_OFF 16
#define PRELOAD_CRC_OFF 62
#define ALFS_HEAD 28 /* ... crc32 at 24 */
#define ALFS_REC_FIXED 17 /* id, last_seen, group_len */

enum { T_CONTEXT, T_DECODER, T_ENCODER, T_PRELOAD, T_FLEET };

typedef struct target {
  int kind;
  alec_context *ctx; /* T_CONTEXT, T_PRELOAD */
  alec_decoder *dec;
  alec_encoder *enc;
  alec_context_config ccfg;
  alec_decoder_config dcfg;
  alec_encoder_config ecfg;
} target;

static void wr_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crc(uint8_t *b, size_t len) { /* CRC of [0, len-4) at len-4 */
  if (len >= 4) wr_le32(b + len - 4, alec_preload_crc32(0, b, len - 4));
}

static void repair_decoder(uint8_t *b, size_t len) {
  if (len < ALDX_HEAD + 8) return;
  wr_le32(b + ALDX_CLEN_OFF, (uint32_t)(len - ALDX_HEAD - 4));
  fix_crc(b + ALDX_HEAD, len - ALDX_HEAD - 4);
  /* The trailer covers the header and the embedded blob's CRC. */
  uint32_t c = alec_preload_crc32(0, b, ALDX_HEAD);
  c = alec_preload_crc32(c, b + len - 8, 4);
  wr_le32(b + len - 4, c);
}

static uint32_t rd_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Fleet state: header CRC, every record's decoder blob, trailer CRC. */
static void repair_fleet(uint8_t *b, size_t len) {
  if (len < ALFS_HEAD) return;
  wr_le32(b + 24, alec_preload_crc32(0, b, 24));
  size_t off = ALFS_HEAD;
  uint32_t count = rd_le32(b + 12);
  for (uint32_t i = 0; i < count; i++) {
    if (len - off < ALFS_REC_FIXED) return;
    size_t gl = b[off + 16];
    if (len - off - ALFS_REC_FIXED < gl + 4) return;
    size_t blen = rd_le32(b + off + ALFS_REC_FIXED + gl);
    off += ALFS_REC_FIXED + gl + 4;
    if (len - off < blen) return;
    repair_decoder(b + off, blen);
    off += blen;
  }
  if (len - off >= 8) wr_le32(b + off + 4, alec_preload_crc32(0, b, off + 4));
}

static void repair(int kind, uint8_t *b, size_t len) {
  switch (kind) {
  case T_CONTEXT:
    fix_crc(b, len);
    break;
  case T_DECODER:
    repair_decoder(b, len);
    break;
  case T_ENCODER:
    if (len < ALEX_HEAD + 8) return;
    wr_le32(b + ALEX_CLEN_OFF, (uint32_t)(len - ALEX_HEAD - 4));
    fix_crc(b + ALEX_HEAD, len - ALEX_HEAD - 4);
    fix_crc(b, len);
    break;
  case T_PRELOAD:
    if (len < ALEC_PRELOAD_HEADER_SIZE) return;
    {
      uint32_t c = alec_preload_crc32(0, b, PRELOAD_CRC_OFF);
      c = alec_preload_crc32(c, b + ALEC_PRELOAD_HEADER_SIZE, len - ALEC_PRELOAD_HEADER_SIZE);
      wr_le32(b + PRELOAD_CRC_OFF, c);
    }
    break;
  case T_FLEET:
    repair_fleet(b, len);
    break;
  }
}

static long save(const target *t, uint8_t *out, size_t cap) {
  switch (t->kind) {
  case T_DECODER: return alec_decoder_save(t->dec, out, cap);
  case T_ENCODER: return alec_encoder_save(t->enc, out, cap);
  default: return alec_context_save(t->ctx, out, cap);
  }
}

static uint8_t *blob(const target *t, size_t *len) {
  long need = save(t, NULL, 0);
  FUZZ_CHECK(need > 0);
  uint8_t *b = malloc((size_t)need);
  FUZZ_CHECK(b != NULL);
  FUZZ_CHECK(save(t, b, (size_t)need) == need);
  *len = (size_t)need;
  return b;
}

static void context_config(uint8_t sel, uint8_t cfg, alec_context_config *c) {
  static const uint32_t max_src[4] = {256, 2, 16, 4096};
  static const uint32_t max_pat[4] = {256, 1, 4, 65535};
  static const uint32_t scale[4] = {100, 1, 10, 1000};
  alec_context_config_init(c);
  c->max_sources = max_src[cfg & 3];
  c->max_patterns = max_pat[(cfg >> 2) & 3];
  c->scale = scale[(cfg >> 4) & 3];
  if (sel & 0x80) c->sanitize_nonfinite = 0;
}

static void target_new(target *t, int kind, uint8_t sel, uint8_t cfg) {
  memset(t, 0, sizeof *t);
  t->kind = kind;
  context_config(sel, cfg, &t->ccfg);
  switch (kind) {
  case T_DECODER:
    alec_decoder_config_init(&t->dcfg);
    t->dcfg.ctx = t->ccfg;
    if (sel & 0x40) t->dcfg.flags |= ALEC_DECODER_STRICT_REFERENCE;
    FUZZ_CHECK(alec_decoder_new(&t->dec, &t->dcfg) == 0);
    t->ctx = alec_decoder_context(t->dec);
    break;
  case T_ENCODER:
    alec_encoder_config_init(&t->ecfg);
    t->ecfg.ctx = t->ccfg;
    t->ecfg.reference_compat = (sel & 0x20) != 0;
    FUZZ_CHECK(alec_encoder_new(&t->enc, &t->ecfg) == 0);
    t->ctx = alec_encoder_context(t->enc);
    break;
  default:
    FUZZ_CHECK(alec_context_new(&t->ctx, &t->ccfg) == 0);
    break;
  }
}

static void target_free(target *t) {
  if (t->dec) alec_decoder_free(t->dec);
  else if (t->enc) alec_encoder_free(t->enc);
  else alec_context_free(t->ctx);
}

/* Some state of the target's own; failures (bounds) are part of the game. */
static void populate(target *t, unsigned amount) {
  static const uint8_t pat[2] = {0x42, 0x43};
  double v = 20.0;
  uint32_t code;
  for (unsigned i = 0; i < amount * 7; i++) {
    v += (i % 3) * 0.25 - 0.2;
    if (t->kind == T_ENCODER) {
      uint8_t frame[64];
      (void)alec_encode_single(t->enc, 1 + i % 3, v, 1000u * i, frame, sizeof frame, NULL);
    } else {
      (void)alec_context_observe(t->ctx, 1 + i % 3, i == 5 ? NAN : v);
    }
  }
  if (amount >= 2) (void)alec_context_register_pattern(t->ctx, pat, sizeof pat, &v, &code);
}

static int load(target *t, const uint8_t *b, size_t len, alec_preload_info *info) {
  switch (t->kind) {
  case T_CONTEXT: return alec_context_load(t->ctx, b, len);
  case T_DECODER: return alec_decoder_load(t->dec, b, len);
  case T_ENCODER: return alec_encoder_load(t->enc, b, len);
  default: return alec_preload_read(t->ctx, b, len, info);
  }
}

/* ---- fleet state ---------------------------------------------------------- */

static int keep_even(void *arg, uint64_t id) {
  (void)arg;
  return (id & 1) == 0;
}

static alec_fleet *fleet_new(uint8_t sel, uint8_t cfg) {
  static const uint32_t max_em[4] = {4, 3, 16, 1000};
  alec_fleet_config fc;
  alec_fleet_config_init(&fc);
  fc.max_emitters = max_em[cfg >> 6];
  context_config(sel, cfg, &fc.decoder.ctx);
  alec_fleet *f = NULL;
  FUZZ_CHECK(alec_fleet_new(&f, &fc) == 0);
  return f;
}

static uint8_t *fleet_blob(alec_fleet *f, double now, size_t *len) {
  uint8_t *b = NULL;
  alec_fleet_state_info info;
  FUZZ_CHECK(alec_fleet_state_save(f, now, &b, len, &info) == 0);
  FUZZ_CHECK(info.emitters == alec_fleet_emitter_count(f) && info.bytes == *len);
  return b;
}

/* The receiver section's CRC, after its variable fields (src/receiver/state.h). */
static void repair_rx(uint8_t *b, size_t len) {
  if (len < 13 || memcmp(b, "ALRS", 4) != 0) {
    repair_fleet(b, len);
    return;
  }
  size_t off = 13 + b[12];
  if (off + 4 > len) return;
  uint32_t n = (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 | b[off + 3];
  if (n > 65536) return;
  off += 4 + 10 * (size_t)n;
  if (b[7] == 3) { /* format 3: the spool before the CRC */
    if (off + 4 > len) return;
    uint32_t sl = (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 | b[off + 3];
    if (sl > len - off - 4) return;
    off += 4 + sl;
  }
  if (off + 4 > len) return;
  uint32_t c = alec_preload_crc32(0, b, off);
  for (int i = 0; i < 4; i++) b[off + i] = (uint8_t)(c >> (24 - 8 * i));
  repair_fleet(b + off + 4, len - off - 4);
}

/* A spool that the reader accepted resolves against a configuration with
 * one <MQTT> block and one profile: every entry is kept, dropped as over
 * the limit or as unresolved, and the messages are as bounded as the
 * transports' own. */
static void fuzz_spool(const uint8_t *spool, size_t len, uint8_t cfg) {
  static alec_pc_mqtt block;
  static alec_pc_profile prof;
  static alec_plugin_config pc;
  memcpy(block.name, "net-a", 6);
  memcpy(prof.name, "p", 2);
  prof.s.format = ALEC_FORMAT_FIXED;
  prof.s.channels = 5;
  pc.mqtt = &block;
  pc.n_mqtt = 1;
  pc.profiles = &prof;
  pc.n_profiles = 1;
  FUZZ_CHECK(alec_spool_check(spool, len) == 0);
  uint32_t n = (uint32_t)spool[1] << 24 | (uint32_t)spool[2] << 16 | (uint32_t)spool[3] << 8 | spool[4];
  alec_rx_msg *head;
  alec_spool_counts c;
  size_t limit = (cfg & 1) ? 1 : 1000;
  FUZZ_CHECK(alec_spool_decode(&pc, spool, len, limit, &head, &c) == 0);
  FUZZ_CHECK(c.kept + c.over + c.unresolved == n && c.kept <= limit);
  size_t k = 0;
  while (head) {
    alec_rx_msg *next = head->next;
    FUZZ_CHECK(head->endpoint == &block && head->len > 0 && head->len <= ALEC_SPOOL_MAX_PAYLOAD);
    FUZZ_CHECK(head->profile == NULL || head->profile == &prof);
    FUZZ_CHECK(memchr(head->host, '\0', sizeof head->host) && memchr(head->group, '\0', sizeof head->group));
    free(head);
    head = next;
    k++;
  }
  FUZZ_CHECK(k == c.kept);
}

static void fuzz_rx_state(uint8_t sel, uint8_t cfg, uint8_t *b, size_t len) {
  const double now = 1e6;
  if (sel & 0x04) repair_rx(b, len);
  if (len == 0) return;
  const char *want = (sel & 0x40) ? "rx-a" : NULL;
  alec_fleet *f = fleet_new(sel, cfg);
  FILE *in = fmemopen(b, len, "rb");
  FUZZ_CHECK(in != NULL);
  alec_ps_meta m;
  alec_fleet_state_info info;
  int rc = alec_ps_read_rx(in, f, now, NULL, NULL, want, &m, &info);
  fclose(in);
  size_t n = alec_fleet_emitter_count(f);
  if (rc != 0) {
    FUZZ_CHECK(rc >= ALEC_ERROR_MIN && rc < 0);
    FUZZ_CHECK(n == 0 && m.keys == NULL && m.n_keys == 0 && m.spool == NULL && m.spool_len == 0);
  } else {
    FUZZ_CHECK(m.n_keys <= ALEC_PS_MAX_KEYS && m.format >= 1 && m.format <= 3);
    FUZZ_CHECK((m.format == 3) == (m.spool != NULL) && m.spool_len <= ALEC_SPOOL_MAX_BYTES);
    if (m.spool) fuzz_spool(m.spool, m.spool_len, cfg);
    for (size_t i = 1; i < m.n_keys; i++) FUZZ_CHECK(m.keys[i - 1].id < m.keys[i].id);
    FUZZ_CHECK(strlen(m.receiver) <= ALEC_PS_RECEIVER_MAX);
    if (want && m.format >= 2) FUZZ_CHECK(strcmp(m.receiver, want) == 0);
    FUZZ_CHECK(info.emitters == n && n <= alec_fleet_get_config(f)->max_emitters);
  }
  /* Format 1 is the fleet state as it is. */
  if (len < 4 || memcmp(b, "ALRS", 4) != 0) {
    alec_fleet *g = fleet_new(sel, cfg);
    FUZZ_CHECK(alec_fleet_state_load(g, b, len, now, NULL, NULL, NULL) == rc);
    FUZZ_CHECK(alec_fleet_emitter_count(g) == n);
    alec_fleet_free(g);
  }
  free(m.keys);
  free(m.spool);
  alec_fleet_free(f);
}

static void fuzz_fleet_state(uint8_t sel, uint8_t cfg, const uint8_t *b, size_t len) {
  const double now = 1e6;
  alec_fleet_state_filter filter = (sel & 2) ? keep_even : NULL;
  alec_fleet *f = fleet_new(sel, cfg);
  size_t before = 0;
  if ((sel >> 3) & 3) {
    /* Refused while the fleet has emitters, and nothing changes. */
    static const uint8_t frame[] = {0xA1, 0x00, 0x01, 0x00, 0x00, 0x03, 0x41, 0xB0, 0x00, 0x00};
    FUZZ_CHECK(alec_fleet_process(f, 42, ALEC_FORMAT_FIXED, 1, frame, sizeof frame, now, NULL, 0,
                                  NULL) == 1);
    before = 1;
  }
  alec_fleet_state_info info;
  int rc = alec_fleet_state_load(f, b, len, now, filter, NULL, &info);
  size_t n = alec_fleet_emitter_count(f);
  if (before) {
    FUZZ_CHECK(rc == ALEC_EINVAL && n == before);
    alec_fleet_free(f);
    return;
  }
  /* The same bytes through a FILE give the same verdict and the same fleet. */
  alec_fleet *g = fleet_new(sel, cfg);
  FILE *in = len ? fmemopen((void *)b, len, "rb") : NULL;
  if (in) {
    alec_fleet_state_info info2;
    int rc2 = alec_fleet_state_read(g, in, now, filter, NULL, &info2);
    fclose(in);
    FUZZ_CHECK(rc2 == rc);
    FUZZ_CHECK(alec_fleet_emitter_count(g) == n);
  }
  if (rc < 0) {
    FUZZ_CHECK(rc >= ALEC_ERROR_MIN);
    FUZZ_CHECK(n == 0);
  } else {
    FUZZ_CHECK(rc == 0 && info.emitters == n);
    FUZZ_CHECK(n <= alec_fleet_get_config(f)->max_emitters);
    FUZZ_CHECK(info.bytes == len && isfinite(info.saved_at));
    if (filter) {
      for (size_t i = 0; i < n; i++) {
        alec_fleet_emitter_info ei;
        FUZZ_CHECK(alec_fleet_emitter_at(f, i, now, &ei) == 0 && keep_even(NULL, ei.id));
      }
    }
    size_t a_len, c_len;
    uint8_t *a = fleet_blob(f, now, &a_len);
    if (in) {
      uint8_t *c = fleet_blob(g, now, &c_len);
      FUZZ_CHECK(c_len == a_len && memcmp(a, c, a_len) == 0);
      free(c);
    }
    /* Save -> load -> save is stable. */
    alec_fleet *h = fleet_new(sel, cfg);
    FUZZ_CHECK(alec_fleet_state_load(h, a, a_len, now, NULL, NULL, NULL) == 0);
    uint8_t *c = fleet_blob(h, now, &c_len);
    FUZZ_CHECK(c_len == a_len && memcmp(a, c, a_len) == 0);
    free(c);
    alec_fleet_free(h);
    free(a);
  }
  alec_fleet_free(g);
  alec_fleet_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3 || size > (1u << 20)) return 0;
  int kind = data[0] % 5;
  uint8_t sel = data[1], cfg = data[2];
  size_t len = size - 3;
  /* A private copy: ASan then catches reads past the blob exactly. */
  uint8_t *b = malloc(len ? len : 1);
  FUZZ_CHECK(b != NULL);
  memcpy(b, data + 3, len);
  if (kind == T_FLEET && (sel & 0x20)) {
    fuzz_rx_state(sel, cfg, b, len);
    free(b);
    return 0;
  }
  if (sel & 0x04) repair(kind, b, len);
  if (kind == T_FLEET) {
    fuzz_fleet_state(sel, cfg, b, len);
    free(b);
    return 0;
  }

  target t;
  target_new(&t, kind, sel, cfg);
  populate(&t, (sel >> 3) & 3);
  size_t before_len;
  uint8_t *before = blob(&t, &before_len);
  alec_preload_info info;
  int rc = load(&t, b, len, &info);
  size_t after_len;
  uint8_t *after = blob(&t, &after_len);
  if (rc < 0) {
    FUZZ_CHECK(rc >= ALEC_ERROR_MIN);
    FUZZ_CHECK(after_len == before_len && memcmp(after, before, after_len) == 0);
  } else {
    FUZZ_CHECK(rc == 0);
    const alec_context_config *cc = alec_context_get_config(t.ctx);
    /* Resource bounds are the object's own, never the file's. */
    FUZZ_CHECK(cc->max_sources == t.ccfg.max_sources && cc->max_patterns == t.ccfg.max_patterns);
    FUZZ_CHECK(alec_context_source_count(t.ctx) <= cc->max_sources);
    FUZZ_CHECK(alec_context_pattern_count(t.ctx) <= cc->max_patterns);
    if (kind == T_PRELOAD) {
      alec_preload_info peek;
      FUZZ_CHECK(alec_preload_peek(b, len, &peek) == 0);
      FUZZ_CHECK(memcmp(&peek, &info, sizeof peek) == 0);
      FUZZ_CHECK(info.dict_count == alec_context_pattern_count(t.ctx));
      FUZZ_CHECK(info.context_version == alec_context_version(t.ctx));
      FUZZ_CHECK(alec_context_source_count(t.ctx) == 0);
    }
    /* What loaded saves, loads into a fresh object and saves identically. */
    target u;
    target_new(&u, kind == T_PRELOAD ? T_CONTEXT : kind, sel, cfg);
    FUZZ_CHECK(load(&u, after, after_len, NULL) == 0);
    size_t again_len;
    uint8_t *again = blob(&u, &again_len);
    FUZZ_CHECK(again_len == after_len && memcmp(again, after, after_len) == 0);
    free(again);
    target_free(&u);
    /* The loaded state is usable. */
    if (kind == T_ENCODER) {
      uint8_t frame[ALEC_FRAME_MAX];
      double vals[3] = {1.0, 2.0, 3.0};
      int n = alec_encode_multi(t.enc, vals, 3, 5000, frame, sizeof frame);
      FUZZ_CHECK(n != 0);
    } else if (kind == T_DECODER) {
      static const uint8_t fixed[] = {0xA1, 0x00, 0x01, 0x00, 0x00, 0x03, 0x41, 0xB0, 0x00, 0x00};
      alec_value out[64];
      int n = alec_decoder_decode(t.dec, ALEC_FORMAT_FIXED, 1, fixed, sizeof fixed, out, 64, NULL);
      FUZZ_CHECK(n >= ALEC_ERROR_MIN && n <= 1);
    } else {
      (void)alec_context_observe(t.ctx, 7, 1.5);
      (void)alec_context_hash(t.ctx);
    }
  }
  free(after);
  free(before);
  target_free(&t);
  free(b);
  return 0;
}
