/* SPDX-License-Identifier: MIT */
/* bench-netsend: the sender of docs/PERFORMANCE.md. It sends the same values
 * at the same pace either way:
 *
 * --protocol collectd: value lists in collectd's binary network protocol
 *   (unsigned, unencrypted) written the way collectd's own network plugin
 *   writes them: a part is written only when it differs from the previous
 *   value list of the same packet, every packet starts from a blank state,
 *   and packets never exceed --max-packet bytes of UDP payload (1452 by
 *   default, collectd's default). Each value is one value list with one
 *   gauge, identified as the alec plugin identifies it: host, plugin "alec",
 *   plugin_instance group, type "gauge", type_instance "ch<N>".
 *
 * --protocol alec: one libalec encoder per emitter turns each row into one
 *   frame (fixed: all channels; multi: name_id = channel; single: one frame
 *   per value, source_id = channel), and envelope records carry the frames,
 *   batched up to --max-packet bytes like a gateway does, or one frame per
 *   datagram (--per-frame) like a device talking directly.
 *
 * Values come from a sample dataset (--csv: a timestamp column followed by
 * value columns) replayed by every emitter in lockstep, or from a synthetic
 * signal. One "row" is one emitter's reading of all its channels at one
 * instant: its value lists share one time part, as a gateway forwarding
 * timestamped readings would write them. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "alec/encoder.h"
#include "alec/envelope.h"
#include "alec/error.h"
#include "alec/frame.h"

/* Part types of collectd's binary protocol (collectd network.h). */
enum {
  PART_HOST = 0x0000,
  PART_PLUGIN = 0x0002,
  PART_PLUGIN_INSTANCE = 0x0003,
  PART_TYPE = 0x0004,
  PART_TYPE_INSTANCE = 0x0005,
  PART_VALUES = 0x0006,
  PART_TIME_HR = 0x0008,
  PART_INTERVAL_HR = 0x0009
};
#define DS_TYPE_GAUGE 1

#define NAME_MAX_LEN 128 /* DATA_MAX_NAME_LEN of collectd 5.12 */
#define PACKET_MAX 65507
#define MAX_CHANNELS 64
#define MAX_ROWS 1000000

typedef struct ident {
  char host[NAME_MAX_LEN];
  char plugin[NAME_MAX_LEN];
  char plugin_instance[NAME_MAX_LEN];
  char type[NAME_MAX_LEN];
  char type_instance[NAME_MAX_LEN];
  uint64_t time;
  uint64_t interval;
} ident;

typedef struct packer {
  uint8_t buf[PACKET_MAX];
  size_t len;
  size_t max;
  ident prev; /* what the packet already says */
  int fd;
  int dry_run;
  uint64_t packets;
  uint64_t bytes;
  uint64_t send_errors;
} packer;

typedef struct dataset {
  double *v; /* rows x cols */
  size_t rows;
  size_t cols;
} dataset;

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench-netsend --to HOST:PORT [options]\n"
          "  --csv FILE          replay this dataset (timestamp column, then value columns)\n"
          "  --channels N        synthetic signal with N channels (default 2; ignored with --csv)\n"
          "  --emitters N        emitters replaying the data in lockstep (default 1)\n"
          "  --first-emitter N   id of the first emitter (default 0)\n"
          "  --host-prefix P     host = P followed by the emitter id (default sensor-)\n"
          "  --host-hex          write the id as 16 hex digits (the alec plugin's default host\n"
          "                      names are alec-<16 hex digits>); default: at least 4 decimals\n"
          "  --group NAME        plugin_instance (default empty)\n"
          "  --steps N           rows per emitter (default: the dataset once; synthetic 100)\n"
          "  --values N          stop after N values (overrides --steps)\n"
          "  --rate R            values per second (default 0 = as fast as possible)\n"
          "  --max-packet N      UDP payload limit (default 1452, as collectd)\n"
          "  --interval S        interval part in seconds (default 1)\n"
          "  --dry-run           build packets, send nothing (byte accounting only)\n"
          "  --protocol P        collectd (default) or alec\n"
          "  --format F          alec: fixed (default), multi or single\n"
          "  --per-frame         one datagram per reading (alec: per frame; collectd: the\n"
          "                      value lists of one row), as a device talking directly;\n"
          "                      default: fill datagrams up to --max-packet, as a gateway\n"
          "Prints one summary line: values= rows= packets= bytes= bytes_per_value= seconds= "
          "rate=\n");
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
    return -1;
  *out = (uint64_t)v;
  return 0;
}

