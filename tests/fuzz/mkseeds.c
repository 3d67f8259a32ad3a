/* SPDX-License-Identifier: MIT */
/* Seed corpora for the fuzz targets, generated at `make fuzz` time so that
 * no copy of the shared golden vectors enters the repository.
 *
 *   mkseeds OUTDIR FIXTURES_TSV|- [VECTORS_DIR]
 *
 * Frame streams come from tests/fixtures/vectors.tsv, from the golden
 * vectors (the .jsonl files of $ALEC_SHARED/vectors, frame_hex) when present, and from
 * our own encoder (resync frames, checksummed singles: things the reference
 * never emits). Each target gets them in its own input format (see the
 * comment at the top of each fuzz_*.c); the state and config targets also
 * get blobs and trees built here. Writes OUTDIR/<target>/<name>. */

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alec/auth.h"
#include "alec/context.h"
#include "alec/decoder.h"
#include "alec/encoder.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/fleet_state.h"
#include "alec/frame.h"
#include "alec/preload.h"
#include "fuzz_config_dict.h"

#define MAX_FRAMES_PER_STREAM 300
#define MAX_STREAMS 2048
#define CHUNK 64
#define MAX_SEEDS_PER_TARGET 1500

typedef struct frame {
  uint8_t *b;
  size_t len;
} frame;

typedef struct stream {
  char key[256];
  alec_format fmt;
  unsigned channels; /* fixed: 1..64, else 0 */
  uint64_t emitter;
  frame *f;
  size_t n, cap;
} stream;

static stream streams[MAX_STREAMS];
static size_t n_streams;
static const char *outdir;

static void die(const char *what) {
  fprintf(stderr, "mkseeds: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) die("out of memory");
  return q;
}

/* ---- byte buffers --------------------------------------------------------- */

typedef struct buf {
  uint8_t *b;
  size_t len, cap;
} buf;

static void put(buf *o, const void *p, size_t n) {
  if (o->len + n > o->cap) {
    o->cap = (o->len + n) * 2 + 64;
    o->b = xrealloc(o->b, o->cap);
  }
  memcpy(o->b + o->len, p, n);
  o->len += n;
}
static void put8(buf *o, unsigned v) {
  uint8_t b = (uint8_t)v;
  put(o, &b, 1);
}
static void put16(buf *o, unsigned v) {
  put8(o, v >> 8);
  put8(o, v);
}
static void put64(buf *o, uint64_t v) {
  for (int i = 7; i >= 0; i--) put8(o, (unsigned)(v >> (8 * i)));
}

static unsigned seed_count(const char *target) {
  static struct { const char *t; unsigned n; } counts[8];
  for (int i = 0; i < 8; i++) {
    if (counts[i].t == NULL) counts[i].t = target;
    if (strcmp(counts[i].t, target) == 0) return counts[i].n++;
  }
  return 0;
}

static void write_seed(const char *target, const char *tag, const buf *o) {
  unsigned n = seed_count(target);
  if (n >= MAX_SEEDS_PER_TARGET) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", outdir, target);
  if (mkdir(path, 0777) != 0 && errno != EEXIST) die(path);
  snprintf(path, sizeof path, "%s/%s/%04u-%s", outdir, target, n, tag);
  FILE *f = fopen(path, "wb");
  if (f == NULL) die(path);
  if (o->len && fwrite(o->b, 1, o->len, f) != o->len) die(path);
  if (fclose(f) != 0) die(path);
}

/* ---- streams -------------------------------------------------------------- */

static stream *stream_get(const char *key, alec_format fmt, unsigned channels, uint64_t emitter) {
  for (size_t i = n_streams; i-- > 0;) {
    stream *s = &streams[i];
    if (s->fmt == fmt && s->channels == channels && s->emitter == emitter &&
        strcmp(s->key, key) == 0)
      return s;
  }
  if (n_streams == MAX_STREAMS) return NULL;
  stream *s = &streams[n_streams++];
  memset(s, 0, sizeof *s);
  snprintf(s->key, sizeof s->key, "%s", key);
  s->fmt = fmt;
  s->channels = channels;
  s->emitter = emitter;
  return s;
}

static void stream_add(stream *s, const uint8_t *b, size_t len) {
  if (s == NULL || s->n >= MAX_FRAMES_PER_STREAM) return;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->f = xrealloc(s->f, s->cap * sizeof *s->f);
  }
  s->f[s->n].b = xrealloc(NULL, len);
  memcpy(s->f[s->n].b, b, len);
  s->f[s->n].len = len;
  s->n++;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Hex (optional 0x) up to a non-hex character; -1 when malformed. */
static long unhex(const char *h, uint8_t *out, size_t cap) {
  if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) h += 2;
  size_t n = 0;
  while (hexval(h[0]) >= 0) {
    if (hexval(h[1]) < 0 || n == cap) return -1;
    out[n++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
    h += 2;
  }
  return (long)n;
}

static void read_tsv(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "mkseeds: %s: %s (no fixture seeds)\n", path, strerror(errno));
    return;
  }
  char *line = NULL;
  size_t lcap = 0;
  stream *cur = NULL;
  static uint8_t fb[ALEC_FRAME_MAX * 2];
  while (getline(&line, &lcap, f) > 0) {
    char *fields[8] = {0};
    int nf = 0;
    for (char *p = line; nf < 8;) {
      fields[nf++] = p;
      char *t = strchr(p, '\t');
      if (t == NULL) {
        p[strcspn(p, "\r\n")] = '\0';
        break;
      }
      *t = '\0';
      p = t + 1;
    }
    if (nf >= 5 && strcmp(fields[0], "G") == 0) {
      alec_format fmt;
      unsigned ch = (unsigned)strtoul(fields[4], NULL, 10);
      cur = NULL;
      if (alec_format_parse(fields[3], &fmt) < 0) continue;
      if (fmt == ALEC_FORMAT_FIXED && (ch < 1 || ch > ALEC_FIXED_MAX_CHANNELS)) continue;
      char key[256];
      snprintf(key, sizeof key, "tsv/%s", fields[2]);
      cur = stream_get(key, fmt, fmt == ALEC_FORMAT_FIXED ? ch : 0, 0);
    } else if (nf >= 3 && strcmp(fields[0], "F") == 0 && cur != NULL) {
      /* "-": no frame, or never delivered. */
      if (strcmp(fields[1], "-") == 0 || strcmp(fields[2], "-") == 0) continue;
      long n = unhex(fields[1], fb, sizeof fb);
      if (n >= 0) stream_add(cur, fb, (size_t)n);
    }
  }
  free(line);
  fclose(f);
}

