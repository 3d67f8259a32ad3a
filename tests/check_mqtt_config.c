/* SPDX-License-Identifier: MIT */
/* <MQTT> blocks: the option table (config.h ALEC_PC_MQTT_OPTIONS) through
 * the parser (src/plugin/alec_conf.c) and finalize (src/receiver/config.c),
 * without the daemon; and, for every option table (top level, <Fleet>,
 * <Dashboard>, <MQTT>, <AMQP>, <Profile>, <Emitter>), the man page
 * documents each row, the parser refuses values outside each row's range
 * and a single-valued row given twice. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alec/error.h"
#include "alec_conf.h"
#include "amqpconf.h"
#include "nsevent.h"
#include "oconfig_util.h"

static int types(void *arg, const char *type, int *ds_type) {
  (void)arg;
  *ds_type = 1;
  return strcmp(type, "gauge") == 0 ? 1 : -1;
}

#define PROFILE "<Profile \"em500\">\nFormat \"fixed\"\nChannels 5\n</Profile>\n"

static int load(alec_plugin_config *cfg, const char *text, char *err, size_t errlen) {
  return alec_test_pc_load(cfg, text, types, err, errlen);
}

START_TEST(defaults) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  int rc = load(&cfg, PROFILE "<MQTT \"cs\">\nDialect \"chirpstack\"\nFPort 85 \"em500\"\n</MQTT>", err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_uint_eq(cfg.n_mqtt, 1);
  const alec_pc_mqtt *m = &cfg.mqtt[0];
  ck_assert_str_eq(m->name, "cs");
  ck_assert_str_eq(m->host, "localhost");
  ck_assert_int_eq(m->port, 1883);
  ck_assert_int_eq(m->qos, 1);
  ck_assert_int_eq(m->clean_session, 0);
  ck_assert_int_eq(m->keepalive, 60);
  ck_assert_uint_eq(m->n_topics, 1);
  ck_assert_str_eq(m->topics[0], "application/+/device/+/event/up");
  ck_assert_int_eq(m->dialect, ALEC_NS_CHIRPSTACK);
  ck_assert_int_eq(m->security, ALEC_PC_SEC_NONE);
  ck_assert_int_eq(m->downlinks, 1);
  ck_assert_int_eq(m->downlink_budget, 10);
  ck_assert(m->downlink_interval == 600);
  ck_assert_int_eq(m->downlink_fport, -1);
  ck_assert_int_eq(m->max_message_size, 4096);
  ck_assert(strncmp(m->client_id, "collectd-alec-", 14) == 0);
  ck_assert(strstr(m->client_id, "-cs") != NULL);
  ck_assert_ptr_eq(alec_pc_mqtt_fport(m, 85), &cfg.profiles[0]);
  ck_assert_ptr_null(alec_pc_mqtt_fport(m, 86));
  /* MQTT only: no UDP socket unless a Listen asks for one. */
  ck_assert_uint_eq(cfg.n_listen, 0);
  alec_pc_free(&cfg);
}
END_TEST

START_TEST(every_option) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  int rc = load(&cfg,
                PROFILE "<Profile \"th\">\nFormat \"fixed\"\nChannels 3\n</Profile>\n"
                        "<MQTT \"tts\">\nHost \"broker.example\"\nPort 8883\nClientId \"alec-1\"\nUser \"u\"\n"
                        "Password \"p\"\nCACert \"/etc/ca.pem\"\nClientCert \"/etc/c.pem\"\nClientKey \"/etc/k.pem\"\n"
                        "QoS 2\nCleanSession true\nKeepAlive 30\nTopic \"v3/a@ttn/devices/+/up\"\n"
                        "Topic \"v3/b@ttn/devices/#\"\nDialect \"tts\"\nFPort 85 \"em500\"\nFPort 86 \"th\"\n"
                        "GroupFrom \"application\"\nSecurityLevel \"None\"\nDownlinks false\nDownlinkBudget 0\n"
                        "DownlinkInterval 0\nDownlinkFPort 10\nMaxMessageSize 65536\n</MQTT>\n"
                        "<MQTT \"raw\">\nDialect \"raw\"\nTopic \"nbiot/+/up\"\nEmitterLevel 1\n</MQTT>",
                err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_uint_eq(cfg.n_mqtt, 2);
  const alec_pc_mqtt *m = &cfg.mqtt[0];
  ck_assert_str_eq(m->host, "broker.example");
  ck_assert_int_eq(m->port, 8883);
  ck_assert_str_eq(m->client_id, "alec-1");
  ck_assert_str_eq(m->password, "p");
  ck_assert_str_eq(m->client_key, "/etc/k.pem");
  ck_assert_int_eq(m->qos, 2);
  ck_assert_int_eq(m->clean_session, 1);
  ck_assert_int_eq(m->keepalive, 30);
  ck_assert_uint_eq(m->n_topics, 2);
  ck_assert_str_eq(m->topics[1], "v3/b@ttn/devices/#");
  ck_assert_uint_eq(m->n_fports, 2);
  ck_assert_ptr_eq(alec_pc_mqtt_fport(m, 86), &cfg.profiles[1]);
  ck_assert_str_eq(m->group_from, "application");
  ck_assert_int_eq(m->downlinks, 0);
  ck_assert_int_eq(m->downlink_budget, 0);
  ck_assert(m->downlink_interval == 0);
  ck_assert_int_eq(m->downlink_fport, 10);
  ck_assert_int_eq(m->max_message_size, 65536);
  ck_assert_int_eq(cfg.mqtt[1].dialect, ALEC_NS_RAW);
  ck_assert_int_eq(cfg.mqtt[1].emitter_level, 1);
  ck_assert(cfg.max_groups > 0); /* GroupFrom: room for groups from metadata */
  alec_pc_free(&cfg);
}
END_TEST

