/* SPDX-License-Identifier: MIT */
/* Fleet module: large-array allocation (huge pages) and the keyed hash
 * maps. */
#include "fleet_int.h"

/* ------------------------------------------------------- large arrays */

/* The emitter array and the id table of a large fleet are tens of MB read
 * at random: with 4 KiB pages nearly every frame also misses the TLB, and the
 * page walk adds to the chain of dependent misses (measured earlier, 100,000
 * emitters cold: 649 -> 564 ns per frame with huge pages). Tables of 2 MiB
 * or more are therefore 2 MiB aligned (rounded up to whole 2 MiB pages) and
 * offered to transparent huge pages; the kernel may ignore the advice,
 * nothing depends on it. free() releases them like any allocation. */
#define HUGE_BYTES ((size_t)2 << 20)

static void *big_alloc(size_t bytes) {
#ifdef MADV_HUGEPAGE
  if (bytes >= HUGE_BYTES) {
    size_t sz = (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_BYTES, sz) != 0) return NULL;
    (void)madvise(p, sz, MADV_HUGEPAGE);
    return p;
  }
#endif
  return malloc(bytes);
}

/* Growing a large array: realloc moves it without copying (mremap), where a
 * fresh aligned block would copy it and fault it in again at once (measured:
 * creating 100,000 emitters 2-3x slower). The whole 2 MiB pages inside the
 * block are advised instead; its ragged ends stay small pages. */
void *alec_fleet__big_realloc(void *old, size_t bytes) {
  void *p = realloc(old, bytes);
#ifdef MADV_HUGEPAGE
  if (p && bytes >= 2 * HUGE_BYTES) {
    uintptr_t a = ((uintptr_t)p + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1);
    uintptr_t b = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE_BYTES - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
  }
#endif
  return p;
}

static int map_rehash(u64map *m, uint32_t cap) {
  map_slot *ns = big_alloc((size_t)cap * sizeof *ns);
  if (!ns) return ALEC_ENOMEM;
  for (uint32_t i = 0; i < cap; i++)
    ns[i].val = NONE, ns[i].key = 0, ns[i].hash = 0, ns[i].aux = NULL;
  uint32_t nmask = cap - 1;
  if (m->mask)
    for (uint32_t i = 0; i <= m->mask; i++) {
      if (m->s[i].val == NONE) continue;
      uint32_t j = m->s[i].hash & nmask;
      while (ns[j].val != NONE) j = (j + 1) & nmask;
      ns[j] = m->s[i];
    }
  free(m->s);
  m->s = ns;
  m->mask = nmask;
  return 0;
}

/* Makes room for `extra` more keys (load factor <= 1/2). */
int alec_fleet__map_reserve(u64map *m, uint32_t extra) {
  uint64_t need = ((uint64_t)m->n + extra) * 2;
  uint64_t cap = m->mask ? (uint64_t)m->mask + 1 : 0;
  if (need <= cap) return 0;
  uint64_t ncap = cap ? cap : 16;
  while (ncap < need) ncap *= 2;
  if (ncap > (1ull << 31)) return ALEC_ENOMEM;
  return map_rehash(m, (uint32_t)ncap);
}

void alec_fleet__map_del(u64map *m, uint64_t key) {
  if (m->mask == 0) return;
  uint32_t i = hslot(m, key);
  for (;;) {
    if (m->s[i].val == NONE) return;
    if (m->s[i].key == key) break;
    i = (i + 1) & m->mask;
  }
  /* Backward shift: pull later members of the probe run into the hole when
   * their home slot does not lie cyclically in (hole, j]. */
  uint32_t hole = i, j = i;
  for (;;) {
    j = (j + 1) & m->mask;
    if (m->s[j].val == NONE) break;
    uint32_t home = m->s[j].hash & m->mask;
    int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      m->s[hole] = m->s[j];
      hole = j;
    }
  }
  m->s[hole].val = NONE;
  m->n--;
}
