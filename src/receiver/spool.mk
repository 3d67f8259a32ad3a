# SPDX-License-Identifier: MIT
# The receiver's spool (src/receiver/spool.h): MQTT messages received but
# not stored when collectd stops, kept in the StateFile and processed first
# at the next start.
libalec_receiver_la_SOURCES += src/receiver/spool.c src/receiver/spool.h

check_PROGRAMS += tests/check_spool
TESTS += tests/check_spool
tests_check_spool_SOURCES = tests/check_spool.c
tests_check_spool_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_check_spool_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_spool_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread
