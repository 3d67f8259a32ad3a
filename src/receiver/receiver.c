/* SPDX-License-Identifier: MIT */
/* The receiver core (receiver.h). One dispatch thread does everything that
 * touches emitter state; the fleet object is single-threaded and fleet_lock
 * serialises the dispatch thread and the embedding program's readers
 * (statistics, per-emitter scores, the state file). */
#include "receiver_int.h"

_Static_assert(ALEC_PC_GROUP_LEN == ALEC_FLEET_GROUP_MAX + 1, "group length must match the fleet's");
_Static_assert(ALEC_RX_GROUP_LEN == ALEC_PC_GROUP_LEN, "metadata groups must fit the fleet's");
_Static_assert(ALEC_PC_MAX_FALLBACK_CHANNELS == ALEC_LR_MAX_CHANNELS, "Fallback channels must fit the loss recovery");

static const char *const reject_name[ALEC_RX_REJ_COUNT] = {
#define REJ_NAME(e, name, text) name,
    ALEC_RX_REJECTS(REJ_NAME)
#undef REJ_NAME
#define REJ_TLV_NAME(e, name, text) #name,
    ALEC_TLV_ERRORS(REJ_TLV_NAME)
#undef REJ_TLV_NAME
};
static const char *const reject_text[ALEC_RX_REJ_COUNT] = {
#define REJ_TEXT(e, name, text) text,
    ALEC_RX_REJECTS(REJ_TEXT)
    ALEC_TLV_ERRORS(REJ_TEXT)
#undef REJ_TEXT
};

const char *alec_rx_reject_name(int kind) {
  return kind >= 0 && kind < ALEC_RX_REJ_COUNT ? reject_name[kind] : "unknown";
}

/* ---- logging ------------------------------------------------------------ */

static void vlog_line(alec_rx *rx, int level, const char *fmt, va_list ap) {
  if (rx->sink.log == NULL) return;
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  rx->sink.log(rx->sink.arg, level, buf);
}

void alec_rx_log(alec_rx *rx, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog_line(rx, level, fmt, ap);
  va_end(ap);
}

/* 1 when a line of this kind may be logged now; the caller then logs the
 * count of suppressed ones. A flood of garbage must not flood the log, and
 * must not cost the formatting of lines nobody reads. */
static int log_due(alec_rx *rx, int kind, uint64_t *more) {
  double now = now_mono();
  pthread_mutex_lock(&rx->log_lock);
  int due = rx->last_log[kind] == 0 || now - rx->last_log[kind] >= LOG_INTERVAL;
  if (due) {
    *more = rx->suppressed[kind];
    rx->suppressed[kind] = 0;
    rx->last_log[kind] = now;
  } else {
    rx->suppressed[kind]++;
  }
  pthread_mutex_unlock(&rx->log_lock);
  return due;
}

static void vreject(alec_rx *rx, int kind, const char *from, uint64_t emitter, const char *fmt, va_list ap) {
  atomic_fetch_add_explicit(&rx->rejected[kind], 1, memory_order_relaxed);
  uint64_t more;
  if (!log_due(rx, kind, &more)) return;
  char detail[256], tail[64] = "";
  vsnprintf(detail, sizeof detail, fmt, ap);
  if (more) snprintf(tail, sizeof tail, " (%" PRIu64 " more not logged)", more);
  if (emitter != UINT64_MAX && from)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s from %s, emitter %016" PRIx64 ": %s%s", reject_text[kind], from,
                emitter, detail, tail);
  else if (emitter != UINT64_MAX)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s, emitter %016" PRIx64 ": %s%s", reject_text[kind], emitter, detail,
                tail);
  else if (from)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s from %s: %s%s", reject_text[kind], from, detail, tail);
  else
    alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%s: %s%s", reject_text[kind], detail, tail);
}

void alec_rx_reject(alec_rx *rx, int kind, const char *from, uint64_t emitter, const char *fmt, ...) {
  if (kind < 0 || kind >= ALEC_RX_REJ_COUNT) return;
  va_list ap;
  va_start(ap, fmt);
  vreject(rx, kind, from, emitter, fmt, ap);
  va_end(ap);
}

