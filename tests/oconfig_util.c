/* SPDX-License-Identifier: MIT */
/* The text-to-oconfig reader shared by tests/check_plugin_config.c and
 * tests/check_security.c (see oconfig_util.h). */

#include "oconfig_util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void add_value(oconfig_item_t *it, const char *tok, int quoted) {
  it->values = realloc(it->values, (size_t)(it->values_num + 1) * sizeof(*it->values));
  ck_assert_ptr_nonnull(it->values);
  oconfig_value_t *v = &it->values[it->values_num++];
  char *end;
  double d = strtod(tok, &end);
  if (quoted) {
    v->type = OCONFIG_TYPE_STRING;
    v->value.string = strdup(tok);
  } else if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
    v->type = OCONFIG_TYPE_BOOLEAN;
    v->value.boolean = tok[0] == 't';
  } else if (end != tok && *end == '\0') {
    v->type = OCONFIG_TYPE_NUMBER;
    v->value.number = d;
  } else {
    v->type = OCONFIG_TYPE_STRING;
    v->value.string = strdup(tok);
  }
}

static oconfig_item_t *add_child(oconfig_item_t *parent, const char *key) {
  parent->children = realloc(parent->children, (size_t)(parent->children_num + 1) * sizeof(*parent->children));
  ck_assert_ptr_nonnull(parent->children);
  oconfig_item_t *c = &parent->children[parent->children_num++];
  memset(c, 0, sizeof *c);
  c->key = strdup(key);
  c->parent = parent;
  return c;
}

/* Tokens of one line: key, then values; handles "quoted strings". */
static void parse_line(oconfig_item_t *it, char *p) {
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '>') p++;
    if (*p == '\0' || *p == '#') break;
    char tok[512];
    size_t n = 0;
    int quoted = 0;
    if (*p == '"') {
      quoted = 1;
      p++;
      while (*p && *p != '"' && n + 1 < sizeof tok) tok[n++] = *p++;
      if (*p == '"') p++;
    } else {
      while (*p && *p != ' ' && *p != '\t' && *p != '>' && n + 1 < sizeof tok) tok[n++] = *p++;
      if (*p == '>') p++;
    }
    tok[n] = '\0';
    add_value(it, tok, quoted);
  }
}

oconfig_item_t *alec_test_conf(const char *text) {
  oconfig_item_t *root = calloc(1, sizeof *root);
  ck_assert_ptr_nonnull(root);
  root->key = strdup("Plugin");
  oconfig_item_t *cur = root;
  char *copy = strdup(text), *save = NULL;
  ck_assert_ptr_nonnull(copy);
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ' || *line == '\t') line++;
    if (*line == '\0' || *line == '#') continue;
    if (line[0] == '<' && line[1] == '/') {
      cur = cur->parent;
      ck_assert_ptr_nonnull(cur);
      continue;
    }
    int block = line[0] == '<';
    if (block) line++;
    char key[64];
    size_t k = 0;
    while (*line && *line != ' ' && *line != '\t' && *line != '>' && k + 1 < sizeof key) key[k++] = *line++;
    key[k] = '\0';
    if (block && *line == '>') line++;
    oconfig_item_t *it = add_child(cur, key);
    parse_line(it, line);
    if (block) cur = it;
  }
  free(copy);
  return root;
}

static void conf_free(oconfig_item_t *it) {
  for (int i = 0; i < it->values_num; i++)
    if (it->values[i].type == OCONFIG_TYPE_STRING) free(it->values[i].value.string);
  free(it->values);
  for (int i = 0; i < it->children_num; i++) conf_free(&it->children[i]);
  free(it->children);
  free(it->key);
}

void alec_test_conf_delete(oconfig_item_t *root) {
  conf_free(root);
  free(root);
}

int alec_test_pc_load(alec_plugin_config *cfg, const char *text, alec_pc_type_check_fn check,
                      char *err, size_t errlen) {
  alec_pc_init(cfg);
  oconfig_item_t *root = alec_test_conf(text);
  int rc = alec_pc_parse(cfg, root, err, errlen);
  if (rc == 0) rc = alec_pc_finalize(cfg, check, NULL, err, errlen);
  alec_test_conf_delete(root);
  return rc;
}
