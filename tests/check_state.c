/* SPDX-License-Identifier: MIT */
/* Restarts and resynchronisation without the daemon: downlink datagrams
 * (src/lib/downlink.c), the fleet state format (src/fleet/fleet_state.c)
 * against truncation at every byte, every single-bit flip and hostile
 * counts and lengths, the plugin's state file I/O (src/plugin/state.c) and
 * its keyframe requests (src/plugin/resync.c) over loopback UDP. */

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/alec.h"
#include "alec/downlink.h"
#include "alec/envelope.h"
#include "alec/fleet.h"
#include "alec/fleet_state.h"
#include "resync.h"
#include "spool.h"
#include "udp.h"
#include "state.h"

/* ---- downlink datagrams ---------------------------------------------------- */

START_TEST(downlink_examples) {
  alec_downlink_record recs[3] = {{5, 0xFF}, {300, 0xFF}, {UINT64_MAX, 0xFF}};
  uint8_t buf[64];
  int n = alec_downlink_write(buf, sizeof buf, recs, 1);
  static const uint8_t one[] = {0x18, 0x05, 0xFF};
  ck_assert_int_eq(n, 3);
  ck_assert_mem_eq(buf, one, 3);
  n = alec_downlink_write(buf, sizeof buf, recs, 3);
  static const uint8_t three[] = {0x18, 0x05, 0xFF, 0xAC, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0xFF};
  ck_assert_int_eq(n, (int)sizeof three);
  ck_assert_mem_eq(buf, three, sizeof three);
  alec_downlink_record out[3];
  ck_assert_int_eq(alec_downlink_read(buf, (size_t)n, out, 3), 3);
  for (int i = 0; i < 3; i++) {
    ck_assert_uint_eq(out[i].emitter, recs[i].emitter);
    ck_assert_uint_eq(out[i].command, 0xFF);
  }
  /* Fewer slots than records: the count, and the first ones. */
  ck_assert_int_eq(alec_downlink_read(buf, (size_t)n, out, 1), 3);
  ck_assert_uint_eq(out[0].emitter, 5);
  ck_assert_int_eq(alec_downlink_write(buf, 16, recs, 3), ALEC_EBUFSIZE);
  ck_assert_int_eq(alec_downlink_write(buf, sizeof buf, recs, 0), ALEC_EINVAL);
}
END_TEST