static void msg_from(const alec_rx_msg *m, char *out, size_t cap) {
  if (m->kind != ALEC_RX_DATAGRAM) {
    snprintf(out, cap, "%.*s", (int)(cap > 1 ? cap - 1 : 0), m->host[0] ? m->host : "network server");
    return;
  }
  char host[64], serv[16]; /* NI_MAXHOST needs _GNU_SOURCE; numeric forms fit */
  if (m->from_len == 0 || getnameinfo((const struct sockaddr *)&m->from, m->from_len, host, sizeof host, serv,
                                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(out, cap, "?");
    return;
  }
  if (m->from.ss_family == AF_INET6) snprintf(out, cap, "[%s]:%s", host, serv);
  else snprintf(out, cap, "%s:%s", host, serv);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void alec_rx__reject_msg(alec_rx *rx, int kind, const alec_rx_msg *m, uint64_t emitter, const char *fmt, ...) {
  char from[ALEC_RX_NAME_LEN + 32];
  msg_from(m, from, sizeof from);
  va_list ap;
  va_start(ap, fmt);
  vreject(rx, kind, from, emitter, fmt, ap);
  va_end(ap);
}

/* The transports only count what they drop; the dispatch thread logs. */
static void log_ingress_drops(alec_rx *rx) {
  uint64_t ov = atomic_load(&rx->ingress.oversized), qd = atomic_load(&rx->ingress.queue_drops);
  if (ov != rx->oversized_seen) {
    uint64_t n = ov - rx->oversized_seen;
    rx->oversized_seen = ov;
    uint64_t more;
    if (log_due(rx, ALEC_RX_REJ_OVERSIZED, &more))
      alec_rx_log(rx, ALEC_RX_LOG_WARNING, "%" PRIu64 " oversized message(s) dropped", n);
  }
  if (qd != rx->queue_drops_seen) {
    uint64_t n = qd - rx->queue_drops_seen;
    rx->queue_drops_seen = qd;
    uint64_t more;
    if (log_due(rx, ALEC_RX_REJ_QUEUE, &more))
      alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                  "%" PRIu64 " message(s) dropped, the dispatch thread falls behind (QueueLength %zu)", n,
                  rx->cfg->queue_length);
  }
}


/* The time of a frame's values (collectd-alec(5), TIME): a legacy header
 * timestamp, or the network server's time of the uplink, wins when it lies
 * within TimestampTolerance of the receive time (default 600 s in the past,
 * 5 s in the future), except that a legacy frame received within 2 s of its
 * stamp takes the finer receive time. Further off, the receive time is used and the
 * clamp counted: one frame stamped ahead must not drag every later value of
 * its emitter into the future (times of one emitter only increase, as
 * collectd's cache requires), nor a fresh emitter land a day in the past. */
#define NS_TIME_PAST 604800.0 /* 7 days */

/* The rule above for one claimed time: the claimed or the receive time,
 * *clamped 1 (too old) or 2 (ahead) when it is refused. */
static double claimed_time(const alec_rx *rx, double claimed, int by_ns, double received, int *clamped) {
  double t = received, past = rx->cfg->time_past;
  /* The network server stamped the uplink when its gateways heard it: not
   * the device's claim but the infrastructure's. A broker's persistent
   * session delivers hours of backlog after collectd was down, and those
   * values belong at their own times. */
  if (by_ns && past < NS_TIME_PAST) past = NS_TIME_PAST;
  if (!isfinite(claimed) || claimed + past < t) *clamped = 1;
  else if (claimed > t + rx->cfg->time_future) *clamped = 2;
  /* A legacy stamp counts whole seconds: live, the receive time is finer.
   * The network server's is finer than ours to the uplink: always taken,
   * or a receiver lagging 2 s would switch clocks between two uplinks and
   * store both within a millisecond. */
  else if (by_ns || !(t >= claimed && t - claimed < TIME_LIVE)) t = claimed;
  return t;
}

static double value_time(const alec_rx *rx, em_slot *s, const alec_frame_info *info, const alec_rx_msg *m,
                         int *clamped) {
  double t = m->received;
  if (info->has_timestamp) t = claimed_time(rx, (double)info->timestamp, 0, m->received, clamped);
  else if (m->has_event_time) t = claimed_time(rx, m->event_time, 1, m->received, clamped);
  if (s) {
    /* The next representable time: distinct for collectd (2^-30 s ticks). */
    if (s->last > 0 && t <= s->last) t = nextafter(s->last, INFINITY);
    s->last = t;
  }
  return t;
}

/* Legacy clocks drift by tens of ppm: the least lag may creep up by this
 * much per second of receive time, so that it follows the emitter's clock. */
#define LAG_CREEP 1e-4

/* The time the fleet observes a message's values at (collectd-alec(5), Data
 * time), known before decoding: the network server's time of the uplink by
 * the rule of value_time; a legacy frame's timestamp moved onto the
 * receiver's clock by the emitter's least lag (a device clock minutes off
 * is not a device minutes late), then by the same rule, so that a frame the
 * emitter held back keeps its place; receive time otherwise. prev_seen is
 * the receive time of the emitter's previous message (0: none). Feeds the
 * fleet's data clock. */
double alec_rx__data_time(alec_rx *rx, em_slot *s, double prev_seen, const alec_rx_msg *m, const uint8_t *frame,
                        size_t len) {
  double t = m->received;
  int clamped = 0;
  alec_header h;
  if (m->has_event_time) {
    t = claimed_time(rx, m->event_time, 1, m->received, &clamped);
  } else if (s && frame && alec_frame_family(frame, len) == ALEC_FAMILY_LEGACY &&
             alec_header_parse(frame, len, &h) == 0) {
    double claimed = (double)h.timestamp, lag = m->received - claimed;
    if (!s->has_lag && rx->n_lags) alec_rx__lag_restore(rx, s);
    if (s->has_lag && prev_seen > 0 && m->received > prev_seen) s->lag += LAG_CREEP * (m->received - prev_seen);
    if (!s->has_lag || lag < s->lag) s->lag = lag;
    s->has_lag = 1;
    t = claimed_time(rx, claimed + s->lag, 0, m->received, &clamped);
  }
  if (t > rx->data_clock || rx->data_clock == 0) rx->data_clock = t;
  rx->data_recv = m->received;
  return t;
}

double alec_rx_clock(alec_rx *rx, double wall) {
  if (!(rx->data_clock > 0)) return 0;
  double c = rx->data_clock;
  /* Idle: the clock runs on at the wall's pace from the latest message, so
   * that an outage makes emitters stale. Never back. */
  if (isfinite(wall) && wall > rx->data_recv) c += wall - rx->data_recv;
  if (c > rx->fleet_clock) rx->fleet_clock = c;
  return rx->fleet_clock;
}

/* Scoring within a batch where a live stream, scored after every message
 * and on the timer, would have scored, for messages of a backlog (data time
 * more than TIME_LIVE behind the receive time: a burst after a restart or
 * an outage): at its data time t, before it is fed when a baseline is due
 * by age or its emitter's previous report is still unscored (the fleet
 * scores a channel once per evaluation and dwell counts scores: a burst
 * must not count as one report); after it when its value made one due.
 * The fleet knows in O(1). A live stream keeps its per-batch scoring. */
void alec_rx__score_due(alec_rx *rx, em_slot *s, const alec_rx_msg *m, double t, int before) {
  int backlog = m->received - t > TIME_LIVE;
  int repeat = backlog && before && s && s->fed == rx->score_gen;
  int due = 0;
  if (backlog) {
    pthread_mutex_lock(&rx->fleet_lock);
    due = alec_fleet_score_due(rx->fleet, t);
    pthread_mutex_unlock(&rx->fleet_lock);
  }
  if (repeat || due) {
    double now = alec_rx_clock(rx, NAN);
    if (now > 0) alec_rx_score(rx, now);
  }
  if (before && s) s->fed = rx->score_gen;
}

const alec_plugin_config *alec_rx_config(const alec_rx *rx) { return rx->cfg; }

/* ---- keyframe requests ------------------------------------------------------ */

void alec_rx__resync_note(alec_rx *rx, const alec_rx_msg *m, em_slot *s, uint64_t id, int bare) {
  if (!rx->rs.ready || m->reply.send == NULL) return;
  alec_rs_request(&rx->rs, s ? &s->rs : NULL, id, bare, 1.0 + now_mono(), &m->reply);
}

void alec_rx__resync_flush(alec_rx *rx, const alec_rx_msg *m) {
  if (!rx->rs.ready) return;
  alec_rs_flush(&rx->rs, &m->reply);
  uint64_t sum = rx->rs.sent + rx->rs.limited + rx->rs.failed;
  if (sum == rx->rs_synced) return;
  rx->rs_synced = sum;
  pthread_mutex_lock(&rx->fleet_lock);
  rx->rs_stats[0] = rx->rs.sent;
  rx->rs_stats[1] = rx->rs.limited;
  rx->rs_stats[2] = rx->rs.failed;
  pthread_mutex_unlock(&rx->fleet_lock);
}

/* ---- decoding ---------------------------------------------------------------- */

void alec_rx__deliver(alec_rx *rx, uint64_t id, const alec_pc_emitter *em, const alec_rx_msg *m, em_slot *s,
                    alec_fleet_value *vals, int n, const alec_frame_info *info, double period) {
  /* A value the decoder could not reconstruct is a guess: never stored. */
  size_t keep = 0;
  for (int i = 0; i < n; i++)
    if (!(vals[i].flags & ALEC_VALUE_UNRELIABLE)) vals[keep++] = vals[i];
  const alec_pc_chanmap *map = em ? em->map : m->profile ? &m->profile->s.map : NULL;
  for (size_t i = 0; map && i < keep; i++) vals[i].value = alec_pc_convert(map, vals[i].channel, vals[i].value);
  char host[ALEC_RX_NAME_LEN];
  alec_rx__emitter_host(rx, em, m, id, host, sizeof host);
  if (em == NULL && s && m && m->host[0]) alec_rx__host_remember(rx, s, host);
  if (em == NULL && s && s->map != map) {
    pthread_mutex_lock(&rx->host_lock);
    s->map = map;
    pthread_mutex_unlock(&rx->host_lock);
  }
  int clamped = 0;
  alec_rx_frame f = {
      .id = id,
      .em = em,
      .host = host,
      .group = em && em->group[0] ? em->group : m->group,
      .time = value_time(rx, s, info, m, &clamped),
      .interval = period,
      .values = vals,
      .n = keep,
      .info = info,
      .msg = m,
      .map = map,
  };
  uint64_t sent = 0, unconv = 0;
  if (keep && rx->sink.values) rx->sink.values(rx->sink.arg, &f, &sent, &unconv);
  pthread_mutex_lock(&rx->fleet_lock);
  rx->held_back += (uint64_t)n - keep;
  rx->unconvertible += unconv;
  rx->dispatched += sent;
  for (size_t i = 0; i < keep; i++) rx->estimated += (vals[i].flags & ALEC_RX_VALUE_ESTIMATED) != 0;
  if (clamped) rx->time_clamped[clamped - 1]++;
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rx->sink.priority && rx->cfg->notify_priority >= 0 && info->priority <= (unsigned)rx->cfg->notify_priority &&
      keep > 0)
    rx->sink.priority(rx->sink.arg, &f);
}

