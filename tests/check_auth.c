/* SPDX-License-Identifier: MIT */
/* Unit tests of src/lib/auth.c: HMAC-SHA-256 against RFC 4231, the signed
 * envelope layout and its truncated tag, tampering and truncation, the
 * 64-counter replay window (duplicates, old counters, large jumps, the top
 * of the u64 range), and key files with hostile lines. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/auth.h"
#include "alec/envelope.h"
#include "alec/error.h"

static void unhex(const char *h, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    ck_assert_int_eq(sscanf(h + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

/* ---- RFC 4231 --------------------------------------------------------------- */

START_TEST(rfc4231_case1) {
  uint8_t key[20], mac[32], want[32];
  memset(key, 0x0b, sizeof key);
  unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want, 32);
  ck_assert_int_eq(alec_auth_hmac_sha256(key, sizeof key, (const uint8_t *)"Hi There", 8, mac), 0);
  ck_assert_mem_eq(mac, want, 32);
}
END_TEST

START_TEST(rfc4231_case2) {
  uint8_t mac[32], want[32];
  const char *data = "what do ya want for nothing?";
  unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
  ck_assert_int_eq(alec_auth_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), mac), 0);
  ck_assert_mem_eq(mac, want, 32);
}
END_TEST

/* Test case 5 is the RFC's truncation case: the first 128 bits are the tag. */
START_TEST(rfc4231_case5_truncation) {
  uint8_t key[20], mac[32], want[16];
  memset(key, 0x0c, sizeof key);
  unhex("a3b6167473100ee06e0c796c2955552b", want, 16);
  ck_assert_int_eq(alec_auth_hmac_sha256(key, sizeof key, (const uint8_t *)"Test With Truncation", 20, mac), 0);
  ck_assert_mem_eq(mac, want, ALEC_AUTH_TAG_SIZE);
}
END_TEST

START_TEST(rfc4231_case6_long_key) {
  uint8_t key[131], mac[32], want[32];
  const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
  memset(key, 0xaa, sizeof key);
  unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want, 32);
  ck_assert_int_eq(alec_auth_hmac_sha256(key, sizeof key, (const uint8_t *)data, strlen(data), mac), 0);
  ck_assert_mem_eq(mac, want, 32);
}
END_TEST

/* ---- signing ------------------------------------------------------------------ */

static const uint8_t KEY[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
/* E1 of the wire spec inside an envelope for emitter 5 (docs/ENVELOPE.md). */
static const char *E1_DGRAM = "100510420000000004d2000000000141b40000";

static size_t e1(uint8_t *buf) {
  size_t n = strlen(E1_DGRAM) / 2;
  unhex(E1_DGRAM, buf, n);
  return n;
}

static alec_auth_table *table_of(const char *text) {
  alec_auth_table *t = NULL;
  char err[256];
  int rc = alec_auth_table_parse(&t, text, strlen(text), err, sizeof err);
  ck_assert_msg(rc == 0, "parse: %s", err);
  return t;
}

/* The key KEY under id 7 for any emitter. */
#define KEYLINE "7: 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n"

START_TEST(sign_layout) {
  uint8_t buf[128], mac[32];
  size_t n = e1(buf);
  ck_assert_uint_eq(n, 19);
  long sl = alec_auth_sign(buf, n, sizeof buf, 7, KEY, sizeof KEY, UINT64_C(0x0102030405060708));
  ck_assert_int_eq(sl, 19 + ALEC_AUTH_TRAILER_SIZE);
  ck_assert_int_eq(ALEC_AUTH_TRAILER_SIZE, 26);
  ck_assert_uint_eq(buf[0], 0x11); /* version 1, flag A */
  static const uint8_t idc[10] = {0x00, 0x07, 1, 2, 3, 4, 5, 6, 7, 8};
  ck_assert_mem_eq(buf + 19, idc, 10);
  /* The tag is the first 16 bytes of HMAC-SHA-256 over everything before it. */
  alec_auth_hmac_sha256(KEY, sizeof KEY, buf, 29, mac);
  ck_assert_mem_eq(buf + 29, mac, 16);

  alec_auth_trailer t;
  ck_assert_int_eq(alec_auth_parse(buf, (size_t)sl, &t), 1);
  ck_assert_uint_eq(t.key_id, 7);
  ck_assert(t.counter == UINT64_C(0x0102030405060708));
  ck_assert_uint_eq(t.signed_len, 29);
  ck_assert_uint_eq(t.records_end, 19);
  ck_assert_int_eq(alec_auth_check_tag(buf, &t, KEY, sizeof KEY), 0);

  /* The plain reader still refuses it: only auth.c may read signed records. */
  ck_assert_int_eq(alec_envelope_validate(buf, (size_t)sl), ALEC_EAUTH);
  alec_envelope_reader r;
  alec_envelope_record rec;
  ck_assert_int_eq(alec_auth_reader_init(&r, buf, (size_t)sl), 0);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 1);
  ck_assert(rec.emitter == 5);
  ck_assert_uint_eq(rec.frame_len, 16);
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
  /* Unsigned: parse says 0, the auth reader refuses. */
  n = e1(buf);
  ck_assert_int_eq(alec_auth_parse(buf, n, &t), 0);
  ck_assert_int_eq(alec_auth_reader_init(&r, buf, n), ALEC_EINVAL);
}
END_TEST

