/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the network-server event parser (src/receiver/nsevent.h).
 *
 * Input: one MQTT message body as the network server would publish it
 * (seeds: the JSON files of tests/fixtures/lorawan). Each input is parsed as a
 * ChirpStack v4 event and as a TTS v3 event. Oracles: the result is 0 or a
 * message rejection kind (never an API error), a refusal leaves the output
 * all zero, a success has NUL-terminated strings without control characters
 * inside their fields and bounded counts and figures, parsing is
 * deterministic, and the helpers that take an uplink (GroupFrom, topic
 * check, downlink JSON) accept whatever a successful parse produced: the
 * downlink topic never holds a wildcard or an extra level. The RFC 3339
 * parser and the topic matcher also get the raw input. */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "nsevent.h"

static void check_str(const char *s, size_t cap) {
  size_t n = strnlen(s, cap);
  FUZZ_CHECK(n < cap);
  for (size_t i = 0; i < n; i++) FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

/* alec_ns_parse_uplink refuses with message kinds only, and never with the
 * topic check's. */
static int is_message_kind(int r) { return r < 0 && r >= -ALEC_NS_MESSAGE_KINDS && r != ALEC_NS_ETOPIC; }

static void one(int dialect, const uint8_t *d, size_t n) {
  static alec_ns_uplink u, v, zero;
  int r = alec_ns_parse_uplink(dialect, d, n, &u);
  FUZZ_CHECK(r == 0 || is_message_kind(r));
  FUZZ_CHECK(strcmp(alec_ns_kind_name(r), "ns_unknown") != 0 || r == 0);
  int r2 = alec_ns_parse_uplink(dialect, d, n, &v);
  FUZZ_CHECK(r2 == r && memcmp(&u, &v, sizeof u) == 0);
  if (r != 0) {
    FUZZ_CHECK(memcmp(&u, &zero, sizeof u) == 0);
    return;
  }
  check_str(u.device_name, sizeof u.device_name);
  check_str(u.device_id, sizeof u.device_id);
  check_str(u.application_id, sizeof u.application_id);
  check_str(u.application_name, sizeof u.application_name);
  check_str(u.tenant_id, sizeof u.tenant_id);
  check_str(u.device_profile_id, sizeof u.device_profile_id);
  check_str(u.device_profile_name, sizeof u.device_profile_name);
  check_str(u.dedup_id, sizeof u.dedup_id);
  FUZZ_CHECK(u.n_tags <= ALEC_NS_TAGS_MAX);
  for (unsigned i = 0; i < u.n_tags; i++) {
    check_str(u.tags[i].key, sizeof u.tags[i].key);
    check_str(u.tags[i].value, sizeof u.tags[i].value);
    for (unsigned j = 0; j < i; j++) FUZZ_CHECK(strcmp(u.tags[i].key, u.tags[j].key) != 0);
  }
  FUZZ_CHECK(u.data_len <= ALEC_NS_DATA_MAX);
  FUZZ_CHECK(u.data_len == 0 || u.has_fport);
  FUZZ_CHECK(!u.has_snr || (isfinite(u.snr) && u.snr >= -100 && u.snr <= 100));
  FUZZ_CHECK(!u.has_rssi || (isfinite(u.rssi) && u.rssi >= -300 && u.rssi <= 100));
  FUZZ_CHECK(!u.has_time || isfinite(u.time));
  FUZZ_CHECK(u.n_gateways <= n);

  char g[64];
  static const char *gf[] = {"application", "device-profile", "tag:building", "tag:a"};
  for (size_t i = 0; i < sizeof gf / sizeof gf[0]; i++) {
    int k = alec_ns_group(&u, gf[i], g, sizeof g);
    FUZZ_CHECK(k == 0 || k == 1 || k == ALEC_NS_ENOSPC);
    FUZZ_CHECK(k == 1 ? g[0] != '\0' : g[0] == '\0');
  }
  if (u.n_tags > 0) {
    char spec[ALEC_NS_TAG_KEY_LEN + 4];
    snprintf(spec, sizeof spec, "tag:%s", u.tags[0].key);
    if (alec_ns_group_from_valid(spec) == 0) {
      int k = alec_ns_group(&u, spec, g, sizeof g);
      FUZZ_CHECK(k == 1 || (k == 0 && u.tags[0].value[0] == '\0') || k == ALEC_NS_ENOSPC);
    }
  }

  /* The topic the uplink would have come on is consistent with it. */
  char topic[512], eui[17], json[1024];
  alec_ns_dev_eui_format(u.dev_eui, eui);
  if (dialect == ALEC_NS_CHIRPSTACK)
    snprintf(topic, sizeof topic, "application/%s/device/%s/event/up", u.application_id, eui);
  else
    snprintf(topic, sizeof topic, "v3/%s@t1/devices/%s/up", u.application_id, u.device_id);
  int c = alec_ns_check_topic(dialect, topic, &u);
  if (strpbrk(u.application_id, "/@") == NULL && strchr(u.device_id, '/') == NULL) {
    FUZZ_CHECK(c == 0);
    FUZZ_CHECK(alec_ns_topic_match(alec_ns_default_topic(dialect), topic));
  } else {
    FUZZ_CHECK(c == 0 || c == 1 || c == ALEC_NS_ETOPIC);
  }

  const uint8_t req = 0xFF;
  int f = alec_ns_format_downlink(dialect, &u, u.has_fport && u.fport >= 1 && u.fport <= 223 ? u.fport : 1,
                                  u.data_len ? u.data : &req, u.data_len ? u.data_len : 1, topic, sizeof topic, json,
                                  sizeof json);
  FUZZ_CHECK(f == 0 || f == ALEC_NS_ETOPIC);
  if (f == 0) {
    FUZZ_CHECK(strpbrk(topic, "+#") == NULL);
    unsigned levels = 0;
    for (const char *p = topic; *p; p++) levels += *p == '/';
    FUZZ_CHECK(levels == (dialect == ALEC_NS_CHIRPSTACK ? 5u : 5u));
    FUZZ_CHECK(json[0] == '{' && json[strlen(json) - 1] == '}');
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  one(ALEC_NS_CHIRPSTACK, d, n);
  one(ALEC_NS_TTS, d, n);

  double t;
  if (alec_ns_parse_time((const char *)d, n, &t) == 0) FUZZ_CHECK(isfinite(t));

  /* Filter and topic: the input split at its first NUL, both made strings. */
  if (n < 512) {
    char buf[1024];
    memcpy(buf, d, n);
    buf[n] = '\0';
    const char *filter = buf, *topic = buf + strlen(buf);
    if ((size_t)(topic - buf) < n) topic++;
    int m = alec_ns_topic_match(filter, topic);
    FUZZ_CHECK(m == 0 || m == 1);
    if (strpbrk(filter, "+#") == NULL && topic[0] != '$') FUZZ_CHECK(m == (strcmp(filter, topic) == 0));
    FUZZ_CHECK(alec_ns_topic_match("#", topic) == (topic[0] != '$'));
  }
  return 0;
}
