/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_NSEVENT_H
#define ALEC_RECEIVER_NSEVENT_H

/* LoRaWAN network-server events: the uplink JSON that ChirpStack v4 (its
 * MQTT integration's JSON marshaler) and The Things Stack v3 publish, and
 * the downlink JSON both accept. Transport-free (no broker, no collectd):
 * the MQTT and AMQP transports call it on every message they receive.
 *
 * Every message is hostile input: its size is checked before any parsing,
 * the JSON is read by yajl's callback parser with a depth limit and no tree,
 * so no allocation or work depends on what the message claims; every field
 * the receiver uses is checked for type, length and range, and a refusal
 * names its kind (one table below: counters, names, log text).
 *
 * Duplicate keys: a field the parser reads that appears twice in the same
 * object is refused (ALEC_NS_EDUPLICATE), because "last wins" in one parser
 * and "first wins" in another lets a message mean two things. Unknown fields
 * are skipped whatever their content (within the depth limit). */

#include <stddef.h>
#include <stdint.h>

enum alec_ns_dialect {
  ALEC_NS_CHIRPSTACK = 1, /* ChirpStack v4, JSON marshaler */
  ALEC_NS_TTS = 2,        /* The Things Stack v3 (The Things Network) */
  /* Not a network server: the transport's own bare frames or envelopes
   * (emitter id from a topic level). alec_ns_parse_uplink refuses it. */
  ALEC_NS_RAW = 3
};
/* "chirpstack", "tts", "raw" -> enum alec_ns_dialect, or ALEC_NS_EDIALECT. */
int alec_ns_dialect_parse(const char *name);
/* The dialect's configuration name, "?" when unknown. */
const char *alec_ns_dialect_name(int dialect);

/* Limits. An event larger than ALEC_NS_EVENT_MAX is refused before yajl
 * sees a byte (transports usually enforce a smaller MaxMessageSize). */
#define ALEC_NS_EVENT_MAX 65536
#define ALEC_NS_DEPTH_MAX 16  /* nesting of objects and arrays */
#define ALEC_NS_DATA_MAX 242  /* largest LoRaWAN FRMPayload */
#define ALEC_NS_TAGS_MAX 16
#define ALEC_NS_TAG_KEY_LEN 64
#define ALEC_NS_TAG_VALUE_LEN 128
#define ALEC_NS_NAME_LEN 128 /* collectd's DATA_MAX_NAME_LEN, NUL included */
#define ALEC_NS_ID_LEN 64

/* Rejection kinds and errors: X(NAME, snake_name, message). The snake names
 * are statistics names (stable); the first kinds are what a hostile or
 * unexpected message gets, the last ones are API errors of the helpers. */
#define ALEC_NS_ERRORS(X)                                                           \
  X(OVERSIZED, ns_oversized, "event larger than the size limit")                    \
  X(SYNTAX, ns_json_syntax, "JSON syntax error")                                    \
  X(TRUNCATED, ns_json_truncated, "truncated JSON")                                 \
  X(DEPTH, ns_too_deep, "JSON nested too deep")                                     \
  X(TYPE, ns_wrong_type, "field of the wrong JSON type")                            \
  X(DUPLICATE, ns_duplicate_key, "field given twice in one object")                 \
  X(MISSING, ns_missing_field, "required field missing")                            \
  X(DEVEUI, ns_bad_dev_eui, "devEui is not 16 hex digits")                          \
  X(BASE64, ns_bad_base64, "payload is not valid base64")                           \
  X(PAYLOAD_LEN, ns_payload_too_long, "payload longer than a LoRaWAN FRMPayload")   \
  X(TIME, ns_bad_time, "time is not RFC 3339")                                      \
  X(RANGE, ns_out_of_range, "number out of range (fPort, fCnt, RSSI, SNR)")         \
  X(STRING, ns_bad_string, "string too long or with a control character")          \
  X(TAGS, ns_too_many_tags, "more device tags than the parser keeps")               \
  X(NOT_UPLINK, ns_not_uplink, "not an uplink event")                               \
  X(TOPIC, ns_topic_mismatch, "topic and event disagree, or id unusable in a topic") \
  X(DIALECT, ns_bad_dialect, "unknown or unsupported dialect")                      \
  X(GROUP_FROM, ns_bad_group_from, "GroupFrom is not tag:<key>, application or device-profile") \
  X(NOSPC, ns_no_space, "output buffer too small")                                  \
  X(INVAL, ns_invalid, "invalid argument")

