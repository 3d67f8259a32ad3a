/* SPDX-License-Identifier: MIT */
/* sectool: prints envelope datagrams as hex lines (one per line, for
 * tests/integration/sendraw --hex) for the security integration tests:
 *
 *   sectool --frames FILE --emitter ID --channels N      one fixed frame per
 *                                                        line -> one datagram each
 *   sectool --random-emitters N [--seed S] [--base B]    N datagrams, each a valid
 *                                                        first frame (1 channel,
 *                                                        Raw32) of a random emitter
 *                                                        id (B + a 40-bit random)
 *                                                        with --channels C (a multiple
 *                                                        of 4): a C-channel frame each
 *   sectool --colliding-emitters N                       the same, ids chosen to
 *                                                        collide under the old
 *                                                        unkeyed table hash
 *   sectool --envelopes FILE                             ready envelopes (hex)
 * signing: [--key HEX | --key-file F] --key-id N [--counter C]
 *          (counter C, C+1, ... in output order; default 1)
 *
 * Unlike alec-send it never sends: the same signed datagrams can be sent
 * twice (replays), edited (forgeries) or sent in another order. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/auth.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "hashflood.h"

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static long parse_hex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  int hi = -1;
  for (; *s; s++) {
    if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') continue;
    int v = hexval((unsigned char)*s);
    if (v < 0 || n >= cap) return -1;
    if (hi < 0) hi = v;
    else {
      out[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  return hi < 0 ? (long)n : -1;
}

static int sign;
static uint16_t key_id;
static uint8_t key[ALEC_AUTH_KEY_MAX];
static size_t key_len;
static uint64_t counter = 1;

static int emit(uint8_t *buf, size_t len, size_t cap) {
  if (sign) {
    long sl = alec_auth_sign(buf, len, cap, key_id, key, key_len, counter++);
    if (sl < 0) {
      fprintf(stderr, "sectool: sign: %s\n", alec_strerror((int)sl));
      return -1;
    }
    len = (size_t)sl;
  }
  for (size_t i = 0; i < len; i++) printf("%02x", buf[i]);
  putchar('\n');
  return 0;
}

static int u64arg(const char *v, uint64_t *out) {
  char *end;
  errno = 0;
  int hex = v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
  *out = strtoull(hex ? v + 2 : v, &end, hex ? 16 : 10);
  return (*v == '-' || end == v || *end || errno) ? -1 : 0;
}

int main(int argc, char **argv) {
  const char *frames = NULL, *envelopes = NULL, *key_file = NULL, *key_text = NULL;
  uint64_t emitter = 0, channels = 0, random_n = 0, colliding = 0, seed = 1, base = 0, kid = 0, v;
  int have_kid = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *val = argv[i + 1];
    if (strcmp(a, "--frames") == 0) frames = val;
    else if (strcmp(a, "--envelopes") == 0) envelopes = val;
    else if (strcmp(a, "--key-file") == 0) key_file = val;
    else if (strcmp(a, "--key") == 0) key_text = val;
    else if (u64arg(val, &v) != 0) goto usage;
    else if (strcmp(a, "--emitter") == 0) emitter = v;
    else if (strcmp(a, "--channels") == 0 && v >= 1 && v <= 64) channels = v;
    else if (strcmp(a, "--random-emitters") == 0) random_n = v;
    else if (strcmp(a, "--colliding-emitters") == 0) random_n = colliding = v;
    else if (strcmp(a, "--seed") == 0) seed = v;
    else if (strcmp(a, "--base") == 0) base = v;
    else if (strcmp(a, "--key-id") == 0 && v <= 65535) {
      kid = v;
      have_kid = 1;
    } else if (strcmp(a, "--counter") == 0) counter = v;
    else goto usage;
  }
  if (argc % 2 == 0 || (frames != NULL) + (envelopes != NULL) + (random_n != 0) != 1) goto usage;
  if ((key_file || key_text) != have_kid) goto usage;
  if (have_kid) {
    key_id = (uint16_t)kid;
    if (key_text) {
      int n = alec_auth_key_decode(key_text, key);
      if (n < 0) {
        fprintf(stderr, "sectool: bad --key\n");
        return 2;
      }
      key_len = (size_t)n;
    } else {
      alec_auth_table *t;
      char err[512];
      if (alec_auth_table_load(&t, key_file, err, sizeof err) != 0) {
        fprintf(stderr, "sectool: %s\n", err);
        return 2;
      }
      const alec_auth_key *k = alec_auth_table_find(t, key_id);
      if (k == NULL) {
        fprintf(stderr, "sectool: no key id %u in %s\n", key_id, key_file);
        alec_auth_table_free(t);
        return 2;
      }
      memcpy(key, k->key, k->key_len);
      key_len = k->key_len;
      alec_auth_table_free(t);
    }
    sign = 1;
  }

  static uint8_t buf[ALEC_ENVELOPE_MAX_DATAGRAM];
  static char line[2 * ALEC_ENVELOPE_MAX_DATAGRAM + 64];
  alec_envelope_writer w;
  if (random_n) {
    rng_state = seed;
    /* Bitmap code 3 = Raw32 for every channel: decodes for an emitter
     * never seen. Default 1 channel (bitmap 03). */
    unsigned nch = channels ? (unsigned)channels : 1;
    if (nch > 1 && nch % 4) goto usage;
    uint8_t frame[5 + 16 + 4 * 64] = {0xA1, 0, 0, 0, 0};
    size_t bm = (nch + 3) / 4, flen = 5 + bm + 4 * (size_t)nch;
    memset(frame + 5, nch == 1 ? 0x03 : 0xFF, bm);
    for (uint64_t k = 0; k < random_n; k++) {
      for (unsigned c = 0; c < nch; c++) {
        uint8_t *v = frame + 5 + bm + 4 * c;
        v[0] = (uint8_t)(0x41 + rng() % 2);
        v[1] = 0xB4;
        v[2] = v[3] = 0;
      }
      alec_envelope_writer_init(&w, buf, sizeof buf - ALEC_AUTH_TRAILER_SIZE, 0);
      uint64_t id = colliding ? alec_hashflood_id(k) : base + (rng() >> 24);
      if (alec_envelope_add(&w, id, ALEC_FORMAT_FIXED, nch, frame, flen) < 0 ||
          emit(buf, w.len, sizeof buf) != 0)
        return 1;
    }
    return 0;
  }
  FILE *f = fopen(frames ? frames : envelopes, "r");
  if (f == NULL) {
    fprintf(stderr, "sectool: %s: %s\n", frames ? frames : envelopes, strerror(errno));
    return 1;
  }
  unsigned long lineno = 0;
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
    long n = parse_hex(line, buf, sizeof buf - ALEC_AUTH_TRAILER_SIZE);
    if (n <= 0) {
      fprintf(stderr, "sectool: line %lu: not hex\n", lineno);
      rc = 1;
      break;
    }
    if (frames) {
      uint8_t frame[ALEC_FRAME_MAX];
      if ((size_t)n > sizeof frame) {
        rc = 1;
        break;
      }
      memcpy(frame, buf, (size_t)n);
      alec_envelope_writer_init(&w, buf, sizeof buf - ALEC_AUTH_TRAILER_SIZE, 0);
      int a = alec_envelope_add(&w, emitter, ALEC_FORMAT_FIXED, (unsigned)channels, frame, (size_t)n);
      if (a < 0) {
        fprintf(stderr, "sectool: line %lu: %s\n", lineno, alec_strerror(a));
        rc = 1;
        break;
      }
      n = (long)w.len;
    }
    rc = emit(buf, (size_t)n, sizeof buf) != 0;
  }
  fclose(f);
  return rc;

usage:
  fprintf(stderr, "usage: sectool (--frames FILE --emitter ID --channels N | --random-emitters N [--seed S] "
                  "[--base B] | --colliding-emitters N | --envelopes FILE) [(--key HEX | --key-file F) --key-id N [--counter C]]\n");
  return 2;
}
