/* SPDX-License-Identifier: MIT */
#include "toolutil.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"
#include "alec/error.h"
#include "alec/wire.h"

/* Locale-independent classification: the tools must read the same bytes
 * the same way whatever LC_CTYPE says. */
static int is_space(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int hex_val(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *alec_tool_trim(char *s, size_t *len) {
  while (*s && is_space((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && is_space((unsigned char)s[n - 1]))
    n--;
  s[n] = '\0';
  if (len)
    *len = n;
  return s;
}

int alec_tool_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len) {
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    n -= 2;
  }
  if (n % 2 != 0)
    return ALEC_EINVAL;
  if (n / 2 > cap)
    return ALEC_EBUFSIZE;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hex_val((unsigned char)s[i]);
    int lo = hex_val((unsigned char)s[i + 1]);
    if (hi < 0 || lo < 0)
      return ALEC_EINVAL;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  if (out_len)
    *out_len = n / 2;
  return 0;
}

void alec_tool_hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int alec_tool_parse_double(const char *tok, double *out) {
  size_t n = strlen(tok);
  if (n == 18 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
    uint64_t bits = 0;
    int ok = 1;
    for (size_t i = 2; i < n; i++) {
      int v = hex_val((unsigned char)tok[i]);
      if (v < 0) {
        ok = 0;
        break;
      }
      bits = bits << 4 | (uint64_t)v;
    }
    if (ok) {
      *out = alec_f64_from_bits(bits);
      return 0;
    }
  }
  if (n == 0 || is_space((unsigned char)tok[0]))
    return ALEC_EINVAL;
  char *end = NULL;
  errno = 0;
  double v = strtod(tok, &end);
  /* ERANGE is accepted: overflow gives +/-HUGE_VAL (inf) and underflow a
   * denormal or zero, which is exactly what the caller wrote. */
  if (end == tok || *end != '\0')
    return ALEC_EINVAL;
  *out = v;
  return 0;
}

int alec_tool_parse_u64(const char *tok, uint64_t max, uint64_t *out) {
  if (!tok[0])
    return ALEC_EINVAL;
  uint64_t v = 0;
  for (const char *p = tok; *p; p++) {
    if (*p < '0' || *p > '9')
      return ALEC_EINVAL;
    unsigned d = (unsigned)(*p - '0');
    if (d > max || v > (max - d) / 10)
      return ALEC_ERANGE;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

void alec_tool_format_double(double v, int bits, char buf[ALEC_TOOL_DBL_BUFSZ]) {
  if (bits) {
    snprintf(buf, ALEC_TOOL_DBL_BUFSZ, "%016" PRIx64, alec_f64_bits(v));
  } else if (isnan(v)) {
    /* glibc prints "-nan" for a negative NaN; the sign of a NaN means nothing. */
    snprintf(buf, ALEC_TOOL_DBL_BUFSZ, "nan");
  } else if (isinf(v)) {
    snprintf(buf, ALEC_TOOL_DBL_BUFSZ, "%s", v < 0 ? "-inf" : "inf");
  } else {
    snprintf(buf, ALEC_TOOL_DBL_BUFSZ, "%.17g", v);
  }
}

static int is_sep(int c) { return c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n'; }

int alec_tool_split(char *line, char **tok, size_t max) {
  size_t n = 0;
  char *p = line;
  for (;;) {
    while (*p && is_sep((unsigned char)*p))
      p++;
    if (!*p)
      break;
    if (n == max)
      return ALEC_ERANGE;
    tok[n++] = p;
    while (*p && !is_sep((unsigned char)*p))
      p++;
    if (*p)
      *p++ = '\0';
  }
  return (int)n;
}

int alec_tool_json_field(const char *line, const char *key, char *out, size_t cap,
                         int *is_string) {
  size_t klen = strlen(key);
  const char *p = line;
  if (cap == 0)
    return ALEC_EBUFSIZE;
  for (;;) {
    p = strchr(p, '"');
    if (!p)
      return ALEC_ENOTFOUND;
    if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '"') {
      const char *q = p + 2 + klen;
      while (is_space((unsigned char)*q))
        q++;
      if (*q == ':') {
        p = q + 1;
        break;
      }
    }
    p++;
  }
  while (is_space((unsigned char)*p))
    p++;
  size_t n = 0;
  if (*p == '"') {
    if (is_string)
      *is_string = 1;
    for (p++;; p++) {
      char c = *p;
      if (c == '\0')
        return ALEC_EMALFORMED;
      if (c == '"')
        break;
      if (c == '\\') {
        char e = p[1];
        if (e == '\0')
          return ALEC_EMALFORMED;
        if (e == '"' || e == '\\' || e == '/') {
          c = e;
          p++;
        }
      }
      if (n + 1 >= cap)
        return ALEC_EBUFSIZE;
      out[n++] = c;
    }
  } else {
    if (is_string)
      *is_string = 0;
    while (*p && *p != ',' && *p != '}' && *p != ']' && !is_space((unsigned char)*p)) {
      if (n + 1 >= cap)
        return ALEC_EBUFSIZE;
      out[n++] = *p++;
    }
    if (n == 0)
      return ALEC_EMALFORMED;
  }
  out[n] = '\0';
  return (int)n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (valid for any year
 * this tool meets; the caller limits the year). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *out = v;
  return 0;
}

int alec_tool_parse_time_ms(const char *s, uint64_t *out) {
  unsigned y, mo, d, h, mi, sec, ms = 0;
  size_t n = strlen(s);
  if (n >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') && s[13] == ':' &&
      s[16] == ':') {
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
      return ALEC_EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
      unsigned scale = 100;
      for (p++; *p >= '0' && *p <= '9'; p++) {
        ms += (unsigned)(*p - '0') * scale;
        scale /= 10;
      }
    }
    if (*p == 'Z')
      p++;
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
      return ALEC_EINVAL;
    int64_t days = days_from_civil(y, mo, d);
    *out = ((uint64_t)days * 86400u + h * 3600u + mi * 60u + sec) * 1000u + ms;
    return 0;
  }
  return alec_tool_parse_u64(s, UINT64_MAX, out);
}

void alec_tool_table_free(alec_tool_table *t) {
  if (!t)
    return;
  if (t->names)
    for (size_t i = 0; i < t->cols; i++)
      free(t->names[i]);
  free(t->names);
  free(t->v);
  free(t->ts_ms);
  memset(t, 0, sizeof *t);
}

#define CSV_MAX_COLS 256 /* time column + 255 value columns (a multi frame's limit) */

int alec_tool_csv_load(const char *path, size_t max_rows, alec_tool_table *t) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "r");
  if (!f)
    return ALEC_EIO;
  char *line = NULL;
  size_t lcap = 0;
  char *tok[CSV_MAX_COLS];
  size_t row_cap = 0, lineno = 0;
  int rc = 0;
  ssize_t got;
  while ((got = getline(&line, &lcap, f)) >= 0) {
    lineno++;
    char *s = alec_tool_trim(line, NULL);
    if (!*s || *s == '#')
      continue;
    int nt = alec_tool_split(s, tok, CSV_MAX_COLS);
    if (nt < 2) {
      fprintf(stderr, "%s:%zu: expected a time column and at least one value column\n", path,
              lineno);
      rc = ALEC_EMALFORMED;
      break;
    }
    if (!t->names) {
      t->cols = (size_t)nt - 1;
      t->names = calloc(t->cols, sizeof *t->names);
      if (!t->names) {
        rc = ALEC_ENOMEM;
        break;
      }
      for (size_t i = 0; i < t->cols; i++) {
        t->names[i] = strdup(tok[i + 1]);
        if (!t->names[i]) {
          rc = ALEC_ENOMEM;
          break;
        }
      }
      if (rc)
        break;
      continue;
    }
    if ((size_t)nt != t->cols + 1) {
      fprintf(stderr, "%s:%zu: %d columns, the header has %zu\n", path, lineno, nt,
              t->cols + 1);
      rc = ALEC_EMALFORMED;
      break;
    }
    if (t->rows == max_rows) {
      rc = ALEC_ERANGE;
      break;
    }
    if (t->rows == row_cap) {
      size_t nc = row_cap ? row_cap * 2 : 1024;
      if (nc > max_rows)
        nc = max_rows;
      if (nc > SIZE_MAX / sizeof(double) / t->cols) {
        rc = ALEC_ENOMEM;
        break;
      }
      double *nv = realloc(t->v, nc * t->cols * sizeof *nv);
      if (!nv) {
        rc = ALEC_ENOMEM;
        break;
      }
      t->v = nv;
      uint64_t *nts = realloc(t->ts_ms, nc * sizeof *nts);
      if (!nts) {
        rc = ALEC_ENOMEM;
        break;
      }
      t->ts_ms = nts;
      row_cap = nc;
    }
    if (alec_tool_parse_time_ms(tok[0], &t->ts_ms[t->rows]) < 0) {
      fprintf(stderr, "%s:%zu: bad time '%s'\n", path, lineno, tok[0]);
      rc = ALEC_EMALFORMED;
      break;
    }
    for (size_t c = 0; c < t->cols; c++) {
      if (alec_tool_parse_double(tok[c + 1], &t->v[t->rows * t->cols + c]) < 0) {
        fprintf(stderr, "%s:%zu: bad value '%s'\n", path, lineno, tok[c + 1]);
        rc = ALEC_EMALFORMED;
        break;
      }
    }
    if (rc)
      break;
    t->rows++;
  }
  if (!rc && ferror(f))
    rc = ALEC_EIO;
  if (!rc && !t->names) {
    fprintf(stderr, "%s: no header line\n", path);
    rc = ALEC_EMALFORMED;
  }
  free(line);
  fclose(f);
  if (rc)
    alec_tool_table_free(t);
  return rc;
}

/* Option name at the start of a, followed by the end or '='. */
static int opt_match(const char *a, const char *name) {
  size_t n = strlen(name);
  return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

int alec_tool_args(int argc, char **argv, const char *prog, const alec_tool_opt *opts, size_t n,
                   void (*usage)(FILE *out), const char **path) {
  int opts_done = 0;
  const char *operand = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (opts_done || a[0] != '-' || a[1] == '\0') {
      if (operand) {
        fprintf(stderr, "%s: more than one input file (see --help)\n", prog);
        return ALEC_EINVAL;
      }
      operand = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      opts_done = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 1;
    }
    if (strcmp(a, "--version") == 0) {
      printf("%s (collectd-alec) %s\n", prog, ALEC_VERSION_STRING);
      return 1;
    }
    const alec_tool_opt *o = NULL;
    for (size_t k = 0; k < n && !o; k++) {
      if (opts[k].value ? opt_match(a, opts[k].name) : strcmp(a, opts[k].name) == 0)
        o = &opts[k];
    }
    if (!o) {
      fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, a);
      return ALEC_EINVAL;
    }
    if (!o->value) {
      *o->flag = 1;
      continue;
    }
    const char *eq = strchr(a, '=');
    if (eq) {
      *o->value = eq + 1;
    } else if (i + 1 < argc) {
      *o->value = argv[++i];
    } else {
      fprintf(stderr, "%s: option '%s' needs a value\n", prog, a);
      return ALEC_EINVAL;
    }
  }
  if (operand)
    *path = operand;
  return 0;
}