/* The worked example of docs/ENVELOPE.md, byte for byte. */
START_TEST(doc_example) {
  uint8_t buf[64], want[45];
  size_t n = e1(buf);
  unhex("110510420000000004d2000000000141b4000000070000000000000001f84e1807cce9c26eac0a629fc844c705", want, 45);
  ck_assert_int_eq(alec_auth_sign(buf, n, sizeof buf, 7, KEY, sizeof KEY, 1), 45);
  ck_assert_mem_eq(buf, want, 45);
}
END_TEST

START_TEST(sign_refusals) {
  uint8_t buf[64], copy[64];
  size_t n = e1(buf);
  memcpy(copy, buf, sizeof buf);
  ck_assert_int_eq(alec_auth_sign(buf, n, n + 25, 1, KEY, 32, 1), ALEC_EBUFSIZE);
  ck_assert_mem_eq(buf, copy, sizeof buf);
  ck_assert_int_eq(alec_auth_sign(buf, n, sizeof buf, 1, KEY, 15, 1), ALEC_EINVAL);
  ck_assert_int_eq(alec_auth_sign(buf, n, sizeof buf, 1, KEY, 65, 1), ALEC_EINVAL);
  ck_assert_int_eq(alec_auth_sign(buf, 1, sizeof buf, 1, KEY, 32, 1), ALEC_EINVAL); /* header only */
  ck_assert_mem_eq(buf, copy, sizeof buf);
  long sl = alec_auth_sign(buf, n, sizeof buf, 1, KEY, 32, 1);
  ck_assert_int_gt(sl, 0);
  /* Signing twice or signing a bare frame is refused. */
  ck_assert_int_eq(alec_auth_sign(buf, (size_t)sl, sizeof buf, 1, KEY, 32, 2), ALEC_EINVAL);
  ck_assert_int_eq(alec_auth_sign(buf + 3, n - 3, sizeof buf - 3, 1, KEY, 32, 1), ALEC_EINVAL);
}
END_TEST

/* A run datagram (flag R: one emitter's batched frames) is signed like any
 * envelope, and the signed-datagram reader returns its frames. */
START_TEST(sign_run) {
  static const uint8_t frame[] = {0xA1, 0x00, 0x01, 0x00, 0x05, 0x01, 0x64}; /* 1 ch, Delta8 */
  uint8_t buf[128];
  alec_envelope_writer w;
  ck_assert_int_eq(alec_envelope_writer_init(&w, buf, sizeof buf, ALEC_ENVELOPE_FLAG_RUN), 0);
  ck_assert_int_gt(alec_envelope_add(&w, 9, ALEC_FORMAT_FIXED, 1, frame, sizeof frame), 0);
  ck_assert_int_gt(alec_envelope_add(&w, 9, ALEC_FORMAT_FIXED, 1, frame, sizeof frame), 0);
  long sl = alec_auth_sign(buf, w.len, sizeof buf, 3, KEY, 32, 1);
  ck_assert_int_eq(sl, (long)(w.len + ALEC_AUTH_TRAILER_SIZE));
  ck_assert_uint_eq(buf[0], 0x10 | ALEC_ENVELOPE_FLAG_RUN | ALEC_ENVELOPE_FLAG_AUTH);
  alec_auth_trailer t;
  ck_assert_int_eq(alec_auth_parse(buf, (size_t)sl, &t), 1);
  ck_assert_int_eq(alec_auth_check_tag(buf, &t, KEY, 32), 0);
  alec_envelope_reader r;
  alec_envelope_record rec;
  ck_assert_int_eq(alec_auth_reader_init(&r, buf, (size_t)sl), 0);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(alec_envelope_next(&r, &rec), 1);
    ck_assert(rec.emitter == 9);
    ck_assert_uint_eq(rec.frame_len, sizeof frame);
  }
  ck_assert_int_eq(alec_envelope_next(&r, &rec), 0);
}
END_TEST

