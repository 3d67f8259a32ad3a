/* SPDX-License-Identifier: MIT */
/* Profiles with a Fallback: Milesight TLV frames beside ALEC frames, the
 * fCnt and loss recovery. */

#include "receiver_int.h"


/* Milesight TLV to channel values (registers): every channel needs its item,
 * since the ghost frame observes all of them in channel order. */
static int tlv_values(alec_rx *rx, const alec_rx_msg *m, const alec_pc_profile *prof, double *out) {
  alec_tlv_item items[ALEC_PC_MAX_TLV];
  size_t k = 0;
  int rc = alec_tlv_parse(m->data, m->len, items, ALEC_PC_MAX_TLV, &k);
  if (rc < 0) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_OF_TLV(rc), m, m->emitter, "%zu bytes, first byte 0x%02x: %s", m->len,
               m->len ? m->data[0] : 0, alec_tlv_strerror(rc));
    return -1;
  }
  uint64_t have = 0;
  for (size_t i = 0; i < k; i++)
    for (size_t t = 0; t < prof->n_tlv; t++)
      if (prof->tlv[t].id == items[i].id && prof->tlv[t].type == items[i].type) {
        out[prof->tlv[t].channel] = (double)items[i].raw;
        have |= UINT64_C(1) << prof->tlv[t].channel;
      }
  unsigned n = prof->s.channels;
  uint64_t all = n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
  if ((have & all) != all) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_TLV_INCOMPLETE, m, m->emitter, "%zu items, channels 0x%" PRIx64 " of 0x%" PRIx64, k,
               have & all, all);
    return 1;
  }
  return 0;
}

/* A payload on a profile with a Fallback (docs/PROTOCOL.md, "Deviations
 * from the reference"): ALEC frames and Milesight TLV frames of one device,
 * the fCnt telling lost uplinks, which are mirrored into the decoder. TLV
 * values are exact and always dispatched; a decoded value is the register
 * it rounds to, exact unless a loss left its channel uncertain (then held
 * back or dispatched as an estimate, LossRecovery). */
