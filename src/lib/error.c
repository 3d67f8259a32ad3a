/* SPDX-License-Identifier: MIT */
#include "alec/error.h"

#include <stddef.h>

struct err_entry {
  int code;
  const char *name;
  const char *text;
};

static const struct err_entry errors[] = {
    {ALEC_OK, "ALEC_OK", "success"},
    {ALEC_EINVAL, "ALEC_EINVAL", "invalid argument or configuration"},
    {ALEC_ETRUNC, "ALEC_ETRUNC", "input ends before a field it announces"},
    {ALEC_EMALFORMED, "ALEC_EMALFORMED", "structurally invalid frame"},
    {ALEC_EHEADER, "ALEC_EHEADER", "invalid frame header"},
    {ALEC_EENCODING, "ALEC_EENCODING", "unknown value encoding"},
    {ALEC_ENOPRED, "ALEC_ENOPRED", "delta encoding without a prediction"},
    {ALEC_ENOPREV, "ALEC_ENOPREV", "repeated encoding without a previous value"},
    {ALEC_EPATTERN, "ALEC_EPATTERN", "unknown pattern or pattern without a value"},
    {ALEC_ECHECKSUM, "ALEC_ECHECKSUM", "checksum mismatch"},
    {ALEC_ENOSPC, "ALEC_ENOSPC", "configured bound reached"},
    {ALEC_ENOMEM, "ALEC_ENOMEM", "out of memory"},
    {ALEC_EREPLAY, "ALEC_EREPLAY", "duplicate or stale sequence number"},
    {ALEC_EBUFSIZE, "ALEC_EBUFSIZE", "output buffer too small"},
    {ALEC_ERANGE, "ALEC_ERANGE", "value out of range"},
    {ALEC_ECHANNELS, "ALEC_ECHANNELS", "channel count outside 1..64"},
    {ALEC_EVARINT, "ALEC_EVARINT", "varint too long"},
    {ALEC_EIO, "ALEC_EIO", "input/output error"},
    {ALEC_ECORRUPT, "ALEC_ECORRUPT", "corrupt persisted data"},
    {ALEC_EVERSION, "ALEC_EVERSION", "unsupported format version"},
    {ALEC_EFORMAT, "ALEC_EFORMAT", "frame does not match the expected format"},
    {ALEC_EAUTH, "ALEC_EAUTH", "authentication failed"},
    {ALEC_ENOTFOUND, "ALEC_ENOTFOUND", "no such entry"},
    {ALEC_ERATE, "ALEC_ERATE", "rate limit exceeded"},
};

static const struct err_entry *find(int err) {
  /* Codes are dense 0..ALEC_ERROR_MIN and listed in order. */
  if (err > 0 || err < ALEC_ERROR_MIN)
    return NULL;
  const struct err_entry *e = &errors[-err];
  return e->code == err ? e : NULL;
}

const char *alec_strerror(int err) {
  const struct err_entry *e = find(err);
  if (e)
    return e->text;
  return err > 0 ? "success (count)" : "unknown error";
}

const char *alec_err_name(int err) {
  const struct err_entry *e = find(err);
  if (e)
    return e->name;
  return err > 0 ? "ALEC_OK" : "ALEC_EUNKNOWN";
}
