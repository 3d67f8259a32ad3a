/* SPDX-License-Identifier: MIT */
/* libFuzzer target: signed envelopes and key files (alec/auth.h).
 *
 * Input: mode(1) text_len(2, BE) text[text_len] rest
 *   text: a key file, parsed with alec_auth_table_parse (and handed to
 *         alec_auth_key_decode as one key)
 *   rest: a datagram. It is verified as it is against the parsed table (or
 *         a built-in one); when it is an unsigned envelope the target also
 *         signs it with a key of the table and checks the round trip: the
 *         signature verifies, the signed records read like the unsigned
 *         ones, a replay or any flipped bit is refused. Its bytes also
 *         drive a replay window, compared with a plain model.
 *   mode: bit 0 a 12-byte error buffer, bits 1-7 which key signs, which bit
 *         is flipped, the counter.
 * The tag itself cannot be forged by the fuzzer; the round trip is what
 * takes the verified path. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alec/auth.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "fuzz_util.h"

/* Records are at least 3 bytes (emitter, descriptor, one frame byte). */
#define MAX_RECORDS (ALEC_ENVELOPE_MAX_DATAGRAM / 3 + 1)

static void check_table(const alec_auth_table *t) {
  FUZZ_CHECK(t != NULL && t->n >= 1);
  for (size_t i = 0; i < t->n; i++) {
    const alec_auth_key *k = &t->keys[i];
    if (i > 0) FUZZ_CHECK(t->keys[i - 1].id < k->id);
    FUZZ_CHECK(alec_auth_table_find(t, k->id) == k);
    FUZZ_CHECK(k->key_len >= ALEC_AUTH_KEY_MIN && k->key_len <= ALEC_AUTH_KEY_MAX);
    FUZZ_CHECK(!k->window.used && k->accepted == 0);
    FUZZ_CHECK(k->n_ranges <= ALEC_AUTH_MAX_RANGES);
    FUZZ_CHECK((k->ranges == NULL) == (k->n_ranges == 0));
    if (k->n_ranges == 0) {
      FUZZ_CHECK(alec_auth_key_allows(k, 0) && alec_auth_key_allows(k, UINT64_MAX));
      continue;
    }
    /* Sorted, disjoint and merged: a gap between neighbours. */
    for (size_t r = 0; r < k->n_ranges; r++) {
      const alec_auth_range *g = &k->ranges[r];
      FUZZ_CHECK(g->lo <= g->hi);
      if (r > 0) FUZZ_CHECK(k->ranges[r - 1].hi < g->lo && g->lo - k->ranges[r - 1].hi >= 2);
      FUZZ_CHECK(alec_auth_key_allows(k, g->lo) && alec_auth_key_allows(k, g->hi));
      if (g->lo > 0) FUZZ_CHECK(!alec_auth_key_allows(k, g->lo - 1));
      if (g->hi < UINT64_MAX) FUZZ_CHECK(!alec_auth_key_allows(k, g->hi + 1));
    }
  }
}

/* The replay window against a model that remembers every accepted counter:
 * a counter passes iff it is new and not 64 or more below the highest. */
static void check_replay(const uint8_t *p, size_t n) {
  alec_replay_window w;
  memset(&w, 0, sizeof w);
  static uint64_t seen[1024];
  size_t n_seen = 0;
  uint64_t top = 0;
  uint64_t c = 0;
  for (size_t i = 0; i + 2 <= n && n_seen < 1024; i += 2) {
    /* Mostly small steps either way, sometimes a jump. */
    int8_t step = (int8_t)p[i];
    if (p[i + 1] == 0xFF) c ^= (uint64_t)step << 56;
    else c += (uint64_t)(int64_t)step;
    int expect = 0;
    if (n_seen > 0) {
      if (c <= top && top - c >= ALEC_AUTH_REPLAY_WINDOW) expect = ALEC_EREPLAY;
      for (size_t k = 0; k < n_seen && expect == 0; k++)
        if (seen[k] == c) expect = ALEC_EREPLAY;
    }
    int rc = alec_replay_check(&w, c);
    FUZZ_CHECK(rc == expect);
    if (rc == 0) {
      alec_replay_update(&w, c);
      seen[n_seen++] = c;
      if (n_seen == 1 || c > top) top = c;
      FUZZ_CHECK(alec_replay_check(&w, c) == ALEC_EREPLAY);
    }
  }
}

