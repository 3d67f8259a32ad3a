/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_SNAPSHOT_H
#define ALEC_PLUGIN_SNAPSHOT_H

/* The fleet state as the dashboard serves it.
 *
 * The fleet object is single-threaded and lives under the plugin's mutex,
 * owned by the dispatch thread; the HTTP side must never take that mutex
 * (a slow client would stall decoding). So the dispatch thread copies what
 * the dashboard shows into an immutable, reference-counted alec_snap at
 * most every refresh interval and swaps it in under a lock held for a
 * pointer exchange. Readers take a reference and keep a coherent view for
 * as long as they need it, however long a response takes to send.
 *
 * Recent values per channel (the charts) are not kept by the fleet module:
 * the store records them from the dispatch thread into a bounded ring per
 * emitter+channel, one point per history interval (mean, min, max, the fleet
 * band and the worst anomaly state of the interval). Copying every ring into
 * every snapshot would cost History x channels x emitters per refresh, so the
 * rings sit behind their own lock instead (never the fleet's), which a reader
 * holds only to copy the rings of the one emitter it renders.
 *
 * Everything is bounded by the configuration: emitters and channels by the
 * fleet's limits, points by history, the history memory by history_memory,
 * events by the event ring. Internal to the plugin (alec_snap_ prefix). */

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alec/fleet.h"

#define ALEC_SNAP_HOST_LEN 128 /* collectd's DATA_MAX_NAME_LEN */
#define ALEC_SNAP_NAME_LEN 128 /* channel display name ("temperature-room") */
#define ALEC_SNAP_HISTORY_MAX 100000u
#define ALEC_SNAP_CHART_CHANNELS_MAX 64u
#define ALEC_SNAP_EVENTS_MAX 65536u

typedef struct alec_snap_config {
  uint32_t history;         /* points per charted channel, 300; 0 (no charts)..HISTORY_MAX */
  double history_interval;  /* s per point, 1; [0.1, 86400] */
  uint32_t chart_channels;  /* charted channels per emitter, 16; 1..CHART_CHANNELS_MAX */
  size_t history_memory;    /* bytes of all rings together, 64 MiB; a channel past
                               it is shown without chart (counted) */
  uint32_t events;          /* anomaly events kept, 256; 1..EVENTS_MAX */
  double refresh_interval;  /* s between snapshots, 0.5; [0.05, 3600] */
} alec_snap_config;

/* Display names, resolved by the owner of the configuration (the plugin).
 * Called from the dispatch thread only. */
typedef struct alec_snap_names {
  void (*host)(void *arg, uint64_t id, char *out, size_t cap);
  /* has_id 0: a fleet-shift event of the group (no emitter). */
  void (*channel)(void *arg, int has_id, uint64_t id, const char *group, uint32_t channel, char *out,
                  size_t cap);
  void *arg;
} alec_snap_names;

/* Fleet band of one group+channel, recomputed by the snapshot from the
 * levels of the group's active, scored emitters (the fleet's own median and
 * MAD are not exported; the fleet also never lets its MAD fall below its
 * recent average, so its band can be a little wider than this one). */
typedef struct alec_snap_band {
  uint32_t group; /* index into alec_snap.groups */
  uint32_t channel;
  uint32_t peers;
  double median, mad; /* mad floored at the fleet's mad_floor */
  double lo, hi;      /* median -/+ z_enter x MAD / 0.6745: where |z| = z_enter */
  char name[ALEC_SNAP_NAME_LEN]; /* of the channel, as the group names it */
} alec_snap_band;

typedef struct alec_snap_group {
  char name[ALEC_FLEET_GROUP_MAX + 1];
  uint32_t emitters, active, anomalous;
  uint32_t band_off, n_bands; /* bands sorted by group, then channel */
} alec_snap_group;

typedef struct alec_snap_channel {
  uint32_t channel;
  uint8_t state;     /* alec_fleet_state */
  uint8_t has_level;
  uint8_t charted;   /* the store keeps a history ring for it */
  unsigned reason;   /* ALEC_FLEET_REASON_* */
  uint64_t values;
  uint32_t evaluations;
  double last_value, mean, stddev, level, score, baseline_z, cusum;
  int32_t band; /* index into alec_snap.bands, -1: no band (too few peers) */
  char name[ALEC_SNAP_NAME_LEN];
} alec_snap_channel;

typedef struct alec_snap_emitter {
  uint64_t id;
  char host[ALEC_SNAP_HOST_LEN];
  uint32_t group; /* index into alec_snap.groups */
  uint8_t active;
  uint8_t state; /* worst over its channels */
  uint64_t frames, values, bytes, decode_errors, gaps, resets, resyncs, replays, unreliable, nonfinite;
  uint64_t priority[5];
  double first_seen, last_seen;
  double compression_ratio; /* 8 x values / bytes; NaN before any byte */
  double score;             /* largest |z| over its scored channels, 0 if none */
  unsigned n_patterns;
  size_t memory;
  uint32_t ch_off, n_ch; /* into alec_snap.channels */
} alec_snap_emitter;

typedef struct alec_snap_event {
  double time;
  uint8_t kind;     /* alec_fleet_event_kind */
  uint8_t severity; /* alec_fleet_state; NORMAL = back to normal */
  uint8_t previous;
  uint8_t has_id;
  unsigned reason;
  uint64_t emitter_id;
  uint32_t channel, peers;
  double value, median, mad, score, cusum;
  char group[ALEC_FLEET_GROUP_MAX + 1];
  char host[ALEC_SNAP_HOST_LEN];
  char name[ALEC_SNAP_NAME_LEN];
} alec_snap_event;

