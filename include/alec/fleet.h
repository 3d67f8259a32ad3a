/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FLEET_H
#define ALEC_FLEET_H

/* Fleet module: one receiver for many emitters.
 *
 * Every emitter (identified by a uint64_t the transport gives: DevEUI, peer
 * address, ...) gets its own alec_decoder, counters and per-channel O(1)
 * statistics. Detection is independent of the reporting cadence (see
 * src/fleet/README.md for the model and how to choose values):
 * - each value moves its emitter+channel's level (EWMA, level_alpha per
 *   value) and marks it pending; the emitter's reporting period is measured
 *   from the intervals between its reports;
 * - alec_fleet_evaluate() refreshes the baseline of every group+channel with
 *   pending members: median and MAD (floored at mad_floor, never below its
 *   recent average) over every FRESH member, i.e. one that reported within
 *   stale_periods of its own periods (at most emitter_timeout), its level
 *   projected to now along the group's common trend; about 4 refreshes per
 *   reporting period, over at most 1024 (sampled) members;
 * - it scores each pending emitter+channel once (modified z-score 0.6745
 *   (level - median) / MAD, Iglewicz & Hoaglin; a two-sided CUSUM on that
 *   score minus the emitter's own in-control score for slow drifts, Page
 *   1954) and runs its anti-flapping state machine (z_enter/z_exit
 *   hysteresis, enter_count/exit_count dwell counted in the emitter's own
 *   scores, i.e. its reports) into NORMAL / WARNING / FAILURE;
 * - a group+channel whose median leaves its baseline (an EWMA with weight
 *   shift_alpha per reporting period) by more than shift_mads baseline MADs
 *   with most members is one fleet-shift event; it suppresses nothing;
 * - an emitter silent beyond its stale horizon is a STALE event, and a
 *   group of which silent_fraction missed two reports at once one SILENT
 *   event instead.
 * Time ("now") is the caller's: the receiver gives data times (the network
 * server's or a legacy frame's time when plausible, receive time otherwise)
 * and evaluates on a clock that follows them (src/fleet/README.md, item
 * 10), alec-replay the recording's.
 * Per value the work is O(1); per
 * evaluation O(pending + members of the refreshed baselines), plus a scan
 * of the emitters for silence at most every quarter of the shortest period.
 *
 * Receiver-side pattern learning (recurring values) is kept apart from every
 * decoder's context, so it never changes how frames decode; patterns most
 * emitters share are promoted into the fleet context (an alec_context used as
 * the fleet dictionary), which can be exported as an ALEC preload file.
 *
 * The object is single-threaded: the caller serialises access. No function
 * allocates by a size read from the network; the number of emitters, groups
 * and channels is bounded by the configuration. Time ("now") is a caller
 * supplied number of seconds; going backwards is tolerated (ages clamp at 0,
 * nothing wraps or gets deleted because of it). */

#include <stddef.h>
#include <stdint.h>

#include "alec/decoder.h"
#include "alec/error.h"
#include "alec/frame.h"

typedef struct alec_fleet alec_fleet;

/* Longest group name, without the terminating NUL. */
#define ALEC_FLEET_GROUP_MAX 63
/* Most values one frame can carry (multi: 255, fixed: 64, single: 1). */
#define ALEC_FLEET_MAX_VALUES 255
/* Error counters are indexed by -code, 0 < -code < ALEC_FLEET_NERRORS. */
#define ALEC_FLEET_NERRORS 32

/* Hard limits checked by alec_fleet_config_validate(). */
#define ALEC_FLEET_MAX_EMITTERS_LIMIT 10000000u
#define ALEC_FLEET_MAX_CHANNELS_LIMIT 256u
#define ALEC_FLEET_MAX_GROUPS_LIMIT 4096u
#define ALEC_FLEET_DWELL_LIMIT 10000u
/* An hour: above three times the slowest common LoRaWAN period (one uplink
 * every 15 minutes), so that slow emitters stay peers between reports. */
#define ALEC_FLEET_DEFAULT_EMITTER_TIMEOUT 3600.0

typedef enum alec_fleet_state {
  ALEC_FLEET_NORMAL = 0, /* as an event severity: OKAY (back to normal) */
  ALEC_FLEET_WARNING = 1,
  ALEC_FLEET_FAILURE = 2
} alec_fleet_state;

