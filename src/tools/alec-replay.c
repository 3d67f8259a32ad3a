/* SPDX-License-Identifier: MIT */
/* alec-replay: a recorded stream through the receiver and the fleet module
 * the plugin runs, in the recording's own time, printing the fleet's events
 * as `event ...` lines (the format of fleet_demo --events) and what the
 * replay cost in CPU seconds. Operators tune <Fleet> options on their own
 * traffic with it before deploying them; tests run weeks of a 10-minute
 * cadence in seconds.
 *
 * Input: JSON lines {"time": unix seconds, "emitter": id (number, or a
 * string in decimal or 0x-hex), "format": "fixed"|"single"|..., "frame_hex":
 * "...", optional "channels" (fixed frames) and "group"}. Records must come
 * in time order (a record earlier than the previous one is replayed at the
 * previous one's time, counted). Each record is one message of a transport
 * that identified its emitter (as MQTT does); after each the fleet is scored
 * as the dispatch thread does after a batch, and the evaluation timer runs
 * every --interval seconds of recorded time in between. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/frame.h"
#include "config.h"
#include "queue.h"
#include "receiver.h"
#include "toolutil.h"

#define PROG "alec-replay"
#define LINE_MAX_LEN 8192

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " [options] [FILE]\n"
          "Replays JSON lines {time, emitter, format, frame_hex[, channels, group]} (FILE or\n"
          "stdin) through the receiver and the fleet in the recording's time; prints one line\n"
          "per fleet event and CPU statistics.\n"
          "  --threshold Z --exit-threshold Z --failure-threshold Z --enter-count N\n"
          "  --exit-count N --min-peers N --mad-floor X --stale-periods K\n"
          "  --silent-fraction F --shift-alpha A   the <Fleet> options of collectd-alec(5)\n"
          "  --emitter-timeout S (3600) --max-emitters N (10000)   as EmitterTimeout, MaxEmitters\n"
          "  --interval S   evaluation timer in recorded seconds (0.1, EvaluationInterval)\n"
          "  --quiet        statistics only\n");
}

typedef struct replay {
  int quiet;
  uint64_t events[ALEC_FLEET_EVENT_KIND_COUNT];
  uint64_t log_lines;
} replay;

static void on_log(void *arg, int level, const char *msg) {
  replay *r = arg;
  r->log_lines++;
  if (level <= ALEC_RX_LOG_WARNING && !r->quiet) fprintf(stderr, PROG ": %s\n", msg);
}

static void on_values(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible) {
  (void)arg, (void)unconvertible;
  *dispatched += f->n;
}

/* The lines of fleet_demo --events, with the recording's time. */
static void on_event(void *arg, const alec_fleet_event *ev) {
  replay *r = arg;
  if ((unsigned)ev->kind < ALEC_FLEET_EVENT_KIND_COUNT) r->events[ev->kind]++;
  if (r->quiet) return;
  const char *sev = alec_fleet_state_name(ev->severity);
  const char *g = ev->group && ev->group[0] ? ev->group : "-";
  switch (ev->kind) {
  case ALEC_FLEET_EVENT_EMITTER:
    printf("event t=%.3f emitter=%" PRIu64 " channel=%" PRIu32 " state=%s score=%.3f%s\n", ev->time,
           ev->emitter_id, ev->channel, sev, ev->score, ev->removed ? " removed=1" : "");
    break;
  case ALEC_FLEET_EVENT_SHIFT:
    printf("shift t=%.3f group=%s channel=%" PRIu32 " state=%s score=%.3f\n", ev->time, g, ev->channel,
           sev, ev->score);
    break;
  case ALEC_FLEET_EVENT_STALE:
    printf("stale t=%.3f emitter=%" PRIu64 " group=%s state=%s silent=%.3f%s\n", ev->time, ev->emitter_id,
           g, sev, ev->value, ev->removed ? " removed=1" : "");
    break;
  default:
    printf("silent t=%.3f group=%s state=%s overdue=%u members=%.0f\n", ev->time, g, sev, ev->peers,
           ev->median);
    break;
  }
}

