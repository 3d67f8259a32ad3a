/* SPDX-License-Identifier: MIT */
#include "alec/hash.h"

#include <pthread.h>
#include <string.h>

#include <sodium.h>

static unsigned char key[crypto_shorthash_KEYBYTES];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init(void) {
  /* sodium_init() seeds randombytes from the kernel (getrandom). Should it
   * fail, the key stays zero: tables still work, only unkeyed. */
  if (sodium_init() >= 0) randombytes_buf(key, sizeof key);
}

uint64_t alec_hash_id(uint64_t id) {
  pthread_once(&key_once, key_init);
  unsigned char in[8], out[crypto_shorthash_BYTES];
  for (int i = 0; i < 8; i++) in[i] = (unsigned char)(id >> (8 * i));
  crypto_shorthash(out, in, sizeof in, key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return h;
}

uint64_t alec_hash_bytes(const void *p, size_t n) {
  pthread_once(&key_once, key_init);
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, p, (unsigned long long)n, key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return h;
}

uint64_t alec_hash_str(const char *s) {
  if (s == NULL || s[0] == '\0') return 0;
  uint64_t h = alec_hash_bytes(s, strlen(s));
  return h ? h : 1;
}