START_TEST(verify_paths) {
  alec_auth_table *tab = table_of(KEYLINE "8: base64:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= 100-200\n");
  uint8_t buf[128];
  alec_auth_key *k;
  alec_auth_trailer t;
  size_t n = e1(buf);
  ck_assert_int_eq(alec_auth_verify(tab, buf, n, &k, &t), ALEC_EINVAL); /* unsigned */
  long sl = alec_auth_sign(buf, n, sizeof buf, 7, KEY, 32, 1000);
  ck_assert_int_eq(alec_auth_verify(tab, buf, (size_t)sl, &k, &t), 0);
  ck_assert_ptr_nonnull(k);
  ck_assert_uint_eq(k->id, 7);
  alec_replay_update(&k->window, t.counter);
  ck_assert_int_eq(alec_auth_verify(tab, buf, (size_t)sl, &k, &t), ALEC_EREPLAY);
  ck_assert_ptr_null(k);
  /* Key 8 holds the same bytes in base64; restricted to 100..200. */
  alec_auth_key *k8 = alec_auth_table_find(tab, 8);
  ck_assert_ptr_nonnull(k8);
  ck_assert_uint_eq(k8->key_len, 32);
  ck_assert_mem_eq(k8->key, KEY, 32);
  ck_assert(!alec_auth_key_allows(k8, 5) && alec_auth_key_allows(k8, 100) && alec_auth_key_allows(k8, 200) &&
            !alec_auth_key_allows(k8, 201));
  ck_assert(alec_auth_key_allows(alec_auth_table_find(tab, 7), UINT64_MAX));
  /* Unknown key id. */
  n = e1(buf);
  sl = alec_auth_sign(buf, n, sizeof buf, 9, KEY, 32, 1);
  ck_assert_int_eq(alec_auth_verify(tab, buf, (size_t)sl, &k, &t), ALEC_ENOTFOUND);
  /* Right id, wrong key: a forgery. */
  uint8_t other[32];
  memcpy(other, KEY, 32);
  other[31] ^= 1;
  n = e1(buf);
  sl = alec_auth_sign(buf, n, sizeof buf, 7, other, 32, 5000);
  ck_assert_int_eq(alec_auth_verify(tab, buf, (size_t)sl, &k, &t), ALEC_EAUTH);
  /* A forgery with a counter already seen is still a forgery. */
  n = e1(buf);
  sl = alec_auth_sign(buf, n, sizeof buf, 7, other, 32, 1000);
  ck_assert_int_eq(alec_auth_verify(tab, buf, (size_t)sl, &k, &t), ALEC_EAUTH);
  alec_auth_table_free(tab);
}
END_TEST

/* Every single-bit change and every truncation of a signed datagram fails. */
START_TEST(tamper_and_truncate) {
  alec_auth_table *tab = table_of(KEYLINE);
  uint8_t good[128], buf[128];
  alec_auth_key *k;
  alec_auth_trailer t;
  size_t n = e1(good);
  long sl = alec_auth_sign(good, n, sizeof good, 7, KEY, 32, 42);
  for (long i = 0; i < sl; i++) {
    for (int b = 0; b < 8; b++) {
      memcpy(buf, good, (size_t)sl);
      buf[i] ^= (uint8_t)(1u << b);
      int rc = alec_auth_verify(tab, buf, (size_t)sl, &k, &t);
      ck_assert_msg(rc < 0, "byte %ld bit %d: accepted", i, b);
    }
  }
  for (long len = 0; len < sl; len++) {
    int rc = alec_auth_verify(tab, good, (size_t)len, &k, &t);
    ck_assert_msg(rc < 0, "prefix of %ld bytes accepted", len);
  }
  ck_assert_int_eq(alec_auth_verify(tab, good, (size_t)sl, &k, &t), 0);
  /* Too short to hold a record and a trailer. */
  ck_assert_int_eq(alec_auth_parse(good, 1 + ALEC_AUTH_TRAILER_SIZE, &t), ALEC_ETRUNC);
  alec_auth_table_free(tab);
}
END_TEST