/* The value of "key": in a JSON line: a pointer just after the colon. */
static const char *json_field(const char *line, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  return p ? p + strlen(pat) : NULL;
}

static size_t count_substr(const char *s, const char *sub) {
  size_t n = 0;
  for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
  return n;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_jsonl(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  int malformed = strstr(name, "malformed") != NULL;
  int fmt_of_name = 0;
  if (strncmp(name, "s2", 2) == 0 || strstr(name, "_multi")) fmt_of_name = ALEC_FORMAT_MULTI;
  else if (strncmp(name, "s3", 2) == 0 || strstr(name, "_fixed")) fmt_of_name = ALEC_FORMAT_FIXED;
  else if (strncmp(name, "s1", 2) == 0 || strncmp(name, "s4", 2) == 0 || strstr(name, "_single"))
    fmt_of_name = ALEC_FORMAT_SINGLE;
  char *line = NULL;
  size_t lcap = 0;
  static uint8_t fb[ALEC_FRAME_MAX * 2];
  while (getline(&line, &lcap, f) > 0) {
    const char *h = json_field(line, "frame_hex");
    if (h == NULL || *h != '"') continue; /* null: not sent */
    const char *d = json_field(line, "dropped");
    if (d && strncmp(d, "true", 4) == 0) continue;
    long n = unhex(h + 1, fb, sizeof fb);
    if (n < 0) continue;
    char scen[200] = "?";
    const char *s = json_field(line, "scenario");
    if (s && *s == '"') {
      size_t k = strcspn(s + 1, "\"");
      if (k >= sizeof scen) k = sizeof scen - 1;
      memcpy(scen, s + 1, k);
      scen[k] = '\0';
    }
    const char *e = json_field(line, "emitter");
    uint64_t emitter = e ? strtoull(e, NULL, 10) : 0;
    char key[256];
    snprintf(key, sizeof key, "%s/%s", name, scen);
    if (malformed) {
      /* One frame per stream, offered to every family. */
      for (int fmt = ALEC_FORMAT_SINGLE; fmt <= ALEC_FORMAT_FIXED; fmt++) {
        stream *st = stream_get(key, (alec_format)fmt, fmt == ALEC_FORMAT_FIXED ? 2 : 0, emitter);
        stream_add(st, fb, (size_t)n);
      }
      continue;
    }
    int fmt = fmt_of_name;
    if (fmt == 0) fmt = (n > 0 && (fb[0] == 0xA1 || fb[0] == 0xA2)) ? ALEC_FORMAT_FIXED : ALEC_FORMAT_SINGLE;
    unsigned ch = 0;
    if (fmt == ALEC_FORMAT_FIXED) {
      const char *v = json_field(line, "values");
      ch = v ? (unsigned)count_substr(v, "\"source_id\"") : 0;
      if (ch < 1 || ch > ALEC_FIXED_MAX_CHANNELS) continue;
    }
    stream_add(stream_get(key, (alec_format)fmt, ch, emitter), fb, (size_t)n);
  }
  free(line);
  fclose(f);
}

static void read_vectors(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    fprintf(stderr, "mkseeds: %s: %s (no golden-vector seeds)\n", dir, strerror(errno));
    return;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l < 7 || strcmp(de->d_name + l - 6, ".jsonl") != 0) continue;
    names = xrealloc(names, (n + 1) * sizeof *names);
    names[n] = xrealloc(NULL, l + 1);
    memcpy(names[n++], de->d_name, l + 1);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    read_jsonl(dir, names[i]);
    free(names[i]);
  }
  free(names);
}

