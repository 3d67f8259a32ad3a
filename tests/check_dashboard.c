/* SPDX-License-Identifier: MIT */
/* Dashboard of the collectd plugin without the daemon: snapshots of a real
 * fleet fed by the spike scenario through closed-loop encoders, the history
 * rings and their bounds, the JSON documents (well-formed, escaped, finite)
 * and the HTTP server on 127.0.0.1 with an ephemeral port, fetched by a
 * small socket client. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "alec/alec.h"
#include "alec/fleet.h"
#include "dashboard.h"
#include "scenario.h"
#include "snapshot.h"

/* ------------------------------------------------------------- helpers */

/* A minimal JSON parser: 1 if the whole text is one well-formed value. */
typedef struct jp {
  const char *p, *end;
  int depth;
} jp;

static void jp_ws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}
static int jp_value(jp *j);
static int jp_string(jp *j) {
  if (j->p >= j->end || *j->p != '"') return 0;
  j->p++;
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p;
    if (c < 0x20) return 0;
    if (c == '\\') {
      j->p++;
      if (j->p >= j->end) return 0;
      if (*j->p == 'u') {
        for (int k = 1; k <= 4; k++)
          if (j->p + k >= j->end || !strchr("0123456789abcdefABCDEF", j->p[k])) return 0;
        j->p += 4;
      } else if (!strchr("\"\\/bfnrt", *j->p)) {
        return 0;
      }
    }
    j->p++;
  }
  if (j->p >= j->end) return 0;
  j->p++;
  return 1;
}
static int jp_number(jp *j) {
  const char *s = j->p;
  if (j->p < j->end && *j->p == '-') j->p++;
  if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) return 0;
  if (*j->p == '0') j->p++;
  else
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) return 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) return 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  return j->p > s;
}
static int jp_lit(jp *j, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return 0;
  j->p += n;
  return 1;
}
static int jp_value(jp *j) {
  jp_ws(j);
  if (j->p >= j->end || ++j->depth > 64) return 0;
  int ok;
  char c = *j->p;
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      j->depth--;
      return 1;
    }
    for (;;) {
      if (c == '{') {
        jp_ws(j);
        if (!jp_string(j)) return 0;
        jp_ws(j);
        if (j->p >= j->end || *j->p != ':') return 0;
        j->p++;
      }
      if (!jp_value(j)) return 0;
      jp_ws(j);
      if (j->p < j->end && *j->p == ',') {
        j->p++;
        continue;
      }
      if (j->p < j->end && *j->p == close) {
        j->p++;
        break;
      }
      return 0;
    }
    ok = 1;
  } else if (c == '"') {
    ok = jp_string(j);
  } else if (c == 't') {
    ok = jp_lit(j, "true");
  } else if (c == 'f') {
    ok = jp_lit(j, "false");
  } else if (c == 'n') {
    ok = jp_lit(j, "null");
  } else {
    ok = jp_number(j);
  }
  j->depth--;
  return ok;
}
static int json_ok(const char *s, size_t len) {
  jp j = {s, s + len, 0};
  if (!jp_value(&j)) return 0;
  jp_ws(&j);
  return j.p == j.end;
}

/* Feeds the spike scenario (emitter 5 +20 after step 500) into a fleet and
 * a store: one value per emitter and step, evaluation and (when due)
 * snapshot refresh after each step; time = step seconds. */
static void on_event(const alec_fleet_event *ev, void *arg) { alec_snap_event_add(arg, ev); }

static void feed(alec_fleet *f, alec_snap_store *st, const alec_scenario *sc, alec_encoder **enc, unsigned from,
                 unsigned to) {
  uint8_t fr[ALEC_FRAME_MAX];
  alec_fleet_value v[4];
  for (unsigned t = from; t < to; t++) {
    for (unsigned e = 0; e < sc->emitters; e++) {
      double x = alec_scenario_value(sc, e, t, 0);
      int n = alec_encode_single(enc[e], 0, x, (uint64_t)t * 1000, fr, sizeof fr, NULL);
      ck_assert_int_gt(n, 0);
      int k = alec_fleet_process(f, e, ALEC_FORMAT_SINGLE, 0, fr, (size_t)n, t, v, 4, NULL);
      ck_assert_int_eq(k, 1);
      alec_snap_record(st, e, v, (size_t)k, t);
    }
    ck_assert_int_ge(alec_fleet_evaluate(f, t, on_event, st), 0);
    if (alec_snap_due(st, t)) ck_assert_int_eq(alec_snap_refresh(st, f, t), 0);
  }
}

