# SPDX-License-Identifier: MIT
# Data time (collectd-alec(5), Data time): the fleet through the receiver
# core scores a backlog delivered in one burst as it scored the live stream.
check_PROGRAMS += tests/check_datatime
TESTS += tests/check_datatime
tests_check_datatime_SOURCES = tests/check_datatime.c
tests_check_datatime_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_check_datatime_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_datatime_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread
