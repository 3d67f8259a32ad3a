/* SPDX-License-Identifier: MIT */
#ifndef ALEC_PLUGIN_DASHBOARD_ASSETS_H
#define ALEC_PLUGIN_DASHBOARD_ASSETS_H

/* The dashboard page, embedded at build time: src/plugin/local.mk turns
 * dashboard_assets.{html,css,js} into dashboard_assets.c (byte arrays, NUL
 * terminated; the lengths exclude the NUL). */

#include <stddef.h>

extern const unsigned char alec_dash_html[];
extern const size_t alec_dash_html_len;
extern const unsigned char alec_dash_css[];
extern const size_t alec_dash_css_len;
extern const unsigned char alec_dash_js[];
extern const size_t alec_dash_js_len;

#endif
