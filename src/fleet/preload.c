/* SPDX-License-Identifier: MIT */
/* ALEC preload files (spec 4.8). Written from the spec's byte layout; the
 * reader trusts nothing: it validates the whole buffer before touching the
 * context and never sizes an allocation by a count from the file. */
#include "alec/preload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alec/error.h"
#include "alec/wire.h"

#define OFF_FMT 4
#define OFF_CTXVER 8
#define OFF_SENSLEN 12
#define OFF_SENS 14
#define OFF_CREATED 46
#define OFF_TRAINING 54
#define OFF_CRC 62
#define OFF_DICT 66
#define ENTRY_MIN 7  /* len u8 + 0 data bytes + code u16 + frequency u32 */
#define STATS_MIN 49 /* 6 x f64 + k u8 */
#define MODEL_MIN 6  /* type u8 + c u8 + period u32 */

/* Kept for the installed API: the one CRC of the project. */
uint32_t alec_preload_crc32(uint32_t crc, const uint8_t *buf, size_t len) { return alec_crc32(crc, buf, len); }

static uint32_t file_crc(const uint8_t *buf, size_t len) {
  uint32_t c = alec_preload_crc32(0, buf, OFF_CRC);
  return alec_preload_crc32(c, buf + OFF_DICT, len - OFF_DICT);
}

long alec_preload_write(const alec_context *ctx, const char *sensor_type,
                        uint64_t created_timestamp, uint64_t training_samples, uint8_t *out,
                        size_t cap) {
  if (!ctx || (cap && !out)) return ALEC_EINVAL;
  size_t need = OFF_DICT + 4 + STATS_MIN + MODEL_MIN;
  size_t count = 0;
  alec_pattern_info pi;
  for (size_t i = 0; alec_context_pattern_at(ctx, i, &pi) == 0; i++) {
    if (pi.code > 0xFFFFu || pi.len == 0) return ALEC_ERANGE;
    need += ENTRY_MIN + pi.len;
    count++;
  }
  if (count > 0xFFFFFFFFu || need > (size_t)0x7FFFFFFF) return ALEC_ERANGE;
  if (!out) return (long)need;
  if (cap < need) return ALEC_EBUFSIZE;
  memset(out, 0, need);
  memcpy(out, "ALEC", 4);
  alec_wr_le32(out + OFF_FMT, ALEC_PRELOAD_FORMAT_VERSION);
  alec_wr_le32(out + OFF_CTXVER, alec_context_version(ctx));
  size_t sl = sensor_type ? strlen(sensor_type) : 0;
  if (sl > ALEC_PRELOAD_SENSOR_MAX) sl = ALEC_PRELOAD_SENSOR_MAX;
  alec_wr_le16(out + OFF_SENSLEN, (uint16_t)sl);
  if (sl) memcpy(out + OFF_SENS, sensor_type, sl);
  alec_wr_le64(out + OFF_CREATED, created_timestamp);
  alec_wr_le64(out + OFF_TRAINING, training_samples);
  alec_wr_le32(out + OFF_DICT, (uint32_t)count);
  size_t o = OFF_DICT + 4;
  for (size_t i = 0; alec_context_pattern_at(ctx, i, &pi) == 0; i++) {
    out[o++] = pi.len;
    memcpy(out + o, pi.data, pi.len);
    o += pi.len;
    alec_wr_le16(out + o, (uint16_t)pi.code);
    o += 2;
    alec_wr_le32(out + o, pi.frequency > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)pi.frequency);
    o += 4;
  }
  /* Statistics (all zero, k = 0) and model (None, no coefficients, period 0)
   * are already zero from the memset: the reference ignores both on load. */
  alec_wr_le32(out + OFF_CRC, file_crc(out, need));
  return (long)need;
}

int alec_preload_peek(const uint8_t *buf, size_t len, alec_preload_info *info) {
  if (!buf) return ALEC_EINVAL;
  if (len < 4) return ALEC_ETRUNC;
  if (memcmp(buf, "ALEC", 4) != 0) return ALEC_ECORRUPT;
  if (len < OFF_DICT + 4) return ALEC_ETRUNC;
  if (info) {
    memset(info, 0, sizeof *info);
    info->format_version = alec_rd_le32(buf + OFF_FMT);
    info->context_version = alec_rd_le32(buf + OFF_CTXVER);
    size_t sl = alec_rd_le16(buf + OFF_SENSLEN);
    if (sl > ALEC_PRELOAD_SENSOR_MAX) sl = ALEC_PRELOAD_SENSOR_MAX;
    memcpy(info->sensor_type, buf + OFF_SENS, sl);
    info->sensor_type[sl] = '\0';
    info->created_timestamp = alec_rd_le64(buf + OFF_CREATED);
    info->training_samples = alec_rd_le64(buf + OFF_TRAINING);
    info->dict_count = alec_rd_le32(buf + OFF_DICT);
  }
  return 0;
}

/* Walks the dictionary; with ctx != NULL also stores it. Returns the offset
 * just after it or a negative error. */
