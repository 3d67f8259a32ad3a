/* SPDX-License-Identifier: MIT */
/* Uplink event -> receiver message (nsmsg.h). */
#include "nsmsg.h"

#include <stdio.h>
#include <string.h>

#include "alec/error.h"
#include "config.h"

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
  /* Host names become collectd identifiers, where '/' separates parts. */
  if (u->device_name[0] && strchr(u->device_name, '/') == NULL)
    snprintf(m->host, sizeof m->host, "%s", u->device_name);
  if (src->group_from && src->group_from[0] && alec_ns_group(u, src->group_from, m->group, sizeof m->group) != 1)
    m->group[0] = '\0';
  for (char *c = m->group; *c; c++)
    if (*c == '/') *c = '_';
  memcpy(m->data, u->data, u->data_len);
  *out = m;
  return 0;
}
