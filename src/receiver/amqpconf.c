/* SPDX-License-Identifier: MIT */
/* <AMQP> blocks: defaults and checks (amqpconf.h). */
#include "amqpconf.h"

#include <stdio.h>
#include <string.h>

#include "alec/error.h"
#include "nsevent.h"

void alec_pc_amqp_defaults(alec_pc_amqp *a, const char *name) {
  memset(a, 0, sizeof(*a));
  snprintf(a->name, sizeof a->name, "%s", name);
  strcpy(a->host, "localhost");
  a->port = 0; /* finalize: 5672, or 5671 with TLS */
  strcpy(a->vhost, "/");
  strcpy(a->user, "guest");
  strcpy(a->password, "guest");
  a->prefetch = 256;
  a->heartbeat = 30;
  a->dialect = ALEC_NS_CHIRPSTACK;
  a->downlinks = 1;
  /* ChirpStack's AMQP integration publishes events to and takes commands
   * from amq.topic. */
  strcpy(a->downlink_exchange, "amq.topic");
  a->downlink_budget = 10;
  a->downlink_interval = 600;
  a->downlink_fport = -1;
  a->max_message_size = 4096;
}

const alec_pc_profile *alec_pc_amqp_fport(const void *block, int port) {
  const alec_pc_amqp *a = block;
  for (size_t i = 0; i < a->n_fports; i++)
    if (a->fports[i].port == port) return a->fports[i].resolved;
  return NULL;
}

static int finalize_one(alec_plugin_config *cfg, alec_pc_amqp *a, char *err, size_t errlen) {
  char where[ALEC_PC_NAME_LEN + 32];
  snprintf(where, sizeof where, " in <AMQP \"%s\">", a->name);
  alec_pc_err e = {err, errlen, where};
  for (size_t k = 0; k < cfg->n_amqp && &cfg->amqp[k] != a; k++)
    if (strcmp(cfg->amqp[k].name, a->name) == 0) {
      alec_pc_err top = {err, errlen, ""};
      return alec_pc_fail(&top, "AMQP", "block \"%s\" is defined twice", a->name);
    }
  if (a->dialect != ALEC_NS_CHIRPSTACK && a->dialect != ALEC_NS_TTS)
    return alec_pc_fail(&e, "Dialect", "must be \"chirpstack\" or \"tts\"");
  if (a->queue[0] == '\0') return alec_pc_fail(&e, "Queue", "is required (the queue this receiver consumes)");
  if (a->n_fports == 0)
    return alec_pc_fail(&e, "FPort", "is required: map the uplink FPort(s) to a <Profile> (FPort 85 \"em500\")");
  for (size_t i = 0; i < a->n_fports; i++) {
    alec_pc_fport *f = &a->fports[i];
    for (size_t k = 0; k < i; k++)
      if (a->fports[k].port == f->port) return alec_pc_fail(&e, "FPort", "%d is mapped twice", f->port);
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
  if (a->group_from[0]) {
    if (alec_ns_group_from_valid(a->group_from) != 0)
      return alec_pc_fail(&e, "GroupFrom", "\"%s\": expects \"tag:<key>\", \"application\" or \"device-profile\"",
                          a->group_from);
    if (cfg->max_groups == 0) cfg->max_groups = 1024;
  }
  if ((a->client_cert[0] != '\0') != (a->client_key[0] != '\0'))
    return alec_pc_fail(&e, a->client_cert[0] ? "ClientCert" : "ClientKey", "ClientCert and ClientKey go together");
  if (a->client_cert[0] && a->ca_cert[0] == '\0') return alec_pc_fail(&e, "ClientCert", "needs CACert (TLS)");
  if (a->port == 0) a->port = a->ca_cert[0] ? 5671 : 5672;
  return 0;
}

int alec_pc_amqp_finalize(alec_plugin_config *cfg, char *err, size_t errlen) {
  for (size_t i = 0; i < cfg->n_amqp; i++) {
    int rc = finalize_one(cfg, &cfg->amqp[i], err, errlen);
    if (rc) return rc;
  }
  return 0;
}
