/* SPDX-License-Identifier: MIT */
#include "dedup.h"

#include <string.h>

#include "alec/hash.h"

void alec_dedup_clear(alec_dedup *d) { memset(d, 0, sizeof *d); }

uint64_t alec_dedup_key(const char *id) { return alec_hash_str(id); }

static int gen_has(const uint64_t *slot, uint64_t key) {
  size_t i = (size_t)key & (ALEC_DEDUP_SLOTS - 1);
  while (slot[i]) {
    if (slot[i] == key) return 1;
    i = (i + 1) & (ALEC_DEDUP_SLOTS - 1);
  }
  return 0;
}

int alec_dedup_has(const alec_dedup *d, uint64_t key) {
  return key != 0 && (gen_has(d->gen[0].slot, key) || gen_has(d->gen[1].slot, key));
}

void alec_dedup_add(alec_dedup *d, uint64_t key) {
  if (key == 0 || alec_dedup_has(d, key)) return;
  if (d->gen[d->cur].used >= ALEC_DEDUP_GEN) {
    /* Half full (load 1/2, probes stay short): the older generation goes. */
    d->cur ^= 1;
    memset(&d->gen[d->cur], 0, sizeof d->gen[d->cur]);
  }
  uint64_t *slot = d->gen[d->cur].slot;
  size_t i = (size_t)key & (ALEC_DEDUP_SLOTS - 1);
  while (slot[i]) i = (i + 1) & (ALEC_DEDUP_SLOTS - 1);
  slot[i] = key;
  d->gen[d->cur].used++;
}
