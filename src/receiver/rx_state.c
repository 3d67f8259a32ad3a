/* SPDX-License-Identifier: MIT */
/* The state file: restored at start (with the spooled messages), saved
 * every StateInterval and at stop. */

#include "receiver_int.h"

static int state_filter(void *arg, uint64_t id) {
  const alec_rx *rx = arg;
  return !rx->cfg->reject_unknown || alec_rx__find(rx, id) != NULL;
}

/* The messages a previous stop spooled: processed first (dispatch_main). */
static void spool_restore(alec_rx *rx, const uint8_t *buf, size_t len) {
  if (len == 0) return;
  alec_spool_counts c;
  int rc = alec_spool_decode(rx->cfg, buf, len, rx->cfg->spool_limit, &rx->replay, &c);
  if (rc != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `StateFile': cannot restore the spooled messages: %s",
                alec_strerror(rc));
    return;
  }
  rx->spool_restored = c.kept;
  atomic_fetch_add(&rx->spool_over, c.over);
  rx->spool_unresolved = c.unresolved;
  alec_rx_log(rx, c.over || c.unresolved ? ALEC_RX_LOG_WARNING : ALEC_RX_LOG_INFO,
              "%zu spooled messages restored, processed before any new one (%zu above SpoolLimit %zu dropped, %zu of "
              "an <MQTT> block or <Profile> no longer configured dropped)",
              c.kept, c.over, rx->cfg->spool_limit, c.unresolved);
}

static int lag_cmp(const void *a, const void *b) {
  uint64_t x = ((const alec_ps_lag *)a)->id, y = ((const alec_ps_lag *)b)->id;
  return x < y ? -1 : x > y;
}

void alec_rx__lag_restore(alec_rx *rx, em_slot *s) {
  alec_ps_lag key = {s->id, 0};
  const alec_ps_lag *l = bsearch(&key, rx->lags, rx->n_lags, sizeof *rx->lags, lag_cmp);
  if (l == NULL) return;
  s->lag = l->lag;
  s->has_lag = 1;
}

/* The lags to save: every slot's that has one, and the restored ones of
 * emitters that have not reported since (their slot has none) while the
 * fleet still knows them, so that restarts do not pile up the lags of
 * emitters long gone (the fleet drops them at 2 x EmitterTimeout and is
 * bounded by MaxEmitters). Sorted by id. NULL with *n 0 when there is
 * none, or out of memory (then saved without: the next live frame learns
 * them again). Dispatch thread, fleet_lock not held. */
static alec_ps_lag *lags_collect(alec_rx *rx, size_t *n) {
  size_t cap = rx->n_lags, k = 0;
  for (size_t i = 0; i <= rx->ems_mask; i++) cap += rx->ems[i].used && rx->ems[i].has_lag;
  *n = 0;
  if (cap == 0 || cap > ALEC_PS_MAX_LAGS) return NULL;
  alec_ps_lag *out = malloc(cap * sizeof *out);
  if (out == NULL) return NULL;
  for (size_t i = 0; i <= rx->ems_mask; i++)
    if (rx->ems[i].used && rx->ems[i].has_lag) out[k++] = (alec_ps_lag){rx->ems[i].id, rx->ems[i].lag};
  size_t live = k;
  qsort(out, live, sizeof *out, lag_cmp);
  pthread_mutex_lock(&rx->fleet_lock);
  for (size_t j = 0; j < rx->n_lags; j++)
    if (!bsearch(&rx->lags[j], out, live, sizeof *out, lag_cmp) &&
        alec_fleet_emitter_decoder(rx->fleet, rx->lags[j].id) != NULL)
      out[k++] = rx->lags[j];
  pthread_mutex_unlock(&rx->fleet_lock);
  qsort(out, k, sizeof *out, lag_cmp);
  *n = k;
  return out;
}

/* A refused state file never stops the receiver: it starts clean. */
void alec_rx__state_restore(alec_rx *rx) {
  const char *path = rx->cfg->state_file;
  if (path[0] == '\0') return;
  char err[ALEC_PC_PATH_LEN + 512];
  alec_fleet_state_info info;
  alec_ps_meta meta;
  double now = now_real();
  int rc = alec_ps_load_rx(path, rx->fleet, now, state_filter, rx, rx->cfg->receiver_id, &meta, &info, err,
                           sizeof err);
  rx->state_ready = 1;
  if (rc == 1) {
    alec_rx_log(rx, ALEC_RX_LOG_INFO, "no state file \"%s\" yet, starting without emitter state", path);
  } else if (rc == 0) {
    /* Counters at or below what was accepted before the restart are
     * replays, whatever the 64-counter windows of memory would say. */
    for (size_t i = 0; i < meta.n_keys; i++) alec_sec_restore_counter(&rx->sec, meta.keys[i].id, meta.keys[i].top);
    free(meta.keys);
    /* Legacy emitters' clock offsets: a backlog of timestamped frames after
     * the restart keeps its data times instead of taking receive times. */
    free(rx->lags);
    rx->lags = meta.lags;
    rx->n_lags = meta.n_lags;
    /* The fleet's clock resumes where the saved one stood: a backlog that
     * waited in the broker since then is scored in its own time, and with
     * nothing arriving the restored emitters still go stale. */
    if (info.emitters > 0 && isfinite(info.saved_at) && rx->data_clock == 0) {
      rx->data_clock = info.saved_at < now ? info.saved_at : now;
      rx->data_recv = now;
    }
    spool_restore(rx, meta.spool, meta.spool_len);
    free(meta.spool);
    alec_rx_log(rx, ALEC_RX_LOG_INFO,
                "restored %zu emitters, the replay counters of %zu keys and the clock offsets of %zu legacy "
                "emitters from \"%s\" (saved %.0f s ago; %zu skipped, %zu changed group)%s",
                info.emitters, meta.n_keys, rx->n_lags, path, now - info.saved_at, info.skipped, info.group_changes,
                meta.format == 1 ? "; an older format without replay counters: replays of datagrams signed before "
                                   "the restart are possible until the next save"
                                 : "");
  } else if (rc == ALEC_EIO) {
    /* Unreadable: keep it, and do not overwrite what we could not read. */
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "%s; starting with a clean state, the state will not be saved", err);
    rx->state_ready = 0;
  } else if (rc == ALEC_EAUTH) {
    /* Not ours to trust; our own save replaces it (mode 0600). */
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "%s; starting with a clean state", err);
  } else {
    char aside[ALEC_PC_PATH_LEN + 256];
    int moved = alec_ps_set_aside(path, aside, sizeof aside);
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "%s; starting with a clean state%s%s", err,
                moved == 0 ? ", the file was renamed to *.refused" : ": ", moved == 0 ? "" : aside);
  }
  rx->next_state_save = now_mono() + rx->cfg->state_interval;
}

/* What alec_rx_stop kept into meta->spool; what does not fit is counted
 * and said. */
static size_t spool_encode(alec_rx *rx, alec_ps_meta *meta) {
  alec_spool_counts c;
  int rc = alec_spool_encode(rx->cfg, rx->spool, rx->cfg->spool_limit, &meta->spool, &meta->spool_len, &c);
  atomic_fetch_add(&rx->spool_over, c.over);
  if (rc != 0 || c.over)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                "%zu messages received but not stored at shutdown could not be spooled (SpoolLimit %zu, at most %u "
                "bytes%s): lost",
                c.over, rx->cfg->spool_limit, ALEC_SPOOL_MAX_BYTES, rc != 0 ? ", out of memory" : "");
  return c.kept;
}

/* Serialised under fleet_lock, written (and fsync'ed) outside it. */
void alec_rx__state_save(alec_rx *rx, int final) {
  uint8_t *buf = NULL;
  size_t len = 0;
  alec_fleet_state_info info;
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_state_save(rx->fleet, now_real(), &buf, &len, &info);
  pthread_mutex_unlock(&rx->fleet_lock);
  char err[ALEC_PC_PATH_LEN + 256];
  if (rc == 0) {
    /* The replay counters: only this thread touches the key table. */
    alec_ps_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.receiver, sizeof meta.receiver, "%s", rx->cfg->receiver_id);
    size_t cap = alec_sec_counter_count(&rx->sec);
    meta.keys = cap ? malloc(cap * sizeof(*meta.keys)) : NULL;
    if (cap && meta.keys == NULL) {
      rc = ALEC_ENOMEM;
      snprintf(err, sizeof err, "out of memory");
    } else {
      meta.n_keys = alec_sec_export_counters(&rx->sec, meta.keys, cap);
      meta.lags = lags_collect(rx, &meta.n_lags);
      size_t kept = final && rx->spool ? spool_encode(rx, &meta) : 0;
      rc = alec_ps_save_rx(rx->cfg->state_file, &meta, buf, len, err, sizeof err);
      if (rc == 0) {
        pthread_mutex_lock(&rx->fleet_lock);
        rx->spool_saved = kept;
        pthread_mutex_unlock(&rx->fleet_lock);
      }
    }
    free(meta.keys);
    free(meta.lags);
    free(meta.spool);
  } else {
    snprintf(err, sizeof err, "cannot serialise the fleet state: %s", alec_strerror(rc));
  }
  free(buf);
  if (rc != 0) {
    /* An unwritable file fails at every StateInterval: say so once per
     * STATE_ERROR_INTERVAL, with the count, not at every attempt. */
    double now = now_mono();
    if (final || rx->last_state_error == 0 || now - rx->last_state_error >= STATE_ERROR_INTERVAL) {
      if (rx->state_errors_suppressed)
        alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `StateFile': %s (%" PRIu64 " more failures not logged)", err,
                    rx->state_errors_suppressed);
      else alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `StateFile': %s", err);
      rx->last_state_error = now;
      rx->state_errors_suppressed = 0;
    } else {
      rx->state_errors_suppressed++;
    }
  } else if (final) {
    if (rx->spool_on)
      alec_rx_log(rx, ALEC_RX_LOG_INFO, "state of %zu emitters saved to \"%s\", with %" PRIu64 " spooled messages",
                  info.emitters, rx->cfg->state_file, rx->spool_saved);
    else alec_rx_log(rx, ALEC_RX_LOG_INFO, "state of %zu emitters saved to \"%s\"", info.emitters, rx->cfg->state_file);
  }
}
