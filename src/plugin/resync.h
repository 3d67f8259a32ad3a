/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_RESYNC_H
#define ALEC_PLUGIN_RESYNC_H

/* Receiver-driven resynchronisation (docs/ENVELOPE.md, "Downlink"): when an
 * emitter's frame shows a gap or values the decoder could not reconstruct,
 * the plugin asks that emitter for a keyframe by replying to the datagram's
 * source address from the socket it arrived on. Requests are rate limited
 * per emitter (one per interval) and globally (a token bucket), because the
 * source address of a UDP datagram can be forged: the plugin must not become
 * a reflector. All requests a datagram causes go out as one downlink
 * datagram. Dispatch thread only; independent of collectd (tested by
 * tests/check_state.c). */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "alec/downlink.h"

/* Records of one downlink datagram: a batch from a gateway that lost many
 * frames at once is answered with datagrams of at most this many records. */
#define ALEC_RS_BATCH 64
/* Global budget: requests per second, and the burst allowed at once. */
#define ALEC_RS_GLOBAL_RATE 1000.0
#define ALEC_RS_GLOBAL_BURST 1000.0

typedef struct alec_rs_slot {
  uint64_t id;
  double last; /* monotonic seconds of the last request; 0: free */
} alec_rs_slot;

typedef struct alec_rs {
  alec_rs_slot *slots; /* 4-way buckets */
  size_t bucket_mask;
  double interval;
  double tokens, token_time;
  /* Pending requests of the datagram being processed. */
  uint64_t pending[ALEC_RS_BATCH];
  unsigned n_pending;
  int pending_bare;
  /* Statistics. */
  uint64_t sent;       /* keyframe requests sent (records) */
  uint64_t datagrams;  /* downlink datagrams sent */
  uint64_t limited;    /* requests suppressed by the rate limits */
  uint64_t failed;     /* sendto() errors */
} alec_rs;

/* Table for up to `emitters` emitters, one request per emitter and
 * `interval` seconds. 0, ALEC_EINVAL, ALEC_ENOMEM. */
int alec_rs_init(alec_rs *rs, size_t emitters, double interval);
void alec_rs_destroy(alec_rs *rs);

/* Starts a datagram (forgets pending requests). */
void alec_rs_begin(alec_rs *rs);
/* Asks emitter `id` for a keyframe if the limits allow it (now: monotonic
 * seconds); bare: the emitter sends bare frames (reply with the bare byte
 * 0xFF). Returns 1 when queued, 0 when rate limited. When the batch is full
 * it is sent first through `fd` to `to`. */
int alec_rs_request(alec_rs *rs, uint64_t id, int bare, double now, int fd, const struct sockaddr *to,
                    socklen_t tolen);
/* Sends what the datagram queued. Returns the bytes sent, 0 when nothing
 * was pending, or -1 on a send error (counted). */
int alec_rs_flush(alec_rs *rs, int fd, const struct sockaddr *to, socklen_t tolen);

#endif
