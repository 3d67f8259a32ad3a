/* SPDX-License-Identifier: MIT */
/* State file I/O of the alec plugin (state.h). */

#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/error.h"
#include "alec/preload.h"
#include "alec/wire.h"
#include "spool.h"

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return ALEC_EIO;
}

/* Directory part of path ("." when there is none), for the temporary file
 * and the directory fsync. */
static int dir_of(const char *path, char *out, size_t cap) {
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 1;
  if (slash == path) n = 1; /* "/file" lives in "/" */
  if (n + 1 > cap) return -1;
  memcpy(out, slash ? path : ".", n);
  out[n] = '\0';
  return 0;
}

int alec_ps_write_atomic(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!path || !*path || (!buf && len)) return fail(err, errlen, "no state file name");
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 8);
  char dir[4096];
  if (!tmp) return fail(err, errlen, "out of memory");
  if (dir_of(path, dir, sizeof dir) != 0) {
    free(tmp);
    return fail(err, errlen, "\"%s\": path too long", path);
  }
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".XXXXXX", 8);
  /* mkstemp: mode 0600, a name nobody else can have taken. */
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return fail(err, errlen, "cannot create a temporary file beside \"%s\": %s", path, strerror(e));
  }
  const char *step = "write";
  int e = 0;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      e = w < 0 ? errno : EIO;
      break;
    }
    off += (size_t)w;
  }
  if (!e && fsync(fd) != 0) {
    e = errno;
    step = "fsync";
  }
  if (close(fd) != 0 && !e) {
    e = errno;
    step = "close";
  }
  if (!e && rename(tmp, path) != 0) {
    e = errno;
    step = "rename";
  }
  if (e) {
    unlink(tmp);
    free(tmp);
    return fail(err, errlen, "\"%s\": %s: %s", path, step, strerror(e));
  }
  free(tmp);
  /* The rename is durable only once the directory entry is. */
  int dfd = open(dir, O_RDONLY);
  if (dfd < 0) return fail(err, errlen, "\"%s\": cannot open its directory to fsync it: %s", path, strerror(errno));
  int rc = 0;
  if (fsync(dfd) != 0 && errno != EINVAL) /* some file systems cannot fsync directories */
    rc = fail(err, errlen, "\"%s\": fsync of its directory: %s", path, strerror(errno));
  close(dfd);
  return rc;
}

int alec_ps_save(const char *path, alec_fleet *fleet, double now, alec_fleet_state_info *info, char *err,
                 size_t errlen) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = alec_fleet_state_save(fleet, now, &buf, &len, info);
  if (rc != 0) {
    if (err && errlen) snprintf(err, errlen, "cannot serialise the fleet state: %s", alec_strerror(rc));
    return rc;
  }
  rc = alec_ps_write_atomic(path, buf, len, err, errlen);
  free(buf);
  return rc;
}

int alec_ps_save_rx(const char *path, const alec_ps_meta *m, const uint8_t *fleet_state, size_t len, char *err,
                    size_t errlen) {
  size_t rl = strlen(m->receiver);
  if (rl > ALEC_PS_RECEIVER_MAX || m->n_keys > ALEC_PS_MAX_KEYS || m->spool_len > ALEC_SPOOL_MAX_BYTES ||
      m->n_lags > ALEC_PS_MAX_LAGS)
    return fail(err, errlen, "bad receiver section");
  size_t sl = m->spool_len ? 4 + m->spool_len : 0;
  size_t ll = m->n_lags ? 4 + 16 * m->n_lags : 0;
  size_t hl = 4 + 4 + 4 + 1 + rl + 4 + 10 * m->n_keys + ll + sl + 4;
  uint8_t *buf = malloc(hl + len);
  if (buf == NULL) return fail(err, errlen, "out of memory");
  uint8_t *p = buf;
  memcpy(p, "ALRS", 4);
  alec_wr_be32(p + 4, m->spool_len ? ALEC_PS_FORMAT_SPOOL : ALEC_PS_FORMAT);
  alec_wr_be32(p + 8, m->n_lags ? ALEC_PS_F_LAGS : 0);
  p[12] = (uint8_t)rl;
  memcpy(p + 13, m->receiver, rl);
  p += 13 + rl;
  alec_wr_be32(p, (uint32_t)m->n_keys);
  p += 4;
  for (size_t i = 0; i < m->n_keys; i++, p += 10) {
    alec_wr_be16(p, m->keys[i].id);
    alec_wr_be64(p + 2, m->keys[i].top);
  }
  if (m->n_lags) {
    alec_wr_be32(p, (uint32_t)m->n_lags);
    p += 4;
    for (size_t i = 0; i < m->n_lags; i++, p += 16) {
      alec_wr_be64(p, m->lags[i].id);
      alec_wr_be64(p + 8, alec_f64_bits(m->lags[i].lag));
    }
  }
  if (m->spool_len) {
    alec_wr_be32(p, (uint32_t)m->spool_len);
    memcpy(p + 4, m->spool, m->spool_len);
    p += sl;
  }
  alec_wr_be32(p, alec_preload_crc32(0, buf, (size_t)(p - buf)));
  p += 4;
  if (len) memcpy(p, fleet_state, len);
  int rc = alec_ps_write_atomic(path, buf, hl + len, err, errlen);
  free(buf);
  return rc;
}

