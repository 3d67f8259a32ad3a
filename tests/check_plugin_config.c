/* SPDX-License-Identifier: MIT */
/* The collectd plugin's configuration parser (src/plugin/alec_conf.c) and the
 * receiver's validation (src/receiver/config.c), without the daemon. Config trees
 * are built from text by tests/oconfig_util.c. */

#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alec/error.h"
#include "alec/fleet.h"
#include "alec_conf.h"
#include "oconfig_util.h"

/* types.db stand-in: a few stock single-DS types, one with two. */
static int types(void *arg, const char *type, int *ds_type) {
  (void)arg;
  static const char *known[] = {"gauge", "temperature", "humidity", "count", "voltage"};
  *ds_type = 1; /* DS_TYPE_GAUGE */
  if (strcmp(type, "derive") == 0) {
    *ds_type = 2;
    return 1;
  }
  if (strcmp(type, "load") == 0) return 3;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(type, known[i]) == 0) return 1;
  return -1;
}

/* Parses and finalizes; returns the status and leaves the message in err. */
static int load(alec_plugin_config *cfg, const char *text, char *err, size_t errlen) {
  return alec_test_pc_load(cfg, text, types, err, errlen);
}

static const char *EXAMPLE = "Listen \"127.0.0.1\" \"25830\"\n"
                             "ReceiveBufferSize 4194304\n"
                             "QueueLength 65536\n"
                             "MaxEmitters 10000\n"
                             "EmitterTimeout 3600\n"
                             "UnknownEmitters \"accept\"\n"
                             "NotifyPriority \"P1\"\n"
                             "<Fleet>\n"
                             "  Threshold 3.5\n"
                             "  ExitThreshold 2.5\n"
                             "  FailureThreshold 7.0\n"
                             "  EnterCount 3\n"
                             "  ExitCount 5\n"
                             "  MinPeers 3\n"
                             "  EvaluationInterval 0.1\n"
                             "  SyncInterval 60\n"
                             "  MADFloor 0.01\n"
                             "</Fleet>\n"
                             "<Profile \"thermo\">\n"
                             "  Format \"fixed\"\n"
                             "  Channels 2\n"
                             "  Scale 100\n"
                             "  Group \"site-a\"\n"
                             "  Channel 0 \"temperature\" \"indoor\"\n"
                             "  Channel 1 \"humidity\" \"indoor\"\n"
                             "</Profile>\n"
                             "<Emitter 5>\n"
                             "  Profile \"thermo\"\n"
                             "  Host \"sensor-5\"\n"
                             "  Group \"site-a\"\n"
                             "</Emitter>\n"
                             "<Emitter 100>\n"
                             "  Source \"127.0.0.1\" \"25840\"\n"
                             "  Format \"single\"\n"
                             "</Emitter>\n";

/* The options of issue 10: stale emitters, silent groups, the shift
 * baseline and re-notification. */
