/* SPDX-License-Identifier: MIT */
/* alec-send: encodes values with libalec and sends the frames over UDP,
 * wrapped in envelope datagrams (docs/ENVELOPE.md) or bare.
 *
 * This file is meant to be read by embedded C users: an emitter needs one
 * alec_encoder per device (keep it for the device's lifetime: the receiver
 * follows its state), one alec_encode_*() call per reading, and one
 * alec_envelope_add() per frame so the receiver knows who sent it.
 *
 *   alec-send --to HOST:PORT --scenario spike|recovery|drift|shift|groups|noisy
 *             [--emitters N] [--steps N] [--channels N] [--format F] [--seed S]
 *   alec-send --to HOST:PORT --csv FILE --emitter ID [--format F]
 *   alec-send --to HOST:PORT --hex [FILE] --emitter ID --format F [--channels N]
 * common: --rate FRAMES_PER_S (0: unpaced) --loss P --batch N --bare
 *         --bind ADDR:PORT --mtu BYTES --seed S --quiet
 * impairments and checks: --dup P --reorder P --log-values FILE
 *         --start-time EPOCH --step-channel --no-downlink
 *
 * Downlink: the receiver may ask an emitter for a keyframe (docs/ENVELOPE.md,
 * "Downlink"). alec-send reads its socket between sends and hands each
 * request to that emitter's encoder (alec_encoder_downlink), so the next
 * frame re-synchronises the receiver: all an emitter that can receive has
 * to do.
 * signing (docs/SECURITY.md): --key-file F --key-id N | --key HEX --key-id N
 *         [--counter C]
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alec/alec.h"
#include "alec/downlink.h"
#include "alec/auth.h"
#include "alec/envelope.h"
#include "scenario.h"

#define DEFAULT_PORT "25830"
#define CSV_COLS_MAX 255 /* a multi frame carries at most 255 values */

typedef enum { MODE_NONE, MODE_SCENARIO, MODE_CSV, MODE_HEX } send_mode;

typedef struct options {
  const char *to, *bind;
  send_mode mode;
  const char *scenario, *csv, *hex;
  unsigned emitters, steps, channels;
  int emitters_set, steps_set;
  uint64_t emitter; /* the emitter id (csv, hex), the first id (scenario) */
  alec_format format;
  double rate, loss;
  uint64_t seed;
  unsigned batch;
  size_t mtu;
  int bare, quiet, print_config;
  double dup, reorder;    /* per datagram */
  const char *log_values; /* emitter step channel value sent|lost, one per line */
  double start_time;      /* legacy timestamps EPOCH + step seconds (scenario) */
  int start_time_set, step_channel, no_downlink;
  const char *key_file, *key_text; /* signing: --key-file or --key */
  long key_id;                     /* -1: not given */
  uint64_t counter;                /* first datagram counter, 0: the clock */
} options;

/* ---- sending: pacing, loss, batching -------------------------------------- */

typedef struct sender {
  int fd;
  struct sockaddr_storage to;
  socklen_t tolen;
  int bare;
  unsigned batch;
  size_t mtu;
  /* ALEC_ENVELOPE_FLAG_RUN when every batched frame comes from one emitter:
   * its id and descriptor then travel once per datagram. */
  unsigned env_flags;
  uint8_t dgram[ALEC_ENVELOPE_MAX_DATAGRAM];
  alec_envelope_writer w;
  double rate, loss;
  uint64_t rng;
  struct timespec start;
  uint64_t frames, lost, datagrams, bytes, frame_bytes;
  /* --dup / --reorder: datagrams held back, each released once `release`
   * fresh datagrams have gone out. */
  double dup, reorder;
  struct {
    uint8_t *buf;
    size_t len;
    uint64_t release;
  } held[16];
  unsigned n_held;
  uint64_t fresh, dups, reordered;
  /* Downlink: the encoders of the emitters first_id .. first_id+n_enc-1. */
  int downlink;
  alec_encoder **enc;
  size_t n_enc;
  uint64_t first_id;
  uint64_t dl_datagrams, dl_requests, dl_ignored;
  /* --log-values; multi frames may leave channels out (P5): a lossless
   * decoder per emitter tells which ones a frame carried. */
  FILE *log;
  alec_decoder **shadow;
  uint64_t step;
  int last_lost;
  /* Signing: every datagram gets the next counter (docs/SECURITY.md). */
  int sign;
  uint16_t key_id;
  uint8_t key[ALEC_AUTH_KEY_MAX];
  size_t key_len;
  uint64_t counter;
} sender;

static uint64_t rng_next(uint64_t *s) {
  /* splitmix64: deterministic for a given --seed */
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double elapsed(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) * 1e-9;
}

/* Frame k is due at start + k / rate. Sleeping only when more than 1 ms
 * ahead keeps the average exact without a syscall per frame. */
