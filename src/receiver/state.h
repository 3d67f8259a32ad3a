/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_STATE_H
#define ALEC_PLUGIN_STATE_H

/* The plugin's state file (`StateFile`, collectd-alec(5)): the fleet state
 * of alec/fleet_state.h written atomically (a temporary file in the same
 * directory, fsync, rename over the old file, fsync of the directory), so a
 * crash at any moment leaves either the old or the new state, never a mix.
 * Independent of collectd (tested by tests/check_state.c). */

#include <stddef.h>
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

/* Renames a refused state file to "<path>.refused" (replacing an older
 * one), so that the next save does not destroy what an operator may want
 * to inspect. 0 or ALEC_EIO. */
int alec_ps_set_aside(const char *path, char *err, size_t errlen);

#endif
