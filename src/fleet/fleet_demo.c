/* SPDX-License-Identifier: MIT */
/* fleet_demo: a synthetic fleet through the real encoder (closed loop), the
 * wire and the fleet module, with a readable report of the anomaly
 * transitions and of the fleet statistics. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/alec.h"
#include "alec/fleet.h"
#include "scenario.h"

typedef struct demo {
  const alec_scenario *sc;
  int events; /* machine-readable lines too */
  int quiet;  /* no human-readable transition lines */
  unsigned step;
  uint64_t true_entries, false_entries, exits, shift_events, shift_exits;
  int64_t first_entry[64]; /* first entry step of the first 64 emitters, -1: none */
  double first_entry_mad[64];
} demo;

static void usage(FILE *o) {
  fprintf(o, "usage: fleet_demo [options]\n"
             "  --scenario S   spike (default), recovery, drift, shift, groups, noisy\n"
             "  --emitters N   number of emitters (default 10; noisy: 1000)\n"
             "  --steps N      number of steps (default 1000)\n"
             "  --channels N   channels per emitter, 1..64 (default 1)\n"
             "  --seed S       noise seed (drift, noisy)\n"
             "  --format F     fixed (default) or single frames\n"
             "  --events       also print one machine-readable line per transition,\n"
             "                 `event t=<step> emitter=<id> channel=<n> state=<s> score=<z>`\n"
             "                 (fleet shifts: `shift t=<step> group=<g> channel=<n> ...`),\n"
             "                 and a final `stats key=value ...` line\n"
             "  --quiet        no human-readable transition lines\n"
             "  --help         this text\n"
             "Each step every emitter sends one frame, then the fleet is evaluated once.\n");
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out) {
  char *end;
  if (!s || !*s || *s == '-') return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max) return -1;
  *out = v;
  return 0;
}

static void on_event(const alec_fleet_event *ev, void *arg) {
  demo *d = arg;
  const char *sev = alec_fleet_state_name(ev->severity);
  if (ev->kind == ALEC_FLEET_EVENT_SHIFT) {
    if (ev->severity == ALEC_FLEET_NORMAL)
      d->shift_exits++;
    else
      d->shift_events++;
    if (!d->quiet)
      printf("t=%-5u FLEET SHIFT group '%s' channel %" PRIu32 ": %s, median %.2f vs baseline "
             "%.2f (%+.1f MADs of %.3f), %u peers\n",
             d->step, ev->group, ev->channel,
             ev->severity == ALEC_FLEET_NORMAL ? "over" : "started", ev->value, ev->median,
             ev->score, ev->mad, ev->peers);
    if (d->events)
      printf("shift t=%u group=%s channel=%" PRIu32 " state=%s score=%.3f\n", d->step,
             ev->group[0] ? ev->group : "-", ev->channel, sev, ev->score);
    return;
  }
  if (ev->previous == ALEC_FLEET_NORMAL) {
    if (alec_scenario_expected(d->sc, (unsigned)ev->emitter_id, d->step))
      d->true_entries++;
    else
      d->false_entries++;
    if (ev->emitter_id < 64 && d->first_entry[ev->emitter_id] < 0) {
      d->first_entry[ev->emitter_id] = d->step;
      d->first_entry_mad[ev->emitter_id] = ev->mad;
    }
  } else if (ev->severity == ALEC_FLEET_NORMAL) {
    d->exits++;
  }
  if (!d->quiet)
    printf("t=%-5u emitter %-4" PRIu64 " channel %" PRIu32 ": %-7s -> %-7s level %.2f, fleet "
           "median %.2f, MAD %.3f, z %+.2f, cusum %.1f%s, %u peers\n",
           d->step, ev->emitter_id, ev->channel, alec_fleet_state_name(ev->previous), sev,
           ev->value, ev->median, ev->mad, ev->score, ev->cusum,
           (ev->reason & ALEC_FLEET_REASON_DRIFT) ? " (drift)" : "", ev->peers);
  if (d->events)
    printf("event t=%u emitter=%" PRIu64 " channel=%" PRIu32 " state=%s score=%.3f\n", d->step,
           ev->emitter_id, ev->channel, sev, ev->score);
}

int main(int argc, char **argv) {
  const char *scen = "spike", *format = "fixed";
  unsigned long long emitters = 0, steps = 0, seed = 0, channels = 1;
  int have_seed = 0, events = 0, quiet = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--events") == 0) {
      events = 1;
    } else if (strcmp(a, "--quiet") == 0) {
      quiet = 1;
    } else if (strcmp(a, "--scenario") == 0 && v) {
      scen = v;
      i++;
    } else if (strcmp(a, "--format") == 0 && v) {
      format = v;
      i++;
    } else if (strcmp(a, "--emitters") == 0 && v && parse_uint(v, 1000000, &emitters) == 0 &&
               emitters > 0) {
      i++;
    } else if (strcmp(a, "--steps") == 0 && v && parse_uint(v, 100000000, &steps) == 0 &&
               steps > 0) {
      i++;
    } else if (strcmp(a, "--channels") == 0 && v && parse_uint(v, 64, &channels) == 0 &&
               channels > 0) {
      i++;
    } else if (strcmp(a, "--seed") == 0 && v && parse_uint(v, UINT64_MAX, &seed) == 0) {
      have_seed = 1;
      i++;
    } else {
      fprintf(stderr, "fleet_demo: bad or incomplete option '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  alec_scenario sc;
  if (alec_scenario_init(&sc, scen) != 0) {
    fprintf(stderr, "fleet_demo: unknown scenario '%s'\n", scen);
    return 2;
  }
  alec_format fmt;
  if (strcmp(format, "fixed") == 0)
    fmt = ALEC_FORMAT_FIXED;
  else if (strcmp(format, "single") == 0)
    fmt = ALEC_FORMAT_SINGLE;
  else {
    fprintf(stderr, "fleet_demo: --format must be fixed or single\n");
    return 2;
  }
  if (emitters) sc.emitters = (unsigned)emitters;
  if (steps) sc.steps = (unsigned)steps;
  if (have_seed) sc.seed = seed;
  sc.channels = (unsigned)channels;

  alec_fleet_config cfg;
  alec_fleet_config_init(&cfg);
  if (cfg.max_emitters < sc.emitters) cfg.max_emitters = sc.emitters;
  alec_fleet *fleet;
  int r = alec_fleet_new(&fleet, &cfg);
  if (r < 0) {
    fprintf(stderr, "fleet_demo: %s\n", alec_strerror(r));
    return 1;
  }
  alec_encoder **enc = calloc(sc.emitters, sizeof *enc);
  if (!enc) return 1;
  for (unsigned e = 0; e < sc.emitters; e++) {
    if ((r = alec_encoder_new(&enc[e], NULL)) < 0) {
      fprintf(stderr, "fleet_demo: encoder: %s\n", alec_strerror(r));
      return 1;
    }
    const char *g = alec_scenario_group(&sc, e);
    if (g[0] && (r = alec_fleet_set_emitter_group(fleet, e, g)) < 0) {
      fprintf(stderr, "fleet_demo: group: %s\n", alec_strerror(r));
      return 1;
    }
  }
  demo d;
  memset(&d, 0, sizeof d);
  d.sc = &sc;
  d.events = events;
  d.quiet = quiet;
  for (int i = 0; i < 64; i++) d.first_entry[i] = -1;

  printf("fleet_demo: scenario %s, %u emitters x %u steps, %u channel(s), %s frames, seed %" PRIu64
         "\n",
         alec_scenario_name(sc.kind), sc.emitters, sc.steps, sc.channels, format, sc.seed);
  uint8_t frame[ALEC_FRAME_MAX];
  double vals[64];
  uint64_t send_errors = 0;
  for (unsigned t = 0; t < sc.steps; t++) {
    d.step = t;
    for (unsigned e = 0; e < sc.emitters; e++) {
      for (unsigned c = 0; c < sc.channels; c++) vals[c] = alec_scenario_value(&sc, e, t, c);
      if (fmt == ALEC_FORMAT_FIXED) {
        int n = alec_encode_fixed(enc[e], vals, sc.channels, frame, sizeof frame);
        if (n < 0 ||
            alec_fleet_process(fleet, e, fmt, sc.channels, frame, (size_t)n, t, NULL, 0, NULL) < 0)
          send_errors++;
      } else {
        for (unsigned c = 0; c < sc.channels; c++) {
          int n = alec_encode_single(enc[e], c, vals[c], (uint64_t)t * 1000u, frame, sizeof frame,
                                     NULL);
          if (n < 0 || alec_fleet_process(fleet, e, fmt, 0, frame, (size_t)n, t, NULL, 0, NULL) < 0)
            send_errors++;
        }
      }
    }
    if ((r = alec_fleet_evaluate(fleet, t, on_event, &d)) < 0) {
      fprintf(stderr, "fleet_demo: evaluate: %s\n", alec_strerror(r));
      return 1;
    }
  }

  alec_fleet_stats st;
  double now = sc.steps ? sc.steps - 1 : 0;
  alec_fleet_get_stats(fleet, now, &st);
  uint64_t evals = 0;
  for (size_t i = 0; i < alec_fleet_emitter_count(fleet); i++) {
    alec_fleet_emitter_info ei;
    alec_fleet_emitter_at(fleet, i, now, &ei);
    for (unsigned j = 0; j < ei.n_channels; j++) {
      alec_fleet_channel_info ci;
      if (alec_fleet_get_channel(fleet, ei.id, j, &ci) == 0) evals += ci.evaluations;
    }
  }
  double rate = evals ? (double)d.false_entries * 10000.0 / (double)evals : 0.0;
  printf("\n--- fleet statistics at t=%.0f ---\n", now);
  printf("emitters        %zu known, %zu active, %zu anomalous now, %zu group(s)\n", st.emitters,
         st.active, st.anomalous, st.groups);
  printf("traffic         %" PRIu64 " frames, %" PRIu64 " values, %" PRIu64 " bytes (raw %" PRIu64
         " bytes as binary64: ratio %.2f)\n",
         st.frames, st.values, st.bytes, st.raw_bytes, st.compression_ratio);
  printf("priorities      P1 %" PRIu64 ", P2 %" PRIu64 ", P3 %" PRIu64 ", P4 %" PRIu64
         ", P5 %" PRIu64 " (P1+P2 from emitters' own classifier: %" PRIu64 ")\n",
         st.priority[0], st.priority[1], st.priority[2], st.priority[3], st.priority[4],
         st.regular_anomalies);
  printf("cross-fleet     %" PRIu64 " entries (%" PRIu64 " expected, %" PRIu64 " false), %" PRIu64
         " exits, %" PRIu64 " fleet shift(s), %" PRIu64 " evaluations\n",
         st.anomaly_entries, d.true_entries, d.false_entries, st.anomaly_exits, st.shift_events,
         st.evaluations);
  printf("false entries   %.4f per 10,000 emitter-evaluations (%" PRIu64 " scored)\n", rate, evals);
  if (sc.kind == ALEC_SCENARIO_SPIKE || sc.kind == ALEC_SCENARIO_RECOVERY ||
      sc.kind == ALEC_SCENARIO_DRIFT) {
    unsigned tg = sc.target;
    if (tg < 64 && d.first_entry[tg] >= 0) {
      unsigned t0 = (unsigned)d.first_entry[tg];
      double off = alec_scenario_offset(&sc, tg, t0);
      printf("target          emitter %u flagged at t=%u, true offset %.2f = %.2f fleet MADs\n", tg,
             t0, off, off / d.first_entry_mad[tg]);
    } else {
      printf("target          emitter %u never flagged\n", tg);
    }
  }
  printf("errors          %" PRIu64 " decode errors, %" PRIu64 " gaps, %" PRIu64 " resets, %" PRIu64
         " replays, %" PRIu64 " rejected emitters, %" PRIu64 " send errors\n",
         st.decode_errors, st.gaps, st.resets, st.replays, st.rejected_emitters, send_errors);
  printf("memory          %zu bytes, %zu per emitter\n", st.memory, st.memory_per_emitter);
  if (events)
    printf("stats emitters=%zu active=%zu anomalous=%zu frames=%" PRIu64 " values=%" PRIu64
           " bytes=%" PRIu64 " raw_bytes=%" PRIu64 " ratio=%.3f p1=%" PRIu64 " p2=%" PRIu64
           " p3=%" PRIu64 " p4=%" PRIu64 " p5=%" PRIu64 " entries=%" PRIu64 " exits=%" PRIu64
           " false_entries=%" PRIu64 " shifts=%" PRIu64 " evaluations=%" PRIu64
           " emitter_evaluations=%" PRIu64 " false_rate_per_10k=%.4f decode_errors=%" PRIu64
           " gaps=%" PRIu64 " memory_per_emitter=%zu\n",
           st.emitters, st.active, st.anomalous, st.frames, st.values, st.bytes, st.raw_bytes,
           st.compression_ratio, st.priority[0], st.priority[1], st.priority[2], st.priority[3],
           st.priority[4], st.anomaly_entries, st.anomaly_exits, d.false_entries, st.shift_events,
           st.evaluations, evals, rate, st.decode_errors, st.gaps, st.memory_per_emitter);
  for (unsigned e = 0; e < sc.emitters; e++) alec_encoder_free(enc[e]);
  free(enc);
  alec_fleet_free(fleet);
  return send_errors ? 1 : 0;
}