typedef struct rig {
  alec_scenario sc;
  alec_fleet *f;
  alec_snap_store *st;
  alec_encoder *enc[16];
} rig;

static void rig_init(rig *r, const alec_snap_config *cfg, const alec_snap_names *names) {
  memset(r, 0, sizeof *r);
  ck_assert_int_eq(alec_scenario_init(&r->sc, "spike"), 0);
  ck_assert_int_eq(alec_fleet_new(&r->f, NULL), 0);
  ck_assert_int_eq(alec_snap_store_new(&r->st, cfg, names), 0);
  for (unsigned e = 0; e < r->sc.emitters; e++) ck_assert_int_eq(alec_encoder_new(&r->enc[e], NULL), 0);
}

static void rig_free(rig *r) {
  for (unsigned e = 0; e < r->sc.emitters; e++) alec_encoder_free(r->enc[e]);
  alec_snap_store_free(r->st);
  alec_fleet_free(r->f);
}

/* ------------------------------------------------------------- snapshots */

START_TEST(test_config) {
  alec_snap_config c;
  char err[128];
  alec_snap_config_init(&c);
  ck_assert_int_eq(alec_snap_config_validate(&c, err, sizeof err), 0);
  c.history_interval = 0.01;
  ck_assert_int_eq(alec_snap_config_validate(&c, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "history_interval"));
  alec_snap_config_init(&c);
  c.history_interval = NAN;
  ck_assert_int_eq(alec_snap_config_validate(&c, NULL, 0), ALEC_EINVAL);
  alec_snap_config_init(&c);
  c.history = ALEC_SNAP_HISTORY_MAX + 1;
  ck_assert_int_eq(alec_snap_config_validate(&c, NULL, 0), ALEC_EINVAL);
  alec_snap_config_init(&c);
  c.chart_channels = 0;
  ck_assert_int_eq(alec_snap_config_validate(&c, NULL, 0), ALEC_EINVAL);
  alec_snap_config_init(&c);
  c.history_memory = 10;
  ck_assert_int_eq(alec_snap_config_validate(&c, NULL, 0), ALEC_EINVAL);
  c.history = 0; /* no charts: no memory needed */
  ck_assert_int_eq(alec_snap_config_validate(&c, NULL, 0), 0);
  alec_snap_config_init(&c);
  c.events = 0;
  ck_assert_int_eq(alec_snap_config_validate(&c, NULL, 0), ALEC_EINVAL);
  alec_snap_store *st;
  ck_assert_int_eq(alec_snap_store_new(&st, &c, NULL), ALEC_EINVAL);
}
END_TEST