/* Reads exactly n bytes into out and adds them to *crc; ALEC_ETRUNC. */
static int rd_exact(FILE *f, uint8_t *out, size_t n, uint32_t *crc) {
  if (n && fread(out, 1, n, f) != n) return ferror(f) ? ALEC_EIO : ALEC_ETRUNC;
  *crc = alec_preload_crc32(*crc, out, n);
  return 0;
}

/* The spool of a format-3 section; like the keys, it grows as it is read. */
static int read_spool(FILE *f, uint32_t *crc, alec_ps_meta *m) {
  uint8_t b[4];
  int rc;
  if ((rc = rd_exact(f, b, 4, crc))) return rc;
  size_t n = alec_rd_be32(b);
  if (n == 0 || n > ALEC_SPOOL_MAX_BYTES) return ALEC_ECORRUPT;
  size_t have = 0;
  while (have < n) {
    size_t step = n - have < 65536 ? n - have : 65536;
    uint8_t *grown = realloc(m->spool, have + step);
    if (grown == NULL) return ALEC_ENOMEM;
    m->spool = grown;
    if ((rc = rd_exact(f, m->spool + have, step, crc))) return rc;
    have += step;
    m->spool_len = have;
  }
  return alec_spool_check(m->spool, m->spool_len);
}

/* Room for element i of an array read element by element (doubling from
 * 16): what the file claims is never allocated ahead of what it holds.
 * Returns the array, moved or not, or NULL (it is left as it was). */
static void *grow_for(void *arr, size_t *cap, size_t i, size_t elem) {
  if (i < *cap) return arr;
  size_t nc = *cap ? 2 * *cap : 16;
  void *n = realloc(arr, nc * elem);
  if (n != NULL) *cap = nc;
  return n;
}

/* The lag table of flag ALEC_PS_F_LAGS; it grows as it is read. */
static int read_lags(FILE *f, uint32_t *crc, alec_ps_meta *m) {
  uint8_t b[16];
  int rc;
  if ((rc = rd_exact(f, b, 4, crc))) return rc;
  uint32_t n = alec_rd_be32(b);
  if (n == 0 || n > ALEC_PS_MAX_LAGS) return ALEC_ECORRUPT;
  size_t cap = 0;
  for (uint32_t i = 0; i < n; i++) {
    if ((rc = rd_exact(f, b, 16, crc))) return rc;
    alec_ps_lag l = {alec_rd_be64(b), alec_f64_from_bits(alec_rd_be64(b + 8))};
    if ((i && l.id <= m->lags[i - 1].id) || !isfinite(l.lag)) return ALEC_ECORRUPT;
    alec_ps_lag *nl = grow_for(m->lags, &cap, i, sizeof(*nl));
    if (nl == NULL) return ALEC_ENOMEM;
    m->lags = nl;
    m->lags[i] = l;
    m->n_lags = i + 1;
  }
  return 0;
}

/* The receiver section after its magic; keys grow as they are read, so a
 * count that the file does not back costs nothing. */
static int read_section(FILE *f, uint32_t crc, alec_ps_meta *m) {
  uint8_t b[16];
  int rc;
  if ((rc = rd_exact(f, b, 9, &crc))) return rc;
  uint32_t format = alec_rd_be32(b);
  if (format != ALEC_PS_FORMAT && format != ALEC_PS_FORMAT_SPOOL) return ALEC_EVERSION;
  m->format = format;
  uint32_t flags = alec_rd_be32(b + 4);
  if ((flags & ~ALEC_PS_F_LAGS) || b[8] > ALEC_PS_RECEIVER_MAX) return ALEC_ECORRUPT;
  size_t rl = b[8];
  if ((rc = rd_exact(f, (uint8_t *)m->receiver, rl, &crc))) return rc;
  m->receiver[rl] = '\0';
  if (memchr(m->receiver, '\0', rl)) return ALEC_ECORRUPT;
  if ((rc = rd_exact(f, b, 4, &crc))) return rc;
  uint32_t n = alec_rd_be32(b);
  if (n > ALEC_PS_MAX_KEYS) return ALEC_ECORRUPT;
  size_t cap = 0;
  for (uint32_t i = 0; i < n; i++) {
    if ((rc = rd_exact(f, b, 10, &crc))) return rc;
    alec_ps_key k = {alec_rd_be16(b), alec_rd_be64(b + 2)};
    if (i && k.id <= m->keys[i - 1].id) return ALEC_ECORRUPT;
    alec_ps_key *nk = grow_for(m->keys, &cap, i, sizeof(*nk));
    if (nk == NULL) return ALEC_ENOMEM;
    m->keys = nk;
    m->keys[i] = k;
    m->n_keys = i + 1;
  }
  if ((flags & ALEC_PS_F_LAGS) && (rc = read_lags(f, &crc, m))) return rc;
  if (format == ALEC_PS_FORMAT_SPOOL && (rc = read_spool(f, &crc, m))) return rc;
  uint32_t want = crc;
  if (fread(b, 1, 4, f) != 4) return ferror(f) ? ALEC_EIO : ALEC_ETRUNC;
  return alec_rd_be32(b) == want ? 0 : ALEC_ECORRUPT;
}

