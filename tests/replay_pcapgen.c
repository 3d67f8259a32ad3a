/* SPDX-License-Identifier: MIT */
/* replay-pcapgen: alec-replay's JSONL records ({time, emitter, format,
 * channels, frame_hex}) as a capture of UDP envelope datagrams, one record
 * per datagram at the record's time, written with libpcap's pcap_dump, for
 * tests/replay_inputs.sh:
 *   replay-pcapgen [--link en10mb|sll|sll2|raw|null|loop] [--ipv6] [--port N]
 *                  [--noise] [--hostile] [--every N] [--bare ID,...]
 *                  [--fragment N] [--key HEX --key-id N] OUT.pcap < records.jsonl
 * --noise adds, between datagrams, what a capture of a busy host holds:
 * TCP, UDP to other ports, IP fragments, ARP. --hostile adds packets whose
 * lengths lie (IP total length past the packet, UDP length past IP, IHL
 * below 5, a datagram cut by the snapshot length, an IPv6 jumbogram, an
 * extension-header chain running past the packet); none of them may
 * change what is replayed. --every N: noise and hostile packets before
 * every Nth record only (1). --bare: the records of these emitters go as
 * bare frames from source port 40000 + ID (alec-replay --source), the
 * others as envelopes from port 40000. --fragment N: datagrams whose IP
 * payload exceeds N bytes (a multiple of 8) go in IP fragments of N,
 * every other datagram's last fragment first. --key/--key-id: envelopes
 * signed (docs/SECURITY.md), the counter counting from 1. */
#define _DEFAULT_SOURCE /* u_char and friends in pcap.h */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/auth.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "alec/frame.h"
#include "alec/wire.h"
#include "config.h"
#include "toolutil.h"

#define PROG "replay-pcapgen"
#define SNAPLEN 65535

typedef struct gen {
  pcap_dumper_t *out;
  int link, ipv6;
  unsigned port;
  uint64_t packets;
  size_t frag;      /* --fragment: IP payload bytes per fragment, 0: none */
  uint32_t ip_id;   /* identification of the next fragmented datagram */
  uint64_t fragmented;
} gen;

