/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_DEDUP_H
#define ALEC_RECEIVER_DEDUP_H

/* Recent redelivery ids of network-server uplinks (ChirpStack's
 * deduplicationId, TTS's correlation id): a broker redelivers what was in
 * flight, seconds old, not hours, so two generations of at most
 * ALEC_DEDUP_GEN ids each remember an id for at least the last
 * ALEC_DEDUP_GEN uplinks. Ids are kept as keyed 64-bit hashes: a publisher
 * cannot choose ids that collide or evict each other, and memory is fixed
 * (128 KiB) whatever the ids say. The MQTT and AMQP transports and
 * alec-replay's MQTT captures share it, so that a capture replays as the
 * plugin received it. Not thread-safe: one per consumer thread. */

#include <stdint.h>

#define ALEC_DEDUP_GEN 4096
#define ALEC_DEDUP_SLOTS (2 * ALEC_DEDUP_GEN)

typedef struct alec_dedup {
  struct {
    uint64_t slot[ALEC_DEDUP_SLOTS]; /* 0: free */
    unsigned used;
  } gen[2]; /* gen[cur] is filled, the other is the previous one */
  int cur;
} alec_dedup;

/* Zeroed memory is an empty set; this clears one in use. */
void alec_dedup_clear(alec_dedup *d);
/* The key of an id ("" has none: 0). */
uint64_t alec_dedup_key(const char *id);
/* 1 when key was remembered recently. */
int alec_dedup_has(const alec_dedup *d, uint64_t key);
/* Remembers key (a no-op for 0 or a key already there). */
void alec_dedup_add(alec_dedup *d, uint64_t key);

#endif
