/* SPDX-License-Identifier: MIT */
/* Captured packet -> UDP datagram (pcapin.h). */
#define _DEFAULT_SOURCE /* htons, struct sockaddr_in6 */
#include "pcapin.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
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

/* A fragment's place in its datagram, filled by parse() for IP fragments. */
typedef struct frag_info {
  int v6;
  uint8_t src[16], dst[16];
  uint32_t id;
  unsigned proto;   /* IPv4: the protocol; IPv6: the next header after the fragment header */
  size_t offset;    /* bytes */
  int more;         /* MF */
  const uint8_t *data;
  size_t len;
} frag_info;

static int udp_datagram(const uint8_t *udp, size_t l4_len, size_t cap_l4, size_t wire_l4, unsigned port,
                        alec_pcapin_dgram *d);

static int parse(int link, const uint8_t *pkt, size_t caplen, size_t wirelen, unsigned port, alec_pcapin_dgram *d,
                 frag_info *fi) {
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
    if (frag & 0x3FFF) {
      if (!fi) return ALEC_PCAPIN_FRAGMENT;
      if (cap < total) return short_kind(cap, wire);
      memset(fi, 0, sizeof *fi);
      memcpy(fi->src, ip + 12, 4);
      memcpy(fi->dst, ip + 16, 4);
      fi->id = alec_rd_be16(ip + 4);
      fi->proto = ip[9];
      fi->offset = (size_t)(frag & 0x1FFF) * 8;
      fi->more = (frag & 0x2000) != 0;
      fi->data = ip + ihl;
      fi->len = total - ihl;
      return ALEC_PCAPIN_HELD;
    }
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
      if (next == 44) {
        if (!fi) return ALEC_PCAPIN_FRAGMENT;
        if (o + 8 > end) return ALEC_PCAPIN_LENGTH;
        if (cap < end) return short_kind(cap, wire);
        memset(fi, 0, sizeof *fi);
        fi->v6 = 1;
        memcpy(fi->src, ip + 8, 16);
        memcpy(fi->dst, ip + 24, 16);
        fi->proto = ip[o];
        unsigned of = alec_rd_be16(ip + o + 2);
        fi->offset = (size_t)(of >> 3) * 8;
        fi->more = of & 1;
        fi->id = alec_rd_be32(ip + o + 4);
        fi->data = ip + o + 8;
        fi->len = end - o - 8;
        return ALEC_PCAPIN_HELD;
      }
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
  return udp_datagram(ip + l4_off, l4_len, cap > l4_off ? cap - l4_off : 0, wire - l4_off, port, d);
}

/* The UDP header at udp, l4_len bytes by the IP header, cap_l4 of them
 * captured (wire_l4 on the wire); d->from's address is set. */
static int udp_datagram(const uint8_t *udp, size_t l4_len, size_t cap_l4, size_t wire_l4, unsigned port,
                        alec_pcapin_dgram *d) {
  if (l4_len < 8) return ALEC_PCAPIN_LENGTH;
  if (cap_l4 < 8) return short_kind(cap_l4, wire_l4);
  size_t ulen = alec_rd_be16(udp + 4);
  /* Ethernet pads short frames: the UDP length may be below what IP
   * spans, never above. */
  if (ulen < 8 || ulen > l4_len) return ALEC_PCAPIN_LENGTH;
  if (alec_rd_be16(udp + 2) != port) return ALEC_PCAPIN_PORT;
  if (cap_l4 < ulen) return short_kind(cap_l4, wire_l4);
  uint16_t sport = alec_rd_be16(udp);
  if (d->from.ss_family == AF_INET) ((struct sockaddr_in *)&d->from)->sin_port = htons(sport);
  else ((struct sockaddr_in6 *)&d->from)->sin6_port = htons(sport);
  d->payload = udp + 8;
  d->len = ulen - 8;
  return ALEC_PCAPIN_OK;
}

int alec_pcapin_parse(int link, const uint8_t *pkt, size_t caplen, size_t wirelen, unsigned port,
                      alec_pcapin_dgram *d) {
  return parse(link, pkt, caplen, wirelen, port, d, NULL);
}

/* ---- reassembly ---------------------------------------------------------------- */

#define BLOCKS ((ALEC_PCAPIN_REASM_BYTES + 7) / 8)

typedef struct slot {
  int used, v6;
  uint8_t src[16], dst[16];
  uint32_t id;
  unsigned proto;
  double first;        /* capture time of its first fragment */
  size_t total;        /* known once the last fragment came (0: not yet) */
  uint64_t fragments;  /* held so far */
  uint64_t have[(BLOCKS + 63) / 64];
  uint8_t buf[ALEC_PCAPIN_REASM_BYTES];
} slot;

struct alec_pcapin_reasm {
  slot s[ALEC_PCAPIN_REASM_SLOTS];
  alec_pcapin_reasm_stats st;
  uint8_t out[ALEC_PCAPIN_REASM_BYTES]; /* the datagram last completed */
};

