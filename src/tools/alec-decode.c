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
  int bits = 0, strict = 0, flags = 0;
  const alec_tool_opt opts[] = {
      {"--bits", &bits, NULL},
      {"--strict", &strict, NULL},
      {"--flags", &flags, NULL},
      {"--format", NULL, &format_name},
      {"--channels", NULL, &channels_arg},
  };
  int rc = alec_tool_args(argc, argv, PROG, opts, sizeof opts / sizeof opts[0], usage, &path);
  if (rc != 0)
    return rc > 0 ? 0 : 2;

  alec_format fmt;
  unsigned channels;
  if (alec_tool_format_args(PROG, format_name, channels_arg, &fmt, &channels) < 0)
    return 2;
  if (fmt == ALEC_FORMAT_FIXED && channels == 0) {
    fprintf(stderr, PROG ": --format fixed needs --channels 1..%d\n", ALEC_FIXED_MAX_CHANNELS);
    return 2;
  }

  FILE *in = alec_tool_open_input(path);
  if (!in)
    return 2;

  alec_decoder_config cfg;
  alec_decoder_config_init(&cfg);
  if (strict)
    cfg.flags |= ALEC_DECODER_STRICT_REFERENCE;
  alec_decoder *dec = NULL;
  rc = alec_decoder_new(&dec, &cfg);
  if (rc < 0) {
    fprintf(stderr, PROG ": cannot create a decoder: %s\n", alec_strerror(rc));
    return alec_tool_finish(in, 1);
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
  return alec_tool_finish(in, status);
}
