/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_AMQP_H
#define ALEC_RECEIVER_AMQP_H

/* The AMQP transport (RabbitMQ, rabbitmq-c): one consumer per <AMQP> block,
 * each with its own thread and connection, that only turns deliveries into
 * receiver messages (nsmsg.h) and feeds the bounded queue.
 *
 * At-least-once: a delivery is acknowledged only after the dispatch thread
 * handed its values to the sink (alec_rx_msg.done); rabbitmq-c connections
 * are not thread-safe, so the dispatch thread only records what is done and
 * the consumer thread sends the acknowledgements (one multiple-ack per
 * batch) and the keyframe requests. A full receive queue is never a drop
 * here: the consumer waits and the broker keeps the messages (the prefetch
 * window bounds what is in flight). Redeliveries are recognised by the
 * event's deduplication id and decoded once; what the receiver decoded
 * before a restart is refused by the decoder's sequence check.
 * Disconnects reconnect with exponential backoff (0.5 s .. 30 s), counted. */

#include <stdint.h>

#include "amqpconf.h"
#include "nsevent.h"
#include "receiver.h"

typedef struct alec_amqp alec_amqp;

/* What one <AMQP> block counts. */
typedef struct alec_amqp_stats {
  const char *name; /* the block's */
  int connected;
  uint64_t deliveries, bytes, acked, redelivered, duplicates;
  uint64_t connects, disconnects, connect_failures;
  uint64_t waits; /* times a delivery waited for room in the receive queue */
  uint64_t downlinks_sent, downlinks_failed;
  uint64_t unmapped_fport, no_payload;
  uint64_t rejected[ALEC_NS_KINDS + 1]; /* by ns kind, index -code */
} alec_amqp_stats;

/* One consumer per <AMQP> block of cfg (none: *out = NULL, 0). */
int alec_amqp_open(alec_amqp **out, const alec_plugin_config *cfg, alec_rx *rx);
int alec_amqp_start(alec_amqp *a, alec_rx_spawn_fn spawn);
/* Stops taking deliveries, waits (at most a few seconds) until what was
 * queued is processed and acknowledged, closes the connections and joins
 * the threads. What stays unacknowledged goes back to the queue (the
 * broker redelivers it). Idempotent. */
void alec_amqp_stop(alec_amqp *a);
void alec_amqp_free(alec_amqp *a);
/* Blocks (0 for NULL) and the statistics of block i. */
size_t alec_amqp_count(const alec_amqp *a);
void alec_amqp_get_stats(alec_amqp *a, size_t i, alec_amqp_stats *out);

#endif
