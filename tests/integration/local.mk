# SPDX-License-Identifier: MIT
# Integration tests against the real collectd daemon (tests/integration/*.sh,
# harness tests/integration/lib.sh), the demo and the network benchmark.

# Sender of collectd's binary network protocol, the baseline of
# docs/PERFORMANCE.md (contrib/bench-network.sh).
noinst_PROGRAMS += src/tools/bench-netsend
src_tools_bench_netsend_SOURCES = src/tools/bench-netsend.c
src_tools_bench_netsend_LDADD = libalec.la -lm

# Sends arbitrary datagrams (hostile-input test).
check_PROGRAMS += tests/integration/sendraw
tests_integration_sendraw_SOURCES = tests/integration/sendraw.c

# harness: the harness itself with stock plugins only (network, csv, exec,
# logfile); the others run the alec plugin in a real collectd.
IT_TESTS = \
	tests/integration/harness.sh \
	tests/integration/golden.sh \
	tests/integration/fleet.sh \
	tests/integration/hostile.sh \
	tests/integration/badconfig.sh \
	tests/integration/unknown.sh

TESTS += $(IT_TESTS)
EXTRA_DIST += $(IT_TESTS) tests/integration/lib.sh
CLEANFILES += -r tests/integration/run demo bench-network.md

# contrib/bench-network.sh in its short mode; BENCH_FULL=1 for the full run.
BENCH_TARGETS += bench-network
bench-network: all
	ALEC_SHARED="$${ALEC_SHARED:-$(abs_top_srcdir)/../shared}" \
	ALEC_BUILDDIR="$(abs_top_builddir)" ALEC_SRCDIR="$(abs_top_srcdir)" \
	COLLECTD_BIN="$(COLLECTD_BIN)" \
	$(top_srcdir)/contrib/bench-network.sh $${BENCH_FULL:+--full} $${BENCH_FULL:---short}

# The fleet dashboard in headless Chromium (skipped without chromium); its
# screenshots land in tests/run/ of the build tree.
TESTS += tests/integration/dashboard.sh
EXTRA_DIST += tests/integration/dashboard.sh
CLEANFILES += tests/run/dashboard.png tests/run/dashboard-emitter.png

# Security (docs/SECURITY.md): one script per class of hostile input that
# hostile.sh and badconfig.sh do not already cover; sectool prints (signed)
# envelope datagrams for sendraw.
check_PROGRAMS += tests/integration/sectool
tests_integration_sectool_SOURCES = tests/integration/sectool.c
tests_integration_sectool_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_integration_sectool_LDADD = libalec.la $(SODIUM_LIBS)
SEC_IT_TESTS = \
	tests/integration/sec_auth.sh \
	tests/integration/sec_rotate.sh \
	tests/integration/sec_flood.sh \
	tests/integration/sec_rate.sh \
	tests/integration/sec_config.sh \
	tests/integration/sec_state.sh \
	tests/integration/sec_intervals.sh \
	tests/integration/sec_dashboard.sh \
	tests/integration/sec_hashflood.sh
TESTS += $(SEC_IT_TESTS)
EXTRA_DIST += $(SEC_IT_TESTS)

# Writers (contrib/writers, contrib/grafana): the shipped configurations for
# Graphite, InfluxDB, Prometheus and the notification paths against real
# carbon-cache / influxd / write_prometheus, and every query of the Grafana
# dashboard. Each skips when its daemon or client is not installed.
WRITERS_IT_TESTS = \
	tests/integration/writers_graphite.sh \
	tests/integration/writers_influxdb.sh \
	tests/integration/writers_prometheus.sh \
	tests/integration/grafana_queries.sh
TESTS += $(WRITERS_IT_TESTS)
EXTRA_DIST += $(WRITERS_IT_TESTS) tests/integration/writers_lib.sh

# Loss, duplication, reordering and keyframe requests (docs/PERFORMANCE.md,
# "Loss"); restarts with a state file, hostile state files.
TESTS += tests/integration/loss.sh tests/integration/restart.sh
EXTRA_DIST += tests/integration/loss.sh tests/integration/restart.sh

# MQTT transport (src/receiver/mqtt.h) against Debian's mosquitto:
# ChirpStack v4 and TTS v3 uplinks of a fleet, downlinks, broker and collectd
# restarts, hostile messages. lorapub is the network server of these tests
# (uplink events from libalec's encoder, QoS 1 publisher that survives
# broker restarts).
check_PROGRAMS += tests/integration/lorapub
tests_integration_lorapub_SOURCES = tests/integration/lorapub.c
tests_integration_lorapub_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS) $(SODIUM_CFLAGS)
tests_integration_lorapub_LDADD = libalec.la $(MOSQUITTO_LIBS) $(SODIUM_LIBS) -lm -lpthread
MQTT_IT_TESTS = \
	tests/integration/mqtt.sh \
	tests/integration/mqtt_restart.sh \
	tests/integration/mqtt_restart_tts.sh \
	tests/integration/mqtt_hostile.sh \
	tests/integration/mqtt_raw.sh \
	tests/integration/mqtt_tlv.sh
TESTS += $(MQTT_IT_TESTS)
EXTRA_DIST += $(MQTT_IT_TESTS) tests/integration/mqtt_lib.sh