/* Event kinds, with the name notifications and tools give them (one table):
 * EMITTER  one emitter+channel deviates from its peers
 * SHIFT    the whole group+channel moved together
 * STALE    one emitter stopped reporting (channel 0)
 * SILENT   a large part of a group stopped at once (emitter 0, channel 0) */
#define ALEC_FLEET_EVENT_KINDS(X)                                                                  \
  X(EMITTER, 0, "emitter")                                                                         \
  X(SHIFT, 1, "fleet-shift")                                                                       \
  X(STALE, 2, "stale")                                                                             \
  X(SILENT, 3, "silent")

typedef enum alec_fleet_event_kind {
#define ALEC_FLEET_KIND_ENUM(e, v, name) ALEC_FLEET_EVENT_##e = v,
  ALEC_FLEET_EVENT_KINDS(ALEC_FLEET_KIND_ENUM)
#undef ALEC_FLEET_KIND_ENUM
  ALEC_FLEET_EVENT_KIND_COUNT
} alec_fleet_event_kind;

/* "emitter", "fleet-shift", "stale", "silent"; "unknown" otherwise. */
const char *alec_fleet_event_kind_name(alec_fleet_event_kind k);

/* Why an emitter event fired (bit set). */
enum {
  ALEC_FLEET_REASON_LEVEL = 1u << 0, /* |z| above z_enter (or z_failure) */
  ALEC_FLEET_REASON_DRIFT = 1u << 1  /* CUSUM on z crossed cusum_h */
};

typedef struct alec_fleet_config {
  uint32_t max_emitters;         /* 1000; 1..ALEC_FLEET_MAX_EMITTERS_LIMIT */
  uint32_t max_channels;         /* channels tracked per emitter, 16; 1..256 (more are
                                    decoded and returned, but not scored) */
  uint32_t max_groups;           /* 64; 1..4096 (the default group "" counts) */
  double emitter_timeout;        /* s, 3600: active = seen within this; stale (removable)
                                    after 2 x timeout. (0, 1e9] */
  double z_enter;                /* 3.5: |z| above this is out of band */
  double z_exit;                 /* 2.5: back in band only below this; 0 < z_exit < z_enter */
  double z_failure;              /* 7.0: FAILURE rather than WARNING; > z_enter */
  uint32_t enter_count;          /* 3: the emitter's own scores out of band before entering (N) */
  uint32_t exit_count;           /* 5: own scores in band before leaving (M) */
  uint32_t min_peers;            /* 3: fewer fresh emitters in a group+channel: no scoring (>= 3) */
  double mad_floor;              /* 0.01 (one quantum at scale 100): MAD never below this */
  double level_alpha;            /* 1.0: EWMA weight of each value in the level, (0, 1]. 1 = the
                                    latest value, no smoothing: the CUSUM integrates over time, and smoothing its
                                    input makes it autocorrelated, which multiplies false drift
                                    alarms (measured, k 0.5 / h 10, 1000 noisy emitters: 0.03
                                    false entries per 10,000 emitter-evaluations at 1.0, 13.5
                                    at 0.5, 51 at 0.3) */
  double cusum_k;                /* 0.5: CUSUM reference value (allowance), in z units, [0, 100]:
                                    the classic design for a 1-sigma shift */
  double cusum_h;                /* 12.0: CUSUM decision interval in z units; 0 disables drift
                                    detection, else (0, 1e6]. h 10 gave 0.01-0.02 false entries
                                    per 10,000 emitter-evaluations on 1000 noisy emitters, 3 in
                                    the 4.9 million scores of the 14-day acceptance fleet; h 12
                                    none there, drift flagged at 2.5 MAD (mean, worst 4.2) */
  double baseline_alpha;         /* 0.01: EWMA weight of each emitter's own in-control z
                                    (the CUSUM target), (0, 1] */
  uint32_t drift_warmup;         /* 50: in-control scores of an emitter+channel (its own
                                    baseline score) before its CUSUM runs; also the refreshes
                                    (and at least 5 periods) of the group baseline before fleet
                                    shifts are judged */
  double sync_interval;          /* s, 60: pattern promotion period in evaluate(); 0 = only on
                                    alec_fleet_sync_patterns() */
  double shift_mads;             /* 5.0: group median moved by more than this many baseline
                                    MADs => fleet shift candidate */
  double shift_fraction;         /* 0.5: ...and at least this fraction of the peers moved the same
                                    way, (0, 1] */
  double shift_alpha;            /* 0.25: EWMA weight per reporting period of the group
                                    median/MAD baseline, (0, 1]: a time constant of about
                                    1/shift_alpha - 0.5 periods. Common movement slower than
                                    that is followed, not a shift */
  uint32_t pattern_min_count;    /* 3: occurrences in recent values to learn a pattern;
                                    0 disables learning, else 2..255 */
  double stale_periods;          /* 3: an emitter silent for more than this many of its own
                                    reporting periods (at least 1 s, at most emitter_timeout)
                                    is stale: a STALE event, and it leaves the baselines.
                                    0 = no STALE events (baselines use 3); else [1, 1e6] */
  double silent_fraction;        /* 0.2: when at least this fraction of a group (and at least
                                    min_peers emitters) missed two of their own reports, one
                                    SILENT event for the group replaces their STALE events;
                                    0 = off, else (0, 1] */
  alec_decoder_config decoder;   /* for every emitter's decoder */
  alec_context_config fleet_ctx; /* the fleet dictionary's context */
} alec_fleet_config;