START_TEST(downlink_rejects) {
  alec_downlink_record out[4];
  static const struct {
    uint8_t b[8];
    size_t len;
    int err;
  } bad[] = {
      {{0}, 0, ALEC_ETRUNC},
      {{0x18}, 1, ALEC_EMALFORMED},                /* no record */
      {{0x28, 0x05, 0xFF}, 3, ALEC_EVERSION},      /* version 2 */
      {{0x10, 0x05, 0x10}, 3, ALEC_EINVAL},        /* an uplink envelope */
      {{0x19, 0x05, 0xFF}, 3, ALEC_EAUTH},         /* flag A */
      {{0x1A, 0x05, 0xFF}, 3, ALEC_EMALFORMED},    /* reserved flag */
      {{0x18, 0x85, 0x00, 0xFF}, 4, ALEC_EVARINT}, /* emitter 5 in 2 bytes */
      {{0x18, 0x05}, 2, ALEC_ETRUNC},              /* no command */
      {{0x18, 0x05, 0xFF, 0x06}, 4, ALEC_ETRUNC},  /* second record cut */
      {{0xFF}, 1, ALEC_EVERSION},                  /* the bare keyframe byte */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(alec_downlink_read(bad[i].b, bad[i].len, out, 4) == bad[i].err, "case %zu: got %d", i,
                  alec_downlink_read(bad[i].b, bad[i].len, out, 4));
  /* An uplink reader refuses a downlink (reserved flag for it). */
  static const uint8_t dl[] = {0x18, 0x05, 0xFF};
  ck_assert_int_lt(alec_envelope_validate(dl, sizeof dl), 0);
}
END_TEST

/* ---- a small fleet with real streams -------------------------------------------- */

#define N_EM 4
typedef struct rig {
  alec_encoder *enc[N_EM];
  alec_format fmt[N_EM];
  unsigned ch[N_EM];
  unsigned step;
} rig;

static double signal(unsigned e, unsigned t, unsigned c) {
  return 20.0 + 0.5 * e + 3.0 * sin(0.05 * t + c) + 0.01 * (double)((t * 7 + c * 3) % 11);
}

static void rig_init(rig *r) {
  memset(r, 0, sizeof *r);
  static const alec_format f[N_EM] = {ALEC_FORMAT_SINGLE, ALEC_FORMAT_MULTI, ALEC_FORMAT_FIXED, ALEC_FORMAT_FIXED};
  static const unsigned ch[N_EM] = {2, 3, 4, 1};
  for (int i = 0; i < N_EM; i++) {
    r->fmt[i] = f[i];
    r->ch[i] = ch[i];
    ck_assert_int_eq(alec_encoder_new(&r->enc[i], NULL), 0);
  }
}

static void rig_free(rig *r) {
  for (int i = 0; i < N_EM; i++) alec_encoder_free(r->enc[i]);
}

/* Encodes one step of emitter i into frames[] (single: one per channel). */
static int rig_frames(rig *r, int i, uint8_t frames[][ALEC_FRAME_MAX], size_t *lens) {
  double v[8];
  for (unsigned c = 0; c < r->ch[i]; c++) v[c] = signal((unsigned)i, r->step, c);
  int n = 0, len;
  switch (r->fmt[i]) {
  case ALEC_FORMAT_SINGLE:
    for (unsigned c = 0; c < r->ch[i]; c++) {
      len = alec_encode_single(r->enc[i], c, v[c], 1000u * r->step, frames[n], ALEC_FRAME_MAX, NULL);
      ck_assert_int_gt(len, 0);
      lens[n++] = (size_t)len;
    }
    break;
  case ALEC_FORMAT_MULTI:
    len = alec_encode_multi(r->enc[i], v, r->ch[i], 1000u * r->step, frames[0], ALEC_FRAME_MAX);
    ck_assert_int_gt(len, 0);
    lens[n++] = (size_t)len;
    break;
  default:
    len = alec_encode_fixed(r->enc[i], v, r->ch[i], frames[0], ALEC_FRAME_MAX);
    ck_assert_int_gt(len, 0);
    lens[n++] = (size_t)len;
    break;
  }
  return n;
}

/* Feeds `steps` steps to every fleet given (the same frames to each) and
 * checks that they decode to the same bits and within the codec's bound. */
static void rig_run(rig *r, alec_fleet **fleets, int nf, unsigned steps, int expect_reliable) {
  uint8_t frames[8][ALEC_FRAME_MAX];
  size_t lens[8];
  for (unsigned s = 0; s < steps; s++, r->step++) {
    for (int i = 0; i < N_EM; i++) {
      int nfr = rig_frames(r, i, frames, lens);
      for (int k = 0; k < nfr; k++) {
        alec_fleet_value v0[64], v1[64];
        int n0 = -1;
        for (int f = 0; f < nf; f++) {
          alec_fleet_value *v = f == 0 ? v0 : v1;
          int n = alec_fleet_process(fleets[f], 100 + (uint64_t)i, r->fmt[i], r->ch[i], frames[k], lens[k],
                                     1000.0 + r->step, v, 64, NULL);
          /* Multi frames may omit channels (P5), even all of them. */
          ck_assert_int_ge(n, 0);
          if (f == 0) {
            n0 = n;
            continue;
          }
          ck_assert_int_eq(n, n0);
          for (int j = 0; j < n; j++) {
            ck_assert_uint_eq(v1[j].channel, v0[j].channel);
            ck_assert_uint_eq(v1[j].flags, v0[j].flags);
            ck_assert_mem_eq(&v1[j].value, &v0[j].value, sizeof(double));
          }
        }
        for (int j = 0; j < n0; j++) {
          if (expect_reliable) ck_assert_uint_eq(v0[j].flags & ALEC_VALUE_UNRELIABLE, 0);
          double want = signal((unsigned)i, r->step, v0[j].channel);
          ck_assert_msg(fabs(v0[j].value - want) <= 0.005 + 1e-5 * fabs(want), "emitter %d ch %u: %.9g vs %.9g", i,
                        v0[j].channel, v0[j].value, want);
        }
      }
    }
  }
}

static alec_fleet *fleet_new(uint32_t max_emitters) {
  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  cfg.max_emitters = max_emitters;
  alec_fleet *f = NULL;
  ck_assert_int_eq(alec_fleet_new(&f, &cfg), 0);
  return f;
}

/* A saved state of the rig after 80 steps (groups: emitter 101 in "hall"). */
static uint8_t *make_state(size_t *len, rig *r, alec_fleet **keep) {
  rig_init(r);
  alec_fleet *f = fleet_new(100);
  ck_assert_int_eq(alec_fleet_set_emitter_group(f, 101, "hall"), 0);
  rig_run(r, &f, 1, 80, 1);
  uint8_t *buf = NULL;
  alec_fleet_state_info info;
  ck_assert_int_eq(alec_fleet_state_save(f, 1100.0, &buf, len, &info), 0);
  ck_assert_uint_eq(info.emitters, N_EM);
  ck_assert_uint_eq(info.bytes, *len);
  if (keep) *keep = f;
  else alec_fleet_free(f);
  return buf;
}

START_TEST(state_roundtrip_continues) {
  rig r;
  size_t len;
  alec_fleet *a;
  uint8_t *buf = make_state(&len, &r, &a);
  alec_fleet *b = fleet_new(100);
  ck_assert_int_eq(alec_fleet_set_emitter_group(b, 102, "yard"), 0);
  alec_fleet_state_info info;
  ck_assert_int_eq(alec_fleet_state_load(b, buf, len, 1200.0, NULL, NULL, &info), 0);
  ck_assert_uint_eq(info.emitters, N_EM);
  ck_assert_uint_eq(info.skipped, 0);
  /* 101 lost its "hall" (not configured in b), 102 got "yard". */
  ck_assert_uint_eq(info.group_changes, 2);
  ck_assert(info.saved_at == 1100.0);
  ck_assert_uint_eq(info.bytes, len);
  ck_assert_uint_eq(alec_fleet_emitter_count(b), N_EM);
  /* The restored fleet decodes the following frames exactly as the one
   * that never stopped: same bits, same flags, all reliable. */
  alec_fleet *both[2] = {a, b};
  rig_run(&r, both, 2, 150, 1);
  alec_fleet_emitter_info ei;
  ck_assert_int_eq(alec_fleet_get_emitter(b, 100, 1400.0, &ei), 0);
  ck_assert_uint_eq(ei.decode_errors, 0);
  ck_assert_uint_eq(ei.gaps, 0);
  /* Loading into a fleet that has emitters is refused. */
  ck_assert_int_eq(alec_fleet_state_load(b, buf, len, 1200.0, NULL, NULL, NULL), ALEC_EINVAL);
  free(buf);
  alec_fleet_free(a);
  alec_fleet_free(b);
  rig_free(&r);
}
END_TEST

START_TEST(state_empty_fleet) {
  alec_fleet *f = fleet_new(10);
  uint8_t *buf;
  size_t len;
  ck_assert_int_eq(alec_fleet_state_save(f, 5.0, &buf, &len, NULL), 0);
  ck_assert_uint_eq(len, 36);
  alec_fleet *g = fleet_new(10);
  ck_assert_int_eq(alec_fleet_state_load(g, buf, len, 6.0, NULL, NULL, NULL), 0);
  ck_assert_uint_eq(alec_fleet_emitter_count(g), 0);
  free(buf);
  alec_fleet_free(f);
  alec_fleet_free(g);
}
END_TEST

START_TEST(state_truncated_every_byte) {
  rig r;
  size_t len;
  uint8_t *buf = make_state(&len, &r, NULL);
  alec_fleet *f = fleet_new(100);
  for (size_t cut = 0; cut < len; cut++) {
    int rc = alec_fleet_state_load(f, buf, cut, 1200.0, NULL, NULL, NULL);
    ck_assert_msg(rc < 0, "cut at %zu of %zu accepted", cut, len);
    ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  }
  /* One trailing byte more is refused too. */
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, buf, len);
  longer[len] = 0;
  ck_assert_int_eq(alec_fleet_state_load(f, longer, len + 1, 1200.0, NULL, NULL, NULL), ALEC_ECORRUPT);
  ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  /* The intact buffer still loads into the same fleet afterwards. */
  ck_assert_int_eq(alec_fleet_state_load(f, buf, len, 1200.0, NULL, NULL, NULL), 0);
  ck_assert_uint_eq(alec_fleet_emitter_count(f), N_EM);
  free(longer);
  free(buf);
  alec_fleet_free(f);
  rig_free(&r);
}
END_TEST

START_TEST(state_every_bit_flip) {
  rig r;
  size_t len;
  uint8_t *buf = make_state(&len, &r, NULL);
  alec_fleet *f = fleet_new(100);
  size_t refused = 0;
  for (size_t i = 0; i < len; i++) {
    for (int b = 0; b < 8; b++) {
      buf[i] ^= (uint8_t)(1u << b);
      int rc = alec_fleet_state_load(f, buf, len, 1200.0, NULL, NULL, NULL);
      buf[i] ^= (uint8_t)(1u << b);
      /* CRC-32 detects every single-bit error. */
      ck_assert_msg(rc < 0, "flip of bit %d in byte %zu of %zu accepted", b, i, len);
      ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
      refused++;
    }
  }
  ck_assert_uint_eq(refused, 8 * len);
  free(buf);
  alec_fleet_free(f);
  rig_free(&r);
}
END_TEST

/* ---- crafted (re-sealed) hostile files ----------------------------------------- */

static uint32_t crc32_ref(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes both CRCs, as an attacker who knows the format would. */
static void reseal(uint8_t *buf, size_t len) {
  put32(buf + 24, crc32_ref(buf, 24));
  put32(buf + len - 4, crc32_ref(buf, len - 4));
}

START_TEST(state_hostile_fields) {
  rig r;
  size_t len;
  uint8_t *buf = make_state(&len, &r, NULL);
  uint8_t *t = malloc(len + 64);
  alec_fleet *f = fleet_new(100);
  /* The reference check: crc32_ref agrees with the file's. */
  memcpy(t, buf, len);
  reseal(t, len);
  ck_assert_mem_eq(t, buf, len);
  ck_assert_int_eq(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), 0);
  for (size_t i = alec_fleet_emitter_count(f); i > 0; i--) {
    alec_fleet_emitter_info ei;
    ck_assert_int_eq(alec_fleet_emitter_at(f, 0, 0.0, &ei), 0);
    alec_fleet_remove_emitter(f, ei.id);
  }

  struct {
    const char *what;
    size_t off;
    uint32_t v;
    int err;
  } cases[] = {
      {"format version 2", 4, 2, ALEC_EVERSION},
      {"unknown flag", 8, 1, ALEC_ECORRUPT},
      {"count 2^32-1", 12, UINT32_MAX, ALEC_ECORRUPT}, /* runs into the trailer */
      {"count 0", 12, 0, ALEC_ECORRUPT},               /* trailer expected at record 1 */
      {"count one more", 12, N_EM + 1, ALEC_ECORRUPT},
      {"group length 200", 28 + 16, 200, ALEC_ECORRUPT},
      {"state length 2^32-1", 28 + 17 + 0, UINT32_MAX, ALEC_ECORRUPT},
      {"state length 0", 28 + 17 + 0, 0, ALEC_ECORRUPT},
      {"state length +1", 28 + 17 + 0, 0, ALEC_ECORRUPT},
  };
  /* The first record's group length and state length (it is the most
   * recently seen; its group is "hall" or ""). */
  size_t gl = buf[28 + 16];
  uint32_t blen = (uint32_t)buf[28 + 17 + gl] | (uint32_t)buf[28 + 18 + gl] << 8 |
                  (uint32_t)buf[28 + 19 + gl] << 16 | (uint32_t)buf[28 + 20 + gl] << 24;
  cases[6].off += gl;
  cases[7].off += gl;
  cases[8].off += gl;
  cases[8].v = blen + 1;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    memcpy(t, buf, len);
    if (cases[c].off == 28 + 16) t[cases[c].off] = (uint8_t)cases[c].v;
    else put32(t + cases[c].off, cases[c].v);
    reseal(t, len);
    int rc = alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL);
    ck_assert_msg(rc == cases[c].err || (cases[c].err == ALEC_ECORRUPT && rc == ALEC_ETRUNC), "%s: got %s",
                  cases[c].what, alec_err_name(rc));
    ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  }
  /* Non-finite last_seen / saved_at. */
  double nan = NAN;
  memcpy(t, buf, len);
  memcpy(t + 16, &nan, 8);
  reseal(t, len);
  ck_assert_int_eq(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), ALEC_ECORRUPT);
  memcpy(t, buf, len);
  memcpy(t + 28 + 8, &nan, 8);
  reseal(t, len);
  ck_assert_int_eq(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), ALEC_ECORRUPT);
  /* A NUL inside a group name. */
  if (gl > 0) {
    memcpy(t, buf, len);
    t[28 + 17] = 0;
    reseal(t, len);
    ck_assert_int_eq(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), ALEC_ECORRUPT);
  }
  /* The same emitter twice: the second record's id made equal to the first. */
  size_t rec2 = 28 + 17 + gl + 4 + blen;
  memcpy(t, buf, len);
  memcpy(t + rec2, buf + 28, 8);
  reseal(t, len);
  ck_assert_int_eq(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), ALEC_ECORRUPT);
  ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  /* A decoder blob that its own loader refuses (its CRC broken), sealed
   * file: refused as a whole, nothing stays restored. */
  memcpy(t, buf, len);
  t[rec2 - 1] ^= 0x55;
  reseal(t, len);
  ck_assert_int_lt(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), 0);
  ck_assert_uint_eq(alec_fleet_emitter_count(f), 0);
  /* Not a state file at all. */
  memset(t, 'A', len);
  ck_assert_int_eq(alec_fleet_state_load(f, t, len, 1200.0, NULL, NULL, NULL), ALEC_ECORRUPT);
  free(t);
  free(buf);
  alec_fleet_free(f);
  rig_free(&r);
}
END_TEST

