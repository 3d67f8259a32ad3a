/* SPDX-License-Identifier: MIT */
/* EmitterFile: the emitter registry beside the <Emitter> blocks (emfile.h). */

#include "emfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/error.h"
#include "security.h"

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* One field of a line into out (cap bytes). 1: a field, 0: end of line,
 * negative: malformed. *dash: the field was an unquoted "-". */
static int next_field(const char **pp, const char *end, char *out, size_t cap, int *dash, const char **why) {
  const char *p = *pp;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  if (p == end || *p == '#') {
    *pp = p;
    return 0;
  }
  size_t n = 0;
  *dash = 0;
  if (*p == '"') {
    p++;
    for (;;) {
      if (p == end) {
        *why = "unterminated quote";
        return -1;
      }
      char c = *p++;
      if (c == '"') break;
      if (c == '\\') {
        if (p == end || (*p != '"' && *p != '\\')) {
          *why = "only \\\" and \\\\ may follow a backslash";
          return -1;
        }
        c = *p++;
      }
      if (n + 1 >= cap) {
        *why = "field too long";
        return -1;
      }
      out[n++] = c;
    }
    if (p < end && *p != ' ' && *p != '\t' && *p != '#') {
      *why = "a closing quote must end the field";
      return -1;
    }
  } else {
    while (p < end && *p != ' ' && *p != '\t' && *p != '#') {
      if (*p == '"') {
        *why = "a quote inside an unquoted field";
        return -1;
      }
      if (n + 1 >= cap) {
        *why = "field too long";
        return -1;
      }
      out[n++] = *p++;
    }
    *dash = n == 1 && out[0] == '-';
  }
  out[n] = '\0';
  *pp = p;
  return 1;
}

typedef struct {
  uint64_t id;
  unsigned long line;
  size_t idx;
} ef_key;