void alec_fleet_config_init(alec_fleet_config *cfg);
/* 0, or ALEC_EINVAL with a message naming the field in err (if err != NULL,
 * always NUL terminated). Zero, negative, NaN, infinite or absurd values are
 * refused. */
int alec_fleet_config_validate(const alec_fleet_config *cfg, char *err, size_t errlen);

/* cfg NULL: defaults. ALEC_EINVAL (invalid config), ALEC_ENOMEM. */
int alec_fleet_new(alec_fleet **out, const alec_fleet_config *cfg);
void alec_fleet_free(alec_fleet *fleet);
const alec_fleet_config *alec_fleet_get_config(const alec_fleet *fleet);

/* Peer group of an emitter, also before its first frame (remembered across
 * stale removal). Default: "". ALEC_ERANGE: name longer than
 * ALEC_FLEET_GROUP_MAX; ALEC_ENOSPC: too many groups or assignments
 * (assignments are bounded by max_emitters). Changing the group of a known
 * emitter restarts its detector warm-up. */
int alec_fleet_set_emitter_group(alec_fleet *fleet, uint64_t emitter_id, const char *group);
/* Removes the assignment (the emitter, if known, moves to the default group
 * ""), so that it no longer counts against max_emitters. */
int alec_fleet_clear_emitter_group(alec_fleet *fleet, uint64_t emitter_id);

/* One decoded value as the fleet returns it. */
typedef struct alec_fleet_value {
  uint32_t channel; /* source_id (single), name_id (multi), index (fixed) */
  uint8_t priority; /* the frame's header priority (alec_priority) */
  uint8_t flags;    /* ALEC_VALUE_* */
  uint8_t state;    /* alec_fleet_state of this emitter+channel (last evaluation) */
  uint8_t tracked;  /* 1 if this channel is scored (within max_channels) */
  double value;
  double score; /* latest robust z of this emitter+channel, 0 before scoring */
} alec_fleet_value;

/* Decodes one frame of an emitter with that emitter's own decoder and
 * updates its statistics. Returns the number of values n in the frame (>= 0)
 * and writes the first min(n, cap) of them to out (out may be NULL when cap
 * is 0), or a negative error:
 * decode errors (counted per kind; an unknown emitter is NOT created),
 * ALEC_ENOSPC for a new emitter beyond max_emitters (counted as rejected;
 * a live emitter is never evicted), ALEC_EINVAL for bad arguments
 * (non-finite now, channels outside 1..64 for fixed). info (nullable) is the
 * decoder's frame info (written on success only). Non-finite and unreliable
 * (ALEC_VALUE_UNRELIABLE) values are returned but do not enter the
 * statistics. A failed frame does not refresh "last seen". O(1) in the
 * number of emitters. */
int alec_fleet_process(alec_fleet *fleet, uint64_t emitter_id, alec_format fmt, unsigned channels,
                       const uint8_t *frame, size_t len, double now, alec_fleet_value *out,
                       size_t cap, alec_frame_info *info);

/* alec_fleet_process for a caller that keeps per emitter a hint of where
 * the fleet holds it (*hint: 0 before the first frame, then what the
 * previous call left there). A right hint saves the keyed hash and the
 * table miss of the id lookup; a wrong one (the emitter was removed or
 * moved, the hint is another fleet's) costs that lookup and nothing else:
 * the emitter a hint names must carry emitter_id. On success *hint names the
 * emitter and *period (nullable) is its reporting period estimate after
 * this frame (alec_fleet_emitter_period), 0 on error. ALEC_EINVAL also for a
 * NULL hint. (Addition.) */