static const struct {
  const char *text, *expect;
} bad[] = {
    {"<MQTT \"a\">\nFPort 85 \"em500\"\n</MQTT>", "option `Dialect' in <MQTT \"a\">: is required"},
    {"<MQTT \"a\">\nDialect \"loriot\"\n</MQTT>", "option `Dialect' in <MQTT \"a\">: expects \"chirpstack\""},
    {"<MQTT \"a\">\nDialect \"tts\"\n</MQTT>", "option `FPort' in <MQTT \"a\">: is required"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"nope\"\n</MQTT>", "FPort' in <MQTT \"a\">: 85: no <Profile \"nope\">"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 0 \"em500\"\n</MQTT>", "FPort' in <MQTT \"a\">: expects an integer in 1..223"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\nFPort 85 \"em500\"\n</MQTT>", "port 85 is mapped twice"},
    {"<MQTT \"a\">\nDialect \"tts\"\nDialect \"tts\"\n</MQTT>", "option `Dialect' in <MQTT \"a\">: given twice"},
    {"<MQTT \"a\">\nHost \"x\"\nHost \"y\"\n</MQTT>", "option `Host' in <MQTT \"a\">: given twice"},
    {"<MQTT \"a\">\nPort 70000\n</MQTT>", "option `Port' in <MQTT \"a\">: expects an integer in 1..65535"},
    {"<MQTT \"a\">\nQoS 3\n</MQTT>", "option `QoS' in <MQTT \"a\">: expects an integer in 0..2"},
    {"<MQTT \"a\">\nCleanSession 1\n</MQTT>", "option `CleanSession' in <MQTT \"a\">: expects true or false"},
    {"<MQTT \"a\">\nKeepAlive 1\n</MQTT>", "option `KeepAlive' in <MQTT \"a\">: expects an integer in 5..65535"},
    {"<MQTT \"a\">\nHost \"\"\n</MQTT>", "option `Host' in <MQTT \"a\">: expects 1 to 255 characters"},
    {"<MQTT \"a\">\nTopic \"a/b+/c\"\n</MQTT>", "a wildcard must fill a whole topic level"},
    {"<MQTT \"a\">\nTopic \"a/#/c\"\n</MQTT>", "'#' must be the last level"},
    {"<MQTT \"a\">\nGroupFrom \"tenant\"\n</MQTT>", "option `GroupFrom' in <MQTT \"a\">: expects \"tag:<key>\""},
    {"<MQTT \"a\">\nDownlinkInterval -1\n</MQTT>", "option `DownlinkInterval' in <MQTT \"a\">: expects a number >= 0"},
    {"<MQTT \"a\">\nMaxMessageSize 100000\n</MQTT>", "MaxMessageSize' in <MQTT \"a\">: expects an integer in 64..65536"},
    {"<MQTT \"a\">\nBroker \"x\"\n</MQTT>", "option `Broker' in <MQTT \"a\">: unknown option"},
    {"<MQTT \"a\">\nDialect \"raw\"\n</MQTT>", "option `Topic' in <MQTT \"a\">: is required with Dialect \"raw\""},
    {"<MQTT \"a\">\nDialect \"tts\"\nEmitterLevel 2\nFPort 85 \"em500\"\n</MQTT>", "EmitterLevel' in <MQTT \"a\">: applies"},
    {"<MQTT \"a\">\nDialect \"raw\"\nTopic \"x/+\"\nFPort 85 \"em500\"\n</MQTT>", "option `FPort' in <MQTT \"a\">: applies"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\nSecurityLevel \"Sign\"\n</MQTT>", "Sign applies to Dialect \"raw\""},
    {"<MQTT \"a\">\nDialect \"raw\"\nTopic \"x/+\"\nSecurityLevel \"Sign\"\n</MQTT>", "Sign needs an AuthFile"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\nPassword \"p\"\n</MQTT>", "option `Password' in <MQTT \"a\">: needs User"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\nClientCert \"c\"\n</MQTT>", "ClientCert and ClientKey go together"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\nClientCert \"c\"\nClientKey \"k\"\n</MQTT>", "needs CACert"},
    {"<Profile \"nf\">\nChannels 5\n</Profile>\n<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"nf\"\n</MQTT>", "needs a Format"},
    {"<Profile \"nc\">\nFormat \"fixed\"\n</Profile>\n<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"nc\"\n</MQTT>",
     "needs Channels"},
    {"<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\n</MQTT>\n<MQTT \"a\">\nDialect \"tts\"\nFPort 85 \"em500\"\n</MQTT>",
     "option `MQTT': block \"a\" is defined twice"},
    {"<MQTT>\n</MQTT>", "option `MQTT': expects 1 argument"},
};

