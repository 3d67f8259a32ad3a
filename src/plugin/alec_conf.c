/* SPDX-License-Identifier: MIT */
/* Parsing and validation of the `alec` plugin configuration. Every error
 * names the option and the block it is in, because collectd only prints
 * what we log and a user has to find the line. */

#include "alec_conf.h"

#include <errno.h>
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

typedef struct perr {
  char *buf;
  size_t len;
  const char *where; /* "" or " in <Profile \"x\">" */
} perr;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail(perr *e, const char *option, const char *fmt, ...) {
  if (e->buf && e->len) {
    int n = snprintf(e->buf, e->len, "option `%s'%s: ", option, e->where);
    if (n >= 0 && (size_t)n < e->len) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return ALEC_EINVAL;
}

void alec_pc_init(alec_plugin_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->notify_priority = -1;
  cfg->state_interval = 60;
  cfg->resync_requests = 1;
  cfg->resync_interval = 1;
}

static void map_free(alec_pc_chanmap *m) {
  free(m->ch);
  m->ch = NULL;
  m->n = 0;
}

void alec_pc_free(alec_plugin_config *cfg) {
  for (size_t i = 0; i < cfg->n_profiles; i++) map_free(&cfg->profiles[i].s.map);
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    map_free(&cfg->emitters[i].own.map);
    map_free(&cfg->emitters[i].merged);
  }
  free(cfg->profiles);
  free(cfg->emitters);
  alec_pc_init(cfg);
}

/* ---- value helpers ---------------------------------------------------- */

static int nvalues(perr *e, const oconfig_item_t *ci, int lo, int hi) {
  if (ci->values_num < lo || ci->values_num > hi) {
    if (lo == hi) return fail(e, ci->key, "expects %d argument%s, got %d", lo, lo == 1 ? "" : "s", ci->values_num);
    return fail(e, ci->key, "expects %d to %d arguments, got %d", lo, hi, ci->values_num);
  }
  return 0;
}

/* Names end up in collectd identifiers: '/' separates their parts. */
static int get_name(perr *e, const oconfig_item_t *ci, int idx, char *out, size_t cap, int allow_empty) {
  if (ci->values[idx].type != OCONFIG_TYPE_STRING)
    return fail(e, ci->key, "argument %d must be a quoted string", idx + 1);
  const char *s = ci->values[idx].value.string;
  size_t n = strlen(s);
  if (n == 0 && !allow_empty) return fail(e, ci->key, "argument %d must not be empty", idx + 1);
  if (n >= cap) return fail(e, ci->key, "\"%s\" is longer than %zu characters", s, cap - 1);
  if (strchr(s, '/')) return fail(e, ci->key, "\"%s\" must not contain '/'", s);
  memcpy(out, s, n + 1);
  return 0;
}

static int get_string(perr *e, const oconfig_item_t *ci, int idx, char *out, size_t cap) {
  if (ci->values[idx].type != OCONFIG_TYPE_STRING)
    return fail(e, ci->key, "argument %d must be a quoted string", idx + 1);
  const char *s = ci->values[idx].value.string;
  size_t n = strlen(s);
  if (n == 0 || n >= cap) return fail(e, ci->key, "argument %d must have 1 to %zu characters", idx + 1, cap - 1);
  memcpy(out, s, n + 1);
  return 0;
}

/* An integer in [lo, hi], given as a number or as a decimal string. */
static int get_uint(perr *e, const oconfig_item_t *ci, int idx, uint64_t lo, uint64_t hi, uint64_t *out) {
  const oconfig_value_t *v = &ci->values[idx];
  uint64_t r;
  if (v->type == OCONFIG_TYPE_NUMBER) {
    double d = v->value.number;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
      return fail(e, ci->key, "expects an integer in %" PRIu64 "..%" PRIu64 ", got %g", lo, hi, d);
    r = (uint64_t)d;
  } else if (v->type == OCONFIG_TYPE_STRING) {
    if (alec_pc_parse_id(v->value.string, &r) < 0 || r < lo || r > hi)
      return fail(e, ci->key, "expects an integer in %" PRIu64 "..%" PRIu64 ", got \"%s\"", lo, hi,
                  v->value.string);
  } else {
    return fail(e, ci->key, "expects an integer in %" PRIu64 "..%" PRIu64 ", got a boolean", lo, hi);
  }
  *out = r;
  return 0;
}

static int get_double(perr *e, const oconfig_item_t *ci, double lo, double hi, int lo_open, double *out) {
  int rc = nvalues(e, ci, 1, 1);
  if (rc) return rc;
  if (ci->values[0].type != OCONFIG_TYPE_NUMBER)
    return fail(e, ci->key, "expects a number");
  double d = ci->values[0].value.number;
  if (!isfinite(d) || d < lo || d > hi || (lo_open && d == lo))
    return fail(e, ci->key, "expects a number %s %g and <= %g, got %g", lo_open ? ">" : ">=", lo, hi, d);
  *out = d;
  return 0;
}