/* What an unknown emitter may make the daemon create: its first
 * UnknownMaxChannels channel ids (0..255), each new one paid from a
 * receiver-wide bucket of MaxNewIdentifiers per second. Values of other
 * channels are dropped before the sink, so one datagram cannot create
 * identifiers without bound. Returns the number of values kept. */
static int admit_channels(alec_rx *rx, const alec_rx_msg *m, uint64_t id, em_slot *s, alec_fleet_value *vals,
                          int n, int how) {
  int keep = 0, over = 0, rate = 0;
  double now = m->received;
  if (now > rx->id_refill) {
    rx->id_tokens += (now - rx->id_refill) * rx->cfg->max_new_identifiers;
    if (rx->id_tokens > rx->cfg->max_new_identifiers) rx->id_tokens = rx->cfg->max_new_identifiers;
    rx->id_refill = now;
  } else if (now < rx->id_refill - 1.0) {
    rx->id_refill = now; /* the clock went back: count from here, no refill */
  }
  for (int i = 0; i < n; i++) {
    uint32_t c = vals[i].channel;
    if (s == NULL || c > 255) {
      over++;
      continue;
    }
    uint64_t bit = UINT64_C(1) << (c & 63);
    if (!(s->chans[c >> 6] & bit)) {
      if (s->n_chans >= rx->cfg->unknown_max_channels) {
        over++;
        continue;
      }
      /* Devices a network server identified (it authenticated them) come
       * by the thousand after a restart or an outage, each a real device:
       * their channels stay bounded per device, not rate-limited. */
      if (how != REC_TRANSPORT) {
        if (rx->id_tokens < 1) {
          rate++;
          continue;
        }
        rx->id_tokens -= 1;
      }
      s->chans[c >> 6] |= bit;
      s->n_chans++;
    }
    vals[keep++] = vals[i];
  }
  if (over)
    alec_rx__reject_msg(rx, ALEC_RX_REJ_CHANNELS, m, id, "%d value(s) of channels beyond the first %u dropped", over,
               rx->cfg->unknown_max_channels);
  if (rate)
    alec_rx__reject_msg(rx, ALEC_RX_REJ_NEW_IDS, m, id, "%d value(s) of new channels dropped (MaxNewIdentifiers %g/s)", rate,
               rx->cfg->max_new_identifiers);
  return keep;
}


/* An emitter authenticated by signature is never judged against peers
 * whose data nobody authenticated: with an AuthFile, an unknown emitter
 * whose records arrive unsigned goes to the group "unauthenticated" (unless
 * it has a group of its own), and once one of its records arrived signed,
 * its unsigned records are refused while the receiver remembers it.
 * 0: go on, -1: refused. */
static int separate(alec_rx *rx, const alec_rx_msg *m, uint64_t id, const alec_pc_emitter *em, em_slot *s,
                    int how) {
  if (em || how == REC_TRANSPORT || rx->sec.keys == NULL) return 0;
  if (s == NULL) { /* the receiver's table is full: it could not keep it apart */
    if (how == REC_SIGNED) return 0;
    alec_rx__reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, id, "unsigned record, no room to keep it apart from signed emitters");
    return -1;
  }
  const char *to = NULL;
  if (how == REC_SIGNED) {
    s->trust |= EM_SIGNED;
    if (s->trust & EM_APART) to = "";
  } else {
    if (s->trust & EM_SIGNED) {
      alec_rx__reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, id, "unsigned record of an emitter whose records arrived signed");
      return -1;
    }
    if (!(s->trust & EM_APART) && m->group[0] == '\0') to = UNAUTH_GROUP;
  }
  if (to == NULL) return 0;
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = to[0] ? alec_fleet_set_emitter_group(rx->fleet, id, to) : alec_fleet_clear_emitter_group(rx->fleet, id);
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc != 0) {
    /* Fail closed: an unsigned emitter that cannot be kept apart is not
     * decoded into the group of authenticated ones. */
    if (how != REC_SIGNED) {
      alec_rx__reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, id, "unsigned record, cannot be kept apart from signed emitters: %s",
                 alec_strerror(rc));
      return -1;
    }
    return 0;
  }
  if (to[0]) s->trust |= EM_APART;
  else s->trust &= (uint8_t)~EM_APART;
  return 0;
}

