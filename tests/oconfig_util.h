/* SPDX-License-Identifier: MIT */
#ifndef ALEC_TEST_OCONFIG_UTIL_H
#define ALEC_TEST_OCONFIG_UTIL_H

/* Config trees for the plugin's unit tests, built from text by a small
 * reader of collectd's config syntax (enough for the tests: one item per
 * line, "quoted strings", numbers, true / false, <Block> nesting), so that
 * alec_conf.c is exercised without the daemon. Failures are Check asserts. */

#include <stddef.h>

#include "alec_conf.h"

/* Reads text into children of a fresh root item keyed "Plugin" (the
 * <Plugin alec> block). Free with alec_test_conf_delete(). */
oconfig_item_t *alec_test_conf(const char *text);
void alec_test_conf_delete(oconfig_item_t *root);

/* alec_pc_init(), then parse and, when that succeeds, finalize text with
 * the type check (nullable); returns the status and leaves the message in
 * err. The caller frees cfg with alec_pc_free() in every case. */
int alec_test_pc_load(alec_plugin_config *cfg, const char *text, alec_pc_type_check_fn check,
                      char *err, size_t errlen);

#endif