int alec_ps_read_rx(FILE *f, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                    const char *receiver, alec_ps_meta *m, alec_fleet_state_info *info) {
  memset(m, 0, sizeof(*m));
  uint8_t magic[4];
  int rc = 0;
  m->format = 1;
  if (fread(magic, 1, 4, f) == 4 && memcmp(magic, "ALRS", 4) == 0) {
    m->format = 2;
    rc = read_section(f, alec_preload_crc32(0, magic, 4), m);
    if (rc == 0 && receiver && strcmp(receiver, m->receiver) != 0) rc = ALEC_ENOTFOUND;
  } else if (fseek(f, 0, SEEK_SET) != 0) { /* format 1: the fleet state from its first byte */
    rc = ALEC_EIO;
  }
  if (rc == 0) rc = alec_fleet_state_read(fleet, f, now, filter, arg, info);
  if (rc != 0) {
    free(m->keys);
    m->keys = NULL;
    m->n_keys = 0;
    free(m->lags);
    m->lags = NULL;
    m->n_lags = 0;
    free(m->spool);
    m->spool = NULL;
    m->spool_len = 0;
  }
  return rc;
}

int alec_ps_load_rx(const char *path, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                    const char *receiver, alec_ps_meta *out, alec_fleet_state_info *info, char *err,
                    size_t errlen) {
  if (err && errlen) err[0] = '\0';
  alec_ps_meta local;
  alec_ps_meta *m = out ? out : &local;
  memset(m, 0, sizeof(*m));
  if (!path || !*path) return fail(err, errlen, "no state file name");
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    return fail(err, errlen, "\"%s\": %s", path, strerror(errno));
  }
  struct stat st;
  /* A FIFO or a device could block or never end. */
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(err, errlen, "\"%s\": not a regular file", path);
  }
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    close(fd);
    if (err && errlen) {
      if (st.st_uid != geteuid())
        snprintf(err, errlen, "state file \"%s\" refused: owned by uid %u, not by the daemon's user (uid %u)", path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
      else
        snprintf(err, errlen, "state file \"%s\" refused: writable by group or others (mode %03o)", path,
                 (unsigned)(st.st_mode & 0777));
    }
    return ALEC_EAUTH;
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    int e = errno;
    close(fd);
    return fail(err, errlen, "\"%s\": %s", path, strerror(e));
  }
  int rc = alec_ps_read_rx(f, fleet, now, filter, arg, receiver, m, info);
  fclose(f);
  if (rc == 0) {
    if (m == &local) {
      free(local.keys);
      free(local.spool);
    }
    return 0;
  }
  if (rc == ALEC_ENOTFOUND && receiver && strcmp(receiver, m->receiver) != 0) {
    if (err && errlen)
      snprintf(err, errlen, "state file \"%s\" refused: it belongs to receiver \"%s\", this is \"%s\" (ReceiverId)",
               path, m->receiver, receiver);
    return ALEC_ECORRUPT;
  }
  const char *why;
  switch (rc) {
  case ALEC_ETRUNC: why = "truncated"; break;
  case ALEC_ECORRUPT: why = "damaged (checksum or structure) or not an alec state file"; break;
  case ALEC_EVERSION: why = "written by another version of the state format"; break;
  case ALEC_EIO: why = "read error"; break;
  case ALEC_ENOMEM: why = "out of memory"; break;
  default: why = alec_strerror(rc); break;
  }
  if (err && errlen) snprintf(err, errlen, "state file \"%s\" refused: %s", path, why);
  return rc;
}

int alec_ps_load(const char *path, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                 alec_fleet_state_info *info, char *err, size_t errlen) {
  return alec_ps_load_rx(path, fleet, now, filter, arg, NULL, NULL, info, err, errlen);
}

int alec_ps_set_aside(const char *path, char *err, size_t errlen) {
  size_t pl = strlen(path);
  char *to = malloc(pl + 9);
  if (!to) return fail(err, errlen, "out of memory");
  memcpy(to, path, pl);
  memcpy(to + pl, ".refused", 9);
  int rc = 0;
  if (rename(path, to) != 0) rc = fail(err, errlen, "cannot rename \"%s\" to \"%s\": %s", path, to, strerror(errno));
  free(to);
  return rc;
}