static void pace(sender *s) {
  if (s->rate <= 0) return;
  double due = (double)s->frames / s->rate;
  double ahead = due - elapsed(&s->start);
  if (ahead < 0.001) return;
  struct timespec t = s->start;
  double whole = floor(due);
  t.tv_sec += (time_t)whole;
  t.tv_nsec += (long)((due - whole) * 1e9);
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
  }
}

static int send_now(sender *s, const uint8_t *buf, size_t len) {
  if (sendto(s->fd, buf, len, 0, (const struct sockaddr *)&s->to, s->tolen) < 0) {
    fprintf(stderr, "alec-send: sendto: %s\n", strerror(errno));
    return -1;
  }
  s->datagrams++;
  s->bytes += len;
  return 0;
}

#define HELD_MAX (sizeof(((sender *)0)->held) / sizeof(((sender *)0)->held[0]))

static int chance(sender *s, double p) { return (double)(rng_next(&s->rng) >> 11) * 0x1.0p-53 < p; }

static int hold(sender *s, const uint8_t *buf, size_t len, uint64_t after) {
  uint8_t *copy = malloc(len);
  if (copy == NULL) return -1;
  memcpy(copy, buf, len);
  s->held[s->n_held].buf = copy;
  s->held[s->n_held].len = len;
  s->held[s->n_held].release = s->fresh + after;
  s->n_held++;
  return 0;
}

/* Sends the held datagrams that are due (all with `all`), oldest first. */
static int release_held(sender *s, int all) {
  int rc = 0;
  unsigned k = 0;
  for (unsigned i = 0; i < s->n_held; i++) {
    if (all || s->held[i].release <= s->fresh) {
      if (send_now(s, s->held[i].buf, s->held[i].len) != 0) rc = -1;
      free(s->held[i].buf);
    } else {
      s->held[k++] = s->held[i];
    }
  }
  s->n_held = k;
  return rc;
}

/* --reorder holds a datagram back until 1..3 later ones have left (the
 * receiver sees it late); --dup sends a copy 0..3 datagrams later. */
static int send_datagram(sender *s, const uint8_t *buf, size_t len) {
  if (s->dup <= 0 && s->reorder <= 0) return send_now(s, buf, len);
  int rc = 0;
  int late = s->reorder > 0 && chance(s, s->reorder) && s->n_held < HELD_MAX;
  int dup = s->dup > 0 && chance(s, s->dup);
  if (late && hold(s, buf, len, 1 + rng_next(&s->rng) % 3) == 0) {
    s->reordered++;
  } else {
    rc = send_now(s, buf, len);
    s->fresh++;
  }
  if (dup) {
    s->dups++;
    if (s->n_held >= HELD_MAX || hold(s, buf, len, rng_next(&s->rng) % 4) != 0) rc |= send_now(s, buf, len);
  }
  return release_held(s, 0) != 0 ? -1 : rc;
}

static alec_encoder *encoder_of(sender *s, uint64_t id) {
  if (s->enc == NULL || id < s->first_id || id - s->first_id >= s->n_enc) return NULL;
  return s->enc[id - s->first_id];
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return 0;
}

/* Reads pending downlink datagrams without blocking. Only the receiver we
 * send to may ask: anything from another address is ignored. */
static void poll_downlink(sender *s) {
  if (!s->downlink) return;
  for (int k = 0; k < 64; k++) {
    uint8_t buf[2048];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t n = recvfrom(s->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n < 0) return;
    if (!same_addr(&from, &s->to)) {
      s->dl_ignored++;
      continue;
    }
    s->dl_datagrams++;
    if (n == 1 && buf[0] == ALEC_DOWNLINK_KEYFRAME) {
      /* The bare form: for the one emitter that sends bare frames. */
      if (s->bare && s->n_enc == 1 && alec_encoder_downlink(s->enc[0], buf, 1) == 0) s->dl_requests++;
      else s->dl_ignored++;
      continue;
    }
    alec_downlink_record recs[256];
    int m = alec_downlink_read(buf, (size_t)n, recs, 256);
    if (m < 0) {
      s->dl_ignored++;
      continue;
    }
    for (int i = 0; i < m && i < 256; i++) {
      alec_encoder *e = encoder_of(s, recs[i].emitter);
      if (e && alec_encoder_downlink(e, &recs[i].command, 1) == 0) s->dl_requests++;
      else s->dl_ignored++;
    }
  }
}

static int flush(sender *s) {
  if (s->w.count == 0) return 0;
  size_t len = s->w.len;
  if (s->sign) {
    /* The writer's cap left room for the trailer (see main). */
    long sl = alec_auth_sign(s->dgram, len, sizeof s->dgram, s->key_id, s->key, s->key_len, s->counter++);
    if (sl < 0) {
      fprintf(stderr, "alec-send: cannot sign a %zu-byte datagram: %s\n", len, alec_strerror((int)sl));
      return -1;
    }
    len = (size_t)sl;
  }
  int rc = send_datagram(s, s->dgram, len);
  alec_envelope_writer_init(&s->w, s->dgram, s->mtu, s->env_flags);
  return rc;
}

/* Sends (or, with --loss, drops) one frame. A dropped frame was encoded all
 * the same, so the receiver sees the sequence gap a real loss leaves. */