static long walk_dict(const uint8_t *buf, size_t len, uint32_t count, alec_context *ctx) {
  size_t o = OFF_DICT + 4;
  for (uint32_t i = 0; i < count; i++) {
    if (len - o < 1) return ALEC_ETRUNC;
    size_t pl = buf[o++];
    if (pl == 0) return ALEC_ECORRUPT;
    if (len - o < pl + 6) return ALEC_ETRUNC;
    const uint8_t *data = buf + o;
    o += pl;
    uint16_t code = alec_rd_le16(buf + o);
    uint32_t freq = alec_rd_le32(buf + o + 2);
    o += 6;
    if (ctx) {
      int r = alec_context_set_pattern(ctx, code, data, pl, freq);
      if (r < 0) return r;
    }
  }
  return (long)o;
}

int alec_preload_read(alec_context *ctx, const uint8_t *buf, size_t len, alec_preload_info *info) {
  if (!ctx || !buf) return ALEC_EINVAL;
  alec_preload_info hdr;
  int r = alec_preload_peek(buf, len, &hdr);
  if (r < 0) return r;
  if (alec_rd_le32(buf + OFF_CRC) != file_crc(buf, len)) return ALEC_ECORRUPT;
  /* Each entry takes at least ENTRY_MIN bytes: a count the bytes cannot hold
   * is refused before any loop or allocation depends on it. */
  if (hdr.dict_count > (len - OFF_DICT - 4) / ENTRY_MIN) return ALEC_ETRUNC;
  const alec_context_config *cc = alec_context_get_config(ctx);
  if (hdr.dict_count > cc->max_patterns) return ALEC_ENOSPC;
  long end = walk_dict(buf, len, hdr.dict_count, NULL);
  if (end < 0) return (int)end;
  /* Codes are u16 in the file: a fixed 8 KiB bitmap finds duplicates. */
  {
    uint8_t seen[65536 / 8];
    memset(seen, 0, sizeof seen);
    size_t o = OFF_DICT + 4;
    for (uint32_t i = 0; i < hdr.dict_count; i++) {
      size_t pl = buf[o];
      uint16_t code = alec_rd_le16(buf + o + 1 + pl);
      if (seen[code >> 3] & (1u << (code & 7))) return ALEC_ECORRUPT;
      seen[code >> 3] |= (uint8_t)(1u << (code & 7));
      o += 1 + pl + 6;
    }
  }
  size_t o = (size_t)end;
  if (len - o < STATS_MIN) return ALEC_ETRUNC;
  size_t k = buf[o + 48];
  if (len - o - STATS_MIN < 8 * k) return ALEC_ETRUNC;
  o += STATS_MIN + 8 * k;
  if (len - o < 2) return ALEC_ETRUNC;
  size_t c = buf[o + 1];
  if (len - o < MODEL_MIN + 8 * c) return ALEC_ETRUNC;

  /* Build into a scratch context of the same (bounded) configuration, then
   * copy: the caller's context changes only if everything succeeded. */
  alec_context *tmp = NULL;
  r = alec_context_new(&tmp, cc);
  if (r < 0) return r;
  alec_context_set_version(tmp, hdr.context_version);
  long w = walk_dict(buf, len, hdr.dict_count, tmp);
  if (w < 0) {
    alec_context_free(tmp);
    return (int)w;
  }
  alec_context_set_version(tmp, hdr.context_version);
  r = alec_context_copy(ctx, tmp);
  alec_context_free(tmp);
  if (r < 0) return r;
  if (info) *info = hdr;
  return 0;
}

int alec_preload_save_file(const alec_context *ctx, const char *path, const char *sensor_type,
                           uint64_t created_timestamp, uint64_t training_samples) {
  if (!ctx || !path) return ALEC_EINVAL;
  long n = alec_preload_write(ctx, sensor_type, created_timestamp, training_samples, NULL, 0);
  if (n < 0) return (int)n;
  uint8_t *buf = malloc((size_t)n);
  if (!buf) return ALEC_ENOMEM;
  n = alec_preload_write(ctx, sensor_type, created_timestamp, training_samples, buf, (size_t)n);
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 5);
  if (!tmp || n < 0) {
    free(buf);
    free(tmp);
    return n < 0 ? (int)n : ALEC_ENOMEM;
  }
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  int r = 0;
  FILE *fp = fopen(tmp, "wb");
  if (!fp) {
    r = ALEC_EIO;
  } else {
    if (fwrite(buf, 1, (size_t)n, fp) != (size_t)n) r = ALEC_EIO;
    if (fclose(fp) != 0) r = ALEC_EIO;
    if (r == 0 && rename(tmp, path) != 0) r = ALEC_EIO;
    if (r != 0) remove(tmp);
  }
  free(buf);
  free(tmp);
  return r;
}

int alec_preload_load_file(alec_context *ctx, const char *path, alec_preload_info *info) {
  if (!ctx || !path) return ALEC_EINVAL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return ALEC_EIO;
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(fp);
    return ALEC_EIO;
  }
  if (sb.st_size < 0 || (uint64_t)sb.st_size > ALEC_PRELOAD_FILE_MAX) {
    fclose(fp);
    return ALEC_ERANGE;
  }
  size_t n = (size_t)sb.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    fclose(fp);
    return ALEC_ENOMEM;
  }
  size_t got = fread(buf, 1, n, fp);
  fclose(fp);
  int r = got == n ? alec_preload_read(ctx, buf, n, info) : ALEC_EIO;
  free(buf);
  return r;
}
