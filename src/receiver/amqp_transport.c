/* SPDX-License-Identifier: MIT */
/* AMQP transport (amqp_transport.h). Each consumer thread owns its connection: it
 * alone calls rabbitmq-c. The dispatch thread reaches it only through the
 * small locked state below (the last delivery tag it finished, downlinks
 * to publish) and a wake-up pipe. */
#include "amqp_transport.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alec/downlink.h"
#include "alec/error.h"
#include "dedup.h"
#include "nsmsg.h"

#define CHANNEL 1
/* Delivery tags of one connection in the low bits of alec_rx_msg.done_tag,
 * the connection's generation above: a message finished after a reconnect
 * belongs to a channel that no longer exists and is not acknowledged (the
 * broker has already requeued it). */
#define TAG_BITS 48
#define TAG_MASK ((UINT64_C(1) << TAG_BITS) - 1)
#define DL_MAX 64       /* downlinks waiting for the consumer thread */
#define DL_KEY_LEN 256
#define DL_BODY_LEN 512
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0
/* At shutdown, what the receiver finishes in this time is acknowledged;
 * in collectd nothing is written any more by then (its write threads stop
 * before the plugins do), so this is short. */
#define DRAIN_SECONDS 0.5

typedef struct dl_item {
  char key[DL_KEY_LEN];
  char body[DL_BODY_LEN];
  size_t len;
} dl_item;

typedef struct consumer {
  alec_amqp *parent;
  alec_rx *rx;
  const alec_pc_amqp *cfg;
  alec_ns_source src;
  pthread_t thread;
  int started;
  int wake[2];

  /* Consumer thread only. */
  amqp_connection_state_t conn;
  int connected;
  uint32_t gen;
  uint64_t pushed; /* messages of this consumer queued, all generations */
  alec_ns_uplink *up;
  alec_dedup *seen; /* recent redelivery ids */
  double backoff;
  unsigned failures; /* connection attempts failed in a row */
  double next_beat;  /* when an idle connection sends its next heartbeat */

  /* Shared with the dispatch thread, under lock. */
  pthread_mutex_t lock;
  uint64_t done_tag; /* last message finished (generation | tag) */
  int has_done;
  uint64_t completed;
  int wake_pending;
  dl_item *dl;
  unsigned n_dl;

  /* Statistics (any thread reads). */
  atomic_int is_connected;
  atomic_uint_fast64_t deliveries, bytes, acked, redelivered, duplicates, connects, disconnects, connect_failures, waits,
      downlinks_sent, downlinks_failed, unmapped_fport, no_payload;
  atomic_uint_fast64_t rejected[ALEC_NS_KINDS + 1];
} consumer;

struct alec_amqp {
  alec_rx *rx;
  consumer *c;
  size_t n;
  atomic_int stop;
};