/* Our own emitter: closed-loop resyncs, keyframes, NaN, jumps, checksums. */
static double synth(unsigned i, unsigned ch) {
  double v = 20.0 + ch + 3.0 * sin(i * 0.1 + ch);
  if (i == 17) v = NAN;
  if (i == 40 && ch == 1) v = 1e9;
  if (i > 60 && i < 70) v = 5.0;
  return v;
}

static void synthetic_streams(void) {
  uint8_t fb[ALEC_FRAME_MAX];
  for (int mode = 0; mode < 2; mode++) {
    alec_encoder_config cfg;
    alec_encoder_config_init(&cfg);
    cfg.reference_compat = mode;
    cfg.keyframe_interval = 10;
    for (int fmt = ALEC_FORMAT_SINGLE; fmt <= ALEC_FORMAT_FIXED; fmt++) {
      cfg.checksum = fmt == ALEC_FORMAT_SINGLE_XXH32;
      alec_encoder *enc = NULL;
      if (alec_encoder_new(&enc, &cfg) < 0) continue;
      char key[64];
      snprintf(key, sizeof key, "synthetic/%s/%s", mode ? "reference" : "closed-loop",
               alec_format_name((alec_format)fmt));
      unsigned nch = fmt == ALEC_FORMAT_FIXED ? 3 : 0;
      stream *s = stream_get(key, (alec_format)fmt, nch, 100 + (uint64_t)fmt);
      for (unsigned i = 0; i < 100; i++) {
        double vals[3] = {synth(i, 0), synth(i, 1), synth(i, 2)};
        int n;
        if (fmt == ALEC_FORMAT_MULTI)
          n = alec_encode_multi(enc, vals, 3, 1000u * i, fb, sizeof fb);
        else if (fmt == ALEC_FORMAT_FIXED)
          n = alec_encode_fixed(enc, vals, 3, fb, sizeof fb);
        else
          n = alec_encode_single(enc, 1 + i % 2, vals[i % 2], 1000u * i, fb, sizeof fb, NULL);
        if (n > 0) stream_add(s, fb, (size_t)n);
      }
      alec_encoder_free(enc);
    }
  }
}

/* ---- per-target seeds ----------------------------------------------------- */

static unsigned fmt_byte(const stream *s) {
  unsigned ch = s->channels ? s->channels : 1;
  return (unsigned)(s->fmt - 1) | (ch - 1) << 2;
}

static void seeds_decode(void) {
  for (size_t i = 0; i < n_streams; i++) {
    const stream *s = &streams[i];
    for (size_t start = 0, k = 0; start < s->n && k < 4; start += CHUNK, k++) {
      for (unsigned cfg = 0; cfg < 2; cfg++) {
        if (cfg && k) break;
        buf o = {0};
        put8(&o, fmt_byte(s));
        put8(&o, cfg); /* 1: strict reference receiver */
        for (size_t j = start; j < s->n && j < start + CHUNK; j++) {
          put16(&o, (unsigned)s->f[j].len);
          put(&o, s->f[j].b, s->f[j].len);
        }
        write_seed("fuzz_decode", "stream", &o);
        free(o.b);
      }
    }
  }
}

static void seeds_envelope(void) {
  static uint8_t dg[ALEC_ENVELOPE_MAX_DATAGRAM];
  alec_envelope_writer w;
  for (size_t i = 0; i < n_streams; i++) {
    const stream *s = &streams[i];
    if (alec_envelope_writer_init(&w, dg, 1400, 0) < 0) continue;
    uint64_t id = s->emitter ? s->emitter : i;
    for (size_t j = 0; j < s->n && j < 16; j++)
      (void)alec_envelope_add(&w, id, s->fmt, s->channels, s->f[j].b, s->f[j].len);
    if (w.count == 0) continue;
    buf o = {dg, w.len, w.len};
    write_seed("fuzz_envelope", "stream", &o);
    /* The same frames as a run (flag R), and that run with flag A and a
     * trailer whose tag fuzz_envelope does not check. */
    if (alec_envelope_writer_init(&w, dg, 1400, ALEC_ENVELOPE_FLAG_RUN) < 0) continue;
    for (size_t j = 0; j < s->n && j < 16; j++)
      (void)alec_envelope_add(&w, id, s->fmt, s->channels, s->f[j].b, s->f[j].len);
    if (w.count == 0) continue;
    buf run = {dg, w.len, w.len};
    write_seed("fuzz_envelope", "run", &run);
    if (i % 4 == 0) {
      dg[0] |= ALEC_ENVELOPE_FLAG_AUTH;
      memset(dg + w.len, 0, ALEC_AUTH_TRAILER_SIZE);
      dg[w.len + 1] = 1; /* key id 1 */
      buf sr = {dg, w.len + ALEC_AUTH_TRAILER_SIZE, w.len + ALEC_AUTH_TRAILER_SIZE};
      write_seed("fuzz_envelope", "signed-run", &sr);
    }
  }
  /* Batches across emitters and families, with long emitter ids. */
  for (size_t base = 0; base < n_streams; base += 8) {
    if (alec_envelope_writer_init(&w, dg, sizeof dg, 0) < 0) break;
    for (size_t i = base; i < base + 8 && i < n_streams; i++) {
      const stream *s = &streams[i];
      for (size_t j = 0; j < s->n && j < 3; j++)
        (void)alec_envelope_add(&w, (uint64_t)i << (7 * (i % 9)), s->fmt, s->channels,
                                s->f[j].b, s->f[j].len);
    }
    if (w.count == 0) continue;
    buf o = {dg, w.len, w.len};
    write_seed("fuzz_envelope", "batch", &o);
  }
}

