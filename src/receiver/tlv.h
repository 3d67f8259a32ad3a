/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_TLV_H
#define ALEC_RECEIVER_TLV_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

/* Milesight TLV items: X(NAME, id, type, length, is_signed, divisor).
 * Multi-byte values are little endian; only the first 1 or 2 bytes form
 * `raw` for the 5- and 11-byte items (alarm, history), which are exposed
 * with their first field only. */
#define ALEC_TLV_ITEMS(X)                        \
  X(battery, 0x01, 0x75, 1, 0, 1.0)              \
  X(temperature, 0x03, 0x67, 2, 1, 10.0)         \
  X(humidity, 0x04, 0x68, 1, 0, 2.0)             \
  X(co2, 0x05, 0x7D, 2, 0, 1.0)                  \
  X(co2_am103l, 0x07, 0x7D, 2, 0, 1.0)           \
  X(pressure, 0x06, 0x73, 2, 0, 10.0)            \
  X(temperature_alarm, 0x83, 0xD7, 5, 1, 10.0)   \
  X(history, 0x20, 0xCE, 11, 0, 1.0)

/* Rejection kinds: X(NAME, snake_name, message). */
#define ALEC_TLV_ERRORS(X)                                   \
  X(EMPTY, tlv_empty, "empty TLV payload")                   \
  X(TRUNCATED, tlv_truncated, "TLV item runs past the end")  \
  X(UNKNOWN, tlv_unknown, "unknown TLV channel id or type")  \
  X(NOSPC, tlv_too_many, "more TLV items than the caller's capacity")

enum alec_tlv_kind_index_ {
  ALEC_TLV_I_BASE_ = 0,
#define ALEC_TLV_X_(n, s, m) ALEC_TLV_I_##n,
  ALEC_TLV_ERRORS(ALEC_TLV_X_)
#undef ALEC_TLV_X_
};
/* Negative codes, like include/alec/error.h. */
enum alec_tlv_error {
  ALEC_TLV_OK = 0,
#define ALEC_TLV_X_(n, s, m) ALEC_TLV_E##n = -ALEC_TLV_I_##n,
  ALEC_TLV_ERRORS(ALEC_TLV_X_)
#undef ALEC_TLV_X_
};

typedef struct alec_tlv_item {
  uint8_t id, type;
  int64_t raw;
  double value; /* physical units per ALEC_TLV_ITEMS */
} alec_tlv_item;

int alec_tlv_parse(const uint8_t *p, size_t len, alec_tlv_item *out, size_t cap, size_t *n);
int alec_tlv_is_alec_frame(const uint8_t *p, size_t len);
const char *alec_tlv_strerror(int err);
const char *alec_tlv_kind_name(int err);
const char *alec_tlv_item_name(uint8_t id, uint8_t type);
/* An item by its name in ALEC_TLV_ITEMS ("temperature") or its channel id
 * ("0x03", "3": the first item with that id). 0 or ALEC_TLV_EUNKNOWN.
 * Inline: configuration parsers use it without linking the parser. */
static inline int alec_tlv_item_lookup(const char *name, uint8_t *id, uint8_t *type) {
  static const struct {
    const char *name;
    uint8_t id, type;
  } t[] = {
#define ALEC_TLV_L_(n, i, ty, l, s, d) {#n, i, ty},
      ALEC_TLV_ITEMS(ALEC_TLV_L_)
#undef ALEC_TLV_L_
  };
  if (!name || !*name) return ALEC_TLV_EUNKNOWN;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcasecmp(t[i].name, name) == 0) {
      *id = t[i].id;
      *type = t[i].type;
      return 0;
    }
  if (name[0] < '0' || name[0] > '9') return ALEC_TLV_EUNKNOWN;
  char *end;
  unsigned long v = strtoul(name, &end, 0);
  if (*end != '\0' || v > 0xFF) return ALEC_TLV_EUNKNOWN;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i].id == v) {
      *id = t[i].id;
      *type = t[i].type;
      return 0;
    }
  return ALEC_TLV_EUNKNOWN;
}

#endif
