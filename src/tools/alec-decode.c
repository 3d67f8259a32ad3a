/* SPDX-License-Identifier: MIT */
/* alec-decode: one receiver (alec_decoder) fed with hex frames, one per
 * line; prints one line per frame. Its output format is what
 * tests/vectors.sh and other scripts compare against, so it is stable. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"
#include "toolutil.h"

#define PROG "alec-decode"
/* A multi frame holds at most 255 values, a fixed frame 64. */
#define MAX_VALUES 255

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " --format single|single-xxh32|multi|fixed [--channels N] [--bits]\n"
          "                   [--strict] [--flags] [FILE]\n"
          "\n"
          "Decodes ALEC frames, one per line as hex digits (either case, optional 0x\n"
          "prefix; \"0x\" alone is an empty frame), with ONE receiver for the whole\n"
          "input (FILE or standard input). Blank lines and lines starting with '#'\n"
          "are skipped. One output line per frame:\n"
          "  single   <source_id> <value>\n"
          "  multi    <name_id>:<value> pairs separated by spaces (empty line: no values)\n"
          "  fixed    the N channel values separated by spaces\n"
          "  failure  error: <message>   (alec_strerror() of the decoder's error, or\n"
          "           \"invalid hex\", or \"frame longer than %d bytes\")\n"
          "Values print as %%.17g (nan, inf, -inf).\n"
          "\n"
          "  --format F     frame family the stream carries\n"
          "  --channels N   channel count of fixed frames (1..64, required for fixed)\n"
          "  --bits         print values as the 16 hex digits of their binary64 pattern\n"
          "  --strict       behave exactly like the reference receiver\n"
          "                 (ALEC_DECODER_STRICT_REFERENCE: no replay rejection, NaN\n"
          "                 poisons, no resync frames)\n"
          "  --flags        append a tab and one token per value: letters u (unreliable),\n"
          "                 n (non-finite), r (resynchronised its source), or '-' for none\n"
          "                 (error lines have no such column)\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 when the input was read to its end (whatever the frames),\n"
          "1 on a read error, 2 on a usage error or an unreadable FILE.\n",
          ALEC_FRAME_MAX);
}

static void print_flags(const alec_value *v, int n) {
  putchar('\t');
  for (int i = 0; i < n; i++) {
    char tok[4];
    size_t k = 0;
    if (v[i].flags & ALEC_VALUE_UNRELIABLE)
      tok[k++] = 'u';
    if (v[i].flags & ALEC_VALUE_NONFINITE)
      tok[k++] = 'n';
    if (v[i].flags & ALEC_VALUE_RESYNC)
      tok[k++] = 'r';
    if (k == 0)
      tok[k++] = '-';
    tok[k] = '\0';
    printf(i ? " %s" : "%s", tok);
  }
}

static void print_values(alec_format fmt, const alec_value *v, int n, int bits, int flags) {
  char num[ALEC_TOOL_DBL_BUFSZ];
  for (int i = 0; i < n; i++) {
    alec_tool_format_double(v[i].value, bits, num);
    switch (fmt) {
    case ALEC_FORMAT_SINGLE:
    case ALEC_FORMAT_SINGLE_XXH32:
      printf(i ? " %lu %s" : "%lu %s", (unsigned long)v[i].id, num);
      break;
    case ALEC_FORMAT_MULTI:
      printf(i ? " %lu:%s" : "%lu:%s", (unsigned long)v[i].id, num);
      break;
    case ALEC_FORMAT_FIXED:
    default:
      printf(i ? " %s" : "%s", num);
      break;
    }
  }
  if (flags)
    print_flags(v, n);
  putchar('\n');
}

