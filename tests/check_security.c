/* SPDX-License-Identifier: MIT */
/* The plugin's security gate without the daemon: the SecurityLevel,
 * AuthFile and RateLimit options (src/plugin/alec_conf.c), the per-datagram
 * verdicts and key file reloading (src/plugin/security.c) and the token
 * buckets (src/plugin/ratelimit.c). Config trees come from the small reader
 * of collectd's syntax in tests/oconfig_util.c. */

#include <check.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/auth.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "alec_conf.h"
#include "oconfig_util.h"
#include "ratelimit.h"
#include "security.h"
#include "state.h"

static int load(alec_plugin_config *cfg, const char *text, char *err, size_t errlen) {
  return alec_test_pc_load(cfg, text, NULL, err, errlen);
}

/* ---- configuration ----------------------------------------------------------- */

START_TEST(config_levels) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  int rc = load(&cfg,
                "AuthFile \"/nonexistent/keys\"\n"
                "Listen \"127.0.0.1\" \"25830\"\n"
                "<Listen \"127.0.0.1\" \"25831\">\n"
                "  SecurityLevel \"Sign\"\n"
                "</Listen>\n"
                "<Listen \"::1\" \"25832\">\n"
                "  SecurityLevel None\n"
                "</Listen>\n"
                "<Emitter 5>\n"
                "  SecurityLevel \"sign\"\n"
                "</Emitter>\n"
                "<Emitter 6>\n"
                "  SecurityLevel \"None\"\n"
                "</Emitter>\n"
                "<Emitter 7>\n"
                "</Emitter>\n"
                "RateLimit 50 200\n",
                err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_uint_eq(cfg.n_listen, 3);
  ck_assert_int_eq(cfg.listen[0].security, ALEC_PC_SEC_NONE);
  ck_assert_int_eq(cfg.listen[1].security, ALEC_PC_SEC_SIGN);
  ck_assert_int_eq(cfg.listen[2].security, ALEC_PC_SEC_NONE);
  ck_assert_str_eq(cfg.listen[1].service, "25831");
  ck_assert_str_eq(cfg.auth_file, "/nonexistent/keys");
  ck_assert_uint_eq(cfg.n_sign_emitters, 1);
  ck_assert_int_eq(alec_sec_level(alec_pc_find_emitter(&cfg, 5), ALEC_PC_SEC_NONE), ALEC_PC_SEC_SIGN);
  ck_assert_int_eq(alec_sec_level(alec_pc_find_emitter(&cfg, 6), ALEC_PC_SEC_SIGN), ALEC_PC_SEC_NONE);
  ck_assert_int_eq(alec_sec_level(alec_pc_find_emitter(&cfg, 7), ALEC_PC_SEC_SIGN), ALEC_PC_SEC_SIGN);
  ck_assert_int_eq(alec_sec_level(NULL, ALEC_PC_SEC_NONE), ALEC_PC_SEC_NONE);
  ck_assert(cfg.rate_limit == 50 && cfg.rate_burst == 200);
  alec_pc_free(&cfg);

  /* The plugin-wide level is the default of every Listen, in any order;
   * the implicit default socket too. */
  rc = load(&cfg, "SecurityLevel \"Sign\"\nAuthFile \"k\"\nRateLimit 0.5\n", err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(cfg.listen[0].security, ALEC_PC_SEC_SIGN);
  ck_assert(cfg.rate_limit == 0.5 && cfg.rate_burst == 1);
  alec_pc_free(&cfg);
  rc = load(&cfg, "Listen \"127.0.0.1\" \"1\"\nSecurityLevel \"Sign\"\nAuthFile \"k\"\n", err, sizeof err);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(cfg.listen[0].security, ALEC_PC_SEC_SIGN);
  alec_pc_free(&cfg);
  /* Nothing said: None everywhere, no rate limit. */
  rc = load(&cfg, "Listen \"127.0.0.1\" \"1\"\n", err, sizeof err);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(cfg.listen[0].security, ALEC_PC_SEC_NONE);
  ck_assert(cfg.rate_limit == 0);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(config_refusals) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"SecurityLevel \"Encrypt\"\n", "SecurityLevel"},
      {"SecurityLevel 1\n", "SecurityLevel"},
      {"SecurityLevel \"Sign\"\n", "AuthFile"},
      {"<Listen \"127.0.0.1\" \"1\">\n  SecurityLevel \"Sign\"\n</Listen>\n", "AuthFile"},
      {"<Emitter 5>\n  SecurityLevel \"Sign\"\n</Emitter>\n", "AuthFile"},
      {"<Listen \"127.0.0.1\" \"1\">\n  Bogus 1\n</Listen>\n", "Bogus' in <Listen>"},
      {"<Listen \"127.0.0.1\" \"1\">\n  SecurityLevel \"Maybe\"\n</Listen>\n", "SecurityLevel' in <Listen>"},
      {"AuthFile \"k\"\n<Emitter 5>\n  Source \"127.0.0.1\" \"9\"\n  Format \"single\"\n  SecurityLevel \"Sign\"\n"
       "</Emitter>\n",
       "Source"},
      {"<Emitter 5>\n  SecurityLevel \"x\"\n</Emitter>\n", "in <Emitter"},
      {"AuthFile \"\"\n", "AuthFile"},
      {"AuthFile 5\n", "AuthFile"},
      {"RateLimit 0 10\n", "RateLimit"},
      {"RateLimit -5\n", "RateLimit"},
      {"RateLimit 10 0.5\n", "RateLimit"},
      {"RateLimit \"fast\"\n", "RateLimit"},
      {"RateLimit 1 2 3\n", "RateLimit"},
      {"RateLimit 1e10\n", "RateLimit"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    alec_plugin_config cfg;
    char err[ALEC_PC_ERR_LEN] = "";
    int rc = load(&cfg, cases[i].text, err, sizeof err);
    ck_assert_msg(rc < 0, "case %zu accepted", i);
    ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    alec_pc_free(&cfg);
  }
}
END_TEST