/* Key files for fuzz_auth; the first key of each also signs envelope seeds. */
static const char *const key_files[] = {
    "1: 000102030405060708090a0b0c0d0e0f\n",
    ("# keys of the test fleet\n"
     "7: base64:AAECAwQFBgcICQoLDA0ODxAREhM= 5-9 12 0x10-0x20\n"
     "0x2: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff *\n"),
    ("3: hex:0123456789abcdef0123456789abcdef 1 2 3\r\n"
     "  4 :\t0123456789abcdef0123456789abcdef 100-200 150-300 # overlapping\n"),
};

static void seeds_auth(void) {
  static uint8_t dg[ALEC_ENVELOPE_MAX_DATAGRAM + ALEC_AUTH_TRAILER_SIZE];
  static const uint8_t key1[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  alec_envelope_writer w;
  for (size_t i = 0; i < n_streams && i < 40; i++) {
    const stream *s = &streams[i];
    if (alec_envelope_writer_init(&w, dg, 1400, 0) < 0) continue;
    if (i % 2 && alec_envelope_writer_init(&w, dg, 1400, ALEC_ENVELOPE_FLAG_RUN) < 0) continue;
    for (size_t j = 0; j < s->n && j < 4; j++)
      (void)alec_envelope_add(&w, 5 + i, s->fmt, s->channels, s->f[j].b, s->f[j].len);
    if (w.count == 0) continue;
    size_t len = w.len;
    for (int signed_ = 0; signed_ < 2; signed_++) {
      if (signed_) {
        long sl = alec_auth_sign(dg, len, sizeof dg, 1, key1, sizeof key1, 1000 + i);
        if (sl < 0) break; /* e.g. a run the signer refuses */
        len = (size_t)sl;
        buf e = {dg, len, len};
        write_seed("fuzz_envelope", "signed", &e);
      }
      const char *text = key_files[i % 3];
      buf o = {0};
      put8(&o, (unsigned)i * 2);
      put16(&o, (unsigned)strlen(text));
      put(&o, text, strlen(text));
      put(&o, dg, len);
      write_seed("fuzz_auth", signed_ ? "signed" : "plain", &o);
      free(o.b);
    }
  }
}

static void fleet_frame(buf *o, const stream *s, size_t j, unsigned id, unsigned dt) {
  put8(o, (unsigned)(s->fmt - 1) << 3); /* op 0: a frame, full output */
  put8(o, id & 0x7F);
  put8(o, s->channels);
  put8(o, dt);
  put16(o, (unsigned)s->f[j].len);
  put(o, s->f[j].b, s->f[j].len);
}

static void fleet_tail(buf *o) {
  put8(o, 6);      /* queries */
  put8(o, 7);      /* sync patterns */
  put8(o, 2);
  put8(o, 7);      /* preload round trip */
  put8(o, 4);
  put8(o, 7);      /* time jump forward, stale removal */
  put8(o, 3);
  put16(o, 100);
  put8(o, 7);
  put8(o, 0);
}

static void seeds_fleet(void) {
  /* Every stream sent by three emitters (peers agree), evaluations between. */
  for (size_t i = 0; i < n_streams; i++) {
    const stream *s = &streams[i];
    if (s->n == 0) continue;
    buf o = {0};
    put8(&o, 0x07 | 0x08); /* 10 emitters, enter after 2 */
    put8(&o, 0x01);        /* drift warm-up 2 */
    put8(&o, 0x02 | 0x10); /* 16 channels, learn patterns at 2 */
    for (size_t j = 0; j < s->n && j < 48; j++) {
      for (unsigned e = 0; e < 3; e++) fleet_frame(&o, s, j, e, e == 0 ? 2 : 0);
      if (j % 4 == 3) {
        put8(&o, 4);
        put8(&o, 0);
      }
    }
    fleet_tail(&o);
    write_seed("fuzz_fleet", "stream", &o);
    free(o.b);
  }
  /* Streams of one scenario with several emitters (s4): interleaved. */
  for (size_t i = 0; i < n_streams; i++) {
    if (streams[i].emitter != 0 || streams[i].n == 0) continue;
    size_t members[16], m = 0;
    for (size_t k = i; k < n_streams && m < 16; k++)
      if (strcmp(streams[k].key, streams[i].key) == 0 && streams[k].fmt == streams[i].fmt &&
          streams[k].emitter < 16)
        members[m++] = k;
    if (m < 3) continue;
    buf o = {0};
    put8(&o, 0x07);
    put8(&o, 0x00);
    put8(&o, 0x02);
    for (size_t j = 0; j < 60; j++) {
      for (size_t k = 0; k < m; k++)
        if (j < streams[members[k]].n)
          fleet_frame(&o, &streams[members[k]], j, (unsigned)streams[members[k]].emitter,
                      k == 0 ? 2 : 0);
      put8(&o, 4);
      put8(&o, 0);
    }
    fleet_tail(&o);
    write_seed("fuzz_fleet", "fleet", &o);
    free(o.b);
  }
}

/* kind: fuzz_state.c's loader; sel: its flags (see there). */
static void state_seed(unsigned kind, unsigned sel, const uint8_t *b, long len) {
  if (len <= 0) return;
  for (unsigned extra = 0; extra < 4; extra++) {
    static const unsigned variants[4] = {0, 0x04, 0x04 | 0x08, 0x18};
    buf o = {0};
    put8(&o, kind);
    put8(&o, sel | variants[extra]);
    put8(&o, 0);
    put(&o, b, (size_t)len);
    write_seed("fuzz_state", "blob", &o);
    free(o.b);
  }
}

static void put32(buf *o, uint32_t v) {
  put16(o, v >> 16);
  put16(o, v & 0xffff);
}

/* The receiver's state file (src/receiver/state.h) of format 3: receiver
 * "rx-a", one key, a spool (spool.h) of two uplinks, then the fleet state;
 * through alec_ps_read_rx (sel bit 5), expecting "rx-a" (bit 6) or not. */
static void rx_state_seed(const uint8_t *fleet_state, size_t len) {
  buf o = {0};
  put(&o, "ALRS", 4);
  put32(&o, 3);
  put32(&o, 0);
  put8(&o, 4);
  put(&o, "rx-a", 4);
  put32(&o, 1);
  put16(&o, 7);
  put64(&o, 1234);
  buf sp = {0};
  put8(&sp, 1);
  put32(&sp, 2);
  for (unsigned k = 0; k < 2; k++) {
    put8(&sp, 2);            /* ALEC_RX_PAYLOAD */
    put8(&sp, k ? 0x1f : 1); /* flags */
    put8(&sp, ALEC_FORMAT_FIXED);
    put8(&sp, 5);
    put16(&sp, 85);
    put32(&sp, 100 + k);
    put64(&sp, UINT64_C(0x24e124126b316d47) + k);
    put64(&sp, UINT64_C(0x41d9500000000000)); /* 1.7e9-ish */
    put64(&sp, 0);
    put32(&sp, 0);
    put32(&sp, 0);
    put16(&sp, k);           /* skip */
    put8(&sp, 5);
    put(&sp, k ? "net-b" : "net-a", 5);
    put8(&sp, 1);
    put(&sp, "p", 1);
    put8(&sp, 6);
    put(&sp, "dev-00", 6);
    put8(&sp, 0);
    put32(&sp, 3);
    put(&sp, "\xa1\x00\x01", 3);
  }
  put32(&o, (uint32_t)sp.len);
  put(&o, sp.b, sp.len);
  put32(&o, alec_preload_crc32(0, o.b, o.len));
  put(&o, fleet_state, len);
  state_seed(4, 0x20, o.b, (long)o.len);
  state_seed(4, 0x60, o.b, (long)o.len);
  free(sp.b);
  free(o.b);
}

static void seeds_state(void) {
  static uint8_t blob[1 << 20];
  alec_value out[256];
  /* Decoders (and their contexts) after a stream of each family. */
  int done[5] = {0};
  for (size_t i = 0; i < n_streams; i++) {
    const stream *s = &streams[i];
    if (done[s->fmt] >= 2 || s->n < 8) continue;
    done[s->fmt]++;
    for (unsigned strict = 0; strict < 2; strict++) {
      alec_decoder_config dc;
      alec_decoder_config_init(&dc);
      if (strict) dc.flags = ALEC_DECODER_STRICT_REFERENCE;
      alec_decoder *dec = NULL;
      if (alec_decoder_new(&dec, &dc) < 0) continue;
      for (size_t j = 0; j < s->n; j++)
        (void)alec_decoder_decode(dec, s->fmt, s->channels, s->f[j].b, s->f[j].len, out, 256,
                                  NULL);
      state_seed(1, strict ? 0x40 : 0, blob, alec_decoder_save(dec, blob, sizeof blob));
      state_seed(0, strict ? 0x80 : 0, blob,
                 alec_context_save(alec_decoder_context(dec), blob, sizeof blob));
      alec_decoder_free(dec);
    }
  }
  /* Encoders in both modes. */
  uint8_t fb[ALEC_FRAME_MAX];
  for (int ref = 0; ref < 2; ref++) {
    alec_encoder_config ec;
    alec_encoder_config_init(&ec);
    ec.reference_compat = ref;
    alec_encoder *enc = NULL;
    if (alec_encoder_new(&enc, &ec) < 0) continue;
    for (unsigned i = 0; i < 40; i++) {
      double v[3] = {synth(i, 0), synth(i, 1), synth(i, 2)};
      (void)alec_encode_multi(enc, v, 3, 1000u * i, fb, sizeof fb);
      (void)alec_encode_single(enc, 7, v[0], 1000u * i, fb, sizeof fb, NULL);
    }
    state_seed(2, ref ? 0x20 : 0, blob, alec_encoder_save(enc, blob, sizeof blob));
    alec_encoder_free(enc);
  }
  /* Preload files: empty and with a dictionary. */
  alec_context *ctx = NULL;
  if (alec_context_new(&ctx, NULL) == 0) {
    state_seed(3, 0, blob, alec_preload_write(ctx, "hvac", 1700000000, 0, blob, sizeof blob));
    static const uint8_t pats[4][3] = {{1, 2, 3}, {0x41, 0xB0}, {9}, {0xFF, 0, 0xFF}};
    static const size_t plen[4] = {3, 2, 1, 3};
    for (int k = 0; k < 4; k++) {
      uint32_t code;
      double v = k * 1.5;
      (void)alec_context_register_pattern(ctx, pats[k], plen[k], &v, &code);
    }
    alec_context_set_version(ctx, 77);
    state_seed(3, 0, blob,
               alec_preload_write(ctx, "a-sensor-type-name-of-32-bytes!!", 1, 12345, blob,
                                  sizeof blob));
    state_seed(0, 0, blob, alec_context_save(ctx, blob, sizeof blob));
    alec_context_free(ctx);
  }
  /* Fleet states: a few emitters of each family, with groups. */
  alec_fleet *fleet = NULL;
  if (alec_fleet_new(&fleet, NULL) == 0) {
    uint64_t id = 1;
    for (size_t i = 0; i < n_streams && id <= 6; i++) {
      const stream *s = &streams[i];
      if (s->n < 4) continue;
      if (id % 2) (void)alec_fleet_set_emitter_group(fleet, id, "grp");
      for (size_t j = 0; j < s->n && j < 20; j++)
        (void)alec_fleet_process(fleet, id, s->fmt, s->channels, s->f[j].b, s->f[j].len,
                                 1000.0 + (double)j, NULL, 0, NULL);
      id++;
      uint8_t *st = NULL;
      size_t st_len = 0;
      if (alec_fleet_state_save(fleet, 2000.0, &st, &st_len, NULL) == 0 && st_len <= sizeof blob) {
        state_seed(4, 0, st, (long)st_len);
        if (id == 3) rx_state_seed(st, st_len);
      }
      free(st);
    }
    alec_fleet_free(fleet);
  }
}

/* ---- config trees (format: fuzz_config.c) --------------------------------- */

static unsigned idx_of(const char *const *tab, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(tab[i], s) == 0) return (unsigned)i;
  fprintf(stderr, "mkseeds: \"%s\" is not in fuzz_config_dict.h\n", s);
  exit(1);
}

