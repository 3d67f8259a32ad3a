/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_EMFILE_H
#define ALEC_RECEIVER_EMFILE_H

/* EmitterFile (collectd-alec(5)): a registry of emitters, one line each,
 *
 *   # id       host              group      profile
 *   0x1001     "boiler room 1"   boilers    th-sensor
 *   42         -                 -          -
 *
 * fields separated by blanks, `#' starts a comment outside quotes, a field
 * in double quotes may hold blanks and `#' (\" and \\ inside quotes), `-'
 * (unquoted) or a missing trailing field is the default: host
 * "alec-<16 hex>", the profile's group (else none), no profile. Each line is
 * checked as an <Emitter> block with Host, Group and Profile would be; an
 * id that also has an <Emitter> block keeps the block. The receiver reloads
 * the file when it changes (as the AuthFile), swapping the registry on its
 * dispatch thread. Internal (alec_ef_ prefix). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"

#define ALEC_EF_LINE_MAX 4096
#define ALEC_EF_FILE_MAX (256 * 1024 * 1024)

typedef struct alec_ef {
  char *path; /* NULL: no EmitterFile */
  int strict; /* refuse files others may write (AuthFileStrictModes) */
  /* What the file looked like when last examined (loaded or refused). */
  struct timespec mtime, ctime;
  ino_t ino;
  off_t size;
  int stat_errno;
  double next_check;
  alec_pc_emitter *ems; /* sorted by id, without the ids of <Emitter> blocks */
  size_t n;
  _Atomic uint64_t reloads, reload_errors;
  _Atomic size_t n_emitters;
} alec_ef;

/* Parses the text of an EmitterFile against a finalized configuration
 * (profiles, <Emitter> blocks, MaxEmitters). 0 with a sorted array in *out
 * (free with alec_ef_free_emitters), its length in *n and the number of
 * lines an <Emitter> block overrides in *shadowed; or ALEC_EINVAL /
 * ALEC_ERANGE / ALEC_ENOMEM with "line N: ..." in err. */
int alec_ef_parse(const alec_plugin_config *cfg, const char *text, size_t len, alec_pc_emitter **out, size_t *n,
                  size_t *shadowed, char *err, size_t errlen);
void alec_ef_free_emitters(alec_pc_emitter *ems, size_t n);

/* Loads cfg->emitter_file if it is set (nothing to do otherwise). 0 or a
 * negative code with the reason in err; *info (may be NULL) receives what
 * was loaded, for the log. */
int alec_ef_init(alec_ef *ef, const alec_plugin_config *cfg, char *err, size_t errlen, char *info, size_t infolen);
void alec_ef_free(alec_ef *ef);

const alec_pc_emitter *alec_ef_find(const alec_ef *ef, uint64_t id);

/* Called often with a monotonic time in seconds: stat()s the file at most
 * once a second. 1: it changed and parsed, the new registry is in *fresh
 * (pass it to alec_ef_swap), err says what was read; 0: nothing to do;
 * negative: a change that cannot be used (unreadable, unsafe mode, a bad
 * line), counted, the reason in err, the registry unchanged. */
int alec_ef_check(alec_ef *ef, const alec_plugin_config *cfg, double now, alec_pc_emitter **fresh, size_t *n,
                  char *err, size_t errlen);

/* Called for every id whose resolved group differs between the old and the
 * new registry; group "" means none (the emitter goes back to the default
 * group or to what the network server says). */
typedef void (*alec_ef_group_fn)(void *arg, uint64_t id, const char *group);
/* Installs fresh (taken over) and frees the old registry, after telling fn
 * about every group change. The caller makes sure no other thread reads the
 * registry meanwhile. */
void alec_ef_swap(alec_ef *ef, alec_pc_emitter *fresh, size_t n, alec_ef_group_fn fn, void *arg);

#endif