int alec_fleet_process_hint(alec_fleet *fleet, uint32_t *hint, uint64_t emitter_id, alec_format fmt,
                            unsigned channels, const uint8_t *frame, size_t len, double now,
                            alec_fleet_value *out, size_t cap, alec_frame_info *info,
                            double *period);

/* One frame of a batch: the arguments alec_fleet_process takes per frame. */
typedef struct alec_fleet_frame {
  uint64_t emitter_id;
  alec_format fmt;
  unsigned channels;     /* fixed frames only */
  const uint8_t *data;
  size_t len;
  alec_fleet_value *out; /* nullable when cap is 0 */
  size_t cap;
  alec_frame_info *info; /* nullable */
} alec_fleet_frame;

/* Processes frames[0..n) in order, all at time now: exactly n calls of
 * alec_fleet_process (same outputs, statistics, emitter creation and
 * errors, frame by frame), but the emitter lookups of the next frames are
 * started while a frame decodes, so that a fleet far larger than the CPU
 * caches pays its misses in parallel rather than one after another.
 * results (nullable) gets each frame's return value. Returns how many frames
 * succeeded, or ALEC_EINVAL (fleet NULL, frames NULL with n > 0, non-finite
 * now: then no frame is processed). (Addition.) */
int alec_fleet_process_batch(alec_fleet *fleet, const alec_fleet_frame *frames, size_t n,
                             double now, int *results);

/* Ghost frame of a fixed-frame emitter (reference 1.3.10 Option C): the
 * device sent values[0..n) (channels 0..n-1, the units its encoder was fed)
 * in its own format instead of the ALEC frame its encoder produced. Calls
 * the emitter's alec_decoder_feed_values, so that the next fixed frame
 * decodes without a gap, and puts the values into the statistics like
 * decoded ones (a non-finite value is fed but not counted). Creates the
 * emitter when unknown (a cold-started device's first uplink is its
 * fallback). 0, ALEC_EINVAL (n outside 1..64, non-finite now), ALEC_ENOSPC
 * (max_emitters), ALEC_ENOMEM; on error nothing changed. (Addition.) */
int alec_fleet_feed_values(alec_fleet *fleet, uint64_t emitter_id, const double *values,
                           unsigned n, double now);
typedef struct alec_fleet_event {
  alec_fleet_event_kind kind;
  alec_fleet_state severity; /* new state; ALEC_FLEET_NORMAL = OKAY */
  alec_fleet_state previous; /* state before this transition */
  unsigned reason;           /* ALEC_FLEET_REASON_* (emitter events) */
  uint64_t emitter_id;       /* 0 for shift events */
  const char *group;         /* valid during the callback only */
  uint32_t channel;
  double value;   /* emitter level (shift: group median; stale: seconds since its last report;
                     silent: overdue members) */
  double median;  /* group median (shift: the baseline median it moved from; stale: the
                     emitter's period; silent: members of the group) */
  double mad;     /* MAD used for the score: max(MAD, its recent average,
                     mad_floor) (shift: baseline MAD) */
  double score;   /* robust z (shift: (median - baseline) / baseline MAD) */
  double cusum;   /* drift statistic max(S+, S-) (emitter events) */
  unsigned peers; /* fresh emitters compared (stale: members of its group; silent: overdue
                     members) */
  double time;    /* the evaluation's now */
  /* The band in the value's unit, NaN where there is none: emitter events
   * median -+ z_enter (warn) and z_failure (fail) MADs as scores count them;
   * shift events baseline -+ shift_mads baseline MADs (warn); stale events
   * warn_max = the stale horizon in seconds (value = seconds silent). */
  double warn_min, warn_max, fail_min, fail_max;
  /* 1 on the OKAY that alec_fleet_remove_stale_notify sends for an alert
   * still active when its emitter is removed (silent beyond 2 x
   * emitter_timeout): resolved because the emitter is gone, not because it
   * recovered. 0 otherwise. (Addition.) */
  int removed;
} alec_fleet_event;

typedef void (*alec_fleet_event_cb)(const alec_fleet_event *ev, void *arg);

