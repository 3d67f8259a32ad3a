/* SPDX-License-Identifier: MIT */
/* A LoRaWAN fleet as ChirpStack v4's AMQP integration delivers it, for the
 * AMQP tests and benchmark: N devices in two applications ("hall-a",
 * "hall-b"), each an ALEC encoder (fixed frames, 2 channels: a temperature
 * and the step number, so a test can tell every value apart; --channels 1:
 * the temperature alone), published as
 * ChirpStack "up" events to an exchange with ChirpStack's routing keys
 * application.<applicationId>.device.<devEui>.event.up. Like a Class A
 * device behind a network server, a device honours a keyframe request
 * (ChirpStack command, routing key ...device.<devEui>.command.down) with
 * its next uplink: the commands are read from a queue between steps.
 *
 *   amqppub --port P [--host H] [--user U --password W] [--exchange X]
 *           [--devices N] [--steps S] [--rate STEPS_PER_S] [--keyframe K]
 *           [--anomaly DEV:FROM:TO:OFFSET]... [--commands QUEUE]
 *           [--log FILE] [--dup N] [--channels 1|2] [--quiet]
 *   amqppub --expect DEV STEP   prints the temperature of a device at a step
 *
 * The temperature of device i at step t: group base (20 hall-a, 35 hall-b)
 * + 0.01 (i % 50) + 0.5 sin(0.1 (t + i)), plus OFFSET for FROM <= t <= TO
 * of an --anomaly. --log writes "host step temperature" per uplink;
 * --dup N publishes every N-th uplink twice, as a broker redelivers it.
 * Prints "published=N commands=K seconds=S" at the end. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "alec/encoder.h"

#define FPORT 85
#define MAX_ANOMALIES 16

typedef struct anomaly {
  unsigned dev, from, to;
  double offset;
} anomaly;

static anomaly anomalies[MAX_ANOMALIES];
static unsigned n_anomalies;

static const char *const app_id[2] = {"6c1d0f3e-0000-4a00-8000-00000000000a", "6c1d0f3e-0000-4a00-8000-00000000000b"};
static const char *const app_name[2] = {"hall-a", "hall-b"};

static uint64_t dev_eui(unsigned i) { return UINT64_C(0x70b3d5e75e000000) + i; }
/* Every third device is in hall-b, so both groups spread over the shards. */
static unsigned dev_group(unsigned i) { return i % 3 == 2; }

