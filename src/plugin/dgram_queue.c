/* SPDX-License-Identifier: MIT */
/* Lock-free SPSC ring (C11 atomics). head and tail run freely and are
 * reduced with the mask, so tail - head is the count even across wrap. */

#include "dgram_queue.h"

#include <stdlib.h>

#include "alec/error.h"

int alec_dq_init(alec_dgram_queue *q, size_t length, size_t max_bytes) {
  if (length == 0 || length > ((size_t)1 << 30)) return ALEC_EINVAL;
  size_t slots = 1;
  while (slots < length) slots <<= 1;
  q->slots = calloc(slots, sizeof(*q->slots));
  if (q->slots == NULL) return ALEC_ENOMEM;
  q->mask = slots - 1;
  q->length = length;
  q->max_bytes = max_bytes;
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  atomic_init(&q->bytes, 0);
  atomic_init(&q->sleeping, 0);
  q->interrupted = 0;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  /* Deadlines are monotonic: a clock step must not stall evaluations. */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&q->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0) {
    free(q->slots);
    q->slots = NULL;
    return ALEC_ENOMEM;
  }
  pthread_mutex_init(&q->lock, NULL);
  return 0;
}

void alec_dq_destroy(alec_dgram_queue *q) {
  if (q->slots == NULL) return;
  alec_dgram *d;
  while ((d = alec_dq_pop(q)) != NULL) free(d);
  free(q->slots);
  q->slots = NULL;
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
}

int alec_dq_push(alec_dgram_queue *q, alec_dgram *d) {
  size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  size_t head = atomic_load_explicit(&q->head, memory_order_acquire);
  if (tail - head >= q->length) return ALEC_ENOSPC;
  size_t bytes = atomic_load_explicit(&q->bytes, memory_order_relaxed);
  if (bytes + d->len > q->max_bytes) return ALEC_ENOSPC;
  atomic_fetch_add_explicit(&q->bytes, d->len, memory_order_relaxed);
  q->slots[tail & q->mask] = d;
  atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
  return 0;
}

alec_dgram *alec_dq_pop(alec_dgram_queue *q) {
  size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
  if (head == tail) return NULL;
  alec_dgram *d = q->slots[head & q->mask];
  q->slots[head & q->mask] = NULL;
  atomic_fetch_sub_explicit(&q->bytes, d->len, memory_order_relaxed);
  atomic_store_explicit(&q->head, head + 1, memory_order_release);
  return d;
}

size_t alec_dq_count(alec_dgram_queue *q) {
  size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
  size_t head = atomic_load_explicit(&q->head, memory_order_acquire);
  return tail - head;
}

void alec_dq_wake(alec_dgram_queue *q) {
  if (!atomic_load_explicit(&q->sleeping, memory_order_seq_cst)) return;
  if (pthread_mutex_trylock(&q->lock) == 0) {
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
  }
}

void alec_dq_interrupt(alec_dgram_queue *q) {
  pthread_mutex_lock(&q->lock);
  q->interrupted = 1;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

void alec_dq_wait(alec_dgram_queue *q, const struct timespec *deadline) {
  pthread_mutex_lock(&q->lock);
  atomic_store_explicit(&q->sleeping, 1, memory_order_seq_cst);
  /* Re-checked after announcing the sleep: a push before this point is
   * seen here, a push after it finds sleeping set and signals. */
  if (alec_dq_count(q) == 0 && !q->interrupted) pthread_cond_timedwait(&q->cond, &q->lock, deadline);
  atomic_store_explicit(&q->sleeping, 0, memory_order_relaxed);
  pthread_mutex_unlock(&q->lock);
}
