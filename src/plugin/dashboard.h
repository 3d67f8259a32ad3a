/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_DASHBOARD_H
#define ALEC_PLUGIN_DASHBOARD_H

/* The plugin's read-only fleet dashboard: an HTTP server (libmicrohttpd, one
 * internal polling thread) serving the page of dashboard_assets.* and the
 * JSON API of docs/DASHBOARD.md, built from alec_snap snapshots only. It
 * never touches the fleet or its lock, so however many clients poll, the
 * receive and dispatch paths do not wait for it. Memory is bounded by the
 * connection limits (total and per client address), the per-connection
 * memory limit and the snapshot, whose size the fleet's limits bound.
 * Internal to the plugin (alec_dash_ prefix). */

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#define ALEC_DASH_DEFAULT_NODE "127.0.0.1"
#define ALEC_DASH_DEFAULT_PORT "25831"
/* Documents larger than this are refused (500): a bound well above what
 * ALEC_FLEET_MAX_EMITTERS_LIMIT emitters would need for the fleet page is
 * not meaningful for a browser anyway. */
#define ALEC_DASH_DOC_MAX ((size_t)256 << 20)

typedef struct alec_dash_config {
  char node[256];             /* address to bind, "127.0.0.1" (loopback) */
  char service[32];           /* port, "25831"; "0": any free port (tests) */
  unsigned max_connections;   /* 256 */
  unsigned per_ip_connections; /* 16 */
  unsigned timeout;           /* s an idle connection is kept, 10 */
} alec_dash_config;

typedef struct alec_dash alec_dash;

void alec_dash_config_init(alec_dash_config *cfg);

/* Binds and starts serving snapshots of store (which must outlive the
 * server). 0, or ALEC_EINVAL / ALEC_EIO / ALEC_ENOMEM with a message in err
 * (always NUL terminated when errlen > 0). */
int alec_dash_start(alec_dash **out, const alec_dash_config *cfg, alec_snap_store *store, char *err,
                    size_t errlen);
/* The bound TCP port. */
int alec_dash_port(const alec_dash *d);
/* Stops the server and waits for its thread; responses still being sent
 * are cut. NULL is a no-op. */
void alec_dash_stop(alec_dash *d);

/* The API's documents (malloc'ed, NUL terminated, *len without the NUL).
 * 0, ALEC_ENOMEM, or ALEC_ENOSPC past ALEC_DASH_DOC_MAX. */
int alec_dash_fleet_json(const alec_snap *s, char **buf, size_t *len);
/* /api/fleet: groups, stats and events, and a page of the emitters in
 * display order, of one group (NULL: all): emitters [offset, offset+limit)
 * with "page" {group, offset, limit, total, count}. alec_dash_fleet_json is
 * the first page of all groups (the unpaged /api/fleet). limit
 * 1..ALEC_DASH_PAGE_MAX, else ALEC_EINVAL. */
#define ALEC_DASH_PAGE_DEFAULT 200u
#define ALEC_DASH_PAGE_MAX 1000u
int alec_dash_fleet_page_json(const alec_snap *s, const char *group, size_t offset, size_t limit, char **buf,
                              size_t *len);
/* Emitter s->emitters[index] with its history h (nullable). */
int alec_dash_emitter_json(const alec_snap *s, size_t index, const alec_snap_history *h, char **buf,
                           size_t *len);
/* An emitter id of a URL: exactly 16 hex digits, else decimal (1 to 20
 * digits, at most 2^64 - 1). 0 or ALEC_EINVAL. */
int alec_dash_parse_id(const char *s, uint64_t *out);

#endif