static int cmp_key(const void *a, const void *b) {
  const ef_key *x = a, *y = b;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

static int parse_line(const alec_plugin_config *cfg, const char *p, const char *end, unsigned long lineno,
                      alec_pc_emitter *em, int *empty, char *err, size_t errlen) {
  /* The largest field is the host; longer text is refused by its length. */
  char f[4][ALEC_PC_NAME_LEN + 1];
  int dash[4] = {0, 0, 0, 0};
  const char *why = NULL;
  int nf = 0;
  for (;;) {
    char tmp[ALEC_PC_NAME_LEN + 1];
    int d;
    int r = next_field(&p, end, tmp, sizeof tmp, &d, &why);
    if (r < 0) return fail(err, errlen, ALEC_EINVAL, "line %lu: %s", lineno, why);
    if (r == 0) break;
    if (nf == 4)
      return fail(err, errlen, ALEC_EINVAL, "line %lu: more than 4 fields (id host group profile)", lineno);
    memcpy(f[nf], tmp, sizeof tmp);
    dash[nf++] = d;
  }
  *empty = nf == 0;
  if (nf == 0) return 0;
  memset(em, 0, sizeof(*em));
  if (alec_pc_parse_id(f[0], &em->id) < 0)
    return fail(err, errlen, ALEC_EINVAL, "line %lu: id \"%s\" is not a 64-bit integer, decimal or 0x-hex", lineno,
                f[0]);
  em->security = ALEC_PC_SEC_UNSET;
  /* Fields 1..3 are the <Emitter> rows Host, Group and Profile: the same
   * rules and destination as in a block. */
  static const char *const rows[4] = {NULL, "Host", "Group", "Profile"};
  static const char *const labels[4] = {NULL, "host", "group", "profile"};
  for (int k = 1; k < nf && k < 4; k++) {
    if (dash[k]) continue;
    const alec_pc_opt *o = alec_pc_opt_find(alec_pc_emitter_opts, alec_pc_n_emitter_opts, rows[k]);
    int bad = o == NULL || o->kind != ALEC_PC_K_NAME || o->hi >= (double)o->size
                  ? ALEC_PC_NAME_LONG
                  : alec_pc_name_check(f[k], (size_t)o->lo, (size_t)o->hi);
    if (bad == ALEC_PC_NAME_LONG)
      return fail(err, errlen, ALEC_EINVAL, "line %lu: %s \"%.64s\" is longer than %.0f characters", lineno, labels[k],
                  f[k], o ? o->hi : 0.0);
    if (bad)
      return fail(err, errlen, ALEC_EINVAL, "line %lu: %s \"%.64s\" %s", lineno, labels[k], f[k], alec_pc_name_why(bad));
    memcpy((char *)em + o->off, f[k], strlen(f[k]) + 1);
    if (o->off == offsetof(alec_pc_emitter, own.group)) em->own.has_group = 1;
  }
  const alec_pc_profile *prof = NULL;
  if (em->profile[0]) {
    for (size_t k = 0; k < cfg->n_profiles; k++)
      if (strcmp(cfg->profiles[k].name, em->profile) == 0) prof = &cfg->profiles[k];
    if (prof == NULL)
      return fail(err, errlen, ALEC_EINVAL, "line %lu: no <Profile \"%s\"> is defined", lineno, em->profile);
  }
  /* What finalize resolves for a block with only these options; no own
   * Channel lines, so nothing is merged or allocated. */
  return alec_pc_emitter_resolve(em, prof);
}

void alec_ef_free_emitters(alec_pc_emitter *ems, size_t n) {
  (void)n; /* file entries own no channel map */
  free(ems);
}

int alec_ef_parse(const alec_plugin_config *cfg, const char *text, size_t len, alec_pc_emitter **out, size_t *n,
                  size_t *shadowed, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  *shadowed = 0;
  if (err && errlen) err[0] = '\0';
  alec_pc_emitter *ems = NULL;
  ef_key *keys = NULL;
  size_t cnt = 0, cap = 0, shadow = 0;
  int rc = 0;
  /* Room left beside the blocks: MaxEmitters bounds both together. */
  size_t room = cfg->max_emitters > cfg->n_emitters ? cfg->max_emitters - cfg->n_emitters : 0;
  const char *p = text, *end = text + len;
  unsigned long lineno = 0;
  while (p < end && rc == 0) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    lineno++;
    if ((size_t)(le - p) > ALEC_EF_LINE_MAX) {
      rc = fail(err, errlen, ALEC_EINVAL, "line %lu: longer than %d characters", lineno, ALEC_EF_LINE_MAX);
      break;
    }
    if (memchr(p, '\0', (size_t)(le - p))) {
      rc = fail(err, errlen, ALEC_EINVAL, "line %lu: contains a NUL byte", lineno);
      break;
    }
    const char *stop = le > p && le[-1] == '\r' ? le - 1 : le;
    alec_pc_emitter em;
    int empty;
    rc = parse_line(cfg, p, stop, lineno, &em, &empty, err, errlen);
    p = eol ? eol + 1 : end;
    if (rc != 0 || empty) continue;
    if (alec_pc_find_emitter(cfg, em.id)) { /* the block wins */
      shadow++;
      continue;
    }
    if (cnt >= room) {
      rc = fail(err, errlen, ALEC_ENOSPC,
                "line %lu: more than MaxEmitters %zu emitters with the %zu <Emitter> blocks (raise MaxEmitters)",
                lineno, cfg->max_emitters, cfg->n_emitters);
      break;
    }
    if (cnt == cap) {
      size_t nc = cap ? 2 * cap : 64;
      if (nc > room) nc = room;
      alec_pc_emitter *ne = realloc(ems, nc * sizeof(*ne));
      if (ne == NULL) {
        rc = ALEC_ENOMEM;
        break;
      }
      ems = ne;
      ef_key *nk = realloc(keys, nc * sizeof(*nk));
      if (nk == NULL) {
        rc = ALEC_ENOMEM;
        break;
      }
      keys = nk;
      cap = nc;
    }
    keys[cnt] = (ef_key){em.id, lineno, cnt};
    ems[cnt++] = em;
  }
  if (rc == ALEC_ENOMEM) fail(err, errlen, rc, "out of memory");
  alec_pc_emitter *sorted = NULL;
  if (rc == 0 && cnt > 0) {
    qsort(keys, cnt, sizeof(*keys), cmp_key);
    for (size_t i = 1; i < cnt && rc == 0; i++)
      if (keys[i].id == keys[i - 1].id)
        rc = fail(err, errlen, ALEC_EINVAL, "line %lu: emitter %" PRIu64 " is already listed on line %lu", keys[i].line,
                  keys[i].id, keys[i - 1].line);
    if (rc == 0 && (sorted = malloc(cnt * sizeof(*sorted))) == NULL) rc = fail(err, errlen, ALEC_ENOMEM, "out of memory");
    if (rc == 0)
      for (size_t i = 0; i < cnt; i++) {
        sorted[i] = ems[keys[i].idx];
        /* The profile's map, or this entry's own (empty) one: pointers set
         * where the entry stays. */
        sorted[i].map = sorted[i].prof ? (alec_pc_chanmap *)&sorted[i].prof->s.map : &sorted[i].own.map;
      }
  }
  free(ems);
  free(keys);
  if (rc != 0) return rc;
  *out = sorted;
  *n = cnt;
  *shadowed = shadow;
  return 0;
}

