/* SPDX-License-Identifier: MIT */
/* The receiver core (receiver.h). One dispatch thread does everything that
 * touches emitter state; the fleet object is single-threaded and fleet_lock
 * serialises the dispatch thread and the embedding program's readers
 * (statistics, per-emitter scores, the state file). */

#include "receiver.h"

#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/context.h"
#include "alec/decoder.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "alec/hash.h"
#include "emfile.h"
#include "lossrec.h"
#include "ratelimit.h"
#include "resync.h"
#include "security.h"
#include "spool.h"
#include "state.h"

#define LOG_INTERVAL 10.0
#define STALE_CHECK 1.0
#define PRUNE_INTERVAL 60.0
#define TIME_LIVE 2.0
#define STATE_ERROR_INTERVAL 300.0

_Static_assert(ALEC_PC_GROUP_LEN == ALEC_FLEET_GROUP_MAX + 1, "group length must match the fleet's");
_Static_assert(ALEC_RX_GROUP_LEN == ALEC_PC_GROUP_LEN, "metadata groups must fit the fleet's");
_Static_assert(ALEC_PC_MAX_FALLBACK_CHANNELS == ALEC_LR_MAX_CHANNELS, "Fallback channels must fit the loss recovery");

static const char *const reject_name[ALEC_RX_REJ_COUNT] = {
#define REJ_NAME(e, name, text) name,
    ALEC_RX_REJECTS(REJ_NAME)
#undef REJ_NAME
#define REJ_TLV_NAME(e, name, text) #name,
    ALEC_TLV_ERRORS(REJ_TLV_NAME)
#undef REJ_TLV_NAME
};
static const char *const reject_text[ALEC_RX_REJ_COUNT] = {
#define REJ_TEXT(e, name, text) text,
    ALEC_RX_REJECTS(REJ_TEXT)
    ALEC_TLV_ERRORS(REJ_TEXT)
#undef REJ_TEXT
};

const char *alec_rx_reject_name(int kind) {
  return kind >= 0 && kind < ALEC_RX_REJ_COUNT ? reject_name[kind] : "unknown";
}

/* Per emitter: THE receiver's record of it (the fleet keeps the decoder).
 * One table, open addressing under the keyed hash (alec_hash_id), so ids
 * cannot be chosen to collide; what used to be tables of their own (the
 * device name, the rate-limit bucket, the keyframe-request limits) are
 * fields here. Bounded: emitters without configuration take at most
 * MaxEmitters slots (em_find), configured ones (at most MaxEmitters, the
 * blocks and the EmitterFile together) have room beside them, so a flood
 * of unknown ids cannot take a configured emitter's record. */
typedef struct em_slot {
  uint64_t id;    /* id, used and host: written under host_lock (readers on other threads) */
  uint8_t used;   /* 0: free slot */
  uint8_t configured; /* counted apart from the unknown ones (recounted at each prune) */
  uint8_t family; /* alec_format of its first decoded frame, 0: none yet */
  uint8_t trust;    /* EM_SIGNED, EM_APART (unknown emitters, AuthFile configured) */
  uint16_t n_chans; /* channels admitted for dispatch (unknown emitters) */
  double seen;   /* receive time of its last message */
  double last;   /* last value time, 0: none yet */
  uint64_t group; /* hash of the metadata group last applied, 0: none */
  alec_lr *lr;    /* profiles with a Fallback: fCnt and loss recovery */
  uint64_t chans[4]; /* bit c: channel c admitted (ids 0..255) */
  /* The host an emitter without <Emitter> block last had its values
   * dispatched under (network-server device name), so that notifications,
   * scores and the dashboard name it as its values do; allocated only for
   * emitters that have one. */
  char *host;
  uint64_t host_hash; /* hash of host, 0: none */
  /* Channel names of its message's profile (fPort), for the same reason;
   * profiles live as long as the receiver. */
  const alec_pc_chanmap *map;
  alec_rl_bucket rl;  /* RateLimit */
  alec_rs_emitter rs; /* keyframe requests (ResyncInterval, the daily budget) */
  uint8_t has_lag;    /* lag is known */
  uint64_t fed;       /* rx->score_gen when its values last went to the fleet */
  double lag;         /* legacy frames: least receive - frame time seen (the emitter's clock offset) */
} em_slot;

/* Peer groups and authentication (docs/SECURITY.md, "Peer groups"). */
#define EM_SIGNED 1u /* a record of it arrived in a verified signed datagram */
#define EM_APART 2u  /* placed in UNAUTH_GROUP by the receiver */
#define UNAUTH_GROUP "unauthenticated"
/* How a record arrived: its datagram verified, unsigned, or a payload of a
 * transport that identified the emitter itself (network server). */
enum { REC_UNSIGNED = 0, REC_SIGNED = 1, REC_TRANSPORT = 2 };

struct alec_rx {
  const alec_plugin_config *cfg;
  alec_rx_sink sink;
  alec_rxq queue;
  alec_rx_ingress ingress;
  pthread_t thread;
  int started;
  atomic_int stop;
  double interval; /* EvaluationInterval */

  pthread_mutex_t fleet_lock; /* fleet and the counters below */
  alec_fleet *fleet;
  uint64_t held_back, unconvertible, dispatched, notifications, tlv_frames, fcnt_gaps;
  uint64_t estimated, ghosts_replayed, fcnt_resets, reanchored;
  uint64_t time_clamped[2];
  uint64_t rs_stats[3];
  atomic_uint_fast64_t rejected[ALEC_RX_REJ_COUNT];

  pthread_mutex_t log_lock; /* rate limits of the log, any thread */
  double last_log[ALEC_RX_REJ_COUNT];
  uint64_t suppressed[ALEC_RX_REJ_COUNT];

  /* Dispatch thread only. */
  alec_rs rs;
  uint64_t rs_synced;
  int state_ready;
  double next_state_save, last_state_error;
  uint64_t state_errors_suppressed;
  em_slot *ems; /* swapped under host_lock (em_prune) */
  size_t ems_mask, ems_used, ems_unknown, ems_limit;
  double next_prune, next_stale;
  /* The fleet's clock (collectd-alec(5), Data time): the latest data time
   * fed to it, the receive time of the message that fed it last, and the
   * monotone clock they give (alec_rx_clock). 0: no data yet. */
  double data_clock, data_recv, fleet_clock;
  uint64_t score_gen; /* fleet evaluations so far, + 1 (dispatch thread) */
  uint64_t oversized_seen, queue_drops_seen;
  alec_sec sec;
  /* EmitterFile registry: swapped on the dispatch thread under fleet_lock,
   * so readers on other threads (alec_rx_with_fleet) see one or the other. */
  alec_ef ef;
  alec_rl rl;
  int rl_on; /* RateLimit set */
  /* Readers of em_slot.host on other threads; the dispatch thread takes it
   * to write a slot's id, used or host, and to swap the table. */
  pthread_mutex_t host_lock;
  double id_tokens, id_refill; /* MaxNewIdentifiers bucket (burst: one second) */

  /* Messages processed whose `done` waits until their values are written
   * (sink.mark), in processing order. */
  pthread_mutex_t ack_lock;
  pthread_cond_t ack_cond;
  struct rx_deferred {
    uint64_t token, tag;
    void (*done)(void *, uint64_t);
    void *ctx;
    /* The emitter's decoder as it was before this message (undo), so that
     * a shutdown that drops its values also forgets its decoding and the
     * redelivered message decodes again. NULL: the emitter was new. */
    uint64_t emitter;
    int has_emitter;
    uint8_t *undo;
    size_t undo_len;
    /* Spooled transports (spool.h): the message itself, for the state
     * file if the writers never confirm it. NULL: not kept. */
    alec_rx_msg *keep;
    uint64_t first; /* sink.mark before the message: its lists are (first, token] */
    int unkept;     /* a spooled transport's message not kept (SpoolLimit) */
  } *deferred;
  size_t n_deferred, cap_deferred;
  uint64_t written; /* highest token the sink confirmed */

  /* The spool (spool.h). spool_on: StateFile, SpoolLimit and a sink that
   * confirms writes. replay: restored, processed before any new message;
   * spool: what alec_rx_stop keeps for the state file. n_kept: deferred
   * entries holding a message (under ack_lock). */
  int spool_on;
  int unwind; /* alec_rx_stop has deferred messages to undo and spool */
  int has_took;
  uint64_t took; /* alec_rx_writers_took */
  alec_rx_msg *replay, *spool;
  /* alec_rx_hold: set under hold_lock, which the dispatch thread holds
   * while it processes a batch; held: what it set aside since. */
  pthread_mutex_t hold_lock;
  int hold;
  alec_rx_msg *held, **held_tail;
  size_t n_kept;
  uint64_t spool_saved, spool_restored, spool_unresolved; /* under fleet_lock */
  atomic_uint_fast64_t spool_over;
};

static double now_real(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- logging ------------------------------------------------------------ */

static void vlog_line(alec_rx *rx, int level, const char *fmt, va_list ap) {
  if (rx->sink.log == NULL) return;
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  rx->sink.log(rx->sink.arg, level, buf);
}

void alec_rx_log(alec_rx *rx, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog_line(rx, level, fmt, ap);
  va_end(ap);
}

/* 1 when a line of this kind may be logged now; the caller then logs the
 * count of suppressed ones. A flood of garbage must not flood the log, and
 * must not cost the formatting of lines nobody reads. */
static int log_due(alec_rx *rx, int kind, uint64_t *more) {
  double now = now_mono();
  pthread_mutex_lock(&rx->log_lock);
  int due = rx->last_log[kind] == 0 || now - rx->last_log[kind] >= LOG_INTERVAL;
  if (due) {
    *more = rx->suppressed[kind];
    rx->suppressed[kind] = 0;
    rx->last_log[kind] = now;
  } else {
    rx->suppressed[kind]++;
  }
  pthread_mutex_unlock(&rx->log_lock);
  return due;
}

static void vreject(alec_rx *rx, int kind, const char *from, uint64_t emitter, const char *fmt, va_list ap) {
  atomic_fetch_add_explicit(&rx->rejected[kind], 1, memory_order_relaxed);
  uint64_t more;
  if (!log_due(rx, kind, &more)) return;
  char detail[256], tail[64] = "";
  vsnprintf(detail, sizeof detail, fmt, ap);
  if (more) snprintf(tail, sizeof tail, " (%" PRIu64 " more not logged)", more);
  if (emitter != UINT64_MAX && from)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s from %s, emitter %016" PRIx64 ": %s%s", reject_text[kind], from,
                emitter, detail, tail);
  else if (emitter != UINT64_MAX)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s, emitter %016" PRIx64 ": %s%s", reject_text[kind], emitter, detail,
                tail);
  else if (from)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s from %s: %s%s", reject_text[kind], from, detail, tail);
  else
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s: %s%s", reject_text[kind], detail, tail);
}

void alec_rx_reject(alec_rx *rx, int kind, const char *from, uint64_t emitter, const char *fmt, ...) {
  if (kind < 0 || kind >= ALEC_RX_REJ_COUNT) return;
  va_list ap;
  va_start(ap, fmt);
  vreject(rx, kind, from, emitter, fmt, ap);
  va_end(ap);
}

