# SPDX-License-Identifier: MIT
# libalec: the codec library (no collectd headers).
lib_LTLIBRARIES += libalec.la
libalec_la_SOURCES = \
	src/lib/error.c \
	src/lib/wire.c \
	src/lib/frame.c \
	src/lib/context.c \
	src/lib/context_int.h \
	src/lib/wire_int.h \
	src/lib/classifier.c \
	src/lib/decoder.c \
	src/lib/encoder.c
# -fno-semantic-interposition: nobody interposes libalec's own symbols, so
# calls between its functions in one file may be inlined or made direct
# instead of going through the PLT (the exported API is unchanged).
libalec_la_CFLAGS = $(AM_CFLAGS) -fvisibility=default -fno-semantic-interposition
libalec_la_LIBADD = $(XXHASH_LIBS) -lm
libalec_la_LDFLAGS = -version-info 0:0:0

alecinclude_HEADERS += \
	include/alec/alec.h \
	include/alec/error.h \
	include/alec/wire.h \
	include/alec/frame.h \
	include/alec/context.h \
	include/alec/classifier.h \
	include/alec/decoder.h \
	include/alec/encoder.h

# Unit tests (Check). tests/check_decoder.c: wire, frame, context, decoder;
# tests/check_encoder.c: classifier, encoder; tests/check_hostile.c:
# randomized mutation of valid frames.
check_PROGRAMS += tests/check_decoder tests/check_encoder tests/check_hostile
TESTS += tests/check_decoder tests/check_encoder tests/check_hostile
tests_check_decoder_SOURCES = tests/check_decoder.c
tests_check_decoder_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_decoder_LDADD = libalec.la $(CHECK_LIBS) -lm
tests_check_encoder_SOURCES = tests/check_encoder.c
tests_check_encoder_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_encoder_LDADD = libalec.la $(CHECK_LIBS) -lm
tests_check_hostile_SOURCES = tests/check_hostile.c
tests_check_hostile_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_hostile_LDADD = libalec.la $(CHECK_LIBS) -lm

# Signed envelopes (docs/SECURITY.md): HMAC-SHA-256 from libsodium, replay
# windows, key files; shared by the plugin and alec-send. tests/check_auth.c:
# RFC 4231 vectors, truncation, replay window, hostile key files.
AM_CPPFLAGS += $(SODIUM_CFLAGS)
libalec_la_SOURCES += src/lib/auth.c src/lib/hash.c
libalec_la_LIBADD += $(SODIUM_LIBS)
alecinclude_HEADERS += include/alec/auth.h include/alec/hash.h
check_PROGRAMS += tests/check_auth
TESTS += tests/check_auth
tests_check_auth_SOURCES = tests/check_auth.c
tests_check_auth_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_auth_LDADD = libalec.la $(SODIUM_LIBS) $(CHECK_LIBS)

# pkg-config file for users of the installed library (`pkg-config --cflags
# --libs libalec`; headers are included as <alec/alec.h>).
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = libalec.pc
EXTRA_DIST += libalec.pc.in
