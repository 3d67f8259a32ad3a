/* SPDX-License-Identifier: MIT */
/* sendraw: sends arbitrary bytes as UDP datagrams, for the hostile-input
 * integration test (alec-send only ever sends well-formed envelopes).
 *
 *   sendraw --to HOST:PORT --hex [FILE]       one datagram per line of hex
 *                                             ("-" or a blank line: empty datagram;
 *                                             '#' starts a comment line)
 *   sendraw --to HOST:PORT --random N [--seed S] [--max-len L]
 *                                             N datagrams of 0..L random bytes
 *   [--gap-us U]                              pause between datagrams (default 200)
 *
 * Prints "sent=N bytes=B" on success. */

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DGRAM_MAX 65507

static int open_socket(const char *to) {
  char host[256];
  const char *colon = strrchr(to, ':');
  if (colon == NULL || colon == to || (size_t)(colon - to) >= sizeof(host))
    return -1;
  memcpy(host, to, (size_t)(colon - to));
  host[colon - to] = '\0';
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
    return -1;
  int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Hex digits with optional blanks between bytes; -1 on anything else. */
static long parse_hex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (*s != '\0') {
    if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
      s++;
      continue;
    }
    int hi = hexval((unsigned char)s[0]);
    int lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
    if (lo < 0 || n == cap)
      return -1;
    out[n++] = (uint8_t)(hi << 4 | lo);
    s += 2;
  }
  return (long)n;
}

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64: reproducible from --seed */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static void pause_us(unsigned long us) {
  if (us == 0)
    return;
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  const char *to = NULL, *file = NULL;
  int hex = 0;
  unsigned long random_n = 0, max_len = 64, gap_us = 200;
  uint64_t seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--hex") == 0) {
      hex = 1;
      if (i + 1 < argc && argv[i + 1][0] != '-')
        file = argv[++i];
      continue;
    }
    if (i + 1 >= argc)
      goto usage;
    const char *v = argv[++i];
    char *end = NULL;
    if (strcmp(a, "--to") == 0) {
      to = v;
      continue;
    }
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (errno != 0 || end == v || *end != '\0')
      goto usage;
    if (strcmp(a, "--random") == 0)
      random_n = (unsigned long)n;
    else if (strcmp(a, "--seed") == 0)
      seed = (uint64_t)n;
    else if (strcmp(a, "--max-len") == 0 && n <= DGRAM_MAX)
      max_len = (unsigned long)n;
    else if (strcmp(a, "--gap-us") == 0 && n <= 1000000)
      gap_us = (unsigned long)n;
    else
      goto usage;
  }
  if (to == NULL || (hex == 0) == (random_n == 0))
    goto usage;

  int fd = open_socket(to);
  if (fd < 0) {
    fprintf(stderr, "sendraw: cannot reach %s\n", to);
    return 1;
  }
  static uint8_t buf[DGRAM_MAX];
  unsigned long sent = 0;
  uint64_t bytes = 0;
  if (hex) {
    FILE *in = stdin;
    if (file != NULL && (in = fopen(file, "r")) == NULL) {
      fprintf(stderr, "sendraw: %s: %s\n", file, strerror(errno));
      close(fd);
      return 1;
    }
    static char line[2 * DGRAM_MAX + 64];
    unsigned long lineno = 0;
    while (fgets(line, sizeof(line), in) != NULL) {
      lineno++;
      if (line[0] == '#')
        continue;
      long n = strcmp(line, "-\n") == 0 || strcmp(line, "-") == 0
                   ? 0
                   : parse_hex(line, buf, sizeof(buf));
      if (n < 0) {
        fprintf(stderr, "sendraw: line %lu: not hex\n", lineno);
        if (in != stdin)
          fclose(in);
        close(fd);
        return 1;
      }
      /* ECONNREFUSED from an earlier ICMP error is not this datagram's. */
      if (send(fd, buf, (size_t)n, 0) < 0 && errno != ECONNREFUSED)
        fprintf(stderr, "sendraw: send: %s\n", strerror(errno));
      sent++;
      bytes += (uint64_t)n;
      pause_us(gap_us);
    }
    if (in != stdin)
      fclose(in);
  } else {
    rng_state = seed;
    for (unsigned long k = 0; k < random_n; k++) {
      size_t n = (size_t)(rng() % (max_len + 1));
      for (size_t j = 0; j < n; j++)
        buf[j] = (uint8_t)rng();
      if (send(fd, buf, n, 0) < 0 && errno != ECONNREFUSED)
        fprintf(stderr, "sendraw: send: %s\n", strerror(errno));
      sent++;
      bytes += n;
      pause_us(gap_us);
    }
  }
  close(fd);
  printf("sent=%lu bytes=%" PRIu64 "\n", sent, bytes);
  return 0;

usage:
  fprintf(stderr, "usage: sendraw --to HOST:PORT (--hex [FILE] | --random N [--seed S] "
                  "[--max-len L]) [--gap-us U]\n");
  return 2;
}
