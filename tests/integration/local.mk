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
