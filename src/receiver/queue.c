/* SPDX-License-Identifier: MIT */
/* A mutex-protected list: producers are several (one thread per transport)
 * and take the lock once per burst, the consumer once per batch, so the
 * lock is cheap next to the wake-ups it saves. Every wake-up is decided
 * under the lock, so none can be lost. */

#include "queue.h"

#include <stdlib.h>
#include <string.h>

#include "alec/error.h"

alec_rx_msg *alec_rx_msg_new(size_t len) {
  alec_rx_msg *m = malloc(sizeof(*m) + len);
  if (m == NULL) return NULL;
  memset(m, 0, sizeof(*m));
  m->fport = -1;
  m->len = len;
  return m;
}

int alec_rxq_init(alec_rxq *q, size_t length, size_t max_bytes) {
  memset(q, 0, sizeof(*q));
  if (length == 0 || length > ((size_t)1 << 30)) return ALEC_EINVAL;
  q->length = length;
  q->max_bytes = max_bytes;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  /* Deadlines are monotonic: a clock step must not stall evaluations. */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&q->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0) return ALEC_ENOMEM;
  pthread_mutex_init(&q->lock, NULL);
  q->ready = 1;
  return 0;
}

void alec_rxq_destroy(alec_rxq *q) {
  if (!q->ready) return;
  alec_rx_msg *m = alec_rxq_take_now(q);
  while (m) {
    alec_rx_msg *next = m->next;
    free(m);
    m = next;
  }
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
  q->ready = 0;
}

size_t alec_rxq_push(alec_rxq *q, alec_rx_msg *const *msgs, size_t n) {
  size_t done = 0;
  pthread_mutex_lock(&q->lock);
  for (; done < n; done++) {
    alec_rx_msg *m = msgs[done];
    if (q->count >= q->length || q->bytes + m->len > q->max_bytes) break;
    m->next = NULL;
    if (q->tail) q->tail->next = m;
    else q->head = m;
    q->tail = m;
    q->count++;
    q->bytes += m->len;
  }
  if (done && ((q->waiting == 1) || (q->waiting == 2 && q->count >= ALEC_RXQ_BATCH))) {
    q->waiting = 0;
    pthread_cond_signal(&q->cond);
  }
  pthread_mutex_unlock(&q->lock);
  return done;
}

static alec_rx_msg *take_locked(alec_rxq *q) {
  alec_rx_msg *m = q->head;
  q->head = q->tail = NULL;
  q->count = q->bytes = 0;
  return m;
}

alec_rx_msg *alec_rxq_take_now(alec_rxq *q) {
  pthread_mutex_lock(&q->lock);
  alec_rx_msg *m = take_locked(q);
  pthread_mutex_unlock(&q->lock);
  return m;
}

static int ts_before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

alec_rx_msg *alec_rxq_take(alec_rxq *q, const struct timespec *deadline) {
  pthread_mutex_lock(&q->lock);
  if (q->count == 0 && !q->interrupted) {
    q->waiting = 1;
    while (q->count == 0 && !q->interrupted && q->waiting == 1)
      if (pthread_cond_timedwait(&q->cond, &q->lock, deadline) != 0) break;
  }
  if (q->count > 0 && q->count < ALEC_RXQ_BATCH && !q->interrupted) {
    /* Gather: more messages usually follow the first within a millisecond,
     * one wake-up then serves them all. Never past the caller's deadline. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += ALEC_RXQ_GATHER_NS;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    if (ts_before(deadline, &until)) until = *deadline;
    q->waiting = 2;
    while (q->count < ALEC_RXQ_BATCH && !q->interrupted && q->waiting == 2)
      if (pthread_cond_timedwait(&q->cond, &q->lock, &until) != 0) break;
  }
  q->waiting = 0;
  alec_rx_msg *m = take_locked(q);
  pthread_mutex_unlock(&q->lock);
  return m;
}

void alec_rxq_interrupt(alec_rxq *q) {
  pthread_mutex_lock(&q->lock);
  q->interrupted = 1;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

size_t alec_rxq_count(alec_rxq *q) {
  pthread_mutex_lock(&q->lock);
  size_t n = q->count;
  pthread_mutex_unlock(&q->lock);
  return n;
}
