/* SPDX-License-Identifier: MIT */
/* Signed envelope datagrams, replay windows and key files (include/alec/auth.h,
 * docs/SECURITY.md). The cryptography is libsodium's; this file only lays
 * bytes out and decides. Secrets (keys, key file text, full MACs) are wiped
 * with sodium_memzero once used, and no error message ever quotes them. */

#include "alec/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alec/error.h"

static void sodium_once(void) {
  static atomic_int done;
  /* sodium_init() is idempotent and thread-safe, but takes a lock: once. */
  if (!atomic_load_explicit(&done, memory_order_acquire)) {
    /* -1 only when libsodium cannot initialise its RNG, which HMAC and
     * the constant-time helpers used here do not need. */
    if (sodium_init() >= 0) atomic_store_explicit(&done, 1, memory_order_release);
  }
}

/* ---- primitives ---------------------------------------------------------- */

int alec_auth_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                          uint8_t out[ALEC_AUTH_HMAC_SIZE]) {
  if ((key == NULL && key_len) || (msg == NULL && msg_len) || out == NULL) return ALEC_EINVAL;
  sodium_once();
  static const uint8_t empty[1];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key ? key : empty, key_len);
  crypto_auth_hmacsha256_update(&st, msg ? msg : empty, msg_len);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
  return 0;
}

static void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static uint64_t get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

long alec_auth_sign(uint8_t *buf, size_t len, size_t cap, uint16_t key_id, const uint8_t *key, size_t key_len,
                    uint64_t counter) {
  if (buf == NULL || key == NULL || key_len < ALEC_AUTH_KEY_MIN || key_len > ALEC_AUTH_KEY_MAX) return ALEC_EINVAL;
  /* Only a complete unsigned envelope: signing twice or signing a bare
   * frame would produce something no receiver accepts. */
  if (len <= ALEC_ENVELOPE_HEADER_SIZE ||
      (buf[0] & (uint8_t)~ALEC_ENVELOPE_FLAG_RUN) != (uint8_t)(ALEC_ENVELOPE_VERSION << 4))
    return ALEC_EINVAL;
  if (cap < len || cap - len < ALEC_AUTH_TRAILER_SIZE) return ALEC_EBUFSIZE;
  buf[0] |= ALEC_ENVELOPE_FLAG_AUTH;
  put_be16(buf + len, key_id);
  put_be64(buf + len + ALEC_AUTH_KEY_ID_SIZE, counter);
  size_t signed_len = len + ALEC_AUTH_KEY_ID_SIZE + ALEC_AUTH_COUNTER_SIZE;
  uint8_t mac[ALEC_AUTH_HMAC_SIZE];
  alec_auth_hmac_sha256(key, key_len, buf, signed_len, mac);
  memcpy(buf + signed_len, mac, ALEC_AUTH_TAG_SIZE);
  sodium_memzero(mac, sizeof mac);
  return (long)(signed_len + ALEC_AUTH_TAG_SIZE);
}

int alec_auth_parse(const uint8_t *buf, size_t len, alec_auth_trailer *t) {
  if (buf == NULL || len < ALEC_ENVELOPE_HEADER_SIZE) return ALEC_ETRUNC;
  if ((buf[0] >> 4) != ALEC_ENVELOPE_VERSION) return ALEC_EVERSION;
  unsigned flags = buf[0] & 0x0Fu;
  if (flags & ALEC_ENVELOPE_FLAGS_RESERVED) return ALEC_EMALFORMED;
  if (!(flags & ALEC_ENVELOPE_FLAG_AUTH)) return 0;
  /* Header, at least one record byte, trailer. */
  if (len < ALEC_ENVELOPE_HEADER_SIZE + 1 + ALEC_AUTH_TRAILER_SIZE) return ALEC_ETRUNC;
  size_t tr = len - ALEC_AUTH_TRAILER_SIZE;
  t->key_id = (uint16_t)(buf[tr] << 8 | buf[tr + 1]);
  t->counter = get_be64(buf + tr + ALEC_AUTH_KEY_ID_SIZE);
  t->signed_len = tr + ALEC_AUTH_KEY_ID_SIZE + ALEC_AUTH_COUNTER_SIZE;
  t->tag = buf + t->signed_len;
  t->records_end = tr;
  return 1;
}

