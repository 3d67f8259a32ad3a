/* SPDX-License-Identifier: MIT */
/* Network-server uplink events (ChirpStack v4, The Things Stack v3) read
 * with yajl's callback parser into a fixed-size struct, and the downlink
 * JSON written with yajl_gen. See nsevent.h for the contract. */
#include "nsevent.h"

#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

/* ---- kinds ---------------------------------------------------------------- */

static const char *const ns_messages[] = {
#define ALEC_NS_X_(n, s, m) m,
    ALEC_NS_ERRORS(ALEC_NS_X_)
#undef ALEC_NS_X_
};
static const char *const ns_names[] = {
#define ALEC_NS_X_(n, s, m) #s,
    ALEC_NS_ERRORS(ALEC_NS_X_)
#undef ALEC_NS_X_
};

const char *alec_ns_strerror(int err) {
  if (err == 0) return "success";
  if (err < 0 && -err <= ALEC_NS_KINDS) return ns_messages[-err - 1];
  return "unknown network-server event error";
}

const char *alec_ns_kind_name(int err) {
  if (err < 0 && -err <= ALEC_NS_KINDS) return ns_names[-err - 1];
  return "ns_unknown";
}

/* ---- dialects ------------------------------------------------------------- */

static const struct {
  int dialect;
  const char *name, *topic;
} ns_dialects[] = {
    {ALEC_NS_CHIRPSTACK, "chirpstack", "application/+/device/+/event/up"},
    {ALEC_NS_TTS, "tts", "v3/+/devices/+/up"},
    {ALEC_NS_RAW, "raw", NULL},
};
#define NS_NDIALECTS (sizeof ns_dialects / sizeof ns_dialects[0])

int alec_ns_dialect_parse(const char *name) {
  if (name != NULL)
    for (size_t i = 0; i < NS_NDIALECTS; i++)
      if (strcmp(name, ns_dialects[i].name) == 0) return ns_dialects[i].dialect;
  return ALEC_NS_EDIALECT;
}

const char *alec_ns_dialect_name(int dialect) {
  for (size_t i = 0; i < NS_NDIALECTS; i++)
    if (ns_dialects[i].dialect == dialect) return ns_dialects[i].name;
  return "?";
}

const char *alec_ns_default_topic(int dialect) {
  for (size_t i = 0; i < NS_NDIALECTS; i++)
    if (ns_dialects[i].dialect == dialect) return ns_dialects[i].topic;
  return NULL;
}

/* ---- small lexical helpers ------------------------------------------------ */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Exactly 16 hex digits, either case. */
static int parse_eui(const unsigned char *s, size_t n, uint64_t *out) {
  if (n != 16) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v << 4 | (uint64_t)h;
  }
  *out = v;
  return 0;
}

void alec_ns_dev_eui_format(uint64_t dev_eui, char out[17]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, dev_eui >>= 4) out[i] = digits[dev_eui & 15];
  out[16] = '\0';
}

/* A JSON number (RFC 8259 grammar, checked here too because proto3 JSON
 * also allows numbers inside strings). Integers: no fraction, no exponent,
 * at most 19 digits. Locale-free. */
typedef struct ns_num {
  int is_int, neg;
  uint64_t ival; /* magnitude when is_int */
  double dval;
} ns_num;

static int parse_number(const unsigned char *s, size_t n, ns_num *out) {
  size_t i = 0;
  memset(out, 0, sizeof *out);
  if (i < n && s[i] == '-') out->neg = 1, i++;
  if (i >= n || s[i] < '0' || s[i] > '9') return -1;
  if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') return -1;
  /* Mantissa: the first 19 significant digits, the rest only scale. */
  uint64_t mant = 0;
  int digits = 0, exp10 = 0, intdigits = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, intdigits++) {
    if (digits < 19) {
      mant = mant * 10 + (uint64_t)(s[i] - '0');
      if (mant != 0) digits++;
    } else {
      exp10++;
    }
  }
  out->is_int = 1;
  if (i < n && s[i] == '.') {
    out->is_int = 0;
    i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return -1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      if (digits < 19) {
        mant = mant * 10 + (uint64_t)(s[i] - '0');
        if (mant != 0) digits++;
        exp10--;
      }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    out->is_int = 0;
    i++;
    int eneg = 0, e = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i] == '-', i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return -1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      if (e < 10000) e = e * 10 + (s[i] - '0');
    exp10 += eneg ? -e : e;
  }
  if (i != n) return -1;
  if (out->is_int) {
    if (intdigits > 19) return -2; /* too large for any field we read */
    out->ival = mant;
  }
  /* Only link-quality figures (a few digits) are read as doubles: plain
   * scaling is accurate enough and never overflows into UB. */
  double v = (double)mant;
  if (exp10 > 400) exp10 = 400;
  if (exp10 < -400) exp10 = -400;
  for (; exp10 > 0; exp10--) v *= 10.0;
  for (; exp10 < 0; exp10++) v /= 10.0;
  out->dval = out->neg ? -v : v;
  return 0;
}

/* ---- RFC 3339 ------------------------------------------------------------- */

static int digits_at(const char *s, size_t n, size_t at, int count, int *out) {
  if (at + (size_t)count > n) return -1;
  int v = 0;
  for (int i = 0; i < count; i++) {
    unsigned char c = (unsigned char)s[at + (size_t)i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

int alec_ns_parse_time(const char *s, size_t len, double *out) {
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int Y, M, D, h, m, sec;
  if (s == NULL || out == NULL) return ALEC_NS_ETIME;
  if (digits_at(s, len, 0, 4, &Y) || len < 20 || s[4] != '-' || digits_at(s, len, 5, 2, &M) || s[7] != '-' ||
      digits_at(s, len, 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits_at(s, len, 11, 2, &h) ||
      s[13] != ':' || digits_at(s, len, 14, 2, &m) || s[16] != ':' || digits_at(s, len, 17, 2, &sec))
    return ALEC_NS_ETIME;
  int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 || m > 59 ||
      sec > 60)
    return ALEC_NS_ETIME;
  size_t i = 19;
  double frac = 0, scale = 0.1;
  if (i < len && s[i] == '.') {
    i++;
    size_t start = i;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
      if (i - start < 9) frac += (s[i] - '0') * scale;
      scale /= 10;
    }
    if (i == start) return ALEC_NS_ETIME;
  }
  int offset = 0;
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < len && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (digits_at(s, len, i + 1, 2, &oh) || i + 3 >= len || s[i + 3] != ':' || digits_at(s, len, i + 4, 2, &om) ||
        oh > 23 || om > 59)
      return ALEC_NS_ETIME;
    offset = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return ALEC_NS_ETIME;
  }
  if (i != len) return ALEC_NS_ETIME;
  long long t = days_from_civil(Y, M, D) * 86400LL + h * 3600 + m * 60 + sec - offset;
  *out = (double)t + frac;
  return 0;
}

/* ---- the parser ------------------------------------------------------------ */

/* What a container is. */
enum ns_ctx {
  CX_SKIP = 0, /* unknown field: everything inside is ignored */
  CX_ROOT,
  CX_CS_DEVINFO,
  CX_CS_TAGS,
  CX_CS_RXINFO,   /* array */
  CX_CS_RXITEM,
  CX_TTS_IDS,
  CX_TTS_APPIDS,
  CX_TTS_UPLINK,
  CX_TTS_RXMETA,  /* array */
  CX_TTS_RXITEM,
  CX_TTS_CORR,    /* array of strings */
  CX_TTS_NETIDS
};

enum ns_type { T_STR, T_NUM, T_OBJ, T_ARR };

/* What a field is. */
enum ns_field {
  F_UNKNOWN = 0,
  F_CS_DEDUP, F_CS_TIME, F_CS_DEVINFO, F_CS_FCNT, F_CS_FPORT, F_CS_DATA, F_CS_RXINFO,
  F_CS_TENANT, F_CS_APP_ID, F_CS_APP_NAME, F_CS_DP_ID, F_CS_DP_NAME, F_CS_DEV_NAME, F_CS_DEVEUI, F_CS_TAGS,
  F_RSSI, F_SNR, F_CHANNEL_RSSI,
  F_TTS_IDS, F_TTS_RECEIVED_AT, F_TTS_UPLINK, F_TTS_CORR,
  F_TTS_DEVICE_ID, F_TTS_APPIDS, F_TTS_DEVEUI, F_TTS_APP_ID,
  F_TTS_FPORT, F_TTS_FCNT, F_TTS_PAYLOAD, F_TTS_RXMETA, F_TTS_UP_RECEIVED_AT, F_TTS_NETIDS, F_TTS_TENANT,
  F_TAG /* a key of deviceInfo.tags */
};

/* One table: where a field lives, its JSON name, its type and, for
 * containers, what it opens. The position of a field among its context's
 * rows is its bit in the duplicate mask. */
static const struct ns_fdef {
  uint8_t ctx, field, type, opens, len;
  const char *name;
} ns_fields[] = {
/* The name's length is kept with it: keys are compared per message. */
#define F_(ctx, field, type, opens, name) {ctx, field, type, opens, sizeof name - 1, name}
    F_(CX_ROOT, F_CS_DEDUP, T_STR, 0, "deduplicationId"),
    F_(CX_ROOT, F_CS_TIME, T_STR, 0, "time"),
    F_(CX_ROOT, F_CS_DEVINFO, T_OBJ, CX_CS_DEVINFO, "deviceInfo"),
    F_(CX_ROOT, F_CS_FCNT, T_NUM, 0, "fCnt"),
    F_(CX_ROOT, F_CS_FPORT, T_NUM, 0, "fPort"),
    F_(CX_ROOT, F_CS_DATA, T_STR, 0, "data"),
    F_(CX_ROOT, F_CS_RXINFO, T_ARR, CX_CS_RXINFO, "rxInfo"),
    F_(CX_CS_DEVINFO, F_CS_TENANT, T_STR, 0, "tenantId"),
    F_(CX_CS_DEVINFO, F_CS_APP_ID, T_STR, 0, "applicationId"),
    F_(CX_CS_DEVINFO, F_CS_APP_NAME, T_STR, 0, "applicationName"),
    F_(CX_CS_DEVINFO, F_CS_DP_ID, T_STR, 0, "deviceProfileId"),
    F_(CX_CS_DEVINFO, F_CS_DP_NAME, T_STR, 0, "deviceProfileName"),
    F_(CX_CS_DEVINFO, F_CS_DEV_NAME, T_STR, 0, "deviceName"),
    F_(CX_CS_DEVINFO, F_CS_DEVEUI, T_STR, 0, "devEui"),
    F_(CX_CS_DEVINFO, F_CS_TAGS, T_OBJ, CX_CS_TAGS, "tags"),
    F_(CX_CS_RXITEM, F_RSSI, T_NUM, 0, "rssi"),
    F_(CX_CS_RXITEM, F_SNR, T_NUM, 0, "snr"),
    F_(CX_ROOT, F_TTS_IDS, T_OBJ, CX_TTS_IDS, "end_device_ids"),
    F_(CX_ROOT, F_TTS_RECEIVED_AT, T_STR, 0, "received_at"),
    F_(CX_ROOT, F_TTS_UPLINK, T_OBJ, CX_TTS_UPLINK, "uplink_message"),
    F_(CX_ROOT, F_TTS_CORR, T_ARR, CX_TTS_CORR, "correlation_ids"),
    F_(CX_TTS_IDS, F_TTS_DEVICE_ID, T_STR, 0, "device_id"),
    F_(CX_TTS_IDS, F_TTS_APPIDS, T_OBJ, CX_TTS_APPIDS, "application_ids"),
    F_(CX_TTS_IDS, F_TTS_DEVEUI, T_STR, 0, "dev_eui"),
    F_(CX_TTS_APPIDS, F_TTS_APP_ID, T_STR, 0, "application_id"),
    F_(CX_TTS_UPLINK, F_TTS_FPORT, T_NUM, 0, "f_port"),
    F_(CX_TTS_UPLINK, F_TTS_FCNT, T_NUM, 0, "f_cnt"),
    F_(CX_TTS_UPLINK, F_TTS_PAYLOAD, T_STR, 0, "frm_payload"),
    F_(CX_TTS_UPLINK, F_TTS_RXMETA, T_ARR, CX_TTS_RXMETA, "rx_metadata"),
    F_(CX_TTS_UPLINK, F_TTS_UP_RECEIVED_AT, T_STR, 0, "received_at"),
    F_(CX_TTS_UPLINK, F_TTS_NETIDS, T_OBJ, CX_TTS_NETIDS, "network_ids"),
    F_(CX_TTS_NETIDS, F_TTS_TENANT, T_STR, 0, "tenant_id"),
    F_(CX_TTS_RXITEM, F_RSSI, T_NUM, 0, "rssi"),
    F_(CX_TTS_RXITEM, F_CHANNEL_RSSI, T_NUM, 0, "channel_rssi"),
    F_(CX_TTS_RXITEM, F_SNR, T_NUM, 0, "snr"),
#undef F_
};
#define NS_NFIELDS (sizeof ns_fields / sizeof ns_fields[0])

/* Each context's rows, in table order (so a row's position is its
 * duplicate bit): a key is compared with its context's rows only, not
 * with all the table's (keys are matched per message). */
#define NS_NCTX (CX_TTS_NETIDS + 1)
#define NS_CTX_ROWS_MAX 32 /* the duplicate mask's width */
static struct {
  uint8_t n, row[NS_CTX_ROWS_MAX];
} ns_ctx_rows[NS_NCTX];
static pthread_once_t ns_ctx_once = PTHREAD_ONCE_INIT;

static void ns_ctx_index(void) {
  for (size_t i = 0; i < NS_NFIELDS; i++) {
    unsigned c = ns_fields[i].ctx;
    if (c < NS_NCTX && ns_ctx_rows[c].n < NS_CTX_ROWS_MAX) ns_ctx_rows[c].row[ns_ctx_rows[c].n++] = (uint8_t)i;
  }
}
_Static_assert(NS_NFIELDS <= 255, "row indexes are uint8_t");

/* Root fields of the other dialect are unknown fields. */
static int field_in_dialect(int dialect, const struct ns_fdef *f) {
  if (f->ctx != CX_ROOT) return 1;
  int tts = f->field >= F_TTS_IDS && f->field <= F_TTS_CORR;
  return dialect == ALEC_NS_TTS ? tts : !tts;
}

typedef struct ns_frame {
  uint8_t ctx, is_array;
  int16_t key;   /* index into ns_fields of the pending key, -1 unknown, -2 tag */
  uint32_t seen; /* duplicate detection: bit = index among the context's rows */
  /* a gateway being read (rx items) */
  int has_rssi, has_snr, has_crssi;
  double rssi, snr, crssi;
} ns_frame;

typedef struct ns_parser {
  int dialect, err;
  unsigned depth;
  ns_frame st[ALEC_NS_DEPTH_MAX + 1];
  alec_ns_uplink *u;
  int has_deveui, has_devinfo, has_ids, has_uplink, has_data, has_up_time, has_root_time;
  double up_time, root_time;
  int has_best;
  int best_has_snr, best_has_rssi;
  double best_snr, best_rssi;
  char pending_tag[ALEC_NS_TAG_KEY_LEN];
} ns_parser;

static int fail(ns_parser *p, int err) {
  if (p->err == 0) p->err = err;
  return 0; /* cancels the parse */
}

/* Copies a string field: ESTRING when too long or holding a control
 * character (a NUL would cut it short, others break host names and logs). */
static int copy_str(ns_parser *p, char *dst, size_t cap, const unsigned char *s, size_t n) {
  if (n >= cap) return fail(p, ALEC_NS_ESTRING);
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x20 || s[i] == 0x7f) return fail(p, ALEC_NS_ESTRING);
  memcpy(dst, s, n);
  dst[n] = '\0';
  return 1;
}

