/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_CONFIG_H
#define ALEC_RECEIVER_CONFIG_H

/* Configuration of the receiver (listeners, emitters, profiles, fleet,
 * security, state), as plain structs: defaults, resolution of profiles and
 * validation. No collectd header: the plugin glue (src/plugin/alec_conf.c)
 * fills it from collectd's oconfig tree, other front ends (tests, the
 * replay tool) fill it themselves. Channel types are checked against
 * types.db through a callback. Internal: the alec_pc_ prefix marks it,
 * nothing here is part of libalec. */

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "alec/fleet.h"
#include "alec/frame.h"

#define ALEC_PC_NAME_LEN 128 /* collectd's DATA_MAX_NAME_LEN */
#define ALEC_PC_GROUP_LEN 64 /* the fleet module's ALEC_FLEET_GROUP_MAX + 1 */
#define ALEC_PC_MAX_LISTEN 16
#define ALEC_PC_MAX_CHANNELS 256 /* Channel lines per profile or emitter */
#define ALEC_PC_DEFAULT_NODE "127.0.0.1"
#define ALEC_PC_DEFAULT_PORT "25830"
#define ALEC_PC_DEFAULT_TYPE "gauge"
#define ALEC_PC_ERR_LEN 512

typedef struct alec_pc_channel {
  uint32_t id; /* source_id (single), name_id (multi), channel index (fixed) */
  char type[ALEC_PC_NAME_LEN];
  char type_instance[ALEC_PC_NAME_LEN];
  int ds_type; /* collectd DS_TYPE_* filled by the type check, -1 before */
  /* Multiply M Add A: the value dispatched is raw * M + A (registers to
   * physical units), on every path; has_conv = 0: the value as decoded. */
  int has_conv;
  double multiply, add;
} alec_pc_channel;

typedef struct alec_pc_chanmap {
  alec_pc_channel *ch; /* sorted by id, ids unique */
  size_t n;
} alec_pc_chanmap;

/* Options a <Profile> and an <Emitter> share; zero / has_* = 0 means unset. */
typedef struct alec_pc_stream {
  alec_format format;
  unsigned channels;
  uint32_t scale;
  int has_group;
  char group[ALEC_PC_GROUP_LEN];
  alec_pc_chanmap map;
} alec_pc_stream;

/* Fallback "milesight-tlv" (reference 1.3.10 Option C): a payload that is
 * not an ALEC frame is a Milesight TLV frame; TLV lines map its items to
 * ALEC channels. The firmware feeds its encoder integer registers (the
 * TLV raw values), which the receiver uses to stay exact (docs/PROTOCOL.md,
 * deviations). */
enum { ALEC_PC_FALLBACK_NONE = 0, ALEC_PC_FALLBACK_MILESIGHT_TLV = 1 };
/* LossRecovery: what happens to ALEC-decoded values that a lost uplink
 * made uncertain until the receiver is exact again: held back (default) or
 * dispatched marked as estimates. */
enum { ALEC_PC_LOSS_HOLD = 0, ALEC_PC_LOSS_ESTIMATE = 1 };
#define ALEC_PC_MAX_TLV 16
#define ALEC_PC_MAX_FALLBACK_CHANNELS 16 /* lossrec.h ALEC_LR_MAX_CHANNELS */

typedef struct alec_pc_tlv {
  uint8_t id, type; /* the item (alec_tlv_item) */
  uint8_t channel;  /* ALEC channel index */
} alec_pc_tlv;

/* <Profile> and <Emitter> options are ONE table each, X(Name, kind, field,
 * lo, hi, repeatable) in the shape of ALEC_PC_MQTT_OPTIONS: the parser
 * (alec_conf.c), the EmitterFile (emfile.c: its Host, Group and Profile
 * fields are these rows) and the man page follow them; finalize checks only
 * what involves several options. The shared rows name the stream member m
 * ("s" in a profile, "own" in an emitter). Ranges: Channels is the fixed
 * format's limit, Channel the id of any format (finalize narrows it to the
 * format), TLV the ALEC channel, Source the port. */
