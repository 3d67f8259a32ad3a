/* SPDX-License-Identifier: MIT */
/* Parsing and validation of the `alec` plugin configuration. Every error
 * names the option and the block it is in, because collectd only prints
 * what we log and a user has to find the line. */

#include "alec_conf.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alec/error.h"
#include "alec/fleet.h"
#include "amqpconf.h"
#include "nsevent.h"
#include "tlv.h"

/* One row of an option table (the X-macros of config.h and amqpconf.h),
 * alec_pc_opt of config.h. */
typedef alec_pc_opt pc_opt;
#define PC_ROW ALEC_PC_ROW
#define PC_NROWS(t) (sizeof(t) / sizeof((t)[0]))

static int nvalues(alec_pc_err *e, const oconfig_item_t *ci, int lo, int hi) {
  if (ci->values_num < lo || ci->values_num > hi) {
    if (lo == hi) return alec_pc_fail(e, ci->key, "expects %d argument%s, got %d", lo, lo == 1 ? "" : "s", ci->values_num);
    return alec_pc_fail(e, ci->key, "expects %d to %d arguments, got %d", lo, hi, ci->values_num);
  }
  return 0;
}

/* Names end up in collectd identifiers: the rules of alec_pc_name_check,
 * which the EmitterFile applies too; lo..hi characters. */
static int get_name_len(alec_pc_err *e, const oconfig_item_t *ci, int idx, char *out, size_t lo, size_t hi) {
  if (ci->values[idx].type != OCONFIG_TYPE_STRING)
    return alec_pc_fail(e, ci->key, "argument %d must be a quoted string", idx + 1);
  const char *s = ci->values[idx].value.string;
  switch (alec_pc_name_check(s, lo, hi)) {
  case ALEC_PC_NAME_OK: break;
  case ALEC_PC_NAME_EMPTY: return alec_pc_fail(e, ci->key, "argument %d must not be empty", idx + 1);
  case ALEC_PC_NAME_LONG: return alec_pc_fail(e, ci->key, "\"%s\" is longer than %zu characters", s, hi);
  case ALEC_PC_NAME_SLASH: return alec_pc_fail(e, ci->key, "\"%s\" must not contain '/'", s);
  default: return alec_pc_fail(e, ci->key, "argument %d must not contain control characters", idx + 1);
  }
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

static int get_name(alec_pc_err *e, const oconfig_item_t *ci, int idx, char *out, size_t cap, int allow_empty) {
  return get_name_len(e, ci, idx, out, allow_empty ? 0 : 1, cap - 1);
}

static int get_string(alec_pc_err *e, const oconfig_item_t *ci, int idx, char *out, size_t cap) {
  if (ci->values[idx].type != OCONFIG_TYPE_STRING)
    return alec_pc_fail(e, ci->key, "argument %d must be a quoted string", idx + 1);
  const char *s = ci->values[idx].value.string;
  size_t n = strlen(s);
  if (n == 0 || n >= cap) return alec_pc_fail(e, ci->key, "argument %d must have 1 to %zu characters", idx + 1, cap - 1);
  memcpy(out, s, n + 1);
  return 0;
}

/* An integer in [lo, hi], given as a number or as a decimal string. */
static int get_uint(alec_pc_err *e, const oconfig_item_t *ci, int idx, uint64_t lo, uint64_t hi, uint64_t *out) {
  const oconfig_value_t *v = &ci->values[idx];
  uint64_t r;
  if (v->type == OCONFIG_TYPE_NUMBER) {
    double d = v->value.number;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
      return alec_pc_fail(e, ci->key, "expects an integer in %" PRIu64 "..%" PRIu64 ", got %g", lo, hi, d);
    r = (uint64_t)d;
  } else if (v->type == OCONFIG_TYPE_STRING) {
    if (alec_pc_parse_id(v->value.string, &r) < 0 || r < lo || r > hi)
      return alec_pc_fail(e, ci->key, "expects an integer in %" PRIu64 "..%" PRIu64 ", got \"%s\"", lo, hi,
                  v->value.string);
  } else {
    return alec_pc_fail(e, ci->key, "expects an integer in %" PRIu64 "..%" PRIu64 ", got a boolean", lo, hi);
  }
  *out = r;
  return 0;
}

static int get_double(alec_pc_err *e, const oconfig_item_t *ci, double lo, double hi, int lo_open, double *out) {
  int rc = nvalues(e, ci, 1, 1);
  if (rc) return rc;
  if (ci->values[0].type != OCONFIG_TYPE_NUMBER)
    return alec_pc_fail(e, ci->key, "expects a number");
  double d = ci->values[0].value.number;
  if (!isfinite(d) || d < lo || d > hi || (lo_open && d == lo))
    return alec_pc_fail(e, ci->key, "expects a number %s %g and <= %g, got %g", lo_open ? ">" : ">=", lo, hi, d);
  *out = d;
  return 0;
}

/* SecurityLevel (docs/SECURITY.md); collectd's network plugin spells it
 * the same way, its "Encrypt" has no counterpart here. */
static int parse_security(alec_pc_err *e, const oconfig_item_t *ci, int *out) {
  char buf[16];
  if (nvalues(e, ci, 1, 1) || get_string(e, ci, 0, buf, sizeof buf))
    return alec_pc_fail(e, ci->key, "expects \"None\" or \"Sign\"");
  if (strcasecmp(buf, "none") == 0) *out = ALEC_PC_SEC_NONE;
  else if (strcasecmp(buf, "sign") == 0) *out = ALEC_PC_SEC_SIGN;
  else return alec_pc_fail(e, ci->key, "expects \"None\" or \"Sign\", got \"%s\"", buf);
  return 0;
}

/* Channel <id> ["type" ["type_instance"]] [Multiply <m>] [Add <a>]: the
 * keywords (ALEC_PC_CHANNEL_KEYWORDS) follow the names. */
static const pc_opt channel_keywords[] = {
#define CHANNEL_KEYWORD(...) PC_ROW(alec_pc_channel, __VA_ARGS__)
    ALEC_PC_CHANNEL_KEYWORDS(CHANNEL_KEYWORD)
#undef CHANNEL_KEYWORD
};

static const pc_opt *channel_keyword(const oconfig_value_t *v) {
  if (v->type != OCONFIG_TYPE_STRING) return NULL;
  return alec_pc_opt_find(channel_keywords, PC_NROWS(channel_keywords), v->value.string);
}

static int parse_conversion(alec_pc_err *e, const oconfig_item_t *ci, int *npos, alec_pc_channel *c) {
  int n = ci->values_num;
  int first = n;
  for (int i = 1; i < n && first == n; i++)
    if (channel_keyword(&ci->values[i])) first = i;
  *npos = first;
  c->multiply = 1.0;
  c->add = 0.0;
  unsigned seen = 0;
  for (int i = first; i < n; i += 2) {
    if (ci->values[i].type != OCONFIG_TYPE_STRING)
      return alec_pc_fail(e, ci->key, "argument %d: expected Multiply or Add", i + 1);
    const char *k = ci->values[i].value.string;
    const pc_opt *o = channel_keyword(&ci->values[i]);
    if (o == NULL) return alec_pc_fail(e, ci->key, "argument %d: expected Multiply or Add, got \"%s\"", i + 1, k);
    unsigned bit = 1u << (o - channel_keywords);
    if (seen & bit) return alec_pc_fail(e, ci->key, "%s given twice", k);
    seen |= bit;
    if (i + 1 >= n || ci->values[i + 1].type != OCONFIG_TYPE_NUMBER || !isfinite(ci->values[i + 1].value.number))
      return alec_pc_fail(e, ci->key, "%s expects a finite number", k);
    double d = ci->values[i + 1].value.number;
    if (d < o->lo || d > o->hi) return alec_pc_fail(e, ci->key, "%s expects a number in %g..%g", k, o->lo, o->hi);
    if (o->off == offsetof(alec_pc_channel, multiply) && d == 0)
      return alec_pc_fail(e, ci->key, "Multiply 0 would make every value the same");
    if (o->size != sizeof d) return alec_pc_fail(e, ci->key, "internal error: field of %zu bytes", o->size);
    memcpy((char *)c + o->off, &d, sizeof d);
    c->has_conv = 1;
  }
  return 0;
}

static int parse_channel(alec_pc_err *e, const oconfig_item_t *ci, uint64_t lo, uint64_t hi, alec_pc_chanmap *m) {
  int rc = nvalues(e, ci, 1, 7);
  if (rc) return rc;
  alec_pc_channel conv;
  memset(&conv, 0, sizeof conv);
  int npos;
  if ((rc = parse_conversion(e, ci, &npos, &conv))) return rc;
  if (npos > 3) return alec_pc_fail(e, ci->key, "expects <id> [\"type\" [\"type_instance\"]] [Multiply <m>] [Add <a>]");
  uint64_t id;
  if ((rc = get_uint(e, ci, 0, lo, hi, &id))) return rc;
  for (size_t i = 0; i < m->n; i++)
    if (m->ch[i].id == id) return alec_pc_fail(e, ci->key, "channel %" PRIu64 " is defined twice", id);
  if (m->n >= ALEC_PC_MAX_CHANNELS) return alec_pc_fail(e, ci->key, "more than %d channels", ALEC_PC_MAX_CHANNELS);
  alec_pc_channel c;
  memset(&c, 0, sizeof(c));
  c.id = (uint32_t)id;
  c.ds_type = -1;
  c.has_conv = conv.has_conv;
  c.multiply = conv.multiply;
  c.add = conv.add;
  if (npos >= 2) {
    if ((rc = get_name(e, ci, 1, c.type, sizeof c.type, 0))) return rc;
    /* '-' separates type and type_instance in collectd identifiers. */
    if (strchr(c.type, '-')) return alec_pc_fail(e, ci->key, "type \"%s\" must not contain '-'", c.type);
  } else {
    strcpy(c.type, ALEC_PC_DEFAULT_TYPE);
  }
  if (npos >= 3) {
    if ((rc = get_name(e, ci, 2, c.type_instance, sizeof c.type_instance, 1))) return rc;
  } else {
    snprintf(c.type_instance, sizeof c.type_instance, "ch%" PRIu64, id);
  }
  alec_pc_channel *n = realloc(m->ch, (m->n + 1) * sizeof(*n));
  if (n == NULL) return ALEC_ENOMEM;
  m->ch = n;
  m->ch[m->n++] = c;
  alec_pc_map_sort(m);
  return 0;
}


static int store_uint(alec_pc_err *e, const oconfig_item_t *c, const pc_opt *o, char *field, uint64_t u) {
  if (o->size == sizeof(uint32_t)) {
    uint32_t v = (uint32_t)u;
    memcpy(field, &v, sizeof v);
  } else if (o->size == sizeof(uint64_t)) {
    memcpy(field, &u, sizeof u);
  } else {
    return alec_pc_fail(e, c->key, "internal error: field of %zu bytes", o->size);
  }
  return 0;
}

/* A keyword of a fixed list into an int field. */
static int store_keyword(alec_pc_err *e, const oconfig_item_t *c, const pc_opt *o, char *field, const char *const *words,
                         const int *values, const char *expects) {
  char buf[32];
  int rc;
  if ((rc = nvalues(e, c, 1, 1)) || (rc = get_string(e, c, 0, buf, sizeof buf)))
    return alec_pc_fail(e, c->key, "expects %s", expects);
  for (size_t i = 0; words[i]; i++)
    if (strcasecmp(buf, words[i]) == 0) {
      if (o->size != sizeof(int)) return alec_pc_fail(e, c->key, "internal error: field of %zu bytes", o->size);
      memcpy(field, &values[i], sizeof(int));
      return 0;
    }
  return alec_pc_fail(e, c->key, "expects %s, got \"%s\"", expects, buf);
}

/* Finds c in the table, refuses a single-valued row given twice (bit k of
 * *seen is row k) and parses the generic kinds into base + off. Returns 0
 * when done, 1 when the caller parses it (*row NULL: not in the table,
 * else a kind with its own syntax), or a negative error. */
static int table_option(alec_pc_err *e, const pc_opt *t, size_t n, void *base, uint64_t *seen,
                        const oconfig_item_t *c, const pc_opt **row) {
  size_t k = 0;
  while (k < n && strcasecmp(c->key, t[k].name) != 0) k++;
  *row = NULL;
  if (k == n) return 1;
  const pc_opt *o = &t[k];
  *row = o;
  if (!o->repeat && (*seen & (UINT64_C(1) << k))) return alec_pc_fail(e, c->key, "given twice (only one is allowed)");
  *seen |= UINT64_C(1) << k;
  char *field = (char *)base + o->off;
  int rc;
  uint64_t u;
  switch (o->kind) {
  case ALEC_PC_K_STRING: {
    if ((rc = nvalues(e, c, 1, 1))) return rc;
    if (c->values[0].type != OCONFIG_TYPE_STRING) return alec_pc_fail(e, c->key, "expects a quoted string");
    size_t len = strlen(c->values[0].value.string);
    if (len < (size_t)o->lo || len > (size_t)o->hi || len >= o->size)
      return alec_pc_fail(e, c->key, "expects %.0f to %.0f characters, got %zu", o->lo, o->hi, len);
    memcpy(field, c->values[0].value.string, len + 1);
    return 0;
  }
  case ALEC_PC_K_INT:
    if ((rc = nvalues(e, c, 1, 1)) || (rc = get_uint(e, c, 0, (uint64_t)o->lo, (uint64_t)o->hi, &u))) return rc;
    return store_uint(e, c, o, field, u);
  case ALEC_PC_K_BOOL:
  case ALEC_PC_K_BOOL_NOT: {
    if ((rc = nvalues(e, c, 1, 1))) return rc;
    if (c->values[0].type != OCONFIG_TYPE_BOOLEAN) return alec_pc_fail(e, c->key, "expects true or false");
    int b = (c->values[0].value.boolean != 0) != (o->kind == ALEC_PC_K_BOOL_NOT);
    memcpy(field, &b, sizeof b);
    return 0;
  }
  case ALEC_PC_K_DOUBLE:
  case ALEC_PC_K_DOUBLE_GT: {
    double d = 0;
    if ((rc = get_double(e, c, o->lo, o->hi, o->kind == ALEC_PC_K_DOUBLE_GT, &d))) return rc;
    memcpy(field, &d, sizeof d);
    return 0;
  }
  case ALEC_PC_K_SECURITY: {
    int sec = 0;
    if ((rc = parse_security(e, c, &sec))) return rc;
    memcpy(field, &sec, sizeof sec);
    return 0;
  }
  case ALEC_PC_K_NAME:
    if (o->hi >= (double)o->size) return alec_pc_fail(e, c->key, "internal error: field of %zu bytes", o->size);
    if ((rc = nvalues(e, c, 1, 1))) return rc;
    return get_name_len(e, c, 0, field, (size_t)o->lo, (size_t)o->hi);
  case ALEC_PC_K_FORMAT: {
    char buf[32];
    alec_format f;
    if ((rc = nvalues(e, c, 1, 1)) || (rc = get_string(e, c, 0, buf, sizeof buf))) return rc;
    if (alec_format_parse(buf, &f) < 0)
      return alec_pc_fail(e, c->key, "unknown format \"%s\" (single, single-xxh32, multi, fixed)", buf);
    if (o->size != sizeof f) return alec_pc_fail(e, c->key, "internal error: field of %zu bytes", o->size);
    memcpy(field, &f, sizeof f);
    return 0;
  }
  case ALEC_PC_K_CHANNEL:
    return parse_channel(e, c, (uint64_t)o->lo, (uint64_t)o->hi, (alec_pc_chanmap *)(void *)field);
  case ALEC_PC_K_FALLBACK: {
    static const char *const w[] = {"milesight-tlv", "none", NULL};
    static const int v[] = {ALEC_PC_FALLBACK_MILESIGHT_TLV, ALEC_PC_FALLBACK_NONE};
    return store_keyword(e, c, o, field, w, v, "\"milesight-tlv\" or \"none\"");
  }
  case ALEC_PC_K_LOSS: {
    static const char *const w[] = {"hold", "estimate", NULL};
    static const int v[] = {ALEC_PC_LOSS_HOLD, ALEC_PC_LOSS_ESTIMATE};
    return store_keyword(e, c, o, field, w, v, "\"hold\" or \"estimate\"");
  }
  case ALEC_PC_K_UNKNOWN: {
    static const char *const w[] = {"accept", "reject", NULL};
    static const int v[] = {0, 1};
    return store_keyword(e, c, o, field, w, v, "\"accept\" or \"reject\"");
  }
  case ALEC_PC_K_SCORES: {
    static const char *const w[] = {"anomalous", "all", "none", NULL};
    static const int v[] = {ALEC_PC_SCORES_ANOMALOUS, ALEC_PC_SCORES_ALL, ALEC_PC_SCORES_NONE};
    return store_keyword(e, c, o, field, w, v, "\"anomalous\", \"all\" or \"none\"");
  }
  case ALEC_PC_K_PRIORITY: {
    static const char *const w[] = {"P1", "P2", "P3", "P4", "P5", "off", "none", NULL};
    static const int v[] = {0, 1, 2, 3, 4, -1, -1};
    return store_keyword(e, c, o, field, w, v, "\"P1\" .. \"P5\" or \"off\"");
  }
  case ALEC_PC_K_RATE:
  case ALEC_PC_K_TOLERANCE: {
    /* Two adjacent doubles: RateLimit <rate> [<burst>], TimestampTolerance <past> <future>. */
    if (o->size != sizeof(double)) return alec_pc_fail(e, c->key, "internal error: field of %zu bytes", o->size);
    int rate = o->kind == ALEC_PC_K_RATE;
    const char *syntax = rate ? "<frames per second> [<burst>]" : "<past seconds> <future seconds>";
    if ((rc = nvalues(e, c, rate ? 1 : 2, 2))) return rc;
    double v[2] = {0, 0};
    for (int k = 0; k < c->values_num; k++) {
      if (c->values[k].type != OCONFIG_TYPE_NUMBER) return alec_pc_fail(e, c->key, "expects %s, numbers", syntax);
      v[k] = c->values[k].value.number;
    }
    if (rate) {
      if (c->values_num == 1) v[1] = v[0] < 1 ? 1 : v[0];
      if (!(v[0] > 0 && v[0] <= o->hi) || !(v[1] >= 1 && v[1] <= o->hi))
        return alec_pc_fail(e, c->key, "expects a rate in (0, %g] frames/s and a burst in [1, %g] frames, got %g %g",
                            o->hi, o->hi, v[0], v[1]);
    } else if (!(v[0] >= o->lo && v[0] <= o->hi) || !(v[1] >= o->lo && v[1] <= o->hi)) {
      return alec_pc_fail(e, c->key, "expects %s, numbers in %g..%g", syntax, o->lo, o->hi);
    }
    memcpy(field, v, sizeof v);
    return 0;
  }
  }
  return 1;
}

static void block_where(char *out, size_t cap, const char *block, const oconfig_item_t *ci) {
  if (ci->values_num >= 1 && ci->values[0].type == OCONFIG_TYPE_STRING)
    snprintf(out, cap, " in <%s \"%s\">", block, ci->values[0].value.string);
  else if (ci->values_num >= 1 && ci->values[0].type == OCONFIG_TYPE_NUMBER)
    snprintf(out, cap, " in <%s %.17g>", block, ci->values[0].value.number);
  else
    snprintf(out, cap, " in <%s>", block);
}

/* IPv4-mapped IPv6 senders (dual-stack sockets) compare as IPv4. */
static int parse_source(alec_pc_err *e, const oconfig_item_t *ci, const pc_opt *o, alec_pc_emitter *em) {
  int rc = nvalues(e, ci, 1, 2);
  if (rc) return rc;
  char node[256], service[32] = "";
  if ((rc = get_string(e, ci, 0, node, sizeof node))) return rc;
  if (ci->values_num == 2) {
    uint64_t port;
    if ((rc = get_uint(e, ci, 1, (uint64_t)o->lo, (uint64_t)o->hi, &port))) return rc;
    snprintf(service, sizeof service, "%" PRIu64, port);
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  /* Numeric only: a name could resolve to several addresses, or to another
   * one later, and the match is done on every datagram. */
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  int gai = getaddrinfo(node, service[0] ? service : "0", &hints, &res);
  if (gai != 0 || res == NULL)
    return alec_pc_fail(e, ci->key, "\"%s\" is not a numeric IPv4 or IPv6 address", node);
  alec_pc_normalize_addr(res->ai_addr, res->ai_addrlen, &em->source, &em->source_len);
  freeaddrinfo(res);
  em->has_source = 1;
  em->source_any_port = service[0] == '\0';
  return 0;
}

/* TLV <item> <channel>: o->lo..hi is the channel. */
static int parse_tlv(alec_pc_err *e, const oconfig_item_t *ci, const pc_opt *o, alec_pc_profile *p) {
  int rc;
  uint64_t ch;
  if ((rc = nvalues(e, ci, 2, 2))) return rc;
  if (p->n_tlv >= ALEC_PC_MAX_TLV) return alec_pc_fail(e, ci->key, "at most %d TLV lines", ALEC_PC_MAX_TLV);
  alec_pc_tlv *t = &p->tlv[p->n_tlv];
  const oconfig_value_t *v = &ci->values[0];
  if (v->type == OCONFIG_TYPE_NUMBER) {
    char num[32];
    snprintf(num, sizeof num, "%.0f", v->value.number);
    if (v->value.number != floor(v->value.number) || alec_tlv_item_lookup(num, &t->id, &t->type) != 0)
      return alec_pc_fail(e, ci->key, "%g is not a known TLV channel id", v->value.number);
  } else if (v->type != OCONFIG_TYPE_STRING || alec_tlv_item_lookup(v->value.string, &t->id, &t->type) != 0) {
    return alec_pc_fail(e, ci->key, "argument 1 must name a TLV item (battery, temperature, humidity, co2, "
                                    "co2_am103l, pressure) or its id");
  }
  if ((rc = get_uint(e, ci, 1, (uint64_t)o->lo, (uint64_t)o->hi, &ch))) return rc;
  t->channel = (uint8_t)ch;
  p->n_tlv++;
  return 0;
}

/* <Profile "name">: every option is a row of ALEC_PC_PROFILE_OPTIONS
 * (config.h); TLV has its own syntax. */
static int parse_profile(alec_pc_err *top, alec_plugin_config *cfg, const oconfig_item_t *ci) {
  char where[ALEC_PC_NAME_LEN + 32];
  block_where(where, sizeof where, "Profile", ci);
  alec_pc_err e = {top->buf, top->len, where};
  int rc = nvalues(top, ci, 1, 1);
  if (rc) return rc;
  alec_pc_profile p;
  memset(&p, 0, sizeof(p));
  if ((rc = get_name(top, ci, 0, p.name, sizeof p.name, 0))) return rc;
  for (size_t i = 0; i < cfg->n_profiles; i++)
    if (strcmp(cfg->profiles[i].name, p.name) == 0) return alec_pc_fail(top, ci->key, "profile \"%s\" is defined twice", p.name);
  for (int i = 0; i < ci->children_num && rc == 0; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    rc = table_option(&e, alec_pc_profile_opts, alec_pc_n_profile_opts, &p, &p.seen, c, &row);
    if (rc == 0 && row->off == offsetof(alec_pc_profile, s.group)) p.s.has_group = 1;
    if (rc == 1 && row && row->kind == ALEC_PC_K_TLV) rc = parse_tlv(&e, c, row, &p);
    else if (rc == 1) rc = alec_pc_fail(&e, c->key, "unknown option");
  }
  if (rc == 0) {
    alec_pc_profile *n = realloc(cfg->profiles, (cfg->n_profiles + 1) * sizeof(*n));
    if (n == NULL) rc = ALEC_ENOMEM;
    else {
      cfg->profiles = n;
      cfg->profiles[cfg->n_profiles++] = p;
      return 0;
    }
  }
  alec_pc_map_free(&p.s.map);
  return rc;
}

static int parse_emitter(alec_pc_err *top, alec_plugin_config *cfg, const oconfig_item_t *ci) {
  char where[ALEC_PC_NAME_LEN + 32];
  block_where(where, sizeof where, "Emitter", ci);
  alec_pc_err e = {top->buf, top->len, where};
  int rc = nvalues(top, ci, 1, 1);
  if (rc) return rc;
  alec_pc_emitter em;
  memset(&em, 0, sizeof(em));
  const oconfig_value_t *v = &ci->values[0];
  if (v->type == OCONFIG_TYPE_NUMBER) {
    /* oconfig hands unquoted ids over as doubles: above 2^53 they are no
     * longer exact, so such ids must be quoted. */
    double d = v->value.number;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
      return alec_pc_fail(top, ci->key, "id %.17g is not an integer in 0..2^53 (quote larger ids: <Emitter \"0x...\">)", d);
    em.id = (uint64_t)d;
  } else if (v->type != OCONFIG_TYPE_STRING) {
    return alec_pc_fail(top, ci->key, "id must be a 64-bit integer, decimal or 0x-hex");
  } else if (alec_pc_parse_id(v->value.string, &em.id) < 0) {
    return alec_pc_fail(top, ci->key, "id \"%s\" is not a 64-bit integer, decimal or 0x-hex", v->value.string);
  }
  for (size_t i = 0; i < cfg->n_emitters; i++)
    if (cfg->emitters[i].id == em.id) return alec_pc_fail(top, ci->key, "emitter %" PRIu64 " is defined twice", em.id);
  /* Every option is a row of ALEC_PC_EMITTER_OPTIONS (config.h); Source
   * has its own syntax. */
  for (int i = 0; i < ci->children_num && rc == 0; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    rc = table_option(&e, alec_pc_emitter_opts, alec_pc_n_emitter_opts, &em, &em.seen, c, &row);
    if (rc == 0 && row->off == offsetof(alec_pc_emitter, own.group)) em.own.has_group = 1;
    if (rc == 1 && row && row->kind == ALEC_PC_K_SOURCE) rc = parse_source(&e, c, row, &em);
    else if (rc == 1) rc = alec_pc_fail(&e, c->key, "unknown option");
  }
  if (rc == 0) {
    alec_pc_emitter *n = realloc(cfg->emitters, (cfg->n_emitters + 1) * sizeof(*n));
    if (n == NULL) rc = ALEC_ENOMEM;
    else {
      cfg->emitters = n;
      cfg->emitters[cfg->n_emitters++] = em;
      return 0;
    }
  }
  alec_pc_map_free(&em.own.map);
  return rc;
}

static const pc_opt fleet_opts[] = {
#define FLEET_ROW(...) PC_ROW(alec_pc_fleet, __VA_ARGS__)
    ALEC_PC_FLEET_OPTIONS(FLEET_ROW)
#undef FLEET_ROW
};
_Static_assert(PC_NROWS(fleet_opts) <= 32, "alec_pc_fleet.set is a 32-bit mask");

static int parse_fleet(alec_pc_err *top, alec_pc_fleet *f, const oconfig_item_t *ci) {
  alec_pc_err e = {top->buf, top->len, " in <Fleet>"};
  if (ci->values_num != 0) return alec_pc_fail(top, ci->key, "takes no argument");
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    /* f->set doubles as the seen mask: a repeat is refused also across
     * several <Fleet> blocks. */
    uint64_t seen = f->set;
    int rc = table_option(&e, fleet_opts, PC_NROWS(fleet_opts), f, &seen, c, &row);
    f->set = (unsigned)seen;
    if (rc == 1) return alec_pc_fail(&e, c->key, "unknown option");
    if (rc) return rc;
    if (row->off == offsetof(alec_pc_fleet, stale_periods) && f->stale_periods > 0 && f->stale_periods < 1)
      return alec_pc_fail(&e, c->key, "must be 0 (off) or at least 1 (got %g)", f->stale_periods);
  }
  return 0;
}

/* <Dashboard>: present = on. Loopback unless Listen names another address:
 * the dashboard has no authentication. */
static const pc_opt dashboard_opts[] = {
#define DASHBOARD_ROW(...) PC_ROW(alec_pc_dashboard, __VA_ARGS__)
    ALEC_PC_DASHBOARD_OPTIONS(DASHBOARD_ROW)
#undef DASHBOARD_ROW
};

static int parse_dashboard(alec_pc_err *top, alec_pc_dashboard *d, const oconfig_item_t *ci) {
  alec_pc_err e = {top->buf, top->len, " in <Dashboard>"};
  if (ci->values_num != 0) return alec_pc_fail(top, ci->key, "takes no argument");
  uint64_t seen = 0;
  d->enabled = 1;
  strcpy(d->listen.node, ALEC_PC_DEFAULT_NODE);
  strcpy(d->listen.service, ALEC_PC_DASHBOARD_PORT);
  d->history = 300;
  d->history_interval = 1.0;
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    uint64_t u;
    int rc = table_option(&e, dashboard_opts, PC_NROWS(dashboard_opts), d, &seen, c, &row);
    if (rc == 1 && row == NULL) return alec_pc_fail(&e, c->key, "unknown option");
    if (rc != 1) {
      if (rc) return rc;
      continue;
    }
    /* Listen, the only special row. */
    if ((rc = nvalues(&e, c, 1, 2)) || (rc = get_string(&e, c, 0, d->listen.node, sizeof d->listen.node)))
      return rc;
    if (c->values_num == 2) {
      if ((rc = get_uint(&e, c, 1, 1, 65535, &u))) return rc;
      snprintf(d->listen.service, sizeof d->listen.service, "%" PRIu64, u);
    }
  }
  return 0;
}