int alec_tool_format_args(const char *prog, const char *format_name, const char *channels_arg,
                          alec_format *fmt, unsigned *channels) {
  if (!format_name) {
    fprintf(stderr, "%s: --format is required (see --help)\n", prog);
    return ALEC_EINVAL;
  }
  if (alec_format_parse(format_name, fmt) < 0) {
    fprintf(stderr, "%s: unknown format '%s' (single, single-xxh32, multi, fixed)\n", prog,
            format_name);
    return ALEC_EINVAL;
  }
  *channels = 0;
  if (channels_arg) {
    uint64_t c;
    if (alec_tool_parse_u64(channels_arg, ALEC_FIXED_MAX_CHANNELS, &c) < 0 || c == 0) {
      fprintf(stderr, "%s: --channels must be 1..%d\n", prog, ALEC_FIXED_MAX_CHANNELS);
      return ALEC_EINVAL;
    }
    *channels = (unsigned)c;
  }
  return 0;
}

FILE *alec_tool_open_input(const char *path) {
  if (!path || strcmp(path, "-") == 0)
    return stdin;
  FILE *in = fopen(path, "r");
  if (!in)
    perror(path);
  return in;
}

int alec_tool_finish(FILE *in, int status) {
  if (in && in != stdin)
    fclose(in);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("stdout");
    status = 1;
  }
  return status;
}