static int keep_odd(void *arg, uint64_t id) {
  (*(int *)arg)++;
  return (int)(id & 1);
}

START_TEST(state_filter_and_bound) {
  rig r;
  size_t len;
  uint8_t *buf = make_state(&len, &r, NULL);
  alec_fleet *f = fleet_new(100);
  int calls = 0;
  alec_fleet_state_info info;
  ck_assert_int_eq(alec_fleet_state_load(f, buf, len, 1200.0, keep_odd, &calls, &info), 0);
  ck_assert_int_eq(calls, N_EM);
  ck_assert_uint_eq(info.emitters, 2);
  ck_assert_uint_eq(info.skipped, 2);
  ck_assert_ptr_nonnull(alec_fleet_emitter_decoder(f, 101));
  alec_fleet_free(f);
  /* MaxEmitters below the saved count: the rest are skipped. */
  f = fleet_new(3);
  ck_assert_int_eq(alec_fleet_state_load(f, buf, len, 1200.0, NULL, NULL, &info), 0);
  ck_assert_uint_eq(info.emitters, 3);
  ck_assert_uint_eq(info.skipped, 1);
  alec_fleet_free(f);
  free(buf);
  rig_free(&r);
}
END_TEST

/* ---- the state file (state.c) ------------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/check_state.XXXXXX", base && *base ? base : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static size_t dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static void rm_tmpdir(void) {
  DIR *d = opendir(tmpdir);
  if (d) {
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
      if (rmdir(p) != 0) unlink(p);
    }
    closedir(d);
  }
  rmdir(tmpdir);
}

/* Format 2 (issue 13 findings 3 and 7): the receiver section carries the
 * receiver id and the replay counters; format 1 files are still read; a
 * file of another receiver, another owner or writable by others is refused. */
