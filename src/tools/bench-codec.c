/* SPDX-License-Identifier: MIT */
/* bench-codec: CPU time of libalec's decoder per decoded value and per
 * frame on any stream in the golden vectors' format (JSON lines with
 * frame_hex), and of its fixed-frame encoder, beside
 *   - "floor": a minimal decode kernel written here for this comparison:
 *     the same state update and arithmetic order, the same gap/reset policy,
 *     but no replay window, no per-value flags, no Welford statistics, no
 *     hostile-input bookkeeping beyond bounds checks. It shows how far the
 *     library's hot path is from what this CPU can do at all;
 *   - "ref": the Rust reference, when $ALEC_REF_HARNESS names the harness
 *     that contrib/bench-reference.sh builds.
 * Every contender decodes the same frames, each repetition from a fresh
 * decoder, and must produce the same values bit for bit (an FNV-1a hash of
 * the values' bit patterns) before it is timed. The contenders' samples are
 * interleaved (libalec, floor, ref; the order rotates each repetition) so a
 * busy neighbour disturbs all of them alike; medians and ranges are
 * reported. Asserts nothing about speed. */

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alec/alec.h"
#include "toolutil.h"

#define REPS_DEFAULT 11
#define REPS_MAX 101
#define SAMPLE_S 0.02
#define MAX_DATASET_ROWS 1000000
#define MAX_STREAMS 64

typedef enum { FAM_SINGLE, FAM_MULTI, FAM_FIXED } family;
static const char *const family_names[] = {"single", "multi", "fixed"};

static unsigned g_reps = REPS_DEFAULT;

/* --------------------------------------------------------------- frames */

typedef struct frames {
  uint8_t *buf;
  size_t cap, used;
  size_t *len;
  size_t n, ncap;
} frames;

static int frames_reserve(frames *f, size_t more_frames) {
  if (f->cap - f->used < ALEC_FRAME_MAX) {
    size_t nc = f->cap ? f->cap * 2 : 1u << 20;
    uint8_t *nb = realloc(f->buf, nc);
    if (!nb)
      return ALEC_ENOMEM;
    f->buf = nb;
    f->cap = nc;
  }
  if (f->ncap - f->n < more_frames) {
    size_t nc = f->ncap ? f->ncap * 2 : 4096;
    while (nc - f->n < more_frames)
      nc *= 2;
    size_t *nl = realloc(f->len, nc * sizeof *nl);
    if (!nl)
      return ALEC_ENOMEM;
    f->len = nl;
    f->ncap = nc;
  }
  return 0;
}

