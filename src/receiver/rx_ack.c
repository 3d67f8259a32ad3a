/* SPDX-License-Identifier: MIT */
/* Completion: at-least-once tokens and undo, alec_rx_hold, the writers'
 * confirmations, the spool of a stop and its replay. */

#include "receiver_int.h"

/* ---- completion ------------------------------------------------------------ */

/* The emitter's decoder before an at-least-once message: *out (malloc)
 * and its length, *out NULL when the emitter has no decoder yet. 0, or -1
 * when it cannot be saved. */
static int undo_save(alec_rx *rx, uint64_t id, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  uint8_t buf[8192];
  pthread_mutex_lock(&rx->fleet_lock);
  alec_decoder *dec = alec_fleet_emitter_decoder(rx->fleet, id);
  long n = dec ? alec_decoder_save(dec, buf, sizeof buf) : 0;
  pthread_mutex_unlock(&rx->fleet_lock);
  if (n < 0) return -1;
  if (n == 0) return 0;
  *out = malloc((size_t)n);
  if (*out == NULL) return -1;
  memcpy(*out, buf, (size_t)n);
  *len = (size_t)n;
  return 0;
}

/* keep: the message to spool if its values are never confirmed (owned
 * from here on), NULL for none. Returns 1 when keep was kept, 0 when it
 * is the caller's again (confirmed already, or no room). */
static int defer_done(alec_rx *rx, const alec_rx_msg *m, uint8_t *undo, size_t undo_len, int has_undo,
                      alec_rx_msg *keep, uint64_t first) {
  if (rx->sink.mark == NULL) {
    if (m->done) m->done(m->done_ctx, m->done_tag);
    free(undo);
    return 0;
  }
  uint64_t token = rx->sink.mark(rx->sink.arg);
  pthread_mutex_lock(&rx->ack_lock);
  int now = token <= rx->written && rx->n_deferred == 0;
  if (!now && rx->n_deferred == rx->cap_deferred) {
    size_t cap = rx->cap_deferred ? 2 * rx->cap_deferred : 256;
    struct rx_deferred *d = realloc(rx->deferred, cap * sizeof *d);
    if (d == NULL) {
      /* Not acknowledged: the transport's broker delivers it again. */
      pthread_mutex_unlock(&rx->ack_lock);
      free(undo);
      return 0;
    }
    rx->deferred = d;
    rx->cap_deferred = cap;
  }
  /* Writers that lag by more than SpoolLimit messages: the newest are not
   * kept (a shutdown now would lose them, counted when it spools). */
  int unkept = keep && rx->n_kept >= rx->cfg->spool_limit;
  if (unkept) keep = NULL;
  if (!now) {
    rx->deferred[rx->n_deferred++] =
        (struct rx_deferred){token, m->done_tag, m->done, m->done_ctx, m->emitter, has_undo, undo, undo_len, keep, first,
                             unkept};
    if (keep) rx->n_kept++;
  }
  pthread_mutex_unlock(&rx->ack_lock);
  if (now) {
    free(undo);
    if (m->done) m->done(m->done_ctx, m->done_tag);
  }
  return !now && keep != NULL;
}

/* After the dispatch thread stopped: the messages whose values the
 * writers never confirmed are not acknowledged and come back; their
 * emitters' decoders go back to the state before the first of them, so
 * they decode again instead of being refused as already seen. */
void alec_rx__undo_unwritten(alec_rx *rx, alec_rx_msg **spool_tail) {
  size_t rolled = 0, msgs, kept = 0, part = 0;
  pthread_mutex_lock(&rx->ack_lock);
  msgs = rx->n_deferred;
  /* In processing order, before what was still queued. */
  size_t unkept = 0;
  for (size_t i = 0; i < rx->n_deferred; i++) {
    alec_rx_msg *k = rx->deferred[i].keep;
    unkept += rx->deferred[i].unkept;
    if (k == NULL) continue;
    k->next = NULL;
    /* The one message the writers stopped in the middle of (on top of
     * what an earlier stop had written of it). */
    if (rx->has_took && rx->took > rx->deferred[i].first && rx->took < rx->deferred[i].token) {
      uint64_t skip = k->skip + (rx->took - rx->deferred[i].first);
      k->skip = skip > UINT16_MAX ? UINT16_MAX : (uint16_t)skip;
      part++;
    }
    *spool_tail = k;
    spool_tail = &k->next;
    rx->deferred[i].keep = NULL;
    kept++;
  }
  rx->n_kept = 0;
  if (unkept) {
    atomic_fetch_add(&rx->spool_over, unkept);
    alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                "%zu messages received but not stored at shutdown were beyond SpoolLimit %zu (collectd's writers "
                "lagged that far behind): not spooled, lost",
                unkept, rx->cfg->spool_limit);
  }
  for (size_t i = 0; i < rx->n_deferred; i++) {
    struct rx_deferred *d = &rx->deferred[i];
    if (!d->has_emitter) continue;
    int first = 1;
    for (size_t k = 0; k < i && first; k++)
      if (rx->deferred[k].has_emitter && rx->deferred[k].emitter == d->emitter) first = 0;
    if (!first) continue;
    pthread_mutex_lock(&rx->fleet_lock);
    alec_decoder *dec = alec_fleet_emitter_decoder(rx->fleet, d->emitter);
    if (dec && d->undo) {
      if (alec_decoder_load(dec, d->undo, d->undo_len) == 0) rolled++;
    } else if (dec) {
      alec_decoder_reset(dec);
      rolled++;
    }
    pthread_mutex_unlock(&rx->fleet_lock);
  }
  pthread_mutex_unlock(&rx->ack_lock);
  if (msgs)
    alec_rx_log(rx, ALEC_RX_LOG_INFO,
                "%zu messages decoded but not written at shutdown: not acknowledged (%zu of them spooled, %zu "
                "written in part), %zu decoders set back to decode them again",
                msgs, kept, part, rolled);
}