static void msg_from(const alec_rx_msg *m, char *out, size_t cap) {
  if (m->kind != ALEC_RX_DATAGRAM) {
    snprintf(out, cap, "%.*s", (int)(cap > 1 ? cap - 1 : 0), m->host[0] ? m->host : "network server");
    return;
  }
  char host[64], serv[16]; /* NI_MAXHOST needs _GNU_SOURCE; numeric forms fit */
  if (m->from_len == 0 || getnameinfo((const struct sockaddr *)&m->from, m->from_len, host, sizeof host, serv,
                                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(out, cap, "?");
    return;
  }
  if (m->from.ss_family == AF_INET6) snprintf(out, cap, "[%s]:%s", host, serv);
  else snprintf(out, cap, "%s:%s", host, serv);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void reject_msg(alec_rx *rx, int kind, const alec_rx_msg *m, uint64_t emitter, const char *fmt, ...) {
  char from[ALEC_RX_NAME_LEN + 32];
  msg_from(m, from, sizeof from);
  va_list ap;
  va_start(ap, fmt);
  vreject(rx, kind, from, emitter, fmt, ap);
  va_end(ap);
}

/* The transports only count what they drop; the dispatch thread logs. */
static void log_ingress_drops(alec_rx *rx) {
  uint64_t ov = atomic_load(&rx->ingress.oversized), qd = atomic_load(&rx->ingress.queue_drops);
  if (ov != rx->oversized_seen) {
    uint64_t n = ov - rx->oversized_seen;
    rx->oversized_seen = ov;
    uint64_t more;
    if (log_due(rx, ALEC_RX_REJ_OVERSIZED, &more))
      alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%" PRIu64 " oversized message(s) dropped", n);
  }
  if (qd != rx->queue_drops_seen) {
    uint64_t n = qd - rx->queue_drops_seen;
    rx->queue_drops_seen = qd;
    uint64_t more;
    if (log_due(rx, ALEC_RX_REJ_QUEUE, &more))
      alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                  "%" PRIu64 " message(s) dropped, the dispatch thread falls behind (QueueLength %zu)", n,
                  rx->cfg->queue_length);
  }
}

/* <Emitter> blocks win over the EmitterFile. */
static const alec_pc_emitter *rx_find(const alec_rx *rx, uint64_t id) {
  const alec_pc_emitter *em = alec_pc_find_emitter(rx->cfg, id);
  return em ? em : alec_ef_find(&rx->ef, id);
}

const alec_pc_emitter *alec_rx_find_emitter(const alec_rx *rx, uint64_t id) { return rx_find(rx, id); }

/* ---- per-emitter table ---------------------------------------------------- */

static em_slot *slot_probe(em_slot *t, size_t mask, uint64_t id) {
  size_t i = (size_t)alec_hash_id(id) & mask;
  for (;;) {
    em_slot *s = &t[i];
    if (!s->used || s->id == id) return s;
    i = (i + 1) & mask;
  }
}

/* The record of `id`; with `create`, a new one (seen 0) unless the table is
 * full for it: an emitter without configuration (`configured` 0) finds no
 * room once MaxEmitters of them are remembered (the fleet would refuse it
 * too), a configured one only when the whole table is full, which its
 * sizing (alec_rx_new) leaves for configuration changes between prunes. */
static em_slot *em_find(alec_rx *rx, uint64_t id, int create, int configured) {
  em_slot *s = slot_probe(rx->ems, rx->ems_mask, id);
  if (s->used) return s;
  if (!create || rx->ems_used >= rx->ems_limit) return NULL;
  if (!configured && rx->ems_unknown >= rx->cfg->max_emitters) return NULL;
  pthread_mutex_lock(&rx->host_lock);
  memset(s, 0, sizeof(*s));
  s->id = id;
  s->used = 1;
  pthread_mutex_unlock(&rx->host_lock);
  s->configured = configured != 0;
  rx->ems_used++;
  if (!configured) rx->ems_unknown++;
  return s;
}

/* Dispatch thread: the lock only when an emitter's host changes. */
static void host_remember(alec_rx *rx, em_slot *s, const char *host) {
  uint64_t hh = alec_hash_bytes(host, strlen(host));
  if (hh == 0) hh = 1;
  if (s->host_hash == hh) return;
  size_t n = strlen(host) + 1;
  char *copy = malloc(n);
  if (copy == NULL) return;
  memcpy(copy, host, n);
  pthread_mutex_lock(&rx->host_lock);
  char *old = s->host;
  s->host = copy;
  pthread_mutex_unlock(&rx->host_lock);
  free(old);
  s->host_hash = hh;
}

static void slot_free(em_slot *s) {
  free(s->lr);
  free(s->host);
}

/* Drops emitters not seen for 2 x EmitterTimeout (as the fleet does) by
 * rebuilding the table: linear probing has no cheap delete, and with a keyed
 * hash the rebuild is linear. Built aside and swapped under host_lock; the
 * dropped records are freed only then, since a reader may be copying a
 * device name out of the old table until the swap. */
static void em_prune(alec_rx *rx, double now) {
  double keep = 2 * rx->cfg->emitter_timeout;
  size_t n = rx->ems_mask + 1, used = 0, unknown = 0;
  em_slot *old = rx->ems;
  em_slot *fresh = calloc(n, sizeof(*fresh));
  if (fresh == NULL) return;
  for (size_t i = 0; i < n; i++) {
    if (!old[i].used || now - old[i].seen > keep) continue;
    em_slot *s = slot_probe(fresh, rx->ems_mask, old[i].id);
    *s = old[i];
    /* The EmitterFile may have changed since the slot was made. */
    s->configured = rx_find(rx, s->id) != NULL;
    used++;
    unknown += !s->configured;
  }
  pthread_mutex_lock(&rx->host_lock);
  rx->ems = fresh;
  pthread_mutex_unlock(&rx->host_lock);
  rx->ems_used = used;
  rx->ems_unknown = unknown;
  for (size_t i = 0; i < n; i++) {
    if (!old[i].used || !(now - old[i].seen > keep)) continue;
    /* Group assignments the receiver made go with the emitter: the fleet
     * bounds them by MaxEmitters. */
    if ((old[i].trust & EM_APART) || old[i].group) {
      const alec_pc_emitter *em = rx_find(rx, old[i].id);
      if (em == NULL || em->group[0] == '\0') {
        pthread_mutex_lock(&rx->fleet_lock);
        alec_fleet_clear_emitter_group(rx->fleet, old[i].id);
        pthread_mutex_unlock(&rx->fleet_lock);
      }
    }
    slot_free(&old[i]);
  }
  free(old);
}

/* The time of a frame's values (collectd-alec(5), TIME): a legacy header
 * timestamp, or the network server's time of the uplink, wins when it lies
 * within TimestampTolerance of the receive time (default 600 s in the past,
 * 5 s in the future), except that a legacy frame received within 2 s of its
 * stamp takes the finer receive time. Further off, the receive time is used and the
 * clamp counted: one frame stamped ahead must not drag every later value of
 * its emitter into the future (times of one emitter only increase, as
 * collectd's cache requires), nor a fresh emitter land a day in the past. */
#define NS_TIME_PAST 604800.0 /* 7 days */

/* The rule above for one claimed time: the claimed or the receive time,
 * *clamped 1 (too old) or 2 (ahead) when it is refused. */
static double claimed_time(const alec_rx *rx, double claimed, int by_ns, double received, int *clamped) {
  double t = received, past = rx->cfg->time_past;
  /* The network server stamped the uplink when its gateways heard it: not
   * the device's claim but the infrastructure's. A broker's persistent
   * session delivers hours of backlog after collectd was down, and those
   * values belong at their own times. */
  if (by_ns && past < NS_TIME_PAST) past = NS_TIME_PAST;
  if (!isfinite(claimed) || claimed + past < t) *clamped = 1;
  else if (claimed > t + rx->cfg->time_future) *clamped = 2;
  /* A legacy stamp counts whole seconds: live, the receive time is finer.
   * The network server's is finer than ours to the uplink: always taken,
   * or a receiver lagging 2 s would switch clocks between two uplinks and
   * store both within a millisecond. */
  else if (by_ns || !(t >= claimed && t - claimed < TIME_LIVE)) t = claimed;
  return t;
}

static double value_time(const alec_rx *rx, em_slot *s, const alec_frame_info *info, const alec_rx_msg *m,
                         int *clamped) {
  double t = m->received;
  if (info->has_timestamp) t = claimed_time(rx, (double)info->timestamp, 0, m->received, clamped);
  else if (m->has_event_time) t = claimed_time(rx, m->event_time, 1, m->received, clamped);
  if (s) {
    /* The next representable time: distinct for collectd (2^-30 s ticks). */
    if (s->last > 0 && t <= s->last) t = nextafter(s->last, INFINITY);
    s->last = t;
  }
  return t;
}

/* Legacy clocks drift by tens of ppm: the least lag may creep up by this
 * much per second of receive time, so that it follows the emitter's clock. */
#define LAG_CREEP 1e-4

/* The time the fleet observes a message's values at (collectd-alec(5), Data
 * time), known before decoding: the network server's time of the uplink by
 * the rule of value_time; a legacy frame's timestamp moved onto the
 * receiver's clock by the emitter's least lag (a device clock minutes off
 * is not a device minutes late), then by the same rule, so that a frame the
 * emitter held back keeps its place; receive time otherwise. prev_seen is
 * the receive time of the emitter's previous message (0: none). Feeds the
 * fleet's data clock. */
static double data_time(alec_rx *rx, em_slot *s, double prev_seen, const alec_rx_msg *m, const uint8_t *frame,
                        size_t len) {
  double t = m->received;
  int clamped = 0;
  alec_header h;
  if (m->has_event_time) {
    t = claimed_time(rx, m->event_time, 1, m->received, &clamped);
  } else if (s && frame && alec_frame_family(frame, len) == ALEC_FAMILY_LEGACY &&
             alec_header_parse(frame, len, &h) == 0) {
    double claimed = (double)h.timestamp, lag = m->received - claimed;
    if (s->has_lag && prev_seen > 0 && m->received > prev_seen) s->lag += LAG_CREEP * (m->received - prev_seen);
    if (!s->has_lag || lag < s->lag) s->lag = lag;
    s->has_lag = 1;
    t = claimed_time(rx, claimed + s->lag, 0, m->received, &clamped);
  }
  if (t > rx->data_clock || rx->data_clock == 0) rx->data_clock = t;
  rx->data_recv = m->received;
  return t;
}

double alec_rx_clock(alec_rx *rx, double wall) {
  if (!(rx->data_clock > 0)) return 0;
  double c = rx->data_clock;
  /* Idle: the clock runs on at the wall's pace from the latest message, so
   * that an outage makes emitters stale. Never back. */
  if (isfinite(wall) && wall > rx->data_recv) c += wall - rx->data_recv;
  if (c > rx->fleet_clock) rx->fleet_clock = c;
  return rx->fleet_clock;
}

/* Scoring within a batch where a live stream, scored after every message
 * and on the timer, would have scored, for messages of a backlog (data time
 * more than TIME_LIVE behind the receive time: a burst after a restart or
 * an outage): at its data time t, before it is fed when a baseline is due
 * by age or its emitter's previous report is still unscored (the fleet
 * scores a channel once per evaluation and dwell counts scores: a burst
 * must not count as one report); after it when its value made one due.
 * The fleet knows in O(1). A live stream keeps its per-batch scoring. */
static void score_due(alec_rx *rx, em_slot *s, const alec_rx_msg *m, double t, int before) {
  int backlog = m->received - t > TIME_LIVE;
  int repeat = backlog && before && s && s->fed == rx->score_gen;
  int due = 0;
  if (backlog) {
    pthread_mutex_lock(&rx->fleet_lock);
    due = alec_fleet_score_due(rx->fleet, t);
    pthread_mutex_unlock(&rx->fleet_lock);
  }
  if (repeat || due) {
    double now = alec_rx_clock(rx, NAN);
    if (now > 0) alec_rx_score(rx, now);
  }
  if (before && s) s->fed = rx->score_gen;
}

static void emitter_host(const alec_rx *rx, const alec_pc_emitter *em, const alec_rx_msg *m, uint64_t id, char *out,
                         size_t cap) {
  (void)rx;
  if (em) snprintf(out, cap, "%s", em->host);
  else if (m && m->host[0]) snprintf(out, cap, "%s", m->host);
  else alec_pc_default_host(id, out, cap);
}

const alec_pc_chanmap *alec_rx_emitter_map(const alec_rx *rx, uint64_t id) {
  const alec_pc_emitter *em = rx_find(rx, id);
  if (em) return em->map;
  if (rx->ems == NULL) return NULL;
  alec_rx *w = (alec_rx *)rx; /* the lock only */
  pthread_mutex_lock(&w->host_lock);
  const em_slot *s = slot_probe(rx->ems, rx->ems_mask, id);
  const alec_pc_chanmap *map = s->used ? s->map : NULL;
  pthread_mutex_unlock(&w->host_lock);
  return map;
}

/* Group events are rare (fleet shifts, silence): a scan of the table. */
const alec_pc_chanmap *alec_rx_group_map(const alec_rx *rx, const char *group, uint32_t ch) {
  if (rx->ems == NULL || group == NULL) return NULL;
  uint64_t h = 0; /* "": emitters that metadata placed in no group */
  if (group[0]) {
    h = alec_hash_bytes(group, strlen(group));
    if (h == 0) h = 1;
  }
  const alec_pc_chanmap *map = NULL;
  alec_rx *w = (alec_rx *)rx;
  pthread_mutex_lock(&w->host_lock);
  for (size_t i = 0; i <= rx->ems_mask && map == NULL; i++) {
    const em_slot *s = &rx->ems[i];
    if (s->used && s->group == h && s->map && alec_pc_channel_find(s->map, ch)) map = s->map;
  }
  pthread_mutex_unlock(&w->host_lock);
  return map;
}

void alec_rx_emitter_host(const alec_rx *rx, uint64_t id, char *out, size_t cap) {
  const alec_pc_emitter *em = rx_find(rx, id);
  if (em == NULL && rx->ems) {
    alec_rx *w = (alec_rx *)rx; /* the lock only */
    pthread_mutex_lock(&w->host_lock);
    const em_slot *s = slot_probe(rx->ems, rx->ems_mask, id);
    int found = s->used && s->host;
    if (found) snprintf(out, cap, "%s", s->host);
    pthread_mutex_unlock(&w->host_lock);
    if (found) return;
  }
  emitter_host(rx, em, NULL, id, out, cap);
}

const alec_plugin_config *alec_rx_config(const alec_rx *rx) { return rx->cfg; }

/* ---- keyframe requests and the state file ------------------------------------ */

static void resync_note(alec_rx *rx, const alec_rx_msg *m, em_slot *s, uint64_t id, int bare) {
  if (!rx->rs.ready || m->reply.send == NULL) return;
  alec_rs_request(&rx->rs, s ? &s->rs : NULL, id, bare, 1.0 + now_mono(), &m->reply);
}

static void resync_flush(alec_rx *rx, const alec_rx_msg *m) {
  if (!rx->rs.ready) return;
  alec_rs_flush(&rx->rs, &m->reply);
  uint64_t sum = rx->rs.sent + rx->rs.limited + rx->rs.failed;
  if (sum == rx->rs_synced) return;
  rx->rs_synced = sum;
  pthread_mutex_lock(&rx->fleet_lock);
  rx->rs_stats[0] = rx->rs.sent;
  rx->rs_stats[1] = rx->rs.limited;
  rx->rs_stats[2] = rx->rs.failed;
  pthread_mutex_unlock(&rx->fleet_lock);
}

static int state_filter(void *arg, uint64_t id) {
  const alec_rx *rx = arg;
  return !rx->cfg->reject_unknown || rx_find(rx, id) != NULL;
}

/* The messages a previous stop spooled: processed first (dispatch_main). */
static void spool_restore(alec_rx *rx, const uint8_t *buf, size_t len) {
  if (len == 0) return;
  alec_spool_counts c;
  int rc = alec_spool_decode(rx->cfg, buf, len, rx->cfg->spool_limit, &rx->replay, &c);
  if (rc != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `StateFile': cannot restore the spooled messages: %s",
                alec_strerror(rc));
    return;
  }
  rx->spool_restored = c.kept;
  atomic_fetch_add(&rx->spool_over, c.over);
  rx->spool_unresolved = c.unresolved;
  alec_rx_log(rx, c.over || c.unresolved ? ALEC_RX_LOG_WARNING : ALEC_RX_LOG_INFO,
              "%zu spooled messages restored, processed before any new one (%zu above SpoolLimit %zu dropped, %zu of "
              "an <MQTT> block or <Profile> no longer configured dropped)",
              c.kept, c.over, rx->cfg->spool_limit, c.unresolved);
}

/* A refused state file never stops the receiver: it starts clean. */
static void state_restore(alec_rx *rx) {
  const char *path = rx->cfg->state_file;
  if (path[0] == '\0') return;
  char err[ALEC_PC_PATH_LEN + 512];
  alec_fleet_state_info info;
  alec_ps_meta meta;
  double now = now_real();
  int rc = alec_ps_load_rx(path, rx->fleet, now, state_filter, rx, rx->cfg->receiver_id, &meta, &info, err,
                           sizeof err);
  rx->state_ready = 1;
  if (rc == 1) {
    alec_rx_log(rx, ALEC_RX_LOG_INFO, "no state file \"%s\" yet, starting without emitter state", path);
  } else if (rc == 0) {
    /* Counters at or below what was accepted before the restart are
     * replays, whatever the 64-counter windows of memory would say. */
    for (size_t i = 0; i < meta.n_keys; i++) alec_sec_restore_counter(&rx->sec, meta.keys[i].id, meta.keys[i].top);
    free(meta.keys);
    /* The fleet's clock resumes where the saved one stood: a backlog that
     * waited in the broker since then is scored in its own time, and with
     * nothing arriving the restored emitters still go stale. */
    if (info.emitters > 0 && isfinite(info.saved_at) && rx->data_clock == 0) {
      rx->data_clock = info.saved_at < now ? info.saved_at : now;
      rx->data_recv = now;
    }
    spool_restore(rx, meta.spool, meta.spool_len);
    free(meta.spool);
    alec_rx_log(rx, ALEC_RX_LOG_INFO,
                "restored %zu emitters and the replay counters of %zu keys from \"%s\" (saved %.0f s ago; %zu "
                "skipped, %zu changed group)%s",
                info.emitters, meta.n_keys, path, now - info.saved_at, info.skipped, info.group_changes,
                meta.format == 1 ? "; an older format without replay counters: replays of datagrams signed before "
                                   "the restart are possible until the next save"
                                 : "");
  } else if (rc == ALEC_EIO) {
    /* Unreadable: keep it, and do not overwrite what we could not read. */
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "%s; starting with a clean state, the state will not be saved", err);
    rx->state_ready = 0;
  } else if (rc == ALEC_EAUTH) {
    /* Not ours to trust; our own save replaces it (mode 0600). */
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "%s; starting with a clean state", err);
  } else {
    char aside[ALEC_PC_PATH_LEN + 256];
    int moved = alec_ps_set_aside(path, aside, sizeof aside);
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "%s; starting with a clean state%s%s", err,
                moved == 0 ? ", the file was renamed to *.refused" : ": ", moved == 0 ? "" : aside);
  }
  rx->next_state_save = now_mono() + rx->cfg->state_interval;
}

/* What alec_rx_stop kept into meta->spool; what does not fit is counted
 * and said. */
static size_t spool_encode(alec_rx *rx, alec_ps_meta *meta) {
  alec_spool_counts c;
  int rc = alec_spool_encode(rx->cfg, rx->spool, rx->cfg->spool_limit, &meta->spool, &meta->spool_len, &c);
  atomic_fetch_add(&rx->spool_over, c.over);
  if (rc != 0 || c.over)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                "%zu messages received but not stored at shutdown could not be spooled (SpoolLimit %zu, at most %u "
                "bytes%s): lost",
                c.over, rx->cfg->spool_limit, ALEC_SPOOL_MAX_BYTES, rc != 0 ? ", out of memory" : "");
  return c.kept;
}

/* Serialised under fleet_lock, written (and fsync'ed) outside it. */
static void state_save(alec_rx *rx, int final) {
  uint8_t *buf = NULL;
  size_t len = 0;
  alec_fleet_state_info info;
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_state_save(rx->fleet, now_real(), &buf, &len, &info);
  pthread_mutex_unlock(&rx->fleet_lock);
  char err[ALEC_PC_PATH_LEN + 256];
  if (rc == 0) {
    /* The replay counters: only this thread touches the key table. */
    alec_ps_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.receiver, sizeof meta.receiver, "%s", rx->cfg->receiver_id);
    size_t cap = alec_sec_counter_count(&rx->sec);
    meta.keys = cap ? malloc(cap * sizeof(*meta.keys)) : NULL;
    if (cap && meta.keys == NULL) {
      rc = ALEC_ENOMEM;
      snprintf(err, sizeof err, "out of memory");
    } else {
      meta.n_keys = alec_sec_export_counters(&rx->sec, meta.keys, cap);
      size_t kept = final && rx->spool ? spool_encode(rx, &meta) : 0;
      rc = alec_ps_save_rx(rx->cfg->state_file, &meta, buf, len, err, sizeof err);
      if (rc == 0) {
        pthread_mutex_lock(&rx->fleet_lock);
        rx->spool_saved = kept;
        pthread_mutex_unlock(&rx->fleet_lock);
      }
    }
    free(meta.keys);
    free(meta.spool);
  } else {
    snprintf(err, sizeof err, "cannot serialise the fleet state: %s", alec_strerror(rc));
  }
  free(buf);
  if (rc != 0) {
    /* An unwritable file fails at every StateInterval: say so once per
     * STATE_ERROR_INTERVAL, with the count, not at every attempt. */
    double now = now_mono();
    if (final || rx->last_state_error == 0 || now - rx->last_state_error >= STATE_ERROR_INTERVAL) {
      if (rx->state_errors_suppressed)
        alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `StateFile': %s (%" PRIu64 " more failures not logged)", err,
                    rx->state_errors_suppressed);
      else alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `StateFile': %s", err);
      rx->last_state_error = now;
      rx->state_errors_suppressed = 0;
    } else {
      rx->state_errors_suppressed++;
    }
  } else if (final) {
    if (rx->spool_on)
      alec_rx_log(rx, ALEC_RX_LOG_INFO, "state of %zu emitters saved to \"%s\", with %" PRIu64 " spooled messages",
                  info.emitters, rx->cfg->state_file, rx->spool_saved);
    else alec_rx_log(rx, ALEC_RX_LOG_INFO, "state of %zu emitters saved to \"%s\"", info.emitters, rx->cfg->state_file);
  }
}

/* ---- decoding ---------------------------------------------------------------- */

static void deliver(alec_rx *rx, uint64_t id, const alec_pc_emitter *em, const alec_rx_msg *m, em_slot *s,
                    alec_fleet_value *vals, int n, const alec_frame_info *info, double period) {
  /* A value the decoder could not reconstruct is a guess: never stored. */
  size_t keep = 0;
  for (int i = 0; i < n; i++)
    if (!(vals[i].flags & ALEC_VALUE_UNRELIABLE)) vals[keep++] = vals[i];
  const alec_pc_chanmap *map = em ? em->map : m->profile ? &m->profile->s.map : NULL;
  for (size_t i = 0; map && i < keep; i++) vals[i].value = alec_pc_convert(map, vals[i].channel, vals[i].value);
  char host[ALEC_RX_NAME_LEN];
  emitter_host(rx, em, m, id, host, sizeof host);
  if (em == NULL && s && m && m->host[0]) host_remember(rx, s, host);
  if (em == NULL && s && s->map != map) {
    pthread_mutex_lock(&rx->host_lock);
    s->map = map;
    pthread_mutex_unlock(&rx->host_lock);
  }
  int clamped = 0;
  alec_rx_frame f = {
      .id = id,
      .em = em,
      .host = host,
      .group = em && em->group[0] ? em->group : m->group,
      .time = value_time(rx, s, info, m, &clamped),
      .interval = period,
      .values = vals,
      .n = keep,
      .info = info,
      .msg = m,
      .map = map,
  };
  uint64_t sent = 0, unconv = 0;
  if (keep && rx->sink.values) rx->sink.values(rx->sink.arg, &f, &sent, &unconv);
  pthread_mutex_lock(&rx->fleet_lock);
  rx->held_back += (uint64_t)n - keep;
  rx->unconvertible += unconv;
  rx->dispatched += sent;
  for (size_t i = 0; i < keep; i++) rx->estimated += (vals[i].flags & ALEC_RX_VALUE_ESTIMATED) != 0;
  if (clamped) rx->time_clamped[clamped - 1]++;
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rx->sink.priority && rx->cfg->notify_priority >= 0 && info->priority <= (unsigned)rx->cfg->notify_priority &&
      keep > 0)
    rx->sink.priority(rx->sink.arg, &f);
}

/* What an unknown emitter may make the daemon create: its first
 * UnknownMaxChannels channel ids (0..255), each new one paid from a
 * receiver-wide bucket of MaxNewIdentifiers per second. Values of other
 * channels are dropped before the sink, so one datagram cannot create
 * identifiers without bound. Returns the number of values kept. */
static int admit_channels(alec_rx *rx, const alec_rx_msg *m, uint64_t id, em_slot *s, alec_fleet_value *vals,
                          int n, int how) {
  int keep = 0, over = 0, rate = 0;
  double now = m->received;
  if (now > rx->id_refill) {
    rx->id_tokens += (now - rx->id_refill) * rx->cfg->max_new_identifiers;
    if (rx->id_tokens > rx->cfg->max_new_identifiers) rx->id_tokens = rx->cfg->max_new_identifiers;
    rx->id_refill = now;
  } else if (now < rx->id_refill - 1.0) {
    rx->id_refill = now; /* the clock went back: count from here, no refill */
  }
  for (int i = 0; i < n; i++) {
    uint32_t c = vals[i].channel;
    if (s == NULL || c > 255) {
      over++;
      continue;
    }
    uint64_t bit = UINT64_C(1) << (c & 63);
    if (!(s->chans[c >> 6] & bit)) {
      if (s->n_chans >= rx->cfg->unknown_max_channels) {
        over++;
        continue;
      }
      /* Devices a network server identified (it authenticated them) come
       * by the thousand after a restart or an outage, each a real device:
       * their channels stay bounded per device, not rate-limited. */
      if (how != REC_TRANSPORT) {
        if (rx->id_tokens < 1) {
          rate++;
          continue;
        }
        rx->id_tokens -= 1;
      }
      s->chans[c >> 6] |= bit;
      s->n_chans++;
    }
    vals[keep++] = vals[i];
  }
  if (over)
    reject_msg(rx, ALEC_RX_REJ_CHANNELS, m, id, "%d value(s) of channels beyond the first %u dropped", over,
               rx->cfg->unknown_max_channels);
  if (rate)
    reject_msg(rx, ALEC_RX_REJ_NEW_IDS, m, id, "%d value(s) of new channels dropped (MaxNewIdentifiers %g/s)", rate,
               rx->cfg->max_new_identifiers);
  return keep;
}

/* Peer group from the network server's metadata, for emitters without a
 * configured Group: applied when it first appears or changes. */
static void apply_group(alec_rx *rx, const alec_pc_emitter *em, em_slot *s, uint64_t id, const char *group) {
  if ((em && em->group[0]) || group[0] == '\0' || s == NULL) return;
  uint64_t h = alec_hash_bytes(group, strlen(group));
  if (h == 0) h = 1;
  if (h == s->group) return;
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_set_emitter_group(rx->fleet, id, group);
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc == 0) s->group = h;
  else alec_rx_log(rx, ALEC_RX_LOG_WARNING, "emitter %016" PRIx64 ": group \"%s\" from metadata: %s", id, group,
                   alec_strerror(rc));
}

/* An emitter authenticated by signature is never judged against peers
 * whose data nobody authenticated: with an AuthFile, an unknown emitter
 * whose records arrive unsigned goes to the group "unauthenticated" (unless
 * it has a group of its own), and once one of its records arrived signed,
 * its unsigned records are refused while the receiver remembers it.
 * 0: go on, -1: refused. */
static int separate(alec_rx *rx, const alec_rx_msg *m, uint64_t id, const alec_pc_emitter *em, em_slot *s,
                    int how) {
  if (em || how == REC_TRANSPORT || rx->sec.keys == NULL) return 0;
  if (s == NULL) { /* the receiver's table is full: it could not keep it apart */
    if (how == REC_SIGNED) return 0;
    reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, id, "unsigned record, no room to keep it apart from signed emitters");
    return -1;
  }
  const char *to = NULL;
  if (how == REC_SIGNED) {
    s->trust |= EM_SIGNED;
    if (s->trust & EM_APART) to = "";
  } else {
    if (s->trust & EM_SIGNED) {
      reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, id, "unsigned record of an emitter whose records arrived signed");
      return -1;
    }
    if (!(s->trust & EM_APART) && m->group[0] == '\0') to = UNAUTH_GROUP;
  }
  if (to == NULL) return 0;
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = to[0] ? alec_fleet_set_emitter_group(rx->fleet, id, to) : alec_fleet_clear_emitter_group(rx->fleet, id);
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc != 0) {
    /* Fail closed: an unsigned emitter that cannot be kept apart is not
     * decoded into the group of authenticated ones. */
    if (how != REC_SIGNED) {
      reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, id, "unsigned record, cannot be kept apart from signed emitters: %s",
                 alec_strerror(rc));
      return -1;
    }
    return 0;
  }
  if (to[0]) s->trust |= EM_APART;
  else s->trust &= (uint8_t)~EM_APART;
  return 0;
}

static void process_record(alec_rx *rx, const alec_rx_msg *m, uint64_t id, const alec_pc_emitter *em,
                           alec_format fmt, unsigned channels, const uint8_t *frame, size_t len, int bare,
                           int how) {
  if (em == NULL && rx->cfg->reject_unknown) {
    reject_msg(rx, ALEC_RX_REJ_UNKNOWN, m, id, "not configured (UnknownEmitters \"reject\")");
    return;
  }
  if (em && em->format && em->format != fmt) {
    reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "frame family %s, configured Format \"%s\"", alec_format_name(fmt),
               alec_format_name(em->format));
    return;
  }
  if (em && fmt == ALEC_FORMAT_FIXED && em->channels && em->channels != channels) {
    reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "%u channels, configured Channels %u", channels, em->channels);
    return;
  }
  /* A fixed frame carries all its channels every time: wider than the
   * bound, it would never be stored whole; refused before decoding. */
  if (em == NULL && fmt == ALEC_FORMAT_FIXED && channels > rx->cfg->unknown_max_channels) {
    reject_msg(rx, ALEC_RX_REJ_CHANNELS, m, id, "fixed frame of %u channels (UnknownMaxChannels %u)", channels,
               rx->cfg->unknown_max_channels);
    return;
  }
  /* Before decoding: a flood costs a hash lookup, not a decode. */
  em_slot *s = em_find(rx, id, 1, em != NULL);
  if (s == NULL && em == NULL) {
    reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters without configuration remembered",
               rx->ems_unknown);
    return;
  }
  double prev_seen = s ? s->seen : 0;
  if (s) s->seen = m->received;
  /* A configured emitter without a record (the table full between two
   * prunes) is bounded by its configuration: not limited. */
  if (rx->rl_on && s && !alec_rl_allow(&rx->rl, &s->rl, m->received)) {
    reject_msg(rx, ALEC_RX_REJ_RATE, m, id, "above RateLimit %g frames/s (burst %g)", rx->cfg->rate_limit,
               rx->cfg->rate_burst);
    return;
  }
  /* The families share one context per emitter: a single-value frame for
   * source k would move the predictor of fixed channel k-1. An emitter
   * speaks one family (a configured Format enforces it above). */
  if (s && s->family && s->family != (uint8_t)fmt) {
    reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "%s frame from an emitter that sends %s frames (family switch)",
               alec_format_name(fmt), alec_format_name((alec_format)s->family));
    return;
  }
  if (separate(rx, m, id, em, s, how) != 0) return;
  apply_group(rx, em, s, id, m->group);
  alec_fleet_value vals[ALEC_FLEET_MAX_VALUES];
  alec_frame_info info;
  memset(&info, 0, sizeof info);
  double t = data_time(rx, s, prev_seen, m, frame, len);
  score_due(rx, s, m, t, 1);
  pthread_mutex_lock(&rx->fleet_lock);
  int n = alec_fleet_process(rx->fleet, id, fmt, channels, frame, len, t, vals, ALEC_FLEET_MAX_VALUES, &info);
  double period = n >= 0 ? alec_fleet_emitter_period(rx->fleet, id) : 0;
  pthread_mutex_unlock(&rx->fleet_lock);
  score_due(rx, s, m, t, 0);
  if (n < 0) {
    if (n == ALEC_ENOSPC)
      reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters known", rx->cfg->max_emitters);
    else if (n == ALEC_EREPLAY)
      reject_msg(rx, ALEC_RX_REJ_STALE, m, id, "%s frame: sequence already seen or behind the last one",
                 alec_format_name(fmt));
    else
      reject_msg(rx, ALEC_RX_REJ_DECODE, m, id, "%s frame of %zu bytes: %s", alec_format_name(fmt), len,
                 alec_strerror(n));
    /* A frame that needs prediction state we do not have (restart without
     * state, lost keyframe) is cured by a keyframe; a replay is not. */
    if (n != ALEC_ENOSPC && n != ALEC_EREPLAY) resync_note(rx, m, s, id, bare);
    return;
  }
  if (s) s->family = (uint8_t)fmt;
  if (info.gap > 0 || info.n_unreliable > 0) resync_note(rx, m, s, id, bare);
  if (n > ALEC_FLEET_MAX_VALUES) n = ALEC_FLEET_MAX_VALUES;
  if (em == NULL) n = admit_channels(rx, m, id, s, vals, n, how);
  deliver(rx, id, em, m, s, vals, n, &info, period);
}

/* 1 when the datagram may be processed (*r then reads its records). */
static int sec_admit(alec_rx *rx, const alec_rx_msg *m, alec_envelope_reader *r, int *was_signed_out) {
  int code, was_signed;
  uint64_t who;
  uint16_t key_id;
  alec_sec_verdict v =
      alec_sec_open(&rx->sec, rx->cfg, m->security, m->data, m->len, r, &code, &who, &was_signed, &key_id);
  unsigned first = m->len ? m->data[0] : 0;
  *was_signed_out = was_signed;
  switch (v) {
  case ALEC_SEC_OK: return 1;
  case ALEC_SEC_MALFORMED:
  case ALEC_SEC_VERSION:
    reject_msg(rx, v == ALEC_SEC_VERSION ? ALEC_RX_REJ_VERSION : ALEC_RX_REJ_MALFORMED, m, UINT64_MAX,
               "%zu bytes, first byte 0x%02x: %s", m->len, first, alec_strerror(code));
    break;
  case ALEC_SEC_UNSIGNED:
    reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, who, "unsigned datagram of %zu bytes, the emitter or the socket requires signing",
               m->len);
    break;
  case ALEC_SEC_UNKNOWN_KEY:
    reject_msg(rx, ALEC_RX_REJ_UNKNOWN_KEY, m, UINT64_MAX, "key id %u is not in the AuthFile%s", key_id,
               rx->sec.path ? "" : " (no AuthFile configured)");
    break;
  case ALEC_SEC_BAD_SIGNATURE:
    reject_msg(rx, ALEC_RX_REJ_BAD_SIGNATURE, m, UINT64_MAX, "%zu bytes signed with key id %u: the tag does not verify",
               m->len, key_id);
    break;
  case ALEC_SEC_REPLAY:
    reject_msg(rx, ALEC_RX_REJ_REPLAY, m, UINT64_MAX, "key id %u: counter already seen or older than the replay window",
               key_id);
    break;
  case ALEC_SEC_NOT_ALLOWED:
    reject_msg(rx, ALEC_RX_REJ_NOT_ALLOWED, m, who, "key id %u may not sign for this emitter", key_id);
    break;
  }
  return 0;
}

static void process_datagram(alec_rx *rx, const alec_rx_msg *m) {
  const alec_pc_emitter *bare = alec_pc_find_source(rx->cfg, (const struct sockaddr *)&m->from, m->from_len);
  if (bare) {
    if (alec_sec_level(bare, m->security) == ALEC_PC_SEC_SIGN) {
      reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, bare->id, "bare frame from its Source on a SecurityLevel Sign socket");
      return;
    }
    process_record(rx, m, bare->id, bare, bare->format, bare->channels, m->data, m->len, 1, REC_UNSIGNED);
    return;
  }
  /* Authenticated and validated as a whole first: a forged, replayed or
   * damaged datagram is refused entirely, before any emitter sees it. */
  alec_envelope_reader r;
  alec_envelope_record rec;
  int was_signed = 0;
  if (!sec_admit(rx, m, &r, &was_signed)) return;
  while (alec_envelope_next(&r, &rec) > 0)
    process_record(rx, m, rec.emitter, rx_find(rx, rec.emitter), rec.format, rec.channels,
                   rec.frame, rec.frame_len, 0, was_signed ? REC_SIGNED : REC_UNSIGNED);
}

/* Milesight TLV to channel values (registers): every channel needs its item,
 * since the ghost frame observes all of them in channel order. */
static int tlv_values(alec_rx *rx, const alec_rx_msg *m, const alec_pc_profile *prof, double *out) {
  alec_tlv_item items[ALEC_PC_MAX_TLV];
  size_t k = 0;
  int rc = alec_tlv_parse(m->data, m->len, items, ALEC_PC_MAX_TLV, &k);
  if (rc < 0) {
    reject_msg(rx, ALEC_RX_REJ_OF_TLV(rc), m, m->emitter, "%zu bytes, first byte 0x%02x: %s", m->len,
               m->len ? m->data[0] : 0, alec_tlv_strerror(rc));
    return -1;
  }
  uint64_t have = 0;
  for (size_t i = 0; i < k; i++)
    for (size_t t = 0; t < prof->n_tlv; t++)
      if (prof->tlv[t].id == items[i].id && prof->tlv[t].type == items[i].type) {
        out[prof->tlv[t].channel] = (double)items[i].raw;
        have |= UINT64_C(1) << prof->tlv[t].channel;
      }
  unsigned n = prof->s.channels;
  uint64_t all = n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
  if ((have & all) != all) {
    reject_msg(rx, ALEC_RX_REJ_TLV_INCOMPLETE, m, m->emitter, "%zu items, channels 0x%" PRIx64 " of 0x%" PRIx64, k,
               have & all, all);
    return 1;
  }
  return 0;
}

/* A payload on a profile with a Fallback (docs/PROTOCOL.md, "Deviations
 * from the reference"): ALEC frames and Milesight TLV frames of one device,
 * the fCnt telling lost uplinks, which are mirrored into the decoder. TLV
 * values are exact and always dispatched; a decoded value is the register
 * it rounds to, exact unless a loss left its channel uncertain (then held
 * back or dispatched as an estimate, LossRecovery). */
static void process_fallback(alec_rx *rx, const alec_rx_msg *m, const alec_pc_emitter *em,
                             const alec_pc_profile *prof) {
  uint64_t id = m->emitter;
  unsigned n = prof->s.channels;
  if (em == NULL && rx->cfg->reject_unknown) {
    reject_msg(rx, ALEC_RX_REJ_UNKNOWN, m, id, "not configured (UnknownEmitters \"reject\")");
    return;
  }
  int is_alec = alec_tlv_is_alec_frame(m->data, m->len);
  double exact[64];
  int parsed = is_alec ? 0 : tlv_values(rx, m, prof, exact);
  if (parsed < 0) return;
  em_slot *s = em_find(rx, id, 1, em != NULL);
  if (s == NULL) {
    reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters known", rx->cfg->max_emitters);
    return;
  }
  double prev_seen = s->seen;
  s->seen = m->received;
  if (rx->rl_on && !alec_rl_allow(&rx->rl, &s->rl, m->received)) {
    reject_msg(rx, ALEC_RX_REJ_RATE, m, id, "above RateLimit %g frames/s (burst %g)", rx->cfg->rate_limit,
               rx->cfg->rate_burst);
    return;
  }
  if (s->family && s->family != (uint8_t)ALEC_FORMAT_FIXED) {
    reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "fixed frame from an emitter that sends %s frames (family switch)",
               alec_format_name((alec_format)s->family));
    return;
  }
  if (s->lr == NULL || s->lr->n != n) {
    if (s->lr == NULL) s->lr = malloc(sizeof *s->lr);
    if (s->lr == NULL) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "emitter %016" PRIx64 ": out of memory", id);
      return;
    }
    alec_lr_init(s->lr, n);
  }
  alec_lr *lr = s->lr;
  uint32_t lost = 0;
  int first = !lr->has_fcnt && !lr->has_last;
  int fc = m->has_fcnt ? alec_lr_fcnt(lr, m->fcnt, &lost) : ALEC_LR_FCNT_NEXT;
  if (fc == ALEC_LR_FCNT_DUPLICATE) {
    reject_msg(rx, ALEC_RX_REJ_STALE, m, id, "fCnt %" PRIu32 " already seen", m->fcnt);
    return;
  }
  if (parsed > 0) {
    /* A TLV uplink without the channels (an alarm, a history record): not
     * one of the encoder's frames, but it took an fCnt. Already refused. */
    lr->pending += lost;
    return;
  }
  if (fc == ALEC_LR_FCNT_NEXT) lost += lr->pending;
  lr->pending = 0;
  uint32_t gap = lost; /* uplinks the fCnt says were lost */
  apply_group(rx, em, s, id, m->group);
  alec_fleet_value vals[64];
  uint8_t status[64];
  double feed[64], out[64];
  alec_frame_info info;
  memset(&info, 0, sizeof info);
  info.format = ALEC_FORMAT_FIXED;
  info.priority = ALEC_P3;
  uint64_t ghosts0 = lr->ghosts, re0 = lr->reanchored;
  int rc;
  double t = data_time(rx, s, prev_seen, m, NULL, 0);
  score_due(rx, s, m, t, 1);
  pthread_mutex_lock(&rx->fleet_lock);
  alec_decoder *dec = alec_fleet_emitter_decoder(rx->fleet, id);
  if (fc == ALEC_LR_FCNT_RESET) {
    /* A rejoin: the device restarted, its encoder with it. */
    alec_lr_restart(lr, dec);
    rx->fcnt_resets++;
  } else if (dec == NULL && lr->has_last) {
    /* The fleet dropped the emitter's decoder (stale): start over. */
    alec_lr_restart(lr, NULL);
  }
  int empty = dec == NULL || alec_context_source_count(alec_decoder_context_const(dec)) == 0;
  if (first && !empty) alec_lr_unknown(lr); /* a restored decoder, uplinks since unknown */
  if (!is_alec) {
    rc = 0;
    if (empty && (!m->has_fcnt || m->fcnt > 0)) {
      /* A decoder starts on a device that is not at its cold start (the
       * fCnt counts its encoder's frames since the join): ghosts of these
       * values bring the decoder's counts and version to the encoder's,
       * the predictors' errors are unknown. */
      uint32_t missed = !m->has_fcnt ? 1 : m->fcnt < ALEC_LR_MAX_GAP ? m->fcnt : ALEC_LR_MAX_GAP;
      if (dec == NULL) {
        rc = alec_fleet_feed_values(rx->fleet, id, exact, n, t);
        dec = rc == 0 ? alec_fleet_emitter_decoder(rx->fleet, id) : NULL;
        missed--;
      }
      lost = missed;
      alec_lr_unknown(lr);
    }
    if (rc == 0) alec_lr_exact(lr, dec, lost, exact);
    if (rc == 0) rc = alec_fleet_feed_values(rx->fleet, id, exact, n, t);
    for (unsigned i = 0; i < n; i++) {
      out[i] = exact[i];
      status[i] = ALEC_LR_EXACT;
    }
    if (rc == 0) rx->tlv_frames++;
  } else if (empty) {
    rc = ALEC_ENOPRED;
  } else {
    rc = alec_lr_decode(lr, dec, lost, m->data, m->len, feed, out, status, &info);
    if (rc >= 0) rc = alec_fleet_feed_values(rx->fleet, id, feed, n, t);
  }
  rx->fcnt_gaps += gap;
  rx->ghosts_replayed += lr->ghosts - ghosts0;
  rx->reanchored += lr->reanchored - re0;
  double period = rc >= 0 ? alec_fleet_emitter_period(rx->fleet, id) : 0;
  pthread_mutex_unlock(&rx->fleet_lock);
  score_due(rx, s, m, t, 0);
  if (rc < 0) {
    if (rc == ALEC_ENOSPC) {
      reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters known", rx->cfg->max_emitters);
      return;
    }
    reject_msg(rx, ALEC_RX_REJ_DECODE, m, id, "fixed frame of %zu bytes: %s%s", m->len, alec_strerror(rc),
               empty ? " (no state yet: the next TLV fallback starts it)" : "");
    resync_note(rx, m, s, id, 1);
    return;
  }
  s->family = (uint8_t)ALEC_FORMAT_FIXED;
  int uncertain = 0;
  for (unsigned i = 0; i < n; i++) {
    alec_fleet_value *v = &vals[i];
    memset(v, 0, sizeof *v);
    v->channel = i;
    v->priority = ALEC_P3;
    v->value = out[i];
    v->tracked = 1;
    if (status[i] == ALEC_LR_NONE) v->flags = ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE;
    if (status[i] == ALEC_LR_ESTIMATE) {
      uncertain = 1;
      v->flags = prof->loss_recovery == ALEC_PC_LOSS_ESTIMATE ? ALEC_RX_VALUE_ESTIMATED : ALEC_VALUE_UNRELIABLE;
    }
  }
  /* A keyframe (its TLV) does not re-anchor a predictor by itself, but
   * every exact observation shrinks what a loss left: ask for one. */
  if (lost > 0 || uncertain || fc == ALEC_LR_FCNT_RESET) resync_note(rx, m, s, id, 1);
  deliver(rx, id, em, m, s, vals, (int)n, &info, period);
}

/* A payload of an emitter the transport identified: the family and channel
 * count come from the configured emitter or the transport's profile. */
static void process_payload(alec_rx *rx, const alec_rx_msg *m) {
  const alec_pc_emitter *em = rx_find(rx, m->emitter);
  const alec_pc_profile *prof = m->profile ? m->profile : em ? em->prof : NULL;
  if (prof && prof->fallback == ALEC_PC_FALLBACK_MILESIGHT_TLV) {
    process_fallback(rx, m, em, prof);
    return;
  }
  alec_format fmt = em && em->format ? em->format : m->format ? (alec_format)m->format : ALEC_FORMAT_FIXED;
  unsigned channels = em && em->channels ? em->channels : m->channels;
  if (fmt == ALEC_FORMAT_FIXED && channels == 0) {
    reject_msg(rx, ALEC_RX_REJ_FORMAT, m, m->emitter, "fixed frames need a channel count (Channels)");
    return;
  }
  process_record(rx, m, m->emitter, em, fmt, channels, m->data, m->len, 1, REC_TRANSPORT);
}

/* ---- completion ------------------------------------------------------------ */

/* The emitter's decoder before an at-least-once message: *out (malloc)
 * and its length, *out NULL when the emitter has no decoder yet. 0, or -1
 * when it cannot be saved. */
static int undo_save(alec_rx *rx, uint64_t id, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  uint8_t buf[8192];
  pthread_mutex_lock(&rx->fleet_lock);
  alec_decoder *dec = alec_fleet_emitter_decoder(rx->fleet, id);
  long n = dec ? alec_decoder_save(dec, buf, sizeof buf) : 0;
  pthread_mutex_unlock(&rx->fleet_lock);
  if (n < 0) return -1;
  if (n == 0) return 0;
  *out = malloc((size_t)n);
  if (*out == NULL) return -1;
  memcpy(*out, buf, (size_t)n);
  *len = (size_t)n;
  return 0;
}

/* keep: the message to spool if its values are never confirmed (owned
 * from here on), NULL for none. Returns 1 when keep was kept, 0 when it
 * is the caller's again (confirmed already, or no room). */
static int defer_done(alec_rx *rx, const alec_rx_msg *m, uint8_t *undo, size_t undo_len, int has_undo,
                      alec_rx_msg *keep, uint64_t first) {
  if (rx->sink.mark == NULL) {
    if (m->done) m->done(m->done_ctx, m->done_tag);
    free(undo);
    return 0;
  }
  uint64_t token = rx->sink.mark(rx->sink.arg);
  pthread_mutex_lock(&rx->ack_lock);
  int now = token <= rx->written && rx->n_deferred == 0;
  if (!now && rx->n_deferred == rx->cap_deferred) {
    size_t cap = rx->cap_deferred ? 2 * rx->cap_deferred : 256;
    struct rx_deferred *d = realloc(rx->deferred, cap * sizeof *d);
    if (d == NULL) {
      /* Not acknowledged: the transport's broker delivers it again. */
      pthread_mutex_unlock(&rx->ack_lock);
      free(undo);
      return 0;
    }
    rx->deferred = d;
    rx->cap_deferred = cap;
  }
  /* Writers that lag by more than SpoolLimit messages: the newest are not
   * kept (a shutdown now would lose them, counted when it spools). */
  int unkept = keep && rx->n_kept >= rx->cfg->spool_limit;
  if (unkept) keep = NULL;
  if (!now) {
    rx->deferred[rx->n_deferred++] =
        (struct rx_deferred){token, m->done_tag, m->done, m->done_ctx, m->emitter, has_undo, undo, undo_len, keep, first,
                             unkept};
    if (keep) rx->n_kept++;
  }
  pthread_mutex_unlock(&rx->ack_lock);
  if (now) {
    free(undo);
    if (m->done) m->done(m->done_ctx, m->done_tag);
  }
  return !now && keep != NULL;
}

/* After the dispatch thread stopped: the messages whose values the
 * writers never confirmed are not acknowledged and come back; their
 * emitters' decoders go back to the state before the first of them, so
 * they decode again instead of being refused as already seen. */
static void undo_unwritten(alec_rx *rx, alec_rx_msg **spool_tail) {
  size_t rolled = 0, msgs, kept = 0, part = 0;
  pthread_mutex_lock(&rx->ack_lock);
  msgs = rx->n_deferred;
  /* In processing order, before what was still queued. */
  size_t unkept = 0;
  for (size_t i = 0; i < rx->n_deferred; i++) {
    alec_rx_msg *k = rx->deferred[i].keep;
    unkept += rx->deferred[i].unkept;
    if (k == NULL) continue;
    k->next = NULL;
    /* The one message the writers stopped in the middle of (on top of
     * what an earlier stop had written of it). */
    if (rx->has_took && rx->took > rx->deferred[i].first && rx->took < rx->deferred[i].token) {
      uint64_t skip = k->skip + (rx->took - rx->deferred[i].first);
      k->skip = skip > UINT16_MAX ? UINT16_MAX : (uint16_t)skip;
      part++;
    }
    *spool_tail = k;
    spool_tail = &k->next;
    rx->deferred[i].keep = NULL;
    kept++;
  }
  rx->n_kept = 0;
  if (unkept) {
    atomic_fetch_add(&rx->spool_over, unkept);
    alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                "%zu messages received but not stored at shutdown were beyond SpoolLimit %zu (collectd's writers "
                "lagged that far behind): not spooled, lost",
                unkept, rx->cfg->spool_limit);
  }
  for (size_t i = 0; i < rx->n_deferred; i++) {
    struct rx_deferred *d = &rx->deferred[i];
    if (!d->has_emitter) continue;
    int first = 1;
    for (size_t k = 0; k < i && first; k++)
      if (rx->deferred[k].has_emitter && rx->deferred[k].emitter == d->emitter) first = 0;
    if (!first) continue;
    pthread_mutex_lock(&rx->fleet_lock);
    alec_decoder *dec = alec_fleet_emitter_decoder(rx->fleet, d->emitter);
    if (dec && d->undo) {
      if (alec_decoder_load(dec, d->undo, d->undo_len) == 0) rolled++;
    } else if (dec) {
      alec_decoder_reset(dec);
      rolled++;
    }
    pthread_mutex_unlock(&rx->fleet_lock);
  }
  pthread_mutex_unlock(&rx->ack_lock);
  if (msgs)
    alec_rx_log(rx, ALEC_RX_LOG_INFO,
                "%zu messages decoded but not written at shutdown: not acknowledged (%zu of them spooled, %zu "
                "written in part), %zu decoders set back to decode them again",
                msgs, kept, part, rolled);
}

void alec_rx_written(alec_rx *rx, uint64_t token) {
  struct rx_deferred ready[64];
  size_t n;
  do {
    n = 0;
    pthread_mutex_lock(&rx->ack_lock);
    if (token > rx->written) rx->written = token;
    while (n < rx->n_deferred && n < 64 && rx->deferred[n].token <= rx->written) {
      ready[n] = rx->deferred[n];
      n++;
    }
    if (n) {
      memmove(rx->deferred, rx->deferred + n, (rx->n_deferred - n) * sizeof *rx->deferred);
      rx->n_deferred -= n;
      for (size_t i = 0; i < n; i++) rx->n_kept -= ready[i].keep != NULL;
      pthread_cond_broadcast(&rx->ack_cond);
    }
    pthread_mutex_unlock(&rx->ack_lock);
    /* In order, outside the lock: a transport acknowledges in order. */
    for (size_t i = 0; i < n; i++) {
      free(ready[i].undo);
      free(ready[i].keep);
      if (ready[i].done) ready[i].done(ready[i].ctx, ready[i].tag);
    }
  } while (n == 64);
}

/* The dispatch thread decodes the next batch only once the writers have
 * the last one: when collectd stops its write threads at shutdown, at
 * most the batch in flight was decoded without being stored. */
static void wait_written(alec_rx *rx) {
  /* Bounded: a daemon that drops values (WriteQueueLimitHigh) never
   * confirms them; a later confirmation then completes them as well. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 1;
  pthread_mutex_lock(&rx->ack_lock);
  while (rx->n_deferred > 0 && !atomic_load(&rx->stop))
    if (pthread_cond_timedwait(&rx->ack_cond, &rx->ack_lock, &until) != 0) break;
  pthread_mutex_unlock(&rx->ack_lock);
}

/* own: m may be kept for the spool (the dispatch thread's batch), else it
 * is copied. Returns 1 when m was kept (not to be freed by the caller). */
static int rx_process(alec_rx *rx, alec_rx_msg *m, int own) {
  uint8_t *undo = NULL;
  size_t undo_len = 0;
  int has_undo = 0;
  /* Only a payload of one emitter can be undone: a spooled datagram of
   * several would decode twice. */
  int payload = m->kind == ALEC_RX_PAYLOAD && m->has_emitter;
  int spool = rx->spool_on && payload && alec_spool_accepts(rx->cfg, m);
  if ((m->done || spool) && rx->sink.mark && payload) has_undo = undo_save(rx, m->emitter, &undo, &undo_len) == 0;
  if (spool && !has_undo) spool = 0;
  alec_rx_msg *keep = NULL;
  if (spool) {
    keep = own ? m : alec_rx_msg_new(m->len);
    if (keep && keep != m) {
      memcpy(keep, m, sizeof *m + m->len);
      keep->next = NULL;
    }
  }
  uint64_t first = rx->sink.mark ? rx->sink.mark(rx->sink.arg) : 0;
  if (rx->rs.ready) alec_rs_begin(&rx->rs);
  if (m->kind == ALEC_RX_DATAGRAM) process_datagram(rx, m);
  else if (payload) process_payload(rx, m);
  else reject_msg(rx, ALEC_RX_REJ_MALFORMED, m, UINT64_MAX, "message of unknown kind %u", m->kind);
  resync_flush(rx, m);
  if (m->done || keep) {
    int kept = defer_done(rx, m, undo, undo_len, has_undo, keep, first);
    if (!kept && keep && keep != m) free(keep);
    return kept && keep == m;
  }
  free(undo);
  return 0;
}

void alec_rx_process(alec_rx *rx, alec_rx_msg *m) { (void)rx_process(rx, m, 0); }

/* The dispatch thread's step for one message, under hold_lock: once the
 * daemon's writers are gone (alec_rx_hold), spooled transports' messages
 * are set aside for the state file, at-least-once ones are left to their
 * broker, the others still processed. */
static void dispatch_one(alec_rx *rx, alec_rx_msg *m) {
  if (rx->hold) {
    if (rx->spool_on && alec_spool_accepts(rx->cfg, m)) {
      m->next = NULL;
      *rx->held_tail = m;
      rx->held_tail = &m->next;
      return;
    }
    if (m->done && rx->sink.mark) {
      free(m);
      return;
    }
  }
  if (!rx_process(rx, m, 1)) free(m);
}

void alec_rx_writers_took(alec_rx *rx, uint64_t lists) {
  if (rx == NULL) return;
  pthread_mutex_lock(&rx->ack_lock);
  rx->took = lists;
  rx->has_took = 1;
  pthread_mutex_unlock(&rx->ack_lock);
}

void alec_rx_hold(alec_rx *rx) {
  if (rx == NULL) return;
  pthread_mutex_lock(&rx->hold_lock);
  rx->hold = 1;
  pthread_mutex_unlock(&rx->hold_lock);
}

/* The restored spool, before any new message. */
static void replay_spool(alec_rx *rx) {
  alec_rx_msg *m = rx->replay;
  rx->replay = NULL;
  pthread_mutex_lock(&rx->hold_lock);
  while (m) {
    alec_rx_msg *next = m->next;
    m->next = NULL;
    dispatch_one(rx, m);
    m = next;
  }
  pthread_mutex_unlock(&rx->hold_lock);
}

void alec_rx_replay_spool(alec_rx *rx) { replay_spool(rx); }

/* ---- evaluation ---------------------------------------------------------------- */

static void on_fleet_event(const alec_fleet_event *ev, void *arg) {
  alec_rx *rx = arg;
  rx->notifications++;
  if (rx->sink.fleet_event) rx->sink.fleet_event(rx->sink.arg, ev);
}

static void sec_reload(alec_rx *rx) {
  char msg[512];
  int rc = alec_sec_maybe_reload(&rx->sec, now_mono(), msg, sizeof msg);
  if (rc > 0) alec_rx_log(rx, ALEC_RX_LOG_INFO, "AuthFile %s", msg);
  else if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "AuthFile %s", msg);
}


typedef struct {
  alec_rx *rx;
  size_t failed; /* one line in the log per reload, not one per emitter */
  uint64_t first_id;
  int first_rc;
  char first_group[ALEC_PC_GROUP_LEN];
} ef_groups;

static void ef_group(void *arg, uint64_t id, const char *group) {
  ef_groups *g = arg;
  alec_rx *rx = g->rx;
  int rc = group[0] ? alec_fleet_set_emitter_group(rx->fleet, id, group) : alec_fleet_clear_emitter_group(rx->fleet, id);
  if (rc != 0 && !(rc == ALEC_ENOTFOUND && group[0] == '\0') && g->failed++ == 0) {
    g->first_id = id;
    g->first_rc = rc;
    snprintf(g->first_group, sizeof g->first_group, "%s", group);
  }
  /* A group from metadata applies again once the file gives none. */
  em_slot *s = em_find(rx, id, 0, 0);
  if (s) s->group = 0;
}

static void ef_reload(alec_rx *rx) {
  char msg[1024];
  alec_pc_emitter *fresh;
  size_t n;
  int rc = alec_ef_check(&rx->ef, rx->cfg, now_mono(), &fresh, &n, msg, sizeof msg);
  if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "EmitterFile %s", msg);
  if (rc <= 0) return;
  ef_groups g = {.rx = rx};
  pthread_mutex_lock(&rx->fleet_lock);
  alec_ef_swap(&rx->ef, fresh, n, ef_group, &g);
  pthread_mutex_unlock(&rx->fleet_lock);
  alec_rx_log(rx, ALEC_RX_LOG_INFO, "EmitterFile %s", msg);
  if (g.failed)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                "EmitterFile: the fleet refused %zu group changes (first: emitter %" PRIu64 ", group \"%s\": %s); "
                "MaxGroups or MaxEmitters may be too small",
                g.failed, g.first_id, g.first_group, alec_strerror(g.first_rc));
}

/* Scoring after every batch: the fleet's evaluation costs what arrived
 * (pending channels, baselines due), so an emitter's dwell counts its own
 * reports whatever EvaluationInterval is. */
void alec_rx_score(alec_rx *rx, double now) {
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_evaluate(rx->fleet, now, on_fleet_event, rx);
  rx->score_gen++;
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "fleet evaluation failed: %s", alec_strerror(rc));
}

void alec_rx_evaluate(alec_rx *rx, double now) {
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_evaluate(rx->fleet, now, on_fleet_event, rx);
  rx->score_gen++;
  if (now >= rx->next_stale) {
    /* Alerts of a removed emitter are resolved, or they fire forever. */
    alec_fleet_remove_stale_notify(rx->fleet, now, on_fleet_event, rx);
    /* Removal is at 2 x EmitterTimeout: checking an eighth of that apart is
     * plenty, and a week-long replay does not scan every emitter per second. */
    double every = rx->cfg->emitter_timeout / 8;
    rx->next_stale = now + (every > STALE_CHECK ? every : STALE_CHECK);
  }
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "fleet evaluation failed: %s", alec_strerror(rc));
  if (rx->sink.tick) rx->sink.tick(rx->sink.arg, now);
  if (now >= rx->next_prune) {
    em_prune(rx, now);
    rx->next_prune = now + PRUNE_INTERVAL;
  }
}

/* Housekeeping that has its own clock, not the evaluations': a long
 * EvaluationInterval must not stop state saves or key reloads. */
static void housekeeping(alec_rx *rx) {
  log_ingress_drops(rx);
  sec_reload(rx); /* at most one stat() a second */
  ef_reload(rx);  /* the same */
  /* Dashboard snapshots refresh by their own interval too (the sink checks
   * whether one is due). */
  if (rx->sink.tick) rx->sink.tick(rx->sink.arg, now_real());
  double mono = now_mono();
  if (rx->state_ready && rx->cfg->state_interval > 0 && mono >= rx->next_state_save) {
    rx->next_state_save = mono + rx->cfg->state_interval;
    state_save(rx, 0);
  }
}

static void timespec_add(struct timespec *t, double s) {
  double whole = floor(s);
  t->tv_sec += (time_t)whole;
  t->tv_nsec += (long)((s - whole) * 1e9);
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

static int ts_before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *dispatch_main(void *arg) {
  alec_rx *rx = arg;
  /* Housekeeping at least once a second, evaluations every interval. */
  double tick = rx->interval < 1.0 ? rx->interval : 1.0;
  struct timespec next_eval, next_tick, now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  next_eval = next_tick = now;
  timespec_add(&next_eval, rx->interval);
  timespec_add(&next_tick, tick);
  replay_spool(rx);
  while (!atomic_load(&rx->stop)) {
    const struct timespec *deadline = ts_before(&next_tick, &next_eval) ? &next_tick : &next_eval;
    alec_rx_msg *m = alec_rxq_take(&rx->queue, deadline);
    int got = m != NULL;
    int deferred = 0;
    /* One lock per batch: alec_rx_hold waits for at most the batch. */
    pthread_mutex_lock(&rx->hold_lock);
    while (m) {
      alec_rx_msg *next = m->next;
      deferred |= m->done != NULL;
      dispatch_one(rx, m);
      m = next;
    }
    pthread_mutex_unlock(&rx->hold_lock);
    /* While messages flow the fleet runs in their data time, so that a
     * backlog (a busy machine, a broker's queue after a restart) is scored
     * as the live stream was; when nothing arrives, its clock runs on with
     * the wall's, for stale scans. Before any data (and state), nothing to
     * evaluate. */
    double fleet_now = alec_rx_clock(rx, got ? NAN : now_real());
    if (got && fleet_now > 0) alec_rx_score(rx, fleet_now);
    if (deferred && rx->sink.mark) wait_written(rx);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, &next_tick)) {
      housekeeping(rx);
      next_tick = now;
      timespec_add(&next_tick, tick);
    }
    if (!ts_before(&now, &next_eval)) {
      if (fleet_now > 0) alec_rx_evaluate(rx, fleet_now);
      else if (rx->sink.tick) rx->sink.tick(rx->sink.arg, now_real());
      timespec_add(&next_eval, rx->interval);
      /* Fell behind by more than one interval: do not run a burst of
       * evaluations to catch up, each sees the same data. */
      if (ts_before(&next_eval, &now)) {
        next_eval = now;
        timespec_add(&next_eval, rx->interval);
      }
    }
  }
  return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

static int build_fleet(alec_rx *rx) {
  const alec_plugin_config *cfg = rx->cfg;
  alec_fleet_config fc;
  alec_fleet_config_init(&fc);
  const alec_pc_fleet *f = &cfg->fleet;
  /* The receiver admits at most MaxEmitters unconfigured emitters; the
   * configured ones (blocks, EmitterFile) have room of their own beside
   * them, in its table and here, so a flood of new ids never refuses a
   * configured emitter that has not reported yet. */
  uint64_t fmax = 2 * (uint64_t)cfg->max_emitters;
  fc.max_emitters = (uint32_t)(fmax < ALEC_FLEET_MAX_EMITTERS_LIMIT ? fmax : ALEC_FLEET_MAX_EMITTERS_LIMIT);
  fc.emitter_timeout = cfg->emitter_timeout;
  /* Fixed frames carry up to 64 channels; single and multi use their ids. */
  fc.max_channels = ALEC_FIXED_MAX_CHANNELS;
  size_t groups = 1;
  for (size_t i = 0; i < cfg->n_emitters; i++) groups += cfg->emitters[i].group[0] != '\0';
  for (size_t i = 0; i < rx->ef.n; i++) groups += rx->ef.ems[i].group[0] != '\0';
  groups += cfg->max_groups; /* groups from network-server metadata */
  fc.max_groups = (uint32_t)(groups < 64 ? 64 : groups > ALEC_FLEET_MAX_GROUPS_LIMIT ? ALEC_FLEET_MAX_GROUPS_LIMIT
                                                                                      : groups);
  if (f->set & ALEC_PC_F_THRESHOLD) fc.z_enter = f->threshold;
  if (f->set & ALEC_PC_F_EXIT_THRESHOLD) fc.z_exit = f->exit_threshold;
  if (f->set & ALEC_PC_F_FAILURE_THRESHOLD) fc.z_failure = f->failure_threshold;
  if (f->set & ALEC_PC_F_ENTER_COUNT) fc.enter_count = f->enter_count;
  if (f->set & ALEC_PC_F_EXIT_COUNT) fc.exit_count = f->exit_count;
  if (f->set & ALEC_PC_F_MIN_PEERS) fc.min_peers = f->min_peers;
  if (f->set & ALEC_PC_F_SYNC_INTERVAL) fc.sync_interval = f->sync_interval;
  if (f->set & ALEC_PC_F_MAD_FLOOR) fc.mad_floor = f->mad_floor;
  if (f->set & ALEC_PC_F_STALE_PERIODS) fc.stale_periods = f->stale_periods;
  if (f->set & ALEC_PC_F_SILENT_FRACTION) fc.silent_fraction = f->silent_fraction;
  if (f->set & ALEC_PC_F_SHIFT_ALPHA) fc.shift_alpha = f->shift_alpha;
  if (cfg->scale) fc.decoder.ctx.scale = cfg->scale;
  char err[256];
  if (alec_fleet_config_validate(&fc, err, sizeof err) != 0) {
    /* The fleet names its own fields; say which of ours they are. */
    alec_rx_log(rx, ALEC_RX_LOG_ERROR,
                "<Fleet> (Threshold=z_enter, ExitThreshold=z_exit, FailureThreshold=z_failure, EnterCount, "
                "ExitCount, MinPeers, MADFloor, SyncInterval, StalePeriods, SilentFraction, ShiftAlpha; MaxEmitters, "
                "EmitterTimeout, Scale): %s",
                err);
    return -1;
  }
  int rc = alec_fleet_new(&rx->fleet, &fc);
  if (rc != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "cannot create the fleet: %s", alec_strerror(rc));
    return -1;
  }
  /* The receiver keeps unknown unsigned emitters apart; configured ones
   * are where the operator put them: say so when a group mixes levels. */
  const char *checked[64]; /* each group scanned once; a startup check, not a bound */
  size_t n_checked = 0;
  for (size_t i = 0; i < cfg->n_emitters && n_checked < 64; i++) {
    const alec_pc_emitter *a = &cfg->emitters[i];
    if (a->security != ALEC_PC_SEC_SIGN) continue;
    int seen = 0;
    for (size_t k = 0; k < n_checked; k++) seen |= strcmp(checked[k], a->group) == 0;
    if (seen) continue;
    checked[n_checked++] = a->group;
    for (size_t j = 0; j < cfg->n_emitters; j++) {
      const alec_pc_emitter *b = &cfg->emitters[j];
      if (b->security == ALEC_PC_SEC_SIGN || strcmp(a->group, b->group) != 0) continue;
      alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                  "group \"%s\": <Emitter %" PRIu64 "> (SecurityLevel Sign) is compared with <Emitter %" PRIu64
                  ">, whose frames need no signature",
                  a->group, a->id, b->id);
      break;
    }
  }
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    const alec_pc_emitter *em = &cfg->emitters[i];
    if (em->group[0] == '\0') continue;
    rc = alec_fleet_set_emitter_group(rx->fleet, em->id, em->group);
    if (rc != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `Group' \"%s\" in <Emitter %" PRIu64 ">: %s", em->group, em->id,
                  alec_strerror(rc));
      return -1;
    }
  }
  for (size_t i = 0; i < rx->ef.n; i++) {
    const alec_pc_emitter *em = &rx->ef.ems[i];
    if (em->group[0] == '\0') continue;
    rc = alec_fleet_set_emitter_group(rx->fleet, em->id, em->group);
    if (rc != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `EmitterFile': group \"%s\" of emitter %" PRIu64 ": %s", em->group,
                  em->id, alec_strerror(rc));
      return -1;
    }
  }
  return 0;
}

static int sec_start(alec_rx *rx) {
  char err[512], warn[512];
  int rc = alec_sec_init_mode(&rx->sec, rx->cfg->auth_file, !rx->cfg->auth_lax_modes, err, sizeof err, warn,
                              sizeof warn);
  if (rc != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `AuthFile': %s", err);
    return -1;
  }
  if (warn[0]) alec_rx_log(rx, ALEC_RX_LOG_WARNING, "option `AuthFile': %s", warn);
  if (rx->sec.keys) alec_rx_log(rx, ALEC_RX_LOG_INFO, "%zu keys loaded from %s", rx->sec.keys->n, rx->sec.path);
  if (rx->cfg->rate_limit > 0) {
    rc = alec_rl_init(&rx->rl, rx->cfg->rate_limit, rx->cfg->rate_burst);
    rx->rl_on = rc == 0;
    if (rc != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `RateLimit': %s", alec_strerror(rc));
      return -1;
    }
  }
  return 0;
}

int alec_rx_new(alec_rx **out, const alec_plugin_config *cfg, const alec_rx_sink *sink) {
  *out = NULL;
  alec_rx *rx = calloc(1, sizeof(*rx));
  if (rx == NULL) return -1;
  rx->cfg = cfg;
  rx->sink = *sink;
  rx->score_gen = 1; /* a new slot (fed 0) was not fed since the last scoring */
  pthread_mutex_init(&rx->fleet_lock, NULL);
  pthread_mutex_init(&rx->log_lock, NULL);
  pthread_mutex_init(&rx->host_lock, NULL);
  pthread_mutex_init(&rx->ack_lock, NULL);
  pthread_cond_init(&rx->ack_cond, NULL);
  pthread_mutex_init(&rx->hold_lock, NULL);
  rx->held_tail = &rx->held;
  rx->interval = (cfg->fleet.set & ALEC_PC_F_EVALUATION_INTERVAL) ? cfg->fleet.evaluation_interval : 0.1;
  {
    char err[1024], info[1024];
    if (alec_ef_init(&rx->ef, cfg, err, sizeof err, info, sizeof info) != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `EmitterFile': %s", err);
      goto fail;
    }
    if (info[0]) alec_rx_log(rx, ALEC_RX_LOG_INFO, "EmitterFile %s", info);
  }
  if (build_fleet(rx) != 0) goto fail;
  /* Keys first: the state file restores their replay counters. */
  if (sec_start(rx) != 0) goto fail;
  state_restore(rx);
  rx->spool_on = cfg->state_file[0] && cfg->spool_limit > 0 && sink->mark != NULL;
  rx->unwind = 1;
  if (cfg->resync_requests) {
    if (alec_rs_init(&rx->rs, cfg->resync_interval) != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `ResyncInterval' %g: invalid", cfg->resync_interval);
      goto fail;
    }
  }
  /* MaxEmitters unknown and up to MaxEmitters configured emitters at a
   * load of 3/4 at most (probe chains stay short). */
  size_t slots = 64;
  while (slots / 4 * 3 < 2 * cfg->max_emitters) slots <<= 1;
  rx->ems = calloc(slots, sizeof(*rx->ems));
  if (rx->ems == NULL) goto fail;
  rx->ems_mask = slots - 1;
  rx->ems_limit = slots / 4 * 3;
  rx->next_prune = now_real() + PRUNE_INTERVAL;
  rx->id_tokens = cfg->max_new_identifiers;
  if (cfg->unknown_defaulted)
    alec_rx_log(rx, ALEC_RX_LOG_NOTICE, "a Listen address is not loopback: frames of emitters without <Emitter> "
                                        "block are refused (set UnknownEmitters \"accept\" to take them)");
  /* Queue memory: QueueLength messages of at most a UDP payload each. */
  if (alec_rxq_init(&rx->queue, cfg->queue_length, cfg->queue_length * 1472) != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `QueueLength' %zu: cannot allocate the queue", cfg->queue_length);
    goto fail;
  }
  *out = rx;
  return 0;
fail:
  alec_rx_free(rx);
  return -1;
}

int alec_rx_start(alec_rx *rx, alec_rx_spawn_fn spawn) {
  atomic_store(&rx->stop, 0);
  if (spawn(&rx->thread, dispatch_main, rx, "alec dispatch") != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "cannot start the dispatch thread");
    return -1;
  }
  rx->started = 1;
  return 0;
}

