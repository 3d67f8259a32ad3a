/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_CONF_H
#define ALEC_PLUGIN_CONF_H

/* collectd's side of the receiver configuration: the <Plugin alec> block
 * of collectd.conf read into the receiver's structs (config.h). Only
 * liboconfig's header, so tests/check_plugin_config.c runs it without the
 * daemon. Every error names the option and its block: collectd only prints
 * what we log, and a user has to find the line. */

#include "config.h"
#include "liboconfig/oconfig.h"

/* Parses the children of one <Plugin alec> block (may be called for several
 * blocks). 0, or ALEC_EINVAL / ALEC_ENOMEM with a message naming the option
 * in err. */
int alec_pc_parse(alec_plugin_config *cfg, const oconfig_item_t *ci, char *err, size_t errlen);

#endif
