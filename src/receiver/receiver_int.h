/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_INT_H
#define ALEC_RECEIVER_INT_H

/* Layout of alec_rx and its per-emitter record, shared by receiver.c and
 * the rx_*.c files only (not installed): the receiver core split by
 * concern. */

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

/* Per emitter: THE receiver's record of it (the fleet keeps the decoder).
 * One table, open addressing under the keyed hash (alec_hash_id), so ids
 * cannot be chosen to collide; what used to be tables of their own (the
 * device name, the rate-limit bucket, the keyframe-request limits) are
 * fields here. Bounded: emitters without configuration take at most
 * MaxEmitters slots (alec_rx__em_find), configured ones (at most MaxEmitters, the
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
  uint32_t fleet_hint; /* where the fleet holds it (alec_fleet_process_hint), 0: unknown */
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
  em_slot *ems; /* swapped under host_lock (alec_rx__em_prune) */
  size_t ems_mask, ems_used, ems_unknown, ems_limit;
  double next_prune, next_stale;
  /* The fleet's clock (collectd-alec(5), Data time): the latest data time
   * fed to it, the receive time of the message that fed it last, and the
   * monotone clock they give (alec_rx_clock). 0: no data yet. */
  double data_clock, data_recv, fleet_clock;
  /* The clock of the latest scoring or evaluation and the wall time it ran
   * at, under fleet_lock: the fleet's time for other threads
   * (alec_rx_fleet_time). eval_wall 0: none yet. */
  double eval_clock, eval_wall;
  /* Legacy emitters' lags restored from the state file, sorted by id, for
   * slots made after the restart (alec_rx__lag_restore); saved again while
   * their emitter has not reported. Dispatch thread. */
  alec_ps_lag *lags;
  size_t n_lags;
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

/* The clocks of the receiver: wall (state file) and monotone (timers). */
static inline double now_real(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline double now_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Cross-file internals stay out of the shared library's exported symbols,
 * as they were when static: nothing outside the receiver core may call them. */
#if defined(__GNUC__) || defined(__clang__)
#define RX_INTERNAL __attribute__((visibility("hidden")))
#else
#define RX_INTERNAL
#endif

/* rx_emitters.c */
RX_INTERNAL const alec_pc_emitter *alec_rx__find(const alec_rx *rx, uint64_t id);
RX_INTERNAL em_slot *alec_rx__em_find(alec_rx *rx, uint64_t id, int create, int configured);
/* A slot without a lag takes the one the state file had for it. */
RX_INTERNAL void alec_rx__lag_restore(alec_rx *rx, em_slot *s);
RX_INTERNAL void alec_rx__host_remember(alec_rx *rx, em_slot *s, const char *host);
RX_INTERNAL void alec_rx__slot_free(em_slot *s);
RX_INTERNAL void alec_rx__em_prune(alec_rx *rx, double now);
RX_INTERNAL void alec_rx__emitter_host(const alec_rx *rx, const alec_pc_emitter *em, const alec_rx_msg *m, uint64_t id, char *out, size_t cap);
RX_INTERNAL void alec_rx__apply_group(alec_rx *rx, const alec_pc_emitter *em, em_slot *s, uint64_t id, const char *group);

/* rx_state.c */
RX_INTERNAL void alec_rx__state_restore(alec_rx *rx);
RX_INTERNAL void alec_rx__state_save(alec_rx *rx, int final);

/* rx_fallback.c */
RX_INTERNAL void alec_rx__process_fallback(alec_rx *rx, const alec_rx_msg *m, const alec_pc_emitter *em, const alec_pc_profile *prof);

/* rx_ack.c */
RX_INTERNAL void alec_rx__undo_unwritten(alec_rx *rx, alec_rx_msg **spool_tail);
RX_INTERNAL void alec_rx__wait_written(alec_rx *rx);
RX_INTERNAL void alec_rx__dispatch_one(alec_rx *rx, alec_rx_msg *m);
RX_INTERNAL void alec_rx__replay_spool(alec_rx *rx);

/* receiver.c */
RX_INTERNAL void alec_rx__reject_msg(alec_rx *rx, int kind, const alec_rx_msg *m, uint64_t emitter, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
RX_INTERNAL double alec_rx__data_time(alec_rx *rx, em_slot *s, double prev_seen, const alec_rx_msg *m, const uint8_t *frame, size_t len);
RX_INTERNAL void alec_rx__score_due(alec_rx *rx, em_slot *s, const alec_rx_msg *m, double t, int before);
RX_INTERNAL void alec_rx__resync_note(alec_rx *rx, const alec_rx_msg *m, em_slot *s, uint64_t id, int bare);
RX_INTERNAL void alec_rx__resync_flush(alec_rx *rx, const alec_rx_msg *m);
RX_INTERNAL void alec_rx__deliver(alec_rx *rx, uint64_t id, const alec_pc_emitter *em, const alec_rx_msg *m, em_slot *s, alec_fleet_value *vals, int n, const alec_frame_info *info, double period);
RX_INTERNAL void alec_rx__process_datagram(alec_rx *rx, const alec_rx_msg *m);
RX_INTERNAL void alec_rx__process_payload(alec_rx *rx, const alec_rx_msg *m);

#endif