int main(int argc, char **argv) {
  const char *format_name = NULL, *channels_arg = NULL, *path = NULL;
  int bits = 0, strict = 0, flags = 0, opts_done = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = NULL;
    if (opts_done || a[0] != '-' || a[1] == '\0') {
      if (path) {
        fprintf(stderr, PROG ": more than one input file (see --help)\n");
        return 2;
      }
      path = a;
    } else if (strcmp(a, "--") == 0) {
      opts_done = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      printf(PROG " (collectd-alec) %s\n", ALEC_VERSION_STRING);
      return 0;
    } else if (strcmp(a, "--bits") == 0) {
      bits = 1;
    } else if (strcmp(a, "--strict") == 0) {
      strict = 1;
    } else if (strcmp(a, "--flags") == 0) {
      flags = 1;
    } else if (strncmp(a, "--format", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
      dst = &format_name;
    } else if (strncmp(a, "--channels", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
      dst = &channels_arg;
    } else {
      fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (dst) {
      const char *eq = strchr(a, '=');
      if (eq) {
        *dst = eq + 1;
      } else if (i + 1 < argc) {
        *dst = argv[++i];
      } else {
        fprintf(stderr, PROG ": option '%s' needs a value\n", a);
        return 2;
      }
    }
  }

  alec_format fmt;
  if (!format_name) {
    fprintf(stderr, PROG ": --format is required (see --help)\n");
    return 2;
  }
  if (alec_format_parse(format_name, &fmt) < 0) {
    fprintf(stderr, PROG ": unknown format '%s' (single, single-xxh32, multi, fixed)\n",
            format_name);
    return 2;
  }
  unsigned channels = 0;
  if (channels_arg) {
    uint64_t c;
    if (alec_tool_parse_u64(channels_arg, ALEC_FIXED_MAX_CHANNELS, &c) < 0 || c == 0) {
      fprintf(stderr, PROG ": --channels must be 1..%d\n", ALEC_FIXED_MAX_CHANNELS);
      return 2;
    }
    channels = (unsigned)c;
  }
  if (fmt == ALEC_FORMAT_FIXED && channels == 0) {
    fprintf(stderr, PROG ": --format fixed needs --channels 1..%d\n", ALEC_FIXED_MAX_CHANNELS);
    return 2;
  }

  FILE *in = stdin;
  if (path && strcmp(path, "-") != 0) {
    in = fopen(path, "r");
    if (!in) {
      perror(path);
      return 2;
    }
  }

  alec_decoder_config cfg;
  alec_decoder_config_init(&cfg);
  if (strict)
    cfg.flags |= ALEC_DECODER_STRICT_REFERENCE;
  alec_decoder *dec = NULL;
  int rc = alec_decoder_new(&dec, &cfg);
  if (rc < 0) {
    fprintf(stderr, PROG ": cannot create a decoder: %s\n", alec_strerror(rc));
    if (in != stdin)
      fclose(in);
    return 1;
  }

  char *line = NULL;
  size_t cap = 0;
  uint8_t frame[ALEC_FRAME_MAX];
  alec_value values[MAX_VALUES];
  while (getline(&line, &cap, in) >= 0) {
    size_t len;
    char *s = alec_tool_trim(line, &len);
    if (len == 0 || s[0] == '#')
      continue;
    size_t flen = 0;
    rc = alec_tool_hex_decode(s, len, frame, sizeof frame, &flen);
    if (rc == ALEC_EBUFSIZE) {
      printf("error: frame longer than %d bytes\n", ALEC_FRAME_MAX);
      continue;
    }
    if (rc < 0) {
      printf("error: invalid hex\n");
      continue;
    }
    rc = alec_decoder_decode(dec, fmt, channels, frame, flen, values, MAX_VALUES, NULL);
    if (rc < 0) {
      printf("error: %s\n", alec_strerror(rc));
      continue;
    }
    print_values(fmt, values, rc > MAX_VALUES ? MAX_VALUES : rc, bits, flags);
  }
  int status = 0;
  if (ferror(in)) {
    perror(path ? path : "stdin");
    status = 1;
  }
  free(line);
  alec_decoder_free(dec);
  if (in != stdin)
    fclose(in);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("stdout");
    status = 1;
  }
  return status;
}
