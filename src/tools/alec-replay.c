/* SPDX-License-Identifier: MIT */
/* alec-replay: a recorded stream through the receiver and the fleet module
 * the plugin runs, in the recording's own time, printing the fleet's events
 * as `event ...` lines (the format of fleet_demo --events) and what the
 * replay cost in CPU seconds. Operators tune <Fleet> options on their own
 * traffic with it before deploying them; tests run weeks of a 10-minute
 * cadence in seconds.
 *
 * Inputs (--input, else told apart by the first bytes and line):
 *  - jsonl: JSON lines {"time": unix seconds, "emitter": id (number, or a
 *    string in decimal or 0x-hex), "format": "fixed"|"single"|...,
 *    "frame_hex": "...", optional "channels" (fixed frames), "group",
 *    "fport" (the --fport profile, TLV fallback included) and "fcnt"}. Each
 *    record is one message of a transport that identified its emitter (as
 *    MQTT does).
 *  - pcap: UDP datagrams to --port in a capture (libpcap: pcap or pcapng),
 *    each handed to the receiver as the UDP transport hands a datagram
 *    (envelopes; the sender address is kept), at the packet's time.
 *  - mqtt: network-server uplink events, one per line, optionally after
 *    their topic and a tab (alec-lorawan-sim --topics), parsed and turned
 *    into messages as the MQTT transport does (nsevent.c, nsmsg.c), at the
 *    event's time, FPorts mapped by --fport.
 * Messages must come in time order (one earlier than the previous one is
 * replayed at the previous one's time, counted). After each the fleet is
 * scored as the dispatch thread does after a batch, and the evaluation
 * timer runs every --interval seconds of recorded time in between. */
/* libpcap's header needs the BSD types (u_char, u_int) strict C11 hides;
 * fopencookie re-reads the bytes a pipe's format was told by. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "alec/error.h"
#include "alec/fleet.h"
#include "alec/frame.h"
#include "alec/wire.h"
#include "config.h"
#include "dedup.h"
#include "nsevent.h"
#include "nsmsg.h"
#include "pcapin.h"
#include "queue.h"
#include "receiver.h"
#include "tlv.h"
#include "toolutil.h"
#include "udp.h"

#define PROG "alec-replay"
/* An MQTT event line: the largest event the parser takes, and a topic. */
#define LINE_MAX_LEN (ALEC_NS_EVENT_MAX + 1024)

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " [options] [FILE]\n"
          "Replays a recording (FILE or stdin) through the receiver and the fleet in the recording's\n"
          "time; prints one line per fleet event and CPU statistics.\n"
          "  --input jsonl|pcap|mqtt   what FILE holds (default: told by its first bytes and line):\n"
          "      jsonl  {time, emitter, format, frame_hex[, channels, group, fport, fcnt]} per line\n"
          "      pcap   UDP datagrams to --port (Ethernet, Linux cooked, raw IP, loopback; IPv4, IPv6)\n"
          "      mqtt   ChirpStack v4 / TTS v3 uplink events per line, optionally after their topic\n"
          "  --port N       pcap: the plugin's UDP port (" ALEC_PC_DEFAULT_PORT ")\n"
          "  --auth-file F  pcap: the plugin's AuthFile, to verify signed envelopes (unsigned ones pass)\n"
          "  --source ADDR[/PORT]=ID:FORMAT[:CHANNELS][,...]   pcap: bare frames from ADDR are ID's\n"
          "                 (an <Emitter> with Source, Format, Channels); other datagrams are envelopes\n"
          "  --fport P=FORMAT[:CHANNELS][,P=...]   FPort profiles of uplinks (MQTT FPort lines)\n"
          "  --tlv P=ITEM,ITEM,...   Fallback \"milesight-tlv\" of FPort P: the TLV item of each channel\n"
          "  --dialect chirpstack|tts   mqtt events (default: by topic, else by event)\n"
          "  --group-from SPEC   mqtt: GroupFrom (tag:<key>, application, device-profile)\n"
          "  --threshold Z --exit-threshold Z --failure-threshold Z --enter-count N\n"
          "  --exit-count N --min-peers N --mad-floor X --stale-periods K\n"
          "  --silent-fraction F --shift-alpha A   the <Fleet> options of collectd-alec(5)\n"
          "  --emitter-timeout S (3600) --max-emitters N (10000)   as EmitterTimeout, MaxEmitters\n"
          "  --interval S   evaluation timer in recorded seconds (0.1, EvaluationInterval)\n"
          "  --quiet        statistics only\n");
}

typedef struct replay {
  int quiet;
  uint64_t events[ALEC_FLEET_EVENT_KIND_COUNT];
  uint64_t log_lines;
} replay;

static void on_log(void *arg, int level, const char *msg) {
  replay *r = arg;
  r->log_lines++;
  if (level <= ALEC_RX_LOG_WARNING && !r->quiet) fprintf(stderr, PROG ": %s\n", msg);
}

static void on_values(void *arg, const alec_rx_frame *f, uint64_t *dispatched, uint64_t *unconvertible) {
  (void)arg, (void)unconvertible;
  *dispatched += f->n;
}

