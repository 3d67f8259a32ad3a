/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_QUEUE_H
#define ALEC_RECEIVER_QUEUE_H

/* The bounded queue between the transports (UDP sockets, MQTT clients),
 * which only copy what they receive into transport-neutral messages, and
 * the receiver's dispatch thread, which does everything else.
 *
 * Several producers, one consumer. Producers never block on the consumer: a
 * full queue (by count or by bytes) refuses the message and the transport
 * counts the drop. The consumer is woken for batches, not for every message:
 * the first message into an idle queue wakes it, and it then waits at most
 * ALEC_RXQ_GATHER_NS for more (or until ALEC_RXQ_BATCH are queued) before it
 * drains everything. At one LoRaWAN uplink per message, thread wake-ups, not
 * bytes, are what a message costs. Independent of collectd. */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "alec/frame.h"

#define ALEC_RXQ_BATCH 64
#define ALEC_RXQ_GATHER_NS 1000000L /* 1 ms */
#define ALEC_RX_NAME_LEN 128 /* collectd's DATA_MAX_NAME_LEN */
#define ALEC_RX_GROUP_LEN 64 /* the fleet module's ALEC_FLEET_GROUP_MAX + 1 */
#define ALEC_RX_REPLY_MAX 256

/* What a message is, which decides how the receiver reads it. */
enum alec_rx_kind {
  /* A UDP datagram: an envelope, or a bare frame identified by the sender's
   * address (a configured Source). */
  ALEC_RX_DATAGRAM = 1,
  /* One payload of an emitter the transport identified (a LoRaWAN DevEUI):
   * an ALEC frame of the profile's family, or the device's own fallback
   * format (Milesight TLV) when the profile allows it. */
  ALEC_RX_PAYLOAD = 2
};

struct alec_rx_msg;
/* How a keyframe request goes back the way the message came (UDP: the
 * socket and sender address; MQTT: the network server's downlink topic).
 * `where` is the transport's own; the receiver only keeps and passes it. */
typedef struct alec_rx_reply {
  /* Sends a keyframe request for the emitters ids[0..n): `bare` asks for
   * the command byte alone (the emitter is addressed by `where` itself).
   * Returns the bytes sent, or a negative ALEC_E* code. */
  int (*send)(void *ctx, const uint8_t *where, size_t where_len, const uint64_t *ids, unsigned n, int bare);
  void *ctx;
  /* The transport's downlink policy: at most `budget` requests per emitter
   * and day (0: unlimited), at least `interval` seconds apart (on top of
   * ResyncInterval). */
  unsigned budget;
  double interval;
  uint16_t where_len;
  uint8_t where[ALEC_RX_REPLY_MAX];
} alec_rx_reply;

typedef struct alec_rx_msg {
  struct alec_rx_msg *next; /* the consumer's batch list */
  uint8_t kind;             /* enum alec_rx_kind */
  uint8_t security;         /* SecurityLevel of the endpoint it arrived on (config.h) */
  uint8_t has_emitter, has_event_time, has_fcnt, has_rssi, has_snr;
  uint8_t format, channels;  /* ALEC_RX_PAYLOAD: the endpoint's profile for this FPort, 0: unset */
  int16_t fport;            /* LoRaWAN FPort, -1: none */
  uint32_t fcnt;            /* LoRaWAN uplink frame counter */
  uint64_t emitter;         /* ALEC_RX_PAYLOAD: the transport's identity */
  double received;          /* receive time, CLOCK_REALTIME seconds */
  double event_time;        /* the network server's time of the uplink */
  float rssi, snr;          /* best gateway */
  const void *endpoint;     /* the transport's endpoint */
  /* ALEC_RX_PAYLOAD: the profile the transport mapped this FPort to (its
   * format, channels, channel map, TLV fallback), NULL: the emitter's own. */
  const struct alec_pc_profile *profile;
  char host[ALEC_RX_NAME_LEN];   /* from metadata, "" unset */
  char group[ALEC_RX_GROUP_LEN]; /* from metadata, "" unset */
  struct sockaddr_storage from;  /* ALEC_RX_DATAGRAM: sender (bare-frame source) */
  socklen_t from_len;
  alec_rx_reply reply;
  /* Called once the receiver is done with the message (its values handed
   * to the sink, or it was refused), on the thread that processed it, just
   * before it is freed; NULL: nothing to do. At-least-once transports
   * (AMQP) acknowledge here, so a message is acknowledged only after
   * collectd has its values. */
  void (*done)(void *ctx, uint64_t tag);
  void *done_ctx;
  uint64_t done_tag;
  /* Restored from the spool (spool.h): value lists of this message that
   * collectd's writers had taken before the stop, not dispatched again. */
  uint16_t skip;
  size_t len;
  uint8_t data[]; /* len bytes */
} alec_rx_msg;

typedef struct alec_rxq {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  alec_rx_msg *head, *tail;
  size_t count, bytes;
  size_t length;    /* most messages queued at once */
  size_t max_bytes; /* most payload bytes queued at once */
  int waiting;      /* 0: busy; 1: idle (wake on the first push); 2: gathering (wake at BATCH) */
  int interrupted;  /* sticky: only shutdown interrupts */
  int ready;
} alec_rxq;

/* A message with room for len payload bytes, zeroed but for data; free(). */
alec_rx_msg *alec_rx_msg_new(size_t len);

/* 0, ALEC_EINVAL (length 0), ALEC_ENOMEM. */
int alec_rxq_init(alec_rxq *q, size_t length, size_t max_bytes);
/* Frees the messages still queued. */
void alec_rxq_destroy(alec_rxq *q);
/* Producers: queues msgs[0..n) in order until one does not fit; returns
 * how many were queued (the rest stay the caller's). */
size_t alec_rxq_push(alec_rxq *q, alec_rx_msg *const *msgs, size_t n);
/* Consumer: sleeps until a message is queued, alec_rxq_interrupt() or
 * `deadline` (CLOCK_MONOTONIC) passes, gathers for at most
 * ALEC_RXQ_GATHER_NS, then takes every queued message. Returns the list
 * (NULL when none); the caller frees each message. */
alec_rx_msg *alec_rxq_take(alec_rxq *q, const struct timespec *deadline);
/* Consumer: takes what is queued without sleeping. */
alec_rx_msg *alec_rxq_take_now(alec_rxq *q);
/* Any thread: wakes the consumer now and in every later take (shutdown). */
void alec_rxq_interrupt(alec_rxq *q);
size_t alec_rxq_count(alec_rxq *q);

#endif