START_TEST(bad_configs) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  char text[2048];
  snprintf(text, sizeof text, PROFILE "%s", bad[_i].text);
  int rc = load(&cfg, text, err, sizeof err);
  ck_assert_msg(rc == ALEC_EINVAL, "config %d accepted:\n%s", _i, text);
  ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "config %d:\n%s\nmessage: %s\nexpected: %s", _i, text, err,
                bad[_i].expect);
  alec_pc_free(&cfg);
}
END_TEST

/* Every option table (config.h, amqpconf.h), the man page and the parser
 * agree: each row is documented in its section, and a value just outside
 * each numeric row's range is refused with the option's name. */
typedef struct trow {
  const char *name;
  int kind;
  double lo, hi;
  int repeat;
} trow;

#define TROW_(n, k, f, lo, hi, rep) {#n, k, lo, hi, rep},
static const trow top_rows[] = {ALEC_PC_OPTIONS(TROW_)};
static const trow fleet_rows[] = {ALEC_PC_FLEET_OPTIONS(TROW_)};
static const trow dashboard_rows[] = {ALEC_PC_DASHBOARD_OPTIONS(TROW_)};
static const trow mqtt_rows[] = {ALEC_PC_MQTT_OPTIONS(TROW_)};
static const trow amqp_rows[] = {ALEC_PC_AMQP_OPTIONS(TROW_)};
static const trow profile_rows[] = {ALEC_PC_PROFILE_OPTIONS(TROW_)};
static const trow emitter_rows[] = {ALEC_PC_EMITTER_OPTIONS(TROW_)};
static const trow channel_rows[] = {ALEC_PC_CHANNEL_KEYWORDS(TROW_)};
#undef TROW_

static const struct table {
  const char *label;
  const trow *rows;
  size_t n;
  const char *open, *close;       /* the block around an option, "" at top level */
  const char *section, *end;      /* man page: from this .SH up to that one */
  int keywords; /* keywords inside another option's line (Channel): documented in its entry */
} tables[] = {
    {"top level", top_rows, sizeof top_rows / sizeof top_rows[0], "", "", ".SH GLOBAL OPTIONS", ".SH MQTT OPTIONS", 0},
    {"<Fleet>", fleet_rows, sizeof fleet_rows / sizeof fleet_rows[0], "<Fleet>\n", "</Fleet>\n", ".SH FLEET OPTIONS",
     ".SH DASHBOARD OPTIONS", 0},
    {"<Dashboard>", dashboard_rows, sizeof dashboard_rows / sizeof dashboard_rows[0], "<Dashboard>\n",
     "</Dashboard>\n", ".SH DASHBOARD OPTIONS", ".SH MQTT OPTIONS", 0},
    {"<MQTT>", mqtt_rows, sizeof mqtt_rows / sizeof mqtt_rows[0], "<MQTT \"m\">\n", "</MQTT>\n", ".SH MQTT OPTIONS",
     ".SH AMQP OPTIONS", 0},
    {"<AMQP>", amqp_rows, sizeof amqp_rows / sizeof amqp_rows[0], "<AMQP \"a\">\n", "</AMQP>\n", ".SH AMQP OPTIONS",
     ".SH PROFILE AND EMITTER OPTIONS", 0},
    {"<Profile>", profile_rows, sizeof profile_rows / sizeof profile_rows[0], "<Profile \"p\">\n", "</Profile>\n",
     ".SH PROFILE AND EMITTER OPTIONS", ".SH VALUES", 0},
    {"<Emitter>", emitter_rows, sizeof emitter_rows / sizeof emitter_rows[0], "<Emitter 9>\n", "</Emitter>\n",
     ".SH PROFILE AND EMITTER OPTIONS", ".SH VALUES", 0},
    {"Channel keywords", channel_rows, sizeof channel_rows / sizeof channel_rows[0], "", "",
     ".BI \"Channel \" \"Index \"", ".TP", 1},
};

static char man[1 << 18];

START_TEST(tables_documented) {
  const char *src = getenv("ALEC_SRCDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/docs/collectd-alec.5", src ? src : "..");
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "cannot read %s", path);
  size_t n = fread(man, 1, sizeof man - 1, f);
  fclose(f);
  man[n] = '\0';
  const struct table *t = &tables[_i];
  const char *section = strstr(man, t->section);
  ck_assert_msg(section != NULL, "%s: no %s in %s", t->label, t->section, path);
  const char *end = strstr(section + 1, t->end);
  size_t len = end ? (size_t)(end - section) : strlen(section);
  for (size_t i = 0; i < t->n; i++) {
    char want[80];
    int found = 0;
    /* ".BI \"Name " starts an entry; a few share one (User, Password);
     * blocks are ".B <Name>". */
    for (int form = t->keywords ? 3 : 0; form < (t->keywords ? 4 : 3) && !found; form++) {
      snprintf(want, sizeof want, form == 0 ? ".BI \"%s " : form == 1 ? ", %s " : form == 2 ? ".B <%s>" : ".B %s\n",
               t->rows[i].name);
      const char *p = strstr(section, want);
      found = p != NULL && (size_t)(p - section) < len;
    }
    ck_assert_msg(found, "%s option %s is not documented in %s of %s", t->label, t->rows[i].name, t->section, path);
  }
}
END_TEST

static void refused(const struct table *t, const trow *r, const char *value) {
  alec_plugin_config cfg;
  char err[ALEC_PC_ERR_LEN];
  static char text[4096];
  /* The numeric argument of TLV and Source is their second. */
  const char *before = r->kind == ALEC_PC_K_TLV ? "\"battery\" " : r->kind == ALEC_PC_K_SOURCE ? "\"127.0.0.1\" " : "";
  snprintf(text, sizeof text, PROFILE "%s%s %s%s%s\n%s", t->open, r->name, before, value,
           r->kind == ALEC_PC_K_FPORT ? " \"em500\"" : "", t->close);
  int rc = load(&cfg, text, err, sizeof err);
  char want[80];
  snprintf(want, sizeof want, "option `%s'", r->name);
  ck_assert_msg(rc == ALEC_EINVAL, "%s: accepted:\n%s", t->label, text);
  ck_assert_msg(strstr(err, want) != NULL, "%s:\n%s\nmessage without %s: %s", t->label, text, want, err);
  alec_pc_free(&cfg);
}

START_TEST(tables_ranges) {
  const struct table *t = &tables[_i];
  if (t->keywords) return; /* bad_channel_keywords */
  char v[1100];
  size_t tested = 0;
  for (size_t i = 0; i < t->n; i++) {
    const trow *r = &t->rows[i];
    switch (r->kind) {
    case ALEC_PC_K_INT:
    case ALEC_PC_K_FPORT:
    case ALEC_PC_K_CHANNEL:
    case ALEC_PC_K_TLV:
    case ALEC_PC_K_SOURCE:
      snprintf(v, sizeof v, "%.17g", r->hi + 1);
      refused(t, r, v);
      if (r->lo > 0) {
        snprintf(v, sizeof v, "%.17g", r->lo - 1);
        refused(t, r, v);
      }
      snprintf(v, sizeof v, "%.17g", r->lo + 0.5);
      refused(t, r, v);
      tested++;
      break;
    case ALEC_PC_K_DOUBLE:
    case ALEC_PC_K_DOUBLE_GT:
      snprintf(v, sizeof v, "%.17g", r->hi * 2 + 1);
      refused(t, r, v);
      snprintf(v, sizeof v, "%.17g", r->kind == ALEC_PC_K_DOUBLE_GT ? r->lo : r->lo - 1);
      refused(t, r, v);
      tested++;
      break;
    case ALEC_PC_K_STRING:
    case ALEC_PC_K_NAME: {
      size_t len = (size_t)r->hi + 1;
      ck_assert(len + 3 <= sizeof v);
      v[0] = '"';
      memset(v + 1, 'x', len);
      v[len + 1] = '"';
      v[len + 2] = '\0';
      refused(t, r, v);
      if (r->lo > 0) refused(t, r, "\"\"");
      tested++;
      break;
    }
    default:
      break;
    }
  }
  ck_assert_msg(tested > 0, "%s: no numeric or string row", t->label);
}
END_TEST