#define ALEC_PC_STREAM_OPTIONS(X, m)                                        \
  X(Format, ALEC_PC_K_FORMAT, m.format, 0, 0, 0)                            \
  X(Channels, ALEC_PC_K_INT, m.channels, 1, ALEC_FIXED_MAX_CHANNELS, 0)     \
  X(Scale, ALEC_PC_K_INT, m.scale, 1, UINT32_MAX, 0)                        \
  X(Group, ALEC_PC_K_NAME, m.group, 0, ALEC_PC_GROUP_LEN - 1, 0)            \
  X(Channel, ALEC_PC_K_CHANNEL, m.map, 0, UINT32_MAX, 1)

/* The keywords after the names of a Channel line, rows into
 * alec_pc_channel: finite numbers; Multiply 0 is refused besides (every
 * value would be the same). */
#define ALEC_PC_CHANNEL_KEYWORDS(X)                                         \
  X(Multiply, ALEC_PC_K_DOUBLE, multiply, -DBL_MAX, DBL_MAX, 0)             \
  X(Add, ALEC_PC_K_DOUBLE, add, -DBL_MAX, DBL_MAX, 0)

#define ALEC_PC_PROFILE_OPTIONS(X)                                          \
  ALEC_PC_STREAM_OPTIONS(X, s)                                              \
  X(Fallback, ALEC_PC_K_FALLBACK, fallback, 0, 0, 0)                        \
  X(TLV, ALEC_PC_K_TLV, tlv, 0, ALEC_FIXED_MAX_CHANNELS - 1, 1)             \
  X(LossRecovery, ALEC_PC_K_LOSS, loss_recovery, 0, 0, 0)

#define ALEC_PC_EMITTER_OPTIONS(X)                                          \
  ALEC_PC_STREAM_OPTIONS(X, own)                                            \
  X(Profile, ALEC_PC_K_NAME, profile, 1, ALEC_PC_NAME_LEN - 1, 0)           \
  X(Host, ALEC_PC_K_NAME, host, 1, ALEC_PC_NAME_LEN - 1, 0)                 \
  X(SecurityLevel, ALEC_PC_K_SECURITY, security, 0, 0, 0)                   \
  X(Source, ALEC_PC_K_SOURCE, source, 1, 65535, 0)

typedef struct alec_pc_profile {
  char name[ALEC_PC_NAME_LEN];
  alec_pc_stream s;
  int fallback;      /* ALEC_PC_FALLBACK_* */
  int loss_recovery; /* ALEC_PC_LOSS_* */
  alec_pc_tlv tlv[ALEC_PC_MAX_TLV];
  size_t n_tlv;
  uint64_t seen; /* parser: options given, one bit per ALEC_PC_PROFILE_OPTIONS row */
} alec_pc_profile;

/* SecurityLevel (docs/SECURITY.md): unset inherits (Emitter: the
 * listening socket's level; Listen: the plugin-wide SecurityLevel). */
enum { ALEC_PC_SCORES_ANOMALOUS = 0, ALEC_PC_SCORES_ALL = 1, ALEC_PC_SCORES_NONE = 2 };
enum { ALEC_PC_SEC_UNSET = 0, ALEC_PC_SEC_NONE = 1, ALEC_PC_SEC_SIGN = 2 };
#define ALEC_PC_PATH_LEN 1024

typedef struct alec_pc_emitter {
  uint64_t id;
  int security; /* ALEC_PC_SEC_*: unset = the listening socket's level */
  char host[ALEC_PC_NAME_LEN]; /* resolved: configured or "alec-<16 hex>" */
  char profile[ALEC_PC_NAME_LEN];
  alec_pc_stream own;
  int has_source;
  int source_any_port;
  struct sockaddr_storage source; /* IPv4-mapped IPv6 stored as IPv4 */
  socklen_t source_len;
  /* Resolved by alec_pc_finalize(): own options over the profile's. */
  alec_format format; /* 0: the envelope says */
  unsigned channels;  /* fixed only; 0: the envelope says */
  uint32_t scale;     /* 0: library default */
  char group[ALEC_PC_GROUP_LEN];
  alec_pc_chanmap *map; /* own, the profile's or merged */
  alec_pc_chanmap merged; /* owned when own and profile channels mix */
  const alec_pc_profile *prof; /* its Profile, NULL: none (finalize) */
  uint64_t seen; /* parser: options given, one bit per ALEC_PC_EMITTER_OPTIONS row */
} alec_pc_emitter;

