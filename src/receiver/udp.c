/* SPDX-License-Identifier: MIT */
/* UDP transport (udp.h). Like collectd's network plugin, the receive thread
 * never blocks on anything but poll(): a full queue is a counted drop. */
#define _GNU_SOURCE /* recvmmsg */

#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alec/downlink.h"
#include "alec/error.h"

#define MAX_SOCKETS 64
#define BURST 64 /* datagrams per recvmmsg */

struct alec_udp {
  alec_rx *rx;
  const alec_plugin_config *cfg;
  int fds[MAX_SOCKETS];
  int level[MAX_SOCKETS]; /* SecurityLevel of each socket's Listen */
  size_t n_fds;
  int wake[2];
  pthread_t thread;
  int started;
  atomic_int stop;
};

/* `where` of a UDP reply: the socket, then the sender's address. */
typedef struct udp_where {
  int fd;
  socklen_t len;
  struct sockaddr_storage to;
} udp_where;
_Static_assert(sizeof(udp_where) <= ALEC_RX_REPLY_MAX, "a UDP reply must fit alec_rx_reply");

static int send_reply(void *ctx, const uint8_t *where, size_t where_len, const uint64_t *ids, unsigned n, int bare) {
  (void)ctx;
  if (where_len != sizeof(udp_where)) return ALEC_EINVAL;
  udp_where w;
  memcpy(&w, where, sizeof w);
  uint8_t buf[1 + 64 * ALEC_DOWNLINK_RECORD_MAX];
  size_t len;
  if (bare) {
    /* What the reference's downlink handler takes: the command byte alone. */
    buf[0] = ALEC_DOWNLINK_KEYFRAME;
    len = 1;
  } else {
    alec_downlink_record recs[64];
    if (n > 64) n = 64;
    for (unsigned i = 0; i < n; i++) {
      recs[i].emitter = ids[i];
      recs[i].command = ALEC_DOWNLINK_KEYFRAME;
    }
    int l = alec_downlink_write(buf, sizeof buf, recs, n);
    if (l <= 0) return l < 0 ? l : ALEC_EINVAL;
    len = (size_t)l;
  }
  ssize_t sent;
  do {
    sent = sendto(w.fd, buf, len, 0, (const struct sockaddr *)&w.to, w.len);
  } while (sent < 0 && errno == EINTR);
  return sent < 0 ? ALEC_EIO : (int)sent;
}

void alec_udp_reply_init(alec_rx_reply *r, int fd, const struct sockaddr *to, socklen_t tolen) {
  udp_where w;
  memset(&w, 0, sizeof w);
  w.fd = fd;
  w.len = tolen <= sizeof w.to ? tolen : 0;
  memcpy(&w.to, to, w.len);
  r->send = send_reply;
  r->ctx = NULL;
  r->where_len = sizeof w;
  memcpy(r->where, &w, sizeof w);
}

static int open_listen(alec_udp *u, const alec_pc_listen *l) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  int gai = getaddrinfo(l->node, l->service, &hints, &res);
  if (gai != 0) {
    alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "option `Listen' \"%s\" \"%s\": %s", l->node, l->service,
                gai_strerror(gai));
    return -1;
  }
  int status = 0;
  for (struct addrinfo *ai = res; ai && status == 0; ai = ai->ai_next) {
    if (u->n_fds >= MAX_SOCKETS) {
      alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "option `Listen': more than %d sockets", MAX_SOCKETS);
      status = -1;
      break;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "option `Listen' \"%s\" \"%s\": socket: %s", l->node, l->service,
                  strerror(errno));
      status = -1;
      break;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (ai->ai_family == AF_INET6) {
      /* "::" means IPv6 only, so "0.0.0.0" can be listed next to it. */
      int one = 1;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (u->cfg->receive_buffer > 0) {
      int sz = u->cfg->receive_buffer;
      /* FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN. */
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0 &&
          setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) != 0)
        alec_rx_log(u->rx, ALEC_RX_LOG_WARNING, "option `ReceiveBufferSize' %d: %s", sz, strerror(errno));
      int got = 0;
      socklen_t gl = sizeof got;
      if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got < sz)
        alec_rx_log(u->rx, ALEC_RX_LOG_WARNING,
                    "option `ReceiveBufferSize': asked for %d bytes, the kernel gave %d (raise net.core.rmem_max "
                    "or run as root)",
                    sz, got);
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "option `Listen' \"%s\" \"%s\": bind: %s", l->node, l->service,
                  strerror(errno));
      close(fd);
      status = -1;
      break;
    }
    u->level[u->n_fds] = l->security;
    u->fds[u->n_fds++] = fd;
    alec_rx_log(u->rx, ALEC_RX_LOG_INFO, "listening on %s port %s", l->node, l->service);
  }
  freeaddrinfo(res);
  return status;
}