static void item(buf *o, const char *key, unsigned nvals, unsigned nchildren) {
  put8(o, idx_of(keys, NKEYS, key));
  put8(o, nvals | nchildren << 2);
}
static void vstr(buf *o, const char *s) { put8(o, 0 | idx_of(strs, NSTRS, s) << 2); }
static void vfree(buf *o, const char *s) {
  put8(o, 1);
  put16(o, (unsigned)strlen(s));
  put(o, s, strlen(s));
}
static void vint(buf *o, int v) {
  put8(o, 2);
  put8(o, (unsigned)v);
}
static void vnum(buf *o, double d) {
  for (size_t i = 0; i < NNUMS; i++)
    if (nums[i] == d) {
      put8(o, 2 | 8);
      put8(o, (unsigned)i);
      return;
    }
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  put8(o, 2 | 4);
  put64(o, bits);
}

static void seeds_config(void) {
  buf o = {0};
  /* A complete configuration. */
  put8(&o, 0);
  put8(&o, 9);
  item(&o, "Listen", 2, 0), vstr(&o, "127.0.0.1"), vstr(&o, "25830");
  item(&o, "MaxEmitters", 1, 0), vint(&o, 100);
  item(&o, "EmitterTimeout", 1, 0), vnum(&o, 86400);
  item(&o, "UnknownEmitters", 1, 0), vstr(&o, "accept");
  item(&o, "NotifyPriority", 1, 0), vstr(&o, "P1");
  item(&o, "Fleet", 0, 6);
  item(&o, "Threshold", 1, 0), vnum(&o, 3);
  item(&o, "ExitThreshold", 1, 0), vnum(&o, 2);
  item(&o, "FailureThreshold", 1, 0), vnum(&o, 64);
  item(&o, "EnterCount", 1, 0), vnum(&o, 3);
  item(&o, "MinPeers", 1, 0), vnum(&o, 3);
  item(&o, "MADFloor", 1, 0), vnum(&o, 0.5);
  item(&o, "Profile", 1, 4), vstr(&o, "p");
  item(&o, "Format", 1, 0), vstr(&o, "fixed");
  item(&o, "Channels", 1, 0), vnum(&o, 2);
  item(&o, "Channel", 3, 0), vint(&o, 0), vstr(&o, "temperature"), vfree(&o, "in");
  item(&o, "Channel", 1, 0), vint(&o, 1);
  item(&o, "Emitter", 1, 4), vstr(&o, "0x10");
  item(&o, "Profile", 1, 0), vstr(&o, "p");
  item(&o, "Host", 1, 0), vstr(&o, "host1");
  item(&o, "Group", 1, 0), vstr(&o, "grp");
  item(&o, "Channel", 2, 0), vint(&o, 1), vstr(&o, "gauge");
  item(&o, "Emitter", 1, 4), vint(&o, 42);
  item(&o, "Format", 1, 0), vstr(&o, "multi");
  item(&o, "Source", 2, 0), vstr(&o, "127.0.0.1"), vstr(&o, "25830");
  item(&o, "Scale", 1, 0), vnum(&o, 1e6);
  item(&o, "Channel", 2, 0), vnum(&o, 255), vstr(&o, "counter");
  write_seed("fuzz_config", "full", &o);
  o.len = 0;

  /* Two blocks, sources with and without a port, IPv6. */
  put8(&o, 1);
  put8(&o, 2);
  item(&o, "Emitter", 1, 3), vstr(&o, "42");
  item(&o, "Format", 1, 0), vstr(&o, "single");
  item(&o, "Source", 1, 0), vstr(&o, "::1");
  item(&o, "Group", 1, 0), vstr(&o, "grp");
  item(&o, "Emitter", 1, 3), vstr(&o, "0xFFFFFFFFFFFFFFFF");
  item(&o, "Format", 1, 0), vstr(&o, "fixed");
  item(&o, "Channels", 1, 0), vnum(&o, 64);
  item(&o, "Source", 2, 0), vstr(&o, "::ffff:127.0.0.1"), vnum(&o, 65535);
  put8(&o, 2);
  item(&o, "Listen", 1, 0), vstr(&o, "::1");
  item(&o, "QueueLength", 1, 0), vnum(&o, 16777216.0);
  for (int i = 0; i < 10; i++) put8(&o, 0x5A);
  write_seed("fuzz_config", "blocks", &o);
  o.len = 0;

  /* Errors the parser must name. */
  put8(&o, 8);
  put8(&o, 3);
  item(&o, "Profile", 1, 2), vstr(&o, "p");
  item(&o, "Format", 1, 0), vstr(&o, "single-xxh32");
  item(&o, "Channels", 1, 0), vnum(&o, 65);
  item(&o, "Emitter", 1, 1), vnum(&o, 9007199254740993.0);
  item(&o, "Profile", 1, 0), vstr(&o, "a/b");
  put8(&o, FREE_KEY), put8(&o, 4), put(&o, "Nope", 4), put8(&o, 1), vstr(&o, "-1");
  write_seed("fuzz_config", "errors", &o);
  o.len = 0;

  /* Signed envelopes, state file, resync, rate limit, dashboard. */
  put8(&o, 0);
  put8(&o, 11);
  item(&o, "SecurityLevel", 1, 0), vstr(&o, "Sign");
  item(&o, "AuthFile", 1, 0), vstr(&o, "keys.txt");
  item(&o, "Listen", 2, 1), vstr(&o, "::"), vstr(&o, "25830");
  item(&o, "SecurityLevel", 1, 0), vstr(&o, "None");
  item(&o, "RateLimit", 2, 0), vnum(&o, 1e6), vnum(&o, 65536);
  item(&o, "StateFile", 1, 0), vstr(&o, "state.alfs");
  item(&o, "StateInterval", 1, 0), vnum(&o, 86400);
  item(&o, "ResyncRequests", 1, 0), put8(&o, 3 | 4);
  item(&o, "ResyncInterval", 1, 0), vnum(&o, 0.5);
  item(&o, "Dashboard", 0, 3);
  item(&o, "Listen", 2, 0), vstr(&o, "127.0.0.1"), vstr(&o, "25831");
  item(&o, "History", 1, 0), vnum(&o, 65535);
  item(&o, "HistoryInterval", 1, 0), vnum(&o, 0.5);
  item(&o, "Emitter", 1, 2), vint(&o, 9);
  item(&o, "SecurityLevel", 1, 0), vstr(&o, "Sign");
  item(&o, "Format", 1, 0), vstr(&o, "multi");
  item(&o, "Emitter", 1, 1), vint(&o, 10);
  item(&o, "SecurityLevel", 1, 0), vstr(&o, "Encrypt");
  for (int i = 0; i < 10; i++) put8(&o, 0x11);
  write_seed("fuzz_config", "security", &o);
  free(o.b);
}