/* Own options over the profile's (prof may be NULL), as finalize resolves
 * an <Emitter> and the EmitterFile a line: format, channels, scale, group,
 * the default host and the channel map (the profile's, the own, or both
 * merged into em->merged). 0 or ALEC_ENOMEM. */
int alec_pc_emitter_resolve(alec_pc_emitter *em, const alec_pc_profile *prof);

/* <Fleet> options: X(Name, kind, field, lo, hi, repeatable), the shape of
 * ALEC_PC_MQTT_OPTIONS. Ranges are the fleet module's (alec_fleet_config_check)
 * where it has a constant, so the parser refuses what init would refuse. */
#define ALEC_PC_FLEET_OPTIONS(X)                                                   \
  X(Threshold, ALEC_PC_K_DOUBLE_GT, threshold, 0, 1e6, 0)                          \
  X(ExitThreshold, ALEC_PC_K_DOUBLE_GT, exit_threshold, 0, 1e6, 0)                 \
  X(FailureThreshold, ALEC_PC_K_DOUBLE_GT, failure_threshold, 0, 1e6, 0)           \
  X(EnterCount, ALEC_PC_K_INT, enter_count, 1, ALEC_FLEET_DWELL_LIMIT, 0)          \
  X(ExitCount, ALEC_PC_K_INT, exit_count, 1, ALEC_FLEET_DWELL_LIMIT, 0)            \
  X(MinPeers, ALEC_PC_K_INT, min_peers, 3, ALEC_FLEET_MAX_EMITTERS_LIMIT, 0)       \
  X(EvaluationInterval, ALEC_PC_K_DOUBLE, evaluation_interval, 0.001, 86400, 0)    \
  X(SyncInterval, ALEC_PC_K_DOUBLE, sync_interval, 0.001, 86400 * 365.0, 0)        \
  X(MADFloor, ALEC_PC_K_DOUBLE_GT, mad_floor, 0, 1e12, 0)                          \
  X(StalePeriods, ALEC_PC_K_DOUBLE, stale_periods, 0, 1e6, 0)                      \
  X(SilentFraction, ALEC_PC_K_DOUBLE, silent_fraction, 0, 1, 0)                    \
  X(ShiftAlpha, ALEC_PC_K_DOUBLE_GT, shift_alpha, 0, 1, 0)                         \
  X(RenotifyInterval, ALEC_PC_K_DOUBLE, renotify_interval, 0, 1e7, 0)

/* Bit k of alec_pc_fleet.set is row k of the table: the parser's "given
 * twice" mask and the "override the default" mask are one. */
enum {
#define ALEC_PC_FLEET_INDEX_(n, k, f, lo, hi, rep) ALEC_PC_FI_##f,
  ALEC_PC_FLEET_OPTIONS(ALEC_PC_FLEET_INDEX_)
#undef ALEC_PC_FLEET_INDEX_
  ALEC_PC_FI_COUNT
};
enum {
  ALEC_PC_F_THRESHOLD = 1u << ALEC_PC_FI_threshold,
  ALEC_PC_F_EXIT_THRESHOLD = 1u << ALEC_PC_FI_exit_threshold,
  ALEC_PC_F_FAILURE_THRESHOLD = 1u << ALEC_PC_FI_failure_threshold,
  ALEC_PC_F_ENTER_COUNT = 1u << ALEC_PC_FI_enter_count,
  ALEC_PC_F_EXIT_COUNT = 1u << ALEC_PC_FI_exit_count,
  ALEC_PC_F_MIN_PEERS = 1u << ALEC_PC_FI_min_peers,
  ALEC_PC_F_EVALUATION_INTERVAL = 1u << ALEC_PC_FI_evaluation_interval,
  ALEC_PC_F_SYNC_INTERVAL = 1u << ALEC_PC_FI_sync_interval,
  ALEC_PC_F_MAD_FLOOR = 1u << ALEC_PC_FI_mad_floor,
  ALEC_PC_F_STALE_PERIODS = 1u << ALEC_PC_FI_stale_periods,
  ALEC_PC_F_SILENT_FRACTION = 1u << ALEC_PC_FI_silent_fraction,
  ALEC_PC_F_SHIFT_ALPHA = 1u << ALEC_PC_FI_shift_alpha,
  ALEC_PC_F_RENOTIFY_INTERVAL = 1u << ALEC_PC_FI_renotify_interval
};

