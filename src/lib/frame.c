/* SPDX-License-Identifier: MIT */
#include "alec/frame.h"

#include <string.h>
#include <xxhash.h>

#include "alec/error.h"
#include "alec/wire.h"
#include "wire_int.h"

alec_family alec_frame_family(const uint8_t *buf, size_t len) {
  if (!buf || len == 0)
    return ALEC_FAMILY_UNKNOWN;
  uint8_t b = buf[0];
  /* Before any legacy parse: the reference legacy parser would take 0xA1
   * as a header (version 2, type Ack, P2). */
  if (b == ALEC_FIXED_DATA || b == ALEC_FIXED_KEYFRAME)
    return ALEC_FAMILY_FIXED;
  /* The reference accepts any version bits; only the priority is checked. */
  if ((b & 7u) <= ALEC_P5)
    return ALEC_FAMILY_LEGACY;
  return ALEC_FAMILY_UNKNOWN;
}

int alec_header_parse(const uint8_t *buf, size_t len, alec_header *h) {
  return wire_header_parse(buf, len, h);
}

void alec_header_write(const alec_header *h, uint8_t out[ALEC_HEADER_SIZE]) {
  out[0] = (uint8_t)(((h->version & 3u) << 6) | ((h->msg_type & 7u) << 3) | (h->priority & 7u));
  alec_wr_be16(out + 1, h->sequence);
  alec_wr_be32(out + 3, h->timestamp);
  alec_wr_be24(out + 7, h->ctx_version & 0xFFFFFFu);
}

int alec_fixed_header_parse(const uint8_t *buf, size_t len, alec_fixed_header *h) {
  if (!buf || len < ALEC_FIXED_HEADER_SIZE)
    return ALEC_ETRUNC;
  if (buf[0] != ALEC_FIXED_DATA && buf[0] != ALEC_FIXED_KEYFRAME)
    return ALEC_EMALFORMED;
  if (h) {
    h->marker = buf[0];
    h->sequence = alec_rd_be16(buf + 1);
    h->ctx_version = alec_rd_be16(buf + 3);
  }
  return 0;
}

/* Sizes by legacy encoding byte; fixed 2-bit codes are mapped to these
 * (Repeated, Delta8, Delta16, Raw32) before asking. */
int alec_encoding_value_size(uint8_t encoding) {
  switch (encoding) {
  case ALEC_ENC_RAW64:
    return 8;
  case ALEC_ENC_RAW32:
    return 4;
  case ALEC_ENC_DELTA8:
    return 1;
  case ALEC_ENC_DELTA16:
    return 2;
  case ALEC_ENC_DELTA32:
    return 4;
  case ALEC_ENC_REPEATED:
  case ALEC_ENC_INTERPOLATED:
    return 0;
  default:
    return -1;
  }
}

const char *alec_encoding_name(uint8_t encoding) {
  switch (encoding) {
  case ALEC_ENC_RAW64:
    return "Raw64";
  case ALEC_ENC_RAW32:
    return "Raw32";
  case ALEC_ENC_DELTA8:
    return "Delta8";
  case ALEC_ENC_DELTA16:
    return "Delta16";
  case ALEC_ENC_DELTA32:
    return "Delta32";
  case ALEC_ENC_PATTERN:
    return "Pattern";
  case ALEC_ENC_PATTERN_DELTA:
    return "PatternDelta";
  case ALEC_ENC_REPEATED:
    return "Repeated";
  case ALEC_ENC_INTERPOLATED:
    return "Interpolated";
  case ALEC_ENC_MULTI:
    return "Multi";
  default:
    return "Unknown";
  }
}

const char *alec_priority_name(alec_priority p) {
  static const char *const names[] = {"P1", "P2", "P3", "P4", "P5"};
  if ((unsigned)p > ALEC_P5)
    return "P?";
  return names[p];
}

static const struct {
  alec_format fmt;
  const char *name;
} formats[] = {
    {ALEC_FORMAT_SINGLE, "single"},
    {ALEC_FORMAT_SINGLE_XXH32, "single-xxh32"},
    {ALEC_FORMAT_MULTI, "multi"},
    {ALEC_FORMAT_FIXED, "fixed"},
};

const char *alec_format_name(alec_format f) {
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (formats[i].fmt == f)
      return formats[i].name;
  return "unknown";
}

int alec_format_parse(const char *name, alec_format *out) {
  if (!name)
    return ALEC_EINVAL;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    if (strcmp(formats[i].name, name) == 0) {
      if (out)
        *out = formats[i].fmt;
      return 0;
    }
  }
  return ALEC_EINVAL;
}

uint32_t alec_checksum32(const uint8_t *buf, size_t len) {
  return (uint32_t)XXH32(buf, len, 0);
}
