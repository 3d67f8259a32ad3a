/* SPDX-License-Identifier: MIT */
/* Uplink event -> receiver message (nsmsg.h). */
#include "nsmsg.h"

#include <stdio.h>
#include <string.h>

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
  memcpy(m->data, u->data, u->data_len);
  *out = m;
  return 0;
}
