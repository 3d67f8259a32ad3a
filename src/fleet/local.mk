# SPDX-License-Identifier: MIT
# Fleet module: libalec_fleet (fleet anomaly detection, shared fleet context,
# ALEC preload files), the scenario generators shared with alec-send,
# fleet_demo, tests and the fleet benchmark.
lib_LTLIBRARIES += libalec_fleet.la
libalec_fleet_la_SOURCES = \
	src/fleet/fleet_int.h \
	src/fleet/fleet.c \
	src/fleet/fleet_map.c \
	src/fleet/fleet_ingest.c \
	src/fleet/fleet_score.c \
	src/fleet/fleet_pattern.c \
	src/fleet/fleet_info.c \
	src/fleet/preload.c
libalec_fleet_la_CFLAGS = $(AM_CFLAGS) -fvisibility=default
libalec_fleet_la_LIBADD = libalec.la -lm
libalec_fleet_la_LDFLAGS = -version-info 0:0:0

alecinclude_HEADERS += \
	include/alec/fleet.h \
	include/alec/preload.h
EXTRA_DIST += src/fleet/README.md

# Synthetic fleets (pure functions of scenario, emitter, step, channel, seed);
# alec-send links this convenience library to send exactly the same values.
noinst_LTLIBRARIES += libalec_scenario.la
libalec_scenario_la_SOURCES = \
	src/fleet/scenario.c \
	src/fleet/scenario.h
libalec_scenario_la_LIBADD = -lm

noinst_PROGRAMS += src/fleet/fleet_demo src/fleet/bench-fleet
src_fleet_fleet_demo_SOURCES = src/fleet/fleet_demo.c
src_fleet_fleet_demo_LDADD = libalec_fleet.la libalec_scenario.la libalec.la -lm
src_fleet_bench_fleet_SOURCES = src/fleet/bench-fleet.c
src_fleet_bench_fleet_LDADD = libalec_fleet.la libalec_scenario.la libalec.la -lm

check_PROGRAMS += tests/check_fleet
TESTS += tests/check_fleet
tests_check_fleet_SOURCES = tests/check_fleet.c
tests_check_fleet_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/fleet
tests_check_fleet_LDADD = libalec_fleet.la libalec_scenario.la libalec.la $(CHECK_LIBS) -lm

BENCH_TARGETS += bench-fleet
bench-fleet: src/fleet/bench-fleet$(EXEEXT)
	$(AM_V_at)./src/fleet/bench-fleet

# Fleet state save / restore for restarts (include/alec/fleet_state.h),
# tested with the plugin's state file in tests/check_state.c.
libalec_fleet_la_SOURCES += src/fleet/fleet_state.c
alecinclude_HEADERS += include/alec/fleet_state.h

# Detection at real cadences in virtual time (issue 10).
check_PROGRAMS += tests/check_fleet_cadence
TESTS += tests/check_fleet_cadence
tests_check_fleet_cadence_SOURCES = tests/check_fleet_cadence.c
tests_check_fleet_cadence_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/fleet
tests_check_fleet_cadence_LDADD = libalec_fleet.la libalec_scenario.la libalec.la $(CHECK_LIBS) -lm