/* The lines of fleet_demo --events, with the recording's time. */
static void on_event(void *arg, const alec_fleet_event *ev) {
  replay *r = arg;
  if ((unsigned)ev->kind < ALEC_FLEET_EVENT_KIND_COUNT) r->events[ev->kind]++;
  if (r->quiet) return;
  const char *sev = alec_fleet_state_name(ev->severity);
  const char *g = ev->group && ev->group[0] ? ev->group : "-";
  switch (ev->kind) {
  case ALEC_FLEET_EVENT_EMITTER:
    printf("event t=%.3f emitter=%" PRIu64 " channel=%" PRIu32 " state=%s score=%.3f%s\n", ev->time,
           ev->emitter_id, ev->channel, sev, ev->score, ev->removed ? " removed=1" : "");
    break;
  case ALEC_FLEET_EVENT_SHIFT:
    printf("shift t=%.3f group=%s channel=%" PRIu32 " state=%s score=%.3f\n", ev->time, g, ev->channel,
           sev, ev->score);
    break;
  case ALEC_FLEET_EVENT_STALE:
    printf("stale t=%.3f emitter=%" PRIu64 " group=%s state=%s silent=%.3f%s\n", ev->time, ev->emitter_id,
           g, sev, ev->value, ev->removed ? " removed=1" : "");
    break;
  default:
    printf("silent t=%.3f group=%s state=%s overdue=%u members=%.0f\n", ev->time, g, sev, ev->peers,
           ev->median);
    break;
  }
}

static int num_opt(const char *name, const char *v, double lo, double hi, double *out) {
  if (!v) return 0;
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || *end || !(d >= lo && d <= hi)) {
    fprintf(stderr, PROG ": --%s %s: want a number in [%g, %g]\n", name, v, lo, hi);
    return -1;
  }
  *out = d;
  return 1;
}

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One record into a message; 0, or -1 with *why set. */
static int parse_record(const char *line, const alec_pc_mqtt *ports, double *t, alec_rx_msg **out,
                        const char **why) {
  static char buf[LINE_MAX_LEN];
  int is_str;
  *out = NULL;
  if (alec_tool_json_field(line, "time", buf, sizeof buf, &is_str) < 0 || is_str ||
      alec_tool_parse_double(buf, t) != 0 || !isfinite(*t)) {
    *why = "no finite \"time\"";
    return -1;
  }
  uint64_t id;
  if (alec_tool_json_field(line, "emitter", buf, sizeof buf, &is_str) < 0 || alec_pc_parse_id(buf, &id) != 0) {
    *why = "no \"emitter\" id (decimal or 0x-hex)";
    return -1;
  }
  /* An FPort: its profile decides the format, channels and TLV fallback,
   * as the MQTT transport's FPort line does. */
  const alec_pc_profile *prof = NULL;
  int fport = -1;
  char pbuf[32];
  if (alec_tool_json_field(line, "fport", pbuf, sizeof pbuf, &is_str) >= 0) {
    uint64_t v;
    if (is_str || alec_tool_parse_u64(pbuf, 223, &v) != 0 || v == 0) {
      *why = "\"fport\" is not in 1..223";
      return -1;
    }
    fport = (int)v;
    prof = ports ? alec_pc_mqtt_fport(ports, fport) : NULL;
    if (prof == NULL) {
      *why = "\"fport\" has no --fport profile";
      return -1;
    }
  }
  alec_format fmt = prof ? prof->s.format : 0;
  unsigned channels = prof ? prof->s.channels : 0;
  if (!prof) {
    if (alec_tool_json_field(line, "format", buf, sizeof buf, &is_str) < 0 || !is_str ||
        alec_format_parse(buf, &fmt) != 0) {
      *why = "no known \"format\"";
      return -1;
    }
    char cbuf[32];
    if (alec_tool_json_field(line, "channels", cbuf, sizeof cbuf, &is_str) >= 0) {
      uint64_t c;
      if (is_str || alec_tool_parse_u64(cbuf, ALEC_FIXED_MAX_CHANNELS, &c) != 0 || c == 0) {
        *why = "\"channels\" is not in 1..64";
        return -1;
      }
      channels = (unsigned)c;
    }
    if (fmt == ALEC_FORMAT_FIXED && channels == 0) {
      *why = "a fixed frame needs \"channels\"";
      return -1;
    }
  }
  int has_fcnt = 0;
  uint64_t fcnt = 0;
  if (alec_tool_json_field(line, "fcnt", pbuf, sizeof pbuf, &is_str) >= 0) {
    if (is_str || alec_tool_parse_u64(pbuf, UINT32_MAX, &fcnt) != 0) {
      *why = "\"fcnt\" is not a 32-bit count";
      return -1;
    }
    has_fcnt = 1;
  }
  char group[ALEC_RX_GROUP_LEN] = "";
  int gl = alec_tool_json_field(line, "group", group, sizeof group, &is_str);
  if (gl == ALEC_EBUFSIZE || (gl >= 0 && !is_str)) {
    *why = "\"group\" is not a string of at most 63 characters";
    return -1;
  }
  if (gl < 0) group[0] = '\0';
  int hl = alec_tool_json_field(line, "frame_hex", buf, sizeof buf, &is_str);
  if (hl < 0 || !is_str) {
    *why = "no \"frame_hex\" string";
    return -1;
  }
  uint8_t frame[ALEC_FRAME_MAX];
  size_t len;
  if (alec_tool_hex_decode(buf, (size_t)hl, frame, sizeof frame, &len) != 0) {
    *why = "\"frame_hex\" is not a frame's hex";
    return -1;
  }
  alec_rx_msg *m = alec_rx_msg_new(len);
  if (!m) {
    *why = "out of memory";
    return -1;
  }
  m->kind = ALEC_RX_PAYLOAD;
  m->has_emitter = 1;
  m->emitter = id;
  m->format = (uint8_t)fmt;
  m->channels = (uint8_t)channels;
  m->fport = (int16_t)fport;
  m->profile = prof;
  m->has_fcnt = (uint8_t)has_fcnt;
  m->fcnt = (uint32_t)fcnt;
  m->received = *t;
  memcpy(m->group, group, sizeof m->group);
  memcpy(m->data, frame, len);
  *out = m;
  return 0;
}

