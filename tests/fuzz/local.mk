# SPDX-License-Identifier: MIT
# libFuzzer targets (tests/fuzz/README.md). `make fuzz` builds them with
# clang outside libtool, generates the seed corpora (tests/fixtures, the
# golden vectors when $ALEC_SHARED has them, our own encoder) and runs each
# target for FUZZ_SECONDS; a crash fails the target. `make check` only runs
# tests/fuzz/smoke.sh, which skips when clang cannot build libFuzzer targets.
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=fuzz_decode FUZZ_NICE=10
FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -g -O1
FUZZ_SECONDS ?= 60
FUZZ_NICE ?= 0
FUZZ_TARGETS ?= fuzz_decode fuzz_envelope fuzz_fleet fuzz_state fuzz_config
FUZZ_OUT = tests/fuzz/out

FUZZ_ENV = \
	ALEC_SRCDIR="$(abs_top_srcdir)" \
	ALEC_SHARED="$${ALEC_SHARED:-$(abs_top_srcdir)/../shared}" \
	FUZZ_CC="$(FUZZ_CC)" FUZZ_CFLAGS="$(FUZZ_CFLAGS)" FUZZ_NICE="$(FUZZ_NICE)" \
	COLLECTD_CPPFLAGS="$(COLLECTD_CPPFLAGS)" XXHASH_LIBS="$(XXHASH_LIBS)"

fuzz:
	$(AM_V_at)$(FUZZ_ENV) $(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh all $(FUZZ_OUT) \
		$(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Only the binaries and the seeds, e.g. to run a campaign by hand.
fuzz-build:
	$(AM_V_at)$(FUZZ_ENV) $(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh build $(FUZZ_OUT) $(FUZZ_TARGETS)
	$(AM_V_at)$(FUZZ_ENV) $(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh seeds $(FUZZ_OUT)

.PHONY: fuzz fuzz-build

TESTS += tests/fuzz/smoke.sh
EXTRA_DIST += \
	tests/fuzz/README.md \
	tests/fuzz/fuzz.sh \
	tests/fuzz/smoke.sh \
	tests/fuzz/fuzz_util.h \
	tests/fuzz/fuzz_config_dict.h \
	tests/fuzz/fuzz_decode.c \
	tests/fuzz/fuzz_envelope.c \
	tests/fuzz/fuzz_fleet.c \
	tests/fuzz/fuzz_state.c \
	tests/fuzz/fuzz_config.c \
	tests/fuzz/mkseeds.c \
	tests/fuzz/regress
CLEANFILES += -r tests/fuzz/out tests/fuzz/smoke