static void process_record(alec_rx *rx, const alec_rx_msg *m, uint64_t id, const alec_pc_emitter *em,
                           alec_format fmt, unsigned channels, const uint8_t *frame, size_t len, int bare,
                           int how) {
  if (em == NULL && rx->cfg->reject_unknown) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_UNKNOWN, m, id, "not configured (UnknownEmitters \"reject\")");
    return;
  }
  if (em && em->format && em->format != fmt) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "frame family %s, configured Format \"%s\"", alec_format_name(fmt),
               alec_format_name(em->format));
    return;
  }
  if (em && fmt == ALEC_FORMAT_FIXED && em->channels && em->channels != channels) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "%u channels, configured Channels %u", channels, em->channels);
    return;
  }
  /* A fixed frame carries all its channels every time: wider than the
   * bound, it would never be stored whole; refused before decoding. */
  if (em == NULL && fmt == ALEC_FORMAT_FIXED && channels > rx->cfg->unknown_max_channels) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_CHANNELS, m, id, "fixed frame of %u channels (UnknownMaxChannels %u)", channels,
               rx->cfg->unknown_max_channels);
    return;
  }
  /* Before decoding: a flood costs a hash lookup, not a decode. */
  em_slot *s = alec_rx__em_find(rx, id, 1, em != NULL);
  if (s == NULL && em == NULL) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters without configuration remembered",
               rx->ems_unknown);
    return;
  }
  double prev_seen = s ? s->seen : 0;
  if (s) s->seen = m->received;
  /* A configured emitter without a record (the table full between two
   * prunes) is bounded by its configuration: not limited. */
  if (rx->rl_on && s && !alec_rl_allow(&rx->rl, &s->rl, m->received)) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_RATE, m, id, "above RateLimit %g frames/s (burst %g)", rx->cfg->rate_limit,
               rx->cfg->rate_burst);
    return;
  }
  /* The families share one context per emitter: a single-value frame for
   * source k would move the predictor of fixed channel k-1. An emitter
   * speaks one family (a configured Format enforces it above). */
  if (s && s->family && s->family != (uint8_t)fmt) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_FORMAT, m, id, "%s frame from an emitter that sends %s frames (family switch)",
               alec_format_name(fmt), alec_format_name((alec_format)s->family));
    return;
  }
  if (separate(rx, m, id, em, s, how) != 0) return;
  alec_rx__apply_group(rx, em, s, id, m->group);
  alec_fleet_value vals[ALEC_FLEET_MAX_VALUES];
  alec_frame_info info;
  memset(&info, 0, sizeof info);
  double t = alec_rx__data_time(rx, s, prev_seen, m, frame, len);
  alec_rx__score_due(rx, s, m, t, 1);
  pthread_mutex_lock(&rx->fleet_lock);
  uint32_t hint0 = 0, *hint = s ? &s->fleet_hint : &hint0;
  double period = 0;
  int n = alec_fleet_process_hint(rx->fleet, hint, id, fmt, channels, frame, len, t, vals, ALEC_FLEET_MAX_VALUES,
                                  &info, &period);
  pthread_mutex_unlock(&rx->fleet_lock);
  alec_rx__score_due(rx, s, m, t, 0);
  if (n < 0) {
    if (n == ALEC_ENOSPC)
      alec_rx__reject_msg(rx, ALEC_RX_REJ_MAX_EMITTERS, m, id, "%zu emitters known", rx->cfg->max_emitters);
    else if (n == ALEC_EREPLAY)
      alec_rx__reject_msg(rx, ALEC_RX_REJ_STALE, m, id, "%s frame: sequence already seen or behind the last one",
                 alec_format_name(fmt));
    else
      alec_rx__reject_msg(rx, ALEC_RX_REJ_DECODE, m, id, "%s frame of %zu bytes: %s", alec_format_name(fmt), len,
                 alec_strerror(n));
    /* A frame that needs prediction state we do not have (restart without
     * state, lost keyframe) is cured by a keyframe; a replay is not. */
    if (n != ALEC_ENOSPC && n != ALEC_EREPLAY) alec_rx__resync_note(rx, m, s, id, bare);
    return;
  }
  if (s) s->family = (uint8_t)fmt;
  if (info.gap > 0 || info.n_unreliable > 0) alec_rx__resync_note(rx, m, s, id, bare);
  if (n > ALEC_FLEET_MAX_VALUES) n = ALEC_FLEET_MAX_VALUES;
  if (em == NULL) n = admit_channels(rx, m, id, s, vals, n, how);
  alec_rx__deliver(rx, id, em, m, s, vals, n, &info, period);
}

/* 1 when the datagram may be processed (*r then reads its records). */
static int sec_admit(alec_rx *rx, const alec_rx_msg *m, alec_envelope_reader *r, int *was_signed_out) {
  int code, was_signed;
  uint64_t who;
  uint16_t key_id;
  alec_sec_verdict v =
      alec_sec_open(&rx->sec, rx->cfg, m->security, m->data, m->len, r, &code, &who, &was_signed, &key_id);
  unsigned first = m->len ? m->data[0] : 0;
  *was_signed_out = was_signed;
  switch (v) {
  case ALEC_SEC_OK: return 1;
  case ALEC_SEC_MALFORMED:
  case ALEC_SEC_VERSION:
    alec_rx__reject_msg(rx, v == ALEC_SEC_VERSION ? ALEC_RX_REJ_VERSION : ALEC_RX_REJ_MALFORMED, m, UINT64_MAX,
               "%zu bytes, first byte 0x%02x: %s", m->len, first, alec_strerror(code));
    break;
  case ALEC_SEC_UNSIGNED:
    alec_rx__reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, who, "unsigned datagram of %zu bytes, the emitter or the socket requires signing",
               m->len);
    break;
  case ALEC_SEC_UNKNOWN_KEY:
    alec_rx__reject_msg(rx, ALEC_RX_REJ_UNKNOWN_KEY, m, UINT64_MAX, "key id %u is not in the AuthFile%s", key_id,
               rx->sec.path ? "" : " (no AuthFile configured)");
    break;
  case ALEC_SEC_BAD_SIGNATURE:
    alec_rx__reject_msg(rx, ALEC_RX_REJ_BAD_SIGNATURE, m, UINT64_MAX, "%zu bytes signed with key id %u: the tag does not verify",
               m->len, key_id);
    break;
  case ALEC_SEC_REPLAY:
    alec_rx__reject_msg(rx, ALEC_RX_REJ_REPLAY, m, UINT64_MAX, "key id %u: counter already seen or older than the replay window",
               key_id);
    break;
  case ALEC_SEC_NOT_ALLOWED:
    alec_rx__reject_msg(rx, ALEC_RX_REJ_NOT_ALLOWED, m, who, "key id %u may not sign for this emitter", key_id);
    break;
  }
  return 0;
}

void alec_rx__process_datagram(alec_rx *rx, const alec_rx_msg *m) {
  const alec_pc_emitter *bare = alec_pc_find_source(rx->cfg, (const struct sockaddr *)&m->from, m->from_len);
  if (bare) {
    if (alec_sec_level(bare, m->security) == ALEC_PC_SEC_SIGN) {
      alec_rx__reject_msg(rx, ALEC_RX_REJ_UNAUTH, m, bare->id, "bare frame from its Source on a SecurityLevel Sign socket");
      return;
    }
    process_record(rx, m, bare->id, bare, bare->format, bare->channels, m->data, m->len, 1, REC_UNSIGNED);
    return;
  }
  /* Authenticated and validated as a whole first: a forged, replayed or
   * damaged datagram is refused entirely, before any emitter sees it. */
  alec_envelope_reader r;
  alec_envelope_record rec;
  int was_signed = 0;
  if (!sec_admit(rx, m, &r, &was_signed)) return;
  while (alec_envelope_next(&r, &rec) > 0)
    process_record(rx, m, rec.emitter, alec_rx__find(rx, rec.emitter), rec.format, rec.channels,
                   rec.frame, rec.frame_len, 0, was_signed ? REC_SIGNED : REC_UNSIGNED);
}