static int parse_double(const char *s, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* collectd time: seconds in the upper 34 bits, 2^-30 s fractions below. */
static uint64_t cdtime_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ((uint64_t)ts.tv_sec << 30) + (((uint64_t)ts.tv_nsec << 30) / 1000000000u);
}

static void put_u16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static int flush_packet(packer *pk) {
  if (pk->len == 0)
    return 0;
  if (!pk->dry_run) {
    ssize_t n = send(pk->fd, pk->buf, pk->len, 0);
    if (n < 0)
      pk->send_errors++;
  }
  pk->packets++;
  pk->bytes += pk->len;
  pk->len = 0;
  memset(&pk->prev, 0, sizeof(pk->prev));
  return 0;
}

/* Size the parts of this value list take given what the packet already says. */
static size_t vl_size(const packer *pk, const ident *id) {
  size_t n = 0;
  if (strcmp(id->host, pk->prev.host) != 0)
    n += 5 + strlen(id->host);
  if (id->time != pk->prev.time)
    n += 12;
  if (id->interval != pk->prev.interval)
    n += 12;
  if (strcmp(id->plugin, pk->prev.plugin) != 0)
    n += 5 + strlen(id->plugin);
  if (strcmp(id->plugin_instance, pk->prev.plugin_instance) != 0)
    n += 5 + strlen(id->plugin_instance);
  if (strcmp(id->type, pk->prev.type) != 0)
    n += 5 + strlen(id->type);
  if (strcmp(id->type_instance, pk->prev.type_instance) != 0)
    n += 5 + strlen(id->type_instance);
  return n + 6 + 9; /* values part with one gauge */
}

static void put_string(packer *pk, unsigned type, const char *s) {
  size_t l = strlen(s) + 1;
  put_u16(pk->buf + pk->len, type);
  put_u16(pk->buf + pk->len + 2, (unsigned)(4 + l));
  memcpy(pk->buf + pk->len + 4, s, l);
  pk->len += 4 + l;
}

static void put_number(packer *pk, unsigned type, uint64_t v) {
  put_u16(pk->buf + pk->len, type);
  put_u16(pk->buf + pk->len + 2, 12);
  put_u64(pk->buf + pk->len + 4, v);
  pk->len += 12;
}

static int add_value(packer *pk, const ident *id, double gauge) {
  size_t need = vl_size(pk, id);
  if (pk->len + need > pk->max) {
    flush_packet(pk);
    need = vl_size(pk, id);
    if (need > pk->max)
      return -1;
  }
  /* Same part order as collectd's network plugin. */
  if (strcmp(id->host, pk->prev.host) != 0)
    put_string(pk, PART_HOST, id->host);
  if (id->time != pk->prev.time)
    put_number(pk, PART_TIME_HR, id->time);
  if (id->interval != pk->prev.interval)
    put_number(pk, PART_INTERVAL_HR, id->interval);
  if (strcmp(id->plugin, pk->prev.plugin) != 0)
    put_string(pk, PART_PLUGIN, id->plugin);
  if (strcmp(id->plugin_instance, pk->prev.plugin_instance) != 0)
    put_string(pk, PART_PLUGIN_INSTANCE, id->plugin_instance);
  if (strcmp(id->type, pk->prev.type) != 0)
    put_string(pk, PART_TYPE, id->type);
  if (strcmp(id->type_instance, pk->prev.type_instance) != 0)
    put_string(pk, PART_TYPE_INSTANCE, id->type_instance);
  put_u16(pk->buf + pk->len, PART_VALUES);
  put_u16(pk->buf + pk->len + 2, 6 + 9);
  put_u16(pk->buf + pk->len + 4, 1);
  pk->buf[pk->len + 6] = DS_TYPE_GAUGE;
  /* Gauges travel in x86 byte order (little endian), whatever the host. */
  uint64_t bits;
  memcpy(&bits, &gauge, sizeof(bits));
  for (size_t i = 0; i < 8; i++)
    pk->buf[pk->len + 7 + i] = (uint8_t)(bits >> (8 * i));
  pk->len += 15;
  pk->prev = *id;
  return 0;
}

/* The ALEC side: one encoder per emitter, envelope records batched into
 * datagrams of at most pk->max bytes. */
typedef struct alec_side {
  alec_format format;
  int per_frame;
  unsigned env_flags; /* ALEC_ENVELOPE_FLAG_RUN for one emitter filling datagrams */
  alec_encoder **enc;
  size_t n_enc;
  alec_envelope_writer w;
  uint64_t frames;
  uint64_t frame_bytes;
  uint64_t values_in_frames;
} alec_side;

