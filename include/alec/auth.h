/* SPDX-License-Identifier: MIT */
#ifndef ALEC_AUTH_H
#define ALEC_AUTH_H

/* Signed envelope datagrams (docs/ENVELOPE.md, "Authentication trailer";
 * docs/SECURITY.md). A signed datagram has flag A in its header and ends
 * with a 26-byte trailer:
 *
 *   key id   u16 big-endian   which key of the receiver's AuthFile
 *   counter  u64 big-endian   strictly increasing per key (replay window)
 *   tag      16 bytes         HMAC-SHA-256 truncated to 128 bits, over every
 *                             byte before the tag (header with A set,
 *                             records, key id, counter)
 *
 * The tag is computed and compared with libsodium (crypto_auth_hmacsha256,
 * sodium_memcmp). Key files hold one `id: key [emitters]` line per key.
 * Everything here is pure C without collectd: the plugin and alec-send
 * share it. */

#include <stddef.h>
#include <stdint.h>

#include "alec/envelope.h"

#define ALEC_AUTH_KEY_ID_SIZE 2
#define ALEC_AUTH_COUNTER_SIZE 8
#define ALEC_AUTH_TAG_SIZE 16 /* bytes of HMAC-SHA-256 kept */
#define ALEC_AUTH_HMAC_SIZE 32
#define ALEC_AUTH_TRAILER_SIZE (ALEC_AUTH_KEY_ID_SIZE + ALEC_AUTH_COUNTER_SIZE + ALEC_AUTH_TAG_SIZE)
_Static_assert(ALEC_AUTH_TRAILER_SIZE == ALEC_ENVELOPE_AUTH_TRAILER_SIZE, "one trailer layout");
#define ALEC_AUTH_KEY_MIN 16 /* bytes; shorter keys are refused */
#define ALEC_AUTH_KEY_MAX 64 /* the HMAC block size: longer keys gain nothing */
#define ALEC_AUTH_REPLAY_WINDOW 64
/* Key file bounds: a hostile or mistaken file cannot make us allocate more. */
#define ALEC_AUTH_FILE_MAX (1024 * 1024)
#define ALEC_AUTH_LINE_MAX 4096
#define ALEC_AUTH_MAX_RANGES 256 /* emitter ids / ranges on one key line */

/* ---- primitives ---------------------------------------------------------- */

/* Full HMAC-SHA-256 (RFC 2104 / RFC 4231) of msg under a key of any length.
 * 0 or ALEC_EINVAL (NULL key or message with a non-zero length). */
int alec_auth_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                          uint8_t out[ALEC_AUTH_HMAC_SIZE]);

/* Signs the unsigned envelope datagram buf[0..len) in place: sets flag A
 * and appends the trailer. Returns the new length (len + 26), or
 * ALEC_EBUFSIZE (cap too small; buf unchanged), ALEC_EINVAL (key length
 * outside 16..64, not an unsigned version-1 envelope, or empty). */
long alec_auth_sign(uint8_t *buf, size_t len, size_t cap, uint16_t key_id, const uint8_t *key, size_t key_len,
                    uint64_t counter);

/* The trailer of a signed datagram, not yet verified. */
typedef struct alec_auth_trailer {
  uint16_t key_id;
  uint64_t counter;
  const uint8_t *tag; /* ALEC_AUTH_TAG_SIZE bytes, points into the datagram */
  size_t signed_len;  /* bytes covered by the tag (everything before it) */
  size_t records_end; /* end of the records (start of the trailer) */
} alec_auth_trailer;

/* 1 and *t filled when buf is a version-1 envelope with flag A and room for
 * a header, at least one byte of record and the trailer; 0 when it is an
 * unsigned envelope; ALEC_ETRUNC (empty or too short for its trailer),
 * ALEC_EVERSION, ALEC_EMALFORMED (reserved flag bits). */
int alec_auth_parse(const uint8_t *buf, size_t len, alec_auth_trailer *t);

/* Constant-time check of the tag of a parsed datagram under key: 0 or
 * ALEC_EAUTH. */