/* A payload of an emitter the transport identified: the family and channel
 * count come from the configured emitter or the transport's profile. */
void alec_rx__process_payload(alec_rx *rx, const alec_rx_msg *m) {
  const alec_pc_emitter *em = alec_rx__find(rx, m->emitter);
  const alec_pc_profile *prof = m->profile ? m->profile : em ? em->prof : NULL;
  if (prof && prof->fallback == ALEC_PC_FALLBACK_MILESIGHT_TLV) {
    alec_rx__process_fallback(rx, m, em, prof);
    return;
  }
  alec_format fmt = em && em->format ? em->format : m->format ? (alec_format)m->format : ALEC_FORMAT_FIXED;
  unsigned channels = em && em->channels ? em->channels : m->channels;
  if (fmt == ALEC_FORMAT_FIXED && channels == 0) {
    alec_rx__reject_msg(rx, ALEC_RX_REJ_FORMAT, m, m->emitter, "fixed frames need a channel count (Channels)");
    return;
  }
  process_record(rx, m, m->emitter, em, fmt, channels, m->data, m->len, 1, REC_TRANSPORT);
}

/* ---- evaluation ---------------------------------------------------------------- */

static void on_fleet_event(const alec_fleet_event *ev, void *arg) {
  alec_rx *rx = arg;
  rx->notifications++;
  if (rx->sink.fleet_event) rx->sink.fleet_event(rx->sink.arg, ev);
}

static void sec_reload(alec_rx *rx) {
  char msg[512];
  int rc = alec_sec_maybe_reload(&rx->sec, now_mono(), msg, sizeof msg);
  if (rc > 0) alec_rx_log(rx, ALEC_RX_LOG_INFO, "AuthFile %s", msg);
  else if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "AuthFile %s", msg);
}


typedef struct {
  alec_rx *rx;
  size_t failed; /* one line in the log per reload, not one per emitter */
  uint64_t first_id;
  int first_rc;
  char first_group[ALEC_PC_GROUP_LEN];
} ef_groups;

static void ef_group(void *arg, uint64_t id, const char *group) {
  ef_groups *g = arg;
  alec_rx *rx = g->rx;
  int rc = group[0] ? alec_fleet_set_emitter_group(rx->fleet, id, group) : alec_fleet_clear_emitter_group(rx->fleet, id);
  if (rc != 0 && !(rc == ALEC_ENOTFOUND && group[0] == '\0') && g->failed++ == 0) {
    g->first_id = id;
    g->first_rc = rc;
    snprintf(g->first_group, sizeof g->first_group, "%s", group);
  }
  /* A group from metadata applies again once the file gives none. */
  em_slot *s = alec_rx__em_find(rx, id, 0, 0);
  if (s) s->group = 0;
}

static void ef_reload(alec_rx *rx) {
  char msg[1024];
  alec_pc_emitter *fresh;
  size_t n;
  int rc = alec_ef_check(&rx->ef, rx->cfg, now_mono(), &fresh, &n, msg, sizeof msg);
  if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "EmitterFile %s", msg);
  if (rc <= 0) return;
  ef_groups g = {.rx = rx};
  pthread_mutex_lock(&rx->fleet_lock);
  alec_ef_swap(&rx->ef, fresh, n, ef_group, &g);
  pthread_mutex_unlock(&rx->fleet_lock);
  alec_rx_log(rx, ALEC_RX_LOG_INFO, "EmitterFile %s", msg);
  if (g.failed)
    alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                "EmitterFile: the fleet refused %zu group changes (first: emitter %" PRIu64 ", group \"%s\": %s); "
                "MaxGroups or MaxEmitters may be too small",
                g.failed, g.first_id, g.first_group, alec_strerror(g.first_rc));
}

/* Under fleet_lock. */
static void eval_clock_set(alec_rx *rx, double now) {
  rx->eval_clock = now;
  rx->eval_wall = now_real();
}

double alec_rx_fleet_time(alec_rx *rx, double wall) {
  pthread_mutex_lock(&rx->fleet_lock);
  double t = wall;
  if (rx->eval_wall > 0) {
    t = rx->eval_clock;
    if (wall > rx->eval_wall) t += wall - rx->eval_wall;
  }
  pthread_mutex_unlock(&rx->fleet_lock);
  return t;
}

/* Scoring after every batch: the fleet's evaluation costs what arrived
 * (pending channels, baselines due), so an emitter's dwell counts its own
 * reports whatever EvaluationInterval is. */
void alec_rx_score(alec_rx *rx, double now) {
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_evaluate(rx->fleet, now, on_fleet_event, rx);
  rx->score_gen++;
  eval_clock_set(rx, now);
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "fleet evaluation failed: %s", alec_strerror(rc));
}

void alec_rx_evaluate(alec_rx *rx, double now) {
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_evaluate(rx->fleet, now, on_fleet_event, rx);
  rx->score_gen++;
  eval_clock_set(rx, now);
  if (now >= rx->next_stale) {
    /* Alerts of a removed emitter are resolved, or they fire forever. */
    alec_fleet_remove_stale_notify(rx->fleet, now, on_fleet_event, rx);
    /* Removal is at 2 x EmitterTimeout: checking an eighth of that apart is
     * plenty, and a week-long replay does not scan every emitter per second. */
    double every = rx->cfg->emitter_timeout / 8;
    rx->next_stale = now + (every > STALE_CHECK ? every : STALE_CHECK);
  }
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc < 0) alec_rx_log(rx, ALEC_RX_LOG_ERROR, "fleet evaluation failed: %s", alec_strerror(rc));
  if (rx->sink.tick) rx->sink.tick(rx->sink.arg, now);
  if (now >= rx->next_prune) {
    alec_rx__em_prune(rx, now);
    rx->next_prune = now + PRUNE_INTERVAL;
  }
}

/* Housekeeping that has its own clock, not the evaluations': a long
 * EvaluationInterval must not stop state saves or key reloads. */