/* Link header for an IP packet; returns its length. */
static size_t link_header(const gen *g, uint8_t *p, int v6) {
  unsigned et = v6 ? 0x86DD : 0x0800;
  switch (g->link) {
  case DLT_EN10MB:
    memcpy(p, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
    alec_wr_be16(p + 12, (uint16_t)et);
    return 14;
  case DLT_LINUX_SLL:
    memset(p, 0, 16);
    alec_wr_be16(p + 2, 772); /* ARPHRD_LOOPBACK */
    alec_wr_be16(p + 4, 6);
    alec_wr_be16(p + 14, (uint16_t)et);
    return 16;
  case DLT_LINUX_SLL2:
    memset(p, 0, 20);
    alec_wr_be16(p, (uint16_t)et);
    alec_wr_be32(p + 4, 1); /* interface index */
    alec_wr_be16(p + 8, 772);
    p[11] = 6;
    return 20;
  case DLT_NULL: {
    /* Host byte order, as the writer's host would store it. */
    uint32_t af = v6 ? 30 : 2;
    memcpy(p, &af, 4);
    return 4;
  }
  case DLT_LOOP:
    alec_wr_be32(p, v6 ? 24 : 2);
    return 4;
  default:
    return 0; /* raw */
  }
}

/* IP + UDP headers for `len` payload bytes; returns their length. */
static size_t ip_udp(const gen *g, uint8_t *p, int v6, unsigned sport, unsigned dport, size_t len, unsigned proto,
                     unsigned frag) {
  size_t ip_len;
  if (v6) {
    memset(p, 0, 40);
    p[0] = 0x60;
    alec_wr_be16(p + 4, (uint16_t)(8 + len));
    p[6] = (uint8_t)proto;
    p[7] = 64;
    p[23] = 1; /* 2001:db8::1 -> ::2 */
    alec_wr_be16(p + 8, 0x2001);
    alec_wr_be16(p + 10, 0x0db8);
    p[39] = 2;
    ip_len = 40;
  } else {
    memset(p, 0, 20);
    p[0] = 0x45;
    alec_wr_be16(p + 2, (uint16_t)(20 + 8 + len));
    alec_wr_be16(p + 6, (uint16_t)frag);
    p[8] = 64;
    p[9] = (uint8_t)proto;
    memcpy(p + 12, "\xc0\x00\x02\x0a\x7f\x00\x00\x01", 8); /* 192.0.2.10 -> 127.0.0.1 */
    ip_len = 20;
  }
  uint8_t *u = p + ip_len;
  alec_wr_be16(u, (uint16_t)sport);
  alec_wr_be16(u + 2, (uint16_t)dport);
  alec_wr_be16(u + 4, (uint16_t)(8 + len));
  alec_wr_be16(u + 6, 0); /* no checksum: IPv4 allows it, the reader never checks */
  (void)g;
  return ip_len + 8;
}

static void dump(gen *g, double t, const uint8_t *pkt, size_t caplen, size_t wirelen) {
  struct pcap_pkthdr h;
  h.ts.tv_sec = (time_t)t;
  /* Nanosecond file: tv_usec holds nanoseconds. */
  h.ts.tv_usec = (suseconds_t)((t - (double)h.ts.tv_sec) * 1e9 + 0.5);
  if (h.ts.tv_usec >= 1000000000) {
    h.ts.tv_sec++;
    h.ts.tv_usec -= 1000000000;
  }
  h.caplen = (bpf_u_int32)caplen;
  h.len = (bpf_u_int32)wirelen;
  pcap_dump((u_char *)g->out, &h, pkt);
  g->packets++;
}

/* The datagram's IP payload (UDP header and payload) in fragments of
 * g->frag bytes: IPv4 with MF and offsets, IPv6 with a fragment header. */
static void fragments(gen *g, double t, const uint8_t *ip_packet, size_t ip_hl, size_t total) {
  const uint8_t *l4 = ip_packet + ip_hl;
  size_t l4_len = total - ip_hl, n = (l4_len + g->frag - 1) / g->frag;
  uint32_t id = ++g->ip_id;
  int reverse = (int)(g->fragmented++ % 2);
  for (size_t j = 0; j < n; j++) {
    size_t k = reverse ? n - 1 - j : j, off = k * g->frag, len = l4_len - off < g->frag ? l4_len - off : g->frag;
    int more = k + 1 < n;
    uint8_t pkt[128 + 8192];
    size_t o = link_header(g, pkt, g->ipv6);
    memcpy(pkt + o, ip_packet, ip_hl);
    if (g->ipv6) {
      alec_wr_be16(pkt + o + 4, (uint16_t)(8 + len));
      pkt[o + 6] = 44;
      uint8_t *fh = pkt + o + 40;
      fh[0] = 17;
      fh[1] = 0;
      alec_wr_be16(fh + 2, (uint16_t)((off / 8) << 3 | (unsigned)more));
      alec_wr_be32(fh + 4, id);
      memcpy(fh + 8, l4 + off, len);
      dump(g, t, pkt, o + 48 + len, o + 48 + len);
    } else {
      alec_wr_be16(pkt + o + 2, (uint16_t)(20 + len));
      alec_wr_be16(pkt + o + 4, (uint16_t)id);
      alec_wr_be16(pkt + o + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
      memcpy(pkt + o + 20, l4 + off, len);
      dump(g, t, pkt, o + 20 + len, o + 20 + len);
    }
  }
}

static void datagram_from(gen *g, double t, unsigned sport, unsigned dport, const uint8_t *payload, size_t len) {
  uint8_t pkt[128 + 8192];
  size_t o0 = link_header(g, pkt, g->ipv6);
  size_t o = o0 + ip_udp(g, pkt + o0, g->ipv6, sport, dport, len, 17, 0);
  memcpy(pkt + o, payload, len);
  if (g->frag && 8 + len > g->frag) {
    fragments(g, t, pkt + o0, g->ipv6 ? 40 : 20, o + len - o0);
    return;
  }
  dump(g, t, pkt, o + len, o + len);
}

static void datagram(gen *g, double t, unsigned dport, const uint8_t *payload, size_t len) {
  datagram_from(g, t, 40000, dport, payload, len);
}

/* Packets a capture of a busy host holds besides ours. */
static void noise(gen *g, double t) {
  uint8_t pkt[256];
  static const uint8_t junk[16] = "not an envelope";
  datagram(g, t, g->port + 1, junk, sizeof junk); /* another port */
  size_t o = link_header(g, pkt, g->ipv6);
  o += ip_udp(g, pkt + o, g->ipv6, 40000, g->port, sizeof junk, 6, 0); /* TCP (not UDP) */
  memcpy(pkt + o, junk, sizeof junk);
  dump(g, t, pkt, o + sizeof junk, o + sizeof junk);
  if (!g->ipv6) {
    /* The first fragment of a datagram to our port (MF set). */
    o = link_header(g, pkt, 0);
    o += ip_udp(g, pkt + o, 0, 40000, g->port, sizeof junk, 17, 0x2000);
    memcpy(pkt + o, junk, sizeof junk);
    dump(g, t, pkt, o + sizeof junk, o + sizeof junk);
  } else {
    /* IPv6: a fragment header (44) before UDP. */
    o = link_header(g, pkt, 1);
    size_t ip = o;
    o += ip_udp(g, pkt + o, 1, 40000, g->port, sizeof junk, 44, 0);
    memmove(pkt + ip + 48, pkt + ip + 40, 8);
    memset(pkt + ip + 40, 0, 8);
    pkt[ip + 40] = 17;
    pkt[ip + 43] = 1; /* MF */
    alec_wr_be16(pkt + ip + 4, (uint16_t)(8 + 8 + sizeof junk));
    o += 8;
    memcpy(pkt + o, junk, sizeof junk);
    dump(g, t, pkt, o + sizeof junk, o + sizeof junk);
  }
  if (g->link == DLT_EN10MB) {
    o = link_header(g, pkt, 0);
    alec_wr_be16(pkt + 12, 0x0806); /* ARP */
    memset(pkt + o, 0, 28);
    dump(g, t, pkt, o + 28, o + 28);
  }
}

/* Packets whose length fields lie, each aimed at our port. */
static void hostile(gen *g, double t, const uint8_t *payload, size_t len) {
  uint8_t pkt[512];
  size_t o0 = link_header(g, pkt, g->ipv6), ipo = o0;
  size_t o = o0 + ip_udp(g, pkt + o0, g->ipv6, 40000, g->port, len, 17, 0);
  memcpy(pkt + o, payload, len);
  size_t n = o + len;
  uint8_t bad[512];
  /* IP length past the packet. */
  memcpy(bad, pkt, n);
  alec_wr_be16(bad + ipo + (g->ipv6 ? 4 : 2), 60000);
  dump(g, t, bad, n, n);
  /* UDP length past IP. */
  memcpy(bad, pkt, n);
  alec_wr_be16(bad + o - 4, (uint16_t)(len + 200));
  dump(g, t, bad, n, n);
  /* UDP length below its header. */
  memcpy(bad, pkt, n);
  alec_wr_be16(bad + o - 4, 3);
  dump(g, t, bad, n, n);
  /* Cut by the snapshot length: half of the datagram captured. */
  dump(g, t, pkt, o + len / 2, n);
  /* Headers only, and less: every prefix of the headers. */
  for (size_t k = 0; k < o; k += 3) dump(g, t, pkt, k, k);
  if (!g->ipv6) {
    memcpy(bad, pkt, n);
    bad[ipo] = 0x43; /* IHL 3 */
    dump(g, t, bad, n, n);
    memcpy(bad, pkt, n);
    bad[ipo] = 0x4F; /* IHL 15: options past the packet */
    dump(g, t, bad, n, n);
  } else {
    memcpy(bad, pkt, n);
    alec_wr_be16(bad + ipo + 4, 0); /* jumbogram */
    dump(g, t, bad, n, n);
    /* A destination-options header claiming 2040 bytes. */
    memcpy(bad, pkt, n);
    bad[ipo + 6] = 60;
    bad[ipo + 40] = 17;
    bad[ipo + 41] = 255;
    dump(g, t, bad, n, n);
  }
}

static int link_of(const char *s) {
  static const struct {
    const char *name;
    int dlt;
  } t[] = {{"en10mb", DLT_EN10MB}, {"sll", DLT_LINUX_SLL}, {"sll2", DLT_LINUX_SLL2},
           {"raw", DLT_RAW},       {"null", DLT_NULL},      {"loop", DLT_LOOP}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(s, t[i].name) == 0) return t[i].dlt;
  return -1;
}

int main(int argc, char **argv) {
  gen g = {.link = DLT_EN10MB, .port = (unsigned)atoi(ALEC_PC_DEFAULT_PORT)};
  int with_noise = 0, with_hostile = 0;
  unsigned long every = 1;
  uint64_t bare[64];
  size_t n_bare = 0;
  const char *out = NULL, *key_hex = NULL;
  long key_id = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--link") == 0 && i + 1 < argc) {
      if ((g.link = link_of(argv[++i])) < 0) goto usage;
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      g.port = (unsigned)atoi(argv[++i]);
      if (g.port == 0 || g.port > 65535) goto usage;
    } else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
      every = strtoul(argv[++i], NULL, 10);
      if (every == 0) goto usage;
    } else if (strcmp(argv[i], "--bare") == 0 && i + 1 < argc) {
      char *p = argv[++i], *end;
      do {
        if (n_bare == sizeof bare / sizeof bare[0]) goto usage;
        bare[n_bare] = strtoull(p, &end, 10);
        if (end == p || bare[n_bare] > 25000) goto usage;
        n_bare++;
        p = end + (*end == ',');
      } while (*end);
    } else if (strcmp(argv[i], "--fragment") == 0 && i + 1 < argc) {
      g.frag = strtoul(argv[++i], NULL, 10);
      if (g.frag < 8 || g.frag % 8 || g.frag > 8192) goto usage;
    } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
      key_hex = argv[++i];
    } else if (strcmp(argv[i], "--key-id") == 0 && i + 1 < argc) {
      key_id = strtol(argv[++i], NULL, 10);
      if (key_id < 0 || key_id > 65535) goto usage;
    } else if (strcmp(argv[i], "--ipv6") == 0) {
      g.ipv6 = 1;
    } else if (strcmp(argv[i], "--noise") == 0) {
      with_noise = 1;
    } else if (strcmp(argv[i], "--hostile") == 0) {
      with_hostile = 1;
    } else if (argv[i][0] != '-' && !out) {
      out = argv[i];
    } else {
      goto usage;
    }
  }
  if (!out || (key_hex == NULL) != (key_id < 0)) goto usage;
  uint8_t key[ALEC_AUTH_KEY_MAX];
  int key_len = key_hex ? alec_auth_key_decode(key_hex, key) : 0;
  if (key_len < 0) goto usage;
  uint64_t counter = 0;
  pcap_t *pd = pcap_open_dead_with_tstamp_precision(g.link, SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
  if (!pd) return 1;
  g.out = pcap_dump_open(pd, out);
  if (!g.out) {
    fprintf(stderr, PROG ": %s: %s\n", out, pcap_geterr(pd));
    return 1;
  }
  static char line[16384], buf[16384];
  uint64_t lineno = 0, records = 0;
  int status = 0;
  while (fgets(line, sizeof line, stdin)) {
    lineno++;
    int is_str;
    double t;
    uint64_t id, ch = 0;
    alec_format fmt;
    if (alec_tool_json_field(line, "time", buf, sizeof buf, &is_str) < 0 || alec_tool_parse_double(buf, &t) != 0 ||
        alec_tool_json_field(line, "emitter", buf, sizeof buf, &is_str) < 0 || alec_pc_parse_id(buf, &id) != 0 ||
        alec_tool_json_field(line, "format", buf, sizeof buf, &is_str) < 0 || alec_format_parse(buf, &fmt) != 0) {
      fprintf(stderr, PROG ": line %" PRIu64 ": not a record\n", lineno);
      status = 1;
      continue;
    }
    if (alec_tool_json_field(line, "channels", buf, sizeof buf, &is_str) >= 0 &&
        alec_tool_parse_u64(buf, ALEC_FIXED_MAX_CHANNELS, &ch) != 0)
      ch = 0;
    int hl = alec_tool_json_field(line, "frame_hex", buf, sizeof buf, &is_str);
    uint8_t frame[ALEC_FRAME_MAX], dg[8192];
    size_t flen;
    alec_envelope_writer w;
    if (hl < 0 || alec_tool_hex_decode(buf, (size_t)hl, frame, sizeof frame, &flen) != 0 ||
        alec_envelope_writer_init(&w, dg, sizeof dg, 0) != 0 ||
        alec_envelope_add(&w, id, fmt, (unsigned)ch, frame, flen) <= 0) {
      fprintf(stderr, PROG ": line %" PRIu64 ": frame does not make an envelope\n", lineno);
      status = 1;
      continue;
    }
    if (key_hex) {
      long sl = alec_auth_sign(dg, w.len, sizeof dg, (uint16_t)key_id, key, (size_t)key_len, ++counter);
      if (sl < 0) {
        fprintf(stderr, PROG ": line %" PRIu64 ": cannot sign: %s\n", lineno, alec_strerror((int)sl));
        status = 1;
        continue;
      }
      w.len = (size_t)sl;
    }
    if (records % every == 0) {
      if (with_noise) noise(&g, t);
      if (with_hostile && w.len <= 256) hostile(&g, t, dg, w.len);
    }
    int is_bare = 0;
    for (size_t k = 0; k < n_bare; k++) is_bare |= bare[k] == id;
    if (is_bare) datagram_from(&g, t, 40000 + (unsigned)id, g.port, frame, flen);
    else datagram(&g, t, g.port, dg, w.len);
    records++;
  }
  pcap_dump_close(g.out);
  pcap_close(pd);
  fprintf(stderr, PROG ": %" PRIu64 " records, %" PRIu64 " packets\n", records, g.packets);
  return status;
usage:
  fprintf(stderr, "usage: " PROG " [--link en10mb|sll|sll2|raw|null|loop] [--ipv6] [--port N] [--noise] [--hostile] "
                  "[--every N] [--bare ID,...] [--fragment N] [--key HEX --key-id N] OUT.pcap < records.jsonl\n");
  return 2;
}
