/* SPDX-License-Identifier: MIT */
/* Fleet dashboard: JSON rendering of snapshots and the HTTP server. */
#include "dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <microhttpd.h>

#include "alec/error.h"
#include "dashboard_assets.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define API_VERSION 1
/* Per connection: request line and headers; our requests are tiny. */
#define CONN_MEMORY (32 * 1024)
#define READ_BLOCK (64 * 1024)

struct alec_dash {
  struct MHD_Daemon *mhd;
  alec_snap_store *store;
  int port;
};

/* ------------------------------------------------------------------ JSON */

typedef struct jbuf {
  char *p;
  size_t len, cap;
  int err;         /* ALEC_ENOMEM / ALEC_ENOSPC: everything after is dropped */
  int depth;
  int after_key;
  unsigned char first[32];
} jbuf;

static void jb_raw(jbuf *b, const char *s, size_t n) {
  if (b->err) return;
  if (n > ALEC_DASH_DOC_MAX - b->len) {
    b->err = ALEC_ENOSPC;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (q == NULL) {
      b->err = ALEC_ENOMEM;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* The comma before a value or key, unless it is the first of its
 * container or follows its key. */
static void jb_sep(jbuf *b) {
  if (b->after_key) {
    b->after_key = 0;
    return;
  }
  if (b->depth > 0 && b->depth < (int)sizeof b->first) {
    if (!b->first[b->depth]) jb_raw(b, ",", 1);
    b->first[b->depth] = 0;
  }
}

static void jb_open(jbuf *b, char c) {
  jb_sep(b);
  jb_raw(b, &c, 1);
  b->depth++;
  if (b->depth < (int)sizeof b->first) b->first[b->depth] = 1;
}

static void jb_close(jbuf *b, char c) {
  b->depth--;
  jb_raw(b, &c, 1);
}

/* JSON string: quotes, backslashes and controls escaped, and <, >, & too
 * so a document can never be taken for markup. Invalid UTF-8 (a host name
 * from a configuration file may hold anything) becomes U+FFFD, because a
 * JSON text must be Unicode. */
static void jb_strval(jbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  jb_raw(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    size_t run = 0;
    while (p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\' && p[run] != '<' && p[run] != '>' &&
           p[run] != '&')
      run++;
    if (run) {
      jb_raw(b, (const char *)p, run);
      p += run;
      continue;
    }
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      jb_raw(b, e, 2);
      p++;
    } else if (c < 0x80) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      jb_raw(b, e, 6);
      p++;
    } else {
      /* Length and minimum of a well-formed sequence (no overlongs, no
       * surrogates, at most U+10FFFF). */
      size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
      int ok = n > 0;
      uint32_t cp = n == 4 ? c & 7 : n == 3 ? c & 15 : c & 31;
      for (size_t k = 1; ok && k < n; k++) {
        if ((p[k] & 0xC0) != 0x80) ok = 0;
        else cp = (cp << 6) | (p[k] & 0x3F);
      }
      if (ok && ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
        ok = 0;
      if (ok) {
        jb_raw(b, (const char *)p, n);
        p += n;
      } else {
        jb_raw(b, "\\ufffd", 6);
        p++;
      }
    }
  }
  jb_raw(b, "\"", 1);
}

static void jb_key(jbuf *b, const char *k) {
  jb_sep(b);
  jb_strval(b, k);
  jb_raw(b, ":", 1);
  b->after_key = 1;
}

static void jb_str(jbuf *b, const char *s) {
  jb_sep(b);
  jb_strval(b, s);
}

static void jb_fmt(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_fmt(jbuf *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  jb_sep(b);
  if (n > 0) jb_raw(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Numbers are finite or null: JSON has no NaN. */
static void jb_num(jbuf *b, double v) {
  if (isfinite(v)) jb_fmt(b, "%.12g", v);
  else jb_fmt(b, "null");
}
static void jb_float(jbuf *b, float v) {
  if (isfinite(v)) jb_fmt(b, "%.7g", (double)v);
  else jb_fmt(b, "null");
}
static void jb_time(jbuf *b, double v) {
  if (isfinite(v)) jb_fmt(b, "%.3f", v);
  else jb_fmt(b, "null");
}
static void jb_u64(jbuf *b, uint64_t v) { jb_fmt(b, "%" PRIu64, v); }
static void jb_bool(jbuf *b, int v) { jb_fmt(b, "%s", v ? "true" : "false"); }

static void kv_num(jbuf *b, const char *k, double v) {
  jb_key(b, k);
  jb_num(b, v);
}
static void kv_time(jbuf *b, const char *k, double v) {
  jb_key(b, k);
  jb_time(b, v);
}
static void kv_u64(jbuf *b, const char *k, uint64_t v) {
  jb_key(b, k);
  jb_u64(b, v);
}
static void kv_str(jbuf *b, const char *k, const char *v) {
  jb_key(b, k);
  jb_str(b, v);
}
static void kv_bool(jbuf *b, const char *k, int v) {
  jb_key(b, k);
  jb_bool(b, v);
}

static int jb_finish(jbuf *b, char **buf, size_t *len) {
  if (b->err == 0 && b->p == NULL) jb_raw(b, "", 0);
  if (b->err) {
    free(b->p);
    *buf = NULL;
    *len = 0;
    return b->err;
  }
  *buf = b->p;
  *len = b->len;
  return 0;
}

static const char *state_name(unsigned s) { return alec_fleet_state_name((alec_fleet_state)(s <= 2 ? s : 2)); }

/* Ids travel as strings: JSON numbers lose precision past 2^53. */
static void kv_ids(jbuf *b, uint64_t id) {
  char t[24];
  snprintf(t, sizeof t, "%016" PRIx64, id);
  kv_str(b, "id", t);
  snprintf(t, sizeof t, "%" PRIu64, id);
  kv_str(b, "id_dec", t);
}

static void kv_reason(jbuf *b, unsigned reason) {
  jb_key(b, "reason");
  jb_open(b, '[');
  if (reason & ALEC_FLEET_REASON_LEVEL) jb_str(b, "level");
  if (reason & ALEC_FLEET_REASON_DRIFT) jb_str(b, "drift");
  jb_close(b, ']');
}

static void put_config(jbuf *b, const alec_snap *s) {
  jb_key(b, "config");
  jb_open(b, '{');
  kv_num(b, "z_enter", s->z_enter);
  kv_num(b, "z_exit", s->z_exit);
  kv_num(b, "z_failure", s->z_failure);
  kv_u64(b, "min_peers", s->min_peers);
  kv_num(b, "mad_floor", s->mad_floor);
  kv_num(b, "emitter_timeout", s->emitter_timeout);
  kv_u64(b, "history", s->cfg.history);
  kv_num(b, "history_interval", s->cfg.history_interval);
  kv_u64(b, "chart_channels", s->cfg.chart_channels);
  kv_u64(b, "events", s->cfg.events);
  kv_num(b, "refresh_interval", s->cfg.refresh_interval);
  jb_close(b, '}');
}

static void put_head(jbuf *b, const alec_snap *s) {
  kv_u64(b, "version", API_VERSION);
  kv_u64(b, "seq", s->seq);
  kv_time(b, "time", s->time);
  kv_num(b, "build_seconds", s->build_seconds);
  put_config(b, s);
}

static void put_band(jbuf *b, const alec_snap_band *bd, int with_channel) {
  jb_open(b, '{');
  if (with_channel) {
    kv_u64(b, "channel", bd->channel);
    kv_str(b, "name", bd->name);
  }
  kv_u64(b, "peers", bd->peers);
  kv_num(b, "median", bd->median);
  kv_num(b, "mad", bd->mad);
  kv_num(b, "lo", bd->lo);
  kv_num(b, "hi", bd->hi);
  jb_close(b, '}');
}

static void put_group(jbuf *b, const alec_snap *s, const alec_snap_group *g) {
  jb_open(b, '{');
  kv_str(b, "name", g->name);
  kv_u64(b, "emitters", g->emitters);
  kv_u64(b, "active", g->active);
  kv_u64(b, "anomalous", g->anomalous);
  jb_key(b, "bands");
  jb_open(b, '[');
  for (uint32_t i = 0; i < g->n_bands; i++) put_band(b, &s->bands[g->band_off + i], 1);
  jb_close(b, ']');
  jb_close(b, '}');
}

/* The fields of an emitter both documents show. */
static void put_emitter_fields(jbuf *b, const alec_snap *s, const alec_snap_emitter *e) {
  kv_ids(b, e->id);
  kv_str(b, "host", e->host);
  kv_str(b, "group", s->groups[e->group].name);
  kv_bool(b, "active", e->active);
  kv_str(b, "state", state_name(e->state));
  kv_num(b, "score", e->score);
  kv_time(b, "first_seen", e->first_seen);
  kv_time(b, "last_seen", e->last_seen);
  kv_u64(b, "frames", e->frames);
  kv_u64(b, "values", e->values);
  kv_u64(b, "bytes", e->bytes);
  kv_num(b, "compression_ratio", e->compression_ratio);
  kv_u64(b, "gaps", e->gaps);
  kv_u64(b, "errors", e->decode_errors);
}

/* The fields of a channel both documents show, first in its object. */
static void put_channel_head(jbuf *b, const alec_snap_channel *c) {
  kv_u64(b, "channel", c->channel);
  kv_str(b, "name", c->name);
  kv_str(b, "state", state_name(c->state));
  kv_reason(b, c->state ? c->reason : 0);
  kv_num(b, "score", c->evaluations ? c->score : NAN);
}

/* Frames by header priority P1..P5. */
static void kv_priority(jbuf *b, const uint64_t priority[5]) {
  jb_key(b, "priority");
  jb_open(b, '[');
  for (int i = 0; i < 5; i++) jb_u64(b, priority[i]);
  jb_close(b, ']');
}

static void put_event(jbuf *b, const alec_snap_event *ev) {
  jb_open(b, '{');
  kv_time(b, "time", ev->time);
  /* "shift" predates the kind table: the API keeps it. */
  kv_str(b, "kind", ev->kind == ALEC_FLEET_EVENT_SHIFT ? "shift" : alec_fleet_event_kind_name((alec_fleet_event_kind)ev->kind));
  kv_str(b, "transition", ev->severity == ALEC_FLEET_NORMAL    ? "exit"
                          : ev->previous == ALEC_FLEET_NORMAL ? "entry"
                                                              : "change");
  kv_str(b, "severity", state_name(ev->severity));
  kv_str(b, "previous", state_name(ev->previous));
  kv_reason(b, ev->reason);
  if (ev->has_id) {
    kv_ids(b, ev->emitter_id);
    kv_str(b, "host", ev->host);
  } else {
    jb_key(b, "id");
    jb_fmt(b, "null");
    jb_key(b, "id_dec");
    jb_fmt(b, "null");
    jb_key(b, "host");
    jb_fmt(b, "null");
  }
  kv_str(b, "group", ev->group);
  kv_u64(b, "channel", ev->channel);
  kv_str(b, "name", ev->name);
  kv_num(b, "value", ev->value);
  kv_num(b, "median", ev->median);
  kv_num(b, "mad", ev->mad);
  kv_num(b, "score", ev->score);
  kv_num(b, "cusum", ev->cusum);
  kv_u64(b, "peers", ev->peers);
  jb_close(b, '}');
}

static void put_stats(jbuf *b, const alec_snap *s) {
  const alec_fleet_stats *st = &s->stats;
  jb_key(b, "stats");
  jb_open(b, '{');
  kv_u64(b, "emitters", st->emitters);
  kv_u64(b, "active", st->active);
  kv_u64(b, "anomalous", st->anomalous);
  kv_u64(b, "groups", st->groups);
  kv_u64(b, "shifts_active", st->shifts_active);
  kv_u64(b, "frames", st->frames);
  kv_u64(b, "values", st->values);
  kv_u64(b, "bytes", st->bytes);
  kv_u64(b, "raw_bytes", st->raw_bytes);
  kv_num(b, "compression_ratio", st->frames ? st->compression_ratio : NAN);
  kv_priority(b, st->priority);
  kv_u64(b, "regular_anomalies", st->regular_anomalies);
  kv_u64(b, "anomaly_entries", st->anomaly_entries);
  kv_u64(b, "anomaly_exits", st->anomaly_exits);
  kv_u64(b, "shift_events", st->shift_events);
  kv_u64(b, "evaluations", st->evaluations);
  kv_u64(b, "decode_errors", st->decode_errors);
  kv_u64(b, "gaps", st->gaps);
  kv_u64(b, "resets", st->resets);
  kv_u64(b, "resyncs", st->resyncs);
  kv_u64(b, "replays", st->replays);
  kv_u64(b, "rejected_emitters", st->rejected_emitters);
  kv_u64(b, "unknown_errors", st->unknown_errors);
  kv_u64(b, "untracked_values", st->untracked_values);
  kv_u64(b, "patterns_learned", st->patterns_learned);
  kv_u64(b, "patterns_promoted", st->patterns_promoted);
  kv_u64(b, "memory", st->memory);
  kv_u64(b, "history_memory", s->history_bytes);
  kv_u64(b, "uncharted_channels", s->history_dropped);
  jb_close(b, '}');
}

int alec_dash_fleet_json(const alec_snap *s, char **buf, size_t *len) {
  return alec_dash_fleet_page_json(s, NULL, 0, ALEC_DASH_PAGE_DEFAULT, buf, len);
}

int alec_dash_fleet_page_json(const alec_snap *s, const char *group, size_t offset, size_t limit, char **buf,
                              size_t *len) {
  if (s == NULL || buf == NULL || len == NULL || limit == 0 || limit > ALEC_DASH_PAGE_MAX) return ALEC_EINVAL;
  jbuf b = {0};
  jb_open(&b, '{');
  put_head(&b, s);
  put_stats(&b, s);
  jb_key(&b, "groups");
  jb_open(&b, '[');
  for (size_t i = 0; i < s->n_groups; i++) put_group(&b, s, &s->groups[i]);
  jb_close(&b, ']');
  /* A page of the display order (worst first), of one group or of all:
   * a fleet of 10,000 emitters x 64 channels is 68 MB in one document. */
  size_t total = 0, listed = 0;
  for (size_t i = 0; i < s->n_emitters; i++)
    total += group == NULL || strcmp(s->groups[s->emitters[i].group].name, group) == 0;
  jb_key(&b, "page");
  jb_open(&b, '{');
  jb_key(&b, "group");
  if (group) jb_str(&b, group);
  else jb_fmt(&b, "null");
  kv_u64(&b, "offset", offset);
  kv_u64(&b, "limit", limit);
  kv_u64(&b, "total", total);
  kv_u64(&b, "count", offset < total ? (total - offset < limit ? total - offset : limit) : 0);
  jb_close(&b, '}');
  jb_key(&b, "emitters");
  jb_open(&b, '[');
  size_t rank = 0;
  for (size_t i = 0; i < s->n_emitters && !b.err && listed < limit; i++) {
    const alec_snap_emitter *e = &s->emitters[i];
    if (group && strcmp(s->groups[e->group].name, group) != 0) continue;
    if (rank++ < offset) continue;
    listed++;
    jb_open(&b, '{');
    put_emitter_fields(&b, s, e);
    jb_key(&b, "channels");
    jb_open(&b, '[');
    for (uint32_t k = 0; k < e->n_ch; k++) {
      const alec_snap_channel *c = &s->channels[e->ch_off + k];
      jb_open(&b, '{');
      put_channel_head(&b, c);
      kv_num(&b, "value", c->last_value);
      jb_close(&b, '}');
    }
    jb_close(&b, ']');
    jb_close(&b, '}');
  }
  jb_close(&b, ']');
  kv_u64(&b, "events_total", s->events_total);
  jb_key(&b, "events");
  jb_open(&b, '[');
  for (size_t i = 0; i < s->n_events; i++) put_event(&b, &s->events[i]);
  jb_close(&b, ']');
  jb_close(&b, '}');
  return jb_finish(&b, buf, len);
}

static const alec_snap_series *series_of(const alec_snap_history *h, uint32_t channel) {
  for (size_t i = 0; h && i < h->n_series; i++)
    if (h->series[i].channel == channel) return &h->series[i];
  return NULL;
}

static void put_history(jbuf *b, const alec_snap_series *ser) {
  static const char *const cols[] = {"t", "mean", "min", "max", "lo", "hi", "state"};
  jb_open(b, '{');
  for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
    jb_key(b, cols[c]);
    jb_open(b, '[');
    for (size_t i = 0; ser && i < ser->n && !b->err; i++) {
      const alec_snap_point *p = &ser->points[i];
      switch (c) {
      case 0: jb_time(b, p->t); break;
      case 1: jb_float(b, p->mean); break;
      case 2: jb_float(b, p->min); break;
      case 3: jb_float(b, p->max); break;
      case 4: jb_float(b, p->lo); break;
      case 5: jb_float(b, p->hi); break;
      default: jb_u64(b, p->state); break;
      }
    }
    jb_close(b, ']');
  }
  jb_close(b, '}');
}

int alec_dash_emitter_json(const alec_snap *s, size_t index, const alec_snap_history *h, char **buf, size_t *len) {
  if (s == NULL || buf == NULL || len == NULL || index >= s->n_emitters) return ALEC_EINVAL;
  const alec_snap_emitter *e = &s->emitters[index];
  jbuf b = {0};
  jb_open(&b, '{');
  put_head(&b, s);
  jb_key(&b, "emitter");
  jb_open(&b, '{');
  put_emitter_fields(&b, s, e);
  kv_u64(&b, "resets", e->resets);
  kv_u64(&b, "resyncs", e->resyncs);
  kv_u64(&b, "replays", e->replays);
  kv_u64(&b, "unreliable", e->unreliable);
  kv_u64(&b, "nonfinite", e->nonfinite);
  kv_priority(&b, e->priority);
  kv_u64(&b, "patterns", e->n_patterns);
  kv_u64(&b, "memory", e->memory);
  jb_close(&b, '}');
  jb_key(&b, "group");
  put_group(&b, s, &s->groups[e->group]);
  jb_key(&b, "channels");
  jb_open(&b, '[');
  for (uint32_t k = 0; k < e->n_ch; k++) {
    const alec_snap_channel *c = &s->channels[e->ch_off + k];
    jb_open(&b, '{');
    put_channel_head(&b, c);
    kv_num(&b, "baseline_z", c->evaluations ? c->baseline_z : NAN);
    kv_num(&b, "cusum", c->cusum);
    kv_num(&b, "value", c->last_value);
    kv_num(&b, "level", c->has_level ? c->level : NAN);
    kv_num(&b, "mean", c->mean);
    kv_num(&b, "stddev", c->stddev);
    kv_u64(&b, "values", c->values);
    kv_u64(&b, "evaluations", c->evaluations);
    jb_key(&b, "band");
    if (c->band >= 0) put_band(&b, &s->bands[c->band], 0);
    else jb_fmt(&b, "null");
    const alec_snap_series *ser = series_of(h, c->channel);
    kv_bool(&b, "charted", ser != NULL && c->charted);
    jb_key(&b, "history");
    put_history(&b, c->charted ? ser : NULL);
    jb_close(&b, '}');
  }
  jb_close(&b, ']');
  jb_key(&b, "events");
  jb_open(&b, '[');
  for (size_t i = 0; i < s->n_events; i++)
    if (s->events[i].has_id && s->events[i].emitter_id == e->id) put_event(&b, &s->events[i]);
  jb_close(&b, ']');
  jb_close(&b, '}');
  return jb_finish(&b, buf, len);
}

int alec_dash_parse_id(const char *s, uint64_t *out) {
  if (s == NULL || out == NULL) return ALEC_EINVAL;
  size_t n = strlen(s);
  uint64_t v = 0;
  if (n == 16 && strspn(s, "0123456789abcdefABCDEF") == 16) {
    for (size_t i = 0; i < 16; i++) {
      char c = s[i];
      unsigned d = c <= '9' ? (unsigned)(c - '0') : c <= 'F' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - 'a' + 10);
      v = v << 4 | d;
    }
    *out = v;
    return 0;
  }
  if (n == 0 || n > 20 || strspn(s, "0123456789") != n) return ALEC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return ALEC_EINVAL;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* ------------------------------------------------------------------ HTTP */

void alec_dash_config_init(alec_dash_config *cfg) {
  if (cfg == NULL) return;
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->node, sizeof cfg->node, "%s", ALEC_DASH_DEFAULT_NODE);
  snprintf(cfg->service, sizeof cfg->service, "%s", ALEC_DASH_DEFAULT_PORT);
  /* A slow client holds a slot until the timeout; with 16 per address (a
   * browser opens 6 per host, and the page polls the API meanwhile: 4 stalled
   * Chromium) fewer than 16 source addresses cannot fill 256 slots, and 10 s
   * bounds how long an incomplete request line is kept. */
  cfg->max_connections = 256;
  cfg->per_ip_connections = 16;
  cfg->timeout = 10;
}

static void common_headers(struct MHD_Response *r, const char *type) {
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  /* no-cache, not no-store: the API answers If-None-Match with 304. */
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  /* The page loads nothing but its own script and style and talks to
   * nothing but its own API. */
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                          "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

/* Queues r and drops our reference to it (the connection holds its own). */
static mhd_result queue_and_release(struct MHD_Connection *c, unsigned status, struct MHD_Response *r) {
  mhd_result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

/* A JSON document of the snapshot whose ETag is etag. */
static mhd_result queue_json(struct MHD_Connection *c, struct MHD_Response *r, const char *etag) {
  common_headers(r, "application/json");
  MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
  return queue_and_release(c, MHD_HTTP_OK, r);
}

static mhd_result send_static(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                              size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
  if (r == NULL) return MHD_NO;
  common_headers(r, type);
  return queue_and_release(c, status, r);
}

static mhd_result send_error(struct MHD_Connection *c, unsigned status, const char *msg) {
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg); /* msg: our own literals */
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof body) n = (int)sizeof body - 1;
  struct MHD_Response *r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
  if (r == NULL) return MHD_NO;
  common_headers(r, "application/json");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  return queue_and_release(c, status, r);
}

/* A body that lives in a snapshot: the response holds a reference and
 * reads from it in place, so no copy per client. */
typedef struct snap_body {
  alec_snap *snap;
  const char *p;
  size_t len;
} snap_body;

static ssize_t snap_read(void *cls, uint64_t pos, char *buf, size_t max) {
  const snap_body *sb = cls;
  if (pos >= sb->len) return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = sb->len - (size_t)pos;
  if (n > max) n = max;
  memcpy(buf, sb->p + pos, n);
  return (ssize_t)n;
}

static void snap_body_free(void *cls) {
  snap_body *sb = cls;
  alec_snap_release(sb->snap);
  free(sb);
}

static void etag_of(const alec_snap *s, char *out, size_t cap) { snprintf(out, cap, "\"%" PRIu64 "\"", s->seq); }

static int not_modified(struct MHD_Connection *c, const char *etag) {
  const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  return inm && strcmp(inm, etag) == 0;
}

static mhd_result send_snap_json(struct MHD_Connection *c, alec_snap *s, const char *etag) {
  if (not_modified(c, etag)) {
    alec_snap_release(s);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return queue_and_release(c, MHD_HTTP_NOT_MODIFIED, r);
  }
  const char *doc;
  size_t len;
  if (alec_snap_cached(s, alec_dash_fleet_json, &doc, &len) != 0 || doc == NULL) {
    alec_snap_release(s);
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the fleet document");
  }
  snap_body *sb = malloc(sizeof *sb);
  if (sb == NULL) {
    alec_snap_release(s);
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
  }
  *sb = (snap_body){s, doc, len};
  struct MHD_Response *r = MHD_create_response_from_callback(len, READ_BLOCK, snap_read, sb, snap_body_free);
  if (r == NULL) {
    snap_body_free(sb);
    return MHD_NO;
  }
  return queue_json(c, r, etag);
}

/* A decimal count in [0, max]: digits only, no sign, no blank. */
static int parse_count(const char *t, size_t max, size_t *out) {
  if (t == NULL || *t == '\0' || strlen(t) > 9) return -1;
  size_t v = 0;
  for (const char *p = t; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (size_t)(*p - '0');
  }
  if (v > max) return -1;
  *out = v;
  return 0;
}

/* /api/fleet?group=&offset=&limit=: rendered per request, bounded by
 * ALEC_DASH_PAGE_MAX emitters (the unpaged document is the cached first page). */
static mhd_result send_fleet_page(struct MHD_Connection *c, alec_snap *s, const char *etag, const char *group,
                                  const char *off, const char *lim) {
  size_t offset = 0, limit = ALEC_DASH_PAGE_DEFAULT;
  if ((off && parse_count(off, 100000000, &offset) != 0) ||
      (lim && (parse_count(lim, ALEC_DASH_PAGE_MAX, &limit) != 0 || limit == 0))) {
    alec_snap_release(s);
    return send_error(c, MHD_HTTP_BAD_REQUEST, "offset: 0..100000000; limit: 1..1000");
  }
  if (group && strlen(group) > ALEC_FLEET_GROUP_MAX) {
    alec_snap_release(s);
    return send_error(c, MHD_HTTP_BAD_REQUEST, "group: at most 63 characters");
  }
  if (not_modified(c, etag)) {
    alec_snap_release(s);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return queue_and_release(c, MHD_HTTP_NOT_MODIFIED, r);
  }
  char *doc = NULL;
  size_t len = 0;
  int rc = alec_dash_fleet_page_json(s, group, offset, limit, &doc, &len);
  alec_snap_release(s);
  if (rc != 0) return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the fleet document");
  struct MHD_Response *r = MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) {
    free(doc);
    return MHD_NO;
  }
  return queue_json(c, r, etag);
}

static mhd_result send_emitter(struct MHD_Connection *c, alec_dash *d, alec_snap *s, const char *idtext) {
  uint64_t id;
  if (alec_dash_parse_id(idtext, &id) != 0) {
    alec_snap_release(s);
    return send_error(c, MHD_HTTP_BAD_REQUEST, "emitter id: 16 hex digits or a decimal number");
  }
  long i = alec_snap_find(s, id);
  if (i < 0) {
    alec_snap_release(s);
    return send_error(c, MHD_HTTP_NOT_FOUND, "unknown emitter");
  }
  alec_snap_history h;
  /* History up to the snapshot's time, so the charts and the figures
   * beside them describe the same moment. */
  int rc = alec_snap_history_get(d->store, id, s->time, &h);
  char *doc = NULL;
  size_t len = 0;
  if (rc == 0) rc = alec_dash_emitter_json(s, (size_t)i, &h, &doc, &len);
  alec_snap_history_free(&h);
  char etag[32];
  etag_of(s, etag, sizeof etag);
  alec_snap_release(s);
  if (rc != 0) return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the emitter document");
  struct MHD_Response *r = MHD_create_response_from_buffer(len, doc, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) {
    free(doc);
    return MHD_NO;
  }
  return queue_json(c, r, etag);
}

static mhd_result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                         const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version, (void)upload, (void)con_cls;
  alec_dash *d = cls;
  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
    return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET and HEAD only");
  /* A GET with a body: not ours to read. */
  if (*upload_size) *upload_size = 0;
  if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
    return send_static(c, MHD_HTTP_OK, "text/html; charset=utf-8", alec_dash_html, alec_dash_html_len);
  if (strcmp(url, "/dashboard.css") == 0)
    return send_static(c, MHD_HTTP_OK, "text/css; charset=utf-8", alec_dash_css, alec_dash_css_len);
  if (strcmp(url, "/dashboard.js") == 0)
    return send_static(c, MHD_HTTP_OK, "text/javascript; charset=utf-8", alec_dash_js, alec_dash_js_len);
  if (strncmp(url, "/api/", 5) != 0) {
    static const char nf[] = "not found\n";
    return send_static(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", nf, sizeof nf - 1);
  }
  int fleet = strcmp(url, "/api/fleet") == 0;
  int emitter = strncmp(url, "/api/emitters/", 14) == 0;
  if (!fleet && !emitter) return send_error(c, MHD_HTTP_NOT_FOUND, "no such API endpoint");
  alec_snap *s = alec_snap_acquire(d->store);
  if (s == NULL) return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet");
  if (emitter) return send_emitter(c, d, s, url + 14);
  char etag[32];
  etag_of(s, etag, sizeof etag);
  const char *group = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "group");
  const char *off = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "offset");
  const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
  if (group == NULL && off == NULL && lim == NULL) return send_snap_json(c, s, etag);
  return send_fleet_page(c, s, etag, group, off, lim);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Our own listening socket, so a bind error names its cause and port "0"
 * tells which port the kernel chose. */
static int open_listener(const alec_dash_config *cfg, int *family, int *port, char *err, size_t errlen) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int gai = getaddrinfo(cfg->node, cfg->service, &hints, &res);
  if (gai != 0) {
    set_err(err, errlen, "dashboard address \"%s\" \"%s\": %s", cfg->node, cfg->service, gai_strerror(gai));
    return -1;
  }
  int fd = -1, saved = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      saved = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
      *family = ai->ai_family;
      break;
    }
    saved = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    set_err(err, errlen, "dashboard address \"%s\" \"%s\": %s", cfg->node, cfg->service, strerror(saved));
    return -1;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  *port = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET) *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6) *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return fd;
}