/* FPort <port> "profile", shared by <MQTT> and <AMQP>: o->size bounds the
 * array. */
static int parse_fport(alec_pc_err *e, const oconfig_item_t *c, const pc_opt *o, alec_pc_fport *fports, size_t *n) {
  int rc;
  uint64_t u;
  size_t cap = o->size / sizeof *fports;
  if ((rc = nvalues(e, c, 2, 2)) || (rc = get_uint(e, c, 0, (uint64_t)o->lo, (uint64_t)o->hi, &u))) return rc;
  if (*n >= cap) return alec_pc_fail(e, c->key, "at most %zu FPort lines", cap);
  for (size_t i = 0; i < *n; i++)
    if (fports[i].port == (int)u) return alec_pc_fail(e, c->key, "port %d is mapped twice", (int)u);
  alec_pc_fport *f = &fports[*n];
  if ((rc = get_name(e, c, 1, f->profile, sizeof f->profile, 0))) return rc;
  f->port = (int)u;
  (*n)++;
  return 0;
}

static int parse_group_from(alec_pc_err *e, const oconfig_item_t *c, char *out, size_t cap) {
  int rc;
  if ((rc = nvalues(e, c, 1, 1)) || (rc = get_string(e, c, 0, out, cap))) return rc;
  if (alec_ns_group_from_valid(out) != 0)
    return alec_pc_fail(e, c->key, "expects \"tag:<key>\", \"application\" or \"device-profile\", got \"%s\"", out);
  return 0;
}