/* SecurityLevel (docs/SECURITY.md); collectd's network plugin spells it
 * the same way, its "Encrypt" has no counterpart here. */
static int parse_security(perr *e, const oconfig_item_t *ci, int *out) {
  char buf[16];
  if (nvalues(e, ci, 1, 1) || get_string(e, ci, 0, buf, sizeof buf))
    return fail(e, ci->key, "expects \"None\" or \"Sign\"");
  if (strcasecmp(buf, "none") == 0) *out = ALEC_PC_SEC_NONE;
  else if (strcasecmp(buf, "sign") == 0) *out = ALEC_PC_SEC_SIGN;
  else return fail(e, ci->key, "expects \"None\" or \"Sign\", got \"%s\"", buf);
  return 0;
}

int alec_pc_parse_id(const char *s, uint64_t *out) {
  if (s == NULL || *s == '\0') return ALEC_EINVAL;
  int base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  /* strtoull accepts signs and blanks: require digits only. */
  for (const char *p = s; *p; p++) {
    int ok = base == 16 ? ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))
                        : (*p >= '0' && *p <= '9');
    if (!ok) return ALEC_EINVAL;
  }
  if (*s == '\0') return ALEC_EINVAL;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, base);
  if (errno == ERANGE || *end != '\0') return ALEC_ERANGE;
  *out = (uint64_t)v;
  return 0;
}

void alec_pc_default_host(uint64_t id, char *out, size_t cap) {
  snprintf(out, cap, "alec-%016" PRIx64, id);
}

/* ---- channel maps ---------------------------------------------------------- */

static int cmp_channel(const void *a, const void *b) {
  uint32_t x = ((const alec_pc_channel *)a)->id, y = ((const alec_pc_channel *)b)->id;
  return x < y ? -1 : x > y;
}

const alec_pc_channel *alec_pc_channel_find(const alec_pc_chanmap *map, uint32_t id) {
  if (map == NULL || map->n == 0) return NULL;
  alec_pc_channel key;
  key.id = id;
  return bsearch(&key, map->ch, map->n, sizeof(key), cmp_channel);
}

static int parse_channel(perr *e, const oconfig_item_t *ci, alec_pc_chanmap *m) {
  int rc = nvalues(e, ci, 1, 3);
  if (rc) return rc;
  uint64_t id;
  if ((rc = get_uint(e, ci, 0, 0, UINT32_MAX, &id))) return rc;
  for (size_t i = 0; i < m->n; i++)
    if (m->ch[i].id == id) return fail(e, ci->key, "channel %" PRIu64 " is defined twice", id);
  if (m->n >= ALEC_PC_MAX_CHANNELS) return fail(e, ci->key, "more than %d channels", ALEC_PC_MAX_CHANNELS);
  alec_pc_channel c;
  memset(&c, 0, sizeof(c));
  c.id = (uint32_t)id;
  c.ds_type = -1;
  if (ci->values_num >= 2) {
    if ((rc = get_name(e, ci, 1, c.type, sizeof c.type, 0))) return rc;
    /* '-' separates type and type_instance in collectd identifiers. */
    if (strchr(c.type, '-')) return fail(e, ci->key, "type \"%s\" must not contain '-'", c.type);
  } else {
    strcpy(c.type, ALEC_PC_DEFAULT_TYPE);
  }
  if (ci->values_num >= 3) {
    if ((rc = get_name(e, ci, 2, c.type_instance, sizeof c.type_instance, 1))) return rc;
  } else {
    snprintf(c.type_instance, sizeof c.type_instance, "ch%" PRIu64, id);
  }
  alec_pc_channel *n = realloc(m->ch, (m->n + 1) * sizeof(*n));
  if (n == NULL) return ALEC_ENOMEM;
  m->ch = n;
  m->ch[m->n++] = c;
  qsort(m->ch, m->n, sizeof(*m->ch), cmp_channel);
  return 0;
}