/* Records with their frames as offsets, comparable across two buffers. */
typedef struct rec_off {
  uint64_t emitter;
  alec_format format;
  unsigned channels;
  size_t frame_off, frame_len, offset;
} rec_off;

typedef struct rec_list {
  rec_off r[MAX_RECORDS];
  size_t n;
  int end_rc;
} rec_list;

static void read_records(alec_envelope_reader *r, const uint8_t *base, rec_list *out) {
  alec_envelope_record rec;
  int rc;
  out->n = 0;
  while ((rc = alec_envelope_next(r, &rec)) > 0) {
    FUZZ_CHECK(out->n < MAX_RECORDS);
    rec_off *o = &out->r[out->n++];
    memset(o, 0, sizeof *o);
    o->emitter = rec.emitter;
    o->format = rec.format;
    o->channels = rec.channels;
    o->frame_off = (size_t)(rec.frame - base);
    o->frame_len = rec.frame_len;
    o->offset = rec.offset;
  }
  out->end_rc = rc;
}

static void sign_round_trip(const alec_auth_table *tab, uint8_t mode, const uint8_t *dg, size_t len) {
  alec_auth_key *k = &tab->keys[(mode >> 1) % tab->n];
  uint64_t counter = (uint64_t)mode << 40 | len;
  size_t cap = len + ALEC_AUTH_TRAILER_SIZE;
  uint8_t *s = malloc(cap);
  FUZZ_CHECK(s != NULL);
  memcpy(s, dg, len);
  /* One byte short: refused, untouched. */
  FUZZ_CHECK(alec_auth_sign(s, len, cap - 1, k->id, k->key, k->key_len, counter) == ALEC_EBUFSIZE);
  FUZZ_CHECK(memcmp(s, dg, len) == 0);
  long sl = alec_auth_sign(s, len, cap, k->id, k->key, k->key_len, counter);
  FUZZ_CHECK(sl == (long)cap);

  alec_auth_trailer t;
  FUZZ_CHECK(alec_auth_parse(s, cap, &t) == 1);
  FUZZ_CHECK(t.key_id == k->id && t.counter == counter && t.records_end == len);
  FUZZ_CHECK(t.signed_len == cap - ALEC_AUTH_TAG_SIZE && t.tag == s + t.signed_len);
  alec_auth_key *got = NULL;
  FUZZ_CHECK(alec_auth_verify(tab, s, cap, &got, &t) == 0 && got == k);
  /* Only the signed reader reads it, and it reads what was signed. */
  FUZZ_CHECK(alec_envelope_validate(s, cap) == ALEC_EAUTH);
  static rec_list plain, sig;
  alec_envelope_reader r;
  if (alec_envelope_reader_init(&r, dg, len) == 0) {
    read_records(&r, dg, &plain);
    FUZZ_CHECK(alec_auth_reader_init(&r, s, cap) == 0);
    read_records(&r, s, &sig);
    FUZZ_CHECK(plain.n == sig.n && plain.end_rc == sig.end_rc);
    FUZZ_CHECK(memcmp(plain.r, sig.r, plain.n * sizeof plain.r[0]) == 0);
  }
  /* Accepted once: a replay is refused, a fresh counter is not. */
  alec_replay_window saved = k->window;
  alec_replay_update(&k->window, counter);
  FUZZ_CHECK(alec_auth_verify(tab, s, cap, &got, &t) == ALEC_EREPLAY);
  k->window = saved;
  /* Any flipped bit before the tag, or in it, breaks the signature (or
   * the structure, for the header byte). */
  size_t pos = ((size_t)mode * 2654435761u) % cap;
  s[pos] ^= (uint8_t)(1u << (mode & 7));
  int rc = alec_auth_verify(tab, s, cap, &got, &t);
  FUZZ_CHECK(rc != 0);
  if (pos > 0 && (pos < t.records_end || pos >= t.signed_len)) FUZZ_CHECK(rc == ALEC_EAUTH);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > ALEC_ENVELOPE_MAX_DATAGRAM + 8192) return 0;
  fuzz_in in = {data, size};
  uint8_t mode = fuzz_u8(&in);
  size_t tl;
  const uint8_t *text = fuzz_bytes(&in, fuzz_u16(&in), &tl);
  size_t dl;
  const uint8_t *dg = fuzz_bytes(&in, fuzz_left(&in), &dl);

  /* Key file. The text gets its own allocation so ASan sees its end. */
  char *tcopy = malloc(tl + 1);
  FUZZ_CHECK(tcopy != NULL);
  memcpy(tcopy, text, tl);
  tcopy[tl] = '\0';
  char err[256];
  size_t errlen = (mode & 1) ? 12 : sizeof err;
  memset(err, 'x', sizeof err);
  alec_auth_table *tab = NULL;
  int rc = alec_auth_table_parse(&tab, tcopy, tl, err, errlen);
  FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
  if (rc == 0) {
    check_table(tab);
    FUZZ_CHECK(err[0] == '\0');
  } else {
    FUZZ_CHECK(rc == ALEC_EINVAL || rc == ALEC_ERANGE || rc == ALEC_ENOMEM);
    FUZZ_CHECK(tab == NULL && err[0] != '\0');
  }
  uint8_t key[ALEC_AUTH_KEY_MAX];
  int kl = alec_auth_key_decode(tcopy, key);
  FUZZ_CHECK(kl == ALEC_EINVAL || (kl >= ALEC_AUTH_KEY_MIN && kl <= ALEC_AUTH_KEY_MAX));
  free(tcopy);

  if (tab == NULL) {
    static const char builtin[] = "1: 000102030405060708090a0b0c0d0e0f\n7: base64:AAECAwQFBgcICQoLDA0ODxAREhM= 5-9 12\n";
    FUZZ_CHECK(alec_auth_table_parse(&tab, builtin, sizeof builtin - 1, NULL, 0) == 0);
  }

  /* The datagram as it came. */
  uint8_t *copy = malloc(dl ? dl : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, dg, dl);
  alec_auth_key *got = NULL;
  alec_auth_trailer t;
  rc = alec_auth_verify(tab, copy, dl, &got, &t);
  FUZZ_CHECK(rc == 0 || rc == ALEC_ETRUNC || rc == ALEC_EVERSION || rc == ALEC_EMALFORMED ||
             rc == ALEC_EINVAL || rc == ALEC_ENOTFOUND || rc == ALEC_EAUTH || rc == ALEC_EREPLAY);
  int p = alec_auth_parse(copy, dl, &t);
  if (p == 1) {
    FUZZ_CHECK(t.records_end >= 2 && t.records_end + ALEC_AUTH_TRAILER_SIZE == dl);
    alec_envelope_reader r;
    FUZZ_CHECK(alec_auth_reader_init(&r, copy, dl) == 0 && r.end == t.records_end);
    static rec_list recs;
    read_records(&r, copy, &recs);
    for (size_t i = 0; i < recs.n; i++)
      FUZZ_CHECK(recs.r[i].frame_off + recs.r[i].frame_len <= t.records_end);
  }
  if (dl > 1 && (copy[0] & ~ALEC_ENVELOPE_FLAG_RUN) == (ALEC_ENVELOPE_VERSION << 4) &&
      dl <= ALEC_ENVELOPE_MAX_DATAGRAM)
    sign_round_trip(tab, mode, copy, dl);
  check_replay(dg, dl);
  free(copy);
  alec_auth_table_free(tab);
  return 0;
}