START_TEST(fleet_lifecycle_options) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(load(&cfg,
                     "<Fleet>\n StalePeriods 4\n SilentFraction 0.3\n ShiftAlpha 0.1\n"
                     " RenotifyInterval 300\n</Fleet>\n",
                     err, sizeof err) == 0,
                "%s", err);
  ck_assert_uint_eq(cfg.fleet.set, ALEC_PC_F_STALE_PERIODS | ALEC_PC_F_SILENT_FRACTION | ALEC_PC_F_SHIFT_ALPHA |
                                       ALEC_PC_F_RENOTIFY_INTERVAL);
  ck_assert(cfg.fleet.stale_periods == 4 && cfg.fleet.silent_fraction == 0.3 && cfg.fleet.shift_alpha == 0.1);
  ck_assert(cfg.fleet.renotify_interval == 300);
  alec_pc_free(&cfg);
  /* 0 turns stale and silent notifications off. */
  ck_assert_msg(load(&cfg, "<Fleet>\n StalePeriods 0\n SilentFraction 0\n</Fleet>\n", err, sizeof err) == 0, "%s",
                err);
  ck_assert(cfg.fleet.stale_periods == 0 && cfg.fleet.silent_fraction == 0);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(example_config) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(load(&cfg, EXAMPLE, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(cfg.n_listen, 1);
  ck_assert_str_eq(cfg.listen[0].node, "127.0.0.1");
  ck_assert_str_eq(cfg.listen[0].service, "25830");
  ck_assert_int_eq(cfg.receive_buffer, 4194304);
  ck_assert_uint_eq(cfg.queue_length, 65536);
  ck_assert_uint_eq(cfg.max_emitters, 10000);
  ck_assert(cfg.emitter_timeout == ALEC_FLEET_DEFAULT_EMITTER_TIMEOUT);
  ck_assert_int_eq(cfg.reject_unknown, 0);
  ck_assert_int_eq(cfg.notify_priority, 0);
  ck_assert_uint_eq(cfg.fleet.set, 0x1FF);
  ck_assert(cfg.fleet.threshold == 3.5 && cfg.fleet.exit_threshold == 2.5 && cfg.fleet.failure_threshold == 7.0);
  ck_assert_uint_eq(cfg.fleet.enter_count, 3);
  ck_assert_uint_eq(cfg.fleet.exit_count, 5);
  ck_assert_uint_eq(cfg.fleet.min_peers, 3);
  ck_assert(cfg.fleet.evaluation_interval == 0.1 && cfg.fleet.sync_interval == 60 && cfg.fleet.mad_floor == 0.01);
  ck_assert_uint_eq(cfg.scale, 100);
  ck_assert_uint_eq(cfg.n_emitters, 2);
  ck_assert_uint_eq(cfg.n_sources, 1);

  const alec_pc_emitter *e5 = alec_pc_find_emitter(&cfg, 5);
  ck_assert_ptr_nonnull(e5);
  ck_assert_str_eq(e5->host, "sensor-5");
  ck_assert_str_eq(e5->group, "site-a");
  ck_assert_int_eq(e5->format, ALEC_FORMAT_FIXED);
  ck_assert_uint_eq(e5->channels, 2);
  ck_assert_uint_eq(e5->scale, 100);
  ck_assert_uint_eq(e5->map->n, 2);
  const alec_pc_channel *c = alec_pc_channel_find(e5->map, 1);
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->type, "humidity");
  ck_assert_str_eq(c->type_instance, "indoor");
  ck_assert_int_eq(c->ds_type, 1);
  ck_assert_ptr_null(alec_pc_channel_find(e5->map, 2));

  const alec_pc_emitter *e100 = alec_pc_find_emitter(&cfg, 100);
  ck_assert_ptr_nonnull(e100);
  ck_assert_str_eq(e100->host, "alec-0000000000000064");
  ck_assert_str_eq(e100->group, "");
  ck_assert_int_eq(e100->format, ALEC_FORMAT_SINGLE);
  ck_assert_uint_eq(e100->map->n, 0);
  ck_assert_ptr_null(alec_pc_find_emitter(&cfg, 6));

  struct sockaddr_in s4 = {0};
  s4.sin_family = AF_INET;
  s4.sin_port = htons(25840);
  inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
  ck_assert_ptr_eq(alec_pc_find_source(&cfg, (struct sockaddr *)&s4, sizeof s4), e100);
  s4.sin_port = htons(25841);
  ck_assert_ptr_null(alec_pc_find_source(&cfg, (struct sockaddr *)&s4, sizeof s4));
  /* A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d. */
  struct sockaddr_in6 s6 = {0};
  s6.sin6_family = AF_INET6;
  s6.sin6_port = htons(25840);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
  ck_assert_ptr_eq(alec_pc_find_source(&cfg, (struct sockaddr *)&s6, sizeof s6), e100);
  inet_pton(AF_INET6, "::1", &s6.sin6_addr);
  ck_assert_ptr_null(alec_pc_find_source(&cfg, (struct sockaddr *)&s6, sizeof s6));
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(defaults) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(load(&cfg, "", err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(cfg.n_listen, 1);
  ck_assert_str_eq(cfg.listen[0].node, "127.0.0.1");
  ck_assert_str_eq(cfg.listen[0].service, "25830");
  ck_assert_int_eq(cfg.receive_buffer, 0);
  ck_assert_uint_eq(cfg.queue_length, 65536);
  ck_assert_uint_eq(cfg.max_emitters, 10000);
  ck_assert(cfg.emitter_timeout == ALEC_FLEET_DEFAULT_EMITTER_TIMEOUT);
  ck_assert_int_eq(cfg.reject_unknown, 0);
  ck_assert_int_eq(cfg.notify_priority, -1);
  ck_assert_uint_eq(cfg.fleet.set, 0);
  ck_assert_uint_eq(cfg.scale, 0);
  alec_pc_free(&cfg);
  /* A Listen without port, IPv6, several lines, a numeric port. */
  ck_assert_msg(load(&cfg, "Listen \"::1\"\nListen \"0.0.0.0\" 25831\nUnknownEmitters \"reject\"\nNotifyPriority \"P2\"",
                     err, sizeof err) == 0,
                "%s", err);
  ck_assert_uint_eq(cfg.n_listen, 2);
  ck_assert_str_eq(cfg.listen[0].service, "25830");
  ck_assert_str_eq(cfg.listen[1].service, "25831");
  ck_assert_int_eq(cfg.reject_unknown, 1);
  ck_assert_int_eq(cfg.notify_priority, 1);
  alec_pc_free(&cfg);
  /* The table's two-number and keyword kinds, case-insensitive keywords. */
  ck_assert_msg(load(&cfg, "RateLimit 0.5\nTimestampTolerance 30 2\nUnknownScores \"ALL\"\nNotifyPriority \"p3\"", err,
                     sizeof err) == 0,
                "%s", err);
  ck_assert(cfg.rate_limit == 0.5 && cfg.rate_burst == 1.0);
  ck_assert(cfg.time_past == 30 && cfg.time_future == 2);
  ck_assert_int_eq(cfg.unknown_scores, ALEC_PC_SCORES_ALL);
  ck_assert_int_eq(cfg.notify_priority, 2);
  alec_pc_free(&cfg);
  ck_assert_msg(load(&cfg, "RateLimit 200\nNotifyPriority \"off\"\nUnknownEmitters \"accept\"\nListen \"0.0.0.0\"", err,
                     sizeof err) == 0,
                "%s", err);
  ck_assert(cfg.rate_limit == 200 && cfg.rate_burst == 200);
  ck_assert(cfg.time_past == 600 && cfg.time_future == 5); /* the default */
  ck_assert_int_eq(cfg.notify_priority, -1);
  ck_assert_int_eq(cfg.reject_unknown, 0); /* given: no safe default over it */
  ck_assert_int_eq(cfg.unknown_defaulted, 0);
  alec_pc_free(&cfg);
}
END_TEST

/* Issue 13 finding 2: the amplification bounds and the safe default of a
 * listener others can reach. */
START_TEST(amplification_bounds) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(load(&cfg, "", err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(cfg.unknown_max_channels, 16);
  ck_assert(cfg.max_new_identifiers == 1000);
  ck_assert_uint_eq(cfg.max_score_values, 20000);
  ck_assert_int_eq(cfg.unknown_scores, ALEC_PC_SCORES_ANOMALOUS);
  ck_assert_int_eq(cfg.reject_unknown, 0);
  alec_pc_free(&cfg);
  static const struct {
    const char *text;
    int reject;
  } cases[] = {
      {"Listen \"0.0.0.0\"", 1},
      {"Listen \"127.0.0.1\"\nListen \"::\" 25831", 1},
      {"Listen \"192.0.2.1\"", 1},
      {"Listen \"127.1.2.3\"\nListen \"::1\" 25831\nListen \"localhost\" 25832", 0},
      {"Listen \"::ffff:127.0.0.1\"", 0},
      {"Listen \"0.0.0.0\"\nUnknownEmitters \"accept\"", 0},
      {"UnknownEmitters \"accept\"\nListen \"0.0.0.0\"", 0},
      {"Listen \"0.0.0.0\"\nUnknownEmitters \"reject\"", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ck_assert_msg(load(&cfg, cases[i].text, err, sizeof err) == 0, "%s: %s", cases[i].text, err);
    ck_assert_msg(cfg.reject_unknown == cases[i].reject, "%s: reject_unknown %d", cases[i].text, cfg.reject_unknown);
    alec_pc_free(&cfg);
  }
  ck_assert_msg(load(&cfg, "UnknownMaxChannels 4\nMaxNewIdentifiers 50\nMaxScoreValues 10\nUnknownScores \"all\"",
                     err, sizeof err) == 0,
                "%s", err);
  ck_assert_uint_eq(cfg.unknown_max_channels, 4);
  ck_assert(cfg.max_new_identifiers == 50);
  ck_assert_uint_eq(cfg.max_score_values, 10);
  ck_assert_int_eq(cfg.unknown_scores, ALEC_PC_SCORES_ALL);
  alec_pc_free(&cfg);
  static const char *const bad[] = {"UnknownMaxChannels 0", "UnknownMaxChannels 257", "MaxNewIdentifiers 0",
                                    "UnknownScores \"some\"", "MaxScoreValues 0",
                                    "UnknownMaxChannels 4\nUnknownMaxChannels 5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(load(&cfg, bad[i], err, sizeof err) != 0, "accepted: %s", bad[i]);
    alec_pc_free(&cfg);
  }
}
END_TEST

START_TEST(emitter_overrides) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  const char *text = "<Profile \"p\">\n Format \"multi\"\n Group \"g1\"\n Channel 0 \"temperature\" \"a\"\n"
                     " Channel 1 \"humidity\"\n Channel 7\n</Profile>\n"
                     "<Emitter \"0xFFFFFFFFFFFFFFFF\">\n Profile \"p\"\n Group \"g2\"\n Channel 1 \"voltage\" \"v\"\n"
                     " Channel 2 \"count\" \"\"\n</Emitter>\n"
                     "<Emitter 0x10>\n Profile \"p\"\n Format \"single\"\n</Emitter>\n"
                     "<Emitter \"18446744073709551614\">\n</Emitter>\n";
  ck_assert_msg(load(&cfg, text, err, sizeof err) == 0, "%s", err);
  const alec_pc_emitter *e = alec_pc_find_emitter(&cfg, UINT64_MAX);
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->host, "alec-ffffffffffffffff");
  ck_assert_str_eq(e->group, "g2");
  ck_assert_int_eq(e->format, ALEC_FORMAT_MULTI);
  ck_assert_uint_eq(e->map->n, 4); /* 0 and 7 from the profile, 1 replaced, 2 added */
  ck_assert_str_eq(alec_pc_channel_find(e->map, 0)->type, "temperature");
  ck_assert_str_eq(alec_pc_channel_find(e->map, 1)->type, "voltage");
  ck_assert_str_eq(alec_pc_channel_find(e->map, 1)->type_instance, "v");
  ck_assert_str_eq(alec_pc_channel_find(e->map, 2)->type_instance, "");
  ck_assert_str_eq(alec_pc_channel_find(e->map, 7)->type, "gauge");
  ck_assert_str_eq(alec_pc_channel_find(e->map, 7)->type_instance, "ch7");
  e = alec_pc_find_emitter(&cfg, 16);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(e->format, ALEC_FORMAT_SINGLE);
  ck_assert_str_eq(e->group, "g1");
  ck_assert_uint_eq(e->map->n, 3);
  ck_assert_str_eq(alec_pc_channel_find(e->map, 1)->type_instance, "ch1");
  e = alec_pc_find_emitter(&cfg, UINT64_MAX - 1);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(e->format, 0);
  alec_pc_free(&cfg);
}
END_TEST

/* Every rejected configuration names the option (and its block). */
static const struct {
  const char *text;
  const char *expect;
} bad[] = {
    {"Foo 1", "option `Foo': unknown option"},
    {"Listen", "option `Listen': expects 1 to 2 arguments"},
    {"Listen \"a\" \"b\" \"c\"", "option `Listen': expects 1 to 2 arguments"},
    {"Listen 127", "option `Listen': argument 1 must be a quoted string"},
    {"Listen \"127.0.0.1\" 70000", "option `Listen': expects an integer in 1..65535"},
    {"Listen \"127.0.0.1\" \"70000\"", "option `Listen': expects an integer in 1..65535, got \"70000\""},
    {"Listen \"127.0.0.1\" \"0\"", "option `Listen': expects an integer in 1..65535"},
    {"ReceiveBufferSize -1", "option `ReceiveBufferSize'"},
    {"QueueLength 0", "option `QueueLength': expects an integer in 1..16777216, got 0"},
    {"QueueLength 1.5", "option `QueueLength'"},
    {"QueueLength \"many\"", "option `QueueLength'"},
    {"QueueLength true", "option `QueueLength'"},
    {"MaxEmitters 0", "option `MaxEmitters'"},
    {"EmitterTimeout 0", "option `EmitterTimeout'"},
    {"EmitterTimeout \"5\"", "option `EmitterTimeout': expects a number"},
    {"UnknownEmitters \"maybe\"", "option `UnknownEmitters': expects \"accept\" or \"reject\", got \"maybe\""},
    {"NotifyPriority \"P6\"", "option `NotifyPriority': expects \"P1\" .. \"P5\" or \"off\", got \"P6\""},
    {"NotifyPriority 1", "option `NotifyPriority': expects \"P1\" .. \"P5\" or \"off\""},
    {"UnknownScores \"some\"", "option `UnknownScores': expects \"anomalous\", \"all\" or \"none\", got \"some\""},
    {"UnknownScores \"all\"\nUnknownScores \"none\"", "option `UnknownScores': given twice"},
    {"RateLimit 0", "option `RateLimit': expects a rate in (0, 1e+09] frames/s"},
    {"RateLimit 10 0.5", "option `RateLimit': expects a rate in (0, 1e+09] frames/s and a burst in [1, 1e+09] frames, got 10 0.5"},
    {"RateLimit \"10\"", "option `RateLimit': expects <frames per second> [<burst>], numbers"},
    {"RateLimit 10 20 30", "option `RateLimit': expects 1 to 2 arguments"},
    {"RateLimit 10\nRateLimit 20", "option `RateLimit': given twice"},
    {"TimestampTolerance 60", "option `TimestampTolerance': expects 2 arguments"},
    {"TimestampTolerance 60 700000", "option `TimestampTolerance': expects <past seconds> <future seconds>, numbers in 0..604800"},
    {"TimestampTolerance -1 5", "option `TimestampTolerance': expects <past seconds> <future seconds>, numbers in 0..604800"},
    {"TimestampTolerance 60 true", "option `TimestampTolerance': expects <past seconds> <future seconds>, numbers"},
    {"<Dashboard>\n</Dashboard>\n<Dashboard>\n</Dashboard>", "option `Dashboard': given twice"},
    {"<Fleet>\nThreshold 0\n</Fleet>", "option `Threshold' in <Fleet>"},
    {"<Fleet>\nThreshold nan\n</Fleet>", "option `Threshold' in <Fleet>"},
    {"<Fleet>\nExitThreshold 4\nThreshold 3.5\n</Fleet>", "option `ExitThreshold' in <Fleet>: 4 is not below Threshold 3.5"},
    {"<Fleet>\nExitThreshold 3.5\nThreshold 3.5\n</Fleet>", "option `ExitThreshold' in <Fleet>: 3.5 is not below"},
    {"<Fleet>\nFailureThreshold 3\nThreshold 3.5\n</Fleet>", "option `FailureThreshold' in <Fleet>"},
    {"<Fleet>\nEnterCount 0\n</Fleet>", "option `EnterCount' in <Fleet>"},
    {"<Fleet>\nExitCount 2.5\n</Fleet>", "option `ExitCount' in <Fleet>"},
    {"<Fleet>\nMinPeers 2\n</Fleet>", "option `MinPeers' in <Fleet>"},
    {"<Fleet>\nEvaluationInterval 0\n</Fleet>", "option `EvaluationInterval' in <Fleet>"},
    {"<Fleet>\nSyncInterval -1\n</Fleet>", "option `SyncInterval' in <Fleet>"},
    {"<Fleet>\nMADFloor 0\n</Fleet>", "option `MADFloor' in <Fleet>"},
    {"<Fleet>\nStalePeriods 0.5\n</Fleet>", "option `StalePeriods' in <Fleet>: must be 0 (off) or at least 1"},
    {"<Fleet>\nStalePeriods -1\n</Fleet>", "option `StalePeriods' in <Fleet>"},
    {"<Fleet>\nSilentFraction 1.5\n</Fleet>", "option `SilentFraction' in <Fleet>"},
    {"<Fleet>\nShiftAlpha 0\n</Fleet>", "option `ShiftAlpha' in <Fleet>"},
    {"<Fleet>\nRenotifyInterval -5\n</Fleet>", "option `RenotifyInterval' in <Fleet>"},
    {"<Fleet>\nRenotifyInterval 60\nRenotifyInterval 60\n</Fleet>", "option `RenotifyInterval' in <Fleet>: given twice"},
    {"<Fleet>\nThreshold\n</Fleet>", "option `Threshold' in <Fleet>: expects 1 argument"},
    {"<Fleet>\nBogus 1\n</Fleet>", "option `Bogus' in <Fleet>: unknown option"},
    {"<Fleet 1>\n</Fleet>", "option `Fleet': takes no argument"},
    {"<Profile>\n</Profile>", "option `Profile': expects 1 argument"},
    {"<Profile \"a\">\n</Profile>\n<Profile \"a\">\n</Profile>", "option `Profile': profile \"a\" is defined twice"},
    {"<Profile \"a\">\nFormat \"fixd\"\n</Profile>", "option `Format' in <Profile \"a\">: unknown format \"fixd\""},
    {"<Profile \"a\">\nChannels 65\n</Profile>", "option `Channels' in <Profile \"a\">"},
    {"<Profile \"a\">\nChannels 0\n</Profile>", "option `Channels' in <Profile \"a\">"},
    {"<Profile \"a\">\nScale 0\n</Profile>", "option `Scale' in <Profile \"a\">"},
    {"<Profile \"a\">\nScale 4294967296\n</Profile>", "option `Scale' in <Profile \"a\">"},
    {"<Profile \"a\">\nGroup \"x/y\"\n</Profile>", "option `Group' in <Profile \"a\">: \"x/y\" must not contain '/'"},
    {"<Profile \"a\">\nGroup \"0123456789012345678901234567890123456789012345678901234567890123\"\n</Profile>",
     "option `Group' in <Profile \"a\">: \"0123456789012345678901234567890123456789012345678901234567890123\" is "
     "longer than 63 characters"},
    {"<Profile \"a\">\nChannel 0\nChannel 0\n</Profile>", "option `Channel' in <Profile \"a\">: channel 0 is defined twice"},
    {"<Profile \"a\">\nChannel \"x\"\n</Profile>", "option `Channel' in <Profile \"a\">"},
    {"<Profile \"a\">\nChannel -1\n</Profile>", "option `Channel' in <Profile \"a\">"},
    {"<Profile \"a\">\nChannel 0 \"temp/x\"\n</Profile>", "must not contain '/'"},
    {"<Profile \"a\">\nChannel 0 \"temp-x\"\n</Profile>", "option `Channel' in <Profile \"a\">: type \"temp-x\" must not contain '-'"},
    {"<Profile \"a\">\nChannel 0 \"\"\n</Profile>", "option `Channel' in <Profile \"a\">: argument 2 must not be empty"},
    {"<Profile \"a\">\nChannel 0 \"temperature\" \"x\" \"y\"\n</Profile>", "option `Channel' in <Profile \"a\">"},
    {"<Profile \"a\">\nProfile \"b\"\n</Profile>", "option `Profile' in <Profile \"a\">: unknown option"},
    {"<Profile \"a\">\nChannel 0 \"tempreature\"\n</Profile>",
     "option `Channel' in <Profile \"a\">: unknown type \"tempreature\" (not in any TypesDB file)"},
    {"<Profile \"a\">\nChannel 0 \"load\"\n</Profile>", "type \"load\" has 3 data sources"},
    {"<Profile \"a\">\nFormat \"single\"\nChannels 2\n</Profile>", "option `Channels' in <Profile \"a\">: applies to Format \"fixed\" only"},
    {"<Profile \"a\">\nFormat \"fixed\"\nChannels 2\nChannel 2\n</Profile>",
     "option `Channel' in <Profile \"a\">: index 2 is outside the 2 channels"},
    {"<Profile \"a\">\nFormat \"multi\"\nChannel 256\n</Profile>", "option `Channel' in <Profile \"a\">: index 256 is above 255"},
    {"<Profile \"a\">\nScale 10\n</Profile>\n<Emitter 1>\nScale 100\n</Emitter>", "option `Scale' in <Emitter 1>: 100 differs"},
    {"<Emitter>\n</Emitter>", "option `Emitter': expects 1 argument"},
    {"<Emitter -1>\n</Emitter>", "option `Emitter': id -1 is not an integer"},
    {"<Emitter 1.5>\n</Emitter>", "option `Emitter': id 1.5 is not an integer"},
    {"<Emitter 1e17>\n</Emitter>", "quote larger ids"},
    {"<Emitter \"abc\">\n</Emitter>", "option `Emitter': id \"abc\" is not a 64-bit integer"},
    {"<Emitter true>\n</Emitter>", "option `Emitter': id must be a 64-bit integer"},
    {"<Emitter \"18446744073709551616\">\n</Emitter>", "is not a 64-bit integer"},
    {"<Emitter \"-1\">\n</Emitter>", "option `Emitter': id \"-1\" is not"},
    {"<Emitter 7>\n</Emitter>\n<Emitter \"0x7\">\n</Emitter>", "option `Emitter': emitter 7 is defined twice"},
    {"<Emitter 7>\nHost \"a/b\"\n</Emitter>", "option `Host' in <Emitter 7>"},
    {"<Emitter 7>\nHost\n</Emitter>", "option `Host' in <Emitter 7>"},
    {"<Emitter 7>\nProfile \"nope\"\n</Emitter>", "option `Profile' in <Emitter 7>: no <Profile \"nope\"> is defined"},
    {"<Emitter 7>\nSource \"localhost\"\nFormat \"single\"\n</Emitter>",
     "option `Source' in <Emitter 7>: \"localhost\" is not a numeric IPv4 or IPv6 address"},
    {"<Emitter 7>\nSource \"127.0.0.1\" 0\nFormat \"single\"\n</Emitter>", "option `Source' in <Emitter 7>"},
    {"<Emitter 7>\nSource \"127.0.0.1\"\n</Emitter>", "option `Format' in <Emitter 7>: is required with Source"},
    {"<Emitter 7>\nSource \"::1\" 9\nFormat \"fixed\"\n</Emitter>", "option `Channels' in <Emitter 7>: is required"},
    {"<Emitter 7>\nSource \"127.0.0.1\" 9\nFormat \"single\"\n</Emitter>\n<Emitter 8>\nSource \"127.0.0.1\" 9\n"
     "Format \"multi\"\n</Emitter>",
     "option `Source' in <Emitter 8>: the same source is already given to <Emitter 7>"},
    {"<Emitter 7>\nWhat 1\n</Emitter>", "option `What' in <Emitter 7>: unknown option"},
    {"MaxEmitters 1\n<Emitter 1>\n</Emitter>\n<Emitter 2>\n</Emitter>", "option `MaxEmitters': 1 is below the 2"},
    /* A repeated single-valued option would silently win. */
    {"MaxEmitters 10\nMaxEmitters 20", "option `MaxEmitters': given twice"},
    {"<Dashboard>\n</Dashboard>\n<Dashboard>\n</Dashboard>", "option `Dashboard': given twice"},
    {"<Dashboard>\nHistory 10\nHistory 20\n</Dashboard>", "option `History' in <Dashboard>: given twice"},
    {"<Fleet>\nThreshold 4\n</Fleet>\n<Fleet>\nThreshold 5\n</Fleet>", "option `Threshold' in <Fleet>: given twice"},
    {"StateFile \"/a\"\nStateFile \"/b\"", "option `StateFile': given twice"},
    /* The fleet's own limit, not a wider one the fleet refuses at init. */
    {"<Fleet>\nEnterCount 20000\n</Fleet>", "option `EnterCount' in <Fleet>: expects an integer in 1..10000"},
    /* LoRaWAN profiles (TLV fallback, conversions). */
    {"<Profile \"m\">\nFallback \"cayenne\"\n</Profile>", "option `Fallback' in <Profile \"m\">: expects \"milesight-tlv\""},
    {"<Profile \"m\">\nChannels 2\nFallback \"milesight-tlv\"\nTLV \"battery\" 0\n</Profile>",
     "channel 1 has no TLV item"},
    {"<Profile \"m\">\nChannels 2\nFallback \"milesight-tlv\"\nTLV \"battery\" 0\nTLV \"battery\" 1\n</Profile>",
     "item 0x01 is mapped twice"},
    {"<Profile \"m\">\nChannels 1\nFallback \"milesight-tlv\"\nTLV \"voltage\" 0\n</Profile>",
     "option `TLV' in <Profile \"m\">: argument 1 must name a TLV item"},
    {"<Profile \"m\">\nTLV \"co2\" 0\n</Profile>", "option `TLV' in <Profile \"m\">: needs Fallback"},
    {"<Profile \"m\">\nFormat \"multi\"\nFallback \"milesight-tlv\"\n</Profile>", "applies to Format \"fixed\" only"},
    {"<Profile \"m\">\nChannels 1\nFallback \"milesight-tlv\"\nTLV \"co2\" 0\nChannel 3 \"gauge\"\n</Profile>",
     "index 3 is outside the 1 channels"},
    {"<Profile \"m\">\nLossRecovery \"guess\"\n</Profile>", "expects \"hold\" or \"estimate\""},
    {"<Profile \"m\">\nLossRecovery \"hold\"\nLossRecovery \"estimate\"\n</Profile>", "option `LossRecovery' in <Profile \"m\">: given twice"},
    {"<Profile \"m\">\nChannel 0 \"gauge\" \"t\" Multiply 0\n</Profile>", "Multiply 0 would make"},
    {"<Profile \"m\">\nChannel 0 \"gauge\" \"t\" Add \"x\"\n</Profile>", "Add expects a finite number"},
    {"<Profile \"m\">\nChannel 0 \"gauge\" \"t\" Scale 2\n</Profile>", "[Multiply <m>] [Add <a>]"},
    {"<Profile \"m\">\nChannel 0 \"gauge\" Multiply 2 Offset 1\n</Profile>", "expected Multiply or Add, got \"Offset\""},
};

START_TEST(bad_configs) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  int rc = load(&cfg, bad[_i].text, err, sizeof err);
  ck_assert_msg(rc == ALEC_EINVAL, "config %d accepted:\n%s", _i, bad[_i].text);
  ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "config %d:\n%s\nmessage: %s\nexpected: %s", _i, bad[_i].text,
                err, bad[_i].expect);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(several_blocks) {
  /* collectd calls the config callback once per <Plugin alec> block. */
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  alec_pc_init(&cfg);
  oconfig_item_t *a = alec_test_conf("Listen \"127.0.0.1\" \"1\"\n<Emitter 1>\n</Emitter>");
  oconfig_item_t *b = alec_test_conf("Listen \"127.0.0.1\" \"2\"\n<Emitter 1>\n</Emitter>");
  oconfig_item_t *c = alec_test_conf("<Emitter 2>\n</Emitter>");
  ck_assert_int_eq(alec_pc_parse(&cfg, a, err, sizeof err), 0);
  ck_assert_int_eq(alec_pc_parse(&cfg, b, err, sizeof err), ALEC_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "emitter 1 is defined twice"));
  ck_assert_int_eq(alec_pc_parse(&cfg, c, err, sizeof err), 0);
  ck_assert_int_eq(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err), 0);
  ck_assert_uint_eq(cfg.n_emitters, 2);
  ck_assert_uint_eq(cfg.n_listen, 2);
  alec_test_conf_delete(a);
  alec_test_conf_delete(b);
  alec_test_conf_delete(c);
  alec_pc_free(&cfg);
}
END_TEST