static int base64_decode(ns_parser *p, const unsigned char *s, size_t n) {
  /* Checked before decoding: the string's length bounds the output. */
  if (n > 4 * ((ALEC_NS_DATA_MAX + 2) / 3)) return fail(p, ALEC_NS_EPAYLOAD_LEN);
  /* One byte more than a FRMPayload: a well-formed 243-byte payload is a
   * length refusal, not a base64 one. */
  uint8_t buf[ALEC_NS_DATA_MAX + 1];
  size_t bin = 0;
  const char *end = NULL;
  if (n == 0) {
    p->u->data_len = 0;
    p->has_data = 1;
    return 1;
  }
  if (sodium_base642bin(buf, sizeof buf, (const char *)s, n, NULL, &bin, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != (const char *)s + n)
    return fail(p, ALEC_NS_EBASE64);
  if (bin > ALEC_NS_DATA_MAX) return fail(p, ALEC_NS_EPAYLOAD_LEN);
  memcpy(p->u->data, buf, bin);
  p->u->data_len = bin;
  p->has_data = 1;
  return 1;
}

static int set_uint(ns_parser *p, const ns_num *v, uint64_t max, uint64_t *out) {
  if (!v->is_int || v->neg || v->ival > max) return fail(p, ALEC_NS_ERANGE);
  *out = v->ival;
  return 1;
}

static int gw_value(ns_parser *p, ns_frame *f, int field, const ns_num *v) {
  double x = v->dval;
  if (field == F_SNR) {
    if (!(x >= -100 && x <= 100)) return fail(p, ALEC_NS_ERANGE);
    f->has_snr = 1, f->snr = x;
  } else {
    if (!(x >= -300 && x <= 100)) return fail(p, ALEC_NS_ERANGE);
    if (field == F_RSSI)
      f->has_rssi = 1, f->rssi = x;
    else
      f->has_crssi = 1, f->crssi = x;
  }
  return 1;
}

/* A scalar value for field index fi in frame f: type already checked. */
static int scalar(ns_parser *p, ns_frame *f, const struct ns_fdef *fd, int is_num, const unsigned char *s,
                  size_t n) {
  alec_ns_uplink *u = p->u;
  ns_num v;
  uint64_t x;
  /* ChirpStack and TTS write the FPort (a uint32) as a JSON number; a
   * string is a publisher that is not one of them. */
  if (!is_num && (fd->field == F_CS_FPORT || fd->field == F_TTS_FPORT)) return fail(p, ALEC_NS_ETYPE);
  if (is_num || fd->type == T_NUM) {
    int r = parse_number(s, n, &v);
    if (r == -1) {
      /* proto3 JSON writes non-finite floats as strings: no figure. */
      if (!is_num && (fd->field == F_SNR || fd->field == F_RSSI || fd->field == F_CHANNEL_RSSI) &&
          ((n == 3 && memcmp(s, "NaN", 3) == 0) || (n == 8 && memcmp(s, "Infinity", 8) == 0) ||
           (n == 9 && memcmp(s, "-Infinity", 9) == 0)))
        return 1;
      return fail(p, is_num ? ALEC_NS_ESYNTAX : ALEC_NS_ETYPE);
    }
    if (r == -2) return fail(p, ALEC_NS_ERANGE);
  }
  switch (fd->field) {
  case F_CS_DEDUP:
    if (n < sizeof u->dedup_id) return copy_str(p, u->dedup_id, sizeof u->dedup_id, s, n);
    return 1; /* too long to be a key: no redelivery detection */
  case F_CS_TIME:
  case F_TTS_RECEIVED_AT:
  case F_TTS_UP_RECEIVED_AT: {
    double t;
    if (alec_ns_parse_time((const char *)s, n, &t) != 0) return fail(p, ALEC_NS_ETIME);
    if (fd->field == F_TTS_RECEIVED_AT)
      p->has_root_time = 1, p->root_time = t;
    else
      p->has_up_time = 1, p->up_time = t;
    return 1;
  }
  case F_CS_FCNT:
  case F_TTS_FCNT:
    if (!set_uint(p, &v, UINT32_MAX, &x)) return 0;
    u->has_fcnt = 1, u->fcnt = (uint32_t)x;
    return 1;
  case F_CS_FPORT:
  case F_TTS_FPORT:
    if (!set_uint(p, &v, 255, &x)) return 0;
    u->has_fport = 1, u->fport = (uint8_t)x;
    return 1;
  case F_CS_DATA:
  case F_TTS_PAYLOAD:
    return base64_decode(p, s, n);
  case F_CS_TENANT:
  case F_TTS_TENANT: return copy_str(p, u->tenant_id, sizeof u->tenant_id, s, n);
  case F_CS_APP_ID:
  case F_TTS_APP_ID: return copy_str(p, u->application_id, sizeof u->application_id, s, n);
  case F_CS_APP_NAME: return copy_str(p, u->application_name, sizeof u->application_name, s, n);
  case F_CS_DP_ID: return copy_str(p, u->device_profile_id, sizeof u->device_profile_id, s, n);
  case F_CS_DP_NAME: return copy_str(p, u->device_profile_name, sizeof u->device_profile_name, s, n);
  case F_CS_DEV_NAME: return copy_str(p, u->device_name, sizeof u->device_name, s, n);
  case F_TTS_DEVICE_ID:
    return copy_str(p, u->device_id, sizeof u->device_id, s, n) &&
           copy_str(p, u->device_name, sizeof u->device_name, s, n);
  case F_CS_DEVEUI:
  case F_TTS_DEVEUI:
    if (parse_eui(s, n, &u->dev_eui) != 0) return fail(p, ALEC_NS_EDEVEUI);
    p->has_deveui = 1;
    return 1;
  case F_RSSI:
  case F_SNR:
  case F_CHANNEL_RSSI: return gw_value(p, f, fd->field, &v);
  default: return 1;
  }
}

static ns_frame *top(ns_parser *p) { return p->depth ? &p->st[p->depth - 1] : NULL; }

/* Resolves what the value now arriving is: the field definition (NULL for
 * an unknown field or an array element), the frame it belongs to. Returns 0
 * (cancel) on a duplicate. */
static int begin_value(ns_parser *p, const struct ns_fdef **fd, int *ctx_elem) {
  ns_frame *f = top(p);
  *fd = NULL;
  *ctx_elem = -1;
  if (f == NULL) return 1;
  if (f->is_array) {
    *ctx_elem = f->ctx;
    return 1;
  }
  if (f->key >= 0) *fd = &ns_fields[f->key];
  if (f->key == -2) *ctx_elem = CX_CS_TAGS;
  return 1;
}

static int push(ns_parser *p, int ctx, int is_array) {
  if (p->depth >= ALEC_NS_DEPTH_MAX) return fail(p, ALEC_NS_EDEPTH);
  ns_frame *f = &p->st[p->depth++];
  memset(f, 0, sizeof *f);
  f->ctx = (uint8_t)ctx;
  f->is_array = (uint8_t)is_array;
  f->key = -1;
  return 1;
}

static int open_container(ns_parser *p, int is_array) {
  const struct ns_fdef *fd;
  int elem;
  if (p->depth == 0) {
    if (is_array) return fail(p, ALEC_NS_ETYPE);
    return push(p, CX_ROOT, 0);
  }
  begin_value(p, &fd, &elem);
  if (elem == CX_CS_RXINFO || elem == CX_TTS_RXMETA) {
    if (is_array) return fail(p, ALEC_NS_ETYPE);
    return push(p, elem == CX_CS_RXINFO ? CX_CS_RXITEM : CX_TTS_RXITEM, 0);
  }
  if (elem == CX_TTS_CORR || elem == CX_CS_TAGS) return fail(p, ALEC_NS_ETYPE);
  if (fd != NULL) {
    if (fd->type != (is_array ? T_ARR : T_OBJ)) return fail(p, ALEC_NS_ETYPE);
    if (fd->opens == CX_CS_DEVINFO) p->has_devinfo = 1;
    if (fd->opens == CX_TTS_IDS) p->has_ids = 1;
    if (fd->opens == CX_TTS_UPLINK) p->has_uplink = 1;
    return push(p, fd->opens, is_array);
  }
  return push(p, CX_SKIP, is_array);
}

static int on_start_map(void *ctx) { return open_container(ctx, 0); }
static int on_start_array(void *ctx) { return open_container(ctx, 1); }

static int better(int hs, double s, int hr, double r, int bs, double bsnr, int br, double brssi) {
  if (hs != bs) return hs > bs;
  if (hs && s != bsnr) return s > bsnr;
  if (hr != br) return hr > br;
  return hr && r > brssi;
}

static int close_container(void *ctx) {
  ns_parser *p = ctx;
  ns_frame *f = top(p);
  if (f == NULL) return fail(p, ALEC_NS_ESYNTAX);
  if (f->ctx == CX_CS_RXITEM || f->ctx == CX_TTS_RXITEM) {
    int hr = f->has_rssi || f->has_crssi;
    double r = f->has_rssi ? f->rssi : f->crssi;
    p->u->n_gateways++;
    if (!p->has_best || better(f->has_snr, f->snr, hr, r, p->best_has_snr, p->best_snr, p->best_has_rssi, p->best_rssi)) {
      p->has_best = 1;
      p->best_has_snr = f->has_snr, p->best_snr = f->snr;
      p->best_has_rssi = hr, p->best_rssi = r;
    }
  }
  p->depth--;
  f = top(p);
  if (f != NULL && !f->is_array) f->key = -1;
  return 1;
}

static int on_map_key(void *ctx, const unsigned char *s, size_t n) {
  ns_parser *p = ctx;
  ns_frame *f = top(p);
  if (f == NULL || f->is_array) return fail(p, ALEC_NS_ESYNTAX);
  f->key = -1;
  if (f->ctx == CX_SKIP) return 1;
  if (f->ctx == CX_CS_TAGS) {
    if (!copy_str(p, p->pending_tag, sizeof p->pending_tag, s, n)) return 0;
    for (unsigned i = 0; i < p->u->n_tags; i++)
      if (strcmp(p->u->tags[i].key, p->pending_tag) == 0) return fail(p, ALEC_NS_EDUPLICATE);
    f->key = -2;
    return 1;
  }
  if (f->ctx >= NS_NCTX) return 1;
  for (unsigned bit = 0; bit < ns_ctx_rows[f->ctx].n; bit++) {
    unsigned i = ns_ctx_rows[f->ctx].row[bit];
    const struct ns_fdef *fd = &ns_fields[i];
    if (fd->len == n && memcmp(fd->name, s, n) == 0 && field_in_dialect(p->dialect, fd)) {
      if (f->seen & (UINT32_C(1) << bit)) return fail(p, ALEC_NS_EDUPLICATE);
      f->seen |= UINT32_C(1) << bit;
      f->key = (int16_t)i;
      return 1;
    }
  }
  return 1;
}

/* Every scalar: kind 0 null, 1 boolean, 2 number, 3 string. */
static int on_scalar(ns_parser *p, int kind, const unsigned char *s, size_t n) {
  const struct ns_fdef *fd;
  int elem;
  ns_frame *f = top(p);
  if (f == NULL) return fail(p, ALEC_NS_ETYPE); /* a bare scalar is not an event */
  begin_value(p, &fd, &elem);
  if (elem == CX_CS_TAGS) {
    if (kind != 3) return fail(p, ALEC_NS_ETYPE);
    alec_ns_uplink *u = p->u;
    if (u->n_tags >= ALEC_NS_TAGS_MAX) return fail(p, ALEC_NS_ETAGS);
    if (!copy_str(p, u->tags[u->n_tags].value, sizeof u->tags[0].value, s, n)) return 0;
    memcpy(u->tags[u->n_tags].key, p->pending_tag, sizeof p->pending_tag);
    u->n_tags++;
    return 1;
  }
  if (elem == CX_TTS_CORR) {
    if (kind != 3) return fail(p, ALEC_NS_ETYPE);
    if (p->u->dedup_id[0] == '\0' && n > 6 && n < sizeof p->u->dedup_id && memcmp(s, "as:up:", 6) == 0)
      return copy_str(p, p->u->dedup_id, sizeof p->u->dedup_id, s, n);
    return 1;
  }
  if (elem == CX_CS_RXINFO || elem == CX_TTS_RXMETA) return fail(p, ALEC_NS_ETYPE);
  if (fd == NULL) return 1; /* unknown field or skipped container */
  if (kind == 0) return 1;  /* null: as if absent */
  if (fd->type == T_OBJ || fd->type == T_ARR || kind == 1) return fail(p, ALEC_NS_ETYPE);
  /* Strings where strings belong; numbers as numbers or, proto3 JSON, as
   * decimal strings. */
  if (fd->type == T_STR && kind != 3) return fail(p, ALEC_NS_ETYPE);
  return scalar(p, f, fd, kind == 2, s, n);
}

static int on_null(void *ctx) { return on_scalar(ctx, 0, NULL, 0); }
static int on_bool(void *ctx, int b) {
  (void)b;
  return on_scalar(ctx, 1, NULL, 0);
}
static int on_number(void *ctx, const char *s, size_t n) { return on_scalar(ctx, 2, (const unsigned char *)s, n); }
static int on_string(void *ctx, const unsigned char *s, size_t n) { return on_scalar(ctx, 3, s, n); }

static const yajl_callbacks ns_callbacks = {
    on_null, on_bool, NULL, NULL, on_number, on_string, on_start_map, on_map_key, close_container,
    on_start_array, close_container,
};

/* yajl allocates its handle, lexer and stack for every parse, that is for
 * every message: from a buffer that lives as long as the parse instead of
 * the heap; the heap only past it (a long string with escapes). Blocks
 * carry their size for realloc; free is a no-op inside the buffer. */
#define NS_ARENA 4096
#define NS_ARENA_HDR 16 /* the size, and max_align_t's alignment kept */
typedef struct ns_arena {
  size_t used;
  _Alignas(max_align_t) unsigned char buf[NS_ARENA];
} ns_arena;

static int arena_owns(const ns_arena *a, const void *ptr) {
  uintptr_t q = (uintptr_t)ptr, b = (uintptr_t)a->buf;
  return q >= b && q < b + NS_ARENA;
}

static void *arena_malloc(void *ctx, size_t n) {
  ns_arena *a = ctx;
  if (n <= NS_ARENA) {
    size_t need = NS_ARENA_HDR + ((n + 15) & ~(size_t)15);
    if (need <= NS_ARENA - a->used) {
      unsigned char *b = a->buf + a->used;
      memcpy(b, &n, sizeof n);
      a->used += need;
      return b + NS_ARENA_HDR;
    }
  }
  return malloc(n);
}

static void arena_free(void *ctx, void *ptr) {
  if (ptr != NULL && !arena_owns(ctx, ptr)) free(ptr);
}

static void *arena_realloc(void *ctx, void *ptr, size_t n) {
  if (ptr == NULL) return arena_malloc(ctx, n);
  if (!arena_owns(ctx, ptr)) return realloc(ptr, n);
  size_t old;
  memcpy(&old, (unsigned char *)ptr - NS_ARENA_HDR, sizeof old);
  if (n <= old) return ptr;
  void *q = arena_malloc(ctx, n);
  if (q != NULL) memcpy(q, ptr, old);
  return q;
}

int alec_ns_parse_uplink(int dialect, const uint8_t *json, size_t len, alec_ns_uplink *out) {
  if (out == NULL) return ALEC_NS_EINVAL;
  memset(out, 0, sizeof *out);
  if (dialect != ALEC_NS_CHIRPSTACK && dialect != ALEC_NS_TTS) return ALEC_NS_EDIALECT;
  if (len > ALEC_NS_EVENT_MAX) return ALEC_NS_EOVERSIZED;
  if (json == NULL || len == 0) return ALEC_NS_ETRUNCATED;

  pthread_once(&ns_ctx_once, ns_ctx_index);
  ns_parser p;
  memset(&p, 0, sizeof p);
  p.dialect = dialect;
  p.u = out;
  ns_arena arena;
  arena.used = 0;
  yajl_alloc_funcs afs = {arena_malloc, arena_realloc, arena_free, &arena};
  yajl_handle h = yajl_alloc(&ns_callbacks, &afs, &p);
  if (h == NULL) return ALEC_NS_EINVAL;
  /* Strings are checked as UTF-8 (the yajl default) and nothing may follow
   * the event. */
  yajl_status st = yajl_parse(h, json, len);
  int err = 0;
  if (st == yajl_status_ok) {
    st = yajl_complete_parse(h);
    /* The whole message was a valid prefix: it was cut short. */
    if (st != yajl_status_ok) err = p.err ? p.err : ALEC_NS_ETRUNCATED;
  } else {
    err = p.err ? p.err : ALEC_NS_ESYNTAX;
  }
  yajl_free(h);
  if (err == 0 && p.err) err = p.err;

  if (err == 0) {
    if (dialect == ALEC_NS_CHIRPSTACK) {
      if (!out->has_fport && !p.has_data && !out->has_fcnt) err = ALEC_NS_ENOT_UPLINK;
      else if (!p.has_devinfo || !p.has_deveui || (p.has_data && out->data_len > 0 && !out->has_fport))
        err = ALEC_NS_EMISSING;
      else if (!out->has_fcnt)
        out->has_fcnt = 1, out->fcnt = 0; /* early ChirpStack v4 releases omitted zero values */
    } else {
      if (!p.has_uplink) err = ALEC_NS_ENOT_UPLINK;
      else if (!p.has_ids || !p.has_deveui || (out->data_len > 0 && !out->has_fport)) err = ALEC_NS_EMISSING;
      else if (!out->has_fcnt)
        out->has_fcnt = 1, out->fcnt = 0; /* TTS omits zero values */
    }
  }
  if (err != 0) {
    memset(out, 0, sizeof *out);
    return err;
  }
  if (p.has_up_time)
    out->has_time = 1, out->time = p.up_time;
  else if (p.has_root_time)
    out->has_time = 1, out->time = p.root_time;
  if (p.has_best) {
    out->has_snr = p.best_has_snr, out->snr = (float)p.best_snr;
    out->has_rssi = p.best_has_rssi, out->rssi = (float)p.best_rssi;
  }
  return 0;
}

/* ---- GroupFrom ------------------------------------------------------------- */

int alec_ns_group_from_valid(const char *g) {
  if (g == NULL) return ALEC_NS_EGROUP_FROM;
  if (strcmp(g, "application") == 0 || strcmp(g, "device-profile") == 0) return 0;
  if (strncmp(g, "tag:", 4) == 0) {
    size_t n = strlen(g + 4);
    if (n == 0 || n >= ALEC_NS_TAG_KEY_LEN) return ALEC_NS_EGROUP_FROM;
    for (size_t i = 4; g[i]; i++)
      if ((unsigned char)g[i] < 0x20 || g[i] == 0x7f) return ALEC_NS_EGROUP_FROM;
    return 0;
  }
  return ALEC_NS_EGROUP_FROM;
}

int alec_ns_group(const alec_ns_uplink *u, const char *group_from, char *out, size_t cap) {
  if (out == NULL || cap == 0 || u == NULL) return ALEC_NS_EINVAL;
  out[0] = '\0';
  if (alec_ns_group_from_valid(group_from) != 0) return ALEC_NS_EGROUP_FROM;
  const char *v = NULL;
  if (strcmp(group_from, "application") == 0)
    v = u->application_name[0] ? u->application_name : u->application_id;
  else if (strcmp(group_from, "device-profile") == 0)
    v = u->device_profile_name[0] ? u->device_profile_name : u->device_profile_id;
  else
    for (unsigned i = 0; i < u->n_tags && i < ALEC_NS_TAGS_MAX; i++)
      if (strcmp(u->tags[i].key, group_from + 4) == 0) v = u->tags[i].value;
  if (v == NULL || v[0] == '\0') return 0;
  size_t n = strlen(v);
  if (n >= cap) return ALEC_NS_ENOSPC;
  memcpy(out, v, n + 1);
  return 1;
}

/* ---- topics ---------------------------------------------------------------- */

int alec_ns_topic_match(const char *filter, const char *topic) {
  if (filter == NULL || topic == NULL) return 0;
  /* Wildcards at the first level do not match $SYS-like topics. */
  if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) return 0;
  const char *f = filter, *t = topic;
  for (;;) {
    if (f[0] == '#' && f[1] == '\0') return 1; /* the rest, including its parent level */
    const char *fe = strchr(f, '/'), *te = strchr(t, '/');
    size_t fl = fe ? (size_t)(fe - f) : strlen(f), tl = te ? (size_t)(te - t) : strlen(t);
    if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0)) return 0;
    if (fe == NULL && te == NULL) return 1;
    if (fe == NULL) return 0;
    if (te == NULL) return fe[1] == '#' && fe[2] == '\0';
    f = fe + 1, t = te + 1;
  }
}

