/* SPDX-License-Identifier: MIT */
/* alec-lorawan-sim: a fleet of EM500-CO2-like LoRaWAN devices in the
 * reference's partner configuration (lorawan_sim.h), one uplink per line:
 *   jsonl       truth, fCnt, fPort, kind, payload (hex and base64)
 *   chirpstack  ChirpStack v4 uplink events (JSON marshaler)
 *   tts         The Things Stack v3 uplink messages
 * --topics prefixes each event with its MQTT topic and a tab. Lost uplinks
 * are left out unless --lost (then jsonl marks them "lost": true). */

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lorawan_sim.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: alec-lorawan-sim [--devices N] [--days D] [--period S] [--loss PERCENT]\n"
          "                        [--outage HOURS:MINUTES | --no-outage] [--seed N] [--start UNIX]\n"
          "                        [--format jsonl|chirpstack|tts] [--topics] [--lost]\n"
          "                        [--anomaly DEVICE:FROM_HOURS:HOURS:TEMP_REGISTERS]\n"
          "Defaults: 40 devices, 3 days, 600 s, 2 %% loss, a 90-minute outage at 36 h, seed 1,\n"
          "keyframe interval 30, TLV fallback above 11 bytes (reference partner configuration).\n");
}

static void iso_time(double t, char *out, size_t cap) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  char b[32];
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%s.%06dZ", b, (int)((t - (double)s) * 1e6));
}

/* A UUID-shaped id, deterministic per uplink (redeliveries keep it). */
static void uuid_of(uint64_t a, uint64_t b, char *out, size_t cap) {
  uint64_t x = a * UINT64_C(0x9E3779B97F4A7C15) ^ b, y = b * UINT64_C(0xC2B2AE3D27D4EB4F) ^ a;
  snprintf(out, cap, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-8%03" PRIx32 "-%012" PRIx64, (uint32_t)(x >> 32),
           (uint32_t)(x >> 16) & 0xFFFF, (uint32_t)x & 0xFFF, (uint32_t)(y >> 52) & 0xFFF, y & UINT64_C(0xFFFFFFFFFFFF));
}

int main(int argc, char **argv) {
  alec_lws_config c;
  alec_lws_config_init(&c);
  const char *format = "jsonl";
  int topics = 0, with_lost = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end = NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--topics") == 0) {
      topics = 1;
      continue;
    } else if (strcmp(a, "--lost") == 0) {
      with_lost = 1;
      continue;
    } else if (strcmp(a, "--no-outage") == 0) {
      c.outage_start = -1;
      continue;
    }
    if (!v) {
      usage(stderr);
      return 2;
    }
    i++;
    if (strcmp(a, "--devices") == 0) c.devices = (unsigned)strtoul(v, &end, 10);
    else if (strcmp(a, "--days") == 0) c.days = strtod(v, &end);
    else if (strcmp(a, "--period") == 0) c.period = strtod(v, &end);
    else if (strcmp(a, "--loss") == 0) c.loss = strtod(v, &end) / 100.0;
    else if (strcmp(a, "--seed") == 0) c.seed = strtoull(v, &end, 10);
    else if (strcmp(a, "--start") == 0) c.start = strtod(v, &end);
    else if (strcmp(a, "--format") == 0) {
      format = v;
      end = (char *)"";
    } else if (strcmp(a, "--anomaly") == 0) {
      unsigned long dv = strtoul(v, &end, 10);
      double from = 0, len = 0, add = 0;
      if (*end == ':') from = strtod(end + 1, &end);
      if (*end == ':') len = strtod(end + 1, &end);
      if (*end == ':') add = strtod(end + 1, &end);
      else end = (char *)"x";
      if (dv > 1000000 || !(from >= 0) || !(len > 0) || !isfinite(add)) end = (char *)"x";
      c.anomaly_device = (unsigned)dv;
      c.anomaly_start = from * 3600;
      c.anomaly_length = len * 3600;
      c.anomaly_temp = add;
    } else if (strcmp(a, "--outage") == 0) {
      double h = strtod(v, &end), m = 0;
      if (*end == ':') m = strtod(end + 1, &end);
      c.outage_start = h * 3600;
      c.outage_length = m * 60;
    } else {
      usage(stderr);
      return 2;
    }
    if (!end || *end) {
      fprintf(stderr, "alec-lorawan-sim: bad value \"%s\" for %s\n", v, a);
      return 2;
    }
  }
  int fmt = strcmp(format, "jsonl") == 0 ? 0 : strcmp(format, "chirpstack") == 0 ? 1 : strcmp(format, "tts") == 0 ? 2 : -1;
  if (fmt < 0) {
    fprintf(stderr, "alec-lorawan-sim: unknown format \"%s\" (jsonl, chirpstack, tts)\n", format);
    return 2;
  }
  if (sodium_init() < 0) return 1;
  alec_lws *s;
  if (alec_lws_new(&s, &c) != 0) {
    fprintf(stderr, "alec-lorawan-sim: invalid configuration\n");
    return 2;
  }
  alec_lws_uplink u;
  while (alec_lws_next(s, &u) == 1) {
    if (u.lost && !with_lost) continue;
    char hex[2 * ALEC_LWS_MAX_PAYLOAD + 1], b64[2 * ALEC_LWS_MAX_PAYLOAD + 4], when[40], dedup[40], eui[17];
    sodium_bin2hex(hex, sizeof hex, u.payload, u.len);
    sodium_bin2base64(b64, sizeof b64, u.payload, u.len, sodium_base64_VARIANT_ORIGINAL);
    iso_time(u.time, when, sizeof when);
    uuid_of(u.deveui, u.index, dedup, sizeof dedup);
    snprintf(eui, sizeof eui, "%016" PRIx64, u.deveui);
    const char *app = u.device % 2 ? "building-b" : "building-a";
    char app_id[40];
    uuid_of(u.device % 2 + 1, 0, app_id, sizeof app_id);
    if (fmt == 0) {
      printf("{\"devEui\":\"%s\",\"device\":%u,\"time\":%.3f,\"fCnt\":%" PRIu32 ",\"fPort\":%u,\"kind\":\"%s\","
             "\"lost\":%s,\"truth\":[%.0f,%.0f,%.0f,%.0f,%.0f],\"payload\":\"%s\",\"data\":\"%s\"}\n",
             eui, u.device, u.time, u.fcnt, u.fport, u.tlv ? "tlv" : "alec", u.lost ? "true" : "false", u.truth[0],
             u.truth[1], u.truth[2], u.truth[3], u.truth[4], hex, b64);
    } else if (fmt == 1) {
      if (topics) printf("application/%s/device/%s/event/up\t", app_id, eui);
      printf("{\"deduplicationId\":\"%s\",\"time\":\"%s\",\"deviceInfo\":{\"tenantId\":"
             "\"52f14cd4-c6f1-4fbd-8f87-4025e1d49242\",\"tenantName\":\"ChirpStack\",\"applicationId\":\"%s\","
             "\"applicationName\":\"%s\",\"deviceProfileId\":\"b3f1d9a2-5c1e-4c7a-9f0e-1d2c3b4a5e6f\","
             "\"deviceProfileName\":\"EM500-CO2\",\"deviceName\":\"em500-%03u\",\"devEui\":\"%s\","
             "\"tags\":{\"floor\":\"%u\",\"model\":\"EM500-CO2\"}},\"devAddr\":\"%08" PRIx32 "\",\"adr\":true,"
             "\"dr\":0,\"fCnt\":%" PRIu32 ",\"fPort\":%u,\"confirmed\":false,\"data\":\"%s\",\"rxInfo\":[{"
             "\"gatewayId\":\"0016c001ff10a235\",\"uplinkId\":%" PRIu64 ",\"rssi\":%.0f,\"snr\":%.1f,"
             "\"channel\":0,\"location\":{},\"context\":\"AAAAAA==\"}],\"txInfo\":{\"frequency\":868100000,"
             "\"modulation\":{\"lora\":{\"bandwidth\":125000,\"spreadingFactor\":12,\"codeRate\":\"CR_4_5\"}}}}\n",
             dedup, when, app_id, app, u.device, eui, u.device % 4, (uint32_t)(0x26000000u + u.device), u.fcnt,
             u.fport, b64, u.index, (double)u.rssi, (double)u.snr);
    } else {
      if (topics) printf("v3/%s@ttn/devices/em500-%03u/up\t", app, u.device);
      printf("{\"end_device_ids\":{\"device_id\":\"em500-%03u\",\"application_ids\":{\"application_id\":\"%s\"},"
             "\"dev_eui\":\"%016" PRIX64 "\",\"dev_addr\":\"%08" PRIX32 "\"},\"correlation_ids\":[\"as:up:%s\"],"
             "\"received_at\":\"%s\",\"uplink_message\":{\"f_port\":%u,\"f_cnt\":%" PRIu32 ",\"frm_payload\":\"%s\","
             "\"rx_metadata\":[{\"gateway_ids\":{\"gateway_id\":\"gw-1\",\"eui\":\"0016C001FF10A235\"},"
             "\"rssi\":%.0f,\"channel_rssi\":%.0f,\"snr\":%.1f}],\"settings\":{\"data_rate\":{\"lora\":{"
             "\"bandwidth\":125000,\"spreading_factor\":12}},\"frequency\":\"868100000\"},\"received_at\":\"%s\","
             "\"consumed_airtime\":\"1.155072s\"}}\n",
             u.device, app, u.deveui, (uint32_t)(0x26000000u + u.device), dedup, when, u.fport, u.fcnt, b64,
             (double)u.rssi, (double)u.rssi, (double)u.snr, when);
    }
  }
  alec_lws_free(s);
  return fflush(stdout) == 0 ? 0 : 1;
}