/* <Fleet> options; only those whose bit is in `set` override the fleet
 * module's defaults. */
typedef struct alec_pc_fleet {
  unsigned set;
  double threshold, exit_threshold, failure_threshold;
  unsigned enter_count, exit_count, min_peers;
  double evaluation_interval, sync_interval, mad_floor;
  double stale_periods, silent_fraction, shift_alpha;
  double renotify_interval; /* s; 0 (default): active alerts are not sent again */
} alec_pc_fleet;

typedef struct alec_pc_listen {
  char node[256];
  char service[32];
  int security; /* ALEC_PC_SEC_NONE or _SIGN after finalize */
} alec_pc_listen;

#define ALEC_PC_DASHBOARD_PORT "25831"

/* <Dashboard>: the read-only HTTP dashboard (dashboard.h), off unless the
 * block is present; then bound to ALEC_PC_DEFAULT_NODE (loopback) unless
 * Listen says otherwise. */
typedef struct alec_pc_dashboard {
  int enabled;
  alec_pc_listen listen;   /* "127.0.0.1" "25831" */
  unsigned history;        /* History: points per charted channel, 300; 0..100000 */
  double history_interval; /* HistoryInterval: s per point, 1; [0.1, 86400] */
} alec_pc_dashboard;

/* <Dashboard> options, the shape of ALEC_PC_MQTT_OPTIONS. */
#define ALEC_PC_DASHBOARD_OPTIONS(X)                                \
  X(Listen, ALEC_PC_K_SPECIAL, listen, 0, 0, 0)                     \
  X(History, ALEC_PC_K_INT, history, 0, 100000, 0)                  \
  X(HistoryInterval, ALEC_PC_K_DOUBLE, history_interval, 0.1, 86400, 0)

/* <MQTT "name"> (mqtt.h): one broker connection of a LoRaWAN network
 * server (ChirpStack v4, The Things Stack v3) or of custom gateways (raw).
 * Its options are ONE table, ALEC_PC_MQTT_OPTIONS: the parser
 * (alec_conf.c), the checks of finalize and the man page follow it. */
#define ALEC_PC_MAX_MQTT 16
#define ALEC_PC_MQTT_MAX_TOPICS 16
#define ALEC_PC_MQTT_MAX_FPORTS 64
#define ALEC_PC_MQTT_TOPIC_LEN 256

typedef struct alec_pc_fport {
  int port;                             /* 1..223 */
  char profile[ALEC_PC_NAME_LEN];       /* a <Profile> name */
  const struct alec_pc_profile *resolved; /* by finalize */
} alec_pc_fport;

/* Option kinds of the table: STRING (char array), INT, BOOL, DOUBLE, and
 * the kinds with their own syntax (TOPIC, FPORT, DIALECT, GROUPFROM,
 * SECURITY). */
