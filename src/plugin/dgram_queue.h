/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_DGRAM_QUEUE_H
#define ALEC_PLUGIN_DGRAM_QUEUE_H

/* Bounded single-producer single-consumer queue of received datagrams
 * between the plugin's receive thread and its dispatch thread. The producer
 * never blocks: a full queue (by count or by bytes) refuses the datagram and
 * the caller counts the drop. The consumer sleeps on a condition variable
 * with a timeout; the producer wakes it only through a trylock, so a wakeup
 * lost to lock contention costs at most the consumer's timeout. Independent
 * of collectd (tested by tests/check_plugin_config.c). */

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

typedef struct alec_dgram {
  struct timespec received; /* CLOCK_REALTIME */
  struct sockaddr_storage from;
  socklen_t from_len;
  int fd; /* socket it arrived on: keyframe requests go back through it */
  int listen_level; /* SecurityLevel of the receiving socket (alec_conf.h) */
  size_t len;
  uint8_t data[]; /* len bytes */
} alec_dgram;

typedef struct alec_dgram_queue {
  alec_dgram **slots;
  size_t mask;      /* slots - 1, slots a power of two >= length */
  size_t length;    /* most datagrams queued at once */
  size_t max_bytes; /* most payload bytes queued at once */
  _Atomic size_t head; /* consumer */
  _Atomic size_t tail; /* producer */
  _Atomic size_t bytes;
  _Atomic int sleeping;
  int interrupted; /* under lock; sticky: only shutdown interrupts */
  pthread_mutex_t lock;
  pthread_cond_t cond;
} alec_dgram_queue;

/* 0, ALEC_EINVAL (length 0), ALEC_ENOMEM. */
int alec_dq_init(alec_dgram_queue *q, size_t length, size_t max_bytes);
/* Frees the datagrams still queued. */
void alec_dq_destroy(alec_dgram_queue *q);
/* Producer: 0, or ALEC_ENOSPC (full; d stays the caller's). */
int alec_dq_push(alec_dgram_queue *q, alec_dgram *d);
/* Producer, after a burst of pushes: wakes a sleeping consumer. */
void alec_dq_wake(alec_dgram_queue *q);
/* Consumer: next datagram or NULL; the caller frees it with free(). */
alec_dgram *alec_dq_pop(alec_dgram_queue *q);
/* Consumer: sleeps until the queue is non-empty, alec_dq_wake() or
 * alec_dq_interrupt() is called, or `deadline` (CLOCK_MONOTONIC) passes. */
void alec_dq_wait(alec_dgram_queue *q, const struct timespec *deadline);
/* Any thread: wakes the consumer even when the queue is empty, now and in
 * every later alec_dq_wait() (shutdown). */
void alec_dq_interrupt(alec_dgram_queue *q);
size_t alec_dq_count(alec_dgram_queue *q);

#endif
