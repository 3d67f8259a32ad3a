/* SPDX-License-Identifier: MIT */
/* collectd plugin `alec`: the collectd side of the receiver. It reads the
 * <Plugin alec> block (alec_conf.c), starts the receiver core and its
 * transports (src/receiver/), and is the receiver's sink: decoded values
 * become value lists, fleet transitions notifications (threshold.c
 * conventions), log lines collectd's log; the read callback dispatches the
 * statistics and per-emitter scores. Nothing here decodes or admits frames.
 * Threads and sockets are created in init, never in the config callback:
 * collectd forks after reading the configuration. */

#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"
#include "collectd/core/utils/metadata/meta_data.h"

#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>

#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/frame.h"

#include "alec_conf.h"
#include "amqp_transport.h"
#include "dashboard.h"
#include "receiver.h"
#include "snapshot.h"
#include "udp.h"
#include "mqtt.h"
#include "spool.h"

#define PLUGIN_NAME "alec"

_Static_assert(ALEC_PC_NAME_LEN == DATA_MAX_NAME_LEN, "name lengths must match collectd's");
_Static_assert(ALEC_RX_NAME_LEN == DATA_MAX_NAME_LEN, "name lengths must match collectd's");

typedef struct alec_plugin {
  alec_plugin_config cfg;
  int config_failed;
  int initialized;
  alec_rx *rx;
  alec_udp *udp;
  alec_mqtt *mqtt;
  int lora_types_ok; /* lora_rssi and lora_snr are in a TypesDB */
  alec_amqp *amqp; /* <AMQP> consumers, NULL without */
  int ack_writer;     /* alec_write is registered: values confirm acknowledgements */
  int spool;          /* MQTT messages not yet written are spooled at a stop (spool.h) */
  uint64_t ack_token; /* dispatch thread: value lists of ack frames dispatched (the last one's token) */
  meta_data_t *prio_meta[5];
  meta_data_t *estimated_meta; /* alec:priority P3, alec:estimated true */
  /* The same with ACK_LIST, for the lists of ack frames; [6]: no priority
   * (link quality). */
  meta_data_t *ack_meta[7];
  const alec_rx_msg *skip_msg; /* the message whose first skip_left lists are not dispatched again */
  unsigned skip_left;
  int default_ds_type;
  int score_types_ok; /* alec_score and alec_anomaly are in a TypesDB */
  /* <Dashboard>: snapshots taken by the dispatch thread, served by the
   * HTTP thread, which never takes the fleet lock. */
  alec_snap_store *snap;
  alec_dash *dash;
  int snap_failed; /* the last refresh failed: logged once */
  uint64_t scores_limited; /* score value lists not dispatched (MaxScoreValues) */
} alec_plugin;

static alec_plugin P;

/* ---- naming ---------------------------------------------------------------- */

