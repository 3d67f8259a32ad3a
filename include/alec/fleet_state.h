/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FLEET_STATE_H
#define ALEC_FLEET_STATE_H

/* Fleet state for restarts without desynchronisation: every emitter's id,
 * peer group, last-seen time and decoder (context + sequence trackers,
 * alec_decoder_save). A receiver restored from it decodes the next frames of
 * each emitter exactly as if it had never stopped; fleet statistics and
 * anomaly detection restart from scratch.
 *
 * Format "ALFS" version 1, little-endian (docs/PROTOCOL.md, "State file"):
 *
 *   header  "ALFS" | format u32 = 1 | flags u32 = 0 | count u32 |
 *           saved_at f64 | crc32 u32 of the 24 bytes before it
 *   record  id u64 | last_seen f64 | group_len u8 (0..63) | group |
 *           state_len u32 | state (an "ALDX" decoder blob, own CRC)
 *           ... count records, most recently seen first
 *   trailer "ALFE" | crc32 u32 of every byte of the file before it
 *
 * CRC-32 is ISO-HDLC (zlib's). The reader streams: it never holds more than
 * one record, never allocates by a count or length it read beyond a bound
 * derived from the fleet's own configuration, and requires the end of the
 * input right after the trailer. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alec/fleet.h"

#define ALEC_FLEET_STATE_FORMAT 1u

typedef struct alec_fleet_state_info {
  size_t emitters;      /* saved / restored */
  size_t skipped;       /* load: refused by the filter or beyond max_emitters */
  size_t group_changes; /* load: the saved group is not the current assignment */
  double saved_at;      /* the `now` of the save */
  size_t bytes;         /* bytes written / read */
} alec_fleet_state_info;

/* Load filter: non-zero keeps the emitter. */
typedef int (*alec_fleet_state_filter)(void *arg, uint64_t emitter_id);

/* Serialises the state of every emitter into a buffer allocated with
 * malloc() (*out, *len; the caller frees it). 0, ALEC_EINVAL, ALEC_ENOMEM. */
int alec_fleet_state_save(alec_fleet *fleet, double now, uint8_t **out, size_t *len,
                          alec_fleet_state_info *info /* nullable */);

/* Restores emitters from a state stream (file) or buffer into a fleet that
 * has no emitter yet (ALEC_EINVAL otherwise). Group assignments are not
 * changed: they belong to the configuration (differences are counted).
 * Emitters beyond max_emitters are skipped (the least recently seen ones).
 * Returns 0, or ALEC_ECORRUPT (bad magic, checksum, structure, duplicate
 * id, trailing bytes), ALEC_ETRUNC (input ends early), ALEC_EVERSION
 * (another format version), ALEC_EIO (read error), ALEC_ENOMEM, or what
 * alec_decoder_load refuses a record with; on any error the fleet has no
 * emitter again. */
int alec_fleet_state_read(alec_fleet *fleet, FILE *in, double now, alec_fleet_state_filter filter,
                          void *arg, alec_fleet_state_info *info /* nullable */);
int alec_fleet_state_load(alec_fleet *fleet, const uint8_t *buf, size_t len, double now,
                          alec_fleet_state_filter filter, void *arg,
                          alec_fleet_state_info *info /* nullable */);

#endif
