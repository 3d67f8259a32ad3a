# SPDX-License-Identifier: MIT
# Command-line tools alec-decode / alec-encode, their conformance test over
# the reference's golden vectors (tests/vectors.sh, fixtures in
# tests/fixtures/ when ../shared is absent) and the codec benchmark.

# Helpers shared by tools, benchmarks and test drivers (hex, numbers,
# JSONL fields, CSV datasets); not installed, not part of libalec's API.
noinst_LTLIBRARIES += src/tools/libalectool.la
src_tools_libalectool_la_SOURCES = src/tools/toolutil.c src/tools/toolutil.h
src_tools_libalectool_la_LIBADD = libalec.la

bin_PROGRAMS += src/tools/alec-decode src/tools/alec-encode
src_tools_alec_decode_SOURCES = src/tools/alec-decode.c
src_tools_alec_decode_LDADD = src/tools/libalectool.la libalec.la -lm
src_tools_alec_encode_SOURCES = src/tools/alec-encode.c
src_tools_alec_encode_LDADD = src/tools/libalectool.la libalec.la -lm

noinst_PROGRAMS += src/tools/bench-codec
src_tools_bench_codec_SOURCES = src/tools/bench-codec.c
src_tools_bench_codec_LDADD = src/tools/libalectool.la libalec.la -lm

# Conformance through the tools: POSIX sh + awk, runs the tools built above.
TESTS += tests/vectors.sh
dist_check_SCRIPTS += tests/vectors.sh
EXTRA_DIST += tests/fixtures

# `make bench-codec` (and `make bench`): codec throughput and size table.
BENCH_TARGETS += bench-codec
bench-codec: src/tools/bench-codec$(EXEEXT)
	ALEC_SHARED="$${ALEC_SHARED:-$(abs_top_srcdir)/../shared}" ./src/tools/bench-codec$(EXEEXT)

# `make bench-reference ALEC_REFERENCE=/path/to/alec-codec`: bench-codec with
# the Rust reference's figures beside libalec's (contrib/bench-reference.sh
# builds its harness offline; skipped without a checkout or cargo). Not part
# of `make bench` nor of `make check`.
bench-reference: src/tools/bench-codec$(EXEEXT)
	ALEC_SHARED="$${ALEC_SHARED:-$(abs_top_srcdir)/../shared}" \
	BENCH_CODEC="$(abs_builddir)/src/tools/bench-codec$(EXEEXT)" \
	$(SHELL) $(abs_top_srcdir)/contrib/bench-reference.sh "$(ALEC_REFERENCE)"
.PHONY: bench-reference
