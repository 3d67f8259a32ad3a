/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_NSMSG_H
#define ALEC_RECEIVER_NSMSG_H

/* From a network server's uplink event to the receiver's message: the one
 * step every LoRaWAN transport (MQTT, AMQP) shares, so that a ChirpStack or
 * TTS uplink means the same thing whichever broker carried it. The
 * transport parses the event (nsevent.h), says what its block configures
 * (alec_ns_source) and queues the message it gets back. */

#include "nsevent.h"
#include "queue.h"

struct alec_pc_profile;

/* What a transport block says about the uplinks it receives. */
typedef struct alec_ns_source {
  int dialect;            /* ALEC_NS_CHIRPSTACK or ALEC_NS_TTS */
  int security;           /* ALEC_PC_SEC_* of the block */
  const char *group_from; /* GroupFrom, NULL or "" for none */
  /* The <Profile> an FPort maps to, or NULL when the port is not mapped. */
  const struct alec_pc_profile *(*profile)(const void *arg, int fport);
  const void *profile_arg;
  const void *endpoint; /* alec_rx_msg.endpoint */
  /* Downlinks: NULL send for none. The reply's `where` is an alec_ns_where
   * (alec_ns_where_uplink() turns it back into what the formatter needs). */
  int (*reply_send)(void *ctx, const uint8_t *where, size_t where_len, const uint64_t *ids, unsigned n, int bare);
  void *reply_ctx;
  unsigned reply_budget;
  double reply_interval;
} alec_ns_source;

/* The reply handle's `where`: what a downlink's topic or routing key and
 * body need of the uplink (the uplink struct is far larger than a reply). */
typedef struct alec_ns_where {
  int dialect;
  uint8_t fport;
  uint64_t dev_eui;
  char application_id[ALEC_NS_ID_LEN];
  char device_id[ALEC_NS_ID_LEN];
  char tenant_id[ALEC_NS_ID_LEN];
} alec_ns_where;
_Static_assert(sizeof(alec_ns_where) <= ALEC_RX_REPLY_MAX, "a downlink address must fit alec_rx_reply");

/* Formats the keyframe request for reply address `where` (where_len bytes)
 * on `fport` (<= 0: the uplink's): topic (ChirpStack/TTS MQTT form) and
 * JSON body. 0, or ALEC_EINVAL / ALEC_ENOMEM. */
int alec_ns_keyframe_downlink(const uint8_t *where, size_t where_len, int fport, char *topic, size_t topic_cap,
                              char *body, size_t body_cap);

/* Why an uplink that parsed is not for the receiver (positive, so that
 * they never mix with the parser's negative kinds). */
enum {
  ALEC_NSMSG_UNMAPPED_FPORT = 1, /* no FPort, or an FPort without a profile */
  ALEC_NSMSG_NO_PAYLOAD = 2      /* an uplink without FRMPayload (a MAC-only frame) */
};

/* Host names and groups become collectd identifiers, and the csv and rrd
 * writers make directories of them: only [A-Za-z0-9_-] and '.' (not
 * leading) are kept, anything else becomes '_' (the MQTT transport's rule). */
void alec_ns_safe_name(const char *in, char *out, size_t cap);

/* Builds the ALEC_RX_PAYLOAD message of uplink u received at `received`
 * (CLOCK_REALTIME s): emitter = DevEUI, the FPort's profile, host =
 * device name, group per GroupFrom, event time, fCnt, best-gateway RSSI and
 * SNR (names through alec_ns_safe_name), and the reply handle when the
 * source has downlinks. 0 and *out (free()), an
 * ALEC_NSMSG_* reason, or ALEC_ENOMEM. */
int alec_ns_to_msg(const alec_ns_source *src, const alec_ns_uplink *u, double received, alec_rx_msg **out);

#endif