/* The partner's EM500-CO2 profile as docs/LORAWAN.md shows it. */
START_TEST(lorawan_profile) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  const char *text = "<Profile \"em500-co2\">\n"
                     "  Format \"fixed\"\n"
                     "  Channels 5\n"
                     "  Fallback \"milesight-tlv\"\n"
                     "  LossRecovery \"estimate\"\n"
                     "  TLV \"battery\" 0\n"
                     "  TLV \"temperature\" 1\n"
                     "  TLV \"humidity\" 2\n"
                     "  TLV \"0x05\" 3\n"
                     "  TLV 6 4\n"
                     "  Channel 0 \"gauge\" \"battery\"\n"
                     "  Channel 1 \"temperature\" \"ambient\" Multiply 0.1\n"
                     "  Channel 2 \"humidity\" Multiply 0.5 Add 0\n"
                     "  Channel 4 \"gauge\" \"pressure\" Add 0 Multiply 0.1\n"
                     "</Profile>\n"
                     "<Emitter \"0x24E124136B000000\">\n  Profile \"em500-co2\"\n</Emitter>\n";
  ck_assert_msg(load(&cfg, text, err, sizeof err) == 0, "%s", err);
  const alec_pc_profile *p = &cfg.profiles[0];
  ck_assert_int_eq(p->fallback, ALEC_PC_FALLBACK_MILESIGHT_TLV);
  ck_assert_int_eq(p->loss_recovery, ALEC_PC_LOSS_ESTIMATE);
  ck_assert_uint_eq(p->n_tlv, 5);
  ck_assert_uint_eq(p->tlv[1].id, 0x03);
  ck_assert_uint_eq(p->tlv[1].type, 0x67);
  ck_assert_uint_eq(p->tlv[3].id, 0x05);
  ck_assert_uint_eq(p->tlv[4].id, 0x06);
  ck_assert_uint_eq(p->tlv[4].channel, 4);
  const alec_pc_channel *c = alec_pc_channel_find(&p->s.map, 1);
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->type_instance, "ambient");
  ck_assert(c->has_conv && c->multiply == 0.1 && c->add == 0);
  ck_assert(alec_pc_convert(&p->s.map, 1, 281) == 281 * 0.1);
  c = alec_pc_channel_find(&p->s.map, 2);
  ck_assert_str_eq(c->type_instance, "ch2");
  ck_assert(c->multiply == 0.5);
  ck_assert(alec_pc_convert(&p->s.map, 0, 97) == 97);
  ck_assert(alec_pc_convert(&p->s.map, 3, 1127) == 1127);
  ck_assert_ptr_eq(cfg.emitters[0].prof, p);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(parse_ids) {
  uint64_t v;
  ck_assert_int_eq(alec_pc_parse_id("0", &v), 0);
  ck_assert(v == 0);
  ck_assert_int_eq(alec_pc_parse_id("18446744073709551615", &v), 0);
  ck_assert(v == UINT64_MAX);
  ck_assert_int_eq(alec_pc_parse_id("0x10", &v), 0);
  ck_assert(v == 16);
  ck_assert_int_eq(alec_pc_parse_id("0X1f", &v), 0);
  ck_assert(v == 31);
  ck_assert_int_eq(alec_pc_parse_id("010", &v), 0); /* decimal, not octal */
  ck_assert(v == 10);
  ck_assert_int_eq(alec_pc_parse_id("18446744073709551616", &v), ALEC_ERANGE);
  const char *badids[] = {"", "-1", "+1", " 1", "1 ", "1a", "0x", "0x-1", "0xg", NULL};
  for (int i = 0; badids[i]; i++) ck_assert_int_lt(alec_pc_parse_id(badids[i], &v), 0);
  ck_assert_int_lt(alec_pc_parse_id(NULL, &v), 0);
  char host[ALEC_PC_NAME_LEN];
  alec_pc_default_host(0xABCDEF, host, sizeof host);
  ck_assert_str_eq(host, "alec-0000000000abcdef");
}
END_TEST