/* The recording's clock: messages in time order, the evaluation timer of
 * the recorded time in between, the fleet scored after each message. */
typedef struct feeder {
  alec_rx *rx;
  double interval, first, last, next_eval;
  int started;
  uint64_t messages, backwards;
} feeder;

static void feed(feeder *f, double t, alec_rx_msg *m) {
  if (!f->started) {
    f->started = 1;
    f->first = f->last = t;
    f->next_eval = t + f->interval;
  }
  if (t < f->last) {
    f->backwards++;
    t = f->last;
  }
  m->received = t;
  while (f->next_eval <= t) {
    alec_rx_evaluate(f->rx, f->next_eval);
    f->next_eval += f->interval;
    /* A long gap: one evaluation per interval would be a busy loop over
     * nothing; stale scans need only a few. */
    if (t - f->next_eval > 1000 * f->interval) f->next_eval = t - fmod(t - f->next_eval, f->interval);
  }
  f->last = t;
  alec_rx_process(f->rx, m);
  free(m);
  alec_rx_score(f->rx, t);
  f->messages++;
}

/* ---- MQTT capture ------------------------------------------------------------ */

/* What the MQTT transport refuses of an event, counted by kind: the
 * parser's kinds, then those of the uplink-to-message step. */
#define MQ_OWN_KINDS(X) X(NO_PAYLOAD, no_payload) X(FPORT, unmapped_fport) X(NO_TIME, no_time) X(NOMEM, out_of_memory)
enum {
  MQ_FIRST_ = ALEC_NS_MESSAGE_KINDS - 1,
#define MQ_ENUM_(n, s) MQ_##n,
  MQ_OWN_KINDS(MQ_ENUM_)
#undef MQ_ENUM_
  MQ_KINDS
};

typedef struct mqtt_in {
  alec_ns_source src;
  int dialect; /* 0: by topic, else by event */
  size_t max_size;
  alec_ns_uplink up;
  alec_dedup dedup; /* redeliveries, as the MQTT transport drops them */
  uint64_t events, duplicates, refused[MQ_KINDS];
} mqtt_in;

static const char *mq_kind_name(int k) {
  static const char *const own[] = {
#define MQ_NAME_(n, s) #s,
      MQ_OWN_KINDS(MQ_NAME_)
#undef MQ_NAME_
  };
  if (k < ALEC_NS_MESSAGE_KINDS) return alec_ns_kind_name(-k - 1);
  return own[k - ALEC_NS_MESSAGE_KINDS];
}

static const alec_pc_profile *block_fport(const void *block, int port) { return alec_pc_mqtt_fport(block, port); }

/* One line: [TOPIC ("\t" | " ")] EVENT; a space is what mosquitto_sub -v
 * puts after the topic (network-server topics hold none). */
static void mqtt_line(mqtt_in *q, feeder *f, char *line, size_t n) {
  const char *topic = NULL;
  char *json = line;
  if (n && line[0] != '{') {
    char *tab = memchr(line, '\t', n);
    if (!tab) tab = memchr(line, ' ', n);
    if (tab) {
      *tab = '\0';
      topic = line;
      json = tab + 1;
      n -= (size_t)(json - line);
    }
  }
  q->events++;
  if (n > q->max_size) {
    q->refused[-ALEC_NS_EOVERSIZED - 1]++;
    return;
  }
  int dialect = q->dialect;
  if (dialect == 0) {
    /* A shared capture: the topic says which server published it, else the
     * event's own shape (TTS names the device in end_device_ids). */
    if (topic) dialect = strncmp(topic, "v3/", 3) == 0 ? ALEC_NS_TTS : ALEC_NS_CHIRPSTACK;
    else dialect = strstr(json, "\"end_device_ids\"") ? ALEC_NS_TTS : ALEC_NS_CHIRPSTACK;
  }
  alec_ns_uplink *u = &q->up;
  int rc = alec_ns_parse_uplink(dialect, (const uint8_t *)json, n, u);
  if (rc == 0 && topic) rc = alec_ns_check_topic(dialect, topic, u);
  if (rc < 0) {
    int k = -rc - 1;
    if (k >= ALEC_NS_MESSAGE_KINDS) k = -ALEC_NS_ESYNTAX - 1;
    q->refused[k]++;
    return;
  }
  /* The event's time is the recording's clock. One without a time is
   * replayed at the previous event's, as a broker delivers it right after;
   * before the first timed one there is no clock to put it on. */
  if (!u->has_time && !f->started) {
    q->refused[MQ_NO_TIME]++;
    return;
  }
  double t = u->has_time ? u->time : f->last;
  alec_rx_msg *m;
  q->src.dialect = dialect;
  rc = alec_ns_to_msg(&q->src, u, t, &m);
  if (rc == ALEC_NSMSG_NO_PAYLOAD) q->refused[MQ_NO_PAYLOAD]++;
  else if (rc == ALEC_NSMSG_UNMAPPED_FPORT) q->refused[MQ_FPORT]++;
  else if (rc == 0) {
    /* A capture of a QoS 1 subscription holds the broker's redeliveries
     * (same deduplicationId): decoded once, after the refusals, as the
     * MQTT transport does. */
    uint64_t key = alec_dedup_key(u->dedup_id);
    if (alec_dedup_has(&q->dedup, key)) {
      q->duplicates++;
      free(m);
      return;
    }
    alec_dedup_add(&q->dedup, key);
    feed(f, t, m);
  } else q->refused[MQ_NOMEM]++;
}

