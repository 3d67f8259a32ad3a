/* SPDX-License-Identifier: MIT */
/* bench-codec: encode / decode throughput and frame size of libalec on the
 * sample datasets (the *.csv files of $ALEC_SHARED/data/samples), per frame family and
 * encoder mode, plus decode throughput on the reference's own frames
 * ($ALEC_SHARED/vectors). Prints tables; asserts nothing about speed.
 *
 * Every timed run starts from a fresh encoder / decoder, so each repetition
 * does exactly the same work; the best of REPS is reported (least disturbed
 * by the rest of the machine). */

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/alec.h"
#include "toolutil.h"

#define REPS 7
#define MIN_SAMPLE_S 0.02
#define MAX_DATASET_ROWS 1000000

typedef enum { FAM_SINGLE, FAM_MULTI, FAM_FIXED } family;
static const char *const family_names[] = {"single", "multi", "fixed"};

/* Frames of one run, back to back, with their lengths. */
typedef struct frames {
  uint8_t *buf;
  size_t cap, used;
  size_t *len;
  size_t n, ncap;
} frames;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Repetitions of a run that took `once` seconds so that one timed sample
 * lasts about MIN_SAMPLE_S. */
static unsigned iterations(double once) {
  if (!(once > 0.0))
    return 1000;
  double n = ceil(MIN_SAMPLE_S / once);
  return n < 1.0 ? 1u : n > 100000.0 ? 100000u : (unsigned)n;
}

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

/* Encodes the whole table with a fresh encoder into f (which must already
 * be large enough when grow is 0, so that timed runs never reallocate). */
static int encode_table(const alec_tool_table *t, family fam, int ref, frames *f, int grow) {
  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.reference_compat = ref;
  alec_encoder *enc;
  int rc = alec_encoder_new(&enc, &cfg);
  if (rc < 0)
    return rc;
  f->used = 0;
  f->n = 0;
  for (size_t r = 0; r < t->rows && rc >= 0; r++) {
    const double *row = &t->v[r * t->cols];
    size_t per_row = fam == FAM_SINGLE ? t->cols : 1;
    if (grow && (rc = frames_reserve(f, per_row)) < 0)
      break;
    if (fam == FAM_SINGLE) {
      for (size_t c = 0; c < t->cols; c++) {
        if (grow && (rc = frames_reserve(f, 1)) < 0)
          break;
        rc = alec_encode_single(enc, (uint32_t)c + 1, row[c], t->ts_ms[r], f->buf + f->used,
                                f->cap - f->used, NULL);
        if (rc < 0)
          break;
        f->len[f->n++] = (size_t)rc;
        f->used += (size_t)rc;
      }
    } else {
      if (fam == FAM_MULTI)
        rc = alec_encode_multi(enc, row, t->cols, t->ts_ms[r], f->buf + f->used,
                               f->cap - f->used);
      else
        rc = alec_encode_fixed(enc, row, t->cols, f->buf + f->used, f->cap - f->used);
      if (rc >= 0) {
        f->len[f->n++] = (size_t)rc;
        f->used += (size_t)rc;
      }
    }
  }
  alec_encoder_free(enc);
  return rc < 0 ? rc : 0;
}

/* Decodes every frame with a fresh decoder; returns the number of values
 * decoded. With t non-NULL also the largest |decoded - input|. */