START_TEST(test_spike_snapshot) {
  rig r;
  rig_init(&r, NULL, NULL);
  ck_assert_ptr_null(alec_snap_acquire(r.st));
  feed(r.f, r.st, &r.sc, r.enc, 0, 700);
  alec_snap *s = alec_snap_acquire(r.st);
  ck_assert_ptr_nonnull(s);
  ck_assert_uint_eq(s->n_emitters, 10);
  ck_assert_uint_eq(s->n_groups, 1);
  ck_assert_str_eq(s->groups[0].name, "");
  ck_assert_uint_eq(s->groups[0].emitters, 10);
  ck_assert_uint_eq(s->groups[0].anomalous, 1);
  /* Anomalous first. */
  ck_assert_uint_eq(s->emitters[0].id, 5);
  ck_assert_int_ne(s->emitters[0].state, ALEC_FLEET_NORMAL);
  ck_assert_str_eq(s->emitters[0].host, "alec-0000000000000005");
  for (size_t i = 1; i < s->n_emitters; i++) ck_assert_int_eq(s->emitters[i].state, ALEC_FLEET_NORMAL);
  ck_assert_double_gt(s->emitters[0].score, s->z_enter);
  /* Lookup by id. */
  for (uint64_t id = 0; id < 10; id++) {
    long i = alec_snap_find(s, id);
    ck_assert_int_ge(i, 0);
    ck_assert_uint_eq(s->emitters[i].id, id);
  }
  ck_assert_int_eq(alec_snap_find(s, 10), -1);
  /* One band, over the 10 peers: levels 20 + 0.5 i + sin (+20 for #5). */
  ck_assert_uint_eq(s->n_bands, 1);
  const alec_snap_band *b = &s->bands[0];
  ck_assert_uint_eq(b->peers, 10);
  ck_assert_double_lt(b->lo, b->median);
  ck_assert_double_gt(b->hi, b->median);
  ck_assert_double_eq_tol(b->hi - b->median, s->z_enter * b->mad / 0.6745, 1e-9);
  const alec_snap_emitter *e5 = &s->emitters[0];
  ck_assert_uint_eq(e5->n_ch, 1);
  const alec_snap_channel *c5 = &s->channels[e5->ch_off];
  ck_assert_int_eq(c5->band, 0);
  ck_assert(c5->charted);
  ck_assert_double_gt(c5->level, b->hi);
  ck_assert_str_eq(c5->name, "ch0");
  /* The entry event, and no other emitter's. */
  ck_assert_uint_ge(s->n_events, 1);
  int entries = 0;
  for (size_t i = 0; i < s->n_events; i++) {
    ck_assert_uint_eq(s->events[i].emitter_id, 5);
    if (s->events[i].previous == ALEC_FLEET_NORMAL) {
      entries++;
      ck_assert_str_eq(s->events[i].host, "alec-0000000000000005");
      ck_assert_double_gt(s->events[i].time, 500);
    }
  }
  ck_assert_int_eq(entries, 1);
  ck_assert_uint_eq(s->stats.emitters, 10);
  ck_assert_uint_eq(s->stats.anomalous, 1);

  /* History of #5: 300 points (1 s each, the last 300 steps), normal then
   * anomalous, under the band then above it. */
  alec_snap_history h;
  ck_assert_int_eq(alec_snap_history_get(r.st, 5, NAN, &h), 0);
  ck_assert_uint_eq(h.n_series, 1);
  ck_assert_uint_eq(h.series[0].n, 300);
  const alec_snap_point *p = h.series[0].points;
  ck_assert_double_eq(p[0].t, 400);
  ck_assert_double_eq(p[299].t, 699);
  ck_assert_int_eq(p[0].state, ALEC_FLEET_NORMAL);
  ck_assert_int_ne(p[299].state, ALEC_FLEET_NORMAL);
  ck_assert(isfinite(p[299].hi));
  ck_assert_double_gt(p[299].mean, p[299].hi);
  ck_assert_double_lt(p[50].mean, p[50].hi);
  for (size_t i = 1; i < 300; i++) ck_assert_double_gt(p[i].t, p[i - 1].t);
  alec_snap_history_free(&h);
  /* Clipped to a time. */
  ck_assert_int_eq(alec_snap_history_get(r.st, 5, 450.5, &h), 0);
  ck_assert_uint_eq(h.series[0].n, 51);
  alec_snap_history_free(&h);
  ck_assert_int_eq(alec_snap_history_get(r.st, 77, NAN, &h), 0);
  ck_assert_uint_eq(h.n_series, 0);
  alec_snap_history_free(&h);

  /* A held snapshot outlives later refreshes. */
  uint64_t seq = s->seq;
  feed(r.f, r.st, &r.sc, r.enc, 700, 710);
  alec_snap *s2 = alec_snap_acquire(r.st);
  ck_assert_uint_gt(s2->seq, seq);
  ck_assert_uint_eq(s->seq, seq);
  ck_assert_uint_eq(s->emitters[0].id, 5);
  alec_snap_release(s2);
  alec_snap_release(s);
  rig_free(&r);
}
END_TEST