/* ---- replay window ---------------------------------------------------------------- */

static int accept_ctr(alec_replay_window *w, uint64_t c) {
  int rc = alec_replay_check(w, c);
  if (rc == 0) alec_replay_update(w, c);
  return rc;
}

START_TEST(replay_basic) {
  alec_replay_window w = {0};
  ck_assert_int_eq(accept_ctr(&w, 0), 0); /* first counter, even 0 */
  ck_assert_int_eq(accept_ctr(&w, 0), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, 10), 0);
  ck_assert_int_eq(accept_ctr(&w, 10), ALEC_EREPLAY);
  /* Late but within the window, once. */
  ck_assert_int_eq(accept_ctr(&w, 5), 0);
  ck_assert_int_eq(accept_ctr(&w, 5), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, 100), 0);
  /* 100 - 63 = 37 is the oldest counter the window holds. */
  ck_assert_int_eq(accept_ctr(&w, 37), 0);
  ck_assert_int_eq(accept_ctr(&w, 36), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, 10), ALEC_EREPLAY);
  for (uint64_t c = 38; c < 100; c++) ck_assert_int_eq(accept_ctr(&w, c), 0);
  for (uint64_t c = 37; c <= 100; c++) ck_assert_int_eq(accept_ctr(&w, c), ALEC_EREPLAY);
}
END_TEST

START_TEST(replay_shift) {
  alec_replay_window w = {0};
  for (uint64_t c = 1; c <= 64; c++) ck_assert_int_eq(accept_ctr(&w, c), 0);
  /* Shift by exactly 63, 64 and far more: no undefined shift, old bits gone. */
  ck_assert_int_eq(accept_ctr(&w, 127), 0);
  ck_assert_int_eq(accept_ctr(&w, 64), ALEC_EREPLAY); /* age 63, seen */
  ck_assert_int_eq(accept_ctr(&w, 63), ALEC_EREPLAY); /* age 64: left the window */
  ck_assert_int_eq(accept_ctr(&w, 65), 0);            /* age 62, never seen */
  ck_assert_int_eq(accept_ctr(&w, 65), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, 191), 0);           /* +64 */
  ck_assert_int_eq(accept_ctr(&w, 127), ALEC_EREPLAY); /* age 64: too old */
  ck_assert_int_eq(accept_ctr(&w, 128), 0);
  ck_assert_int_eq(accept_ctr(&w, UINT64_C(1) << 40), 0);
  ck_assert_int_eq(accept_ctr(&w, 191), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, (UINT64_C(1) << 40) - 1), 0);
}
END_TEST

/* The end of the counter space: nothing wraps around to "new" again. */
START_TEST(replay_top_of_range) {
  alec_replay_window w = {0};
  ck_assert_int_eq(accept_ctr(&w, UINT64_MAX - 1), 0);
  ck_assert_int_eq(accept_ctr(&w, UINT64_MAX), 0);
  ck_assert_int_eq(accept_ctr(&w, UINT64_MAX), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, UINT64_MAX - 1), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, UINT64_MAX - 63), 0);
  ck_assert_int_eq(accept_ctr(&w, UINT64_MAX - 64), ALEC_EREPLAY);
  ck_assert_int_eq(accept_ctr(&w, 0), ALEC_EREPLAY); /* a "wrapped" counter is old */
  ck_assert_int_eq(accept_ctr(&w, 1), ALEC_EREPLAY);
  /* From 0 to the top in one step. */
  alec_replay_window v = {0};
  ck_assert_int_eq(accept_ctr(&v, 0), 0);
  ck_assert_int_eq(accept_ctr(&v, UINT64_MAX), 0);
  ck_assert_int_eq(accept_ctr(&v, 0), ALEC_EREPLAY);
  ck_assert(v.bitmap == 1);
}
END_TEST

