/* SPDX-License-Identifier: MIT */
/* EmitterFile (src/receiver/emfile.h): the line format, the checks of an
 * <Emitter> block with line numbers, precedence of the blocks, MaxEmitters,
 * and reloading (a broken or unsafe change keeps the registry). */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alec/error.h"
#include "config.h"
#include "emfile.h"

static alec_plugin_config cfg;

/* One profile "th" (group "climate") and one <Emitter 7> block. */
static void setup(void) {
  alec_pc_init(&cfg);
  cfg.profiles = calloc(1, sizeof(*cfg.profiles));
  cfg.n_profiles = 1;
  strcpy(cfg.profiles[0].name, "th");
  cfg.profiles[0].s.has_group = 1;
  strcpy(cfg.profiles[0].s.group, "climate");
  cfg.emitters = calloc(1, sizeof(*cfg.emitters));
  cfg.n_emitters = 1;
  cfg.emitters[0].id = 7;
  strcpy(cfg.emitters[0].host, "block-seven");
  cfg.max_emitters = 5;
  char err[512];
  ck_assert_msg(alec_pc_finalize(&cfg, NULL, NULL, err, sizeof err) == 0, "%s", err);
}

static void teardown(void) { alec_pc_free(&cfg); }

static int parse(const char *text, alec_pc_emitter **out, size_t *n, size_t *sh, char *err, size_t errlen) {
  return alec_ef_parse(&cfg, text, strlen(text), out, n, sh, err, errlen);
}