static void frames_free(frames *f) {
  free(f->buf);
  free(f->len);
  memset(f, 0, sizeof *f);
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    h ^= (v >> (8 * i)) & 0xFFu;
    h *= 0x100000001b3ull;
  }
  return h;
}
static uint64_t fnv_bytes(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t dbits(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

/* --------------------------------------------------------------- libalec */

typedef struct stream {
  char name[96];
  family fam;
  unsigned channels; /* fixed only */
  frames f;
} stream;

static alec_format fmt_of(family fam) {
  return fam == FAM_SINGLE ? ALEC_FORMAT_SINGLE
         : fam == FAM_MULTI ? ALEC_FORMAT_MULTI
                            : ALEC_FORMAT_FIXED;
}

/* One run over the stream with dec (fresh): values decoded (frames that do
 * not decode are counted in *errors and skipped, as the reference harness
 * does). */
static long lib_run(alec_decoder *dec, const stream *s, uint64_t *hash, long *errors) {
  alec_value vals[255];
  alec_format fmt = fmt_of(s->fam);
  long total = 0, err = 0;
  uint64_t h = FNV_INIT;
  size_t off = 0;
  for (size_t i = 0; i < s->f.n; i++) {
    int rc = alec_decoder_decode(dec, fmt, s->channels, s->f.buf + off, s->f.len[i], vals, 255,
                                 NULL);
    off += s->f.len[i];
    if (rc < 0) {
      err++;
      continue;
    }
    total += rc;
    if (hash)
      for (int k = 0; k < rc; k++)
        h = fnv_u64(h, dbits(vals[k].value));
  }
  if (hash)
    *hash = h;
  if (errors)
    *errors = err;
  return total;
}

static long lib_decode(const stream *s, uint64_t *hash, long *errors) {
  alec_decoder *dec;
  if (alec_decoder_new(&dec, NULL) < 0)
    return -1;
  long n = lib_run(dec, s, hash, errors);
  alec_decoder_free(dec);
  return n;
}

/* CPU seconds of `iters` runs, each with a fresh decoder. The decoders are
 * created and freed outside the timed part, in batches, so that a stream of
 * a few frames measures decoding, not malloc (the reference harness does
 * the same). */
#define BATCH 512
static double lib_time(const stream *s, unsigned iters) {
  static alec_decoder *decs[BATCH];
  double cpu = 0.0;
  while (iters) {
    unsigned b = iters < BATCH ? iters : BATCH;
    for (unsigned i = 0; i < b; i++)
      if (alec_decoder_new(&decs[i], NULL) < 0)
        return NAN;
    double t0 = cpu_s();
    for (unsigned i = 0; i < b; i++)
      lib_run(decs[i], s, NULL, NULL);
    cpu += cpu_s() - t0;
    for (unsigned i = 0; i < b; i++)
      alec_decoder_free(decs[i]);
    iters -= b;
  }
  return cpu;
}

/* ----------------------------------------------------------------- floor */

/* Reference defaults (docs/PROTOCOL.md): scale 100, EMA alpha 0.3; the
 * prediction is the last value until the third observation, the EMA after.
 * Sources are indexed directly by id (golden streams use ids < 256). */
#define FLOOR_IDS 256
typedef struct fl_src {
  double last, ema;
  uint32_t count;
} fl_src;

typedef struct floor_state {
  fl_src s[FLOOR_IDS];
  unsigned hi; /* ids below this may be in use: what the next run clears */
  int has_seq;
  uint16_t seq, ver;
} floor_state;

static const double FL_ALPHA = 0.3;
static const double FL_SCALE = 100.0;

static inline double fl_pred(const fl_src *e) { return e->count < 3 ? e->last : e->ema; }

static inline void fl_observe(fl_src *e, double v) {
  e->count++;
  e->ema = e->count == 1 ? v : FL_ALPHA * v + (1.0 - FL_ALPHA) * e->ema;
  e->last = v;
}

static inline double fl_f32(const uint8_t *p) {
  uint32_t b = alec_rd_be32(p);
  float f;
  memcpy(&f, &b, sizeof f);
  return (double)f;
}

/* One legacy value; 0 bytes used or -1 on anything the floor does not do. */
static inline int fl_value(const fl_src *e, uint8_t enc, const uint8_t *p, size_t rem,
                           double *v) {
  switch (enc) {
  case ALEC_ENC_RAW64: {
    if (rem < 8)
      return -1;
    uint64_t b = alec_rd_be64(p);
    memcpy(v, &b, sizeof *v);
    return 8;
  }
  case ALEC_ENC_RAW32:
    if (rem < 4)
      return -1;
    *v = fl_f32(p);
    return 4;
  case ALEC_ENC_DELTA8:
    if (rem < 1 || !e->count)
      return -1;
    *v = fl_pred(e) + (double)(int8_t)p[0] / FL_SCALE;
    return 1;
  case ALEC_ENC_DELTA16:
    if (rem < 2 || !e->count)
      return -1;
    *v = fl_pred(e) + (double)(int16_t)alec_rd_be16(p) / FL_SCALE;
    return 2;
  case ALEC_ENC_DELTA32:
    if (rem < 4 || !e->count)
      return -1;
    *v = fl_pred(e) + (double)(int32_t)alec_rd_be32(p) / FL_SCALE;
    return 4;
  case ALEC_ENC_REPEATED:
    if (!e->count)
      return -1;
    *v = e->last;
    return 0;
  case ALEC_ENC_INTERPOLATED:
    if (!e->count)
      return -1;
    *v = fl_pred(e);
    return 0;
  default:
    return -1;
  }
}

static int fl_single(floor_state *st, const uint8_t *f, size_t len, double *out) {
  if (len < ALEC_HEADER_SIZE + 2)
    return -1;
  const uint8_t *p = f + ALEC_HEADER_SIZE, *end = f + len;
  uint32_t id = *p & 0x7Fu;
  if (*p++ & 0x80u)
    return -1; /* ids >= 128 are not used by the golden streams */
  if (id >= FLOOR_IDS)
    return -1;
  uint8_t enc = *p++;
  fl_src *e = &st->s[id];
  int n = fl_value(e, enc, p, (size_t)(end - p), &out[0]);
  if (n < 0)
    return -1;
  if (id >= st->hi)
    st->hi = id + 1;
  fl_observe(e, out[0]);
  return 1;
}

static int fl_multi(floor_state *st, const uint8_t *f, size_t len, double *out) {
  if (len < ALEC_HEADER_SIZE + 3)
    return -1;
  const uint8_t *p = f + ALEC_HEADER_SIZE, *end = f + len;
  while (p < end && (*p & 0x80u))
    p++;
  p++;
  if (end - p < 2 || p[0] != ALEC_ENC_MULTI)
    return -1;
  unsigned count = p[1];
  p += 2;
  uint8_t ids[255];
  for (unsigned i = 0; i < count; i++) {
    if (end - p < 2)
      return -1;
    ids[i] = p[0];
    int n = fl_value(&st->s[p[0]], p[1], p + 2, (size_t)(end - p - 2), &out[i]);
    if (n < 0)
      return -1;
    p += 2 + n;
  }
  for (unsigned i = 0; i < count; i++) {
    if (ids[i] >= st->hi)
      st->hi = ids[i] + 1u;
    fl_observe(&st->s[ids[i]], out[i]);
  }
  return (int)count;
}

static int fl_fixed(floor_state *st, unsigned ch, const uint8_t *f, size_t len, double *out) {
  size_t bm = alec_fixed_bitmap_size(ch);
  if (ch == 0 || ch > ALEC_FIXED_MAX_CHANNELS || len < ALEC_FIXED_HEADER_SIZE + bm ||
      (f[0] != ALEC_FIXED_DATA && f[0] != ALEC_FIXED_KEYFRAME))
    return -1;
  int kf = f[0] == ALEC_FIXED_KEYFRAME;
  uint16_t seq = alec_rd_be16(f + 1), ver = alec_rd_be16(f + 3);
  int reset = 0;
  if (st->has_seq && !kf) {
    uint16_t d = (uint16_t)(seq - st->seq);
    reset = d > 1 || (uint16_t)(ver - st->ver) > 256u;
  }
  const uint8_t *bmp = f + ALEC_FIXED_HEADER_SIZE, *p = bmp + bm, *end = f + len;
  for (unsigned i = 0; i < ch; i++) {
    fl_src *e = &st->s[i + 1];
    switch ((bmp[i >> 2] >> (2 * (i & 3))) & 3u) {
    case ALEC_FIX_REPEATED:
      if (!e->count)
        return -1;
      out[i] = e->last;
      break;
    case ALEC_FIX_DELTA8:
      if (end - p < 1 || !e->count)
        return -1;
      out[i] = fl_pred(e) + (double)(int8_t)p[0] / FL_SCALE;
      p += 1;
      break;
    case ALEC_FIX_DELTA16:
      if (end - p < 2 || !e->count)
        return -1;
      out[i] = fl_pred(e) + (double)(int16_t)alec_rd_be16(p) / FL_SCALE;
      p += 2;
      break;
    default:
      if (end - p < 4)
        return -1;
      out[i] = fl_f32(p);
      p += 4;
      break;
    }
  }
  st->has_seq = 1;
  st->seq = seq;
  st->ver = ver;
  if (reset)
    for (unsigned i = 0; i <= ch; i++)
      st->s[i].count = 0;
  if (ch >= st->hi)
    st->hi = ch + 1;
  for (unsigned i = 0; i < ch; i++)
    fl_observe(&st->s[i + 1], out[i]);
  return (int)ch;
}

static long floor_decode(const stream *s, uint64_t *hash, long *errors) {
  static floor_state st;
  /* A fresh state, as each run of the others starts from a fresh decoder;
   * clearing only the ids the last run used keeps short streams fair. */
  memset(st.s, 0, st.hi * sizeof st.s[0]);
  st.hi = 0;
  st.has_seq = 0;
  double out[255];
  long total = 0, err = 0;
  uint64_t h = FNV_INIT;
  size_t off = 0;
  for (size_t i = 0; i < s->f.n; i++) {
    const uint8_t *fr = s->f.buf + off;
    size_t len = s->f.len[i];
    off += len;
    int n = s->fam == FAM_SINGLE  ? fl_single(&st, fr, len, out)
            : s->fam == FAM_MULTI ? fl_multi(&st, fr, len, out)
                                  : fl_fixed(&st, s->channels, fr, len, out);
    if (n < 0) {
      err++;
      continue;
    }
    total += n;
    if (hash)
      for (int k = 0; k < n; k++)
        h = fnv_u64(h, dbits(out[k]));
  }
  if (hash)
    *hash = h;
  if (errors)
    *errors = err;
  return total;
}

/* ------------------------------------------------------------- reference */

typedef struct harness {
  pid_t pid;
  FILE *to, *from;
} harness;

static harness g_ref = {-1, NULL, NULL};
static char g_tmp[4096];

static int ref_start(void) {
  const char *path = getenv("ALEC_REF_HARNESS");
  if (!path || !*path)
    return 0;
  int in[2], out[2];
  if (pipe(in) < 0 || pipe(out) < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execl(path, path, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  g_ref.pid = pid;
  g_ref.to = fdopen(in[1], "w");
  g_ref.from = fdopen(out[0], "r");
  const char *tmpdir = getenv("TMPDIR");
  snprintf(g_tmp, sizeof g_tmp, "%s/bench-codec.%ld", tmpdir && *tmpdir ? tmpdir : "/tmp",
           (long)getpid());
  return g_ref.to && g_ref.from ? 1 : -1;
}

static void ref_stop(void) {
  if (g_ref.pid <= 0)
    return;
  fclose(g_ref.to);
  fclose(g_ref.from);
  waitpid(g_ref.pid, NULL, 0);
  g_ref.pid = -1;
  unlink(g_tmp);
}

/* Sends one command; fills the answer's fields. 0 or -1. */
static int ref_cmd(const char *verb, const char *kind, unsigned ch, unsigned iters,
                   unsigned long long *count, double *cpu, uint64_t *hash, long *errors) {
  if (g_ref.pid <= 0)
    return -1;
  fprintf(g_ref.to, "%s %s %u %s %u\n", verb, kind, ch, g_tmp, iters);
  fflush(g_ref.to);
  char line[256];
  if (!fgets(line, sizeof line, g_ref.from))
    return -1;
  unsigned long long ns, h;
  long e;
  if (sscanf(line, "ok %llu %llu %llx %ld", count, &ns, &h, &e) != 4) {
    fprintf(stderr, "bench-codec: reference harness: %s", line);
    return -1;
  }
  *cpu = (double)ns * 1e-9;
  *hash = h;
  *errors = e;
  return 0;
}

static int write_tmp_frames(const frames *f) {
  FILE *o = fopen(g_tmp, "wb");
  if (!o)
    return -1;
  size_t off = 0;
  for (size_t i = 0; i < f->n; i++) {
    uint8_t l[2] = {(uint8_t)f->len[i], (uint8_t)(f->len[i] >> 8)};
    fwrite(l, 1, 2, o);
    fwrite(f->buf + off, 1, f->len[i], o);
    off += f->len[i];
  }
  return fclose(o) == 0 ? 0 : -1;
}

static int write_tmp_rows(const double *v, size_t n) {
  FILE *o = fopen(g_tmp, "wb");
  if (!o)
    return -1;
  for (size_t i = 0; i < n; i++) {
    uint64_t b = dbits(v[i]);
    uint8_t le[8];
    for (int k = 0; k < 8; k++)
      le[k] = (uint8_t)(b >> (8 * k));
    fwrite(le, 1, 8, o);
  }
  return fclose(o) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ statistics */

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct samples {
  double v[REPS_MAX];
  unsigned n;
} samples;

static double median(samples *s, double *lo, double *hi) {
  if (s->n == 0) {
    *lo = *hi = NAN;
    return NAN;
  }
  qsort(s->v, s->n, sizeof s->v[0], cmp_dbl);
  *lo = s->v[0];
  *hi = s->v[s->n - 1];
  return s->n % 2 ? s->v[s->n / 2] : 0.5 * (s->v[s->n / 2 - 1] + s->v[s->n / 2]);
}

static unsigned inner_for(double once) {
  if (!(once > 0.0))
    return 1000;
  double n = ceil(SAMPLE_S / once);
  return n < 1.0 ? 1u : n > 1000000.0 ? 1000000u : (unsigned)n;
}

/* ------------------------------------------------------------ decode run */

typedef long (*decode_fn)(const stream *, uint64_t *, long *);

static void print_cell(samples *s, double scale) {
  double lo, hi, m = median(s, &lo, &hi);
  if (isnan(m))
    printf(" %22s", "-");
  else
    printf(" %7.1f [%5.1f-%6.1f]", m * scale, lo * scale, hi * scale);
}

static void bench_stream(stream *s) {
  uint64_t h_lib, h_fl = 0, h_ref = 0;
  long e_lib, e_fl = 0, e_ref = 0;
  long n_lib = lib_decode(s, &h_lib, &e_lib);
  double once_lib = lib_time(s, 1), t0;
  if (n_lib <= 0) {
    printf("%-34s %-6s no value decodes\n", s->name, family_names[s->fam]);
    return;
  }
  t0 = cpu_s();
  long n_fl = floor_decode(s, &h_fl, &e_fl);
  double once_fl = cpu_s() - t0;
  int fl_ok = n_fl == n_lib && h_fl == h_lib;
  int ref_ok = 0;
  unsigned inner_ref = 0;
  if (g_ref.pid > 0 && write_tmp_frames(&s->f) == 0) {
    unsigned long long n_ref = 0;
    double once_ref;
    if (ref_cmd("decode", family_names[s->fam], s->channels, 1, &n_ref, &once_ref, &h_ref,
                &e_ref) == 0) {
      ref_ok = (long)n_ref == n_lib && h_ref == h_lib;
      inner_ref = inner_for(once_ref);
    }
  }
  unsigned inner_lib = inner_for(once_lib), inner_fl = inner_for(once_fl);
  samples s_lib = {{0}, 0}, s_fl = {{0}, 0}, s_ref = {{0}, 0};
  for (unsigned r = 0; r < g_reps; r++) {
    for (unsigned k = 0; k < 3; k++) {
      unsigned who = (r + k) % 3;
      if (who == 0) {
        s_lib.v[s_lib.n++] = lib_time(s, inner_lib) / inner_lib;
      } else if (who == 1 && fl_ok) {
        t0 = cpu_s();
        for (unsigned i = 0; i < inner_fl; i++)
          floor_decode(s, NULL, NULL);
        s_fl.v[s_fl.n++] = (cpu_s() - t0) / inner_fl;
      } else if (who == 2 && ref_ok) {
        unsigned long long n;
        double cpu;
        uint64_t h;
        long e;
        if (ref_cmd("decode", family_names[s->fam], s->channels, inner_ref, &n, &cpu, &h, &e) ==
            0)
          s_ref.v[s_ref.n++] = cpu / inner_ref;
      }
    }
  }
  double per_val = 1e9 / (double)n_lib, per_frame = 1e9 / (double)s->f.n;
  double lo, hi;
  double m_lib = median(&s_lib, &lo, &hi);
  double m_ref = median(&s_ref, &lo, &hi);
  double m_fl = median(&s_fl, &lo, &hi);
  printf("%-34s %-6s %6zu %7ld %5.1f", s->name, family_names[s->fam], s->f.n, n_lib,
         (double)s->f.used / (double)s->f.n);
  print_cell(&s_lib, per_val);
  print_cell(&s_fl, per_val);
  print_cell(&s_ref, per_val);
  if (s_ref.n)
    printf(" %6.2fx", m_ref / m_lib);
  else
    printf(" %7s", "-");
  if (s_fl.n)
    printf(" %6.2fx", m_lib / m_fl);
  else
    printf(" %7s", "-");
  printf(" %7.1f", m_lib * per_frame);
  if (s_ref.n)
    printf(" %8.1f", m_ref * per_frame);
  else
    printf(" %8s", "-");
  printf("\n");
  if (!fl_ok)
    printf("  floor not timed: %ld values (%ld frames refused), hash %s\n", n_fl, e_fl,
           h_fl == h_lib ? "same" : "differs");
  if (g_ref.pid > 0 && !ref_ok)
    printf("  reference not timed: values or hash differ from libalec's (%ld frames refused)\n",
           e_ref);
  if (e_lib)
    printf("  libalec refused %ld frames\n", e_lib);
}

static void decode_header(void) {
  printf("%-34s %-6s %6s %7s %5s %22s %22s %22s %7s %7s %7s %8s\n", "stream", "family", "frames",
         "values", "B/fr", "libalec ns/val [range]", "floor ns/val [range]",
         "ref ns/val [range]", "ref/lib", "lib/fl", "lib ns/f", "ref ns/f");
}

/* ----------------------------------------------------- golden-vector file */

static int load_jsonl(const char *path, stream *s) {
  FILE *in = fopen(path, "r");
  if (!in)
    return ALEC_EIO;
  char *line = NULL;
  size_t cap = 0;
  static char hex[2 * ALEC_FRAME_MAX + 1];
  char flag[16];
  int rc = 0, first = 1;
  while (getline(&line, &cap, in) >= 0) {
    int is_str = 0;
    int n = alec_tool_json_field(line, "frame_hex", hex, sizeof hex, &is_str);
    if (n < 0 || !is_str)
      continue; /* not sent (gated, encode error) */
    if (alec_tool_json_field(line, "dropped", flag, sizeof flag, NULL) >= 0 &&
        strcmp(flag, "true") == 0)
      continue; /* never delivered to the reference receiver */
    if ((rc = frames_reserve(&s->f, 1)) < 0)
      break;
    size_t len;
    uint8_t *fr = s->f.buf + s->f.used;
    if ((rc = alec_tool_hex_decode(hex, (size_t)n, fr, s->f.cap - s->f.used, &len)) < 0)
      break;
    if (first) {
      /* The family from the first frame; a fixed frame's channel count from
       * its line's values array (the wire does not carry it). */
      first = 0;
      if (alec_frame_family(fr, len) == ALEC_FAMILY_FIXED) {
        s->fam = FAM_FIXED;
        s->channels = 0;
        for (const char *q = strstr(line, "\"values\""); q && (q = strstr(q, "\"source_id\""));
             q++)
          s->channels++;
      } else {
        s->fam = FAM_SINGLE;
        uint32_t sid;
        int vr = len > ALEC_HEADER_SIZE
                     ? alec_varint_decode(fr + ALEC_HEADER_SIZE, len - ALEC_HEADER_SIZE, &sid)
                     : -1;
        if (vr > 0 && ALEC_HEADER_SIZE + (size_t)vr < len &&
            fr[ALEC_HEADER_SIZE + vr] == ALEC_ENC_MULTI)
          s->fam = FAM_MULTI;
      }
    }
    s->f.len[s->f.n++] = len;
    s->f.used += len;
  }
  free(line);
  fclose(in);
  return rc;
}

/* ------------------------------------------------------------- datasets */

/* Encodes the table with a fresh encoder into f (grown when grow). */
static int encode_table(const alec_tool_table *t, family fam, frames *f, int grow) {
  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.reference_compat = 1;
  alec_encoder *enc;
  int rc = alec_encoder_new(&enc, &cfg);
  if (rc < 0)
    return rc;
  f->used = 0;
  f->n = 0;
  for (size_t r = 0; r < t->rows && rc >= 0; r++) {
    const double *row = &t->v[r * t->cols];
    size_t per_row = fam == FAM_SINGLE ? t->cols : 1;
    for (size_t c = 0; c < per_row && rc >= 0; c++) {
      if (grow && (rc = frames_reserve(f, 1)) < 0)
        break;
      uint8_t *o = f->buf + f->used;
      size_t room = f->cap - f->used;
      if (fam == FAM_SINGLE)
        rc = alec_encode_single(enc, (uint32_t)c + 1, row[c], t->ts_ms[r], o, room, NULL);
      else if (fam == FAM_MULTI)
        rc = alec_encode_multi(enc, row, t->cols, t->ts_ms[r], o, room);
      else
        rc = alec_encode_fixed(enc, row, t->cols, o, room);
      if (rc >= 0) {
        f->len[f->n++] = (size_t)rc;
        f->used += (size_t)rc;
      }
    }
  }
  alec_encoder_free(enc);
  return rc < 0 ? rc : 0;
}

static uint64_t frames_hash(const frames *f) {
  uint64_t h = FNV_INIT;
  size_t off = 0;
  for (size_t i = 0; i < f->n; i++) {
    h = fnv_u64(h, f->len[i]);
    h = fnv_bytes(h, f->buf + off, f->len[i]);
    off += f->len[i];
  }
  return h;
}

typedef struct enc_row {
  char name[64];
  size_t values, bytes;
  samples lib, ref;
  int ref_state; /* 0 none, 1 timed, -1 differs */
} enc_row;

static void bench_encode_fixed(const alec_tool_table *t, const char *name, enc_row *er) {
  memset(er, 0, sizeof *er);
  snprintf(er->name, sizeof er->name, "%s", name);
  frames f = {0};
  if (encode_table(t, FAM_FIXED, &f, 1) < 0) {
    frames_free(&f);
    return;
  }
  er->values = t->rows * t->cols;
  er->bytes = f.used;
  uint64_t h_lib = frames_hash(&f);
  double t0 = cpu_s();
  encode_table(t, FAM_FIXED, &f, 0);
  unsigned inner_lib = inner_for(cpu_s() - t0), inner_ref = 0;
  if (g_ref.pid > 0 && write_tmp_rows(t->v, t->rows * t->cols) == 0) {
    unsigned long long bytes;
    double once;
    uint64_t h;
    long e;
    if (ref_cmd("encode", "fixed", (unsigned)t->cols, 1, &bytes, &once, &h, &e) == 0) {
      er->ref_state = h == h_lib && bytes == f.used ? 1 : -1;
      inner_ref = inner_for(once);
    }
  }
  for (unsigned r = 0; r < g_reps; r++) {
    for (unsigned k = 0; k < 2; k++) {
      if ((r + k) % 2 == 0) {
        t0 = cpu_s();
        for (unsigned i = 0; i < inner_lib; i++)
          encode_table(t, FAM_FIXED, &f, 0);
        er->lib.v[er->lib.n++] = (cpu_s() - t0) / inner_lib;
      } else if (er->ref_state == 1) {
        unsigned long long bytes;
        double cpu;
        uint64_t h;
        long e;
        if (ref_cmd("encode", "fixed", (unsigned)t->cols, inner_ref, &bytes, &cpu, &h, &e) == 0)
          er->ref.v[er->ref.n++] = cpu / inner_ref;
      }
    }
  }
  if (frames_hash(&f) != h_lib)
    er->lib.n = 0; /* not deterministic: report nothing */
  frames_free(&f);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted *.SUFFIX names of dir that contain `must` (NULL: any); n. */
static size_t list_dir(const char *dir, const char *suffix, char **names, size_t max) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  size_t nn = 0, sl = strlen(suffix);
  struct dirent *e;
  while ((e = readdir(d)) != NULL && nn < max) {
    size_t l = strlen(e->d_name);
    if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0 && (names[nn] = strdup(e->d_name)))
      nn++;
  }
  closedir(d);
  qsort(names, nn, sizeof names[0], cmp_str);
  return nn;
}

/* The golden streams one receiver decodes end to end: one family, one
 * emitter (s1*, s2*, s3*; not the fleet, hostile or malformed files). */
static int golden_stream_name(const char *n) {
  return strstr(n, "_single_") || strstr(n, "_multi_") || strstr(n, "_fixed_");
}

static void usage(FILE *o) {
  fprintf(o, "usage: bench-codec [--reps N] [STREAM.jsonl ...]\n"
             "Without files: every single/multi/fixed stream of $ALEC_SHARED/vectors, and the\n"
             "$ALEC_SHARED/data/samples datasets encoded (reference mode) in each family.\n"
             "Reference figures when $ALEC_REF_HARNESS names contrib/bench-reference.sh's\n"
             "harness (that script sets it).\n");
}

int main(int argc, char **argv) {
  int argi = 1;
  while (argi < argc && argv[argi][0] == '-') {
    if (strcmp(argv[argi], "--reps") == 0 && argi + 1 < argc) {
      long r = strtol(argv[argi + 1], NULL, 10);
      if (r < 1 || r > REPS_MAX) {
        usage(stderr);
        return 2;
      }
      g_reps = (unsigned)r;
      argi += 2;
    } else if (strcmp(argv[argi], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  int rs = ref_start();
  if (rs < 0)
    fprintf(stderr, "bench-codec: cannot start the reference harness; without it\n");

  printf("libalec %s decode benchmark: CPU ns per decoded value, median [min-max] of %u "
         "interleaved samples of >= %g ms,\neach a whole stream from a fresh decoder; ref/lib = "
         "reference median / libalec median; lib/fl = libalec / floor.\nreference: %s\n\n",
         ALEC_VERSION_STRING, g_reps, SAMPLE_S * 1e3,
         g_ref.pid > 0 ? "timed (every contender checked bit for bit first)"
                       : "not run (set ALEC_REF_HARNESS, see contrib/bench-reference.sh)");
  decode_header();

  const char *shared = getenv("ALEC_SHARED");
  if (argi < argc) {
    for (; argi < argc; argi++) {
      stream s;
      memset(&s, 0, sizeof s);
      const char *b = strrchr(argv[argi], '/');
      snprintf(s.name, sizeof s.name, "%s", b ? b + 1 : argv[argi]);
      if (load_jsonl(argv[argi], &s) < 0 || s.f.n == 0)
        printf("%-34s skipped (no frames)\n", s.name);
      else
        bench_stream(&s);
      frames_free(&s.f);
    }
    ref_stop();
    return 0;
  }
  if (!shared || !*shared) {
    printf("bench-codec: ALEC_SHARED is not set; skipped\n");
    ref_stop();
    return 0;
  }
  char dir[4096];
  char *names[MAX_STREAMS];
  snprintf(dir, sizeof dir, "%s/vectors", shared);
  size_t nn = list_dir(dir, ".jsonl", names, MAX_STREAMS);
  for (size_t i = 0; i < nn; i++) {
    if (golden_stream_name(names[i])) {
      stream s;
      memset(&s, 0, sizeof s);
      char path[4096 + 256];
      snprintf(path, sizeof path, "%s/%s", dir, names[i]);
      snprintf(s.name, sizeof s.name, "%s", names[i]);
      if (load_jsonl(path, &s) < 0 || s.f.n == 0)
        printf("%-34s skipped (no frames)\n", s.name);
      else
        bench_stream(&s);
      frames_free(&s.f);
    }
    free(names[i]);
  }

  snprintf(dir, sizeof dir, "%s/data/samples", shared);
  nn = list_dir(dir, ".csv", names, MAX_STREAMS);
  enc_row er[MAX_STREAMS];
  size_t ner = 0;
  for (size_t i = 0; i < nn; i++) {
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    names[i][strlen(names[i]) - 4] = '\0';
    alec_tool_table t;
    if (alec_tool_csv_load(path, MAX_DATASET_ROWS, &t) < 0) {
      printf("%-34s skipped (cannot read)\n", names[i]);
      free(names[i]);
      continue;
    }
    for (int fam = FAM_SINGLE; fam <= FAM_FIXED; fam++) {
      if (fam == FAM_FIXED && t.cols > ALEC_FIXED_MAX_CHANNELS)
        continue;
      stream s;
      memset(&s, 0, sizeof s);
      snprintf(s.name, sizeof s.name, "%s (encoded)", names[i]);
      s.fam = (family)fam;
      s.channels = fam == FAM_FIXED ? (unsigned)t.cols : 0;
      if (encode_table(&t, (family)fam, &s.f, 1) == 0 && s.f.n > 0)
        bench_stream(&s);
      frames_free(&s.f);
    }
    if (t.cols <= ALEC_FIXED_MAX_CHANNELS)
      bench_encode_fixed(&t, names[i], &er[ner++]);
    alec_tool_table_free(&t);
    free(names[i]);
  }

  if (ner) {
    printf("\nFixed-frame encoding (reference mode, keyframe every 50): CPU ns per input value, "
           "median [min-max] of %u interleaved samples\n",
           g_reps);
    printf("%-34s %8s %7s %22s %22s %7s\n", "dataset", "values", "B/val",
           "libalec ns/val [range]", "ref ns/val [range]", "ref/lib");
    for (size_t i = 0; i < ner; i++) {
      if (!er[i].lib.n)
        continue;
      double pv = 1e9 / (double)er[i].values, lo, hi;
      printf("%-34s %8zu %7.3f", er[i].name, er[i].values,
             (double)er[i].bytes / (double)er[i].values);
      print_cell(&er[i].lib, pv);
      print_cell(&er[i].ref, pv);
      if (er[i].ref.n)
        printf(" %6.2fx", median(&er[i].ref, &lo, &hi) / median(&er[i].lib, &lo, &hi));
      else
        printf(" %7s", "-");
      printf("\n");
      if (er[i].ref_state < 0)
        printf("  reference not timed: its frames differ from libalec's\n");
    }
  }
  ref_stop();
  return 0;
}