static double temperature(unsigned i, unsigned t) {
  double v = (dev_group(i) ? 35.0 : 20.0) + 0.01 * (i % 50) + 0.5 * sin(0.1 * (double)(t + i));
  for (unsigned k = 0; k < n_anomalies; k++)
    if (anomalies[k].dev == i && t >= anomalies[k].from && t <= anomalies[k].to) v += anomalies[k].offset;
  /* Two decimals, as a sensor reports: the decoder's 1/100 scale is exact. */
  return round(v * 100.0) / 100.0;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void rfc3339_now(char *out, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, cap - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static int die_reply(amqp_rpc_reply_t r, const char *what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return 0;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    fprintf(stderr, "amqppub: %s: %s\n", what, amqp_error_string2(r.library_error));
  else
    fprintf(stderr, "amqppub: %s: broker error (method 0x%08x)\n", what, r.reply.id);
  return -1;
}

/* Reads the pending keyframe requests; returns how many were honoured. */
static unsigned read_commands(amqp_connection_state_t conn, const char *queue, alec_encoder **enc, unsigned n) {
  unsigned got = 0;
  for (;;) {
    amqp_rpc_reply_t r = amqp_basic_get(conn, 1, amqp_cstring_bytes(queue), 1);
    if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;
    amqp_basic_get_ok_t *ok = r.reply.decoded;
    char key[256];
    size_t kl = ok->routing_key.len < sizeof key - 1 ? ok->routing_key.len : sizeof key - 1;
    memcpy(key, ok->routing_key.bytes, kl);
    key[kl] = '\0';
    amqp_message_t msg;
    if (amqp_read_message(conn, 1, &msg, 0).reply_type != AMQP_RESPONSE_NORMAL) break;
    amqp_destroy_message(&msg);
    /* application.<id>.device.<devEui>.command.down */
    const char *d = strstr(key, ".device.");
    if (d == NULL) continue;
    uint64_t eui = strtoull(d + 8, NULL, 16);
    if (eui >= dev_eui(0) && eui < dev_eui(n)) {
      alec_encoder_force_keyframe(enc[eui - dev_eui(0)]);
      got++;
    }
  }
  return got;
}

static int expect_mode(int argc, char **argv) {
  if (argc < 4) return 2;
  printf("%.2f\n", temperature((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3])));
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--expect") == 0) return expect_mode(argc, argv);
  const char *host = "127.0.0.1", *user = "guest", *pass = "guest", *exchange = "amq.topic", *logpath = NULL,
             *commands = NULL;
  int port = 5672, quiet = 0;
  unsigned dup = 0; /* every dup-th uplink is published twice (a redelivery) */
  unsigned channels = 2; /* 1: the temperature alone (fleet score comparisons) */
  unsigned devices = 600, steps = 60, keyframe = 10;
  double rate = 1.0; /* steps per second, 0: unpaced */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quiet") == 0) {
      quiet = 1;
      continue;
    }
    if (v == NULL) {
      fprintf(stderr, "amqppub: %s needs a value\n", a);
      return 2;
    }
    i++;
    if (strcmp(a, "--host") == 0) host = v;
    else if (strcmp(a, "--port") == 0) port = atoi(v);
    else if (strcmp(a, "--user") == 0) user = v;
    else if (strcmp(a, "--password") == 0) pass = v;
    else if (strcmp(a, "--exchange") == 0) exchange = v;
    else if (strcmp(a, "--devices") == 0) devices = (unsigned)atoi(v);
    else if (strcmp(a, "--steps") == 0) steps = (unsigned)atoi(v);
    else if (strcmp(a, "--rate") == 0) rate = atof(v);
    else if (strcmp(a, "--keyframe") == 0) keyframe = (unsigned)atoi(v);
    else if (strcmp(a, "--log") == 0) logpath = v;
    else if (strcmp(a, "--dup") == 0) dup = (unsigned)atoi(v);
    else if (strcmp(a, "--channels") == 0) channels = atoi(v) == 1 ? 1 : 2;
    else if (strcmp(a, "--commands") == 0) commands = v;
    else if (strcmp(a, "--anomaly") == 0) {
      anomaly *an = &anomalies[n_anomalies];
      if (n_anomalies >= MAX_ANOMALIES || sscanf(v, "%u:%u:%u:%lf", &an->dev, &an->from, &an->to, &an->offset) != 4) {
        fprintf(stderr, "amqppub: --anomaly DEV:FROM:TO:OFFSET\n");
        return 2;
      }
      n_anomalies++;
    } else {
      fprintf(stderr, "amqppub: unknown option %s\n", a);
      return 2;
    }
  }
  if (devices == 0 || devices > 100000 || sodium_init() < 0) return 2;
  FILE *log = NULL;
  if (logpath && (log = fopen(logpath, "w")) == NULL) {
    perror(logpath);
    return 1;
  }
  alec_encoder **enc = calloc(devices, sizeof *enc);
  if (enc == NULL) return 1;
  alec_encoder_config ec;
  alec_encoder_config_init(&ec);
  ec.keyframe_interval = keyframe;
  for (unsigned i = 0; i < devices; i++)
    if (alec_encoder_new(&enc[i], &ec) != 0) return 1;

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t *sock = amqp_tcp_socket_new(conn);
  if (sock == NULL || amqp_socket_open(sock, host, port) != AMQP_STATUS_OK) {
    fprintf(stderr, "amqppub: cannot connect to %s:%d\n", host, port);
    return 1;
  }
  if (die_reply(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, user, pass), "login")) return 1;
  amqp_channel_open(conn, 1);
  if (die_reply(amqp_get_rpc_reply(conn), "channel.open")) return 1;

  double t0 = now_s();
  uint64_t published = 0, served = 0, dups = 0;
  for (unsigned t = 0; t < steps; t++) {
    if (rate > 0) {
      double wait = t0 + (double)t / rate - now_s();
      if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
    if (commands) served += read_commands(conn, commands, enc, devices);
    for (unsigned i = 0; i < devices; i++) {
      double vals[2] = {temperature(i, t), (double)t};
      uint8_t frame[64];
      int len = alec_encode_fixed(enc[i], vals, channels, frame, sizeof frame);
      if (len <= 0) {
        fprintf(stderr, "amqppub: encode failed for device %u step %u\n", i, t);
        return 1;
      }
      char b64[128], when[48], body[1536], key[160];
      sodium_bin2base64(b64, sizeof b64, frame, (size_t)len, sodium_base64_VARIANT_ORIGINAL);
      rfc3339_now(when, sizeof when);
      unsigned g = dev_group(i);
      char eui[17];
      snprintf(eui, sizeof eui, "%016llx", (unsigned long long)dev_eui(i));
      int n = snprintf(body, sizeof body,
                       "{\"deduplicationId\":\"%08x-0000-4000-8000-%012llx\",\"time\":\"%s\","
                       "\"deviceInfo\":{\"tenantId\":\"52f14cd4-c6f1-4fbd-8f87-4025e1d49242\",\"tenantName\":\"it\","
                       "\"applicationId\":\"%s\",\"applicationName\":\"%s\","
                       "\"deviceProfileId\":\"0b7e4f12-9d3a-4c6b-8e21-5f4a3b2c1d0e\",\"deviceProfileName\":\"alec-2ch\","
                       "\"deviceName\":\"dev-%05u\",\"devEui\":\"%s\",\"tags\":{}},"
                       "\"devAddr\":\"01%06x\",\"adr\":true,\"dr\":5,\"fCnt\":%u,\"fPort\":%d,\"confirmed\":false,"
                       "\"data\":\"%s\",\"rxInfo\":[{\"gatewayId\":\"0016c001f153a14c\",\"uplinkId\":%u,"
                       "\"rssi\":%d,\"snr\":%.1f,\"channel\":2,\"rfChain\":1,\"crcStatus\":\"CRC_OK\"}],"
                       "\"txInfo\":{\"frequency\":868100000,\"modulation\":{\"lora\":{\"bandwidth\":125000,"
                       "\"spreadingFactor\":7,\"codeRate\":\"CR_4_5\"}}}}",
                       t, (unsigned long long)i, when, app_id[g], app_name[g], i, eui, i & 0xffffff, t, FPORT, b64,
                       (unsigned)(t * 100000u + i), -60 - (int)(i % 50), 7.5 - (double)(i % 20));
      (void)n;
      snprintf(key, sizeof key, "application.%s.device.%s.event.up", app_id[g], eui);
      amqp_basic_properties_t props;
      props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
      props.content_type = amqp_cstring_bytes("application/json");
      props.delivery_mode = 2; /* persistent: survives a broker restart */
      amqp_bytes_t b = {strlen(body), body};
      if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), 0, 0, &props, b) !=
          AMQP_STATUS_OK) {
        fprintf(stderr, "amqppub: publish failed at step %u\n", t);
        return 1;
      }
      published++;
      if (dup && published % dup == 0) {
        if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), 0, 0, &props, b) !=
            AMQP_STATUS_OK)
          return 1;
        dups++;
      }
      if (log) fprintf(log, "dev-%05u %u %.2f\n", i, t, vals[0]);
    }
    if (!quiet && t % 10 == 0) fprintf(stderr, "amqppub: step %u\n", t);
  }
  double secs = now_s() - t0;
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  for (unsigned i = 0; i < devices; i++) alec_encoder_free(enc[i]);
  free(enc);
  if (log) fclose(log);
  printf("published=%llu duplicates=%llu commands=%llu seconds=%.2f\n", (unsigned long long)published,
         (unsigned long long)dups, (unsigned long long)served, secs);
  return 0;
}