START_TEST(test_history_bounds) {
  alec_snap_config c;
  alec_snap_config_init(&c);
  c.history = 10;
  c.history_interval = 2;
  /* Room for 3 rings: 7 of the 10 emitters go without chart. */
  c.history_memory = 3 * 10 * 28 + 27;
  rig r;
  rig_init(&r, &c, NULL);
  feed(r.f, r.st, &r.sc, r.enc, 0, 100);
  alec_snap *s = alec_snap_acquire(r.st);
  ck_assert_uint_eq(s->history_dropped, 7);
  ck_assert_uint_le(s->history_bytes, c.history_memory);
  size_t charted = 0;
  for (uint64_t id = 0; id < 10; id++) {
    alec_snap_history h;
    ck_assert_int_eq(alec_snap_history_get(r.st, id, NAN, &h), 0);
    if (h.n_series == 1 && h.series[0].n > 0) {
      charted++;
      ck_assert_uint_eq(h.series[0].n, 10);
      /* 2 s per point: 2 values in each, the last at t = 98. */
      ck_assert_double_eq(h.series[0].points[9].t, 98);
    }
    alec_snap_history_free(&h);
  }
  ck_assert_uint_eq(charted, 3);
  alec_snap_release(s);

  /* Removed emitters lose their rings; the memory goes to the others. */
  for (uint64_t id = 0; id < 10; id++) ck_assert_int_eq(alec_fleet_remove_emitter(r.f, id), 0);
  ck_assert_int_eq(alec_snap_refresh(r.st, r.f, 100), 0);
  s = alec_snap_acquire(r.st);
  ck_assert_uint_eq(s->n_emitters, 0);
  ck_assert_uint_eq(s->history_bytes, 0);
  alec_snap_release(s);
  alec_snap_history h;
  ck_assert_int_eq(alec_snap_history_get(r.st, 0, NAN, &h), 0);
  ck_assert_uint_eq(h.n_series, 0);
  alec_snap_history_free(&h);
  rig_free(&r);
}
END_TEST

START_TEST(test_events_ring) {
  alec_snap_config c;
  alec_snap_config_init(&c);
  c.events = 4;
  alec_snap_store *st;
  ck_assert_int_eq(alec_snap_store_new(&st, &c, NULL), 0);
  for (int i = 0; i < 10; i++) {
    alec_fleet_event ev = {0};
    ev.kind = i == 9 ? ALEC_FLEET_EVENT_SHIFT : ALEC_FLEET_EVENT_EMITTER;
    ev.severity = ALEC_FLEET_WARNING;
    ev.emitter_id = (uint64_t)i;
    ev.group = i == 9 ? "hall" : NULL;
    ev.time = i;
    alec_snap_event_add(st, &ev);
  }
  alec_fleet *f;
  ck_assert_int_eq(alec_fleet_new(&f, NULL), 0);
  ck_assert_int_eq(alec_snap_refresh(st, f, 10), 0);
  alec_snap *s = alec_snap_acquire(st);
  ck_assert_uint_eq(s->n_events, 4);
  ck_assert_uint_eq(s->events_total, 10);
  ck_assert_double_eq(s->events[0].time, 9); /* newest first */
  ck_assert(!s->events[0].has_id);
  ck_assert_str_eq(s->events[0].group, "hall");
  ck_assert_str_eq(s->events[0].host, "");
  ck_assert_double_eq(s->events[3].time, 6);
  ck_assert_str_eq(s->events[1].host, "alec-0000000000000008");
  char *doc;
  size_t len;
  ck_assert_int_eq(alec_dash_fleet_json(s, &doc, &len), 0);
  ck_assert(json_ok(doc, len));
  ck_assert_ptr_nonnull(strstr(doc, "\"kind\":\"shift\""));
  ck_assert_ptr_nonnull(strstr(doc, "\"id\":null"));
  ck_assert_ptr_nonnull(strstr(doc, "\"compression_ratio\":null"));
  free(doc);
  alec_snap_release(s);
  /* due: after refresh_interval, or when time goes backwards */
  ck_assert(!alec_snap_due(st, 10.2));
  ck_assert(alec_snap_due(st, 10.5));
  ck_assert(alec_snap_due(st, 9));
  ck_assert(!alec_snap_due(st, NAN));
  alec_fleet_free(f);
  alec_snap_store_free(st);
}
END_TEST

