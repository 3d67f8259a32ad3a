/* SPDX-License-Identifier: MIT */
/* Captured packet -> UDP datagram (pcapin.h). */
#define _DEFAULT_SOURCE /* htons, struct sockaddr_in6 */
#include "pcapin.h"

#include <netinet/in.h>
#include <string.h>

#include "alec/wire.h"

static const char *const kind_names[] = {
    "ok",
#define NAME_(n, s, t) #s,
    ALEC_PCAPIN_KINDS(NAME_)
#undef NAME_
};

const char *alec_pcapin_kind_name(int k) {
  return k >= 1 && k <= ALEC_PCAPIN_KIND_COUNT ? kind_names[k] : "?";
}

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD

/* What is missing past the captured bytes: cut by the snapshot length when
 * the packet was longer on the wire, else the packet itself is short. */
static int short_kind(size_t caplen, size_t wirelen) {
  return caplen < wirelen ? ALEC_PCAPIN_SNAPLEN : ALEC_PCAPIN_TRUNCATED;
}

/* The network-layer protocol and its offset, from the link header. */
static int link_layer(int link, const uint8_t *p, size_t caplen, size_t wirelen, unsigned *proto, size_t *off) {
  switch (link) {
  case ALEC_PCAPIN_LINK_EN10MB: {
    if (caplen < 14) return short_kind(caplen, wirelen);
    size_t o = 12;
    unsigned t = alec_rd_be16(p + o);
    /* 802.1Q and 802.1ad: at most two tags (QinQ), 4 bytes each. */
    for (int tags = 0; (t == 0x8100 || t == 0x88A8 || t == 0x9100) && tags < 2; tags++) {
      o += 4;
      if (caplen < o + 2) return short_kind(caplen, wirelen);
      t = alec_rd_be16(p + o);
    }
    *proto = t;
    *off = o + 2;
    return ALEC_PCAPIN_OK;
  }
  case ALEC_PCAPIN_LINK_SLL:
    if (caplen < 16) return short_kind(caplen, wirelen);
    *proto = alec_rd_be16(p + 14);
    *off = 16;
    return ALEC_PCAPIN_OK;
  case ALEC_PCAPIN_LINK_SLL2:
    if (caplen < 20) return short_kind(caplen, wirelen);
    *proto = alec_rd_be16(p);
    *off = 20;
    return ALEC_PCAPIN_OK;
  case ALEC_PCAPIN_LINK_NULL:
  case ALEC_PCAPIN_LINK_LOOP: {
    if (caplen < 4) return short_kind(caplen, wirelen);
    /* The sender's AF_ value: host byte order (NULL, whichever host wrote
     * the file) or network order (LOOP); either way the low byte is in one
     * of the two ends. AF_INET6 differs between systems: 10 Linux, 24
     * NetBSD/OpenBSD, 28 FreeBSD, 30 macOS. */
    uint32_t be = alec_rd_be32(p);
    uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t af = link == ALEC_PCAPIN_LINK_LOOP ? be : (be < 256 ? be : le);
    if (af == 2) *proto = ETH_IPV4;
    else if (af == 10 || af == 24 || af == 28 || af == 30) *proto = ETH_IPV6;
    else *proto = 0;
    *off = 4;
    return ALEC_PCAPIN_OK;
  }
  case ALEC_PCAPIN_LINK_RAW:
  case ALEC_PCAPIN_LINK_RAW_OPENBSD:
  case ALEC_PCAPIN_LINK_RAW_FILE:
    if (caplen < 1) return short_kind(caplen, wirelen);
    *proto = (p[0] >> 4) == 4 ? ETH_IPV4 : (p[0] >> 4) == 6 ? ETH_IPV6 : 0;
    *off = 0;
    return ALEC_PCAPIN_OK;
  case ALEC_PCAPIN_LINK_IPV4:
    *proto = ETH_IPV4;
    *off = 0;
    return ALEC_PCAPIN_OK;
  case ALEC_PCAPIN_LINK_IPV6:
    *proto = ETH_IPV6;
    *off = 0;
    return ALEC_PCAPIN_OK;
  default:
    return ALEC_PCAPIN_LINK;
  }
}

