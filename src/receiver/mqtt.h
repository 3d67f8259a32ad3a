/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_MQTT_H
#define ALEC_RECEIVER_MQTT_H

/* The MQTT transport: one libmosquitto client per <MQTT "name"> block, each
 * with its own network thread that only reads messages, turns them into
 * transport-neutral messages (queue.h) and pushes them into the receiver's
 * bounded queue. Nothing in that thread waits for decoding or collectd.
 *
 *   Dialect chirpstack / tts: the network server's uplink event (JSON,
 *     nsevent.h) -> ALEC_RX_PAYLOAD of the DevEUI, the profile its FPort
 *     maps to, its time, fCnt, best-gateway RSSI / SNR, host and group from
 *     the metadata, and a reply handle that publishes keyframe requests on
 *     the dialect's downlink topic (per-device budget and spacing).
 *   Dialect raw: the payload is an envelope datagram (ALEC_RX_DATAGRAM), or,
 *     with EmitterLevel, a bare frame of the emitter that topic level names.
 *
 * Redeliveries (QoS 1 duplicates, the same ChirpStack deduplicationId or TTS
 * correlation id) are decoded once: a bounded recent-id set per client. A
 * broker that is down does not stop collectd: connections are asynchronous
 * and retried with capped exponential backoff; disconnects are counted and
 * logged, rate limited. */

#include <stdint.h>

#include "config.h"
#include "nsevent.h"
#include "receiver.h"

/* Refusals of the transport itself, after the event parser's (nsevent.h):
 * X(NAME, statistics name, log text). */
#define ALEC_MQTT_REJECTS(X)                                                   \
  X(FPORT, "mqtt_unmapped_fport", "FPort not mapped to a <Profile> (FPort)")   \
  X(NO_PAYLOAD, "mqtt_no_payload", "uplink without a payload")                 \
  X(EMITTER, "mqtt_bad_emitter_id", "topic level is not an emitter id (EmitterLevel)")

enum {
  /* 0 .. ALEC_NS_KINDS - 1: the parser's kinds (-code - 1). */
#define ALEC_MQTT_REJ_ENUM(e, name, text) ALEC_MQTT_REJ_##e,
  ALEC_MQTT_REJ_BASE_ = ALEC_NS_KINDS - 1,
  ALEC_MQTT_REJECTS(ALEC_MQTT_REJ_ENUM)
#undef ALEC_MQTT_REJ_ENUM
  ALEC_MQTT_REJ_COUNT
};

/* Statistics name of a refusal counter ("ns_bad_base64", "mqtt_unmapped_fport"). */
const char *alec_mqtt_reject_name(int k);

typedef struct alec_mqtt_stats {
  const char *name; /* the block's */
  int connected;
  uint64_t messages, bytes;                    /* received from the broker */
  uint64_t duplicates;                         /* redeliveries dropped */
  uint64_t connects, disconnects, connect_failures;
  uint64_t downlinks, downlink_errors;         /* keyframe requests published */
  uint64_t rejected[ALEC_MQTT_REJ_COUNT];
} alec_mqtt_stats;

typedef struct alec_mqtt alec_mqtt;

/* Creates the clients of every <MQTT> block of cfg (no connection yet).
 * 0, or -1 (logged through the receiver). */
int alec_mqtt_open(alec_mqtt **out, const alec_plugin_config *cfg, alec_rx *rx);
/* Connects (asynchronously: an unreachable broker is retried, not an
 * error) and starts the network threads. 0 or -1 (logged). */
int alec_mqtt_start(alec_mqtt *t, alec_rx_spawn_fn spawn);
/* Disconnects and stops the threads. Idempotent. */
void alec_mqtt_stop(alec_mqtt *t);
void alec_mqtt_free(alec_mqtt *t);

size_t alec_mqtt_count(const alec_mqtt *t);
/* Any thread. */
void alec_mqtt_get_stats(alec_mqtt *t, size_t i, alec_mqtt_stats *out);

#endif
