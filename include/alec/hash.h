/* SPDX-License-Identifier: MIT */
#ifndef ALEC_HASH_H
#define ALEC_HASH_H

/* The hash of every per-emitter table: SipHash-2-4 (libsodium's
 * crypto_shorthash) under a key drawn at random once per process, so that
 * emitter ids cannot be chosen to collide (hash flooding). */

#include <stddef.h>
#include <stdint.h>

uint64_t alec_hash_id(uint64_t id);
/* The same keyed hash of a byte string (redelivery ids of MQTT messages,
 * which a publisher chooses). */
uint64_t alec_hash_bytes(const void *p, size_t n);
/* A string's keyed hash as a table key: 0 for NULL or "" (the "none" of
 * the tables), never 0 otherwise. */
uint64_t alec_hash_str(const char *s);

#endif