static int send_frame(sender *s, uint64_t emitter, alec_format fmt, unsigned channels, const uint8_t *frame,
                      size_t len) {
  pace(s);
  /* A paced sender has time to spare; an unpaced one looks now and then. */
  if (s->rate > 0 || (s->frames & 31) == 0) poll_downlink(s);
  s->frames++;
  s->frame_bytes += len;
  s->last_lost = 0;
  if (s->loss > 0 && (double)(rng_next(&s->rng) >> 11) * 0x1.0p-53 < s->loss) {
    s->lost++;
    s->last_lost = 1;
    return 0;
  }
  if (s->bare) return send_datagram(s, frame, len);
  size_t need = alec_envelope_record_overhead(emitter, fmt, len) + len;
  if ((s->w.len + need > s->w.cap || !alec_envelope_fits_run(&s->w, emitter, fmt, channels)) && flush(s) != 0)
    return -1;
  /* A frame larger than --mtu still goes out, alone in its datagram. */
  if (s->w.len + need > s->w.cap) alec_envelope_writer_init(&s->w, s->dgram, sizeof s->dgram, s->env_flags);
  int rc = alec_envelope_add(&s->w, emitter, fmt, channels, frame, len);
  if (rc < 0) {
    fprintf(stderr, "alec-send: emitter %" PRIu64 ": cannot wrap a %zu-byte %s frame: %s\n", emitter, len,
            alec_format_name(fmt), alec_strerror(rc));
    return -1;
  }
  if (s->w.count >= s->batch || s->w.cap > s->mtu) return flush(s);
  return 0;
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* --log-values: what was generated, for end-to-end checks (channels
 * first .. first+n-1 of the frame just sent or dropped; `carried`, if not
 * NULL, says which ones the frame holds). */
static void log_values(sender *s, uint64_t emitter, const double *v, unsigned first, unsigned n,
                       const uint8_t *carried) {
  if (s->log == NULL) return;
  for (unsigned c = 0; c < n; c++)
    fprintf(s->log, "%" PRIu64 " %" PRIu64 " %u %.17g %s\n", emitter, s->step, first + c, v[c],
            carried && !carried[c] ? "omitted" : s->last_lost ? "lost" : "sent");
}

/* Which channels a multi frame carries (all, when it cannot tell). */
static void multi_carried(sender *s, uint64_t emitter, const uint8_t *frame, size_t len, uint8_t *carried,
                          unsigned n) {
  memset(carried, 1, n);
  if (s->log == NULL || s->enc == NULL || emitter - s->first_id >= s->n_enc) return;
  size_t i = (size_t)(emitter - s->first_id);
  if (s->shadow == NULL && (s->shadow = calloc(s->n_enc, sizeof *s->shadow)) == NULL) return;
  if (s->shadow[i] == NULL && alec_decoder_new(&s->shadow[i], NULL) != 0) return;
  alec_value out[255];
  int m = alec_decoder_decode(s->shadow[i], ALEC_FORMAT_MULTI, 0, frame, len, out, 255, NULL);
  if (m < 0) return;
  memset(carried, 0, n);
  for (int k = 0; k < m; k++)
    if (out[k].id < n) carried[out[k].id] = 1;
}

static void shadow_free(sender *s) {
  for (size_t i = 0; s->shadow && i < s->n_enc; i++) alec_decoder_free(s->shadow[i]);
  free(s->shadow);
  s->shadow = NULL;
}

/* Encodes one reading of an emitter (values[c] is channel c) and sends the
 * frame(s): single = one frame per channel (source_id = c), multi = one frame
 * (name_id = c), fixed = one frame (position c). The same channel number c
 * names a channel in every format, as the plugin's Channel option does. */
static int send_reading(sender *s, alec_encoder *enc, uint64_t emitter, alec_format fmt, const double *values,
                        unsigned n, uint64_t ts_ms) {
  uint8_t frame[ALEC_FRAME_MAX];
  int len;
  switch (fmt) {
  case ALEC_FORMAT_SINGLE:
  case ALEC_FORMAT_SINGLE_XXH32:
    for (unsigned c = 0; c < n; c++) {
      len = alec_encode_single(enc, c, values[c], ts_ms, frame, sizeof frame, NULL);
      if (len < 0 || send_frame(s, emitter, fmt, 0, frame, (size_t)len) != 0) goto fail;
      log_values(s, emitter, values + c, c, 1, NULL);
    }
    return 0;
  case ALEC_FORMAT_MULTI:
    len = alec_encode_multi(enc, values, n, ts_ms, frame, sizeof frame);
    if (len < 0) goto fail;
    if (send_frame(s, emitter, fmt, 0, frame, (size_t)len) != 0) return -1;
    if (s->log) {
      uint8_t carried[255];
      multi_carried(s, emitter, frame, (size_t)len, carried, n < 255 ? n : 255);
      log_values(s, emitter, values, 0, n, carried);
    }
    return 0;
  case ALEC_FORMAT_FIXED:
    len = alec_encode_fixed(enc, values, n, frame, sizeof frame);
    if (len < 0) goto fail;
    if (send_frame(s, emitter, fmt, n, frame, (size_t)len) != 0) return -1;
    log_values(s, emitter, values, 0, n, NULL);
    return 0;
  }
  len = ALEC_EINVAL;
fail:
  if (len < 0) fprintf(stderr, "alec-send: emitter %" PRIu64 ": encode: %s\n", emitter, alec_strerror(len));
  return -1;
}

static int new_encoder(alec_encoder **enc, alec_format fmt) {
  alec_encoder_config cfg;
  alec_encoder_config_init(&cfg);
  cfg.checksum = fmt == ALEC_FORMAT_SINGLE_XXH32;
  int rc = alec_encoder_new(enc, &cfg);
  if (rc < 0) fprintf(stderr, "alec-send: encoder: %s\n", alec_strerror(rc));
  return rc;
}

/* ---- modes ------------------------------------------------------------------ */

static int run_scenario(sender *s, const options *o) {
  alec_scenario sc;
  if (alec_scenario_init(&sc, o->scenario) != 0) {
    fprintf(stderr, "alec-send: unknown scenario \"%s\" (spike, recovery, drift, shift, groups, noisy)\n", o->scenario);
    return -1;
  }
  if (o->emitters_set) sc.emitters = o->emitters;
  if (o->steps_set) sc.steps = o->steps;
  sc.channels = o->channels ? o->channels : 1;
  sc.seed = o->seed;
  /* --step-channel: one more channel carrying the step number, so that a
   * check can tell which step any delivered value belongs to. */
  unsigned nch = sc.channels + (o->step_channel ? 1u : 0u);
  if (o->format == ALEC_FORMAT_FIXED && nch > ALEC_FIXED_MAX_CHANNELS) {
    fprintf(stderr, "alec-send: --step-channel needs a channel more than the %d of a fixed frame\n",
            ALEC_FIXED_MAX_CHANNELS);
    return -1;
  }
  if (o->print_config) {
    for (unsigned i = 0; i < sc.emitters; i++) {
      uint64_t id = o->emitter + i;
      /* collectd reads unquoted numbers as doubles: quote ids above 2^53. */
      if (id > (UINT64_C(1) << 53)) printf("<Emitter \"%" PRIu64 "\">\n", id);
      else printf("<Emitter %" PRIu64 ">\n", id);
      printf("  Format \"%s\"\n", alec_format_name(o->format));
      if (o->format == ALEC_FORMAT_FIXED) printf("  Channels %u\n", nch);
      if (alec_scenario_group(&sc, i)[0]) printf("  Group \"%s\"\n", alec_scenario_group(&sc, i));
      printf("</Emitter>\n");
    }
    return 0;
  }
  if (o->bare && sc.emitters > 1) {
    fprintf(stderr, "alec-send: --bare sends no emitter id, so it takes one emitter (--emitters 1)\n");
    return -1;
  }
  alec_encoder **enc = calloc(sc.emitters, sizeof(*enc));
  double *values = calloc(nch, sizeof(*values));
  int rc = enc && values ? 0 : -1;
  for (unsigned i = 0; i < sc.emitters && rc == 0; i++) rc = new_encoder(&enc[i], o->format);
  s->enc = enc;
  s->n_enc = rc == 0 ? sc.emitters : 0;
  s->first_id = o->emitter;
  for (unsigned t = 0; t < sc.steps && rc == 0; t++) {
    s->step = t;
    /* --start-time: one step per second of emitter clock, e.g. in the past
     * (the plugin then stores the values at exactly that time). */
    uint64_t ts = o->start_time_set ? (uint64_t)llround(o->start_time * 1000) + (uint64_t)t * 1000u : now_ms();
    for (unsigned i = 0; i < sc.emitters && rc == 0; i++) {
      for (unsigned c = 0; c < sc.channels; c++) values[c] = alec_scenario_value(&sc, i, t, c);
      if (o->step_channel) values[sc.channels] = (double)t;
      rc = send_reading(s, enc[i], o->emitter + i, o->format, values, nch, ts);
    }
  }
  shadow_free(s);
  s->enc = NULL;
  s->n_enc = 0;
  for (unsigned i = 0; enc && i < sc.emitters; i++) alec_encoder_free(enc[i]);
  free(enc);
  free(values);
  return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (UTC; timegm() is
 * not POSIX). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* "2024-01-15T00:01:00[.sss][Z]" (UTC) or a number: seconds, or
 * milliseconds when above 1e11. */
static int parse_time_ms(const char *s, uint64_t *ms) {
  int y, mo, d, h, mi;
  double sec;
  if (sscanf(s, "%d-%d-%d%*[T ]%d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) == 6) {
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || sec < 0) return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (days < 0) return -1;
    *ms = (uint64_t)(days * 86400 + h * 3600 + mi * 60) * 1000u + (uint64_t)llround(sec * 1000);
    return 0;
  }
  char *end;
  double v = strtod(s, &end);
  if (end == s || !(v >= 0)) return -1;
  *ms = v > 1e11 ? (uint64_t)v : (uint64_t)llround(v * 1000);
  return 0;
}

/* Splits a CSV line in place (no quoting: sensor data). */
static unsigned split_csv(char *line, char **field, unsigned cap) {
  unsigned n = 0;
  char *p = line;
  while (n < cap) {
    field[n++] = p;
    char *comma = strchr(p, ',');
    if (comma == NULL) break;
    *comma = '\0';
    p = comma + 1;
  }
  return n;
}

static int run_csv(sender *s, const options *o) {
  FILE *f = fopen(o->csv, "r");
  if (f == NULL) {
    fprintf(stderr, "alec-send: %s: %s\n", o->csv, strerror(errno));
    return -1;
  }
  alec_encoder *enc = NULL;
  int rc = new_encoder(&enc, o->format);
  if (rc == 0) {
    s->enc = &enc;
    s->n_enc = 1;
    s->first_id = o->emitter;
  }
  uint64_t row = 0;
  char line[8192];
  char *field[CSV_COLS_MAX + 1];
  double values[CSV_COLS_MAX];
  unsigned cols = 0;
  unsigned long lineno = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#') continue;
    unsigned n = split_csv(line, field, CSV_COLS_MAX + 1);
    uint64_t ts;
    if (n < 2 || parse_time_ms(field[0], &ts) != 0) {
      if (lineno == 1) continue; /* header */
      fprintf(stderr, "alec-send: %s:%lu: expected TIMESTAMP,VALUE[,VALUE...]\n", o->csv, lineno);
      rc = -1;
      break;
    }
    if (cols == 0) cols = n - 1;
    if (n - 1 != cols || (o->format == ALEC_FORMAT_FIXED && cols > ALEC_FIXED_MAX_CHANNELS)) {
      fprintf(stderr, "alec-send: %s:%lu: %u values (expected %u, at most %d for fixed)\n", o->csv, lineno, n - 1,
              cols, ALEC_FIXED_MAX_CHANNELS);
      rc = -1;
      break;
    }
    for (unsigned c = 0; c < cols; c++) {
      char *end;
      values[c] = strtod(field[c + 1], &end);
      if (end == field[c + 1]) values[c] = NAN; /* empty cell: a missing reading */
    }
    s->step = row++;
    rc = send_reading(s, enc, o->emitter, o->format, values, cols, ts);
  }
  shadow_free(s);
  s->enc = NULL;
  s->n_enc = 0;
  alec_encoder_free(enc);
  fclose(f);
  return rc;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int run_hex(sender *s, const options *o) {
  FILE *f = stdin;
  if (o->hex && strcmp(o->hex, "-") != 0 && (f = fopen(o->hex, "r")) == NULL) {
    fprintf(stderr, "alec-send: %s: %s\n", o->hex, strerror(errno));
    return -1;
  }
  if (o->format == ALEC_FORMAT_FIXED && o->channels == 0 && !o->bare) {
    fprintf(stderr, "alec-send: --format fixed needs --channels N\n");
    if (f != stdin) fclose(f);
    return -1;
  }
  char line[2 * ALEC_FRAME_MAX + 1024];
  uint8_t frame[ALEC_FRAME_MAX];
  unsigned long lineno = 0;
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = 0;
    int hi = -1, bad = 0;
    for (char *p = line; *p && *p != '#' && !bad; p++) {
      if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ':') continue;
      int v = hexval((unsigned char)*p);
      if (v < 0 || n >= sizeof frame) bad = 1;
      else if (hi < 0) hi = v;
      else {
        frame[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
      }
    }
    if (bad || hi >= 0) {
      fprintf(stderr, "alec-send: %s:%lu: not a hex frame of at most %d bytes\n", o->hex ? o->hex : "stdin", lineno,
              ALEC_FRAME_MAX);
      rc = -1;
    } else if (n > 0) {
      rc = send_frame(s, o->emitter, o->format, o->channels, frame, n);
    }
  }
  if (f != stdin) fclose(f);
  return rc;
}

/* ---- command line --------------------------------------------------------------- */

static void usage(FILE *out) {
  fputs("usage: alec-send --to HOST:PORT MODE [options]\n"
        "modes:\n"
        "  --scenario spike|recovery|drift|shift|groups|noisy  synthetic fleet (as fleet_demo)\n"
        "      --emitters N --steps N --channels N --emitter FIRST_ID\n"
        "      --print-config   print the <Emitter> blocks of the scenario for collectd and exit\n"
        "  --csv FILE --emitter ID       replay TIMESTAMP,VALUE... rows (one reading per row)\n"
        "  --hex [FILE] --emitter ID     send ready frames, one hex frame per line (stdin: - or none)\n"
        "options:\n"
        "  --format single|single-xxh32|multi|fixed  (default single; fixed: --channels N)\n"
        "  --rate FRAMES_PER_S   pacing, 0 = as fast as possible (default 1000)\n"
        "  --loss P              drop this fraction of frames after encoding (deterministic)\n"
        "  --batch N             up to N frames per datagram (default 1)\n"
        "  --mtu BYTES           largest batched datagram (default 1452)\n"
        "  --bare                frames without envelope (the receiver knows the sender by address)\n"
        "  --bind ADDR:PORT      local address of the socket (for Source in the plugin config)\n"
        "  --seed S              scenario noise, --loss, --dup and --reorder (default 1)\n"
        "  --dup P               send this fraction of datagrams twice (the copy 0..3 datagrams later)\n"
        "  --reorder P           deliver this fraction of datagrams 1..3 datagrams late\n"
        "  --log-values FILE     write \"emitter step channel value sent|lost\" per generated value\n"
        "  --start-time EPOCH    scenario: frame timestamps EPOCH + step seconds (single, multi)\n"
        "  --step-channel        scenario: one more channel whose value is the step number\n"
        "  --no-downlink         ignore keyframe requests of the receiver\n"
        "  --key-file F --key-id N   sign every datagram with key N of an AuthFile\n"
        "  --key HEX|base64:B64 --key-id N   the same with the key given directly\n"
        "  --counter C           first datagram counter (default: microseconds since 1970)\n"
        "  --quiet               no summary\n"
        "HOST:PORT: 127.0.0.1:25830, [::1]:25830, or HOST alone for port " DEFAULT_PORT ".\n",
        out);
}

static int split_hostport(const char *arg, char *host, size_t hcap, char *port, size_t pcap) {
  const char *colon = NULL;
  if (arg[0] == '[') {
    const char *close = strchr(arg, ']');
    if (close == NULL || (size_t)(close - arg - 1) >= hcap) return -1;
    memcpy(host, arg + 1, (size_t)(close - arg - 1));
    host[close - arg - 1] = '\0';
    colon = close[1] == ':' ? close + 1 : NULL;
    if (close[1] != '\0' && colon == NULL) return -1;
  } else {
    colon = strrchr(arg, ':');
    /* Two colons and no brackets: a bare IPv6 address without port. */
    if (colon && strchr(arg, ':') != colon) colon = NULL;
    size_t hl = colon ? (size_t)(colon - arg) : strlen(arg);
    if (hl >= hcap) return -1;
    memcpy(host, arg, hl);
    host[hl] = '\0';
  }
  const char *p = colon ? colon + 1 : DEFAULT_PORT;
  if (strlen(p) >= pcap || *p == '\0') return -1;
  strcpy(port, p);
  return 0;
}

static int resolve(const char *arg, int passive, struct sockaddr_storage *out, socklen_t *len) {
  char host[256], port[32];
  if (split_hostport(arg, host, sizeof host, port, sizeof port) != 0) {
    fprintf(stderr, "alec-send: bad address \"%s\" (HOST:PORT)\n", arg);
    return -1;
  }
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    fprintf(stderr, "alec-send: %s: %s\n", arg, gai_strerror(gai));
    return -1;
  }
  memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out) {
  char *end;
  double d = v ? strtod(v, &end) : NAN;
  if (v == NULL || end == v || *end != '\0' || !(d >= lo && d <= hi)) {
    fprintf(stderr, "alec-send: %s expects a number in [%g, %g]\n", opt, lo, hi);
    return -1;
  }
  *out = d;
  return 0;
}