int alec_auth_check_tag(const uint8_t *buf, const alec_auth_trailer *t, const uint8_t *key, size_t key_len) {
  uint8_t mac[ALEC_AUTH_HMAC_SIZE];
  if (alec_auth_hmac_sha256(key, key_len, buf, t->signed_len, mac) != 0) return ALEC_EINVAL;
  /* sodium_memcmp: the time taken does not depend on where they differ. */
  int rc = sodium_memcmp(mac, t->tag, ALEC_AUTH_TAG_SIZE) == 0 ? 0 : ALEC_EAUTH;
  sodium_memzero(mac, sizeof mac);
  return rc;
}

int alec_auth_reader_init(alec_envelope_reader *r, const uint8_t *buf, size_t len) {
  alec_auth_trailer t;
  memset(r, 0, sizeof(*r));
  r->buf = buf;
  int rc = alec_auth_parse(buf, len, &t);
  if (rc == 0) rc = ALEC_EINVAL;
  if (rc < 0) return r->error = rc;
  r->flags = buf[0] & 0x0Fu;
  r->end = t.records_end;
  r->pos = ALEC_ENVELOPE_HEADER_SIZE;
  return 0;
}

/* ---- replay window ------------------------------------------------------- */

int alec_replay_check(const alec_replay_window *w, uint64_t counter) {
  if (!w->used || counter > w->top) return 0;
  uint64_t age = w->top - counter;
  if (age >= ALEC_AUTH_REPLAY_WINDOW) return ALEC_EREPLAY;
  return (w->bitmap >> age) & 1u ? ALEC_EREPLAY : 0;
}

void alec_replay_update(alec_replay_window *w, uint64_t counter) {
  if (!w->used) {
    w->used = 1;
    w->top = counter;
    w->bitmap = 1;
    return;
  }
  if (counter > w->top) {
    uint64_t shift = counter - w->top;
    /* A shift by 64 or more is undefined in C: the window simply empties. */
    w->bitmap = shift >= ALEC_AUTH_REPLAY_WINDOW ? 1 : (w->bitmap << shift) | 1u;
    w->top = counter;
    return;
  }
  uint64_t age = w->top - counter;
  if (age < ALEC_AUTH_REPLAY_WINDOW) w->bitmap |= UINT64_C(1) << age;
}

/* ---- key files ----------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int perr(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int hexdigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Decimal or 0x-hex, digits only, 64 bit. */
static int parse_u64(const char *s, size_t n, uint64_t *out) {
  int base = 10;
  if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
    n -= 2;
  }
  if (n == 0) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
    else return -1;
    if (v > (UINT64_MAX - d) / (unsigned)base) return -1;
    v = v * (unsigned)base + d;
  }
  *out = v;
  return 0;
}