void alec_rx_stop(alec_rx *rx) {
  if (rx == NULL) return;
  atomic_store(&rx->stop, 1);
  pthread_mutex_lock(&rx->ack_lock);
  pthread_cond_broadcast(&rx->ack_cond);
  pthread_mutex_unlock(&rx->ack_lock);
  if (rx->queue.ready) alec_rxq_interrupt(&rx->queue);
  alec_rx_msg *queued = NULL;
  if (rx->started) {
    pthread_join(rx->thread, NULL);
    rx->started = 0;
    rx->unwind = 1;
    /* What was queued before the transports stopped is still decoded: a
     * frame accepted is a frame stored (QoS 1 acknowledged it). */
    alec_rx_msg *m = alec_rxq_take_now(&rx->queue), **qtail = &queued;
    while (m) {
      alec_rx_msg *next = m->next;
      if (rx->spool_on && alec_spool_accepts(rx->cfg, m)) {
        /* Acknowledged on receipt, never decoded: into the state file,
         * decoded at the next start. */
        m->next = NULL;
        *qtail = m;
        qtail = &m->next;
        m = next;
        continue;
      }
      /* An at-least-once message is not decoded now that nothing can store
       * its values: unacknowledged, its broker delivers it again. */
      if (m->done == NULL || rx->sink.mark == NULL) alec_rx_process(rx, m);
      free(m);
      m = next;
    }
  }
  /* Also without the thread (alec_rx_process on the caller's thread). */
  if (rx->unwind) {
    rx->unwind = 0;
    alec_rx_msg **tail = &rx->spool;
    while (*tail) tail = &(*tail)->next;
    undo_unwritten(rx, tail);
    while (*tail) tail = &(*tail)->next;
    /* Set aside after the writers went, then what was still queued. */
    *tail = rx->held;
    rx->held = NULL;
    rx->held_tail = &rx->held;
    while (*tail) tail = &(*tail)->next;
    *tail = queued;
  }
  if (rx->replay) {
    /* Restored but never processed (the dispatch thread never ran): still
     * the oldest. */
    alec_rx_msg **tail = &rx->replay;
    while (*tail) tail = &(*tail)->next;
    *tail = rx->spool;
    rx->spool = rx->replay;
    rx->replay = NULL;
  }
  /* Nothing decodes any more: the state is final. */
  if (rx->state_ready) state_save(rx, 1);
  rx->state_ready = 0;
}