static int num_opt(const char *name, const char *v, double lo, double hi, double *out) {
  if (!v) return 0;
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || *end || !(d >= lo && d <= hi)) {
    fprintf(stderr, PROG ": --%s %s: want a number in [%g, %g]\n", name, v, lo, hi);
    return -1;
  }
  *out = d;
  return 1;
}

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One record into a message; 0, or -1 with *why set. */
static int parse_record(const char *line, double *t, alec_rx_msg **out, const char **why) {
  char buf[LINE_MAX_LEN];
  int is_str;
  *out = NULL;
  if (alec_tool_json_field(line, "time", buf, sizeof buf, &is_str) < 0 || is_str ||
      alec_tool_parse_double(buf, t) != 0 || !isfinite(*t)) {
    *why = "no finite \"time\"";
    return -1;
  }
  uint64_t id;
  if (alec_tool_json_field(line, "emitter", buf, sizeof buf, &is_str) < 0 || alec_pc_parse_id(buf, &id) != 0) {
    *why = "no \"emitter\" id (decimal or 0x-hex)";
    return -1;
  }
  alec_format fmt;
  if (alec_tool_json_field(line, "format", buf, sizeof buf, &is_str) < 0 || !is_str ||
      alec_format_parse(buf, &fmt) != 0) {
    *why = "no known \"format\"";
    return -1;
  }
  unsigned channels = 0;
  char cbuf[32];
  if (alec_tool_json_field(line, "channels", cbuf, sizeof cbuf, &is_str) >= 0) {
    uint64_t c;
    if (is_str || alec_tool_parse_u64(cbuf, ALEC_FIXED_MAX_CHANNELS, &c) != 0 || c == 0) {
      *why = "\"channels\" is not in 1..64";
      return -1;
    }
    channels = (unsigned)c;
  }
  if (fmt == ALEC_FORMAT_FIXED && channels == 0) {
    *why = "a fixed frame needs \"channels\"";
    return -1;
  }
  char group[ALEC_RX_GROUP_LEN] = "";
  int gl = alec_tool_json_field(line, "group", group, sizeof group, &is_str);
  if (gl == ALEC_EBUFSIZE || (gl >= 0 && !is_str)) {
    *why = "\"group\" is not a string of at most 63 characters";
    return -1;
  }
  if (gl < 0) group[0] = '\0';
  int hl = alec_tool_json_field(line, "frame_hex", buf, sizeof buf, &is_str);
  if (hl < 0 || !is_str) {
    *why = "no \"frame_hex\" string";
    return -1;
  }
  uint8_t frame[ALEC_FRAME_MAX];
  size_t len;
  if (alec_tool_hex_decode(buf, (size_t)hl, frame, sizeof frame, &len) != 0) {
    *why = "\"frame_hex\" is not a frame's hex";
    return -1;
  }
  alec_rx_msg *m = alec_rx_msg_new(len);
  if (!m) {
    *why = "out of memory";
    return -1;
  }
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = id;
  m->format = (uint8_t)fmt;
  m->channels = (uint8_t)channels;
  m->fport = -1;
  m->received = *t;
  memcpy(m->group, group, sizeof m->group);
  memcpy(m->data, frame, len);
  *out = m;
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  const char *v_thr = NULL, *v_exit = NULL, *v_fail = NULL, *v_enter_n = NULL, *v_exit_n = NULL,
             *v_peers = NULL, *v_floor = NULL, *v_stale = NULL, *v_silent = NULL, *v_alpha = NULL,
             *v_timeout = NULL, *v_max = NULL, *v_interval = NULL;
  int quiet = 0;
  const alec_tool_opt opts[] = {
      {"--threshold", NULL, &v_thr},           {"--exit-threshold", NULL, &v_exit},
      {"--failure-threshold", NULL, &v_fail},  {"--enter-count", NULL, &v_enter_n},
      {"--exit-count", NULL, &v_exit_n},       {"--min-peers", NULL, &v_peers},
      {"--mad-floor", NULL, &v_floor},         {"--stale-periods", NULL, &v_stale},
      {"--silent-fraction", NULL, &v_silent},  {"--shift-alpha", NULL, &v_alpha},
      {"--emitter-timeout", NULL, &v_timeout}, {"--max-emitters", NULL, &v_max},
      {"--interval", NULL, &v_interval},       {"--quiet", &quiet, NULL},
  };
  int ar = alec_tool_args(argc, argv, PROG, opts, sizeof opts / sizeof opts[0], usage, &path);
  if (ar == 1) return 0;
  if (ar < 0) return 2;

  static alec_plugin_config cfg;
  alec_pc_init(&cfg);
  alec_pc_fleet *fl = &cfg.fleet;
  double d, interval = 0.1;
  int bad = 0, r;
#define OPT(name, v, lo, hi, field, bit)                                                           \
  if ((r = num_opt(name, v, lo, hi, &d)) < 0) bad = 1;                                             \
  else if (r) {                                                                                    \
    field = d;                                                                                     \
    fl->set |= bit;                                                                                \
  }
  OPT("threshold", v_thr, 1e-9, 1e6, fl->threshold, ALEC_PC_F_THRESHOLD);
  OPT("exit-threshold", v_exit, 1e-9, 1e6, fl->exit_threshold, ALEC_PC_F_EXIT_THRESHOLD);
  OPT("failure-threshold", v_fail, 1e-9, 1e6, fl->failure_threshold, ALEC_PC_F_FAILURE_THRESHOLD);
  OPT("enter-count", v_enter_n, 1, ALEC_FLEET_DWELL_LIMIT, fl->enter_count, ALEC_PC_F_ENTER_COUNT);
  OPT("exit-count", v_exit_n, 1, ALEC_FLEET_DWELL_LIMIT, fl->exit_count, ALEC_PC_F_EXIT_COUNT);
  OPT("min-peers", v_peers, 3, 1e6, fl->min_peers, ALEC_PC_F_MIN_PEERS);
  OPT("mad-floor", v_floor, 1e-12, 1e12, fl->mad_floor, ALEC_PC_F_MAD_FLOOR);
  OPT("stale-periods", v_stale, 0, 1e6, fl->stale_periods, ALEC_PC_F_STALE_PERIODS);
  OPT("silent-fraction", v_silent, 0, 1, fl->silent_fraction, ALEC_PC_F_SILENT_FRACTION);
  OPT("shift-alpha", v_alpha, 1e-9, 1, fl->shift_alpha, ALEC_PC_F_SHIFT_ALPHA);
#undef OPT
  if ((r = num_opt("emitter-timeout", v_timeout, 1e-3, 1e9, &d)) < 0) bad = 1;
  else if (r) cfg.emitter_timeout = d;
  if ((r = num_opt("max-emitters", v_max, 1, ALEC_FLEET_MAX_EMITTERS_LIMIT, &d)) < 0) bad = 1;
  else if (r) cfg.max_emitters = (size_t)d;
  if ((r = num_opt("interval", v_interval, 1e-3, 86400, &d)) < 0) bad = 1;
  else if (r) interval = d;
  if (bad) return 2;
  /* Messages are handed over one by one: no queue to speak of. */
  cfg.queue_length = 1;
  char err[ALEC_PC_ERR_LEN];
  if (alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) != 0) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }

  replay rp;
  memset(&rp, 0, sizeof rp);
  rp.quiet = quiet;
  alec_rx_sink sink = {.arg = &rp, .log = on_log, .values = on_values, .fleet_event = on_event};
  alec_rx *rx;
  if (alec_rx_new(&rx, &cfg, &sink) != 0) {
    alec_pc_free(&cfg);
    return 1;
  }
  FILE *in = alec_tool_open_input(path);
  if (!in) {
    alec_rx_free(rx);
    alec_pc_free(&cfg);
    return 1;
  }
  double cpu0 = cpu_seconds();
  static char line[LINE_MAX_LEN];
  uint64_t lineno = 0, records = 0, refused = 0, backwards = 0;
  double first = 0, last = 0, next_eval = 0;
  int started = 0, status = 0;
  while (fgets(line, sizeof line, in)) {
    lineno++;
    size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n') {
      fprintf(stderr, PROG ": line %" PRIu64 ": longer than %d bytes\n", lineno, LINE_MAX_LEN - 2);
      status = 1;
      break;
    }
    size_t kept;
    char *l = alec_tool_trim(line, &kept);
    if (kept == 0) continue;
    double t;
    alec_rx_msg *m;
    const char *why = "";
    if (parse_record(l, &t, &m, &why) != 0) {
      fprintf(stderr, PROG ": line %" PRIu64 ": %s\n", lineno, why);
      refused++;
      continue;
    }
    if (!started) {
      started = 1;
      first = last = t;
      next_eval = t + interval;
    }
    if (t < last) {
      backwards++;
      t = last;
      m->received = t;
    }
    /* The evaluation timer of the recorded time between two records. */
    while (next_eval <= t) {
      alec_rx_evaluate(rx, next_eval);
      next_eval += interval;
      /* A long gap: one evaluation per interval would be a busy loop over
       * nothing; stale scans need only a few. */
      if (t - next_eval > 1000 * interval) next_eval = t - fmod(t - next_eval, interval);
    }
    last = t;
    alec_rx_process(rx, m);
    free(m);
    alec_rx_score(rx, t);
    records++;
  }
  if (ferror(in)) {
    perror(PROG);
    status = 1;
  }
  if (started) alec_rx_evaluate(rx, last);
  double cpu = cpu_seconds() - cpu0;
  alec_rx_stats st;
  alec_rx_get_stats(rx, last, &st);
  uint64_t rej = 0;
  for (int k = 0; k < ALEC_RX_REJ_COUNT; k++) rej += st.rejected[k];
  fprintf(quiet ? stdout : stderr,
          "replay: %" PRIu64 " records (%" PRIu64 " unreadable, %" PRIu64 " out of order), %" PRIu64
          " frames decoded, %" PRIu64 " rejected, %zu emitters, %.0f s of recorded time in %.3f s of CPU "
          "(%.0f x)\n",
          records, refused, backwards, st.fleet.frames, rej, st.fleet.emitters, last - first, cpu,
          cpu > 0 ? (last - first) / cpu : 0.0);
  fprintf(quiet ? stdout : stderr,
          "replay: events: %" PRIu64 " emitter, %" PRIu64 " fleet-shift, %" PRIu64 " stale, %" PRIu64
          " silent; %" PRIu64 " entries, %" PRIu64 " exits\n",
          rp.events[ALEC_FLEET_EVENT_EMITTER], rp.events[ALEC_FLEET_EVENT_SHIFT],
          rp.events[ALEC_FLEET_EVENT_STALE], rp.events[ALEC_FLEET_EVENT_SILENT], st.fleet.anomaly_entries,
          st.fleet.anomaly_exits);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
  if (refused && status == 0) status = 1;
  return alec_tool_finish(in, status);
}