enum {
  ALEC_PC_K_STRING = 1,
  ALEC_PC_K_INT,
  ALEC_PC_K_BOOL,
  ALEC_PC_K_DOUBLE,
  ALEC_PC_K_TOPIC,
  ALEC_PC_K_FPORT,
  ALEC_PC_K_DIALECT,
  ALEC_PC_K_GROUPFROM,
  ALEC_PC_K_SECURITY,
  ALEC_PC_K_DOUBLE_GT, /* DOUBLE with lo excluded */
  ALEC_PC_K_BOOL_NOT,  /* BOOL stored negated */
  ALEC_PC_K_SPECIAL,   /* own syntax, parsed by the block's code; lo, hi unused */
  ALEC_PC_K_NAME,      /* a part of collectd identifiers: lo..hi characters (alec_pc_name_check) */
  ALEC_PC_K_FORMAT,    /* "single" | "single-xxh32" | "multi" | "fixed" (alec_format) */
  ALEC_PC_K_CHANNEL,   /* <id> ["type" ["type_instance"]] [Multiply M] [Add A]; lo..hi: the id */
  ALEC_PC_K_FALLBACK,  /* "milesight-tlv" | "none" */
  ALEC_PC_K_LOSS,      /* "hold" | "estimate" */
  ALEC_PC_K_TLV,       /* <item> <channel>; lo..hi: the channel */
  ALEC_PC_K_SOURCE,    /* "address" [port]; lo..hi: the port */
  ALEC_PC_K_UNKNOWN,   /* "accept" | "reject" (int: reject) */
  ALEC_PC_K_SCORES,    /* "anomalous" | "all" | "none" (ALEC_PC_SCORES_*) */
  ALEC_PC_K_PRIORITY,  /* "P1" .. "P5" | "off" (int: -1 off, else 0 .. 4) */
  ALEC_PC_K_RATE,      /* <rate> [<burst>]: two doubles from field; rate in (0, hi], burst in [1, hi] */
  ALEC_PC_K_TOLERANCE  /* <past> <future>: two doubles from field, each in lo..hi */
};

/* One row of an option table, as the parser and the EmitterFile read it:
 * kind says how to read the value, lo..hi its range (STRING and NAME: the
 * length), off/size where it goes in the block's struct. */
typedef struct alec_pc_opt {
  const char *name;
  int kind;
  size_t off, size;
  double lo, hi;
  int repeat;
} alec_pc_opt;

#define ALEC_PC_ROW(T, n, k, f, lo, hi, rep) {#n, k, offsetof(T, f), sizeof(((T *)0)->f), lo, hi, rep},

extern const alec_pc_opt alec_pc_profile_opts[];
extern const size_t alec_pc_n_profile_opts;
extern const alec_pc_opt alec_pc_emitter_opts[];
extern const size_t alec_pc_n_emitter_opts;
/* The row called name (case-insensitive), or NULL. */
const alec_pc_opt *alec_pc_opt_find(const alec_pc_opt *t, size_t n, const char *name);

/* The rules of a name that ends up in collectd identifiers and logs (Host,
 * Group, Profile, types): lo..hi characters, no '/' (it separates the
 * identifier's parts), no control character. */
enum { ALEC_PC_NAME_OK = 0, ALEC_PC_NAME_EMPTY, ALEC_PC_NAME_LONG, ALEC_PC_NAME_SLASH, ALEC_PC_NAME_CONTROL };
int alec_pc_name_check(const char *s, size_t lo, size_t hi);
/* "must not be empty", ... for a code of alec_pc_name_check. */
const char *alec_pc_name_why(int code);

/* X(Name, kind, field, lo, hi, repeatable): lo..hi is the range of INT and
 * DOUBLE, the length of STRING (lo: shortest). */
#define ALEC_PC_MQTT_OPTIONS(X)                                      \
  X(Host, ALEC_PC_K_STRING, host, 1, 255, 0)                         \
  X(Port, ALEC_PC_K_INT, port, 1, 65535, 0)                          \
  X(ClientId, ALEC_PC_K_STRING, client_id, 1, 255, 0)                \
  X(User, ALEC_PC_K_STRING, user, 1, 255, 0)                         \
  X(Password, ALEC_PC_K_STRING, password, 0, 255, 0)                 \
  X(CACert, ALEC_PC_K_STRING, ca_cert, 1, 1023, 0)                   \
  X(ClientCert, ALEC_PC_K_STRING, client_cert, 1, 1023, 0)           \
  X(ClientKey, ALEC_PC_K_STRING, client_key, 1, 1023, 0)             \
  X(QoS, ALEC_PC_K_INT, qos, 0, 2, 0)                                \
  X(CleanSession, ALEC_PC_K_BOOL, clean_session, 0, 1, 0)            \
  X(KeepAlive, ALEC_PC_K_INT, keepalive, 5, 65535, 0)                \
  X(Topic, ALEC_PC_K_TOPIC, topics, 1, 255, 1)                       \
  X(Dialect, ALEC_PC_K_DIALECT, dialect, 0, 0, 0)                    \
  X(EmitterLevel, ALEC_PC_K_INT, emitter_level, 0, 63, 0)            \
  X(FPort, ALEC_PC_K_FPORT, fports, 1, 223, 1)                       \
  X(GroupFrom, ALEC_PC_K_GROUPFROM, group_from, 1, 127, 0)           \
  X(SecurityLevel, ALEC_PC_K_SECURITY, security, 0, 0, 0)            \
  X(Downlinks, ALEC_PC_K_BOOL, downlinks, 0, 1, 0)                   \
  X(DownlinkBudget, ALEC_PC_K_INT, downlink_budget, 0, 100000, 0)    \
  X(DownlinkInterval, ALEC_PC_K_DOUBLE, downlink_interval, 0, 86400, 0) \
  X(DownlinkFPort, ALEC_PC_K_INT, downlink_fport, 1, 223, 0)         \
  X(MaxMessageSize, ALEC_PC_K_INT, max_message_size, 64, 65536, 0)