alec_pcapin_reasm *alec_pcapin_reasm_new(void) { return calloc(1, sizeof(alec_pcapin_reasm)); }

void alec_pcapin_reasm_free(alec_pcapin_reasm *r) { free(r); }

static void drop_slot(alec_pcapin_reasm *r, slot *sl) {
  r->st.fragments_dropped += sl->fragments;
  sl->used = 0;
}

static int block_range(const slot *sl, size_t from, size_t to, int any) {
  for (size_t b = from; b < to; b++) {
    int set = (sl->have[b / 64] >> (b % 64)) & 1;
    if (any ? set : !set) return 1;
  }
  return 0;
}

static int complete(const slot *sl) { return sl->total > 0 && !block_range(sl, 0, (sl->total + 7) / 8, 0); }

int alec_pcapin_parse_frag(alec_pcapin_reasm *r, double t, int link, const uint8_t *pkt, size_t caplen,
                           size_t wirelen, unsigned port, alec_pcapin_dgram *d) {
  frag_info fi;
  int rc = parse(link, pkt, caplen, wirelen, port, d, &fi);
  if (rc != ALEC_PCAPIN_HELD) return rc;
  r->st.fragments++;
  /* Expired ones first: a capture time going back (merged files) keeps them. */
  slot *sl = NULL, *free_sl = NULL, *oldest = NULL;
  for (size_t k = 0; k < ALEC_PCAPIN_REASM_SLOTS; k++) {
    slot *c = &r->s[k];
    if (c->used && t - c->first > ALEC_PCAPIN_REASM_TIMEOUT) drop_slot(r, c);
    if (!c->used) {
      if (!free_sl) free_sl = c;
      continue;
    }
    if (!oldest || c->first < oldest->first) oldest = c;
    if (c->v6 == fi.v6 && c->id == fi.id && c->proto == fi.proto && memcmp(c->src, fi.src, 16) == 0 &&
        memcmp(c->dst, fi.dst, 16) == 0)
      sl = c;
  }
  if (!sl) {
    if (!free_sl) {
      drop_slot(r, oldest);
      free_sl = oldest;
    }
    sl = free_sl;
    memset(sl, 0, offsetof(slot, buf));
    sl->used = 1;
    sl->v6 = fi.v6;
    memcpy(sl->src, fi.src, 16);
    memcpy(sl->dst, fi.dst, 16);
    sl->id = fi.id;
    sl->proto = fi.proto;
    sl->first = t;
  }
  sl->fragments++;
  size_t end = fi.offset + fi.len;
  /* Every fragment but the last carries a multiple of 8 bytes; none ends
   * past the size we take, or past a last fragment already seen, and the
   * last one may not come twice. */
  if ((fi.more && (fi.len == 0 || fi.len % 8)) || end > ALEC_PCAPIN_REASM_BYTES ||
      (sl->total && (end > sl->total || (!fi.more && end != sl->total)))) {
    drop_slot(r, sl);
    return ALEC_PCAPIN_FRAGMENT;
  }
  if (!fi.more) {
    if (block_range(sl, (end + 7) / 8, BLOCKS, 1)) { /* data seen past the end */
      drop_slot(r, sl);
      return ALEC_PCAPIN_FRAGMENT;
    }
    sl->total = end;
  }
  size_t b0 = fi.offset / 8, b1 = (end + 7) / 8;
  if (block_range(sl, b0, b1, 1)) { /* overlap (RFC 5722: drop the datagram) */
    drop_slot(r, sl);
    return ALEC_PCAPIN_FRAGMENT;
  }
  memcpy(sl->buf + fi.offset, fi.data, fi.len);
  for (size_t b = b0; b < b1; b++) sl->have[b / 64] |= UINT64_C(1) << (b % 64);
  if (!complete(sl)) return ALEC_PCAPIN_HELD;
  /* Whole: out of the slot (the caller's datagram outlives the next
   * fragment), then the UDP checks of a datagram that came in one piece. */
  size_t n = sl->total;
  memcpy(r->out, sl->buf, n);
  int v6 = sl->v6;
  unsigned proto = sl->proto;
  uint8_t src[16];
  memcpy(src, sl->src, 16);
  sl->used = 0;
  r->st.reassembled++;
  if (proto != 17) return ALEC_PCAPIN_NOT_UDP;
  memset(d, 0, sizeof *d);
  if (v6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->from;
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, src, 16);
    d->from_len = sizeof *sin6;
  } else {
    struct sockaddr_in *sin = (struct sockaddr_in *)&d->from;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, src, 4);
    d->from_len = sizeof *sin;
  }
  return udp_datagram(r->out, n, n, n, port, d);
}

void alec_pcapin_reasm_finish(alec_pcapin_reasm *r, alec_pcapin_reasm_stats *st) {
  for (size_t k = 0; k < ALEC_PCAPIN_REASM_SLOTS; k++)
    if (r->s[k].used) drop_slot(r, &r->s[k]);
  *st = r->st;
}