/* Splits a topic into at most `max` levels (pointers into it, lengths). */
static int split_levels(const char *topic, const char **lv, size_t *ln, int max) {
  int n = 0;
  const char *s = topic;
  for (;;) {
    const char *e = strchr(s, '/');
    if (n == max) return -1;
    lv[n] = s;
    ln[n] = e ? (size_t)(e - s) : strlen(s);
    n++;
    if (e == NULL) return n;
    s = e + 1;
  }
}

static int level_is(const char *l, size_t n, const char *word) { return strlen(word) == n && memcmp(l, word, n) == 0; }
static int level_eq(const char *l, size_t n, const char *s) { return strlen(s) == n && memcmp(l, s, n) == 0; }

int alec_ns_check_topic(int dialect, const char *topic, alec_ns_uplink *u) {
  const char *lv[7];
  size_t ln[7];
  if (topic == NULL || u == NULL) return ALEC_NS_EINVAL;
  int n = split_levels(topic, lv, ln, 7);
  if (dialect == ALEC_NS_CHIRPSTACK) {
    if (n != 6 || !level_is(lv[0], ln[0], "application") || !level_is(lv[2], ln[2], "device") ||
        !level_is(lv[4], ln[4], "event") || !level_is(lv[5], ln[5], "up"))
      return 1;
    uint64_t eui;
    if (!level_eq(lv[1], ln[1], u->application_id) || parse_eui((const unsigned char *)lv[3], ln[3], &eui) != 0 ||
        eui != u->dev_eui)
      return ALEC_NS_ETOPIC;
    return 0;
  }
  if (dialect == ALEC_NS_TTS) {
    if (n != 5 || !level_is(lv[0], ln[0], "v3") || !level_is(lv[2], ln[2], "devices") || !level_is(lv[4], ln[4], "up"))
      return 1;
    const char *at = memchr(lv[1], '@', ln[1]);
    size_t app_len = at ? (size_t)(at - lv[1]) : ln[1];
    if (!level_eq(lv[1], app_len, u->application_id) || !level_eq(lv[3], ln[3], u->device_id)) return ALEC_NS_ETOPIC;
    if (at != NULL) {
      size_t tl = ln[1] - app_len - 1;
      if (tl == 0 || tl >= sizeof u->tenant_id) return ALEC_NS_ETOPIC;
      memcpy(u->tenant_id, at + 1, tl);
      u->tenant_id[tl] = '\0';
    } else {
      u->tenant_id[0] = '\0';
    }
    return 0;
  }
  return ALEC_NS_EDIALECT;
}

