/* SPDX-License-Identifier: MIT */
/* Unit tests of src/receiver/nsevent.c: a ChirpStack v4 up event and a TTS
 * v3 uplink field for field (tests/fixtures/lorawan), one hostile variant
 * per rejection kind, every prefix of a valid event, 10,000-deep nesting,
 * RFC 3339 times, GroupFrom, topics and the downlink JSON of both servers. */

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nsevent.h"

/* 2026-12-07T09:20:01Z */
#define T0 1796635201.0

static char *load(const char *name, size_t *len) {
  const char *src = getenv("ALEC_SRCDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/fixtures/lorawan/%s", src ? src : ".", name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  char *buf = malloc(ALEC_NS_EVENT_MAX * 2);
  ck_assert_ptr_nonnull(buf);
  *len = fread(buf, 1, ALEC_NS_EVENT_MAX * 2 - 1, f);
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static int parse_str(int dialect, const char *s, alec_ns_uplink *u) {
  return alec_ns_parse_uplink(dialect, (const uint8_t *)s, strlen(s), u);
}

static const uint8_t tlv_example[] = {0x01, 0x75, 0x64, 0x03, 0x67, 0x19, 0x01, 0x04, 0x68,
                                      0x73, 0x05, 0x7D, 0x67, 0x04, 0x06, 0x73, 0x68, 0x27};

START_TEST(chirpstack_up) {
  size_t len;
  char *j = load("chirpstack_up.json", &len);
  alec_ns_uplink u;
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, (uint8_t *)j, len, &u), 0);
  ck_assert_uint_eq(u.dev_eui, UINT64_C(0x24e124126b316d47));
  ck_assert(u.has_fport && u.fport == 85);
  ck_assert(u.has_fcnt && u.fcnt == 1234);
  ck_assert(u.has_time);
  ck_assert_msg(fabs(u.time - (T0 + 0.482193007)) < 1e-6, "time %.9f", u.time);
  /* Best gateway: the second (SNR 9.5 > 7.25), with its own RSSI. */
  ck_assert_uint_eq(u.n_gateways, 2);
  ck_assert(u.has_snr && u.snr == 9.5f);
  ck_assert(u.has_rssi && u.rssi == -84.0f);
  ck_assert_str_eq(u.device_name, "em500-co2-07");
  ck_assert_str_eq(u.device_id, "");
  ck_assert_str_eq(u.application_id, "a3c1e7f0-2b6d-4e58-9c41-0d7f3e2b1a96");
  ck_assert_str_eq(u.application_name, "office-air");
  ck_assert_str_eq(u.tenant_id, "52f14cd4-c6f1-4fbd-8f87-4025e1d49242");
  ck_assert_str_eq(u.device_profile_id, "0b7e4f12-9d3a-4c6b-8e21-5f4a3b2c1d0e");
  ck_assert_str_eq(u.device_profile_name, "EM500-CO2 EU868");
  ck_assert_str_eq(u.dedup_id, "5e0f6c9a-8b1d-4c2e-9f3a-7d6b5a4c3b21");
  ck_assert_uint_eq(u.n_tags, 2);
  ck_assert_str_eq(u.tags[0].key, "building");
  ck_assert_str_eq(u.tags[0].value, "north");
  ck_assert_str_eq(u.tags[1].key, "floor");
  ck_assert_str_eq(u.tags[1].value, "3");
  ck_assert_uint_eq(u.data_len, sizeof tlv_example);
  ck_assert_mem_eq(u.data, tlv_example, sizeof tlv_example);
  /* The other dialect's fields are unknown fields: no uplink there. */
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_TTS, (uint8_t *)j, len, &u), ALEC_NS_ENOT_UPLINK);
  free(j);
}
END_TEST

