/* SPDX-License-Identifier: MIT */
/* Uplink event -> receiver message (nsmsg.h). */
#include "nsmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/downlink.h"
#include "alec/error.h"
#include "config.h"

void alec_ns_safe_name(const char *in, char *out, size_t cap) {
  size_t i = 0;
  for (; in[i] && i + 1 < cap; i++) {
    char ch = in[i];
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
             ch == '-' || (ch == '.' && i > 0);
    out[i] = ok ? ch : '_';
  }
  if (cap) out[i] = '\0';
}

int alec_ns_to_msg(const alec_ns_source *src, const alec_ns_uplink *u, double received, alec_rx_msg **out) {
  *out = NULL;
  if (u->data_len == 0) return ALEC_NSMSG_NO_PAYLOAD;
  const alec_pc_profile *p = u->has_fport && src->profile ? src->profile(src->profile_arg, u->fport) : NULL;
  if (p == NULL) return ALEC_NSMSG_UNMAPPED_FPORT;
  alec_rx_msg *m = alec_rx_msg_new(u->data_len);
  if (m == NULL) return ALEC_ENOMEM;
  m->kind = ALEC_RX_PAYLOAD;
  m->security = (uint8_t)src->security;
  m->has_emitter = 1;
  m->emitter = u->dev_eui;
  m->profile = p;
  m->format = (uint8_t)p->s.format;
  m->channels = (uint8_t)p->s.channels;
  m->fport = (int16_t)u->fport;
  m->received = received;
  if (u->has_time) {
    m->has_event_time = 1;
    m->event_time = u->time;
  }
  if (u->has_fcnt) {
    m->has_fcnt = 1;
    m->fcnt = u->fcnt;
  }
  if (u->has_rssi) {
    m->has_rssi = 1;
    m->rssi = u->rssi;
  }
  if (u->has_snr) {
    m->has_snr = 1;
    m->snr = u->snr;
  }
  m->endpoint = src->endpoint;
  alec_ns_safe_name(u->device_name, m->host, sizeof m->host);
  if (src->group_from && src->group_from[0]) {
    char g[ALEC_RX_GROUP_LEN];
    if (alec_ns_group(u, src->group_from, g, sizeof g) == 1) alec_ns_safe_name(g, m->group, sizeof m->group);
  }
  if (src->reply_send) {
    alec_ns_where w;
    memset(&w, 0, sizeof w);
    w.dialect = src->dialect;
    w.fport = (uint8_t)u->fport;
    w.dev_eui = u->dev_eui;
    memcpy(w.application_id, u->application_id, sizeof w.application_id);
    memcpy(w.device_id, u->device_id, sizeof w.device_id);
    memcpy(w.tenant_id, u->tenant_id, sizeof w.tenant_id);
    m->reply.send = src->reply_send;
    m->reply.ctx = src->reply_ctx;
    m->reply.budget = src->reply_budget;
    m->reply.interval = src->reply_interval;
    m->reply.where_len = sizeof w;
    memcpy(m->reply.where, &w, sizeof w);
  }
  memcpy(m->data, u->data, u->data_len);
  *out = m;
  return 0;
}

int alec_ns_keyframe_downlink(const uint8_t *where, size_t where_len, int fport, char *topic, size_t topic_cap,
                              char *body, size_t body_cap) {
  if (where_len != sizeof(alec_ns_where)) return ALEC_EINVAL;
  alec_ns_where w;
  memcpy(&w, where, sizeof w);
  alec_ns_uplink *u = calloc(1, sizeof *u);
  if (u == NULL) return ALEC_ENOMEM;
  u->dev_eui = w.dev_eui;
  memcpy(u->application_id, w.application_id, sizeof u->application_id);
  memcpy(u->device_id, w.device_id, sizeof u->device_id);
  memcpy(u->tenant_id, w.tenant_id, sizeof u->tenant_id);
  uint8_t cmd = ALEC_DOWNLINK_KEYFRAME;
  int rc = alec_ns_format_downlink(w.dialect, u, (uint8_t)(fport > 0 ? fport : w.fport), &cmd, 1, topic, topic_cap,
                                   body, body_cap);
  free(u);
  return rc != 0 ? ALEC_EINVAL : 0;
}
