/* SPDX-License-Identifier: MIT */
/* The receiver configuration: defaults, resolution and validation. Every error
 * names the option and the block it is in, because collectd only prints
 * what we log and a user has to find the line. */

#include "config.h"
#include "spool.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alec/error.h"
#include "alec/fleet.h"
#include "nsevent.h"
#include "amqpconf.h"

int alec_pc_fail(alec_pc_err *e, const char *option, const char *fmt, ...) {
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
  cfg->spool_limit = ALEC_SPOOL_LIMIT_DEFAULT;
  cfg->resync_requests = 1;
  cfg->resync_interval = 1;
}

void alec_pc_map_free(alec_pc_chanmap *m) {
  free(m->ch);
  m->ch = NULL;
  m->n = 0;
}

void alec_pc_free(alec_plugin_config *cfg) {
  for (size_t i = 0; i < cfg->n_profiles; i++) alec_pc_map_free(&cfg->profiles[i].s.map);
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    alec_pc_map_free(&cfg->emitters[i].own.map);
    alec_pc_map_free(&cfg->emitters[i].merged);
  }
  free(cfg->profiles);
  free(cfg->emitters);
  free(cfg->mqtt);
  free(cfg->amqp);
  alec_pc_init(cfg);
}

/* ---- option tables ------------------------------------------------------ */

const alec_pc_opt alec_pc_profile_opts[] = {
#define PROFILE_ROW(...) ALEC_PC_ROW(alec_pc_profile, __VA_ARGS__)
    ALEC_PC_PROFILE_OPTIONS(PROFILE_ROW)
#undef PROFILE_ROW
};
const size_t alec_pc_n_profile_opts = sizeof alec_pc_profile_opts / sizeof alec_pc_profile_opts[0];
_Static_assert(sizeof alec_pc_profile_opts / sizeof alec_pc_profile_opts[0] <= 64, "alec_pc_profile.seen is a 64-bit mask");

const alec_pc_opt alec_pc_emitter_opts[] = {
#define EMITTER_ROW(...) ALEC_PC_ROW(alec_pc_emitter, __VA_ARGS__)
    ALEC_PC_EMITTER_OPTIONS(EMITTER_ROW)
#undef EMITTER_ROW
};
const size_t alec_pc_n_emitter_opts = sizeof alec_pc_emitter_opts / sizeof alec_pc_emitter_opts[0];
_Static_assert(sizeof alec_pc_emitter_opts / sizeof alec_pc_emitter_opts[0] <= 64, "alec_pc_emitter.seen is a 64-bit mask");

const alec_pc_opt *alec_pc_opt_find(const alec_pc_opt *t, size_t n, const char *name) {
  for (size_t k = 0; k < n; k++)
    if (strcasecmp(t[k].name, name) == 0) return &t[k];
  return NULL;
}

int alec_pc_name_check(const char *s, size_t lo, size_t hi) {
  size_t n = strlen(s);
  if (n < lo || (n == 0 && lo > 0)) return ALEC_PC_NAME_EMPTY; /* lo is 0 or 1 in every table */
  if (n > hi) return ALEC_PC_NAME_LONG;
  for (const char *p = s; *p; p++) {
    if (*p == '/') return ALEC_PC_NAME_SLASH;
    if ((unsigned char)*p < 0x20 || *p == 0x7f) return ALEC_PC_NAME_CONTROL;
  }
  return ALEC_PC_NAME_OK;
}

const char *alec_pc_name_why(int code) {
  switch (code) {
  case ALEC_PC_NAME_EMPTY: return "must not be empty";
  case ALEC_PC_NAME_LONG: return "is too long";
  case ALEC_PC_NAME_SLASH: return "must not contain '/'";
  case ALEC_PC_NAME_CONTROL: return "must not contain control characters";
  }
  return "is fine";
}

/* ---- value helpers ---------------------------------------------------- */
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

double alec_pc_convert(const alec_pc_chanmap *map, uint32_t id, double raw) {
  const alec_pc_channel *c = alec_pc_channel_find(map, id);
  return c && c->has_conv ? raw * c->multiply + c->add : raw;
}