static double now_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_real(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void wake(consumer *c) {
  char b = 1;
  /* A full pipe already holds a wake-up. */
  if (write(c->wake[1], &b, 1) < 0 && errno != EAGAIN) alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp: wake: %s", strerror(errno));
}

/* ---- the dispatch thread's side ------------------------------------------------ */

static void on_done(void *ctx, uint64_t tag) {
  consumer *c = ctx;
  pthread_mutex_lock(&c->lock);
  c->done_tag = tag;
  c->has_done = 1;
  c->completed++;
  int need = !c->wake_pending;
  c->wake_pending = 1;
  pthread_mutex_unlock(&c->lock);
  if (need) wake(c);
}

/* The reply handle's send: formats the network server's downlink here,
 * publishes it from the consumer thread. */
static int send_reply(void *ctx, const uint8_t *where, size_t where_len, const uint64_t *ids, unsigned n, int bare) {
  consumer *c = ctx;
  (void)ids;
  (void)n;
  (void)bare; /* the routing key addresses the device: the command byte alone */
  dl_item item;
  int rc = alec_ns_keyframe_downlink(where, where_len, c->cfg->downlink_fport, item.key, sizeof item.key, item.body,
                                     sizeof item.body);
  if (rc != 0) {
    atomic_fetch_add(&c->downlinks_failed, 1);
    return rc;
  }
  /* The MQTT topic as an AMQP routing key: RabbitMQ's MQTT plugin hands
   * application.<id>.device.<devEui>.command.down on amq.topic to the MQTT
   * subscribers of application/<id>/device/<devEui>/command/down, which is
   * where ChirpStack v4 takes commands. */
  for (char *p = item.key; *p; p++)
    if (*p == '/') *p = '.';
  item.len = strlen(item.body);
  pthread_mutex_lock(&c->lock);
  int queued = c->n_dl < DL_MAX;
  if (queued) c->dl[c->n_dl++] = item;
  int need = queued && !c->wake_pending;
  if (need) c->wake_pending = 1;
  pthread_mutex_unlock(&c->lock);
  if (need) wake(c);
  if (!queued) {
    atomic_fetch_add(&c->downlinks_failed, 1);
    return ALEC_ENOSPC;
  }
  return 1;
}

/* ---- connection ------------------------------------------------------------------ */

static int reply_ok(consumer *c, amqp_rpc_reply_t r, const char *what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return 1;
  /* Logged on the first failure of a series and then at 1, 2, 4 ...
   * attempts: a broker that is down for an hour writes a few lines. */
  int log = (c->failures & (c->failures + 1)) == 0;
  if (!log) return 0;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp \"%s\": %s: %s", c->cfg->name, what, amqp_error_string2(r.library_error));
  else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD || r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const amqp_bytes_t *text = r.reply.id == AMQP_CONNECTION_CLOSE_METHOD
                                   ? &((amqp_connection_close_t *)r.reply.decoded)->reply_text
                                   : &((amqp_channel_close_t *)r.reply.decoded)->reply_text;
    unsigned code = r.reply.id == AMQP_CONNECTION_CLOSE_METHOD ? ((amqp_connection_close_t *)r.reply.decoded)->reply_code
                                                              : ((amqp_channel_close_t *)r.reply.decoded)->reply_code;
    alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp \"%s\": %s: broker says %u %.*s", c->cfg->name, what, code,
                (int)(text->len > 200 ? 200 : text->len), (const char *)text->bytes);
  } else
    alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp \"%s\": %s failed", c->cfg->name, what);
  return 0;
}