typedef struct alec_snap {
  uint64_t seq;   /* 1, 2, ... per published snapshot */
  double time;    /* the fleet's "now" when it was taken */
  alec_snap_config cfg;
  alec_fleet_stats stats;
  double z_enter, z_exit, z_failure, emitter_timeout, mad_floor;
  uint32_t min_peers;
  double build_seconds;     /* what building this snapshot cost the dispatch thread */
  uint64_t history_dropped; /* channels shown without chart (history_memory) */
  size_t history_bytes;     /* held by the rings */

  alec_snap_group *groups; /* sorted by name */
  size_t n_groups;
  alec_snap_band *bands;
  size_t n_bands;
  alec_snap_emitter *emitters; /* display order: worst state, largest |z|, group, host, id */
  size_t n_emitters;
  alec_snap_channel *channels;
  size_t n_channels;
  uint32_t *by_id; /* emitter indexes sorted by id */
  alec_snap_event *events; /* newest first */
  size_t n_events;
  uint64_t events_total; /* ever recorded */

  /* Private: reference count and the lazily rendered documents. */
  atomic_uint refs;
  pthread_mutex_t cache_lock;
  char *cache;
  size_t cache_len;
} alec_snap;

/* One history point as readers get it. */
typedef struct alec_snap_point {
  double t;           /* start of the interval, s since the epoch */
  float mean, min, max;
  float lo, hi;       /* fleet band at the time; NaN when none */
  uint8_t state;      /* worst alec_fleet_state seen in the interval */
} alec_snap_point;

typedef struct alec_snap_series {
  uint32_t channel;
  size_t n;
  alec_snap_point *points; /* oldest first */
} alec_snap_series;

typedef struct alec_snap_history {
  size_t n_series;
  alec_snap_series *series; /* in the order channels were first seen */
  void *mem;                /* one block for everything */
} alec_snap_history;

typedef struct alec_snap_store alec_snap_store;

void alec_snap_config_init(alec_snap_config *cfg);
/* 0 or ALEC_EINVAL with a message naming the field (err nullable). */
int alec_snap_config_validate(const alec_snap_config *cfg, char *err, size_t errlen);

/* cfg NULL: defaults; names NULL: "alec-<16 hex>" and "ch<N>". */
int alec_snap_store_new(alec_snap_store **out, const alec_snap_config *cfg, const alec_snap_names *names);
/* The caller guarantees no reader and no writer is left. Published
 * snapshots still referenced stay valid until released. */
void alec_snap_store_free(alec_snap_store *st);

/* ---- dispatch thread ---------------------------------------------------- */

/* Values of one frame of an emitter, as alec_fleet_process returned them
 * (values that did not enter the statistics are skipped). O(charted
 * channels); takes the history lock once. */
void alec_snap_record(alec_snap_store *st, uint64_t id, const alec_fleet_value *v, size_t n, double now);
/* A fleet state transition (call from the alec_fleet_evaluate callback). */
void alec_snap_event_add(alec_snap_store *st, const alec_fleet_event *ev);
/* 1 when a refresh is due at now (refresh_interval elapsed, or time went
 * backwards). The interval grows with what the last snapshot cost to build
 * (at least 20 times that), so a large fleet cannot keep the dispatch
 * thread busy with snapshots. */
int alec_snap_due(const alec_snap_store *st, double now);
/* 1 when the fleet has not changed since the last snapshot (no frame, no
 * event, same emitter, active and anomalous counts; at most 10 s ago): the
 * caller skips the refresh, and the next is due an interval later. The
 * fleet must not change meanwhile (caller holds its lock). */
int alec_snap_unchanged(alec_snap_store *st, const alec_fleet *fleet, double now);
/* Copies the fleet's state into a new snapshot and publishes it. The fleet
 * must not change meanwhile (the caller holds the fleet's lock); the history
 * lock is taken briefly. 0, or ALEC_ENOMEM (the previous snapshot stays). */
int alec_snap_refresh(alec_snap_store *st, const alec_fleet *fleet, double now);
/* The same in two steps, so the fleet's lock covers only the copy:
 * alec_snap_gather (fleet locked) copies into *pending, alec_snap_publish
 * (fleet free to change; same thread) derives groups, bands, names and the
 * display order and publishes, or frees pending on failure. */
int alec_snap_gather(alec_snap_store *st, const alec_fleet *fleet, double now, alec_snap **pending);
int alec_snap_publish(alec_snap_store *st, alec_snap *pending);

/* ---- any thread ---------------------------------------------------------- */

/* The current snapshot with a reference, NULL before the first refresh. */
alec_snap *alec_snap_acquire(alec_snap_store *st);
void alec_snap_release(alec_snap *s);
/* The index of an emitter in s->emitters, or -1. */
long alec_snap_find(const alec_snap *s, uint64_t id);
/* Copies the rings of one emitter (points up to time `until`, NaN: all) under
 * the history lock into h; free with alec_snap_history_free. 0 (no ring:
 * n_series 0), ALEC_ENOMEM. */
int alec_snap_history_get(alec_snap_store *st, uint64_t id, double until, alec_snap_history *h);
void alec_snap_history_free(alec_snap_history *h);
/* A document derived from the snapshot, rendered once by the first caller
 * and shared (render returns 0 and a malloc'ed buffer, or an error). The
 * buffer lives as long as the snapshot. */
int alec_snap_cached(alec_snap *s, int (*render)(const alec_snap *s, char **buf, size_t *len),
                     const char **buf, size_t *len);

#endif
