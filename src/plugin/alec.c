/* SPDX-License-Identifier: MIT */
/* collectd plugin `alec`: receives ALEC frames from many emitters over UDP
 * (inside envelope datagrams, or bare from configured source addresses),
 * decodes them through the fleet module, dispatches one value list per
 * decoded value and turns cross-fleet anomalies into notifications.
 *
 * Threads follow collectd's network plugin: a receive thread that only
 * poll()s and copies datagrams into a bounded lock-free queue (it never
 * blocks, a full queue is a counted drop), and a dispatch thread that does
 * everything else. The fleet object is single-threaded; fleet_lock
 * serialises the dispatch thread and the read callback. Threads and sockets
 * are created in init, never in the config callback: collectd forks after
 * reading the configuration. */

#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"
#include "collectd/core/utils/metadata/meta_data.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__) && !defined(SO_RCVBUFFORCE)
#include <asm/socket.h> /* hidden by glibc without _GNU_SOURCE */
#endif

#include "alec/decoder.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/frame.h"

#include "alec_conf.h"
#include "dashboard.h"
#include "dgram_queue.h"
#include "resync.h"
#include "state.h"
#include "ratelimit.h"
#include "security.h"
#include "snapshot.h"

#define PLUGIN_NAME "alec"
/* Larger datagrams are rejected as oversized: batches should stay within
 * the path MTU, and this bounds the copy the receive thread makes. */
#define DATAGRAM_MAX 8192
/* Queue memory: QueueLength datagrams of at most this average size. */
#define QUEUE_BYTES_PER_SLOT 1472
#define MAX_SOCKETS 64
#define RECV_BURST 256 /* datagrams read from one socket per poll() */
#define LOG_INTERVAL TIME_T_TO_CDTIME_T(10)
#define STALE_CHECK TIME_T_TO_CDTIME_T(1)
#define TIME_PAST_MAX TIME_T_TO_CDTIME_T(86400)
#define TIME_FUTURE_MAX TIME_T_TO_CDTIME_T(60)
#define TIME_LIVE TIME_T_TO_CDTIME_T(2)

_Static_assert(ALEC_PC_NAME_LEN == DATA_MAX_NAME_LEN, "name lengths must match collectd's");
_Static_assert(ALEC_PC_GROUP_LEN == ALEC_FLEET_GROUP_MAX + 1, "group length must match the fleet's");

/* Why a datagram or record was refused; each kind is counted and logged. */
enum reject_kind {
  REJ_MALFORMED,    /* envelope structure */
  REJ_VERSION,      /* envelope version (often a bare frame sent to the port) */
  REJ_UNAUTH,       /* unsigned where SecurityLevel Sign applies */
  REJ_OVERSIZED,    /* datagram above DATAGRAM_MAX */
  REJ_UNKNOWN,      /* unknown emitter with UnknownEmitters "reject" */
  REJ_MAX_EMITTERS, /* MaxEmitters reached */
  REJ_FORMAT,       /* family / channel count contradicts the configuration */
  REJ_DECODE,       /* the frame did not decode */
  REJ_BAD_SIGNATURE, /* signed, the tag does not verify (forged, damaged) */
  REJ_UNKNOWN_KEY,  /* signed with a key id the AuthFile lacks */
  REJ_REPLAY,       /* authentic, but its counter was seen or is too old */
  REJ_NOT_ALLOWED,  /* authentic, but the key may not sign for the emitter */
  REJ_RATE,         /* emitter above RateLimit: dropped before decoding */
  REJ_STALE,        /* duplicate or late frame (decoder ALEC_EREPLAY): never decoded twice */
  REJ_COUNT,
  REJ_QUEUE = REJ_COUNT, /* receive queue full: logged, counted apart */
  REJ_LOG_KINDS
};
static const char *const reject_name[REJ_COUNT] = {
    "malformed", "version", "unauthenticated", "oversized", "unknown_emitter", "max_emitters", "format", "decode",
    "bad_signature", "unknown_key", "replay", "unauthorized_emitter", "rate_limited",
    "stale_frame"};
static const char *const reject_text[REJ_LOG_KINDS] = {
    "malformed envelope", "unsupported envelope version", "unsigned datagram (SecurityLevel Sign)",
    "oversized datagram", "unknown emitter", "MaxEmitters reached", "format mismatch", "decode error",
    "bad signature", "unknown key", "replayed datagram", "emitter not allowed for the key", "rate limit exceeded",
    "duplicate or late frame", "receive queue full"};

typedef struct ts_slot {
  uint64_t id;
  cdtime_t last; /* 0: free */
} ts_slot;

typedef struct alec_plugin {
  alec_plugin_config cfg;
  int config_failed;
  int initialized;

  /* Keyframe requests (resync.c; dispatch thread) and the state file
   * (state.c). rs_stats mirrors rs's counters under fleet_lock. */
  alec_rs rs;
  int rs_ready;
  uint64_t rs_stats[3], rs_synced;
  int state_ready; /* StateFile set and usable: save periodically and at shutdown */
  cdtime_t next_state_save;

  int fds[MAX_SOCKETS];
  size_t n_fds;
  int fd_level[MAX_SOCKETS]; /* SecurityLevel of the Listen of each socket */
  int wake[2];
  alec_dgram_queue queue;
  int queue_ready;
  pthread_t recv_thread, dispatch_thread;
  int recv_started, dispatch_started;
  atomic_int stop;

  /* Written by the receive thread, read by the read callback. */
  atomic_uint_fast64_t datagrams, datagram_bytes, queue_drops, oversized;

  pthread_mutex_t fleet_lock; /* fleet and everything below */
  alec_fleet *fleet;
  uint64_t rejected[REJ_COUNT];
  uint64_t held_back;    /* unreliable values, never dispatched */
  uint64_t unconvertible; /* non-finite values for counter/derive types */
  uint64_t dispatched;
  uint64_t notifications;

  /* Dispatch thread only. */
  cdtime_t last_log[REJ_LOG_KINDS];
  uint64_t suppressed[REJ_LOG_KINDS];
  uint64_t oversized_seen, queue_drops_seen;
  ts_slot *times; /* last value time per emitter, keeps times increasing */
  size_t times_mask, times_used;
  cdtime_t next_times_prune, next_stale;
  meta_data_t *prio_meta[5];
  int default_ds_type;
  int score_types_ok; /* alec_score and alec_anomaly are in a TypesDB */
  alec_sec sec;       /* keys, replay windows (docs/SECURITY.md) */
  alec_rl *rl;        /* RateLimit buckets, NULL: off */

  /* <Dashboard>: snapshots taken by the dispatch thread, served by the
   * HTTP thread, which never takes fleet_lock. */
  alec_snap_store *snap;
  alec_dash *dash;
  int snap_failed; /* the last refresh failed: logged once */
} alec_plugin;

static alec_plugin P;

/* ---- helpers ---------------------------------------------------------- */

static void addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap) {
  char host[64], serv[16]; /* NI_MAXHOST needs _GNU_SOURCE; numeric forms fit */
  if (len == 0 || getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, serv, sizeof serv,
                              NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    sstrncpy(out, "?", cap);
    return;
  }
  if (ss->ss_family == AF_INET6) ssnprintf(out, cap, "[%s]:%s", host, serv);
  else ssnprintf(out, cap, "%s:%s", host, serv);
}

/* Logs at most once per LOG_INTERVAL and kind, saying how many were not
 * logged: a flood of garbage must not flood the log. Dispatch thread only. */
static void log_limited(enum reject_kind kind, const char *from, uint64_t emitter, const char *detail) {
  cdtime_t now = cdtime();
  if (P.last_log[kind] != 0 && now - P.last_log[kind] < LOG_INTERVAL) {
    P.suppressed[kind]++;
    return;
  }
  char more[64] = "";
  if (P.suppressed[kind]) ssnprintf(more, sizeof more, " (%" PRIu64 " more not logged)", P.suppressed[kind]);
  if (emitter != UINT64_MAX)
    WARNING(PLUGIN_NAME " plugin: %s from %s, emitter %" PRIu64 ": %s%s", reject_text[kind], from, emitter, detail,
            more);
  else if (from)
    WARNING(PLUGIN_NAME " plugin: %s from %s: %s%s", reject_text[kind], from, detail, more);
  else
    WARNING(PLUGIN_NAME " plugin: %s: %s%s", reject_text[kind], detail, more);
  P.last_log[kind] = now;
  P.suppressed[kind] = 0;
}

/* Counts a refused datagram or record and logs it (rate limited). It never
 * touches any emitter's state. */
__attribute__((format(printf, 4, 5))) static void reject(enum reject_kind kind, const alec_dgram *d, uint64_t emitter,
                                                         const char *fmt, ...) {
  pthread_mutex_lock(&P.fleet_lock);
  P.rejected[kind]++;
  pthread_mutex_unlock(&P.fleet_lock);
  char detail[256], from[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  addr_text(&d->from, d->from_len, from, sizeof from);
  log_limited(kind, from, emitter, detail);
}

/* The receive thread only counts what it drops; the dispatch thread
 * reports the increments. */
static void log_receive_drops(void) {
  uint64_t ov = atomic_load(&P.oversized), qd = atomic_load(&P.queue_drops);
  char detail[128];
  if (ov != P.oversized_seen) {
    ssnprintf(detail, sizeof detail, "%" PRIu64 " datagram(s) above %d bytes dropped", ov - P.oversized_seen,
              DATAGRAM_MAX);
    log_limited(REJ_OVERSIZED, NULL, UINT64_MAX, detail);
    P.oversized_seen = ov;
  }
  if (qd != P.queue_drops_seen) {
    ssnprintf(detail, sizeof detail,
              "%" PRIu64 " datagram(s) dropped, the dispatch thread falls behind (QueueLength %zu)",
              qd - P.queue_drops_seen, P.cfg.queue_length);
    log_limited(REJ_QUEUE, NULL, UINT64_MAX, detail);
    P.queue_drops_seen = qd;
  }
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  return x ^ (x >> 33);
}

/* Last value time of an emitter (open addressing, linear probing). Returns
 * the slot, or NULL when the table is full (then times are not forced to
 * increase for new emitters until the next prune). */
static ts_slot *times_slot(uint64_t id) {
  size_t i = (size_t)mix64(id) & P.times_mask;
  for (;;) {
    ts_slot *s = &P.times[i];
    if (s->last == 0) {
      if (P.times_used >= (P.times_mask + 1) / 4 * 3) return NULL;
      s->id = id;
      P.times_used++;
      return s;
    }
    if (s->id == id) return s;
    i = (i + 1) & P.times_mask;
  }
}

/* Drops emitters not seen for 2 x EmitterTimeout (as the fleet does) by
 * rebuilding the table: linear probing has no cheap delete. */
static void times_prune(cdtime_t now) {
  cdtime_t keep = DOUBLE_TO_CDTIME_T(2 * P.cfg.emitter_timeout);
  size_t n = P.times_mask + 1;
  ts_slot *old = P.times;
  ts_slot *fresh = calloc(n, sizeof(*fresh));
  if (fresh == NULL) return;
  P.times = fresh;
  P.times_used = 0;
  for (size_t i = 0; i < n; i++) {
    if (old[i].last == 0 || (now > old[i].last && now - old[i].last > keep)) continue;
    ts_slot *s = times_slot(old[i].id);
    if (s) s->last = old[i].last;
  }
  free(old);
}

/* The time of a frame's values (docs: collectd-alec(5), TIME): a legacy
 * header timestamp within one day in the past and 60 s in the future is the
 * emitter's clock and wins, except that a frame received within 2 s of its
 * own second takes the finer receive time. Everything else: receive time.
 * Times of one emitter always increase, as collectd's cache requires. */
static cdtime_t value_time(uint64_t id, const alec_frame_info *info, cdtime_t recv) {
  cdtime_t t = recv;
  if (info->has_timestamp) {
    cdtime_t ts = TIME_T_TO_CDTIME_T((time_t)info->timestamp);
    if (ts + TIME_PAST_MAX >= recv && ts <= recv + TIME_FUTURE_MAX && !(recv >= ts && recv - ts < TIME_LIVE)) t = ts;
  }
  ts_slot *s = times_slot(id);
  if (s) {
    if (t <= s->last) t = s->last + 1;
    s->last = t;
  }
  return t;
}

static void channel_names(const alec_pc_emitter *em, uint32_t ch, const char **type, char *ti, size_t ticap,
                          int *ds_type) {
  const alec_pc_channel *c = em ? alec_pc_channel_find(em->map, ch) : NULL;
  if (c) {
    *type = c->type;
    sstrncpy(ti, c->type_instance, ticap);
    *ds_type = c->ds_type;
  } else {
    *type = ALEC_PC_DEFAULT_TYPE;
    ssnprintf(ti, ticap, "ch%" PRIu32, ch);
    *ds_type = P.default_ds_type;
  }
}

static void emitter_host(const alec_pc_emitter *em, uint64_t id, char *out, size_t cap) {
  if (em) sstrncpy(out, em->host, cap);
  else alec_pc_default_host(id, out, cap);
}

/* The channel of a fleet-shift notification has no emitter: take the names
 * from the first configured emitter of the group that maps it. */
static const alec_pc_emitter *group_emitter(const char *group, uint32_t ch) {
  for (size_t i = 0; i < P.cfg.n_emitters; i++) {
    const alec_pc_emitter *em = &P.cfg.emitters[i];
    if (strcmp(em->group, group) == 0 && alec_pc_channel_find(em->map, ch)) return em;
  }
  return NULL;
}

/* ---- dashboard ---------------------------------------------------------- */

/* The dashboard names emitters and channels as the dispatched values do. */
static void dash_host(void *arg, uint64_t id, char *out, size_t cap) {
  (void)arg;
  emitter_host(alec_pc_find_emitter(&P.cfg, id), id, out, cap);
}

static void dash_channel(void *arg, int has_id, uint64_t id, const char *group, uint32_t ch, char *out, size_t cap) {
  (void)arg;
  const alec_pc_emitter *em = has_id ? alec_pc_find_emitter(&P.cfg, id) : group_emitter(group, ch);
  const char *type;
  char ti[DATA_MAX_NAME_LEN];
  int ds_type;
  channel_names(em, ch, &type, ti, sizeof ti, &ds_type);
  ssnprintf(out, cap, "%s%s%s", type, ti[0] ? "-" : "", ti);
}

static int start_dashboard(void) {
  const alec_pc_dashboard *pd = &P.cfg.dashboard;
  alec_snap_config sc;
  alec_snap_config_init(&sc);
  sc.history = pd->history;
  sc.history_interval = pd->history_interval;
  alec_snap_names names = {dash_host, dash_channel, NULL};
  int rc = alec_snap_store_new(&P.snap, &sc, &names);
  if (rc != 0) {
    ERROR(PLUGIN_NAME " plugin: <Dashboard>: %s", alec_strerror(rc));
    return -1;
  }
  alec_dash_config dc;
  alec_dash_config_init(&dc);
  sstrncpy(dc.node, pd->listen.node, sizeof dc.node);
  sstrncpy(dc.service, pd->listen.service, sizeof dc.service);
  char err[512];
  rc = alec_dash_start(&P.dash, &dc, P.snap, err, sizeof err);
  if (rc != 0) {
    ERROR(PLUGIN_NAME " plugin: <Dashboard> option `Listen': %s", err[0] ? err : alec_strerror(rc));
    return -1;
  }
  INFO(PLUGIN_NAME " plugin: dashboard on http://%s%s%s:%d/", strchr(dc.node, ':') ? "[" : "", dc.node,
       strchr(dc.node, ':') ? "]" : "", alec_dash_port(P.dash));
  if (strcmp(dc.node, "127.0.0.1") != 0 && strcmp(dc.node, "::1") != 0 && strcmp(dc.node, "localhost") != 0)
    WARNING(PLUGIN_NAME " plugin: the dashboard on \"%s\" may be reachable from other hosts; it has no "
                        "authentication",
            dc.node);
  return 0;
}

static int to_value(double v, int ds_type, value_t *out) {
  switch (ds_type) {
  case DS_TYPE_GAUGE:
    out->gauge = v;
    return 0;
  case DS_TYPE_DERIVE:
    if (!isfinite(v) || v < -9.2e18 || v > 9.2e18) return -1;
    out->derive = (derive_t)llround(v);
    return 0;
  case DS_TYPE_COUNTER:
    if (!isfinite(v) || v < 0 || v > 1.8e19) return -1;
    out->counter = (counter_t)llround(v);
    return 0;
  case DS_TYPE_ABSOLUTE:
    if (!isfinite(v) || v < 0 || v > 1.8e19) return -1;
    out->absolute = (absolute_t)llround(v);
    return 0;
  }
  return -1;
}

/* ---- values and notifications ---------------------------------------------- */

static void dispatch_frame(uint64_t id, const alec_pc_emitter *em, const alec_fleet_value *v, int n,
                           const alec_frame_info *info, cdtime_t recv) {
  value_list_t vl = VALUE_LIST_INIT;
  value_t value;
  vl.values = &value;
  vl.values_len = 1;
  vl.time = value_time(id, info, recv);
  emitter_host(em, id, vl.host, sizeof vl.host);
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
  sstrncpy(vl.plugin_instance, em ? em->group : "", sizeof vl.plugin_instance);
  uint64_t held = 0, unconv = 0, sent = 0;
  for (int i = 0; i < n; i++) {
    /* A value the decoder could not reconstruct is a guess: never stored. */
    if (v[i].flags & ALEC_VALUE_UNRELIABLE) {
      held++;
      continue;
    }
    const char *type;
    int ds_type;
    channel_names(em, v[i].channel, &type, vl.type_instance, sizeof vl.type_instance, &ds_type);
    if (to_value(v[i].value, ds_type, &value) != 0) {
      unconv++;
      continue;
    }
    sstrncpy(vl.type, type, sizeof vl.type);
    /* One prebuilt meta per priority: plugin_dispatch_values deep-copies
     * vl.meta, so sharing it saves a create/destroy per value. */
    vl.meta = P.prio_meta[v[i].priority < 5 ? v[i].priority : ALEC_P3];
    plugin_dispatch_values(&vl);
    sent++;
  }
  pthread_mutex_lock(&P.fleet_lock);
  P.held_back += held;
  P.unconvertible += unconv;
  P.dispatched += sent;
  pthread_mutex_unlock(&P.fleet_lock);
}

static void notify_priority(uint64_t id, const alec_pc_emitter *em, const alec_fleet_value *v, int n,
                            const alec_frame_info *info) {
  notification_t nt = {0};
  nt.severity = info->priority == ALEC_P1 ? NOTIF_FAILURE : NOTIF_WARNING;
  nt.time = cdtime();
  emitter_host(em, id, nt.host, sizeof nt.host);
  sstrncpy(nt.plugin, PLUGIN_NAME, sizeof nt.plugin);
  sstrncpy(nt.plugin_instance, em ? em->group : "", sizeof nt.plugin_instance);
  const char *prio = alec_priority_name((alec_priority)info->priority);
  size_t off = (size_t)ssnprintf(nt.message, sizeof nt.message, "Host %s sent a %s frame:", nt.host, prio);
  for (int i = 0; i < n && off < sizeof nt.message; i++) {
    const char *type;
    char ti[DATA_MAX_NAME_LEN];
    int ds_type;
    channel_names(em, v[i].channel, &type, ti, sizeof ti, &ds_type);
    if (n == 1) {
      sstrncpy(nt.type, type, sizeof nt.type);
      sstrncpy(nt.type_instance, ti, sizeof nt.type_instance);
    }
    int w = snprintf(nt.message + off, sizeof nt.message - off, "%s %s%s%s = %g", i ? "," : "", type, ti[0] ? "-" : "",
                     ti, v[i].value);
    if (w < 0) break;
    off += (size_t)w;
  }
  plugin_notification_meta_add_string(&nt, "Priority", prio);
  plugin_notification_meta_add_unsigned_int(&nt, "EmitterId", id);
  if (n == 1) plugin_notification_meta_add_double(&nt, "CurrentValue", v[0].value);
  plugin_dispatch_notification(&nt);
  plugin_notification_meta_free(nt.meta);
}

/* Fleet state transitions (threshold.c conventions: FAILURE / WARNING on
 * entry, OKAY on exit). Called under fleet_lock, in the dispatch thread. */
static void on_fleet_event(const alec_fleet_event *ev, void *arg) {
  (void)arg;
  notification_t nt = {0};
  nt.severity = ev->severity == ALEC_FLEET_FAILURE ? NOTIF_FAILURE
                : ev->severity == ALEC_FLEET_WARNING ? NOTIF_WARNING
                                                     : NOTIF_OKAY;
  nt.time = cdtime();
  sstrncpy(nt.plugin, PLUGIN_NAME, sizeof nt.plugin);
  sstrncpy(nt.plugin_instance, ev->group ? ev->group : "", sizeof nt.plugin_instance);
  const alec_pc_emitter *em;
  if (ev->kind == ALEC_FLEET_EVENT_SHIFT) {
    em = group_emitter(nt.plugin_instance, ev->channel);
    sstrncpy(nt.host, hostname_g, sizeof nt.host);
  } else {
    em = alec_pc_find_emitter(&P.cfg, ev->emitter_id);
    emitter_host(em, ev->emitter_id, nt.host, sizeof nt.host);
  }
  const char *type;
  int ds_type;
  channel_names(em, ev->channel, &type, nt.type_instance, sizeof nt.type_instance, &ds_type);
  sstrncpy(nt.type, type, sizeof nt.type);
  char what[2 * DATA_MAX_NAME_LEN + 64];
  ssnprintf(what, sizeof what, "%s%s%s%s%s", nt.type, nt.type_instance[0] ? "-" : "", nt.type_instance,
            nt.plugin_instance[0] ? " in group " : "", nt.plugin_instance);
  if (ev->kind == ALEC_FLEET_EVENT_SHIFT) {
    if (nt.severity == NOTIF_OKAY)
      ssnprintf(nt.message, sizeof nt.message,
                "Fleet shift of %s is over: fleet median %g (baseline %g, MAD %g, score %.2f, %u peers).", what,
                ev->value, ev->median, ev->mad, ev->score, ev->peers);
    else
      ssnprintf(nt.message, sizeof nt.message,
                "The whole fleet moved: %s has a fleet median of %g, its baseline was %g (MAD %g, score %.2f, "
                "%u peers).",
                what, ev->value, ev->median, ev->mad, ev->score, ev->peers);
  } else if (nt.severity == NOTIF_OKAY) {
    ssnprintf(nt.message, sizeof nt.message,
              "Host %s, %s is back in line with its fleet: %g, fleet median %g (MAD %g, score %.2f, %u peers).",
              nt.host, what, ev->value, ev->median, ev->mad, ev->score, ev->peers);
  } else {
    const char *why = (ev->reason & ALEC_FLEET_REASON_LEVEL) ? "deviates from" : "drifts away from";
    ssnprintf(nt.message, sizeof nt.message,
              "Host %s, %s %s its fleet: %g, fleet median %g (MAD %g, score %.2f, %u peers).", nt.host, what, why,
              ev->value, ev->median, ev->mad, ev->score, ev->peers);
  }
  plugin_notification_meta_add_double(&nt, "CurrentValue", ev->value);
  plugin_notification_meta_add_double(&nt, "FleetMedian", ev->median);
  plugin_notification_meta_add_double(&nt, "FleetMAD", ev->mad);
  plugin_notification_meta_add_double(&nt, "Score", ev->score);
  plugin_notification_meta_add_signed_int(&nt, "Peers", (int64_t)ev->peers);
  if (ev->kind == ALEC_FLEET_EVENT_SHIFT) {
    plugin_notification_meta_add_string(&nt, "Kind", "fleet-shift");
  } else {
    plugin_notification_meta_add_string(&nt, "Kind", "emitter");
    plugin_notification_meta_add_unsigned_int(&nt, "EmitterId", ev->emitter_id);
    plugin_notification_meta_add_string(&nt, "Reason", (ev->reason & ALEC_FLEET_REASON_DRIFT) &&
                                                               !(ev->reason & ALEC_FLEET_REASON_LEVEL)
                                                           ? "drift"
                                                           : "level");
    plugin_notification_meta_add_double(&nt, "Cusum", ev->cusum);
  }
  /* Synchronous: every notification callback has run when it returns. */
  plugin_dispatch_notification(&nt);
  plugin_notification_meta_free(nt.meta);
  P.notifications++;
  if (P.snap) alec_snap_event_add(P.snap, ev);
}

/* ---- resynchronisation and state file (resync.c, state.c) ------------------ */

/* Asks the emitter for a keyframe; sent when the datagram is done. A bare
 * frame is the whole datagram, an envelope record never starts it. */
static void resync_note(const alec_dgram *d, uint64_t id, const uint8_t *frame) {
  if (!P.rs_ready) return;
  struct timespec m;
  clock_gettime(CLOCK_MONOTONIC, &m);
  alec_rs_request(&P.rs, id, frame == d->data, 1.0 + (double)m.tv_sec + (double)m.tv_nsec * 1e-9, d->fd,
                  (const struct sockaddr *)&d->from, d->from_len);
}

static void resync_flush(const alec_dgram *d) {
  if (!P.rs_ready) return;
  alec_rs_flush(&P.rs, d->fd, (const struct sockaddr *)&d->from, d->from_len);
  uint64_t sum = P.rs.sent + P.rs.limited + P.rs.failed;
  if (sum == P.rs_synced) return;
  P.rs_synced = sum;
  pthread_mutex_lock(&P.fleet_lock);
  P.rs_stats[0] = P.rs.sent;
  P.rs_stats[1] = P.rs.limited;
  P.rs_stats[2] = P.rs.failed;
  pthread_mutex_unlock(&P.fleet_lock);
}

static int state_filter(void *arg, uint64_t id) {
  (void)arg;
  return !P.cfg.reject_unknown || alec_pc_find_emitter(&P.cfg, id) != NULL;
}

/* A refused state file never stops the plugin: it starts clean. */
static void state_restore(void) {
  if (P.cfg.state_file[0] == '\0') return;
  char err[ALEC_PC_PATH_LEN + 256];
  alec_fleet_state_info info;
  cdtime_t now = cdtime();
  int rc = alec_ps_load(P.cfg.state_file, P.fleet, CDTIME_T_TO_DOUBLE(now), state_filter, NULL, &info, err,
                        sizeof err);
  P.state_ready = 1;
  if (rc == 1) {
    INFO(PLUGIN_NAME " plugin: no state file \"%s\" yet, starting without emitter state", P.cfg.state_file);
  } else if (rc == 0) {
    INFO(PLUGIN_NAME " plugin: restored %zu emitters from \"%s\" (saved %.0f s ago; %zu skipped, %zu changed "
                     "group)",
         info.emitters, P.cfg.state_file, CDTIME_T_TO_DOUBLE(now) - info.saved_at, info.skipped, info.group_changes);
  } else if (rc == ALEC_EIO) {
    /* Unreadable: keep it, and do not overwrite what we could not read. */
    ERROR(PLUGIN_NAME " plugin: %s; starting with a clean state, the state will not be saved", err);
    P.state_ready = 0;
  } else {
    char aside[ALEC_PC_PATH_LEN + 256];
    int moved = alec_ps_set_aside(P.cfg.state_file, aside, sizeof aside);
    ERROR(PLUGIN_NAME " plugin: %s; starting with a clean state%s%s", err,
          moved == 0 ? ", the file was renamed to *.refused" : ": ", moved == 0 ? "" : aside);
  }
  P.next_state_save = now + DOUBLE_TO_CDTIME_T(P.cfg.state_interval);
}

/* Serialised under fleet_lock, written (and fsync'ed) outside it. */
static void state_save(cdtime_t now, int final) {
  uint8_t *buf = NULL;
  size_t len = 0;
  alec_fleet_state_info info;
  pthread_mutex_lock(&P.fleet_lock);
  int rc = alec_fleet_state_save(P.fleet, CDTIME_T_TO_DOUBLE(now), &buf, &len, &info);
  pthread_mutex_unlock(&P.fleet_lock);
  char err[ALEC_PC_PATH_LEN + 256];
  if (rc == 0) rc = alec_ps_write_atomic(P.cfg.state_file, buf, len, err, sizeof err);
  else ssnprintf(err, sizeof err, "cannot serialise the fleet state: %s", alec_strerror(rc));
  free(buf);
  if (rc != 0) ERROR(PLUGIN_NAME " plugin: option `StateFile': %s", err);
  else if (final) INFO(PLUGIN_NAME " plugin: state of %zu emitters saved to \"%s\"", info.emitters, P.cfg.state_file);
}

static void state_maybe_save(cdtime_t now) {
  if (!P.state_ready || P.cfg.state_interval <= 0 || now < P.next_state_save) return;
  P.next_state_save = now + DOUBLE_TO_CDTIME_T(P.cfg.state_interval);
  state_save(now, 0);
}

/* ---- dispatch thread ---------------------------------------------------------- */

static void process_record(const alec_dgram *d, uint64_t id, const alec_pc_emitter *em, alec_format fmt,
                           unsigned channels, const uint8_t *frame, size_t len) {
  if (em == NULL && P.cfg.reject_unknown) {
    reject(REJ_UNKNOWN, d, id, "not configured (UnknownEmitters \"reject\")");
    return;
  }
  if (em && em->format && em->format != fmt) {
    reject(REJ_FORMAT, d, id, "frame family %s, configured Format \"%s\"", alec_format_name(fmt),
           alec_format_name(em->format));
    return;
  }
  if (em && fmt == ALEC_FORMAT_FIXED && em->channels && em->channels != channels) {
    reject(REJ_FORMAT, d, id, "%u channels, configured Channels %u", channels, em->channels);
    return;
  }
  /* Before decoding: a flood costs a hash lookup, not a decode. */
  if (P.rl && !alec_rl_allow(P.rl, id, (double)d->received.tv_sec + (double)d->received.tv_nsec * 1e-9)) {
    reject(REJ_RATE, d, id, "above RateLimit %g frames/s (burst %g)", P.cfg.rate_limit, P.cfg.rate_burst);
    return;
  }
  alec_fleet_value vals[ALEC_FLEET_MAX_VALUES];
  alec_frame_info info;
  memset(&info, 0, sizeof info);
  cdtime_t recv = TIMESPEC_TO_CDTIME_T(&d->received);
  pthread_mutex_lock(&P.fleet_lock);
  int n = alec_fleet_process(P.fleet, id, fmt, channels, frame, len, CDTIME_T_TO_DOUBLE(recv), vals,
                             ALEC_FLEET_MAX_VALUES, &info);
  pthread_mutex_unlock(&P.fleet_lock);
  if (n < 0) {
    if (n == ALEC_ENOSPC) reject(REJ_MAX_EMITTERS, d, id, "%zu emitters known", P.cfg.max_emitters);
    else if (n == ALEC_EREPLAY)
      reject(REJ_STALE, d, id, "%s frame: sequence already seen or behind the last one", alec_format_name(fmt));
    else reject(REJ_DECODE, d, id, "%s frame of %zu bytes: %s", alec_format_name(fmt), len, alec_strerror(n));
    /* A frame that needs prediction state we do not have (restart without
     * state, lost keyframe) is cured by a keyframe; a replay is not. */
    if (n != ALEC_ENOSPC && n != ALEC_EREPLAY) resync_note(d, id, frame);
    return;
  }
  if (info.gap > 0 || info.n_unreliable > 0) resync_note(d, id, frame);
  if (n > ALEC_FLEET_MAX_VALUES) n = ALEC_FLEET_MAX_VALUES;
  if (P.snap) alec_snap_record(P.snap, id, vals, (size_t)n, CDTIME_T_TO_DOUBLE(recv));
  dispatch_frame(id, em, vals, n, &info, recv);
  if (P.cfg.notify_priority >= 0 && info.priority <= (unsigned)P.cfg.notify_priority && n > 0)
    notify_priority(id, em, vals, n, &info);
}

/* ---- security (docs/SECURITY.md, security.c) --------------------------------- */

/* 1 when the datagram may be processed (*r then reads its records). */
static int sec_admit(const alec_dgram *d, alec_envelope_reader *r) {
  int code, was_signed;
  uint64_t who;
  uint16_t key_id;
  alec_sec_verdict v =
      alec_sec_open(&P.sec, &P.cfg, d->listen_level, d->data, d->len, r, &code, &who, &was_signed, &key_id);
  unsigned first = d->len ? d->data[0] : 0;
  switch (v) {
  case ALEC_SEC_OK: return 1;
  case ALEC_SEC_MALFORMED:
  case ALEC_SEC_VERSION:
    reject(v == ALEC_SEC_VERSION ? REJ_VERSION : REJ_MALFORMED, d, UINT64_MAX, "%zu bytes, first byte 0x%02x: %s",
           d->len, first, alec_strerror(code));
    break;
  case ALEC_SEC_UNSIGNED:
    reject(REJ_UNAUTH, d, who, "unsigned datagram of %zu bytes, the emitter or the socket requires signing", d->len);
    break;
  case ALEC_SEC_UNKNOWN_KEY:
    reject(REJ_UNKNOWN_KEY, d, UINT64_MAX, "key id %u is not in the AuthFile%s", key_id,
           P.sec.path ? "" : " (no AuthFile configured)");
    break;
  case ALEC_SEC_BAD_SIGNATURE:
    reject(REJ_BAD_SIGNATURE, d, UINT64_MAX, "%zu bytes signed with key id %u: the tag does not verify", d->len,
           key_id);
    break;
  case ALEC_SEC_REPLAY:
    reject(REJ_REPLAY, d, UINT64_MAX, "key id %u: counter already seen or older than the replay window", key_id);
    break;
  case ALEC_SEC_NOT_ALLOWED:
    reject(REJ_NOT_ALLOWED, d, who, "key id %u may not sign for this emitter", key_id);
    break;
  }
  return 0;
}

static int sec_start(void) {
  char err[512], warn[512];
  int rc = alec_sec_init(&P.sec, P.cfg.auth_file, err, sizeof err, warn, sizeof warn);
  if (rc != 0) {
    ERROR(PLUGIN_NAME " plugin: option `AuthFile': %s", err);
    return -1;
  }
  if (warn[0]) WARNING(PLUGIN_NAME " plugin: option `AuthFile': %s", warn);
  if (P.sec.keys) INFO(PLUGIN_NAME " plugin: %zu keys loaded from %s", P.sec.keys->n, P.sec.path);
  if (P.cfg.rate_limit > 0) {
    size_t cap = 2 * P.cfg.max_emitters;
    if (cap > ((size_t)1 << 22)) cap = (size_t)1 << 22; /* 128 MiB of buckets at most */
    rc = alec_rl_new(&P.rl, P.cfg.rate_limit, P.cfg.rate_burst, cap);
    if (rc != 0) {
      ERROR(PLUGIN_NAME " plugin: option `RateLimit': %s", alec_strerror(rc));
      return -1;
    }
  }
  return 0;
}

/* Key rotation without restart: the AuthFile is looked at once a second. */
static void sec_reload(void) {
  struct timespec mono;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  char msg[512];
  int rc = alec_sec_maybe_reload(&P.sec, (double)mono.tv_sec + (double)mono.tv_nsec * 1e-9, msg, sizeof msg);
  if (rc > 0) INFO(PLUGIN_NAME " plugin: AuthFile %s", msg);
  else if (rc < 0) ERROR(PLUGIN_NAME " plugin: AuthFile %s", msg);
}

static void process_datagram(const alec_dgram *d) {
  const alec_pc_emitter *bare = alec_pc_find_source(&P.cfg, (const struct sockaddr *)&d->from, d->from_len);
  if (bare) {
    if (alec_sec_level(bare, d->listen_level) == ALEC_PC_SEC_SIGN) {
      reject(REJ_UNAUTH, d, bare->id, "bare frame from its Source on a SecurityLevel Sign socket");
      return;
    }
    process_record(d, bare->id, bare, bare->format, bare->channels, d->data, d->len);
    return;
  }
  /* Authenticated and validated as a whole first: a forged, replayed or
   * damaged datagram is refused entirely, before any emitter sees it. */
  alec_envelope_reader r;
  alec_envelope_record rec;
  if (!sec_admit(d, &r)) return;
  while (alec_envelope_next(&r, &rec) > 0)
    process_record(d, rec.emitter, alec_pc_find_emitter(&P.cfg, rec.emitter), rec.format, rec.channels, rec.frame,
                   rec.frame_len);
}

static void evaluate(cdtime_t now) {
  pthread_mutex_lock(&P.fleet_lock);
  int rc = alec_fleet_evaluate(P.fleet, CDTIME_T_TO_DOUBLE(now), on_fleet_event, NULL);
  if (now >= P.next_stale) {
    alec_fleet_remove_stale(P.fleet, CDTIME_T_TO_DOUBLE(now));
    P.next_stale = now + STALE_CHECK;
  }
  /* Only the copy holds fleet_lock; the rest of the snapshot is built
   * after it is released (same thread: the snapshot side is ours). */
  int snap_rc = 0;
  alec_snap *pending = NULL;
  if (P.snap && alec_snap_due(P.snap, CDTIME_T_TO_DOUBLE(now)))
    snap_rc = alec_snap_gather(P.snap, P.fleet, CDTIME_T_TO_DOUBLE(now), &pending);
  pthread_mutex_unlock(&P.fleet_lock);
  if (pending) snap_rc = alec_snap_publish(P.snap, pending);
  if (rc < 0) ERROR(PLUGIN_NAME " plugin: fleet evaluation failed: %s", alec_strerror(rc));
  /* The dashboard keeps serving the previous snapshot meanwhile. */
  if (snap_rc < 0 && !P.snap_failed)
    ERROR(PLUGIN_NAME " plugin: dashboard snapshot failed: %s", alec_strerror(snap_rc));
  if (P.snap) P.snap_failed = snap_rc < 0;
  log_receive_drops();
  sec_reload();
  state_maybe_save(now);
  if (now >= P.next_times_prune) {
    times_prune(now);
    P.next_times_prune = now + TIME_T_TO_CDTIME_T(60);
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

static double evaluation_interval(void) {
  return (P.cfg.fleet.set & ALEC_PC_F_EVALUATION_INTERVAL) ? P.cfg.fleet.evaluation_interval : 0.1;
}

static void *dispatch_main(void *arg) {
  (void)arg;
  double interval = evaluation_interval();
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  timespec_add(&next, interval);
  while (!atomic_load(&P.stop)) {
    alec_dgram *d = alec_dq_pop(&P.queue);
    if (d) {
      sec_reload(); /* at most one stat() a second, whatever EvaluationInterval */
      alec_rs_begin(&P.rs);
      process_datagram(d);
      resync_flush(d);
      free(d);
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, &next)) {
      evaluate(cdtime());
      timespec_add(&next, interval);
      /* Fell behind by more than one interval: do not run a burst of
       * evaluations to catch up, each sees the same data. */
      if (ts_before(&next, &now)) {
        next = now;
        timespec_add(&next, interval);
      }
    } else if (d == NULL) {
      alec_dq_wait(&P.queue, &next);
    }
  }
  DEBUG(PLUGIN_NAME " plugin: dispatch thread exiting");
  return NULL;
}

/* ---- receive thread ------------------------------------------------------------ */

static void *recv_main(void *arg) {
  (void)arg;
  struct pollfd pfd[MAX_SOCKETS + 1];
  size_t npfd = 0;
  for (size_t i = 0; i < P.n_fds; i++) pfd[npfd++] = (struct pollfd){.fd = P.fds[i], .events = POLLIN};
  pfd[npfd++] = (struct pollfd){.fd = P.wake[0], .events = POLLIN};
  /* One byte more than we accept, so MSG_TRUNC tells oversized apart. */
  uint8_t *buf = malloc(DATAGRAM_MAX + 1);
  if (buf == NULL) {
    ERROR(PLUGIN_NAME " plugin: receive thread: out of memory");
    return NULL;
  }
  while (!atomic_load(&P.stop)) {
    int rc = poll(pfd, (nfds_t)npfd, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      ERROR(PLUGIN_NAME " plugin: poll failed: %s", STRERRNO);
      break;
    }
    if (pfd[npfd - 1].revents) break; /* shutdown */
    for (size_t i = 0; i + 1 < npfd; i++) {
      if (!(pfd[i].revents & (POLLIN | POLLERR))) continue;
      for (int k = 0; k < RECV_BURST; k++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t len = recvfrom(pfd[i].fd, buf, DATAGRAM_MAX + 1, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (len < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            WARNING(PLUGIN_NAME " plugin: recvfrom failed: %s", STRERRNO);
          break;
        }
        atomic_fetch_add_explicit(&P.datagrams, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&P.datagram_bytes, (uint_fast64_t)len, memory_order_relaxed);
        if (len > DATAGRAM_MAX) {
          atomic_fetch_add_explicit(&P.oversized, 1, memory_order_relaxed);
          continue;
        }
        alec_dgram *d = malloc(sizeof(*d) + (size_t)len);
        if (d == NULL) {
          atomic_fetch_add_explicit(&P.queue_drops, 1, memory_order_relaxed);
          continue;
        }
        clock_gettime(CLOCK_REALTIME, &d->received);
        memcpy(&d->from, &from, sizeof from);
        d->from_len = fromlen;
        d->fd = pfd[i].fd;
        d->listen_level = P.fd_level[i];
        d->len = (size_t)len;
        memcpy(d->data, buf, (size_t)len);
        if (alec_dq_push(&P.queue, d) != 0) {
          free(d);
          atomic_fetch_add_explicit(&P.queue_drops, 1, memory_order_relaxed);
        }
      }
    }
    alec_dq_wake(&P.queue);
  }
  free(buf);
  DEBUG(PLUGIN_NAME " plugin: receive thread exiting");
  return NULL;
}

/* ---- sockets --------------------------------------------------------------------- */

static int open_listen(const alec_pc_listen *l) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  int gai = getaddrinfo(l->node, l->service, &hints, &res);
  if (gai != 0) {
    ERROR(PLUGIN_NAME " plugin: option `Listen' \"%s\" \"%s\": %s", l->node, l->service, gai_strerror(gai));
    return -1;
  }
  int status = 0;
  for (struct addrinfo *ai = res; ai && status == 0; ai = ai->ai_next) {
    if (P.n_fds >= MAX_SOCKETS) {
      ERROR(PLUGIN_NAME " plugin: option `Listen': more than %d sockets", MAX_SOCKETS);
      status = -1;
      break;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      ERROR(PLUGIN_NAME " plugin: option `Listen' \"%s\" \"%s\": socket: %s", l->node, l->service, STRERRNO);
      status = -1;
      break;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (ai->ai_family == AF_INET6) {
      /* "::" means IPv6 only, so "0.0.0.0" can be listed next to it. */
      int one = 1;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (P.cfg.receive_buffer > 0) {
      int sz = P.cfg.receive_buffer;
      /* FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN. */
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0 &&
          setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) != 0)
        WARNING(PLUGIN_NAME " plugin: option `ReceiveBufferSize' %d: %s", sz, STRERRNO);
      int got = 0;
      socklen_t gl = sizeof got;
      if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got < sz)
        WARNING(PLUGIN_NAME " plugin: option `ReceiveBufferSize': asked for %d bytes, the kernel gave %d "
                            "(raise net.core.rmem_max or run as root)",
                sz, got);
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      ERROR(PLUGIN_NAME " plugin: option `Listen' \"%s\" \"%s\": bind: %s", l->node, l->service, STRERRNO);
      close(fd);
      status = -1;
      break;
    }
    P.fd_level[P.n_fds] = l->security;
    P.fds[P.n_fds++] = fd;
    INFO(PLUGIN_NAME " plugin: listening on %s port %s", l->node, l->service);
  }
  freeaddrinfo(res);
  return status;
}

/* ---- collectd callbacks --------------------------------------------------------- */

static int alec_config(oconfig_item_t *ci) {
  char err[ALEC_PC_ERR_LEN];
  if (alec_pc_parse(&P.cfg, ci, err, sizeof err) != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err[0] ? err : "out of memory");
    /* Remembered so init fails too: `collectd -T` must exit non-zero. */
    P.config_failed = 1;
    return -1;
  }
  return 0;
}