START_TEST(tts_up) {
  size_t len;
  char *j = load("tts_up.json", &len);
  alec_ns_uplink u;
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_TTS, (uint8_t *)j, len, &u), 0);
  ck_assert_uint_eq(u.dev_eui, UINT64_C(0x24E124126B316D52));
  ck_assert(u.has_fport && u.fport == 85);
  ck_assert(u.has_fcnt && u.fcnt == 87);
  /* uplink_message.received_at wins over the message's own. */
  ck_assert(u.has_time);
  ck_assert_msg(fabs(u.time - (T0 + 0.512349810)) < 1e-6, "time %.9f", u.time);
  /* Best gateway by SNR (-1.5 > -4.75); its RSSI is channel_rssi. */
  ck_assert_uint_eq(u.n_gateways, 2);
  ck_assert(u.has_snr && u.snr == -1.5f);
  ck_assert(u.has_rssi && u.rssi == -88.0f);
  ck_assert_str_eq(u.device_id, "em500-co2-12");
  ck_assert_str_eq(u.device_name, "em500-co2-12");
  ck_assert_str_eq(u.application_id, "office-air");
  ck_assert_str_eq(u.application_name, "");
  ck_assert_str_eq(u.tenant_id, "ttn"); /* network_ids, until the topic says otherwise */
  ck_assert_str_eq(u.dedup_id, "as:up:01JEF0Q80B1C2D3E4F5G6H7J8K");
  ck_assert_uint_eq(u.n_tags, 0);
  ck_assert_uint_eq(u.data_len, sizeof tlv_example);
  ck_assert_mem_eq(u.data, tlv_example, sizeof tlv_example);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, (uint8_t *)j, len, &u), ALEC_NS_ENOT_UPLINK);
  free(j);
}
END_TEST

