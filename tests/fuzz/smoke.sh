#!/bin/sh
# SPDX-License-Identifier: MIT
# `make check` part of the fuzzing: every libFuzzer target of tests/fuzz runs
# for a few seconds on the generated seeds (and replays tests/fuzz/regress).
# Skipped (77) when clang cannot build libFuzzer targets, so `make check`
# does not depend on clang. FUZZ_SMOKE_SECONDS sets the time per target.
set -u

src=${ALEC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${ALEC_BUILDDIR:-.}
secs=${FUZZ_SMOKE_SECONDS:-6}

# The compiler and flags configure found, as `make fuzz` uses them.
mkvar() {
  [ -r "$build/Makefile" ] && sed -n "s/^$1 ?\{0,1\}= //p" "$build/Makefile" | head -n 1
}
FUZZ_CC=${FUZZ_CC:-$(mkvar FUZZ_CC)}
FUZZ_CC=${FUZZ_CC:-clang}
COLLECTD_CPPFLAGS=${COLLECTD_CPPFLAGS:-$(mkvar COLLECTD_CPPFLAGS)}
XXHASH_LIBS=${XXHASH_LIBS:-$(mkvar XXHASH_LIBS)}
export FUZZ_CC COLLECTD_CPPFLAGS XXHASH_LIBS ALEC_SRCDIR="$src"

out="$build/tests/fuzz/smoke"
mkdir -p "$out" || exit 99
probe="$out/probe.c"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$out/probe" "$probe" >/dev/null 2>&1 ||
   ! "$out/probe" -runs=1 >/dev/null 2>&1; then
  echo "SKIP: $FUZZ_CC cannot build libFuzzer targets (-fsanitize=fuzzer)"
  exit 77
fi

# A fresh corpus each time: the smoke run stays short however long the
# campaigns of `make fuzz` have been.
rm -rf "$out/corpus"
FUZZ_CORPUS="$out/corpus" exec sh "$src/tests/fuzz/fuzz.sh" all "$out" "$secs"