static int type_check(void *arg, const char *type, int *ds_type) {
  (void)arg;
  const data_set_t *ds = plugin_get_ds(type);
  if (ds == NULL) return -1;
  *ds_type = ds->ds_num ? ds->ds[0].type : DS_TYPE_GAUGE;
  return (int)ds->ds_num;
}

static void release_all(void);

static int build_fleet(void) {
  alec_fleet_config fc;
  alec_fleet_config_init(&fc);
  const alec_pc_fleet *f = &P.cfg.fleet;
  fc.max_emitters = (uint32_t)P.cfg.max_emitters;
  fc.emitter_timeout = P.cfg.emitter_timeout;
  /* Fixed frames carry up to 64 channels; single and multi use their ids. */
  fc.max_channels = ALEC_FIXED_MAX_CHANNELS;
  size_t groups = 1;
  for (size_t i = 0; i < P.cfg.n_emitters; i++) groups += P.cfg.emitters[i].group[0] != '\0';
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
  if (P.cfg.scale) fc.decoder.ctx.scale = P.cfg.scale;
  char err[256];
  if (alec_fleet_config_validate(&fc, err, sizeof err) != 0) {
    /* The fleet names its own fields; say which of ours they are. */
    ERROR(PLUGIN_NAME " plugin: <Fleet> (Threshold=z_enter, ExitThreshold=z_exit, FailureThreshold=z_failure, "
                      "EnterCount, ExitCount, MinPeers, MADFloor, SyncInterval; MaxEmitters, EmitterTimeout, "
                      "Scale): %s",
          err);
    return -1;
  }
  int rc = alec_fleet_new(&P.fleet, &fc);
  if (rc != 0) {
    ERROR(PLUGIN_NAME " plugin: cannot create the fleet: %s", alec_strerror(rc));
    return -1;
  }
  for (size_t i = 0; i < P.cfg.n_emitters; i++) {
    const alec_pc_emitter *em = &P.cfg.emitters[i];
    if (em->group[0] == '\0') continue;
    rc = alec_fleet_set_emitter_group(P.fleet, em->id, em->group);
    if (rc != 0) {
      ERROR(PLUGIN_NAME " plugin: option `Group' \"%s\" in <Emitter %" PRIu64 ">: %s", em->group, em->id,
            alec_strerror(rc));
      return -1;
    }
  }
  return 0;
}

