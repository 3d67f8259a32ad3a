/* SPDX-License-Identifier: MIT */
/* The receiver's per-emitter table (em_slot): lookup, creation, pruning,
 * the host and channel names an emitter is reported under, its group. */

#include "receiver_int.h"

/* <Emitter> blocks win over the EmitterFile. */
const alec_pc_emitter *alec_rx__find(const alec_rx *rx, uint64_t id) {
  const alec_pc_emitter *em = alec_pc_find_emitter(rx->cfg, id);
  return em ? em : alec_ef_find(&rx->ef, id);
}

const alec_pc_emitter *alec_rx_find_emitter(const alec_rx *rx, uint64_t id) { return alec_rx__find(rx, id); }

/* ---- per-emitter table ---------------------------------------------------- */

static em_slot *slot_probe(em_slot *t, size_t mask, uint64_t id) {
  size_t i = (size_t)alec_hash_id(id) & mask;
  for (;;) {
    em_slot *s = &t[i];
    if (!s->used || s->id == id) return s;
    i = (i + 1) & mask;
  }
}

/* The record of `id`; with `create`, a new one (seen 0) unless the table is
 * full for it: an emitter without configuration (`configured` 0) finds no
 * room once MaxEmitters of them are remembered (the fleet would refuse it
 * too), a configured one only when the whole table is full, which its
 * sizing (alec_rx_new) leaves for configuration changes between prunes. */
em_slot *alec_rx__em_find(alec_rx *rx, uint64_t id, int create, int configured) {
  em_slot *s = slot_probe(rx->ems, rx->ems_mask, id);
  if (s->used) return s;
  if (!create || rx->ems_used >= rx->ems_limit) return NULL;
  if (!configured && rx->ems_unknown >= rx->cfg->max_emitters) return NULL;
  pthread_mutex_lock(&rx->host_lock);
  memset(s, 0, sizeof(*s));
  s->id = id;
  s->used = 1;
  pthread_mutex_unlock(&rx->host_lock);
  s->configured = configured != 0;
  rx->ems_used++;
  if (!configured) rx->ems_unknown++;
  return s;
}

/* Dispatch thread: the lock only when an emitter's host changes. */
void alec_rx__host_remember(alec_rx *rx, em_slot *s, const char *host) {
  uint64_t hh = alec_hash_str(host);
  if (s->host_hash == hh) return;
  size_t n = strlen(host) + 1;
  char *copy = malloc(n);
  if (copy == NULL) return;
  memcpy(copy, host, n);
  pthread_mutex_lock(&rx->host_lock);
  char *old = s->host;
  s->host = copy;
  pthread_mutex_unlock(&rx->host_lock);
  free(old);
  s->host_hash = hh;
}

void alec_rx__slot_free(em_slot *s) {
  free(s->lr);
  free(s->host);
}

/* Drops emitters not seen for 2 x EmitterTimeout (as the fleet does) by
 * rebuilding the table: linear probing has no cheap delete, and with a keyed
 * hash the rebuild is linear. Built aside and swapped under host_lock; the
 * dropped records are freed only then, since a reader may be copying a
 * device name out of the old table until the swap. */
void alec_rx__em_prune(alec_rx *rx, double now) {
  double keep = 2 * rx->cfg->emitter_timeout;
  size_t n = rx->ems_mask + 1, used = 0, unknown = 0;
  em_slot *old = rx->ems;
  em_slot *fresh = calloc(n, sizeof(*fresh));
  if (fresh == NULL) return;
  for (size_t i = 0; i < n; i++) {
    if (!old[i].used || now - old[i].seen > keep) continue;
    em_slot *s = slot_probe(fresh, rx->ems_mask, old[i].id);
    *s = old[i];
    /* The EmitterFile may have changed since the slot was made. */
    s->configured = alec_rx__find(rx, s->id) != NULL;
    used++;
    unknown += !s->configured;
  }
  pthread_mutex_lock(&rx->host_lock);
  rx->ems = fresh;
  pthread_mutex_unlock(&rx->host_lock);
  rx->ems_used = used;
  rx->ems_unknown = unknown;
  for (size_t i = 0; i < n; i++) {
    if (!old[i].used || !(now - old[i].seen > keep)) continue;
    /* Group assignments the receiver made go with the emitter: the fleet
     * bounds them by MaxEmitters. */
    if ((old[i].trust & EM_APART) || old[i].group) {
      const alec_pc_emitter *em = alec_rx__find(rx, old[i].id);
      if (em == NULL || em->group[0] == '\0') {
        pthread_mutex_lock(&rx->fleet_lock);
        alec_fleet_clear_emitter_group(rx->fleet, old[i].id);
        pthread_mutex_unlock(&rx->fleet_lock);
      }
    }
    alec_rx__slot_free(&old[i]);
  }
  free(old);
}