/* One fixture per defect, the rest of the event intact. */
static const struct {
  const char *file;
  int dialect, want;
} hostile[] = {
    {"cs_truncated.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETRUNCATED},
    {"tts_truncated.json", ALEC_NS_TTS, ALEC_NS_ETRUNCATED},
    {"cs_syntax.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ESYNTAX},
    {"cs_fport_string_word.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETYPE},
    /* Digits in a string are still not the number ChirpStack writes. */
    {"cs_fport_string.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETYPE},
    {"cs_deviceinfo_array.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETYPE},
    {"cs_top_array.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETYPE},
    {"tts_fport_bool.json", ALEC_NS_TTS, ALEC_NS_ETYPE},
    {"cs_duplicate_deveui.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EDUPLICATE},
    {"cs_missing_deveui.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EMISSING},
    {"cs_missing_deviceinfo.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EMISSING},
    {"cs_missing_fport.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EMISSING},
    {"tts_missing_ids.json", ALEC_NS_TTS, ALEC_NS_EMISSING},
    {"cs_deveui_15.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EDEVEUI},
    {"cs_deveui_17.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EDEVEUI},
    {"cs_deveui_nonhex.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EDEVEUI},
    {"tts_deveui_nonhex.json", ALEC_NS_TTS, ALEC_NS_EDEVEUI},
    {"cs_bad_base64.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EBASE64},
    {"cs_base64_unpadded.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EBASE64},
    {"tts_bad_base64.json", ALEC_NS_TTS, ALEC_NS_EBASE64},
    {"cs_payload_long.json", ALEC_NS_CHIRPSTACK, ALEC_NS_EPAYLOAD_LEN},
    {"cs_bad_time.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETIME},
    {"cs_fport_range.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ERANGE},
    {"cs_fcnt_negative.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ERANGE},
    {"cs_nul_in_name.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ESTRING},
    {"cs_too_many_tags.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ETAGS},
    {"cs_join.json", ALEC_NS_CHIRPSTACK, ALEC_NS_ENOT_UPLINK},
    {"tts_join.json", ALEC_NS_TTS, ALEC_NS_ENOT_UPLINK},
};

START_TEST(hostile_fixture) {
  size_t len;
  char *j = load(hostile[_i].file, &len);
  alec_ns_uplink u;
  memset(&u, 0xA5, sizeof u);
  int r = alec_ns_parse_uplink(hostile[_i].dialect, (uint8_t *)j, len, &u);
  ck_assert_msg(r == hostile[_i].want, "%s: %d (%s), want %s", hostile[_i].file, r, alec_ns_kind_name(r),
                alec_ns_kind_name(hostile[_i].want));
  /* A refusal leaves nothing half-parsed behind. */
  ck_assert_uint_eq(u.dev_eui, 0);
  ck_assert_uint_eq(u.data_len, 0);
  ck_assert_str_eq(u.device_name, "");
  free(j);
}
END_TEST

/* Every proper prefix of a valid event is a truncated event, never a
 * success or a crash (ASan/UBSan builds read nothing past len). */
START_TEST(every_prefix) {
  static const char *files[] = {"chirpstack_up.json", "tts_up.json"};
  static const int dialects[] = {ALEC_NS_CHIRPSTACK, ALEC_NS_TTS};
  for (int k = 0; k < 2; k++) {
    size_t len;
    char *j = load(files[k], &len);
    while (len > 0 && (j[len - 1] == '\n' || j[len - 1] == ' ')) len--;
    for (size_t n = 1; n < len; n++) {
      uint8_t *copy = malloc(n);
      memcpy(copy, j, n);
      alec_ns_uplink u;
      int r = alec_ns_parse_uplink(dialects[k], copy, n, &u);
      ck_assert_msg(r == ALEC_NS_ETRUNCATED, "%s cut at %zu: %s", files[k], n, alec_ns_kind_name(r));
      free(copy);
    }
    free(j);
  }
}
END_TEST

static char *nest(const char *prefix, const char *open, const char *close, int depth, const char *suffix) {
  size_t n = strlen(prefix) + (strlen(open) + strlen(close)) * (size_t)depth + strlen(suffix) + 1;
  char *s = malloc(n), *p = s;
  p += sprintf(p, "%s", prefix);
  for (int i = 0; i < depth; i++) p += sprintf(p, "%s", open);
  for (int i = 0; i < depth; i++) p += sprintf(p, "%s", close);
  sprintf(p, "%s", suffix);
  return s;
}

START_TEST(deep_nesting) {
  alec_ns_uplink u;
  /* 10,000 levels: at the root, and inside an unknown field of a valid event. */
  char *a = nest("", "[", "]", 10000, "");
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, a, &u), ALEC_NS_ETYPE); /* an array is no event */
  free(a);
  char *b = nest("{\"x\":", "[", "]", 10000, "}");
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, b, &u), ALEC_NS_EDEPTH);
  free(b);
  char *c = nest("{\"object\":", "{\"a\":", "}", 10000, "}");
  ck_assert_int_eq(parse_str(ALEC_NS_TTS, c, &u), ALEC_NS_EDEPTH);
  free(c);
  /* Within the limit, unknown nested content is skipped. */
  char *d = nest("{\"fPort\":1,\"deviceInfo\":{\"devEui\":\"0000000000000001\"},\"object\":", "[", "]",
                 ALEC_NS_DEPTH_MAX - 1, "}");
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, d, &u), 0);
  ck_assert_uint_eq(u.dev_eui, 1);
  free(d);
  char *e = nest("{\"fPort\":1,\"deviceInfo\":{\"devEui\":\"0000000000000001\"},\"object\":", "[", "]",
                 ALEC_NS_DEPTH_MAX, "}");
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, e, &u), ALEC_NS_EDEPTH);
  free(e);
}
END_TEST

START_TEST(oversized_and_empty) {
  alec_ns_uplink u;
  size_t len;
  char *j = load("chirpstack_up.json", &len);
  /* The size is refused before the first byte is read: the content is valid. */
  uint8_t *big = malloc(ALEC_NS_EVENT_MAX + 1);
  memset(big, ' ', ALEC_NS_EVENT_MAX + 1);
  memcpy(big, j, len);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, big, ALEC_NS_EVENT_MAX, &u), 0);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, big, ALEC_NS_EVENT_MAX + 1, &u), ALEC_NS_EOVERSIZED);
  free(big);
  free(j);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, (const uint8_t *)"", 0, &u), ALEC_NS_ETRUNCATED);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, "   ", &u), ALEC_NS_ETRUNCATED);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, "{}", &u), ALEC_NS_ENOT_UPLINK);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, "{} {}", &u), ALEC_NS_ESYNTAX);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, "42", &u), ALEC_NS_ETYPE);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, "{\"a\":\"\xff\"}", &u), ALEC_NS_ESYNTAX); /* not UTF-8 */
  ck_assert_int_eq(parse_str(ALEC_NS_RAW, "{}", &u), ALEC_NS_EDIALECT);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, NULL, 0, NULL), ALEC_NS_EINVAL);
}
END_TEST