static void disconnect(consumer *c, int graceful) {
  if (c->conn == NULL) return;
  if (graceful && c->connected) {
    amqp_channel_close(c->conn, CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(c->conn);
  c->conn = NULL;
  if (c->connected) atomic_fetch_add(&c->disconnects, 1);
  c->connected = 0;
  atomic_store(&c->is_connected, 0);
}

static int connect_broker(consumer *c) {
  const alec_pc_amqp *cf = c->cfg;
  c->conn = amqp_new_connection();
  if (c->conn == NULL) return -1;
  amqp_socket_t *sock;
  if (cf->ca_cert[0]) {
    sock = amqp_ssl_socket_new(c->conn);
    if (sock == NULL) goto fail;
    amqp_ssl_socket_set_verify_peer(sock, 1);
    amqp_ssl_socket_set_verify_hostname(sock, 1);
    if (amqp_ssl_socket_set_cacert(sock, cf->ca_cert) != AMQP_STATUS_OK) {
      alec_rx_log(c->rx, ALEC_RX_LOG_ERROR, "amqp \"%s\": option `CACert' \"%s\": cannot load", cf->name, cf->ca_cert);
      goto fail;
    }
    if (cf->client_cert[0] && amqp_ssl_socket_set_key(sock, cf->client_cert, cf->client_key) != AMQP_STATUS_OK) {
      alec_rx_log(c->rx, ALEC_RX_LOG_ERROR, "amqp \"%s\": options `ClientCert'/`ClientKey': cannot load", cf->name);
      goto fail;
    }
  } else {
    sock = amqp_tcp_socket_new(c->conn);
    if (sock == NULL) goto fail;
  }
  struct timeval tv = {5, 0};
  int st = amqp_socket_open_noblock(sock, cf->host, cf->port, &tv);
  if (st != AMQP_STATUS_OK) {
    if ((c->failures & (c->failures + 1)) == 0)
      alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp \"%s\": connect to %s:%d: %s", cf->name, cf->host, cf->port,
                  amqp_error_string2(st));
    goto fail;
  }
  amqp_set_handshake_timeout(c->conn, &tv);
  amqp_set_rpc_timeout(c->conn, &tv);
  if (!reply_ok(c, amqp_login(c->conn, cf->vhost, 0, 131072, cf->heartbeat, AMQP_SASL_METHOD_PLAIN, cf->user, cf->password),
                "login"))
    goto fail;
  c->connected = 1; /* from here on, closed politely */
  amqp_channel_open(c->conn, CHANNEL);
  if (!reply_ok(c, amqp_get_rpc_reply(c->conn), "channel.open")) goto fail;
  amqp_basic_qos(c->conn, CHANNEL, 0, (uint16_t)cf->prefetch, 0);
  if (!reply_ok(c, amqp_get_rpc_reply(c->conn), "basic.qos")) goto fail;
  amqp_basic_consume(c->conn, CHANNEL, amqp_cstring_bytes(cf->queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  if (!reply_ok(c, amqp_get_rpc_reply(c->conn), "basic.consume")) goto fail;
  c->gen = (c->gen + 1) & 0xffff;
  pthread_mutex_lock(&c->lock);
  c->has_done = 0;
  pthread_mutex_unlock(&c->lock);
  atomic_fetch_add(&c->connects, 1);
  atomic_store(&c->is_connected, 1);
  alec_rx_log(c->rx, ALEC_RX_LOG_INFO, "amqp \"%s\": consuming queue \"%s\" on %s:%d%s%s", cf->name, cf->queue, cf->host,
              cf->port, c->failures ? " after " : "", c->failures ? "reconnecting" : "");
  c->failures = 0;
  c->backoff = BACKOFF_MIN;
  c->next_beat = now_mono() + cf->heartbeat / 2.0;
  return 0;
fail:
  {
    int was = c->connected;
    c->connected = 0; /* not counted as a disconnect */
    if (was) {
      amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(c->conn);
    c->conn = NULL;
  }
  atomic_fetch_add(&c->connect_failures, 1);
  c->failures++;
  return -1;
}

/* ---- the consumer thread ----------------------------------------------------------- */

/* Waits for the wake pipe (or the socket when fd >= 0) at most `seconds`;
 * 1 when woken by the pipe. */
static int wait_events(consumer *c, int fd, double seconds) {
  struct pollfd p[2] = {{.fd = c->wake[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
  int ms = seconds <= 0 ? 0 : (int)(seconds * 1000 + 0.5);
  int rc = poll(p, fd >= 0 ? 2 : 1, ms);
  if (rc > 0 && (p[0].revents & POLLIN)) {
    char buf[64];
    while (read(c->wake[0], buf, sizeof buf) > 0) {
    }
    pthread_mutex_lock(&c->lock);
    c->wake_pending = 0;
    pthread_mutex_unlock(&c->lock);
    return 1;
  }
  return 0;
}

/* One multiple-ack for everything the receiver finished since the last,
 * then the queued downlinks. 0, or -1 when the connection failed. */
static int flush(consumer *c) {
  pthread_mutex_lock(&c->lock);
  uint64_t tag = c->done_tag;
  int has = c->has_done;
  c->has_done = 0;
  unsigned n_dl = c->n_dl;
  dl_item *dl = NULL;
  if (n_dl) {
    dl = malloc(n_dl * sizeof *dl);
    if (dl) memcpy(dl, c->dl, n_dl * sizeof *dl);
    else atomic_fetch_add(&c->downlinks_failed, n_dl);
    c->n_dl = 0;
  }
  pthread_mutex_unlock(&c->lock);
  int rc = 0;
  if (has && (tag >> TAG_BITS) == c->gen && c->connected) {
    if (amqp_basic_ack(c->conn, CHANNEL, tag & TAG_MASK, 1) != AMQP_STATUS_OK) rc = -1;
    else atomic_fetch_add(&c->acked, 1);
  }
  for (unsigned i = 0; dl && i < n_dl; i++) {
    if (!c->connected || rc != 0) {
      atomic_fetch_add(&c->downlinks_failed, 1);
      continue;
    }
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2;
    amqp_bytes_t body = {dl[i].len, dl[i].body};
    if (amqp_basic_publish(c->conn, CHANNEL, amqp_cstring_bytes(c->cfg->downlink_exchange), amqp_cstring_bytes(dl[i].key),
                           0, 0, &props, body) == AMQP_STATUS_OK)
      atomic_fetch_add(&c->downlinks_sent, 1);
    else {
      atomic_fetch_add(&c->downlinks_failed, 1);
      rc = -1;
    }
  }
  free(dl);
  return rc;
}

/* Individually: the delivery is not in the receiver's queue, so the next
 * multiple-ack must not be relied on for it. */
static int settle(consumer *c, uint64_t tag, int accept) {
  int st = accept ? amqp_basic_ack(c->conn, CHANNEL, tag, 0) : amqp_basic_reject(c->conn, CHANNEL, tag, 0);
  return st == AMQP_STATUS_OK ? 0 : -1;
}

static void count_reject(consumer *c, int code, size_t len) {
  int k = -code;
  if (k >= 1 && k <= ALEC_NS_KINDS) atomic_fetch_add(&c->rejected[k], 1);
  alec_rx_reject(c->rx, code == ALEC_NS_EOVERSIZED ? ALEC_RX_REJ_OVERSIZED : ALEC_RX_REJ_MALFORMED, c->cfg->name,
                 UINT64_MAX, "event of %zu bytes: %s", len, alec_ns_strerror(code));
}

/* A delivery into a message. 1 queued; 0 settled here (refused or a
 * duplicate); -1 the connection failed. *pending receives a message that
 * did not fit the full receive queue (the caller retries). */
static int on_delivery(consumer *c, amqp_envelope_t *env, alec_rx_msg **pending) {
  atomic_fetch_add(&c->deliveries, 1);
  atomic_fetch_add(&c->bytes, env->message.body.len);
  if (env->redelivered) atomic_fetch_add(&c->redelivered, 1);
  const amqp_bytes_t *b = &env->message.body;
  if (b->len > (size_t)c->cfg->max_message_size) {
    count_reject(c, ALEC_NS_EOVERSIZED, b->len);
    return settle(c, env->delivery_tag, 0);
  }
  int rc = alec_ns_parse_uplink(c->cfg->dialect, b->bytes, b->len, c->up);
  if (rc == ALEC_NS_ENOT_UPLINK) return settle(c, env->delivery_tag, 1); /* join, status...: not ours, not wrong */
  if (rc < 0) {
    count_reject(c, rc, b->len);
    return settle(c, env->delivery_tag, 0);
  }
  const alec_ns_uplink *u = c->up;
  uint64_t key = alec_dedup_key(u->dedup_id);
  if (alec_dedup_has(c->seen, key)) {
    atomic_fetch_add(&c->duplicates, 1);
    return settle(c, env->delivery_tag, 1);
  }
  alec_rx_msg *m;
  rc = alec_ns_to_msg(&c->src, u, now_real(), &m);
  if (rc != 0) {
    if (rc == ALEC_NSMSG_UNMAPPED_FPORT) {
      atomic_fetch_add(&c->unmapped_fport, 1);
      alec_rx_reject(c->rx, ALEC_RX_REJ_FORMAT, c->cfg->name, u->dev_eui, "uplink on FPort %d: no FPort mapping",
                     u->has_fport ? u->fport : -1);
    } else if (rc == ALEC_NSMSG_NO_PAYLOAD)
      atomic_fetch_add(&c->no_payload, 1);
    /* ALEC_ENOMEM: back to the broker, perhaps for another receiver. */
    if (rc < 0) return amqp_basic_reject(c->conn, CHANNEL, env->delivery_tag, 1) == AMQP_STATUS_OK ? 0 : -1;
    return settle(c, env->delivery_tag, rc == ALEC_NSMSG_NO_PAYLOAD);
  }
  alec_dedup_add(c->seen, key); /* only once converted: a refused one is refused again */
  m->done = on_done;
  m->done_ctx = c;
  m->done_tag = ((uint64_t)c->gen << TAG_BITS) | (env->delivery_tag & TAG_MASK);
  *pending = m;
  return 1;
}

/* 1 queued (or nothing pending), 0 the queue is full. */
static int push_pending(consumer *c, alec_rx_msg **pending) {
  if (*pending == NULL) return 1;
  size_t len = (*pending)->len;
  if (alec_rxq_push(alec_rx_queue(c->rx), pending, 1) != 1) return 0;
  alec_rx_ingress *in = alec_rx_ingress_counters(c->rx);
  atomic_fetch_add_explicit(&in->messages, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&in->bytes, len, memory_order_relaxed);
  c->pushed++;
  *pending = NULL;
  return 1;
}

/* Reads what the broker sent that is not a delivery. 0, or -1 when the
 * connection or the channel closed. */
static int other_frame(consumer *c) {
  amqp_frame_t f;
  struct timeval tv = {0, 0};
  int st = amqp_simple_wait_frame_noblock(c->conn, &f, &tv);
  if (st == AMQP_STATUS_TIMEOUT) return 0;
  if (st != AMQP_STATUS_OK) return -1;
  if (f.frame_type != AMQP_FRAME_METHOD) return 0;
  switch (f.payload.method.id) {
  case AMQP_CHANNEL_CLOSE_METHOD:
  case AMQP_CONNECTION_CLOSE_METHOD:
  case AMQP_BASIC_CANCEL_METHOD: /* the queue was deleted */
    alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp \"%s\": the broker closed the %s", c->cfg->name,
                f.payload.method.id == AMQP_BASIC_CANCEL_METHOD ? "consumer" : "channel");
    return -1;
  default: return 0;
  }
}

/* Lets the receiver finish what was queued and acknowledges it, at most
 * DRAIN_SECONDS. */
static void drain(consumer *c) {
  double end = now_mono() + DRAIN_SECONDS;
  while (c->connected) {
    pthread_mutex_lock(&c->lock);
    uint64_t completed = c->completed;
    pthread_mutex_unlock(&c->lock);
    if (flush(c) != 0) break;
    if (completed >= c->pushed) break;
    double left = end - now_mono();
    if (left <= 0) {
      alec_rx_log(c->rx, ALEC_RX_LOG_INFO, "amqp \"%s\": %" PRIu64 " messages not acknowledged at shutdown (redelivered)",
                  c->cfg->name, c->pushed - completed);
      break;
    }
    wait_events(c, -1, left < 0.05 ? left : 0.05);
  }
}

static void *consumer_main(void *arg) {
  consumer *c = arg;
  alec_amqp *a = c->parent;
  alec_rx_msg *pending = NULL;
  c->backoff = BACKOFF_MIN;
  while (!atomic_load(&a->stop)) {
    if (!c->connected) {
      if (connect_broker(c) != 0) {
        wait_events(c, -1, c->backoff);
        c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c->backoff * 2;
        continue;
      }
    }
    int bad = flush(c) != 0;
    if (!bad && c->cfg->heartbeat > 0 && now_mono() >= c->next_beat) {
      /* Our own heartbeat every Heartbeat/2 s: nothing else is sent on an
       * idle connection, and the broker closes it after two silent
       * heartbeat periods. */
      amqp_frame_t hb;
      memset(&hb, 0, sizeof hb);
      hb.frame_type = AMQP_FRAME_HEARTBEAT;
      hb.channel = 0;
      if (amqp_send_frame(c->conn, &hb) != AMQP_STATUS_OK) bad = 1;
      c->next_beat = now_mono() + c->cfg->heartbeat / 2.0;
    }
    if (!bad && !push_pending(c, &pending)) {
      /* The receive queue is full: the broker holds the rest. */
      atomic_fetch_add(&c->waits, 1);
      wait_events(c, -1, 0.002);
      continue;
    }
    if (!bad && !amqp_data_in_buffer(c->conn) && !amqp_frames_enqueued(c->conn))
      wait_events(c, amqp_get_sockfd(c->conn), 1.0);
    while (!bad && pending == NULL && !atomic_load(&a->stop)) {
      amqp_envelope_t env;
      struct timeval tv = {0, 0};
      amqp_maybe_release_buffers(c->conn);
      amqp_rpc_reply_t r = amqp_consume_message(c->conn, &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        int rc = on_delivery(c, &env, &pending);
        amqp_destroy_envelope(&env);
        if (rc < 0) bad = 1;
        else if (rc == 1 && !push_pending(c, &pending)) break;
        continue;
      }
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) break;
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        if (other_frame(c) != 0) bad = 1;
        continue;
      }
      bad = 1;
    }
    if (bad) {
      if (!atomic_load(&a->stop))
        alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "amqp \"%s\": connection lost, reconnecting", c->cfg->name);
      free(pending); /* not acknowledged: the broker requeues it */
      pending = NULL;
      disconnect(c, 0);
    }
  }
  free(pending);
  drain(c);
  disconnect(c, 1);
  alec_rx_log(c->rx, ALEC_RX_LOG_INFO,
              "amqp \"%s\": stopped; %" PRIu64 " deliveries, %" PRIu64 " redelivered, %" PRIu64 " duplicates, %" PRIu64
              " acknowledgements, %" PRIu64 " reconnects",
              c->cfg->name, (uint64_t)atomic_load(&c->deliveries), (uint64_t)atomic_load(&c->redelivered),
              (uint64_t)atomic_load(&c->duplicates), (uint64_t)atomic_load(&c->acked),
              (uint64_t)(atomic_load(&c->connects) ? atomic_load(&c->connects) - 1 : 0));
  return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------- */

int alec_amqp_open(alec_amqp **out, const alec_plugin_config *cfg, alec_rx *rx) {
  *out = NULL;
  if (cfg->n_amqp == 0) return 0;
  alec_amqp *a = calloc(1, sizeof *a);
  if (a == NULL) return -1;
  a->rx = rx;
  a->c = calloc(cfg->n_amqp, sizeof *a->c);
  if (a->c == NULL) {
    free(a);
    return -1;
  }
  for (size_t i = 0; i < cfg->n_amqp; i++) {
    consumer *c = &a->c[i];
    c->parent = a;
    c->rx = rx;
    c->cfg = &cfg->amqp[i];
    c->wake[0] = c->wake[1] = -1;
    pthread_mutex_init(&c->lock, NULL);
    a->n++;
    c->src = (alec_ns_source){.dialect = c->cfg->dialect,
                              .security = ALEC_PC_SEC_NONE, /* the network server authenticated the device */
                              .group_from = c->cfg->group_from,
                              .profile = alec_pc_amqp_fport,
                              .profile_arg = c->cfg,
                              .endpoint = c,
                              .reply_send = c->cfg->downlinks ? send_reply : NULL,
                              .reply_ctx = c,
                              .reply_budget = (unsigned)c->cfg->downlink_budget,
                              .reply_interval = c->cfg->downlink_interval};
    c->up = malloc(sizeof *c->up);
    c->seen = calloc(1, sizeof *c->seen);
    c->dl = calloc(DL_MAX, sizeof *c->dl);
    if (c->up == NULL || c->seen == NULL || c->dl == NULL || pipe(c->wake) != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "amqp \"%s\": out of resources", c->cfg->name);
      alec_amqp_free(a);
      return -1;
    }
    for (int k = 0; k < 2; k++) {
      fcntl(c->wake[k], F_SETFD, FD_CLOEXEC);
      fcntl(c->wake[k], F_SETFL, fcntl(c->wake[k], F_GETFL) | O_NONBLOCK);
    }
  }
  *out = a;
  return 0;
}

int alec_amqp_start(alec_amqp *a, alec_rx_spawn_fn spawn) {
  if (a == NULL) return 0;
  atomic_store(&a->stop, 0);
  for (size_t i = 0; i < a->n; i++) {
    /* A broker that is down does not stop collectd: the thread connects
     * (and reconnects) by itself. */
    if (spawn(&a->c[i].thread, consumer_main, &a->c[i], "alec amqp") != 0) {
      alec_rx_log(a->rx, ALEC_RX_LOG_ERROR, "amqp \"%s\": cannot start its thread", a->c[i].cfg->name);
      return -1;
    }
    a->c[i].started = 1;
  }
  return 0;
}

void alec_amqp_stop(alec_amqp *a) {
  if (a == NULL) return;
  atomic_store(&a->stop, 1);
  for (size_t i = 0; i < a->n; i++)
    if (a->c[i].started) wake(&a->c[i]);
  for (size_t i = 0; i < a->n; i++)
    if (a->c[i].started) {
      pthread_join(a->c[i].thread, NULL);
      a->c[i].started = 0;
    }
}

void alec_amqp_free(alec_amqp *a) {
  if (a == NULL) return;
  alec_amqp_stop(a);
  for (size_t i = 0; i < a->n; i++) {
    consumer *c = &a->c[i];
    if (c->conn) amqp_destroy_connection(c->conn);
    for (int k = 0; k < 2; k++)
      if (c->wake[k] >= 0) close(c->wake[k]);
    free(c->up);
    free(c->seen);
    free(c->dl);
    pthread_mutex_destroy(&c->lock);
  }
  free(a->c);
  free(a);
}

size_t alec_amqp_count(const alec_amqp *a) { return a ? a->n : 0; }

void alec_amqp_get_stats(alec_amqp *a, size_t i, alec_amqp_stats *out) {
  memset(out, 0, sizeof *out);
  if (a == NULL || i >= a->n) return;
  consumer *c = &a->c[i];
  out->name = c->cfg->name;
  out->connected = atomic_load(&c->is_connected);
  out->deliveries = atomic_load(&c->deliveries);
  out->bytes = atomic_load(&c->bytes);
  out->acked = atomic_load(&c->acked);
  out->redelivered = atomic_load(&c->redelivered);
  out->duplicates = atomic_load(&c->duplicates);
  out->connects = atomic_load(&c->connects);
  out->disconnects = atomic_load(&c->disconnects);
  out->connect_failures = atomic_load(&c->connect_failures);
  out->waits = atomic_load(&c->waits);
  out->downlinks_sent = atomic_load(&c->downlinks_sent);
  out->downlinks_failed = atomic_load(&c->downlinks_failed);
  out->unmapped_fport = atomic_load(&c->unmapped_fport);
  out->no_payload = atomic_load(&c->no_payload);
  for (int k = 1; k <= ALEC_NS_KINDS; k++) out->rejected[k] = atomic_load(&c->rejected[k]);
}