void alec_rx__emitter_host(const alec_rx *rx, const alec_pc_emitter *em, const alec_rx_msg *m, uint64_t id, char *out,
                         size_t cap) {
  (void)rx;
  if (em) snprintf(out, cap, "%s", em->host);
  else if (m && m->host[0]) snprintf(out, cap, "%s", m->host);
  else alec_pc_default_host(id, out, cap);
}

const alec_pc_chanmap *alec_rx_emitter_map(const alec_rx *rx, uint64_t id) {
  const alec_pc_emitter *em = alec_rx__find(rx, id);
  if (em) return em->map;
  if (rx->ems == NULL) return NULL;
  alec_rx *w = (alec_rx *)rx; /* the lock only */
  pthread_mutex_lock(&w->host_lock);
  const em_slot *s = slot_probe(rx->ems, rx->ems_mask, id);
  const alec_pc_chanmap *map = s->used ? s->map : NULL;
  pthread_mutex_unlock(&w->host_lock);
  return map;
}

/* Group events are rare (fleet shifts, silence): a scan of the table. */
const alec_pc_chanmap *alec_rx_group_map(const alec_rx *rx, const char *group, uint32_t ch) {
  if (rx->ems == NULL || group == NULL) return NULL;
  uint64_t h = alec_hash_str(group); /* 0: emitters that metadata placed in no group */
  const alec_pc_chanmap *map = NULL;
  alec_rx *w = (alec_rx *)rx;
  pthread_mutex_lock(&w->host_lock);
  for (size_t i = 0; i <= rx->ems_mask && map == NULL; i++) {
    const em_slot *s = &rx->ems[i];
    if (s->used && s->group == h && s->map && alec_pc_channel_find(s->map, ch)) map = s->map;
  }
  pthread_mutex_unlock(&w->host_lock);
  return map;
}

void alec_rx_emitter_host(const alec_rx *rx, uint64_t id, char *out, size_t cap) {
  const alec_pc_emitter *em = alec_rx__find(rx, id);
  if (em == NULL && rx->ems) {
    alec_rx *w = (alec_rx *)rx; /* the lock only */
    pthread_mutex_lock(&w->host_lock);
    const em_slot *s = slot_probe(rx->ems, rx->ems_mask, id);
    int found = s->used && s->host;
    if (found) snprintf(out, cap, "%s", s->host);
    pthread_mutex_unlock(&w->host_lock);
    if (found) return;
  }
  alec_rx__emitter_host(rx, em, NULL, id, out, cap);
}


/* Peer group from the network server's metadata, for emitters without a
 * configured Group: applied when it first appears or changes. */
void alec_rx__apply_group(alec_rx *rx, const alec_pc_emitter *em, em_slot *s, uint64_t id, const char *group) {
  if ((em && em->group[0]) || group[0] == '\0' || s == NULL) return;
  uint64_t h = alec_hash_str(group);
  if (h == s->group) return;
  pthread_mutex_lock(&rx->fleet_lock);
  int rc = alec_fleet_set_emitter_group(rx->fleet, id, group);
  pthread_mutex_unlock(&rx->fleet_lock);
  if (rc == 0) s->group = h;
  else alec_rx_log(rx, ALEC_RX_LOG_WARNING, "emitter %016" PRIx64 ": group \"%s\" from metadata: %s", id, group,
                   alec_strerror(rc));
}