START_TEST(field_details) {
  alec_ns_uplink u;
  const char *base = "{\"fPort\":2,\"deviceInfo\":{\"devEui\":\"ABCDEF0123456789\"}";
  char buf[1024];
#define CS(rest) (snprintf(buf, sizeof buf, "%s%s}", base, rest), parse_str(ALEC_NS_CHIRPSTACK, buf, &u))
  ck_assert_int_eq(CS(""), 0);
  ck_assert_uint_eq(u.dev_eui, UINT64_C(0xABCDEF0123456789));
  /* Zero values may be omitted (TTS, early ChirpStack v4): fCnt 0. */
  ck_assert(u.has_fcnt && u.fcnt == 0);
  ck_assert(!u.has_time && !u.has_snr && !u.has_rssi && u.data_len == 0);
  /* proto3 JSON: numbers may come as decimal strings, null means absent. */
  ck_assert_int_eq(CS(",\"fCnt\":\"4294967295\",\"data\":null,\"time\":null"), 0);
  ck_assert(u.has_fcnt && u.fcnt == UINT32_MAX);
  ck_assert_int_eq(CS(",\"fCnt\":4294967296"), ALEC_NS_ERANGE);
  ck_assert_int_eq(CS(",\"fCnt\":99999999999999999999999"), ALEC_NS_ERANGE);
  ck_assert_int_eq(CS(",\"fCnt\":1.5"), ALEC_NS_ERANGE);
  ck_assert_int_eq(CS(",\"fCnt\":\"12x\""), ALEC_NS_ETYPE);
  ck_assert_int_eq(CS(",\"fCnt\":true"), ALEC_NS_ETYPE);
  ck_assert_int_eq(CS(",\"fCnt\":{}"), ALEC_NS_ETYPE);
  ck_assert_int_eq(CS(",\"data\":5"), ALEC_NS_ETYPE);
  ck_assert_int_eq(CS(",\"data\":\"\""), 0);
  ck_assert_uint_eq(u.data_len, 0);
  ck_assert_int_eq(CS(",\"data\":\"/w==\""), 0);
  ck_assert(u.data_len == 1 && u.data[0] == 0xFF);
  ck_assert_int_eq(CS(",\"fPort\":3"), ALEC_NS_EDUPLICATE);
  /* Gateways: a non-finite SNR is no figure; no SNR loses to any SNR. */
  ck_assert_int_eq(CS(",\"rxInfo\":[{\"rssi\":-50,\"snr\":\"NaN\"},{\"rssi\":-120,\"snr\":-20}]"), 0);
  ck_assert(u.n_gateways == 2 && u.has_snr && u.snr == -20.0f && u.rssi == -120.0f);
  ck_assert_int_eq(CS(",\"rxInfo\":[{\"rssi\":-50},{\"rssi\":-40}]"), 0);
  ck_assert(!u.has_snr && u.has_rssi && u.rssi == -40.0f);
  ck_assert_int_eq(CS(",\"rxInfo\":[{\"snr\":5,\"rssi\":-60},{\"snr\":5,\"rssi\":-70}]"), 0);
  ck_assert(u.snr == 5.0f && u.rssi == -60.0f);
  ck_assert_int_eq(CS(",\"rxInfo\":[{\"snr\":1e1,\"rssi\":-6.5E1}]"), 0);
  ck_assert(u.snr == 10.0f && u.rssi == -65.0f);
  ck_assert_int_eq(CS(",\"rxInfo\":[{\"snr\":1000}]"), ALEC_NS_ERANGE);
  ck_assert_int_eq(CS(",\"rxInfo\":[{\"rssi\":-1e400}]"), ALEC_NS_ERANGE);
  ck_assert_int_eq(CS(",\"rxInfo\":[5]"), ALEC_NS_ETYPE);
  ck_assert_int_eq(CS(",\"rxInfo\":{}"), ALEC_NS_ETYPE);
  ck_assert_int_eq(CS(",\"rxInfo\":[]"), 0);
  ck_assert_uint_eq(u.n_gateways, 0);
  /* Unknown fields of any type are skipped. */
  ck_assert_int_eq(CS(",\"object\":{\"co2\":[1,2,{\"x\":null}]},\"adr\":true,\"confirmed\":false,\"dr\":5"), 0);
  /* A deduplicationId too long to be a key only disables redelivery detection. */
  char longid[200];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  char rest[300];
  snprintf(rest, sizeof rest, ",\"deduplicationId\":\"%s\"", longid);
  ck_assert_int_eq(CS(rest), 0);
  ck_assert_str_eq(u.dedup_id, "");
  /* Names longer than collectd's host field are refused, not cut. */
  char name[140];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  snprintf(buf, sizeof buf, "{\"fPort\":2,\"deviceInfo\":{\"devEui\":\"ABCDEF0123456789\",\"deviceName\":\"%s\"}}", name);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK, buf, &u), ALEC_NS_ESTRING);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK,
                             "{\"fPort\":2,\"deviceInfo\":{\"devEui\":\"ABCDEF0123456789\",\"tags\":{\"a\":\"1\",\"a\":\"2\"}}}",
                             &u),
                   ALEC_NS_EDUPLICATE);
  ck_assert_int_eq(parse_str(ALEC_NS_CHIRPSTACK,
                             "{\"fPort\":2,\"deviceInfo\":{\"devEui\":\"ABCDEF0123456789\",\"tags\":{\"a\":1}}}", &u),
                   ALEC_NS_ETYPE);
  /* 243 well-formed bytes: a length refusal. */
  char data[400] = ",\"data\":\"";
  for (int i = 0; i < 324; i++) strcat(data, "A");
  strcat(data, "\"");
  ck_assert_int_eq(CS(data), ALEC_NS_EPAYLOAD_LEN);
  /* 242 bytes: accepted. */
  char data2[400] = ",\"data\":\"";
  for (int i = 0; i < 320; i++) strcat(data2, "A");
  strcat(data2, "AAA=\"");
  ck_assert_int_eq(CS(data2), 0);
  ck_assert_uint_eq(u.data_len, 242);