static void housekeeping(alec_rx *rx) {
  log_ingress_drops(rx);
  sec_reload(rx); /* at most one stat() a second */
  ef_reload(rx);  /* the same */
  /* Dashboard snapshots refresh by their own interval too (the sink checks
   * whether one is due), in the evaluations' clock: a backlog days old is
   * shown as the fleet saw it, not as stale beside the wall's time. */
  if (rx->sink.tick) {
    double c = alec_rx_clock(rx, now_real());
    rx->sink.tick(rx->sink.arg, c > 0 ? c : now_real());
  }
  double mono = now_mono();
  if (rx->state_ready && rx->cfg->state_interval > 0 && mono >= rx->next_state_save) {
    rx->next_state_save = mono + rx->cfg->state_interval;
    alec_rx__state_save(rx, 0);
  }
}

static void timespec_add(struct timespec *t, double s) {
  double whole = floor(s);
  t->tv_sec += (time_t)whole;
  t->tv_nsec += (long)((s - whole) * 1e9);
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

static int ts_before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *dispatch_main(void *arg) {
  alec_rx *rx = arg;
  /* Housekeeping at least once a second, evaluations every interval. */
  double tick = rx->interval < 1.0 ? rx->interval : 1.0;
  struct timespec next_eval, next_tick, now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  next_eval = next_tick = now;
  timespec_add(&next_eval, rx->interval);
  timespec_add(&next_tick, tick);
  alec_rx__replay_spool(rx);
  while (!atomic_load(&rx->stop)) {
    const struct timespec *deadline = ts_before(&next_tick, &next_eval) ? &next_tick : &next_eval;
    alec_rx_msg *m = alec_rxq_take(&rx->queue, deadline);
    int got = m != NULL;
    int deferred = 0;
    /* One lock per batch: alec_rx_hold waits for at most the batch. */
    pthread_mutex_lock(&rx->hold_lock);
    while (m) {
      alec_rx_msg *next = m->next;
      deferred |= m->done != NULL;
      alec_rx__dispatch_one(rx, m);
      m = next;
    }
    pthread_mutex_unlock(&rx->hold_lock);
    /* While messages flow the fleet runs in their data time, so that a
     * backlog (a busy machine, a broker's queue after a restart) is scored
     * as the live stream was; when nothing arrives, its clock runs on with
     * the wall's, for stale scans. Before any data (and state), nothing to
     * evaluate. */
    double fleet_now = alec_rx_clock(rx, got ? NAN : now_real());
    if (got && fleet_now > 0) alec_rx_score(rx, fleet_now);
    if (deferred && rx->sink.mark) alec_rx__wait_written(rx);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, &next_tick)) {
      housekeeping(rx);
      next_tick = now;
      timespec_add(&next_tick, tick);
    }
    if (!ts_before(&now, &next_eval)) {
      if (fleet_now > 0) alec_rx_evaluate(rx, fleet_now);
      else if (rx->sink.tick) rx->sink.tick(rx->sink.arg, now_real());
      timespec_add(&next_eval, rx->interval);
      /* Fell behind by more than one interval: do not run a burst of
       * evaluations to catch up, each sees the same data. */
      if (ts_before(&next_eval, &now)) {
        next_eval = now;
        timespec_add(&next_eval, rx->interval);
      }
    }
  }
  return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

static int build_fleet(alec_rx *rx) {
  const alec_plugin_config *cfg = rx->cfg;
  alec_fleet_config fc;
  alec_fleet_config_init(&fc);
  const alec_pc_fleet *f = &cfg->fleet;
  /* The receiver admits at most MaxEmitters unconfigured emitters; the
   * configured ones (blocks, EmitterFile) have room of their own beside
   * them, in its table and here, so a flood of new ids never refuses a
   * configured emitter that has not reported yet. */
  uint64_t fmax = 2 * (uint64_t)cfg->max_emitters;
  fc.max_emitters = (uint32_t)(fmax < ALEC_FLEET_MAX_EMITTERS_LIMIT ? fmax : ALEC_FLEET_MAX_EMITTERS_LIMIT);
  fc.emitter_timeout = cfg->emitter_timeout;
  /* Fixed frames carry up to 64 channels; single and multi use their ids. */
  fc.max_channels = ALEC_FIXED_MAX_CHANNELS;
  size_t groups = 1;
  for (size_t i = 0; i < cfg->n_emitters; i++) groups += cfg->emitters[i].group[0] != '\0';
  for (size_t i = 0; i < rx->ef.n; i++) groups += rx->ef.ems[i].group[0] != '\0';
  groups += cfg->max_groups; /* groups from network-server metadata */
  fc.max_groups = (uint32_t)(groups < 64 ? 64 : groups > ALEC_FLEET_MAX_GROUPS_LIMIT ? ALEC_FLEET_MAX_GROUPS_LIMIT
                                                                                      : groups);
  if (f->set & ALEC_PC_F_THRESHOLD) fc.z_enter = f->threshold;
  if (f->set & ALEC_PC_F_EXIT_THRESHOLD) fc.z_exit = f->exit_threshold;
  if (f->set & ALEC_PC_F_FAILURE_THRESHOLD) fc.z_failure = f->failure_threshold;
  if (f->set & ALEC_PC_F_ENTER_COUNT) fc.enter_count = f->enter_count;
  if (f->set & ALEC_PC_F_EXIT_COUNT) fc.exit_count = f->exit_count;
  if (f->set & ALEC_PC_F_MIN_PEERS) fc.min_peers = f->min_peers;
  if (f->set & ALEC_PC_F_SYNC_INTERVAL) fc.sync_interval = f->sync_interval;
  if (f->set & ALEC_PC_F_MAD_FLOOR) fc.mad_floor = f->mad_floor;
  if (f->set & ALEC_PC_F_STALE_PERIODS) fc.stale_periods = f->stale_periods;
  if (f->set & ALEC_PC_F_SILENT_FRACTION) fc.silent_fraction = f->silent_fraction;
  if (f->set & ALEC_PC_F_SHIFT_ALPHA) fc.shift_alpha = f->shift_alpha;
  if (cfg->scale) fc.decoder.ctx.scale = cfg->scale;
  char err[256];
  if (alec_fleet_config_validate(&fc, err, sizeof err) != 0) {
    /* The fleet names its own fields; say which of ours they are. */
    alec_rx_log(rx, ALEC_RX_LOG_ERROR,
                "<Fleet> (Threshold=z_enter, ExitThreshold=z_exit, FailureThreshold=z_failure, EnterCount, "
                "ExitCount, MinPeers, MADFloor, SyncInterval, StalePeriods, SilentFraction, ShiftAlpha; MaxEmitters, "
                "EmitterTimeout, Scale): %s",
                err);
    return -1;
  }
  int rc = alec_fleet_new(&rx->fleet, &fc);
  if (rc != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "cannot create the fleet: %s", alec_strerror(rc));
    return -1;
  }
  /* The receiver keeps unknown unsigned emitters apart; configured ones
   * are where the operator put them: say so when a group mixes levels. */
  const char *checked[64]; /* each group scanned once; a startup check, not a bound */
  size_t n_checked = 0;
  for (size_t i = 0; i < cfg->n_emitters && n_checked < 64; i++) {
    const alec_pc_emitter *a = &cfg->emitters[i];
    if (a->security != ALEC_PC_SEC_SIGN) continue;
    int seen = 0;
    for (size_t k = 0; k < n_checked; k++) seen |= strcmp(checked[k], a->group) == 0;
    if (seen) continue;
    checked[n_checked++] = a->group;
    for (size_t j = 0; j < cfg->n_emitters; j++) {
      const alec_pc_emitter *b = &cfg->emitters[j];
      if (b->security == ALEC_PC_SEC_SIGN || strcmp(a->group, b->group) != 0) continue;
      alec_rx_log(rx, ALEC_RX_LOG_WARNING,
                  "group \"%s\": <Emitter %" PRIu64 "> (SecurityLevel Sign) is compared with <Emitter %" PRIu64
                  ">, whose frames need no signature",
                  a->group, a->id, b->id);
      break;
    }
  }
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    const alec_pc_emitter *em = &cfg->emitters[i];
    if (em->group[0] == '\0') continue;
    rc = alec_fleet_set_emitter_group(rx->fleet, em->id, em->group);
    if (rc != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `Group' \"%s\" in <Emitter %" PRIu64 ">: %s", em->group, em->id,
                  alec_strerror(rc));
      return -1;
    }
  }
  for (size_t i = 0; i < rx->ef.n; i++) {
    const alec_pc_emitter *em = &rx->ef.ems[i];
    if (em->group[0] == '\0') continue;
    rc = alec_fleet_set_emitter_group(rx->fleet, em->id, em->group);
    if (rc != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `EmitterFile': group \"%s\" of emitter %" PRIu64 ": %s", em->group,
                  em->id, alec_strerror(rc));
      return -1;
    }
  }
  return 0;
}