/* Options common to <Profile> and <Emitter>; 1 if ci was not one of them. */
static int parse_stream_option(perr *e, const oconfig_item_t *ci, alec_pc_stream *s) {
  int rc;
  uint64_t u;
  if (strcasecmp(ci->key, "Format") == 0) {
    char buf[32];
    if ((rc = nvalues(e, ci, 1, 1)) || (rc = get_string(e, ci, 0, buf, sizeof buf))) return rc;
    if (alec_format_parse(buf, &s->format) < 0)
      return fail(e, ci->key, "unknown format \"%s\" (single, single-xxh32, multi, fixed)", buf);
    return 0;
  }
  if (strcasecmp(ci->key, "Channels") == 0) {
    if ((rc = nvalues(e, ci, 1, 1)) || (rc = get_uint(e, ci, 0, 1, ALEC_FIXED_MAX_CHANNELS, &u))) return rc;
    s->channels = (unsigned)u;
    return 0;
  }
  if (strcasecmp(ci->key, "Scale") == 0) {
    if ((rc = nvalues(e, ci, 1, 1)) || (rc = get_uint(e, ci, 0, 1, UINT32_MAX, &u))) return rc;
    s->scale = (uint32_t)u;
    return 0;
  }
  if (strcasecmp(ci->key, "Group") == 0) {
    if ((rc = nvalues(e, ci, 1, 1)) || (rc = get_name(e, ci, 0, s->group, sizeof s->group, 1))) return rc;
    s->has_group = 1;
    return 0;
  }
  if (strcasecmp(ci->key, "Channel") == 0) return parse_channel(e, ci, &s->map);
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

static int parse_profile(perr *top, alec_plugin_config *cfg, const oconfig_item_t *ci) {
  char where[ALEC_PC_NAME_LEN + 32];
  block_where(where, sizeof where, "Profile", ci);
  perr e = {top->buf, top->len, where};
  int rc = nvalues(top, ci, 1, 1);
  if (rc) return rc;
  alec_pc_profile p;
  memset(&p, 0, sizeof(p));
  if ((rc = get_name(top, ci, 0, p.name, sizeof p.name, 0))) return rc;
  for (size_t i = 0; i < cfg->n_profiles; i++)
    if (strcmp(cfg->profiles[i].name, p.name) == 0) return fail(top, ci->key, "profile \"%s\" is defined twice", p.name);
  for (int i = 0; i < ci->children_num && rc == 0; i++) {
    rc = parse_stream_option(&e, &ci->children[i], &p.s);
    if (rc == 1) rc = fail(&e, ci->children[i].key, "unknown option");
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
  map_free(&p.s.map);
  return rc;
}

/* IPv4-mapped IPv6 senders (dual-stack sockets) compare as IPv4. */
static void normalize_addr(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out,
                           socklen_t *out_len) {
  memset(out, 0, sizeof(*out));
  if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      struct sockaddr_in *s4 = (struct sockaddr_in *)out;
      s4->sin_family = AF_INET;
      s4->sin_port = s6->sin6_port;
      memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
      *out_len = sizeof(*s4);
      return;
    }
  }
  if (len > (socklen_t)sizeof(*out)) len = sizeof(*out);
  memcpy(out, sa, (size_t)len);
  *out_len = len;
}