START_TEST(state_file_receiver_section) {
  make_tmpdir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/alec.state", tmpdir);
  rig r;
  alec_fleet *a;
  size_t len;
  uint8_t *buf = make_state(&len, &r, &a);
  alec_ps_key keys[3] = {{1, 1000}, {5, UINT64_C(0xFFFFFFFFFFFFFFF0)}, {65535, 7}};
  alec_ps_meta m;
  memset(&m, 0, sizeof m);
  strcpy(m.receiver, "rx-a");
  m.keys = keys;
  m.n_keys = 3;
  ck_assert_int_eq(alec_ps_save_rx(path, &m, buf, len, err, sizeof err), 0);
  alec_fleet_state_info info;
  alec_ps_meta got;
  alec_fleet *b = fleet_new(100);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, "rx-a", &got, &info, err, sizeof err), 0);
  ck_assert_uint_eq(got.format, 2);
  ck_assert_str_eq(got.receiver, "rx-a");
  ck_assert_uint_eq(got.n_keys, 3);
  for (int i = 0; i < 3; i++) {
    ck_assert_uint_eq(got.keys[i].id, keys[i].id);
    ck_assert(got.keys[i].top == keys[i].top);
  }
  free(got.keys);
  ck_assert_uint_eq(info.emitters, N_EM);
  alec_fleet_free(b);
  /* Another receiver's file: refused, nothing restored. */
  b = fleet_new(100);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, "rx-b", &got, &info, err, sizeof err),
                   ALEC_ECORRUPT);
  ck_assert_ptr_nonnull(strstr(err, "rx-a"));
  ck_assert_ptr_null(got.keys);
  ck_assert_uint_eq(alec_fleet_emitter_count(b), 0);
  alec_fleet_free(b);
  /* Every single-bit change of the section is refused. */
  FILE *fp = fopen(path, "rb");
  ck_assert_ptr_nonnull(fp);
  static uint8_t file[1 << 20];
  size_t flen = fread(file, 1, sizeof file, fp);
  fclose(fp);
  size_t section = flen - len;
  ck_assert_uint_eq(section, 4 + 4 + 4 + 1 + 4 + 4 + 30 + 4);
  for (size_t bit = 0; bit < section * 8; bit++) {
    file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    FILE *mf = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(file, 1, flen, mf), flen);
    fclose(mf);
    b = fleet_new(100);
    int rc = alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err);
    ck_assert_msg(rc < 0, "bit %zu: accepted", bit);
    ck_assert_ptr_null(got.keys);
    alec_fleet_free(b);
    file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  /* Every prefix of the section. */
  for (size_t cut = 0; cut < section; cut++) {
    FILE *mf = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(file, 1, cut, mf), cut);
    fclose(mf);
    b = fleet_new(100);
    ck_assert_int_lt(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err), 0);
    alec_fleet_free(b);
  }
  /* Format 1 (the bare fleet state) is still read, without counters. */
  ck_assert_int_eq(alec_ps_write_atomic(path, buf, len, err, sizeof err), 0);
  b = fleet_new(100);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, "rx-b", &got, &info, err, sizeof err), 0);
  ck_assert_uint_eq(got.format, 1);
  ck_assert_uint_eq(got.n_keys, 0);
  ck_assert_uint_eq(info.emitters, N_EM);
  alec_fleet_free(b);
  /* Writable by group or others: refused before it is read. */
  ck_assert_int_eq(chmod(path, 0666), 0);
  b = fleet_new(100);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err), ALEC_EAUTH);
  ck_assert_ptr_nonnull(strstr(err, "writable"));
  ck_assert_uint_eq(alec_fleet_emitter_count(b), 0);
  ck_assert_int_eq(chmod(path, 0620), 0);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err), ALEC_EAUTH);
  /* Owned by another user (only root can make one). */
  ck_assert_int_eq(chmod(path, 0600), 0);
  if (geteuid() == 0) {
    ck_assert_int_eq(chown(path, 65534, 65534), 0);
    ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err), ALEC_EAUTH);
    ck_assert_ptr_nonnull(strstr(err, "owned by uid 65534"));
  }
  alec_fleet_free(b);
  alec_fleet_free(a);
  rig_free(&r);
  free(buf);
  rm_tmpdir();
}
END_TEST

/* Format 3: the receiver section with a spool (src/receiver/spool.h). */
/* Every single-bit change and every prefix of the first `section` bytes of
 * file (flen bytes) is refused, with nothing restored. */
static void section_damage_refused(const char *path, uint8_t *file, size_t flen, size_t section) {
  char err[512];
  alec_fleet_state_info info;
  alec_ps_meta got;
  for (size_t bit = 0; bit < section * 8 + section; bit++) {
    size_t cut = bit < section * 8 ? flen : bit - section * 8;
    if (bit < section * 8) file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    FILE *mf = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(file, 1, cut, mf), cut);
    fclose(mf);
    alec_fleet *b = fleet_new(100);
    int rc = alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err);
    ck_assert_msg(rc < 0, "bit %zu: accepted", bit);
    ck_assert_ptr_null(got.spool);
    ck_assert_ptr_null(got.lags);
    ck_assert_ptr_null(got.keys);
    ck_assert_uint_eq(alec_fleet_emitter_count(b), 0);
    alec_fleet_free(b);
    if (bit < section * 8) file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
}

START_TEST(state_file_spool_section) {
  make_tmpdir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/alec.state", tmpdir);
  rig r;
  alec_fleet *a;
  size_t len;
  uint8_t *buf = make_state(&len, &r, &a);
  static alec_pc_mqtt blk;
  static alec_plugin_config pc;
  memcpy(blk.name, "net", 4);
  pc.mqtt = &blk;
  pc.n_mqtt = 1;
  alec_rx_msg *msg = alec_rx_msg_new(3);
  msg->kind = ALEC_RX_PAYLOAD;
  msg->has_emitter = 1;
  msg->emitter = 77;
  msg->endpoint = &blk;
  msg->received = 1.7e9;
  memcpy(msg->data, "\xa1\x00\x01", 3);
  alec_spool_counts c;
  alec_ps_meta m;
  memset(&m, 0, sizeof m);
  strcpy(m.receiver, "rx-a");
  ck_assert_int_eq(alec_spool_encode(&pc, msg, 10, &m.spool, &m.spool_len, &c), 0);
  ck_assert_uint_eq(c.kept, 1);
  ck_assert_int_eq(alec_ps_save_rx(path, &m, buf, len, err, sizeof err), 0);
  alec_fleet_state_info info;
  alec_ps_meta got;
  alec_fleet *b = fleet_new(100);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, "rx-a", &got, &info, err, sizeof err), 0);
  ck_assert_uint_eq(got.format, 3);
  ck_assert_uint_eq(got.spool_len, m.spool_len);
  ck_assert_mem_eq(got.spool, m.spool, m.spool_len);
  ck_assert_uint_eq(info.emitters, N_EM);
  free(got.spool);
  free(got.keys);
  alec_fleet_free(b);
  FILE *fp = fopen(path, "rb");
  ck_assert_ptr_nonnull(fp);
  static uint8_t file[1 << 20];
  size_t flen = fread(file, 1, sizeof file, fp);
  fclose(fp);
  size_t section = flen - len;
  ck_assert_uint_eq(section, 4 + 4 + 4 + 1 + 4 + 4 + 4 + m.spool_len + 4);
  /* Every single-bit change and every prefix of the section is refused,
   * with nothing restored. */
  section_damage_refused(path, file, flen, section);
  /* A damaged spool under a valid checksum: refused as well. */
  m.spool[m.spool_len - 4] = 0; /* the payload length */
  ck_assert_int_eq(alec_ps_save_rx(path, &m, buf, len, err, sizeof err), 0);
  b = fleet_new(100);
  ck_assert_int_lt(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err), 0);
  ck_assert_ptr_null(got.spool);
  ck_assert_uint_eq(alec_fleet_emitter_count(b), 0);
  alec_fleet_free(b);
  free(m.spool);
  free(msg);
  alec_fleet_free(a);
  rig_free(&r);
  free(buf);
  rm_tmpdir();
}
END_TEST

