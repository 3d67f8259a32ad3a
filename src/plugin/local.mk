# SPDX-License-Identifier: MIT
# The collectd plugin alec.so, the envelope datagram (part of libalec), the
# sender alec-send, and their tests and documentation.

# Envelope: pure C, part of libalec.
libalec_la_SOURCES += src/lib/envelope.c
alecinclude_HEADERS += include/alec/envelope.h

check_PROGRAMS += tests/check_envelope
TESTS += tests/check_envelope
tests_check_envelope_SOURCES = tests/check_envelope.c
tests_check_envelope_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_envelope_LDADD = libalec.la $(CHECK_LIBS)

# alec-send: the reference for embedded users of libalec (encoder +
# envelope); the synthetic fleets come from the fleet module's scenarios.
bin_PROGRAMS += src/tools/alec-send
src_tools_alec_send_SOURCES = src/tools/alec-send.c
src_tools_alec_send_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/fleet
src_tools_alec_send_LDADD = libalec_scenario.la libalec.la -lm

dist_man_MANS += docs/collectd-alec.5

if BUILD_PLUGIN
# collectd dlopen()s plugins with RTLD_NOW and exports only its own API, so
# the codec and the fleet module are linked into the module (PIC
# convenience copy), only libc/libm/libpthread/libxxhash stay dynamic.
noinst_LTLIBRARIES += libalec_pic.la
libalec_pic_la_SOURCES = $(libalec_la_SOURCES) $(libalec_fleet_la_SOURCES)
libalec_pic_la_CFLAGS = $(AM_CFLAGS)

alecplugindir = $(COLLECTD_PLUGINDIR)
alecplugin_LTLIBRARIES = alec.la
alec_la_SOURCES = \
	src/plugin/alec.c \
	src/plugin/alec_conf.c \
	src/plugin/alec_conf.h \
	$(DASHBOARD_SOURCES)
nodist_alec_la_SOURCES = src/plugin/dashboard_assets.c
alec_la_CPPFLAGS = $(AM_CPPFLAGS) $(COLLECTD_CPPFLAGS) -I$(top_srcdir)/src/plugin $(RECEIVER_CPPFLAGS) $(MHD_CFLAGS)
alec_la_LDFLAGS = -module -avoid-version -shared -export-symbols-regex '^module_register$$'
alec_la_LIBADD = libalec_receiver.la libalec_pic.la $(XXHASH_LIBS) $(MHD_LIBS) -lm -lpthread

# Fleet dashboard (docs/DASHBOARD.md): snapshots, JSON API and HTTP server,
# and the page, embedded as byte arrays generated with od and sed.
DASHBOARD_SOURCES = \
	src/plugin/dashboard.c \
	src/plugin/dashboard.h \
	src/plugin/dashboard_assets.h \
	src/plugin/snapshot.c \
	src/plugin/snapshot.h
DASHBOARD_ASSETS = \
	src/plugin/dashboard_assets.html \
	src/plugin/dashboard_assets.css \
	src/plugin/dashboard_assets.js
EXTRA_DIST += $(DASHBOARD_ASSETS)
CLEANFILES += src/plugin/dashboard_assets.c
src/plugin/dashboard_assets.c: $(DASHBOARD_ASSETS:%=$(srcdir)/%)
	$(AM_V_GEN)$(MKDIR_P) src/plugin && { \
	  echo '/* Generated from $(DASHBOARD_ASSETS) by src/plugin/local.mk: do not edit. */'; \
	  echo '#include "dashboard_assets.h"'; \
	  for a in html css js; do \
	    echo "const unsigned char alec_dash_$$a[] = {"; \
	    od -An -v -tx1 $(srcdir)/src/plugin/dashboard_assets.$$a | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' || exit 1; \
	    echo '0x00};'; \
	    echo "const size_t alec_dash_$${a}_len = sizeof alec_dash_$$a - 1;"; \
	  done; } >$@-t && mv $@-t $@

check_PROGRAMS += tests/check_dashboard
TESTS += tests/check_dashboard
tests_check_dashboard_SOURCES = tests/check_dashboard.c $(DASHBOARD_SOURCES)
nodist_tests_check_dashboard_SOURCES = src/plugin/dashboard_assets.c
tests_check_dashboard_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/plugin -I$(top_srcdir)/src/fleet $(MHD_CFLAGS)
tests_check_dashboard_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_dashboard_LDADD = libalec_fleet.la libalec_scenario.la libalec.la $(CHECK_LIBS) $(MHD_LIBS) -lm -lpthread

# Config parser and datagram queue without the daemon.
check_PROGRAMS += tests/check_plugin_config
TESTS += tests/check_plugin_config
tests_check_plugin_config_SOURCES = tests/check_plugin_config.c \
	tests/oconfig_util.c tests/oconfig_util.h \
	src/plugin/alec_conf.c src/receiver/config.c
tests_check_plugin_config_CPPFLAGS = $(AM_CPPFLAGS) $(COLLECTD_CPPFLAGS) -I$(top_srcdir)/src/plugin $(RECEIVER_CPPFLAGS)
tests_check_plugin_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_plugin_config_LDADD = libalec_lorawan.la libalec.la $(CHECK_LIBS) -lpthread

# Every undefined symbol of alec.so is resolvable at dlopen(RTLD_NOW).
TESTS += tests/check_symbols.sh
dist_check_SCRIPTS += tests/check_symbols.sh
endif

# Custom types for the per-emitter scores (TypesDB).
alecdatadir = $(datadir)/collectd-alec
dist_alecdata_DATA = contrib/alec.types.db

if BUILD_PLUGIN
# Security (docs/SECURITY.md): the signature / replay / SecurityLevel gate
# with AuthFile reloading, and the per-emitter RateLimit buckets.
alec_la_LIBADD += $(SODIUM_LIBS)

check_PROGRAMS += tests/check_security
TESTS += tests/check_security
tests_check_security_SOURCES = tests/check_security.c \
	tests/oconfig_util.c tests/oconfig_util.h \
	src/receiver/security.c src/receiver/ratelimit.c src/plugin/alec_conf.c src/receiver/config.c
tests_check_security_CPPFLAGS = $(AM_CPPFLAGS) $(COLLECTD_CPPFLAGS) -I$(top_srcdir)/src/plugin $(RECEIVER_CPPFLAGS)
tests_check_security_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_security_LDADD = libalec_lorawan.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread
endif

# Loss, duplication, reordering and restarts: downlink datagrams (libalec),
# keyframe requests and the state file of the plugin, their unit test, and
# the integration tests tests/integration/loss.sh and restart.sh.
libalec_la_SOURCES += src/lib/downlink.c
alecinclude_HEADERS += include/alec/downlink.h
check_PROGRAMS += tests/check_state
TESTS += tests/check_state
tests_check_state_SOURCES = tests/check_state.c
tests_check_state_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_check_state_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_state_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread
