/* SPDX-License-Identifier: MIT */
#ifndef ALEC_DOWNLINK_H
#define ALEC_DOWNLINK_H

/* Downlink datagrams (docs/ENVELOPE.md, "Downlink"): what a receiver sends
 * back to the address an envelope came from, to ask emitters for a keyframe
 * after a loss. A gateway forwards the datagram (or each record) to the
 * emitters it names; an emitter passes the command byte to
 * alec_encoder_downlink().
 *
 *   datagram = header(1) record+
 *   header   = 0x18: envelope version 1, flag D (downlink), no other flag
 *   record   = emitter(varint u64, minimal, as in envelopes) command(1)
 *
 * Command 0xFF (ALEC_DOWNLINK_KEYFRAME) is the reference's keyframe
 * request; other command values are reserved and ignored by emitters. An
 * emitter that receives bare frames (no envelope) gets the bare byte 0xFF
 * instead, exactly as the reference's downlink handler expects. */

#include <stddef.h>
#include <stdint.h>

#include "alec/envelope.h"

/* Bit 3 of the envelope header: this datagram travels receiver -> emitter.
 * Uplink readers refuse it (reserved bit), so a downlink can never be taken
 * for frames. */
#define ALEC_ENVELOPE_FLAG_DOWNLINK 0x08u
#define ALEC_DOWNLINK_HEADER ((ALEC_ENVELOPE_VERSION << 4) | ALEC_ENVELOPE_FLAG_DOWNLINK)
#define ALEC_DOWNLINK_RECORD_MAX (ALEC_EMITTER_VARINT_MAX + 1)

typedef struct alec_downlink_record {
  uint64_t emitter;
  uint8_t command; /* ALEC_DOWNLINK_KEYFRAME */
} alec_downlink_record;

/* Writes a downlink datagram of n >= 1 records into buf. Returns its length
 * or ALEC_EINVAL (n == 0), ALEC_EBUFSIZE (cap too small; at most
 * 1 + n * ALEC_DOWNLINK_RECORD_MAX bytes are needed). */
int alec_downlink_write(uint8_t *buf, size_t cap, const alec_downlink_record *recs, size_t n);

/* Parses a whole downlink datagram. Returns the number of records (>= 1) and
 * writes the first min(count, cap) to out, or an error without any record
 * being trustworthy: ALEC_ETRUNC (empty, record cut short), ALEC_EVERSION
 * (envelope version other than 1), ALEC_EINVAL (an uplink envelope: flag D
 * not set), ALEC_EAUTH (flag A: authenticated downlinks are reserved),
 * ALEC_EMALFORMED (other reserved flags, no record), ALEC_EVARINT (emitter
 * id not minimal or too long). */
int alec_downlink_read(const uint8_t *buf, size_t len, alec_downlink_record *out, size_t cap);

#endif