static int alec_init(void) {
  if (P.initialized) return 0;
  if (P.config_failed) {
    ERROR(PLUGIN_NAME " plugin: not started: the configuration has errors (see above)");
    return -1;
  }
  char err[ALEC_PC_ERR_LEN];
  int rc = alec_pc_finalize(&P.cfg, type_check, NULL, err, sizeof err);
  if (rc != 0) {
    ERROR(PLUGIN_NAME " plugin: %s", err[0] ? err : "out of memory");
    return -1;
  }
  int ds_type;
  P.default_ds_type = type_check(NULL, ALEC_PC_DEFAULT_TYPE, &ds_type) == 1 ? ds_type : DS_TYPE_GAUGE;
  P.score_types_ok = type_check(NULL, "alec_score", &ds_type) == 1 && type_check(NULL, "alec_anomaly", &ds_type) == 1;
  if (!P.score_types_ok)
    NOTICE(PLUGIN_NAME " plugin: types alec_score / alec_anomaly not found: per-emitter scores are not dispatched "
                       "(add alec.types.db to TypesDB)");
  if (build_fleet() != 0) goto fail;
  state_restore();
  if (P.cfg.resync_requests) {
    if (alec_rs_init(&P.rs, P.cfg.max_emitters, P.cfg.resync_interval) != 0) {
      ERROR(PLUGIN_NAME " plugin: option `ResyncRequests': out of memory");
      goto fail;
    }
    P.rs_ready = 1;
  }
  if (sec_start() != 0) goto fail;
  if (P.cfg.dashboard.enabled && start_dashboard() != 0) goto fail;
  for (int i = 0; i < 5; i++) {
    P.prio_meta[i] = meta_data_create();
    if (P.prio_meta[i] == NULL || meta_data_add_string(P.prio_meta[i], "alec:priority",
                                                       alec_priority_name((alec_priority)i)) != 0)
      goto fail;
  }
  size_t slots = 64;
  while (slots < 2 * P.cfg.max_emitters) slots <<= 1;
  P.times = calloc(slots, sizeof(*P.times));
  if (P.times == NULL) goto fail;
  P.times_mask = slots - 1;
  P.next_times_prune = cdtime() + TIME_T_TO_CDTIME_T(60);
  if (alec_dq_init(&P.queue, P.cfg.queue_length, P.cfg.queue_length * QUEUE_BYTES_PER_SLOT) != 0) {
    ERROR(PLUGIN_NAME " plugin: option `QueueLength' %zu: cannot allocate the queue", P.cfg.queue_length);
    goto fail;
  }
  P.queue_ready = 1;
  if (pipe(P.wake) != 0) {
    ERROR(PLUGIN_NAME " plugin: pipe: %s", STRERRNO);
    P.wake[0] = P.wake[1] = -1;
    goto fail;
  }
  for (size_t i = 0; i < P.cfg.n_listen; i++)
    if (open_listen(&P.cfg.listen[i]) != 0) goto fail;
  atomic_store(&P.stop, 0);
  /* plugin_thread_create copies our plugin context (name, interval) into
   * the thread, so dispatches from it are attributed to us. */
  if (plugin_thread_create(&P.dispatch_thread, dispatch_main, NULL, "alec dispatch") != 0) {
    ERROR(PLUGIN_NAME " plugin: cannot start the dispatch thread: %s", STRERRNO);
    goto fail;
  }
  P.dispatch_started = 1;
  if (plugin_thread_create(&P.recv_thread, recv_main, NULL, "alec recv") != 0) {
    ERROR(PLUGIN_NAME " plugin: cannot start the receive thread: %s", STRERRNO);
    goto fail;
  }
  P.recv_started = 1;
  P.initialized = 1;
  return 0;
fail:
  release_all();
  return -1;
}