/* ---- key files --------------------------------------------------------------------- */

START_TEST(keyfile_valid) {
  const char *text = "# keys of site A\r\n"
                     "\n"
                     "   \t\n"
                     "1: 000102030405060708090a0b0c0d0e0f\r\n"
                     "0x2:hex:000102030405060708090A0B0C0D0E0F1011121314151617\n"
                     "  3 :  base64:AAECAwQFBgcICQoLDA0ODw==  5 7 0x10-0x1f 12-20 6  # sensors\n"
                     "65535: 00000000000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000000000000000000000000000 *";
  alec_auth_table *t = table_of(text);
  ck_assert_uint_eq(t->n, 4);
  ck_assert_uint_eq(t->keys[0].id, 1);
  ck_assert_uint_eq(t->keys[0].key_len, 16);
  ck_assert_uint_eq(t->keys[1].id, 2);
  ck_assert_uint_eq(t->keys[1].key_len, 24);
  ck_assert_uint_eq(t->keys[1].key[10], 0x0a);
  const alec_auth_key *k3 = alec_auth_table_find(t, 3);
  ck_assert_uint_eq(k3->key_len, 16);
  /* 5, 6-7 merged, 12-31 merged from 12-20 and 16-31. */
  ck_assert_uint_eq(k3->n_ranges, 2);
  ck_assert(k3->ranges[0].lo == 5 && k3->ranges[0].hi == 7);
  ck_assert(k3->ranges[1].lo == 12 && k3->ranges[1].hi == 31);
  ck_assert(!alec_auth_key_allows(k3, 4) && alec_auth_key_allows(k3, 6) && !alec_auth_key_allows(k3, 8) &&
            alec_auth_key_allows(k3, 31) && !alec_auth_key_allows(k3, 32));
  const alec_auth_key *kmax = alec_auth_table_find(t, 65535);
  ck_assert_uint_eq(kmax->key_len, 64);
  ck_assert_uint_eq(kmax->n_ranges, 0);
  ck_assert_ptr_null(alec_auth_table_find(t, 4));
  alec_auth_table_free(t);
}
END_TEST

/* Each hostile file is refused as a whole with the line number, and the
 * message never repeats the key. */