void alec_rx_free(alec_rx *rx) {
  if (rx == NULL) return;
  alec_rx_stop(rx);
  alec_rxq_destroy(&rx->queue);
  alec_fleet_free(rx->fleet);
  if (rx->ems)
    for (size_t i = 0; i <= rx->ems_mask; i++) slot_free(&rx->ems[i]);
  free(rx->ems);
  alec_sec_free(&rx->sec);
  alec_ef_free(&rx->ef);
  pthread_mutex_destroy(&rx->fleet_lock);
  pthread_mutex_destroy(&rx->log_lock);
  pthread_mutex_destroy(&rx->host_lock);
  pthread_mutex_destroy(&rx->ack_lock);
  pthread_cond_destroy(&rx->ack_cond);
  pthread_mutex_destroy(&rx->hold_lock);
  for (size_t i = 0; i < rx->n_deferred; i++) {
    free(rx->deferred[i].undo);
    free(rx->deferred[i].keep);
  }
  free(rx->deferred);
  for (alec_rx_msg *l = rx->replay, *n; l; l = n) {
    n = l->next;
    free(l);
  }
  for (alec_rx_msg *l = rx->spool, *n; l; l = n) {
    n = l->next;
    free(l);
  }
  for (alec_rx_msg *l = rx->held, *n; l; l = n) {
    n = l->next;
    free(l);
  }
  free(rx);
}