static long decode_frames(const frames *f, alec_format fmt, unsigned channels,
                          const alec_tool_table *t, double *max_err) {
  alec_decoder *dec;
  int rc = alec_decoder_new(&dec, NULL);
  if (rc < 0)
    return rc;
  alec_value vals[255];
  long total = 0;
  size_t off = 0;
  double err = 0.0;
  for (size_t i = 0; i < f->n; i++) {
    rc = alec_decoder_decode(dec, fmt, channels, f->buf + off, f->len[i], vals, 255, NULL);
    off += f->len[i];
    if (rc < 0) {
      alec_decoder_free(dec);
      fprintf(stderr, "bench-codec: frame %zu does not decode: %s\n", i, alec_strerror(rc));
      return rc;
    }
    total += rc;
    if (t) {
      /* Row and column of each value: single frames go row by row, column
       * by column; multi and fixed frames are one row each. */
      size_t row = fmt == ALEC_FORMAT_SINGLE ? i / t->cols : i;
      for (int k = 0; k < rc; k++) {
        size_t col = fmt == ALEC_FORMAT_SINGLE ? vals[k].id - 1u : vals[k].id;
        if (row < t->rows && col < t->cols) {
          double e = fabs(vals[k].value - t->v[row * t->cols + col]);
          if (e > err)
            err = e;
        }
      }
    }
  }
  alec_decoder_free(dec);
  if (max_err)
    *max_err = err;
  return total;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void bench_dataset(const char *path, const char *name) {
  alec_tool_table t;
  int rc = alec_tool_csv_load(path, MAX_DATASET_ROWS, &t);
  if (rc < 0) {
    fprintf(stderr, "bench-codec: %s: %s\n", path, alec_strerror(rc));
    return;
  }
  size_t nvalues = t.rows * t.cols;
  for (int fam = FAM_SINGLE; fam <= FAM_FIXED; fam++) {
    if (fam == FAM_FIXED && t.cols > ALEC_FIXED_MAX_CHANNELS)
      continue;
    for (int ref = 1; ref >= 0; ref--) {
      frames f = {0};
      rc = encode_table(&t, (family)fam, ref, &f, 1);
      if (rc < 0) {
        fprintf(stderr, "bench-codec: %s %s: encode failed: %s\n", name, family_names[fam],
                alec_strerror(rc));
        frames_free(&f);
        continue;
      }
      size_t bytes = f.used;
      double best_enc = INFINITY, best_dec = INFINITY, max_err = 0.0;
      long decoded = 0;
      alec_format fmt = fam == FAM_SINGLE  ? ALEC_FORMAT_SINGLE
                        : fam == FAM_MULTI ? ALEC_FORMAT_MULTI
                                           : ALEC_FORMAT_FIXED;
      decoded = decode_frames(&f, fmt, (unsigned)t.cols, &t, &max_err);
      /* Each sample repeats the whole run often enough to last MIN_SAMPLE_S,
       * far above the clock's resolution. */
      double t0 = now_s();
      encode_table(&t, (family)fam, ref, &f, 0);
      unsigned inner = iterations(now_s() - t0);
      for (int r = 0; r < REPS && decoded >= 0; r++) {
        t0 = now_s();
        for (unsigned k = 0; k < inner && rc >= 0; k++)
          rc = encode_table(&t, (family)fam, ref, &f, 0);
        double t1 = now_s();
        if (rc < 0 || f.used != bytes) {
          fprintf(stderr, "bench-codec: %s: repeated encoding differs\n", name);
          decoded = -1;
          break;
        }
        long d = 0;
        for (unsigned k = 0; k < inner && d >= 0; k++)
          d = decode_frames(&f, fmt, (unsigned)t.cols, NULL, NULL);
        double t2 = now_s();
        if (d != decoded) {
          decoded = -1;
          break;
        }
        if ((t1 - t0) / inner < best_enc)
          best_enc = (t1 - t0) / inner;
        if ((t2 - t1) / inner < best_dec)
          best_dec = (t2 - t1) / inner;
      }
      if (decoded >= 0) {
        double bpv = (double)bytes / (double)nvalues;
        printf("%-14s %-6s %-7s %8zu %7.1f%% %8.3f %6.2fx %9.2f %8.1f %9.2f %8.1f %10.3g\n",
               name, family_names[fam], ref ? "ref" : "closed", nvalues,
               100.0 * (double)decoded / (double)nvalues, bpv, 8.0 / bpv,
               (double)nvalues / best_enc / 1e6, best_enc * 1e9 / (double)nvalues,
               (double)nvalues / best_dec / 1e6, best_dec * 1e9 / (double)nvalues, max_err);
      }
      frames_free(&f);
    }
  }
  alec_tool_table_free(&t);
}

static int load_golden(const char *path, frames *f) {
  FILE *in = fopen(path, "r");
  if (!in)
    return ALEC_EIO;
  char *line = NULL;
  size_t cap = 0;
  static char hex[2 * ALEC_FRAME_MAX + 1];
  char flag[16];
  int rc = 0;
  while (getline(&line, &cap, in) >= 0) {
    int is_str = 0;
    int n = alec_tool_json_field(line, "frame_hex", hex, sizeof hex, &is_str);
    if (n < 0 || !is_str)
      continue; /* not sent (gated, encode error) */
    if (alec_tool_json_field(line, "dropped", flag, sizeof flag, NULL) >= 0 &&
        strcmp(flag, "true") == 0)
      continue; /* never delivered to the reference receiver */
    if ((rc = frames_reserve(f, 1)) < 0)
      break;
    size_t len;
    if ((rc = alec_tool_hex_decode(hex, (size_t)n, f->buf + f->used, f->cap - f->used, &len)) <
        0)
      break;
    f->len[f->n++] = len;
    f->used += len;
  }
  free(line);
  fclose(in);
  return rc;
}

static void bench_golden(const char *vdir) {
  static const struct {
    const char *file;
    alec_format fmt;
    unsigned channels;
  } streams[] = {
      {"s1_single_hvac_24h.jsonl", ALEC_FORMAT_SINGLE, 0},
      {"s2_multi_adaptive_hvac_24h.jsonl", ALEC_FORMAT_MULTI, 0},
      {"s3_fixed_hvac_24h.jsonl", ALEC_FORMAT_FIXED, 2},
  };
  printf("\nDecoding the reference's frames (golden vectors, best of %d samples of >= %g ms):\n", REPS, MIN_SAMPLE_S * 1e3);
  printf("%-34s %7s %8s %8s %9s %8s\n", "stream", "frames", "values", "B/frame", "Mval/s",
         "ns/val");
  for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", vdir, streams[i].file) >= sizeof path)
      continue;
    frames f = {0};
    int rc = load_golden(path, &f);
    if (rc < 0 || f.n == 0) {
      printf("%-34s skipped (%s)\n", streams[i].file, rc < 0 ? alec_strerror(rc) : "no frames");
      frames_free(&f);
      continue;
    }
    long values = decode_frames(&f, streams[i].fmt, streams[i].channels, NULL, NULL);
    double best = INFINITY;
    double t0 = now_s();
    decode_frames(&f, streams[i].fmt, streams[i].channels, NULL, NULL);
    unsigned inner = iterations(now_s() - t0);
    for (int r = 0; r < REPS && values > 0; r++) {
      t0 = now_s();
      long d = 0;
      for (unsigned k = 0; k < inner && d >= 0; k++)
        d = decode_frames(&f, streams[i].fmt, streams[i].channels, NULL, NULL);
      double dt = (now_s() - t0) / inner;
      if (d != values) {
        values = -1;
        break;
      }
      if (dt < best)
        best = dt;
    }
    if (values > 0)
      printf("%-34s %7zu %8ld %8.2f %9.2f %8.1f\n", streams[i].file, f.n, values,
             (double)f.used / (double)f.n, (double)values / best / 1e6,
             best * 1e9 / (double)values);
    else
      printf("%-34s decode failed\n", streams[i].file);
    frames_free(&f);
  }
}

