/* SPDX-License-Identifier: MIT */
/* MQTT transport (mqtt.h). Each client runs its own loop around
 * mosquitto_loop() rather than mosquitto_loop_forever(): the latter returns
 * for good on a DNS or TLS failure, and a broker that comes back under its
 * name later must still be reached; the loop also lets shutdown end the
 * thread within one poll. Callbacks run on the client's thread; downlinks
 * are published from the receiver's dispatch thread (threaded mode). */

#include "mqtt.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/downlink.h"
#include "alec/error.h"
#include "dedup.h"
#include "nsmsg.h"

#define LOOP_TIMEOUT_MS 200
#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 60.0
#define LOG_INTERVAL 10.0
#define CONN_LOG_INTERVAL 60.0
/* mosquitto_loop() reads one packet per select(): while the broker has a
 * backlog, up to READ_BURST more are read without one, so a message costs
 * its reads only. A burst that found nothing (one read wasted) makes the
 * next READ_SKIP loops skip the attempt: at one message per wake-up the
 * extra read then costs 1/READ_SKIP of a syscall. */
#define READ_BURST 256
#define READ_SKIP 8
/* A wake-up that found two messages or more: the broker is sending faster
 * than one per wake-up, so the next select() waits this long first and
 * then finds a batch (as the receiver's queue gathers, queue.h). QoS 0
 * only: at QoS 1 the broker sends at most its in-flight window (20 by
 * default) before our acknowledgements, which the wait would hold back. */
#define GATHER_NS 1000000L
/* Messages handed to the receiver's queue at once: one lock and at most
 * one wake-up of its dispatch thread per batch. */
#define SUBMIT_BATCH 64

static const char *const mqtt_rej_name[] = {
#define NAME_(e, name, text) name,
    ALEC_MQTT_REJECTS(NAME_)
#undef NAME_
};
static const char *const mqtt_rej_text[] = {
#define TEXT_(e, name, text) text,
    ALEC_MQTT_REJECTS(TEXT_)
#undef TEXT_
};

const char *alec_mqtt_reject_name(int k) {
  if (k >= 0 && k < ALEC_NS_KINDS) return alec_ns_kind_name(-(k + 1));
  if (k >= ALEC_NS_KINDS && k < ALEC_MQTT_REJ_COUNT) return mqtt_rej_name[k - ALEC_NS_KINDS];
  return "unknown";
}

static const char *reject_text(int k) {
  if (k >= 0 && k < ALEC_NS_KINDS) return alec_ns_strerror(-(k + 1));
  return mqtt_rej_text[k - ALEC_NS_KINDS];
}

typedef struct limiter {
  double last;
  uint64_t suppressed;
} limiter;

typedef struct client {
  alec_mqtt *owner;
  const alec_pc_mqtt *cfg;
  alec_rx *rx;
  struct mosquitto *mosq;
  pthread_t thread;
  int started;
  atomic_int stop;
  atomic_int connected;
  /* Client thread only. */
  int need_connect;
  int session_up; /* CONNACK accepted since the last connection attempt */
  double backoff;
  unsigned burst_skip; /* loops left without a read burst (READ_SKIP) */
  uint64_t arrived;     /* messages seen, for the read burst */
  alec_rx_msg *pending[SUBMIT_BATCH]; /* parsed, not yet queued */
  size_t n_pending;
  alec_dedup dedup; /* recent redelivery ids */
  alec_ns_uplink up;
  alec_ns_source src; /* what this block says about its uplinks (nsmsg.h) */
  /* Problems and successes apart: a disconnect right after the start must
   * be logged, not swallowed by the rate limit of the "connected" line. */
  limiter trouble_log, up_log, rej_log[ALEC_MQTT_REJ_COUNT];
  /* Counters, any thread. */
  atomic_uint_fast64_t messages, bytes, duplicates, connects, disconnects, connect_failures;
  atomic_uint_fast64_t downlinks, downlink_errors;
  atomic_uint_fast64_t rejected[ALEC_MQTT_REJ_COUNT];
} client;

struct alec_mqtt {
  alec_rx *rx;
  size_t n;
  client *c;
  int lib_init;
};

