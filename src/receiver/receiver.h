/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_H
#define ALEC_RECEIVER_H

/* The receiver core: everything between a transport and the daemon that
 * stores values. Transports (udp.h, mqtt.h) put transport-neutral messages
 * into the receiver's queue; the receiver's dispatch thread admits them
 * (signature, SecurityLevel, known emitters, rate limit), decodes them
 * through the fleet module, keeps value times increasing, asks emitters for
 * keyframes the way their message came, evaluates the fleet and saves its
 * state, and reports values, notifications and log lines through a sink.
 * No collectd header: the collectd plugin is one sink (src/plugin/alec.c),
 * the tests another.
 *
 *   transport -> queue -> receiver -> fleet -> sink
 *
 * Threads: the sink's callbacks run on the dispatch thread (values, events,
 * ticks) or on the calling thread (log). The thread itself is started by
 * the embedding program's spawn function, because collectd attributes
 * dispatches to a plugin only from threads it created. */

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alec/fleet.h"
#include "alec/frame.h"
#include "config.h"
#include "queue.h"
#include "tlv.h"

/* Why a message or record was refused: counted per kind (statistics name)
 * and logged, rate limited (text). One table for the counters, the names
 * and the log. */
#define ALEC_RX_REJECTS(X)                                                             \
  X(MALFORMED, "malformed", "malformed envelope")                                      \
  X(VERSION, "version", "unsupported envelope version")                                \
  X(UNAUTH, "unauthenticated", "unsigned datagram (SecurityLevel Sign)")               \
  X(OVERSIZED, "oversized", "oversized message")                                       \
  X(UNKNOWN, "unknown_emitter", "unknown emitter")                                     \
  X(MAX_EMITTERS, "max_emitters", "MaxEmitters reached")                               \
  X(FORMAT, "format", "format mismatch")                                               \
  X(DECODE, "decode", "decode error")                                                  \
  X(BAD_SIGNATURE, "bad_signature", "bad signature")                                   \
  X(UNKNOWN_KEY, "unknown_key", "unknown key")                                         \
  X(REPLAY, "replay", "replayed datagram")                                             \
  X(NOT_ALLOWED, "unauthorized_emitter", "emitter not allowed for the key")            \
  X(RATE, "rate_limited", "rate limit exceeded")                                       \
  X(STALE, "stale_frame", "duplicate or late frame")                                   \
  X(CHANNELS, "channel_limit", "unknown emitter above UnknownMaxChannels")               \
  X(NEW_IDS, "identifier_rate", "new identifiers above MaxNewIdentifiers")             \
  X(QUEUE, "queue_full", "receive queue full")                                         \
  X(TLV_INCOMPLETE, "tlv_incomplete", "TLV payload without an item for every channel")

/* The TLV parser's own kinds (tlv.h, ALEC_TLV_ERRORS) follow as
 * ALEC_RX_REJ_TLV_<kind>, named and worded by that table. */
enum alec_rx_reject {
#define ALEC_RX_REJ_ENUM(e, name, text) ALEC_RX_REJ_##e,
  ALEC_RX_REJECTS(ALEC_RX_REJ_ENUM)
#undef ALEC_RX_REJ_ENUM
#define ALEC_RX_REJ_TLV_ENUM(e, name, text) ALEC_RX_REJ_TLV_##e,
  ALEC_TLV_ERRORS(ALEC_RX_REJ_TLV_ENUM)
#undef ALEC_RX_REJ_TLV_ENUM
  ALEC_RX_REJ_COUNT
};
/* The reject kind of a negative alec_tlv_parse() result. */
#define ALEC_RX_REJ_OF_TLV(err) (ALEC_RX_REJ_TLV_EMPTY + (-(err)) - 1)
const char *alec_rx_reject_name(int kind);

/* alec_fleet_value.flags of a value the receiver dispatches as an estimate
 * (LossRecovery "estimate"): the sink marks it (collectd meta data). Above
 * the decoder's ALEC_VALUE_* bits. */
#define ALEC_RX_VALUE_ESTIMATED 0x80u

enum { ALEC_RX_LOG_ERROR = 3, ALEC_RX_LOG_WARNING = 4, ALEC_RX_LOG_NOTICE = 5, ALEC_RX_LOG_INFO = 6 };

/* One decoded frame as the sink receives it: only values that may be
 * stored (values the decoder could not reconstruct are held back and
 * counted by the receiver). */