void alec_rx__process_fallback(alec_rx *rx, const alec_rx_msg *m, const alec_pc_emitter *em,
                             const alec_pc_profile *prof) {
  uint64_t id = m->emitter;
  unsigned n = prof->s.channels;
  if (em == NULL && rx->cfg->reject_unknown) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_UNKNOWN, m, id, "not configured (UnknownEmitters \"reject\")");
    return;
  }
  int is_alec = alec_tlv_is_alec_frame(m->data, m->len);
  double exact[64];
  int parsed = is_alec ? 0 : tlv_values(rx, m, prof, exact);
  if (parsed < 0) return;
  em_slot *s = alec_rx__em_find(rx, id, 1, em != NULL);
  if (s == NULL) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters known", rx->cfg->max_emitters);
    return;
  }
  double prev_seen = s->seen;
  s->seen = m->received;
  if (rx->rl_on && !alec_rl_allow(&rx->rl, &s->rl, m->received)) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_RATE, m, id, "above RateLimit %g frames/s (burst %g)", rx->cfg->rate_limit,
               rx->cfg->rate_burst);
    return;
  }
  if (s->family && s->family != (uint8_t)ALEC_FORMAT_FIXED) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "fixed frame from an emitter that sends %s frames (family switch)",
               alec_format_name((alec_format)s->family));
    return;
  }
  if (s->lr == NULL || s->lr->n != n) {
    if (s->lr == NULL) s->lr = malloc(sizeof *s->lr);
    if (s->lr == NULL) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "emitter %016" PRIx64 ": out of memory", id);
      return;
    }
    alec_lr_init(s->lr, n);
  }
  alec_lr *lr = s->lr;
  uint32_t lost = 0;
  int first = !lr->has_fcnt && !lr->has_last;
  int fc = m->has_fcnt ? alec_lr_fcnt(lr, m->fcnt, &lost) : ALEC_LR_FCNT_NEXT;
  if (fc == ALEC_LR_FCNT_DUPLICATE) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_STALE, m, id, "fCnt %" PRIu32 " already seen", m->fcnt);
    return;
  }
  if (parsed > 0) {
    /* A TLV uplink without the channels (an alarm, a history record): not
     * one of the encoder's frames, but it took an fCnt. Already refused. */
    lr->pending += lost;
    return;
  }
  if (fc == ALEC_LR_FCNT_NEXT) lost += lr->pending;
  lr->pending = 0;
  uint32_t gap = lost; /* uplinks the fCnt says were lost */
  alec_rx__apply_group(rx, em, s, id, m->group);
  alec_fleet_value vals[64];
  uint8_t status[64];
  double feed[64], out[64];
  alec_frame_info info;
  memset(&info, 0, sizeof info);
  info.format = ALEC_FORMAT_FIXED;
  info.priority = ALEC_P3;
  uint64_t ghosts0 = lr->ghosts, re0 = lr->reanchored;
  int rc;
  double t = alec_rx__data_time(rx, s, prev_seen, m, NULL, 0);
  alec_rx__score_due(rx, s, m, t, 1);
  pthread_mutex_lock(&rx->fleet_lock);
  alec_decoder *dec = alec_fleet_emitter_decoder(rx->fleet, id);
  if (fc == ALEC_LR_FCNT_RESET) {
    /* A rejoin: the device restarted, its encoder with it. */
    alec_lr_restart(lr, dec);
    rx->fcnt_resets++;
  } else if (dec == NULL && lr->has_last) {
    /* The fleet dropped the emitter's decoder (stale): start over. */
    alec_lr_restart(lr, NULL);
  }
  int empty = dec == NULL || alec_context_source_count(alec_decoder_context_const(dec)) == 0;
  if (first && !empty) alec_lr_unknown(lr); /* a restored decoder, uplinks since unknown */
  if (!is_alec) {
    rc = 0;
    if (empty && (!m->has_fcnt || m->fcnt > 0)) {
      /* A decoder starts on a device that is not at its cold start (the
       * fCnt counts its encoder's frames since the join): ghosts of these
       * values bring the decoder's counts and version to the encoder's,
       * the predictors' errors are unknown. */
      uint32_t missed = !m->has_fcnt ? 1 : m->fcnt < ALEC_LR_MAX_GAP ? m->fcnt : ALEC_LR_MAX_GAP;
      if (dec == NULL) {
        rc = alec_fleet_feed_values(rx->fleet, id, exact, n, t);
        dec = rc == 0 ? alec_fleet_emitter_decoder(rx->fleet, id) : NULL;
        missed--;
      }
      lost = missed;
      alec_lr_unknown(lr);
    }
    if (rc == 0) alec_lr_exact(lr, dec, lost, exact);
    if (rc == 0) rc = alec_fleet_feed_values(rx->fleet, id, exact, n, t);
    for (unsigned i = 0; i < n; i++) {
      out[i] = exact[i];
      status[i] = ALEC_LR_EXACT;
    }
    if (rc == 0) rx->tlv_frames++;
  } else if (empty) {
    rc = ALEC_ENOPRED;
  } else {
    rc = alec_lr_decode(lr, dec, lost, m->data, m->len, feed, out, status, &info);
    if (rc >= 0) rc = alec_fleet_feed_values(rx->fleet, id, feed, n, t);
  }
  rx->fcnt_gaps += gap;
  rx->ghosts_replayed += lr->ghosts - ghosts0;
  rx->reanchored += lr->reanchored - re0;
  double period = rc >= 0 ? alec_fleet_emitter_period(rx->fleet, id) : 0;
  pthread_mutex_unlock(&rx->fleet_lock);
  alec_rx__score_due(rx, s, m, t, 0);
  if (rc < 0) {
    if (rc == ALEC_ENOSPC) {
      alec_rx__reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters known", rx->cfg->max_emitters);
      return;
    }
    alec_rx__reject_msg(rx, ALEC_RX_REJ_DECODE, m, id, "fixed frame of %zu bytes: %s%s", m->len, alec_strerror(rc),
               empty ? " (no state yet: the next TLV fallback starts it)" : "");
    alec_rx__resync_note(rx, m, s, id, 1);
    return;
  }
  s->family = (uint8_t)ALEC_FORMAT_FIXED;
  int uncertain = 0;
  for (unsigned i = 0; i < n; i++) {
    alec_fleet_value *v = &vals[i];
    memset(v, 0, sizeof *v);
    v->channel = i;
    v->priority = ALEC_P3;
    v->value = out[i];
    v->tracked = 1;
    if (status[i] == ALEC_LR_NONE) v->flags = ALEC_VALUE_UNRELIABLE | ALEC_VALUE_NONFINITE;
    if (status[i] == ALEC_LR_ESTIMATE) {
      uncertain = 1;
      v->flags = prof->loss_recovery == ALEC_PC_LOSS_ESTIMATE ? ALEC_RX_VALUE_ESTIMATED : ALEC_VALUE_UNRELIABLE;
    }
  }
  /* A keyframe (its TLV) does not re-anchor a predictor by itself, but
   * every exact observation shrinks what a loss left: ask for one. */
  if (lost > 0 || uncertain || fc == ALEC_LR_FCNT_RESET) alec_rx__resync_note(rx, m, s, id, 1);
  alec_rx__deliver(rx, id, em, m, s, vals, (int)n, &info, period);
}
