# SPDX-License-Identifier: MIT
# LoRaWAN parsing modules of the receiver (collectd-free, broker-free):
# Milesight TLV payloads. The network-server event parser (nsevent) joins here.
noinst_LTLIBRARIES += libalec_lorawan.la
libalec_lorawan_la_SOURCES = \
	src/receiver/tlv.c \
	src/receiver/tlv.h

check_PROGRAMS += tests/check_tlv
TESTS += tests/check_tlv
tests_check_tlv_SOURCES = tests/check_tlv.c
tests_check_tlv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/src/receiver
tests_check_tlv_LDADD = libalec_lorawan.la $(CHECK_LIBS)

# The receiver reads TLV fallbacks itself (profiles with Fallback) and
# recovers from lost uplinks (lossrec.h).
libalec_receiver_la_SOURCES += src/receiver/tlv.c src/receiver/tlv.h \
	src/receiver/lossrec.c src/receiver/lossrec.h