static int alec_flush(packer *pk, alec_side *as) {
  if (as->w.count > 0) {
    pk->len = as->w.len;
    flush_packet(pk);
  }
  return alec_envelope_writer_init(&as->w, pk->buf, pk->max, as->env_flags);
}

static int alec_add_frame(packer *pk, alec_side *as, uint64_t emitter, unsigned channels,
                          const uint8_t *frame, size_t len) {
  int rc = alec_envelope_add(&as->w, emitter, as->format, channels, frame, len);
  if (rc == ALEC_EBUFSIZE && as->w.count > 0) {
    if (alec_flush(pk, as) != 0)
      return -1;
    rc = alec_envelope_add(&as->w, emitter, as->format, channels, frame, len);
  }
  if (rc < 0) {
    fprintf(stderr, "bench-netsend: envelope: %s\n", alec_strerror(rc));
    return -1;
  }
  as->frames++;
  as->frame_bytes += len;
  if (as->per_frame)
    return alec_flush(pk, as);
  return 0;
}

/* Encodes one emitter's row and queues the frame(s). */
static int alec_send_row(packer *pk, alec_side *as, uint64_t e, uint64_t emitter,
                         const double *row, unsigned channels, uint64_t ts_ms) {
  uint8_t frame[ALEC_FRAME_MAX];
  int n;
  switch (as->format) {
  case ALEC_FORMAT_FIXED:
    n = alec_encode_fixed(as->enc[e], row, channels, frame, sizeof(frame));
    if (n > 0)
      as->values_in_frames += channels;
    break;
  case ALEC_FORMAT_MULTI:
    n = alec_encode_multi(as->enc[e], row, channels, ts_ms, frame, sizeof(frame));
    /* The count byte follows header, source varint 00 and tag 0x40; the
     * encoder leaves out disposable channels. */
    if (n > 12)
      as->values_in_frames += frame[12];
    break;
  default:
    for (unsigned c = 0; c < channels; c++) {
      n = alec_encode_single(as->enc[e], c, row[c], ts_ms, frame, sizeof(frame), NULL);
      if (n < 0)
        break;
      as->values_in_frames++;
      if (alec_add_frame(pk, as, emitter, 0, frame, (size_t)n) != 0)
        return -1;
    }
    if (n < 0) {
      fprintf(stderr, "bench-netsend: encode: %s\n", alec_strerror(n));
      return -1;
    }
    return 0;
  }
  if (n < 0) {
    fprintf(stderr, "bench-netsend: encode: %s\n", alec_strerror(n));
    return -1;
  }
  return alec_add_frame(pk, as, emitter, as->format == ALEC_FORMAT_FIXED ? channels : 0, frame,
                        (size_t)n);
}

static int load_csv(const char *path, dataset *ds) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "bench-netsend: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[4096];
  size_t cap = 0;
  ds->v = NULL;
  ds->rows = 0;
  ds->cols = 0;
  int header = 1;
  while (fgets(line, sizeof(line), f) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0')
      continue;
    double row[MAX_CHANNELS];
    size_t n = 0;
    char *save = NULL;
    char *tok = strtok_r(line, ",", &save); /* timestamp column, ignored */
    int bad = 0;
    while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
      if (n == MAX_CHANNELS || parse_double(tok, &row[n]) != 0) {
        bad = 1;
        break;
      }
      n++;
    }
    if (header) {
      header = 0;
      if (bad) /* the column names */
        continue;
    }
    if (bad || n == 0 || (ds->cols != 0 && n != ds->cols)) {
      fprintf(stderr, "bench-netsend: %s: bad row %zu\n", path, ds->rows + 1);
      fclose(f);
      free(ds->v);
      return -1;
    }
    ds->cols = n;
    if (ds->rows == MAX_ROWS)
      break;
    if ((ds->rows + 1) * n > cap) {
      size_t ncap = cap ? cap * 2 : 1024;
      while (ncap < (ds->rows + 1) * n)
        ncap *= 2;
      double *nv = realloc(ds->v, ncap * sizeof(*nv));
      if (nv == NULL) {
        fclose(f);
        free(ds->v);
        return -1;
      }
      ds->v = nv;
      cap = ncap;
    }
    memcpy(ds->v + ds->rows * n, row, n * sizeof(double));
    ds->rows++;
  }
  fclose(f);
  if (ds->rows == 0) {
    fprintf(stderr, "bench-netsend: %s: no data rows\n", path);
    free(ds->v);
    return -1;
  }
  return 0;
}