int alec_auth_check_tag(const uint8_t *buf, const alec_auth_trailer *t, const uint8_t *key, size_t key_len);

/* An envelope reader over the records of a signed datagram (the trailer
 * excluded); the datagram should be verified first. Same errors as
 * alec_envelope_reader_init(), ALEC_EINVAL when flag A is not set. */
int alec_auth_reader_init(alec_envelope_reader *r, const uint8_t *buf, size_t len);

/* ---- replay window (RFC 4303 section 3.4.3, 64 counters) --------------------- */

typedef struct alec_replay_window {
  uint64_t top;    /* highest counter accepted */
  uint64_t bitmap; /* bit i: counter top - i was accepted */
  int used;        /* 0: nothing accepted yet, any counter passes */
} alec_replay_window;

/* 0 if counter may be accepted, ALEC_EREPLAY if it was seen or is older
 * than the window. Does not change the window. */
int alec_replay_check(const alec_replay_window *w, uint64_t counter);
/* Records an accepted counter (call after the tag verified). */
void alec_replay_update(alec_replay_window *w, uint64_t counter);

/* ---- key tables ----------------------------------------------------------- */

typedef struct alec_auth_range {
  uint64_t lo, hi; /* inclusive */
} alec_auth_range;

typedef struct alec_auth_key {
  uint16_t id;
  uint8_t key[ALEC_AUTH_KEY_MAX];
  size_t key_len;
  alec_auth_range *ranges; /* sorted, disjoint; NULL: any emitter */
  size_t n_ranges;
  alec_replay_window window;
  uint64_t accepted; /* datagrams verified under this key */
} alec_auth_key;

typedef struct alec_auth_table {
  alec_auth_key *keys; /* sorted by id, ids unique */
  size_t n;
} alec_auth_table;

/* Parses a key file's text (docs/SECURITY.md, "Key files"):
 *
 *   # comment
 *   <id>: <key> [<emitter> | <lo>-<hi> | *] ...
 *
 * id: 0..65535 (decimal or 0x-hex); key: 32..128 hex digits, or
 * "base64:" and standard base64 of 16..64 bytes; the optional emitter list
 * restricts the ids the key may sign for (none or "*": any). Returns a new
 * table in *out, or ALEC_EINVAL / ALEC_ERANGE (too large) / ALEC_ENOMEM with
 * "line N: ..." in err (never the key material). */
int alec_auth_table_parse(alec_auth_table **out, const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses a key file (at most ALEC_AUTH_FILE_MAX bytes); ALEC_EIO
 * when it cannot be read. */
int alec_auth_table_load(alec_auth_table **out, const char *path, char *err, size_t errlen);
/* Wipes the keys and frees the table (NULL is fine). */
void alec_auth_table_free(alec_auth_table *t);
alec_auth_key *alec_auth_table_find(const alec_auth_table *t, uint16_t id);
/* Replay windows and counts of keys that keep their id move to the fresh
 * table, so reloading a key file never reopens a window for replays. */
void alec_auth_table_inherit(alec_auth_table *fresh, const alec_auth_table *old);
/* 1 if the key may sign for this emitter id. */
int alec_auth_key_allows(const alec_auth_key *k, uint64_t emitter);

/* The receiver's check of one signed datagram: trailer, key, tag, replay
 * window, in that order. 0 and *key / *t set (window not yet advanced:
 * call alec_replay_update(&(*key)->window, t->counter) to accept), or
 * ALEC_ETRUNC / ALEC_EVERSION / ALEC_EMALFORMED (structure), ALEC_EINVAL
 * (not signed), ALEC_ENOTFOUND (key id unknown), ALEC_EAUTH (wrong tag),
 * ALEC_EREPLAY. */
int alec_auth_verify(const alec_auth_table *tab, const uint8_t *buf, size_t len, alec_auth_key **key,
                     alec_auth_trailer *t);

/* Parses a key given as hex or "base64:..." (16..64 bytes): its length or
 * ALEC_EINVAL. For alec-send --key. */
int alec_auth_key_decode(const char *text, uint8_t out[ALEC_AUTH_KEY_MAX]);

#endif
