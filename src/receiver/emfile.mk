# SPDX-License-Identifier: MIT
# EmitterFile (src/receiver/emfile.h): the emitter registry file, reloaded
# when it changes, and its tests.
libalec_receiver_la_SOURCES += src/receiver/emfile.c src/receiver/emfile.h

check_PROGRAMS += tests/check_emfile
TESTS += tests/check_emfile
tests_check_emfile_SOURCES = tests/check_emfile.c
tests_check_emfile_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_check_emfile_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_emfile_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread

# The real daemon: hosts and groups from the file, a reload, a broken file.
TESTS += tests/integration/emitter_file.sh
EXTRA_DIST += tests/integration/emitter_file.sh