/* ------------------------------------------------------------------ JSON */

static void odd_host(void *arg, uint64_t id, char *out, size_t cap) {
  (void)arg;
  /* quote, backslash, control, markup, invalid UTF-8, an overlong, a
   * surrogate, then valid 2-, 3- and 4-byte characters */
  snprintf(out, cap, "h\"\\\x01<b>&\xff\xc0\xaf\xed\xa0\x80 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80-%" PRIu64, id);
}
static void odd_channel(void *arg, int has_id, uint64_t id, const char *group, uint32_t ch, char *out, size_t cap) {
  (void)arg, (void)has_id, (void)id, (void)group;
  snprintf(out, cap, "temp\n\t%" PRIu32, ch);
}

START_TEST(test_json) {
  alec_snap_names names = {odd_host, odd_channel, NULL};
  rig r;
  rig_init(&r, NULL, &names);
  ck_assert_int_eq(alec_fleet_set_emitter_group(r.f, 3, "a\"b</script>"), 0);
  feed(r.f, r.st, &r.sc, r.enc, 0, 600);
  alec_snap *s = alec_snap_acquire(r.st);
  char *doc;
  size_t len;
  ck_assert_int_eq(alec_dash_fleet_json(s, &doc, &len), 0);
  ck_assert_uint_eq(strlen(doc), len);
  ck_assert_msg(json_ok(doc, len), "fleet document is not JSON: %.400s", doc);
  ck_assert_ptr_nonnull(
      strstr(doc, "\"host\":\"h\\\"\\\\\\u0001\\u003cb\\u003e\\u0026\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd "
                  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80-5\""));
  ck_assert_ptr_nonnull(strstr(doc, "\"group\":\"a\\\"b\\u003c/script\\u003e\""));
  ck_assert_ptr_nonnull(strstr(doc, "\"name\":\"temp\\u000a\\u00090\""));
  ck_assert_ptr_null(strstr(doc, "nan"));
  ck_assert_ptr_null(strstr(doc, "inf"));
  ck_assert_ptr_null(strstr(doc, "<"));
  ck_assert_ptr_nonnull(strstr(doc, "\"id\":\"0000000000000005\",\"id_dec\":\"5\""));
  /* Emitter #5 listed first. */
  char *first = strstr(doc, "\"emitters\":[{");
  ck_assert_ptr_nonnull(first);
  ck_assert_ptr_nonnull(strstr(first, "\"id\":\"0000000000000005\""));
  ck_assert(strstr(first, "\"id\":\"0000000000000005\"") < strstr(first, "\"id\":\"0000000000000000\""));
  free(doc);

  /* The emitter document, with and without history. */
  long i = alec_snap_find(s, 5);
  alec_snap_history h;
  ck_assert_int_eq(alec_snap_history_get(r.st, 5, s->time, &h), 0);
  ck_assert_int_eq(alec_dash_emitter_json(s, (size_t)i, &h, &doc, &len), 0);
  ck_assert_msg(json_ok(doc, len), "emitter document is not JSON: %.400s", doc);
  ck_assert_ptr_nonnull(strstr(doc, "\"charted\":true"));
  ck_assert_ptr_nonnull(strstr(doc, "\"history\":{\"t\":[300.000,"));
  ck_assert_ptr_nonnull(strstr(doc, "\"state\":[0,"));
  ck_assert_ptr_null(strstr(doc, "nan"));
  free(doc);
  alec_snap_history_free(&h);
  ck_assert_int_eq(alec_dash_emitter_json(s, (size_t)i, NULL, &doc, &len), 0);
  ck_assert(json_ok(doc, len));
  ck_assert_ptr_nonnull(strstr(doc, "\"charted\":false"));
  ck_assert_ptr_nonnull(strstr(doc, "\"history\":{\"t\":[],"));
  free(doc);
  ck_assert_int_eq(alec_dash_emitter_json(s, s->n_emitters, NULL, &doc, &len), ALEC_EINVAL);
  alec_snap_release(s);
  rig_free(&r);
}
END_TEST