/* The legacy emitters' lags (flag ALEC_PS_F_LAGS) round trip; unsorted
 * ids, a non-finite lag, a damaged byte or a cut are refused; a file
 * without lags keeps flags 0. */
START_TEST(state_file_lag_section) {
  make_tmpdir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/alec.state", tmpdir);
  rig r;
  alec_fleet *a;
  size_t len;
  uint8_t *buf = make_state(&len, &r, &a);
  alec_ps_lag lags[3] = {{5, 0.25}, {9, -3.5}, {UINT64_MAX, 1e-3}};
  alec_ps_meta m;
  memset(&m, 0, sizeof m);
  strcpy(m.receiver, "rx-a");
  m.lags = lags;
  m.n_lags = 3;
  ck_assert_int_eq(alec_ps_save_rx(path, &m, buf, len, err, sizeof err), 0);
  alec_fleet_state_info info;
  alec_ps_meta got;
  alec_fleet *b = fleet_new(100);
  ck_assert_int_eq(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, "rx-a", &got, &info, err, sizeof err), 0);
  ck_assert_uint_eq(got.n_lags, 3);
  for (int i = 0; i < 3; i++) {
    ck_assert_uint_eq(got.lags[i].id, lags[i].id);
    ck_assert(got.lags[i].lag == lags[i].lag);
  }
  ck_assert_uint_eq(info.emitters, N_EM);
  free(got.lags);
  free(got.keys);
  alec_fleet_free(b);
  FILE *fp = fopen(path, "rb");
  static uint8_t file[1 << 20];
  size_t flen = fread(file, 1, sizeof file, fp);
  fclose(fp);
  size_t section = flen - len;
  ck_assert_uint_eq(section, 4 + 4 + 4 + 1 + 4 + 4 + 4 + 3 * 16 + 4);
  ck_assert_uint_eq(alec_rd_be32(file + 8), ALEC_PS_F_LAGS);
  section_damage_refused(path, file, flen, section);
  /* Under a valid checksum: ids out of order, a lag that is no number. */
  alec_ps_lag bad1[2] = {{9, 1}, {5, 1}}, bad2[1] = {{5, NAN}};
  alec_ps_lag *bads[2] = {bad1, bad2};
  size_t nb[2] = {2, 1};
  for (int k = 0; k < 2; k++) {
    m.lags = bads[k];
    m.n_lags = nb[k];
    ck_assert_int_eq(alec_ps_save_rx(path, &m, buf, len, err, sizeof err), 0);
    b = fleet_new(100);
    ck_assert_int_lt(alec_ps_load_rx(path, b, 1200.0, NULL, NULL, NULL, &got, &info, err, sizeof err), 0);
    ck_assert_ptr_null(got.lags);
    alec_fleet_free(b);
  }
  /* None: flags 0, as a reader without the flag writes them. */
  m.lags = NULL;
  m.n_lags = 0;
  ck_assert_int_eq(alec_ps_save_rx(path, &m, buf, len, err, sizeof err), 0);
  fp = fopen(path, "rb");
  flen = fread(file, 1, sizeof file, fp);
  fclose(fp);
  ck_assert_uint_eq(alec_rd_be32(file + 8), 0);
  alec_fleet_free(a);
  rig_free(&r);
  free(buf);
  rm_tmpdir();
}
END_TEST