static int open_socket(const char *to) {
  char host[256];
  const char *colon = strrchr(to, ':');
  if (colon == NULL || (size_t)(colon - to) >= sizeof(host) || colon == to) {
    fprintf(stderr, "bench-netsend: --to wants HOST:PORT\n");
    return -1;
  }
  memcpy(host, to, (size_t)(colon - to));
  host[colon - to] = '\0';
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  int rc = getaddrinfo(host, colon + 1, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "bench-netsend: %s: %s\n", to, gai_strerror(rc));
    return -1;
  }
  int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    fprintf(stderr, "bench-netsend: %s: %s\n", to, strerror(errno));
    if (fd >= 0)
      close(fd);
    freeaddrinfo(res);
    return -1;
  }
  int sndbuf = 4 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  freeaddrinfo(res);
  return fd;
}

/* Paces to `rate` values/s: sleeps until value number `sent` is due. */
static void pace(uint64_t start, uint64_t sent, double rate) {
  if (rate <= 0)
    return;
  uint64_t due = start + (uint64_t)((double)sent * 1e9 / rate);
  uint64_t now = now_ns();
  if (due > now + 20000) {
    struct timespec ts = {(time_t)((due - now) / 1000000000u),
                          (long)((due - now) % 1000000000u)};
    nanosleep(&ts, NULL);
  }
}