typedef struct alec_pc_mqtt {
  char name[ALEC_PC_NAME_LEN];
  char host[256];
  int port;             /* 1883 */
  char client_id[256];  /* "collectd-alec-<hostname>-<name>" */
  char user[256];
  char password[256];
  char ca_cert[ALEC_PC_PATH_LEN], client_cert[ALEC_PC_PATH_LEN], client_key[ALEC_PC_PATH_LEN];
  int qos;              /* 1 */
  int clean_session;    /* false: the broker keeps what arrives while collectd restarts */
  int keepalive;        /* 60 s */
  char topics[ALEC_PC_MQTT_MAX_TOPICS][ALEC_PC_MQTT_TOPIC_LEN]; /* default: the dialect's */
  size_t n_topics;
  int dialect;          /* enum alec_ns_dialect (nsevent.h) */
  int emitter_level;    /* raw: topic level (0 = first) of the emitter id, -1: envelopes */
  alec_pc_fport fports[ALEC_PC_MQTT_MAX_FPORTS];
  size_t n_fports;
  char group_from[128]; /* "" none */
  int security;         /* ALEC_PC_SEC_*: None unless given */
  int downlinks;        /* true */
  int downlink_budget;  /* per device and day, 10; 0 unlimited */
  double downlink_interval; /* 600 s */
  int downlink_fport;   /* -1: the uplink's */
  int max_message_size; /* 4096 bytes */
  uint64_t seen;        /* options given (parser), one bit per table row */
} alec_pc_mqtt;

/* An <MQTT> block with every default (name copied). */
void alec_pc_mqtt_defaults(alec_pc_mqtt *m, const char *name);
/* The profile FPort `port` maps to, or NULL. */
const struct alec_pc_profile *alec_pc_mqtt_fport(const alec_pc_mqtt *m, int port);

/* Top-level single-valued options of <Plugin alec>, the shape of
 * ALEC_PC_MQTT_OPTIONS; a bit of seen_options per row (ALEC_PC_GIVEN).
 * The blocks (Listen, Profile, Emitter, MQTT, AMQP, Fleet, Dashboard) are
 * parsed by their own code, each with its own table; Dashboard is a row
 * too, so that a second block is refused like a second option. */
