/* SPDX-License-Identifier: MIT */
/* The plugin's gate in front of the fleet (security.h, docs/SECURITY.md). */

#include "security.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alec/error.h"

int alec_sec_init(alec_sec *s, const char *path, char *err, size_t errlen, char *warn, size_t warnlen) {
  memset(s, 0, sizeof(*s));
  if (err && errlen) err[0] = '\0';
  if (warn && warnlen) warn[0] = '\0';
  if (path == NULL || *path == '\0') return 0;
  s->path = strdup(path);
  if (s->path == NULL) {
    snprintf(err, errlen, "out of memory");
    return ALEC_ENOMEM;
  }
  struct stat st;
  if (stat(path, &st) == 0) {
    s->mtime = st.st_mtim;
    s->ino = st.st_ino;
    s->size = st.st_size;
    if ((st.st_mode & 077) && warn && warnlen)
      snprintf(warn, warnlen, "%s is readable or writable by group or others (mode %03o): its keys are secrets", path,
               (unsigned)(st.st_mode & 0777));
  }
  int rc = alec_auth_table_load(&s->keys, path, err, errlen);
  if (rc != 0) {
    alec_sec_free(s);
    return rc;
  }
  atomic_store(&s->n_keys, s->keys->n);
  return 0;
}

void alec_sec_free(alec_sec *s) {
  alec_auth_table_free(s->keys);
  free(s->path);
  s->keys = NULL;
  s->path = NULL;
}

int alec_sec_maybe_reload(alec_sec *s, double now, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (s->path == NULL || now < s->next_check) return 0;
  s->next_check = now + 1.0;
  struct stat st;
  if (stat(s->path, &st) != 0) {
    int e = errno;
    if (e == s->stat_errno) return 0;
    s->stat_errno = e;
    atomic_fetch_add(&s->reload_errors, 1);
    snprintf(err, errlen, "%s: %s; keeping the %zu keys loaded before", s->path, strerror(e), s->keys->n);
    return ALEC_EIO;
  }
  if (s->stat_errno == 0 && st.st_mtim.tv_sec == s->mtime.tv_sec && st.st_mtim.tv_nsec == s->mtime.tv_nsec &&
      st.st_ino == s->ino && st.st_size == s->size)
    return 0;
  s->stat_errno = 0;
  s->mtime = st.st_mtim;
  s->ino = st.st_ino;
  s->size = st.st_size;
  alec_auth_table *fresh;
  char why[384];
  int rc = alec_auth_table_load(&fresh, s->path, why, sizeof why);
  if (rc != 0) {
    atomic_fetch_add(&s->reload_errors, 1);
    snprintf(err, errlen, "%s; keeping the %zu keys loaded before", why, s->keys->n);
    return rc;
  }
  alec_auth_table_inherit(fresh, s->keys);
  /* Only the dispatch thread reads the table: swapping the pointer here is
   * the whole synchronisation. */
  alec_auth_table_free(s->keys);
  s->keys = fresh;
  atomic_store(&s->n_keys, fresh->n);
  atomic_fetch_add(&s->reloads, 1);
  snprintf(err, errlen, "%s reloaded: %zu keys", s->path, fresh->n);
  return 1;
}

int alec_sec_level(const alec_pc_emitter *em, int listen_level) {
  if (em && em->security != ALEC_PC_SEC_UNSET) return em->security;
  return listen_level == ALEC_PC_SEC_SIGN ? ALEC_PC_SEC_SIGN : ALEC_PC_SEC_NONE;
}

static alec_sec_verdict structural(int rc) {
  return rc == ALEC_EVERSION ? ALEC_SEC_VERSION : ALEC_SEC_MALFORMED;
}

alec_sec_verdict alec_sec_open(alec_sec *s, const alec_plugin_config *cfg, int listen_level, const uint8_t *buf,
                               size_t len, alec_envelope_reader *r, int *code, uint64_t *emitter, int *signed_out,
                               uint16_t *key_id) {
  alec_envelope_record rec;
  alec_auth_trailer t;
  *code = 0;
  *emitter = UINT64_MAX;
  *signed_out = 0;
  *key_id = 0;
  int rc = alec_auth_parse(buf, len, &t);
  if (rc < 0) {
    *code = rc;
    return structural(rc);
  }
  if (rc == 1) {
    *key_id = t.key_id;
    alec_auth_key *k = NULL;
    rc = s->keys ? alec_auth_verify(s->keys, buf, len, &k, &t) : ALEC_ENOTFOUND;
    *code = rc;
    switch (rc) {
    case 0: break;
    case ALEC_ENOTFOUND: return ALEC_SEC_UNKNOWN_KEY;
    case ALEC_EAUTH: return ALEC_SEC_BAD_SIGNATURE;
    case ALEC_EREPLAY: return ALEC_SEC_REPLAY;
    default: return structural(rc);
    }
    /* Authentic: its counter is spent whatever the records say, so a
     * replay is always called a replay. */
    alec_replay_update(&k->window, t.counter);
    k->accepted++;
    *signed_out = 1;
    alec_auth_reader_init(r, buf, len);
    while ((rc = alec_envelope_next(r, &rec)) > 0) {
      if (!alec_auth_key_allows(k, rec.emitter)) {
        *emitter = rec.emitter;
        *code = ALEC_EAUTH;
        return ALEC_SEC_NOT_ALLOWED;
      }
    }
    if (rc < 0) {
      *code = rc;
      return structural(rc);
    }
    alec_auth_reader_init(r, buf, len);
    return ALEC_SEC_OK;
  }
  /* Unsigned: every record must be well formed and may come unsigned. */
  alec_envelope_reader_init(r, buf, len);
  int check = listen_level == ALEC_PC_SEC_SIGN || cfg->n_sign_emitters > 0, refused = 0;
  uint64_t who = 0;
  while ((rc = alec_envelope_next(r, &rec)) > 0) {
    if (check && !refused &&
        alec_sec_level(alec_pc_find_emitter(cfg, rec.emitter), listen_level) == ALEC_PC_SEC_SIGN) {
      refused = 1;
      who = rec.emitter;
    }
  }
  if (rc < 0) {
    *code = rc;
    return structural(rc);
  }
  if (refused) {
    *code = ALEC_EAUTH;
    *emitter = who;
    return ALEC_SEC_UNSIGNED;
  }
  alec_envelope_reader_init(r, buf, len);
  return ALEC_SEC_OK;
}
