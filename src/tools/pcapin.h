/* SPDX-License-Identifier: MIT */
#ifndef ALEC_TOOLS_PCAPIN_H
#define ALEC_TOOLS_PCAPIN_H

/* One captured packet to the UDP datagram it carries, for alec-replay's
 * pcap input: link layer (Ethernet with up to two VLAN tags, Linux cooked
 * v1 and v2, raw IP, BSD loopback), IPv4 or IPv6 (extension headers
 * skipped), UDP to one destination port. Captures are hostile input: every
 * header length is checked against the captured bytes before it is read,
 * and a packet that is not a whole datagram for the port is refused with a
 * kind (counted by the caller). No libpcap here, so the fuzz target needs
 * nothing but this file. */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Link types, as pcap_datalink() reports them (DLT_*; the file's
 * LINKTYPE_RAW 101 reads back as DLT_RAW, 12 on Linux, 14 on OpenBSD). */
#define ALEC_PCAPIN_LINK_NULL 0
#define ALEC_PCAPIN_LINK_EN10MB 1
#define ALEC_PCAPIN_LINK_RAW 12
#define ALEC_PCAPIN_LINK_RAW_OPENBSD 14
#define ALEC_PCAPIN_LINK_RAW_FILE 101
#define ALEC_PCAPIN_LINK_LOOP 108
#define ALEC_PCAPIN_LINK_SLL 113
#define ALEC_PCAPIN_LINK_IPV4 228
#define ALEC_PCAPIN_LINK_IPV6 229
#define ALEC_PCAPIN_LINK_SLL2 276

/* Refusal kinds: X(NAME, snake_name, text). One table for the counters,
 * their names in the statistics line and the man page's list. */
#define ALEC_PCAPIN_KINDS(X)                                                      \
  X(LINK, unsupported_link, "link type not supported")                            \
  X(SNAPLEN, snaplen_cut, "packet cut by the capture's snapshot length")          \
  X(TRUNCATED, truncated, "headers longer than the packet")                       \
  X(LENGTH, bad_length, "IP or UDP length inconsistent with the packet")          \
  X(NOT_IP, not_ip, "not IPv4 or IPv6")                                           \
  X(FRAGMENT, fragment, "IP fragment not reassembled (incomplete, overlapping, too large)") \
  X(NOT_UDP, not_udp, "not UDP")                                                  \
  X(PORT, other_port, "UDP to another port")

enum {
  ALEC_PCAPIN_OK = 0,
#define ALEC_PCAPIN_X_(n, s, t) ALEC_PCAPIN_##n,
  ALEC_PCAPIN_KINDS(ALEC_PCAPIN_X_)
#undef ALEC_PCAPIN_X_
  ALEC_PCAPIN_KIND_END_
};
#define ALEC_PCAPIN_KIND_COUNT (ALEC_PCAPIN_KIND_END_ - 1)

/* The statistics name of kind k (1..ALEC_PCAPIN_KIND_COUNT), "?" otherwise. */
const char *alec_pcapin_kind_name(int k);

typedef struct alec_pcapin_dgram {
  const uint8_t *payload; /* into the packet */
  size_t len;
  struct sockaddr_storage from; /* sender address and port */
  socklen_t from_len;
} alec_pcapin_dgram;

/* The datagram of one packet of link type `link`: `caplen` bytes captured
 * of a packet `wirelen` long. ALEC_PCAPIN_OK with *d filled, or a kind
 * (IP fragments: ALEC_PCAPIN_FRAGMENT). */
int alec_pcapin_parse(int link, const uint8_t *pkt, size_t caplen, size_t wirelen, unsigned port,
                      alec_pcapin_dgram *d);

/* IP fragment reassembly (IPv4, and IPv6 fragment headers followed by
 * UDP): at most ALEC_PCAPIN_REASM_SLOTS datagrams under way, each at most
 * ALEC_PCAPIN_REASM_BYTES long (UDP header and the 8192 bytes the plugin's
 * UDP transport takes), keyed by addresses, protocol and identification.
 * Fragments that overlap (RFC 5722), go past that size or would not end a
 * datagram drop it; one not completed within ALEC_PCAPIN_REASM_TIMEOUT
 * seconds of capture time, or when a slot is needed, is dropped too. What
 * is dropped counts in `fragments_dropped`, in fragments. Fixed memory,
 * no work a packet's claims can grow: a linear scan of the slots. */
#define ALEC_PCAPIN_REASM_SLOTS 64
#define ALEC_PCAPIN_REASM_BYTES 8200
#define ALEC_PCAPIN_REASM_TIMEOUT 30.0
#define ALEC_PCAPIN_HELD (-1) /* a fragment kept until its datagram is whole */
typedef struct alec_pcapin_reasm alec_pcapin_reasm;
typedef struct alec_pcapin_reasm_stats {
  uint64_t fragments, reassembled, fragments_dropped;
} alec_pcapin_reasm_stats;

/* NULL when out of memory. */
alec_pcapin_reasm *alec_pcapin_reasm_new(void);
void alec_pcapin_reasm_free(alec_pcapin_reasm *r);
/* alec_pcapin_parse that reassembles fragments, `t` the packet's capture
 * time: ALEC_PCAPIN_HELD for a fragment kept, ALEC_PCAPIN_OK for a whole
 * datagram (d->payload valid until the next call), or a kind. */
int alec_pcapin_parse_frag(alec_pcapin_reasm *r, double t, int link, const uint8_t *pkt, size_t caplen,
                           size_t wirelen, unsigned port, alec_pcapin_dgram *d);
/* Drops what is still incomplete (the end of the capture) and fills *st. */
void alec_pcapin_reasm_finish(alec_pcapin_reasm *r, alec_pcapin_reasm_stats *st);

#endif
