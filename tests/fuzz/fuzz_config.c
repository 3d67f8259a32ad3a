/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the collectd plugin's configuration handling
 * (src/plugin/alec_conf.c), which takes liboconfig trees and needs no
 * daemon symbols. The tree is built here from the input bytes, shaped like
 * what oconfig_parse_file() produces (oconfig_item_t, parent links).
 *
 * Input: mode(1) then one item tree per <Plugin alec> block:
 *   mode: bit 0 two blocks, bit 1 no type check callback, bit 2 types.db
 *         without "gauge", bit 3 a 16-byte error buffer
 *   item := key(1) shape(1) value* item*
 *     key:   index into the known option names, or 0xFF and a free name
 *            (len + bytes)
 *     shape: bits 0-1 number of values, bits 2-4 number of children
 *     value := tag(1) ...: tag & 3: 0 string from a dictionary (index
 *              tag >> 2), 1 free string (len u16 + bytes), 2 number (tag
 *              bit 2: raw binary64 u64 BE; bit 3: table index(1); else a
 *              signed byte), 3 boolean (tag bit 2)
 * Then alec_pc_finalize and the lookups the plugin does per datagram, with
 * their invariants (sorted unique emitters and channels, every configured
 * emitter and source found again). */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alec/error.h"
#include "alec_conf.h"
#include "fuzz_config_dict.h"
#include "fuzz_util.h"

#define MAX_ITEMS 400
#define MAX_DEPTH 4