#undef CS
  /* TTS: f_cnt omitted when zero (proto3), the top-level received_at when
   * uplink_message has none. */
  ck_assert_int_eq(parse_str(ALEC_NS_TTS,
                             "{\"end_device_ids\":{\"device_id\":\"d\",\"dev_eui\":\"0000000000000002\"},"
                             "\"received_at\":\"1970-01-01T00:00:10Z\",\"uplink_message\":{\"f_port\":1}}",
                             &u),
                   0);
  ck_assert(u.has_fcnt && u.fcnt == 0 && u.has_time && u.time == 10.0);
}
END_TEST

START_TEST(rfc3339) {
  double t;
#define T(s) alec_ns_parse_time(s, strlen(s), &t)
  ck_assert_int_eq(T("1970-01-01T00:00:00Z"), 0);
  ck_assert(t == 0.0);
  ck_assert_int_eq(T("2026-12-07T09:20:01Z"), 0);
  ck_assert(t == T0);
  ck_assert_int_eq(T("2026-12-07t10:20:01.25+01:00"), 0);
  ck_assert(t == T0 + 0.25);
  ck_assert_int_eq(T("2026-12-07T05:50:01-03:30"), 0);
  ck_assert(t == T0);
  ck_assert_int_eq(T("2026-12-07T09:20:01.123456789123z"), 0);
  ck_assert(fabs(t - (T0 + 0.123456789)) < 1e-6);
  ck_assert_int_eq(T("2024-02-29T00:00:00Z"), 0);
  ck_assert_int_eq(T("2000-02-29T00:00:00Z"), 0);
  ck_assert_int_eq(T("2026-02-29T00:00:00Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("1900-02-29T00:00:00Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-13-01T00:00:00Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-04-31T00:00:00Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07T24:00:00Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07T09:20:01"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07T09:20:01.Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07T09:20:01ZZ"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07T09:20:01+0100"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07T09:20:01+01"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-12-07 09:20:01Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("2026-1-07T09:20:01Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T("+026-12-07T09:20:01Z"), ALEC_NS_ETIME);
  ck_assert_int_eq(T(""), ALEC_NS_ETIME);
  /* Lengths are honoured: no read past them. */
  ck_assert_int_eq(alec_ns_parse_time("2026-12-07T09:20:01Z", 19, &t), ALEC_NS_ETIME);
#undef T
}
END_TEST

START_TEST(kinds_table) {
  for (int k = 1; k <= ALEC_NS_KINDS; k++) {
    const char *n = alec_ns_kind_name(-k);
    ck_assert(strncmp(n, "ns_", 3) == 0 && strcmp(n, "ns_unknown") != 0);
    ck_assert(strcmp(alec_ns_strerror(-k), "unknown network-server event error") != 0);
    for (int l = 1; l < k; l++) ck_assert_str_ne(n, alec_ns_kind_name(-l));
  }
  ck_assert_str_eq(alec_ns_kind_name(-ALEC_NS_KINDS - 1), "ns_unknown");
  /* Message kinds first, API errors after them. */
  ck_assert_int_eq(-ALEC_NS_MESSAGE_KINDS, ALEC_NS_ETOPIC);
  ck_assert_int_lt(ALEC_NS_EDIALECT, ALEC_NS_ETOPIC);
  ck_assert_str_eq(alec_ns_kind_name(0), "ns_unknown");
  ck_assert_str_eq(alec_ns_kind_name(ALEC_NS_EBASE64), "ns_bad_base64");
  ck_assert_str_eq(alec_ns_strerror(ALEC_NS_EDEVEUI), "devEui is not 16 hex digits");
  ck_assert_int_eq(alec_ns_dialect_parse("chirpstack"), ALEC_NS_CHIRPSTACK);
  ck_assert_int_eq(alec_ns_dialect_parse("tts"), ALEC_NS_TTS);
  ck_assert_int_eq(alec_ns_dialect_parse("raw"), ALEC_NS_RAW);
  ck_assert_int_eq(alec_ns_dialect_parse("ChirpStack"), ALEC_NS_EDIALECT);
  ck_assert_int_eq(alec_ns_dialect_parse(NULL), ALEC_NS_EDIALECT);
  ck_assert_str_eq(alec_ns_dialect_name(ALEC_NS_TTS), "tts");
  ck_assert_str_eq(alec_ns_default_topic(ALEC_NS_CHIRPSTACK), "application/+/device/+/event/up");
  ck_assert_str_eq(alec_ns_default_topic(ALEC_NS_TTS), "v3/+/devices/+/up");
  ck_assert_ptr_null(alec_ns_default_topic(ALEC_NS_RAW));
  char eui[17];
  alec_ns_dev_eui_format(UINT64_C(0x0004A30B001C0531), eui);
  ck_assert_str_eq(eui, "0004a30b001c0531");
}
END_TEST

START_TEST(group_from) {
  size_t len;
  char *j = load("chirpstack_up.json", &len);
  alec_ns_uplink u;
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, (uint8_t *)j, len, &u), 0);
  free(j);
  char g[64];
  ck_assert_int_eq(alec_ns_group_from_valid("application"), 0);
  ck_assert_int_eq(alec_ns_group_from_valid("device-profile"), 0);
  ck_assert_int_eq(alec_ns_group_from_valid("tag:building"), 0);
  ck_assert_int_eq(alec_ns_group_from_valid("tag:"), ALEC_NS_EGROUP_FROM);
  ck_assert_int_eq(alec_ns_group_from_valid("tenant"), ALEC_NS_EGROUP_FROM);
  ck_assert_int_eq(alec_ns_group_from_valid(NULL), ALEC_NS_EGROUP_FROM);
  ck_assert_int_eq(alec_ns_group(&u, "application", g, sizeof g), 1);
  ck_assert_str_eq(g, "office-air");
  ck_assert_int_eq(alec_ns_group(&u, "device-profile", g, sizeof g), 1);
  ck_assert_str_eq(g, "EM500-CO2 EU868");
  ck_assert_int_eq(alec_ns_group(&u, "tag:building", g, sizeof g), 1);
  ck_assert_str_eq(g, "north");
  ck_assert_int_eq(alec_ns_group(&u, "tag:room", g, sizeof g), 0);
  ck_assert_str_eq(g, "");
  ck_assert_int_eq(alec_ns_group(&u, "tag:building", g, 5), ALEC_NS_ENOSPC);
  ck_assert_str_eq(g, "");
  ck_assert_int_eq(alec_ns_group(&u, "bogus", g, sizeof g), ALEC_NS_EGROUP_FROM);
  /* Names first, ids when the server sends no name. */
  u.application_name[0] = u.device_profile_name[0] = '\0';
  ck_assert_int_eq(alec_ns_group(&u, "application", g, sizeof g), 1);
  ck_assert_str_eq(g, "a3c1e7f0-2b6d-4e58-9c41-0d7f3e2b1a96");
  ck_assert_int_eq(alec_ns_group(&u, "device-profile", g, sizeof g), 1);
  ck_assert_str_eq(g, "0b7e4f12-9d3a-4c6b-8e21-5f4a3b2c1d0e");
}
END_TEST

START_TEST(topics) {
  ck_assert(alec_ns_topic_match("application/+/device/+/event/up", "application/a/device/b/event/up"));
  ck_assert(!alec_ns_topic_match("application/+/device/+/event/up", "application/a/device/b/event/join"));
  ck_assert(!alec_ns_topic_match("application/+/device/+/event/up", "application/a/device/b/event/up/x"));
  ck_assert(!alec_ns_topic_match("application/+/device/+/event/up", "application/a/device/event/up"));
  ck_assert(alec_ns_topic_match("application/#", "application/a/device/b/event/up"));
  ck_assert(alec_ns_topic_match("application/#", "application"));
  ck_assert(alec_ns_topic_match("#", "a/b"));
  ck_assert(!alec_ns_topic_match("#", "$SYS/broker"));
  ck_assert(!alec_ns_topic_match("+/broker", "$SYS/broker"));
  ck_assert(alec_ns_topic_match("v3/+/devices/+/up", "v3/app@ttn/devices/d1/up"));
  ck_assert(alec_ns_topic_match("a/+", "a/"));
  ck_assert(!alec_ns_topic_match("a/b", "a/b/"));
  ck_assert(!alec_ns_topic_match("a", "ab"));

  size_t len;
  char *j = load("chirpstack_up.json", &len);
  alec_ns_uplink u;
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, (uint8_t *)j, len, &u), 0);
  free(j);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_CHIRPSTACK,
                                       "application/a3c1e7f0-2b6d-4e58-9c41-0d7f3e2b1a96/device/24E124126B316D47/event/up",
                                       &u),
                   0);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_CHIRPSTACK,
                                       "application/a3c1e7f0-2b6d-4e58-9c41-0d7f3e2b1a96/device/24e124126b316d48/event/up",
                                       &u),
                   ALEC_NS_ETOPIC);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_CHIRPSTACK, "application/other/device/24e124126b316d47/event/up", &u),
                   ALEC_NS_ETOPIC);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_CHIRPSTACK, "site/a/uplinks", &u), 1);

  j = load("tts_up.json", &len);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_TTS, (uint8_t *)j, len, &u), 0);
  free(j);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_TTS, "v3/office-air@ttn/devices/em500-co2-12/up", &u), 0);
  ck_assert_str_eq(u.tenant_id, "ttn");
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_TTS, "v3/office-air@/devices/em500-co2-12/up", &u), ALEC_NS_ETOPIC);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_TTS, "v3/office-air@ttn/devices/em500-co2-13/up", &u), ALEC_NS_ETOPIC);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_TTS, "v3/other@ttn/devices/em500-co2-12/up", &u), ALEC_NS_ETOPIC);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_TTS, "v3/office-air/devices/em500-co2-12/up", &u), 0);
  ck_assert_str_eq(u.tenant_id, "");
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_RAW, "x", &u), ALEC_NS_EDIALECT);
}
END_TEST