/* One evaluation tick (see the top of this file). Calls cb (nullable) once per
 * state transition, never per anomalous value. Also promotes patterns when
 * sync_interval has elapsed. Returns the number of transitions or a negative
 * error (ALEC_EINVAL: non-finite now; ALEC_ENOMEM: scratch allocation,
 * nothing changed then). O(total tracked channels). */
int alec_fleet_evaluate(alec_fleet *fleet, double now, alec_fleet_event_cb cb, void *arg);

/* 1 when an evaluation at now would score: a value fed since the last
 * alec_fleet_evaluate made a baseline refresh due (enough members pending,
 * as of that value's time), or the oldest pending one is due by age at now.
 * A caller that feeds many values between evaluations (a backlog drained in
 * one batch) asks before and after each value and evaluates when this says
 * so: it scores where a caller that evaluates after every value and on a
 * timer does, at a fraction of the evaluations. O(1). (Addition.) */
int alec_fleet_score_due(const alec_fleet *fleet, double now);

/* ---- accessors ---------------------------------------------------------- */

/* Observed reporting period of an emitter in seconds (what its values'
 * interval should say), 0 when unknown or not an emitter. O(1). */
double alec_fleet_emitter_period(const alec_fleet *fleet, uint64_t emitter_id);

typedef struct alec_fleet_channel_info {
  uint32_t channel;
  alec_fleet_state state;
  unsigned reason; /* reason of the current non-normal state */
  uint64_t values; /* values that entered the statistics */
  double last_value;
  double mean;   /* EW mean of values (weight 0.1 per value) */
  double stddev; /* EW standard deviation of values (same weight) */
  double level;  /* the level compared with the peers */
  int has_level;
  double score;      /* latest robust z */
  double baseline_z; /* the emitter's own in-control z (CUSUM target) */
  double cusum_pos, cusum_neg;
  uint32_t evaluations; /* evaluations in which it was scored */
} alec_fleet_channel_info;

typedef struct alec_fleet_emitter_info {
  uint64_t id;
  char group[ALEC_FLEET_GROUP_MAX + 1];
  uint64_t frames, values, bytes;
  uint64_t decode_errors;              /* total */
  uint64_t errors[ALEC_FLEET_NERRORS]; /* by kind: errors[-code] */
  uint64_t gaps;                       /* frames reported missing by the decoder */
  uint64_t resets, resyncs, replays;
  uint64_t unreliable, nonfinite; /* values held out of the statistics */
  uint64_t priority[5];           /* frames by header priority P1..P5 */
  double first_seen, last_seen;
  int active;             /* seen within emitter_timeout of now */
  alec_fleet_state state; /* worst over its channels */
  unsigned n_channels;    /* tracked channels */
  unsigned n_patterns;    /* learned patterns (receiver side) */
  size_t memory;          /* bytes of heap for this emitter */
  double period;          /* observed reporting period (s), 0 until known */
  int stale;              /* silent beyond its stale horizon (stale_periods) */
} alec_fleet_emitter_info;

/* ALEC_ENOTFOUND when unknown. now only decides "active". */
int alec_fleet_get_emitter(const alec_fleet *fleet, uint64_t emitter_id, double now,
                           alec_fleet_emitter_info *out);
/* i-th tracked channel of an emitter; ALEC_ENOTFOUND past the end. */
int alec_fleet_get_channel(const alec_fleet *fleet, uint64_t emitter_id, unsigned i,
                           alec_fleet_channel_info *out);
/* Iteration in internal order (stable while no emitter is created or
 * removed); ALEC_ENOTFOUND past the end. */
size_t alec_fleet_emitter_count(const alec_fleet *fleet);
int alec_fleet_emitter_at(const alec_fleet *fleet, size_t i, double now,
                          alec_fleet_emitter_info *out);
/* Writes up to cap ids of active emitters, returns how many are active. */
size_t alec_fleet_active_emitters(const alec_fleet *fleet, double now, uint64_t *ids, size_t cap);
/* Learned (receiver-side) pattern values of an emitter; returns how many
 * there are, writes up to cap. ALEC_ENOTFOUND when unknown. */
int alec_fleet_emitter_patterns(const alec_fleet *fleet, uint64_t emitter_id, double *out,
                                size_t cap);
/* The emitter's decoder (e.g. to save it); NULL when unknown. Valid until the
 * next call that creates or removes emitters. */
