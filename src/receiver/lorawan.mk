# SPDX-License-Identifier: MIT
# LoRaWAN parsing modules of the receiver (collectd-free, broker-free):
# Milesight TLV payloads and the network servers' events (nsevent: ChirpStack
# v4 and The Things Stack v3 uplink JSON, downlink JSON).
noinst_LTLIBRARIES += libalec_lorawan.la
libalec_lorawan_la_SOURCES = \
	src/receiver/tlv.c \
	src/receiver/tlv.h \
	src/receiver/nsevent.c \
	src/receiver/nsevent.h
libalec_lorawan_la_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS) $(SODIUM_CFLAGS)
libalec_lorawan_la_LIBADD = $(YAJL_LIBS) $(SODIUM_LIBS)

check_PROGRAMS += tests/check_nsevent
TESTS += tests/check_nsevent
tests_check_nsevent_SOURCES = tests/check_nsevent.c
tests_check_nsevent_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/receiver
tests_check_nsevent_LDADD = libalec_lorawan.la $(CHECK_LIBS) -lm

# `make bench-nsevent` (and `make bench`): CPU per uplink message against
# yajl alone, and the cost of refusing hostile ones.
noinst_PROGRAMS += src/receiver/bench-nsevent
src_receiver_bench_nsevent_SOURCES = src/receiver/bench-nsevent.c
src_receiver_bench_nsevent_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
src_receiver_bench_nsevent_LDADD = libalec_lorawan.la $(YAJL_LIBS)
BENCH_TARGETS += bench-nsevent
bench-nsevent: src/receiver/bench-nsevent$(EXEEXT)
	$(AM_V_at)./src/receiver/bench-nsevent$(EXEEXT) $(srcdir)/tests/fixtures/lorawan

# The shipped contrib/collectd-chirpstack.conf and collectd-tts.conf through
# collectd -T and a real broker (skipped in a tree without the MQTT
# transport or the LoRaWAN emulator).
TESTS += tests/integration/contrib_lorawan.sh
EXTRA_DIST += tests/integration/contrib_lorawan.sh

check_PROGRAMS += tests/check_tlv
TESTS += tests/check_tlv
tests_check_tlv_SOURCES = tests/check_tlv.c
tests_check_tlv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/receiver
tests_check_tlv_LDADD = libalec_lorawan.la $(CHECK_LIBS)

# The receiver reads TLV fallbacks itself (profiles with Fallback) and
# recovers from lost uplinks (lossrec.h).
libalec_receiver_la_SOURCES += src/receiver/tlv.c src/receiver/tlv.h \
	src/receiver/lossrec.c src/receiver/lossrec.h

# LoRaWAN device emulator (src/tools/lorawan_sim.h): fixtures for the tests,
# the loss benchmark and the MQTT integration tests.
noinst_LTLIBRARIES += src/tools/libalec_lwsim.la
src_tools_libalec_lwsim_la_SOURCES = src/tools/lorawan_sim.c src/tools/lorawan_sim.h
src_tools_libalec_lwsim_la_LIBADD = libalec.la

noinst_PROGRAMS += src/tools/alec-lorawan-sim
src_tools_alec_lorawan_sim_SOURCES = src/tools/alec-lorawan-sim.c
src_tools_alec_lorawan_sim_CPPFLAGS = $(AM_CPPFLAGS) $(SODIUM_CFLAGS)
src_tools_alec_lorawan_sim_LDADD = src/tools/libalec_lwsim.la libalec.la $(SODIUM_LIBS) -lm

# The fleet emulator through a receiver against the truth (loss_eval.h):
# tests/check_lorawan and `make bench-lorawan` (docs/LORAWAN-LOSS.md).
noinst_LTLIBRARIES += libalec_losseval.la
libalec_losseval_la_SOURCES = src/receiver/loss_eval.c src/receiver/loss_eval.h
libalec_losseval_la_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS) -I$(top_srcdir)/src/tools
LOSSEVAL_LIBS = libalec_losseval.la src/tools/libalec_lwsim.la libalec_receiver.la libalec_fleet.la libalec.la \
	$(SODIUM_LIBS) -lm -lpthread

check_PROGRAMS += tests/check_lorawan
TESTS += tests/check_lorawan
tests_check_lorawan_SOURCES = tests/check_lorawan.c
tests_check_lorawan_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS) -I$(top_srcdir)/src/tools
tests_check_lorawan_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_lorawan_LDADD = $(LOSSEVAL_LIBS) $(CHECK_LIBS)

noinst_PROGRAMS += src/receiver/bench-lorawan
src_receiver_bench_lorawan_SOURCES = src/receiver/bench-lorawan.c
src_receiver_bench_lorawan_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS) -I$(top_srcdir)/src/tools
src_receiver_bench_lorawan_LDADD = $(LOSSEVAL_LIBS)
BENCH_TARGETS += bench-lorawan
bench-lorawan: src/receiver/bench-lorawan$(EXEEXT)
	$(AM_V_at)./src/receiver/bench-lorawan$(EXEEXT)

TESTS += tests/lorawan_sim.sh
dist_check_SCRIPTS += tests/lorawan_sim.sh

# Issue 15 through collectd and mosquitto (skipped without the MQTT
# transport's test library).
TESTS += tests/integration/mqtt_loss.sh
EXTRA_DIST += tests/integration/mqtt_loss.sh