/* StateFile, StateInterval, ResyncRequests, ResyncInterval (state.c, resync.c). */
START_TEST(restart_options) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  ck_assert_msg(load(&cfg, "", err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(cfg.state_file, "");
  ck_assert(cfg.state_interval == 60);
  ck_assert_int_eq(cfg.resync_requests, 1);
  ck_assert(cfg.resync_interval == 1);
  alec_pc_free(&cfg);
  ck_assert_msg(load(&cfg, "StateFile \"/var/lib/collectd/alec.state\"\nStateInterval 0\nResyncRequests false\n"
                           "ResyncInterval 0.25",
                     err, sizeof err) == 0,
                "%s", err);
  ck_assert_str_eq(cfg.state_file, "/var/lib/collectd/alec.state");
  ck_assert(cfg.state_interval == 0);
  ck_assert_int_eq(cfg.resync_requests, 0);
  ck_assert(cfg.resync_interval == 0.25);
  alec_pc_free(&cfg);
  static const char *const bad_ones[][2] = {
      {"StateFile \"\"", "option `StateFile'"},
      {"StateFile 1", "option `StateFile'"},
      {"StateFile \"a\" \"b\"", "option `StateFile'"},
      {"StateInterval -1", "option `StateInterval'"},
      {"StateInterval 1e9", "option `StateInterval'"},
      {"ResyncRequests \"yes\"", "option `ResyncRequests': expects true or false"},
      {"ResyncRequests", "option `ResyncRequests'"},
      {"ResyncInterval -0.5", "option `ResyncInterval'"},
  };
  for (size_t i = 0; i < sizeof bad_ones / sizeof bad_ones[0]; i++) {
    ck_assert_msg(load(&cfg, bad_ones[i][0], err, sizeof err) == ALEC_EINVAL, "accepted: %s", bad_ones[i][0]);
    ck_assert_msg(strstr(err, bad_ones[i][1]) != NULL, "%s: %s", bad_ones[i][0], err);
    alec_pc_free(&cfg);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("plugin_config");
  TCase *tc = tcase_create("config");
  tcase_add_test(tc, example_config);
  tcase_add_test(tc, fleet_lifecycle_options);
  tcase_add_test(tc, defaults);
  tcase_add_test(tc, amplification_bounds);
  tcase_add_test(tc, emitter_overrides);
  tcase_add_loop_test(tc, bad_configs, 0, (int)(sizeof bad / sizeof bad[0]));
  tcase_add_test(tc, several_blocks);
  tcase_add_test(tc, parse_ids);
  tcase_add_test(tc, restart_options);
  tcase_add_test(tc, lorawan_profile);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