static void submit(const char *type, const char *ti, value_t v, cdtime_t t) {
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &v;
  vl.values_len = 1;
  vl.time = t;
  sstrncpy(vl.host, hostname_g, sizeof vl.host);
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
  sstrncpy(vl.plugin_instance, "fleet", sizeof vl.plugin_instance);
  sstrncpy(vl.type, type, sizeof vl.type);
  sstrncpy(vl.type_instance, ti, sizeof vl.type_instance);
  plugin_dispatch_values(&vl);
}

/* Per active emitter and tracked channel: its score and state, for writers
 * that take no notifications. Called under fleet_lock. */
static void submit_scores(cdtime_t t) {
  double now = CDTIME_T_TO_DOUBLE(t);
  size_t n = alec_fleet_emitter_count(P.fleet);
  for (size_t i = 0; i < n; i++) {
    alec_fleet_emitter_info ei;
    if (alec_fleet_emitter_at(P.fleet, i, now, &ei) != 0) break;
    if (!ei.active) continue;
    const alec_pc_emitter *em = alec_pc_find_emitter(&P.cfg, ei.id);
    value_list_t vl = VALUE_LIST_INIT;
    value_t v;
    vl.values = &v;
    vl.values_len = 1;
    vl.time = t;
    emitter_host(em, ei.id, vl.host, sizeof vl.host);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
    sstrncpy(vl.plugin_instance, ei.group, sizeof vl.plugin_instance);
    for (unsigned k = 0;; k++) {
      alec_fleet_channel_info ci;
      if (alec_fleet_get_channel(P.fleet, ei.id, k, &ci) != 0) break;
      if (ci.evaluations == 0) continue; /* never compared with peers */
      const char *type;
      char ti[DATA_MAX_NAME_LEN];
      int ds_type;
      channel_names(em, ci.channel, &type, ti, sizeof ti, &ds_type);
      /* The channel's type goes into type_instance: two channels may share
       * a type_instance ("indoor") with different types. */
      ssnprintf(vl.type_instance, sizeof vl.type_instance, "%s%s%s", type, ti[0] ? "-" : "", ti);
      sstrncpy(vl.type, "alec_score", sizeof vl.type);
      v.gauge = ci.score;
      plugin_dispatch_values(&vl);
      sstrncpy(vl.type, "alec_anomaly", sizeof vl.type);
      v.gauge = (gauge_t)ci.state;
      plugin_dispatch_values(&vl);
    }
  }
}