typedef struct alec_rx_frame {
  uint64_t id;
  const alec_pc_emitter *em; /* NULL: not configured */
  const char *host;          /* configured, from metadata, or alec-<id> */
  const char *group;         /* "" for none */
  double time;               /* value time, increasing per emitter */
  double interval;           /* the emitter's observed reporting period (s), 0 unknown */
  const alec_fleet_value *values;
  size_t n;
  const alec_frame_info *info;
  const alec_rx_msg *msg; /* link metadata (fCnt, RSSI, SNR) */
  /* Channel names and conversions: the emitter's, else the message's
   * profile's; NULL: defaults. Values are already converted (Multiply/Add). */
  const alec_pc_chanmap *map;
} alec_rx_frame;

typedef struct alec_rx_sink {
  void *arg;
  void (*log)(void *arg, int level, const char *msg);
  /* Stores a frame's values; adds to *dispatched and *unconvertible. */
  void (*values)(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible);
  /* A frame at least as urgent as NotifyPriority (may be NULL). */
  void (*priority)(void *arg, const alec_rx_frame *f);
  /* A fleet state transition; called with the fleet locked. */
  void (*fleet_event)(void *arg, const alec_fleet_event *ev);
  /* After every evaluation, fleet unlocked (dashboard snapshots); may be NULL. */
  void (*tick)(void *arg, double now);
  /* At-least-once transports (may be NULL): the token of the last values
   * dispatched so far (0: none). The sink calls alec_rx_written() with a
   * token once the daemon's writers have every value up to it; only then
   * does the receiver call a message's `done` hook, so a transport that
   * acknowledges there never acknowledges values that a shutdown could
   * still drop (collectd stops its write threads, dropping what is queued,
   * before the plugins' shutdown callbacks). Without it, `done` is called
   * right after the values were dispatched. */
  uint64_t (*mark)(void *arg);
} alec_rx_sink;