/* ---- the gate ------------------------------------------------------------------ */

static const uint8_t KEY7[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t KEY8[16] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
#define KEYS "7: 000102030405060708090a0b0c0d0e0f\n8: 08080808080808080808080808080808 100-199\n"

static char tmpdir[64], keypath[96];

static void write_file(const char *path, const char *text) {
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *f = fopen(tmp, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
  ck_assert_int_eq(chmod(tmp, 0600), 0);
  /* rename: a new inode, as editors and config managers do. */
  ck_assert_int_eq(rename(tmp, path), 0);
}

static void setup_dir(void) {
  snprintf(tmpdir, sizeof tmpdir, "check_security.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  snprintf(keypath, sizeof keypath, "%s/keys", tmpdir);
  write_file(keypath, KEYS);
}

static void teardown_dir(void) {
  unlink(keypath);
  rmdir(tmpdir);
}

/* An envelope with a fixed 1-channel Raw32 frame per emitter. */
static size_t dgram(uint8_t *buf, size_t cap, const uint64_t *emitters, size_t n) {
  static const uint8_t frame[] = {0xA1, 0, 0, 0, 0, 0x03, 0x41, 0xB4, 0, 0};
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, cap, 0), 0);
  for (size_t i = 0; i < n; i++)
    ck_assert_int_gt(alec_envelope_add(&w, emitters[i], ALEC_FORMAT_FIXED, 1, frame, sizeof frame), 0);
  return w.len;
}

static size_t signed_dgram(uint8_t *buf, size_t cap, const uint64_t *emitters, size_t n, uint16_t id,
                           const uint8_t *key, uint64_t counter) {
  size_t len = dgram(buf, cap, emitters, n);
  long sl = alec_auth_sign(buf, len, cap, id, key, 16, counter);
  ck_assert_int_gt(sl, 0);
  return (size_t)sl;
}

typedef struct outcome {
  alec_sec_verdict v;
  int code, was_signed;
  uint64_t who;
  uint16_t key_id;
  unsigned records;
} outcome;

static outcome run(alec_sec *s, const alec_plugin_config *cfg, int level, const uint8_t *buf, size_t len) {
  outcome o;
  alec_envelope_reader r;
  alec_envelope_record rec;
  memset(&o, 0, sizeof o);
  o.v = alec_sec_open(s, cfg, level, buf, len, &r, &o.code, &o.who, &o.was_signed, &o.key_id);
  if (o.v == ALEC_SEC_OK)
    while (alec_envelope_next(&r, &rec) > 0) o.records++;
  return o;
}

static void gate_config(alec_plugin_config *cfg) {
  char text[512], err[ALEC_PC_ERR_LEN];
  snprintf(text, sizeof text,
           "AuthFile \"%s\"\n<Emitter 50>\n  SecurityLevel \"Sign\"\n</Emitter>\n"
           "<Emitter 60>\n  SecurityLevel \"None\"\n</Emitter>\n",
           keypath);
  ck_assert_msg(load(cfg, text, err, sizeof err) == 0, "%s", err);
}

START_TEST(gate_verdicts) {
  alec_plugin_config cfg;
  gate_config(&cfg);
  alec_sec s;
  char err[512], warn[512];
  ck_assert_msg(alec_sec_init(&s, cfg.auth_file, err, sizeof err, warn, sizeof warn) == 0, "%s", err);
  ck_assert_str_eq(warn, "");
  uint8_t b[256];
  const int NONE = ALEC_PC_SEC_NONE, SIGN = ALEC_PC_SEC_SIGN;
  uint64_t e1[] = {1}, e50[] = {50}, e60[] = {60}, mix[] = {1, 60}, e150[] = {150}, both[] = {150, 1};

  /* Unsigned. */
  size_t n = dgram(b, sizeof b, e1, 1);
  ck_assert_int_eq(run(&s, &cfg, NONE, b, n).v, ALEC_SEC_OK);
  ck_assert_int_eq(run(&s, &cfg, NONE, b, n).records, 1);
  outcome o = run(&s, &cfg, SIGN, b, n);
  ck_assert_int_eq(o.v, ALEC_SEC_UNSIGNED);
  ck_assert(o.who == 1);
  n = dgram(b, sizeof b, e50, 1); /* emitter 50 requires Sign anywhere */
  ck_assert_int_eq(run(&s, &cfg, NONE, b, n).v, ALEC_SEC_UNSIGNED);
  n = dgram(b, sizeof b, e60, 1); /* emitter 60 may come unsigned anywhere */
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n).v, ALEC_SEC_OK);
  n = dgram(b, sizeof b, mix, 2); /* one record needing Sign refuses the whole */
  o = run(&s, &cfg, SIGN, b, n);
  ck_assert_int_eq(o.v, ALEC_SEC_UNSIGNED);
  ck_assert(o.who == 1);
  /* Structure comes first. */
  n = dgram(b, sizeof b, e1, 1);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n - 1).v, ALEC_SEC_MALFORMED);
  b[0] = 0x20;
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n).v, ALEC_SEC_VERSION);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, 0).v, ALEC_SEC_MALFORMED);

  /* Signed: accepted on any socket, once. */
  n = signed_dgram(b, sizeof b, e50, 1, 7, KEY7, 1000);
  o = run(&s, &cfg, SIGN, b, n);
  ck_assert_int_eq(o.v, ALEC_SEC_OK);
  ck_assert_int_eq(o.was_signed, 1);
  ck_assert_uint_eq(o.key_id, 7);
  ck_assert_uint_eq(o.records, 1);
  o = run(&s, &cfg, NONE, b, n);
  ck_assert_int_eq(o.v, ALEC_SEC_REPLAY);
  ck_assert_int_eq(o.code, ALEC_EREPLAY);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 999); /* late, inside the window */
  ck_assert_int_eq(run(&s, &cfg, NONE, b, n).v, ALEC_SEC_OK);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 900); /* too old */
  ck_assert_int_eq(run(&s, &cfg, NONE, b, n).v, ALEC_SEC_REPLAY);
  /* Forged: the right key id, another key. */
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY8, 2000);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n).v, ALEC_SEC_BAD_SIGNATURE);
  /* ... which did not spend counter 2000. */
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 2000);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n).v, ALEC_SEC_OK);
  /* Damaged in flight. */
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 2001);
  b[5] ^= 0x40;
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n).v, ALEC_SEC_BAD_SIGNATURE);
  /* Unknown key id. */
  n = signed_dgram(b, sizeof b, e1, 1, 9, KEY7, 1);
  o = run(&s, &cfg, SIGN, b, n);
  ck_assert_int_eq(o.v, ALEC_SEC_UNKNOWN_KEY);
  ck_assert_uint_eq(o.key_id, 9);
  /* Key 8 signs for 100..199 only, for every record of the datagram. */
  n = signed_dgram(b, sizeof b, e150, 1, 8, KEY8, 1);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, n).v, ALEC_SEC_OK);
  n = signed_dgram(b, sizeof b, both, 2, 8, KEY8, 2);
  o = run(&s, &cfg, SIGN, b, n);
  ck_assert_int_eq(o.v, ALEC_SEC_NOT_ALLOWED);
  ck_assert(o.who == 1);
  /* Authentic but with a broken record: malformed, and its counter spent. */
  size_t len = dgram(b, sizeof b, e150, 1);
  len -= 2; /* cut the frame, then sign */
  long sl = alec_auth_sign(b, len, sizeof b, 8, KEY8, 16, 3);
  ck_assert_int_gt(sl, 0);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, (size_t)sl).v, ALEC_SEC_MALFORMED);
  ck_assert_int_eq(run(&s, &cfg, SIGN, b, (size_t)sl).v, ALEC_SEC_REPLAY);
  /* Signed, too short for a trailer. */
  static const uint8_t stub[] = {0x11, 0x05, 0xC0};
  ck_assert_int_eq(run(&s, &cfg, SIGN, stub, sizeof stub).v, ALEC_SEC_MALFORMED);
  alec_sec_free(&s);

  /* Without an AuthFile every signed datagram has an unknown key. */
  ck_assert_int_eq(alec_sec_init(&s, NULL, err, sizeof err, NULL, 0), 0);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 5000);
  ck_assert_int_eq(run(&s, &cfg, NONE, b, n).v, ALEC_SEC_UNKNOWN_KEY);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 100, err, sizeof err), 0);
  alec_sec_free(&s);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(gate_reload) {
  alec_plugin_config cfg;
  gate_config(&cfg);
  alec_sec s;
  char err[512], warn[512];
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), 0);
  uint8_t b[256];
  uint64_t e1[] = {1};
  size_t n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 10);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 1.0, err, sizeof err), 0); /* unchanged */

  /* Rotation: key 7 replaced, key 8 removed, key 9 added. */
  write_file(keypath, "7: 08080808080808080808080808080808\n9: 000102030405060708090a0b0c0d0e0f\n");
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 1.5, err, sizeof err), 0); /* within the second */
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 2.1, err, sizeof err), 1);
  ck_assert_ptr_nonnull(strstr(err, "2 keys"));
  ck_assert_uint_eq(atomic_load(&s.reloads), 1);
  ck_assert_uint_eq(atomic_load(&s.n_keys), 2);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 11); /* the old key */
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_BAD_SIGNATURE);
  n = signed_dgram(b, sizeof b, e1, 1, 8, KEY8, 11); /* a removed key */
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_UNKNOWN_KEY);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY8, 10); /* new key, old counter: window kept */
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_REPLAY);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY8, 12);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);

  /* A broken file keeps the keys, and is reported once. */
  write_file(keypath, "7: 0808\n");
  ck_assert_int_lt(alec_sec_maybe_reload(&s, 3.2, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "line 1"));
  ck_assert_ptr_nonnull(strstr(err, "keeping the 2 keys"));
  ck_assert_ptr_null(strstr(err, "0808"));
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 4.3, err, sizeof err), 0);
  ck_assert_uint_eq(atomic_load(&s.reload_errors), 1);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY8, 13);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  /* Vanished: keys kept, reported once; back: reloaded. */
  unlink(keypath);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 5.4, err, sizeof err), ALEC_EIO);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 6.5, err, sizeof err), 0);
  write_file(keypath, KEYS);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 7.6, err, sizeof err), 1);
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 14);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  alec_sec_free(&s);

  /* Refused at start: a broken file, a missing file; warned: a readable one. */
  write_file(keypath, "garbage\n");
  ck_assert_int_lt(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_ptr_null(s.keys);
  write_file(keypath, KEYS);
  ck_assert_int_eq(chmod(keypath, 0644), 0);
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_ptr_nonnull(strstr(warn, "group or others"));
  alec_sec_free(&s);
  unlink(keypath);
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), ALEC_EIO);
  write_file(keypath, KEYS);
  alec_pc_free(&cfg);
}
END_TEST

