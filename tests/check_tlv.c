/* SPDX-License-Identifier: MIT */
/* Unit tests of src/receiver/tlv.c: the published EM500-CO2 example, items
 * running past the end, unknown ids, empty input, caller capacity. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "tlv.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (h[2 * n] && h[2 * n + 1] && n < cap) {
    unsigned v;
    ck_assert_int_eq(sscanf(h + 2 * n, "%2x", &v), 1);
    out[n++] = (uint8_t)v;
  }
  return n;
}

START_TEST(published_example) {
  uint8_t b[64];
  size_t len = unhex("01756403671901046873057D670406736827", b, sizeof b);
  alec_tlv_item it[8];
  size_t n = 99;
  ck_assert_int_eq(alec_tlv_parse(b, len, it, 8, &n), 0);
  ck_assert_uint_eq(n, 5);
  ck_assert(it[0].value == 100.0);
  ck_assert(it[1].value == 281.0 / 10.0);
  ck_assert(it[2].value == 57.5);
  ck_assert(it[3].value == 1127.0);
  ck_assert(it[4].value == 10088.0 / 10.0);
  ck_assert_str_eq(alec_tlv_item_name(it[3].id, it[3].type), "co2");
  ck_assert(!alec_tlv_is_alec_frame(b, len));
}
END_TEST

START_TEST(negative_temperature) {
  const uint8_t b[] = {0x03, 0x67, 0x9C, 0xFF}; /* -100 -> -10.0 */
  alec_tlv_item it[1];
  size_t n;
  ck_assert_int_eq(alec_tlv_parse(b, sizeof b, it, 1, &n), 0);
  ck_assert(it[0].value == -10.0);
}
END_TEST

START_TEST(hostile) {
  alec_tlv_item it[4];
  size_t n = 7;
  const uint8_t trunc[] = {0x01, 0x75, 0x64, 0x03, 0x67, 0x19};
  const uint8_t half[] = {0x01, 0x75, 0x64, 0x03};
  const uint8_t unk[] = {0x09, 0x99, 0x00};
  const uint8_t hist[] = {0x20, 0xCE, 1, 2, 3};
  ck_assert_int_eq(alec_tlv_parse(trunc, sizeof trunc, it, 4, &n), ALEC_TLV_ETRUNCATED);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(alec_tlv_parse(half, sizeof half, it, 4, &n), ALEC_TLV_ETRUNCATED);
  ck_assert_int_eq(alec_tlv_parse(unk, sizeof unk, it, 4, &n), ALEC_TLV_EUNKNOWN);
  ck_assert_int_eq(alec_tlv_parse(hist, sizeof hist, it, 4, &n), ALEC_TLV_ETRUNCATED);
  ck_assert_int_eq(alec_tlv_parse(trunc, 0, it, 4, &n), ALEC_TLV_EEMPTY);
  ck_assert_int_eq(alec_tlv_parse(trunc, 3, it, 0, &n), ALEC_TLV_ENOSPC);
  ck_assert_str_eq(alec_tlv_kind_name(ALEC_TLV_EUNKNOWN), "tlv_unknown");
  ck_assert_str_eq(alec_tlv_strerror(ALEC_TLV_ETRUNCATED), "TLV item runs past the end");
  const uint8_t a1[] = {0xA1, 0x00};
  ck_assert(alec_tlv_is_alec_frame(a1, 2));
  ck_assert(!alec_tlv_is_alec_frame(a1, 0));
}
END_TEST

int main(void) {
  Suite *s = suite_create("tlv");
  TCase *tc = tcase_create("parse");
  tcase_add_test(tc, published_example);
  tcase_add_test(tc, negative_temperature);
  tcase_add_test(tc, hostile);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