static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->format = ALEC_FORMAT_SINGLE;
  o->rate = 1000;
  o->batch = 1;
  o->mtu = 1452;
  o->seed = 1;
  o->key_id = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    /* Options with a value take it from the next word or after '='. */
    char name[32];
    const char *val = NULL;
    const char *eq = strchr(a, '=');
    if (eq && (size_t)(eq - a) < sizeof name) {
      memcpy(name, a, (size_t)(eq - a));
      name[eq - a] = '\0';
      val = eq + 1;
      a = name;
    }
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : NULL))
    double d;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--to") == 0) {
      o->to = VALUE();
    } else if (strcmp(a, "--bind") == 0) {
      o->bind = VALUE();
    } else if (strcmp(a, "--scenario") == 0) {
      o->mode = MODE_SCENARIO;
      o->scenario = VALUE();
    } else if (strcmp(a, "--csv") == 0) {
      o->mode = MODE_CSV;
      o->csv = VALUE();
    } else if (strcmp(a, "--hex") == 0) {
      o->mode = MODE_HEX;
      /* The file is optional: the next word is one unless it is an option. */
      if (val) o->hex = val;
      else if (i + 1 < argc && argv[i + 1][0] != '-') o->hex = argv[++i];
      else if (i + 1 < argc && strcmp(argv[i + 1], "-") == 0) o->hex = argv[++i];
    } else if (strcmp(a, "--format") == 0) {
      const char *v = VALUE();
      if (v == NULL || alec_format_parse(v, &o->format) != 0) {
        fprintf(stderr, "alec-send: --format expects single, single-xxh32, multi or fixed\n");
        return -1;
      }
    } else if (strcmp(a, "--emitter") == 0) {
      const char *v = VALUE();
      char *end;
      errno = 0;
      /* Decimal or 0x-hex, as the plugin's <Emitter> (a leading 0 is not octal). */
      int hex = v && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
      o->emitter = v ? strtoull(hex ? v + 2 : v, &end, hex ? 16 : 10) : 0;
      if (v == NULL || *v == '-' || *v == '+' || *v == ' ' || end == v + 2 * hex || *end || errno) {
        fprintf(stderr, "alec-send: --emitter expects a 64-bit id\n");
        return -1;
      }
    } else if (strcmp(a, "--emitters") == 0) {
      if (parse_num(a, VALUE(), 1, 1e7, &d)) return -1;
      o->emitters = (unsigned)d;
      o->emitters_set = 1;
    } else if (strcmp(a, "--steps") == 0) {
      if (parse_num(a, VALUE(), 0, 4e9, &d)) return -1;
      o->steps = (unsigned)d;
      o->steps_set = 1;
    } else if (strcmp(a, "--channels") == 0) {
      if (parse_num(a, VALUE(), 1, ALEC_FIXED_MAX_CHANNELS, &d)) return -1;
      o->channels = (unsigned)d;
    } else if (strcmp(a, "--rate") == 0) {
      if (parse_num(a, VALUE(), 0, 1e9, &o->rate)) return -1;
    } else if (strcmp(a, "--loss") == 0) {
      if (parse_num(a, VALUE(), 0, 1, &o->loss)) return -1;
    } else if (strcmp(a, "--batch") == 0) {
      if (parse_num(a, VALUE(), 1, 65535, &d)) return -1;
      o->batch = (unsigned)d;
    } else if (strcmp(a, "--mtu") == 0) {
      if (parse_num(a, VALUE(), 64, ALEC_ENVELOPE_MAX_DATAGRAM, &d)) return -1;
      o->mtu = (size_t)d;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_num(a, VALUE(), 0, 1.8e19, &d)) return -1;
      o->seed = (uint64_t)d;
    } else if (strcmp(a, "--key-file") == 0) {
      o->key_file = VALUE();
    } else if (strcmp(a, "--key") == 0) {
      o->key_text = VALUE();
    } else if (strcmp(a, "--key-id") == 0) {
      if (parse_num(a, VALUE(), 0, 65535, &d)) return -1;
      o->key_id = (long)d;
    } else if (strcmp(a, "--counter") == 0) {
      const char *v = VALUE();
      char *end;
      errno = 0;
      o->counter = v ? strtoull(v, &end, 10) : 0;
      if (v == NULL || *v < '0' || *v > '9' || *end || errno || o->counter == 0) {
        fprintf(stderr, "alec-send: --counter expects an integer in 1..2^64-1\n");
        return -1;
      }
    } else if (strcmp(a, "--dup") == 0) {
      if (parse_num(a, VALUE(), 0, 1, &o->dup)) return -1;
    } else if (strcmp(a, "--reorder") == 0) {
      if (parse_num(a, VALUE(), 0, 1, &o->reorder)) return -1;
    } else if (strcmp(a, "--log-values") == 0) {
      o->log_values = VALUE();
    } else if (strcmp(a, "--start-time") == 0) {
      if (parse_num(a, VALUE(), 0, 4e9, &o->start_time)) return -1;
      o->start_time_set = 1;
    } else if (strcmp(a, "--step-channel") == 0) {
      o->step_channel = 1;
    } else if (strcmp(a, "--no-downlink") == 0) {
      o->no_downlink = 1;
    } else if (strcmp(a, "--bare") == 0) {
      o->bare = 1;
    } else if (strcmp(a, "--quiet") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "--print-config") == 0) {
      o->print_config = 1;
    } else {
      fprintf(stderr, "alec-send: unknown option %s\n", argv[i]);
      return -1;
    }