static int sec_start(alec_rx *rx) {
  char err[512], warn[512];
  int rc = alec_sec_init_mode(&rx->sec, rx->cfg->auth_file, !rx->cfg->auth_lax_modes, err, sizeof err, warn,
                              sizeof warn);
  if (rc != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `AuthFile': %s", err);
    return -1;
  }
  if (warn[0]) alec_rx_log(rx, ALEC_RX_LOG_WARNING, "option `AuthFile': %s", warn);
  if (rx->sec.keys) alec_rx_log(rx, ALEC_RX_LOG_INFO, "%zu keys loaded from %s", rx->sec.keys->n, rx->sec.path);
  if (rx->cfg->rate_limit > 0) {
    rc = alec_rl_init(&rx->rl, rx->cfg->rate_limit, rx->cfg->rate_burst);
    rx->rl_on = rc == 0;
    if (rc != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `RateLimit': %s", alec_strerror(rc));
      return -1;
    }
  }
  return 0;
}

int alec_rx_new(alec_rx **out, const alec_plugin_config *cfg, const alec_rx_sink *sink) {
  *out = NULL;
  alec_rx *rx = calloc(1, sizeof(*rx));
  if (rx == NULL) return -1;
  rx->cfg = cfg;
  rx->sink = *sink;
  rx->score_gen = 1; /* a new slot (fed 0) was not fed since the last scoring */
  pthread_mutex_init(&rx->fleet_lock, NULL);
  pthread_mutex_init(&rx->log_lock, NULL);
  pthread_mutex_init(&rx->host_lock, NULL);
  pthread_mutex_init(&rx->ack_lock, NULL);
  pthread_cond_init(&rx->ack_cond, NULL);
  pthread_mutex_init(&rx->hold_lock, NULL);
  rx->held_tail = &rx->held;
  rx->interval = (cfg->fleet.set & ALEC_PC_F_EVALUATION_INTERVAL) ? cfg->fleet.evaluation_interval : 0.1;
  {
    char err[1024], info[1024];
    if (alec_ef_init(&rx->ef, cfg, err, sizeof err, info, sizeof info) != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `EmitterFile': %s", err);
      goto fail;
    }
    if (info[0]) alec_rx_log(rx, ALEC_RX_LOG_INFO, "EmitterFile %s", info);
  }
  if (build_fleet(rx) != 0) goto fail;
  /* Keys first: the state file restores their replay counters. */
  if (sec_start(rx) != 0) goto fail;
  alec_rx__state_restore(rx);
  rx->spool_on = cfg->state_file[0] && cfg->spool_limit > 0 && sink->mark != NULL;
  rx->unwind = 1;
  if (cfg->resync_requests) {
    if (alec_rs_init(&rx->rs, cfg->resync_interval) != 0) {
      alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `ResyncInterval' %g: invalid", cfg->resync_interval);
      goto fail;
    }
  }
  /* MaxEmitters unknown and up to MaxEmitters configured emitters at a
   * load of 3/4 at most (probe chains stay short). */
  size_t slots = 64;
  while (slots / 4 * 3 < 2 * cfg->max_emitters) slots <<= 1;
  rx->ems = calloc(slots, sizeof(*rx->ems));
  if (rx->ems == NULL) goto fail;
  rx->ems_mask = slots - 1;
  rx->ems_limit = slots / 4 * 3;
  rx->next_prune = now_real() + PRUNE_INTERVAL;
  rx->id_tokens = cfg->max_new_identifiers;
  if (cfg->unknown_defaulted)
    alec_rx_log(rx, ALEC_RX_LOG_NOTICE, "a Listen address is not loopback: frames of emitters without <Emitter> "
                                        "block are refused (set UnknownEmitters \"accept\" to take them)");
  /* Queue memory: QueueLength messages of at most a UDP payload each. */
  if (alec_rxq_init(&rx->queue, cfg->queue_length, cfg->queue_length * 1472) != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "option `QueueLength' %zu: cannot allocate the queue", cfg->queue_length);
    goto fail;
  }
  *out = rx;
  return 0;
fail:
  alec_rx_free(rx);
  return -1;
}

int alec_rx_start(alec_rx *rx, alec_rx_spawn_fn spawn) {
  atomic_store(&rx->stop, 0);
  if (spawn(&rx->thread, dispatch_main, rx, "alec dispatch") != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "cannot start the dispatch thread");
    return -1;
  }
  rx->started = 1;
  return 0;
}

void alec_rx_stop(alec_rx *rx) {
  if (rx == NULL) return;
  atomic_store(&rx->stop, 1);
  pthread_mutex_lock(&rx->ack_lock);
  pthread_cond_broadcast(&rx->ack_cond);
  pthread_mutex_unlock(&rx->ack_lock);
  if (rx->queue.ready) alec_rxq_interrupt(&rx->queue);
  alec_rx_msg *queued = NULL;
  if (rx->started) {
    pthread_join(rx->thread, NULL);
    rx->started = 0;
    rx->unwind = 1;
    /* What was queued before the transports stopped is still decoded: a
     * frame accepted is a frame stored (QoS 1 acknowledged it). */
    alec_rx_msg *m = alec_rxq_take_now(&rx->queue), **qtail = &queued;
    while (m) {
      alec_rx_msg *next = m->next;
      if (rx->spool_on && alec_spool_accepts(rx->cfg, m)) {
        /* Acknowledged on receipt, never decoded: into the state file,
         * decoded at the next start. */
        m->next = NULL;
        *qtail = m;
        qtail = &m->next;
        m = next;
        continue;
      }
      /* An at-least-once message is not decoded now that nothing can store
       * its values: unacknowledged, its broker delivers it again. */
      if (m->done == NULL || rx->sink.mark == NULL) alec_rx_process(rx, m);
      free(m);
      m = next;
    }
  }
  /* Also without the thread (alec_rx_process on the caller's thread). */
  if (rx->unwind) {
    rx->unwind = 0;
    alec_rx_msg **tail = &rx->spool;
    while (*tail) tail = &(*tail)->next;
    alec_rx__undo_unwritten(rx, tail);
    while (*tail) tail = &(*tail)->next;
    /* Set aside after the writers went, then what was still queued. */
    *tail = rx->held;
    rx->held = NULL;
    rx->held_tail = &rx->held;
    while (*tail) tail = &(*tail)->next;
    *tail = queued;
  }
  if (rx->replay) {
    /* Restored but never processed (the dispatch thread never ran): still
     * the oldest. */
    alec_rx_msg **tail = &rx->replay;
    while (*tail) tail = &(*tail)->next;
    *tail = rx->spool;
    rx->spool = rx->replay;
    rx->replay = NULL;
  }
  /* Nothing decodes any more: the state is final. */
  if (rx->state_ready) alec_rx__state_save(rx, 1);
  rx->state_ready = 0;
}

void alec_rx_free(alec_rx *rx) {
  if (rx == NULL) return;
  alec_rx_stop(rx);
  alec_rxq_destroy(&rx->queue);
  alec_fleet_free(rx->fleet);
  if (rx->ems)
    for (size_t i = 0; i <= rx->ems_mask; i++) alec_rx__slot_free(&rx->ems[i]);
  free(rx->ems);
  free(rx->lags);
  alec_sec_free(&rx->sec);
  alec_ef_free(&rx->ef);
  pthread_mutex_destroy(&rx->fleet_lock);
  pthread_mutex_destroy(&rx->log_lock);
  pthread_mutex_destroy(&rx->host_lock);
  pthread_mutex_destroy(&rx->ack_lock);
  pthread_cond_destroy(&rx->ack_cond);
  pthread_mutex_destroy(&rx->hold_lock);
  for (size_t i = 0; i < rx->n_deferred; i++) {
    free(rx->deferred[i].undo);
    free(rx->deferred[i].keep);
  }
  free(rx->deferred);
  for (alec_rx_msg *l = rx->replay, *n; l; l = n) {
    n = l->next;
    free(l);
  }
  for (alec_rx_msg *l = rx->spool, *n; l; l = n) {
    n = l->next;
    free(l);
  }
  for (alec_rx_msg *l = rx->held, *n; l; l = n) {
    n = l->next;
    free(l);
  }
  free(rx);
}

alec_rxq *alec_rx_queue(alec_rx *rx) { return &rx->queue; }
alec_rx_ingress *alec_rx_ingress_counters(alec_rx *rx) { return &rx->ingress; }

void alec_rx_submit(alec_rx *rx, alec_rx_msg *const *msgs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_add_explicit(&rx->ingress.messages, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rx->ingress.bytes, msgs[i]->len, memory_order_relaxed);
  }
  size_t done = alec_rxq_push(&rx->queue, msgs, n);
  for (size_t i = done; i < n; i++) {
    free(msgs[i]);
    atomic_fetch_add_explicit(&rx->ingress.queue_drops, 1, memory_order_relaxed);
  }
}

