/* SPDX-License-Identifier: MIT */
/* alec-encode: one emitter (alec_encoder) fed with readings as text, one
 * frame per input line printed as lowercase hex. With --reference-compat
 * and the reference's inputs it reproduces the reference's frames byte for
 * byte (tests/vectors.sh checks this on the golden vectors). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"
#include "toolutil.h"

#define PROG "alec-encode"
/* Tokens accepted on one line: a timestamp plus more values than any frame
 * family takes, so that an over-long multi line reaches the library and is
 * rejected there like any other caller's. */
#define MAX_TOKENS 1024

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " --format single|single-xxh32|multi|fixed [--channels N]\n"
          "                   [--keyframe-interval K] [--reference-compat] [FILE]\n"
          "\n"
          "Encodes readings with ONE emitter for the whole input (FILE or standard\n"
          "input) and prints one frame per input line as lowercase hex. Blank lines\n"
          "and lines starting with '#' are skipped. Input lines (fields separated by\n"
          "spaces, tabs or commas):\n"
          "  single, single-xxh32  <source_id> <value> <timestamp_ms>\n"
          "  multi                 <timestamp_ms> <v0> <v1> ...   (name_id = column, at most 255)\n"
          "  fixed                 <v0> <v1> ...                  (1..64 channels)\n"
          "A value is anything strtod reads (22.5, -0, 1e-310, nan, inf, -inf, 0x1.8p4),\n"
          "except that exactly \"0x\" followed by 16 hex digits is the binary64 bit\n"
          "pattern itself (0x4036800000000000 = 22.5, 0x7ff8000000000001 = a NaN payload).\n"
          "single-xxh32 appends the xxh32 checksum trailer.\n"
          "\n"
          "  --format F               frame family to produce\n"
          "  --channels N             fixed: channel count (default: the first line's)\n"
          "  --keyframe-interval K    fixed: keyframe every K frames; closed loop single/multi:\n"
          "                           resync a source every K of its frames (default 50, 0 = off)\n"
          "  --reference-compat       observe the raw input like reference emitters and\n"
          "                           reproduce their frames byte for byte (default: closed loop)\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 on success; 1 on a bad input line or an encoder error (a\n"
          "message on stderr names the line; nothing is printed for it and encoding\n"
          "stops there) or a read error; 2 on a usage error or an unreadable FILE.\n");
}