const alec_pc_emitter *alec_ef_find(const alec_ef *ef, uint64_t id) {
  size_t lo = 0, hi = ef->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t v = ef->ems[mid].id;
    if (v == id) return &ef->ems[mid];
    if (v < id) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* Reads and parses the file: 0 with the registry, or a code with the
 * reason (the path named). */
static int load(const alec_ef *ef, const alec_plugin_config *cfg, alec_pc_emitter **out, size_t *n, size_t *shadowed,
                char *err, size_t errlen) {
  /* O_NONBLOCK: a FIFO put in the file's place must not hang the dispatch
   * thread. */
  int fd = open(ef->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail(err, errlen, ALEC_EIO, "%s: %s", ef->path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(err, errlen, ALEC_EIO, "%s: not a regular file", ef->path);
  }
  char why[384];
  int rc = ef->strict ? alec_sec_file_mode(ef->path, &st, why, sizeof why) : 0;
  if (rc != 0) {
    close(fd);
    return fail(err, errlen, rc, "%s", why);
  }
  if (st.st_size > ALEC_EF_FILE_MAX) {
    close(fd);
    return fail(err, errlen, ALEC_ERANGE, "%s: larger than %d bytes", ef->path, ALEC_EF_FILE_MAX);
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) {
    close(fd);
    return fail(err, errlen, ALEC_ENOMEM, "out of memory");
  }
  while (len < cap) {
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = fail(err, errlen, ALEC_EIO, "%s: %s", ef->path, strerror(errno));
      break;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  /* Grown since fstat: a writer is at work, read it again next time. */
  if (rc == 0 && len == cap) rc = fail(err, errlen, ALEC_EIO, "%s: changed while being read", ef->path);
  if (rc == 0) {
    rc = alec_ef_parse(cfg, buf, len, out, n, shadowed, why, sizeof why);
    if (rc != 0) fail(err, errlen, rc, "%s: %s", ef->path, why);
  }
  free(buf);
  return rc;
}

static void remember(alec_ef *ef, const struct stat *st) {
  ef->mtime = st->st_mtim;
  ef->ctime = st->st_ctim;
  ef->ino = st->st_ino;
  ef->size = st->st_size;
}

int alec_ef_init(alec_ef *ef, const alec_plugin_config *cfg, char *err, size_t errlen, char *info, size_t infolen) {
  memset(ef, 0, sizeof(*ef));
  if (err && errlen) err[0] = '\0';
  if (info && infolen) info[0] = '\0';
  ef->strict = !cfg->auth_lax_modes;
  if (cfg->emitter_file[0] == '\0') return 0;
  ef->path = strdup(cfg->emitter_file);
  if (ef->path == NULL) return fail(err, errlen, ALEC_ENOMEM, "out of memory");
  struct stat st;
  if (stat(ef->path, &st) == 0) remember(ef, &st);
  size_t shadowed;
  int rc = load(ef, cfg, &ef->ems, &ef->n, &shadowed, err, errlen);
  if (rc != 0) return rc;
  atomic_store(&ef->n_emitters, ef->n);
  if (info)
    snprintf(info, infolen, "%s: %zu emitters (%zu more have an <Emitter> block, which wins)", ef->path, ef->n,
             shadowed);
  return 0;
}

void alec_ef_free(alec_ef *ef) {
  alec_ef_free_emitters(ef->ems, ef->n);
  free(ef->path);
  memset(ef, 0, sizeof(*ef));
}

int alec_ef_check(alec_ef *ef, const alec_plugin_config *cfg, double now, alec_pc_emitter **fresh, size_t *n,
                  char *err, size_t errlen) {
  *fresh = NULL;
  *n = 0;
  if (err && errlen) err[0] = '\0';
  if (ef->path == NULL || now < ef->next_check) return 0;
  ef->next_check = now + 1.0;
  struct stat st;
  if (stat(ef->path, &st) != 0) {
    int e = errno;
    if (e == ef->stat_errno) return 0;
    ef->stat_errno = e;
    atomic_fetch_add(&ef->reload_errors, 1);
    return fail(err, errlen, ALEC_EIO, "%s: %s; keeping the %zu emitters loaded before", ef->path, strerror(e), ef->n);
  }
  if (ef->stat_errno == 0 && st.st_mtim.tv_sec == ef->mtime.tv_sec && st.st_mtim.tv_nsec == ef->mtime.tv_nsec &&
      st.st_ctim.tv_sec == ef->ctime.tv_sec && st.st_ctim.tv_nsec == ef->ctime.tv_nsec && st.st_ino == ef->ino &&
      st.st_size == ef->size)
    return 0;
  ef->stat_errno = 0;
  remember(ef, &st);
  char why[640];
  size_t shadowed;
  int rc = load(ef, cfg, fresh, n, &shadowed, why, sizeof why);
  if (rc != 0) {
    atomic_fetch_add(&ef->reload_errors, 1);
    return fail(err, errlen, rc, "%s; keeping the %zu emitters loaded before", why, ef->n);
  }
  fail(err, errlen, 1, "%s reloaded: %zu emitters (%zu more have an <Emitter> block)", ef->path, *n, shadowed);
  return 1;
}

void alec_ef_swap(alec_ef *ef, alec_pc_emitter *fresh, size_t n, alec_ef_group_fn fn, void *arg) {
  /* Both sorted by id: one merge finds every group that changed. */
  size_t i = 0, k = 0;
  while (fn && (i < ef->n || k < n)) {
    const alec_pc_emitter *o = i < ef->n ? &ef->ems[i] : NULL, *f = k < n ? &fresh[k] : NULL;
    if (o && (!f || o->id < f->id)) {
      if (o->group[0]) fn(arg, o->id, "");
      i++;
    } else if (f && (!o || f->id < o->id)) {
      if (f->group[0]) fn(arg, f->id, f->group);
      k++;
    } else {
      if (strcmp(o->group, f->group) != 0) fn(arg, f->id, f->group);
      i++;
      k++;
    }
  }
  alec_ef_free_emitters(ef->ems, ef->n);
  ef->ems = fresh;
  ef->n = n;
  atomic_store(&ef->n_emitters, n);
  atomic_fetch_add(&ef->reloads, 1);
}