/* Issue 13 finding 16: a single-valued option given twice would silently
 * win; every such row of every table is refused, named. */
START_TEST(tables_twice) {
  const struct table *t = &tables[_i];
  if (t->keywords) return; /* bad_channel_keywords */
  size_t tested = 0;
  for (size_t i = 0; i < t->n; i++) {
    const trow *r = &t->rows[i];
    char v[64];
    const char *sample = NULL;
    switch (r->kind) {
    case ALEC_PC_K_INT: snprintf(v, sizeof v, "%.17g", r->lo); sample = v; break;
    case ALEC_PC_K_DOUBLE:
    case ALEC_PC_K_DOUBLE_GT: snprintf(v, sizeof v, "%.17g", r->hi); sample = v; break;
    case ALEC_PC_K_STRING:
    case ALEC_PC_K_NAME: sample = "\"x\""; break;
    case ALEC_PC_K_BOOL:
    case ALEC_PC_K_BOOL_NOT: sample = "true"; break;
    case ALEC_PC_K_SECURITY: sample = "\"None\""; break;
    case ALEC_PC_K_FORMAT: sample = "\"fixed\""; break;
    case ALEC_PC_K_FALLBACK: sample = "\"none\""; break;
    case ALEC_PC_K_LOSS: sample = "\"hold\""; break;
    case ALEC_PC_K_SOURCE: sample = "\"127.0.0.1\""; break;
    case ALEC_PC_K_DIALECT: sample = "\"tts\""; break;
    case ALEC_PC_K_GROUPFROM: sample = "\"application\""; break;
    default: break; /* own syntax or repeatable */
    }
    if (sample == NULL || r->repeat) continue;
    alec_plugin_config cfg;
    char err[ALEC_PC_ERR_LEN];
    static char text[4096];
    snprintf(text, sizeof text, PROFILE "%s%s %s\n%s %s\n%s", t->open, r->name, sample, r->name, sample, t->close);
    int rc = load(&cfg, text, err, sizeof err);
    char want[80];
    snprintf(want, sizeof want, "option `%s'", r->name);
    ck_assert_msg(rc == ALEC_EINVAL, "%s: accepted:\n%s", t->label, text);
    ck_assert_msg(strstr(err, want) != NULL && strstr(err, "given twice") != NULL, "%s:\n%s\nmessage: %s", t->label,
                  text, err);
    alec_pc_free(&cfg);
    tested++;
  }
  ck_assert_msg(tested > 0, "%s: no single-valued row tested", t->label);
}
END_TEST

/* The Channel keywords: each one refused twice, without a finite number,
 * and Multiply 0. */
START_TEST(bad_channel_keywords) {
  for (size_t i = 0; i < sizeof channel_rows / sizeof channel_rows[0]; i++)
    for (int twice = 0; twice < 2; twice++) {
      alec_plugin_config cfg;
      char err[ALEC_PC_ERR_LEN], text[512];
      const char *n = channel_rows[i].name;
      if (twice) snprintf(text, sizeof text, "<Profile \"p\">\nChannel 0 \"gauge\" %s 1 %s 2\n</Profile>", n, n);
      else snprintf(text, sizeof text, "<Profile \"p\">\nChannel 0 \"gauge\" %s \"x\"\n</Profile>", n);
      int rc = load(&cfg, text, err, sizeof err);
      ck_assert_msg(rc == ALEC_EINVAL, "accepted:\n%s", text);
      ck_assert_msg(strstr(err, "option `Channel' in <Profile \"p\">") && strstr(err, n) &&
                        strstr(err, twice ? "given twice" : "expects a finite number"),
                    "%s\nmessage: %s", text, err);
      alec_pc_free(&cfg);
    }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mqtt_config");
  TCase *tc = tcase_create("config");
  tcase_add_test(tc, defaults);
  tcase_add_test(tc, every_option);
  tcase_add_loop_test(tc, bad_configs, 0, (int)(sizeof bad / sizeof bad[0]));
  tcase_add_loop_test(tc, tables_documented, 0, (int)(sizeof tables / sizeof tables[0]));
  tcase_add_loop_test(tc, tables_ranges, 0, (int)(sizeof tables / sizeof tables[0]));
  tcase_add_loop_test(tc, tables_twice, 0, (int)(sizeof tables / sizeof tables[0]));
  tcase_add_test(tc, bad_channel_keywords);
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
