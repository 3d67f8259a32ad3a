/* SPDX-License-Identifier: MIT */
/* The network server of the MQTT integration tests (tests/integration/mqtt*.sh).
 *
 *   lorapub gen --dialect chirpstack|tts --devices N --apps A --rounds R
 *               [--first-eui HEX] [--drop DEV:ROUND,...] EVENTS EXPECT
 *     One fixed-format (5 channels, the EM500-CO2 order) ALEC encoder per
 *     device, one uplink per device and round, written as uplink events
 *     shaped field for field like ChirpStack v4's (JSON marshaler) or The
 *     Things Stack v3's, one "topic<TAB>json" line each, round by round.
 *     Dropped uplinks advance the encoder but are not written (LoRaWAN loss:
 *     the fCnt shows the gap). EXPECT gets what the receiver must store,
 *     from libalec's own decoder fed the same uplinks: "host group channel
 *     value" per reliable value (csv's %f), and "L host rssi snr" per uplink.
 *
 *   lorapub pub --port P [--host H] [--qos Q] [--id ID] [--rate N] EVENTS
 *     Publishes the lines of EVENTS in order through libmosquitto and waits
 *     for the broker's acknowledgement of each (QoS 1 / 2); a message not
 *     acknowledged within 2 s, or cut by a disconnect, is published again,
 *     so a broker restart loses nothing (the receiver drops the duplicate
 *     by its deduplication id). --rate: at most N messages per second.
 *     Prints the count published. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alec/decoder.h"
#include "alec/encoder.h"
#include "alec/envelope.h"

#define CHANNELS 5
#define MAX_DEVICES 1000

static void die(const char *msg) {
  fprintf(stderr, "lorapub: %s\n", msg);
  exit(2);
}

static void iso_time(double t, char *out, size_t cap) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%s.%06ldZ", base, (long)((t - (double)s) * 1e6));
}

/* A reproducible fleet: each device its own phase and offsets, values in
 * the units a Milesight EM500-CO2 reports. */
static void values_of(unsigned d, unsigned r, double *v) {
  double ph = (double)d * 0.7 + (double)r * 0.15;
  v[0] = 100.0 - (double)((r + d) / 7 % 3);                       /* battery % */
  v[1] = 21.0 + 0.1 * (double)(d % 9) + 0.8 * sin(ph);            /* degC */
  v[2] = 45.0 + 0.5 * (double)(d % 5) + 3.0 * cos(ph * 0.5);      /* %RH */
  v[3] = 600.0 + 10.0 * (double)d + 40.0 * sin(ph * 0.3);         /* ppm */
  v[4] = 1010.0 + 0.1 * (double)(d % 11) + 0.5 * sin(ph * 0.1);   /* hPa */
}

static int dropped(const char *drops, unsigned d, unsigned r) {
  if (drops == NULL) return 0;
  const char *p = drops;
  while (*p) {
    unsigned dd, rr;
    int used = 0;
    if (sscanf(p, "%u:%u%n", &dd, &rr, &used) != 2) die("--drop expects DEV:ROUND,...");
    if (dd == d && rr == r) return 1;
    p += used;
    if (*p == ',') p++;
  }
  return 0;
}

static int gen(int argc, char **argv) {
  const char *dialect = "chirpstack", *drops = NULL, *events = NULL, *expect = NULL;
  unsigned devices = 20, apps = 2, rounds = 10;
  uint64_t first = UINT64_C(0x0004a30b00000000);
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--dialect") == 0 && i + 1 < argc) dialect = argv[++i];
    else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc) devices = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--apps") == 0 && i + 1 < argc) apps = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--first-eui") == 0 && i + 1 < argc) first = strtoull(argv[++i], NULL, 16);
    else if (strcmp(argv[i], "--drop") == 0 && i + 1 < argc) drops = argv[++i];
    else if (!events) events = argv[i];
    else if (!expect) expect = argv[i];
    else die("gen: too many arguments");
  }
  int tts = strcmp(dialect, "tts") == 0;
  /* raw: a bare frame on alec/<id>/up; raw-envelope: envelope datagrams of
   * one gateway; payloads written as hex (pub --hex). */
  int raw = strcmp(dialect, "raw") == 0, env = strcmp(dialect, "raw-envelope") == 0;
  if (!tts && !raw && !env && strcmp(dialect, "chirpstack") != 0) die("--dialect chirpstack|tts|raw|raw-envelope");
  if (!events || !expect || devices == 0 || devices > MAX_DEVICES || apps == 0) die("gen: bad arguments");
  FILE *ev = fopen(events, "w"), *ex = fopen(expect, "w");
  if (!ev || !ex) die("gen: cannot write the output files");
  alec_encoder **enc = calloc(devices, sizeof *enc);
  alec_decoder **dec = calloc(devices, sizeof *dec);
  if (!enc || !dec) die("out of memory");
  for (unsigned d = 0; d < devices; d++)
    if (alec_encoder_new(&enc[d], NULL) != 0 || alec_decoder_new(&dec[d], NULL) != 0) die("codec");
  double t0 = floor((double)time(NULL)) - 3600.0;
  for (unsigned r = 0; r < rounds; r++) {
    for (unsigned d = 0; d < devices; d++) {
      double v[CHANNELS];
      values_of(d, r, v);
      uint8_t frame[256];
      int n = alec_encode_fixed(enc[d], v, CHANNELS, frame, sizeof frame);
      if (n <= 0) die("encode");
      if (dropped(drops, d, r)) continue;
      alec_value out[CHANNELS];
      alec_frame_info info;
      int k = alec_decoder_decode(dec[d], ALEC_FORMAT_FIXED, CHANNELS, frame, (size_t)n, out, CHANNELS, &info);
      if (k < 0) die("decode");
      unsigned app = d % apps;
      char host[64], group[64], b64[512], when[40], eui[17];
      uint64_t dev_eui = first + d;
      snprintf(eui, sizeof eui, "%016" PRIx64, dev_eui);
      snprintf(host, sizeof host, "%s-%c-%02u", tts ? "tts" : "dev", 'a' + app, d);
      snprintf(group, sizeof group, "app-%c", (tts ? 'p' : 'a') + app);
      sodium_bin2base64(b64, sizeof b64, frame, (size_t)n, sodium_base64_VARIANT_ORIGINAL);
      iso_time(t0 + (double)r * 600.0 + (double)d, when, sizeof when);
      int rssi = -40 - (int)((d * 7 + r * 3) % 80);
      double snr = 9.5 - (double)((d * 3 + r) % 30) * 0.75; /* below zero for some */
      if (raw || env) {
        uint8_t buf[512];
        const uint8_t *p = frame;
        size_t plen = (size_t)n;
        if (env) {
          alec_envelope_writer w;
          if (alec_envelope_writer_init(&w, buf, sizeof buf, 0) != 0 ||
              alec_envelope_add(&w, dev_eui, ALEC_FORMAT_FIXED, CHANNELS, frame, (size_t)n) <= 0)
            die("envelope");
          p = buf;
          plen = w.len;
        }
        if (env) fprintf(ev, "alec/gw-1/up\t");
        else fprintf(ev, "alec/%s/up\t", eui);
        for (size_t i = 0; i < plen; i++) fprintf(ev, "%02x", p[i]);
        fputc('\n', ev);
        snprintf(host, sizeof host, "alec-%s", eui);
        snprintf(group, sizeof group, "-");
      } else if (tts) {
        fprintf(ev,
                "v3/%s@ttn/devices/%s/up\t{\"end_device_ids\":{\"device_id\":\"%s\",\"application_ids\":{"
                "\"application_id\":\"%s\"},\"dev_eui\":\"%016" PRIX64 "\",\"join_eui\":\"70B3D57ED0000000\","
                "\"dev_addr\":\"260B%04X\"},\"correlation_ids\":[\"as:up:01HQ%08X%08X\",\"rpc:/ttn.lorawan.v3."
                "AppAs/SimulateUplink:%04x\"],\"received_at\":\"%s\",\"uplink_message\":{\"session_key_id\":"
                "\"AXBSH1Pk6Z0G166nN1NRpw==\",\"f_port\":85,\"f_cnt\":%u,\"frm_payload\":\"%s\",\"rx_metadata\":[{"
                "\"gateway_ids\":{\"gateway_id\":\"gw-north\",\"eui\":\"B827EBFFFE61CC01\"},\"time\":\"%s\","
                "\"timestamp\":%u,\"rssi\":%d,\"channel_rssi\":%d,\"snr\":%.2f,\"uplink_token\":\"ChIKEAoOZ3ctbm9y"
                "dGgSCLgn6//+YcwBEJ2R0Z0D\",\"received_at\":\"%s\"},{\"gateway_ids\":{\"gateway_id\":\"gw-far\"},"
                "\"rssi\":%d,\"channel_rssi\":%d,\"snr\":%.2f}],\"settings\":{\"data_rate\":{\"lora\":{\"bandwidth\":"
                "125000,\"spreading_factor\":7,\"coding_rate\":\"4/5\"}},\"frequency\":\"868100000\",\"timestamp\":"
                "%u},\"received_at\":\"%s\",\"consumed_airtime\":\"0.061696s\",\"network_ids\":{\"net_id\":"
                "\"000013\",\"tenant_id\":\"ttn\",\"cluster_id\":\"eu1\",\"cluster_address\":"
                "\"eu1.cloud.thethings.network\"}}}\n",
                group, host, host, group, dev_eui, d, d, r, r, when, r, b64, when, 1000u + r, rssi, rssi, snr, when,
                rssi - 20, rssi - 20, snr - 6.0, 1000u + r, when);
      } else {
        fprintf(ev,
                "application/%08x-be03-4f38-aef3-f83d48582d97/device/%s/event/up\t{\"deduplicationId\":\"%08x-"
                "4401-4b8d-9386-%012x\",\"time\":\"%s\",\"deviceInfo\":{\"tenantId\":\"52f14cd4-c6f1-4fbd-8f87-"
                "4025e1d49242\",\"tenantName\":\"ChirpStack\",\"applicationId\":\"%08x-be03-4f38-aef3-f83d48582d97\","
                "\"applicationName\":\"%s\",\"deviceProfileId\":\"14855bf7-d10d-4aee-b618-ebfcb64dc7ad\","
                "\"deviceProfileName\":\"em500-co2\",\"deviceName\":\"%s\",\"devEui\":\"%s\",\"deviceClassEnabled\":"
                "\"CLASS_A\",\"tags\":{\"site\":\"north\",\"floor\":\"%u\"}},\"devAddr\":\"0018%04x\",\"adr\":true,"
                "\"dr\":5,\"fCnt\":%u,\"fPort\":85,\"confirmed\":false,\"data\":\"%s\",\"rxInfo\":[{\"gatewayId\":"
                "\"0016c001f153a14c\",\"uplinkId\":%u,\"gwTime\":\"%s\",\"nsTime\":\"%s\",\"rssi\":%d,\"snr\":%.2f,"
                "\"channel\":2,\"location\":{},\"context\":\"EFwMtA==\",\"metadata\":{\"region_config_id\":\"eu868\","
                "\"region_common_name\":\"EU868\"},\"crcStatus\":\"CRC_OK\"},{\"gatewayId\":\"0016c001f153a14d\","
                "\"uplinkId\":%u,\"rssi\":%d,\"snr\":%.2f,\"channel\":2,\"crcStatus\":\"CRC_OK\"}],\"txInfo\":{"
                "\"frequency\":868500000,\"modulation\":{\"lora\":{\"bandwidth\":125000,\"spreadingFactor\":7,"
                "\"codeRate\":\"CR_4_5\"}}}}\n",
                0x17c82e96u + app, eui, r, d, when, 0x17c82e96u + app, group, host, eui, d % 3, d, r, b64,
                40000u + r * 100 + d, when, when, rssi, snr, 50000u + r * 100 + d, rssi - 15, snr - 4.0);
      }
      int kept = 0;
      for (int i = 0; i < k; i++)
        if (!(out[i].flags & ALEC_VALUE_UNRELIABLE)) {
          fprintf(ex, "%s %s %u %f\n", host, group, out[i].id, out[i].value);
          kept++;
        }
      /* Link quality travels with the values: none when all are held back. */
      if (kept && !raw && !env) fprintf(ex, "L %s %s %f %f\n", host, group, (double)rssi, snr);
    }
  }
  for (unsigned d = 0; d < devices; d++) {
    alec_encoder_free(enc[d]);
    alec_decoder_free(dec[d]);
  }
  free(enc);
  free(dec);
  if (fclose(ev) != 0 || fclose(ex) != 0) die("gen: write error");
  return 0;
}