START_TEST(test_parse_id) {
  uint64_t v;
  ck_assert_int_eq(alec_dash_parse_id("0000000000000005", &v), 0);
  ck_assert_uint_eq(v, 5);
  ck_assert_int_eq(alec_dash_parse_id("FFFFFFFFFFFFFFFF", &v), 0);
  ck_assert_uint_eq(v, UINT64_MAX);
  ck_assert_int_eq(alec_dash_parse_id("00000000deadBEEF", &v), 0);
  ck_assert_uint_eq(v, 0xdeadbeefu);
  ck_assert_int_eq(alec_dash_parse_id("5", &v), 0);
  ck_assert_uint_eq(v, 5);
  ck_assert_int_eq(alec_dash_parse_id("18446744073709551615", &v), 0);
  ck_assert_uint_eq(v, UINT64_MAX);
  ck_assert_int_eq(alec_dash_parse_id("18446744073709551616", &v), ALEC_EINVAL);
  ck_assert_int_eq(alec_dash_parse_id("", &v), ALEC_EINVAL);
  ck_assert_int_eq(alec_dash_parse_id("-1", &v), ALEC_EINVAL);
  ck_assert_int_eq(alec_dash_parse_id("0x10", &v), ALEC_EINVAL);
  ck_assert_int_eq(alec_dash_parse_id("12a", &v), ALEC_EINVAL);
  ck_assert_int_eq(alec_dash_parse_id("000000000000000g", &v), ALEC_EINVAL);
  ck_assert_int_eq(alec_dash_parse_id("1234567890123456789012", &v), ALEC_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ HTTP */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

typedef struct reply {
  int status;
  char head[4096];
  char *body;
  size_t body_len;
} reply;

static int connect_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  return fd;
}

/* One HTTP/1.0 request (the server closes after the answer). */
static void request(int port, const char *method, const char *path, const char *extra, reply *r) {
  memset(r, 0, sizeof *r);
  int fd = connect_port(port);
  char req[1024];
  int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", method, path, extra ? extra : "");
  ck_assert_int_eq(send(fd, req, (size_t)n, 0), n);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  ck_assert_ptr_nonnull(buf);
  for (;;) {
    if (len == cap) {
      ck_assert_uint_lt(cap, (size_t)64 << 20);
      cap *= 2;
      buf = realloc(buf, cap + 1);
      ck_assert_ptr_nonnull(buf);
    }
    ssize_t k = recv(fd, buf + len, cap - len, 0);
    ck_assert_msg(k >= 0, "recv: %s", strerror(errno));
    if (k == 0) break;
    len += (size_t)k;
  }
  close(fd);
  buf[len] = '\0';
  char *sep = strstr(buf, "\r\n\r\n");
  ck_assert_ptr_nonnull(sep);
  size_t hl = (size_t)(sep - buf);
  ck_assert_uint_lt(hl, sizeof r->head);
  memcpy(r->head, buf, hl);
  r->head[hl] = '\0';
  ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
  r->body_len = len - hl - 4;
  r->body = malloc(r->body_len + 1);
  memcpy(r->body, sep + 4, r->body_len);
  r->body[r->body_len] = '\0';
  free(buf);
}

static int has_header(const reply *r, const char *line) {
  const char *p = r->head;
  size_t n = strlen(line);
  while ((p = strstr(p, "\r\n")) != NULL) {
    p += 2;
    if (strncasecmp(p, line, n) == 0) return 1;
  }
  return 0;
}

/* The dispatch side of a running plugin: keeps refreshing while the tests
 * fetch, holding a mutex that stands for the plugin's fleet lock. */
typedef struct churn {
  rig *r;
  pthread_mutex_t *fleet_lock;
  atomic_int stop;
  unsigned step;
} churn;

static void *churn_main(void *arg) {
  churn *c = arg;
  while (!atomic_load(&c->stop)) {
    pthread_mutex_lock(c->fleet_lock);
    feed(c->r->f, c->r->st, &c->r->sc, c->r->enc, c->step, c->step + 1);
    ck_assert_int_eq(alec_snap_refresh(c->r->st, c->r->f, c->step), 0);
    pthread_mutex_unlock(c->fleet_lock);
    c->step++;
  }
  return NULL;
}

START_TEST(test_http) {
  rig r;
  rig_init(&r, NULL, NULL);
  alec_dash_config dc;
  alec_dash_config_init(&dc);
  ck_assert_str_eq(dc.node, "127.0.0.1");
  ck_assert_str_eq(dc.service, "25831");
  snprintf(dc.service, sizeof dc.service, "0");
  alec_dash *d;
  char err[256];
  ck_assert_int_eq(alec_dash_start(&d, &dc, r.st, err, sizeof err), 0);
  int port = alec_dash_port(d);
  ck_assert_int_gt(port, 0);
  reply rp;

  /* Before the first snapshot. */
  request(port, "GET", "/api/fleet", NULL, &rp);
  ck_assert_int_eq(rp.status, 503);
  ck_assert(json_ok(rp.body, rp.body_len));
  free(rp.body);

  request(port, "GET", "/", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  ck_assert(has_header(&rp, "Content-Type: text/html"));
  ck_assert(has_header(&rp, "Content-Security-Policy: default-src 'none'"));
  ck_assert_ptr_nonnull(strstr(rp.body, "dashboard.js"));
  free(rp.body);
  request(port, "GET", "/dashboard.js", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  ck_assert(has_header(&rp, "Content-Type: text/javascript"));
  ck_assert_ptr_nonnull(strstr(rp.body, "api/fleet"));
  /* No network access but the API: no absolute URL in the script. */
  const char *url = strstr(rp.body, "http");
  ck_assert_ptr_nonnull(url); /* the SVG namespace, an identifier */
  ck_assert_int_eq(strncmp(url, "http:/" "/www.w3.org/2000/svg'", 27), 0);
  ck_assert_ptr_null(strstr(url + 1, "http"));
  free(rp.body);
  request(port, "GET", "/dashboard.css", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  ck_assert(has_header(&rp, "Content-Type: text/css"));
  free(rp.body);

  feed(r.f, r.st, &r.sc, r.enc, 0, 600);
  request(port, "GET", "/api/fleet", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  ck_assert(has_header(&rp, "Content-Type: application/json"));
  ck_assert_msg(json_ok(rp.body, rp.body_len), "not JSON: %.300s", rp.body);
  ck_assert_ptr_nonnull(strstr(rp.body, "\"emitters\":[{\"id\":\"0000000000000005\""));
  char etag[64] = "", hdr[96];
  const char *et = strstr(rp.head, "\r\nETag: ");
  ck_assert_ptr_nonnull(et);
  ck_assert_int_eq(sscanf(et + 8, "%63s", etag), 1);
  free(rp.body);
  snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
  request(port, "GET", "/api/fleet", hdr, &rp);
  ck_assert_int_eq(rp.status, 304);
  ck_assert_uint_eq(rp.body_len, 0);
  free(rp.body);
  request(port, "HEAD", "/api/fleet", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  ck_assert_uint_eq(rp.body_len, 0);
  free(rp.body);

  request(port, "GET", "/api/emitters/0000000000000005", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  ck_assert(json_ok(rp.body, rp.body_len));
  ck_assert_ptr_nonnull(strstr(rp.body, "\"emitter\":{\"id\":\"0000000000000005\""));
  ck_assert_ptr_nonnull(strstr(rp.body, "\"state\":\"warning\"") ? rp.body : strstr(rp.body, "\"state\":\"failure\""));
  free(rp.body);
  request(port, "GET", "/api/emitters/5", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  free(rp.body);
  request(port, "GET", "/api/emitters/99", NULL, &rp);
  ck_assert_int_eq(rp.status, 404);
  ck_assert(json_ok(rp.body, rp.body_len));
  free(rp.body);
  request(port, "GET", "/api/emitters/5x", NULL, &rp);
  ck_assert_int_eq(rp.status, 400);
  free(rp.body);
  request(port, "GET", "/api/nothing", NULL, &rp);
  ck_assert_int_eq(rp.status, 404);
  free(rp.body);
  request(port, "GET", "/etc/passwd", NULL, &rp);
  ck_assert_int_eq(rp.status, 404);
  free(rp.body);
  request(port, "POST", "/api/fleet", "Content-Length: 0\r\n", &rp);
  ck_assert_int_eq(rp.status, 405);
  ck_assert(has_header(&rp, "Allow: GET, HEAD"));
  free(rp.body);

  /* Served while the "fleet lock" is held: the HTTP side never takes it. */
  pthread_mutex_t fleet_lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&fleet_lock);
  request(port, "GET", "/api/fleet", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  free(rp.body);
  pthread_mutex_unlock(&fleet_lock);

  /* Snapshots swapped under readers: every answer whole and coherent. */
  churn ch = {&r, &fleet_lock, 0, 600};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, churn_main, &ch), 0);
  for (int i = 0; i < 40; i++) {
    request(port, "GET", i % 2 ? "/api/emitters/5" : "/api/fleet", NULL, &rp);
    ck_assert_int_eq(rp.status, 200);
    ck_assert(json_ok(rp.body, rp.body_len));
    free(rp.body);
  }
  atomic_store(&ch.stop, 1);
  pthread_join(th, NULL);
  alec_dash_stop(d);
  rig_free(&r);
}
END_TEST

START_TEST(test_http_limits) {
  rig r;
  rig_init(&r, NULL, NULL);
  feed(r.f, r.st, &r.sc, r.enc, 0, 50);
  alec_dash_config dc;
  alec_dash_config_init(&dc);
  snprintf(dc.service, sizeof dc.service, "0");
  dc.per_ip_connections = 2;
  alec_dash *d;
  char err[256];
  ck_assert_int_eq(alec_dash_start(&d, &dc, r.st, err, sizeof err), 0);
  int port = alec_dash_port(d);
  /* Two idle connections use the client's share... */
  int a = connect_port(port), b = connect_port(port);
  sleep_ms(200);
  /* ...so a third one is closed without an answer. */
  int c = connect_port(port);
  const char req[] = "GET /api/fleet HTTP/1.0\r\n\r\n";
  (void)!send(c, req, sizeof req - 1, MSG_NOSIGNAL);
  char buf[64];
  ssize_t k = recv(c, buf, sizeof buf, 0);
  ck_assert_int_le(k, 0);
  close(c);
  close(a);
  close(b);
  sleep_ms(200);
  reply rp;
  request(port, "GET", "/api/fleet", NULL, &rp);
  ck_assert_int_eq(rp.status, 200);
  free(rp.body);
  alec_dash_stop(d);

  /* Bind errors name the address. */
  snprintf(dc.node, sizeof dc.node, "192.0.2.1"); /* TEST-NET-1: not ours, so bind fails */
  ck_assert_int_eq(alec_dash_start(&d, &dc, r.st, err, sizeof err), ALEC_EIO);
  ck_assert_ptr_nonnull(strstr(err, "192.0.2.1"));
  snprintf(dc.node, sizeof dc.node, "not an address");
  ck_assert_int_eq(alec_dash_start(&d, &dc, r.st, err, sizeof err), ALEC_EIO);
  alec_dash_stop(NULL);
  rig_free(&r);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("dashboard");
  TCase *tc = tcase_create("snapshot");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_config);
  tcase_add_test(tc, test_spike_snapshot);
  tcase_add_test(tc, test_history_bounds);
  tcase_add_test(tc, test_events_ring);
  suite_add_tcase(s, tc);
  tc = tcase_create("json");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_json);
  tcase_add_test(tc, test_parse_id);
  suite_add_tcase(s, tc);
  tc = tcase_create("http");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_http);
  tcase_add_test(tc, test_http_limits);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
