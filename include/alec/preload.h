/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PRELOAD_H
#define ALEC_PRELOAD_H

/* The reference's "ALEC preload" context file (spec 4.8), little-endian:
 * magic "ALEC", format_version, context_version, sensor type (32 bytes),
 * created timestamp, training samples, CRC-32/ISO-HDLC at offset 62 over
 * bytes [0, 62) and [66, end), then dict_count and the dictionary entries
 * { len u8, data[len], code u16, frequency u32 }, a statistics section and a
 * prediction-model section. As in the reference, a preload carries only the
 * context version and the dictionary; statistics and model are written
 * neutral and skipped (bounds-checked) on read. */

#include <stddef.h>
#include <stdint.h>

#include "alec/context.h"

#define ALEC_PRELOAD_HEADER_SIZE 66
#define ALEC_PRELOAD_SENSOR_MAX 32
#define ALEC_PRELOAD_FORMAT_VERSION 1

typedef struct alec_preload_info {
  uint32_t format_version;
  uint32_t context_version;
  char sensor_type[ALEC_PRELOAD_SENSOR_MAX + 1]; /* NUL terminated, trailing NULs trimmed */
  uint64_t created_timestamp;
  uint64_t training_samples;
  uint32_t dict_count;
} alec_preload_info;

/* Serialises ctx's version and dictionary. sensor_type may be NULL ("");
 * longer than 32 bytes is truncated as the reference writer does. Returns
 * the file size, or ALEC_EBUFSIZE when cap is too small (out == NULL: just
 * the size). Patterns whose code does not fit the format's u16 code field
 * give ALEC_ERANGE. */
long alec_preload_write(const alec_context *ctx, const char *sensor_type,
                        uint64_t created_timestamp, uint64_t training_samples, uint8_t *out,
                        size_t cap);

/* Parses and validates buf completely (magic, CRC, every length), then
 * replaces ctx's dictionary and version with the file's (sources are reset,
 * as the reference's from_preload builds a fresh context). Never allocates by
 * a count read from the input: dict_count is bounded by the bytes present
 * and by ctx's max_patterns (ALEC_ENOSPC beyond). On error ctx is unchanged:
 * ALEC_ETRUNC, ALEC_ECORRUPT (magic, CRC, duplicate code, zero-length
 * pattern), ALEC_ENOSPC. info (nullable) receives the header. */
int alec_preload_read(alec_context *ctx, const uint8_t *buf, size_t len, alec_preload_info *info);

/* Only the header fields (no CRC check), e.g. for listing files. */
int alec_preload_peek(const uint8_t *buf, size_t len, alec_preload_info *info);

/* File helpers: ALEC_EIO on open/read/write failure; files larger than
 * ALEC_PRELOAD_FILE_MAX are refused with ALEC_ERANGE before reading. The
 * write goes to path.tmp first and is renamed into place. */
#define ALEC_PRELOAD_FILE_MAX (16u * 1024u * 1024u)
int alec_preload_save_file(const alec_context *ctx, const char *path, const char *sensor_type,
                           uint64_t created_timestamp, uint64_t training_samples);
int alec_preload_load_file(alec_context *ctx, const char *path, alec_preload_info *info);

/* CRC-32/ISO-HDLC (zlib), incremental: start with crc = 0. */
uint32_t alec_preload_crc32(uint32_t crc, const uint8_t *buf, size_t len);

#endif
