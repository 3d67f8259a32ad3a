/* SPDX-License-Identifier: MIT */
/* The receiver's spool in the state file (spool.h). */

#include "spool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alec/error.h"
#include "alec/wire.h"
#include "nsmsg.h"

#define F_EMITTER 0x01u
#define F_EVENT_TIME 0x02u
#define F_FCNT 0x04u
#define F_RSSI 0x08u
#define F_SNR 0x10u
#define F_ALL 0x1Fu
#define ENTRY_FIXED 44u /* kind .. skip */

static const alec_pc_mqtt *block_of(const alec_plugin_config *cfg, const void *endpoint) {
  for (size_t i = 0; i < cfg->n_mqtt; i++)
    if (endpoint == (const void *)&cfg->mqtt[i]) return &cfg->mqtt[i];
  return NULL;
}

int alec_spool_accepts(const alec_plugin_config *cfg, const alec_rx_msg *m) {
  return m->done == NULL && m->len > 0 && m->len <= ALEC_SPOOL_MAX_PAYLOAD && block_of(cfg, m->endpoint) != NULL;
}

static size_t entry_size(const alec_rx_msg *m, const char *ep, const char *prof) {
  return ENTRY_FIXED + 4 + strlen(ep) + strlen(prof) + strlen(m->host) + strlen(m->group) + 4 + m->len;
}

static uint8_t *put_name(uint8_t *p, const char *s) {
  size_t n = strlen(s);
  *p++ = (uint8_t)n;
  memcpy(p, s, n);
  return p + n;
}

int alec_spool_encode(const alec_plugin_config *cfg, const alec_rx_msg *head, size_t limit, uint8_t **out,
                      size_t *len, alec_spool_counts *c) {
  memset(c, 0, sizeof *c);
  *out = NULL;
  *len = 0;
  size_t total = 5, n = 0;
  for (const alec_rx_msg *m = head; m; m = m->next) {
    const alec_pc_mqtt *b = block_of(cfg, m->endpoint);
    size_t es = b && alec_spool_accepts(cfg, m) ? entry_size(m, b->name, m->profile ? m->profile->name : "") : 0;
    if (es == 0 || n == limit || total + es > ALEC_SPOOL_MAX_BYTES) {
      c->over++;
      continue;
    }
    total += es;
    n++;
  }
  if (n == 0) return 0;
  uint8_t *buf = malloc(total), *p = buf;
  if (buf == NULL) {
    c->over += n;
    return ALEC_ENOMEM;
  }
  *p++ = ALEC_SPOOL_VERSION;
  alec_wr_be32(p, (uint32_t)n);
  p += 4;
  size_t k = 0;
  /* The same walk as above: the same messages pass. */
  size_t sum = 5;
  for (const alec_rx_msg *m = head; m && k < n; m = m->next) {
    const alec_pc_mqtt *b = block_of(cfg, m->endpoint);
    const char *prof = m->profile ? m->profile->name : "";
    size_t es = b && alec_spool_accepts(cfg, m) ? entry_size(m, b->name, prof) : 0;
    if (es == 0 || sum + es > ALEC_SPOOL_MAX_BYTES) continue;
    sum += es;
    p[0] = m->kind;
    p[1] = (uint8_t)((m->has_emitter ? F_EMITTER : 0) | (m->has_event_time ? F_EVENT_TIME : 0) |
                     (m->has_fcnt ? F_FCNT : 0) | (m->has_rssi ? F_RSSI : 0) | (m->has_snr ? F_SNR : 0));
    p[2] = m->format;
    p[3] = m->channels;
    alec_wr_be16(p + 4, (uint16_t)m->fport);
    alec_wr_be32(p + 6, m->fcnt);
    alec_wr_be64(p + 10, m->emitter);
    alec_wr_be64(p + 18, alec_f64_bits(m->received));
    alec_wr_be64(p + 26, alec_f64_bits(m->event_time));
    alec_wr_be32(p + 34, alec_f32_bits(m->rssi));
    alec_wr_be32(p + 38, alec_f32_bits(m->snr));
    alec_wr_be16(p + 42, m->skip);
    p += ENTRY_FIXED;
    p = put_name(p, b->name);
    p = put_name(p, prof);
    p = put_name(p, m->host);
    p = put_name(p, m->group);
    alec_wr_be32(p, (uint32_t)m->len);
    memcpy(p + 4, m->data, m->len);
    p += 4 + m->len;
    k++;
  }
  c->kept = n;
  *out = buf;
  *len = (size_t)(p - buf);
  return 0;
}