/* ---- downlinks ------------------------------------------------------------- */

/* An id that goes into a topic level: not empty, no level separator, no
 * wildcard, no control character (a device named "x/#" must not widen the
 * publish). */
static int topic_safe(const char *s) {
  if (s == NULL || s[0] == '\0') return 0;
  for (; *s; s++)
    if (*s == '/' || *s == '+' || *s == '#' || *s == '@' || (unsigned char)*s < 0x20 || *s == 0x7f) return 0;
  return 1;
}

static int gen_str(yajl_gen g, const char *s) {
  return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
}

int alec_ns_format_downlink(int dialect, const alec_ns_uplink *u, uint8_t fport, const uint8_t *payload, size_t n,
                            char *topic, size_t tcap, char *json, size_t jcap) {
  if (u == NULL || topic == NULL || json == NULL || tcap == 0 || jcap == 0 || (payload == NULL && n > 0) ||
      n > ALEC_NS_DATA_MAX || fport < 1 || fport > 223)
    return ALEC_NS_EINVAL;
  topic[0] = json[0] = '\0';
  char eui[17], b64[4 * ((ALEC_NS_DATA_MAX + 2) / 3) + 1];
  alec_ns_dev_eui_format(u->dev_eui, eui);
  sodium_bin2base64(b64, sizeof b64, payload, n, sodium_base64_VARIANT_ORIGINAL);
  int tn;
  if (dialect == ALEC_NS_CHIRPSTACK) {
    if (!topic_safe(u->application_id)) return ALEC_NS_ETOPIC;
    tn = snprintf(topic, tcap, "application/%s/device/%s/command/down", u->application_id, eui);
  } else if (dialect == ALEC_NS_TTS) {
    if (!topic_safe(u->application_id) || !topic_safe(u->device_id) ||
        (u->tenant_id[0] != '\0' && !topic_safe(u->tenant_id)))
      return ALEC_NS_ETOPIC;
    tn = snprintf(topic, tcap, "v3/%s%s%s/devices/%s/down/push", u->application_id, u->tenant_id[0] ? "@" : "",
                  u->tenant_id, u->device_id);
  } else {
    return ALEC_NS_EDIALECT;
  }
  if (tn < 0 || (size_t)tn >= tcap) {
    topic[0] = '\0';
    return ALEC_NS_ENOSPC;
  }

  yajl_gen g = yajl_gen_alloc(NULL);
  if (g == NULL) return ALEC_NS_EINVAL;
  int ok = yajl_gen_map_open(g) == yajl_gen_status_ok;
  if (dialect == ALEC_NS_CHIRPSTACK) {
    ok = ok && gen_str(g, "devEui") && gen_str(g, eui) && gen_str(g, "confirmed") &&
         yajl_gen_bool(g, 0) == yajl_gen_status_ok && gen_str(g, "fPort") &&
         yajl_gen_integer(g, fport) == yajl_gen_status_ok && gen_str(g, "data") && gen_str(g, b64);
  } else {
    ok = ok && gen_str(g, "downlinks") && yajl_gen_array_open(g) == yajl_gen_status_ok &&
         yajl_gen_map_open(g) == yajl_gen_status_ok && gen_str(g, "f_port") &&
         yajl_gen_integer(g, fport) == yajl_gen_status_ok && gen_str(g, "frm_payload") && gen_str(g, b64) &&
         gen_str(g, "priority") && gen_str(g, "NORMAL") && yajl_gen_map_close(g) == yajl_gen_status_ok &&
         yajl_gen_array_close(g) == yajl_gen_status_ok;
  }
  ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
  const unsigned char *buf = NULL;
  size_t blen = 0;
  int rc = 0;
  if (!ok || yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok)
    rc = ALEC_NS_EINVAL;
  else if (blen >= jcap)
    rc = ALEC_NS_ENOSPC;
  else
    memcpy(json, buf, blen), json[blen] = '\0';
  yajl_gen_free(g);
  if (rc != 0) topic[0] = json[0] = '\0';
  return rc;
}