static int alec_read(void) {
  if (!P.initialized) return -1;
  cdtime_t t = cdtime();
  alec_fleet_stats st;
  uint64_t rej[REJ_COUNT], held, unconv, notif, dispatched;
  pthread_mutex_lock(&P.fleet_lock);
  alec_fleet_get_stats(P.fleet, CDTIME_T_TO_DOUBLE(t), &st);
  memcpy(rej, P.rejected, sizeof rej);
  held = P.held_back;
  uint64_t rs[3];
  memcpy(rs, P.rs_stats, sizeof rs);
  unconv = P.unconvertible;
  notif = P.notifications;
  dispatched = P.dispatched;
  if (P.score_types_ok) submit_scores(t);
  pthread_mutex_unlock(&P.fleet_lock);
  rej[REJ_OVERSIZED] += atomic_load(&P.oversized);

  submit("count", "emitters", (value_t){.gauge = (gauge_t)st.emitters}, t);
  submit("count", "emitters_active", (value_t){.gauge = (gauge_t)st.active}, t);
  submit("count", "anomalies_active", (value_t){.gauge = (gauge_t)st.anomalous}, t);
  submit("count", "shifts_active", (value_t){.gauge = (gauge_t)st.shifts_active}, t);
  submit("count", "groups", (value_t){.gauge = (gauge_t)st.groups}, t);
  submit("derive", "frames", (value_t){.derive = (derive_t)st.frames}, t);
  submit("derive", "values", (value_t){.derive = (derive_t)st.values}, t);
  submit("derive", "values_dispatched", (value_t){.derive = (derive_t)dispatched}, t);
  submit("derive", "values_held_back", (value_t){.derive = (derive_t)(held + unconv)}, t);
  submit("total_bytes", "frames", (value_t){.derive = (derive_t)st.bytes}, t);
  submit("total_bytes", "datagrams", (value_t){.derive = (derive_t)atomic_load(&P.datagram_bytes)}, t);
  submit("packets", "datagrams", (value_t){.derive = (derive_t)atomic_load(&P.datagrams)}, t);
  /* No ratio before the first frame: a NaN would make writers such as
   * InfluxDB log a dropped point every interval. */
  if (st.frames)
    submit("gauge", "compression_ratio", (value_t){.gauge = st.compression_ratio}, t);
  submit("derive", "lost_frames", (value_t){.derive = (derive_t)st.gaps}, t);
  submit("derive", "queue_drops", (value_t){.derive = (derive_t)atomic_load(&P.queue_drops)}, t);
  if (P.rs_ready) {
    submit("derive", "resync_requests", (value_t){.derive = (derive_t)rs[0]}, t);
    submit("derive", "resync_suppressed", (value_t){.derive = (derive_t)rs[1]}, t);
    submit("derive", "resync_send_errors", (value_t){.derive = (derive_t)rs[2]}, t);
  }
  submit("queue_length", "receive", (value_t){.gauge = (gauge_t)alec_dq_count(&P.queue)}, t);
  submit("derive", "anomaly_entries", (value_t){.derive = (derive_t)st.anomaly_entries}, t);
  submit("derive", "fleet_shifts", (value_t){.derive = (derive_t)st.shift_events}, t);
  submit("derive", "notifications", (value_t){.derive = (derive_t)notif}, t);
  submit("derive", "priority_p1", (value_t){.derive = (derive_t)st.priority[0]}, t);
  submit("derive", "priority_p2", (value_t){.derive = (derive_t)st.priority[1]}, t);
  submit("memory", "fleet", (value_t){.gauge = (gauge_t)st.memory}, t);
  for (int k = 0; k < REJ_COUNT; k++) {
    char ti[64];
    ssnprintf(ti, sizeof ti, "rejected_%s", reject_name[k]);
    submit("errors", ti, (value_t){.derive = (derive_t)rej[k]}, t);
  }
  if (P.sec.path) {
    submit("count", "auth_keys", (value_t){.gauge = (gauge_t)atomic_load(&P.sec.n_keys)}, t);
    submit("derive", "auth_reloads", (value_t){.derive = (derive_t)atomic_load(&P.sec.reloads)}, t);
    submit("derive", "auth_reload_errors", (value_t){.derive = (derive_t)atomic_load(&P.sec.reload_errors)}, t);
  }
  return 0;
}