static int parse_source(perr *e, const oconfig_item_t *ci, alec_pc_emitter *em) {
  int rc = nvalues(e, ci, 1, 2);
  if (rc) return rc;
  char node[256], service[32] = "";
  if ((rc = get_string(e, ci, 0, node, sizeof node))) return rc;
  if (ci->values_num == 2) {
    uint64_t port;
    if ((rc = get_uint(e, ci, 1, 1, 65535, &port))) return rc;
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
    return fail(e, ci->key, "\"%s\" is not a numeric IPv4 or IPv6 address", node);
  normalize_addr(res->ai_addr, res->ai_addrlen, &em->source, &em->source_len);
  freeaddrinfo(res);
  em->has_source = 1;
  em->source_any_port = service[0] == '\0';
  return 0;
}

static int parse_emitter(perr *top, alec_plugin_config *cfg, const oconfig_item_t *ci) {
  char where[ALEC_PC_NAME_LEN + 32];
  block_where(where, sizeof where, "Emitter", ci);
  perr e = {top->buf, top->len, where};
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
      return fail(top, ci->key, "id %.17g is not an integer in 0..2^53 (quote larger ids: <Emitter \"0x...\">)", d);
    em.id = (uint64_t)d;
  } else if (v->type != OCONFIG_TYPE_STRING) {
    return fail(top, ci->key, "id must be a 64-bit integer, decimal or 0x-hex");
  } else if (alec_pc_parse_id(v->value.string, &em.id) < 0) {
    return fail(top, ci->key, "id \"%s\" is not a 64-bit integer, decimal or 0x-hex", v->value.string);
  }
  for (size_t i = 0; i < cfg->n_emitters; i++)
    if (cfg->emitters[i].id == em.id) return fail(top, ci->key, "emitter %" PRIu64 " is defined twice", em.id);
  for (int i = 0; i < ci->children_num && rc == 0; i++) {
    const oconfig_item_t *c = &ci->children[i];
    rc = parse_stream_option(&e, c, &em.own);
    if (rc != 1) continue;
    if (strcasecmp(c->key, "Profile") == 0) {
      if (!(rc = nvalues(&e, c, 1, 1))) rc = get_name(&e, c, 0, em.profile, sizeof em.profile, 0);
    } else if (strcasecmp(c->key, "Host") == 0) {
      if (!(rc = nvalues(&e, c, 1, 1))) rc = get_name(&e, c, 0, em.host, sizeof em.host, 0);
    } else if (strcasecmp(c->key, "SecurityLevel") == 0) {
      rc = parse_security(&e, c, &em.security);
    } else if (strcasecmp(c->key, "Source") == 0) {
      rc = parse_source(&e, c, &em);
    } else {
      rc = fail(&e, c->key, "unknown option");
    }
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
  map_free(&em.own.map);
  return rc;
}

static int parse_fleet(perr *top, alec_pc_fleet *f, const oconfig_item_t *ci) {
  perr e = {top->buf, top->len, " in <Fleet>"};
  if (ci->values_num != 0) return fail(top, ci->key, "takes no argument");
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    int rc;
    uint64_t u;
    if (strcasecmp(c->key, "Threshold") == 0) {
      rc = get_double(&e, c, 0, 1e6, 1, &f->threshold);
      f->set |= ALEC_PC_F_THRESHOLD;
    } else if (strcasecmp(c->key, "ExitThreshold") == 0) {
      rc = get_double(&e, c, 0, 1e6, 1, &f->exit_threshold);
      f->set |= ALEC_PC_F_EXIT_THRESHOLD;
    } else if (strcasecmp(c->key, "FailureThreshold") == 0) {
      rc = get_double(&e, c, 0, 1e6, 1, &f->failure_threshold);
      f->set |= ALEC_PC_F_FAILURE_THRESHOLD;
    } else if (strcasecmp(c->key, "EnterCount") == 0) {
      if (!(rc = nvalues(&e, c, 1, 1)) && !(rc = get_uint(&e, c, 0, 1, 1000000, &u))) f->enter_count = (unsigned)u;
      f->set |= ALEC_PC_F_ENTER_COUNT;
    } else if (strcasecmp(c->key, "ExitCount") == 0) {
      if (!(rc = nvalues(&e, c, 1, 1)) && !(rc = get_uint(&e, c, 0, 1, 1000000, &u))) f->exit_count = (unsigned)u;
      f->set |= ALEC_PC_F_EXIT_COUNT;
    } else if (strcasecmp(c->key, "MinPeers") == 0) {
      if (!(rc = nvalues(&e, c, 1, 1)) && !(rc = get_uint(&e, c, 0, 3, 1000000, &u))) f->min_peers = (unsigned)u;
      f->set |= ALEC_PC_F_MIN_PEERS;
    } else if (strcasecmp(c->key, "EvaluationInterval") == 0) {
      rc = get_double(&e, c, 0.001, 86400, 0, &f->evaluation_interval);
      f->set |= ALEC_PC_F_EVALUATION_INTERVAL;
    } else if (strcasecmp(c->key, "SyncInterval") == 0) {
      rc = get_double(&e, c, 0.001, 86400 * 365.0, 0, &f->sync_interval);
      f->set |= ALEC_PC_F_SYNC_INTERVAL;
    } else if (strcasecmp(c->key, "MADFloor") == 0) {
      rc = get_double(&e, c, 0, 1e12, 1, &f->mad_floor);
      f->set |= ALEC_PC_F_MAD_FLOOR;
    } else {
      rc = fail(&e, c->key, "unknown option");
    }
    if (rc) return rc;
  }
  return 0;
}

/* <Dashboard>: present = on. Loopback unless Listen names another address:
 * the dashboard has no authentication. */
static int parse_dashboard(perr *top, alec_pc_dashboard *d, const oconfig_item_t *ci) {
  perr e = {top->buf, top->len, " in <Dashboard>"};
  if (ci->values_num != 0) return fail(top, ci->key, "takes no argument");
  d->enabled = 1;
  strcpy(d->listen.node, ALEC_PC_DEFAULT_NODE);
  strcpy(d->listen.service, ALEC_PC_DASHBOARD_PORT);
  d->history = 300;
  d->history_interval = 1.0;
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    int rc;
    uint64_t u;
    if (strcasecmp(c->key, "Listen") == 0) {
      if ((rc = nvalues(&e, c, 1, 2)) || (rc = get_string(&e, c, 0, d->listen.node, sizeof d->listen.node)))
        return rc;
      if (c->values_num == 2) {
        if ((rc = get_uint(&e, c, 1, 1, 65535, &u))) return rc;
        snprintf(d->listen.service, sizeof d->listen.service, "%" PRIu64, u);
      }
    } else if (strcasecmp(c->key, "History") == 0) {
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_uint(&e, c, 0, 0, 100000, &u))) return rc;
      d->history = (unsigned)u;
    } else if (strcasecmp(c->key, "HistoryInterval") == 0) {
      if ((rc = get_double(&e, c, 0.1, 86400, 0, &d->history_interval))) return rc;
    } else {
      return fail(&e, c->key, "unknown option");
    }
  }
  return 0;
}