START_TEST(keyfile_hostile) {
  static const struct {
    const char *text;
    const char *want; /* in the error */
  } cases[] = {
      {"", "no key"},
      {"# only a comment\n\n", "no key"},
      {"1 000102030405060708090a0b0c0d0e0f\n", "line 1"},
      {"65536: 000102030405060708090a0b0c0d0e0f\n", "0..65535"},
      {"-1: 000102030405060708090a0b0c0d0e0f\n", "0..65535"},
      {"x: 000102030405060708090a0b0c0d0e0f\n", "0..65535"},
      {": 000102030405060708090a0b0c0d0e0f\n", "0..65535"},
      {"1:\n", "no key"},
      {"1: 000102030405060708090a0b0c0d0e\n", "16..64 bytes"},   /* 15 bytes */
      {"1: 000102030405060708090a0b0c0d0e0\n", "16..64 bytes"},  /* odd digits */
      {"1: 000102030405060708090a0b0c0d0e0g\n", "16..64 bytes"}, /* not hex */
      {"1: base64:AAECAwQFBgcICQoLDA0ODw\n", "16..64 bytes"},     /* no padding */
      {"1: base64:AAECAwQFBgcICQoLDA0O\n", "16..64 bytes"},       /* 14 bytes */
      {"1: 0000000000000000000000000000000000000000000000000000000000000000"
       "000000000000000000000000000000000000000000000000000000000000000000\n",
       "16..64 bytes"}, /* 65 bytes */
      {"1: 000102030405060708090a0b0c0d0e0f\n1: 000102030405060708090a0b0c0d0e0f\n", "line 2: key id 1 is defined twice"},
      {"1: 000102030405060708090a0b0c0d0e0f 9-3\n", "LO <= HI"},
      {"1: 000102030405060708090a0b0c0d0e0f 5-\n", "LO <= HI"},
      {"1: 000102030405060708090a0b0c0d0e0f five\n", "LO <= HI"},
      {"1: 000102030405060708090a0b0c0d0e0f 18446744073709551616\n", "LO <= HI"},
      {"1: 000102030405060708090a0b0c0d0e0f * 5\n", "cannot be combined"},
      {"1: 000102030405060708090a0b0c0d0e0f\x01\n", "control character"},
      {"1: 000102030405060708090a0b0c0d0e0f\n\n2: 00\x1b[2J\n", "line 3"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    alec_auth_table *t = (alec_auth_table *)1;
    char err[256] = "";
    int rc = alec_auth_table_parse(&t, cases[i].text, strlen(cases[i].text), err, sizeof err);
    ck_assert_msg(rc < 0, "case %zu accepted", i);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    ck_assert_msg(strstr(err, "0102030405") == NULL, "case %zu: key material in \"%s\"", i, err);
  }
}
END_TEST

START_TEST(keyfile_bounds) {
  char err[256];
  alec_auth_table *t;
  /* NUL inside a line. */
  static const char nul[] = "1: 000102030405060708090a0b0c0d0e0f\n2: 0001\0" "02030405060708090a0b0c0d0e0f\n";
  ck_assert_int_eq(alec_auth_table_parse(&t, nul, sizeof nul - 1, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "line 2: contains a NUL byte"));
  /* A line above 4096 characters. */
  size_t big = ALEC_AUTH_LINE_MAX + 100;
  char *line = malloc(big + 1);
  ck_assert_ptr_nonnull(line);
  memcpy(line, "1: 000102030405060708090a0b0c0d0e0f ", 36);
  memset(line + 36, '5', big - 36);
  line[big] = '\0';
  ck_assert_int_eq(alec_auth_table_parse(&t, line, big, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "longer than"));
  free(line);
  /* 257 emitter ids on one line. */
  char many[4096];
  size_t n = (size_t)snprintf(many, sizeof many, "1: 000102030405060708090a0b0c0d0e0f");
  for (int i = 0; i < ALEC_AUTH_MAX_RANGES + 1; i++) n += (size_t)snprintf(many + n, sizeof many - n, " %d", i * 2);
  ck_assert_int_eq(alec_auth_table_parse(&t, many, n, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "more than 256"));
  /* Exactly 256 pass. */
  n = (size_t)snprintf(many, sizeof many, "1: 000102030405060708090a0b0c0d0e0f");
  for (int i = 0; i < ALEC_AUTH_MAX_RANGES; i++) n += (size_t)snprintf(many + n, sizeof many - n, " %d", i * 2);
  ck_assert_int_eq(alec_auth_table_parse(&t, many, n, err, sizeof err), 0);
  ck_assert_uint_eq(t->keys[0].n_ranges, 256);
  alec_auth_table_free(t);
  /* Above the file size bound. */
  char *huge = calloc(1, ALEC_AUTH_FILE_MAX + 1);
  ck_assert_ptr_nonnull(huge);
  memset(huge, '\n', ALEC_AUTH_FILE_MAX + 1);
  ck_assert_int_eq(alec_auth_table_parse(&t, huge, ALEC_AUTH_FILE_MAX + 1, err, sizeof err), ALEC_ERANGE);
  free(huge);
  /* As many keys as fit in the size bound parse, and fast. */
  size_t cap = ALEC_AUTH_FILE_MAX;
  char *all = malloc(cap);
  ck_assert_ptr_nonnull(all);
  n = 0;
  for (unsigned id = 0; id < 65536 && n + 64 < cap; id++)
    n += (size_t)snprintf(all + n, cap - n, "%u:000102030405060708090a0b0c0d0e0f\n", id);
  ck_assert_int_eq(alec_auth_table_parse(&t, all, n, err, sizeof err), 0);
  ck_assert_uint_gt(t->n, 25000);
  alec_auth_table_free(t);
  free(all);
}
END_TEST

START_TEST(key_decode) {
  uint8_t k[ALEC_AUTH_KEY_MAX];
  ck_assert_int_eq(alec_auth_key_decode("000102030405060708090a0b0c0d0e0f", k), 16);
  ck_assert_int_eq(alec_auth_key_decode("hex:000102030405060708090a0b0c0d0e0f", k), 16);
  ck_assert_int_eq(alec_auth_key_decode("base64:AAECAwQFBgcICQoLDA0ODw==", k), 16);
  ck_assert_uint_eq(k[15], 15);
  ck_assert_int_eq(alec_auth_key_decode("", k), ALEC_EINVAL);
  ck_assert_int_eq(alec_auth_key_decode("base64:", k), ALEC_EINVAL);
  ck_assert_int_eq(alec_auth_key_decode("00 0102030405060708090a0b0c0d0e0f", k), ALEC_EINVAL);
  ck_assert_int_eq(alec_auth_key_decode(NULL, k), ALEC_EINVAL);
}
END_TEST

START_TEST(inherit_windows) {
  alec_auth_table *old = table_of(KEYLINE "9: 000102030405060708090a0b0c0d0e0f\n");
  alec_replay_update(&alec_auth_table_find(old, 7)->window, 500);
  alec_replay_update(&alec_auth_table_find(old, 9)->window, 900);
  /* Key 7 gets new bytes, 9 is gone, 10 is new. */
  alec_auth_table *fresh = table_of("7: ffffffffffffffffffffffffffffffff\n10: 000102030405060708090a0b0c0d0e0f\n");
  alec_auth_table_inherit(fresh, old);
  ck_assert_int_eq(alec_replay_check(&alec_auth_table_find(fresh, 7)->window, 500), ALEC_EREPLAY);
  ck_assert_int_eq(alec_replay_check(&alec_auth_table_find(fresh, 7)->window, 501), 0);
  ck_assert_int_eq(alec_auth_table_find(fresh, 10)->window.used, 0);
  alec_auth_table_free(old);
  alec_auth_table_free(fresh);
}
END_TEST

START_TEST(load_files) {
  char dir[] = "check_auth.XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[64], err[512];
  alec_auth_table *t;
  snprintf(path, sizeof path, "%s/keys", dir);
  ck_assert_int_eq(alec_auth_table_load(&t, path, err, sizeof err), ALEC_EIO); /* missing */
  ck_assert_ptr_nonnull(strstr(err, path));
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(KEYLINE, f);
  fclose(f);
  ck_assert_int_eq(alec_auth_table_load(&t, path, err, sizeof err), 0);
  ck_assert_uint_eq(t->n, 1);
  alec_auth_table_free(t);
  ck_assert_int_eq(alec_auth_table_load(&t, dir, err, sizeof err), ALEC_EIO); /* a directory */
  /* A FIFO in the key file's place must not block. */
  char fifo[64];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert_int_eq(alec_auth_table_load(&t, fifo, err, sizeof err), ALEC_EIO);
  ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
  /* Binary garbage. */
  f = fopen(path, "w");
  for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xFF, f);
  fclose(f);
  ck_assert_int_lt(alec_auth_table_load(&t, path, err, sizeof err), 0);
  ck_assert_ptr_null(t);
  unlink(fifo);
  unlink(path);
  rmdir(dir);
}
END_TEST

