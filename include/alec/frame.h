/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FRAME_H
#define ALEC_FRAME_H

/* Frame layouts (spec section 2): legacy 10-byte header, single / multi
 * payload encodings, fixed-channel 0xA1/0xA2 header and bitmap. */

#include <stddef.h>
#include <stdint.h>

#define ALEC_HEADER_SIZE 10
#define ALEC_CHECKSUM_SIZE 4
#define ALEC_FIXED_HEADER_SIZE 5
#define ALEC_FIXED_MAX_CHANNELS 64
#define ALEC_MULTI_FRAME_CAP 127 /* reference P4 inclusion cap */
/* Largest frame any family can produce or that we accept: fixed 64 ch all
 * Raw32 = 5 + 16 + 256; multi 255 entries x (1 + 1 + 8) + 13. */
#define ALEC_FRAME_MAX 2600

#define ALEC_FIXED_DATA 0xA1
#define ALEC_FIXED_KEYFRAME 0xA2
#define ALEC_DOWNLINK_KEYFRAME 0xFF

typedef enum alec_priority {
  ALEC_P1 = 0, /* critical */
  ALEC_P2 = 1, /* important */
  ALEC_P3 = 2, /* normal */
  ALEC_P4 = 3, /* deferred */
  ALEC_P5 = 4  /* disposable */
} alec_priority;

/* Legacy header message types. The reference always writes DATA and never
 * checks the type on receive; RESYNC is ours (docs/PROTOCOL.md): the encoder
 * reset its state for every Raw value in this frame, and so does our decoder. */
enum alec_msg_type { ALEC_MSG_DATA = 0, ALEC_MSG_RESYNC = 6, ALEC_MSG_FIXED = 7 };

typedef enum alec_encoding {
  ALEC_ENC_RAW64 = 0x00,
  ALEC_ENC_RAW32 = 0x01,
  ALEC_ENC_DELTA8 = 0x10,
  ALEC_ENC_DELTA16 = 0x11,
  ALEC_ENC_DELTA32 = 0x12,
  ALEC_ENC_PATTERN = 0x20,
  ALEC_ENC_PATTERN_DELTA = 0x21,
  ALEC_ENC_REPEATED = 0x30,
  ALEC_ENC_INTERPOLATED = 0x31,
  ALEC_ENC_MULTI = 0x40
} alec_encoding;

/* Fixed-frame 2-bit codes. */
enum { ALEC_FIX_REPEATED = 0, ALEC_FIX_DELTA8 = 1, ALEC_FIX_DELTA16 = 2, ALEC_FIX_RAW32 = 3 };

typedef enum alec_family {
  ALEC_FAMILY_UNKNOWN = 0,
  ALEC_FAMILY_LEGACY = 1, /* 10-byte header: single or multi */
  ALEC_FAMILY_FIXED = 2   /* 0xA1 / 0xA2 */
} alec_family;

/* What the receiver expects on a stream (out of band: the envelope or the
 * plugin configuration says it). */
typedef enum alec_format {
  ALEC_FORMAT_SINGLE = 1,       /* L1, no checksum */
  ALEC_FORMAT_SINGLE_XXH32 = 2, /* L1 with xxh32 trailer */
  ALEC_FORMAT_MULTI = 3,        /* L2 / L3 (payload encoding 0x40) */
  ALEC_FORMAT_FIXED = 4         /* 0xA1 / 0xA2, channel count out of band */
} alec_format;

typedef struct alec_header {
  uint8_t version;      /* bits 7-6, not checked on receive (reference) */
  uint8_t msg_type;     /* bits 5-3 */
  uint8_t priority;     /* bits 2-0, 0..4 */
  uint16_t sequence;
  uint32_t timestamp;   /* seconds */
  uint32_t ctx_version; /* 24 bits */
} alec_header;

typedef struct alec_fixed_header {
  uint8_t marker; /* 0xA1 or 0xA2 */
  uint16_t sequence;
  uint16_t ctx_version;
} alec_fixed_header;

/* Dispatch by first byte (spec 2.8). */
alec_family alec_frame_family(const uint8_t *buf, size_t len);

int alec_header_parse(const uint8_t *buf, size_t len, alec_header *h);
void alec_header_write(const alec_header *h, uint8_t out[ALEC_HEADER_SIZE]);

int alec_fixed_header_parse(const uint8_t *buf, size_t len, alec_fixed_header *h);
static inline size_t alec_fixed_bitmap_size(unsigned channels) { return (2u * channels + 7u) / 8u; }
/* Value bytes following an encoding byte (legacy) or 2-bit code (fixed);
 * -1 for variable / not applicable (pattern codes). */
int alec_encoding_value_size(uint8_t encoding);
const char *alec_encoding_name(uint8_t encoding);
const char *alec_priority_name(alec_priority p); /* "P1".."P5" */
const char *alec_format_name(alec_format f);      /* "single", ... */
/* Parses "single", "single-xxh32", "multi", "fixed"; ALEC_EINVAL otherwise. */
int alec_format_parse(const char *name, alec_format *out);

/* xxh32(seed 0) over header||payload, the legacy checksum trailer. */
uint32_t alec_checksum32(const uint8_t *buf, size_t len);

#endif
