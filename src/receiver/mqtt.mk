# SPDX-License-Identifier: MIT
# The MQTT transport of the receiver (src/receiver/mqtt.h): <MQTT> blocks,
# ChirpStack v4 / TTS v3 uplinks through the network-server event parser
# (nsevent.c, compiled into the receiver as tlv.c is), keyframe requests as
# downlinks. Every embedding (alec.so, the tests) gets libmosquitto and yajl
# from the receiver library.
libalec_receiver_la_SOURCES += src/receiver/mqtt.c src/receiver/mqtt.h \
	src/receiver/dedup.c src/receiver/dedup.h \
	src/receiver/nsevent.c src/receiver/nsevent.h
libalec_receiver_la_CFLAGS += $(MOSQUITTO_CFLAGS) $(YAJL_CFLAGS) $(SODIUM_CFLAGS)
libalec_receiver_la_LIBADD = $(MOSQUITTO_LIBS) $(YAJL_LIBS) $(SODIUM_LIBS)

if BUILD_PLUGIN
# The <MQTT> option table through the parser and finalize, and the man page
# entry of every option.
check_PROGRAMS += tests/check_mqtt_config
TESTS += tests/check_mqtt_config
tests_check_mqtt_config_SOURCES = tests/check_mqtt_config.c \
	tests/oconfig_util.c tests/oconfig_util.h \
	src/plugin/alec_conf.c src/receiver/config.c
tests_check_mqtt_config_CPPFLAGS = $(AM_CPPFLAGS) $(COLLECTD_CPPFLAGS) -I$(top_srcdir)/src/plugin $(RECEIVER_CPPFLAGS)
tests_check_mqtt_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_mqtt_config_LDADD = libalec_lorawan.la libalec.la $(CHECK_LIBS) -lpthread
endif

# `make bench-mqtt` (and `make bench`): one frame per MQTT message against
# collectd's network plugin (docs/PERFORMANCE.md, "MQTT").
BENCH_TARGETS += bench-mqtt
EXTRA_DIST += contrib/bench-mqtt.sh
bench-mqtt: all tests/integration/lorapub$(EXEEXT)
	ALEC_SHARED="$${ALEC_SHARED:-$(abs_top_srcdir)/../shared}" \
	ALEC_BUILDDIR="$(abs_top_builddir)" ALEC_SRCDIR="$(abs_top_srcdir)" \
	COLLECTD_BIN="$(COLLECTD_BIN)" \
	$(top_srcdir)/contrib/bench-mqtt.sh