static void release_all(void) {
  atomic_store(&P.stop, 1);
  if (P.wake[1] >= 0) {
    char c = 1;
    /* The receive thread sleeps in poll(): the pipe is its wakeup. */
    if (write(P.wake[1], &c, 1) < 0) WARNING(PLUGIN_NAME " plugin: wake write: %s", STRERRNO);
  }
  if (P.queue_ready) alec_dq_interrupt(&P.queue);
  if (P.recv_started) pthread_join(P.recv_thread, NULL);
  if (P.dispatch_started) pthread_join(P.dispatch_thread, NULL);
  P.recv_started = P.dispatch_started = 0;
  /* The server reads only the store; the store outlives it. */
  alec_dash_stop(P.dash);
  P.dash = NULL;
  alec_snap_store_free(P.snap);
  P.snap = NULL;
  for (size_t i = 0; i < P.n_fds; i++) close(P.fds[i]);
  P.n_fds = 0;
  for (int i = 0; i < 2; i++) {
    if (P.wake[i] >= 0) close(P.wake[i]);
    P.wake[i] = -1;
  }
  if (P.queue_ready) alec_dq_destroy(&P.queue);
  P.queue_ready = 0;
  /* Threads are joined: nothing decodes any more, the state is final. */
  if (P.initialized && P.state_ready) state_save(cdtime(), 1);
  P.state_ready = 0;
  if (P.rs_ready) alec_rs_destroy(&P.rs);
  P.rs_ready = 0;
  alec_fleet_free(P.fleet);
  P.fleet = NULL;
  for (int i = 0; i < 5; i++) {
    if (P.prio_meta[i]) meta_data_destroy(P.prio_meta[i]);
    P.prio_meta[i] = NULL;
  }
  free(P.times);
  P.times = NULL;
  alec_sec_free(&P.sec);
  alec_rl_free(P.rl);
  P.rl = NULL;
  P.initialized = 0;
}

static int alec_shutdown(void) {
  int was = P.initialized;
  uint64_t drops = atomic_load(&P.queue_drops), dg = atomic_load(&P.datagrams);
  release_all();
  if (was) {
    uint64_t rej = atomic_load(&P.oversized);
    for (int k = 0; k < REJ_COUNT; k++) rej += P.rejected[k];
    INFO(PLUGIN_NAME " plugin: shut down; %" PRIu64 " datagrams, %" PRIu64 " values dispatched, %" PRIu64
                     " held back, %" PRIu64 " rejected, %" PRIu64 " queue drops",
         dg, P.dispatched, P.held_back + P.unconvertible, rej, drops);
  }
  alec_pc_free(&P.cfg);
  return 0;
}

void module_register(void) {
  memset(&P, 0, sizeof P);
  alec_pc_init(&P.cfg);
  P.wake[0] = P.wake[1] = -1;
  pthread_mutex_init(&P.fleet_lock, NULL);
  plugin_register_complex_config(PLUGIN_NAME, alec_config);
  plugin_register_init(PLUGIN_NAME, alec_init);
  plugin_register_read(PLUGIN_NAME, alec_read);
  plugin_register_shutdown(PLUGIN_NAME, alec_shutdown);
}
