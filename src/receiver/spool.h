/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_SPOOL_H
#define ALEC_RECEIVER_SPOOL_H

/* The spool: messages a transport acknowledged on receipt (MQTT: mosquitto
 * sends the PUBACK itself, there is no deferred acknowledgement) whose
 * values collectd never stored because it stopped, kept in the state file
 * (state.h, format 3) and processed first at the next start. Without it a
 * collectd restart loses what its write threads still had queued (collectd
 * drops it before the plugins' shutdown callbacks run) and what was still
 * in the receive queue, and the broker will not deliver either again.
 *
 * Pointers are not serializable: a message's endpoint (the <MQTT> block it
 * came through) and profile are written by name and resolved against the
 * configuration at load; the endpoint also gives the SecurityLevel again.
 * A message that collectd's writers had begun to take (some of its value
 * lists written, the rest dropped) keeps how many: the next start
 * dispatches only the others, so no value is stored twice.
 * The reply handle (downlinks) is not kept: its client does not exist yet
 * when the spool is processed, and a keyframe request that a spooled
 * message would have caused is asked for by the next live uplink.
 *
 * Layout (big-endian, include/alec/wire.h), the body of the state file's
 * spool field:
 *
 *   version u8 = 1 | n u32 | n x entry
 *   entry: kind u8 | flags u8 | format u8 | channels u8 | fport i16 | fcnt u32 |
 *          emitter u64 | received f64 | event time f64 | rssi f32 | snr f32 |
 *          skip u16 (value lists already written: alec_rx_msg.skip) |
 *          endpoint (len u8, bytes) | profile | host | group (same) |
 *          payload length u32 (1..ALEC_SPOOL_MAX_PAYLOAD) | payload
 *
 * Independent of collectd and of the transports (tests/check_spool.c). */

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "queue.h"

#define ALEC_SPOOL_VERSION 1u
#define ALEC_SPOOL_MAX_PAYLOAD 65536u      /* MaxMessageSize's ceiling */
#define ALEC_SPOOL_MAX_BYTES (64u << 20)   /* whatever SpoolLimit says */
#define ALEC_SPOOL_LIMIT_DEFAULT 10000u    /* SpoolLimit */

/* 1 when m may be spooled: it came through an <MQTT> block of cfg and has
 * no completion hook of its own (at-least-once transports are redelivered
 * by their broker instead). */
int alec_spool_accepts(const alec_plugin_config *cfg, const alec_rx_msg *m);

/* What encoding or decoding left out. */
typedef struct alec_spool_counts {
  size_t kept;       /* written / restored */
  size_t over;       /* above the limit (messages or ALEC_SPOOL_MAX_BYTES) */
  size_t unresolved; /* load: endpoint or profile no longer configured */
} alec_spool_counts;

/* Serializes the list `head` (linked by next, in order) into *out (malloc,
 * free()), at most `limit` messages and ALEC_SPOOL_MAX_BYTES; the rest is
 * counted in c->over. A message that alec_spool_accepts refuses is counted
 * as over too. 0, or ALEC_ENOMEM. *out is NULL when nothing was kept. */
int alec_spool_encode(const alec_plugin_config *cfg, const alec_rx_msg *head, size_t limit, uint8_t **out,
                      size_t *len, alec_spool_counts *c);

/* Checks the structure of a spool body without a configuration (the state
 * file reader refuses a file whose spool does not parse): 0, ALEC_ETRUNC,
 * ALEC_ECORRUPT or ALEC_EVERSION. */
int alec_spool_check(const uint8_t *buf, size_t len);

/* Rebuilds the messages of a spool body, in order, resolved against cfg:
 * at most `limit` (the rest counted in c->over), those whose endpoint or
 * profile is gone counted in c->unresolved. *head is the list (free() each
 * message), NULL when empty. 0, or what alec_spool_check returns, or
 * ALEC_ENOMEM; on error *head is NULL. */
int alec_spool_decode(const alec_plugin_config *cfg, const uint8_t *buf, size_t len, size_t limit,
                      alec_rx_msg **head, alec_spool_counts *c);

#endif
