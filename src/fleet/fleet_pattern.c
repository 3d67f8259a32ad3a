/* SPDX-License-Identifier: MIT */
/* Fleet module: promotion of recurring values to fleet-context patterns,
 * the fleet context. */
#include "fleet_int.h"

/* ---------------------------------------------------------------- patterns */

static int cmpu64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static int fleet_has_pattern(const alec_context *ctx, const uint8_t *data, size_t len) {
  alec_pattern_info pi;
  for (size_t i = 0; alec_context_pattern_at(ctx, i, &pi) == 0; i++)
    if (pi.len == len && memcmp(pi.data, data, len) == 0) return 1;
  return 0;
}

int alec_fleet_sync_patterns(alec_fleet *f, double now) {
  if (!f || !isfinite(now)) return ALEC_EINVAL;
  if (f->cfg.pattern_min_count == 0) return 0;
  size_t active = 0, np = 0;
  for (uint32_t i = 0; i < f->n_em; i++)
    if (is_active(f, &f->em[i], now)) active++;
  if (active < 2) return 0;
  size_t need = active * PAT_SLOTS;
  if (need > f->cap_pscratch) {
    uint64_t *n = realloc(f->pscratch, need * sizeof *n);
    if (!n) return ALEC_ENOMEM;
    f->pscratch = n;
    f->cap_pscratch = need;
  }
  for (uint32_t i = 0; i < f->n_em; i++) {
    const emitter *e = &f->em[i];
    if (!is_active(f, e, now)) continue;
    for (int k = 0; k < PAT_SLOTS; k++)
      if (pat_learned(f, e, &e->pat[k])) f->pscratch[np++] = e->pat[k].bits;
  }
  /* Sorting groups equal patterns: each emitter contributes a value at most
   * once (its slots hold distinct values), so a run length is a count of
   * emitters. */
  qsort(f->pscratch, np, sizeof *f->pscratch, cmpu64);
  int promoted = 0;
  for (size_t i = 0; i < np;) {
    size_t j = i + 1;
    while (j < np && f->pscratch[j] == f->pscratch[i]) j++;
    if ((j - i) * 2 > active) {
      uint8_t data[8];
      alec_wr_be64(data, f->pscratch[i]);
      if (!fleet_has_pattern(f->fctx, data, 8)) {
        double v = alec_f64_from_bits(f->pscratch[i]);
        uint32_t code;
        int r = alec_context_register_pattern(f->fctx, data, 8, &v, &code);
        /* A full dictionary is the steady state of a long-running fleet,
         * not a failure: what was promoted stands. */
        if (r == ALEC_ENOSPC) break;
        if (r < 0) return promoted ? promoted : r;
        promoted++;
        f->st.patterns_promoted++;
      }
    }
    i = j;
  }
  return promoted;
}

alec_context *alec_fleet_context(alec_fleet *f) { return f ? f->fctx : NULL; }
const alec_context *alec_fleet_context_const(const alec_fleet *f) { return f ? f->fctx : NULL; }

int alec_fleet_export_context(const alec_fleet *f, const char *path) {
  if (!f || !path) return ALEC_EINVAL;
  return alec_preload_save_file(f->fctx, path, "fleet", 0, f->st.values);
}

int alec_fleet_import_context(alec_fleet *f, const char *path) {
  if (!f || !path) return ALEC_EINVAL;
  return alec_preload_load_file(f->fctx, path, NULL);
}