int alec_pc_parse(alec_plugin_config *cfg, const oconfig_item_t *ci, char *err, size_t errlen) {
  perr e = {err, errlen, ""};
  if (err && errlen) err[0] = '\0';
  cfg->finalized = 0;
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    int rc;
    uint64_t u;
    if (strcasecmp(c->key, "Listen") == 0) {
      if ((rc = nvalues(&e, c, 1, 2))) return rc;
      if (cfg->n_listen >= ALEC_PC_MAX_LISTEN) return fail(&e, c->key, "at most %d Listen lines", ALEC_PC_MAX_LISTEN);
      alec_pc_listen *l = &cfg->listen[cfg->n_listen];
      if ((rc = get_string(&e, c, 0, l->node, sizeof l->node))) return rc;
      if (c->values_num == 2) {
        if (c->values[1].type == OCONFIG_TYPE_NUMBER) {
          if ((rc = get_uint(&e, c, 1, 1, 65535, &u))) return rc;
          snprintf(l->service, sizeof l->service, "%" PRIu64, u);
        } else if ((rc = get_string(&e, c, 1, l->service, sizeof l->service))) {
          return rc;
        } else if (strspn(l->service, "0123456789") == strlen(l->service)) {
          /* getaddrinfo() would take "70000" modulo 65536. */
          if (get_uint(&e, c, 1, 1, 65535, &u)) return ALEC_EINVAL;
        }
      } else {
        strcpy(l->service, ALEC_PC_DEFAULT_PORT);
      }
      /* Block form: <Listen "addr" "port"> SecurityLevel Sign </Listen>. */
      l->security = ALEC_PC_SEC_UNSET;
      perr le = {err, errlen, " in <Listen>"};
      for (int k = 0; k < c->children_num; k++) {
        if (strcasecmp(c->children[k].key, "SecurityLevel") != 0)
          return fail(&le, c->children[k].key, "unknown option (only SecurityLevel)");
        if ((rc = parse_security(&le, &c->children[k], &l->security))) return rc;
      }
      cfg->n_listen++;
    } else if (strcasecmp(c->key, "SecurityLevel") == 0) {
      if ((rc = parse_security(&e, c, &cfg->security))) return rc;
    } else if (strcasecmp(c->key, "AuthFile") == 0) {
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_string(&e, c, 0, cfg->auth_file, sizeof cfg->auth_file)))
        return rc;
    } else if (strcasecmp(c->key, "RateLimit") == 0) {
      if ((rc = nvalues(&e, c, 1, 2))) return rc;
      for (int k = 0; k < c->values_num; k++)
        if (c->values[k].type != OCONFIG_TYPE_NUMBER)
          return fail(&e, c->key, "expects <frames per second> [<burst>], numbers");
      double rate = c->values[0].value.number;
      double burst = c->values_num == 2 ? c->values[1].value.number : (rate < 1 ? 1 : rate);
      if (!(rate > 0 && rate <= 1e9) || !(burst >= 1 && burst <= 1e9))
        return fail(&e, c->key, "expects a rate in (0, 1e9] frames/s and a burst in [1, 1e9] frames, got %g %g", rate,
                    burst);
      cfg->rate_limit = rate;
      cfg->rate_burst = burst;
    } else if (strcasecmp(c->key, "ReceiveBufferSize") == 0) {
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_uint(&e, c, 0, 0, 1u << 30, &u))) return rc;
      cfg->receive_buffer = (int)u;
    } else if (strcasecmp(c->key, "QueueLength") == 0) {
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_uint(&e, c, 0, 1, 1u << 24, &u))) return rc;
      cfg->queue_length = (size_t)u;
    } else if (strcasecmp(c->key, "MaxEmitters") == 0) {
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_uint(&e, c, 0, 1, 10000000, &u))) return rc;
      cfg->max_emitters = (size_t)u;
    } else if (strcasecmp(c->key, "EmitterTimeout") == 0) {
      if ((rc = get_double(&e, c, 0, 86400.0 * 365, 1, &cfg->emitter_timeout))) return rc;
    } else if (strcasecmp(c->key, "UnknownEmitters") == 0) {
      char buf[16];
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_string(&e, c, 0, buf, sizeof buf)))
        return fail(&e, c->key, "expects \"accept\" or \"reject\"");
      if (strcasecmp(buf, "accept") == 0) cfg->reject_unknown = 0;
      else if (strcasecmp(buf, "reject") == 0) cfg->reject_unknown = 1;
      else return fail(&e, c->key, "expects \"accept\" or \"reject\", got \"%s\"", buf);
    } else if (strcasecmp(c->key, "NotifyPriority") == 0) {
      char buf[16];
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_string(&e, c, 0, buf, sizeof buf)))
        return fail(&e, c->key, "expects \"P1\" .. \"P5\" or \"off\"");
      if (strcasecmp(buf, "off") == 0 || strcasecmp(buf, "none") == 0) cfg->notify_priority = -1;
      else if ((buf[0] == 'P' || buf[0] == 'p') && buf[1] >= '1' && buf[1] <= '5' && buf[2] == '\0')
        cfg->notify_priority = buf[1] - '1';
      else return fail(&e, c->key, "expects \"P1\" .. \"P5\" or \"off\", got \"%s\"", buf);
    } else if (strcasecmp(c->key, "StateFile") == 0) {
      if ((rc = nvalues(&e, c, 1, 1)) || (rc = get_string(&e, c, 0, cfg->state_file, sizeof cfg->state_file)))
        return rc;
    } else if (strcasecmp(c->key, "StateInterval") == 0) {
      if ((rc = get_double(&e, c, 0, 86400.0 * 7, 0, &cfg->state_interval))) return rc;
    } else if (strcasecmp(c->key, "ResyncRequests") == 0) {
      if ((rc = nvalues(&e, c, 1, 1))) return rc;
      if (c->values[0].type != OCONFIG_TYPE_BOOLEAN) return fail(&e, c->key, "expects true or false");
      cfg->resync_requests = c->values[0].value.boolean != 0;
    } else if (strcasecmp(c->key, "ResyncInterval") == 0) {
      if ((rc = get_double(&e, c, 0, 86400, 0, &cfg->resync_interval))) return rc;
    } else if (strcasecmp(c->key, "Fleet") == 0) {
      if ((rc = parse_fleet(&e, &cfg->fleet, c))) return rc;
    } else if (strcasecmp(c->key, "Dashboard") == 0) {
      if ((rc = parse_dashboard(&e, &cfg->dashboard, c))) return rc;
    } else if (strcasecmp(c->key, "Profile") == 0) {
      if ((rc = parse_profile(&e, cfg, c))) return rc;
    } else if (strcasecmp(c->key, "Emitter") == 0) {
      if ((rc = parse_emitter(&e, cfg, c))) return rc;
    } else {
      return fail(&e, c->key, "unknown option");
    }
  }
  return 0;
}

