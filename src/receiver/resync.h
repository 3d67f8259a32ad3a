/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_RESYNC_H
#define ALEC_RECEIVER_RESYNC_H

/* Receiver-driven resynchronisation (docs/ENVELOPE.md, "Downlink";
 * docs/LORAWAN.md, "Downlinks"): when an emitter's frame shows a gap or
 * values the decoder could not reconstruct, the receiver asks that emitter
 * for a keyframe the way its message came (queue.h, alec_rx_reply): a UDP
 * reply from the socket it arrived on, or a downlink through the LoRaWAN
 * network server. Requests are limited per emitter (one per interval, and
 * at most `budget` per day: The Things Network's fair use allows about 10
 * downlinks a day, and a Class A device only listens after its next uplink,
 * so an early second request is wasted airtime) and globally (a token
 * bucket), because the source address of a UDP datagram can be forged: the
 * receiver must not become a reflector. All requests one message causes go
 * out together. The per-emitter part is a field of the receiver's
 * per-emitter record (receiver.c, em_slot): no table here. Dispatch thread
 * only; independent of collectd (tested by tests/check_state.c). */

#include <stddef.h>
#include <stdint.h>

#include "alec/downlink.h"
#include "queue.h"

/* Records of one downlink datagram: a batch from a gateway that lost many
 * frames at once is answered with datagrams of at most this many records. */
#define ALEC_RS_BATCH 64
/* Global budget: requests per second, and the burst allowed at once. */
#define ALEC_RS_GLOBAL_RATE 1000.0
#define ALEC_RS_GLOBAL_BURST 1000.0
#define ALEC_RS_DAY 86400.0

/* One emitter's requests. All zero: none yet. */
typedef struct alec_rs_emitter {
  double last;      /* monotonic seconds of the last request; 0: none */
  double day_start; /* start of the emitter's current budget day */
  uint32_t day_count;
} alec_rs_emitter;

typedef struct alec_rs {
  int ready;
  double interval;
  double tokens, token_time;
  /* Pending requests of the message being processed. */
  uint64_t pending[ALEC_RS_BATCH];
  unsigned n_pending;
  int pending_bare;
  uint64_t bare_id;
  /* Statistics. */
  uint64_t sent;      /* keyframe requests sent (records) */
  uint64_t datagrams; /* downlink messages sent */
  uint64_t limited;   /* requests suppressed by the limits */
  uint64_t failed;    /* send errors */
} alec_rs;

/* interval: ResyncInterval (s, >= 0). 0 or ALEC_EINVAL. */
int alec_rs_init(alec_rs *rs, double interval);

/* Starts a message: forgets pending requests. */
void alec_rs_begin(alec_rs *rs);
/* Asks for a keyframe from `id`, whose record is `e` (now: monotonic
 * seconds, > 0). e NULL (the receiver could not remember the emitter): not
 * asked, since its per-emitter limit could not hold. `bare`: the
 * emitter is addressed by the reply itself and takes the command byte alone.
 * The limits are ResyncInterval and r's policy (queue.h). 1 if queued for the flush, 0 if suppressed by a limit. A full batch is
 * flushed through `r` first. */
int alec_rs_request(alec_rs *rs, alec_rs_emitter *e, uint64_t id, int bare, double now, const alec_rx_reply *r);
/* Sends what is pending through r. Bytes sent, or -1 if a send failed. */
int alec_rs_flush(alec_rs *rs, const alec_rx_reply *r);

#endif