/* Issue 13 findings 3 and 4: a key removed and re-added keeps its window;
 * counters restored from the state file make everything at or below them
 * a replay, for loaded keys and for keys loaded later. */
START_TEST(gate_key_memory) {
  alec_plugin_config cfg;
  gate_config(&cfg);
  alec_sec s;
  char err[512], warn[512];
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), 0);
  uint8_t b[256];
  uint64_t e[] = {150};
  size_t n;
  for (uint64_t c = 100; c < 200; c++) {
    n = signed_dgram(b, sizeof b, e, 1, 8, KEY8, c);
    ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  }
  write_file(keypath, "7: 000102030405060708090a0b0c0d0e0f\n");
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 2.0, err, sizeof err), 1);
  n = signed_dgram(b, sizeof b, e, 1, 8, KEY8, 150);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_UNKNOWN_KEY);
  write_file(keypath, KEYS);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 3.1, err, sizeof err), 1);
  for (uint64_t c = 100; c < 200; c++) {
    n = signed_dgram(b, sizeof b, e, 1, 8, KEY8, c);
    ck_assert_msg(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v == ALEC_SEC_REPLAY, "counter %" PRIu64 " accepted again", c);
  }
  n = signed_dgram(b, sizeof b, e, 1, 8, KEY8, 200);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  /* Export: loaded keys that accepted a counter and remembered ones, by id. */
  alec_sec_restore_counter(&s, 3, 77);     /* not loaded: remembered */
  alec_sec_restore_counter(&s, 7, 1000);   /* loaded */
  alec_sec_restore_counter(&s, 8, 10);     /* below its window: no effect */
  alec_ps_key k[8];
  ck_assert_uint_eq(alec_sec_counter_count(&s), 3);
  ck_assert_uint_eq(alec_sec_export_counters(&s, k, 8), 3);
  ck_assert_uint_eq(k[0].id, 3);
  ck_assert(k[0].top == 77);
  ck_assert_uint_eq(k[1].id, 7);
  ck_assert(k[1].top == 1000);
  ck_assert_uint_eq(k[2].id, 8);
  ck_assert(k[2].top == 200);
  uint64_t e1[] = {1};
  for (uint64_t c = 930; c <= 1000; c++) {
    n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, c);
    ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_REPLAY);
  }
  n = signed_dgram(b, sizeof b, e1, 1, 7, KEY7, 1001);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  /* Key 3 loaded later: its restored counter applies. */
  write_file(keypath, KEYS "3: 000102030405060708090a0b0c0d0e0f\n");
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 4.2, err, sizeof err), 1);
  n = signed_dgram(b, sizeof b, e1, 1, 3, KEY7, 77);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_REPLAY);
  n = signed_dgram(b, sizeof b, e1, 1, 3, KEY7, 78);
  ck_assert_int_eq(run(&s, &cfg, ALEC_PC_SEC_SIGN, b, n).v, ALEC_SEC_OK);
  ck_assert_uint_eq(alec_sec_export_counters(&s, k, 8), 3);
  alec_sec_free(&s);
  alec_pc_free(&cfg);
}
END_TEST

/* Issue 13 finding 16: a key file others may write is refused (at start and
 * at a reload, which keeps the keys), unless strict modes are off. */
START_TEST(gate_file_modes) {
  alec_sec s;
  char err[512], warn[512];
  ck_assert_int_eq(chmod(keypath, 0666), 0);
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), ALEC_EAUTH);
  ck_assert_ptr_nonnull(strstr(err, "writable by group or others"));
  ck_assert_ptr_null(s.keys);
  ck_assert_int_eq(chmod(keypath, 0620), 0);
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), ALEC_EAUTH);
  ck_assert_int_eq(alec_sec_init_mode(&s, keypath, 0, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_ptr_nonnull(strstr(warn, "group or others"));
  alec_sec_free(&s);
  ck_assert_int_eq(chmod(keypath, 0600), 0);
  ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_str_eq(warn, "");
  /* Made writable while running: the reload is refused, the keys stay. */
  write_file(keypath, "7: 08080808080808080808080808080808\n");
  ck_assert_int_eq(chmod(keypath, 0646), 0);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 2.0, err, sizeof err), ALEC_EAUTH);
  ck_assert_ptr_nonnull(strstr(err, "keeping the 2 keys"));
  ck_assert_uint_eq(atomic_load(&s.n_keys), 2);
  ck_assert_int_eq(chmod(keypath, 0600), 0);
  ck_assert_int_eq(alec_sec_maybe_reload(&s, 3.1, err, sizeof err), 1);
  ck_assert_uint_eq(atomic_load(&s.n_keys), 1);
  if (geteuid() == 0) {
    ck_assert_int_eq(chown(keypath, 65534, 65534), 0);
    alec_sec_free(&s);
    ck_assert_int_eq(alec_sec_init(&s, keypath, err, sizeof err, warn, sizeof warn), ALEC_EAUTH);
    ck_assert_ptr_nonnull(strstr(err, "uid 65534"));
    ck_assert_int_eq(chown(keypath, 0, 0), 0);
  }
  alec_sec_free(&s);
  write_file(keypath, KEYS);
}
END_TEST

/* ---- rate limit --------------------------------------------------------------- */

START_TEST(rate_buckets) {
  alec_rl rl;
  ck_assert_int_eq(alec_rl_init(&rl, 10, 5), 0);
  alec_rl_bucket one = {0}, two = {0};
  int pass = 0;
  for (int i = 0; i < 100; i++) pass += alec_rl_allow(&rl, &one, 1000.0);
  ck_assert_int_eq(pass, 5); /* the burst */
  ck_assert_int_eq(alec_rl_allow(&rl, &two, 1000.0), 1); /* others unaffected */
  /* 10 frames/s: in 0.5 s five more tokens. */
  pass = 0;
  for (int i = 0; i < 100; i++) pass += alec_rl_allow(&rl, &one, 1000.5);
  ck_assert_int_eq(pass, 5);
  /* Steady 100 frames/s for 10 s pass at 10/s. */
  pass = 0;
  for (int i = 1; i <= 1000; i++) pass += alec_rl_allow(&rl, &one, 1000.5 + i * 0.01);
  ck_assert_int_ge(pass, 99);
  ck_assert_int_le(pass, 101);
  /* A clock step back does not refill. */
  pass = 0;
  for (int i = 0; i < 20; i++) pass += alec_rl_allow(&rl, &one, 500.0);
  ck_assert_int_le(pass, 1);
  ck_assert_int_eq(alec_rl_init(&rl, 0, 5), ALEC_EINVAL);
  ck_assert_int_eq(alec_rl_init(&rl, 1, 0.5), ALEC_EINVAL);
  ck_assert_int_eq(alec_rl_init(&rl, NAN, 1), ALEC_EINVAL);
}
END_TEST

static Suite *security_suite(void) {
  Suite *s = suite_create("security");
  TCase *tc = tcase_create("config");
  tcase_add_test(tc, config_levels);
  tcase_add_test(tc, config_refusals);
  suite_add_tcase(s, tc);
  tc = tcase_create("gate");
  tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
  tcase_add_test(tc, gate_verdicts);
  tcase_add_test(tc, gate_reload);
  tcase_add_test(tc, gate_key_memory);
  tcase_add_test(tc, gate_file_modes);
  suite_add_tcase(s, tc);
  tc = tcase_create("ratelimit");
  tcase_add_test(tc, rate_buckets);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(security_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