static double now_real(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void add(atomic_uint_fast64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }

/* 1 when a line may be logged now; *more: how many were not since. */
static int due(limiter *l, double interval, uint64_t *more) {
  double now = now_mono();
  if (l->last != 0 && now - l->last < interval) {
    l->suppressed++;
    return 0;
  }
  *more = l->suppressed;
  l->suppressed = 0;
  l->last = now;
  return 1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void reject(client *c, int kind, const char *topic, const char *fmt, ...) {
  add(&c->rejected[kind], 1);
  uint64_t more;
  if (!due(&c->rej_log[kind], LOG_INTERVAL, &more)) return;
  char detail[256] = "", tail[64] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
  }
  if (more) snprintf(tail, sizeof tail, " (%" PRIu64 " more not logged)", more);
  alec_rx_log(c->rx, ALEC_RX_LOG_WARNING, "<MQTT \"%s\">: %s on topic \"%.200s\"%s%s%s", c->cfg->name,
              reject_text(kind), topic ? topic : "?", detail[0] ? ": " : "", detail, tail);
}

static void flush(client *c) {
  if (c->n_pending) alec_rx_submit(c->rx, c->pending, c->n_pending);
  c->n_pending = 0;
}

/* Queued at the end of the wake-up (client_main) or when the batch is full. */
static void submit(client *c, alec_rx_msg *m) {
  c->pending[c->n_pending++] = m;
  if (c->n_pending == SUBMIT_BATCH) flush(c);
}

/* ---- downlinks ------------------------------------------------------------------- */

static int send_downlink(void *ctx, const uint8_t *where, size_t where_len, const uint64_t *ids, unsigned n,
                         int bare) {
  (void)ids;
  (void)n;
  (void)bare; /* the network server addresses the device: the command byte alone */
  client *c = ctx;
  char topic[512], json[512];
  int rc = alec_ns_keyframe_downlink(where, where_len, c->cfg->downlink_fport, topic, sizeof topic, json, sizeof json);
  if (rc != 0) {
    add(&c->downlink_errors, 1);
    return rc;
  }
  size_t len = strlen(json);
  rc = mosquitto_publish(c->mosq, NULL, topic, (int)len, json, c->cfg->qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    add(&c->downlink_errors, 1);
    return ALEC_EIO;
  }
  add(&c->downlinks, 1);
  return (int)len;
}

/* ---- uplinks ----------------------------------------------------------------------- */

static void on_network_event(client *c, const struct mosquitto_message *msg, double now) {
  alec_ns_uplink *u = &c->up;
  int rc = alec_ns_parse_uplink(c->cfg->dialect, msg->payload, (size_t)msg->payloadlen, u);
  if (rc < 0) {
    /* Join, status and ack events share the topic space: counted, not an error. */
    reject(c, -rc - 1, msg->topic, NULL);
    return;
  }
  rc = alec_ns_check_topic(c->cfg->dialect, msg->topic, u);
  if (rc < 0) {
    reject(c, -rc - 1, msg->topic, "device %016" PRIx64, u->dev_eui);
    return;
  }
  alec_rx_msg *m;
  rc = alec_ns_to_msg(&c->src, u, now, &m);
  if (rc == ALEC_NSMSG_NO_PAYLOAD) {
    reject(c, ALEC_MQTT_REJ_NO_PAYLOAD, msg->topic, "device %016" PRIx64, u->dev_eui);
    return;
  }
  if (rc == ALEC_NSMSG_UNMAPPED_FPORT) {
    reject(c, ALEC_MQTT_REJ_FPORT, msg->topic, "device %016" PRIx64 ", FPort %d", u->dev_eui,
           u->has_fport ? (int)u->fport : -1);
    return;
  }
  if (rc != 0) {
    add(&alec_rx_ingress_counters(c->rx)->queue_drops, 1);
    return;
  }
  /* After the refusals, so that a refused message is refused again when
   * redelivered rather than counted as a duplicate. */
  uint64_t key = alec_dedup_key(u->dedup_id);
  if (alec_dedup_has(&c->dedup, key)) {
    add(&c->duplicates, 1);
    free(m);
    return;
  }
  alec_dedup_add(&c->dedup, key);
  submit(c, m);
}

/* An emitter id in a topic level: 16 hex digits (a DevEUI or IMEI-like id),
 * or decimal / 0x-hex as in <Emitter>. */
static int level_id(const char *topic, int level, uint64_t *id) {
  const char *p = topic;
  for (int i = 0; i < level; i++) {
    p = strchr(p, '/');
    if (p == NULL) return -1;
    p++;
  }
  const char *end = strchr(p, '/');
  size_t n = end ? (size_t)(end - p) : strlen(p);
  char buf[24];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  if (n == 16 && strspn(buf, "0123456789abcdefABCDEF") == 16) {
    char hx[19] = "0x";
    memcpy(hx + 2, buf, 17);
    return alec_pc_parse_id(hx, id) == 0 ? 0 : -1;
  }
  return alec_pc_parse_id(buf, id) == 0 ? 0 : -1;
}

static void on_raw(client *c, const struct mosquitto_message *msg, double now) {
  size_t len = (size_t)msg->payloadlen;
  uint64_t id = 0;
  if (c->cfg->emitter_level >= 0 && level_id(msg->topic, c->cfg->emitter_level, &id) != 0) {
    reject(c, ALEC_MQTT_REJ_EMITTER, msg->topic, "level %d", c->cfg->emitter_level);
    return;
  }
  if (len == 0) {
    reject(c, ALEC_MQTT_REJ_NO_PAYLOAD, msg->topic, NULL);
    return;
  }
  alec_rx_msg *m = alec_rx_msg_new(len);
  if (m == NULL) {
    add(&alec_rx_ingress_counters(c->rx)->queue_drops, 1);
    return;
  }
  m->security = (uint8_t)c->cfg->security;
  m->received = now;
  m->fport = -1;
  m->endpoint = c->cfg;
  if (c->cfg->emitter_level >= 0) {
    m->kind = ALEC_RX_PAYLOAD;
    m->has_emitter = 1;
    m->emitter = id;
  } else {
    /* An envelope: no sender address, so never a bare-frame Source. */
    m->kind = ALEC_RX_DATAGRAM;
  }
  memcpy(m->data, msg->payload, len);
  submit(c, m);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg) {
  (void)mosq;
  client *c = obj;
  c->arrived++;
  add(&c->messages, 1);
  if (msg->payloadlen < 0) return;
  add(&c->bytes, (uint64_t)msg->payloadlen);
  /* Before the parser sees a byte. */
  if ((size_t)msg->payloadlen > (size_t)c->cfg->max_message_size) {
    reject(c, -ALEC_NS_EOVERSIZED - 1, msg->topic, "%d bytes, MaxMessageSize %d", msg->payloadlen,
           c->cfg->max_message_size);
    return;
  }
  double now = now_real();
  if (c->cfg->dialect == ALEC_NS_RAW) on_raw(c, msg, now);
  else on_network_event(c, msg, now);
}

/* ---- connection ---------------------------------------------------------------------- */

static void conn_log(client *c, int level, const char *what, const char *why) {
  uint64_t more;
  if (!due(level == ALEC_RX_LOG_INFO ? &c->up_log : &c->trouble_log, CONN_LOG_INTERVAL, &more)) return;
  char tail[80] = "";
  if (more) snprintf(tail, sizeof tail, " (%" PRIu64 " more connection messages not logged)", more);
  alec_rx_log(c->rx, level, "<MQTT \"%s\">: %s %s:%d%s%s%s", c->cfg->name, what, c->cfg->host, c->cfg->port,
              why ? ": " : "", why ? why : "", tail);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc) {
  client *c = obj;
  if (rc != 0) {
    /* Counted when the loop then fails (backoff). */
    conn_log(c, ALEC_RX_LOG_ERROR, "broker refused the connection to", mosquitto_connack_string(rc));
    return;
  }
  c->session_up = 1;
  add(&c->connects, 1);
  atomic_store(&c->connected, 1);
  c->backoff = BACKOFF_MIN;
  /* Also with a persistent session: the broker may have lost it. */
  for (size_t i = 0; i < c->cfg->n_topics; i++) {
    int s = mosquitto_subscribe(mosq, NULL, c->cfg->topics[i], c->cfg->qos);
    if (s != MOSQ_ERR_SUCCESS)
      alec_rx_log(c->rx, ALEC_RX_LOG_ERROR, "<MQTT \"%s\">: subscribe \"%s\": %s", c->cfg->name, c->cfg->topics[i],
                  mosquitto_strerror(s));
  }
  conn_log(c, ALEC_RX_LOG_INFO, "connected to", NULL);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc) {
  (void)mosq;
  client *c = obj;
  int was = atomic_exchange(&c->connected, 0);
  if (rc == 0 || atomic_load(&c->stop)) return; /* ours */
  /* A connection attempt that failed is the backoff's to log. */
  if (!was) return;
  add(&c->disconnects, 1);
  conn_log(c, ALEC_RX_LOG_WARNING, "disconnected from", mosquitto_strerror(rc));
}

/* Sleeps `s` seconds, or less when the client is stopped. */
static void nap(client *c, double s) {
  while (s > 0 && !atomic_load(&c->stop)) {
    double step = s < 0.1 ? s : 0.1;
    struct timespec ts = {0, (long)(step * 1e9)};
    nanosleep(&ts, NULL);
    s -= step;
  }
}

/* After a failed attempt or a lost connection: counts a connection failure
 * unless the broker had accepted us (then on_disconnect counted it). */
static void backoff(client *c, int rc) {
  if (!c->session_up) add(&c->connect_failures, 1);
  c->session_up = 0;
  char why[160];
  snprintf(why, sizeof why, "%s; retrying in %.0f s", rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
           c->backoff);
  conn_log(c, ALEC_RX_LOG_WARNING, "no connection to", why);
  nap(c, c->backoff);
  c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c->backoff * 2;
}

/* After a loop that read a packet: reads what else is buffered (READ_BURST). */
static int read_burst(client *c) {
  if (c->burst_skip) {
    c->burst_skip--;
    return MOSQ_ERR_SUCCESS;
  }
  for (int i = 0; i < READ_BURST && !atomic_load_explicit(&c->stop, memory_order_relaxed); i++) {
    uint64_t before = c->arrived;
    /* A partial packet, a packet that is not a message (SUBACK, PINGRESP)
     * or nothing to read: back to select(). */
    int rc = mosquitto_loop_read(c->mosq, 1);
    if (rc != MOSQ_ERR_SUCCESS) return rc;
    if (c->arrived == before) {
      if (i == 0) c->burst_skip = READ_SKIP;
      break;
    }
  }
  return MOSQ_ERR_SUCCESS;
}

static void *client_main(void *arg) {
  client *c = arg;
  while (!atomic_load(&c->stop)) {
    if (c->need_connect) {
      int rc = mosquitto_reconnect_async(c->mosq);
      if (rc != MOSQ_ERR_SUCCESS) {
        backoff(c, rc);
        continue;
      }
      c->need_connect = 0;
    }
    uint64_t before = c->arrived;
    int rc = mosquitto_loop(c->mosq, LOOP_TIMEOUT_MS, 1);
    if (rc == MOSQ_ERR_SUCCESS && c->arrived != before) rc = read_burst(c);
    flush(c);
    if (rc == MOSQ_ERR_SUCCESS && c->cfg->qos == 0 && c->arrived - before > 1 && !atomic_load(&c->stop)) {
      struct timespec ts = {0, GATHER_NS};
      nanosleep(&ts, NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS || atomic_load(&c->stop)) continue;
    atomic_store(&c->connected, 0);
    backoff(c, rc);
    c->need_connect = 1;
  }
  flush(c);
  return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static const alec_pc_profile *block_fport(const void *block, int port) { return alec_pc_mqtt_fport(block, port); }

static int client_init(alec_mqtt *t, client *c, const alec_pc_mqtt *cfg) {
  c->owner = t;
  c->cfg = cfg;
  c->rx = t->rx;
  c->src = (alec_ns_source){.dialect = cfg->dialect,
                            .security = cfg->security,
                            .group_from = cfg->group_from,
                            .profile = block_fport,
                            .profile_arg = cfg,
                            .endpoint = cfg,
                            .reply_send = cfg->downlinks ? send_downlink : NULL,
                            .reply_ctx = c,
                            .reply_budget = (unsigned)cfg->downlink_budget,
                            .reply_interval = cfg->downlink_interval};
  c->backoff = BACKOFF_MIN;
  c->mosq = mosquitto_new(cfg->client_id, cfg->clean_session != 0, c);
  if (c->mosq == NULL) {
    alec_rx_log(t->rx, ALEC_RX_LOG_ERROR, "<MQTT \"%s\">: mosquitto_new: %s", cfg->name, strerror(errno));
    return -1;
  }
  mosquitto_threaded_set(c->mosq, true);
  mosquitto_connect_callback_set(c->mosq, on_connect);
  mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
  mosquitto_message_callback_set(c->mosq, on_message);
  int rc = MOSQ_ERR_SUCCESS;
  if (cfg->user[0]) rc = mosquitto_username_pw_set(c->mosq, cfg->user, cfg->password[0] ? cfg->password : NULL);
  if (rc == MOSQ_ERR_SUCCESS && cfg->ca_cert[0])
    rc = mosquitto_tls_set(c->mosq, cfg->ca_cert, NULL, cfg->client_cert[0] ? cfg->client_cert : NULL,
                           cfg->client_key[0] ? cfg->client_key : NULL, NULL);
  if (rc != MOSQ_ERR_SUCCESS) {
    alec_rx_log(t->rx, ALEC_RX_LOG_ERROR, "<MQTT \"%s\">: option `%s': %s", cfg->name,
                cfg->ca_cert[0] ? "CACert" : "User", mosquitto_strerror(rc));
    return -1;
  }
  return 0;
}

int alec_mqtt_open(alec_mqtt **out, const alec_plugin_config *cfg, alec_rx *rx) {
  *out = NULL;
  alec_mqtt *t = calloc(1, sizeof *t);
  if (t == NULL) return -1;
  t->rx = rx;
  if (cfg->n_mqtt) {
    mosquitto_lib_init();
    t->lib_init = 1;
    /* ~130 KiB each (the redelivery set): on the heap, zeroed. */
    t->c = calloc(cfg->n_mqtt, sizeof *t->c);
    if (t->c == NULL) {
      alec_mqtt_free(t);
      return -1;
    }
  }
  for (size_t i = 0; i < cfg->n_mqtt; i++) {
    t->n = i + 1;
    if (client_init(t, &t->c[i], &cfg->mqtt[i]) != 0) {
      alec_mqtt_free(t);
      return -1;
    }
  }
  *out = t;
  return 0;
}

int alec_mqtt_start(alec_mqtt *t, alec_rx_spawn_fn spawn) {
  for (size_t i = 0; i < t->n; i++) {
    client *c = &t->c[i];
    atomic_store(&c->stop, 0);
    int rc = mosquitto_connect_async(c->mosq, c->cfg->host, c->cfg->port, c->cfg->keepalive);
    if (rc != MOSQ_ERR_SUCCESS) {
      /* Not fatal: the network thread retries. */
      char why[160];
      snprintf(why, sizeof why, "%s; retrying", rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
      conn_log(c, ALEC_RX_LOG_WARNING, "cannot connect yet to", why);
      add(&c->connect_failures, 1);
      c->need_connect = 1;
    }
    if (spawn(&c->thread, client_main, c, "alec mqtt") != 0) {
      alec_rx_log(t->rx, ALEC_RX_LOG_ERROR, "<MQTT \"%s\">: cannot start the network thread", c->cfg->name);
      return -1;
    }
    c->started = 1;
    alec_rx_log(t->rx, ALEC_RX_LOG_INFO, "<MQTT \"%s\">: %s uplinks from %s:%d as \"%s\" (QoS %d, %s session)",
                c->cfg->name, alec_ns_dialect_name(c->cfg->dialect), c->cfg->host, c->cfg->port, c->cfg->client_id,
                c->cfg->qos, c->cfg->clean_session ? "clean" : "persistent");
  }
  return 0;
}

void alec_mqtt_stop(alec_mqtt *t) {
  if (t == NULL) return;
  for (size_t i = 0; i < t->n; i++) {
    client *c = &t->c[i];
    if (!c->started) continue;
    atomic_store(&c->stop, 1);
    /* Wakes the loop; a persistent session keeps what arrives meanwhile. */
    mosquitto_disconnect(c->mosq);
    pthread_join(c->thread, NULL);
    c->started = 0;
  }
}

void alec_mqtt_free(alec_mqtt *t) {
  if (t == NULL) return;
  alec_mqtt_stop(t);
  for (size_t i = 0; i < t->n; i++)
    if (t->c[i].mosq) mosquitto_destroy(t->c[i].mosq);
  free(t->c);
  if (t->lib_init) mosquitto_lib_cleanup();
  free(t);
}

size_t alec_mqtt_count(const alec_mqtt *t) { return t ? t->n : 0; }

void alec_mqtt_get_stats(alec_mqtt *t, size_t i, alec_mqtt_stats *out) {
  memset(out, 0, sizeof *out);
  if (t == NULL || i >= t->n) return;
  client *c = &t->c[i];
  out->name = c->cfg->name;
  out->connected = atomic_load(&c->connected);
  out->messages = atomic_load(&c->messages);
  out->bytes = atomic_load(&c->bytes);
  out->duplicates = atomic_load(&c->duplicates);
  out->connects = atomic_load(&c->connects);
  out->disconnects = atomic_load(&c->disconnects);
  out->connect_failures = atomic_load(&c->connect_failures);
  out->downlinks = atomic_load(&c->downlinks);
  out->downlink_errors = atomic_load(&c->downlink_errors);
  for (int k = 0; k < ALEC_MQTT_REJ_COUNT; k++) out->rejected[k] = atomic_load(&c->rejected[k]);
}
