/* SPDX-License-Identifier: MIT */
#ifndef ALEC_TOOLUTIL_H
#define ALEC_TOOLUTIL_H

/* Helpers shared by the command-line tools, benchmarks and test drivers
 * (hex frames, numbers written as text, golden-vector JSONL lines, sample
 * CSV files). Not part of libalec: linked from the convenience library
 * src/tools/libalectool.la. Every function returns 0 / a non-negative count
 * or a negative ALEC_E* code. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alec/frame.h"

/* Longest text alec_tool_format_double() writes, with its NUL. */
#define ALEC_TOOL_DBL_BUFSZ 32

/* Strips surrounding whitespace in place; returns the first kept character
 * and stores the kept length in *len (nullable). */
char *alec_tool_trim(char *s, size_t *len);

/* n characters of hex digits (either case, optional "0x" prefix, so "0x"
 * alone is an empty frame) to bytes. ALEC_EINVAL for an odd digit count or
 * a non-hex character, ALEC_EBUFSIZE when the bytes exceed cap (checked
 * before anything is written past cap). */
int alec_tool_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);
/* Lowercase hex of n bytes; out holds 2n + 1 characters. */
void alec_tool_hex_encode(const uint8_t *in, size_t n, char *out);

/* One number token: exactly "0x" followed by 16 hex digits is the binary64
 * bit pattern (so that any NaN payload, -0.0 and denormals travel exactly);
 * anything else is read by strtod, which must consume the whole token
 * (nan, inf, -0, 1e-310, hex floats with a 'p' exponent). ALEC_EINVAL
 * otherwise. */
int alec_tool_parse_double(const char *tok, double *out);
/* Unsigned decimal integer token (digits only) not above max. */
int alec_tool_parse_u64(const char *tok, uint64_t max, uint64_t *out);

/* "%.17g" except NaN -> "nan" (any sign or payload), +/-Inf -> "inf" /
 * "-inf"; with bits != 0 the 16 lowercase hex digits of the binary64
 * pattern. */
void alec_tool_format_double(double v, int bits, char buf[ALEC_TOOL_DBL_BUFSZ]);

/* Splits line in place at runs of spaces, tabs and commas. Returns the token
 * count, ALEC_ERANGE when there are more than max tokens. */
int alec_tool_split(char *line, char **tok, size_t max);

/* Value of the first "key": member found in a single-line JSON object
 * (first occurrence anywhere in the line: meant for flat records such as
 * the golden vectors). A string value is copied unescaped (\" \\ \/ only;
 * other escapes are kept as written) and *is_string set; a literal (number,
 * true, false, null) is copied as written. Returns the copied length,
 * ALEC_ENOTFOUND when the key is absent, ALEC_EBUFSIZE when it does not fit
 * in cap - 1 characters, ALEC_EMALFORMED on an unterminated value. */
int alec_tool_json_field(const char *line, const char *key, char *out, size_t cap,
                         int *is_string);

/* A sample dataset: a header line, then rows whose first column is a time
 * (ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z]" in UTC, or an integer count of
 * milliseconds) followed by numeric value columns. */
typedef struct alec_tool_table {
  size_t rows;
  size_t cols;     /* value columns, i.e. without the time column */
  double *v;       /* rows x cols, row-major */
  uint64_t *ts_ms; /* per row */
  char **names;    /* cols column names from the header */
} alec_tool_table;

/* Loads at most max_rows rows (ALEC_ERANGE beyond) of at most 255 value
 * columns. ALEC_EIO when the file cannot be read, ALEC_EMALFORMED on a bad
 * cell (a message naming the line goes to stderr), ALEC_ENOMEM. */
int alec_tool_csv_load(const char *path, size_t max_rows, alec_tool_table *t);
void alec_tool_table_free(alec_tool_table *t);
/* ISO 8601 UTC time or integer milliseconds, as in the CSV time column. */
int alec_tool_parse_time_ms(const char *s, uint64_t *out);

/* One option of a command-line tool. With value set, "--name V" or
 * "--name=V" stores V in *value; otherwise "--name" sets *flag to 1. */
typedef struct alec_tool_opt {
  const char *name;
  int *flag;
  const char **value;
} alec_tool_opt;

/* The command line of a filter tool: the n options, --help / -h (usage()
 * to stdout), --version, "--" and at most one operand, the input FILE
 * (stored in *path, left alone when absent; "-" is an operand). Messages
 * start with prog. Returns 0 to go on, 1 when --help or --version was
 * printed (exit 0), ALEC_EINVAL on a usage error, already reported on
 * stderr (exit 2). */
int alec_tool_args(int argc, char **argv, const char *prog, const alec_tool_opt *opts, size_t n,
                   void (*usage)(FILE *out), const char **path);

/* The --format (required) and --channels (optional, 1..64; *channels = 0
 * when absent) arguments of alec-encode and alec-decode. ALEC_EINVAL after
 * a message on stderr. */
int alec_tool_format_args(const char *prog, const char *format_name, const char *channels_arg,
                          alec_format *fmt, unsigned *channels);

/* The input named on the command line: NULL or "-" is stdin. NULL after
 * perror(path) when it cannot be opened. */
FILE *alec_tool_open_input(const char *path);
/* Ends a filter tool: closes in unless it is stdin, flushes stdout and
 * returns status, or 1 when stdout could not be written (perror'd). */
int alec_tool_finish(FILE *in, int status);

#endif