void alec_rx_written(alec_rx *rx, uint64_t token) {
  struct rx_deferred ready[64];
  size_t n;
  do {
    n = 0;
    pthread_mutex_lock(&rx->ack_lock);
    if (token > rx->written) rx->written = token;
    while (n < rx->n_deferred && n < 64 && rx->deferred[n].token <= rx->written) {
      ready[n] = rx->deferred[n];
      n++;
    }
    if (n) {
      memmove(rx->deferred, rx->deferred + n, (rx->n_deferred - n) * sizeof *rx->deferred);
      rx->n_deferred -= n;
      for (size_t i = 0; i < n; i++) rx->n_kept -= ready[i].keep != NULL;
      pthread_cond_broadcast(&rx->ack_cond);
    }
    pthread_mutex_unlock(&rx->ack_lock);
    /* In order, outside the lock: a transport acknowledges in order. */
    for (size_t i = 0; i < n; i++) {
      free(ready[i].undo);
      free(ready[i].keep);
      if (ready[i].done) ready[i].done(ready[i].ctx, ready[i].tag);
    }
  } while (n == 64);
}

/* The dispatch thread decodes the next batch only once the writers have
 * the last one: when collectd stops its write threads at shutdown, at
 * most the batch in flight was decoded without being stored. */
void alec_rx__wait_written(alec_rx *rx) {
  /* Bounded: a daemon that drops values (WriteQueueLimitHigh) never
   * confirms them; a later confirmation then completes them as well. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 1;
  pthread_mutex_lock(&rx->ack_lock);
  while (rx->n_deferred > 0 && !atomic_load(&rx->stop))
    if (pthread_cond_timedwait(&rx->ack_cond, &rx->ack_lock, &until) != 0) break;
  pthread_mutex_unlock(&rx->ack_lock);
}

/* own: m may be kept for the spool (the dispatch thread's batch), else it
 * is copied. Returns 1 when m was kept (not to be freed by the caller). */
static int rx_process(alec_rx *rx, alec_rx_msg *m, int own) {
  uint8_t *undo = NULL;
  size_t undo_len = 0;
  int has_undo = 0;
  /* Only a payload of one emitter can be undone: a spooled datagram of
   * several would decode twice. */
  int payload = m->kind == ALEC_RX_PAYLOAD && m->has_emitter;
  int spool = rx->spool_on && payload && alec_spool_accepts(rx->cfg, m);
  if ((m->done || spool) && rx->sink.mark && payload) has_undo = undo_save(rx, m->emitter, &undo, &undo_len) == 0;
  if (spool && !has_undo) spool = 0;
  alec_rx_msg *keep = NULL;
  if (spool) {
    keep = own ? m : alec_rx_msg_new(m->len);
    if (keep && keep != m) {
      memcpy(keep, m, sizeof *m + m->len);
      keep->next = NULL;
    }
  }
  uint64_t first = rx->sink.mark ? rx->sink.mark(rx->sink.arg) : 0;
  if (rx->rs.ready) alec_rs_begin(&rx->rs);
  if (m->kind == ALEC_RX_DATAGRAM) alec_rx__process_datagram(rx, m);
  else if (payload) alec_rx__process_payload(rx, m);
  else alec_rx__reject_msg(rx, ALEC_RX_REJ_MALFORMED, m, UINT64_MAX, "message of unknown kind %u", m->kind);
  alec_rx__resync_flush(rx, m);
  if (m->done || keep) {
    int kept = defer_done(rx, m, undo, undo_len, has_undo, keep, first);
    if (!kept && keep && keep != m) free(keep);
    return kept && keep == m;
  }
  free(undo);
  return 0;
}

void alec_rx_process(alec_rx *rx, alec_rx_msg *m) { (void)rx_process(rx, m, 0); }

/* The dispatch thread's step for one message, under hold_lock: once the
 * daemon's writers are gone (alec_rx_hold), spooled transports' messages
 * are set aside for the state file, at-least-once ones are left to their
 * broker, the others still processed. */
void alec_rx__dispatch_one(alec_rx *rx, alec_rx_msg *m) {
  if (rx->hold) {
    if (rx->spool_on && alec_spool_accepts(rx->cfg, m)) {
      m->next = NULL;
      *rx->held_tail = m;
      rx->held_tail = &m->next;
      return;
    }
    if (m->done && rx->sink.mark) {
      free(m);
      return;
    }
  }
  if (!rx_process(rx, m, 1)) free(m);
}

void alec_rx_writers_took(alec_rx *rx, uint64_t lists) {
  if (rx == NULL) return;
  pthread_mutex_lock(&rx->ack_lock);
  rx->took = lists;
  rx->has_took = 1;
  pthread_mutex_unlock(&rx->ack_lock);
}

void alec_rx_hold(alec_rx *rx) {
  if (rx == NULL) return;
  pthread_mutex_lock(&rx->hold_lock);
  rx->hold = 1;
  pthread_mutex_unlock(&rx->hold_lock);
}

/* The restored spool, before any new message. */
void alec_rx__replay_spool(alec_rx *rx) {
  alec_rx_msg *m = rx->replay;
  rx->replay = NULL;
  pthread_mutex_lock(&rx->hold_lock);
  while (m) {
    alec_rx_msg *next = m->next;
    m->next = NULL;
    alec_rx__dispatch_one(rx, m);
    m = next;
  }
  pthread_mutex_unlock(&rx->hold_lock);
}

void alec_rx_replay_spool(alec_rx *rx) { alec_rx__replay_spool(rx); }