static Suite *auth_suite(void) {
  Suite *s = suite_create("auth");
  TCase *tc = tcase_create("hmac");
  tcase_add_test(tc, rfc4231_case1);
  tcase_add_test(tc, rfc4231_case2);
  tcase_add_test(tc, rfc4231_case5_truncation);
  tcase_add_test(tc, rfc4231_case6_long_key);
  suite_add_tcase(s, tc);
  tc = tcase_create("sign");
  tcase_add_test(tc, sign_layout);
  tcase_add_test(tc, doc_example);
  tcase_add_test(tc, sign_refusals);
  tcase_add_test(tc, sign_run);
  tcase_add_test(tc, verify_paths);
  tcase_add_test(tc, tamper_and_truncate);
  suite_add_tcase(s, tc);
  tc = tcase_create("replay");
  tcase_add_test(tc, replay_basic);
  tcase_add_test(tc, replay_shift);
  tcase_add_test(tc, replay_top_of_range);
  suite_add_tcase(s, tc);
  tc = tcase_create("keyfile");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, keyfile_valid);
  tcase_add_test(tc, keyfile_hostile);
  tcase_add_test(tc, keyfile_bounds);
  tcase_add_test(tc, key_decode);
  tcase_add_test(tc, inherit_windows);
  tcase_add_test(tc, load_files);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(auth_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
