/* SPDX-License-Identifier: MIT */
/* Keyframe requests of the alec plugin (resync.h). Times are monotonic
 * seconds, always > 0 (0 marks a free slot). */

#include "resync.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/error.h"
#include "alec/frame.h"

#define WAYS 4
/* 4 x 2^18 slots of 16 bytes: 16 MiB at most, whatever MaxEmitters says.
 * An emitter evicted from a full bucket may get one early request. */
#define MAX_BUCKETS ((size_t)1 << 18)

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  return x ^ (x >> 33);
}

int alec_rs_init(alec_rs *rs, size_t emitters, double interval) {
  memset(rs, 0, sizeof *rs);
  if (!(interval >= 0) || !isfinite(interval)) return ALEC_EINVAL;
  size_t buckets = 16;
  while (buckets < MAX_BUCKETS && buckets * WAYS < 2 * emitters) buckets <<= 1;
  rs->slots = calloc(buckets * WAYS, sizeof *rs->slots);
  if (!rs->slots) return ALEC_ENOMEM;
  rs->bucket_mask = buckets - 1;
  rs->interval = interval;
  rs->tokens = ALEC_RS_GLOBAL_BURST;
  return 0;
}

void alec_rs_destroy(alec_rs *rs) {
  free(rs->slots);
  rs->slots = NULL;
}

void alec_rs_begin(alec_rs *rs) {
  rs->n_pending = 0;
  rs->pending_bare = 0;
}

/* Per-emitter limit first (it costs no token), then the global bucket. */
static int allow(alec_rs *rs, uint64_t id, double now) {
  alec_rs_slot *b = &rs->slots[(mix64(id) & rs->bucket_mask) * WAYS];
  alec_rs_slot *victim = NULL;
  for (int j = 0; j < WAYS; j++) {
    if (b[j].last > 0 && b[j].id == id) {
      if (now - b[j].last < rs->interval) return 0;
      victim = &b[j];
      break;
    }
  }
  if (victim == NULL) {
    victim = &b[0];
    for (int j = 0; j < WAYS; j++) {
      if (b[j].last <= 0) {
        victim = &b[j];
        break;
      }
      if (b[j].last < victim->last) victim = &b[j];
    }
  }
  if (rs->token_time > 0 && now > rs->token_time) {
    rs->tokens += (now - rs->token_time) * ALEC_RS_GLOBAL_RATE;
    if (rs->tokens > ALEC_RS_GLOBAL_BURST) rs->tokens = ALEC_RS_GLOBAL_BURST;
  }
  if (now > rs->token_time) rs->token_time = now;
  if (rs->tokens < 1.0) return 0;
  rs->tokens -= 1.0;
  victim->id = id;
  victim->last = now;
  return 1;
}

int alec_rs_request(alec_rs *rs, uint64_t id, int bare, double now, int fd, const struct sockaddr *to,
                    socklen_t tolen) {
  if (!rs->slots || !(now > 0)) return 0;
  if (!allow(rs, id, now)) {
    rs->limited++;
    return 0;
  }
  if (bare) {
    rs->pending_bare = 1;
    return 1;
  }
  if (rs->n_pending == ALEC_RS_BATCH) {
    int bare_was = rs->pending_bare;
    rs->pending_bare = 0;
    alec_rs_flush(rs, fd, to, tolen);
    rs->pending_bare = bare_was;
  }
  rs->pending[rs->n_pending++] = id;
  return 1;
}

static int send_one(alec_rs *rs, int fd, const uint8_t *buf, size_t len, const struct sockaddr *to,
                    socklen_t tolen) {
  ssize_t w;
  do {
    w = sendto(fd, buf, len, 0, to, tolen);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    rs->failed++;
    return -1;
  }
  rs->datagrams++;
  return (int)w;
}

int alec_rs_flush(alec_rs *rs, int fd, const struct sockaddr *to, socklen_t tolen) {
  int total = 0, err = 0;
  if (rs->pending_bare) {
    /* What the reference's downlink handler takes: the command byte alone. */
    static const uint8_t keyframe = ALEC_DOWNLINK_KEYFRAME;
    int w = send_one(rs, fd, &keyframe, 1, to, tolen);
    if (w < 0) err = 1;
    else {
      total += w;
      rs->sent++;
    }
    rs->pending_bare = 0;
  }
  if (rs->n_pending) {
    alec_downlink_record recs[ALEC_RS_BATCH];
    for (unsigned i = 0; i < rs->n_pending; i++) {
      recs[i].emitter = rs->pending[i];
      recs[i].command = ALEC_DOWNLINK_KEYFRAME;
    }
    uint8_t buf[1 + ALEC_RS_BATCH * ALEC_DOWNLINK_RECORD_MAX];
    int len = alec_downlink_write(buf, sizeof buf, recs, rs->n_pending);
    if (len > 0) {
      int w = send_one(rs, fd, buf, (size_t)len, to, tolen);
      if (w < 0) err = 1;
      else {
        total += w;
        rs->sent += rs->n_pending;
      }
    }
    rs->n_pending = 0;
  }
  return err ? -1 : total;
}