/* ---- pcap ------------------------------------------------------------------------ */

typedef struct pcap_stats_ {
  uint64_t packets, datagrams, oversized, nomem, refused[ALEC_PCAPIN_KIND_COUNT + 1];
  alec_pcapin_reasm_stats frag;
  int unreadable; /* the file ended inside a record or could not be read */
  char error[PCAP_ERRBUF_SIZE];
} pcap_stats_;

static int replay_pcap(FILE *in, feeder *f, unsigned port, int security, pcap_stats_ *ps) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(in, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pc == NULL) {
    fprintf(stderr, PROG ": not a readable capture: %s\n", errbuf);
    return -1;
  }
  int link = pcap_datalink(pc);
  /* Datagrams over the link's MTU come in IP fragments. */
  alec_pcapin_reasm *ra = alec_pcapin_reasm_new();
  if (ra == NULL) {
    pcap_close(pc);
    fprintf(stderr, PROG ": out of memory\n");
    return -1;
  }
  struct pcap_pkthdr *h;
  const u_char *pkt;
  int rc;
  while ((rc = pcap_next_ex(pc, &h, &pkt)) == 1) {
    ps->packets++;
    alec_pcapin_dgram d;
    double t = (double)h->ts.tv_sec + (double)h->ts.tv_usec * 1e-9;
    int k = alec_pcapin_parse_frag(ra, t, link, pkt, h->caplen, h->len, port, &d);
    /* A fragment kept, or one that dropped its datagram (counted by the
     * reassembly, in fragments). */
    if (k == ALEC_PCAPIN_HELD || k == ALEC_PCAPIN_FRAGMENT) continue;
    if (k != ALEC_PCAPIN_OK) {
      ps->refused[k]++;
      continue;
    }
    /* What the UDP transport's receive buffer refuses. */
    if (d.len > ALEC_UDP_DATAGRAM_MAX) {
      ps->oversized++;
      continue;
    }
    alec_rx_msg *m = alec_rx_msg_new(d.len);
    if (m == NULL) {
      ps->nomem++;
      continue;
    }
    m->kind = ALEC_RX_DATAGRAM;
    m->security = (uint8_t)security;
    memcpy(&m->from, &d.from, sizeof d.from);
    m->from_len = d.from_len;
    memcpy(m->data, d.payload, d.len);
    ps->datagrams++;
    feed(f, t, m);
  }
  alec_pcapin_reasm_finish(ra, &ps->frag);
  alec_pcapin_reasm_free(ra);
  ps->refused[ALEC_PCAPIN_FRAGMENT] += ps->frag.fragments_dropped;
  if (rc == PCAP_ERROR) {
    ps->unreadable = 1;
    snprintf(ps->error, sizeof ps->error, "%s", pcap_geterr(pc));
  }
  /* Closes `in` as well. */
  pcap_close(pc);
  return 0;
}

/* pcap and pcapng magic numbers, either byte order. */
static int is_capture(const uint8_t *b) {
  uint32_t v = alec_rd_be32(b);
  return v == 0xA1B2C3D4 || v == 0xD4C3B2A1 || v == 0xA1B23C4D || v == 0x4D3CB2A1 || v == 0x0A0D0D0A;
}

/* A pipe's first bytes, read to tell its format, then the rest of it:
 * libpcap and fgets both want a stream from the start. */
typedef struct peeked {
  FILE *in;
  uint8_t pre[4];
  size_t n, pos;
} peeked;

static ssize_t peeked_read(void *c, char *buf, size_t size) {
  peeked *p = c;
  size_t got = 0;
  while (p->pos < p->n && got < size) buf[got++] = (char)p->pre[p->pos++];
  if (got < size) got += fread(buf + got, 1, size - got, p->in);
  return got == 0 && ferror(p->in) ? -1 : (ssize_t)got;
}

static int peeked_close(void *c) {
  peeked *p = c;
  if (p->in != stdin) fclose(p->in);
  free(p);
  return 0;
}

/* --input left out: a capture by its magic number, read from a seekable
 * file and put back, or from a pipe then replayed through *in. 1 capture,
 * 0 text, -1 error. */