typedef int (*alec_rx_spawn_fn)(pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

/* What the transports count before a message reaches the queue. */
typedef struct alec_rx_ingress {
  atomic_uint_fast64_t messages, bytes, oversized, queue_drops;
} alec_rx_ingress;

typedef struct alec_rx_stats {
  alec_fleet_stats fleet;
  uint64_t rejected[ALEC_RX_REJ_COUNT];
  uint64_t held_back, unconvertible, dispatched, notifications;
  uint64_t resync_sent, resync_limited, resync_failed;
  uint64_t messages, bytes, queue_drops;
  uint64_t tlv_frames, fcnt_gaps; /* LoRaWAN: fallback payloads fed, uplinks lost by fCnt */
  /* LoRaWAN loss recovery (docs/PROTOCOL.md): values dispatched as
   * estimates, lost uplinks mirrored into the decoders, fCnt resets
   * (rejoins), channels that became exact again after a loss. */
  uint64_t estimated, ghosts_replayed, fcnt_resets, reanchored;
  uint64_t time_clamped[2]; /* claimed value times replaced: [0] too old, [1] ahead (TimestampTolerance) */
  size_t queued;
  int has_auth;
  uint64_t auth_keys, auth_reloads, auth_reload_errors;
  int has_emitter_file; /* EmitterFile: entries in use, reloads, refused changes */
  uint64_t file_emitters, emitter_file_reloads, emitter_file_errors;
  /* The per-emitter records, allocated once for MaxEmitters (device names
   * from metadata come on top, one allocation per named emitter). */
  size_t emitter_records, emitter_table_bytes;
  /* The spool (spool.h): messages saved at the last stop, restored at
   * start, and lost (above SpoolLimit, or their <MQTT> block or <Profile>
   * gone at restore). */
  uint64_t spool_saved, spool_restored, spool_lost;
} alec_rx_stats;

typedef struct alec_rx alec_rx;

/* cfg must be finalized and outlive the receiver. Creates the fleet,
 * restores the state file, loads the AuthFile. 0 or -1 (logged). */
int alec_rx_new(alec_rx **out, const alec_plugin_config *cfg, const alec_rx_sink *sink);
/* Starts the dispatch thread. 0 or -1 (logged). */
int alec_rx_start(alec_rx *rx, alec_rx_spawn_fn spawn);
/* Stops the dispatch thread (transports must be stopped first), then
 * saves the state file. Idempotent. */
void alec_rx_stop(alec_rx *rx);
/* The daemon's writers are gone (collectd: our shutdown callback runs
 * after it stopped its write threads): from now on the dispatch thread
 * sets spooled transports' messages aside for the state file instead of
 * decoding them, and leaves at-least-once ones unacknowledged, so that a
 * value written directly never confirms (alec_rx_written) values that
 * collectd dropped with its write queue. Returns once the batch in
 * progress is done. */
void alec_rx_hold(alec_rx *rx);
void alec_rx_free(alec_rx *rx);

/* Transports: where messages go, and what they count. */
alec_rxq *alec_rx_queue(alec_rx *rx);
alec_rx_ingress *alec_rx_ingress_counters(alec_rx *rx);
/* Queues msgs (counted as received); what does not fit is freed and
 * counted as a queue drop. */
void alec_rx_submit(alec_rx *rx, alec_rx_msg *const *msgs, size_t n);

/* Any thread: counts a refusal and logs it, at most once per 10 s and kind
 * (the text is formatted only when it will be logged). `from` may be NULL,
 * emitter UINT64_MAX when unknown. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void alec_rx_reject(alec_rx *rx, int kind, const char *from, uint64_t emitter, const char *fmt, ...);
/* Any thread: a log line through the sink. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void alec_rx_log(alec_rx *rx, int level, const char *fmt, ...);

void alec_rx_get_stats(alec_rx *rx, double now, alec_rx_stats *out);
/* Runs fn with the fleet locked (the read callback's per-emitter scores). */
void alec_rx_with_fleet(alec_rx *rx, void (*fn)(void *arg, alec_fleet *fleet), void *arg);

/* The host name of an emitter as values carry it. */
void alec_rx_emitter_host(const alec_rx *rx, uint64_t id, char *out, size_t cap);
/* The channel names of an emitter's values: its configuration's, else those
 * of the profile its last message came with; NULL: the defaults (ch<N>). */
const alec_pc_chanmap *alec_rx_emitter_map(const alec_rx *rx, uint64_t id);
/* The names for a group event (fleet shift) on channel ch: those of an
 * emitter placed in the group by metadata whose profile names ch. */
const alec_pc_chanmap *alec_rx_group_map(const alec_rx *rx, const char *group, uint32_t ch);
/* The configuration of an emitter: its <Emitter> block, else its EmitterFile
 * line, else NULL. Dispatch thread, or inside alec_rx_with_fleet (the file
 * registry is swapped under the fleet lock). */
const alec_pc_emitter *alec_rx_find_emitter(const alec_rx *rx, uint64_t id);
const alec_plugin_config *alec_rx_config(const alec_rx *rx);

/* At shutdown, after alec_rx_hold, before alec_rx_stop: the daemon's
 * writers took exactly the first `lists` value lists of the frames that
 * wait for confirmation (tokens count those lists: alec_rx_sink.mark), and
 * dropped the rest. A spooled message whose lists were taken in part then
 * replays only the others (alec_rx_msg.skip). */
void alec_rx_writers_took(alec_rx *rx, uint64_t lists);
/* Any thread (the daemon's writers): everything dispatched up to `token`
 * (alec_rx_sink.mark) is written; the messages it completes are done. */
void alec_rx_written(alec_rx *rx, uint64_t token);

/* Processes one message on the calling thread, as the dispatch thread
 * does (tests and the replay tool run without threads). */
void alec_rx_process(alec_rx *rx, alec_rx_msg *m);
/* Processes the messages the state file's spool restored, in order, on the
 * calling thread, as the dispatch thread does before any new message
 * (tests run without threads). */
void alec_rx_replay_spool(alec_rx *rx);
/* Evaluates the fleet at `now` (unix seconds), as the dispatch thread does
 * every EvaluationInterval. */
void alec_rx_evaluate(alec_rx *rx, double now);
/* Scores what arrived since the previous call (the fleet's incremental
 * evaluation only), as the dispatch thread does after every batch. */
void alec_rx_score(alec_rx *rx, double now);
/* The fleet's clock (collectd-alec(5), Data time), as the dispatch thread
 * takes it: the latest data time processed, run on at the pace of `wall`
 * (unix seconds; NaN: messages were just processed, no run-on) since the
 * receive time of the latest message; never decreasing. 0 before any data
 * (or restored state). Dispatch thread only. */
double alec_rx_clock(alec_rx *rx, double wall);
/* The fleet's clock for other threads (statistics, scores in the read
 * callback): the clock of the latest scoring or evaluation, run on at the
 * pace of `wall` (unix seconds) since; `wall` before any. Values of a
 * backlog hours old are then active and scored as the dispatch thread
 * sees them. Any thread; takes the fleet lock. */
double alec_rx_fleet_time(alec_rx *rx, double wall);

#endif