/* ---- finalize ------------------------------------------------------------- */

static int cmp_emitter(const void *a, const void *b) {
  uint64_t x = ((const alec_pc_emitter *)a)->id, y = ((const alec_pc_emitter *)b)->id;
  return x < y ? -1 : x > y;
}

static int check_map(perr *e, alec_pc_chanmap *m, const alec_pc_stream *s, alec_pc_type_check_fn check,
                     void *arg) {
  for (size_t i = 0; i < m->n; i++) {
    if (s && s->format == ALEC_FORMAT_FIXED && s->channels && m->ch[i].id >= s->channels)
      return fail(e, "Channel", "index %" PRIu32 " is outside the %u channels of a fixed frame", m->ch[i].id,
                  s->channels);
    if (s && s->format == ALEC_FORMAT_MULTI && m->ch[i].id > 255)
      return fail(e, "Channel", "index %" PRIu32 " is above 255, the largest name_id of a multi frame",
                  m->ch[i].id);
    if (check) {
      int nds = check(arg, m->ch[i].type, &m->ch[i].ds_type);
      if (nds < 0) return fail(e, "Channel", "unknown type \"%s\" (not in any TypesDB file)", m->ch[i].type);
      if (nds != 1)
        return fail(e, "Channel", "type \"%s\" has %d data sources; alec dispatches one value per channel",
                    m->ch[i].type, nds);
    }
  }
  return 0;
}

static int check_stream(perr *e, const alec_pc_stream *s) {
  if (s->channels && s->format && s->format != ALEC_FORMAT_FIXED)
    return fail(e, "Channels", "applies to Format \"fixed\" only (other formats carry channel ids)");
  return 0;
}

/* Channel lines of an emitter replace the profile's line of the same index
 * and add to the others. */
static int merge_maps(const alec_pc_chanmap *base, const alec_pc_chanmap *own, alec_pc_chanmap *out) {
  out->ch = malloc((base->n + own->n) * sizeof(*out->ch));
  if (out->ch == NULL) return ALEC_ENOMEM;
  out->n = 0;
  for (size_t i = 0; i < own->n; i++) out->ch[out->n++] = own->ch[i];
  for (size_t i = 0; i < base->n; i++)
    if (alec_pc_channel_find(own, base->ch[i].id) == NULL) out->ch[out->n++] = base->ch[i];
  qsort(out->ch, out->n, sizeof(*out->ch), cmp_channel);
  return 0;
}