/* libmicrohttpd hands the handler a NUL-terminated decoded URL, so a decoded
 * %00 would silently cut "/api/emitters/1%00junk" down to emitter 1. Such a
 * path is left undecoded instead, and then matches nothing. */
static size_t unescape_no_nul(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  for (const char *p = s; (p = strchr(p, '%')) != NULL; p++)
    if (p[1] == '0' && p[2] == '0') return strlen(s);
  return MHD_http_unescape(s);
}

int alec_dash_start(alec_dash **out, const alec_dash_config *cfg, alec_snap_store *store, char *err,
                    size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (out == NULL || store == NULL) return ALEC_EINVAL;
  *out = NULL;
  alec_dash_config c;
  if (cfg) c = *cfg;
  else alec_dash_config_init(&c);
  if (c.max_connections == 0 || c.per_ip_connections == 0 || c.timeout == 0) {
    set_err(err, errlen, "dashboard: connection limits and timeout must be positive");
    return ALEC_EINVAL;
  }
  alec_dash *d = calloc(1, sizeof *d);
  if (d == NULL) return ALEC_ENOMEM;
  d->store = store;
  int family = AF_INET;
  int fd = open_listener(&c, &family, &d->port, err, errlen);
  if (fd < 0) {
    free(d);
    return ALEC_EIO;
  }
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
  d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, d, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, c.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            c.per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT, c.timeout,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_no_nul, (void *)NULL, MHD_OPTION_END);
  if (d->mhd == NULL) {
    close(fd);
    free(d);
    set_err(err, errlen, "dashboard: cannot start the HTTP server on \"%s\" \"%s\"", c.node, c.service);
    return ALEC_EIO;
  }
  *out = d;
  return 0;
}

int alec_dash_port(const alec_dash *d) { return d ? d->port : -1; }

void alec_dash_stop(alec_dash *d) {
  if (d == NULL) return;
  MHD_stop_daemon(d->mhd);
  free(d);
}