int main(int argc, char **argv) {
  if (argc > 1) {
    printf("usage: bench-codec\n"
           "Reads the CSV files of $ALEC_SHARED/data/samples and $ALEC_SHARED/vectors and\n"
           "prints encode / decode throughput and bytes per value per family and mode.\n");
    return strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  const char *shared = getenv("ALEC_SHARED");
  if (!shared || !*shared) {
    printf("bench-codec: ALEC_SHARED is not set; skipped\n");
    return 0;
  }
  char dir[4096];
  if ((size_t)snprintf(dir, sizeof dir, "%s/data/samples", shared) >= sizeof dir)
    return 2;
  DIR *d = opendir(dir);
  if (!d) {
    printf("bench-codec: %s not found; skipped\n", dir);
    return 0;
  }
  char *names[64];
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && nn < 64) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".csv") == 0 && (names[nn] = strdup(e->d_name)))
      nn++;
  }
  closedir(d);
  qsort(names, nn, sizeof names[0], cmp_str);

  printf("libalec %s codec benchmark (best of %d samples of >= %g ms; values/s counts every input value; "
         "sent = values carried in frames;\nB/value = frame bytes per input value, ratio = 8 / "
         "B/value vs raw doubles; max|err| = largest decode error)\n\n",
         ALEC_VERSION_STRING, REPS, MIN_SAMPLE_S * 1e3);
  printf("%-14s %-6s %-7s %8s %8s %8s %7s %9s %8s %9s %8s %10s\n", "dataset", "family", "mode",
         "values", "sent", "B/value", "ratio", "enc Mv/s", "enc ns", "dec Mv/s", "dec ns",
         "max|err|");
  for (size_t i = 0; i < nn; i++) {
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    names[i][strlen(names[i]) - 4] = '\0';
    bench_dataset(path, names[i]);
    free(names[i]);
  }
  if ((size_t)snprintf(dir, sizeof dir, "%s/vectors", shared) < sizeof dir)
    bench_golden(dir);
  return 0;
}
