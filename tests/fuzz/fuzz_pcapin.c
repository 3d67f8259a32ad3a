/* SPDX-License-Identifier: MIT */
/* libFuzzer target: alec-replay's packet reader (src/tools/pcapin.h), one
 * captured packet to the UDP datagram it carries.
 *
 * Input: byte 0 picks the link type (of those the reader knows and one it
 * does not), byte 1 the bytes the capture left out (wire length = captured
 * + byte 1), bytes 2..3 the port (big endian), the rest the packet.
 * Oracle: the result is OK or one of the kinds; a datagram lies inside the
 * captured bytes and its sender is an IPv4 or IPv6 address; parsing is
 * deterministic; the same packet to another port is OTHER_PORT (same
 * headers, another port); a shorter capture of the same packet is either
 * the same datagram or a snaplen cut, never a datagram of other bytes. */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "pcapin.h"

static const int links[] = {ALEC_PCAPIN_LINK_EN10MB, ALEC_PCAPIN_LINK_SLL,  ALEC_PCAPIN_LINK_SLL2,
                            ALEC_PCAPIN_LINK_RAW,    ALEC_PCAPIN_LINK_NULL, ALEC_PCAPIN_LINK_LOOP,
                            ALEC_PCAPIN_LINK_IPV4,   ALEC_PCAPIN_LINK_IPV6, ALEC_PCAPIN_LINK_RAW_FILE,
                            147 /* a user DLT: unsupported */};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (n < 4) return 0;
  int link = links[d[0] % (sizeof links / sizeof links[0])];
  size_t extra = d[1];
  unsigned port = (unsigned)d[2] << 8 | d[3];
  const uint8_t *pkt = d + 4;
  size_t cap = n - 4, wire = cap + extra;
  alec_pcapin_dgram g, g2;
  int r = alec_pcapin_parse(link, pkt, cap, wire, port, &g);
  FUZZ_CHECK(r >= ALEC_PCAPIN_OK && r <= ALEC_PCAPIN_KIND_COUNT);
  if (r != ALEC_PCAPIN_OK) {
    FUZZ_CHECK(strcmp(alec_pcapin_kind_name(r), "?") != 0);
    FUZZ_CHECK(g.payload == NULL && g.len == 0);
  } else {
    FUZZ_CHECK(g.payload >= pkt && g.payload + g.len <= pkt + cap);
    FUZZ_CHECK(g.len <= 65535 - 8);
    FUZZ_CHECK((g.from.ss_family == AF_INET && g.from_len == sizeof(struct sockaddr_in)) ||
               (g.from.ss_family == AF_INET6 && g.from_len == sizeof(struct sockaddr_in6)));
  }
  FUZZ_CHECK(alec_pcapin_parse(link, pkt, cap, wire, port, &g2) == r);
  if (r == ALEC_PCAPIN_OK) {
    FUZZ_CHECK(g2.payload == g.payload && g2.len == g.len && memcmp(&g2.from, &g.from, sizeof g.from) == 0);
    FUZZ_CHECK(alec_pcapin_parse(link, pkt, cap, wire, (port + 1) & 0xFFFF, &g2) == ALEC_PCAPIN_PORT);
    for (size_t k = 0; k < cap; k += 1 + cap / 16) {
      int rk = alec_pcapin_parse(link, pkt, k, wire, port, &g2);
      FUZZ_CHECK(rk == ALEC_PCAPIN_SNAPLEN || (rk == ALEC_PCAPIN_OK && g2.payload == g.payload && g2.len == g.len));
    }
  }
  /* A record header claiming more captured than sent is refused. */
  if (cap > 0) FUZZ_CHECK(alec_pcapin_parse(link, pkt, cap, cap - 1, port, &g2) == ALEC_PCAPIN_LENGTH);

  /* Reassembly: the input read again as raw IPv4/IPv6 packets, each
   * [length u16][time step u8][bytes], through one reassembler. A whole
   * packet gives what parse gives; a datagram lies in the packet or in
   * the reassembler's buffer, never longer than a reassembled one can be;
   * no more fragments are counted, nor dropped, than were given. */
  static alec_pcapin_reasm *ra;
  if (!ra) ra = alec_pcapin_reasm_new();
  FUZZ_CHECK(ra != NULL);
  alec_pcapin_reasm_stats st0, st;
  alec_pcapin_reasm_finish(ra, &st0); /* counters run on over inputs */
  double t = 0;
  uint64_t held = 0;
  for (size_t o = 4; o + 3 <= n;) {
    size_t len = (size_t)d[o] << 8 | d[o + 1];
    t += d[o + 2] * 0.5;
    o += 3;
    if (len > n - o) len = n - o;
    const uint8_t *q = d + o;
    o += len;
    int rf = alec_pcapin_parse_frag(ra, t, ALEC_PCAPIN_LINK_RAW, q, len, len, port, &g);
    int rp = alec_pcapin_parse(ALEC_PCAPIN_LINK_RAW, q, len, len, port, &g2);
    if (rp != ALEC_PCAPIN_FRAGMENT) {
      FUZZ_CHECK(rf == rp);
      if (rp == ALEC_PCAPIN_OK) FUZZ_CHECK(g.payload == g2.payload && g.len == g2.len);
      continue;
    }
    FUZZ_CHECK(rf == ALEC_PCAPIN_HELD || rf == ALEC_PCAPIN_FRAGMENT || (rf >= ALEC_PCAPIN_OK && rf <= ALEC_PCAPIN_KIND_COUNT));
    held++;
    if (rf == ALEC_PCAPIN_OK) FUZZ_CHECK(g.len + 8 <= ALEC_PCAPIN_REASM_BYTES && g.payload != NULL);
  }
  alec_pcapin_reasm_finish(ra, &st);
  /* Fragments refused before reassembly (cut, lengths that lie) are not
   * counted by it. */
  FUZZ_CHECK(st.fragments - st0.fragments <= held);
  FUZZ_CHECK(st.fragments_dropped - st0.fragments_dropped <= st.fragments - st0.fragments);
  return 0;
}
