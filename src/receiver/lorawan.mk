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

check_PROGRAMS += tests/check_tlv
TESTS += tests/check_tlv
tests_check_tlv_SOURCES = tests/check_tlv.c
tests_check_tlv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/receiver
tests_check_tlv_LDADD = libalec_lorawan.la $(CHECK_LIBS)
