/* SPDX-License-Identifier: MIT */
/* Keyframe requests (resync.h). Times are monotonic
 * seconds, always > 0 (0: no request yet). */

#include "resync.h"

#include <math.h>
#include <string.h>

#include "alec/error.h"
#include "alec/frame.h"

int alec_rs_init(alec_rs *rs, double interval) {
  memset(rs, 0, sizeof *rs);
  if (!(interval >= 0) || !isfinite(interval)) return ALEC_EINVAL;
  rs->interval = interval;
  rs->tokens = ALEC_RS_GLOBAL_BURST;
  rs->ready = 1;
  return 0;
}

void alec_rs_begin(alec_rs *rs) {
  rs->n_pending = 0;
  rs->pending_bare = 0;
}

/* Per-emitter limit first (it costs no token), then the global bucket. */
static int allow(alec_rs *rs, alec_rs_emitter *e, double now, const alec_rx_reply *r) {
  double interval = r && r->interval > rs->interval ? r->interval : rs->interval;
  unsigned budget = r ? r->budget : 0;
  if (e->last > 0) {
    if (now - e->last < interval) return 0;
    if (now - e->day_start >= ALEC_RS_DAY) {
      e->day_start = now;
      e->day_count = 0;
    }
    if (budget && e->day_count >= budget) return 0;
  }
  if (rs->token_time > 0 && now > rs->token_time) {
    rs->tokens += (now - rs->token_time) * ALEC_RS_GLOBAL_RATE;
    if (rs->tokens > ALEC_RS_GLOBAL_BURST) rs->tokens = ALEC_RS_GLOBAL_BURST;
  }
  if (now > rs->token_time) rs->token_time = now;
  if (rs->tokens < 1.0) return 0;
  rs->tokens -= 1.0;
  if (e->last <= 0) {
    e->day_start = now;
    e->day_count = 0;
  }
  e->last = now;
  e->day_count++;
  return 1;
}

int alec_rs_request(alec_rs *rs, alec_rs_emitter *e, uint64_t id, int bare, double now, const alec_rx_reply *r) {
  if (!rs->ready || !(now > 0)) return 0;
  if (e == NULL || !allow(rs, e, now, r)) {
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