alec_decoder *alec_fleet_emitter_decoder(alec_fleet *fleet, uint64_t emitter_id);
/* Re-creates an emitter from its saved decoder (alec_decoder_save), for a
 * restart (alec/fleet_state.h): no frame is counted, last_seen (also
 * first_seen) is given. ALEC_EINVAL when the emitter already exists,
 * ALEC_ENOSPC beyond max_emitters, or what alec_decoder_load returns;
 * nothing changes on error. (Addition for restarts.) */
int alec_fleet_restore_emitter(alec_fleet *fleet, uint64_t emitter_id, const uint8_t *state,
                               size_t len, double last_seen);

/* Removes emitters not seen for more than 2 x emitter_timeout (never because
 * time went backwards). Returns how many were removed. */
int alec_fleet_remove_stale(alec_fleet *fleet, double now);
/* The same, but first resolves what a removed emitter leaves active, so
 * that a downstream alert manager does not keep it firing forever: one OKAY
 * (removed = 1, time = now) per channel in WARNING/FAILURE (kind EMITTER,
 * previous = its state; counted as an anomaly exit) and one for a notified
 * STALE. A member folded into a group SILENT had no notification of its
 * own: nothing to resolve (the group's OKAY follows from the next scans).
 * cb nullable. Returns how many were removed or ALEC_EINVAL. (Addition.) */
int alec_fleet_remove_stale_notify(alec_fleet *fleet, double now, alec_fleet_event_cb cb,
                                   void *arg);
/* 0 or ALEC_ENOTFOUND. */
int alec_fleet_remove_emitter(alec_fleet *fleet, uint64_t emitter_id);

typedef struct alec_fleet_stats {
  size_t emitters;  /* known */
  size_t active;    /* seen within emitter_timeout */
  size_t anomalous; /* emitters currently WARNING or FAILURE on some channel */
  size_t groups;    /* groups that have at least one emitter */
  size_t shifts_active; /* group+channels currently in a fleet shift */
  uint64_t frames, values, bytes;
  uint64_t raw_bytes;         /* 8 bytes per value (binary64) */
  double compression_ratio;   /* raw_bytes / bytes, 0 before any frame */
  uint64_t priority[5];       /* frames by header priority P1..P5 */
  uint64_t regular_anomalies; /* P1 + P2 frames: the emitter's own classifier says so */
  uint64_t anomaly_entries;   /* cross-fleet NORMAL -> WARNING/FAILURE transitions */
  uint64_t anomaly_exits;     /* ... and back to NORMAL */
  uint64_t shift_events;      /* fleet shift entries */
  uint64_t evaluations;
  uint64_t decode_errors;
  uint64_t errors[ALEC_FLEET_NERRORS]; /* by kind: errors[-code] */
  uint64_t gaps, resets, resyncs, replays;
  uint64_t rejected_emitters; /* frames refused because max_emitters was reached */
  uint64_t unknown_errors;    /* undecodable frames from unknown emitters */
  uint64_t untracked_values;  /* values beyond max_channels / group channel bounds */
  uint64_t patterns_learned;  /* receiver-side, summed over emitters (current) */
  uint64_t patterns_promoted; /* into the fleet context, cumulative */
  size_t memory;              /* bytes of heap held by the fleet */
  size_t memory_per_emitter;  /* average over known emitters (0 if none) */
} alec_fleet_stats;

void alec_fleet_get_stats(const alec_fleet *fleet, double now, alec_fleet_stats *out);
size_t alec_fleet_memory(const alec_fleet *fleet);

/* ---- shared fleet context (collective learning) --------------------------- */

/* The fleet dictionary. It is never used to decode frames. */
alec_context *alec_fleet_context(alec_fleet *fleet);
const alec_context *alec_fleet_context_const(const alec_fleet *fleet);
/* Promotes patterns learned by more than half of the active emitters into the
 * fleet context now. Returns the number of new patterns (promotion stops,
 * without error, once the context holds its max_patterns) or a negative error. */
int alec_fleet_sync_patterns(alec_fleet *fleet, double now);
/* ALEC preload file (spec 4.8) of the fleet context, see alec/preload.h. */
int alec_fleet_export_context(const alec_fleet *fleet, const char *path);
int alec_fleet_import_context(alec_fleet *fleet, const char *path);

/* "okay", "warning", "failure". */
const char *alec_fleet_state_name(alec_fleet_state s);

#endif