/* ---- fuzz_tlv: capacity byte, then a Milesight payload ------------------- */

static void tlv_seed(const char *tag, uint8_t cap, const char *hex) {
  buf o = {0};
  put8(&o, cap);
  for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
    unsigned v;
    if (sscanf(hex + i, "%2x", &v) != 1) break;
    put8(&o, v);
  }
  write_seed("fuzz_tlv", tag, &o);
  free(o.b);
}

static void seeds_tlv(void) {
  /* The published EM500-CO2 example, and what the other models send. */
  tlv_seed("em500-co2", 8, "01756403671901046873057D670406736827");
  tlv_seed("em500-co2-cap2", 2, "01756403671901046873057D670406736827");
  tlv_seed("em300-th", 8, "017564036719010468");
  tlv_seed("am103l", 8, "017564036719010468077D6704");
  tlv_seed("negative", 4, "03679CFF");
  tlv_seed("alarm", 4, "83D71901050001");
  tlv_seed("history", 4, "20CE6A2B5567670473276801C8");
  tlv_seed("alec-marker", 4, "A1000102");
  tlv_seed("truncated", 4, "017564036719");
}

/* ---- fuzz_pcapin: link index, bytes left out, port, packet ----------------- */

/* A UDP datagram to 25830 (a small envelope-like payload) behind each link
 * header the reader knows, IPv4 and IPv6; the link index is fuzz_pcapin's. */
