/* SPDX-License-Identifier: MIT */
#ifndef ALEC_HASH_H
#define ALEC_HASH_H

/* The hash of every per-emitter table: SipHash-2-4 (libsodium's
 * crypto_shorthash) under a key drawn at random once per process, so that
 * emitter ids cannot be chosen to collide (hash flooding). */

#include <stdint.h>

uint64_t alec_hash_id(uint64_t id);

#endif
