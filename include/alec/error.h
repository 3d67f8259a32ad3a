/* SPDX-License-Identifier: MIT */
#ifndef ALEC_ERROR_H
#define ALEC_ERROR_H

/* Every libalec function that can fail returns 0 (or a non-negative count)
 * on success and one of these negative codes on failure, libuv style. */
enum alec_error {
  ALEC_OK = 0,
  ALEC_EINVAL = -1,      /* invalid argument or configuration */
  ALEC_ETRUNC = -2,      /* input ends before a field it announces */
  ALEC_EMALFORMED = -3,  /* structurally invalid frame */
  ALEC_EHEADER = -4,     /* invalid frame header (e.g. priority 5..7) */
  ALEC_EENCODING = -5,   /* unknown value encoding byte */
  ALEC_ENOPRED = -6,     /* delta encoding without a prediction */
  ALEC_ENOPREV = -7,     /* repeated encoding without a previous value */
  ALEC_EPATTERN = -8,    /* unknown pattern, or pattern without a value */
  ALEC_ECHECKSUM = -9,   /* xxh32 trailer mismatch */
  ALEC_ENOSPC = -10,     /* a configured bound (sources, patterns, emitters) is reached */
  ALEC_ENOMEM = -11,     /* allocation failed */
  ALEC_EREPLAY = -12,    /* duplicate or stale sequence number */
  ALEC_EBUFSIZE = -13,   /* caller's output buffer too small */
  ALEC_ERANGE = -14,     /* value out of the representable range */
  ALEC_ECHANNELS = -15,  /* channel count outside 1..64 */
  ALEC_EVARINT = -16,    /* varint longer than 5 bytes */
  ALEC_EIO = -17,        /* file input/output error */
  ALEC_ECORRUPT = -18,   /* persisted data fails its checksum or structure */
  ALEC_EVERSION = -19,   /* unsupported format version */
  ALEC_EFORMAT = -20,    /* frame family does not match the expected format */
  ALEC_EAUTH = -21,      /* authentication failed */
  ALEC_ENOTFOUND = -22,  /* no such emitter / entry */
  ALEC_ERATE = -23,      /* rate limit exceeded */
  ALEC_ERROR_MIN = -23
};

/* Human readable text for an error code; never NULL. */
const char *alec_strerror(int err);
/* Symbolic name ("ALEC_ETRUNC"); never NULL. */
const char *alec_err_name(int err);

#endif