static void seeds_pcapin(void) {
  static const struct {
    const char *name;
    uint8_t hdr[20];
    size_t len, proto_at; /* where the EtherType / AF goes, SIZE_MAX: none */
    int af;               /* 1: an AF value instead of an EtherType */
  } links[] = {
      {"en10mb", {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}, 14, 12, 0},
      {"sll", {0, 0, 3, 4, 0, 6}, 16, 14, 0},
      {"sll2", {0}, 20, 0, 0},
      {"raw", {0}, 0, SIZE_MAX, 0},
      {"null", {0}, 4, 0, 1},
      {"loop", {0}, 4, 0, 2},
  };
  static const uint8_t payload[] = {0xA1, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
  for (unsigned l = 0; l < sizeof links / sizeof links[0]; l++)
    for (int v6 = 0; v6 < 2; v6++) {
      buf o = {0};
      put8(&o, l);
      put8(&o, 0);
      put16(&o, 25830);
      uint8_t h[20];
      memcpy(h, links[l].hdr, sizeof h);
      size_t at = links[l].proto_at;
      if (links[l].af == 1) h[0] = v6 ? 10 : 2; /* host order, little endian */
      else if (links[l].af == 2) h[3] = v6 ? 24 : 2;
      else if (at != SIZE_MAX) {
        h[at] = v6 ? 0x86 : 0x08;
        h[at + 1] = v6 ? 0xDD : 0x00;
      }
      put(&o, h, links[l].len);
      size_t ulen = 8 + sizeof payload;
      if (v6) {
        uint8_t ip[40] = {0x60};
        ip[4] = 0;
        ip[5] = (uint8_t)ulen;
        ip[6] = 17;
        ip[7] = 64;
        ip[23] = 1;
        ip[39] = 1;
        put(&o, ip, sizeof ip);
      } else {
        uint8_t ip[20] = {0x45, 0, 0, (uint8_t)(20 + ulen), 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 10, 127, 0, 0, 1};
        put(&o, ip, sizeof ip);
      }
      put16(&o, 40000);
      put16(&o, 25830);
      put16(&o, (unsigned)ulen);
      put16(&o, 0);
      put(&o, payload, sizeof payload);
      char tag[32];
      snprintf(tag, sizeof tag, "%s-%s", links[l].name, v6 ? "ipv6" : "ipv4");
      write_seed("fuzz_pcapin", tag, &o);
      free(o.b);
    }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mkseeds OUTDIR FIXTURES_TSV|- [VECTORS_DIR]\n");
    return 2;
  }
  outdir = argv[1];
  if (mkdir(outdir, 0777) != 0 && errno != EEXIST) die(outdir);
  if (strcmp(argv[2], "-") != 0) read_tsv(argv[2]);
  if (argc > 3) read_vectors(argv[3]);
  synthetic_streams();
  size_t frames = 0;
  for (size_t i = 0; i < n_streams; i++) frames += streams[i].n;
  seeds_decode();
  seeds_envelope();
  seeds_fleet();
  seeds_state();
  seeds_config();
  seeds_auth();
  seeds_tlv();
  seeds_pcapin();
  printf("mkseeds: %zu streams, %zu frames -> decode %u, envelope %u, fleet %u, state %u, "
         "config %u, auth %u, tlv %u, pcapin %u seeds\n",
         n_streams, frames, seed_count("fuzz_decode"), seed_count("fuzz_envelope"),
         seed_count("fuzz_fleet"), seed_count("fuzz_state"), seed_count("fuzz_config"),
         seed_count("fuzz_auth"), seed_count("fuzz_tlv"), seed_count("fuzz_pcapin"));
  for (size_t i = 0; i < n_streams; i++) {
    for (size_t j = 0; j < streams[i].n; j++) free(streams[i].f[j].b);
    free(streams[i].f);
  }
  return 0;
}