int alec_auth_key_decode(const char *text, uint8_t out[ALEC_AUTH_KEY_MAX]) {
  if (text == NULL) return ALEC_EINVAL;
  sodium_once();
  size_t n = strlen(text), bin = 0;
  const char *end = NULL;
  if (strncmp(text, "base64:", 7) == 0) {
    if (sodium_base642bin(out, ALEC_AUTH_KEY_MAX, text + 7, n - 7, NULL, &bin, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + n)
      return ALEC_EINVAL;
  } else {
    if (strncmp(text, "hex:", 4) == 0) {
      text += 4;
      n -= 4;
    }
    /* sodium_hex2bin stops at the first non-hex character: check first. */
    for (size_t i = 0; i < n; i++)
      if (!hexdigit(text[i])) return ALEC_EINVAL;
    if (n % 2 || n > 2 * ALEC_AUTH_KEY_MAX ||
        sodium_hex2bin(out, ALEC_AUTH_KEY_MAX, text, n, NULL, &bin, &end) != 0 || end != text + n)
      return ALEC_EINVAL;
  }
  if (bin < ALEC_AUTH_KEY_MIN || bin > ALEC_AUTH_KEY_MAX) {
    sodium_memzero(out, ALEC_AUTH_KEY_MAX);
    return ALEC_EINVAL;
  }
  return (int)bin;
}

static int cmp_range(const void *a, const void *b) {
  const alec_auth_range *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_key(const void *a, const void *b) {
  const alec_auth_key *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

void alec_auth_table_free(alec_auth_table *t) {
  if (t == NULL) return;
  for (size_t i = 0; i < t->n; i++) free(t->keys[i].ranges);
  if (t->keys) sodium_memzero(t->keys, t->n * sizeof(*t->keys));
  free(t->keys);
  free(t);
}

/* One key line, NUL-terminated in a private buffer (blanks as separators).
 * 0, or an error with err set ("line N: ..."). */
static int parse_line(char *line, unsigned long lineno, alec_auth_key *k, char *err, size_t errlen) {
  char *p = line;
  while (is_blank(*p)) p++;
  char *colon = strchr(p, ':');
  if (colon == NULL) return perr(err, errlen, ALEC_EINVAL, "line %lu: expected \"<key id>: <key> [emitters]\"", lineno);
  char *idend = colon;
  while (idend > p && is_blank(idend[-1])) idend--;
  uint64_t id;
  if (parse_u64(p, (size_t)(idend - p), &id) != 0 || id > UINT16_MAX)
    return perr(err, errlen, ALEC_EINVAL, "line %lu: key id must be an integer in 0..65535", lineno);
  k->id = (uint16_t)id;
  p = colon + 1;
  while (is_blank(*p)) p++;
  char *key = p;
  while (*p && !is_blank(*p)) p++;
  if (p == key) return perr(err, errlen, ALEC_EINVAL, "line %lu: key id %u has no key", lineno, k->id);
  char save = *p;
  *p = '\0';
  int kl = alec_auth_key_decode(key, k->key);
  *p = save;
  if (kl < 0)
    return perr(err, errlen, ALEC_EINVAL,
                "line %lu: the key of id %u is not %d..%d bytes of hex (even number of digits) or base64:...",
                lineno, k->id, ALEC_AUTH_KEY_MIN, ALEC_AUTH_KEY_MAX);
  k->key_len = (size_t)kl;
  int any = 0;
  for (;;) {
    while (is_blank(*p)) p++;
    if (*p == '\0' || *p == '#') break;
    char *tok = p;
    while (*p && !is_blank(*p)) p++;
    size_t tl = (size_t)(p - tok);
    if (tl == 1 && tok[0] == '*') {
      any = 1;
      continue;
    }
    if (k->n_ranges >= ALEC_AUTH_MAX_RANGES)
      return perr(err, errlen, ALEC_EINVAL, "line %lu: more than %d emitter ids or ranges for key id %u", lineno,
                  ALEC_AUTH_MAX_RANGES, k->id);
    alec_auth_range r;
    char *dash = memchr(tok, '-', tl);
    if (dash ? parse_u64(tok, (size_t)(dash - tok), &r.lo) != 0 ||
                   parse_u64(dash + 1, (size_t)(p - dash - 1), &r.hi) != 0 || r.lo > r.hi
             : parse_u64(tok, tl, &r.lo) != 0)
      return perr(err, errlen, ALEC_EINVAL,
                  "line %lu: key id %u: emitters must be ids or ranges LO-HI (decimal or 0x-hex, LO <= HI), or *",
                  lineno, k->id);
    if (!dash) r.hi = r.lo;
    if (k->ranges == NULL) {
      k->ranges = malloc(ALEC_AUTH_MAX_RANGES * sizeof(*k->ranges));
      if (k->ranges == NULL) return perr(err, errlen, ALEC_ENOMEM, "out of memory");
    }
    k->ranges[k->n_ranges++] = r;
  }
  if (any && k->n_ranges)
    return perr(err, errlen, ALEC_EINVAL, "line %lu: key id %u: '*' (any emitter) cannot be combined with ids",
                lineno, k->id);
  if (k->n_ranges > 1) {
    /* Merged so a lookup is one binary search over disjoint ranges. */
    qsort(k->ranges, k->n_ranges, sizeof(*k->ranges), cmp_range);
    size_t m = 0;
    for (size_t i = 1; i < k->n_ranges; i++) {
      if (k->ranges[i].lo <= k->ranges[m].hi || (k->ranges[m].hi != UINT64_MAX && k->ranges[i].lo == k->ranges[m].hi + 1)) {
        if (k->ranges[i].hi > k->ranges[m].hi) k->ranges[m].hi = k->ranges[i].hi;
      } else {
        k->ranges[++m] = k->ranges[i];
      }
    }
    k->n_ranges = m + 1;
  }
  return 0;
}

int alec_auth_table_parse(alec_auth_table **out, const char *text, size_t len, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  *out = NULL;
  if (text == NULL && len) return perr(err, errlen, ALEC_EINVAL, "no text");
  if (len > ALEC_AUTH_FILE_MAX)
    return perr(err, errlen, ALEC_ERANGE, "larger than %d bytes", ALEC_AUTH_FILE_MAX);
  sodium_once();
  alec_auth_table *t = calloc(1, sizeof(*t));
  if (t == NULL) return perr(err, errlen, ALEC_ENOMEM, "out of memory");
  size_t cap = 0;
  char line[ALEC_AUTH_LINE_MAX + 1];
  int rc = 0;
  unsigned long lineno = 0;
  size_t pos = 0;
  while (pos < len && rc == 0) {
    lineno++;
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
    const char *src = text + pos;
    pos += ll + (nl != NULL);
    if (ll && src[ll - 1] == '\r') ll--;
    if (ll > ALEC_AUTH_LINE_MAX) {
      rc = perr(err, errlen, ALEC_EINVAL, "line %lu: longer than %d characters", lineno, ALEC_AUTH_LINE_MAX);
      break;
    }
    if (memchr(src, '\0', ll)) {
      rc = perr(err, errlen, ALEC_EINVAL, "line %lu: contains a NUL byte", lineno);
      break;
    }
    memcpy(line, src, ll);
    line[ll] = '\0';
    const char *p = line;
    while (is_blank(*p)) p++;
    if (*p == '\0' || *p == '#') continue;
    for (const char *q = p; *q; q++) {
      if ((unsigned char)*q < 0x20 && *q != '\t') {
        rc = perr(err, errlen, ALEC_EINVAL, "line %lu: contains a control character", lineno);
        break;
      }
    }
    if (rc) break;
    if (t->n == cap) {
      size_t ncap = cap ? 2 * cap : 16;
      alec_auth_key *nk = malloc(ncap * sizeof(*nk));
      if (nk == NULL) {
        rc = perr(err, errlen, ALEC_ENOMEM, "out of memory");
        break;
      }
      /* Copy and wipe rather than realloc: the old block holds keys. */
      if (t->n) memcpy(nk, t->keys, t->n * sizeof(*nk));
      if (t->keys) sodium_memzero(t->keys, t->n * sizeof(*t->keys));
      free(t->keys);
      t->keys = nk;
      cap = ncap;
    }
    alec_auth_key *k = &t->keys[t->n];
    memset(k, 0, sizeof(*k));
    rc = parse_line(line, lineno, k, err, errlen);
    if (rc == 0) {
      for (size_t i = 0; i < t->n; i++)
        if (t->keys[i].id == k->id) {
          rc = perr(err, errlen, ALEC_EINVAL, "line %lu: key id %u is defined twice", lineno, k->id);
          break;
        }
    }
    if (rc != 0) {
      free(k->ranges);
      sodium_memzero(k, sizeof(*k));
      break;
    }
    if (k->n_ranges) {
      alec_auth_range *shrunk = realloc(k->ranges, k->n_ranges * sizeof(*shrunk));
      if (shrunk) k->ranges = shrunk;
    }
    t->n++;
  }
  sodium_memzero(line, sizeof line);
  if (rc == 0 && t->n == 0) rc = perr(err, errlen, ALEC_EINVAL, "no key defined");
  if (rc != 0) {
    alec_auth_table_free(t);
    return rc;
  }
  qsort(t->keys, t->n, sizeof(*t->keys), cmp_key);
  *out = t;
  return 0;
}

int alec_auth_table_load(alec_auth_table **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (path == NULL || *path == '\0') return perr(err, errlen, ALEC_EINVAL, "no file name");
  /* O_NONBLOCK: a FIFO put in the key file's place must not hang us. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return perr(err, errlen, ALEC_EIO, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return perr(err, errlen, ALEC_EIO, "%s: not a regular file", path);
  }
  if (st.st_size > ALEC_AUTH_FILE_MAX) {
    close(fd);
    return perr(err, errlen, ALEC_ERANGE, "%s: larger than %d bytes", path, ALEC_AUTH_FILE_MAX);
  }
  size_t cap = (size_t)st.st_size + 1;
  char *buf = malloc(cap);
  if (buf == NULL) {
    close(fd);
    return perr(err, errlen, ALEC_ENOMEM, "out of memory");
  }
  size_t n = 0;
  int rc = 0;
  while (n < cap) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = perr(err, errlen, ALEC_EIO, "%s: %s", path, strerror(errno));
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  /* Grown since fstat: read again next time rather than parse half. */
  if (rc == 0 && n == cap) rc = perr(err, errlen, ALEC_EIO, "%s: changed while being read", path);
  if (rc == 0) {
    char inner[256];
    rc = alec_auth_table_parse(out, buf, n, inner, sizeof inner);
    if (rc != 0) perr(err, errlen, rc, "%s: %s", path, inner);
  }
  sodium_memzero(buf, cap);
  free(buf);
  return rc;
}

alec_auth_key *alec_auth_table_find(const alec_auth_table *t, uint16_t id) {
  if (t == NULL || t->n == 0) return NULL;
  alec_auth_key k;
  k.id = id;
  return bsearch(&k, t->keys, t->n, sizeof(*t->keys), cmp_key);
}

void alec_auth_table_inherit(alec_auth_table *fresh, const alec_auth_table *old) {
  if (fresh == NULL || old == NULL) return;
  for (size_t i = 0; i < fresh->n; i++) {
    const alec_auth_key *o = alec_auth_table_find(old, fresh->keys[i].id);
    if (o == NULL) continue;
    /* Kept even when the key bytes change: switching back to an earlier
     * key must not make its old datagrams acceptable again. */
    fresh->keys[i].window = o->window;
    fresh->keys[i].accepted = o->accepted;
  }
}

int alec_auth_key_allows(const alec_auth_key *k, uint64_t emitter) {
  if (k->n_ranges == 0) return 1;
  size_t lo = 0, hi = k->n_ranges;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (emitter < k->ranges[mid].lo) hi = mid;
    else if (emitter > k->ranges[mid].hi) lo = mid + 1;
    else return 1;
  }
  return 0;
}

int alec_auth_verify(const alec_auth_table *tab, const uint8_t *buf, size_t len, alec_auth_key **key,
                     alec_auth_trailer *t) {
  *key = NULL;
  int rc = alec_auth_parse(buf, len, t);
  if (rc <= 0) return rc == 0 ? ALEC_EINVAL : rc;
  alec_auth_key *k = alec_auth_table_find(tab, t->key_id);
  if (k == NULL) return ALEC_ENOTFOUND;
  /* The tag before the window: a forgery that reuses an old counter is a
   * forgery, and only an authentic datagram may be called a replay. */
  if ((rc = alec_auth_check_tag(buf, t, k->key, k->key_len)) != 0) return rc;
  if ((rc = alec_replay_check(&k->window, t->counter)) != 0) return rc;
  *key = k;
  return 0;
}
