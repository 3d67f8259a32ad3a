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

check_PROGRAMS += tests/check_tlv
TESTS += tests/check_tlv
tests_check_tlv_SOURCES = tests/check_tlv.c
tests_check_tlv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/receiver
tests_check_tlv_LDADD = libalec_lorawan.la $(CHECK_LIBS)