static int same_source(const alec_pc_emitter *a, const alec_pc_emitter *b) {
  if (a->source.ss_family != b->source.ss_family || a->source_any_port != b->source_any_port) return 0;
  if (a->source.ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)&a->source, *y = (const struct sockaddr_in *)&b->source;
    return x->sin_addr.s_addr == y->sin_addr.s_addr && (a->source_any_port || x->sin_port == y->sin_port);
  }
  const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->source, *y = (const struct sockaddr_in6 *)&b->source;
  return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
         (a->source_any_port || x->sin6_port == y->sin6_port);
}

int alec_pc_finalize(alec_plugin_config *cfg, alec_pc_type_check_fn check, void *arg, char *err, size_t errlen) {
  perr top = {err, errlen, ""};
  if (err && errlen) err[0] = '\0';
  int rc;
  if (cfg->n_listen == 0) {
    strcpy(cfg->listen[0].node, ALEC_PC_DEFAULT_NODE);
    strcpy(cfg->listen[0].service, ALEC_PC_DEFAULT_PORT);
    cfg->n_listen = 1;
  }
  if (cfg->queue_length == 0) cfg->queue_length = 65536;
  if (cfg->max_emitters == 0) cfg->max_emitters = 10000;
  if (cfg->emitter_timeout == 0) cfg->emitter_timeout = 300;
  const alec_pc_fleet *f = &cfg->fleet;
  perr fe = {err, errlen, " in <Fleet>"};
  if ((f->set & ALEC_PC_F_THRESHOLD) && (f->set & ALEC_PC_F_EXIT_THRESHOLD) && f->exit_threshold >= f->threshold)
    return fail(&fe, "ExitThreshold", "%g is not below Threshold %g (the exit band must lie inside)", f->exit_threshold,
                f->threshold);
  if ((f->set & ALEC_PC_F_THRESHOLD) && (f->set & ALEC_PC_F_FAILURE_THRESHOLD) && f->failure_threshold <= f->threshold)
    return fail(&fe, "FailureThreshold", "%g is not above Threshold %g", f->failure_threshold, f->threshold);

  if (check) {
    /* Channels without a Channel line use the default type. */
    int ds_type;
    int nds = check(arg, ALEC_PC_DEFAULT_TYPE, &ds_type);
    if (nds != 1) return fail(&top, "Channel", "the default type \"" ALEC_PC_DEFAULT_TYPE "\" is missing from types.db");
  }
  for (size_t i = 0; i < cfg->n_profiles; i++) {
    char where[ALEC_PC_NAME_LEN + 32];
    snprintf(where, sizeof where, " in <Profile \"%s\">", cfg->profiles[i].name);
    perr e = {err, errlen, where};
    alec_pc_stream *s = &cfg->profiles[i].s;
    if ((rc = check_stream(&e, s)) || (rc = check_map(&e, &s->map, s, check, arg))) return rc;
  }
  if (cfg->n_emitters > 1) qsort(cfg->emitters, cfg->n_emitters, sizeof(*cfg->emitters), cmp_emitter);
  cfg->n_sources = 0;
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    alec_pc_emitter *em = &cfg->emitters[i];
    char where[64];
    snprintf(where, sizeof where, " in <Emitter %" PRIu64 ">", em->id);
    perr e = {err, errlen, where};
    alec_pc_stream *p = NULL;
    if (em->profile[0]) {
      for (size_t k = 0; k < cfg->n_profiles; k++)
        if (strcmp(cfg->profiles[k].name, em->profile) == 0) p = &cfg->profiles[k].s;
      if (p == NULL) return fail(&e, "Profile", "no <Profile \"%s\"> is defined", em->profile);
    }
    em->format = em->own.format ? em->own.format : p ? p->format : 0;
    em->channels = em->own.channels ? em->own.channels : p ? p->channels : 0;
    em->scale = em->own.scale ? em->own.scale : p ? p->scale : 0;
    if (em->own.has_group) strcpy(em->group, em->own.group);
    else if (p && p->has_group) strcpy(em->group, p->group);
    else em->group[0] = '\0';
    if (em->host[0] == '\0') alec_pc_default_host(em->id, em->host, sizeof em->host);
    map_free(&em->merged);
    if (p == NULL || p->map.n == 0) em->map = &em->own.map;
    else if (em->own.map.n == 0) em->map = &p->map;
    else {
      if ((rc = merge_maps(&p->map, &em->own.map, &em->merged))) return rc;
      em->map = &em->merged;
    }
    alec_pc_stream eff = em->own;
    eff.format = em->format;
    eff.channels = em->channels;
    if ((rc = check_stream(&e, &eff))) return rc;
    if (em->format == ALEC_FORMAT_FIXED && em->channels == 0 && em->has_source)
      return fail(&e, "Channels", "is required: bare fixed frames (Source) do not say their channel count");
    if (em->has_source && em->format == 0)
      return fail(&e, "Format", "is required with Source: bare frames do not say their family");
    if ((rc = check_map(&e, em->map, &eff, check, arg))) return rc;
    if (em->has_source) {
      for (size_t k = 0; k < i; k++)
        if (cfg->emitters[k].has_source && same_source(&cfg->emitters[k], em))
          return fail(&e, "Source", "the same source is already given to <Emitter %" PRIu64 ">", cfg->emitters[k].id);
      cfg->n_sources++;
    }
  }
  cfg->scale = 0;
  for (size_t i = 0; i < cfg->n_profiles + cfg->n_emitters; i++) {
    int is_profile = i < cfg->n_profiles;
    uint32_t sc = is_profile ? cfg->profiles[i].s.scale : cfg->emitters[i - cfg->n_profiles].own.scale;
    if (sc == 0) continue;
    if (cfg->scale && sc != cfg->scale) {
      char where[ALEC_PC_NAME_LEN + 32];
      if (is_profile) snprintf(where, sizeof where, " in <Profile \"%s\">", cfg->profiles[i].name);
      else snprintf(where, sizeof where, " in <Emitter %" PRIu64 ">", cfg->emitters[i - cfg->n_profiles].id);
      perr e = {err, errlen, where};
      return fail(&e, "Scale", "%" PRIu32 " differs from Scale %" PRIu32 " given elsewhere; all emitters share one scale",
                  sc, cfg->scale);
    }
    cfg->scale = sc;
  }
  /* Security levels: resolved here so option order does not matter. */
  int need_keys = 0;
  if (cfg->security == ALEC_PC_SEC_UNSET) cfg->security = ALEC_PC_SEC_NONE;
  for (size_t i = 0; i < cfg->n_listen; i++) {
    if (cfg->listen[i].security == ALEC_PC_SEC_UNSET) cfg->listen[i].security = cfg->security;
    need_keys |= cfg->listen[i].security == ALEC_PC_SEC_SIGN;
  }
  cfg->n_sign_emitters = 0;
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    const alec_pc_emitter *em = &cfg->emitters[i];
    if (em->security != ALEC_PC_SEC_SIGN) continue;
    cfg->n_sign_emitters++;
    need_keys = 1;
    if (em->has_source) {
      char where[64];
      snprintf(where, sizeof where, " in <Emitter %" PRIu64 ">", em->id);
      perr e = {err, errlen, where};
      return fail(&e, "SecurityLevel", "Sign cannot apply to bare frames from a Source (they carry no signature)");
    }
  }
  if (need_keys && cfg->auth_file[0] == '\0')
    return fail(&top, "SecurityLevel", "Sign needs an AuthFile with the keys of the emitters");
  if (cfg->n_emitters > cfg->max_emitters)
    return fail(&top, "MaxEmitters", "%zu is below the %zu configured <Emitter> blocks", cfg->max_emitters,
                cfg->n_emitters);
  cfg->finalized = 1;
  return 0;
}