static int parse_values(char **tok, int n, double *out, const char *where, size_t lineno) {
  for (int i = 0; i < n; i++) {
    if (alec_tool_parse_double(tok[i], &out[i]) < 0) {
      fprintf(stderr, PROG ": %s:%zu: bad value '%s'\n", where, lineno, tok[i]);
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *format_name = NULL, *channels_arg = NULL, *kf_arg = NULL, *path = NULL;
  int reference_compat = 0;
  const alec_tool_opt opts[] = {
      {"--reference-compat", &reference_compat, NULL},
      {"--format", NULL, &format_name},
      {"--channels", NULL, &channels_arg},
      {"--keyframe-interval", NULL, &kf_arg},
  };
  int rc = alec_tool_args(argc, argv, PROG, opts, sizeof opts / sizeof opts[0], usage, &path);
  if (rc != 0)
    return rc > 0 ? 0 : 2;

  alec_format fmt;
  unsigned channels;
  if (alec_tool_format_args(PROG, format_name, channels_arg, &fmt, &channels) < 0)
    return 2;

  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.reference_compat = reference_compat;
  cfg.checksum = fmt == ALEC_FORMAT_SINGLE_XXH32;
  if (kf_arg) {
    uint64_t k;
    if (alec_tool_parse_u64(kf_arg, UINT32_MAX, &k) < 0) {
      fprintf(stderr, PROG ": --keyframe-interval must be 0..%lu\n", (unsigned long)UINT32_MAX);
      return 2;
    }
    cfg.keyframe_interval = (uint32_t)k;
  }

  FILE *in = alec_tool_open_input(path);
  if (!in)
    return 2;
  const char *where = in == stdin ? "stdin" : path;

  alec_encoder *enc = NULL;
  rc = alec_encoder_new(&enc, &cfg);
  if (rc < 0) {
    fprintf(stderr, PROG ": cannot create an encoder: %s\n", alec_strerror(rc));
    return alec_tool_finish(in, 1);
  }

  char *line = NULL;
  size_t cap = 0, lineno = 0;
  char *tok[MAX_TOKENS];
  double vals[MAX_TOKENS];
  uint8_t frame[ALEC_FRAME_MAX];
  char hex[2 * ALEC_FRAME_MAX + 1];
  int status = 0;
  while (status == 0 && getline(&line, &cap, in) >= 0) {
    lineno++;
    char *s = alec_tool_trim(line, NULL);
    if (!*s || *s == '#')
      continue;
    int nt = alec_tool_split(s, tok, MAX_TOKENS);
    if (nt < 0) {
      fprintf(stderr, PROG ": %s:%zu: more than %d fields\n", where, lineno, MAX_TOKENS);
      status = 1;
      break;
    }
    rc = 0;
    switch (fmt) {
    case ALEC_FORMAT_SINGLE:
    case ALEC_FORMAT_SINGLE_XXH32: {
      uint64_t sid, ts;
      if (nt != 3) {
        fprintf(stderr, PROG ": %s:%zu: expected <source_id> <value> <timestamp_ms>\n", where,
                lineno);
        status = 1;
      } else if (alec_tool_parse_u64(tok[0], UINT32_MAX, &sid) < 0) {
        fprintf(stderr, PROG ": %s:%zu: bad source_id '%s'\n", where, lineno, tok[0]);
        status = 1;
      } else if (parse_values(tok + 1, 1, vals, where, lineno) < 0) {
        status = 1;
      } else if (alec_tool_parse_u64(tok[2], UINT64_MAX, &ts) < 0) {
        fprintf(stderr, PROG ": %s:%zu: bad timestamp '%s'\n", where, lineno, tok[2]);
        status = 1;
      } else {
        rc = alec_encode_single(enc, (uint32_t)sid, vals[0], ts, frame, sizeof frame, NULL);
      }
      break;
    }
    case ALEC_FORMAT_MULTI: {
      uint64_t ts;
      if (alec_tool_parse_u64(tok[0], UINT64_MAX, &ts) < 0) {
        fprintf(stderr, PROG ": %s:%zu: bad timestamp '%s'\n", where, lineno, tok[0]);
        status = 1;
      } else if (parse_values(tok + 1, nt - 1, vals, where, lineno) < 0) {
        status = 1;
      } else {
        rc = alec_encode_multi(enc, vals, (size_t)nt - 1, ts, frame, sizeof frame);
      }
      break;
    }
    case ALEC_FORMAT_FIXED:
    default:
      if (channels == 0)
        channels = (unsigned)nt; /* the library rejects more than 64 below */
      if ((unsigned)nt != channels) {
        fprintf(stderr, PROG ": %s:%zu: %d values, expected %u channels\n", where, lineno, nt,
                channels);
        status = 1;
      } else if (parse_values(tok, nt, vals, where, lineno) < 0) {
        status = 1;
      } else {
        rc = alec_encode_fixed(enc, vals, (size_t)nt, frame, sizeof frame);
      }
      break;
    }
    if (status)
      break;
    if (rc < 0) {
      fprintf(stderr, PROG ": %s:%zu: cannot encode: %s\n", where, lineno, alec_strerror(rc));
      status = 1;
      break;
    }
    if ((size_t)rc > sizeof frame) {
      fprintf(stderr, PROG ": %s:%zu: encoder returned a bad length %d\n", where, lineno, rc);
      status = 1;
      break;
    }
    alec_tool_hex_encode(frame, (size_t)rc, hex);
    puts(hex);
  }
  if (status == 0 && ferror(in)) {
    perror(where);
    status = 1;
  }
  free(line);
  alec_encoder_free(enc);
  return alec_tool_finish(in, status);
}