#define ALEC_PC_OPTIONS(X)                                                             \
  X(SecurityLevel, ALEC_PC_K_SECURITY, security, 0, 0, 0)                              \
  X(AuthFile, ALEC_PC_K_STRING, auth_file, 1, ALEC_PC_PATH_LEN - 1, 0)                 \
  X(AuthFileStrictModes, ALEC_PC_K_BOOL_NOT, auth_lax_modes, 0, 1, 0)                  \
  X(EmitterFile, ALEC_PC_K_STRING, emitter_file, 1, ALEC_PC_PATH_LEN - 1, 0)           \
  X(RateLimit, ALEC_PC_K_RATE, rate_limit, 0, 1e9, 0)                                  \
  X(ReceiveBufferSize, ALEC_PC_K_INT, receive_buffer, 0, 1u << 30, 0)                  \
  X(QueueLength, ALEC_PC_K_INT, queue_length, 1, 1u << 24, 0)                          \
  X(MaxEmitters, ALEC_PC_K_INT, max_emitters, 1, ALEC_FLEET_MAX_EMITTERS_LIMIT, 0)     \
  X(EmitterTimeout, ALEC_PC_K_DOUBLE_GT, emitter_timeout, 0, 86400.0 * 365, 0)         \
  X(UnknownEmitters, ALEC_PC_K_UNKNOWN, reject_unknown, 0, 0, 0)                       \
  X(UnknownMaxChannels, ALEC_PC_K_INT, unknown_max_channels, 1, ALEC_FLEET_MAX_CHANNELS_LIMIT, 0) \
  X(MaxNewIdentifiers, ALEC_PC_K_DOUBLE, max_new_identifiers, 1, 1e7, 0)               \
  X(MaxScoreValues, ALEC_PC_K_INT, max_score_values, 1, 100000000, 0)                  \
  X(UnknownScores, ALEC_PC_K_SCORES, unknown_scores, 0, 0, 0)                          \
  X(NotifyPriority, ALEC_PC_K_PRIORITY, notify_priority, 0, 0, 0)                      \
  X(StateFile, ALEC_PC_K_STRING, state_file, 1, ALEC_PC_PATH_LEN - 1, 0)               \
  X(TimestampTolerance, ALEC_PC_K_TOLERANCE, time_past, 0, 86400.0 * 7, 0)                  \
  X(ReceiverId, ALEC_PC_K_STRING, receiver_id, 1, ALEC_PC_NAME_LEN - 1, 0)             \
  X(StateInterval, ALEC_PC_K_DOUBLE, state_interval, 0, 86400.0 * 7, 0)                \
  X(ResyncRequests, ALEC_PC_K_BOOL, resync_requests, 0, 1, 0)                          \
  X(ResyncInterval, ALEC_PC_K_DOUBLE, resync_interval, 0, 86400, 0)                    \
  X(SpoolLimit, ALEC_PC_K_INT, spool_limit, 0, 1000000, 0)                             \
  X(Dashboard, ALEC_PC_K_SPECIAL, dashboard, 0, 0, 0)

/* Row k of ALEC_PC_OPTIONS is bit k of seen_options. */
enum {
#define ALEC_PC_TOP_INDEX_(n, k, f, lo, hi, rep) ALEC_PC_TI_##n,
  ALEC_PC_OPTIONS(ALEC_PC_TOP_INDEX_)
#undef ALEC_PC_TOP_INDEX_
  ALEC_PC_TI_COUNT
};
/* The top-level option Name was given (by the parser). */
#define ALEC_PC_GIVEN(cfg, Name) ((((cfg)->seen_options) >> ALEC_PC_TI_##Name) & 1u)

