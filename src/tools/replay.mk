# SPDX-License-Identifier: MIT
# alec-replay: recorded streams through the receiver and the fleet in the
# recording's own time (issue 10); the fleet story generator and its test.
bin_PROGRAMS += src/tools/alec-replay
src_tools_alec_replay_SOURCES = src/tools/alec-replay.c src/tools/pcapin.c src/tools/pcapin.h
src_tools_alec_replay_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS) -I$(top_srcdir)/src/tools
src_tools_alec_replay_CFLAGS = $(AM_CFLAGS) $(PCAP_CFLAGS)
src_tools_alec_replay_LDADD = libalec_receiver.la libalec_fleet.la src/tools/libalectool.la libalec.la \
	$(SODIUM_LIBS) $(PCAP_LIBS) -lm -lpthread

noinst_PROGRAMS += src/fleet/fleet-story
src_fleet_fleet_story_SOURCES = src/fleet/fleet_story.c
src_fleet_fleet_story_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/fleet
src_fleet_fleet_story_LDADD = libalec_scenario.la libalec.la -lm

TESTS += tests/replay_story.sh
dist_check_SCRIPTS += tests/replay_story.sh

# The alert lifecycle (AlertKey, band, RenotifyInterval, silent group)
# through the real collectd.
TESTS += tests/integration/fleet_lifecycle.sh
EXTRA_DIST += tests/integration/fleet_lifecycle.sh

# `make bench-fleet-cadence` (and `make bench`): fleet CPU at real cadences
# in virtual time (1M emitters every 10 min, 100k every second).
noinst_PROGRAMS += src/fleet/bench-fleet-cadence
src_fleet_bench_fleet_cadence_SOURCES = src/fleet/bench-cadence.c
src_fleet_bench_fleet_cadence_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/fleet
src_fleet_bench_fleet_cadence_LDADD = libalec_fleet.la libalec_scenario.la libalec.la -lm
BENCH_TARGETS += bench-fleet-cadence
bench-fleet-cadence: src/fleet/bench-fleet-cadence$(EXEEXT)
	$(AM_V_at)./src/fleet/bench-fleet-cadence$(EXEEXT)

# The same fleet story through the real collectd at a 50 ms cadence.
TESTS += tests/integration/fleet_story.sh
EXTRA_DIST += tests/integration/fleet_story.sh

# The capture and MQTT inputs of alec-replay: a pcap written by the test's
# own generator (libpcap's pcap_dump) over every link type, and the LoRaWAN
# simulator's ChirpStack / TTS events, give the events of the equivalent
# JSONL; hostile captures are counted, never fatal.
check_PROGRAMS += tests/replay-pcapgen
tests_replay_pcapgen_SOURCES = tests/replay_pcapgen.c
tests_replay_pcapgen_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS) -I$(top_srcdir)/src/tools
tests_replay_pcapgen_CFLAGS = $(AM_CFLAGS) $(PCAP_CFLAGS)
tests_replay_pcapgen_LDADD = libalec_receiver.la src/tools/libalectool.la libalec.la $(SODIUM_LIBS) $(PCAP_LIBS) -lm -lpthread
TESTS += tests/replay_inputs.sh
dist_check_SCRIPTS += tests/replay_inputs.sh
