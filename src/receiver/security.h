/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_SECURITY_H
#define ALEC_PLUGIN_SECURITY_H

/* The plugin's gate in front of the fleet (docs/SECURITY.md): decides for
 * each received datagram, before any record reaches an emitter's state,
 * whether it may be processed: signature, key, replay window, the key's
 * emitter ids, and the SecurityLevel of the listening socket and of each
 * record's emitter. Also owns the key table and reloads the AuthFile when
 * it changes. Independent of collectd (tests/check_security.c); internal to
 * the plugin (alec_sec_ prefix). Used by the dispatch thread only, except
 * the counters, which the read callback may read at any time. */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "alec/auth.h"
#include "alec/envelope.h"
#include "config.h"

typedef enum alec_sec_verdict {
  ALEC_SEC_OK = 0,
  ALEC_SEC_MALFORMED,     /* envelope or trailer structure */
  ALEC_SEC_VERSION,       /* not an envelope of version 1 */
  ALEC_SEC_UNSIGNED,      /* unsigned, but a record's emitter or the socket requires Sign */
  ALEC_SEC_UNKNOWN_KEY,   /* signed with a key id the AuthFile does not have (or no AuthFile) */
  ALEC_SEC_BAD_SIGNATURE, /* the tag does not verify: forged or damaged */
  ALEC_SEC_REPLAY,        /* authentic, but its counter was seen or is too old */
  ALEC_SEC_NOT_ALLOWED    /* authentic, but the key may not sign for a record's emitter */
} alec_sec_verdict;

typedef struct alec_sec {
  alec_auth_table *keys; /* NULL: no AuthFile */
  char *path;            /* NULL: no AuthFile */
  /* What the file looked like when last examined (loaded or refused). */
  struct timespec mtime, ctime; /* ctime: a chmod or chown is a change too */
  ino_t ino;
  off_t size;
  int stat_errno;
  int strict; /* refuse files others may write (AuthFileStrictModes) */
  double next_check;
  _Atomic uint64_t reloads, reload_errors;
  _Atomic size_t n_keys;
  /* Replay windows of key ids that are not in the current table (removed
   * by a reload, or restored from the state file for a key not loaded):
   * a key that comes back gets its window back. Sorted by id. */
  struct alec_sec_memo *memo;
  size_t n_memo, cap_memo;
} alec_sec;

struct alec_ps_key;
/* Restores the highest counter accepted under key id before a restart:
 * every counter at or below it is then a replay. Kept for a key id that is
 * not loaded, until it is. */
void alec_sec_restore_counter(alec_sec *s, uint16_t id, uint64_t top);
/* The highest counter of every key id that accepted one (loaded or
 * remembered), sorted by id; at most cap. Returns the number written. */
size_t alec_sec_export_counters(const alec_sec *s, struct alec_ps_key *out, size_t cap);
/* How many alec_sec_export_counters may write. */
size_t alec_sec_counter_count(const alec_sec *s);

/* Loads the AuthFile if path is not NULL/empty. 0, or a negative code with
 * the reason in err. *warn (may be NULL) receives a warning to log, or ""
 * (a key file readable by group or others). */
int alec_sec_init(alec_sec *s, const char *path, char *err, size_t errlen, char *warn, size_t warnlen);
/* As alec_sec_init; strict (the default of alec_sec_init and of the
 * AuthFileStrictModes option) refuses, at start and at every reload, a key
 * file that group or others may write or that belongs to somebody other
 * than the daemon's user or root: whoever can write it can add a key. */
int alec_sec_init_mode(alec_sec *s, const char *path, int strict, char *err, size_t errlen, char *warn,
                       size_t warnlen);
void alec_sec_free(alec_sec *s);
/* The strict-mode check of AuthFileStrictModes, for any file that can
 * change what the receiver trusts (AuthFile, EmitterFile): 0, or ALEC_EAUTH
 * with the reason when group or others may write it, or it belongs to
 * somebody other than the daemon's user or root. */
struct stat;
int alec_sec_file_mode(const char *path, const struct stat *st, char *err, size_t errlen);

/* Called often from the dispatch thread with a monotonic time in seconds;
 * looks at the file at most once per second and reloads it when its mtime,
 * size or inode changed. The new table replaces the old one only when it
 * parsed completely (replay windows carried over); a broken or vanished
 * file keeps the old keys. Returns 1 (reloaded: err says how many keys),
 * 0 (nothing to do), or a negative code with the reason in err (reported
 * once per change of the file). */
int alec_sec_maybe_reload(alec_sec *s, double now, char *err, size_t errlen);

/* Security level of a record of emitter em (NULL: not configured) received
 * on a socket of level listen_level (ALEC_PC_SEC_NONE or _SIGN). */
int alec_sec_level(const alec_pc_emitter *em, int listen_level);

/* Decides about one envelope datagram. On ALEC_SEC_OK, *r is positioned on
 * the first record and every record is well formed, and, if the datagram
 * was signed, its counter is recorded in the key's replay window (*key_id
 * set, *signed_out = 1). On refusal nothing changed except the counters;
 * *code receives the libalec error and *emitter the record's emitter for
 * ALEC_SEC_UNSIGNED / ALEC_SEC_NOT_ALLOWED (else UINT64_MAX). */
alec_sec_verdict alec_sec_open(alec_sec *s, const alec_plugin_config *cfg, int listen_level, const uint8_t *buf,
                               size_t len, alec_envelope_reader *r, int *code, uint64_t *emitter, int *signed_out,
                               uint16_t *key_id);

#endif
