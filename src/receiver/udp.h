/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_UDP_H
#define ALEC_RECEIVER_UDP_H

/* The UDP transport: the Listen sockets, and a receive thread that only
 * reads datagrams (recvmmsg, a burst per system call) and hands them to the
 * receiver's queue as ALEC_RX_DATAGRAM messages. Keyframe requests go back
 * from the socket a datagram arrived on to its sender (docs/ENVELOPE.md). */

#include <sys/socket.h>

#include "config.h"
#include "receiver.h"

/* Larger datagrams are rejected as oversized: batches should stay within
 * the path MTU, and this bounds the copy the receive thread makes. */
#define ALEC_UDP_DATAGRAM_MAX 8192

typedef struct alec_udp alec_udp;

/* Binds every Listen of cfg. 0, or -1 (logged through the receiver). */
int alec_udp_open(alec_udp **out, const alec_plugin_config *cfg, alec_rx *rx);
int alec_udp_start(alec_udp *u, alec_rx_spawn_fn spawn);
/* Stops the receive thread and closes the sockets. Idempotent. */
void alec_udp_stop(alec_udp *u);
void alec_udp_free(alec_udp *u);

/* A reply handle that sends keyframe requests from `fd` to `to`. */
void alec_udp_reply_init(alec_rx_reply *r, int fd, const struct sockaddr *to, socklen_t tolen);

#endif
