/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_STATE_H
#define ALEC_PLUGIN_STATE_H

/* The plugin's state file (`StateFile`, collectd-alec(5)): the fleet state
 * of alec/fleet_state.h written atomically (a temporary file in the same
 * directory, fsync, rename over the old file, fsync of the directory), so a
 * crash at any moment leaves either the old or the new state, never a mix.
 * Independent of collectd (tested by tests/check_state.c). */

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "alec/fleet_state.h"

/* Replaces `path` by `len` bytes of `buf`, atomically. 0, or ALEC_EIO with
 * a message naming the failed step in err. */
int alec_ps_write_atomic(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Serialises the fleet and writes it to path (alec_fleet_state_save +
 * alec_ps_write_atomic). */
int alec_ps_save(const char *path, alec_fleet *fleet, double now, alec_fleet_state_info *info, char *err,
                 size_t errlen);

/* Restores a fleet (without emitters) from path. Returns 0 when restored,
 * 1 when there is no state file yet, or a negative error with a message in
 * err (the fleet then has no emitter): ALEC_EIO (cannot open or read, not a
 * regular file) or what alec_fleet_state_read refuses the content with. */
int alec_ps_load(const char *path, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                 alec_fleet_state_info *info, char *err, size_t errlen);

/* The receiver's own section (format 2), written before the fleet state:
 *
 *   "ALRS" | format u32 = 2 | flags u32 = 0 | id_len u8 (0..128) | receiver id |
 *   n_keys u32 (0..65536) | n_keys x (key id u16 | highest counter u64) |
 *   crc32 u32 of every byte before it | the fleet state ("ALFS", fleet_state.h)
 *
 * Big-endian (include/alec/wire.h), key ids strictly increasing. A file of
 * format 1 is the bare fleet state (no receiver id, no counters): still
 * read.
 *
 * Format 3 is format 2 with the spool (spool.h) after the keys, inside the
 * checksum: ... n_keys x (...) | spool_len u32 (1..ALEC_SPOOL_MAX_BYTES) |
 * spool | crc32 | the fleet state. It is written only when there is a
 * spool, so a file without one stays readable by the format-2 reader. */
#define ALEC_PS_FORMAT 2u
#define ALEC_PS_FORMAT_SPOOL 3u
#define ALEC_PS_RECEIVER_MAX 128
#define ALEC_PS_MAX_KEYS 65536u
/* Flag 1 (formats 2 and 3): the legacy emitters' clock offsets follow the
 * keys, before the spool: n_lags u32 (1..ALEC_PS_MAX_LAGS) | n_lags x
 * (emitter id u64 | lag f64 as its bits), ids strictly increasing, lags
 * finite. Written only when there is one, so a file without stays readable
 * by a reader that knows no flag. */
#define ALEC_PS_F_LAGS 1u
#define ALEC_PS_MAX_LAGS (1u << 22)

typedef struct alec_ps_key {
  uint16_t id;
  uint64_t top; /* highest counter accepted under this key id */
} alec_ps_key;

/* A legacy emitter's least lag (receive time - frame timestamp), so that a
 * backlog after a restart keeps its data times (receiver.c, data time). */
typedef struct alec_ps_lag {
  uint64_t id;
  double lag;
} alec_ps_lag;

typedef struct alec_ps_meta {
  char receiver[ALEC_PS_RECEIVER_MAX + 1];
  alec_ps_key *keys; /* save: the caller's; load: malloc'ed, free() it */
  size_t n_keys;
  alec_ps_lag *lags; /* the same; save: sorted by id */
  size_t n_lags;
  /* The spool body (spool.h), structure checked at load; NULL / 0: none.
   * save: the caller's; load: malloc'ed, free() it. */
  uint8_t *spool;
  size_t spool_len;
  unsigned format; /* load: 1, 2 or 3 */
} alec_ps_meta;

/* Writes the receiver section of `m` followed by the fleet state, atomically. */
int alec_ps_save_rx(const char *path, const alec_ps_meta *m, const uint8_t *fleet_state, size_t len, char *err,
                    size_t errlen);

/* alec_ps_load that also reads the receiver section into *m (may be NULL).
 * A file of format 2 whose receiver id is not `receiver` (when not NULL) is
 * refused (ALEC_ECORRUPT, named in err). Any state file that is not owned
 * by the effective user, or that group or others may write, is refused
 * before its content is read (ALEC_EAUTH): somebody else could have chosen
 * the decoder state that our emitters' next frames are decoded against. */
int alec_ps_load_rx(const char *path, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                    const char *receiver, alec_ps_meta *m, alec_fleet_state_info *info, char *err, size_t errlen);

/* The reading part of alec_ps_load_rx, on a stream: 0, ALEC_ENOTFOUND
 * (another receiver's file: m->receiver names it), or what the section
 * (its spool included) or alec_fleet_state_read refuses it with; on error
 * m has no keys, no spool and the fleet no emitter. */
int alec_ps_read_rx(FILE *f, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                    const char *receiver, alec_ps_meta *m, alec_fleet_state_info *info);

/* Renames a refused state file to "<path>.refused" (replacing an older
 * one), so that the next save does not destroy what an operator may want
 * to inspect. 0 or ALEC_EIO. */
int alec_ps_set_aside(const char *path, char *err, size_t errlen);

#endif