/* <MQTT "name">: every option is a row of ALEC_PC_MQTT_OPTIONS (config.h);
 * table_option parses the generic kinds, this the ones with their own
 * syntax. */
static const pc_opt mqtt_opts[] = {
#define MQTT_ROW(...) PC_ROW(alec_pc_mqtt, __VA_ARGS__)
    ALEC_PC_MQTT_OPTIONS(MQTT_ROW)
#undef MQTT_ROW
};
_Static_assert(PC_NROWS(mqtt_opts) <= 64, "alec_pc_mqtt.seen is a 64-bit mask");

static int parse_mqtt_special(alec_pc_err *e, alec_pc_mqtt *m, const pc_opt *o, const oconfig_item_t *c) {
  int rc;
  switch (o->kind) {
  case ALEC_PC_K_TOPIC: {
    if ((rc = nvalues(e, c, 1, 1))) return rc;
    if (m->n_topics >= ALEC_PC_MQTT_MAX_TOPICS)
      return alec_pc_fail(e, c->key, "at most %d Topic lines", ALEC_PC_MQTT_MAX_TOPICS);
    char *t = m->topics[m->n_topics];
    if ((rc = get_string(e, c, 0, t, ALEC_PC_MQTT_TOPIC_LEN))) return rc;
    /* mosquitto_sub_topic_check's rules, with a message saying which. */
    for (const char *p = t; *p; p++) {
      if ((*p == '+' || *p == '#') && ((p > t && p[-1] != '/') || (p[1] != '\0' && p[1] != '/')))
        return alec_pc_fail(e, c->key, "\"%s\": a wildcard must fill a whole topic level", t);
      if (*p == '#' && p[1] != '\0') return alec_pc_fail(e, c->key, "\"%s\": '#' must be the last level", t);
    }
    m->n_topics++;
    return 0;
  }
  case ALEC_PC_K_FPORT:
    return parse_fport(e, c, o, m->fports, &m->n_fports);
  case ALEC_PC_K_DIALECT: {
    char buf[32];
    if ((rc = nvalues(e, c, 1, 1)) || (rc = get_string(e, c, 0, buf, sizeof buf)))
      return alec_pc_fail(e, c->key, "expects \"chirpstack\", \"tts\" or \"raw\"");
    int d = alec_ns_dialect_parse(buf);
    if (d < 0) return alec_pc_fail(e, c->key, "expects \"chirpstack\", \"tts\" or \"raw\", got \"%s\"", buf);
    m->dialect = d;
    return 0;
  }
  case ALEC_PC_K_GROUPFROM:
    return parse_group_from(e, c, m->group_from, sizeof m->group_from);
  }
  return alec_pc_fail(e, c->key, "unknown option");
}

static int parse_mqtt(alec_pc_err *top, alec_plugin_config *cfg, const oconfig_item_t *ci) {
  int rc = nvalues(top, ci, 1, 1);
  if (rc) return rc;
  if (cfg->n_mqtt >= ALEC_PC_MAX_MQTT) return alec_pc_fail(top, ci->key, "at most %d <MQTT> blocks", ALEC_PC_MAX_MQTT);
  char where[ALEC_PC_NAME_LEN + 32];
  block_where(where, sizeof where, "MQTT", ci);
  alec_pc_err e = {top->buf, top->len, where};
  alec_pc_mqtt *m = malloc(sizeof(*m));
  if (m == NULL) return ALEC_ENOMEM;
  char name[ALEC_PC_NAME_LEN];
  if ((rc = get_name(top, ci, 0, name, sizeof name, 0))) goto out;
  alec_pc_mqtt_defaults(m, name);
  for (int i = 0; i < ci->children_num && rc == 0; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    rc = table_option(&e, mqtt_opts, PC_NROWS(mqtt_opts), m, &m->seen, c, &row);
    if (rc == 1) rc = row ? parse_mqtt_special(&e, m, row, c) : alec_pc_fail(&e, c->key, "unknown option");
  }
  if (rc == 0) {
    alec_pc_mqtt *n = realloc(cfg->mqtt, (cfg->n_mqtt + 1) * sizeof(*n));
    if (n == NULL) rc = ALEC_ENOMEM;
    else {
      cfg->mqtt = n;
      cfg->mqtt[cfg->n_mqtt++] = *m;
    }
  }
out:
  free(m);
  return rc;
}

/* <AMQP "name">: every option is a row of ALEC_PC_AMQP_OPTIONS (amqpconf.h),
 * with the option kinds of the <MQTT> table. */
static const pc_opt amqp_opts[] = {
#define AMQP_ROW(...) PC_ROW(alec_pc_amqp, __VA_ARGS__)
    ALEC_PC_AMQP_OPTIONS(AMQP_ROW)
#undef AMQP_ROW
};
_Static_assert(PC_NROWS(amqp_opts) <= 64, "alec_pc_amqp.seen is a 64-bit mask");

static int parse_amqp_special(alec_pc_err *e, alec_pc_amqp *a, const pc_opt *o, const oconfig_item_t *c) {
  int rc;
  switch (o->kind) {
  case ALEC_PC_K_FPORT:
    return parse_fport(e, c, o, a->fports, &a->n_fports);
  case ALEC_PC_K_DIALECT: {
    char buf[32];
    if ((rc = nvalues(e, c, 1, 1)) || (rc = get_string(e, c, 0, buf, sizeof buf)))
      return alec_pc_fail(e, c->key, "expects \"chirpstack\" or \"tts\"");
    int d = alec_ns_dialect_parse(buf);
    if (d != ALEC_NS_CHIRPSTACK && d != ALEC_NS_TTS)
      return alec_pc_fail(e, c->key, "expects \"chirpstack\" or \"tts\", got \"%s\"", buf);
    a->dialect = d;
    return 0;
  }
  case ALEC_PC_K_GROUPFROM:
    return parse_group_from(e, c, a->group_from, sizeof a->group_from);
  }
  return alec_pc_fail(e, c->key, "unknown option");
}

static int parse_amqp(alec_pc_err *top, alec_plugin_config *cfg, const oconfig_item_t *ci) {
  int rc = nvalues(top, ci, 1, 1);
  if (rc) return rc;
  if (cfg->n_amqp >= ALEC_PC_MAX_AMQP) return alec_pc_fail(top, ci->key, "at most %d <AMQP> blocks", ALEC_PC_MAX_AMQP);
  char where[ALEC_PC_NAME_LEN + 32];
  block_where(where, sizeof where, "AMQP", ci);
  alec_pc_err e = {top->buf, top->len, where};
  alec_pc_amqp *a = malloc(sizeof(*a));
  if (a == NULL) return ALEC_ENOMEM;
  char name[ALEC_PC_NAME_LEN];
  if ((rc = get_name(top, ci, 0, name, sizeof name, 0))) goto out;
  alec_pc_amqp_defaults(a, name);
  for (int i = 0; i < ci->children_num && rc == 0; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    rc = table_option(&e, amqp_opts, PC_NROWS(amqp_opts), a, &a->seen, c, &row);
    if (rc == 1) rc = row ? parse_amqp_special(&e, a, row, c) : alec_pc_fail(&e, c->key, "unknown option");
  }
  if (rc == 0) {
    alec_pc_amqp *n = realloc(cfg->amqp, (cfg->n_amqp + 1) * sizeof(*n));
    if (n == NULL) rc = ALEC_ENOMEM;
    else {
      cfg->amqp = n;
      cfg->amqp[cfg->n_amqp++] = *a;
    }
  }
out:
  free(a);
  return rc;
}