START_TEST(state_file_io) {
  make_tmpdir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/alec.state", tmpdir);
  rig r;
  alec_fleet *a;
  size_t len;
  uint8_t *buf = make_state(&len, &r, &a);
  alec_fleet *b = fleet_new(100);
  alec_fleet_state_info info;
  /* No file yet. */
  ck_assert_int_eq(alec_ps_load(path, b, 1200.0, NULL, NULL, &info, err, sizeof err), 1);
  ck_assert_int_eq(alec_ps_save(path, a, 1100.0, &info, err, sizeof err), 0);
  ck_assert_uint_eq(info.emitters, N_EM);
  /* No temporary file left beside it; the file is private. */
  ck_assert_uint_eq(dir_entries(tmpdir), 1);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0077, 0);
  ck_assert_uint_eq((size_t)st.st_size, len);
  ck_assert_int_eq(alec_ps_load(path, b, 1200.0, NULL, NULL, &info, err, sizeof err), 0);
  ck_assert_uint_eq(info.emitters, N_EM);
  alec_fleet *both[2] = {a, b};
  rig_run(&r, both, 2, 20, 1);
  /* Saving again replaces it atomically. */
  ck_assert_int_eq(alec_ps_save(path, b, 1300.0, NULL, err, sizeof err), 0);
  ck_assert_uint_eq(dir_entries(tmpdir), 1);
  alec_fleet_free(b);

  /* A truncated file is refused with a message, the fleet stays empty. */
  FILE *fp = fopen(path, "r+b");
  ck_assert_ptr_nonnull(fp);
  ck_assert_int_eq(ftruncate(fileno(fp), 100), 0);
  fclose(fp);
  b = fleet_new(100);
  int rc = alec_ps_load(path, b, 1400.0, NULL, NULL, &info, err, sizeof err);
  ck_assert_int_eq(rc, ALEC_ETRUNC);
  ck_assert_ptr_nonnull(strstr(err, "truncated"));
  ck_assert_uint_eq(alec_fleet_emitter_count(b), 0);
  ck_assert_int_eq(alec_ps_set_aside(path, err, sizeof err), 0);
  char aside[600];
  snprintf(aside, sizeof aside, "%s.refused", path);
  ck_assert_int_eq(access(aside, F_OK), 0);
  ck_assert_int_eq(access(path, F_OK), -1);

  /* Something that is not a regular file. */
  char sub[520];
  snprintf(sub, sizeof sub, "%s/dir", tmpdir);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  ck_assert_int_eq(alec_ps_load(sub, b, 1400.0, NULL, NULL, &info, err, sizeof err), ALEC_EIO);
  ck_assert_ptr_nonnull(strstr(err, "regular"));
  /* A directory that does not exist: the save says so. */
  snprintf(sub, sizeof sub, "%s/missing/alec.state", tmpdir);
  ck_assert_int_eq(alec_ps_save(sub, a, 1500.0, NULL, err, sizeof err), ALEC_EIO);
  ck_assert_ptr_nonnull(strstr(err, "temporary"));
  /* A stream (FILE *) reads like the buffer. */
  FILE *mf = tmpfile();
  ck_assert_ptr_nonnull(mf);
  ck_assert_uint_eq(fwrite(buf, 1, len, mf), len);
  rewind(mf);
  ck_assert_int_eq(alec_fleet_state_read(b, mf, 1200.0, NULL, NULL, &info), 0);
  ck_assert_uint_eq(info.emitters, N_EM);
  fclose(mf);
  free(buf);
  alec_fleet_free(a);
  alec_fleet_free(b);
  rig_free(&r);
  rm_tmpdir();
}
END_TEST

/* ---- keyframe requests (resync.c) ---------------------------------------------------- */

static int udp_socket(struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
  socklen_t l = sizeof *addr;
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &l), 0);
  return fd;
}

static ssize_t recv_wait(int fd, uint8_t *buf, size_t cap) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 2000) != 1) return -1;
  return recv(fd, buf, cap, 0);
}

/* The per-emitter part of the limit lives in the receiver's record of the
 * emitter: here an array indexed by id. */
static alec_rs_emitter rse[8192];
#define RS_REQ(id, bare, now) alec_rs_request(&rs, &rse[(id) % 8192], (id), (bare), (now), &reply)

START_TEST(resync_limits) {
  alec_rs rs;
  memset(rse, 0, sizeof rse);
  ck_assert_int_eq(alec_rs_init(&rs, 1.0), 0);
  struct sockaddr_in to;
  int rx = udp_socket(&to), tx = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(tx, 0);
  const struct sockaddr *sa = (const struct sockaddr *)&to;
  alec_rx_reply reply;
  alec_udp_reply_init(&reply, tx, sa, sizeof to);
  /* One request per emitter and second. */
  alec_rs_begin(&rs);
  ck_assert_int_eq(RS_REQ(7, 0, 10.0), 1);
  ck_assert_int_eq(RS_REQ(7, 0, 10.5), 0);
  ck_assert_int_eq(RS_REQ(8, 0, 10.5), 1);
  ck_assert_int_eq(alec_rs_flush(&rs, &reply), 5);
  uint8_t buf[2048];
  ssize_t n = recv_wait(rx, buf, sizeof buf);
  static const uint8_t want[] = {0x18, 0x07, 0xFF, 0x08, 0xFF};
  ck_assert_int_eq(n, 5);
  ck_assert_mem_eq(buf, want, 5);
  alec_rs_begin(&rs);
  ck_assert_int_eq(RS_REQ(7, 0, 11.0), 1);
  /* Bare emitters get the bare byte. */
  ck_assert_int_eq(RS_REQ(9, 1, 11.0), 1);
  ck_assert_int_eq(alec_rs_flush(&rs, &reply), 1 + 3);
  ck_assert_int_eq(recv_wait(rx, buf, sizeof buf), 1);
  ck_assert_uint_eq(buf[0], 0xFF);
  ck_assert_int_eq(recv_wait(rx, buf, sizeof buf), 3);
  /* Nothing pending: nothing sent. */
  alec_rs_begin(&rs);
  ck_assert_int_eq(alec_rs_flush(&rs, &reply), 0);
  ck_assert_uint_eq(rs.sent, 4);
  ck_assert_uint_eq(rs.limited, 1);
  /* More requests than a batch holds: two datagrams. */
  alec_rs_begin(&rs);
  for (uint64_t id = 1000; id < 1000 + ALEC_RS_BATCH + 6; id++)
    ck_assert_int_eq(RS_REQ(id, 0, 20.0), 1);
  ck_assert_int_gt(alec_rs_flush(&rs, &reply), 0);
  alec_downlink_record recs[ALEC_RS_BATCH + 8];
  n = recv_wait(rx, buf, sizeof buf);
  ck_assert_int_eq(alec_downlink_read(buf, (size_t)n, recs, ALEC_RS_BATCH + 8), ALEC_RS_BATCH);
  n = recv_wait(rx, buf, sizeof buf);
  ck_assert_int_eq(alec_downlink_read(buf, (size_t)n, recs, ALEC_RS_BATCH + 8), 6);
  ck_assert_uint_eq(recs[5].emitter, 1000 + ALEC_RS_BATCH + 5);
  /* The global budget: a flood of distinct emitters is cut at the burst. */
  memset(rse, 0, sizeof rse);
  ck_assert_int_eq(alec_rs_init(&rs, 1.0), 0);
  unsigned ok = 0;
  for (uint64_t id = 0; id < 3000; id++) {
    alec_rs_begin(&rs);
    ok += (unsigned)RS_REQ(id, 0, 50.0);
    rs.n_pending = 0; /* not sent */
  }
  ck_assert_uint_eq(ok, (unsigned)ALEC_RS_GLOBAL_BURST);
  /* ... and refilled at the global rate. */
  alec_rs_begin(&rs);
  ck_assert_int_eq(RS_REQ(5000, 0, 50.01), 1);
  /* No record of the emitter: not asked, its own limit could not hold. */
  ck_assert_int_eq(alec_rs_request(&rs, NULL, 5001, 0, 60.0, &reply), 0);
  close(rx);
  close(tx);
}
END_TEST

/* The loop end to end: a gap, the receiver's request, the emitter's next
 * frame resynchronises every channel. */
START_TEST(resync_downlink_to_encoder) {
  alec_encoder *enc;
  alec_decoder *dec;
  ck_assert_int_eq(alec_encoder_new(&enc, NULL), 0);
  ck_assert_int_eq(alec_decoder_new(&dec, NULL), 0);
  uint8_t frame[ALEC_FRAME_MAX];
  alec_value out[8];
  alec_frame_info info;
  double v[3];
  for (unsigned t = 0; t < 20; t++) {
    for (int c = 0; c < 3; c++) v[c] = 10 + c + 0.1 * t;
    int len = alec_encode_fixed(enc, v, 3, frame, sizeof frame);
    ck_assert_int_gt(len, 0);
    if (t == 10) continue; /* lost */
    int n = alec_decoder_decode(dec, ALEC_FORMAT_FIXED, 3, frame, (size_t)len, out, 8, &info);
    ck_assert_int_eq(n, 3);
    if (t == 11) {
      ck_assert_uint_eq(info.gap, 1);
      ck_assert_uint_gt(info.n_unreliable, 0);
      alec_rs rs;
      alec_rs_emitter one = {0};
      ck_assert_int_eq(alec_rs_init(&rs, 1.0), 0);
      struct sockaddr_in to;
      int rx = udp_socket(&to), tx = socket(AF_INET, SOCK_DGRAM, 0);
      alec_rx_reply reply;
      alec_udp_reply_init(&reply, tx, (struct sockaddr *)&to, sizeof to);
      alec_rs_begin(&rs);
      alec_rs_request(&rs, &one, 42, 0, 1.0, &reply);
      alec_rs_flush(&rs, &reply);
      uint8_t dl[64];
      ssize_t dn = recv_wait(rx, dl, sizeof dl);
      alec_downlink_record rec;
      ck_assert_int_eq(alec_downlink_read(dl, (size_t)dn, &rec, 1), 1);
      ck_assert_uint_eq(rec.emitter, 42);
      ck_assert_int_eq(alec_encoder_downlink(enc, &rec.command, 1), 0);
      close(rx);
      close(tx);
    } else if (t == 12) {
      ck_assert(info.resync);
      ck_assert_uint_eq(info.n_unreliable, 0);
    } else if (t > 12) {
      ck_assert_uint_eq(info.n_unreliable, 0);
    }
  }
  alec_encoder_free(enc);
  alec_decoder_free(dec);
}
END_TEST

static Suite *state_suite(void) {
  Suite *s = suite_create("state");
  TCase *tc = tcase_create("downlink");
  tcase_add_test(tc, downlink_examples);
  tcase_add_test(tc, downlink_rejects);
  suite_add_tcase(s, tc);
  tc = tcase_create("fleet_state");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, state_roundtrip_continues);
  tcase_add_test(tc, state_empty_fleet);
  tcase_add_test(tc, state_truncated_every_byte);
  tcase_add_test(tc, state_every_bit_flip);
  tcase_add_test(tc, state_hostile_fields);
  tcase_add_test(tc, state_filter_and_bound);
  suite_add_tcase(s, tc);
  tc = tcase_create("state_file");
  tcase_add_test(tc, state_file_io);
  tcase_add_test(tc, state_file_receiver_section);
  tcase_add_test(tc, state_file_spool_section);
  tcase_add_test(tc, state_file_lag_section);
  suite_add_tcase(s, tc);
  tc = tcase_create("resync");
  tcase_add_test(tc, resync_limits);
  tcase_add_test(tc, resync_downlink_to_encoder);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(state_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
