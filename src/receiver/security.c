/* SPDX-License-Identifier: MIT */
/* The plugin's gate in front of the fleet (security.h, docs/SECURITY.md). */

#include "security.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/error.h"
#include "state.h"

struct alec_sec_memo {
  uint16_t id;
  alec_replay_window w;
};

static int unsafe_mode(const alec_sec *s, const struct stat *st, char *err, size_t errlen) {
  if (!s->strict) return 0;
  return alec_sec_file_mode(s->path, st, err, errlen);
}

int alec_sec_file_mode(const char *path, const struct stat *st, char *err, size_t errlen) {
  /* Not a regular file: the loader refuses it with its own reason. */
  if (!S_ISREG(st->st_mode)) return 0;
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(err, errlen,
             "%s is writable by group or others (mode %03o): anybody who can write it can change what it trusts; chmod go-w "
             "it (or set AuthFileStrictModes false)",
             path, (unsigned)(st->st_mode & 0777));
    return ALEC_EAUTH;
  }
  if (st->st_uid != geteuid() && st->st_uid != 0) {
    snprintf(err, errlen, "%s belongs to uid %u, neither the daemon's user (uid %u) nor root (or set AuthFileStrictModes false)",
             path, (unsigned)st->st_uid, (unsigned)geteuid());
    return ALEC_EAUTH;
  }
  return 0;
}

int alec_sec_init(alec_sec *s, const char *path, char *err, size_t errlen, char *warn, size_t warnlen) {
  return alec_sec_init_mode(s, path, 1, err, errlen, warn, warnlen);
}

int alec_sec_init_mode(alec_sec *s, const char *path, int strict, char *err, size_t errlen, char *warn,
                       size_t warnlen) {
  memset(s, 0, sizeof(*s));
  s->strict = strict;
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
    s->ctime = st.st_ctim;
    s->ino = st.st_ino;
    s->size = st.st_size;
    int rc = unsafe_mode(s, &st, err, errlen);
    if (rc != 0) {
      alec_sec_free(s);
      return rc;
    }
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
  free(s->memo);
  s->keys = NULL;
  s->path = NULL;
  s->memo = NULL;
  s->n_memo = s->cap_memo = 0;
}

/* ---- replay windows of absent keys ---------------------------------------- */

static size_t memo_pos(const alec_sec *s, uint16_t id) {
  size_t lo = 0, hi = s->n_memo;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->memo[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The later of two windows: a window only ever moves up. */
static void window_merge(alec_replay_window *into, const alec_replay_window *w) {
  if (!w->used) return;
  if (!into->used || w->top > into->top) *into = *w;
  else if (w->top == into->top) into->bitmap |= w->bitmap;
}

/* At most 65536 entries (one per key id): bounded whatever the files say. */
static void memo_put(alec_sec *s, uint16_t id, const alec_replay_window *w) {
  if (!w->used) return;
  size_t i = memo_pos(s, id);
  if (i < s->n_memo && s->memo[i].id == id) {
    window_merge(&s->memo[i].w, w);
    return;
  }
  if (s->n_memo == s->cap_memo) {
    size_t cap = s->cap_memo ? 2 * s->cap_memo : 16;
    struct alec_sec_memo *n = realloc(s->memo, cap * sizeof(*n));
    if (n == NULL) return; /* out of memory: the window is lost, as before */
    s->memo = n;
    s->cap_memo = cap;
  }
  memmove(&s->memo[i + 1], &s->memo[i], (s->n_memo - i) * sizeof(*s->memo));
  s->memo[i].id = id;
  s->memo[i].w = *w;
  s->n_memo++;
}

static int memo_take(alec_sec *s, uint16_t id, alec_replay_window *out) {
  size_t i = memo_pos(s, id);
  if (i >= s->n_memo || s->memo[i].id != id) return 0;
  *out = s->memo[i].w;
  memmove(&s->memo[i], &s->memo[i + 1], (s->n_memo - i - 1) * sizeof(*s->memo));
  s->n_memo--;
  return 1;
}

void alec_sec_restore_counter(alec_sec *s, uint16_t id, uint64_t top) {
  /* Every counter up to top counts as seen: the bitmap of the last 64 was
   * not saved, and refusing one of them costs an honest sender nothing
   * (its counters only go up). */
  alec_replay_window w = {top, ~UINT64_C(0), 1};
  alec_auth_key *k = s->keys ? alec_auth_table_find(s->keys, id) : NULL;
  if (k) window_merge(&k->window, &w);
  else memo_put(s, id, &w);
}

size_t alec_sec_counter_count(const alec_sec *s) { return (s->keys ? s->keys->n : 0) + s->n_memo; }

size_t alec_sec_export_counters(const alec_sec *s, alec_ps_key *out, size_t cap) {
  size_t n = 0, i = 0, j = 0, nk = s->keys ? s->keys->n : 0;
  /* Both lists are sorted by id and disjoint: merge them. */
  while ((i < nk || j < s->n_memo) && n < cap) {
    const alec_auth_key *k = i < nk ? &s->keys->keys[i] : NULL;
    const struct alec_sec_memo *m = j < s->n_memo ? &s->memo[j] : NULL;
    if (k && (!m || k->id < m->id)) {
      if (k->window.used) out[n++] = (alec_ps_key){k->id, k->window.top};
      i++;
    } else {
      out[n++] = (alec_ps_key){m->id, m->w.top};
      j++;
    }
  }
  return n;
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
      st.st_ctim.tv_sec == s->ctime.tv_sec && st.st_ctim.tv_nsec == s->ctime.tv_nsec && st.st_ino == s->ino &&
      st.st_size == s->size)
    return 0;
  s->stat_errno = 0;
  s->mtime = st.st_mtim;
  s->ctime = st.st_ctim;
  s->ino = st.st_ino;
  s->size = st.st_size;
  alec_auth_table *fresh;
  char why[384];
  int rc = unsafe_mode(s, &st, why, sizeof why);
  if (rc != 0) {
    atomic_fetch_add(&s->reload_errors, 1);
    snprintf(err, errlen, "%s; keeping the %zu keys loaded before", why, s->keys->n);
    return rc;
  }
  rc = alec_auth_table_load(&fresh, s->path, why, sizeof why);
  if (rc != 0) {
    atomic_fetch_add(&s->reload_errors, 1);
    snprintf(err, errlen, "%s; keeping the %zu keys loaded before", why, s->keys->n);
    return rc;
  }
  alec_auth_table_inherit(fresh, s->keys);
  /* A key id that leaves keeps its window here; one that comes back (or
   * was restored from the state file before it was loaded) gets it back. */
  for (size_t i = 0; i < s->keys->n; i++)
    if (alec_auth_table_find(fresh, s->keys->keys[i].id) == NULL) memo_put(s, s->keys->keys[i].id, &s->keys->keys[i].window);
  for (size_t i = 0; i < fresh->n; i++) {
    alec_replay_window w;
    if (memo_take(s, fresh->keys[i].id, &w)) window_merge(&fresh->keys[i].window, &w);
  }
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