void alec_rx_get_stats(alec_rx *rx, double now, alec_rx_stats *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&rx->fleet_lock);
  alec_fleet_get_stats(rx->fleet, now, &out->fleet);
  out->emitter_records = rx->ems_mask + 1;
  out->emitter_table_bytes = out->emitter_records * sizeof(em_slot);
  out->held_back = rx->held_back;
  out->unconvertible = rx->unconvertible;
  out->dispatched = rx->dispatched;
  out->notifications = rx->notifications;
  out->tlv_frames = rx->tlv_frames;
  out->fcnt_gaps = rx->fcnt_gaps;
  out->estimated = rx->estimated;
  out->ghosts_replayed = rx->ghosts_replayed;
  out->fcnt_resets = rx->fcnt_resets;
  out->reanchored = rx->reanchored;
  out->time_clamped[0] = rx->time_clamped[0];
  out->time_clamped[1] = rx->time_clamped[1];
  out->resync_sent = rx->rs_stats[0];
  out->resync_limited = rx->rs_stats[1];
  out->resync_failed = rx->rs_stats[2];
  out->spool_saved = rx->spool_saved;
  out->spool_restored = rx->spool_restored;
  out->spool_lost = atomic_load(&rx->spool_over) + rx->spool_unresolved;
  pthread_mutex_unlock(&rx->fleet_lock);
  for (int k = 0; k < ALEC_RX_REJ_COUNT; k++) out->rejected[k] = atomic_load(&rx->rejected[k]);
  out->rejected[ALEC_RX_REJ_OVERSIZED] += atomic_load(&rx->ingress.oversized);
  out->messages = atomic_load(&rx->ingress.messages);
  out->bytes = atomic_load(&rx->ingress.bytes);
  out->queue_drops = atomic_load(&rx->ingress.queue_drops);
  out->rejected[ALEC_RX_REJ_QUEUE] = out->queue_drops;
  out->queued = alec_rxq_count(&rx->queue);
  if (rx->sec.path) {
    out->has_auth = 1;
    out->auth_keys = atomic_load(&rx->sec.n_keys);
    out->auth_reloads = atomic_load(&rx->sec.reloads);
    out->auth_reload_errors = atomic_load(&rx->sec.reload_errors);
  }
  if (rx->ef.path) {
    out->has_emitter_file = 1;
    out->file_emitters = atomic_load(&rx->ef.n_emitters);
    out->emitter_file_reloads = atomic_load(&rx->ef.reloads);
    out->emitter_file_errors = atomic_load(&rx->ef.reload_errors);
  }
}

void alec_rx_with_fleet(alec_rx *rx, void (*fn)(void *arg, alec_fleet *fleet), void *arg) {
  pthread_mutex_lock(&rx->fleet_lock);
  fn(arg, rx->fleet);
  pthread_mutex_unlock(&rx->fleet_lock);
}