typedef struct alec_plugin_config {
  alec_pc_listen listen[ALEC_PC_MAX_LISTEN];
  size_t n_listen;
  int receive_buffer; /* bytes, 0: kernel default */
  size_t queue_length;
  size_t max_emitters;
  double emitter_timeout; /* seconds */
  int reject_unknown;
  /* Amplification bounds (docs/SECURITY.md, "Bounded resources"): what an
   * unknown emitter can make the receiver dispatch and remember. */
  int unknown_defaulted;          /* finalize chose "reject" for a non-loopback Listen */
  unsigned unknown_max_channels;  /* UnknownMaxChannels, 16; 1..256 */
  double max_new_identifiers;     /* MaxNewIdentifiers per second (burst: one second), 1000 */
  int unknown_scores;             /* UnknownScores: ALEC_PC_SCORES_* */
  size_t max_score_values;        /* MaxScoreValues per read interval, 20000 */
  /* TimestampTolerance: a claimed value time (legacy header, network
   * server) further than this from the receive time is replaced by it. */
  double time_past, time_future; /* seconds, 600 and 5; adjacent (ALEC_PC_K_TOLERANCE) */
  int notify_priority; /* -1: off, else 0 (P1) .. 4 (P5): notify frames at least this urgent */
  int security;                    /* plugin-wide SecurityLevel, the default of Listen */
  char auth_file[ALEC_PC_PATH_LEN]; /* AuthFile, "" if none */
  int auth_lax_modes;               /* AuthFileStrictModes false: accept a key file others may write */
  char emitter_file[ALEC_PC_PATH_LEN]; /* EmitterFile (emfile.h), "" if none */
  size_t n_sign_emitters;          /* emitters with SecurityLevel Sign (finalize) */
  double rate_limit, rate_burst;   /* RateLimit frames/s and burst; 0: off; adjacent (ALEC_PC_K_RATE) */
  /* Restarts and resynchronisation (state.c, resync.c). */
  char state_file[ALEC_PC_PATH_LEN]; /* StateFile, "" if none */
  char receiver_id[ALEC_PC_NAME_LEN]; /* ReceiverId: binds the state file; the plugin's default: Hostname */
  double state_interval;             /* StateInterval seconds, 0: only at shutdown */
  size_t spool_limit;                /* SpoolLimit: messages spooled at shutdown (spool.h), 0: none */
  int resync_requests;               /* ResyncRequests (default true) */
  double resync_interval;            /* ResyncInterval seconds per emitter */
  size_t max_groups;                 /* MaxGroups: peer groups from metadata (MQTT GroupFrom) */
  alec_pc_fleet fleet;
  alec_pc_dashboard dashboard;
  alec_pc_mqtt *mqtt; /* <MQTT> blocks */
  size_t n_mqtt;
  struct alec_pc_amqp *amqp; /* <AMQP> blocks (amqpconf.h) */
  size_t n_amqp;
  alec_pc_profile *profiles;
  size_t n_profiles;
  alec_pc_emitter *emitters; /* sorted by id after finalize */
  size_t n_emitters;
  size_t n_sources; /* emitters with a Source */
  /* The one Scale of every profile and emitter (0: library default). The
   * fleet module gives all emitters one decoder configuration, so differing
   * Scale values are refused. */
  uint32_t scale;
  int finalized;
  uint32_t seen_options; /* single-valued options already given (alec_conf.c) */
} alec_plugin_config;

/* Returns the number of data sources of a collectd type and the type of the
 * first in *ds_type, or -1 if the type is unknown. */
typedef int (*alec_pc_type_check_fn)(void *arg, const char *type, int *ds_type);

void alec_pc_init(alec_plugin_config *cfg);
void alec_pc_free(alec_plugin_config *cfg);

/* Applies defaults, resolves profiles, checks cross-option rules and, if
 * check is not NULL, every channel type (must exist with one data source).
 * 0 or ALEC_EINVAL / ALEC_ENOMEM with a message in err. */
int alec_pc_finalize(alec_plugin_config *cfg, alec_pc_type_check_fn check, void *arg, char *err,
                     size_t errlen);

const alec_pc_emitter *alec_pc_find_emitter(const alec_plugin_config *cfg, uint64_t id);
/* The emitter whose Source matches a datagram's sender (exact port first,
 * then an address-only Source), or NULL. */
const alec_pc_emitter *alec_pc_find_source(const alec_plugin_config *cfg, const struct sockaddr *sa,
                                           socklen_t len);
/* 1 when a Listen node is a loopback address (127/8, ::1, localhost). */
int alec_pc_is_loopback(const char *node);
const alec_pc_channel *alec_pc_channel_find(const alec_pc_chanmap *map, uint32_t id);
/* raw * Multiply + Add of the channel's line, raw without one. */
double alec_pc_convert(const alec_pc_chanmap *map, uint32_t id, double raw);

/* Error text of the parser and of finalize: "option `X' in <Block>: ..." */
typedef struct alec_pc_err {
  char *buf;
  size_t len;
  const char *where; /* "" or " in <Profile \"x\">" */
} alec_pc_err;
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int alec_pc_fail(alec_pc_err *e, const char *option, const char *fmt, ...);
void alec_pc_map_free(alec_pc_chanmap *m);
void alec_pc_map_sort(alec_pc_chanmap *m);
/* IPv4-mapped IPv6 addresses as IPv4, so a Source matches either form. */
void alec_pc_normalize_addr(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out, socklen_t *outlen);

/* "alec-%016" PRIx64: the host name of an emitter without Host option. */
void alec_pc_default_host(uint64_t id, char *out, size_t cap);
/* Parses an emitter id: decimal or 0x-hex, 64 bit, nothing else. */
int alec_pc_parse_id(const char *s, uint64_t *out);

#endif