/* ---- reading ---------------------------------------------------------------------- */

typedef struct entry {
  const uint8_t *fixed;
  char endpoint[ALEC_PC_NAME_LEN], profile[ALEC_PC_NAME_LEN], host[ALEC_RX_NAME_LEN], group[ALEC_RX_GROUP_LEN];
  const uint8_t *data;
  size_t len;
} entry;

/* A name of at most cap - 1 bytes without NUL; host and group also as
 * alec_ns_safe_name would leave them (they become collectd identifiers and
 * the csv writer's directories). */
static int get_name(const uint8_t **p, const uint8_t *end, char *out, size_t cap, int safe) {
  if (end - *p < 1) return ALEC_ETRUNC;
  size_t n = **p;
  if ((size_t)(end - *p - 1) < n) return ALEC_ETRUNC;
  if (n >= cap || memchr(*p + 1, '\0', n)) return ALEC_ECORRUPT;
  memcpy(out, *p + 1, n);
  out[n] = '\0';
  *p += 1 + n;
  if (safe) {
    char s[ALEC_RX_NAME_LEN];
    alec_ns_safe_name(out, s, sizeof s);
    if (strcmp(s, out) != 0) return ALEC_ECORRUPT;
  }
  return 0;
}

static int next_entry(const uint8_t **pp, const uint8_t *end, entry *e) {
  const uint8_t *p = *pp;
  int rc;
  if ((size_t)(end - p) < ENTRY_FIXED) return ALEC_ETRUNC;
  e->fixed = p;
  uint8_t kind = p[0], flags = p[1];
  if (kind != ALEC_RX_DATAGRAM && kind != ALEC_RX_PAYLOAD) return ALEC_ECORRUPT;
  if ((flags & ~F_ALL) || (kind == ALEC_RX_PAYLOAD && !(flags & F_EMITTER))) return ALEC_ECORRUPT;
  if (p[2] > ALEC_FORMAT_FIXED) return ALEC_ECORRUPT;
  int16_t fport = (int16_t)alec_rd_be16(p + 4);
  if (fport < -1 || fport > 255) return ALEC_ECORRUPT;
  double received = alec_f64_from_bits(alec_rd_be64(p + 18));
  double event = alec_f64_from_bits(alec_rd_be64(p + 26));
  float rssi = alec_f32_from_bits(alec_rd_be32(p + 34)), snr = alec_f32_from_bits(alec_rd_be32(p + 38));
  if (!isfinite(received) || received <= 0 || !isfinite(event) || !isfinite(rssi) || !isfinite(snr))
    return ALEC_ECORRUPT;
  p += ENTRY_FIXED;
  if ((rc = get_name(&p, end, e->endpoint, sizeof e->endpoint, 0))) return rc;
  if (e->endpoint[0] == '\0') return ALEC_ECORRUPT;
  if ((rc = get_name(&p, end, e->profile, sizeof e->profile, 0))) return rc;
  if ((rc = get_name(&p, end, e->host, sizeof e->host, 1))) return rc;
  if ((rc = get_name(&p, end, e->group, sizeof e->group, 1))) return rc;
  if (end - p < 4) return ALEC_ETRUNC;
  uint32_t len = alec_rd_be32(p);
  p += 4;
  if (len == 0 || len > ALEC_SPOOL_MAX_PAYLOAD) return ALEC_ECORRUPT;
  if ((size_t)(end - p) < len) return ALEC_ETRUNC;
  e->data = p;
  e->len = len;
  *pp = p + len;
  return 0;
}