static int sniff_capture(FILE **in) {
  uint8_t b[4];
  long pos = ftell(*in);
  if (pos >= 0) {
    size_t n = fread(b, 1, sizeof b, *in);
    if (fseek(*in, pos, SEEK_SET) != 0) return -1;
    return n == sizeof b && is_capture(b);
  }
  peeked *p = calloc(1, sizeof *p);
  if (!p) return -1;
  p->in = *in;
  p->n = fread(p->pre, 1, sizeof p->pre, *in);
  FILE *f = fopencookie(p, "r", (cookie_io_functions_t){.read = peeked_read, .close = peeked_close});
  if (!f) {
    free(p);
    return -1;
  }
  *in = f;
  return p->n == sizeof p->pre && is_capture(p->pre);
}

/* ---- options ---------------------------------------------------------------------- */

/* --fport P=FORMAT[:CHANNELS],... into profiles "fport-P" and the FPort
 * lines of an <MQTT> block (no broker: only its FPort, Dialect, GroupFrom). */
static int fport_opt(alec_plugin_config *cfg, alec_pc_mqtt *mq, const char *v) {
  char buf[1024];
  if (strlen(v) >= sizeof buf) {
    fprintf(stderr, PROG ": --fport: too long\n");
    return -1;
  }
  strcpy(buf, v);
  size_t cap = 1;
  for (const char *p = buf; *p; p++) cap += *p == ',';
  if (cap > ALEC_PC_MQTT_MAX_FPORTS) {
    fprintf(stderr, PROG ": --fport: more than %d FPorts\n", ALEC_PC_MQTT_MAX_FPORTS);
    return -1;
  }
  cfg->profiles = calloc(cap, sizeof *cfg->profiles);
  if (!cfg->profiles) return -1;
  char *save = NULL;
  for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    uint64_t port;
    if (!eq) goto bad;
    *eq = '\0';
    if (alec_tool_parse_u64(item, 223, &port) != 0 || port == 0) goto bad;
    char *colon = strchr(eq + 1, ':');
    uint64_t ch = 0;
    if (colon) {
      *colon = '\0';
      if (alec_tool_parse_u64(colon + 1, ALEC_FIXED_MAX_CHANNELS, &ch) != 0 || ch == 0) goto bad;
    }
    alec_format fmt;
    if (alec_format_parse(eq + 1, &fmt) != 0) goto bad;
    for (size_t i = 0; i < mq->n_fports; i++)
      if (mq->fports[i].port == (int)port) goto bad;
    alec_pc_profile *p = &cfg->profiles[cfg->n_profiles++];
    snprintf(p->name, sizeof p->name, "fport-%u", (unsigned)port);
    p->s.format = fmt;
    p->s.channels = (unsigned)ch;
    alec_pc_fport *fp = &mq->fports[mq->n_fports++];
    fp->port = (int)port;
    snprintf(fp->profile, sizeof fp->profile, "%s", p->name);
    continue;
  bad:
    fprintf(stderr, PROG ": --fport %s: want PORT=FORMAT[:CHANNELS] (PORT 1..223, once each), comma-separated\n", v);
    return -1;
  }
  return 0;
}

/* --tlv P=ITEM,...: Fallback "milesight-tlv" of P's profile, item i feeding
 * channel i (ALEC_TLV_ITEMS names or ids, as the TLV lines take). */
static int tlv_opt(alec_plugin_config *cfg, const char *v) {
  char buf[1024];
  const char *eq = strchr(v, '=');
  uint64_t port;
  if (!eq || (size_t)(eq - v) >= 8 || strlen(eq + 1) >= sizeof buf) goto bad;
  memcpy(buf, v, (size_t)(eq - v));
  buf[eq - v] = '\0';
  if (alec_tool_parse_u64(buf, 223, &port) != 0) goto bad;
  char name[16];
  snprintf(name, sizeof name, "fport-%u", (unsigned)port);
  alec_pc_profile *p = NULL;
  for (size_t i = 0; i < cfg->n_profiles; i++)
    if (strcmp(cfg->profiles[i].name, name) == 0) p = &cfg->profiles[i];
  if (!p) {
    fprintf(stderr, PROG ": --tlv %s: FPort %u has no --fport profile\n", v, (unsigned)port);
    return -1;
  }
  strcpy(buf, eq + 1);
  p->fallback = ALEC_PC_FALLBACK_MILESIGHT_TLV;
  char *save = NULL;
  for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    if (p->n_tlv >= ALEC_PC_MAX_TLV) goto bad;
    alec_pc_tlv *t = &p->tlv[p->n_tlv];
    if (alec_tlv_item_lookup(item, &t->id, &t->type) != 0) goto bad;
    t->channel = (uint8_t)p->n_tlv++;
  }
  return 0;
bad:
  fprintf(stderr, PROG ": --tlv %s: want PORT=ITEM,ITEM,... (TLV item names or ids, one per channel)\n", v);
  return -1;
}

/* --source ADDR[/PORT]=ID:FORMAT[:CHANNELS],...: the <Emitter> blocks whose
 * Source makes a datagram from ADDR (and PORT) a bare frame of ID, as the
 * plugin's configuration would. */