static void map_names(const alec_pc_chanmap *map, uint32_t ch, const char **type, char *ti, size_t ticap,
                      int *ds_type) {
  const alec_pc_channel *c = map ? alec_pc_channel_find(map, ch) : NULL;
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

/* The channel of a fleet-shift notification has no emitter: take the names
 * from the first configured emitter of the group that maps it, else from the
 * profile of an emitter the network server placed in the group. */
static const alec_pc_chanmap *group_map(const char *group, uint32_t ch) {
  for (size_t i = 0; i < P.cfg.n_emitters; i++) {
    const alec_pc_emitter *em = &P.cfg.emitters[i];
    if (strcmp(em->group, group) == 0 && alec_pc_channel_find(em->map, ch)) return em->map;
  }
  return alec_rx_group_map(P.rx, group, ch);
}

/* ---- dashboard ---------------------------------------------------------- */

/* The dashboard names emitters and channels as the dispatched values do. */
static void dash_host(void *arg, uint64_t id, char *out, size_t cap) {
  (void)arg;
  alec_rx_emitter_host(P.rx, id, out, cap);
}

static void dash_channel(void *arg, int has_id, uint64_t id, const char *group, uint32_t ch, char *out, size_t cap) {
  (void)arg;
  const alec_pc_chanmap *map = has_id ? alec_rx_emitter_map(P.rx, id) : group_map(group, ch);
  const char *type;
  char ti[DATA_MAX_NAME_LEN];
  int ds_type;
  map_names(map, ch, &type, ti, sizeof ti, &ds_type);
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


/* ---- the receiver's sink ------------------------------------------------------ */

/* collectd stops its write threads before it calls shutdown callbacks
 * (plugin_shutdown_all), and drops what is queued then. From our shutdown
 * on, the frames still in the receive queue and those the broker delivers
 * until the client has disconnected (acknowledged at QoS 1, so no longer
 * the broker's) go to the writers directly: without the value cache and
 * the filter chains, but stored. */
static atomic_int writers_gone;
static atomic_uint_fast64_t written_directly;

static atomic_int no_writers;

static void dispatch_value(const value_list_t *vl) {
  if (!atomic_load_explicit(&writers_gone, memory_order_relaxed)) {
    plugin_dispatch_values(vl);
    return;
  }
  /* Without any write plugin there is nothing to store, and collectd logs
   * every attempt: once is enough (a fleet's scores are 100,000s of lists). */
  if (atomic_load_explicit(&no_writers, memory_order_relaxed)) return;
  if (plugin_write(NULL, NULL, vl) == ENOENT) {
    atomic_store(&no_writers, 1);
    return;
  }
  atomic_fetch_add_explicit(&written_directly, 1, memory_order_relaxed);
}

static void sink_log(void *arg, int level, const char *msg) {
  (void)arg;
  plugin_log(level, PLUGIN_NAME " plugin: %s", msg);
}

/* At-least-once transports (AMQP): the last value list of a frame whose
 * message waits for acknowledgement carries ACK_META = a token; our write
 * callback sees it once a write thread has taken it (and every value list
 * queued before it), and tells the receiver (alec_rx_written). */
#define ACK_META "alec:ack"
/* Every value list of such a frame: counted when a write thread takes it,
 * so that at shutdown the receiver knows how far into a frame collectd got
 * before it dropped the rest of its queue (tokens count these lists). */
#define ACK_LIST "alec:track"
static atomic_uint_fast64_t lists_taken;

static void dispatch_last(value_list_t *last, int *has_last, const value_list_t *next, value_t *last_value) {
  if (*has_last) {
    /* A restart's spool replays a frame that collectd had begun to write:
     * its lists already taken are not dispatched twice. */
    if (P.skip_left && P.skip_msg) P.skip_left--;
    else {
      dispatch_value(last);
      P.ack_token++;
    }
  }
  if (next == NULL) {
    *has_last = 0;
    return;
  }
  *last_value = next->values[0];
  *last = *next;
  last->values = last_value;
  *has_last = 1;
}

static uint64_t sink_mark(void *arg) {
  (void)arg;
  return P.ack_token;
}

static int alec_write(const data_set_t *ds, const value_list_t *vl, user_data_t *ud) {
  (void)ds;
  (void)ud;
  uint64_t token;
  if (vl->meta == NULL || strcmp(vl->plugin, PLUGIN_NAME) != 0) return 0;
  /* A direct write at shutdown says nothing of the queue collectd dropped. */
  if (atomic_load(&writers_gone)) return 0;
  if (meta_data_exists(vl->meta, ACK_LIST)) atomic_fetch_add(&lists_taken, 1);
  if (meta_data_get_unsigned_int(vl->meta, ACK_META, &token) == 0 && P.rx) alec_rx_written(P.rx, token);
  return 0;
}

static void sink_values(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible) {
  (void)arg;
  /* Dispatched one behind, so that the frame's last value list can take
   * the acknowledgement token. */
  value_list_t last;
  value_t last_value;
  int has_last = 0;
  int ack = f->msg && P.ack_writer && (f->msg->done || (P.spool && alec_spool_accepts(&P.cfg, f->msg)));
  if (ack && f->msg != P.skip_msg) {
    P.skip_msg = f->msg;
    P.skip_left = f->msg->skip;
  }
  value_list_t vl = VALUE_LIST_INIT;
  value_t value;
  vl.values = &value;
  vl.values_len = 1;
  vl.time = DOUBLE_TO_CDTIME_T(f->time);
  /* The emitter's own period: write_prometheus and the threshold plugin's
   * missing-data logic then judge a 10-minute emitter by 10 minutes. */
  if (f->interval > 0) vl.interval = DOUBLE_TO_CDTIME_T(f->interval);
  sstrncpy(vl.host, f->host, sizeof vl.host);
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
  sstrncpy(vl.plugin_instance, f->group, sizeof vl.plugin_instance);
  for (size_t i = 0; i < f->n; i++) {
    const alec_fleet_value *v = &f->values[i];
    const char *type;
    int ds_type;
    map_names(f->map, v->channel, &type, vl.type_instance, sizeof vl.type_instance, &ds_type);
    if (to_value(v->value, ds_type, &value) != 0) {
      (*unconvertible)++;
      continue;
    }
    sstrncpy(vl.type, type, sizeof vl.type);
    /* One prebuilt meta per priority: plugin_dispatch_values deep-copies
     * vl.meta, so sharing it saves a create/destroy per value. */
    vl.meta = (ack ? P.ack_meta : P.prio_meta)[v->priority < 5 ? v->priority : ALEC_P3];
    /* LossRecovery "estimate": the value is not the measured one. */
    if (v->flags & ALEC_RX_VALUE_ESTIMATED) vl.meta = ack ? P.ack_meta[5] : P.estimated_meta;
    if (ack) dispatch_last(&last, &has_last, &vl, &last_value);
    else dispatch_value(&vl);
    (*dispatched)++;
  }
  if (P.snap) alec_snap_record(P.snap, f->id, f->values, f->n, f->time);
  /* LoRaWAN link quality of the uplink that carried the frame (best
   * gateway); SNR goes negative, hence types of our own. */
  const alec_rx_msg *m = f->msg;
  if (m && P.lora_types_ok && (m->has_rssi || m->has_snr)) {
    vl.meta = ack ? P.ack_meta[6] : NULL;
    vl.type_instance[0] = '\0';
    if (m->has_rssi) {
      sstrncpy(vl.type, "lora_rssi", sizeof vl.type);
      value.gauge = m->rssi;
      if (ack) dispatch_last(&last, &has_last, &vl, &last_value);
      else dispatch_value(&vl);
    }
    if (m->has_snr) {
      sstrncpy(vl.type, "lora_snr", sizeof vl.type);
      value.gauge = m->snr;
      if (ack) dispatch_last(&last, &has_last, &vl, &last_value);
      else dispatch_value(&vl);
    }
  }
  if (has_last && P.skip_left && P.skip_msg) {
    P.skip_left--;
  } else if (has_last) {
    meta_data_t *md = last.meta ? meta_data_clone(last.meta) : meta_data_create();
    if (md && meta_data_add_unsigned_int(md, ACK_META, P.ack_token + 1) == 0) {
      last.meta = md;
      dispatch_value(&last);
    } else {
      dispatch_value(&last); /* unconfirmed: acknowledged with the next frame's values */
    }
    P.ack_token++;
    if (md) meta_data_destroy(md);
  }
}

static void sink_priority(void *arg, const alec_rx_frame *f) {
  (void)arg;
  uint64_t id = f->id;
  const alec_fleet_value *v = f->values;
  int n = (int)f->n;
  const alec_frame_info *info = f->info;
  notification_t nt = {0};
  nt.severity = info->priority == ALEC_P1 ? NOTIF_FAILURE : NOTIF_WARNING;
  nt.time = cdtime();
  sstrncpy(nt.host, f->host, sizeof nt.host);
  sstrncpy(nt.plugin, PLUGIN_NAME, sizeof nt.plugin);
  sstrncpy(nt.plugin_instance, f->group, sizeof nt.plugin_instance);
  const char *prio = alec_priority_name((alec_priority)info->priority);
  size_t off = (size_t)ssnprintf(nt.message, sizeof nt.message, "Host %s sent a %s frame:", nt.host, prio);
  for (int i = 0; i < n && off < sizeof nt.message; i++) {
    const char *type;
    char ti[DATA_MAX_NAME_LEN];
    int ds_type;
    map_names(f->map, v[i].channel, &type, ti, sizeof ti, &ds_type);
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

/* ---- fleet notifications ------------------------------------------------------ */

/* What a notification is about, the same on its entry, its re-sends and its
 * OKAY: kind/emitter/channel, or kind/group/channel for group events. */
static void alert_key(const alec_fleet_event *ev, char *out, size_t cap) {
  const char *k = alec_fleet_event_kind_name(ev->kind);
  const char *g = ev->group ? ev->group : "";
  switch (ev->kind) {
  case ALEC_FLEET_EVENT_EMITTER:
    ssnprintf(out, cap, "%s/%" PRIu64 "/%" PRIu32, k, ev->emitter_id, ev->channel);
    break;
  case ALEC_FLEET_EVENT_SHIFT: ssnprintf(out, cap, "%s/%s/%" PRIu32, k, g, ev->channel); break;
  case ALEC_FLEET_EVENT_STALE: ssnprintf(out, cap, "%s/%" PRIu64, k, ev->emitter_id); break;
  default: ssnprintf(out, cap, "%s/%s", k, g); break;
  }
}

static void meta_band(notification_t *nt, const char *name, double v) {
  if (isfinite(v)) plugin_notification_meta_add_double(nt, name, v);
}

/* Fleet state transitions (threshold.c conventions: FAILURE / WARNING on
 * entry, OKAY on exit), and re-sends of active ones. */
static void fleet_notify(const alec_fleet_event *ev, int resend) {
  notification_t nt = {0};
  nt.severity = ev->severity == ALEC_FLEET_FAILURE ? NOTIF_FAILURE
                : ev->severity == ALEC_FLEET_WARNING ? NOTIF_WARNING
                                                     : NOTIF_OKAY;
  nt.time = cdtime();
  sstrncpy(nt.plugin, PLUGIN_NAME, sizeof nt.plugin);
  sstrncpy(nt.plugin_instance, ev->group ? ev->group : "", sizeof nt.plugin_instance);
  int group_event = ev->kind == ALEC_FLEET_EVENT_SHIFT || ev->kind == ALEC_FLEET_EVENT_SILENT;
  int channel_event = ev->kind == ALEC_FLEET_EVENT_SHIFT || ev->kind == ALEC_FLEET_EVENT_EMITTER;
  /* Names only for events about a channel: silence needs none, and a
   * group's names cost a scan of the emitter table. */
  const alec_pc_chanmap *map = NULL;
  if (group_event) {
    if (channel_event) map = group_map(nt.plugin_instance, ev->channel);
    sstrncpy(nt.host, hostname_g, sizeof nt.host);
  } else {
    if (channel_event) map = alec_rx_emitter_map(P.rx, ev->emitter_id);
    alec_rx_emitter_host(P.rx, ev->emitter_id, nt.host, sizeof nt.host);
  }
  char what[2 * DATA_MAX_NAME_LEN + 64];
  if (channel_event) {
    const char *type;
    int ds_type;
    map_names(map, ev->channel, &type, nt.type_instance, sizeof nt.type_instance, &ds_type);
    sstrncpy(nt.type, type, sizeof nt.type);
    ssnprintf(what, sizeof what, "%s%s%s%s%s", nt.type, nt.type_instance[0] ? "-" : "", nt.type_instance,
              nt.plugin_instance[0] ? " in group " : "", nt.plugin_instance);
  } else {
    /* Silence concerns the emitter (or the group), not one of its channels. */
    sstrncpy(nt.type, alec_fleet_event_kind_name(ev->kind), sizeof nt.type);
    ssnprintf(what, sizeof what, "group \"%s\"", nt.plugin_instance);
  }
  if (ev->removed) {
    /* Not a recovery: the emitter is forgotten, and so is its alert. */
    ssnprintf(nt.message, sizeof nt.message,
              "Host %s was removed after more than %.0f s without a report (2 x EmitterTimeout): its %s alert "
              "is resolved.",
              nt.host, 2.0 * P.cfg.emitter_timeout, alec_fleet_event_kind_name(ev->kind));
  } else if (ev->kind == ALEC_FLEET_EVENT_SHIFT) {
    if (nt.severity == NOTIF_OKAY)
      ssnprintf(nt.message, sizeof nt.message,
                "Fleet shift of %s is over: fleet median %g (baseline %g, MAD %g, score %.2f, %u peers).", what,
                ev->value, ev->median, ev->mad, ev->score, ev->peers);
    else
      ssnprintf(nt.message, sizeof nt.message,
                "The whole fleet moved: %s has a fleet median of %g, its baseline was %g (MAD %g, score %.2f, "
                "%u peers).",
                what, ev->value, ev->median, ev->mad, ev->score, ev->peers);
  } else if (ev->kind == ALEC_FLEET_EVENT_STALE) {
    if (nt.severity == NOTIF_OKAY)
      ssnprintf(nt.message, sizeof nt.message, "Host %s reports again (period %g s).", nt.host, ev->median);
    else
      ssnprintf(nt.message, sizeof nt.message,
                "Host %s has not reported for %.0f s (its period: %g s; stale after %g s).", nt.host, ev->value,
                ev->median, ev->mad);
  } else if (ev->kind == ALEC_FLEET_EVENT_SILENT) {
    if (nt.severity == NOTIF_OKAY)
      ssnprintf(nt.message, sizeof nt.message, "The emitters of %s report again (%u of %.0f overdue).", what,
                ev->peers, ev->median);
    else
      ssnprintf(nt.message, sizeof nt.message,
                "%u of the %.0f emitters of %s stopped reporting at once (gateway or network outage?).", ev->peers,
                ev->median, what);
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
  char key[DATA_MAX_NAME_LEN + ALEC_FLEET_GROUP_MAX + 64];
  alert_key(ev, key, sizeof key);
  plugin_notification_meta_add_string(&nt, "AlertKey", key);
  plugin_notification_meta_add_string(&nt, "Kind", alec_fleet_event_kind_name(ev->kind));
  plugin_notification_meta_add_string(&nt, "Group", ev->group ? ev->group : "");
  if (channel_event) plugin_notification_meta_add_unsigned_int(&nt, "Channel", ev->channel);
  if (resend) plugin_notification_meta_add_boolean(&nt, "Renotify", 1);
  if (ev->removed) plugin_notification_meta_add_string(&nt, "Resolved", "emitter-removed");
  plugin_notification_meta_add_double(&nt, "CurrentValue", ev->value);
  /* collectd's threshold names, so that existing consumers show the band. */
  meta_band(&nt, "WarningMin", ev->warn_min);
  meta_band(&nt, "WarningMax", ev->warn_max);
  meta_band(&nt, "FailureMin", ev->fail_min);
  meta_band(&nt, "FailureMax", ev->fail_max);
  if (channel_event) {
    plugin_notification_meta_add_double(&nt, "FleetMedian", ev->median);
    plugin_notification_meta_add_double(&nt, "FleetMAD", ev->mad);
    plugin_notification_meta_add_double(&nt, "Score", ev->score);
  }
  plugin_notification_meta_add_signed_int(&nt, "Peers", (int64_t)ev->peers);
  if (!group_event) plugin_notification_meta_add_unsigned_int(&nt, "EmitterId", ev->emitter_id);
  if (ev->kind == ALEC_FLEET_EVENT_EMITTER) {
    plugin_notification_meta_add_string(&nt, "Reason", (ev->reason & ALEC_FLEET_REASON_DRIFT) &&
                                                               !(ev->reason & ALEC_FLEET_REASON_LEVEL)
                                                           ? "drift"
                                                           : "level");
    plugin_notification_meta_add_double(&nt, "Cusum", ev->cusum);
  }
  /* Synchronous: every notification callback has run when it returns. */
  plugin_dispatch_notification(&nt);
  plugin_notification_meta_free(nt.meta);
}

/* Active alerts for RenotifyInterval (dispatch thread only). Few are active
 * at once; past ALERTS_MAX the oldest re-sends are given up, counted. */
#define ALERTS_MAX 4096
typedef struct alert {
  char key[DATA_MAX_NAME_LEN + ALEC_FLEET_GROUP_MAX + 64];
  char group[ALEC_FLEET_GROUP_MAX + 1];
  alec_fleet_event ev;
  double sent;
} alert;
static alert *alerts;
static size_t n_alerts;
static uint64_t alerts_dropped;

static void alert_track(const alec_fleet_event *ev) {
  if (!(P.cfg.fleet.renotify_interval > 0)) return;
  if (alerts == NULL && (alerts = calloc(ALERTS_MAX, sizeof *alerts)) == NULL) return;
  char key[sizeof alerts[0].key];
  alert_key(ev, key, sizeof key);
  size_t i = 0;
  while (i < n_alerts && strcmp(alerts[i].key, key) != 0) i++;
  if (ev->severity == ALEC_FLEET_NORMAL) {
    if (i < n_alerts) alerts[i] = alerts[--n_alerts];
    return;
  }
  if (i == n_alerts) {
    if (n_alerts == ALERTS_MAX) {
      if (alerts_dropped++ == 0)
        WARNING(PLUGIN_NAME " plugin: more than %d active alerts: RenotifyInterval re-sends only the first",
                ALERTS_MAX);
      return;
    }
    n_alerts++;
  }
  alert *a = &alerts[i];
  sstrncpy(a->key, key, sizeof a->key);
  sstrncpy(a->group, ev->group ? ev->group : "", sizeof a->group);
  a->ev = *ev;
  a->ev.group = a->group;
  a->sent = CDTIME_T_TO_DOUBLE(cdtime());
}

static void alerts_renotify(double now) {
  double every = P.cfg.fleet.renotify_interval;
  if (!(every > 0)) return;
  for (size_t i = 0; i < n_alerts; i++) {
    alert *a = &alerts[i];
    if (now < a->sent || now - a->sent < every) continue;
    a->sent = now;
    fleet_notify(&a->ev, 1);
  }
}

/* Called under fleet_lock, in the dispatch thread. */
static void sink_fleet_event(void *arg, const alec_fleet_event *ev) {
  (void)arg;
  fleet_notify(ev, 0);
  alert_track(ev);
  if (P.snap) alec_snap_event_add(P.snap, ev);
}

/* After every evaluation: the dashboard's snapshot. Only the copy holds
 * the fleet lock; the rest is built after it is released (same thread: the
 * snapshot side is ours). */
typedef struct snap_job {
  double now;
  int rc;
  alec_snap *pending;
} snap_job;

static void snap_gather(void *arg, alec_fleet *fleet) {
  snap_job *j = arg;
  /* An idle fleet is not copied again (issue 13 finding 11). */
  if (alec_snap_due(P.snap, j->now) && !alec_snap_unchanged(P.snap, fleet, j->now))
    j->rc = alec_snap_gather(P.snap, fleet, j->now, &j->pending);
}

static void sink_tick(void *arg, double now) {
  (void)arg;
  /* Re-sends keep consumers' wall-clock timeouts (Alertmanager's) open:
   * wall time, not the fleet's, which a backlog runs through in seconds. */
  alerts_renotify(CDTIME_T_TO_DOUBLE(cdtime()));
  if (P.snap == NULL) return;
  snap_job j = {now, 0, NULL};
  alec_rx_with_fleet(P.rx, snap_gather, &j);
  if (j.pending) j.rc = alec_snap_publish(P.snap, j.pending);
  /* The dashboard keeps serving the previous snapshot meanwhile. */
  if (j.rc < 0 && !P.snap_failed) ERROR(PLUGIN_NAME " plugin: dashboard snapshot failed: %s", alec_strerror(j.rc));
  P.snap_failed = j.rc < 0;
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

/* plugin_thread_create copies our plugin context (name, interval) into
 * the thread, so dispatches from it are attributed to us. */
static int spawn(pthread_t *t, void *(*fn)(void *), void *arg, const char *name) {
  return plugin_thread_create(t, fn, arg, name);
}

static void release_all(void);

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
  /* The state file is bound to its receiver: by default collectd's name. */
  if (P.cfg.receiver_id[0] == '\0') sstrncpy(P.cfg.receiver_id, hostname_g, sizeof P.cfg.receiver_id);
  int ds_type;
  P.default_ds_type = type_check(NULL, ALEC_PC_DEFAULT_TYPE, &ds_type) == 1 ? ds_type : DS_TYPE_GAUGE;
  P.score_types_ok = type_check(NULL, "alec_score", &ds_type) == 1 && type_check(NULL, "alec_anomaly", &ds_type) == 1;
  P.lora_types_ok = type_check(NULL, "lora_rssi", &ds_type) == 1 && type_check(NULL, "lora_snr", &ds_type) == 1;
  if (P.cfg.n_mqtt && !P.lora_types_ok)
    NOTICE(PLUGIN_NAME " plugin: types lora_rssi / lora_snr not found: uplink RSSI and SNR are not dispatched "
                       "(add alec.types.db to TypesDB)");
  if (!P.score_types_ok)
    NOTICE(PLUGIN_NAME " plugin: types alec_score / alec_anomaly not found: per-emitter scores are not dispatched "
                       "(add alec.types.db to TypesDB)");
  for (int i = 0; i < 5; i++) {
    P.prio_meta[i] = meta_data_create();
    if (P.prio_meta[i] == NULL || meta_data_add_string(P.prio_meta[i], "alec:priority",
                                                       alec_priority_name((alec_priority)i)) != 0)
      goto fail;
  }
  P.estimated_meta = meta_data_create();
  if (P.estimated_meta == NULL || meta_data_add_string(P.estimated_meta, "alec:priority", "P3") != 0 ||
      meta_data_add_boolean(P.estimated_meta, "alec:estimated", true) != 0)
    goto fail;
  for (int i = 0; i < 7; i++) {
    P.ack_meta[i] = i < 5 ? meta_data_clone(P.prio_meta[i]) : i == 5 ? meta_data_clone(P.estimated_meta)
                                                                      : meta_data_create();
    if (P.ack_meta[i] == NULL || meta_data_add_boolean(P.ack_meta[i], ACK_LIST, true) != 0) goto fail;
  }
  alec_rx_sink sink = {
      .arg = NULL,
      .log = sink_log,
      .values = sink_values,
      .priority = sink_priority,
      .fleet_event = sink_fleet_event,
      .tick = sink_tick,
  };
  /* MQTT with a StateFile: what collectd's writers never took at a stop
   * is spooled (spool.h), so the same confirmation is needed. */
  P.spool = P.cfg.n_mqtt && P.cfg.state_file[0] && P.cfg.spool_limit > 0;
  if (P.cfg.n_amqp || P.spool) {
    /* Written, not merely dispatched, is what an AMQP acknowledgement
     * waits for. */
    if (plugin_register_write(PLUGIN_NAME, alec_write, NULL) == 0) P.ack_writer = 1;
    else WARNING(PLUGIN_NAME " plugin: cannot register the write callback: AMQP messages are acknowledged when "
                             "dispatched, not when written, and MQTT messages are not spooled at shutdown");
  }
  if (P.ack_writer) sink.mark = sink_mark;
  if (alec_rx_new(&P.rx, &P.cfg, &sink) != 0) goto fail;
  if (P.cfg.dashboard.enabled && start_dashboard() != 0) goto fail;
  if (alec_udp_open(&P.udp, &P.cfg, P.rx) != 0) goto fail;
  if (alec_rx_start(P.rx, spawn) != 0) goto fail;
  if (alec_udp_start(P.udp, spawn) != 0) goto fail;
  if (alec_mqtt_open(&P.mqtt, &P.cfg, P.rx) != 0) goto fail;
  if (alec_mqtt_start(P.mqtt, spawn) != 0) goto fail;
  if (alec_amqp_open(&P.amqp, &P.cfg, P.rx) != 0 || alec_amqp_start(P.amqp, spawn) != 0) goto fail;
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

typedef struct score_job {
  cdtime_t t;   /* the values' time */
  double fleet; /* the fleet's clock (alec_rx_fleet_time): who is active */
} score_job;

/* Per active emitter and tracked channel: its score and state, for writers
 * that take no notifications. Called under fleet_lock. */
/* Bounded by configuration (collectd-alec(5), MaxScoreValues, UnknownScores):
 * unknown emitters report only channels that are not normal by default, so
 * a burst of ids cannot double the values dispatched every interval. */
static void submit_scores(void *arg, alec_fleet *fleet) {
  const score_job *job = arg;
  cdtime_t t = job->t;
  double now = job->fleet;
  size_t n = alec_fleet_emitter_count(fleet), budget = P.cfg.max_score_values;
  for (size_t i = 0; i < n; i++) {
    alec_fleet_emitter_info ei;
    if (alec_fleet_emitter_at(fleet, i, now, &ei) != 0) break;
    if (!ei.active) continue;
    const alec_pc_emitter *em = alec_rx_find_emitter(P.rx, ei.id);
    if (em == NULL && P.cfg.unknown_scores == ALEC_PC_SCORES_NONE) continue;
    const alec_pc_chanmap *map = NULL;
    int map_known = 0;
    value_list_t vl = VALUE_LIST_INIT;
    value_t v;
    vl.values = &v;
    vl.values_len = 1;
    vl.time = t;
    alec_rx_emitter_host(P.rx, ei.id, vl.host, sizeof vl.host);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
    sstrncpy(vl.plugin_instance, ei.group, sizeof vl.plugin_instance);
    for (unsigned k = 0;; k++) {
      alec_fleet_channel_info ci;
      if (alec_fleet_get_channel(fleet, ei.id, k, &ci) != 0) break;
      if (ci.evaluations == 0) continue; /* never compared with peers */
      if (em == NULL && P.cfg.unknown_scores == ALEC_PC_SCORES_ANOMALOUS && ci.state == ALEC_FLEET_NORMAL) continue;
      if (budget < 2) {
        P.scores_limited += 2;
        continue;
      }
      budget -= 2;
      const char *type;
      char ti[DATA_MAX_NAME_LEN];
      int ds_type;
      if (!map_known) {
        map = em ? em->map : alec_rx_emitter_map(P.rx, ei.id);
        map_known = 1;
      }
      map_names(map, ci.channel, &type, ti, sizeof ti, &ds_type);
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

/* Per <MQTT> block, plugin instance "mqtt-<name>": connection, messages,
 * redeliveries, downlinks and refusals by kind. */
static void submit_mqtt(cdtime_t t) {
  for (size_t i = 0; i < alec_mqtt_count(P.mqtt); i++) {
    alec_mqtt_stats ms;
    alec_mqtt_get_stats(P.mqtt, i, &ms);
    value_list_t vl = VALUE_LIST_INIT;
    value_t v;
    vl.values = &v;
    vl.values_len = 1;
    vl.time = t;
    sstrncpy(vl.host, hostname_g, sizeof vl.host);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
    ssnprintf(vl.plugin_instance, sizeof vl.plugin_instance, "mqtt-%s", ms.name);
    const struct {
      const char *type, *ti;
      uint64_t n;
      int gauge;
    } rows[] = {
        {"gauge", "connected", (uint64_t)ms.connected, 1},
        {"packets", "messages", ms.messages, 0},
        {"total_bytes", "messages", ms.bytes, 0},
        {"derive", "duplicates", ms.duplicates, 0},
        {"derive", "connects", ms.connects, 0},
        {"derive", "disconnects", ms.disconnects, 0},
        {"derive", "connect_failures", ms.connect_failures, 0},
        {"derive", "downlinks", ms.downlinks, 0},
        {"derive", "downlink_errors", ms.downlink_errors, 0},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
      sstrncpy(vl.type, rows[k].type, sizeof vl.type);
      sstrncpy(vl.type_instance, rows[k].ti, sizeof vl.type_instance);
      if (rows[k].gauge) v.gauge = (gauge_t)rows[k].n;
      else v.derive = (derive_t)rows[k].n;
      plugin_dispatch_values(&vl);
    }
    sstrncpy(vl.type, "errors", sizeof vl.type);
    for (int k = 0; k < ALEC_MQTT_REJ_COUNT; k++) {
      /* The parser's last kinds are errors of its helpers, never of a message. */
      if (k >= -ALEC_NS_EDIALECT - 1 && k < ALEC_NS_KINDS) continue;
      ssnprintf(vl.type_instance, sizeof vl.type_instance, "rejected_%s", alec_mqtt_reject_name(k));
      v.derive = (derive_t)ms.rejected[k];
      plugin_dispatch_values(&vl);
    }
  }
}

/* Per <AMQP> block, plugin instance "amqp-<name>", like the MQTT clients:
 * deliveries, acknowledgements, redeliveries, connection, downlinks and
 * refusals by kind. */
static void submit_amqp(cdtime_t t) {
  for (size_t i = 0; i < alec_amqp_count(P.amqp); i++) {
    alec_amqp_stats a;
    alec_amqp_get_stats(P.amqp, i, &a);
    value_list_t vl = VALUE_LIST_INIT;
    value_t v;
    vl.values = &v;
    vl.values_len = 1;
    vl.time = t;
    sstrncpy(vl.host, hostname_g, sizeof vl.host);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof vl.plugin);
    ssnprintf(vl.plugin_instance, sizeof vl.plugin_instance, "amqp-%s", a.name);
    const struct {
      const char *type, *ti;
      uint64_t n;
      int gauge;
    } rows[] = {
        {"gauge", "connected", (uint64_t)a.connected, 1},
        {"packets", "messages", a.deliveries, 0},
        {"total_bytes", "messages", a.bytes, 0},
        {"derive", "acknowledgements", a.acked, 0},
        {"derive", "redelivered", a.redelivered, 0},
        {"derive", "duplicates", a.duplicates, 0},
        {"derive", "queue_waits", a.waits, 0},
        {"derive", "connects", a.connects, 0},
        {"derive", "disconnects", a.disconnects, 0},
        {"derive", "connect_failures", a.connect_failures, 0},
        {"derive", "downlinks", a.downlinks_sent, 0},
        {"derive", "downlink_errors", a.downlinks_failed, 0},
        {"errors", "rejected_fport_unmapped", a.unmapped_fport, 0},
        {"errors", "rejected_no_payload", a.no_payload, 0},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
      sstrncpy(vl.type, rows[k].type, sizeof vl.type);
      sstrncpy(vl.type_instance, rows[k].ti, sizeof vl.type_instance);
      if (rows[k].gauge) v.gauge = (gauge_t)rows[k].n;
      else v.derive = (derive_t)rows[k].n;
      plugin_dispatch_values(&vl);
    }
    sstrncpy(vl.type, "errors", sizeof vl.type);
    /* The kinds a message can get; the helpers' API errors never count. */
    for (int k = 1; k <= ALEC_NS_MESSAGE_KINDS; k++) {
      ssnprintf(vl.type_instance, sizeof vl.type_instance, "rejected_%s", alec_ns_kind_name(-k));
      v.derive = (derive_t)a.rejected[k];
      plugin_dispatch_values(&vl);
    }
  }
}

static int alec_read(void) {
  if (!P.initialized) return -1;
  cdtime_t t = cdtime();
  alec_rx_stats s;
  score_job job = {t, alec_rx_fleet_time(P.rx, CDTIME_T_TO_DOUBLE(t))};
  alec_rx_get_stats(P.rx, job.fleet, &s);
  if (P.score_types_ok) alec_rx_with_fleet(P.rx, submit_scores, &job);
  const alec_fleet_stats *st = &s.fleet;
  submit("count", "emitters", (value_t){.gauge = (gauge_t)st->emitters}, t);
  submit("count", "emitters_active", (value_t){.gauge = (gauge_t)st->active}, t);
  submit("count", "anomalies_active", (value_t){.gauge = (gauge_t)st->anomalous}, t);
  submit("count", "shifts_active", (value_t){.gauge = (gauge_t)st->shifts_active}, t);
  submit("count", "groups", (value_t){.gauge = (gauge_t)st->groups}, t);
  submit("derive", "frames", (value_t){.derive = (derive_t)st->frames}, t);
  submit("derive", "values", (value_t){.derive = (derive_t)st->values}, t);
  submit("derive", "values_dispatched", (value_t){.derive = (derive_t)s.dispatched}, t);
  submit("derive", "values_held_back", (value_t){.derive = (derive_t)(s.held_back + s.unconvertible)}, t);
  submit("total_bytes", "frames", (value_t){.derive = (derive_t)st->bytes}, t);
  submit("total_bytes", "datagrams", (value_t){.derive = (derive_t)s.bytes}, t);
  submit("packets", "datagrams", (value_t){.derive = (derive_t)s.messages}, t);
  /* No ratio before the first frame: a NaN would make writers such as
   * InfluxDB log a dropped point every interval. */
  if (st->frames) submit("gauge", "compression_ratio", (value_t){.gauge = st->compression_ratio}, t);
  submit("derive", "lost_frames", (value_t){.derive = (derive_t)st->gaps}, t);
  submit("derive", "queue_drops", (value_t){.derive = (derive_t)s.queue_drops}, t);
  submit("derive", "scores_limited", (value_t){.derive = (derive_t)P.scores_limited}, t);
  submit("derive", "timestamps_clamped_past", (value_t){.derive = (derive_t)s.time_clamped[0]}, t);
  submit("derive", "timestamps_clamped_future", (value_t){.derive = (derive_t)s.time_clamped[1]}, t);
  if (P.cfg.resync_requests) {
    submit("derive", "resync_requests", (value_t){.derive = (derive_t)s.resync_sent}, t);
    submit("derive", "resync_suppressed", (value_t){.derive = (derive_t)s.resync_limited}, t);
    submit("derive", "resync_send_errors", (value_t){.derive = (derive_t)s.resync_failed}, t);
  }
  if (s.tlv_frames || s.fcnt_gaps || s.estimated) {
    /* LoRaWAN fallback and loss recovery (docs/PROTOCOL.md). */
    submit("derive", "tlv_frames", (value_t){.derive = (derive_t)s.tlv_frames}, t);
    submit("derive", "fcnt_gaps", (value_t){.derive = (derive_t)s.fcnt_gaps}, t);
    submit("derive", "values_estimated", (value_t){.derive = (derive_t)s.estimated}, t);
    submit("derive", "channels_reanchored", (value_t){.derive = (derive_t)s.reanchored}, t);
  }
  if (P.spool) {
    /* The MQTT spool (StateFile): restored at this start, lost (SpoolLimit). */
    submit("derive", "spool_restored", (value_t){.derive = (derive_t)s.spool_restored}, t);
    submit("derive", "spool_lost", (value_t){.derive = (derive_t)s.spool_lost}, t);
  }
  submit("queue_length", "receive", (value_t){.gauge = (gauge_t)s.queued}, t);
  submit("derive", "anomaly_entries", (value_t){.derive = (derive_t)st->anomaly_entries}, t);
  submit("derive", "fleet_shifts", (value_t){.derive = (derive_t)st->shift_events}, t);
  submit("derive", "notifications", (value_t){.derive = (derive_t)s.notifications}, t);
  submit("derive", "priority_p1", (value_t){.derive = (derive_t)st->priority[0]}, t);
  submit("derive", "priority_p2", (value_t){.derive = (derive_t)st->priority[1]}, t);
  submit("memory", "fleet", (value_t){.gauge = (gauge_t)st->memory}, t);
  for (int k = 0; k < ALEC_RX_REJ_COUNT; k++) {
    char ti[64];
    ssnprintf(ti, sizeof ti, "rejected_%s", alec_rx_reject_name(k));
    submit("errors", ti, (value_t){.derive = (derive_t)s.rejected[k]}, t);
  }
  submit_mqtt(t);
  submit_amqp(t);
  if (s.has_auth) {
    submit("count", "auth_keys", (value_t){.gauge = (gauge_t)s.auth_keys}, t);
    submit("derive", "auth_reloads", (value_t){.derive = (derive_t)s.auth_reloads}, t);
    submit("derive", "auth_reload_errors", (value_t){.derive = (derive_t)s.auth_reload_errors}, t);
  }
  if (s.has_emitter_file) {
    submit("count", "file_emitters", (value_t){.gauge = (gauge_t)s.file_emitters}, t);
    submit("derive", "emitter_file_reloads", (value_t){.derive = (derive_t)s.emitter_file_reloads}, t);
    submit("derive", "emitter_file_errors", (value_t){.derive = (derive_t)s.emitter_file_errors}, t);
  }
  return 0;
}

static void release_all(void) {
  /* Transports first: what they queued is still decoded and saved. */
  alec_udp_stop(P.udp);
  alec_mqtt_stop(P.mqtt);
  alec_amqp_stop(P.amqp);
  alec_rx_stop(P.rx);
  alec_udp_free(P.udp);
  P.udp = NULL;
  alec_mqtt_free(P.mqtt);
  P.mqtt = NULL;
  alec_amqp_free(P.amqp);
  P.amqp = NULL;
  /* The server reads only the store; the store outlives it. */
  alec_dash_stop(P.dash);
  P.dash = NULL;
  alec_snap_store_free(P.snap);
  P.snap = NULL;
  if (P.ack_writer) plugin_unregister_write(PLUGIN_NAME);
  P.ack_writer = 0;
  alec_rx_free(P.rx);
  P.rx = NULL;
  for (int i = 0; i < 5; i++) {
    if (P.prio_meta[i]) meta_data_destroy(P.prio_meta[i]);
    P.prio_meta[i] = NULL;
  }
  free(alerts);
  alerts = NULL;
  n_alerts = 0;
  if (P.estimated_meta) meta_data_destroy(P.estimated_meta);
  P.estimated_meta = NULL;
  for (int i = 0; i < 7; i++) {
    if (P.ack_meta[i]) meta_data_destroy(P.ack_meta[i]);
    P.ack_meta[i] = NULL;
  }
  P.initialized = 0;
}

static int alec_shutdown(void) {
  if (P.initialized) {
    alec_rx_stats s;
    /* Before the direct writes start: a token they confirmed would also
     * complete frames that collectd dropped with its write queue. */
    alec_rx_hold(P.rx);
    /* collectd joined its write threads before calling us: the lists they
     * took are final, a prefix of what we dispatched. */
    if (P.ack_writer) alec_rx_writers_took(P.rx, (uint64_t)atomic_load(&lists_taken));
    atomic_store(&writers_gone, 1);
    alec_udp_stop(P.udp);
    alec_mqtt_stop(P.mqtt);
    alec_amqp_stop(P.amqp);
    alec_rx_stop(P.rx);
    alec_rx_get_stats(P.rx, alec_rx_fleet_time(P.rx, CDTIME_T_TO_DOUBLE(cdtime())), &s);
    uint64_t rej = 0;
    for (int k = 0; k < ALEC_RX_REJ_COUNT; k++) rej += s.rejected[k];
    INFO(PLUGIN_NAME " plugin: shut down; %" PRIu64 " messages, %" PRIu64 " values dispatched, %" PRIu64
                     " held back, %" PRIu64 " rejected, %" PRIu64 " queue drops",
         s.messages, s.dispatched, s.held_back + s.unconvertible, rej, s.queue_drops);
    if (atomic_load(&written_directly))
      INFO(PLUGIN_NAME " plugin: %" PRIu64 " values received during shutdown written directly (no cache, no chains)",
           (uint64_t)atomic_load(&written_directly));
  }
  release_all();
  alec_pc_free(&P.cfg);
  return 0;
}

void module_register(void) {
  memset(&P, 0, sizeof P);
  alec_pc_init(&P.cfg);
  plugin_register_complex_config(PLUGIN_NAME, alec_config);
  plugin_register_init(PLUGIN_NAME, alec_init);
  plugin_register_read(PLUGIN_NAME, alec_read);
  plugin_register_shutdown(PLUGIN_NAME, alec_shutdown);
}