/* Top-level single-valued options: given twice (in one block or across
 * several <Plugin alec> blocks), the second would silently win. */
static const pc_opt top_opts[] = {
#define TOP_ROW(...) PC_ROW(alec_plugin_config, __VA_ARGS__)
    ALEC_PC_OPTIONS(TOP_ROW)
#undef TOP_ROW
};
_Static_assert(PC_NROWS(top_opts) <= 32, "seen_options is a 32-bit mask");
/* The two-number kinds store into adjacent doubles. */
_Static_assert(offsetof(alec_plugin_config, rate_burst) == offsetof(alec_plugin_config, rate_limit) + sizeof(double),
               "RateLimit: rate and burst adjacent");
_Static_assert(offsetof(alec_plugin_config, time_future) == offsetof(alec_plugin_config, time_past) + sizeof(double),
               "TimestampTolerance: past and future adjacent");

/* <Listen "addr" ["port"]>, repeatable; the block form takes SecurityLevel. */
static int parse_listen(alec_pc_err *e, alec_plugin_config *cfg, const oconfig_item_t *c) {
  int rc;
  uint64_t u;
  if ((rc = nvalues(e, c, 1, 2))) return rc;
  if (cfg->n_listen >= ALEC_PC_MAX_LISTEN) return alec_pc_fail(e, c->key, "at most %d Listen lines", ALEC_PC_MAX_LISTEN);
  alec_pc_listen *l = &cfg->listen[cfg->n_listen];
  if ((rc = get_string(e, c, 0, l->node, sizeof l->node))) return rc;
  if (c->values_num == 2) {
    if (c->values[1].type == OCONFIG_TYPE_NUMBER) {
      if ((rc = get_uint(e, c, 1, 1, 65535, &u))) return rc;
      snprintf(l->service, sizeof l->service, "%" PRIu64, u);
    } else if ((rc = get_string(e, c, 1, l->service, sizeof l->service))) {
      return rc;
    } else if (strspn(l->service, "0123456789") == strlen(l->service)) {
      /* getaddrinfo() would take "70000" modulo 65536. */
      if (get_uint(e, c, 1, 1, 65535, &u)) return ALEC_EINVAL;
    }
  } else {
    strcpy(l->service, ALEC_PC_DEFAULT_PORT);
  }
  l->security = ALEC_PC_SEC_UNSET;
  alec_pc_err le = {e->buf, e->len, " in <Listen>"};
  for (int k = 0; k < c->children_num; k++) {
    if (strcasecmp(c->children[k].key, "SecurityLevel") != 0)
      return alec_pc_fail(&le, c->children[k].key, "unknown option (only SecurityLevel)");
    if ((rc = parse_security(&le, &c->children[k], &l->security))) return rc;
  }
  cfg->n_listen++;
  return 0;
}

static int block_fleet(alec_pc_err *e, alec_plugin_config *cfg, const oconfig_item_t *c) {
  return parse_fleet(e, &cfg->fleet, c);
}

static int block_dashboard(alec_pc_err *e, alec_plugin_config *cfg, const oconfig_item_t *c) {
  return parse_dashboard(e, &cfg->dashboard, c);
}

/* The blocks of <Plugin alec>, each with its own option table; a single
 * one (Dashboard) is also a row of top_opts, which refuses a second. */
static const struct {
  const char *name;
  int (*parse)(alec_pc_err *, alec_plugin_config *, const oconfig_item_t *);
} blocks[] = {
    {"Listen", parse_listen},   {"Fleet", block_fleet}, {"Dashboard", block_dashboard}, {"Profile", parse_profile},
    {"MQTT", parse_mqtt},       {"AMQP", parse_amqp},   {"Emitter", parse_emitter},
};

int alec_pc_parse(alec_plugin_config *cfg, const oconfig_item_t *ci, char *err, size_t errlen) {
  alec_pc_err e = {err, errlen, ""};
  if (err && errlen) err[0] = '\0';
  cfg->finalized = 0;
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const pc_opt *row;
    uint64_t seen = cfg->seen_options;
    int rc = table_option(&e, top_opts, PC_NROWS(top_opts), cfg, &seen, c, &row);
    cfg->seen_options = (uint32_t)seen;
    if (rc != 1) {
      if (rc) return rc;
      continue;
    }
    size_t k = 0;
    while (k < PC_NROWS(blocks) && strcasecmp(c->key, blocks[k].name) != 0) k++;
    if (k == PC_NROWS(blocks)) return alec_pc_fail(&e, c->key, "unknown option");
    if ((rc = blocks[k].parse(&e, cfg, c))) return rc;
  }
  return 0;
}

