# SPDX-License-Identifier: MIT
# The collectd plugin alec.so, the envelope datagram (part of libalec), the
# sender alec-send, and their tests and documentation.

# Envelope: pure C, part of libalec.
libalec_la_SOURCES += src/lib/envelope.c
nobase_include_HEADERS += include/alec/envelope.h

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
	src/plugin/dgram_queue.c \
	src/plugin/dgram_queue.h
alec_la_CPPFLAGS = $(AM_CPPFLAGS) $(COLLECTD_CPPFLAGS)
alec_la_LDFLAGS = -module -avoid-version -shared -export-symbols-regex '^module_register$$'
alec_la_LIBADD = libalec_pic.la $(XXHASH_LIBS) -lm -lpthread

# Config parser and datagram queue without the daemon.
check_PROGRAMS += tests/check_plugin_config
TESTS += tests/check_plugin_config
tests_check_plugin_config_SOURCES = tests/check_plugin_config.c \
	src/plugin/alec_conf.c src/plugin/dgram_queue.c
tests_check_plugin_config_CPPFLAGS = $(AM_CPPFLAGS) $(COLLECTD_CPPFLAGS) -I$(top_srcdir)/src/plugin
tests_check_plugin_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_plugin_config_LDADD = libalec.la $(CHECK_LIBS) -lpthread

# Every undefined symbol of alec.so is resolvable at dlopen(RTLD_NOW).
TESTS += tests/check_symbols.sh
dist_check_SCRIPTS += tests/check_symbols.sh
endif

# Custom types for the per-emitter scores (TypesDB).
alecdatadir = $(datadir)/collectd-alec
dist_alecdata_DATA = contrib/alec.types.db