static char *dup_bytes(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  FUZZ_CHECK(s != NULL);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

static char *dup_str(const char *s) { return dup_bytes((const uint8_t *)s, strlen(s)); }

static void build_value(fuzz_in *in, oconfig_value_t *v) {
  uint8_t tag = fuzz_u8(in);
  switch (tag & 3) {
  case 0:
    v->type = OCONFIG_TYPE_STRING;
    v->value.string = dup_str(strs[(tag >> 2) % NSTRS]);
    break;
  case 1: {
    size_t n;
    const uint8_t *p = fuzz_bytes(in, fuzz_u16(in) % 600u, &n);
    v->type = OCONFIG_TYPE_STRING;
    v->value.string = dup_bytes(p, n);
    break;
  }
  case 2:
    v->type = OCONFIG_TYPE_NUMBER;
    if ((tag >> 2) & 1) {
      uint64_t bits = fuzz_u64(in);
      memcpy(&v->value.number, &bits, sizeof bits);
    } else if ((tag >> 3) & 1) {
      v->value.number = nums[fuzz_u8(in) % NNUMS];
    } else {
      v->value.number = (double)(int8_t)fuzz_u8(in);
    }
    break;
  default:
    v->type = OCONFIG_TYPE_BOOLEAN;
    v->value.boolean = (tag >> 2) & 1;
    break;
  }
}

static void build_item(fuzz_in *in, oconfig_item_t *it, oconfig_item_t *parent, int depth,
                       int *budget) {
  memset(it, 0, sizeof *it);
  it->parent = parent;
  (*budget)--;
  uint8_t k = fuzz_u8(in);
  if (k == FREE_KEY) {
    size_t n;
    const uint8_t *p = fuzz_bytes(in, fuzz_u8(in) % 40u, &n);
    it->key = dup_bytes(p, n);
  } else {
    it->key = dup_str(keys[k % NKEYS]);
  }
  uint8_t shape = fuzz_u8(in);
  it->values_num = shape & 3;
  if (it->values_num) {
    it->values = calloc((size_t)it->values_num, sizeof *it->values);
    FUZZ_CHECK(it->values != NULL);
    for (int i = 0; i < it->values_num; i++) build_value(in, &it->values[i]);
  }
  int nc = depth < MAX_DEPTH ? (shape >> 2) & 7 : 0;
  if (nc > *budget) nc = *budget > 0 ? *budget : 0;
  if (fuzz_left(in) == 0) nc = 0;
  if (nc) {
    it->children = calloc((size_t)nc, sizeof *it->children);
    FUZZ_CHECK(it->children != NULL);
    it->children_num = nc;
    for (int i = 0; i < nc; i++) build_item(in, &it->children[i], it, depth + 1, budget);
  }
}

static void free_item(oconfig_item_t *it) {
  free(it->key);
  for (int i = 0; i < it->values_num; i++)
    if (it->values[i].type == OCONFIG_TYPE_STRING) free(it->values[i].value.string);
  free(it->values);
  for (int i = 0; i < it->children_num; i++) free_item(&it->children[i]);
  free(it->children);
}

/* The plugin block: <Plugin "alec"> with the fuzzed items as children. */
static void build_block(fuzz_in *in, oconfig_item_t *root, int *budget) {
  memset(root, 0, sizeof *root);
  root->key = dup_str("Plugin");
  root->values = calloc(1, sizeof *root->values);
  FUZZ_CHECK(root->values != NULL);
  root->values_num = 1;
  root->values[0].type = OCONFIG_TYPE_STRING;
  root->values[0].value.string = dup_str("alec");
  int nc = fuzz_u8(in) % 24;
  if (nc) {
    root->children = calloc((size_t)nc, sizeof *root->children);
    FUZZ_CHECK(root->children != NULL);
    root->children_num = nc;
    for (int i = 0; i < nc; i++) build_item(in, &root->children[i], root, 1, budget);
  }
}

/* A miniature types.db: ds count and the first ds type (collectd's
 * DS_TYPE_COUNTER 0, GAUGE 1, DERIVE 2). */
static int type_check(void *arg, const char *type, int *ds_type) {
  int no_gauge = *(const int *)arg;
  static const struct { const char *name; int nds, ds; } db[] = {
      {"gauge", 1, 1}, {"temperature", 1, 1}, {"counter", 1, 0}, {"derive", 1, 2},
      {"if_octets", 2, 2}, {"load", 3, 1}};
  for (size_t i = 0; i < sizeof db / sizeof db[0]; i++) {
    if (strcmp(db[i].name, type) != 0) continue;
    if (no_gauge && i == 0) return -1;
    *ds_type = db[i].ds;
    return db[i].nds;
  }
  return -1;
}

static void check_err(const char *err, size_t errlen, int rc) {
  FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
  if (rc == ALEC_EINVAL && errlen > 1) FUZZ_CHECK(err[0] != '\0');
}

static void check_finalized(const alec_plugin_config *cfg, fuzz_in *in) {
  FUZZ_CHECK(cfg->finalized);
  FUZZ_CHECK(cfg->n_listen >= 1 && cfg->n_listen <= ALEC_PC_MAX_LISTEN);
  FUZZ_CHECK(cfg->n_emitters <= cfg->max_emitters);
  size_t sources = 0;
  for (size_t i = 0; i < cfg->n_emitters; i++) {
    const alec_pc_emitter *em = &cfg->emitters[i];
    if (i > 0) FUZZ_CHECK(cfg->emitters[i - 1].id < em->id);
    FUZZ_CHECK(alec_pc_find_emitter(cfg, em->id) == em);
    FUZZ_CHECK(memchr(em->host, '\0', sizeof em->host) != NULL && em->host[0] != '\0');
    FUZZ_CHECK(memchr(em->group, '\0', sizeof em->group) != NULL);
    FUZZ_CHECK(em->map != NULL);
    for (size_t k = 0; k < em->map->n; k++) {
      if (k > 0) FUZZ_CHECK(em->map->ch[k - 1].id < em->map->ch[k].id);
      FUZZ_CHECK(alec_pc_channel_find(em->map, em->map->ch[k].id) == &em->map->ch[k]);
      if (em->format == ALEC_FORMAT_FIXED && em->channels)
        FUZZ_CHECK(em->map->ch[k].id < em->channels);
    }
    if (em->channels) FUZZ_CHECK(em->channels <= ALEC_FIXED_MAX_CHANNELS);
    if (em->has_source) {
      sources++;
      FUZZ_CHECK(em->format != 0);
      const alec_pc_emitter *f =
          alec_pc_find_source(cfg, (const struct sockaddr *)&em->source, em->source_len);
      FUZZ_CHECK(f != NULL && f->has_source);
    }
  }
  FUZZ_CHECK(sources == cfg->n_sources);
  /* A sender address from the input. */
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (fuzz_u8(in) & 1) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(fuzz_u16(in));
    for (int i = 0; i < 16; i++) s6->sin6_addr.s6_addr[i] = fuzz_u8(in);
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(fuzz_u16(in));
    s4->sin_addr.s_addr = htonl(fuzz_u32(in));
    sl = sizeof *s4;
  }
  const alec_pc_emitter *f = alec_pc_find_source(cfg, (const struct sockaddr *)&ss, sl);
  FUZZ_CHECK(f == NULL || f->has_source);
  (void)alec_pc_find_emitter(cfg, fuzz_u64(in));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  fuzz_in in = {data, size};
  uint8_t mode = fuzz_u8(&in);
  int blocks = (mode & 1) ? 2 : 1;
  int no_gauge = (mode & 4) != 0;
  char errbuf[ALEC_PC_ERR_LEN];
  size_t errlen = (mode & 8) ? 16 : sizeof errbuf;

  oconfig_item_t roots[2];
  int budget = MAX_ITEMS;
  for (int b = 0; b < blocks; b++) build_block(&in, &roots[b], &budget);

  alec_plugin_config cfg;
  alec_pc_init(&cfg);
  int rc = 0;
  for (int b = 0; b < blocks && rc == 0; b++) {
    memset(errbuf, 'x', sizeof errbuf);
    rc = alec_pc_parse(&cfg, &roots[b], errbuf, errlen);
    FUZZ_CHECK(rc == 0 || rc == ALEC_EINVAL || rc == ALEC_ENOMEM);
    check_err(errbuf, errlen, rc);
  }
  if (rc == 0) {
    memset(errbuf, 'x', sizeof errbuf);
    rc = alec_pc_finalize(&cfg, (mode & 2) ? NULL : type_check, &no_gauge, errbuf, errlen);
    FUZZ_CHECK(rc == 0 || rc == ALEC_EINVAL || rc == ALEC_ENOMEM);
    check_err(errbuf, errlen, rc);
    if (rc == 0) {
      check_finalized(&cfg, &in);
    }
  }
  alec_pc_free(&cfg);
  for (int b = 0; b < blocks; b++) free_item(&roots[b]);
  return 0;
}