START_TEST(downlinks) {
  size_t len;
  char *j = load("chirpstack_up.json", &len);
  alec_ns_uplink u;
  char topic[256], json[512];
  const uint8_t req = 0xFF;
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_CHIRPSTACK, (uint8_t *)j, len, &u), 0);
  free(j);
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_CHIRPSTACK, &u, 85, &req, 1, topic, sizeof topic, json, sizeof json),
                   0);
  ck_assert_str_eq(topic, "application/a3c1e7f0-2b6d-4e58-9c41-0d7f3e2b1a96/device/24e124126b316d47/command/down");
  ck_assert_str_eq(json, "{\"devEui\":\"24e124126b316d47\",\"confirmed\":false,\"fPort\":85,\"data\":\"/w==\"}");
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_CHIRPSTACK, &u, 85, &req, 1, topic, 20, json, sizeof json),
                   ALEC_NS_ENOSPC);
  ck_assert_str_eq(topic, "");
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_CHIRPSTACK, &u, 85, &req, 1, topic, sizeof topic, json, 40),
                   ALEC_NS_ENOSPC);
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_CHIRPSTACK, &u, 0, &req, 1, topic, sizeof topic, json, sizeof json),
                   ALEC_NS_EINVAL);
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_CHIRPSTACK, &u, 224, &req, 1, topic, sizeof topic, json, sizeof json),
                   ALEC_NS_EINVAL);
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_RAW, &u, 85, &req, 1, topic, sizeof topic, json, sizeof json),
                   ALEC_NS_EDIALECT);
  strcpy(u.application_id, "a/#");
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_CHIRPSTACK, &u, 85, &req, 1, topic, sizeof topic, json, sizeof json),
                   ALEC_NS_ETOPIC);

  j = load("tts_up.json", &len);
  ck_assert_int_eq(alec_ns_parse_uplink(ALEC_NS_TTS, (uint8_t *)j, len, &u), 0);
  free(j);
  ck_assert_int_eq(alec_ns_check_topic(ALEC_NS_TTS, "v3/office-air@ttn/devices/em500-co2-12/up", &u), 0);
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_TTS, &u, 85, &req, 1, topic, sizeof topic, json, sizeof json), 0);
  ck_assert_str_eq(topic, "v3/office-air@ttn/devices/em500-co2-12/down/push");
  ck_assert_str_eq(json, "{\"downlinks\":[{\"f_port\":85,\"frm_payload\":\"/w==\",\"priority\":\"NORMAL\"}]}");
  u.tenant_id[0] = '\0';
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_TTS, &u, 10, tlv_example, sizeof tlv_example, topic, sizeof topic,
                                           json, sizeof json),
                   0);
  ck_assert_str_eq(topic, "v3/office-air/devices/em500-co2-12/down/push");
  ck_assert_str_eq(json,
                   "{\"downlinks\":[{\"f_port\":10,\"frm_payload\":\"AXVkA2cZAQRocwV9ZwQGc2gn\",\"priority\":\"NORMAL\"}]}");
  u.device_id[0] = '\0';
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_TTS, &u, 85, &req, 1, topic, sizeof topic, json, sizeof json),
                   ALEC_NS_ETOPIC);
  strcpy(u.device_id, "d+1");
  ck_assert_int_eq(alec_ns_format_downlink(ALEC_NS_TTS, &u, 85, &req, 1, topic, sizeof topic, json, sizeof json),
                   ALEC_NS_ETOPIC);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("nsevent");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, chirpstack_up);
  tcase_add_test(tc, tts_up);
  tcase_add_loop_test(tc, hostile_fixture, 0, (int)(sizeof hostile / sizeof hostile[0]));
  tcase_add_test(tc, every_prefix);
  tcase_add_test(tc, deep_nesting);
  tcase_add_test(tc, oversized_and_empty);
  tcase_add_test(tc, field_details);
  tcase_add_test(tc, rfc3339);
  tcase_add_test(tc, kinds_table);
  tcase_add_test(tc, group_from);
  tcase_add_test(tc, topics);
  tcase_add_test(tc, downlinks);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