START_TEST(format) {
  const char *text = "# id host group profile\n"
                     "\n"
                     "0x10  \"boiler room 1\"  boilers  th   # trailing comment\n"
                     "3 - - th\r\n"
                     "2\n"
                     "5 \"say \\\"hi\\\" #1\" \"\" -\n"
                     "7 other - -\n";
  alec_pc_emitter *ems;
  size_t n, sh;
  char err[512];
  ck_assert_msg(parse(text, &ems, &n, &sh, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(n, 4);
  ck_assert_uint_eq(sh, 1); /* 7 has a block */
  ck_assert_uint_eq(ems[0].id, 2);
  ck_assert_str_eq(ems[0].host, "alec-0000000000000002");
  ck_assert_str_eq(ems[0].group, "");
  ck_assert_ptr_null(ems[0].prof);
  ck_assert_uint_eq(ems[1].id, 3);
  ck_assert_str_eq(ems[1].group, "climate"); /* the profile's */
  ck_assert_ptr_eq(ems[1].prof, &cfg.profiles[0]);
  ck_assert_ptr_eq(ems[1].map, &cfg.profiles[0].s.map);
  ck_assert_uint_eq(ems[2].id, 5);
  ck_assert_str_eq(ems[2].host, "say \"hi\" #1");
  ck_assert_str_eq(ems[2].group, "");
  ck_assert_ptr_eq(ems[2].map, &ems[2].own.map);
  ck_assert_uint_eq(ems[3].id, 16);
  ck_assert_str_eq(ems[3].host, "boiler room 1");
  ck_assert_str_eq(ems[3].group, "boilers");
  alec_ef_free_emitters(ems, n);
}
END_TEST

START_TEST(errors) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"1 a\nx1 b\n", "line 2: id \"x1\" is not"},
      {"1 a\n2 b\n\n1 c\n", "line 4: emitter 1 is already listed on line 1"},
      {"1 a b nope\n", "line 1: no <Profile \"nope\">"},
      {"1 a/b\n", "line 1: host \"a/b\" must not contain '/'"},
      {"1 a 0123456789012345678901234567890123456789012345678901234567890123456789\n", "line 1: group"},
      {"# c\n1 \"open\n", "line 2: unterminated quote"},
      {"1 a b th extra\n", "line 1: more than 4 fields"},
      {"1 a\"b\n", "line 1: a quote inside"},
      {"1 \"a\"b\n", "line 1: a closing quote"},
      {"1 \"\\n\"\n", "line 1: only"},
      {"1 \"\"\n", "line 1: host \"\" must not be empty"},
      /* The rules of the <Emitter> rows (config.h), which blocks apply too. */
      {"1 \"a\tb\"\n", "line 1: host \"a\tb\" must not contain control characters"},
      {"1 a b/c\n", "line 1: group \"b/c\" must not contain '/'"},
      {"1\n2\n3\n4\n5\n", "line 5: more than MaxEmitters 5"}, /* 4 + the block */
      {"18446744073709551616\n", "line 1: id"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    alec_pc_emitter *ems = (alec_pc_emitter *)1;
    size_t n = 9, sh;
    char err[512];
    ck_assert_msg(parse(cases[i].text, &ems, &n, &sh, err, sizeof err) < 0, "case %zu accepted", i);
    ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    ck_assert_ptr_null(ems);
    ck_assert_uint_eq(n, 0);
  }
  /* The block's id does not count against the file's share. */
  alec_pc_emitter *ems;
  size_t n, sh;
  char err[512];
  ck_assert_msg(parse("1\n2\n7\n3\n4\n", &ems, &n, &sh, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_eq(n, 4);
  alec_ef_free_emitters(ems, n);
}
END_TEST

/* Mutations of a valid file: a result or an error, never a crash or a
 * name the format forbids (run under ASan and UBSan). */
START_TEST(mutations) {
  const char *base = "# reg\n0x10 \"a b\" g1 th\n3 - - th\n\"4\" h \"\" -\n5 x\\y \"q\\\"r\" th # c\n";
  size_t blen = strlen(base);
  char buf[256];
  uint32_t r = 12345;
  for (int it = 0; it < 20000; it++) {
    memcpy(buf, base, blen);
    size_t len = blen;
    for (int k = 0; k < 1 + it % 4; k++) {
      r = r * 1103515245u + 12345u;
      size_t pos = (r >> 8) % len;
      r = r * 1103515245u + 12345u;
      unsigned op = (r >> 16) % 3;
      static const char pool[] = " \t\"\\#-\n\r/0x\001a";
      char c = pool[(r >> 4) % (sizeof pool - 1)];
      if (op == 0) buf[pos] = c;
      else if (op == 1 && len + 1 < sizeof buf) {
        memmove(buf + pos + 1, buf + pos, len - pos);
        buf[pos] = c;
        len++;
      } else if (len > 1) {
        memmove(buf + pos, buf + pos + 1, len - pos - 1);
        len--;
      }
    }
    alec_pc_emitter *ems;
    size_t n, sh;
    char err[512];
    int rc = alec_ef_parse(&cfg, buf, len, &ems, &n, &sh, err, sizeof err);
    if (rc != 0) {
      ck_assert_msg(strncmp(err, "line ", 5) == 0, "error without a line: %s", err);
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      ck_assert(ems[i].host[0] != '\0' && strchr(ems[i].host, '/') == NULL);
      ck_assert(strlen(ems[i].group) < ALEC_PC_GROUP_LEN);
      if (i) ck_assert_uint_lt(ems[i - 1].id, ems[i].id);
    }
    alec_ef_free_emitters(ems, n);
  }
}
END_TEST

static char path[64];

static void write_file(const char *text, mode_t mode) {
  char tmp[80];
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *f = fopen(tmp, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  ck_assert_int_eq(chmod(tmp, mode), 0);
  ck_assert_int_eq(rename(tmp, path), 0); /* a new inode: seen as a change whatever the clock */
}

typedef struct {
  uint64_t id[8];
  char group[8][ALEC_PC_GROUP_LEN];
  size_t n;
} changes;

static void on_group(void *arg, uint64_t id, const char *group) {
  changes *c = arg;
  ck_assert_uint_lt(c->n, 8);
  c->id[c->n] = id;
  snprintf(c->group[c->n], sizeof c->group[0], "%s", group);
  c->n++;
}

START_TEST(reload) {
  snprintf(path, sizeof path, "check_emfile.%ld.tmp", (long)getpid());
  write_file("1 one a\n2 two b\n3 three\n", 0600);
  strcpy(cfg.emitter_file, path);
  alec_ef ef;
  char err[1024], info[1024];
  ck_assert_msg(alec_ef_init(&ef, &cfg, err, sizeof err, info, sizeof info) == 0, "%s", err);
  ck_assert_uint_eq(ef.n, 3);
  ck_assert_str_eq(alec_ef_find(&ef, 2)->host, "two");
  ck_assert_ptr_null(alec_ef_find(&ef, 7));
  alec_pc_emitter *fresh;
  size_t n;
  ck_assert_int_eq(alec_ef_check(&ef, &cfg, 1.0, &fresh, &n, err, sizeof err), 0); /* unchanged */

  /* Group of 2 changes, 1 leaves (its group goes), 3 gains one, 4 arrives. */
  write_file("2 two c\n3 three d\n4 four\n", 0600);
  ck_assert_int_eq(alec_ef_check(&ef, &cfg, 1.5, &fresh, &n, err, sizeof err), 0); /* within the second */
  ck_assert_msg(alec_ef_check(&ef, &cfg, 2.0, &fresh, &n, err, sizeof err) == 1, "%s", err);
  changes c = {.n = 0};
  alec_ef_swap(&ef, fresh, n, on_group, &c);
  ck_assert_uint_eq(c.n, 3);
  ck_assert_uint_eq(c.id[0], 1);
  ck_assert_str_eq(c.group[0], "");
  ck_assert_uint_eq(c.id[1], 2);
  ck_assert_str_eq(c.group[1], "c");
  ck_assert_uint_eq(c.id[2], 3);
  ck_assert_str_eq(c.group[2], "d");
  ck_assert_ptr_null(alec_ef_find(&ef, 1));
  ck_assert_str_eq(alec_ef_find(&ef, 4)->host, "four");
  ck_assert_uint_eq(ef.reloads, 1);

  /* A bad line: refused with its line number, the registry stays. */
  write_file("2 two e\nbad\n", 0600);
  ck_assert_int_lt(alec_ef_check(&ef, &cfg, 3.0, &fresh, &n, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "line 2") && strstr(err, "keeping the 3 emitters"), "%s", err);
  ck_assert_str_eq(alec_ef_find(&ef, 2)->group, "c");
  ck_assert_uint_eq(ef.reload_errors, 1);
  ck_assert_int_eq(alec_ef_check(&ef, &cfg, 4.0, &fresh, &n, err, sizeof err), 0); /* reported once */

  /* Writable by others: refused as the AuthFile would be. */
  write_file("2 two e\n", 0622);
  ck_assert_int_eq(alec_ef_check(&ef, &cfg, 5.0, &fresh, &n, err, sizeof err), ALEC_EAUTH);
  ck_assert_msg(strstr(err, "writable by group or others") != NULL, "%s", err);
  ck_assert_str_eq(alec_ef_find(&ef, 2)->group, "c");

  /* Vanished: kept, and said once. */
  unlink(path);
  ck_assert_int_eq(alec_ef_check(&ef, &cfg, 6.0, &fresh, &n, err, sizeof err), ALEC_EIO);
  ck_assert_int_eq(alec_ef_check(&ef, &cfg, 7.0, &fresh, &n, err, sizeof err), 0);
  ck_assert_uint_eq(ef.n, 3);

  /* Back and fixed. */
  write_file("2 two e\n", 0644);
  ck_assert_msg(alec_ef_check(&ef, &cfg, 8.0, &fresh, &n, err, sizeof err) == 1, "%s", err);
  c.n = 0;
  alec_ef_swap(&ef, fresh, n, on_group, &c);
  ck_assert_uint_eq(c.n, 2); /* 2 -> e; 3 d -> gone (4 had none) */
  ck_assert_str_eq(alec_ef_find(&ef, 2)->group, "e");
  alec_ef_free(&ef);
  unlink(path);

  /* At start a broken file is an error. */
  write_file("x\n", 0600);
  ck_assert_int_lt(alec_ef_init(&ef, &cfg, err, sizeof err, info, sizeof info), 0);
  ck_assert_msg(strstr(err, "line 1") != NULL, "%s", err);
  alec_ef_free(&ef);
  unlink(path);
}
END_TEST

int main(void) {
  Suite *s = suite_create("emfile");
  TCase *tc = tcase_create("emfile");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, format);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, reload);
  tcase_add_test(tc, mutations);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
