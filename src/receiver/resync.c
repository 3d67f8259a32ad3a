/* SPDX-License-Identifier: MIT */
/* Keyframe requests (resync.h). Times are monotonic
 * seconds, always > 0 (0 marks a free slot). */

#include "resync.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/error.h"
#include "alec/frame.h"
#include "alec/hash.h"

#define WAYS 4
/* 4 x 2^18 slots of 16 bytes: 16 MiB at most, whatever MaxEmitters says.
 * An emitter evicted from a full bucket may get one early request. */
#define MAX_BUCKETS ((size_t)1 << 18)


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
static int allow(alec_rs *rs, uint64_t id, double now, const alec_rx_reply *r) {
  double interval = r && r->interval > rs->interval ? r->interval : rs->interval;
  unsigned budget = r ? r->budget : 0;
  alec_rs_slot *b = &rs->slots[(alec_hash_id(id) & rs->bucket_mask) * WAYS];
  alec_rs_slot *victim = NULL;
  for (int j = 0; j < WAYS; j++) {
    if (b[j].last > 0 && b[j].id == id) {
      if (now - b[j].last < interval) return 0;
      if (now - b[j].day_start >= ALEC_RS_DAY) {
        b[j].day_start = now;
        b[j].day_count = 0;
      }
      if (budget && b[j].day_count >= budget) return 0;
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
  if (victim->id != id || victim->last <= 0) {
    victim->id = id;
    victim->day_start = now;
    victim->day_count = 0;
  }
  victim->last = now;
  victim->day_count++;
  return 1;
}

int alec_rs_request(alec_rs *rs, uint64_t id, int bare, double now, const alec_rx_reply *r) {
  if (!rs->slots || !(now > 0)) return 0;
  if (!allow(rs, id, now, r)) {
    rs->limited++;
    return 0;
  }
  if (bare) {
    rs->pending_bare = 1;
    rs->bare_id = id;
    return 1;
  }
  if (rs->n_pending == ALEC_RS_BATCH) {
    int bare_was = rs->pending_bare;
    rs->pending_bare = 0;
    alec_rs_flush(rs, r);
    rs->pending_bare = bare_was;
  }
  rs->pending[rs->n_pending++] = id;
  return 1;
}

static int send_batch(alec_rs *rs, const alec_rx_reply *r, const uint64_t *ids, unsigned n, int bare) {
  int w = r && r->send ? r->send(r->ctx, r->where, r->where_len, ids, n, bare) : ALEC_EINVAL;
  if (w < 0) {
    rs->failed++;
    return -1;
  }
  rs->datagrams++;
  rs->sent += n;
  return w;
}

int alec_rs_flush(alec_rs *rs, const alec_rx_reply *r) {
  int total = 0, err = 0;
  if (rs->pending_bare) {
    int w = send_batch(rs, r, &rs->bare_id, 1, 1);
    if (w < 0) err = 1;
    else total += w;
    rs->pending_bare = 0;
  }
  if (rs->n_pending) {
    int w = send_batch(rs, r, rs->pending, rs->n_pending, 0);
    if (w < 0) err = 1;
    else total += w;
    rs->n_pending = 0;
  }
  return err ? -1 : total;
}
