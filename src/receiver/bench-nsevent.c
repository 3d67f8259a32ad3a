/* SPDX-License-Identifier: MIT */
/* Per-message cost of the network-server event parser (nsevent.h): every
 * LoRaWAN uplink is one MQTT message, so this is paid once per value
 * frame. Baseline, in the same run and interleaved: yajl's callback parser
 * over the same bytes with callbacks that do nothing (the JSON cost that
 * any yajl-based reader pays). Also the cost of refusing hostile messages
 * (10,000-deep nesting, a truncated event). Prints a table of medians and
 * ranges; asserts nothing.
 *
 *   bench-nsevent [FIXTURE_DIR]   (default tests/fixtures/lorawan) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#include "nsevent.h"

#define ROUNDS 9
#define EVENTS 20000

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int nop(void *c) { return c != NULL; }
static int nop_b(void *c, int b) { return c != NULL || b; }
static int nop_s(void *c, const unsigned char *s, size_t n) { return c != NULL || s || n; }
static int nop_n(void *c, const char *s, size_t n) { return c != NULL || s || n; }
static const yajl_callbacks nop_cb = {nop, nop_b, NULL, NULL, nop_n, nop_s, nop, nop_s, nop, nop, nop};
static int sink = 1;

typedef struct input {
  const char *name;
  int dialect;
  uint8_t *b;
  size_t n;
  int want;
} input;

/* ns per message, one round. */
static double run(const input *in, int baseline) {
  static alec_ns_uplink u;
  double t = cpu_now();
  for (int i = 0; i < EVENTS; i++) {
    if (baseline) {
      yajl_handle h = yajl_alloc(&nop_cb, NULL, &sink);
      if (yajl_parse(h, in->b, in->n) == yajl_status_ok) yajl_complete_parse(h);
      yajl_free(h);
    } else if (alec_ns_parse_uplink(in->dialect, in->b, in->n, &u) != in->want) {
      fprintf(stderr, "bench-nsevent: %s: unexpected result\n", in->name);
      exit(1);
    }
  }
  return (cpu_now() - t) / EVENTS * 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static uint8_t *load(const char *dir, const char *file, size_t *n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  uint8_t *b = malloc(ALEC_NS_EVENT_MAX);
  if (b == NULL) exit(1);
  *n = fread(b, 1, ALEC_NS_EVENT_MAX, f);
  fclose(f);
  return b;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/fixtures/lorawan";
  input in[4] = {
      {"chirpstack v4 up", ALEC_NS_CHIRPSTACK, NULL, 0, 0},
      {"tts v3 up", ALEC_NS_TTS, NULL, 0, 0},
      {"10,000-deep", ALEC_NS_CHIRPSTACK, NULL, 0, ALEC_NS_EDEPTH},
      {"truncated", ALEC_NS_CHIRPSTACK, NULL, 0, ALEC_NS_ETRUNCATED},
  };
  in[0].b = load(dir, "chirpstack_up.json", &in[0].n);
  in[1].b = load(dir, "tts_up.json", &in[1].n);
  in[2].n = 5 + 2 * 10000 + 1;
  in[2].b = malloc(in[2].n);
  if (in[2].b == NULL) return 1;
  memcpy(in[2].b, "{\"x\":", 5);
  memset(in[2].b + 5, '[', 10000);
  memset(in[2].b + 5 + 10000, ']', 10000);
  in[2].b[in[2].n - 1] = '}';
  in[3].b = load(dir, "cs_truncated.json", &in[3].n);

  printf("nsevent: CPU ns per message, median [min-max] of %d interleaved rounds of %d messages\n", ROUNDS, EVENTS);
  printf("baseline: yajl callback parser, no-op callbacks, same bytes\n\n");
  printf("%-18s %6s %22s %22s %7s\n", "message", "bytes", "yajl (baseline)", "alec_ns_parse_uplink", "ratio");
  for (int k = 0; k < 4; k++) {
    double base[ROUNDS], ns[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
      base[r] = run(&in[k], 1);
      ns[r] = run(&in[k], 0);
    }
    qsort(base, ROUNDS, sizeof base[0], cmp);
    qsort(ns, ROUNDS, sizeof ns[0], cmp);
    char a[64], b[64];
    snprintf(a, sizeof a, "%.0f [%.0f-%.0f]", base[ROUNDS / 2], base[0], base[ROUNDS - 1]);
    snprintf(b, sizeof b, "%.0f [%.0f-%.0f]", ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1]);
    printf("%-18s %6zu %22s %22s %6.2fx\n", in[k].name, in[k].n, a, b, ns[ROUNDS / 2] / base[ROUNDS / 2]);
  }
  printf("\n(the baseline reads a 10,000-deep message to its end; the parser stops at depth %d)\n",
         ALEC_NS_DEPTH_MAX);
  for (int k = 0; k < 4; k++) free(in[k].b);
  return 0;
}