/* ---- lookups ----------------------------------------------------------------- */

const alec_pc_emitter *alec_pc_find_emitter(const alec_plugin_config *cfg, uint64_t id) {
  size_t lo = 0, hi = cfg->n_emitters;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t v = cfg->emitters[mid].id;
    if (v == id) return &cfg->emitters[mid];
    if (v < id) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

const alec_pc_emitter *alec_pc_find_source(const alec_plugin_config *cfg, const struct sockaddr *sa,
                                           socklen_t len) {
  if (cfg->n_sources == 0 || sa == NULL) return NULL;
  struct sockaddr_storage n;
  socklen_t nl;
  normalize_addr(sa, len, &n, &nl);
  const alec_pc_emitter *any = NULL;
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    const alec_pc_emitter *em = &cfg->emitters[i];
    if (!em->has_source || em->source.ss_family != n.ss_family) continue;
    int addr_eq, port_eq;
    if (n.ss_family == AF_INET) {
      const struct sockaddr_in *x = (const struct sockaddr_in *)&em->source, *y = (const struct sockaddr_in *)&n;
      addr_eq = x->sin_addr.s_addr == y->sin_addr.s_addr;
      port_eq = x->sin_port == y->sin_port;
    } else if (n.ss_family == AF_INET6) {
      const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&em->source, *y = (const struct sockaddr_in6 *)&n;
      addr_eq = memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
      port_eq = x->sin6_port == y->sin6_port;
    } else {
      continue;
    }
    if (!addr_eq) continue;
    if (!em->source_any_port && port_eq) return em;
    if (em->source_any_port && any == NULL) any = em;
  }
  return any;
}