enum alec_ns_kind_index_ {
  ALEC_NS_I_BASE_ = 0,
#define ALEC_NS_X_(n, s, m) ALEC_NS_I_##n,
  ALEC_NS_ERRORS(ALEC_NS_X_)
#undef ALEC_NS_X_
  ALEC_NS_I_END_
};
/* Negative codes, like include/alec/error.h: -1 .. -ALEC_NS_KINDS. */
enum alec_ns_error {
  ALEC_NS_OK = 0,
#define ALEC_NS_X_(n, s, m) ALEC_NS_E##n = -ALEC_NS_I_##n,
  ALEC_NS_ERRORS(ALEC_NS_X_)
#undef ALEC_NS_X_
};
#define ALEC_NS_KINDS (ALEC_NS_I_END_ - 1)
/* The kinds a message can get (-1 .. -ALEC_NS_MESSAGE_KINDS: OVERSIZED ..
 * TOPIC, the statistics a transport keeps per refusal); the rest are errors
 * of the API's own arguments. */
#define ALEC_NS_MESSAGE_KINDS ALEC_NS_I_TOPIC

const char *alec_ns_strerror(int err);
/* The statistics name of a kind ("ns_bad_base64"), "ns_unknown" otherwise. */
const char *alec_ns_kind_name(int err);

/* One uplink as the network server reported it. Strings are NUL-terminated,
 * "" when absent; has_* say whether a field was present. */
typedef struct alec_ns_uplink {
  uint64_t dev_eui; /* ChirpStack deviceInfo.devEui, TTS end_device_ids.dev_eui */
  int has_fport, has_fcnt, has_time, has_rssi, has_snr;
  uint8_t fport;
  uint32_t fcnt; /* absent in an uplink means 0 (has_fcnt set): TTS omits
                    zero values, and so did early ChirpStack v4 releases */
  double time;   /* unix seconds: ChirpStack "time", TTS uplink_message.received_at
                    (else the top-level received_at) */
  /* Best gateway: highest SNR, then highest RSSI, over rxInfo / rx_metadata
   * (TTS: rssi, else channel_rssi). */
  float rssi, snr;
  unsigned n_gateways;
  /* ChirpStack deviceName; TTS end_device_ids.device_id. */
  char device_name[ALEC_NS_NAME_LEN];
  /* TTS end_device_ids.device_id (the downlink topic needs it); ChirpStack: "". */
  char device_id[ALEC_NS_ID_LEN];
  /* ChirpStack deviceInfo.applicationId (UUID); TTS application_ids.application_id. */
  char application_id[ALEC_NS_ID_LEN];
  char application_name[ALEC_NS_NAME_LEN]; /* ChirpStack only */
  /* ChirpStack deviceInfo.tenantId; TTS uplink_message.network_ids.tenant_id,
   * replaced by the "@tenant" of the uplink topic in alec_ns_check_topic
   * ("" when the topic has none: a single-tenant server). */
  char tenant_id[ALEC_NS_ID_LEN];
  char device_profile_id[ALEC_NS_ID_LEN];     /* ChirpStack only */
  char device_profile_name[ALEC_NS_NAME_LEN]; /* ChirpStack only */
  /* Redelivery key: ChirpStack deduplicationId; TTS the "as:up:" correlation
   * id. "" when absent (or longer than the field). */
  char dedup_id[ALEC_NS_ID_LEN];
  struct {
    char key[ALEC_NS_TAG_KEY_LEN], value[ALEC_NS_TAG_VALUE_LEN];
  } tags[ALEC_NS_TAGS_MAX]; /* ChirpStack deviceInfo.tags */
  unsigned n_tags;
  size_t data_len; /* 0: the uplink carried no FRMPayload */
  uint8_t data[ALEC_NS_DATA_MAX];
} alec_ns_uplink;