#undef VALUE
  }
  if (o->mode == MODE_NONE || (o->mode == MODE_SCENARIO && !o->scenario) || (o->mode == MODE_CSV && !o->csv)) {
    usage(stderr);
    return -1;
  }
  if (o->to == NULL && !o->print_config) {
    fprintf(stderr, "alec-send: --to HOST:PORT is required\n");
    return -1;
  }
  if (o->format == ALEC_FORMAT_FIXED && o->mode == MODE_SCENARIO && o->channels == 0) o->channels = 1;
  if (o->key_file && o->key_text) {
    fprintf(stderr, "alec-send: --key-file and --key exclude each other\n");
    return -1;
  }
  if ((o->key_file || o->key_text) != (o->key_id >= 0)) {
    fprintf(stderr, "alec-send: signing needs --key-file F or --key K, and --key-id N\n");
    return -1;
  }
  if ((o->key_file || o->key_text) && o->bare) {
    fprintf(stderr, "alec-send: --bare frames cannot be signed (no envelope)\n");
    return -1;
  }
  return 0;
}

/* The key to sign with; 0 or -1 with a message. */
static int load_key(sender *s, const options *o) {
  if (o->key_file == NULL && o->key_text == NULL) return 0;
  s->key_id = (uint16_t)o->key_id;
  if (o->key_text) {
    int n = alec_auth_key_decode(o->key_text, s->key);
    if (n < 0) {
      fprintf(stderr, "alec-send: --key expects %d..%d bytes as hex or base64:...\n", ALEC_AUTH_KEY_MIN,
              ALEC_AUTH_KEY_MAX);
      return -1;
    }
    s->key_len = (size_t)n;
  } else {
    alec_auth_table *t;
    char err[512];
    if (alec_auth_table_load(&t, o->key_file, err, sizeof err) != 0) {
      fprintf(stderr, "alec-send: --key-file: %s\n", err);
      return -1;
    }
    const alec_auth_key *k = alec_auth_table_find(t, s->key_id);
    if (k == NULL) {
      fprintf(stderr, "alec-send: --key-file %s has no key id %u\n", o->key_file, s->key_id);
      alec_auth_table_free(t);
      return -1;
    }
    memcpy(s->key, k->key, k->key_len);
    s->key_len = k->key_len;
    alec_auth_table_free(t);
  }
  /* The receiver accepts each counter once per key, for ever: starting
   * from the clock keeps a restarted sender above its last run without
   * storing anything (unless it sent over a million datagrams a second). */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  s->counter = o->counter ? o->counter : (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
  s->sign = 1;
  return 0;
}

int main(int argc, char **argv) {
  options o;
  if (parse_args(argc, argv, &o) != 0) return 2;
  if (o.print_config) return run_scenario(NULL, &o) == 0 ? 0 : 1;
  sender *s = calloc(1, sizeof *s);
  if (s == NULL) return 1;
  if (resolve(o.to, 0, &s->to, &s->tolen) != 0) return 2;
  s->fd = socket(s->to.ss_family, SOCK_DGRAM, 0);
  if (s->fd < 0) {
    fprintf(stderr, "alec-send: socket: %s\n", strerror(errno));
    return 1;
  }
  if (o.bind) {
    struct sockaddr_storage local;
    socklen_t ll;
    if (resolve(o.bind, 1, &local, &ll) != 0) return 2;
    if (bind(s->fd, (struct sockaddr *)&local, ll) != 0) {
      fprintf(stderr, "alec-send: bind %s: %s\n", o.bind, strerror(errno));
      return 1;
    }
  }
  s->bare = o.bare;
  s->env_flags = (o.batch > 1 && o.mode != MODE_SCENARIO) ? ALEC_ENVELOPE_FLAG_RUN : 0;
  s->batch = o.batch;
  s->mtu = o.mtu;
  if (load_key(s, &o) != 0) return 2;
  if (s->sign) s->mtu -= ALEC_AUTH_TRAILER_SIZE; /* signed datagrams stay within --mtu */
  s->rate = o.rate;
  s->loss = o.loss;
  s->dup = o.dup;
  s->reorder = o.reorder;
  s->downlink = !o.no_downlink;
  if (o.log_values && (s->log = fopen(o.log_values, "w")) == NULL) {
    fprintf(stderr, "alec-send: --log-values %s: %s\n", o.log_values, strerror(errno));
    return 1;
  }
  s->rng = o.seed ^ UINT64_C(0x5EED5EED5EED5EED);
  alec_envelope_writer_init(&s->w, s->dgram, s->mtu, s->env_flags);
  clock_gettime(CLOCK_MONOTONIC, &s->start);
  int rc = o.mode == MODE_SCENARIO ? run_scenario(s, &o) : o.mode == MODE_CSV ? run_csv(s, &o) : run_hex(s, &o);
  if (rc == 0) rc = flush(s);
  if (release_held(s, 1) != 0) rc = -1;
  if (s->log && fclose(s->log) != 0) {
    fprintf(stderr, "alec-send: --log-values %s: %s\n", o.log_values, strerror(errno));
    rc = -1;
  }
  double secs = elapsed(&s->start);
  if (!o.quiet && (s->dups || s->reordered || s->dl_datagrams || s->dl_ignored))
    fprintf(stderr,
            "alec-send: %" PRIu64 " datagrams duplicated, %" PRIu64 " reordered; %" PRIu64
            " keyframe requests applied (%" PRIu64 " downlink datagrams, %" PRIu64 " ignored)\n",
            s->dups, s->reordered, s->dl_requests, s->dl_datagrams, s->dl_ignored);
  if (!o.quiet)
    fprintf(stderr,
            "alec-send: %" PRIu64 " frames (%" PRIu64 " dropped by --loss), %" PRIu64 " datagrams, %" PRIu64
            " bytes sent (frames %" PRIu64 " bytes), %.3f s, %.0f frames/s\n",
            s->frames, s->lost, s->datagrams, s->bytes, s->frame_bytes, secs, secs > 0 ? (double)s->frames / secs : 0);
  close(s->fd);
  free(s);
  return rc == 0 ? 0 : 1;
}
