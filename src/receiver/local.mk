# SPDX-License-Identifier: MIT
# The receiver layer (src/receiver/receiver.h): the transport-neutral core
# (admission, security, rate limit, decoding through the fleet, value
# times, keyframe requests, state file) and its transports. No collectd
# header: the collectd plugin (src/plugin/) is one embedding, the unit
# tests another.
RECEIVER_CORE_SOURCES = \
	src/receiver/config.c \
	src/receiver/config.h \
	src/receiver/queue.c \
	src/receiver/queue.h \
	src/receiver/receiver.c \
	src/receiver/receiver.h \
	src/receiver/receiver_int.h \
	src/receiver/rx_ack.c \
	src/receiver/rx_emitters.c \
	src/receiver/rx_fallback.c \
	src/receiver/rx_state.c \
	src/receiver/ratelimit.c \
	src/receiver/ratelimit.h \
	src/receiver/resync.c \
	src/receiver/resync.h \
	src/receiver/security.c \
	src/receiver/security.h \
	src/receiver/state.c \
	src/receiver/state.h
RECEIVER_TRANSPORT_SOURCES = \
	src/receiver/udp.c \
	src/receiver/udp.h
RECEIVER_CPPFLAGS = -I$(top_srcdir)/src/receiver

# PIC convenience library linked into alec.so (and the tests), with the
# codec and the fleet module: collectd dlopen()s plugins with RTLD_NOW and
# exports only its own API.
noinst_LTLIBRARIES += libalec_receiver.la
libalec_receiver_la_SOURCES = $(RECEIVER_CORE_SOURCES) $(RECEIVER_TRANSPORT_SOURCES)
libalec_receiver_la_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
libalec_receiver_la_CFLAGS = $(AM_CFLAGS)

# The receiver without collectd: UDP in, values, events and logs out
# through a test sink.
check_PROGRAMS += tests/check_receiver
TESTS += tests/check_receiver
tests_check_receiver_SOURCES = tests/check_receiver.c
tests_check_receiver_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_check_receiver_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_receiver_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread

# `make bench-receiver` (and `make bench`): ids chosen to collide under the
# old unkeyed hash against random ids (docs/SECURITY.md, hash flooding).
noinst_PROGRAMS += src/receiver/bench-receiver
src_receiver_bench_receiver_SOURCES = src/receiver/bench-receiver.c src/receiver/hashflood.h
src_receiver_bench_receiver_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
src_receiver_bench_receiver_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) -lm -lpthread
BENCH_TARGETS += bench-receiver
bench-receiver: src/receiver/bench-receiver$(EXEEXT)
	$(AM_V_at)./src/receiver/bench-receiver$(EXEEXT)