/* Parses one uplink event of `dialect` (CHIRPSTACK or TTS). 0, or a
 * negative ALEC_NS_E* kind; *out is fully rewritten either way (zeroed
 * first). Required: the devEui, and the uplink itself (ChirpStack fPort or
 * data; TTS uplink_message), otherwise ALEC_NS_ENOT_UPLINK (join, status,
 * ack... events on a shared topic). Thread-safe, no global state. */
int alec_ns_parse_uplink(int dialect, const uint8_t *json, size_t len, alec_ns_uplink *out);

/* GroupFrom: "tag:<key>" (a ChirpStack device tag), "application"
 * (application name, else its id) or "device-profile" (profile name, else
 * its id). alec_ns_group_from_valid: 0 or ALEC_NS_EGROUP_FROM. */
int alec_ns_group_from_valid(const char *group_from);
/* Writes u's group for group_from into out: 1 written, 0 the uplink has
 * none (out = ""), ALEC_NS_EGROUP_FROM, ALEC_NS_ENOSPC (out = ""). */
int alec_ns_group(const alec_ns_uplink *u, const char *group_from, char *out, size_t cap);

/* Topics. The default uplink subscription of a dialect
 * ("application/+/device/+/event/up", "v3/+/devices/+/up"), NULL for RAW. */
const char *alec_ns_default_topic(int dialect);
/* MQTT topic filter matching ('+' one level, '#' the rest): 1 or 0. */
int alec_ns_topic_match(const char *filter, const char *topic);
/* Checks the topic an uplink came on against the event (a publisher the
 * broker allows on one device's topic must not speak for another) and takes
 * what only the topic carries (TTS tenant). For the dialect's default topic
 * shape: 0 consistent (u updated), ALEC_NS_ETOPIC when the topic names
 * another device or application. 1: the topic has another shape (a custom
 * template), nothing checked. */
int alec_ns_check_topic(int dialect, const char *topic, alec_ns_uplink *u);

/* The downlink that sends `payload` (n bytes, at most ALEC_NS_DATA_MAX) on
 * `fport` (1..223) to the device of uplink u, through its network server:
 *   ChirpStack: application/{applicationId}/device/{devEui}/command/down
 *     {"devEui":"<16 lowercase hex>","confirmed":false,"fPort":N,"data":"<base64>"}
 *   TTS: v3/{application_id}[@{tenant}]/devices/{device_id}/down/push
 *     {"downlinks":[{"f_port":N,"frm_payload":"<base64>","priority":"NORMAL"}]}
 * topic and json are NUL-terminated. 0, ALEC_NS_ETOPIC (an id is empty or
 * holds '/', '+', '#' or a control character), ALEC_NS_ENOSPC,
 * ALEC_NS_EDIALECT, ALEC_NS_EINVAL. */
int alec_ns_format_downlink(int dialect, const alec_ns_uplink *u, uint8_t fport, const uint8_t *payload, size_t n,
                            char *topic, size_t tcap, char *json, size_t jcap);

/* "0004a30b001c0531" (lowercase, as ChirpStack writes it); out[17]. */
void alec_ns_dev_eui_format(uint64_t dev_eui, char out[17]);
/* Parses RFC 3339 ("2026-12-07T09:13:50.123456Z", "...+02:00"; 'T' or 't',
 * 'Z' or 'z'; up to 9 fraction digits used, more accepted) into unix
 * seconds. 0 or ALEC_NS_ETIME. Locale-free. */
int alec_ns_parse_time(const char *s, size_t len, double *out);

#endif