int alec_udp_open(alec_udp **out, const alec_plugin_config *cfg, alec_rx *rx) {
  *out = NULL;
  alec_udp *u = calloc(1, sizeof(*u));
  if (u == NULL) return -1;
  u->rx = rx;
  u->cfg = cfg;
  u->wake[0] = u->wake[1] = -1;
  if (pipe(u->wake) != 0) {
    alec_rx_log(rx, ALEC_RX_LOG_ERROR, "pipe: %s", strerror(errno));
    u->wake[0] = u->wake[1] = -1;
    alec_udp_free(u);
    return -1;
  }
  for (size_t i = 0; i < cfg->n_listen; i++)
    if (open_listen(u, &cfg->listen[i]) != 0) {
      alec_udp_free(u);
      return -1;
    }
  *out = u;
  return 0;
}

static void read_socket(alec_udp *u, int fd, int level, uint8_t (*bufs)[ALEC_UDP_DATAGRAM_MAX + 1]) {
  alec_rx_ingress *in = alec_rx_ingress_counters(u->rx);
  struct mmsghdr hdr[BURST];
  struct iovec iov[BURST];
  struct sockaddr_storage from[BURST];
  /* A few bursts per wake-up, then back to poll(), so one busy socket
   * cannot starve the others. */
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < BURST; i++) {
      /* One byte more than we accept, so MSG_TRUNC tells oversized apart. */
      iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = ALEC_UDP_DATAGRAM_MAX + 1};
      memset(&hdr[i], 0, sizeof hdr[i]);
      hdr[i].msg_hdr.msg_iov = &iov[i];
      hdr[i].msg_hdr.msg_iovlen = 1;
      hdr[i].msg_hdr.msg_name = &from[i];
      hdr[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int got = recvmmsg(fd, hdr, BURST, MSG_DONTWAIT, NULL);
    if (got <= 0) {
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        alec_rx_log(u->rx, ALEC_RX_LOG_WARNING, "recvmmsg failed: %s", strerror(errno));
      return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double t = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
    alec_rx_msg *msgs[BURST];
    size_t n = 0;
    for (int i = 0; i < got; i++) {
      size_t len = hdr[i].msg_len;
      if ((hdr[i].msg_hdr.msg_flags & MSG_TRUNC) || len > ALEC_UDP_DATAGRAM_MAX) {
        atomic_fetch_add_explicit(&in->messages, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&in->oversized, 1, memory_order_relaxed);
        continue;
      }
      alec_rx_msg *m = alec_rx_msg_new(len);
      if (m == NULL) {
        atomic_fetch_add_explicit(&in->queue_drops, 1, memory_order_relaxed);
        continue;
      }
      m->kind = ALEC_RX_DATAGRAM;
      m->security = (uint8_t)level;
      m->received = t;
      memcpy(&m->from, &from[i], sizeof from[i]);
      m->from_len = hdr[i].msg_hdr.msg_namelen;
      alec_udp_reply_init(&m->reply, fd, (const struct sockaddr *)&from[i], m->from_len);
      memcpy(m->data, bufs[i], len);
      msgs[n++] = m;
    }
    alec_rx_submit(u->rx, msgs, n);
    if (got < BURST) return;
  }
}

static void *recv_main(void *arg) {
  alec_udp *u = arg;
  struct pollfd pfd[MAX_SOCKETS + 1];
  size_t npfd = 0;
  for (size_t i = 0; i < u->n_fds; i++) pfd[npfd++] = (struct pollfd){.fd = u->fds[i], .events = POLLIN};
  pfd[npfd++] = (struct pollfd){.fd = u->wake[0], .events = POLLIN};
  uint8_t(*bufs)[ALEC_UDP_DATAGRAM_MAX + 1] = malloc(BURST * sizeof *bufs);
  if (bufs == NULL) {
    alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "receive thread: out of memory");
    return NULL;
  }
  while (!atomic_load(&u->stop)) {
    int rc = poll(pfd, (nfds_t)npfd, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "poll failed: %s", strerror(errno));
      break;
    }
    if (pfd[npfd - 1].revents) break; /* shutdown */
    for (size_t i = 0; i + 1 < npfd; i++)
      if (pfd[i].revents & (POLLIN | POLLERR)) read_socket(u, pfd[i].fd, u->level[i], bufs);
  }
  free(bufs);
  return NULL;
}

int alec_udp_start(alec_udp *u, alec_rx_spawn_fn spawn) {
  atomic_store(&u->stop, 0);
  if (spawn(&u->thread, recv_main, u, "alec recv") != 0) {
    alec_rx_log(u->rx, ALEC_RX_LOG_ERROR, "cannot start the receive thread");
    return -1;
  }
  u->started = 1;
  return 0;
}

void alec_udp_stop(alec_udp *u) {
  if (u == NULL) return;
  atomic_store(&u->stop, 1);
  if (u->started) {
    char c = 1;
    /* The receive thread sleeps in poll(): the pipe is its wake-up. */
    if (write(u->wake[1], &c, 1) < 0) alec_rx_log(u->rx, ALEC_RX_LOG_WARNING, "wake write: %s", strerror(errno));
    pthread_join(u->thread, NULL);
    u->started = 0;
  }
}

void alec_udp_free(alec_udp *u) {
  if (u == NULL) return;
  alec_udp_stop(u);
  for (size_t i = 0; i < u->n_fds; i++) close(u->fds[i]);
  for (int i = 0; i < 2; i++)
    if (u->wake[i] >= 0) close(u->wake[i]);
  free(u);
}