static int head_of(const uint8_t *buf, size_t len, uint32_t *n) {
  if (len < 5) return ALEC_ETRUNC;
  if (buf[0] != ALEC_SPOOL_VERSION) return ALEC_EVERSION;
  *n = alec_rd_be32(buf + 1);
  return 0;
}

int alec_spool_check(const uint8_t *buf, size_t len) {
  uint32_t n = 0;
  int rc = head_of(buf, len, &n);
  if (rc) return rc;
  const uint8_t *p = buf + 5, *end = buf + len;
  /* Every entry is read before the next: a count the bytes do not back
   * ends in ALEC_ETRUNC, it costs nothing. */
  entry e;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = next_entry(&p, end, &e))) return rc;
  return p == end ? 0 : ALEC_ECORRUPT;
}

static const alec_pc_mqtt *block_named(const alec_plugin_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_mqtt; i++)
    if (strcmp(cfg->mqtt[i].name, name) == 0) return &cfg->mqtt[i];
  return NULL;
}

static const alec_pc_profile *profile_named(const alec_plugin_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_profiles; i++)
    if (strcmp(cfg->profiles[i].name, name) == 0) return &cfg->profiles[i];
  return NULL;
}

int alec_spool_decode(const alec_plugin_config *cfg, const uint8_t *buf, size_t len, size_t limit,
                      alec_rx_msg **head, alec_spool_counts *c) {
  memset(c, 0, sizeof *c);
  *head = NULL;
  int rc = alec_spool_check(buf, len);
  if (rc) return rc;
  uint32_t n = 0;
  head_of(buf, len, &n);
  const uint8_t *p = buf + 5, *end = buf + len;
  alec_rx_msg *tail = NULL;
  entry e;
  for (uint32_t i = 0; i < n; i++) {
    next_entry(&p, end, &e);
    const alec_pc_mqtt *b = block_named(cfg, e.endpoint);
    const alec_pc_profile *prof = e.profile[0] ? profile_named(cfg, e.profile) : NULL;
    if (b == NULL || (e.profile[0] && prof == NULL)) {
      c->unresolved++;
      continue;
    }
    if (c->kept == limit) {
      c->over++;
      continue;
    }
    alec_rx_msg *m = alec_rx_msg_new(e.len);
    if (m == NULL) {
      while (*head) {
        alec_rx_msg *next = (*head)->next;
        free(*head);
        *head = next;
      }
      return ALEC_ENOMEM;
    }
    const uint8_t *f = e.fixed;
    m->kind = f[0];
    m->has_emitter = (f[1] & F_EMITTER) != 0;
    m->has_event_time = (f[1] & F_EVENT_TIME) != 0;
    m->has_fcnt = (f[1] & F_FCNT) != 0;
    m->has_rssi = (f[1] & F_RSSI) != 0;
    m->has_snr = (f[1] & F_SNR) != 0;
    /* The profile as configured now decides how the payload is read. */
    m->format = prof ? (uint8_t)prof->s.format : f[2];
    m->channels = prof ? (uint8_t)prof->s.channels : f[3];
    m->fport = (int16_t)alec_rd_be16(f + 4);
    m->fcnt = alec_rd_be32(f + 6);
    m->emitter = alec_rd_be64(f + 10);
    m->received = alec_f64_from_bits(alec_rd_be64(f + 18));
    m->event_time = alec_f64_from_bits(alec_rd_be64(f + 26));
    m->rssi = alec_f32_from_bits(alec_rd_be32(f + 34));
    m->snr = alec_f32_from_bits(alec_rd_be32(f + 38));
    m->skip = alec_rd_be16(f + 42);
    m->security = (uint8_t)b->security;
    m->endpoint = b;
    m->profile = prof;
    memcpy(m->host, e.host, sizeof m->host);
    memcpy(m->group, e.group, sizeof m->group);
    memcpy(m->data, e.data, e.len);
    if (tail) tail->next = m;
    else *head = m;
    tail = m;
    c->kept++;
  }
  return 0;
}