int main(int argc, char **argv) {
  const char *to = NULL, *csv = NULL, *host_prefix = "sensor-", *group = "";
  uint64_t emitters = 1, first = 0, steps = 0, max_values = 0, channels = 2, max_packet = 1452;
  double rate = 0, interval = 1.0;
  int dry_run = 0, host_hex = 0, use_alec = 0;
  alec_side as;
  memset(&as, 0, sizeof(as));
  as.format = ALEC_FORMAT_FIXED;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(a, "--dry-run") == 0) {
      dry_run = 1;
      continue;
    }
    if (strcmp(a, "--host-hex") == 0) {
      host_hex = 1;
      continue;
    }
    if (strcmp(a, "--per-frame") == 0) {
      as.per_frame = 1;
      continue;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (v == NULL) {
      usage(stderr);
      return 2;
    }
    i++;
    if (strcmp(a, "--to") == 0)
      to = v;
    else if (strcmp(a, "--csv") == 0)
      csv = v;
    else if (strcmp(a, "--host-prefix") == 0)
      host_prefix = v;
    else if (strcmp(a, "--protocol") == 0) {
      use_alec = strcmp(v, "alec") == 0;
      bad = !use_alec && strcmp(v, "collectd") != 0;
    } else if (strcmp(a, "--format") == 0)
      bad = alec_format_parse(v, &as.format) != 0 || as.format == ALEC_FORMAT_SINGLE_XXH32;
    else if (strcmp(a, "--group") == 0)
      group = v;
    else if (strcmp(a, "--channels") == 0)
      bad = parse_u64(v, &channels) || channels == 0 || channels > MAX_CHANNELS;
    else if (strcmp(a, "--emitters") == 0)
      bad = parse_u64(v, &emitters) || emitters == 0 || emitters > 10000000;
    else if (strcmp(a, "--first-emitter") == 0)
      bad = parse_u64(v, &first) || first > UINT32_MAX;
    else if (strcmp(a, "--steps") == 0)
      bad = parse_u64(v, &steps);
    else if (strcmp(a, "--values") == 0)
      bad = parse_u64(v, &max_values);
    else if (strcmp(a, "--max-packet") == 0)
      bad = parse_u64(v, &max_packet) || max_packet < 64 || max_packet > PACKET_MAX;
    else if (strcmp(a, "--rate") == 0)
      bad = parse_double(v, &rate) || rate < 0;
    else if (strcmp(a, "--interval") == 0)
      bad = parse_double(v, &interval) || interval <= 0;
    else {
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "bench-netsend: bad value for %s: %s\n", a, v);
      return 2;
    }
  }
  if (to == NULL && !dry_run) {
    usage(stderr);
    return 2;
  }
  if (strlen(host_prefix) > NAME_MAX_LEN - 24 || strlen(group) >= NAME_MAX_LEN) {
    fprintf(stderr, "bench-netsend: --host-prefix or --group too long\n");
    return 2;
  }

  dataset ds = {NULL, 0, 0};
  if (csv != NULL) {
    if (load_csv(csv, &ds) != 0)
      return 1;
    channels = ds.cols;
    if (steps == 0)
      steps = ds.rows;
  } else if (steps == 0) {
    steps = 100;
  }
  if (max_values == 0)
    max_values = steps * emitters * channels;

  static packer pk;
  pk.max = (size_t)max_packet;
  pk.dry_run = dry_run;
  pk.fd = -1;
  if (!dry_run) {
    pk.fd = open_socket(to);
    if (pk.fd < 0) {
      free(ds.v);
      return 1;
    }
  }

  if (use_alec) {
    as.n_enc = (size_t)emitters;
    as.enc = calloc(as.n_enc, sizeof(*as.enc));
    if (as.enc == NULL)
      return 1;
    for (size_t e = 0; e < as.n_enc; e++) {
      int rc = alec_encoder_new(&as.enc[e], NULL);
      if (rc != 0) {
        fprintf(stderr, "bench-netsend: encoder: %s\n", alec_strerror(rc));
        return 1;
      }
    }
    as.env_flags = (as.n_enc == 1 && !as.per_frame) ? ALEC_ENVELOPE_FLAG_RUN : 0;
    if (alec_envelope_writer_init(&as.w, pk.buf, pk.max, as.env_flags) != 0)
      return 1;
  }

  ident id;
  memset(&id, 0, sizeof(id));
  snprintf(id.plugin, sizeof(id.plugin), "alec");
  snprintf(id.plugin_instance, sizeof(id.plugin_instance), "%s", group);
  snprintf(id.type, sizeof(id.type), "gauge");
  id.interval = (uint64_t)(interval * 1073741824.0);

  uint64_t sent = 0, rows = 0;
  uint64_t start = now_ns();
  int rc = 0;
  for (uint64_t step = 0; sent < max_values; step++) {
    for (uint64_t e = 0; e < emitters && sent < max_values; e++) {
      if (host_hex)
        snprintf(id.host, sizeof(id.host), "%s%016" PRIx64, host_prefix, first + e);
      else
        snprintf(id.host, sizeof(id.host), "%s%04" PRIu64, host_prefix, first + e);
      id.time = cdtime_now();
      rows++;
      if (use_alec) {
        double row[MAX_CHANNELS];
        unsigned nch = (unsigned)channels;
        if (max_values - sent < nch)
          nch = (unsigned)(max_values - sent);
        for (unsigned c = 0; c < nch; c++)
          row[c] = ds.v != NULL ? ds.v[(step % ds.rows) * ds.cols + c]
                                : 20.0 + (double)c + 0.01 * (double)((step * 7 + e * 13 + c) % 100);
        pace(start, sent, rate);
        if (alec_send_row(&pk, &as, e, first + e, row, nch, (id.time >> 30) * 1000u) != 0) {
          rc = 1;
          goto done;
        }
        sent += nch;
        continue;
      }
      for (uint64_t c = 0; c < channels && sent < max_values; c++) {
        double v;
        if (ds.v != NULL)
          v = ds.v[(step % ds.rows) * ds.cols + c];
        else
          v = 20.0 + (double)c + 0.01 * (double)((step * 7 + e * 13 + c) % 100);
        snprintf(id.type_instance, sizeof(id.type_instance), "ch%u", (unsigned)c);
        pace(start, sent, rate);
        if (add_value(&pk, &id, v) != 0) {
          fprintf(stderr, "bench-netsend: value list does not fit in a packet\n");
          rc = 1;
          goto done;
        }
        sent++;
      }
      if (as.per_frame)
        flush_packet(&pk);
    }
  }
done:
  if (use_alec)
    (void)alec_flush(&pk, &as);
  else
    flush_packet(&pk);
  double secs = (double)(now_ns() - start) / 1e9;
  printf("values=%" PRIu64 " rows=%" PRIu64 " packets=%" PRIu64 " bytes=%" PRIu64
         " bytes_per_value=%.3f seconds=%.3f rate=%.0f send_errors=%" PRIu64 "\n",
         sent, rows, pk.packets, pk.bytes, sent ? (double)pk.bytes / (double)sent : 0.0, secs,
         secs > 0 ? (double)sent / secs : 0.0, pk.send_errors);
  if (use_alec)
    printf("frames=%" PRIu64 " frame_bytes=%" PRIu64 " values_in_frames=%" PRIu64 "\n", as.frames,
           as.frame_bytes, as.values_in_frames);
  for (size_t e = 0; e < as.n_enc; e++)
    alec_encoder_free(as.enc[e]);
  free(as.enc);
  if (pk.fd >= 0)
    close(pk.fd);
  free(ds.v);
  return rc != 0 ? rc : (pk.send_errors != 0 ? 1 : 0);
}