int alec_pcapin_parse(int link, const uint8_t *pkt, size_t caplen, size_t wirelen, unsigned port,
                      alec_pcapin_dgram *d) {
  memset(d, 0, sizeof *d);
  /* More captured than sent is a forged record header: nothing in it can
   * be trusted to mean what it says. */
  if (caplen > wirelen) return ALEC_PCAPIN_LENGTH;
  unsigned proto;
  size_t off;
  int rc = link_layer(link, pkt, caplen, wirelen, &proto, &off);
  if (rc != ALEC_PCAPIN_OK) return rc;
  const uint8_t *ip = pkt + off;
  size_t cap = caplen - off;        /* captured bytes from the IP header on */
  size_t wire = wirelen - off;      /* the same on the wire */
  size_t l4_off, l4_len;            /* UDP header and what the IP header says it spans */
  if (proto == ETH_IPV4) {
    if (cap < 20) return short_kind(cap, wire);
    if ((ip[0] >> 4) != 4) return ALEC_PCAPIN_NOT_IP;
    size_t ihl = (size_t)(ip[0] & 0x0F) * 4;
    size_t total = alec_rd_be16(ip + 2);
    if (ihl < 20 || total < ihl || total > wire) return ALEC_PCAPIN_LENGTH;
    if (cap < ihl) return short_kind(cap, wire);
    unsigned frag = alec_rd_be16(ip + 6);
    /* MF set or a non-zero offset: a piece of a datagram. */
    if (frag & 0x3FFF) return ALEC_PCAPIN_FRAGMENT;
    if (ip[9] != 17) return ALEC_PCAPIN_NOT_UDP;
    struct sockaddr_in *sin = (struct sockaddr_in *)&d->from;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, ip + 12, 4);
    d->from_len = sizeof *sin;
    l4_off = ihl;
    l4_len = total - ihl;
  } else if (proto == ETH_IPV6) {
    if (cap < 40) return short_kind(cap, wire);
    if ((ip[0] >> 4) != 6) return ALEC_PCAPIN_NOT_IP;
    size_t plen = alec_rd_be16(ip + 4);
    /* 0 is a jumbogram's (hop-by-hop option): not a UDP datagram we take. */
    if (plen == 0 || 40 + plen > wire) return ALEC_PCAPIN_LENGTH;
    unsigned next = ip[6];
    size_t o = 40, end = 40 + plen;
    /* Extension headers before UDP: hop-by-hop, routing, destination
     * options (8-byte units after the first 8); a fragment header means a
     * piece. At most a few, so a chain of them cannot make work. */
    for (int hops = 0; next != 17; hops++) {
      if (next == 44) return ALEC_PCAPIN_FRAGMENT;
      if ((next != 0 && next != 43 && next != 60) || hops >= 8) return ALEC_PCAPIN_NOT_UDP;
      if (o + 8 > end) return ALEC_PCAPIN_LENGTH;
      if (cap < o + 8) return short_kind(cap, wire);
      size_t hl = 8 + (size_t)ip[o + 1] * 8;
      if (o + hl > end) return ALEC_PCAPIN_LENGTH;
      next = ip[o];
      o += hl;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->from;
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, ip + 8, 16);
    d->from_len = sizeof *sin6;
    l4_off = o;
    l4_len = end - o;
  } else {
    return ALEC_PCAPIN_NOT_IP;
  }
  if (l4_len < 8) return ALEC_PCAPIN_LENGTH;
  if (cap < l4_off + 8) return short_kind(cap, wire);
  const uint8_t *udp = ip + l4_off;
  size_t ulen = alec_rd_be16(udp + 4);
  /* Ethernet pads short frames: the UDP length may be below what IP
   * spans, never above. */
  if (ulen < 8 || ulen > l4_len) return ALEC_PCAPIN_LENGTH;
  if (alec_rd_be16(udp + 2) != port) return ALEC_PCAPIN_PORT;
  if (cap < l4_off + ulen) return short_kind(cap, wire);
  uint16_t sport = alec_rd_be16(udp);
  if (d->from.ss_family == AF_INET) ((struct sockaddr_in *)&d->from)->sin_port = htons(sport);
  else ((struct sockaddr_in6 *)&d->from)->sin6_port = htons(sport);
  d->payload = udp + 8;
  d->len = ulen - 8;
  return ALEC_PCAPIN_OK;
}