static int source_opt(alec_plugin_config *cfg, const char *v) {
  char buf[4096];
  if (strlen(v) >= sizeof buf) {
    fprintf(stderr, PROG ": --source: too long\n");
    return -1;
  }
  strcpy(buf, v);
  size_t cap = 1;
  for (const char *p = buf; *p; p++) cap += *p == ',';
  cfg->emitters = calloc(cap, sizeof *cfg->emitters);
  if (!cfg->emitters) return -1;
  char *save = NULL;
  for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    alec_pc_emitter *em = &cfg->emitters[cfg->n_emitters];
    char *eq = strchr(item, '=');
    if (!eq) goto bad;
    *eq = '\0';
    char *slash = strchr(item, '/');
    const char *service = "0";
    if (slash) {
      uint64_t port;
      *slash = '\0';
      if (alec_tool_parse_u64(slash + 1, 65535, &port) != 0 || port == 0) goto bad;
      service = slash + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(item, service, &hints, &res) != 0 || res == NULL) goto bad;
    alec_pc_normalize_addr(res->ai_addr, res->ai_addrlen, &em->source, &em->source_len);
    freeaddrinfo(res);
    em->has_source = 1;
    em->source_any_port = slash == NULL;
    char *id_s = eq + 1, *fmt_s = strchr(id_s, ':');
    if (!fmt_s) goto bad;
    *fmt_s++ = '\0';
    char *ch_s = strchr(fmt_s, ':');
    if (ch_s) *ch_s++ = '\0';
    if (alec_pc_parse_id(id_s, &em->id) != 0 || alec_format_parse(fmt_s, &em->own.format) != 0) goto bad;
    if (ch_s) {
      uint64_t ch;
      if (alec_tool_parse_u64(ch_s, ALEC_FIXED_MAX_CHANNELS, &ch) != 0 || ch == 0) goto bad;
      em->own.channels = (unsigned)ch;
    }
    for (size_t i = 0; i < cfg->n_emitters; i++)
      if (cfg->emitters[i].id == em->id) goto bad;
    cfg->n_emitters++;
    continue;
  bad:
    fprintf(stderr, PROG ": --source %s: want ADDR[/PORT]=ID:FORMAT[:CHANNELS] (numeric address, each ID once), "
                    "comma-separated\n", v);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  const char *v_thr = NULL, *v_exit = NULL, *v_fail = NULL, *v_enter_n = NULL, *v_exit_n = NULL,
             *v_peers = NULL, *v_floor = NULL, *v_stale = NULL, *v_silent = NULL, *v_alpha = NULL,
             *v_timeout = NULL, *v_max = NULL, *v_interval = NULL, *v_input = NULL, *v_port = NULL,
             *v_fport = NULL, *v_tlv = NULL, *v_dialect = NULL, *v_group_from = NULL, *v_source = NULL,
             *v_auth = NULL;
  int quiet = 0;
  const alec_tool_opt opts[] = {
      {"--threshold", NULL, &v_thr},           {"--exit-threshold", NULL, &v_exit},
      {"--failure-threshold", NULL, &v_fail},  {"--enter-count", NULL, &v_enter_n},
      {"--exit-count", NULL, &v_exit_n},       {"--min-peers", NULL, &v_peers},
      {"--mad-floor", NULL, &v_floor},         {"--stale-periods", NULL, &v_stale},
      {"--silent-fraction", NULL, &v_silent},  {"--shift-alpha", NULL, &v_alpha},
      {"--emitter-timeout", NULL, &v_timeout}, {"--max-emitters", NULL, &v_max},
      {"--interval", NULL, &v_interval},       {"--quiet", &quiet, NULL},
      {"--input", NULL, &v_input},             {"--port", NULL, &v_port},
      {"--fport", NULL, &v_fport},             {"--tlv", NULL, &v_tlv},
      {"--dialect", NULL, &v_dialect},         {"--group-from", NULL, &v_group_from},
      {"--source", NULL, &v_source},           {"--auth-file", NULL, &v_auth},
  };
  int ar = alec_tool_args(argc, argv, PROG, opts, sizeof opts / sizeof opts[0], usage, &path);
  if (ar == 1) return 0;
  if (ar < 0) return 2;

  static alec_plugin_config cfg;
  alec_pc_init(&cfg);
  alec_pc_fleet *fl = &cfg.fleet;
  double d, interval = 0.1;
  int bad = 0, r;
#define OPT(name, v, lo, hi, field, bit)                                                           \
  if ((r = num_opt(name, v, lo, hi, &d)) < 0) bad = 1;                                             \
  else if (r) {                                                                                    \
    field = d;                                                                                     \
    fl->set |= bit;                                                                                \
  }
  OPT("threshold", v_thr, 1e-9, 1e6, fl->threshold, ALEC_PC_F_THRESHOLD);
  OPT("exit-threshold", v_exit, 1e-9, 1e6, fl->exit_threshold, ALEC_PC_F_EXIT_THRESHOLD);
  OPT("failure-threshold", v_fail, 1e-9, 1e6, fl->failure_threshold, ALEC_PC_F_FAILURE_THRESHOLD);
  OPT("enter-count", v_enter_n, 1, ALEC_FLEET_DWELL_LIMIT, fl->enter_count, ALEC_PC_F_ENTER_COUNT);
  OPT("exit-count", v_exit_n, 1, ALEC_FLEET_DWELL_LIMIT, fl->exit_count, ALEC_PC_F_EXIT_COUNT);
  OPT("min-peers", v_peers, 3, 1e6, fl->min_peers, ALEC_PC_F_MIN_PEERS);
  OPT("mad-floor", v_floor, 1e-12, 1e12, fl->mad_floor, ALEC_PC_F_MAD_FLOOR);
  OPT("stale-periods", v_stale, 0, 1e6, fl->stale_periods, ALEC_PC_F_STALE_PERIODS);
  OPT("silent-fraction", v_silent, 0, 1, fl->silent_fraction, ALEC_PC_F_SILENT_FRACTION);
  OPT("shift-alpha", v_alpha, 1e-9, 1, fl->shift_alpha, ALEC_PC_F_SHIFT_ALPHA);
#undef OPT
  if ((r = num_opt("emitter-timeout", v_timeout, 1e-3, 1e9, &d)) < 0) bad = 1;
  else if (r) cfg.emitter_timeout = d;
  if ((r = num_opt("max-emitters", v_max, 1, ALEC_FLEET_MAX_EMITTERS_LIMIT, &d)) < 0) bad = 1;
  else if (r) cfg.max_emitters = (size_t)d;
  if ((r = num_opt("interval", v_interval, 1e-3, 86400, &d)) < 0) bad = 1;
  else if (r) interval = d;
  unsigned port = (unsigned)atoi(ALEC_PC_DEFAULT_PORT);
  if ((r = num_opt("port", v_port, 1, 65535, &d)) < 0 || (r && d != floor(d))) bad = 1;
  else if (r) port = (unsigned)d;
  enum { IN_AUTO, IN_JSONL, IN_PCAP, IN_MQTT } input = IN_AUTO;
  if (v_input) {
    if (strcmp(v_input, "jsonl") == 0) input = IN_JSONL;
    else if (strcmp(v_input, "pcap") == 0) input = IN_PCAP;
    else if (strcmp(v_input, "mqtt") == 0) input = IN_MQTT;
    else {
      fprintf(stderr, PROG ": --input %s: want jsonl, pcap or mqtt\n", v_input);
      bad = 1;
    }
  }
  int dialect = 0;
  if (v_dialect) {
    dialect = alec_ns_dialect_parse(v_dialect);
    if (dialect != ALEC_NS_CHIRPSTACK && dialect != ALEC_NS_TTS) {
      fprintf(stderr, PROG ": --dialect %s: want chirpstack or tts\n", v_dialect);
      bad = 1;
    }
  }
  if (bad) return 2;
  /* FPort profiles live in an <MQTT> block without a broker, so that
   * finalize resolves and checks them as it does the plugin's. */
  alec_pc_mqtt *mq = NULL;
  if (v_fport || v_group_from) {
    mq = cfg.mqtt = calloc(1, sizeof *cfg.mqtt);
    if (!mq) return 1;
    cfg.n_mqtt = 1;
    alec_pc_mqtt_defaults(mq, "replay");
    mq->dialect = dialect ? dialect : ALEC_NS_CHIRPSTACK;
    /* Keyframe requests would go to devices that are not there. */
    mq->downlinks = 0;
    if (v_fport && fport_opt(&cfg, mq, v_fport) != 0) bad = 1;
    if (!bad && v_tlv && tlv_opt(&cfg, v_tlv) != 0) bad = 1;
    if (v_group_from) snprintf(mq->group_from, sizeof mq->group_from, "%s", v_group_from);
    /* An <MQTT> block alone opens no UDP socket; the pcap input stands for
     * the plugin's default one. */
    strcpy(cfg.listen[0].node, ALEC_PC_DEFAULT_NODE);
    snprintf(cfg.listen[0].service, sizeof cfg.listen[0].service, "%u", port);
    cfg.n_listen = 1;
  } else if (v_tlv) {
    fprintf(stderr, PROG ": --tlv needs --fport\n");
    bad = 1;
  }
  if (!bad && v_source && source_opt(&cfg, v_source) != 0) bad = 1;
  if (v_auth) {
    /* Loaded, mode-checked and used as the plugin does (SecurityLevel None:
     * signed datagrams are verified, unsigned ones taken). */
    if (strlen(v_auth) >= sizeof cfg.auth_file) {
      fprintf(stderr, PROG ": --auth-file: path too long\n");
      bad = 1;
    } else {
      snprintf(cfg.auth_file, sizeof cfg.auth_file, "%s", v_auth);
    }
  }
  if (bad) {
    alec_pc_free(&cfg);
    return 2;
  }
  /* Messages are handed over one by one: no queue to speak of. */
  cfg.queue_length = 1;
  char err[ALEC_PC_ERR_LEN];
  if (alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) != 0) {
    fprintf(stderr, PROG ": %s\n", err);
    alec_pc_free(&cfg);
    return 2;
  }

  replay rp;
  memset(&rp, 0, sizeof rp);
  rp.quiet = quiet;
  alec_rx_sink sink = {.arg = &rp, .log = on_log, .values = on_values, .fleet_event = on_event};
  alec_rx *rx;
  if (alec_rx_new(&rx, &cfg, &sink) != 0) {
    alec_pc_free(&cfg);
    return 1;
  }
  FILE *in = alec_tool_open_input(path);
  if (!in) {
    alec_rx_free(rx);
    alec_pc_free(&cfg);
    return 1;
  }
  if (input == IN_AUTO) {
    int c = sniff_capture(&in);
    if (c < 0) {
      perror(PROG);
      alec_rx_free(rx);
      alec_pc_free(&cfg);
      return alec_tool_finish(in, 1);
    }
    if (c) input = IN_PCAP;
  }
  feeder f = {.rx = rx, .interval = interval};
  double cpu0 = cpu_seconds();
  static char line[LINE_MAX_LEN];
  uint64_t lineno = 0, refused = 0;
  int status = 0;
  static mqtt_in q;
  q.dialect = dialect;
  q.max_size = mq ? (size_t)mq->max_message_size : 4096;
  q.src = (alec_ns_source){.dialect = dialect ? dialect : ALEC_NS_CHIRPSTACK,
                           .security = mq ? mq->security : ALEC_PC_SEC_NONE,
                           .group_from = mq ? mq->group_from : NULL,
                           .profile = mq ? block_fport : NULL,
                           .profile_arg = mq,
                           .endpoint = mq};
  pcap_stats_ ps;
  memset(&ps, 0, sizeof ps);
  if (input == IN_PCAP) {
    int sec = cfg.n_listen ? cfg.listen[0].security : ALEC_PC_SEC_NONE;
    if (replay_pcap(in, &f, port, sec, &ps) != 0) status = 1;
    in = NULL; /* pcap_close closed it */
  } else {
    while (fgets(line, sizeof line, in)) {
      lineno++;
      size_t n = strlen(line);
      if (n == sizeof line - 1 && line[n - 1] != '\n') {
        fprintf(stderr, PROG ": line %" PRIu64 ": longer than %d bytes\n", lineno, LINE_MAX_LEN - 2);
        status = 1;
        break;
      }
      size_t kept;
      char *l = alec_tool_trim(line, &kept);
      if (kept == 0) continue;
      if (input == IN_AUTO) input = strstr(l, "\"frame_hex\"") ? IN_JSONL : IN_MQTT;
      if (input == IN_MQTT) {
        mqtt_line(&q, &f, l, kept);
        continue;
      }
      double t;
      alec_rx_msg *m;
      const char *why = "";
      if (parse_record(l, mq, &t, &m, &why) != 0) {
        fprintf(stderr, PROG ": line %" PRIu64 ": %s\n", lineno, why);
        refused++;
        continue;
      }
      feed(&f, t, m);
    }
    if (ferror(in)) {
      perror(PROG);
      status = 1;
    }
  }
  if (f.started) alec_rx_evaluate(rx, f.last);
  double cpu = cpu_seconds() - cpu0;
  alec_rx_stats st;
  alec_rx_get_stats(rx, f.last, &st);
  uint64_t rej = 0;
  for (int k = 0; k < ALEC_RX_REJ_COUNT; k++) rej += st.rejected[k];
  FILE *so = quiet ? stdout : stderr;
  if (input == IN_PCAP) {
    fprintf(so, "replay: pcap: %" PRIu64 " packets, %" PRIu64 " datagrams to port %u (%" PRIu64
                " reassembled from IP fragments), %" PRIu64 " oversized",
            ps.packets, ps.datagrams, port, ps.frag.reassembled, ps.oversized);
    for (int k = 1; k <= ALEC_PCAPIN_KIND_COUNT; k++)
      if (ps.refused[k]) fprintf(so, ", %" PRIu64 " %s", ps.refused[k], alec_pcapin_kind_name(k));
    fprintf(so, "%s%s\n", ps.unreadable ? "; stopped: " : "", ps.unreadable ? ps.error : "");
  } else if (input == IN_MQTT) {
    fprintf(so, "replay: mqtt: %" PRIu64 " events, %" PRIu64 " uplinks", q.events, f.messages);
    if (q.duplicates) fprintf(so, ", %" PRIu64 " redeliveries dropped", q.duplicates);
    for (int k = 0; k < MQ_KINDS; k++)
      if (q.refused[k]) fprintf(so, ", %" PRIu64 " %s", q.refused[k], mq_kind_name(k));
    fprintf(so, "\n");
  }
  fprintf(so,
          "replay: %" PRIu64 " records (%" PRIu64 " unreadable, %" PRIu64 " out of order), %" PRIu64
          " frames decoded, %" PRIu64 " rejected, %zu emitters, %.0f s of recorded time in %.3f s of CPU "
          "(%.0f x)\n",
          f.messages, refused, f.backwards, st.fleet.frames, rej, st.fleet.emitters, f.last - f.first, cpu,
          cpu > 0 ? (f.last - f.first) / cpu : 0.0);
  fprintf(so,
          "replay: events: %" PRIu64 " emitter, %" PRIu64 " fleet-shift, %" PRIu64 " stale, %" PRIu64
          " silent; %" PRIu64 " entries, %" PRIu64 " exits\n",
          rp.events[ALEC_FLEET_EVENT_EMITTER], rp.events[ALEC_FLEET_EVENT_SHIFT],
          rp.events[ALEC_FLEET_EVENT_STALE], rp.events[ALEC_FLEET_EVENT_SILENT], st.fleet.anomaly_entries,
          st.fleet.anomaly_exits);
  alec_rx_free(rx);
  alec_pc_free(&cfg);
  /* An unreadable record or a capture that could not be read to its end
   * (libpcap cannot resynchronise): the replay is incomplete. */
  if ((refused || ps.unreadable) && status == 0) status = 1;
  return alec_tool_finish(in, status);
}