alec_rxq *alec_rx_queue(alec_rx *rx) { return &rx->queue; }
alec_rx_ingress *alec_rx_ingress_counters(alec_rx *rx) { return &rx->ingress; }

void alec_rx_submit(alec_rx *rx, alec_rx_msg *const *msgs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_add_explicit(&rx->ingress.messages, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rx->ingress.bytes, msgs[i]->len, memory_order_relaxed);
  }
  size_t done = alec_rxq_push(&rx->queue, msgs, n);
  for (size_t i = done; i < n; i++) {
    free(msgs[i]);
    atomic_fetch_add_explicit(&rx->ingress.queue_drops, 1, memory_order_relaxed);
  }
}

void alec_rx_get_stats(alec_rx *rx, double now, alec_rx_stats *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&rx->fleet_lock);
  alec_fleet_get_stats(rx->fleet, now, &out->fleet);
  out->emitter_records = rx->ems_mask + 1;
  out->emitter_table_bytes = out->emitter_records * sizeof(em_slot);
  out->held_back = rx->held_back;
  out->unconvertible = rx->unconvertible;
  out->dispatched = rx->dispatched;
  out->notifications = rx->notifications;
  out->tlv_frames = rx->tlv_frames;
  out->fcnt_gaps = rx->fcnt_gaps;
  out->estimated = rx->estimated;
  out->ghosts_replayed = rx->ghosts_replayed;
  out->fcnt_resets = rx->fcnt_resets;
  out->reanchored = rx->reanchored;
  out->time_clamped[0] = rx->time_clamped[0];
  out->time_clamped[1] = rx->time_clamped[1];
  out->resync_sent = rx->rs_stats[0];
  out->resync_limited = rx->rs_stats[1];
  out->resync_failed = rx->rs_stats[2];
  out->spool_saved = rx->spool_saved;
  out->spool_restored = rx->spool_restored;
  out->spool_lost = atomic_load(&rx->spool_over) + rx->spool_unresolved;
  pthread_mutex_unlock(&rx->fleet_lock);
  for (int k = 0; k < ALEC_RX_REJ_COUNT; k++) out->rejected[k] = atomic_load(&rx->rejected[k]);
  out->rejected[ALEC_RX_REJ_OVERSIZED] += atomic_load(&rx->ingress.oversized);
  out->messages = atomic_load(&rx->ingress.messages);
  out->bytes = atomic_load(&rx->ingress.bytes);
  out->queue_drops = atomic_load(&rx->ingress.queue_drops);
  out->rejected[ALEC_RX_REJ_QUEUE] = out->queue_drops;
  out->queued = alec_rxq_count(&rx->queue);
  if (rx->sec.path) {
    out->has_auth = 1;
    out->auth_keys = atomic_load(&rx->sec.n_keys);
    out->auth_reloads = atomic_load(&rx->sec.reloads);
    out->auth_reload_errors = atomic_load(&rx->sec.reload_errors);
  }
  if (rx->ef.path) {
    out->has_emitter_file = 1;
    out->file_emitters = atomic_load(&rx->ef.n_emitters);
    out->emitter_file_reloads = atomic_load(&rx->ef.reloads);
    out->emitter_file_errors = atomic_load(&rx->ef.reload_errors);
  }
}

void alec_rx_with_fleet(alec_rx *rx, void (*fn)(void *arg, alec_fleet *fleet), void *arg) {
  pthread_mutex_lock(&rx->fleet_lock);
  fn(arg, rx->fleet);
  pthread_mutex_unlock(&rx->fleet_lock);
}
