/* SPDX-License-Identifier: MIT */
/* State file I/O of the alec plugin (state.h). */

#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/error.h"

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

int alec_ps_load(const char *path, alec_fleet *fleet, double now, alec_fleet_state_filter filter, void *arg,
                 alec_fleet_state_info *info, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
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
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    int e = errno;
    close(fd);
    return fail(err, errlen, "\"%s\": %s", path, strerror(e));
  }
  int rc = alec_fleet_state_read(fleet, f, now, filter, arg, info);
  fclose(f);
  if (rc == 0) return 0;
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
