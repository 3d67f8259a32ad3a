/* SPDX-License-Identifier: MIT */
/* Fleet state save / restore (include/alec/fleet_state.h). The loader is
 * written for hostile input: every field is checked before it is used, a
 * count only drives a loop that stops at the end of the input, and the one
 * allocation it makes (the record buffer) is bounded by the fleet's own
 * configuration, not by anything read. */

#include "alec/fleet_state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/decoder.h"
#include "alec/error.h"
#include "alec/wire.h"

#define HEAD_SIZE 28
#define TRAILER_SIZE 8
#define REC_FIXED 17 /* id, last_seen, group_len */

/* ---- save ---------------------------------------------------------------- */

typedef struct saved {
  uint64_t id;
  double last_seen;
  char group[ALEC_FLEET_GROUP_MAX + 1];
} saved;

/* Most recently seen first, so a smaller MaxEmitters keeps the live ones. */
static int cmp_saved(const void *a, const void *b) {
  const saved *x = a, *y = b;
  if (x->last_seen != y->last_seen) return x->last_seen > y->last_seen ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

int alec_fleet_state_save(alec_fleet *f, double now, uint8_t **out, size_t *len, alec_fleet_state_info *info) {
  if (!f || !out || !len || !isfinite(now)) return ALEC_EINVAL;
  *out = NULL;
  *len = 0;
  size_t n = alec_fleet_emitter_count(f);
  if (n > UINT32_MAX) return ALEC_EINVAL;
  saved *list = n ? malloc(n * sizeof *list) : NULL;
  if (n && !list) return ALEC_ENOMEM;
  size_t total = HEAD_SIZE + TRAILER_SIZE, k = 0;
  for (size_t i = 0; i < n; i++) {
    alec_fleet_emitter_info ei;
    if (alec_fleet_emitter_at(f, i, now, &ei) != 0) break;
    alec_decoder *dec = alec_fleet_emitter_decoder(f, ei.id);
    long need = dec ? alec_decoder_save(dec, NULL, 0) : ALEC_EINVAL;
    if (need <= 0) continue;
    list[k].id = ei.id;
    list[k].last_seen = isfinite(ei.last_seen) ? ei.last_seen : now;
    memcpy(list[k].group, ei.group, sizeof list[k].group);
    list[k].group[ALEC_FLEET_GROUP_MAX] = '\0';
    total += REC_FIXED + strlen(list[k].group) + 4 + (size_t)need;
    k++;
  }
  if (k > 1) qsort(list, k, sizeof *list, cmp_saved);
  uint8_t *buf = malloc(total);
  if (!buf) {
    free(list);
    return ALEC_ENOMEM;
  }
  memcpy(buf, "ALFS", 4);
  alec_wr_le32(buf + 4, ALEC_FLEET_STATE_FORMAT);
  alec_wr_le32(buf + 8, 0);
  alec_wr_le64(buf + 16, alec_f64_bits(now));
  size_t off = HEAD_SIZE, written = 0;
  for (size_t i = 0; i < k; i++) {
    alec_decoder *dec = alec_fleet_emitter_decoder(f, list[i].id);
    size_t gl = strlen(list[i].group);
    size_t room = total - TRAILER_SIZE - off;
    if (room < REC_FIXED + gl + 4) break;
    uint8_t *p = buf + off;
    long w = alec_decoder_save(dec, p + REC_FIXED + gl + 4, room - (REC_FIXED + gl + 4));
    if (w <= 0) continue; /* cannot happen: sizes were taken above, nothing ran since */
    alec_wr_le64(p, list[i].id);
    alec_wr_le64(p + 8, alec_f64_bits(list[i].last_seen));
    p[16] = (uint8_t)gl;
    memcpy(p + REC_FIXED, list[i].group, gl);
    alec_wr_le32(p + REC_FIXED + gl, (uint32_t)w);
    off += REC_FIXED + gl + 4 + (size_t)w;
    written++;
  }
  free(list);
  alec_wr_le32(buf + 12, (uint32_t)written);
  alec_wr_le32(buf + 24, alec_crc32(0, buf, 24));
  memcpy(buf + off, "ALFE", 4);
  alec_wr_le32(buf + off + 4, alec_crc32(0, buf, off + 4));
  off += TRAILER_SIZE;
  *out = buf;
  *len = off;
  if (info) {
    memset(info, 0, sizeof *info);
    info->emitters = written;
    info->saved_at = now;
    info->bytes = off;
  }
  return 0;
}

/* ---- load ---------------------------------------------------------------- */

typedef struct source {
  FILE *f;
  const uint8_t *mem;
  size_t len, pos;
  uint32_t crc;
  size_t bytes;
} source;

/* Reads exactly n bytes (hashed): 0, ALEC_ETRUNC or ALEC_EIO. */
static int get(source *s, uint8_t *dst, size_t n) {
  if (s->f) {
    size_t got = fread(dst, 1, n, s->f);
    if (got != n) return ferror(s->f) ? ALEC_EIO : ALEC_ETRUNC;
  } else {
    if (s->len - s->pos < n) return ALEC_ETRUNC;
    memcpy(dst, s->mem + s->pos, n);
    s->pos += n;
  }
  s->crc = alec_crc32(s->crc, dst, n);
  s->bytes += n;
  return 0;
}

static int at_end(source *s) {
  if (s->f) return fgetc(s->f) == EOF && !ferror(s->f);
  return s->pos == s->len;
}

/* Largest decoder blob the fleet's own configuration allows, with room to
 * spare for format growth: generous, but a constant of the configuration. */
static size_t blob_bound(const alec_fleet *f) {
  const alec_context_config *c = &alec_fleet_get_config(f)->decoder.ctx;
  return 4096 + (size_t)c->max_sources * 128u + (size_t)c->max_patterns * 512u;
}

static void remove_all(alec_fleet *f) {
  alec_fleet_emitter_info ei;
  while (alec_fleet_emitter_count(f) > 0 && alec_fleet_emitter_at(f, 0, 0.0, &ei) == 0)
    if (alec_fleet_remove_emitter(f, ei.id) != 0) break;
}

static int read_all(alec_fleet *f, source *s, double now, alec_fleet_state_filter filter, void *arg,
                    alec_fleet_state_info *info) {
  uint8_t head[HEAD_SIZE];
  int rc = get(s, head, sizeof head);
  if (rc) return rc;
  if (memcmp(head, "ALFS", 4) != 0) return ALEC_ECORRUPT;
  if (alec_crc32(0, head, 24) != alec_rd_le32(head + 24)) return ALEC_ECORRUPT;
  if (alec_rd_le32(head + 4) != ALEC_FLEET_STATE_FORMAT) return ALEC_EVERSION;
  if (alec_rd_le32(head + 8) != 0) return ALEC_ECORRUPT;
  uint32_t count = alec_rd_le32(head + 12);
  info->saved_at = alec_f64_from_bits(alec_rd_le64(head + 16));
  if (!isfinite(info->saved_at)) return ALEC_ECORRUPT;
  size_t bound = blob_bound(f), cap = 0;
  uint8_t *blob = NULL;
  uint32_t max_em = alec_fleet_get_config(f)->max_emitters;
  rc = 0;
  for (uint32_t i = 0; i < count && rc == 0; i++) {
    uint8_t fixed[REC_FIXED + ALEC_FLEET_GROUP_MAX + 4];
    if ((rc = get(s, fixed, REC_FIXED))) break;
    size_t gl = fixed[16];
    if (gl > ALEC_FLEET_GROUP_MAX) {
      rc = ALEC_ECORRUPT;
      break;
    }
    if ((rc = get(s, fixed + REC_FIXED, gl + 4))) break;
    uint64_t id = alec_rd_le64(fixed);
    double last_seen = alec_f64_from_bits(alec_rd_le64(fixed + 8));
    char group[ALEC_FLEET_GROUP_MAX + 1];
    memcpy(group, fixed + REC_FIXED, gl);
    group[gl] = '\0';
    size_t blen = alec_rd_le32(fixed + REC_FIXED + gl);
    if (!isfinite(last_seen) || memchr(group, '\0', gl) != NULL || blen == 0 || blen > bound) {
      rc = ALEC_ECORRUPT;
      break;
    }
    if (blen > cap) {
      /* Grows to the largest record seen, never beyond `bound`. */
      uint8_t *nb = realloc(blob, blen);
      if (!nb) {
        rc = ALEC_ENOMEM;
        break;
      }
      blob = nb;
      cap = blen;
    }
    if ((rc = get(s, blob, blen))) break;
    /* Duplicates are corruption even when the filter or the bound would
     * skip the second one. */
    if (alec_fleet_emitter_decoder(f, id) != NULL) {
      rc = ALEC_ECORRUPT;
      break;
    }
    if ((filter && !filter(arg, id)) || alec_fleet_emitter_count(f) >= max_em) {
      info->skipped++;
      continue;
    }
    if (last_seen > now) last_seen = now;
    rc = alec_fleet_restore_emitter(f, id, blob, blen, last_seen);
    if (rc == ALEC_EINVAL) rc = ALEC_ECORRUPT;
    if (rc) break;
    info->emitters++;
    alec_fleet_emitter_info ei;
    if (alec_fleet_get_emitter(f, id, now, &ei) == 0 && strcmp(ei.group, group) != 0) info->group_changes++;
  }
  free(blob);
  if (rc) return rc;
  uint8_t tr[TRAILER_SIZE];
  uint32_t expect;
  if ((rc = get(s, tr, 4))) return rc;
  expect = s->crc;
  if ((rc = get(s, tr + 4, 4))) return rc;
  if (memcmp(tr, "ALFE", 4) != 0 || alec_rd_le32(tr + 4) != expect) return ALEC_ECORRUPT;
  if (!at_end(s)) return s->f && ferror(s->f) ? ALEC_EIO : ALEC_ECORRUPT;
  info->bytes = s->bytes;
  return 0;
}

static int load(alec_fleet *f, source *s, double now, alec_fleet_state_filter filter, void *arg,
                alec_fleet_state_info *info) {
  alec_fleet_state_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  if (!f || !isfinite(now) || alec_fleet_emitter_count(f) != 0) return ALEC_EINVAL;
  int rc = read_all(f, s, now, filter, arg, info);
  if (rc) {
    remove_all(f);
    info->emitters = 0;
  }
  return rc;
}

int alec_fleet_state_read(alec_fleet *f, FILE *in, double now, alec_fleet_state_filter filter, void *arg,
                          alec_fleet_state_info *info) {
  if (!in) return ALEC_EINVAL;
  source s = {.f = in};
  return load(f, &s, now, filter, arg, info);
}

int alec_fleet_state_load(alec_fleet *f, const uint8_t *buf, size_t len, double now,
                          alec_fleet_state_filter filter, void *arg, alec_fleet_state_info *info) {
  if (!buf && len) return ALEC_EINVAL;
  static const uint8_t empty[1] = {0};
  source s = {.mem = buf ? buf : empty, .len = len};
  return load(f, &s, now, filter, arg, info);
}
