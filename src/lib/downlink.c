/* SPDX-License-Identifier: MIT */
/* Downlink datagrams (docs/ENVELOPE.md). Canonical encodings only, as for
 * uplink envelopes: a datagram has one reading, whoever parses it. */

#include "alec/downlink.h"

#include "alec/error.h"

int alec_downlink_write(uint8_t *buf, size_t cap, const alec_downlink_record *recs, size_t n) {
  if (n == 0 || recs == NULL || (buf == NULL && cap > 0)) return ALEC_EINVAL;
  size_t need = 1;
  for (size_t i = 0; i < n; i++) need += alec_uvarint64_size(recs[i].emitter) + 1;
  if (need > cap || need > (size_t)ALEC_ENVELOPE_MAX_DATAGRAM) return ALEC_EBUFSIZE;
  size_t off = 0;
  buf[off++] = (uint8_t)ALEC_DOWNLINK_HEADER;
  for (size_t i = 0; i < n; i++) {
    off += alec_uvarint64_encode(recs[i].emitter, buf + off);
    buf[off++] = recs[i].command;
  }
  return (int)off;
}

int alec_downlink_read(const uint8_t *buf, size_t len, alec_downlink_record *out, size_t cap) {
  if (cap > 0 && out == NULL) return ALEC_EINVAL;
  if (buf == NULL || len == 0) return ALEC_ETRUNC;
  if (len > (size_t)ALEC_ENVELOPE_MAX_DATAGRAM) return ALEC_ERANGE;
  unsigned h = buf[0];
  if ((h >> 4) != ALEC_ENVELOPE_VERSION) return ALEC_EVERSION;
  if (!(h & ALEC_ENVELOPE_FLAG_DOWNLINK)) return ALEC_EINVAL;
  if (h & ALEC_ENVELOPE_FLAG_AUTH) return ALEC_EAUTH;
  if (h != ALEC_DOWNLINK_HEADER) return ALEC_EMALFORMED;
  if (len == 1) return ALEC_EMALFORMED;
  /* Validate everything before handing out any record: a damaged datagram
   * must not trigger half of its requests. */
  size_t off = 1;
  int count = 0;
  while (off < len) {
    uint64_t id;
    int used = alec_uvarint64_decode(buf + off, len - off, &id);
    if (used < 0) return used;
    off += (size_t)used;
    if (off >= len) return ALEC_ETRUNC;
    off++;
    count++;
  }
  off = 1;
  for (int i = 0; i < count && (size_t)i < cap; i++) {
    uint64_t id = 0;
    int used = alec_uvarint64_decode(buf + off, len - off, &id);
    off += (size_t)used;
    out[i].emitter = id;
    out[i].command = buf[off++];
  }
  return count;
}