/* ---- pub ---------------------------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int connected;
static int acked_mid = -1;

static void on_connect(struct mosquitto *m, void *o, int rc) {
  (void)m;
  (void)o;
  pthread_mutex_lock(&lock);
  connected = rc == 0;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void on_disconnect(struct mosquitto *m, void *o, int rc) {
  (void)m;
  (void)o;
  (void)rc;
  pthread_mutex_lock(&lock);
  connected = 0;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void on_publish(struct mosquitto *m, void *o, int mid) {
  (void)m;
  (void)o;
  pthread_mutex_lock(&lock);
  acked_mid = mid;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}

static void deadline_in(struct timespec *ts, double s) {
  clock_gettime(CLOCK_REALTIME, ts);
  double whole = floor(s);
  ts->tv_sec += (time_t)whole;
  ts->tv_nsec += (long)((s - whole) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static int pub(int argc, char **argv) {
  const char *host = "127.0.0.1", *id = NULL, *file = NULL;
  int port = 0, qos = 1;
  double rate = 0;
  int hex = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--hex") == 0) {
      hex = 1;
      continue;
    }
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--qos") == 0 && i + 1 < argc) qos = atoi(argv[++i]);
    else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) id = argv[++i];
    else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) rate = atof(argv[++i]);
    else if (!file) file = argv[i];
    else die("pub: too many arguments");
  }
  if (!file || port <= 0) die("pub: --port P EVENTS");
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
  if (!f) die("pub: cannot read the events");
  mosquitto_lib_init();
  struct mosquitto *m = mosquitto_new(id, true, NULL);
  if (!m) die("mosquitto_new");
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_disconnect_callback_set(m, on_disconnect);
  mosquitto_publish_callback_set(m, on_publish);
  mosquitto_reconnect_delay_set(m, 1, 2, false);
  /* The broker may still be starting: connect_async and the loop retry. */
  mosquitto_connect_async(m, host, port, 30);
  if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) die("loop_start");
  size_t cap = 1 << 20;
  char *line = malloc(cap);
  unsigned char *binbuf = malloc(cap);
  if (!line || !binbuf) die("out of memory");
  unsigned long sent = 0, retries = 0;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (fgets(line, (int)cap, f)) {
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = '\0';
    char *payload = tab + 1;
    size_t len = strlen(payload);
    if (len && payload[len - 1] == '\n') payload[--len] = '\0';
    if (hex) {
      size_t bin = 0;
      if (sodium_hex2bin(binbuf, cap, payload, len, NULL, &bin, NULL) != 0) die("pub: bad hex");
      memcpy(payload, binbuf, bin);
      len = bin;
    }
    if (rate > 0) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      double due = (double)sent / rate, el = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) * 1e-9;
      /* Sleep only when 1 ms ahead: a nanosleep per message would cap the
       * rate far below what the benchmarks ask. */
      if (due > el + 0.001) {
        double w = due - el;
        struct timespec ts = {(time_t)w, (long)((w - floor(w)) * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
    for (int attempt = 0;; attempt++) {
      if (attempt > 600) die("pub: the broker did not take a message in 20 minutes of retries");
      pthread_mutex_lock(&lock);
      while (!connected) {
        struct timespec ts;
        deadline_in(&ts, 1.0);
        pthread_cond_timedwait(&cond, &lock, &ts);
      }
      pthread_mutex_unlock(&lock);
      int mid = -1;
      int rc = mosquitto_publish(m, &mid, line, (int)len, payload, qos, false);
      if (rc != MOSQ_ERR_SUCCESS) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        retries++;
        continue;
      }
      if (qos == 0) break;
      pthread_mutex_lock(&lock);
      struct timespec ts;
      deadline_in(&ts, 2.0);
      int ok;
      while (acked_mid != mid && connected) {
        if (pthread_cond_timedwait(&cond, &lock, &ts) == ETIMEDOUT) break;
      }
      ok = acked_mid == mid;
      pthread_mutex_unlock(&lock);
      if (ok) break;
      retries++;
    }
    sent++;
  }
  printf("published %lu (%lu retries)\n", sent, retries);
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  free(line);
  free(binbuf);
  if (f != stdin) fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "gen") == 0) return gen(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "pub") == 0) return pub(argc, argv);
  fprintf(stderr, "usage: lorapub gen ... | lorapub pub ... (see the source)\n");
  return 2;
}
