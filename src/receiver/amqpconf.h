/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_AMQPCONF_H
#define ALEC_RECEIVER_AMQPCONF_H

/* <AMQP "name"> (amqp_transport.h): one consumer of a RabbitMQ queue that carries a
 * LoRaWAN network server's uplink events (ChirpStack v4's AMQP
 * integration, or TTS / ChirpStack MQTT through RabbitMQ's MQTT plugin),
 * usually one shard of a consistent-hash exchange (docs/SCALING.md).
 *
 * The options are ONE table, ALEC_PC_AMQP_OPTIONS: the parser
 * (src/plugin/alec_conf.c), the defaults and checks here and the man page
 * follow it. The names are the <MQTT> block's for the same things. */

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ALEC_PC_MAX_AMQP 16
#define ALEC_PC_AMQP_MAX_FPORTS 64

/* X(Name, kind, field, lo, hi, repeatable), the kinds of ALEC_PC_MQTT_OPTIONS
 * (config.h). Defaults: alec_pc_amqp_defaults; meanings: collectd-alec(5). */
#define ALEC_PC_AMQP_OPTIONS(X)                                                \
  X(Host, ALEC_PC_K_STRING, host, 1, 255, 0)                                   \
  X(Port, ALEC_PC_K_INT, port, 1, 65535, 0)                                    \
  X(VHost, ALEC_PC_K_STRING, vhost, 1, 255, 0)                                 \
  X(User, ALEC_PC_K_STRING, user, 1, 255, 0)                                   \
  X(Password, ALEC_PC_K_STRING, password, 0, 255, 0)                           \
  X(CACert, ALEC_PC_K_STRING, ca_cert, 1, 1023, 0)                             \
  X(ClientCert, ALEC_PC_K_STRING, client_cert, 1, 1023, 0)                     \
  X(ClientKey, ALEC_PC_K_STRING, client_key, 1, 1023, 0)                       \
  X(Queue, ALEC_PC_K_STRING, queue, 1, 255, 0)                                 \
  X(Prefetch, ALEC_PC_K_INT, prefetch, 1, 65535, 0)                            \
  X(Heartbeat, ALEC_PC_K_INT, heartbeat, 0, 3600, 0)                           \
  X(Dialect, ALEC_PC_K_DIALECT, dialect, 0, 0, 0)                              \
  X(FPort, ALEC_PC_K_FPORT, fports, 1, 223, 1)                                 \
  X(GroupFrom, ALEC_PC_K_GROUPFROM, group_from, 1, 127, 0)                     \
  X(Downlinks, ALEC_PC_K_BOOL, downlinks, 0, 1, 0)                             \
  X(DownlinkExchange, ALEC_PC_K_STRING, downlink_exchange, 1, 255, 0)          \
  X(DownlinkBudget, ALEC_PC_K_INT, downlink_budget, 0, 100000, 0)              \
  X(DownlinkInterval, ALEC_PC_K_DOUBLE, downlink_interval, 0, 86400, 0)        \
  X(DownlinkFPort, ALEC_PC_K_INT, downlink_fport, 1, 223, 0)                   \
  X(MaxMessageSize, ALEC_PC_K_INT, max_message_size, 64, 65536, 0)

typedef struct alec_pc_amqp {
  char name[ALEC_PC_NAME_LEN];
  char host[256];
  int port;
  char vhost[256];
  char user[256];
  char password[256];
  char ca_cert[ALEC_PC_PATH_LEN], client_cert[ALEC_PC_PATH_LEN], client_key[ALEC_PC_PATH_LEN];
  char queue[256];
  int prefetch;
  int heartbeat;
  int dialect; /* enum alec_ns_dialect */
  alec_pc_fport fports[ALEC_PC_AMQP_MAX_FPORTS];
  size_t n_fports;
  char group_from[128];
  int downlinks;
  char downlink_exchange[256];
  int downlink_budget;
  double downlink_interval;
  int downlink_fport; /* -1: the uplink's */
  int max_message_size;
  uint64_t seen; /* parser: options given, one bit per table row */
} alec_pc_amqp;

/* An <AMQP> block with every default (name copied). */
void alec_pc_amqp_defaults(alec_pc_amqp *a, const char *name);
/* Resolves FPort profiles and checks a block; called by alec_pc_finalize.
 * 0 or ALEC_EINVAL with the message in err. */
int alec_pc_amqp_finalize(alec_plugin_config *cfg, char *err, size_t errlen);
/* The profile an FPort maps to, or NULL (alec_ns_source.profile). */
const struct alec_pc_profile *alec_pc_amqp_fport(const void *block, int port);

#endif