void alec_pc_normalize_addr(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out,
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

/* ---- finalize ------------------------------------------------------------- */

static int cmp_emitter(const void *a, const void *b) {
  uint64_t x = ((const alec_pc_emitter *)a)->id, y = ((const alec_pc_emitter *)b)->id;
  return x < y ? -1 : x > y;
}

static int check_map(alec_pc_err *e, alec_pc_chanmap *m, const alec_pc_stream *s, alec_pc_type_check_fn check,
                     void *arg) {
  for (size_t i = 0; i < m->n; i++) {
    if (s && s->format == ALEC_FORMAT_FIXED && s->channels && m->ch[i].id >= s->channels)
      return alec_pc_fail(e, "Channel", "index %" PRIu32 " is outside the %u channels of a fixed frame", m->ch[i].id,
                  s->channels);
    if (s && s->format == ALEC_FORMAT_MULTI && m->ch[i].id > 255)
      return alec_pc_fail(e, "Channel", "index %" PRIu32 " is above 255, the largest name_id of a multi frame",
                  m->ch[i].id);
    if (check) {
      int nds = check(arg, m->ch[i].type, &m->ch[i].ds_type);
      if (nds < 0) return alec_pc_fail(e, "Channel", "unknown type \"%s\" (not in any TypesDB file)", m->ch[i].type);
      if (nds != 1)
        return alec_pc_fail(e, "Channel", "type \"%s\" has %d data sources; alec dispatches one value per channel",
                    m->ch[i].type, nds);
    }
  }
  return 0;
}

static int check_stream(alec_pc_err *e, const alec_pc_stream *s) {
  if (s->channels && s->format && s->format != ALEC_FORMAT_FIXED)
    return alec_pc_fail(e, "Channels", "applies to Format \"fixed\" only (other formats carry channel ids)");
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

int alec_pc_emitter_resolve(alec_pc_emitter *em, const alec_pc_profile *prof) {
  const alec_pc_stream *p = prof ? &prof->s : NULL;
  em->prof = prof;
  em->format = em->own.format ? em->own.format : p ? p->format : 0;
  em->channels = em->own.channels ? em->own.channels : p ? p->channels : 0;
  em->scale = em->own.scale ? em->own.scale : p ? p->scale : 0;
  if (em->own.has_group) strcpy(em->group, em->own.group);
  else if (p && p->has_group) strcpy(em->group, p->group);
  else em->group[0] = '\0';
  if (em->host[0] == '\0') alec_pc_default_host(em->id, em->host, sizeof em->host);
  alec_pc_map_free(&em->merged);
  /* The profile's map is not modified through em->map. */
  if (p == NULL || p->map.n == 0) em->map = &em->own.map;
  else if (em->own.map.n == 0) em->map = (alec_pc_chanmap *)&p->map;
  else {
    int rc = merge_maps(&p->map, &em->own.map, &em->merged);
    if (rc) return rc;
    em->map = &em->merged;
  }
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

/* ---- <MQTT> ------------------------------------------------------------------ */

void alec_pc_mqtt_defaults(alec_pc_mqtt *m, const char *name) {
  memset(m, 0, sizeof(*m));
  snprintf(m->name, sizeof m->name, "%s", name);
  strcpy(m->host, "localhost");
  m->port = 1883;
  m->qos = 1;
  m->keepalive = 60;
  m->emitter_level = -1;
  m->security = ALEC_PC_SEC_NONE; /* the network server authenticated the device */
  m->downlinks = 1;
  m->downlink_budget = 10;
  m->downlink_interval = 600;
  m->downlink_fport = -1;
  m->max_message_size = 4096;
}

const alec_pc_profile *alec_pc_mqtt_fport(const alec_pc_mqtt *m, int port) {
  for (size_t i = 0; i < m->n_fports; i++)
    if (m->fports[i].port == port) return m->fports[i].resolved;
  return NULL;
}

static int finalize_mqtt(alec_plugin_config *cfg, alec_pc_mqtt *m, char *err, size_t errlen, int *need_keys) {
  char where[ALEC_PC_NAME_LEN + 32];
  snprintf(where, sizeof where, " in <MQTT \"%s\">", m->name);
  alec_pc_err e = {err, errlen, where};
  for (size_t k = 0; k < cfg->n_mqtt && &cfg->mqtt[k] != m; k++)
    if (strcmp(cfg->mqtt[k].name, m->name) == 0) {
      alec_pc_err top = {err, errlen, ""};
      return alec_pc_fail(&top, "MQTT", "block \"%s\" is defined twice", m->name);
    }
  if (m->dialect == 0)
    return alec_pc_fail(&e, "Dialect", "is required: \"chirpstack\", \"tts\" or \"raw\"");
  int raw = m->dialect == ALEC_NS_RAW;
  if (m->n_topics == 0) {
    const char *t = alec_ns_default_topic(m->dialect);
    if (t == NULL) return alec_pc_fail(&e, "Topic", "is required with Dialect \"raw\"");
    snprintf(m->topics[0], sizeof m->topics[0], "%s", t);
    m->n_topics = 1;
  }
  if (!raw && m->emitter_level >= 0)
    return alec_pc_fail(&e, "EmitterLevel", "applies to Dialect \"raw\" only (the network server names the device)");
  if (raw && m->n_fports)
    return alec_pc_fail(&e, "FPort", "applies to Dialects \"chirpstack\" and \"tts\" only");
  if (raw && m->group_from[0])
    return alec_pc_fail(&e, "GroupFrom", "applies to Dialects \"chirpstack\" and \"tts\" only");
  if (!raw && m->n_fports == 0)
    return alec_pc_fail(&e, "FPort", "is required: map the uplink FPort(s) to a <Profile> (FPort 85 \"em500\")");
  if (!raw && m->security == ALEC_PC_SEC_SIGN)
    return alec_pc_fail(&e, "SecurityLevel", "Sign applies to Dialect \"raw\" envelopes only (uplinks carry no signature)");
  if (m->security == ALEC_PC_SEC_SIGN) *need_keys = 1;
  for (size_t i = 0; i < m->n_fports; i++) {
    alec_pc_fport *f = &m->fports[i];
    f->resolved = NULL;
    for (size_t k = 0; k < cfg->n_profiles; k++)
      if (strcmp(cfg->profiles[k].name, f->profile) == 0) f->resolved = &cfg->profiles[k];
    if (f->resolved == NULL) return alec_pc_fail(&e, "FPort", "%d: no <Profile \"%s\"> is defined", f->port, f->profile);
    const alec_pc_stream *s = &f->resolved->s;
    if (s->format == 0)
      return alec_pc_fail(&e, "FPort", "%d: <Profile \"%s\"> needs a Format (uplinks do not say their family)", f->port,
                          f->profile);
    if (s->format == ALEC_FORMAT_FIXED && s->channels == 0)
      return alec_pc_fail(&e, "FPort", "%d: <Profile \"%s\"> needs Channels (fixed frames do not say their channel count)",
                          f->port, f->profile);
  }
  if (m->group_from[0]) {
    if (alec_ns_group_from_valid(m->group_from) != 0)
      return alec_pc_fail(&e, "GroupFrom", "\"%s\": expects \"tag:<key>\", \"application\" or \"device-profile\"",
                          m->group_from);
    if (cfg->max_groups == 0) cfg->max_groups = 1024;
  }
  if (m->password[0] && m->user[0] == '\0') return alec_pc_fail(&e, "Password", "needs User");
  if ((m->client_cert[0] != '\0') != (m->client_key[0] != '\0'))
    return alec_pc_fail(&e, m->client_cert[0] ? "ClientCert" : "ClientKey", "ClientCert and ClientKey go together");
  if (m->client_cert[0] && m->ca_cert[0] == '\0') return alec_pc_fail(&e, "ClientCert", "needs CACert (TLS)");
  if (m->client_id[0] == '\0') {
    /* Stable across restarts: with CleanSession false the broker keeps the
     * session (and the uplinks meanwhile) under this id. */
    char host[256];
    if (gethostname(host, sizeof host) != 0) strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(m->client_id, sizeof m->client_id, "collectd-alec-%.100s-%.120s", host, m->name);
  }
  return 0;
}

/* The TLV fallback feeds one observation per channel in channel order, so
 * every channel 0..Channels-1 needs exactly one TLV item. */
static int check_fallback(alec_pc_err *e, alec_pc_profile *p) {
  if (p->fallback == ALEC_PC_FALLBACK_NONE) {
    if (p->n_tlv) return alec_pc_fail(e, "TLV", "needs Fallback \"milesight-tlv\"");
    return 0;
  }
  alec_pc_stream *s = &p->s;
  if (s->format == 0) s->format = ALEC_FORMAT_FIXED;
  if (s->format != ALEC_FORMAT_FIXED)
    return alec_pc_fail(e, "Fallback", "applies to Format \"fixed\" only (the reference feeds fixed-frame channels)");
  if (s->channels == 0) return alec_pc_fail(e, "Fallback", "needs Channels (one TLV item per channel)");
  if (s->channels > ALEC_PC_MAX_FALLBACK_CHANNELS)
    return alec_pc_fail(e, "Fallback", "supports up to %d channels, not %u", ALEC_PC_MAX_FALLBACK_CHANNELS, s->channels);
  uint64_t seen = 0;
  for (size_t i = 0; i < p->n_tlv; i++) {
    if (p->tlv[i].channel >= s->channels)
      return alec_pc_fail(e, "TLV", "channel %u is outside the %u channels", p->tlv[i].channel, s->channels);
    if (seen & (UINT64_C(1) << p->tlv[i].channel))
      return alec_pc_fail(e, "TLV", "channel %u is mapped twice", p->tlv[i].channel);
    seen |= UINT64_C(1) << p->tlv[i].channel;
    for (size_t k = 0; k < i; k++)
      if (p->tlv[k].id == p->tlv[i].id && p->tlv[k].type == p->tlv[i].type)
        return alec_pc_fail(e, "TLV", "item 0x%02x is mapped twice", p->tlv[i].id);
  }
  for (unsigned c = 0; c < s->channels; c++)
    if (!(seen & (UINT64_C(1) << c)))
      return alec_pc_fail(e, "TLV", "channel %u has no TLV item (every channel needs one)", c);
  return 0;
}

int alec_pc_finalize(alec_plugin_config *cfg, alec_pc_type_check_fn check, void *arg, char *err, size_t errlen) {
  alec_pc_err top = {err, errlen, ""};
  if (err && errlen) err[0] = '\0';
  int rc;
  /* With broker transports only, no UDP socket is opened unless a Listen asks. */
  if (cfg->n_listen == 0 && cfg->n_mqtt == 0 && cfg->n_amqp == 0) {
    strcpy(cfg->listen[0].node, ALEC_PC_DEFAULT_NODE);
    strcpy(cfg->listen[0].service, ALEC_PC_DEFAULT_PORT);
    cfg->n_listen = 1;
  }
  if (cfg->queue_length == 0) cfg->queue_length = 65536;
  if (cfg->unknown_max_channels == 0) cfg->unknown_max_channels = 16;
  if (cfg->max_new_identifiers == 0) cfg->max_new_identifiers = 1000;
  if (cfg->max_score_values == 0) cfg->max_score_values = 20000;
  if (!ALEC_PC_GIVEN(cfg, TimestampTolerance)) {
    cfg->time_past = 600;
    cfg->time_future = 5;
  }
  /* A socket others can reach takes only the configured fleet unless the
   * operator said otherwise: one datagram of an unknown id must not be able
   * to create emitters and identifiers on a public port by default. */
  cfg->unknown_defaulted = 0;
  if (!ALEC_PC_GIVEN(cfg, UnknownEmitters) && !cfg->reject_unknown) {
    for (size_t i = 0; i < cfg->n_listen; i++)
      if (!alec_pc_is_loopback(cfg->listen[i].node)) {
        cfg->reject_unknown = 1;
        cfg->unknown_defaulted = 1;
      }
  }
  if (cfg->max_emitters == 0) cfg->max_emitters = 10000;
  if (cfg->emitter_timeout == 0) cfg->emitter_timeout = ALEC_FLEET_DEFAULT_EMITTER_TIMEOUT;
  const alec_pc_fleet *f = &cfg->fleet;
  alec_pc_err fe = {err, errlen, " in <Fleet>"};
  if ((f->set & ALEC_PC_F_THRESHOLD) && (f->set & ALEC_PC_F_EXIT_THRESHOLD) && f->exit_threshold >= f->threshold)
    return alec_pc_fail(&fe, "ExitThreshold", "%g is not below Threshold %g (the exit band must lie inside)", f->exit_threshold,
                f->threshold);
  if ((f->set & ALEC_PC_F_THRESHOLD) && (f->set & ALEC_PC_F_FAILURE_THRESHOLD) && f->failure_threshold <= f->threshold)
    return alec_pc_fail(&fe, "FailureThreshold", "%g is not above Threshold %g", f->failure_threshold, f->threshold);

  if (check) {
    /* Channels without a Channel line use the default type. */
    int ds_type;
    int nds = check(arg, ALEC_PC_DEFAULT_TYPE, &ds_type);
    if (nds != 1) return alec_pc_fail(&top, "Channel", "the default type \"" ALEC_PC_DEFAULT_TYPE "\" is missing from types.db");
  }
  for (size_t i = 0; i < cfg->n_profiles; i++) {
    char where[ALEC_PC_NAME_LEN + 32];
    snprintf(where, sizeof where, " in <Profile \"%s\">", cfg->profiles[i].name);
    alec_pc_err e = {err, errlen, where};
    alec_pc_stream *s = &cfg->profiles[i].s;
    if ((rc = check_fallback(&e, &cfg->profiles[i])) || (rc = check_stream(&e, s)) ||
        (rc = check_map(&e, &s->map, s, check, arg)))
      return rc;
  }
  if (cfg->n_emitters > 1) qsort(cfg->emitters, cfg->n_emitters, sizeof(*cfg->emitters), cmp_emitter);
  cfg->n_sources = 0;
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    alec_pc_emitter *em = &cfg->emitters[i];
    char where[64];
    snprintf(where, sizeof where, " in <Emitter %" PRIu64 ">", em->id);
    alec_pc_err e = {err, errlen, where};
    alec_pc_stream *p = NULL;
    em->prof = NULL;
    if (em->profile[0]) {
      for (size_t k = 0; k < cfg->n_profiles; k++)
        if (strcmp(cfg->profiles[k].name, em->profile) == 0) {
          p = &cfg->profiles[k].s;
          em->prof = &cfg->profiles[k];
        }
      if (p == NULL) return alec_pc_fail(&e, "Profile", "no <Profile \"%s\"> is defined", em->profile);
    }
    if ((rc = alec_pc_emitter_resolve(em, em->prof))) return rc;
    alec_pc_stream eff = em->own;
    eff.format = em->format;
    eff.channels = em->channels;
    if ((rc = check_stream(&e, &eff))) return rc;
    if (em->format == ALEC_FORMAT_FIXED && em->channels == 0 && em->has_source)
      return alec_pc_fail(&e, "Channels", "is required: bare fixed frames (Source) do not say their channel count");
    if (em->has_source && em->format == 0)
      return alec_pc_fail(&e, "Format", "is required with Source: bare frames do not say their family");
    if ((rc = check_map(&e, em->map, &eff, check, arg))) return rc;
    if (em->has_source) {
      for (size_t k = 0; k < i; k++)
        if (cfg->emitters[k].has_source && same_source(&cfg->emitters[k], em))
          return alec_pc_fail(&e, "Source", "the same source is already given to <Emitter %" PRIu64 ">", cfg->emitters[k].id);
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
      alec_pc_err e = {err, errlen, where};
      return alec_pc_fail(&e, "Scale", "%" PRIu32 " differs from Scale %" PRIu32 " given elsewhere; all emitters share one scale",
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
      alec_pc_err e = {err, errlen, where};
      return alec_pc_fail(&e, "SecurityLevel", "Sign cannot apply to bare frames from a Source (they carry no signature)");
    }
  }
  for (size_t i = 0; i < cfg->n_mqtt; i++)
    if ((rc = finalize_mqtt(cfg, &cfg->mqtt[i], err, errlen, &need_keys))) return rc;
  if ((rc = alec_pc_amqp_finalize(cfg, err, errlen))) return rc;
  if (need_keys && cfg->auth_file[0] == '\0')
    return alec_pc_fail(&top, "SecurityLevel", "Sign needs an AuthFile with the keys of the emitters");
  if (cfg->n_emitters > cfg->max_emitters)
    return alec_pc_fail(&top, "MaxEmitters", "%zu is below the %zu configured <Emitter> blocks", cfg->max_emitters,
                cfg->n_emitters);
  cfg->finalized = 1;
  return 0;
}

int alec_pc_is_loopback(const char *node) {
  if (strcasecmp(node, "localhost") == 0) return 1;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, node, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, node, &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return 1;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
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
  alec_pc_normalize_addr(sa, len, &n, &nl);
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

void alec_pc_map_sort(alec_pc_chanmap *m) {
  if (m->n > 1) qsort(m->ch, m->n, sizeof(*m->ch), cmp_channel);
}
